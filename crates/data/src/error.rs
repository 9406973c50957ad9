//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading, transforming or writing a dataset.
///
/// Each message names the file, column, row or split at fault and says how to fix it; the
/// underlying error (I/O, polars, the Hub client) stays reachable through
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or directory does not exist.
    #[error(
        "{what} not found: {path}; check the path (relative paths start at the current directory)"
    )]
    NotFound {
        /// What was expected there (e.g. "parquet file", "aclImdb directory").
        what: &'static str,
        /// The missing path.
        path: PathBuf,
    },

    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// "read", "write", "list" …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// polars could not read the file in the given format (corrupt, truncated, wrong format).
    #[error(
        "cannot read {path} as {format}: {source}; check that the file is complete, UTF-8 text \
         where text is expected, and really {format} (not a Git LFS pointer or an HTML error \
         page), or re-download it"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// "parquet", "CSV" or "JSONL".
        format: &'static str,
        /// polars' error.
        #[source]
        source: polars::error::PolarsError,
    },

    /// A data file has no bytes at all.
    #[error("{path} is empty: it has no header and no rows; fill it or leave it out")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },

    /// A JSONL line is not a JSON object.
    #[error("{path}: line {line} is not valid JSON ({message}); fix or remove that line")]
    MalformedLine {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What the JSON parser reported.
        message: String,
    },

    /// A line of a text file (CSV, JSONL) is not UTF-8.
    #[error(
        "{path}: line {line} is not valid UTF-8; re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
    )]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },

    /// A CSV record has another number of fields than the header.
    #[error(
        "{path}: the record on line {line} has {found} fields but the header has {expected}; quote fields that contain the separator, or fix the row"
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// The 1-based line the record starts on.
        line: usize,
        /// Its number of fields.
        found: usize,
        /// The header's.
        expected: usize,
    },

    /// Two files of a directory claim the same split.
    #[error(
        "{path}: split `{split}` has more than one file ({}); keep one (or name shards like {split}-00000-of-00002.parquet)",
        files.join(", ")
    )]
    DuplicateSplit {
        /// The directory.
        path: PathBuf,
        /// The split.
        split: String,
        /// The files' names.
        files: Vec<String>,
    },

    /// polars could not write the file.
    #[error("cannot write {path} as {format}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// "parquet" or "JSONL".
        format: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// A required column is absent.
    #[error(
        "{path}: no column `{column}` for the {role}; columns found: [{}]; name the right one with \
         LoadOptions::{role}_column",
        found.join(", ")
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column that was looked for.
        column: String,
        /// "text" or "label".
        role: &'static str,
        /// The columns the file has.
        found: Vec<String>,
    },

    /// A column has a type this crate cannot use for its role.
    #[error("{path}: column `{column}` has type {dtype}; the {role} must be {expected}")]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// "text" or "label".
        role: &'static str,
        /// The type found.
        dtype: String,
        /// The types accepted.
        expected: &'static str,
    },

    /// A text is null or empty and the caller did not ask to drop such rows.
    #[error(
        "{path}: row {row} (0-based): the text is {kind}; fix the data, or set \
         LoadOptions::drop_empty_text to skip such rows (the skip count is reported in SplitInfo)"
    )]
    EmptyText {
        /// The file.
        path: PathBuf,
        /// The 0-based data row.
        row: usize,
        /// "null" or "empty".
        kind: &'static str,
    },

    /// A label is missing.
    #[error(
        "{path}: row {row} (0-based): the label is null; every row needs a label (use -1 for \
         unlabelled rows in an integer column)"
    )]
    NullLabel {
        /// The file.
        path: PathBuf,
        /// The 0-based data row.
        row: usize,
    },

    /// An integer label is outside the label map.
    #[error(
        "{path}: row {row} (0-based): label {label} is outside 0..{num_labels} (and is not -1, \
         'unlabelled'); check the label column, or pass a LoadOptions::label_map with more labels"
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// The 0-based data row.
        row: usize,
        /// The label found.
        label: i64,
        /// The number of labels in the map.
        num_labels: usize,
    },

    /// A string label is not in the label map.
    #[error(
        "{path}: row {row} (0-based): label `{label}` is not in the label map [{}]; add it to \
         LoadOptions::label_map or fix the data",
        known.join(", ")
    )]
    UnmappedLabel {
        /// The file.
        path: PathBuf,
        /// The 0-based data row.
        row: usize,
        /// The label found.
        label: String,
        /// The names the map knows.
        known: Vec<String>,
    },

    /// A label column mixes integer ids and label names, or splits disagree on the label type.
    #[error(
        "{path}: column `{column}` mixes integer labels (e.g. `{int_example}`) and label names \
         (e.g. `{name_example}`); use one kind throughout (ids 0..n, or names mapped through \
         LoadOptions::label_map)"
    )]
    MixedLabelTypes {
        /// The file (or the second file, when splits disagree).
        path: PathBuf,
        /// The label column.
        column: String,
        /// An integer label seen.
        int_example: String,
        /// A label name seen.
        name_example: String,
    },

    /// A label map is not usable.
    #[error("invalid label map: {reason}")]
    InvalidLabelMap {
        /// What is wrong with it.
        reason: String,
    },

    /// A split has no rows.
    #[error(
        "split `{split}` from {origin} has no rows{}; check the file or filter, or leave the split out",
        if *skipped > 0 { format!(" ({skipped} empty texts were dropped)") } else { String::new() }
    )]
    EmptySplit {
        /// The split.
        split: String,
        /// Where it came from.
        origin: String,
        /// Rows dropped for empty text.
        skipped: usize,
    },

    /// The requested split does not exist.
    #[error("no split `{split}`; the splits are [{}]", available.join(", "))]
    UnknownSplit {
        /// The split asked for.
        split: String,
        /// The splits present.
        available: Vec<String>,
    },

    /// Nothing in a directory looks like a data file of the expected kind.
    #[error("no {format} files in {path}; expected files like train.{ext} and test.{ext}")]
    NoDataFiles {
        /// The directory.
        path: PathBuf,
        /// "parquet", "CSV" or "JSONL".
        format: &'static str,
        /// The expected extension.
        ext: &'static str,
    },

    /// A file extension this crate cannot read.
    #[error(
        "{path}: unknown data file type; use .parquet, .csv, .tsv, .jsonl or .ndjson (or name the \
         format with Source::Parquet/Csv/Jsonl)"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },

    /// The directory does not have the `aclImdb` layout.
    #[error(
        "{path} is not an aclImdb directory: {missing} is missing; expected \
         {{train,test}}/{{pos,neg}}/<id>_<rating>.txt (and optionally train/unsup/)"
    )]
    AclLayout {
        /// The directory given.
        path: PathBuf,
        /// The sub-directory that is missing.
        missing: String,
    },

    /// An `aclImdb` review file name is not `<id>_<rating>.txt`.
    #[error("{path}: expected an aclImdb review named <id>_<rating>.txt (e.g. 123_8.txt)")]
    AclFileName {
        /// The file.
        path: PathBuf,
    },

    /// A text file is not valid UTF-8.
    #[error(
        "{path}: not valid UTF-8 (first bad byte at offset {valid_up_to}); re-encode it, e.g. \
         `iconv -f latin1 -t utf-8`"
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },

    /// `select` was given indices beyond the dataset.
    #[error("index {index} is out of range for a split of {len} rows")]
    IndexOutOfRange {
        /// The first bad index.
        index: usize,
        /// The split length.
        len: usize,
    },

    /// A train/test or sample size cannot be satisfied.
    #[error("{reason}")]
    InvalidSize {
        /// What is wrong, with the numbers.
        reason: String,
    },

    /// `HF_HUB_OFFLINE` (or [`HubOptions::offline`](crate::HubOptions)) is set and the files
    /// are not cached.
    #[error(
        "offline mode (HF_HUB_OFFLINE) is on and {repo_id}@{revision} has no cached parquet files \
         for config `{config}` under {cache_dir}; unset HF_HUB_OFFLINE to download them, set \
         HF_HOME/HF_HUB_CACHE to where they are cached, or load local files with \
         Source::Parquet/Csv/Jsonl/AclImdb"
    )]
    HubOfflineNotCached {
        /// The dataset repo.
        repo_id: String,
        /// The revision.
        revision: String,
        /// The config looked for (`*` when any).
        config: String,
        /// The hub cache directory searched.
        cache_dir: PathBuf,
    },

    /// The Hub answered 404.
    #[error(
        "{url}: not found (404); check the dataset id `{repo_id}`, the revision `{revision}` and \
         the config/split names"
    )]
    HubNotFound {
        /// The URL that failed.
        url: String,
        /// The dataset repo.
        repo_id: String,
        /// The revision.
        revision: String,
        /// The Hub client's error.
        #[source]
        source: Box<bertfit_hub::HubError>,
    },

    /// The Hub answered 401 or 403.
    #[error(
        "{url}: access denied ({status}); set HF_TOKEN (or HubOptions::token) to a token that can \
         read `{repo_id}`, and accept the dataset's terms on its Hub page if it is gated"
    )]
    HubUnauthorized {
        /// The URL that failed.
        url: String,
        /// The dataset repo.
        repo_id: String,
        /// 401 or 403.
        status: u16,
        /// The Hub client's error.
        #[source]
        source: Box<bertfit_hub::HubError>,
    },

    /// Any other Hub failure: unreachable endpoint, server error, connection dropped mid-file.
    #[error(
        "{what}; set HF_HUB_OFFLINE=1 to use cached files, or load local files with \
         Source::Parquet"
    )]
    Hub {
        /// The URL (or endpoint) involved.
        url: String,
        /// A short description of the failure.
        what: String,
        /// The Hub client's error.
        #[source]
        source: Box<bertfit_hub::HubError>,
    },

    /// The dataset id is not a valid Hub repo id.
    #[error("dataset {repo_id:?}: {source}")]
    HubRepoId {
        /// The id as given.
        repo_id: String,
        /// What is wrong with it.
        #[source]
        source: Box<bertfit_hub::HubError>,
    },

    /// The repo has no parquet files for the requested config.
    #[error(
        "{repo_id}@{revision}: no parquet split files for config `{config}`; parquet files in the \
         repo: [{}]; pick a config with HubSource::config",
        files.join(", ")
    )]
    HubNoSplits {
        /// The dataset repo.
        repo_id: String,
        /// The revision.
        revision: String,
        /// The config asked for (`*` when any).
        config: String,
        /// The parquet files found.
        files: Vec<String>,
    },

    /// The repo has several configs and none was chosen.
    #[error(
        "{repo_id} has several configs [{}]; choose one with HubSource::config",
        configs.join(", ")
    )]
    HubAmbiguousConfig {
        /// The dataset repo.
        repo_id: String,
        /// The configs found.
        configs: Vec<String>,
    },
}

/// `Result` with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            return Self::NotFound {
                what: "file or directory",
                path,
            };
        }
        Self::Io {
            action,
            path,
            source,
        }
    }
}
