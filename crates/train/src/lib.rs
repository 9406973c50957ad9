//! Fine-tuning and using Hugging Face sequence classifiers (BERT, DistilBERT, RoBERTa,
//! XLM-RoBERTa, ELECTRA) with the `transformers` `Trainer` recipe, in burn.
//!
//! [`Trainer`] takes any [`SequenceClassifier`](bertfit_model::SequenceClassifier) (such as
//! [`AutoModelForSequenceClassification`](bertfit_model::AutoModelForSequenceClassification)),
//! a tokenized training set ([`EncodedDataset`]) and optionally an evaluation set, and runs the
//! recipe of `transformers.Trainer` with its defaults ([`TrainingConfig`]): AdamW (β 0.9/0.999,
//! ε 1e-8, decoupled weight decay off biases and LayerNorm weights), linear decay with warmup,
//! global-norm gradient clipping at 1.0, gradient accumulation, per-epoch or per-step
//! evaluation and checkpoints, best-model tracking and early stopping. Each evaluation reports
//! loss, accuracy, precision, recall, specificity, F1, the confusion matrix and the ROC curve
//! with its AUC ([`ClassificationReport`], checked against scikit-learn). Metrics are appended
//! to `metrics.jsonl` in the output directory; checkpoints are written atomically and a run
//! resumed from one ends with the same weights as an uninterrupted run.
//!
//! The loop is generic over a [`Task`] (burn-train's `TrainStep`/`ValidStep`: a batch's loss,
//! a dataset's evaluation, the label type and the metrics); [`SequenceClassification`] is the
//! one for a label per text. [`TextClassifier`] (tokenizer + model + label names) classifies
//! texts and text pairs, batched longest first, through the same core as [`evaluate()`].
//!
//! The crate names no backend: pass the [`Device`](burn::tensor::Device) to train on; the
//! trainer uses its autodiff form.
//!
//! ```no_run
//! use bertfit_model::{AutoModelForSequenceClassification, SequenceClassifier};
//! use bertfit_tokenize::{Tokenizer, TokenizerConfig};
//! use bertfit_train::{EncodedDataset, IntervalStrategy, Resume, Trainer, TrainingConfig};
//! use burn::tensor::Device;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = Device::default();
//! let (model, _) = AutoModelForSequenceClassification::from_pretrained("models/base", &device)?;
//! let tokenizer = Tokenizer::from_dir("models/base", TokenizerConfig::default())?;
//! let train = EncodedDataset::encode(&tokenizer, &["great film", "dull film"], &[1, 0], 128)?;
//! let eval = train.clone();
//! let config = TrainingConfig {
//!     num_train_epochs: 2.0,
//!     eval_strategy: IntervalStrategy::Epoch,
//!     output_dir: "models/sentiment".into(),
//!     ..TrainingConfig::default()
//! };
//! let output = Trainer::new(config, device)?.train(model, &train, Some(&eval), Resume::No)?;
//! println!("{:?}", output.metrics);
//! # Ok(())
//! # }
//! ```

mod batch;
mod checkpoint;
mod clip;
mod config;
mod error;
mod evaluate;
pub mod fault;
mod features;
mod inference;
mod lock;
mod log;
mod manifest;
pub mod metrics;
pub mod optim;
mod schedule;
mod task;
#[cfg(test)]
mod test_support;
mod trainer;

pub use batch::{
    BatchOptions, EncodedDataset, Example, HostBatch, SplitMix64, derive_seed, epoch_order,
    for_each_batch,
};
/// What partial fine-tuning freezes (`TrainingConfig::train_layers`), from the model crate.
pub use bertfit_model::{Freezing, TrainLayers};
pub use checkpoint::{Resume, TrainerState, commit_files, files, list_checkpoints};
pub use clip::clip_global_norm;
pub use config::{BatchPadding, IntervalStrategy, TrainingConfig};
pub use error::{Result, TrainError};
pub use evaluate::{Evaluation, evaluate, evaluate_on_head_inputs};
pub use features::HeadInputs;
pub use inference::{Prediction, TextClassifier, check_vocabulary, log_probabilities, logits};
pub use lock::{LOCK_FILE, OutputDirLock};
pub use manifest::{Damage, FileDigest, MANIFEST_FILE, Manifest};
pub use metrics::{ClassificationReport, RocCurve};
pub use optim::{AdamWStep, FusedAdamW, FusedTensors, HfAdamW, OptimizerKind, adamw};
pub use schedule::LinearSchedule;
pub use task::{EvalMetrics, SequenceClassification, Task};
pub use trainer::{TrainOutput, Trainer};

/// The crates this one builds on, re-exported for convenience.
pub use bertfit_model as model;
pub use bertfit_tokenize as tokenize;

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
