//! A local AWS Service Catalog emulator — plus the Resource Groups Tagging API's
//! `GetResources` — for testing `sc-action-runner` without AWS.
//!
//! It speaks the wire protocol the real SDKs use (AWS JSON 1.1: `POST /` with
//! `X-Amz-Target: AWS242ServiceCatalogService.<Operation>` or
//! `ResourceGroupsTaggingAPI_20170126.<Operation>`), so unmodified `aws-sdk-servicecatalog` and
//! `aws-sdk-resourcegroupstagging` clients pointed at it with `endpoint_url` work, typed errors
//! and all. Signatures are not checked. `emulator/README.md` documents every operation, the
//! faults, the control API and the seeded catalog (ids, the fleet's composition, the resources).
//!
//! Operations: `ExecuteProvisionedProductServiceAction` (validated like the API model,
//! idempotent on `ExecuteToken`), `DescribeProvisionedProduct`,
//! `ListServiceActionsForProvisioningArtifact` (pages of at most 20), `DescribeRecord` (with
//! `RecordOutputs`), `DescribeServiceActionExecutionParameters`, `SearchProvisionedProducts`
//! (access level, a `SearchQuery` subset, sorting, pages of at most 100) and `GetResources`.
//! Records go CREATED → IN_PROGRESS → final over `progress_ms` (CREATED for the first quarter);
//! the action's seed entry decides how they end: `SUCCEEDED` (with its `Outputs` as
//! `RecordOutputs`), `FAILED` (`FailureMessage`, `FailureCode`) or never (`NeverFinishes`).
//! Anything else is `UnknownOperationException`.
//!
//! # Library API
//! - [`Seed`]: the catalog, from [`Seed::from_file`] or [`Seed::default_seed`] (the embedded
//!   `emulator/seed.json`); [`Seed::with_generated_fleet`]`(n, tags)` adds `n` products
//!   `pp-bench00000001`… that [`PATCH_OS_ACTION_ID`] runs on.
//! - [`EmulatorConfig`] `{ seed, progress_ms, latency_ms, rng_seed, verbose, rate_limits }`
//!   (with `Default`).
//! - [`start`]`(config, addr).await -> io::Result<EmulatorHandle>` binds `addr` (port 0 picks
//!   one); [`start_local`]`(config)` binds `127.0.0.1:0`.
//! - [`EmulatorHandle`] (cheap to clone): [`url`](EmulatorHandle::url),
//!   [`addr`](EmulatorHandle::addr), [`inject`](EmulatorHandle::inject)`(`[`Fault`]`)`,
//!   [`clear_faults`](EmulatorHandle::clear_faults), [`faults`](EmulatorHandle::faults),
//!   [`set_rate_limit`](EmulatorHandle::set_rate_limit)`(op, per_second)`,
//!   [`clear_rate_limit`](EmulatorHandle::clear_rate_limit)`(op)`,
//!   [`clear_rate_limits`](EmulatorHandle::clear_rate_limits),
//!   [`rate_limits`](EmulatorHandle::rate_limits),
//!   [`counters`](EmulatorHandle::counters) → [`Counters`] (with [`FaultsFired`]),
//!   [`calls_for`](EmulatorHandle::calls_for)`(op)`,
//!   [`call_times`](EmulatorHandle::call_times)`(op)` (epoch ms of every call received),
//!   [`executions_for`](EmulatorHandle::executions_for)`(token)`,
//!   [`set_status`](EmulatorHandle::set_status)`(pp_id, status)`,
//!   [`reset`](EmulatorHandle::reset), [`shutdown`](EmulatorHandle::shutdown).
//!   The server stops when `shutdown` is called or the last clone is dropped.
//! - [`Fault`]: `throttle`, `error500`, `drop_connection`, `apply_then_drop`, `apply_then_500`
//!   (next N calls; the `apply_*` ones take effect before failing), `latency` (every call);
//!   modifiers `with_fraction`, `always`, and `when(member, value)` to match only calls whose
//!   body has that top-level string member value.
//!
//! # Control API (same port, JSON)
//! - `POST /_emulator/faults` with a [`Fault`], e.g.
//!   `{"operation": "ExecuteProvisionedProductServiceAction" | "*", "kind": "throttle" |
//!   "error500" | "drop" | "applyDrop" | "apply500" | "latency", "count": 2}` or
//!   `"fraction": 0.3`, `"latencyMs": 500`, `"when": {"ProvisionedProductId": "pp-…"}`;
//!   `GET /_emulator/faults` lists them; `DELETE /_emulator/faults` clears them.
//! - `POST /_emulator/rate-limits` `{"operation": "<Op>" | "*", "perSecond": 20}`;
//!   `GET /_emulator/rate-limits`; `DELETE /_emulator/rate-limits[?operation=Op]`.
//! - `GET /_emulator/call-times?operation=Op` → `{"operation": "Op", "times": [epoch ms…]}`
//!   (without `operation`: `{"callTimes": {op: [...]}}`).
//! - `GET /_emulator/counters` → [`Counters`] as `{"calls": {op: n}, "executions": {token: n},
//!   "executionsByProduct": {pp_id: n}, "faultsFired": {"throttle": n, "error500": n, "drop": n,
//!   "latency": n, "applyDrop": n, "apply500": n, "rateLimited": n}}`.
//! - `POST /_emulator/reset`: counters, call times, records and faults cleared, configured rate
//!   limits restored, products re-seeded.
//! - `POST /_emulator/provisioned-products/{id}/status` with `{"Status": "UNDER_CHANGE"}`
//!   (optionally `"StatusMessage"`).
//! - `GET /_emulator/health` → `{"ok": true}`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sc_emulator::{start_local, EmulatorConfig, Fault};
//! const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
//! let emulator = start_local(EmulatorConfig::default()).await?;
//! emulator.inject(Fault::apply_then_drop(EXECUTE, 1).when("ProvisionedProductId", "pp-webprod000001"));
//! emulator.set_rate_limit(EXECUTE, 20.0);
//! // point the SDK at emulator.url() ...
//! assert_eq!(emulator.executions_for("some-token"), 0);
//! assert!(emulator.call_times(EXECUTE).is_empty());
//! # Ok(()) }
//! ```

