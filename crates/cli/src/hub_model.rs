//! `--model` naming a Hub model repo (`bert-base-cased`, `google-bert/bert-base-cased`): its
//! files are downloaded with `hf-hub` into the standard Hugging Face cache, the one Python's
//! `huggingface_hub` uses, and the snapshot directory is used like a local model directory.
//!
//! Fetched: `config.json`, the weights (`model.safetensors`, else `pytorch_model.bin`), the
//! tokenizer (`tokenizer.json` and/or `vocab.txt`) and, when the repo has them,
//! `tokenizer_config.json` and `special_tokens_map.json`. Endpoint, token, cache and offline
//! mode come from the usual variables (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HOME`, `HF_HUB_CACHE`,
//! `HF_HUB_OFFLINE`). Files already cached for the revision are not downloaded again. An
//! unreachable Hub is never papered over silently: a complete cached copy is used with a warning
//! on stderr (what `huggingface_hub` does), otherwise the command stops and says how to run
//! offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bertfit_data::HubOptions;
use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};

/// Weight files, in order of preference.
const WEIGHTS: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];
/// Tokenizer files; at least one is needed.
const TOKENIZER: [&str; 2] = ["tokenizer.json", "vocab.txt"];
/// Fetched when the repo has them.
const OPTIONAL: [&str; 2] = ["tokenizer_config.json", "special_tokens_map.json"];

/// What to tell a user who has no Hub access.
const OFFLINE_HINT: &str = "pass a local model directory to --model, or run the fully offline \
                            demo: `cargo xtask finetune --preset demo`";

/// A local model directory for `spec`: the directory itself when it exists, else the Hub
/// snapshot of the model repo `spec` (downloaded if needed).
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    resolve_model_with(spec, &HubOptions::from_env())
}

/// [`resolve_model`] with explicit Hub options.
pub fn resolve_model_with(spec: &str, options: &HubOptions) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if path.exists() {
        bail!(
            "--model {spec} is a file; pass the directory holding config.json, the weights and the tokenizer"
        );
    }
    if !is_model_id(spec) {
        bail!(
            "--model {spec}: no such directory, and not a Hub model id (`name` or `owner/name`, e.g. bert-base-cased)"
        );
    }
    let repo = Repo::with_revision(spec.to_string(), RepoType::Model, options.revision.clone());
    if options.offline {
        return cached_snapshot(options, &repo).ok_or_else(|| {
            anyhow::anyhow!(
                "model {spec} (revision {}) is not in the Hugging Face cache {} and HF_HUB_OFFLINE is set; \
                 unset HF_HUB_OFFLINE to download it, or {OFFLINE_HINT}",
                options.revision,
                options.cache_dir.display()
            )
        });
    }
    download(spec, options, repo)
}

/// `name` or `owner/name` made of the characters the Hub allows, and not path-like.
pub fn is_model_id(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    let valid = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '-'])
            && !p.ends_with('.')
            && p.len() <= 96
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    (1..=2).contains(&parts.len()) && parts.iter().all(|p| valid(p))
}

/// The cached snapshot of `repo` when it holds a complete model (config, weights, tokenizer).
fn cached_snapshot(options: &HubOptions, repo: &Repo) -> Option<PathBuf> {
    let cached = Cache::new(options.cache_dir.clone()).repo(repo.clone());
    let config = cached.get("config.json")?;
    WEIGHTS.iter().find_map(|f| cached.get(f))?;
    TOKENIZER.iter().find_map(|f| cached.get(f))?;
    config.parent().map(Path::to_path_buf)
}

fn http_status(err: &ApiError) -> Option<u16> {
    match err {
        ApiError::RequestError(e) => match e.as_ref() {
            ureq::Error::Status(code, _) => Some(*code),
            ureq::Error::Transport(_) => None,
        },
        _ => None,
    }
}

