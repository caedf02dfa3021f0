//! Bad input: every problem is reported with file:line:column, exit status 2, nothing runs and
//! the store is not touched.

use crate::util::{Output, Project, WORKFLOW, locate};

/// A node that would leave `ran-ok` behind if anything ran.
const OK_NODE: &str = r#"  ok:
    uses: shell
    with: { run: "touch ran-ok; echo ok > {out.o}", outputs: { o: file } }
"#;

/// Runs the workflow on a fresh project and checks the common contract of bad input; returns
/// the output for message checks. `at` is the text of the offending token in `yaml`.
#[track_caller]
fn rejects(yaml: &str, at: &str, message: &[&str]) -> Output {
    let (line, column) = locate(yaml, at);
    rejects_at(yaml, line, column, message)
}

#[track_caller]
fn rejects_at(yaml: &str, line: usize, column: usize, message: &[&str]) -> Output {
    let project = Project::with_workflow(yaml);
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(2);
    let location = format!("{WORKFLOW}:{line}:{column}: ");
    let error_line =
        out.stderr.lines().find(|l| l.contains(&location)).unwrap_or_else(|| {
            panic!("stderr should have an error at {location}(the offending token)\n{}", out.context())
        });
    assert!(error_line.starts_with("error: "), "errors start with 'error: '\n{}", out.context());
    for needle in message {
        assert!(error_line.contains(needle), "the error at {location} should mention {needle:?}\n{}", out.context());
    }
    assert!(!project.exists("ran-ok"), "nothing may run on bad input\n{}", out.context());
    assert!(!project.exists(".flow"), "bad input must not create the store\n{}", out.context());
    assert!(out.stdout.is_empty(), "no summary on bad input\n{}", out.context());

    // `plan` validates the same way, and does not create the store either.
    let plan = project.flow(&["plan", WORKFLOW]);
    plan.assert_code(2).assert_stderr_contains(&location);
    assert!(!project.exists(".flow"), "plan must not create the store\n{}", plan.context());
    out
}

#[test]
fn unknown_node_kind_suggests_the_closest() {
    let yaml = format!("name: bad\nnodes:\n{OK_NODE}  typo:\n    uses: shel\n    with: {{ run: \"true\" }}\n");
    rejects(&yaml, "shel\n", &["unknown node kind 'shel'", "did you mean 'shell'"]);
}

#[test]
fn unknown_node_kind_without_close_match_points_to_flow_nodes() {
    let yaml = format!("name: bad\nnodes:\n{OK_NODE}  typo:\n    uses: ml.nothing_like_it\n");
    let out = rejects(&yaml, "ml.nothing_like_it", &["unknown node kind 'ml.nothing_like_it'"]);
    out.assert_stderr_contains("flow nodes").assert_stderr_lacks("did you mean");
}

#[test]
fn unknown_param_is_rejected_with_suggestion() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  typo:\n    uses: shell\n    with:\n      run: \"echo x > {{out.o}}\"\n      ouputs: {{ o: file }}\n"
    );
    rejects(&yaml, "ouputs", &["node 'typo'", "unknown field", "ouputs", "did you mean 'outputs'"]);
}

#[test]
fn missing_required_param_is_rejected() {
    let yaml =
        format!("name: bad\nnodes:\n{OK_NODE}  norun:\n    uses: shell\n    with: {{ outputs: {{ o: file }} }}\n");
    // No key to point at: the error sits on the node's kind.
    let (line, _) = locate(&yaml, "  norun:");
    let out = rejects_at(&yaml, line + 1, 11, &["node 'norun'", "run"]);
    out.assert_stderr_contains("missing field");
}

#[test]
fn unknown_node_field_is_rejected() {
    let yaml =
        format!("name: bad\nnodes:\n{OK_NODE}  a:\n    uses: shell\n    retry: 2\n    with: {{ run: \"true\" }}\n");
    rejects(&yaml, "retry", &["retry"]);
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let yaml = format!("name: bad\nvariables: {{ n: 1 }}\nnodes:\n{OK_NODE}");
    rejects(&yaml, "variables", &["variables"]);
}

