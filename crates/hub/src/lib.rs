//! The Hugging Face Hub client of bertfit, on Hugging Face's own `hf-hub` 1.0 (no burn, no
//! polars): every crate that talks to the Hub goes through this one.
//!
//! - **Options** ([`HubOptions`]): endpoint, token, offline mode and cache from the variables
//!   Python's `huggingface_hub` reads (`HF_ENDPOINT`, `HF_TOKEN`, `HF_TOKEN_PATH`,
//!   `HF_HUB_OFFLINE`, `HF_HUB_CACHE`, `HF_HOME`).
//! - **Repo ids** ([`RepoId`], [`RepoKind`]): the one validator, `huggingface_hub`'s rule.
//! - **Download** ([`Hub::snapshot`], [`cached_snapshot`]): the files a caller picks from a
//!   model or dataset repo, in the Python-compatible cache
//!   (`<cache>/{models|datasets}--<owner>--<name>/{blobs,snapshots/<commit>,refs/<revision>}`),
//!   so what Python downloaded is reused and the other way round. Offline, or with the Hub
//!   unreachable, the cache answers, never silently.
//! - **Upload** ([`Hub::push`]): create a model repo and commit files to it; large files go
//!   through the Hub's Xet storage, deduplicated.
//!
//! Every failure is a [`HubError`] naming the repo, the request and the fix, without the token.
//!
//! # Example
//!
//! ```no_run
//! use bertfit_hub::{Hub, HubError, RepoId, RepoKind};
//!
//! # fn main() -> Result<(), HubError> {
//! let hub = Hub::from_env();
//! let repo = RepoId::parse("google-bert/bert-base-cased")?;
//! let snapshot = hub.snapshot(&repo, RepoKind::Model, |listing| {
//!     let wanted = ["config.json", "model.safetensors", "vocab.txt"];
//!     Ok::<_, HubError>(
//!         wanted
//!             .iter()
//!             .all(|f| listing.files.iter().any(|l| l == f))
//!             .then(|| wanted.iter().map(|f| f.to_string()).collect()),
//!     )
//! })?;
//! println!("{}", snapshot.path("config.json").display());
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "client")]
mod client;
mod download;
mod error;
mod options;
mod repo;
mod upload;

pub use download::{Hub, Listing, Origin, Snapshot, cached_snapshot};
pub use error::{Access, ClientError, HubError, Result, TOKEN_HINT};
pub use options::{DEFAULT_ENDPOINT, HubOptions};
pub use repo::{RepoId, RepoKind};
pub use upload::{Content, PushRequest, PushSummary, PushedFile, UploadFile, UploadMode};
