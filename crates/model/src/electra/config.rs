//! [`ElectraConfig`]: HF `ElectraConfig`, BERT's keys plus `embedding_size`.
//!
//! Ported from `transformers/models/electra/configuration_electra.py` (defaults of the small
//! discriminator: hidden 256, 4 heads, intermediate 1024, embedding 128).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bert::BertConfig;
use crate::error::{ModelError, Result};
use crate::hf::from_json_with_defaults;
use crate::input::InputSpec;

/// The `model_type` this config reads.
pub(crate) const MODEL_TYPE: &str = "electra";

/// Configuration of an ELECTRA discriminator and its classification head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElectraConfig {
    /// Width of the embeddings; projected to `hidden_size` by `embeddings_project` when they
    /// differ.
    pub embedding_size: usize,
    /// BERT's keys (ELECTRA's encoder is BERT's), and every key neither models.
    #[serde(flatten)]
    pub bert: BertConfig,
}

impl ElectraConfig {
    /// Reads and validates a `config.json`.
    ///
    /// # Errors
    /// [`ModelError::Io`], [`ModelError::ConfigParse`] or [`ModelError::InvalidConfig`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::hf::read_config(path.as_ref(), Self::from_json_str)
    }

    /// Parses `config.json` content with HF's ELECTRA defaults for absent keys, and validates it.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), without the IO part.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let defaults = [
            ("model_type", json!(MODEL_TYPE)),
            ("embedding_size", json!(128)),
            ("hidden_size", json!(256)),
            ("num_attention_heads", json!(4)),
            ("intermediate_size", json!(1024)),
        ];
        let config: Self = from_json_with_defaults(json, &defaults)?;
        config.validate()?;
        Ok(config)
    }

    /// Serializes as HF `config.json`.
    ///
    /// # Errors
    /// Only if an unmodelled value cannot be serialized.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|source| ModelError::ConfigParse { path: None, source })
    }

    /// Checks the invariants the modules rely on.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the offending key and the fix.
    pub fn validate(&self) -> Result<()> {
        self.bert.validate_as(&[MODEL_TYPE])?;
        if self.embedding_size == 0 {
            return Err(ModelError::InvalidConfig {
                key: "embedding_size".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

impl From<&ElectraConfig> for InputSpec {
    fn from(config: &ElectraConfig) -> Self {
        (&config.bert).into()
    }
}
