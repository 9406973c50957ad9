//! Labelled text datasets for bertfit: what `datasets.load_dataset("imdb")` gives the Python
//! workflow, in Rust, with the **same rows** for the same shuffle seed.
//!
//! - **Sources** ([`Source`]): a dataset repo on the Hugging Face Hub ([`HubSource`], e.g.
//!   `stanfordnlp/imdb`, through `bertfit-hub` and the standard HF cache, honouring `HF_ENDPOINT`,
//!   `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HOME`); local parquet, CSV and JSONL files (polars' eager
//!   readers) with configurable column names and label names; the original `aclImdb` folder.
//! - **Splits** ([`DatasetDict`] of [`TextDataset`]s): `dict["train"][100]` is a [`TextRow`]
//!   (text, label, optional rating, index in the source); lengths, [`label_counts`], the shared
//!   [`LabelMap`] (`id2label`).
//! - **`datasets`-identical order**: [`TextDataset::shuffle`] uses numpy's
//!   `default_rng(seed).permutation(len)` ported bit for bit ([`permutation`], module [`rng`]),
//!   so `shuffle(42).select(0..500)` picks the rows `ds.shuffle(seed=42).select(range(500))`
//!   picks; [`train_test_split`] matches `datasets` too. Also [`filter`] and
//!   [`stratified_sample`].
//! - **burn**: [`TextDataset`] implements `burn_dataset::Dataset<TextRow>`, so burn's data
//!   loaders, samplers and shuffled/partial wrappers take it directly. (No burn tensors here, and
//!   no tokenizer: architecture invariant.)
//! - **Data we ship**: [`generate`] writes labelled movie-review-like texts in the IMDB schema;
//!   a sample is committed under the workspace's `data/`.
//!
//! Every failure is a [`DataError`] naming the file, column, row or split and the fix.
//!
//! [`label_counts`]: TextDataset::label_counts
//! [`train_test_split`]: TextDataset::train_test_split
//! [`filter`]: TextDataset::filter
//! [`stratified_sample`]: TextDataset::stratified_sample
//!
//! # Example
//!
//! ```
//! use bertfit_data::{DatasetDict, LoadOptions, Source, generate};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Write a small parquet split in the IMDB schema, then load it back.
//! let dir = tempfile::tempdir()?;
//! generate::generate_dataset(1_000, 42).write_parquet(dir.path().join("train.parquet"))?;
//!
//! let imdb = DatasetDict::load(&Source::Parquet(dir.path().into()), &LoadOptions::default())?;
//! let train = imdb.split("train")?;
//! assert_eq!(train.len(), 1_000);
//! assert_eq!(imdb.id2label()[&1], "pos");
//! println!("{:?}", train.label_counts()); // {0: 500, 1: 500}
//!
//! // Python: ds["train"].shuffle(seed=42).select(range(500))
//! let subset = train.shuffle(42).select(0..500)?;
//! assert_eq!(subset[0].source_index, bertfit_data::permutation(1_000, 42)[0]);
//! # Ok(())
//! # }
//! ```
//!
//! From the Hub (`load_dataset("imdb")`), reusing Python's cache:
//!
//! ```no_run
//! use bertfit_data::{DatasetDict, LoadOptions, Source};
//!
//! # fn main() -> bertfit_data::Result<()> {
//! let imdb = DatasetDict::load(&Source::imdb(), &LoadOptions::default())?;
//! let row = &imdb["train"][100];
//! println!("{} → {}", &row.text[..60], imdb.label_map().name(row.label).unwrap_or("?"));
//! # Ok(())
//! # }
//! ```

mod acl;
mod dataset;
mod error;
mod files;
pub mod generate;
mod hub;
mod label;
mod load;
pub mod rng;

pub use bertfit_hub::{DEFAULT_ENDPOINT, HubOptions};
pub use dataset::{DatasetDict, SplitInfo, TestSize, TextDataset, TextRow, TrainTestSplit};
pub use error::{DataError, Result};
pub use files::FileFormat;
pub use hub::HubSource;
pub use label::LabelMap;
pub use load::{LoadOptions, Source};
pub use rng::permutation;

/// burn's dataset trait and wrappers, re-exported so users need not name `burn-dataset`.
pub use burn_dataset;
