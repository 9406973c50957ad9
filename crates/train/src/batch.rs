//! Tokenized examples, their batching (padding) and the order they are visited in.

use bertfit_model::{EncoderInput, InputSpec, SequenceClassifier};
use bertfit_tokenize::{BatchEncoding, PaddingStrategy, Tokenizer};
use burn::prelude::*;

use crate::config::{BatchPadding, TrainingConfig};
use crate::error::{Result, TrainError};

/// One tokenized example (unpadded; the attention mask is implied) with its label: a class id
/// (`i64`, the default) for sequence classification, `()` for unlabelled text to predict on;
/// a task with per-token labels uses its own label type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example<L = i64> {
    /// Token ids, `[CLS] … [SEP]`, truncated to the run's `max_length`.
    pub input_ids: Vec<u32>,
    /// Segment ids, same length as `input_ids`.
    pub token_type_ids: Vec<u32>,
    /// The label.
    pub label: L,
}

/// A tokenized dataset: the examples and the pad id to batch them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedDataset<L = i64> {
    /// The examples, in dataset order.
    pub examples: Vec<Example<L>>,
    /// Id of the padding token.
    pub pad_token_id: u32,
}

impl<L> EncodedDataset<L> {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    /// Token count of each example, in dataset order.
    pub fn lengths(&self) -> Vec<usize> {
        self.examples.iter().map(|e| e.input_ids.len()).collect()
    }

    /// The examples at `indices`, padded into one batch.
    pub fn collate(
        &self,
        indices: &[usize],
        padding: BatchPadding,
        max_length: usize,
    ) -> HostBatch<L>
    where
        L: Clone,
    {
        let examples: Vec<&Example<L>> = indices.iter().map(|&i| &self.examples[i]).collect();
        HostBatch::collate(&examples, padding, max_length, self.pad_token_id)
    }
}

impl EncodedDataset<()> {
    /// Tokenizes `texts` (truncated to `max_length`, unpadded) without labels, for prediction.
    ///
    /// # Errors
    /// The tokenizer's errors (empty text, …) as [`TrainError::Tokenize`].
    pub fn unlabelled<S: AsRef<str> + Sync>(
        tokenizer: &Tokenizer,
        texts: &[S],
        max_length: usize,
    ) -> Result<Self> {
        unpadded(tokenizer, max_length, |t| t.encode_batch(texts))
    }

    /// Tokenizes text pairs as `[CLS] a [SEP] b [SEP]` (the model's own template; truncated
    /// longest first to `max_length`, unpadded) without labels.
    ///
    /// # Errors
    /// As [`unlabelled`](Self::unlabelled).
    pub fn unlabelled_pairs<A: AsRef<str>, B: AsRef<str>>(
        tokenizer: &Tokenizer,
        pairs: &[(A, B)],
        max_length: usize,
    ) -> Result<Self> {
        unpadded(tokenizer, max_length, |t| t.encode_pairs(pairs))
    }

    /// These examples with `labels`, one per example.
    ///
    /// # Errors
    /// [`TrainError::Data`] when the counts differ or a label is negative.
    pub fn with_labels(self, labels: &[i64]) -> Result<EncodedDataset> {
        check_label_list(self.len(), labels)?;
        let examples = self
            .examples
            .into_iter()
            .zip(labels)
            .map(|(e, &label)| Example {
                input_ids: e.input_ids,
                token_type_ids: e.token_type_ids,
                label,
            })
            .collect();
        Ok(EncodedDataset {
            examples,
            pad_token_id: self.pad_token_id,
        })
    }
}

/// Checks there is one label per text and none is negative.
fn check_label_list(texts: usize, labels: &[i64]) -> Result<()> {
    if texts != labels.len() {
        return Err(TrainError::Data(format!(
            "{texts} texts but {} labels",
            labels.len()
        )));
    }
    match labels.iter().enumerate().find(|(_, l)| **l < 0) {
        Some((i, label)) => Err(TrainError::Data(format!(
            "label {label} of example {i} is negative (unlabelled rows such as IMDB's `unsupervised` split cannot be trained on)"
        ))),
        None => Ok(()),
    }
}

