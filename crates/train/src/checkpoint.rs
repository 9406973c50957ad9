//! Checkpoints: the `checkpoint-N` directories a run writes (model in the HF layout, optimizer
//! moments, parameter ids, [`TrainerState`], [`TrainingConfig`]), reading one back to resume
//! exactly, finding them, and rotating them under `save_total_limit`.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use bertfit_model::peft;
use bertfit_model::{CONFIG_FILE, SAFETENSORS_FILE};

use crate::clip::float_params;
use crate::config::TrainingConfig;
use crate::error::{Result, TrainError};
use crate::fault::pause_point;
use crate::manifest::{self, Damage, MANIFEST_FILE};
use crate::task::Task;

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

impl Resume {
    /// The checkpoint directory to resume from, if any.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] for [`Resume::Latest`] without a checkpoint in `output_dir`.
    pub(crate) fn checkpoint(&self, output_dir: &Path) -> Result<Option<PathBuf>> {
        match self {
            Self::No => Ok(None),
            Self::From(dir) => match manifest::verify(dir) {
                Ok(()) => Ok(Some(dir.clone())),
                Err(Damage::NoManifest) if dir.is_dir() => {
                    warn_unverified(dir);
                    Ok(Some(dir.clone()))
                }
                Err(damage) => Err(TrainError::Checkpoint {
                    path: dir.clone(),
                    message: format!("{damage}; resume from another checkpoint"),
                }),
            },
            Self::Latest => newest_intact(output_dir),
        }
    }
}

/// The newest checkpoint of `output_dir` whose files match its manifest; each newer damaged
/// one is reported on stderr and skipped.
fn newest_intact(output_dir: &Path) -> Result<Option<PathBuf>> {
    let checkpoints = list_checkpoints(output_dir)?;
    if checkpoints.is_empty() {
        return Err(TrainError::Checkpoint {
            path: output_dir.to_path_buf(),
            message: "no checkpoint-* directory to resume from; start without --resume".into(),
        });
    }
    let mut damaged = Vec::new();
    for (_, dir) in checkpoints.iter().rev() {
        match manifest::verify(dir) {
            Ok(()) => {
                if !damaged.is_empty() {
                    eprintln!(
                        "resuming from {}, the newest intact checkpoint",
                        dir.display()
                    );
                }
                return Ok(Some(dir.clone()));
            }
            Err(Damage::NoManifest) => {
                warn_unverified(dir);
                return Ok(Some(dir.clone()));
            }
            Err(damage) => {
                eprintln!("warning: skipping {}: {damage}", dir.display());
                damaged.push(format!("{} ({damage})", dir.display()));
            }
        }
    }
    Err(TrainError::Checkpoint {
        path: output_dir.to_path_buf(),
        message: format!(
            "no intact checkpoint: {}; start again without --resume (into another directory to keep these)",
            damaged.join("; ")
        ),
    })
}

fn warn_unverified(dir: &Path) {
    eprintln!(
        "warning: {} has no {MANIFEST_FILE} (written by an older bertfit); resuming from it unverified",
        dir.display()
    );
}

/// `checkpoint-N` directories of `dir`, sorted by N.
///
/// # Errors
/// [`TrainError::Io`] when `dir` exists but cannot be listed.
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

/// One checkpoint's contents, borrowed from the run that writes it.
pub(crate) struct Checkpoint<'a, M> {
    /// The model being trained.
    pub model: &'a M,
    /// Its optimizer.
    pub optimizer: &'a ModuleOptimizer,
    /// The run's progress.
    pub state: &'a TrainerState,
    /// The run's configuration.
    pub config: &'a TrainingConfig,
}

