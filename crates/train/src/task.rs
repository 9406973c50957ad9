//! [`Task`]: what one batch does in training and what an evaluation reports, the trait the
//! [`Trainer`](crate::Trainer) loop is generic over (burn-train's `TrainStep` and `ValidStep`),
//! and [`SequenceClassification`], its implementation for one label per text.
//!
//! The loop schedules, accumulates, clips, steps, logs, evaluates and checkpoints; it knows a
//! model only as a burn [`Module`] and a dataset only as [`EncodedDataset`]s of the task's
//! [`Label`](Task::Label). A task with another label (one class per token, for token
//! classification) is another implementation; the loop stays as it is.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::path::Path;

use bertfit_model::peft::{self, LoraConfig};
use bertfit_model::{EncoderParts, SequenceClassifier};
use burn::module::Module;
use burn::prelude::*;
use serde_json::{Map, Value};

use crate::batch::{BatchOptions, EncodedDataset, HostBatch};
use crate::error::{Result, TrainError};
use crate::evaluate::{Evaluation, evaluate, evaluate_on_head_inputs};
use crate::features::HeadInputs;

/// A training task: the model it trains, the label of one example, and how a batch becomes a
/// loss ([`train_step`](Self::train_step)) and a dataset an evaluation
/// ([`evaluate`](Self::evaluate)).
pub trait Task {
    /// The model trained (any [`SequenceClassifier`] for [`SequenceClassification`]).
    type Model: Module;
    /// The label of one example: a class id (`i64`) for sequence classification.
    type Label: Clone + Send + Sync + Debug;
    /// What an evaluation reports: the loss and the task's metrics.
    type Evaluation: EvalMetrics;

    /// Loads a model directory written by [`save`](Self::save) (a checkpoint, the best model).
    ///
    /// # Errors
    /// The model crate's load errors.
    fn load(&self, dir: &Path, device: &Device) -> Result<Self::Model>;

    /// Writes `model` as a Hugging Face model directory.
    ///
    /// # Errors
    /// The model crate's save errors.
    fn save(&self, model: &Self::Model, dir: &Path) -> Result<()>;

    /// Attaches LoRA adapters to `model` per `lora` (PEFT's `get_peft_model`), or, for a model
    /// that has them already, sets which of its parameters train as PEFT would.
    ///
    /// # Errors
    /// A target module the architecture lacks, settings not supported.
    fn get_peft_model(&self, model: Self::Model, lora: &LoraConfig) -> Result<Self::Model>;

    /// Writes `model`'s adapters and trained head as a PEFT adapter directory.
    ///
    /// # Errors
    /// The model crate's save errors.
    fn save_adapter(&self, model: &Self::Model, lora: &LoraConfig, dir: &Path) -> Result<()>;

    /// Sets the adapters and trained head of `model` (adapted per `lora`) from the PEFT adapter
    /// directory `dir` (a checkpoint of a LoRA run, its best model).
    ///
    /// # Errors
    /// Missing adapter files, or an adapter that does not fit `model`.
    fn load_adapter(
        &self,
        model: Self::Model,
        lora: &LoraConfig,
        dir: &Path,
    ) -> Result<Self::Model>;

    /// The longest sequence `model` takes: the default truncation and padding length.
    fn max_length(&self, model: &Self::Model) -> usize;

    /// `model`'s embeddings and encoder layers, which partial fine-tuning freezes.
    fn encoder_parts(&self, model: &Self::Model) -> EncoderParts;

    /// Checks every example's label fits `model`; `what` ("training", "evaluation") names the
    /// set in the error.
    ///
    /// # Errors
    /// [`TrainError::Data`] naming the first bad example.
    fn check_labels(
        &self,
        model: &Self::Model,
        data: &EncodedDataset<Self::Label>,
        what: &str,
    ) -> Result<()>;

    /// The mean loss of one micro-batch, `[1]`, with its graph for the backward pass
    /// (burn-train's `TrainStep`). The model is in training mode on an autodiff device.
    ///
    /// # Errors
    /// Ids or labels the model rejects.
    fn train_step(
        &self,
        model: &Self::Model,
        batch: &HostBatch<Self::Label>,
        device: &Device,
    ) -> Result<Tensor<1>>;

