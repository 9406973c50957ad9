//! The error type of this crate.

use std::path::{Path, PathBuf};

/// Everything that can go wrong reading a config or checkpoint, building a model, or saving one.
///
/// Messages name the file or tensor key at fault and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying IO error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not valid JSON or does not have the architecture's fields and types.
    #[error("malformed model config{}: {source}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    ConfigParse {
        /// The file, when the config came from one.
        path: Option<PathBuf>,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The config parses but its values cannot describe a model.
    #[error("invalid model config: `{key}` {message}")]
    InvalidConfig {
        /// The `config.json` key at fault.
        key: String,
        /// What is wrong with it and what would be right.
        message: String,
    },
    /// A model directory holds no weights file this crate reads.
    #[error(
        "no checkpoint in {}: expected model.safetensors or pytorch_model.bin (sharded checkpoints are not supported)",
        dir.display()
    )]
    NoCheckpoint {
        /// The directory searched.
        dir: PathBuf,
    },
    /// A weights file could not be parsed (truncated, corrupt, not safetensors/pickle).
    #[error("cannot read checkpoint {}: {message}", path.display())]
    CheckpointRead {
        /// The weights file.
        path: PathBuf,
        /// What the reader reported.
        message: String,
    },
    /// A weight holds NaN or infinite values: training or predicting with it would spread them.
    #[error(
        "{} holds {count} NaN or infinite values in `{key}`; the checkpoint is damaged or diverged: use an earlier checkpoint or the original model"
    , path.display())]
    NonFiniteWeights {
        /// The weights file.
        path: PathBuf,
        /// The tensor's key in the file.
        key: String,
        /// How many of its values are not finite.
        count: usize,
    },
    /// The checkpoint is not of the architecture its config names (another architecture, or
    /// not a model at all).
    #[error("{} is not a {expected} checkpoint: {message}", path.display())]
    WrongArchitecture {
        /// The weights file.
        path: PathBuf,
        /// The architecture the config asked for (`"BERT"`).
        expected: &'static str,
        /// What gave it away, and the fix.
        message: String,
    },
    /// A tensor's shape in the checkpoint disagrees with the config.
    #[error(
        "shape mismatch for `{key}` in {}: the model (from config.json) expects {expected:?}, the checkpoint has {found:?}; check that config.json belongs to these weights",
        path.display()
    )]
    ShapeMismatch {
        /// The HF key of the tensor.
        key: String,
        /// Shape the model expects, in HF layout.
        expected: Vec<usize>,
        /// Shape stored in the checkpoint.
        found: Vec<usize>,
        /// The weights file.
        path: PathBuf,
    },
    /// A weight required by the encoder is absent from the checkpoint.
    #[error(
        "{} lacks {} encoder weight(s), e.g. `{}`; only the classifier head may be missing",
        path.display(), keys.len(), keys.first().map(String::as_str).unwrap_or("?")
    )]
    MissingWeights {
        /// The weights file.
        path: PathBuf,
        /// Every missing HF key.
        keys: Vec<String>,
    },
    /// `TrainLayers::Last` asked for more encoder layers than the model has.
    #[error(
        "train layers `last:{requested}` asks for {requested} encoder layers but the model has {layers}; use last:1 to last:{layers}, head or all"
    )]
    TrainLayers {
        /// The `N` of `last:N`.
        requested: usize,
        /// The model's encoder layers.
        layers: usize,
    },
    /// An `adapter_config.json` that is malformed or asks for what bertfit does not implement.
    #[error("adapter config {}: {message}", path.display())]
    AdapterConfig {
        /// The `adapter_config.json`.
        path: PathBuf,
        /// What is wrong, and what is supported.
        message: String,
    },
    /// A LoRA config that does not fit the model (a target module it lacks).
    #[error("LoRA: {0}")]
    Lora(String),
    /// An adapter's weights do not fit the model: another base, a missing or unknown tensor.
    #[error("adapter {} does not fit this model: {message}", path.display())]
    AdapterMismatch {
        /// The `adapter_model.safetensors`.
        path: PathBuf,
        /// The tensor at fault and the fix.
        message: String,
    },
    /// Inputs that the model cannot take (shapes, ids outside the vocabulary, bad labels).
    #[error("invalid model input: {0}")]
    InvalidInput(String),
    /// A save could not serialize the weights.
    #[error("cannot write checkpoint {}: {message}", path.display())]
    CheckpointWrite {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ModelError {
    /// Attaches the file a config came from.
    pub(crate) fn with_path(self, path: &Path) -> Self {
        match self {
            Self::ConfigParse { source, .. } => Self::ConfigParse {
                path: Some(path.to_path_buf()),
                source,
            },
            Self::InvalidConfig { key, message } => Self::InvalidConfig {
                key,
                message: format!("{message} (in {})", path.display()),
            },
            other => other,
        }
    }
}

/// `Result` with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
