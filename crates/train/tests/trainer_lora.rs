//! Five LoRA optimizer steps of every architecture against `transformers.Trainer` on a
//! `peft.get_peft_model` model (fixtures from `scripts/reference/gen_lora_fixtures.py`): the
//! run starts from PEFT's saved initial adapter (its random `lora_A`), then per-step loss,
//! gradient norm and learning rate, and the final adapter file (PEFT's keys, `lora_A`/`lora_B`
//! and the trained head) within 1e-4; the frozen base is not in it and comes back untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::peft::{self, ADAPTER_WEIGHTS_FILE, LoraConfig};
use bertfit_model::{
    AutoConfig, AutoModelForSequenceClassification, SequenceClassifier, trainable_parameters,
};
use bertfit_train::{BatchPadding, IntervalStrategy, Resume, Trainer, TrainingConfig};
use burn::module::Module;
use burn::tensor::Device;
use common::*;

/// Five LoRA steps of `trainer/<arch>-lora`; returns the largest differences (loss, grad norm,
/// adapter weight).
fn five_lora_steps(arch: &str, device: &Device) -> (f64, f64, f64) {
    let name = format!("{arch}-lora");
    let dir = fixture(&format!("trainer/{name}"));
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
    let (train, seq) = arch_trainer_data(&dir, &args);
    let base = if arch == "bert" { "tiny" } else { arch };
    let mut config = AutoConfig::from_file(model_fixture(&format!("{base}/config.json"))).unwrap();
    config.set_dropout(0.0);
    let mut model = AutoModelForSequenceClassification::new(&config, device).unwrap();
    model
        .load_weights(model_fixture(&format!("{base}/model.safetensors")))
        .unwrap();
    let (model, lora) = peft::load_adapter(model, dir.join("adapter_init")).unwrap();
    let lora_args = &args["lora"];
    assert_eq!(lora.r, lora_args["r"].as_u64().unwrap() as usize);
    assert_eq!(
        lora.scaling(),
        lora_args["scaling"].as_f64().unwrap(),
        "{name}"
    );
    // The same scalars train as in PEFT (the adapters and the head).
    let (trainable, _) =
        trainable_parameters(&model.clone().to_device(&device.clone().autodiff()).train());
    assert_eq!(
        trainable,
        args["trainable_numel"].as_u64().unwrap() as usize,
        "{name}: trainable parameters"
    );

    let output_dir = tempfile::tempdir().unwrap();
    let training = TrainingConfig {
        output_dir: output_dir.path().to_path_buf(),
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
        lora: Some(lora.clone()),
        ..TrainingConfig::default()
    };
    let output = Trainer::new(training, device.clone())
        .unwrap()
        .train(model, &train, None, Resume::No)
        .unwrap();

    let (ours, log) = logged_steps(&output.state, &dir);
    let expected = log["log_history"].as_array().unwrap();
    assert_eq!(ours.len(), 5, "{name}");
    let (mut loss_diff, mut norm_diff) = (0.0f64, 0.0f64);
    for (step, (ours, theirs)) in ours.iter().zip(expected).enumerate() {
        for key in ["loss", "grad_norm", "learning_rate"] {
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
    // The output is an adapter directory, not a model: PEFT's keys, nothing of the base.
    assert!(!output_dir.path().join("model.safetensors").exists());
    let saved = LoraConfig::from_dir(output_dir.path()).unwrap();
    assert_eq!(saved, lora);
    let ours = read_tensors(&output_dir.path().join(ADAPTER_WEIGHTS_FILE));
    let theirs = read_tensors(&dir.join("adapter_final").join(ADAPTER_WEIGHTS_FILE));
    let initial = read_tensors(&dir.join("adapter_init").join(ADAPTER_WEIGHTS_FILE));
    let (moved, _) = max_weight_diff(&initial, &theirs);
    let (diff, key) = max_weight_diff(&ours, &theirs);
    eprintln!(
        "{name}: 5 LoRA Trainer steps, max diff loss {loss_diff:.3e}, grad_norm {norm_diff:.3e}, \
         adapter weights {diff:.3e} (at {key}); PEFT moved them by up to {moved:.3e}"
    );
    assert!(
        moved > 1e-4,
        "{name}: the reference run must move the adapter"
    );
    assert!(
        diff < 1e-4,
        "{name}: adapter weights differ by {diff} at {key}"
    );
    // The returned model still has its adapters; merged, it keeps the base's keys.
    assert!(peft::has_adapters(&output.model));
    let merged = peft::merge_and_unload(output.model);
    let keys = merged.hf_state_dict_shapes();
    assert!(keys.iter().all(|(k, _)| !k.contains("lora")), "{keys:?}");
    (loss_diff, norm_diff, diff)
}

#[test]
fn five_lora_steps_of_every_architecture_match_peft_and_hf_trainer() {
    for arch in ["bert", "distilbert", "roberta", "xlm_roberta", "electra"] {
        five_lora_steps(arch, &Device::flex());
    }
}
