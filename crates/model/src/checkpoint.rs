//! Hugging Face checkpoints: `from_pretrained`, `load_weights`, `save_pretrained`.
//!
//! Reading goes through burn-store ([`SafetensorsStore`] for `model.safetensors`, [`PytorchStore`]
//! for `pytorch_model.bin`, which parses the pickle without executing it) and
//! [`PyTorchToBurnAdapter`] (Linear weights `[out, in]` → `[in, out]`, LayerNorm
//! `weight`/`bias` → `gamma`/`beta`). Module fields carry HF's key segments, so the whole name
//! mapping is this table:
//!
//! | Hugging Face key                         | burn module path                            |
//! |------------------------------------------|---------------------------------------------|
//! | `embeddings.*`, `encoder.*`, `pooler.*`  | `bert.embeddings.*`, … (base-model files)   |
//! | `….LayerNorm.weight` / `.bias`           | `….layer_norm.gamma` / `.beta`              |
//! | `….LayerNorm.gamma` / `.beta` (legacy)   | `….layer_norm.gamma` / `.beta`              |
//! | `….attention.self.*`                     | `….attention.self_attention.*`              |
//! | everything else                          | unchanged                                   |
//!
//! Ignored on load, as in HF: the `embeddings.position_ids` / `token_type_ids` buffers and the
//! pretraining heads `cls.*`. Saving writes exactly the keys and layouts of
//! `BertForSequenceClassification.save_pretrained` (Linear weights `[out, in]`, safetensors
//! metadata `{"format": "pt"}`), so `transformers` loads the directory unchanged.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    BurnToPyTorchAdapter, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::DType;

use crate::classification::BertForSequenceClassification;
use crate::config::BertConfig;
use crate::error::{ModelError, Result};

/// File name of the config in a model directory.
pub const CONFIG_FILE: &str = "config.json";
/// File name of safetensors weights in a model directory (preferred on load, written on save).
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// File name of PyTorch pickle weights in a model directory.
pub const PYTORCH_FILE: &str = "pytorch_model.bin";

/// What a load did, like the warnings of HF's `from_pretrained`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The weights file read.
    pub file: PathBuf,
    /// Number of tensors loaded into the model.
    pub loaded: usize,
    /// Model weights absent from the checkpoint, left at their fresh initialisation (HF keys;
    /// typically `classifier.weight` and `classifier.bias` when starting from a base model).
    pub missing: Vec<String>,
    /// Checkpoint tensors the model has no place for (HF keys).
    pub unexpected: Vec<String>,
    /// Checkpoint tensors deliberately skipped: position-id buffers and pretraining heads.
    pub ignored: Vec<String>,
}

impl LoadReport {
    /// True when every model weight came from the checkpoint and nothing was left over.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loaded {} tensors from {}",
            self.loaded,
            self.file.display()
        )?;
        if !self.missing.is_empty() {
            write!(
                f,
                "; newly initialised (train before use): {}",
                self.missing.join(", ")
            )?;
        }
        if !self.unexpected.is_empty() {
            write!(f, "; unused: {}", self.unexpected.join(", "))?;
        }
        if !self.ignored.is_empty() {
            write!(
                f,
                "; ignored {} buffer/pretraining tensors",
                self.ignored.len()
            )?;
        }
        Ok(())
    }
}

/// The HF key a checkpoint tensor stands for: `bert.` prefixed, legacy LayerNorm names updated.
fn canonical_hf_key(raw: &str) -> String {
    let key = if ["embeddings.", "encoder.", "pooler."]
        .iter()
        .any(|p| raw.starts_with(p))
    {
        format!("bert.{raw}")
    } else {
        raw.to_string()
    };
    if let Some(stem) = key.strip_suffix(".LayerNorm.gamma") {
        format!("{stem}.LayerNorm.weight")
    } else if let Some(stem) = key.strip_suffix(".LayerNorm.beta") {
        format!("{stem}.LayerNorm.bias")
    } else {
        key
    }
}

/// Whether HF skips this checkpoint tensor on load for a sequence classifier.
fn is_ignored_key(key: &str) -> bool {
    key.starts_with("cls.")
        || key.ends_with("embeddings.position_ids")
        || key.ends_with("embeddings.token_type_ids")
}

/// burn module path → HF key (the inverse of the table above).
fn burn_path_to_hf(path: &str) -> String {
    let key = path
        .replace(".attention.self_attention.", ".attention.self.")
        .replace(".layer_norm.", ".LayerNorm.");
    if let Some(stem) = key.strip_suffix(".LayerNorm.gamma") {
        format!("{stem}.LayerNorm.weight")
    } else if let Some(stem) = key.strip_suffix(".LayerNorm.beta") {
        format!("{stem}.LayerNorm.bias")
    } else {
        key
    }
}

