//! [`evaluate`]: a sequence classifier scored on a labelled dataset, and its [`Evaluation`].

use std::time::Instant;

use bertfit_model::SequenceClassifier;
use burn::prelude::*;
use serde_json::{Map, Value, json};

use crate::batch::{BatchOptions, EncodedDataset, for_each_batch};
use crate::error::{Result, TrainError};
use crate::features::HeadInputs;
use crate::inference::{log_probabilities, log_softmax_rows};
use crate::metrics::ClassificationReport;
use crate::task::EvalMetrics;

/// The result of one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Mean cross-entropy over the examples.
    pub loss: f64,
    /// The full report (confusion matrix, ROC, per-class metrics).
    pub report: ClassificationReport,
    /// Softmax probabilities, one row per example, in dataset order.
    pub probabilities: Vec<Vec<f64>>,
    /// Wall time in seconds.
    pub runtime: f64,
    /// Number of batches.
    pub steps: usize,
}

impl Evaluation {
    /// HF's metrics dict: `eval_loss`, `eval_accuracy`, …, `eval_runtime`,
    /// `eval_samples_per_second`, `eval_steps_per_second` (confusion matrix and ROC curve
    /// included under `eval_confusion_matrix` and `eval_roc_curve`).
    pub fn metrics(&self) -> Map<String, Value> {
        let r = &self.report;
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(format!("eval_{k}"), v);
        };
        put("loss", json!(self.loss));
        put("accuracy", json!(r.accuracy));
        put("precision", json!(r.precision));
        put("recall", json!(r.recall));
        put("specificity", json!(r.specificity));
        put("f1", json!(r.f1));
        if r.per_class.len() > 2 {
            put("precision_weighted", json!(r.precision_weighted));
            put("recall_weighted", json!(r.recall_weighted));
            put("f1_weighted", json!(r.f1_weighted));
        }
        put("roc_auc", json!(r.roc_auc));
        put("confusion_matrix", json!(r.confusion_matrix));
        put("roc_curve", json!(r.roc_curve));
        put("runtime", json!(round4(self.runtime)));
        put(
            "samples_per_second",
            json!(round3(r.samples as f64 / self.runtime.max(1e-9))),
        );
        put(
            "steps_per_second",
            json!(round3(self.steps as f64 / self.runtime.max(1e-9))),
        );
        m
    }

    /// Value of a metric by name (`loss`, `accuracy`, `f1`, `roc_auc`, …).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "loss" => Some(self.loss),
            "accuracy" => Some(self.report.accuracy),
            "precision" => Some(self.report.precision),
            "recall" => Some(self.report.recall),
            "specificity" => Some(self.report.specificity),
            "f1" => Some(self.report.f1),
            "roc_auc" => self.report.roc_auc,
            "log_loss" => Some(self.report.log_loss),
            _ => None,
        }
    }
}

impl EvalMetrics for Evaluation {
    const NAMES: &'static [&'static str] = &[
        "loss",
        "accuracy",
        "precision",
        "recall",
        "specificity",
        "f1",
        "roc_auc",
        "log_loss",
    ];

    fn metrics(&self) -> Map<String, Value> {
        Evaluation::metrics(self)
    }

    fn metric(&self, name: &str) -> Option<f64> {
        Evaluation::metric(self, name)
    }

    fn summary(&self) -> String {
        format!(
            "eval_loss {:.4} accuracy {:.4} f1 {:.4}",
            self.loss, self.report.accuracy, self.report.f1
        )
    }
}

/// `x` rounded to 4 decimals, as HF rounds runtimes.
pub(crate) fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// `x` rounded to 3 decimals, as HF rounds throughputs.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Scores `model` on `data`: mean cross-entropy, probabilities (in dataset order) and the
/// classification report, in batches as `options` says (see [`for_each_batch`]).
///
/// With dynamic padding the batches are formed longest first; the loss is an order-free sum
/// and the scores are per example, so the report equals that of batches in dataset order (only
/// the padding, which the mask hides, differs).
///
/// # Errors
/// An empty set, labels outside the model's head, ids the model rejects.
pub fn evaluate<M: SequenceClassifier>(
    model: &M,
    data: &EncodedDataset,
    options: &BatchOptions,
    device: &Device,
) -> Result<Evaluation> {
    let model = model.clone().to_device(device);
    let max_length = options.max_length_or(model.input_spec().max_length);
    score(&model, data, |record| {
        for_each_batch(data, options, max_length, |indices, batch| {
            record(indices, log_probabilities(&model, batch, device)?);
            Ok(())
        })
    })
}

