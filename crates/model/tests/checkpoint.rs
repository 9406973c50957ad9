//! Saving, reloading, legacy checkpoint layouts and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::{BertConfig, BertForSequenceClassification, ModelError};
use burn::tensor::Device;
use common::*;

fn tiny() -> BertForSequenceClassification {
    BertForSequenceClassification::from_pretrained(fixture("tiny"), &Device::flex())
        .unwrap()
        .0
}

fn logits(model: &BertForSequenceClassification) -> Vec<f32> {
    let reference = Reference::read(&fixture("tiny/reference.safetensors"));
    values(
        &model
            .forward(reference.input(&model.config, &Device::flex()), None)
            .logits,
    )
}

#[test]
fn save_then_load_reproduces_logits_exactly_with_hf_keys() {
    let model = tiny();
    let dir = tempfile::tempdir().unwrap();
    model.save_pretrained(dir.path()).unwrap();

    // Same tensors under the same names as transformers' save_pretrained wrote them.
    let saved = read_safetensors(&dir.path().join("model.safetensors"));
    let original = read_safetensors(&fixture("tiny/model.safetensors"));
    let keys: Vec<(String, Vec<usize>)> =
        serde_json::from_str(&std::fs::read_to_string(fixture("tiny/keys.json")).unwrap()).unwrap();
    let saved_keys: Vec<(String, Vec<usize>)> =
        saved.iter().map(|t| (t.0.clone(), t.1.clone())).collect();
    assert_eq!(saved_keys, keys);
    assert_eq!(model.hf_state_dict_shapes(), keys);
    for (ours, theirs) in saved.iter().zip(&original) {
        assert_eq!(ours.0, theirs.0);
        assert_eq!(
            ours.2, theirs.2,
            "bytes of `{}` changed in a load/save round trip",
            ours.0
        );
    }
    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(metadata.metadata().as_ref().unwrap()["format"], "pt");

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["2"], "pos");
    assert_eq!(config["label2id"]["neu"], 1);
    // transformers 5 writes no `num_labels`: `id2label` says it.
    assert!(config.get("num_labels").is_none());
    assert_eq!(
        config["transformers_version"], "5.24.0",
        "unknown keys are kept"
    );

    let (reloaded, report) =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap();
    assert!(report.is_exact(), "{report}");
    assert_eq!(logits(&reloaded), logits(&model));
    // No temporary files are left behind.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["config.json", "model.safetensors"]);
}

