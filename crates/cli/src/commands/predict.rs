//! `bertfit predict`: label and softmax probabilities for texts.

use std::io::{BufRead, Read};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::commands::load_classifier;
use crate::{Format, device};

/// Arguments of `bertfit predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A saved model directory, or a Hub model id.
    #[arg(long)]
    pub model: String,
    /// The base model of a LoRA adapter --model (a directory or Hub id) [default: the
    /// adapter's base_model_name_or_path].
    #[arg(long)]
    pub base: Option<String>,
    /// Texts to classify; without any, texts are read from --file or stdin.
    pub texts: Vec<String>,
    /// A file with one text per line, or JSON lines with a "text" field (`-` for stdin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Truncate to this many tokens [default: the longest the model takes, e.g. BERT's
    /// max_position_embeddings].
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
        if let Some(i) = args.texts.iter().position(|t| t.trim().is_empty()) {
            bail!(
                "text {} of the arguments is empty or only whitespace; there is nothing to classify in it: drop it or fill it",
                i + 1
            );
        }
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
        let text = parse_line(&line, i + 1)?;
        if text.trim().is_empty() {
            bail!(
                "line {}: the text is empty or only whitespace; there is nothing to classify in it: drop the line or fill it",
                i + 1
            );
        }
        texts.push(text);
    }
    if texts.is_empty() {
        bail!("no texts to classify: pass them as arguments, with --file, or on stdin");
    }
    Ok(texts)
}

/// Runs `bertfit predict`.
pub fn run(args: &PredictArgs) -> Result<()> {
    let device = device::parse(&args.device)?;
    let classifier = load_classifier(
        &args.model,
        args.base.as_deref(),
        &device,
        "predict with a fine-tuned model",
        args.batch_size,
        args.max_length,
    )?;
    let texts = read_texts(args)?;
    let labels = classifier.labels();
    for (text, prediction) in texts.iter().zip(classifier.predict(&texts)?) {
        match args.format {
            Format::Json => {
                let scores: serde_json::Map<String, serde_json::Value> = labels
                    .iter()
                    .zip(&prediction.probabilities)
                    .map(|(l, p)| (l.clone(), serde_json::json!(p)))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"text": text, "label": prediction.label, "scores": scores})
                );
            }
            Format::Table => {
                let scores: Vec<String> = labels
                    .iter()
                    .zip(&prediction.probabilities)
                    .map(|(l, p)| format!("{l} {p:.4}"))
                    .collect();
                println!("{:<10} [{}]  {}", prediction.label, scores.join(", "), text);
            }
        }
    }
    Ok(())
}
