//! ELECTRA's modules: port of `transformers/models/electra/modeling_electra.py`.
//!
//! BERT's embeddings at `embedding_size`, projected to `hidden_size` by `embeddings_project`
//! when the two differ, then BERT's encoder; the head is dropout → `dense` → GELU → dropout →
//! `out_proj` on the first token.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;

use super::config::ElectraConfig;
use crate::bert::{BertEmbeddings, BertEncoder};
use crate::error::Result;
use crate::input::EncoderInput;
use crate::nn::{self, HiddenAct, init};
use crate::task::SequenceClassifierOutput;

/// The ELECTRA discriminator's encoder (HF `ElectraModel`, the `electra.*` weights).
#[derive(Module, Debug)]
pub struct ElectraModel {
    /// Embedding block, `embedding_size` wide.
    pub embeddings: BertEmbeddings,
    /// `embedding_size → hidden_size`, present when they differ.
    pub embeddings_project: Option<Linear>,
    /// Transformer layers.
    pub encoder: BertEncoder,
}

impl ElectraModel {
    /// Embeds a batch (and projects it to `hidden_size`), the encoder's input.
    ///
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[batch, seq_len]`
    /// - output: `[batch, seq_len, hidden_size]`
    pub fn embed(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        let embedded = self.embeddings.forward(input_ids, token_type_ids);
        match &self.embeddings_project {
            Some(project) => nn::linear(project, embedded),
            None => embedded,
        }
    }
}

/// Dropout → `dense` → GELU → dropout → `out_proj` on the first token (HF
/// `ElectraClassificationHead`, the `classifier.*` weights).
#[derive(Module, Debug)]
pub struct ElectraClassificationHead {
    /// Projection `hidden_size → hidden_size`.
    pub dense: Linear,
    /// Dropout before each projection (`classifier_dropout`, else `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// The output projection, `hidden_size → num_labels`.
    pub out_proj: Linear,
}

impl ElectraClassificationHead {
    /// # Shapes
    /// - `first`: `[batch, hidden_size]`, the first token's last hidden state
    /// - output: `[batch, num_labels]`
    pub fn forward(&self, first: Tensor<2>) -> Tensor<2> {
        // HF: `get_activation("gelu")`, the exact GELU, whatever `hidden_act` says.
        let hidden = HiddenAct::Gelu.forward(nn::linear(&self.dense, self.dropout.forward(first)));
        nn::linear(&self.out_proj, self.dropout.forward(hidden))
    }
}

/// ELECTRA with a classification head (HF `ElectraForSequenceClassification`).
#[derive(Module, Debug)]
pub struct ElectraForSequenceClassification {
    /// The discriminator's encoder (HF `electra`).
    pub electra: ElectraModel,
    /// The head (HF `classifier`).
    pub classifier: ElectraClassificationHead,
    /// The configuration the model was built from, written back by `save_pretrained`.
    #[module(skip)]
    pub config: ElectraConfig,
}

impl ElectraForSequenceClassification {
    /// Builds a randomly initialised model (HF's initialisation).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) if the config does not
    /// validate.
    pub fn new(config: &ElectraConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let bert = &config.bert;
        let (h, e, std) = (
            bert.hidden_size,
            config.embedding_size,
            bert.initializer_range,
        );
        Ok(Self {
            electra: ElectraModel {
                embeddings: BertEmbeddings::with_width(bert, e, device),
                embeddings_project: (e != h).then(|| init::linear(e, h, std, device)),
                encoder: BertEncoder::new(bert, device),
            },
            classifier: ElectraClassificationHead {
                dense: init::linear(h, h, std, device),
                dropout: DropoutConfig::new(bert.classifier_dropout_prob()).init(),
                out_proj: init::linear(h, bert.num_labels(), std, device),
            },
            config: config.clone(),
        })
    }

    /// Classifies a batch; with `labels`, also returns the mean cross-entropy loss.
    /// `hidden_states[0]` is the encoder's input, after `embeddings_project`, as in HF.
    ///
    /// # Shapes
    /// - `input`: `[batch, seq_len]` tensors
    /// - `labels`: `[batch]`
    /// - `logits`: `[batch, num_labels]`
    pub fn forward(
        &self,
        input: EncoderInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        let (first, hidden_states) = self.forward_head_input(input);
        SequenceClassifierOutput {
            hidden_states,
            ..self.forward_head(first, labels)
        }
    }

    /// The head's input, the first token's last hidden state `[batch, hidden_size]`, and,
    /// when [`EncoderInput::output_hidden_states`] is set, the encoder's input then every
    /// layer's output. Without hidden states the last layer runs for the first token alone.
    pub fn forward_head_input(&self, input: EncoderInput) -> (Tensor<2>, Option<Vec<Tensor<3>>>) {
        let mask = input.attention_bias();
        let embedded = self.electra.embed(input.input_ids, input.token_type_ids);
        self.electra
            .encoder
            .forward_head_input(embedded, mask, input.output_hidden_states)
    }

    /// The head alone on the first token's last hidden state, `[batch, hidden_size]`.
    pub fn forward_head(
        &self,
        first: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        let logits = self.classifier.forward(first.clone());
        SequenceClassifierOutput::new(logits, labels, first, None)
    }
}
