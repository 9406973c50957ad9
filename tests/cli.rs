//! End to end through the real `bertfit` binary: finetune a tiny model on generated reviews for
//! 2 epochs → model dir → predict → evaluate; `--model` as a Hub id (mock Hub on 127.0.0.1);
//! `bertfit data`; and the CLI's errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[cfg(feature = "hub")]
#[path = "../crates/data/tests/support/mock_hub.rs"]
mod mock_hub;

use common::{bertfit, bertfit_env, text, tiny_model_dir, write_reviews};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use bertfit_model::{BertForSequenceClassification, BertInput};
use bertfit_tokenize::{PaddingStrategy, Tokenizer, TokenizerConfig};
use burn::tensor::Device;
use burn::tensor::activation::softmax;

#[test]
fn finetune_predict_evaluate_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("out");
    let (model, data, out_s) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    );

    let run = bertfit(&[
        "finetune",
        "--model",
        model,
        "--dataset",
        data,
        "--train-size",
        "64",
        "--eval-size",
        "32",
        "--max-length",
        "32",
        "--padding",
        "longest",
        "--num-train-epochs",
        "2",
        "--learning-rate",
        "1e-3",
        "--output-dir",
        out_s,
        "--no-progress",
        "--seed",
        "7",
        "--shuffle-seed",
        "42",
    ]);
    assert!(
        run.status.success(),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(
        text(&run.stderr).contains("64 train / 32 eval rows after shuffle(seed=42)"),
        "{}",
        text(&run.stderr)
    );
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("train_runtime") && stdout.contains("confusion matrix"),
        "{stdout}"
    );
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "metrics.jsonl",
        "eval_results.json",
        "train_results.json",
        "trainer_state.json",
        "checkpoint-8",
        "checkpoint-16",
    ] {
        assert!(out.join(file).exists(), "missing {file}");
    }
    let evals = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        evals
            .lines()
            .filter(|l| l.contains("eval_accuracy"))
            .count(),
        2,
        "one evaluation per epoch"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"]["0"], "neg");
    assert_eq!(config["id2label"]["1"], "pos");

    // Refuses to overwrite finished work.
    let again = bertfit(&[
        "finetune",
        "--model",
        model,
        "--dataset",
        data,
        "--output-dir",
        out_s,
    ]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--overwrite-output-dir"),
        "{}",
        text(&again.stderr)
    );

    // predict (JSON lines) equals an in-process forward pass of the reloaded model.
    let sentences = [
        "I cannot stand it anymore!",
        "A wonderful film, the acting was superb.",
    ];
    let predicted = bertfit(&[
        "predict",
        "--model",
        out_s,
        "--format",
        "json",
        sentences[0],
        sentences[1],
    ]);
    assert!(predicted.status.success(), "{}", text(&predicted.stderr));
    let lines: Vec<serde_json::Value> = text(&predicted.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let device = Device::flex();
    let (reloaded, _) = BertForSequenceClassification::from_pretrained(&out, &device).unwrap();
    let tokenizer = Tokenizer::from_dir(
        &out,
        TokenizerConfig::default()
            .with_max_length(64)
            .with_padding(PaddingStrategy::Longest),
    )
    .unwrap();
    let batch = tokenizer
        .encode_batch(&sentences)
        .unwrap()
        .flatten_i64()
        .unwrap();
    let input = BertInput::from_slices(
        &batch.input_ids,
        Some(&batch.attention_mask),
        Some(&batch.token_type_ids),
        batch.shape,
        &reloaded.config,
        &device,
    )
    .unwrap();
    let probs = softmax(reloaded.forward(input, None).logits, 1)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap();
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["text"], sentences[i]);
        let (neg, pos) = (
            line["scores"]["neg"].as_f64().unwrap(),
            line["scores"]["pos"].as_f64().unwrap(),
        );
        assert!((neg + pos - 1.0).abs() < 1e-5);
        assert!(
            (neg - f64::from(probs[2 * i])).abs() < 1e-6
                && (pos - f64::from(probs[2 * i + 1])).abs() < 1e-6
        );
        assert_eq!(line["label"], if pos > neg { "pos" } else { "neg" });
    }

    // evaluate: the full report as JSON.
    let evaluated = bertfit(&[
        "evaluate",
        "--model",
        out_s,
        "--dataset",
        data,
        "--split",
        "test",
        "--format",
        "json",
    ]);
    assert!(evaluated.status.success(), "{}", text(&evaluated.stderr));
    let report: serde_json::Value = serde_json::from_str(text(&evaluated.stdout).trim()).unwrap();
    for key in [
        "eval_loss",
        "eval_accuracy",
        "eval_precision",
        "eval_recall",
        "eval_specificity",
        "eval_f1",
        "eval_roc_auc",
        "eval_confusion_matrix",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    let matrix = report["eval_confusion_matrix"].as_array().unwrap();
    let total: u64 = matrix
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 40);
}

