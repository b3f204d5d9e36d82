//! The raw wire format and the `/_emulator/` control API, over plain HTTP/1.1.

mod common;

use common::*;
use sc_emulator::{start_local, EmulatorConfig, EmulatorHandle};
use serde_json::json;

async fn emulator() -> EmulatorHandle {
    start_local(EmulatorConfig {
        progress_ms: 0,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

fn execute_body(token: &str) -> String {
    json!({"ProvisionedProductId": PP, "ServiceActionId": RESTART, "ExecuteToken": token}).to_string()
}

#[tokio::test]
async fn success_is_amz_json_with_epoch_second_timestamps() {
    let emu = emulator().await;
    let resp = aws(emu.addr(), EXECUTE, &execute_body("wire-1")).await;
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/x-amz-json-1.1"));
    let detail = &resp.json()["RecordDetail"];
    assert!(detail["CreatedTime"].is_number() && detail["UpdatedTime"].is_number());
    assert_eq!(detail["RecordErrors"], json!([]));
    assert_eq!(detail["RecordTags"], json!([]));
    assert_eq!(detail["Status"], "SUCCEEDED", "progress_ms 0 finishes at once");
}

#[tokio::test]
async fn errors_carry_type_in_body_and_header() {
    let emu = emulator().await;

    let bad_json = aws(emu.addr(), EXECUTE, "{not json").await;
    assert_eq!(bad_json.status, 400);
    assert_eq!(bad_json.json()["__type"], "SerializationException");
    assert_eq!(bad_json.header("x-amzn-errortype"), Some("SerializationException"));

    let unknown = aws(emu.addr(), "CreateProduct", "{}").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["__type"], "UnknownOperationException");

    let no_target = raw(emu.addr(), "POST", "/", &[], "{}").await;
    assert_eq!(no_target.json()["__type"], "UnknownOperationException");

    let missing = aws(emu.addr(), EXECUTE, &json!({"ProvisionedProductId": PP}).to_string()).await;
    assert_eq!(missing.json()["__type"], "InvalidParametersException");
    assert!(missing.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("'ServiceActionId'")));
}

#[tokio::test]
async fn faults_posted_over_http_apply_then_clear() {
    let emu = emulator().await;

    // GIVEN two throttles and one 500 on any operation
    let posted = raw(
        emu.addr(),
        "POST",
        "/_emulator/faults",
        &[],
        &json!({"operation": EXECUTE, "kind": "throttle", "count": 2}).to_string(),
    )
    .await;
    assert_eq!(posted.status, 200, "{posted:?}");
    raw(
        emu.addr(),
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation":"*","kind":"error500","count":1}"#,
    )
    .await;

    // THEN the calls fail in order and then succeed
    let first = aws(emu.addr(), EXECUTE, &execute_body("f-1")).await;
    assert_eq!(
        (first.status, first.json()["__type"].clone()),
        (400, json!("ThrottlingException"))
    );
    assert_eq!(first.header("x-amzn-errortype"), Some("ThrottlingException"));
    let second = aws(emu.addr(), EXECUTE, &execute_body("f-1")).await;
    assert_eq!(second.json()["__type"], "ThrottlingException");
    let third = aws(emu.addr(), EXECUTE, &execute_body("f-1")).await;
    assert_eq!(
        (third.status, third.json()["__type"].clone()),
        (500, json!("InternalFailure"))
    );
    let fourth = aws(emu.addr(), EXECUTE, &execute_body("f-1")).await;
    assert_eq!(fourth.status, 200);

    // AND the counters say four calls, one execution
    let counters = raw(emu.addr(), "GET", "/_emulator/counters", &[], "").await.json();
    assert_eq!(counters["calls"][EXECUTE], 4);
    assert_eq!(counters["executions"]["f-1"], 1);
    assert_eq!(counters["executionsByProduct"][PP], 1);

    // AND a fault of every call can be cleared with DELETE
    raw(
        emu.addr(),
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation":"*","kind":"throttle","fraction":1.0}"#,
    )
    .await;
    assert_eq!(
        aws(emu.addr(), "DescribeRecord", r#"{"Id":"rec-x"}"#).await.json()["__type"],
        "ThrottlingException"
    );
    let listed = raw(emu.addr(), "GET", "/_emulator/faults", &[], "").await.json();
    assert_eq!(listed["faults"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        raw(emu.addr(), "DELETE", "/_emulator/faults", &[], "").await.status,
        200
    );
    assert_eq!(
        aws(emu.addr(), "DescribeRecord", r#"{"Id":"rec-x"}"#).await.json()["__type"],
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn dropped_connection_gets_no_response_at_all() {
    let emu = emulator().await;
    raw(
        emu.addr(),
        "POST",
        "/_emulator/faults",
        &[],
        &json!({"operation": EXECUTE, "kind": "drop", "count": 1}).to_string(),
    )
    .await;
    let dropped = aws(emu.addr(), EXECUTE, &execute_body("d-1")).await;
    assert_eq!(dropped.status, 0, "expected EOF without a status line: {dropped:?}");
    assert_eq!(aws(emu.addr(), EXECUTE, &execute_body("d-1")).await.status, 200);
    assert_eq!(emu.executions_for("d-1"), 1);
}

#[tokio::test]
async fn invalid_fault_is_refused() {
    let emu = emulator().await;
    let resp = raw(
        emu.addr(),
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation":"*","kind":"explode"}"#,
    )
    .await;
    assert_eq!(resp.status, 400);
    let resp = raw(
        emu.addr(),
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation":"*","kind":"drop","fraction":2}"#,
    )
    .await;
    assert_eq!(resp.status, 400);
    assert!(emu.faults().is_empty());
}

#[tokio::test]
async fn status_set_over_http_blocks_actions_until_reset() {
    let emu = emulator().await;
    let path = format!("/_emulator/provisioned-products/{PP}/status");
    let set = raw(
        emu.addr(),
        "POST",
        &path,
        &[],
        r#"{"Status":"UNDER_CHANGE","StatusMessage":"stack update"}"#,
    )
    .await;
    assert_eq!(set.status, 200, "{set:?}");

    let refused = aws(emu.addr(), EXECUTE, &execute_body("s-1")).await;
    assert_eq!(refused.json()["__type"], "InvalidStateException");
    let described = aws(emu.addr(), "DescribeProvisionedProduct", &json!({"Id": PP}).to_string())
        .await
        .json();
    assert_eq!(described["ProvisionedProductDetail"]["Status"], "UNDER_CHANGE");
    assert_eq!(described["ProvisionedProductDetail"]["StatusMessage"], "stack update");

    let unknown = raw(
        emu.addr(),
        "POST",
        "/_emulator/provisioned-products/pp-nope/status",
        &[],
        r#"{"Status":"AVAILABLE"}"#,
    )
    .await;
    assert_eq!(unknown.status, 404);

    assert_eq!(raw(emu.addr(), "POST", "/_emulator/reset", &[], "").await.status, 200);
    assert_eq!(aws(emu.addr(), EXECUTE, &execute_body("s-1")).await.status, 200);
    let counters = raw(emu.addr(), "GET", "/_emulator/counters", &[], "").await.json();
    assert_eq!(counters["calls"][EXECUTE], 1, "reset cleared the earlier calls");
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let emu = emulator().await;
    let addr = emu.addr();
    let clone = emu.clone();
    drop(emu);
    assert_eq!(
        raw(addr, "GET", "/_emulator/health", &[], "").await.status,
        200,
        "a clone keeps it alive"
    );
    clone.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn rate_limits_are_set_listed_and_cleared_over_http() {
    let emu = emulator().await;
    let post = |body: &'static str| raw(emu.addr(), "POST", "/_emulator/rate-limits", &[], body);

    // GIVEN Execute limited to 2 calls/s
    assert_eq!(
        post(r#"{"operation":"ExecuteProvisionedProductServiceAction","perSecond":2}"#)
            .await
            .status,
        200
    );
    assert_eq!(post(r#"{"operation":"*","perSecond":0}"#).await.status, 400);
    assert_eq!(post(r#"{"operation":"*"}"#).await.status, 400);
    let listed = raw(emu.addr(), "GET", "/_emulator/rate-limits", &[], "").await.json();
    assert_eq!(listed["rateLimits"], json!({ EXECUTE: 2.0 }));

    // WHEN three calls arrive at once
    let statuses: Vec<_> = [
        aws(emu.addr(), EXECUTE, &execute_body("rl-1")).await,
        aws(emu.addr(), EXECUTE, &execute_body("rl-2")).await,
        aws(emu.addr(), EXECUTE, &execute_body("rl-3")).await,
    ]
    .into_iter()
    .map(|r| (r.status, r.header("x-amzn-errortype").map(str::to_owned)))
    .collect();

    // THEN the third is throttled, counted as rate limited, and all three are timed
    assert_eq!(statuses[2], (400, Some("ThrottlingException".to_owned())));
    let counters = raw(emu.addr(), "GET", "/_emulator/counters", &[], "").await.json();
    assert_eq!(counters["faultsFired"]["rateLimited"], 1);
    assert_eq!(counters["calls"][EXECUTE], 3);
    let path = format!("/_emulator/call-times?operation={EXECUTE}");
    let times = raw(emu.addr(), "GET", &path, &[], "").await.json();
    assert_eq!(times["operation"], EXECUTE);
    assert_eq!(times["times"].as_array().map(Vec::len), Some(3));
    let all = raw(emu.addr(), "GET", "/_emulator/call-times", &[], "").await.json();
    assert_eq!(all["callTimes"][EXECUTE], times["times"]);

    // AND DELETE lifts the limit
    let deleted = raw(
        emu.addr(),
        "DELETE",
        &format!("/_emulator/rate-limits?operation={EXECUTE}"),
        &[],
        "",
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(aws(emu.addr(), EXECUTE, &execute_body("rl-4")).await.status, 200);
    post(r#"{"operation":"*","perSecond":1}"#).await;
    assert_eq!(
        raw(emu.addr(), "DELETE", "/_emulator/rate-limits", &[], "")
            .await
            .status,
        200
    );
    assert!(emu.rate_limits().is_empty());
}

#[tokio::test]
async fn apply_faults_and_when_filters_are_accepted_over_http() {
    let emu = emulator().await;
    let fault = json!({"operation": EXECUTE, "kind": "apply500", "count": 1, "when": {"ExecuteToken": "w-2"}});
    let posted = raw(emu.addr(), "POST", "/_emulator/faults", &[], &fault.to_string()).await;
    assert_eq!(posted.status, 200, "{posted:?}");
    let listed = raw(emu.addr(), "GET", "/_emulator/faults", &[], "").await.json();
    assert_eq!(listed["faults"][0]["when"], json!({"ExecuteToken": "w-2"}));

    assert_eq!(aws(emu.addr(), EXECUTE, &execute_body("w-1")).await.status, 200);
    let failed = aws(emu.addr(), EXECUTE, &execute_body("w-2")).await;
    assert_eq!(
        (failed.status, failed.json()["__type"].clone()),
        (500, json!("InternalFailure"))
    );
    assert_eq!(emu.executions_for("w-2"), 1, "applied before the 500");

    let drop = json!({"operation": "*", "kind": "applyDrop", "count": 1});
    raw(emu.addr(), "POST", "/_emulator/faults", &[], &drop.to_string()).await;
    assert_eq!(aws(emu.addr(), EXECUTE, &execute_body("w-3")).await.status, 0);
    assert_eq!(emu.executions_for("w-3"), 1);
    let counters = raw(emu.addr(), "GET", "/_emulator/counters", &[], "").await.json();
    assert_eq!(counters["faultsFired"]["apply500"], 1);
    assert_eq!(counters["faultsFired"]["applyDrop"], 1);
}
