//! `bertfit`: fine-tune and use BERT sequence classifiers.
//!
//! This binary (with `xtask`) is the only place that names a concrete burn backend.

mod commands;
mod device;
mod hub_model;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "tch")]
mod tch_adamw;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc's malloc: burn's CPU backend frees and reallocates large tensors on
/// every op, and glibc hands those back to the kernel each time (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Fine-tune and use BERT-family text classifiers (Hugging Face checkpoints, burn backends).
///
/// The Python workflow it mirrors: load a dataset, `shuffle(seed).select(range(n))`, tokenize
/// with padding and truncation, fine-tune `AutoModelForSequenceClassification` with `Trainer`,
/// evaluate each epoch, `save_model`, reload and predict with softmax.
#[derive(Debug, Parser)]
#[command(name = "bertfit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print a backtrace with an error (as does BERTFIT_BACKTRACE=1); RUST_BACKTRACE alone
    /// does not, so that a developer's shell keeps user errors short.
    #[arg(long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fine-tune a model on a labelled dataset and save it (HF layout) with its metrics.
    Finetune(Box<commands::finetune::FinetuneArgs>),
    /// Score a saved model on a dataset split: loss, accuracy, precision, recall, specificity,
    /// F1, confusion matrix, ROC/AUC.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Classify texts (arguments, a file, or stdin) with softmax probabilities per label.
    Predict(commands::predict::PredictArgs),
    /// Inspect a dataset (splits, row counts, label counts, row N) and export the exact rows a
    /// run uses after `--shuffle-seed`/`--select`, with their source row index.
    Data(commands::data::DataCommandArgs),
    /// Describe a model directory: architecture, parameters, labels, max length, load report.
    Info {
        /// A directory with config.json and model.safetensors or pytorch_model.bin, or a Hub
        /// model id.
        model: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Fold a LoRA adapter into its base model (PEFT's merge_and_unload: W += scaling·B·A) and
    /// save a plain HF model directory.
    Merge(commands::merge::MergeArgs),
    /// Upload a model directory written by `finetune` to the Hugging Face Hub (model files,
    /// results, metrics and a generated model card; not the checkpoints). Reads HF_TOKEN and
    /// HF_ENDPOINT.
    Push(commands::push::PushArgs),
    /// Serve models over HTTP: TEI's POST /predict, the HF Inference API's POST / and
    /// /models/NAME, GET /health, /info and /metrics (Prometheus). Stops on SIGTERM or Ctrl-C
    /// after answering the requests in flight.
    #[cfg(feature = "serve")]
    Serve(Box<serve::ServeArgs>),
    /// Time one workload (train step, inference, tokenization) and print a JSON result: the
    /// Rust side of `cargo xtask bench`.
    Bench(commands::bench::BenchArgs),
}

/// Where the data comes from and which rows are used.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A local parquet/CSV/JSONL file or directory, an `aclImdb` folder, or a Hub dataset id
    /// (`imdb` means `stanfordnlp/imdb`).
    #[arg(long)]
    pub dataset: String,
    /// Column holding the text.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// Column holding the label (ids, or names such as pos/neg).
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// Skip rows with empty text instead of failing (the count is reported).
    #[arg(long)]
    pub drop_empty_text: bool,
}

/// Output format of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let backtrace = cli.verbose || std::env::var_os("BERTFIT_BACKTRACE").is_some_and(|v| v != "0");
    // anyhow captures a backtrace with every error when RUST_LIB_BACKTRACE (else RUST_BACKTRACE)
    // asks for one; decide it here, once, from bertfit's own switches. Panics keep following
    // RUST_BACKTRACE.
    #[allow(unsafe_code)]
    // SAFETY: the first statement after argument parsing, before any thread is spawned, so no
    // other thread can be reading the environment.
    unsafe {
        std::env::set_var("RUST_LIB_BACKTRACE", if backtrace { "1" } else { "0" });
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err, backtrace);
            ExitCode::FAILURE
        }
    }
}

/// Prints `Error: …`, then each cause, then the backtrace when one was asked for.
fn report(err: &anyhow::Error, backtrace: bool) {
    eprintln!("Error: {err}");
    // A cause whose text its error's message already holds (`cannot access x: No space left
    // on device`, then `No space left on device`) says nothing new.
    let mut said = err.to_string();
    let mut causes = Vec::new();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !said.contains(&text) {
            causes.push(text.clone());
        }
        said = text;
    }
    if !causes.is_empty() {
        eprintln!("\nCaused by:");
        for (i, cause) in causes.iter().enumerate() {
            eprintln!("    {i}: {cause}");
        }
    }
    if backtrace {
        eprintln!("\nBacktrace:\n{}", err.backtrace());
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Finetune(args) => commands::finetune::run(&args),
        Command::Evaluate(args) => commands::evaluate::run(&args),
        Command::Predict(args) => commands::predict::run(&args),
        Command::Data(args) => commands::data::run(&args),
        Command::Info { model, json } => commands::info::run(&model, json),
        Command::Merge(args) => commands::merge::run(&args),
        Command::Push(args) => commands::push::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&args),
    }
}
