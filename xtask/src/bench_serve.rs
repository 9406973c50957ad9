//! `cargo xtask bench serve`: `bertfit serve` against the server a transformers user would
//! deploy (`xtask/bench/serve_reference.py`: `pipeline("text-classification")` behind FastAPI
//! on uvicorn), on the same model, cores and requests.
//!
//! The model is all-MiniLM-L6-v2 fine-tuned briefly on the shipped sample (or `--model`); the
//! requests are the HF Inference API form `{"inputs": review}` at `POST /`, which both servers
//! answer, with the 1 000 generated reviews of `data/reviews-sample/test.parquet` (IMDB's length
//! distribution, ~1 300 characters on average), truncated to the model's 512 tokens. A bounded
//! load generator (one keep-alive connection per client thread, as many clients as the level's
//! concurrency, for `--seconds`) drives each server at each `--concurrency`, one server at a
//! time. Each level reports throughput, p50/p90/p99 latency, errors and the server's peak RSS
//! (VmHWM, reset before the level), with the ratios bertfit / Python. Then the overload run:
//! bertfit with `--max-concurrent-requests N` under 4N clients, which must answer only 200s
//! and 429s with bounded memory. The report goes to `<out>/serve-report.{json,md}`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::finetune::{self, Backend, Profile};
use crate::{bench, fixtures, torch};

/// The FastAPI and uvicorn versions of the reference server.
const FASTAPI_VERSION: &str = "0.165.0";
const UVICORN_VERSION: &str = "0.55.0";

/// Options of `cargo xtask bench serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchServeArgs {
    /// Client concurrency levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    concurrency: Vec<usize>,
    /// Seconds of load per level and server.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Threads for both servers' inference (RAYON_NUM_THREADS, torch.set_num_threads);
    /// default: every core.
    #[arg(long)]
    threads: Option<usize>,
    /// A fine-tuned model directory to serve instead of MiniLM fine-tuned on the sample.
    #[arg(long)]
    model: Option<PathBuf>,
    /// `--max-concurrent-requests` of the overload run, which sends 4x as many clients.
    #[arg(long, default_value_t = 32)]
    overload_limit: usize,
    /// Where the report goes (relative to the workspace root).
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// A Python with torch, transformers, fastapi and uvicorn instead of the cached one.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Measure bertfit alone (no ratios).
    #[arg(long)]
    no_python: bool,
}

