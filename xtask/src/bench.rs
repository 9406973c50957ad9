//! `cargo xtask bench [suite]`: bertfit against transformers + PyTorch on the same machine.
//!
//! For every row the release `bertfit bench <workload>` and `xtask/bench/reference.py` (the
//! transformers + torch 2.9.0 code a user would otherwise run) do the same work in separate
//! processes, alternating (`bertfit, python, python, bertfit, …`) for `--reps` repetitions, all
//! pinned to `--threads` threads. Each process reports its own items/second and peak RSS; the
//! row keeps the median, min and max over repetitions and the ratio of the medians
//! (bertfit / PyTorch, > 1 means bertfit is faster). The report goes to
//! `<out>/report.json` and a Markdown table to `<out>/report.md` (and stdout).
//!
//! Suites:
//! - `model`: training step (forward + backward + AdamW, batch 8) and inference (batch 32) at
//!   sequence length 128 and 512, for all-MiniLM-L6-v2 (real weights) and a bert-base-cased
//!   sized model (random weights from `xtask/bench/bert-base-cased.json`).
//! - `tokenize`: 25 000 generated IMDB-length reviews, truncated and padded to 128 and 512,
//!   bertfit-tokenize against the fast tokenizer through `datasets.map(batched=True)`.
//! - `partial`: training steps (seq 128, batch 8) with `--train-layers head`, `last:2` and
//!   `all`, and with LoRA r 8 (PEFT on the PyTorch side), for both models; then feature
//!   extraction end to end: 3 epochs of `--train-layers head` on the shipped sample with the
//!   feature-extraction cache, without it, and with transformers' `Trainer` on a frozen base.
//! - `recipe`: the seed recipe end to end on the shipped sample (500 train / 500 eval, 2
//!   epochs, evaluation each epoch) with padding `max_length` against `longest` + length
//!   grouping: wall time and accuracies, bertfit and transformers' `Trainer`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::finetune::{self, Backend};
use crate::{fixtures, torch};

/// The transformers and datasets versions the reference script is pinned to.
const TRANSFORMERS_VERSION: &str = "5.24.0";
const DATASETS_VERSION: &str = "5.2.0";
/// The peft version of the LoRA rows (the one `scripts/reference/requirements.txt` pins).
const PEFT_VERSION: &str = "0.21.2";

/// Options of `cargo xtask bench model|tokenize|recipe|all`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Repetitions of each row per implementation (alternating between the two).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Threads for both sides (RAYON_NUM_THREADS, torch.set_num_threads, OMP/MKL); default: every
    /// core.
    #[arg(long)]
    threads: Option<usize>,
    /// Only the rows whose name contains this (e.g. `minilm`, `512`, `train`).
    #[arg(long)]
    only: Option<String>,
    /// Timed iterations per process for the model rows, after one warm-up iteration (half as
    /// many, rounded up, for bert-base at 512).
    #[arg(long, default_value_t = 2)]
    iters: usize,
    /// Sequence length of the end-to-end runs (the seed recipe pads to the model's maximum, 512).
    #[arg(long, default_value_t = 512)]
    recipe_max_length: usize,
    /// Training seeds of the recipe suite, comma-separated: each padding runs once per seed (on
    /// the same rows, `shuffle(seed=42)`), since a 500-example fine-tune's accuracy varies from
    /// seed to seed.
    #[arg(long, value_delimiter = ',', default_value = "42")]
    recipe_seeds: Vec<u64>,
    /// Skip transformers' own run of the recipe (`xtask/bench/recipe_reference.py`, about
    /// half an hour on two cores).
    #[arg(long)]
    no_recipe_reference: bool,
    /// bertfit devices to measure, comma-separated: `cpu` (the pure-Rust flex backend, the
    /// default build) and `tch` (libtorch, the same kernels as PyTorch; builds bertfit with the
    /// `tch` feature against the cached torch 2.9.0, see `cargo xtask torch`).
    #[arg(long, value_delimiter = ',', default_value = "cpu,tch")]
    backends: Vec<String>,
    /// Where the report goes (relative to the workspace root).
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// A Python with torch 2.9.0, transformers and datasets to use as the reference instead of
    /// the cached environment `cargo xtask bench` sets up.
    #[arg(long)]
    python: Option<PathBuf>,
    /// A git revision of bertfit to measure beside the working tree, in the same run (e.g.
    /// `--baseline main~3`): its release build, from `git archive` of that revision, runs every
    /// row on every `--backends` device, and the report adds each device's ratio to it. This is
    /// the regression check: side-by-side, not against figures from another machine or day.
    #[arg(long)]
    baseline: Option<String>,
    /// Leave transformers + PyTorch out of the model and tokenize rows (e.g. for a quicker
    /// `--baseline` regression check); the report then has no ratio to PyTorch.
    #[arg(long)]
    no_pytorch: bool,
}

/// Which rows to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// Training step and inference rows.
    Model,
    /// Tokenization rows.
    Tokenize,
    /// Partial fine-tuning rows (`--train-layers`).
    Partial,
    /// The end-to-end recipe.
    Recipe,
    /// Everything.
    All,
}

/// One side-by-side row.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    workload: &'static str,
    unit: &'static str,
    args: Vec<String>,
}

/// `--threads` (default: every core) and the report directory `root/out`, created.
pub(crate) fn threads_and_out(
    threads: Option<usize>,
    root: &Path,
    out: &Path,
) -> Result<(usize, PathBuf)> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let out = root.join(out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    Ok((threads, out))
}

