//! Faults that apply a call before failing it, faults aimed at one record, the fired-fault
//! counters, rate limits and call times, through the real `aws-sdk-servicecatalog` client.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_servicecatalog::error::{ProvideErrorMetadata, SdkError};
use common::*;
use sc_emulator::{start_local, EmulatorConfig, EmulatorHandle, Fault, FaultsFired};

async fn emulator(config: EmulatorConfig) -> EmulatorHandle {
    start_local(EmulatorConfig {
        progress_ms: 0,
        ..config
    })
    .await
    .expect("emulator starts")
}

fn execute(
    sc: &aws_sdk_servicecatalog::Client,
    pp: &str,
    token: &str,
) -> aws_sdk_servicecatalog::operation::execute_provisioned_product_service_action::builders::ExecuteProvisionedProductServiceActionFluentBuilder
{
    sc.execute_provisioned_product_service_action()
        .provisioned_product_id(pp)
        .service_action_id(RESTART)
        .execute_token(token)
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .expect("clock after 1970")
}

#[tokio::test]
async fn apply_then_500_executes_although_the_caller_sees_a_server_error() {
    // GIVEN an Execute that takes effect and then answers 500
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(Fault::apply_then_500(EXECUTE, 1));
    let sc = client(&emu.url(), 1).await;

    // WHEN it is called without retries
    let err = execute(&sc, PP, "applied-500").send().await.expect_err("500");

    // THEN the caller sees InternalFailure, yet the execution happened and is the product's last record
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(err.code(), Some("InternalFailure"));
    assert_eq!(emu.executions_for("applied-500"), 1);
    let last = sc.describe_provisioned_product().id(PP).send().await.expect("describe");
    let last_record = last
        .provisioned_product_detail()
        .and_then(|d| d.last_record_id())
        .expect("last record")
        .to_owned();

    // AND the retry with the same token replays that record instead of executing again
    let replay = execute(&sc, PP, "applied-500").send().await.expect("replay");
    assert_eq!(
        replay.record_detail().and_then(|d| d.record_id()),
        Some(last_record.as_str())
    );
    assert_eq!(emu.executions_for("applied-500"), 1);
    assert_eq!(emu.counters().faults_fired.apply500, 1);
}

#[tokio::test]
async fn apply_then_drop_is_retried_by_the_sdk_and_the_token_keeps_it_to_one_execution() {
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(Fault::apply_then_drop(EXECUTE, 1));

    // WITHOUT retries: an I/O error, but the execution took effect
    let once = client(&emu.url(), 1).await;
    let err = execute(&once, PP, "applied-drop-1").send().await.expect_err("dropped");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert_eq!(emu.executions_for("applied-drop-1"), 1);

    // WITH retries: the second attempt replays the first one's record
    emu.inject(Fault::apply_then_drop(EXECUTE, 1));
    let retrying = client(&emu.url(), 3).await;
    execute(&retrying, PP, "applied-drop-2")
        .send()
        .await
        .expect("second attempt succeeds");
    assert_eq!(emu.executions_for("applied-drop-2"), 1);
    assert_eq!(emu.calls_for(EXECUTE), 3);
    assert_eq!(emu.counters().faults_fired.apply_drop, 2);
}

#[tokio::test]
async fn a_fault_with_when_hits_only_the_named_product() {
    // GIVEN every Execute on web-staging fails, and no other
    let emu = emulator(EmulatorConfig::default()).await;
    emu.inject(
        Fault::error500(EXECUTE, 0)
            .always()
            .when("ProvisionedProductId", PP_STAGING),
    );
    let sc = client(&emu.url(), 1).await;

    // WHEN a batch runs on both products
    let prod = execute(&sc, PP, "batch-prod").send().await;
    let staging = execute(&sc, PP_STAGING, "batch-staging").send().await;

    // THEN only web-staging's call failed, and it executed nothing
    prod.expect("web-prod is not targeted");
    assert_eq!(staging.expect_err("web-staging is").code(), Some("InternalFailure"));
    assert_eq!(emu.executions_for("batch-staging"), 0);
    assert_eq!(emu.faults().len(), 1, "an always-rule stays");
    assert_eq!(emu.counters().faults_fired.error500, 1);
}

