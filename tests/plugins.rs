//! Process plugins through the binary: the shipped Python example, the docs/plugins.md
//! tutorial followed to the letter, and every kind of broken plugin.

use crate::util::{Project, WORKFLOW};

const SURVIVAL: &str = include_str!("../workflows/survival_label.yaml");
const TUTORIAL: &str = include_str!("../docs/plugins.md");

/// A project holding the repository's `plugins/` and `workflows/survival_label.yaml`.
fn survival_project() -> Project {
    let project = Project::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["plugin.yaml", "label.py"] {
        let text = std::fs::read_to_string(root.join("plugins/survival_label").join(file)).unwrap();
        project.write(&format!("plugins/survival_label/{file}"), &text);
    }
    project.write("workflows/survival_label.yaml", SURVIVAL);
    project
}

#[test]
fn the_python_survival_label_plugin_runs_caches_and_reruns_when_its_script_changes() {
    let project = survival_project();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--json", "workflows/survival_label.yaml"];
        args.extend_from_slice(extra);
        let out = project.flow(&args);
        out.assert_code(0);
        out.json_run()
    };
    run(&[]).assert_statuses(&[("cohort", "ran"), ("labels", "ran")]);
    let labels = project.read("results/survival-labels.csv");
    let mut lines = labels.lines();
    assert_eq!(lines.next(), Some("case_id,time_days,event,label"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 150, "{} labelled patients", rows.len());
    for row in &rows {
        let (days, event, label): (i64, &str, &str) = (row[1].parse().unwrap(), row[2], row[3]);
        // Died within two years -> 1; known alive (or died) after two years -> 0.
        let expected = if event == "1" && days <= 730 { "1" } else { "0" };
        assert!(days >= 730 || event == "1", "a censored patient was kept: {row:?}");
        assert_eq!(label, expected, "{row:?}");
    }
    run(&[]).assert_statuses(&[("cohort", "cached"), ("labels", "cached")]);

    // A param of the plugin's schema: only the plugin node reruns.
    run(&["-s", "horizon_days=365"]).assert_statuses(&[("cohort", "cached"), ("labels", "ran")]);
    // The plugin's code is part of the key: editing the script reruns exactly its nodes.
    let script = project.read("plugins/survival_label/label.py");
    project.write("plugins/survival_label/label.py", &format!("{script}\n# edited\n"));
    run(&[]).assert_statuses(&[("cohort", "cached"), ("labels", "ran")]);
    project.flow(&["nodes"]).assert_ok().assert_stdout_contains("survival.label");
    project
        .flow(&["nodes", "survival.label"])
        .assert_ok()
        .assert_stdout_contains("horizon_days (integer, default 730)");
}

/// The files of the tutorial: each code block after a `<!-- file: PATH -->` line.
fn tutorial_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut lines = TUTORIAL.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("<!-- file: ").and_then(|rest| rest.strip_suffix(" -->")) else { continue };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "a code block must follow {line}");
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        files.push((path.to_string(), format!("{}\n", body.join("\n"))));
    }
    files
}

#[test]
fn the_plugin_tutorial_works_as_written() {
    let files = tutorial_files();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["patients.csv", "plugins/head/plugin.yaml", "plugins/head/head.py", "flow.yaml"]);
    let project = Project::new();
    for (path, text) in &files {
        project.write(path, text);
    }
    project.run_ok(&[]).assert_statuses(&[("first", "ran")]);
    assert_eq!(project.read("first.csv"), "case_id,age\nR01-001,64\nR01-002,71\n");
    project.run_ok(&[]).assert_statuses(&[("first", "cached")]);
    let script = project.read("plugins/head/head.py");
    project.write("plugins/head/head.py", &script.replace("kept", "kept, as asked,"));
    project.run_ok(&[]).assert_statuses(&[("first", "ran")]);
    // The tutorial's promise about params: a typo is a load error with a suggestion.
    project.write(WORKFLOW, &project.read(WORKFLOW).replace("rows: 2", "rwos: 2"));
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains("flow.yaml:5:")
        .assert_stderr_contains("did you mean 'rows'");
}

