//! Parity with Hugging Face `transformers` on committed fixtures (see `fixtures/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::{BertConfig, BertForSequenceClassification};
use burn::tensor::Device;
use common::*;

#[test]
fn tiny_safetensors_matches_transformers() {
    let device = Device::flex();
    let (model, report) =
        BertForSequenceClassification::from_pretrained(fixture("tiny"), &device).unwrap();
    assert!(report.is_exact(), "{report}");
    assert!(report.file.ends_with("model.safetensors"));
    assert_eq!(report.loaded, 41);
    assert_eq!(model.config.labels().unwrap(), ["neg", "neu", "pos"]);
    assert_matches_reference(
        &model,
        &Reference::read(&fixture("tiny/reference.safetensors")),
        "tiny/safetensors",
    );
}

#[test]
fn tiny_pytorch_bin_matches_transformers() {
    let device = Device::flex();
    let config = BertConfig::from_file(fixture("tiny/config.json")).unwrap();
    let mut model = BertForSequenceClassification::new(&config, &device).unwrap();
    let report = model
        .load_weights(fixture("tiny/pytorch_model.bin"))
        .unwrap();
    assert!(report.is_exact(), "{report}");
    assert_eq!(report.loaded, 41);
    assert_matches_reference(
        &model,
        &Reference::read(&fixture("tiny/reference.safetensors")),
        "tiny/bin",
    );
}

#[test]
fn tiny_gelu_new_and_relu_match_transformers() {
    let device = Device::flex();
    for name in ["tiny_gelu_new", "tiny_relu"] {
        let (model, report) =
            BertForSequenceClassification::from_pretrained(fixture(name), &device).unwrap();
        assert!(report.is_exact(), "{report}");
        assert_matches_reference(
            &model,
            &Reference::read(&fixture(&format!("{name}/reference.safetensors"))),
            name,
        );
    }
}

#[test]
fn minilm_matches_transformers() {
    let Some(dir) = minilm_dir() else { return };
    let device = Device::flex();
    let (model, report) = BertForSequenceClassification::from_pretrained(&dir, &device).unwrap();
    // A sentence-transformers encoder: no `bert.` prefix, a position_ids buffer, no head.
    assert_eq!(
        report.missing,
        ["classifier.bias", "classifier.weight"],
        "{report}"
    );
    assert!(report.unexpected.is_empty(), "{report}");
    assert_eq!(report.ignored, ["embeddings.position_ids"]);
    assert_eq!(report.loaded, 103);
    assert_eq!(
        (model.config.num_hidden_layers, model.config.hidden_size),
        (6, 384)
    );

    let (model, reference) = minilm_with_reference_head(&dir, &device);
    assert_matches_reference(&model, &reference, "minilm");
}
