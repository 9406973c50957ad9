//! [`LoraLayer`]: the LoRA state of one adapted weight, PEFT's `LoraLayer` (`lora_A`, `lora_B`,
//! `scaling`, `lora_dropout`), as a burn reparameterization of the weight's
//! [`Param`](burn::module::Param).
//!
//! Without dropout the weight materialises as `W + scaling·A·B` ([`Reparameterization::apply`])
//! and the linear layer runs unchanged. PEFT's dropout acts on the adapter's input alone
//! (`base(x) + lora_B(lora_A(dropout(x)))·scaling`), which no weight can express, so
//! [`linear`] computes that sum in training when the dropout is on.

use burn::module::{Lora, LoraAdapter, Module, Param, Reparameterization, Reparameterizer};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;

/// The LoRA factors, scaling and dropout of one adapted weight (`[d_in, d_out]`).
///
/// Its parameters sit under the weight's path as burn's [`LoraAdapter`]'s do (`….weight.lora.a`
/// `[d_in, r]`, `….weight.lora.b` `[r, d_out]`).
#[derive(Module, Debug)]
pub struct LoraLayer {
    /// Down-projection `[d_in, r]` (PEFT's `lora_A.weight`, transposed).
    pub a: Param<Tensor<2>>,
    /// Up-projection `[r, d_out]` (PEFT's `lora_B.weight`, transposed).
    pub b: Param<Tensor<2>>,
    /// PEFT's `scaling`: `lora_alpha / r`, or `lora_alpha / √r` with rsLoRA.
    pub scale: f64,
    /// PEFT's `lora_dropout`, on the adapter's input in training.
    pub lora_dropout: Dropout,
}

impl LoraLayer {
    /// `scale·A·B`, `[d_in, d_out]`.
    pub fn delta(&self) -> Tensor<2> {
        self.a.val().matmul(self.b.val()).mul_scalar(self.scale)
    }
}

impl Reparameterization for LoraLayer {
    // burn's own name: the factors' paths are `….lora.a` and `….lora.b` either way.
    const NAME: &'static str = "lora";

    fn apply<const D: usize>(&self, base: Tensor<D>) -> Tensor<D> {
        let delta = self.delta().reshape(base.shape());
        // As burn's `LoraAdapter`: a dense base of another float dtype composes at the factors'.
        let base = if base.dtype().is_float() && base.dtype() != delta.dtype() {
            base.cast(delta.dtype())
        } else {
            base
        };
        base + delta
    }
}

/// burn's [`Lora`] reparameterizer with PEFT's dropout added to every adapter it creates.
pub(crate) struct LoraWithDropout {
    /// burn's LoRA: rank, scaling, and which weights get adapters.
    pub lora: Lora,
    /// `lora_dropout`.
    pub dropout: f64,
}

impl Reparameterizer for LoraWithDropout {
    type Reparam = LoraLayer;

    fn reparameterize<const D: usize>(
        &mut self,
        path: &str,
        param: Param<Tensor<D>>,
    ) -> (Param<Tensor<D>>, Option<LoraLayer>) {
        let (base, adapter) = self.lora.reparameterize(path, param);
        let layer = adapter.map(|LoraAdapter { a, b, scale }| LoraLayer {
            a,
            b,
            scale,
            lora_dropout: DropoutConfig::new(self.dropout).init(),
        });
        (base, layer)
    }
}

