//! Local parquet / CSV / JSONL: columns, label maps, splits, and every kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use bertfit_data::{DataError, DatasetDict, LabelMap, LoadOptions, Source, TextDataset, TextRow};
use polars::prelude::*;

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn write_frame(path: &Path, mut df: DataFrame) {
    let file = std::fs::File::create(path).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
}

fn load(source: Source) -> bertfit_data::Result<DatasetDict> {
    DatasetDict::load(&source, &LoadOptions::default())
}

fn rows(texts: &[&str], labels: &[i64]) -> TextDataset {
    let rows = texts
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (t, &l))| TextRow {
            text: t.to_string(),
            label: l,
            rating: None,
            source_index: i,
        })
        .collect();
    TextDataset::from_rows(rows, LabelMap::imdb())
}

#[test]
fn parquet_round_trip_keeps_label_names_and_source_index() {
    let dir = tempfile::tempdir().unwrap();
    let ds = rows(&["good film", "bad film", "fine, really"], &[1, 0, 1]);
    let subset = ds.shuffle(3).select(0..2).unwrap();
    let path = dir.path().join("subset.parquet");
    subset.write_parquet(&path).unwrap();

    let back = load(Source::Parquet(path)).unwrap();
    assert_eq!(back.names().collect::<Vec<_>>(), ["train"]);
    assert_eq!(back.label_map(), &LabelMap::imdb());
    assert_eq!(back["train"].to_rows(), subset.to_rows());
    assert_eq!(back["train"].info().skipped_empty, 0);
}

#[test]
fn parquet_without_metadata_gets_default_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.parquet");
    write_frame(
        &path,
        df!("label" => [2i64, 0, 1], "text" => ["c", "a", "b"], "extra" => [1.0, 2.0, 3.0])
            .unwrap(),
    );
    let dd = load(Source::Parquet(path)).unwrap();
    assert_eq!(dd.label_map().names(), ["LABEL_0", "LABEL_1", "LABEL_2"]);
    assert_eq!(dd["train"].labels(), [2, 0, 1]);
    assert_eq!(dd["train"][1].text, "a");
    assert_eq!(dd["train"][2].source_index, 2);
}

#[test]
fn parquet_small_int_labels_and_unlabelled_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unsupervised.parquet");
    write_frame(
        &path,
        df!("text" => ["x", "y"], "label" => [-1i32, -1]).unwrap(),
    );
    let dd = load(Source::Parquet(path)).unwrap();
    assert_eq!(dd["train"].label_counts().get(&-1), Some(&2));
}

#[test]
fn csv_with_custom_columns_and_string_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "reviews.csv",
        "id,review,sentiment\n1,\"Great, moving film.\nSecond line with \"\"quotes\"\".\",positive\n2,Dull.,negative\n3,Fine,positive\n",
    );
    let options = LoadOptions {
        text_column: "review".into(),
        label_column: "sentiment".into(),
        ..LoadOptions::default()
    };
    let dd = DatasetDict::load(&Source::Csv(path), &options).unwrap();
    assert_eq!(dd.label_map().names(), ["negative", "positive"]);
    let train = &dd["train"];
    assert_eq!(train.len(), 3);
    assert_eq!(
        train[0].text,
        "Great, moving film.\nSecond line with \"quotes\"."
    );
    assert_eq!(train.labels(), [1, 0, 1]);
    assert_eq!(dd.id2label()[&0], "negative");
}

#[test]
fn tsv_and_integer_labels_in_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "train.tsv",
        "text\tlabel\nhello, world\t1\nbye\t0\n",
    );
    let dd = load(Source::Csv(path)).unwrap();
    assert_eq!(dd["train"].labels(), [1, 0]);
    assert_eq!(dd["train"][0].text, "hello, world");
    assert_eq!(dd.label_map().names(), ["LABEL_0", "LABEL_1"]);
}

#[test]
fn jsonl_with_an_explicit_label_map() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "data.jsonl",
        "{\"text\": \"loved it\", \"label\": \"pos\"}\n{\"text\": \"hated it\", \"label\": \"neg\", \"other\": 3}\n",
    );
    let options = LoadOptions {
        label_map: Some(LabelMap::new(["pos", "neg"]).unwrap()),
        ..LoadOptions::default()
    };
    let dd = DatasetDict::load(&Source::Jsonl(path.clone()), &options).unwrap();
    assert_eq!(dd["train"].labels(), [0, 1]);
    // Default map: sorted names, as `class_encode_column` does.
    let dd = load(Source::Jsonl(path)).unwrap();
    assert_eq!(dd["train"].labels(), [1, 0]);
    assert_eq!(dd.label_map().names(), ["neg", "pos"]);
}

