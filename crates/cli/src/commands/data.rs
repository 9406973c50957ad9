//! `bertfit data`: look at a dataset the way the notebook does (`print(dataset)`,
//! `dataset["train"][100]`), and export exactly the rows a run uses.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bertfit_data::{TextDataset, TextRow};
use clap::Args;
use serde_json::{Value, json};

use crate::DataArgs;
use crate::commands::load_dataset;

/// Arguments of `bertfit data`.
#[derive(Debug, Args)]
pub struct DataCommandArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The split to look at or export [default: a summary of every split].
    #[arg(long)]
    pub split: Option<String>,
    /// Shuffle the split first, like `dataset.shuffle(seed=S)` (bit-identical to `datasets`).
    #[arg(long, requires = "split")]
    pub shuffle_seed: Option<u64>,
    /// Then keep rows `0..N` (`N`) or `A..B`, like `.select(range(N))`.
    #[arg(long, requires = "split")]
    pub select: Option<String>,
    /// Print row N of the (shuffled, selected) split in full, like `dataset["train"][N]`.
    #[arg(long, requires = "split")]
    pub row: Option<usize>,
    /// Write the (shuffled, selected) split to a `.parquet` or `.jsonl` file, with a
    /// `source_index` column giving each row's position in the original split.
    #[arg(long, requires = "split")]
    pub export: Option<PathBuf>,
    /// Replace the --export file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `N` → `0..N`, `A..B` → `A..B`.
fn parse_range(spec: &str) -> Result<Range<usize>> {
    let number = |s: &str| -> Result<usize> {
        s.trim().parse().with_context(|| {
            format!("--select {spec}: expected N (the first N rows) or A..B (rows A to B-1)")
        })
    };
    let range = match spec.split_once("..") {
        Some((a, b)) => number(a)?..number(b)?,
        None => 0..number(spec)?,
    };
    if range.start > range.end {
        bail!("--select {spec}: the start is past the end");
    }
    Ok(range)
}

/// Label name → count, in label-id order.
fn label_counts(split: &TextDataset) -> Vec<(String, usize)> {
    split
        .label_counts()
        .into_iter()
        .map(|(id, n)| {
            let name = match split.label_map().name(id) {
                Some(name) => name.to_string(),
                None if id < 0 => "(unlabelled)".to_string(),
                None => id.to_string(),
            };
            (name, n)
        })
        .collect()
}

fn summary(name: &str, split: &TextDataset) -> Value {
    let chars: usize = split.iter().map(|r| r.text.chars().count()).sum();
    json!({
        "split": name,
        "num_rows": split.len(),
        "label_counts": label_counts(split)
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "mean_chars": if split.is_empty() { 0.0 } else { chars as f64 / split.len() as f64 },
        "origin": split.info().origin,
        "skipped_empty": split.info().skipped_empty,
    })
}

fn row_json(split: &TextDataset, index: usize, row: &TextRow) -> Value {
    let mut value = json!({
        "index": index,
        "source_index": row.source_index,
        "label": row.label,
        "label_name": split.label_map().name(row.label),
        "text": row.text,
    });
    if let (Some(rating), Some(map)) = (row.rating, value.as_object_mut()) {
        map.insert("rating".into(), json!(rating));
    }
    value
}

fn print_summary(value: &Value) {
    let counts = value["label_counts"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default();
    println!(
        "  {:<14} {:>7} rows   {:<24} mean {:>6.0} chars   {}",
        value["split"].as_str().unwrap_or_default(),
        value["num_rows"],
        counts,
        value["mean_chars"].as_f64().unwrap_or_default(),
        value["origin"].as_str().unwrap_or_default()
    );
}

/// One line of a text for a preview: whitespace collapsed, cut at `width` characters.
fn preview(text: &str, width: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        flat.chars().take(width - 1).collect::<String>() + "…"
    }
}

/// Writes `split` to `path` (format from the extension) through a temporary file, so a failed
/// export never leaves a partial file behind.
fn export(split: &TextDataset, path: &Path, force: bool) -> Result<()> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let parquet = match extension.as_deref() {
        Some("parquet") => true,
        Some("jsonl" | "json") => false,
        _ => bail!(
            "--export {}: name a .parquet or .jsonl file",
            path.display()
        ),
    };
    if path.exists() && !force {
        bail!(
            "--export {} already exists; pass --force to replace it",
            path.display()
        );
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = if parquet {
        split.write_parquet(&temp)
    } else {
        split.write_jsonl(&temp)
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))
}

/// Runs `bertfit data`.
pub fn run(args: &DataCommandArgs) -> Result<()> {
    let splits: Vec<(&str, &str)> = args
        .split
        .as_deref()
        .map(|s| ("--split", s))
        .into_iter()
        .collect();
    let dict = load_dataset(&args.data, &splits)?;
    let labels = dict.label_map().names().join(", ");

    let Some(name) = &args.split else {
        let values: Vec<Value> = dict.iter().map(|(n, s)| summary(n, s)).collect();
        if args.json {
            let value = json!({ "dataset": args.data.dataset, "labels": dict.label_map().names(), "splits": values });
            println!("{value}");
        } else {
            println!("{} (labels: {labels})", args.data.dataset);
            values.iter().for_each(print_summary);
        }
        return Ok(());
    };

    let mut split = dict.split(name)?.clone();
    let mut steps = Vec::new();
    if let Some(seed) = args.shuffle_seed {
        split = split.shuffle(seed);
        steps.push(format!("shuffle(seed={seed})"));
    }
    if let Some(spec) = &args.select {
        let range = parse_range(spec)?;
        steps.push(format!("select(range({}, {}))", range.start, range.end));
        split = split
            .select(range)
            .with_context(|| format!("--select {spec} on split {name}"))?;
    }
    let title = std::iter::once(format!("{}[{name}]", args.data.dataset))
        .chain(steps)
        .collect::<Vec<_>>()
        .join(".");

    if let Some(index) = args.row {
        let Some(row) = split.get(index) else {
            bail!(
                "--row {index}: {title} has {} rows (0..{})",
                split.len(),
                split.len()
            );
        };
        let value = row_json(&split, index, row);
        if args.json {
            println!("{value}");
        } else {
            println!("{title}[{index}]");
            println!("  source_index  {}", row.source_index);
            println!(
                "  label         {} ({})",
                row.label,
                split.label_map().name(row.label).unwrap_or("?")
            );
            if let Some(rating) = row.rating {
                println!("  rating        {rating}");
            }
            println!("  text          {}", row.text);
        }
    } else if args.json && args.export.is_none() {
        println!("{}", summary(&title, &split));
    } else if !args.json {
        println!("{title} (labels: {labels})");
        print_summary(&summary(name, &split));
        for (i, row) in split.iter().enumerate().take(5) {
            println!(
                "  [{i}] source_index {:>6}  {:<8} {}",
                row.source_index,
                split.label_map().name(row.label).unwrap_or("?"),
                preview(&row.text, 72)
            );
        }
    }

    if let Some(path) = &args.export {
        export(&split, path, args.force)?;
        if args.json {
            println!(
                "{}",
                json!({ "exported": path, "rows": split.len(), "selection": title })
            );
        } else {
            eprintln!("wrote {} rows to {}", split.len(), path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn select_ranges() {
        assert_eq!(parse_range("500").unwrap(), 0..500);
        assert_eq!(parse_range("10..20").unwrap(), 10..20);
        assert!(parse_range("20..10").is_err());
        assert!(parse_range("x").is_err());
        assert_eq!(preview("a  b\nc", 10), "a b c");
        assert_eq!(preview("abcdefghijkl", 5), "abcd…");
    }
}
