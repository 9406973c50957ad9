//! Hugging Face checkpoints, for every architecture: read a `model.safetensors` or
//! `pytorch_model.bin` into a module, write one back.
//!
//! Reading goes through burn-store ([`SafetensorsStore`] for `model.safetensors`, [`PytorchStore`]
//! for `pytorch_model.bin`, which parses the pickle without executing it) and
//! [`PyTorchToBurnAdapter`] (Linear weights `[out, in]` → `[in, out]`). Module fields carry HF's
//! key segments, so an architecture's whole name mapping is its [`KeyScheme`]: a base-model
//! prefix, a few segment renames, and which keys HF skips or lets be missing. The generic rules:
//!
//! | Hugging Face key                              | burn module path                          |
//! |-----------------------------------------------|-------------------------------------------|
//! | `embeddings.*`, … (a base-model file)         | `<prefix>.embeddings.*`, …                |
//! | `….LayerNorm.*`                               | `….layer_norm.*`                          |
//! | `…layer_norm.weight` / `.bias`                | `…layer_norm.gamma` / `.beta`             |
//! | `…LayerNorm.gamma` / `.beta` (legacy)         | `…layer_norm.gamma` / `.beta`             |
//! | the scheme's renames (BERT: `….attention.self.*`) | (`….attention.self_attention.*`)      |
//! | everything else                               | unchanged                                 |
//!
//! Saving writes exactly the keys and layouts of HF's `save_pretrained` (Linear weights
//! `[out, in]`, safetensors metadata `{"format": "pt"}`), so `transformers` loads the directory
//! unchanged.

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

/// How one architecture's HF state-dict keys map onto its module paths.
#[derive(Debug)]
pub(crate) struct KeyScheme {
    /// The architecture's name in messages (`"BERT"`).
    pub name: &'static str,
    /// The base model's attribute in HF's `…ForSequenceClassification` (`"bert"`).
    pub prefix: &'static str,
    /// First segments of a base-model state dict, saved without the prefix (`"embeddings."`, …).
    pub base_roots: &'static [&'static str],
    /// Checkpoint keys HF skips on load (pretraining heads, buffers), by prefix after
    /// canonicalisation.
    pub ignored_prefixes: &'static [&'static str],
    /// Model keys that may be absent (the head), left at their fresh initialisation.
    pub optional_prefixes: &'static [&'static str],
    /// HF segment → burn field renames, applied as substrings (`".attention.self."`).
    pub renames: &'static [(&'static str, &'static str)],
    /// PEFT's default LoRA `target_modules` for the architecture
    /// (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`).
    pub lora_targets: &'static [&'static str],
}

/// An architecture's mapping between Hugging Face state-dict keys and burn module paths
/// (see the [module documentation](self)), as [`SequenceClassifier::hf_keys`] gives it.
///
/// [`SequenceClassifier::hf_keys`]: crate::SequenceClassifier::hf_keys
#[derive(Debug, Clone, Copy)]
pub struct HfKeys(pub(crate) &'static KeyScheme);

impl HfKeys {
    /// The HF key of a burn parameter path (`bert.encoder.layer.0.attention.self_attention.query.weight`
    /// → `bert.encoder.layer.0.attention.self.query.weight`).
    pub fn to_hf(&self, burn_path: &str) -> String {
        self.0.burn_path_to_hf(burn_path)
    }

    /// The burn parameter path of an HF key; the inverse of [`to_hf`](Self::to_hf).
    pub fn to_burn(&self, hf_key: &str) -> String {
        self.0.hf_to_burn_path(hf_key)
    }

    /// The base model's attribute in HF's `…ForSequenceClassification` (`"bert"`).
    pub fn base_model_prefix(&self) -> &'static str {
        self.0.prefix
    }

    /// PEFT's default LoRA target modules for the architecture (`["query", "value"]`).
    pub fn default_lora_target_modules(&self) -> &'static [&'static str] {
        self.0.lora_targets
    }
}

