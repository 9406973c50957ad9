//! `bertfit finetune`: the seed notebook's workflow in one command.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bertfit_model::peft::{self, LoraConfig, TargetModules};
use bertfit_model::{
    AutoConfig, AutoModelForSequenceClassification, CONFIG_FILE, SequenceClassifier, TrainLayers,
    find_weights,
};
use bertfit_tokenize::{Tokenizer, TokenizerConfig};
use bertfit_train::{
    BatchPadding, EncodedDataset, IntervalStrategy, OptimizerKind, Resume, TrainError, Trainer,
    TrainingConfig, check_vocabulary, commit_files, list_checkpoints,
};
use clap::Args;

use crate::DataArgs;
use crate::commands::{load_dataset, subset};
use crate::device;

/// Arguments of `bertfit finetune` (names follow HF's `TrainingArguments`).
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// A model directory (config.json, weights, tokenizer files) or a Hub model id such as
    /// `bert-base-cased` (downloaded into the Hugging Face cache).
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Split to train on.
    #[arg(long, default_value = "train")]
    pub train_split: String,
    /// Split to evaluate on.
    #[arg(long, default_value = "test")]
    pub eval_split: String,
    /// Train on `shuffle(seed).select(range(N))` of the training split.
    #[arg(long)]
    pub train_size: Option<usize>,
    /// Evaluate on `shuffle(seed).select(range(N))` of the evaluation split.
    #[arg(long)]
    pub eval_size: Option<usize>,
    /// Seed of the subset shuffles, data order, dropout and new weights.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Seed of the subset shuffles alone (`dataset.shuffle(seed=S)` before `--train-size` /
    /// `--eval-size`) [default: --seed]: keeps the notebook's rows while --seed varies the run.
    #[arg(long)]
    pub shuffle_seed: Option<u64>,
    /// Truncate (and with `--padding max_length`, pad) to this many tokens [default: the
    /// longest the model takes, e.g. BERT's max_position_embeddings].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// `max_length` pads every sequence (the notebook's choice); `longest` pads each batch to
    /// its longest sequence, much faster on short texts.
    #[arg(long, value_enum, default_value = "max-length")]
    pub padding: PaddingArg,
    /// Where the fine-tuned model, checkpoints and metrics go.
    #[arg(long, default_value = "models/sentiment-classifier")]
    pub output_dir: PathBuf,
    /// Continue from the newest checkpoint in --output-dir.
    #[arg(long)]
    pub resume: bool,
    /// Replace an --output-dir that already holds a model or checkpoints.
    #[arg(long)]
    pub overwrite_output_dir: bool,
    /// Backend to run on.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// A TrainingConfig JSON file to start from (flags below override it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Epochs to train.
    #[arg(long)]
    pub num_train_epochs: Option<f64>,
    /// Stop after this many optimizer steps (overrides epochs).
    #[arg(long)]
    pub max_steps: Option<i64>,
    /// Peak learning rate [default: 5e-5].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Training batch size [default: 8].
    #[arg(long)]
    pub per_device_train_batch_size: Option<usize>,
    /// Evaluation batch size [default: 8].
    #[arg(long)]
    pub per_device_eval_batch_size: Option<usize>,
    /// Micro-batches per optimizer step [default: 1].
    #[arg(long)]
    pub gradient_accumulation_steps: Option<usize>,
    /// AdamW weight decay [default: 0].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Warmup steps [default: 0].
    #[arg(long)]
    pub warmup_steps: Option<usize>,
    /// Warmup as a fraction of all steps [default: 0].
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    /// Global gradient-norm clipping [default: 1.0; 0 disables].
    #[arg(long)]
    pub max_grad_norm: Option<f64>,
    /// How AdamW runs [default: adamw-torch-fused on CPU devices (cpu, tch), adamw-torch on GPUs
    /// (cuda, wgpu)]: one fused pass over each weight in host memory, or tensor operations on
    /// the device. Both compute torch's AdamW update.
    #[arg(long, value_enum)]
    pub optim: Option<OptimArg>,
    /// When to evaluate [default: epoch].
    #[arg(long, value_enum)]
    pub eval_strategy: Option<StrategyArg>,
    /// Evaluate every N steps with `--eval-strategy steps`.
    #[arg(long)]
    pub eval_steps: Option<usize>,
    /// When to checkpoint [default: epoch].
    #[arg(long, value_enum)]
    pub save_strategy: Option<StrategyArg>,
    /// Checkpoint every N steps with `--save-strategy steps`.
    #[arg(long)]
    pub save_steps: Option<usize>,
    /// Keep at most N checkpoints.
    #[arg(long)]
    pub save_total_limit: Option<usize>,
    /// Log the training loss every N steps [default: 10].
    #[arg(long)]
    pub logging_steps: Option<usize>,
    /// Reload the best checkpoint at the end.
    #[arg(long)]
    pub load_best_model_at_end: bool,
    /// Metric deciding the best checkpoint (loss, accuracy, f1, roc_auc, …).
    #[arg(long)]
    pub metric_for_best_model: Option<String>,
    /// Stop after N evaluations without improvement.
    #[arg(long)]
    pub early_stopping_patience: Option<usize>,
    /// Batch texts of similar length together (with `--padding longest`).
    #[arg(long)]
    pub group_by_length: bool,
    /// Which encoder layers train [default: all]: `all` (full fine-tuning), `head` (feature
    /// extraction: only the head, i.e. the classifier with BERT's pooler or DistilBERT's
    /// pre-classifier, on a frozen encoder) or `last:N` (the last N encoder layers and the
    /// head). Frozen layers get no gradient and no optimizer state and run as at inference.
    #[arg(long, value_name = "all|head|last:N")]
    pub train_layers: Option<TrainLayers>,
    /// Freeze the embeddings (implied by `--train-layers head` and `last:N`).
    #[arg(long)]
    pub freeze_embeddings: bool,
    /// With `--train-layers head`, run the frozen encoder at every step as HF's Trainer does,
    /// instead of computing its output once per example and training the head on that.
    #[arg(long)]
    pub no_feature_cache: bool,
    /// Train LoRA adapters of this rank (PEFT's `r`) on a frozen base instead of the whole
    /// model; the classifier head trains in full (PEFT's `modules_to_save`). --output-dir then
    /// holds a PEFT adapter (adapter_config.json, adapter_model.safetensors).
    #[arg(long)]
    pub lora_r: Option<usize>,
    /// LoRA scaling numerator: updates are scaled by alpha / r [default: 8, PEFT's].
    #[arg(long, requires = "lora_r")]
    pub lora_alpha: Option<f64>,
    /// Dropout on the LoRA input in training, PEFT's `lora_dropout` [default: 0, PEFT's].
    #[arg(long, requires = "lora_r")]
    pub lora_dropout: Option<f64>,
    /// Linear layers that get adapters, comma-separated, or `all-linear` [default: PEFT's for
    /// the architecture: query,value for BERT/RoBERTa/XLM-R/ELECTRA, q_lin,v_lin for
    /// DistilBERT].
    #[arg(long, requires = "lora_r", value_delimiter = ',')]
    pub lora_target_modules: Vec<String>,
    /// rsLoRA: scale by alpha / √r.
    #[arg(long, requires = "lora_r")]
    pub use_rslora: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `--padding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaddingArg {
    /// Pad every sequence to --max-length.
    MaxLength,
    /// Pad each batch to its longest sequence.
    Longest,
}

/// `--optim` (HF's `optim` values, with dashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimArg {
    /// One fused pass over each weight in host memory (CPU devices).
    AdamwTorchFused,
    /// Separate tensor operations on the device (GPU devices).
    AdamwTorch,
}

impl From<OptimArg> for OptimizerKind {
    fn from(o: OptimArg) -> Self {
        match o {
            OptimArg::AdamwTorchFused => Self::AdamwTorchFused,
            OptimArg::AdamwTorch => Self::AdamwTorch,
        }
    }
}

/// `--eval-strategy` / `--save-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// Never.
    No,
    /// Every N steps.
    Steps,
    /// Every epoch.
    Epoch,
}

