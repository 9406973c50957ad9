//! DistilBERT, RoBERTa, XLM-RoBERTa and ELECTRA against `transformers` on the committed tiny
//! checkpoints of `scripts/reference/gen_arch_fixtures.py` (see `fixtures/README.md`), loaded
//! through the one entry point, [`AutoModelForSequenceClassification`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use bertfit_model::{
    AutoConfig, AutoModelForSequenceClassification, BertForSequenceClassification, EncoderInput,
    ModelError, SequenceClassifier,
};
use burn::tensor::Device;
use common::*;

/// The four architectures' fixture folders, their `model_type` and HF class.
const ARCHITECTURES: [(&str, &str, &str); 4] = [
    (
        "distilbert",
        "distilbert",
        "DistilBertForSequenceClassification",
    ),
    ("roberta", "roberta", "RobertaForSequenceClassification"),
    (
        "xlm_roberta",
        "xlm-roberta",
        "XLMRobertaForSequenceClassification",
    ),
    ("electra", "electra", "ElectraForSequenceClassification"),
];

#[test]
fn every_architecture_matches_transformers_from_safetensors_and_bin() {
    let device = Device::flex();
    for (name, model_type, class) in ARCHITECTURES {
        let (model, report) =
            AutoModelForSequenceClassification::from_pretrained(fixture(name), &device)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.is_exact(), "{name}: {report}");
        assert!(report.file.ends_with("model.safetensors"));
        assert_eq!(model.model_type(), model_type);
        assert_eq!(model.architecture(), class);
        let reference = Reference::read(&fixture(&format!("{name}/reference.safetensors")));
        assert_classifier_matches_on(&model, &reference, &format!("{name}/safetensors"), &device);

        let config = AutoConfig::from_file(fixture(&format!("{name}/config.json"))).unwrap();
        let mut from_bin = AutoModelForSequenceClassification::new(&config, &device).unwrap();
        let report = from_bin
            .load_weights(fixture(&format!("{name}/pytorch_model.bin")))
            .unwrap();
        assert!(report.is_exact(), "{name}: {report}");
        assert_classifier_matches_on(&from_bin, &reference, &format!("{name}/bin"), &device);
    }
}

/// A saved tensor: HF key, shape, dtype name.
type SavedTensor = (String, Vec<usize>, String);

