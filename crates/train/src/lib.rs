//! Training for bertfit: the Hugging Face `Trainer` recipe in burn.
//!
//! Being built under its own issue. Architecture invariant: this crate uses `bertfit-data`,
//! `bertfit-tokenize` and `bertfit-model`, and names no backend: the caller passes a
//! [`Device`](burn::tensor::Device).

pub use bertfit_data as data;
pub use bertfit_model as model;
pub use bertfit_tokenize as tokenize;
