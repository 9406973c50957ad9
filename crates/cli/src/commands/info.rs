//! `bertfit info`.

use std::path::Path;

use anyhow::{Context, Result};
use bertfit_model::{AutoModelForSequenceClassification, CONFIG_FILE, SequenceClassifier};
use burn::module::Module;
use burn::tensor::Device;
use serde_json::Value;

/// Each size `info` prints, under HF's common attribute name and the `config.json` keys that
/// hold it (the first is the common name; the others are the aliases of HF's `attribute_map`).
const SIZES: [(&str, &[&str]); 3] = [
    ("layers", &["num_hidden_layers", "n_layers"]),
    ("hidden_size", &["hidden_size", "dim"]),
    ("attention_heads", &["num_attention_heads", "n_heads"]),
];

/// The model's sizes read from its `config.json`, by [`SIZES`]' names (`None` when absent).
fn sizes(dir: &Path) -> Result<Vec<(&'static str, Option<u64>)>> {
    let path = dir.join(CONFIG_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let config: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(SIZES
        .iter()
        .map(|(name, keys)| {
            let value = keys
                .iter()
                .find_map(|k| config.get(*k).and_then(Value::as_u64));
            (*name, value)
        })
        .collect())
}

/// Prints what a model directory (or Hub model) holds.
pub fn run(spec: &str, json: bool) -> Result<()> {
    let dir = crate::hub_model::resolve_model(spec)?;
    let dir = dir.as_path();
    let device = Device::flex();
    let (model, report) = AutoModelForSequenceClassification::from_pretrained(dir, &device)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let spec = model.input_spec();
    let labels = model.label_names();
    let params = model.num_params();
    let sizes = sizes(dir)?;
    if json {
        let mut value = serde_json::json!({
            "model": dir,
            "architecture": model.architecture(),
            "model_type": model.model_type(),
            "parameters": params,
            "vocab_size": spec.vocab_size,
            "max_length": spec.max_length,
            "labels": labels,
            "weights": report.file,
            "missing": report.missing,
            "unexpected": report.unexpected,
            "ignored": report.ignored,
        });
        if let Value::Object(map) = &mut value {
            for (name, size) in &sizes {
                map.insert((*name).into(), serde_json::json!(size));
            }
        }
        println!("{value}");
    } else {
        let size = |name: &str| {
            sizes
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| *v)
                .map_or_else(|| "?".to_string(), |v| v.to_string())
        };
        println!("model         {}", dir.display());
        println!(
            "architecture  {} (model_type {})",
            model.architecture(),
            model.model_type()
        );
        println!(
            "size          {} layers, hidden {}, {} heads, vocab {}",
            size("layers"),
            size("hidden_size"),
            size("attention_heads"),
            spec.vocab_size
        );
        println!("parameters    {params}");
        println!(
            "max length    {} ({})",
            spec.max_length, spec.max_length_key
        );
        println!("labels        {}", labels.join(", "));
        println!("weights       {report}");
    }
    Ok(())
}
