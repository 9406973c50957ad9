//! [`Trainer`]: the fine-tuning loop of HF's `Trainer`, in burn, generic over a [`Task`].
//!
//! One optimizer step = up to `gradient_accumulation_steps` micro-batches whose gradients are
//! summed (transformers 5 does not divide a classifier's loss by the accumulation steps: the
//! model takes `**kwargs`, so the Trainer hands it `num_items_in_batch`, which it ignores);
//! then global-norm clipping, AdamW (weight decay on every parameter but biases and LayerNorm
//! weights, i.e. every rank-1 parameter) at the linear schedule's learning rate. Data order
//! depends only on `(seed, epoch)` and dropout on `(seed, micro-step)`, so a run resumed from a
//! checkpoint ends with the same weights as one that was never interrupted.
//!
//! The loop is a handful of named steps over one run state ([`Run`]): an optimizer step of
//! micro-batches ([`Task::train_step`]), logging, evaluation ([`Task::evaluate`]) with best-model
//! tracking, checkpoint save and rotation, early stopping, and the final save.
//!
//! Dropout draws from the backend's random generator, which burn keeps per process: the trainer
//! seeds it before every micro-batch, so two trainings running concurrently in one process
//! perturb each other's dropout masks (and lose bit-exact reproducibility, not correctness).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bertfit_model::{SequenceClassifier, trainable_parameters};
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde_json::{Map, Value, json};

use crate::batch::{BatchOptions, EncodedDataset, derive_seed, epoch_order};
use crate::checkpoint::{self, Checkpoint, Restored, Resume, TrainerState, files, write_json};
use crate::clip::clip_global_norm;
use crate::config::{IntervalStrategy, TrainingConfig};
use crate::error::{Result, TrainError};
use crate::evaluate::{Evaluation, evaluate, round3, round4};
use crate::features::HeadInputs;
use crate::lock::OutputDirLock;
use crate::log::{MetricsLog, Progress};
use crate::optim::{FusedAdamW, adamw};
use crate::schedule::LinearSchedule;
use crate::task::{EvalMetrics, SequenceClassification, Task};

/// The outcome of [`Trainer::train`] (and [`Trainer::fit`]).
#[derive(Debug)]
pub struct TrainOutput<M, E = Evaluation> {
    /// The trained model (the best checkpoint's with `load_best_model_at_end`), on the plain
    /// (non-autodiff) device, ready for inference.
    pub model: M,
    /// Final trainer state.
    pub state: TrainerState,
    /// HF-style summary: `train_runtime`, `train_samples_per_second`,
    /// `train_steps_per_second`, `train_loss`, `epoch`.
    pub metrics: Map<String, Value>,
    /// This run's evaluation of exactly the returned model (the last one, or the best
    /// checkpoint's with `load_best_model_at_end`), when it made one; `None` when the returned
    /// model was never evaluated in this process (no eval set, a different step, or evaluated
    /// before a resume), so callers can skip evaluating it again.
    pub evaluation: Option<E>,
    /// The output directory's lock, which the run took before writing into it: another run
    /// into the same directory is refused while this is held, so keep it while finishing
    /// writing there (tokenizer, results); dropping it releases the directory.
    pub output_dir_lock: Option<OutputDirLock>,
}

