//! The fused AdamW update on libtorch's CPU tensors, in place.
//!
//! `bertfit-train`'s fused AdamW moves each parameter, gradient and moment to host memory,
//! updates them in one pass and moves them back. On burn's flex backend that hand-over is free
//! (the buffers change owner); libtorch's tensors would be copied out and in again, which costs
//! more than the pass itself (0.17 s a step for all-MiniLM-L6-v2's 22.7 M weights, against
//! 0.10 s for the same update as separate libtorch ops). This kernel runs the same pass
//! ([`AdamWStep::apply`]) directly on libtorch's buffers, as torch's own `_fused_adamw_` does
//! (about 0.02 s for that model).
//!
//! This is the one module with `unsafe` code: the update needs the tensors' memory as slices,
//! and tch exposes it only as a raw pointer. Each slice is made only over a contiguous f32
//! CPU buffer of the right length, and mutable slices only over buffers no other tensor shares
//! (burn-tch's storage reference count says so, else the tensor is copied first).

#![allow(unsafe_code)]
// burn-tch is deprecated upstream in favour of its CubeCL backends (see `device.rs`).
#![allow(deprecated)]

use bertfit_train::{AdamWStep, FusedAdamW, FusedTensors};
use burn::backend::LibTorch;
use burn::backend::libtorch::TchTensor;
use burn::tensor::{DType, Device, Tensor};

/// [`FusedAdamW`] for tensors on libtorch's CPU device (`--device tch`).
#[derive(Debug, Default, Clone, Copy)]
pub struct LibTorchFusedAdamW;

/// A contiguous f32 buffer of `tensor`'s values that no other tensor shares: `tensor` itself
/// when it already is one, else a copy.
fn exclusive(tensor: TchTensor) -> TchTensor {
    if tensor.can_mut() && tensor.tensor.is_contiguous() {
        return tensor;
    }
    let mut copy = tensor.tensor.empty_like();
    copy.copy_(&tensor.tensor);
    TchTensor::new(copy.contiguous())
}

impl FusedAdamW for LibTorchFusedAdamW {
    fn step(
        &self,
        step: &AdamWStep,
        tensors: FusedTensors,
    ) -> Result<[Tensor<1>; 3], Box<FusedTensors>> {
        let cpu = Device::libtorch();
        let all = [
            &tensors.param,
            &tensors.grad,
            &tensors.moment_1,
            &tensors.moment_2,
        ];
        let n = tensors.param.dims()[0];
        if all.iter().any(|t| {
            t.device() != cpu || t.is_autodiff() || t.dtype() != DType::F32 || t.dims()[0] != n
        }) {
            return Err(Box::new(tensors));
        }
        // Every tensor is a plain libtorch float tensor (checked above), which is exactly what
        // the conversion needs; a failure would be a burn bug, so hand the tensors back.
        let FusedTensors {
            param,
            grad,
            moment_1,
            moment_2,
        } = tensors;
        let converted = (
            param.try_into_primitive::<LibTorch>(),
            grad.try_into_primitive::<LibTorch>(),
            moment_1.try_into_primitive::<LibTorch>(),
            moment_2.try_into_primitive::<LibTorch>(),
        );
        let (Ok(p), Ok(g), Ok(m), Ok(v)) = converted else {
            unreachable_conversion()
        };
        let (p, m, v) = (exclusive(p), exclusive(m), exclusive(v));
        let g = if g.tensor.is_contiguous() {
            g
        } else {
            TchTensor::new(g.tensor.contiguous())
        };
        let counts = [&p, &g, &m, &v].map(|t| t.tensor.numel());
        if counts != [n; 4] {
            unreachable_conversion()
        }
        let pointers = [&p, &g, &m, &v].map(|t| t.tensor.data_ptr() as usize);
        let distinct = (0..4).all(|i| (i + 1..4).all(|j| pointers[i] != pointers[j]));
        if !distinct {
            unreachable_conversion()
        }
        // SAFETY: each pointer is the start of a contiguous buffer of `n` f32 values on the CPU
        // (dtype and device checked on the burn tensors, contiguity and element count on the
        // libtorch ones; copies keep the dtype), valid while the tensors
        // live, which outlasts the slices. `p`, `m` and `v` share their storage with no other
        // tensor (`exclusive`: burn-tch's storage reference is unique, or the buffer is a fresh
        // copy) and the four buffers are distinct, so the three mutable slices are the only
        // references to their memory and `g`'s slice aliases none of them. libtorch runs no
        // operation on these tensors meanwhile: its CPU ops are synchronous and nothing else
        // holds them.
        let (ps, gs, ms, vs) = unsafe {
            (
                std::slice::from_raw_parts_mut(pointers[0] as *mut f32, n),
                std::slice::from_raw_parts(pointers[1] as *const f32, n),
                std::slice::from_raw_parts_mut(pointers[2] as *mut f32, n),
                std::slice::from_raw_parts_mut(pointers[3] as *mut f32, n),
            )
        };
        step.apply(ps, gs, ms, vs);
        drop(g);
        Ok([
            Tensor::from_primitive::<LibTorch>(p),
            Tensor::from_primitive::<LibTorch>(m),
            Tensor::from_primitive::<LibTorch>(v),
        ])
    }
}