/// A project with a bash plugin `test.broken` whose script is `script` and whose manifest has
/// the given output type and extra lines.
fn broken_plugin(script: &str, output_type: &str) -> Project {
    let project = Project::with_workflow("nodes:\n  step:\n    uses: test.broken\n    with: { size: 3 }\n");
    project.write(
        "plugins/broken/plugin.yaml",
        &format!(
            "kind: test.broken\nversion: \"1\"\ncommand: [bash, run.sh]\noutputs:\n  out: {{ type: \"{output_type}\" }}\nparams:\n  size: {{ type: integer, default: 1 }}\n"
        ),
    );
    project.write("plugins/broken/run.sh", script);
    project
}

/// The run fails with `message`, and a second run fails again: nothing was cached.
#[track_caller]
fn fails_twice(project: &Project, message: &str) {
    for _ in 0..2 {
        project.run(&[]).assert_code(1).assert_stderr_contains(message);
    }
}

#[test]
fn broken_plugins_fail_clearly_and_cache_nothing() {
    // A command that writes what it should: the baseline works.
    let write_out = "out=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[\"outputs\"][\"out\"])')\n";
    let ok = broken_plugin(&format!("{write_out}echo '{{\"n\": 1}}' > \"$out\"\n"), "file:json");
    ok.run_ok(&[]).assert_statuses(&[("step", "ran")]);

    let failing =
        broken_plugin("echo 'reading the table' >&2\necho 'ValueError: size must be even' >&2\nexit 3\n", "file");
    fails_twice(&failing, "exited with status 3");
    failing.run(&[]).assert_stderr_contains("ValueError: size must be even");

    fails_twice(&broken_plugin("exit 0\n", "file"), "output 'out' was not written");
    fails_twice(
        &broken_plugin(&format!("{write_out}echo 'a,b' > \"$out\"\n"), "file:parquet"),
        "is not a Parquet file",
    );
    fails_twice(&broken_plugin(&format!("{write_out}echo 'not json' > \"$out\"\n"), "file:json"), "is not JSON");
    fails_twice(
        &broken_plugin(&format!("{write_out}mkdir \"$out\"\n"), "file"),
        "is a directory, but the manifest says file",
    );

    let missing = broken_plugin("exit 0\n", "file");
    missing.write(
        "plugins/broken/plugin.yaml",
        &missing.read("plugins/broken/plugin.yaml").replace("[bash, run.sh]", "[no-such-program-xyz]"),
    );
    fails_twice(&missing, "command `no-such-program-xyz` not found");
}

#[test]
fn bad_manifests_and_params_are_load_errors_that_touch_nothing() {
    let project = broken_plugin("exit 0\n", "file");
    let manifest = project.read("plugins/broken/plugin.yaml");

    project.write("plugins/broken/plugin.yaml", &manifest.replace("type: integer", "type: integr"));
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains("plugins/broken/plugin.yaml:7:")
        .assert_stderr_contains("unknown type 'integr' (did you mean 'integer'?)");
    project.write("plugins/broken/plugin.yaml", &manifest.replace("command:", "commands:"));
    project.run(&[]).assert_code(2).assert_stderr_contains("plugins/broken/plugin.yaml:3:");
    assert!(!project.state().exists(), "a load error must not create the store");

    project.write("plugins/broken/plugin.yaml", &manifest);
    project.write(WORKFLOW, "nodes:\n  step:\n    uses: test.broken\n    with: { size: three }\n");
    project.run(&[]).assert_code(2).assert_stderr_contains("flow.yaml:4:").assert_stderr_contains("expected a integer");
    assert!(!project.state().exists());
}

