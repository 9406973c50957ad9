//! A blocking client for the Hugging Face Hub's upload API, speaking the protocol Python's
//! `huggingface_hub` speaks (`HfApi.create_repo` + `create_commit`):
//!
//! 1. `POST {endpoint}/api/repos/create` — `{"name", "organization", "private", "type"}`; HTTP
//!    409 means the repo already exists, which is fine.
//! 2. `POST {endpoint}/api/models/{repo_id}/preupload/{revision}` — each file's path, size and
//!    first 512 bytes (base64); the Hub answers whether it goes through LFS or inline
//!    (`uploadMode`), and whether its `.gitignore` drops it (`shouldIgnore`).
//! 3. For the LFS files, `POST {endpoint}/{repo_id}.git/info/lfs/objects/batch` (Git LFS batch
//!    API, `basic` transfer, sha256 oids); objects the Hub already stores come back without
//!    `actions` and are not sent again. The others are `PUT` (streamed from disk) to the `upload`
//!    action's URL, then confirmed at the `verify` action's URL.
//! 4. `POST {endpoint}/api/models/{repo_id}/commit/{revision}` — an NDJSON body: a header line
//!    (summary, description), one `file` line per regular file (base64 content), one `lfsFile`
//!    line per LFS file (sha256 oid and size); the answer holds the commit URL and oid.
//!
//! Every request to the Hub carries `Authorization: Bearer <token>`. The LFS content `PUT` goes
//! to the URL the Hub hands out (on the real Hub a pre-signed storage URL) with that action's
//! headers only: the Hub token is never sent to it, as `huggingface_hub` does not either. The
//! token never appears in `Debug` output or in error messages.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bertfit_data::DEFAULT_ENDPOINT;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Bytes of each file sent to the preupload endpoint so the Hub can tell text from binary.
const SAMPLE_BYTES: usize = 512;
/// Files per preupload request and objects per LFS batch request (`huggingface_hub`'s chunks).
const CHUNK: usize = 256;
/// What the login hint says when there is no token, or the token is refused.
const TOKEN_HINT: &str = "set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens) or run `huggingface-cli login`";

/// A Hub access token. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token; `None` when it is empty.
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into().trim().to_string();
        (!token.is_empty()).then_some(Self(token))
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// `text` with every occurrence of the token replaced, for anything a server sent back.
    fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "<redacted>")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A model repo id, `owner/name`, checked against the Hub's naming rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// The user or organisation.
    pub owner: String,
    /// The repo's name.
    pub name: String,
}

