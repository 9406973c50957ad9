//! Training behaviour: resumption, checkpoints, evaluation output, failure modes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::{BertConfig, BertForSequenceClassification};
use bertfit_train::{
    BatchPadding, EncodedDataset, Example, IntervalStrategy, Resume, TrainError, Trainer,
    TrainingConfig, files, list_checkpoints,
};
use burn::module::Param;
use burn::tensor::{Device, Tensor};
use common::*;

/// Dropout draws from the backend's process-wide RNG, which the trainer seeds per micro-step;
/// tests that train with dropout must not run concurrently or they perturb each other's masks.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tiny_model(dropout: f64) -> BertForSequenceClassification {
    let mut config = BertConfig::from_file(model_fixture("tiny/config.json")).unwrap();
    config.hidden_dropout_prob = dropout;
    config.attention_probs_dropout_prob = dropout;
    let mut model = BertForSequenceClassification::new(&config, &Device::flex()).unwrap();
    model
        .load_weights(model_fixture("tiny/model.safetensors"))
        .unwrap();
    model
}

/// A learnable toy task: label = which third of the vocabulary most tokens come from.
fn toy_data(n: usize, seed: u64) -> EncodedDataset {
    let mut rng = bertfit_train::SplitMix64::new(seed);
    let examples = (0..n)
        .map(|_| {
            let label = rng.below(3) as i64;
            let len = 4 + rng.below(10);
            let mut ids = vec![2u32];
            for _ in 0..len {
                let base = 5 + 30 * label as u32;
                ids.push(if rng.below(5) == 0 {
                    5 + rng.below(90) as u32
                } else {
                    base + rng.below(30) as u32
                });
            }
            ids.push(3);
            Example {
                token_type_ids: vec![0; ids.len()],
                input_ids: ids,
                label,
            }
        })
        .collect();
    EncodedDataset {
        examples,
        pad_token_id: 0,
    }
}

fn config(dir: &std::path::Path) -> TrainingConfig {
    TrainingConfig {
        output_dir: dir.to_path_buf(),
        learning_rate: 5e-3,
        warmup_ratio: 0.1,
        weight_decay: 0.01,
        num_train_epochs: 2.0,
        per_device_train_batch_size: 8,
        per_device_eval_batch_size: 16,
        gradient_accumulation_steps: 2,
        logging_steps: 1,
        save_strategy: IntervalStrategy::Steps,
        save_steps: 2,
        padding: BatchPadding::Longest,
        group_by_length: true,
        progress_bar: false,
        ..TrainingConfig::default()
    }
}

#[test]
fn interrupted_and_resumed_run_ends_with_identical_weights() {
    let _rng = rng_lock();
    let train = toy_data(60, 1);
    // 60 examples / batch 8 = 8 batches, 4 windows of 2 → 4 steps per epoch, 8 in all.
    let full_dir = tempfile::tempdir().unwrap();
    let full = Trainer::new(config(full_dir.path()), Device::flex())
        .unwrap()
        .train(tiny_model(0.1), &train, None, Resume::No)
        .unwrap();
    assert_eq!(full.state.global_step, 8);

    let dir = tempfile::tempdir().unwrap();
    let interrupted = Trainer::new(config(dir.path()), Device::flex())
        .unwrap()
        .stop_after_step(5)
        .train(tiny_model(0.1), &train, None, Resume::No)
        .unwrap();
    assert_eq!(interrupted.state.global_step, 5);
    let steps: Vec<usize> = list_checkpoints(dir.path())
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(steps, [2, 4]);
    for file in [
        files::OPTIMIZER,
        files::PARAM_IDS,
        files::TRAINER_STATE,
        files::TRAINING_CONFIG,
        "model.safetensors",
        "config.json",
    ] {
        assert!(
            dir.path().join("checkpoint-4").join(file).is_file(),
            "{file}"
        );
    }
    // A fresh model object: everything must come from the checkpoint.
    let resumed = Trainer::new(config(dir.path()), Device::flex())
        .unwrap()
        .train(tiny_model(0.0), &train, None, Resume::Latest)
        .unwrap();
    assert_eq!(resumed.state.global_step, 8);

    let losses = |s: &bertfit_train::TrainerState| -> Vec<f64> {
        s.log_history
            .iter()
            .filter_map(|r| r.get("loss").and_then(|l| l.as_f64()))
            .collect()
    };
    let a = read_tensors(&full_dir.path().join("model.safetensors"));
    let b = read_tensors(&dir.path().join("model.safetensors"));
    let (diff, key) = max_weight_diff(&a, &b);
    assert_eq!(diff, 0.0, "resumed weights differ at {key}");
    // The per-step losses of steps 5..8 agree too.
    assert_eq!(losses(&full.state)[4..], losses(&resumed.state)[4..]);
    // Dropout is on: a model trained without it ends elsewhere.
    let no_dropout_dir = tempfile::tempdir().unwrap();
    Trainer::new(config(no_dropout_dir.path()), Device::flex())
        .unwrap()
        .train(tiny_model(0.0), &train, None, Resume::No)
        .unwrap();
    let c = read_tensors(&no_dropout_dir.path().join("model.safetensors"));
    assert!(max_weight_diff(&a, &c).0 > 1e-6);
}

