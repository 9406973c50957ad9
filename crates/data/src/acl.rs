//! The original `aclImdb` folder (Maas et al., 2011): one review per file.
//!
//! ```text
//! aclImdb/
//!   train/{neg,pos}/<id>_<rating>.txt   split `train`, labels 0 / 1
//!   train/unsup/<id>_0.txt              split `unsupervised`, label -1
//!   test/{neg,pos}/<id>_<rating>.txt    split `test`
//! ```
//!
//! Rows come `neg` first, then `pos` (as in the Hub's IMDB parquet), each by numeric id; the
//! rating from the file name is kept in [`TextRow::rating`](crate::TextRow::rating). Files not
//! ending in `.txt` are ignored. The texts are kept as they are (including the `<br />` tags).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::label::LabelMap;
use crate::load::{LoadOptions, RawLabels, RawPart, RawSplit};

/// `(split, sub-directory, label)` in load order.
const LAYOUT: [(&str, &str, &str, i64); 5] = [
    ("train", "train", "neg", 0),
    ("train", "train", "pos", 1),
    ("test", "test", "neg", 0),
    ("test", "test", "pos", 1),
    ("unsupervised", "train", "unsup", -1),
];

/// `<id>_<rating>.txt` → `(id, rating)`.
fn parse_name(path: &Path) -> Result<(u64, u8)> {
    let bad = || DataError::AclFileName {
        path: path.to_path_buf(),
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).ok_or_else(bad)?;
    let (id, rating) = stem.split_once('_').ok_or_else(bad)?;
    let id = id.parse::<u64>().map_err(|_| bad())?;
    let rating = rating
        .parse::<u8>()
        .ok()
        .filter(|r| *r <= 10)
        .ok_or_else(bad)?;
    Ok((id, rating))
}

fn review_files(dir: &Path) -> Result<Vec<(u64, u8, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io("list", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io("list", dir, e))?.path();
        if path.extension().is_some_and(|e| e == "txt") && path.is_file() {
            let (id, rating) = parse_name(&path)?;
            files.push((id, rating, path));
        }
    }
    files.sort();
    Ok(files)
}

fn read_review(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io("read", path, e))?;
    String::from_utf8(bytes).map_err(|e| DataError::NotUtf8 {
        path: path.to_path_buf(),
        valid_up_to: e.utf8_error().valid_up_to(),
    })
}

/// Reads the wanted splits of an `aclImdb` directory (or of a directory holding `aclImdb/`).
pub(crate) fn read_acl_imdb(dir: &Path, options: &LoadOptions) -> Result<Vec<RawSplit>> {
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            what: "aclImdb directory",
            path: dir.to_path_buf(),
        });
    }
    let root = if !dir.join("train").is_dir() && dir.join("aclImdb").join("train").is_dir() {
        dir.join("aclImdb")
    } else {
        dir.to_path_buf()
    };
    // Unknown split names fail here; known ones whose folder is missing fail below, naming it.
    crate::load::check_requested(LAYOUT.iter().map(|(split, ..)| *split), options)?;
    let wanted = |split: &str| {
        options
            .splits
            .as_ref()
            .is_none_or(|s| s.iter().any(|w| w == split))
    };
    let mut out: Vec<RawSplit> = Vec::new();
    for (split, parent, class, label) in LAYOUT {
        if !wanted(split) {
            continue;
        }
        let class_dir = root.join(parent).join(class);
        if !class_dir.is_dir() {
            // `unsup` is optional unless asked for by name.
            if class == "unsup" && options.splits.is_none() {
                continue;
            }
            return Err(DataError::AclLayout {
                path: dir.to_path_buf(),
                missing: format!("{parent}/{class}"),
            });
        }
        let files = review_files(&class_dir)?;
        let texts = files
            .par_iter()
            .map(|(_, _, path)| read_review(path).map(Some))
            .collect::<Result<Vec<_>>>()?;
        let part = RawPart {
            path: class_dir.clone(),
            labels: RawLabels::Ids(vec![Some(label); texts.len()]),
            ratings: Some(files.iter().map(|(_, r, _)| Some(*r)).collect()),
            texts,
            source_indices: None,
            label_hint: Some(LabelMap::imdb()),
        };
        match out.iter_mut().find(|s| s.name == split) {
            Some(s) => s.parts.push(part),
            None => out.push(RawSplit {
                name: split.to_string(),
                origin: root.join(parent).display().to_string(),
                parts: vec![part],
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(parse_name(Path::new("a/123_8.txt")).unwrap(), (123, 8));
        assert_eq!(parse_name(Path::new("0_0.txt")).unwrap(), (0, 0));
        assert!(parse_name(Path::new("x_8.txt")).is_err());
        assert!(parse_name(Path::new("12.txt")).is_err());
        assert!(parse_name(Path::new("12_11.txt")).is_err());
    }
}