/// Fine-tunes a model the way `transformers.Trainer` does: [`train`](Self::train) for any
/// [`SequenceClassifier`], [`fit`](Self::fit) for any [`Task`].
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainingConfig,
    device: Device,
    /// Test hook: stop (as if killed) after this optimizer step's checkpoint.
    stop_after_step: Option<usize>,
    /// A backend's own fused AdamW kernel (see [`Trainer::with_fused_adamw`]).
    fused_adamw: Option<Arc<dyn FusedAdamW>>,
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

    /// Trains the sequence classifier `model` on `train`, evaluating on `eval` per the config,
    /// writing checkpoints, `metrics.jsonl` and the final model (`save_pretrained` layout) into
    /// `output_dir`: [`fit`](Self::fit) with [`SequenceClassification`].
    ///
    /// # Errors
    /// Bad data or config, a non-finite loss (naming the step), IO errors; checkpoints written
    /// before the error are kept.
    pub fn train<M: SequenceClassifier>(
        &self,
        model: M,
        train: &EncodedDataset,
        eval: Option<&EncodedDataset>,
        resume: Resume,
    ) -> Result<TrainOutput<M>> {
        self.fit(&SequenceClassification::new(), model, train, eval, resume)
    }

    /// Trains `model` for `task` on `train`, evaluating on `eval` per the config.
    ///
    /// # Errors
    /// As [`train`](Self::train).
    pub fn fit<T: Task>(
        &self,
        task: &T,
        model: T::Model,
        train: &EncodedDataset<T::Label>,
        eval: Option<&EncodedDataset<T::Label>>,
        resume: Resume,
    ) -> Result<TrainOutput<T::Model, T::Evaluation>> {
        self.check_data(task, &model, train, eval)?;
        let plan = Plan::new(&self.config, train.len())?;
        let max_length = self
            .config
            .max_length
            .unwrap_or_else(|| task.max_length(&model));
        let output_dir = &self.config.output_dir;
        // A resume with nothing to resume from fails before anything is created.
        let found = if output_dir.exists() {
            None
        } else {
            Some(resume.checkpoint(output_dir)?)
        };
        std::fs::create_dir_all(output_dir).map_err(|source| TrainError::Io {
            path: output_dir.clone(),
            source,
        })?;
        let lock = OutputDirLock::acquire(output_dir)?;
        checkpoint::remove_leftovers(output_dir)?;
        let checkpoint = match found {
            Some(checkpoint) => checkpoint,
            None => resume.checkpoint(output_dir)?,
        };
        let (mut run, model) = Run::start(self, task, plan, max_length, model, checkpoint, lock)?;
        if self.config.caches_features() {
            run.extract_features(&model, train, eval)?;
        }
        run.train(model, train, eval)
    }

    /// Scores `model` on `data` with the config's evaluation batching
    /// ([`evaluate`](crate::evaluate())).
    ///
    /// # Errors
    /// Bad labels or ids, an empty set.
    pub fn evaluate<M: SequenceClassifier>(
        &self,
        model: &M,
        data: &EncodedDataset,
    ) -> Result<Evaluation> {
        evaluate(model, data, &BatchOptions::eval(&self.config), &self.device)
    }

    fn check_data<T: Task>(
        &self,
        task: &T,
        model: &T::Model,
        train: &EncodedDataset<T::Label>,
        eval: Option<&EncodedDataset<T::Label>>,
    ) -> Result<()> {
        if train.is_empty() {
            return Err(TrainError::Data("the training set is empty".into()));
        }
        task.check_labels(model, train, "training")?;
        match eval {
            Some(eval) => task.check_labels(model, eval, "evaluation"),
            None if self.config.eval_strategy != IntervalStrategy::No => {
                Err(TrainError::InvalidConfig {
                    field: "eval_strategy".into(),
                    message: "asks for evaluations but no evaluation set was given".into(),
                })
            }
            None => Ok(()),
        }
    }

    /// AdamW with HF's parameter groups for `model`.
    fn optimizer<M: Module>(&self, model: &M) -> ModuleOptimizer {
        adamw(&self.config, model, self.fused_adamw.clone())
    }
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

impl Plan {
    fn new(c: &TrainingConfig, train_len: usize) -> Result<Self> {
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
        // A partial window at the end of an epoch is still an optimizer step; windows never
        // cross epochs (HF: num_update_steps_per_epoch = max(ceil(batches / GA), 1)).
        let windows_per_epoch = batches_per_epoch
            .div_ceil(c.gradient_accumulation_steps)
            .max(1);
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
        Ok(Self {
            batches_per_epoch,
            windows_per_epoch,
            total_steps,
            warmup_steps,
            epochs: total_steps.div_ceil(windows_per_epoch),
        })
    }
}

/// Where an optimizer step is: its epoch and its window (of micro-batches) in that epoch.
#[derive(Debug, Clone, Copy)]
struct Position {
    epoch: usize,
    window: usize,
}

/// What one optimizer step logs.
#[derive(Debug, Clone, Copy)]
struct StepStats {
    loss: f64,
    grad_norm: f64,
    lr: f64,
}

/// The training since the last log record. Throughput counts the training steps alone:
/// evaluation and checkpoint time are excluded, so the figure is comparable across intervals.
#[derive(Debug, Default)]
struct LogWindow {
    loss: f64,
    steps: usize,
    samples: usize,
    train_time: Duration,
}

