//! Split operations, `DatasetDict`, and burn's `Dataset` trait on top.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bertfit_data::burn_dataset::Dataset;
use bertfit_data::burn_dataset::transform::{PartialDataset, SamplerDataset, ShuffledDataset};
use bertfit_data::{DataError, DatasetDict, LabelMap, TestSize, TextDataset, TextRow, generate};

fn dataset(labels: &[i64]) -> TextDataset {
    let rows = labels
        .iter()
        .enumerate()
        .map(|(i, &label)| TextRow {
            text: format!("text {i}"),
            label,
            rating: None,
            source_index: i,
        })
        .collect();
    TextDataset::from_rows(rows, LabelMap::imdb())
}

#[test]
fn indexing_lengths_and_label_counts() {
    let ds = dataset(&[0, 1, 1, -1]);
    assert_eq!(ds.len(), 4);
    assert_eq!(ds[2].text, "text 2");
    assert!(ds.get(4).is_none());
    let counts = ds.label_counts();
    assert_eq!((counts[&-1], counts[&0], counts[&1]), (1, 1, 2));
    assert_eq!(ds.labels(), [0, 1, 1, -1]);
}

#[test]
fn select_and_select_indices_check_bounds() {
    let ds = dataset(&[0, 1, 0, 1, 0]);
    assert_eq!(ds.select(1..3).unwrap().texts(), ["text 1", "text 2"]);
    assert!(ds.select(3..3).unwrap().is_empty());
    let err = ds.select(0..6).unwrap_err();
    assert!(
        matches!(err, DataError::IndexOutOfRange { index: 5, len: 5 }),
        "{err}"
    );
    assert_eq!(
        ds.select_indices(&[4, 0, 4]).unwrap().texts(),
        ["text 4", "text 0", "text 4"]
    );
    assert!(ds.select_indices(&[1, 9]).is_err());
}

#[test]
fn filter_keeps_order_and_source_index() {
    let ds = dataset(&[0, 1, 0, 1, 0]).shuffle(7);
    let pos = ds.filter(|r| r.label == 1);
    assert_eq!(pos.len(), 2);
    let expected: Vec<usize> = ds
        .iter()
        .filter(|r| r.label == 1)
        .map(|r| r.source_index)
        .collect();
    assert_eq!(
        pos.iter().map(|r| r.source_index).collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn train_test_split_sizes_and_errors() {
    let ds = dataset(&[0; 10]);
    let split = ds.train_test_split(0.25, 42).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (7, 3)); // ceil(2.5) = 3, as in datasets
    let split = ds.train_test_split(TestSize::Rows(4), 42).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (6, 4));
    let mut all: Vec<usize> = split
        .train
        .iter()
        .chain(split.test.iter())
        .map(|r| r.source_index)
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    let dict = split.into_dict();
    assert_eq!(dict.names().collect::<Vec<_>>(), ["train", "test"]);
    for bad in [
        TestSize::Fraction(0.0),
        TestSize::Fraction(1.0),
        TestSize::Rows(0),
        TestSize::Rows(10),
    ] {
        assert!(
            matches!(
                ds.train_test_split(bad, 1),
                Err(DataError::InvalidSize { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        ds.train_test_split(0.99, 1),
        Err(DataError::InvalidSize { .. })
    ));
}

#[test]
fn stratified_sample_keeps_proportions() {
    let labels: Vec<i64> = (0..1000).map(|i| if i % 4 == 0 { 1 } else { 0 }).collect();
    let ds = dataset(&labels);
    let sample = ds.stratified_sample(100, 5).unwrap();
    assert_eq!(sample.len(), 100);
    let counts = sample.label_counts();
    assert_eq!((counts[&0], counts[&1]), (75, 25));
    let sample2 = ds.stratified_sample(100, 5).unwrap();
    assert_eq!(sample.to_rows(), sample2.to_rows());
    assert_ne!(
        sample.to_rows(),
        ds.stratified_sample(100, 6).unwrap().to_rows()
    );
    // Ordered by position, no repeats.
    let idx: Vec<usize> = sample.iter().map(|r| r.source_index).collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]));
    // Remainders: 3 labels of 1/3 each, 10 rows → 4, 3, 3.
    let three = dataset(&[0, 1, 2, 0, 1, 2, 0, 1, 2]);
    let c = three.stratified_sample(4, 1).unwrap().label_counts();
    assert_eq!(c.values().sum::<usize>(), 4);
    assert!(c.values().all(|&v| (1..=2).contains(&v)));
    assert!(matches!(
        ds.stratified_sample(1001, 1),
        Err(DataError::InvalidSize { .. })
    ));
    assert!(ds.stratified_sample(0, 1).unwrap().is_empty());
}

#[test]
fn dataset_dict_access() {
    let mut dict = DatasetDict::from_splits(
        vec![
            ("test".into(), dataset(&[0])),
            ("train".into(), dataset(&[1, 0])),
        ],
        LabelMap::imdb(),
    );
    assert_eq!(dict.len(), 2);
    assert_eq!(dict["train"].len(), 2);
    let err = dict.split("validation").unwrap_err();
    assert!(err.to_string().contains("test, train"), "{err}");
    dict.insert("validation", dataset(&[1, 1, 1]));
    assert_eq!(dict.split("validation").unwrap().len(), 3);
    dict.insert("validation", dataset(&[1]));
    assert_eq!(dict.split("validation").unwrap().len(), 1);
    assert!(dict.remove("test").is_some());
    assert_eq!(dict.names().collect::<Vec<_>>(), ["train", "validation"]);
    let shuffled = dict.shuffle(42);
    assert_eq!(
        shuffled["train"].to_rows(),
        dict["train"].shuffle(42).to_rows()
    );
    assert_eq!(dict.id2label()[&0], "neg");
}

#[test]
#[should_panic(expected = "no split `nope`")]
fn indexing_a_missing_split_panics_like_a_map() {
    let dict = DatasetDict::from_splits(vec![("train".into(), dataset(&[1]))], LabelMap::imdb());
    let _ = &dict["nope"];
}

#[test]
fn burn_dataset_trait_and_wrappers() {
    let ds = generate::generate_dataset(100, 3)
        .shuffle(42)
        .select(0..50)
        .unwrap();
    assert_eq!(Dataset::len(&ds), 50);
    assert_eq!(Dataset::get(&ds, 3).unwrap(), ds[3]);
    assert!(Dataset::get(&ds, 50).is_err());
    let items: Vec<TextRow> = ds.iter().cloned().collect();
    assert_eq!(
        Dataset::iter(&ds).map(|r| r.unwrap()).collect::<Vec<_>>(),
        items
    );

    let partial = PartialDataset::new(ds.clone(), 10, 20);
    assert_eq!(partial.len(), 10);
    assert_eq!(partial.get(0).unwrap(), ds[10]);
    let shuffled = ShuffledDataset::new(ds.clone(), 1);
    assert_eq!(shuffled.len(), 50);
    let mut seen: Vec<usize> = (0..50)
        .map(|i| shuffled.get(i).unwrap().source_index)
        .collect();
    seen.sort_unstable();
    let mut expected: Vec<usize> = ds.iter().map(|r| r.source_index).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);
    let sampler = SamplerDataset::with_replacement(ds.clone(), 200);
    assert_eq!(sampler.len(), 200);
    assert!(sampler.get(150).is_ok());
    let boxed: Box<dyn Dataset<TextRow>> = Box::new(ds);
    assert_eq!(boxed.len(), 50);
}
