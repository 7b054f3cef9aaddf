//! Tests of the generator through its own output, parsed back as a consumer would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

const SAMPLE_TRACES: usize = 300;
const SAMPLE_SEED: u64 = 42;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample-traces")
}

/// Every file under `dir`, relative path -> bytes, in a stable order.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        // Named, for the rare run where a directory vanished mid-walk (see the issue notes).
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Regenerates `sample-traces/`: `cargo test -p hopscope-scenarios -- --ignored regenerate`.
#[test]
#[ignore = "writes the committed samples"]
fn regenerate_samples() {
    for name in SCENARIOS {
        let dir = samples_dir().join(name);
        for sub in ["traces", "logs", "metrics", lambda::FUNCTIONS_DIR] {
            let _ = std::fs::remove_dir_all(dir.join(sub));
        }
        generate(name, SAMPLE_TRACES, SAMPLE_SEED, &dir).unwrap();
    }
}

#[test]
fn committed_samples_match_the_generator() {
    for name in SCENARIOS {
        let tmp = tempfile::tempdir().unwrap();
        generate(name, SAMPLE_TRACES, SAMPLE_SEED, tmp.path()).unwrap();
        let committed = files(&samples_dir().join(name));
        let fresh = files(tmp.path());
        let committed_names: Vec<_> = committed.keys().collect();
        let fresh_names: Vec<_> = fresh.keys().collect();
        assert_eq!(committed_names, fresh_names, "{name}: file lists differ");
        for (path, bytes) in &fresh {
            assert!(
                committed[path] == *bytes,
                "{name}/{}: differs from the generator; run the ignored regenerate_samples test",
                path.display()
            );
        }
    }
}

#[test]
fn same_inputs_give_same_bytes_and_other_seeds_do_not() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let sa = generate("chatbot", 40, 7, a.path()).unwrap();
    let sb = generate("chatbot", 40, 7, b.path()).unwrap();
    generate("chatbot", 40, 8, c.path()).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(files(a.path()), files(b.path()));
    assert_ne!(files(a.path()), files(c.path()));
}

#[test]
fn unknown_scenario_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = generate("nope", 1, 1, tmp.path()).unwrap_err();
    assert!(matches!(err, Error::UnknownScenario { .. }), "{err}");
}

#[test]
fn scenario_file_round_trips_and_bad_files_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    for name in SCENARIOS {
        generate(name, 1, 1, tmp.path()).unwrap();
        let loaded = load_scenario(&tmp.path().join("scenario.toml")).unwrap();
        let arch = arch::architecture(name).unwrap();
        assert_eq!(loaded, (arch.scenario)());
        assert!(loaded.window.start < loaded.incident.start);
        assert_eq!(loaded.incident.end, loaded.window.end);
    }
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n").unwrap();
    let err = load_scenario(&bad).unwrap_err();
    assert!(matches!(err, Error::Scenario { .. }), "{err}");
}

/// A parsed output directory: every segment document and every log event.
struct Output {
    summary: GenSummary,
    scenario: Scenario,
    documents: Vec<Value>,
    /// (file, log stream name, events) per log stream file.
    streams: Vec<(PathBuf, String, Vec<Value>)>,
    metrics: Value,
    /// Function name -> its ListVersionsByFunction answer.
    functions: BTreeMap<String, Value>,
}

fn read_output(name: &str, traces: usize) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let summary = generate(name, traces, SAMPLE_SEED, tmp.path()).unwrap();
    let mut documents = Vec::new();
    let mut streams = Vec::new();
    let mut metrics = Value::Null;
    let mut functions = BTreeMap::new();
    for (path, bytes) in files(tmp.path()) {
        let text = String::from_utf8(bytes).unwrap();
        if path.starts_with("traces") {
            let batch: Value = serde_json::from_str(&text).unwrap();
            for trace in batch["Traces"].as_array().unwrap() {
                for segment in trace["Segments"].as_array().unwrap() {
                    let doc: Value =
                        serde_json::from_str(segment["Document"].as_str().unwrap()).unwrap();
                    assert_eq!(doc["id"], segment["Id"]);
                    assert_eq!(doc["trace_id"], trace["Id"]);
                    documents.push(doc);
                }
            }
        } else if path.starts_with("logs") {
            let message: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(message["messageType"], "DATA_MESSAGE");
            let stream = message["logStream"].as_str().unwrap().to_owned();
            streams.push((
                path,
                stream,
                message["logEvents"].as_array().unwrap().clone(),
            ));
        } else if path.starts_with("metrics") {
            metrics = serde_json::from_str(&text).unwrap();
        } else if path.starts_with(lambda::FUNCTIONS_DIR) {
            let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            functions.insert(name, serde_json::from_str(&text).unwrap());
        }
    }
    let scenario = load_scenario(&tmp.path().join("scenario.toml")).unwrap();
    Output {
        summary,
        scenario,
        documents,
        streams,
        metrics,
        functions,
    }
}