/// Whether a collected tensor is a LoRA factor (`….weight.lora.a` / `.lora.b`) rather than a
/// weight of the HF state dict.
pub(crate) fn is_lora_factor(path: &str) -> bool {
    path.ends_with(".lora.a") || path.ends_with(".lora.b")
}

/// Buffers every encoder's embeddings may carry in a checkpoint, skipped by HF on load.
const BUFFER_SUFFIXES: [&str; 2] = ["embeddings.position_ids", "embeddings.token_type_ids"];

impl KeyScheme {
    /// The key every checkpoint of this architecture has.
    pub fn anchor(&self) -> String {
        format!("{}.embeddings.word_embeddings.weight", self.prefix)
    }

    /// The HF key a checkpoint tensor stands for: prefixed, legacy LayerNorm names updated.
    pub fn canonical_hf_key(&self, raw: &str) -> String {
        let key = if self.base_roots.iter().any(|p| raw.starts_with(p)) {
            format!("{}.{raw}", self.prefix)
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

    /// Whether HF skips this (canonical) checkpoint key on load for a sequence classifier.
    pub fn is_ignored(&self, key: &str) -> bool {
        self.ignored_prefixes.iter().any(|p| key.starts_with(p))
            || BUFFER_SUFFIXES.iter().any(|s| key.ends_with(s))
    }

    /// Whether a model key may be missing from a checkpoint (a head to train).
    pub fn is_optional(&self, key: &str) -> bool {
        self.optional_prefixes.iter().any(|p| key.starts_with(p))
    }

    /// burn module path → HF key.
    pub fn burn_path_to_hf(&self, path: &str) -> String {
        let mut key = rename_layer_norm_params(path, "gamma", "weight", "beta", "bias");
        for (hf, burn) in self.renames {
            key = key.replace(burn, hf);
        }
        key.replace(".layer_norm.", ".LayerNorm.")
    }

    /// HF key → burn module path.
    pub fn hf_to_burn_path(&self, key: &str) -> String {
        let mut path = key.replace(".LayerNorm.", ".layer_norm.");
        for (hf, burn) in self.renames {
            path = path.replace(hf, burn);
        }
        rename_layer_norm_params(&path, "weight", "gamma", "bias", "beta")
    }
}

/// Renames the parameters of a LayerNorm (a module whose name ends in `layer_norm`):
/// `from_weight` → `to_weight`, `from_bias` → `to_bias`.
fn rename_layer_norm_params(
    path: &str,
    from_weight: &str,
    to_weight: &str,
    from_bias: &str,
    to_bias: &str,
) -> String {
    let Some((module, param)) = path.rsplit_once('.') else {
        return path.to_string();
    };
    let is_layer_norm = module
        .rsplit('.')
        .next()
        .is_some_and(|name| name.ends_with("layer_norm") || name == "LayerNorm");
    match param {
        p if is_layer_norm && p == from_weight => format!("{module}.{to_weight}"),
        p if is_layer_norm && p == from_bias => format!("{module}.{to_bias}"),
        _ => path.to_string(),
    }
}

/// Why a safetensors file is shorter than its header says, if it is: the header's largest
/// `data_offsets` end past the bytes that follow it.
fn safetensors_truncation(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len).ok()?;
    let header_len = u64::from_le_bytes(len);
    if header_len > size.saturating_sub(8) {
        return Some(format!(
            "its header claims {header_len} bytes but the file has {size}: it is truncated; copy or download it again"
        ));
    }
    let mut header = vec![0u8; usize::try_from(header_len).ok()?];
    file.read_exact(&mut header).ok()?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).ok()?;
    let needed = header
        .values()
        .filter_map(|t| t.get("data_offsets")?.get(1)?.as_u64())
        .max()?;
    let available = size - 8 - header_len;
    (needed > available).then(|| {
        format!(
            "its header describes {needed} bytes of tensors but the file holds {available}: it is truncated; copy or download it again"
        )
    })
}

