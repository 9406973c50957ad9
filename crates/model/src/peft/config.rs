//! PEFT's `adapter_config.json` for LoRA (`peft.LoraConfig`), read and written as-is.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ModelError, Result};

/// File name of a PEFT adapter's config.
pub const ADAPTER_CONFIG_FILE: &str = "adapter_config.json";
/// File name of a PEFT adapter's weights.
pub const ADAPTER_WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// PEFT's `target_modules`: module names (matched as the last segments of a module path), or
/// PEFT's `"all-linear"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetModules {
    /// Module names: `["query", "value"]` matches every `….query` and `….value`.
    Names(Vec<String>),
    /// A single string: PEFT's `"all-linear"`, or a regular expression (not supported here).
    Pattern(String),
}

impl TargetModules {
    /// PEFT's wildcard for every linear layer but the classifier head.
    pub const ALL_LINEAR: &'static str = "all-linear";
}

/// The fields of `peft.LoraConfig` bertfit reads and writes; any other field of a PEFT file is
/// kept in [`other`](Self::other) and written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// `"LORA"`.
    pub peft_type: String,
    /// `"SEQ_CLS"` for sequence classification.
    #[serde(default)]
    pub task_type: Option<String>,
    /// The model the adapter was trained on: a Hub id or a local directory.
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    /// Rank of the update.
    pub r: usize,
    /// Scaling numerator: the update is `(lora_alpha / r)·B·A`, or `lora_alpha / √r` with
    /// [`use_rslora`](Self::use_rslora).
    pub lora_alpha: f64,
    /// Dropout on the adapter's input in training.
    #[serde(default)]
    pub lora_dropout: f64,
    /// The linear layers that get adapters.
    pub target_modules: TargetModules,
    /// Modules trained in full and saved with the adapter; PEFT adds `classifier` and `score`
    /// for `SEQ_CLS`.
    #[serde(default)]
    pub modules_to_save: Option<Vec<String>>,
    /// Rank-stabilised scaling `lora_alpha / √r`.
    #[serde(default)]
    pub use_rslora: bool,
    /// Trained biases: only `"none"` is supported.
    #[serde(default = "default_bias")]
    pub bias: String,
    /// Weights stored `[in, out]` (GPT-2's Conv1D); BERT-family linears are `[out, in]`.
    #[serde(default)]
    pub fan_in_fan_out: bool,
    /// Whether the adapter was saved for inference.
    #[serde(default)]
    pub inference_mode: bool,
    /// Every other field of the file, kept as it was.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

fn default_bias() -> String {
    "none".into()
}

/// The `SEQ_CLS` heads PEFT trains in full and saves with the adapter.
const SEQ_CLS_MODULES_TO_SAVE: [&str; 2] = ["classifier", "score"];

