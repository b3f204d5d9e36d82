//! The local loop: the built `sc-action-runner` binary, driven through the Lambda Runtime API of
//! `cargo lambda watch --only-lambda-apis`, against moto's SQS server and the Service Catalog
//! emulator, all on free loopback ports. Used by `make demo` (the `sc-local` binary) and by the
//! integration tests of the root package.
//!
//! Every process started here is killed when the [`LocalLoop`] is dropped (also on panic), so a
//! failing test or an interrupted demo leaves nothing behind.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use sc_emulator::{EmulatorConfig, EmulatorHandle};
use serde_json::Value;
use tokio::process::{Child, Command};

pub use sc_emulator;

pub mod esm;
pub mod eventbridge;
pub mod proxy;
pub mod queues;
pub mod runtime_proxy;

pub use esm::{EsmCounters, EsmOptions, EventSourceMapping};
pub use proxy::OutageProxy;
pub use queues::{queue_depth, QueueDepth, QueuePair, RequestsQueue};
pub use runtime_proxy::{InvocationHeaders, RuntimeApiProxy};

/// The account id moto uses in queue URLs.
pub const MOTO_ACCOUNT: &str = "123456789012";
/// The region everything runs in.
pub const REGION: &str = "us-east-1";

/// Why the loop could not start or do what was asked.
#[derive(Debug)]
pub struct LoopError(pub String);

impl std::fmt::Display for LoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoopError {}

fn err(message: impl Into<String>) -> LoopError {
    LoopError(message.into())
}

/// The external programs the loop needs, found on PATH (`make venv` installs both into `.venv`).
#[derive(Debug, Clone)]
pub struct Tools {
    pub moto_server: PathBuf,
    pub cargo_lambda: PathBuf,
}

impl Tools {
    /// Finds `moto_server` and `cargo-lambda` on PATH, or says which is missing and how to get it.
    pub fn find() -> Result<Tools, LoopError> {
        Ok(Tools {
            moto_server: Self::find_one("moto_server", "moto[server]")?,
            cargo_lambda: Self::find_one("cargo-lambda", "cargo-lambda")?,
        })
    }

    /// One program on PATH, or how to get it (`package` is what `make venv` installs).
    pub fn find_one(name: &str, package: &str) -> Result<PathBuf, LoopError> {
        which(name).ok_or_else(|| {
            err(format!(
                "`{name}` is not on PATH: run `make venv` (installs {package} into .venv) and put .venv/bin first on PATH"
            ))
        })
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// What kind of results queue the function is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsQueue {
    Standard,
    Fifo,
    /// A URL for a queue that was never created: every publish fails.
    Missing,
}

/// How to start the loop.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// The built function (`target/debug/sc-action-runner`, or a `bootstrap`).
    pub function_binary: PathBuf,
    /// Where `cargo lambda watch` runs (the project root: it reads Cargo metadata there).
    pub project_dir: PathBuf,
    /// The function name used on the Runtime API.
    pub function_name: String,
    /// Extra environment for the function (allow-lists, MAX_CONCURRENCY, …); wins over defaults.
    pub function_env: Vec<(String, String)>,
    pub emulator: EmulatorConfig,
    pub results_queue: ResultsQueue,
    /// The function's Runtime API path is scoped to its name; a command to run instead of the
    /// binary (e.g. a Python peer under awslambdaric) can be given here.
    pub function_command: Option<Vec<String>>,
    /// Whether [`LocalLoop::start`] starts a function process. `false`: everything around the
    /// function runs, and invocations wait for a runtime: one from [`LocalLoop::spawn_function`], or
    /// a test acting as the function on [`LocalLoop::runtime_api`].
    pub start_function: bool,
    /// The function's timeout. `Some`: function processes reach cargo-lambda through a
    /// [`RuntimeApiProxy`] that gives each invocation a real deadline (`Lambda-Runtime-Deadline-Ms`
    /// = the epoch milliseconds at which this much time has passed since the invocation was handed
    /// over), as Lambda does. `None`: no proxy, and every invocation carries cargo-lambda's fixed
    /// `600000` (see [`runtime_proxy::CARGO_LAMBDA_DEADLINE_MS`]).
    pub function_timeout: Option<Duration>,
    /// The ARN every invocation carries in `Lambda-Runtime-Invoked-Function-Arn` (starts the proxy
    /// too). `None` keeps cargo-lambda's placeholder `function-arn`
    /// ([`runtime_proxy::CARGO_LAMBDA_INVOKED_FUNCTION_ARN`]); [`LoopOptions::function_arn`] gives
    /// the ARN the function would have on Lambda.
    pub invoked_function_arn: Option<String>,
    /// A requests queue with its dead-letter queue, created before the function starts so that its
    /// URL can be in the function's environment ([`RequestsQueue::url_env`]).
    pub requests_queue: Option<RequestsQueue>,
}

