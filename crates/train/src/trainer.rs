//! [`Trainer`]: the fine-tuning loop of HF's `Trainer`, in burn.
//!
//! One optimizer step = up to `gradient_accumulation_steps` micro-batches whose gradients are
//! summed (transformers 5 does not divide a BERT classifier's loss by the accumulation steps:
//! the model takes `**kwargs`, so the Trainer hands it `num_items_in_batch`, which it ignores);
//! then global-norm clipping, AdamW
//! (weight decay on every parameter but biases and LayerNorm weights, i.e. every rank-1
//! parameter of BERT) at the linear schedule's learning rate. Data order depends only on
//! `(seed, epoch)` and dropout on `(seed, micro-step)`, so a run resumed from a checkpoint ends
//! with the same weights as one that was never interrupted.
//!
//! Dropout draws from the backend's random generator, which burn keeps per process: the trainer
//! seeds it before every micro-batch, so two trainings running concurrently in one process
//! perturb each other's dropout masks (and lose bit-exact reproducibility, not correctness).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bertfit_model::BertForSequenceClassification;
use burn::module::ParamGroup;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::batch::{EncodedDataset, HostBatch, derive_seed, epoch_order};
use crate::clip::{clip_global_norm, float_params};
use crate::config::{BatchPadding, IntervalStrategy, TrainingConfig};
use crate::error::{Result, TrainError};
use crate::log::{MetricsLog, Progress};
use crate::metrics::ClassificationReport;
use crate::optim::{FusedAdamW, HfAdamW};
use crate::schedule::LinearSchedule;
use std::sync::Arc;

/// File names inside a checkpoint directory.
pub mod files {
    /// Trainer progress and log history.
    pub const TRAINER_STATE: &str = "trainer_state.json";
    /// The [`TrainingConfig`](crate::TrainingConfig) of the run.
    pub const TRAINING_CONFIG: &str = "training_config.json";
    /// AdamW moments (burnpack).
    pub const OPTIMIZER: &str = "optimizer.bpk";
    /// Parameter ids in visiting order, tying the optimizer state to the parameters.
    pub const PARAM_IDS: &str = "param_ids.json";
    /// Metrics, one JSON object per line, in the output directory.
    pub const METRICS: &str = "metrics.jsonl";
}

/// Progress of a run, saved in every checkpoint (HF's `trainer_state.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps taken.
    pub global_step: usize,
    /// Fractional epochs completed.
    pub epoch: f64,
    /// Total optimizer steps of the run.
    pub max_steps: usize,
    /// Every logged and evaluation record, in order.
    pub log_history: Vec<Value>,
    /// Best value of the metric for best model so far.
    pub best_metric: Option<f64>,
    /// Checkpoint that holds the best model.
    pub best_model_checkpoint: Option<PathBuf>,
    /// Evaluations in a row without improvement (early stopping).
    pub evaluations_without_improvement: usize,
    /// Sum of the per-step training losses so far (for the run's mean `train_loss`).
    pub total_loss: f64,
}

/// The outcome of [`Trainer::train`].
#[derive(Debug)]
pub struct TrainOutput {
    /// The trained model (the best checkpoint's with `load_best_model_at_end`), on the plain
    /// (non-autodiff) device, ready for inference.
    pub model: BertForSequenceClassification,
    /// Final trainer state.
    pub state: TrainerState,
    /// HF-style summary: `train_runtime`, `train_samples_per_second`,
    /// `train_steps_per_second`, `train_loss`, `epoch`.
    pub metrics: Map<String, Value>,
    /// This run's evaluation of exactly the returned model (the last one, or the best
    /// checkpoint's with `load_best_model_at_end`), when it made one; `None` when the returned
    /// model was never evaluated in this process (no eval set, a different step, or evaluated
    /// before a resume), so callers can skip evaluating it again.
    pub evaluation: Option<Evaluation>,
}

/// The result of one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Mean cross-entropy over the examples.
    pub loss: f64,
    /// The full report (confusion matrix, ROC, per-class metrics).
    pub report: ClassificationReport,
    /// Softmax probabilities, one row per example, in dataset order.
    pub probabilities: Vec<Vec<f64>>,
    /// Wall time in seconds.
    pub runtime: f64,
    /// Number of batches.
    pub steps: usize,
}

