//! `bertfit bench`: the Rust side of `cargo xtask bench`.
//!
//! Each workload runs in its own process, times `--warmup` untimed and then `--iters` timed
//! iterations, and prints one JSON object on stdout: the per-iteration seconds, the throughput
//! and the process's peak resident memory. `xtask/bench/reference.py` prints the same object for
//! transformers + PyTorch on the same workload, so the two are compared row by row.
//!
//! - `train-step`: forward + backward + AdamW step of the model (any supported architecture) on
//!   a batch of random token ids (all attended), dropout on, samples/second.
//! - `inference`: what `bertfit predict` runs per batch, in eval mode on such a batch (input
//!   checked and moved to the device, forward pass), logits read back, sequences/second.
//! - `tokenize`: the `text` column of a parquet/CSV/JSONL file through the model's tokenizer,
//!   truncated and padded to `--seq`, texts/second.
//! - `texts`: writes the IMDB-sized generated reviews the tokenize row reads.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bertfit_data::{Source, TextDataset};
use bertfit_model::{
    AutoConfig, AutoModelForSequenceClassification, Freezing, InputSpec, SequenceClassifier,
    TrainLayers,
    peft::{self, LoraConfig},
    trainable_parameters,
};
use bertfit_tokenize::{PaddingStrategy, Tokenizer, TokenizerConfig};
use bertfit_train::{HostBatch, SplitMix64, TrainingConfig};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde_json::{Value, json};