/// How many values of a floating-point tensor are NaN or infinite.
fn non_finite_values(tensor: &PackTensor) -> std::result::Result<usize, String> {
    let bytes = tensor.to_bytes().map_err(|e| e.to_string())?;
    let count = match tensor.dtype {
        DType::F64 => bytes
            .chunks_exact(8)
            .filter(|b| {
                !f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]).is_finite()
            })
            .count(),
        DType::F32 | DType::Flex32 => bytes
            .chunks_exact(4)
            .filter(|b| !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite())
            .count(),
        DType::F16 => bytes
            .chunks_exact(2)
            .filter(|b| !burn::tensor::f16::from_le_bytes([b[0], b[1]]).is_finite())
            .count(),
        DType::BF16 => bytes
            .chunks_exact(2)
            .filter(|b| !burn::tensor::bf16::from_le_bytes([b[0], b[1]]).is_finite())
            .count(),
        _ => 0,
    };
    Ok(count)
}

/// Reads every tensor of a `.safetensors` or PyTorch pickle file, keyed by its stored name.
pub(crate) fn read_checkpoint(path: &Path) -> Result<BTreeMap<String, PackTensor>> {
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
        if let Some(message) = safetensors_truncation(path) {
            return Err(read_error(message));
        }
        let mut store = SafetensorsStore::from_file(path);
        store.get_all_tensors().cloned().map_err(|e| {
            read_error(format!(
                "{e}; the file is damaged: copy or download it again"
            ))
        })
    } else {
        let mut store = PytorchStore::from_file(path);
        store.get_all_tensors().cloned().map_err(|e| {
            read_error(format!(
                "{e}; bertfit reads a pickled state dict of tensors and never runs code from a pickle: save the weights as model.safetensors (transformers' save_pretrained does)"
            ))
        })
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

/// The HF keys and shapes `model` saves under `scheme`, sorted by key.
pub(crate) fn hf_state_dict_shapes<M: Module>(
    model: &M,
    scheme: &KeyScheme,
) -> Vec<(String, Vec<usize>)> {
    let mut keys: Vec<_> = model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
        .into_iter()
        .filter(|t| !is_lora_factor(&t.name))
        .map(|t| (scheme.burn_path_to_hf(&t.name), t.shape.to_vec()))
        .collect();
    keys.sort();
    keys
}

/// Loads weights from a `.safetensors` or PyTorch pickle file into `model`, in place, mapping
/// keys by `scheme`. The model is left unchanged when an error is returned.
///
/// # Errors
/// An unreadable file, a checkpoint of another architecture (naming the keys that give it
/// away), any shape mismatch (naming the key and both shapes), missing encoder weights.
pub(crate) fn load_weights<M: Module>(
    model: &mut M,
    path: &Path,
    scheme: &KeyScheme,
) -> Result<LoadReport> {
    let stored = read_checkpoint(path)?;
    let snapshots: Vec<_> = model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
        .into_iter()
        .filter(|t| !is_lora_factor(&t.name))
        .collect();
    let float_dtype = snapshots
        .iter()
        .map(|t| t.dtype)
        .find(|d| d.is_float())
        .unwrap_or(DType::F32);
    let expected: HashMap<String, Vec<usize>> = snapshots
        .into_iter()
        .map(|t| (scheme.burn_path_to_hf(&t.name), t.shape.to_vec()))
        .collect();

    let mut report = LoadReport {
        file: path.to_path_buf(),
        ..LoadReport::default()
    };
    let mut tensors = Vec::with_capacity(stored.len());
    for (raw, mut tensor) in stored {
        let key = scheme.canonical_hf_key(&raw);
        match expected.get(&key) {
            _ if scheme.is_ignored(&key) => report.ignored.push(raw),
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
                            "`{raw}` has dtype {:?}; {} weights are floating point",
                            tensor.dtype, scheme.name
                        ),
                    });
                }
                let count =
                    non_finite_values(&tensor).map_err(|message| ModelError::CheckpointRead {
                        path: path.to_path_buf(),
                        message: format!("`{raw}`: {message}"),
                    })?;
                if count > 0 {
                    return Err(ModelError::NonFiniteWeights {
                        path: path.to_path_buf(),
                        key: raw,
                        count,
                    });
                }
                tensor.name = scheme.hf_to_burn_path(&key);
                tensors.push(tensor);
            }
        }
    }

    let anchor = scheme.anchor();
    if !tensors
        .iter()
        .any(|t| scheme.burn_path_to_hf(&t.name) == anchor)
    {
        return Err(wrong_architecture(path, scheme, &report.unexpected));
    }

    let present: std::collections::HashSet<String> = tensors
        .iter()
        .map(|t| scheme.burn_path_to_hf(&t.name))
        .collect();
    report.missing = expected
        .keys()
        .filter(|k| !present.contains(*k))
        .cloned()
        .collect();
    report.missing.sort();
    let encoder_missing: Vec<String> = report
        .missing
        .iter()
        .filter(|k| !scheme.is_optional(k))
        .cloned()
        .collect();
    if !encoder_missing.is_empty() {
        return Err(ModelError::MissingWeights {
            path: path.to_path_buf(),
            keys: encoder_missing,
        });
    }

    let adapter: Box<dyn ModuleAdapter> =
        Box::new(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(float_dtype)));
    let result = model.apply(tensors, None, Some(adapter), false);
    if let Some(error) = result.errors.first() {
        return Err(ModelError::CheckpointRead {
            path: path.to_path_buf(),
            message: error.to_string(),
        });
    }
    report.loaded = result.applied.len();
    Ok(report)
}

