//! `bertfit push`: upload a fine-tuned model directory to the Hugging Face Hub, with a model
//! card, as `model.push_to_hub()` + `trainer.create_model_card()` would.
//!
//! What goes up: every regular file at the top of the directory (`config.json`, the weights,
//! tokenizer files, `eval_results.json`, `train_results.json`, `training_config.json`,
//! `trainer_state.json`, `metrics.jsonl`, …) and a generated `README.md`. Sub-directories
//! (the `checkpoint-N/` folders with optimizer state) and hidden files stay local; both are
//! listed on stderr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bertfit_hub::{Hub, PushRequest, PushSummary, RepoId, UploadFile};
use bertfit_model::peft;
use bertfit_model::{CONFIG_FILE, PYTORCH_FILE, SAFETENSORS_FILE};
use bertfit_train::files::TRAINING_CONFIG;
use clap::Args;
use serde_json::{Map, Value, json};

/// The model card's file name.
const README: &str = "README.md";
/// What `bertfit finetune` writes beside the model.
const EVAL_RESULTS: &str = "eval_results.json";
const TRAIN_RESULTS: &str = "train_results.json";

/// Arguments of `bertfit push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// A model directory written by `bertfit finetune` (config.json, model.safetensors,
    /// tokenizer files, results and metrics).
    pub model_dir: PathBuf,
    /// The Hub model repo to push to, `owner/name`; created if it does not exist.
    #[arg(long)]
    pub repo_id: String,
    /// Create the repo private (an existing repo keeps its visibility).
    #[arg(long)]
    pub private: bool,
    /// Commit message [default: "Upload <name> with bertfit"].
    #[arg(long)]
    pub commit_message: Option<String>,
    /// Branch to commit to (it must exist, except main in a new repo).
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Do not generate a README.md model card (a README.md in the directory is uploaded as is
    /// either way).
    #[arg(long)]
    pub no_model_card: bool,
    /// Print one JSON object (repo, commit, files, bytes) instead of the commit URL.
    #[arg(long)]
    pub json: bool,
}

/// Where the pushed README.md came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardSource {
    Generated,
    Existing,
    None,
}

/// Runs `bertfit push`.
pub fn run(args: &PushArgs) -> Result<()> {
    // Everything that can be checked locally is, before any request.
    let repo = RepoId::parse_owned(&args.repo_id)
        .with_context(|| format!("--repo-id {}: e.g. my-user/bert-imdb", args.repo_id))?;
    if args.revision.trim().is_empty() || args.revision.chars().any(char::is_whitespace) {
        bail!(
            "--revision {:?} is not a branch name; use e.g. main",
            args.revision
        );
    }
    let dir = &args.model_dir;
    let ModelFiles {
        files: paths,
        skipped,
    } = model_files(dir)?;
    let has_readme = paths.iter().any(|(name, _)| name == README);
    let card = if has_readme || args.no_model_card {
        None
    } else {
        Some(model_card(&repo, dir)?)
    };
    let card_source = match (has_readme, &card) {
        (true, _) => CardSource::Existing,
        (false, Some(_)) => CardSource::Generated,
        (false, None) => CardSource::None,
    };
    let hub = Hub::from_env();
    if hub.options().token.is_none() {
        return Err(bertfit_hub::HubError::NoToken.into());
    }

    if !skipped.is_empty() {
        eprintln!("not uploaded (kept local): {}", skipped.join(", "));
    }
    let mut files = Vec::with_capacity(paths.len() + 1);
    for (name, path) in &paths {
        files.push(UploadFile::from_path(name.clone(), path)?);
    }
    if let Some(card) = card {
        files.push(UploadFile::from_bytes(README, card.into_bytes()));
    }
    let message = args
        .commit_message
        .clone()
        .unwrap_or_else(|| format!("Upload {} with bertfit", repo.name()));
    eprintln!(
        "pushing {} files ({}) from {} to {repo} at {}",
        files.len(),
        human_bytes(files.iter().map(|f| f.size).sum()),
        dir.display(),
        hub.options().endpoint
    );
    let request = PushRequest {
        repo: repo.clone(),
        private: args.private,
        revision: args.revision.clone(),
        message,
        files,
    };
    let summary = hub
        .push(&request, |line| eprintln!("{line}"))
        .with_context(|| format!("pushing {} to {repo}", dir.display()))?;

    if args.json {
        println!("{}", summary_json(&repo, args, card_source, &summary));
    } else {
        eprintln!(
            "committed {} files to {repo}@{} ({} sent; content already on the Hub is \
             deduplicated, not sent again)",
            summary.files.len(),
            args.revision,
            human_bytes(summary.bytes_sent)
        );
        println!("{}", summary.commit_url);
    }
    Ok(())
}

