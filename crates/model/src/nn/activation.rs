//! [`HiddenAct`]: the feed-forward activations of HF configs (`hidden_act`, DistilBERT's
//! `activation`).

use burn::prelude::*;
use burn::tensor::activation::{gelu, gelu_approximate, relu};
use serde::{Deserialize, Serialize};

/// The activation of the feed-forward block (`hidden_act` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum HiddenAct {
    /// Exact GELU, `x * Φ(x)` with the error function (`"gelu"`, HF's `GELUActivation`).
    #[default]
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation of GELU (`"gelu_new"`, also accepted as `"gelu_pytorch_tanh"`).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluNew,
    /// Rectified linear unit (`"relu"`).
    #[serde(rename = "relu")]
    Relu,
}

impl HiddenAct {
    /// Applies the activation elementwise.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => gelu(x),
            Self::GeluNew => gelu_approximate(x),
            Self::Relu => relu(x),
        }
    }
}