/// The error for a checkpoint without `scheme`'s anchor key: what its tensors are named like,
/// and the architecture they belong to when another scheme recognises them.
fn wrong_architecture(path: &Path, scheme: &KeyScheme, unexpected: &[String]) -> ModelError {
    let sample: Vec<_> = unexpected.iter().take(3).cloned().collect();
    let mut message = format!(
        "no `embeddings.word_embeddings.weight` (with or without the `{}.` prefix); its tensors are named like {}",
        scheme.prefix,
        if sample.is_empty() {
            "nothing".to_string()
        } else {
            sample.join(", ")
        }
    );
    let owner = crate::hf::KEY_SCHEMES.iter().find(|(_, other)| {
        other.prefix != scheme.prefix
            && unexpected
                .iter()
                .any(|k| other.canonical_hf_key(k) == other.anchor())
    });
    if let Some((model_type, other)) = owner {
        message.push_str(&format!(
            ". These are {} weights (`{}`): config.json must say \"model_type\": \"{model_type}\"; use the config.json saved with these weights",
            other.name,
            other.anchor()
        ));
    }
    ModelError::WrongArchitecture {
        path: path.to_path_buf(),
        expected: scheme.name,
        message,
    }
}

/// Writes `config_json` and `model`'s weights (HF keys and layouts under `scheme`) into `dir`,
/// creating it if needed. LoRA adapters are merged first (`W + scale·A·B`, PEFT's
/// `merge_and_unload`): the file holds the weights the model computes with. Each file is written to a temporary name and renamed, so an
/// interrupted save never leaves a half-written file under the final name.
///
/// # Errors
/// [`ModelError::Io`] or [`ModelError::CheckpointWrite`] naming the file.
pub(crate) fn save_pretrained<M: Module>(
    model: &M,
    dir: &Path,
    scheme: &KeyScheme,
    config_json: &str,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let snapshots = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), false);
    let snapshots = if snapshots.iter().any(|t| is_lora_factor(&t.name)) {
        model
            .clone()
            .materialize()
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
    } else {
        snapshots
    };
    let named = snapshots
        .into_iter()
        .map(|t| (scheme.burn_path_to_hf(&t.name), t))
        .collect();
    write_safetensors(&dir.join(SAFETENSORS_FILE), named)?;
    write_atomically(&dir.join(CONFIG_FILE), config_json.as_bytes())
}