impl Evaluation {
    /// HF's metrics dict: `eval_loss`, `eval_accuracy`, …, `eval_runtime`,
    /// `eval_samples_per_second`, `eval_steps_per_second` (confusion matrix and ROC curve
    /// included under `eval_confusion_matrix` and `eval_roc_curve`).
    pub fn metrics(&self) -> Map<String, Value> {
        let r = &self.report;
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(format!("eval_{k}"), v);
        };
        put("loss", json!(self.loss));
        put("accuracy", json!(r.accuracy));
        put("precision", json!(r.precision));
        put("recall", json!(r.recall));
        put("specificity", json!(r.specificity));
        put("f1", json!(r.f1));
        if r.per_class.len() > 2 {
            put("precision_weighted", json!(r.precision_weighted));
            put("recall_weighted", json!(r.recall_weighted));
            put("f1_weighted", json!(r.f1_weighted));
        }
        put("roc_auc", json!(r.roc_auc));
        put("confusion_matrix", json!(r.confusion_matrix));
        put("roc_curve", json!(r.roc_curve));
        put("runtime", json!(round4(self.runtime)));
        put(
            "samples_per_second",
            json!(round3(r.samples as f64 / self.runtime.max(1e-9))),
        );
        put(
            "steps_per_second",
            json!(round3(self.steps as f64 / self.runtime.max(1e-9))),
        );
        m
    }

    /// Value of a metric by name (`loss`, `accuracy`, `f1`, `roc_auc`, …).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "loss" => Some(self.loss),
            "accuracy" => Some(self.report.accuracy),
            "precision" => Some(self.report.precision),
            "recall" => Some(self.report.recall),
            "specificity" => Some(self.report.specificity),
            "f1" => Some(self.report.f1),
            "roc_auc" => self.report.roc_auc,
            "log_loss" => Some(self.report.log_loss),
            _ => None,
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// How training should start.
#[derive(Debug, Clone, Default)]
pub enum Resume {
    /// From the model as given.
    #[default]
    No,
    /// From the newest `checkpoint-*` in the output directory (error if there is none).
    Latest,
    /// From this checkpoint directory.
    From(PathBuf),
}

/// Fine-tunes a [`BertForSequenceClassification`] the way `transformers.Trainer` does.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainingConfig,
    device: Device,
    /// Test hook: stop (as if killed) after this optimizer step's checkpoint.
    stop_after_step: Option<usize>,
    /// A backend's own fused AdamW kernel (see [`Trainer::with_fused_adamw`]).
    fused_adamw: Option<Arc<dyn FusedAdamW>>,
}

/// Layout of a run: how many micro-batches, windows and steps.
#[derive(Debug, Clone, Copy)]
struct Plan {
    batches_per_epoch: usize,
    windows_per_epoch: usize,
    total_steps: usize,
    warmup_steps: usize,
    epochs: usize,
}

