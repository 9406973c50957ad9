//! `bertfit push` end to end: the real binary against a mock Hugging Face Hub on 127.0.0.1 that
//! serves the upload side of the Hub as the real Hub answers it — `POST /api/repos/create`,
//! `POST /api/models/{repo}/preupload/{rev}`, the Git LFS batch API
//! (`POST /{repo}.git/info/lfs/objects/batch`: `xet` when the client offers it, else `basic` with
//! upload and verify actions), `GET /api/models/{repo}/xet-write-token/{rev}` and
//! `POST /api/models/{repo}/commit/{rev}` (NDJSON) — checks the bearer token, stores committed
//! files, and records every request.
//!
//! The Xet storage (CAS) behind it is hf-xet's own simulation server (`xet-client`'s
//! `LocalServer`, the CAS protocol as the Xet team emulates it), reached through a recording
//! proxy. A commit's `lfsFile` lines are checked as the Hub checks them: the sha256 must name a
//! file the CAS holds (found through the shards uploaded to it), and the committed bytes are
//! read back from the CAS.
//!
//! This test only spawns the binary: it links no burn and no bertfit crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../crates/data/tests/support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use server::Server;
use sha2::{Digest, Sha256};
use xet_client::cas_client::{DirectAccessClient, LocalServer, LocalServerConfig};
use xet_core_structures::metadata_shard::MDBShardInfo;

const TOKEN: &str = "hf_mockSecretToken0123456789";
const XET_TOKEN: &str = "xet_mockWriteToken42";

// ------------------------------------------------------------------ the mock CAS

/// hf-xet's simulated CAS on a private port, with a proxy in front that records every byte
/// clients send to it.
struct Cas {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    client: Arc<dyn DirectAccessClient>,
    shard_dir: PathBuf,
    _data: tempfile::TempDir,
    proxy: Proxy,
}

impl Cas {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let data = tempfile::tempdir().unwrap();
        let (server, listener) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let config = LocalServerConfig {
                data_directory: data.path().to_path_buf(),
                host: "127.0.0.1".to_string(),
                port,
                in_memory: false,
            };
            let ctx = xet_runtime::core::XetContext::default().unwrap();
            (LocalServer::new(ctx, config).await.unwrap(), listener)
        });
        let client = server.client();
        let upstream = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            server.serve_until_stopped(listener, stopped).await.unwrap();
        });
        Self {
            runtime,
            stop: Some(stop),
            client,
            shard_dir: data.path().join("shards"),
            _data: data,
            proxy: Proxy::start(upstream),
        }
    }

    /// Where clients are sent: the proxy.
    fn endpoint(&self) -> String {
        format!("http://{}", self.proxy.addr)
    }

    /// Content of the file whose sha256 is `oid`, if a shard uploaded to the CAS names it.
    fn file_by_sha256(&self, oid: &str) -> Option<Vec<u8>> {
        for entry in std::fs::read_dir(&self.shard_dir).ok()? {
            let path = entry.ok()?.path();
            let mut reader = std::fs::File::open(&path).ok()?;
            let Ok(shard) = MDBShardInfo::load_from_reader(&mut reader) else {
                continue;
            };
            let Ok(files) = shard.read_all_file_info_sections(&mut reader) else {
                continue;
            };
            for file in files {
                if file.metadata_ext.is_some_and(|ext| ext.sha256.hex() == oid) {
                    let bytes = self
                        .runtime
                        .block_on(self.client.get_file_data(&file.metadata.file_hash, None))
                        .ok()?;
                    return Some(bytes.to_vec());
                }
            }
        }
        None
    }

    /// Everything clients sent to the CAS so far.
    fn traffic(&self) -> Vec<u8> {
        self.proxy.sent.lock().unwrap().clone()
    }

    fn clear_traffic(&self) {
        self.proxy.sent.lock().unwrap().clear();
    }
}

