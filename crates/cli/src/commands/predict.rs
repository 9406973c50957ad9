//! `bertfit predict`: label and softmax probabilities for texts.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bertfit_model::BertInput;
use bertfit_tokenize::{PaddingStrategy, Tokenizer, TokenizerConfig};
use burn::tensor::activation::softmax;
use clap::Args;

use crate::commands::load_trained_model;
use crate::{Format, device};

/// Arguments of `bertfit predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A saved model directory, or a Hub model id.
    #[arg(long)]
    pub model: String,
    /// Texts to classify; without any, texts are read from --file or stdin.
    pub texts: Vec<String>,
    /// A file with one text per line, or JSON lines with a "text" field (`-` for stdin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Truncate to this many tokens [default: the model's max_position_embeddings].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Backend to run on.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// One line of input: plain text, or a JSON object with a `text` field.
fn parse_line(line: &str, number: usize) -> Result<String> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(trimmed)
            .with_context(|| format!("line {number} is not valid JSON"))?;
        match value.get("text").and_then(|t| t.as_str()) {
            Some(text) => Ok(text.to_string()),
            None => bail!("line {number} is JSON without a string \"text\" field"),
        }
    } else {
        Ok(line.to_string())
    }
}

fn read_texts(args: &PredictArgs) -> Result<Vec<String>> {
    if !args.texts.is_empty() {
        return Ok(args.texts.clone());
    }
    let reader: Box<dyn BufRead> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("opening --file {}", path.display()))?,
        )),
        _ => {
            let mut all = String::new();
            std::io::stdin()
                .read_to_string(&mut all)
                .context("reading stdin")?;
            Box::new(std::io::Cursor::new(all))
        }
    };
    let mut texts = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        texts.push(parse_line(&line, i + 1)?);
    }
    if texts.is_empty() {
        bail!("no texts to classify: pass them as arguments, with --file, or on stdin");
    }
    Ok(texts)
}

/// Runs `bertfit predict`.
pub fn run(args: &PredictArgs) -> Result<()> {
    let device = device::parse(&args.device)?;
    let (model, model_dir) =
        load_trained_model(&args.model, &device, "predict with a fine-tuned model")?;
    let labels = model.config.labels()?;
    let max_length = args
        .max_length
        .unwrap_or(model.config.max_position_embeddings);
    let tokenizer = Tokenizer::from_dir(
        &model_dir,
        TokenizerConfig::default()
            .with_max_length(max_length)
            .with_padding(PaddingStrategy::Longest),
    )?;
    let texts = read_texts(args)?;
    for chunk in texts.chunks(args.batch_size.max(1)) {
        let batch = tokenizer.encode_batch(chunk)?.flatten_i64()?;
        let input = BertInput::from_slices(
            &batch.input_ids,
            Some(&batch.attention_mask),
            Some(&batch.token_type_ids),
            batch.shape,
            &model.config,
            &device,
        )?;
        let probabilities = softmax(model.forward(input, None).logits, 1)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading probabilities: {e:?}"))?;
        for (text, row) in chunk.iter().zip(probabilities.chunks(labels.len())) {
            let best = bertfit_train::metrics::argmax(
                &row.iter().map(|&p| f64::from(p)).collect::<Vec<_>>(),
            );
            match args.format {
                Format::Json => {
                    let scores: serde_json::Map<String, serde_json::Value> = labels
                        .iter()
                        .zip(row)
                        .map(|(l, p)| (l.clone(), serde_json::json!(p)))
                        .collect();
                    println!(
                        "{}",
                        serde_json::json!({"text": text, "label": labels[best], "scores": scores})
                    );
                }
                Format::Table => {
                    let scores: Vec<String> = labels
                        .iter()
                        .zip(row)
                        .map(|(l, p)| format!("{l} {p:.4}"))
                        .collect();
                    println!("{:<10} [{}]  {}", labels[best], scores.join(", "), text);
                }
            }
        }
    }
    Ok(())
}