/// Runs the suite from the workspace root.
pub fn run(suite: Suite, args: &BenchArgs, root: &Path) -> Result<()> {
    if args.reps == 0 || args.iters == 0 {
        bail!("--reps and --iters must be at least 1");
    }
    let (threads, out) = threads_and_out(args.threads, root, &args.out)?;
    for backend in &args.backends {
        if !["cpu", "tch"].contains(&backend.as_str()) {
            bail!("--backends {backend}: expected cpu or tch");
        }
    }
    if args.backends.is_empty() {
        bail!("--backends names no backend; use cpu, tch or cpu,tch");
    }
    let minilm = fixtures::ensure_minilm()?;
    // One binary serves both: a `tch` build still has the flex backend behind `--device cpu`.
    let torch_env = if args.backends.iter().any(|b| b == "tch") {
        Some(torch::ensure_torch()?)
    } else {
        None
    };
    let backend = if torch_env.is_some() {
        Backend::Tch
    } else {
        Backend::Flex
    };
    // The baseline first: both builds share the target directory, and the working tree's build
    // must be the last one written there.
    let baseline = match &args.baseline {
        Some(rev) => Some(build_baseline(
            rev,
            root,
            &out,
            backend,
            torch_env.as_ref(),
        )?),
        None => None,
    };
    let bertfit = finetune::build(
        backend,
        finetune::Profile::Release,
        true,
        root,
        None,
        torch_env.as_ref(),
    )?;
    let python = match &args.python {
        Some(python) => python.clone(),
        // Nothing runs it: the report only asks it for versions, and finds none.
        None if args.no_pytorch => PathBuf::from("python3"),
        None => ensure_reference_python()?,
    };
    let script = root.join("xtask/bench/reference.py");
    let bert_base = root.join("xtask/bench/bert-base-cased.json");

    let mut rows = Vec::new();
    if matches!(suite, Suite::Model | Suite::All) {
        rows.extend(model_rows(&minilm, &bert_base, args.iters));
    }
    if matches!(suite, Suite::Partial | Suite::All) {
        rows.extend(partial_rows(&minilm, &bert_base, args.iters));
    }
    if matches!(suite, Suite::Tokenize | Suite::All) {
        let texts = out.join("imdb-like-25000.parquet");
        if !texts.is_file() {
            let mut command = Command::new(&bertfit);
            command
                .args(["bench", "texts", "--rows", "25000", "--seed", "42", "--out"])
                .arg(&texts)
                .stdout(Stdio::null());
            // A `tch` build needs libtorch on the library path to start at all.
            if let Some(torch) = &torch_env {
                torch.apply(&mut command);
            }
            let status = command.status().context("running bertfit bench texts")?;
            if !status.success() {
                bail!("bertfit bench texts failed ({status})");
            }
        }
        for seq in [128, 512] {
            rows.push(Row {
                name: format!("tokenize 25k texts seq {seq}"),
                workload: "tokenize",
                unit: "texts/s",
                args: vec![
                    "--tokenizer".into(),
                    minilm.display().to_string(),
                    "--texts".into(),
                    texts.display().to_string(),
                    "--seq".into(),
                    seq.to_string(),
                    "--iters".into(),
                    args.iters.to_string(),
                ],
            });
        }
    }
    if let Some(only) = &args.only {
        rows.retain(|row| row.name.contains(only.as_str()));
    }

    let machine = machine_info(threads);
    eprintln!(
        "==> {} | {threads} threads | {} reps",
        machine["cpu"].as_str().unwrap_or("?"),
        args.reps
    );
    let env = ThreadEnv(threads);
    let mut results = Vec::new();
    for row in &rows {
        // Tokenization does not touch a burn backend: one bertfit side.
        let devices: Vec<String> = if row.workload == "tokenize" {
            vec![String::new()]
        } else {
            args.backends.clone()
        };
        let mut sides: Vec<Side> = Vec::new();
        for device in &devices {
            sides.push(Side::Bertfit {
                binary: &bertfit,
                device: device.clone(),
                torch: torch_env.as_ref(),
                revision: None,
            });
            if let Some((rev, binary)) = &baseline {
                sides.push(Side::Bertfit {
                    binary,
                    device: device.clone(),
                    torch: torch_env.as_ref(),
                    revision: Some(rev),
                });
            }
        }
        if !args.no_pytorch {
            sides.push(Side::Python {
                python: &python,
                script: &script,
                cache: out.join("hf-datasets-cache"),
            });
        }
        results.push(run_row(row, args.reps, &sides, &env)?);
    }
    let runner = RecipeRunner {
        root,
        bertfit: &bertfit,
        torch: torch_env.as_ref(),
        minilm: &minilm,
        max_length: args.recipe_max_length,
        env: &env,
    };
    // `--only` picks the end-to-end runs by a part of their name too.
    let wanted = |name: &str| args.only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    let recipe_python = (!args.no_recipe_reference && !args.no_pytorch).then_some(python.as_path());
    let mut recipe = Vec::new();
    if matches!(suite, Suite::Recipe | Suite::All) && wanted("recipe") {
        recipe = run_recipe(
            &runner,
            recipe_python,
            &args.backends,
            &args.recipe_seeds,
            &out,
        )?;
    }
    let mut head_only_recipe = Vec::new();
    if matches!(suite, Suite::Partial | Suite::All) && wanted("head-only recipe") {
        head_only_recipe = run_head_only_recipe(&runner, recipe_python, &args.backends, &out)?;
    }

    let report = json!({
        "machine": machine,
        "threads": threads,
        "reps": args.reps,
        "bertfit_commit": git_commit(root),
        "baseline": baseline.as_ref().map(|(rev, _)| rev),
        "reference": reference_versions(&python),
        "rows": results,
        "recipe": recipe,
        "head_only_recipe": head_only_recipe,
    });
    let json_path = out.join("report.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let table = markdown(&report);
    let md_path = out.join("report.md");
    std::fs::write(&md_path, &table).with_context(|| format!("writing {}", md_path.display()))?;
    println!("{table}");
    eprintln!(
        "==> wrote {} and {}",
        json_path.display(),
        md_path.display()
    );
    Ok(())
}

/// Builds bertfit at `rev` in release with the same backend as the working tree's build, from
/// `git archive` of that revision (so the working tree is left alone), and copies the binary
/// out of the shared target directory before the working tree's build overwrites it. Both
/// builds use the working tree's target directory, so the dependencies compile once.
/// Returns the short revision and the binary's path.
fn build_baseline(
    rev: &str,
    root: &Path,
    out: &Path,
    backend: Backend,
    torch: Option<&torch::TorchEnv>,
) -> Result<(String, PathBuf)> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short", &format!("{rev}^{{commit}}")])
        .output()
        .context("running git rev-parse")?;
    if !output.status.success() {
        bail!(
            "--baseline {rev}: not a commit of this repository ({})",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let short = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let dir = out.join(format!("baseline-{short}"));
    let src = dir.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src).with_context(|| format!("removing {}", src.display()))?;
    }
    std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    eprintln!("==> baseline {short}: git archive into {}", src.display());
    let mut archive = Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar", &short])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting git archive")?;
    let tar = archive
        .stdout
        .take()
        .context("git archive gave no output pipe")?;
    let unpacked = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&src)
        .stdin(tar)
        .status()
        .context("starting tar")?;
    let archived = archive.wait().context("waiting for git archive")?;
    if !archived.success() || !unpacked.success() {
        bail!("unpacking {short} into {} failed", src.display());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    // Both trees' workspace crates map to the same artifacts (cargo hashes a path package by
    // its path relative to the workspace root), and `git archive` dates the files at the
    // commit, older than any artifact: without a clean, cargo would link whichever tree was
    // built last and call it fresh.
    clean_workspace_crates(&src, &target)?;
    let built = finetune::build(
        backend,
        finetune::Profile::Release,
        true,
        &src,
        Some(&target),
        torch,
    )?;
    let binary = dir.join("bertfit");
    std::fs::copy(&built, &binary)
        .with_context(|| format!("copying {} to {}", built.display(), binary.display()))?;
    clean_workspace_crates(&src, &target)?;
    std::fs::remove_dir_all(&src).with_context(|| format!("removing {}", src.display()))?;
    Ok((short, binary))
}