impl LoraConfig {
    /// A sequence-classification LoRA config as `peft.LoraConfig(task_type="SEQ_CLS", r=r,
    /// lora_alpha=alpha, target_modules=targets)` saves it.
    pub fn new(r: usize, lora_alpha: f64, target_modules: Vec<String>) -> Self {
        let other = [
            ("alpha_pattern", Value::Object(Default::default())),
            ("rank_pattern", Value::Object(Default::default())),
            ("init_lora_weights", Value::Bool(true)),
            ("layers_to_transform", Value::Null),
            ("layers_pattern", Value::Null),
            ("revision", Value::Null),
            ("use_dora", Value::Bool(false)),
            ("lora_bias", Value::Bool(false)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            peft_type: "LORA".into(),
            task_type: Some("SEQ_CLS".into()),
            base_model_name_or_path: None,
            r,
            lora_alpha,
            lora_dropout: 0.0,
            target_modules: TargetModules::Names(target_modules),
            modules_to_save: Some(SEQ_CLS_MODULES_TO_SAVE.map(String::from).to_vec()),
            use_rslora: false,
            bias: default_bias(),
            fan_in_fan_out: false,
            inference_mode: false,
            other,
        }
    }

    /// Reads `dir/adapter_config.json`.
    ///
    /// # Errors
    /// [`ModelError::Io`] naming the file when it is absent, [`ModelError::AdapterConfig`] when
    /// it is malformed or asks for what is not supported.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join(ADAPTER_CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|e| ModelError::AdapterConfig {
            path: path.clone(),
            message: e.to_string(),
        })?;
        config
            .check_supported()
            .map_err(|message| ModelError::AdapterConfig { path, message })?;
        Ok(config)
    }

    /// The file's JSON, pretty-printed with sorted keys as PEFT writes it.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] if serialisation fails (it does not for finite numbers).
    pub fn to_json_string(&self) -> Result<String> {
        let value = serde_json::to_value(self)
            .map_err(|e| ModelError::InvalidInput(format!("adapter config: {e}")))?;
        serde_json::to_string_pretty(&value)
            .map_err(|e| ModelError::InvalidInput(format!("adapter config: {e}")))
    }

    /// The factor the update `B·A` is multiplied by: `lora_alpha / r`, or `lora_alpha / √r`
    /// with rsLoRA.
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// The modules trained in full: the config's `modules_to_save` plus, for `SEQ_CLS`,
    /// PEFT's `classifier` and `score`.
    pub fn resolved_modules_to_save(&self) -> Vec<String> {
        let mut modules = self.modules_to_save.clone().unwrap_or_default();
        if self.task_type.as_deref() == Some("SEQ_CLS") {
            for m in SEQ_CLS_MODULES_TO_SAVE {
                if !modules.iter().any(|x| x == m) {
                    modules.push(m.to_string());
                }
            }
        }
        modules
    }

    /// `Err` naming the first setting bertfit does not implement, with what it supports.
    pub fn check_supported(&self) -> std::result::Result<(), String> {
        if self.peft_type != "LORA" {
            return Err(format!(
                "`peft_type` is {:?}; bertfit reads LoRA adapters (\"LORA\") only",
                self.peft_type
            ));
        }
        if self.r == 0 {
            return Err("`r` is 0; the rank must be at least 1".into());
        }
        if !self.lora_alpha.is_finite() || !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(format!(
                "`lora_alpha` {} / `lora_dropout` {}: alpha must be finite and dropout in [0, 1)",
                self.lora_alpha, self.lora_dropout
            ));
        }
        if let TargetModules::Pattern(p) = &self.target_modules
            && p != TargetModules::ALL_LINEAR
        {
            return Err(format!(
                "`target_modules` is the regular expression {p:?}; list the module names instead (e.g. [\"query\", \"value\"]) or use \"all-linear\""
            ));
        }
        if self.bias != "none" {
            return Err(format!(
                "`bias` is {:?}; only \"none\" (biases frozen) is supported",
                self.bias
            ));
        }
        if self.fan_in_fan_out {
            return Err("`fan_in_fan_out` is true; BERT-family linears store [out, in]".into());
        }
        for (key, off) in [
            ("use_dora", Value::Bool(false)),
            ("lora_bias", Value::Bool(false)),
            ("use_qalora", Value::Bool(false)),
        ] {
            if self
                .other
                .get(key)
                .is_some_and(|v| *v != off && !v.is_null())
            {
                return Err(format!("`{key}` is set; bertfit supports plain LoRA only"));
            }
        }
        for key in [
            "layers_to_transform",
            "layer_replication",
            "exclude_modules",
            "target_parameters",
            "trainable_token_indices",
        ] {
            if self.other.get(key).is_some_and(|v| !v.is_null()) {
                return Err(format!(
                    "`{key}` is set; bertfit applies LoRA to every layer of the target modules"
                ));
            }
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if self
                .other
                .get(key)
                .is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
            {
                return Err(format!(
                    "`{key}` is set; bertfit uses one `r` and `lora_alpha` for every module"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn scaling_is_alpha_over_r_or_over_its_root_with_rslora() {
        let mut config = LoraConfig::new(4, 8.0, vec!["query".into()]);
        assert_eq!(config.scaling(), 2.0);
        config.use_rslora = true;
        assert_eq!(config.scaling(), 4.0);
    }

    #[test]
    fn a_peft_file_round_trips_with_its_unknown_fields() {
        let json = r#"{"peft_type": "LORA", "task_type": "SEQ_CLS", "r": 8, "lora_alpha": 16,
            "lora_dropout": 0.1, "target_modules": ["value", "query"], "modules_to_save": null,
            "megatron_core": "megatron.core", "use_dora": false, "rank_pattern": {}}"#;
        let config: LoraConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.check_supported(), Ok(()));
        assert_eq!(config.resolved_modules_to_save(), ["classifier", "score"]);
        let back: LoraConfig = serde_json::from_str(&config.to_json_string().unwrap()).unwrap();
        assert_eq!(back, config);
        assert_eq!(back.other["megatron_core"], "megatron.core");
    }

    #[test]
    fn unsupported_settings_are_named() {
        let mut config = LoraConfig::new(4, 8.0, vec!["query".into()]);
        config.target_modules = TargetModules::Pattern(r".*\.query".into());
        assert!(
            config
                .check_supported()
                .unwrap_err()
                .contains("regular expression")
        );
        config.target_modules = TargetModules::Pattern("all-linear".into());
        assert_eq!(config.check_supported(), Ok(()));
        config.other.insert("use_dora".into(), Value::Bool(true));
        assert!(config.check_supported().unwrap_err().contains("use_dora"));
    }
}
