//! [`TrainingConfig`]: HF `TrainingArguments` with HF's names and defaults.

use std::path::{Path, PathBuf};

use bertfit_model::peft::LoraConfig;
use bertfit_model::{Freezing, TrainLayers};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::OptimizerKind;

/// When to evaluate, save or log (HF's `IntervalStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IntervalStrategy {
    /// Never.
    #[default]
    No,
    /// Every `*_steps` optimizer steps.
    Steps,
    /// At the end of every epoch.
    Epoch,
}

/// How a batch is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BatchPadding {
    /// Every sequence padded to `max_length` (the HF notebook's `padding="max_length"`).
    #[default]
    MaxLength,
    /// Each batch padded to its longest sequence (HF's `DataCollatorWithPadding`).
    Longest,
}

/// Hyper-parameters of a fine-tuning run, named and defaulted like HF's `TrainingArguments`.
///
/// Serialized as JSON beside every checkpoint (`training_config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingConfig {
    /// Where checkpoints, metrics and the final model go.
    pub output_dir: PathBuf,
    /// Peak learning rate of AdamW.
    pub learning_rate: f64,
    /// Decoupled weight decay, applied to every parameter but biases and LayerNorm weights.
    pub weight_decay: f64,
    /// AdamW β₁.
    pub adam_beta1: f64,
    /// AdamW β₂.
    pub adam_beta2: f64,
    /// AdamW ε.
    pub adam_epsilon: f64,
    /// Clip the global gradient norm to this (0 disables).
    pub max_grad_norm: f64,
    /// How AdamW runs (HF's `optim`): `adamw_torch_fused`, one pass over each parameter on the
    /// host (the default, for CPU devices), or `adamw_torch`, tensor operations on the device
    /// (for GPUs).
    pub optim: OptimizerKind,
    /// Epochs to train (fractional values train part of the last epoch).
    pub num_train_epochs: f64,
    /// When > 0, the number of optimizer steps to take, overriding `num_train_epochs`.
    pub max_steps: i64,
    /// Linear warmup steps (take precedence over `warmup_ratio` when > 0).
    pub warmup_steps: usize,
    /// Warmup as a fraction of the total steps.
    pub warmup_ratio: f64,
    /// Training batch size.
    pub per_device_train_batch_size: usize,
    /// Evaluation batch size.
    pub per_device_eval_batch_size: usize,
    /// Micro-batches whose gradients are summed before each optimizer step.
    pub gradient_accumulation_steps: usize,
    /// Seed of initialisation, data order and dropout.
    pub seed: u64,
    /// When to evaluate.
    pub eval_strategy: IntervalStrategy,
    /// Evaluate every this many steps (`eval_strategy = "steps"`); defaults to `logging_steps`.
    pub eval_steps: Option<usize>,
    /// When to write a checkpoint.
    pub save_strategy: IntervalStrategy,
    /// Save every this many steps (`save_strategy = "steps"`).
    pub save_steps: usize,
    /// Keep at most this many checkpoints (the best one is always kept).
    pub save_total_limit: Option<usize>,
    /// Reload the best checkpoint when training ends.
    pub load_best_model_at_end: bool,
    /// Metric deciding "best": `"loss"`, `"accuracy"`, `"f1"`, … (with or without `eval_`).
    pub metric_for_best_model: Option<String>,
    /// Whether a larger metric is better (default: false for loss, true otherwise).
    pub greater_is_better: Option<bool>,
    /// Stop after this many evaluations without improvement (HF's `EarlyStoppingCallback`).
    pub early_stopping_patience: Option<usize>,
    /// Log the training loss every this many optimizer steps.
    pub logging_steps: usize,
    /// Padding of training and evaluation batches.
    pub padding: BatchPadding,
    /// Truncation and `max_length` padding length (default: the model's
    /// `max_position_embeddings`).
    pub max_length: Option<usize>,
    /// Batch examples of similar length together (HF's `group_by_length`).
    pub group_by_length: bool,
    /// Drop the last incomplete batch of an epoch.
    pub dataloader_drop_last: bool,
    /// Visit training examples in a seeded random order each epoch (`false`: dataset order,
    /// e.g. to reproduce a reference run batch for batch).
    pub shuffle: bool,
    /// Show a progress bar on stderr.
    pub progress_bar: bool,
    /// Which encoder layers train (`"all"`, `"head"` for feature extraction, `"last:N"`); the
    /// rest of the encoder is frozen, and the head always trains. See [`Freezing`].
    pub train_layers: TrainLayers,
    /// Freeze the embeddings (implied by `train_layers` `"head"` and `"last:N"`).
    pub freeze_embeddings: bool,
    /// With `train_layers` `"head"`: compute the frozen encoder's output for each example once
    /// and train and evaluate the head alone on it ([`HeadInputs`](crate::HeadInputs)), so
    /// epochs cost only the head. `false` runs the encoder at every step, as HF's `Trainer`
    /// does. Ignored for other `train_layers`.
    pub feature_cache: bool,
    /// LoRA in PEFT's format: when set, the model trains adapters (and its head) only, and
    /// checkpoints and the final save are PEFT adapter directories (`adapter_config.json`,
    /// `adapter_model.safetensors`). Not combined with `train_layers` / `freeze_embeddings`.
    pub lora: Option<LoraConfig>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            output_dir: PathBuf::from("trainer_output"),
            learning_rate: 5e-5,
            weight_decay: 0.0,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            max_grad_norm: 1.0,
            optim: OptimizerKind::default(),
            num_train_epochs: 3.0,
            max_steps: -1,
            warmup_steps: 0,
            warmup_ratio: 0.0,
            per_device_train_batch_size: 8,
            per_device_eval_batch_size: 8,
            gradient_accumulation_steps: 1,
            seed: 42,
            eval_strategy: IntervalStrategy::No,
            eval_steps: None,
            save_strategy: IntervalStrategy::Steps,
            save_steps: 500,
            save_total_limit: None,
            load_best_model_at_end: false,
            metric_for_best_model: None,
            greater_is_better: None,
            early_stopping_patience: None,
            logging_steps: 500,
            padding: BatchPadding::MaxLength,
            max_length: None,
            group_by_length: false,
            dataloader_drop_last: false,
            shuffle: true,
            progress_bar: true,
            train_layers: TrainLayers::All,
            freeze_embeddings: false,
            feature_cache: true,
            lora: None,
        }
    }
}

