//! [`Tokenizer`]: loading, configuring, encoding, decoding and saving.

use std::path::{Path, PathBuf};

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, EncodeInput, ModelWrapper, NormalizerWrapper, PaddingDirection, PaddingParams,
    PostProcessor, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::config::{PaddingStrategy, TokenizerConfig, TruncationSide};
use crate::encoding::BatchEncoding;
use crate::error::{Result, TokenizeError};
use crate::options::{BertOptions, RawTokenizerConfig, TOKENIZER_CONFIG_FILE, TokenizerConfigOut};

/// File name of a `tokenizers` serialization.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// File name of a BERT WordPiece vocabulary (one token per line, the line number is the id).
pub const VOCAB_FILE: &str = "vocab.txt";

/// WordPiece's `max_input_chars_per_word`, as in HF's `BertTokenizer`: longer words are `[UNK]`.
const MAX_INPUT_CHARS_PER_WORD: usize = 100;

/// A Hugging Face tokenizer with bertfit's padding and truncation settings.
///
/// Wraps a [`tokenizers::Tokenizer`]. Whatever padding or truncation the loaded file has baked
/// in (all-MiniLM-L6-v2's `tokenizer.json` pads and truncates to 128) is replaced by the
/// [`TokenizerConfig`]. Batches are encoded in parallel (rayon, through `tokenizers`; set
/// `TOKENIZERS_PARALLELISM=false` to disable).
#[derive(Debug, Clone)]
pub struct Tokenizer {
    /// The wrapped tokenizer, with our padding and truncation applied.
    inner: tokenizers::Tokenizer,
    config: TokenizerConfig,
    options: BertOptions,
    pad_id: u32,
    vocab_size: usize,
}

impl Tokenizer {
    /// Loads the tokenizer of a Hugging Face model directory.
    ///
    /// Uses `tokenizer.json` when present; otherwise builds the BERT WordPiece pipeline from
    /// `vocab.txt` exactly as `transformers.BertTokenizerFast` does. Either way an optional
    /// `tokenizer_config.json` supplies the special tokens and `do_lower_case`,
    /// `tokenize_chinese_chars`, `strip_accents` (for a `tokenizer.json` with a BERT normalizer,
    /// keys the config sets explicitly override the normalizer's, as in `transformers`).
    ///
    /// # Errors
    /// [`TokenizeError::NotFound`] (naming both paths looked for) when the directory has neither
    /// file; parse errors naming the malformed file; [`TokenizeError::MissingSpecialToken`];
    /// [`TokenizeError::InvalidConfig`] for an unusable `config`.
    pub fn from_dir(dir: impl AsRef<Path>, config: TokenizerConfig) -> Result<Self> {
        let dir = dir.as_ref();
        let tokenizer_json = dir.join(TOKENIZER_FILE);
        let vocab_txt = dir.join(VOCAB_FILE);
        let config_path = dir.join(TOKENIZER_CONFIG_FILE);
        let raw = if config_path.is_file() {
            Some(RawTokenizerConfig::read(&config_path)?)
        } else {
            None
        };
        if tokenizer_json.is_file() {
            let inner = read_tokenizer_json(&tokenizer_json)?;
            let mut options = options_of(&inner);
            if let Some(raw) = &raw {
                raw.apply_to(&mut options);
            }
            Self::from_tokenizer(inner, options, config)
        } else if vocab_txt.is_file() {
            let mut options = BertOptions::default();
            if let Some(raw) = &raw {
                raw.apply_to(&mut options);
            }
            Self::from_vocab_file(&vocab_txt, options, config)
        } else {
            Err(TokenizeError::NotFound {
                dir: dir.to_owned(),
                tokenizer_json,
                vocab_txt,
            })
        }
    }

