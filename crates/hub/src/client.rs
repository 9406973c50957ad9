//! The Hub client proper: every request bertfit makes goes through hf-hub 1.0 here, and every
//! hf-hub error becomes a [`HubError`] here. Compiled with the `client` feature only; without it,
//! [`Hub::snapshot`] answers from the cache alone (offline) and every request is a
//! [`HubError::ClientNotBuilt`].

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use hf_hub::progress::{ProgressEvent, ProgressHandler, UploadEvent};
use hf_hub::repository::CommitOperation;
use hf_hub::{HFClientBuilder, HFClientSync, HFError, RepoTypeAny, RepoTypeModel};

use crate::download::{Hub, Listing, Origin, Snapshot, is_commit};
use crate::error::{Access, HubError, Result};
use crate::options::HubOptions;
use crate::repo::{RepoId, RepoKind};
use crate::upload::{Content, PushRequest, PushSummary, PushedFile, UploadFile, UploadMode};

impl RepoKind {
    pub(crate) fn any(self) -> RepoTypeAny {
        match self {
            Self::Model => RepoTypeAny::Model,
            Self::Dataset => RepoTypeAny::Dataset,
        }
    }
}

impl UploadFile {
    fn operation(&self) -> CommitOperation {
        match &self.content {
            Content::Disk(path) => CommitOperation::add_file(&self.path_in_repo, path),
            Content::Memory(bytes) => CommitOperation::add_bytes(&self.path_in_repo, bytes.clone()),
        }
    }
}

impl Hub {
    /// hf-hub's blocking client for the options.
    pub(crate) fn client(&self) -> Result<HFClientSync> {
        let o = self.options();
        if !(o.endpoint.starts_with("http://") || o.endpoint.starts_with("https://")) {
            return Err(HubError::InvalidEndpoint {
                endpoint: o.endpoint.clone(),
            });
        }
        let mut builder = HFClientBuilder::new()
            .endpoint(o.endpoint.clone())
            .cache_dir(o.cache_dir.clone())
            .retry_max_attempts(o.retries)
            .user_agent(concat!("bertfit/", env!("CARGO_PKG_VERSION"), "; hf-hub/1"));
        if let Some(token) = &o.token {
            builder = builder.token(token.clone());
        }
        builder.build_sync().map_err(|e| HubError::Request {
            step: "setting up the Hub client".to_string(),
            endpoint: o.endpoint.clone(),
            cause: o.redact(&e.to_string()),
            source: Box::new(e),
        })
    }

    /// The Hub's part of [`snapshot`](Self::snapshot): list the revision, let the caller pick,
    /// download what the cache lacks.
    pub(crate) fn download<E: From<HubError>>(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        mut pick: impl FnMut(&Listing) -> Result<Option<Vec<String>>, E>,
    ) -> Result<Snapshot, E> {
        let o = self.options();
        let client = self.client()?;
        let info_url = format!(
            "{}/api/{}/{repo}/revision/{}",
            o.endpoint,
            kind.plural(),
            o.revision
        );
        let context = Context {
            options: o,
            repo,
            kind,
            access: Access::Read,
            step: "listing the repo's files",
            url: &info_url,
            download: false,
        };
        let (commit, mut files) = match info(&client, repo, kind, &o.revision) {
            Ok(info) => info,
            Err(e) if is_unreachable(&e) => {
                let error = context.error(e);
                if let HubError::Unreachable {
                    endpoint, cause, ..
                } = &error
                    && let Some(snapshot) = self.cached(repo, kind, &mut pick)?
                {
                    eprintln!(
                        "warning: {endpoint} is unreachable ({cause}); using the cached copy of \
                         {kind} {repo}@{} (set HF_HUB_OFFLINE=1 to skip the Hub)",
                        o.revision
                    );
                    return Ok(snapshot);
                }
                return Err(HubError::UnreachableNotCached {
                    repo: repo.clone(),
                    kind,
                    revision: o.revision.clone(),
                    cache_dir: o.cache_dir.clone(),
                    source: Box::new(error),
                }
                .into());
            }
            Err(e) => return Err(context.error(e).into()),
        };
        files.sort();
        let listing = Listing {
            commit: commit.clone(),
            files,
            origin: Origin::Hub,
        };
        let picked = pick(&listing)?.ok_or_else(|| HubError::Incomplete {
            repo: repo.clone(),
            kind,
            revision: o.revision.clone(),
            what: "the repo lacks the files needed".to_string(),
        })?;
        let dir = o
            .cache_dir
            .join(repo.cache_folder(kind))
            .join("snapshots")
            .join(&commit);
        let handle = client.repository(kind.any(), repo.owner().unwrap_or(""), repo.name());
        let prefix = match kind {
            RepoKind::Model => "",
            RepoKind::Dataset => "datasets/",
        };
        for file in &picked {
            if dir.join(file).exists() {
                continue;
            }
            if o.progress {
                eprintln!("downloading {file} from {kind} {repo}@{commit}");
            }
            let url = format!("{}/{prefix}{repo}/resolve/{commit}/{file}", o.endpoint);
            let context = Context {
                step: "downloading a file",
                url: &url,
                download: true,
                ..context
            };
            let mut attempt = 0;
            loop {
                let result = handle
                    .download_file()
                    .filename(file.clone())
                    .revision(commit.clone())
                    .send();
                match result {
                    Ok(_) => break,
                    Err(e) => {
                        let error = context.error(e);
                        // hf-hub retries a request that cannot connect; a body cut off half
                        // way is retried here, from the start (hf-hub does not resume).
                        if matches!(error, HubError::Interrupted { .. }) && attempt < o.retries {
                            attempt += 1;
                            continue;
                        }
                        return Err(error.into());
                    }
                }
            }
        }
        if !is_commit(&o.revision) {
            // What `huggingface_hub.snapshot_download` records; hf-hub writes it only for
            // downloads by branch name, and these are by commit.
            let path = o
                .cache_dir
                .join(repo.cache_folder(kind))
                .join("refs")
                .join(&o.revision);
            write_ref(&path, &commit)?;
        }
        Ok(Snapshot {
            dir,
            commit,
            files: picked,
            origin: Origin::Hub,
        })
    }

    /// The Hub's part of [`push`](Self::push): create the repo, commit the files.
    pub(crate) fn commit(
        &self,
        request: &PushRequest,
        mut progress: impl FnMut(&str),
    ) -> Result<PushSummary> {
        let o = self.options();
        let repo = &request.repo;
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

fn write_ref(path: &Path, commit: &str) -> Result<()> {
    let io = |source| HubError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, commit).map_err(io)
}

/// The commit and file list of `repo` at `revision`.
fn info(
    client: &HFClientSync,
    repo: &RepoId,
    kind: RepoKind,
    revision: &str,
) -> std::result::Result<(String, Vec<String>), HFError> {
    let owner = repo.owner().unwrap_or("");
    let (sha, siblings) = match kind {
        RepoKind::Model => {
            let info = client
                .model(owner, repo.name())
                .info()
                .revision(revision.to_string())
                .send()?;
            (info.sha, info.siblings)
        }
        RepoKind::Dataset => {
            let info = client
                .dataset(owner, repo.name())
                .info()
                .revision(revision.to_string())
                .send()?;
            (info.sha, info.siblings)
        }
    };
    let sha = sha.ok_or_else(|| {
        HFError::malformed_response(format!("no commit `sha` for {kind} {repo}@{revision}"))
    })?;
    let files = siblings
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.rfilename)
        .collect();
    Ok((sha, files))
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
