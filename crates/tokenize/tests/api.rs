//! Errors, empty texts, padding strategies and configuration through the public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::error::Error as _;
use std::path::Path;

use bertfit_tokenize::{
    BertOptions, PaddingStrategy, SpecialTokens, TokenizeError, Tokenizer, TokenizerConfig,
    TruncationSide,
};
use common::fixtures_dir;

const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "##s", "a", "b", "c",
];

fn tiny_dir(config_json: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vocab.txt"), VOCAB.join("\n")).unwrap();
    if let Some(json) = config_json {
        std::fs::write(dir.path().join("tokenizer_config.json"), json).unwrap();
    }
    dir
}

fn tiny(config: TokenizerConfig) -> Tokenizer {
    let dir = tiny_dir(None);
    Tokenizer::from_dir(dir.path(), config).unwrap()
}

fn message_names(err: &TokenizeError, path: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "{msg:?} should name {}",
        path.display()
    );
}

#[test]
fn tokenizer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tokenizer>();
    assert_send_sync::<TokenizeError>();
}

#[test]
fn missing_files_list_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let err = Tokenizer::from_dir(dir.path(), TokenizerConfig::default()).unwrap_err();
    assert!(matches!(err, TokenizeError::NotFound { .. }), "{err:?}");
    message_names(&err, &dir.path().join("tokenizer.json"));
    message_names(&err, &dir.path().join("vocab.txt"));
}

#[test]
fn malformed_tokenizer_json_names_the_file_and_keeps_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, "{\"model\": 42").unwrap();
    let err = Tokenizer::from_dir(dir.path(), TokenizerConfig::default()).unwrap_err();
    assert!(
        matches!(err, TokenizeError::MalformedTokenizerJson { .. }),
        "{err:?}"
    );
    message_names(&err, &path);
    assert!(err.source().is_some());

    let err = Tokenizer::from_tokenizer_file(&path, TokenizerConfig::default()).unwrap_err();
    assert!(matches!(err, TokenizeError::MalformedTokenizerJson { .. }));
}

#[test]
fn unreadable_tokenizer_file_is_an_io_error_naming_it() {
    let path = Path::new("/nonexistent/bertfit/tokenizer.json");
    let err = Tokenizer::from_tokenizer_file(path, TokenizerConfig::default()).unwrap_err();
    assert!(matches!(err, TokenizeError::Io { .. }), "{err:?}");
    message_names(&err, path);
    assert!(err.source().is_some());
}

#[test]
fn malformed_tokenizer_config_names_the_file() {
    let dir = tiny_dir(Some("{\"do_lower_case\": 1,"));
    let err = Tokenizer::from_dir(dir.path(), TokenizerConfig::default()).unwrap_err();
    assert!(
        matches!(err, TokenizeError::MalformedTokenizerConfig { .. }),
        "{err:?}"
    );
    message_names(&err, &dir.path().join("tokenizer_config.json"));
    assert!(err.source().is_some());
}

#[test]
fn missing_special_token_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vocab.txt");
    std::fs::write(&path, "[PAD]\n[UNK]\n[SEP]\nhello\n").unwrap();
    let err = Tokenizer::from_dir(dir.path(), TokenizerConfig::default()).unwrap_err();
    match &err {
        TokenizeError::MissingSpecialToken { role, token, .. } => {
            assert_eq!((*role, token.as_str()), ("cls", "[CLS]"));
        }
        other => panic!("{other:?}"),
    }
    message_names(&err, &path);
}

#[test]
fn special_tokens_can_be_renamed_in_tokenizer_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vocab.txt"),
        "<pad>\n<unk>\n<cls>\n<sep>\nhello\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"cls_token": "<cls>", "sep_token": {"content": "<sep>"}, "pad_token": "<pad>",
            "unk_token": "<unk>", "mask_token": "<mask>"}"#,
    )
    .unwrap();
    let config = TokenizerConfig::default()
        .with_max_length(5)
        .with_padding(PaddingStrategy::MaxLength);
    let t = Tokenizer::from_dir(dir.path(), config).unwrap();
    assert_eq!(t.mask_token_id(), None);
    assert_eq!(
        t.encode("hello bye").unwrap().input_ids,
        vec![vec![2, 4, 1, 3, 0]]
    );
}

