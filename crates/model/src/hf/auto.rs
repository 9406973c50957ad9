//! The dispatch: the one place that names every architecture. [`AutoConfig`] reads any
//! supported `config.json` by its `model_type`; [`AutoModelForSequenceClassification`] loads
//! any supported directory, as `transformers`' classes of the same names do.

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;

use super::checkpoint::{HfKeys, KeyScheme, config_path, find_weights};
use super::config::PretrainedConfig;
use crate::bert::{self, BertConfig, BertForSequenceClassification};
use crate::distilbert::{self, DistilBertConfig, DistilBertForSequenceClassification};
use crate::electra::{self, ElectraConfig, ElectraForSequenceClassification};
use crate::error::{ModelError, Result};
use crate::freeze::EncoderParts;
use crate::hf::LoadReport;
use crate::input::{EncoderInput, InputSpec};
use crate::roberta::{self, RobertaConfig, RobertaForSequenceClassification};
use crate::task::{SequenceClassifier, SequenceClassifierOutput};

/// The `model_type`s bertfit loads.
pub const SUPPORTED_MODEL_TYPES: [&str; 5] =
    ["bert", "distilbert", "roberta", "xlm-roberta", "electra"];

/// Each architecture's key scheme, by the `model_type` that names it (for recognising a
/// checkpoint under the wrong config).
pub(crate) const KEY_SCHEMES: [(&str, &KeyScheme); 4] = [
    ("bert", &bert::KEYS),
    ("distilbert", &distilbert::KEYS),
    ("roberta", &roberta::KEYS),
    ("electra", &electra::KEYS),
];

/// A `config.json` of any supported architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoConfig {
    /// `model_type` `"bert"`.
    Bert(BertConfig),
    /// `model_type` `"distilbert"`.
    DistilBert(DistilBertConfig),
    /// `model_type` `"roberta"` or `"xlm-roberta"`.
    Roberta(RobertaConfig),
    /// `model_type` `"electra"`.
    Electra(ElectraConfig),
}

/// The `model_type` of `json`, `"bert"` when absent (configs from before the key existed).
fn model_type_of(json: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        model_type: Option<String>,
    }
    let probe: Probe = serde_json::from_str(json)
        .map_err(|source| ModelError::ConfigParse { path: None, source })?;
    Ok(probe.model_type.unwrap_or_else(|| "bert".to_string()))
}

impl AutoConfig {
    /// Reads and validates a `config.json`, dispatching on its `model_type`.
    ///
    /// # Errors
    /// [`ModelError::Io`], [`ModelError::ConfigParse`], or [`ModelError::InvalidConfig`] — for
    /// an unsupported `model_type`, naming it and the supported ones.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        crate::hf::read_config(path.as_ref(), Self::from_json_str)
    }

    /// [`from_file`](Self::from_file) on `config.json` content.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), without the IO part.
    pub fn from_json_str(json: &str) -> Result<Self> {
        match model_type_of(json)?.as_str() {
            "bert" => BertConfig::from_json_str(json).map(Self::Bert),
            "distilbert" => DistilBertConfig::from_json_str(json).map(Self::DistilBert),
            "roberta" | "xlm-roberta" => RobertaConfig::from_json_str(json).map(Self::Roberta),
            "electra" => ElectraConfig::from_json_str(json).map(Self::Electra),
            other => Err(ModelError::InvalidConfig {
                key: "model_type".into(),
                message: format!(
                    "is \"{other}\", which bertfit does not support; supported: {}",
                    SUPPORTED_MODEL_TYPES.join(", ")
                ),
            }),
        }
    }

    /// The keys every architecture shares (labels, `model_type`, …).
    pub fn pretrained(&self) -> &PretrainedConfig {
        match self {
            Self::Bert(c) => &c.pretrained,
            Self::DistilBert(c) => &c.pretrained,
            Self::Roberta(c) => &c.0.pretrained,
            Self::Electra(c) => &c.bert.pretrained,
        }
    }

    fn pretrained_mut(&mut self) -> &mut PretrainedConfig {
        match self {
            Self::Bert(c) => &mut c.pretrained,
            Self::DistilBert(c) => &mut c.pretrained,
            Self::Roberta(c) => &mut c.0.pretrained,
            Self::Electra(c) => &mut c.bert.pretrained,
        }
    }

    /// Sets the classification labels (`id2label`, `label2id`, `num_labels`) from names by id.
    pub fn set_labels<S: AsRef<str>>(&mut self, names: &[S]) {
        self.pretrained_mut().set_labels(names);
    }

    /// Sets every dropout probability of the model (embeddings, attention, residual branches,
    /// head) to `p`, for deterministic training runs and tests.
    pub fn set_dropout(&mut self, p: f64) {
        match self {
            Self::Bert(c) => set_bert_dropout(c, p),
            Self::DistilBert(c) => {
                c.dropout = p;
                c.attention_dropout = p;
                c.seq_classif_dropout = p;
            }
            Self::Roberta(c) => set_bert_dropout(&mut c.0, p),
            Self::Electra(c) => set_bert_dropout(&mut c.bert, p),
        }
    }

    /// What the model's embeddings accept.
    pub fn input_spec(&self) -> InputSpec {
        match self {
            Self::Bert(c) => c.into(),
            Self::DistilBert(c) => c.into(),
            Self::Roberta(c) => c.into(),
            Self::Electra(c) => c.into(),
        }
    }
}