#[test]
fn bad_input_fails_clearly_without_partial_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("never-created");
    let (model, data, out_s) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    );

    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "finetune",
                "--model",
                model,
                "--dataset",
                data,
                "--output-dir",
                out_s,
                "--device",
                "cuda:0",
            ],
            "libtorch",
        ),
        (
            &[
                "finetune",
                "--model",
                model,
                "--dataset",
                "no/such/dir.parquet",
                "--output-dir",
                out_s,
            ],
            "no such file",
        ),
        (
            &[
                "finetune",
                "--model",
                "/no/model",
                "--dataset",
                data,
                "--output-dir",
                out_s,
            ],
            "/no/model",
        ),
        (
            &[
                "finetune",
                "--model",
                model,
                "--dataset",
                data,
                "--output-dir",
                out_s,
                "--train-size",
                "5000",
            ],
            "5000",
        ),
        (
            &[
                "finetune",
                "--model",
                model,
                "--dataset",
                data,
                "--output-dir",
                out_s,
                "--text-column",
                "review",
            ],
            "review",
        ),
    ];
    for (args, expected) in cases {
        let run = bertfit(args);
        assert!(!run.status.success(), "{args:?} succeeded");
        let stderr = text(&run.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} left a partial output directory");
    }
    let run = bertfit(&["finetune", "--padding", "sideways"]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("sideways"));
}

#[cfg(feature = "hub")]
#[test]
fn hub_model_ids_download_into_the_hf_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tiny_model_dir(tmp.path());
    let files: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&local)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    let hub = mock_hub::MockHub::start();
    hub.add_repo("bertfit-test/tiny-bert", sha, files.clone());
    let endpoint = PathBuf::from(hub.endpoint());
    let hf_home = tmp.path().join("hf");
    let online: [(&str, &Path); 2] = [("HF_ENDPOINT", &endpoint), ("HF_HOME", &hf_home)];

    let expected = bertfit(&["info", local.to_str().unwrap(), "--json"]);
    assert!(expected.status.success(), "{}", text(&expected.stderr));
    let expected: serde_json::Value = serde_json::from_slice(&expected.stdout).unwrap();

    let run = bertfit_env(&["info", "bertfit-test/tiny-bert", "--json"], &online);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let info: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(info["parameters"], expected["parameters"]);
    assert_eq!(info["labels"], expected["labels"]);
    // Python's cache layout, every file byte for byte.
    let snapshot = hf_home
        .join("hub/models--bertfit-test--tiny-bert/snapshots")
        .join(sha);
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(snapshot.join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(hf_home.join("hub/models--bertfit-test--tiny-bert/refs/main"))
            .unwrap()
            .trim(),
        sha
    );
    let content_requests = |hub: &mock_hub::MockHub| {
        hub.log()
            .iter()
            .filter(|r| r.path.contains("/resolve/") && r.method == "GET")
            .count()
    };
    assert_eq!(content_requests(&hub), files.len());

    // Offline, the cache serves it without a single request.
    hub.clear_log();
    let offline = [
        ("HF_ENDPOINT", endpoint.as_path()),
        ("HF_HOME", hf_home.as_path()),
        ("HF_HUB_OFFLINE", Path::new("1")),
    ];
    let run = bertfit_env(&["info", "bertfit-test/tiny-bert", "--json"], &offline);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(hub.log().is_empty());

    // An unknown repo is a 404 naming the id; offline without a cache names the demo preset.
    let run = bertfit_env(&["info", "bertfit-test/missing"], &online);
    assert!(!run.status.success());
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("404") && stderr.contains("bertfit-test/missing"),
        "{stderr}"
    );
    let empty = tmp.path().join("empty-hf");
    let run = bertfit_env(
        &["info", "bert-base-cased"],
        &[("HF_HOME", &empty), ("HF_HUB_OFFLINE", Path::new("1"))],
    );
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("--preset demo"),
        "{}",
        text(&run.stderr)
    );
    // Unreachable endpoint and nothing cached: the same hint, and no fallback.
    let run = bertfit_env(
        &["info", "bert-base-cased"],
        &[
            ("HF_HOME", &empty),
            ("HF_ENDPOINT", Path::new("http://127.0.0.1:9")),
        ],
    );
    assert!(!run.status.success());
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("--preset demo") && stderr.contains("cannot reach"),
        "{stderr}"
    );
}