/// The `--json` output.
fn summary_json(repo: &RepoId, args: &PushArgs, card: CardSource, summary: &PushSummary) -> Value {
    json!({
        "repo_id": repo.to_string(),
        "revision": args.revision,
        "private": args.private,
        "repo_created": summary.repo_created,
        "commit_url": summary.commit_url,
        "commit_oid": summary.commit_oid,
        "model_card": match card {
            CardSource::Generated => "generated",
            CardSource::Existing => "existing",
            CardSource::None => "none",
        },
        "files": summary.files.iter().map(|f| json!({
            "path": f.path,
            "size": f.size,
            "upload_mode": f.mode.as_str(),
            "sha256": f.sha256,
        })).collect::<Vec<_>>(),
        "bytes": summary.files.iter().map(|f| f.size).sum::<u64>(),
        "bytes_transferred": summary.bytes_sent,
    })
}

/// `1.2 MB`-style sizes.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What of a model directory is pushed.
#[derive(Debug)]
struct ModelFiles {
    /// Files to upload: (name in the repo, path), sorted by name.
    files: Vec<(String, PathBuf)>,
    /// What stays local: sub-directories (`checkpoint-1/`) and hidden or special files.
    skipped: Vec<String>,
}

/// The files to upload and what is left out. Fails unless the directory holds a `config.json`
/// and weights.
fn model_files(dir: &Path) -> Result<ModelFiles> {
    if !dir.is_dir() {
        bail!(
            "model directory {} does not exist (or is not a directory); pass the --output-dir of `bertfit finetune`",
            dir.display()
        );
    }
    if !dir.join(CONFIG_FILE).is_file() {
        bail!(
            "{} has no {CONFIG_FILE}: not a model directory; pass the --output-dir of `bertfit finetune`",
            dir.display()
        );
    }
    let is_adapter = dir.join(peft::ADAPTER_CONFIG_FILE).is_file()
        && dir.join(peft::ADAPTER_WEIGHTS_FILE).is_file();
    if !is_adapter && !dir.join(SAFETENSORS_FILE).is_file() && !dir.join(PYTORCH_FILE).is_file() {
        bail!(
            "{} has no weights ({SAFETENSORS_FILE}, {PYTORCH_FILE}, or a LoRA adapter's {}); did the fine-tuning run finish? (checkpoint-N/ folders are not pushed)",
            dir.display(),
            peft::ADAPTER_WEIGHTS_FILE
        );
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            bail!(
                "{}: the file name is not UTF-8; rename it or move it out of the model directory",
                path.display()
            );
        };
        // Follows symlinks: a linked weights file is pushed as the file it points to.
        let meta =
            std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            skipped.push(format!("{name}/"));
        } else if name.starts_with('.') || !meta.is_file() {
            skipped.push(name);
        } else {
            files.push((name, path));
        }
    }
    files.sort();
    skipped.sort();
    Ok(ModelFiles { files, skipped })
}

/// Reads `dir/name` as JSON; `None` when the file does not exist.
fn read_json(dir: &Path, name: &str) -> Result<Option<Value>> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid JSON; fix or remove it (or pass --no-model-card)",
            path.display()
        )
    })?;
    Ok(Some(value))
}

/// What the model card is made of, read from the model directory.
#[derive(Debug, Default)]
struct CardInputs {
    /// `config.json`.
    config: Value,
    /// `eval_results.json`.
    eval: Option<Value>,
    /// `train_results.json`.
    train: Option<Value>,
    /// `training_config.json`.
    training: Option<Value>,
    /// `adapter_config.json`, for a LoRA adapter.
    adapter: Option<Value>,
}

/// The generated README.md of the model in `dir`.
fn model_card(repo: &RepoId, dir: &Path) -> Result<String> {
    let inputs = CardInputs {
        config: read_json(dir, CONFIG_FILE)?.unwrap_or(Value::Null),
        eval: read_json(dir, EVAL_RESULTS)?,
        train: read_json(dir, TRAIN_RESULTS)?,
        training: read_json(dir, TRAINING_CONFIG)?,
        adapter: read_json(dir, peft::ADAPTER_CONFIG_FILE)?,
    };
    Ok(render_card(repo, &inputs))
}