fn duration_ms(doc: &Value) -> Option<f64> {
    Some((doc["end_time"].as_f64()? - doc["start_time"].as_f64()?) * 1e3)
}

/// `"Duration: 12.34 ms"` -> 12.34, from a tab-separated REPORT line.
fn report_field(report: &str, field: &str) -> Option<f64> {
    report
        .split(['\t', '\n'])
        .find_map(|part| part.strip_prefix(field)?.strip_prefix(": "))
        .map(|v| v.trim_end_matches(" ms").parse().unwrap())
}

#[test]
fn lambda_logs_agree_with_the_traces() {
    for name in SCENARIOS {
        let out = read_output(name, 120);
        let by_id: BTreeMap<&str, &Value> = out
            .documents
            .iter()
            .map(|d| (d["id"].as_str().unwrap(), d))
            .collect();
        // AWS::Lambda request id -> its AWS::Lambda::Function segment.
        let mut functions: BTreeMap<&str, &Value> = BTreeMap::new();
        for doc in &out.documents {
            if doc["origin"] == "AWS::Lambda::Function" {
                let service = by_id[doc["parent_id"].as_str().unwrap()];
                assert_eq!(service["origin"], "AWS::Lambda");
                assert_eq!(service["name"], doc["name"]);
                let request_id = service["aws"]["request_id"].as_str().unwrap();
                functions.insert(request_id, doc);
            }
        }
        let mut reports = 0;
        for (path, _, events) in &out.streams {
            let messages: Vec<&str> = events
                .iter()
                .map(|e| e["message"].as_str().unwrap())
                .collect();
            // A stream is one sandbox: it starts cold, exactly once.
            assert!(messages[0].starts_with("INIT_START "), "{}", path.display());
            let inits = messages
                .iter()
                .filter(|m| m.starts_with("INIT_START"))
                .count();
            assert_eq!(inits, 1, "{}", path.display());
            let mut last = 0;
            for event in events {
                let t = event["timestamp"].as_i64().unwrap();
                assert!(t >= last, "{}: events out of order", path.display());
                last = t;
                assert_eq!(event["id"].as_str().unwrap().len(), 56);
            }
            for (i, message) in messages.iter().enumerate() {
                let Some(rest) = message.strip_prefix("REPORT RequestId: ") else {
                    continue;
                };
                reports += 1;
                let request_id = &rest[..36];
                let function = functions
                    .get(request_id)
                    .unwrap_or_else(|| panic!("{name}: REPORT {request_id} has no segment"));
                let segment_id = message
                    .split("SegmentId: ")
                    .nth(1)
                    .map(|s| &s[..16])
                    .unwrap();
                assert_eq!(function["id"], segment_id);
                assert!(message.contains(function["trace_id"].as_str().unwrap()));
                let init = function["subsegments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["name"] == "Initialization");
                let init_ms = report_field(message, "Init Duration");
                assert_eq!(init.is_some(), init_ms.is_some(), "{name}: {message}");
                if let (Some(init), Some(init_ms)) = (init, init_ms) {
                    assert!((duration_ms(init).unwrap() - init_ms).abs() < 0.01);
                }
                let duration = report_field(message, "Duration").unwrap();
                let segment = duration_ms(function).unwrap();
                assert!(
                    (segment - init_ms.unwrap_or(0.0) - duration).abs() < 1.0,
                    "{name}: REPORT {duration} ms vs segment {segment} ms"
                );
                let timed_out = message.contains("\tStatus: timeout\t");
                let next_is_timeout = messages
                    .get(i + 1)
                    .is_some_and(|m| m.contains(" Task timed out after "));
                assert_eq!(timed_out, next_is_timeout, "{name}: {message}");
                assert_eq!(
                    timed_out,
                    function["fault"] == true
                        && function["cause"]["exceptions"][0]["type"] == "Sandbox.Timedout"
                );
            }
        }
        assert_eq!(
            reports,
            functions.len(),
            "{name}: one REPORT per invocation"
        );
        assert_eq!(out.summary.invocations, reports as u64);
        let invocations: f64 = out.metrics["MetricDataResults"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["Label"] == "Invocations")
            .flat_map(|r| r["Values"].as_array().unwrap())
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert_eq!(
            invocations, reports as f64,
            "{name}: metrics count invocations"
        );
        assert_eq!(out.summary.segments, out.documents.len() as u64);
        assert_eq!(
            out.summary.log_events,
            out.streams
                .iter()
                .map(|(_, _, e)| e.len() as u64)
                .sum::<u64>()
        );
    }
}

/// The service-map node of each span, with the segment it belongs to, depth first.
fn nodes<'a>(doc: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    let name = doc["name"].as_str().unwrap();
    let resource = doc["aws"]["table_name"]
        .as_str()
        .or_else(|| doc["aws"]["bucket_name"].as_str());
    let node = match (doc["namespace"].as_str(), resource) {
        (Some("aws"), Some(resource)) => format!("{name}:{resource}"),
        _ => name.to_owned(),
    };
    out.push((node, doc));
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        nodes(sub, out);
    }
}

