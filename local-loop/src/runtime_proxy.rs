//! A pass-through in front of cargo-lambda's Lambda Runtime API that gives every invocation a real
//! deadline.
//!
//! `cargo lambda watch` (1.9.2) answers `GET …/runtime/invocation/next` with a fixed
//! `Lambda-Runtime-Deadline-Ms: 600000` (a duration, not the epoch milliseconds Lambda sends) and
//! `Lambda-Runtime-Invoked-Function-Arn: function-arn` (a placeholder, not an ARN). A function that
//! plans its work by the deadline cannot be tested against that. This proxy sits between the
//! function processes and cargo-lambda and, on a successful `/next` answer only, sets
//! `Lambda-Runtime-Deadline-Ms` to the epoch milliseconds at which the function's timeout runs out
//! (counted from the moment the invocation passes through, as Lambda counts from the moment it hands
//! the event over) and, when asked, `Lambda-Runtime-Invoked-Function-Arn`.
//!
//! Everything else passes through unchanged: every route, method, status and header, bodies streamed
//! in both directions (trailers included), and errors. Each connection from a function is mirrored
//! by one connection to cargo-lambda, opened with it: when a function process dies while its `/next`
//! waits, the upstream connection is closed at once, so cargo-lambda sees it close exactly as it
//! would without the proxy and does not hand the next invocation to a runtime that is gone; any
//! other time it is left to finish sending (cargo-lambda answers a `/response` before it has read
//! all of the body, and closing then would cut the answer short) and closes by itself. If cargo-lambda cannot
//! be reached or drops a connection, the function's connection is closed without an answer.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, HOST, TRANSFER_ENCODING, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

use crate::{err, LoopError};

/// The header holding the invocation's deadline, in epoch milliseconds on Lambda.
pub const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";
/// The header holding the ARN the caller invoked (with a version or alias qualifier, when it used one).
pub const INVOKED_FUNCTION_ARN_HEADER: &str = "lambda-runtime-invoked-function-arn";
/// What `cargo lambda watch` 1.9.2 sends in [`INVOKED_FUNCTION_ARN_HEADER`]: a fixed placeholder.
pub const CARGO_LAMBDA_INVOKED_FUNCTION_ARN: &str = "function-arn";
/// What `cargo lambda watch` 1.9.2 sends in [`DEADLINE_HEADER`]: its 600 s timeout, not a time.
pub const CARGO_LAMBDA_DEADLINE_MS: &str = "600000";

/// What the proxy changes in a `/next` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationHeaders {
    /// `Lambda-Runtime-Deadline-Ms` becomes now + this, in epoch milliseconds. `None` passes
    /// cargo-lambda's value through.
    pub function_timeout: Option<Duration>,
    /// `Lambda-Runtime-Invoked-Function-Arn` becomes this. `None` passes cargo-lambda's placeholder
    /// through.
    pub invoked_function_arn: Option<String>,
}

/// A running proxy on 127.0.0.1; it stops, and closes every connection it holds, when dropped.
pub struct RuntimeApiProxy {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for RuntimeApiProxy {
    fn drop(&mut self) {
        // The accept task owns every connection task: aborting it ends them all.
        self.accept.abort();
    }
}

impl std::fmt::Debug for RuntimeApiProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApiProxy").field("addr", &self.addr).finish()
    }
}

impl RuntimeApiProxy {
    /// Listens on a free loopback port and forwards to `upstream` (cargo-lambda's address).
    pub async fn start(upstream: SocketAddr, headers: InvocationHeaders) -> Result<RuntimeApiProxy, LoopError> {
        if let Some(arn) = &headers.invoked_function_arn {
            HeaderValue::from_str(arn).map_err(|e| {
                err(format!(
                    "runtime proxy: invoked function ARN {arn:?} is no header value: {e}"
                ))
            })?;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| err(format!("runtime proxy: cannot listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err(format!("runtime proxy: no address: {e}")))?;
        let accept = tokio::spawn(accept_loop(listener, upstream, Arc::new(headers)));
        Ok(RuntimeApiProxy { addr, accept })
    }

    /// Where the proxy listens; a function's `AWS_LAMBDA_RUNTIME_API` names this host and port
    /// (with cargo-lambda's `/.rt/<function>` path after it).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, headers: Arc<InvocationHeaders>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((client, _)) = accepted {
                    connections.spawn(serve_connection(client, upstream, headers.clone()));
                }
            }
            // Reap finished connections so the set does not grow with every one ever served.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The upstream connection's task. When the function's connection ends while a `/next` waits
/// upstream (a killed runtime), the upstream connection is closed at once, so cargo-lambda does not
/// hand the next invocation to a runtime that is gone. Otherwise it is left to finish what it is
/// sending (cargo-lambda may answer a `/response` before it has read all of its body, and closing
/// then would cut the body) and to close by itself once its sender is gone.
struct Upstream {
    task: JoinHandle<()>,
    next_pending: Arc<AtomicBool>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if self.next_pending.load(Ordering::SeqCst) {
            self.task.abort();
        }
    }
}

async fn serve_connection(client: TcpStream, upstream: SocketAddr, headers: Arc<InvocationHeaders>) {
    // Answers go out as headers then body: with Nagle's algorithm on, the body would wait for the
    // peer's delayed ACK (40 ms on Linux) on every /next and every response.
    let _ = client.set_nodelay(true);
    let Ok(server) = TcpStream::connect(upstream).await else {
        return; // the function sees its connection closed, as with cargo-lambda gone
    };
    let _ = server.set_nodelay(true);
    let Ok((sender, connection)) = hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(server)).await
    else {
        return;
    };
    let next_pending = Arc::new(AtomicBool::new(false));
    let _upstream = Upstream {
        task: tokio::spawn(async move {
            let _ = connection.await;
        }),
        next_pending: next_pending.clone(),
    };
    let sender = Arc::new(Mutex::new(sender));
    let service = hyper::service::service_fn(move |request| {
        forward(request, sender.clone(), headers.clone(), upstream, next_pending.clone())
    });
    // Ends when the function closes its connection, also while a request is waiting upstream (a
    // killed runtime): the pending request is dropped, and with `_upstream` the upstream connection.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await;
}