impl LoopOptions {
    pub fn new(function_binary: impl Into<PathBuf>, project_dir: impl Into<PathBuf>) -> Self {
        LoopOptions {
            function_binary: function_binary.into(),
            project_dir: project_dir.into(),
            function_name: "sc-action-runner".into(),
            function_env: Vec::new(),
            emulator: EmulatorConfig::default(),
            results_queue: ResultsQueue::Standard,
            function_command: None,
            start_function: true,
            function_timeout: None,
            invoked_function_arn: None,
            requests_queue: None,
        }
    }

    /// Adds one variable to the function's environment (it wins over the loop's defaults and over
    /// an earlier value of the same name).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.function_env.push((name.into(), value.into()));
        self
    }

    /// The unqualified ARN the function would have on Lambda in the loop's account and region.
    pub fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{REGION}:{MOTO_ACCOUNT}:function:{}", self.function_name)
    }
}

/// An invocation that failed: Lambda's `errorType` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeError {
    pub status: u16,
    pub error_type: String,
    pub error_message: String,
}

/// How [`LocalLoop::invoke_within`] says that no answer came in time.
const NO_RESPONSE: &str = "no response within";

impl InvokeError {
    /// Whether the invocation got no answer within its timeout (rather than failing).
    pub fn is_timeout(&self) -> bool {
        self.status == 0 && self.error_message.starts_with(NO_RESPONSE)
    }
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.error_type, self.status, self.error_message)
    }
}

/// A running loop. Dropping it kills every process it started.
pub struct LocalLoop {
    emulator: EmulatorHandle,
    _moto: Child,
    _watch: Child,
    /// Between the function processes and cargo-lambda, when the options ask for it.
    _runtime_proxy: Option<RuntimeApiProxy>,
    function: Option<Child>,
    /// How to start another function process: program, arguments and environment.
    function_launch: FunctionLaunch,
    sqs: aws_sdk_sqs::Client,
    moto_url: String,
    results_queue_url: String,
    requests_queue: Option<QueuePair>,
    runtime_api: String,
    function_timeout: Option<Duration>,
    tools: Tools,
    work_dir: PathBuf,
    invoker: Invoker,
}

