//! Feature extraction's cache: [`HeadInputs`], each example's encoder output that the head
//! reads, computed once per run.
//!
//! With `train_layers` `head` the encoder is frozen, and frozen layers run as at inference
//! (burn's [`Dropout`](burn::nn::Dropout) is off in a frozen subtree), so what the head reads
//! from them ([`SequenceClassifier::head_input`](bertfit_model::SequenceClassifier::head_input),
//! the first token's last hidden state) is a fixed function of the example. The trainer
//! computes it once for the training and evaluation sets, at inference and in length-sorted
//! batches, and every step and evaluation after that runs the head alone: epochs cost only the
//! head. HF's `Trainer` runs the frozen encoder again at every step.
//!
//! The cached rows equal what the full forward computes up to float rounding (other padding
//! lengths, the inference attention kernel), so a cached run's losses agree with an uncached
//! one's to about 1e-6, not bit for bit. A cached run is itself deterministic, and a resumed
//! one extracts the same rows again and ends bit-identical to an uninterrupted one.

use burn::prelude::*;

use crate::batch::{BatchOptions, EncodedDataset, for_each_batch};
use crate::error::{Result, TrainError};
use crate::task::Task;

/// Each example's head input (`[examples, width]`, row-major, in dataset order).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadInputs {
    width: usize,
    values: Vec<f32>,
}

impl HeadInputs {
    /// Computes every example's head input with `model` (on the inference `device`), in the
    /// batches `options` makes ([`for_each_batch`]); `progress` is called with the number of
    /// examples done after each batch.
    ///
    /// # Errors
    /// Ids the model rejects; [`TrainError::Backend`] when values cannot be read back.
    pub fn extract<T: Task>(
        task: &T,
        model: &T::Model,
        data: &EncodedDataset<T::Label>,
        options: &BatchOptions,
        max_length: usize,
        device: &Device,
        mut progress: impl FnMut(usize),
    ) -> Result<Self> {
        let mut rows: Vec<Vec<f32>> = vec![Vec::new(); data.len()];
        let mut width = 0;
        for_each_batch(data, options, max_length, |indices, batch| {
            let features = task.head_input(model, batch, device)?;
            let [_, w] = features.dims();
            width = w;
            let values = read_f32(features)?;
            for (row, &index) in values.chunks_exact(w.max(1)).zip(indices) {
                rows[index] = row.to_vec();
            }
            progress(indices.len());
            Ok(())
        })?;
        Ok(Self {
            width,
            values: rows.concat(),
        })
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The width of one row (the encoder's hidden size).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The rows of `indices`, in that order, as a `[indices.len(), width]` tensor on `device`.
    ///
    /// # Panics
    /// If an index is not below [`len`](Self::len) (the trainer passes its dataset's).
    pub fn rows(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        let w = self.width;
        let mut values = Vec::with_capacity(indices.len() * w);
        for &i in indices {
            values.extend_from_slice(&self.values[i * w..(i + 1) * w]);
        }
        Tensor::from_data(TensorData::new(values, [indices.len(), w]), device)
    }
}

/// A tensor's values as f32, in row-major order.
pub(crate) fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Backend(format!("{e:?}")))
}
