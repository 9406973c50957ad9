//! Rows, splits and the `datasets`-style operations on them.

use std::collections::BTreeMap;
use std::ops::{Index, Range};
use std::path::Path;
use std::sync::Arc;

use crate::error::{DataError, Result};
use crate::label::LabelMap;
use crate::rng::NumpyGenerator;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow {
    /// The text.
    pub text: String,
    /// The label id (`-1` marks an unlabelled row, as in IMDB's `unsupervised` split).
    pub label: i64,
    /// The review's star rating, when the source has one (`aclImdb` file names: 1–4 negative,
    /// 7–10 positive, 0 for unlabelled reviews).
    pub rating: Option<u8>,
    /// The row's position in the split it was loaded from (before any shuffle, select, filter
    /// or dropped empty texts), so exported subsets can be traced back. A file written by
    /// [`TextDataset::write_parquet`] / [`write_jsonl`](TextDataset::write_jsonl) keeps it in a
    /// `source_index` column, which loading reads back.
    pub source_index: usize,
}

impl TextRow {
    /// A row with no rating whose source index is 0 (for building small datasets by hand).
    pub fn new(text: impl Into<String>, label: i64) -> Self {
        Self {
            text: text.into(),
            label,
            rating: None,
            source_index: 0,
        }
    }
}

/// Where a split came from and what loading it skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitInfo {
    /// The file(s) or directory the rows were read from.
    pub origin: String,
    /// Rows dropped because their text was null or empty
    /// ([`LoadOptions::drop_empty_text`](crate::LoadOptions::drop_empty_text)).
    pub skipped_empty: usize,
}

/// One split: an ordered view of labelled rows.
///
/// Like a `datasets.Dataset`, it holds the loaded rows once and an index mapping on top, so
/// [`shuffle`](Self::shuffle), [`select`](Self::select) and [`filter`](Self::filter) copy indices,
/// not texts. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct TextDataset {
    rows: Arc<Vec<TextRow>>,
    indices: Option<Arc<[usize]>>,
    label_map: Arc<LabelMap>,
    info: Arc<SplitInfo>,
}

/// The two halves of [`TextDataset::train_test_split`].
#[derive(Debug, Clone)]
pub struct TrainTestSplit {
    /// The training rows.
    pub train: TextDataset,
    /// The held-out rows.
    pub test: TextDataset,
}

impl TrainTestSplit {
    /// As a [`DatasetDict`] with splits `train` and `test`, like `datasets` returns.
    pub fn into_dict(self) -> DatasetDict {
        let label_map = self.train.label_map.clone();
        DatasetDict {
            splits: vec![("train".into(), self.train), ("test".into(), self.test)],
            label_map,
        }
    }
}

/// How big the test half of [`TextDataset::train_test_split`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestSize {
    /// A fraction in (0, 1); the test split gets `ceil(fraction * len)` rows, as in `datasets`.
    Fraction(f64),
    /// An absolute number of rows, `0 < n < len`.
    Rows(usize),
}

impl From<f64> for TestSize {
    fn from(fraction: f64) -> Self {
        Self::Fraction(fraction)
    }
}

impl From<usize> for TestSize {
    fn from(rows: usize) -> Self {
        Self::Rows(rows)
    }
}

impl TextDataset {
    /// A split from rows in memory. Labels are not checked against `label_map`; use the loaders
    /// for validated input.
    pub fn from_rows(rows: Vec<TextRow>, label_map: LabelMap) -> Self {
        Self::from_parts(rows, Arc::new(label_map), SplitInfo::default())
    }

    pub(crate) fn from_parts(
        rows: Vec<TextRow>,
        label_map: Arc<LabelMap>,
        info: SplitInfo,
    ) -> Self {
        Self {
            rows: Arc::new(rows),
            indices: None,
            label_map,
            info: Arc::new(info),
        }
    }

    fn with_indices(&self, indices: Vec<usize>) -> Self {
        Self {
            rows: self.rows.clone(),
            indices: Some(indices.into()),
            label_map: self.label_map.clone(),
            info: self.info.clone(),
        }
    }