impl Drop for LocalLoop {
    fn drop(&mut self) {
        // Children are kill_on_drop; the work dir holds only logs.
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

/// A free loopback port (the OS picks it; the tiny window before the server binds is retried).
pub fn free_port() -> Result<u16, LoopError> {
    let listener =
        TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(|e| err(format!("no free port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| err(e.to_string()))
}

async fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) -> Result<(), LoopError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(err(format!(
                "{what} exited ({status}) before listening on {port}:\n{}",
                tail(log)
            )));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(err(format!(
                "{what} did not listen on port {port} within 60 s:\n{}",
                tail(log)
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn log_file(path: &Path) -> Result<Stdio, LoopError> {
    std::fs::File::create(path)
        .map(Stdio::from)
        .map_err(|e| err(format!("cannot create {}: {e}", path.display())))
}

pub(crate) fn work_dir() -> Result<PathBuf, LoopError> {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("sc-local-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Starts `moto_server` on a free loopback port, its output in `work_dir`'s `moto.log` and
/// `moto.err.log`; a port taken between the probe and moto's bind is retried with another.
pub(crate) async fn start_moto(program: &Path, work_dir: &Path) -> Result<(Child, u16), LoopError> {
    let err_log = work_dir.join("moto.err.log");
    start_on_free_port("moto_server", &err_log, |port| {
        Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file(&work_dir.join("moto.log"))?)
            .stderr(log_file(&err_log)?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| err(format!("cannot start moto_server: {e}")))
    })
    .await
}

/// Starts a server (`spawn` given the port) on a free loopback port and waits until it listens
/// (`log` is shown if it does not); a port taken between the probe and the server's bind is
/// retried with another, three times at most.
async fn start_on_free_port(
    what: &str,
    log: &Path,
    mut spawn: impl FnMut(u16) -> Result<Child, LoopError>,
) -> Result<(Child, u16), LoopError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let port = free_port()?;
        let mut child = spawn(port)?;
        match wait_for_port(port, &mut child, what, log).await {
            Ok(()) => return Ok((child, port)),
            Err(e) if attempt >= 3 => return Err(e),
            Err(_) => continue,
        }
    }
}

/// SDK configuration for a local endpoint: the loop's region and test credentials.
pub(crate) async fn sdk_config(endpoint_url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "local-loop",
        ))
        .endpoint_url(endpoint_url)
        .load()
        .await
}

impl LocalLoop {
    /// Starts moto, the emulator, cargo-lambda's Runtime API and the function; creates the
    /// results queue. Everything listens on 127.0.0.1 only.
    pub async fn start(options: LoopOptions) -> Result<LocalLoop, LoopError> {
        let tools = Tools::find()?;
        let work_dir = work_dir()?;

        let (moto, moto_port) = start_moto(&tools.moto_server, &work_dir).await?;
        let moto_url = format!("http://127.0.0.1:{moto_port}");

        let emulator = sc_emulator::start_local(options.emulator.clone())
            .await
            .map_err(|e| err(format!("cannot start the Service Catalog emulator: {e}")))?;

        let sdk = sdk_config(&moto_url).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let results_queue_url = match options.results_queue {
            ResultsQueue::Standard => create_queue(&sqs, "sc-action-results", false).await?,
            ResultsQueue::Fifo => create_queue(&sqs, "sc-action-results.fifo", true).await?,
            ResultsQueue::Missing => format!("{moto_url}/{MOTO_ACCOUNT}/sc-action-results-does-not-exist"),
        };
        let requests_queue = match &options.requests_queue {
            Some(q) => Some(QueuePair::create(&sqs, &q.name, q.max_receive_count).await?),
            None => None,
        };

        // cargo-lambda's Runtime API, without starting a function of its own (and without
        // reloading when files in the workspace change).
        let log = work_dir.join("watch.log");
        let (watch, invoke_port) = start_on_free_port("cargo lambda watch", &log, |port| {
            Command::new(&tools.cargo_lambda)
                .args([
                    "lambda",
                    "watch",
                    "--only-lambda-apis",
                    "--ignore-changes",
                    "-A",
                    "127.0.0.1",
                    "-P",
                    &port.to_string(),
                ])
                .current_dir(&options.project_dir)
                .stdin(Stdio::null())
                .stdout(log_file(&log)?)
                .stderr(log_file(&work_dir.join("watch.err.log"))?)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| err(format!("cannot start cargo lambda watch: {e}")))
        })
        .await?;

        // The function's way to the Runtime API: straight to cargo-lambda, or through the proxy
        // that gives each invocation its real deadline.
        let runtime_proxy = if options.function_timeout.is_some() || options.invoked_function_arn.is_some() {
            let headers = InvocationHeaders {
                function_timeout: options.function_timeout,
                invoked_function_arn: options.invoked_function_arn.clone(),
            };
            Some(RuntimeApiProxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, invoke_port)), headers).await?)
        } else {
            None
        };
        let runtime_port = runtime_proxy.as_ref().map_or(invoke_port, |p| p.addr().port());
        let runtime_api = format!("http://127.0.0.1:{runtime_port}/.rt/{}", options.function_name);

        let program = match &options.function_command {
            Some(argv) if !argv.is_empty() => argv.clone(),
            _ => vec![options.function_binary.display().to_string()],
        };
        let mut env: Vec<(String, String)> = [
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL_SQS", moto_url.clone()),
            ("AWS_ENDPOINT_URL_SERVICE_CATALOG", emulator.url()),
            // The emulator answers the Resource Groups Tagging API (GetResources) on the same port.
            ("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", emulator.url()),
            ("RESULTS_QUEUE_URL", results_queue_url.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", options.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let (Some(options), Some(queue)) = (&options.requests_queue, &requests_queue) {
            env.extend(options.url_env.iter().map(|name| (name.clone(), queue.url.clone())));
        }
        env.extend(options.function_env.iter().cloned());
        let function_launch = FunctionLaunch {
            program,
            env,
            work_dir: work_dir.clone(),
        };
        let function = if options.start_function {
            Some(function_launch.spawn("function", &[]).map_err(|e| {
                err(format!(
                    "cannot start the function {}: {e} (build it first)",
                    options.function_binary.display()
                ))
            })?)
        } else {
            None
        };

        Ok(LocalLoop {
            emulator,
            _moto: moto,
            _watch: watch,
            _runtime_proxy: runtime_proxy,
            function,
            function_launch,
            sqs,
            moto_url,
            results_queue_url,
            requests_queue,
            runtime_api,
            function_timeout: options.function_timeout,
            tools,
            work_dir,
            invoker: Invoker {
                http: HttpClient::builder(TokioExecutor::new()).build_http(),
                invoke_port,
                function_name: options.function_name,
            },
        })
    }

    pub fn emulator(&self) -> &EmulatorHandle {
        &self.emulator
    }

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    pub fn moto_url(&self) -> &str {
        &self.moto_url
    }

    pub fn results_queue_url(&self) -> &str {
        &self.results_queue_url
    }

    /// The requests queue and its DLQ, when [`LoopOptions::requests_queue`] asked for one.
    pub fn requests_queue(&self) -> Option<&QueuePair> {
        self.requests_queue.as_ref()
    }

    /// The port of cargo-lambda's invoke endpoint (`cargo lambda invoke -P PORT`).
    pub fn invoke_port(&self) -> u16 {
        self.invoker.invoke_port
    }

    pub fn function_name(&self) -> &str {
        &self.invoker.function_name
    }

    /// What function processes get as `AWS_LAMBDA_RUNTIME_API`: `http://127.0.0.1:PORT/.rt/<name>`,
    /// the proxy's port when there is one ([`LoopOptions::function_timeout`]), else cargo-lambda's.
    /// A test acting as the function sends `GET {runtime_api}/2018-06-01/runtime/invocation/next`.
    pub fn runtime_api(&self) -> &str {
        &self.runtime_api
    }

    /// The function timeout from [`LoopOptions::function_timeout`].
    pub fn function_timeout(&self) -> Option<Duration> {
        self.function_timeout
    }

    /// A handle that invokes the function, for code that runs beside the loop (an event source
    /// mapping) without borrowing it.
    pub fn invoker(&self) -> Invoker {
        self.invoker.clone()
    }

    /// Invokes the function through the Runtime API (what `cargo lambda invoke` does).
    pub async fn invoke(&self, event: &Value) -> Result<Value, InvokeError> {
        self.invoker.invoke_within(event, Duration::from_secs(180)).await
    }

    /// Invokes the function and gives up after `timeout`, as Lambda does at a function's timeout
    /// (the error then has status 0 and type `LocalLoop`). The function itself is not stopped.
    pub async fn invoke_within(&self, event: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        self.invoker.invoke_within(event, timeout).await
    }

    /// Invokes the function with `cargo lambda invoke --data-file`, as a user would.
    pub async fn invoke_cli(&self, data_file: &Path) -> std::io::Result<std::process::Output> {
        Command::new(&self.tools.cargo_lambda)
            .args([
                "lambda",
                "invoke",
                "-A",
                "127.0.0.1",
                "-P",
                &self.invoker.invoke_port.to_string(),
                &self.invoker.function_name,
            ])
            .arg("--data-file")
            .arg(data_file)
            .stdin(Stdio::null())
            .output()
            .await
    }

    /// Receives and deletes every message now on the results queue, in the order received.
    pub async fn take_results(&self) -> Result<Vec<Value>, LoopError> {
        let bodies = queues::take_bodies(&self.sqs, &self.results_queue_url).await?;
        Ok(bodies
            .into_iter()
            .map(|body| serde_json::from_str(&body).unwrap_or(Value::String(body)))
            .collect())
    }

    /// What the function wrote to stdout/stderr so far (its logs).
    pub fn function_log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.work_dir.join(name)).unwrap_or_default();
        read("function.log") + &read("function.err.log")
    }

    /// Whether the function process that [`LocalLoop::start`] began is still running (`false` when
    /// [`LoopOptions::start_function`] was off).
    pub fn function_running(&mut self) -> bool {
        self.function
            .as_mut()
            .is_some_and(|function| matches!(function.try_wait(), Ok(None)))
    }

    /// Kills the function process that [`LocalLoop::start`] began (SIGKILL, like Lambda ending an
    /// execution environment at its timeout) and waits for it to exit. Processes from
    /// [`LocalLoop::spawn_function`] are not touched.
    pub async fn stop_function(&mut self) -> Result<(), LoopError> {
        match self.function.as_mut() {
            Some(function) => function
                .kill()
                .await
                .map_err(|e| err(format!("cannot kill the function: {e}"))),
            None => Ok(()),
        }
    }

    /// Starts one more function process on the same Runtime API: another execution environment of
    /// the same function, so that invocations run concurrently, as on Lambda. `extra_env` wins over
    /// the loop's environment (e.g. `DEADLINE_MARGIN_MS` for one environment only). Its stdout and
    /// stderr go to `<label>.log` in the loop's work dir; `label` must be unique.
    pub fn spawn_function(&self, label: &str, extra_env: &[(String, String)]) -> Result<FunctionProcess, LoopError> {
        let child = self
            .function_launch
            .spawn(label, extra_env)
            .map_err(|e| err(format!("cannot start function process {label}: {e}")))?;
        Ok(FunctionProcess {
            child,
            log: self.work_dir.join(format!("{label}.log")),
        })
    }

    /// Creates a queue in moto whose RedrivePolicy moves a message to its own dead-letter queue
    /// (`<name>-dlq`) once it was received `max_receive_count` times without being deleted.
    pub async fn create_queue_with_dlq(&self, name: &str, max_receive_count: u32) -> Result<QueuePair, LoopError> {
        QueuePair::create(&self.sqs, name, max_receive_count).await
    }
}

