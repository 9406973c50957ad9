//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can stop a training or evaluation run.
///
/// Checkpoints already written stay on disk whatever the error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file or directory could not be read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (config, trainer state) is malformed.
    #[error("malformed JSON in {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A training hyper-parameter is unusable.
    #[error("invalid training config: `{field}` {message}")]
    InvalidConfig {
        /// The `TrainingConfig` field.
        field: String,
        /// What is wrong and the fix.
        message: String,
    },
    /// The data cannot be trained on (empty split, bad labels, …).
    #[error("invalid training data: {0}")]
    Data(String),
    /// The loss became NaN or infinite.
    #[error(
        "the training loss is {loss} at step {step} (epoch {epoch:.2}); lower the learning rate or check the data. Checkpoints written so far are kept in {}",
        output_dir.display()
    )]
    NonFiniteLoss {
        /// The loss value.
        loss: f64,
        /// Optimizer step (1-based) being computed.
        step: usize,
        /// Fractional epoch.
        epoch: f64,
        /// Where earlier checkpoints are.
        output_dir: PathBuf,
    },
    /// The gradients' global norm became NaN or infinite.
    #[error(
        "the gradient norm is {grad_norm} at step {step} (epoch {epoch:.2}), so the step was not applied; lower the learning rate or check the data and the model's weights. Checkpoints written so far are kept in {}",
        output_dir.display()
    )]
    NonFiniteGradient {
        /// The norm.
        grad_norm: f64,
        /// Optimizer step (1-based) being computed.
        step: usize,
        /// Fractional epoch.
        epoch: f64,
        /// Where earlier checkpoints are.
        output_dir: PathBuf,
    },
    /// Another process is training into the same output directory.
    #[error(
        "{} is in use by another bertfit run{}; wait for it to finish, or choose another output directory",
        dir.display(),
        match pid { Some(pid) => format!(" (pid {pid})"), None => String::new() }
    )]
    OutputDirLocked {
        /// The output directory.
        dir: PathBuf,
        /// The pid of the run holding it, when it could be read.
        pid: Option<u32>,
    },
    /// A checkpoint or model file could not be written.
    #[error("cannot write {}: {message}", path.display())]
    Save {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A checkpoint from a run of another length: its step count differs from this run's.
    #[error(
        "cannot resume from {}: it belongs to a run of {checkpoint_steps} steps but this configuration and data make {steps}; {}",
        checkpoint.display(),
        resume_mismatch_fix(changed)
    )]
    ResumeMismatch {
        /// The checkpoint directory.
        checkpoint: PathBuf,
        /// The checkpoint's run length (`max_steps` of its `trainer_state.json`).
        checkpoint_steps: usize,
        /// This run's length.
        steps: usize,
        /// The settings that set the length and differ from the checkpoint's
        /// `training_config.json`: `(field, the checkpoint's value, this run's)`. Empty when
        /// they agree, so that the training set's size is what changed.
        changed: Vec<(String, String, String)>,
    },
    /// Writing a checkpoint or the final model failed part way (a full disk, permissions): the
    /// half-written copy is removed, and what was written before it is intact.
    #[error(
        "cannot write {what} {}; the checkpoints written before it are intact",
        dir.display()
    )]
    WriteFailed {
        /// `"checkpoint"`, or `"the final model into"`.
        what: &'static str,
        /// The checkpoint or output directory.
        dir: PathBuf,
        /// The failure, naming the file.
        #[source]
        source: Box<TrainError>,
    },
    /// A checkpoint to resume from is missing or incomplete.
    #[error("cannot resume from {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer's vocabulary is larger than the model's embeddings: some of its ids would
    /// index past them.
    #[error(
        "the tokenizer has {tokenizer} tokens but the model's vocab_size is {model}: ids {model} and above would fall outside its embeddings; use the tokenizer saved with the model (tokenizer.json or vocab.txt in the model's directory)"
    )]
    VocabularyMismatch {
        /// Tokens in the tokenizer's vocabulary, added tokens included.
        tokenizer: usize,
        /// The model's `vocab_size`.
        model: usize,
    },
    /// A `max_length` longer than the model's position embeddings.
    #[error(
        "max_length {max_length} exceeds the model's {key} ({limit}); truncate to at most {limit} tokens"
    )]
    MaxLength {
        /// The length asked for.
        max_length: usize,
        /// The longest sequence the model takes.
        limit: usize,
        /// The `config.json` key that sets `limit`.
        key: &'static str,
    },
    /// The backend failed to compute or read back a tensor.
    #[error("backend error: {0}")]
    Backend(String),
    /// The model rejected a config, checkpoint or input.
    #[error(transparent)]
    Model(#[from] bertfit_model::ModelError),
    /// The tokenizer rejected a text or setting.
    #[error(transparent)]
    Tokenize(#[from] bertfit_tokenize::TokenizeError),
}

/// `Result` with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// The fix of a [`TrainError::ResumeMismatch`]: the differing settings, or the data.
fn resume_mismatch_fix(changed: &[(String, String, String)]) -> String {
    if changed.is_empty() {
        return "the settings agree, so the training set's size changed: resume with the same data"
            .into();
    }
    let list: Vec<String> = changed
        .iter()
        .map(|(field, then, now)| format!("{field} was {then} and is {now}"))
        .collect();
    format!("{}; resume with the checkpoint's values", list.join(", "))
}
