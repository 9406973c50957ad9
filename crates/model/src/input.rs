//! [`EncoderInput`]: one batch of token ids, attention mask and token types, the input of every
//! architecture, and [`InputSpec`], what a model accepts.

use burn::prelude::*;

use crate::error::{ModelError, Result};

/// What a model's embeddings accept, to check inputs on the host before they reach the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSpec {
    /// Rows of the word embeddings: every id must be below it.
    pub vocab_size: usize,
    /// Number of token types; at most 1 means the model takes none (DistilBERT, RoBERTa).
    pub type_vocab_size: usize,
    /// Longest sequence the position embeddings cover.
    pub max_length: usize,
    /// The `config.json` key that sets `max_length`, for error messages.
    pub max_length_key: &'static str,
}

/// The input type of [`BertForSequenceClassification`](crate::BertForSequenceClassification),
/// the same as every other architecture's.
pub type BertInput = EncoderInput;

/// One batch of encoder inputs, as tensors on the model's device.
///
/// Build it with [`EncoderInput::from_slices`] (validates ids against the config on the host, where
/// it is cheap) or directly from tensors with [`EncoderInput::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct EncoderInput {
    /// Token ids, `[batch, seq_len]`.
    pub input_ids: Tensor<2, Int>,
    /// 1 for real tokens, 0 for padding, `[batch, seq_len]`; all ones when `None`.
    pub attention_mask: Option<Tensor<2, Int>>,
    /// Segment ids, `[batch, seq_len]`; all zeros when `None`.
    pub token_type_ids: Option<Tensor<2, Int>>,
    /// Whether to return every layer's hidden states (for inspection and parity tests).
    pub output_hidden_states: bool,
}

impl EncoderInput {
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
    /// against the model's [`InputSpec`] (a config converts into one): lengths, ids inside the
    /// vocabulary, mask values 0/1, token types inside `type_vocab_size`, `seq_len` within the
    /// position embeddings. Token types are dropped for a model that has at most one.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] naming the first offending value and its position.
    pub fn from_slices(
        input_ids: &[i64],
        attention_mask: Option<&[i64]>,
        token_type_ids: Option<&[i64]>,
        shape: [usize; 2],
        spec: impl Into<InputSpec>,
        device: &Device,
    ) -> Result<Self> {
        let spec = spec.into();
        let [batch, seq_len] = shape;
        if batch == 0 || seq_len == 0 {
            return Err(ModelError::InvalidInput(format!(
                "empty batch (shape {shape:?}); give at least one sequence of at least one token"
            )));
        }
        if seq_len > spec.max_length {
            return Err(ModelError::InvalidInput(format!(
                "sequence length {seq_len} exceeds {} = {}; truncate to at most that many tokens",
                spec.max_length_key, spec.max_length
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
        check("input_ids", input_ids, spec.vocab_size)?;
        let tensor = |values: &[i64]| {
            Tensor::<2, Int>::from_data(TensorData::new(values.to_vec(), shape), device)
        };
        let mut input = Self::new(tensor(input_ids));
        if let Some(mask) = attention_mask {
            check("attention_mask", mask, 2)?;
            input = input.with_attention_mask(tensor(mask));
        }
        // A model without token types (DistilBERT; RoBERTa, whose single type is all zeros)
        // ignores the tokenizer's, as HF's tokenizers do not even return them for it.
        if let Some(types) = token_type_ids.filter(|_| spec.type_vocab_size > 1) {
            check("token_type_ids", types, spec.type_vocab_size)?;
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