/// Invokes the function through cargo-lambda's invoke endpoint; cheap to clone.
#[derive(Clone)]
pub struct Invoker {
    http: HttpClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    invoke_port: u16,
    function_name: String,
}

impl std::fmt::Debug for Invoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoker")
            .field("invoke_port", &self.invoke_port)
            .field("function_name", &self.function_name)
            .finish()
    }
}

impl Invoker {
    /// See [`LocalLoop::invoke_within`].
    pub async fn invoke_within(&self, event: &Value, timeout: Duration) -> Result<Value, InvokeError> {
        let uri = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{}/invocations",
            self.invoke_port, self.function_name
        );
        let fail = |status: u16, error_type: &str, message: String| InvokeError {
            status,
            error_type: error_type.into(),
            error_message: message,
        };
        let request = hyper::Request::post(uri)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event.to_string())))
            .map_err(|e| fail(0, "LocalLoop", e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| fail(0, "LocalLoop", e.to_string()))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(status, "LocalLoop", e.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| fail(0, "LocalLoop", format!("{NO_RESPONSE} {} ms", timeout.as_millis())))??;
        let value: Value =
            serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
        if status == 200 {
            Ok(value)
        } else {
            let text = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            Err(InvokeError {
                status,
                error_type: text("errorType"),
                error_message: text("errorMessage"),
            })
        }
    }
}

