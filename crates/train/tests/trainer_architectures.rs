//! Five optimizer steps of DistilBERT, RoBERTa, XLM-RoBERTa and ELECTRA against
//! `transformers.Trainer` (fixtures from `scripts/reference/gen_arch_fixtures.py`): per-step
//! loss, gradient norm and learning rate, and the final weights, within 1e-4; and the same with
//! part of each model frozen (`train_layers`, `freeze_embeddings`), frozen weights bit for bit,
//! with and without feature extraction's cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use burn::tensor::Device;
use common::*;

#[test]
fn five_steps_of_every_architecture_match_hf_trainer() {
    for name in ARCHITECTURES {
        five_arch_trainer_steps(name, &Device::flex(), true);
    }
}

#[test]
fn five_steps_with_frozen_layers_match_hf_trainer_with_requires_grad_off() {
    for name in [
        "distilbert-last1",
        "roberta-head",
        "xlm_roberta-freeze-embeddings",
        "electra-last1",
    ] {
        five_arch_trainer_steps(name, &Device::flex(), true);
    }
    // `roberta-head` above trained the head on cached encoder outputs (feature extraction's
    // default); HF's Trainer runs the frozen encoder at every step, as this does.
    five_arch_trainer_steps("roberta-head", &Device::flex(), false);
}
