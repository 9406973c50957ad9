//! The committed sample under the workspace's `data/` loads, and is what the generator writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use bertfit_data::{DatasetDict, LabelMap, LoadOptions, Source, generate};

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/reviews-sample")
}

#[test]
fn the_committed_sample_loads_with_imdb_labels() {
    let dd = DatasetDict::load(
        &Source::from_path(sample_dir()).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(dd.names().collect::<Vec<_>>(), ["train", "test"]);
    assert_eq!(dd.label_map(), &LabelMap::imdb());
    for (_, split) in dd.iter() {
        assert_eq!(split.len(), 1000);
        let counts = split.label_counts();
        assert_eq!((counts[&0], counts[&1]), (500, 500));
    }
    // The seed's `dataset["train"].shuffle(seed=42).select(range(500))`.
    let subset = dd["train"].shuffle(42).select(0..500).unwrap();
    assert_eq!(
        subset[0].source_index,
        bertfit_data::permutation(1000, 42)[0]
    );
}

#[test]
fn the_committed_sample_is_what_the_generator_writes() {
    for (split, seed) in [("train", 1), ("test", 2)] {
        let path = sample_dir().join(format!("{split}.parquet"));
        let dd = DatasetDict::load(&Source::Parquet(path), &LoadOptions::default()).unwrap();
        let expected = generate::generate_reviews(1000, seed);
        assert_eq!(
            dd["train"].to_rows(),
            expected,
            "data/reviews-sample/{split}.parquet is stale; see data/README.md"
        );
    }
}
