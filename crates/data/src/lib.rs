//! Labelled text datasets for bertfit.
//!
//! This crate will load IMDB-style labelled text from the Hugging Face Hub, local
//! parquet/CSV/JSONL files and the `aclImdb` folder layout, and shuffle/select subsets exactly
//! like Python's `datasets`. It is being built under its own issue; today it only defines the
//! row type the other crates agree on.
//!
//! Architecture invariant: no burn types and no dependency on `bertfit-tokenize`.

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow {
    /// The text.
    pub text: String,
    /// The label id.
    pub label: i64,
}
