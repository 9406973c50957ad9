//! Dataset repos on the Hugging Face Hub, through `hf-hub` and the standard HF cache.
//!
//! Files land where Python's `huggingface_hub` puts them
//! (`<cache>/datasets--<org>--<name>/{blobs,snapshots/<commit>,refs/<revision>}`), so what
//! Python's `datasets` already downloaded is reused and the other way round. `hf-hub` (its
//! blocking `ureq` API) makes these requests:
//!
//! - `GET {endpoint}/api/datasets/{repo_id}/revision/{revision}` — the file list (`siblings`)
//!   and commit (`sha`), to find each split's parquet files;
//! - `GET {endpoint}/datasets/{repo_id}/resolve/{revision}/{file}` with `Range: bytes=0-0` — the
//!   file's `ETag`/`X-Linked-Etag`, `X-Repo-Commit` and size (`Content-Range`);
//! - the same URL with `Range: bytes={start}-` — the content, appended to `blobs/<etag>.part`
//!   and renamed when complete; an interrupted download resumes from the partial file.
//!
//! Files already in the cache for the revision are not requested again. With
//! [`HubOptions::offline`] no request is made at all; when the endpoint cannot be reached the
//! cached files are used if the cache has them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};

use crate::dataset::split_rank;
use crate::error::{DataError, Result};
use crate::load::{LoadOptions, SplitFiles, strip_shard_suffix};

/// The Hub's default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// How to reach the Hub and where its cache is. [`HubOptions::from_env`] (also the
/// [`Default`]) reads the variables Python's `huggingface_hub` reads.
#[derive(Clone, PartialEq, Eq)]
pub struct HubOptions {
    /// Base URL (`HF_ENDPOINT`, default `https://huggingface.co`).
    pub endpoint: String,
    /// Access token (`HF_TOKEN`, else the file `HF_TOKEN_PATH` or `$HF_HOME/token` that
    /// `huggingface-cli login` writes).
    pub token: Option<String>,
    /// Use only the cache, never the network (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// The hub cache directory (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Branch, tag or commit (default `main`).
    pub revision: String,
    /// How many times a failed download is resumed before giving up (default 3).
    pub retries: usize,
    /// Show a download progress bar on stderr (default off).
    pub progress: bool,
}

impl std::fmt::Debug for HubOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubOptions")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("offline", &self.offline)
            .field("cache_dir", &self.cache_dir)
            .field("revision", &self.revision)
            .field("retries", &self.retries)
            .field("progress", &self.progress)
            .finish()
    }
}

impl Default for HubOptions {
    fn default() -> Self {
        Self::from_env()
    }
}

fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

impl HubOptions {
    /// Options from `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`, `HF_HUB_CACHE`, `HF_HOME`.
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
    }

    /// Options from any variable lookup (what [`from_env`](Self::from_env) does with the process
    /// environment).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from);
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let base = var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"));
            base.join("huggingface")
        });
        let cache_dir = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let token = var("HF_TOKEN").or_else(|| {
            let path = var("HF_TOKEN_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| hf_home.join("token"));
            std::fs::read_to_string(path)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        Self {
            endpoint: var("HF_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            token,
            offline: var("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v)),
            cache_dir,
            revision: "main".into(),
            retries: 3,
            progress: false,
        }
    }
}

/// A dataset repo on the Hub whose splits are parquet files, e.g. `stanfordnlp/imdb`
/// (`plain_text/{train,test,unsupervised}-00000-of-00001.parquet`).
///
/// Split files are found in the repo's file list: `<config>/<split>-NNNNN-of-NNNNN.parquet`
/// (shards concatenated in order), `<config>/<split>/NNNN.parquet` (the Hub's
/// `refs/convert/parquet` layout) or `<config>/<split>.parquet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSource {
    /// `org/name`.
    pub repo_id: String,
    /// The config (the folder holding the split files, e.g. `plain_text`); `None` picks the only
    /// one there is.
    pub config: Option<String>,
    /// Endpoint, token, cache, revision, offline mode.
    pub options: HubOptions,
}

impl HubSource {
    /// `repo_id` with options from the environment and no config chosen.
    pub fn new(repo_id: impl Into<String>) -> Self {
        Self {
            repo_id: repo_id.into(),
            config: None,
            options: HubOptions::from_env(),
        }
    }

    /// Chooses the config.
    pub fn config(mut self, config: impl Into<String>) -> Self {
        self.config = Some(config.into());
        self
    }

    /// Chooses the branch, tag or commit.
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.options.revision = revision.into();
        self
    }

    /// Replaces the options.
    pub fn options(mut self, options: HubOptions) -> Self {
        self.options = options;
        self
    }
}

/// Where a parquet file in a repo belongs: `(config folder, split)`.
fn classify(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".parquet")?;
    let (dir, name) = match stem.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", stem),
    };
    let stripped = strip_shard_suffix(name);
    if stripped != name {
        return Some((dir.to_string(), stripped.to_string()));
    }
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        // `<config>/<split>/0000.parquet`
        let (config, split) = match dir.rsplit_once('/') {
            Some((config, split)) => (config, split),
            None => ("", dir),
        };
        if split.is_empty() {
            return None;
        }
        return Some((config.to_string(), split.to_string()));
    }
    Some((dir.to_string(), name.to_string()))
}

