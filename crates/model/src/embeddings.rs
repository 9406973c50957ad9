//! [`BertEmbeddings`]: word + position + token-type embeddings, LayerNorm, dropout.

use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm};
use burn::prelude::*;

use crate::config::BertConfig;
use crate::init;

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
}

impl BertEmbeddings {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let std = config.initializer_range;
        Self {
            word_embeddings: init::embedding(
                config.vocab_size,
                config.hidden_size,
                std,
                config.pad_token_id,
                device,
            ),
            position_embeddings: init::embedding(
                config.max_position_embeddings,
                config.hidden_size,
                std,
                None,
                device,
            ),
            token_type_embeddings: init::embedding(
                config.type_vocab_size,
                config.hidden_size,
                std,
                None,
                device,
            ),
            layer_norm: init::layer_norm(config.hidden_size, config.layer_norm_eps, device),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
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
        let [batch, seq_len] = input_ids.dims();
        let device = input_ids.device();
        let token_type_ids =
            token_type_ids.unwrap_or_else(|| Tensor::zeros([batch, seq_len], &device));
        let position_ids = Tensor::<1, Int>::arange(0..seq_len as i64, &device).unsqueeze::<2>();

        let words = self.word_embeddings.forward(input_ids);
        let types = self.token_type_embeddings.forward(token_type_ids);
        let positions = self.position_embeddings.forward(position_ids);
        let embeddings = words + types + positions;
        self.dropout.forward(self.layer_norm.forward(embeddings))
    }
}
