//! Dataset repos on the Hugging Face Hub, through `bertfit-hub` (the project's one Hub client)
//! and the standard HF cache.
//!
//! Files land where Python's `huggingface_hub` puts them
//! (`<cache>/datasets--<org>--<name>/{blobs,snapshots/<commit>,refs/<revision>}`), so what
//! Python's `datasets` already downloaded is reused and the other way round. This module only
//! decides which files a split needs: the repo's file list (`siblings`) is classified into
//! configs and splits, and `bertfit-hub` downloads the wanted parquet files, pinned to the
//! listed commit. Files already in the cache for that commit are not requested again. With
//! [`HubOptions::offline`] no request is made at all; when the endpoint cannot be reached the
//! cached files are used if the cache has them (with a warning on stderr).

use std::collections::BTreeMap;

use bertfit_hub::{Hub, HubError, HubOptions, Listing, Origin, RepoId, RepoKind};

use crate::dataset::split_rank;
use crate::error::{DataError, Result};
use crate::load::{LoadOptions, SplitFiles, strip_shard_suffix};

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

/// Split names with their files in the repo, in split order.
type RepoSplits = Vec<(String, Vec<String>)>;

/// Which of the listed files the load needs, or `None` when a cached listing lacks them.
fn pick(
    source: &HubSource,
    options: &LoadOptions,
    listing: &Listing,
) -> Result<Option<RepoSplits>> {
    let cached = listing.origin == Origin::Cache;
    let splits = match split_files(
        &listing.files,
        &source.repo_id,
        &source.options.revision,
        source.config.as_deref(),
    ) {
        Ok(splits) => splits,
        Err(DataError::HubNoSplits { .. }) if cached => return Ok(None),
        Err(e) => return Err(e),
    };
    if cached {
        let complete = options
            .splits
            .as_ref()
            .is_none_or(|w| w.iter().all(|s| splits.iter().any(|(n, _)| n == s)));
        if !complete {
            return Ok(None);
        }
    } else {
        crate::load::check_requested(splits.iter().map(|(name, _)| name.as_str()), options)?;
    }
    let wanted: RepoSplits = splits
        .into_iter()
        .filter(|(split, _)| options.splits.as_ref().is_none_or(|w| w.contains(split)))
        .collect();
    Ok((!wanted.is_empty()).then_some(wanted))
}

/// Downloads (or finds in the cache) the parquet files of the wanted splits.
pub(crate) fn resolve_split_files(source: &HubSource, options: &LoadOptions) -> Result<SplitFiles> {
    let repo = RepoId::parse(&source.repo_id).map_err(|e| DataError::HubRepoId {
        repo_id: source.repo_id.clone(),
        source: Box::new(e),
    })?;
    let hub = Hub::new(source.options.clone());
    let mut chosen = Vec::new();
    let snapshot = hub
        .snapshot(&repo, RepoKind::Dataset, |listing| {
            let Some(splits) = pick(source, options, listing)? else {
                return Ok(None);
            };
            let files = splits.iter().flat_map(|(_, f)| f.iter().cloned()).collect();
            chosen = splits;
            Ok::<_, DataError>(Some(files))
        })
        .map_err(|e| match e {
            DataError::HubOfflineNotCached {
                repo_id,
                revision,
                cache_dir,
                ..
            } => DataError::HubOfflineNotCached {
                repo_id,
                revision,
                config: source.config.clone().unwrap_or_else(|| "*".into()),
                cache_dir,
            },
            other => other,
        })?;
    Ok(chosen
        .into_iter()
        .map(|(split, files)| (split, files.iter().map(|f| snapshot.path(f)).collect()))
        .collect())
}

impl From<HubError> for DataError {
    fn from(error: HubError) -> Self {
        match &error {
            HubError::OfflineNotCached {
                repo,
                revision,
                cache_dir,
                ..
            } => Self::HubOfflineNotCached {
                repo_id: repo.to_string(),
                revision: revision.clone(),
                config: "*".into(),
                cache_dir: cache_dir.clone(),
            },
            HubError::NotFound {
                url,
                repo,
                revision,
                ..
            } => Self::HubNotFound {
                url: url.clone(),
                repo_id: repo.to_string(),
                revision: revision.clone(),
                source: Box::new(error),
            },
            HubError::Unauthorized {
                url, repo, status, ..
            } => Self::HubUnauthorized {
                url: url.clone(),
                repo_id: repo.to_string(),
                status: *status,
                source: Box::new(error),
            },
            HubError::InvalidRepoId { id, .. } => Self::HubRepoId {
                repo_id: id.clone(),
                source: Box::new(error),
            },
            _ => Self::Hub {
                url: error.url().unwrap_or_default().to_string(),
                what: error.to_string(),
                source: Box::new(error),
            },
        }
    }
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
}