/// `keys.json`: what HF's own `save_pretrained` wrote for the fixture model (tensors, config
/// keys).
fn hf_saved_keys(name: &str) -> (Vec<SavedTensor>, Vec<String>) {
    let text = std::fs::read_to_string(fixture(&format!("{name}/keys.json"))).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tensors = json["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let shape = t[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            (
                t[0].as_str().unwrap().to_string(),
                shape,
                t[2].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let config_keys = json["config_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    (tensors, config_keys)
}

/// HF's dtype names (`torch.float32` is written `F32` by safetensors).
fn dtype_name(dtype: safetensors::Dtype) -> String {
    match dtype {
        safetensors::Dtype::F32 => "F32".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn every_architecture_saves_what_hf_save_pretrained_writes() {
    let device = Device::flex();
    for (name, model_type, class) in ARCHITECTURES {
        let (model, _) =
            AutoModelForSequenceClassification::from_pretrained(fixture(name), &device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save_pretrained(dir.path()).unwrap();

        let (hf_tensors, hf_config_keys) = hf_saved_keys(name);
        let ours: Vec<SavedTensor> = read_safetensors(&dir.path().join("model.safetensors"))
            .into_iter()
            .map(|(key, shape, _, dtype)| (key, shape, dtype_name(dtype)))
            .collect();
        let hf: Vec<SavedTensor> = hf_tensors
            .into_iter()
            .map(|(key, shape, dtype)| (key, shape, dtype.to_uppercase().replace("FLOAT32", "F32")))
            .collect();
        assert_eq!(
            ours, hf,
            "{name}: saved tensors differ from HF's save_pretrained"
        );

        let config: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
                .unwrap();
        let keys: Vec<String> = config.keys().cloned().collect();
        assert_eq!(keys, hf_config_keys, "{name}: config.json keys differ");
        assert_eq!(config["model_type"], model_type);
        assert_eq!(config["architectures"], serde_json::json!([class]));

        // And it loads back to the same logits, exactly.
        let (reloaded, report) =
            AutoModelForSequenceClassification::from_pretrained(dir.path(), &device).unwrap();
        assert!(report.is_exact(), "{name}: {report}");
        let reference = Reference::read(&fixture(&format!("{name}/reference.safetensors")));
        let logits = |m: &AutoModelForSequenceClassification| {
            values(
                &m.forward(reference_input(m, &reference, &device), None)
                    .logits,
            )
        };
        assert_eq!(logits(&model), logits(&reloaded), "{name}");
    }
}

#[test]
fn an_unsupported_model_type_names_itself_and_the_supported_ones() {
    let err =
        AutoModelForSequenceClassification::from_pretrained(fixture("other_arch"), &Device::flex())
            .unwrap_err();
    assert!(
        matches!(&err, ModelError::InvalidConfig { key, .. } if key == "model_type"),
        "{err:?}"
    );
    let text = err.to_string();
    for expected in [
        "gpt2",
        "bert",
        "distilbert",
        "roberta",
        "xlm-roberta",
        "electra",
    ] {
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn roberta_weights_under_a_bert_config_name_the_keys_and_the_fix() {
    // A BERT config of RoBERTa's shape: the keys are `roberta.*`, not `bert.*`.
    let dir = tempfile::tempdir().unwrap();
    let roberta = AutoConfig::from_file(fixture("roberta/config.json")).unwrap();
    let AutoConfig::Roberta(config) = roberta else {
        panic!("not a RoBERTa config")
    };
    let mut bert = config.0.clone();
    bert.pretrained.model_type = Some("bert".into());
    bert.pretrained.architectures = Some(vec!["BertForSequenceClassification".into()]);
    std::fs::write(
        dir.path().join("config.json"),
        bert.to_json_string().unwrap(),
    )
    .unwrap();
    std::fs::copy(
        fixture("roberta/model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    let err = AutoModelForSequenceClassification::from_pretrained(dir.path(), &Device::flex())
        .unwrap_err();
    assert!(
        matches!(err, ModelError::WrongArchitecture { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("not a BERT checkpoint")
            && text.contains("roberta.")
            && text.contains("RoBERTa")
            && text.contains("\"model_type\": \"roberta\""),
        "{text}"
    );

    // Same shapes, other names: BERT's own loader says the same.
    let err =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("RoBERTa"), "{err}");

    // A RoBERTa checkpoint whose config disagrees on a shape names the key and both shapes.
    let mut small = config.clone();
    small.0.intermediate_size += 1;
    std::fs::write(
        dir.path().join("config.json"),
        small.0.to_json_string().unwrap(),
    )
    .unwrap();
    let err = AutoModelForSequenceClassification::from_pretrained(dir.path(), &Device::flex())
        .unwrap_err();
    match &err {
        ModelError::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } => {
            assert!(key.contains("intermediate.dense"), "{key}");
            assert_ne!(expected, found);
        }
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
}

#[test]
fn inputs_are_checked_against_each_architectures_limits() {
    let device = Device::flex();
    let (model, _) =
        AutoModelForSequenceClassification::from_pretrained(fixture("roberta"), &device).unwrap();
    let spec = model.input_spec();
    // RoBERTa's positions start after the padding index: 2 fewer tokens than positions.
    let long = vec![5i64; spec.max_length + 1];
    let err = EncoderInput::from_slices(&long, None, None, [1, long.len()], spec, &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("max_position_embeddings - pad_token_id - 1"),
        "{err}"
    );
    let fits = vec![5i64; spec.max_length];
    assert!(EncoderInput::from_slices(&fits, None, None, [1, fits.len()], spec, &device).is_ok());
}