/// `cargo clean --release -p <every workspace crate of root>` in `target`, so the next build
/// compiles the workspace crates from the sources it is given.
fn clean_workspace_crates(root: &Path, target: &Path) -> Result<()> {
    let mut packages = Vec::new();
    for dir in ["crates", "xtask"].map(|d| root.join(d)) {
        let manifests: Vec<PathBuf> = if dir.ends_with("xtask") {
            vec![dir.join("Cargo.toml")]
        } else {
            std::fs::read_dir(&dir)
                .with_context(|| format!("listing {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path().join("Cargo.toml")))
                .collect()
        };
        for manifest in manifests.into_iter().filter(|m| m.is_file()) {
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("reading {}", manifest.display()))?;
            let name = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = "))
                .map(|n| n.trim_matches('"').to_string());
            packages.extend(name);
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .args(["clean", "--release"]);
    for package in &packages {
        command.args(["-p", package]);
    }
    let status = command.status().context("starting cargo clean")?;
    if !status.success() {
        bail!("cargo clean -p {} failed ({status})", packages.join(" -p "));
    }
    Ok(())
}

fn model_rows(minilm: &Path, bert_base: &Path, iters: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let models = [
        ("minilm", "--model", minilm),
        ("bert-base", "--config", bert_base),
    ];
    for (workload, unit, batch) in [("train-step", "samples/s", 8), ("inference", "seq/s", 32)] {
        for (model, flag, path) in models {
            for seq in [128, 512] {
                rows.push(Row {
                    name: format!("{workload} {model} seq {seq} batch {batch}"),
                    workload,
                    unit,
                    args: vec![
                        flag.into(),
                        path.display().to_string(),
                        "--seq".into(),
                        seq.to_string(),
                        "--batch".into(),
                        batch.to_string(),
                        "--iters".into(),
                        // bert-base at 512 takes tens of seconds per batch on a small CPU.
                        if model == "bert-base" && seq == 512 {
                            iters.div_ceil(2)
                        } else {
                            iters
                        }
                        .to_string(),
                    ],
                });
            }
        }
    }
    rows
}

/// Training steps at seq 128, batch 8, with the head alone, the last two layers and every layer
/// training, and with LoRA adapters of rank 8 (PEFT's on the PyTorch side).
fn partial_rows(minilm: &Path, bert_base: &Path, iters: usize) -> Vec<Row> {
    let models = [
        ("minilm", "--model", minilm),
        ("bert-base", "--config", bert_base),
    ];
    let mut rows = Vec::new();
    for (model, flag, path) in models {
        let variants = ["head", "last:2", "all"]
            .map(|layers| (format!("train-layers {layers}"), ["--train-layers", layers]))
            .into_iter()
            .chain([("lora r 8".to_string(), ["--lora-r", "8"])]);
        for (variant, extra) in variants {
            let mut args = vec![
                flag.into(),
                path.display().to_string(),
                "--seq".into(),
                "128".into(),
                "--batch".into(),
                "8".into(),
                "--iters".into(),
                iters.to_string(),
            ];
            args.extend(extra.map(String::from));
            rows.push(Row {
                name: format!("train-step {model} seq 128 batch 8 {variant}"),
                workload: "train-step",
                unit: "samples/s",
                args,
            });
        }
    }
    rows
}

/// The thread pinning both sides get.
struct ThreadEnv(usize);

impl ThreadEnv {
    fn apply(&self, command: &mut Command) {
        let n = self.0.to_string();
        for var in [
            "RAYON_NUM_THREADS",
            "RAYON_RS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
        ] {
            command.env(var, &n);
        }
        command.env("TOKENIZERS_PARALLELISM", "true");
    }
}

/// Runs one process and parses the JSON object on the last line of its stdout.
fn measure(mut command: Command, what: &str) -> Result<Value> {
    let output = command
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("starting {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what} printed no JSON result"))?;
    serde_json::from_str(line).with_context(|| format!("parsing {what}'s result: {line}"))
}

/// One implementation a row is measured with.
enum Side<'a> {
    /// `bertfit bench` on a device (empty: the workload has no device).
    Bertfit {
        binary: &'a Path,
        device: String,
        torch: Option<&'a torch::TorchEnv>,
        /// The `--baseline` revision this binary was built from; `None` for the working tree.
        revision: Option<&'a str>,
    },
    /// `reference.py` with transformers + PyTorch.
    Python {
        python: &'a Path,
        script: &'a Path,
        cache: PathBuf,
    },
}

impl Side<'_> {
    fn label(&self) -> String {
        match self {
            Side::Bertfit {
                device, revision, ..
            } => {
                let name = match device.as_str() {
                    "" => "bertfit".to_string(),
                    "cpu" => "bertfit-flex".to_string(),
                    device => format!("bertfit-{device}"),
                };
                match revision {
                    Some(rev) => format!("{name}@{rev}"),
                    None => name,
                }
            }
            Side::Python { .. } => "pytorch".into(),
        }
    }

    fn command(&self, row: &Row, env: &ThreadEnv) -> Command {
        let mut command = match self {
            Side::Bertfit {
                binary,
                device,
                torch,
                ..
            } => {
                let mut c = Command::new(binary);
                c.args(["bench", row.workload]);
                if !device.is_empty() {
                    c.args(["--device", device]);
                }
                if let Some(torch) = torch {
                    torch.apply(&mut c);
                }
                c
            }
            Side::Python {
                python,
                script,
                cache,
            } => {
                let mut c = Command::new(python);
                c.arg(script).arg(row.workload);
                c.args(["--threads", &env.0.to_string()]);
                c.arg("--cache-dir").arg(cache);
                c
            }
        };
        command.args(&row.args);
        env.apply(&mut command);
        command
    }
}