impl RepoId {
    /// Parses `owner/name`: letters, digits, `-`, `_`, `.`; no leading or trailing `-`/`.`, no
    /// `--` or `..`, a name of at most 96 characters not ending in `.git`.
    pub fn parse(id: &str) -> Result<Self> {
        let invalid = |why: &str| {
            anyhow!(
                "--repo-id {id:?} is not a valid Hub model id ({why}); expected owner/name, e.g. my-user/bert-imdb"
            )
        };
        let Some((owner, name)) = id.split_once('/') else {
            return Err(invalid("no owner: write it as owner/name"));
        };
        for (what, part) in [("owner", owner), ("name", name)] {
            if part.is_empty() {
                return Err(invalid(&format!("empty {what}")));
            }
            if let Some(c) = part
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
            {
                return Err(invalid(&format!(
                    "{what} contains {c:?}; only letters, digits, '-', '_' and '.' are allowed"
                )));
            }
            if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
                return Err(invalid(&format!("{what} starts or ends with '-' or '.'")));
            }
            if part.contains("--") || part.contains("..") {
                return Err(invalid(&format!("{what} contains '--' or '..'")));
            }
        }
        if name.len() > 96 {
            return Err(invalid("name longer than 96 characters"));
        }
        if name.ends_with(".git") {
            return Err(invalid("name ends with .git"));
        }
        Ok(Self {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Where a file's bytes are.
pub enum Content {
    /// A file on disk, read (streamed) when it is sent.
    Disk(PathBuf),
    /// Bytes in memory (e.g. a generated model card).
    Memory(Vec<u8>),
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disk(path) => f.debug_tuple("Disk").field(path).finish(),
            Self::Memory(bytes) => write!(f, "Memory({} bytes)", bytes.len()),
        }
    }
}

/// One file to commit: its path in the repo, its content, size, sha256 and first bytes.
#[derive(Debug)]
pub struct LocalFile {
    /// Path inside the repo (`/`-separated).
    pub path_in_repo: String,
    /// Where the bytes are.
    pub content: Content,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the content (the LFS oid).
    pub sha256: String,
    sample: Vec<u8>,
}

impl LocalFile {
    /// A file on disk; hashes it (streaming) and keeps its first 512 bytes.
    pub fn from_path(path_in_repo: impl Into<String>, path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut hasher = Sha256::new();
        let mut sample = Vec::with_capacity(SAMPLE_BYTES);
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader
                .read(&mut buf)
                .with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            if sample.len() < SAMPLE_BYTES {
                let take = (SAMPLE_BYTES - sample.len()).min(n);
                sample.extend_from_slice(&chunk[..take]);
            }
            hasher.update(chunk);
            size += n as u64;
        }
        Ok(Self {
            path_in_repo: path_in_repo.into(),
            content: Content::Disk(path.to_path_buf()),
            size,
            sha256: hex(&hasher.finalize()),
            sample,
        })
    }

    /// Bytes held in memory.
    pub fn from_bytes(path_in_repo: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            path_in_repo: path_in_repo.into(),
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
            sample: bytes[..bytes.len().min(SAMPLE_BYTES)].to_vec(),
            content: Content::Memory(bytes),
        }
    }

    /// The whole content (for files committed inline, which the Hub keeps small).
    fn read_all(&self) -> Result<Vec<u8>> {
        match &self.content {
            Content::Memory(bytes) => Ok(bytes.clone()),
            Content::Disk(path) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                self.check_unchanged(path, bytes.len() as u64)?;
                Ok(bytes)
            }
        }
    }

    fn check_unchanged(&self, path: &Path, size: u64) -> Result<()> {
        if size != self.size {
            bail!(
                "{} changed while being pushed ({} bytes, then {size}); push again once nothing writes to it",
                path.display(),
                self.size
            );
        }
        Ok(())
    }
}

/// How the Hub wants a file: through Git LFS or inline in the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// Git LFS: content uploaded separately, the commit names its sha256.
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

/// The preupload answer for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preupload {
    /// LFS or inline.
    pub mode: UploadMode,
    /// Whether the repo's `.gitignore` excludes the file (it is then not committed).
    pub should_ignore: bool,
}

/// The outcome of `create_repo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoStatus {
    /// The repo was created.
    Created,
    /// It already existed (HTTP 409).
    AlreadyExists,
}

/// The commit the Hub made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// Web URL of the commit.
    pub commit_url: String,
    /// Its git oid.
    pub commit_oid: String,
}

/// One file of a push and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedFile {
    /// Path in the repo.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// LFS or inline.
    pub mode: UploadMode,
    /// sha256 of the content.
    pub sha256: String,
    /// Whether its bytes were sent (false for LFS objects the Hub already stored).
    pub transferred: bool,
}

/// What a [`HubClient::push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSummary {
    /// Whether the repo was created by this push (else it existed).
    pub repo_created: bool,
    /// The commit.
    pub commit: CommitInfo,
    /// The committed files.
    pub files: Vec<PushedFile>,
    /// Files the repo's `.gitignore` excluded (not committed).
    pub ignored: Vec<String>,
    /// Bytes sent: LFS uploads plus inline file contents.
    pub bytes_transferred: u64,
}

/// A Hub endpoint and a token, with the upload operations.
pub struct HubClient {
    endpoint: String,
    token: Token,
    agent: ureq::Agent,
}

