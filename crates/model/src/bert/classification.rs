//! [`BertForSequenceClassification`]: the encoder, dropout and a linear head over the pooler.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::config::BertConfig;
use super::model::BertModel;
use crate::error::Result;
use crate::input::BertInput;
use crate::nn::{self, init};
use crate::task::{SequenceClassifierOutput, check_labels};

/// BERT with a classification head (HF `BertForSequenceClassification`): pooler → dropout →
/// `Linear(hidden_size, num_labels)`, trained with cross-entropy.
#[derive(Module, Debug)]
pub struct BertForSequenceClassification {
    /// The encoder (HF `bert`).
    pub bert: BertModel,
    /// Dropout before the classifier (`classifier_dropout`, else `hidden_dropout_prob`).
    pub dropout: Dropout,
    /// The head (HF `classifier`).
    pub classifier: Linear,
    /// The configuration the model was built from, written back by `save_pretrained`.
    #[module(skip)]
    pub config: BertConfig,
}

impl BertForSequenceClassification {
    /// Builds a randomly initialised model; the head is N(0, initializer_range) with zero bias.
    ///
    /// # Errors
    /// [`ModelError::InvalidConfig`](crate::ModelError::InvalidConfig) if the config does not validate.
    pub fn new(config: &BertConfig, device: &Device) -> Result<Self> {
        let bert = BertModel::new(config, device)?;
        Ok(Self {
            bert,
            dropout: DropoutConfig::new(config.classifier_dropout_prob()).init(),
            classifier: init::linear(
                config.hidden_size,
                config.num_labels(),
                config.initializer_range,
                device,
            ),
            config: config.clone(),
        })
    }

    /// Number of labels of the head.
    pub fn num_labels(&self) -> usize {
        self.config.num_labels()
    }

    /// Classifies a batch; with `labels`, also returns the mean cross-entropy loss.
    ///
    /// Dropout is active only when the model lives on an autodiff device and is in training
    /// mode (see [`burn::module::Module::train`]); inference is deterministic.
    ///
    /// # Shapes
    /// - `input`: `[batch, seq_len]` tensors
    /// - `labels`: `[batch]`, each in `0..num_labels` (use [`Self::labels`] to build them checked)
    /// - `logits`: `[batch, num_labels]`
    pub fn forward(
        &self,
        input: BertInput,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        // The head reads the pooler alone: without hidden states, the last layer runs for
        // [CLS] only.
        let (first, hidden_states) = self.bert.forward_head_input(input);
        SequenceClassifierOutput {
            hidden_states,
            ..self.forward_head(first, labels)
        }
    }

    /// The head alone (pooler → dropout → classifier) on the `[CLS]` token's last hidden
    /// state, `[batch, hidden_size]`: what [`forward`](Self::forward) does after the encoder.
    pub fn forward_head(
        &self,
        first: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> SequenceClassifierOutput {
        let pooled = self.bert.pooler.forward_first(first);
        let logits = nn::linear(&self.classifier, self.dropout.forward(pooled.clone()));
        SequenceClassifierOutput::new(logits, labels, pooled, None)
    }

    /// Softmax probabilities per label, `[batch, num_labels]`.
    pub fn predict_proba(&self, input: BertInput) -> Tensor<2> {
        softmax(self.forward(input, None).logits, 1)
    }

    /// Builds a label tensor, checking every label is in `0..num_labels`.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] naming the first label out of range.
    pub fn labels(&self, labels: &[i64], device: &Device) -> Result<Tensor<1, Int>> {
        check_labels(labels, &self.config.labels()?, device)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::task::cross_entropy;

    fn tiny_config() -> BertConfig {
        BertConfig::tiny_for_tests()
    }

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    fn model(device: &Device) -> BertForSequenceClassification {
        device.seed(7);
        BertForSequenceClassification::new(&tiny_config(), device).unwrap()
    }

    fn input(ids: &[i64], mask: &[i64], device: &Device) -> BertInput {
        let n = ids.len();
        BertInput::from_slices(ids, Some(mask), None, [1, n], &tiny_config(), device).unwrap()
    }

    #[test]
    fn padding_tokens_do_not_change_real_positions() {
        let device = Device::flex();
        let model = model(&device);
        let a = model.forward(
            input(&[2, 5, 9, 3, 0, 0], &[1, 1, 1, 1, 0, 0], &device).with_hidden_states(true),
            None,
        );
        let b = model.forward(
            input(&[2, 5, 9, 3, 17, 41], &[1, 1, 1, 1, 0, 0], &device).with_hidden_states(true),
            None,
        );
        let diff = |x: &[f32], y: &[f32]| {
            x.iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max)
        };
        assert!(diff(&values(&a.logits), &values(&b.logits)) < 1e-6);
        let last = |o: &SequenceClassifierOutput| {
            values(o.hidden_states.as_ref().unwrap().last().unwrap())[..4 * 16].to_vec()
        };
        assert!(diff(&last(&a), &last(&b)) < 1e-5);
        // Without the mask the padding does change the result.
        let c = model.forward(
            input(&[2, 5, 9, 3, 17, 41], &[1; 6], &device).with_hidden_states(true),
            None,
        );
        assert!(diff(&last(&a), &last(&c)) > 1e-3);
    }

    #[test]
    fn the_head_on_the_head_input_is_the_forward_pass() {
        let device = Device::flex();
        let model = model(&device);
        let ids = [2, 5, 9, 3, 17, 0];
        let mask = [1, 1, 1, 1, 1, 0];
        let split = model.forward_head(
            model.bert.forward_head_input(input(&ids, &mask, &device)).0,
            None,
        );
        let direct = model.forward(input(&ids, &mask, &device), None);
        assert_eq!(values(&split.logits), values(&direct.logits));
        // The full last layer (hidden states asked for) agrees up to rounding.
        let full = model.forward(input(&ids, &mask, &device).with_hidden_states(true), None);
        let (a, b) = (values(&split.logits), values(&full.logits));
        assert!(
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6),
            "{a:?} vs {b:?}"
        );
        assert_eq!(values(&split.pooler_output), values(&direct.pooler_output));
    }