fn set_bert_dropout(config: &mut BertConfig, p: f64) {
    config.hidden_dropout_prob = p;
    config.attention_probs_dropout_prob = p;
    config.classifier_dropout = None;
}

/// A sequence classifier of any supported architecture (HF
/// `AutoModelForSequenceClassification`): built from an [`AutoConfig`], loaded from any
/// supported directory.
#[derive(Module, Debug)]
pub enum AutoModelForSequenceClassification {
    /// BERT.
    Bert(BertForSequenceClassification),
    /// DistilBERT.
    DistilBert(DistilBertForSequenceClassification),
    /// RoBERTa or XLM-RoBERTa.
    Roberta(RobertaForSequenceClassification),
    /// ELECTRA.
    Electra(ElectraForSequenceClassification),
}

/// Runs `$body` with `$model` bound to the architecture inside `$self`.
macro_rules! dispatch {
    ($self:expr, $model:ident => $body:expr) => {
        match $self {
            AutoModelForSequenceClassification::Bert($model) => $body,
            AutoModelForSequenceClassification::DistilBert($model) => $body,
            AutoModelForSequenceClassification::Roberta($model) => $body,
            AutoModelForSequenceClassification::Electra($model) => $body,
        }
    };
}

impl AutoModelForSequenceClassification {
    /// A randomly initialised model of `config`'s architecture (HF's initialisation).
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`] if the config does not validate.
    pub fn new(config: &AutoConfig, device: &Device) -> Result<Self> {
        Ok(match config {
            AutoConfig::Bert(c) => Self::Bert(BertForSequenceClassification::new(c, device)?),
            AutoConfig::DistilBert(c) => {
                Self::DistilBert(DistilBertForSequenceClassification::new(c, device)?)
            }
            AutoConfig::Roberta(c) => {
                Self::Roberta(RobertaForSequenceClassification::new(c, device)?)
            }
            AutoConfig::Electra(c) => {
                Self::Electra(ElectraForSequenceClassification::new(c, device)?)
            }
        })
    }

    /// Loads weights from a `.safetensors` or PyTorch pickle file into this model, in place;
    /// unchanged on error.
    ///
    /// # Errors
    /// As [`SequenceClassifier::from_pretrained`].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<LoadReport> {
        dispatch!(self, model => model.load_weights(path))
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> AutoConfig {
        match self {
            Self::Bert(m) => AutoConfig::Bert(m.config.clone()),
            Self::DistilBert(m) => AutoConfig::DistilBert(m.config.clone()),
            Self::Roberta(m) => AutoConfig::Roberta(m.config.clone()),
            Self::Electra(m) => AutoConfig::Electra(m.config.clone()),
        }
    }
}

impl SequenceClassifier for AutoModelForSequenceClassification {
    fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<(Self, LoadReport)> {
        let dir = dir.as_ref();
        let config = AutoConfig::from_file(config_path(dir)?)?;
        let weights = find_weights(dir)?;
        let mut model = Self::new(&config, device)?;
        let report = model.load_weights(&weights)?;
        Ok((model, report))
    }

    fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        dispatch!(self, model => SequenceClassifier::save_pretrained(model, dir))
    }

    fn config_json(&self) -> Result<String> {
        dispatch!(self, model => SequenceClassifier::config_json(model))
    }

    fn forward(
        &self,
        input: EncoderInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        dispatch!(self, model => model.forward(input, labels))
    }

    fn head_input(&self, input: EncoderInput) -> Tensor<2> {
        dispatch!(self, model => SequenceClassifier::head_input(model, input))
    }

    fn forward_head(
        &self,
        head_input: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        dispatch!(self, model => SequenceClassifier::forward_head(model, head_input, labels))
    }

    fn input_spec(&self) -> InputSpec {
        dispatch!(self, model => model.input_spec())
    }

    fn label_names(&self) -> Vec<String> {
        dispatch!(self, model => model.label_names())
    }

    fn architecture(&self) -> &'static str {
        dispatch!(self, model => model.architecture())
    }

    fn model_type(&self) -> &str {
        dispatch!(self, model => model.model_type())
    }

    fn hf_keys(&self) -> HfKeys {
        dispatch!(self, model => model.hf_keys())
    }

    fn encoder_parts(&self) -> EncoderParts {
        dispatch!(self, model => model.encoder_parts())
    }
}
