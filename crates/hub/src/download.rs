//! Snapshot download of model and dataset repos into the Python-compatible cache.
//!
//! hf-hub 1.0 makes the requests and writes the cache; this module decides what to ask for and
//! when the cache alone answers:
//!
//! 1. `GET {endpoint}/api/{models|datasets}/{repo}/revision/{revision}` — the commit (`sha`) and
//!    file list (`siblings`); the caller picks the files it needs from that list.
//! 2. For each picked file not yet in `snapshots/<commit>/`: `HEAD` then `GET` on
//!    `{endpoint}/[datasets/]{repo}/resolve/{commit}/{file}` (hf-hub; a Xet-backed file, one whose
//!    `HEAD` answers `X-Xet-Hash`, is fetched through Xet instead). Files are pinned to the commit
//!    of step 1, so a snapshot never mixes two commits. The content lands in
//!    `blobs/<etag>` (through `blobs/<etag>.incomplete`), linked from `snapshots/<commit>/<file>`,
//!    and `refs/<revision>` records the commit, as `huggingface_hub` lays it out.
//!
//! With [`HubOptions::offline`] no request is made: the snapshot `refs/<revision>` points to is
//! used if it holds what the caller needs. When the endpoint cannot be reached at step 1, the same
//! cached snapshot is used with a warning on stderr (what `huggingface_hub` does); without one, the
//! error says the Hub was unreachable. Nothing falls back silently.

use std::path::{Path, PathBuf};

use crate::error::{HubError, Result};
use crate::options::HubOptions;
use crate::repo::{RepoId, RepoKind};

/// Where a file list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The Hub's answer for the revision.
    Hub,
    /// The cached snapshot of the revision (offline, or the Hub unreachable).
    Cache,
}

/// A repo's files at one commit, handed to the caller to pick from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The commit.
    pub commit: String,
    /// Every file, `/`-separated, sorted.
    pub files: Vec<String>,
    /// Where the list came from.
    pub origin: Origin,
}

/// Picked files of a repo, all in the local cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `<cache>/<repo folder>/snapshots/<commit>`.
    pub dir: PathBuf,
    /// The commit.
    pub commit: String,
    /// The picked files, `/`-separated, in the order picked.
    pub files: Vec<String>,
    /// Whether the Hub was asked, or the cache alone used.
    pub origin: Origin,
}

impl Snapshot {
    /// The local path of `file` (one of [`files`](Self::files)).
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// Whether `revision` is a full commit hash (40 hex digits).
pub(crate) fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The cached snapshot of `repo` at `revision`: `(commit, directory)`, where `refs/<revision>`
/// (or the revision itself, when it is a commit hash) names a snapshot directory that exists.
/// The one place that reads the cache layout.
pub fn cached_snapshot(
    cache_dir: &Path,
    repo: &RepoId,
    kind: RepoKind,
    revision: &str,
) -> Option<(String, PathBuf)> {
    let repo_dir = cache_dir.join(repo.cache_folder(kind));
    let commit = std::fs::read_to_string(repo_dir.join("refs").join(revision))
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| is_commit(revision).then(|| revision.to_string()))?;
    let dir = repo_dir.join("snapshots").join(&commit);
    dir.is_dir().then_some((commit, dir))
}

/// Every file under `dir` (symlinks followed; dangling ones skipped), `/`-joined, sorted.
fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
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
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The Hub, as [`HubOptions`] describe it: [`snapshot`](Self::snapshot) downloads,
/// [`push`](Self::push) uploads.
#[derive(Debug, Clone)]
pub struct Hub {
    options: HubOptions,
}

impl Hub {
    /// A client for `options`; no request is made until one is needed.
    pub fn new(options: HubOptions) -> Self {
        Self { options }
    }

    /// A client configured from the environment ([`HubOptions::from_env`]).
    pub fn from_env() -> Self {
        Self::new(HubOptions::from_env())
    }

    /// The options.
    pub fn options(&self) -> &HubOptions {
        &self.options
    }

    /// The files of `repo` the caller picks, downloaded into (or found in) the cache.
    ///
    /// `pick` gets the repo's [`Listing`] and returns the files it needs; `Ok(None)` says the
    /// listing lacks them (for a cached listing: "not cached"; for the Hub's, an
    /// [`HubError::Incomplete`]). Its own errors are returned as they are.
    pub fn snapshot<E: From<HubError>>(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        mut pick: impl FnMut(&Listing) -> Result<Option<Vec<String>>, E>,
    ) -> Result<Snapshot, E> {
        let o = &self.options;
        if o.offline {
            return self.cached(repo, kind, &mut pick)?.ok_or_else(|| {
                HubError::OfflineNotCached {
                    repo: repo.clone(),
                    kind,
                    revision: o.revision.clone(),
                    cache_dir: o.cache_dir.clone(),
                }
                .into()
            });
        }
        self.download(repo, kind, pick)
    }

    /// The Hub's part of [`snapshot`](Self::snapshot), in a build without the client: an error
    /// that says how to get one, or to work from the cache.
    #[cfg(not(feature = "client"))]
    fn download<E: From<HubError>>(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        _pick: impl FnMut(&Listing) -> Result<Option<Vec<String>>, E>,
    ) -> Result<Snapshot, E> {
        Err(HubError::ClientNotBuilt {
            action: format!("downloading {kind} {repo}"),
            download: true,
        }
        .into())
    }

