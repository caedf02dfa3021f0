//! Parallel scheduling under -j and the store lock between flow processes.

use std::time::Duration;

use crate::util::Project;

const TWO_SLEEPERS: &str = r#"
name: sleepers
vars: { tag: 1 }
nodes:
  left:
    uses: shell
    with: { run: "sleep 1; echo left ${tag} > {out.o}", outputs: { o: file } }
  right:
    uses: shell
    with: { run: "sleep 1; echo right ${tag} > {out.o}", outputs: { o: file } }
"#;

#[test]
fn independent_nodes_run_in_parallel_under_the_thread_budget() {
    let project = Project::with_workflow(TWO_SLEEPERS);

    let parallel = project.run(&["-j", "2", "-s", "tag=parallel"]);
    parallel.assert_ok();
    parallel.json_run().assert_all("ran");
    assert!(
        parallel.elapsed < Duration::from_millis(1800),
        "two 1 s nodes with -j 2 should overlap, took {:?}\n{}",
        parallel.elapsed,
        parallel.context()
    );

    let serial = project.run(&["-j", "1", "-s", "tag=serial"]);
    serial.assert_ok();
    serial.json_run().assert_all("ran");
    assert!(
        serial.elapsed >= Duration::from_secs(2),
        "-j 1 runs one node at a time, took {:?}\n{}",
        serial.elapsed,
        serial.context()
    );
}

#[test]
fn a_node_asking_for_all_threads_runs_alone() {
    let yaml = TWO_SLEEPERS
        .replace("  right:\n    uses: shell\n", "  right:\n    uses: shell\n    resources: { threads: 2 }\n");
    let project = Project::with_workflow(&yaml);
    let out = project.run(&["-j", "2"]);
    out.assert_ok();
    out.json_run().assert_all("ran");
    assert!(
        out.elapsed >= Duration::from_secs(2),
        "threads: 2 under -j 2 excludes the other node, took {:?}",
        out.elapsed
    );
}

#[test]
fn store_lock_makes_a_second_run_wait_or_fail_with_no_wait() {
    let project = Project::new();
    // The holder's node runs until the test creates `release`.
    project.write(
        "hold.yaml",
        r#"
name: hold
nodes:
  hold:
    uses: shell
    with:
      run: |
        touch hold-started
        for i in $(seq 1 600); do if [ -e release ]; then break; fi; sleep 0.05; done
        touch hold-done
        echo held > {out.o}
      outputs: { o: file }
"#,
    );
    // Succeeds only after the holder's node finished.
    project.write(
        "quick.yaml",
        r#"
name: quick
nodes:
  quick:
    uses: shell
    with: { run: "test -e hold-done; echo quick > {out.o}", outputs: { o: file } }
"#,
    );
    let mut holder = project.start(&["run", "hold.yaml"]);
    holder.wait_for_file("hold-started");

    // A user who deletes what looks like a stale lock file does not let a second run in.
    let _ = std::fs::remove_file(project.join(".flow/lock"));
    let busy = project.flow(&["run", "--no-wait", "quick.yaml"]);
    busy.assert_code(3).assert_stderr_contains("another flow process");
    project.flow(&["gc", "--no-wait"]).assert_code(3).assert_stderr_contains("another flow process");

    // Without --no-wait the second run says it waits, and runs once the holder is done.
    let mut waiter = project.start(&["run", "--json", "quick.yaml"]);
    waiter.wait_for_stderr("waiting for another flow process");
    assert!(!project.exists("hold-done"), "the holder is still running");
    project.write("release", "");
    holder.finish().assert_ok();
    let waited = waiter.finish();
    waited.assert_ok();
    waited.json_run().assert_statuses(&[("quick", "ran")]);

    let again = project.flow(&["run", "--json", "hold.yaml"]);
    again.assert_ok().assert_stderr_lacks("waiting");
    again.json_run().assert_all("cached");
}