    #[test]
    fn a_mask_of_all_ones_is_dropped_and_changes_nothing() {
        let ids = [2, 5, 9, 3];
        // No dropout, so that the autodiff device (the training path) is deterministic too.
        let config = BertConfig {
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            ..tiny_config()
        };
        for device in [Device::flex(), Device::flex().autodiff()] {
            device.seed(7);
            let model = BertForSequenceClassification::new(&config, &device).unwrap();
            let ones = input(&ids, &[1; 4], &device);
            assert!(ones.attention_bias().is_none());
            assert!(
                input(&ids, &[1, 1, 1, 0], &device)
                    .attention_bias()
                    .is_some()
            );
            // Unmasked (fused attention at inference, no mask add in training) against the same
            // four tokens followed by two masked pads, which take the masked path.
            let unmasked = model.forward(ones, None);
            let padded = model.forward(
                input(&[2, 5, 9, 3, 0, 0], &[1, 1, 1, 1, 0, 0], &device),
                None,
            );
            let bare = model.forward(
                BertInput::from_slices(&ids, None, None, [1, 4], &tiny_config(), &device).unwrap(),
                None,
            );
            let (u, p, b) = (
                values(&unmasked.logits),
                values(&padded.logits),
                values(&bare.logits),
            );
            for i in 0..2 {
                assert!((u[i] - p[i]).abs() < 1e-5, "{u:?} vs {p:?}");
                assert_eq!(u[i], b[i]);
            }
        }
    }

