//! HTTP: the AWS JSON 1.1 endpoint on `POST /` and the control API under `/_emulator/`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
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

use crate::error::ApiError;
use crate::faults::{Fault, FaultKind};
use crate::state::{State, OPERATIONS};

/// The `X-Amz-Target` prefix of Service Catalog operations.
const TARGET_PREFIX: &str = "AWS242ServiceCatalogService.";
const AMZ_JSON: &str = "application/x-amz-json-1.1";
/// Larger request bodies are refused; real ones are a few KiB at most.
const MAX_BODY: usize = 1 << 20;

/// State shared by the accept loop, every connection and every handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) latency_ms: u64,
    pub(crate) verbose: bool,
}

impl Shared {
    /// A panic while holding the lock cannot leave the state half-updated in a way that
    /// matters to a test double, so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Returned by the service to make hyper close the connection without a response.
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

type HttpResponse = Response<Full<Bytes>>;

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
        let body = match read_body(req).await {
            Ok(body) => body,
            Err(resp) => return Ok(resp),
        };
        return Ok(control(&shared, &method, &control_path, &body));
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
    let operation = match target.as_deref().and_then(|t| t.strip_prefix(TARGET_PREFIX)) {
        Some(op) if is_post && !op.is_empty() => op.to_owned(),
        _ => {
            let err = ApiError::unknown_operation(match target {
                Some(t) => format!("Unknown operation target {t}"),
                None => "Missing X-Amz-Target header; expected POST / with AWS242ServiceCatalogService.<Operation>"
                    .to_owned(),
            });
            return Ok(error_response(&err));
        }
    };

    let verdict = {
        let mut state = shared.lock();
        state.count_call(&operation);
        state.faults.decide(&operation)
    };
    let delay = shared.latency_ms + verdict.latency_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let result = match verdict.failure {
        Some(FaultKind::Drop) => {
            log(shared, &operation, "dropped");
            return Err(DroppedByFault);
        }
        Some(FaultKind::Throttle) => Err(ApiError::throttling()),
        Some(FaultKind::Error500) => Err(ApiError::internal("Injected internal failure")),
        Some(FaultKind::Latency) | None => dispatch(shared, &operation, &body),
    };
    let response = match result {
        Ok(value) => {
            log(shared, &operation, "200");
            json_response(StatusCode::OK, &value)
        }
        Err(err) => {
            log(shared, &operation, err.code);
            error_response(&err)
        }
    };
    Ok(response)
}

fn dispatch(shared: &Shared, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
    if !OPERATIONS.contains(&operation) {
        return Err(ApiError::unknown_operation(format!(
            "Operation {operation} is not supported by this emulator"
        )));
    }
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::serialization(format!("Malformed JSON body: {e}")))?
    };
    if !value.is_object() {
        return Err(ApiError::serialization("Request body must be a JSON object"));
    }
    shared.lock().call(operation, value)
}

fn log(shared: &Shared, operation: &str, outcome: &str) {
    if shared.verbose {
        eprintln!("sc-emulator: {operation} -> {outcome}");
    }
}

fn json_response(status: StatusCode, value: &Value) -> HttpResponse {
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

fn control_error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    json_response(status, &json!({ "error": message.into() }))
}

fn control_ok() -> HttpResponse {
    json_response(StatusCode::OK, &json!({ "ok": true }))
}

/// The control API; see the crate docs for the routes.
fn control(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> HttpResponse {
    let path = path.trim_end_matches('/');
    match (method, path) {
        (&Method::GET, "health") => control_ok(),
        (&Method::GET, "counters") => match serde_json::to_value(&shared.lock().counters) {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => control_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        (&Method::GET, "faults") => match serde_json::to_value(shared.lock().faults.rules()) {
            Ok(v) => json_response(StatusCode::OK, &json!({ "faults": v })),
            Err(e) => control_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
        (&Method::POST, "faults") => {
            let fault: Fault = match serde_json::from_slice(body) {
                Ok(f) => f,
                Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {e}")),
            };
            if let Err(e) = fault.check() {
                return control_error(StatusCode::BAD_REQUEST, format!("invalid fault: {e}"));
            }
            shared.lock().faults.push(fault);
            control_ok()
        }
        (&Method::DELETE, "faults") => {
            shared.lock().faults.clear();
            control_ok()
        }
        (&Method::POST, "reset") => {
            shared.lock().reset();
            control_ok()
        }
        (&Method::POST, _) => match path
            .strip_prefix("provisioned-products/")
            .and_then(|rest| rest.strip_suffix("/status"))
        {
            Some(pp_id) => set_status(shared, pp_id, body),
            None => control_error(
                StatusCode::NOT_FOUND,
                format!("no control route POST /_emulator/{path}"),
            ),
        },
        _ => control_error(
            StatusCode::NOT_FOUND,
            format!("no control route {method} /_emulator/{path}"),
        ),
    }
}

fn set_status(shared: &Shared, pp_id: &str, body: &[u8]) -> HttpResponse {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct StatusBody {
        status: String,
        status_message: Option<String>,
    }
    let parsed: StatusBody = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, format!("expected {{\"Status\": …}}: {e}")),
    };
    if shared.lock().set_status(pp_id, &parsed.status, parsed.status_message) {
        control_ok()
    } else {
        control_error(StatusCode::NOT_FOUND, format!("no provisioned product {pp_id}"))
    }
}

/// Binds `addr` and returns the listener with the address actually bound (port 0 resolved).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}
