//! Workflow validation: every bad input is reported with its file:line:column before anything
//! runs.

mod common;

use std::path::Path;

use flow_engine::diagnostic::Diagnostics;
use flow_engine::workflow::{LoadOptions, Source, Workflow, load_str};

fn load_with(text: &str, overrides: &[(String, String)], project: &Path) -> Result<Workflow, Diagnostics> {
    let write = common::Write::new("1");
    let registry = common::registry(&write);
    let options = LoadOptions { registry: &registry, overrides, project_dir: project };
    load_str(text, Path::new("w.yaml"), &options)
}

fn load(text: &str) -> Result<Workflow, Diagnostics> {
    load_with(text, &[], Path::new("/nonexistent-project"))
}

/// The single error's "line:column: message", for exact comparisons.
fn error(text: &str) -> String {
    let diags = match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(d) => d,
    };
    assert_eq!(diags.0.len(), 1, "expected one error, got: {diags}");
    let d = &diags.0[0];
    format!("{}:{}: {}", d.pos.line, d.pos.column, d.message)
}

#[test]
fn valid_workflow_resolves_references_and_vars() {
    let wf = load(
        "name: ok\nvars: { greeting: hi, n: 3 }\nnodes:\n  a:\n    uses: test.write\n    with: { text: ${greeting} }\n  b:\n    uses: test.write\n    in: { src: a.out }\n    with: { text: \"n=${n}\" }\n",
    )
    .unwrap();
    assert_eq!(wf.nodes.len(), 2);
    assert_eq!(wf.nodes[0].params["text"], "hi");
    assert_eq!(wf.nodes[1].params["text"], "n=3");
    assert_eq!(wf.nodes[1].inputs[0].sources, vec![Source::Node { node: wf.nodes[0].id, output: 0 }]);
}

#[test]
fn overrides_replace_vars_with_typed_values() {
    let text = "vars: { text: a }\nnodes:\n  a:\n    uses: test.write\n    with: { text: ${text} }\n";
    let wf = load_with(text, &[("text".into(), "b".into())], Path::new("/")).unwrap();
    assert_eq!(wf.nodes[0].params["text"], "b");
    let err = load_with(text, &[("txt".into(), "b".into())], Path::new("/")).err().unwrap();
    assert!(err.to_string().contains("no variable 'txt'") && err.to_string().contains("did you mean 'text'"), "{err}");
}

#[test]
fn unknown_kind_suggests_the_closest() {
    assert_eq!(
        error("nodes:\n  a:\n    uses: test.wirte\n    with: { text: x }\n"),
        "3:11: unknown node kind 'test.wirte' (did you mean 'test.write'?)"
    );
}

#[test]
fn unknown_param_points_at_the_key() {
    let e = error("nodes:\n  a:\n    uses: test.write\n    with:\n      text: x\n      txet: y\n");
    assert!(e.starts_with("6:7: node 'a' (test.write): unknown field `txet`"), "{e}");
}

#[test]
fn missing_param_is_named() {
    let e = error("nodes:\n  a:\n    uses: test.write\n");
    assert!(e.starts_with("3:11: node 'a' (test.write): missing field `text`"), "{e}");
}

#[test]
fn unknown_node_field_is_rejected() {
    let e = error("nodes:\n  a:\n    uses: test.write\n    wiht: { text: x }\n");
    assert!(e.starts_with("4:5: unknown field `wiht`"), "{e}");
}

#[test]
fn references_to_missing_nodes_and_ports() {
    let base = "nodes:\n  alpha:\n    uses: test.write\n    with: { text: x }\n  b:\n    uses: test.write\n";
    assert_eq!(
        error(&format!("{base}    in: {{ src: alpah.out }}\n    with: {{ text: y }}\n")),
        "7:16: input 'src' of node 'b' refers to unknown node 'alpah' (did you mean 'alpha'?)"
    );
    assert_eq!(
        error(&format!("{base}    in: {{ src: alpha.outt }}\n    with: {{ text: y }}\n")),
        "7:16: node 'alpha' has no output 'outt' (did you mean 'out'?); its outputs are: out"
    );
    assert_eq!(
        error(&format!("{base}    in: {{ scr: alpha.out }}\n    with: {{ text: y }}\n")),
        "7:11: node 'b' has no input port 'scr' (did you mean 'src'?); its inputs are: src"
    );
}

