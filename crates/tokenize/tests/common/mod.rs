//! Test helpers: fixture paths, the all-MiniLM-L6-v2 directory lookup, and the reference
//! outputs written by `tests/fixtures/gen_fixtures.py`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bertfit_tokenize::{BatchEncoding, PaddingStrategy, Tokenizer, TokenizerConfig};
use serde::Deserialize;

/// The vocab.txt-only fixture directories (see gen_fixtures.py).
pub const VOCAB_VARIANTS: [&str; 3] = [
    "bert_vocab_uncased",
    "bert_vocab_cased",
    "bert_vocab_cased_strip_nocjk",
];

/// `crates/model/tests/fixtures/<name>`: the tiny checkpoints of the other architectures, each
/// with the tokenizer `scripts/reference/gen_arch_fixtures.py` trained and HF's encodings of it
/// (`tokenization.json`).
pub fn model_fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../model/tests/fixtures")
        .join(name)
}

/// `crates/tokenize/tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The all-MiniLM-L6-v2 model directory: `$BERTFIT_MINILM_DIR`, else
/// `$BERTFIT_CACHE_DIR/models/all-MiniLM-L6-v2`, else
/// `$HOME/.cache/bertfit/models/all-MiniLM-L6-v2`.
///
/// Returns `None` (after saying so on stderr) only when `BERTFIT_SKIP_REAL_WEIGHTS=1`; otherwise
/// a missing directory fails the test with the command that fetches it.
pub fn minilm_dir() -> Option<PathBuf> {
    let dir = if let Some(dir) = std::env::var_os("BERTFIT_MINILM_DIR") {
        PathBuf::from(dir)
    } else if let Some(cache) = std::env::var_os("BERTFIT_CACHE_DIR") {
        PathBuf::from(cache).join("models/all-MiniLM-L6-v2")
    } else {
        let home = std::env::var_os("HOME").expect("HOME is not set; set BERTFIT_MINILM_DIR");
        PathBuf::from(home).join(".cache/bertfit/models/all-MiniLM-L6-v2")
    };
    if std::env::var("BERTFIT_SKIP_REAL_WEIGHTS").as_deref() == Ok("1") {
        eprintln!(
            "BERTFIT_SKIP_REAL_WEIGHTS=1: skipped the all-MiniLM-L6-v2 check ({})",
            dir.display()
        );
        return None;
    }
    assert!(
        dir.join("tokenizer.json").is_file(),
        "all-MiniLM-L6-v2 not found at {} (no tokenizer.json): run `cargo xtask fixtures`, or \
         set BERTFIT_MINILM_DIR to the model directory (BERTFIT_SKIP_REAL_WEIGHTS=1 skips this)",
        dir.display()
    );
    Some(dir)
}

/// input_ids / attention_mask / token_type_ids of one reference case.
#[derive(Debug, Deserialize)]
pub struct Fields {
    pub input_ids: Vec<Vec<u32>>,
    pub attention_mask: Vec<Vec<u32>>,
    pub token_type_ids: Vec<Vec<u32>>,
}

impl From<&Fields> for BatchEncoding {
    fn from(f: &Fields) -> Self {
        BatchEncoding {
            input_ids: f.input_ids.clone(),
            attention_mask: f.attention_mask.clone(),
            token_type_ids: f.token_type_ids.clone(),
        }
    }
}

/// Decoded texts of the `none_no_truncation` rows.
#[derive(Debug, Deserialize)]
pub struct Decodes {
    pub skip_special_tokens: Vec<String>,
    pub with_special_tokens: Vec<String>,
}

/// One `reference_<name>.json`.
#[derive(Debug, Deserialize)]
pub struct Reference {
    pub tokenizer: String,
    pub max_length: usize,
    pub vocab_size: usize,
    pub sentences: Vec<String>,
    pub pairs: Vec<(String, String)>,
    pub cases: BTreeMap<String, Fields>,
    pub tokens: Vec<Vec<String>>,
    pub decode: Decodes,
}

