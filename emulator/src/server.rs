//! HTTP: the AWS JSON 1.1 endpoint on `POST /` and the control API under `/_emulator/`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::Api;
use crate::control;
use crate::error::ApiError;
use crate::shared::Shared;
use crate::traffic::Fate;

const AMZ_JSON: &str = "application/x-amz-json-1.1";
/// Larger request bodies are refused; real ones are a few KiB at most.
const MAX_BODY: usize = 1 << 20;

/// Returned by the service to make hyper close the connection without a response.
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

pub(crate) type HttpResponse = Response<Full<Bytes>>;

/// Accepts connections until `shutdown` changes or its sender is dropped; open connections
/// are then shut down gracefully (in-flight requests finish).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        eprintln!("sc-emulator: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                let mut conn_shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&shared), req));
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        // Errors here are client hang-ups and injected drops: nothing to report.
                        _ = conn.as_mut() => {}
                        _ = conn_shutdown.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<HttpResponse, DroppedByFault> {
    let path = req.uri().path().to_owned();
    if let Some(control_path) = path.strip_prefix("/_emulator/") {
        let method = req.method().clone();
        let control_path = control_path.to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let body = match read_body(req).await {
            Ok(body) => body,
            Err(resp) => return Ok(resp),
        };
        return Ok(control::route(&shared, &method, &control_path, &query, &body));
    }
    if path != "/" {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({ "message": format!("no route for {path}") }),
        ));
    }
    aws_call(&shared, req).await
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, HttpResponse> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(error_response(&ApiError::serialization(format!(
            "cannot read request body: {e}"
        )))),
    }
}

async fn aws_call(shared: &Shared, req: Request<Incoming>) -> Result<HttpResponse, DroppedByFault> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_post = req.method() == Method::POST;
    let body = match read_body(req).await {
        Ok(body) => body,
        Err(resp) => return Ok(resp),
    };
    let (api, operation) = match target.as_deref().and_then(Api::from_target) {
        Some((api, op)) if is_post => (api, op.to_owned()),
        _ => return Ok(error_response(&unknown_target(target.as_deref()))),
    };
    let parsed = parse_body(&body);
    let admission = shared.traffic().admit(&operation, parsed.as_ref().ok());
    let delay = shared.latency_ms + admission.latency_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let result = meet_fate(shared, api, &operation, parsed, admission.fate)?;
    log(shared, &operation, outcome(&result));
    Ok(match result {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(err) => error_response(&err),
    })
}

/// The answer the call gets, or `DroppedByFault` when it gets none.
fn meet_fate(
    shared: &Shared,
    api: Api,
    operation: &str,
    parsed: Result<Value, ApiError>,
    fate: Fate,
) -> Result<Result<Value, ApiError>, DroppedByFault> {
    match fate {
        Fate::Serve => Ok(dispatch(shared, api, operation, parsed)),
        Fate::Throttle => Ok(Err(api.throttling())),
        Fate::Fail500 => Ok(Err(api.internal("Injected internal failure"))),
        Fate::Drop => {
            log(shared, operation, "dropped");
            Err(DroppedByFault)
        }
        Fate::ApplyThenDrop => {
            let applied = dispatch(shared, api, operation, parsed);
            log(
                shared,
                operation,
                &format!("{} applied, then dropped", outcome(&applied)),
            );
            Err(DroppedByFault)
        }
        Fate::ApplyThen500 => {
            let applied = dispatch(shared, api, operation, parsed);
            log(shared, operation, &format!("{} applied, then 500", outcome(&applied)));
            Ok(Err(api.internal("Injected internal failure after the call took effect")))
        }
    }
}

fn unknown_target(target: Option<&str>) -> ApiError {
    ApiError::unknown_operation(match target {
        Some(t) => format!("Unknown operation target {t}"),
        None => "Missing X-Amz-Target header; expected POST / with AWS242ServiceCatalogService.<Operation> \
                 or ResourceGroupsTaggingAPI_20170126.<Operation>"
            .to_owned(),
    })
}

/// The body as JSON: empty means `{}`; anything but an object is a `SerializationException`.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::serialization(format!("Malformed JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::serialization("Request body must be a JSON object"));
    }
    Ok(value)
}

fn dispatch(shared: &Shared, api: Api, operation: &str, body: Result<Value, ApiError>) -> Result<Value, ApiError> {
    if !api.implements(operation) {
        return Err(ApiError::unknown_operation(format!(
            "Operation {operation} is not supported by this emulator"
        )));
    }
    shared.state().call(operation, body?)
}

fn outcome(result: &Result<Value, ApiError>) -> &'static str {
    match result {
        Ok(_) => "200",
        Err(err) => err.code,
    }
}

fn log(shared: &Shared, operation: &str, outcome: &str) {
    if shared.verbose {
        eprintln!("sc-emulator: {operation} -> {outcome}");
    }
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    resp
}

fn error_response(err: &ApiError) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(status, &err.body());
    resp.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(err.code));
    resp
}

/// Binds `addr` and returns the listener with the address actually bound (port 0 resolved).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}