/// Encodes with a copy of `tokenizer` set to truncate at `max_length` and not to pad.
fn unpadded(
    tokenizer: &Tokenizer,
    max_length: usize,
    encode: impl FnOnce(&Tokenizer) -> bertfit_tokenize::Result<BatchEncoding>,
) -> Result<EncodedDataset<()>> {
    let mut tokenizer = tokenizer.clone();
    let config = tokenizer
        .config()
        .clone()
        .with_max_length(max_length)
        .with_padding(PaddingStrategy::None);
    tokenizer.set_config(config)?;
    let encoding = encode(&tokenizer)?;
    let examples = encoding
        .input_ids
        .into_iter()
        .zip(encoding.token_type_ids)
        .map(|(input_ids, token_type_ids)| Example {
            input_ids,
            token_type_ids,
            label: (),
        })
        .collect();
    Ok(EncodedDataset {
        examples,
        pad_token_id: tokenizer.pad_token_id(),
    })
}

impl EncodedDataset {
    /// Tokenizes `texts` (truncated to `max_length`, unpadded) and pairs them with `labels`.
    ///
    /// # Errors
    /// [`TrainError::Data`] when the lengths differ or a label is negative, and the tokenizer's
    /// errors (empty text, …) as [`TrainError::Tokenize`].
    pub fn encode<S: AsRef<str> + Sync>(
        tokenizer: &Tokenizer,
        texts: &[S],
        labels: &[i64],
        max_length: usize,
    ) -> Result<Self> {
        check_label_list(texts.len(), labels)?;
        EncodedDataset::unlabelled(tokenizer, texts, max_length)?.with_labels(labels)
    }

    /// Class ids of all examples.
    pub fn labels(&self) -> Vec<i64> {
        self.examples.iter().map(|e| e.label).collect()
    }

    /// Checks every label is in `0..num_labels`.
    ///
    /// # Errors
    /// [`TrainError::Data`] naming the first bad example.
    pub fn check_labels(&self, num_labels: usize, what: &str) -> Result<()> {
        match self
            .examples
            .iter()
            .enumerate()
            .find(|(_, e)| !(0..num_labels as i64).contains(&e.label))
        {
            Some((i, e)) => Err(TrainError::Data(format!(
                "{what} example {i} has label {}, outside the model's 0..{num_labels}; set the model's labels (num_labels/id2label) to match the data",
                e.label
            ))),
            None => Ok(()),
        }
    }
}

/// How evaluation and prediction batch their examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Examples per batch.
    pub batch_size: usize,
    /// Padding of each batch; under [`BatchPadding::Longest`] batches are formed longest first,
    /// so that each pads to examples of about its own length.
    pub padding: BatchPadding,
    /// Truncation and `max_length` padding length (default: the model's longest sequence).
    pub max_length: Option<usize>,
}

impl Default for BatchOptions {
    /// Batches of 32 padded to their longest example, at the model's longest sequence.
    fn default() -> Self {
        Self {
            batch_size: 32,
            padding: BatchPadding::Longest,
            max_length: None,
        }
    }
}

impl BatchOptions {
    /// The evaluation batching of a training run (`per_device_eval_batch_size`, `padding`,
    /// `max_length`).
    pub fn eval(config: &TrainingConfig) -> Self {
        Self {
            batch_size: config.per_device_eval_batch_size,
            padding: config.padding,
            max_length: config.max_length,
        }
    }

    /// `max_length`, or `model_max` when unset.
    pub fn max_length_or(&self, model_max: usize) -> usize {
        self.max_length.unwrap_or(model_max)
    }
}

/// Runs `step` on `data` in batches of `options.batch_size`, each with the indices of its
/// examples: longest first under dynamic padding (a stable sort, so equal lengths keep dataset
/// order), in dataset order otherwise. Returns the number of batches.
///
/// The one batching loop of evaluation and prediction: callers put each output back at its
/// example's index, so results come back in dataset order whatever the padding.
///
/// # Errors
/// The first error of `step`.
pub fn for_each_batch<L: Clone>(
    data: &EncodedDataset<L>,
    options: &BatchOptions,
    max_length: usize,
    mut step: impl FnMut(&[usize], &HostBatch<L>) -> Result<()>,
) -> Result<usize> {
    let mut order: Vec<usize> = (0..data.len()).collect();
    if options.padding == BatchPadding::Longest {
        order.sort_by_key(|&i| std::cmp::Reverse(data.examples[i].input_ids.len()));
    }
    let mut batches = 0;
    for chunk in order.chunks(options.batch_size.max(1)) {
        step(chunk, &data.collate(chunk, options.padding, max_length))?;
        batches += 1;
    }
    Ok(batches)
}

