//! Five optimizer steps of DistilBERT, RoBERTa, XLM-RoBERTa and ELECTRA against
//! `transformers.Trainer` (fixtures from `scripts/reference/gen_arch_fixtures.py`): per-step
//! loss, gradient norm and learning rate, and the final weights, within 1e-4; and the same with
//! part of each model frozen (`train_layers`, `freeze_embeddings`), frozen weights bit for bit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use burn::tensor::Device;
use common::*;

#[test]
fn five_steps_of_every_architecture_match_hf_trainer() {
    for name in ARCHITECTURES {
        five_arch_trainer_steps(name, &Device::flex());
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
        five_arch_trainer_steps(name, &Device::flex());
    }
}
