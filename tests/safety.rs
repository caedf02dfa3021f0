//! Data safety (issue 11): publish never destroys what flow did not write, the store notices
//! its own corruption and repairs it, damaged state files cost a rerun and never the run, and
//! read-only commands write nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::util::{Project, walk};

const CHAIN: &str = r#"
name: chain
nodes:
  first:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "sort {in.data} > {out.o}", outputs: { o: file } }
  second:
    uses: shell
    in: { x: first.o }
    with: { run: "mkdir -p {out.d}/sub && cp {in.x} {out.d}/sub/sorted.txt && wc -l < {in.x} > {out.d}/n.txt", outputs: { d: dir } }
  third:
    uses: shell
    in: { x: second.d }
    with: { run: "cat {in.x}/n.txt > {out.o}", outputs: { o: file } }
publish: { second.d: results/bundle, third.o: results/n.txt }
"#;

fn chain() -> Project {
    let project = Project::with_workflow(CHAIN);
    project.write("data.txt", "b\na\nc\n");
    project
}

/// The path of a stored object, from its digest as a run record shows it.
fn object(project: &Project, digest: &str) -> PathBuf {
    project.state().join("cas").join(&digest[..2]).join(&digest[2..])
}

/// Overwrites a read-only store file the way a careless user (as root) or a bad disk would.
fn scribble(path: &Path, bytes: &[u8]) {
    let mode = fs::metadata(path).unwrap().permissions();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, mode).unwrap();
}

/// Every path under the state dir with its size and modification time.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    walk(root)
        .into_iter()
        .map(|p| {
            let meta = fs::symlink_metadata(&p).unwrap();
            (p, meta.len(), meta.modified().unwrap())
        })
        .collect()
}

#[test]
fn publish_refuses_to_replace_what_flow_did_not_write() {
    let project = chain();
    // The user already keeps something at one destination.
    project.write("results/n.txt", "my own notes\n");
    let refused = project.run(&[]);
    refused
        .assert_code(2)
        .assert_stderr_contains("results/n.txt exists and is not what flow last published there")
        .assert_stderr_contains("--overwrite");
    assert_eq!(project.read("results/n.txt"), "my own notes\n", "nothing of the user's is lost");
    assert!(!project.exists("results/bundle"), "refused before anything ran or was published");
    assert!(!project.state().join("cas").exists() || walk(&project.state().join("cas")).is_empty());

    let run = project.run_ok(&["--overwrite"]);
    run.assert_all("ran");
    assert_eq!(project.read("results/n.txt"), "3\n");

    // What flow published it may replace; deleting it brings it back.
    fs::remove_dir_all(project.join("results/bundle")).unwrap();
    project.run_ok(&[]).assert_all("cached");
    assert_eq!(project.read("results/bundle/sub/sorted.txt"), "a\nb\nc\n");

    // An edit inside a published directory makes it the user's: refused, kept, explained.
    project.write("results/bundle/sub/sorted.txt", "hand-edited\n");
    project.write("data.txt", "b\na\nc\nd\n");
    project
        .run(&[])
        .assert_code(2)
        .assert_stderr_contains("results/bundle exists and is not what flow last published there")
        .assert_stderr_contains("changed since flow published it");
    assert_eq!(project.read("results/bundle/sub/sorted.txt"), "hand-edited\n");
    project.run_ok(&["--overwrite"]);
    assert_eq!(project.read("results/bundle/sub/sorted.txt"), "a\nb\nc\nd\n");
    let leftovers: Vec<_> =
        walk(&project.join("results")).into_iter().filter(|p| p.to_string_lossy().contains(".flow-publish")).collect();
    assert!(leftovers.is_empty(), "no staging copies left: {leftovers:?}");
}

