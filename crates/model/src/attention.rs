//! Multi-head self-attention: [`BertSelfAttention`], [`BertSelfOutput`], [`BertAttention`].

use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use crate::config::BertConfig;
use crate::init;

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

    /// Query heads of `queries` (every position of `hidden` when `None`), key and value heads
    /// of `hidden`, `[batch, heads, len, head_dim]` each.
    fn project(
        &self,
        queries: Option<Tensor<3>>,
        hidden: Tensor<3>,
    ) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let batch = hidden.dims()[0];
        let heads = |linear: &Linear, x: Tensor<3>| {
            let len = x.dims()[1];
            linear
                .forward(x)
                .reshape([batch, len, self.num_heads, self.head_dim])
                .swap_dims(1, 2)
        };
        let query = heads(&self.query, queries.unwrap_or_else(|| hidden.clone()));
        (
            query,
            heads(&self.key, hidden.clone()),
            heads(&self.value, hidden),
        )
    }

    fn attend(
        &self,
        queries: Option<Tensor<3>>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let [batch, seq_len, hidden_size] = hidden.dims();
        let device = hidden.device();
        let (query, key, value) = self.project(queries, hidden);
        let n_queries = query.dims()[2];

        let context = if device.is_autodiff() {
            // Training (or a model on an autodiff device): the eager formulation, whose
            // attention-probability dropout and backward burn's fused op does not provide.
            let mut scores = query.matmul(key.transpose()) / (self.head_dim as f64).sqrt();
            if let Some(mask) = mask {
                scores = scores + mask;
            }
            let probs = self.dropout.forward(softmax(scores, 3));
            probs.matmul(value)
        } else {
            // Inference (dropout is the identity): the backend's fused attention, with the same
            // scale. On flex it computes scores, softmax and the weighted sum per (batch, head)
            // tile without materialising the [batch, heads, seq, seq] scores. The padding goes in
            // as a boolean mask where the backend's reading of one is known (libtorch runs its
            // SDPA kernel only for a boolean mask, and an additive bias through burn's
            // decomposed fallback), else as the additive bias; both give the same probabilities.
            let options = AttentionModuleOptions {
                scale: Some(1.0 / (self.head_dim as f64).sqrt()),
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
                (Some(bias), None) => {
                    attention(query, key, value, None, Some(bias.expand(shape)), options)
                }
            }
        };
        context
            .swap_dims(1, 2)
            .reshape([batch, n_queries, hidden_size])
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
        let hidden = self.dropout.forward(self.dense.forward(hidden));
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
