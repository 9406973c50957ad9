//! AdamW as `torch.optim.AdamW` computes it, in two implementations that HF's `optim` argument
//! names: [`OptimizerKind::AdamwTorchFused`], one pass over each parameter's memory (HF's default,
//! `adamw_torch_fused`), and [`OptimizerKind::AdamwTorch`], one tensor operation at a time on the
//! parameter's device.
//!
//! Per parameter, at step `t` (1-based), with learning rate `lr` and weight decay `wd`
//! (torch's decoupled decay; HF's parameter groups set `wd = 0` for biases and LayerNorm
//! weights):
//!
//! ```text
//! p ← p · (1 − lr·wd)
//! m ← β₁·m + (1 − β₁)·g
//! v ← β₂·v + (1 − β₂)·g²
//! p ← p − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! burn's own `AdamW` computes the same update as about fifteen elementwise tensor operations,
//! each a pass over the parameter (and a fresh buffer); on a CPU that memory traffic, not the
//! arithmetic, is the cost, and for a model whose word embeddings are half its weights it is a
//! large part of a training step. The fused form reads the parameter, its gradient and both
//! moments once and writes the three updated tensors once, on the host, split across threads.
//! It moves each tensor to host memory and back, which is free on burn's CPU backend (the
//! buffers are handed over, not copied) and a copy on libtorch's CPU device; on a GPU that would
//! be a round trip over the bus, so GPU devices use [`OptimizerKind::AdamwTorch`].
//!
//! Both keep burn's [`AdamWState`] (step count and both moments), so checkpoints written with
//! either resume with either.

use burn::module::{Module, ParamGroup, ParamId};
use burn::optim::{AdamWState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::clip::float_params;
use crate::config::TrainingConfig;

/// How AdamW updates the weights (HF's `TrainingArguments.optim`, for the AdamW choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// One pass over each parameter's memory on the host (HF's default `adamw_torch_fused`).
    /// The right choice on CPU devices; on a GPU it would copy every weight to the host and back.
    #[default]
    AdamwTorchFused,
    /// The update as separate tensor operations on the parameter's device (`adamw_torch`): the
    /// choice for GPU devices.
    AdamwTorch,
}

impl OptimizerKind {
    /// HF's name of the choice.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdamwTorchFused => "adamw_torch_fused",
            Self::AdamwTorch => "adamw_torch",
        }
    }
}

/// AdamW with torch's update rule; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct HfAdamW {
    /// β₁.
    pub beta_1: f64,
    /// β₂.
    pub beta_2: f64,
    /// ε.
    pub epsilon: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Fused host pass or separate tensor operations.
    pub kind: OptimizerKind,
    /// A backend's own fused kernel, tried first for [`OptimizerKind::AdamwTorchFused`].
    pub kernel: Option<Arc<dyn FusedAdamW>>,
}

impl HfAdamW {
    /// torch's defaults (β 0.9/0.999, ε 1e-8) with the given weight decay, fused.
    pub fn new(weight_decay: f64) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay,
            kind: OptimizerKind::AdamwTorchFused,
            kernel: None,
        }
    }

    /// The same optimizer, implemented as `kind`.
    pub fn with_kind(mut self, kind: OptimizerKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same optimizer, trying `kernel` first for the fused update.
    pub fn with_kernel(mut self, kernel: Option<Arc<dyn FusedAdamW>>) -> Self {
        self.kernel = kernel;
        self
    }

    /// The scalars of step `time` at learning rate `lr`.
    fn coefficients(&self, lr: f64, time: usize) -> AdamWStep {
        let time = time as i32;
        let bias_1 = 1.0 - self.beta_1.powi(time);
        let bias_2 = 1.0 - self.beta_2.powi(time);
        AdamWStep {
            decay: 1.0 - lr * self.weight_decay,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            step_size: lr / bias_1,
            bias_2_sqrt: bias_2.sqrt(),
            epsilon: self.epsilon,
        }
    }
}

/// The scalars of one AdamW update of one parameter (computed in f64, as torch does), and the
/// update itself on host slices ([`apply`](Self::apply)), for [`FusedAdamW`] kernels to share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    /// `1 − lr·weight_decay`, the decoupled decay factor.
    pub decay: f64,
    /// β₁.
    pub beta_1: f64,
    /// β₂.
    pub beta_2: f64,
    /// `lr / (1 − β₁ᵗ)`.
    pub step_size: f64,
    /// `√(1 − β₂ᵗ)`.
    pub bias_2_sqrt: f64,
    /// ε.
    pub epsilon: f64,
}

