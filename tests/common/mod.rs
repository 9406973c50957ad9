//! What the binary's end-to-end tests share: running `bertfit`, a tiny model, generated data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bertfit_model::{BertConfig, BertForSequenceClassification};
use burn::tensor::Device;

/// The `bertfit` binary with Hub variables cleared (so the machine's own HF setup never leaks
/// in) and no pause points armed.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bertfit"));
    for var in [
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "BERTFIT_PAUSE_AT",
        "BERTFIT_BACKTRACE",
    ] {
        command.env_remove(var);
    }
    command
}

pub fn bertfit(args: &[&str]) -> Output {
    bertfit_env(args, &[])
}

/// Runs the binary with Hub variables cleared (so the machine's own HF setup never leaks in),
/// then `env` set.
pub fn bertfit_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = command();
    command.envs(env.iter().map(|(k, v)| (k, v.as_os_str())));
    command.args(args).output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tiny random BERT with the tokenize fixtures' 240-word uncased vocabulary.
pub fn tiny_model_dir(dir: &Path) -> PathBuf {
    let config = BertConfig {
        vocab_size: 240,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 64,
        ..BertConfig::default()
    };
    bert_model_dir(&dir.join("tiny-base"), &config, 1)
}

/// A random BERT of `config` (seeded with `seed`) in `model_dir`, with the tokenize fixtures'
/// 240-word uncased vocabulary.
pub fn bert_model_dir(model_dir: &Path, config: &BertConfig, seed: u64) -> PathBuf {
    let vocab =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tokenize/tests/fixtures/bert_vocab_uncased");
    let device = Device::flex();
    device.seed(seed);
    BertForSequenceClassification::new(config, &device)
        .unwrap()
        .save_pretrained(model_dir)
        .unwrap();
    for file in ["vocab.txt", "tokenizer_config.json"] {
        std::fs::copy(vocab.join(file), model_dir.join(file)).unwrap();
    }
    model_dir.to_path_buf()
}

pub fn write_reviews(dir: &Path) -> PathBuf {
    let data = dir.join("reviews");
    std::fs::create_dir_all(&data).unwrap();
    bertfit_data::generate::generate_dataset(96, 7)
        .write_parquet(data.join("train.parquet"))
        .unwrap();
    bertfit_data::generate::generate_dataset(40, 8)
        .write_parquet(data.join("test.parquet"))
        .unwrap();
    data
}
