//! Section 3, an AWS event becomes an action (issue 15): the `ec2-instance-stopped` preset as a
//! real EventBridge rule in moto, targeting the requests queue with the preset's input
//! transformer; EC2's own "instance stopped" event put on the bus; the request that arrived; the
//! action run on the provisioned product that owns the instance. Then one case of
//! `events/aws/cases.json` that the function must refuse.

use std::path::Path;
use std::time::Duration;

use sc_local_loop::eventbridge::{load_presets, pattern_for_moto, read_json, EventBridge, TargetQueue};
use serde_json::Value;

use super::deployed::Deployed;
use super::inbox::tracked_for;
use super::show::{heading, parameter_keys, print_wrapped, result_line, short, step, text};

const PRESET: &str = "ec2-instance-stopped";
/// The refused case shown: a resource whose owner lives in another account.
const REFUSED_CODE: &str = "OtherAccountOrRegion";
const RESULT_WITHIN: Duration = Duration::from_secs(20);
const FINAL_WITHIN: Duration = Duration::from_secs(30);

/// One entry of `events/aws/cases.json`.
struct Case {
    sample: String,
    transformed: Option<String>,
    expect: Value,
}

/// The rule and the queue that receives a copy of every request it delivers, so the demo can show
/// what arrived without taking it from the event source mapping.
struct Rule<'a> {
    eventbridge: EventBridge,
    copies: TargetQueue,
    dir: &'a Path,
}

pub(crate) async fn run(demo: &mut Deployed<'_>) -> Result<(), String> {
    heading(
        "3. An AWS event becomes an action (issue 15)",
        "An EventBridge rule (the ec2-instance-stopped preset: its pattern and input transformer, as the template \
         deploys them) turns EC2's own event into a request that names the instance (resourceArn) and sends it \
         to the requests queue. The function finds the provisioned product that owns the instance by its \
         aws:servicecatalog:provisionedProductArn tag (GetResources) and runs the action there.",
    );
    let dir = demo.paths.events.join("aws");
    let (action, partition, cases) = read_cases(&dir)?;
    let rule = create_rule(demo, &dir, &action, &partition).await?;
    let executed = cases
        .iter()
        .find(|c| c.expect["outcome"] == "EXECUTED")
        .ok_or("cases.json has no EXECUTED case for the preset")?;
    let refused = cases
        .iter()
        .find(|c| c.expect["code"] == REFUSED_CODE)
        .ok_or_else(|| format!("cases.json has no {REFUSED_CODE} case for the preset"))?;
    for case in [executed, refused] {
        run_case(demo, &rule, case).await?;
    }
    Ok(())
}

/// The action name and partition of cases.json, and its cases for the preset that expect a result.
fn read_cases(dir: &Path) -> Result<(String, String, Vec<Case>), String> {
    let doc = read_json(&dir.join("cases.json")).map_err(|e| e.to_string())?;
    let cases = doc["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["preset"] == PRESET && c["expect"].is_object())
        .map(|c| Case {
            sample: text(&c["sample"]).to_owned(),
            transformed: c["transformed"].as_str().map(str::to_owned),
            expect: c["expect"].clone(),
        })
        .collect();
    Ok((
        text(&doc["testAction"]).to_owned(),
        text(&doc["partition"]).to_owned(),
        cases,
    ))
}

/// The preset's rule to the requests queue, and the same rule to a queue that keeps copies.
async fn create_rule<'a>(
    demo: &Deployed<'_>,
    dir: &'a Path,
    action: &str,
    partition: &str,
) -> Result<Rule<'a>, String> {
    let presets = load_presets(dir).map_err(|e| e.to_string())?;
    let preset = presets.get(PRESET).ok_or_else(|| format!("no preset {PRESET}"))?;
    let sample = read_json(&preset.sample).map_err(|e| e.to_string())?;
    let pattern = pattern_for_moto(&preset.event_pattern, &sample);
    let transformer = preset.transformer_for(action, partition);
    let eventbridge = EventBridge::connect(demo.local.moto_url()).await;
    let requests = TargetQueue {
        url: demo.requests.url.clone(),
        arn: demo.requests.arn.clone(),
    };
    let copies = eventbridge
        .create_queue("sc-demo-event-copies")
        .await
        .map_err(|e| e.to_string())?;
    for (name, queue) in [
        (format!("sc-{PRESET}"), &requests),
        (format!("sc-{PRESET}-copy"), &copies),
    ] {
        eventbridge
            .route_to_queue(&name, &pattern, Some(&transformer), queue)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!("   rule sc-{PRESET}: {pattern}");
    println!(
        "     → the requests queue, action {action} (and a second rule, the same, → a queue of copies to show here)"
    );
    Ok(Rule {
        eventbridge,
        copies,
        dir,
    })
}