/// HF key → burn module path.
fn hf_to_burn_path(key: &str) -> String {
    let path = key
        .replace(".attention.self.", ".attention.self_attention.")
        .replace(".LayerNorm.", ".layer_norm.");
    if let Some(stem) = path.strip_suffix(".layer_norm.weight") {
        format!("{stem}.layer_norm.gamma")
    } else if let Some(stem) = path.strip_suffix(".layer_norm.bias") {
        format!("{stem}.layer_norm.beta")
    } else {
        path
    }
}

/// Reads every tensor of a `.safetensors` or PyTorch pickle file, keyed by its stored name.
fn read_checkpoint(path: &Path) -> Result<BTreeMap<String, PackTensor>> {
    if !path.is_file() {
        return Err(ModelError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let read_error = |message: String| ModelError::CheckpointRead {
        path: path.to_path_buf(),
        message,
    };
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    if is_safetensors {
        let mut store = SafetensorsStore::from_file(path);
        store
            .get_all_tensors()
            .cloned()
            .map_err(|e| read_error(e.to_string()))
    } else {
        let mut store = PytorchStore::from_file(path);
        store
            .get_all_tensors()
            .cloned()
            .map_err(|e| read_error(e.to_string()))
    }
}

/// The weights file of a model directory: `model.safetensors`, else `pytorch_model.bin`.
pub fn find_weights(dir: &Path) -> Result<PathBuf> {
    [SAFETENSORS_FILE, PYTORCH_FILE]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ModelError::NoCheckpoint {
            dir: dir.to_path_buf(),
        })
}

impl BertForSequenceClassification {
    /// Loads a model directory written by `save_pretrained` (HF's or ours): `config.json` plus
    /// `model.safetensors` or `pytorch_model.bin`. A base-model checkpoint (e.g. a
    /// sentence-transformers encoder, or `bert-base-cased` with its `cls.*` pretraining heads)
    /// loads too, with a fresh classifier listed in [`LoadReport::missing`].
    ///
    /// # Errors
    /// Missing/unreadable files, an invalid config, a checkpoint of another architecture, any
    /// shape mismatch (naming the key and both shapes), or missing encoder weights.
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        let dir = dir.as_ref();
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(ModelError::Io {
                path: config_path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "a model directory needs config.json beside its weights",
                ),
            });
        }
        let config = BertConfig::from_file(&config_path)?;
        let weights = find_weights(dir)?;
        let mut model = Self::new(&config, device)?;
        let report = model.load_weights(&weights)?;
        Ok((model, report))
    }

    /// Loads weights from a `.safetensors` or PyTorch pickle file into this model, in place.
    ///
    /// The model is left unchanged when an error is returned.
    ///
    /// # Errors
    /// See [`Self::from_pretrained`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        let path = path.as_ref();
        let stored = read_checkpoint(path)?;

        let expected: HashMap<String, Vec<usize>> = self
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
            .into_iter()
            .map(|t| (burn_path_to_hf(&t.name), t.shape.to_vec()))
            .collect();

        let mut report = LoadReport {
            file: path.to_path_buf(),
            ..LoadReport::default()
        };
        let mut tensors = Vec::with_capacity(stored.len());
        for (raw, mut tensor) in stored {
            let key = canonical_hf_key(&raw);
            match expected.get(&key) {
                _ if is_ignored_key(&key) => report.ignored.push(raw),
                None => report.unexpected.push(raw),
                Some(shape) if shape.as_slice() != &*tensor.shape => {
                    return Err(ModelError::ShapeMismatch {
                        key: raw,
                        expected: shape.clone(),
                        found: tensor.shape.to_vec(),
                        path: path.to_path_buf(),
                    });
                }
                Some(_) => {
                    if !tensor.dtype.is_float() {
                        return Err(ModelError::CheckpointRead {
                            path: path.to_path_buf(),
                            message: format!(
                                "`{raw}` has dtype {:?}; BERT weights are floating point",
                                tensor.dtype
                            ),
                        });
                    }
                    tensor.name = hf_to_burn_path(&key);
                    tensors.push(tensor);
                }
            }
        }

        if !expected.contains_key("bert.embeddings.word_embeddings.weight")
            || !tensors
                .iter()
                .any(|t| t.name == "bert.embeddings.word_embeddings.weight")
        {
            let sample: Vec<_> = report.unexpected.iter().take(3).cloned().collect();
            return Err(ModelError::NotBert {
                path: path.to_path_buf(),
                message: format!(
                    "no `embeddings.word_embeddings.weight` (with or without the `bert.` prefix); its tensors are named like {}",
                    if sample.is_empty() {
                        "nothing".to_string()
                    } else {
                        sample.join(", ")
                    }
                ),
            });
        }

        let present: std::collections::HashSet<String> =
            tensors.iter().map(|t| burn_path_to_hf(&t.name)).collect();
        report.missing = expected
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        report.missing.sort();
        let encoder_missing: Vec<String> = report
            .missing
            .iter()
            .filter(|k| !k.starts_with("classifier.") && !k.starts_with("bert.pooler."))
            .cloned()
            .collect();
        if !encoder_missing.is_empty() {
            return Err(ModelError::MissingWeights {
                path: path.to_path_buf(),
                keys: encoder_missing,
            });
        }

        let float_dtype = self.classifier.weight.val().dtype();
        let adapter: Box<dyn ModuleAdapter> =
            Box::new(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(float_dtype)));
        let result = self.apply(tensors, None, Some(adapter), false);
        if let Some(error) = result.errors.first() {
            return Err(ModelError::CheckpointRead {
                path: path.to_path_buf(),
                message: error.to_string(),
            });
        }
        report.loaded = result.applied.len();
        Ok(report)
    }

    /// The HF state-dict keys and shapes this model saves, sorted by key.
    pub fn hf_state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut keys: Vec<_> = self
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
            .into_iter()
            .map(|t| (burn_path_to_hf(&t.name), t.shape.to_vec()))
            .collect();
        keys.sort();
        keys
    }

    /// Writes `config.json` (with `architectures`, `id2label`, `label2id`, `num_labels`) and
    /// `model.safetensors` (HF keys and layouts) into `dir`, creating it if needed. Each file is
    /// written to a temporary name and renamed, so an interrupted save never leaves a
    /// half-written file under the final name.
    ///
    /// Tokenizer files are the tokenizer's to write (see the `bertfit-tokenize` crate).
    ///
    /// # Errors
    /// [`ModelError::Io`] or [`ModelError::CheckpointWrite`] naming the file.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let weights_path = dir.join(SAFETENSORS_FILE);
        let write_error = |message: String| ModelError::CheckpointWrite {
            path: weights_path.clone(),
            message,
        };

        let mut named = Vec::new();
        for tensor in self.collect(None, Some(Box::new(BurnToPyTorchAdapter)), false) {
            let key = burn_path_to_hf(&tensor.name);
            let (_, dtype, shape, _, bytes) = tensor
                .into_parts()
                .map_err(|e| write_error(e.to_string()))?;
            let dtype = match dtype {
                DType::F32 | DType::Flex32 => safetensors::Dtype::F32,
                DType::F64 => safetensors::Dtype::F64,
                DType::F16 => safetensors::Dtype::F16,
                DType::BF16 => safetensors::Dtype::BF16,
                other => {
                    return Err(write_error(format!(
                        "`{key}` has unsupported dtype {other:?}"
                    )));
                }
            };
            named.push((key, dtype, shape.to_vec(), bytes));
        }
        let views = named
            .iter()
            .map(|(key, dtype, shape, bytes)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|view| (key.clone(), view))
                    .map_err(|e| write_error(format!("`{key}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        let bytes = safetensors::serialize(views, Some(metadata))
            .map_err(|e| write_error(e.to_string()))?;
        write_atomically(&weights_path, &bytes)?;

        let config = self.config.for_sequence_classification()?;
        write_atomically(&dir.join(CONFIG_FILE), config.to_json_string()?.as_bytes())?;
        Ok(())
    }
}

/// Writes `bytes` to `path` through a sibling temporary file and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let io = |source, p: &Path| ModelError::Io {
        path: p.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(|e| io(e, &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e, path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_mapping_round_trips() {
        for key in [
            "bert.embeddings.LayerNorm.weight",
            "bert.encoder.layer.3.attention.self.query.weight",
            "bert.encoder.layer.0.attention.output.LayerNorm.bias",
            "bert.pooler.dense.bias",
            "classifier.weight",
        ] {
            assert_eq!(burn_path_to_hf(&hf_to_burn_path(key)), key);
        }
        assert_eq!(
            hf_to_burn_path("bert.encoder.layer.3.attention.self.query.weight"),
            "bert.encoder.layer.3.attention.self_attention.query.weight"
        );
        assert_eq!(
            hf_to_burn_path("bert.embeddings.LayerNorm.weight"),
            "bert.embeddings.layer_norm.gamma"
        );
    }

    #[test]
    fn canonical_keys_add_prefix_and_rename_legacy_layer_norm() {
        assert_eq!(
            canonical_hf_key("embeddings.LayerNorm.gamma"),
            "bert.embeddings.LayerNorm.weight"
        );
        assert_eq!(
            canonical_hf_key("encoder.layer.0.output.LayerNorm.beta"),
            "bert.encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(canonical_hf_key("classifier.bias"), "classifier.bias");
        assert!(is_ignored_key(&canonical_hf_key("embeddings.position_ids")));
        assert!(is_ignored_key("cls.predictions.bias"));
        assert!(!is_ignored_key("bert.pooler.dense.weight"));
    }
}
