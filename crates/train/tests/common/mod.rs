//! Shared helpers for the train integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bertfit_train::{EncodedDataset, Example};

/// `crates/train/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `crates/model/tests/fixtures/<name>` (the tiny model lives there).
pub fn model_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(name)
}

/// Every tensor of a safetensors file, as f64 values (floats) by name, with shapes.
pub fn read_tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f64>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
                    .collect(),
                safetensors::Dtype::I64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                other => panic!("unexpected dtype {other:?}"),
            };
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

/// The HF Trainer fixture's examples, unpadded (real tokens per the attention mask).
pub fn trainer_examples(dir: &Path) -> EncodedDataset {
    let t = read_tensors(&dir.join("data.safetensors"));
    let (shape, ids) = &t["input_ids"];
    let mask = &t["attention_mask"].1;
    let types = &t["token_type_ids"].1;
    let labels = &t["labels"].1;
    let seq = shape[1];
    let examples = (0..shape[0])
        .map(|row| {
            let real: Vec<usize> = (0..seq).filter(|&j| mask[row * seq + j] == 1.0).collect();
            Example {
                input_ids: real.iter().map(|&j| ids[row * seq + j] as u32).collect(),
                token_type_ids: real.iter().map(|&j| types[row * seq + j] as u32).collect(),
                label: labels[row] as i64,
            }
        })
        .collect();
    EncodedDataset {
        examples,
        pad_token_id: 0,
    }
}

/// Largest absolute difference between two tensors maps over their common keys; panics when
/// the key sets differ.
pub fn max_weight_diff(
    a: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
    b: &BTreeMap<String, (Vec<usize>, Vec<f64>)>,
) -> (f64, String) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut worst = (0.0, String::new());
    for (key, (shape, values)) in a {
        let (other_shape, other) = &b[key];
        assert_eq!(shape, other_shape, "{key}");
        for (x, y) in values.iter().zip(other) {
            if (x - y).abs() > worst.0 {
                worst = ((x - y).abs(), key.clone());
            }
        }
    }
    worst
}
