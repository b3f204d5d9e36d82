//! Requests that name a resource (`resourceArn`) instead of a provisioned product, through the
//! handler with the in-memory fakes: the owner is found by its
//! `aws:servicecatalog:provisionedProductArn` tag (the fakes carry the emulator's seeded resources).

// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use sc_action_runner::error::CallError;
use sc_action_runner::outcome::Outcome;
use sc_action_runner::token::derive;
use serde_json::{json, Value};

use support::{batch_of, config_with, failures, handler_with, new_handler, run, FakeCatalog, FakeQueue, RecordState};

const WEB_PROD_INSTANCE: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60001";
const UNTAGGED: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0c1b2c3d4e5f60001";
const OTHER_ACCOUNT: &str = "arn:aws:ec2:us-east-1:210987654321:instance/i-0d1b2c3d4e5f60001";
const OTHER_REGION: &str = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0e1b2c3d4e5f60001";
const RETIRED: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0f1b2c3d4e5f60001";

fn request(arn: &str) -> Value {
    json!({"resourceArn": arn, "serviceActionName": "RestartService", "idempotencyKey": "evt-1"})
}

fn batch(arn: &str) -> Value {
    batch_of("m-1", &request(arn))
}

#[tokio::test]
async fn the_action_runs_on_the_product_that_owns_the_resource() {
    let (handler, catalog, queue) = new_handler(&[]);

    let response = run(&handler, batch(WEB_PROD_INSTANCE), "req").await.unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    let result = &queue.sent()[0];
    assert_eq!(result.outcome, Outcome::Executed);
    assert_eq!(result.provisioned_product_id.as_deref(), Some("pp-webprod000001"));
    assert_eq!(result.service_action_id.as_deref(), Some("act-restart00001"));
    assert_eq!(result.resource_arn.as_deref(), Some(WEB_PROD_INSTANCE));
    assert_eq!(
        result.execute_token,
        derive(
            "evt-1",
            &format!("resourceArn:{WEB_PROD_INSTANCE}"),
            "name:RestartService"
        ),
        "the token comes from the request as named: the ARN"
    );
    assert_eq!(
        catalog.calls(),
        vec![
            format!("GetResources {WEB_PROD_INSTANCE}"),
            "Describe Id(\"pp-webprod000001\")".to_owned(),
            "ListActions pa-webapp0000001 RestartService".to_owned(),
            "Execute pp-webprod000001 act-restart00001".to_owned(),
        ]
    );
    let json: Value = serde_json::from_str(&result.to_json().unwrap()).unwrap();
    assert_eq!(json["resourceArn"], WEB_PROD_INSTANCE);
}

#[tokio::test]
async fn a_resource_without_the_tag_or_unknown_is_not_a_service_catalog_resource() {
    for arn in [UNTAGGED, "arn:aws:s3:::some-bucket-nobody-knows"] {
        let (handler, catalog, queue) = new_handler(&[]);
        run(&handler, batch(arn), "req").await.unwrap();
        let result = &queue.sent()[0];
        assert_eq!(result.outcome, Outcome::Rejected);
        let error = result.error.as_ref().unwrap();
        assert_eq!(error.code, "NotAServiceCatalogResource");
        assert!(error.message.contains(arn), "{}", error.message);
        assert_eq!(
            result.resource_arn.as_deref(),
            Some(arn),
            "rejections carry resourceArn too"
        );
        assert!(!catalog.calls().iter().any(|c| c.starts_with("Execute")));
    }
}

#[tokio::test]
async fn a_resource_of_another_account_or_region_is_refused() {
    for arn in [OTHER_ACCOUNT, OTHER_REGION] {
        let (handler, catalog, queue) = new_handler(&[]);
        run(&handler, batch(arn), "req").await.unwrap();
        let error = queue.sent()[0].error.clone().unwrap();
        assert_eq!(error.code, "OtherAccountOrRegion", "{arn}");
        assert!(
            error.message.contains("123456789012") && error.message.contains("us-east-1"),
            "{}",
            error.message
        );
        assert_eq!(catalog.calls().len(), 1, "only GetResources");
    }
}

#[tokio::test]
async fn a_tag_whose_product_is_gone_is_rejected_as_a_request_by_that_id_would_be() {
    let (handler, _catalog, queue) = new_handler(&[]);
    run(&handler, batch(RETIRED), "req").await.unwrap();
    let result = &queue.sent()[0];
    assert_eq!(result.error.as_ref().unwrap().code, "ResourceNotFoundException");
    assert_eq!(result.resource_arn.as_deref(), Some(RETIRED));
}

#[tokio::test]
async fn tagging_api_errors_are_retried_or_rejected_like_every_call() {
    for (code, status, retried) in [
        ("ThrottledException", 400, true),
        ("InternalServiceException", 500, true),
        ("AccessDeniedException", 400, false),
    ] {
        let (handler, catalog, queue) = new_handler(&[]);
        catalog
            .owner_faults
            .lock()
            .unwrap()
            .push(CallError::service("GetResources", code, Some(status), "no"));
        let answer = run(&handler, batch(WEB_PROD_INSTANCE), "req").await;
        if retried {
            assert_eq!(answer.unwrap_err().error_type(), "BatchFailed", "{code}");
            assert!(queue.sent().is_empty());
        } else {
            assert_eq!(failures(&answer.unwrap()), Vec::<String>::new());
            assert_eq!(queue.sent()[0].error.as_ref().unwrap().code, code);
        }
    }
}

#[tokio::test]
async fn the_allow_list_applies_to_the_resolved_product() {
    let config = config_with(&[("ALLOWED_PROVISIONED_PRODUCT_IDS", "pp-webstag000001")]);
    let (handler, catalog, queue) = handler_with(config, FakeCatalog::seeded(), FakeQueue::default());
    run(&handler, batch(WEB_PROD_INSTANCE), "req").await.unwrap();
    assert_eq!(queue.sent()[0].error.as_ref().unwrap().code, "NotAllowed");
    assert!(catalog.executions().is_empty());
}

#[tokio::test]
async fn an_invalid_arn_is_rejected_before_any_call() {
    let (handler, catalog, queue) = new_handler(&[]);
    run(&handler, batch("i-0a1b2c3d4e5f60001"), "req").await.unwrap();
    let error = queue.sent()[0].error.clone().unwrap();
    assert_eq!(error.code, "InvalidRequest");
    assert!(error.message.contains("`resourceArn`"), "{}", error.message);
    assert!(catalog.calls().is_empty());
}

#[tokio::test]
async fn a_tracked_resource_request_keeps_its_resource_arn_to_the_final_result() {
    let config = config_with(&[("TRACKING_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/requests")]);
    let (handler, catalog, queue) = handler_with(config, FakeCatalog::seeded(), FakeQueue::default());
    run(&handler, batch(WEB_PROD_INSTANCE), "req").await.unwrap();
    let tracking = queue.messages()[0].1.clone();
    assert_eq!(tracking["trackRecord"]["resourceArn"], WEB_PROD_INSTANCE);
    catalog.set_record_state("pp-webprod000001", RecordState::succeeded(&[]));

    run(&handler, batch_of("t-1", &tracking), "req-2").await.unwrap();

    let last = queue.sent().last().cloned().unwrap();
    assert_eq!(last.outcome, Outcome::Succeeded);
    assert_eq!(last.resource_arn.as_deref(), Some(WEB_PROD_INSTANCE));
}