    /// The encoder output the head reads for one batch, `[batch, width]`: what feature
    /// extraction caches ([`HeadInputs`]). The trainer calls it with the frozen model on the
    /// inference device.
    ///
    /// # Errors
    /// Ids the model rejects.
    fn head_input(
        &self,
        model: &Self::Model,
        batch: &HostBatch<Self::Label>,
        device: &Device,
    ) -> Result<Tensor<2>>;

    /// [`train_step`](Self::train_step) of the head alone on the batch's cached head inputs
    /// (`[batch, width]`, from [`head_input`](Self::head_input)) and labels.
    ///
    /// # Errors
    /// Labels the model rejects.
    fn train_step_on_head_inputs(
        &self,
        model: &Self::Model,
        head_inputs: Tensor<2>,
        labels: &[Self::Label],
        device: &Device,
    ) -> Result<Tensor<1>>;

    /// [`evaluate`](Self::evaluate) of the head alone on `data`'s cached head inputs.
    ///
    /// # Errors
    /// An empty set, bad labels.
    fn evaluate_on_head_inputs(
        &self,
        model: &Self::Model,
        data: &EncodedDataset<Self::Label>,
        head_inputs: &HeadInputs,
        options: &BatchOptions,
        device: &Device,
    ) -> Result<Self::Evaluation>;

    /// Scores `model` on `data` (burn-train's `ValidStep` over every batch, then the metrics).
    ///
    /// # Errors
    /// An empty set, bad labels or ids.
    fn evaluate(
        &self,
        model: &Self::Model,
        data: &EncodedDataset<Self::Label>,
        options: &BatchOptions,
        device: &Device,
    ) -> Result<Self::Evaluation>;
}

/// What the trainer reads from an evaluation: the metrics it logs, the one that picks the best
/// model, and a line for the progress output.
pub trait EvalMetrics: Clone + Debug {
    /// The names [`metric`](Self::metric) knows, for error messages.
    const NAMES: &'static [&'static str];

    /// HF's metrics dict: `eval_loss`, `eval_accuracy`, …, `eval_runtime`.
    fn metrics(&self) -> Map<String, Value>;

    /// A metric by name without its `eval_` prefix (`loss`, `accuracy`, …).
    fn metric(&self, name: &str) -> Option<f64>;

    /// One line for people: `eval_loss 0.1234 accuracy 0.9000 f1 0.8889`.
    fn summary(&self) -> String;
}

/// One label per text (HF's `…ForSequenceClassification` with single-label cross-entropy),
/// for any [`SequenceClassifier`].
#[derive(Debug, Clone, Copy)]
pub struct SequenceClassification<M> {
    model: PhantomData<fn() -> M>,
}

impl<M> SequenceClassification<M> {
    /// The task for models of type `M`.
    pub fn new() -> Self {
        Self { model: PhantomData }
    }
}

impl<M> Default for SequenceClassification<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: SequenceClassifier> Task for SequenceClassification<M> {
    type Model = M;
    type Label = i64;
    type Evaluation = Evaluation;

    fn load(&self, dir: &Path, device: &Device) -> Result<M> {
        Ok(M::from_pretrained(dir, device)?.0)
    }

    fn save(&self, model: &M, dir: &Path) -> Result<()> {
        Ok(model.save_pretrained(dir)?)
    }

    fn get_peft_model(&self, model: M, lora: &LoraConfig) -> Result<M> {
        Ok(if peft::has_adapters(&model) {
            peft::set_trainable(model, lora)?
        } else {
            peft::get_peft_model(model, lora)?
        })
    }

    fn save_adapter(&self, model: &M, lora: &LoraConfig, dir: &Path) -> Result<()> {
        Ok(peft::save_adapter(model, lora, dir)?)
    }

    fn load_adapter(&self, model: M, lora: &LoraConfig, dir: &Path) -> Result<M> {
        Ok(peft::load_adapter_weights(model, lora, dir)?)
    }

    fn max_length(&self, model: &M) -> usize {
        model.input_spec().max_length
    }

    fn encoder_parts(&self, model: &M) -> EncoderParts {
        model.encoder_parts()
    }