#[test]
fn base_model_checkpoint_with_legacy_names_loads_with_report() {
    // Rewrite the tiny checkpoint the way old/TF-converted base-model files look: no `bert.`
    // prefix, LayerNorm gamma/beta, a position_ids buffer, pretraining heads, no classifier.
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = Vec::new();
    for (name, shape, bytes, dtype) in read_safetensors(&fixture("tiny/model.safetensors")) {
        if name.starts_with("classifier.") {
            continue;
        }
        let name = name
            .trim_start_matches("bert.")
            .replace("LayerNorm.weight", "LayerNorm.gamma")
            .replace("LayerNorm.bias", "LayerNorm.beta");
        tensors.push((name, shape, bytes, dtype));
    }
    let ids: Vec<u8> = (0..64i64).flat_map(|i| i.to_le_bytes()).collect();
    tensors.push((
        "embeddings.position_ids".into(),
        vec![1, 64],
        ids,
        safetensors::Dtype::I64,
    ));
    tensors.push((
        "cls.predictions.bias".into(),
        vec![99],
        vec![0; 99 * 4],
        safetensors::Dtype::F32,
    ));
    tensors.push((
        "lm_head.extra".into(),
        vec![2],
        vec![0; 8],
        safetensors::Dtype::F32,
    ));
    write_safetensors(&dir.path().join("model.safetensors"), &tensors);
    std::fs::copy(fixture("tiny/config.json"), dir.path().join("config.json")).unwrap();

    let (model, report) =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap();
    assert_eq!(report.missing, ["classifier.bias", "classifier.weight"]);
    assert_eq!(report.unexpected, ["lm_head.extra"]);
    assert_eq!(
        report.ignored,
        ["cls.predictions.bias", "embeddings.position_ids"]
    );
    assert_eq!(report.loaded, 39);
    let text = report.to_string();
    assert!(
        text.contains("classifier.weight") && text.contains("lm_head.extra"),
        "{text}"
    );

    // The encoder is the reference's: the pooler output matches transformers'.
    let reference = Reference::read(&fixture("tiny/reference.safetensors"));
    let output = model.forward(reference.input(&model.config, &Device::flex()), None);
    let diff = max_abs_diff(
        &values(&output.pooler_output),
        &reference.f32("pooler_output").values,
    );
    assert!(diff < 1e-4, "pooler differs by {diff}");
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap_err();
    assert!(
        matches!(&err, ModelError::Io { path, .. } if path.ends_with("config.json")),
        "{err:?}"
    );
    assert!(err.to_string().contains("config.json"), "{err}");

    std::fs::copy(fixture("tiny/config.json"), dir.path().join("config.json")).unwrap();
    let err =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap_err();
    assert!(matches!(err, ModelError::NoCheckpoint { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("model.safetensors or pytorch_model.bin"),
        "{err}"
    );

    let mut model = tiny();
    let err = model
        .load_weights(dir.path().join("nope.safetensors"))
        .unwrap_err();
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
}

#[test]
fn malformed_config_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        "{\"hidden_size\": 32,\n \"vocab_size\": }",
    )
    .unwrap();
    let err =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap_err();
    assert!(matches!(err, ModelError::ConfigParse { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("config.json") && text.contains("line 2"),
        "{text}"
    );
}

#[test]
fn truncated_safetensors_is_a_read_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("tiny/model.safetensors")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    std::fs::copy(fixture("tiny/config.json"), dir.path().join("config.json")).unwrap();
    let err =
        BertForSequenceClassification::from_pretrained(dir.path(), &Device::flex()).unwrap_err();
    assert!(matches!(err, ModelError::CheckpointRead { .. }), "{err:?}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    std::fs::write(dir.path().join("pytorch_model.bin"), b"not a pickle").unwrap();
    let mut model = tiny();
    let err = model
        .load_weights(dir.path().join("pytorch_model.bin"))
        .unwrap_err();
    assert!(matches!(err, ModelError::CheckpointRead { .. }), "{err:?}");
    assert!(err.to_string().contains("pytorch_model.bin"), "{err}");
}

#[test]
fn shape_mismatch_names_key_and_both_shapes_and_leaves_model_intact() {
    let mut config = BertConfig::from_file(fixture("tiny/config.json")).unwrap();
    config.intermediate_size = 40;
    let mut model = BertForSequenceClassification::new(&config, &Device::flex()).unwrap();
    let before = model.hf_state_dict_shapes();
    let err = model
        .load_weights(fixture("tiny/model.safetensors"))
        .unwrap_err();
    match &err {
        ModelError::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } => {
            assert!(
                key.contains("intermediate.dense") || key.contains("output.dense.weight"),
                "{key}"
            );
            assert!(
                expected.contains(&40) && found.contains(&37),
                "{expected:?} vs {found:?}"
            );
        }
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("[40, 32]") || text.contains("[32, 40]") || text.contains("[40]"),
        "{text}"
    );
    assert_eq!(model.hf_state_dict_shapes(), before);
}

#[test]
fn another_architecture_is_refused() {
    // By its config…
    let err =
        BertForSequenceClassification::from_pretrained(fixture("other_arch"), &Device::flex())
            .unwrap_err();
    assert!(
        matches!(&err, ModelError::InvalidConfig { key, .. } if key == "model_type"),
        "{err:?}"
    );
    assert!(err.to_string().contains("gpt2"), "{err}");
    // …and by its weights when the config lies.
    let mut model = tiny();
    let err = model
        .load_weights(fixture("other_arch/model.safetensors"))
        .unwrap_err();
    assert!(
        matches!(err, ModelError::WrongArchitecture { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("not a BERT checkpoint") && text.contains("h.0."),
        "{text}"
    );
}

#[test]
fn inputs_are_checked_on_the_host() {
    let model = tiny();
    let device = Device::flex();
    let config = &model.config;
    let input =
        bertfit_model::BertInput::from_slices(&[1, 2, 99], None, None, [1, 3], config, &device);
    assert!(
        input
            .unwrap_err()
            .to_string()
            .contains("input_ids[0][2] = 99 is outside 0..99")
    );
    let long = vec![1; 65];
    let input = bertfit_model::BertInput::from_slices(&long, None, None, [1, 65], config, &device);
    assert!(
        input
            .unwrap_err()
            .to_string()
            .contains("max_position_embeddings = 64")
    );
    let input = bertfit_model::BertInput::from_slices(
        &[1, 2],
        Some(&[1, 2]),
        None,
        [1, 2],
        config,
        &device,
    );
    assert!(
        input
            .unwrap_err()
            .to_string()
            .contains("attention_mask[0][1] = 2")
    );
    let input =
        bertfit_model::BertInput::from_slices(&[1, 2, 3], None, None, [1, 2], config, &device);
    assert!(
        input
            .unwrap_err()
            .to_string()
            .contains("3 values, expected 1 x 2")
    );
    let err = model.labels(&[0, 3], &device).unwrap_err().to_string();
    assert!(
        err.contains("label 3 at position 1 is outside 0..3") && err.contains("neg, neu, pos"),
        "{err}"
    );
}
