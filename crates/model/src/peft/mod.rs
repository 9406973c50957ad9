//! LoRA in Hugging Face PEFT's format, for every architecture.
//!
//! [`get_peft_model`] attaches adapters as `peft.get_peft_model(model, LoraConfig(...))` does:
//! every linear layer whose module name ends in one of the [`LoraConfig::target_modules`]
//! gets a rank-`r` update `scaling·B·A` (burn's [`Lora`] reparameterisation, `A` drawn as PEFT
//! draws it, `B` zero), the modules of [`LoraConfig::resolved_modules_to_save`] (the
//! classifier for `SEQ_CLS`) train in full, and every other parameter is frozen (no gradient,
//! no optimizer state).
//!
//! [`save_adapter`] writes `adapter_config.json` and `adapter_model.safetensors` with PEFT's
//! key names (`base_model.model.<module>.lora_A.weight` `[r, in]`, `….lora_B.weight`
//! `[out, r]`, and the saved modules' weights), so `PeftModel.from_pretrained(base, dir)`
//! loads them; [`load_adapter`] reads a PEFT adapter (trained here or in Python) onto its base
//! model, and [`merge_and_unload`] folds the updates into the weights (`W + scaling·B·A`), after
//! which [`SequenceClassifier::save_pretrained`] writes a plain HF model.
//!
//! The adapters are [`LoraLayer`]s, burn's [`Lora`] reparameterization of the weights'
//! [`Param`](burn::module::Param)s with PEFT's `lora_dropout` added: the architecture's module
//! paths (`….query.weight.lora.a`) carry them through the optimizer, checkpoints and devices,
//! and every linear layer runs through [`layer::linear`], which applies the dropout.

mod config;
pub(crate) mod layer;

pub use config::{ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, LoraConfig, TargetModules};
pub use layer::LoraLayer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::{Lora, Module, ParamGroup, ParamId};
use burn::prelude::*;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, bridge};
use burn::tensor::Distribution;

use crate::error::{ModelError, Result};
use crate::hf::{
    CONFIG_FILE, is_lora_factor, read_checkpoint, write_atomically, write_safetensors,
};
use crate::task::SequenceClassifier;

/// The prefix of every key in a PEFT adapter file: `PeftModel.base_model.model`.
const PEFT_PREFIX: &str = "base_model.model.";

/// A linear layer of the model, by its HF module name.
#[derive(Debug, Clone)]
struct Linear {
    /// HF module name (`bert.encoder.layer.0.attention.self.query`).
    module: String,
    /// burn path of its weight (`bert.encoder.layer.0.attention.self_attention.query.weight`).
    weight_path: String,
    /// Id of its weight parameter.
    weight_id: ParamId,
    /// `in_features`.
    d_in: usize,
    /// `out_features`.
    d_out: usize,
}

/// What a [`LoraConfig`] does to one model: the linears that get adapters and the parameters
/// trained in full. Read off a plain model or one adapted already (whose base weights keep
/// their paths and ids).
#[derive(Debug, Clone)]
struct AdapterPlan {
    targets: Vec<Linear>,
    /// HF key → (burn path, id, HF shape) of every parameter of the modules to save.
    saved: BTreeMap<String, (String, ParamId, Vec<usize>)>,
    /// Ids of the LoRA factors the model carries already (none on a plain model).
    factors: Vec<ParamId>,
}

/// The burn path of a weight's LoRA factor `a` or `b` (`….query.weight.lora.a`).
fn factor_path(weight_path: &str, factor: &str) -> String {
    format!("{weight_path}.lora.{factor}")
}

/// PEFT's key of a module's factor `lora_A` or `lora_B`
/// (`base_model.model.<module>.lora_A.weight`).
fn peft_factor_key(module: &str, factor: &str) -> String {
    format!("{PEFT_PREFIX}{module}.{factor}.weight")
}

