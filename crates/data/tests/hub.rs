//! The Hub path against a mock Hub on 127.0.0.1 (`support/mock_hub.rs`) that serves the
//! Hub's download endpoints. Covers download, the Python-compatible cache layout, cache reuse,
//! offline mode, 404, 401/token, and a connection dropped mid-file (then downloaded again).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mock_hub.rs"]
mod mock_hub;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use mock_hub::{Logged, MockHub};

use bertfit_data::{
    DataError, DatasetDict, HubOptions, HubSource, LabelMap, LoadOptions, Source, TextRow, generate,
};
use polars::prelude::*;

// ------------------------------------------------------------------ fixtures

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A parquet file shaped like the Hub's IMDB splits: `text` string, `label` int64, and the
/// `huggingface` metadata with the ClassLabel names.
fn imdb_parquet(rows: &[TextRow]) -> Vec<u8> {
    let mut df = df!(
        "text" => rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
        "label" => rows.iter().map(|r| r.label).collect::<Vec<i64>>()
    )
    .unwrap();
    let meta = r#"{"info": {"features": {"text": {"dtype": "string", "_type": "Value"}, "label": {"names": ["neg", "pos"], "_type": "ClassLabel"}}}}"#;
    let mut out = Vec::new();
    ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Snappy)
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![(
            "huggingface".into(),
            meta.into(),
        )])))
        .finish(&mut df)
        .unwrap();
    out
}

struct Imdb {
    train: Vec<TextRow>,
    test: Vec<TextRow>,
    unsup: Vec<TextRow>,
    files: BTreeMap<String, Vec<u8>>,
}

fn imdb() -> Imdb {
    let train = generate::generate_reviews(300, 1);
    let test = generate::generate_reviews(200, 2);
    let unsup: Vec<TextRow> = generate::generate_reviews(50, 3)
        .into_iter()
        .map(|r| TextRow { label: -1, ..r })
        .collect();
    let mut files = BTreeMap::new();
    files.insert(
        ".gitattributes".to_string(),
        b"*.parquet filter=lfs".to_vec(),
    );
    files.insert("README.md".to_string(), b"# IMDB (mock)".to_vec());
    files.insert(
        "plain_text/train-00000-of-00001.parquet".to_string(),
        imdb_parquet(&train),
    );
    files.insert(
        "plain_text/test-00000-of-00001.parquet".to_string(),
        imdb_parquet(&test),
    );
    files.insert(
        "plain_text/unsupervised-00000-of-00001.parquet".to_string(),
        imdb_parquet(&unsup),
    );
    Imdb {
        train,
        test,
        unsup,
        files,
    }
}

fn options(endpoint: String, cache: &Path) -> HubOptions {
    HubOptions {
        endpoint,
        token: None,
        offline: false,
        cache_dir: cache.to_path_buf(),
        revision: "main".into(),
        retries: 0,
        progress: false,
    }
}

fn source(repo: &str, options: HubOptions) -> Source {
    Source::Hub(HubSource::new(repo).config("plain_text").options(options))
}

fn load(source: &Source) -> bertfit_data::Result<DatasetDict> {
    DatasetDict::load(source, &LoadOptions::default())
}

fn texts_labels(rows: &[TextRow]) -> Vec<(String, i64)> {
    rows.iter().map(|r| (r.text.clone(), r.label)).collect()
}

fn closed_port_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

fn downloads(log: &[Logged]) -> usize {
    log.iter().filter(|l| l.path.contains("/resolve/")).count()
}

// ------------------------------------------------------------------ tests