#[tokio::test]
async fn faults_fired_counts_each_kind_that_fired() {
    // GIVEN one fault of every kind, queued in order, and a rate limit of one call per second
    let emu = emulator(EmulatorConfig::default()).await;
    for fault in [
        Fault::throttle("DescribeProvisionedProduct", 1),
        Fault::error500("DescribeProvisionedProduct", 1),
        Fault::drop_connection("DescribeProvisionedProduct", 1),
        Fault::apply_then_drop("DescribeProvisionedProduct", 1),
        Fault::apply_then_500("DescribeProvisionedProduct", 1),
        Fault::latency("DescribeProvisionedProduct", 1),
    ] {
        emu.inject(fault);
    }
    let sc = client(&emu.url(), 1).await;

    // WHEN six calls use up the failures, then the rate limit refuses the second of two calls
    for _ in 0..6 {
        let _ = sc.describe_provisioned_product().id(PP).send().await;
    }
    emu.set_rate_limit("DescribeRecord", 1.0);
    let _ = sc.describe_record().id("rec-any000000001").send().await;
    let limited = sc.describe_record().id("rec-any000000001").send().await;

    // THEN each kind fired exactly once
    assert_eq!(limited.expect_err("rate limited").code(), Some("ThrottlingException"));
    assert_eq!(
        emu.counters().faults_fired,
        FaultsFired {
            throttle: 1,
            error500: 1,
            drop: 1,
            latency: 6,
            apply_drop: 1,
            apply500: 1,
            rate_limited: 1,
        }
    );
}

#[tokio::test]
async fn configured_rate_limit_refuses_the_burst_beyond_it_and_survives_reset() {
    // GIVEN Execute limited to 5 calls/s from the start
    let emu = emulator(EmulatorConfig {
        rate_limits: BTreeMap::from([(EXECUTE.to_owned(), 5.0)]),
        ..EmulatorConfig::default()
    })
    .await;
    let sc = client(&emu.url(), 1).await;
    let started = epoch_ms();
    let clock = std::time::Instant::now();

    // WHEN 12 calls arrive as fast as one client can send them
    let mut refused = 0;
    for i in 0..12 {
        match execute(&sc, PP, &format!("burst-{i}")).send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("ThrottlingException") => refused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }

    // THEN the burst of five passes, then only what the bucket refilled meanwhile; all are timed
    let refilled = (clock.elapsed().as_secs_f64() * 5.0).floor() as usize;
    let passed = 12 - refused;
    assert!(
        (5..=5 + refilled).contains(&passed),
        "passed {passed}, refilled {refilled}"
    );
    assert_eq!(emu.counters().executions.len(), 12 - refused);
    assert_eq!(emu.counters().faults_fired.rate_limited, refused as u64);
    let times = emu.call_times(EXECUTE);
    assert_eq!(times.len(), 12);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times[0] >= started && times[11] <= epoch_ms());

    // AND a reset keeps the configured limit but forgets the call times
    emu.clear_rate_limits();
    assert!(emu.rate_limits().is_empty());
    emu.reset();
    assert_eq!(emu.rate_limits(), BTreeMap::from([(EXECUTE.to_owned(), 5.0)]));
    assert!(emu.call_times(EXECUTE).is_empty());
}

#[tokio::test]
async fn rate_limit_refills_at_its_rate_and_the_sdk_retries_throttled_calls() {
    // GIVEN DescribeProvisionedProduct limited to 10 calls/s, its burst used up
    let emu = emulator(EmulatorConfig::default()).await;
    emu.set_rate_limit("DescribeProvisionedProduct", 10.0);
    let sc = client(&emu.url(), 1).await;
    for _ in 0..10 {
        sc.describe_provisioned_product().id(PP).send().await.expect("burst");
    }
    let refused = sc.describe_provisioned_product().id(PP).send().await;
    assert_eq!(refused.expect_err("empty bucket").code(), Some("ThrottlingException"));

    // WHEN 250 ms pass, about two tokens are back
    tokio::time::sleep(Duration::from_millis(250)).await;
    sc.describe_provisioned_product().id(PP).send().await.expect("refilled");

    // AND a retrying client rides over the throttling
    let retrying = client(&emu.url(), 30).await; // jittered 5–20 ms back-offs: ample for a 100 ms refill
    for _ in 0..5 {
        retrying
            .describe_provisioned_product()
            .id(PP)
            .send()
            .await
            .expect("retried until admitted");
    }
    emu.clear_rate_limit("DescribeProvisionedProduct");
    for _ in 0..20 {
        sc.describe_provisioned_product()
            .id(PP)
            .send()
            .await
            .expect("no limit left");
    }
}
