//! The presets of `events/aws/presets.json` as real EventBridge rules in moto: each sample AWS event
//! is put on the bus, and what arrives on the rule's SQS queue must be the request its
//! `.transformed.json` file says, with the event's id as `idempotencyKey`.
//!
//! The moto tests need `moto_server` on PATH (`make venv`, then .venv/bin first on PATH), so they are
//! `#[ignore]`d with that reason; `make test` runs them, and then a missing moto fails them. The
//! checks of the files themselves need nothing.
// Tests and their helpers may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sc_local_loop::eventbridge::{load_presets, pattern_for_moto, pattern_matches, read_json, EventBridge, MotoServer};
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/aws")
}

/// One entry of cases.json, its files read.
struct Case {
    preset: String,
    sample_file: String,
    sample: Value,
    transformed_file: Option<String>,
    transformed: Option<Value>,
}

/// The action name and partition the transformed files were written with, and every case.
fn cases() -> (String, String, Vec<Case>) {
    let dir = events_dir();
    let doc = read_json(&dir.join("cases.json")).unwrap();
    let cases = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let sample_file = c["sample"].as_str().unwrap().to_owned();
            let transformed_file = c["transformed"].as_str().map(str::to_owned);
            Case {
                preset: c["preset"].as_str().unwrap().to_owned(),
                sample: read_json(&dir.join(&sample_file)).unwrap(),
                sample_file,
                transformed: transformed_file.as_ref().map(|f| read_json(&dir.join(f)).unwrap()),
                transformed_file,
            }
        })
        .collect();
    (
        doc["testAction"].as_str().unwrap().to_owned(),
        doc["partition"].as_str().unwrap().to_owned(),
        cases,
    )
}

/// A moto of its own. The tests that call this are `#[ignore]`d with the reason they need
/// moto_server; asked for without it, they fail rather than pass.
async fn moto() -> MotoServer {
    match MotoServer::start().await {
        Ok(moto) => moto,
        Err(e) => panic!("this test needs moto_server: {e}"),
    }
}

/// `expected` with the sample's event id replaced by the id the event got from PutEvents (moto,
/// like EventBridge, gives every PutEvents entry a new id; the transformer reads that one).
fn with_event_id(expected: &Value, sample_id: &str, event_id: &str) -> Value {
    serde_json::from_str(&expected.to_string().replace(sample_id, event_id)).unwrap()
}

// ---------------------------------------------------------------- the files, without moto

#[test]
fn every_file_in_events_aws_is_a_case_and_every_preset_has_its_sample_among_them() {
    let (_, _, cases) = cases();
    let presets = load_presets(&events_dir()).unwrap();
    let mut referenced: BTreeSet<String> = ["presets.json", "cases.json"].map(str::to_owned).into();
    for case in &cases {
        assert!(
            presets.contains_key(&case.preset),
            "{}: no preset {}",
            case.sample_file,
            case.preset
        );
        referenced.insert(case.sample_file.clone());
        referenced.extend(case.transformed_file.clone());
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(on_disk, referenced, "every file of events/aws belongs to a case");
    for preset in presets.values() {
        let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            cases.iter().any(|c| c.preset == preset.name
                && c.sample_file == name(&preset.sample)
                && c.transformed_file.as_deref() == Some(name(&preset.transformed).as_str())),
            "preset {}: its sample and transformed file are a case",
            preset.name
        );
    }
}

#[test]
fn each_documented_pattern_matches_exactly_the_samples_that_have_a_transformed_request() {
    let (_, _, cases) = cases();
    let presets = load_presets(&events_dir()).unwrap();
    for case in &cases {
        let pattern = &presets[&case.preset].event_pattern;
        assert_eq!(
            pattern_matches(pattern, &case.sample).unwrap(),
            case.transformed.is_some(),
            "{}: the {} pattern (EventBridge's semantics) against it",
            case.sample_file,
            case.preset
        );
    }
}

#[test]
fn every_transformed_request_carries_its_events_id_as_idempotency_key() {
    let (action, _, cases) = cases();
    for case in cases.iter().filter(|c| c.transformed.is_some()) {
        let request = case.transformed.as_ref().unwrap();
        assert_eq!(request["idempotencyKey"], case.sample["id"], "{}", case.sample_file);
        assert_eq!(request["serviceActionName"], action.as_str(), "{}", case.sample_file);
        assert!(
            request["resourceArn"].as_str().unwrap().starts_with("arn:aws:"),
            "{}",
            case.sample_file
        );
    }
}

#[test]
fn each_preset_names_the_action_and_the_event_id_in_its_template() {
    for preset in load_presets(&events_dir()).unwrap().values() {
        let template = &preset.transformer.input_template;
        assert!(
            template.contains("\"serviceActionName\": \"${ServiceActionName}\""),
            "{}",
            preset.name
        );
        assert!(template.contains("\"idempotencyKey\": \"<id>\""), "{}", preset.name);
        assert_eq!(preset.transformer.input_paths_map["id"], "$.id", "{}", preset.name);
        // Every variable of the template comes from the paths map (EventBridge would send the
        // placeholder itself otherwise).
        for variable in template
            .split('<')
            .skip(1)
            .filter_map(|s| s.split_once('>'))
            .map(|(v, _)| v)
        {
            assert!(
                preset.transformer.input_paths_map.contains_key(variable),
                "{}: <{variable}>",
                preset.name
            );
        }
    }
}