impl Drop for Cas {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A TCP proxy that forwards each connection to `upstream` and keeps what clients sent.
struct Proxy {
    addr: SocketAddr,
    sent: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let (Ok(client), Ok(server)) = (client, TcpStream::connect(upstream)) else {
                    continue;
                };
                let (mut from_client, mut to_server) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = from_client.read(&mut buf) {
                        if n == 0 || to_server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        log.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = to_server.shutdown(Shutdown::Write);
                });
                let (mut from_server, mut to_client) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(Shutdown::Write);
                });
            }
        });
        Self { addr, sent, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// How often `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

// ------------------------------------------------------------------ the mock Hub

/// One request as the mock saw it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// Path and query.
    path: String,
    /// Lower-case names.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct Repo {
    private: bool,
    files: BTreeMap<String, Vec<u8>>,
    commits: usize,
}

/// The CAS as the mock Hub's commit handler sees it.
type CasLookup = Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;

#[derive(Default)]
struct State {
    repos: BTreeMap<String, Repo>,
    /// LFS objects uploaded through the `basic` transfer, by sha256 oid.
    lfs: BTreeMap<String, Vec<u8>>,
    /// The Xet storage's URL and a lookup of its files by sha256.
    cas: Option<(String, CasLookup)>,
    log: Vec<Request>,
    /// Protocol violations the mock noticed (the test asserts there are none).
    violations: Vec<String>,
}

struct MockHub {
    server: Server<State>,
    state: Arc<Mutex<State>>,
    cas: Arc<Cas>,
}

impl MockHub {
    fn start() -> Self {
        let server = Server::start(handle);
        let state = server.state.clone();
        let cas = Arc::new(Cas::start());
        let lookup = cas.clone();
        state.lock().unwrap().cas = Some((
            cas.endpoint(),
            Arc::new(move |oid: &str| lookup.file_by_sha256(oid)),
        ));
        Self { server, state, cas }
    }

    fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    fn log(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }

    fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
        self.cas.clear_traffic();
    }

    fn with<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap())
    }
}

impl Drop for MockHub {
    fn drop(&mut self) {
        // The lookup closure holds the CAS; drop it with the Hub.
        self.state.lock().unwrap().cas = None;
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &Value) -> std::io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    // Only Content-Length bodies: the Hub's storage (S3) refuses chunked uploads.
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
}