#[test]
fn python_byte_code_caches_do_not_count_as_plugin_edits() {
    let project = survival_project();
    let run = || project.flow(&["run", "--json", "workflows/survival_label.yaml"]).json_run();
    run().assert_statuses(&[("cohort", "ran"), ("labels", "ran")]);
    project.write("plugins/survival_label/__pycache__/label.cpython-311.pyc", "byte code");
    project.write("plugins/survival_label/.DS_Store", "finder");
    run().assert_statuses(&[("cohort", "cached"), ("labels", "cached")]);
}

#[test]
fn plugins_are_found_through_flow_plugin_path_and_the_workflow_plugins_list() {
    let elsewhere = tempfile::tempdir().unwrap();
    let plugin = elsewhere.path().join("head");
    std::fs::create_dir_all(&plugin).unwrap();
    for (path, text) in tutorial_files() {
        if let Some(name) = path.strip_prefix("plugins/head/") {
            std::fs::write(plugin.join(name), text).unwrap();
        }
    }
    let project = Project::new();
    for (path, text) in tutorial_files().iter().filter(|(p, _)| !p.starts_with("plugins/")) {
        project.write(path, text);
    }
    // Not in the project: unknown until FLOW_PLUGIN_PATH names the folder holding it.
    project.run(&[]).assert_code(2).assert_stderr_contains("unknown node kind 'table.head'");
    let out = project.command(&["run", WORKFLOW]).env("FLOW_PLUGIN_PATH", elsewhere.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The workflow's own `plugins:` list, relative to the workflow file.
    let listed = format!("plugins: [{}]\n{}", elsewhere.path().display(), project.read(WORKFLOW));
    project.write(WORKFLOW, &listed);
    project.run_ok(&[]).assert_statuses(&[("first", "cached")]);
    project.write(WORKFLOW, &listed.replace(&elsewhere.path().display().to_string(), "no/such/dir"));
    project.run(&[]).assert_code(2).assert_stderr_contains("flow.yaml:1:").assert_stderr_contains("does not exist");
}

/// The Rust tutorial's steps in document order: files to write and shell commands to run.
enum Step {
    File(String, String),
    Commands(Vec<String>),
}

fn rust_tutorial() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = TUTORIAL.lines();
    while let Some(line) = lines.next() {
        let file = line.strip_prefix("<!-- rust-file: ").and_then(|rest| rest.strip_suffix(" -->"));
        if file.is_none() && line != "<!-- rust-step -->" {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "a code block must follow {line}");
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        steps.push(match file {
            Some(path) => Step::File(path.to_string(), format!("{}\n", body.join("\n"))),
            None => Step::Commands(body.iter().map(|l| l.to_string()).collect()),
        });
    }
    steps
}

#[test]
fn the_rust_plugin_tutorial_works_as_written_without_rebuilding_flow() {
    let steps = rust_tutorial();
    assert_eq!(steps.len(), 4, "two command blocks and two files");
    let project = Project::new();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_flow")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let shell = |line: &str| {
        let out = std::process::Command::new("bash")
            .args(["-c", line])
            .current_dir(project.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "`{line}` failed:\n{said}");
        said
    };
    let mut said = String::new();
    for step in &steps {
        match step {
            Step::File(path, text) => project.write(path, text),
            Step::Commands(lines) => {
                for line in lines {
                    said = shell(line);
                }
            }
        }
    }
    assert_eq!(said, "word,lines\nTODO,2\n", "cat counts.csv");
    project.run_ok(&[]).assert_statuses(&[("count", "cached")]);
    // Editing the program rebuilds it and reruns the node.
    let source = project.read("plugins/text_grep/src/main.rs");
    let edited =
        source.replace("line.contains(&params.word)", "line.to_lowercase().contains(&params.word.to_lowercase())");
    assert_ne!(edited, source, "the scaffold's counting line changed; update this test");
    project.write("plugins/text_grep/src/main.rs", &edited);
    project.write("notes.txt", "a TODO here\nnothing there\nTODO again\ntodo, lower\n");
    project.run_ok(&[]).assert_statuses(&[("count", "ran")]);
    assert_eq!(project.read("counts.csv"), "word,lines\nTODO,3\n");
}
