//! `bertfit serve` through the real binary, over HTTP on 127.0.0.1: every route in its API's
//! form with `bertfit predict`'s probabilities; a JSON error naming the field for every bad
//! request; 429 beyond `--max-concurrent-requests` and 503 past `--request-timeout`; a fault
//! mix of thousands of requests (bad ones, clients that hang up, slow clients) after which
//! good answers are exact and memory is back near its level; SIGTERM answering every request
//! in flight, then exit 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::{Duration, Instant};

use bertfit_model::BertConfig;
use serde_json::{Value, json};

use common::{bert_model_dir, bertfit, command, text, tiny_model_dir};

/// A running `bertfit serve`, killed when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `bertfit serve --port 0 ARGS` and waits for its "listening on" line.
    fn start(args: &[&str]) -> Self {
        let mut child = command()
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let address = rest.split_whitespace().next().unwrap().to_string();
                    let _ = sender.send(address);
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let address = match receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(address) => address.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "bertfit serve did not start: {}",
                    stderr.lock().unwrap().as_str()
                );
            }
        };
        Self {
            child,
            address,
            stderr,
        }
    }

    fn post(&self, path: &str, body: &Value) -> Answer {
        request(self.address, "POST", path, body.to_string().as_bytes())
    }

    fn get(&self, path: &str) -> Answer {
        request(self.address, "GET", path, b"")
    }

    /// The server's resident memory, KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Whether the process is still running.
    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Writes `head` then `body` on a new connection (closed after the answer) and reads the
/// answer.
fn exchange(address: SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    read_answer(&mut stream)
}

fn head(method: &str, path: &str, length: usize) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
}

fn request(address: SocketAddr, method: &str, path: &str, body: &[u8]) -> Answer {
    exchange(address, &head(method, path, body.len()), body)
}

fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)));
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
}

