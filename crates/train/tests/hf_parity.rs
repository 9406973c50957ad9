//! Five optimizer steps against `transformers.Trainer` (fixtures from `gen_fixtures.py`):
//! per-step loss, gradient norm and learning rate, and the final weights, within 1e-4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_model::{BertConfig, BertForSequenceClassification};
use burn::tensor::Device;
use common::*;

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
    five_hf_trainer_steps("accum1", 4, 1, &Device::flex());
}

#[test]
fn five_steps_with_gradient_accumulation_match_hf_trainer() {
    five_hf_trainer_steps("accum2", 2, 2, &Device::flex());
}
