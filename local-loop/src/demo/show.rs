//! How the demo prints things: headings, shortened ids, one line per result, wrapped messages.
//! Parameter values and record output values are never printed, only their keys.

use serde_json::Value;

/// Width the demo wraps long messages at.
const WIDTH: usize = 110;

/// A section heading and the line that says what it shows.
pub(crate) fn heading(title: &str, explanation: &str) {
    println!("\n== {title}");
    for line in wrap(explanation, WIDTH - 3) {
        println!("   {line}");
    }
}

/// A sub-step of a section.
pub(crate) fn step(what: &str) {
    println!("-- {what}");
}

/// A long id as `12345678…abcd`; short ones as they are.
pub(crate) fn short(s: &str) -> String {
    if s.chars().count() > 16 {
        let head: String = s.chars().take(8).collect();
        let tail: String = s.chars().skip(s.chars().count() - 4).collect();
        format!("{head}…{tail}")
    } else {
        s.to_owned()
    }
}

/// A string member, or `-`.
pub(crate) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// `text` cut at `max` characters (with `…` when cut).
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// Words of `text` in lines of at most `width` characters (a longer word gets a line of its own).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Prints `text` wrapped, each line indented by `indent` spaces.
pub(crate) fn print_wrapped(indent: usize, text: &str) {
    for line in wrap(text, WIDTH.saturating_sub(indent)) {
        println!("{:indent$}{line}", "");
    }
}

/// The keys of a request's `parameters` (never their values).
pub(crate) fn parameter_keys(request: &Value) -> String {
    match request["parameters"].as_object() {
        Some(p) if !p.is_empty() => p.keys().cloned().collect::<Vec<_>>().join(", "),
        _ => "none".to_owned(),
    }
}

/// The `OutputKey`s of a final result's `recordOutputs` (never their values).
pub(crate) fn output_keys(result: &Value) -> Vec<String> {
    result["recordOutputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["OutputKey"].as_str().map(str::to_owned))
        .collect()
}

/// A list of strings as `a, b, c` (`none` when empty).
pub(crate) fn list(v: &Value) -> String {
    let items: Vec<&str> = v.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The `fleet` block of a FANNED_OUT result (`dry_run`: a DRY_RUN's) in one line.
pub(crate) fn fleet_line(fleet: &Value, dry_run: bool) -> String {
    let skipped = &fleet["skipped"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let targets = fleet["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
    let span = match (targets.first(), targets.last()) {
        (Some(first), Some(last)) if targets.len() > 1 => format!("{} … {}", text(first), text(last)),
        (Some(only), _) => text(only).to_owned(),
        _ => "none".to_owned(),
    };
    format!(
        "{} candidates, {} {}, skipped {} (status {}, type {}, notAllowed {}); targets {span}",
        n(&fleet["candidates"]),
        if dry_run { "would enqueue" } else { "enqueued" },
        n(&fleet["enqueued"]),
        n(&skipped["status"]) + n(&skipped["type"]) + n(&skipped["notAllowed"]),
        n(&skipped["status"]),
        n(&skipped["type"]),
        n(&skipped["notAllowed"]),
    )
}

/// One result in one line: its outcome, where it came from and what it says.
pub(crate) fn result_line(r: &Value) -> String {
    let source = format!("{} {}", text(&r["source"]["kind"]), short(text(&r["source"]["id"])));
    let ids = format!("{} → {}", text(&r["provisionedProductId"]), text(&r["serviceActionId"]));
    let record = format!(
        "record {} ({})",
        text(&r["recordDetail"]["RecordId"]),
        text(&r["recordDetail"]["Status"])
    );
    let outcome = text(&r["outcome"]);
    match outcome {
        "EXECUTED" => format!(
            "EXECUTED   {source:<24} {ids}  {record}  token {}",
            short(text(&r["executeToken"]))
        ),
        "SUCCEEDED" => format!("SUCCEEDED  {source:<24} {ids}  {record}"),
        "FAILED" | "TIMED_OUT" => format!(
            "{outcome:<10} {source:<24} {ids}  {record}  {}",
            text(&r["error"]["code"])
        ),
        "REJECTED" => format!(
            "REJECTED   {source:<24} {}: {}",
            text(&r["error"]["code"]),
            cut(text(&r["error"]["message"]), 110)
        ),
        "FANNED_OUT" => format!(
            "FANNED_OUT {source:<24} fleet run {}: {}",
            short(text(&r["executeToken"])),
            fleet_line(&r["fleet"], false)
        ),
        "DRY_RUN" if r["fleet"].is_object() => {
            format!("DRY_RUN    {source:<24} fleet: {}", fleet_line(&r["fleet"], true))
        }
        "DRY_RUN" => {
            let d = &r["dryRun"];
            format!(
                "DRY_RUN    {source:<24} {ids}  product {}; parameter keys {} (the action's: {}; unknown: {}); would execute: {}",
                text(&d["productStatus"]),
                list(&d["parameterKeys"]),
                list(&d["actionParameters"]),
                list(&d["unknownParameterKeys"]),
                if d["wouldExecute"] == Value::Bool(true) { "yes" } else { "no" },
            )
        }
        _ => cut(&r.to_string(), 160),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_ids_keep_their_head_and_tail() {
        assert_eq!(short("6f1c2d9e-1b1a-4d7e-9c55-000000000001"), "6f1c2d9e…0001");
        assert_eq!(short("pp-webprod000001"), "pp-webprod000001");
    }

    #[test]
    fn wrapping_keeps_words_whole_and_lines_short() {
        let lines = wrap("one two three four five six", 9);
        assert_eq!(lines, ["one two", "three", "four five", "six"]);
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn record_outputs_and_parameters_show_keys_only() {
        let result = json!({"recordOutputs": [{"OutputKey": "HealthStatus", "OutputValue": "Healthy"}]});
        assert_eq!(output_keys(&result), ["HealthStatus"]);
        let request = json!({"parameters": {"InstanceId": ["i-0secret"]}});
        assert_eq!(parameter_keys(&request), "InstanceId");
        let line = result_line(&json!({"outcome": "SUCCEEDED", "recordOutputs": result["recordOutputs"]}));
        assert!(!line.contains("Healthy"), "{line}");
    }

    #[test]
    fn a_fleet_block_reads_as_one_line() {
        let fleet = json!({"candidates": 100, "enqueued": 75, "skipped": {"status": 14, "type": 11, "notAllowed": 0},
                           "targets": ["pp-fleet00000001", "pp-fleet00000004", "pp-fleet00000298"]});
        assert_eq!(
            fleet_line(&fleet, false),
            "100 candidates, enqueued 75, skipped 25 (status 14, type 11, notAllowed 0); targets pp-fleet00000001 … pp-fleet00000298"
        );
        assert!(fleet_line(&fleet, true).starts_with("100 candidates, would enqueue 75, skipped 25"));
    }
}
