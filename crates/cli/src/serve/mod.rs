//! `bertfit serve`: an HTTP inference server for fine-tuned classifiers, speaking TEI's
//! `/predict` and the HF Inference API's text classification, on axum and tokio.
//!
//! Requests are parsed and tokenized on the async runtime, then queued to one inference thread
//! per model ([`worker`]), which batches what waits up to `--max-batch-tokens`. A semaphore of
//! `--max-concurrent-requests` permits bounds what is in flight (beyond it: 429 with
//! `Retry-After`); `--request-timeout` bounds each wait (503). SIGTERM or Ctrl-C stops
//! accepting, answers every request already accepted, and exits 0.

mod api;
mod metrics;
mod model;
mod routes;
mod worker;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use tokio::sync::{Notify, Semaphore};

use crate::commands::load_classifier;
use crate::device;
use metrics::Metrics;
use model::ServedModel;
use routes::AppState;
use worker::Limits;

/// The cargo features this binary was built with, for `GET /info`.
const FEATURES: &[&str] = &[
    #[cfg(feature = "hub")]
    "hub",
    #[cfg(feature = "tch")]
    "tch",
    #[cfg(feature = "wgpu")]
    "wgpu",
];

/// Arguments of `bertfit serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A model directory or Hub id to serve, as `DIR` or `NAME=DIR`; repeat for several. The
    /// first answers `/predict` and `/`; each answers `/models/NAME` (NAME defaults to the
    /// directory's name, or the Hub id).
    #[arg(long, required = true)]
    pub model: Vec<String>,
    /// Address to listen on (`0.0.0.0` for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub hostname: String,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Backend to run on.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The longest input in tokens, special tokens included; longer ones are refused unless
    /// the request says `"truncate": true` [default: the longest the model takes].
    #[arg(long)]
    pub max_input_length: Option<usize>,
    /// Truncate over-long inputs when a request does not say (TEI's `--auto-truncate`).
    #[arg(long)]
    pub auto_truncate: bool,
    /// Padded tokens (inputs × longest input) one forward pass may take.
    #[arg(long, default_value_t = 16384)]
    pub max_batch_tokens: usize,
    /// Inputs one forward pass may take.
    #[arg(long, default_value_t = 32)]
    pub max_batch_requests: usize,
    /// Inputs one request may carry.
    #[arg(long, default_value_t = 32)]
    pub max_client_batch_size: usize,
    /// Requests in flight at once; beyond it the server answers 429 with Retry-After.
    #[arg(long, default_value_t = 512)]
    pub max_concurrent_requests: usize,
    /// The largest request body in bytes (beyond it: 413).
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a request may wait for its answer (then: 503).
    #[arg(long, default_value_t = 30.0)]
    pub request_timeout: f64,
}

