//! The commands besides a plain run: publish, plan, why, gc, graph, nodes, status, and the
//! state directory's location and permissions.

use std::path::Path;

use crate::util::{Project, WORKFLOW, mode, walk};

const PIPELINE: &str = r#"
name: pipeline
vars: { n: 2 }
nodes:
  top:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "head -n ${n} {in.data} > {out.top}", outputs: { top: file } }
  count:
    uses: shell
    in: { x: top.top }
    with: { run: "wc -l < {in.x} > {out.n}", outputs: { n: file } }
  bundle:
    uses: shell
    in: { x: top.top, n: count.n }
    with:
      run: "mkdir -p {out.d}/sub && cp {in.x} {out.d}/top.txt && cp {in.n} {out.d}/sub/n.txt"
      outputs: { d: dir }
  lonely:
    uses: shell
    with: { run: "echo lonely > {out.o}", outputs: { o: file } }
publish: { top.top: results/top.txt, bundle: results/bundle }
"#;

fn pipeline() -> Project {
    let project = Project::with_workflow(PIPELINE);
    project.write("data.txt", "alpha\nbeta\ngamma\n");
    project
}

#[test]
fn publish_copies_artifacts_and_restores_them() {
    let project = pipeline();
    project.run_ok(&[]).assert_all("ran");
    assert_eq!(project.read("results/top.txt"), "alpha\nbeta\n");
    assert_eq!(project.read("results/bundle/top.txt"), "alpha\nbeta\n");
    assert_eq!(project.read("results/bundle/sub/n.txt"), "2\n");
    // Published files belong to the user: writable, unlike the store's objects.
    assert_eq!(mode(&project.join("results/top.txt")) & 0o200, 0o200);

    // A cached run republishes what was deleted; an edit is the user's until --overwrite.
    std::fs::remove_file(project.join("results/top.txt")).unwrap();
    project.write("results/bundle/top.txt", "edited by hand\n");
    project.run(&[]).assert_code(2).assert_stderr_contains("results/bundle exists");
    assert_eq!(project.read("results/bundle/top.txt"), "edited by hand\n");
    project.run_ok(&["--overwrite"]).assert_all("cached");
    assert_eq!(project.read("results/top.txt"), "alpha\nbeta\n");
    assert_eq!(project.read("results/bundle/top.txt"), "alpha\nbeta\n");

    project.run_ok(&["-s", "n=3"]);
    assert_eq!(project.read("results/top.txt"), "alpha\nbeta\ngamma\n");
    assert_eq!(project.read("results/bundle/sub/n.txt"), "3\n");
}

#[test]
fn plan_lists_what_would_run_without_running_it() {
    let project = pipeline();
    let fresh = project.flow(&["plan", WORKFLOW]);
    fresh.assert_ok();
    for node in ["top", "lonely"] {
        let line = fresh.stdout.lines().find(|l| l.starts_with(node)).unwrap_or_default();
        assert!(line.contains("run") && line.contains("no earlier run"), "{node}: {line}\n{}", fresh.context());
    }
    fresh.assert_stdout_contains("4 nodes: 2 to run, 2 pending on upstream changes, 0 cached");
    assert!(!project.exists(".flow"), "plan must not create the store\n{}", fresh.context());
    assert!(!project.exists("results"), "plan must not publish");

    project.run_ok(&[]);
    let idle = project.flow(&["plan", WORKFLOW]);
    idle.assert_ok().assert_stdout_contains("4 nodes: 0 to run, 0 pending on upstream changes, 4 cached");

    let changed = project.flow(&["plan", WORKFLOW, "-s", "n=1"]);
    changed.assert_ok().assert_stdout_contains("1 to run, 2 pending");
    let top = changed.stdout.lines().find(|l| l.starts_with("top")).unwrap_or_default();
    assert!(top.contains("param 'run' changed"), "top's reason: {top}\n{}", changed.context());
    let count = changed.stdout.lines().find(|l| l.starts_with("count")).unwrap_or_default();
    assert!(count.contains("pending") && count.contains("top"), "count waits on top: {count}");
    assert!(
        !changed.stdout.lines().any(|l| l.starts_with("lonely")),
        "cached nodes are not listed\n{}",
        changed.context()
    );

    // Nothing ran: the next real run still finds everything to do for n=1.
    project.run_ok(&["-s", "n=1"]).assert_statuses(&[
        ("top", "ran"),
        ("count", "ran"),
        ("bundle", "ran"),
        ("lonely", "cached"),
    ]);
}