/// Evaluation metrics shown in the card: (key without `eval_`, name, Hub metric id).
const CARD_METRICS: [(&str, &str, Option<&str>); 7] = [
    ("accuracy", "Accuracy", Some("accuracy")),
    ("precision", "Precision", Some("precision")),
    ("recall", "Recall", Some("recall")),
    ("specificity", "Specificity", None),
    ("f1", "F1", Some("f1")),
    ("roc_auc", "ROC AUC", Some("roc_auc")),
    ("loss", "Loss", None),
];

/// A metric from `eval_results.json` (`eval_accuracy` or `accuracy`).
fn eval_metric(eval: &Value, key: &str) -> Option<f64> {
    eval.get(format!("eval_{key}"))
        .or_else(|| eval.get(key))
        .and_then(Value::as_f64)
}

/// The labels by id from `config.json`'s `id2label`.
fn labels(config: &Value) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = config
        .get("id2label")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(id, name)| {
                    let name = name
                        .as_str()
                        .map_or_else(|| name.to_string(), str::to_string);
                    (id.clone(), name)
                })
                .collect()
        })
        .unwrap_or_default();
    labels.sort_by_key(|(id, _)| (id.parse::<u64>().unwrap_or(u64::MAX), id.clone()));
    labels
}

/// The base model, when the directory records one that is a Hub id.
fn base_model(inputs: &CardInputs) -> Option<String> {
    let from_training = inputs.training.as_ref().and_then(|t| {
        ["base_model", "model_name_or_path", "model"]
            .iter()
            .find_map(|k| t.get(*k).and_then(Value::as_str))
    });
    let from_adapter = inputs
        .adapter
        .as_ref()
        .and_then(|a| a.get("base_model_name_or_path")?.as_str());
    let candidate = from_adapter
        .or(from_training)
        .or_else(|| inputs.config.get("_name_or_path")?.as_str())?;
    RepoId::parse_owned(candidate).ok().map(|r| r.to_string())
}

/// A JSON scalar as card text.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}

