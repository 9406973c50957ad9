//! `bertfit info`.

use anyhow::{Context, Result};
use bertfit_model::BertForSequenceClassification;
use burn::module::Module;
use burn::tensor::Device;

/// Prints what a model directory (or Hub model) holds.
pub fn run(spec: &str, json: bool) -> Result<()> {
    let dir = crate::hub_model::resolve_model(spec)?;
    let dir = dir.as_path();
    let device = Device::flex();
    let (model, report) = BertForSequenceClassification::from_pretrained(dir, &device)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let config = &model.config;
    let labels = config.labels()?;
    let params = model.num_params();
    if json {
        let value = serde_json::json!({
            "model": dir,
            "architecture": "BertForSequenceClassification",
            "parameters": params,
            "layers": config.num_hidden_layers,
            "hidden_size": config.hidden_size,
            "attention_heads": config.num_attention_heads,
            "vocab_size": config.vocab_size,
            "max_length": config.max_position_embeddings,
            "labels": labels,
            "weights": report.file,
            "missing": report.missing,
            "unexpected": report.unexpected,
            "ignored": report.ignored,
        });
        println!("{value}");
    } else {
        println!("model         {}", dir.display());
        println!("architecture  BertForSequenceClassification");
        println!(
            "size          {} layers, hidden {}, {} heads, vocab {}",
            config.num_hidden_layers,
            config.hidden_size,
            config.num_attention_heads,
            config.vocab_size
        );
        println!("parameters    {params}");
        println!("max length    {}", config.max_position_embeddings);
        println!("labels        {}", labels.join(", "));
        println!("weights       {report}");
    }
    Ok(())
}
