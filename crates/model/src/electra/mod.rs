//! ELECTRA (`model_type` `"electra"`): port of
//! `transformers/models/electra/modeling_electra.py` (the discriminator).

mod config;
mod model;

pub use config::ElectraConfig;
pub use model::{ElectraClassificationHead, ElectraForSequenceClassification, ElectraModel};

use std::path::Path;

use burn::prelude::*;

use crate::error::Result;
use crate::freeze::EncoderParts;
use crate::hf::{self, HfKeys, KeyScheme, LoadReport};
use crate::input::{EncoderInput, InputSpec};
use crate::task::{SequenceClassifier, SequenceClassifierOutput};

/// ELECTRA's HF keys: `electra.` + BERT's layer keys; the pretraining heads of a
/// discriminator or generator checkpoint are skipped.
pub(crate) const KEYS: KeyScheme = KeyScheme {
    name: "ELECTRA",
    prefix: "electra",
    base_roots: &["embeddings.", "embeddings_project.", "encoder."],
    ignored_prefixes: &[
        "discriminator_predictions.",
        "generator_predictions.",
        "generator_lm_head.",
    ],
    optional_prefixes: &["classifier."],
    renames: &[(".attention.self.", ".attention.self_attention.")],
    lora_targets: &["query", "value"],
};

impl ElectraForSequenceClassification {
    /// Loads weights from a `.safetensors` or PyTorch pickle file into this model, in place;
    /// unchanged on error.
    ///
    /// # Errors
    /// As [`SequenceClassifier::from_pretrained`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        hf::load_weights(self, path.as_ref(), &KEYS)
    }
}

impl SequenceClassifier for ElectraForSequenceClassification {
    fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        hf::from_pretrained(
            dir.as_ref(),
            |path| ElectraConfig::from_file(path),
            |config| Self::new(config, device),
            &KEYS,
        )
    }

    fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        hf::save_pretrained(self, dir.as_ref(), &KEYS, &self.config_json()?)
    }

    fn config_json(&self) -> Result<String> {
        let mut config = self.config.clone();
        config.bert.pretrained = config
            .bert
            .pretrained
            .for_sequence_classification(self.architecture(), config::MODEL_TYPE)?;
        config.to_json_string()
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
        self.config.bert.labels().unwrap_or_default()
    }

    fn architecture(&self) -> &'static str {
        "ElectraForSequenceClassification"
    }

    fn model_type(&self) -> &str {
        config::MODEL_TYPE
    }

    fn hf_keys(&self) -> HfKeys {
        HfKeys(&KEYS)
    }

    fn encoder_parts(&self) -> EncoderParts {
        EncoderParts::new(&self.electra.embeddings, &self.electra.encoder.layer)
            .with_embeddings(&self.electra.embeddings_project)
    }
}
