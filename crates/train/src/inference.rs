//! Inference: [`TextClassifier`] (tokenizer + model + label names) and the batch-level core it
//! shares with [`evaluate`](crate::evaluate()): [`logits`] and [`log_probabilities`] of one
//! padded batch, batched by [`for_each_batch`].

use std::path::Path;

use bertfit_model::{InputSpec, LoadReport, SequenceClassifier};
use bertfit_tokenize::{Tokenizer, TokenizerConfig};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::batch::{BatchOptions, EncodedDataset, HostBatch, for_each_batch};
use crate::error::{Result, TrainError};
use crate::evaluate::{Evaluation, evaluate};
use crate::features::read_f32;
use crate::metrics::argmax;

/// The logits of one padded batch, `[batch, num_labels]`: its input checked against the
/// model's [`InputSpec`], then one forward pass.
///
/// # Errors
/// [`TrainError::Model`] for ids outside the vocabulary or a batch longer than the model takes.
pub fn logits<M: SequenceClassifier, L>(
    model: &M,
    batch: &HostBatch<L>,
    device: &Device,
) -> Result<Tensor<2>> {
    let input = batch.input(model.input_spec(), device)?;
    Ok(model.forward(input, None).logits)
}

/// The log-softmax of one batch's logits (computed on the device in f32), one row per example
/// in batch order, read back as f64.
///
/// # Errors
/// As [`logits`]; [`TrainError::Backend`] when the values cannot be read back.
pub fn log_probabilities<M: SequenceClassifier, L>(
    model: &M,
    batch: &HostBatch<L>,
    device: &Device,
) -> Result<Vec<Vec<f64>>> {
    log_softmax_rows(logits(model, batch, device)?)
}

/// The log-softmax of `logits` `[batch, num_labels]` (on the device, in f32), one row per
/// example, read back as f64.
///
/// # Errors
/// [`TrainError::Backend`] when the values cannot be read back.
pub(crate) fn log_softmax_rows(logits: Tensor<2>) -> Result<Vec<Vec<f64>>> {
    let [_, cols] = logits.dims();
    let values = read_f32(log_softmax(logits, 1))?;
    Ok(values
        .chunks_exact(cols.max(1))
        .map(|row| row.iter().map(|&v| f64::from(v)).collect())
        .collect())
}

/// Checks the tokenizer cannot produce ids past the model's embeddings.
///
/// # Errors
/// [`TrainError::VocabularyMismatch`] naming both sizes.
pub fn check_vocabulary(tokenizer: &Tokenizer, spec: &InputSpec) -> Result<()> {
    if tokenizer.vocab_size() > spec.vocab_size {
        return Err(TrainError::VocabularyMismatch {
            tokenizer: tokenizer.vocab_size(),
            model: spec.vocab_size,
        });
    }
    Ok(())
}

/// One text's classification.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Id of the most probable label.
    pub label_id: usize,
    /// Its name.
    pub label: String,
    /// Softmax probability of each label, by id.
    pub probabilities: Vec<f64>,
}

/// A sequence classifier ready for text: tokenizer, model and label names.
///
/// [`predict`](Self::predict) tokenizes every text (truncated, unpadded), runs batches of
/// [`BatchOptions::batch_size`], longest first under dynamic padding (the default), and
/// returns the predictions in input order.
///
/// ```no_run
/// use bertfit_model::AutoModelForSequenceClassification;
/// use bertfit_train::TextClassifier;
/// use burn::tensor::Device;
///
/// # fn main() -> bertfit_train::Result<()> {
/// let (classifier, _report) =
///     TextClassifier::<AutoModelForSequenceClassification>::from_pretrained("models/sentiment", Device::default())?;
/// for prediction in classifier.predict(&["A wonderful film.", "Dull."])? {
///     println!("{} {:?}", prediction.label, prediction.probabilities);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TextClassifier<M> {
    model: M,
    tokenizer: Tokenizer,
    labels: Vec<String>,
    options: BatchOptions,
    device: Device,
}

