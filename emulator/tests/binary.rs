//! The `sc-emulator` binary as a script would use it: announce, port file, serve, stop on SIGTERM.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[cfg(unix)]
#[tokio::test]
async fn binary_announces_its_port_serves_and_exits_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("sc-emulator-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port_file = dir.join("port");
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/seed.json");

    let mut child = Command::new(env!("CARGO_BIN_EXE_sc-emulator"))
        .args(["--seed", seed, "--port", "0", "--progress-ms", "0", "--quiet"])
        .arg("--port-file")
        .arg(&port_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sc-emulator");

    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("announced in time")
        .expect("read stdout");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("announce line")
        .to_owned();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in url");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let written = std::fs::read_to_string(&port_file).expect("port file");
    assert_eq!(written.trim(), port.to_string());

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let resp = aws(addr, "DescribeProvisionedProduct", r#"{"Name":"web-staging"}"#).await;
    assert_eq!(resp.json()["ProvisionedProductDetail"]["Id"], "pp-webstag000001");

    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[tokio::test]
async fn binary_generates_a_fleet_and_applies_rate_limits_from_its_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sc-emulator"))
        .args(["--port", "0", "--quiet", "--fleet", "5", "--fleet-tag", "bench=run-1"])
        .args(["--rate-limit", "DescribeRecord=1.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sc-emulator");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    tokio::time::timeout(Duration::from_secs(10), BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("announced in time")
        .expect("read stdout");
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.parse().ok())
        .expect("announce line with an address");

    let found = aws(
        addr,
        "SearchProvisionedProducts",
        r#"{"Filters":{"SearchQuery":["id:pp-bench00000005"]}}"#,
    )
    .await;
    let attr = &found.json()["ProvisionedProducts"][0];
    assert_eq!(attr["Tags"], serde_json::json!([{"Key": "bench", "Value": "run-1"}]));
    let limits = raw(addr, "GET", "/_emulator/rate-limits", &[], "").await.json();
    assert_eq!(limits["rateLimits"]["DescribeRecord"], 1.5);
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn binary_rejects_a_missing_seed_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_sc-emulator"))
        .args(["--seed", "/nonexistent/seed.json"])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read seed"));
}
