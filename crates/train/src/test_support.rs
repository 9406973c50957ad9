//! Tiny seeded models, a tokenizer and toy data for this crate's unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use bertfit_model::{AutoConfig, AutoModelForSequenceClassification};
use bertfit_tokenize::{Tokenizer, TokenizerConfig};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

use crate::batch::{EncodedDataset, Example, SplitMix64};

/// The tokenize crate's 240-token uncased WordPiece vocabulary.
pub(crate) fn vocab_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tokenize/tests/fixtures/bert_vocab_uncased")
}

/// The tokenizer of [`vocab_dir`].
pub(crate) fn vocab_tokenizer() -> Tokenizer {
    Tokenizer::from_dir(vocab_dir(), TokenizerConfig::default()).unwrap()
}

/// A seeded random BERT-type model (hidden 16, 2 layers, 64 positions, dropout off) with
/// `num_labels` labels and `vocab_size` word embeddings.
pub(crate) fn tiny_model_with_vocab(
    device: &Device,
    num_labels: usize,
    vocab_size: usize,
) -> AutoModelForSequenceClassification {
    let mut config = AutoConfig::from_json_str(&format!(
        r#"{{"model_type": "bert", "vocab_size": {vocab_size}, "hidden_size": 16,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 24,
            "max_position_embeddings": 64}}"#
    ))
    .unwrap();
    let names: Vec<String> = (0..num_labels).map(|i| format!("label{i}")).collect();
    config.set_labels(&names);
    config.set_dropout(0.0);
    seeded(device, 7, || {
        initialized(AutoModelForSequenceClassification::new(&config, device).unwrap())
    })
}

/// `module` with every parameter drawn now: burn initialises parameters lazily, on first
/// use, which would draw from the generator outside the [`RNG`] lock.
pub(crate) fn initialized<M: Module>(module: M) -> M {
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
    module
}

/// burn's random generator is one per process: tests that seed it and draw from it (model
/// initialisation, training) take this lock so that concurrent tests do not interleave.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `work` run under the [`RNG`] lock after seeding `device` with `seed`.
pub(crate) fn seeded<T>(device: &Device, seed: u64, work: impl FnOnce() -> T) -> T {
    let _guard = RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    work()
}

/// [`tiny_model_with_vocab`] with 99 word embeddings (the ids of [`toy_data`]).
pub(crate) fn tiny_model(device: &Device, num_labels: usize) -> AutoModelForSequenceClassification {
    tiny_model_with_vocab(device, num_labels, 99)
}

/// `n` examples of 3 to 15 tokens, ids in `5..99`, labels in `0..num_labels`.
pub(crate) fn toy_data(n: usize, num_labels: usize) -> EncodedDataset {
    let mut rng = SplitMix64::new(n as u64);
    let examples = (0..n)
        .map(|_| {
            let len = 3 + rng.below(13);
            let mut ids = vec![2u32];
            ids.extend((0..len).map(|_| 5 + rng.below(94) as u32));
            ids.push(3);
            Example {
                token_type_ids: vec![0; ids.len()],
                input_ids: ids,
                label: rng.below(num_labels) as i64,
            }
        })
        .collect();
    EncodedDataset {
        examples,
        pad_token_id: 0,
    }
}
