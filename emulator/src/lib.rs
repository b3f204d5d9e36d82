//! A local AWS Service Catalog emulator for testing `sc-action-runner` without AWS.
//!
//! It speaks the wire protocol the real SDKs use (AWS JSON 1.1: `POST /` with
//! `X-Amz-Target: AWS242ServiceCatalogService.<Operation>`), so an unmodified
//! `aws-sdk-servicecatalog` client pointed at it with `endpoint_url` works, typed errors and
//! all. Signatures are not checked.
//!
//! Operations: `ExecuteProvisionedProductServiceAction` (validated like the API model,
//! idempotent on `ExecuteToken`), `DescribeProvisionedProduct`,
//! `ListServiceActionsForProvisioningArtifact` (pages of at most 20) and `DescribeRecord`.
//! Records go CREATED → IN_PROGRESS → SUCCEEDED over `progress_ms` (CREATED for the first
//! quarter). Anything else is `UnknownOperationException`.
//!
//! # Library API
//! - [`Seed`]: the catalog, from [`Seed::from_file`] or [`Seed::default_seed`] (the embedded
//!   `emulator/seed.json`).
//! - [`EmulatorConfig`] `{ seed, progress_ms, latency_ms, rng_seed, verbose }` (with `Default`).
//! - [`start`]`(config, addr).await -> io::Result<EmulatorHandle>` binds `addr` (port 0 picks
//!   one); [`start_local`]`(config)` binds `127.0.0.1:0`.
//! - [`EmulatorHandle`] (cheap to clone): [`url`](EmulatorHandle::url),
//!   [`addr`](EmulatorHandle::addr), [`inject`](EmulatorHandle::inject)`(`[`Fault`]`)`,
//!   [`clear_faults`](EmulatorHandle::clear_faults), [`faults`](EmulatorHandle::faults),
//!   [`counters`](EmulatorHandle::counters) → [`Counters`],
//!   [`calls_for`](EmulatorHandle::calls_for)`(op)`,
//!   [`executions_for`](EmulatorHandle::executions_for)`(token)`,
//!   [`set_status`](EmulatorHandle::set_status)`(pp_id, status)`,
//!   [`reset`](EmulatorHandle::reset), [`shutdown`](EmulatorHandle::shutdown).
//!   The server stops when `shutdown` is called or the last clone is dropped.
//!
//! # Control API (same port, JSON)
//! - `POST /_emulator/faults` with a [`Fault`], e.g.
//!   `{"operation": "ExecuteProvisionedProductServiceAction" | "*", "kind": "throttle" |
//!   "error500" | "latency" | "drop", "count": 2}` or `"fraction": 0.3`, `"latencyMs": 500`;
//!   `GET /_emulator/faults` lists them; `DELETE /_emulator/faults` clears them.
//! - `GET /_emulator/counters` → [`Counters`] as
//!   `{"calls": {op: n}, "executions": {token: n}, "executionsByProduct": {pp_id: n}}`.
//! - `POST /_emulator/reset`: counters, records and faults cleared, products re-seeded.
//! - `POST /_emulator/provisioned-products/{id}/status` with `{"Status": "UNDER_CHANGE"}`
//!   (optionally `"StatusMessage"`).
//! - `GET /_emulator/health` → `{"ok": true}`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sc_emulator::{start_local, EmulatorConfig, Fault};
//! let emulator = start_local(EmulatorConfig::default()).await?;
//! emulator.inject(Fault::throttle("ExecuteProvisionedProductServiceAction", 2));
//! // point the SDK at emulator.url() ...
//! assert_eq!(emulator.executions_for("some-token"), 0);
//! # Ok(()) }
//! ```

mod error;
mod faults;
mod seed;
mod server;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind, ANY_OPERATION};
pub use seed::{Association, Product, ProvisionedProduct, ProvisioningArtifact, Seed, SeedError, ServiceAction};
pub use state::{Counters, RECORD_TYPE_EXECUTE};

use server::Shared;
use state::State;

/// How an emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The catalog and provisioned products to start with (and return to on reset).
    pub seed: Seed,
    /// How long a record takes to go from CREATED to SUCCEEDED; 0 finishes at once.
    pub progress_ms: u64,
    /// Delay added to every AWS call (not to control calls), to exercise timeouts.
    pub latency_ms: u64,
    /// Seeds the RNG behind record ids and `fraction` faults, so runs repeat.
    pub rng_seed: u64,
    /// Log one line per AWS call to stderr.
    pub verbose: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            seed: Seed::default_seed(),
            progress_ms: 2000,
            latency_ms: 0,
            rng_seed: 0x5eed,
            verbose: false,
        }
    }
}

/// Starts an emulator on `addr` (port 0 picks a free port) in the current Tokio runtime.
pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<EmulatorHandle> {
    let (listener, bound) = server::bind(addr).await?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(config.seed, config.progress_ms, config.rng_seed)),
        latency_ms: config.latency_ms,
        verbose: config.verbose,
    });
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), rx));
    Ok(EmulatorHandle {
        addr: bound,
        shared,
        lifetime: Arc::new(Lifetime {
            shutdown: tx,
            task: Mutex::new(Some(task)),
        }),
    })
}

/// Starts an emulator on a free port of 127.0.0.1.
pub async fn start_local(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
    start(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// Dropping the last handle drops the sender, which stops the server.
#[derive(Debug)]
struct Lifetime {
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Controls a running emulator; clones share it. The server stops when [`shutdown`]
/// is called or the last clone is dropped.
///
/// [`shutdown`]: EmulatorHandle::shutdown
#[derive(Debug, Clone)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    lifetime: Arc<Lifetime>,
}

impl EmulatorHandle {
    /// The endpoint to give the SDK, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a fault rule; rules apply in the order injected.
    ///
    /// # Panics
    /// If the fault can never work as meant (empty operation, fraction outside 0..=1):
    /// that is a bug in the test that injects it.
    pub fn inject(&self, fault: Fault) {
        if let Err(e) = fault.check() {
            panic!("invalid fault {fault:?}: {e}");
        }
        self.shared.lock().faults.push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The fault rules still active (counted ones disappear once used up).
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.rules()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// AWS calls of `operation` received so far, faulted ones included.
    pub fn calls_for(&self, operation: &str) -> u64 {
        self.shared.lock().counters.calls.get(operation).copied().unwrap_or(0)
    }

    /// Executions started with `token`: 0 or 1, since replays do not execute again.
    pub fn executions_for(&self, token: &str) -> u64 {
        self.shared.lock().counters.executions.get(token).copied().unwrap_or(0)
    }

    /// Sets a provisioned product's status (e.g. `UNDER_CHANGE`); false if it does not exist.
    pub fn set_status(&self, provisioned_product_id: &str, status: &str) -> bool {
        self.shared.lock().set_status(provisioned_product_id, status, None)
    }

    /// Clears counters, records and faults and re-seeds the provisioned products.
    pub fn reset(&self) {
        self.shared.lock().reset();
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the server
    /// to stop. Other clones of this handle keep working as controllers but nothing is served.
    pub async fn shutdown(&self) {
        // send_replace: works even if every receiver is already gone.
        self.lifetime.shutdown.send_replace(true);
        let task = self
            .lifetime
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
