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
    /// Opens `path` for a run whose state has `history` log records: the file keeps its lines
    /// up to the `history`-th record (with the lines between them that are not records, such
    /// as feature extraction's), and drops what followed, which a resumed run logs again. A
    /// fresh run (`history` 0) starts an empty file.
    pub(crate) fn open(path: &Path, history: usize) -> Result<Self> {
        let io = |source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        };
        let kept = match std::fs::read_to_string(path) {
            Ok(text) => kept_lines(&text, history),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        // Rewritten through a temporary file, so that a crash here loses nothing.
        let tmp = path.with_extension("jsonl.tmp");
        std::fs::write(&tmp, kept).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
        })
    }

    pub(crate) fn write(&mut self, record: &Value) -> Result<()> {
        crate::fault::pause_point("metrics:write");
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

/// The lines of a metrics log up to and including its `history`-th log record; lines that
/// are not records of the trainer state's history (feature extraction's) count as kept
/// context, not records. A line cut short by a crash is dropped.
fn kept_lines(text: &str, history: usize) -> String {
    let mut kept = String::new();
    let mut records = 0;
    for line in text.lines() {
        if records == history {
            break;
        }
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            break;
        };
        if value.get("feature_extraction_examples").is_none() {
            records += 1;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_log_keeps_the_records_up_to_its_checkpoint() {
        let text =
            "{\"feature_extraction_examples\":8}\n{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"ste";
        assert_eq!(kept_lines(text, 0), "");
        assert_eq!(
            kept_lines(text, 2),
            "{\"feature_extraction_examples\":8}\n{\"step\":1}\n{\"step\":2}\n"
        );
        // A line cut short by a kill is never kept, even when the history would reach it.
        assert_eq!(kept_lines(text, 9).lines().count(), 4);
    }
}
