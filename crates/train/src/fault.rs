//! Pause points for crash tests: named places in the checkpoint and save code where a run can
//! be made to stop and wait, so that a test can kill it exactly there.
//!
//! `BERTFIT_PAUSE_AT=name[@k][,name[@k]…]` makes the process print
//! `bertfit: paused at name@k` to stderr the k-th time (default: the first) it reaches the point
//! `name`, then sleep until it is killed. Without the variable a pause point costs one
//! already-initialised read. The points are listed in [`POINTS`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The environment variable that arms pause points.
pub const PAUSE_AT_VAR: &str = "BERTFIT_PAUSE_AT";

/// Every pause point, in the order a checkpoint or final save reaches them.
pub const POINTS: &[&str] = &[
    "checkpoint:model",
    "checkpoint:optimizer",
    "checkpoint:state",
    "checkpoint:manifest",
    "checkpoint:commit",
    "checkpoint:rotate",
    "metrics:write",
    "final:model",
    "final:commit",
    "final:state",
];

/// The armed points (name → which occurrence pauses), read once.
fn armed() -> &'static HashMap<String, usize> {
    static ARMED: OnceLock<HashMap<String, usize>> = OnceLock::new();
    ARMED.get_or_init(|| {
        let Ok(spec) = std::env::var(PAUSE_AT_VAR) else {
            return HashMap::new();
        };
        spec.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| match s.trim().split_once('@') {
                Some((name, k)) => (name.to_string(), k.parse().unwrap_or(1)),
                None => (s.trim().to_string(), 1),
            })
            .collect()
    })
}

/// Pauses forever here when `name` is armed and this is the occurrence it names (for crash
/// tests; see the module docs).
pub fn pause_point(name: &str) {
    let armed = armed();
    let Some(&at) = armed.get(name) else {
        return;
    };
    static SEEN: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    let count = match seen.lock() {
        Ok(mut seen) => {
            let n = seen.entry(name.to_string()).or_insert(0);
            *n += 1;
            *n
        }
        Err(_) => return,
    };
    if count == at {
        eprintln!("bertfit: paused at {name}@{at} ({PAUSE_AT_VAR})");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
