//! The Runtime API proxy: with a function timeout, every invocation carries a real deadline (epoch
//! milliseconds) and the invoked function ARN asked for; everything else passes through unchanged.
//! The test acts as the function on the loop's Runtime API.

mod support;

use std::time::Duration;

use hyper::{Method, StatusCode};
use sc_local_loop::runtime_proxy::{CARGO_LAMBDA_DEADLINE_MS, CARGO_LAMBDA_INVOKED_FUNCTION_ARN};
use serde_json::json;
use support::{now_ms, options_without_function, start, Runtime};
use tokio::io::AsyncWriteExt;

const TIMEOUT: Duration = Duration::from_secs(30);

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .to_str()
        .expect("an ASCII header")
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn next_carries_the_real_deadline_and_the_invoked_arn_and_answers_pass_through() {
    // GIVEN a loop with a 3 s function timeout and an ARN, and the test as its function
    let mut options = options_without_function();
    options.function_timeout = Some(Duration::from_secs(3));
    let arn = format!("{}:live", options.function_arn());
    options.invoked_function_arn = Some(arn.clone());
    let local = start(options).await;
    let runtime = Runtime::new(local.runtime_api());
    assert!(
        !local.runtime_api().contains(&format!(":{}/", local.invoke_port())),
        "functions go through the proxy, not straight to cargo-lambda: {}",
        local.runtime_api()
    );

    // WHEN an invocation is handed over and answered
    let event = json!({"hello": "proxy", "n": 1});
    let (result, ()) = tokio::join!(local.invoke_within(&event, TIMEOUT), async {
        let before = now_ms();
        let invocation = runtime.next().await;
        let after = now_ms();

        // THEN it carries the epoch deadline of now + 3 s, the ARN, and everything else as sent
        let deadline: u64 = header(&invocation.headers, "lambda-runtime-deadline-ms")
            .parse()
            .expect("a number");
        assert!(
            (before + 3000..=after + 3000).contains(&deadline),
            "deadline {deadline} not within [{}, {}]",
            before + 3000,
            after + 3000
        );
        assert_eq!(header(&invocation.headers, "lambda-runtime-invoked-function-arn"), arn);
        assert!(header(&invocation.headers, "lambda-runtime-trace-id").starts_with("Root="));
        assert_eq!(invocation.event, event);
        let status = runtime
            .respond(&invocation.request_id, &json!({"answer": "through the proxy"}))
            .await;
        assert!(status.is_success(), "{status}");
    });
    assert_eq!(
        result.expect("the invocation succeeds"),
        json!({"answer": "through the proxy"})
    );

    // AND an error answer reaches the caller as the function's error
    let event = json!({"n": 2});
    let (result, ()) = tokio::join!(local.invoke_within(&event, TIMEOUT), async {
        let invocation = runtime.next().await;
        let status = runtime.fail(&invocation.request_id, "Boom", "it broke").await;
        assert!(status.is_success(), "{status}");
    });
    let error = result.expect_err("the invocation fails");
    assert_eq!(
        (error.error_type.as_str(), error.error_message.as_str()),
        ("Boom", "it broke")
    );

    // AND an answer to an invocation that does not exist gets what cargo-lambda gives, unchanged
    let direct = Runtime::new(&format!(
        "http://127.0.0.1:{}/.rt/{}",
        local.invoke_port(),
        local.function_name()
    ));
    let path = "/runtime/invocation/no-such-request/response";
    let (proxied_status, _, proxied_body) = runtime.call(Method::POST, path, &[], "{}").await;
    let (direct_status, _, direct_body) = direct.call(Method::POST, path, &[], "{}").await;
    assert_eq!((proxied_status, proxied_body), (direct_status, direct_body));
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn function_processes_are_pointed_at_the_proxy() {
    let mut options = options_without_function();
    options.function_timeout = Some(Duration::from_secs(5));
    options.function_command = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo \"runtime api: $AWS_LAMBDA_RUNTIME_API\"; exec sleep 600".into(),
    ]);
    let local = start(options).await;

    let mut probe = local.spawn_function("probe", &[]).expect("the probe starts");

    let expected = format!("runtime api: {}", local.runtime_api());
    for _ in 0..100 {
        if probe.log().contains(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(probe.log().contains(&expected), "{:?}", probe.log());
    probe.kill().await.expect("the probe stops");
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn a_runtime_that_dies_while_waiting_does_not_take_the_next_invocation() {
    // GIVEN a runtime whose /next waits at the proxy, and which then dies (its connection closes)
    let mut options = options_without_function();
    options.function_timeout = Some(Duration::from_secs(5));
    let local = start(options).await;
    let api = local.runtime_api().trim_start_matches("http://");
    let (host, path) = api.split_once('/').expect("host/path");
    let mut dead = tokio::net::TcpStream::connect(host).await.expect("the proxy accepts");
    let request = format!("GET /{path}/2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: {host}\r\n\r\n");
    dead.write_all(request.as_bytes()).await.expect("the request is sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(dead);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // WHEN the function is invoked and a live runtime asks for work
    let runtime = Runtime::new(local.runtime_api());
    let event = json!({"n": 1});
    let wait = Duration::from_secs(10);
    let (result, served) = tokio::join!(
        local.invoke_within(&event, wait),
        tokio::time::timeout(wait, async {
            let invocation = runtime.next().await;
            runtime.respond(&invocation.request_id, &json!("served")).await;
        })
    );

    // THEN the live runtime gets it (not the connection that is gone)
    assert!(served.is_ok(), "the live runtime got no invocation within {wait:?}");
    assert_eq!(result.expect("the live runtime answers"), json!("served"));
}

#[tokio::test]
#[ignore = "needs moto_server and cargo-lambda on PATH: run `make test`"]
async fn without_a_function_timeout_the_function_sees_what_cargo_lambda_sends() {
    let local = start(options_without_function()).await;
    assert!(local
        .runtime_api()
        .contains(&format!("127.0.0.1:{}/", local.invoke_port())));
    let runtime = Runtime::new(local.runtime_api());

    let event = json!({});
    let (result, ()) = tokio::join!(local.invoke_within(&event, TIMEOUT), async {
        let invocation = runtime.next().await;
        assert_eq!(
            header(&invocation.headers, "lambda-runtime-deadline-ms"),
            CARGO_LAMBDA_DEADLINE_MS
        );
        assert_eq!(
            header(&invocation.headers, "lambda-runtime-invoked-function-arn"),
            CARGO_LAMBDA_INVOKED_FUNCTION_ARN
        );
        assert_eq!(
            runtime.respond(&invocation.request_id, &json!({})).await,
            StatusCode::OK
        );
    });
    result.expect("the invocation succeeds");
}
