//! Tokenized examples, their batching (padding) and the order they are visited in.

use bertfit_model::{BertConfig, BertForSequenceClassification, BertInput};
use bertfit_tokenize::{PaddingStrategy, Tokenizer};
use burn::prelude::*;

use crate::config::BatchPadding;
use crate::error::{Result, TrainError};

/// One tokenized, labelled example (unpadded; the attention mask is implied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Token ids, `[CLS] … [SEP]`, truncated to the run's `max_length`.
    pub input_ids: Vec<u32>,
    /// Segment ids, same length as `input_ids`.
    pub token_type_ids: Vec<u32>,
    /// Class id.
    pub label: i64,
}

/// A tokenized dataset: the examples and the pad id to batch them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedDataset {
    /// The examples, in dataset order.
    pub examples: Vec<Example>,
    /// Id of the padding token.
    pub pad_token_id: u32,
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
        if texts.len() != labels.len() {
            return Err(TrainError::Data(format!(
                "{} texts but {} labels",
                texts.len(),
                labels.len()
            )));
        }
        if let Some((i, label)) = labels.iter().enumerate().find(|(_, l)| **l < 0) {
            return Err(TrainError::Data(format!(
                "label {label} of example {i} is negative (unlabelled rows such as IMDB's `unsupervised` split cannot be trained on)"
            )));
        }
        let mut tokenizer = tokenizer.clone();
        let config = tokenizer
            .config()
            .clone()
            .with_max_length(max_length)
            .with_padding(PaddingStrategy::None);
        tokenizer.set_config(config)?;
        let encoding = tokenizer.encode_batch(texts)?;
        let examples = encoding
            .input_ids
            .into_iter()
            .zip(encoding.token_type_ids)
            .zip(labels)
            .map(|((input_ids, token_type_ids), &label)| Example {
                input_ids,
                token_type_ids,
                label,
            })
            .collect();
        Ok(Self {
            examples,
            pad_token_id: tokenizer.pad_token_id(),
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
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

/// A padded batch on the host, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBatch {
    /// Token ids, `[batch, seq_len]`.
    pub input_ids: Vec<i64>,
    /// 1 for tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids.
    pub token_type_ids: Vec<i64>,
    /// Class ids, `[batch]`.
    pub labels: Vec<i64>,
    /// `[batch, seq_len]`.
    pub shape: [usize; 2],
}

impl HostBatch {
    /// Pads `examples` to `max_length` or to the longest of them.
    pub fn collate(
        examples: &[&Example],
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
            labels: examples.iter().map(|e| e.label).collect(),
            shape: [examples.len(), seq_len],
        };
        for example in examples {
            let n = example.input_ids.len();
            batch
                .input_ids
                .extend(example.input_ids.iter().map(|&id| i64::from(id)));
            batch
                .input_ids
                .extend(std::iter::repeat_n(i64::from(pad_id), seq_len - n));
            batch.attention_mask.extend(std::iter::repeat_n(1, n));
            batch
                .attention_mask
                .extend(std::iter::repeat_n(0, seq_len - n));
            batch
                .token_type_ids
                .extend(example.token_type_ids.iter().map(|&t| i64::from(t)));
            batch
                .token_type_ids
                .extend(std::iter::repeat_n(0, seq_len - n));
        }
        batch
    }

    /// Tensors for the model on `device`, checked against its config.
    ///
    /// # Errors
    /// [`TrainError::Model`] when ids fall outside the vocabulary or labels outside the head.
    pub fn to_tensors(
        &self,
        model: &BertForSequenceClassification,
        device: &Device,
    ) -> Result<(BertInput, Tensor<1, Int>)> {
        let input = self.input(&model.config, device)?;
        let labels = model.labels(&self.labels, device)?;
        Ok((input, labels))
    }

    /// The model input alone.
    ///
    /// # Errors
    /// [`TrainError::Model`] when ids fall outside the vocabulary.
    pub fn input(&self, config: &BertConfig, device: &Device) -> Result<BertInput> {
        Ok(BertInput::from_slices(
            &self.input_ids,
            Some(&self.attention_mask),
            Some(&self.token_type_ids),
            self.shape,
            config,
            device,
        )?)
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
