//! Layers shared by every architecture: attention, activations, the first-token head input, HF
//! initialisation.
//!
//! Architectures keep their own module structs (their fields are HF key segments, which differ:
//! BERT's `attention.self.query` is DistilBERT's `attention.q_lin`), and call these functions for
//! the computation they share.

mod activation;
pub(crate) mod attention;
pub(crate) mod init;

/// Every linear layer's forward pass (PEFT's LoRA dropout included).
pub(crate) use crate::peft::layer::linear;
pub use activation::HiddenAct;

use burn::nn::{Embedding, LayerNorm};
use burn::prelude::*;

/// `LayerNorm(hidden + residual)`: the post-norm residual step of every encoder here.
///
/// # Shapes
/// - `hidden`, `residual`, output: `[batch, seq_len, hidden_size]`
pub(crate) fn add_norm(
    layer_norm: &LayerNorm,
    hidden: Tensor<3>,
    residual: Tensor<3>,
) -> Tensor<3> {
    layer_norm.forward(hidden + residual)
}

/// The first position of every row (`[CLS]` / `<s>`), what the classification heads read.
///
/// # Shapes
/// - `hidden`: `[batch, seq_len, hidden_size]`
/// - output: `[batch, hidden_size]`
pub(crate) fn first_token(hidden: Tensor<3>) -> Tensor<2> {
    let [batch, _, hidden_size] = hidden.dims();
    hidden.slice([0..batch, 0..1]).reshape([batch, hidden_size])
}

/// `embedding(ids)` where the `padding_idx` row gets no gradient, as in torch's
/// `nn.Embedding(padding_idx=…)`: on an autodiff device the rows looked up at `padding_idx` are
/// detached. The forward values are the same.
///
/// # Shapes
/// - `ids`: `[batch, seq_len]`
/// - output: `[batch, seq_len, d_model]`
pub(crate) fn embed(
    embedding: &Embedding,
    ids: Tensor<2, Int>,
    padding_idx: Option<usize>,
) -> Tensor<3> {
    let Some(pad) = padding_idx.filter(|_| ids.device().is_autodiff()) else {
        return embedding.forward(ids);
    };
    let padding = ids.clone().equal_elem(pad as i64).unsqueeze_dim::<3>(2);
    let out = embedding.forward(ids);
    let padding = padding.expand(out.dims());
    out.clone().mask_where(padding, out.detach())
}
