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
    ///
    /// On an autodiff device whose `gelu` backward is not the exact GELU's derivative (burn's
    /// CubeCL backends use the tanh approximation's, found by [`exact_gelu_backward`]), the exact
    /// GELU is built from `erf`, whose backward is exact, so training matches PyTorch's.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu if x.device().is_autodiff() && !exact_gelu_backward(&x.device()) => {
                let half = x.clone() * 0.5;
                half * ((x / std::f64::consts::SQRT_2).erf() + 1.0)
            }
            Self::Gelu => gelu(x),
            Self::GeluNew => gelu_approximate(x),
            Self::Relu => relu(x),
        }
    }
}

/// Whether `device`'s `gelu` backward is the exact GELU's derivative `Φ(x) + x φ(x)`, found once
/// per device from the gradient at x = 1 (1.0833; the tanh approximation's is 3e-4 off) and
/// cached. Unreadable counts as inexact, which takes the always-exact `erf` form.
fn exact_gelu_backward(device: &Device) -> bool {
    use std::sync::Mutex;
    static KNOWN: Mutex<Vec<(Device, bool)>> = Mutex::new(Vec::new());
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, exact)) = known.iter().find(|(d, _)| d == device) {
        return *exact;
    }
    let x = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), device).require_grad();
    let grads = gelu(x.clone()).sum().backward();
    // Φ(1) + φ(1), the exact derivative at 1.
    let exact_at_one = 0.841_344_7_f32 + 0.241_970_7;
    let exact = x
        .grad(&grads)
        .and_then(|g| g.into_data().convert::<f32>().try_to_vec::<f32>().ok())
        .is_some_and(|g| g.first().is_some_and(|v| (v - exact_at_one).abs() < 2e-5));
    known.push((device.clone(), exact));
    exact
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_gelu_backward_is_exact_and_the_erf_form_agrees() {
        let device = Device::flex().autodiff();
        assert!(exact_gelu_backward(&device));
        // The erf form (what inexact backends get) has the exact derivative too.
        let x = Tensor::<1>::from_data(TensorData::new(vec![-1.5f32, 0.3, 1.0], [3]), &device)
            .require_grad();
        let erf_form = (x.clone() * 0.5) * ((x.clone() / std::f64::consts::SQRT_2).erf() + 1.0);
        let grads = erf_form.clone().sum().backward();
        let ours = x
            .grad(&grads)
            .map(|g| g.into_data().convert::<f32>().try_to_vec::<f32>());
        let native = gelu(x.clone().detach().require_grad());
        let forward_diff = (erf_form.detach() - native.clone().detach()).abs().max();
        assert!(forward_diff.into_scalar::<f32>() < 1e-6);
        let expected = [-0.127_469, 0.732_328, 1.083_315]; // Φ(x) + x φ(x)
        let ours = ours.and_then(|g| g.ok()).unwrap_or_default();
        for (a, b) in ours.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{ours:?}");
        }
    }
}
