//! Wiring only: logging, configuration, the SDK clients (built once), and the runtime loop.
// The runtime loop around the handler nests futures deeper than the default limit allows.
#![recursion_limit = "256"]

use std::time::{Duration, SystemTime};

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use sc_action_runner::aws::servicecatalog::ServiceCatalogExecutor;
use sc_action_runner::aws::sqs::SqsQueues;
use sc_action_runner::config::blank_endpoint_variables;
use sc_action_runner::deadline::deadline_from_runtime;
use sc_action_runner::pace::Pace;
use sc_action_runner::{Config, Handler, Invocation};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    sc_action_runner::logging::init();

    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    // Still one thread (the current-thread runtime has started nothing): safe to edit the environment.
    for name in blank_endpoint_variables(std::env::vars()) {
        std::env::remove_var(name);
    }

    // Region, credentials and endpoints (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SERVICE_CATALOG,
    // AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API) come from the standard
    // environment, so local emulators need no code.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(config.sdk_attempt_timeout)
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let mut executor = ServiceCatalogExecutor::new(aws_sdk_servicecatalog::Client::new(&sdk))
        .with_tagging(aws_sdk_resourcegroupstagging::Client::new(&sdk));
    if let Some(rate) = config.max_calls_per_second {
        executor = executor.with_pace(std::sync::Arc::new(Pace::per_second(rate)));
    }
    let queues = SqsQueues::new(aws_sdk_sqs::Client::new(&sdk), config.results_queue_url.clone());
    let handler = Handler::new(config, executor, queues);
    let handler = &handler;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (payload, context) = event.into_parts();
        let invocation = Invocation {
            request_id: context.request_id,
            deadline: deadline_from_runtime(context.deadline, SystemTime::now()),
            invoked_function_arn: Some(context.invoked_function_arn).filter(|arn| !arn.is_empty()),
        };
        handler.handle(payload, &invocation).await
    }))
    .await
}
