//! Writes generated movie reviews in the IMDB parquet schema (`text`: string, `label`: int64,
//! plus `rating` and `source_index`), or in the `aclImdb` folder layout.
//!
//! ```sh
//! cargo run -p bertfit-data --release --example generate_reviews -- \
//!     --rows 1000 --seed 1 --out data/reviews-sample/train.parquet
//! cargo run -p bertfit-data --release --example generate_reviews -- \
//!     --rows 25000 --seed 2 --acl-dir /tmp/aclImdb --split train
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use bertfit_data::generate;

const USAGE: &str = "usage: generate_reviews --rows N --seed S (--out FILE.parquet|FILE.jsonl | --acl-dir DIR [--split NAME])";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut rows = None;
    let mut seed = None;
    let mut out = None;
    let mut acl_dir = None;
    let mut split = "train".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => {
                rows = Some(
                    value()?
                        .parse::<usize>()
                        .map_err(|e| format!("--rows: {e}"))?,
                )
            }
            "--seed" => {
                seed = Some(
                    value()?
                        .parse::<u64>()
                        .map_err(|e| format!("--seed: {e}"))?,
                )
            }
            "--out" => out = Some(PathBuf::from(value()?)),
            "--acl-dir" => acl_dir = Some(PathBuf::from(value()?)),
            "--split" => split = value()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let rows = rows.ok_or("--rows is required")?;
    let seed = seed.ok_or("--seed is required")?;
    let dataset = generate::generate_dataset(rows, seed);
    match (out, acl_dir) {
        (Some(out), None) => {
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            let jsonl = out.extension().is_some_and(|e| e == "jsonl");
            let written = if jsonl {
                dataset.write_jsonl(&out)
            } else {
                dataset.write_parquet(&out)
            };
            written.map_err(|e| e.to_string())?;
            eprintln!("wrote {rows} reviews (seed {seed}) to {}", out.display());
        }
        (None, Some(dir)) => {
            generate::write_acl_imdb_split(&dataset, &dir, &split).map_err(|e| e.to_string())?;
            eprintln!(
                "wrote {rows} reviews (seed {seed}) to {}/{split}/{{neg,pos}}",
                dir.display()
            );
        }
        _ => return Err("give exactly one of --out and --acl-dir".into()),
    }
    Ok(())
}