fn handle(mut stream: TcpStream, addr: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    let request = read_request(&stream)?;
    let mut st = state.lock().unwrap();
    st.log.push(request.clone());
    let endpoint = format!("http://{addr}");
    let path = request.path.clone();
    let method = request.method.as_str();

    if request.header("transfer-encoding").is_some() {
        st.violations.push(format!("{method} {path}: chunked body"));
        return respond(
            &mut stream,
            "411 Length Required",
            &json!({"error": "chunked"}),
        );
    }

    // Storage: the pre-signed upload URL. Authorised by its own header, never by the Hub token.
    if let Some(rest) = path.strip_prefix("/storage/") {
        let oid = rest.split('?').next().unwrap_or("").to_string();
        if method != "PUT" || request.header("x-mock-signature") != Some(&format!("sig-{oid}")) {
            st.violations
                .push(format!("{method} {path}: bad storage request"));
            return respond(
                &mut stream,
                "403 Forbidden",
                &json!({"error": "bad signature"}),
            );
        }
        if request.header("authorization").is_some() {
            st.violations
                .push(format!("{method} {path}: Hub token sent to storage"));
        }
        if sha256_hex(&request.body) != oid {
            st.violations
                .push(format!("{method} {path}: body does not match its oid"));
            return respond(&mut stream, "400 Bad Request", &json!({"error": "bad oid"}));
        }
        st.lfs.insert(oid, request.body.clone());
        return respond(&mut stream, "200 OK", &json!({}));
    }

    if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return respond(
            &mut stream,
            "401 Unauthorized",
            &json!({"error": "Invalid credentials in Authorization header"}),
        );
    }

    if method == "POST" && path == "/api/repos/create" {
        let body = request.json();
        let id = format!(
            "{}/{}",
            body["organization"].as_str().unwrap_or(""),
            body["name"].as_str().unwrap_or("")
        );
        if body["type"] != "model" {
            st.violations.push(format!("create: type {}", body["type"]));
        }
        if st.repos.contains_key(&id) {
            return respond(
                &mut stream,
                "409 Conflict",
                &json!({"error": "You already created this model repo", "url": format!("{endpoint}/{id}")}),
            );
        }
        let repo = Repo {
            private: body["private"].as_bool().unwrap_or(false),
            ..Repo::default()
        };
        st.repos.insert(id.clone(), repo);
        return respond(
            &mut stream,
            "200 OK",
            &json!({"url": format!("{endpoint}/{id}")}),
        );
    }

    if let Some(rest) = path.strip_prefix("/api/models/") {
        let (repo_id, action, revision) = if let Some((repo, rev)) = rest.split_once("/preupload/")
        {
            (repo.to_string(), "preupload", rev.to_string())
        } else if let Some((repo, rev)) = rest.split_once("/commit/") {
            (repo.to_string(), "commit", rev.to_string())
        } else if let Some((repo, rev)) = rest.split_once("/xet-write-token/") {
            (repo.to_string(), "xet-write-token", rev.to_string())
        } else {
            return respond(&mut stream, "404 Not Found", &json!({"error": "no route"}));
        };
        if !st.repos.contains_key(&repo_id) || revision != "main" {
            return respond(
                &mut stream,
                "404 Not Found",
                &json!({"error": "Repository or revision not found"}),
            );
        }
        if action == "xet-write-token" {
            if method != "GET" {
                st.violations.push(format!("{method} {path}: xet token"));
            }
            let Some((cas_url, _)) = &st.cas else {
                return respond(
                    &mut stream,
                    "503 Service Unavailable",
                    &json!({"error": "no CAS"}),
                );
            };
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 3600;
            return respond(
                &mut stream,
                "200 OK",
                &json!({"accessToken": XET_TOKEN, "exp": exp, "casUrl": cas_url}),
            );
        }
        if action == "preupload" {
            let body = request.json();
            let files: Vec<Value> = body["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let path = f["path"].as_str().unwrap();
                    let lfs = path.ends_with(".safetensors") || path.ends_with(".bin");
                    json!({
                        "path": path,
                        "uploadMode": if lfs { "lfs" } else { "regular" },
                        "shouldIgnore": false,
                    })
                })
                .collect();
            return respond(&mut stream, "200 OK", &json!({"files": files}));
        }
        // commit
        if request.header("content-type") != Some("application/x-ndjson") {
            st.violations.push("commit: not NDJSON".into());
        }
        let text = String::from_utf8(request.body.clone()).unwrap();
        let mut lines = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap());
        let header = lines.next().unwrap();
        if header["key"] != "header" || !header["value"]["summary"].is_string() {
            st.violations.push(format!("commit: first line {header}"));
        }
        let mut files = BTreeMap::new();
        for line in lines {
            let value = &line["value"];
            let path = value["path"].as_str().unwrap().to_string();
            match line["key"].as_str().unwrap() {
                "file" => {
                    assert_eq!(value["encoding"], "base64");
                    let bytes = BASE64.decode(value["content"].as_str().unwrap()).unwrap();
                    files.insert(path, bytes);
                }
                "lfsFile" => {
                    assert_eq!(value["algo"], "sha256");
                    let oid = value["oid"].as_str().unwrap();
                    // Uploaded through `basic`, else a file the Xet storage holds.
                    let stored = st.lfs.get(oid).cloned().or_else(|| {
                        let (_, lookup) = st.cas.as_ref()?;
                        lookup(oid)
                    });
                    let Some(bytes) = stored else {
                        return respond(
                            &mut stream,
                            "422 Unprocessable Entity",
                            &json!({"error": format!("LFS object {oid} not uploaded")}),
                        );
                    };
                    if value["size"].as_u64() != Some(bytes.len() as u64) {
                        st.violations.push(format!("commit: size of {path}"));
                    }
                    files.insert(path, bytes);
                }
                other => st.violations.push(format!("commit: key {other}")),
            }
        }
        let repo = st.repos.get_mut(&repo_id).unwrap();
        repo.files.extend(files);
        repo.commits += 1;
        let oid = format!("{:040x}", repo.commits);
        return respond(
            &mut stream,
            "200 OK",
            &json!({
                "commitUrl": format!("{endpoint}/{repo_id}/commit/{oid}"),
                "commitOid": oid,
            }),
        );
    }

    if let Some(repo_id) = path.strip_suffix(".git/info/lfs/objects/batch") {
        let repo_id = repo_id.trim_start_matches('/').to_string();
        if request.header("accept") != Some("application/vnd.git-lfs+json")
            || request.header("content-type") != Some("application/vnd.git-lfs+json")
        {
            st.violations.push("lfs batch: content types".into());
        }
        let body = request.json();
        if body["operation"] != "upload"
            || body["hash_algo"] != "sha256"
            || body["ref"]["name"] != "main"
        {
            st.violations.push(format!("lfs batch: body {body}"));
        }
        let offered: Vec<&str> = body["transfers"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if offered.contains(&"xet") {
            // The Hub's choice for a client that speaks Xet: the content goes to the CAS
            // named by the xet write token; the objects carry no actions.
            let objects: Vec<Value> = body["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| json!({"oid": o["oid"], "size": o["size"]}))
                .collect();
            return respond(
                &mut stream,
                "200 OK",
                &json!({"transfer": "xet", "objects": objects}),
            );
        }
        if !offered.contains(&"basic") {
            st.violations
                .push(format!("lfs batch: transfers {offered:?}"));
        }
        let objects: Vec<Value> = body["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let oid = o["oid"].as_str().unwrap();
                if st.lfs.contains_key(oid) {
                    json!({"oid": oid, "size": o["size"]})
                } else {
                    json!({
                        "oid": oid,
                        "size": o["size"],
                        "authenticated": true,
                        "actions": {
                            "upload": {
                                "href": format!("{endpoint}/storage/{oid}?X-Amz-Signature=presigned"),
                                "header": {"X-Mock-Signature": format!("sig-{oid}")},
                            },
                            "verify": {
                                "href": format!("{endpoint}/{repo_id}.git/info/lfs/objects/verify"),
                                "header": {"X-Mock-Verify": "yes"},
                            },
                        },
                    })
                }
            })
            .collect();
        return respond(
            &mut stream,
            "200 OK",
            &json!({"transfer": "basic", "objects": objects}),
        );
    }

    if path.ends_with(".git/info/lfs/objects/verify") {
        let body = request.json();
        let oid = body["oid"].as_str().unwrap_or("");
        if request.header("x-mock-verify") != Some("yes") {
            st.violations.push("verify: action header missing".into());
        }
        return match st.lfs.get(oid) {
            Some(bytes) if body["size"].as_u64() == Some(bytes.len() as u64) => {
                respond(&mut stream, "200 OK", &json!({}))
            }
            _ => respond(
                &mut stream,
                "404 Not Found",
                &json!({"error": "object not found"}),
            ),
        };
    }

    respond(&mut stream, "404 Not Found", &json!({"error": "no route"}))
}

