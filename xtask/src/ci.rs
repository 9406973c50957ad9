//! `cargo xtask ci`: the CI pipeline, run by `.ci/run` and by hand before pushing.
//!
//! One build serves every step: the workspace compiles once, with the backend features
//! (`tch,wgpu`), so the flex tests, the libtorch and wgpu parity tests and the CLI's end-to-end
//! tests share one compile of burn and polars (CI measured 53 of its 83 minutes in a second,
//! feature-changed build before this). Clippy lints inside that build: `clippy-driver`, the compiler
//! `cargo clippy` runs, is the test build's compiler for the workspace's own crates
//! (`RUSTC_WORKSPACE_WRAPPER`, as `cargo clippy` sets it), so the dependencies are not compiled a
//! second time in check mode (21.5 of CI's 76 minutes from an empty cache before this).
//!
//! Steps, in order, failing fast:
//!
//! 1. `fmt` — `cargo fmt --all -- --check`
//! 2. `torch` — PyPI torch 2.9.0 in the cache ([`torch::ensure_torch`]), the libtorch that the
//!    `tch` feature links against
//! 3. `fixtures` — the pretrained checkpoint, as `cargo xtask fixtures` ([`fixtures::ensure_minilm`])
//! 4. `build` — `cargo test --workspace --all-targets --features <backends> --no-run --timings`
//!    under clippy with `-D warnings`: every lint `cargo clippy --all-targets` reports fails it.
//!    The timings report is `$CARGO_TARGET_DIR/cargo-timings/cargo-timing.html`.
//! 5. `test` — `cargo test --workspace --features <backends>` (the same compiler settings, so
//!    nothing is rebuilt) with `BERTFIT_MINILM_DIR` set to that checkpoint and
//!    `BERTFIT_SKIP_REAL_WEIGHTS` removed, so tests on real weights can never be skipped here.
//!    `tests/backends.rs` runs libtorch and wgpu (Vulkan; Mesa's lavapipe, which `.ci/run`
//!    installs) against `transformers` and flex.
//! 6. `no-hub` — `cargo test -p bertfit-hub --no-default-features`: the Hub crate without its
//!    client, as the demo's binary has it (the cache answers offline; every request says how to
//!    rebuild). A few small crates only.
//!
//! Each step is announced with a header and reports its own time; a table of all step times and the
//! total wall time closes the run, whether it passed or not.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{fixtures, torch};

/// The backend features every CI build compiles with (one feature set: one build).
pub const BACKEND_FEATURES: &str = "bertfit-cli/tch,bertfit-cli/wgpu";

/// Options of `cargo xtask ci`.
#[derive(Debug, clap::Args)]
pub struct CiArgs {
    /// Skip the `fmt` and `clippy` steps (for quick local iteration; CI never passes this).
    #[arg(long)]
    skip_lint: bool,
}

/// Runs the pipeline from the workspace root.
pub fn run(args: &CiArgs) -> Result<()> {
    let root = workspace_root()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let cargo = |args: &[&str]| {
        let mut command = Command::new(&cargo);
        command.current_dir(&root).args(args);
        command
    };

    let total = 5 + usize::from(!args.skip_lint);
    let mut report = Report::new(total);
    if !args.skip_lint {
        report.step("fmt", || {
            run_command(cargo(&["fmt", "--all", "--", "--check"]))
        })?;
    }
    let torch = report.step("torch", torch::ensure_torch)?;
    let minilm = report.step("fixtures", fixtures::ensure_minilm)?;
    let clippy = if args.skip_lint {
        None
    } else {
        Some(Clippy::locate(&root)?)
    };
    let compiler = |command: &mut Command| {
        torch.apply(command);
        if let Some(clippy) = &clippy {
            clippy.apply(command);
        }
    };
    report.step("build", || {
        let mut build = cargo(&[
            "test",
            "--workspace",
            "--all-targets",
            "--features",
            BACKEND_FEATURES,
            "--no-run",
            "--timings",
        ]);
        compiler(&mut build);
        run_command(build)
    })?;
    report.step("test", || {
        let mut test = cargo(&["test", "--workspace", "--features", BACKEND_FEATURES]);
        compiler(&mut test);
        test.env("BERTFIT_MINILM_DIR", &minilm)
            .env_remove("BERTFIT_SKIP_REAL_WEIGHTS");
        run_command(test)
    })?;
    report.step("no-hub", || {
        let mut test = cargo(&["test", "-p", "bertfit-hub", "--no-default-features"]);
        compiler(&mut test);
        run_command(test)
    })?;
    report.summary();
    Ok(())
}

