//! Parity with Hugging Face `transformers` on committed fixtures (see `fixtures/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::{BertConfig, BertForSequenceClassification};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;

const TOL: f32 = 1e-4;

/// Compares every hidden state (at non-padding positions), the pooler, logits and loss.
fn assert_matches_reference(
    model: &BertForSequenceClassification,
    reference: &Reference,
    what: &str,
) {
    let device = Device::flex();
    let input = reference.input(&model.config, &device);
    let labels = reference.has("labels").then(|| {
        model
            .labels(&reference.i64("labels").values, &device)
            .unwrap()
    });
    let output = model.forward(input, labels);
    let mask = &reference.i64("attention_mask").values;
    let hidden = model.config.hidden_size;
    let states = output.hidden_states.as_ref().unwrap();
    assert_eq!(states.len(), model.config.num_hidden_layers + 1);
    for (layer, state) in states.iter().enumerate() {
        let expected = reference.f32(&format!("hidden_states.{layer}"));
        let ours = masked_rows(&values(state), mask, hidden);
        let expected = if expected.shape.len() == 3 {
            masked_rows(&expected.values, mask, hidden)
        } else {
            expected.values.clone()
        };
        let diff = max_abs_diff(&ours, &expected);
        eprintln!("{what}: hidden_states.{layer} max-abs diff {diff:.3e}");
        assert!(
            diff < TOL,
            "{what}: hidden_states.{layer} differs by {diff}"
        );
    }
    let diff = max_abs_diff(
        &values(&output.pooler_output),
        &reference.f32("pooler_output").values,
    );
    eprintln!("{what}: pooler_output max-abs diff {diff:.3e}");
    assert!(diff < TOL, "{what}: pooler differs by {diff}");
    let diff = max_abs_diff(&values(&output.logits), &reference.f32("logits").values);
    eprintln!("{what}: logits max-abs diff {diff:.3e}");
    assert!(diff < TOL, "{what}: logits differ by {diff}");
    if let Some(loss) = output.loss {
        let diff = max_abs_diff(&values(&loss), &reference.f32("loss").values);
        eprintln!("{what}: loss max-abs diff {diff:.3e}");
        assert!(diff < TOL, "{what}: loss differs by {diff}");
    }
}

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
    let (mut model, report) =
        BertForSequenceClassification::from_pretrained(&dir, &device).unwrap();
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

    // Install the seeded head the reference used (HF layout [out, in] → burn [in, out]).
    let reference = Reference::read(&fixture("minilm/reference.safetensors"));
    let weight = reference.f32("classifier.weight");
    let weight = Tensor::<2>::from_data(
        TensorData::new(weight.values.clone(), weight.shape.clone()),
        &device,
    );
    let bias = reference.f32("classifier.bias");
    let bias = Tensor::<1>::from_data(
        TensorData::new(bias.values.clone(), bias.shape.clone()),
        &device,
    );
    model.classifier.weight = Param::from_tensor(weight.transpose());
    model.classifier.bias = Some(Param::from_tensor(bias));

    assert_matches_reference(&model, &reference, "minilm");
}