#[test]
fn jsonl_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut ds = rows(&["a \"quoted\"\nline", "b"], &[0, 1]).to_rows();
    ds[1].rating = Some(9);
    let ds = TextDataset::from_rows(ds, LabelMap::imdb()).shuffle(1);
    let path = dir.path().join("out.jsonl");
    ds.write_jsonl(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().next().unwrap().starts_with("{\"text\":"));
    let options = LoadOptions {
        label_map: Some(LabelMap::imdb()),
        ..LoadOptions::default()
    };
    let back = DatasetDict::load(&Source::Jsonl(path), &options).unwrap();
    assert_eq!(back["train"].to_rows(), ds.to_rows());
}

#[test]
fn a_directory_of_files_is_one_split_per_file_and_shards_concatenate() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "test.csv", "text,label\nt0,0\nt1,1\n");
    write(dir.path(), "train-00001-of-00002.csv", "text,label\nb0,1\n");
    write(
        dir.path(),
        "train-00000-of-00002.csv",
        "text,label\na0,0\na1,1\n",
    );
    write(dir.path(), "notes.txt", "ignored");
    let dd = load(Source::Csv(dir.path().into())).unwrap();
    assert_eq!(dd.names().collect::<Vec<_>>(), ["train", "test"]);
    let train = &dd["train"];
    assert_eq!(train.texts(), ["a0", "a1", "b0"]);
    assert_eq!(
        train.iter().map(|r| r.source_index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    // The same through Source::from_path and explicit files.
    assert!(matches!(
        Source::from_path(dir.path()).unwrap(),
        Source::Csv(_)
    ));
    let explicit = load(Source::Files(vec![
        ("train".into(), dir.path().join("test.csv")),
        (
            "validation".into(),
            dir.path().join("train-00001-of-00002.csv"),
        ),
    ]))
    .unwrap();
    assert_eq!(
        explicit.names().collect::<Vec<_>>(),
        ["train", "validation"]
    );
    // Only some splits.
    let options = LoadOptions {
        splits: Some(vec!["test".into()]),
        ..LoadOptions::default()
    };
    let only = DatasetDict::load(&Source::Csv(dir.path().into()), &options).unwrap();
    assert_eq!(only.names().collect::<Vec<_>>(), ["test"]);
    let options = LoadOptions {
        splits: Some(vec!["validation".into()]),
        ..LoadOptions::default()
    };
    let err = DatasetDict::load(&Source::Csv(dir.path().into()), &options).unwrap_err();
    assert!(matches!(err, DataError::UnknownSplit { .. }), "{err}");
    assert!(err.to_string().contains("train, test"), "{err}");
}

// ---------------------------------------------------------------- bad input

#[test]
fn missing_files_and_directories() {
    let err = load(Source::Parquet("/nonexistent/x.parquet".into())).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/x.parquet"));
    let err = load(Source::Files(vec![(
        "train".into(),
        "/nonexistent/y.csv".into(),
    )]))
    .unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    let err = load(Source::AclImdb("/nonexistent/aclImdb".into())).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = load(Source::Parquet(dir.path().into())).unwrap_err();
    assert!(matches!(err, DataError::NoDataFiles { .. }), "{err}");
    let odd = write(dir.path(), "x.xlsx", "");
    assert!(matches!(
        Source::from_path(&odd),
        Err(DataError::UnknownFormat { .. })
    ));
    let err = load(Source::Files(vec![("train".into(), odd)])).unwrap_err();
    assert!(matches!(err, DataError::UnknownFormat { .. }), "{err}");
}

#[test]
fn corrupt_and_truncated_parquet_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(
        dir.path(),
        "garbage.parquet",
        "version https://git-lfs.github.com/spec/v1\noid sha256:abc\n",
    );
    let err = load(Source::Parquet(garbage)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Read {
                format: "parquet",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("garbage.parquet"));
    assert!(std::error::Error::source(&err).is_some());

    let good = dir.path().join("good.parquet");
    bertfit_data::generate::generate_dataset(200, 1)
        .write_parquet(&good)
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 8] {
        let truncated = dir.path().join(format!("truncated-{cut}.parquet"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let err = load(Source::Parquet(truncated)).unwrap_err();
        assert!(matches!(err, DataError::Read { .. }), "{err}");
    }
    // Damaged bytes in the middle (footer intact): an error or, if the damage hit only text,
    // rows — never a panic.
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 3;
    for b in &mut damaged[mid..mid + 64] {
        *b = !*b;
    }
    let path = dir.path().join("damaged.parquet");
    std::fs::write(&path, damaged).unwrap();
    let _ = load(Source::Parquet(path));
}

#[test]
fn missing_column_lists_the_columns_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    write_frame(&path, df!("review" => ["a"], "label" => [0i64]).unwrap());
    let err = load(Source::Parquet(path)).unwrap_err();
    let DataError::MissingColumn {
        column,
        found,
        role,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((column.as_str(), *role), ("text", "text"));
    assert_eq!(found, &["review", "label"]);
    assert!(
        err.to_string().contains("review, label") && err.to_string().contains("text_column"),
        "{err}"
    );

    // The list is the file's, not just the columns this crate would read.
    let path = dir.path().join("y.parquet");
    write_frame(
        &path,
        df!("text" => ["a"], "rating" => [3i64], "other" => [1.5]).unwrap(),
    );
    let err = load(Source::Parquet(path)).unwrap_err();
    let DataError::MissingColumn { found, role, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (found.as_slice(), *role),
        (
            &["text".to_string(), "rating".into(), "other".into()][..],
            "label"
        )
    );

    let csv = write(dir.path(), "x.csv", "text,sentiment\na,pos\n");
    let err = load(Source::Csv(csv)).unwrap_err();
    assert!(
        matches!(&err, DataError::MissingColumn { role: "label", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("text, sentiment"), "{err}");
}

#[test]
fn null_and_empty_texts_fail_or_are_counted_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    write_frame(&path, df!("text" => [Some("ok"), None, Some(""), Some("  "), Some("fine")], "label" => [0i64, 1, 0, 1, 1]).unwrap());
    let err = load(Source::Parquet(path.clone())).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::EmptyText {
                row: 1,
                kind: "null",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("drop_empty_text"));

    let options = LoadOptions {
        drop_empty_text: true,
        ..LoadOptions::default()
    };
    let dd = DatasetDict::load(&Source::Parquet(path), &options).unwrap();
    let train = &dd["train"];
    assert_eq!(train.texts(), ["ok", "fine"]);
    assert_eq!(train.info().skipped_empty, 3);
    assert_eq!(train[1].source_index, 4);

    let csv = write(dir.path(), "e.csv", "text,label\n\"\",0\nx,1\n");
    let err = load(Source::Csv(csv)).unwrap_err();
    assert!(matches!(err, DataError::EmptyText { row: 0, .. }), "{err}");
}

#[test]
fn labels_out_of_range_unmapped_null_or_of_the_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    // Out of range for the names in the parquet metadata.
    let path = dir.path().join("r.parquet");
    rows(&["a", "b"], &[1, 2]).write_parquet(&path).unwrap();
    let err = load(Source::Parquet(path)).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                row: 1,
                label: 2,
                num_labels: 2,
                ..
            }
        ),
        "{err}"
    );

    // Out of range for an explicit map; -2 is never valid.
    let csv = write(dir.path(), "r.csv", "text,label\na,0\nb,-2\n");
    let err = load(Source::Csv(csv)).unwrap_err();
    assert!(
        matches!(err, DataError::LabelOutOfRange { label: -2, .. }),
        "{err}"
    );

    // A name the map does not know.
    let csv = write(dir.path(), "u.csv", "text,label\na,pos\nb,neutral\n");
    let options = LoadOptions {
        label_map: Some(LabelMap::imdb()),
        ..LoadOptions::default()
    };
    let err = DatasetDict::load(&Source::Csv(csv), &options).unwrap_err();
    let DataError::UnmappedLabel {
        label, row, known, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((label.as_str(), *row, known.len()), ("neutral", 1, 2));
    assert!(err.to_string().contains("neg, pos"), "{err}");

    // Null label.
    let csv = write(dir.path(), "n.csv", "text,label\na,1\nb,\n");
    let err = load(Source::Csv(csv)).unwrap_err();
    assert!(matches!(err, DataError::NullLabel { row: 1, .. }), "{err}");

    // Float labels.
    let path = dir.path().join("f.parquet");
    write_frame(&path, df!("text" => ["a"], "label" => [0.5f64]).unwrap());
    let err = load(Source::Parquet(path)).unwrap_err();
    assert!(
        matches!(err, DataError::ColumnType { role: "label", .. }),
        "{err}"
    );

    // Text column that is not text.
    let path = dir.path().join("t.parquet");
    write_frame(&path, df!("text" => [1i64], "label" => [0i64]).unwrap());
    let err = load(Source::Parquet(path)).unwrap_err();
    assert!(
        matches!(err, DataError::ColumnType { role: "text", .. }),
        "{err}"
    );
}

