//! Section 1, completion tracking (issue 10): two requests through the requests queue, one whose
//! action ends SUCCEEDED with outputs and one whose action has no usable role and ends FAILED;
//! each execution's EXECUTED result, its final result, and how long tracking took.

use std::time::Duration;

use serde_json::{json, Value};

use super::deployed::Deployed;
use super::inbox::{tracked_for, Received};
use super::show::{heading, output_keys, print_wrapped, result_line, short, step, text};

/// How long an execution may take to get its final result before the demo calls it missing.
const FINAL_WITHIN: Duration = Duration::from_secs(30);

/// A request and how its execution should end.
struct Tracked {
    label: &'static str,
    request: Value,
    ends: Ending,
}

enum Ending {
    Succeeded {
        output_keys: &'static [&'static str],
    },
    Failed {
        code: &'static str,
        message_has: &'static str,
    },
}

fn requests() -> [Tracked; 2] {
    [
        Tracked {
            label: "HealthCheck on web-canary",
            request: json!({"provisionedProductName": "web-canary", "serviceActionName": "HealthCheck"}),
            ends: Ending::Succeeded {
                output_keys: &["AutomationExecutionId", "HealthStatus", "ReportUrl"],
            },
        },
        Tracked {
            label: "CreateSnapshot on web-canary",
            request: json!({"provisionedProductName": "web-canary", "serviceActionName": "CreateSnapshot"}),
            ends: Ending::Failed {
                code: "AccessDeniedException",
                message_has: "ssm:StartAutomationExecution",
            },
        },
    ]
}

pub(crate) async fn run(demo: &mut Deployed<'_>) -> Result<(), String> {
    heading(
        "1. Completion tracking (issue 10)",
        "Execute only starts an action. After each EXECUTED result the function sends itself a delayed tracking \
         message through the requests queue; the mapping brings it back, the function checks DescribeRecord, and \
         publishes the final result: SUCCEEDED with the record's outputs, or FAILED with the record's error.",
    );
    let requests = requests();
    let mut sent = Vec::new();
    for tracked in &requests {
        let id = demo.send_request(&tracked.request).await?;
        println!(
            "   sent {:<30} {}  (message {})",
            tracked.label,
            tracked.request,
            short(&id)
        );
        sent.push(id);
    }
    let ended = demo
        .inbox
        .wait_until(FINAL_WITHIN, |inbox| {
            sent.iter().all(|id| {
                inbox
                    .first_for_source(id, "EXECUTED")
                    .is_some_and(|executed| inbox.final_for(executed).is_some())
            })
        })
        .await?;
    demo.report.expect(
        ended,
        format!(
            "every tracked execution has its final result within {} s",
            FINAL_WITHIN.as_secs()
        ),
    );
    for (tracked, id) in requests.iter().zip(&sent) {
        step(tracked.label);
        show_execution(demo, tracked, id);
    }
    Ok(())
}

/// Prints one execution's EXECUTED and final results and checks how it ended.
fn show_execution(demo: &mut Deployed<'_>, tracked: &Tracked, id: &str) {
    let Some(executed) = demo.inbox.first_for_source(id, "EXECUTED").cloned() else {
        demo.report
            .expect(false, format!("{}: an EXECUTED result for message {id}", tracked.label));
        return;
    };
    println!("   {}", result_line(&executed.result));
    let Some(last) = demo.inbox.final_for(&executed).cloned() else {
        demo.report.expect(false, format!("{}: a final result", tracked.label));
        return;
    };
    println!(
        "   {}  tracked {:.1} s",
        result_line(&last.result),
        tracked_for(&executed, &last).as_secs_f64()
    );
    check_ending(demo, tracked, &last);
}

fn check_ending(demo: &mut Deployed<'_>, tracked: &Tracked, last: &Received) {
    let label = tracked.label;
    match tracked.ends {
        Ending::Succeeded { output_keys: expected } => {
            let keys = output_keys(&last.result);
            println!("     record outputs: {} (values not shown)", keys.join(", "));
            demo.report
                .expect(last.outcome() == "SUCCEEDED", format!("{label} ends SUCCEEDED"));
            demo.report.expect(
                keys == expected,
                format!("{label}: record outputs {expected:?}, got {keys:?}"),
            );
        }
        Ending::Failed { code, message_has } => {
            let error = &last.result["error"];
            println!("     error {}:", text(&error["code"]));
            print_wrapped(7, text(&error["message"]));
            println!("     (no usable role: the action has neither its own role nor a launch role, so the");
            println!("      automation ran with the function's role; see docs/deploying.md)");
            demo.report
                .expect(last.outcome() == "FAILED", format!("{label} ends FAILED"));
            demo.report.expect(
                error["code"] == code && text(&error["message"]).contains(message_has),
                format!("{label}: error {code} naming {message_has}, got {error}"),
            );
        }
    }
}
