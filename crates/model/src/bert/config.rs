//! [`BertConfig`]: Hugging Face `config.json`, read as-is.
//!
//! Field names are those of `transformers.BertConfig` (and the `PretrainedConfig` keys that
//! matter here), so a `config.json` written by `save_pretrained` deserializes with no remapping.
//! Keys this crate does not model are kept in [`PretrainedConfig::extra`] and written back on save.
//!
//! Ported from `transformers/models/bert/configuration_bert.py` and
//! `transformers/configuration_utils.py` (`PretrainedConfig`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::hf::PretrainedConfig;
pub use crate::nn::HiddenAct;

/// Configuration of a BERT encoder and its sequence-classification head.
///
/// Deserializes Hugging Face `config.json` files unchanged (`bert-base-cased`,
/// `sentence-transformers/all-MiniLM-L6-v2`, any `save_pretrained` output). Missing optional keys
/// take HF's defaults; [`Default`] is `bert-base-uncased`'s shape. Call [`BertConfig::validate`]
/// (done by [`BertConfig::from_file`] and every `init`) before building a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    /// Size of the WordPiece vocabulary (rows of `word_embeddings`).
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of [`BertLayer`](crate::BertLayer)s in the encoder.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; must divide `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Activation of the feed-forward block.
    pub hidden_act: HiddenAct,
    /// Dropout on embeddings and on every residual branch.
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    pub attention_probs_dropout_prob: f64,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Number of token types (segments); 2 for BERT.
    pub type_vocab_size: usize,
    /// Standard deviation of the normal initialisation of new weights.
    pub initializer_range: f64,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// Id of the padding token (its embedding row is zeroed at initialisation, like HF).
    pub pad_token_id: Option<usize>,
    /// Only `"absolute"` position embeddings are supported (transformers 5 no longer writes
    /// the key; older configs do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position_embedding_type: Option<String>,
    /// Dropout before the classifier; `None` means `hidden_dropout_prob`, as in HF.
    pub classifier_dropout: Option<f64>,
    /// The keys every HF config shares: labels, problem type, `architectures`, `model_type`,
    /// and every key BERT does not model (written back on save).
    #[serde(flatten)]
    pub pretrained: PretrainedConfig,
}

impl Default for BertConfig {
    fn default() -> Self {
        Self {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: HiddenAct::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: Some(0),
            position_embedding_type: None,
            classifier_dropout: None,
            pretrained: PretrainedConfig::new("bert"),
        }
    }
}

impl BertConfig {
    /// A tiny seeded-test config: vocabulary 50, hidden 16, 2 layers of 4 heads, dropout 0.2.
    #[cfg(test)]
    pub(crate) fn tiny_for_tests() -> Self {
        Self {
            vocab_size: 50,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 24,
            max_position_embeddings: 20,
            hidden_dropout_prob: 0.2,
            attention_probs_dropout_prob: 0.2,
            ..Self::default()
        }
    }

    /// Reads and validates a `config.json`.
    ///
    /// # Errors
    /// [`ModelError::Io`] if the file cannot be read, [`ModelError::ConfigParse`] if it is not a
    /// BERT config in JSON, [`ModelError::InvalidConfig`] if its values are inconsistent.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::hf::read_config(path.as_ref(), Self::from_json_str)
    }

    /// Parses and validates `config.json` content.
    ///
    /// # Errors
    /// As [`BertConfig::from_file`], without the IO part.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(json)
            .map_err(|source| ModelError::ConfigParse { path: None, source })?;
        config.validate()?;
        Ok(config)
    }

    /// Serializes as HF `config.json` (pretty-printed, sorted like the input's struct order).
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
        self.validate_as(&["bert"])
    }

    /// [`validate`](Self::validate) for a config whose `model_type` may be any of
    /// `accepted_model_types` (RoBERTa and ELECTRA configs carry BERT's keys).
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub(crate) fn validate_as(&self, accepted_model_types: &[&str]) -> Result<()> {
        self.pretrained.check_model_type(accepted_model_types)?;
        let invalid = |key: &'static str, message: String| {
            Err(ModelError::InvalidConfig {
                key: key.to_string(),
                message,
            })
        };
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".to_string());
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return invalid(
                "hidden_size",
                format!(
                    "{} is not a multiple of num_attention_heads = {}",
                    self.hidden_size, self.num_attention_heads
                ),
            );
        }
        for (key, value) in [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            (
                "attention_probs_dropout_prob",
                Some(self.attention_probs_dropout_prob),
            ),
            ("classifier_dropout", self.classifier_dropout),
        ] {
            if let Some(p) = value
                && !(p.is_finite() && (0.0..1.0).contains(&p))
            {
                return invalid(key, format!("is {p}; a dropout probability is in [0, 1)"));
            }
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return invalid(
                "layer_norm_eps",
                format!("is {}; it must be positive", self.layer_norm_eps),
            );
        }
        if !(self.initializer_range.is_finite() && self.initializer_range >= 0.0) {
            return invalid(
                "initializer_range",
                format!("is {}; it must be >= 0", self.initializer_range),
            );
        }
        if let Some(kind) = &self.position_embedding_type
            && kind != "absolute"
        {
            return invalid(
                "position_embedding_type",
                format!("is \"{kind}\"; only \"absolute\" position embeddings are supported"),
            );
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
        self.hidden_size / self.num_attention_heads
    }

    /// Number of labels of the classification head: `len(id2label)`, else `num_labels`, else 2.
    pub fn num_labels(&self) -> usize {
        self.pretrained.num_labels()
    }

    /// Dropout probability before the classifier.
    pub fn classifier_dropout_prob(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// Label names ordered by id; `LABEL_0`, `LABEL_1`, … when `config.json` names none (as HF).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] if the `id2label` keys are not exactly `0..n`.
    pub fn labels(&self) -> Result<Vec<String>> {
        self.pretrained.labels()
    }

    /// Sets the classification labels (`id2label`, `label2id`, `num_labels`) from names by id.
    pub fn set_labels<S: AsRef<str>>(&mut self, names: &[S]) {
        self.pretrained.set_labels(names);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// `bert-base-cased/config.json` as published on the Hub.
    const BERT_BASE_CASED: &str = r#"{
      "architectures": ["BertForMaskedLM"],
      "attention_probs_dropout_prob": 0.1,
      "gradient_checkpointing": false,
      "hidden_act": "gelu",
      "hidden_dropout_prob": 0.1,
      "hidden_size": 768,
      "initializer_range": 0.02,
      "intermediate_size": 3072,
      "layer_norm_eps": 1e-12,
      "max_position_embeddings": 512,
      "model_type": "bert",
      "num_attention_heads": 12,
      "num_hidden_layers": 12,
      "pad_token_id": 0,
      "position_embedding_type": "absolute",
      "transformers_version": "4.6.0.dev0",
      "type_vocab_size": 2,
      "use_cache": true,
      "vocab_size": 28996
    }"#;

    #[test]
    fn parses_bert_base_cased_and_keeps_unknown_keys() {
        let config = BertConfig::from_json_str(BERT_BASE_CASED).unwrap();
        assert_eq!(config.vocab_size, 28996);
        assert_eq!(config.head_dim(), 64);
        assert_eq!(config.num_labels(), 2);
        assert_eq!(config.labels().unwrap(), ["LABEL_0", "LABEL_1"]);
        assert_eq!(config.classifier_dropout_prob(), 0.1);
        assert_eq!(
            config.pretrained.extra["transformers_version"],
            "4.6.0.dev0"
        );
        assert_eq!(config.pretrained.extra["use_cache"], true);
        let round_trip = BertConfig::from_json_str(&config.to_json_string().unwrap()).unwrap();
        assert_eq!(round_trip, config);
    }

    #[test]
    fn missing_optional_keys_take_hf_defaults() {
        let config = BertConfig::from_json_str(
            r#"{"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1}"#,
        )
        .unwrap();
        assert_eq!(config.vocab_size, 30522);
        assert_eq!(config.layer_norm_eps, 1e-12);
        assert_eq!(config.hidden_act, HiddenAct::Gelu);
        assert_eq!(config.pad_token_id, Some(0));
    }

    #[test]
    fn labels_follow_id2label_order() {
        let config = BertConfig::from_json_str(
            r#"{"id2label": {"1": "POSITIVE", "0": "NEGATIVE", "2": "MIXED"},
                "label2id": {"NEGATIVE": 0, "POSITIVE": 1, "MIXED": 2}}"#,
        )
        .unwrap();
        assert_eq!(config.labels().unwrap(), ["NEGATIVE", "POSITIVE", "MIXED"]);
        assert_eq!(config.num_labels(), 3);
    }

    #[test]
    fn activations_parse_by_hf_name() {
        for (name, act) in [
            ("gelu", HiddenAct::Gelu),
            ("gelu_new", HiddenAct::GeluNew),
            ("gelu_pytorch_tanh", HiddenAct::GeluNew),
            ("relu", HiddenAct::Relu),
        ] {
            let json = format!(r#"{{"hidden_act": "{name}"}}"#);
            assert_eq!(BertConfig::from_json_str(&json).unwrap().hidden_act, act);
        }
        let err = BertConfig::from_json_str(r#"{"hidden_act": "swish"}"#).unwrap_err();
        assert!(err.to_string().contains("swish"), "{err}");
    }

    fn invalid_key(json: &str) -> String {
        match BertConfig::from_json_str(json) {
            Err(ModelError::InvalidConfig { key, .. }) => key,
            other => panic!("expected InvalidConfig for {json}, got {other:?}"),
        }
    }

    #[test]
    fn inconsistent_configs_are_errors_naming_the_key() {
        assert_eq!(
            invalid_key(r#"{"hidden_size": 30, "num_attention_heads": 4}"#),
            "hidden_size"
        );
        assert_eq!(
            invalid_key(r#"{"num_hidden_layers": 0}"#),
            "num_hidden_layers"
        );
        assert_eq!(
            invalid_key(r#"{"num_attention_heads": 0}"#),
            "num_attention_heads"
        );
        assert_eq!(
            invalid_key(r#"{"hidden_dropout_prob": 1.0}"#),
            "hidden_dropout_prob"
        );
        assert_eq!(
            invalid_key(r#"{"classifier_dropout": -0.1}"#),
            "classifier_dropout"
        );
        assert_eq!(invalid_key(r#"{"layer_norm_eps": 0}"#), "layer_norm_eps");
        assert_eq!(invalid_key(r#"{"model_type": "gpt2"}"#), "model_type");
        assert_eq!(
            invalid_key(r#"{"position_embedding_type": "relative_key"}"#),
            "position_embedding_type"
        );
        assert_eq!(
            invalid_key(r#"{"id2label": {"0": "a", "5": "b"}}"#),
            "id2label"
        );
        assert_eq!(
            invalid_key(r#"{"id2label": {"0": "a", "1": "b"}, "num_labels": 3}"#),
            "num_labels"
        );
        assert_eq!(
            invalid_key(r#"{"id2label": {"0": "a", "1": "b"}, "label2id": {"a": 1, "b": 0}}"#),
            "label2id"
        );
        assert_eq!(
            invalid_key(r#"{"pad_token_id": 99, "vocab_size": 10}"#),
            "pad_token_id"
        );
        assert_eq!(invalid_key(r#"{"num_labels": 1}"#), "num_labels");
        assert_eq!(
            invalid_key(r#"{"problem_type": "regression"}"#),
            "problem_type"
        );
    }

    #[test]
    fn malformed_json_is_a_parse_error_with_position() {
        let err = BertConfig::from_json_str(r#"{"hidden_size": "big"}"#).unwrap_err();
        assert!(matches!(err, ModelError::ConfigParse { .. }), "{err:?}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