/// A parameter, its gradient and its two moments, flattened, for a [`FusedAdamW`] kernel.
#[derive(Debug)]
pub struct FusedTensors {
    /// The parameter.
    pub param: Tensor<1>,
    /// Its gradient.
    pub grad: Tensor<1>,
    /// First moment (zeros at the first step).
    pub moment_1: Tensor<1>,
    /// Second moment (zeros at the first step).
    pub moment_2: Tensor<1>,
}

/// A backend's own implementation of [`OptimizerKind::AdamwTorchFused`]'s single pass, for
/// backends whose tensors the host pass would have to copy (libtorch's; `bertfit` provides that
/// one). Without a kernel, or when it declines, the host pass runs.
pub trait FusedAdamW: Send + Sync + std::fmt::Debug {
    /// Applies `step` to the tensors: `Ok([param, moment_1, moment_2])` updated, or `Err` with
    /// the tensors (boxed) untouched when this kernel does not handle them (another backend, dtype or
    /// layout).
    ///
    /// # Errors
    /// The tensors themselves, for the host pass to update.
    fn step(
        &self,
        step: &AdamWStep,
        tensors: FusedTensors,
    ) -> Result<[Tensor<1>; 3], Box<FusedTensors>>;
}

/// [`AdamWStep`]'s scalars in f32, as torch's fused kernel casts them.
#[derive(Debug, Clone, Copy)]
struct Scalars {
    decay: f32,
    beta_1: f32,
    beta_2: f32,
    one_minus_1: f32,
    one_minus_2: f32,
    step_size: f32,
    bias_2_sqrt: f32,
    epsilon: f32,
}

impl From<&AdamWStep> for Scalars {
    fn from(s: &AdamWStep) -> Self {
        Self {
            decay: s.decay as f32,
            beta_1: s.beta_1 as f32,
            beta_2: s.beta_2 as f32,
            one_minus_1: (1.0 - s.beta_1) as f32,
            one_minus_2: (1.0 - s.beta_2) as f32,
            step_size: s.step_size as f32,
            bias_2_sqrt: s.bias_2_sqrt as f32,
            epsilon: s.epsilon as f32,
        }
    }
}

impl Scalars {
    /// torch's fused AdamW (`FusedAdamKernel.cpp`, ADAMW mode) on one chunk, operation for
    /// operation, compiled for the widest SIMD the CPU has (pulp's runtime dispatch; the
    /// per-element arithmetic and its rounding are the same at every width).
    fn update(&self, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        pulp::Arch::new().dispatch(|| self.update_lanes(param, grad, m, v));
    }

    #[inline(always)]
    fn update_lanes(&self, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        for (((p, &g), m), v) in param
            .iter_mut()
            .zip(grad)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            *m = *m * self.beta_1 + g * self.one_minus_1;
            *v = *v * self.beta_2 + g * g * self.one_minus_2;
            let denom = v.sqrt() / self.bias_2_sqrt + self.epsilon;
            *p = *p * self.decay - self.step_size * *m / denom;
        }
    }
}

/// Elements per task of the fused pass: large enough to amortise scheduling, small enough to
/// spread a bias vector of a few thousand elements over one task and an embedding matrix over
/// many.
const CHUNK: usize = 1 << 14;

impl AdamWStep {
    /// The update as tensor operations on the tensors' device: `(param, m, v)` after the step.
    fn apply_ops<const D: usize>(
        &self,
        param: Tensor<D>,
        grad: Tensor<D>,
        m: Tensor<D>,
        v: Tensor<D>,
    ) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
        let m = m.mul_scalar(self.beta_1) + grad.clone().mul_scalar(1.0 - self.beta_1);
        let v = v.mul_scalar(self.beta_2) + grad.square().mul_scalar(1.0 - self.beta_2);
        let denom = v
            .clone()
            .sqrt()
            .div_scalar(self.bias_2_sqrt)
            .add_scalar(self.epsilon);
        let param = param.mul_scalar(self.decay) - m.clone().div(denom).mul_scalar(self.step_size);
        (param, m, v)
    }

    /// The fused update of one parameter, in place: one pass over the four slices (split
    /// across rayon's threads for large parameters).
    pub fn apply(&self, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        let scalars = Scalars::from(self);
        if param.len() <= CHUNK {
            scalars.update(param, grad, m, v);
        } else {
            param
                .par_chunks_mut(CHUNK)
                .zip(grad.par_chunks(CHUNK))
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .for_each(|(((p, g), m), v)| scalars.update(p, g, m, v));
        }
    }
}