    /// Loads a `tokenizer.json` file as is (no `tokenizer_config.json` is consulted; special
    /// tokens are BERT's).
    ///
    /// # Errors
    /// [`TokenizeError::Io`], [`TokenizeError::MalformedTokenizerJson`],
    /// [`TokenizeError::MissingSpecialToken`] when `[PAD]` is not in the vocabulary,
    /// [`TokenizeError::InvalidConfig`].
    pub fn from_tokenizer_file(path: impl AsRef<Path>, config: TokenizerConfig) -> Result<Self> {
        let inner = read_tokenizer_json(path.as_ref())?;
        let options = options_of(&inner);
        Self::from_tokenizer(inner, options, config)
    }

    /// Builds the BERT WordPiece pipeline of `transformers.BertTokenizerFast` from a
    /// `vocab.txt`: `BertNormalizer(clean_text, tokenize_chinese_chars, strip_accents,
    /// do_lower_case)`, `BertPreTokenizer`, WordPiece (`##` prefix, words over 100 characters
    /// become `[UNK]`), `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1` templates and the
    /// WordPiece decoder. The special tokens are registered as added tokens (so `[MASK]` in a
    /// text is one token, as in `transformers`); `[MASK]` only when the vocabulary has it.
    ///
    /// # Errors
    /// [`TokenizeError::Io`], [`TokenizeError::InvalidVocab`],
    /// [`TokenizeError::MissingSpecialToken`] when the CLS, SEP, PAD or UNK token is not in the
    /// file, [`TokenizeError::InvalidConfig`].
    pub fn from_vocab_file(
        vocab_txt: impl AsRef<Path>,
        options: BertOptions,
        config: TokenizerConfig,
    ) -> Result<Self> {
        let path = vocab_txt.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TokenizeError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let invalid = |source| TokenizeError::InvalidVocab {
            path: path.to_owned(),
            source,
        };
        let vocab = WordPiece::read_bytes(&bytes).map_err(invalid)?;
        let special = &options.special_tokens;
        let id_of = |role: &'static str, token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| TokenizeError::MissingSpecialToken {
                    role,
                    token: token.to_owned(),
                    source_desc: path.display().to_string(),
                })
        };
        let cls_id = id_of("cls", &special.cls)?;
        let sep_id = id_of("sep", &special.sep)?;
        id_of("pad", &special.pad)?;
        id_of("unk", &special.unk)?;
        let has_mask = vocab.contains_key(&special.mask);

        let model = WordPiece::builder()
            .vocab(vocab)
            .unk_token(special.unk.clone())
            .continuing_subword_prefix("##".to_owned())
            .max_input_chars_per_word(MAX_INPUT_CHARS_PER_WORD)
            .build()
            .map_err(invalid)?;
        let template = bert_template(&special.cls, cls_id, &special.sep, sep_id)?;

        let mut inner = tokenizers::Tokenizer::new(model);
        inner
            .with_normalizer(Some(bert_normalizer(&options)))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(template))
            .with_decoder(Some(WordPieceDecoder::default()));
        // Same order as `transformers`' SPECIAL_TOKENS_ATTRIBUTES (ids come from the vocab).
        let mut added = vec![
            AddedToken::from(special.unk.clone(), true),
            AddedToken::from(special.sep.clone(), true),
            AddedToken::from(special.pad.clone(), true),
            AddedToken::from(special.cls.clone(), true),
        ];
        if has_mask {
            added.push(AddedToken::from(special.mask.clone(), true));
        }
        inner.add_special_tokens(&added);
        Self::from_tokenizer(inner, options, config)
    }

    /// Wraps an already built `tokenizers` tokenizer. If its normalizer is a `BertNormalizer`,
    /// it is set from `options`; its own padding and truncation are replaced by `config`'s.
    ///
    /// # Errors
    /// [`TokenizeError::MissingSpecialToken`] when the pad token is unknown,
    /// [`TokenizeError::InvalidConfig`].
    pub fn from_tokenizer(
        mut inner: tokenizers::Tokenizer,
        options: BertOptions,
        config: TokenizerConfig,
    ) -> Result<Self> {
        if let Some(NormalizerWrapper::BertNormalizer(n)) = inner.get_normalizer() {
            let wanted = BertNormalizer::new(
                n.clean_text,
                options.tokenize_chinese_chars,
                options.strip_accents,
                options.do_lower_case,
            );
            inner.with_normalizer(Some(wanted));
        }
        let pad_id = inner
            .token_to_id(&options.special_tokens.pad)
            .ok_or_else(|| TokenizeError::MissingSpecialToken {
                role: "pad",
                token: options.special_tokens.pad.clone(),
                source_desc: "the tokenizer".to_owned(),
            })?;
        let vocab_size = inner.get_vocab_size(true);
        let mut tokenizer = Self {
            inner,
            config: config.clone(),
            options,
            pad_id,
            vocab_size,
        };
        tokenizer.set_config(config)?;
        Ok(tokenizer)
    }

    /// The padding/truncation settings in use.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// Replaces the padding/truncation settings.
    ///
    /// # Errors
    /// [`TokenizeError::InvalidConfig`] when `max_length` is 0, or when truncation is on and
    /// `max_length` leaves no room for text next to a pair's special tokens.
    pub fn set_config(&mut self, config: TokenizerConfig) -> Result<()> {
        let added_pair = self
            .inner
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(true));
        if config.max_length == 0 {
            return Err(TokenizeError::InvalidConfig {
                reason: "max_length is 0; use the model's max_position_embeddings (512 for BERT)"
                    .to_owned(),
            });
        }
        if config.truncation && config.max_length <= added_pair {
            return Err(TokenizeError::InvalidConfig {
                reason: format!(
                    "max_length {} leaves no room for text: a pair already takes {added_pair} \
                     special tokens; raise max_length",
                    config.max_length
                ),
            });
        }
        let truncation = config.truncation.then_some(TruncationParams {
            direction: match config.truncation_side {
                TruncationSide::Right => TruncationDirection::Right,
                TruncationSide::Left => TruncationDirection::Left,
            },
            max_length: config.max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        });
        let strategy = match config.padding {
            PaddingStrategy::MaxLength => {
                Some(tokenizers::PaddingStrategy::Fixed(config.max_length))
            }
            PaddingStrategy::Longest => Some(tokenizers::PaddingStrategy::BatchLongest),
            PaddingStrategy::None => None,
        };
        let padding = strategy.map(|strategy| PaddingParams {
            strategy,
            direction: PaddingDirection::Right,
            pad_to_multiple_of: None,
            pad_id: self.pad_id,
            pad_type_id: 0,
            pad_token: self.options.special_tokens.pad.clone(),
        });
        self.inner
            .with_truncation(truncation)
            .map_err(|e| TokenizeError::InvalidConfig {
                reason: e.to_string(),
            })?
            .with_padding(padding);
        self.config = config;
        Ok(())
    }

    /// Normalization options and special tokens (what `save` writes to
    /// `tokenizer_config.json`).
    pub fn options(&self) -> &BertOptions {
        &self.options
    }

    /// The wrapped `tokenizers` tokenizer, with our padding and truncation applied.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Vocabulary size, added tokens included (`len(tokenizer)` in `transformers`).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Id of the padding token.
    pub fn pad_token_id(&self) -> u32 {
        self.pad_id
    }

    /// Id of the classification token, if the vocabulary has it.
    pub fn cls_token_id(&self) -> Option<u32> {
        self.token_to_id(&self.options.special_tokens.cls)
    }

    /// Id of the separator token, if the vocabulary has it.
    pub fn sep_token_id(&self) -> Option<u32> {
        self.token_to_id(&self.options.special_tokens.sep)
    }

    /// Id of the unknown-word token, if the vocabulary has it.
    pub fn unk_token_id(&self) -> Option<u32> {
        self.token_to_id(&self.options.special_tokens.unk)
    }

    /// Id of the mask token, if the vocabulary has it.
    pub fn mask_token_id(&self) -> Option<u32> {
        self.token_to_id(&self.options.special_tokens.mask)
    }

    /// Id of a token (added tokens included).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Encodes one text (a batch of one row).
    ///
    /// # Errors
    /// As [`encode_batch`](Self::encode_batch).
    pub fn encode(&self, text: &str) -> Result<BatchEncoding> {
        self.encode_batch(&[text])
    }

    /// Encodes texts in parallel, adding `[CLS]`/`[SEP]`, truncating and padding per the
    /// [`TokenizerConfig`].
    ///
    /// # Errors
    /// [`TokenizeError::EmptyText`] for an empty or whitespace-only text unless
    /// `allow_empty`; [`TokenizeError::Encode`].
    pub fn encode_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<BatchEncoding> {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        self.check_empty(inputs.iter().map(|t| [*t]))?;
        self.run(inputs)
    }

    /// Encodes text pairs in parallel as `[CLS] a [SEP] b [SEP]` with token type ids 0 then 1;
    /// truncation is `longest_first`.
    ///
    /// # Errors
    /// [`TokenizeError::EmptyText`] when either text of a pair is empty or whitespace-only
    /// unless `allow_empty`; [`TokenizeError::Encode`].
    pub fn encode_pairs<A: AsRef<str>, B: AsRef<str>>(
        &self,
        pairs: &[(A, B)],
    ) -> Result<BatchEncoding> {
        let inputs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_ref(), b.as_ref()))
            .collect();
        self.check_empty(inputs.iter().map(|(a, b)| [*a, *b]))?;
        self.run(inputs)
    }

    /// Decodes ids to text with the tokenizer's decoder (WordPiece: joins `##` pieces).
    ///
    /// # Errors
    /// [`TokenizeError::Decode`].
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|source| TokenizeError::Decode { source })
    }

    /// Writes the tokenizer to `dir` (created if missing) so that both [`Tokenizer::from_dir`]
    /// and `transformers.AutoTokenizer.from_pretrained(dir)` load it unchanged:
    /// `tokenizer.json` without padding or truncation baked in, `tokenizer_config.json`
    /// (`tokenizer_class`, `do_lower_case`, `tokenize_chinese_chars`, `strip_accents`,
    /// `model_max_length` = `max_length`, special tokens) and, for a WordPiece model with
    /// contiguous ids, `vocab.txt`. Returns the paths written.
    ///
    /// # Errors
    /// [`TokenizeError::Io`], [`TokenizeError::Serialize`].
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| TokenizeError::Io {
            action: "create directory",
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();

        let mut clean = self.inner.clone();
        clean.with_padding(None);
        let tokenizer_json = dir.join(TOKENIZER_FILE);
        let json = clean
            .with_truncation(None)
            .and_then(|t| t.to_string(true))
            .map_err(|source| TokenizeError::Serialize {
                path: tokenizer_json.clone(),
                source,
            })?;
        write_file(&tokenizer_json, json.as_bytes())?;
        written.push(tokenizer_json);

        let wordpiece = match clean.get_model() {
            ModelWrapper::WordPiece(wp) => Some(wp),
            _ => None,
        };
        let special = &self.options.special_tokens;
        let config_out = TokenizerConfigOut {
            tokenizer_class: if wordpiece.is_some() {
                "BertTokenizer"
            } else {
                "PreTrainedTokenizerFast"
            },
            do_lower_case: self.options.do_lower_case,
            tokenize_chinese_chars: self.options.tokenize_chinese_chars,
            strip_accents: self.options.strip_accents,
            model_max_length: self.config.max_length,
            cls_token: &special.cls,
            sep_token: &special.sep,
            pad_token: &special.pad,
            unk_token: &special.unk,
            mask_token: &special.mask,
            padding_side: "right",
            truncation_side: "right",
            clean_up_tokenization_spaces: true,
        };
        let config_path = dir.join(TOKENIZER_CONFIG_FILE);
        let config_json = serde_json::to_string_pretty(&config_out).map_err(|source| {
            TokenizeError::Serialize {
                path: config_path.clone(),
                source: Box::new(source),
            }
        })?;
        write_file(&config_path, config_json.as_bytes())?;
        written.push(config_path);

        if let Some(lines) = wordpiece.and_then(vocab_lines) {
            let vocab_path = dir.join(VOCAB_FILE);
            write_file(&vocab_path, lines.as_bytes())?;
            written.push(vocab_path);
        }
        Ok(written)
    }

    /// `inputs` yields each row's texts: one for a single text, two for a pair.
    fn check_empty<'a, I>(&self, inputs: impl Iterator<Item = I>) -> Result<()>
    where
        I: IntoIterator<Item = &'a str>,
    {
        if self.config.allow_empty {
            return Ok(());
        }
        for (index, texts) in inputs.enumerate() {
            if texts.into_iter().any(|t| t.trim().is_empty()) {
                return Err(TokenizeError::EmptyText { index });
            }
        }
        Ok(())
    }

    fn run<'s, E: Into<EncodeInput<'s>> + Send>(&self, inputs: Vec<E>) -> Result<BatchEncoding> {
        let encodings = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|source| TokenizeError::Encode { source })?;
        Ok(BatchEncoding::from_encodings(encodings))
    }
}

