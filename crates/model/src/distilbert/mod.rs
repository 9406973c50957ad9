//! DistilBERT (`model_type` `"distilbert"`): port of
//! `transformers/models/distilbert/modeling_distilbert.py`.

mod config;
mod model;

pub use config::DistilBertConfig;
pub use model::{
    DistilBertEmbeddings, DistilBertForSequenceClassification, DistilBertModel, Ffn,
    MultiHeadSelfAttention, Transformer, TransformerBlock,
};

use std::path::Path;

use burn::prelude::*;

use crate::error::Result;
use crate::freeze::EncoderParts;
use crate::hf::{self, HfKeys, KeyScheme, LoadReport};
use crate::input::{EncoderInput, InputSpec};
use crate::task::{SequenceClassifier, SequenceClassifierOutput};

/// DistilBERT's HF keys: `distilbert.` + the module paths, no renames.
pub(crate) const KEYS: KeyScheme = KeyScheme {
    name: "DistilBERT",
    prefix: "distilbert",
    base_roots: &["embeddings.", "transformer."],
    ignored_prefixes: &["vocab_transform.", "vocab_layer_norm.", "vocab_projector."],
    optional_prefixes: &["pre_classifier.", "classifier."],
    renames: &[],
    lora_targets: &["q_lin", "v_lin"],
};

impl DistilBertForSequenceClassification {
    /// Loads weights from a `.safetensors` or PyTorch pickle file into this model, in place;
    /// unchanged on error.
    ///
    /// # Errors
    /// As [`SequenceClassifier::from_pretrained`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        hf::load_weights(self, path.as_ref(), &KEYS)
    }
}

impl SequenceClassifier for DistilBertForSequenceClassification {
    fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        hf::from_pretrained(
            dir.as_ref(),
            |path| DistilBertConfig::from_file(path),
            |config| Self::new(config, device),
            &KEYS,
        )
    }

    fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        hf::save_pretrained(self, dir.as_ref(), &KEYS, &self.config_json()?)
    }

    fn config_json(&self) -> Result<String> {
        let mut config = self.config.clone();
        config.pretrained = config
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
        self.config.labels().unwrap_or_default()
    }

    fn architecture(&self) -> &'static str {
        "DistilBertForSequenceClassification"
    }

    fn model_type(&self) -> &str {
        config::MODEL_TYPE
    }

    fn hf_keys(&self) -> HfKeys {
        HfKeys(&KEYS)
    }

    fn encoder_parts(&self) -> EncoderParts {
        EncoderParts::new(
            &self.distilbert.embeddings,
            &self.distilbert.transformer.layer,
        )
    }
}
