//! Machine-readable metrics (JSON lines) and the human progress bar.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::error::{Result, TrainError};

/// Appends one JSON object per line to `metrics.jsonl`, flushed after each record so that an
/// interrupted run keeps everything logged so far.
pub(crate) struct MetricsLog {
    path: PathBuf,
    file: BufWriter<File>,
}

impl MetricsLog {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| TrainError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
        })
    }

    pub(crate) fn write(&mut self, record: &Value) -> Result<()> {
        let io = |source| TrainError::Io {
            path: self.path.clone(),
            source,
        };
        writeln!(self.file, "{record}").map_err(io)?;
        self.file.flush().map_err(|source| TrainError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// A progress bar over optimizer steps showing epoch, loss and ETA (hidden when disabled).
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub(crate) fn new(enabled: bool, total: u64, done: u64) -> Self {
        let bar = if enabled {
            ProgressBar::new(total)
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}  ETA {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_position(done);
        Self { bar }
    }

    pub(crate) fn step(&mut self, loss: f64, epoch: f64) {
        self.bar
            .set_message(format!("epoch {epoch:.2}  loss {loss:.4}"));
        self.bar.inc(1);
    }

    /// Shows feature extraction's progress (`done` of `total` examples) in the message.
    pub(crate) fn extracting(&self, done: usize, total: usize) {
        self.bar
            .set_message(format!("extracting features {done}/{total} examples"));
        self.bar.tick();
    }

    pub(crate) fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