// ------------------------------------------------------------------ helpers

/// Runs `bertfit` with a clean Hub environment plus `env`.
fn bertfit(args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bertfit"));
    command.args(args);
    for var in [
        "HF_TOKEN",
        "HF_TOKEN_PATH",
        "HF_ENDPOINT",
        "HF_HUB_OFFLINE",
        "HF_HUB_CACHE",
        "XDG_CACHE_HOME",
    ] {
        command.env_remove(var);
    }
    // No token file from this machine's `huggingface-cli login`.
    command.env("HF_HOME", home.join("hf-home"));
    command.envs(env.iter().copied());
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout + stderr, asserting the token is in neither.
fn outputs(out: &Output) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN) && !stderr.contains("mockSecret"),
        "the token leaked:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

const ACCURACY: f64 = 0.8125;

/// A small fake `bertfit finetune` output directory, with a checkpoint folder.
fn model_dir(root: &Path) -> PathBuf {
    let dir = root.join("model");
    std::fs::create_dir_all(dir.join("checkpoint-1")).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    let config = json!({
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "id2label": {"0": "negative", "1": "positive"},
        "label2id": {"negative": 0, "positive": 1},
    });
    write("config.json", config.to_string().as_bytes());
    // A few KB of bytes that are not text, so the Hub would route them through LFS anyway.
    let weights: Vec<u8> = (0..6000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write("model.safetensors", &weights);
    write(
        "vocab.txt",
        b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\n",
    );
    write(
        "tokenizer_config.json",
        br#"{"tokenizer_class": "BertTokenizer", "do_lower_case": true}"#,
    );
    let eval = json!({
        "eval_loss": 0.4321, "eval_accuracy": ACCURACY, "eval_precision": 0.8,
        "eval_recall": 0.75, "eval_specificity": 0.875, "eval_f1": 0.7742,
        "eval_roc_auc": 0.9, "eval_runtime": 0.5, "epoch": 2.0,
    });
    write("eval_results.json", eval.to_string().as_bytes());
    write(
        "train_results.json",
        br#"{"train_loss": 0.55, "train_runtime": 3.2, "epoch": 2.0}"#,
    );
    let training = json!({
        "output_dir": "models/x", "learning_rate": 0.0002, "num_train_epochs": 2.0,
        "max_steps": -1, "per_device_train_batch_size": 8, "seed": 42, "max_length": 64,
        "padding": "longest", "warmup_steps": 0, "warmup_ratio": 0.1,
    });
    write("training_config.json", training.to_string().as_bytes());
    write(
        "metrics.jsonl",
        b"{\"step\": 1, \"loss\": 0.7}\n{\"step\": 2, \"loss\": 0.6}\n",
    );
    write("checkpoint-1/model.safetensors", &weights[..3000]);
    write("checkpoint-1/optimizer.bpk", b"optimizer state");
    write("checkpoint-1/trainer_state.json", b"{\"global_step\": 1}");
    dir
}

/// The top-level files of `dir`, by name.
fn local_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn count(log: &[Request], method: &str, path_part: &str) -> usize {
    log.iter()
        .filter(|r| r.method == method && r.path.contains(path_part))
        .count()
}

/// Xorb uploads in the CAS traffic (the direct route and the upload-grant route).
fn xorb_uploads(cas: &[u8]) -> usize {
    occurrences(cas, "POST /v1/xorbs/") + occurrences(cas, "POST /v1/xorb-grants/")
}

fn assert_no_violations(hub: &MockHub) {
    let violations = hub.with(|s| s.violations.clone());
    assert!(violations.is_empty(), "{violations:#?}");
}

// ------------------------------------------------------------------ tests

#[test]
fn push_uploads_model_files_and_card() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let out = bertfit(
        &[
            "push",
            dir.to_str().unwrap(),
            "--repo-id",
            "me/tiny-reviews",
            "--private",
            "--json",
        ],
        &[("HF_ENDPOINT", &endpoint), ("HF_TOKEN", TOKEN)],
        tmp.path(),
    );
    let (stdout, stderr) = outputs(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_no_violations(&hub);

    // The repo was created private, with `type: model`.
    let log = hub.log();
    let create: Vec<&Request> = log
        .iter()
        .filter(|r| r.path == "/api/repos/create")
        .collect();
    assert_eq!(create.len(), 1);
    assert_eq!(
        create[0].json(),
        json!({"name": "tiny-reviews", "organization": "me", "private": true, "type": "model"})
    );
    assert!(hub.with(|s| s.repos["me/tiny-reviews"].private));

    // Every request to the Hub carried the token; the Xet storage never saw it, only the Xet
    // token the Hub handed out.
    for r in &log {
        let auth = r.header("authorization");
        assert_eq!(auth, Some(format!("Bearer {TOKEN}").as_str()), "{}", r.path);
    }
    let cas = hub.cas.traffic();
    assert_eq!(occurrences(&cas, TOKEN), 0, "the Hub token reached the CAS");
    assert!(occurrences(&cas, &format!("Bearer {XET_TOKEN}")) > 0);

    // Preupload: every file's size and its first 512 bytes as the sample.
    let local = local_files(&dir);
    let preupload = log.iter().find(|r| r.path.contains("/preupload/")).unwrap();
    assert_eq!(preupload.path, "/api/models/me/tiny-reviews/preupload/main");
    for f in preupload.json()["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        if path == "README.md" {
            continue;
        }
        let bytes = &local[path];
        assert_eq!(f["size"].as_u64(), Some(bytes.len() as u64), "{path}");
        let sample = BASE64.decode(f["sample"].as_str().unwrap()).unwrap();
        assert_eq!(sample, bytes[..bytes.len().min(512)], "{path}");
    }

    // The weights went through the LFS batch (Xet chosen), a Xet write token and the CAS (a
    // xorb with the chunks, a shard naming the file); the commit came last.
    assert_eq!(count(&log, "POST", "/lfs/objects/batch"), 1);
    let batch = log
        .iter()
        .find(|r| r.path.contains("/lfs/objects/batch"))
        .unwrap();
    assert!(
        batch.json()["transfers"]
            .as_array()
            .unwrap()
            .contains(&json!("xet")),
        "{}",
        batch.json()
    );
    assert_eq!(
        count(
            &log,
            "GET",
            "/api/models/me/tiny-reviews/xet-write-token/main"
        ),
        1
    );
    assert!(xorb_uploads(&cas) >= 1, "no xorb reached the CAS");
    assert!(
        occurrences(&cas, "/shards") >= 1,
        "no shard reached the CAS"
    );
    assert_eq!(count(&log, "PUT", "/storage/"), 0);
    assert_eq!(
        log.last().unwrap().path,
        "/api/models/me/tiny-reviews/commit/main"
    );
    let weights_oid = sha256_hex(&local["model.safetensors"]);
    assert_eq!(
        hub.cas.file_by_sha256(&weights_oid),
        Some(local["model.safetensors"].clone())
    );

    // Committed: every top-level file byte for byte, plus the card; no checkpoint.
    let committed = hub.with(|s| s.repos["me/tiny-reviews"].files.clone());
    let mut expected: Vec<&str> = local.keys().map(String::as_str).collect();
    expected.push("README.md");
    expected.sort_unstable();
    assert_eq!(
        committed.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    for (name, bytes) in &local {
        assert_eq!(&committed[name], bytes, "{name}");
    }
    assert!(!committed.keys().any(|k| k.contains("checkpoint")));
    assert!(!committed.keys().any(|k| k.contains("optimizer")));
    assert!(
        !log.iter().any(|r| text(&r.body).contains("checkpoint-1/")),
        "a checkpoint file was sent"
    );

    // The model card.
    let card = text(&committed["README.md"]);
    assert!(card.starts_with("---\n"), "{card}");
    assert!(card.contains("library_name: bertfit"), "{card}");
    assert!(card.contains(&format!("{ACCURACY:.4}")), "{card}");
    assert!(
        card.contains("| 0 | negative |") && card.contains("| 1 | positive |"),
        "{card}"
    );
    assert!(
        card.contains("bertfit predict --model me/tiny-reviews"),
        "{card}"
    );
    assert!(card.contains("model=\"me/tiny-reviews\""), "{card}");
    assert!(card.contains("| learning rate | 0.0002 |"), "{card}");

    // The JSON summary.
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["repo_id"], "me/tiny-reviews");
    assert_eq!(summary["repo_created"], true);
    assert_eq!(summary["model_card"], "generated");
    assert_eq!(summary["commit_oid"], format!("{:040x}", 1));
    assert_eq!(
        summary["commit_url"],
        format!("{endpoint}/me/tiny-reviews/commit/{:040x}", 1)
    );
    let files = summary["files"].as_array().unwrap();
    assert_eq!(files.len(), expected.len());
    let weights = files
        .iter()
        .find(|f| f["path"] == "model.safetensors")
        .unwrap();
    assert_eq!(weights["upload_mode"], "lfs");
    assert_eq!(weights["sha256"], weights_oid.as_str());
    let config = files.iter().find(|f| f["path"] == "config.json").unwrap();
    assert_eq!(config["upload_mode"], "regular");
    let total: u64 = committed.values().map(|b| b.len() as u64).sum();
    assert_eq!(summary["bytes"].as_u64(), Some(total));
    // Inline files, plus the weights as Xet sent them (framed, maybe compressed).
    let inline = total - local["model.safetensors"].len() as u64;
    let sent = summary["bytes_transferred"].as_u64().unwrap();
    assert!(sent > inline, "{sent} <= {inline}");
    assert!(
        stderr.contains("checkpoint-1/"),
        "skipped dirs are listed: {stderr}"
    );
}