/// `linear(input)`, with PEFT's LoRA dropout when `linear`'s weight carries a [`LoraLayer`]
/// whose dropout is on: `input·W + bias + scale·(dropout(input)·A)·B`. Every linear layer of the
/// architectures runs through here, so any of them can be a LoRA target.
///
/// # Shapes
/// - `input`: `[..., d_in]`
/// - output: `[..., d_out]`
pub(crate) fn linear<const D: usize>(linear: &Linear, input: Tensor<D>) -> Tensor<D> {
    let Some(layer) = linear
        .weight
        .reparameterization::<LoraLayer>()
        .filter(|layer| layer.lora_dropout.prob > 0.0 && input.device().is_autodiff())
    else {
        return linear.forward(input);
    };
    let dropped = layer.lora_dropout.forward(input.clone());
    let update = burn::tensor::module::linear(dropped, layer.a.val(), None);
    let update = burn::tensor::module::linear(update, layer.b.val(), None).mul_scalar(layer.scale);
    let base = burn::tensor::module::linear(
        input,
        linear.weight.base(),
        linear.bias.as_ref().map(Param::val),
    );
    base + update
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;

    use super::*;

    /// Attaches one fixed [`LoraLayer`] to every 2-D weight.
    struct Fixed {
        a: Tensor<2>,
        b: Tensor<2>,
        dropout: f64,
    }

    impl Reparameterizer for Fixed {
        type Reparam = LoraLayer;

        fn reparameterize<const D: usize>(
            &mut self,
            _path: &str,
            param: Param<Tensor<D>>,
        ) -> (Param<Tensor<D>>, Option<LoraLayer>) {
            let layer = (D == 2).then(|| LoraLayer {
                a: Param::from_tensor(self.a.clone()),
                b: Param::from_tensor(self.b.clone()),
                scale: 2.0,
                lora_dropout: DropoutConfig::new(self.dropout).init(),
            });
            (param.set_require_grad(false), layer)
        }
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A 12 → 12 linear with an adapter of dropout `p` whose `A` and `B` are the identity (so
    /// its update is `2·dropout(x)`), its input `[4, 5, 12]`, and the outputs without the
    /// adapter (`x·W + b`) and with it, undropped (`x·(W + 2·I) + b`).
    fn setup(device: &Device, p: f64) -> (Linear, Tensor<3>, Vec<f32>, Vec<f32>) {
        let plain = LinearConfig::new(12, 12).init(device);
        let eye = Tensor::<2>::eye(12, device);
        let x = Tensor::<3>::random([4, 5, 12], Distribution::Normal(0.0, 1.0), device);
        let base = values(plain.forward(x.clone()));
        let full: Vec<f32> = base
            .iter()
            .zip(values(x.clone()))
            .map(|(b, x)| b + 2.0 * x)
            .collect();
        let adapted = plain.apply_reparameterization(Fixed {
            a: eye.clone(),
            b: eye,
            dropout: p,
        });
        (adapted, x, base, full)
    }

    #[test]
    fn lora_dropout_drops_the_adapters_input_alone_and_keeps_the_expectation() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let (adapted, x, base, full) = setup(&device, 0.5);
        let inputs = values(x.clone());
        let (adapted, x) = (
            adapted.to_device(&ad),
            Tensor::<3>::from_data(x.into_data(), &ad),
        );
        assert!(x.device().is_autodiff());

        // One draw: the base path sees the whole input, the adapter a dropped copy, each input
        // either 0 or kept and scaled by 1 / (1 - p): out = x·W + b + 2·dropout(x).
        let out = values(linear(&adapted, x.clone()));
        let mut dropped = 0;
        for ((o, b), x) in out.iter().zip(&base).zip(&inputs) {
            let kept = (o - b) / 2.0;
            if kept.abs() < 1e-5 {
                dropped += 1;
            } else {
                assert!(
                    (kept - 2.0 * x).abs() < 1e-4,
                    "{kept} is neither 0 nor 2·{x}"
                );
            }
        }
        assert!(
            (60..180).contains(&dropped),
            "{dropped} of 240 inputs dropped at p 0.5"
        );
        let spread = max_diff(&out, &full);

        // Over many draws the mean is the undropped output.
        let draws = 1000;
        let mut mean = vec![0.0f32; full.len()];
        for _ in 0..draws {
            for (m, v) in mean.iter_mut().zip(values(linear(&adapted, x.clone()))) {
                *m += v / draws as f32;
            }
        }
        let error = max_diff(&mean, &full);
        assert!(
            error < spread / 5.0,
            "mean off by {error}, one draw by {spread}"
        );
    }

    #[test]
    fn without_autodiff_or_dropout_the_adapted_weight_runs_as_one_linear() {
        let device = Device::flex();
        let (adapted, x, _, full) = setup(&device, 0.5);
        let out = values(linear(&adapted, x));
        assert!(max_diff(&out, &full) < 1e-5, "inference is undropped");

        let ad = device.clone().autodiff();
        let (adapted, x, _, full) = setup(&device, 0.0);
        let x = Tensor::<3>::from_data(x.into_data(), &ad);
        let out = values(linear(&adapted.to_device(&ad), x));
        assert!(
            max_diff(&out, &full) < 1e-5,
            "p 0 trains as the merged weight"
        );
    }
}
