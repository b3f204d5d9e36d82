//! The requests queue the loop creates before the function starts, the function's environment, and
//! queue depth with delayed messages.

mod support;

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use sc_local_loop::{queue_depth, QueueDepth, RequestsQueue};
use support::{options_without_function, start};

async fn attribute(local: &sc_local_loop::LocalLoop, url: &str, name: QueueAttributeName) -> Option<String> {
    let out = local
        .sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .expect("GetQueueAttributes");
    out.attributes().and_then(|a| a.get(&name)).cloned()
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_requests_queue_is_created_before_the_function_and_its_url_is_in_the_environment() {
    // GIVEN a FIFO requests queue whose URL goes into two variables, and one more variable
    let mut options = options_without_function()
        .env("EXTRA_SETTING", "on")
        .env("TRACKING_QUEUE_URL", "overridden by function_env");
    options.start_function = true;
    options.function_command = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo \"requests=$REQUESTS_QUEUE_URL tracking=$TRACKING_QUEUE_URL extra=$EXTRA_SETTING\"; exec sleep 600"
            .into(),
    ]);
    options.requests_queue = Some(
        RequestsQueue::new("sc-requests.fifo", 3)
            .url_in("REQUESTS_QUEUE_URL")
            .url_in("TRACKING_QUEUE_URL"),
    );

    // WHEN the loop starts
    let local = start(options).await;

    // THEN the queue and its DLQ are FIFO, linked by a RedrivePolicy, and the function was told
    let queues = local.requests_queue().expect("a requests queue").clone();
    assert!(queues.url.ends_with("/sc-requests.fifo"), "{}", queues.url);
    assert!(queues.dlq_url.ends_with("/sc-requests-dlq.fifo"), "{}", queues.dlq_url);
    for url in [&queues.url, &queues.dlq_url] {
        let fifo = attribute(&local, url, QueueAttributeName::FifoQueue).await;
        assert_eq!(fifo.as_deref(), Some("true"), "{url}");
    }
    let policy = attribute(&local, &queues.url, QueueAttributeName::RedrivePolicy)
        .await
        .expect("a RedrivePolicy");
    let policy: serde_json::Value = serde_json::from_str(&policy).expect("JSON");
    assert_eq!(policy["deadLetterTargetArn"], queues.dlq_arn.as_str());
    assert_eq!(policy["maxReceiveCount"], 3);

    let expected = format!("requests={} tracking=overridden by function_env extra=on", queues.url);
    for _ in 0..100 {
        if local.function_log().contains(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(local.function_log().contains(&expected), "{:?}", local.function_log());
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_delayed_message_keeps_the_queue_from_being_empty() {
    let local = start(options_without_function()).await;
    let queues = local.create_queue_with_dlq("sc-delays", 5).await.expect("queues");

    local
        .sqs()
        .send_message()
        .queue_url(&queues.url)
        .message_body("later")
        .delay_seconds(30)
        .send()
        .await
        .expect("SendMessage");

    let depth = queue_depth(local.sqs(), &queues.url).await.expect("depth");
    assert_eq!(
        depth,
        QueueDepth {
            visible: 0,
            in_flight: 0,
            delayed: 1
        }
    );
    assert!(!depth.is_empty());
}
