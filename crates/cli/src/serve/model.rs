//! One served model: its labels, its tokenizers (one per truncation setting) and its worker's
//! queue; inputs are checked and tokenized here, before they are queued.

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};
use axum::http::StatusCode;
use bertfit_model::{AutoModelForSequenceClassification, SequenceClassifier};
use bertfit_tokenize::{PaddingStrategy, Tokenizer, TruncationSide};
use bertfit_train::{Example, TextClassifier};

use super::api::{ApiError, Function, Sequence};
use super::metrics::Metrics;
use super::worker::{self, Limits, Queue};

/// What `GET /info` says of a model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// The name requests use (`/models/{name}`).
    pub name: String,
    /// What `--model` gave: a directory or a Hub id.
    pub model_id: String,
    /// The HF class (`BertForSequenceClassification`).
    pub architecture: String,
    /// `config.json`'s `model_type`.
    pub model_type: String,
    /// Label names by id.
    pub labels: Vec<String>,
    /// The longest input in tokens, special tokens included.
    pub max_input_length: usize,
}

/// A model ready to answer requests.
#[derive(Debug)]
pub struct ServedModel {
    /// What `/info` reports.
    pub info: ModelInfo,
    /// Counts tokens without truncating.
    counting: Tokenizer,
    /// Truncate at `max_input_length` from the right, and from the left.
    right: Tokenizer,
    left: Tokenizer,
    queue: Queue,
}

impl ServedModel {
    /// Wraps `classifier` under `name` and starts its worker; `max_input_length` defaults to
    /// the model's longest sequence and may not exceed it.
    pub fn start(
        name: String,
        model_id: String,
        classifier: TextClassifier<AutoModelForSequenceClassification>,
        max_input_length: Option<usize>,
        limits: Limits,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, JoinHandle<()>)> {
        let spec = classifier.model().input_spec();
        let max_input_length = match max_input_length {
            Some(n) if n > spec.max_length => bail!(
                "--max-input-length {n} is above what model {model_id} takes ({} = {}); pass at most {}",
                spec.max_length_key,
                spec.max_length,
                spec.max_length
            ),
            Some(n) => n,
            None => spec.max_length,
        };
        let tokenizer = |truncation: bool, side: TruncationSide| -> Result<Tokenizer> {
            let mut t = classifier.tokenizer().clone();
            let config = t
                .config()
                .clone()
                .with_max_length(max_input_length)
                .with_padding(PaddingStrategy::None)
                .with_truncation(truncation)
                .with_truncation_side(side);
            t.set_config(config).with_context(|| {
                format!("--max-input-length {max_input_length} for model {model_id}")
            })?;
            Ok(t)
        };
        let counting = tokenizer(false, TruncationSide::Right)?;
        let right = tokenizer(true, TruncationSide::Right)?;
        let left = tokenizer(true, TruncationSide::Left)?;
        let info = ModelInfo {
            name: name.clone(),
            model_id,
            architecture: classifier.model().architecture().to_string(),
            model_type: classifier.model().model_type().to_string(),
            labels: classifier.labels().to_vec(),
            max_input_length,
        };
        let (queue, handle) = worker::spawn(&name, classifier, limits, metrics)?;
        Ok((
            Self {
                info,
                counting,
                right,
                left,
                queue,
            },
            handle,
        ))
    }

    /// The worker's queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Tokenizes `inputs`: one that is longer than `max_input_length` is truncated from
    /// `side` when `truncate`, else refused (422) naming its field and length.
    pub fn encode(
        &self,
        inputs: &[(String, Sequence)],
        truncate: bool,
        side: TruncationSide,
    ) -> Result<Vec<Example<()>>, ApiError> {
        inputs
            .iter()
            .map(|(field, sequence)| {
                let counted = self.encode_with(&self.counting, field, sequence)?;
                if counted.input_ids.len() <= self.info.max_input_length {
                    return Ok(counted);
                }
                if !truncate {
                    return Err(ApiError::validation(
                        field,
                        format!(
                            "{field} is {} tokens long, above --max-input-length {}; shorten it, or send \"truncate\": true",
                            counted.input_ids.len(),
                            self.info.max_input_length
                        ),
                    ));
                }
                let tokenizer = match side {
                    TruncationSide::Right => &self.right,
                    TruncationSide::Left => &self.left,
                };
                self.encode_with(tokenizer, field, sequence)
            })
            .collect()
    }

    fn encode_with(
        &self,
        tokenizer: &Tokenizer,
        field: &str,
        sequence: &Sequence,
    ) -> Result<Example<()>, ApiError> {
        let encoding = match sequence {
            Sequence::Single(text) => tokenizer.encode(text),
            Sequence::Pair(a, b) => tokenizer.encode_pairs(&[(a, b)]),
        }
        .map_err(|err| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Tokenizer",
                format!("{field} could not be tokenized: {err}"),
            )
            .at(field)
        })?;
        match (
            encoding.input_ids.into_iter().next(),
            encoding.token_type_ids.into_iter().next(),
        ) {
            (Some(input_ids), Some(token_type_ids)) => Ok(Example {
                input_ids,
                token_type_ids,
                label: (),
            }),
            _ => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Tokenizer",
                format!("{field} gave the tokenizer nothing to encode"),
            )
            .at(field)),
        }
    }

    /// The HF pipeline's default `function_to_apply`: sigmoid for one label, else softmax.
    pub fn default_function(&self) -> Function {
        if self.info.labels.len() == 1 {
            Function::Sigmoid
        } else {
            Function::Softmax
        }
    }

    /// `(label, score)` per label of one input's logits under `function`, best first.
    pub fn scores(&self, logits: &[f32], function: Function) -> Vec<(String, f64)> {
        scores(&self.info.labels, logits, function)
    }
}

/// `(label, score)` of each of `labels` from its logit under `function` (computed in f64),
/// best first.
fn scores(labels: &[String], logits: &[f32], function: Function) -> Vec<(String, f64)> {
    let values: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
    let scores = match function {
        Function::None => values,
        Function::Sigmoid => values.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
        Function::Softmax => {
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exp: Vec<f64> = values.iter().map(|v| (v - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            exp.iter().map(|e| e / sum).collect()
        }
    };
    let mut scored: Vec<(String, f64)> = labels.iter().cloned().zip(scores).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn scores_apply_the_function_and_sort_best_first() {
        let labels = ["neg".to_string(), "neu".into(), "pos".into()];
        // Large logits: a softmax without the max subtracted would overflow to NaN.
        let softmax = scores(&labels, &[999.0, 1000.0, -5.0], Function::Softmax);
        assert_eq!(softmax[0].0, "neu");
        assert_eq!(softmax[1].0, "neg");
        assert!((softmax[0].1 - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-12);
        assert!((softmax.iter().map(|s| s.1).sum::<f64>() - 1.0).abs() < 1e-12);
        let sigmoid = scores(&labels, &[0.0, 2.0, -1.0], Function::Sigmoid);
        assert_eq!(sigmoid[0], ("neu".into(), 1.0 / (1.0 + (-2.0f64).exp())));
        assert_eq!(sigmoid[1], ("neg".into(), 0.5));
        let raw = scores(&labels, &[0.5, -2.0, 3.0], Function::None);
        assert_eq!(
            raw,
            [
                ("pos".into(), 3.0),
                ("neg".into(), 0.5),
                ("neu".into(), -2.0)
            ]
        );
    }
}