/// A build without the `hub` feature (`cargo xtask finetune --preset demo`'s): every request to
/// the Hub says how to rebuild, nothing is written, and the Hugging Face cache still answers
/// offline. Runs in a build without the feature: `cargo test -p bertfit-cli --no-default-features
/// --test cli` (the default build runs `hub_model_ids_download_into_the_hf_cache` instead).
#[cfg(not(feature = "hub"))]
#[test]
fn without_the_hub_feature_the_hub_is_refused_with_the_rebuild_command() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let out = tmp.path().join("out");
    let rebuild = "cargo build --release -p bertfit-cli";
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec![
                "finetune",
                "--model",
                "bert-base-cased",
                "--dataset",
                data.to_str().unwrap(),
            ],
            "downloading model bert-base-cased",
        ),
        (
            vec![
                "finetune",
                "--model",
                local.to_str().unwrap(),
                "--dataset",
                "stanfordnlp/imdb",
            ],
            "downloading dataset stanfordnlp/imdb",
        ),
        (
            vec!["push", local.to_str().unwrap(), "--repo-id", "me/tiny"],
            "pushing to model repo me/tiny",
        ),
    ];
    let hf_home = tmp.path().join("hf");
    let token = tmp.path().join("token");
    std::fs::write(&token, "hf_test").unwrap();
    let env: [(&str, &Path); 2] = [("HF_HOME", &hf_home), ("HF_TOKEN_PATH", &token)];
    for (mut args, action) in cases {
        if args[0] == "finetune" {
            args.extend(["--output-dir", out.to_str().unwrap()]);
        }
        let run = bertfit_env(&args, &env);
        assert!(!run.status.success(), "{args:?} succeeded");
        let stderr = text(&run.stderr);
        for needle in [action, "`hub` cargo feature", rebuild] {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle:?} not in {stderr}"
            );
        }
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }

    // Offline, a model in the Hugging Face cache is used as with the Hub client.
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    let repo = hf_home.join("hub/models--bertfit-test--tiny-bert");
    let snapshot = repo.join("snapshots").join(sha);
    std::fs::create_dir_all(&snapshot).unwrap();
    for entry in std::fs::read_dir(&local).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, snapshot.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), sha).unwrap();
    let offline: [(&str, &Path); 2] = [("HF_HOME", &hf_home), ("HF_HUB_OFFLINE", Path::new("1"))];
    let run = bertfit_env(&["info", "bertfit-test/tiny-bert", "--json"], &offline);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let expected = bertfit(&["info", local.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let expected: serde_json::Value = serde_json::from_slice(&expected.stdout).unwrap();
    assert_eq!(info["parameters"], expected["parameters"]);
}

#[test]
fn data_inspects_and_exports_the_rows_a_run_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_reviews(tmp.path());
    let data_s = data.to_str().unwrap();

    let run = bertfit(&["data", "--dataset", data_s, "--json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let splits = summary["splits"].as_array().unwrap();
    let rows: Vec<(&str, u64)> = splits
        .iter()
        .map(|s| {
            (
                s["split"].as_str().unwrap(),
                s["num_rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("train", 96), ("test", 40)]);
    let counts = splits[0]["label_counts"].as_object().unwrap();
    assert_eq!(
        counts.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        96
    );

    // The export holds exactly shuffle(42).select(range(10)), traced by source_index.
    let export = tmp.path().join("exports/train-10.jsonl");
    let export_s = export.to_str().unwrap();
    let selection = [
        "data",
        "--dataset",
        data_s,
        "--split",
        "train",
        "--shuffle-seed",
        "42",
        "--select",
        "10",
    ];
    let args = [&selection[..], &["--export", export_s]].concat();
    let run = bertfit(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let expected = bertfit_data::DatasetDict::load(
        &bertfit_data::Source::from_path(&data).unwrap(),
        &bertfit_data::LoadOptions::default(),
    )
    .unwrap()
    .split("train")
    .unwrap()
    .shuffle(42)
    .select(0..10)
    .unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for (line, row) in lines.iter().zip(expected.iter()) {
        assert_eq!(
            line["source_index"].as_u64().unwrap() as usize,
            row.source_index
        );
        assert_eq!(line["text"].as_str().unwrap(), row.text);
    }
    // Row 3 of the same selection is the export's fourth line; a second export needs --force.
    let run = bertfit(&[&selection[..], &["--row", "3", "--json"]].concat());
    assert!(run.status.success(), "{}", text(&run.stderr));
    let row: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(row["source_index"], lines[3]["source_index"]);
    let run = bertfit(&args);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("--force"),
        "{}",
        text(&run.stderr)
    );
    for (bad, expected) in [
        (vec!["--split", "validation"], "validation"),
        (vec!["--split", "train", "--select", "500"], "500"),
        (vec!["--split", "train", "--row", "96"], "96 rows"),
        (
            vec!["--split", "train", "--export", "x.csv"],
            ".parquet or .jsonl",
        ),
    ] {
        let mut args = vec!["data", "--dataset", data_s];
        args.extend(bad);
        let run = bertfit(&args);
        assert!(!run.status.success(), "{args:?}");
        assert!(
            text(&run.stderr).contains(expected),
            "{args:?}: {}",
            text(&run.stderr)
        );
    }
}

/// `bertfit bench` (the Rust side of `cargo xtask bench`): each workload prints one JSON object
/// whose throughput is its own timings' arithmetic; seeded runs repeat; bad shapes are refused.
#[test]
fn bench_workloads_print_consistent_json() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let run = |args: &[&str]| -> serde_json::Value {
        let out = bertfit(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_str(text(&out.stdout).trim()).unwrap()
    };
    let model_arg = model.to_str().unwrap();
    let train_args = [
        "bench",
        "train-step",
        "--model",
        model_arg,
        "--seq",
        "16",
        "--batch",
        "4",
        "--iters",
        "2",
    ];
    let train = run(&train_args);
    assert_eq!(train["workload"], "train_step");
    let seconds: Vec<f64> = serde_json::from_value(train["seconds"].clone()).unwrap();
    assert_eq!(seconds.len(), 2);
    let expected = 4.0 * 2.0 / seconds.iter().sum::<f64>();
    assert!((train["items_per_second"].as_f64().unwrap() - expected).abs() < 1e-9 * expected);
    assert!(train["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    let losses: Vec<f64> = serde_json::from_value(train["loss"].clone()).unwrap();
    assert_eq!(losses.len(), 2);
    // A freshly initialised two-label head starts near ln 2 (lr 2e-5 barely moves it).
    assert!(
        losses
            .iter()
            .all(|l| (l - std::f64::consts::LN_2).abs() < 0.1),
        "{losses:?}"
    );
    // Weights, ids and dropout are seeded: a second run repeats the losses exactly.
    assert_eq!(run(&train_args)["loss"], train["loss"]);
    // The phases are the step: forward + backward + optimizer add up to each iteration.
    assert_eq!(train["optim"], "adamw_torch_fused");
    let phase =
        |name: &str| -> Vec<f64> { serde_json::from_value(train["phases"][name].clone()).unwrap() };
    let (forward, backward, optimizer) = (phase("forward"), phase("backward"), phase("optimizer"));
    for (i, total) in seconds.iter().enumerate() {
        let sum = forward[i] + backward[i] + optimizer[i];
        assert!(
            (sum - total).abs() < 1e-6 * total.max(1.0),
            "{sum} vs {total}"
        );
        assert!(forward[i] > 0.0 && backward[i] > 0.0 && optimizer[i] > 0.0);
    }
    // The op-by-op AdamW takes the same steps: the losses after them agree to rounding.
    let mut plain_args = train_args.to_vec();
    plain_args.extend(["--optim", "adamw-torch"]);
    let plain = run(&plain_args);
    assert_eq!(plain["optim"], "adamw_torch");
    let plain_losses: Vec<f64> = serde_json::from_value(plain["loss"].clone()).unwrap();
    for (a, b) in losses.iter().zip(&plain_losses) {
        assert!((a - b).abs() < 1e-5, "{losses:?} vs {plain_losses:?}");
    }

    let config = model.join("config.json");
    let infer_args = [
        "bench",
        "inference",
        "--config",
        config.to_str().unwrap(),
        "--seq",
        "8",
        "--batch",
        "3",
        "--iters",
        "1",
    ];
    let infer = run(&infer_args);
    assert_eq!(infer["workload"], "inference");
    assert_eq!(infer["batch"], 3);
    assert!(infer["logits_sum"].as_f64().unwrap().is_finite());
    assert_eq!(run(&infer_args)["logits_sum"], infer["logits_sum"]);

    let texts = tmp.path().join("texts.parquet");
    let written = run(&[
        "bench",
        "texts",
        "--rows",
        "30",
        "--out",
        texts.to_str().unwrap(),
    ]);
    assert_eq!(written["rows"], 30);
    let tok = run(&[
        "bench",
        "tokenize",
        "--tokenizer",
        model_arg,
        "--texts",
        texts.to_str().unwrap(),
        "--seq",
        "32",
        "--iters",
        "1",
    ]);
    assert_eq!(tok["texts"], 30);
    // The attended tokens are exactly what the library's tokenizer produces for those texts.
    let tokenizer = Tokenizer::from_dir(
        &model,
        TokenizerConfig::default()
            .with_max_length(32)
            .with_padding(PaddingStrategy::MaxLength),
    )
    .unwrap();
    let dataset = bertfit_data::generate::generate_dataset(30, 42);
    let encoding = tokenizer.encode_batch(&dataset.texts()).unwrap();
    let attended: usize = encoding
        .attention_mask
        .iter()
        .map(|row| row.iter().filter(|&&m| m == 1).count())
        .sum();
    assert_eq!(tok["attended_tokens"], attended);

    let bad = bertfit(&[
        "bench",
        "inference",
        "--model",
        model_arg,
        "--seq",
        "65",
        "--iters",
        "1",
    ]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(
        err.contains("--seq 65") && err.contains("max_position_embeddings (64)"),
        "{err}"
    );
}

/// `bertfit finetune` of `model` for one epoch on 16 rows of `data` (8 evaluated), 32 tokens,
/// into `out`, with `extra` flags.
fn finetune_briefly(model: &str, data: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "finetune",
        "--model",
        model,
        "--dataset",
        data,
        "--train-size",
        "16",
        "--eval-size",
        "8",
        "--max-length",
        "32",
        "--padding",
        "longest",
        "--num-train-epochs",
        "1",
        "--output-dir",
        out.to_str().unwrap(),
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    bertfit(&args)
}

/// A two-label (`neg`, `pos`) randomly initialised model of the architecture of the model
/// fixture `name`, with that fixture's own kind of tokenizer (WordPiece, byte-level BPE,
/// Unigram).
fn architecture_model_dir(dir: &Path, name: &str) -> PathBuf {
    use bertfit_model::{AutoConfig, AutoModelForSequenceClassification, SequenceClassifier};
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(name);
    let mut config = AutoConfig::from_file(fixture.join("config.json")).unwrap();
    config.set_labels(&["neg", "pos"]);
    let device = Device::flex();
    device.seed(1);
    let model_dir = dir.join(name);
    AutoModelForSequenceClassification::new(&config, &device)
        .unwrap()
        .save_pretrained(&model_dir)
        .unwrap();
    for file in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixture.join(file), model_dir.join(file)).unwrap();
    }
    model_dir
}

/// `finetune`, `predict`, `evaluate` and `info` on a local directory of every architecture
/// besides BERT; `finetune` refuses a `--max-length` the model cannot take before writing
/// anything.
#[test]
fn every_architecture_finetunes_predicts_evaluates_and_describes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_reviews(tmp.path());
    let data = data.to_str().unwrap();
    let json_lines = |out: &Output| -> Vec<serde_json::Value> {
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    for (name, model_type) in [
        ("distilbert", "distilbert"),
        ("roberta", "roberta"),
        ("xlm_roberta", "xlm-roberta"),
        ("electra", "electra"),
    ] {
        let base = architecture_model_dir(tmp.path(), name);
        let base = base.to_str().unwrap();
        let info = &json_lines(&bertfit(&["info", base, "--json"]))[0];
        assert_eq!(info["model_type"], model_type, "{info}");
        assert!(
            info["architecture"]
                .as_str()
                .unwrap()
                .ends_with("ForSequenceClassification"),
            "{info}"
        );
        assert_eq!(info["labels"], serde_json::json!(["neg", "pos"]));
        assert!(info["layers"].as_u64().is_some(), "{info}");

        let out = tmp.path().join(format!("{name}-out"));
        let out_s = out.to_str().unwrap();
        let too_long = bertfit(&[
            "finetune",
            "--model",
            base,
            "--dataset",
            data,
            "--output-dir",
            out_s,
            "--max-length",
            "1000",
        ]);
        assert!(!too_long.status.success());
        let stderr = text(&too_long.stderr);
        assert!(
            stderr.contains("--max-length 1000") && stderr.contains("max_position_embeddings"),
            "{name}: {stderr}"
        );
        assert!(!out.exists(), "{name}: a refused run left {out_s}");

        let run = finetune_briefly(base, data, &out, &[]);
        assert!(run.status.success(), "{name}: {}", text(&run.stderr));
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["model_type"], model_type);
        assert!(out.join("tokenizer.json").is_file() && out.join("eval_results.json").is_file());

        let sentences = ["A wonderful film.", "I cannot stand it anymore!", "Fine."];
        let predicted = json_lines(&bertfit(&[
            "predict",
            "--model",
            out_s,
            "--format",
            "json",
            "--batch-size",
            "2",
            sentences[0],
            sentences[1],
            sentences[2],
        ]));
        assert_eq!(predicted.len(), 3, "{name}");
        for (line, sentence) in predicted.iter().zip(sentences) {
            assert_eq!(line["text"], sentence);
            let (neg, pos) = (
                line["scores"]["neg"].as_f64().unwrap(),
                line["scores"]["pos"].as_f64().unwrap(),
            );
            assert!((neg + pos - 1.0).abs() < 1e-5, "{name}: {line}");
            assert_eq!(line["label"], if pos > neg { "pos" } else { "neg" });
        }

        let report = &json_lines(&bertfit(&[
            "evaluate",
            "--model",
            out_s,
            "--dataset",
            data,
            "--split",
            "test",
            "--size",
            "8",
            "--format",
            "json",
        ]))[0];
        assert!(
            report["eval_accuracy"].as_f64().is_some(),
            "{name}: {report}"
        );
        let info = &json_lines(&bertfit(&["info", out_s, "--json"]))[0];
        assert_eq!(info["model_type"], model_type);
        assert_eq!(info["missing"], serde_json::json!([]));
    }
}

/// Every tensor of a `model.safetensors`, as raw bytes by key.
fn weights(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tensors(&dir.join("model.safetensors"))
}

/// `--train-layers head` (feature extraction) and `last:1` train exactly the head, or the last
/// encoder layer and the head, and leave every other weight of the base as it was; the
/// trainable-parameter count is printed; a resume with another setting, `last:N` beyond the
/// model's layers and an unknown choice are refused before anything is written.
#[test]
fn train_layers_freeze_the_encoder_below_the_trained_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let (base_s, data) = (base.to_str().unwrap(), data.to_str().unwrap());
    let initial = weights(&base);
    let finetune = |out: &Path, extra: &[&str]| {
        let mut args = vec!["--learning-rate", "1e-3", "--weight-decay", "0.01"];
        args.extend_from_slice(extra);
        finetune_briefly(base_s, data, out, &args)
    };
    // The tiny BERT: hidden 32, 2 layers; pooler 32·32 + 32, classifier 2·32 + 2.
    let head_params = 32 * 32 + 32 + 2 * 32 + 2;
    let layer_params = 4 * (32 * 32 + 32) + 2 * (32 * 64) + 64 + 32 + 2 * (2 * 32);
    for (setting, trainable, trains) in [
        ("head", head_params, &["bert.pooler.", "classifier."][..]),
        (
            "last:1",
            head_params + layer_params,
            &["bert.pooler.", "classifier.", "bert.encoder.layer.1."][..],
        ),
    ] {
        let out = tmp.path().join(setting.replace(':', ""));
        let run = finetune(&out, &["--train-layers", setting]);
        let stderr = text(&run.stderr);
        assert!(run.status.success(), "{setting}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "train_layers {setting}: trainable params: {trainable} ||"
            )),
            "{setting}: {stderr}"
        );
        let trained = weights(&out);
        assert_eq!(
            trained.keys().collect::<Vec<_>>(),
            initial.keys().collect::<Vec<_>>()
        );
        for (key, before) in &initial {
            let trains = trains.iter().any(|prefix| key.starts_with(prefix));
            // Every trained matrix moves; LayerNorm biases and the like may move little, but
            // a frozen weight never moves at all.
            if !trains {
                assert!(trained[key] == *before, "{setting}: frozen {key} changed");
            } else if key.ends_with(".weight") && !key.contains("LayerNorm") {
                assert!(trained[key] != *before, "{setting}: {key} did not train");
            }
        }

        // Resuming with another setting would not continue the same run.
        let resume = finetune(&out, &["--resume", "--train-layers", "all"]);
        let stderr = text(&resume.stderr);
        assert!(!resume.status.success(), "{setting}: resumed with all");
        assert!(
            stderr.contains(&format!("train_layers `{setting}`"))
                && stderr.contains("--train-layers"),
            "{setting}: {stderr}"
        );
        assert!(
            weights(&out) == trained,
            "{setting}: a refused resume changed the model"
        );
    }

    let out = tmp.path().join("never-created");
    let too_many = finetune(&out, &["--train-layers", "last:3"]);
    let stderr = text(&too_many.stderr);
    assert!(!too_many.status.success());
    assert!(
        stderr.contains("--train-layers last:3: the model has 2 encoder layers; use last:1 to last:2, head or all"),
        "{stderr}"
    );
    let unknown = finetune(&out, &["--train-layers", "top"]);
    let stderr = text(&unknown.stderr);
    assert!(!unknown.status.success());
    assert!(
        stderr.contains("`top` is not a train-layers choice"),
        "{stderr}"
    );
    assert!(!out.exists(), "a refused run left {}", out.display());
}

/// The safetensors tensors of `path` by key.
fn tensors(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    safetensors::SafeTensors::deserialize(&bytes)
        .unwrap()
        .tensors()
        .into_iter()
        .map(|(key, view)| (key, view.data().to_vec()))
        .collect()
}

/// The probabilities `predict --format json` gives for `text` with `model`.
fn probabilities(model: &str, review: &str) -> Vec<f64> {
    let out = bertfit(&["predict", "--model", model, "--format", "json", review]);
    assert!(out.status.success(), "{}", text_of(&out));
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let scores = line["scores"].as_object().unwrap();
    scores.values().map(|v| v.as_f64().unwrap()).collect()
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// LoRA from the CLI: `finetune --lora-r` trains the adapters and the head only and writes a
/// PEFT adapter (no copy of the base); `evaluate` and `predict` read it onto its base; `merge`
/// writes a plain model that predicts the same, with the base's untouched weights bit for bit;
/// bad LoRA flags, a resume without them and a checkpoint without its adapter are refused.
#[test]
fn lora_finetunes_evaluates_predicts_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_model_dir(tmp.path());
    let data = write_reviews(tmp.path());
    let (base_s, data) = (base.to_str().unwrap(), data.to_str().unwrap());
    let out = tmp.path().join("lora");
    let lora = [
        "--lora-r",
        "4",
        "--lora-alpha",
        "16",
        "--lora-dropout",
        "0.1",
        "--learning-rate",
        "1e-2",
    ];
    let run = finetune_briefly(base_s, data, &out, &lora);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // query and value of 2 layers: A 4×32 + B 32×4 each; the classifier 2×32 + 2.
    let trainable = 2 * 2 * (4 * 32 + 32 * 4) + 2 * 32 + 2;
    assert!(
        stderr.contains(&format!(
            "LoRA r 4 alpha 16: trainable params: {trainable} ||"
        )),
        "{stderr}"
    );
    assert!(
        !out.join("model.safetensors").exists(),
        "a LoRA run saved the whole model"
    );
    let adapter: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(adapter["peft_type"], "LORA");
    assert_eq!(adapter["task_type"], "SEQ_CLS");
    assert_eq!(adapter["r"], 4);
    assert_eq!(adapter["lora_alpha"], 16.0);
    assert_eq!(adapter["lora_dropout"], 0.1);
    assert_eq!(
        adapter["target_modules"],
        serde_json::json!(["query", "value"])
    );
    assert_eq!(adapter["base_model_name_or_path"], base_s);
    let keys: Vec<String> = tensors(&out.join("adapter_model.safetensors"))
        .into_keys()
        .collect();
    assert_eq!(keys.len(), 2 * 2 * 2 + 2, "{keys:?}");
    assert!(keys.contains(&"base_model.model.classifier.weight".to_string()));

    let eval = bertfit(&[
        "evaluate",
        "--model",
        out.to_str().unwrap(),
        "--dataset",
        data,
        "--size",
        "8",
    ]);
    assert!(eval.status.success(), "{}", text_of(&eval));
    assert!(
        text(&eval.stdout).contains("eval_loss"),
        "{}",
        text_of(&eval)
    );

    let review = "a wonderful film with a great cast";
    let adapted = probabilities(out.to_str().unwrap(), review);
    let merged = tmp.path().join("merged");
    let merge = bertfit(&[
        "merge",
        out.to_str().unwrap(),
        "--output-dir",
        merged.to_str().unwrap(),
    ]);
    assert!(merge.status.success(), "{}", text_of(&merge));
    let from_merged = probabilities(merged.to_str().unwrap(), review);
    for (a, m) in adapted.iter().zip(&from_merged) {
        assert!(
            (a - m).abs() < 1e-5,
            "adapter {adapted:?} vs merged {from_merged:?}"
        );
    }
    let (before, after) = (weights(&base), weights(&merged));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (key, value) in &before {
        let adapted = key.contains(".attention.self.query.weight")
            || key.contains(".attention.self.value.weight")
            || key.starts_with("classifier.");
        if adapted {
            assert!(after[key] != *value, "{key} did not change");
        } else {
            assert!(
                after[key] == *value,
                "{key} changed; only the adapted weights may"
            );
        }
    }
    // Merging again over the result is refused unless asked.
    let again = bertfit(&[
        "merge",
        out.to_str().unwrap(),
        "--output-dir",
        merged.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--overwrite-output-dir"),
        "{}",
        text_of(&again)
    );

    // Resuming without the LoRA flags, or from a checkpoint that lost its adapter.
    let resume = finetune_briefly(base_s, data, &out, &["--resume"]);
    assert!(!resume.status.success());
    assert!(
        text(&resume.stderr).contains("resume with the same LoRA settings"),
        "{}",
        text_of(&resume)
    );
    let checkpoint = bertfit_train::list_checkpoints(&out)
        .unwrap()
        .pop()
        .unwrap()
        .1;
    std::fs::remove_file(checkpoint.join("adapter_model.safetensors")).unwrap();
    let mut with_flags = lora.to_vec();
    with_flags.push("--resume");
    let resume = finetune_briefly(base_s, data, &out, &with_flags);
    assert!(!resume.status.success());
    // The checkpoint's manifest lists the adapter: its loss is damage, named by file.
    assert!(
        text(&resume.stderr).contains("adapter_model.safetensors is missing")
            && text(&resume.stderr).contains("no intact checkpoint"),
        "{}",
        text_of(&resume)
    );

    // Bad flags fail before anything is written.
    let never = tmp.path().join("never-created");
    for (flags, expected) in [
        (
            &["--lora-r", "4", "--lora-target-modules", "query,q_lin"][..],
            "--lora-target-modules: LoRA: target module `q_lin` is not a linear layer of BertForSequenceClassification; its linear layers are dense, key, query, value",
        ),
        (
            &["--lora-r", "4", "--train-layers", "head"][..],
            "drop --train-layers",
        ),
        (
            &["--lora-r", "4", "--lora-dropout", "1"][..],
            "--lora-dropout 1: the dropout probability must be in [0, 1)",
        ),
        (&["--lora-alpha", "16"][..], "--lora-r"),
    ] {
        let run = finetune_briefly(base_s, data, &never, flags);
        assert!(!run.status.success(), "{flags:?}");
        assert!(
            text(&run.stderr).contains(expected),
            "{flags:?}: {}",
            text(&run.stderr)
        );
        assert!(!never.exists(), "{flags:?} left {}", never.display());
    }
}