/// A padded batch on the host, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBatch<L = i64> {
    /// Token ids, `[batch, seq_len]`.
    pub input_ids: Vec<i64>,
    /// 1 for tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids.
    pub token_type_ids: Vec<i64>,
    /// The examples' labels, `[batch]`.
    pub labels: Vec<L>,
    /// `[batch, seq_len]`.
    pub shape: [usize; 2],
}

impl<L: Clone> HostBatch<L> {
    /// Pads `examples` to `max_length` or to the longest of them.
    pub fn collate(
        examples: &[&Example<L>],
        padding: BatchPadding,
        max_length: usize,
        pad_id: u32,
    ) -> Self {
        let longest = examples
            .iter()
            .map(|e| e.input_ids.len())
            .max()
            .unwrap_or(0);
        let seq_len = match padding {
            BatchPadding::MaxLength => max_length.max(longest),
            BatchPadding::Longest => longest,
        };
        let mut batch = Self {
            input_ids: Vec::with_capacity(examples.len() * seq_len),
            attention_mask: Vec::with_capacity(examples.len() * seq_len),
            token_type_ids: Vec::with_capacity(examples.len() * seq_len),
            labels: examples.iter().map(|e| e.label.clone()).collect(),
            shape: [examples.len(), seq_len],
        };
        for example in examples {
            batch.push_padded(example, seq_len, pad_id);
        }
        batch
    }
}

impl<L> HostBatch<L> {
    fn push_padded(&mut self, example: &Example<L>, seq_len: usize, pad_id: u32) {
        let n = example.input_ids.len();
        self.input_ids
            .extend(example.input_ids.iter().map(|&id| i64::from(id)));
        self.input_ids
            .extend(std::iter::repeat_n(i64::from(pad_id), seq_len - n));
        self.attention_mask.extend(std::iter::repeat_n(1, n));
        self.attention_mask
            .extend(std::iter::repeat_n(0, seq_len - n));
        self.token_type_ids
            .extend(example.token_type_ids.iter().map(|&t| i64::from(t)));
        self.token_type_ids
            .extend(std::iter::repeat_n(0, seq_len - n));
    }

    /// The model input alone, checked against what the model accepts (a config converts into
    /// an [`InputSpec`]).
    ///
    /// # Errors
    /// [`TrainError::Model`] when ids fall outside the vocabulary or the batch is too long.
    pub fn input(&self, spec: impl Into<InputSpec>, device: &Device) -> Result<EncoderInput> {
        Ok(EncoderInput::from_slices(
            &self.input_ids,
            Some(&self.attention_mask),
            Some(&self.token_type_ids),
            self.shape,
            spec,
            device,
        )?)
    }
}

impl HostBatch {
    /// Tensors for `model` on `device`: the input, checked against the model's
    /// [`InputSpec`], and the class ids.
    ///
    /// # Errors
    /// [`TrainError::Model`] when ids fall outside the vocabulary or labels outside the head.
    pub fn to_tensors<M: SequenceClassifier>(
        &self,
        model: &M,
        device: &Device,
    ) -> Result<(EncoderInput, Tensor<1, Int>)> {
        let input = self.input(model.input_spec(), device)?;
        let labels = model.labels(&self.labels, device)?;
        Ok((input, labels))
    }
}

/// SplitMix64: a small, fast, well-mixed generator for data order and dropout seeds.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2⁻³² for n < 2³²).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Mixes a seed with a counter (used for per-epoch orders and per-step dropout seeds).
pub fn derive_seed(seed: u64, stream: u64, counter: u64) -> u64 {
    let mut rng = SplitMix64::new(
        seed ^ stream.rotate_left(32) ^ counter.wrapping_mul(0xD6E8_FEB8_6659_FD93),
    );
    rng.next_u64()
}

