//! RoBERTa and XLM-RoBERTa (`model_type` `"roberta"`, `"xlm-roberta"`): port of
//! `transformers/models/roberta/modeling_roberta.py`; XLM-RoBERTa is the same modelling under
//! its own `model_type` and class names.

mod config;
mod model;

pub use config::RobertaConfig;
pub use model::{RobertaClassificationHead, RobertaForSequenceClassification, RobertaModel};

use std::path::Path;

use burn::prelude::*;

use crate::error::Result;
use crate::freeze::EncoderParts;
use crate::hf::{self, HfKeys, KeyScheme, LoadReport};
use crate::input::{EncoderInput, InputSpec};
use crate::task::{SequenceClassifier, SequenceClassifierOutput};

/// RoBERTa's HF keys: `roberta.` + BERT's layer keys; the pooler of a base checkpoint is
/// skipped (the classifier has none).
pub(crate) const KEYS: KeyScheme = KeyScheme {
    name: "RoBERTa",
    prefix: "roberta",
    base_roots: &["embeddings.", "encoder.", "pooler."],
    ignored_prefixes: &["lm_head.", "roberta.pooler."],
    optional_prefixes: &["classifier."],
    renames: &[(".attention.self.", ".attention.self_attention.")],
    lora_targets: &["query", "value"],
};

impl RobertaForSequenceClassification {
    /// Loads weights from a `.safetensors` or PyTorch pickle file into this model, in place;
    /// unchanged on error.
    ///
    /// # Errors
    /// As [`SequenceClassifier::from_pretrained`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        hf::load_weights(self, path.as_ref(), &KEYS)
    }
}

impl SequenceClassifier for RobertaForSequenceClassification {
    fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        hf::from_pretrained(
            dir.as_ref(),
            |path| RobertaConfig::from_file(path),
            |config| Self::new(config, device),
            &KEYS,
        )
    }

    fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        hf::save_pretrained(self, dir.as_ref(), &KEYS, &self.config_json()?)
    }

    fn config_json(&self) -> Result<String> {
        let mut config = self.config.clone();
        config.0.pretrained = config
            .0
            .pretrained
            .for_sequence_classification(self.architecture(), self.model_type())?;
        config.0.to_json_string()
    }

    fn forward(
        &self,
        input: EncoderInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        self.forward(input, labels)
    }

    fn head_input(&self, input: EncoderInput) -> Tensor<2> {
        self.forward_head_input(input.with_hidden_states(false)).0
    }

    fn forward_head(
        &self,
        head_input: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        self.forward_head(head_input, labels)
    }

    fn input_spec(&self) -> InputSpec {
        (&self.config).into()
    }

    fn label_names(&self) -> Vec<String> {
        self.config.0.labels().unwrap_or_default()
    }

    fn architecture(&self) -> &'static str {
        match self.config.model_type() {
            "xlm-roberta" => "XLMRobertaForSequenceClassification",
            _ => "RobertaForSequenceClassification",
        }
    }

    fn model_type(&self) -> &str {
        self.config.model_type()
    }

    fn hf_keys(&self) -> HfKeys {
        HfKeys(&KEYS)
    }

    fn encoder_parts(&self) -> EncoderParts {
        EncoderParts::new(&self.roberta.embeddings, &self.roberta.encoder.layer)
    }
}
