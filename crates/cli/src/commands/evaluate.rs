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
    let dict = load_dataset(&args.data, &[("--split", &args.split)])?;
    let rows = subset(dict.split(&args.split)?, args.size, args.seed, "--size")?;
    let labels = classifier.labels();
    let by_id = dict
        .label_map()
        .names()
        .iter()
        .enumerate()
        .all(|(i, name)| *name == format!("LABEL_{i}"));
    if by_id {
        // Integer labels in the file: ids into the model's labels, as transformers takes them.
        if let Some(row) = rows.iter().find(|r| r.label >= labels.len() as i64) {
            let known: Vec<String> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{i} {l}"))
                .collect();
            bail!(
                "row {} (0-based) of split `{}` has label {}, outside the model's {} labels ({}); fix the data or --label-column, or evaluate a model trained on these labels",
                row.source_index,
                args.split,
                row.label,
                labels.len(),
                known.join(", ")
            );
        }
    } else if dict.label_map().names() != labels {
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
