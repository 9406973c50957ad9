//! The transformer stack: [`BertIntermediate`], [`BertOutput`], [`BertLayer`], [`BertEncoder`].

use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::prelude::*;

use super::attention::BertAttention;
use super::config::BertConfig;
use crate::nn::{self, HiddenAct, first_token, init};

/// First half of the feed-forward block: dense to `intermediate_size` and the activation.
#[derive(Module, Debug)]
pub struct BertIntermediate {
    /// Projection `hidden_size → intermediate_size`.
    pub dense: Linear,
    /// The activation (`hidden_act`).
    #[module(skip)]
    pub act: HiddenAct,
}

impl BertIntermediate {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            dense: init::linear(
                config.hidden_size,
                config.intermediate_size,
                config.initializer_range,
                device,
            ),
            act: config.hidden_act,
        }
    }

    /// # Shapes
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - output: `[batch, seq_len, intermediate_size]`
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.act.forward(nn::linear(&self.dense, hidden))
    }
}

/// Second half of the feed-forward block: dense back, dropout, residual, LayerNorm.
#[derive(Module, Debug)]
pub struct BertOutput {
    /// Projection `intermediate_size → hidden_size`.
    pub dense: Linear,
    /// LayerNorm over the residual sum (HF `LayerNorm`).
    pub layer_norm: LayerNorm,
    /// Dropout on the projection.
    pub dropout: Dropout,
}

impl BertOutput {
    /// Builds the block with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            dense: init::linear(
                config.intermediate_size,
                config.hidden_size,
                config.initializer_range,
                device,
            ),
            layer_norm: init::layer_norm(config.hidden_size, config.layer_norm_eps, device),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
        }
    }

    /// # Shapes
    /// - `intermediate`: `[batch, seq_len, intermediate_size]`
    /// - `residual`, output: `[batch, seq_len, hidden_size]`
    pub fn forward(&self, intermediate: Tensor<3>, residual: Tensor<3>) -> Tensor<3> {
        let hidden = self.dropout.forward(nn::linear(&self.dense, intermediate));
        self.layer_norm.forward(hidden + residual)
    }
}

/// One transformer layer (HF `encoder.layer.N`).
#[derive(Module, Debug)]
pub struct BertLayer {
    /// Self-attention block.
    pub attention: BertAttention,
    /// Feed-forward, first half.
    pub intermediate: BertIntermediate,
    /// Feed-forward, second half.
    pub output: BertOutput,
}

impl BertLayer {
    /// Builds the layer with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            attention: BertAttention::new(config, device),
            intermediate: BertIntermediate::new(config, device),
            output: BertOutput::new(config, device),
        }
    }

    /// # Shapes
    /// - `hidden`, output: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    pub fn forward(&self, hidden: Tensor<3>, mask: Option<Tensor<4>>) -> Tensor<3> {
        self.forward_queries(hidden.clone(), hidden, mask)
    }

    /// [`forward`](Self::forward)'s output at the positions of `queries` alone: attention reads
    /// keys and values from every position of `hidden`, but the query projection, the attention
    /// output block and the feed-forward block run on `queries`' rows only.
    ///
    /// # Shapes
    /// - `queries`: `[batch, n_queries, hidden_size]`, rows of `hidden`
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, n_queries, hidden_size]`
    pub fn forward_queries(
        &self,
        queries: Tensor<3>,
        hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let attended = self.attention.forward_queries(queries, hidden, mask);
        let intermediate = self.intermediate.forward(attended.clone());
        self.output.forward(intermediate, attended)
    }
}

/// The stack of [`BertLayer`]s (HF `encoder`).
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// The layers, HF `encoder.layer.0`, `encoder.layer.1`, ….
    pub layer: Vec<BertLayer>,
}

impl BertEncoder {
    /// Builds `num_hidden_layers` layers with HF's initialisation.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self {
            layer: (0..config.num_hidden_layers)
                .map(|_| BertLayer::new(config, device))
                .collect(),
        }
    }

    /// Runs every layer; when `all_hidden_states` is given, pushes each layer's output to it.
    ///
    /// # Shapes
    /// - `hidden`, output: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    pub fn forward(
        &self,
        mut hidden: Tensor<3>,
        mask: Option<Tensor<4>>,
        mut all_hidden_states: Option<&mut Vec<Tensor<3>>>,
    ) -> Tensor<3> {
        for layer in &self.layer {
            hidden = layer.forward(hidden, mask.clone());
            if let Some(states) = all_hidden_states.as_deref_mut() {
                states.push(hidden.clone());
            }
        }
        hidden
    }

    /// The last layer's output at the first position (`[CLS]`) alone, which is all that
    /// [`BertPooler`](crate::BertPooler) and the classification head read: every layer but the
    /// last runs on all positions (the last one attends to them), the last computes one row.
    /// Equal to `forward(hidden, mask, None)`'s first row up to float rounding, at a fraction
    /// of the last layer's cost (about 1/L of the encoder's work is skipped for L layers).
    ///
    /// # Shapes
    /// - `hidden`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, 1, hidden_size]`
    pub fn forward_first_token(&self, mut hidden: Tensor<3>, mask: Option<Tensor<4>>) -> Tensor<3> {
        let Some((last, rest)) = self.layer.split_last() else {
            let batch = hidden.dims()[0];
            return hidden.slice([0..batch, 0..1]);
        };
        for layer in rest {
            hidden = layer.forward(hidden, mask.clone());
        }
        let batch = hidden.dims()[0];
        let first = hidden.clone().slice([0..batch, 0..1]);
        last.forward_queries(first, hidden, mask)
    }

    /// What a head over the first token needs: that token's last hidden state and, when
    /// `output_hidden_states`, `embedded` followed by every layer's output (HF's
    /// `hidden_states`). Without hidden states the last layer runs for the first token alone
    /// ([`forward_first_token`](Self::forward_first_token)).
    ///
    /// # Shapes
    /// - `embedded`: `[batch, seq_len, hidden_size]`
    /// - `mask`: `[batch, 1, 1, seq_len]`, additive; `None` when every token is attended
    /// - output: `[batch, hidden_size]`, and `num_hidden_layers + 1` tensors
    ///   `[batch, seq_len, hidden_size]`
    pub fn forward_head_input(
        &self,
        embedded: Tensor<3>,
        mask: Option<Tensor<4>>,
        output_hidden_states: bool,
    ) -> (Tensor<2>, Option<Vec<Tensor<3>>>) {
        if !output_hidden_states {
            return (first_token(self.forward_first_token(embedded, mask)), None);
        }
        let mut states = vec![embedded.clone()];
        let last = self.forward(embedded, mask, Some(&mut states));
        (first_token(last), Some(states))
    }
}
