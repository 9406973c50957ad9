//! [`SequenceClassifier`]: what every architecture's `…ForSequenceClassification` offers the
//! trainer, inference and the CLI, and its output type.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

use crate::error::{ModelError, Result};
use crate::freeze::EncoderParts;
use crate::hf::{HfKeys, LoadReport};
use crate::input::{EncoderInput, InputSpec};

/// What a sequence classifier's `forward` returns (HF `SequenceClassifierOutput`).
#[derive(Debug, Clone)]
pub struct SequenceClassifierOutput {
    /// Unnormalised class scores, `[batch, num_labels]`.
    pub logits: Tensor<2>,
    /// Mean cross-entropy over the batch, `[1]`, when labels were given.
    pub loss: Option<Tensor<1>>,
    /// The pooled representation the head read, `[batch, hidden_size]`: BERT's pooler output;
    /// the first token's last hidden state for the architectures without a pooler.
    pub pooler_output: Tensor<2>,
    /// Every layer's hidden states, when [`EncoderInput::output_hidden_states`] was set.
    pub hidden_states: Option<Vec<Tensor<3>>>,
}

impl SequenceClassifierOutput {
    /// The output of a head that produced `logits` from `pooler_output`, with the mean
    /// cross-entropy against `labels` when given.
    pub fn new(
        logits: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
        pooler_output: Tensor<2>,
        hidden_states: Option<Vec<Tensor<3>>>,
    ) -> Self {
        let loss = labels.map(|labels| cross_entropy(logits.clone(), labels));
        Self {
            logits,
            loss,
            pooler_output,
            hidden_states,
        }
    }
}

/// A Hugging Face `…ForSequenceClassification` of any architecture: loads and saves HF model
/// directories, classifies a batch, and says what inputs and labels it takes.
///
/// The trainer, [`TextClassifier`](https://docs.rs/bertfit-train) and the CLI are generic over
/// it; [`AutoModelForSequenceClassification`](crate::AutoModelForSequenceClassification)
/// implements it for every supported directory.
pub trait SequenceClassifier: Module + Sized {
    /// Loads a model directory (`config.json` plus `model.safetensors` or `pytorch_model.bin`);
    /// a base-model checkpoint loads with a fresh head, listed in [`LoadReport::missing`].
    ///
    /// # Errors
    /// Missing or unreadable files, an invalid config, a checkpoint of another architecture,
    /// shape mismatches, missing encoder weights.
    fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)>;

    /// Writes `config.json` and `model.safetensors` as HF's `save_pretrained` does.
    ///
    /// # Errors
    /// [`ModelError::Io`] or [`ModelError::CheckpointWrite`] naming the file.
    fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()>;

    /// The `config.json` [`save_pretrained`](Self::save_pretrained) writes (with
    /// `architectures`, `id2label`, `label2id`).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] for inconsistent labels.
    fn config_json(&self) -> Result<String>;

    /// Classifies a batch; with `labels`, also returns the mean cross-entropy loss.
    ///
    /// # Shapes
    /// - `input`: `[batch, seq_len]` tensors
    /// - `labels`: `[batch]`, each in `0..num_labels`
    /// - `logits`: `[batch, num_labels]`
    fn forward(
        &self,
        input: EncoderInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput;

    /// The encoder's output that the head reads, `[batch, hidden_size]`: the first token's
    /// last hidden state (for BERT, its pooler's input). With the encoder frozen (feature
    /// extraction) it is a fixed function of the input, which the trainer computes once per
    /// example.
    fn head_input(&self, input: EncoderInput) -> Tensor<2>;

    /// The head alone on [`head_input`](Self::head_input)'s output, `[batch, hidden_size]`:
    /// `forward(input, labels)` is `forward_head(head_input(input), labels)`, without hidden
    /// states.
    fn forward_head(
        &self,
        head_input: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput;

    /// What the embeddings accept (vocabulary, token types, longest sequence).
    fn input_spec(&self) -> InputSpec;

    /// Label names by id.
    fn label_names(&self) -> Vec<String>;

    /// Number of labels of the head.
    fn num_labels(&self) -> usize {
        self.label_names().len()
    }

    /// The HF class this model saves as (`"BertForSequenceClassification"`).
    fn architecture(&self) -> &'static str;

    /// `config.json`'s `model_type` (`"bert"`, `"xlm-roberta"`, …).
    fn model_type(&self) -> &str;

    /// The architecture's mapping between HF state-dict keys and module paths.
    fn hf_keys(&self) -> HfKeys;

    /// The HF state-dict keys and shapes this model saves, sorted by key (LoRA factors are not
    /// part of it: they merge into the weights on save).
    fn hf_state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        crate::hf::hf_state_dict_shapes(self, self.hf_keys().0)
    }

    /// The embeddings and encoder layers, which partial fine-tuning freezes
    /// ([`Freezing`](crate::Freezing)); the rest is the head.
    fn encoder_parts(&self) -> EncoderParts;

    /// Softmax probabilities per label, `[batch, num_labels]`.
    fn predict_proba(&self, input: EncoderInput) -> Tensor<2> {
        softmax(self.forward(input, None).logits, 1)
    }

    /// Builds a label tensor, checking every label is in `0..num_labels`.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] naming the first label out of range.
    fn labels(&self, labels: &[i64], device: &Device) -> Result<Tensor<1, Int>> {
        check_labels(labels, &self.label_names(), device)
    }
}

/// `labels` as a tensor, after checking each is an id of `names`.
pub(crate) fn check_labels(
    labels: &[i64],
    names: &[String],
    device: &Device,
) -> Result<Tensor<1, Int>> {
    let n = names.len();
    if let Some((i, label)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| !(0..n as i64).contains(l))
    {
        return Err(ModelError::InvalidInput(format!(
            "label {label} at position {i} is outside 0..{n}; the model has {n} labels ({})",
            names.join(", ")
        )));
    }
    Ok(Tensor::from_data(
        TensorData::new(labels.to_vec(), [labels.len()]),
        device,
    ))
}

/// Mean cross-entropy of `logits` `[batch, classes]` against class ids `[batch]`
/// (PyTorch's `CrossEntropyLoss()` with mean reduction).
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [batch] = labels.dims();
    log_softmax(logits, 1)
        .gather(1, labels.reshape([batch, 1]))
        .mean()
        .neg()
}