impl Optimizer for HfAdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let time = state.as_ref().map_or(0, |s| s.momentum.time) + 1;
        let c = self.coefficients(lr, time);
        let device = tensor.device();
        let shape = tensor.shape();
        let (tensor, grad, state) = match (&self.kernel, self.kind) {
            (Some(kernel), OptimizerKind::AdamwTorchFused) => {
                let n = shape.num_elements();
                let (m, v) = match state {
                    Some(s) => (s.momentum.moment_1, s.momentum.moment_2),
                    None => (grad.zeros_like(), grad.zeros_like()),
                };
                let tensors = FusedTensors {
                    param: tensor.reshape([n]),
                    grad: grad.reshape([n]),
                    moment_1: m.reshape([n]),
                    moment_2: v.reshape([n]),
                };
                match kernel.step(&c, tensors) {
                    Ok([p, m, v]) => {
                        let momentum = AdaptiveMomentumState::new(
                            time,
                            m.reshape(shape.clone()),
                            v.reshape(shape.clone()),
                        );
                        return (p.reshape(shape), Some(AdamWState::new(momentum)));
                    }
                    Err(t) => {
                        let t = *t;
                        let momentum = AdaptiveMomentumState::new(
                            time - 1,
                            t.moment_1.reshape(shape.clone()),
                            t.moment_2.reshape(shape.clone()),
                        );
                        (
                            t.param.reshape(shape.clone()),
                            t.grad.reshape(shape.clone()),
                            Some(AdamWState::new(momentum)),
                        )
                    }
                }
            }
            _ => (tensor, grad, state),
        };
        let (tensor, moment_1, moment_2) = match self.kind {
            OptimizerKind::AdamwTorchFused if tensor.dtype() == DType::F32 => {
                let (mut m, mut v) = match state {
                    Some(s) => (
                        s.momentum.moment_1.into_data(),
                        s.momentum.moment_2.into_data(),
                    ),
                    None => (
                        TensorData::zeros::<f32, _>(shape.clone()),
                        TensorData::zeros::<f32, _>(shape.clone()),
                    ),
                };
                let (mut p, g) = (tensor.into_data(), grad.into_data());
                let n = shape.num_elements();
                let fused = match (
                    p.as_mut_slice::<f32>(),
                    g.as_slice::<f32>(),
                    m.as_mut_slice::<f32>(),
                    v.as_mut_slice::<f32>(),
                ) {
                    (Ok(ps), Ok(gs), Ok(ms), Ok(vs))
                        if [ps.len(), gs.len(), ms.len(), vs.len()] == [n; 4] =>
                    {
                        c.apply(ps, gs, ms, vs);
                        true
                    }
                    _ => false,
                };
                let upload = |data| Tensor::<D>::from_data(data, &device);
                if fused {
                    (upload(p), upload(m), upload(v))
                } else {
                    // Moments of another dtype (a checkpoint from elsewhere): the same update
                    // as tensor operations.
                    c.apply_ops(upload(p), upload(g), upload(m), upload(v))
                }
            }
            _ => {
                let (m, v) = match state {
                    Some(s) => (s.momentum.moment_1, s.momentum.moment_2),
                    None => (grad.zeros_like(), grad.zeros_like()),
                };
                c.apply_ops(tensor, grad, m, v)
            }
        };
        let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
        (tensor, Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

/// The optimizer the [`Trainer`](crate::Trainer) steps `model` with: [`HfAdamW`] as `config`
/// sets it (β, ε, `optim`), with HF's parameter groups: `weight_decay` on rank-2 parameters
/// (weights and embeddings), none on rank-1 parameters (biases and LayerNorm weights).
///
/// `kernel` is a backend's own fused update (see [`FusedAdamW`]), tried first when
/// `config.optim` is [`OptimizerKind::AdamwTorchFused`].
pub fn adamw<M: Module>(
    config: &TrainingConfig,
    model: &M,
    kernel: Option<Arc<dyn FusedAdamW>>,
) -> ModuleOptimizer {
    let adam = |weight_decay: f64| HfAdamW {
        beta_1: config.adam_beta1,
        beta_2: config.adam_beta2,
        epsilon: config.adam_epsilon,
        weight_decay,
        kind: config.optim,
        kernel: kernel.clone(),
    };
    let no_decay: Vec<ParamId> = float_params(model)
        .into_iter()
        .filter(|&(_, rank)| rank == 1)
        .map(|(id, _)| id)
        .collect();
    ModuleOptimizer::from(adam(config.weight_decay)).with_group(
        ParamGroup::from_ids(no_decay),
        adam(0.0),
        None,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    /// torch.optim.AdamW's update written out in f64, step by step.
    fn reference(p: &mut [f64], grads: &[Vec<f64>], lrs: &[f64], wd: f64) -> (Vec<f64>, Vec<f64>) {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        let (mut m, mut v) = (vec![0.0; p.len()], vec![0.0; p.len()]);
        for (t, (g, lr)) in grads.iter().zip(lrs).enumerate() {
            let t = t as i32 + 1;
            for i in 0..p.len() {
                p[i] *= 1.0 - lr * wd;
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let denom = v[i].sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
                p[i] -= lr / (1.0 - b1.powi(t)) * m[i] / denom;
            }
        }
        (m, v)
    }

    #[test]
    fn both_kinds_follow_torch_adamw() {
        let device = Device::flex();
        // 40 000 elements: the fused pass splits them across tasks.
        let n = 40_000;
        let mut rng = crate::SplitMix64::new(5);
        let mut uniform = || (rng.below(2_000_001) as f64 - 1e6) / 1e6;
        let p0: Vec<f64> = (0..n).map(|_| uniform()).collect();
        let grads: Vec<Vec<f64>> = (0..3)
            .map(|k| (0..n).map(|_| uniform() * 10f64.powi(-k)).collect())
            .collect();
        let lrs = [1e-2, 5e-3, 0.0];
        let mut expected = p0.clone();
        let (m_ref, v_ref) = reference(&mut expected, &grads, &lrs, 0.01);
        for kind in [OptimizerKind::AdamwTorchFused, OptimizerKind::AdamwTorch] {
            let optim = HfAdamW::new(0.01).with_kind(kind);
            let tensor = |v: &[f64]| {
                let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                Tensor::<2>::from_data(TensorData::new(v, [200, n / 200]), &device)
            };
            let mut p = tensor(&p0);
            let mut state = None;
            for (g, &lr) in grads.iter().zip(&lrs) {
                let (next, s) = optim.step(lr, p, tensor(g), state);
                p = next;
                state = s;
            }
            let state = state.unwrap();
            assert_eq!(state.momentum.time, 3);
            let worst = |got: Vec<f32>, want: &[f64]| {
                got.iter()
                    .zip(want)
                    .map(|(g, w)| (f64::from(*g) - w).abs())
                    .fold(0.0f64, f64::max)
            };
            let moved = p0
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(moved > 1e-2, "the steps must move the weights ({moved})");
            let p_err = worst(values(&p), &expected);
            assert!(p_err < 1e-6, "{kind:?}: weights off by {p_err}");
            assert!(worst(values(&state.momentum.moment_1), &m_ref) < 1e-6);
            assert!(worst(values(&state.momentum.moment_2), &v_ref) < 1e-7);
        }
    }

    #[test]
    fn the_kinds_resume_from_each_other() {
        let device = Device::flex();
        let p = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0], [3]), &device);
        let g = Tensor::<1>::from_data(TensorData::new(vec![0.1f32, 0.2, -0.3], [3]), &device);
        let fused = HfAdamW::new(0.1);
        let plain = fused.clone().with_kind(OptimizerKind::AdamwTorch);
        let (p1, s1) = fused.step(1e-2, p.clone(), g.clone(), None);
        let (a, _) = plain.step(1e-2, p1.clone(), g.clone(), s1.clone());
        let (b, _) = fused.step(1e-2, p1, g, s1);
        for (x, y) in values(&a).iter().zip(values(&b)) {
            assert!((x - y).abs() < 1e-7, "{x} vs {y}");
        }
    }

    #[test]
    fn kinds_have_hf_names() {
        assert_eq!(
            serde_json::to_string(&OptimizerKind::AdamwTorchFused).unwrap(),
            "\"adamw_torch_fused\""
        );
        assert_eq!(OptimizerKind::AdamwTorch.as_str(), "adamw_torch");
    }
}