#[test]
fn why_names_the_changed_param_and_input() {
    let project = pipeline();
    project.run_ok(&[]);

    let cached = project.flow(&["why", WORKFLOW, "top"]);
    cached.assert_ok().assert_stdout_contains("'top' is up to date");

    let param = project.flow(&["why", WORKFLOW, "top", "-s", "n=5"]);
    param.assert_ok().assert_stdout_contains("'top' will run").assert_stdout_contains("param 'run' changed");
    param.assert_stdout_contains("head -n 2").assert_stdout_contains("head -n 5");

    let downstream = project.flow(&["why", WORKFLOW, "count", "-s", "n=5"]);
    downstream.assert_ok().assert_stdout_contains("early cutoff").assert_stdout_contains("top: param 'run' changed");

    project.write("data.txt", "alpha\nBETA\ngamma\n");
    let input = project.flow(&["why", WORKFLOW, "top"]);
    input.assert_ok().assert_stdout_contains("input 'data' changed (file data.txt)");

    // A nested param is named by its path.
    project.write(WORKFLOW, &PIPELINE.replace("outputs: { o: file } }", "outputs: { o: file }, env: { MODE: slow } }"));
    project.run_ok(&[]);
    project.write(WORKFLOW, &PIPELINE.replace("outputs: { o: file } }", "outputs: { o: file }, env: { MODE: fast } }"));
    let nested = project.flow(&["why", WORKFLOW, "lonely"]);
    nested.assert_ok().assert_stdout_contains("param 'env.MODE' changed: \"slow\" -> \"fast\"");

    let typo = project.flow(&["why", WORKFLOW, "cuont"]);
    typo.assert_code(2).assert_stderr_contains("did you mean 'count'");
}

#[test]
fn gc_then_run_still_works() {
    let project = pipeline();
    let first = project.run_ok(&[]);
    project.run_ok(&["-s", "n=1"]);

    let dry = project.flow(&["gc", "--dry-run", "--keep-runs", "1"]);
    dry.assert_ok().assert_stdout_contains("would delete");
    project.run_ok(&[]).assert_all("cached");

    // Keep only the last run (n=1): objects only the n=2 runs used go.
    project.run_ok(&["-s", "n=1"]).assert_all("cached");
    project.flow(&["gc", "--keep-runs", "1"]).assert_ok().assert_stdout_contains("deleted");
    project.run_ok(&["-s", "n=1"]).assert_all("cached");
    let rerun = project.run_ok(&[]);
    rerun.assert_statuses(&[("top", "ran"), ("count", "ran"), ("bundle", "ran"), ("lonely", "cached")]);
    assert_eq!(rerun.output("top", "top"), first.output("top", "top"), "same content, same digest");
    assert_eq!(project.read("results/top.txt"), "alpha\nbeta\n");

    // Collect everything; the next run recomputes and succeeds.
    project.flow(&["gc", "--keep-runs", "0"]).assert_ok();
    let objects = walk(&project.state().join("cas")).into_iter().filter(|p| p.is_file()).count();
    assert_eq!(objects, 0, "--keep-runs 0 keeps no objects");
    let why = project.flow(&["why", WORKFLOW, "top"]);
    why.assert_ok().assert_stdout_contains("gone from the store");
    project.run_ok(&[]).assert_all("ran");
    project.run_ok(&[]).assert_all("cached");
    assert_eq!(project.read("results/bundle/sub/n.txt"), "2\n");
}

