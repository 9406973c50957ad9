//! `--device`: the one place that turns a name into a burn backend.

use anyhow::{Result, bail};
use burn::tensor::Device;

/// Backends this build can run on, for help texts and errors.
pub const AVAILABLE: &str = "cpu (burn's pure-Rust flex backend)";

/// Parses `--device`: `cpu` / `flex` today. `cuda[:N]`, `tch` and `wgpu` name backends this
/// build does not include yet and are refused with a message that says so.
pub fn parse(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        other
            if other == "cuda"
                || other.starts_with("cuda:")
                || other == "tch"
                || other == "libtorch" =>
        {
            bail!(
                "--device {other} needs the libtorch backend (burn-tch), which this build of bertfit does not include; \
             available: {AVAILABLE}"
            )
        }
        "wgpu" | "vulkan" | "metal" => bail!(
            "--device {name} needs the wgpu backend, which this build of bertfit does not include; available: {AVAILABLE}"
        ),
        other => bail!("unknown --device `{other}`; available: {AVAILABLE}"),
    }
}