/// Writes `tensors` (each under its key) as a safetensors file with PyTorch's metadata
/// (`{"format": "pt"}`), atomically.
///
/// # Errors
/// [`ModelError::Io`] or [`ModelError::CheckpointWrite`] naming the file.
pub(crate) fn write_safetensors(path: &Path, tensors: Vec<(String, PackTensor)>) -> Result<()> {
    let write_error = |message: String| ModelError::CheckpointWrite {
        path: path.to_path_buf(),
        message,
    };
    let mut named = Vec::new();
    for (key, tensor) in tensors {
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
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| write_error(e.to_string()))?;
    write_atomically(path, &bytes)
}

/// Reads a `config.json` with `parse` (an architecture's `from_json_str`), naming the file in
/// any error.
///
/// # Errors
/// [`ModelError::Io`], or `parse`'s error with the file attached.
pub(crate) fn read_config<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T>) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|err| err.with_path(path))
}

/// Loads a model directory: `config.json` read by `read`, the model built by `build`, then
/// `model.safetensors` (else `pytorch_model.bin`) loaded into it under `scheme`.
///
/// # Errors
/// A missing file, an invalid config, or any error of [`load_weights`].
pub(crate) fn from_pretrained<C, M: Module>(
    dir: &Path,
    read: impl FnOnce(&Path) -> Result<C>,
    build: impl FnOnce(&C) -> Result<M>,
    scheme: &KeyScheme,
) -> Result<(M, LoadReport)> {
    let config = read(&config_path(dir)?)?;
    let weights = find_weights(dir)?;
    let mut model = build(&config)?;
    let report = load_weights(&mut model, &weights, scheme)?;
    Ok((model, report))
}

/// `dir/config.json`, checked to exist (a model directory needs it beside its weights).
///
/// # Errors
/// [`ModelError::Io`] naming the missing file.
pub(crate) fn config_path(dir: &Path) -> Result<PathBuf> {
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
    Ok(config_path)
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
    use crate::bert::KEYS as BERT;

    #[test]
    fn key_mapping_round_trips() {
        for key in [
            "bert.embeddings.LayerNorm.weight",
            "bert.encoder.layer.3.attention.self.query.weight",
            "bert.encoder.layer.0.attention.output.LayerNorm.bias",
            "bert.pooler.dense.bias",
            "classifier.weight",
        ] {
            assert_eq!(BERT.burn_path_to_hf(&BERT.hf_to_burn_path(key)), key);
        }
        assert_eq!(
            BERT.hf_to_burn_path("bert.encoder.layer.3.attention.self.query.weight"),
            "bert.encoder.layer.3.attention.self_attention.query.weight"
        );
        assert_eq!(
            BERT.hf_to_burn_path("bert.embeddings.LayerNorm.weight"),
            "bert.embeddings.layer_norm.gamma"
        );
        // Snake-case LayerNorm names (DistilBERT's) keep their name and rename the parameters.
        assert_eq!(
            BERT.hf_to_burn_path("distilbert.transformer.layer.0.sa_layer_norm.weight"),
            "distilbert.transformer.layer.0.sa_layer_norm.gamma"
        );
        assert_eq!(
            BERT.burn_path_to_hf("distilbert.transformer.layer.0.output_layer_norm.beta"),
            "distilbert.transformer.layer.0.output_layer_norm.bias"
        );
    }

    #[test]
    fn canonical_keys_add_prefix_and_rename_legacy_layer_norm() {
        assert_eq!(
            BERT.canonical_hf_key("embeddings.LayerNorm.gamma"),
            "bert.embeddings.LayerNorm.weight"
        );
        assert_eq!(
            BERT.canonical_hf_key("encoder.layer.0.output.LayerNorm.beta"),
            "bert.encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(BERT.canonical_hf_key("classifier.bias"), "classifier.bias");
        assert!(BERT.is_ignored(&BERT.canonical_hf_key("embeddings.position_ids")));
        assert!(BERT.is_ignored("cls.predictions.bias"));
        assert!(!BERT.is_ignored("bert.pooler.dense.weight"));
    }
}
