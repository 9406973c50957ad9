//! [`PretrainedConfig`]: the keys every HF `config.json` shares (labels, problem type,
//! architectures, `model_type`), and every key an architecture does not model, kept for the save.
//!
//! Ported from `transformers/configuration_utils.py` (`PretrainedConfig`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The architecture-independent part of a `config.json`, flattened into each architecture's
/// config struct (`#[serde(flatten)]`), so files read and write with no remapping.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PretrainedConfig {
    /// Label names by id, with string keys as in `config.json` (`{"0": "NEGATIVE", ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Label ids by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label2id: Option<BTreeMap<String, usize>>,
    /// Number of labels when `id2label` is absent (HF's default is 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// `"single_label_classification"` or `None` (the only problem type bertfit trains).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    /// Model classes this checkpoint was saved from.
    pub architectures: Option<Vec<String>>,
    /// The architecture family (`"bert"`, `"distilbert"`, `"roberta"`, …).
    pub model_type: Option<String>,
    /// Every other key of `config.json`, kept so that a save writes it back.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn invalid(key: &str, message: String) -> ModelError {
    ModelError::InvalidConfig {
        key: key.to_string(),
        message,
    }
}

impl PretrainedConfig {
    /// The common keys of a config of `model_type`.
    pub fn new(model_type: &str) -> Self {
        Self {
            model_type: Some(model_type.to_string()),
            ..Self::default()
        }
    }

    /// Number of labels of the classification head: `len(id2label)`, else `num_labels`, else 2.
    pub fn num_labels(&self) -> usize {
        match &self.id2label {
            Some(map) => map.len(),
            None => self.num_labels.unwrap_or(2),
        }
    }

    /// Label names ordered by id; `LABEL_0`, `LABEL_1`, … when `config.json` names none (as HF).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] if the `id2label` keys are not exactly `0..n`.
    pub fn labels(&self) -> Result<Vec<String>> {
        let Some(map) = &self.id2label else {
            return Ok((0..self.num_labels.unwrap_or(2))
                .map(|i| format!("LABEL_{i}"))
                .collect());
        };
        let mut labels = vec![None; map.len()];
        for (key, name) in map {
            let slot = key
                .parse::<usize>()
                .ok()
                .and_then(|id| labels.get_mut(id))
                .ok_or_else(|| {
                    invalid(
                        "id2label",
                        format!(
                            "key \"{key}\" is not an id in 0..{}; ids must be 0, 1, …",
                            map.len()
                        ),
                    )
                })?;
            *slot = Some(name.clone());
        }
        Ok(labels.into_iter().flatten().collect())
    }

    /// Sets the classification labels (`id2label`, `label2id`, `num_labels`) from names by id.
    pub fn set_labels<S: AsRef<str>>(&mut self, names: &[S]) {
        self.id2label = Some(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (i.to_string(), n.as_ref().to_string()))
                .collect(),
        );
        self.label2id = Some(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_ref().to_string(), i))
                .collect(),
        );
        self.num_labels = Some(names.len());
    }

    /// Checks `model_type` against the ones a config struct reads (`accepted`, the first being
    /// its own).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the `model_type` and the supported ones.
    pub fn check_model_type(&self, accepted: &[&str]) -> Result<()> {
        if let Some(model_type) = &self.model_type
            && !accepted.contains(&model_type.as_str())
        {
            let quoted: Vec<String> = accepted.iter().map(|t| format!("\"{t}\"")).collect();
            return Err(invalid(
                "model_type",
                format!(
                    "is \"{model_type}\"; this config reads {} only (bertfit supports {})",
                    quoted.join(", "),
                    crate::hf::SUPPORTED_MODEL_TYPES.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Checks the label keys (`id2label`, `label2id`, `num_labels`) and `problem_type`.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] naming the offending key and the fix.
    pub fn validate_labels(&self) -> Result<()> {
        let labels = self.labels()?;
        if labels.len() < 2 {
            return Err(invalid(
                "num_labels",
                format!(
                    "is {}; sequence classification needs at least 2 labels (regression is not supported)",
                    labels.len()
                ),
            ));
        }
        if let Some(n) = self.num_labels
            && self.id2label.is_some()
            && n != labels.len()
        {
            return Err(invalid(
                "num_labels",
                format!("is {n} but id2label names {} labels", labels.len()),
            ));
        }
        if let Some(label2id) = &self.label2id {
            for (name, &id) in label2id {
                if labels.get(id) != Some(name) {
                    return Err(invalid(
                        "label2id",
                        format!("maps \"{name}\" to {id}, which id2label does not agree with"),
                    ));
                }
            }
        }
        match self.problem_type.as_deref() {
            None | Some("single_label_classification") => Ok(()),
            Some(other) => Err(invalid(
                "problem_type",
                format!(
                    "\"{other}\" is not supported; bertfit trains \"single_label_classification\""
                ),
            )),
        }
    }

    /// These keys as transformers 5's `save_pretrained` of `architecture` (e.g.
    /// `"BertForSequenceClassification"`) writes them: that class, `model_type`, and the labels
    /// as `id2label`/`label2id` unless they are the default `LABEL_0`, `LABEL_1` (then no label
    /// key at all; `num_labels` is never written, `id2label` says it).
    ///
    /// # Errors
    /// As [`labels`](Self::labels).
    pub fn for_sequence_classification(
        &self,
        architecture: &str,
        model_type: &str,
    ) -> Result<Self> {
        let mut config = self.clone();
        let labels = self.labels()?;
        if labels == ["LABEL_0", "LABEL_1"] {
            config.id2label = None;
            config.label2id = None;
        } else {
            config.set_labels(&labels);
        }
        config.num_labels = None;
        config.architectures = Some(vec![architecture.to_string()]);
        config.model_type = Some(model_type.to_string());
        Ok(config)
    }
}

/// Parses `json` into a config struct, first filling the keys it lacks from `defaults` (an
/// architecture's own HF defaults where they differ from the struct's `Default`), the way HF's
/// config classes default their constructor arguments.
pub(crate) fn from_json_with_defaults<T: serde::de::DeserializeOwned>(
    json: &str,
    defaults: &[(&str, serde_json::Value)],
) -> Result<T> {
    let parse = |source| ModelError::ConfigParse { path: None, source };
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(parse)?;
    if let Some(object) = value.as_object_mut() {
        for (key, default) in defaults {
            object
                .entry(key.to_string())
                .or_insert_with(|| default.clone());
        }
    }
    serde_json::from_value(value).map_err(parse)
}