#[test]
fn evaluation_is_in_dataset_order_whatever_the_padding() {
    // Under dynamic padding the evaluator batches longest first; its scores must still come back
    // in dataset order and equal those of fixed-length batches in dataset order (the mask hides
    // padding, so only float noise separates them).
    let eval = toy_data(45, 3);
    let model = tiny_model(0.0);
    let dir = tempfile::tempdir().unwrap();
    let evaluate = |padding| {
        Trainer::new(
            TrainingConfig {
                padding,
                max_length: Some(16),
                per_device_eval_batch_size: 8,
                ..config(dir.path())
            },
            Device::flex(),
        )
        .unwrap()
        .evaluate(&model, &eval)
        .unwrap()
    };
    let (longest, fixed) = (
        evaluate(BatchPadding::Longest),
        evaluate(BatchPadding::MaxLength),
    );
    assert_eq!(longest.probabilities.len(), 45);
    let mut worst = 0.0f64;
    for (a, b) in longest.probabilities.iter().zip(&fixed.probabilities) {
        for (x, y) in a.iter().zip(b) {
            worst = worst.max((x - y).abs());
        }
    }
    assert!(worst < 1e-5, "probabilities differ by {worst}");
    assert!((longest.loss - fixed.loss).abs() < 1e-5);
    assert_eq!(longest.report.accuracy, fixed.report.accuracy);
    assert_eq!(longest.steps, 6);
    // And they are not a permutation: each row matches its own example, which a probability
    // spread this wide could not do by chance.
    let spread = fixed
        .probabilities
        .iter()
        .map(|p| p[0])
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    assert!(spread.1 - spread.0 > 1e-3, "{spread:?}");
}