/// A LoRA adapter directory (PEFT's files, the classifier's config, the tokenizer) goes up as
/// it is, with a card that says what it is and how to load it.
#[test]
fn push_uploads_a_lora_adapter_with_a_peft_card() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures");
    let dir = tmp.path().join("adapter");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(
            fixtures.join("lora/bert/adapter").join(file),
            dir.join(file),
        )
        .unwrap();
    }
    std::fs::copy(fixtures.join("tiny/config.json"), dir.join("config.json")).unwrap();
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let out = bertfit(
        &["push", dir.to_str().unwrap(), "--repo-id", "me/tiny-lora"],
        &[("HF_ENDPOINT", &endpoint), ("HF_TOKEN", TOKEN)],
        tmp.path(),
    );
    let (stdout, stderr) = outputs(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_no_violations(&hub);
    let committed = hub.with(|s| s.repos["me/tiny-lora"].files.clone());
    assert_eq!(
        committed.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "README.md",
            "adapter_config.json",
            "adapter_model.safetensors",
            "config.json"
        ]
    );
    for (name, bytes) in local_files(&dir) {
        assert_eq!(committed[&name], bytes, "{name}");
    }
    let card = text(&committed["README.md"]);
    assert!(card.contains("library_name: peft"), "{card}");
    assert!(card.contains("- lora"), "{card}");
    assert!(card.contains("LoRA adapter in [PEFT]"), "{card}");
    assert!(card.contains("r 4, lora_alpha 16"), "{card}");
}

