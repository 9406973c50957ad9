//! Checkpoint manifests: `manifest.json` lists every file of a checkpoint with its size and
//! sha256, written last (before the directory is renamed into place) and checked before a
//! checkpoint is resumed from.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, TrainError};

/// The manifest's file name inside a checkpoint directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One file's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the contents, lowercase hex.
    pub sha256: String,
}

/// What a checkpoint directory held when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// File name → digest, for every file of the directory but the manifest.
    pub files: BTreeMap<String, FileDigest>,
}

/// Why a checkpoint directory does not match its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The directory has no manifest (written by a bertfit without them, or not a checkpoint).
    NoManifest,
    /// The manifest itself cannot be read or parsed.
    BadManifest(String),
    /// A listed file is missing.
    Missing(String),
    /// A listed file has another size (truncated, or grown).
    Size {
        /// The file.
        file: String,
        /// Its size now.
        actual: u64,
        /// Its size when written.
        expected: u64,
    },
    /// A listed file has the right size and other contents.
    Digest(String),
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoManifest => write!(f, "it has no {MANIFEST_FILE}"),
            Self::BadManifest(e) => write!(f, "its {MANIFEST_FILE} is unreadable: {e}"),
            Self::Missing(file) => write!(f, "{file} is missing"),
            Self::Size {
                file,
                actual,
                expected,
            } => write!(
                f,
                "{file} is {actual} bytes but was written with {expected} (truncated or damaged)"
            ),
            Self::Digest(file) => write!(f, "{file} does not match its sha256 in {MANIFEST_FILE}"),
        }
    }
}

fn digest(path: &Path) -> std::io::Result<FileDigest> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(FileDigest { size, sha256 })
}

/// Hashes every file of `dir` and writes its `manifest.json`.
///
/// # Errors
/// [`TrainError::Io`] naming a file that cannot be listed, read or written.
pub(crate) fn write(dir: &Path) -> Result<()> {
    let io = |path: PathBuf| move |source| TrainError::Io { path, source };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir.to_path_buf()))? {
        let entry = entry.map_err(io(dir.to_path_buf()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && name != MANIFEST_FILE {
            names.push(name);
        }
    }
    let files = names
        .into_par_iter()
        .map(|name| {
            let path = dir.join(&name);
            digest(&path).map(|d| (name, d)).map_err(io(path))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    crate::checkpoint::write_json(&dir.join(MANIFEST_FILE), &Manifest { files })
}

/// Checks every file `dir`'s manifest lists: present, same size, same sha256.
pub(crate) fn verify(dir: &Path) -> std::result::Result<(), Damage> {
    let path = dir.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Damage::NoManifest),
        Err(e) => return Err(Damage::BadManifest(e.to_string())),
    };
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| Damage::BadManifest(e.to_string()))?;
    // Sizes first (cheap, and what a truncation changes), then the digests in parallel.
    for (name, expected) in &manifest.files {
        match std::fs::metadata(dir.join(name)) {
            Ok(meta) if meta.len() == expected.size => {}
            Ok(meta) => {
                return Err(Damage::Size {
                    file: name.clone(),
                    actual: meta.len(),
                    expected: expected.size,
                });
            }
            Err(_) => return Err(Damage::Missing(name.clone())),
        }
    }
    let bad = manifest
        .files
        .par_iter()
        .find_first(|(name, expected)| digest(&dir.join(name)).ok().as_ref() != Some(*expected));
    match bad {
        Some((name, _)) => Err(Damage::Digest(name.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn checkpoint() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.bin"), vec![7u8; 3000]).unwrap();
        std::fs::write(tmp.path().join("b.json"), "{}").unwrap();
        write(tmp.path()).unwrap();
        tmp
    }

    #[test]
    fn a_written_manifest_verifies_and_records_sha256() {
        let tmp = checkpoint();
        assert_eq!(verify(tmp.path()), Ok(()));
        let text = std::fs::read_to_string(tmp.path().join(MANIFEST_FILE)).unwrap();
        let manifest: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(manifest.files.len(), 2);
        // sha256("{}"), as `printf '{}' | sha256sum` prints it.
        assert_eq!(
            manifest.files["b.json"].sha256,
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(manifest.files["a.bin"].size, 3000);
    }

    #[test]
    fn truncation_changed_bytes_and_missing_files_are_named() {
        let tmp = checkpoint();
        let a = tmp.path().join("a.bin");
        std::fs::write(&a, vec![7u8; 1000]).unwrap();
        assert_eq!(
            verify(tmp.path()),
            Err(Damage::Size {
                file: "a.bin".into(),
                actual: 1000,
                expected: 3000
            })
        );
        let mut bytes = vec![7u8; 3000];
        bytes[1234] = 8;
        std::fs::write(&a, bytes).unwrap();
        assert_eq!(verify(tmp.path()), Err(Damage::Digest("a.bin".into())));
        std::fs::remove_file(&a).unwrap();
        assert_eq!(verify(tmp.path()), Err(Damage::Missing("a.bin".into())));
        std::fs::remove_file(tmp.path().join(MANIFEST_FILE)).unwrap();
        assert_eq!(verify(tmp.path()), Err(Damage::NoManifest));
        std::fs::write(tmp.path().join(MANIFEST_FILE), "{\"files\": ").unwrap();
        assert!(matches!(verify(tmp.path()), Err(Damage::BadManifest(_))));
    }
}