/// `bertfit bench <workload>`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Debug, clap::Subcommand)]
enum Workload {
    /// Forward + backward + AdamW step, samples/second.
    TrainStep(ModelArgs),
    /// Forward pass in eval mode, sequences/second.
    Inference(ModelArgs),
    /// Tokenize a file's `text` column with padding and truncation to `--seq`, texts/second.
    Tokenize(TokenizeArgs),
    /// Write `--rows` generated IMDB-length reviews (seeded) to a parquet file.
    Texts {
        /// Output parquet file.
        #[arg(long)]
        out: PathBuf,
        /// Number of reviews (IMDB's train split has 25 000).
        #[arg(long, default_value_t = 25_000)]
        rows: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// The model, the batch shape and the iteration counts of a model workload.
#[derive(Debug, clap::Args)]
struct ModelArgs {
    /// A model directory with pretrained weights (config.json + model.safetensors).
    #[arg(long, conflicts_with = "config", required_unless_present = "config")]
    model: Option<PathBuf>,
    /// A `config.json`: the model is built from it with random (HF-initialised) weights.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Sequence length of every row (no padding: every token is attended).
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Rows per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed iterations.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Seed of the weights (with --config), the token ids and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Device (cpu, tch, cuda[:N], wgpu; see `bertfit finetune --help`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// AdamW implementation of `train-step` [default: the device's, as `bertfit finetune`].
    #[arg(long, value_enum)]
    optim: Option<crate::commands::finetune::OptimArg>,
    /// `train-step` only: which encoder layers train, as `bertfit finetune --train-layers`.
    #[arg(long, default_value = "all", value_name = "all|head|last:N")]
    train_layers: TrainLayers,
    /// `train-step` only: LoRA adapters of this rank on the architecture's default target
    /// modules (PEFT's `get_peft_model`, dropout 0), as `bertfit finetune --lora-r`; the base is
    /// frozen and the head trains in full.
    #[arg(long, conflicts_with = "train_layers")]
    lora_r: Option<usize>,
    /// `train-step` only: LoRA's alpha (scaling alpha / r).
    #[arg(long, default_value_t = 16.0, requires = "lora_r")]
    lora_alpha: f64,
}

#[derive(Debug, clap::Args)]
struct TokenizeArgs {
    /// A directory with tokenizer.json (or vocab.txt).
    #[arg(long)]
    tokenizer: PathBuf,
    /// A parquet/CSV/JSONL file with a `text` column.
    #[arg(long)]
    texts: PathBuf,
    /// Truncation and padding length.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Untimed passes first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed passes over all texts.
    #[arg(long, default_value_t = 3)]
    iters: usize,
}

/// Runs the workload and prints its JSON result on stdout.
pub fn run(args: &BenchArgs) -> Result<()> {
    let result = match &args.workload {
        Workload::TrainStep(m) => train_step(m)?,
        Workload::Inference(m) => inference(m)?,
        Workload::Tokenize(t) => tokenize(t)?,
        Workload::Texts { out, rows, seed } => {
            let dataset = bertfit_data::generate::generate_dataset(*rows, *seed);
            dataset
                .write_parquet(out)
                .with_context(|| format!("writing {}", out.display()))?;
            json!({"workload": "texts", "rows": rows, "out": out})
        }
    };
    println!("{result}");
    Ok(())
}

fn load_model(args: &ModelArgs, device: &Device) -> Result<AutoModelForSequenceClassification> {
    // Seeds random weights, and the freshly initialised classifier of a checkpoint without one.
    device.seed(args.seed);
    match (&args.model, &args.config) {
        (Some(dir), _) => {
            let (model, _report) = AutoModelForSequenceClassification::from_pretrained(dir, device)
                .with_context(|| format!("loading the model in {}", dir.display()))?;
            Ok(model)
        }
        (None, Some(path)) => {
            let config = AutoConfig::from_file(path)
                .with_context(|| format!("reading the model config {}", path.display()))?;
            Ok(AutoModelForSequenceClassification::new(&config, device)?)
        }
        (None, None) => bail!("give --model DIR or --config FILE"),
    }
}

/// A `[batch, seq]` batch of random ids (all attended) and random binary labels.
fn random_batch(args: &ModelArgs, spec: &InputSpec) -> Result<HostBatch> {
    if args.seq > spec.max_length || args.seq < 2 {
        bail!(
            "--seq {} must be between 2 and the model's {} ({})",
            args.seq,
            spec.max_length_key,
            spec.max_length
        );
    }
    let mut rng = SplitMix64::new(args.seed);
    // Ordinary word pieces: skip the first 1 000 ids ([PAD], [unused…], [CLS], …).
    let low = 1_000.min(spec.vocab_size - 1);
    let input_ids: Vec<i64> = (0..args.batch * args.seq)
        .map(|_| (low + rng.below(spec.vocab_size - low)) as i64)
        .collect();
    let labels = (0..args.batch).map(|_| rng.below(2) as i64).collect();
    Ok(HostBatch {
        attention_mask: vec![1; input_ids.len()],
        token_type_ids: vec![0; input_ids.len()],
        input_ids,
        labels,
        shape: [args.batch, args.seq],
    })
}

fn train_step(args: &ModelArgs) -> Result<Value> {
    let device = crate::device::parse(&args.device)?;
    let model = load_model(args, &device)?;
    let ad_device = device.autodiff();
    let model = model.to_device(&ad_device).train();
    let parts = model.encoder_parts();
    let freezing = Freezing {
        train_layers: args.train_layers,
        freeze_embeddings: false,
    };
    let mut model = freezing.apply(model, parts).context("--train-layers")?;
    if let Some(r) = args.lora_r {
        let targets = model.hf_keys().default_lora_target_modules();
        let targets = targets.iter().map(|s| (*s).to_string()).collect();
        let lora = LoraConfig::new(r, args.lora_alpha, targets);
        model = peft::get_peft_model(model, &lora).context("--lora-r")?;
    }
    let (trainable_parameters, _) = trainable_parameters(&model);
    let (input, labels) =
        random_batch(args, &model.input_spec())?.to_tensors(&model, &ad_device)?;
    // The optimizer `bertfit finetune` trains with (HF's parameter groups, weight decay 0.01
    // off biases and LayerNorm weights), fused on CPU devices.
    let config = TrainingConfig {
        weight_decay: 0.01,
        optim: args.optim.map_or_else(
            || crate::device::default_optimizer(&args.device),
            Into::into,
        ),
        ..TrainingConfig::default()
    };
    let mut optimizer =
        bertfit_train::adamw(&config, &model, crate::device::fused_adamw(&args.device));
    let mut seconds = Vec::with_capacity(args.iters);
    let mut losses = Vec::with_capacity(args.iters);
    // Per-iteration seconds of forward (loss read back), backward and optimizer step: where a
    // step's time goes. The device is synchronised after each, so the phases add up to the step.
    let mut phases = [(); 3].map(|_| Vec::with_capacity(args.iters));
    let sync = |device: &Device| {
        device
            .sync()
            .map_err(|e| anyhow::anyhow!("waiting for the device: {e:?}"))
    };
    for i in 0..args.warmup + args.iters {
        let started = Instant::now();
        ad_device.seed(args.seed.wrapping_add(i as u64));
        let output = model.forward(input.clone(), Some(labels.clone()));
        let loss = output.loss.context("the model returned no loss")?;
        let value = loss
            .clone()
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .map_err(|e| anyhow::anyhow!("reading the loss: {e:?}"))?[0];
        let forward = started.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync(&ad_device)?;
        let backward = started.elapsed().as_secs_f64();
        model = optimizer.step(2e-5, model, grads);
        // Wait for the updated weights: GPU backends run asynchronously.
        sync(&ad_device)?;
        let total = started.elapsed().as_secs_f64();
        if i >= args.warmup {
            seconds.push(total);
            losses.push(value);
            for (phase, value) in
                phases
                    .iter_mut()
                    .zip([forward, backward - forward, total - backward])
            {
                phase.push(value);
            }
        }
    }
    let [forward, backward, optimizer] = phases;
    Ok(report(
        "train_step",
        args,
        &seconds,
        json!({
            "loss": losses,
            "phases": {"forward": forward, "backward": backward, "optimizer": optimizer},
            "train_layers": args.train_layers.to_string(),
            "lora_r": args.lora_r.unwrap_or(0),
            "trainable_parameters": trainable_parameters,
        }),
    ))
}

/// Inference as `bertfit predict` runs it per batch ([`bertfit_train::logits`]: the host batch
/// checked and moved to the device, one forward pass), logits read back.
fn inference(args: &ModelArgs) -> Result<Value> {
    let device = crate::device::parse(&args.device)?;
    let model = load_model(args, &device)?;
    let batch = random_batch(args, &model.input_spec())?;
    let mut seconds = Vec::with_capacity(args.iters);
    let mut checksum = 0.0;
    for i in 0..args.warmup + args.iters {
        let started = Instant::now();
        let values = bertfit_train::logits(&model, &batch, &device)?
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .map_err(|e| anyhow::anyhow!("reading the logits: {e:?}"))?;
        if i >= args.warmup {
            seconds.push(started.elapsed().as_secs_f64());
            checksum = values.iter().sum::<f64>();
        }
    }
    Ok(report(
        "inference",
        args,
        &seconds,
        json!({"logits_sum": checksum}),
    ))
}

fn report(workload: &str, args: &ModelArgs, seconds: &[f64], extra: Value) -> Value {
    let mut extra = extra;
    if let Value::Object(map) = &mut extra {
        map.insert("device".into(), json!(args.device));
        if workload == "train_step" {
            let optim = args.optim.map_or_else(
                || crate::device::default_optimizer(&args.device),
                Into::into,
            );
            map.insert("optim".into(), json!(optim.as_str()));
        }
        map.insert("batch".into(), json!(args.batch));
    }
    timings(workload, args.seq, args.batch, seconds, extra)
}

/// The fields every workload reports: its timings, throughput (`items` per iteration), peak RSS
/// and thread count, plus the workload's own `extra` fields.
fn timings(workload: &str, seq: usize, items: usize, seconds: &[f64], extra: Value) -> Value {
    let total: f64 = seconds.iter().sum();
    let mut value = json!({
        "workload": workload,
        "impl": "bertfit",
        "seq": seq,
        "iters": seconds.len(),
        "seconds": seconds,
        "items_per_second": (items * seconds.len()) as f64 / total,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": threads(),
    });
    if let (Value::Object(map), Value::Object(more)) = (&mut value, extra) {
        map.extend(more);
    }
    value
}

fn tokenize(args: &TokenizeArgs) -> Result<Value> {
    let source = Source::from_path(&args.texts)
        .with_context(|| format!("reading {}", args.texts.display()))?;
    let dict = bertfit_data::DatasetDict::load_default(&source)
        .with_context(|| format!("loading {}", args.texts.display()))?;
    let split: &TextDataset = dict
        .iter()
        .next()
        .map(|(_, split)| split)
        .with_context(|| format!("{} holds no rows", args.texts.display()))?;
    let texts = split.texts();
    let config = TokenizerConfig::default()
        .with_max_length(args.seq)
        .with_padding(PaddingStrategy::MaxLength);
    let tokenizer = Tokenizer::from_dir(&args.tokenizer, config)
        .with_context(|| format!("loading the tokenizer in {}", args.tokenizer.display()))?;
    let mut seconds = Vec::with_capacity(args.iters);
    let mut tokens = 0usize;
    for i in 0..args.warmup + args.iters {
        let started = Instant::now();
        let encoding = tokenizer.encode_batch(&texts)?;
        if i >= args.warmup {
            seconds.push(started.elapsed().as_secs_f64());
            tokens = encoding
                .attention_mask
                .iter()
                .map(|row| row.iter().filter(|&&m| m == 1).count())
                .sum();
        }
    }
    Ok(timings(
        "tokenize",
        args.seq,
        texts.len(),
        &seconds,
        json!({"texts": texts.len(), "attended_tokens": tokens}),
    ))
}

/// `VmHWM` of this process (Linux), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn threads() -> Option<usize> {
    std::env::var("RAYON_NUM_THREADS").ok()?.parse().ok()
}
