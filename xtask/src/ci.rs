//! `cargo xtask ci`: the CI pipeline, run by `.ci/run` and by hand before pushing.
//!
//! One build serves every step: clippy and the tests compile the whole workspace once, with the
//! backend features (`tch,wgpu`), so the flex tests, the libtorch and wgpu parity tests and the
//! CLI's end-to-end tests share one compile of burn and polars (CI measured 53 of its 83 minutes
//! in a second, feature-changed build before this).
//!
//! Steps, in order, failing fast:
//!
//! 1. `fmt` — `cargo fmt --all -- --check`
//! 2. `torch` — PyPI torch 2.9.0 in the cache ([`torch::ensure_torch`]), the libtorch that the
//!    `tch` feature links against
//! 3. `fixtures` — the pretrained checkpoint, as `cargo xtask fixtures` ([`fixtures::ensure_minilm`])
//! 4. `clippy` — `cargo clippy --workspace --all-targets --features <backends> -- -D warnings`
//! 5. `test` — `cargo test --workspace --features <backends>` with `BERTFIT_MINILM_DIR` set to
//!    that checkpoint and `BERTFIT_SKIP_REAL_WEIGHTS` removed, so tests on real weights can never
//!    be skipped here. `tests/backends.rs` runs libtorch and wgpu (Vulkan; Mesa's lavapipe,
//!    which `.ci/run` installs) against `transformers` and flex.
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

    let total = 3 + if args.skip_lint { 0 } else { 2 };
    let mut report = Report::new(total);
    if !args.skip_lint {
        report.step("fmt", || {
            run_command(cargo(&["fmt", "--all", "--", "--check"]))
        })?;
    }
    let torch = report.step("torch", torch::ensure_torch)?;
    let minilm = report.step("fixtures", fixtures::ensure_minilm)?;
    if !args.skip_lint {
        report.step("clippy", || {
            let mut clippy = cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                BACKEND_FEATURES,
                "--",
                "-D",
                "warnings",
            ]);
            torch.apply(&mut clippy);
            run_command(clippy)
        })?;
    }
    report.step("test", || {
        let mut test = cargo(&["test", "--workspace", "--features", BACKEND_FEATURES]);
        torch.apply(&mut test);
        test.env("BERTFIT_MINILM_DIR", &minilm)
            .env_remove("BERTFIT_SKIP_REAL_WEIGHTS");
        run_command(test)
    })?;
    report.summary();
    Ok(())
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
