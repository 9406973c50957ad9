//! `shuffle`/`select`/`train_test_split` against numpy and `datasets`, via the fixtures written
//! by `tests/fixtures/gen_permutations.py` (numpy 2.4, datasets 5.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bertfit_data::rng::{NumpyGenerator, Pcg64, SeedSequence};
use bertfit_data::{LabelMap, TextDataset, TextRow, permutation};
use serde_json::Value;

fn fixtures() -> Value {
    let text = include_str!("fixtures/permutations.json");
    serde_json::from_str(text).unwrap()
}

fn seed_of(v: &Value) -> u64 {
    v["seed"].as_str().unwrap().parse().unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn fnv1a64(values: impl IntoIterator<Item = usize>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in (v as u32).to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn index_dataset(n: usize) -> TextDataset {
    let rows = (0..n)
        .map(|i| TextRow {
            text: format!("row {i}"),
            label: (i % 2) as i64,
            rating: None,
            source_index: i,
        })
        .collect();
    TextDataset::from_rows(rows, LabelMap::unnamed(2))
}

#[test]
fn seed_sequence_matches_numpy() {
    for case in fixtures()["seed_sequence"].as_array().unwrap() {
        let expected: Vec<u64> = case["state_u64"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            SeedSequence::new(seed_of(case)).generate_state_u64(4),
            expected,
            "seed {}",
            case["seed"]
        );
    }
}

#[test]
fn pcg64_raw_matches_numpy() {
    for case in fixtures()["pcg64_raw"].as_array().unwrap() {
        let mut rng = Pcg64::new(seed_of(case));
        for (k, x) in case["raw"].as_array().unwrap().iter().enumerate() {
            let expected: u64 = x.as_str().unwrap().parse().unwrap();
            assert_eq!(rng.next_u64(), expected, "seed {} draw {k}", case["seed"]);
        }
    }
}

#[test]
fn permutations_match_numpy_and_datasets() {
    let all = fixtures();
    let cases = all["permutations"].as_array().unwrap();
    assert!(cases.iter().any(|c| c["n"] == 25_000 && seed_of(c) == 42));
    for case in cases {
        let (seed, n) = (seed_of(case), case["n"].as_u64().unwrap() as usize);
        let ours = permutation(n, seed);
        assert_eq!(
            fnv1a64(ours.iter().copied()),
            case["fnv1a64"].as_str().unwrap(),
            "seed {seed} n {n}"
        );
        if let Some(full) = case.get("permutation") {
            assert_eq!(ours, usizes(full), "seed {seed} n {n}");
        } else {
            assert_eq!(ours[..1000], usizes(&case["head"])[..], "seed {seed} n {n}");
            assert_eq!(
                ours[n - 100..],
                usizes(&case["tail"])[..],
                "seed {seed} n {n}"
            );
        }

        // What `ds.shuffle(seed=seed).select(range(500))` returned in Python.
        let k = n.min(500);
        let selected = index_dataset(n).shuffle(seed).select(0..k).unwrap();
        let picked: Vec<usize> = selected.iter().map(|r| r.source_index).collect();
        assert_eq!(picked, ours[..k], "seed {seed} n {n}");

        if let Some(split) = case.get("datasets_train_test_split_0.2") {
            let tts = index_dataset(n).train_test_split(0.2, seed).unwrap();
            assert_eq!(tts.test.len() as u64, split["n_test"].as_u64().unwrap());
            assert_eq!(
                fnv1a64(tts.test.iter().map(|r| r.source_index)),
                split["test_fnv1a64"].as_str().unwrap()
            );
            assert_eq!(
                fnv1a64(tts.train.iter().map(|r| r.source_index)),
                split["train_fnv1a64"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn the_seed_example_from_the_docs() {
    // numpy.random.default_rng(42).permutation(10)
    assert_eq!(
        NumpyGenerator::default_rng(42).permutation(10),
        [5, 6, 0, 7, 3, 2, 4, 9, 1, 8]
    );
}

#[test]
fn shuffle_composes_like_datasets() {
    // Shuffling a selection permutes the selection (indices mapping on top of indices mapping).
    let ds = index_dataset(100);
    let first = ds.shuffle(1).select(10..60).unwrap();
    let twice = first.shuffle(2);
    let p = permutation(50, 2);
    let expected: Vec<usize> = p.iter().map(|&i| first[i].source_index).collect();
    assert_eq!(
        twice.iter().map(|r| r.source_index).collect::<Vec<_>>(),
        expected
    );
}
