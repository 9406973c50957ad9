//! BERT for sequence classification in [burn], with Hugging Face checkpoint parity.
//!
//! A pretrained Hugging Face BERT directory (`config.json` + `model.safetensors` or
//! `pytorch_model.bin`) loads into [`BertForSequenceClassification`] and produces the same
//! hidden states, pooler output and logits as `transformers` (within 1e-4, checked against
//! committed fixtures); [`BertForSequenceClassification::save_pretrained`] writes a directory
//! that `transformers.AutoModelForSequenceClassification` loads unchanged.
//!
//! Modules are named after the HF classes ([`BertEmbeddings`], [`BertSelfAttention`],
//! [`BertSelfOutput`], [`BertAttention`], [`BertIntermediate`], [`BertOutput`], [`BertLayer`],
//! [`BertEncoder`], [`BertPooler`], [`BertModel`]) and their fields after the HF key segments.
//! The crate knows burn and nothing else of bertfit; it names no backend: the caller picks one
//! through the [`Device`](burn::tensor::Device) it passes.
//!
//! ```no_run
//! use bertfit_model::{BertForSequenceClassification, BertInput};
//! use burn::tensor::Device;
//!
//! # fn main() -> bertfit_model::Result<()> {
//! let device = Device::default();
//! let (model, report) = BertForSequenceClassification::from_pretrained("models/minilm", &device)?;
//! println!("{report}"); // lists a freshly initialised classifier, if any
//! // [CLS] hello world [SEP] in all-MiniLM-L6-v2's vocabulary
//! let input = BertInput::from_slices(&[101, 7592, 2088, 102], None, None, [1, 4], &model.config, &device)?;
//! let probabilities = model.predict_proba(input);
//! println!("{probabilities}");
//! model.save_pretrained("models/minilm-copy")?;
//! # Ok(())
//! # }
//! ```

mod attention;
mod checkpoint;
mod classification;
mod config;
mod embeddings;
mod encoder;
mod error;
mod init;
mod model;

pub use attention::{BertAttention, BertSelfAttention, BertSelfOutput};
pub use checkpoint::{CONFIG_FILE, LoadReport, PYTORCH_FILE, SAFETENSORS_FILE, find_weights};
pub use classification::{BertForSequenceClassification, SequenceClassifierOutput, cross_entropy};
pub use config::{BertConfig, HiddenAct};
pub use embeddings::BertEmbeddings;
pub use encoder::{BertEncoder, BertIntermediate, BertLayer, BertOutput};
pub use error::{ModelError, Result};
pub use model::{BertInput, BertModel, BertModelOutput, BertPooledOutput, BertPooler};