/// Runs the benchmark from the workspace root.
pub fn run(args: &BenchServeArgs, root: &Path) -> Result<()> {
    if args.concurrency.is_empty() || args.concurrency.contains(&0) || args.seconds <= 0.0 {
        bail!("--concurrency needs levels of 1 or more and --seconds a positive time");
    }
    let (threads, out) = bench::threads_and_out(args.threads, root, &args.out)?;
    let bertfit = finetune::build(Backend::Flex, Profile::Release, true, root, None, None)?;
    let model = match &args.model {
        Some(model) => model.clone(),
        None => bench_model(&bertfit, root, &out)?,
    };
    let texts = Arc::new(review_texts(&bertfit, root, &out)?);
    let python = match (&args.python, args.no_python) {
        (_, true) => None,
        (Some(python), false) => Some(python.clone()),
        (None, false) => Some(reference_python()?),
    };
    let seconds = Duration::from_secs_f64(args.seconds);

    let mut sides: Vec<(&str, Vec<Value>)> = Vec::new();
    let server = Server::bertfit(&bertfit, &model, threads, &[])?;
    sides.push((
        "bertfit",
        levels(&server, &args.concurrency, seconds, &texts)?,
    ));
    drop(server);
    if let Some(python) = &python {
        let script = root.join("xtask/bench/serve_reference.py");
        let server = Server::python(python, &script, &model, threads)?;
        sides.push((
            "python",
            levels(&server, &args.concurrency, seconds, &texts)?,
        ));
    }
    let limit = args.overload_limit.to_string();
    let server = Server::bertfit(
        &bertfit,
        &model,
        threads,
        &["--max-concurrent-requests", &limit],
    )?;
    let rss_before = server.reset_peak_rss()?;
    let overload = load(server.address, 4 * args.overload_limit, seconds, &texts);
    let overload = json!({
        "max_concurrent_requests": args.overload_limit,
        "clients": 4 * args.overload_limit,
        "result": overload.summary(),
        "rss_before_mib": rss_before,
        "peak_rss_mib": server.peak_rss_mib()?,
    });
    drop(server);

    let report = json!({
        "model": model,
        "threads": threads,
        "seconds_per_level": args.seconds,
        "texts": texts.len(),
        "sides": sides.iter().map(|(name, rows)| json!({"server": name, "levels": rows})).collect::<Vec<_>>(),
        "overload": overload,
    });
    let markdown = markdown(&report, &sides, &overload);
    std::fs::write(
        out.join("serve-report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(out.join("serve-report.md"), &markdown)?;
    println!("{markdown}");
    Ok(())
}

/// MiniLM fine-tuned for one epoch on 64 sample reviews: a sequence classifier both servers
/// load (bertfit refuses a checkpoint without a trained head).
fn bench_model(bertfit: &Path, root: &Path, out: &Path) -> Result<PathBuf> {
    let dir = out.join("serve-model");
    if dir.join("model.safetensors").is_file() {
        return Ok(dir);
    }
    let minilm = fixtures::ensure_minilm()?;
    let status = Command::new(bertfit)
        .current_dir(root)
        .args(["finetune", "--model"])
        .arg(&minilm)
        .args([
            "--dataset",
            "data/reviews-sample",
            "--train-size",
            "64",
            "--eval-size",
            "32",
            "--max-length",
            "128",
            "--padding",
            "longest",
            "--num-train-epochs",
            "1",
            "--no-progress",
            "--overwrite-output-dir",
            "--output-dir",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .context("running bertfit finetune for the served model")?;
    if !status.success() {
        bail!("bertfit finetune of the served model failed ({status})");
    }
    Ok(dir)
}

/// The texts of `data/reviews-sample/test.parquet`, through `bertfit data --export`.
fn review_texts(bertfit: &Path, root: &Path, out: &Path) -> Result<Vec<String>> {
    let file = out.join("serve-texts.jsonl");
    let status = Command::new(bertfit)
        .current_dir(root)
        .args([
            "data",
            "--dataset",
            "data/reviews-sample",
            "--split",
            "test",
            "--force",
            "--export",
        ])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .context("running bertfit data --export")?;
    if !status.success() {
        bail!("bertfit data --export failed ({status})");
    }
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    text.lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line)?;
            row["text"]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("a row of {} without text", file.display()))
        })
        .collect()
}

/// The cached reference Python with FastAPI and uvicorn added.
fn reference_python() -> Result<PathBuf> {
    let python = bench::ensure_reference_python()?;
    let check = format!(
        "import fastapi, uvicorn, sys; sys.exit(0 if (fastapi.__version__, uvicorn.__version__) == ('{FASTAPI_VERSION}', '{UVICORN_VERSION}') else 1)"
    );
    let ready = Command::new(&python)
        .args(["-c", &check])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        torch::pip_install(
            &python,
            &[
                &format!("fastapi=={FASTAPI_VERSION}"),
                &format!("uvicorn=={UVICORN_VERSION}"),
            ],
        )?;
    }
    Ok(python)
}