/// The options a loaded tokenizer embodies: its `BertNormalizer`'s settings if it has one.
fn options_of(inner: &tokenizers::Tokenizer) -> BertOptions {
    let mut options = BertOptions::default();
    if let Some(NormalizerWrapper::BertNormalizer(n)) = inner.get_normalizer() {
        options.do_lower_case = n.lowercase;
        options.tokenize_chinese_chars = n.handle_chinese_chars;
        options.strip_accents = n.strip_accents;
    }
    options
}

fn bert_normalizer(options: &BertOptions) -> BertNormalizer {
    BertNormalizer::new(
        true,
        options.tokenize_chinese_chars,
        options.strip_accents,
        options.do_lower_case,
    )
}

fn bert_template(cls: &str, cls_id: u32, sep: &str, sep_id: u32) -> Result<TemplateProcessing> {
    let invalid = |reason: String| TokenizeError::InvalidConfig {
        reason: format!("cannot build the [CLS]/[SEP] template: {reason}"),
    };
    TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))
        .map_err(invalid)?
        .try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1"))
        .map_err(invalid)?
        .special_tokens(vec![(cls.to_owned(), cls_id), (sep.to_owned(), sep_id)])
        .build()
        .map_err(|e| invalid(e.to_string()))
}

fn read_tokenizer_json(path: &Path) -> Result<tokenizers::Tokenizer> {
    let bytes = std::fs::read(path).map_err(|source| TokenizeError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    tokenizers::Tokenizer::from_bytes(bytes).map_err(|source| {
        TokenizeError::MalformedTokenizerJson {
            path: path.to_owned(),
            source,
        }
    })
}

/// `vocab.txt` contents (one token per line, line number = id), or `None` when the ids are
/// not exactly `0..n`.
fn vocab_lines(model: &WordPiece) -> Option<String> {
    use tokenizers::Model;
    let vocab = model.get_vocab();
    let mut by_id: Vec<Option<&str>> = vec![None; vocab.len()];
    for (token, &id) in &vocab {
        let slot = by_id.get_mut(usize::try_from(id).ok()?)?;
        *slot = Some(token);
    }
    let mut out = String::new();
    for token in by_id {
        out.push_str(token?);
        out.push('\n');
    }
    Some(out)
}

fn write_file(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| TokenizeError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    })
}
