//! Workflow validation: every bad input is reported with its file:line:column before anything
//! runs.

mod common;

use std::path::Path;

use flow_engine::diagnostic::Diagnostics;
use flow_engine::workflow::{LoadOptions, Source, Workflow, load_str};

fn load_with(text: &str, overrides: &[(String, String)], project: &Path) -> Result<Workflow, Diagnostics> {
    let write = common::Write::new("1");
    let registry = common::registry(&write);
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