/// A server process on 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn bertfit(bertfit: &Path, model: &Path, threads: usize, extra: &[&str]) -> Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(bertfit);
        command
            .args([
                "serve",
                "--auto-truncate",
                "--port",
                &port.to_string(),
                "--model",
            ])
            .arg(model)
            .args(extra)
            .env("RAYON_NUM_THREADS", threads.to_string());
        Self::start(command, port)
    }

    fn python(python: &Path, script: &Path, model: &Path, threads: usize) -> Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(python);
        command
            .arg(script)
            .arg("--model")
            .arg(model)
            .args([
                "--port",
                &port.to_string(),
                "--threads",
                &threads.to_string(),
            ])
            .env("OMP_NUM_THREADS", threads.to_string())
            .env("MKL_NUM_THREADS", threads.to_string());
        Self::start(command, port)
    }

    /// Spawns `command` and waits up to 5 minutes for `GET /health` to answer 200.
    fn start(mut command: Command, port: u16) -> Result<Self> {
        let line = format!("{command:?}");
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {line}"))?;
        let mut server = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("{line} exited before it served ({status})");
            }
            let mut connection = Connection::default();
            if connection
                .get(server.address, "/health")
                .is_ok_and(|s| s == 200)
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("{line} did not answer GET /health within 5 minutes");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn status_kib(&self, key: &str) -> Result<f64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("no {key} in {path}"))
    }

    /// Resets the peak RSS to the current one (Linux's `clear_refs` 5); returns it, MiB.
    fn reset_peak_rss(&self) -> Result<f64> {
        let path = format!("/proc/{}/clear_refs", self.child.id());
        std::fs::write(&path, "5").with_context(|| format!("writing {path}"))?;
        Ok(self.status_kib("VmRSS:")? / 1024.0)
    }

    fn peak_rss_mib(&self) -> Result<f64> {
        Ok(self.status_kib("VmHWM:")? / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Every concurrency level against `server`, after a warm-up.
fn levels(
    server: &Server,
    concurrency: &[usize],
    seconds: Duration,
    texts: &Arc<Vec<String>>,
) -> Result<Vec<Value>> {
    load(server.address, 2, Duration::from_secs(3), texts);
    let mut rows = Vec::new();
    for &clients in concurrency {
        server.reset_peak_rss()?;
        let result = load(server.address, clients, seconds, texts);
        let mut row = result.summary();
        row["concurrency"] = json!(clients);
        row["peak_rss_mib"] = json!(server.peak_rss_mib()?);
        eprintln!("{row}");
        rows.push(row);
    }
    Ok(rows)
}

/// One client's keep-alive connection.
#[derive(Default)]
struct Connection {
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    /// Sends one request and reads the answer's status (the body is read and dropped).
    fn exchange(&mut self, address: SocketAddr, head: &str, body: &[u8]) -> Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(address)?;
            stream.set_read_timeout(Some(Duration::from_secs(120)))?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        let result = self.exchange_on_open(head, body);
        if !matches!(result, Ok((_, true))) {
            self.stream = None;
        }
        result.map(|(status, _)| status)
    }

    fn exchange_on_open(&mut self, head: &str, body: &[u8]) -> Result<(u16, bool)> {
        let reader = self.stream.as_mut().context("no connection")?;
        let stream = reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no HTTP status in {line:?}"))?;
        let (mut length, mut keep_alive) = (0usize, true);
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse()?;
            }
            if header.starts_with("connection:") && header.contains("close") {
                keep_alive = false;
            }
            if header.starts_with("transfer-encoding:") {
                bail!("chunked answers are not expected here");
            }
        }
        let mut sink = vec![0; length];
        reader.read_exact(&mut sink)?;
        Ok((status, keep_alive))
    }

    fn get(&mut self, address: SocketAddr, path: &str) -> Result<u16> {
        let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        self.exchange(address, &head, b"")
    }
}

/// What one load run saw.
struct LoadResult {
    statuses: BTreeMap<u16, usize>,
    io_errors: usize,
    latencies_ms: Vec<f64>,
    elapsed: Duration,
}

impl LoadResult {
    fn summary(&self) -> Value {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let percentile = |p: f64| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            sorted[((sorted.len() - 1) as f64 * p).round() as usize]
        };
        let ok = self.statuses.get(&200).copied().unwrap_or(0);
        json!({
            "requests": self.latencies_ms.len() + self.io_errors,
            "ok": ok,
            "statuses": self.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "io_errors": self.io_errors,
            "seconds": self.elapsed.as_secs_f64(),
            "throughput_rps": ok as f64 / self.elapsed.as_secs_f64(),
            "p50_ms": percentile(0.5),
            "p90_ms": percentile(0.9),
            "p99_ms": percentile(0.99),
        })
    }
}

