//! Five optimizer steps against `transformers.Trainer` (fixtures from `gen_fixtures.py`):
//! per-step loss, gradient norm and learning rate, and the final weights, within 1e-4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::{BertConfig, BertForSequenceClassification};
use bertfit_train::{BatchPadding, IntervalStrategy, Resume, Trainer, TrainingConfig};
use burn::tensor::Device;
use common::*;

fn run(scenario: &str, batch_size: usize, accumulation: usize) {
    let dir = fixture(&format!("trainer/{scenario}"));
    let train = trainer_examples(&dir);
    let mut config = BertConfig::from_file(model_fixture("tiny/config.json")).unwrap();
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
    let device = Device::flex();
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

    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("log.json")).unwrap()).unwrap();
    let expected = log["log_history"].as_array().unwrap();
    let ours: Vec<&serde_json::Value> = output
        .state
        .log_history
        .iter()
        .filter(|r| r.get("loss").is_some())
        .collect();
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
}

type Weights = std::collections::BTreeMap<String, (Vec<usize>, Vec<f64>)>;

fn without_key_biases(weights: &Weights) -> Weights {
    weights
        .iter()
        .filter(|(k, _)| !k.ends_with("attention.self.key.bias"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn key_bias_gradient_is_zero() {
    use bertfit_train::{BatchPadding, HostBatch};
    use burn::tensor::Tensor;
    let device = Device::flex().autodiff();
    let mut config = BertConfig::from_file(model_fixture("tiny/config.json")).unwrap();
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
    let mut model = BertForSequenceClassification::new(&config, &device).unwrap();
    model
        .load_weights(model_fixture("tiny/model.safetensors"))
        .unwrap();
    let train = trainer_examples(&fixture("trainer/accum1"));
    let examples: Vec<_> = train.examples.iter().take(4).collect();
    let batch = HostBatch::collate(&examples, BatchPadding::MaxLength, 16, 0);
    let (input, labels) = batch.to_tensors(&model, &device).unwrap();
    let grads = model.forward(input, Some(labels)).loss.unwrap().backward();
    let norm = |t: Tensor<1>| t.square().sum().sqrt().into_scalar::<f64>();
    let attention = &model.bert.encoder.layer[0].attention.self_attention;
    let key = norm(
        attention
            .key
            .bias
            .as_ref()
            .unwrap()
            .val()
            .grad(&grads)
            .unwrap(),
    );
    let query = norm(
        attention
            .query
            .bias
            .as_ref()
            .unwrap()
            .val()
            .grad(&grads)
            .unwrap(),
    );
    eprintln!("gradient norms: key bias {key:.3e}, query bias {query:.3e}");
    assert!(query > 1e-3, "query bias gradient {query}");
    assert!(
        key < query * 1e-5,
        "key bias gradient {key} is not negligible next to {query}"
    );
}

#[test]
fn five_steps_match_hf_trainer() {
    run("accum1", 4, 1);
}

#[test]
fn five_steps_with_gradient_accumulation_match_hf_trainer() {
    run("accum2", 2, 2);
}
