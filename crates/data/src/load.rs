//! Sources, load options, and turning raw columns into validated splits.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dataset::{DatasetDict, SplitInfo, TextDataset, TextRow, split_rank};
use crate::error::{DataError, Result};
use crate::files::{Columns, FileFormat, files_in_dir, read_file};
use crate::hub::HubSource;
use crate::label::LabelMap;

/// Where a [`DatasetDict`] comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A dataset repo on the Hugging Face Hub (parquet splits), through the standard HF cache.
    Hub(HubSource),
    /// A parquet file (one split, `train`, as `load_dataset("parquet", data_files=…)` does) or a
    /// directory of them (one split per file: `train.parquet` → `train`; shards named
    /// `train-00000-of-00002.parquet` are concatenated in name order).
    Parquet(PathBuf),
    /// A CSV (`.tsv`: tab-separated) file with a header row, or a directory of them; splits as
    /// for [`Source::Parquet`].
    Csv(PathBuf),
    /// A JSON-lines file, or a directory of them; splits as for [`Source::Parquet`].
    Jsonl(PathBuf),
    /// Explicit `(split, file)` pairs, the format taken from each extension; several files for
    /// one split are concatenated in the order given.
    Files(Vec<(String, PathBuf)>),
    /// The original `aclImdb` folder: `{train,test}/{pos,neg}/<id>_<rating>.txt` and
    /// `train/unsup/` (split `unsupervised`, label -1).
    AclImdb(PathBuf),
}

impl Source {
    /// `stanfordnlp/imdb` on the Hub (config `plain_text`), what the seed's
    /// `load_dataset("imdb")` loads; Hub settings from the environment.
    pub fn imdb() -> Self {
        Self::Hub(HubSource::new("stanfordnlp/imdb").config("plain_text"))
    }

    /// A file or directory, the format from its extension; a directory is `aclImdb` when it has
    /// (or holds an `aclImdb/` with) `train/pos/`, else the kind of data files it holds.
    ///
    /// # Errors
    /// [`DataError::NotFound`] when the path does not exist, [`DataError::UnknownFormat`] when no
    /// format can be told.
    pub fn from_path(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if !path.exists() {
            return Err(DataError::NotFound {
                what: "data file or directory",
                path,
            });
        }
        if path.is_dir() {
            if path.join("train").join("pos").is_dir()
                || path.join("aclImdb").join("train").join("pos").is_dir()
            {
                return Ok(Self::AclImdb(path));
            }
            let mut found = Vec::new();
            for format in [FileFormat::Parquet, FileFormat::Csv, FileFormat::Jsonl] {
                let files = files_in_dir(&path, format)?;
                if !files.is_empty() {
                    found.push((format, files));
                }
            }
            check_one_file_set_per_split(&path, found.iter().flat_map(|(_, f)| f))?;
            return match found.first() {
                Some((format, _)) => Ok(Self::with_format(*format, path)),
                None => Err(DataError::UnknownFormat { path }),
            };
        }
        match FileFormat::from_path(&path) {
            Some(format) => Ok(Self::with_format(format, path)),
            None => Err(DataError::UnknownFormat { path }),
        }
    }

    fn with_format(format: FileFormat, path: PathBuf) -> Self {
        match format {
            FileFormat::Parquet => Self::Parquet(path),
            FileFormat::Csv => Self::Csv(path),
            FileFormat::Jsonl => Self::Jsonl(path),
        }
    }
}

/// How to read a source.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The column holding the text (default `text`).
    pub text_column: String,
    /// The column holding the label (default `label`): integer ids, or names mapped through
    /// [`label_map`](Self::label_map).
    pub label_column: String,
    /// The label names. Without one: names from the parquet `huggingface` metadata (what
    /// `datasets` writes, e.g. IMDB's `neg`/`pos`), else for name labels the sorted distinct
    /// names of all splits (as `class_encode_column` does: `neg`→0, `pos`→1), else for ids
    /// `LABEL_0`…`LABEL_{max}`.
    pub label_map: Option<LabelMap>,
    /// Drop rows whose text is null, empty or only whitespace instead of failing; the number
    /// dropped is in [`SplitInfo::skipped_empty`].
    pub drop_empty_text: bool,
    /// Load only these splits (default: all the source has).
    pub splits: Option<Vec<String>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            text_column: "text".into(),
            label_column: "label".into(),
            label_map: None,
            drop_empty_text: false,
            splits: None,
        }
    }
}