fn p90(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() * 9 / 10]
}

#[test]
fn the_incident_shows_on_the_culprit_only_inside_its_window() {
    for name in SCENARIOS {
        let out = read_output(name, 300);
        let incident = (
            out.scenario.incident.start.timestamp() as f64,
            out.scenario.incident.end.timestamp() as f64,
        );
        let (mut inside, mut outside) = (Vec::new(), Vec::new());
        let mut spans = Vec::new();
        for doc in &out.documents {
            nodes(doc, &mut spans);
        }
        assert_eq!(spans.len() as u64, out.summary.spans);
        let mut callee_seen = false;
        for (node, doc) in &spans {
            if *node != out.scenario.culprit.callee {
                continue;
            }
            callee_seen = true;
            let start = doc["start_time"].as_f64().unwrap();
            // A call that never ended (timeout) counts as the whole function timeout.
            let ms = duration_ms(doc).unwrap_or(30_000.0);
            if (incident.0..incident.1).contains(&start) {
                inside.push(ms);
            } else {
                outside.push(ms);
            }
        }
        assert!(
            callee_seen,
            "{name}: no span of {}",
            out.scenario.culprit.callee
        );
        let caller_seen = spans.iter().any(|(n, _)| *n == out.scenario.culprit.caller);
        assert!(
            caller_seen,
            "{name}: no span of {}",
            out.scenario.culprit.caller
        );
        let (inside, outside) = (p90(inside), p90(outside));
        assert!(
            inside > 3.0 * outside,
            "{name}: p90 {inside:.1} ms in the incident vs {outside:.1} ms before"
        );
    }
}

/// Lambda's `LastModified` in epoch milliseconds, the unit of log event timestamps.
fn last_modified_ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .unwrap()
        .timestamp_millis()
}

