//! `sc-local demo`: the built function under cargo-lambda's Runtime API, against moto (SQS and
//! EventBridge) and the Service Catalog emulator. First every sample event, then the function as
//! deployed: completion tracking, fleet runs and dry runs, and an AWS event that becomes an
//! action. It prints what comes back, and exits non-zero when anything is not as expected.

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use demo::report::Report;
use demo::{deployed, samples, Paths};

const USAGE: &str = "usage: sc-local demo [--function PATH] [--events DIR] [--project DIR]

Runs every events/*.json through the built function (cargo lambda invoke --data-file) under
cargo lambda watch, against moto and the Service Catalog emulator, and prints each response and
every result read back from the results queue. Then, with the function wired as deployed (a
requests queue and its event source mapping): completion tracking, fleet runs and dry runs, and
an AWS event (EventBridge in moto) that becomes an action. Exits 1 when any expectation fails.
moto_server and cargo-lambda must be on PATH (`make demo` sees to that).";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(paths) = parse_args(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    tokio::select! {
        code = run(paths) => code,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: stopping moto, the emulator, cargo lambda watch and the function");
            ExitCode::from(130)
        }
    }
}

/// `demo [--function PATH] [--events DIR] [--project DIR]`, or `None` for anything else.
fn parse_args(args: &[String]) -> Option<Paths> {
    let (first, rest) = args.split_first()?;
    if first != "demo" {
        return None;
    }
    let mut project = PathBuf::from(".");
    let mut function = None;
    let mut events = None;
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let value = PathBuf::from(rest.next()?);
        match flag.as_str() {
            "--function" => function = Some(value),
            "--events" => events = Some(value),
            "--project" => project = value,
            _ => return None,
        }
    }
    Some(Paths {
        function: function.unwrap_or_else(|| project.join("target/debug/sc-action-runner")),
        events: events.unwrap_or_else(|| project.join("events")),
        project,
    })
}

/// Both loops, one after the other (each stopped before the next starts), then the summary.
async fn run(paths: Paths) -> ExitCode {
    let started = Instant::now();
    let mut report = Report::default();
    println!(
        "sc-local demo: {} under cargo lambda's Runtime API, against moto and the Service Catalog emulator",
        paths.function.display()
    );
    if let Err(e) = samples::run(&paths, &mut report).await {
        report.stopped("The sample events", &e);
    }
    if let Err(e) = deployed::run(&paths, &mut report).await {
        report.stopped("The function as deployed", &e);
    }
    report.print_summary(started.elapsed());
    report.exit_code()
}
