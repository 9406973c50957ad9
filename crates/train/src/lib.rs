//! Fine-tuning BERT classifiers with the Hugging Face `Trainer` recipe, in burn.
//!
//! [`Trainer`] takes a [`BertForSequenceClassification`](bertfit_model::BertForSequenceClassification),
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
//! The crate names no backend: pass the [`Device`](burn::tensor::Device) to train on; the
//! trainer uses its autodiff form.
//!
//! ```no_run
//! use bertfit_model::BertForSequenceClassification;
//! use bertfit_tokenize::{Tokenizer, TokenizerConfig};
//! use bertfit_train::{EncodedDataset, IntervalStrategy, Resume, Trainer, TrainingConfig};
//! use burn::tensor::Device;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = Device::default();
//! let (model, _) = BertForSequenceClassification::from_pretrained("models/base", &device)?;
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
mod clip;
mod config;
mod error;
mod log;
pub mod metrics;
pub mod optim;
mod schedule;
mod trainer;

pub use batch::{EncodedDataset, Example, HostBatch, SplitMix64, derive_seed, epoch_order};
pub use clip::clip_global_norm;
pub use config::{BatchPadding, IntervalStrategy, TrainingConfig};
pub use error::{Result, TrainError};
pub use metrics::{ClassificationReport, RocCurve};
pub use optim::{AdamWStep, FusedAdamW, FusedTensors, HfAdamW, OptimizerKind};
pub use schedule::LinearSchedule;
pub use trainer::{
    Evaluation, Resume, TrainOutput, Trainer, TrainerState, adamw, files, list_checkpoints,
};

/// The crates this one builds on, re-exported for convenience.
pub use bertfit_model as model;
pub use bertfit_tokenize as tokenize;

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