/// Whether PEFT's `target_modules` list selects `module`: the name itself, or its last
/// segments (`check_target_module_exists`).
fn targets(module: &str, names: &[String]) -> bool {
    names
        .iter()
        .any(|t| module == t || module.ends_with(&format!(".{t}")))
}

/// Whether `module` or one of its parents is one of PEFT's `modules_to_save`
/// (`_set_trainable` matches a module whose name ends with one of them).
fn is_saved(module: &str, names: &[String]) -> bool {
    let mut prefix = String::new();
    module.split('.').any(|segment| {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(segment);
        names.iter().any(|n| prefix.ends_with(n.as_str()))
    })
}

impl AdapterPlan {
    fn new<M: SequenceClassifier>(model: &M, config: &LoraConfig) -> Result<Self> {
        let keys = model.hf_keys();
        let saved_names = config.resolved_modules_to_save();
        let mut linears = Vec::new();
        let mut saved = BTreeMap::new();
        let mut factors = Vec::new();
        for tensor in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
            let Some(id) = tensor.param_id.map(ParamId::from) else {
                continue;
            };
            if is_lora_factor(&tensor.name) {
                factors.push(id);
                continue;
            }
            let key = keys.to_hf(&tensor.name);
            let (module, param) = key.rsplit_once('.').unwrap_or(("", key.as_str()));
            if is_saved(module, &saved_names) {
                saved.insert(
                    key.clone(),
                    (tensor.name.clone(), id, tensor.shape.to_vec()),
                );
                continue;
            }
            let is_linear =
                param == "weight" && tensor.shape.len() == 2 && !module.ends_with("embeddings");
            if is_linear {
                linears.push(Linear {
                    module: module.to_string(),
                    weight_path: tensor.name.clone(),
                    weight_id: id,
                    d_in: tensor.shape[1],
                    d_out: tensor.shape[0],
                });
            }
        }
        let targets = match &config.target_modules {
            TargetModules::Pattern(p) if p == TargetModules::ALL_LINEAR => linears,
            TargetModules::Pattern(p) => {
                return Err(ModelError::Lora(format!(
                    "target_modules {p:?} is a regular expression; list module names instead"
                )));
            }
            TargetModules::Names(names) => select_targets(model, linears, names)?,
        };
        Ok(Self {
            targets,
            saved,
            factors,
        })
    }

    /// The parameters that train under PEFT: the factors and the modules to save.
    fn trainable(&self) -> BTreeSet<ParamId> {
        let saved = self.saved.values().map(|(_, id, _)| *id);
        saved.chain(self.factors.iter().copied()).collect()
    }
}

/// The linears `names` select, refusing a name that selects none.
fn select_targets<M: SequenceClassifier>(
    model: &M,
    linears: Vec<Linear>,
    names: &[String],
) -> Result<Vec<Linear>> {
    if names.is_empty() {
        return Err(ModelError::Lora(
            "target_modules is empty; name the linear layers to adapt".into(),
        ));
    }
    for name in names {
        if !linears
            .iter()
            .any(|l| targets(&l.module, std::slice::from_ref(name)))
        {
            let available: BTreeSet<&str> = linears
                .iter()
                .filter_map(|l| l.module.rsplit('.').next())
                .collect();
            return Err(ModelError::Lora(format!(
                "target module `{name}` is not a linear layer of {}; its linear layers are {} (PEFT's default for it: {})",
                model.architecture(),
                available.into_iter().collect::<Vec<_>>().join(", "),
                model.hf_keys().default_lora_target_modules().join(",")
            )));
        }
    }
    Ok(linears
        .into_iter()
        .filter(|l| targets(&l.module, names))
        .collect())
}

/// Checks that `config` fits `model` (its target modules exist, its settings are supported)
/// without attaching anything.
///
/// # Errors
/// As [`get_peft_model`].
pub fn check_config<M: SequenceClassifier>(model: &M, config: &LoraConfig) -> Result<()> {
    config.check_supported().map_err(ModelError::Lora)?;
    AdapterPlan::new(model, config).map(|_| ())
}