fn config_matches(dir: &str, config: &str) -> bool {
    dir == config || (config == "default" && (dir.is_empty() || dir == "data"))
}

/// The split files of `config` among a repo's files, splits in the usual order, files sorted.
pub(crate) fn split_files(
    files: &[String],
    repo_id: &str,
    revision: &str,
    config: Option<&str>,
) -> Result<Vec<(String, Vec<String>)>> {
    let parquet: Vec<(&String, (String, String))> = files
        .iter()
        .filter_map(|f| classify(f).map(|c| (f, c)))
        .collect();
    let config = match config {
        Some(c) => c.to_string(),
        None => {
            let mut dirs: Vec<&str> = parquet.iter().map(|(_, (d, _))| d.as_str()).collect();
            dirs.sort_unstable();
            dirs.dedup();
            match dirs.as_slice() {
                [one] => one.to_string(),
                [] => String::from("*"),
                many => {
                    return Err(DataError::HubAmbiguousConfig {
                        repo_id: repo_id.to_string(),
                        configs: many.iter().map(|d| d.to_string()).collect(),
                    });
                }
            }
        }
    };
    let mut by_split: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, (dir, split)) in &parquet {
        if config_matches(dir, &config) {
            by_split
                .entry(split.clone())
                .or_default()
                .push((*file).clone());
        }
    }
    if by_split.is_empty() {
        return Err(DataError::HubNoSplits {
            repo_id: repo_id.to_string(),
            revision: revision.to_string(),
            config,
            files: parquet.iter().map(|(f, _)| (*f).clone()).collect(),
        });
    }
    let mut splits: Vec<(String, Vec<String>)> = by_split
        .into_iter()
        .map(|(split, mut files)| {
            files.sort();
            (split, files)
        })
        .collect();
    splits.sort_by_key(|(name, _)| split_rank(name));
    Ok(splits)
}

fn repo_of(source: &HubSource) -> Repo {
    Repo::with_revision(
        source.repo_id.clone(),
        RepoType::Dataset,
        source.options.revision.clone(),
    )
}

/// The cached snapshot directory for the source's revision, if any.
fn cached_snapshot(source: &HubSource) -> Option<PathBuf> {
    let repo_dir = source.options.cache_dir.join(repo_of(source).folder_name());
    let revision = &source.options.revision;
    let commit = std::fs::read_to_string(repo_dir.join("refs").join(revision))
        .ok()
        .map(|c| c.trim().to_string())
        .or_else(|| {
            (revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| revision.clone())
        })?;
    let dir = repo_dir.join("snapshots").join(commit);
    dir.is_dir().then_some(dir)
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            list_files(root, &path, out);
        } else if path.is_file()
            && let Ok(rel) = path.strip_prefix(root)
        {
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
}

