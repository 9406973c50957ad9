//! Helpers shared by the integration tests: fixture paths, reference tensors, the MiniLM dir.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bertfit_model::{
    BertConfig, BertForSequenceClassification, BertInput, EncoderInput, SequenceClassifier,
};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// `crates/model/tests/fixtures/<name>`, from any crate under `crates/` (the workspace's
/// `tests/backends.rs` includes this module too).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(name)
}

/// A tensor read back from a reference file: shape and values (ints widened to i64).
pub struct Array<T> {
    pub shape: Vec<usize>,
    pub values: Vec<T>,
}

/// The tensors of a `reference.safetensors` written by `gen_fixtures.py`.
pub struct Reference {
    f32s: HashMap<String, Array<f32>>,
    i64s: HashMap<String, Array<i64>>,
}

impl Reference {
    pub fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let (mut f32s, mut i64s) = (HashMap::new(), HashMap::new());
        for (name, view) in file.tensors() {
            let shape = view.shape().to_vec();
            match view.dtype() {
                safetensors::Dtype::F32 => {
                    let values = view
                        .data()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect();
                    f32s.insert(name, Array { shape, values });
                }
                safetensors::Dtype::I64 => {
                    let values = view
                        .data()
                        .chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                        .collect();
                    i64s.insert(name, Array { shape, values });
                }
                other => panic!("unexpected dtype {other:?} for {name}"),
            }
        }
        Self { f32s, i64s }
    }

    pub fn f32(&self, name: &str) -> &Array<f32> {
        self.f32s
            .get(name)
            .unwrap_or_else(|| panic!("no f32 `{name}` in reference"))
    }

    pub fn i64(&self, name: &str) -> &Array<i64> {
        self.i64s
            .get(name)
            .unwrap_or_else(|| panic!("no i64 `{name}` in reference"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.f32s.contains_key(name) || self.i64s.contains_key(name)
    }

    /// The reference batch as model input, with hidden states requested.
    pub fn input(&self, config: &BertConfig, device: &Device) -> BertInput {
        let ids = self.i64("input_ids");
        let shape = [ids.shape[0], ids.shape[1]];
        BertInput::from_slices(
            &ids.values,
            Some(&self.i64("attention_mask").values),
            Some(&self.i64("token_type_ids").values),
            shape,
            config,
            device,
        )
        .unwrap()
        .with_hidden_states(true)
    }
}

/// Values of a float tensor.
pub fn values<const D: usize>(tensor: &burn::tensor::Tensor<D>) -> Vec<f32> {
    tensor
        .to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

/// Largest absolute difference; panics on a length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Rows `[batch*seq, hidden]` of a `[batch, seq, hidden]` tensor where `mask == 1`, flattened.
pub fn masked_rows(values: &[f32], mask: &[i64], hidden: usize) -> Vec<f32> {
    mask.iter()
        .enumerate()
        .filter(|(_, m)| **m == 1)
        .flat_map(|(i, _)| values[i * hidden..(i + 1) * hidden].iter().copied())
        .collect()
}

/// The all-MiniLM-L6-v2 directory unpacked by `cargo xtask fixtures`.
///
/// Looked up in `BERTFIT_MINILM_DIR`, then `$BERTFIT_CACHE_DIR/models/all-MiniLM-L6-v2`,
/// `$XDG_CACHE_HOME/bertfit/models/all-MiniLM-L6-v2`, `$HOME/.cache/bertfit/models/all-MiniLM-L6-v2`.
/// Absent, the test fails (real-weight tests are never skipped silently) unless
/// `BERTFIT_SKIP_REAL_WEIGHTS=1` asks to skip them, which returns `None` and says so.
pub fn minilm_dir() -> Option<PathBuf> {
    let sub = "models/all-MiniLM-L6-v2";
    let candidates: Vec<PathBuf> = [
        std::env::var_os("BERTFIT_MINILM_DIR").map(PathBuf::from),
        std::env::var_os("BERTFIT_CACHE_DIR").map(|d| PathBuf::from(d).join(sub)),
        std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("bertfit").join(sub)),
        std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/bertfit").join(sub)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(dir) = candidates
        .iter()
        .find(|d| d.join("model.safetensors").is_file())
    {
        return Some(dir.clone());
    }
    if std::env::var("BERTFIT_SKIP_REAL_WEIGHTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: all-MiniLM-L6-v2 not found and BERTFIT_SKIP_REAL_WEIGHTS=1");
        return None;
    }
    panic!(
        "all-MiniLM-L6-v2 not found in any of {candidates:?}; run `cargo xtask fixtures` \
         (or set BERTFIT_MINILM_DIR), or set BERTFIT_SKIP_REAL_WEIGHTS=1 to skip real-weight tests"
    );
}

/// Writes `tensors` (name, shape, f32 values) as a safetensors file.
pub fn write_safetensors(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<u8>, safetensors::Dtype)],
) {
    let views: Vec<_> = tensors
        .iter()
        .map(|(name, shape, bytes, dtype)| {
            (
                name.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// Every tensor of a safetensors file as (name, shape, bytes, dtype).
pub fn read_safetensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<u8>, safetensors::Dtype)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, v)| (name, v.shape().to_vec(), v.data().to_vec(), v.dtype()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Max-abs tolerance against the `transformers` references.
pub const TOL: f32 = 1e-4;

/// Compares every hidden state (at non-padding positions), the pooler, logits and loss with the
/// reference, running `model` on `device`; returns the largest difference seen.
pub fn assert_matches_reference_on(
    model: &BertForSequenceClassification,
    reference: &Reference,
    what: &str,
    device: &Device,
) -> f32 {
    let model = model.clone().to_device(device);
    let device = device.clone();
    let mut worst = 0.0f32;
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
        worst = worst.max(diff);
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
    worst = worst.max(diff);
    assert!(diff < TOL, "{what}: pooler differs by {diff}");
    let diff = max_abs_diff(&values(&output.logits), &reference.f32("logits").values);
    eprintln!("{what}: logits max-abs diff {diff:.3e}");
    worst = worst.max(diff);
    assert!(diff < TOL, "{what}: logits differ by {diff}");
    if let Some(loss) = output.loss {
        let diff = max_abs_diff(&values(&loss), &reference.f32("loss").values);
        eprintln!("{what}: loss max-abs diff {diff:.3e}");
        assert!(diff < TOL, "{what}: loss differs by {diff}");
        worst = worst.max(diff);
    }
    worst
}

/// [`assert_matches_reference_on`] on the flex CPU backend.
pub fn assert_matches_reference(
    model: &BertForSequenceClassification,
    reference: &Reference,
    what: &str,
) {
    assert_matches_reference_on(model, reference, what, &Device::flex());
}

/// all-MiniLM-L6-v2 with the seeded classifier head of `minilm/reference.safetensors`
/// installed (HF layout `[out, in]` → burn `[in, out]`), and that reference.
pub fn minilm_with_reference_head(
    dir: &Path,
    device: &Device,
) -> (BertForSequenceClassification, Reference) {
    let (mut model, _) = BertForSequenceClassification::from_pretrained(dir, device).unwrap();
    let reference = Reference::read(&fixture("minilm/reference.safetensors"));
    let weight = reference.f32("classifier.weight");
    let weight = Tensor::<2>::from_data(
        TensorData::new(weight.values.clone(), weight.shape.clone()),
        device,
    );
    let bias = reference.f32("classifier.bias");
    let bias = Tensor::<1>::from_data(
        TensorData::new(bias.values.clone(), bias.shape.clone()),
        device,
    );
    model.classifier.weight = Param::from_tensor(weight.transpose());
    model.classifier.bias = Some(Param::from_tensor(bias));
    (model, reference)
}

/// The four architectures beside BERT: fixture folder, `model_type` and HF class.
pub const ARCHITECTURES: [(&str, &str, &str); 4] = [
    (
        "distilbert",
        "distilbert",
        "DistilBertForSequenceClassification",
    ),
    ("roberta", "roberta", "RobertaForSequenceClassification"),
    (
        "xlm_roberta",
        "xlm-roberta",
        "XLMRobertaForSequenceClassification",
    ),
    ("electra", "electra", "ElectraForSequenceClassification"),
];

/// The reference batch as `model`'s input, hidden states requested (token types only where
/// the fixture stores them).
pub fn reference_input(
    model: &impl SequenceClassifier,
    reference: &Reference,
    device: &Device,
) -> EncoderInput {
    let ids = reference.i64("input_ids");
    let types = reference
        .has("token_type_ids")
        .then(|| reference.i64("token_type_ids").values.as_slice());
    EncoderInput::from_slices(
        &ids.values,
        Some(&reference.i64("attention_mask").values),
        types,
        [ids.shape[0], ids.shape[1]],
        model.input_spec(),
        device,
    )
    .unwrap()
    .with_hidden_states(true)
}

/// Every hidden state at non-padding positions, the logits and the loss of any architecture's
/// classifier against the reference, run on `device`; returns the largest difference.
pub fn assert_classifier_matches_on(
    model: &impl SequenceClassifier,
    reference: &Reference,
    what: &str,
    device: &Device,
) -> f32 {
    let model = model.clone().to_device(device);
    let input = reference_input(&model, reference, device);
    let labels = model
        .labels(&reference.i64("labels").values, device)
        .unwrap();
    let output = model.forward(input, Some(labels));
    let mask = &reference.i64("attention_mask").values;
    let states = output.hidden_states.as_ref().unwrap();
    let mut worst = 0.0f32;
    let mut check = |name: &str, ours: &[f32], theirs: &[f32]| {
        let diff = max_abs_diff(ours, theirs);
        eprintln!("{what}: {name} max-abs diff {diff:.3e}");
        assert!(diff < TOL, "{what}: {name} differs by {diff}");
        worst = worst.max(diff);
    };
    for (layer, state) in states.iter().enumerate() {
        let expected = reference.f32(&format!("hidden_states.{layer}"));
        let hidden = expected.shape[2];
        check(
            &format!("hidden_states.{layer}"),
            &masked_rows(&values(state), mask, hidden),
            &masked_rows(&expected.values, mask, hidden),
        );
    }
    assert!(
        !reference.has(&format!("hidden_states.{}", states.len())),
        "{what}: the reference has more hidden states than the model's {}",
        states.len()
    );
    check(
        "logits",
        &values(&output.logits),
        &reference.f32("logits").values,
    );
    check(
        "loss",
        &values(&output.loss.unwrap()),
        &reference.f32("loss").values,
    );
    // Feature extraction's path: the head alone on the encoder's head input.
    let plain = reference_input(&model, reference, device).with_hidden_states(false);
    let split = model.forward_head(model.head_input(plain), None);
    check(
        "logits of forward_head(head_input)",
        &values(&split.logits),
        &reference.f32("logits").values,
    );
    worst
}