// ---------------------------------------------------------------- the real transformation, in moto

#[tokio::test]
#[ignore = "needs moto_server on PATH: run `make test`"]
async fn every_preset_rule_delivers_to_its_queue_what_the_transformed_file_says() {
    let moto = moto().await;
    let bus = EventBridge::connect(moto.url()).await;
    let presets = load_presets(&events_dir()).unwrap();
    let (action, partition, cases) = cases();

    for (name, preset) in &presets {
        // GIVEN the documented rule (as moto can evaluate it) with the documented transformer
        let sample = read_json(&preset.sample).unwrap();
        let pattern = pattern_for_moto(&preset.event_pattern, &sample);
        if pattern != preset.event_pattern {
            println!("{name}: moto matches no pattern inside arrays; its rule checks only {pattern}");
        }
        let queue = bus.create_queue(&format!("requests-{name}")).await.unwrap();
        let rule = format!("sc-action-runner-{name}");
        let transformer = preset.transformer_for(&action, &partition);
        bus.route_to_queue(&rule, &pattern, Some(&transformer), &queue)
            .await
            .unwrap();

        for case in cases.iter().filter(|c| &c.preset == name) {
            // WHEN the sample is put on the bus
            let event_id = bus.put_event(&case.sample).await.unwrap();
            let bodies = bus.take_bodies(&queue).await.unwrap();

            // THEN exactly what the rule matches arrives, transformed as the file says
            let arrives = pattern_matches(&pattern, &case.sample).unwrap();
            assert_eq!(bodies.len(), usize::from(arrives), "{}: {bodies:?}", case.sample_file);
            match (&case.transformed, bodies.first()) {
                (Some(expected), Some(body)) => {
                    let got: Value = serde_json::from_str(body).unwrap();
                    let sample_id = case.sample["id"].as_str().unwrap();
                    assert_eq!(
                        got,
                        with_event_id(expected, sample_id, &event_id),
                        "{}",
                        case.sample_file
                    );
                    assert_eq!(got["idempotencyKey"], event_id.as_str());
                }
                (Some(_), None) => panic!("{}: nothing arrived", case.sample_file),
                (None, Some(_)) => println!(
                    "{}: arrives in moto, but EventBridge's pattern does not match it (checked without moto)",
                    case.sample_file
                ),
                (None, None) => {}
            }
        }
        bus.delete_rule(&rule).await.unwrap();
    }
}

#[tokio::test]
#[ignore = "needs moto_server on PATH: run `make test`"]
async fn without_a_transformer_the_queue_receives_the_event_itself() {
    let moto = moto().await;
    let bus = EventBridge::connect(moto.url()).await;
    let queue = bus.create_queue("requests-untransformed").await.unwrap();
    let pattern = serde_json::json!({"source": ["sc-action-runner"], "detail-type": ["Run Service Action"]});
    bus.route_to_queue("untransformed", &pattern, None, &queue)
        .await
        .unwrap();
    let mut event = read_json(&events_dir().join("../eventbridge.json")).unwrap();
    event["source"] = "sc-action-runner".into();

    let event_id = bus.put_event(&event).await.unwrap();

    let bodies = bus.take_bodies(&queue).await.unwrap();
    assert_eq!(bodies.len(), 1);
    let got: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(got["id"], event_id.as_str());
    assert_eq!(got["detail"], event["detail"]);
    assert_eq!(got["detail-type"], "Run Service Action");
}

#[test]
fn docs_event_driven_shows_each_preset_as_presets_json_has_it() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/event-driven.md")).unwrap();
    let blocks = |language: &str| -> Vec<String> {
        doc.split(&format!("```{language}\n"))
            .skip(1)
            .filter_map(|rest| rest.split_once("```").map(|(block, _)| block.trim().to_owned()))
            .collect()
    };
    let json_blocks: Vec<Value> = blocks("json")
        .iter()
        .filter_map(|b| serde_json::from_str(b).ok())
        .collect();
    let text_blocks = blocks("text");
    for preset in load_presets(&events_dir()).unwrap().values() {
        assert!(
            json_blocks.contains(&preset.event_pattern),
            "{}: its event pattern",
            preset.name
        );
        let paths = serde_json::to_value(&preset.transformer.input_paths_map).unwrap();
        assert!(json_blocks.contains(&paths), "{}: its InputPathsMap", preset.name);
        assert!(
            text_blocks.contains(&preset.transformer.input_template),
            "{}: its InputTemplate",
            preset.name
        );
        let transformed = read_json(&preset.transformed).unwrap();
        assert!(
            json_blocks.contains(&transformed),
            "{}: its transformed sample",
            preset.name
        );
    }
}
