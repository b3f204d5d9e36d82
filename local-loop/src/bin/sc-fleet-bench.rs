//! `sc-fleet-bench`: the fleet scenario of `make bench` (issue 14), run by `bench/run_bench.py`.
//!
//! One scenario at a time, each in a fresh local loop (moto, the Service Catalog emulator,
//! cargo-lambda's Runtime API behind the deadline proxy), so every side starts from empty queues
//! and a full rate-limit bucket:
//! - the emulator holds its seed plus a generated fleet of `--products` products tagged
//!   `bench=fleet`, limits `ExecuteProvisionedProductServiceAction` to `--rate` calls/s (a token
//!   bucket, `ThrottlingException` beyond) and adds `--latency-ms` to every call;
//! - `--concurrency` execution environments of the function serve the local SQS event source
//!   mapping (batches of `--batch-size`, at most `--concurrency` invocations at once, visibility
//!   timeout `--visibility-timeout`), each reaching the Runtime API through `bench/rt_shim.py`;
//! - the Rust function gets one fleet request selecting every generated product (its children
//!   come back through the same requests queue); the Python peer, which has no fleet support, gets
//!   one single request per product, all enqueued at once.
//!
//! It prints one JSON object per scenario on stdout (progress goes to stderr): makespan from the
//! first request sent to the last result published, Execute calls and how many were throttled,
//! products not executed exactly once, the mapping's counters, and what explains the time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry};
use sc_local_loop::sc_emulator::{EmulatorConfig, Seed, PATCH_OS_ACTION_ID};
use sc_local_loop::{
    queue_depth, EsmOptions, EventSourceMapping, FunctionProcess, LocalLoop, LoopOptions, RequestsQueue,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";
const FLEET_TAG: (&str, &str) = ("bench", "fleet");
/// The Runtime API's function name: a binary of this workspace, or cargo-lambda refuses it.
const FUNCTION_NAME: &str = "sc-action-runner";
const SCENARIOS: [&str; 5] = ["rust", "peer", "rust-adaptive", "rust-unpaced", "rust-unpaced-adaptive"];

const USAGE: &str = "usage: sc-fleet-bench [--scenario NAME]... [options]

Scenarios (default: all, in this order):
  rust                   the Rust function, SC_MAX_CALLS_PER_SECOND = rate / concurrency
  peer                   the Python peer (bench/baseline/handler.py under awslambdaric)
  rust-adaptive          rust with AWS_RETRY_MODE=adaptive
  rust-unpaced           the Rust function without SC_MAX_CALLS_PER_SECOND
  rust-unpaced-adaptive  rust-unpaced with AWS_RETRY_MODE=adaptive

Options (defaults in brackets):
  --function PATH            the Rust function [target/release/sc-action-runner]
  --project DIR              the workspace root [.]
  --peer-python PATH         Python with awslambdaric and boto3 [.venv-bench/bin/python]
  --shim-python PATH         Python for bench/rt_shim.py [python3]
  --products N               generated fleet size [1000]
  --rate R                   Execute calls/s the emulator allows [20]
  --latency-ms MS            added to every Service Catalog call [50]
  --concurrency N            invocations at once = execution environments [5]
  --batch-size N             records per invocation [10]
  --visibility-timeout S     the mapping's visibility timeout [10]
  --function-timeout S       the function's timeout [10]
  --max-receive-count N      receives before the DLQ [5]
  --max-concurrency N        the Rust function's MAX_CONCURRENCY [10]
  --timeout S                give up a scenario after this long [900]
  --logs DIR                 keep each environment's log there as <scenario>-<n>.log [none]";

#[derive(Debug, Clone)]
struct Args {
    scenarios: Vec<String>,
    function: PathBuf,
    project: PathBuf,
    peer_python: PathBuf,
    shim_python: PathBuf,
    products: usize,
    rate: f64,
    latency_ms: u64,
    concurrency: usize,
    batch_size: i32,
    visibility_timeout: u64,
    function_timeout: u64,
    max_receive_count: u32,
    max_concurrency: u32,
    timeout: u64,
    logs: Option<PathBuf>,
}

impl Args {
    fn parse(raw: &[String]) -> Result<Args, String> {
        let mut args = Args {
            scenarios: Vec::new(),
            function: PathBuf::from("target/release/sc-action-runner"),
            project: PathBuf::from("."),
            peer_python: PathBuf::from(".venv-bench/bin/python"),
            shim_python: PathBuf::from("python3"),
            products: 1000,
            rate: 20.0,
            latency_ms: 50,
            concurrency: 5,
            batch_size: 10,
            visibility_timeout: 10,
            function_timeout: 10,
            max_receive_count: 5,
            max_concurrency: 10,
            timeout: 900,
            logs: None,
        };
        let mut rest = raw.iter();
        while let Some(flag) = rest.next() {
            let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = |what: &str| format!("{flag}: {what}, got {value:?}");
            match flag.as_str() {
                "--scenario" if SCENARIOS.contains(&value.as_str()) => args.scenarios.push(value.clone()),
                "--scenario" => return Err(format!("unknown scenario {value:?}")),
                "--function" => args.function = PathBuf::from(value),
                "--project" => args.project = PathBuf::from(value),
                "--peer-python" => args.peer_python = PathBuf::from(value),
                "--shim-python" => args.shim_python = PathBuf::from(value),
                "--products" => args.products = value.parse().map_err(|_| number("a count"))?,
                "--rate" => args.rate = value.parse().map_err(|_| number("calls per second"))?,
                "--latency-ms" => args.latency_ms = value.parse().map_err(|_| number("milliseconds"))?,
                "--concurrency" => args.concurrency = value.parse().map_err(|_| number("a count"))?,
                "--batch-size" => args.batch_size = value.parse().map_err(|_| number("1 to 10"))?,
                "--visibility-timeout" => args.visibility_timeout = value.parse().map_err(|_| number("seconds"))?,
                "--function-timeout" => args.function_timeout = value.parse().map_err(|_| number("seconds"))?,
                "--max-receive-count" => args.max_receive_count = value.parse().map_err(|_| number("a count"))?,
                "--max-concurrency" => args.max_concurrency = value.parse().map_err(|_| number("a count"))?,
                "--timeout" => args.timeout = value.parse().map_err(|_| number("seconds"))?,
                "--logs" => args.logs = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if args.scenarios.is_empty() {
            args.scenarios = SCENARIOS.map(str::to_owned).to_vec();
        }
        if args.products == 0 || args.concurrency == 0 || !args.rate.is_finite() || args.rate <= 0.0 {
            return Err("--products, --concurrency and --rate must be positive".into());
        }
        args.project = std::path::absolute(&args.project).map_err(|e| format!("--project: {e}"))?;
        args.function = args.project.join(&args.function);
        if args.peer_python.components().count() > 1 {
            args.peer_python = args.project.join(&args.peer_python);
        }
        Ok(args)
    }

    /// Each environment's share of the account's rate, as the docs tell a user to set it.
    fn per_instance_rate(&self) -> f64 {
        self.rate / self.concurrency as f64
    }

    fn product_ids(&self) -> Vec<String> {
        (1..=self.products).map(|i| format!("pp-bench{i:08}")).collect()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(&raw) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let run = async {
        for scenario in &args.scenarios {
            match run_scenario(&args, scenario).await {
                Ok(figures) => println!("{figures}"),
                Err(e) => {
                    eprintln!("fleet bench: scenario {scenario}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        ExitCode::SUCCESS
    };
    tokio::select! {
        code = run => code,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("fleet bench: interrupted; everything it started is stopped");
            ExitCode::from(130)
        }
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the environments of one scenario run, and with which settings.
fn environment(args: &Args, scenario: &str) -> (Option<Vec<String>>, Vec<(String, String)>) {
    let mut env: Vec<(String, String)> = vec![
        ("MAX_CONCURRENCY".into(), args.max_concurrency.to_string()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    if scenario == "peer" {
        let command = [
            args.peer_python.display().to_string(),
            "-m".into(),
            "awslambdaric".into(),
            "handler.lambda_handler".into(),
        ];
        env = vec![
            // boto3 reads AWS_DEFAULT_REGION; the loop sets AWS_REGION only.
            ("AWS_DEFAULT_REGION".into(), sc_local_loop::REGION.into()),
            (
                "PYTHONPATH".into(),
                args.project.join("bench/baseline").display().to_string(),
            ),
        ];
        return (Some(command.to_vec()), env);
    }
    if !scenario.starts_with("rust-unpaced") {
        env.push((
            "SC_MAX_CALLS_PER_SECOND".into(),
            format!("{}", args.per_instance_rate()),
        ));
    }
    if scenario.ends_with("adaptive") {
        env.push(("AWS_RETRY_MODE".into(), "adaptive".into()));
    }
    (None, env)
}

/// `bench/rt_shim.py` in front of the Runtime API (awslambdaric needs it; both sides use it so
/// that both pay the same hop). Returns the process and its `host:port`.
async fn start_shim(args: &Args, upstream_port: u16) -> Result<(Child, String), String> {
    let mut shim = Command::new(&args.shim_python)
        .arg(args.project.join("bench/rt_shim.py"))
        .args(["--listen", "127.0.0.1:0", "--upstream"])
        .arg(format!("127.0.0.1:{upstream_port}"))
        .args(["--function", FUNCTION_NAME])
        // Behind the local loop's runtime proxy a response's connection must outlive cargo-lambda's
        // answer, or the invoker may lose the body (see rt_shim.py).
        .args(["--linger-response", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start rt_shim.py: {e}"))?;
    let stdout = shim.stdout.take().ok_or("rt_shim.py: no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| "rt_shim.py did not announce its port within 30 s".to_owned())?
        .map_err(|e| format!("rt_shim.py: {e}"))?
        .ok_or("rt_shim.py exited before announcing its port")?;
    let addr = line
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("rt_shim.py said {line:?}"))?
        .to_owned();
    Ok((shim, addr))
}

/// The port in `http://127.0.0.1:PORT/...`.
fn port_of(url: &str) -> Option<u16> {
    url.strip_prefix("http://")?.split(['/', ':']).nth(1)?.parse().ok()
}

/// One result message as read back from the results queue.
#[derive(Debug, Clone)]
struct ResultSeen {
    sent_ms: u64,
    outcome: String,
    product: Option<String>,
}

async fn run_scenario(args: &Args, scenario: &str) -> Result<Value, String> {
    let setup_started = Instant::now();
    eprintln!(
        "fleet bench: {scenario}: starting moto, the emulator ({} products), cargo lambda watch",
        args.products
    );
    let mut emulator = EmulatorConfig {
        seed: Seed::default_seed().with_generated_fleet(args.products, [FLEET_TAG]),
        latency_ms: args.latency_ms,
        ..EmulatorConfig::default()
    };
    emulator.rate_limits.insert(EXECUTE.into(), args.rate);
    let (command, env) = environment(args, scenario);
    let mut options = LoopOptions::new(&args.function, &args.project);
    options.function_name = FUNCTION_NAME.into();
    options.start_function = false;
    options.emulator = emulator;
    options.function_timeout = Some(Duration::from_secs(args.function_timeout));
    options.function_command = command;
    options.function_env = env.clone();
    options.requests_queue =
        Some(RequestsQueue::new("sc-action-requests", args.max_receive_count).url_in("REQUESTS_QUEUE_URL"));
    let local = LocalLoop::start(options).await.map_err(|e| e.to_string())?;
    let queues = local.requests_queue().ok_or("no requests queue")?.clone();
    let runtime_port = port_of(local.runtime_api()).ok_or("no port in the Runtime API URL")?;
    let (_shim, shim_addr) = start_shim(args, runtime_port).await?;

    let runtime_env = [("AWS_LAMBDA_RUNTIME_API".to_owned(), shim_addr)];
    let mut environments: Vec<FunctionProcess> = (0..args.concurrency)
        .map(|i| local.spawn_function(&format!("{scenario}-{i}"), &runtime_env))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    // Let every environment finish its init and wait on /next: cold starts are not the point here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (i, environment) in environments.iter_mut().enumerate() {
        if !environment.running() {
            return Err(format!("environment {i} exited at init:\n{}", environment.log()));
        }
    }

    let esm = EventSourceMapping::new(
        &local,
        EsmOptions {
            batch_size: args.batch_size,
            visibility_timeout: Some(Duration::from_secs(args.visibility_timeout)),
            concurrency: args.concurrency,
            function_timeout: Duration::from_secs(args.function_timeout),
            wait_time: Duration::from_secs(1),
            ..EsmOptions::for_queue(&queues)
        },
    )
    .map_err(|e| e.to_string())?;

    let sent = AtomicBool::new(false);
    let stop_reading = AtomicBool::new(false);
    let results: Mutex<Vec<ResultSeen>> = Mutex::new(Vec::new());
    let timed_out = AtomicBool::new(false);
    let first_request_ms = epoch_ms();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);

    let send = async {
        let outcome = if scenario == "peer" {
            send_singles(&local, &queues.url, &args.product_ids()).await
        } else {
            send_fleet_request(&local, &queues.url, args.products).await
        };
        sent.store(true, Ordering::SeqCst);
        outcome
    };
    let until_settled = async {
        let mut quiet = 0;
        let mut next_report = started + Duration::from_secs(10);
        while quiet < 3 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let depth = queue_depth(local.sqs(), &queues.url).await;
            let settled =
                sent.load(Ordering::SeqCst) && esm.in_flight() == 0 && depth.as_ref().is_ok_and(|d| d.is_empty());
            quiet = if settled { quiet + 1 } else { 0 };
            if Instant::now() >= next_report {
                let done = results.lock().map(|r| r.len()).unwrap_or_default();
                eprintln!(
                    "fleet bench: {scenario}: {:.0} s, {done} results, Execute calls {} ({} throttled)",
                    started.elapsed().as_secs_f64(),
                    local.emulator().calls_for(EXECUTE),
                    local.emulator().counters().faults_fired.rate_limited
                );
                next_report += Duration::from_secs(10);
            }
            if Instant::now() > deadline {
                timed_out.store(true, Ordering::SeqCst);
                break;
            }
        }
        stop_reading.store(true, Ordering::SeqCst);
    };
    let (sent_outcome, (), ()) = tokio::join!(
        send,
        esm.run_until(until_settled),
        read_results(&local, &stop_reading, &results)
    );
    sent_outcome?;
    let elapsed = started.elapsed();
    if let Some(dir) = &args.logs {
        for (i, environment) in environments.iter().enumerate() {
            let path = dir.join(format!("{scenario}-{i}.log"));
            if let Err(e) = std::fs::write(&path, environment.log()) {
                eprintln!("fleet bench: cannot write {}: {e}", path.display());
            }
        }
    }
    drop(environments);

    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let dlq = queue_depth(local.sqs(), &queues.dlq_url)
        .await
        .map_err(|e| e.to_string())?;
    let figures = figures(
        args,
        scenario,
        &env,
        &local,
        &esm,
        &results,
        first_request_ms,
        dlq.visible + dlq.in_flight,
    );
    let mut figures = figures;
    figures["timedOut"] = json!(timed_out.load(Ordering::SeqCst));
    figures["settledAfterSeconds"] = json!(elapsed.as_secs_f64());
    figures["scenarioWallSeconds"] = json!(setup_started.elapsed().as_secs_f64());
    eprintln!(
        "fleet bench: {scenario}: makespan {} s, {} Execute calls, {} throttled",
        figures["makespanSeconds"], figures["executeCalls"], figures["throttled"]
    );
    Ok(figures)
}

/// The Rust side's one request: a fleet run over every generated product.
async fn send_fleet_request(local: &LocalLoop, url: &str, products: usize) -> Result<(), String> {
    let body = json!({
        "select": {"tags": {FLEET_TAG.0: FLEET_TAG.1}, "maxTargets": products},
        "serviceActionId": PATCH_OS_ACTION_ID,
    });
    local
        .sqs()
        .send_message()
        .queue_url(url)
        .message_body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("SendMessage: {}", DisplayErrorContext(e)))?;
    Ok(())
}

/// The peer's requests: one per product, ten to a SendMessageBatch, all sent at once.
async fn send_singles(local: &LocalLoop, url: &str, products: &[String]) -> Result<(), String> {
    let batches = products.chunks(10).map(|chunk| {
        let entries: Vec<SendMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, product)| {
                let body = json!({"provisionedProductId": product, "serviceActionId": PATCH_OS_ACTION_ID});
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body.to_string())
                    .build()
                    .ok()
            })
            .collect();
        async move {
            let out = local
                .sqs()
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("SendMessageBatch: {}", DisplayErrorContext(e)))?;
            if out.failed().is_empty() {
                Ok(())
            } else {
                Err(format!("SendMessageBatch: {} entries failed", out.failed().len()))
            }
        }
    });
    futures::future::try_join_all(batches).await.map(|_| ())
}

/// Reads (and deletes) results as they arrive, keeping moto's results queue short: moto slows down
/// as a queue grows, which would tax whichever side published later.
async fn read_results(local: &LocalLoop, stop: &AtomicBool, results: &Mutex<Vec<ResultSeen>>) {
    let url = local.results_queue_url();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let received = local
            .sqs()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(if stopping { 0 } else { 1 })
            .visibility_timeout(60)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("fleet bench: ReceiveMessage (results): {}", DisplayErrorContext(e));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if messages.is_empty() {
            if stopping {
                return;
            }
            continue;
        }
        let mut entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let body: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null);
            let sent_ms = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(epoch_ms);
            if let Ok(mut seen) = results.lock() {
                seen.push(ResultSeen {
                    sent_ms,
                    outcome: body["outcome"].as_str().unwrap_or("?").to_owned(),
                    product: body["provisionedProductId"].as_str().map(str::to_owned),
                });
            }
            if let Some(entry) = m.receipt_handle().and_then(|handle| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            }) {
                entries.push(entry);
            }
        }
        if let Err(e) = local
            .sqs()
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            eprintln!("fleet bench: DeleteMessageBatch (results): {}", DisplayErrorContext(e));
        }
    }
}

