//! One module per subcommand, and what they share.

pub mod bench;
pub mod data;
pub mod evaluate;
pub mod finetune;
pub mod info;
pub mod predict;
pub mod push;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bertfit_data::{DatasetDict, HubSource, LoadOptions, Source, TextDataset};
use bertfit_model::{AutoModelForSequenceClassification, SequenceClassifier};
use bertfit_tokenize::{Tokenizer, TokenizerConfig};
use bertfit_train::{BatchOptions, BatchPadding, TextClassifier};
use burn::tensor::Device;

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

/// Loads a fine-tuned classifier of any supported architecture from a directory or Hub id
/// (`spec`) onto `device`, refusing a checkpoint without a trained head; `purpose` completes the
/// error ("evaluate a fine-tuned model"). Returns the model and its local directory (for the
/// tokenizer).
pub fn load_trained_model(
    spec: &str,
    device: &Device,
    purpose: &str,
) -> Result<(AutoModelForSequenceClassification, PathBuf)> {
    let model_dir = crate::hub_model::resolve_model(spec)?;
    let (model, report) =
        AutoModelForSequenceClassification::from_pretrained(&model_dir, device)
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

/// [`load_trained_model`] with the tokenizer saved beside it, as a [`TextClassifier`] batching
/// `batch_size` texts (longest first) truncated to `max_length` (default: the model's longest).
pub fn load_classifier(
    spec: &str,
    device: &Device,
    purpose: &str,
    batch_size: usize,
    max_length: Option<usize>,
) -> Result<TextClassifier<AutoModelForSequenceClassification>> {
    let (model, model_dir) = load_trained_model(spec, device, purpose)?;
    let tokenizer = Tokenizer::from_dir(&model_dir, TokenizerConfig::default())
        .with_context(|| format!("loading the tokenizer of {}", model_dir.display()))?;
    let options = BatchOptions {
        batch_size: batch_size.max(1),
        padding: BatchPadding::Longest,
        max_length,
    };
    let classifier = TextClassifier::new(model, tokenizer, device.clone())
        .and_then(|c| c.with_options(options))
        .with_context(|| {
            format!(
                "pairing the model in {} with its tokenizer",
                model_dir.display()
            )
        })?;
    Ok(classifier)
}

/// `owner/name` with no path-like parts and no data-file extension.
fn is_hub_id(name: &str) -> bool {
    let data_file = [".parquet", ".csv", ".tsv", ".json", ".jsonl"]
        .iter()
        .any(|e| name.ends_with(e));
    bertfit_hub::RepoId::parse_owned(name).is_ok() && !data_file
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
