//! Multi-head scaled dot-product attention, shared by every architecture: head split/merge, the
//! eager formulation on autodiff devices (with attention-probability dropout) and burn's fused
//! `attention` op at inference, with the padding mask in the backend's own reading.

use burn::nn::{Dropout, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

/// `linear(x)` split into heads.
///
/// # Shapes
/// - `x`: `[batch, len, hidden_size]`
/// - output: `[batch, heads, len, head_dim]`
pub(crate) fn project_heads(
    linear: &Linear,
    x: Tensor<3>,
    heads: usize,
    head_dim: usize,
) -> Tensor<4> {
    let [batch, len, _] = x.dims();
    super::linear(linear, x)
        .reshape([batch, len, heads, head_dim])
        .swap_dims(1, 2)
}

/// Heads merged back.
///
/// # Shapes
/// - `context`: `[batch, heads, len, head_dim]`
/// - output: `[batch, len, heads * head_dim]`
pub(crate) fn merge_heads(context: Tensor<4>) -> Tensor<3> {
    let [batch, heads, len, head_dim] = context.dims();
    context
        .swap_dims(1, 2)
        .reshape([batch, len, heads * head_dim])
}

/// `softmax(q kᵀ / √head_dim + mask) v`, with `dropout` on the probabilities.
///
/// # Shapes
/// - `query`: `[batch, heads, n_queries, head_dim]`
/// - `key`, `value`: `[batch, heads, seq_len, head_dim]`
/// - `mask`: `[batch, 1, 1, seq_len]`, additive (0 to keep, the most negative f32 to mask);
///   `None` when every token is attended
/// - output: `[batch, heads, n_queries, head_dim]`
pub(crate) fn scaled_dot_product(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    mask: Option<Tensor<4>>,
    dropout: &Dropout,
) -> Tensor<4> {
    let [batch, _, n_queries, head_dim] = query.dims();
    let seq_len = key.dims()[2];
    let device = query.device();
    if device.is_autodiff() {
        // Training (or a model on an autodiff device): the eager formulation, whose
        // attention-probability dropout and backward burn's fused op does not provide.
        let mut scores = query.matmul(key.transpose()) / (head_dim as f64).sqrt();
        if let Some(mask) = mask {
            scores = scores + mask;
        }
        let probs = dropout.forward(softmax(scores, 3));
        return probs.matmul(value);
    }
    // Inference (dropout is the identity): the backend's fused attention, with the same
    // scale. On flex it computes scores, softmax and the weighted sum per (batch, head)
    // tile without materialising the [batch, heads, seq, seq] scores. The padding goes in
    // as a boolean mask where the backend's reading of one is known (libtorch runs its
    // SDPA kernel only for a boolean mask, and an additive bias through burn's
    // decomposed fallback), else as the additive bias; both give the same probabilities.
    let options = AttentionModuleOptions {
        scale: Some(1.0 / (head_dim as f64).sqrt()),
        softcap: None,
        is_causal: false,
    };
    // The masks are `[batch, 1, 1, seq_len]`, converted before they are broadcast.
    let shape = [batch, 1, n_queries, seq_len];
    match (mask, bool_mask_convention(&device)) {
        (None, _) => attention(query, key, value, None, None, options),
        (Some(bias), Some(convention)) => {
            // The bias is 0 on attended keys and -f32::MAX on padding.
            let padding = bias.lower_elem(-1.0);
            let mask = match convention {
                BoolMask::TrueMasks => padding,
                BoolMask::TrueAttends => padding.bool_not(),
            };
            attention(query, key, value, Some(mask.expand(shape)), None, options)
        }
        (Some(bias), None) => attention(query, key, value, None, Some(bias.expand(shape)), options),
    }
}

/// What `true` means in the boolean mask of a backend's [`attention`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BoolMask {
    /// burn's documented meaning: `true` keys are left out.
    TrueMasks,
    /// torch's meaning, which burn-tch 0.22.1 passes on unchanged: `true` keys take part.
    TrueAttends,
}

/// How `device`'s backend reads a boolean attention mask, found once per device by running a
/// two-key attention with the second key masked (and cached); `None` when the probe's result
/// was neither reading or could not be read back, and the caller keeps the additive bias.
fn bool_mask_convention(device: &Device) -> Option<BoolMask> {
    use std::sync::Mutex;
    static KNOWN: Mutex<Vec<(Device, Option<BoolMask>)>> = Mutex::new(Vec::new());
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, convention)) = known.iter().find(|(d, _)| d == device) {
        return *convention;
    }
    let tensor = |values: Vec<f32>, keys: usize| {
        Tensor::<4>::from_data(TensorData::new(values, [1, 1, keys, 1]), device)
    };
    let mask =
        Tensor::<4, Bool>::from_data(TensorData::new(vec![false, true], [1, 1, 1, 2]), device);
    let out = attention(
        tensor(vec![1.0], 1),
        tensor(vec![1.0, 1.0], 2),
        tensor(vec![1.0, 2.0], 2),
        Some(mask),
        None,
        AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal: false,
        },
    );
    // Equal scores: attending the first key alone gives 1, the second alone 2.
    let convention = match out.into_data().try_to_vec::<f32>().ok().as_deref() {
        Some([v]) if (v - 1.0).abs() < 1e-4 => Some(BoolMask::TrueMasks),
        Some([v]) if (v - 2.0).abs() < 1e-4 => Some(BoolMask::TrueAttends),
        _ => None,
    };
    known.push((device.clone(), convention));
    convention
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_reads_a_boolean_mask_as_burn_documents() {
        let device = Device::flex();
        assert_eq!(bool_mask_convention(&device), Some(BoolMask::TrueMasks));
        // Cached: the second call answers the same without probing again.
        assert_eq!(bool_mask_convention(&device), Some(BoolMask::TrueMasks));
    }
}
