//! `--model` naming a Hub model repo (`bert-base-cased`, `google-bert/bert-base-cased`): its
//! files are downloaded by `bertfit-hub` into the standard Hugging Face cache, the one Python's
//! `huggingface_hub` uses, and the snapshot directory is used like a local model directory.
//!
//! Fetched: `config.json`, the weights (`model.safetensors`, else `pytorch_model.bin`), the
//! tokenizer (`tokenizer.json` and/or `vocab.txt`) and, when the repo has them,
//! `tokenizer_config.json` and `special_tokens_map.json`. Endpoint, token, cache and offline
//! mode come from the usual variables (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HOME`, `HF_HUB_CACHE`,
//! `HF_HUB_OFFLINE`). A LoRA adapter repo (`adapter_config.json`, `adapter_model.safetensors`)
//! is fetched as it is; its base model is another `--model`-style lookup. Files already cached for the commit are not downloaded again. An
//! unreachable Hub is never papered over silently: a complete cached copy is used with a warning
//! on stderr (what `huggingface_hub` does), otherwise the command stops and says how to run
//! offline.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use bertfit_hub::{Hub, HubError, HubOptions, Listing, Origin, RepoId, RepoKind};

/// Weight files, in order of preference.
const WEIGHTS: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];
/// Tokenizer files; at least one is needed.
const TOKENIZER: [&str; 2] = ["tokenizer.json", "vocab.txt"];
/// A PEFT LoRA adapter repo's files (with `config.json` and the tokenizer when it has them).
const ADAPTER: [&str; 2] = ["adapter_config.json", "adapter_model.safetensors"];
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
    let repo = RepoId::parse(spec)
        .map_err(|e| anyhow!("--model {spec}: no such directory, and not a Hub model id ({e})"))?;
    let hub = Hub::new(options.clone());
    match hub.snapshot(&repo, RepoKind::Model, |listing| pick(spec, listing)) {
        Ok(snapshot) => Ok(snapshot.dir),
        Err(e) => {
            let context = match e.downcast_ref::<HubError>() {
                Some(HubError::OfflineNotCached { .. } | HubError::UnreachableNotCached { .. }) => {
                    format!("model {spec} is not available: {OFFLINE_HINT}")
                }
                Some(HubError::ClientNotBuilt { .. }) => {
                    format!("--model {spec}: no such directory, so it names a model on the Hub")
                }
                _ => format!("getting model {spec} from the Hub"),
            };
            Err(e.context(context))
        }
    }
}

/// The files of a model among the repo's: config, weights, tokenizer, extras. A cached listing
/// that lacks them is "not cached"; the Hub's is an error naming what is missing.
fn pick(spec: &str, listing: &Listing) -> Result<Option<Vec<String>>> {
    let has = |f: &&str| listing.files.iter().any(|l| l == f);
    let cached = listing.origin == Origin::Cache;
    if ADAPTER.iter().all(has) {
        // A PEFT LoRA adapter: its base model is resolved on its own.
        let files = ADAPTER
            .iter()
            .chain(["config.json"].iter())
            .chain(TOKENIZER.iter())
            .chain(OPTIONAL.iter())
            .copied()
            .filter(has)
            .map(str::to_string)
            .collect();
        return Ok(Some(files));
    }
    let weights = WEIGHTS.iter().copied().find(has);
    let tokenizer: Vec<&str> = TOKENIZER.iter().copied().filter(has).collect();
    if cached && (!has(&"config.json") || weights.is_none() || tokenizer.is_empty()) {
        return Ok(None);
    }
    if !has(&"config.json") {
        bail!("model repo {spec} has no config.json; it is not a transformers checkpoint");
    }
    let Some(weights) = weights else {
        bail!(
            "model repo {spec} has neither {} nor {}; bertfit needs PyTorch-format weights",
            WEIGHTS[0],
            WEIGHTS[1]
        );
    };
    if tokenizer.is_empty() {
        bail!("model repo {spec} has no tokenizer.json or vocab.txt");
    }
    let files = std::iter::once("config.json")
        .chain(std::iter::once(weights))
        .chain(tokenizer)
        .chain(OPTIONAL.iter().copied().filter(has))
        .map(str::to_string)
        .collect();
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
        let err = format!("{:#}", resolve_model_with("a/b/c", &options).unwrap_err());
        assert!(err.contains("not a Hub model id"), "{err}");
    }

    #[test]
    fn picks_config_weights_tokenizer() {
        let listing = |files: &[&str], origin| Listing {
            commit: "c".into(),
            files: files.iter().map(|s| s.to_string()).collect(),
            origin,
        };
        let full = listing(
            &[
                "README.md",
                "config.json",
                "model.safetensors",
                "pytorch_model.bin",
                "vocab.txt",
                "tokenizer_config.json",
            ],
            Origin::Hub,
        );
        assert_eq!(
            pick("m", &full).unwrap().unwrap(),
            [
                "config.json",
                "model.safetensors",
                "vocab.txt",
                "tokenizer_config.json"
            ]
        );
        let bare = listing(&["config.json", "vocab.txt"], Origin::Hub);
        assert!(
            pick("m", &bare)
                .unwrap_err()
                .to_string()
                .contains("weights")
        );
        assert!(
            pick("m", &listing(&["config.json"], Origin::Cache))
                .unwrap()
                .is_none()
        );
        let adapter = listing(
            &[
                "README.md",
                "adapter_model.safetensors",
                "adapter_config.json",
                "vocab.txt",
            ],
            Origin::Hub,
        );
        assert_eq!(
            pick("m", &adapter).unwrap().unwrap(),
            [
                "adapter_config.json",
                "adapter_model.safetensors",
                "vocab.txt"
            ]
        );
    }
}