/// Attaches LoRA adapters to `model` as `peft.get_peft_model(model, config)` does: the target
/// linears get `A` drawn from PEFT's `kaiming_uniform_(a=√5)` (uniform in ±1/√in_features,
/// from the device's seeded RNG) and `B = 0`, so the model computes exactly what it did; the
/// modules to save train in full; everything else is frozen.
///
/// # Errors
/// [`ModelError::Lora`] for a target module the architecture lacks (naming its linear layers)
/// or a model that already has adapters; [`ModelError::AdapterConfig`]-style settings bertfit
/// does not implement, as [`ModelError::Lora`].
pub fn get_peft_model<M: SequenceClassifier>(model: M, config: &LoraConfig) -> Result<M> {
    config.check_supported().map_err(ModelError::Lora)?;
    let plan = AdapterPlan::new(&model, config)?;
    if !plan.factors.is_empty() {
        return Err(ModelError::Lora(
            "the model already has LoRA adapters; merge them (merge_and_unload) before adding others".into(),
        ));
    }
    let device = model.devices().into_iter().next().unwrap_or_default();
    let bases = ParamGroup::from_ids(plan.targets.iter().map(|t| t.weight_id).collect());
    // burn scales by alpha / rank: pass the alpha that gives PEFT's scaling (rsLoRA's too).
    let lora = Lora::new(config.r, config.scaling() * config.r as f64).set_param_group(bases);
    let model = model.apply_reparameterization(layer::LoraWithDropout {
        lora,
        dropout: config.lora_dropout,
    });
    let mut model = set_trainable(model, config)?;
    let init = plan
        .targets
        .iter()
        .map(|t| {
            let bound = 1.0 / (t.d_in as f64).sqrt();
            let a = Tensor::<2>::random(
                [t.d_in, config.r],
                Distribution::Uniform(-bound, bound),
                &device,
            );
            bridge::from_data(a.into_data(), factor_path(&t.weight_path, "a"), None)
        })
        .collect();
    apply(&mut model, init, None, Path::new("(initialisation)"))?;
    Ok(model)
}

/// Sets which parameters of an adapted `model` train, as PEFT has it: the LoRA factors and
/// the modules to save; every other parameter is frozen. Module flags (dropout) are left as
/// they are: PEFT keeps the base model's dropout on in training.
///
/// # Errors
/// As [`get_peft_model`].
pub fn set_trainable<M: SequenceClassifier>(model: M, config: &LoraConfig) -> Result<M> {
    struct Trainable(BTreeSet<ParamId>);
    impl burn::module::ModuleMapper for Trainable {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            let train = self.0.contains(&param.id);
            param.set_require_grad(train)
        }
    }
    let trainable = AdapterPlan::new(&model, config)?.trainable();
    Ok(model.map(&mut Trainable(trainable)))
}

/// Applies `tensors` (burn paths) to `model`, requiring each to land.
fn apply<M: Module>(
    model: &mut M,
    tensors: Vec<PackTensor>,
    adapter: Option<Box<dyn burn::store::ModuleAdapter>>,
    path: &Path,
) -> Result<()> {
    let wanted = tensors.len();
    let result = model.apply(tensors, None, adapter, true);
    let mismatch = |message: String| ModelError::AdapterMismatch {
        path: path.to_path_buf(),
        message,
    };
    if let Some(error) = result.errors.first() {
        return Err(mismatch(error.to_string()));
    }
    if let Some(unused) = result.unused.first() {
        return Err(mismatch(format!("the model has no parameter `{unused}`")));
    }
    if result.applied.len() != wanted {
        return Err(mismatch(format!(
            "{} of {wanted} tensors applied",
            result.applied.len()
        )));
    }
    Ok(())
}

