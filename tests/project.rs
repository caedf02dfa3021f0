//! Finding things as a newcomer types them: the project from any folder in it, a workflow by
//! name, the default workflow; building some nodes or forcing some; a node's log, an output's
//! bytes and its place in the store by name.

use std::process::Output as ProcessOutput;

use crate::util::Project;

const CHAIN: &str = r#"
name: chain
nodes:
  a:
    uses: shell
    with: { run: "echo a > {out.o}", outputs: { o: file } }
  b:
    uses: shell
    in: { x: a.o }
    with: { run: "cat {in.x} > {out.o}; echo b >> {out.o}; echo the log of b", outputs: { o: file } }
  c:
    uses: shell
    in: { x: a.o }
    with: { run: "mkdir -p {out.d} && cp {in.x} {out.d}/one.txt && echo 2 > {out.d}/two.txt", outputs: { d: dir } }
"#;

/// A project keeping its workflow in `workflows/chain.yaml`, as this repository does.
fn project() -> Project {
    let project = Project::new();
    project.write("workflows/chain.yaml", CHAIN);
    project
}

fn in_dir(project: &Project, rel: &str, args: &[&str]) -> ProcessOutput {
    project.command(args).current_dir(project.join(rel)).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_workflow_named_as_typed_from_the_root_is_found_in_workflows_and_subfolders_share_the_state() {
    let project = project();
    let out = in_dir(&project, ".", &["run", "chain.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("workflow workflows/chain.yaml"), "says which file: {}", text(&out.stderr));
    assert!(project.state().is_dir());
    // From inside workflows/: the same project, so everything is cached.
    let out = in_dir(&project, "workflows", &["run", "--json", "chain.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!project.exists("workflows/.flow"), "a second state dir was made in workflows/");
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(record["nodes"].as_array().unwrap().iter().all(|n| n["status"] == "cached"), "{record}");

    let out = in_dir(&project, ".", &["run", "chian.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("did you mean 'workflows/chain.yaml'"), "{}", text(&out.stderr));
}

#[test]
fn with_no_workflow_given_the_project_s_default_runs_and_a_word_that_is_no_file_is_a_target() {
    let project = project();
    let out = in_dir(&project, ".", &["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("workflows/chain.yaml"), "lists what there is: {}", text(&out.stderr));

    project.write("flow.config.yaml", "workflow: workflows/chain.yaml\n");
    let out = in_dir(&project, "workflows", &["run", "--json", "b"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the project's default"), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = record["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"], "b and what it needs, not c");
    assert!(!project.exists("workflows/.flow"));
}

#[test]
fn targets_build_what_they_need_and_force_reruns_downstream_although_cached() {
    let project = Project::with_workflow(CHAIN);
    project.run_ok(&["b"]).assert_statuses(&[("a", "ran"), ("b", "ran")]);
    project.run_ok(&[]).assert_statuses(&[("a", "cached"), ("b", "cached"), ("c", "ran")]);
    // a and everything after it, whatever the cache says.
    project.run_ok(&["--force", "a"]).assert_statuses(&[("a", "ran"), ("b", "ran"), ("c", "ran")]);
    project.run_ok(&["-R", "b"]).assert_statuses(&[("a", "cached"), ("b", "ran"), ("c", "cached")]);
    // A dry run plans, runs nothing.
    let out = project.flow(&["run", "--dry-run", "flow.yaml", "c", "-R", "c"]);
    out.assert_ok()
        .assert_stdout_contains("forced (--force)")
        .assert_stdout_contains("2 of 3 nodes (what the targets need): 1 to run");
    project.run_ok(&[]).assert_all("cached");
    project.flow(&["run", "flow.yaml", "d"]).assert_code(2).assert_stderr_contains("no node 'd'");
    project.flow(&["run", "flow.yaml", "--force", "bb"]).assert_code(2).assert_stderr_contains("did you mean 'b'");
}

#[test]
fn log_cat_and_path_find_a_node_s_log_and_outputs_by_name() {
    let project = Project::with_workflow(CHAIN);
    project.run_ok(&[]);
    project.flow(&["log", "b"]).assert_ok().assert_stdout_contains("the log of b");
    project.flow(&["cat", "b.o"]).assert_ok().assert_stdout_contains("a\nb\n");
    let listing = project.flow(&["cat", "c.d"]);
    listing.assert_ok();
    assert_eq!(listing.stdout, "one.txt\ntwo.txt\n");
    let path = project.flow(&["path", "b.o"]);
    path.assert_ok();
    assert_eq!(std::fs::read_to_string(path.stdout.trim()).unwrap(), "a\nb\n");

    // A cached node wrote no log in the last run: its log is that of the run that ran it.
    project.run_ok(&[]).assert_all("cached");
    project.flow(&["log", "b"]).assert_ok().assert_stdout_contains("the log of b");

    project.flow(&["cat", "b.out"]).assert_code(2).assert_stderr_contains("its outputs: o");
    project.flow(&["log", "bb"]).assert_code(2).assert_stderr_contains("did you mean 'b'");
    project.flow(&["log", "b", "--run", "nope"]).assert_code(2).assert_stderr_contains("no run 'nope'");

    // An object changed on disk is not handed out. (Objects are read-only; the owner may
    // still make one writable, as an editor or a careless script would.)
    let object = std::path::Path::new(path.stdout.trim());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(object, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(object, "edited\n").unwrap();
    project.flow(&["cat", "b.o"]).assert_code(4).assert_stderr_contains("changed on disk");
}

#[test]
fn why_compares_with_the_run_that_last_built_the_node() {
    let project = Project::with_workflow(CHAIN);
    project.run_ok(&[]);
    // The newest run covers only `a`; `b` was last built by the one before.
    project.run_ok(&["a"]).assert_statuses(&[("a", "cached")]);
    project.write("flow.yaml", &CHAIN.replace("echo b >>", "echo B >>"));
    let out = project.flow(&["why", "b"]);
    out.assert_ok().assert_stdout_contains("'b' will run");
    assert!(!out.stdout.contains("no earlier run"), "{}", out.stdout);
    assert!(out.stdout.contains("param"), "names what changed: {}", out.stdout);
    let explained = project.flow(&["why", "b", "--json"]);
    let value = explained.assert_ok().json();
    assert_eq!(value["status"], "run");
    assert!(value["reasons"][0].as_str().unwrap().contains("param 'run' changed"), "{value}");
    // c reads a, which does not change: cached.
    assert_eq!(project.flow(&["why", "c", "--json"]).json()["status"], "cached");
}

#[test]
fn a_default_workflow_that_does_not_exist_is_an_error_naming_the_config_line() {
    let project = project();
    project.write("flow.config.yaml", "# site settings\nworkflow: workflows/chian.yaml\n");
    let out = in_dir(&project, ".", &["run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("flow.config.yaml:2:11") && stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn init_makes_a_project_that_runs_and_never_overwrites_one() {
    let project = Project::new();
    let out = in_dir(&project, ".", &["init", "study"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = in_dir(&project, "study", &["run", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(record["nodes"].as_array().unwrap().iter().all(|n| n["status"] == "ran"), "{record}");
    assert!(project.read("study/results/summary.md").contains("patients: 4"));

    project.write("study/patients.csv", "case_id\nmine\n");
    let out = in_dir(&project, "study", &["init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("patients.csv"), "{}", text(&out.stderr));
    assert_eq!(project.read("study/patients.csv"), "case_id\nmine\n", "init overwrote a file");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let project = Project::new();
    for (shell, marker) in [("bash", "complete -F _flow"), ("zsh", "#compdef flow"), ("fish", "complete -c flow")] {
        let out = project.flow(&["completions", shell]);
        out.assert_ok().assert_stdout_contains(marker).assert_stdout_contains("force");
    }
}

#[test]
fn quiet_prints_errors_only_and_json_still_goes_to_stdout() {
    let project = project();
    project.write("flow.config.yaml", "workflow: workflows/chain.yaml\n");
    let out = in_dir(&project, ".", &["run", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!((text(&out.stdout), text(&out.stderr)), (String::new(), String::new()));
    let out = in_dir(&project, ".", &["-q", "run", "--json"]);
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["status"], "ok");
    assert_eq!(text(&out.stderr), "");
    project.write("workflows/chain.yaml", &CHAIN.replace("echo a >", "exit 3; echo a >"));
    let out = in_dir(&project, ".", &["run", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("node 'a' failed"), "{}", text(&out.stderr));
}