#[test]
fn a_corrupt_object_is_quarantined_and_recomputed_in_the_same_run() {
    let project = chain();
    let first = project.run_ok(&[]);
    let sorted = first.output("first", "o");
    let bundle = first.output("second", "d");

    // Someone edits a stored file; the next run must neither serve it nor publish it.
    scribble(&object(&project, &sorted), b"z\ny\nx\n");
    scribble(&object(&project, &bundle).join("sub/sorted.txt"), b"tampered\n");
    let out = project.run(&[]);
    out.assert_code(0)
        .assert_stderr_contains("node 'first': its cached output 'o' was corrupt in the store")
        .assert_stderr_contains("node 'second': its cached output 'd' was corrupt in the store")
        .assert_stderr_contains("recomputing");
    let run = out.json_run();
    // first and second rebuild identical bytes, so third stays cached (early cutoff).
    run.assert_statuses(&[("first", "ran"), ("second", "ran"), ("third", "cached")]);
    assert!(run.node("first")["repaired"].as_str().is_some_and(|r| r.contains("corrupt")));
    assert_eq!(run.output("first", "o"), sorted, "the same content, rebuilt under the same digest");
    assert_eq!(fs::read_to_string(object(&project, &sorted)).unwrap(), "a\nb\nc\n");
    assert_eq!(project.read("results/bundle/sub/sorted.txt"), "a\nb\nc\n");
    let quarantined = walk(&project.state().join("quarantine"));
    assert!(!quarantined.is_empty(), "the bad copies are kept for inspection");

    project.run_ok(&[]).assert_all("cached");
}

#[test]
fn flow_verify_rehashes_everything_and_the_next_run_repairs() {
    let project = chain();
    let first = project.run_ok(&[]);
    project.flow(&["verify"]).assert_ok().assert_stdout_contains("0 corrupt");

    // Same size, same mtime: only a full rehash (or ctime) can tell.
    let path = object(&project, &first.output("third", "o"));
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    scribble(&path, b"9\n");
    crate::util::set_mtime(&path, mtime);
    let verify = project.flow(&["verify"]);
    verify
        .assert_code(1)
        .assert_stdout_contains("1 corrupt (quarantined)")
        .assert_stdout_contains("1 action records dropped");
    let rerun = project.run_ok(&[]);
    rerun.assert_statuses(&[("first", "cached"), ("second", "cached"), ("third", "ran")]);
    assert_eq!(fs::read_to_string(&path).unwrap(), "3\n");
    project.flow(&["verify"]).assert_ok();
}

#[test]
fn damaged_state_files_cost_a_rerun_never_the_run() {
    let project = chain();
    project.run_ok(&[]);
    let log = project.state().join("actions.log");
    let mut bytes = fs::read(&log).unwrap();
    // A bad byte in the first record and a torn last line, as a crash or a bad disk leaves.
    let first_record = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[first_record + 5] = 0xff;
    bytes.extend_from_slice(b"0123abc");
    fs::write(&log, &bytes).unwrap();
    fs::write(project.state().join("stamps"), b"flow-stamps 1\n\xff\xfe\n").unwrap();
    fs::write(project.state().join("statcache"), b"\xff garbage").unwrap();

    let out = project.run(&[]);
    out.assert_code(0).assert_stderr_contains("actions.log: skipped 1 damaged line(s)");
    let run = out.json_run();
    assert_eq!(run.statuses().values().filter(|s| *s == "ran").count(), 1, "only the damaged record reruns");
    project.run_ok(&[]).assert_all("cached");
}

#[test]
fn plan_and_status_write_nothing_even_on_a_damaged_store() {
    let project = chain();
    let first = project.run_ok(&[]);
    scribble(&object(&project, &first.output("first", "o")), b"corrupt\n");
    let mut log = fs::read(project.state().join("actions.log")).unwrap();
    log.extend_from_slice(b"torn");
    fs::write(project.state().join("actions.log"), &log).unwrap();
    let before = snapshot(&project.state());

    let plan = project.flow(&["plan", crate::util::WORKFLOW]);
    plan.assert_ok().assert_stdout_contains("corrupt");
    project.flow(&["status"]).assert_ok();
    project.flow(&["why", crate::util::WORKFLOW, "first"]).assert_ok();
    assert_eq!(snapshot(&project.state()), before, "read-only commands changed the state dir");
}

#[test]
fn a_broken_state_dir_is_an_internal_error_with_its_own_exit_code() {
    let project = chain();
    project.run_ok(&[]);
    // Run records cannot be written: not the workflow's fault, not a node's.
    fs::remove_dir_all(project.state().join("runs")).unwrap();
    fs::write(project.state().join("runs"), "not a directory").unwrap();
    project.run(&[]).assert_code(4);
}

#[test]
fn a_resource_request_above_the_budget_is_reported_once() {
    let project = Project::with_workflow(
        r#"
nodes:
  big:
    uses: shell
    with: { run: "echo {threads} > {out.o}", outputs: { o: file } }
    resources: { threads: 8, memory: 64G }
"#,
    );
    let out = project.run(&["-j", "2", "--memory", "1G"]);
    out.assert_ok()
        .assert_stderr_contains("node 'big' asks for 8 threads; the run's budget is 2 (-j), so it runs with 2")
        .assert_stderr_contains("node 'big' asks for 65536 MiB of memory");
    assert_eq!(out.stderr.matches("asks for 8 threads").count(), 1);
}