impl<M: SequenceClassifier> TextClassifier<M> {
    /// Pairs `model` with `tokenizer` on `device`, batching with [`BatchOptions::default`].
    ///
    /// # Errors
    /// [`TrainError::VocabularyMismatch`] when the tokenizer's vocabulary is larger than the
    /// model's `vocab_size`; [`TrainError::Data`] for a model without labels.
    pub fn new(model: M, tokenizer: Tokenizer, device: Device) -> Result<Self> {
        check_vocabulary(&tokenizer, &model.input_spec())?;
        let labels = model.label_names();
        if labels.is_empty() {
            return Err(TrainError::Data(
                "the model has no labels (num_labels / id2label in its config.json)".into(),
            ));
        }
        Ok(Self {
            model: model.valid().to_device(&device),
            tokenizer,
            labels,
            options: BatchOptions::default(),
            device,
        })
    }

    /// Loads the model and the tokenizer of one directory (`config.json`, the weights, and
    /// `tokenizer.json` or `vocab.txt`).
    ///
    /// # Errors
    /// The model's and the tokenizer's load errors, and those of [`new`](Self::new).
    pub fn from_pretrained(dir: impl AsRef<Path>, device: Device) -> Result<(Self, LoadReport)> {
        let dir = dir.as_ref();
        let (model, report) = M::from_pretrained(dir, &device)?;
        let tokenizer = Tokenizer::from_dir(dir, TokenizerConfig::default())?;
        Ok((Self::new(model, tokenizer, device)?, report))
    }

    /// Batches as `options` says.
    ///
    /// # Errors
    /// [`TrainError::MaxLength`] for a `max_length` above the model's longest sequence.
    pub fn with_options(mut self, options: BatchOptions) -> Result<Self> {
        let spec = self.model.input_spec();
        if let Some(max_length) = options.max_length.filter(|&n| n > spec.max_length) {
            return Err(TrainError::MaxLength {
                max_length,
                limit: spec.max_length,
                key: spec.max_length_key,
            });
        }
        self.options = options;
        Ok(self)
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Label names by id.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The batching in use.
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// The truncation length: the options' `max_length`, else the model's longest sequence.
    pub fn max_length(&self) -> usize {
        self.options
            .max_length_or(self.model.input_spec().max_length)
    }

    /// Classifies `texts`; one prediction per text, in input order.
    ///
    /// # Errors
    /// The tokenizer's errors (an empty text, …), ids the model rejects.
    pub fn predict<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        let rows = EncodedDataset::unlabelled(&self.tokenizer, texts, self.max_length())?;
        self.predict_encoded(&rows)
    }

    /// Classifies text pairs, each encoded with the model's pair template (`[CLS] a [SEP] b
    /// [SEP]`, RoBERTa's `<s> a </s></s> b </s>`); in input order.
    ///
    /// # Errors
    /// As [`predict`](Self::predict).
    pub fn predict_pairs<A: AsRef<str>, B: AsRef<str>>(
        &self,
        pairs: &[(A, B)],
    ) -> Result<Vec<Prediction>> {
        let rows = EncodedDataset::unlabelled_pairs(&self.tokenizer, pairs, self.max_length())?;
        self.predict_encoded(&rows)
    }

