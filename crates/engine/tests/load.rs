//! Workflow validation: every bad input is reported with its file:line:column before anything
//! runs.

mod common;

use std::path::Path;
use std::sync::Arc;

use flow_engine::diagnostic::Diagnostics;
use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamError, PortSpec, PortType, Registry,
};
use flow_engine::workflow::{LoadOptions, Source, Workflow, load_str};
use serde_json::Value;

/// `test.pair`: takes two lists it pairs item by item, as report.html pairs `metrics` and
/// `pca`; `right` may be left out.
struct Pair;

impl NodeKind for Pair {
    fn name(&self) -> &str {
        "test.pair"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "pairs two lists".into(),
            inputs: Inputs::Fixed(vec![
                PortSpec::new("left", PortType::FILE, "").many(),
                PortSpec::new("right", PortType::FILE, "").many().optional(),
            ]),
            outputs: Outputs::Fixed(vec![PortSpec::new("out", PortType::FILE, "")]),
            params: vec![],
        }
    }
    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        Ok(self.info().configured(params.clone()))
    }
    fn aligned_inputs(&self) -> &[&[&str]] {
        &[&["left", "right"]]
    }
    fn run(&self, _ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        Err(NodeError::Failed("test.pair only loads".into()))
    }
}

fn registry() -> Registry {
    let mut registry = common::registry(&common::Write::new("1"));
    registry.register(Arc::new(Pair));
    registry
}

fn load_with(text: &str, overrides: &[(String, String)], project: &Path) -> Result<Workflow, Diagnostics> {
    let registry = registry();
    let state_dir = project.join(".flow");
    let options = LoadOptions { registry: &registry, overrides, project_dir: project, state_dir: &state_dir };
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

/// A project directory with a `.flow` state directory, for path checks.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".flow")).unwrap();
    dir
}

/// The "line:column: message" of each error of a load that must fail.
fn errors_in(text: &str, overrides: &[(String, String)], project: &Path) -> Vec<String> {
    match load_with(text, overrides, project) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.0.iter().map(|d| format!("{}:{}: {}", d.pos.line, d.pos.column, d.message)).collect(),
    }
}

const WRITE_A: &str = "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n";

#[test]
fn publish_destinations_stay_strictly_inside_the_project_and_outside_the_state_dir() {
    let dir = project();
    let p = dir.path();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), p.join("link")).unwrap();
    std::os::unix::fs::symlink(".flow", p.join("state-link")).unwrap();
    std::fs::create_dir(p.join("results")).unwrap();
    for (dest, needle) in [
        ("..", "holds flow's state directory"),
        ("../..", "holds flow's state directory"),
        (".", "is the project directory itself"),
        ("./", "is the project directory itself"),
        ("results/..", "is the project directory itself"),
        ("/etc/flow-test.txt", "outside the project directory"),
        ("results/../../elsewhere.txt", "outside the project directory"),
        ("results/../.flow/cas", "may not be inside flow's state directory"),
        (".flow", "may not be inside flow's state directory"),
        ("nothing-yet/../.flow/x", "may not be inside flow's state directory"),
        ("state-link/x.txt", "may not be inside flow's state directory"),
        ("link/x.txt", "(through a symbolic link)"),
    ] {
        let errors = errors_in(&format!("{WRITE_A}publish: {{ a: \"{dest}\" }}\n"), &[], p);
        assert_eq!(errors.len(), 1, "{dest}: {errors:?}");
        assert!(errors[0].starts_with("5:15: publish: the destination"), "{dest}: {errors:?}");
        assert!(errors[0].contains(needle), "{dest} should say {needle:?}: {errors:?}");
    }
    // Inside the project, written relative or absolute, is fine; `..` that stays inside too.
    let absolute = p.join("results/a.txt");
    for dest in ["results/a.txt", absolute.to_str().unwrap(), "results/sub/../b.txt", "new/dir/c.txt"] {
        let wf = load_with(&format!("{WRITE_A}publish: {{ a: \"{dest}\" }}\n"), &[], p).unwrap();
        let written = wf.publish[0].dest.strip_prefix(p).unwrap();
        assert!(!written.components().any(|c| c == std::path::Component::ParentDir), "{dest}: {written:?}");
    }
}