/// Split names with their data files, in load order.
pub(crate) type SplitFiles = Vec<(String, Vec<PathBuf>)>;

/// Labels as read, before mapping.
#[derive(Debug)]
pub(crate) enum RawLabels {
    Ids(Vec<Option<i64>>),
    Names(Vec<Option<String>>),
}

/// One file's columns as read.
#[derive(Debug)]
pub(crate) struct RawPart {
    pub path: PathBuf,
    pub texts: Vec<Option<String>>,
    pub labels: RawLabels,
    pub ratings: Option<Vec<Option<u8>>>,
    /// A `source_index` column (files this crate exported), kept through reloads.
    pub source_indices: Option<Vec<Option<usize>>>,
    /// Label names the file itself declares (parquet `huggingface` metadata, aclImdb).
    pub label_hint: Option<LabelMap>,
}

/// One split's files as read.
#[derive(Debug)]
pub(crate) struct RawSplit {
    pub name: String,
    pub origin: String,
    pub parts: Vec<RawPart>,
}

/// The split a data file belongs to: its stem, without a `-00000-of-00002` shard suffix.
pub(crate) fn split_name_of(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("train");
    strip_shard_suffix(stem).to_string()
}

pub(crate) fn strip_shard_suffix(stem: &str) -> &str {
    // `name-00000-of-00001`
    let bytes = stem.as_bytes();
    if bytes.len() > 15 {
        let tail = &stem[stem.len() - 15..];
        let (a, rest) = tail.split_at(6);
        let (of, b) = rest.split_at(4);
        if a.starts_with('-')
            && a[1..].bytes().all(|c| c.is_ascii_digit())
            && of == "-of-"
            && b.bytes().all(|c| c.is_ascii_digit())
        {
            return &stem[..stem.len() - 15];
        }
    }
    stem
}

/// Fails with [`DataError::UnknownSplit`] when a requested split is not among `available`.
pub(crate) fn check_requested<'a>(
    available: impl IntoIterator<Item = &'a str>,
    options: &LoadOptions,
) -> Result<()> {
    let Some(requested) = &options.splits else {
        return Ok(());
    };
    let mut available: Vec<String> = available.into_iter().map(str::to_string).collect();
    available.sort_by_key(|name| split_rank(name));
    available.dedup();
    match requested.iter().find(|r| !available.contains(r)) {
        Some(missing) => Err(DataError::UnknownSplit {
            split: missing.clone(),
            available,
        }),
        None => Ok(()),
    }
}

fn wanted(options: &LoadOptions, split: &str) -> bool {
    options
        .splits
        .as_ref()
        .is_none_or(|s| s.iter().any(|w| w == split))
}

/// Fails with [`DataError::DuplicateSplit`] when two of `files` (a directory's data files of
/// every format) are not shards but claim the same split: `train.csv` beside `train.jsonl`.
fn check_one_file_set_per_split<'a>(
    dir: &Path,
    files: impl Iterator<Item = &'a PathBuf>,
) -> Result<()> {
    let mut by_split: Vec<(String, Vec<String>)> = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let split = split_name_of(file);
        match by_split.iter_mut().find(|(s, _)| *s == split) {
            Some((_, names)) => names.push(name),
            None => by_split.push((split, vec![name])),
        }
    }
    let stem = |name: &str| name.split('.').next().unwrap_or_default().to_string();
    for (split, names) in by_split {
        // Shards of one split have distinct stems (train-00000-of-00002, …); two files with
        // the split's own name are two versions of it.
        let unsharded: Vec<&String> = names.iter().filter(|n| stem(n) == split).collect();
        if unsharded.len() > 1 || (!unsharded.is_empty() && names.len() > unsharded.len()) {
            return Err(DataError::DuplicateSplit {
                path: dir.to_path_buf(),
                split,
                files: names,
            });
        }
    }
    Ok(())
}

/// Groups `(split, file)` pairs by split (first-seen order kept within a split).
fn group(files: Vec<(String, PathBuf)>) -> SplitFiles {
    let mut groups: SplitFiles = Vec::new();
    for (split, path) in files {
        match groups.iter_mut().find(|(s, _)| *s == split) {
            Some((_, paths)) => paths.push(path),
            None => groups.push((split, vec![path])),
        }
    }
    groups
}

