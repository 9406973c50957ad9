//! `GET /metrics`: the server's counters in Prometheus' text format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Upper bounds of the request latency histogram, seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Upper bounds of the batch size histogram, rows per forward pass.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A cumulative histogram.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&mut self.counts) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// One model's inference counters.
#[derive(Debug, Clone)]
struct ModelCounters {
    batches: Histogram,
    tokens: u64,
    inference_seconds: f64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (route, status) → count.
    requests: BTreeMap<(String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
    models: BTreeMap<String, ModelCounters>,
}

/// The server's metrics, shared by the handlers and the inference workers.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Requests waiting for an inference worker, by model.
    queues: Mutex<BTreeMap<String, std::sync::Arc<AtomicUsize>>>,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut inner = self.lock();
        *inner
            .requests
            .entry((route.to_string(), status))
            .or_default() += 1;
        inner
            .latency
            .entry(route.to_string())
            .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one forward pass of `model` over `rows` examples and `tokens` tokens.
    pub fn batch(&self, model: &str, rows: usize, tokens: usize, elapsed: Duration) {
        let mut inner = self.lock();
        let counters = inner
            .models
            .entry(model.to_string())
            .or_insert_with(|| ModelCounters {
                batches: Histogram::new(&BATCH_BUCKETS),
                tokens: 0,
                inference_seconds: 0.0,
            });
        counters.batches.observe(rows as f64);
        counters.tokens += tokens as u64;
        counters.inference_seconds += elapsed.as_secs_f64();
    }

    /// Registers the queue depth gauge of `model`.
    pub fn queue(&self, model: &str, depth: std::sync::Arc<AtomicUsize>) {
        if let Ok(mut queues) = self.queues.lock() {
            queues.insert(model.to_string(), depth);
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP bertfit_requests_total HTTP requests answered, by route and status.\n# TYPE bertfit_requests_total counter\n");
        for ((route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "bertfit_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP bertfit_request_duration_seconds Time from a request's arrival to its answer.\n# TYPE bertfit_request_duration_seconds histogram\n");
        for (route, histogram) in &inner.latency {
            histogram.write(
                &mut out,
                "bertfit_request_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        out.push_str("# HELP bertfit_batch_size Examples per forward pass.\n# TYPE bertfit_batch_size histogram\n");
        for (model, counters) in &inner.models {
            counters.batches.write(
                &mut out,
                "bertfit_batch_size",
                &format!("model=\"{model}\""),
            );
        }
        out.push_str(
            "# HELP bertfit_tokens_total Tokens classified.\n# TYPE bertfit_tokens_total counter\n",
        );
        for (model, counters) in &inner.models {
            let _ = writeln!(
                out,
                "bertfit_tokens_total{{model=\"{model}\"}} {}",
                counters.tokens
            );
        }
        out.push_str("# HELP bertfit_tokens_per_second Tokens classified per second of inference.\n# TYPE bertfit_tokens_per_second gauge\n");
        for (model, counters) in &inner.models {
            let rate = if counters.inference_seconds > 0.0 {
                counters.tokens as f64 / counters.inference_seconds
            } else {
                0.0
            };
            let _ = writeln!(out, "bertfit_tokens_per_second{{model=\"{model}\"}} {rate}");
        }
        drop(inner);
        out.push_str("# HELP bertfit_queue_depth Requests waiting for an inference worker.\n# TYPE bertfit_queue_depth gauge\n");
        if let Ok(queues) = self.queues.lock() {
            for (model, depth) in queues.iter() {
                let _ = writeln!(
                    out,
                    "bertfit_queue_depth{{model=\"{model}\"}} {}",
                    depth.load(Ordering::Relaxed)
                );
            }
        }
        out
    }

    /// The counters; a handler that panicked while holding them leaves them as they were.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_requests_latency_batches_and_tokens() {
        let metrics = Metrics::default();
        metrics.request("/predict", 200, Duration::from_millis(20));
        metrics.request("/predict", 200, Duration::from_millis(200));
        metrics.request("/predict", 422, Duration::from_millis(1));
        metrics.batch("m", 3, 60, Duration::from_millis(250));
        metrics.queue("m", std::sync::Arc::new(AtomicUsize::new(2)));
        let text = metrics.render();
        for line in [
            "bertfit_requests_total{route=\"/predict\",status=\"200\"} 2",
            "bertfit_requests_total{route=\"/predict\",status=\"422\"} 1",
            "bertfit_request_duration_seconds_bucket{route=\"/predict\",le=\"0.025\"} 2",
            "bertfit_request_duration_seconds_bucket{route=\"/predict\",le=\"+Inf\"} 3",
            "bertfit_request_duration_seconds_count{route=\"/predict\"} 3",
            "bertfit_batch_size_bucket{model=\"m\",le=\"2\"} 0",
            "bertfit_batch_size_bucket{model=\"m\",le=\"4\"} 1",
            "bertfit_tokens_total{model=\"m\"} 60",
            "bertfit_tokens_per_second{model=\"m\"} 240",
            "bertfit_queue_depth{model=\"m\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