#[test]
fn from_vocab_file_with_explicit_options() {
    let dir = tiny_dir(None);
    let cased = BertOptions {
        do_lower_case: false,
        ..BertOptions::default()
    };
    let config = TokenizerConfig::default().with_padding(PaddingStrategy::None);
    let t = Tokenizer::from_vocab_file(dir.path().join("vocab.txt"), cased, config).unwrap();
    assert_eq!(
        t.encode("Hello hello").unwrap().input_ids,
        vec![vec![2, 1, 5, 3]]
    );
    assert_eq!(t.options().special_tokens, SpecialTokens::default());
}

#[test]
fn empty_and_whitespace_texts_are_rejected_with_their_index() {
    let t = tiny(TokenizerConfig::default());
    for (texts, index) in [
        (vec!["hello", ""], 1),
        (vec!["  \t\n ", "hello"], 0),
        (vec!["hello", "world", "\u{3000}"], 2),
    ] {
        let err = t.encode_batch(&texts).unwrap_err();
        assert!(
            matches!(err, TokenizeError::EmptyText { index: i } if i == index),
            "{texts:?}: {err:?}"
        );
        assert!(err.to_string().contains("allow_empty"));
    }
    let err = t
        .encode_pairs(&[("hello", "world"), ("hello", " ")])
        .unwrap_err();
    assert!(
        matches!(err, TokenizeError::EmptyText { index: 1 }),
        "{err:?}"
    );
    let err = t.encode_pairs(&[("", "world")]).unwrap_err();
    assert!(
        matches!(err, TokenizeError::EmptyText { index: 0 }),
        "{err:?}"
    );
}

#[test]
fn allow_empty_encodes_cls_sep() {
    let t = tiny(
        TokenizerConfig::default()
            .with_allow_empty(true)
            .with_padding(PaddingStrategy::None),
    );
    let b = t.encode_batch(&["", "  "]).unwrap();
    assert_eq!(b.input_ids, vec![vec![2, 3], vec![2, 3]]);
    let b = t.encode_pairs(&[("", "")]).unwrap();
    assert_eq!(b.input_ids, vec![vec![2, 3, 3]]);
    assert_eq!(b.token_type_ids, vec![vec![0, 0, 1]]);
}

