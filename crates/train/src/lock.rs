//! One run per output directory: an advisory lock on `.bertfit.lock` inside it.
//!
//! The lock is the kernel's (`flock` on Unix, `LockFileEx` on Windows, through
//! [`File::try_lock`]), so it goes with the process that holds it: a run that crashed or was
//! killed leaves at most a stale file, which the next run takes over. The file holds the pid of
//! the run that holds it, for the message a second run gets.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// The lock file's name inside the output directory.
pub const LOCK_FILE: &str = ".bertfit.lock";

/// An output directory held by this process until the value is dropped (which deletes the lock
/// file).
#[derive(Debug)]
pub struct OutputDirLock {
    dir: PathBuf,
    path: PathBuf,
    file: File,
}

impl OutputDirLock {
    /// Takes `dir` (which must exist) for this process.
    ///
    /// # Errors
    /// [`TrainError::OutputDirLocked`] while another process holds it, with that process's
    /// pid; [`TrainError::Io`] when the lock file cannot be created or written.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let io = |source| TrainError::Io {
            path: path.clone(),
            source,
        };
        // A run that exits deletes the file while holding the lock; one that waited on the
        // deleted file's lock must not keep it. So: lock, then check that the path is still
        // the file locked, and try again if it is not.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    // The pid is informative only: a holder that has not written it yet reads
                    // as unknown.
                    let _ = file.read_to_string(&mut holder);
                    return Err(TrainError::OutputDirLocked {
                        dir: dir.to_path_buf(),
                        pid: holder.trim().parse().ok(),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io)?;
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
            file.flush().map_err(io)?;
            return Ok(Self {
                dir: dir.to_path_buf(),
                path,
                file,
            });
        }
        Err(TrainError::OutputDirLocked {
            dir: dir.to_path_buf(),
            pid: None,
        })
    }

    /// The directory held.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for OutputDirLock {
    fn drop(&mut self) {
        // Deleted while still locked, so that no other run can take the old file in between;
        // if it cannot be deleted, the next run takes the stale file over.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether `path` names the open `file` (not a file created after it was deleted).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Whether `path` names the open `file`; Windows does not delete a file that is open, so it
/// always does.
#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let tmp = tempfile::tempdir().unwrap();
        let first = OutputDirLock::acquire(tmp.path()).unwrap();
        let pid = std::fs::read_to_string(tmp.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        // A second open file description conflicts even within one process.
        match OutputDirLock::acquire(tmp.path()) {
            Err(TrainError::OutputDirLocked { dir, pid }) => {
                assert_eq!(dir, tmp.path());
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected OutputDirLocked, got {other:?}"),
        }
        drop(first);
        assert!(!tmp.path().join(LOCK_FILE).exists());
        let again = OutputDirLock::acquire(tmp.path()).unwrap();
        assert_eq!(again.dir(), tmp.path());
    }

    #[test]
    fn a_stale_lock_file_left_by_a_crash_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        // What a killed run leaves: the file with its pid, and no lock (the kernel dropped it).
        std::fs::write(tmp.path().join(LOCK_FILE), "4194304\n").unwrap();
        let lock = OutputDirLock::acquire(tmp.path()).unwrap();
        let pid = std::fs::read_to_string(tmp.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        drop(lock);
    }
}
