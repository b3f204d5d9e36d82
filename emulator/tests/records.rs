//! How the seeded actions end, as `DescribeRecord` reports it through the real SDK: failing
//! with a record error, succeeding with `RecordOutputs`, or never finishing.

mod common;

use std::time::Duration;

use aws_sdk_servicecatalog::error::ProvideErrorMetadata;
use aws_sdk_servicecatalog::types::RecordStatus;
use common::*;

const CANARY: &str = "pp-webcanary0001";
const NO_ROLE: &str = "act-norole000001";
const HEALTH: &str = "act-health000001";
const DRAIN: &str = "act-drain0000001";

/// Executes `action` on web-canary and returns the record id.
async fn execute(sc: &aws_sdk_servicecatalog::Client, action: &str, token: &str) -> String {
    let out = sc
        .execute_provisioned_product_service_action()
        .provisioned_product_id(CANARY)
        .service_action_id(action)
        .execute_token(token)
        .send()
        .await
        .expect("execute");
    out.record_detail()
        .and_then(|d| d.record_id())
        .expect("record id")
        .to_owned()
}

#[tokio::test]
async fn action_without_a_role_ends_failed_with_the_access_denied_record_error() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let id = execute(&sc, NO_ROLE, "no-role-1").await;

    let out = sc.describe_record().id(id).send().await.expect("describe");

    let detail = out.record_detail().expect("detail");
    assert_eq!(detail.status(), Some(&RecordStatus::Failed));
    let errors = detail.record_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code(), Some("AccessDeniedException"));
    assert!(
        errors[0]
            .description()
            .is_some_and(|d| d.contains("ssm:StartAutomationExecution")),
        "{errors:?}"
    );
    assert!(out.record_outputs().is_empty());
    assert_eq!(
        emu.executions_for("no-role-1"),
        1,
        "it was started; it is the automation that failed"
    );
}

#[tokio::test]
async fn succeeding_action_returns_its_outputs_once_succeeded_and_pages_them() {
    // GIVEN records that take 600 ms
    let emu = emulator(600).await;
    let sc = client(&emu.url(), 1).await;
    let id = execute(&sc, HEALTH, "health-1").await;

    // WHILE it runs, no outputs
    let early = sc.describe_record().id(&id).send().await.expect("describe");
    if early.record_detail().and_then(|d| d.status()) != Some(&RecordStatus::Succeeded) {
        assert!(early.record_outputs().is_empty());
    }

    // ONCE it has succeeded, the seeded outputs with their descriptions
    tokio::time::sleep(Duration::from_millis(700)).await;
    let done = sc.describe_record().id(&id).send().await.expect("describe");
    assert_eq!(
        done.record_detail().and_then(|d| d.status()),
        Some(&RecordStatus::Succeeded)
    );
    let outputs = done.record_outputs();
    assert_eq!(outputs.len(), 3);
    assert!(done.next_page_token().is_none());
    let health = outputs
        .iter()
        .find(|o| o.output_key() == Some("HealthStatus"))
        .expect("HealthStatus output");
    assert_eq!(health.output_value(), Some("Healthy"));
    assert!(health.description().is_some_and(|d| !d.is_empty()));

    // AND with PageSize 2 they come in two pages
    let first = sc.describe_record().id(&id).page_size(2).send().await.expect("page 1");
    assert_eq!(first.record_outputs().len(), 2);
    let token = first.next_page_token().expect("a second page");
    let second = sc
        .describe_record()
        .id(&id)
        .page_size(2)
        .page_token(token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(second.record_outputs().len(), 1);
    assert!(second.next_page_token().is_none());
    let bad = sc.describe_record().id(&id).page_token("nonsense").send().await;
    // (DescribeRecord models only ResourceNotFoundException, so the SDK leaves this one unmodeled)
    assert_eq!(
        bad.expect_err("foreign token").code(),
        Some("InvalidParametersException")
    );
}

#[tokio::test]
async fn never_finishing_action_stays_in_progress() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let id = execute(&sc, DRAIN, "drain-1").await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let out = sc.describe_record().id(id).send().await.expect("describe");

    let detail = out.record_detail().expect("detail");
    assert_eq!(detail.status(), Some(&RecordStatus::InProgress));
    assert!(detail.record_errors().is_empty());
    assert!(out.record_outputs().is_empty());
}

#[tokio::test]
async fn the_new_actions_run_on_the_v2_artifact_only() {
    let emu = emulator(0).await;
    let sc = client(&emu.url(), 1).await;
    let on_web_prod = sc
        .execute_provisioned_product_service_action()
        .provisioned_product_id(PP)
        .service_action_id(HEALTH)
        .execute_token("health-on-v1")
        .send()
        .await;
    assert!(on_web_prod
        .expect_err("not associated with v1")
        .into_service_error()
        .is_invalid_parameters_exception());

    // AND the v2 artifact lists RestartService first, then the three
    let listed = sc
        .list_service_actions_for_provisioning_artifact()
        .product_id(PRODUCT)
        .provisioning_artifact_id("pa-webapp0000002")
        .send()
        .await
        .expect("list");
    let names: Vec<_> = listed
        .service_action_summaries()
        .iter()
        .filter_map(|s| s.name())
        .collect();
    assert_eq!(
        names,
        [
            "RestartService",
            "RotateLogs",
            "CreateSnapshot",
            "HealthCheck",
            "DrainConnections"
        ]
    );
}