impl fmt::Debug for HubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubClient")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Which request of the protocol failed, for error messages.
#[derive(Debug, Clone, Copy)]
enum Step {
    CreateRepo,
    Preupload,
    LfsBatch,
    LfsUpload,
    LfsVerify,
    Commit,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CreateRepo => "creating the repo",
            Self::Preupload => "asking the Hub how to upload each file (preupload)",
            Self::LfsBatch => "requesting LFS upload URLs (LFS batch)",
            Self::LfsUpload => "uploading an LFS object",
            Self::LfsVerify => "verifying an LFS upload",
            Self::Commit => "creating the commit",
        })
    }
}

impl HubClient {
    /// A client for `endpoint` (e.g. from `HF_ENDPOINT`); fails without a token.
    pub fn new(endpoint: &str, token: Option<Token>) -> Result<Self> {
        let Some(token) = token else {
            bail!("pushing to the Hub needs an access token: {TOKEN_HINT}");
        };
        let endpoint = endpoint.trim_end_matches('/').to_string();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            bail!(
                "HF_ENDPOINT {endpoint:?} is not an http(s) URL; unset it to use {DEFAULT_ENDPOINT}"
            );
        }
        let agent = ureq::AgentBuilder::new()
            .user_agent(concat!("bertfit/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(600))
            .timeout_write(Duration::from_secs(600))
            .build();
        Ok(Self {
            endpoint,
            token,
            agent,
        })
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates the model repo (`private` or public); an existing repo is fine.
    pub fn create_repo(&self, repo: &RepoId, private: bool) -> Result<RepoStatus> {
        let url = format!("{}/api/repos/create", self.endpoint);
        let body = json!({
            "name": repo.name,
            "organization": repo.owner,
            "private": private,
            "type": "model",
        });
        let result = self
            .hub_request("POST", &url)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        match result {
            Ok(_) => Ok(RepoStatus::Created),
            Err(ureq::Error::Status(409, _)) => Ok(RepoStatus::AlreadyExists),
            Err(e) => Err(self.request_error(Step::CreateRepo, "POST", &url, repo, e)),
        }
    }

    /// Asks how each file is to be uploaded, in the order given.
    pub fn preupload(
        &self,
        repo: &RepoId,
        revision: &str,
        files: &[LocalFile],
    ) -> Result<Vec<Preupload>> {
        let url = format!(
            "{}/api/models/{repo}/preupload/{}",
            self.endpoint,
            quote(revision)
        );
        let mut answers = Vec::with_capacity(files.len());
        for chunk in files.chunks(CHUNK) {
            let body = json!({
                "files": chunk.iter().map(|f| json!({
                    "path": f.path_in_repo,
                    "sample": BASE64.encode(&f.sample),
                    "size": f.size,
                })).collect::<Vec<_>>(),
            });
            let response = self
                .hub_request("POST", &url)
                .set("Content-Type", "application/json")
                .send_string(&body.to_string())
                .map_err(|e| self.request_error(Step::Preupload, "POST", &url, repo, e))?;
            let answer = read_json(response, Step::Preupload, &url)?;
            let listed = answer
                .get("files")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed(Step::Preupload, &url, "no `files` list"))?;
            for file in chunk {
                let entry = listed
                    .iter()
                    .find(|e| e.get("path").and_then(Value::as_str) == Some(&file.path_in_repo))
                    .ok_or_else(|| {
                        malformed(
                            Step::Preupload,
                            &url,
                            &format!("no entry for {}", file.path_in_repo),
                        )
                    })?;
                let mode = match entry.get("uploadMode").and_then(Value::as_str) {
                    Some("lfs") => UploadMode::Lfs,
                    Some("regular") => UploadMode::Regular,
                    other => {
                        return Err(malformed(
                            Step::Preupload,
                            &url,
                            &format!("uploadMode {other:?} for {}", file.path_in_repo),
                        ));
                    }
                };
                let should_ignore = entry
                    .get("shouldIgnore")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                answers.push(Preupload {
                    mode,
                    should_ignore,
                });
            }
        }
        Ok(answers)
    }

    /// Uploads LFS objects the Hub does not have yet; returns, per file, whether its bytes
    /// were sent.
    pub fn upload_lfs(
        &self,
        repo: &RepoId,
        revision: &str,
        files: &[&LocalFile],
        mut progress: impl FnMut(&str),
    ) -> Result<Vec<bool>> {
        let url = format!("{}/{repo}.git/info/lfs/objects/batch", self.endpoint);
        let mut sent = Vec::with_capacity(files.len());
        for chunk in files.chunks(CHUNK) {
            let body = json!({
                "operation": "upload",
                "transfers": ["basic"],
                "objects": chunk.iter().map(|f| json!({"oid": f.sha256, "size": f.size})).collect::<Vec<_>>(),
                "hash_algo": "sha256",
                "ref": {"name": revision},
            });
            let response = self
                .hub_request("POST", &url)
                .set("Accept", "application/vnd.git-lfs+json")
                .set("Content-Type", "application/vnd.git-lfs+json")
                .send_string(&body.to_string())
                .map_err(|e| self.request_error(Step::LfsBatch, "POST", &url, repo, e))?;
            let answer = read_json(response, Step::LfsBatch, &url)?;
            let objects = answer
                .get("objects")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed(Step::LfsBatch, &url, "no `objects` list"))?;
            for file in chunk {
                let object = objects
                    .iter()
                    .find(|o| o.get("oid").and_then(Value::as_str) == Some(&file.sha256))
                    .ok_or_else(|| {
                        malformed(
                            Step::LfsBatch,
                            &url,
                            &format!("no object for {} (oid {})", file.path_in_repo, file.sha256),
                        )
                    })?;
                if let Some(error) = object.get("error") {
                    bail!(
                        "{}: the Hub refused the LFS object of {} (oid {}): {}",
                        Step::LfsBatch,
                        file.path_in_repo,
                        file.sha256,
                        self.token.redact(&error.to_string())
                    );
                }
                let upload = object.get("actions").and_then(|a| a.get("upload"));
                let Some(upload) = upload else {
                    progress(&format!(
                        "{}: already on the Hub (LFS), not sent again",
                        file.path_in_repo
                    ));
                    sent.push(false);
                    continue;
                };
                progress(&format!(
                    "{}: uploading {} (LFS)",
                    file.path_in_repo,
                    human_bytes(file.size)
                ));
                self.put_object(repo, file, upload)?;
                if let Some(verify) = object.get("actions").and_then(|a| a.get("verify")) {
                    self.verify_object(repo, file, verify)?;
                }
                sent.push(true);
            }
        }
        Ok(sent)
    }