impl<M: Module> Checkpoint<'_, M> {
    /// Writes the checkpoint as `dir`, atomically: into a temporary sibling, with a manifest
    /// of its files' sha256 last, then renamed over any older `dir`. A failed write removes the
    /// temporary directory and leaves every other checkpoint as it was.
    pub(crate) fn save<T: Task<Model = M>>(&self, task: &T, dir: &Path) -> Result<()> {
        let tmp = hidden_sibling(dir, "tmp");
        remove_dir_if_exists(&tmp)?;
        let written = self.write_files(task, &tmp).and_then(|()| {
            pause_point("checkpoint:manifest");
            manifest::write(&tmp)
        });
        if let Err(err) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(TrainError::WriteFailed {
                what: "checkpoint",
                dir: dir.to_path_buf(),
                source: Box::new(err),
            });
        }
        pause_point("checkpoint:commit");
        if dir.exists() {
            // Out of the way first, so that `dir` is always either the old checkpoint or the
            // new one; the old copy is deleted after the rename.
            let old = hidden_sibling(dir, "old");
            remove_dir_if_exists(&old)?;
            std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
            std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
            return remove_dir_if_exists(&old);
        }
        std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))
    }

    fn write_files<T: Task<Model = M>>(&self, task: &T, dir: &Path) -> Result<()> {
        pause_point("checkpoint:model");
        save_model(task, &self.model.valid(), self.config, dir)?;
        pause_point("checkpoint:optimizer");
        self.optimizer
            .save(dir.join(files::OPTIMIZER))
            .map_err(|e| TrainError::Save {
                path: dir.join(files::OPTIMIZER),
                message: format!("the optimizer state: {e:?}"),
            })?;
        pause_point("checkpoint:state");
        let ids: Vec<u64> = float_params(self.model)
            .into_iter()
            .map(|(id, _)| id.val())
            .collect();
        write_json(&dir.join(files::PARAM_IDS), &ids)?;
        write_json(&dir.join(files::TRAINER_STATE), self.state)?;
        write_json(&dir.join(files::TRAINING_CONFIG), self.config)
    }
}

/// `.NAME.KIND` beside `dir` (`.checkpoint-8.tmp`): hidden from [`list_checkpoints`].
fn hidden_sibling(dir: &Path, kind: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.{kind}"))
}

fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(dir, e)),
    }
}

/// The temporary directory a final save writes into, inside the output directory.
const SAVE_TMP: &str = ".bertfit-save.tmp";

/// Deletes what an interrupted run can leave in `output_dir`: temporary checkpoint and save
/// directories (`.checkpoint-N.tmp`, `.checkpoint-N.old`, `.bertfit-save.tmp`) and
/// half-written JSON files (`*.json.tmp`).
///
/// # Errors
/// [`TrainError::Io`] naming what cannot be listed or deleted.
pub(crate) fn remove_leftovers(output_dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(output_dir).map_err(|e| io(output_dir, e))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let temporary_dir = name == SAVE_TMP
            || (name.starts_with(".checkpoint-")
                && (name.ends_with(".tmp") || name.ends_with(".old")));
        if temporary_dir && path.is_dir() {
            remove_dir_if_exists(&path)?;
        } else if name.ends_with(".json.tmp") && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
    }
    Ok(())
}

/// Saves `model` into `output_dir` as [`save_model`] does, file by file atomically
/// ([`commit_files`]), so that a crash or a full disk never leaves a half-written model file
/// there.
pub(crate) fn commit_model<T: Task>(
    task: &T,
    model: &T::Model,
    config: &TrainingConfig,
    output_dir: &Path,
) -> Result<()> {
    pause_point("final:model");
    commit_files(output_dir, |tmp| save_model(task, model, config, tmp)).map_err(|err| {
        TrainError::WriteFailed {
            what: "the final model into",
            dir: output_dir.to_path_buf(),
            source: Box::new(err),
        }
    })
}

/// Writes files into `dir` without ever leaving a half-written one there: `write` fills a fresh
/// temporary directory inside `dir` (`.bertfit-save.tmp`, which [`remove_leftovers`] deletes
/// after a crash), whose files are then renamed into place one by one. A failed `write` removes
/// the temporary directory and changes nothing in `dir`.
///
/// # Errors
/// `write`'s error, or [`TrainError::Io`] naming what could not be created, listed or renamed.
pub fn commit_files<E: From<TrainError>>(
    dir: &Path,
    write: impl FnOnce(&Path) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let tmp = dir.join(SAVE_TMP);
    remove_dir_if_exists(&tmp)?;
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    if let Err(err) = write(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(err);
    }
    pause_point("final:commit");
    for entry in std::fs::read_dir(&tmp).map_err(|e| io(&tmp, e))? {
        let entry = entry.map_err(|e| io(&tmp, e))?;
        let target = dir.join(entry.file_name());
        std::fs::rename(entry.path(), &target).map_err(|e| io(&target, e))?;
    }
    Ok(remove_dir_if_exists(&tmp)?)
}

/// Writes `model` into `dir` as the run saves it: a PEFT adapter directory for a LoRA run, a
/// Hugging Face model directory otherwise.
pub(crate) fn save_model<T: Task>(
    task: &T,
    model: &T::Model,
    config: &TrainingConfig,
    dir: &Path,
) -> Result<()> {
    match &config.lora {
        Some(lora) => task.save_adapter(model, lora, dir),
        None => task.save(model, dir),
    }
}