    fn row_index(&self, i: usize) -> usize {
        match &self.indices {
            Some(indices) => indices[i],
            None => i,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.indices {
            Some(indices) => indices.len(),
            None => self.rows.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&TextRow> {
        (i < self.len()).then(|| &self.rows[self.row_index(i)])
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &TextRow> + '_ {
        (0..self.len()).map(move |i| &self.rows[self.row_index(i)])
    }

    /// The label names shared by all splits of a [`DatasetDict`].
    pub fn label_map(&self) -> &LabelMap {
        &self.label_map
    }

    /// Where the rows came from and what loading skipped.
    pub fn info(&self) -> &SplitInfo {
        &self.info
    }

    /// How many rows carry each label id (`-1` counts unlabelled rows).
    pub fn label_counts(&self) -> BTreeMap<i64, usize> {
        let mut counts = BTreeMap::new();
        for row in self.iter() {
            *counts.entry(row.label).or_insert(0) += 1;
        }
        counts
    }

    /// The texts in order.
    pub fn texts(&self) -> Vec<&str> {
        self.iter().map(|r| r.text.as_str()).collect()
    }

    /// The labels in order.
    pub fn labels(&self) -> Vec<i64> {
        self.iter().map(|r| r.label).collect()
    }

    /// Owned copies of the rows in order.
    pub fn to_rows(&self) -> Vec<TextRow> {
        self.iter().cloned().collect()
    }

    /// The rows in `datasets.Dataset.shuffle(seed=seed)` order: row `i` of the result is row
    /// `numpy.random.default_rng(seed).permutation(len)[i]` of `self`.
    pub fn shuffle(&self, seed: u64) -> Self {
        let order = NumpyGenerator::default_rng(seed).permutation(self.len());
        self.with_indices(order.into_iter().map(|i| self.row_index(i)).collect())
    }

    /// Rows `range` of this split, like `select(range(start, end))`.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] when `range.end > len` (an empty or reversed range gives an
    /// empty split).
    pub fn select(&self, range: Range<usize>) -> Result<Self> {
        if range.end > self.len() {
            return Err(DataError::IndexOutOfRange {
                index: range.end - 1,
                len: self.len(),
            });
        }
        Ok(self.with_indices(range.map(|i| self.row_index(i)).collect()))
    }

    /// Rows at `indices` in that order (repeats allowed), like `select(indices)`.
    ///
    /// # Errors
    /// [`DataError::IndexOutOfRange`] naming the first index `>= len`.
    pub fn select_indices(&self, indices: &[usize]) -> Result<Self> {
        let len = self.len();
        if let Some(&index) = indices.iter().find(|&&i| i >= len) {
            return Err(DataError::IndexOutOfRange { index, len });
        }
        Ok(self.with_indices(indices.iter().map(|&i| self.row_index(i)).collect()))
    }

    /// The rows for which `keep` returns true, in order.
    pub fn filter(&self, mut keep: impl FnMut(&TextRow) -> bool) -> Self {
        let kept = (0..self.len())
            .map(|i| self.row_index(i))
            .filter(|&i| keep(&self.rows[i]))
            .collect();
        self.with_indices(kept)
    }

    /// A random train/test partition identical to `datasets.Dataset.train_test_split(test_size,
    /// seed=seed)`: with `p = default_rng(seed).permutation(len)` and `n_test = ceil(fraction *
    /// len)` (or the given row count), test is `p[..n_test]` and train is `p[n_test..]`.
    ///
    /// # Errors
    /// [`DataError::InvalidSize`] when the fraction is not in (0, 1), the row count is not in
    /// `1..len`, or either half would be empty.
    pub fn train_test_split(
        &self,
        test_size: impl Into<TestSize>,
        seed: u64,
    ) -> Result<TrainTestSplit> {
        let len = self.len();
        let n_test = match test_size.into() {
            TestSize::Fraction(f) if f > 0.0 && f < 1.0 => (f * len as f64).ceil() as usize,
            TestSize::Rows(n) if n > 0 && n < len => n,
            other => {
                return Err(DataError::InvalidSize {
                    reason: format!(
                        "test_size {other:?} must be a fraction in (0, 1) or a row count in 1..{len} \
                         for a split of {len} rows"
                    ),
                });
            }
        };
        if n_test >= len {
            return Err(DataError::InvalidSize {
                reason: format!(
                    "a test split of {n_test} rows leaves no training rows out of {len}; lower test_size"
                ),
            });
        }
        let order = NumpyGenerator::default_rng(seed).permutation(len);
        let pick =
            |ids: &[usize]| self.with_indices(ids.iter().map(|&i| self.row_index(i)).collect());
        Ok(TrainTestSplit {
            test: pick(&order[..n_test]),
            train: pick(&order[n_test..]),
        })
    }

    /// `n` rows whose label proportions match this split's, drawn reproducibly.
    ///
    /// Each label gets `floor(n * count / len)` rows, and the rows still missing go to the labels
    /// with the largest remainders (ties: smaller label id first). Within a label, rows are taken in
    /// `default_rng(seed).permutation` order of that label's rows; the result is ordered by
    /// position in `self`. (This is bertfit's own scheme, not `datasets`' `stratify_by_column`,
    /// whose hypergeometric draws it does not reproduce.)
    ///
    /// # Errors
    /// [`DataError::InvalidSize`] when `n > len`.
    pub fn stratified_sample(&self, n: usize, seed: u64) -> Result<Self> {
        let len = self.len();
        if n > len {
            return Err(DataError::InvalidSize {
                reason: format!("cannot sample {n} rows from a split of {len} rows"),
            });
        }
        let mut by_label: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for i in 0..len {
            by_label
                .entry(self.rows[self.row_index(i)].label)
                .or_default()
                .push(i);
        }
        let mut quotas: Vec<(i64, usize, usize)> = by_label
            .iter()
            .map(|(&label, members)| {
                // n * count / len without overflow; both parts are < len, so they fit back.
                let exact = n as u128 * members.len() as u128;
                let len = len.max(1) as u128;
                (label, (exact / len) as usize, (exact % len) as usize)
            })
            .collect();
        let mut missing = n - quotas.iter().map(|q| q.1).sum::<usize>();
        let mut by_remainder: Vec<usize> = (0..quotas.len()).collect();
        by_remainder.sort_by(|&a, &b| {
            quotas[b]
                .2
                .cmp(&quotas[a].2)
                .then(quotas[a].0.cmp(&quotas[b].0))
        });
        for &q in &by_remainder {
            if missing == 0 {
                break;
            }
            quotas[q].1 += 1;
            missing -= 1;
        }
        let mut rng = NumpyGenerator::default_rng(seed);
        let mut chosen = Vec::with_capacity(n);
        for (label, quota, _) in quotas {
            let members = &by_label[&label];
            let order = rng.permutation(members.len());
            chosen.extend(order[..quota].iter().map(|&k| members[k]));
        }
        chosen.sort_unstable();
        self.select_indices(&chosen)
    }

    /// Writes the rows in order to a parquet file with the IMDB schema (`text`: string, `label`:
    /// int64) plus `source_index` (int64) and, when any row has one, `rating` (int64, nullable).
    /// The label names go into the `huggingface` metadata key, so `datasets` reads `label` as a
    /// `ClassLabel` and this crate reads the names back.
    ///
    /// # Errors
    /// [`DataError::Write`] / [`DataError::Io`] when the file cannot be written.
    pub fn write_parquet(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::files::write_parquet(self, path.as_ref())
    }

    /// Writes the rows in order as JSON lines: `{"text", "label", "source_index"[, "rating"]}`.
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be written.
    pub fn write_jsonl(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::files::write_jsonl(self, path.as_ref())
    }
}

impl Index<usize> for TextDataset {
    type Output = TextRow;

    /// Row `i`, like `dataset[i]`. Panics past the end, like slice indexing; use
    /// [`TextDataset::get`] to get an `Option`.
    fn index(&self, i: usize) -> &TextRow {
        &self.rows[self.row_index(i)]
    }
}

impl burn_dataset::Dataset<TextRow> for TextDataset {
    /// Row `index`; past the end an error ([`DataError::IndexOutOfRange`]) instead of a panic.
    fn get(&self, index: usize) -> std::result::Result<TextRow, burn_dataset::DatasetError> {
        TextDataset::get(self, index).cloned().ok_or_else(|| {
            burn_dataset::DatasetError::new(DataError::IndexOutOfRange {
                index,
                len: self.len(),
            })
        })
    }

    fn len(&self) -> usize {
        TextDataset::len(self)
    }
}

/// Named splits sharing one [`LabelMap`], like `datasets.DatasetDict`.
#[derive(Debug, Clone)]
pub struct DatasetDict {
    splits: Vec<(String, TextDataset)>,
    label_map: Arc<LabelMap>,
}

/// The order splits are listed in: these first, then the rest alphabetically.
const SPLIT_ORDER: [&str; 5] = ["train", "validation", "valid", "test", "unsupervised"];

pub(crate) fn split_rank(name: &str) -> (usize, String) {
    let rank = SPLIT_ORDER
        .iter()
        .position(|s| *s == name)
        .unwrap_or(SPLIT_ORDER.len());
    (rank, name.to_string())
}

impl DatasetDict {
    /// A dictionary from splits built in memory; they are re-labelled with `label_map`.
    pub fn from_splits(splits: Vec<(String, TextDataset)>, label_map: LabelMap) -> Self {
        let label_map = Arc::new(label_map);
        let splits = splits
            .into_iter()
            .map(|(name, mut ds)| {
                ds.label_map = label_map.clone();
                (name, ds)
            })
            .collect();
        Self { splits, label_map }
    }

    pub(crate) fn from_loaded(
        splits: Vec<(String, TextDataset)>,
        label_map: Arc<LabelMap>,
    ) -> Self {
        Self { splits, label_map }
    }

    /// The split called `name`.
    ///
    /// # Errors
    /// [`DataError::UnknownSplit`] listing the splits present.
    pub fn split(&self, name: &str) -> Result<&TextDataset> {
        self.get(name).ok_or_else(|| DataError::UnknownSplit {
            split: name.to_string(),
            available: self.names().map(str::to_string).collect(),
        })
    }

    /// The split called `name`, if present.
    pub fn get(&self, name: &str) -> Option<&TextDataset> {
        self.splits
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ds)| ds)
    }

    /// Split names in order (`train`, `validation`, `test`, `unsupervised` first).
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.splits.iter().map(|(n, _)| n.as_str())
    }