/// label → score of one TEI/HF answer list, checking it is sorted best first.
fn scores(list: &Value) -> BTreeMap<String, f64> {
    let items = list.as_array().unwrap();
    let values: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]),
        "not best first: {list}"
    );
    items
        .iter()
        .map(|i| {
            (
                i["label"].as_str().unwrap().to_string(),
                i["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// `bertfit predict --format json` of `texts`: label → probability per text.
fn predicted(model: &Path, texts: &[&str]) -> Vec<BTreeMap<String, f64>> {
    let mut args = vec![
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(texts);
    let out = bertfit(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            value["scores"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
                .collect()
        })
        .collect()
}

fn assert_close(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>, what: &str) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (label, p) in a {
        assert!((p - b[label]).abs() < 1e-6, "{what}: {a:?} vs {b:?}");
    }
}

const TEXTS: [&str; 4] = [
    "the film was good",
    "bad",
    "a long and dull story about a man",
    "good good good",
];

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::MIN, f64::max);
    let exp: Vec<f64> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

#[test]
fn every_route_answers_in_its_api_form_with_predicts_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let expected = predicted(&model, &TEXTS);
    let server = Server::start(&[
        "--model",
        model.to_str().unwrap(),
        "--max-input-length",
        "24",
    ]);

    // TEI: a string → one list of labels; a batch → a list of lists.
    for (text, expected) in TEXTS.iter().zip(&expected) {
        let answer = server.post("/predict", &json!({"inputs": text}));
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .contains("application/json")
        );
        assert_close(&scores(&answer.json()), expected, text);
    }
    let batch = server
        .post(
            "/predict",
            &json!({"inputs": [[TEXTS[0]], [TEXTS[1]], [TEXTS[0], TEXTS[1]]]}),
        )
        .json();
    assert_eq!(batch.as_array().unwrap().len(), 3);
    assert_close(&scores(&batch[0]), &expected[0], "batch[0]");
    assert_close(&scores(&batch[1]), &expected[1], "batch[1]");
    // Two strings are one pair (TEI): one sequence, scored unlike either text alone.
    let pair = scores(
        &server
            .post("/predict", &json!({"inputs": [TEXTS[0], TEXTS[1]]}))
            .json(),
    );
    assert_close(&pair, &scores(&batch[2]), "pair");
    assert!(
        (pair["LABEL_0"] - expected[0]["LABEL_0"]).abs() > 1e-7,
        "{pair:?}"
    );
    // raw_scores: logits, whose softmax is the probabilities.
    let raw = scores(
        &server
            .post("/predict", &json!({"inputs": TEXTS[2], "raw_scores": true}))
            .json(),
    );
    let p = softmax(&[raw["LABEL_0"], raw["LABEL_1"]]);
    assert!((p[0] - expected[2]["LABEL_0"]).abs() < 1e-6, "{raw:?}");
    assert!((raw.values().sum::<f64>() - 1.0).abs() > 1e-3, "{raw:?}");

    // The HF Inference API: a list per input, top_k, function_to_apply.
    let one = server.post("/", &json!({"inputs": TEXTS[0]})).json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_close(&scores(&one[0]), &expected[0], "HF single");
    let two = server
        .post(
            "/",
            &json!({"inputs": [TEXTS[1], TEXTS[3]], "parameters": {"top_k": 1}}),
        )
        .json();
    for (answer, expected) in two
        .as_array()
        .unwrap()
        .iter()
        .zip([&expected[1], &expected[3]])
    {
        let best = expected.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
        assert_eq!(answer.as_array().unwrap().len(), 1);
        assert_eq!(answer[0]["label"], best.0.as_str());
        assert!((answer[0]["score"].as_f64().unwrap() - best.1).abs() < 1e-6);
    }
    let sigmoid = scores(
        &server
            .post(
                "/",
                &json!({"inputs": TEXTS[2], "parameters": {"function_to_apply": "sigmoid"}}),
            )
            .json()[0],
    );
    assert!((sigmoid["LABEL_1"] - 1.0 / (1.0 + (-raw["LABEL_1"]).exp())).abs() < 1e-9);
    let none = scores(
        &server
            .post(
                "/",
                &json!({"inputs": TEXTS[2], "parameters": {"function_to_apply": "none"}}),
            )
            .json()[0],
    );
    assert_close(&none, &raw, "function_to_apply none");
    let pair_dict = server
        .post(
            "/",
            &json!({"inputs": {"text": TEXTS[0], "text_pair": TEXTS[1]}}),
        )
        .json();
    assert_close(&scores(&pair_dict[0]), &pair, "HF text_pair");
    // The model by name.
    let named = server
        .post("/models/tiny-base", &json!({"inputs": TEXTS[0]}))
        .json();
    assert_close(&scores(&named[0]), &expected[0], "/models/tiny-base");

    // Health, info, metrics.
    let health = server.get("/health");
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let info = server.get("/info").json();
    assert_eq!(info["model_id"], model.to_str().unwrap());
    assert_eq!(info["architecture"], "BertForSequenceClassification");
    assert_eq!(info["labels"], json!(["LABEL_0", "LABEL_1"]));
    assert_eq!(info["max_input_length"], 24);
    assert_eq!(info["backend"], "cpu");
    assert_eq!(info["models"][0]["name"], "tiny-base");
    let metrics = server.get("/metrics");
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = String::from_utf8(metrics.body).unwrap();
    for line in [
        "bertfit_requests_total{route=\"/predict\",status=\"200\"} 7",
        "bertfit_requests_total{route=\"/\",status=\"200\"} 5",
        "bertfit_request_duration_seconds_count{route=\"/predict\"} 7",
        "bertfit_tokens_per_second{model=\"tiny-base\"}",
        "bertfit_batch_size_count{model=\"tiny-base\"}",
        "bertfit_queue_depth{model=\"tiny-base\"} 0",
        "bertfit_requests_in_flight 0",
    ] {
        assert!(
            metrics.lines().any(|l| l.starts_with(line)),
            "{line} not in\n{metrics}"
        );
    }
}

/// A bad request and its answer: method, path, body, status, `error_type`, `field`, words of
/// the message.
type BadRequest = (
    &'static str,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
    Option<&'static str>,
    &'static str,
);

/// The long text: ~40 tokens whose start and end differ, over `--max-input-length 24`.
fn long_text() -> String {
    format!("{} {}", "good ".repeat(20), "bad ".repeat(20))
}

#[test]
fn bad_requests_get_json_errors_naming_the_field_and_the_server_stays_up() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let server = Server::start(&[
        "--model",
        model.to_str().unwrap(),
        "--max-input-length",
        "24",
        "--max-body-bytes",
        "4096",
        "--max-client-batch-size",
        "4",
    ]);
    let long = long_text();
    let big = format!("{{\"inputs\": \"{}\"}}", "a ".repeat(2500));
    let many = json!({"inputs": [["a"], ["b"], ["c"], ["d"], ["e"]]}).to_string();
    let too_long = json!({"inputs": long, "truncate": false}).to_string();
    let cases: Vec<BadRequest> = vec![
        (
            "POST",
            "/predict",
            b"{\"inputs\": \"a\"".to_vec(),
            400,
            "Validation",
            None,
            "not valid JSON",
        ),
        (
            "POST",
            "/predict",
            b"".to_vec(),
            400,
            "Validation",
            None,
            "body is empty",
        ),
        (
            "POST",
            "/predict",
            b"{\"inputs\": \"caf\xe9\"}".to_vec(),
            400,
            "Validation",
            None,
            "not valid JSON (UTF-8)",
        ),
        (
            "POST",
            "/predict",
            br#"{"inputs": 5}"#.to_vec(),
            422,
            "Validation",
            Some("inputs"),
            "a number (5)",
        ),
        (
            "POST",
            "/predict",
            br#"{"inputs": [["a"], [7]]}"#.to_vec(),
            422,
            "Validation",
            Some("inputs[1][0]"),
            "must be a string",
        ),
        (
            "POST",
            "/predict",
            br#"{"text": "a"}"#.to_vec(),
            422,
            "Validation",
            Some("text"),
            "unknown field",
        ),
        (
            "POST",
            "/predict",
            br#"{"inputs": []}"#.to_vec(),
            400,
            "Empty",
            Some("inputs"),
            "empty list",
        ),
        (
            "POST",
            "/predict",
            br#"{"inputs": ""}"#.to_vec(),
            400,
            "Empty",
            Some("inputs"),
            "is empty",
        ),
        (
            "POST",
            "/predict",
            br#"{"inputs": " \t\n"}"#.to_vec(),
            400,
            "Empty",
            Some("inputs"),
            "only whitespace",
        ),
        (
            "POST",
            "/predict",
            too_long.into_bytes(),
            422,
            "Validation",
            Some("inputs"),
            "above --max-input-length 24",
        ),
        (
            "POST",
            "/predict",
            br#"{"inputs": "a", "truncation_direction": "middle"}"#.to_vec(),
            422,
            "Validation",
            Some("truncation_direction"),
            "\"left\"",
        ),
        (
            "POST",
            "/predict",
            big.into_bytes(),
            413,
            "Validation",
            None,
            "--max-body-bytes (4096 bytes)",
        ),
        (
            "POST",
            "/predict",
            many.into_bytes(),
            422,
            "Validation",
            Some("inputs"),
            "--max-client-batch-size 4",
        ),
        (
            "POST",
            "/",
            br#"{"inputs": ["a", ""]}"#.to_vec(),
            400,
            "Empty",
            Some("inputs[1]"),
            "is empty",
        ),
        (
            "POST",
            "/",
            br#"{"inputs": "a", "parameters": {"top_k": 0}}"#.to_vec(),
            422,
            "Validation",
            Some("parameters.top_k"),
            "1 or more",
        ),
        (
            "POST",
            "/",
            br#"{"inputs": "a", "parameters": {"function_to_apply": "relu"}}"#.to_vec(),
            422,
            "Validation",
            Some("parameters.function_to_apply"),
            "\"sigmoid\"",
        ),
        (
            "POST",
            "/models/nope",
            br#"{"inputs": "a"}"#.to_vec(),
            404,
            "NotFound",
            Some("name"),
            "no model named `nope`; this server has [tiny-base]",
        ),
        (
            "GET",
            "/predict",
            Vec::new(),
            405,
            "MethodNotAllowed",
            None,
            "POST /predict",
        ),
        (
            "DELETE",
            "/",
            Vec::new(),
            405,
            "MethodNotAllowed",
            None,
            "does not take that method",
        ),
        (
            "POST",
            "/health",
            Vec::new(),
            405,
            "MethodNotAllowed",
            None,
            "GET /health",
        ),
        (
            "GET",
            "/v1/embeddings",
            Vec::new(),
            404,
            "NotFound",
            None,
            "no such route",
        ),
    ];
    for (method, path, body, status, kind, field, words) in cases {
        let what = format!("{method} {path} {:?}", String::from_utf8_lossy(&body));
        let answer = request(server.address, method, path, &body);
        assert_eq!(answer.status, status, "{what}: {answer:?}");
        assert!(
            answer
                .header("content-type")
                .is_some_and(|c| c.contains("application/json")),
            "{what}: {answer:?}"
        );
        let error = answer.json();
        assert_eq!(error["error_type"], kind, "{what}: {error}");
        assert_eq!(error["field"].as_str(), field, "{what}: {error}");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(words), "{what}: {message}");
        assert_eq!(server.get("/health").status, 200, "after {what}");
    }
    // Truncation when asked: from the right keeps the "good" start, from the left the "bad"
    // end, and the two score apart.
    let right = scores(
        &server
            .post("/predict", &json!({"inputs": long, "truncate": true}))
            .json(),
    );
    let left = scores(
        &server
            .post(
                "/predict",
                &json!({"inputs": long, "truncate": true, "truncation_direction": "left"}),
            )
            .json(),
    );
    assert!(
        (right["LABEL_0"] - left["LABEL_0"]).abs() > 1e-6,
        "{right:?} {left:?}"
    );
    // 22 tokens of text fit beside [CLS] and [SEP].
    let start = format!("{}bad bad", "good ".repeat(20));
    let start = scores(&server.post("/predict", &json!({"inputs": start})).json());
    assert_close(&right, &start, "right truncation keeps the start");
    let end = format!("good good {}", "bad ".repeat(20));
    let end = scores(&server.post("/predict", &json!({"inputs": end})).json());
    assert_close(&left, &end, "left truncation keeps the end");
}

