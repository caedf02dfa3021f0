//! `flow exec-job`: the worker side of a cluster executor runs one written-down attempt of a
//! node, with the bytes a local run produces, and leaves how it ended for the controller.

use serde_json::json;

use crate::util::{Project, WORKFLOW};

const JOBS: &str = r#"
name: jobs
nodes:
  upper:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "tr a-z A-Z < {in.data} > {out.o}; echo converted >&2", outputs: { o: file } }
  broken:
    uses: shell
    with: { run: "echo 'no such table' >&2; exit 3", outputs: { o: file } }
"#;

/// A spec for `node` with its one output `o` and scratch and log under `job/`.
fn spec(project: &Project, node: &str, inputs: serde_json::Value) -> std::path::PathBuf {
    let job = project.join(&format!("job-{node}"));
    std::fs::create_dir_all(job.join("out")).unwrap();
    std::fs::create_dir_all(job.join("scratch")).unwrap();
    let spec = json!({
        "workflow": project.join(WORKFLOW),
        "overrides": [],
        "project_dir": project.path(),
        "state_dir": project.state(),
        "node": node,
        "item": null,
        "inputs": inputs,
        "outputs": { "o": job.join("out/o") },
        "threads": 1,
        "scratch_dir": job.join("scratch"),
        "log_path": job.join("node.log"),
    });
    let path = job.join("spec.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    path
}

#[test]
fn a_written_down_attempt_gives_the_bytes_of_a_local_run_and_says_how_it_ended() {
    let project = Project::with_workflow(JOBS);
    project.write("data.txt", "tumour volume\n");
    let local = project.run(&["--keep-going"]);
    local.assert_code(1);
    let local = local.json_run();

    let upper = spec(&project, "upper", json!({ "data": [project.join("data.txt")] }));
    let outcome = upper.with_file_name("outcome.json");
    project.flow(&["exec-job", upper.to_str().unwrap(), "--outcome", outcome.to_str().unwrap()]).assert_ok();
    let written = std::fs::read_to_string(project.join("job-upper/out/o")).unwrap();
    assert_eq!(written, project.read_object(&local.output("upper", "o")));
    assert_eq!(written, "TUMOUR VOLUME\n");
    let said: serde_json::Value = serde_json::from_slice(&std::fs::read(&outcome).unwrap()).unwrap();
    assert_eq!(said, json!({ "status": "done" }));
    let log = std::fs::read_to_string(project.join("job-upper/node.log")).unwrap();
    assert!(log.contains("converted"), "{log}");

    let broken = spec(&project, "broken", json!({}));
    let outcome = broken.with_file_name("outcome.json");
    project
        .flow(&["exec-job", broken.to_str().unwrap(), "--outcome", outcome.to_str().unwrap()])
        .assert_code(1)
        .assert_stderr_contains("node 'broken': command exited with status 3");
    let said: serde_json::Value = serde_json::from_slice(&std::fs::read(&outcome).unwrap()).unwrap();
    assert_eq!(said, json!({ "status": "failed", "message": "command exited with status 3" }));
    let log = std::fs::read_to_string(project.join("job-broken/node.log")).unwrap();
    assert!(log.contains("no such table"), "{log}");

    let missing = project.join("job-none/spec.json");
    project
        .flow(&["exec-job", missing.to_str().unwrap(), "--outcome", "x.json"])
        .assert_code(2)
        .assert_stderr_contains("cannot read the job spec");
}