/// Clippy as the compiler of the workspace's own crates, the way `cargo clippy` runs it, with
/// `-D warnings`: dependencies are compiled by rustc as usual, and a lint fails the crate's build.
struct Clippy {
    /// `clippy-driver` of the toolchain that builds the workspace.
    driver: PathBuf,
}

impl Clippy {
    /// `clippy-driver` in the sysroot of the toolchain pinned for `root`.
    fn locate(root: &Path) -> Result<Self> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
        let output = Command::new(&rustc)
            .current_dir(root)
            .args(["--print", "sysroot"])
            .output()
            .context("running `rustc --print sysroot`")?;
        if !output.status.success() {
            bail!("`rustc --print sysroot` failed ({})", output.status);
        }
        let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let driver = sysroot
            .join("bin")
            .join(format!("clippy-driver{}", std::env::consts::EXE_SUFFIX));
        if !driver.is_file() {
            bail!(
                "{} is missing: install clippy with `rustup component add clippy` (rust-toolchain.toml lists it)",
                driver.display()
            );
        }
        Ok(Self { driver })
    }

    /// Makes `command` (a cargo build) lint the workspace's crates as it compiles them.
    fn apply(&self, command: &mut Command) {
        command
            .env("RUSTC_WORKSPACE_WRAPPER", &self.driver)
            .env("CLIPPY_ARGS", clippy_args(&["-D", "warnings"]));
    }
}

/// `args` in the form `cargo clippy` hands them to `clippy-driver` (`CLIPPY_ARGS`).
fn clippy_args(args: &[&str]) -> String {
    args.iter()
        .map(|arg| format!("{arg}__CLIPPY_HACKERY__"))
        .collect()
}

/// The workspace root: the parent of this crate's manifest directory. Prefers the value cargo
/// sets when running the binary over the one baked in at compile time, in case a shared target
/// directory holds a binary built from another checkout.
pub fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir
        .parent()
        .with_context(|| format!("{} has no parent directory", manifest_dir.display()))?;
    if !root.join("Cargo.toml").is_file() {
        bail!(
            "no Cargo.toml in {}, the expected workspace root",
            root.display()
        );
    }
    Ok(root.to_path_buf())
}

