//! Inference on a dedicated thread per model, fed by a queue: the worker takes what is waiting,
//! up to a token budget, and runs it as one batch, longest first, as `TextClassifier` sorts.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};
use bertfit_model::AutoModelForSequenceClassification;
use bertfit_train::{EncodedDataset, Example, TextClassifier};
use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;

/// The logits of a job's rows, or why there are none.
pub type Reply = std::result::Result<Vec<Vec<f32>>, String>;

/// One request's tokenized inputs and where to send their logits.
#[derive(Debug)]
pub struct Job {
    /// Tokenized inputs.
    pub rows: Vec<Example<()>>,
    /// The answer's channel; closed when the client went away or timed out.
    pub reply: oneshot::Sender<Reply>,
}

impl Job {
    fn longest(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.input_ids.len())
            .max()
            .unwrap_or(0)
    }
}

/// How much one forward pass may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Padded tokens (rows × longest row) of one batch.
    pub max_batch_tokens: usize,
    /// Rows of one batch.
    pub max_batch_requests: usize,
}

/// The sending side of a model's queue.
#[derive(Debug, Clone)]
pub struct Queue {
    sender: mpsc::UnboundedSender<Job>,
    depth: Arc<AtomicUsize>,
    alive: Arc<AtomicBool>,
}

impl Queue {
    /// Queues `job`; `false` when the worker has stopped.
    ///
    /// The queue has no bound of its own: the server's request semaphore
    /// (`--max-concurrent-requests`) bounds what can be in it.
    pub fn push(&self, job: Job) -> bool {
        self.depth.fetch_add(1, Ordering::Relaxed);
        let sent = self.sender.send(job).is_ok();
        if !sent {
            self.depth.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// Whether the worker thread is running.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

/// Starts the worker of `classifier`, named `name` in metrics. The thread ends when every
/// [`Queue`] clone is dropped and the queue is drained.
pub fn spawn(
    name: &str,
    classifier: TextClassifier<AutoModelForSequenceClassification>,
    limits: Limits,
    metrics: Arc<Metrics>,
) -> Result<(Queue, JoinHandle<()>)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let depth = Arc::new(AtomicUsize::new(0));
    let alive = Arc::new(AtomicBool::new(true));
    metrics.queue(name, depth.clone());
    let worker = Worker {
        name: name.to_string(),
        classifier,
        limits,
        metrics,
        receiver,
        depth: depth.clone(),
        alive: alive.clone(),
    };
    let handle = std::thread::Builder::new()
        .name(format!("bertfit-serve-{name}"))
        .spawn(move || worker.run())
        .with_context(|| format!("starting the inference thread of model {name}"))?;
    Ok((
        Queue {
            sender,
            depth,
            alive,
        },
        handle,
    ))
}

struct Worker {
    name: String,
    classifier: TextClassifier<AutoModelForSequenceClassification>,
    limits: Limits,
    metrics: Arc<Metrics>,
    receiver: mpsc::UnboundedReceiver<Job>,
    depth: Arc<AtomicUsize>,
    alive: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self) {
        let mut carry = None;
        while let Some(jobs) = self.next_batch(&mut carry) {
            self.answer(jobs);
        }
        self.alive.store(false, Ordering::Relaxed);
    }

    /// Waits for a job, then takes the others waiting while they fit the limits; a job that
    /// does not fit waits in `carry` for the next batch. `None` once the queue is closed and
    /// empty.
    fn next_batch(&mut self, carry: &mut Option<Job>) -> Option<Vec<Job>> {
        let first = match carry.take() {
            Some(job) => job,
            None => self.receiver.blocking_recv()?,
        };
        let (mut rows, mut longest) = (first.rows.len(), first.longest());
        let mut jobs = vec![first];
        while let Ok(job) = self.receiver.try_recv() {
            let (r, l) = (rows + job.rows.len(), longest.max(job.longest()));
            if r > self.limits.max_batch_requests || r * l > self.limits.max_batch_tokens {
                *carry = Some(job);
                break;
            }
            (rows, longest) = (r, l);
            jobs.push(job);
        }
        self.depth.fetch_sub(jobs.len(), Ordering::Relaxed);
        Some(jobs)
    }

    /// Runs the jobs whose clients still wait as one set of rows and sends each its logits.
    fn answer(&self, jobs: Vec<Job>) {
        let jobs: Vec<Job> = jobs.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if jobs.is_empty() {
            return;
        }
        let rows = EncodedDataset {
            examples: jobs.iter().flat_map(|j| j.rows.iter().cloned()).collect(),
            pad_token_id: self.classifier.tokenizer().pad_token_id(),
        };
        let tokens = rows.lengths().iter().sum();
        let start = Instant::now();
        // A backend that panics fails this batch's requests, not the server.
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.classifier.logits_encoded(&rows)));
        self.metrics
            .batch(&self.name, rows.len(), tokens, start.elapsed());
        let mut logits = match result {
            Ok(Ok(logits)) => logits.into_iter(),
            Ok(Err(err)) => return fail(jobs, &format!("inference failed: {err}")),
            Err(_) => return fail(jobs, "inference failed: the backend panicked"),
        };
        for job in jobs {
            let mine: Vec<Vec<f32>> = logits.by_ref().take(job.rows.len()).collect();
            let _ = job.reply.send(Ok(mine));
        }
    }
}

fn fail(jobs: Vec<Job>, message: &str) {
    for job in jobs {
        let _ = job.reply.send(Err(message.to_string()));
    }
}