fn explain(err: &ApiError, spec: &str, url: &str) -> String {
    match http_status(err) {
        Some(404) => format!(
            "{url}: HTTP 404: no model repo {spec} (or the file is missing); check the id and --revision"
        ),
        Some(code @ (401 | 403)) => format!(
            "{url}: HTTP {code}: model {spec} is private or gated; set HF_TOKEN to a token with read access"
        ),
        Some(code) => format!("{url}: HTTP {code}"),
        None => format!("{url}: {err}"),
    }
}

fn download(spec: &str, options: &HubOptions, repo: Repo) -> Result<PathBuf> {
    let api = ApiBuilder::from_cache(Cache::new(options.cache_dir.clone()))
        .with_endpoint(options.endpoint.clone())
        .with_token(options.token.clone())
        .with_retries(options.retries)
        .with_progress(options.progress)
        .build()
        .context("setting up the Hub client")?;
    let info_url = format!(
        "{}/api/models/{spec}/revision/{}",
        options.endpoint,
        repo.url_revision()
    );
    let remote = api.repo(repo.clone());
    let info = match remote.info() {
        Ok(info) => info,
        Err(e) if http_status(&e).is_none() && matches!(e, ApiError::RequestError(_)) => {
            if let Some(dir) = cached_snapshot(options, &repo) {
                eprintln!(
                    "warning: {} is unreachable ({e}); using the cached copy of {spec} (set HF_HUB_OFFLINE=1 to skip the Hub)",
                    options.endpoint
                );
                return Ok(dir);
            }
            bail!(
                "cannot reach the Hub to download model {spec} ({}) and it is not in the Hugging Face cache {}; \
                 check the network or HF_ENDPOINT, or {OFFLINE_HINT}",
                explain(&e, spec, &info_url),
                options.cache_dir.display()
            );
        }
        Err(e) => bail!("{}", explain(&e, spec, &info_url)),
    };
    let listed: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    let has = |f: &&str| listed.contains(f);
    if !listed.contains(&"config.json") {
        bail!("model repo {spec} has no config.json; it is not a transformers checkpoint");
    }
    let Some(weights) = WEIGHTS.iter().copied().find(has) else {
        bail!(
            "model repo {spec} has neither {} nor {}; bertfit needs PyTorch-format weights",
            WEIGHTS[0],
            WEIGHTS[1]
        );
    };
    let tokenizer: Vec<&str> = TOKENIZER.iter().copied().filter(has).collect();
    if tokenizer.is_empty() {
        bail!("model repo {spec} has no tokenizer.json or vocab.txt");
    }
    let optional = OPTIONAL.iter().copied().filter(has);
    let files = std::iter::once("config.json")
        .chain(std::iter::once(weights))
        .chain(tokenizer)
        .chain(optional);
    let mut dir = None;
    for file in files {
        let path = remote.get(file).map_err(|e| {
            anyhow::anyhow!(
                "downloading {file} of {spec}: {}",
                explain(&e, spec, &remote.url(file))
            )
        })?;
        dir = path.parent().map(Path::to_path_buf);
    }
    dir.context("the Hub cache returned no snapshot directory")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn model_ids() {
        for id in [
            "bert-base-cased",
            "google-bert/bert-base-cased",
            "a/b.c_d-1",
        ] {
            assert!(is_model_id(id), "{id}");
        }
        for id in [
            "", "a/b/c", "./x", "../x", "/abs", "a//b", "x y", ".hidden", "a/",
        ] {
            assert!(!is_model_id(id), "{id}");
        }
    }

    #[test]
    fn offline_and_not_cached_names_the_demo() {
        let tmp = std::env::temp_dir().join(format!("bertfit-hub-model-{}", std::process::id()));
        let options = HubOptions {
            offline: true,
            cache_dir: tmp.clone(),
            ..HubOptions::from_lookup(|_| None)
        };
        let err = format!(
            "{:#}",
            resolve_model_with("bert-base-cased", &options).unwrap_err()
        );
        assert!(err.contains("--preset demo"), "{err}");
        assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
        assert!(!tmp.exists());
    }
}