/// Headers that describe one connection, not the message (RFC 9110 7.6.1); hyper sets its own.
fn strip_connection_headers(headers: &mut hyper::HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    for name in ["keep-alive", "proxy-connection"] {
        headers.remove(name);
    }
}

async fn forward(
    mut request: Request<Incoming>,
    sender: Arc<Mutex<SendRequest<Incoming>>>,
    headers: Arc<InvocationHeaders>,
    upstream: SocketAddr,
    next_pending: Arc<AtomicBool>,
) -> Result<Response<Incoming>, hyper::Error> {
    let is_next = request.method() == Method::GET && request.uri().path().ends_with("/runtime/invocation/next");
    strip_connection_headers(request.headers_mut());
    if let Ok(host) = HeaderValue::from_str(&upstream.to_string()) {
        request.headers_mut().insert(HOST, host);
    }
    // One request at a time per connection (HTTP/1.1 without pipelining), so the lock never waits.
    // A dropped future (the function's connection closed) leaves `next_pending` set: see `Upstream`.
    next_pending.store(is_next, Ordering::SeqCst);
    let mut response = {
        let mut sender = sender.lock().await;
        sender.ready().await?;
        sender.send_request(request).await?
    };
    next_pending.store(false, Ordering::SeqCst);
    strip_connection_headers(response.headers_mut());
    if is_next && response.status() == StatusCode::OK {
        rewrite_invocation_headers(response.headers_mut(), &headers, SystemTime::now());
    }
    Ok(response)
}

/// Sets the deadline and the invoked function ARN of one invocation, as configured.
fn rewrite_invocation_headers(map: &mut hyper::HeaderMap, headers: &InvocationHeaders, now: SystemTime) {
    if let Some(timeout) = headers.function_timeout {
        let deadline_ms = (now + timeout)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        map.insert(DEADLINE_HEADER, HeaderValue::from(deadline_ms as u64));
    }
    if let Some(arn) = headers
        .invoked_function_arn
        .as_deref()
        .and_then(|arn| HeaderValue::from_str(arn).ok())
    {
        map.insert(INVOKED_FUNCTION_ARN_HEADER, arn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_becomes_epoch_millis_of_now_plus_the_timeout() {
        let mut map = hyper::HeaderMap::new();
        map.insert(DEADLINE_HEADER, HeaderValue::from_static(CARGO_LAMBDA_DEADLINE_MS));
        map.insert(
            INVOKED_FUNCTION_ARN_HEADER,
            HeaderValue::from_static(CARGO_LAMBDA_INVOKED_FUNCTION_ARN),
        );
        let now = UNIX_EPOCH + Duration::from_millis(1_764_150_000_123);
        let headers = InvocationHeaders {
            function_timeout: Some(Duration::from_secs(30)),
            invoked_function_arn: None,
        };

        rewrite_invocation_headers(&mut map, &headers, now);

        assert_eq!(map[DEADLINE_HEADER], "1764150030123");
        assert_eq!(map[INVOKED_FUNCTION_ARN_HEADER], CARGO_LAMBDA_INVOKED_FUNCTION_ARN);
    }

    #[test]
    fn the_invoked_function_arn_is_set_only_when_given() {
        let mut map = hyper::HeaderMap::new();
        map.insert(DEADLINE_HEADER, HeaderValue::from_static(CARGO_LAMBDA_DEADLINE_MS));
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:sc-action-runner:live";
        let headers = InvocationHeaders {
            function_timeout: None,
            invoked_function_arn: Some(arn.into()),
        };

        rewrite_invocation_headers(&mut map, &headers, SystemTime::now());

        assert_eq!(map[DEADLINE_HEADER], CARGO_LAMBDA_DEADLINE_MS);
        assert_eq!(map[INVOKED_FUNCTION_ARN_HEADER], arn);
    }

    #[test]
    fn connection_headers_and_those_they_name_are_dropped() {
        let mut map = hyper::HeaderMap::new();
        map.insert(CONNECTION, HeaderValue::from_static("keep-alive, x-hop"));
        map.insert("x-hop", HeaderValue::from_static("1"));
        map.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        map.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        map.insert(
            "trailer",
            HeaderValue::from_static("lambda-runtime-function-error-type"),
        );
        map.insert("lambda-runtime-aws-request-id", HeaderValue::from_static("r-1"));

        strip_connection_headers(&mut map);

        let mut left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["lambda-runtime-aws-request-id", "trailer"]);
    }
}
