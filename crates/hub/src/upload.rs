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

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use hf_hub::progress::{ProgressEvent, ProgressHandler, UploadEvent};
use hf_hub::repository::CommitOperation;
use hf_hub::{HFError, RepoTypeModel};
use sha2::{Digest, Sha256};

use crate::download::Hub;
use crate::error::{Access, Context, HubError, Result};
use crate::repo::{RepoId, RepoKind};

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

    fn operation(&self) -> CommitOperation {
        match &self.content {
            Content::Disk(path) => CommitOperation::add_file(&self.path_in_repo, path),
            Content::Memory(bytes) => CommitOperation::add_bytes(&self.path_in_repo, bytes.clone()),
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

/// What hf-hub's progress events told about a commit.
#[derive(Debug, Default)]
struct Observed {
    /// Files that went through Xet.
    xet_files: BTreeSet<String>,
    /// Bytes Xet sent, after deduplication.
    xet_bytes: u64,
}

struct Observer(Arc<Mutex<Observed>>);

impl ProgressHandler for Observer {
    fn on_progress(&self, event: &ProgressEvent) {
        if let ProgressEvent::Upload(UploadEvent::Progress {
            transfer_bytes_completed,
            files,
            ..
        }) = event
        {
            let mut observed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            observed.xet_bytes = observed.xet_bytes.max(*transfer_bytes_completed);
            observed
                .xet_files
                .extend(files.iter().map(|f| f.filename.clone()));
        }
    }
}

impl Hub {
    /// Creates the model repo if needed and commits the files to it. `progress` gets one line
    /// per step, for people.
    pub fn push(
        &self,
        request: &PushRequest,
        mut progress: impl FnMut(&str),
    ) -> Result<PushSummary> {
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
        let client = self.client()?;
        let create_url = format!("{}/api/repos/create", o.endpoint);
        let context = Context {
            options: o,
            repo,
            kind: RepoKind::Model,
            access: Access::Write,
            step: "creating the repo",
            url: &create_url,
            download: false,
        };
        let created = match client
            .create_repository()
            .repo_id(&repo.to_string())
            .repo_type(RepoTypeModel)
            .private(request.private)
            .send()
        {
            Ok(_) => true,
            Err(HFError::Conflict { .. }) => false,
            Err(e) => return Err(context.error(e)),
        };
        progress(&if created {
            format!(
                "created {} repo {repo}",
                if request.private { "private" } else { "public" }
            )
        } else {
            format!("repo {repo} exists")
        });

        progress(&format!(
            "committing {} files to {repo}@{}",
            request.files.len(),
            request.revision
        ));
        let observed = Arc::new(Mutex::new(Observed::default()));
        let commit_url = format!(
            "{}/api/models/{repo}/commit/{}",
            o.endpoint, request.revision
        );
        let context = Context {
            step: "committing the files (preupload, Xet upload, commit)",
            url: &commit_url,
            ..context
        };
        let handle = client.model(repo.owner().unwrap_or(""), repo.name());
        let info = handle
            .create_commit()
            .operations(request.files.iter().map(UploadFile::operation).collect())
            .commit_message(request.message.clone())
            .revision(request.revision.clone())
            .progress(Observer(observed.clone()))
            .send()
            .map_err(|e| context.error(e))?;
        let malformed = |what: &str| HubError::Request {
            step: format!("committing to {repo}"),
            endpoint: o.endpoint.clone(),
            cause: format!("the commit answer of {commit_url} has no `{what}`"),
            source: Box::new(HFError::malformed_response_at(what, commit_url.clone())),
        };
        let commit_oid = info.commit_oid.ok_or_else(|| malformed("commitOid"))?;
        let commit_url = info.commit_url.ok_or_else(|| malformed("commitUrl"))?;

        let observed = observed.lock().unwrap_or_else(PoisonError::into_inner);
        let files: Vec<PushedFile> = request
            .files
            .iter()
            .map(|f| PushedFile {
                path: f.path_in_repo.clone(),
                size: f.size,
                mode: if observed.xet_files.contains(&f.path_in_repo) {
                    UploadMode::Lfs
                } else {
                    UploadMode::Regular
                },
                sha256: f.sha256.clone(),
            })
            .collect();
        let inline: u64 = files
            .iter()
            .filter(|f| f.mode == UploadMode::Regular)
            .map(|f| f.size)
            .sum();
        Ok(PushSummary {
            repo_created: created,
            commit_url,
            commit_oid,
            files,
            bytes_sent: inline + observed.xet_bytes,
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

    #[test]
    fn no_token_fails_before_any_request() {
        let hub = Hub::new(HubOptions {
            endpoint: "http://127.0.0.1:1".to_string(),
            token: None,
            ..HubOptions::from_lookup(|_| None)
        });
        let request = PushRequest {
            repo: RepoId::parse("me/x").unwrap(),
            private: false,
            revision: "main".to_string(),
            message: "m".to_string(),
            files: Vec::new(),
        };
        let err = hub.push(&request, |_| {}).unwrap_err().to_string();
        assert!(
            err.contains("HF_TOKEN") && err.contains("huggingface-cli login"),
            "{err}"
        );
    }
}