/// The most calls among `times` (sorted epoch ms) that fall in any window of `window_ms`.
fn busiest_window(times: &[u64], window_ms: u64) -> usize {
    let mut most = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while times[start] + window_ms <= *t {
            start += 1;
        }
        most = most.max(end + 1 - start);
    }
    most
}

#[allow(clippy::too_many_arguments)]
fn figures(
    args: &Args,
    scenario: &str,
    env: &[(String, String)],
    local: &LocalLoop,
    esm: &EventSourceMapping,
    results: &[ResultSeen],
    first_request_ms: u64,
    dlq: u64,
) -> Value {
    let emulator = local.emulator();
    let counters = emulator.counters();
    let execute_calls = counters.calls.get(EXECUTE).copied().unwrap_or(0);
    let throttled = counters.faults_fired.rate_limited;
    let mut times = emulator.call_times(EXECUTE);
    times.sort_unstable();
    let relative = |ms: Option<&u64>| ms.map(|t| (*t as f64 - first_request_ms as f64) / 1000.0);

    // Per product: executions the emulator started (replays of a token do not count), results.
    let mut not_once: BTreeMap<String, u64> = BTreeMap::new();
    for product in args.product_ids() {
        let n = counters.executions_by_product.get(&product).copied().unwrap_or(0);
        if n != 1 {
            not_once.insert(product, n);
        }
    }
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut executed_results: BTreeMap<&str, u64> = BTreeMap::new();
    for r in results {
        *outcomes.entry(r.outcome.clone()).or_default() += 1;
        if r.outcome == "EXECUTED" {
            if let Some(p) = &r.product {
                *executed_results.entry(p.as_str()).or_default() += 1;
            }
        }
    }
    // When the products with more than one EXECUTED result got them (seconds from the first request).
    let mut repeated: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in results.iter().filter(|r| r.outcome == "EXECUTED") {
        if let Some(p) = r
            .product
            .as_deref()
            .filter(|p| executed_results.get(p).is_some_and(|n| *n > 1))
        {
            repeated
                .entry(p)
                .or_default()
                .push((r.sent_ms as f64 - first_request_ms as f64) / 1000.0);
        }
    }
    let last_result_ms = results.iter().map(|r| r.sent_ms).max();
    let makespan = relative(last_result_ms.as_ref());
    let ideal = args.products as f64 / args.rate;
    let esm_counters = esm.counters();
    json!({
        "scenario": scenario,
        "side": if scenario == "peer" { "peer" } else { "rust" },
        "env": env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "products": args.products,
        "rate": args.rate,
        "latencyMs": args.latency_ms,
        "concurrency": args.concurrency,
        "batchSize": args.batch_size,
        "visibilityTimeoutSeconds": args.visibility_timeout,
        "functionTimeoutSeconds": args.function_timeout,
        "maxReceiveCount": args.max_receive_count,
        "idealSeconds": ideal,
        "makespanSeconds": makespan,
        "makespanOverIdeal": makespan.map(|m| m / ideal),
        "firstExecuteSeconds": relative(times.first()),
        "lastExecuteSeconds": relative(times.last()),
        "lastResultSeconds": makespan,
        "executeCalls": execute_calls,
        "throttled": throttled,
        "throttledShare": if execute_calls > 0 { throttled as f64 / execute_calls as f64 } else { 0.0 },
        "executeCallsAdmitted": execute_calls - throttled,
        "busiestSecondExecuteCalls": busiest_window(&times, 1000),
        "callsByOperation": counters.calls,
        "productsExecutedExactlyOnce": args.products - not_once.len(),
        "productsNotExecutedExactlyOnce": not_once,
        "productsWithoutExecutedResult": args.product_ids().iter().filter(|p| !executed_results.contains_key(p.as_str())).count(),
        "duplicateExecutedResults": executed_results.values().map(|n| n.saturating_sub(1)).sum::<u64>(),
        "results": outcomes,
        "repeatedExecutedResultsAt": repeated,
        "dlqMessages": dlq,
        "esm": {
            "receives": esm_counters.receives,
            "deliveries": esm_counters.deliveries,
            "invocations": esm_counters.invocations,
            "handedBack": esm_counters.handed_back,
            "timedOut": esm_counters.timed_out,
            "failedByType": esm_counters.failed_by_type,
            "invalidResponses": esm_counters.invalid_responses,
            "deleted": esm_counters.deleted,
            "sqsErrors": esm_counters.sqs_errors,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_window_counts_calls_less_than_a_window_apart() {
        assert_eq!(busiest_window(&[], 1000), 0);
        assert_eq!(busiest_window(&[0, 999, 1000, 1500, 1999], 1000), 3);
        assert_eq!(busiest_window(&[0, 0, 0, 999], 1000), 4);
        assert_eq!(busiest_window(&[0, 1000, 2000], 1000), 1);
    }

    #[test]
    fn the_runtime_port_comes_from_the_url() {
        assert_eq!(port_of("http://127.0.0.1:9001/.rt/sc-action-runner"), Some(9001));
        assert_eq!(port_of("127.0.0.1:9001"), None);
    }
}
