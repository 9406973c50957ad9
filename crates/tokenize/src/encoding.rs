//! The output of batch encoding.

use crate::error::{Result, TokenizeError};

/// Token ids, attention masks and token type ids of a batch, one row per input.
///
/// Values are `u32` as produced by `tokenizers` (ids are vocabulary indices, masks and type ids
/// are 0/1). Rows all have the same length when the batch was padded
/// ([`PaddingStrategy::MaxLength`](crate::PaddingStrategy::MaxLength) or
/// [`Longest`](crate::PaddingStrategy::Longest)); use [`flatten_i64`](Self::flatten_i64) to get
/// row-major `i64` buffers for tensors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchEncoding {
    /// Token ids, special tokens and padding included.
    pub input_ids: Vec<Vec<u32>>,
    /// 1 for real tokens (special tokens included), 0 for padding.
    pub attention_mask: Vec<Vec<u32>>,
    /// Segment ids: 0 for the first text (and padding), 1 for the second text of a pair.
    pub token_type_ids: Vec<Vec<u32>>,
}

/// A padded batch as three row-major `i64` buffers of shape `[batch, seq_len]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatBatch {
    /// Token ids, `shape[0] * shape[1]` values, row-major.
    pub input_ids: Vec<i64>,
    /// Attention mask (0/1), same layout.
    pub attention_mask: Vec<i64>,
    /// Token type ids (0/1), same layout.
    pub token_type_ids: Vec<i64>,
    /// `[batch, seq_len]`.
    pub shape: [usize; 2],
}

impl BatchEncoding {
    /// Number of rows (inputs).
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }

    /// The common row length of a padded batch: `Some(n)` when every row has `n` tokens
    /// (`Some(0)` for an empty batch), `None` for a ragged batch.
    pub fn seq_len(&self) -> Option<usize> {
        let first = self.input_ids.first().map_or(0, Vec::len);
        self.input_ids
            .iter()
            .all(|row| row.len() == first)
            .then_some(first)
    }

    /// Number of real (non-padding) tokens of each row, special tokens included.
    pub fn lengths(&self) -> Vec<usize> {
        self.attention_mask
            .iter()
            .map(|row| row.iter().filter(|&&m| m != 0).count())
            .collect()
    }

    /// Flattens a padded batch into row-major `i64` buffers with shape `[batch, seq_len]`.
    ///
    /// # Errors
    /// [`TokenizeError::Ragged`] when rows differ in length (the batch was encoded with
    /// [`PaddingStrategy::None`](crate::PaddingStrategy::None), or with `MaxLength` padding and
    /// truncation off).
    pub fn flatten_i64(&self) -> Result<FlatBatch> {
        let expected = self.input_ids.first().map_or(0, Vec::len);
        if let Some((row, ids)) = self
            .input_ids
            .iter()
            .enumerate()
            .find(|(_, ids)| ids.len() != expected)
        {
            return Err(TokenizeError::Ragged {
                row,
                len: ids.len(),
                expected,
            });
        }
        let flat = |rows: &[Vec<u32>]| -> Vec<i64> {
            rows.iter()
                .flat_map(|row| row.iter().map(|&v| i64::from(v)))
                .collect()
        };
        Ok(FlatBatch {
            input_ids: flat(&self.input_ids),
            attention_mask: flat(&self.attention_mask),
            token_type_ids: flat(&self.token_type_ids),
            shape: [self.len(), expected],
        })
    }

    pub(crate) fn from_encodings(encodings: Vec<tokenizers::Encoding>) -> Self {
        let mut out = Self {
            input_ids: Vec::with_capacity(encodings.len()),
            attention_mask: Vec::with_capacity(encodings.len()),
            token_type_ids: Vec::with_capacity(encodings.len()),
        };
        for encoding in encodings {
            out.input_ids.push(encoding.get_ids().to_vec());
            out.attention_mask
                .push(encoding.get_attention_mask().to_vec());
            out.token_type_ids.push(encoding.get_type_ids().to_vec());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn batch(rows: &[&[u32]]) -> BatchEncoding {
        BatchEncoding {
            input_ids: rows.iter().map(|r| r.to_vec()).collect(),
            attention_mask: rows
                .iter()
                .map(|r| r.iter().map(|&v| u32::from(v != 0)).collect())
                .collect(),
            token_type_ids: rows.iter().map(|r| vec![0; r.len()]).collect(),
        }
    }

    #[test]
    fn flatten_padded() {
        let b = batch(&[&[101, 7, 102, 0], &[101, 8, 9, 102]]);
        assert_eq!(b.len(), 2);
        assert_eq!(b.seq_len(), Some(4));
        assert_eq!(b.lengths(), vec![3, 4]);
        let flat = b.flatten_i64().unwrap();
        assert_eq!(flat.shape, [2, 4]);
        assert_eq!(flat.input_ids, vec![101, 7, 102, 0, 101, 8, 9, 102]);
        assert_eq!(flat.attention_mask, vec![1, 1, 1, 0, 1, 1, 1, 1]);
        assert_eq!(flat.token_type_ids, vec![0; 8]);
    }

    #[test]
    fn flatten_ragged_is_an_error() {
        let b = batch(&[&[101, 102], &[101, 7, 102]]);
        assert_eq!(b.seq_len(), None);
        let err = b.flatten_i64().unwrap_err();
        assert!(matches!(
            err,
            TokenizeError::Ragged {
                row: 1,
                len: 3,
                expected: 2
            }
        ));
        assert!(err.to_string().contains("PaddingStrategy::Longest"));
    }

    #[test]
    fn empty_batch() {
        let b = BatchEncoding::default();
        assert!(b.is_empty());
        assert_eq!(b.seq_len(), Some(0));
        assert_eq!(b.flatten_i64().unwrap().shape, [0, 0]);
    }
}
