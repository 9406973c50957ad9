//! Load and shuffle benchmark on generated data of IMDB size (run by `cargo xtask bench data`).
//!
//! Generates `--rows` reviews (default 25 000, ~1 300 characters each) once into `--dir`
//! (`train.parquet`, `train.csv`, `train.jsonl`, and `aclImdb/train/{neg,pos}/<id>_<rating>.txt`),
//! then times: parquet load, CSV load, JSONL load, aclImdb folder load, `shuffle(42)`,
//! `shuffle(42).select(0..500)`, and `train_test_split(0.2, 42)`. Each measurement is the median
//! of `--repeat` runs after one warm-up (files in the page cache).
//!
//! ```sh
//! cargo run -p bertfit-data --release --example bench_data -- --dir target/bench-data
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bertfit_data::{DatasetDict, LoadOptions, Source, generate};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(
    repeat: usize,
    mut f: impl FnMut() -> Result<T, Box<dyn std::error::Error>>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    f()?; // warm-up
    let mut runs = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let start = Instant::now();
        std::hint::black_box(f()?);
        runs.push(start.elapsed());
    }
    Ok(median(runs))
}

fn ms(d: Duration) -> String {
    format!("{:>9.2} ms", d.as_secs_f64() * 1e3)
}

fn prepare(dir: &Path, rows: usize) -> Result<(), Box<dyn std::error::Error>> {
    let marker = dir.join(format!(".generated-{rows}"));
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    let start = Instant::now();
    let ds = generate::generate_dataset(rows, 2024);
    let chars: usize = ds.iter().map(|r| r.text.chars().count()).sum();
    eprintln!(
        "generated {rows} reviews, mean {} chars, in {:.2?}",
        chars / rows.max(1),
        start.elapsed()
    );
    ds.write_parquet(dir.join("train.parquet"))?;
    ds.write_jsonl(dir.join("train.jsonl"))?;
    // CSV: the parquet file's columns, quoted.
    let mut csv = String::from("text,label\n");
    for row in ds.iter() {
        csv.push('"');
        csv.push_str(&row.text.replace('"', "\"\""));
        csv.push_str(&format!("\",{}\n", row.label));
    }
    std::fs::write(dir.join("train.csv"), csv)?;
    let acl = dir.join("aclImdb");
    if acl.exists() {
        std::fs::remove_dir_all(&acl)?;
    }
    generate::write_acl_imdb_split(&ds, &acl, "train")?;
    std::fs::write(marker, "")?;
    Ok(())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = PathBuf::from("target/bench-data");
    let mut rows = 25_000usize;
    let mut repeat = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dir" => dir = PathBuf::from(value),
            "--rows" => rows = value.parse()?,
            "--repeat" => repeat = value.parse::<usize>()?.max(1),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    prepare(&dir, rows)?;
    let parquet_size = std::fs::metadata(dir.join("train.parquet"))?.len();
    println!(
        "bertfit-data benchmark: {rows} rows, files in {} (parquet {:.1} MB)",
        dir.display(),
        parquet_size as f64 / 1e6
    );
    println!(
        "(median of {repeat} runs after a warm-up; {} threads)",
        rayon::current_num_threads()
    );

    // Only `train` was generated (also for the aclImdb folder, which has no test/ here).
    let opts = LoadOptions {
        splits: Some(vec!["train".into()]),
        ..LoadOptions::default()
    };
    let load = |source: Source| {
        let opts = opts.clone();
        move || -> Result<DatasetDict, Box<dyn std::error::Error>> {
            Ok(DatasetDict::load(&source, &opts)?)
        }
    };
    let results = [
        (
            "parquet load",
            time(repeat, load(Source::Parquet(dir.join("train.parquet"))))?,
        ),
        (
            "CSV load",
            time(repeat, load(Source::Csv(dir.join("train.csv"))))?,
        ),
        (
            "JSONL load",
            time(repeat, load(Source::Jsonl(dir.join("train.jsonl"))))?,
        ),
        (
            "aclImdb folder load",
            time(repeat, load(Source::AclImdb(dir.join("aclImdb"))))?,
        ),
    ];
    for (name, d) in &results {
        println!("{name:<34}{}", ms(*d));
    }
    let dd = DatasetDict::load(&Source::Parquet(dir.join("train.parquet")), &opts)?;
    let train = dd.split("train")?.clone();
    assert_eq!(train.len(), rows);
    let many = repeat.max(20);
    let shuffle = time(many, || Ok(train.shuffle(42)))?;
    let shuffle_select = time(many, || Ok(train.shuffle(42).select(0..500.min(rows))?))?;
    let split = time(many, || Ok(train.train_test_split(0.2, 42)?))?;
    println!("{:<34}{}", "shuffle(42)", ms(shuffle));
    println!("{:<34}{}", "shuffle(42).select(0..500)", ms(shuffle_select));
    println!("{:<34}{}", "train_test_split(0.2, 42)", ms(split));
    let first: Vec<usize> = train
        .shuffle(42)
        .select(0..5.min(rows))?
        .iter()
        .map(|r| r.source_index)
        .collect();
    println!("shuffle(42).select(0..5) source_index: {first:?}");
    Ok(())
}
