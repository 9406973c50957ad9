//! The crate's error type.

use std::path::PathBuf;

/// Errors from loading, configuring, running and saving a [`Tokenizer`](crate::Tokenizer).
///
/// Every variant that involves a file names it, and the messages say how to fix the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizeError {
    /// The directory holds neither a `tokenizer.json` nor a `vocab.txt`.
    #[error(
        "no tokenizer found in {dir}: looked for {tokenizer_json} and {vocab_txt}; \
         point at a Hugging Face model directory that has a tokenizer.json (or at least a \
         BERT vocab.txt), e.g. one written by `save`"
    )]
    NotFound {
        /// The directory that was searched.
        dir: PathBuf,
        /// The `tokenizer.json` path looked for.
        tokenizer_json: PathBuf,
        /// The `vocab.txt` path looked for.
        vocab_txt: PathBuf,
    },

    /// A file could not be read, or written.
    #[error("could not {action} {path}: check that it exists and is accessible")]
    Io {
        /// What was being done: `read`, `write`, `create directory`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A `tokenizer.json` is not valid JSON or is not a `tokenizers` serialization.
    #[error(
        "malformed tokenizer file {path}: it is not a Hugging Face `tokenizers` serialization; \
         re-export it with `tokenizer.save_pretrained(dir)` or remove it to fall back to vocab.txt"
    )]
    MalformedTokenizerJson {
        /// The file.
        path: PathBuf,
        /// The parse error reported by `tokenizers`.
        #[source]
        source: tokenizers::Error,
    },

    /// A `tokenizer_config.json` is not valid JSON or has a key of the wrong type.
    #[error(
        "malformed tokenizer config {path}: fix the JSON (e.g. `do_lower_case` must be a bool, \
         special tokens strings) or delete the file to use BERT defaults"
    )]
    MalformedTokenizerConfig {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// A `vocab.txt` could not be turned into a WordPiece model.
    #[error("invalid vocabulary {path}: expected one WordPiece token per line")]
    InvalidVocab {
        /// The file.
        path: PathBuf,
        /// The error reported by `tokenizers`.
        #[source]
        source: tokenizers::Error,
    },

    /// A special token the pipeline needs is not in the vocabulary.
    #[error(
        "the {role} token {token:?} is not in the vocabulary of {source_desc}; add it to the \
         vocabulary or name the right token in tokenizer_config.json (`{role}_token`)"
    )]
    MissingSpecialToken {
        /// `cls`, `sep`, `pad` or `unk`.
        role: &'static str,
        /// The token string looked up.
        token: String,
        /// Where the vocabulary came from (a path or a description).
        source_desc: String,
    },

    /// The padding/truncation settings cannot be applied.
    #[error("invalid tokenizer configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// An input text is empty or only whitespace.
    #[error(
        "input {index} is empty or only whitespace; drop or fill such rows, or set \
         `TokenizerConfig::allow_empty` to encode them as `[CLS] [SEP]`"
    )]
    EmptyText {
        /// Position of the text (or of the pair) in the batch.
        index: usize,
    },

    /// `tokenizers` failed while encoding.
    #[error("encoding failed")]
    Encode {
        /// The error reported by `tokenizers`.
        #[source]
        source: tokenizers::Error,
    },

    /// `tokenizers` failed while decoding.
    #[error("decoding failed")]
    Decode {
        /// The error reported by `tokenizers`.
        #[source]
        source: tokenizers::Error,
    },

    /// The tokenizer could not be serialized for saving.
    #[error("could not serialize the tokenizer for {path}")]
    Serialize {
        /// The file being written.
        path: PathBuf,
        /// The serialization error.
        #[source]
        source: tokenizers::Error,
    },

    /// A batch with rows of different lengths was asked for as a rectangular tensor.
    #[error(
        "row {row} has {len} tokens but row 0 has {expected}: the batch is not padded; use \
         `PaddingStrategy::MaxLength` or `PaddingStrategy::Longest`"
    )]
    Ragged {
        /// The first row whose length differs.
        row: usize,
        /// Its length.
        len: usize,
        /// The length of row 0.
        expected: usize,
    },
}

/// `Result` with [`TokenizeError`].
pub type Result<T> = std::result::Result<T, TokenizeError>;
