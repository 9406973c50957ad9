//! Multi-head self-attention: [`BertSelfAttention`], [`BertSelfOutput`], [`BertAttention`].

use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::prelude::*;

use super::config::BertConfig;
use crate::nn::attention::{merge_heads, project_heads, scaled_dot_product};
use crate::nn::{self, init};

/// Scaled dot-product self-attention with an additive padding mask (HF `attention.self`).
///
/// Port of `BertSelfAttention` (eager attention) in `modeling_bert.py`.
#[derive(Module, Debug)]
pub struct BertSelfAttention {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// Dropout on the attention probabilities.
    pub dropout: Dropout,
    /// Number of heads.
    pub num_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl BertSelfAttention {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let (h, std) = (config.hidden_size, config.initializer_range);
        Self {
            query: init::linear(h, h, std, device),
            key: init::linear(h, h, std, device),
            value: init::linear(h, h, std, device),
            dropout: DropoutConfig::new(config.attention_probs_dropout_prob).init(),
            num_heads: config.num_attention_heads,
            head_dim: config.head_dim(),
        }
    }

    /// Attends every position to every unmasked position.
    ///
    /// # Shapes
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive (0 to keep, a large negative to mask);
    ///   `None` when every token is attended
    /// - output: `[batch, seq_len, hidden_size]`
    pub fn forward(&self, hidden: Tensor<3>, mask: Option<Tensor<4>>) -> Tensor<3> {
        self.attend(None, hidden, mask)
    }

    /// Attends the positions of `queries` to every unmasked position of `hidden`: the rows of
    /// [`forward`](Self::forward)'s output for those positions, without computing the others
    /// (keys and values still come from every position).
    /// [`BertEncoder::forward_first_token`](crate::BertEncoder::forward_first_token) uses it to
    /// run the last layer for `[CLS]` alone.
    ///
    /// # Shapes
    /// - `queries`: `[batch, n_queries, hidden_size]`, hidden states of the positions to compute
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, n_queries, hidden_size]`
    pub fn forward_queries(
        &self,
        queries: Tensor<3>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        self.attend(Some(queries), hidden, mask)
    }

    fn attend(
        &self,
        queries: Option<Tensor<3>>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let (heads, head_dim) = (self.num_heads, self.head_dim);
        let query = project_heads(
            &self.query,
            queries.unwrap_or_else(|| hidden.clone()),
            heads,
            head_dim,
        );
        let key = project_heads(&self.key, hidden.clone(), heads, head_dim);
        let value = project_heads(&self.value, hidden, heads, head_dim);
        merge_heads(scaled_dot_product(query, key, value, mask, &self.dropout))
    }
}

/// Output projection, dropout, residual and LayerNorm after attention (HF `attention.output`).
#[derive(Module, Debug)]
pub struct BertSelfOutput {
    /// Projection back to `hidden_size`.
    pub dense: Linear,
    /// LayerNorm over the residual sum (HF `LayerNorm`).
    pub layer_norm: LayerNorm,
    /// Dropout on the projection.
    pub dropout: Dropout,
}

impl BertSelfOutput {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let h = config.hidden_size;
        Self {
            dense: init::linear(h, h, config.initializer_range, device),
            layer_norm: init::layer_norm(h, config.layer_norm_eps, device),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
        }
    }

    /// `LayerNorm(dropout(dense(hidden)) + residual)`.
    ///
    /// # Shapes
    /// - `hidden`, `residual`, output: `[batch, seq_len, hidden_size]`
    pub fn forward(&self, hidden: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        let hidden = self.dropout.forward(nn::linear(&self.dense, hidden));
        self.layer_norm.forward(hidden + residual)
    }
}

/// Self-attention followed by its output block (HF `attention`).
#[derive(Module, Debug)]
pub struct BertAttention {
    /// HF `attention.self` (`self` is a Rust keyword, hence the name).
    pub self_attention: BertSelfAttention,
    /// HF `attention.output`.
    pub output: BertSelfOutput,
}

impl BertAttention {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            self_attention: BertSelfAttention::new(config, device),
            output: BertSelfOutput::new(config, device),
        }
    }

    /// # Shapes
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, seq_len, hidden_size]`
    pub fn forward(&self, hidden: Tensor<3>, mask: Option<Tensor<4>>) -> Tensor<3> {
        self.forward_queries(hidden.clone(), hidden, mask)
    }

    /// [`forward`](Self::forward)'s output at the positions of `queries` alone (see
    /// [`BertSelfAttention::forward_queries`]).
    ///
    /// # Shapes
    /// - `queries`: `[batch, n_queries, hidden_size]`
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, n_queries, hidden_size]`
    pub fn forward_queries(
        &self,
        queries: Tensor<3>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let attended = self
            .self_attention
            .forward_queries(queries.clone(), hidden, mask);
        self.output.forward(attended, queries)
    }
}