mod api;
mod control;
mod error;
mod faults;
mod ratelimit;
mod seed;
mod server;
mod shared;
mod state;
mod traffic;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind, ANY_OPERATION};
pub use seed::{
    ActionParameter, Association, Product, ProvisionedProduct, ProvisioningArtifact, RecordOutput, Seed, SeedError,
    ServiceAction, Tag, TaggedResource, FLEET_ARTIFACT_ID, FLEET_PRODUCT_ID, PATCH_OS_ACTION_ID,
};
pub use state::RECORD_TYPE_EXECUTE;
pub use traffic::{Counters, FaultsFired};

use shared::Shared;
use state::State;
use traffic::Traffic;

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
    /// Rate limits in force from the start (and again after a reset): operation (or `*`, one
    /// bucket shared by all) → calls per second. A token bucket with a burst of that many calls
    /// (at least one); calls beyond it get the API's throttling error.
    pub rate_limits: BTreeMap<String, f64>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            seed: Seed::default_seed(),
            progress_ms: 2000,
            latency_ms: 0,
            rng_seed: 0x5eed,
            verbose: false,
            rate_limits: BTreeMap::new(),
        }
    }
}

/// Starts an emulator on `addr` (port 0 picks a free port) in the current Tokio runtime.
///
/// # Errors
/// If `addr` cannot be bound, or a configured rate limit is not a positive number
/// (`InvalidInput`).
pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<EmulatorHandle> {
    for (operation, rate) in &config.rate_limits {
        ratelimit::check_rate(operation, *rate)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("rate limit: {e}")))?;
    }
    let (listener, bound) = server::bind(addr).await?;
    let shared = Arc::new(Shared::new(
        State::new(config.seed, config.progress_ms, config.rng_seed),
        Traffic::new(config.rng_seed, config.rate_limits),
        config.latency_ms,
        config.verbose,
    ));
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
        self.shared.traffic().faults.push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.traffic().faults.clear();
    }

    /// The fault rules still active (counted ones disappear once used up).
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.traffic().faults.rules()
    }

    /// Limits `operation` (or `*`: all operations together) to `per_second` calls per second
    /// from now on, with a full bucket; replaces an earlier limit of the same operation.
    ///
    /// # Panics
    /// If `per_second` is not a positive number or `operation` is empty: a bug in the test.
    pub fn set_rate_limit(&self, operation: &str, per_second: f64) {
        if let Err(e) = ratelimit::check_rate(operation, per_second) {
            panic!("invalid rate limit: {e}");
        }
        self.shared
            .traffic()
            .rate_limits
            .set(operation, per_second, Instant::now());
    }

    /// Removes the rate limit of one operation (`*` for the shared one).
    pub fn clear_rate_limit(&self, operation: &str) {
        self.shared.traffic().rate_limits.remove(operation);
    }

    /// Removes every rate limit, configured ones included (until the next reset).
    pub fn clear_rate_limits(&self) {
        self.shared.traffic().rate_limits.clear();
    }

    /// The rate limits in force: operation → calls per second.
    pub fn rate_limits(&self) -> BTreeMap<String, f64> {
        self.shared.traffic().rate_limits.rates()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters()
    }

    /// AWS calls of `operation` received so far, faulted and rate-limited ones included.
    pub fn calls_for(&self, operation: &str) -> u64 {
        self.shared.traffic().calls().get(operation).copied().unwrap_or(0)
    }

    /// When each call of `operation` was received, in epoch milliseconds and arrival order,
    /// faulted and rate-limited ones included: to check that a client kept to a rate.
    pub fn call_times(&self, operation: &str) -> Vec<u64> {
        self.shared.traffic().call_times(operation)
    }

    /// Executions started with `token`: 0 or 1, since replays do not execute again.
    pub fn executions_for(&self, token: &str) -> u64 {
        self.shared.state().executions.by_token.get(token).copied().unwrap_or(0)
    }

    /// Sets a provisioned product's status (e.g. `UNDER_CHANGE`); false if it does not exist.
    pub fn set_status(&self, provisioned_product_id: &str, status: &str) -> bool {
        self.shared.state().set_status(provisioned_product_id, status, None)
    }

    /// Clears counters, call times, records and faults, restores the configured rate limits
    /// and re-seeds the provisioned products.
    pub fn reset(&self) {
        self.shared.reset();
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
