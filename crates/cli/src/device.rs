//! `--device`: the one place that turns a name into a burn backend.
//!
//! | name | backend | cargo feature of `bertfit-cli` |
//! |---|---|---|
//! | `cpu`, `flex` | burn's pure-Rust CPU backend (rayon + SIMD) | always |
//! | `tch`, `libtorch`, `tch-cpu` | libtorch on the CPU | `tch` |
//! | `cuda`, `cuda:N` | libtorch on CUDA GPU N | `tch` |
//! | `wgpu`, `vulkan` | burn's wgpu backend on the default adapter | `wgpu` |

use anyhow::{Result, bail};
use std::sync::Arc;

use bertfit_train::{FusedAdamW, OptimizerKind};
use burn::tensor::Device;

/// Backends this build can run on, for help texts and errors.
pub fn available() -> String {
    let mut names = vec!["cpu (burn's pure-Rust flex backend)"];
    if cfg!(feature = "tch") {
        names.push("tch / cuda[:N] (libtorch)");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu (Vulkan/Metal/DX12)");
    }
    names.join(", ")
}

/// `cuda` → 0, `cuda:N` → N.
fn cuda_index(name: &str) -> Result<Option<usize>> {
    if name == "cuda" {
        return Ok(Some(0));
    }
    match name.strip_prefix("cuda:") {
        Some(index) => match index.parse() {
            Ok(i) => Ok(Some(i)),
            Err(_) => bail!("--device {name}: expected cuda or cuda:N with N a GPU index"),
        },
        None => Ok(None),
    }
}

/// The AdamW implementation that suits `--device name`: the fused host pass where the weights
/// live in host memory (flex, libtorch on the CPU), tensor operations on a GPU (CUDA, wgpu),
/// where moving every weight to the host and back each step would cost more than it saves.
pub fn default_optimizer(name: &str) -> OptimizerKind {
    match name {
        "cpu" | "flex" | "tch" | "libtorch" | "tch-cpu" => OptimizerKind::AdamwTorchFused,
        _ => OptimizerKind::AdamwTorch,
    }
}

/// The backend's own fused AdamW kernel for `--device name`, where it has one: libtorch's CPU
/// device (the host pass would copy every tensor out of libtorch and back). Flex needs none (its
/// buffers reach the host pass without a copy); GPU devices train with `adamw_torch`.
pub fn fused_adamw(name: &str) -> Option<Arc<dyn FusedAdamW>> {
    match name {
        "tch" | "libtorch" | "tch-cpu" => libtorch_fused_adamw(),
        _ => None,
    }
}

#[cfg(feature = "tch")]
fn libtorch_fused_adamw() -> Option<Arc<dyn FusedAdamW>> {
    Some(Arc::new(crate::tch_adamw::LibTorchFusedAdamW))
}

#[cfg(not(feature = "tch"))]
fn libtorch_fused_adamw() -> Option<Arc<dyn FusedAdamW>> {
    None
}

/// Parses `--device`; a backend this build lacks is refused with the feature that adds it.
pub fn parse(name: &str) -> Result<Device> {
    let lacks = |backend: &str, feature: &str| {
        anyhow::anyhow!(
            "--device {name} needs the {backend} backend, which this build of bertfit does not include; \
             rebuild with `--features {feature}` (e.g. `cargo xtask finetune --backend {feature}`); available: {}",
            available()
        )
    };
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        "tch" | "libtorch" | "tch-cpu" => libtorch_cpu().ok_or_else(|| lacks("libtorch", "tch")),
        "wgpu" | "vulkan" => wgpu().ok_or_else(|| lacks("wgpu", "wgpu")),
        other => match cuda_index(other)? {
            Some(index) => libtorch_cuda(index).ok_or_else(|| lacks("libtorch", "tch")),
            None => bail!("unknown --device `{other}`; available: {}", available()),
        },
    }
}

// burn-tch is deprecated upstream in favour of its CubeCL backends; it is still the way to run on
// libtorch (and CUDA through a PyPI torch), which is what this feature is for.
#[cfg(feature = "tch")]
#[allow(deprecated)]
fn libtorch_cpu() -> Option<Device> {
    Some(Device::libtorch())
}

#[cfg(not(feature = "tch"))]
fn libtorch_cpu() -> Option<Device> {
    None
}

#[cfg(feature = "tch")]
#[allow(deprecated)]
fn libtorch_cuda(index: usize) -> Option<Device> {
    Some(Device::libtorch_cuda(index))
}

#[cfg(not(feature = "tch"))]
fn libtorch_cuda(_index: usize) -> Option<Device> {
    None
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Option<Device> {
    Some(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Option<Device> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names() {
        assert!(parse("cpu").is_ok());
        assert_eq!(cuda_index("cuda").unwrap(), Some(0));
        assert_eq!(cuda_index("cuda:3").unwrap(), Some(3));
        assert!(cuda_index("cuda:x").is_err());
        assert_eq!(default_optimizer("cpu"), OptimizerKind::AdamwTorchFused);
        assert_eq!(default_optimizer("tch"), OptimizerKind::AdamwTorchFused);
        assert_eq!(default_optimizer("cuda:1"), OptimizerKind::AdamwTorch);
        assert_eq!(default_optimizer("wgpu"), OptimizerKind::AdamwTorch);
        let err = parse("gpu").unwrap_err().to_string();
        assert!(err.contains("unknown --device"), "{err}");
        if !cfg!(feature = "tch") {
            let err = parse("cuda:0").unwrap_err().to_string();
            assert!(err.contains("--features tch"), "{err}");
        }
        if !cfg!(feature = "wgpu") {
            let err = parse("wgpu").unwrap_err().to_string();
            assert!(err.contains("--features wgpu"), "{err}");
        }
    }
}