/// `clients` threads, each on its own connection, posting reviews for `seconds`.
fn load(
    address: SocketAddr,
    clients: usize,
    seconds: Duration,
    texts: &Arc<Vec<String>>,
) -> LoadResult {
    let start = Instant::now();
    let deadline = start + seconds;
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let texts = texts.clone();
            std::thread::spawn(move || {
                let mut connection = Connection::default();
                let (mut statuses, mut errors, mut latencies) = (BTreeMap::new(), 0, Vec::new());
                let mut i = client;
                while Instant::now() < deadline {
                    let body = json!({"inputs": texts[i % texts.len()]}).to_string();
                    i += clients;
                    let head = format!(
                        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let sent = Instant::now();
                    match connection.exchange(address, &head, body.as_bytes()) {
                        Ok(status) => {
                            latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                            *statuses.entry(status).or_insert(0) += 1;
                        }
                        Err(_) => errors += 1,
                    }
                }
                (statuses, errors, latencies)
            })
        })
        .collect();
    let mut result = LoadResult {
        statuses: BTreeMap::new(),
        io_errors: 0,
        latencies_ms: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for thread in threads {
        if let Ok((statuses, errors, latencies)) = thread.join() {
            for (status, n) in statuses {
                *result.statuses.entry(status).or_insert(0) += n;
            }
            result.io_errors += errors;
            result.latencies_ms.extend(latencies);
        }
    }
    result.elapsed = start.elapsed();
    result
}

fn markdown(report: &Value, sides: &[(&str, Vec<Value>)], overload: &Value) -> String {
    let mut md = format!(
        "# bertfit serve against transformers' pipeline on FastAPI/uvicorn\n\nModel {}, {} threads per server, {} s per level, {} review texts.\n\n",
        report["model"].as_str().unwrap_or("?"),
        report["threads"],
        report["seconds_per_level"],
        report["texts"]
    );
    md.push_str("| concurrency | server | req/s | p50 ms | p90 ms | p99 ms | non-200 | I/O errors | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
    let f = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.1}"));
    for (name, rows) in sides {
        for row in rows {
            let ok = row["ok"].as_u64().unwrap_or(0);
            let answered =
                row["requests"].as_u64().unwrap_or(0) - row["io_errors"].as_u64().unwrap_or(0);
            md.push_str(&format!(
                "| {} | {name} | {} | {} | {} | {} | {} | {} | {} |\n",
                row["concurrency"],
                f(&row["throughput_rps"]),
                f(&row["p50_ms"]),
                f(&row["p90_ms"]),
                f(&row["p99_ms"]),
                answered - ok,
                row["io_errors"],
                f(&row["peak_rss_mib"]),
            ));
        }
    }
    if let [(_, ours), (_, theirs)] = sides {
        md.push_str("\n| concurrency | throughput bertfit / python | p99 python / bertfit |\n|---|---|---|\n");
        for (a, b) in ours.iter().zip(theirs) {
            let ratio = |x: &Value, y: &Value| match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
                _ => "-".into(),
            };
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                a["concurrency"],
                ratio(&a["throughput_rps"], &b["throughput_rps"]),
                ratio(&b["p99_ms"], &a["p99_ms"]),
            ));
        }
    }
    md.push_str(&format!(
        "\nOverload: `--max-concurrent-requests {}` under {} clients: statuses {}, I/O errors {}, {:.1} req/s answered 200, RSS {:.1} MiB before, peak {:.1} MiB.\n",
        overload["max_concurrent_requests"],
        overload["clients"],
        overload["result"]["statuses"],
        overload["result"]["io_errors"],
        overload["result"]["throughput_rps"].as_f64().unwrap_or(0.0),
        overload["rss_before_mib"].as_f64().unwrap_or(0.0),
        overload["peak_rss_mib"].as_f64().unwrap_or(0.0),
    ));
    md
}