/// Reads the model saved in `dir` by [`save_model`]: for a LoRA run, its adapter set onto
/// `current` (the run's model, whose frozen base it shares); otherwise the whole model.
pub(crate) fn load_model<T: Task>(
    task: &T,
    current: &T::Model,
    config: &TrainingConfig,
    dir: &Path,
    device: &Device,
) -> Result<T::Model> {
    match &config.lora {
        Some(lora) => task.load_adapter(current.valid(), lora, dir),
        None => task.load(dir, device),
    }
}

/// A checkpoint read back: the model in training mode with its saved parameter ids, the
/// optimizer with its moments, and the run's progress.
pub(crate) struct Restored<M> {
    /// The model.
    pub model: M,
    /// The optimizer.
    pub optimizer: ModuleOptimizer,
    /// The progress.
    pub state: TrainerState,
}

/// The `TrainingConfig` fields that set a run's length.
const LENGTH_SETTINGS: [&str; 5] = [
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "dataloader_drop_last",
];

/// `(field, checkpoint's value, config's value)` for each setting of the run's length that
/// differs between the checkpoint in `dir` (its `training_config.json`) and `config`; empty when
/// they agree or the checkpoint's config cannot be read.
pub(crate) fn length_settings_changed(
    dir: &Path,
    config: &TrainingConfig,
) -> Vec<(String, String, String)> {
    let read = read_json::<serde_json::Value>(&dir.join(files::TRAINING_CONFIG));
    let (Ok(then), Ok(now)) = (read, serde_json::to_value(config)) else {
        return Vec::new();
    };
    LENGTH_SETTINGS
        .iter()
        .filter(|key| then[**key] != now[**key])
        .map(|key| {
            (
                key.to_string(),
                then[*key].to_string(),
                now[*key].to_string(),
            )
        })
        .collect()
}

/// Reads the checkpoint in `dir` onto `device`; `optimizer` builds the optimizer (its parameter
/// groups) for the restored model before its moments are loaded.
///
/// # Errors
/// [`TrainError::Checkpoint`] for an incomplete checkpoint or one of another model; IO and
/// parse errors naming the file.
pub(crate) fn load<T: Task>(
    task: &T,
    current: &T::Model,
    config: &TrainingConfig,
    dir: &Path,
    device: &Device,
    optimizer: impl FnOnce(&T::Model) -> ModuleOptimizer,
) -> Result<Restored<T::Model>> {
    check_complete(dir, config)?;
    let model = load_model(task, current, config, dir, device)?;
    let model = with_saved_ids(model, dir, device)?.train();
    // The parameter groups are built from the restored ids, then the moments loaded.
    let optimizer = optimizer(&model)
        .load(dir.join(files::OPTIMIZER))
        .map_err(|e| TrainError::Checkpoint {
            path: dir.join(files::OPTIMIZER),
            message: format!("cannot read the optimizer state: {e:?}"),
        })?;
    let state: TrainerState = read_json(&dir.join(files::TRAINER_STATE))?;
    Ok(Restored {
        model,
        optimizer,
        state,
    })
}

/// Refuses to resume from a checkpoint written with other frozen parameters: its optimizer
/// holds moments for exactly the parameters that trained, so a resume with other ones would not
/// continue the same run.
///
/// # Errors
/// [`TrainError::Checkpoint`] naming both settings.
pub(crate) fn check_freezing(dir: &Path, config: &TrainingConfig) -> Result<()> {
    let path = dir.join(files::TRAINING_CONFIG);
    if !path.is_file() {
        return Ok(());
    }
    let saved: TrainingConfig = read_json(&path)?;
    if saved.lora != config.lora {
        let describe = |c: &TrainingConfig| match &c.lora {
            Some(l) => format!(
                "LoRA r {} alpha {} on {:?}",
                l.r, l.lora_alpha, l.target_modules
            ),
            None => "no LoRA".to_string(),
        };
        return Err(TrainError::Checkpoint {
            path: dir.to_path_buf(),
            message: format!(
                "it was written by a run with {}, but this run has {}; resume with the same LoRA settings (--lora-r, --lora-alpha, --lora-target-modules)",
                describe(&saved),
                describe(config)
            ),
        });
    }
    if saved.freezing() == config.freezing() {
        return Ok(());
    }
    let describe = |c: &TrainingConfig| {
        format!(
            "train_layers `{}`{}",
            c.train_layers,
            if c.freeze_embeddings {
                " with the embeddings frozen"
            } else {
                ""
            }
        )
    };
    Err(TrainError::Checkpoint {
        path: dir.to_path_buf(),
        message: format!(
            "it was written by a run with {}, but this run has {}; resume with the same train_layers and freeze_embeddings (--train-layers, --freeze-embeddings)",
            describe(&saved),
            describe(config)
        ),
    })
}

