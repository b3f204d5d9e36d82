//! The emulator through the real `aws-sdk-servicecatalog` client: if these pass, the wire
//! protocol (targets, member names, timestamps, error codes) is what the SDK expects.

mod common;

use std::time::Duration;

use aws_sdk_servicecatalog::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_servicecatalog::types::RecordStatus;
use common::*;
use sc_emulator::{Fault, FaultKind};

#[tokio::test]
async fn redelivered_execute_token_returns_the_same_record_and_runs_once() {
    // GIVEN an emulator and a client without retries
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let execute = || {
        sc.execute_provisioned_product_service_action()
            .provisioned_product_id(PP)
            .service_action_id(RESTART)
            .execute_token("msg-0001")
            .parameters("TARGET", vec!["i-0123".to_owned()])
    };

    // WHEN the same request is sent twice
    let first = execute().send().await.expect("first execute");
    let second = execute().send().await.expect("replayed execute");

    // THEN both carry the same record and only one execution happened
    let a = first.record_detail().expect("record detail");
    let b = second.record_detail().expect("record detail");
    assert_eq!(a.record_id(), b.record_id());
    assert!(a.record_id().is_some_and(|id| id.starts_with("rec-") && id.len() == 17));
    assert_eq!(a.record_type(), Some("EXECUTE_PROVISIONED_PRODUCT_SERVICE_ACTION"));
    assert_eq!(a.provisioned_product_id(), Some(PP));
    assert_eq!(a.provisioned_product_name(), Some("web-prod"));
    assert_eq!(a.product_id(), Some(PRODUCT));
    assert_eq!(a.provisioning_artifact_id(), Some(ARTIFACT));
    assert!(a.created_time().is_some() && a.updated_time().is_some());
    assert_eq!(emu.calls_for(EXECUTE), 2);
    assert_eq!(emu.executions_for("msg-0001"), 1);
    assert_eq!(emu.counters().executions_by_product.get(PP), Some(&1));
}

#[tokio::test]
async fn invalid_members_surface_as_typed_invalid_parameters_naming_the_member() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;

    let err = sc
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("_starts-with-underscore")
        .send()
        .await
        .expect_err("bad token");
    let err = err.into_service_error();
    assert!(err.is_invalid_parameters_exception(), "{err:?}");
    assert!(err.message().is_some_and(|m| m.contains("'ExecuteToken'")), "{err:?}");

    let err = sc
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("tok-empty-params")
        .set_parameters(Some(Default::default()))
        .send()
        .await
        .expect_err("empty parameters map");
    let err = err.into_service_error();
    assert!(err.is_invalid_parameters_exception(), "{err:?}");
    assert!(err.message().is_some_and(|m| m.contains("'Parameters'")), "{err:?}");
    assert_eq!(emu.counters().executions.len(), 0);
}

#[tokio::test]
async fn unknown_unassociated_and_busy_targets_map_to_their_modeled_errors() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let execute = |pp: &str, action: &str, token: &str| {
        sc.execute_provisioned_product_service_action()
            .provisioned_product_id(pp)
            .service_action_id(action)
            .execute_token(token)
            .send()
    };

    let err = execute("pp-doesnotexist1", RESTART, "t1")
        .await
        .expect_err("unknown pp");
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = execute(PP, "act-doesnotexist", "t2").await.expect_err("unknown action");
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = execute(PP, ORPHAN, "t3").await.expect_err("not associated");
    assert!(err.into_service_error().is_invalid_parameters_exception());
    let err = execute(PP_BUSY, RESTART, "t4").await.expect_err("under change");
    assert!(err.into_service_error().is_invalid_state_exception());

    // AND a product put UNDER_CHANGE at run time refuses, then accepts once AVAILABLE again
    assert!(emu.set_status(PP, "UNDER_CHANGE"));
    let err = execute(PP, RESTART, "t5").await.expect_err("now busy");
    assert!(err.into_service_error().is_invalid_state_exception());
    assert!(emu.set_status(PP, "AVAILABLE"));
    execute(PP, RESTART, "t5").await.expect("available again");
    assert_eq!(emu.executions_for("t5"), 1);
}

