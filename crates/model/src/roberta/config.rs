//! [`RobertaConfig`]: HF `RobertaConfig` / `XLMRobertaConfig`, whose keys are BERT's.
//!
//! Ported from `transformers/models/roberta/configuration_roberta.py` and
//! `xlm_roberta/configuration_xlm_roberta.py`: the same keys as `BertConfig`, with other defaults
//! (`pad_token_id` 1, `bos_token_id` 0, `eos_token_id` 2).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bert::BertConfig;
use crate::error::{ModelError, Result};
use crate::hf::from_json_with_defaults;
use crate::input::InputSpec;

/// The `model_type`s this config reads: RoBERTa's and XLM-RoBERTa's (the same modelling).
pub(crate) const MODEL_TYPES: [&str; 2] = ["roberta", "xlm-roberta"];

/// Configuration of a RoBERTa or XLM-RoBERTa encoder and its classification head: BERT's keys
/// (`model_type` says which of the two it is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RobertaConfig(pub BertConfig);

impl RobertaConfig {
    /// Reads and validates a `config.json`.
    ///
    /// # Errors
    /// [`ModelError::Io`], [`ModelError::ConfigParse`] or [`ModelError::InvalidConfig`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::hf::read_config(path.as_ref(), Self::from_json_str)
    }

    /// Parses `config.json` content with HF's RoBERTa defaults for absent keys, and validates it.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), without the IO part.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let defaults = [
            ("model_type", json!("roberta")),
            ("vocab_size", json!(50265)),
            ("pad_token_id", json!(1)),
            ("bos_token_id", json!(0)),
            ("eos_token_id", json!(2)),
        ];
        let config = Self(from_json_with_defaults(json, &defaults)?);
        config.validate()?;
        Ok(config)
    }

    /// Checks the invariants the modules rely on: BERT's, and a padding id whose positions
    /// leave room in the position embeddings.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the offending key and the fix.
    pub fn validate(&self) -> Result<()> {
        self.0.validate_as(&MODEL_TYPES)?;
        let padding_idx = self.padding_idx()?;
        if self.0.max_position_embeddings <= padding_idx + 1 {
            return Err(ModelError::InvalidConfig {
                key: "max_position_embeddings".into(),
                message: format!(
                    "is {}; RoBERTa's positions start after pad_token_id = {padding_idx}, so it must be larger than {}",
                    self.0.max_position_embeddings,
                    padding_idx + 1
                ),
            });
        }
        Ok(())
    }

    /// `pad_token_id`, which RoBERTa also uses as the padding position (`padding_idx`).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] when the config has none.
    pub fn padding_idx(&self) -> Result<usize> {
        self.0.pad_token_id.ok_or_else(|| ModelError::InvalidConfig {
            key: "pad_token_id".into(),
            message: "is null; RoBERTa's position ids are counted from it (1 in every released checkpoint)".into(),
        })
    }

    /// `config.json`'s `model_type`: `"roberta"` or `"xlm-roberta"`.
    pub fn model_type(&self) -> &str {
        self.0
            .pretrained
            .model_type
            .as_deref()
            .unwrap_or(MODEL_TYPES[0])
    }
}

impl From<&RobertaConfig> for InputSpec {
    fn from(config: &RobertaConfig) -> Self {
        let padding_idx = config.0.pad_token_id.unwrap_or(1);
        Self {
            vocab_size: config.0.vocab_size,
            type_vocab_size: config.0.type_vocab_size,
            max_length: config
                .0
                .max_position_embeddings
                .saturating_sub(padding_idx + 1),
            max_length_key: "max_position_embeddings - pad_token_id - 1",
        }
    }
}
