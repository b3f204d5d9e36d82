//! EventBridge in moto: the presets of `events/aws/presets.json` as real rules, and AWS-shaped
//! events put on the bus, so that a test sees what the rule's input transformer really delivers.
//!
//! moto (5.2.5, the pinned version) routes a matching event to an SQS target and applies the
//! target's `InputTransformer` on the way (`EventTemplateParser`: each `<variable>` of the template
//! is replaced by the value at its JSONPath, strings without quotes, then the result is parsed as
//! JSON). Two things it does differently from EventBridge, which callers must know:
//!
//! - **Event patterns do not reach into arrays.** moto flattens the event's objects but stops at a
//!   list, so a pattern such as `{"detail": {"findings": {"Compliance": {"Status": ["FAILED"]}}}}`
//!   (`findings` is a list) never matches, where EventBridge matches it against every element.
//!   [`pattern_for_moto`] drops those branches so that the rest of the pattern can still be checked
//!   in moto; [`pattern_matches`] evaluates a whole pattern with EventBridge's array semantics.
//! - **PutEvents makes the envelope.** The event's `id`, `account` and `region` come from moto (a
//!   new id per PutEvents, the caller's account and the client's region), as they do from
//!   EventBridge; only `source`, `detail-type`, `detail`, `resources` and `time` are the caller's.
//!   [`EventBridge::put_event`] returns the id the event got.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::{InputTransformer as SdkInputTransformer, PutEventsRequestEntry, Target};
use serde_json::Value;
use tokio::process::Child;

use crate::{err, LoopError};

/// The placeholder of the action name in a preset's template (the template's `!Sub` variable).
pub const ACTION_PLACEHOLDER: &str = "${ServiceActionName}";
/// The placeholder of the partition in a preset's template (CloudFormation's pseudo parameter).
pub const PARTITION_PLACEHOLDER: &str = "${AWS::Partition}";

/// An EventBridge input transformer: variables taken from the event by JSONPath, and the template
/// they are put into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputTransformer {
    pub input_paths_map: BTreeMap<String, String>,
    pub input_template: String,
}

/// One preset of `events/aws/presets.json`: the rule's pattern and transformer, and its sample.
#[derive(Debug, Clone)]
pub struct Preset {
    pub name: String,
    pub event_pattern: Value,
    /// As written in presets.json: the template still holds [`ACTION_PLACEHOLDER`] and, where it
    /// builds an ARN, [`PARTITION_PLACEHOLDER`].
    pub transformer: InputTransformer,
    /// The sample AWS event (absolute path).
    pub sample: PathBuf,
    /// What the transformer makes of the sample (absolute path).
    pub transformed: PathBuf,
    pub example_action: String,
}

impl Preset {
    /// The transformer as the stack deploys it: the placeholders substituted, as `!Sub` does.
    pub fn transformer_for(&self, action: &str, partition: &str) -> InputTransformer {
        InputTransformer {
            input_paths_map: self.transformer.input_paths_map.clone(),
            input_template: self
                .transformer
                .input_template
                .replace(ACTION_PLACEHOLDER, action)
                .replace(PARTITION_PLACEHOLDER, partition),
        }
    }
}

