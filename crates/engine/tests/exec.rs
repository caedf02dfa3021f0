//! The scheduler and the cache, driven through the library with counting test kinds.

mod common;

use std::path::Path;
use std::sync::Arc;

use flow_engine::cancel::CancelToken;
use flow_engine::digest::Digest;
use flow_engine::exec::{Quiet, RunOptions, RunOutcome, run};
use flow_engine::kind::Registry;
use flow_engine::store::runs::NodeStatus;
use flow_engine::store::{StateDir, Store};
use flow_engine::workflow::{LoadOptions, load_str};

fn run_text(project: &Path, registry: &Registry, text: &str) -> RunOutcome {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    run_text_on(&runtime, project, registry, text)
}

fn run_text_on(runtime: &tokio::runtime::Runtime, project: &Path, registry: &Registry, text: &str) -> RunOutcome {
    let options = LoadOptions { registry, overrides: &[], project_dir: project, state_dir: &project.join(".flow") };
    let workflow = load_str(text, &project.join("w.yaml"), &options).unwrap();
    let state = StateDir::new(project.join(".flow"));
    flow_engine::store::create_private_dir(&state.root).unwrap();
    let lock = state.lock(false, &|| {}).unwrap().expect("no other run holds the store");
    let mut store = Store::open_locked(state, &lock).unwrap();
    let options = RunOptions {
        run_id: flow_engine::store::runs::new_run_id(),
        jobs: 2,
        memory_budget: 1 << 30,
        keep_going: false,
        overwrite: false,
        cancel: CancelToken::new(),
        observer: Arc::new(Quiet),
        previous: None,
        executor: Arc::new(flow_engine::executor::Local),
        selection: Default::default(),
    };
    runtime.block_on(run(Arc::new(workflow), &mut store, options)).unwrap()
}

#[test]
fn an_embedder_on_a_current_thread_runtime_can_run_and_publish() {
    let dir = tempfile::tempdir().unwrap();
    let registry = common::registry(&common::Write::new("1"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let text = format!("{CHAIN}publish: {{ b.out: results/b.txt }}\n");
    let outcome = run_text_on(&runtime, dir.path(), &registry, &text);
    assert_eq!(outcome.record.count(NodeStatus::Ran), 2);
    assert!(dir.path().join("results/b.txt").exists(), "published");
}

fn statuses(outcome: &RunOutcome) -> Vec<(String, NodeStatus)> {
    outcome.record.nodes.iter().map(|n| (n.name.clone(), n.status)).collect()
}

fn status_of(outcome: &RunOutcome, name: &str) -> NodeStatus {
    outcome.record.nodes.iter().find(|n| n.name == name).map(|n| n.status).unwrap()
}

const CHAIN: &str = "nodes:\n  a:\n    uses: test.write\n    with: { text: A }\n  b:\n    uses: test.write\n    in: { src: a.out }\n    with: { text: B }\n";

#[test]
fn kind_version_bump_reruns_that_kind() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = common::Write::new("1");
    let first = run_text(dir.path(), &common::registry(&v1), CHAIN);
    assert_eq!(first.record.count(NodeStatus::Ran), 2);
    let again = run_text(dir.path(), &common::registry(&v1), CHAIN);
    assert_eq!(again.record.count(NodeStatus::Cached), 2);
    assert_eq!(v1.runs(), 2);

    // Version 2 of the kind may write different bytes for the same params: both nodes rerun.
    let v2 = common::Write::new("2");
    let bumped = run_text(dir.path(), &common::registry(&v2), CHAIN);
    assert_eq!(bumped.record.count(NodeStatus::Ran), 2);
    assert_eq!(v2.runs(), 2);
}

#[test]
fn plugin_code_digest_is_part_of_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let original = common::Write::new("1");
    run_text(dir.path(), &common::registry(&original), CHAIN);
    let edited = Arc::new(common::Write {
        version: "1".into(),
        code: Some(Digest::of_bytes(b"edited script")),
        runs: Default::default(),
    });
    let outcome = run_text(dir.path(), &common::registry(&edited), CHAIN);
    assert_eq!(outcome.record.count(NodeStatus::Ran), 2);
}

#[test]
fn identical_output_stops_reruns_downstream() {
    let dir = tempfile::tempdir().unwrap();
    let kind = common::Write::new("1");
    let registry = common::registry(&kind);
    // `a` concatenates its text and its input; moving a character between them changes a's
    // params but not its output bytes.
    std::fs::write(dir.path().join("in.txt"), b"yz").unwrap();
    let text = |a: &str| {
        format!(
            "nodes:\n  a:\n    uses: test.write\n    in: {{ src: file:in.txt }}\n    with: {{ text: {a} }}\n  b:\n    uses: test.write\n    in: {{ src: a.out }}\n    with: {{ text: B }}\n"
        )
    };
    run_text(dir.path(), &registry, &text("x"));
    std::fs::write(dir.path().join("in.txt"), b"z").unwrap();
    let outcome = run_text(dir.path(), &registry, &text("xy"));
    assert_eq!(statuses(&outcome), vec![("a".into(), NodeStatus::Ran), ("b".into(), NodeStatus::Cached)]);
    assert_eq!(kind.runs(), 3);
}

