//! LoRA adapters in PEFT's format against `peft` 0.21.2 on the tiny checkpoints
//! (`scripts/reference/gen_lora_fixtures.py`, see `fixtures/lora/README.md`): a Python-trained
//! adapter loads onto its base and gives PEFT's logits; merged, it gives the logits and the
//! weights of PEFT's `merge_and_unload`; and its errors name the tensor and the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::peft::{self, LoraConfig};
use bertfit_model::{AutoConfig, AutoModelForSequenceClassification, SequenceClassifier};
use burn::tensor::Device;
use common::*;

/// The LoRA fixtures and their base model folders.
const LORA: [(&str, &str); 5] = [
    ("bert", "tiny"),
    ("distilbert", "distilbert"),
    ("roberta", "roberta"),
    ("xlm_roberta", "xlm_roberta"),
    ("electra", "electra"),
];

fn logits(
    model: &AutoModelForSequenceClassification,
    reference: &Reference,
    device: &Device,
) -> Vec<f32> {
    let input = reference_input(model, reference, device);
    values(&model.forward(input, None).logits)
}

#[test]
fn python_trained_adapters_give_peft_logits_and_merge_like_merge_and_unload() {
    let device = Device::flex();
    for (arch, base) in LORA {
        let dir = fixture(&format!("lora/{arch}"));
        let reference = Reference::read(&dir.join("reference.safetensors"));
        let (model, _) =
            AutoModelForSequenceClassification::from_pretrained(fixture(base), &device).unwrap();
        let base_diff = max_abs_diff(
            &logits(&model, &reference, &device),
            &reference.f32("base_logits").values,
        );
        let (adapted, config) = peft::load_adapter(model, dir.join("adapter"))
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert_eq!(
            config.base_model_name_or_path.as_deref(),
            Some(&*format!("crates/model/tests/fixtures/{base}"))
        );
        let adapted_diff = max_abs_diff(
            &logits(&adapted, &reference, &device),
            &reference.f32("logits").values,
        );
        let merged = peft::merge_and_unload(adapted);
        let merged_diff = max_abs_diff(
            &logits(&merged, &reference, &device),
            &reference.f32("merged_logits").values,
        );
        // The merged weights are PEFT's, key for key.
        let out = tempfile::tempdir().unwrap();
        merged.save_pretrained(out.path()).unwrap();
        let ours = read_safetensors(&out.path().join("model.safetensors"));
        let theirs = read_safetensors(&dir.join("merged/model.safetensors"));
        let as_f32 = |bytes: &[u8]| -> Vec<f32> {
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        };
        let mut weight_diff = 0.0f32;
        for (key, shape, bytes, _) in &theirs {
            if key.ends_with("position_ids") {
                continue;
            }
            let (_, our_shape, our_bytes, _) = ours
                .iter()
                .find(|(k, ..)| k == key)
                .unwrap_or_else(|| panic!("{arch}: merged model lacks {key}"));
            assert_eq!(our_shape, shape, "{arch}: {key}");
            weight_diff = weight_diff.max(max_abs_diff(&as_f32(our_bytes), &as_f32(bytes)));
        }
        eprintln!(
            "{arch}: base logits {base_diff:.3e}, adapted logits {adapted_diff:.3e}, merged logits {merged_diff:.3e}, merged weights {weight_diff:.3e}"
        );
        for (what, diff) in [
            ("base logits", base_diff),
            ("adapted logits", adapted_diff),
            ("merged logits", merged_diff),
            ("merged weights", weight_diff),
        ] {
            assert!(diff < 1e-4, "{arch}: {what} differ by {diff}");
        }
        // The adapter moved the model: this is not a test of the base alone.
        let moved = max_abs_diff(
            &reference.f32("logits").values,
            &reference.f32("base_logits").values,
        );
        assert!(
            moved > 1e-3,
            "{arch}: the adapter changes the logits by only {moved}"
        );
    }
}

#[test]
fn an_adapter_saved_here_reads_back_as_the_python_one() {
    let device = Device::flex();
    let dir = fixture("lora/distilbert");
    let (model, _) =
        AutoModelForSequenceClassification::from_pretrained(fixture("distilbert"), &device)
            .unwrap();
    let (adapted, config) = peft::load_adapter(model, dir.join("adapter")).unwrap();
    let out = tempfile::tempdir().unwrap();
    peft::save_adapter(&adapted, &config, out.path()).unwrap();
    // The same tensors under the same keys (DistilBERT's pre_classifier is one of PEFT's
    // modules to save: `classifier` matches it as a suffix).
    let ours = read_safetensors(&out.path().join(peft::ADAPTER_WEIGHTS_FILE));
    let theirs = read_safetensors(&dir.join("adapter").join(peft::ADAPTER_WEIGHTS_FILE));
    let keys = |t: &[(String, Vec<usize>, Vec<u8>, safetensors::Dtype)]| {
        t.iter()
            .map(|(k, s, ..)| (k.clone(), s.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&ours), keys(&theirs));
    assert!(
        ours.iter()
            .any(|(k, ..)| k == "base_model.model.pre_classifier.weight")
    );
    for ((key, _, a, _), (_, _, b, _)) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "{key} round-trips bit for bit");
    }
    assert_eq!(LoraConfig::from_dir(out.path()).unwrap(), config);
}

#[test]
fn an_adapter_on_the_wrong_base_names_the_tensor_and_the_base() {
    let device = Device::flex();
    // BERT's adapter (query, key, value, dense) onto DistilBERT: no such modules.
    let (bert, _) =
        AutoModelForSequenceClassification::from_pretrained(fixture("distilbert"), &device)
            .unwrap();
    let err = peft::load_adapter(bert, fixture("lora/bert/adapter"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "target module `key` is not a linear layer of DistilBertForSequenceClassification"
        ),
        "{err}"
    );
    // A BERT of another width: the first adapter tensor names both shapes and the base.
    let mut config = AutoConfig::from_file(fixture("tiny/config.json")).unwrap();
    let AutoConfig::Bert(bert) = &mut config else {
        panic!("tiny is a BERT");
    };
    bert.hidden_size = 48;
    let wider = AutoModelForSequenceClassification::new(&config, &device).unwrap();
    let err = peft::load_adapter(wider, fixture("lora/bert/adapter"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit this model"), "{err}");
    assert!(err.contains("in the file but"), "{err}");
    assert!(
        err.contains("pass the base it was trained from (crates/model/tests/fixtures/tiny)"),
        "{err}"
    );
}
