//! `sc-local demo`: runs every sample event through the built function, under cargo-lambda's
//! Runtime API, against moto SQS and the Service Catalog emulator, and prints what comes back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sc_local_loop::{LocalLoop, LoopOptions};
use serde_json::Value;

const USAGE: &str = "usage: sc-local demo [--function PATH] [--events DIR] [--project DIR]

Runs every events/*.json through the built function (cargo lambda invoke --data-file) under
cargo lambda watch, against moto SQS and the Service Catalog emulator, and prints each response
and every result read back from the results queue. moto_server and cargo-lambda must be on PATH
(`make demo` sees to that).";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("demo") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut project = PathBuf::from(".");
    let mut function = None;
    let mut events = None;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().cloned();
        match (flag.as_str(), value) {
            ("--function", Some(v)) => function = Some(PathBuf::from(v)),
            ("--events", Some(v)) => events = Some(PathBuf::from(v)),
            ("--project", Some(v)) => project = PathBuf::from(v),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let function = function.unwrap_or_else(|| project.join("target/debug/sc-action-runner"));
    let events = events.unwrap_or_else(|| project.join("events"));

    tokio::select! {
        code = demo(function, project, events) => code,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: stopping moto, the emulator, cargo lambda watch and the function");
            ExitCode::from(130)
        }
    }
}

async fn demo(function: PathBuf, project: PathBuf, events: PathBuf) -> ExitCode {
    println!(
        "Starting moto (SQS), the Service Catalog emulator, cargo lambda watch and {}",
        function.display()
    );
    let local = match LocalLoop::start(LoopOptions::new(&function, &project)).await {
        Ok(local) => local,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("  SQS (moto)          {}", local.moto_url());
    println!("  Service Catalog     {}", local.emulator().url());
    println!(
        "  Runtime API         http://127.0.0.1:{}  (function {})",
        local.invoke_port(),
        local.function_name()
    );
    println!("  results queue       {}", local.results_queue_url());

    let mut files: Vec<PathBuf> = match std::fs::read_dir(&events) {
        Ok(dir) => dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", events.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();

    let (mut executed, mut rejected) = (0, 0);
    for file in &files {
        println!("\n== {}", file.display());
        match run_one(&local, file).await {
            Ok((e, r)) => {
                executed += e;
                rejected += r;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    // Redelivery: SQS hands the same messages back; the tokens make it safe.
    if let Some(batch) = files.iter().find(|f| f.ends_with("sqs-batch.json")) {
        println!("\n== redelivery of {} (same message ids)", batch.display());
        if let Err(e) = run_one(&local, batch).await {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        let counters = local.emulator().counters();
        let most = counters.executions.values().max().copied().unwrap_or(0);
        println!(
            "   Service Catalog ran {} executions for {} distinct tokens; most runs of one token: {most}",
            counters.executions.values().sum::<u64>(),
            counters.executions.len()
        );
    }

    println!(
        "\nDone: {} events, {executed} EXECUTED and {rejected} REJECTED results read back from the results queue.",
        files.len()
    );
    if executed == 0 || rejected == 0 {
        eprintln!("error: expected both EXECUTED and REJECTED results");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Invokes the function with one event file and prints the response and the results it sent.
async fn run_one(local: &LocalLoop, file: &Path) -> Result<(usize, usize), String> {
    let output = local
        .invoke_cli(file)
        .await
        .map_err(|e| format!("cargo lambda invoke: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() {
        let shown = serde_json::from_str::<Value>(&stdout)
            .map(|v| response_summary(&v))
            .unwrap_or_else(|_| stdout.trim().to_owned());
        println!("   response: {shown}");
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("(no message)");
        println!("   invocation failed: {}", first.trim());
    }
    let results = local.take_results().await.map_err(|e| e.to_string())?;
    let (mut executed, mut rejected) = (0, 0);
    for r in &results {
        match r["outcome"].as_str() {
            Some("EXECUTED") => executed += 1,
            Some("REJECTED") => rejected += 1,
            _ => {}
        }
        println!("   result: {}", result_line(r));
    }
    if results.is_empty() {
        println!("   result: (none on the results queue)");
    }
    Ok((executed, rejected))
}

fn short(s: &str) -> String {
    if s.len() > 16 {
        format!("{}…{}", &s[..8], &s[s.len() - 4..])
    } else {
        s.to_owned()
    }
}

fn response_summary(v: &Value) -> String {
    if let Some(failures) = v.get("batchItemFailures").and_then(Value::as_array) {
        if failures.is_empty() {
            return "batchItemFailures: [] (every record acknowledged)".into();
        }
        let ids: Vec<String> = failures
            .iter()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .map(short)
            .collect();
        return format!("batchItemFailures: {} handed back ({})", ids.len(), ids.join(", "));
    }
    format!("{} (the published result)", v["outcome"].as_str().unwrap_or("?"))
}

fn result_line(r: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let source = format!(
        "{} {}",
        s(&r["source"]["kind"]),
        short(r["source"]["id"].as_str().unwrap_or("-"))
    );
    let token = short(r["executeToken"].as_str().unwrap_or("-"));
    match r["outcome"].as_str() {
        Some("EXECUTED") => format!(
            "EXECUTED  {source:<24} {} → {}  record {} ({})  token {token}",
            s(&r["provisionedProductId"]),
            s(&r["serviceActionId"]),
            s(&r["recordDetail"]["RecordId"]),
            s(&r["recordDetail"]["Status"]),
        ),
        Some("REJECTED") => {
            let message: String = s(&r["error"]["message"]).chars().take(110).collect();
            format!("REJECTED  {source:<24} {}: {message}", s(&r["error"]["code"]))
        }
        _ => r.to_string(),
    }
}