impl From<StrategyArg> for IntervalStrategy {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::No => Self::No,
            StrategyArg::Steps => Self::Steps,
            StrategyArg::Epoch => Self::Epoch,
        }
    }
}

/// The TrainingConfig the flags describe.
fn training_config(args: &FinetuneArgs) -> Result<TrainingConfig> {
    let mut c = match &args.config {
        Some(path) => TrainingConfig::from_file(path)
            .with_context(|| format!("reading --config {}", path.display()))?,
        None => TrainingConfig {
            // The notebook's Trainer: evaluate each epoch, 2 epochs; saving each epoch.
            num_train_epochs: 2.0,
            eval_strategy: IntervalStrategy::Epoch,
            save_strategy: IntervalStrategy::Epoch,
            logging_steps: 10,
            ..TrainingConfig::default()
        },
    };
    c.output_dir = args.output_dir.clone();
    c.seed = args.seed;
    c.max_length = args.max_length.or(c.max_length);
    c.padding = match args.padding {
        PaddingArg::MaxLength => BatchPadding::MaxLength,
        PaddingArg::Longest => BatchPadding::Longest,
    };
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = args.$field { c.$field = v.into(); } )* };
    }
    set!(
        num_train_epochs,
        max_steps,
        learning_rate,
        per_device_train_batch_size,
        per_device_eval_batch_size,
        gradient_accumulation_steps,
        weight_decay,
        warmup_steps,
        warmup_ratio,
        max_grad_norm,
        eval_strategy,
        save_strategy,
        save_steps,
        logging_steps
    );
    if args.eval_steps.is_some() {
        c.eval_steps = args.eval_steps;
    }
    if args.save_total_limit.is_some() {
        c.save_total_limit = args.save_total_limit;
    }
    if args.metric_for_best_model.is_some() {
        c.metric_for_best_model = args.metric_for_best_model.clone();
    }
    if args.early_stopping_patience.is_some() {
        c.early_stopping_patience = args.early_stopping_patience;
    }
    // --optim, else the --config file's `optim`, else the device's kind.
    let optim_in_file = match &args.config {
        Some(path) => std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|v| v.get("optim").is_some()),
        None => false,
    };
    match args.optim {
        Some(optim) => c.optim = optim.into(),
        None if optim_in_file => {}
        None => c.optim = device::default_optimizer(&args.device),
    }
    if let Some(layers) = args.train_layers {
        c.train_layers = layers;
    }
    c.freeze_embeddings |= args.freeze_embeddings;
    c.feature_cache &= !args.no_feature_cache;
    if let Some(r) = args.lora_r {
        let mut lora = LoraConfig::new(r, args.lora_alpha.unwrap_or(8.0), Vec::new());
        lora.lora_dropout = args.lora_dropout.unwrap_or(0.0);
        lora.use_rslora = args.use_rslora;
        lora.base_model_name_or_path = Some(args.model.clone());
        if args
            .lora_target_modules
            .iter()
            .any(|t| t == TargetModules::ALL_LINEAR)
        {
            lora.target_modules = TargetModules::Pattern(TargetModules::ALL_LINEAR.into());
        } else {
            // Empty until the model is known: its architecture's default.
            lora.target_modules = TargetModules::Names(args.lora_target_modules.clone());
        }
        if r == 0 {
            bail!("--lora-r 0: the rank must be at least 1 (8 or 16 are common)");
        }
        if !(0.0..1.0).contains(&lora.lora_dropout) {
            bail!(
                "--lora-dropout {}: the dropout probability must be in [0, 1) (0.05 or 0.1 are common)",
                lora.lora_dropout
            );
        }
        if c.freezing().freezes_anything() {
            bail!(
                "--lora-r freezes the base model already; drop --train-layers / --freeze-embeddings, or train without LoRA"
            );
        }
        c.lora = Some(lora);
    }
    c.load_best_model_at_end |= args.load_best_model_at_end;
    c.group_by_length |= args.group_by_length;
    c.progress_bar = !args.no_progress;
    // A LoRA config whose target modules are the architecture's default is validated once the
    // model is known (in `run`).
    if !c
        .lora
        .as_ref()
        .is_some_and(|l| l.target_modules == TargetModules::Names(Vec::new()))
    {
        c.validate().map_err(in_flag_terms)?;
    }
    Ok(c)
}