/// Reads the presets from `presets.json` in `dir` (`events/aws`), sample paths made absolute.
pub fn load_presets(dir: &Path) -> Result<BTreeMap<String, Preset>, LoopError> {
    let path = dir.join("presets.json");
    let document = read_json(&path)?;
    let entries = document
        .as_object()
        .ok_or_else(|| err(format!("{}: not an object of presets", path.display())))?;
    entries
        .iter()
        .map(|(name, entry)| {
            let text = |key: &str| {
                entry[key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(format!("{}: preset {name} has no string `{key}`", path.display())))
            };
            let input_paths_map = entry["inputPathsMap"]
                .as_object()
                .ok_or_else(|| {
                    err(format!(
                        "{}: preset {name} has no `inputPathsMap` object",
                        path.display()
                    ))
                })?
                .iter()
                .map(|(variable, json_path)| {
                    json_path
                        .as_str()
                        .map(|p| (variable.clone(), p.to_owned()))
                        .ok_or_else(|| {
                            err(format!(
                                "{}: preset {name}: `{variable}` is not a string",
                                path.display()
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            let preset = Preset {
                name: name.clone(),
                event_pattern: entry["eventPattern"].clone(),
                transformer: InputTransformer {
                    input_paths_map,
                    input_template: text("inputTemplate")?,
                },
                sample: dir.join(text("sample")?),
                transformed: dir.join(text("transformed")?),
                example_action: text("exampleAction")?,
            };
            Ok((name.clone(), preset))
        })
        .collect()
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> Result<Value, LoopError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| err(format!("{}: not JSON: {e}", path.display())))
}

/// An SQS queue that a rule delivers to.
#[derive(Debug, Clone)]
pub struct TargetQueue {
    pub url: String,
    pub arn: String,
}

/// EventBridge and SQS clients for one moto server.
#[derive(Debug, Clone)]
pub struct EventBridge {
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
}

impl EventBridge {
    /// Clients for the moto server at `endpoint_url`, in [`crate::REGION`], with test credentials.
    pub async fn connect(endpoint_url: &str) -> EventBridge {
        let sdk = crate::sdk_config(endpoint_url).await;
        EventBridge {
            events: aws_sdk_eventbridge::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
        }
    }

    pub fn events(&self) -> &aws_sdk_eventbridge::Client {
        &self.events
    }

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    /// Creates a standard queue (or finds the one of that name) and reads its ARN.
    pub async fn create_queue(&self, name: &str) -> Result<TargetQueue, LoopError> {
        let url = crate::create_queue(&self.sqs, name, false).await?;
        let arn = crate::queues::queue_arn(&self.sqs, &url).await?;
        Ok(TargetQueue { url, arn })
    }

    /// Creates (or replaces) rule `name` on the default bus with `pattern`, and makes `queue` its
    /// only target, with `transformer` (none: the event is delivered as it is). Returns the rule's ARN.
    pub async fn route_to_queue(
        &self,
        name: &str,
        pattern: &Value,
        transformer: Option<&InputTransformer>,
        queue: &TargetQueue,
    ) -> Result<String, LoopError> {
        let rule = self
            .events
            .put_rule()
            .name(name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .map_err(|e| err(format!("PutRule {name}: {}", DisplayErrorContext(e))))?;
        let mut target = Target::builder().id("queue").arn(&queue.arn);
        if let Some(t) = transformer {
            let paths: HashMap<String, String> = t.input_paths_map.clone().into_iter().collect();
            target = target.input_transformer(
                SdkInputTransformer::builder()
                    .set_input_paths_map(Some(paths))
                    .input_template(&t.input_template)
                    .build()
                    .map_err(|e| err(format!("InputTransformer of {name}: {e}")))?,
            );
        }
        let target = target.build().map_err(|e| err(format!("Target of {name}: {e}")))?;
        let put = self
            .events
            .put_targets()
            .rule(name)
            .targets(target)
            .send()
            .await
            .map_err(|e| err(format!("PutTargets {name}: {}", DisplayErrorContext(e))))?;
        if put.failed_entry_count() > 0 {
            return Err(err(format!("PutTargets {name}: {:?}", put.failed_entries())));
        }
        rule.rule_arn()
            .map(str::to_owned)
            .ok_or_else(|| err(format!("PutRule {name}: no RuleArn")))
    }

    /// Removes rule `name` and its target.
    pub async fn delete_rule(&self, name: &str) -> Result<(), LoopError> {
        self.events
            .remove_targets()
            .rule(name)
            .ids("queue")
            .send()
            .await
            .map_err(|e| err(format!("RemoveTargets {name}: {}", DisplayErrorContext(e))))?;
        self.events
            .delete_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| err(format!("DeleteRule {name}: {}", DisplayErrorContext(e))))?;
        Ok(())
    }

    /// Puts an AWS-shaped event (as in `events/aws/*.json`) on the default bus: its `source`,
    /// `detail-type`, `detail`, `resources` and `time`. Returns the id EventBridge gave the event,
    /// which is what `$.id` is in a rule's transformer (not the sample's own `id`).
    pub async fn put_event(&self, event: &Value) -> Result<String, LoopError> {
        let text = |key: &str| {
            event[key]
                .as_str()
                .ok_or_else(|| err(format!("the event has no string `{key}`")))
        };
        let mut entry = PutEventsRequestEntry::builder()
            .source(text("source")?)
            .detail_type(text("detail-type")?)
            .detail(event["detail"].to_string());
        for resource in event["resources"].as_array().into_iter().flatten() {
            if let Some(arn) = resource.as_str() {
                entry = entry.resources(arn);
            }
        }
        if let Some(time) = event["time"].as_str() {
            let time = DateTime::from_str(time, DateTimeFormat::DateTime)
                .map_err(|e| err(format!("the event's time {time:?}: {e}")))?;
            entry = entry.time(time);
        }
        let put = self
            .events
            .put_events()
            .entries(entry.build())
            .send()
            .await
            .map_err(|e| err(format!("PutEvents: {}", DisplayErrorContext(e))))?;
        let first = put.entries().first();
        match first.and_then(|e| e.event_id()) {
            Some(id) if put.failed_entry_count() == 0 => Ok(id.to_owned()),
            _ => Err(err(format!("PutEvents failed: {first:?}"))),
        }
    }

    /// Receives and deletes every message now on `queue` (moto delivers during PutEvents), bodies
    /// in the order received.
    pub async fn take_bodies(&self, queue: &TargetQueue) -> Result<Vec<String>, LoopError> {
        crate::queues::take_bodies(&self.sqs, &queue.url).await
    }
}

// ---------------------------------------------------------------- event patterns

/// Whether `event` matches `pattern` as EventBridge decides: every field of the pattern must match;
/// a list of the pattern matches when any of its filters matches any value at that path, where a
/// path runs through arrays of the event (an array of objects is matched element by element).
/// Filters: literal values, `prefix`, `suffix`, `exists`, `anything-but` (a value or a list), and
/// `$or`. Any other filter is an error rather than a guess.
pub fn pattern_matches(pattern: &Value, event: &Value) -> Result<bool, LoopError> {
    let fields = pattern
        .as_object()
        .ok_or_else(|| err(format!("an event pattern must be an object, got {pattern}")))?;
    for (key, sub) in fields {
        let matched = if key == "$or" {
            let branches = sub.as_array().ok_or_else(|| err("`$or` must be a list of patterns"))?;
            let mut any = false;
            for branch in branches {
                any |= pattern_matches(branch, event)?;
            }
            any
        } else {
            let values = values_at(event, key);
            match sub {
                Value::Object(_) => {
                    let mut any = false;
                    for value in values.iter().filter(|v| v.is_object()) {
                        any |= pattern_matches(sub, value)?;
                    }
                    any
                }
                Value::Array(filters) => {
                    let leaves: Vec<&Value> = values.into_iter().filter(|v| !v.is_object()).collect();
                    let mut any = false;
                    for filter in filters {
                        any |= filter_matches(filter, &leaves)?;
                    }
                    any
                }
                other => {
                    return Err(err(format!(
                        "`{key}` must be an object or a list in a pattern, got {other}"
                    )))
                }
            }
        };
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The values under `key` in `node`, looking through arrays on both sides (EventBridge flattens them).
fn values_at<'a>(node: &'a Value, key: &str) -> Vec<&'a Value> {
    fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
            other => out.push(other),
        }
    }
    let mut out = Vec::new();
    match node {
        Value::Array(items) => items.iter().for_each(|item| out.extend(values_at(item, key))),
        Value::Object(fields) => {
            if let Some(value) = fields.get(key) {
                flatten(value, &mut out);
            }
        }
        _ => {}
    }
    out
}

fn filter_matches(filter: &Value, leaves: &[&Value]) -> Result<bool, LoopError> {
    let Some(named) = filter.as_object() else {
        return Ok(leaves.iter().any(|v| same_value(v, filter)));
    };
    let (name, operand) = match named.iter().next() {
        Some(pair) if named.len() == 1 => pair,
        _ => return Err(err(format!("a filter has exactly one operator, got {filter}"))),
    };
    let strings = || leaves.iter().filter_map(|v| v.as_str());
    match (name.as_str(), operand) {
        ("exists", Value::Bool(wanted)) => Ok(leaves.is_empty() != *wanted),
        ("prefix", Value::String(p)) => Ok(strings().any(|s| s.starts_with(p.as_str()))),
        ("suffix", Value::String(p)) => Ok(strings().any(|s| s.ends_with(p.as_str()))),
        ("anything-but", Value::Array(excluded)) => {
            Ok(leaves.iter().any(|v| !excluded.iter().any(|x| same_value(v, x))))
        }
        ("anything-but", scalar) if !scalar.is_object() => Ok(leaves.iter().any(|v| !same_value(v, scalar))),
        _ => Err(err(format!("pattern_matches does not know the filter {filter}"))),
    }
}

fn same_value(event_value: &Value, pattern_value: &Value) -> bool {
    match (event_value.as_f64(), pattern_value.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => event_value == pattern_value,
    }
}

/// `pattern` without the branches that run through an array of `sample` (see the module docs):
/// what moto can evaluate. For a pattern that reaches into no array this is the pattern itself.
pub fn pattern_for_moto(pattern: &Value, sample: &Value) -> Value {
    fn reduce(pattern: &serde_json::Map<String, Value>, event: Option<&Value>) -> serde_json::Map<String, Value> {
        let mut kept = serde_json::Map::new();
        for (key, sub) in pattern {
            let child = event.and_then(|e| e.get(key));
            match sub {
                Value::Object(nested) => {
                    if child.is_some_and(Value::is_array) {
                        continue;
                    }
                    let reduced = reduce(nested, child);
                    if !reduced.is_empty() {
                        kept.insert(key.clone(), Value::Object(reduced));
                    }
                }
                other => {
                    kept.insert(key.clone(), other.clone());
                }
            }
        }
        kept
    }
    match pattern.as_object() {
        Some(fields) => Value::Object(reduce(fields, Some(sample))),
        None => pattern.clone(),
    }
}

// ---------------------------------------------------------------- moto on its own

/// A `moto_server` of its own (SQS and EventBridge), for tests that need no function; killed when
/// dropped.
pub struct MotoServer {
    _child: Child,
    url: String,
    work_dir: PathBuf,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // The child is kill_on_drop; the work dir holds only its logs.
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

impl MotoServer {
    /// Starts `moto_server` from PATH on a free loopback port and waits until it listens.
    pub async fn start() -> Result<MotoServer, LoopError> {
        let program = crate::Tools::find_one("moto_server", "moto[server]")?;
        let work_dir = crate::work_dir()?;
        let (child, port) = crate::start_moto(&program, &work_dir).await?;
        Ok(MotoServer {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            work_dir,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}
