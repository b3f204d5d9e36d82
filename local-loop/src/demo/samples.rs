//! The sample events: every top-level `events/*.json` through `cargo lambda invoke --data-file`,
//! each response and every result printed, then `sqs-batch.json` redelivered. A loop of its own,
//! with no requests queue: the function as it runs with only `RESULTS_QUEUE_URL` set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sc_local_loop::{LocalLoop, LoopOptions};
use serde_json::Value;

use super::report::Report;
use super::show::{heading, print_wrapped, result_line, short, step};
use super::Paths;

/// The seed's provisioned product that is UNDER_CHANGE: Execute answers InvalidStateException,
/// which is retried, so its FIFO message group is handed back.
const UNDER_CHANGE: &str = "pp-migrating0001";

/// Runs the sample events in a loop of their own; the loop is stopped when this returns.
pub(crate) async fn run(paths: &Paths, report: &mut Report) -> Result<(), String> {
    heading(
        "The sample events: every events/*.json through `cargo lambda invoke --data-file`",
        "The function with only RESULTS_QUEUE_URL set (no requests queue, so no tracking): each response, \
         and every result it published, read back from the results queue.",
    );
    let files = sample_files(&paths.events)?;
    // JSON logs, so that the cause of each hand-back can be read from them.
    let options = LoopOptions::new(&paths.function, &paths.project).env("AWS_LAMBDA_LOG_FORMAT", "JSON");
    let local = LocalLoop::start(options).await.map_err(|e| e.to_string())?;
    println!(
        "   SQS (moto) {}   Service Catalog {}",
        local.moto_url(),
        local.emulator().url()
    );
    println!(
        "   Runtime API http://127.0.0.1:{} (function {})   results queue {}",
        local.invoke_port(),
        local.function_name(),
        local.results_queue_url()
    );

    for file in &files {
        step(&display(file));
        run_one(&local, file, report).await?;
    }
    if let Some(batch) = files.iter().find(|f| f.ends_with("sqs-batch.json")) {
        redeliver(&local, batch, report).await?;
    }
    Ok(())
}

fn sample_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.json in {}", dir.display()));
    }
    Ok(files)
}

/// `events/x.json`, relative to the project when it can be.
fn display(file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("events/{name}")
}

/// Invokes the function with one event file; prints the response and the results it published,
/// and checks that every request ended as a published result or was handed back for a reason.
async fn run_one(local: &LocalLoop, file: &Path, report: &mut Report) -> Result<(), String> {
    let event: Value = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("{} is not JSON", file.display()))?;
    report.invoked();
    let output = local
        .invoke_cli(file)
        .await
        .map_err(|e| format!("cargo lambda invoke: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let response: Option<Value> = serde_json::from_str(&stdout).ok();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("(no message)");
        println!("   invocation failed: {}", first.trim());
    }
    report.expect(
        output.status.success() && response.is_some(),
        format!("{}: the invocation answers with JSON", display(file)),
    );

    let results = local.take_results().await.map_err(|e| e.to_string())?;
    report.count(&results);
    let handed_back = match (&response, event.get("Records")) {
        (Some(response), Some(_)) => print_batch_response(local, &event, response),
        (Some(response), None) => {
            println!(
                "   response: {} (the published result)",
                response["outcome"].as_str().unwrap_or("?")
            );
            Vec::new()
        }
        (None, _) => Vec::new(),
    };
    for r in &results {
        println!("   result: {}", result_line(r));
    }
    if results.is_empty() {
        println!("   result: (none on the results queue)");
    }
    check_every_request_accounted_for(file, &event, &handed_back, &results, report);
    Ok(())
}