/// Program, arguments and environment of a function process; every process of the loop starts alike.
#[derive(Debug, Clone)]
struct FunctionLaunch {
    program: Vec<String>,
    env: Vec<(String, String)>,
    work_dir: PathBuf,
}

impl FunctionLaunch {
    fn spawn(&self, label: &str, extra_env: &[(String, String)]) -> std::io::Result<Child> {
        let stdout = std::fs::File::create(self.work_dir.join(format!("{label}.log")))?;
        let stderr = std::fs::File::create(self.work_dir.join(format!("{label}.err.log")))?;
        let mut command = Command::new(&self.program[0]);
        command.args(&self.program[1..]);
        for var in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_DEFAULT_REGION",
        ] {
            command.env_remove(var);
        }
        command
            .envs(self.env.iter().chain(extra_env).map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
    }
}

/// A function process started with [`LocalLoop::spawn_function`]; killed when dropped.
pub struct FunctionProcess {
    child: Child,
    log: PathBuf,
}

impl FunctionProcess {
    /// Kills the process (SIGKILL: an invocation in progress ends without an answer, as when Lambda
    /// stops an execution environment at the function's timeout) and waits for it to exit.
    pub async fn kill(&mut self) -> Result<(), LoopError> {
        self.child
            .kill()
            .await
            .map_err(|e| err(format!("cannot kill a function process: {e}")))
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the process wrote to stdout so far (its logs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub(crate) async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str, fifo: bool) -> Result<String, LoopError> {
    let mut request = sqs.create_queue().queue_name(name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let output = request.send().await.map_err(|e| {
        err(format!(
            "CreateQueue {name}: {}",
            aws_sdk_sqs::error::DisplayErrorContext(e)
        ))
    })?;
    output
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| err(format!("CreateQueue {name}: no QueueUrl")))
}