/// A plain libtorch f32 tensor that burn cannot hand over as one: a burn bug, not bad input.
#[allow(clippy::panic)]
fn unreachable_conversion() -> ! {
    panic!("burn-tch returned a tensor that is not the contiguous f32 CPU tensor it reported")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bertfit_train::{HfAdamW, OptimizerKind};
    use burn::optim::Optimizer;
    use burn::tensor::TensorData;
    use std::sync::Arc;

    /// Three steps of the libtorch kernel agree with the host pass on flex, and every state
    /// stays on libtorch.
    #[test]
    fn libtorch_kernel_matches_the_host_pass() {
        let n = 50_000;
        let values = |seed: u64| -> Vec<f32> {
            let mut rng = bertfit_train::SplitMix64::new(seed);
            (0..n)
                .map(|_| (rng.below(2_000_001) as f32 - 1e6) / 1e6)
                .collect()
        };
        let run = |device: &Device, kernel: Option<Arc<dyn FusedAdamW>>| {
            let optim = HfAdamW::new(0.01)
                .with_kind(OptimizerKind::AdamwTorchFused)
                .with_kernel(kernel);
            let tensor =
                |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [100, n / 100]), device);
            let mut p = tensor(values(1));
            let mut state = None;
            for (k, lr) in [1e-2, 5e-3, 1e-3].into_iter().enumerate() {
                let (next, s) = optim.step(lr, p, tensor(values(k as u64 + 2)), state);
                p = next;
                state = s;
            }
            assert_eq!(p.device(), *device);
            let state = state.unwrap();
            assert_eq!(state.momentum.moment_1.device(), *device);
            assert_eq!(state.momentum.time, 3);
            p.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        };
        let host = run(&Device::flex(), None);
        let torch = run(&Device::libtorch(), Some(Arc::new(LibTorchFusedAdamW)));
        assert_eq!(host, torch);
        assert_ne!(host, values(1));
    }

    /// Three `Trainer` steps of the tiny fixture model on libtorch end with the same weights
    /// with the kernel as with the host pass (which copies through host memory), and the
    /// kernel's steps move them.
    #[test]
    fn training_with_the_kernel_equals_the_host_pass() {
        use bertfit_model::{AutoModelForSequenceClassification, SequenceClassifier};
        use bertfit_train::{EncodedDataset, Example, IntervalStrategy, Resume, Trainer};
        use burn::module::{Module, ModuleVisitor, Param};

        struct Weights(Vec<f32>);
        impl ModuleVisitor for Weights {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let values = param.val().into_data().convert::<f32>();
                self.0.extend(values.try_into_vec::<f32>().unwrap());
            }
        }
        let fixture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures/tiny");
        let device = Device::libtorch();
        let data = EncodedDataset {
            examples: (0..8u32)
                .map(|i| Example {
                    input_ids: vec![2, 5 + i, 9, 11 + i % 3, 3],
                    token_type_ids: vec![0; 5],
                    label: i64::from(i % 2),
                })
                .collect(),
            pad_token_id: 0,
        };
        let weights = |kernel: bool| {
            let tmp = tempfile::tempdir().unwrap();
            let config = bertfit_train::TrainingConfig {
                output_dir: tmp.path().to_path_buf(),
                max_steps: 3,
                learning_rate: 1e-3,
                weight_decay: 0.01,
                per_device_train_batch_size: 4,
                eval_strategy: IntervalStrategy::No,
                save_strategy: IntervalStrategy::No,
                progress_bar: false,
                optim: OptimizerKind::AdamwTorchFused,
                ..Default::default()
            };
            device.seed(7);
            let (model, _) =
                AutoModelForSequenceClassification::from_pretrained(&fixture, &device).unwrap();
            let mut trainer = Trainer::new(config, device.clone()).unwrap();
            if kernel {
                trainer = trainer.with_fused_adamw(Arc::new(LibTorchFusedAdamW));
            }
            let output = trainer.train(model, &data, None, Resume::No).unwrap();
            let mut weights = Weights(Vec::new());
            output.model.visit(&mut weights);
            weights.0
        };
        let (with, without) = (weights(true), weights(false));
        device.seed(7);
        let (model, _) =
            AutoModelForSequenceClassification::from_pretrained(&fixture, &device).unwrap();
        let mut start = Weights(Vec::new());
        model.visit(&mut start);
        assert_eq!(with.len(), start.0.len());
        assert_eq!(with, without);
        assert!(with.iter().zip(&start.0).any(|(a, b)| (a - b).abs() > 1e-4));
    }

    /// A tensor shared with another holder is copied, not updated under it.
    #[test]
    fn shared_parameters_are_not_written_in_place() {
        let device = Device::libtorch();
        let p = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &device);
        let kept = p.clone();
        let g = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, -0.5, 1.0], [3]), &device);
        let step = AdamWStep {
            decay: 1.0,
            beta_1: 0.9,
            beta_2: 0.999,
            step_size: 0.1 / 0.1,
            bias_2_sqrt: 0.001f64.sqrt(),
            epsilon: 1e-8,
        };
        let tensors = FusedTensors {
            param: p,
            grad: g.clone(),
            moment_1: g.zeros_like(),
            moment_2: g.zeros_like(),
        };
        let [updated, _, _] = LibTorchFusedAdamW.step(&step, tensors).unwrap();
        let read = |t: Tensor<1>| {
            t.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        };
        assert_eq!(read(kept), [1.0, 2.0, 3.0]);
        // The first step moves each weight by lr·sign(g) = 0.1 (step size 1, m = 0.1·g,
        // √v̂ = |g|).
        let updated = read(updated);
        for (u, e) in updated.iter().zip([0.9f32, 2.1, 2.9]) {
            assert!((u - e).abs() < 1e-5, "{updated:?}");
        }
    }
}