#[test]
fn reference_to_missing_node_is_rejected() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  use:\n    uses: shell\n    in: {{ x: nosuch.o }}\n    with: {{ run: \"cat {{in.x}}\" }}\n"
    );
    rejects(&yaml, "nosuch.o", &["input 'x' of node 'use'", "unknown node 'nosuch'"]);
}

#[test]
fn reference_to_misspelt_node_suggests_it() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  use:\n    uses: shell\n    in: {{ x: okk.o }}\n    with: {{ run: \"cat {{in.x}}\" }}\n"
    );
    rejects(&yaml, "okk.o", &["unknown node 'okk'", "did you mean 'ok'"]);
}

#[test]
fn reference_to_missing_output_port_is_rejected() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  use:\n    uses: shell\n    in: {{ x: ok.out }}\n    with: {{ run: \"cat {{in.x}}\" }}\n"
    );
    rejects(&yaml, "ok.out", &["node 'ok' has no output 'out'", "its outputs are: o"]);
}

#[test]
fn malformed_reference_is_rejected() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  use:\n    uses: shell\n    in: {{ x: justaname }}\n    with: {{ run: \"cat {{in.x}}\" }}\n"
    );
    rejects(&yaml, "justaname", &["bad reference 'justaname'"]);
}

#[test]
fn command_placeholder_for_undeclared_port_is_rejected() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  use:\n    uses: shell\n    in: {{ x: ok.o }}\n    with: {{ run: \"cat {{in.y}} > {{out.z}}\" }}\n"
    );
    rejects(&yaml, "run: \"cat {in.y}", &["{in.y}", "not declared"]);
}

#[test]
fn cycle_names_every_node_in_it() {
    let yaml = format!(
        r#"name: cyclic
nodes:
{OK_NODE}  first:
    uses: shell
    in: {{ x: third.o }}
    with: {{ run: "cat {{in.x}} > {{out.o}}", outputs: {{ o: file }} }}
  second:
    uses: shell
    in: {{ x: first.o }}
    with: {{ run: "cat {{in.x}} > {{out.o}}", outputs: {{ o: file }} }}
  third:
    uses: shell
    in: {{ x: second.o }}
    with: {{ run: "cat {{in.x}} > {{out.o}}", outputs: {{ o: file }} }}
  after:
    uses: shell
    in: {{ x: third.o }}
    with: {{ run: "cat {{in.x}} > {{out.o}}", outputs: {{ o: file }} }}
"#
    );
    let out = rejects(&yaml, "first:", &["cycle", "first -> second -> third -> first"]);
    let cycle_line = out.stderr.lines().find(|l| l.contains("cycle")).unwrap_or_default();
    assert!(!cycle_line.contains("after") && !cycle_line.contains("'ok'"), "only the cycle's nodes\n{}", out.context());
}

#[test]
fn node_reading_its_own_output_is_a_cycle() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  selfish:\n    uses: shell\n    in: {{ x: selfish.o }}\n    with: {{ run: \"cat {{in.x}} > {{out.o}}\", outputs: {{ o: file }} }}\n"
    );
    rejects(&yaml, "selfish.o", &["cycle", "selfish"]);
}

#[test]
fn missing_input_file_is_rejected() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  use:\n    uses: shell\n    in: {{ d: file:data/missing.csv }}\n    with: {{ run: \"cat {{in.d}}\" }}\n"
    );
    rejects(&yaml, "file:data/missing.csv", &["file not found", "missing.csv", "node 'use'"]);
}

