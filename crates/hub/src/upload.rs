//! Upload: create a model repo and commit files to it, as `HfApi.create_repo` +
//! `HfApi.create_commit` do, through hf-hub 1.0:
//!
//! 1. `POST {endpoint}/api/repos/create` — `{"name", "organization", "private", "type"}`; HTTP
//!    409 means the repo exists, which is fine.
//! 2. `POST {endpoint}/api/models/{repo}/preupload/{revision}` — each file's path, size and first
//!    512 bytes; the Hub answers which go through LFS storage and which inline.
//! 3. For the LFS files, `POST {endpoint}/{repo}.git/info/lfs/objects/batch` offering the
//!    `basic`, `multipart` and `xet` transfers; the Hub chooses `xet`. hf-hub then gets a write
//!    token (`GET {endpoint}/api/models/{repo}/xet-write-token/{revision}`) and hf-xet sends the
//!    content to the Xet storage (CAS) it names: chunked and deduplicated, so bytes the storage
//!    already holds are not sent again. The Hub token goes to the Hub only; the CAS gets the Xet
//!    token.
//! 4. `POST {endpoint}/api/models/{repo}/commit/{revision}` — NDJSON: a header, one `file` line
//!    (base64) per inline file, one `lfsFile` line (sha256 oid, size) per LFS file.
//!
//! Own code here: the checks before any request (token, endpoint), the sha256 and size each file
//! reports (hf-hub computes them but does not return them), and reading which files went through
//! Xet and how many bytes were sent from hf-hub's progress events.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::download::Hub;
use crate::error::{HubError, Result};
use crate::repo::RepoId;

/// Where a file's bytes are.
#[derive(Clone, PartialEq, Eq)]
pub enum Content {
    /// A file on disk, read when it is sent.
    Disk(PathBuf),
    /// Bytes in memory (e.g. a generated model card).
    Memory(Vec<u8>),
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disk(path) => f.debug_tuple("Disk").field(path).finish(),
            Self::Memory(bytes) => write!(f, "Memory({} bytes)", bytes.len()),
        }
    }
}

/// One file to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// Path inside the repo (`/`-separated).
    pub path_in_repo: String,
    /// Where the bytes are.
    pub content: Content,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the content (the oid an LFS file is committed under).
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl UploadFile {
    /// A file on disk; hashes it (streaming).
    pub fn from_path(path_in_repo: impl Into<String>, path: &Path) -> Result<Self> {
        let io = |source| HubError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        };
        let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Self {
            path_in_repo: path_in_repo.into(),
            content: Content::Disk(path.to_path_buf()),
            size,
            sha256: hex(&hasher.finalize()),
        })
    }

    /// Bytes held in memory.
    pub fn from_bytes(path_in_repo: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            path_in_repo: path_in_repo.into(),
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
            content: Content::Memory(bytes),
        }
    }
}

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The model repo, `owner/name`; created if it does not exist.
    pub repo: RepoId,
    /// Create it private (an existing repo keeps its visibility).
    pub private: bool,
    /// The branch to commit to.
    pub revision: String,
    /// The commit message.
    pub message: String,
    /// The files.
    pub files: Vec<UploadFile>,
}

/// How a file went up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// Through the Hub's LFS storage (Xet), committed by sha256.
    Lfs,
    /// Inline in the commit, base64.
    Regular,
}

impl UploadMode {
    /// `"lfs"` or `"regular"`, as the Hub writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lfs => "lfs",
            Self::Regular => "regular",
        }
    }
}

/// One committed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedFile {
    /// Path in the repo.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// LFS (Xet) or inline.
    pub mode: UploadMode,
    /// sha256 of the content.
    pub sha256: String,
}

/// What [`Hub::push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSummary {
    /// Whether the repo was created by this push (else it existed).
    pub repo_created: bool,
    /// Web URL of the commit.
    pub commit_url: String,
    /// Its git oid.
    pub commit_oid: String,
    /// The committed files, in the order given.
    pub files: Vec<PushedFile>,
    /// Bytes sent: inline contents plus what Xet sent after deduplication and compression
    /// (content the storage already held is not sent again).
    pub bytes_sent: u64,
}

impl Hub {
    /// Creates the model repo if needed and commits the files to it. `progress` gets one line
    /// per step, for people.
    pub fn push(&self, request: &PushRequest, progress: impl FnMut(&str)) -> Result<PushSummary> {
        let o = self.options();
        if o.token.as_deref().is_none_or(str::is_empty) {
            return Err(HubError::NoToken);
        }
        let repo = &request.repo;
        if repo.owner().is_none() {
            return Err(HubError::InvalidRepoId {
                id: repo.to_string(),
                reason: "no owner: write it as owner/name".to_string(),
            });
        }
        self.commit(request, progress)
    }

    /// The Hub's part of [`push`](Self::push), in a build without the client: an error that says
    /// how to get one.
    #[cfg(not(feature = "client"))]
    fn commit(&self, request: &PushRequest, _: impl FnMut(&str)) -> Result<PushSummary> {
        Err(HubError::ClientNotBuilt {
            action: format!("pushing to model repo {}", request.repo),
            download: false,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::options::HubOptions;

    #[test]
    fn files_hash_the_same_from_disk_and_memory() {
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("w.bin");
        std::fs::write(&path, &bytes).unwrap();
        let disk = UploadFile::from_path("w.bin", &path).unwrap();
        let memory = UploadFile::from_bytes("w.bin", bytes);
        assert_eq!(disk.sha256, memory.sha256);
        assert_eq!(disk.size, 3000);
        assert_eq!(
            UploadFile::from_bytes("e", Vec::new()).sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let err = UploadFile::from_path("x", &tmp.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    /// A push of nothing to `me/x`.
    fn empty_push() -> PushRequest {
        PushRequest {
            repo: RepoId::parse("me/x").unwrap(),
            private: false,
            revision: "main".to_string(),
            message: "m".to_string(),
            files: Vec::new(),
        }
    }

    #[test]
    fn no_token_fails_before_any_request() {
        let hub = Hub::new(HubOptions {
            endpoint: "http://127.0.0.1:1".to_string(),
            token: None,
            ..HubOptions::from_lookup(|_| None)
        });
        let request = empty_push();
        let err = hub.push(&request, |_| {}).unwrap_err().to_string();
        assert!(
            err.contains("HF_TOKEN") && err.contains("huggingface-cli login"),
            "{err}"
        );
    }

    #[cfg(not(feature = "client"))]
    #[test]
    fn without_the_client_a_push_says_how_to_get_one() {
        let hub = Hub::new(HubOptions {
            token: Some("hf_x".to_string()),
            ..HubOptions::from_lookup(|_| None)
        });
        let request = empty_push();
        let err = hub.push(&request, |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                HubError::ClientNotBuilt {
                    download: false,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("pushing to model repo me/x"), "{message}");
        assert!(
            message.contains("cargo build --release -p bertfit-cli"),
            "{message}"
        );
        assert!(!message.contains("HF_HUB_OFFLINE"), "{message}");
    }
}