#[test]
fn port_types_must_fit() {
    let e = error(
        "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n  d:\n    uses: test.dir\n    in: { images: a.out }\n",
    );
    assert_eq!(e, "7:19: type mismatch: a.out is file:txt, but input 'images' of node 'd' takes dir");
}

#[test]
fn required_inputs_must_be_bound() {
    assert_eq!(error("nodes:\n  d:\n    uses: test.dir\n"), "2:3: node 'd' needs input 'images' (dir) under `in:`");
}

#[test]
fn cycles_name_every_node() {
    let e = error(
        "nodes:\n  a:\n    uses: test.write\n    in: { src: c.out }\n    with: { text: x }\n  b:\n    uses: test.write\n    in: { src: a.out }\n    with: { text: x }\n  c:\n    uses: test.write\n    in: { src: b.out }\n    with: { text: x }\n",
    );
    assert_eq!(e, "2:3: cycle: a -> b -> c -> a");
    let e = error("nodes:\n  a:\n    uses: test.write\n    in: { src: a.out }\n    with: { text: x }\n");
    assert_eq!(e, "4:16: cycle: node 'a' reads its own output");
}

#[test]
fn duplicate_node_names_are_rejected() {
    let e = error(
        "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n  a:\n    uses: test.write\n    with: { text: y }\n",
    );
    assert!(e.starts_with("5:3: duplicate mapping key: a"), "{e}");
}

#[test]
fn variables_are_checked() {
    assert_eq!(
        error("vars: { seed: 1 }\nnodes:\n  a:\n    uses: test.write\n    with: { text: \"s${sed}\" }\n"),
        "5:21: undefined variable '${sed}' (did you mean 'seed'?): declare it under `vars:`, or write $${sed} for a literal"
    );
    let e = error("nodes:\n  a:\n    uses: test.write\n    with: { text: \"${bad-name}\" }\n");
    assert!(e.starts_with("4:20: bad variable reference '${bad-name}'"), "{e}");
}

#[test]
fn missing_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = "nodes:\n  a:\n    uses: test.write\n    in: { src: file:data/missing.txt }\n    with: { text: x }\n";
    let err = load_with(text, &[], dir.path()).err().unwrap();
    let d = &err.0[0];
    assert_eq!((d.pos.line, d.pos.column), (4, 16));
    assert!(d.message.contains("file not found") && d.message.contains("data/missing.txt"), "{err}");
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/missing.txt"), b"now here").unwrap();
    assert!(load_with(text, &[], dir.path()).is_ok());
}

#[test]
fn all_problems_are_reported_at_once() {
    let err = load(
        "nodes:\n  a:\n    uses: test.wrte\n  b:\n    uses: test.write\n    with: { text: x, extra: 1 }\n  c:\n    uses: test.write\n    in: { src: zz.out }\n    with: { text: x }\n",
    )
    .err()
    .unwrap();
    assert_eq!(err.0.len(), 3, "{err}");
    let lines: Vec<u32> = err.0.iter().map(|d| d.pos.line).collect();
    assert_eq!(lines, vec![3, 6, 9]);
}

#[test]
fn publish_targets_are_validated() {
    let base = "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n";
    assert!(load(&format!("{base}publish: {{ a: results/a.txt }}\n")).is_ok());
    assert_eq!(error(&format!("{base}publish: {{ b.out: results/a.txt }}\n")), "5:12: publish: unknown node 'b'");
    assert_eq!(
        error(&format!("{base}publish: {{ a.outt: r.txt }}\n")),
        "5:12: publish: node 'a' has no output 'outt' (did you mean 'out'?)"
    );
}

#[test]
fn resources_are_checked() {
    let wf = load(
        "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n    resources: { threads: 2, memory: 1.5G }\n",
    )
    .unwrap();
    assert_eq!(wf.nodes[0].threads, 2);
    assert_eq!(wf.nodes[0].memory, Some(1_610_612_736));
    assert_eq!(
        error("nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n    resources: { memory: lots }\n"),
        "5:26: resources.memory must be bytes or a size like 512M, 4G, 1.5GiB"
    );
}

#[test]
fn syntax_errors_are_located() {
    let e = error("nodes:\n  a:\n    uses: test.write\n    with: { text: x\n");
    assert!(e.starts_with('4') || e.starts_with('5'), "{e}");
}