fn run_row(row: &Row, reps: usize, sides: &[Side<'_>], env: &ThreadEnv) -> Result<Value> {
    eprintln!("==> {}", row.name);
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); sides.len()];
    for rep in 0..reps {
        // Alternate the order so that no side always runs first (or last) on the machine.
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if rep % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let side = &sides[i];
            let what = format!("{} ({})", row.name, side.label());
            let result = measure(side.command(row, env), &what)?;
            eprintln!(
                "    rep {} {:<13} {:>10.3} {}  peak RSS {:.0} MiB",
                rep + 1,
                side.label(),
                result["items_per_second"].as_f64().unwrap_or(f64::NAN),
                row.unit,
                result["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1_048_576.0
            );
            runs[i].push(result);
        }
    }
    let summaries: Vec<Value> = runs.iter().map(|r| summary(r)).collect();
    let reference = sides
        .iter()
        .zip(&summaries)
        .find(|(side, _)| matches!(side, Side::Python { .. }))
        .and_then(|(_, s)| s["median"].as_f64());
    let mut results = serde_json::Map::new();
    let mut ratios = serde_json::Map::new();
    let mut to_baseline = serde_json::Map::new();
    let median = |label: &str, results: &serde_json::Map<String, Value>| {
        results
            .get(label)
            .and_then(|s| s["median"].as_f64())
            .unwrap_or(f64::NAN)
    };
    for (side, summary) in sides.iter().zip(&summaries) {
        results.insert(side.label(), summary.clone());
    }
    for side in sides {
        let Side::Bertfit { revision, .. } = side else {
            continue;
        };
        let label = side.label();
        if let Some(reference) = reference {
            let ratio = median(&label, &results) / reference;
            ratios.insert(label.clone(), json!(ratio));
            eprintln!("    {label} / pytorch = {ratio:.2}");
        }
        if let Some(rev) = revision {
            let current = label.trim_end_matches(&format!("@{rev}")).to_string();
            let ratio = median(&current, &results) / median(&label, &results);
            to_baseline.insert(current.clone(), json!(ratio));
            eprintln!("    {current} / {label} = {ratio:.3}");
        }
    }
    Ok(json!({
        "name": row.name,
        "workload": row.workload,
        "unit": row.unit,
        "results": results,
        "ratios": ratios,
        "ratios_to_baseline": to_baseline,
    }))
}

/// Median, min and max of items/second, and the largest peak RSS, over repetitions.
fn summary(runs: &[Value]) -> Value {
    let mut values: Vec<f64> = runs
        .iter()
        .filter_map(|r| r["items_per_second"].as_f64())
        .collect();
    values.sort_by(f64::total_cmp);
    let median = median_of_sorted(&values).unwrap_or(f64::NAN);
    let rss = runs
        .iter()
        .filter_map(|r| r["peak_rss_bytes"].as_u64())
        .max();
    json!({
        "median": median,
        "min": values.first(),
        "max": values.last(),
        "values": values,
        "peak_rss_bytes": rss,
        "runs": runs,
    })
}

