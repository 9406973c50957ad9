//! Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` over all parameters.
//!
//! burn's `GradientClipping::Norm` clips each tensor by its own norm; HF clips the gradient of
//! the whole model by the norm of all gradients together. This module does the latter.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::error::{Result, TrainError};

/// Ids and ranks of a module's float parameters.
#[derive(Default)]
struct FloatParams {
    ids: Vec<(ParamId, usize)>,
}

impl ModuleVisitor for FloatParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.ids.push((param.id, D));
    }
}

/// Float parameter ids of `module` with their ranks.
pub(crate) fn float_params<M: Module>(module: &M) -> Vec<(ParamId, usize)> {
    let mut visitor = FloatParams::default();
    module.visit(&mut visitor);
    visitor.ids
}

fn squared_norm<const D: usize>(grads: &GradientsParams, id: ParamId) -> Option<Tensor<1>> {
    grads.get::<D>(id).map(|g| g.square().sum().reshape([1]))
}

fn scale<const D: usize>(grads: &mut GradientsParams, id: ParamId, factor: f64) {
    if let Some(g) = grads.remove::<D>(id) {
        grads.register(id, g.mul_scalar(factor));
    }
}

/// Scales every gradient by `min(1, max_norm / (total_norm + 1e-6))` and returns the total
/// L2 norm before clipping (what HF logs as `grad_norm`). `max_norm <= 0` disables clipping.
///
/// # Errors
/// [`TrainError::Backend`] if the norm cannot be read back from the device.
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Result<f64> {
    let params = float_params(module);
    let squares: Vec<Tensor<1>> = params
        .iter()
        .filter_map(|&(id, rank)| match rank {
            1 => squared_norm::<1>(grads, id),
            2 => squared_norm::<2>(grads, id),
            3 => squared_norm::<3>(grads, id),
            4 => squared_norm::<4>(grads, id),
            _ => None,
        })
        .collect();
    if squares.is_empty() {
        return Ok(0.0);
    }
    let total = Tensor::cat(squares, 0)
        .sum()
        .sqrt()
        .try_into_scalar::<f64>()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))?;
    if max_norm > 0.0 {
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            for &(id, rank) in &params {
                match rank {
                    1 => scale::<1>(grads, id, coef),
                    2 => scale::<2>(grads, id, coef),
                    3 => scale::<3>(grads, id, coef),
                    4 => scale::<4>(grads, id, coef),
                    _ => {}
                }
            }
        }
    }
    Ok(total)
}
