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
    rejects_in(&Project::with_workflow(yaml), &[], line, column, message)
}

/// The contract of [`rejects`] for a project prepared by the test, run with extra arguments.
#[track_caller]
fn rejects_in(project: &Project, extra: &[&str], line: usize, column: usize, message: &[&str]) -> Output {
    let run: Vec<&str> = ["run", WORKFLOW].iter().chain(extra).copied().collect();
    let out = flow_within_patience(project, &run);
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
    let plan: Vec<&str> = ["plan", WORKFLOW].iter().chain(extra).copied().collect();
    let plan = flow_within_patience(project, &plan);
    plan.assert_code(2).assert_stderr_contains(&location);
    assert!(!project.exists(".flow"), "plan must not create the store\n{}", plan.context());
    out
}

/// Runs flow, killing it if it has not finished within the harness's patience: some inputs
/// (a FIFO, `/dev/zero`) made flow hash forever, and a test must fail, not hang.
#[track_caller]
fn flow_within_patience(project: &Project, args: &[&str]) -> Output {
    let mut running = project.start(args);
    let pid = running.pid() as i32;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = done.clone();
    let watchdog = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + crate::util::PATIENCE;
        while !watch.load(std::sync::atomic::Ordering::SeqCst) {
            if std::time::Instant::now() > deadline {
                // SAFETY: kill(2) on the pid of our own child, which `finish` has not reaped yet.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    });
    let out = running.finish();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let hung = watchdog.join().unwrap_or(false);
    assert!(!hung, "flow hung and was killed after {:?}\n{}", crate::util::PATIENCE, out.context());
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
        "{WORKFLOW}:{line}:{column}: publish: the destination '.flow/stolen.txt' may not be inside flow's state directory"
    ));
}

#[test]
fn workflow_without_nodes_is_rejected() {
    let project = Project::with_workflow("name: empty\nnodes: {}\n");
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(2).assert_stderr_contains("no nodes");
    assert!(!project.exists(".flow"), "{}", out.context());
}

/// `OK_NODE` plus `publish: { ok.o: DEST }` on the last line, and where DEST starts.
fn publishing_to(dest: &str) -> (String, usize, usize) {
    let yaml = format!("name: bad\nnodes:\n{OK_NODE}publish:\n  ok.o: {dest}\n");
    let (line, column) = locate(&yaml, "  ok.o: ");
    (yaml, line, column + "  ok.o: ".len())
}

#[test]
fn publish_destinations_outside_the_project_are_refused_before_anything_runs() {
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = elsewhere.path().join("copy.txt");
    for (dest, needle) in [
        ("..", "holds flow's state directory"),
        ("../..", "holds flow's state directory"),
        (".", "is the project directory itself"),
        ("./", "is the project directory itself"),
        (absolute.to_str().unwrap(), "outside the project directory"),
        ("results/../.flow/cas", "may not be inside flow's state directory"),
    ] {
        let (yaml, line, column) = publishing_to(dest);
        rejects_at(&yaml, line, column, &["publish: the destination", dest, needle]);
    }
    assert!(!absolute.exists());
}

#[test]
fn publish_through_a_link_out_of_the_project_is_refused() {
    let elsewhere = tempfile::tempdir().unwrap();
    let (yaml, line, column) = publishing_to("shared/copy.txt");
    let project = Project::with_workflow(&yaml);
    std::os::unix::fs::symlink(elsewhere.path(), project.join("shared")).unwrap();
    rejects_in(&project, &[], line, column, &["outside the project directory", "through a symbolic link"]);
    assert!(!elsewhere.path().join("copy.txt").exists());
}

#[test]
fn publish_into_or_around_a_moved_state_dir_is_refused() {
    let (yaml, line, column) = publishing_to("store/x.txt");
    let project = Project::with_workflow(&yaml);
    rejects_in(&project, &["--state-dir", "store"], line, column, &["inside flow's state directory"]);
    assert!(!project.exists("store"), "the state dir was not created");

    let (yaml, line, column) = publishing_to("results");
    let project = Project::with_workflow(&yaml);
    rejects_in(&project, &["--state-dir", "results/state"], line, column, &["holds flow's state directory"]);
    assert!(!project.exists("results"), "the state dir was not created");
}

#[test]
fn nested_publish_destinations_are_refused() {
    let yaml = format!(
        "name: bad\nnodes:\n{OK_NODE}  other:\n    uses: shell\n    with: {{ run: \"echo > {{out.o}}\", outputs: {{ o: file }} }}\npublish:\n  ok.o: results\n  other.o: results/other.txt\n"
    );
    rejects(&yaml, "results/other.txt", &["publish: the destinations", "overlap"]);
}