    /// `PUT`s one object's bytes to the upload action's URL, with that action's headers.
    fn put_object(&self, repo: &RepoId, file: &LocalFile, action: &Value) -> Result<()> {
        let (href, headers) = parse_action(action, Step::LfsUpload, &file.path_in_repo)?;
        if headers.iter().any(|(k, _)| k == "chunk_size") {
            bail!(
                "{}: the Hub asked for a multipart upload of {} ({}), but bertfit requested and supports only the basic transfer; please report this",
                Step::LfsUpload,
                file.path_in_repo,
                human_bytes(file.size)
            );
        }
        let href = self.fix_endpoint(&href);
        let shown = without_query(&href);
        let mut request = self
            .agent
            .put(&href)
            .set("Content-Length", &file.size.to_string());
        for (k, v) in &headers {
            request = request.set(k, v);
        }
        let result = match &file.content {
            Content::Memory(bytes) => request.send_bytes(bytes),
            Content::Disk(path) => {
                let handle =
                    File::open(path).with_context(|| format!("opening {}", path.display()))?;
                let size = handle
                    .metadata()
                    .with_context(|| format!("reading {}", path.display()))?
                    .len();
                file.check_unchanged(path, size)?;
                request.send(BufReader::with_capacity(1 << 20, handle).take(file.size))
            }
        };
        result.map_err(|e| self.request_error(Step::LfsUpload, "PUT", &shown, repo, e))?;
        Ok(())
    }