#[test]
fn failure_keeps_finished_nodes_and_skips_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let kind = common::Write::new("1");
    let registry = common::registry(&kind);
    let failing = "nodes:\n  a:\n    uses: test.write\n    with: { text: A }\n  b:\n    uses: test.write\n    in: { src: a.out }\n    with: { text: B, fail: true }\n  c:\n    uses: test.write\n    in: { src: b.out }\n    with: { text: C }\n";
    let outcome = run_text(dir.path(), &registry, failing);
    assert_eq!(
        statuses(&outcome),
        vec![("a".into(), NodeStatus::Ran), ("b".into(), NodeStatus::Failed), ("c".into(), NodeStatus::Skipped)]
    );
    assert_eq!(outcome.failures.len(), 1);
    assert!(outcome.failures[0].error.contains("asked to fail"));
    let fixed = failing.replace(", fail: true", "");
    let outcome = run_text(dir.path(), &registry, &fixed);
    assert_eq!(status_of(&outcome, "a"), NodeStatus::Cached);
    assert_eq!(status_of(&outcome, "b"), NodeStatus::Ran);
    assert_eq!(status_of(&outcome, "c"), NodeStatus::Ran);
}

#[test]
fn outputs_are_in_the_store_under_their_digest() {
    let dir = tempfile::tempdir().unwrap();
    let kind = common::Write::new("1");
    let outcome = run_text(dir.path(), &common::registry(&kind), CHAIN);
    let b = outcome.record.nodes.iter().find(|n| n.name == "b").unwrap();
    let digest: Digest = b.outputs["out"].parse().unwrap();
    let hex = digest.to_hex();
    let stored = std::fs::read(dir.path().join(".flow/cas").join(&hex[..2]).join(&hex[2..])).unwrap();
    assert_eq!(stored, b"BA");
    assert_eq!(Digest::of_bytes(&stored), digest);
}

#[test]
fn dropped_objects_make_a_cache_miss_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let kind = common::Write::new("1");
    let registry = common::registry(&kind);
    run_text(dir.path(), &registry, CHAIN);
    std::fs::remove_dir_all(dir.path().join(".flow/cas")).unwrap();
    let outcome = run_text(dir.path(), &registry, CHAIN);
    assert_eq!(outcome.record.count(NodeStatus::Ran), 2);
}

#[test]
fn a_node_sees_the_workflow_structure_and_it_is_part_of_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let write = common::Write::new("1");
    let text = format!(
        "{CHAIN}  view:\n    uses: test.run_view\n    in: {{ src: b.out }}\n  side:\n    uses: test.write\n    with: {{ text: S }}\n"
    );
    let view = |outcome: &RunOutcome| -> Vec<flow_engine::kind::WorkflowNode> {
        let node = outcome.record.nodes.iter().find(|n| n.name == "view").unwrap();
        let digest: Digest = node.outputs["out"].parse().unwrap();
        let path = Store::open(StateDir::new(dir.path().join(".flow"))).unwrap().cas.object_path(&digest);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let first = run_text(dir.path(), &common::registry(&write), &text);
    let seen = view(&first);
    let by_name = |name: &str| seen.iter().find(|n| n.name == name).unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert_eq!(by_name("b").upstream, vec!["a".to_string()]);
    assert_eq!(by_name("view").kind, "test.run_view");

    // Structure only: an unchanged rerun is cached with the same bytes, and so is one where an
    // upstream node reran with identical output.
    let again = run_text(dir.path(), &common::registry(&write), &text);
    assert_eq!(status_of(&again, "view"), NodeStatus::Cached);
    assert_eq!(view(&again), seen);

    // A node outside its upstream may change freely; renaming one inside reruns it.
    let side_changed = run_text(dir.path(), &common::registry(&write), &text.replace("text: S", "text: S2"));
    assert_eq!(status_of(&side_changed, "side"), NodeStatus::Ran);
    assert_eq!(status_of(&side_changed, "view"), NodeStatus::Cached);
    let renamed = text.replace("  a:\n", "  first:\n").replace("src: a.out", "src: first.out");
    let renamed = run_text(dir.path(), &common::registry(&write), &renamed);
    assert_eq!(status_of(&renamed, "view"), NodeStatus::Ran);
    assert!(view(&renamed).iter().any(|n| n.name == "first"));
}