#[test]
fn duplicate_node_names_are_rejected() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  dup:\n    uses: shell\n    with: {{ run: \"true\" }}\n  other:\n    uses: shell\n    with: {{ run: \"true\" }}\n  dup:\n    uses: shell\n    with: {{ run: \"false\" }}\n"
    );
    let (first, _) = locate(&yaml, "  dup:\n    uses: shell\n    with: { run: \"true\" }");
    let (second, _) = locate(&yaml, "  dup:\n    uses: shell\n    with: { run: \"false\" }");
    assert!(second > first);
    // The second definition is the offending token.
    rejects_at(&yaml, second, 3, &["duplicate", "dup"]);
}

#[test]
fn undefined_variable_is_rejected_with_suggestion() {
    let yaml = format!(
        "name: bad\nvars: {{ rows: 2 }}\nnodes:\n{OK_NODE}  head:\n    uses: shell\n    with: {{ run: \"seq 10 | head -n ${{row}} > {{out.o}}\", outputs: {{ o: file }} }}\n"
    );
    rejects(&yaml, "${row}", &["undefined variable '${row}'", "did you mean 'rows'"]);
}

#[test]
fn malformed_variable_is_rejected() {
    let yaml = format!(
        "name: bad\nvars: {{ rows: 2 }}\nnodes:\n{OK_NODE}  head:\n    uses: shell\n    with: {{ run: \"head -n ${{two rows}} x > {{out.o}}\", outputs: {{ o: file }} }}\n"
    );
    rejects(&yaml, "${two rows}", &["bad variable reference"]);
}

#[test]
fn unclosed_variable_is_rejected() {
    let yaml = format!(
        "name: bad\nvars: {{ rows: 2 }}\nnodes:\n{OK_NODE}  head:\n    uses: shell\n    with:\n      run: head -n ${{rows x\n      outputs: {{ o: file }}\n"
    );
    rejects(&yaml, "${rows x", &["unclosed"]);
}

#[test]
fn every_error_of_one_file_is_reported_at_once() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  a:\n    uses: shel\n  b:\n    uses: shell\n    in: {{ x: nosuch.o }}\n    with: {{ run: \"true\" }}\n  c:\n    uses: shell\n    in: {{ d: file:nope.txt }}\n    with: {{ run: \"true\" }}\n"
    );
    let out = rejects(&yaml, "shel\n", &["unknown node kind"]);
    let (line_b, col_b) = locate(&yaml, "nosuch.o");
    let (line_c, col_c) = locate(&yaml, "file:nope.txt");
    out.assert_stderr_contains(&format!("{WORKFLOW}:{line_b}:{col_b}: "))
        .assert_stderr_contains(&format!("{WORKFLOW}:{line_c}:{col_c}: "))
        .assert_stderr_contains("3 errors");
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let yaml = format!("name: bad\nnodes:\n{OK_NODE}  broken:\n    uses: shell\n    with: {{ run: \"true\"\n");
    let project = Project::with_workflow(&yaml);
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(2);
    let has_position = out.stderr.lines().any(|l| {
        l.strip_prefix(&format!("error: {WORKFLOW}:"))
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|line| line.parse::<usize>().is_ok_and(|n| n >= 8))
    });
    assert!(has_position, "a syntax error points at or after the unclosed brace\n{}", out.context());
    assert!(!project.exists(".flow") && !project.exists("ran-ok"), "{}", out.context());
}

#[test]
fn override_of_undeclared_variable_is_rejected() {
    let yaml = format!("name: bad\nvars: {{ rows: 2 }}\nnodes:\n{OK_NODE}");
    let project = Project::with_workflow(&yaml);
    let out = project.flow(&["run", WORKFLOW, "-s", "row=3"]);
    out.assert_code(2).assert_stderr_contains("row").assert_stderr_contains("did you mean 'rows'");
    assert!(!project.exists(".flow") && !project.exists("ran-ok"), "{}", out.context());
    project.flow(&["run", WORKFLOW, "-s", "noequals"]).assert_code(2);
}