#[test]
fn second_push_reuses_repo_and_lfs_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let env = [("HF_ENDPOINT", endpoint.as_str()), ("HF_TOKEN", TOKEN)];
    let args = [
        "push",
        dir.to_str().unwrap(),
        "--repo-id",
        "me/again",
        "--commit-message",
        "second",
    ];
    let first = bertfit(&args, &env, tmp.path());
    let (stdout, stderr) = outputs(&first);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("{endpoint}/me/again/commit/{:040x}", 1)
    );
    assert!(
        !hub.with(|s| s.repos["me/again"].private),
        "public by default"
    );
    hub.clear_log();

    // Change a regular file; the weights stay the same.
    std::fs::write(dir.join("metrics.jsonl"), b"{\"step\": 3}\n").unwrap();
    let second = bertfit(&args, &env, tmp.path());
    let (stdout, stderr) = outputs(&second);
    assert!(second.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("{endpoint}/me/again/commit/{:040x}", 2)
    );
    assert!(stderr.contains("already on the Hub"), "{stderr}");
    let log = hub.log();
    assert_eq!(count(&log, "POST", "/api/repos/create"), 1); // answered 409
    assert_eq!(count(&log, "POST", "/lfs/objects/batch"), 1);
    assert_eq!(
        xorb_uploads(&hub.cas.traffic()),
        0,
        "the weights' chunks are not sent again"
    );
    let commit = log.last().unwrap();
    let header: Value = serde_json::from_str(text(&commit.body).lines().next().unwrap()).unwrap();
    assert_eq!(header["value"]["summary"], "second");
    let repo = hub.with(|s| {
        (
            s.repos["me/again"].commits,
            s.repos["me/again"].files.clone(),
        )
    });
    assert_eq!(repo.0, 2);
    assert_eq!(repo.1["metrics.jsonl"], b"{\"step\": 3}\n");
    assert_eq!(
        repo.1["model.safetensors"],
        std::fs::read(dir.join("model.safetensors")).unwrap()
    );
    assert_no_violations(&hub);
}