#[test]
fn padding_strategies() {
    let texts = ["hello", "hello world !", "a b c a b c a b c"];
    let max = TokenizerConfig::default().with_max_length(8);

    let b = tiny(max.clone()).encode_batch(&texts).unwrap();
    assert_eq!(b.seq_len(), Some(8));
    assert_eq!(b.input_ids[0], vec![2, 5, 3, 0, 0, 0, 0, 0]);
    assert_eq!(b.attention_mask[0], vec![1, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(b.input_ids[2], vec![2, 9, 10, 11, 9, 10, 11, 3]);
    assert_eq!(b.lengths(), vec![3, 5, 8]);

    let b = tiny(max.clone().with_padding(PaddingStrategy::Longest))
        .encode_batch(&texts[..2])
        .unwrap();
    assert_eq!(b.seq_len(), Some(5));
    assert_eq!(b.input_ids[0], vec![2, 5, 3, 0, 0]);

    let b = tiny(max.clone().with_padding(PaddingStrategy::None))
        .encode_batch(&texts)
        .unwrap();
    assert_eq!(
        b.input_ids.iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 5, 8]
    );
    assert_eq!(b.seq_len(), None);
    assert!(matches!(
        b.flatten_i64(),
        Err(TokenizeError::Ragged {
            row: 1,
            len: 5,
            expected: 3
        })
    ));

    // MaxLength without truncation leaves longer rows longer, like HF.
    let b = tiny(max.with_max_length(4).with_truncation(false))
        .encode_batch(&texts)
        .unwrap();
    assert_eq!(
        b.input_ids.iter().map(Vec::len).collect::<Vec<_>>(),
        [4, 5, 11]
    );
}

#[test]
fn pairs_use_type_ids_and_longest_first() {
    let t = tiny(
        TokenizerConfig::default()
            .with_max_length(9)
            .with_padding(PaddingStrategy::Longest),
    );
    let b = t
        .encode_pairs(&[("hello", "world"), ("a b c a b", "c c c c c c")])
        .unwrap();
    assert_eq!(b.input_ids[0], vec![2, 5, 3, 6, 3, 0, 0, 0, 0]);
    assert_eq!(b.token_type_ids[0], vec![0, 0, 0, 1, 1, 0, 0, 0, 0]);
    // 6 text tokens of room: 3 + 3 (odd leftovers go to the second text).
    assert_eq!(b.input_ids[1], vec![2, 9, 10, 11, 3, 11, 11, 11, 3]);
    assert_eq!(b.token_type_ids[1], vec![0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(b.attention_mask[1], vec![1; 9]);
}

/// `truncation_side` "left" keeps a long text's end (special tokens stay in place), as HF's
/// tokenizer with `truncation_side="left"` does.
#[test]
fn left_truncation_keeps_the_end() {
    let config = TokenizerConfig::default()
        .with_max_length(5)
        .with_padding(PaddingStrategy::None);
    let right = tiny(config.clone());
    let left = tiny(config.with_truncation_side(TruncationSide::Left));
    let text = "a b c hello world";
    assert_eq!(
        right.encode(text).unwrap().input_ids[0],
        vec![2, 9, 10, 11, 3]
    );
    assert_eq!(
        left.encode(text).unwrap().input_ids[0],
        vec![2, 11, 5, 6, 3]
    );
}

#[test]
fn invalid_configs_are_rejected() {
    let dir = tiny_dir(None);
    for config in [
        TokenizerConfig::default().with_max_length(0),
        TokenizerConfig::default().with_max_length(3),
    ] {
        let err = Tokenizer::from_dir(dir.path(), config).unwrap_err();
        assert!(
            matches!(err, TokenizeError::InvalidConfig { .. }),
            "{err:?}"
        );
    }
    let mut t = tiny(TokenizerConfig::default());
    assert!(
        t.set_config(TokenizerConfig::default().with_max_length(2))
            .is_err()
    );
    assert_eq!(t.config(), &TokenizerConfig::default());
    let ok = TokenizerConfig::default().with_max_length(4);
    t.set_config(ok.clone()).unwrap();
    assert_eq!(t.config(), &ok);
    assert_eq!(
        t.encode("hello world").unwrap().input_ids,
        vec![vec![2, 5, 6, 3]]
    );
}

#[test]
fn decode_and_vocab_accessors() {
    let t = tiny(TokenizerConfig::default().with_padding(PaddingStrategy::None));
    assert_eq!(t.vocab_size(), VOCAB.len());
    assert_eq!(t.pad_token_id(), 0);
    assert_eq!(t.token_to_id("##s"), Some(8));
    assert_eq!(t.id_to_token(6).as_deref(), Some("world"));
    let ids = &t.encode("Hello worlds!").unwrap().input_ids[0];
    assert_eq!(ids, &vec![2, 5, 6, 8, 7, 3]);
    assert_eq!(t.decode(ids, true).unwrap(), "hello worlds!");
    assert_eq!(t.decode(ids, false).unwrap(), "[CLS] hello worlds! [SEP]");
    // [MASK] in text is the special token, not split into "[", "mask", "]".
    assert_eq!(
        t.encode("hello [MASK]").unwrap().input_ids[0],
        vec![2, 5, 4, 3]
    );
}

#[test]
fn committed_fixtures_are_present() {
    for name in common::VOCAB_VARIANTS {
        let dir = fixtures_dir().join(name);
        assert!(dir.join("vocab.txt").is_file(), "{}", dir.display());
        assert!(dir.join("tokenizer_config.json").is_file());
    }
}

#[test]
fn explicit_tokenizer_config_keys_override_a_tokenizer_json_normalizer() {
    let dir = tiny_dir(None);
    let cased = BertOptions {
        do_lower_case: false,
        ..BertOptions::default()
    };
    let config = TokenizerConfig::default().with_padding(PaddingStrategy::None);
    let t =
        Tokenizer::from_vocab_file(dir.path().join("vocab.txt"), cased, config.clone()).unwrap();
    let saved = tempfile::tempdir().unwrap();
    t.save(saved.path()).unwrap();
    std::fs::remove_file(saved.path().join("vocab.txt")).unwrap();
    let reloaded = Tokenizer::from_dir(saved.path(), config.clone()).unwrap();
    assert_eq!(
        reloaded.encode("Hello").unwrap().input_ids,
        vec![vec![2, 1, 3]]
    );

    // As in transformers, an explicit `do_lower_case` in tokenizer_config.json wins.
    std::fs::write(
        saved.path().join("tokenizer_config.json"),
        r#"{"do_lower_case": true}"#,
    )
    .unwrap();
    let lowered = Tokenizer::from_dir(saved.path(), config.clone()).unwrap();
    assert!(lowered.options().do_lower_case);
    assert_eq!(
        lowered.encode("Hello").unwrap().input_ids,
        vec![vec![2, 5, 3]]
    );
    // Without the config file, tokenizer.json's normalizer stands.
    std::fs::remove_file(saved.path().join("tokenizer_config.json")).unwrap();
    let plain = Tokenizer::from_dir(saved.path(), config).unwrap();
    assert!(!plain.options().do_lower_case);
}
