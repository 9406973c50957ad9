//! How to reach the Hub and where its cache is: the variables Python's `huggingface_hub` reads.

use std::path::PathBuf;

/// The Hub's default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// How to reach the Hub and where its cache is. [`HubOptions::from_env`] (also the
/// [`Default`]) reads the variables Python's `huggingface_hub` reads.
#[derive(Clone, PartialEq, Eq)]
pub struct HubOptions {
    /// Base URL (`HF_ENDPOINT`, default `https://huggingface.co`).
    pub endpoint: String,
    /// Access token (`HF_TOKEN`, else the file `HF_TOKEN_PATH` or `$HF_HOME/token` that
    /// `huggingface-cli login` writes). `None` leaves hf-hub to look in the same places of the
    /// process environment.
    pub token: Option<String>,
    /// Use only the cache, never the network (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// The hub cache directory (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Branch, tag or commit (default `main`).
    pub revision: String,
    /// How many times a request that failed to connect, or a download that was cut off, is
    /// tried again before giving up (default 3).
    pub retries: usize,
    /// Show download progress on stderr (default off).
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

/// `huggingface_hub`'s truthy values (`1`, `ON`, `YES`, `TRUE`, any case).
fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_uppercase().as_str(),
        "1" | "ON" | "YES" | "TRUE"
    )
}

impl HubOptions {
    /// Options from `HF_ENDPOINT`, `HF_TOKEN`, `HF_TOKEN_PATH`, `HF_HUB_OFFLINE`,
    /// `HF_HUB_CACHE`, `HF_HOME`, `XDG_CACHE_HOME`.
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
            token: token
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            offline: var("HF_HUB_OFFLINE").is_some_and(|v| is_true(&v)),
            cache_dir,
            revision: "main".into(),
            retries: 3,
            progress: false,
        }
    }

    /// `text` with the token replaced by `<redacted>`, for anything a server sent back.
    #[cfg(any(feature = "client", test))]
    pub(crate) fn redact(&self, text: &str) -> String {
        match &self.token {
            Some(token) if !token.is_empty() => text.replace(token.as_str(), "<redacted>"),
            _ => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
        assert_eq!(o.redact("x hf_abc y"), "x <redacted> y");

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
        assert_eq!(o.revision, "main");
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("token"), "  hf_file\n").unwrap();
        let home = tmp.path().to_str().unwrap().to_string();
        let o = HubOptions::from_lookup(|k| (k == "HF_HOME").then(|| home.clone()));
        assert_eq!(o.token.as_deref(), Some("hf_file"));
    }
}