/// Consumers whose tools edit their inputs in place (an appending logger, a chmod first) when
/// `scribble`, and leave them alone otherwise.
fn scribbling(scribble: bool) -> String {
    let (edit_file, edit_tree) = if scribble {
        ("chmod u+w {in.x} && echo extra >> {in.x}; ", "chmod u+w {in.x} && touch {in.x}/new; ")
    } else {
        ("", "")
    };
    format!(
        r#"
name: scribble
nodes:
  first:
    uses: shell
    in: {{ data: file:data.txt }}
    with: {{ run: "sort {{in.data}} > {{out.o}}", outputs: {{ o: file }} }}
  tree:
    uses: shell
    in: {{ data: file:data.txt }}
    with: {{ run: "mkdir -p {{out.d}} && cp {{in.data}} {{out.d}}/a.txt", outputs: {{ d: dir }} }}
  edits_file:
    uses: shell
    retries: 2
    in: {{ x: first.o }}
    with: {{ run: "{edit_file}wc -l < {{in.x}} > {{out.o}}", outputs: {{ o: file }} }}
  edits_tree:
    uses: shell
    in: {{ x: tree.d }}
    with: {{ run: "{edit_tree}ls {{in.x}} > {{out.o}}", outputs: {{ o: file }} }}
"#
    )
}

#[test]
fn a_node_that_changes_its_inputs_fails_and_the_damaged_objects_are_rebuilt() {
    let project = Project::with_workflow(&scribbling(true));
    project.write("data.txt", "b\na\n");
    let out = project.run(&["--keep-going"]);
    out.assert_code(1)
        .assert_stderr_contains("node 'edits_file': its input 'x'")
        .assert_stderr_contains("node 'edits_tree': its input 'x'")
        .assert_stderr_contains("must stay as they are");
    let run = out.json_run();
    run.assert_statuses(&[("first", "ran"), ("tree", "ran"), ("edits_file", "failed"), ("edits_tree", "failed")]);
    assert_eq!(run.node("edits_file")["attempts"], 1, "a damaged input is not retried");
    let sorted = run.output("first", "o");
    assert!(!object(&project, &sorted).exists(), "the damaged object is out of the store");
    assert!(!walk(&project.state().join("quarantine")).is_empty(), "and kept for inspection");

    // Once the tool leaves its inputs alone, the damaged objects are rebuilt, byte for byte.
    project.write("flow.yaml", &scribbling(false));
    let fixed = project.run(&[]);
    fixed.assert_code(0);
    let fixed = fixed.json_run();
    fixed.assert_statuses(&[("first", "ran"), ("tree", "ran"), ("edits_file", "ran"), ("edits_tree", "ran")]);
    assert_eq!(fixed.output("first", "o"), sorted);
    assert_eq!(fs::read_to_string(object(&project, &sorted)).unwrap(), "a\nb\n");
}

#[test]
fn a_store_that_cannot_take_an_output_is_an_internal_error_not_a_node_failure() {
    // Where the next output will go, learned from a twin project.
    let twin = chain();
    twin.write("data.txt", "b\na\nc\nd\n");
    let next = twin.run_ok(&[]).output("third", "o");

    let project = chain();
    project.run_ok(&[]);
    // That object's shard directory becomes a file: the store cannot take the object.
    let shard = project.state().join("cas").join(&next[..2]);
    if shard.exists() {
        std::process::Command::new("chmod").arg("-R").arg("u+w").arg(&shard).status().unwrap();
        fs::remove_dir_all(&shard).unwrap();
    }
    fs::write(&shard, "in the way").unwrap();
    project.write("data.txt", "b\na\nc\nd\n");
    project.run(&[]).assert_code(4).assert_stderr_contains("the store could not take output");
}

#[test]
fn gc_deletes_the_quarantined_copies() {
    let project = chain();
    let first = project.run_ok(&[]);
    scribble(&object(&project, &first.output("first", "o")), b"z\n");
    project.run_ok(&[]);
    assert!(!walk(&project.state().join("quarantine")).is_empty());
    project.flow(&["gc"]).assert_ok().assert_stdout_contains("deleted 1 quarantined corrupt copies");
    assert!(!project.state().join("quarantine").exists());
    project.run_ok(&[]).assert_all("cached");
}
