//! [`BertPooler`], [`BertModel`] and the input/output types around them.

use burn::nn::Linear;
use burn::prelude::*;

use crate::config::BertConfig;
use crate::embeddings::BertEmbeddings;
use crate::encoder::BertEncoder;
use crate::error::{ModelError, Result};
use crate::init;

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
        let [batch, _, hidden_size] = hidden.dims();
        let first = hidden.slice([0..batch, 0..1]).reshape([batch, hidden_size]);
        self.dense.forward(first).tanh()
    }
}

/// One batch of encoder inputs, as tensors on the model's device.
///
/// Build it with [`BertInput::from_slices`] (validates ids against the config on the host, where
/// it is cheap) or directly from tensors with [`BertInput::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct BertInput {
    /// Token ids, `[batch, seq_len]`.
    pub input_ids: Tensor<2, Int>,
    /// 1 for real tokens, 0 for padding, `[batch, seq_len]`; all ones when `None`.
    pub attention_mask: Option<Tensor<2, Int>>,
    /// Segment ids, `[batch, seq_len]`; all zeros when `None`.
    pub token_type_ids: Option<Tensor<2, Int>>,
    /// Whether to return every layer's hidden states (for inspection and parity tests).
    pub output_hidden_states: bool,
}

impl BertInput {
    /// Inputs with only token ids.
    pub fn new(input_ids: Tensor<2, Int>) -> Self {
        Self {
            input_ids,
            attention_mask: None,
            token_type_ids: None,
            output_hidden_states: false,
        }
    }

    /// Sets the attention mask.
    pub fn with_attention_mask(mut self, attention_mask: Tensor<2, Int>) -> Self {
        self.attention_mask = Some(attention_mask);
        self
    }

    /// Sets the token type ids.
    pub fn with_token_type_ids(mut self, token_type_ids: Tensor<2, Int>) -> Self {
        self.token_type_ids = Some(token_type_ids);
        self
    }

    /// Asks for every layer's hidden states.
    pub fn with_hidden_states(mut self, output_hidden_states: bool) -> Self {
        self.output_hidden_states = output_hidden_states;
        self
    }

    /// Builds inputs from row-major host buffers of `shape = [batch, seq_len]`, checking them
    /// against `config`: lengths, ids inside the vocabulary, mask values 0/1, token types inside
    /// `type_vocab_size`, `seq_len <= max_position_embeddings`.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] naming the first offending value and its position.
    pub fn from_slices(
        input_ids: &[i64],
        attention_mask: Option<&[i64]>,
        token_type_ids: Option<&[i64]>,
        shape: [usize; 2],
        config: &BertConfig,
        device: &Device,
    ) -> Result<Self> {
        let [batch, seq_len] = shape;
        if batch == 0 || seq_len == 0 {
            return Err(ModelError::InvalidInput(format!(
                "empty batch (shape {shape:?}); give at least one sequence of at least one token"
            )));
        }
        if seq_len > config.max_position_embeddings {
            return Err(ModelError::InvalidInput(format!(
                "sequence length {seq_len} exceeds max_position_embeddings = {}; truncate to at most that many tokens",
                config.max_position_embeddings
            )));
        }
        let check = |name: &str, values: &[i64], upper: usize| -> Result<()> {
            if values.len() != batch * seq_len {
                return Err(ModelError::InvalidInput(format!(
                    "{name} has {} values, expected {batch} x {seq_len} = {}",
                    values.len(),
                    batch * seq_len
                )));
            }
            if let Some((i, v)) = values
                .iter()
                .enumerate()
                .find(|(_, v)| !(0..upper as i64).contains(v))
            {
                return Err(ModelError::InvalidInput(format!(
                    "{name}[{}][{}] = {v} is outside 0..{upper}",
                    i / seq_len,
                    i % seq_len
                )));
            }
            Ok(())
        };
        check("input_ids", input_ids, config.vocab_size)?;
        let tensor = |values: &[i64]| {
            Tensor::<2, Int>::from_data(TensorData::new(values.to_vec(), shape), device)
        };
        let mut input = Self::new(tensor(input_ids));
        if let Some(mask) = attention_mask {
            check("attention_mask", mask, 2)?;
            input = input.with_attention_mask(tensor(mask));
        }
        if let Some(types) = token_type_ids {
            check("token_type_ids", types, config.type_vocab_size)?;
            input = input.with_token_type_ids(tensor(types));
        }
        Ok(input)
    }

    /// The additive attention mask HF's eager attention builds: 0 where `attention_mask` is 1,
    /// the most negative finite f32 where it is 0, as `[batch, 1, 1, seq_len]`.
    pub fn extended_attention_mask(&self) -> Tensor<4> {
        let [batch, seq_len] = self.input_ids.dims();
        match &self.attention_mask {
            Some(mask) => (mask.clone().float() - 1.0) * f32::MAX,
            None => Tensor::zeros([batch, seq_len], &self.input_ids.device()),
        }
        .reshape([batch, 1, 1, seq_len])
    }

    /// The additive mask the encoder needs: [`extended_attention_mask`](Self::extended_attention_mask),
    /// or `None` when every token is attended (no `attention_mask`, or one of all ones), which
    /// adds nothing to the scores. Like transformers' SDPA path, this lets a backend run its
    /// fused attention without a mask (libtorch's `scaled_dot_product_attention`, flex's
    /// without the broadcast mask). Checking the mask reads one value back from the device.
    pub fn attention_bias(&self) -> Option<Tensor<4>> {
        let mask = self.attention_mask.as_ref()?;
        let all_attended = mask
            .clone()
            .min()
            .try_into_scalar::<i64>()
            .map(|min| min >= 1)
            // Unreadable (never on a working backend): keep the mask, the always-correct path.
            .unwrap_or(false);
        (!all_attended).then(|| self.extended_attention_mask())
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
    /// [`ModelError::InvalidConfig`] if the config does not validate.
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
        if input.output_hidden_states {
            let output = self.forward(input);
            return BertPooledOutput {
                pooler_output: output.pooler_output,
                hidden_states: output.hidden_states,
            };
        }
        let mask = input.attention_bias();
        let embedded = self
            .embeddings
            .forward(input.input_ids, input.token_type_ids);
        let first = self.encoder.forward_first_token(embedded, mask);
        BertPooledOutput {
            pooler_output: self.pooler.forward(first),
            hidden_states: None,
        }
    }
}