    /// `(name, split)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TextDataset)> + '_ {
        self.splits.iter().map(|(n, ds)| (n.as_str(), ds))
    }

    /// Number of splits.
    pub fn len(&self) -> usize {
        self.splits.len()
    }

    /// Whether there are no splits.
    pub fn is_empty(&self) -> bool {
        self.splits.is_empty()
    }

    /// Adds or replaces a split (it takes this dictionary's label map).
    pub fn insert(&mut self, name: impl Into<String>, mut split: TextDataset) {
        let name = name.into();
        split.label_map = self.label_map.clone();
        match self.splits.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = split,
            None => self.splits.push((name, split)),
        }
    }

    /// Removes and returns a split.
    pub fn remove(&mut self, name: &str) -> Option<TextDataset> {
        let at = self.splits.iter().position(|(n, _)| n == name)?;
        Some(self.splits.remove(at).1)
    }

    /// The label names shared by the splits.
    pub fn label_map(&self) -> &LabelMap {
        &self.label_map
    }

    /// `id2label` as in a Hugging Face `config.json`.
    pub fn id2label(&self) -> BTreeMap<i64, String> {
        self.label_map.id2label()
    }

    /// Every split shuffled with the same seed (`DatasetDict.shuffle(seed=seed)`).
    pub fn shuffle(&self, seed: u64) -> Self {
        Self {
            splits: self
                .splits
                .iter()
                .map(|(n, ds)| (n.clone(), ds.shuffle(seed)))
                .collect(),
            label_map: self.label_map.clone(),
        }
    }
}

impl Index<&str> for DatasetDict {
    type Output = TextDataset;

    /// The split called `name`, like `dataset["train"]`. Panics when it is absent; use
    /// [`DatasetDict::split`] for an error that lists the splits.
    fn index(&self, name: &str) -> &TextDataset {
        match self.get(name) {
            Some(ds) => ds,
            None => {
                let available: Vec<&str> = self.names().collect();
                #[allow(clippy::panic)]
                // `Index` has no error channel; `split` is the fallible twin.
                {
                    panic!("no split `{name}`; the splits are {available:?}")
                }
            }
        }
    }
}
