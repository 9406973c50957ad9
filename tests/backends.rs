//! The same numbers on every backend compiled into this build: burn's flex CPU backend always,
//! libtorch on the CPU with the `tch` feature, wgpu (on Mesa's lavapipe in CI) with `wgpu`.
//!
//! Each backend must match the `transformers` references within 1e-4 (all-MiniLM-L6-v2's hidden
//! states, pooler and logits), and the backends must agree with flex within 1e-4 on the tiny
//! model's training loss and every parameter's gradient (the inputs of an optimizer step).
//!
//! `cargo xtask backends` builds and runs this with `--features tch,wgpu`; the default build
//! checks flex alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../crates/model/tests/common/mod.rs"]
mod model_common;
#[path = "../crates/train/tests/common/mod.rs"]
mod train_common;

use bertfit_model::{BertConfig, BertForSequenceClassification};
use bertfit_train::{BatchPadding, HostBatch};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

/// The backends of this build, by name.
fn backends() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut backends = vec![("flex", Device::flex())];
    #[cfg(feature = "tch")]
    #[allow(deprecated)] // burn-tch is deprecated upstream in favour of CubeCL backends
    backends.push(("tch-cpu", Device::libtorch()));
    #[cfg(feature = "wgpu")]
    backends.push((
        "wgpu",
        Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
    ));
    backends
}

#[test]
fn minilm_matches_transformers_on_every_backend() {
    let Some(dir) = model_common::minilm_dir() else {
        return;
    };
    let mut worst = Vec::new();
    for (name, device) in backends() {
        let (model, reference) = model_common::minilm_with_reference_head(&dir, &device);
        let diff = model_common::assert_matches_reference_on(
            &model,
            &reference,
            &format!("minilm on {name}"),
            &device,
        );
        worst.push((name, diff));
    }
    eprintln!("minilm: largest max-abs difference from transformers per backend: {worst:?}");
}

/// Every float parameter's gradient, in visiting order.
struct GradientValues<'a> {
    grads: &'a GradientsParams,
    values: Vec<Vec<f32>>,
}

impl ModuleVisitor for GradientValues<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = self
            .grads
            .get::<D>(param.id)
            .map(|g| model_common::values(&g))
            .unwrap_or_default();
        self.values.push(values);
    }
}

/// The tiny fixture model's loss and gradients on the first batch of the HF Trainer fixture
/// (4 examples, padded to 16, dropout 0), computed on `device`.
fn loss_and_gradients(device: &Device) -> (f32, Vec<Vec<f32>>) {
    let device = device.clone().autodiff();
    let mut config = BertConfig::from_file(model_common::fixture("tiny/config.json")).unwrap();
    config.hidden_dropout_prob = 0.0;
    config.attention_probs_dropout_prob = 0.0;
    let mut model = BertForSequenceClassification::new(&config, &device).unwrap();
    model
        .load_weights(model_common::fixture("tiny/model.safetensors"))
        .unwrap();
    let train = train_common::trainer_examples(&train_common::fixture("trainer/accum1"));
    let examples: Vec<_> = train.examples.iter().take(4).collect();
    let batch = HostBatch::collate(&examples, BatchPadding::MaxLength, 16, 0);
    let (input, labels) = batch.to_tensors(&model, &device).unwrap();
    let loss = model.forward(input, Some(labels)).loss.unwrap();
    let loss_value = model_common::values(&loss)[0];
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut visitor = GradientValues {
        grads: &grads,
        values: Vec::new(),
    };
    model.visit(&mut visitor);
    (loss_value, visitor.values)
}

#[test]
fn training_loss_and_gradients_agree_across_backends() {
    let runs: Vec<_> = backends()
        .into_iter()
        .map(|(name, device)| (name, loss_and_gradients(&device)))
        .collect();
    let (reference_name, (reference_loss, reference_grads)) = &runs[0];
    assert!(reference_grads.iter().all(|g| !g.is_empty()));
    for (name, (loss, grads)) in &runs[1..] {
        let loss_diff = (loss - reference_loss).abs();
        let grad_diff = grads
            .iter()
            .zip(reference_grads)
            .map(|(a, b)| model_common::max_abs_diff(a, b))
            .fold(0.0f32, f32::max);
        eprintln!(
            "{name} vs {reference_name}: loss diff {loss_diff:.3e}, largest gradient diff {grad_diff:.3e}"
        );
        assert_eq!(grads.len(), reference_grads.len());
        assert!(loss_diff < 1e-4, "{name}: loss differs by {loss_diff}");
        assert!(
            grad_diff < 1e-4,
            "{name}: gradients differ by up to {grad_diff}"
        );
    }
}
