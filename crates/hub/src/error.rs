//! The crate's error type: each message names the repo, the request and the fix.

use std::path::PathBuf;

use hf_hub::HFError;

use crate::options::{DEFAULT_ENDPOINT, HubOptions};
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
        source: Box<HFError>,
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
        source: Box<HFError>,
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
        source: Box<HFError>,
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
        source: Box<HFError>,
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
        source: Box<HFError>,
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
        source: Box<HFError>,
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

/// Where an hf-hub error happened, to turn it into a [`HubError`].
pub(crate) struct Context<'a> {
    pub options: &'a HubOptions,
    pub repo: &'a RepoId,
    pub kind: RepoKind,
    pub access: Access,
    /// What was being done, for messages ("creating the repo").
    pub step: &'a str,
    /// The URL requested, when hf-hub's error does not say.
    pub url: &'a str,
    /// Whether the request was a content download (a cut-off body is then an interruption).
    pub download: bool,
}

/// The root cause of `error` (its innermost source), in words, without the token; the whole
/// chain stays reachable through `source()`.
fn cause_of(error: &(dyn std::error::Error + 'static), options: &HubOptions) -> String {
    let mut root = error;
    while let Some(next) = root.source() {
        root = next;
    }
    options.redact(&root.to_string())
}

/// Whether `error` means the endpoint could not be reached at all.
pub(crate) fn is_unreachable(error: &HFError) -> bool {
    match error {
        HFError::Request { source, .. } => source.is_connect() || source.is_timeout(),
        _ => false,
    }
}

impl Context<'_> {
    pub(crate) fn error(&self, error: HFError) -> HubError {
        let options = self.options;
        let detail_of = |message: &Option<String>| {
            message
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(|m| format!(" ({})", options.redact(m)))
                .unwrap_or_default()
        };
        let (status, url, detail) = match &error {
            HFError::AuthRequired { context } => {
                (401, context.url.clone(), detail_of(&context.server_message))
            }
            HFError::Forbidden { context } => {
                (403, context.url.clone(), detail_of(&context.server_message))
            }
            HFError::RepoNotFound { context, .. }
            | HFError::RevisionNotFound { context, .. }
            | HFError::EntryNotFound { context, .. } => (
                404,
                context
                    .as_ref()
                    .map_or_else(|| self.url.to_string(), |c| c.url.clone()),
                String::new(),
            ),
            HFError::Http { context }
            | HFError::Conflict { context }
            | HFError::RateLimited { context, .. } => (
                context.status.as_u16(),
                context.url.clone(),
                detail_of(&context.server_message),
            ),
            HFError::Request { source, url } => {
                let url = url.clone().unwrap_or_else(|| self.url.to_string());
                let cause = cause_of(source, options);
                let source = Box::new(error);
                if is_unreachable(&source) {
                    return HubError::Unreachable {
                        endpoint: options.endpoint.clone(),
                        url,
                        cause,
                        source,
                    };
                }
                if self.download {
                    return HubError::Interrupted { url, cause, source };
                }
                return HubError::Request {
                    step: format!("{} ({url})", self.step),
                    endpoint: options.endpoint.clone(),
                    cause,
                    source,
                };
            }
            HFError::Io(_) if self.download => {
                let cause = cause_of(&error, options);
                return HubError::Interrupted {
                    url: self.url.to_string(),
                    cause,
                    source: Box::new(error),
                };
            }
            _ => {
                let cause = cause_of(&error, options);
                return HubError::Request {
                    step: self.step.to_string(),
                    endpoint: options.endpoint.clone(),
                    cause,
                    source: Box::new(error),
                };
            }
        };
        let source = Box::new(error);
        match status {
            404 => HubError::NotFound {
                url,
                repo: self.repo.clone(),
                kind: self.kind,
                revision: options.revision.clone(),
                source,
            },
            401 | 403 => HubError::Unauthorized {
                url,
                repo: self.repo.clone(),
                kind: self.kind,
                status,
                access: self.access,
                detail,
                source,
            },
            _ => HubError::Http {
                step: self.step.to_string(),
                url,
                status,
                detail,
                hint: match status {
                    413 => "the Hub refused the request as too large".to_string(),
                    429 => "rate-limited by the Hub; wait a little and try again".to_string(),
                    500..=599 => "the Hub had a server error; try again later".to_string(),
                    _ => format!(
                        "unexpected answer; is HF_ENDPOINT ({}) a Hugging Face Hub?",
                        options.endpoint
                    ),
                },
                source,
            },
        }
    }
}