#[test]
fn publish_respects_a_state_dir_anywhere() {
    let dir = project();
    let p = dir.path();
    let registry = common::registry(&common::Write::new("1"));
    let text = |dest: &str| format!("{WRITE_A}publish: {{ a: \"{dest}\" }}\n");
    let with_state = |state: &Path, dest: &str| {
        let options = LoadOptions { registry: &registry, overrides: &[], project_dir: p, state_dir: state };
        load_str(&text(dest), Path::new("w.yaml"), &options)
    };
    let err = with_state(Path::new("store/flow"), "store/flow/objects").err().unwrap();
    assert!(err.to_string().contains("inside flow's state directory"), "{err}");
    let err = with_state(&p.join("out/state"), "out").err().unwrap();
    assert!(err.to_string().contains("holds flow's state directory"), "{err}");
    // With the state elsewhere, `.flow` is an ordinary folder of the project.
    assert!(with_state(Path::new("/var/tmp/flow-state-elsewhere"), ".flow/x.txt").is_ok());
}

#[test]
fn publish_destinations_may_not_nest() {
    let dir = project();
    let two = "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n  b:\n    uses: test.write\n    with: { text: y }\n";
    let errors = errors_in(&format!("{two}publish:\n  a: results\n  b: results/b.txt\n"), &[], dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("10:6: publish: the destinations 'results/b.txt' and 'results'"), "{errors:?}");
    let errors = errors_in(&format!("{two}publish:\n  a: results/./x.txt\n  b: results//x.txt\n"), &[], dir.path());
    assert_eq!(errors, vec!["10:6: publish: two artifacts go to results//x.txt"]);
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn file_inputs_that_would_hang_the_hash_are_load_errors() {
    let dir = project();
    let p = dir.path();
    mkfifo(&p.join("pipe"));
    std::fs::create_dir_all(p.join("images/sub")).unwrap();
    std::fs::write(p.join("images/ok.nii"), b"x").unwrap();
    mkfifo(&p.join("images/sub/pipe"));
    std::os::unix::fs::symlink("/dev/zero", p.join("zero")).unwrap();
    std::fs::create_dir(p.join("linked")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", p.join("linked/zero")).unwrap();
    let input = |reference: &str| {
        format!("nodes:\n  a:\n    uses: test.write\n    in: {{ src: \"{reference}\" }}\n    with: {{ text: x }}\n")
    };
    for (reference, needle) in [
        ("file:pipe", "pipe is a named pipe (FIFO)"),
        ("file:/dev/zero", "/dev/zero is a character device"),
        ("file:zero", "zero is a character device"),
        ("file:", "'file:' needs a path after it"),
        ("file:.", "is the project directory itself"),
        ("file:..", "holds flow's state directory"),
    ] {
        let errors = errors_in(&input(reference), &[], p);
        assert_eq!(errors.len(), 1, "{reference}: {errors:?}");
        assert!(errors[0].starts_with("4:16: input 'src' of node 'a': "), "{reference}: {errors:?}");
        assert!(errors[0].contains(needle), "{reference} should say {needle:?}: {errors:?}");
    }
    let dir_input =
        |reference: &str| format!("nodes:\n  d:\n    uses: test.dir\n    in: {{ images: \"{reference}\" }}\n");
    let errors = errors_in(&dir_input("file:images"), &[], p);
    assert!(errors[0].contains("images/sub/pipe, which is a named pipe"), "{errors:?}");
    // A link inside a folder is hashed by its text, whatever it points to.
    assert!(load_with(&dir_input("file:linked"), &[], p).is_ok());
}

#[test]
fn unreadable_file_inputs_are_load_errors() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project();
    let p = dir.path();
    std::fs::write(p.join("secret.csv"), b"id\n").unwrap();
    std::fs::set_permissions(p.join("secret.csv"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::create_dir(p.join("images")).unwrap();
    std::fs::write(p.join("images/a.nii"), b"x").unwrap();
    std::fs::set_permissions(p.join("images/a.nii"), std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(p.join("secret.csv")).is_ok() {
        // Root reads every file whatever its mode, so there is nothing to refuse.
        eprintln!("skipping: running as root, which can read files with mode 000");
        return;
    }
    let errors = errors_in(
        "nodes:\n  a:\n    uses: test.write\n    in: { src: file:secret.csv }\n    with: { text: x }\n",
        &[],
        p,
    );
    assert!(errors[0].starts_with("4:16: ") && errors[0].contains("secret.csv: permission denied"), "{errors:?}");
    let errors = errors_in("nodes:\n  d:\n    uses: test.dir\n    in: { images: file:images }\n", &[], p);
    assert!(errors[0].contains("a.nii: permission denied"), "{errors:?}");
}

#[test]
fn long_node_names_are_load_errors() {
    let long = "n".repeat(300);
    let errors =
        errors_in(&format!("nodes:\n  {long}:\n    uses: test.write\n    with: {{ text: x }}\n"), &[], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("2:3: node name 'nnnn"), "{errors:?}");
    assert!(errors[0].contains("300 characters long; the limit is 128"), "{errors:?}");
    let limit = "n".repeat(128);
    assert!(load(&format!("nodes:\n  {limit}:\n    uses: test.write\n    with: {{ text: x }}\n")).is_ok());
}

#[test]
fn workflows_that_are_not_utf8_name_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.yaml");
    let registry = common::registry(&common::Write::new("1"));
    let state_dir = dir.path().join(".flow");
    let options = LoadOptions { registry: &registry, overrides: &[], project_dir: dir.path(), state_dir: &state_dir };
    let load_error = |bytes: &[u8]| {
        std::fs::write(&file, bytes).unwrap();
        let err = flow_engine::workflow::load(&file, &options).err().unwrap();
        assert_eq!(err.0.len(), 1, "{err}");
        err.0[0].clone()
    };
    let err = load_error(b"nodes:\n  a:\n    uses: test.write\n    with: { text: \"caf\xc3\xa9 \xff\" }\n");
    assert_eq!((err.pos.line, err.pos.column), (4, 25));
    assert!(err.message.contains("not valid UTF-8: byte 0xFF at byte offset 58 (line 4, column 25)"), "{err}");
    let err = load_error(b"\xff\xfen\x00o\x00");
    assert!(err.message.contains("UTF-16"), "{err}");
    let err = flow_engine::workflow::load(dir.path(), &options).err().unwrap();
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn parser_internals_become_sentences() {
    let e = error(&format!("{WRITE_A}---\n{WRITE_A}"));
    assert!(e.starts_with("6:1: the file holds more than one YAML document"), "{e}");
    let deep = format!("vars: {{ x: {}{} }}\n{WRITE_A}", "[".repeat(300), "]".repeat(300));
    let e = error(&deep);
    assert!(e.contains("nested too deeply") && !e.contains("recursion"), "{e}");
    let mut laughs = String::from("vars:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        laughs.push_str(&format!("  a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    let e = error(&format!("{laughs}{WRITE_A}"));
    assert!(e.contains("too many values") && !e.contains("budget"), "{e}");
    let e = error("# just a comment\n");
    assert!(e.contains("the file is empty"), "{e}");
}

#[test]
fn nested_variables_resolve_and_cycles_are_named() {
    let text = "vars: { dir: results, out: \"${dir}/a.txt\", n: 3, copy: ${n} }\nnodes:\n  a:\n    uses: test.write\n    with: { text: \"${out} ${copy}\" }\n";
    let wf = load(text).unwrap();
    assert_eq!(wf.nodes[0].params["text"], "results/a.txt 3");
    // An override reads like a value under `vars:`, so it may use other variables too.
    let wf = load_with(text, &[("out".into(), "${dir}/b.txt".into())], Path::new("/")).unwrap();
    assert_eq!(wf.nodes[0].params["text"], "results/b.txt 3");
    let wf = load_with(text, &[("out".into(), "$${dir}".into())], Path::new("/")).unwrap();
    assert_eq!(wf.nodes[0].params["text"], "${dir} 3", "$${{ is a literal");
    let errors = errors_in(text, &[("out".into(), "${nope}".into())], Path::new("/"));
    assert!(errors[0].contains("-s out=${nope}: undefined variable '${nope}'"), "{errors:?}");
    let errors = errors_in(text, &[("dir".into(), "x/${out}".into())], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("1:9: variables refer to each other in a cycle: dir -> out -> dir"), "{errors:?}");
    let cyclic =
        "vars: { a: \"x${b}\", b: \"${a}\" }\nnodes:\n  a:\n    uses: test.write\n    with: { text: \"${a}\" }\n";
    let errors = errors_in(cyclic, &[], Path::new("/"));
    assert_eq!(
        errors,
        vec![
            "1:9: variables refer to each other in a cycle: a -> b -> a; a value may use other variables, but never itself"
        ]
    );
}

#[test]
fn variables_reach_shell_commands_as_literal_text() {
    let text = "vars: { v: x }\nnodes:\n  a:\n    uses: test.command\n    with:\n      label: \"${v}\"\n      cmd: echo ${v} '${v}' \"${v}\" > out\n";
    let set = |value: &str| vec![("v".to_string(), value.to_string())];
    let wf = load_with(text, &set("$(touch pwned)"), Path::new("/")).unwrap();
    assert_eq!(wf.nodes[0].params["cmd"], "echo '$(touch pwned)' '$(touch pwned)' \"\\$(touch pwned)\" > out");
    assert_eq!(wf.nodes[0].params["label"], "$(touch pwned)", "params that are no command take the value as it is");
    let wf = load_with(text, &set("plain-1.5"), Path::new("/")).unwrap();
    assert_eq!(wf.nodes[0].params["cmd"], "echo plain-1.5 'plain-1.5' \"plain-1.5\" > out");

    // Where flow cannot quote, a special value is refused at the use that cannot take it.
    let nested = "vars: { v: x }\nnodes:\n  a:\n    uses: test.command\n    with:\n      cmd: |\n        echo ${v}\n        echo $(cat ${v})\n";
    let errors = errors_in(nested, &set("a b"), Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("8:20: node 'a': ${v} is used inside $(...)"), "{errors:?}");
    assert!(errors[0].contains("env:"), "{errors:?}");
    assert!(load_with(nested, &set("a.csv"), Path::new("/")).is_ok());
}

// Templates: a group of nodes written once, made once per value at load.

fn names(wf: &Workflow) -> Vec<&str> {
    wf.nodes.iter().map(|n| n.name.as_str()).collect()
}

/// What input `port` of node `node` reads, as `node.port` or `file:PATH`, in order.
fn bound(wf: &Workflow, node: &str, port: &str) -> Vec<String> {
    let id = wf.find(node).unwrap_or_else(|| panic!("no node {node} in {:?}", names(wf)));
    let binding = wf.node(id).inputs.iter().find(|b| b.port == port).unwrap_or_else(|| panic!("{node} has no {port}"));
    binding
        .sources
        .iter()
        .map(|s| match s {
            Source::Node { node, output } => wf.output_name(*node, *output),
            Source::File { written, .. } => format!("file:{written}"),
        })
        .collect()
}

const CHAIN_TEMPLATE: &str = "\
vars: { greeting: hi }
nodes:
  first:
    uses: test.write
    with: { text: start }
  chain:
    doc: one chain per value
    for_each: { v: [b, a, c] }
    nodes:
      ${v}_w:
        uses: test.write
        in: { src: first.out }
        with: { text: \"${greeting} ${v}\" }
      ${v}_x:
        uses: test.write
        in: { src: ${v}_w.out }
        with: { text: ${v} }
  last:
    uses: test.pair
    in: { left: ${each v}_x.out, right: [${each v}_w.out] }
publish: { a_x: results/a.txt }
";

#[test]
fn templates_expand_in_place_into_plain_nodes_named_by_their_values() {
    let wf = load(CHAIN_TEMPLATE).unwrap();
    assert_eq!(names(&wf), ["first", "b_w", "b_x", "a_w", "a_x", "c_w", "c_x", "last"]);
    let node = |name: &str| wf.node(wf.find(name).unwrap());
    assert_eq!(node("a_w").params["text"], "hi a", "the template's variable and the workflow's");
    assert_eq!(node("c_x").params["text"], "c");
    // A reference inside an instance names that instance's node.
    for v in ["a", "b", "c"] {
        assert_eq!(bound(&wf, &format!("{v}_x"), "src"), [format!("{v}_w.out")]);
        assert_eq!(bound(&wf, &format!("{v}_w"), "src"), ["first.out"]);
    }
    // Errors and positions point into the template.
    assert_eq!((node("a_x").pos.line, node("a_x").pos.column), (14, 7));
    // Instance nodes are ordinary nodes: publish names them as such.
    assert_eq!(wf.publish.len(), 1);
    assert_eq!(wf.publish[0].node, wf.find("a_x").unwrap());
}

#[test]
fn gathers_list_every_instance_in_the_order_of_for_each() {
    let wf = load(CHAIN_TEMPLATE).unwrap();
    assert_eq!(bound(&wf, "last", "left"), ["b_x.out", "a_x.out", "c_x.out"], "list order, not name order");
    assert_eq!(bound(&wf, "last", "right"), ["b_w.out", "a_w.out", "c_w.out"]);
    // A gather may be one item of a list among others.
    let mixed = CHAIN_TEMPLATE.replace("right: [${each v}_w.out]", "right: [first.out, ${each v}_w.out, first.out]");
    let mixed = mixed.replace("left: ${each v}_x.out", "left: [a_x.out, ${each v}_x.out, c_x.out]");
    let wf = load(&mixed).unwrap();
    assert_eq!(bound(&wf, "last", "right"), ["first.out", "b_w.out", "a_w.out", "c_w.out", "first.out"]);
}

#[test]
fn a_matrix_makes_every_combination_and_rows_make_one_instance_each() {
    let matrix = "nodes:
  grid:
    for_each: { a: [1, 2], b: [x, y] }
    nodes:
      n${a}${b}:
        uses: test.write
        with: { text: \"${a}${b}\" }
  all:
    uses: test.pair
    in: { left: n${each a}${each b}.out }
  per_a:
    uses: test.pair
    in: { left: n${each a}x.out }
";
    let wf = load(matrix).unwrap();
    assert_eq!(names(&wf), ["n1x", "n1y", "n2x", "n2y", "all", "per_a"], "the first variable is outermost");
    assert_eq!(bound(&wf, "all", "left"), ["n1x.out", "n1y.out", "n2x.out", "n2y.out"]);
    assert_eq!(bound(&wf, "per_a", "left"), ["n1x.out", "n2x.out"], "each value of a, once");

    let rows = "nodes:
  sets:
    for_each:
      - { set: genomic, columns: \"g.*\" }
      - { set: imaging, columns: \"i.* EXCLUDE (subject)\" }
    nodes:
      ${set}_q:
        uses: test.write
        with: { text: SELECT ${columns} }
";
    let wf = load(rows).unwrap();
    assert_eq!(names(&wf), ["genomic_q", "imaging_q"]);
    assert_eq!(wf.nodes[1].params["text"], "SELECT i.* EXCLUDE (subject)");
}

#[test]
fn template_values_keep_their_types_and_are_quoted_in_commands() {
    let text = "nodes:
  t:
    for_each: [{ i: 1, v: \"a b; touch pwned\" }, { i: 2, v: 7 }]
    nodes:
      n${i}:
        uses: test.command
        with: { cmd: echo ${v} > out, label: \"${v}\" }
      view${i}:
        uses: test.run_view
        in: { src: n${i}.out }
        with: { value: ${v} }
";
    let wf = load(text).unwrap();
    assert_eq!(names(&wf), ["n1", "view1", "n2", "view2"]);
    assert_eq!(wf.nodes[0].params["cmd"], "echo 'a b; touch pwned' > out", "one shell word, never code");
    assert_eq!(wf.nodes[0].params["label"], "a b; touch pwned");
    assert_eq!(wf.nodes[2].params["cmd"], "echo 7 > out");
    assert_eq!(wf.nodes[3].params["value"], 7, "a value that is the whole scalar keeps its type");
    assert_eq!(wf.nodes[1].params["value"], "a b; touch pwned");

    // A value that makes no valid node name is an error naming the instance.
    let errors = errors_in(&text.replace("n${i}:", "n_${v}:").replace("n${i}.out", "n_${v}.out"), &[], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("5:7: bad node name 'n_a b; touch pwned'"), "{errors:?}");
    assert!(errors[0].ends_with("(in template 't', instance i=1 v=\"a b; touch pwned\")"), "{errors:?}");
}

#[test]
fn errors_in_a_template_point_into_it_and_name_the_instance() {
    let base = "nodes:
  up:
    uses: test.write
    with: { text: x }
  chain:
    for_each: { v: [a, b] }
    nodes:
      ${v}_w:
        uses: test.write
        in: { src: up.out }
        with: { text: ${v} }
      ${v}_x:
        uses: test.write
        in: { src: ${v}_w.out }
        with: { text: x }
";
    // The same mistake in every instance is one error naming them all.
    let errors = errors_in(
        &base.replace("uses: test.write\n        in: { src: up", "uses: test.wrte\n        in: { src: up"),
        &[],
        Path::new("/"),
    );
    assert_eq!(
        errors,
        ["9:15: unknown node kind 'test.wrte' (did you mean 'test.write'?) (in template 'chain', instances v=a, v=b)"]
    );
    // A bad reference, per instance, where it is written.
    let errors = errors_in(&base.replace("src: ${v}_w.out", "src: ${v}_ww.out"), &[], Path::new("/"));
    assert_eq!(
        errors,
        [
            "14:20: input 'src' of node 'a_x' refers to unknown node 'a_ww' (did you mean 'a_w'?) (in template 'chain', instance v=a)",
            "14:20: input 'src' of node 'b_x' refers to unknown node 'b_ww' (did you mean 'b_w'?) (in template 'chain', instance v=b)",
        ]
    );
    // A bad parameter, at its key.
    let errors = errors_in(&base.replace("with: { text: ${v} }", "with: { text: ${v}, txet: 1 }"), &[], Path::new("/"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("11:29: node 'a_w' (test.write): unknown field `txet`"), "{errors:?}");
    assert!(errors[0].ends_with("(in template 'chain', instance v=a)"), "{errors:?}");
    assert!(errors[1].ends_with("(in template 'chain', instance v=b)"), "{errors:?}");
    // A value that only one instance gets wrong names only that instance.
    let errors = errors_in(&base.replace("[a, b]", "[a, \"b!\"]"), &[], Path::new("/"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.contains("bad node name 'b!_") && e.ends_with("instance v=\"b!\")")), "{errors:?}");
}

#[test]
fn template_variables_exist_only_inside_their_template_and_gathers_only_in_inputs() {
    let errors =
        errors_in(&CHAIN_TEMPLATE.replace("with: { text: start }", "with: { text: ${v} }"), &[], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("5:19: ${v} is a variable of template 'chain'"), "{errors:?}");
    let errors = errors_in(
        &CHAIN_TEMPLATE.replace("with: { text: start }", "with: { text: \"${each v}\" }"),
        &[],
        Path::new("/"),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("5:20: ${each v} gathers one reference per instance of template 'chain'"),
        "{errors:?}"
    );
    let errors = errors_in(&CHAIN_TEMPLATE.replace("${each v}_x.out", "${each w}_x.out"), &[], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("20:17: ${each w}: no template has a variable 'w'"), "{errors:?}");
    let errors = errors_in(
        &CHAIN_TEMPLATE.replace("publish: { a_x: results/a.txt }", "publish: { a_x: results/${v}.txt }"),
        &[],
        Path::new("/"),
    );
    assert!(errors[0].starts_with("21:25: ${v} is a variable of template 'chain'"), "{errors:?}");
}

#[test]
fn template_mistakes_are_load_errors() {
    let template = |for_each: &str, node: &str| {
        format!(
            "vars: {{ n: 1 }}\nnodes:\n  t:\n    for_each: {for_each}\n    nodes:\n      {node}:\n        uses: test.write\n        with: {{ text: x }}\n"
        )
    };
    for (for_each, node, expected) in [
        ("{ v: [] }", "${v}_w", "4:20: template 't': `v` has no values"),
        (
            "{ v: a }",
            "${v}_w",
            "4:20: template 't': `v` needs a list of values, such as [a, b]; for one value write [a]",
        ),
        ("{ v: [a, a] }", "${v}_w", "4:15: template 't': instance 2 (v=a) repeats instance 1"),
        ("{ v: [[1, 2]] }", "${v}_w", "4:20: template 't': a value of `v` must be text, a number or a bool, not [1,2]"),
        ("{ n: [a] }", "${n}_w", "4:17: template 't': `n` is also a variable under `vars:`"),
        ("[{ v: a, w: 1 }, { v: b }]", "${v}_w", "4:32: template 't': row 2 sets v, but row 1 sets v, w"),
        ("{}", "${v}_w", "4:15: template 't': `for_each:` gives no instances"),
        ("[a, b]", "${v}_w", "4:16: invalid type: string \"a\", expected a row of variables and their values"),
        ("{ v: [a, b] }", "w", "6:7: template 't': node 'w' has no variable of the template in its name"),
    ] {
        let errors = errors_in(&template(for_each, node), &[], Path::new("/"));
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{for_each} / {node}: expected {expected:?} in {errors:?}"
        );
    }
    let errors =
        errors_in("nodes:\n  t:\n    for_each: { v: [a] }\n    uses: test.write\n    nodes: {}\n", &[], Path::new("/"));
    assert!(errors[0].starts_with("2:3: template 't' has `uses:`; a template holds only"), "{errors:?}");
    let errors = errors_in("nodes:\n  t:\n    for_each: { v: [a] }\n    nodes: {}\n", &[], Path::new("/"));
    assert!(errors[0].starts_with("2:3: template 't' has no nodes"), "{errors:?}");
    let errors = errors_in("nodes:\n  t:\n    for_each: { v: [a] }\n", &[], Path::new("/"));
    assert!(errors[0].starts_with("2:3: template 't' needs both `for_each:`"), "{errors:?}");
    let nested = "nodes:\n  t:\n    for_each: { v: [a] }\n    nodes:\n      inner:\n        for_each: { w: [b] }\n        nodes: {}\n";
    let errors = errors_in(nested, &[], Path::new("/"));
    assert!(errors[0].starts_with("5:7: template 't': 'inner' is a template inside a template"), "{errors:?}");
    let errors = errors_in("nodes:\n  a:\n    with: { text: x }\n", &[], Path::new("/"));
    assert!(errors[0].starts_with("2:3: node 'a' needs `uses:`"), "{errors:?}");
    // Two templates over the same variable would make `${each v}` ambiguous.
    let twice = "nodes:\n  t:\n    for_each: { v: [a] }\n    nodes:\n      ${v}_1: { uses: test.write, with: { text: x } }\n  u:\n    for_each: { v: [b] }\n    nodes:\n      ${v}_2: { uses: test.write, with: { text: x } }\n";
    let errors = errors_in(twice, &[], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("7:17: template 'u': `v` is also a variable of template 't'"), "{errors:?}");
}

#[test]
fn instances_may_not_take_a_name_already_used() {
    let text = "nodes:\n  a_w:\n    uses: test.write\n    with: { text: x }\n  t:\n    for_each: { v: [a, b] }\n    nodes:\n      ${v}_w: { uses: test.write, with: { text: y } }\n";
    let errors = errors_in(text, &[], Path::new("/"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("8:7: two nodes are named 'a_w' (the other at 2:3)")
            && errors[0].ends_with("(in template 't', instance v=a)"),
        "{errors:?}"
    );
    // A matrix whose names leave out a variable gives two instances one name.
    let text = "nodes:\n  t:\n    for_each: { v: [a, b], w: [1, 2] }\n    nodes:\n      ${v}_n: { uses: test.write, with: { text: y } }\n";
    let errors = errors_in(text, &[], Path::new("/"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("5:7: two nodes are named 'a_n' (the other at 5:7)"), "{errors:?}");
}

#[test]
fn lists_a_kind_pairs_must_line_up_at_load() {
    let base = "nodes:\n  a:\n    uses: test.write\n    with: { text: x }\n  p:\n    uses: test.pair\n";
    assert!(load(&format!("{base}    in: {{ left: [a.out, a.out], right: [a.out, a.out] }}\n")).is_ok());
    assert!(load(&format!("{base}    in: {{ left: [a.out, a.out] }}\n")).is_ok(), "an unbound list is not counted");
    assert_eq!(
        error(&format!("{base}    in: {{ left: [a.out, a.out, a.out], right: [a.out, a.out] }}\n")),
        "7:40: node 'p' (test.pair): input 'right' has 2 artifacts but 'left' has 3; the kind pairs them one to \
         one, in order, so give both the same number"
    );
    // Gathers count their instances: two templates of different lengths do not line up.
    let gathered = "nodes:
  s:
    for_each: { v: [a, b, c] }
    nodes:
      ${v}_m: { uses: test.write, with: { text: x } }
  t:
    for_each: { w: [a, b] }
    nodes:
      ${w}_p: { uses: test.write, with: { text: x } }
  report:
    uses: test.pair
    in: { left: ${each v}_m.out, right: ${each w}_p.out }
";
    let e = error(gathered);
    assert!(e.starts_with("12:34: node 'report' (test.pair): input 'right' has 2 artifacts but 'left' has 3"), "{e}");
    // One reference gathers from one template.
    let e = error(&gathered.replace("right: ${each w}_p.out", "right: \"${each v}_${each w}.out\""));
    assert!(
        e.starts_with(
            "12:41: input 'right' of node 'report': ${each v} and ${each w} loop in different templates ('s' and 't')"
        ),
        "{e}"
    );
}

#[test]
fn a_gather_may_list_files_one_per_instance() {
    let dir = project();
    for sample in ["s1", "s2"] {
        std::fs::write(dir.path().join(format!("{sample}.txt")), sample).unwrap();
    }
    let text = "nodes:
  t:
    for_each: { sample: [s2, s1] }
    nodes:
      ${sample}_w: { uses: test.write, in: { src: file:${sample}.txt }, with: { text: x } }
  all:
    uses: test.pair
    in: { left: file:${each sample}.txt, right: ${each sample}_w.out }
";
    let wf = load_with(text, &[], dir.path()).unwrap();
    assert_eq!(bound(&wf, "all", "left"), ["file:s2.txt", "file:s1.txt"]);
    assert_eq!(bound(&wf, "s1_w", "src"), ["file:s1.txt"]);
    // Each gathered file is checked like any `file:` input.
    std::fs::remove_file(dir.path().join("s1.txt")).unwrap();
    let errors = errors_in(text, &[], dir.path());
    assert!(errors.iter().any(|e| e.starts_with("8:17: input 'left' of node 'all': file not found")), "{errors:?}");
}
