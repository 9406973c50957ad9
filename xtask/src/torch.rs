//! The libtorch that `burn-tch` (through `torch-sys` 0.22) links against: PyPI `torch==2.9.0`
//! in a virtual environment in the bertfit cache, used with `LIBTORCH_USE_PYTORCH=1`.
//!
//! `torch-sys` asks the environment's `python` for torch's version (it must be 2.9.0), include
//! and library directories; the binaries it links find `libtorch*.so` through
//! `LD_LIBRARY_PATH`. [`ensure_torch`] creates the environment once (`python3 -m venv`, then
//! `pip install torch==2.9.0`, about 3.8 GiB with its CUDA libraries; the same build runs on the
//! CPU) and [`TorchEnv::apply`] sets those variables on a command.
//! `BERTFIT_TORCH_VENV` names an existing environment to use instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::fixtures;

/// The torch version `torch-sys` 0.22 is built for.
pub const TORCH_VERSION: &str = "2.9.0";

/// A Python environment with torch, and its libtorch directory.
#[derive(Debug, Clone)]
pub struct TorchEnv {
    /// The virtual environment's root.
    pub venv: PathBuf,
    /// `<site-packages>/torch/lib`.
    pub lib_dir: PathBuf,
}

impl TorchEnv {
    /// Sets what `torch-sys`'s build script and the linked binaries need.
    pub fn apply(&self, command: &mut Command) {
        let bin = self.venv.join("bin");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(&path));
        let mut libs = vec![self.lib_dir.clone()];
        if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
            libs.extend(std::env::split_paths(&existing));
        }
        command
            .env("LIBTORCH_USE_PYTORCH", "1")
            .env("VIRTUAL_ENV", &self.venv)
            .env(
                "PATH",
                std::env::join_paths(paths).unwrap_or_else(|_| path.clone()),
            )
            .env(
                "LD_LIBRARY_PATH",
                std::env::join_paths(libs).unwrap_or_default(),
            )
            .env_remove("LIBTORCH")
            .env_remove("LIBTORCH_BYPASS_VERSION_CHECK");
    }
}

/// What `python` in `venv` says about torch: `(version, lib dir)`.
fn probe(venv: &Path) -> Result<(String, PathBuf)> {
    let output = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import os, torch; print(torch.__version__); print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .with_context(|| format!("running {}/bin/python", venv.display()))?;
    if !output.status.success() {
        bail!(
            "torch does not import in {}: {}",
            venv.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let version = lines.next().unwrap_or_default().trim().to_string();
    let lib = PathBuf::from(lines.next().unwrap_or_default().trim());
    Ok((version, lib))
}

fn check_version(venv: &Path) -> Result<TorchEnv> {
    let (version, lib_dir) = probe(venv)?;
    let release = version.split('+').next().unwrap_or_default();
    if release != TORCH_VERSION {
        bail!(
            "{} has torch {version}; burn-tch 0.22 (torch-sys 0.22) needs exactly {TORCH_VERSION}",
            venv.display()
        );
    }
    if !lib_dir.join("libtorch_cpu.so").is_file() {
        bail!("{} has no libtorch_cpu.so", lib_dir.display());
    }
    Ok(TorchEnv {
        venv: venv.to_path_buf(),
        lib_dir,
    })
}

/// The torch environment: `$BERTFIT_TORCH_VENV`, else `<cache>/torch-2.9.0`, created on first use.
pub fn ensure_torch() -> Result<TorchEnv> {
    if let Some(venv) = std::env::var_os("BERTFIT_TORCH_VENV").filter(|v| !v.is_empty()) {
        let venv = PathBuf::from(venv);
        return check_version(&venv)
            .with_context(|| format!("BERTFIT_TORCH_VENV={}", venv.display()));
    }
    let venv = fixtures::bertfit_cache()?.join(format!("torch-{TORCH_VERSION}"));
    if venv.join("bin/python").is_file()
        && let Ok(env) = check_version(&venv)
    {
        eprintln!("torch {TORCH_VERSION} is ready in {}", venv.display());
        return Ok(env);
    }
    eprintln!(
        "installing torch=={TORCH_VERSION} from PyPI into {} (about 3.8 GiB, once)",
        venv.display()
    );
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .with_context(|| format!("removing the unusable {}", venv.display()))?;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv {} failed ({status})", venv.display());
    }
    if let Err(error) = pip_install(
        &venv.join("bin/python"),
        &[&format!("torch=={TORCH_VERSION}")],
    ) {
        // Leave nothing half-installed for the next run to trust.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(error);
    }
    check_version(&venv)
}

/// `python -m pip install <specs>`, quietly refusing to prompt.
pub fn pip_install(python: &Path, specs: &[&str]) -> Result<()> {
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(specs)
        .status()
        .with_context(|| format!("running {} -m pip install", python.display()))?;
    if !status.success() {
        bail!("pip install {} failed ({status})", specs.join(" "));
    }
    Ok(())
}