fn check_complete(dir: &Path, config: &TrainingConfig) -> Result<()> {
    let model_files = match config.lora {
        Some(_) => [peft::ADAPTER_CONFIG_FILE, peft::ADAPTER_WEIGHTS_FILE],
        None => [SAFETENSORS_FILE, CONFIG_FILE],
    };
    let missing = [files::TRAINER_STATE, files::OPTIMIZER, files::PARAM_IDS]
        .into_iter()
        .chain(model_files)
        .filter(|f| !dir.join(f).is_file())
        .collect::<Vec<_>>();
    if missing.is_empty() {
        return Ok(());
    }
    Err(TrainError::Checkpoint {
        path: dir.to_path_buf(),
        message: if config.lora.is_some() && missing.contains(&peft::ADAPTER_WEIGHTS_FILE) {
            format!(
                "it lacks {}; resuming a LoRA run needs the checkpoint's adapter files (is it a checkpoint of a run without --lora-r?)",
                missing.join(", ")
            )
        } else {
            format!(
                "it lacks {}; it is not a complete bertfit checkpoint",
                missing.join(", ")
            )
        },
    })
}

/// `model` with the parameter ids saved in `dir`, which tie the optimizer state to them.
fn with_saved_ids<M: Module>(model: M, dir: &Path, device: &Device) -> Result<M> {
    let ids: Vec<u64> = read_json(&dir.join(files::PARAM_IDS))?;
    let current = float_params(&model).len();
    if ids.len() != current {
        return Err(TrainError::Checkpoint {
            path: dir.to_path_buf(),
            message: format!(
                "{} saved parameter ids for a model with {current}",
                ids.len()
            ),
        });
    }
    Ok(model.map(&mut ReassignIds {
        ids: ids.into_iter(),
        device: device.clone(),
    }))
}

/// `model` with its float parameters numbered 1, 2, … in visiting order instead of burn's random
/// ids, so that two runs of one config write byte-identical optimizer states (whose records are
/// keyed by id) and a resumed run the same as an uninterrupted one.
pub(crate) fn with_ordered_ids<M: Module>(model: M, device: &Device) -> M {
    model.map(&mut ReassignIds {
        ids: 1..,
        device: device.clone(),
    })
}

/// Gives the model's float parameters the ids saved with a checkpoint, in visiting order,
/// keeping whether each trains (a LoRA run's frozen base stays frozen; `train()` applies it).
struct ReassignIds<I> {
    ids: I,
    device: Device,
}

impl<I: Iterator<Item = u64>> ModuleMapper for ReassignIds<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(id) = self.ids.next() else {
            return param;
        };
        let (_, tensor, mapper) = param.consume();
        let tensor = tensor.to_device(&self.device).detach();
        Param::from_mapped_value(ParamId::from(id), tensor, mapper)
    }
}

/// Deletes the oldest checkpoints of `output_dir` beyond `limit`, never the best one.
///
/// # Errors
/// [`TrainError::Io`] naming the directory that could not be listed or removed.
pub(crate) fn rotate(output_dir: &Path, limit: Option<usize>, state: &TrainerState) -> Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let checkpoints = list_checkpoints(output_dir)?;
    let best = state.best_model_checkpoint.as_ref();
    let removable: Vec<&PathBuf> = checkpoints
        .iter()
        .map(|(_, d)| d)
        .filter(|d| Some(*d) != best)
        .collect();
    let keep_others = limit.saturating_sub(usize::from(best.is_some_and(|b| b.exists())));
    let excess = removable.len().saturating_sub(keep_others);
    for dir in removable.into_iter().take(excess) {
        pause_point("checkpoint:rotate");
        // Renamed out of the listing first, so that a crash mid-deletion leaves no
        // half-deleted checkpoint to resume from.
        let old = hidden_sibling(dir, "old");
        remove_dir_if_exists(&old)?;
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
        remove_dir_if_exists(&old)?;
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> TrainError {
    TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `value` as pretty JSON to `path`, through a temporary file renamed over it.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    serde_json::from_str(&text).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })
}