/// The split files from the cache alone.
fn from_cache(source: &HubSource, options: &LoadOptions) -> Result<Option<SplitFiles>> {
    let Some(snapshot) = cached_snapshot(source) else {
        return Ok(None);
    };
    let mut files = Vec::new();
    list_files(&snapshot, &snapshot, &mut files);
    files.sort();
    let splits = match split_files(
        &files,
        &source.repo_id,
        &source.options.revision,
        source.config.as_deref(),
    ) {
        Ok(s) => s,
        Err(DataError::HubNoSplits { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let wanted: SplitFiles = splits
        .into_iter()
        .filter(|(split, _)| options.splits.as_ref().is_none_or(|w| w.contains(split)))
        .map(|(split, files)| (split, files.iter().map(|f| snapshot.join(f)).collect()))
        .collect();
    let complete = options
        .splits
        .as_ref()
        .is_none_or(|w| w.iter().all(|s| wanted.iter().any(|(n, _)| n == s)));
    Ok((complete && !wanted.is_empty()).then_some(wanted))
}

fn map_api_error(err: ApiError, url: &str, source: &HubSource) -> DataError {
    let status = match &err {
        ApiError::RequestError(e) => match e.as_ref() {
            ureq::Error::Status(code, _) => Some(*code),
            ureq::Error::Transport(_) => None,
        },
        _ => None,
    };
    let what = match &err {
        ApiError::RequestError(e) => match e.as_ref() {
            ureq::Error::Status(code, _) => format!("the server answered HTTP {code}"),
            ureq::Error::Transport(t) => format!("request failed ({t})"),
        },
        ApiError::IoError(e) => format!(
            "the download was interrupted ({e}); the partial file is kept in the cache and the next \
             run resumes it"
        ),
        ApiError::TooManyRetries(e) => format!("the download kept failing after retries ({e})"),
        ApiError::MissingHeader(h) | ApiError::InvalidHeader(h) => {
            format!("the reply lacks a valid `{h}` header (is the endpoint a Hugging Face Hub?)")
        }
        other => other.to_string(),
    };
    let boxed = Box::new(err);
    match status {
        Some(404) => DataError::HubNotFound {
            url: url.to_string(),
            repo_id: source.repo_id.clone(),
            revision: source.options.revision.clone(),
            source: boxed,
        },
        Some(code @ (401 | 403)) => DataError::HubUnauthorized {
            url: url.to_string(),
            repo_id: source.repo_id.clone(),
            status: code,
            source: boxed,
        },
        _ => DataError::Hub {
            url: url.to_string(),
            what,
            source: boxed,
        },
    }
}

fn is_connection_error(err: &ApiError) -> bool {
    matches!(err, ApiError::RequestError(e) if matches!(e.as_ref(), ureq::Error::Transport(_)))
}

/// Downloads (or finds in the cache) the parquet files of the wanted splits.
pub(crate) fn resolve_split_files(source: &HubSource, options: &LoadOptions) -> Result<SplitFiles> {
    let opts = &source.options;
    if opts.offline {
        return from_cache(source, options)?.ok_or_else(|| DataError::HubOfflineNotCached {
            repo_id: source.repo_id.clone(),
            revision: opts.revision.clone(),
            config: source.config.clone().unwrap_or_else(|| "*".into()),
            cache_dir: opts.cache_dir.clone(),
        });
    }
    let api = ApiBuilder::from_cache(Cache::new(opts.cache_dir.clone()))
        .with_endpoint(opts.endpoint.clone())
        .with_token(opts.token.clone())
        .with_retries(opts.retries)
        .with_progress(opts.progress)
        .build()
        .map_err(|e| map_api_error(e, &opts.endpoint, source))?;
    let repo = api.repo(repo_of(source));
    let info_url = format!(
        "{}/api/datasets/{}/revision/{}",
        opts.endpoint,
        source.repo_id,
        repo_of(source).url_revision()
    );
    let info = match repo.info() {
        Ok(info) => info,
        Err(e) if is_connection_error(&e) => {
            // Like huggingface_hub: unreachable endpoint, but the files are cached. Said
            // out loud: the caller learns the Hub was not consulted.
            if let Some(cached) = from_cache(source, options)? {
                eprintln!(
                    "warning: {} is unreachable ({e}); using the cached copy of {} (set HF_HUB_OFFLINE=1 to skip the Hub)",
                    opts.endpoint, source.repo_id
                );
                return Ok(cached);
            }
            return Err(map_api_error(e, &info_url, source));
        }
        Err(e) => return Err(map_api_error(e, &info_url, source)),
    };
    let files: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    let splits = split_files(
        &files,
        &source.repo_id,
        &opts.revision,
        source.config.as_deref(),
    )?;
    crate::load::check_requested(splits.iter().map(|(name, _)| name.as_str()), options)?;
    let mut out = Vec::new();
    for (split, files) in splits {
        if !options.splits.as_ref().is_none_or(|w| w.contains(&split)) {
            continue;
        }
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            let path = repo
                .get(&file)
                .map_err(|e| map_api_error(e, &repo.url(&file), source))?;
            paths.push(path);
        }
        out.push((split, paths));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn imdb_layout() {
        let f = files(&[
            ".gitattributes",
            "README.md",
            "plain_text/test-00000-of-00001.parquet",
            "plain_text/train-00000-of-00001.parquet",
            "plain_text/unsupervised-00000-of-00001.parquet",
        ]);
        let splits = split_files(&f, "stanfordnlp/imdb", "main", None).unwrap();
        let names: Vec<&str> = splits.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["train", "test", "unsupervised"]);
        assert_eq!(splits[0].1, ["plain_text/train-00000-of-00001.parquet"]);
        assert!(split_files(&f, "stanfordnlp/imdb", "main", Some("plain_text")).is_ok());
        assert!(matches!(
            split_files(&f, "stanfordnlp/imdb", "main", Some("other")),
            Err(DataError::HubNoSplits { .. })
        ));
    }

    #[test]
    fn shards_convert_layout_and_ambiguity() {
        let f = files(&[
            "data/train-00001-of-00002.parquet",
            "data/train-00000-of-00002.parquet",
            "data/test.parquet",
        ]);
        let splits = split_files(&f, "x/y", "main", Some("default")).unwrap();
        assert_eq!(
            splits[0].1,
            [
                "data/train-00000-of-00002.parquet",
                "data/train-00001-of-00002.parquet"
            ]
        );
        assert_eq!(splits[1].0, "test");
        let f = files(&[
            "plain_text/train/0000.parquet",
            "plain_text/train/0001.parquet",
        ]);
        assert_eq!(
            split_files(&f, "x/y", "main", Some("plain_text")).unwrap()[0]
                .1
                .len(),
            2
        );
        let f = files(&["a/train.parquet", "b/train.parquet"]);
        assert!(matches!(
            split_files(&f, "x/y", "main", None),
            Err(DataError::HubAmbiguousConfig { .. })
        ));
    }

    #[test]
    fn options_from_variables() {
        let vars = |k: &str| match k {
            "HF_HOME" => Some("/hf".to_string()),
            "HF_ENDPOINT" => Some("http://127.0.0.1:9/".to_string()),
            "HF_TOKEN" => Some("hf_abc".to_string()),
            "HF_HUB_OFFLINE" => Some("yes".to_string()),
            _ => None,
        };
        let o = HubOptions::from_lookup(vars);
        assert_eq!(o.cache_dir, PathBuf::from("/hf/hub"));
        assert_eq!(o.endpoint, "http://127.0.0.1:9");
        assert_eq!(o.token.as_deref(), Some("hf_abc"));
        assert!(o.offline);
        assert!(!format!("{o:?}").contains("hf_abc"));

        let o = HubOptions::from_lookup(|k| match k {
            "HOME" => Some("/home/u".to_string()),
            "HF_HUB_CACHE" => Some("/c".to_string()),
            "HF_HUB_OFFLINE" => Some("0".to_string()),
            _ => None,
        });
        assert_eq!(o.cache_dir, PathBuf::from("/c"));
        assert_eq!(o.endpoint, DEFAULT_ENDPOINT);
        assert!(!o.offline);
        let o = HubOptions::from_lookup(|k| (k == "HOME").then(|| "/home/u".to_string()));
        assert_eq!(o.cache_dir, PathBuf::from("/home/u/.cache/huggingface/hub"));
    }
}