/// Escapes text for a markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The model card: YAML metadata, then labels, evaluation results, hyper-parameters, usage.
fn render_card(repo: &RepoId, inputs: &CardInputs) -> String {
    let base = base_model(inputs);
    let labels = labels(&inputs.config);
    let empty = Map::new();
    let eval = inputs.eval.as_ref();
    let metrics: Vec<(&str, f64, Option<&str>)> = eval
        .map(|e| {
            CARD_METRICS
                .iter()
                .filter_map(|(key, name, id)| eval_metric(e, key).map(|v| (*name, v, *id)))
                .collect()
        })
        .unwrap_or_default();

    let mut s = String::new();
    // Metadata the Hub reads (https://huggingface.co/docs/hub/model-cards).
    let library = if inputs.adapter.is_some() {
        "peft"
    } else {
        "bertfit"
    };
    let _ = write!(
        s,
        "---\nlibrary_name: {library}\npipeline_tag: text-classification\ntags:\n- bertfit\n- burn\n- text-classification\n{}",
        if inputs.adapter.is_some() {
            "- lora\n"
        } else {
            ""
        }
    );
    if let Some(base) = &base {
        let _ = writeln!(s, "base_model: {base}");
    }
    let ids: Vec<&str> = metrics.iter().filter_map(|(_, _, id)| *id).collect();
    if !ids.is_empty() {
        s.push_str("metrics:\n");
        for id in ids {
            let _ = writeln!(s, "- {id}");
        }
    }
    s.push_str("---\n\n");

    let _ = writeln!(s, "# {}\n", repo.name());
    let _ = write!(
        s,
        "A BERT-family text classifier fine-tuned with [bertfit](https://github.com/bertfit/bertfit) (Rust, [burn](https://burn.dev))"
    );
    match &base {
        Some(base) => {
            let _ = writeln!(s, " from [{base}](https://huggingface.co/{base}).");
        }
        None => s.push_str(".\n"),
    }
    // The class `save_pretrained` recorded; `AutoModelForSequenceClassification` picks it.
    let class = inputs
        .config
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .unwrap_or("AutoModelForSequenceClassification");
    match &inputs.adapter {
        Some(adapter) => {
            let field = |k: &str| adapter.get(k).map(scalar).unwrap_or_default();
            let _ = writeln!(
                s,
                "It is a LoRA adapter in [PEFT](https://github.com/huggingface/peft)'s format (`adapter_config.json`, `adapter_model.safetensors`; r {}, lora_alpha {}, target modules {}), with the trained classifier head, for `{}`: `peft.PeftModel.from_pretrained(base, repo)` loads it, and `bertfit merge` folds it into the base.\n",
                field("r"),
                field("lora_alpha"),
                adapter
                    .get("target_modules")
                    .map(|t| cell(&t.to_string()))
                    .unwrap_or_default(),
                cell(class)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "It is saved in the Hugging Face layout (`config.json`, `model.safetensors`, tokenizer files) and loads in `transformers` as `{}`.\n",
                cell(class)
            );
        }
    }

    s.push_str("## Labels\n\n");
    if labels.is_empty() {
        s.push_str("`config.json` names no labels (`id2label`).\n\n");
    } else {
        s.push_str("| id | label |\n|---:|---|\n");
        for (id, name) in &labels {
            let _ = writeln!(s, "| {} | {} |", cell(id), cell(name));
        }
        s.push('\n');
    }

    s.push_str("## Evaluation\n\n");
    match eval {
        None => s.push_str(
            "No evaluation results (`eval_results.json`) were saved with this model.\n\n",
        ),
        Some(e) => {
            if let Some(epoch) = e.get("epoch").and_then(Value::as_f64) {
                let _ = writeln!(s, "On the evaluation set, after epoch {epoch}:\n");
            } else {
                s.push_str("On the evaluation set:\n\n");
            }
            if metrics.is_empty() {
                s.push_str("`eval_results.json` holds none of the usual metrics.\n\n");
            } else {
                s.push_str("| metric | value |\n|---|---:|\n");
                for (name, value, _) in &metrics {
                    let _ = writeln!(s, "| {name} | {value:.4} |");
                }
                s.push('\n');
            }
        }
    }

    s.push_str("## Training\n\n");
    let training = inputs
        .training
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let train = inputs
        .train
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut rows: Vec<(&str, String)> = Vec::new();
    let get = |k: &str| training.get(k).filter(|v| !v.is_null());
    if let Some(v) = get("learning_rate") {
        rows.push(("learning rate", scalar(v)));
    }
    match get("max_steps").and_then(Value::as_i64) {
        Some(steps) if steps > 0 => rows.push(("optimizer steps", steps.to_string())),
        _ => {
            if let Some(v) = get("num_train_epochs") {
                rows.push(("epochs", scalar(v)));
            }
        }
    }
    if let Some(v) = get("per_device_train_batch_size") {
        rows.push(("train batch size", scalar(v)));
    }
    if let Some(v) = get("gradient_accumulation_steps").and_then(Value::as_u64)
        && v > 1
    {
        rows.push(("gradient accumulation steps", v.to_string()));
    }
    if let Some(v) = get("seed") {
        rows.push(("seed", scalar(v)));
    }
    if !training.is_empty() {
        rows.push((
            "max length",
            get("max_length")
                .map_or_else(|| "the model's max_position_embeddings".to_string(), scalar),
        ));
    }
    if let Some(v) = get("padding") {
        rows.push(("padding", scalar(v)));
    }
    let warmup_steps = get("warmup_steps").and_then(Value::as_u64).unwrap_or(0);
    let warmup_ratio = get("warmup_ratio").and_then(Value::as_f64).unwrap_or(0.0);
    if warmup_steps > 0 {
        rows.push(("warmup", format!("{warmup_steps} steps")));
    } else if warmup_ratio > 0.0 {
        rows.push(("warmup", format!("{warmup_ratio} of the steps")));
    } else if !training.is_empty() {
        rows.push(("warmup", "none".to_string()));
    }
    for (key, name) in [
        ("weight_decay", "weight decay"),
        ("max_grad_norm", "max gradient norm"),
    ] {
        if let Some(v) = get(key) {
            rows.push((name, scalar(v)));
        }
    }
    if !training.is_empty() {
        rows.push((
            "optimizer",
            "AdamW, linear schedule (transformers Trainer defaults)".to_string(),
        ));
    }
    if let Some(v) = train.get("train_loss") {
        rows.push(("final training loss", scalar(v)));
    }
    if let Some(v) = train.get("train_runtime").and_then(Value::as_f64) {
        rows.push(("training time", format!("{v:.1} s")));
    }
    if rows.is_empty() {
        s.push_str(
            "No training configuration (`training_config.json`) was saved with this model.\n\n",
        );
    } else {
        s.push_str("| hyper-parameter | value |\n|---|---|\n");
        for (name, value) in rows {
            let _ = writeln!(s, "| {name} | {} |", cell(&value));
        }
        s.push('\n');
    }

    let example = "I loved this film, the acting was superb!";
    s.push_str("## Usage\n\nWith bertfit:\n\n```sh\n");
    let _ = writeln!(s, "bertfit predict --model {repo} \"{example}\"");
    s.push_str(
        "```\n\nWith Python `transformers`:\n\n```python\nfrom transformers import pipeline\n\n",
    );
    let _ = writeln!(
        s,
        "classifier = pipeline(\"text-classification\", model=\"{repo}\")"
    );
    let _ = writeln!(s, "print(classifier(\"{example}\"))");
    s.push_str("```\n");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn inputs() -> CardInputs {
        CardInputs {
            config: json!({
                "model_type": "bert",
                "_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
                "id2label": {"0": "neg", "1": "pos"},
            }),
            eval: Some(json!({
                "eval_loss": 0.41234, "eval_accuracy": 0.8125, "eval_precision": 0.8,
                "eval_recall": 0.75, "eval_specificity": 0.9, "eval_f1": 0.7741935483870968,
                "eval_roc_auc": 0.9, "eval_runtime": 1.5, "epoch": 2.0,
            })),
            train: Some(json!({"train_loss": 0.5, "train_runtime": 12.34, "epoch": 2.0})),
            training: Some(json!({
                "learning_rate": 0.0002, "num_train_epochs": 2.0, "max_steps": -1,
                "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "seed": 42,
                "max_length": 64, "padding": "longest", "warmup_steps": 0, "warmup_ratio": 0.1,
                "weight_decay": 0.0, "max_grad_norm": 1.0,
            })),
            adapter: None,
        }
    }

    #[test]
    fn card_has_metadata_labels_metrics_hyperparameters_usage() {
        let repo = RepoId::parse_owned("me/minilm-reviews").unwrap();
        let card = render_card(&repo, &inputs());
        let (front, body) = card
            .strip_prefix("---\n")
            .unwrap()
            .split_once("\n---\n")
            .unwrap();
        for line in [
            "library_name: bertfit",
            "- bertfit",
            "- burn",
            "- text-classification",
            "base_model: sentence-transformers/all-MiniLM-L6-v2",
            "metrics:",
            "- accuracy",
            "- roc_auc",
        ] {
            assert!(front.lines().any(|l| l == line), "{line} in\n{front}");
        }
        assert!(!front.contains("specificity"), "not a Hub metric id");
        for text in [
            "# minilm-reviews",
            "| 0 | neg |",
            "| 1 | pos |",
            "after epoch 2",
            "| Accuracy | 0.8125 |",
            "| Precision | 0.8000 |",
            "| Recall | 0.7500 |",
            "| Specificity | 0.9000 |",
            "| F1 | 0.7742 |",
            "| ROC AUC | 0.9000 |",
            "| Loss | 0.4123 |",
            "| learning rate | 0.0002 |",
            "| epochs | 2.0 |",
            "| train batch size | 8 |",
            "| seed | 42 |",
            "| max length | 64 |",
            "| padding | longest |",
            "| warmup | 0.1 of the steps |",
            "| final training loss | 0.5 |",
            "bertfit predict --model me/minilm-reviews \"",
            "pipeline(\"text-classification\", model=\"me/minilm-reviews\")",
        ] {
            assert!(body.contains(text), "{text:?} in\n{body}");
        }
        assert!(!body.contains("gradient accumulation"), "1 is not shown");
    }

    #[test]
    fn card_without_results_says_so() {
        let repo = RepoId::parse_owned("me/bare").unwrap();
        let card = render_card(
            &repo,
            &CardInputs {
                config: json!({"_name_or_path": "/tmp/local/model"}),
                ..CardInputs::default()
            },
        );
        assert!(
            !card.contains("base_model"),
            "a local path is no Hub base model"
        );
        assert!(!card.contains("metrics:"));
        assert!(card.contains("names no labels"));
        assert!(card.contains("No evaluation results"));
        assert!(card.contains("No training configuration"));
        assert!(card.contains("bertfit predict --model me/bare"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }

    #[test]
    fn model_files_skip_checkpoints_and_need_weights() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(
            model_files(&dir.join("nope"))
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        assert!(
            model_files(dir)
                .unwrap_err()
                .to_string()
                .contains("no config.json")
        );
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        assert!(
            model_files(dir)
                .unwrap_err()
                .to_string()
                .contains("no weights")
        );
        std::fs::write(dir.join("model.safetensors"), b"w").unwrap();
        std::fs::write(dir.join("metrics.jsonl"), b"{}\n").unwrap();
        std::fs::write(dir.join(".hidden"), b"x").unwrap();
        std::fs::create_dir(dir.join("checkpoint-1")).unwrap();
        let found = model_files(dir).unwrap();
        let names: Vec<&str> = found.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["config.json", "metrics.jsonl", "model.safetensors"]);
        assert_eq!(found.skipped, [".hidden", "checkpoint-1/"]);
    }
}
