//! Five optimizer steps of DistilBERT, RoBERTa, XLM-RoBERTa and ELECTRA against
//! `transformers.Trainer` (fixtures from `scripts/reference/gen_arch_fixtures.py`): per-step
//! loss, gradient norm and learning rate, and the final weights, within 1e-4.
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
