//! Token-for-token agreement with `transformers` (fixtures from `fixtures/gen_fixtures.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bertfit_tokenize::{PaddingStrategy, Tokenizer, TokenizerConfig};
use common::{Reference, check_reference, fixtures_dir, minilm_dir, model_fixture_dir};

fn check_vocab_variant(name: &str) {
    let tokenizer = Tokenizer::from_dir(fixtures_dir().join(name), TokenizerConfig::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    check_reference(&tokenizer, &Reference::load(name));
}

/// DistilBERT and ELECTRA (WordPiece), RoBERTa (byte-level BPE, `<s> A </s></s> B </s>`) and
/// XLM-RoBERTa (Unigram with Metaspace): ids, masks, type ids, tokens and decodes as HF's
/// `AutoTokenizer` gives them, single texts and pairs, every padding and truncation case.
#[test]
fn every_architectures_tokenizer_matches_transformers() {
    for name in ["distilbert", "electra", "roberta", "xlm_roberta"] {
        let dir = model_fixture_dir(name);
        let tokenizer = Tokenizer::from_dir(&dir, TokenizerConfig::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_reference(
            &tokenizer,
            &Reference::load_path(&dir.join("tokenization.json")),
        );
    }
}

#[test]
fn vocab_txt_uncased_matches_transformers() {
    check_vocab_variant("bert_vocab_uncased");
}

#[test]
fn vocab_txt_cased_matches_transformers() {
    check_vocab_variant("bert_vocab_cased");
}

#[test]
fn vocab_txt_cased_strip_accents_no_chinese_split_matches_transformers() {
    check_vocab_variant("bert_vocab_cased_strip_nocjk");
}

#[test]
fn vocab_txt_options_come_from_tokenizer_config() {
    let uncased = Tokenizer::from_dir(
        fixtures_dir().join("bert_vocab_uncased"),
        TokenizerConfig::default(),
    )
    .unwrap();
    assert!(uncased.options().do_lower_case);
    let cased = Tokenizer::from_dir(
        fixtures_dir().join("bert_vocab_cased_strip_nocjk"),
        TokenizerConfig::default(),
    )
    .unwrap();
    let o = cased.options();
    assert!(!o.do_lower_case);
    assert_eq!(o.strip_accents, Some(true));
    assert!(!o.tokenize_chinese_chars);
    assert_eq!(
        (
            cased.pad_token_id(),
            cased.cls_token_id(),
            cased.sep_token_id()
        ),
        (0, Some(2), Some(3))
    );
    assert_eq!(
        (cased.unk_token_id(), cased.mask_token_id()),
        (Some(1), Some(4))
    );
}

#[test]
fn minilm_tokenizer_json_matches_transformers() {
    let Some(dir) = minilm_dir() else { return };
    let tokenizer = Tokenizer::from_dir(&dir, TokenizerConfig::default()).unwrap();
    check_reference(&tokenizer, &Reference::load("minilm"));
    assert_eq!(tokenizer.vocab_size(), 30522);
    assert_eq!(
        (
            tokenizer.pad_token_id(),
            tokenizer.unk_token_id(),
            tokenizer.cls_token_id(),
            tokenizer.sep_token_id(),
            tokenizer.mask_token_id()
        ),
        (0, Some(100), Some(101), Some(102), Some(103))
    );
    assert_eq!(tokenizer.token_to_id("movie"), Some(3185));
}

#[test]
fn minilm_baked_in_padding_and_truncation_are_overridden() {
    let Some(dir) = minilm_dir() else { return };
    let file = dir.join("tokenizer.json");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        raw["padding"]["strategy"]["Fixed"], 128,
        "the fixture no longer bakes in padding"
    );
    assert_eq!(raw["truncation"]["max_length"], 128);

    let reference = Reference::load("minilm");
    let sentences = &reference.sentences;
    let lengths: Vec<usize> = reference.cases["none_no_truncation"]
        .input_ids
        .iter()
        .map(Vec::len)
        .collect();
    assert!(lengths.iter().any(|&n| n > 128) && lengths.iter().any(|&n| n < 32));

    // No padding, no truncation: every row keeps its own length, even past 128.
    let none = TokenizerConfig::default()
        .with_padding(PaddingStrategy::None)
        .with_truncation(false);
    let t = load_both(&file, none);
    let b = t.encode_batch(sentences).unwrap();
    assert_eq!(
        b.input_ids.iter().map(Vec::len).collect::<Vec<_>>(),
        lengths
    );
    assert_eq!(b.seq_len(), None);
    assert!(t.inner().get_padding().is_none() && t.inner().get_truncation().is_none());

    // max_length 32 gives 32, not 128.
    let t = load_both(&file, TokenizerConfig::default().with_max_length(32));
    let b = t.encode_batch(sentences).unwrap();
    assert_eq!(b.seq_len(), Some(32));

    // The default (512, MaxLength) gives 512 and keeps the 170-token row whole.
    let t = load_both(&file, TokenizerConfig::default());
    let b = t.encode_batch(sentences).unwrap();
    assert_eq!(b.seq_len(), Some(512));
    assert_eq!(b.lengths(), lengths);
    let flat = b.flatten_i64().unwrap();
    assert_eq!(flat.shape, [sentences.len(), 512]);
    assert_eq!(flat.input_ids.len(), sentences.len() * 512);
}

/// Loads MiniLM's tokenizer.json both directly and through its directory (whose
/// tokenizer_config.json only restates the normalizer's settings); they must agree.
fn load_both(file: &std::path::Path, config: TokenizerConfig) -> Tokenizer {
    let a = Tokenizer::from_tokenizer_file(file, config.clone()).unwrap();
    let b = Tokenizer::from_dir(file.parent().unwrap(), config).unwrap();
    assert_eq!(a.options(), b.options());
    a
}
