//! `cargo xtask bench data`: load and shuffle timings for `bertfit-data` on IMDB-sized data.
//!
//! Runs the `bench_data` example of `bertfit-data` in release mode: it generates 25 000 reviews
//! (~1 300 characters each, the size of IMDB's train split) once into `--dir` as parquet, CSV,
//! JSONL and an `aclImdb` folder (25 000 files), then reports median times for parquet / CSV /
//! JSONL / aclImdb loading, `shuffle(42)`, `shuffle(42).select(0..500)` and
//! `train_test_split(0.2, 42)`. With `--python`, the same files are then timed with pandas and
//! `datasets` (`crates/data/examples/bench_data.py`), and both sides print the first rows that
//! `shuffle(42).select(..)` picks, which must agree.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Options of `cargo xtask bench data`.
#[derive(Debug, clap::Args)]
pub struct BenchDataArgs {
    /// Rows to generate (IMDB's train split has 25 000).
    #[arg(long, default_value_t = 25_000)]
    rows: usize,
    /// Timed runs per measurement; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Directory for the generated files (relative to the workspace root).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
    /// Also time pandas / `datasets` on the same files with this Python interpreter (it needs
    /// numpy, pandas, pyarrow and datasets).
    #[arg(long)]
    python: Option<PathBuf>,
}

/// Runs the benchmark from the workspace root.
pub fn run(args: &BenchDataArgs) -> Result<()> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir
        .parent()
        .with_context(|| format!("{} has no parent directory", manifest_dir.display()))?
        .to_path_buf();
    let dir = root.join(&args.dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut bench = Command::new(cargo);
    bench.current_dir(&root).args([
        "run",
        "--release",
        "-p",
        "bertfit-data",
        "--example",
        "bench_data",
        "--",
    ]);
    bench
        .arg("--dir")
        .arg(&dir)
        .args(["--rows", &args.rows.to_string()])
        .args(["--repeat", &args.repeat.to_string()]);
    check(
        bench.status(),
        "cargo run --release -p bertfit-data --example bench_data",
    )?;

    if let Some(python) = &args.python {
        println!();
        let mut py = Command::new(python);
        py.current_dir(&root)
            .arg(root.join("crates/data/examples/bench_data.py"))
            .arg("--dir")
            .arg(&dir)
            .args(["--repeat", &args.repeat.to_string()]);
        check(
            py.status(),
            &format!("{} crates/data/examples/bench_data.py", python.display()),
        )?;
    }
    Ok(())
}

fn check(status: std::io::Result<std::process::ExitStatus>, what: &str) -> Result<()> {
    let status = status.with_context(|| format!("could not start `{what}`"))?;
    if !status.success() {
        bail!("`{what}` failed ({status})");
    }
    Ok(())
}