#[test]
fn wrong_token_is_refused_without_leaking_either_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let wrong = "hf_wrongReadOnlyToken987";
    let out = bertfit(
        &["push", dir.to_str().unwrap(), "--repo-id", "me/denied"],
        &[("HF_ENDPOINT", &endpoint), ("HF_TOKEN", wrong)],
        tmp.path(),
    );
    let (stdout, stderr) = outputs(&out);
    assert!(!out.status.success());
    assert!(
        !stdout.contains(wrong) && !stderr.contains(wrong),
        "{stderr}"
    );
    assert!(stderr.contains("401"), "{stderr}");
    assert!(stderr.contains("write access"), "{stderr}");
    assert!(
        stderr.contains("/api/repos/create"),
        "names the URL: {stderr}"
    );
    assert!(stderr.contains("HF_TOKEN"), "{stderr}");
    // It stopped at the first refusal.
    assert_eq!(hub.log().len(), 1);
    assert!(hub.with(|s| s.repos.is_empty()));
}

#[test]
fn local_problems_fail_before_any_request() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let env = [("HF_ENDPOINT", endpoint.as_str()), ("HF_TOKEN", TOKEN)];
    let run = |dir: &Path, repo: &str| {
        let out = bertfit(
            &["push", dir.to_str().unwrap(), "--repo-id", repo],
            &env,
            tmp.path(),
        );
        let (_, stderr) = outputs(&out);
        assert!(!out.status.success(), "{stderr}");
        stderr
    };

    let missing = tmp.path().join("no-such-model");
    let stderr = run(&missing, "me/x");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("no-such-model"), "{stderr}");

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(run(&empty, "me/x").contains("no config.json"));

    std::fs::write(empty.join("config.json"), "{}").unwrap();
    assert!(run(&empty, "me/x").contains("no weights"));

    let dir = model_dir(tmp.path());
    let stderr = run(&dir, "just-a-name");
    assert!(stderr.contains("owner/name"), "{stderr}");

    assert!(hub.log().is_empty(), "requests were made: {:?}", hub.log());
}

