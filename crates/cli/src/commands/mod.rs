//! One module per subcommand, and what they share.

pub mod bench;
pub mod data;
pub mod evaluate;
pub mod finetune;
pub mod info;
pub mod merge;
pub mod predict;
pub mod push;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bertfit_data::{DataError, DatasetDict, HubSource, LoadOptions, Source, TextDataset};
use bertfit_model::peft::{self, LoraConfig};
use bertfit_model::{
    AutoConfig, AutoModelForSequenceClassification, CONFIG_FILE, SequenceClassifier, find_weights,
};
use bertfit_tokenize::{Tokenizer, TokenizerConfig};
use bertfit_train::{BatchOptions, BatchPadding, TextClassifier};
use burn::tensor::Device;

use crate::DataArgs;

/// A data error in the terms of `bertfit`'s flags where the library's message names its own
/// options (`LoadOptions::text_column` → `--text-column`); `splits` as [`load_dataset`]'s.
fn in_cli_terms(err: DataError, splits: &[(&str, &str)]) -> anyhow::Error {
    let message = match &err {
        DataError::MissingColumn {
            path,
            column,
            role,
            found,
        } => format!(
            "{}: no column `{column}` for the {role}; columns found: [{}]; name the right one with --{role}-column",
            path.display(),
            found.join(", ")
        ),
        DataError::ColumnType {
            path,
            column,
            role,
            dtype,
            expected,
        } => format!(
            "{}: column `{column}` has type {dtype}; the {role} must be {expected}; name the right column with --{role}-column",
            path.display()
        ),
        DataError::EmptyText { path, row, kind } => format!(
            "{}: row {row} (0-based): the text is {kind}; fix the data, or pass --drop-empty-text to skip such rows (their count is reported)",
            path.display()
        ),
        DataError::MixedLabelTypes {
            path,
            column,
            int_example,
            name_example,
        } => format!(
            "{}: column `{column}` mixes integer labels (e.g. `{int_example}`) and label names (e.g. `{name_example}`); use one kind throughout (ids 0..n, or names)",
            path.display()
        ),
        DataError::UnknownSplit { split, available } => {
            let flag = splits
                .iter()
                .find(|(_, name)| name == split)
                .map_or("--split", |(flag, _)| flag);
            format!(
                "no split `{split}`; the splits are [{}]; choose one with {flag}",
                available.join(", ")
            )
        }
        _ => return err.into(),
    };
    // These variants carry no source of their own; the library's wording is replaced whole.
    anyhow::anyhow!(message)
}

/// Loads the dataset the user named (a local path, or a Hub dataset id): the given splits, or
/// all of them when `splits` is empty.
///
/// `splits` pairs each split's name with the flag that chose it (`("--eval-split", "test")`), so
/// that errors name the flag.
pub fn load_dataset(args: &DataArgs, splits: &[(&str, &str)]) -> Result<DatasetDict> {
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
        splits: (!splits.is_empty())
            .then(|| splits.iter().map(|(_, s)| (*s).to_string()).collect()),
        ..LoadOptions::default()
    };
    let dict = DatasetDict::load(&source, &options)
        .map_err(|err| in_cli_terms(err, splits))
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
/// error ("evaluate a fine-tuned model"). A PEFT LoRA adapter directory loads onto its base
/// model (`base`, else the adapter's `base_model_name_or_path`) and is merged. Returns the model
/// and the local directory holding its tokenizer.
pub fn load_trained_model(
    spec: &str,
    base: Option<&str>,
    device: &Device,
    purpose: &str,
) -> Result<(AutoModelForSequenceClassification, PathBuf)> {
    let model_dir = crate::hub_model::resolve_model(spec)?;
    if model_dir.join(peft::ADAPTER_CONFIG_FILE).is_file() {
        return load_adapter_model(&model_dir, base, device);
    }
    if let Some(base) = base {
        bail!(
            "--base {base} is for LoRA adapters, but {} holds a whole model (no {}); drop --base",
            model_dir.display(),
            peft::ADAPTER_CONFIG_FILE
        );
    }
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

/// The base model of the PEFT adapter in `adapter_dir`, with the adapter set and merged: its
/// classifier config (labels) from the adapter's `config.json` when there is one (bertfit
/// writes it), else the base's. Returns the model and the directory with the tokenizer (the
/// adapter's, else the base's).
pub fn load_adapter_model(
    adapter_dir: &Path,
    base: Option<&str>,
    device: &Device,
) -> Result<(AutoModelForSequenceClassification, PathBuf)> {
    let lora = LoraConfig::from_dir(adapter_dir)?;
    let base_spec = match (base, &lora.base_model_name_or_path) {
        (Some(base), _) => base.to_string(),
        (None, Some(base)) => base.clone(),
        (None, None) => bail!(
            "{} is a LoRA adapter without base_model_name_or_path; pass --base with the model it was trained on",
            adapter_dir.display()
        ),
    };
    let base_dir = crate::hub_model::resolve_model(&base_spec).with_context(|| {
        format!(
            "finding the base model `{base_spec}` of the adapter in {} (pass --base DIR for another copy of it)",
            adapter_dir.display()
        )
    })?;
    let config_dir = if adapter_dir.join(CONFIG_FILE).is_file() {
        adapter_dir
    } else {
        &base_dir
    };
    let config_path = config_dir.join(CONFIG_FILE);
    let config = AutoConfig::from_file(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let mut model = AutoModelForSequenceClassification::new(&config, device)?;
    let weights = find_weights(&base_dir)?;
    model
        .load_weights(&weights)
        .with_context(|| format!("loading the base model {}", weights.display()))?;
    let (model, _) = peft::load_adapter(model, adapter_dir).with_context(|| {
        format!(
            "loading the adapter in {} onto the base model {}",
            adapter_dir.display(),
            base_dir.display()
        )
    })?;
    let has_tokenizer = ["tokenizer.json", "vocab.txt", "tokenizer_config.json"]
        .iter()
        .any(|f| adapter_dir.join(f).is_file());
    let tokenizer_dir = if has_tokenizer {
        adapter_dir.to_path_buf()
    } else {
        base_dir
    };
    Ok((peft::merge_and_unload(model), tokenizer_dir))
}

/// [`load_trained_model`] with the tokenizer saved beside it, as a [`TextClassifier`] batching
/// `batch_size` texts (longest first) truncated to `max_length` (default: the model's longest).
pub fn load_classifier(
    spec: &str,
    base: Option<&str>,
    device: &Device,
    purpose: &str,
    batch_size: usize,
    max_length: Option<usize>,
) -> Result<TextClassifier<AutoModelForSequenceClassification>> {
    let (model, model_dir) = load_trained_model(spec, base, device, purpose)?;
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
            "{what} {n}: the split has {} rows; pass at most {}, or leave {what} out to use them all",
            split.len(),
            split.len()
        ),
        Some(n) => Ok(split.shuffle(seed).select(0..n)?),
        None => Ok(split.clone()),
    }
}