#[test]
fn evaluation_learns_and_reports_hf_style_metrics() {
    let _rng = rng_lock();
    let (train, eval) = (toy_data(120, 2), toy_data(45, 3));
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(
        TrainingConfig {
            learning_rate: 1e-2,
            num_train_epochs: 3.0,
            gradient_accumulation_steps: 1,
            eval_strategy: IntervalStrategy::Epoch,
            save_strategy: IntervalStrategy::Epoch,
            save_total_limit: Some(1),
            load_best_model_at_end: true,
            metric_for_best_model: Some("accuracy".into()),
            ..config(dir.path())
        },
        Device::flex(),
    )
    .unwrap();
    let before = trainer.evaluate(&tiny_model(0.0), &eval).unwrap();
    let output = trainer
        .train(tiny_model(0.1), &train, Some(&eval), Resume::No)
        .unwrap();
    let after = trainer.evaluate(&output.model, &eval).unwrap();
    // The run's own evaluation of the returned (best) model is the one made now, to the bit.
    let reported = output
        .evaluation
        .as_ref()
        .expect("the best epoch was evaluated");
    assert_eq!(reported.loss.to_bits(), after.loss.to_bits());
    assert_eq!(reported.report.accuracy, after.report.accuracy);
    eprintln!(
        "accuracy before {:.3}, after {:.3}",
        before.report.accuracy, after.report.accuracy
    );
    assert!(after.report.accuracy > 0.8, "{}", after.report.table(&[]));
    assert!(after.loss < before.loss);

    let evals: Vec<&serde_json::Value> = output
        .state
        .log_history
        .iter()
        .filter(|r| r.get("eval_loss").is_some())
        .collect();
    assert_eq!(evals.len(), 3);
    for key in [
        "eval_loss",
        "eval_accuracy",
        "eval_precision",
        "eval_recall",
        "eval_specificity",
        "eval_f1",
        "eval_roc_auc",
        "eval_confusion_matrix",
        "eval_runtime",
        "eval_samples_per_second",
        "eval_steps_per_second",
        "epoch",
        "step",
    ] {
        assert!(evals[2].get(key).is_some(), "missing {key}");
    }
    for key in [
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_loss",
        "epoch",
    ] {
        assert!(output.metrics.get(key).is_some(), "missing {key}");
    }
    // The best epoch's model was reloaded: its accuracy is the best one logged.
    let best = evals
        .iter()
        .map(|r| r["eval_accuracy"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!((after.report.accuracy - best).abs() < 1e-12);
    // Only the best checkpoint survives save_total_limit = 1.
    assert_eq!(list_checkpoints(dir.path()).unwrap().len(), 1);
    // Every training record carries loss, learning rate, grad norm and throughput; 120 examples in
    // batches of 8 at 3 epochs make 45 steps.
    let train_records: Vec<&serde_json::Value> = output
        .state
        .log_history
        .iter()
        .filter(|r| r.get("loss").is_some())
        .collect();
    assert!(!train_records.is_empty());
    for record in &train_records {
        for key in ["loss", "grad_norm", "learning_rate", "epoch", "step"] {
            assert!(record.get(key).is_some(), "missing {key} in {record}");
        }
        let throughput = record["samples_per_second"].as_f64().unwrap();
        assert!(throughput.is_finite() && throughput > 0.0, "{record}");
    }
    assert_eq!(train_records.last().unwrap()["step"], 45);
    // metrics.jsonl has one line per record, and the final model is saved in HF layout.
    let lines = std::fs::read_to_string(dir.path().join(files::METRICS)).unwrap();
    assert_eq!(lines.lines().count(), output.state.log_history.len());
    assert!(
        dir.path().join("model.safetensors").is_file() && dir.path().join("config.json").is_file()
    );
    let table = after.report.table(&["a".into(), "b".into(), "c".into()]);
    assert!(
        table.contains("confusion matrix") && table.contains("specificity"),
        "{table}"
    );
}

#[test]
fn non_finite_loss_stops_with_the_step_and_keeps_checkpoints() {
    let _rng = rng_lock();
    let mut model = tiny_model(0.0);
    let bias = Tensor::<1>::from_floats([f32::NAN, 0.0, 0.0], &Device::flex());
    model.classifier.bias = Some(Param::from_tensor(bias));
    let dir = tempfile::tempdir().unwrap();
    let err = Trainer::new(config(dir.path()), Device::flex())
        .unwrap()
        .train(model, &toy_data(20, 4), None, Resume::No)
        .unwrap_err();
    assert!(
        matches!(err, TrainError::NonFiniteLoss { step: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("step 1"), "{err}");
}

/// A LoRA run stopped and resumed ends as the uninterrupted one, bit for bit: the checkpoint's
/// adapter goes onto the run's base, which stays frozen after the resume.
#[test]
fn interrupted_and_resumed_lora_run_ends_with_an_identical_adapter() {
    use bertfit_model::peft::{ADAPTER_WEIGHTS_FILE, LoraConfig};
    let _rng = rng_lock();
    let train = toy_data(60, 1);
    let lora_config = |dir: &std::path::Path| TrainingConfig {
        lora: Some(LoraConfig::new(
            4,
            8.0,
            vec!["query".into(), "value".into()],
        )),
        ..config(dir)
    };
    let full_dir = tempfile::tempdir().unwrap();
    let full = Trainer::new(lora_config(full_dir.path()), Device::flex())
        .unwrap()
        .train(tiny_model(0.1), &train, None, Resume::No)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    Trainer::new(lora_config(dir.path()), Device::flex())
        .unwrap()
        .stop_after_step(5)
        .train(tiny_model(0.1), &train, None, Resume::No)
        .unwrap();
    assert!(
        dir.path()
            .join("checkpoint-4")
            .join(ADAPTER_WEIGHTS_FILE)
            .is_file()
    );
    let resumed = Trainer::new(lora_config(dir.path()), Device::flex())
        .unwrap()
        .train(tiny_model(0.1), &train, None, Resume::Latest)
        .unwrap();
    assert_eq!(resumed.state.global_step, 8);
    let a = read_tensors(&full_dir.path().join(ADAPTER_WEIGHTS_FILE));
    let b = read_tensors(&dir.path().join(ADAPTER_WEIGHTS_FILE));
    let (diff, key) = max_weight_diff(&a, &b);
    assert_eq!(diff, 0.0, "resumed adapter differs at {key}");
    let losses = |s: &bertfit_train::TrainerState| -> Vec<f64> {
        s.log_history
            .iter()
            .filter_map(|r| r.get("loss").and_then(|l| l.as_f64()))
            .collect()
    };
    assert_eq!(losses(&full.state)[4..], losses(&resumed.state)[4..]);
}

#[test]
fn feature_extraction_trains_the_head_on_cached_encoder_outputs_as_without_the_cache() {
    use bertfit_train::TrainLayers;
    let _rng = rng_lock();
    let (train, eval) = (toy_data(60, 1), toy_data(20, 2));
    let head = |dir: &std::path::Path, feature_cache: bool| TrainingConfig {
        train_layers: TrainLayers::Head,
        feature_cache,
        learning_rate: 5e-2,
        eval_strategy: IntervalStrategy::Epoch,
        ..config(dir)
    };
    // Dropout 0.1: off in the frozen encoder, on in the head, whose masks must be the same.
    let run = |dir: &std::path::Path, feature_cache: bool, stop: Option<usize>, resume| {
        let trainer = Trainer::new(head(dir, feature_cache), Device::flex()).unwrap();
        let trainer = match stop {
            Some(step) => trainer.stop_after_step(step),
            None => trainer,
        };
        trainer
            .train(tiny_model(0.1), &train, Some(&eval), resume)
            .unwrap()
    };
    let (cached_dir, plain_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cached = run(cached_dir.path(), true, None, Resume::No);
    run(plain_dir.path(), false, None, Resume::No);
    let records = |dir: &std::path::Path, key: &str| -> Vec<f64> {
        std::fs::read_to_string(dir.join(files::METRICS))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()[key].as_f64())
            .collect()
    };
    // The cache covers the training and evaluation sets, once; the plain run has none.
    assert_eq!(
        records(cached_dir.path(), "feature_extraction_examples"),
        [80.0]
    );
    assert!(records(plain_dir.path(), "feature_extraction_examples").is_empty());
    // Per-step losses and per-epoch evaluations agree up to float rounding.
    for key in ["loss", "grad_norm", "eval_loss", "eval_accuracy"] {
        let (a, b) = (
            records(cached_dir.path(), key),
            records(plain_dir.path(), key),
        );
        assert_eq!(a.len(), b.len(), "{key}");
        assert!(!a.is_empty(), "{key}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{key}: {a:?} vs {b:?}");
        }
    }
    let initial = read_tensors(&model_fixture("tiny/model.safetensors"));
    let a = read_tensors(&cached_dir.path().join("model.safetensors"));
    let b = read_tensors(&plain_dir.path().join("model.safetensors"));
    let (diff, key) = max_weight_diff(&a, &b);
    assert!(
        diff < 1e-5,
        "cached and plain runs differ by {diff} at {key}"
    );
    for (key, (_, values)) in &a {
        let moved = values
            .iter()
            .zip(&initial[key].1)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        if key.starts_with("bert.encoder.") || key.starts_with("bert.embeddings.") {
            assert_eq!(moved, 0.0, "frozen {key} moved");
        } else if key.ends_with("weight") {
            assert!(moved > 1e-4, "head {key} did not train");
        }
    }
    // A resumed cached run extracts the same rows again and ends bit for bit where an
    // uninterrupted one does.
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), true, Some(5), Resume::No);
    let resumed = run(dir.path(), true, None, Resume::Latest);
    assert_eq!(resumed.state.global_step, cached.state.global_step);
    let c = read_tensors(&dir.path().join("model.safetensors"));
    let (diff, key) = max_weight_diff(&a, &c);
    assert_eq!(diff, 0.0, "resumed weights differ at {key}");
}

#[test]
fn bad_data_and_resume_requests_are_clear_errors() {
    let _rng = rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let trainer = Trainer::new(config(dir.path()), Device::flex()).unwrap();
    let mut data = toy_data(10, 5);
    data.examples[7].label = 3;
    let err = trainer
        .train(tiny_model(0.0), &data, None, Resume::No)
        .unwrap_err();
    assert!(err.to_string().contains("example 7 has label 3"), "{err}");

    let empty = EncodedDataset {
        examples: vec![],
        pad_token_id: 0,
    };
    let err = trainer
        .train(tiny_model(0.0), &empty, None, Resume::No)
        .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    let err = trainer
        .train(tiny_model(0.0), &toy_data(10, 6), None, Resume::Latest)
        .unwrap_err();
    assert!(err.to_string().contains("no checkpoint-*"), "{err}");

    std::fs::create_dir_all(dir.path().join("checkpoint-3")).unwrap();
    let err = trainer
        .train(
            tiny_model(0.0),
            &toy_data(10, 6),
            None,
            Resume::From(dir.path().join("checkpoint-3")),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not a complete bertfit checkpoint"),
        "{err}"
    );

    let err = Trainer::new(
        TrainingConfig {
            eval_strategy: IntervalStrategy::Epoch,
            ..config(dir.path())
        },
        Device::flex(),
    )
    .unwrap()
    .train(tiny_model(0.0), &toy_data(10, 6), None, Resume::No)
    .unwrap_err();
    assert!(err.to_string().contains("no evaluation set"), "{err}");
}
