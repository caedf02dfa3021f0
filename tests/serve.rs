//! `flow serve` on what `workflows/multimodal.yaml` wrote: the feature groups and the four
//! model bundles, over real HTTP, stopped with SIGTERM as a service manager would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use flow_featurestore::polars::prelude::{ParquetReader, SerReader};
use serde_json::{Value, json};

use crate::util::Project;

const MULTIMODAL: &str = include_str!("../workflows/multimodal.yaml");
const TOKEN: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff00";

fn call(port: u16, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), serde_json::from_str(body).unwrap())
}

#[test]
fn served_predictions_equal_the_workflows_own_and_sigterm_stops_the_server_cleanly() {
    let project = Project::with_workflow(MULTIMODAL);
    let run = project.run_ok(&[]);
    let mut server = {
        let mut command = project.command(&["serve", "--port", "0", "--refresh-ms", "50"]);
        command.env("FLOW_SERVE_TOKEN", TOKEN);
        let mut child = command.spawn().unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        (child, stderr)
    };
    let line = {
        let mut line = String::new();
        while !line.contains("serving") {
            line.clear();
            assert_ne!(std::io::BufRead::read_line(&mut server.1, &mut line).unwrap(), 0, "flow serve ended");
        }
        line
    };
    assert!(line.contains("3 feature group(s)") && line.contains("token from $FLOW_SERVE_TOKEN"), "{line}");
    assert!(!line.contains(TOKEN), "the token is never printed");
    let port: u16 = line.split("http://127.0.0.1:").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();

    let (status, models) = call(port, "GET", "/v1/models", "");
    assert_eq!(status, 200);
    let names: Vec<&str> = models["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["clinical_s42", "genomic_s42", "imaging_s42", "multimodal_s42"]);
    let multimodal = &models["models"][3];
    assert_eq!(multimodal["digest"], run.output("multimodal_bundle", "bundle").as_str());
    assert_eq!(multimodal["groups"], json!(["clinical_s42", "genomic_s42", "imaging_s42"]));

    // The test patients' probabilities as ml.predict wrote them, against the server's, which
    // reads each patient's features from the online store and applies the bundle.
    for set in ["genomic", "clinical", "imaging", "multimodal"] {
        let digest = run.output(&format!("{set}_predicted"), "predictions");
        let file = std::fs::File::open(project.state().join("cas").join(&digest[..2]).join(&digest[2..])).unwrap();
        let table = ParquetReader::new(file).finish().unwrap();
        let ids: Vec<String> =
            table.column("case_id").unwrap().str().unwrap().iter().map(|id| id.unwrap().to_string()).collect();
        let expected: Vec<f64> =
            table.column("probability").unwrap().f64().unwrap().iter().map(|p| p.unwrap()).collect();
        assert!(ids.len() >= 20, "{set}: {} test patients", ids.len());
        let (status, answer) =
            call(port, "POST", &format!("/v1/models/{set}_s42/predict"), &json!({ "ids": ids }).to_string());
        assert_eq!(status, 200, "{set}: {answer}");
        for (i, p) in expected.iter().enumerate() {
            let served = answer["predictions"][i]["probability"].as_f64().unwrap();
            assert_eq!(answer["predictions"][i]["id"], ids[i].as_str());
            assert!((served - p).abs() <= 1e-12, "{set} {}: served {served}, ml.predict {p}", ids[i]);
        }
    }

    // SIGTERM: the server stops accepting, answers what is in flight and exits 0.
    let pid = server.0.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = server.0.wait().unwrap();
    let mut rest = String::new();
    server.1.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "exit {status:?}: {rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens after the stop");
}

#[test]
fn listening_beyond_loopback_without_tls_is_warned_about_and_a_short_token_refused() {
    let project = Project::new();
    let mut command = project.command(&["serve", "--bind", "0.0.0.0", "--port", "0"]);
    command.env("FLOW_SERVE_TOKEN", TOKEN);
    let mut child = command.spawn().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("serving") {
        assert_ne!(std::io::BufRead::read_line(&mut stderr, &mut seen).unwrap(), 0, "flow serve ended: {seen}");
    }
    assert!(seen.contains("warning: listening on 0.0.0.0 without TLS"), "{seen}");
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert!(child.wait().unwrap().success());

    let mut command = project.command(&["serve", "--port", "0"]);
    command.env("FLOW_SERVE_TOKEN", "short");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use at least 32"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_request_in_flight_at_sigterm_is_still_answered() {
    let project = Project::new();
    let mut command = project.command(&["serve", "--port", "0"]);
    command.env("FLOW_SERVE_TOKEN", TOKEN);
    let mut child = command.spawn().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving") {
        line.clear();
        assert_ne!(std::io::BufRead::read_line(&mut stderr, &mut line).unwrap(), 0, "flow serve ended");
    }
    let port: u16 = line.split("http://127.0.0.1:").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    // Half a request, then SIGTERM, then the rest: the server has begun it, so it answers it.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(b"GET /v1/groups HTTP/1.1\r\nHost: t\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(format!("Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(child.wait().unwrap().success());
}

/// A clinical table written to two groups, a model trained on one of them, bundled with both
/// receipts or one.
const TWO_GROUPS: &str = r#"
name: bundle
nodes:
  cohort:
    uses: synth.nsclc_cohort
    with: { seed: 1, patients: 60, r01: 45, amc: 15, genes: 30, imaging: false }
  clinical: { uses: clinical.preprocess, in: { table: cohort.clinical }, with: { label: survival_status } }
  a:
    uses: featurestore.write
    in: { table: clinical.table }
    with: { group: clinical_a, record_id: case_id, event_time: event_time, event_time_value: 0 }
  b:
    uses: featurestore.write
    in: { table: clinical.table }
    with: { group: clinical_b, record_id: case_id, event_time: event_time, event_time_value: 0 }
  set:
    uses: featurestore.query
    in: { groups: [a.receipt] }
    with: { sql: "SELECT * EXCLUDE (event_time, survival_status), survival_status AS label FROM clinical_a ORDER BY case_id" }
  split: { uses: ml.split, in: { table: set.table }, with: { seed: 1 } }
  scaled: { uses: ml.scale, in: { train: split.train, validation: split.validation, test: split.test } }
  pca: { uses: ml.pca, in: { train: scaled.train, validation: scaled.validation, test: scaled.test } }
  model: { uses: ml.train_gbdt, in: { train: pca.train }, with: { num_boost_round: 2 } }
  bundle:
    uses: ml.bundle
    in: { scaler: scaled.scaler, pca: pca.pca, model: model.model, groups: GROUPS }
    with: { name: clinical_risk }
"#;

#[test]
fn a_bundle_names_each_features_group_and_refuses_to_guess_between_two() {
    let project = Project::with_workflow(&TWO_GROUPS.replace("GROUPS", "[a.receipt, b.receipt]"));
    let out = project.run(&[]);
    out.assert_code(2)
        .assert_stderr_contains("is in groups clinical_a and clinical_b")
        .assert_stderr_contains("sources:");

    project.write(crate::util::WORKFLOW, &TWO_GROUPS.replace("GROUPS", "[a.receipt]"));
    let run = project.run_ok(&[]);
    let bundle: Value = serde_json::from_str(&project.read_object(&run.output("bundle", "bundle"))).unwrap();
    assert_eq!(bundle["format"], "flow-model-bundle/1");
    assert_eq!(bundle["name"], "clinical_risk");
    let sources = bundle["sources"].as_array().unwrap();
    assert!(!sources.is_empty() && sources.iter().all(|s| s["group"] == "clinical_a"), "{sources:?}");
}