/// Prints an SQS batch response: every record acknowledged, or which were handed back and why
/// (the cause as the function logged it). Returns the handed-back message ids.
fn print_batch_response(local: &LocalLoop, event: &Value, response: &Value) -> Vec<String> {
    let ids: Vec<String> = response["batchItemFailures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
        .collect();
    let records = event["Records"].as_array().map_or(0, Vec::len);
    if ids.is_empty() {
        let all = if records == 1 {
            "the record".to_owned()
        } else {
            format!("all {records} records")
        };
        println!("   response: batchItemFailures: [] ({all} acknowledged)");
        return ids;
    }
    println!(
        "   response: {} of {records} records handed back for retry (batchItemFailures), {} acknowledged:",
        ids.len(),
        records - ids.len()
    );
    let groups = message_groups(event);
    let causes = hand_back_causes(&local.function_log());
    for id in &ids {
        let group = groups
            .get(id)
            .map_or(String::new(), |g| format!(" (message group {g})"));
        let cause = causes
            .get(id)
            .map_or("(no cause in the function's log)", String::as_str);
        println!("     {}{group}:", short(id));
        print_wrapped(7, cause);
    }
    ids
}

/// Message id → `MessageGroupId` of a FIFO batch's records.
fn message_groups(event: &Value) -> BTreeMap<String, String> {
    event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let id = r["messageId"].as_str()?;
            let group = r["attributes"]["MessageGroupId"].as_str()?;
            Some((id.to_owned(), group.to_owned()))
        })
        .collect()
}

/// Message id → why the function handed it back, from its JSON log lines "handing the record back".
fn hand_back_causes(log: &str) -> BTreeMap<String, String> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|l| l["fields"]["message"] == "handing the record back")
        .filter_map(|l| {
            let id = l["fields"]["message_id"].as_str()?;
            let cause = l["fields"]["cause"].as_str()?;
            Some((id.to_owned(), cause.to_owned()))
        })
        .collect()
}

/// Every request ends as a published result or is handed back: one result per record that was
/// not handed back (one for a direct or EventBridge event); only the FIFO group of the product
/// under change is handed back.
fn check_every_request_accounted_for(
    file: &Path,
    event: &Value,
    handed_back: &[String],
    results: &[Value],
    report: &mut Report,
) {
    let name = display(file);
    let requests = event["Records"].as_array().map_or(1, Vec::len);
    report.expect(
        results.len() == requests - handed_back.len(),
        format!(
            "{name}: one result per request not handed back ({} requests, {} handed back, {} results)",
            requests,
            handed_back.len(),
            results.len()
        ),
    );
    let groups = message_groups(event);
    let under_change: Vec<&String> = groups
        .iter()
        .filter(|(_, g)| *g == UNDER_CHANGE)
        .map(|(id, _)| id)
        .collect();
    let expected: Vec<&String> = if event["Records"][0]["attributes"]["MessageGroupId"].is_string() {
        under_change
    } else {
        Vec::new()
    };
    report.expect(
        handed_back.iter().collect::<Vec<_>>() == expected,
        format!("{name}: handed back exactly the records of {UNDER_CHANGE}'s message group (FIFO) or none, got {handed_back:?}"),
    );
}

/// The same SQS batch again: the same message ids give the same tokens, so nothing runs twice.
async fn redeliver(local: &LocalLoop, batch: &Path, report: &mut Report) -> Result<(), String> {
    step(&format!("redelivery of {} (same message ids)", display(batch)));
    let before = local.emulator().counters();
    run_one(local, batch, report).await?;
    let after = local.emulator().counters();
    let executions: u64 = after.executions.values().sum();
    let most = after.executions.values().max().copied().unwrap_or(0);
    println!(
        "   Service Catalog: {} new executions; {executions} executions in all for {} distinct tokens; most runs of one token: {most}",
        executions - before.executions.values().sum::<u64>(),
        after.executions.len()
    );
    report.expect(
        after.executions == before.executions,
        "the redelivered batch starts no new execution",
    );
    report.expect(most == 1, "every token ran exactly once");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_back_causes_come_from_the_json_log_lines() {
        let log = concat!(
            "{\"level\":\"INFO\",\"fields\":{\"message\":\"executed\"}}\n",
            "not json\n",
            "{\"level\":\"WARN\",\"fields\":{\"message\":\"handing the record back\",\"message_id\":\"m-4\",\"cause\":\"InvalidStateException: under change\"}}\n",
        );
        let causes = hand_back_causes(log);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes["m-4"], "InvalidStateException: under change");
    }
}
