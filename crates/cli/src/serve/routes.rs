//! The HTTP routes: TEI's `/predict`, the HF Inference API's `/` and `/models/{name}`,
//! `/health`, `/info` and `/metrics`, with every error a JSON body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

use super::api::{self, ApiError, Function, Sequence};
use super::metrics::Metrics;
use super::model::{ModelInfo, ServedModel};
use super::worker::Job;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The served models; the first answers `/` and `/predict`.
    pub models: Vec<ServedModel>,
    /// Permits for requests in flight.
    pub permits: Arc<Semaphore>,
    /// `--max-concurrent-requests`, the number of permits.
    pub max_concurrent_requests: usize,
    /// `--max-client-batch-size`.
    pub max_client_batch_size: usize,
    /// `--max-body-bytes`.
    pub max_body_bytes: usize,
    /// `--request-timeout`.
    pub request_timeout: Duration,
    /// `--auto-truncate`.
    pub auto_truncate: bool,
    /// The backend, as `--device` named it.
    pub device: String,
    /// The counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
}

type Shared = State<Arc<AppState>>;

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .route("/predict", post(predict))
        .route("/", post(hf_default))
        .route("/models/{*name}", post(hf_named))
        .route("/health", get(health))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Counts every answer by route and status, with its latency.
async fn track(State(state): Shared, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .request(&route, response.status().as_u16(), start.elapsed());
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "no such route; the routes are POST /predict, POST /, POST /models/{name}, GET /health, GET /info, GET /metrics",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "this route does not take that method: POST /predict, /, /models/{name}; GET /health, /info, /metrics",
    )
}

/// The request body, or a 413 naming `--max-body-bytes`.
fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Validation",
                format!(
                    "the request body is over --max-body-bytes ({} bytes); send fewer or shorter inputs",
                    state.max_body_bytes
                ),
            )
        } else {
            ApiError::new(
                rejection.status(),
                "Validation",
                format!("the request body could not be read: {rejection}"),
            )
        }
    })
}

/// A permit for one request, or a 429 with `Retry-After`.
fn admit(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state.permits.clone().try_acquire_owned().map_err(|_| {
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Overloaded",
            format!(
                "the server is at --max-concurrent-requests ({}); retry shortly",
                state.max_concurrent_requests
            ),
        );
        err.retry_after = Some(1);
        err
    })
}

/// Logits of `inputs` from `model`'s worker, within `--request-timeout`.
async fn infer(
    state: &AppState,
    model: &ServedModel,
    inputs: &[(String, Sequence)],
    truncate: bool,
    side: bertfit_tokenize::TruncationSide,
) -> Result<Vec<Vec<f32>>, ApiError> {
    if inputs.len() > state.max_client_batch_size {
        return Err(ApiError::validation(
            "inputs",
            format!(
                "{} inputs in one request, above --max-client-batch-size {}; split the request",
                inputs.len(),
                state.max_client_batch_size
            ),
        ));
    }
    let rows = model.encode(inputs, truncate, side)?;
    let (reply, answer) = oneshot::channel();
    if !model.queue().push(Job { rows, reply }) {
        return Err(unhealthy(&model.info.name));
    }
    match tokio::time::timeout(state.request_timeout, answer).await {
        Ok(Ok(Ok(logits))) => Ok(logits),
        Ok(Ok(Err(message))) => Err(ApiError::new(
            StatusCode::FAILED_DEPENDENCY,
            "Backend",
            message,
        )),
        Ok(Err(_)) => Err(unhealthy(&model.info.name)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Timeout",
            format!(
                "no answer within --request-timeout ({} s); the server is busy: retry, or send fewer inputs",
                state.request_timeout.as_secs_f64()
            ),
        )),
    }
}

fn unhealthy(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unhealthy",
        format!("the inference worker of model {name} has stopped"),
    )
}