/// `(field, flag)` for every `TrainingConfig` field a `finetune` flag sets: the flags are named
/// after the fields (HF's `TrainingArguments` keys), read from the parser itself so that no flag
/// can be renamed without its errors following; the LoRA settings are `--lora-r` and company.
fn flags_of_fields() -> Vec<(String, String)> {
    let command = FinetuneArgs::augment_args(clap::Command::new("finetune"));
    let mut pairs: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .map(|long| (long.replace('-', "_"), format!("--{long}")))
        .chain([("lora".to_string(), "--lora-r".to_string())])
        .collect();
    // Longest first, so that a field never has its tail replaced as a shorter field's name.
    pairs.sort_by_key(|(field, _)| std::cmp::Reverse(field.len()));
    pairs
}

/// A config error in the flags' terms: `per_device_train_batch_size` must be at least 1 →
/// --per-device-train-batch-size must be at least 1.
fn in_flag_terms(err: TrainError) -> anyhow::Error {
    if let TrainError::ResumeMismatch {
        checkpoint,
        checkpoint_steps,
        steps,
        changed,
    } = &err
    {
        return resume_mismatch_in_flag_terms(checkpoint, *checkpoint_steps, *steps, changed);
    }
    let TrainError::InvalidConfig { field, message } = &err else {
        return err.into();
    };
    let pairs = flags_of_fields();
    let Some((_, flag)) = pairs.iter().find(|(f, _)| f == field) else {
        return err.into();
    };
    let mut message = message.clone();
    for (field, flag) in pairs.iter().filter(|(f, _)| f.contains('_')) {
        message = message.replace(field.as_str(), flag);
    }
    anyhow::anyhow!("{flag} {message}")
}