/// [`evaluate`] of the head alone on each example's cached head input (feature extraction,
/// see [`HeadInputs`]), in batches of `options.batch_size` in dataset order.
///
/// # Errors
/// An empty set, labels outside the model's head, fewer head inputs than examples.
pub fn evaluate_on_head_inputs<M: SequenceClassifier>(
    model: &M,
    data: &EncodedDataset,
    head_inputs: &HeadInputs,
    options: &BatchOptions,
    device: &Device,
) -> Result<Evaluation> {
    if head_inputs.len() != data.len() {
        return Err(TrainError::Data(format!(
            "{} cached head inputs for {} evaluation examples",
            head_inputs.len(),
            data.len()
        )));
    }
    let model = model.clone().to_device(device);
    score(&model, data, |record| {
        let order: Vec<usize> = (0..data.len()).collect();
        let batches = order.chunks(options.batch_size.max(1));
        let steps = batches.len();
        for indices in batches {
            let logits = model.forward_head(head_inputs.rows(indices, device), None);
            record(indices, log_softmax_rows(logits.logits)?);
        }
        Ok(steps)
    })
}

/// The evaluation of the log-probabilities that `batches` records per batch (the examples'
/// indices and one row each); `batches` returns the number of batches.
fn score<M: SequenceClassifier>(
    model: &M,
    data: &EncodedDataset,
    batches: impl FnOnce(&mut dyn FnMut(&[usize], Vec<Vec<f64>>)) -> Result<usize>,
) -> Result<Evaluation> {
    let started = Instant::now();
    if data.is_empty() {
        return Err(TrainError::Data("the evaluation set is empty".into()));
    }
    data.check_labels(model.num_labels(), "evaluation")?;
    let mut probabilities = vec![Vec::new(); data.len()];
    let mut total_loss = 0.0;
    let steps = batches(&mut |indices, rows| {
        for (row, &index) in rows.into_iter().zip(indices) {
            total_loss -= row[data.examples[index].label as usize];
            probabilities[index] = row.iter().map(|v| v.exp()).collect();
        }
    })?;
    let y_true: Vec<usize> = data.examples.iter().map(|e| e.label as usize).collect();
    let report = ClassificationReport::new(&y_true, &probabilities)
        .ok_or_else(|| TrainError::Data("cannot score fewer than two labels".into()))?;
    Ok(Evaluation {
        loss: total_loss / data.len() as f64,
        report,
        probabilities,
        runtime: started.elapsed().as_secs_f64(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::config::BatchPadding;
    use crate::test_support::{tiny_model, toy_data};

    #[test]
    fn scores_come_back_in_dataset_order_under_either_padding() {
        let device = Device::flex();
        let model = tiny_model(&device, 3);
        let data = toy_data(13, 3);
        let run = |padding, batch_size| {
            let options = BatchOptions {
                batch_size,
                padding,
                max_length: Some(20),
            };
            evaluate(&model, &data, &options, &device).unwrap()
        };
        let longest = run(BatchPadding::Longest, 4);
        let fixed = run(BatchPadding::MaxLength, 4);
        let one_by_one = run(BatchPadding::Longest, 1);
        assert_eq!(longest.steps, 4);
        assert_eq!(one_by_one.steps, 13);
        for other in [&fixed, &one_by_one] {
            for (a, b) in longest.probabilities.iter().zip(&other.probabilities) {
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
                }
            }
            assert!((longest.loss - other.loss).abs() < 1e-5);
        }
        assert!(longest.metrics().contains_key("eval_accuracy"));
        assert_eq!(longest.metric("loss"), Some(longest.loss));
        assert!(longest.summary().starts_with("eval_loss "));
    }

    #[test]
    fn an_empty_set_is_an_error() {
        let device = Device::flex();
        let empty = EncodedDataset {
            examples: vec![],
            pad_token_id: 0,
        };
        let err = evaluate(
            &tiny_model(&device, 2),
            &empty,
            &BatchOptions::default(),
            &device,
        )
        .unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }
}