    /// Tokenizes labelled texts for [`evaluate`](Self::evaluate).
    ///
    /// # Errors
    /// As [`EncodedDataset::encode`].
    pub fn encode<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        labels: &[i64],
    ) -> Result<EncodedDataset> {
        EncodedDataset::encode(&self.tokenizer, texts, labels, self.max_length())
    }

    /// Scores the model on `data` ([`evaluate`](crate::evaluate())) with this classifier's
    /// batching.
    ///
    /// # Errors
    /// As [`evaluate`](crate::evaluate()).
    pub fn evaluate(&self, data: &EncodedDataset) -> Result<Evaluation> {
        evaluate(&self.model, data, &self.options, &self.device)
    }

    /// The logits of tokenized rows (each `[CLS] … [SEP]`, unpadded, at most
    /// [`max_length`](Self::max_length) long; singles and pairs may mix), one row of
    /// `num_labels` per example in their order, batched as [`predict`](Self::predict) batches.
    /// For callers that tokenize themselves: a server checking each request's length first.
    ///
    /// # Errors
    /// Ids the model rejects, a row longer than the model takes; [`TrainError::Backend`] when
    /// the values cannot be read back.
    pub fn logits_encoded(&self, rows: &EncodedDataset<()>) -> Result<Vec<Vec<f32>>> {
        let cols = self.labels.len().max(1);
        let mut out = vec![Vec::new(); rows.len()];
        for_each_batch(rows, &self.options, self.max_length(), |indices, batch| {
            let values = read_f32(logits(&self.model, batch, &self.device)?)?;
            for (row, &index) in values.chunks_exact(cols).zip(indices) {
                out[index] = row.to_vec();
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Predictions of tokenized rows, in their order.
    fn predict_encoded(&self, rows: &EncodedDataset<()>) -> Result<Vec<Prediction>> {
        let mut probabilities = vec![Vec::new(); rows.len()];
        for_each_batch(rows, &self.options, self.max_length(), |indices, batch| {
            let log_probs = log_probabilities(&self.model, batch, &self.device)?;
            for (row, &index) in log_probs.into_iter().zip(indices) {
                probabilities[index] = row.iter().map(|v| v.exp()).collect();
            }
            Ok(())
        })?;
        Ok(probabilities
            .into_iter()
            .map(|probabilities| self.prediction(probabilities))
            .collect())
    }

    fn prediction(&self, probabilities: Vec<f64>) -> Prediction {
        let label_id = argmax(&probabilities);
        Prediction {
            label_id,
            label: self.labels.get(label_id).cloned().unwrap_or_default(),
            probabilities,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::config::BatchPadding;
    use crate::test_support::{seeded, tiny_model_with_vocab, vocab_tokenizer};
    use bertfit_model::AutoModelForSequenceClassification;

    const TEXTS: [&str; 5] = [
        "the film was good",
        "bad",
        "a very long and rather dull story about a man and his dog that never ends",
        "good good good",
        "the story was bad and the acting was worse",
    ];

    fn assert_close(a: &[Prediction], b: &[Prediction]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            for (p, q) in x.probabilities.iter().zip(&y.probabilities) {
                assert!((p - q).abs() < 1e-5, "{x:?} vs {y:?}");
            }
        }
    }

    fn classifier(options: BatchOptions) -> TextClassifier<AutoModelForSequenceClassification> {
        let device = Device::flex();
        TextClassifier::new(
            tiny_model_with_vocab(&device, 3, 240),
            vocab_tokenizer(),
            device,
        )
        .unwrap()
        .with_options(options)
        .unwrap()
    }

    #[test]
    fn predictions_are_in_input_order_whatever_the_batching() {
        let batched = classifier(BatchOptions {
            batch_size: 2,
            ..BatchOptions::default()
        });
        let predictions = batched.predict(&TEXTS).unwrap();
        // One text at a time: no padding at all, the input order trivially kept.
        let single = classifier(BatchOptions {
            batch_size: 1,
            ..BatchOptions::default()
        });
        let alone: Vec<Prediction> = TEXTS
            .iter()
            .flat_map(|t| single.predict(&[t]).unwrap())
            .collect();
        assert_close(&predictions, &alone);
        // Fixed-length padding in dataset order gives the same numbers.
        let fixed = classifier(BatchOptions {
            batch_size: 3,
            padding: BatchPadding::MaxLength,
            max_length: Some(24),
        });
        assert_close(&fixed.predict(&TEXTS).unwrap(), &alone);
        for p in &predictions {
            assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-5);
            assert_eq!(p.label, batched.labels()[p.label_id]);
        }
        // Distinct texts score differently: a permutation would not pass the comparison.
        assert!((predictions[1].probabilities[0] - predictions[2].probabilities[0]).abs() > 1e-6);
        assert!(batched.predict::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn pairs_are_one_sequence_each_in_input_order() {
        let batched = classifier(BatchOptions {
            batch_size: 2,
            ..BatchOptions::default()
        });
        let pairs: Vec<(&str, &str)> = TEXTS
            .iter()
            .zip(TEXTS.iter().rev())
            .map(|(a, b)| (*a, *b))
            .collect();
        let predictions = batched.predict_pairs(&pairs).unwrap();
        let single = classifier(BatchOptions {
            batch_size: 1,
            ..BatchOptions::default()
        });
        let alone: Vec<Prediction> = pairs
            .iter()
            .flat_map(|p| single.predict_pairs(&[*p]).unwrap())
            .collect();
        assert_close(&predictions, &alone);
        let texts = batched.predict(&TEXTS).unwrap();
        assert!((predictions[0].probabilities[0] - texts[0].probabilities[0]).abs() > 1e-7);
    }

    /// Logits of rows tokenized by the caller, singles and pairs mixed, are in input order and
    /// give `predict`'s probabilities under a softmax.
    #[test]
    fn logits_of_encoded_rows_are_in_input_order_and_softmax_to_predict() {
        let c = classifier(BatchOptions {
            batch_size: 2,
            ..BatchOptions::default()
        });
        let singles = EncodedDataset::unlabelled(c.tokenizer(), &TEXTS, c.max_length()).unwrap();
        let pairs =
            EncodedDataset::unlabelled_pairs(c.tokenizer(), &[(TEXTS[0], TEXTS[1])], 64).unwrap();
        let mut rows = singles.clone();
        rows.examples.insert(1, pairs.examples[0].clone());
        let logits = c.logits_encoded(&rows).unwrap();
        assert_eq!(logits.len(), TEXTS.len() + 1);
        let mut expected = c.predict(&TEXTS).unwrap();
        expected.insert(
            1,
            c.predict_pairs(&[(TEXTS[0], TEXTS[1])]).unwrap().remove(0),
        );
        for (row, p) in logits.iter().zip(&expected) {
            let max = row.iter().copied().fold(f32::MIN, f32::max);
            let exp: Vec<f64> = row.iter().map(|&v| f64::from(v - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            for (e, q) in exp.iter().zip(&p.probabilities) {
                assert!((e / sum - q).abs() < 1e-6, "{row:?} vs {p:?}");
            }
        }
    }

    #[test]
    fn a_tokenizer_larger_than_the_embeddings_is_refused_naming_both_sizes() {
        let device = Device::flex();
        let err = TextClassifier::new(
            tiny_model_with_vocab(&device, 2, 100),
            vocab_tokenizer(),
            device,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            TrainError::VocabularyMismatch {
                tokenizer: 240,
                model: 100
            }
        ));
        let message = err.to_string();
        assert!(
            message.contains("240")
                && message.contains("100")
                && message.contains("tokenizer saved with the model"),
            "{message}"
        );
    }

    #[test]
    fn max_length_beyond_the_position_embeddings_is_refused() {
        let device = Device::flex();
        let err = TextClassifier::new(
            tiny_model_with_vocab(&device, 2, 240),
            vocab_tokenizer(),
            device,
        )
        .unwrap()
        .with_options(BatchOptions {
            max_length: Some(65),
            ..BatchOptions::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("max_position_embeddings (64)"),
            "{err}"
        );
    }

    #[test]
    fn evaluation_through_the_classifier_equals_the_free_function() {
        let c = classifier(BatchOptions::default());
        let data = c.encode(&TEXTS, &[0, 1, 2, 0, 1]).unwrap();
        let ours = c.evaluate(&data).unwrap();
        let direct = evaluate(c.model(), &data, c.options(), &Device::flex()).unwrap();
        assert_eq!(ours.loss.to_bits(), direct.loss.to_bits());
        let predicted = c.predict(&TEXTS).unwrap();
        for (p, q) in predicted.iter().zip(&ours.probabilities) {
            assert_eq!(&p.probabilities, q);
        }
    }

    /// Every architecture's fixture directory (model + its own kind of tokenizer) loads through
    /// the dispatch and predicts the same whatever the batching.
    #[test]
    fn every_architecture_predicts_in_input_order() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures");
        for name in ["distilbert", "roberta", "xlm_roberta", "electra"] {
            let dir = fixtures.join(name);
            let load = |batch_size| {
                let device = Device::flex();
                let (c, _) = seeded(&device, 0, || {
                    TextClassifier::<AutoModelForSequenceClassification>::from_pretrained(
                        &dir,
                        device.clone(),
                    )
                    .unwrap()
                });
                c.with_options(BatchOptions {
                    batch_size,
                    ..BatchOptions::default()
                })
                .unwrap()
            };
            let batched = load(4).predict(&TEXTS).unwrap();
            let single = load(1);
            let alone: Vec<Prediction> = TEXTS
                .iter()
                .flat_map(|t| single.predict(&[t]).unwrap())
                .collect();
            assert_close(&batched, &alone);
        }
    }
}