/// Every version an invocation ran (its `START` line and its log stream's `[version]` agree) has
/// a configuration in `functions/`, dated no later than that version's first `START`; each
/// function lists `$LATEST` first and its versions in order.
#[test]
fn function_versions_cover_every_version_the_logs_name() {
    for name in SCENARIOS {
        let out = read_output(name, SAMPLE_TRACES);
        let arch = arch::architecture(name).unwrap();
        assert_eq!(
            out.functions.keys().map(String::as_str).collect::<Vec<_>>(),
            {
                let mut names: Vec<&str> = arch.functions.iter().map(|f| f.name).collect();
                names.sort();
                names
            },
            "{name}: one file per function"
        );
        // (function, version) -> first START, epoch ms.
        let mut first_start: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (path, stream, events) in &out.streams {
            let function = path.file_stem().unwrap().to_str().unwrap();
            let function = &function[..function.rfind('-').unwrap()];
            let in_stream = &stream[stream.find('[').unwrap() + 1..stream.find(']').unwrap()];
            for event in events {
                let message = event["message"].as_str().unwrap();
                let Some(version) = message
                    .strip_prefix("START ")
                    .and_then(|m| m.split("Version: ").nth(1))
                else {
                    continue;
                };
                let version = version.trim_end();
                assert_eq!(version, in_stream, "{name}: {}", path.display());
                let t = event["timestamp"].as_i64().unwrap();
                let first = first_start
                    .entry((function.to_owned(), version.to_owned()))
                    .or_insert(t);
                *first = (*first).min(t);
            }
        }
        assert!(!first_start.is_empty(), "{name}: no START lines");
        for ((function, version), start) in &first_start {
            let versions = out.functions[function]["Versions"].as_array().unwrap();
            let config = versions
                .iter()
                .find(|v| v["Version"] == version.as_str())
                .unwrap_or_else(|| {
                    panic!("{name}: {function} version {version} has no configuration")
                });
            let modified = last_modified_ms(config["LastModified"].as_str().unwrap());
            assert!(
                modified <= *start,
                "{name}: {function}:{version} modified at {modified}, first START at {start}"
            );
            assert_eq!(
                config["FunctionArn"],
                format!(
                    "arn:aws:lambda:{}:{}:function:{function}:{version}",
                    crate::sim::REGION,
                    crate::sim::ACCOUNT
                )
            );
            assert_eq!(
                config["LoggingConfig"]["LogGroup"],
                format!("/aws/lambda/{function}")
            );
        }
        for (function, answer) in &out.functions {
            let versions: Vec<&str> = answer["Versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["Version"].as_str().unwrap())
                .collect();
            assert_eq!(versions[0], "$LATEST", "{name}: {function}");
            let numbers: Vec<u32> = versions[1..].iter().map(|v| v.parse().unwrap()).collect();
            assert!(
                numbers.windows(2).all(|w| w[1] == w[0] + 1),
                "{name}: {function}: {versions:?}"
            );
        }
    }
}

/// The deploy storm: listDragons starts on version 7, published days before the window, and
/// each deploy publishes the next version with new code and a new revision.
#[test]
fn the_deploy_storm_publishes_one_version_per_deploy_with_new_code() {
    let out = read_output("dragons", SAMPLE_TRACES);
    let versions = out.functions["listDragons"]["Versions"].as_array().unwrap();
    let window_start = out.scenario.window.start.timestamp_millis();
    let incident_start = out.scenario.incident.start.timestamp_millis();
    let published = &versions[1..];
    assert_eq!(published[0]["Version"], "7");
    assert!(
        last_modified_ms(published[0]["LastModified"].as_str().unwrap())
            < window_start - 86_400_000
    );
    assert!(published.len() > 5, "{} versions", published.len());
    for pair in published.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert_ne!(before["CodeSha256"], after["CodeSha256"]);
        assert_ne!(before["RevisionId"], after["RevisionId"]);
        let t = last_modified_ms(after["LastModified"].as_str().unwrap());
        assert!(t >= incident_start, "{after}");
        assert!(t > last_modified_ms(before["LastModified"].as_str().unwrap()));
    }
    let latest = &versions[0];
    let last = published.last().unwrap();
    assert_eq!(latest["CodeSha256"], last["CodeSha256"]);
    assert_eq!(latest["LastModified"], last["LastModified"]);
    assert_eq!(latest["MemorySize"], 512);
    assert_eq!(latest["Timeout"], 15);
    assert_eq!(latest["Runtime"], "python3.12");
    assert_eq!(latest["TracingConfig"]["Mode"], "Active");
    assert_eq!(latest["LoggingConfig"]["LogFormat"], "Text");
    // Functions invoked as $LATEST have nothing published.
    let validate = out.functions["validateDragon"]["Versions"]
        .as_array()
        .unwrap();
    assert_eq!(validate.len(), 1);
    assert_eq!(validate[0]["MemorySize"], 128);
}

/// The `start_time` of every segment document under `dir/traces`, in order.
fn segment_starts(dir: &Path) -> Vec<f64> {
    let mut starts = Vec::new();
    for bytes in files(&dir.join("traces")).values() {
        let answer: Value = serde_json::from_slice(bytes).unwrap();
        for trace in answer["Traces"].as_array().unwrap() {
            for segment in trace["Segments"].as_array().unwrap() {
                let doc: Value =
                    serde_json::from_str(segment["Document"].as_str().unwrap()).unwrap();
                starts.push(doc["start_time"].as_f64().unwrap());
            }
        }
    }
    starts.sort_by(f64::total_cmp);
    starts
}

#[test]
fn a_start_time_moves_the_window_the_incident_and_every_trace() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let later = default_start() + chrono::Duration::days(3) + chrono::Duration::minutes(90);
    let sa = generate("users", 60, 7, a.path()).unwrap();
    let sb = generate_from("users", 60, 7, later, b.path()).unwrap();
    assert_eq!(sa, sb, "the same traces, elsewhere in time");
    let scenario = |d: &Path| load_scenario(&d.join("scenario.toml")).unwrap();
    let (before, after) = (scenario(a.path()), scenario(b.path()));
    let shift = later - default_start();
    assert_eq!(after.window.start, later);
    assert_eq!(after.window.end, before.window.end + shift);
    assert_eq!(after.incident.start, before.incident.start + shift);
    let (xs, ys) = (segment_starts(a.path()), segment_starts(b.path()));
    assert_eq!(xs.len(), ys.len());
    assert!(!xs.is_empty());
    let seconds = shift.num_seconds() as f64;
    for (x, y) in xs.iter().zip(&ys) {
        assert!(
            (y - x - seconds).abs() < 2e-6,
            "{x} moved to {y}, not by {seconds} s"
        );
    }
}