impl TrainingConfig {
    /// Reads a config saved as JSON.
    ///
    /// # Errors
    /// [`TrainError::Io`] or [`TrainError::Json`] naming the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|source| TrainError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The metric that decides the best checkpoint, without its `eval_` prefix.
    pub fn best_metric(&self) -> String {
        let name = self.metric_for_best_model.as_deref().unwrap_or("loss");
        name.strip_prefix("eval_").unwrap_or(name).to_string()
    }

    /// Whether larger values of [`Self::best_metric`] are better.
    pub fn greater_is_better(&self) -> bool {
        self.greater_is_better
            .unwrap_or_else(|| !self.best_metric().ends_with("loss"))
    }

    /// What [`train_layers`](Self::train_layers) and
    /// [`freeze_embeddings`](Self::freeze_embeddings) freeze.
    pub fn freezing(&self) -> Freezing {
        Freezing {
            train_layers: self.train_layers,
            freeze_embeddings: self.freeze_embeddings,
        }
    }

    /// Whether the run caches the frozen encoder's outputs: `train_layers` `"head"` with
    /// [`feature_cache`](Self::feature_cache) set.
    pub fn caches_features(&self) -> bool {
        self.feature_cache && self.train_layers == TrainLayers::Head && self.lora.is_none()
    }

    /// Evaluation interval in steps for `eval_strategy = "steps"`.
    pub fn eval_interval(&self) -> usize {
        self.eval_steps.unwrap_or(self.logging_steps).max(1)
    }