#[test]
fn downloads_imdb_into_the_python_cache_layout_and_reuses_it() {
    let hub = MockHub::start();
    let data = imdb();
    hub.add_repo("stanfordnlp/imdb", SHA, data.files.clone());
    let cache = tempfile::tempdir().unwrap();
    let src = source("stanfordnlp/imdb", options(hub.endpoint(), cache.path()));

    let dd = load(&src).unwrap();
    assert_eq!(
        dd.names().collect::<Vec<_>>(),
        ["train", "test", "unsupervised"]
    );
    assert_eq!(dd.label_map(), &LabelMap::imdb());
    assert_eq!(
        texts_labels(&dd["train"].to_rows()),
        texts_labels(&data.train)
    );
    assert_eq!(
        texts_labels(&dd["test"].to_rows()),
        texts_labels(&data.test)
    );
    assert_eq!(
        texts_labels(&dd["unsupervised"].to_rows()),
        texts_labels(&data.unsup)
    );
    assert_eq!(dd["train"][100].source_index, 100);

    // huggingface_hub's layout: refs/main → commit, snapshots/<commit>/<file> → ../blobs/<etag>.
    let repo_dir = cache.path().join("datasets--stanfordnlp--imdb");
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        SHA
    );
    let snap = repo_dir
        .join("snapshots")
        .join(SHA)
        .join("plain_text/train-00000-of-00001.parquet");
    assert!(snap.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(
        std::fs::read(&snap).unwrap(),
        data.files["plain_text/train-00000-of-00001.parquet"]
    );
    assert_eq!(
        std::fs::read_dir(repo_dir.join("blobs"))
            .unwrap()
            .filter(|e| { e.as_ref().unwrap().path().extension().is_none() })
            .count(),
        3
    );

    // 1 listing + (HEAD probe + GET content) per split file, pinned to the listed commit;
    // README and .gitattributes are not fetched.
    let log = hub.log();
    assert_eq!(
        log.iter()
            .filter(|l| l
                .path
                .starts_with("/api/datasets/stanfordnlp/imdb/revision/main"))
            .count(),
        1
    );
    assert_eq!(downloads(&log), 6);
    let probes: Vec<&Logged> = log
        .iter()
        .filter(|l| l.method == "HEAD" && l.path.contains("/resolve/"))
        .collect();
    assert_eq!(probes.len(), 3);
    assert!(
        probes.iter().all(|l| l
            .path
            .starts_with(&format!("/datasets/stanfordnlp/imdb/resolve/{SHA}/"))),
        "{probes:?}"
    );
    assert!(log.iter().all(|l| l.authorization.is_none()));

    // Second load: only the listing, no file requests.
    hub.clear_log();
    let again = load(&src).unwrap();
    assert_eq!(again["train"].to_rows(), dd["train"].to_rows());
    assert_eq!(downloads(&hub.log()), 0);

    // Offline: no request at all, same rows.
    hub.clear_log();
    let mut offline = options(hub.endpoint(), cache.path());
    offline.offline = true;
    let dd_offline = load(&source("stanfordnlp/imdb", offline)).unwrap();
    assert_eq!(dd_offline["test"].to_rows(), dd["test"].to_rows());
    assert!(hub.log().is_empty());

    // Endpoint unreachable but files cached: falls back to the cache.
    let unreachable = source(
        "stanfordnlp/imdb",
        options(closed_port_endpoint(), cache.path()),
    );
    assert_eq!(load(&unreachable).unwrap()["train"].len(), 300);

    // Only some splits; the config can also be left to discovery.
    let only_test = DatasetDict::load(
        &Source::Hub(
            HubSource::new("stanfordnlp/imdb").options(options(hub.endpoint(), cache.path())),
        ),
        &LoadOptions {
            splits: Some(vec!["test".into()]),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(only_test.names().collect::<Vec<_>>(), ["test"]);
}

#[cfg(unix)] // builds the symlinked layout by hand
#[test]
fn uses_files_python_already_downloaded_offline() {
    // Lay out the cache the way huggingface_hub.hf_hub_download does, by hand.
    let cache = tempfile::tempdir().unwrap();
    let data = imdb();
    let repo_dir = cache.path().join("datasets--stanfordnlp--imdb");
    let blob = "2fd2b4c4d1e1d5c4b1a3c6f7e8d9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7";
    std::fs::create_dir_all(repo_dir.join("blobs")).unwrap();
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(
        repo_dir.join("blobs").join(blob),
        &data.files["plain_text/train-00000-of-00001.parquet"],
    )
    .unwrap();
    std::fs::write(repo_dir.join("refs/main"), SHA).unwrap();
    let snap_dir = repo_dir.join("snapshots").join(SHA).join("plain_text");
    std::fs::create_dir_all(&snap_dir).unwrap();
    std::os::unix::fs::symlink(
        PathBuf::from("../../../blobs").join(blob),
        snap_dir.join("train-00000-of-00001.parquet"),
    )
    .unwrap();

    let mut opts = options(closed_port_endpoint(), cache.path());
    opts.offline = true;
    let dd = load(&source("stanfordnlp/imdb", opts.clone())).unwrap();
    assert_eq!(dd.names().collect::<Vec<_>>(), ["train"]);
    assert_eq!(
        texts_labels(&dd["train"].to_rows()),
        texts_labels(&data.train)
    );
    assert_eq!(dd.id2label()[&0], "neg");

    // Asking for a split that is not cached is the offline error.
    let err = DatasetDict::load(
        &source("stanfordnlp/imdb", opts),
        &LoadOptions {
            splits: Some(vec!["test".into()]),
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::HubOfflineNotCached { .. }),
        "{err}"
    );
}

#[test]
fn offline_with_nothing_cached_says_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let mut opts = options(closed_port_endpoint(), cache.path());
    opts.offline = true;
    let err = load(&source("stanfordnlp/imdb", opts)).unwrap_err();
    assert!(
        matches!(err, DataError::HubOfflineNotCached { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("HF_HUB_OFFLINE")
            && msg.contains("Source::Parquet")
            && msg.contains("stanfordnlp/imdb"),
        "{msg}"
    );
    assert!(msg.contains(&cache.path().display().to_string()), "{msg}");
}

#[test]
fn not_found_repo_file_and_config() {
    let hub = MockHub::start();
    let data = imdb();
    hub.add_repo("stanfordnlp/imdb", SHA, data.files.clone());
    let cache = tempfile::tempdir().unwrap();

    let err = load(&source(
        "nobody/nothing",
        options(hub.endpoint(), cache.path()),
    ))
    .unwrap_err();
    let DataError::HubNotFound { url, repo_id, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        url.contains("/api/datasets/nobody/nothing/revision/main"),
        "{url}"
    );
    assert_eq!(repo_id, "nobody/nothing");
    assert!(
        err.to_string().contains("404") && err.to_string().contains("nobody/nothing"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());

    let err = DatasetDict::load(
        &Source::Hub(
            HubSource::new("stanfordnlp/imdb")
                .config("no_such_config")
                .options(options(hub.endpoint(), cache.path())),
        ),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::HubNoSplits { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("plain_text/train-00000-of-00001.parquet"),
        "{err}"
    );

    // A listed file that the server then cannot find (404 on resolve).
    hub.state
        .lock()
        .unwrap()
        .ghost_files
        .push("plain_text/validation-00000-of-00001.parquet".into());
    let err = load(&source(
        "stanfordnlp/imdb",
        options(hub.endpoint(), cache.path()),
    ))
    .unwrap_err();
    let DataError::HubNotFound { url, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        url.ends_with(&format!(
            "/datasets/stanfordnlp/imdb/resolve/{SHA}/plain_text/validation-00000-of-00001.parquet"
        )),
        "{url}"
    );
}

#[test]
fn unauthorized_without_the_token_and_fine_with_it() {
    let hub = MockHub::start();
    hub.add_repo("org/gated", SHA, imdb().files);
    hub.state.lock().unwrap().token = Some("hf_secret".into());
    let cache = tempfile::tempdir().unwrap();

    let err = load(&source("org/gated", options(hub.endpoint(), cache.path()))).unwrap_err();
    let DataError::HubUnauthorized { status, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*status, 401);
    assert!(err.to_string().contains("HF_TOKEN"), "{err}");

    let mut with_token = options(hub.endpoint(), cache.path());
    with_token.token = Some("hf_wrong".into());
    assert!(matches!(
        load(&source("org/gated", with_token)),
        Err(DataError::HubUnauthorized { .. })
    ));

    hub.clear_log();
    let mut with_token = options(hub.endpoint(), cache.path());
    with_token.token = Some("hf_secret".into());
    let dd = load(&source("org/gated", with_token)).unwrap();
    assert_eq!(dd["train"].len(), 300);
    assert!(
        hub.log()
            .iter()
            .all(|l| l.authorization.as_deref() == Some("Bearer hf_secret"))
    );
}

#[test]
fn a_connection_dropped_mid_file_is_an_error_then_downloads_again() {
    let hub = MockHub::start();
    let data = imdb();
    hub.add_repo("stanfordnlp/imdb", SHA, data.files.clone());
    let cache = tempfile::tempdir().unwrap();
    let src = source("stanfordnlp/imdb", options(hub.endpoint(), cache.path()));

    hub.state.lock().unwrap().drop_downloads = 1;
    let err = load(&src).unwrap_err();
    let DataError::Hub { what, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        what.contains("interrupted") && what.contains("run again"),
        "{what}"
    );
    // No half file in the snapshot; the partial blob is not used as a file.
    let repo_dir = cache.path().join("datasets--stanfordnlp--imdb");
    let snapshot_file = repo_dir
        .join("snapshots")
        .join(SHA)
        .join("plain_text/train-00000-of-00001.parquet");
    assert!(!snapshot_file.exists());
    let parts: Vec<PathBuf> = std::fs::read_dir(repo_dir.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "incomplete"))
        .collect();
    assert_eq!(parts.len(), 1);

    // The next run downloads the file again, whole (hf-hub 1.0 does not resume a plain-HTTP
    // download), and completes.
    hub.clear_log();
    let dd = load(&src).unwrap();
    assert_eq!(
        texts_labels(&dd["train"].to_rows()),
        texts_labels(&data.train)
    );
    assert!(
        hub.log()
            .iter()
            .any(|l| l.method == "GET" && l.path.contains("/resolve/") && l.range.is_none()),
        "{:?}",
        hub.log()
    );

    // With retries, a drop is retried within the same call.
    let cache2 = tempfile::tempdir().unwrap();
    let mut retrying = options(hub.endpoint(), cache2.path());
    retrying.retries = 2;
    hub.state.lock().unwrap().drop_downloads = 1;
    let dd = load(&source("stanfordnlp/imdb", retrying)).unwrap();
    assert_eq!(dd["test"].len(), 200);
}

#[test]
fn hub_options_default_from_the_environment() {
    let o = HubOptions::from_lookup(|k| match k {
        "HF_ENDPOINT" => Some("http://127.0.0.1:1".into()),
        "HF_HOME" => Some("/tmp/hf-home".into()),
        "HF_HUB_OFFLINE" => Some("1".into()),
        _ => None,
    });
    assert_eq!(o.endpoint, "http://127.0.0.1:1");
    assert_eq!(o.cache_dir, PathBuf::from("/tmp/hf-home/hub"));
    assert!(o.offline);
    assert_eq!(o.revision, "main");
    assert!(
        matches!(Source::imdb(), Source::Hub(h) if h.repo_id == "stanfordnlp/imdb" && h.config.as_deref() == Some("plain_text"))
    );
}