#[tokio::test]
async fn record_status_progresses_from_created_to_succeeded() {
    // GIVEN records that take 8 s (CREATED for the first 2 s); the windows are wide (5.5 s of slack
    // for the IN_PROGRESS check) so that a busy CI machine cannot make this flake
    let emu = emulator(8000).await;
    let sc = client(&emu.url(), 1).await;
    let out = sc
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("progress-1")
        .send()
        .await
        .expect("execute");
    let detail = out.record_detail().expect("detail");
    assert_eq!(detail.status(), Some(&RecordStatus::Created));
    let id = detail.record_id().expect("id").to_owned();

    let status = |sc: aws_sdk_servicecatalog::Client, id: String| async move {
        let out = sc.describe_record().id(id).send().await.expect("describe record");
        assert!(out.record_outputs().is_empty());
        out.record_detail().and_then(|d| d.status().cloned())
    };
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(status(sc.clone(), id.clone()).await, Some(RecordStatus::InProgress));
    tokio::time::sleep(Duration::from_millis(8100).saturating_sub(started.elapsed())).await;
    assert_eq!(status(sc.clone(), id.clone()).await, Some(RecordStatus::Succeeded));

    // AND the replay of the token sees the current status too
    let replay = sc
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("progress-1")
        .send()
        .await
        .expect("replay");
    assert_eq!(
        replay.record_detail().and_then(|d| d.status()),
        Some(&RecordStatus::Succeeded)
    );

    let err = sc
        .describe_record()
        .id("rec-nosuchrecord1")
        .send()
        .await
        .expect_err("unknown");
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn describe_provisioned_product_by_id_or_name_but_not_both() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;

    let by_id = sc.describe_provisioned_product().id(PP).send().await.expect("by id");
    let detail = by_id.provisioned_product_detail().expect("detail");
    assert_eq!(detail.name(), Some("web-prod"));
    assert_eq!(detail.status().map(|s| s.as_str()), Some("AVAILABLE"));
    assert_eq!(detail.r#type(), Some("CFN_STACK"));
    assert_eq!(detail.product_id(), Some(PRODUCT));
    assert!(detail.created_time().is_some());
    assert!(by_id.cloud_watch_dashboards().is_empty());

    let by_name = sc
        .describe_provisioned_product()
        .name("db-migrating")
        .send()
        .await
        .expect("by name");
    assert_eq!(by_name.provisioned_product_detail().and_then(|d| d.id()), Some(PP_BUSY));
    assert_eq!(
        by_name
            .provisioned_product_detail()
            .and_then(|d| d.status())
            .map(|s| s.as_str()),
        Some("UNDER_CHANGE")
    );

    let both = sc.describe_provisioned_product().id(PP).name("web-prod").send().await;
    assert!(both
        .expect_err("both")
        .into_service_error()
        .is_invalid_parameters_exception());
    let unknown = sc.describe_provisioned_product().id("pp-nope").send().await;
    assert!(unknown
        .expect_err("unknown")
        .into_service_error()
        .is_resource_not_found_exception());
}

#[tokio::test]
async fn finding_an_action_by_name_needs_the_second_page() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;

    let first = sc
        .list_service_actions_for_provisioning_artifact()
        .product_id(PRODUCT)
        .provisioning_artifact_id(ARTIFACT)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first.service_action_summaries().len(), 20);
    assert!(!first
        .service_action_summaries()
        .iter()
        .any(|s| s.name() == Some("RestartService")));
    assert!(first.next_page_token().is_some());

    // The SDK paginator follows NextPageToken until it is absent.
    let pages = sc
        .list_service_actions_for_provisioning_artifact()
        .product_id(PRODUCT)
        .provisioning_artifact_id(ARTIFACT)
        .page_size(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("all pages");
    assert_eq!(
        pages
            .iter()
            .map(|p| p.service_action_summaries().len())
            .collect::<Vec<_>>(),
        [7, 7, 7, 4]
    );
    let all: Vec<_> = pages.iter().flat_map(|p| p.service_action_summaries()).collect();
    assert_eq!(all.len(), 25);
    let restart = all.iter().find(|s| s.name() == Some("RestartService")).expect("found");
    assert_eq!(restart.id(), Some(RESTART));
    assert_eq!(restart.definition_type().map(|d| d.as_str()), Some("SSM_AUTOMATION"));
    assert_eq!(emu.calls_for("ListServiceActionsForProvisioningArtifact"), 1 + 4);

    let err = sc
        .list_service_actions_for_provisioning_artifact()
        .product_id(PRODUCT)
        .provisioning_artifact_id("pa-nope")
        .send()
        .await
        .expect_err("unknown artifact");
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = sc
        .list_service_actions_for_provisioning_artifact()
        .product_id(PRODUCT)
        .provisioning_artifact_id(ARTIFACT)
        .page_size(21)
        .send()
        .await
        .expect_err("page too large");
    let err = err.into_service_error();
    assert!(err.is_invalid_parameters_exception());
    assert!(err.message().is_some_and(|m| m.contains("'PageSize'")));
}

