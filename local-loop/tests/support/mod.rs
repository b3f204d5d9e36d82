//! What the local loop's own tests share: starting a loop without a function process, and a tiny
//! Lambda runtime client so that a test can act as the function on the Runtime API.
// Each test binary uses only part of this module.
#![allow(dead_code)]
// Test support: `pub` for the test files that include it.
#![allow(unreachable_pub)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sc_local_loop::{LocalLoop, LoopOptions, Tools};
use serde_json::Value;
use tokio::task::JoinSet;

/// The workspace root: `cargo lambda watch` runs there and knows the function by its binary name.
pub fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Options for a loop whose function is the test itself: no function process is started.
pub fn options_without_function() -> LoopOptions {
    let mut options = LoopOptions::new("/nonexistent/function", project());
    options.start_function = false;
    options
}

/// Starts the loop. The tests that call this are `#[ignore]`d with the reason they need
/// moto_server and cargo-lambda; asked for without them, they fail rather than pass.
pub async fn start(options: LoopOptions) -> LocalLoop {
    if let Err(e) = Tools::find() {
        panic!("this test needs moto_server and cargo-lambda: {e}");
    }
    LocalLoop::start(options).await.expect("the local loop starts")
}

/// One invocation as a runtime receives it from `/next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub headers: HeaderMap,
    pub event: Value,
}

/// A Lambda runtime client on `AWS_LAMBDA_RUNTIME_API`, as the function's runtime library is.
#[derive(Clone)]
pub struct Runtime {
    http: Client<HttpConnector, Full<Bytes>>,
    api: String,
}

impl Runtime {
    pub fn new(runtime_api: &str) -> Self {
        Runtime {
            http: Client::builder(TokioExecutor::new()).build_http(),
            api: runtime_api.to_owned(),
        }
    }

    /// Sends one request to `{runtime_api}/2018-06-01{path}`; returns status, headers and body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}/2018-06-01{path}", self.api));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a valid request");
        let response = self.http.request(request).await.expect("the Runtime API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("a body").to_bytes();
        (status, headers, body)
    }

    /// Waits for the next invocation.
    pub async fn next(&self) -> Invocation {
        let (status, headers, body) = self.call(Method::GET, "/runtime/invocation/next", &[], "").await;
        assert_eq!(status, StatusCode::OK, "/next: {}", String::from_utf8_lossy(&body));
        let request_id = headers["lambda-runtime-aws-request-id"]
            .to_str()
            .expect("an ASCII request id")
            .to_owned();
        let event = serde_json::from_slice(&body).expect("a JSON event");
        Invocation {
            request_id,
            headers,
            event,
        }
    }

    /// Answers an invocation; returns the Runtime API's status.
    pub async fn respond(&self, request_id: &str, answer: &Value) -> StatusCode {
        let path = format!("/runtime/invocation/{request_id}/response");
        self.call(Method::POST, &path, &[], &answer.to_string()).await.0
    }

    /// Fails an invocation as the runtime library does; returns the Runtime API's status.
    pub async fn fail(&self, request_id: &str, error_type: &str, message: &str) -> StatusCode {
        let path = format!("/runtime/invocation/{request_id}/error");
        let body = serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string();
        let headers = [("lambda-runtime-function-error-type", error_type)];
        self.call(Method::POST, &path, &headers, &body).await.0
    }

    /// Serves invocations with `handler` on `workers` runtimes (execution environments) until the
    /// returned set is dropped.
    pub fn serve<F, Fut>(&self, workers: usize, handler: F) -> JoinSet<()>
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer> + Send,
    {
        let handler = Arc::new(handler);
        let mut set = JoinSet::new();
        for _ in 0..workers {
            let (runtime, handler) = (self.clone(), handler.clone());
            set.spawn(async move {
                loop {
                    let invocation = runtime.next().await;
                    match handler(invocation.event).await {
                        Answer::Respond(answer) => {
                            runtime.respond(&invocation.request_id, &answer).await;
                        }
                        Answer::Fail(error_type) => {
                            runtime
                                .fail(&invocation.request_id, error_type, "failed on purpose")
                                .await;
                        }
                        Answer::Nothing => {}
                    }
                }
            });
        }
        set
    }
}

/// How a served invocation ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Respond(Value),
    /// A function error of this type.
    Fail(&'static str),
    /// No answer at all: the invocation runs into its timeout.
    Nothing,
}

/// Epoch milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}
