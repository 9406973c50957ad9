//! Shared helpers for the train integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bertfit_model::{BertConfig, BertForSequenceClassification};
use bertfit_train::{
    BatchPadding, EncodedDataset, Example, IntervalStrategy, Resume, Trainer, TrainingConfig,
};
use burn::tensor::Device;

/// `crates/train/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../train/tests/fixtures")
        .join(name)
}

/// The optimizer steps' log records of a run (those with a `loss`) and the reference run's
/// `log.json` in the fixture `dir`.
pub fn logged_steps(
    state: &bertfit_train::TrainerState,
    dir: &Path,
) -> (Vec<serde_json::Value>, serde_json::Value) {
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("log.json")).unwrap()).unwrap();
    let ours = state
        .log_history
        .iter()
        .filter(|r| r.get("loss").is_some())
        .cloned()
        .collect();
    (ours, log)
}

/// `crates/model/tests/fixtures/<name>` (the tiny model lives there).
pub fn model_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(name)
}

/// Every tensor of a safetensors file, as f64 values (floats) by name, with shapes.
pub fn read_tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f64>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
                    .collect(),
                safetensors::Dtype::I64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                other => panic!("unexpected dtype {other:?}"),
            };
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

/// The HF Trainer fixture's examples, unpadded (real tokens per the attention mask).
pub fn trainer_examples(dir: &Path) -> EncodedDataset {
    let t = read_tensors(&dir.join("data.safetensors"));
    let (shape, ids) = &t["input_ids"];
    let mask = &t["attention_mask"].1;
    let types = &t["token_type_ids"].1;
    let labels = &t["labels"].1;
    let seq = shape[1];
    let examples = (0..shape[0])
        .map(|row| {
            let real: Vec<usize> = (0..seq).filter(|&j| mask[row * seq + j] == 1.0).collect();
            Example {
                input_ids: real.iter().map(|&j| ids[row * seq + j] as u32).collect(),
                token_type_ids: real.iter().map(|&j| types[row * seq + j] as u32).collect(),
                label: labels[row] as i64,
            }
        })
        .collect();
    EncodedDataset {
        examples,
        pad_token_id: 0,
    }
}

/// Largest absolute difference between two tensors maps over their common keys; panics when
/// the key sets differ.
pub fn max_weight_diff(
    a: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
    b: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
) -> (f64, String) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut worst = (0.0, String::new());
    for (key, (shape, values)) in a {
        let (other_shape, other) = &b[key];
        assert_eq!(shape, other_shape, "{key}");
        for (x, y) in values.iter().zip(other) {
            if (x - y).abs() > worst.0 {
                worst = ((x - y).abs(), key.clone());
            }
        }
    }
    worst
}

/// Trains the tiny fixture model for the five optimizer steps of `trainer/<scenario>` on
/// `device` and asserts per-step loss, gradient norm, learning rate and the final weights match
/// `transformers.Trainer` within 1e-4; returns the final weights.
pub fn five_hf_trainer_steps(
    scenario: &str,
    batch_size: usize,
    accumulation: usize,
    device: &Device,
) -> Weights {
    let dir = fixture(&format!("trainer/{scenario}"));
    let train = trainer_examples(&dir);
    let mut config = BertConfig::from_file(model_fixture("tiny/config.json")).unwrap();
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
    let device = device.clone();
    let mut model = BertForSequenceClassification::new(&config, &device).unwrap();
    model
        .load_weights(model_fixture("tiny/model.safetensors"))
        .unwrap();

    let output_dir = tempfile::tempdir().unwrap();
    let training = TrainingConfig {
        output_dir: output_dir.path().to_path_buf(),
        learning_rate: 1e-2,
        warmup_steps: 2,
        weight_decay: 0.01,
        max_grad_norm: 2.0,
        per_device_train_batch_size: batch_size,
        gradient_accumulation_steps: accumulation,
        max_steps: 5,
        logging_steps: 1,
        eval_strategy: IntervalStrategy::No,
        save_strategy: IntervalStrategy::No,
        padding: BatchPadding::MaxLength,
        max_length: Some(16),
        shuffle: false,
        progress_bar: false,
        ..TrainingConfig::default()
    };
    let output = Trainer::new(training, device)
        .unwrap()
        .train(model, &train, None, Resume::No)
        .unwrap();

    let (ours, log) = logged_steps(&output.state, &dir);
    let expected = log["log_history"].as_array().unwrap();
    assert_eq!(ours.len(), 5);
    for (step, (ours, theirs)) in ours.iter().zip(expected).enumerate() {
        for key in ["loss", "grad_norm", "learning_rate", "epoch"] {
            let (a, b) = (ours[key].as_f64().unwrap(), theirs[key].as_f64().unwrap());
            eprintln!(
                "{scenario} step {}: {key} ours {a:.8} hf {b:.8} diff {:.2e}",
                step + 1,
                (a - b).abs()
            );
            assert!(
                (a - b).abs() < 1e-4,
                "{scenario} step {}: {key} {a} vs {b}",
                step + 1
            );
        }
        assert_eq!(ours["step"], theirs["step"]);
    }
    let train_loss = output.metrics["train_loss"].as_f64().unwrap();
    let hf_train_loss = log["train_summary"]["train_loss"].as_f64().unwrap();
    assert!(
        (train_loss - hf_train_loss).abs() < 1e-4,
        "{train_loss} vs {hf_train_loss}"
    );

    let final_weights = read_tensors(&output_dir.path().join("model.safetensors"));
    let hf_weights = read_tensors(&dir.join("final.safetensors"));
    let initial = read_tensors(&model_fixture("tiny/model.safetensors"));
    let (moved, _) = max_weight_diff(&initial, &hf_weights);
    // The attention key biases are left out: the loss does not depend on them (adding b_k to
    // every key adds q·b_k to a whole softmax row), so their gradient is rounding noise, which
    // Adam normalises into lr-sized steps in arbitrary directions, in PyTorch as in burn.
    // `key_bias_gradient_is_zero` below checks that premise.
    let (diff, key) = max_weight_diff(
        &without_key_biases(&final_weights),
        &without_key_biases(&hf_weights),
    );
    eprintln!(
        "{scenario}: final weights max-abs diff {diff:.3e} (at {key}); HF moved them by up to {moved:.3e}"
    );
    assert!(
        moved > 1e-2,
        "the reference run must move the weights well past the tolerance"
    );
    assert!(
        diff < 1e-4,
        "{scenario}: final weights differ by {diff} at {key}"
    );
    final_weights
}