/// Runs `command` with inherited stdio after echoing it; fails unless it exits successfully.
fn run_command(mut command: Command) -> Result<()> {
    let line = command_line(&command);
    println!("$ {line}");
    let status = command
        .status()
        .with_context(|| format!("starting `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// `command` as one shell-like line, with the program shortened to its file name.
fn command_line(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(program)
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Timings of the steps run so far.
struct Report {
    /// Wall-clock start of the whole pipeline.
    started: Instant,
    /// Number of steps this run will attempt, for the `[n/total]` headers.
    total: usize,
    /// `(name, time, passed)` for each finished step.
    steps: Vec<(&'static str, Duration, bool)>,
}

impl Report {
    fn new(total: usize) -> Self {
        Self {
            started: Instant::now(),
            total,
            steps: Vec::new(),
        }
    }

    /// Runs one step under a header and records its time. On failure prints the summary and
    /// returns the error with the step's name attached.
    fn step<T>(&mut self, name: &'static str, run: impl FnOnce() -> Result<T>) -> Result<T> {
        println!("\n==> [{}/{}] {name}", self.steps.len() + 1, self.total);
        let started = Instant::now();
        let result = run();
        let elapsed = started.elapsed();
        self.steps.push((name, elapsed, result.is_ok()));
        match result {
            Ok(value) => {
                println!("==> {name} passed in {}", seconds(elapsed));
                Ok(value)
            }
            Err(err) => {
                println!("==> {name} FAILED after {}", seconds(elapsed));
                self.summary();
                Err(err.context(format!("ci step `{name}` failed")))
            }
        }
    }

    /// Prints the table of step times and the total wall time.
    fn summary(&self) {
        let passed = self.steps.iter().all(|&(_, _, ok)| ok);
        println!("\n==> ci summary");
        println!("  {:<10} {:<8} {:>10}", "step", "result", "time");
        for &(name, elapsed, ok) in &self.steps {
            let result = if ok { "ok" } else { "FAILED" };
            println!("  {name:<10} {result:<8} {:>10}", seconds(elapsed));
        }
        let verdict = if passed { "ok" } else { "FAILED" };
        println!(
            "  {:<10} {verdict:<8} {:>10}",
            "total",
            seconds(self.started.elapsed())
        );
    }
}

/// `elapsed` as seconds with one decimal, e.g. `12.3s`.
fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_shortens_the_program() {
        let mut command = Command::new("/opt/rust/bin/cargo");
        command.args(["fmt", "--all", "--", "--check"]);
        assert_eq!(command_line(&command), "cargo fmt --all -- --check");
    }

    #[test]
    fn seconds_has_one_decimal() {
        assert_eq!(seconds(Duration::from_millis(12_345)), "12.3s");
    }

    /// What a scratch crate's build under `Clippy` gave.
    struct ScratchBuild {
        /// Whether cargo exited successfully.
        succeeded: bool,
        /// Whether the crate's rlib was written.
        rlib_written: bool,
        /// Cargo's and clippy's diagnostics.
        stderr: String,
    }

    /// A scratch crate with `lib`, built by cargo with [`Clippy::apply`] into its own target dir.
    fn build_under_clippy(lib: &str) -> Result<ScratchBuild> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
        )?;
        std::fs::create_dir(dir.path().join("src"))?;
        std::fs::write(dir.path().join("src/lib.rs"), lib)?;
        let root = workspace_root()?;
        let clippy = Clippy::locate(&root)?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut build = Command::new(cargo);
        build
            .current_dir(dir.path())
            .args(["build", "--offline", "--quiet"])
            .env("CARGO_TARGET_DIR", dir.path().join("target"));
        clippy.apply(&mut build);
        let output = build.output()?;
        Ok(ScratchBuild {
            succeeded: output.status.success(),
            rlib_written: dir.path().join("target/debug/libscratch.rlib").is_file(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    #[test]
    fn the_build_fails_on_a_clippy_lint_and_compiles_clean_code() -> Result<()> {
        let linted = build_under_clippy("pub fn len(v: &Vec<u8>) -> usize { v.len() }\n")?;
        assert!(!linted.succeeded, "a clippy lint passed: {}", linted.stderr);
        assert!(
            linted.stderr.contains("clippy::ptr_arg"),
            "{}",
            linted.stderr
        );
        let clean = build_under_clippy("pub fn len(v: &[u8]) -> usize { v.len() }\n")?;
        assert!(clean.succeeded, "{}", clean.stderr);
        assert!(clean.rlib_written, "no rlib was written");
        Ok(())
    }

    #[test]
    fn failed_step_names_itself() {
        let mut report = Report::new(1);
        let err = report
            .step("lint", || -> Result<()> { bail!("boom") })
            .err();
        let message = err.map(|e| format!("{e:#}")).unwrap_or_default();
        assert_eq!(message, "ci step `lint` failed: boom");
        assert_eq!(report.steps.len(), 1);
    }
}
