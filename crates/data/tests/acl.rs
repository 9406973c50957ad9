//! The `aclImdb` folder layout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use bertfit_data::{DataError, DatasetDict, LabelMap, LoadOptions, Source, generate};

fn put(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn small_tree(root: &Path) {
    put(
        root,
        "train/pos/10_7.txt",
        b"Ten, seven.<br /><br />Second paragraph.",
    );
    put(root, "train/pos/3_9.txt", b"Three, nine.");
    put(
        root,
        "train/neg/5_1.txt",
        "Five, one \u{e9}\u{e8}.".as_bytes(),
    );
    put(root, "train/unsup/0_0.txt", b"Unlabelled.");
    put(root, "train/labeledBow.feat", b"not a review");
    put(root, "train/urls_pos.txt", b"http://example.invalid");
    put(root, "test/pos/0_10.txt", b"Zero, ten.");
    put(root, "test/neg/1_2.txt", b"One, two.");
    put(root, "test/neg/.DS_Store", b"\x00\x01");
    put(root, "imdb.vocab", b"the\n");
}

#[test]
fn loads_splits_labels_ratings_in_order() {
    let dir = tempfile::tempdir().unwrap();
    small_tree(dir.path());
    let dd =
        DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default()).unwrap();
    assert_eq!(
        dd.names().collect::<Vec<_>>(),
        ["train", "test", "unsupervised"]
    );
    assert_eq!(dd.label_map(), &LabelMap::imdb());
    let train = &dd["train"];
    // neg first, then pos by numeric id (3 before 10).
    assert_eq!(
        train.texts(),
        [
            "Five, one \u{e9}\u{e8}.",
            "Three, nine.",
            "Ten, seven.<br /><br />Second paragraph."
        ]
    );
    assert_eq!(train.labels(), [0, 1, 1]);
    assert_eq!(
        train.iter().map(|r| r.rating).collect::<Vec<_>>(),
        [Some(1), Some(9), Some(7)]
    );
    assert_eq!(
        train.iter().map(|r| r.source_index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(dd["unsupervised"].labels(), [-1]);
    assert_eq!(dd["test"].labels(), [0, 1]);
    // A directory holding aclImdb/ works too, and so does Source::from_path.
    let outer = tempfile::tempdir().unwrap();
    small_tree(&outer.path().join("aclImdb"));
    let nested = DatasetDict::load(
        &Source::AclImdb(outer.path().into()),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(nested["train"].to_rows(), train.to_rows());
    assert!(matches!(
        Source::from_path(outer.path()).unwrap(),
        Source::AclImdb(_)
    ));
    assert!(matches!(
        Source::from_path(dir.path()).unwrap(),
        Source::AclImdb(_)
    ));
}

#[test]
fn only_requested_splits_and_optional_unsup() {
    let dir = tempfile::tempdir().unwrap();
    small_tree(dir.path());
    std::fs::remove_dir_all(dir.path().join("train/unsup")).unwrap();
    let dd =
        DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default()).unwrap();
    assert_eq!(dd.names().collect::<Vec<_>>(), ["train", "test"]);
    let options = LoadOptions {
        splits: Some(vec!["test".into()]),
        ..LoadOptions::default()
    };
    let dd = DatasetDict::load(&Source::AclImdb(dir.path().into()), &options).unwrap();
    assert_eq!(dd.names().collect::<Vec<_>>(), ["test"]);
    let options = LoadOptions {
        splits: Some(vec!["unsupervised".into()]),
        ..LoadOptions::default()
    };
    let err = DatasetDict::load(&Source::AclImdb(dir.path().into()), &options).unwrap_err();
    assert!(
        matches!(&err, DataError::AclLayout { missing, .. } if missing == "train/unsup"),
        "{err}"
    );
}

#[test]
fn layout_name_and_encoding_errors() {
    let dir = tempfile::tempdir().unwrap();
    small_tree(dir.path());
    std::fs::remove_dir_all(dir.path().join("test/pos")).unwrap();
    let err = DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, DataError::AclLayout { missing, .. } if missing == "test/pos"),
        "{err}"
    );
    assert!(err.to_string().contains("<id>_<rating>.txt"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    small_tree(dir.path());
    put(dir.path(), "train/pos/review.txt", b"no id");
    let err = DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, DataError::AclFileName { path } if path.ends_with("review.txt")),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    small_tree(dir.path());
    put(dir.path(), "train/neg/7_3.txt", b"caf\xe9 latin-1");
    let err = DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, DataError::NotUtf8 { valid_up_to: 3, path } if path.ends_with("7_3.txt")),
        "{err}"
    );
    assert!(err.to_string().contains("iconv"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    small_tree(dir.path());
    put(dir.path(), "test/pos/9_8.txt", b"   ");
    let err = DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default())
        .unwrap_err();
    assert!(matches!(err, DataError::EmptyText { .. }), "{err}");
    let options = LoadOptions {
        drop_empty_text: true,
        ..LoadOptions::default()
    };
    let dd = DatasetDict::load(&Source::AclImdb(dir.path().into()), &options).unwrap();
    assert_eq!(dd["test"].info().skipped_empty, 1);
}

#[test]
fn generated_reviews_round_trip_through_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let train = generate::generate_dataset(300, 11);
    let test = generate::generate_dataset(100, 12);
    generate::write_acl_imdb_split(&train, dir.path(), "train").unwrap();
    generate::write_acl_imdb_split(&test, dir.path(), "test").unwrap();
    let dd =
        DatasetDict::load(&Source::AclImdb(dir.path().into()), &LoadOptions::default()).unwrap();
    let loaded = &dd["train"];
    assert_eq!(loaded.len(), 300);
    // Same rows, grouped neg-then-pos and ordered by id (= the generator's source_index).
    let mut expected = train.to_rows();
    expected.sort_by_key(|r| (r.label, r.source_index));
    let got: Vec<(String, i64, Option<u8>)> = loaded
        .iter()
        .map(|r| (r.text.clone(), r.label, r.rating))
        .collect();
    let want: Vec<(String, i64, Option<u8>)> = expected
        .into_iter()
        .map(|r| (r.text, r.label, r.rating))
        .collect();
    assert_eq!(got, want);
}