#[test]
fn mixed_label_types_within_a_file_and_across_splits() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "m.csv", "text,label\na,1\nb,pos\n");
    let err = load(Source::Csv(csv)).unwrap_err();
    let DataError::MixedLabelTypes {
        int_example,
        name_example,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((int_example.as_str(), name_example.as_str()), ("1", "pos"));

    let jsonl = write(
        dir.path(),
        "m.jsonl",
        "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\"label\":\"pos\"}\n",
    );
    let err = load(Source::Jsonl(jsonl)).unwrap_err();
    assert!(matches!(err, DataError::MixedLabelTypes { .. }), "{err}");

    let ids = write(dir.path(), "ids.csv", "text,label\na,1\n");
    let names = write(dir.path(), "names.csv", "text,label\nb,pos\n");
    let err = load(Source::Files(vec![
        ("train".into(), ids),
        ("test".into(), names),
    ]))
    .unwrap_err();
    assert!(matches!(err, DataError::MixedLabelTypes { .. }), "{err}");
}

#[test]
fn empty_splits_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "empty.csv", "text,label\n");
    let err = load(Source::Csv(csv)).unwrap_err();
    assert!(matches!(err, DataError::EmptySplit { .. }), "{err}");
    let blank = write(dir.path(), "blank.csv", "text,label\n\" \",0\n");
    let options = LoadOptions {
        drop_empty_text: true,
        ..LoadOptions::default()
    };
    let err = DatasetDict::load(&Source::Csv(blank), &options).unwrap_err();
    assert!(
        matches!(err, DataError::EmptySplit { skipped: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("1 empty texts were dropped"),
        "{err}"
    );
    let zero = write(dir.path(), "zero.csv", "");
    assert!(load(Source::Csv(zero)).is_err());
    let path = dir.path().join("none.parquet");
    write_frame(
        &path,
        df!("text" => Vec::<String>::new(), "label" => Vec::<i64>::new()).unwrap(),
    );
    let err = load(Source::Parquet(path)).unwrap_err();
    assert!(matches!(err, DataError::EmptySplit { .. }), "{err}");
}

#[test]
fn empty_files_malformed_jsonl_lines_and_duplicate_splits_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.csv", "");
    match load(Source::from_path(&empty).unwrap()) {
        Err(DataError::EmptyFile { path }) => assert_eq!(path, empty),
        other => panic!("{other:?}"),
    }

    let jsonl = write(
        dir.path(),
        "broken.jsonl",
        "{\"text\": \"a\", \"label\": 0}\n\n{\"text\": \"b\", \"label\": 1}\n[1, 2]\n{\"text\": \"c\",\n",
    );
    let err = load(Source::from_path(&jsonl).unwrap()).unwrap_err();
    match &err {
        // Blank lines count: the array is on line 4.
        DataError::MalformedLine { line, message, .. } => {
            assert_eq!(*line, 4);
            assert!(message.contains("not an object"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("broken.jsonl: line 4"), "{err}");

    let splits = tempfile::tempdir().unwrap();
    write(splits.path(), "train.csv", "text,label\na,0\n");
    write(
        splits.path(),
        "train.jsonl",
        "{\"text\": \"a\", \"label\": 0}\n",
    );
    write(splits.path(), "test.csv", "text,label\na,0\n");
    match Source::from_path(splits.path()) {
        Err(DataError::DuplicateSplit { split, files, .. }) => {
            assert_eq!(split, "train");
            assert_eq!(files, ["train.csv", "train.jsonl"]);
        }
        other => panic!("{other:?}"),
    }
    // Shards of one split are not duplicates.
    let shards = tempfile::tempdir().unwrap();
    write(
        shards.path(),
        "train-00000-of-00002.csv",
        "text,label\na,0\n",
    );
    write(
        shards.path(),
        "train-00001-of-00002.csv",
        "text,label\nb,1\n",
    );
    assert_eq!(
        load(Source::from_path(shards.path()).unwrap())
            .unwrap()
            .split("train")
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn invalid_utf8_and_ragged_csv_records_are_named_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.csv");
    std::fs::write(&path, b"text,label\ngood,pos\ncaf\xe9 film,neg\n").unwrap();
    match load(Source::from_path(&path).unwrap()) {
        Err(DataError::InvalidUtf8 { line, .. }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
    // A quoted field may hold the separator and a newline; the ragged record starts on line 5.
    let ragged = write(
        dir.path(),
        "ragged.csv",
        "text,label\n\"a, quoted\nfield\",pos\nplain,neg\none,two,three\n",
    );
    match load(Source::from_path(&ragged).unwrap()) {
        Err(DataError::RaggedRow {
            line,
            found,
            expected,
            ..
        }) => assert_eq!((line, found, expected), (5, 3, 2)),
        other => panic!("{other:?}"),
    }
}