#[test]
fn no_token_asks_to_log_in() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let out = bertfit(
        &["push", dir.to_str().unwrap(), "--repo-id", "me/x"],
        &[("HF_ENDPOINT", &endpoint)],
        tmp.path(),
    );
    let (_, stderr) = outputs(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("HF_TOKEN"), "{stderr}");
    assert!(stderr.contains("huggingface-cli login"), "{stderr}");
    assert!(hub.log().is_empty());
}

#[test]
fn unreachable_endpoint_names_hf_endpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{closed}");
    let out = bertfit(
        &["push", dir.to_str().unwrap(), "--repo-id", "me/x"],
        &[("HF_ENDPOINT", &endpoint), ("HF_TOKEN", TOKEN)],
        tmp.path(),
    );
    let (_, stderr) = outputs(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(stderr.contains("HF_ENDPOINT"), "{stderr}");
    assert!(stderr.contains(&endpoint), "{stderr}");
}

#[test]
fn existing_readme_is_kept_and_card_can_be_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = model_dir(tmp.path());
    let hub = MockHub::start();
    let endpoint = hub.endpoint();
    let env = [("HF_ENDPOINT", endpoint.as_str()), ("HF_TOKEN", TOKEN)];

    let out = bertfit(
        &[
            "push",
            dir.to_str().unwrap(),
            "--repo-id",
            "me/no-card",
            "--no-model-card",
            "--json",
        ],
        &env,
        tmp.path(),
    );
    let (stdout, stderr) = outputs(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["model_card"],
        "none"
    );
    assert!(!hub.with(|s| s.repos["me/no-card"].files.contains_key("README.md")));

    let mine = "# My own card\n";
    std::fs::write(dir.join("README.md"), mine).unwrap();
    let out = bertfit(
        &[
            "push",
            dir.to_str().unwrap(),
            "--repo-id",
            "me/own-card",
            "--json",
        ],
        &env,
        tmp.path(),
    );
    let (stdout, stderr) = outputs(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["model_card"],
        "existing"
    );
    assert_eq!(
        hub.with(|s| s.repos["me/own-card"].files["README.md"].clone()),
        mine.as_bytes()
    );
    assert_no_violations(&hub);
}
