//! Hugging Face model directories: `config.json` dispatch on `model_type`, checkpoint load
//! ([`LoadReport`]) and save, shared by every architecture.

mod auto;
mod checkpoint;
mod config;

pub(crate) use auto::KEY_SCHEMES;
pub use auto::{AutoConfig, AutoModelForSequenceClassification, SUPPORTED_MODEL_TYPES};
pub use checkpoint::{
    CONFIG_FILE, HfKeys, LoadReport, PYTORCH_FILE, SAFETENSORS_FILE, find_weights,
};
pub(crate) use checkpoint::{
    KeyScheme, from_pretrained, hf_state_dict_shapes, is_lora_factor, load_weights,
    read_checkpoint, read_config, save_pretrained, write_atomically, write_safetensors,
};
pub use config::PretrainedConfig;
pub(crate) use config::from_json_with_defaults;