/// Why the loop ends before its last epoch is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The last step, or early stopping: finish the run (summary, final save).
    Finished,
    /// The [`Trainer::stop_after_step`] test hook: return as if killed.
    Interrupted,
}

/// The state of one run. The model is not in it: each optimizer step consumes it and returns
/// the updated one (burn updates parameters by value), so it is passed from step to step.
struct Run<'a, T: Task> {
    trainer: &'a Trainer,
    task: &'a T,
    plan: Plan,
    max_length: usize,
    /// The trainer's device in its autodiff form.
    device: Device,
    optimizer: ModuleOptimizer,
    state: TrainerState,
    log: MetricsLog,
    progress: Progress,
    schedule: LinearSchedule,
    since_log: LogWindow,
    started: Instant,
    start_step: usize,
    /// (step, evaluation) of the latest and of the best evaluation of this process.
    last_evaluation: Option<(usize, T::Evaluation)>,
    best_evaluation: Option<(usize, T::Evaluation)>,
    /// Feature extraction's cache, when the run has one.
    cache: Option<FeatureCache>,
    /// The output directory's lock: handed to the caller with a finished run's output, let go
    /// of by an interrupted one, as a killed process's would be.
    lock: OutputDirLock,
}

/// The frozen encoder's head inputs of the training and evaluation sets
/// ([`TrainingConfig::caches_features`]).
struct FeatureCache {
    train: HeadInputs,
    eval: Option<HeadInputs>,
}

impl<'a, T: Task> Run<'a, T> {
    /// Moves `model` to the autodiff device, or replaces it (and the optimizer and progress)
    /// with `checkpoint`'s; opens the metrics log and the progress bar.
    fn start(
        trainer: &'a Trainer,
        task: &'a T,
        plan: Plan,
        max_length: usize,
        model: T::Model,
        checkpoint: Option<PathBuf>,
        lock: OutputDirLock,
    ) -> Result<(Self, T::Model)> {
        let c = &trainer.config;
        let device = trainer.device.clone().autodiff();
        let model = match &c.lora {
            Some(lora) => {
                // The adapters' random `A` comes from the run's seed (HF: `set_seed` before
                // `get_peft_model`), so a run and its resumption start from the same one.
                trainer.device.seed(derive_seed(c.seed, 0x0010_4a11_u64, 0));
                task.get_peft_model(model, lora)?
            }
            None => model,
        };
        let mut model = checkpoint::with_ordered_ids(model.to_device(&device), &device).train();
        let mut optimizer = trainer.optimizer(&model);
        let mut state = TrainerState {
            max_steps: plan.total_steps,
            ..TrainerState::default()
        };
        if let Some(dir) = checkpoint {
            let restored = Self::restore(trainer, task, plan, &dir, &model, &device)?;
            (model, optimizer, state) = (restored.model, restored.optimizer, restored.state);
        }
        let freezing = c.freezing();
        let parts = task.encoder_parts(&model);
        let model = freezing.apply(model, parts)?;
        // What a resumed run logged after its checkpoint is logged again; the rest is kept.
        let log = MetricsLog::open(&c.output_dir.join(files::METRICS), state.log_history.len())?;
        let progress = Progress::new(
            c.progress_bar,
            plan.total_steps as u64,
            state.global_step as u64,
        );
        let schedule = LinearSchedule {
            peak: c.learning_rate,
            warmup_steps: plan.warmup_steps,
            total_steps: plan.total_steps,
        };
        let what = match &c.lora {
            Some(lora) => Some(format!("LoRA r {} alpha {}", lora.r, lora.lora_alpha)),
            None if freezing.freezes_anything() => Some(format!(
                "train_layers {}{}",
                c.train_layers,
                if c.freeze_embeddings {
                    ", embeddings frozen"
                } else {
                    ""
                }
            )),
            None => None,
        };
        if let Some(what) = what {
            // As PEFT's `print_trainable_parameters`.
            let (trainable, all) = trainable_parameters(&model);
            progress.println(&format!(
                "{what}: trainable params: {trainable} || all params: {all} || trainable%: {:.4}",
                100.0 * trainable as f64 / all.max(1) as f64
            ));
        }
        let run = Self {
            trainer,
            task,
            plan,
            max_length,
            device,
            optimizer,
            start_step: state.global_step,
            state,
            log,
            progress,
            schedule,
            since_log: LogWindow::default(),
            started: Instant::now(),
            last_evaluation: None,
            best_evaluation: None,
            cache: None,
            lock,
        };
        Ok((run, model))
    }