    /// Confirms an upload at the verify action's URL.
    fn verify_object(&self, repo: &RepoId, file: &LocalFile, action: &Value) -> Result<()> {
        let (href, headers) = parse_action(action, Step::LfsVerify, &file.path_in_repo)?;
        let href = self.fix_endpoint(&href);
        let shown = without_query(&href);
        let mut request = if self.is_hub_url(&href) {
            self.hub_request("POST", &href)
        } else {
            self.agent.post(&href)
        };
        for (k, v) in &headers {
            request = request.set(k, v);
        }
        request
            .set("Accept", "application/vnd.git-lfs+json")
            .set("Content-Type", "application/vnd.git-lfs+json")
            .send_string(&json!({"oid": file.sha256, "size": file.size}).to_string())
            .map_err(|e| self.request_error(Step::LfsVerify, "POST", &shown, repo, e))?;
        Ok(())
    }

    /// Commits the files (LFS ones must be uploaded already) on `revision`.
    pub fn commit(
        &self,
        repo: &RepoId,
        revision: &str,
        summary: &str,
        files: &[(&LocalFile, UploadMode)],
    ) -> Result<CommitInfo> {
        let url = format!(
            "{}/api/models/{repo}/commit/{}",
            self.endpoint,
            quote(revision)
        );
        let mut body = String::new();
        let mut line = |value: Value| {
            body.push_str(&value.to_string());
            body.push('\n');
        };
        line(json!({"key": "header", "value": {"summary": summary, "description": ""}}));
        for (file, mode) in files {
            match mode {
                UploadMode::Regular => line(json!({
                    "key": "file",
                    "value": {
                        "content": BASE64.encode(file.read_all()?),
                        "path": file.path_in_repo,
                        "encoding": "base64",
                    },
                })),
                UploadMode::Lfs => line(json!({
                    "key": "lfsFile",
                    "value": {
                        "path": file.path_in_repo,
                        "algo": "sha256",
                        "oid": file.sha256,
                        "size": file.size,
                    },
                })),
            }
        }
        let response = self
            .hub_request("POST", &url)
            .set("Content-Type", "application/x-ndjson")
            .send_string(&body)
            .map_err(|e| self.request_error(Step::Commit, "POST", &url, repo, e))?;
        let answer = read_json(response, Step::Commit, &url)?;
        let field = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| malformed(Step::Commit, &url, &format!("no `{name}`")))
        };
        Ok(CommitInfo {
            commit_url: field("commitUrl")?,
            commit_oid: field("commitOid")?,
        })
    }

    /// The whole push: create the repo, preupload, LFS uploads, commit. `progress` receives
    /// one line per step for people.
    pub fn push(
        &self,
        repo: &RepoId,
        private: bool,
        revision: &str,
        summary: &str,
        files: &[LocalFile],
        mut progress: impl FnMut(&str),
    ) -> Result<PushSummary> {
        let status = self.create_repo(repo, private)?;
        progress(&match status {
            RepoStatus::Created => format!(
                "created {} repo {repo}",
                if private { "private" } else { "public" }
            ),
            RepoStatus::AlreadyExists => format!("repo {repo} exists"),
        });
        let answers = self.preupload(repo, revision, files)?;
        let mut ignored = Vec::new();
        let mut committed: Vec<(&LocalFile, UploadMode)> = Vec::new();
        for (file, answer) in files.iter().zip(&answers) {
            if answer.should_ignore {
                progress(&format!(
                    "{}: ignored by the repo's .gitignore, not committed",
                    file.path_in_repo
                ));
                ignored.push(file.path_in_repo.clone());
            } else {
                committed.push((file, answer.mode));
            }
        }
        let lfs: Vec<&LocalFile> = committed
            .iter()
            .filter(|(_, m)| *m == UploadMode::Lfs)
            .map(|(f, _)| *f)
            .collect();
        let lfs_sent = if lfs.is_empty() {
            Vec::new()
        } else {
            self.upload_lfs(repo, revision, &lfs, &mut progress)?
        };
        progress(&format!(
            "committing {} files to {repo}@{revision}",
            committed.len()
        ));
        let commit = self.commit(repo, revision, summary, &committed)?;
        let mut lfs_sent = lfs_sent.into_iter();
        let mut bytes_transferred = 0;
        let mut pushed = Vec::with_capacity(committed.len());
        for (file, mode) in &committed {
            let transferred = match mode {
                UploadMode::Regular => true,
                UploadMode::Lfs => lfs_sent.next().unwrap_or(false),
            };
            if transferred {
                bytes_transferred += file.size;
            }
            pushed.push(PushedFile {
                path: file.path_in_repo.clone(),
                size: file.size,
                mode: *mode,
                sha256: file.sha256.clone(),
                transferred,
            });
        }
        Ok(PushSummary {
            repo_created: status == RepoStatus::Created,
            commit,
            files: pushed,
            ignored,
            bytes_transferred,
        })
    }

    /// A request to the Hub itself, with the bearer token.
    fn hub_request(&self, method: &str, url: &str) -> ureq::Request {
        self.agent
            .request(method, url)
            .set("Authorization", &self.token.bearer())
    }

    /// Whether `url` is on the endpoint's origin (and may carry the token).
    fn is_hub_url(&self, url: &str) -> bool {
        url.strip_prefix(&self.endpoint)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    }

    /// `huggingface_hub`'s `fix_hf_endpoint_in_url`: the Hub writes its public URL into
    /// action links; behind another endpoint (a mirror or proxy) they are rewritten to it.
    fn fix_endpoint(&self, url: &str) -> String {
        if self.endpoint != DEFAULT_ENDPOINT
            && let Some(rest) = url.strip_prefix(DEFAULT_ENDPOINT)
        {
            return format!("{}{rest}", self.endpoint);
        }
        url.to_string()
    }

    /// An error naming the step, the request, the status or transport failure, and the fix.
    fn request_error(
        &self,
        step: Step,
        method: &str,
        url: &str,
        repo: &RepoId,
        error: ureq::Error,
    ) -> anyhow::Error {
        match error {
            ureq::Error::Status(code, response) => {
                let detail = server_message(response)
                    .map(|m| format!(" ({})", self.token.redact(&m)))
                    .unwrap_or_default();
                let hint = match code {
                    // The storage URL carries its own (time-limited) credentials.
                    401 | 403 if matches!(step, Step::LfsUpload) => {
                        "the storage refused the upload (its pre-signed URL may have expired during a slow upload); push again".to_string()
                    }
                    401 | 403 => format!(
                        "the token was refused or lacks write access to {repo} (a read-only token cannot push, and {owner:?} must be your user or an organisation you can write to); {TOKEN_HINT}",
                        owner = repo.owner
                    ),
                    404 => format!(
                        "not found: check that {repo} and the revision exist (a branch other than main must be created first) and that HF_ENDPOINT ({}) is a Hugging Face Hub",
                        self.endpoint
                    ),
                    413 => "the Hub refused the request as too large".to_string(),
                    429 => "rate-limited by the Hub; wait a little and push again".to_string(),
                    500..=599 => "the Hub had a server error; try again later".to_string(),
                    _ => "unexpected answer from the Hub".to_string(),
                };
                anyhow!("{step}: {method} {url} answered HTTP {code}{detail}: {hint}")
            }
            ureq::Error::Transport(transport) => {
                // Kind, message and source, without the URL (already named, and a pre-signed
                // upload URL's query holds credentials).
                let mut cause = transport.kind().to_string();
                if let Some(message) = transport.message() {
                    cause = format!("{cause}: {message}");
                }
                if let Some(source) = std::error::Error::source(&transport) {
                    cause = format!("{cause}: {source}");
                }
                let cause = self.token.redact(&cause);
                let hint = match transport.kind() {
                    ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => format!(
                        "the Hub endpoint {} is unreachable; check the network, or HF_ENDPOINT if it is set (unset it to use {DEFAULT_ENDPOINT})",
                        self.endpoint
                    ),
                    _ => format!(
                        "the connection to {} failed; check the network and push again",
                        self.endpoint
                    ),
                };
                anyhow!("{step}: {method} {url} failed ({cause}): {hint}")
            }
        }
    }
}