/// A slower random BERT (hidden 128, 2 layers, 512 positions) with the 240-word vocabulary:
/// long inputs take a visible time, for the overload, timeout and shutdown tests.
fn slow_model_dir(dir: &Path) -> PathBuf {
    let config = BertConfig {
        vocab_size: 240,
        hidden_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 512,
        max_position_embeddings: 512,
        ..BertConfig::default()
    };
    bert_model_dir(&dir.join("slow"), &config, 3)
}

/// Eight inputs of 512 tokens (truncated): a request the slow model takes a while over.
fn heavy_request() -> Value {
    let text = "good film ".repeat(300);
    json!({"inputs": vec![vec![text]; 8], "truncate": true})
}

/// `clients` requests at once (released together), their statuses.
fn at_once(server: &Server, clients: usize, body: &Value) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (barrier, address, body) = (barrier.clone(), server.address, body.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                request(address, "POST", "/predict", body.as_bytes())
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn overload_is_429_with_retry_after_and_a_late_answer_is_503() {
    let tmp = tempfile::tempdir().unwrap();
    let model = slow_model_dir(tmp.path());
    let model = model.to_str().unwrap();
    let heavy = heavy_request();

    let server = Server::start(&["--model", model, "--max-concurrent-requests", "1"]);
    let answers = at_once(&server, 12, &heavy);
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&200) && statuses.contains(&429),
        "{statuses:?}"
    );
    for answer in answers.iter().filter(|a| a.status == 429) {
        assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
        assert_eq!(answer.json()["error_type"], "Overloaded");
        assert!(
            answer.json()["error"]
                .as_str()
                .unwrap()
                .contains("--max-concurrent-requests (1)")
        );
    }
    drop(server);

    let server = Server::start(&["--model", model, "--request-timeout", "0.2"]);
    let statuses: Vec<(u16, Value)> = at_once(&server, 6, &heavy)
        .iter()
        .map(|a| (a.status, a.json()))
        .collect();
    assert!(
        statuses.iter().all(|(s, _)| [200, 503].contains(s)),
        "{statuses:?}"
    );
    let late = statuses
        .iter()
        .find(|(s, _)| *s == 503)
        .unwrap_or_else(|| panic!("no request timed out: {statuses:?}"));
    assert_eq!(late.1["error_type"], "Timeout");
    assert!(
        late.1["error"]
            .as_str()
            .unwrap()
            .contains("--request-timeout (0.2 s)")
    );
    // The server stays up and answers again once the worker has caught up.
    assert_eq!(server.get("/health").status, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = server.post("/predict", &json!({"inputs": "good"}));
        if answer.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never answered again: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One client's request of the fault mix: what it sends and what a right answer is.
#[derive(Clone, Copy, Debug)]
enum Client {
    /// A good TEI request of text `i`.
    Tei(usize),
    /// A good HF request of texts `i` and `j`.
    Hf(usize, usize),
    /// Malformed JSON: 400.
    Malformed,
    /// An empty text: 400.
    Empty,
    /// Invalid UTF-8: 400.
    BadUtf8,
    /// Hangs up after half the body.
    HangsUpMidBody,
    /// Hangs up after the request, before the answer.
    HangsUpBeforeAnswer,
    /// Sends its request a few bytes at a time.
    Slow(usize),
}

fn run_client(address: SocketAddr, client: Client, expected: &[BTreeMap<String, f64>]) {
    let tei = |i: usize| json!({"inputs": TEXTS[i]}).to_string().into_bytes();
    match client {
        Client::Tei(i) => {
            let answer = request(address, "POST", "/predict", &tei(i));
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_close(&scores(&answer.json()), &expected[i], "fault mix TEI");
        }
        Client::Hf(i, j) => {
            let body = json!({"inputs": [TEXTS[i], TEXTS[j]]}).to_string();
            let answer = request(address, "POST", "/", body.as_bytes());
            assert_eq!(answer.status, 200, "{answer:?}");
            let json = answer.json();
            assert_close(&scores(&json[0]), &expected[i], "fault mix HF");
            assert_close(&scores(&json[1]), &expected[j], "fault mix HF");
        }
        Client::Malformed | Client::Empty | Client::BadUtf8 => {
            let body: &[u8] = match client {
                Client::Malformed => b"{\"inputs\": [\"a\"",
                Client::Empty => b"{\"inputs\": \"\"}",
                _ => b"{\"inputs\": \"\xc3\x28\"}",
            };
            let answer = request(address, "POST", "/predict", body);
            assert_eq!(answer.status, 400, "{client:?}: {answer:?}");
        }
        Client::HangsUpMidBody => {
            let body = tei(0);
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(head("POST", "/predict", body.len()).as_bytes())
                .unwrap();
            stream.write_all(&body[..body.len() / 2]).unwrap();
        }
        Client::HangsUpBeforeAnswer => {
            let body = tei(1);
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(head("POST", "/predict", body.len()).as_bytes())
                .unwrap();
            stream.write_all(&body).unwrap();
        }
        Client::Slow(i) => {
            let body = tei(i);
            let mut all = head("POST", "/predict", body.len()).into_bytes();
            all.extend_from_slice(&body);
            let mut stream = TcpStream::connect(address).unwrap();
            for piece in all.chunks(16) {
                stream.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
            let answer = read_answer(&mut stream);
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_close(&scores(&answer.json()), &expected[i], "slow client");
        }
    }
}

#[test]
fn a_fault_mix_of_thousands_of_requests_leaves_good_answers_exact_and_memory_flat() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model_dir(tmp.path());
    let expected = Arc::new(predicted(&model, &TEXTS));
    let mut server = Server::start(&[
        "--model",
        model.to_str().unwrap(),
        "--max-input-length",
        "24",
    ]);
    let address = server.address;
    let run = |clients: Vec<Client>| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let mine: Vec<Client> = clients.iter().skip(t).step_by(8).copied().collect();
                let expected = expected.clone();
                std::thread::spawn(move || {
                    for client in mine {
                        run_client(address, client, &expected);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    };
    // Warm up on good requests alone, then measure memory.
    run((0..400).map(|i| Client::Tei(i % 4)).collect());
    let before = server.rss_kib();
    let mix: Vec<Client> = (0..3000)
        .map(|i| match i % 10 {
            0 | 1 => Client::Tei(i % 4),
            2 | 3 => Client::Hf(i % 4, (i + 1) % 4),
            4 => Client::Malformed,
            5 => Client::Empty,
            6 => Client::BadUtf8,
            7 => Client::HangsUpMidBody,
            8 => Client::HangsUpBeforeAnswer,
            _ => Client::Slow(i % 4),
        })
        .collect();
    run(mix);
    // Good requests after the mix: right, and the process never went down.
    run((0..400).map(|i| Client::Tei(i % 4)).collect());
    assert!(server.is_running(), "{}", server.stderr.lock().unwrap());
    let after = server.rss_kib();
    eprintln!("fault mix: RSS {before} KiB after warm-up, {after} KiB after 3000 mixed requests");
    // Within 16 MiB of the warmed-up level: no per-request leak (3000 requests leaking even a
    // 4 KiB connection buffer each would be 12 MiB on top of allocator noise).
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}

#[test]
fn sigterm_answers_every_request_in_flight_then_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let model = slow_model_dir(tmp.path());
    let mut server = Server::start(&["--model", model.to_str().unwrap()]);
    let heavy = heavy_request().to_string();
    let clients = 6;
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (address, body) = (server.address, heavy.clone());
            std::thread::spawn(move || request(address, "POST", "/predict", body.as_bytes()))
        })
        .collect();
    // Wait until the server holds all of them, then SIGTERM it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let gauge = format!("bertfit_requests_in_flight {clients}");
    while !String::from_utf8_lossy(&server.get("/metrics").body).contains(&gauge) {
        assert!(
            Instant::now() < deadline,
            "never {clients} requests in flight"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for thread in threads {
        let answer = thread.join().unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json().as_array().unwrap().len(), 8);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{status:?}: {}",
        server.stderr.lock().unwrap()
    );
    let log = server.stderr.lock().unwrap().clone();
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    assert!(
        TcpStream::connect(server.address).is_err(),
        "still accepting after exit"
    );
}