    /// The checkpoint in `dir`, refused when it belongs to a run of another length.
    fn restore(
        trainer: &Trainer,
        task: &T,
        plan: Plan,
        dir: &Path,
        current: &T::Model,
        device: &Device,
    ) -> Result<Restored<T::Model>> {
        let c = &trainer.config;
        checkpoint::check_freezing(dir, c)?;
        let restored = checkpoint::load(task, current, c, dir, device, |m| trainer.optimizer(m))?;
        if restored.state.max_steps != plan.total_steps {
            return Err(TrainError::ResumeMismatch {
                checkpoint: dir.to_path_buf(),
                checkpoint_steps: restored.state.max_steps,
                steps: plan.total_steps,
                changed: checkpoint::length_settings_changed(dir, c),
            });
        }
        Ok(restored)
    }

    fn config(&self) -> &'a TrainingConfig {
        &self.trainer.config
    }

    /// Computes the frozen encoder's head inputs of `train` and `eval` once, at inference, in
    /// the evaluation batching (see [`HeadInputs`]).
    fn extract_features(
        &mut self,
        model: &T::Model,
        train: &EncodedDataset<T::Label>,
        eval: Option<&EncodedDataset<T::Label>>,
    ) -> Result<()> {
        if self.state.global_step >= self.plan.total_steps {
            return Ok(());
        }
        let started = Instant::now();
        let frozen = model.valid();
        let options = BatchOptions::eval(self.config());
        let total = train.len() + eval.map_or(0, |e| e.len());
        let mut done = 0;
        let mut extract = |data: &EncodedDataset<T::Label>| {
            HeadInputs::extract(
                self.task,
                &frozen,
                data,
                &options,
                self.max_length,
                &self.trainer.device,
                |n| {
                    done += n;
                    self.progress.extracting(done, total);
                },
            )
        };
        let cache = FeatureCache {
            train: extract(train)?,
            eval: eval.map(&mut extract).transpose()?,
        };
        let runtime = started.elapsed().as_secs_f64();
        self.progress.println(&format!(
            "feature extraction: the frozen encoder's outputs of {total} examples computed in {runtime:.1} s; the head trains on them"
        ));
        // A resumed run's log has its first extraction's record already.
        if self.start_step == 0 {
            self.log.write(&json!({
                "feature_extraction_examples": total,
                "feature_extraction_runtime": round4(runtime),
            }))?;
        }
        self.cache = Some(cache);
        Ok(())
    }

    /// The epochs from the one the state is in, then the summary and the final save.
    fn train(
        mut self,
        mut model: T::Model,
        train: &EncodedDataset<T::Label>,
        eval: Option<&EncodedDataset<T::Label>>,
    ) -> Result<TrainOutput<T::Model, T::Evaluation>> {
        let lengths = train.lengths();
        let already_done = self.state.global_step >= self.plan.total_steps;
        let first_epoch = self.state.global_step / self.plan.windows_per_epoch;
        let epochs = if already_done {
            0..0
        } else {
            first_epoch..self.plan.epochs
        };
        for epoch in epochs {
            let stop;
            (model, stop) = self.epoch(model, epoch, &lengths, train, eval)?;
            match stop {
                Some(Stop::Interrupted) => return Ok(self.interrupted(model)),
                Some(Stop::Finished) => break,
                None => {}
            }
        }
        self.finish(model, train.len())
    }

    /// The optimizer steps of one epoch not taken yet, each followed by its logging,
    /// evaluation, checkpoint and stopping decision.
    fn epoch(
        &mut self,
        mut model: T::Model,
        epoch: usize,
        lengths: &[usize],
        train: &EncodedDataset<T::Label>,
        eval: Option<&EncodedDataset<T::Label>>,
    ) -> Result<(T::Model, Option<Stop>)> {
        let c = self.config();
        let order = self.order_of_epoch(epoch, lengths);
        let batches: Vec<&[usize]> = order
            .chunks(c.per_device_train_batch_size)
            .take(self.plan.batches_per_epoch)
            .collect();
        let first_window = self.state.global_step - epoch * self.plan.windows_per_epoch;
        let windows = batches.chunks(c.gradient_accumulation_steps);
        for (window, micro_batches) in windows.enumerate().skip(first_window) {
            let at = Position { epoch, window };
            let stats;
            (model, stats) = self.optimizer_step(model, micro_batches, at, train)?;
            if let Some(stop) = self.after_step(&model, stats, at, eval)? {
                return Ok((model, Some(stop)));
            }
        }
        Ok((model, None))
    }

    /// The example order of `epoch`: seeded (and grouped by length) or the dataset's.
    fn order_of_epoch(&self, epoch: usize, lengths: &[usize]) -> Vec<usize> {
        let c = self.config();
        if c.shuffle {
            epoch_order(
                lengths,
                c.seed,
                epoch,
                c.group_by_length,
                c.per_device_train_batch_size,
            )
        } else {
            (0..lengths.len()).collect()
        }
    }

    /// One optimizer step: the micro-batches' summed gradients, clipped, applied by AdamW at
    /// the scheduled learning rate; advances the state.
    fn optimizer_step(
        &mut self,
        model: T::Model,
        micro_batches: &[&[usize]],
        at: Position,
        train: &EncodedDataset<T::Label>,
    ) -> Result<(T::Model, StepStats)> {
        let window_started = Instant::now();
        let lr = self.schedule.lr(self.state.global_step);
        let mut accumulator = GradientsAccumulator::<T::Model>::new();
        let mut loss = 0.0;
        for (micro, indices) in micro_batches.iter().enumerate() {
            let (value, grads) = self.micro_batch(&model, indices, micro, at, train)?;
            loss += value;
            accumulator.accumulate(&model, grads);
        }
        let mut grads = accumulator.grads();
        let grad_norm = clip_global_norm(&model, &mut grads, self.config().max_grad_norm)?;
        if !grad_norm.is_finite() {
            return Err(TrainError::NonFiniteGradient {
                grad_norm,
                step: self.state.global_step + 1,
                epoch: at.epoch as f64 + at.window as f64 / self.plan.windows_per_epoch as f64,
                output_dir: self.config().output_dir.clone(),
            });
        }
        let model = self.optimizer.step(lr, model, grads);
        self.since_log.train_time += window_started.elapsed();
        self.since_log.samples += micro_batches.iter().map(|b| b.len()).sum::<usize>();
        let stats = StepStats {
            loss,
            grad_norm,
            lr,
        };
        self.advance(&stats, at);
        Ok((model, stats))
    }

    /// One micro-batch's loss value and gradients, dropout seeded by `(seed, micro-step)`.
    fn micro_batch(
        &self,
        model: &T::Model,
        indices: &[usize],
        micro: usize,
        at: Position,
        train: &EncodedDataset<T::Label>,
    ) -> Result<(f64, GradientsParams)> {
        let c = self.config();
        let step = self.state.global_step; // 0-based index of this optimizer step
        let micro_step = step * c.gradient_accumulation_steps + micro;
        self.device
            .seed(derive_seed(c.seed, 0x000d_8090_u64, micro_step as u64));
        let loss = match &self.cache {
            Some(cache) => {
                let labels: Vec<T::Label> = indices
                    .iter()
                    .map(|&i| train.examples[i].label.clone())
                    .collect();
                let head_inputs = cache.train.rows(indices, &self.device);
                self.task
                    .train_step_on_head_inputs(model, head_inputs, &labels, &self.device)?
            }
            None => {
                let batch = train.collate(indices, c.padding, self.max_length);
                self.task.train_step(model, &batch, &self.device)?
            }
        };
        let value = scalar(loss.clone())?;
        if !value.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                loss: value,
                step: step + 1,
                epoch: at.epoch as f64 + at.window as f64 / self.plan.windows_per_epoch as f64,
                output_dir: c.output_dir.clone(),
            });
        }
        Ok((value, GradientsParams::from_grads(loss.backward(), model)))
    }

    /// Counts the step taken: global step, fractional epoch, losses, progress bar.
    fn advance(&mut self, stats: &StepStats, at: Position) {
        let state = &mut self.state;
        state.global_step += 1;
        state.epoch = at.epoch as f64 + (at.window + 1) as f64 / self.plan.windows_per_epoch as f64;
        state.total_loss += stats.loss;
        self.since_log.loss += stats.loss;
        self.since_log.steps += 1;
        self.progress.step(stats.loss, state.epoch);
    }

    /// What follows a step: logging, evaluation, checkpoint, and whether to stop.
    fn after_step(
        &mut self,
        model: &T::Model,
        stats: StepStats,
        at: Position,
        eval: Option<&EncodedDataset<T::Label>>,
    ) -> Result<Option<Stop>> {
        let end_of_epoch = at.window + 1 == self.plan.windows_per_epoch;
        let last_step = self.state.global_step >= self.plan.total_steps;
        self.log_step(&stats, last_step)?;
        let improved = match eval {
            Some(eval) if self.evaluation_due(end_of_epoch, last_step) => {
                self.evaluate(model, eval)?
            }
            _ => false,
        };
        if self.save_due(end_of_epoch, last_step) {
            self.save_checkpoint(model, improved)?;
        }
        Ok(self.stop(last_step))
    }

    /// Writes the training record every `logging_steps` steps and at the last one.
    fn log_step(&mut self, stats: &StepStats, last_step: bool) -> Result<()> {
        let step = self.state.global_step;
        if !(step.is_multiple_of(self.config().logging_steps) || last_step) {
            return Ok(());
        }
        let window = std::mem::take(&mut self.since_log);
        let record = json!({
            "loss": window.loss / window.steps as f64,
            "grad_norm": stats.grad_norm,
            "learning_rate": stats.lr,
            "epoch": self.state.epoch,
            "step": step,
            "samples_per_second": round3(
                window.samples as f64 / window.train_time.as_secs_f64().max(1e-9)
            ),
        });
        self.log.write(&record)?;
        self.state.log_history.push(record);
        Ok(())
    }

    fn evaluation_due(&self, end_of_epoch: bool, last_step: bool) -> bool {
        match self.config().eval_strategy {
            IntervalStrategy::No => false,
            IntervalStrategy::Steps => self
                .state
                .global_step
                .is_multiple_of(self.config().eval_interval()),
            IntervalStrategy::Epoch => end_of_epoch || last_step,
        }
    }

    fn save_due(&self, end_of_epoch: bool, last_step: bool) -> bool {
        let c = self.config();
        match c.save_strategy {
            IntervalStrategy::No => false,
            IntervalStrategy::Steps => self.state.global_step.is_multiple_of(c.save_steps),
            IntervalStrategy::Epoch => end_of_epoch || last_step,
        }
    }

    /// Evaluates the model as it is now, logs the result and tracks the best one; returns
    /// whether it improved on the best.
    fn evaluate(&mut self, model: &T::Model, eval: &EncodedDataset<T::Label>) -> Result<bool> {
        let options = BatchOptions::eval(self.config());
        let device = &self.trainer.device;
        let cached = self.cache.as_ref().and_then(|c| c.eval.as_ref());
        let evaluation = match cached {
            Some(head_inputs) => self.task.evaluate_on_head_inputs(
                &model.valid(),
                eval,
                head_inputs,
                &options,
                device,
            )?,
            None => self.task.evaluate(&model.valid(), eval, &options, device)?,
        };
        let mut record = evaluation.metrics();
        record.insert("epoch".into(), json!(self.state.epoch));
        record.insert("step".into(), json!(self.state.global_step));
        self.progress.println(&format!(
            "epoch {:.2} step {}: {}",
            self.state.epoch,
            self.state.global_step,
            evaluation.summary()
        ));
        self.log.write(&Value::Object(record.clone()))?;
        self.state.log_history.push(Value::Object(record));
        self.track_best(evaluation)
    }

    /// Compares `evaluation` with the best so far (`metric_for_best_model`), updating the
    /// best metric and the early-stopping count.
    fn track_best(&mut self, evaluation: T::Evaluation) -> Result<bool> {
        let c = self.config();
        let name = c.best_metric();
        let value = evaluation
            .metric(&name)
            .ok_or_else(|| TrainError::InvalidConfig {
                field: "metric_for_best_model".into(),
                message: format!(
                    "\"{name}\" is not an evaluation metric ({})",
                    <T::Evaluation as EvalMetrics>::NAMES.join(", ")
                ),
            })?;
        let state = &mut self.state;
        let improved = match state.best_metric {
            None => true,
            Some(best) if c.greater_is_better() => value > best,
            Some(best) => value < best,
        };
        if improved {
            state.best_metric = Some(value);
            state.evaluations_without_improvement = 0;
            self.best_evaluation = Some((state.global_step, evaluation.clone()));
        } else {
            state.evaluations_without_improvement += 1;
        }
        self.last_evaluation = Some((state.global_step, evaluation));
        Ok(improved)
    }

    /// Writes `checkpoint-<step>` (the best one when `improved`) and rotates old ones.
    fn save_checkpoint(&mut self, model: &T::Model, improved: bool) -> Result<()> {
        let c = self.config();
        let dir = c
            .output_dir
            .join(format!("checkpoint-{}", self.state.global_step));
        if improved {
            self.state.best_model_checkpoint = Some(dir.clone());
        }
        let checkpoint = Checkpoint {
            model,
            optimizer: &self.optimizer,
            state: &self.state,
            config: c,
        };
        checkpoint.save(self.task, &dir)?;
        checkpoint::rotate(&c.output_dir, c.save_total_limit, &self.state)
    }

    /// Whether to stop after this step: the last step, early stopping (announced), or the
    /// interruption hook.
    fn stop(&self, last_step: bool) -> Option<Stop> {
        let c = self.config();
        let patience_out = c
            .early_stopping_patience
            .is_some_and(|p| self.state.evaluations_without_improvement >= p);
        if patience_out {
            self.progress.println(&format!(
                "early stopping at step {}: no improvement of eval_{} in {} evaluations",
                self.state.global_step,
                c.best_metric(),
                self.state.evaluations_without_improvement
            ));
        }
        let interrupted = self.trainer.stop_after_step == Some(self.state.global_step);
        if interrupted && !last_step {
            Some(Stop::Interrupted)
        } else if last_step || patience_out {
            Some(Stop::Finished)
        } else {
            None
        }
    }

    /// The output of a run stopped by the interruption hook: no summary, no final save, and the
    /// lock let go of with `self`.
    fn interrupted(self, model: T::Model) -> TrainOutput<T::Model, T::Evaluation> {
        self.progress.finish();
        TrainOutput {
            model: model.valid(),
            state: self.state,
            metrics: Map::new(),
            evaluation: None,
            output_dir_lock: None,
        }
    }

    /// Logs the run's summary, picks the final model (the best checkpoint's with
    /// `load_best_model_at_end`) and saves it with the state and config into `output_dir`.
    fn finish(
        mut self,
        model: T::Model,
        train_len: usize,
    ) -> Result<TrainOutput<T::Model, T::Evaluation>> {
        self.progress.finish();
        let metrics = self.summary(train_len);
        self.log.write(&Value::Object(metrics.clone()))?;
        self.state.log_history.push(Value::Object(metrics.clone()));
        let (model, evaluation) = self.final_model(model)?;
        let c = self.config();
        checkpoint::commit_model(self.task, &model, c, &c.output_dir)?;
        crate::fault::pause_point("final:state");
        write_json(&c.output_dir.join(files::TRAINER_STATE), &self.state)?;
        write_json(&c.output_dir.join(files::TRAINING_CONFIG), c)?;
        Ok(TrainOutput {
            model,
            state: self.state,
            metrics,
            evaluation,
            output_dir_lock: Some(self.lock),
        })
    }

    /// HF's training summary: runtime, throughput, mean loss, epoch, step.
    fn summary(&self, train_len: usize) -> Map<String, Value> {
        let c = self.config();
        let runtime = self.started.elapsed().as_secs_f64();
        let steps_run = self.state.global_step - self.start_step;
        // HF: len(train) × epochs, or max_steps × the effective batch when max_steps is set.
        let samples = if c.max_steps > 0 {
            (c.max_steps as usize * c.per_device_train_batch_size * c.gradient_accumulation_steps)
                as f64
        } else {
            train_len as f64 * c.num_train_epochs
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
            json!(self.state.total_loss / self.state.global_step.max(1) as f64),
        );
        metrics.insert("epoch".into(), json!(self.state.epoch));
        metrics.insert("step".into(), json!(self.state.global_step));
        metrics
    }

    /// The model to return, on the plain device, and this run's evaluation of exactly it.
    fn final_model(&mut self, model: T::Model) -> Result<(T::Model, Option<T::Evaluation>)> {
        let step = self.state.global_step;
        let last = self.last_evaluation.take();
        let evaluation = last.filter(|(s, _)| *s == step).map(|(_, e)| e);
        let best = self.state.best_model_checkpoint.as_ref();
        let Some(best) = best.filter(|_| self.config().load_best_model_at_end) else {
            return Ok((model.valid(), evaluation));
        };
        let model =
            checkpoint::load_model(self.task, &model, self.config(), best, &self.trainer.device)?;
        // The checkpoint's weights are the evaluated model's, bit for bit (f32 safetensors).
        let best_dir = best.file_name().map(|n| n.to_string_lossy().into_owned());
        let evaluation = self
            .best_evaluation
            .take()
            .filter(|(step, _)| best_dir.as_deref() == Some(&format!("checkpoint-{step}")))
            .map(|(_, e)| e);
        Ok((model, evaluation))
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::config::BatchPadding;
    use crate::test_support::{initialized, seeded, toy_data};
    use bertfit_model::{AutoConfig, AutoModelForSequenceClassification};

    fn config(dir: &std::path::Path) -> TrainingConfig {
        TrainingConfig {
            output_dir: dir.to_path_buf(),
            learning_rate: 1e-2,
            num_train_epochs: 2.0,
            per_device_train_batch_size: 4,
            per_device_eval_batch_size: 4,
            gradient_accumulation_steps: 2,
            logging_steps: 1,
            eval_strategy: IntervalStrategy::Epoch,
            save_strategy: IntervalStrategy::Epoch,
            padding: BatchPadding::Longest,
            progress_bar: false,
            ..TrainingConfig::default()
        }
    }

    /// A tiny DistilBERT (no token types, no pooler) through the dispatch: the generic loop
    /// trains, evaluates, checkpoints and saves it like BERT.
    #[test]
    fn the_loop_trains_another_architecture_through_the_dispatch() {
        let mut model_config = AutoConfig::from_json_str(
            r#"{"model_type": "distilbert", "vocab_size": 99, "dim": 16, "n_layers": 2,
                "n_heads": 2, "hidden_dim": 24, "max_position_embeddings": 64}"#,
        )
        .unwrap();
        model_config.set_labels(&["a", "b", "c"]);
        model_config.set_dropout(0.0);
        let device = Device::flex();
        let (train, eval) = (toy_data(24, 3), toy_data(9, 3));
        let dir = tempfile::tempdir().unwrap();
        let output = seeded(&device, 3, || {
            let model = AutoModelForSequenceClassification::new(&model_config, &device).unwrap();
            let model = initialized(model);
            Trainer::new(config(dir.path()), device.clone())
                .unwrap()
                .train(model, &train, Some(&eval), Resume::No)
                .unwrap()
        });
        // 24 examples / batch 4 = 6 batches, 3 windows of 2 per epoch.
        assert_eq!(output.state.global_step, 6);
        assert_eq!(output.model.model_type(), "distilbert");
        assert!(output.evaluation.is_some());
        let steps: Vec<usize> = checkpoint::list_checkpoints(dir.path())
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(steps, [3, 6]);
        let (reloaded, report) =
            AutoModelForSequenceClassification::from_pretrained(dir.path(), &Device::flex())
                .unwrap();
        assert!(report.missing.is_empty(), "{report}");
        assert_eq!(reloaded.model_type(), "distilbert");
        assert_eq!(reloaded.num_labels(), 3);
    }

    #[test]
    fn plans_count_windows_per_epoch_like_hf() {
        let c = TrainingConfig {
            per_device_train_batch_size: 8,
            gradient_accumulation_steps: 3,
            num_train_epochs: 1.5,
            warmup_ratio: 0.1,
            ..TrainingConfig::default()
        };
        // 60 examples: 8 batches, ceil(8 / 3) = 3 windows per epoch, 1.5 epochs = 5 steps.
        let plan = Plan::new(&c, 60).unwrap();
        assert_eq!(
            (
                plan.batches_per_epoch,
                plan.windows_per_epoch,
                plan.total_steps
            ),
            (8, 3, 5)
        );
        assert_eq!((plan.warmup_steps, plan.epochs), (1, 2));
        let drop_last = TrainingConfig {
            dataloader_drop_last: true,
            ..c
        };
        assert!(Plan::new(&drop_last, 7).is_err());
    }
}