/// Puts one sample AWS event on the bus and follows it to its result (and final result).
async fn run_case(demo: &mut Deployed<'_>, rule: &Rule<'_>, case: &Case) -> Result<(), String> {
    let event = read_json(&rule.dir.join(&case.sample)).map_err(|e| e.to_string())?;
    step(&format!(
        "PutEvents events/aws/{} ({}, {})",
        case.sample,
        text(&event["detail-type"]),
        text(&event["resources"][0])
    ));
    let event_id = rule.eventbridge.put_event(&event).await.map_err(|e| e.to_string())?;
    let arrived = rule
        .eventbridge
        .take_bodies(&rule.copies)
        .await
        .map_err(|e| e.to_string())?;
    let request: Value = arrived
        .first()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    println!(
        "   arrived: resourceArn {}, serviceActionName {}, parameters [{}], idempotencyKey {} (the event's id)",
        text(&request["resourceArn"]),
        text(&request["serviceActionName"]),
        parameter_keys(&request),
        short(text(&request["idempotencyKey"]))
    );
    check_arrived(demo, rule, case, &event, &event_id, &request);

    let arn = text(&request["resourceArn"]).to_owned();
    demo.inbox
        .wait_until(RESULT_WITHIN, |inbox| inbox.first_for_resource(&arn).is_some())
        .await?;
    let Some(result) = demo.inbox.first_for_resource(&arn).cloned() else {
        demo.report.expect(
            false,
            format!("a result for {arn} within {} s", RESULT_WITHIN.as_secs()),
        );
        return Ok(());
    };
    check_result(demo, case, &result.result, &arn);
    if result.outcome() != "EXECUTED" {
        println!(
            "   {:<10} sqs {:<20} {}:",
            result.outcome(),
            short(text(&result.result["source"]["id"])),
            text(&result.result["error"]["code"])
        );
        print_wrapped(5, text(&result.result["error"]["message"]));
        return Ok(());
    }
    println!("   {}", result_line(&result.result));
    println!(
        "     on {} ({}), the provisioned product that owns {arn}",
        text(&result.result["recordDetail"]["ProvisionedProductName"]),
        text(&result.result["provisionedProductId"])
    );
    demo.inbox
        .wait_until(FINAL_WITHIN, |inbox| inbox.final_for(&result).is_some())
        .await?;
    match demo.inbox.final_for(&result).cloned() {
        Some(last) => {
            println!(
                "   {}  tracked {:.1} s, resourceArn kept",
                result_line(&last.result),
                tracked_for(&result, &last).as_secs_f64()
            );
            demo.report.expect(
                last.outcome() == "SUCCEEDED" && last.result["resourceArn"] == arn.as_str(),
                format!("the action on {arn} ends SUCCEEDED, its result naming the resource"),
            );
        }
        None => {
            demo.report
                .expect(false, format!("a final result for the action on {arn}"));
        }
    }
    Ok(())
}

/// What arrived is what the preset's `.transformed.json` says, with this event's id.
fn check_arrived(
    demo: &mut Deployed<'_>,
    rule: &Rule<'_>,
    case: &Case,
    event: &Value,
    event_id: &str,
    request: &Value,
) {
    let expected = case
        .transformed
        .as_ref()
        .and_then(|f| read_json(&rule.dir.join(f)).ok())
        .map(|t| t.to_string().replace(text(&event["id"]), event_id))
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    demo.report.expect(
        expected.as_ref() == Some(request),
        format!(
            "the request that arrived is events/aws/{} with the event's id",
            case.transformed.as_deref().unwrap_or("?")
        ),
    );
}

/// The result is what cases.json expects, and names the resource.
fn check_result(demo: &mut Deployed<'_>, case: &Case, result: &Value, arn: &str) {
    let expect = &case.expect;
    let mut holds = result["outcome"] == expect["outcome"] && result["resourceArn"] == arn;
    for (field, member) in [
        ("code", &result["error"]["code"]),
        ("provisionedProductId", &result["provisionedProductId"]),
        ("serviceActionId", &result["serviceActionId"]),
    ] {
        if let Some(wanted) = expect.get(field) {
            holds &= member == wanted;
        }
    }
    demo.report.expect(
        holds,
        format!(
            "events/aws/{}: {} as cases.json expects, with resourceArn",
            case.sample, expect
        ),
    );
}