/// Tensors by name: shape and values.
pub type Weights = std::collections::BTreeMap<String, (Vec<usize>, Vec<f64>)>;

/// `weights` without the attention key biases (their gradient is rounding noise).
pub fn without_key_biases(weights: &Weights) -> Weights {
    weights
        .iter()
        .filter(|(k, _)| !k.ends_with("attention.self.key.bias"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The new architectures' Trainer fixtures (`trainer/<name>`, starting from the model fixture of
/// the same name): DistilBERT, RoBERTa, XLM-RoBERTa, ELECTRA.
pub const ARCHITECTURES: [&str; 4] = ["distilbert", "roberta", "xlm_roberta", "electra"];

/// The examples of the architecture Trainer fixture `dir` (unpadded, its pad id) and the
/// sequence length it padded to.
pub fn arch_trainer_data(dir: &Path, args: &serde_json::Value) -> (EncodedDataset, usize) {
    let pad = args["special_ids"]["pad"].as_u64().unwrap() as u32;
    let t = read_tensors(&dir.join("data.safetensors"));
    let (shape, ids) = &t["input_ids"];
    let mask = &t["attention_mask"].1;
    let seq = shape[1];
    let examples = (0..shape[0])
        .map(|row| {
            let real: Vec<usize> = (0..seq).filter(|&j| mask[row * seq + j] == 1.0).collect();
            let types = t.get("token_type_ids").map(|(_, types)| types);
            Example {
                input_ids: real.iter().map(|&j| ids[row * seq + j] as u32).collect(),
                token_type_ids: real
                    .iter()
                    .map(|&j| types.map_or(0, |types| types[row * seq + j] as u32))
                    .collect(),
                label: t["labels"].1[row] as i64,
            }
        })
        .collect();
    let train = EncodedDataset {
        examples,
        pad_token_id: pad,
    };

    (train, seq)
}

/// The settings of the architecture Trainer fixtures (`args.json`): five steps of batch 4 at
/// its learning rate, decay and clipping, no warm-up, in order, padded to `seq`, into
/// `output_dir`.
pub fn arch_fixture_config(
    args: &serde_json::Value,
    output_dir: &Path,
    seq: usize,
) -> TrainingConfig {
    TrainingConfig {
        output_dir: output_dir.to_path_buf(),
        learning_rate: args["learning_rate"].as_f64().unwrap(),
        warmup_steps: 0,
        weight_decay: args["weight_decay"].as_f64().unwrap(),
        max_grad_norm: args["max_grad_norm"].as_f64().unwrap(),
        per_device_train_batch_size: 4,
        max_steps: 5,
        logging_steps: 1,
        eval_strategy: IntervalStrategy::No,
        save_strategy: IntervalStrategy::No,
        padding: BatchPadding::MaxLength,
        max_length: Some(seq),
        shuffle: false,
        progress_bar: false,
        ..TrainingConfig::default()
    }
}

/// Asserts the five logged steps of a run match the reference `log.json` of the fixture `dir`
/// (loss, grad norm, learning rate, epoch within 1e-4); returns the largest loss and grad-norm
/// differences.
pub fn assert_steps_match(
    name: &str,
    state: &bertfit_train::TrainerState,
    dir: &Path,
) -> (f64, f64) {
    let (ours, log) = logged_steps(state, dir);
    let expected = log["log_history"].as_array().unwrap();
    assert_eq!(ours.len(), 5, "{name}");
    let (mut loss_diff, mut norm_diff) = (0.0f64, 0.0f64);
    for (step, (ours, theirs)) in ours.iter().zip(expected).enumerate() {
        for key in ["loss", "grad_norm", "learning_rate", "epoch"] {
            let (a, b) = (ours[key].as_f64().unwrap(), theirs[key].as_f64().unwrap());
            assert!(
                (a - b).abs() < 1e-4,
                "{name} step {}: {key} {a} vs {b}",
                step + 1
            );
            match key {
                "loss" => loss_diff = loss_diff.max((a - b).abs()),
                "grad_norm" => norm_diff = norm_diff.max((a - b).abs()),
                _ => {}
            }
        }
    }
    (loss_diff, norm_diff)
}

/// Trains the `name` fixture model (through `AutoModelForSequenceClassification`, dropout off as
/// in the fixture) for the five steps of `trainer/<name>` on `device` at fine-tuning settings
/// (lr 1e-4, no warm-up, clipping at 1.0), and asserts per-step loss, gradient norm, learning
/// rate and the final weights match `transformers.Trainer` within 1e-4; returns the largest
/// differences (loss, grad norm, weight).
pub fn five_arch_trainer_steps(
    name: &str,
    device: &Device,
    feature_cache: bool,
) -> (f64, f64, f64) {
    use bertfit_model::{
        AutoConfig, AutoModelForSequenceClassification, Freezing, SequenceClassifier, TrainLayers,
        trainable_parameters,
    };
    use burn::module::Module;
    let dir = fixture(&format!("trainer/{name}"));
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
    let (train, seq) = arch_trainer_data(&dir, &args);

    // `<arch>` or, with part of the model frozen, `<arch>-<setting>`.
    let arch = name.split_once('-').map_or(name, |(arch, _)| arch);
    let train_layers: TrainLayers = args["train_layers"].as_str().unwrap().parse().unwrap();
    let freeze_embeddings = args["freeze_embeddings"].as_bool().unwrap();
    let mut config = AutoConfig::from_file(model_fixture(&format!("{arch}/config.json"))).unwrap();
    config.set_dropout(0.0);
    let mut model = AutoModelForSequenceClassification::new(&config, device).unwrap();
    model
        .load_weights(model_fixture(&format!("{arch}/model.safetensors")))
        .unwrap();
    // The same parameters train as in the reference: as many scalars of the same total.
    let freezing = Freezing {
        train_layers,
        freeze_embeddings,
    };
    let frozen = freezing
        .apply(
            model.clone().to_device(&device.clone().autodiff()).train(),
            model.encoder_parts(),
        )
        .unwrap();
    assert_eq!(
        trainable_parameters(&frozen),
        (
            args["trainable_numel"].as_u64().unwrap() as usize,
            args["all_numel"].as_u64().unwrap() as usize
        ),
        "{name}: trainable / all parameters"
    );
    let output_dir = tempfile::tempdir().unwrap();
    let training = TrainingConfig {
        train_layers,
        freeze_embeddings,
        feature_cache,
        ..arch_fixture_config(&args, output_dir.path(), seq)
    };
    let output = Trainer::new(training, device.clone())
        .unwrap()
        .train(model, &train, None, Resume::No)
        .unwrap();

    let (loss_diff, norm_diff) = assert_steps_match(name, &output.state, &dir);
    let final_weights = read_tensors(&output_dir.path().join("model.safetensors"));
    let hf_weights = read_tensors(&dir.join("final.safetensors"));
    let initial = read_tensors(&model_fixture(&format!("{arch}/model.safetensors")));
    // Frozen weights come back bit for bit: no update, no weight decay.
    for key in args["frozen_params"].as_array().unwrap() {
        let key = key.as_str().unwrap();
        assert!(
            final_weights[key] == initial[key],
            "{name}: frozen {key} changed"
        );
    }
    // Key biases: their gradient is rounding noise (see `five_hf_trainer_steps`).
    let diff = assert_final_weights(
        &format!(
            "{name}: 5 Trainer steps, max diff loss {loss_diff:.3e}, grad_norm {norm_diff:.3e}, final weights"
        ),
        &without_key_biases(&initial),
        &without_key_biases(&final_weights),
        &without_key_biases(&hf_weights),
    );
    (loss_diff, norm_diff, diff)
}

/// Asserts the reference run moved its weights from `initial` by more than 1e-4 and `ours`
/// match its `theirs` within 1e-4 (the same keys); prints `what` with both figures and
/// returns the largest difference.
pub fn assert_final_weights(
    what: &str,
    initial: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
    ours: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
    theirs: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
) -> f64 {
    let (moved, _) = max_weight_diff(initial, theirs);
    let (diff, key) = max_weight_diff(ours, theirs);
    eprintln!("{what} {diff:.3e} (at {key}); the reference moved them by up to {moved:.3e}");
    assert!(moved > 1e-4, "{what}: the reference run must move them");
    assert!(diff < 1e-4, "{what}: differ by {diff} at {key}");
    diff
}
