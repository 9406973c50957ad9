//! BERT (`model_type` `"bert"`): port of `transformers/models/bert/modeling_bert.py`.

mod attention;
mod classification;
mod config;
mod embeddings;
mod encoder;
mod model;

pub use attention::{BertAttention, BertSelfAttention, BertSelfOutput};
pub use classification::BertForSequenceClassification;
pub use config::BertConfig;
pub use embeddings::BertEmbeddings;
pub use encoder::{BertEncoder, BertIntermediate, BertLayer, BertOutput};
pub use model::{BertModel, BertModelOutput, BertPooledOutput, BertPooler};

use std::path::Path;

use burn::prelude::*;

use crate::error::Result;
use crate::freeze::EncoderParts;
use crate::hf::{self, HfKeys, KeyScheme, LoadReport};
use crate::input::{EncoderInput, InputSpec};
use crate::task::{SequenceClassifier, SequenceClassifierOutput};

/// BERT's HF keys: `bert.` + the module paths, `attention.self` for the Rust-keyword field.
pub(crate) const KEYS: KeyScheme = KeyScheme {
    name: "BERT",
    prefix: "bert",
    base_roots: &["embeddings.", "encoder.", "pooler."],
    ignored_prefixes: &["cls."],
    optional_prefixes: &["classifier.", "bert.pooler."],
    renames: &[(".attention.self.", ".attention.self_attention.")],
    lora_targets: &["query", "value"],
};

impl From<&BertConfig> for InputSpec {
    fn from(config: &BertConfig) -> Self {
        Self {
            vocab_size: config.vocab_size,
            type_vocab_size: config.type_vocab_size,
            max_length: config.max_position_embeddings,
            max_length_key: "max_position_embeddings",
        }
    }
}

impl BertForSequenceClassification {
    /// Loads a model directory written by `save_pretrained` (HF's or ours): `config.json` plus
    /// `model.safetensors` or `pytorch_model.bin`. A base-model checkpoint (e.g. a
    /// sentence-transformers encoder, or `bert-base-cased` with its `cls.*` pretraining heads)
    /// loads too, with a fresh classifier listed in [`LoadReport::missing`].
    ///
    /// # Errors
    /// Missing/unreadable files, an invalid config, a checkpoint of another architecture, any
    /// shape mismatch (naming the key and both shapes), or missing encoder weights.
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        hf::from_pretrained(
            dir.as_ref(),
            |path| BertConfig::from_file(path),
            |config| Self::new(config, device),
            &KEYS,
        )
    }

    /// Loads weights from a `.safetensors` or PyTorch pickle file into this model, in place.
    ///
    /// The model is left unchanged when an error is returned.
    ///
    /// # Errors
    /// See [`Self::from_pretrained`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        hf::load_weights(self, path.as_ref(), &KEYS)
    }

    /// The HF state-dict keys and shapes this model saves, sorted by key.
    pub fn hf_state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        hf::hf_state_dict_shapes(self, &KEYS)
    }

    /// Writes `config.json` (with `architectures`, `id2label`, `label2id`, `num_labels`) and
    /// `model.safetensors` (HF keys and layouts) into `dir`, creating it if needed. Each file is
    /// written to a temporary name and renamed, so an interrupted save never leaves a
    /// half-written file under the final name.
    ///
    /// Tokenizer files are the tokenizer's to write (see the `bertfit-tokenize` crate).
    ///
    /// # Errors
    /// [`ModelError::Io`](crate::ModelError::Io) or
    /// [`ModelError::CheckpointWrite`](crate::ModelError::CheckpointWrite) naming the file.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        hf::save_pretrained(self, dir.as_ref(), &KEYS, &self.config_json()?)
    }

    /// The `config.json` [`save_pretrained`](Self::save_pretrained) writes.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) for inconsistent labels.
    pub fn config_json(&self) -> Result<String> {
        let mut config = self.config.clone();
        config.pretrained = config
            .pretrained
            .for_sequence_classification("BertForSequenceClassification", "bert")?;
        config.to_json_string()
    }
}

impl SequenceClassifier for BertForSequenceClassification {
    fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        Self::from_pretrained(dir, device)
    }

    fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_pretrained(dir)
    }

    fn config_json(&self) -> Result<String> {
        self.config_json()
    }

    fn forward(
        &self,
        input: EncoderInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        self.forward(input, labels)
    }

    fn head_input(&self, input: EncoderInput) -> Tensor<2> {
        self.bert
            .forward_head_input(input.with_hidden_states(false))
            .0
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
        "BertForSequenceClassification"
    }

    fn model_type(&self) -> &str {
        "bert"
    }

    fn hf_keys(&self) -> HfKeys {
        HfKeys(&KEYS)
    }

    fn encoder_parts(&self) -> EncoderParts {
        EncoderParts::new(&self.bert.embeddings, &self.bert.encoder.layer)
    }
}