/// A `--resume` of a run of another length, with the flags that differ from the checkpoint's.
fn resume_mismatch_in_flag_terms(
    checkpoint: &Path,
    checkpoint_steps: usize,
    steps: usize,
    changed: &[(String, String, String)],
) -> anyhow::Error {
    let pairs = flags_of_fields();
    let flag = |field: &str| {
        pairs
            .iter()
            .find(|(f, _)| f == field)
            .map_or_else(|| field.to_string(), |(_, flag)| flag.clone())
    };
    let fix = if changed.is_empty() {
        "the flags that set its length agree, so the training data changed: resume with the same --dataset and --train-size".to_string()
    } else {
        let list: Vec<String> = changed
            .iter()
            .map(|(field, then, now)| format!("{} was {then} and is {now}", flag(field)))
            .collect();
        format!(
            "{}; resume with the values it was started with",
            list.join(", ")
        )
    };
    anyhow::anyhow!(
        "--resume: {} belongs to a run of {checkpoint_steps} steps but these flags and data make {steps}; {fix}",
        checkpoint.display()
    )
}

/// Refuses to overwrite finished work unless asked to.
fn check_output_dir(dir: &Path, resume: bool, overwrite: bool) -> Result<()> {
    // Found now, not after loading and tokenizing: a file where a directory must be.
    if let Some(file) = dir.ancestors().find(|a| a.exists() && !a.is_dir()) {
        bail!(
            "--output-dir {}: {} is a file, not a directory; choose another --output-dir",
            dir.display(),
            file.display()
        );
    }
    if resume && !dir.exists() {
        bail!(
            "--resume: {} does not exist, so there is no checkpoint to resume from; start without --resume",
            dir.display()
        );
    }
    if resume || overwrite || !dir.exists() {
        return Ok(());
    }
    let has_model =
        dir.join("model.safetensors").exists() || dir.join(peft::ADAPTER_WEIGHTS_FILE).exists();
    let checkpoints = list_checkpoints(dir)?;
    if has_model || !checkpoints.is_empty() {
        bail!(
            "--output-dir {} already holds {}; pass --resume to continue it, --overwrite-output-dir to replace it, or choose another directory",
            dir.display(),
            if has_model { "a model" } else { "checkpoints" }
        );
    }
    Ok(())
}

