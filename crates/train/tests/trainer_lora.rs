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
use bertfit_train::{Resume, Trainer, TrainingConfig};
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
        lora: Some(lora.clone()),
        ..arch_fixture_config(&args, output_dir.path(), seq)
    };
    let output = Trainer::new(training, device.clone())
        .unwrap()
        .train(model, &train, None, Resume::No)
        .unwrap();
    let (loss_diff, norm_diff) = assert_steps_match(&name, &output.state, &dir);
    // The output is an adapter directory, not a model: PEFT's keys, nothing of the base.
    assert!(!output_dir.path().join("model.safetensors").exists());
    let saved = LoraConfig::from_dir(output_dir.path()).unwrap();
    assert_eq!(saved, lora);
    let ours = read_tensors(&output_dir.path().join(ADAPTER_WEIGHTS_FILE));
    let theirs = read_tensors(&dir.join("adapter_final").join(ADAPTER_WEIGHTS_FILE));
    let initial = read_tensors(&dir.join("adapter_init").join(ADAPTER_WEIGHTS_FILE));
    let diff = assert_final_weights(
        &format!(
            "{name}: 5 LoRA Trainer steps, max diff loss {loss_diff:.3e}, grad_norm {norm_diff:.3e}, adapter weights"
        ),
        &initial,
        &ours,
        &theirs,
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
        let (loss, norm, weights) = five_lora_steps(arch, &Device::flex());
        eprintln!(
            "{arch}: 5 LoRA steps against PEFT + Trainer, max diff loss {loss:.3e}, grad norm {norm:.3e}, adapter weights {weights:.3e}"
        );
    }
}