    /// The picked files from the cached snapshot alone, if it has them all.
    pub(crate) fn cached<E>(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        pick: &mut impl FnMut(&Listing) -> Result<Option<Vec<String>>, E>,
    ) -> Result<Option<Snapshot>, E> {
        let o = &self.options;
        let Some((commit, dir)) = cached_snapshot(&o.cache_dir, repo, kind, &o.revision) else {
            return Ok(None);
        };
        let listing = Listing {
            commit: commit.clone(),
            files: list_files(&dir),
            origin: Origin::Cache,
        };
        let Some(picked) = pick(&listing)? else {
            return Ok(None);
        };
        if !picked.iter().all(|f| dir.join(f).is_file()) {
            return Ok(None);
        }
        Ok(Some(Snapshot {
            dir,
            commit,
            files: picked,
            origin: Origin::Cache,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options(cache: &Path) -> HubOptions {
        HubOptions {
            offline: true,
            cache_dir: cache.to_path_buf(),
            ..HubOptions::from_lookup(|_| None)
        }
    }

    #[test]
    fn offline_reads_the_cache_layout_and_never_guesses() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = RepoId::parse("org/name").unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let snap = tmp.path().join("datasets--org--name/snapshots").join(sha);
        std::fs::create_dir_all(snap.join("sub")).unwrap();
        std::fs::write(snap.join("sub/a.parquet"), b"a").unwrap();
        std::fs::write(snap.join("b.txt"), b"b").unwrap();
        let hub = Hub::new(options(tmp.path()));

        // No refs/main yet: not cached.
        let err = hub
            .snapshot(&repo, RepoKind::Dataset, |_| {
                Ok::<_, HubError>(Some(vec![]))
            })
            .unwrap_err();
        assert!(matches!(err, HubError::OfflineNotCached { .. }), "{err}");
        assert!(err.to_string().contains("HF_HUB_OFFLINE"), "{err}");

        std::fs::create_dir_all(tmp.path().join("datasets--org--name/refs")).unwrap();
        std::fs::write(tmp.path().join("datasets--org--name/refs/main"), sha).unwrap();
        let got = hub
            .snapshot(&repo, RepoKind::Dataset, |l| {
                assert_eq!(l.files, ["b.txt", "sub/a.parquet"]);
                assert_eq!(l.origin, Origin::Cache);
                Ok::<_, HubError>(Some(vec!["sub/a.parquet".to_string()]))
            })
            .unwrap();
        assert_eq!(got.commit, sha);
        assert_eq!(std::fs::read(got.path("sub/a.parquet")).unwrap(), b"a");

        // A picked file that is not there is "not cached", not a partial snapshot.
        let err = hub
            .snapshot(&repo, RepoKind::Dataset, |_| {
                Ok::<_, HubError>(Some(vec!["missing".to_string()]))
            })
            .unwrap_err();
        assert!(matches!(err, HubError::OfflineNotCached { .. }), "{err}");
        // The model cache is another folder.
        assert!(cached_snapshot(tmp.path(), &repo, RepoKind::Model, "main").is_none());
        assert!(cached_snapshot(tmp.path(), &repo, RepoKind::Dataset, sha).is_some());
    }

    #[cfg(feature = "client")]
    #[test]
    fn a_bad_endpoint_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::new(HubOptions {
            offline: false,
            endpoint: "huggingface.co".to_string(),
            ..options(tmp.path())
        });
        let err = hub
            .snapshot(&RepoId::parse("a/b").unwrap(), RepoKind::Model, |_| {
                Ok::<_, HubError>(None)
            })
            .unwrap_err();
        assert!(err.to_string().contains("HF_ENDPOINT"), "{err}");
    }

    #[cfg(not(feature = "client"))]
    #[test]
    fn without_the_client_a_download_says_how_to_get_one_and_the_cache_still_answers() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = RepoId::parse("org/name").unwrap();
        let online = Hub::new(HubOptions {
            offline: false,
            ..options(tmp.path())
        });
        let err = online
            .snapshot(&repo, RepoKind::Model, |_| Ok::<_, HubError>(None))
            .unwrap_err();
        assert!(
            matches!(err, HubError::ClientNotBuilt { download: true, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        for needle in [
            "downloading model org/name",
            "`hub` cargo feature",
            "cargo build",
            "HF_HUB_OFFLINE=1",
        ] {
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
        // Offline, the cache answers as with the client.
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let dir = tmp.path().join("models--org--name");
        std::fs::create_dir_all(dir.join("snapshots").join(sha)).unwrap();
        std::fs::write(dir.join("snapshots").join(sha).join("config.json"), b"{}").unwrap();
        std::fs::create_dir_all(dir.join("refs")).unwrap();
        std::fs::write(dir.join("refs/main"), sha).unwrap();
        let got = Hub::new(options(tmp.path()))
            .snapshot(&repo, RepoKind::Model, |_| {
                Ok::<_, HubError>(Some(vec!["config.json".to_string()]))
            })
            .unwrap();
        assert_eq!(got.commit, sha);
    }
}