/// The example order of one epoch: a seeded permutation, optionally grouped by length like HF's
/// `LengthGroupedSampler` (mega-batches of `min(n / (4 * batch_size), 50)` batches, each sorted
/// by decreasing length, the longest example first). Depends only on `(seed, epoch)`, so a resumed run visits
/// the same order.
pub fn epoch_order(
    lengths: &[usize],
    seed: u64,
    epoch: usize,
    group_by_length: bool,
    batch_size: usize,
) -> Vec<usize> {
    let mut rng = SplitMix64::new(derive_seed(seed, 0x5eed_0bde, epoch as u64));
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    if group_by_length {
        // HF's `get_length_grouped_indices`: megabatches of `mult * batch_size` examples, with
        // `mult = min(n / (4 * batch_size), 50)` (at least 1), each sorted longest first; then
        // the longest example overall swaps places with the first one (fail fast on memory).
        let mult = (lengths.len() / (batch_size.max(1) * 4)).clamp(1, 50);
        let mega = batch_size.max(1) * mult;
        for chunk in order.chunks_mut(mega) {
            chunk.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]));
        }
        let longest_megabatch_head = order
            .chunks(mega)
            .enumerate()
            .max_by_key(|(k, chunk)| (chunk.first().map(|&i| lengths[i]), usize::MAX - k))
            .map(|(k, _)| k * mega);
        if let Some(head) = longest_megabatch_head {
            order.swap(0, head);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(n: usize, label: i64) -> Example {
        Example {
            input_ids: (1..=n as u32).collect(),
            token_type_ids: vec![0; n],
            label,
        }
    }

    #[test]
    fn collate_pads_to_longest_or_max_length() {
        let (a, b) = (example(3, 1), example(5, 0));
        let batch = HostBatch::collate(&[&a, &b], BatchPadding::Longest, 8, 0);
        assert_eq!(batch.shape, [2, 5]);
        assert_eq!(batch.input_ids, [1, 2, 3, 0, 0, 1, 2, 3, 4, 5]);
        assert_eq!(batch.attention_mask, [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(batch.labels, [1, 0]);
        let batch = HostBatch::collate(&[&a, &b], BatchPadding::MaxLength, 8, 7);
        assert_eq!(batch.shape, [2, 8]);
        assert_eq!(&batch.input_ids[..8], &[1, 2, 3, 7, 7, 7, 7, 7]);
    }

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let lengths: Vec<usize> = (0..100).map(|i| (i * 37) % 61).collect();
        let a = epoch_order(&lengths, 42, 0, false, 8);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(&lengths, 42, 0, false, 8));
        assert_ne!(a, epoch_order(&lengths, 42, 1, false, 8));
        assert_ne!(a, epoch_order(&lengths, 43, 0, false, 8));
    }

    #[test]
    fn grouping_uses_hf_megabatch_sizes() {
        // 500 examples, batch 8: HF's mega_batch_mult is min(500 / 32, 50) = 15, so megabatches
        // of 120, each sorted longest first (the first element aside, which is the longest).
        let lengths: Vec<usize> = (0..500).map(|i| 5 + (i * 7919) % 400).collect();
        let order = epoch_order(&lengths, 3, 0, true, 8);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..500).collect::<Vec<_>>());
        assert_eq!(lengths[order[0]], *lengths.iter().max().unwrap_or(&0));
        for (k, chunk) in order.chunks(120).enumerate() {
            let body = if k == 0 { &chunk[1..] } else { chunk };
            assert!(
                body.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]),
                "megabatch {k} is not sorted"
            );
        }
        // Not one sorted run of 400+: the second megabatch starts long again.
        assert!(lengths[order[120]] > lengths[order[119]]);
    }

    #[test]
    fn grouping_by_length_puts_similar_lengths_together_and_longest_first() {
        let lengths: Vec<usize> = (0..800).map(|i| 5 + (i * 7919) % 500).collect();
        let order = epoch_order(&lengths, 1, 0, true, 4);
        let max = *lengths.iter().max().unwrap_or(&0);
        assert!(order[..4].iter().any(|&i| lengths[i] == max));
        // Padding waste per batch is far smaller than with a random order.
        let waste = |order: &[usize]| -> usize {
            order
                .chunks(4)
                .map(|b| {
                    let m = b.iter().map(|&i| lengths[i]).max().unwrap_or(0);
                    b.iter().map(|&i| m - lengths[i]).sum::<usize>()
                })
                .sum()
        };
        let random = epoch_order(&lengths, 1, 0, false, 4);
        assert!(
            waste(&order) * 10 < waste(&random),
            "{} vs {}",
            waste(&order),
            waste(&random)
        );
    }
}