/// The model's config with the dataset's labels (unless the checkpoint already has them).
fn relabel(mut model_config: AutoConfig, label_names: &[String]) -> Result<AutoConfig> {
    let current = model_config.pretrained().labels()?;
    if current != label_names {
        if current.len() == label_names.len() && !current.iter().all(|l| l.starts_with("LABEL_")) {
            eprintln!("relabelling the head {current:?} → {label_names:?} (from the dataset)");
        }
        model_config.set_labels(label_names);
    }
    Ok(model_config)
}

/// The model's `config.json`, refusing a `--max-length` longer than the model takes.
fn read_model_config(model_dir: &Path, max_length: Option<usize>) -> Result<AutoConfig> {
    let config_path = model_dir.join(CONFIG_FILE);
    let model_config = AutoConfig::from_file(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let spec = model_config.input_spec();
    if let Some(n) = max_length.filter(|&n| n > spec.max_length) {
        bail!(
            "--max-length {n} exceeds the model's {} ({}); pass at most {}",
            spec.max_length_key,
            spec.max_length,
            spec.max_length
        );
    }
    Ok(model_config)
}

/// Runs `bertfit finetune`.
pub fn run(args: &FinetuneArgs) -> Result<()> {
    let device = device::parse(&args.device)?;
    let mut config = training_config(args)?;
    check_output_dir(&args.output_dir, args.resume, args.overwrite_output_dir)?;
    let model_dir = crate::hub_model::resolve_model(&args.model)?;
    let model_config = read_model_config(&model_dir, config.max_length)?;

    // Data: the notebook's shuffle(seed=42).select(range(n)) on both splits.
    let dict = load_dataset(
        &args.data,
        &[
            ("--train-split", &args.train_split),
            ("--eval-split", &args.eval_split),
        ],
    )?;
    let shuffle_seed = args.shuffle_seed.unwrap_or(args.seed);
    let train_rows = subset(
        dict.split(&args.train_split)?,
        args.train_size,
        shuffle_seed,
        "--train-size",
    )?;
    let eval_rows = subset(
        dict.split(&args.eval_split)?,
        args.eval_size,
        shuffle_seed,
        "--eval-size",
    )?;
    let label_names = dict.label_map().names().to_vec();
    let shuffled = if args.train_size.is_some() || args.eval_size.is_some() {
        format!(" after shuffle(seed={shuffle_seed})")
    } else {
        String::new()
    };
    eprintln!(
        "data: {} train / {} eval rows{shuffled} from {} (labels: {})",
        train_rows.len(),
        eval_rows.len(),
        args.data.dataset,
        label_names.join(", ")
    );

    // Model: the head takes the dataset's labels unless the checkpoint already has them.
    let model_config = relabel(model_config, &label_names)?;
    device.seed(args.seed);
    let mut model = AutoModelForSequenceClassification::new(&model_config, &device)?;
    let weights = find_weights(&model_dir)?;
    let report = model
        .load_weights(&weights)
        .with_context(|| format!("loading {}", weights.display()))?;
    eprintln!("model: {report}");
    let layers = model.encoder_parts().layers.len();
    if config.freezing().frozen_layers(layers).is_err() {
        bail!(
            "--train-layers {}: the model has {layers} encoder layers; use last:1 to last:{layers}, head or all",
            config.train_layers
        );
    }

    if let Some(lora) = &mut config.lora
        && lora.target_modules == TargetModules::Names(Vec::new())
    {
        let defaults = model.hf_keys().default_lora_target_modules();
        lora.target_modules =
            TargetModules::Names(defaults.iter().map(|s| (*s).to_string()).collect());
    }
    if let Some(lora) = &config.lora {
        config.validate().map_err(in_flag_terms)?;
        // The targets must exist: fail now, in the flags' terms, not after loading the data.
        if let Err(err) = peft::check_config(&model, lora) {
            bail!("--lora-target-modules: {err}");
        }
    }

    let spec = model.input_spec();
    let max_length = config.max_length.unwrap_or(spec.max_length);
    let tokenizer = Tokenizer::from_dir(
        &model_dir,
        TokenizerConfig::default().with_max_length(max_length),
    )
    .with_context(|| format!("loading the tokenizer of {}", model_dir.display()))?;
    check_vocabulary(&tokenizer, &spec).with_context(|| {
        format!(
            "pairing the model in {} with its tokenizer",
            model_dir.display()
        )
    })?;
    let encode = |rows: &bertfit_data::TextDataset| {
        EncodedDataset::encode(&tokenizer, &rows.texts(), &rows.labels(), max_length)
    };
    let train = encode(&train_rows).context("tokenizing the training split")?;
    let eval = encode(&eval_rows).context("tokenizing the evaluation split")?;

    let mut trainer = Trainer::new(config, device).map_err(in_flag_terms)?;
    if let Some(kernel) = device::fused_adamw(&args.device) {
        trainer = trainer.with_fused_adamw(kernel);
    }
    let resume = if args.resume {
        Resume::Latest
    } else {
        Resume::No
    };
    // The trainer holds --output-dir's lock (in `output`) until the files below are written.
    let output = trainer
        .train(model, &train, Some(&eval), resume)
        .map_err(in_flag_terms)?;

    // The last (or, with --load-best-model-at-end, the best) epoch's evaluation is of the saved
    // model already; evaluate again only when this process made none of it (e.g. after --resume).
    let evaluation = match &output.evaluation {
        Some(evaluation) => evaluation.clone(),
        None => trainer.evaluate(&output.model, &eval)?,
    };
    let mut results = evaluation.metrics();
    results.insert("epoch".into(), serde_json::json!(output.state.epoch));
    commit_files(&args.output_dir, |tmp| -> Result<()> {
        tokenizer
            .save(tmp)
            .with_context(|| format!("saving the tokenizer to {}", args.output_dir.display()))?;
        for (name, value) in [
            ("eval_results.json", &results),
            ("train_results.json", &output.metrics),
        ] {
            std::fs::write(tmp.join(name), serde_json::to_string_pretty(value)?)
                .with_context(|| format!("writing {}", args.output_dir.join(name).display()))?;
        }
        Ok(())
    })?;

    println!("{}", serde_json::Value::Object(output.metrics.clone()));
    println!("{}", evaluation.report.table(&label_names));
    println!("saved to {}", args.output_dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_flags_that_set_the_fields() {
        let err = in_flag_terms(TrainError::InvalidConfig {
            field: "per_device_train_batch_size".into(),
            message: "must be at least 1 (as gradient_accumulation_steps)".into(),
        });
        assert_eq!(
            err.to_string(),
            "--per-device-train-batch-size must be at least 1 (as --gradient-accumulation-steps)"
        );
        let lora = in_flag_terms(TrainError::InvalidConfig {
            field: "lora".into(),
            message: "is set together with train_layers / freeze_embeddings".into(),
        });
        assert_eq!(
            lora.to_string(),
            "--lora-r is set together with --train-layers / --freeze-embeddings"
        );
    }

    #[test]
    fn a_resume_of_another_length_names_the_flags_that_changed() {
        let err = in_flag_terms(TrainError::ResumeMismatch {
            checkpoint: PathBuf::from("run/checkpoint-4"),
            checkpoint_steps: 4,
            steps: 8,
            changed: vec![("num_train_epochs".into(), "1.0".into(), "2.0".into())],
        });
        assert_eq!(
            err.to_string(),
            "--resume: run/checkpoint-4 belongs to a run of 4 steps but these flags and data make 8; --num-train-epochs was 1.0 and is 2.0; resume with the values it was started with"
        );
    }
}