impl Reference {
    pub fn load(name: &str) -> Self {
        Self::load_path(&fixtures_dir().join(format!("reference_{name}.json")))
    }

    pub fn load_path(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad {}: {e}", path.display()))
    }
}

/// The configuration gen_fixtures.py used for a case.
pub fn case_config(case: &str, max_length: usize) -> TokenizerConfig {
    let padding = match case.trim_start_matches("pairs_") {
        "max_length" => PaddingStrategy::MaxLength,
        "longest" => PaddingStrategy::Longest,
        "none" | "none_no_truncation" => PaddingStrategy::None,
        other => panic!("unknown case {other}"),
    };
    TokenizerConfig::default()
        .with_max_length(max_length)
        .with_padding(padding)
        .with_truncation(case != "none_no_truncation")
}

/// Encodes a case's inputs with `tokenizer` reconfigured for that case.
pub fn encode_case(tokenizer: &Tokenizer, reference: &Reference, case: &str) -> BatchEncoding {
    let mut tokenizer = tokenizer.clone();
    tokenizer
        .set_config(case_config(case, reference.max_length))
        .unwrap();
    if case.starts_with("pairs_") {
        tokenizer.encode_pairs(&reference.pairs).unwrap()
    } else {
        tokenizer.encode_batch(&reference.sentences).unwrap()
    }
}

/// Asserts `actual` equals `expected` row by row, naming the first difference.
pub fn assert_batch_eq(what: &str, actual: &BatchEncoding, expected: &BatchEncoding) {
    for (field, a, e) in [
        ("input_ids", &actual.input_ids, &expected.input_ids),
        (
            "attention_mask",
            &actual.attention_mask,
            &expected.attention_mask,
        ),
        (
            "token_type_ids",
            &actual.token_type_ids,
            &expected.token_type_ids,
        ),
    ] {
        assert_eq!(a.len(), e.len(), "{what}: {field}: number of rows");
        for (row, (ra, re)) in a.iter().zip(e).enumerate() {
            assert_eq!(ra, re, "{what}: {field} row {row} differs (left: ours)");
        }
    }
}

/// Checks every case of `reference` (and the decodes) against `tokenizer`.
pub fn check_reference(tokenizer: &Tokenizer, reference: &Reference) {
    assert_eq!(
        tokenizer.vocab_size(),
        reference.vocab_size,
        "{}: vocab_size",
        reference.tokenizer
    );
    let expected_cases = [
        "max_length",
        "longest",
        "none",
        "none_no_truncation",
        "pairs_max_length",
        "pairs_longest",
        "pairs_none",
    ];
    assert_eq!(
        reference
            .cases
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        {
            let mut v = expected_cases.to_vec();
            v.sort_unstable();
            v
        }
    );
    for (case, fields) in &reference.cases {
        let actual = encode_case(tokenizer, reference, case);
        assert_batch_eq(
            &format!("{} / {case}", reference.tokenizer),
            &actual,
            &BatchEncoding::from(fields),
        );
    }
    let rows = &reference.cases["none_no_truncation"].input_ids;
    for (i, ids) in rows.iter().enumerate() {
        let tokens: Vec<String> = ids
            .iter()
            .map(|&id| tokenizer.id_to_token(id).unwrap())
            .collect();
        assert_eq!(
            tokens, reference.tokens[i],
            "{}: tokens {i}",
            reference.tokenizer
        );
        assert_eq!(
            tokenizer.decode(ids, true).unwrap(),
            reference.decode.skip_special_tokens[i],
            "{}: decode(skip_special_tokens) {i}",
            reference.tokenizer
        );
        assert_eq!(
            tokenizer.decode(ids, false).unwrap(),
            reference.decode.with_special_tokens[i],
            "{}: decode {i}",
            reference.tokenizer
        );
    }
}