/// Runs `bertfit serve` until SIGTERM or Ctrl-C.
pub fn run(args: &ServeArgs) -> Result<()> {
    check_limits(args)?;
    let device_name = args.device.clone();
    let device = device::parse(&args.device)?;
    let metrics = Arc::new(Metrics::default());
    let limits = Limits {
        max_batch_tokens: args.max_batch_tokens,
        max_batch_requests: args.max_batch_requests,
    };
    let mut models = Vec::new();
    let mut workers = Vec::new();
    for (name, spec) in model_names(&args.model)? {
        let classifier = load_classifier(
            &spec,
            None,
            &device,
            "serve a fine-tuned model",
            args.max_batch_requests,
            None,
        )
        .with_context(|| format!("--model {spec}"))?;
        let (model, handle) = ServedModel::start(
            name,
            spec,
            classifier,
            args.max_input_length,
            limits,
            metrics.clone(),
        )?;
        models.push(model);
        workers.push(handle);
    }
    let state = Arc::new(AppState {
        models,
        permits: Arc::new(Semaphore::new(args.max_concurrent_requests)),
        max_concurrent_requests: args.max_concurrent_requests,
        max_client_batch_size: args.max_client_batch_size,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs_f64(args.request_timeout),
        auto_truncate: args.auto_truncate,
        device: device_name,
        metrics,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bertfit-serve-http")
        .build()
        .context("starting the async runtime")?;
    let served = runtime.block_on(listen(args, state.clone()));
    // Connections the drain gave up on end with the runtime; then the queues close and each
    // worker finishes what it holds.
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(state);
    for handle in workers {
        let _ = handle.join();
    }
    served
}

/// Refuses limits that could never serve a request.
fn check_limits(args: &ServeArgs) -> Result<()> {
    for (flag, value) in [
        ("--max-batch-tokens", args.max_batch_tokens),
        ("--max-batch-requests", args.max_batch_requests),
        ("--max-client-batch-size", args.max_client_batch_size),
        ("--max-concurrent-requests", args.max_concurrent_requests),
        ("--max-body-bytes", args.max_body_bytes),
    ] {
        if value == 0 {
            bail!("{flag} 0 would refuse every request; pass 1 or more");
        }
    }
    if !(args.request_timeout.is_finite() && args.request_timeout > 0.0) {
        bail!(
            "--request-timeout {}: pass a number of seconds above 0",
            args.request_timeout
        );
    }
    if args.max_input_length == Some(0) {
        bail!("--max-input-length 0 leaves no room for text; pass 3 or more, or leave it out");
    }
    Ok(())
}

/// `(name, spec)` of each `--model` value (`NAME=DIR` or `DIR`); names must differ.
fn model_names(values: &[String]) -> Result<Vec<(String, String)>> {
    let mut named: Vec<(String, String)> = Vec::new();
    for value in values {
        let (name, spec) = match value.split_once('=') {
            Some((name, spec))
                if !name.is_empty() && !spec.is_empty() && !Path::new(value).exists() =>
            {
                (name.to_string(), spec.to_string())
            }
            _ => (default_name(value), value.clone()),
        };
        if let Some((_, other)) = named.iter().find(|(n, _)| *n == name) {
            bail!(
                "--model {value} and --model {other} are both named `{name}`; name them apart with --model NAME=DIR"
            );
        }
        named.push((name, spec));
    }
    Ok(named)
}

/// A directory's last component; a Hub id as it is.
fn default_name(spec: &str) -> String {
    Path::new(spec)
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| spec.trim_end_matches('/').to_string())
}

/// Binds `--hostname`:`--port` and serves until a shutdown signal, then drains the requests in
/// flight for up to `--request-timeout` plus 5 s.
async fn listen(args: &ServeArgs, state: Arc<AppState>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((args.hostname.as_str(), args.port))
        .await
        .with_context(|| {
            format!(
                "listening on --hostname {} --port {} (a port in use? pass another --port, or 0 for any free one)",
                args.hostname, args.port
            )
        })?;
    let address = listener.local_addr().context("reading the bound address")?;
    let names: Vec<&str> = state.models.iter().map(|m| m.info.name.as_str()).collect();
    eprintln!(
        "bertfit serve: listening on http://{address} (models: {}; device: {})",
        names.join(", "),
        state.device
    );
    let stopping = Arc::new(Notify::new());
    let signalled = stopping.clone();
    let app = routes::router(state.clone());
    let server = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                eprintln!("bertfit serve: shutting down; answering the requests in flight");
                signalled.notify_one();
            })
            .await
    };
    let grace = state.request_timeout + Duration::from_secs(5);
    tokio::select! {
        served = server => served.context("serving HTTP")?,
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            eprintln!("bertfit serve: connections still open {} s after the signal; closing them", grace.as_secs());
        }
    }
    eprintln!("bertfit serve: stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn model_values_are_named_and_names_must_differ() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sentiment");
        std::fs::create_dir(&dir).unwrap();
        let dir_s = dir.to_str().unwrap().to_string();
        let named = model_names(&[
            dir_s.clone(),
            format!("other={dir_s}"),
            "owner/model".into(),
        ])
        .unwrap();
        assert_eq!(
            named,
            [
                ("sentiment".to_string(), dir_s.clone()),
                ("other".to_string(), dir_s.clone()),
                ("owner/model".to_string(), "owner/model".to_string())
            ]
        );
        let err = model_names(&[dir_s.clone(), dir_s])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("both named `sentiment`") && err.contains("NAME=DIR"),
            "{err}"
        );
    }
}