pub(crate) fn read_split_files(
    splits: SplitFiles,
    format: Option<FileFormat>,
    options: &LoadOptions,
) -> Result<Vec<RawSplit>> {
    let columns = Columns {
        text: &options.text_column,
        label: &options.label_column,
    };
    check_requested(splits.iter().map(|(name, _)| name.as_str()), options)?;
    let mut out = Vec::new();
    for (name, paths) in splits {
        if !wanted(options, &name) {
            continue;
        }
        let mut parts = Vec::new();
        for path in &paths {
            let format = match format.or_else(|| FileFormat::from_path(path)) {
                Some(f) => f,
                None => return Err(DataError::UnknownFormat { path: path.clone() }),
            };
            parts.push(read_file(path, format, &columns)?);
        }
        let origin = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        out.push(RawSplit {
            name,
            origin,
            parts,
        });
    }
    Ok(out)
}

fn local_files(path: &Path, format: FileFormat) -> Result<SplitFiles> {
    if !path.exists() {
        return Err(DataError::NotFound {
            what: match format {
                FileFormat::Parquet => "parquet file or directory",
                FileFormat::Csv => "CSV file or directory",
                FileFormat::Jsonl => "JSONL file or directory",
            },
            path: path.to_path_buf(),
        });
    }
    if path.is_dir() {
        let files = files_in_dir(path, format)?;
        if files.is_empty() {
            return Err(DataError::NoDataFiles {
                path: path.to_path_buf(),
                format: format.name(),
                ext: format.extensions()[0],
            });
        }
        Ok(group(
            files.into_iter().map(|p| (split_name_of(&p), p)).collect(),
        ))
    } else {
        Ok(vec![("train".to_string(), vec![path.to_path_buf()])])
    }
}

impl DatasetDict {
    /// Loads every split of `source`.
    ///
    /// # Errors
    /// Any [`DataError`]: missing or unreadable files, missing columns (the message lists the
    /// columns found), null/empty texts (unless [`LoadOptions::drop_empty_text`]), null, unmapped
    /// or out-of-range labels, mixed label kinds, empty splits, Hub failures.
    pub fn load(source: &Source, options: &LoadOptions) -> Result<Self> {
        let raw = match source {
            Source::Hub(hub) => {
                let files = crate::hub::resolve_split_files(hub, options)?;
                read_split_files(files, Some(FileFormat::Parquet), options)?
            }
            Source::Parquet(path) => read_split_files(
                local_files(path, FileFormat::Parquet)?,
                Some(FileFormat::Parquet),
                options,
            )?,
            Source::Csv(path) => read_split_files(
                local_files(path, FileFormat::Csv)?,
                Some(FileFormat::Csv),
                options,
            )?,
            Source::Jsonl(path) => read_split_files(
                local_files(path, FileFormat::Jsonl)?,
                Some(FileFormat::Jsonl),
                options,
            )?,
            Source::Files(files) => read_split_files(group(files.clone()), None, options)?,
            Source::AclImdb(dir) => crate::acl::read_acl_imdb(dir, options)?,
        };
        finalize(raw, options)
    }

    /// Shorthand for [`DatasetDict::load`] with default [`LoadOptions`].
    ///
    /// # Errors
    /// As [`DatasetDict::load`].
    pub fn load_default(source: &Source) -> Result<Self> {
        Self::load(source, &LoadOptions::default())
    }
}

fn label_map_for(raw: &[RawSplit], options: &LoadOptions) -> Result<LabelMap> {
    let parts = || raw.iter().flat_map(|s| s.parts.iter());
    // All parts must agree on the label kind.
    let mut first_ids: Option<&RawPart> = None;
    let mut first_names: Option<&RawPart> = None;
    for part in parts() {
        match part.labels {
            RawLabels::Ids(_) => first_ids = first_ids.or(Some(part)),
            RawLabels::Names(_) => first_names = first_names.or(Some(part)),
        }
    }
    if let (Some(ids), Some(names)) = (first_ids, first_names) {
        let int_example = match &ids.labels {
            RawLabels::Ids(v) => v.iter().flatten().next().map(|i| i.to_string()),
            RawLabels::Names(_) => None,
        };
        let name_example = match &names.labels {
            RawLabels::Names(v) => v.iter().flatten().next().cloned(),
            RawLabels::Ids(_) => None,
        };
        return Err(DataError::MixedLabelTypes {
            path: names.path.clone(),
            column: format!(
                "{} (integer ids in {})",
                options.label_column,
                ids.path.display()
            ),
            int_example: int_example.unwrap_or_default(),
            name_example: name_example.unwrap_or_default(),
        });
    }
    if let Some(map) = &options.label_map {
        return Ok(map.clone());
    }
    if let Some(hint) = parts().find_map(|p| p.label_hint.clone()) {
        return Ok(hint);
    }
    if first_names.is_some() {
        let mut names = BTreeSet::new();
        for part in parts() {
            if let RawLabels::Names(v) = &part.labels {
                names.extend(v.iter().flatten().map(String::as_str));
            }
        }
        return LabelMap::new(names);
    }
    let max = parts()
        .filter_map(|p| match &p.labels {
            RawLabels::Ids(v) => v.iter().flatten().copied().max(),
            RawLabels::Names(_) => None,
        })
        .max()
        .unwrap_or(-1);
    Ok(LabelMap::unnamed(usize::try_from(max + 1).unwrap_or(0)))
}