/// An action's `href` and `header` entries.
fn parse_action(action: &Value, step: Step, path: &str) -> Result<(String, Vec<(String, String)>)> {
    let href = action
        .get("href")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{step}: the Hub's LFS action for {path} has no `href`"))?
        .to_string();
    let mut headers = Vec::new();
    if let Some(map) = action.get("header").and_then(Value::as_object) {
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.push((k.clone(), v));
        }
    }
    Ok((href, headers))
}

/// The JSON body of a successful answer.
fn read_json(response: ureq::Response, step: Step, url: &str) -> Result<Value> {
    let text = response
        .into_string()
        .with_context(|| format!("{step}: reading the answer of {url}"))?;
    serde_json::from_str(&text).map_err(|e| malformed(step, url, &format!("not JSON: {e}")))
}

fn malformed(step: Step, url: &str, what: &str) -> anyhow::Error {
    anyhow!(
        "{step}: unexpected answer from {url}: {what}; is HF_ENDPOINT a Hugging Face Hub (or an up-to-date mirror)?"
    )
}

/// The Hub's error message: the `X-Error-Message` header, else `{"error": ...}`, else the
/// start of the body.
fn server_message(response: ureq::Response) -> Option<String> {
    if let Some(m) = response.header("X-Error-Message") {
        return Some(m.to_string());
    }
    let mut body = String::new();
    response
        .into_reader()
        .take(4096)
        .read_to_string(&mut body)
        .ok()?;
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let Some(error) = value.get("error")
    {
        return Some(match error {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    Some(body.chars().take(300).collect())
}

/// A URL without its query (pre-signed URLs carry credentials there).
fn without_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// Percent-encodes a path segment (`urllib.parse.quote(s, safe="")`).
fn quote(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `1.2 MB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn repo_ids() {
        assert_eq!(
            RepoId::parse("me/bert-imdb").unwrap().to_string(),
            "me/bert-imdb"
        );
        for bad in [
            "bert", "/x", "x/", "a/b/c", "a b/c", "a/-b", "a/b.", "a/b--c", "a/b.git", "a/b..c",
        ] {
            assert!(RepoId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_is_redacted() {
        let token = Token::new("hf_secret123").unwrap();
        assert!(!format!("{token:?} {token}").contains("secret"));
        assert_eq!(token.redact("x hf_secret123 y"), "x <redacted> y");
        let client = HubClient::new("http://127.0.0.1:1", Some(token)).unwrap();
        assert!(!format!("{client:?}").contains("secret"));
        assert!(Token::new("  ").is_none());
        let err = HubClient::new("http://127.0.0.1:1", None).unwrap_err();
        assert!(err.to_string().contains("HF_TOKEN"), "{err}");
    }

    #[test]
    fn quoting_and_sizes() {
        assert_eq!(quote("main"), "main");
        assert_eq!(quote("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }

    #[test]
    fn local_files_hash_and_sample() {
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("w.bin");
        std::fs::write(&path, &bytes).unwrap();
        let disk = LocalFile::from_path("w.bin", &path).unwrap();
        let memory = LocalFile::from_bytes("w.bin", bytes.clone());
        assert_eq!(disk.sha256, memory.sha256);
        assert_eq!(disk.size, 2000);
        assert_eq!(disk.sample, bytes[..512]);
        assert_eq!(memory.sample, bytes[..512]);
        assert_eq!(
            LocalFile::from_bytes("e", b"".to_vec()).sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