/// Whether `model` carries LoRA adapters.
pub fn has_adapters<M: Module>(model: &M) -> bool {
    model
        .collect(None, None, true)
        .iter()
        .any(|t| is_lora_factor(&t.name))
}

/// Folds every adapter into its weight (`W + scaling·B·A`) and removes it, as PEFT's
/// `merge_and_unload`; the result is a plain model (frozen where it was).
pub fn merge_and_unload<M: Module>(model: M) -> M {
    model.materialize()
}

/// `[rows, cols]` row-major → `[cols, rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// A 2-D tensor of a file transposed (burn's `[in, r]` / `[r, out]` factors against PEFT's
/// `[r, in]` / `[out, r]` Linear weights, either way), as f32.
fn transposed(tensor: PackTensor, key: &str, path: &Path) -> Result<TensorData> {
    let read = |message: String| ModelError::CheckpointRead {
        path: path.to_path_buf(),
        message: format!("`{key}`: {message}"),
    };
    let data = bridge::into_data(tensor).map_err(|e| read(e.to_string()))?;
    let shape = data.shape().to_vec();
    let [rows, cols] = shape[..] else {
        return Err(read(format!("expected a matrix, found shape {shape:?}")));
    };
    let values = data
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| read(format!("{e:?}")))?;
    Ok(TensorData::new(
        transpose(&values, rows, cols),
        [cols, rows],
    ))
}