    fn check_labels(&self, model: &M, data: &EncodedDataset, what: &str) -> Result<()> {
        data.check_labels(model.num_labels(), what)
    }

    fn train_step(&self, model: &M, batch: &HostBatch, device: &Device) -> Result<Tensor<1>> {
        let (input, labels) = batch.to_tensors(model, device)?;
        model
            .forward(input, Some(labels))
            .loss
            .ok_or_else(|| TrainError::Backend("the model returned no loss for labels".into()))
    }

    fn head_input(&self, model: &M, batch: &HostBatch, device: &Device) -> Result<Tensor<2>> {
        Ok(model.head_input(batch.input(model.input_spec(), device)?))
    }

    fn train_step_on_head_inputs(
        &self,
        model: &M,
        head_inputs: Tensor<2>,
        labels: &[i64],
        device: &Device,
    ) -> Result<Tensor<1>> {
        let labels = model.labels(labels, device)?;
        model
            .forward_head(head_inputs, Some(labels))
            .loss
            .ok_or_else(|| TrainError::Backend("the model returned no loss for labels".into()))
    }

    fn evaluate_on_head_inputs(
        &self,
        model: &M,
        data: &EncodedDataset,
        head_inputs: &HeadInputs,
        options: &BatchOptions,
        device: &Device,
    ) -> Result<Evaluation> {
        evaluate_on_head_inputs(model, data, head_inputs, options, device)
    }

    fn evaluate(
        &self,
        model: &M,
        data: &EncodedDataset,
        options: &BatchOptions,
        device: &Device,
    ) -> Result<Evaluation> {
        evaluate(model, data, options, device)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::batch::Example;
    use crate::config::BatchPadding;
    use crate::test_support::{seeded, tiny_model, toy_data};
    use bertfit_model::AutoModelForSequenceClassification;

    #[test]
    fn the_train_step_is_the_models_loss_on_the_padded_batch() {
        let device = Device::flex();
        let model = tiny_model(&device, 3);
        let data = toy_data(6, 3);
        let batch = data.collate(&[0, 1, 2, 3], BatchPadding::Longest, 64);
        let task = SequenceClassification::<AutoModelForSequenceClassification>::new();
        let loss = task.train_step(&model, &batch, &device).unwrap();
        let (input, labels) = batch.to_tensors(&model, &device).unwrap();
        let expected = model.forward(input, Some(labels)).loss.unwrap();
        assert_eq!(
            loss.into_scalar::<f32>().to_bits(),
            expected.into_scalar::<f32>().to_bits()
        );
        assert_eq!(task.max_length(&model), 64);
    }

    #[test]
    fn labels_outside_the_head_are_refused_with_the_example() {
        let device = Device::flex();
        let model = tiny_model(&device, 2);
        let mut data = toy_data(4, 2);
        data.examples[2] = Example {
            label: 5,
            ..data.examples[2].clone()
        };
        let task = SequenceClassification::new();
        let err = task.check_labels(&model, &data, "training").unwrap_err();
        assert!(
            err.to_string().contains("training example 2 has label 5"),
            "{err}"
        );
        let err = task
            .evaluate(&model, &data, &BatchOptions::default(), &device)
            .unwrap_err();
        assert!(err.to_string().contains("evaluation example 2"), "{err}");
    }

    #[test]
    fn a_model_saved_by_the_task_loads_back_identical() {
        let device = Device::flex();
        let model = tiny_model(&device, 2);
        let dir = tempfile::tempdir().unwrap();
        let task = SequenceClassification::new();
        task.save(&model, dir.path()).unwrap();
        // Loading initialises a model first: under the RNG lock, like every draw in these tests.
        let loaded = seeded(&device, 0, || task.load(dir.path(), &device).unwrap());
        let data = toy_data(5, 2);
        let options = BatchOptions::default();
        let (a, b) = (
            task.evaluate(&model, &data, &options, &device).unwrap(),
            task.evaluate(&loaded, &data, &options, &device).unwrap(),
        );
        assert_eq!(a.probabilities, b.probabilities);
        assert_eq!(a.loss.to_bits(), b.loss.to_bits());
    }
}
