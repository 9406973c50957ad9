//! Padding and truncation settings applied on top of any loaded tokenizer.

use serde::{Deserialize, Serialize};

/// The default `max_length`: BERT's `max_position_embeddings`.
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// How the sequences of a batch are padded, as in the `padding=` argument of a Hugging Face
/// tokenizer call.
///
/// Padding is on the right with the pad token, attention mask 0 and token type id 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaddingStrategy {
    /// Pad every sequence to [`TokenizerConfig::max_length`] (HF `padding="max_length"`).
    ///
    /// A sequence longer than `max_length` is left as is when truncation is off.
    #[default]
    MaxLength,
    /// Pad to the longest sequence of the batch (HF `padding="longest"` / `True`).
    Longest,
    /// No padding: rows keep their own lengths (HF `padding=False`).
    #[serde(alias = "do_not_pad")]
    None,
}

/// Which end of a too-long sequence truncation removes tokens from, as a Hugging Face
/// tokenizer's `truncation_side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncationSide {
    /// Keep the start, drop the end (HF's default).
    #[default]
    Right,
    /// Keep the end, drop the start.
    Left,
}

/// Padding, truncation and empty-text settings of a [`Tokenizer`](crate::Tokenizer).
///
/// These replace whatever padding or truncation a loaded `tokenizer.json` has baked in.
/// `Default` is `max_length` 512, [`PaddingStrategy::MaxLength`], truncation on, empty texts
/// rejected. Missing keys take their default when deserializing.
///
/// ```
/// use bertfit_tokenize::{PaddingStrategy, TokenizerConfig};
/// let config = TokenizerConfig::default()
///     .with_max_length(128)
///     .with_padding(PaddingStrategy::Longest);
/// assert!(config.truncation);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenizerConfig {
    /// Maximum sequence length in tokens, special tokens included: the truncation length, and
    /// the padded length for [`PaddingStrategy::MaxLength`]. Must not exceed the model's
    /// `max_position_embeddings`.
    pub max_length: usize,
    /// How batches are padded.
    pub padding: PaddingStrategy,
    /// Whether to truncate to `max_length`; pairs use HF's `longest_first` strategy (tokens are
    /// removed one at a time from the longer of the two sequences).
    pub truncation: bool,
    /// Which end truncation cuts.
    pub truncation_side: TruncationSide,
    /// Whether empty or whitespace-only texts are encoded (as `[CLS] [SEP]`) instead of
    /// rejected with [`TokenizeError::EmptyText`](crate::TokenizeError::EmptyText).
    pub allow_empty: bool,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self {
            max_length: DEFAULT_MAX_LENGTH,
            padding: PaddingStrategy::MaxLength,
            truncation: true,
            truncation_side: TruncationSide::Right,
            allow_empty: false,
        }
    }
}

impl TokenizerConfig {
    /// Sets [`max_length`](Self::max_length).
    #[must_use]
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// Sets [`padding`](Self::padding).
    #[must_use]
    pub fn with_padding(mut self, padding: PaddingStrategy) -> Self {
        self.padding = padding;
        self
    }

    /// Sets [`truncation`](Self::truncation).
    #[must_use]
    pub fn with_truncation(mut self, truncation: bool) -> Self {
        self.truncation = truncation;
        self
    }

    /// Sets [`truncation_side`](Self::truncation_side).
    #[must_use]
    pub fn with_truncation_side(mut self, side: TruncationSide) -> Self {
        self.truncation_side = side;
        self
    }

    /// Sets [`allow_empty`](Self::allow_empty).
    #[must_use]
    pub fn with_allow_empty(mut self, allow_empty: bool) -> Self {
        self.allow_empty = allow_empty;
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_matches_bert() {
        let c = TokenizerConfig::default();
        assert_eq!(c.max_length, 512);
        assert_eq!(c.padding, PaddingStrategy::MaxLength);
        assert!(c.truncation);
        assert_eq!(c.truncation_side, TruncationSide::Right);
        assert!(!c.allow_empty);
    }

    #[test]
    fn serde_round_trip_and_defaults() {
        let c = TokenizerConfig::default()
            .with_max_length(64)
            .with_padding(PaddingStrategy::None)
            .with_truncation(false)
            .with_truncation_side(TruncationSide::Left)
            .with_allow_empty(true);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"max_length":64,"padding":"none","truncation":false,"truncation_side":"left","allow_empty":true}"#
        );
        assert_eq!(serde_json::from_str::<TokenizerConfig>(&json).unwrap(), c);

        let partial: TokenizerConfig = serde_json::from_str(r#"{"padding":"longest"}"#).unwrap();
        assert_eq!(
            partial,
            TokenizerConfig::default().with_padding(PaddingStrategy::Longest)
        );
        let hf: PaddingStrategy = serde_json::from_str(r#""do_not_pad""#).unwrap();
        assert_eq!(hf, PaddingStrategy::None);
    }
}