fn labelled(scores: Vec<(String, f64)>) -> Value {
    Value::Array(
        scores
            .into_iter()
            .map(|(label, score)| json!({"label": label, "score": score}))
            .collect(),
    )
}

/// TEI's `POST /predict` on the first model.
async fn predict(
    State(state): Shared,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let _permit = admit(&state)?;
    let request = api::predict_request(&body(&state, raw)?)?;
    let model = &state.models[0];
    let truncate = request.truncate.unwrap_or(state.auto_truncate);
    let logits = infer(
        &state,
        model,
        &request.inputs,
        truncate,
        request.truncation_side,
    )
    .await?;
    let function = if request.raw_scores {
        Function::None
    } else {
        model.default_function()
    };
    let mut answers: Vec<Value> = logits
        .iter()
        .map(|row| labelled(model.scores(row, function)))
        .collect();
    Ok(axum::Json(if request.batch {
        Value::Array(answers)
    } else {
        answers.pop().unwrap_or(Value::Null)
    }))
}

/// The HF Inference API's `POST /` on the first model.
async fn hf_default(
    State(state): Shared,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    hf(&state, 0, raw).await
}

/// The HF Inference API's `POST /models/{name}`.
async fn hf_named(
    State(state): Shared,
    Path(name): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let index = state
        .models
        .iter()
        .position(|m| m.info.name == name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "no model named `{name}`; this server has [{}] (GET /info lists them)",
                    state
                        .models
                        .iter()
                        .map(|m| m.info.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .at("name")
        })?;
    hf(&state, index, raw).await
}

async fn hf(
    state: &AppState,
    index: usize,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    let _permit = admit(state)?;
    let request = api::hf_request(&body(state, raw)?)?;
    let model = &state.models[index];
    let logits = infer(
        state,
        model,
        &request.inputs,
        state.auto_truncate,
        bertfit_tokenize::TruncationSide::Right,
    )
    .await?;
    let function = request.function.unwrap_or_else(|| model.default_function());
    Ok(axum::Json(Value::Array(
        logits
            .iter()
            .map(|row| {
                let mut scores = model.scores(row, function);
                scores.truncate(request.top_k.unwrap_or(usize::MAX));
                labelled(scores)
            })
            .collect(),
    )))
}

/// 200 while every model's worker runs, else 503 naming the stopped ones.
async fn health(State(state): Shared) -> Response {
    let stopped: Vec<&str> = state
        .models
        .iter()
        .filter(|m| !m.queue().is_alive())
        .map(|m| m.info.name.as_str())
        .collect();
    if stopped.is_empty() {
        axum::Json(json!({"status": "ok"})).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unhealthy",
            format!("inference stopped for [{}]", stopped.join(", ")),
        )
        .into_response()
    }
}

/// The models, the limits, the backend and the build.
async fn info(State(state): Shared) -> axum::Json<Value> {
    let models: Vec<&ModelInfo> = state.models.iter().map(|m| &m.info).collect();
    let first = models.first();
    axum::Json(json!({
        "model_id": first.map(|m| m.model_id.as_str()),
        "architecture": first.map(|m| m.architecture.as_str()),
        "labels": first.map(|m| m.labels.as_slice()),
        "max_input_length": first.map(|m| m.max_input_length),
        "models": models,
        "backend": state.device,
        "max_concurrent_requests": state.max_concurrent_requests,
        "max_client_batch_size": state.max_client_batch_size,
        "version": env!("CARGO_PKG_VERSION"),
        "build": {
            "version": env!("CARGO_PKG_VERSION"),
            "features": super::FEATURES,
        },
    }))
}

async fn metrics(State(state): Shared) -> impl IntoResponse {
    let in_flight = state.max_concurrent_requests - state.permits.available_permits();
    let text = format!(
        "{}# HELP bertfit_requests_in_flight Requests admitted and not yet answered.\n# TYPE bertfit_requests_in_flight gauge\nbertfit_requests_in_flight {in_flight}\n",
        state.metrics.render()
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