#[test]
fn a_publish_typo_leaves_the_project_and_the_store_untouched() {
    let good = format!("name: ok\nnodes:\n{OK_NODE}publish:\n  ok.o: results/ok.txt\n");
    let project = Project::with_workflow(&good);
    project.run_ok(&[]);
    std::fs::remove_file(project.join("ran-ok")).unwrap();
    let snapshot = |p: &Project| {
        crate::util::walk(p.path())
            .into_iter()
            .filter(|path| path.is_file())
            .map(|path| (path.clone(), std::fs::read(&path).unwrap()))
            .collect::<Vec<_>>()
    };
    let before = snapshot(&project);
    let (bad, line, column) = publishing_to("..");
    project.write(WORKFLOW, &bad);
    let before: Vec<_> = before.into_iter().filter(|(p, _)| !p.ends_with(WORKFLOW)).collect();
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(2).assert_stderr_contains(&format!("{WORKFLOW}:{line}:{column}: publish: the destination '..'"));
    let after: Vec<_> = snapshot(&project).into_iter().filter(|(p, _)| !p.ends_with(WORKFLOW)).collect();
    assert_eq!(after, before, "nothing in the project or the store changed\n{}", out.context());
    assert!(!project.exists("ran-ok"), "nothing ran");
}

/// A workflow whose node reads `reference` (a `file:` input) into its output.
fn reading(reference: &str) -> String {
    format!(
        "name: bad\nnodes:\n{OK_NODE}  read:\n    uses: shell\n    in: {{ x: \"{reference}\" }}\n    with: {{ run: \"cat {{in.x}} > {{out.o}}\", outputs: {{ o: file }} }}\n"
    )
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A `file:` reference, what the error must say, and how to prepare the project.
type InputCase = (&'static str, &'static [&'static str], fn(&Project));

#[test]
fn file_inputs_that_never_end_are_refused_at_load() {
    let cases: [InputCase; 6] = [
        ("file:pipe", &["pipe is a named pipe (FIFO)", "regular file or a directory"], |p| mkfifo(&p.join("pipe"))),
        ("file:/dev/zero", &["/dev/zero is a character device"], |_| {}),
        ("file:zero", &["zero is a character device"], |p| {
            std::os::unix::fs::symlink("/dev/zero", p.join("zero")).unwrap()
        }),
        ("file:scans", &["scans/b/pipe, which is a named pipe"], |p| {
            p.write("scans/a.txt", "x");
            std::fs::create_dir(p.join("scans/b")).unwrap();
            mkfifo(&p.join("scans/b/pipe"));
        }),
        ("file:", &["'file:' needs a path after it"], |_| {}),
        ("file:.", &["is the project directory itself"], |_| {}),
    ];
    for (reference, message, setup) in cases {
        let yaml = reading(reference);
        let project = Project::with_workflow(&yaml);
        setup(&project);
        let (line, column) = locate(&yaml, &format!("\"{reference}\""));
        let out = rejects_in(&project, &[], line, column, message);
        out.assert_stderr_contains("input 'x' of node 'read'");
    }
}

#[test]
fn unreadable_file_inputs_are_refused_at_load() {
    use std::os::unix::fs::PermissionsExt;
    let yaml = reading("file:secret.csv");
    let project = Project::with_workflow(&yaml);
    project.write("secret.csv", "id\n1\n");
    std::fs::set_permissions(project.join("secret.csv"), std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(project.join("secret.csv")).is_ok() {
        eprintln!("skipping unreadable_file_inputs_are_refused_at_load: running as root, which reads any file");
        return;
    }
    rejects(&yaml, "\"file:secret.csv\"", &["secret.csv: permission denied"]);
}

/// `run: echo ${seed} > {out.o}`, published so the test can read what the command wrote.
const ECHO_SEED: &str = "name: seeds
vars: { seed: 1 }
nodes:
  echo:
    uses: shell
    with: { run: \"echo ${seed} > {out.o}\", outputs: { o: file } }
  quoted:
    uses: shell
    with: { run: \"echo 'single ${seed}' \\\"double ${seed}\\\" > {out.o} # ${seed}\", outputs: { o: file } }
publish: { echo.o: results/echo.txt, quoted.o: results/quoted.txt }
";

#[test]
fn variable_values_reach_commands_as_text_and_run_nothing() {
    for value in
        ["$(touch pwned)", "`touch pwned`", "1; touch pwned", "it's; touch pwned; '", "x\"; touch pwned; \"", "a  b"]
    {
        let project = Project::with_workflow(ECHO_SEED);
        let out = project.flow(&["run", WORKFLOW, "-s", &format!("seed={value}")]);
        out.assert_code(0);
        assert!(!project.exists("pwned"), "-s seed={value} ran a command\n{}", out.context());
        assert_eq!(project.read("results/echo.txt"), format!("{value}\n"), "{}", out.context());
        assert_eq!(project.read("results/quoted.txt"), format!("single {value} double {value}\n"), "{}", out.context());
    }
}

#[test]
fn a_special_value_where_flow_cannot_quote_is_a_load_error() {
    let yaml = format!(
        "name: bad\nvars: {{ label: \"a b\" }}\nnodes:\n{OK_NODE}  stamp:\n    uses: shell\n    with: {{ run: \"echo $(echo ${{label}}) > {{out.o}}\", outputs: {{ o: file }} }}\n"
    );
    rejects(&yaml, "${label}", &["node 'stamp'", "${label} is used inside $(...)", "env:"]);
}

#[test]
fn nested_variables_resolve_fully_and_cycles_are_named() {
    let yaml = "name: nested
vars: { cohort: nsclc, out: \"results/${cohort}\", tag: \"${out}-v1\" }
nodes:
  echo:
    uses: shell
    with: { run: \"echo ${tag} > {out.o}\", outputs: { o: file } }
publish: { echo.o: \"${out}.txt\" }
";
    let project = Project::with_workflow(yaml);
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(0);
    assert_eq!(project.read("results/nsclc.txt"), "results/nsclc-v1\n", "{}", out.context());
    let out = project.flow(&["run", WORKFLOW, "-s", "cohort=${tag}"]);
    out.assert_code(2).assert_stderr_contains("cycle: cohort -> tag -> out -> cohort");
    assert!(!out.stderr.contains('\u{E000}') && !out.stdout.contains('\u{E000}'), "{}", out.context());

    let cyclic = format!("name: bad\nvars: {{ a: \"x${{b}}\", b: \"${{a}}\" }}\nnodes:\n{OK_NODE}");
    rejects(&cyclic, "a: \"x", &["variables refer to each other in a cycle: a -> b -> a"]);
}

#[test]
fn node_names_too_long_for_a_file_name_are_refused() {
    let long = "n".repeat(300);
    let yaml = format!("name: bad\nnodes:\n{OK_NODE}  {long}:\n    uses: shell\n    with: {{ run: \"true\" }}\n");
    rejects(&yaml, &format!("{long}:"), &["300 characters long", "the limit is 128"]);
}

#[test]
fn a_workflow_that_is_not_utf8_names_the_byte() {
    let project = Project::new();
    let mut bytes = format!("name: bad\nnodes:\n{OK_NODE}").into_bytes();
    bytes.extend_from_slice(b"  x:\n    uses: shell\n    with: { run: \"echo \xff\" }\n");
    std::fs::write(project.join(WORKFLOW), &bytes).unwrap();
    let offset = bytes.iter().position(|&b| b == 0xff).unwrap();
    let out = project.flow(&["run", WORKFLOW]);
    out.assert_code(2).assert_stderr_contains(&format!(
        "{WORKFLOW}:8:24: the workflow file is not valid UTF-8: byte 0xFF at byte offset {offset} (line 8, column 24)"
    ));
    assert!(!project.exists(".flow") && !project.exists("ran-ok"), "{}", out.context());
}

#[test]
fn parser_limits_are_explained_in_words() {
    let ok = format!("name: bad\nnodes:\n{OK_NODE}");
    let mut laughs = String::from("vars:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        laughs.push_str(&format!("  a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    for (yaml, needle) in [
        (format!("{ok}---\n{ok}"), "more than one YAML document"),
        (format!("vars: {{ x: {}{} }}\n{}", "[".repeat(300), "]".repeat(300), &ok[10..]), "nested too deeply"),
        (format!("{laughs}{}", &ok[10..]), "too many values"),
    ] {
        let project = Project::with_workflow(&yaml);
        let out = project.flow(&["run", WORKFLOW]);
        out.assert_code(2).assert_stderr_contains(needle);
        for internal in ["budget", "breach", "from_str", "recursion limit"] {
            out.assert_stderr_lacks(internal);
        }
        assert!(!project.exists(".flow") && !project.exists("ran-ok"), "{}", out.context());
    }
}

#[test]
fn publish_over_an_input_or_the_workflow_is_refused_even_with_overwrite() {
    let reader = "  reader:\n    uses: shell\n    in: { data: file:data/table.csv }\n    with: { run: \"cat {in.data} > {out.o}\", outputs: { o: file } }\n";
    for (dest, needle) in [
        ("data/table.csv", "would replace the input file:data/table.csv of node 'reader'"),
        ("data", "would replace the input file:data/table.csv of node 'reader'"),
        (WORKFLOW, "would replace the workflow file"),
    ] {
        let yaml = format!("name: bad\nnodes:\n{OK_NODE}{reader}publish:\n  ok.o: {dest}\n");
        let (line, column) = locate(&yaml, "  ok.o: ");
        let project = Project::with_workflow(&yaml);
        project.write("data/table.csv", "id\n1\n");
        rejects_in(&project, &[], line, column + "  ok.o: ".len(), &["publish: the destination", needle]);
        project.flow(&["run", WORKFLOW, "--overwrite"]).assert_code(2).assert_stderr_contains(needle);
        assert_eq!(project.read("data/table.csv"), "id\n1\n");
    }
}

#[test]
fn a_file_input_turned_into_a_pipe_after_a_cached_load_is_still_refused() {
    let yaml = reading("file:data.txt");
    let project = Project::with_workflow(&yaml);
    project.write("data.txt", "x\n");
    project.run_ok(&[]);
    std::fs::remove_file(project.join("data.txt")).unwrap();
    mkfifo(&project.join("data.txt"));
    let out = flow_within_patience(&project, &["run", WORKFLOW]);
    out.assert_code(2).assert_stderr_contains("data.txt is a named pipe (FIFO)");
}
