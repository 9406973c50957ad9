//! Hugging Face tokenizers for BERT models: loading, padding and truncation strategies,
//! parallel batch encoding, and saving in a form `transformers` loads.
//!
//! [`Tokenizer::from_dir`] loads a model directory's `tokenizer.json`, or builds the BERT
//! WordPiece pipeline of `transformers.BertTokenizerFast` from a bare `vocab.txt` (with an
//! optional `tokenizer_config.json`). Its [`TokenizerConfig`] decides padding
//! ([`PaddingStrategy::MaxLength`], [`Longest`](PaddingStrategy::Longest),
//! [`None`](PaddingStrategy::None)) and truncation, overriding any settings baked into the file.
//! [`Tokenizer::encode_batch`] and [`Tokenizer::encode_pairs`] return a [`BatchEncoding`] of
//! `u32` rows (ids, attention mask, token type ids); [`BatchEncoding::flatten_i64`] turns a
//! padded batch into row-major `i64` buffers for tensors.
//!
//! Outputs match `transformers` token for token; the tests compare them with fixtures written
//! by `tests/fixtures/gen_fixtures.py`.
//!
//! ```
//! use bertfit_tokenize::{PaddingStrategy, Tokenizer, TokenizerConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "##s"];
//! std::fs::write(dir.path().join("vocab.txt"), vocab.join("\n"))?;
//!
//! let config = TokenizerConfig::default()
//!     .with_max_length(8)
//!     .with_padding(PaddingStrategy::Longest);
//! let tokenizer = Tokenizer::from_dir(dir.path(), config)?;
//! let batch = tokenizer.encode_batch(&["Hello worlds!", "hello"])?;
//! assert_eq!(batch.input_ids, vec![vec![2, 5, 6, 8, 7, 3], vec![2, 5, 3, 0, 0, 0]]);
//! assert_eq!(batch.attention_mask[1], vec![1, 1, 1, 0, 0, 0]);
//!
//! let flat = batch.flatten_i64()?;
//! assert_eq!(flat.shape, [2, 6]);
//! assert_eq!(tokenizer.decode(&batch.input_ids[0], true)?, "hello worlds!");
//! # Ok(())
//! # }
//! ```

mod config;
mod encoding;
mod error;
mod options;
mod tokenizer;

pub use config::{DEFAULT_MAX_LENGTH, PaddingStrategy, TokenizerConfig, TruncationSide};
pub use encoding::{BatchEncoding, FlatBatch};
pub use error::{Result, TokenizeError};
pub use options::{BertOptions, SpecialTokens, TOKENIZER_CONFIG_FILE};
pub use tokenizer::{TOKENIZER_FILE, Tokenizer, VOCAB_FILE};

/// The `tokenizers` crate this one wraps, for [`Tokenizer::inner`] and
/// [`Tokenizer::from_tokenizer`].
pub use tokenizers;