/// The median of ascending `values` (the mean of the middle two for an even count).
fn median_of_sorted(values: &[f64]) -> Option<f64> {
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The bertfit binary, its libtorch and the shared settings of every recipe run.
struct RecipeRunner<'a> {
    root: &'a Path,
    bertfit: &'a Path,
    torch: Option<&'a torch::TorchEnv>,
    minilm: &'a Path,
    max_length: usize,
    env: &'a ThreadEnv,
}

/// One fine-tune of a recipe: the padding, the epochs and any further flags.
struct RecipeRun<'a> {
    padding: &'a str,
    group_by_length: bool,
    epochs: usize,
    seed: u64,
    /// Further `bertfit finetune` flags (e.g. `--train-layers head`).
    bertfit_args: &'a [&'a str],
    /// Further `recipe_reference.py` flags.
    python_args: &'a [&'a str],
}

impl RecipeRunner<'_> {
    /// One fine-tune by `side`: see [`bertfit`](Self::bertfit) and
    /// [`transformers`](Self::transformers).
    fn run(&self, side: &RecipeSide<'_>, run: &RecipeRun<'_>, dir: &Path) -> Result<Value> {
        match side {
            RecipeSide::Bertfit(device) => self.bertfit(device, run, dir),
            RecipeSide::Transformers(python) => self.transformers(python, run, dir),
        }
    }

    /// `bertfit finetune` on the shipped sample (500/500 rows of `shuffle(seed=42)`, evaluation
    /// each epoch): wall seconds, train runtime, the feature extraction's runtime when it ran,
    /// and the evaluations.
    fn bertfit(&self, device: &str, run: &RecipeRun<'_>, dir: &Path) -> Result<Value> {
        let mut command = Command::new(self.bertfit);
        command
            .current_dir(self.root)
            .arg("finetune")
            .arg("--model")
            .arg(self.minilm);
        command.args([
            "--dataset",
            "data/reviews-sample",
            "--train-size",
            "500",
            "--eval-size",
            "500",
            "--shuffle-seed",
            "42",
            "--seed",
            &run.seed.to_string(),
            "--num-train-epochs",
            &run.epochs.to_string(),
            "--eval-strategy",
            "epoch",
            "--save-strategy",
            "no",
            "--max-length",
            &self.max_length.to_string(),
            "--padding",
            run.padding,
            "--device",
            device,
            "--no-progress",
            "--overwrite-output-dir",
        ]);
        command.args(run.bertfit_args).arg("--output-dir").arg(dir);
        if run.group_by_length {
            command.arg("--group-by-length");
        }
        if let Some(torch) = self.torch {
            torch.apply(&mut command);
        }
        self.env.apply(&mut command);
        let started = Instant::now();
        let status = command
            .stdout(Stdio::null())
            .status()
            .context("running bertfit finetune")?;
        let wall = started.elapsed().as_secs_f64();
        if !status.success() {
            bail!(
                "bertfit finetune ({device}, {}) failed ({status})",
                dir.display()
            );
        }
        let train: Value = read_json(&dir.join("train_results.json"))?;
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl"))
            .with_context(|| format!("reading {}/metrics.jsonl", dir.display()))?;
        let records: Vec<Value> = metrics
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        let evaluations: Vec<Value> = records
            .iter()
            .filter(|v| v.get("eval_accuracy").is_some())
            .map(|v| json!({"epoch": v["epoch"], "accuracy": v["eval_accuracy"], "loss": v["eval_loss"]}))
            .collect();
        let extraction = records
            .iter()
            .find_map(|v| v.get("feature_extraction_runtime").cloned())
            .unwrap_or(Value::Null);
        eprintln!(
            "    wall {wall:.1} s, train_runtime {} s, accuracies {}",
            train["train_runtime"],
            Value::Array(evaluations.clone())
        );
        Ok(json!({
            "wall_seconds": wall,
            "train_runtime": train["train_runtime"],
            "train_samples_per_second": train["train_samples_per_second"],
            "feature_extraction_runtime": extraction,
            "evaluations": evaluations,
        }))
    }

    /// The same fine-tune with transformers' `Trainer` (`xtask/bench/recipe_reference.py`).
    fn transformers(&self, python: &Path, run: &RecipeRun<'_>, dir: &Path) -> Result<Value> {
        let mut command = Command::new(python);
        command
            .current_dir(self.root)
            .arg("xtask/bench/recipe_reference.py")
            .arg("--model")
            .arg(self.minilm)
            .args([
                "--padding",
                run.padding.replace('-', "_").as_str(),
                "--max-length",
                &self.max_length.to_string(),
                "--threads",
                &self.env.0.to_string(),
                "--seed",
                &run.seed.to_string(),
                "--shuffle-seed",
                "42",
                "--epochs",
                &run.epochs.to_string(),
            ])
            .args(run.python_args)
            .arg("--out")
            .arg(dir);
        if run.group_by_length {
            command.arg("--group-by-length");
        }
        self.env.apply(&mut command);
        let result = measure(command, &format!("recipe_reference.py ({})", dir.display()))?;
        eprintln!(
            "    wall {:.1} s, train_runtime {} s, accuracies {}",
            result["wall_seconds"].as_f64().unwrap_or(f64::NAN),
            result["train_runtime"],
            result["evaluations"]
        );
        Ok(json!({
            "wall_seconds": result["wall_seconds"],
            "train_runtime": result["train_runtime"],
            "train_samples_per_second": result["train_samples_per_second"],
            "evaluations": result["evaluations"],
        }))
    }
}

