//! State shared by the server, its connections and every handle: the emulated world and the
//! traffic that reaches it, each behind its own lock.

use std::sync::{Mutex, MutexGuard};

use crate::state::State;
use crate::traffic::{Counters, Traffic};

#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    traffic: Mutex<Traffic>,
    /// Delay added to every AWS call.
    pub(crate) latency_ms: u64,
    /// One log line per AWS call to stderr.
    pub(crate) verbose: bool,
}

/// A panic while holding a lock cannot leave the state half-updated in a way that matters to
/// a test double, so a poisoned lock is simply taken over.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new(state: State, traffic: Traffic, latency_ms: u64, verbose: bool) -> Self {
        Shared {
            state: Mutex::new(state),
            traffic: Mutex::new(traffic),
            latency_ms,
            verbose,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn traffic(&self) -> MutexGuard<'_, Traffic> {
        lock(&self.traffic)
    }

    /// A snapshot; the two halves are read one after the other, not atomically.
    pub(crate) fn counters(&self) -> Counters {
        let executions = self.state().executions.clone();
        let traffic = self.traffic();
        Counters {
            calls: traffic.calls().clone(),
            executions: executions.by_token,
            executions_by_product: executions.by_product,
            faults_fired: traffic.faults_fired(),
        }
    }

    /// Back to the seed and the configured rate limits; counters, call times and faults cleared.
    pub(crate) fn reset(&self) {
        self.traffic().reset();
        self.state().reset();
    }
}
