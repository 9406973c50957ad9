//! Repo ids and kinds: the one validator of the project.

use std::fmt;
use std::str::FromStr;

use crate::error::HubError;

/// Longest repo name the Hub accepts.
const MAX_NAME: usize = 96;

/// What a repo holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoKind {
    /// A model repo (`/{id}`, cache folder `models--…`).
    Model,
    /// A dataset repo (`/datasets/{id}`, cache folder `datasets--…`).
    Dataset,
}

impl RepoKind {
    /// `models` or `datasets`: the API segment and the cache folder prefix.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
        }
    }
}

impl fmt::Display for RepoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
        })
    }
}

/// A Hub repo id, `name` or `owner/name`, checked with the rule `huggingface_hub`'s
/// `validate_repo_id` applies: each part made of ASCII letters, digits, `-`, `_` and `.`, not
/// starting or ending with `-` or `.`, without `--` or `..`; a name of at most 96 characters,
/// not ending in `.git`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoId {
    owner: Option<String>,
    name: String,
}

impl RepoId {
    /// Parses `name` or `owner/name` (ownerless ids are the Hub's legacy canonical repos, such
    /// as `bert-base-cased`).
    pub fn parse(id: &str) -> Result<Self, HubError> {
        let invalid = |reason: String| HubError::InvalidRepoId {
            id: id.to_string(),
            reason,
        };
        let (owner, name) = match id.split_once('/') {
            Some((owner, name)) => (Some(owner), name),
            None => (None, id),
        };
        if name.contains('/') {
            return Err(invalid(
                "more than one '/'; a repo id is owner/name".to_string(),
            ));
        }
        for (what, part) in owner
            .map(|o| ("owner", o))
            .into_iter()
            .chain([("name", name)])
        {
            check_part(what, part).map_err(invalid)?;
        }
        if name.len() > MAX_NAME {
            return Err(invalid(format!("name longer than {MAX_NAME} characters")));
        }
        if name.ends_with(".git") {
            return Err(invalid("name ends with .git".to_string()));
        }
        Ok(Self {
            owner: owner.map(str::to_string),
            name: name.to_string(),
        })
    }

    /// Parses `owner/name`, refusing an id without owner (what creating a repo needs).
    pub fn parse_owned(id: &str) -> Result<Self, HubError> {
        let repo = Self::parse(id)?;
        if repo.owner.is_none() {
            return Err(HubError::InvalidRepoId {
                id: id.to_string(),
                reason: "no owner: write it as owner/name, the owner being your user or an \
                         organisation you can write to"
                    .to_string(),
            });
        }
        Ok(repo)
    }

    /// Whether `id` is a valid repo id.
    pub fn is_valid(id: &str) -> bool {
        Self::parse(id).is_ok()
    }

    /// The user or organisation, if the id has one.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The repo's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder of this repo in the Hub cache: `models--owner--name`, `datasets--owner--name`.
    pub fn cache_folder(&self, kind: RepoKind) -> String {
        match &self.owner {
            Some(owner) => format!("{}--{owner}--{}", kind.plural(), self.name),
            None => format!("{}--{}", kind.plural(), self.name),
        }
    }
}

fn check_part(what: &str, part: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err(format!("empty {what}"));
    }
    if let Some(c) = part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(format!(
            "{what} contains {c:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
        return Err(format!("{what} starts or ends with '-' or '.'"));
    }
    if part.contains("--") || part.contains("..") {
        return Err(format!("{what} contains '--' or '..'"));
    }
    Ok(())
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Some(owner) => write!(f, "{owner}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl FromStr for RepoId {
    type Err = HubError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn valid_ids() {
        for id in [
            "bert-base-cased",
            "google-bert/bert-base-cased",
            "a/b.c_d-1",
            "me/bert-imdb",
            "_x/y_",
        ] {
            assert_eq!(RepoId::parse(id).unwrap().to_string(), id);
        }
        let r = RepoId::parse("stanfordnlp/imdb").unwrap();
        assert_eq!(r.owner(), Some("stanfordnlp"));
        assert_eq!(r.name(), "imdb");
        assert_eq!(
            r.cache_folder(RepoKind::Dataset),
            "datasets--stanfordnlp--imdb"
        );
        assert_eq!(
            RepoId::parse("gpt2").unwrap().cache_folder(RepoKind::Model),
            "models--gpt2"
        );
    }

    #[test]
    fn invalid_ids() {
        for id in [
            "", "a/b/c", "./x", "../x", "/abs", "a//b", "x y", ".hidden", "a/", "/x", "a/-b",
            "a/b.", "a/b--c", "a/b.git", "a/b..c", "a-/b",
        ] {
            assert!(RepoId::parse(id).is_err(), "{id}");
        }
        assert!(!RepoId::is_valid(&"x".repeat(97)));
        let err = RepoId::parse_owned("just-a-name").unwrap_err().to_string();
        assert!(err.contains("owner/name"), "{err}");
        assert!(RepoId::parse_owned("me/x").is_ok());
    }
}
