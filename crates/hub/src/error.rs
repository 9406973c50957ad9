//! The crate's error type: each message names the repo, the request and the fix.

use std::path::PathBuf;

use crate::options::DEFAULT_ENDPOINT;
use crate::repo::{RepoId, RepoKind};

/// What a token must allow for the request that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Downloading.
    Read,
    /// Creating a repo or committing to it.
    Write,
}

/// What to do without a token, or with a refused one.
pub const TOKEN_HINT: &str = "set HF_TOKEN to a token with write access \
     (https://huggingface.co/settings/tokens) or run `huggingface-cli login`";

/// The Hub client's own error, the source of the request errors below: hf-hub's `HFError`.
#[cfg(feature = "client")]
pub type ClientError = hf_hub::HFError;

/// The Hub client's own error; a build without the `client` feature has no client, so no value
/// of it exists.
#[cfg(not(feature = "client"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientError {}

#[cfg(not(feature = "client"))]
impl std::fmt::Display for ClientError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

#[cfg(not(feature = "client"))]
impl std::error::Error for ClientError {}

/// Everything that can go wrong talking to the Hub or reading its cache. hf-hub's own error
/// stays reachable through [`source`](std::error::Error::source); a token never appears in a
/// message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// A repo id that the Hub would refuse.
    #[error(
        "{id:?} is not a valid Hub repo id ({reason}); expected `name` or `owner/name` made of \
         letters, digits, '-', '_' and '.', e.g. google-bert/bert-base-cased"
    )]
    InvalidRepoId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        reason: String,
    },

    /// `HF_ENDPOINT` is not an http(s) URL.
    #[error("HF_ENDPOINT {endpoint:?} is not an http(s) URL; unset it to use {DEFAULT_ENDPOINT}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },

    /// A request to the Hub in a build without the Hub client (bertfit-hub's `client` feature,
    /// which the `hub` feature of bertfit-data and bertfit-cli turns on).
    #[error(
        "{action} needs the Hugging Face Hub client, and this build of bertfit has none: it was \
         compiled without the `hub` cargo feature (as `cargo xtask finetune --preset demo` builds \
         it); rebuild with the default features, e.g. `cargo build --release -p bertfit-cli`{}",
        if *download { ", or set HF_HUB_OFFLINE=1 to use what the Hugging Face cache holds" } else { "" }
    )]
    ClientNotBuilt {
        /// What was asked ("downloading model bert-base-cased").
        action: String,
        /// Whether it was a download (which the cache can answer offline).
        download: bool,
    },

    /// An upload without a token.
    #[error("pushing to the Hub needs an access token: {TOKEN_HINT}")]
    NoToken,

    /// `HF_HUB_OFFLINE` is set and the cache lacks what was asked for.
    #[error(
        "offline mode (HF_HUB_OFFLINE) is on and {kind} {repo}@{revision} is not (completely) in \
         the Hugging Face cache {}; unset HF_HUB_OFFLINE to download it, or set \
         HF_HOME/HF_HUB_CACHE to where it is cached",
        cache_dir.display()
    )]
    OfflineNotCached {
        /// The repo.
        repo: RepoId,
        /// Model or dataset.
        kind: RepoKind,
        /// The revision asked for.
        revision: String,
        /// The hub cache directory searched.
        cache_dir: PathBuf,
    },

    /// The endpoint could not be reached (connection refused, DNS, timeout).
    #[error(
        "cannot reach the Hub: {endpoint} is unreachable ({cause}); check the network, or \
         HF_ENDPOINT if it is set (unset it to use {DEFAULT_ENDPOINT})"
    )]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// The request that failed.
        url: String,
        /// The transport error, in words.
        cause: String,
        /// hf-hub's error.
        #[source]
        source: Box<ClientError>,
    },

    /// The endpoint could not be reached and the cache lacks what was asked for.
    #[error(
        "cannot reach the Hub to download {kind} {repo}@{revision}, and it is not (completely) in \
         the Hugging Face cache {}; check the network, or HF_ENDPOINT if it is set (unset it to \
         use {DEFAULT_ENDPOINT})",
        cache_dir.display()
    )]
    UnreachableNotCached {
        /// The repo.
        repo: RepoId,
        /// Model or dataset.
        kind: RepoKind,
        /// The revision asked for.
        revision: String,
        /// The hub cache directory searched.
        cache_dir: PathBuf,
        /// The [`HubError::Unreachable`] error.
        #[source]
        source: Box<HubError>,
    },

    /// HTTP 404: no such repo, revision or file.
    #[error(
        "{url}: HTTP 404: no {kind} repo {repo} at revision {revision}, or it lacks this file; \
         check the id and the revision (a branch other than main must exist first)"
    )]
    NotFound {
        /// The request that failed.
        url: String,
        /// The repo.
        repo: RepoId,
        /// Model or dataset.
        kind: RepoKind,
        /// The revision.
        revision: String,
        /// hf-hub's error.
        #[source]
        source: Box<ClientError>,
    },

    /// HTTP 401 or 403.
    #[error("{url}: HTTP {status}{detail}: {}", unauthorized_hint(*access, *kind, repo))]
    Unauthorized {
        /// The request that failed.
        url: String,
        /// The repo.
        repo: RepoId,
        /// Model or dataset.
        kind: RepoKind,
        /// 401 or 403.
        status: u16,
        /// Reading or writing.
        access: Access,
        /// The Hub's message, ` (…)`, or empty.
        detail: String,
        /// hf-hub's error.
        #[source]
        source: Box<ClientError>,
    },

    /// A download was cut off half way.
    #[error(
        "{url}: the download was interrupted ({cause}); nothing half-written is used: run again \
         to download it anew"
    )]
    Interrupted {
        /// The request that failed.
        url: String,
        /// The error, in words.
        cause: String,
        /// hf-hub's error.
        #[source]
        source: Box<ClientError>,
    },

    /// Any other HTTP error status.
    #[error("{step}: {url} answered HTTP {status}{detail}: {hint}")]
    Http {
        /// What was being done ("creating the repo").
        step: String,
        /// The request that failed.
        url: String,
        /// The status.
        status: u16,
        /// The Hub's message, ` (…)`, or empty.
        detail: String,
        /// What to do.
        hint: String,
        /// hf-hub's error.
        #[source]
        source: Box<ClientError>,
    },

    /// Anything else hf-hub reported: a malformed answer, a Xet transfer failure, a cache error.
    #[error(
        "{step}: {cause}; is HF_ENDPOINT ({endpoint}) a Hugging Face Hub (or an up-to-date mirror)?"
    )]
    Request {
        /// What was being done.
        step: String,
        /// The endpoint.
        endpoint: String,
        /// The error, in words.
        cause: String,
        /// hf-hub's error.
        #[source]
        source: Box<ClientError>,
    },

    /// The repo lacks the files the caller needs.
    #[error("{kind} repo {repo}@{revision}: {what}")]
    Incomplete {
        /// The repo.
        repo: RepoId,
        /// Model or dataset.
        kind: RepoKind,
        /// The revision.
        revision: String,
        /// What is missing.
        what: String,
    },

    /// Reading a local file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "read", "list" …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`HubError`].
pub type Result<T, E = HubError> = std::result::Result<T, E>;

fn unauthorized_hint(access: Access, kind: RepoKind, repo: &RepoId) -> String {
    match access {
        Access::Read => format!(
            "{kind} {repo} is private or gated; set HF_TOKEN to a token that can read it, and \
             accept its terms on its Hub page if it is gated"
        ),
        Access::Write => format!(
            "the token was refused or lacks write access to {repo} (a read-only token cannot \
             push, and {:?} must be your user or an organisation you can write to); {TOKEN_HINT}",
            repo.owner().unwrap_or(repo.name())
        ),
    }
}

impl HubError {
    /// The URL (or endpoint) of the failed request, when there was one.
    pub fn url(&self) -> Option<&str> {
        match self {
            Self::UnreachableNotCached { source, .. } => source.url(),
            Self::Unreachable { url, .. }
            | Self::NotFound { url, .. }
            | Self::Unauthorized { url, .. }
            | Self::Interrupted { url, .. }
            | Self::Http { url, .. } => Some(url),
            Self::Request { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// The HTTP status the Hub answered, when it answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::NotFound { .. } => Some(404),
            Self::Unauthorized { status, .. } | Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}