    /// Checks values that would make training meaningless or crash.
    ///
    /// # Errors
    /// [`TrainError::InvalidConfig`] naming the field and the fix.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: &str, message: String| {
            Err(TrainError::InvalidConfig {
                field: field.to_string(),
                message,
            })
        };
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return invalid(
                "learning_rate",
                format!("is {}; it must be >= 0", self.learning_rate),
            );
        }
        for (field, value) in [
            (
                "per_device_train_batch_size",
                self.per_device_train_batch_size,
            ),
            (
                "per_device_eval_batch_size",
                self.per_device_eval_batch_size,
            ),
            (
                "gradient_accumulation_steps",
                self.gradient_accumulation_steps,
            ),
            ("logging_steps", self.logging_steps),
        ] {
            if value == 0 {
                return invalid(field, "must be at least 1".to_string());
            }
        }
        if self.max_steps <= 0
            && !(self.num_train_epochs.is_finite() && self.num_train_epochs > 0.0)
        {
            return invalid(
                "num_train_epochs",
                format!(
                    "is {}; give a positive number of epochs or max_steps",
                    self.num_train_epochs
                ),
            );
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return invalid(
                "warmup_ratio",
                format!("is {}; it must be in [0, 1)", self.warmup_ratio),
            );
        }
        for (field, value) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&value) {
                return invalid(field, format!("is {value}; it must be in [0, 1)"));
            }
        }
        if let Some(lora) = &self.lora {
            if self.freezing().freezes_anything() {
                return invalid(
                    "lora",
                    "is set together with train_layers / freeze_embeddings; LoRA already freezes the base model, so use one or the other".into(),
                );
            }
            if let Err(message) = lora.check_supported() {
                return invalid("lora", message);
            }
        }
        if self.save_strategy == IntervalStrategy::Steps && self.save_steps == 0 {
            return invalid(
                "save_steps",
                "must be at least 1 with save_strategy \"steps\"".into(),
            );
        }
        if (self.load_best_model_at_end || self.early_stopping_patience.is_some())
            && self.eval_strategy == IntervalStrategy::No
        {
            return invalid(
                "eval_strategy",
                "is \"no\", but load_best_model_at_end / early stopping need evaluations".into(),
            );
        }
        if self.load_best_model_at_end
            && (self.save_strategy != self.eval_strategy
                || (self.save_strategy == IntervalStrategy::Steps
                    && !self.save_steps.is_multiple_of(self.eval_interval())))
        {
            return invalid(
                "save_strategy",
                "must match eval_strategy (and save_steps be a multiple of eval_steps) with load_best_model_at_end, as in HF".into(),
            );
        }
        if self.save_total_limit == Some(0) {
            return invalid("save_total_limit", "must be at least 1 (or unset)".into());
        }
        if self.max_length == Some(0) {
            return invalid("max_length", "must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_are_hf_defaults_and_round_trip() {
        let config = TrainingConfig::default();
        assert_eq!(config.learning_rate, 5e-5);
        assert_eq!(config.per_device_train_batch_size, 8);
        assert_eq!(config.max_grad_norm, 1.0);
        assert_eq!(config.best_metric(), "loss");
        assert!(!config.greater_is_better());
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<TrainingConfig>(&json).unwrap(),
            config
        );
        let partial: TrainingConfig =
            serde_json::from_str(r#"{"num_train_epochs": 2, "eval_strategy": "epoch"}"#).unwrap();
        assert_eq!(partial.num_train_epochs, 2.0);
        assert_eq!(partial.eval_strategy, IntervalStrategy::Epoch);
        assert_eq!(partial.train_layers, TrainLayers::All);
        let head: TrainingConfig =
            serde_json::from_str(r#"{"train_layers": "last:2", "freeze_embeddings": true}"#)
                .unwrap();
        assert_eq!(head.train_layers, TrainLayers::Last(2));
        assert!(head.freezing().freeze_embeddings);
        let bad = serde_json::from_str::<TrainingConfig>(r#"{"train_layers": "last:0"}"#)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("`all`, `head` or `last:N`"), "{bad}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let field = |config: TrainingConfig| match config.validate() {
            Err(TrainError::InvalidConfig { field, .. }) => field,
            other => format!("{other:?}"),
        };
        let base = TrainingConfig::default;
        assert_eq!(
            field(TrainingConfig {
                per_device_train_batch_size: 0,
                ..base()
            }),
            "per_device_train_batch_size"
        );
        assert_eq!(
            field(TrainingConfig {
                learning_rate: f64::NAN,
                ..base()
            }),
            "learning_rate"
        );
        assert_eq!(
            field(TrainingConfig {
                num_train_epochs: 0.0,
                ..base()
            }),
            "num_train_epochs"
        );
        assert_eq!(
            field(TrainingConfig {
                load_best_model_at_end: true,
                ..base()
            }),
            "eval_strategy"
        );
        assert_eq!(
            field(TrainingConfig {
                load_best_model_at_end: true,
                eval_strategy: IntervalStrategy::Epoch,
                ..base()
            }),
            "save_strategy"
        );
        let metric = TrainingConfig {
            metric_for_best_model: Some("eval_f1".into()),
            ..base()
        };
        assert_eq!(metric.best_metric(), "f1");
        assert!(metric.greater_is_better());
    }
}
