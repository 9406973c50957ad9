//! [`DistilBertConfig`]: HF `DistilBertConfig`'s `config.json`, read as-is.
//!
//! Ported from `transformers/models/distilbert/configuration_distilbert.py`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::hf::PretrainedConfig;
use crate::input::InputSpec;
use crate::nn::HiddenAct;

/// Configuration of a DistilBERT encoder and its sequence-classification head. Field names are
/// HF's (`dim`, `n_layers`, `n_heads`, `hidden_dim`, …); [`Default`] is
/// `distilbert-base-uncased`'s shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistilBertConfig {
    /// Size of the vocabulary (rows of `word_embeddings`).
    pub vocab_size: usize,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Fixed sinusoidal position embeddings instead of learned ones (kept frozen in training).
    pub sinusoidal_pos_embds: bool,
    /// Number of [`TransformerBlock`](crate::TransformerBlock)s.
    pub n_layers: usize,
    /// Attention heads per layer; must divide `dim`.
    pub n_heads: usize,
    /// Width of every hidden state.
    pub dim: usize,
    /// Width of the feed-forward block.
    pub hidden_dim: usize,
    /// Dropout on embeddings and on the feed-forward output.
    pub dropout: f64,
    /// Dropout on the attention probabilities.
    pub attention_dropout: f64,
    /// Activation of the feed-forward block.
    pub activation: HiddenAct,
    /// Standard deviation of the normal initialisation of new weights.
    pub initializer_range: f64,
    /// Dropout of the question-answering head (kept for the save; not used here).
    pub qa_dropout: f64,
    /// Dropout before the classifier.
    pub seq_classif_dropout: f64,
    /// Id of the padding token (its embedding row is zeroed at initialisation, like HF).
    pub pad_token_id: Option<usize>,
    /// The keys every HF config shares, and every key DistilBERT does not model.
    #[serde(flatten)]
    pub pretrained: PretrainedConfig,
}

impl Default for DistilBertConfig {
    fn default() -> Self {
        Self {
            vocab_size: 30522,
            max_position_embeddings: 512,
            sinusoidal_pos_embds: false,
            n_layers: 6,
            n_heads: 12,
            dim: 768,
            hidden_dim: 3072,
            dropout: 0.1,
            attention_dropout: 0.1,
            activation: HiddenAct::Gelu,
            initializer_range: 0.02,
            qa_dropout: 0.1,
            seq_classif_dropout: 0.2,
            pad_token_id: Some(0),
            pretrained: PretrainedConfig::new("distilbert"),
        }
    }
}

/// The `model_type` this config reads.
pub(crate) const MODEL_TYPE: &str = "distilbert";

impl DistilBertConfig {
    /// Reads and validates a `config.json`.
    ///
    /// # Errors
    /// [`ModelError::Io`], [`ModelError::ConfigParse`] or [`ModelError::InvalidConfig`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::hf::read_config(path.as_ref(), Self::from_json_str)
    }

    /// Parses and validates `config.json` content.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), without the IO part.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(json)
            .map_err(|source| ModelError::ConfigParse { path: None, source })?;
        config.validate()?;
        Ok(config)
    }

    /// Serializes as HF `config.json`.
    ///
    /// # Errors
    /// Only if a value in [`PretrainedConfig::extra`] cannot be serialized.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|source| ModelError::ConfigParse { path: None, source })
    }

    /// Checks the invariants the modules rely on.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the offending key and the fix.
    pub fn validate(&self) -> Result<()> {
        self.pretrained.check_model_type(&[MODEL_TYPE])?;
        let invalid = |key: &str, message: String| {
            Err(ModelError::InvalidConfig {
                key: key.to_string(),
                message,
            })
        };
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("dim", self.dim),
            ("hidden_dim", self.hidden_dim),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".to_string());
            }
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return invalid(
                "dim",
                format!(
                    "{} is not a multiple of n_heads = {}",
                    self.dim, self.n_heads
                ),
            );
        }
        for (key, p) in [
            ("dropout", self.dropout),
            ("attention_dropout", self.attention_dropout),
            ("seq_classif_dropout", self.seq_classif_dropout),
        ] {
            if !(p.is_finite() && (0.0..1.0).contains(&p)) {
                return invalid(key, format!("is {p}; a dropout probability is in [0, 1)"));
            }
        }
        if let Some(pad) = self.pad_token_id
            && pad >= self.vocab_size
        {
            return invalid(
                "pad_token_id",
                format!("{pad} is outside the vocabulary of {}", self.vocab_size),
            );
        }
        self.pretrained.validate_labels()
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.n_heads
    }

    /// Label names ordered by id.
    ///
    /// # Errors
    /// As [`PretrainedConfig::labels`].
    pub fn labels(&self) -> Result<Vec<String>> {
        self.pretrained.labels()
    }
}

impl From<&DistilBertConfig> for InputSpec {
    fn from(config: &DistilBertConfig) -> Self {
        Self {
            vocab_size: config.vocab_size,
            type_vocab_size: 0,
            max_length: config.max_position_embeddings,
            max_length_key: "max_position_embeddings",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// `distilbert-base-uncased-finetuned-sst-2-english/config.json` as published on the Hub.
    const SST2: &str = r#"{
      "activation": "gelu",
      "architectures": ["DistilBertForSequenceClassification"],
      "attention_dropout": 0.1,
      "dim": 768,
      "dropout": 0.1,
      "finetuning_task": "sst-2",
      "hidden_dim": 3072,
      "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
      "initializer_range": 0.02,
      "label2id": {"NEGATIVE": 0, "POSITIVE": 1},
      "max_position_embeddings": 512,
      "model_type": "distilbert",
      "n_heads": 12,
      "n_layers": 6,
      "output_past": true,
      "pad_token_id": 0,
      "qa_dropout": 0.1,
      "seq_classif_dropout": 0.2,
      "sinusoidal_pos_embds": false,
      "tie_weights_": true,
      "vocab_size": 30522
    }"#;

    #[test]
    fn parses_the_sst2_config_and_keeps_unknown_keys() {
        let config = DistilBertConfig::from_json_str(SST2).unwrap();
        assert_eq!(config.head_dim(), 64);
        assert_eq!(config.labels().unwrap(), ["NEGATIVE", "POSITIVE"]);
        assert_eq!(config.pretrained.extra["finetuning_task"], "sst-2");
        let round_trip =
            DistilBertConfig::from_json_str(&config.to_json_string().unwrap()).unwrap();
        assert_eq!(round_trip, config);
    }

    #[test]
    fn a_bert_config_is_refused_by_model_type() {
        let err = DistilBertConfig::from_json_str(r#"{"model_type": "bert"}"#).unwrap_err();
        assert!(
            matches!(&err, ModelError::InvalidConfig { key, .. } if key == "model_type"),
            "{err:?}"
        );
    }
}
