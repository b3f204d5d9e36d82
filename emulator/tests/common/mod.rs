//! Helpers shared by the integration tests: an SDK client aimed at an emulator, and a
//! bare HTTP/1.1 client for the control API and raw wire checks.

#![allow(dead_code)] // each test binary uses a different subset
// Test support: `pub` for the test files that include it.
#![allow(unreachable_pub)]

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_servicecatalog::config::Credentials;
use sc_emulator::{start_local, EmulatorConfig, EmulatorHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const PP: &str = "pp-webprod000001";
pub const PP_STAGING: &str = "pp-webstag000001";
pub const PP_BUSY: &str = "pp-migrating0001";
pub const PRODUCT: &str = "prod-webapp0000001";
pub const ARTIFACT: &str = "pa-webapp0000001";
pub const RESTART: &str = "act-restart00001";
pub const ORPHAN: &str = "act-orphan000001";
pub const EXECUTE: &str = "ExecuteProvisionedProductServiceAction";

/// An emulator on a free port with the default seed, its records taking `progress_ms` to finish.
pub async fn emulator(progress_ms: u64) -> EmulatorHandle {
    start_local(EmulatorConfig {
        progress_ms,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

/// SDK configuration aimed at the emulator, with static credentials. `attempts` = max attempts
/// (1 disables retries) with a tiny backoff.
async fn sdk_config(endpoint: &str, attempts: u32) -> SdkConfig {
    let retry = if attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(5))
            .with_max_backoff(Duration::from_millis(20))
    };
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(retry)
        .load()
        .await
}

/// A client configured like the Lambda's, but with static credentials and the emulator as
/// endpoint. `retries` = max attempts (1 disables retries) with a tiny backoff.
pub async fn client(endpoint: &str, attempts: u32) -> aws_sdk_servicecatalog::Client {
    aws_sdk_servicecatalog::Client::new(&sdk_config(endpoint, attempts).await)
}

/// A Resource Groups Tagging API client aimed at the same emulator, configured like [`client`].
pub async fn tagging_client(endpoint: &str, attempts: u32) -> aws_sdk_resourcegroupstagging::Client {
    aws_sdk_resourcegroupstagging::Client::new(&sdk_config(endpoint, attempts).await)
}

/// A response read off the wire: status, lower-cased headers, body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on a fresh connection (`Connection: close`), so the body ends at EOF.
pub async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8(buf).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// An AWS JSON 1.1 call without the SDK.
pub async fn aws(addr: std::net::SocketAddr, operation: &str, body: &str) -> RawResponse {
    let target = format!("AWS242ServiceCatalogService.{operation}");
    raw(
        addr,
        "POST",
        "/",
        &[
            ("X-Amz-Target", &target),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        body,
    )
    .await
}