    /// Every float parameter's gradient, in visiting order.
    struct GradientValues<'a> {
        grads: &'a burn::optim::GradientsParams,
        values: Vec<Vec<f32>>,
    }

    impl burn::module::ModuleVisitor for GradientValues<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let values = self
                .grads
                .get::<D>(param.id)
                .map(|g| values(&g))
                .unwrap_or_default();
            self.values.push(values);
        }
    }

    #[test]
    fn the_first_token_path_equals_the_full_encoder() {
        // Three rows, two of them padded; dropout off so that the training path is
        // deterministic. `with_hidden_states(true)` takes the full encoder (every position of
        // every layer), the default the [CLS]-only last layer.
        let config = BertConfig {
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            num_hidden_layers: 3,
            ..tiny_config()
        };
        let ids = [2, 5, 9, 3, 0, 0, 2, 7, 7, 8, 9, 3, 2, 4, 3, 0, 0, 0];
        let mask = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
        for device in [Device::flex(), Device::flex().autodiff()] {
            // Built on flex and moved, as the trainer does, so that the weights are leaves.
            Device::flex().seed(11);
            let model = BertForSequenceClassification::new(&config, &Device::flex())
                .unwrap()
                .to_device(&device)
                .train();
            let batch =
                BertInput::from_slices(&ids, Some(&mask), None, [3, 6], &config, &device).unwrap();
            let labels = model.labels(&[1, 0, 1], &device).unwrap();
            // burn frees the graph on backward: each path runs its forward, then its backward.
            let run = |input: BertInput| {
                let output = model.forward(input, Some(labels.clone()));
                let grads = device.is_autodiff().then(|| {
                    let loss = output.loss.clone().unwrap();
                    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
                    let mut visitor = GradientValues {
                        grads: &grads,
                        values: Vec::new(),
                    };
                    model.visit(&mut visitor);
                    visitor.values
                });
                (output, grads)
            };
            let (fast, fast_grads) = run(batch.clone());
            let (full, full_grads) = run(batch.with_hidden_states(true));
            assert!(fast.hidden_states.is_none());
            let (a, b) = (values(&fast.logits), values(&full.logits));
            assert_eq!(a.len(), 6);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-6, "logits {a:?} vs {b:?}");
            }
            // The pooler saw the last layer's [CLS] row of the full encoder.
            let pooled = values(&fast.pooler_output);
            let pooled_full = values(&full.pooler_output);
            assert!(
                pooled
                    .iter()
                    .zip(&pooled_full)
                    .all(|(x, y)| (x - y).abs() < 1e-6)
            );
            if let (Some(fast), Some(full)) = (fast_grads, full_grads) {
                assert_eq!(fast.len(), full.len());
                // Every parameter gets a gradient on both paths, the last layer's query
                // projection and feed-forward block included.
                assert!(fast.iter().all(|g| !g.is_empty()));
                let worst = fast
                    .iter()
                    .flatten()
                    .zip(full.iter().flatten())
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                let largest = full.iter().flatten().fold(0.0f32, |m, g| m.max(g.abs()));
                assert!(largest > 1e-3, "gradients too small to compare: {largest}");
                assert!(worst < 1e-6, "gradients differ by up to {worst}");
            } else {
                assert!(!device.is_autodiff());
            }
        }
    }

    #[test]
    fn dropout_is_active_in_training_only() {
        let device = Device::flex().autodiff();
        let model = model(&device);
        let run = |m: &BertForSequenceClassification| {
            values(
                &m.forward(input(&[2, 5, 9, 3], &[1; 4], &device), None)
                    .logits,
            )
        };
        let (first, second) = (run(&model), run(&model));
        assert_ne!(
            first, second,
            "training forward passes must draw different dropout masks"
        );
        let eval = model.valid();
        assert_eq!(run(&eval), run(&eval), "inference must be deterministic");
    }

    #[test]
    fn fresh_weights_follow_hf_initialisation() {
        let device = Device::flex();
        let model = model(&device);
        let weight = values(&model.classifier.weight.val());
        let n = weight.len() as f32;
        let mean = weight.iter().sum::<f32>() / n;
        let std = (weight.iter().map(|w| (w - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!((std - 0.02).abs() < 0.01, "classifier std {std}");
        assert!(
            values(&model.classifier.bias.as_ref().unwrap().val())
                .iter()
                .all(|b| *b == 0.0)
        );
        let words = values(&model.bert.embeddings.word_embeddings.weight.val());
        assert!(
            words[..16].iter().all(|w| *w == 0.0),
            "pad_token_id row must be zero"
        );
        assert!(words[16..32].iter().any(|w| *w != 0.0));
        let gamma = values(&model.bert.embeddings.layer_norm.gamma.val());
        assert!(gamma.iter().all(|g| *g == 1.0));
    }

    #[test]
    fn cross_entropy_matches_the_formula() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0], [2, 3]),
            &device,
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 2], [2]), &device);
        let loss = values(&cross_entropy(logits, labels))[0];
        let lse = |xs: [f32; 3]| xs.iter().map(|x| x.exp()).sum::<f32>().ln();
        let expected = ((lse([1.0, 2.0, 0.5]) - 2.0) + (lse([-1.0, 0.0, 3.0]) - 3.0)) / 2.0;
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }

    #[test]
    fn activations_follow_their_formulas() {
        use crate::HiddenAct;
        let device = Device::flex();
        let xs = [-3.0f32, -0.5, 0.0, 0.7, 2.5];
        let x = Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [5]), &device);
        let erf_gelu = [
            -0.004_049_694_f32,
            -0.154_268_77,
            0.0,
            0.530_625_4,
            2.484_475_8,
        ];
        let tanh_gelu = |v: f32| {
            0.5 * v
                * (1.0 + ((2.0 / std::f32::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
        };
        for (got, want) in values(&HiddenAct::Gelu.forward(x.clone()))
            .iter()
            .zip(erf_gelu)
        {
            assert!((got - want).abs() < 1e-5, "gelu {got} vs {want}");
        }
        for (got, v) in values(&HiddenAct::GeluNew.forward(x.clone()))
            .iter()
            .zip(xs)
        {
            assert!(
                (got - tanh_gelu(v)).abs() < 1e-5,
                "gelu_new {got} vs {}",
                tanh_gelu(v)
            );
        }
        assert_eq!(
            values(&HiddenAct::Relu.forward(x)),
            [0.0, 0.0, 0.0, 0.7, 2.5]
        );
    }
}