/// Who runs a recipe: bertfit on a device, or transformers' `Trainer` with this Python.
enum RecipeSide<'a> {
    Bertfit(&'a str),
    Transformers(&'a Path),
}

impl<'a> RecipeSide<'a> {
    /// bertfit on each of `devices`, then transformers when there is a `python`.
    fn all(devices: &'a [String], python: Option<&'a Path>) -> Vec<Self> {
        let bertfit = devices.iter().map(|d| Self::Bertfit(d.as_str()));
        bertfit.chain(python.map(Self::Transformers)).collect()
    }

    /// `bertfit-flex` for `cpu`, `bertfit-<device>` otherwise, or `transformers`.
    fn label(&self) -> String {
        match self {
            Self::Bertfit("cpu") => "bertfit-flex".to_string(),
            Self::Bertfit(device) => format!("bertfit-{device}"),
            Self::Transformers(_) => "transformers".to_string(),
        }
    }

    /// The device, or `transformers`: a part of the run's output directory name.
    fn dir_name(&self) -> &str {
        match self {
            Self::Bertfit(device) => device,
            Self::Transformers(_) => "transformers",
        }
    }
}

/// Merges `extra` (an object) into `value` (an object).
fn with_fields(mut value: Value, extra: Value) -> Value {
    if let (Some(value), Value::Object(extra)) = (value.as_object_mut(), extra) {
        value.extend(extra);
    }
    value
}

/// The seed recipe on the shipped sample with both paddings, with bertfit on each of
/// `devices` and with transformers' `Trainer` (`xtask/bench/recipe_reference.py`).
fn run_recipe(
    runner: &RecipeRunner<'_>,
    python: Option<&Path>,
    devices: &[String],
    seeds: &[u64],
    out: &Path,
) -> Result<Vec<Value>> {
    let paddings = [
        ("max_length", "max-length", false),
        ("longest + group_by_length", "longest", true),
    ];
    let runs: Vec<(&str, RecipeRun<'_>)> = seeds
        .iter()
        .flat_map(|seed| {
            paddings.iter().map(|(name, padding, group)| {
                let run = RecipeRun {
                    padding,
                    group_by_length: *group,
                    epochs: 2,
                    seed: *seed,
                    bertfit_args: &[],
                    python_args: &[],
                };
                (*name, run)
            })
        })
        .collect();
    let max_length = runner.max_length;
    let mut results = Vec::new();
    for side in RecipeSide::all(devices, python) {
        let label = side.label();
        for (name, run) in &runs {
            eprintln!(
                "==> recipe: {label}, padding {name}, max length {max_length}, seed {}",
                run.seed
            );
            let dir = out.join(format!(
                "recipe-{}-{}-{}",
                side.dir_name(),
                run.padding,
                run.seed
            ));
            results.push(with_fields(
                runner.run(&side, run, &dir)?,
                json!({"impl": label, "padding": name, "seed": run.seed, "max_length": max_length}),
            ));
        }
    }
    Ok(results)
}

/// Feature extraction end to end: 3 epochs with `--train-layers head` on the shipped sample
/// (padding longest + length grouping), bertfit with its feature-extraction cache and without
/// (`--no-feature-cache`, the encoder rerun every step as `Trainer` does) on each of `devices`,
/// and transformers' `Trainer` with the base frozen by `requires_grad_(False)`.
fn run_head_only_recipe(
    runner: &RecipeRunner<'_>,
    python: Option<&Path>,
    devices: &[String],
    out: &Path,
) -> Result<Vec<Value>> {
    let run = |bertfit_args| RecipeRun {
        padding: "longest",
        group_by_length: true,
        epochs: 3,
        seed: 42,
        bertfit_args,
        python_args: &["--train-layers", "head"],
    };
    let variants: [(&str, &[&str]); 2] = [
        ("feature cache", &["--train-layers", "head"]),
        (
            "no cache",
            &["--train-layers", "head", "--no-feature-cache"],
        ),
    ];
    let max_length = runner.max_length;
    let mut results = Vec::new();
    for side in RecipeSide::all(devices, python) {
        let label = side.label();
        // `Trainer` has no cache: one run, the base frozen.
        let variants = match side {
            RecipeSide::Bertfit(_) => &variants[..],
            RecipeSide::Transformers(_) => &[("requires_grad_(False)", &[][..])][..],
        };
        for (variant, args) in variants {
            eprintln!("==> head-only recipe: {label}, {variant}, max length {max_length}");
            let dir = out.join(format!(
                "head-only-{}-{}",
                side.dir_name(),
                variant.replace(' ', "-")
            ));
            results.push(with_fields(
                runner.run(&side, &run(args), &dir)?,
                json!({"impl": label, "variant": variant, "max_length": max_length}),
            ));
        }
    }
    Ok(results)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The reference environment: the cached torch 2.9.0 environment of `cargo xtask torch`, with
/// the pinned transformers and datasets added on first use.
pub(crate) fn ensure_reference_python() -> Result<PathBuf> {
    let env = torch::ensure_torch()?;
    let python = env.venv.join("bin/python");
    let check = format!(
        "import transformers, datasets, peft, sys; sys.exit(0 if (transformers.__version__, datasets.__version__, peft.__version__) == ('{TRANSFORMERS_VERSION}', '{DATASETS_VERSION}', '{PEFT_VERSION}') else 1)"
    );
    let ready = Command::new(&python)
        .args(["-c", &check])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        eprintln!(
            "==> installing transformers=={TRANSFORMERS_VERSION} datasets=={DATASETS_VERSION} peft=={PEFT_VERSION} into {}",
            env.venv.display()
        );
        torch::pip_install(
            &python,
            &[
                &format!("transformers=={TRANSFORMERS_VERSION}"),
                &format!("datasets=={DATASETS_VERSION}"),
                &format!("peft=={PEFT_VERSION}"),
            ],
        )?;
    }
    Ok(python)
}

fn reference_versions(python: &Path) -> Value {
    let output = Command::new(python)
        .args([
            "-c",
            "import json, torch, transformers, datasets, tokenizers, peft; print(json.dumps({'torch': torch.__version__, 'transformers': transformers.__version__, 'datasets': datasets.__version__, 'tokenizers': tokenizers.__version__, 'peft': peft.__version__, 'mkl': torch.backends.mkl.is_available()}))",
        ])
        .output();
    output
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or(Value::Null)
}

fn machine_info(threads: usize) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string());
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .map(|l| {
            l.split_whitespace()
                .filter(|f| ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"].contains(f))
                .collect()
        })
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: Option<u64> = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok());
    json!({
        "cpu": cpu,
        "simd": flags,
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "memory_gib": memory_kib.map(|k| (k as f64 / 1_048_576.0 * 10.0).round() / 10.0),
        "os": std::env::consts::OS,
        "threads_used": threads,
    })
}

