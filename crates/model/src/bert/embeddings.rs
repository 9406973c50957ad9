//! [`BertEmbeddings`]: word + position + token-type embeddings, LayerNorm, dropout.

use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm};
use burn::prelude::*;

use super::config::BertConfig;
use crate::nn::{embed, init};

/// The embedding block of BERT (`bert.embeddings.*` in HF checkpoints).
///
/// Port of `BertEmbeddings` in `transformers/models/bert/modeling_bert.py` with absolute position
/// embeddings.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    /// Token embeddings `[vocab_size, hidden_size]` (HF `word_embeddings`).
    pub word_embeddings: Embedding,
    /// Absolute position embeddings `[max_position_embeddings, hidden_size]`.
    pub position_embeddings: Embedding,
    /// Segment embeddings `[type_vocab_size, hidden_size]`.
    pub token_type_embeddings: Embedding,
    /// LayerNorm after the sum (HF `LayerNorm`).
    pub layer_norm: LayerNorm,
    /// Dropout after the LayerNorm.
    pub dropout: Dropout,
    /// `pad_token_id`: the word row that gets no gradient (HF's `padding_idx`).
    #[module(skip)]
    pub padding_idx: Option<usize>,
    /// The position row that gets no gradient (RoBERTa's `padding_idx`; none for BERT).
    #[module(skip)]
    pub position_padding_idx: Option<usize>,
}

impl BertEmbeddings {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self::with_width(config, config.hidden_size, device)
    }

    /// The block with embeddings `width` wide (ELECTRA's `embedding_size`; BERT's is
    /// `hidden_size`), HF's initialisation. `position_padding_idx` zeroes that row of the
    /// position embeddings at initialisation (RoBERTa's `padding_idx`).
    pub(crate) fn with_width(config: &BertConfig, width: usize, device: &Device) -> Self {
        Self::build(config, width, None, device)
    }

    /// [`with_width`](Self::with_width) whose position embeddings have a padding row (RoBERTa).
    pub(crate) fn with_position_padding(
        config: &BertConfig,
        padding_idx: usize,
        device: &Device,
    ) -> Self {
        Self::build(config, config.hidden_size, Some(padding_idx), device)
    }

    fn build(
        config: &BertConfig,
        width: usize,
        position_padding_idx: Option<usize>,
        device: &Device,
    ) -> Self {
        let std = config.initializer_range;
        Self {
            word_embeddings: init::embedding(
                config.vocab_size,
                width,
                std,
                config.pad_token_id,
                device,
            ),
            position_embeddings: init::embedding(
                config.max_position_embeddings,
                width,
                std,
                position_padding_idx,
                device,
            ),
            token_type_embeddings: init::embedding(
                config.type_vocab_size,
                width,
                std,
                None,
                device,
            ),
            layer_norm: init::layer_norm(width, config.layer_norm_eps, device),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            padding_idx: config.pad_token_id,
            position_padding_idx,
        }
    }

    /// Embeds token ids; positions are `0..seq_len`, token types default to zero.
    ///
    /// # Shapes
    /// - `input_ids`: `[batch, seq_len]`
    /// - `token_type_ids`: `[batch, seq_len]`
    /// - output: `[batch, seq_len, hidden_size]`
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        let seq_len = input_ids.dims()[1];
        let position_ids =
            Tensor::<1, Int>::arange(0..seq_len as i64, &input_ids.device()).unsqueeze::<2>();
        self.forward_positions(input_ids, token_type_ids, position_ids)
    }

    /// [`forward`](Self::forward) at the given positions (RoBERTa's start after its padding
    /// index and skip padding).
    ///
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[batch, seq_len]`
    /// - `position_ids`: `[batch, seq_len]`, or `[1, seq_len]` for every row
    /// - output: `[batch, seq_len, width]`
    pub(crate) fn forward_positions(
        &self,
        input_ids: Tensor<2, Int>,
        token_type_ids: Option<Tensor<2, Int>>,
        position_ids: Tensor<2, Int>,
    ) -> Tensor<3> {
        let [batch, seq_len] = input_ids.dims();
        let token_type_ids =
            token_type_ids.unwrap_or_else(|| Tensor::zeros([batch, seq_len], &input_ids.device()));
        let words = embed(&self.word_embeddings, input_ids, self.padding_idx);
        let types = self.token_type_embeddings.forward(token_type_ids);
        let positions = embed(
            &self.position_embeddings,
            position_ids,
            self.position_padding_idx,
        );
        let embeddings = words + types + positions;
        self.dropout.forward(self.layer_norm.forward(embeddings))
    }
}