fn private_store() -> Project {
    let project = pipeline();
    // A pre-existing, too open state directory is tightened.
    std::fs::create_dir(project.state()).unwrap();
    std::fs::set_permissions(project.state(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    project.run_ok(&[]);
    project.run_ok(&["-s", "n=1"]);
    project
}

#[test]
fn state_dir_is_0700_and_its_records_0600() {
    let project = private_store();
    let state = project.state();
    assert_eq!(mode(&state), 0o700, ".flow");
    for dir in ["cas", "runs", "logs", "tmp"] {
        assert_eq!(mode(&state.join(dir)), 0o700, ".flow/{dir}");
    }
    assert_eq!(mode(&state.join("actions.log")), 0o600, ".flow/actions.log");
    let records = project.run_records();
    assert_eq!(records.len(), 2, "one record per run");
    for record in &records {
        assert_eq!(mode(record), 0o600, "{}", record.display());
        assert_eq!(mode(&record.with_extension("log")), 0o600, "the run's log {}", record.display());
    }
}

#[test]
fn nothing_under_the_state_dir_is_readable_by_others() {
    let project = private_store();
    let state = project.state();
    let mut wrong = Vec::new();
    let entries = walk(&state);
    assert!(entries.len() > 10, "the store has content");
    for path in entries {
        let bits = mode(&path);
        let in_object = path.parent().and_then(Path::parent).is_some_and(|shard| shard.starts_with(state.join("cas")));
        let expected_ok = if in_object {
            // Objects (files and trees) are read-only for their owner.
            bits & 0o077 == 0 && bits & 0o200 == 0
        } else if path.is_dir() {
            bits == 0o700
        } else {
            bits == 0o600
        };
        if !expected_ok {
            wrong.push(format!("{:o} {}", bits, path.strip_prefix(&state).unwrap_or(&path).display()));
        }
    }
    assert!(
        wrong.is_empty(),
        "dirs must be 0700, files 0600 (objects and their dirs 0400/0500):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn state_dir_and_project_dir_can_be_moved() {
    let project = pipeline();
    let elsewhere = tempfile::tempdir().unwrap();
    let state = elsewhere.path().join("state");
    let state_arg = state.to_string_lossy().into_owned();
    let out = project.flow(&["--state-dir", &state_arg, "run", "--json", WORKFLOW]);
    out.assert_ok().json_run().assert_all("ran");
    assert!(!project.exists(".flow"), "--state-dir replaces .flow");
    assert_eq!(mode(&state), 0o700);

    // FLOW_STATE_DIR does the same.
    let mut command = project.command(&["run", "--json", WORKFLOW]);
    command.env("FLOW_STATE_DIR", &state);
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let record: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(record["nodes"].as_array().unwrap().iter().all(|n| n["status"] == "cached"), "{record:#}");

    // -C runs a project from another working directory; its files resolve against it.
    let other = Project::new();
    let project_arg = project.path().to_string_lossy().into_owned();
    let workflow_arg = project.join(WORKFLOW).to_string_lossy().into_owned();
    let moved = other.flow(&["-C", &project_arg, "--state-dir", &state_arg, "run", "--json", &workflow_arg]);
    moved.assert_ok().json_run().assert_all("cached");
    assert!(!other.exists(".flow") && !other.exists("results"), "nothing lands in the working directory");
}

#[test]
fn graph_mentions_every_node_and_edge() {
    let project = pipeline();
    let dot = project.flow(&["graph", WORKFLOW, "--format", "dot"]);
    dot.assert_ok().assert_stdout_contains("digraph");
    for node in ["top", "count", "bundle", "lonely"] {
        dot.assert_stdout_contains(&format!("\"{node}\""));
    }
    for edge in ["\"top\" -> \"count\"", "\"top\" -> \"bundle\"", "\"count\" -> \"bundle\"", "-> \"top\""] {
        dot.assert_stdout_contains(edge);
    }
    dot.assert_stdout_contains("data.txt");
    assert!(!project.exists(".flow"), "graph reads only");

    let mermaid = project.flow(&["graph", WORKFLOW, "--format", "mermaid"]);
    mermaid.assert_ok().assert_stdout_contains("flowchart");
    for node in ["top", "count", "bundle", "lonely"] {
        mermaid.assert_stdout_contains(node);
    }
    project.flow(&["graph", WORKFLOW, "--format", "png"]).assert_code(2);
}

#[test]
fn nodes_lists_kinds_and_shows_shell_params() {
    let project = Project::new();
    let list = project.flow(&["nodes"]);
    list.assert_ok().assert_stdout_contains("shell");
    let shell = project.flow(&["nodes", "shell"]);
    shell.assert_ok().assert_stdout_contains("shell (version 1)").assert_stdout_contains("params:");
    for param in ["run", "outputs", "env"] {
        let listed =
            shell.stdout.lines().skip_while(|l| !l.starts_with("params:")).any(|l| l.trim_start().starts_with(param));
        assert!(listed, "param {param} is listed\n{}", shell.context());
    }
    let json = project.flow(&["nodes", "shell", "--json"]);
    json.assert_ok();
    let value = json.json();
    assert_eq!(value["kind"], "shell");
    let names: Vec<&str> = value["params"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["run", "outputs", "env"], "{value:#}");
    assert!(!project.exists(".flow"));
}

#[test]
fn status_summarises_the_store_and_runs() {
    let project = pipeline();
    project.flow(&["status"]).assert_ok().assert_stdout_contains("no store");
    assert!(!project.exists(".flow"), "status reads only");
    project.run_ok(&[]);
    project.run_ok(&[]);
    let status = project.flow(&["status", "--json"]);
    status.assert_ok();
    let value = status.json();
    let runs = value["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{value:#}");
    assert_eq!(runs[0]["cached"], 4, "newest first: the all-cached run\n{value:#}");
    assert_eq!(runs[1]["ran"], 4, "{value:#}");
    assert!(value["objects"].as_u64().unwrap() >= 4, "{value:#}");
    let text = project.flow(&["status"]);
    text.assert_ok().assert_stdout_contains("cached actions");
    let workflow = project.join(WORKFLOW).canonicalize().unwrap();
    text.assert_stdout_contains(&workflow.display().to_string());
    assert!(Path::new(&workflow).exists());
}

/// Two seeds' clinical features, each in its own feature group (as the seed's pipeline names
/// them), from a small cohort without imaging.
fn seeded_groups(seed: u32) -> String {
    format!(
        r#"
name: groups
nodes:
  cohort:
    uses: synth.nsclc_cohort
    with: {{ seed: {seed}, patients: 20, r01: 15, amc: 5, genes: 30, imaging: false }}
  clinical:
    uses: clinical.preprocess
    in: {{ table: cohort.clinical }}
  clinical_fg:
    uses: featurestore.write
    in: {{ table: clinical.table }}
    with: {{ group: clinical_s{seed}, record_id: case_id, event_time: event_time, event_time_value: 0 }}
"#
    )
}

#[test]
fn fs_drop_removes_a_group_and_the_next_run_writes_it_again() {
    let project = Project::with_workflow(&seeded_groups(1));
    project.run_ok(&[]);
    project.flow(&["fs", "list"]).assert_ok().assert_stdout_contains("clinical_s1");
    project.flow(&["fs", "drop", "clinical_s2"]).assert_code(2).assert_stderr_contains("did you mean 'clinical_s1'");

    project.flow(&["fs", "drop", "clinical_s1"]).assert_ok().assert_stdout_contains("1 cached write(s)");
    project.flow(&["fs", "get", "clinical_s1", "R01-001"]).assert_code(2);
    // The write is no longer cached; what it read is.
    let again = project.run_ok(&[]);
    again.assert_statuses(&[("cohort", "cached"), ("clinical", "cached"), ("clinical_fg", "ran")]);
    project.flow(&["fs", "list"]).assert_ok().assert_stdout_contains("clinical_s1");
}

#[test]
fn gc_drops_the_feature_groups_no_kept_run_wrote() {
    let project = Project::with_workflow(&seeded_groups(1));
    project.run_ok(&[]);
    project.write(WORKFLOW, &seeded_groups(2));
    project.run_ok(&[]);
    project
        .flow(&["fs", "list"])
        .assert_ok()
        .assert_stdout_contains("clinical_s1")
        .assert_stdout_contains("clinical_s2");

    project.flow(&["gc", "--keep-runs", "1", "--dry-run"]).assert_ok().assert_stdout_contains("clinical_s1");
    project.flow(&["fs", "list"]).assert_ok().assert_stdout_contains("clinical_s1");
    project.flow(&["gc", "--keep-runs", "1"]).assert_ok().assert_stdout_contains("dropped feature group(s)");
    let left = project.flow(&["fs", "list"]);
    left.assert_ok().assert_stdout_contains("clinical_s2");
    assert!(!left.stdout.contains("clinical_s1"), "{}", left.stdout);
    // The kept run's group is whole, and back at seed 1 its group is written again.
    project.run_ok(&[]).assert_all("cached");
    project.write(WORKFLOW, &seeded_groups(1));
    let back = project.run_ok(&[]);
    assert_eq!(back.node("clinical_fg")["status"], "ran", "{:?}", back.statuses());
}