#[tokio::test]
async fn throttled_calls_surface_as_throttling_and_are_retried_by_the_sdk() {
    let emu = emulator(0).await;

    // WITHOUT retries: the SDK reports the throttling code, nothing executes
    emu.inject(Fault::throttle(EXECUTE, 1));
    let no_retry = client(&emu.url(), 1).await;
    let err = no_retry
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("throttled-1")
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(emu.executions_for("throttled-1"), 0);

    // WITH retries: throttle twice, then the third attempt succeeds
    emu.inject(Fault::throttle(EXECUTE, 2));
    let retrying = client(&emu.url(), 3).await;
    retrying
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("throttled-2")
        .send()
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(emu.calls_for(EXECUTE), 1 + 3);
    assert_eq!(emu.executions_for("throttled-2"), 1);
    assert!(emu.faults().is_empty());

    // AND a modeled client error is not retried
    let err = retrying
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(ORPHAN)
        .execute_token("throttled-3")
        .send()
        .await
        .expect_err("not associated");
    assert!(err.into_service_error().is_invalid_parameters_exception());
    assert_eq!(emu.calls_for(EXECUTE), 5);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_fail_the_call_then_recover() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let describe = || sc.describe_provisioned_product().id(PP).send();

    emu.inject(Fault::error500("*", 1));
    let err = describe().await.expect_err("500");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    assert_eq!(err.code(), Some("InternalFailure"));
    describe().await.expect("recovered after the 500");

    emu.inject(Fault::drop_connection("DescribeProvisionedProduct", 1));
    let err = describe().await.expect_err("dropped");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    describe().await.expect("recovered after the drop");

    // AND with retries the SDK rides over both without the caller noticing
    emu.inject(Fault::error500(EXECUTE, 1));
    emu.inject(Fault::drop_connection(EXECUTE, 1));
    let retrying = client(&emu.url(), 3).await;
    retrying
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(RESTART)
        .execute_token("after-faults")
        .send()
        .await
        .expect("third attempt succeeds");
    assert_eq!(emu.calls_for(EXECUTE), 3);
    assert_eq!(emu.executions_for("after-faults"), 1);
    assert_eq!(emu.calls_for("DescribeProvisionedProduct"), 4);
}

#[tokio::test]
async fn injected_latency_trips_the_sdk_operation_timeout() {
    let emu = emulator(0).await;
    emu.inject(Fault::latency("DescribeRecord", 300));
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_servicecatalog::config::Credentials::new(
            "AKID", "s", None, None, "test",
        ))
        .endpoint_url(emu.url())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(100))
                .build(),
        )
        .load()
        .await;
    let sc = aws_sdk_servicecatalog::Client::new(&shared);
    let err = sc
        .describe_record()
        .id("rec-whatever00001")
        .send()
        .await
        .expect_err("timeout");
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert_eq!(emu.faults().first().map(|f| f.kind), Some(FaultKind::Latency));
}

#[tokio::test]
async fn reset_forgets_tokens_so_the_same_token_executes_again() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let execute = || {
        sc.execute_provisioned_product_service_action()
            .provisioned_product_id(PP)
            .service_action_id(RESTART)
            .execute_token("reset-1")
            .send()
    };
    execute().await.expect("first");
    emu.inject(Fault::throttle("*", 5));
    emu.reset();
    assert!(emu.faults().is_empty());
    assert_eq!(emu.counters(), Default::default());
    execute().await.expect("after reset");
    assert_eq!(emu.executions_for("reset-1"), 1);
}
