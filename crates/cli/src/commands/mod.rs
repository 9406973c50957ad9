//! One module per subcommand, and what they share.

pub mod bench;
pub mod data;
pub mod evaluate;
pub mod finetune;
pub mod info;
pub mod predict;
pub mod push;

use std::path::Path;

use anyhow::{Context, Result, bail};
use bertfit_data::{DatasetDict, HubSource, LoadOptions, Source, TextDataset};

use crate::DataArgs;

/// Loads the dataset the user named (a local path, or a Hub dataset id): the given splits, or
/// all of them when `splits` is empty.
pub fn load_dataset(args: &DataArgs, splits: &[&str]) -> Result<DatasetDict> {
    let path = Path::new(&args.dataset);
    let source = if path.exists() {
        Source::from_path(path).with_context(|| format!("reading {}", path.display()))?
    } else if args.dataset == "imdb" || args.dataset == "stanfordnlp/imdb" {
        Source::imdb()
    } else if is_hub_id(&args.dataset) {
        Source::Hub(HubSource::new(&args.dataset))
    } else {
        bail!(
            "--dataset {}: no such file or directory, and not a Hub dataset id (owner/name, or `imdb`)",
            args.dataset
        );
    };
    let options = LoadOptions {
        text_column: args.text_column.clone(),
        label_column: args.label_column.clone(),
        drop_empty_text: args.drop_empty_text,
        splits: (!splits.is_empty()).then(|| splits.iter().map(|s| (*s).to_string()).collect()),
        ..LoadOptions::default()
    };
    let dict = DatasetDict::load(&source, &options)
        .with_context(|| format!("loading dataset {}", args.dataset))?;
    for (name, split) in dict.iter() {
        if split.info().skipped_empty > 0 {
            eprintln!(
                "{name}: skipped {} rows with empty text",
                split.info().skipped_empty
            );
        }
    }
    Ok(dict)
}

/// Loads a fine-tuned classifier from a directory or Hub id (`spec`) onto `device`, refusing a
/// checkpoint without a trained head; `purpose` completes the error ("evaluate a fine-tuned
/// model"). Returns the model and its local directory (for the tokenizer).
pub fn load_trained_model(
    spec: &str,
    device: &burn::tensor::Device,
    purpose: &str,
) -> Result<(
    bertfit_model::BertForSequenceClassification,
    std::path::PathBuf,
)> {
    let model_dir = crate::hub_model::resolve_model(spec)?;
    let (model, report) =
        bertfit_model::BertForSequenceClassification::from_pretrained(&model_dir, device)
            .with_context(|| format!("loading the model in {}", model_dir.display()))?;
    if !report.missing.is_empty() {
        bail!(
            "{} has no trained classifier ({} missing); {purpose}",
            model_dir.display(),
            report.missing.join(", ")
        );
    }
    Ok((model, model_dir))
}

/// `owner/name` with no path-like parts and no data-file extension.
fn is_hub_id(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let valid = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    let data_file = [".parquet", ".csv", ".tsv", ".json", ".jsonl"]
        .iter()
        .any(|e| name.ends_with(e));
    parts.len() == 2 && parts.iter().all(|p| valid(p)) && !data_file
}

/// `shuffle(seed).select(range(size))` when a size is given, else the split as is.
pub fn subset(
    split: &TextDataset,
    size: Option<usize>,
    seed: u64,
    what: &str,
) -> Result<TextDataset> {
    match size {
        Some(n) if n > split.len() => bail!(
            "{what}: asked for {n} rows but the split has {}; lower the size",
            split.len()
        ),
        Some(n) => Ok(split.shuffle(seed).select(0..n)?),
        None => Ok(split.clone()),
    }
}
