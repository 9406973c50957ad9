//! BERT normalization options and special tokens, and the `tokenizer_config.json` file that
//! carries them in a Hugging Face model directory.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Result, TokenizeError};

/// File name of the Hugging Face tokenizer config.
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";

/// The special token strings of a BERT tokenizer.
///
/// `Default` is BERT's `[CLS] [SEP] [PAD] [UNK] [MASK]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SpecialTokens {
    /// Classification token, first of every sequence (`[CLS]`).
    pub cls: String,
    /// Separator token, closing each text (`[SEP]`).
    pub sep: String,
    /// Padding token (`[PAD]`).
    pub pad: String,
    /// Unknown-word token (`[UNK]`).
    pub unk: String,
    /// Mask token for masked language modelling (`[MASK]`).
    pub mask: String,
}

impl Default for SpecialTokens {
    fn default() -> Self {
        Self {
            cls: "[CLS]".to_owned(),
            sep: "[SEP]".to_owned(),
            pad: "[PAD]".to_owned(),
            unk: "[UNK]".to_owned(),
            mask: "[MASK]".to_owned(),
        }
    }
}

/// How a BERT tokenizer normalizes text, and its special tokens: the keys of a Hugging Face
/// `tokenizer_config.json` that `transformers.BertTokenizer` reads.
///
/// `Default` is HF's `BertTokenizer` default: uncased (lowercase, accents stripped), Chinese
/// characters split, BERT special tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BertOptions {
    /// Lowercase the input (`do_lower_case`, default `true`).
    pub do_lower_case: bool,
    /// Put spaces around CJK ideographs so each becomes a word (`tokenize_chinese_chars`,
    /// default `true`).
    pub tokenize_chinese_chars: bool,
    /// Strip accents (`strip_accents`); `None` (the default) strips them iff `do_lower_case`.
    pub strip_accents: Option<bool>,
    /// Special token strings.
    pub special_tokens: SpecialTokens,
}

impl Default for BertOptions {
    fn default() -> Self {
        Self {
            do_lower_case: true,
            tokenize_chinese_chars: true,
            strip_accents: None,
            special_tokens: SpecialTokens::default(),
        }
    }
}

impl BertOptions {
    /// Reads the options from a `tokenizer_config.json`; keys it lacks keep their default.
    ///
    /// # Errors
    /// [`TokenizeError::Io`] if the file cannot be read,
    /// [`TokenizeError::MalformedTokenizerConfig`] if it is not valid JSON or a key has the
    /// wrong type.
    pub fn from_tokenizer_config_file(path: impl AsRef<Path>) -> Result<Self> {
        let raw = RawTokenizerConfig::read(path.as_ref())?;
        let mut options = Self::default();
        raw.apply_to(&mut options);
        Ok(options)
    }
}

/// The subset of `tokenizer_config.json` we read. Every key is optional, so that we can tell
/// an explicit setting from a default.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawTokenizerConfig {
    #[serde(default)]
    pub(crate) do_lower_case: Option<bool>,
    #[serde(default)]
    pub(crate) tokenize_chinese_chars: Option<bool>,
    /// `Some(None)` for an explicit `null`, `None` when absent.
    #[serde(default, deserialize_with = "explicit")]
    pub(crate) strip_accents: Option<Option<bool>>,
    #[serde(default, deserialize_with = "token_content")]
    cls_token: Option<String>,
    #[serde(default, deserialize_with = "token_content")]
    sep_token: Option<String>,
    #[serde(default, deserialize_with = "token_content")]
    pad_token: Option<String>,
    #[serde(default, deserialize_with = "token_content")]
    unk_token: Option<String>,
    #[serde(default, deserialize_with = "token_content")]
    mask_token: Option<String>,
}

impl RawTokenizerConfig {
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenizeError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TokenizeError::MalformedTokenizerConfig {
            path: path.to_owned(),
            source,
        })
    }

    /// Overwrites the fields of `options` that this file sets explicitly.
    pub(crate) fn apply_to(&self, options: &mut BertOptions) {
        if let Some(v) = self.do_lower_case {
            options.do_lower_case = v;
        }
        if let Some(v) = self.tokenize_chinese_chars {
            options.tokenize_chinese_chars = v;
        }
        if let Some(v) = self.strip_accents {
            options.strip_accents = v;
        }
        let tokens = &mut options.special_tokens;
        for (slot, value) in [
            (&mut tokens.cls, &self.cls_token),
            (&mut tokens.sep, &self.sep_token),
            (&mut tokens.pad, &self.pad_token),
            (&mut tokens.unk, &self.unk_token),
            (&mut tokens.mask, &self.mask_token),
        ] {
            if let Some(v) = value {
                slot.clone_from(v);
            }
        }
    }
}

fn explicit<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<bool>>, D::Error> {
    Option::<bool>::deserialize(d).map(Some)
}

/// A special token is either a string or (older files) an `AddedToken` object with `content`.
fn token_content<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Token {
        Plain(String),
        Added { content: String },
    }
    Ok(Option::<Token>::deserialize(d)?.map(|t| match t {
        Token::Plain(s) | Token::Added { content: s } => s,
    }))
}

/// What we write to `tokenizer_config.json` on save: enough for `transformers.AutoTokenizer`
/// to rebuild exactly this tokenizer.
#[derive(Debug, Serialize)]
pub(crate) struct TokenizerConfigOut<'a> {
    pub(crate) tokenizer_class: &'a str,
    pub(crate) do_lower_case: bool,
    pub(crate) tokenize_chinese_chars: bool,
    pub(crate) strip_accents: Option<bool>,
    pub(crate) model_max_length: usize,
    pub(crate) cls_token: &'a str,
    pub(crate) sep_token: &'a str,
    pub(crate) pad_token: &'a str,
    pub(crate) unk_token: &'a str,
    pub(crate) mask_token: &'a str,
    pub(crate) padding_side: &'a str,
    pub(crate) truncation_side: &'a str,
    pub(crate) clean_up_tokenization_spaces: bool,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_hf_tokenizer_config() {
        let raw: RawTokenizerConfig = serde_json::from_str(
            r#"{"do_lower_case": false, "strip_accents": null, "model_max_length": 1000000000000000019884624838656,
                "cls_token": {"content": "<cls>", "lstrip": false}, "pad_token": "<pad>", "never_split": null}"#,
        )
        .unwrap();
        assert_eq!(raw.strip_accents, Some(None));
        assert_eq!(raw.tokenize_chinese_chars, None);
        let mut o = BertOptions::default();
        raw.apply_to(&mut o);
        assert!(!o.do_lower_case);
        assert!(o.tokenize_chinese_chars);
        assert_eq!(o.special_tokens.cls, "<cls>");
        assert_eq!(o.special_tokens.pad, "<pad>");
        assert_eq!(o.special_tokens.sep, "[SEP]");
    }

    #[test]
    fn malformed_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKENIZER_CONFIG_FILE);
        std::fs::write(&path, r#"{"do_lower_case": "yes"}"#).unwrap();
        let err = BertOptions::from_tokenizer_config_file(&path).unwrap_err();
        assert!(matches!(
            err,
            TokenizeError::MalformedTokenizerConfig { .. }
        ));
        assert!(err.to_string().contains(&path.display().to_string()));
        assert!(std::error::Error::source(&err).is_some());
    }
}