pub(crate) fn finalize(raw: Vec<RawSplit>, options: &LoadOptions) -> Result<DatasetDict> {
    let label_map = Arc::new(label_map_for(&raw, options)?);
    let mut splits = Vec::with_capacity(raw.len());
    for split in raw {
        let mut rows = Vec::new();
        let mut skipped = 0usize;
        let mut offset = 0usize;
        for part in split.parts {
            let RawPart {
                path,
                texts,
                labels,
                ratings,
                source_indices,
                ..
            } = part;
            let n = texts.len();
            rows.reserve(n);
            let mut labels_iter: Box<dyn Iterator<Item = (usize, Result<i64>)>> = match labels {
                RawLabels::Ids(ids) => Box::new(ids.into_iter().enumerate().map(|(row, id)| {
                    let label = match id {
                        None => Err(DataError::NullLabel {
                            path: path.clone(),
                            row,
                        }),
                        Some(id) if !label_map.accepts(id) => Err(DataError::LabelOutOfRange {
                            path: path.clone(),
                            row,
                            label: id,
                            num_labels: label_map.len(),
                        }),
                        Some(id) => Ok(id),
                    };
                    (row, label)
                })),
                RawLabels::Names(names) => {
                    Box::new(names.into_iter().enumerate().map(|(row, name)| {
                        let label = match name {
                            None => Err(DataError::NullLabel {
                                path: path.clone(),
                                row,
                            }),
                            Some(name) => {
                                label_map.id(&name).ok_or_else(|| DataError::UnmappedLabel {
                                    path: path.clone(),
                                    row,
                                    label: name,
                                    known: label_map.names().to_vec(),
                                })
                            }
                        };
                        (row, label)
                    }))
                }
            };
            for (row, text) in texts.into_iter().enumerate() {
                let Some((_, label)) = labels_iter.next() else {
                    break;
                };
                let empty_kind = match &text {
                    None => Some("null"),
                    Some(t) if t.trim().is_empty() => Some("empty"),
                    Some(_) => None,
                };
                if let Some(kind) = empty_kind {
                    if options.drop_empty_text {
                        skipped += 1;
                        continue;
                    }
                    return Err(DataError::EmptyText {
                        path: path.clone(),
                        row,
                        kind,
                    });
                }
                rows.push(TextRow {
                    text: text.unwrap_or_default(),
                    label: label?,
                    rating: ratings.as_ref().and_then(|r| r.get(row).copied().flatten()),
                    source_index: source_indices
                        .as_ref()
                        .and_then(|s| s.get(row).copied().flatten())
                        .unwrap_or(offset + row),
                });
            }
            offset += n;
        }
        if rows.is_empty() {
            return Err(DataError::EmptySplit {
                split: split.name,
                origin: split.origin,
                skipped,
            });
        }
        let info = SplitInfo {
            origin: split.origin,
            skipped_empty: skipped,
        };
        splits.push((
            split.name,
            TextDataset::from_parts(rows, label_map.clone(), info),
        ));
    }
    splits.sort_by_key(|(name, _)| split_rank(name));
    Ok(DatasetDict::from_loaded(splits, label_map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_suffixes() {
        assert_eq!(strip_shard_suffix("train-00000-of-00001"), "train");
        assert_eq!(
            strip_shard_suffix("unsupervised-00003-of-00010"),
            "unsupervised"
        );
        assert_eq!(strip_shard_suffix("train"), "train");
        assert_eq!(strip_shard_suffix("-00000-of-00001"), "-00000-of-00001");
        assert_eq!(split_name_of(Path::new("/x/test.parquet")), "test");
    }
}