/// The commit measured, `-dirty` when the working tree had uncommitted changes.
fn git_commit(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A markdown table's header line and its separator.
fn push_table_header(s: &mut String, headers: &[String]) {
    s.push_str(&format!("| {} |\n|", headers.join(" | ")));
    s.push_str(&"---|".repeat(headers.len()));
    s.push('\n');
}

/// The readable table: one line per row with both medians (min–max), peak RSS and the ratio.
fn markdown(report: &Value) -> String {
    let mut s = String::new();
    let m = &report["machine"];
    s.push_str(&format!(
        "Machine: {} ({} cores, {} GiB), {} threads each, {} reps, bertfit {} vs {}\n\n",
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_gib"],
        report["threads"],
        report["reps"],
        report["bertfit_commit"].as_str().unwrap_or("?"),
        match (report["baseline"].as_str(), report["reference"].is_null()) {
            (Some(rev), true) => format!("{rev} (no PyTorch)"),
            (Some(rev), false) => format!("{rev} and {}", report["reference"]),
            (None, _) => report["reference"].to_string(),
        }
    ));
    // Every side that measured some row, in the order the rows list them (PyTorch last).
    let mut present: Vec<&str> = Vec::new();
    for row in report["rows"].as_array().into_iter().flatten() {
        for label in row["results"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(l, _)| l)
        {
            if !present.contains(&label.as_str()) {
                present.push(label);
            }
        }
    }
    present.sort_by_key(|l| *l == "pytorch");
    let ours: Vec<&str> = present
        .iter()
        .copied()
        .filter(|l| *l != "pytorch")
        .collect();
    let baseline = report["baseline"].as_str();
    let mut headers = vec!["row".to_string(), "unit".to_string()];
    headers.extend(present.iter().map(|l| format!("{l} median (min–max)")));
    headers.push("ratio to PyTorch".to_string());
    if let Some(rev) = baseline {
        headers.push(format!("ratio to {rev}"));
    }
    headers.push("peak RSS".to_string());
    push_table_header(&mut s, &headers);
    let mib = |v: &Value| {
        v.as_f64()
            .map(|b| format!("{:.0}", b / 1_048_576.0))
            .unwrap_or_else(|| "–".into())
    };
    for row in report["rows"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "| {} | {} |",
            row["name"].as_str().unwrap_or("?"),
            row["unit"].as_str().unwrap_or("?")
        ));
        for label in &present {
            let side = &row["results"][*label];
            if side.is_null() {
                s.push_str(" – |");
            } else {
                s.push_str(&format!(
                    " {:.2} ({:.2}–{:.2}) |",
                    side["median"].as_f64().unwrap_or(f64::NAN),
                    side["min"].as_f64().unwrap_or(f64::NAN),
                    side["max"].as_f64().unwrap_or(f64::NAN)
                ));
            }
        }
        let ratios: Vec<String> = ours
            .iter()
            .filter_map(|l| {
                let r = row["ratios"][*l].as_f64()?;
                Some(format!("{}: **{r:.2}**", l.trim_start_matches("bertfit-")))
            })
            .collect();
        s.push_str(&format!(" {} |", ratios.join(", ")));
        if baseline.is_some() {
            let to_baseline: Vec<String> = row["ratios_to_baseline"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(l, r)| {
                    let r = r.as_f64()?;
                    Some(format!("{}: **{r:.3}**", l.trim_start_matches("bertfit-")))
                })
                .collect();
            s.push_str(&format!(" {} |", to_baseline.join(", ")));
        }
        let rss: Vec<String> = present
            .iter()
            .map(|l| mib(&row["results"][*l]["peak_rss_bytes"]))
            .collect();
        s.push_str(&format!(" {} MiB |\n", rss.join(" / ")));
    }
    // Where a training step's time goes: the median seconds of each phase over every timed
    // iteration of every repetition.
    let train_rows: Vec<&Value> = report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["workload"] == "train-step")
        .collect();
    if !train_rows.is_empty() {
        s.push_str("\nTraining step phases, median seconds (forward incl. loss read-back / backward / optimizer):\n\n");
        let mut headers = vec!["row".to_string()];
        headers.extend(present.iter().map(|l| l.to_string()));
        push_table_header(&mut s, &headers);
        for row in train_rows {
            s.push_str(&format!("| {} |", row["name"].as_str().unwrap_or("?")));
            for label in &present {
                let runs = row["results"][*label]["runs"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let phase = |name: &str| {
                    let mut values: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r["phases"][name].as_array())
                        .flatten()
                        .filter_map(Value::as_f64)
                        .collect();
                    values.sort_by(f64::total_cmp);
                    median_of_sorted(&values)
                };
                match (phase("forward"), phase("backward"), phase("optimizer")) {
                    (Some(f), Some(b), Some(o)) => {
                        s.push_str(&format!(" {f:.3} / {b:.3} / {o:.3} |"))
                    }
                    _ => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
    }
    let recipe = report["recipe"].as_array().cloned().unwrap_or_default();
    if !recipe.is_empty() {
        s.push_str("\nSeed recipe on data/reviews-sample (all-MiniLM-L6-v2, 500/500 rows of shuffle(seed=42), 2 epochs, batch 8, lr 5e-5):\n\n| implementation | padding | max length | seed | wall s | train s | samples/s | accuracy epoch 1 / 2 |\n|---|---|---|---|---|---|---|---|\n");
        for r in &recipe {
            let acc: Vec<String> = r["evaluations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| format!("{:.3}", e["accuracy"].as_f64().unwrap_or(f64::NAN)))
                .collect();
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.1} | {} | {} | {} |\n",
                r["impl"].as_str().unwrap_or("?"),
                r["padding"].as_str().unwrap_or("?"),
                r["max_length"],
                r["seed"],
                r["wall_seconds"].as_f64().unwrap_or(f64::NAN),
                r["train_runtime"],
                r["train_samples_per_second"],
                acc.join(" / ")
            ));
        }
        s.push('\n');
        // Means over seeds: wall time and final accuracy per implementation and padding.
        let mean = |implementation: &str, padding: &str, field: &dyn Fn(&Value) -> Option<f64>| {
            let values: Vec<f64> = recipe
                .iter()
                .filter(|r| r["impl"] == implementation && r["padding"] == padding)
                .filter_map(field)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let wall = |r: &Value| r["wall_seconds"].as_f64();
        let accuracy = |r: &Value| {
            r["evaluations"]
                .as_array()
                .and_then(|e| e.last())
                .and_then(|e| e["accuracy"].as_f64())
        };
        let mut implementations: Vec<&str> =
            recipe.iter().filter_map(|r| r["impl"].as_str()).collect();
        implementations.dedup();
        let paddings = ["max_length", "longest + group_by_length"];
        for implementation in &implementations {
            let [a, b] = paddings.map(|p| mean(implementation, p, &wall));
            let [x, y] = paddings.map(|p| mean(implementation, p, &accuracy));
            if let (Some(a), Some(b), Some(x), Some(y)) = (a, b, x, y) {
                s.push_str(&format!(
                    "- {implementation}: longest + group_by_length is {:.2}x faster than max_length end to end (mean wall {a:.0} s vs {b:.0} s); final accuracy {x:.3} vs {y:.3} (mean over seeds)\n",
                    a / b
                ));
            }
        }
        for implementation in implementations.iter().filter(|i| **i != "transformers") {
            for padding in paddings {
                if let (Some(ours), Some(theirs)) = (
                    mean(implementation, padding, &wall),
                    mean("transformers", padding, &wall),
                ) {
                    s.push_str(&format!(
                        "- {implementation} vs transformers, {padding}: {:.2}x faster\n",
                        theirs / ours
                    ));
                }
            }
        }
    }
    head_only_markdown(&mut s, report);
    s
}

/// The head-only recipe's table: each run's times, and the cache's speed-up per device.
fn head_only_markdown(s: &mut String, report: &Value) {
    let runs = report["head_only_recipe"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if runs.is_empty() {
        return;
    }
    s.push_str("\nFeature extraction (`--train-layers head`) on data/reviews-sample (all-MiniLM-L6-v2, 500/500 rows, 3 epochs, padding longest + group_by_length):\n\n| implementation | variant | max length | wall s | train s | of it extraction s | final accuracy |\n|---|---|---|---|---|---|---|\n");
    let wall = |r: &Value| r["wall_seconds"].as_f64().unwrap_or(f64::NAN);
    for r in &runs {
        let accuracy = r["evaluations"]
            .as_array()
            .and_then(|e| e.last())
            .and_then(|e| e["accuracy"].as_f64())
            .unwrap_or(f64::NAN);
        let extraction = r["feature_extraction_runtime"]
            .as_f64()
            .map_or("–".to_string(), |v| format!("{v:.1}"));
        s.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} | {extraction} | {accuracy:.3} |\n",
            r["impl"].as_str().unwrap_or("?"),
            r["variant"].as_str().unwrap_or("?"),
            r["max_length"],
            wall(r),
            r["train_runtime"],
        ));
    }
    s.push('\n');
    let find = |implementation: &str, variant: &str| {
        runs.iter()
            .find(|r| r["impl"] == implementation && r["variant"] == variant)
            .map(wall)
    };
    let transformers = runs.iter().find(|r| r["impl"] == "transformers").map(wall);
    let mut implementations: Vec<&str> = runs
        .iter()
        .filter_map(|r| r["impl"].as_str())
        .filter(|i| *i != "transformers")
        .collect();
    implementations.dedup();
    for implementation in implementations {
        if let (Some(cached), Some(uncached)) = (
            find(implementation, "feature cache"),
            find(implementation, "no cache"),
        ) {
            s.push_str(&format!(
                "- {implementation}: the cache is {:.2}x faster end to end (wall {cached:.0} s vs {uncached:.0} s)",
                uncached / cached
            ));
            if let Some(theirs) = transformers {
                s.push_str(&format!(
                    "; {:.2}x transformers' head-only Trainer ({theirs:.0} s)",
                    theirs / cached
                ));
            }
            s.push('\n');
        }
    }
}
