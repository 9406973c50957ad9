//! `bertfit evaluate`: the full metrics report of a saved model on a dataset split.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::commands::{load_classifier, load_dataset, subset};
use crate::{DataArgs, Format, device};

/// Arguments of `bertfit evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A saved model directory (e.g. the output of `bertfit finetune`), or a Hub model id.
    #[arg(long)]
    pub model: String,
    /// The base model of a LoRA adapter --model (a directory or Hub id) [default: the
    /// adapter's base_model_name_or_path].
    #[arg(long)]
    pub base: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Split to score.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Score `shuffle(seed).select(range(N))` of the split.
    #[arg(long)]
    pub size: Option<usize>,
    /// Seed of the subset shuffle.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Truncate to this many tokens [default: the longest the model takes, e.g. BERT's
    /// max_position_embeddings].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Backend to run on.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Runs `bertfit evaluate`.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    let device = device::parse(&args.device)?;
    let classifier = load_classifier(
        &args.model,
        args.base.as_deref(),
        &device,
        "evaluate a fine-tuned model",
        args.batch_size,
        args.max_length,
    )?;
    let dict = load_dataset(&args.data, &[&args.split])?;
    let rows = subset(dict.split(&args.split)?, args.size, args.seed, "--size")?;
    let labels = classifier.labels();
    if dict.label_map().names() != labels {
        bail!(
            "the dataset's labels ({}) differ from the model's ({}); evaluate on data labelled like the training data",
            dict.label_map().names().join(", "),
            labels.join(", ")
        );
    }
    let data = classifier.encode(&rows.texts(), &rows.labels())?;
    let evaluation = classifier.evaluate(&data)?;
    let json = serde_json::Value::Object(evaluation.metrics());
    if let Some(path) = &args.output {
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match args.format {
        Format::Json => println!("{json}"),
        Format::Table => {
            println!(
                "eval_loss {:.4}  ({} rows of {} `{}`)",
                evaluation.loss,
                rows.len(),
                args.data.dataset,
                args.split
            );
            print!("{}", evaluation.report.table(labels));
        }
    }
    Ok(())
}
