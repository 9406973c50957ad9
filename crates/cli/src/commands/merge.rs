//! `bertfit merge`: fold a LoRA adapter into its base model (PEFT's `merge_and_unload`) and save
//! a plain Hugging Face model directory.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bertfit_model::SequenceClassifier;
use bertfit_tokenize::{Tokenizer, TokenizerConfig};
use clap::Args;

use crate::commands::load_adapter_model;

/// Arguments of `bertfit merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// A PEFT LoRA adapter directory (adapter_config.json, adapter_model.safetensors), e.g. the
    /// --output-dir of `bertfit finetune --lora-r …`.
    pub adapter_dir: PathBuf,
    /// The base model it was trained on, a directory or Hub id [default: the adapter's
    /// base_model_name_or_path].
    #[arg(long)]
    pub base: Option<String>,
    /// Where the merged model goes (config.json, model.safetensors, tokenizer files).
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Replace a model already in --output-dir.
    #[arg(long)]
    pub overwrite_output_dir: bool,
}

/// Runs `bertfit merge`.
pub fn run(args: &MergeArgs) -> Result<()> {
    let adapter = &args.adapter_dir;
    if !adapter
        .join(bertfit_model::peft::ADAPTER_CONFIG_FILE)
        .is_file()
    {
        bail!(
            "{} is not a LoRA adapter directory (no {}); pass the --output-dir of a `bertfit finetune --lora-r` run or a PEFT save_pretrained directory",
            adapter.display(),
            bertfit_model::peft::ADAPTER_CONFIG_FILE
        );
    }
    let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize())
    {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(adapter, &args.output_dir) {
        bail!("--output-dir is the adapter directory; write the merged model elsewhere");
    }
    if args
        .output_dir
        .join(bertfit_model::SAFETENSORS_FILE)
        .exists()
        && !args.overwrite_output_dir
    {
        bail!(
            "--output-dir {} already holds a model; pass --overwrite-output-dir to replace it, or choose another directory",
            args.output_dir.display()
        );
    }
    let device = burn::tensor::Device::flex();
    let (model, tokenizer_dir) = load_adapter_model(adapter, args.base.as_deref(), &device)?;
    // Read the tokenizer before writing anything, so a failure leaves no partial output.
    let tokenizer = Tokenizer::from_dir(&tokenizer_dir, TokenizerConfig::default())
        .with_context(|| format!("loading the tokenizer of {}", tokenizer_dir.display()))?;
    model
        .save_pretrained(&args.output_dir)
        .with_context(|| format!("saving the merged model to {}", args.output_dir.display()))?;
    tokenizer
        .save(&args.output_dir)
        .with_context(|| format!("saving the tokenizer to {}", args.output_dir.display()))?;
    println!(
        "merged {} into its base: {} ({} labels) saved to {}",
        adapter.display(),
        model.architecture(),
        model.num_labels(),
        args.output_dir.display()
    );
    Ok(())
}
