//! BERT-family encoders for sequence classification in [burn], with Hugging Face checkpoint
//! parity: BERT, DistilBERT, RoBERTa, XLM-RoBERTa and ELECTRA.
//!
//! A pretrained Hugging Face directory (`config.json` + `model.safetensors` or
//! `pytorch_model.bin`) of any of them loads into [`AutoModelForSequenceClassification`]
//! (dispatching on `config.json`'s `model_type`) and produces the same hidden states and logits
//! as `transformers` (within 1e-4, checked against committed fixtures);
//! [`SequenceClassifier::save_pretrained`] writes a directory that
//! `transformers.AutoModelForSequenceClassification` loads unchanged. Every architecture
//! implements [`SequenceClassifier`], which the trainer and inference are generic over.
//!
//! One module per architecture, its types named after the HF classes ([`BertEmbeddings`],
//! [`BertSelfAttention`], …, [`DistilBertForSequenceClassification`],
//! [`RobertaClassificationHead`], …) and their fields after the HF key segments; shared layers
//! (attention, activations, initialisation) and the checkpoint code live in one place each.
//! The crate knows burn and nothing else of bertfit; it names no backend: the caller picks one
//! through the [`Device`](burn::tensor::Device) it passes.
//!
//! ```no_run
//! use bertfit_model::{AutoModelForSequenceClassification, EncoderInput, SequenceClassifier};
//! use burn::tensor::Device;
//!
//! # fn main() -> bertfit_model::Result<()> {
//! let device = Device::default();
//! // Any supported directory: BERT, DistilBERT, RoBERTa, XLM-RoBERTa or ELECTRA.
//! let (model, report) = AutoModelForSequenceClassification::from_pretrained("models/minilm", &device)?;
//! println!("{} ({report})", model.architecture()); // lists a freshly initialised head, if any
//! // [CLS] hello world [SEP] in all-MiniLM-L6-v2's vocabulary
//! let input = EncoderInput::from_slices(&[101, 7592, 2088, 102], None, None, [1, 4], model.input_spec(), &device)?;
//! let probabilities = model.predict_proba(input);
//! println!("{probabilities}");
//! model.save_pretrained("models/minilm-copy")?;
//! # Ok(())
//! # }
//! ```

mod bert;
mod distilbert;
mod electra;
mod error;
mod freeze;
mod hf;
mod input;
mod nn;
pub mod peft;
mod roberta;
mod task;

pub use bert::{
    BertAttention, BertConfig, BertEmbeddings, BertEncoder, BertForSequenceClassification,
    BertIntermediate, BertLayer, BertModel, BertModelOutput, BertOutput, BertPooledOutput,
    BertPooler, BertSelfAttention, BertSelfOutput,
};
pub use distilbert::{
    DistilBertConfig, DistilBertEmbeddings, DistilBertForSequenceClassification, DistilBertModel,
    Ffn, MultiHeadSelfAttention, Transformer, TransformerBlock,
};
pub use electra::{
    ElectraClassificationHead, ElectraConfig, ElectraForSequenceClassification, ElectraModel,
};
pub use error::{ModelError, Result};
pub use freeze::{
    EncoderParts, Freezing, TrainLayers, TrainLayersParseError, trainable_parameters,
};
pub use hf::{
    AutoConfig, AutoModelForSequenceClassification, CONFIG_FILE, HfKeys, LoadReport, PYTORCH_FILE,
    PretrainedConfig, SAFETENSORS_FILE, SUPPORTED_MODEL_TYPES, find_weights,
};
pub use input::{BertInput, EncoderInput, InputSpec};
pub use nn::HiddenAct;
pub use roberta::{
    RobertaClassificationHead, RobertaConfig, RobertaForSequenceClassification, RobertaModel,
};
pub use task::{SequenceClassifier, SequenceClassifierOutput, cross_entropy};
