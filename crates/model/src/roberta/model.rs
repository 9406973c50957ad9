//! RoBERTa's modules: port of `transformers/models/roberta/modeling_roberta.py` (XLM-RoBERTa's
//! `modeling_xlm_roberta.py` is the same code under other class names).
//!
//! The encoder is BERT's layer for layer (the same HF key segments); what differs is the
//! position ids, `padding_idx + 1 + cumsum(non-pad)` on real tokens and `padding_idx` on
//! padding (`create_position_ids_from_input_ids`), the absence of a pooler, and the head:
//! dropout → `dense` → tanh → dropout → `out_proj` on the first token.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;

use super::config::RobertaConfig;
use crate::bert::{BertEmbeddings, BertEncoder};
use crate::error::Result;
use crate::input::EncoderInput;
use crate::nn::{self, init};
use crate::task::SequenceClassifierOutput;

/// The RoBERTa encoder without pooler (HF `RobertaModel(add_pooling_layer=False)`, the
/// `roberta.*` weights).
#[derive(Module, Debug)]
pub struct RobertaModel {
    /// Embedding block (HF `RobertaEmbeddings`: BERT's, with RoBERTa's position ids).
    pub embeddings: BertEmbeddings,
    /// Transformer layers.
    pub encoder: BertEncoder,
    /// `pad_token_id`, the padding position.
    pub padding_idx: usize,
}

impl RobertaModel {
    /// Embeds a batch with RoBERTa's position ids.
    ///
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[batch, seq_len]`
    /// - output: `[batch, seq_len, hidden_size]`
    pub fn embed(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        let positions = position_ids(&input_ids, self.padding_idx);
        self.embeddings
            .forward_positions(input_ids, token_type_ids, positions)
    }
}

/// HF's `create_position_ids_from_input_ids`: `cumsum(ids != padding_idx) * (ids != padding_idx)
/// + padding_idx`.
///
/// # Shapes
/// - `input_ids`, output: `[batch, seq_len]`
pub(crate) fn position_ids(input_ids: &Tensor<2, Int>, padding_idx: usize) -> Tensor<2, Int> {
    let real = input_ids.clone().not_equal_elem(padding_idx as i64).int();
    real.clone().cumsum(1) * real + padding_idx as i64
}

/// Dropout → `dense` → tanh → dropout → `out_proj` on the first token (HF
/// `RobertaClassificationHead`, the `classifier.*` weights).
#[derive(Module, Debug)]
pub struct RobertaClassificationHead {
    /// Projection `hidden_size → hidden_size`.
    pub dense: Linear,
    /// Dropout before each projection (`classifier_dropout`, else `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// The output projection, `hidden_size → num_labels`.
    pub out_proj: Linear,
}

impl RobertaClassificationHead {
    /// # Shapes
    /// - `first`: `[batch, hidden_size]`, the first token's last hidden state
    /// - output: `[batch, num_labels]`
    pub fn forward(&self, first: Tensor<2>) -> Tensor<2> {
        let hidden = nn::linear(&self.dense, self.dropout.forward(first)).tanh();
        nn::linear(&self.out_proj, self.dropout.forward(hidden))
    }
}

/// RoBERTa (or XLM-RoBERTa) with a classification head (HF
/// `RobertaForSequenceClassification` / `XLMRobertaForSequenceClassification`).
#[derive(Module, Debug)]
pub struct RobertaForSequenceClassification {
    /// The encoder (HF `roberta`).
    pub roberta: RobertaModel,
    /// The head (HF `classifier`).
    pub classifier: RobertaClassificationHead,
    /// The configuration the model was built from, written back by `save_pretrained`.
    #[module(skip)]
    pub config: RobertaConfig,
}

impl RobertaForSequenceClassification {
    /// Builds a randomly initialised model (HF's initialisation).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) if the config does not
    /// validate.
    pub fn new(config: &RobertaConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let padding_idx = config.padding_idx()?;
        let bert = &config.0;
        let (h, std) = (bert.hidden_size, bert.initializer_range);
        Ok(Self {
            roberta: RobertaModel {
                embeddings: BertEmbeddings::with_position_padding(bert, padding_idx, device),
                encoder: BertEncoder::new(bert, device),
                padding_idx,
            },
            classifier: RobertaClassificationHead {
                dense: init::linear(h, h, std, device),
                dropout: DropoutConfig::new(bert.classifier_dropout_prob()).init(),
                out_proj: init::linear(h, bert.num_labels(), std, device),
            },
            config: config.clone(),
        })
    }

    /// Classifies a batch; with `labels`, also returns the mean cross-entropy loss.
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
        let embedded = self.roberta.embed(input.input_ids, input.token_type_ids);
        self.roberta
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn position_ids_count_real_tokens_after_the_padding_index() {
        let device = Device::flex();
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(vec![0i64, 31, 7, 2, 1, 1, 0, 5, 2, 9, 9, 2], [2, 6]),
            &device,
        );
        let positions = position_ids(&ids, 1).into_data().convert::<i64>();
        assert_eq!(
            positions.try_to_vec::<i64>().unwrap(),
            [2, 3, 4, 5, 1, 1, 2, 3, 4, 5, 6, 7]
        );
    }
}
