//! `Tokenizer::save` then `Tokenizer::from_dir` reproduces the encodings, and the saved files
//! are what `transformers.AutoTokenizer` needs.
//!
//! Set `BERTFIT_TOKENIZE_SAVE_DIR` to also keep each saved directory under it, for
//! `gen_fixtures.py --check-saved DIR --reference reference_<name>.json`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use bertfit_tokenize::{PaddingStrategy, Tokenizer, TokenizerConfig};
use common::{Reference, VOCAB_VARIANTS, check_reference, fixtures_dir, minilm_dir};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Saves `source_dir`'s tokenizer (configured with a non-default config that must NOT end up in
/// tokenizer.json), checks the files, reloads, and checks the reference again.
fn save_and_reload(name: &str, source_dir: &Path) {
    let config = TokenizerConfig::default()
        .with_max_length(32)
        .with_padding(PaddingStrategy::Longest);
    let tokenizer = Tokenizer::from_dir(source_dir, config.clone()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("saved");
    let written = tokenizer.save(&out).unwrap();
    assert_eq!(
        written,
        vec![
            out.join("tokenizer.json"),
            out.join("tokenizer_config.json"),
            out.join("vocab.txt")
        ]
    );

    let json = read_json(&out.join("tokenizer.json"));
    assert!(json["padding"].is_null(), "{name}: padding baked in");
    assert!(json["truncation"].is_null(), "{name}: truncation baked in");

    let cfg = read_json(&out.join("tokenizer_config.json"));
    let o = tokenizer.options();
    assert_eq!(cfg["tokenizer_class"], "BertTokenizer");
    assert_eq!(cfg["do_lower_case"], o.do_lower_case);
    assert_eq!(cfg["tokenize_chinese_chars"], o.tokenize_chinese_chars);
    assert_eq!(cfg["strip_accents"], serde_json::json!(o.strip_accents));
    assert_eq!(cfg["model_max_length"], 32);
    for (key, token) in [
        ("cls_token", "[CLS]"),
        ("sep_token", "[SEP]"),
        ("pad_token", "[PAD]"),
        ("unk_token", "[UNK]"),
        ("mask_token", "[MASK]"),
    ] {
        assert_eq!(cfg[key], token, "{name}: {key}");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("vocab.txt")).unwrap(),
        std::fs::read_to_string(source_dir.join("vocab.txt")).unwrap(),
        "{name}: vocab.txt"
    );

    let reloaded = Tokenizer::from_dir(&out, config.clone()).unwrap();
    assert_eq!(reloaded.config(), &config);
    assert_eq!(reloaded.options(), tokenizer.options());
    assert_eq!(reloaded.vocab_size(), tokenizer.vocab_size());
    check_reference(&reloaded, &Reference::load(name));
    let reference = Reference::load(name);
    assert_eq!(
        reloaded.encode_batch(&reference.sentences).unwrap(),
        tokenizer.encode_batch(&reference.sentences).unwrap()
    );
    assert_eq!(
        reloaded.encode_pairs(&reference.pairs).unwrap(),
        tokenizer.encode_pairs(&reference.pairs).unwrap()
    );

    // A saved directory without vocab.txt (tokenizer.json only) loads the same.
    std::fs::remove_file(out.join("vocab.txt")).unwrap();
    let from_json = Tokenizer::from_dir(&out, config).unwrap();
    check_reference(&from_json, &reference);

    if let Some(keep) = std::env::var_os("BERTFIT_TOKENIZE_SAVE_DIR") {
        tokenizer
            .save(Path::new(&keep).join(name))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn vocab_txt_variants_round_trip_through_save() {
    for name in VOCAB_VARIANTS {
        save_and_reload(name, &fixtures_dir().join(name));
    }
}

#[test]
fn minilm_round_trips_through_save() {
    let Some(dir) = minilm_dir() else { return };
    save_and_reload("minilm", &dir);
}

#[test]
fn save_overwrites_an_existing_directory() {
    let tokenizer = Tokenizer::from_dir(
        fixtures_dir().join("bert_vocab_cased"),
        TokenizerConfig::default(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    tokenizer.save(tmp.path()).unwrap();
    tokenizer.save(tmp.path()).unwrap();
    let reloaded = Tokenizer::from_dir(tmp.path(), TokenizerConfig::default()).unwrap();
    assert!(!reloaded.options().do_lower_case);
    assert_eq!(
        reloaded.encode("Hello World").unwrap(),
        tokenizer.encode("Hello World").unwrap()
    );
}