/// Writes `model`'s adapters and saved modules as a PEFT adapter directory
/// (`adapter_config.json` from `config`, `adapter_model.safetensors`, and the classifier's
/// `config.json` with its labels, which PEFT ignores), creating `dir`; each
/// file is written under a temporary name and renamed.
///
/// # Errors
/// [`ModelError::Lora`] for a model without adapters; IO and write errors naming the file.
pub fn save_adapter<M: SequenceClassifier>(
    model: &M,
    config: &LoraConfig,
    dir: impl AsRef<Path>,
) -> Result<()> {
    let dir = dir.as_ref();
    let keys = model.hf_keys();
    let saved_names = config.resolved_modules_to_save();
    let mut named = Vec::new();
    for tensor in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let key = keys.to_hf(&tensor.name);
        if let Some((weight, factor)) = tensor.name.rsplit_once(".lora.") {
            let module = keys.to_hf(weight);
            let module = module.strip_suffix(".weight").unwrap_or(&module);
            let out = peft_factor_key(module, if factor == "a" { "lora_A" } else { "lora_B" });
            let data = transposed(tensor, &out, dir)?;
            named.push((out.clone(), bridge::from_data(data, out, None)));
        } else {
            let module = key.rsplit_once('.').map_or("", |(m, _)| m);
            if is_saved(module, &saved_names) {
                named.push((format!("{PEFT_PREFIX}{key}"), tensor));
            }
        }
    }
    if !named.iter().any(|(k, _)| k.ends_with(".lora_A.weight")) {
        return Err(ModelError::Lora(
            "the model has no LoRA adapters to save; attach them with get_peft_model".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_safetensors(&dir.join(ADAPTER_WEIGHTS_FILE), named)?;
    // The classifier's config beside the adapter: its labels (PEFT ignores the file).
    write_atomically(&dir.join(CONFIG_FILE), model.config_json()?.as_bytes())?;
    write_atomically(
        &dir.join(ADAPTER_CONFIG_FILE),
        config.to_json_string()?.as_bytes(),
    )
}

/// Reads the PEFT adapter in `dir` onto `base` (a plain model of the architecture it was
/// trained on): attaches adapters per its `adapter_config.json`, then sets every adapter and
/// saved module from `adapter_model.safetensors`. Returns the adapted model (trainable as
/// [`get_peft_model`] leaves it) and the config.
///
/// # Errors
/// A missing or unsupported config; [`ModelError::AdapterMismatch`] naming the tensor when the
/// file's shapes, keys or targets do not fit `base` (an adapter of another base model).
pub fn load_adapter<M: SequenceClassifier>(
    base: M,
    dir: impl AsRef<Path>,
) -> Result<(M, LoraConfig)> {
    let dir = dir.as_ref();
    let config = LoraConfig::from_dir(dir)?;
    let model = get_peft_model(base, &config)?;
    let model = load_adapter_weights(model, &config, dir)?;
    Ok((model, config))
}

/// Sets the adapters and saved modules of `model` (already adapted per `config`) from
/// `dir/adapter_model.safetensors`.
///
/// # Errors
/// As [`load_adapter`].
pub fn load_adapter_weights<M: SequenceClassifier>(
    mut model: M,
    config: &LoraConfig,
    dir: impl AsRef<Path>,
) -> Result<M> {
    let path = dir.as_ref().join(ADAPTER_WEIGHTS_FILE);
    let plan = AdapterPlan::new(&model, config)?;
    let stored = read_checkpoint(&path)?;
    let mismatch = |message: String| ModelError::AdapterMismatch {
        path: path.clone(),
        message,
    };
    let mut expected: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
    for t in &plan.targets {
        expected.insert(
            peft_factor_key(&t.module, "lora_A"),
            (factor_path(&t.weight_path, "a"), vec![config.r, t.d_in]),
        );
        expected.insert(
            peft_factor_key(&t.module, "lora_B"),
            (factor_path(&t.weight_path, "b"), vec![t.d_out, config.r]),
        );
    }
    let mut factors = Vec::new();
    let mut saved = Vec::new();
    let mut saved_missing: BTreeSet<&String> = plan.saved.keys().collect();
    for (key, tensor) in stored {
        let hf_key = key.strip_prefix(PEFT_PREFIX).map(str::to_string);
        let saved_entry = hf_key.as_ref().and_then(|k| plan.saved.get(k));
        if let Some((burn_path, shape)) = expected.remove(&key) {
            if *tensor.shape != *shape {
                return Err(mismatch(format!(
                    "`{key}` is {:?} in the file but {shape:?} for this model (r {}); the adapter was trained on a base model of other shapes: pass the base it was trained from ({})",
                    tensor.shape.to_vec(),
                    config.r,
                    config
                        .base_model_name_or_path
                        .as_deref()
                        .unwrap_or("see base_model_name_or_path")
                )));
            }
            let data = transposed(tensor, &key, &path)?;
            factors.push(bridge::from_data(data, burn_path, None));
        } else if let Some((burn_path, _, shape)) = saved_entry {
            if let Some(k) = &hf_key {
                saved_missing.remove(k);
            }
            if *tensor.shape != **shape {
                return Err(mismatch(format!(
                    "`{key}` is {:?} in the file but {shape:?} for this model; check the base model and its number of labels",
                    tensor.shape.to_vec()
                )));
            }
            let mut tensor = tensor;
            tensor.name = burn_path.clone();
            saved.push(tensor);
        } else {
            return Err(mismatch(format!(
                "`{key}` is not an adapter of this {} for target_modules {:?} (expected keys like `{}`)",
                model.architecture(),
                config.target_modules,
                expected
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| format!("{PEFT_PREFIX}….lora_A.weight"))
            )));
        }
    }
    if let Some(key) = saved_missing.first() {
        return Err(mismatch(format!(
            "`{PEFT_PREFIX}{key}` is missing: the adapter has no trained {} (PEFT's modules_to_save)",
            key.split('.').next().unwrap_or("head")
        )));
    }
    if let Some(key) = expected.keys().next() {
        return Err(mismatch(format!(
            "`{key}` is missing ({} adapter tensors missing in all)",
            expected.len()
        )));
    }
    apply(&mut model, factors, None, &path)?;
    if !saved.is_empty() {
        apply(
            &mut model,
            saved,
            Some(Box::new(PyTorchToBurnAdapter)),
            &path,
        )?;
    }
    Ok(model)
}

#[cfg(test)]
mod tests;