impl Trainer {
    /// A trainer running on `device` (its autodiff form is used for training).
    ///
    /// # Errors
    /// [`TrainError::InvalidConfig`] when the config does not validate.
    pub fn new(config: TrainingConfig, device: Device) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            device,
            stop_after_step: None,
            fused_adamw: None,
        })
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// Uses `kernel` for the fused AdamW update (`optim = adamw_torch_fused`) where it handles
    /// the device's tensors; the host pass covers the rest.
    pub fn with_fused_adamw(mut self, kernel: Arc<dyn FusedAdamW>) -> Self {
        self.fused_adamw = Some(kernel);
        self
    }

    /// Stops training right after step `step` (and its checkpoint, if one is due), as an
    /// interruption would; for testing resumption.
    pub fn stop_after_step(mut self, step: usize) -> Self {
        self.stop_after_step = Some(step);
        self
    }

    fn plan(&self, train_len: usize) -> Result<Plan> {
        let c = &self.config;
        let bs = c.per_device_train_batch_size;
        let batches_per_epoch = if c.dataloader_drop_last {
            train_len / bs
        } else {
            train_len.div_ceil(bs)
        };
        if batches_per_epoch == 0 {
            return Err(TrainError::Data(format!(
                "the training set has {train_len} examples, fewer than one batch of {bs} with dataloader_drop_last"
            )));
        }
        let accum = c.gradient_accumulation_steps;
        // A partial window at the end of an epoch is still an optimizer step; windows never
        // cross epochs (HF: num_update_steps_per_epoch = max(ceil(batches / GA), 1)).
        let windows_per_epoch = batches_per_epoch.div_ceil(accum).max(1);
        let total_steps = if c.max_steps > 0 {
            c.max_steps as usize
        } else {
            (c.num_train_epochs * windows_per_epoch as f64).ceil() as usize
        };
        let warmup_steps = if c.warmup_steps > 0 {
            c.warmup_steps
        } else {
            (c.warmup_ratio * total_steps as f64).ceil() as usize
        };
        Ok(Plan {
            batches_per_epoch,
            windows_per_epoch,
            total_steps,
            warmup_steps,
            epochs: total_steps.div_ceil(windows_per_epoch),
        })
    }

    /// Trains `model` on `train`, evaluating on `eval` per the config, writing checkpoints,
    /// `metrics.jsonl` and the final model (`save_pretrained` layout) into `output_dir`.
    ///
    /// # Errors
    /// Bad data or config, a non-finite loss (naming the step), IO errors; checkpoints written
    /// before the error are kept.
    pub fn train(
        &self,
        model: BertForSequenceClassification,
        train: &EncodedDataset,
        eval: Option<&EncodedDataset>,
        resume: Resume,
    ) -> Result<TrainOutput> {
        let c = &self.config;
        let num_labels = model.num_labels();
        if train.is_empty() {
            return Err(TrainError::Data("the training set is empty".into()));
        }
        train.check_labels(num_labels, "training")?;
        if let Some(eval) = eval {
            eval.check_labels(num_labels, "evaluation")?;
        } else if c.eval_strategy != IntervalStrategy::No {
            return Err(TrainError::InvalidConfig {
                field: "eval_strategy".into(),
                message: "asks for evaluations but no evaluation set was given".into(),
            });
        }
        let plan = self.plan(train.len())?;
        let max_length = c.max_length.unwrap_or(model.config.max_position_embeddings);
        let output_dir = c.output_dir.clone();
        std::fs::create_dir_all(&output_dir).map_err(|source| TrainError::Io {
            path: output_dir.clone(),
            source,
        })?;

        let ad_device = self.device.clone().autodiff();
        let mut model = model.to_device(&ad_device).train();
        let mut optimizer = self.optimizer(&model);
        let mut state = TrainerState {
            max_steps: plan.total_steps,
            ..TrainerState::default()
        };

        if let Some(checkpoint) = self.resolve_resume(&resume)? {
            let (m, o, s) = self.load_checkpoint(&checkpoint, &ad_device)?;
            model = m;
            optimizer = o;
            state = s;
            if state.max_steps != plan.total_steps {
                return Err(TrainError::Checkpoint {
                    path: checkpoint,
                    message: format!(
                        "it belongs to a run of {} steps but this configuration and data make {}; resume with the same config and data",
                        state.max_steps, plan.total_steps
                    ),
                });
            }
        }

        let mut log = MetricsLog::open(&output_dir.join(files::METRICS))?;
        let mut progress = Progress::new(
            c.progress_bar,
            plan.total_steps as u64,
            state.global_step as u64,
        );
        let schedule = LinearSchedule {
            peak: c.learning_rate,
            warmup_steps: plan.warmup_steps,
            total_steps: plan.total_steps,
        };
        let lengths: Vec<usize> = train.examples.iter().map(|e| e.input_ids.len()).collect();
        let accum = c.gradient_accumulation_steps;
        let started = Instant::now();
        let start_step = state.global_step;
        let mut loss_since_log = 0.0;
        let mut steps_since_log = 0usize;
        // Throughput of the training steps since the last log record: evaluation and checkpoint
        // time are excluded, so the figure is comparable across logging intervals.
        let mut samples_since_log = 0usize;
        let mut train_time_since_log = Duration::ZERO;
        let already_done = state.global_step >= plan.total_steps;
        // (step, evaluation) of the latest and of the best evaluation of this process.
        let mut last_evaluation: Option<(usize, Evaluation)> = None;
        let mut best_evaluation: Option<(usize, Evaluation)> = None;

        let first_epoch = state.global_step / plan.windows_per_epoch;
        'epochs: for epoch in first_epoch..plan.epochs {
            if already_done {
                break;
            }
            let order = if c.shuffle {
                epoch_order(
                    &lengths,
                    c.seed,
                    epoch,
                    c.group_by_length,
                    c.per_device_train_batch_size,
                )
            } else {
                (0..train.len()).collect()
            };
            let batches: Vec<&[usize]> = order
                .chunks(c.per_device_train_batch_size)
                .take(plan.batches_per_epoch)
                .collect();
            let first_window = state.global_step - epoch * plan.windows_per_epoch;
            for (window_index, window) in batches.chunks(accum).enumerate().skip(first_window) {
                let step = state.global_step; // 0-based index of this optimizer step
                let window_started = Instant::now();
                let lr = schedule.lr(step);
                let mut accumulator = GradientsAccumulator::<BertForSequenceClassification>::new();
                let mut step_loss = 0.0;
                for (micro, indices) in window.iter().enumerate() {
                    let examples: Vec<_> = indices.iter().map(|&i| &train.examples[i]).collect();
                    let batch =
                        HostBatch::collate(&examples, c.padding, max_length, train.pad_token_id);
                    let (input, labels) = batch.to_tensors(&model, &ad_device)?;
                    ad_device.seed(derive_seed(
                        c.seed,
                        0x000d_8090_u64,
                        (step * accum + micro) as u64,
                    ));
                    let output = model.forward(input, Some(labels));
                    let Some(loss) = output.loss else { continue };
                    let value = scalar(loss.clone())?;
                    step_loss += value;
                    if !value.is_finite() {
                        return Err(TrainError::NonFiniteLoss {
                            loss: value,
                            step: step + 1,
                            epoch: epoch as f64
                                + window_index as f64 / plan.windows_per_epoch as f64,
                            output_dir,
                        });
                    }
                    let grads = GradientsParams::from_grads(loss.backward(), &model);
                    accumulator.accumulate(&model, grads);
                }
                let mut grads = accumulator.grads();
                let grad_norm = clip_global_norm(&model, &mut grads, c.max_grad_norm)?;
                model = optimizer.step(lr, model, grads);
                train_time_since_log += window_started.elapsed();
                samples_since_log += window.iter().map(|indices| indices.len()).sum::<usize>();
                state.global_step += 1;
                state.epoch =
                    epoch as f64 + (window_index + 1) as f64 / plan.windows_per_epoch as f64;
                state.total_loss += step_loss;
                loss_since_log += step_loss;
                steps_since_log += 1;
                progress.step(step_loss, state.epoch);

                let end_of_epoch = window_index + 1 == plan.windows_per_epoch;
                let last_step = state.global_step >= plan.total_steps;
                if state.global_step.is_multiple_of(c.logging_steps) || last_step {
                    let record = json!({
                        "loss": loss_since_log / steps_since_log as f64,
                        "grad_norm": grad_norm,
                        "learning_rate": lr,
                        "epoch": state.epoch,
                        "step": state.global_step,
                        "samples_per_second": round3(
                            samples_since_log as f64
                                / train_time_since_log.as_secs_f64().max(1e-9)
                        ),
                    });
                    log.write(&record)?;
                    state.log_history.push(record);
                    loss_since_log = 0.0;
                    steps_since_log = 0;
                    samples_since_log = 0;
                    train_time_since_log = Duration::ZERO;
                }

                let evaluate = match c.eval_strategy {
                    IntervalStrategy::No => false,
                    IntervalStrategy::Steps => state.global_step.is_multiple_of(c.eval_interval()),
                    IntervalStrategy::Epoch => end_of_epoch || last_step,
                };
                let mut improved = false;
                if evaluate && let Some(eval) = eval {
                    let evaluation = self.evaluate(&model.valid(), eval)?;
                    let mut record = evaluation.metrics();
                    record.insert("epoch".into(), json!(state.epoch));
                    record.insert("step".into(), json!(state.global_step));
                    progress.println(&format!(
                        "epoch {:.2} step {}: eval_loss {:.4} accuracy {:.4} f1 {:.4}",
                        state.epoch,
                        state.global_step,
                        evaluation.loss,
                        evaluation.report.accuracy,
                        evaluation.report.f1
                    ));
                    log.write(&Value::Object(record.clone()))?;
                    state.log_history.push(Value::Object(record));
                    let name = c.best_metric();
                    let value = evaluation.metric(&name).ok_or_else(|| TrainError::InvalidConfig {
                        field: "metric_for_best_model".into(),
                        message: format!("\"{name}\" is not an evaluation metric (loss, accuracy, precision, recall, specificity, f1, roc_auc, log_loss)"),
                    })?;
                    improved = match state.best_metric {
                        None => true,
                        Some(best) if c.greater_is_better() => value > best,
                        Some(best) => value < best,
                    };
                    if improved {
                        state.best_metric = Some(value);
                        state.evaluations_without_improvement = 0;
                        best_evaluation = Some((state.global_step, evaluation.clone()));
                    } else {
                        state.evaluations_without_improvement += 1;
                    }
                    last_evaluation = Some((state.global_step, evaluation));
                }

                let save = match c.save_strategy {
                    IntervalStrategy::No => false,
                    IntervalStrategy::Steps => state.global_step.is_multiple_of(c.save_steps),
                    IntervalStrategy::Epoch => end_of_epoch || last_step,
                };
                if save {
                    let dir = output_dir.join(format!("checkpoint-{}", state.global_step));
                    if improved {
                        state.best_model_checkpoint = Some(dir.clone());
                    }
                    self.save_checkpoint(&dir, &model, &optimizer, &state)?;
                    self.rotate_checkpoints(&state)?;
                }

                let patience_out = c
                    .early_stopping_patience
                    .is_some_and(|p| state.evaluations_without_improvement >= p);
                if patience_out {
                    progress.println(&format!(
                        "early stopping at step {}: no improvement of eval_{} in {} evaluations",
                        state.global_step,
                        c.best_metric(),
                        state.evaluations_without_improvement
                    ));
                }
                let interrupted = self.stop_after_step == Some(state.global_step);
                if last_step || patience_out || interrupted {
                    if interrupted && !last_step {
                        progress.finish();
                        return Ok(TrainOutput {
                            model: model.valid(),
                            state,
                            metrics: Map::new(),
                            evaluation: None,
                        });
                    }
                    break 'epochs;
                }
            }
        }
        progress.finish();

        let runtime = started.elapsed().as_secs_f64();
        let steps_run = state.global_step - start_step;
        // HF: len(train) × epochs, or max_steps × the effective batch when max_steps is set.
        let samples = if c.max_steps > 0 {
            (c.max_steps as usize * c.per_device_train_batch_size * accum) as f64
        } else {
            train.len() as f64 * c.num_train_epochs
        };
        let mut metrics = Map::new();
        metrics.insert("train_runtime".into(), json!(round4(runtime)));
        metrics.insert(
            "train_samples_per_second".into(),
            json!(round3(samples / runtime.max(1e-9))),
        );
        metrics.insert(
            "train_steps_per_second".into(),
            json!(round3(steps_run as f64 / runtime.max(1e-9))),
        );
        metrics.insert(
            "train_loss".into(),
            json!(state.total_loss / state.global_step.max(1) as f64),
        );
        metrics.insert("epoch".into(), json!(state.epoch));
        metrics.insert("step".into(), json!(state.global_step));
        log.write(&Value::Object(metrics.clone()))?;
        state.log_history.push(Value::Object(metrics.clone()));

        let mut model = model.valid();
        let mut evaluation = last_evaluation
            .filter(|(step, _)| *step == state.global_step)
            .map(|(_, e)| e);
        if c.load_best_model_at_end
            && let Some(best) = &state.best_model_checkpoint
        {
            let (best_model, _) =
                BertForSequenceClassification::from_pretrained(best, &self.device)?;
            model = best_model;
            // The checkpoint's weights are the evaluated model's, bit for bit (f32 safetensors).
            let best_dir = best.file_name().map(|n| n.to_string_lossy().into_owned());
            evaluation = best_evaluation
                .filter(|(step, _)| best_dir.as_deref() == Some(&format!("checkpoint-{step}")))
                .map(|(_, e)| e);
        }
        model.save_pretrained(&output_dir)?;
        write_json(&output_dir.join(files::TRAINER_STATE), &state)?;
        write_json(&output_dir.join(files::TRAINING_CONFIG), c)?;
        Ok(TrainOutput {
            model,
            state,
            metrics,
            evaluation,
        })
    }

    /// Scores `model` on `data`: mean cross-entropy, probabilities and the classification report.
    ///
    /// # Errors
    /// Bad labels or ids, an empty set.
    pub fn evaluate(
        &self,
        model: &BertForSequenceClassification,
        data: &EncodedDataset,
    ) -> Result<Evaluation> {
        let started = Instant::now();
        if data.is_empty() {
            return Err(TrainError::Data("the evaluation set is empty".into()));
        }
        data.check_labels(model.num_labels(), "evaluation")?;
        let c = &self.config;
        let device = &self.device;
        let model = model.clone().to_device(device);
        let max_length = c.max_length.unwrap_or(model.config.max_position_embeddings);
        // With dynamic padding the batches are formed longest first so that each pads to
        // examples of about its own length (an order-free sum and per-example scores, so the
        // report is the same as in dataset order; only the padding, which the mask hides, differs).
        let mut order: Vec<usize> = (0..data.len()).collect();
        if c.padding == BatchPadding::Longest {
            order.sort_by_key(|&i| std::cmp::Reverse(data.examples[i].input_ids.len()));
        }
        let mut probabilities = vec![Vec::new(); data.len()];
        let mut total_loss = 0.0;
        let mut steps = 0;
        for chunk in order.chunks(c.per_device_eval_batch_size) {
            let examples: Vec<_> = chunk.iter().map(|&i| &data.examples[i]).collect();
            let batch = HostBatch::collate(&examples, c.padding, max_length, data.pad_token_id);
            let input = batch.input(&model.config, device)?;
            let logits = model.forward(input, None).logits;
            let [rows, cols] = logits.dims();
            let log_probs: Vec<f32> = log_softmax(logits, 1)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| TrainError::Backend(format!("{e:?}")))?;
            for (r, &index) in (0..rows).zip(chunk) {
                let row: Vec<f64> = log_probs[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                total_loss -= row[data.examples[index].label as usize];
                probabilities[index] = row.iter().map(|v| v.exp()).collect();
            }
            steps += 1;
        }
        let y_true: Vec<usize> = data.examples.iter().map(|e| e.label as usize).collect();
        let report = ClassificationReport::new(&y_true, &probabilities)
            .ok_or_else(|| TrainError::Data("cannot score fewer than two labels".into()))?;
        Ok(Evaluation {
            loss: total_loss / data.len() as f64,
            report,
            probabilities,
            runtime: started.elapsed().as_secs_f64(),
            steps,
        })
    }

    /// AdamW with HF's parameter groups: weight decay on rank-2 parameters, none on rank-1
    /// parameters (biases and LayerNorm weights).
    fn optimizer(&self, model: &BertForSequenceClassification) -> ModuleOptimizer {
        adamw(&self.config, model, self.fused_adamw.clone())
    }

    fn resolve_resume(&self, resume: &Resume) -> Result<Option<PathBuf>> {
        match resume {
            Resume::No => Ok(None),
            Resume::From(dir) => Ok(Some(dir.clone())),
            Resume::Latest => {
                let latest = list_checkpoints(&self.config.output_dir)?
                    .into_iter()
                    .last();
                match latest {
                    Some((_, dir)) => Ok(Some(dir)),
                    None => Err(TrainError::Checkpoint {
                        path: self.config.output_dir.clone(),
                        message: "no checkpoint-* directory to resume from; start without --resume"
                            .into(),
                    }),
                }
            }
        }
    }

    fn save_checkpoint(
        &self,
        dir: &Path,
        model: &BertForSequenceClassification,
        optimizer: &ModuleOptimizer,
        state: &TrainerState,
    ) -> Result<()> {
        let tmp = dir.with_file_name(format!(
            ".{}.tmp",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let io = |path: &Path, source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        };
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        }
        model.valid().save_pretrained(&tmp)?;
        optimizer
            .save(tmp.join(files::OPTIMIZER))
            .map_err(|e| TrainError::Checkpoint {
                path: tmp.join(files::OPTIMIZER),
                message: format!("cannot write the optimizer state: {e:?}"),
            })?;
        let ids: Vec<u64> = float_params(model)
            .into_iter()
            .map(|(id, _)| id.val())
            .collect();
        write_json(&tmp.join(files::PARAM_IDS), &ids)?;
        write_json(&tmp.join(files::TRAINER_STATE), state)?;
        write_json(&tmp.join(files::TRAINING_CONFIG), &self.config)?;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))
    }

    fn load_checkpoint(
        &self,
        dir: &Path,
        device: &Device,
    ) -> Result<(BertForSequenceClassification, ModuleOptimizer, TrainerState)> {
        let missing = [
            files::TRAINER_STATE,
            files::OPTIMIZER,
            files::PARAM_IDS,
            "model.safetensors",
            "config.json",
        ]
        .into_iter()
        .filter(|f| !dir.join(f).is_file())
        .collect::<Vec<_>>();
        if !missing.is_empty() {
            return Err(TrainError::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "it lacks {}; it is not a complete bertfit checkpoint",
                    missing.join(", ")
                ),
            });
        }
        let (model, _) = BertForSequenceClassification::from_pretrained(dir, device)?;
        let ids: Vec<u64> = read_json(&dir.join(files::PARAM_IDS))?;
        let current = float_params(&model);
        if ids.len() != current.len() {
            return Err(TrainError::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "{} saved parameter ids for a model with {}",
                    ids.len(),
                    current.len()
                ),
            });
        }
        let model = model
            .map(&mut ReassignIds {
                ids: ids.into_iter(),
                device: device.clone(),
            })
            .train();
        // The parameter groups are built from the restored ids, then the moments loaded.
        let optimizer = self
            .optimizer(&model)
            .load(dir.join(files::OPTIMIZER))
            .map_err(|e| TrainError::Checkpoint {
                path: dir.join(files::OPTIMIZER),
                message: format!("cannot read the optimizer state: {e:?}"),
            })?;
        let state: TrainerState = read_json(&dir.join(files::TRAINER_STATE))?;
        Ok((model, optimizer, state))
    }

    fn rotate_checkpoints(&self, state: &TrainerState) -> Result<()> {
        let Some(limit) = self.config.save_total_limit else {
            return Ok(());
        };
        let checkpoints = list_checkpoints(&self.config.output_dir)?;
        let best = state.best_model_checkpoint.as_ref();
        let removable: Vec<&PathBuf> = checkpoints
            .iter()
            .map(|(_, d)| d)
            .filter(|d| Some(*d) != best)
            .collect();
        let keep_others = limit.saturating_sub(usize::from(best.is_some_and(|b| b.exists())));
        let excess = removable.len().saturating_sub(keep_others);
        for dir in removable.into_iter().take(excess) {
            std::fs::remove_dir_all(dir).map_err(|source| TrainError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Gives the model's float parameters the ids saved with a checkpoint, in visiting order.
struct ReassignIds<I> {
    ids: I,
    device: Device,
}

impl<I: Iterator<Item = u64>> ModuleMapper for ReassignIds<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(id) = self.ids.next() else {
            return param;
        };
        let tensor = param.val().to_device(&self.device);
        Param::initialized(ParamId::from(id), tensor.detach().require_grad())
    }
}

/// The optimizer [`Trainer`] steps `model` with: [`HfAdamW`] as `config` sets it (β, ε,
/// `optim`), with HF's parameter groups: `weight_decay` on rank-2 parameters (weights and
/// embeddings), none on rank-1 parameters (biases and LayerNorm weights).
///
/// `kernel` is a backend's own fused update (see [`FusedAdamW`]), tried first when
/// `config.optim` is [`OptimizerKind::AdamwTorchFused`](crate::OptimizerKind::AdamwTorchFused).
pub fn adamw(
    config: &TrainingConfig,
    model: &BertForSequenceClassification,
    kernel: Option<Arc<dyn FusedAdamW>>,
) -> ModuleOptimizer {
    let adam = |weight_decay: f64| HfAdamW {
        beta_1: config.adam_beta1,
        beta_2: config.adam_beta2,
        epsilon: config.adam_epsilon,
        weight_decay,
        kind: config.optim,
        kernel: kernel.clone(),
    };
    let no_decay: Vec<ParamId> = float_params(model)
        .into_iter()
        .filter(|&(_, rank)| rank == 1)
        .map(|(id, _)| id)
        .collect();
    ModuleOptimizer::from(adam(config.weight_decay)).with_group(
        ParamGroup::from_ids(no_decay),
        adam(0.0),
        None,
    )
}

/// `checkpoint-N` directories of `dir`, sorted by N.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: Vec<(usize, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let step = name.strip_prefix("checkpoint-")?.parse().ok()?;
            e.path().is_dir().then(|| (step, e.path()))
        })
        .collect();
    found.sort();
    Ok(found)
}

fn scalar(tensor: Tensor<1>) -> Result<f64> {
    tensor
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))?
        .first()
        .copied()
        .ok_or_else(|| TrainError::Backend("empty loss tensor".into()))
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|source| TrainError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })
}
