//! [`BertPooler`], [`BertModel`] and their output types.

use burn::nn::Linear;
use burn::prelude::*;

use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::encoder::BertEncoder;
use crate::error::Result;
use crate::input::BertInput;
use crate::nn::{self, first_token, init};

/// Dense + tanh on the `[CLS]` hidden state (HF `pooler`).
#[derive(Module, Debug)]
pub struct BertPooler {
    /// Projection `hidden_size → hidden_size`.
    pub dense: Linear,
}

impl BertPooler {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            dense: init::linear(
                config.hidden_size,
                config.hidden_size,
                config.initializer_range,
                device,
            ),
        }
    }

    /// # Shapes
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - output: `[batch, hidden_size]`
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<2> {
        self.forward_first(first_token(hidden))
    }

    /// The pooler on the `[CLS]` hidden state alone.
    ///
    /// # Shapes
    /// - `first`: `[batch, hidden_size]`
    /// - output: `[batch, hidden_size]`
    pub fn forward_first(&self, first: Tensor<2>) -> Tensor<2> {
        nn::linear(&self.dense, first).tanh()
    }
}

/// What [`BertModel::forward`] returns.
#[derive(Debug, Clone)]
pub struct BertModelOutput {
    /// Output of the last layer, `[batch, seq_len, hidden_size]`.
    pub last_hidden_state: Tensor<3>,
    /// [`BertPooler`] output, `[batch, hidden_size]`.
    pub pooler_output: Tensor<2>,
    /// When asked for: the embeddings output then every layer's output (`num_hidden_layers + 1`
    /// tensors), as HF's `hidden_states`.
    pub hidden_states: Option<Vec<Tensor<3>>>,
}

/// What [`BertModel::forward_pooled`] returns.
#[derive(Debug, Clone)]
pub struct BertPooledOutput {
    /// [`BertPooler`] output, `[batch, hidden_size]`.
    pub pooler_output: Tensor<2>,
    /// Every layer's hidden states, when [`BertInput::output_hidden_states`] was set.
    pub hidden_states: Option<Vec<Tensor<3>>>,
}

/// The BERT encoder with its pooler (HF `BertModel`, the `bert.*` weights).
#[derive(Module, Debug)]
pub struct BertModel {
    /// Embedding block.
    pub embeddings: BertEmbeddings,
    /// Transformer layers.
    pub encoder: BertEncoder,
    /// Pooler over `[CLS]`.
    pub pooler: BertPooler,
}

impl BertModel {
    /// Builds a randomly initialised encoder (HF's initialisation).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) if the config does not validate.
    pub fn new(config: &BertConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            embeddings: BertEmbeddings::new(config, device),
            encoder: BertEncoder::new(config, device),
            pooler: BertPooler::new(config, device),
        })
    }

    /// Encodes a batch.
    ///
    /// # Shapes
    /// - `input.input_ids` (and mask, token types): `[batch, seq_len]`
    /// - `last_hidden_state`: `[batch, seq_len, hidden_size]`; `pooler_output`: `[batch, hidden_size]`
    pub fn forward(&self, input: BertInput) -> BertModelOutput {
        let mask = input.attention_bias();
        let embedded = self
            .embeddings
            .forward(input.input_ids, input.token_type_ids);
        let mut states = input.output_hidden_states.then(|| vec![embedded.clone()]);
        let last_hidden_state = self.encoder.forward(embedded, mask, states.as_mut());
        BertModelOutput {
            pooler_output: self.pooler.forward(last_hidden_state.clone()),
            last_hidden_state,
            hidden_states: states,
        }
    }

    /// The pooler output (and, when asked for, every layer's hidden states) without the last
    /// layer's other positions: what a head over the pooler needs. Unless
    /// [`BertInput::output_hidden_states`] is set, the last layer runs for `[CLS]` alone
    /// ([`BertEncoder::forward_first_token`]); the result equals
    /// [`forward`](Self::forward)'s `pooler_output` up to float rounding.
    ///
    /// # Shapes
    /// - `input`: `[batch, seq_len]` tensors
    /// - output: `pooler_output` `[batch, hidden_size]`; `hidden_states` as in [`forward`](Self::forward)
    pub fn forward_pooled(&self, input: BertInput) -> BertPooledOutput {
        let (first, hidden_states) = self.forward_head_input(input);
        BertPooledOutput {
            pooler_output: self.pooler.forward_first(first),
            hidden_states,
        }
    }

    /// The pooler's input, the `[CLS]` token's last hidden state `[batch, hidden_size]`, and,
    /// when [`BertInput::output_hidden_states`] is set, every layer's hidden states as in
    /// [`forward`](Self::forward) ([`BertEncoder::forward_head_input`]: without hidden states
    /// the last layer runs for `[CLS]` alone).
    pub fn forward_head_input(&self, input: BertInput) -> (Tensor<2>, Option<Vec<Tensor<3>>>) {
        let mask = input.attention_bias();
        let embedded = self
            .embeddings
            .forward(input.input_ids, input.token_type_ids);
        self.encoder
            .forward_head_input(embedded, mask, input.output_hidden_states)
    }
}