#[test]
fn missing_workflow_file_and_bad_arguments_exit_2() {
    let project = Project::new();
    project.flow(&["run", "nope.yaml"]).assert_code(2).assert_stderr_contains("nope.yaml");
    assert!(!project.exists(".flow"));
    project.write(WORKFLOW, &format!("name: ok\nnodes:\n{OK_NODE}"));
    project.flow(&["run", WORKFLOW, "-j", "0"]).assert_code(2);
    project.flow(&["run", WORKFLOW, "--memory", "lots"]).assert_code(2);
    project.flow(&["run", WORKFLOW, "--no-such-flag"]).assert_code(2);
    project.flow(&["why", WORKFLOW, "nosuch"]).assert_code(2).assert_stderr_contains("nosuch");
    project.flow(&["nodes", "shel"]).assert_code(2).assert_stderr_contains("did you mean 'shell'");
    assert!(!project.exists("ran-ok"), "nothing ran");
    assert!(!project.exists(".flow"), "the store is untouched");
}

#[test]
fn bad_input_leaves_an_existing_store_untouched() {
    let good = format!("name: ok\nnodes:\n{OK_NODE}");
    let project = Project::with_workflow(&good);
    project.run_ok(&[]);
    std::fs::remove_file(project.join("ran-ok")).unwrap();
    let snapshot = |p: &Project| {
        crate::util::walk(&p.state())
            .into_iter()
            .filter(|path| path.is_file())
            .map(|path| (path.clone(), std::fs::read(&path).unwrap()))
            .collect::<Vec<_>>()
    };
    let before = snapshot(&project);

    project.write(WORKFLOW, &format!("{good}  bad:\n    uses: shell\n    in: {{ x: ok.nope }}\n"));
    project.flow(&["run", WORKFLOW]).assert_code(2);
    assert!(!project.exists("ran-ok"), "nothing ran");
    assert_eq!(snapshot(&project), before, "the store did not change");
}

#[test]
fn param_of_wrong_type_points_at_the_param() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  typed:\n    uses: shell\n    with:\n      outputs: {{ o: file }}\n      run: [echo, hi]\n"
    );
    // The user must learn which param is wrong and where it is.
    rejects(&yaml, "run: [echo", &["node 'typed'", "run", "expected a string"]);
}

#[test]
fn bad_output_type_and_resources_are_located() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  typed:\n    uses: shell\n    with:\n      run: \"echo > {{out.o}}\"\n      outputs: {{ o: blob }}\n  greedy:\n    uses: shell\n    resources: {{ threads: 0, memory: lots }}\n    with: {{ run: \"true\" }}\n"
    );
    let out = rejects(&yaml, "outputs: { o: blob }", &["output 'o' has type 'blob'"]);
    let (line, column) = locate(&yaml, "0, memory");
    out.assert_stderr_contains(&format!("{WORKFLOW}:{line}:{column}: resources.threads must be at least 1"));
    let (line, column) = locate(&yaml, "lots");
    out.assert_stderr_contains(&format!("{WORKFLOW}:{line}:{column}: resources.memory"));
}

#[test]
fn bad_publish_entries_are_located() {
    let yaml =
        format!("name: bad\nnodes:\n{OK_NODE}publish:\n  ok.x: a.txt\n  nobody: b.txt\n  ok.o: .flow/stolen.txt\n");
    let out = rejects(&yaml, "ok.x", &["publish", "no output 'x'"]);
    let (line, column) = locate(&yaml, "nobody");
    out.assert_stderr_contains(&format!("{WORKFLOW}:{line}:{column}: publish: unknown node 'nobody'"));
    let (line, column) = locate(&yaml, ".flow/stolen.txt");
    out.assert_stderr_contains(&format!(
        "{WORKFLOW}:{line}:{column}: publish: the destination may not be inside .flow"
    ));
}

#[test]
fn workflow_without_nodes_is_rejected() {
    let project = Project::with_workflow("name: empty\nnodes: {}\n");
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(2).assert_stderr_contains("no nodes");
    assert!(!project.exists(".flow"), "{}", out.context());
}
