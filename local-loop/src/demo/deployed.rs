//! The loop as `template.yaml` deploys the function: a requests queue whose URL the function has
//! as both `REQUESTS_QUEUE_URL` (fleet children) and `TRACKING_QUEUE_URL` (tracking messages), an
//! SQS event source mapping that brings everything sent there back to the function, two execution
//! environments, a function timeout, and the function's own ARN in every invocation (so the
//! account and region check of `resourceArn` requests is real). Sections 1 to 3 run in it while
//! the mapping polls.

use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use sc_local_loop::{
    queue_depth, EsmOptions, EventSourceMapping, LocalLoop, LoopOptions, QueuePair, RequestsQueue, REGION,
};
use serde_json::Value;

use super::inbox::ResultsInbox;
use super::report::Report;
use super::show::heading;
use super::{events, fleet, tracking, Paths};

/// The first tracking message waits this long (the n-th twice as long as the one before).
const TRACK_FIRST_DELAY_SECONDS: &str = "1";
/// How long the emulator's records take from CREATED to their final status.
const PROGRESS_MS: u64 = 2500;
/// The function's timeout, and the mapping's patience with an invocation.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(30);

/// What a section works with.
pub(crate) struct Deployed<'a> {
    pub(crate) local: &'a LocalLoop,
    pub(crate) esm: &'a EventSourceMapping,
    pub(crate) requests: &'a QueuePair,
    pub(crate) inbox: ResultsInbox,
    pub(crate) report: &'a mut Report,
    pub(crate) paths: &'a Paths,
}

impl Deployed<'_> {
    /// Sends a request to the requests queue, as a user or a schedule would; returns its message id
    /// (the `source.id` of its results).
    pub(crate) async fn send_request(&self, body: &Value) -> Result<String, String> {
        let sent = self
            .local
            .sqs()
            .send_message()
            .queue_url(&self.requests.url)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("SendMessage (requests queue): {}", DisplayErrorContext(e)))?;
        sent.message_id()
            .map(str::to_owned)
            .ok_or_else(|| "SendMessage (requests queue): no MessageId".to_owned())
    }

    /// Invokes the function directly with `event` (as `aws lambda invoke` would) and returns its answer.
    pub(crate) async fn invoke(&mut self, event: &Value) -> Result<Value, String> {
        self.report.invoked();
        self.local
            .invoke(event)
            .await
            .map_err(|e| format!("invocation failed: {e}"))
    }

    /// Waits until the requests queue holds nothing (visible, in flight or delayed) and the mapping
    /// has no invocation in flight, twice in a row half a second apart; says whether it did in time.
    pub(crate) async fn settle(&self, timeout: Duration) -> Result<bool, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet = 0;
        while quiet < 2 {
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let depth = queue_depth(self.local.sqs(), &self.requests.url)
                .await
                .map_err(|e| e.to_string())?;
            quiet = if depth.is_empty() && self.esm.in_flight() == 0 {
                quiet + 1
            } else {
                0
            };
        }
        Ok(true)
    }

    /// Executions Service Catalog started so far.
    pub(crate) fn executions(&self) -> u64 {
        self.local.emulator().counters().executions.values().sum()
    }
}

fn options(paths: &Paths) -> LoopOptions {
    let mut options =
        LoopOptions::new(&paths.function, &paths.project).env("TRACK_FIRST_DELAY_SECONDS", TRACK_FIRST_DELAY_SECONDS);
    options.requests_queue = Some(
        RequestsQueue::new("sc-action-requests", 5)
            .url_in("REQUESTS_QUEUE_URL")
            .url_in("TRACKING_QUEUE_URL"),
    );
    options.emulator.progress_ms = PROGRESS_MS;
    options.function_timeout = Some(FUNCTION_TIMEOUT);
    options.invoked_function_arn = Some(options.function_arn());
    options
}

/// Starts the loop as deployed, runs sections 1 to 3 while the event source mapping polls the
/// requests queue, and stops everything. A section that stops early is reported; the next runs.
pub(crate) async fn run(paths: &Paths, report: &mut Report) -> Result<(), String> {
    let options = options(paths);
    let function_arn = options.function_arn();
    heading(
        "The function as deployed: requests queue, event source mapping, completion tracking",
        "A second loop, wired as template.yaml wires the function: a requests queue (with its DLQ) whose URL the \
         function has as REQUESTS_QUEUE_URL and TRACKING_QUEUE_URL, an SQS event source mapping that invokes the \
         function with what arrives there (batches of up to 10, ReportBatchItemFailures), two execution \
         environments, and the function's own ARN in every invocation.",
    );
    let local = LocalLoop::start(options).await.map_err(|e| e.to_string())?;
    let _second_environment = local.spawn_function("function-2", &[]).map_err(|e| e.to_string())?;
    let requests = local
        .requests_queue()
        .cloned()
        .ok_or("the loop has no requests queue")?;
    let mut esm_options = EsmOptions::for_queue(&requests);
    esm_options.concurrency = 2;
    esm_options.function_timeout = FUNCTION_TIMEOUT;
    let esm = EventSourceMapping::new(&local, esm_options).map_err(|e| e.to_string())?;
    println!("   requests queue  {}  (DLQ after 5 receives)", requests.url);
    println!("   results queue   {}", local.results_queue_url());
    println!("   function ARN    {function_arn}  (region {REGION})");
    println!(
        "   TRACK_FIRST_DELAY_SECONDS={TRACK_FIRST_DELAY_SECONDS}; the emulator's records finish {:.1} s after they start",
        PROGRESS_MS as f64 / 1000.0
    );

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sections = async {
        let mut demo = Deployed {
            local: &local,
            esm: &esm,
            requests: &requests,
            inbox: ResultsInbox::new(local.sqs().clone(), local.results_queue_url()),
            report: &mut *report,
            paths,
        };
        run_sections(&mut demo).await;
        let Deployed { inbox, report, .. } = demo;
        report.count(inbox.all());
        let _ = stop.send(());
    };
    tokio::join!(
        sections,
        esm.run_until(async {
            let _ = stopped.await;
        })
    );
    let counters = esm.counters();
    report.mapping(counters.invocations, counters.deliveries, counters.handed_back);
    report.expect(
        counters.failed_by_type.is_empty() && counters.timed_out == 0 && counters.invalid_responses == 0,
        format!(
            "every invocation by the event source mapping answers in time (failed {:?}, timed out {}, unreadable {})",
            counters.failed_by_type, counters.timed_out, counters.invalid_responses
        ),
    );
    Ok(())
}

async fn run_sections(demo: &mut Deployed<'_>) {
    if let Err(e) = tracking::run(demo).await {
        demo.report.stopped("1. Completion tracking", &e);
    }
    if let Err(e) = fleet::run(demo).await {
        demo.report.stopped("2. Fleet runs", &e);
    }
    if let Err(e) = events::run(demo).await {
        demo.report.stopped("3. An AWS event becomes an action", &e);
    }
}
