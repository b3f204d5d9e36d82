//! `sc-emulator`: runs the Service Catalog emulator until SIGINT/SIGTERM.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use sc_emulator::{EmulatorConfig, Seed};

const USAGE: &str = "\
usage: sc-emulator [--seed PATH] [--host 127.0.0.1] [--port 0] [--progress-ms 2000]
                   [--latency-ms 0] [--rate-limit OPERATION=PER_SECOND]...
                   [--fleet N [--fleet-tag KEY=VALUE]...] [--port-file PATH] [--quiet]

Serves the AWS Service Catalog and Resource Groups Tagging (GetResources) JSON 1.1 APIs on
http://HOST:PORT and a control API under /_emulator/. Without --seed the embedded seed.json is used. Port 0
picks a free port. --rate-limit (repeatable; OPERATION may be *) throttles calls beyond a
token bucket of PER_SECOND calls/s. --fleet adds N AVAILABLE products pp-bench00000001…
that PatchOS (act-patchos00001) runs on, tagged fleet=generated unless --fleet-tag is
given. Prints `listening on http://HOST:PORT` once bound; --port-file also writes the
port there.";

#[derive(Debug)]
struct Args {
    seed: Option<PathBuf>,
    host: IpAddr,
    port: u16,
    progress_ms: u64,
    latency_ms: u64,
    rate_limits: BTreeMap<String, f64>,
    fleet: usize,
    fleet_tags: BTreeMap<String, String>,
    port_file: Option<PathBuf>,
    quiet: bool,
}

/// `OPERATION=PER_SECOND`, e.g. `ExecuteProvisionedProductServiceAction=20`.
fn rate_limit(v: &str) -> Result<(String, f64), String> {
    let (operation, rate) = v
        .split_once('=')
        .ok_or_else(|| format!("--rate-limit {v:?}: expected OPERATION=PER_SECOND"))?;
    let rate: f64 = rate.parse().map_err(|e| format!("--rate-limit {v:?}: {e}"))?;
    if operation.is_empty() || !rate.is_finite() || rate <= 0.0 {
        return Err(format!("--rate-limit {v:?}: needs an operation and a positive rate"));
    }
    Ok((operation.to_owned(), rate))
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        seed: None,
        host: IpAddr::from([127, 0, 0, 1]),
        port: 0,
        progress_ms: EmulatorConfig::default().progress_ms,
        latency_ms: 0,
        rate_limits: BTreeMap::new(),
        fleet: 0,
        fleet_tags: BTreeMap::new(),
        port_file: None,
        quiet: false,
    };
    while let Some(arg) = argv.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--seed" => args.seed = Some(PathBuf::from(value("--seed")?)),
            "--host" => args.host = parsed("--host", value("--host")?)?,
            "--port" => args.port = parsed("--port", value("--port")?)?,
            "--progress-ms" => args.progress_ms = parsed("--progress-ms", value("--progress-ms")?)?,
            "--latency-ms" => args.latency_ms = parsed("--latency-ms", value("--latency-ms")?)?,
            "--rate-limit" => {
                let (operation, rate) = rate_limit(&value("--rate-limit")?)?;
                args.rate_limits.insert(operation, rate);
            }
            "--fleet" => args.fleet = parsed("--fleet", value("--fleet")?)?,
            "--fleet-tag" => {
                let (key, tag_value) = fleet_tag(&value("--fleet-tag")?)?;
                args.fleet_tags.insert(key, tag_value);
            }
            "--port-file" => args.port_file = Some(PathBuf::from(value("--port-file")?)),
            "--quiet" => args.quiet = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(args))
}

/// A flag's value parsed as `T`, the error naming the flag.
fn parsed<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| format!("{flag} {v:?}: {e}"))
}

/// `KEY=VALUE`, the key non-empty.
fn fleet_tag(v: &str) -> Result<(String, String), String> {
    match v.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("--fleet-tag {v:?}: expected KEY=VALUE")),
    }
}

/// The generated fleet's tags: those given, else `fleet=generated`.
fn fleet_tags(args: &Args) -> BTreeMap<String, String> {
    if args.fleet_tags.is_empty() {
        BTreeMap::from([("fleet".to_owned(), "generated".to_owned())])
    } else {
        args.fleet_tags.clone()
    }
}

/// Written to a temporary file and renamed, so a script polling for it never reads it half-written.
fn write_port_file(path: &PathBuf, port: u16) -> std::io::Result<()> {
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                eprintln!("sc-emulator: cannot listen for SIGTERM ({e}); stop with SIGINT");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The seed (read, then grown by `--fleet`) and the settings the flags give.
fn config(args: &Args) -> Result<EmulatorConfig, String> {
    let seed = match &args.seed {
        Some(path) => Seed::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => Seed::default_seed(),
    };
    let seed = match args.fleet {
        0 => seed,
        n => seed.with_generated_fleet(n, fleet_tags(args)),
    };
    Ok(EmulatorConfig {
        seed,
        progress_ms: args.progress_ms,
        latency_ms: args.latency_ms,
        rate_limits: args.rate_limits.clone(),
        verbose: !args.quiet,
        ..EmulatorConfig::default()
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sc-emulator: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match config(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sc-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handle = match sc_emulator::start(config, SocketAddr::new(args.host, args.port)).await {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("sc-emulator: cannot listen on {}:{}: {e}", args.host, args.port);
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.port_file {
        if let Err(e) = write_port_file(path, handle.addr().port()) {
            eprintln!("sc-emulator: cannot write port file {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let mut stdout = std::io::stdout();
    let announced = writeln!(stdout, "listening on {}", handle.url()).and_then(|()| stdout.flush());
    if let Err(e) = announced {
        eprintln!("sc-emulator: cannot write to stdout: {e}");
    }
    wait_for_signal().await;
    eprintln!("sc-emulator: shutting down");
    handle.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let args = parse(&[
            "--port=8080",
            "--progress-ms",
            "50",
            "--host",
            "0.0.0.0",
            "--latency-ms=5",
            "--rate-limit",
            "ExecuteProvisionedProductServiceAction=20",
            "--rate-limit=*=2.5",
        ])
        .expect("valid")
        .expect("not help");
        assert_eq!(
            args.rate_limits.get("ExecuteProvisionedProductServiceAction"),
            Some(&20.0)
        );
        assert_eq!(args.rate_limits.get("*"), Some(&2.5));
        assert_eq!(fleet_tags(&args).get("fleet").map(String::as_str), Some("generated"));
        let fleet = parse(&["--fleet", "1000", "--fleet-tag", "bench=run-1", "--fleet-tag=team=perf"])
            .expect("valid")
            .expect("not help");
        assert_eq!(fleet.fleet, 1000);
        assert_eq!(fleet_tags(&fleet).len(), 2);
        assert_eq!(fleet.fleet_tags.get("team").map(String::as_str), Some("perf"));
        assert_eq!(args.port, 8080);
        assert_eq!(args.progress_ms, 50);
        assert_eq!(args.latency_ms, 5);
        assert_eq!(args.host.to_string(), "0.0.0.0");
    }

    #[test]
    fn bad_flags_are_reported() {
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--seed"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["--rate-limit", "DescribeRecord"]).is_err());
        assert!(parse(&["--rate-limit", "DescribeRecord=0"]).is_err());
        assert!(parse(&["--rate-limit", "=5"]).is_err());
        assert!(parse(&["--fleet", "-1"]).is_err());
        assert!(parse(&["--fleet-tag", "novalue"]).is_err());
        assert!(parse(&["--help"]).expect("help").is_none());
    }
}
