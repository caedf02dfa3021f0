//! Failing nodes: what the user sees, what stays cached, retries, --keep-going, and a run
//! killed mid-way.

use crate::util::{Project, WORKFLOW, assert_group_ends};

const FAILING: &str = r#"
name: failing
vars: { fail: 1 }
nodes:
  prepare:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "sort {in.data} > {out.o}", outputs: { o: file } }
  side:
    uses: shell
    with: { run: "echo side > {out.o}", outputs: { o: file } }
  model:
    uses: shell
    in: { x: prepare.o }
    with:
      run: |
        echo "loading {in.x}"
        for i in $(seq 1 30); do echo "noise line $i" >&2; done
        if [ ${fail} = 1 ]; then
          echo "model: matrix is singular" >&2
          exit 3
        fi
        cat {in.x} > {out.o}
      outputs: { o: file }
  report:
    uses: shell
    in: { x: model.o }
    with: { run: "wc -l < {in.x} > {out.o}", outputs: { o: file } }
"#;

#[test]
fn failing_node_exits_1_shows_its_log_tail_and_keeps_finished_nodes_cached() {
    let project = Project::with_workflow(FAILING);
    project.write("data.txt", "b\na\n");
    let out = project.flow(&["run", "--json", WORKFLOW, "-j", "1"]);
    out.assert_code(1);
    out.assert_stderr_contains("node 'model' failed")
        .assert_stderr_contains("exited with status 3")
        .assert_stderr_contains("model: matrix is singular")
        .assert_stderr_contains("noise line 30")
        // The tail, not the whole log.
        .assert_stderr_lacks("noise line 5\n");
    // The log's path is printed and it holds the whole output.
    let log = out
        .stderr
        .split_whitespace()
        .find(|w| w.ends_with("model.log"))
        .unwrap_or_else(|| panic!("stderr should name model's log file\n{}", out.context()));
    let log_text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("read {log}: {e}\n{}", out.context()));
    assert!(log_text.contains("noise line 1\n") && log_text.contains("singular"), "{log_text}");
    assert!(log.contains("/.flow/logs/"), "node logs live in the store: {log}");

    let run = out.json_run();
    assert_eq!(run.value["status"], "failed", "{}", run.context());
    run.assert_statuses(&[("prepare", "ran"), ("side", "ran"), ("model", "failed"), ("report", "skipped")]);
    let error = run.node("model")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("status 3"), "the record keeps the error: {error}");

    // Rerunning without a fix fails again and reruns only the failed node.
    let again = project.flow(&["run", "--json", WORKFLOW]);
    again.assert_code(1);
    again.json_run().assert_statuses(&[
        ("prepare", "cached"),
        ("side", "cached"),
        ("model", "failed"),
        ("report", "skipped"),
    ]);

    // After the fix, what finished before is cached.
    let fixed = project.run_ok(&["-s", "fail=0"]);
    fixed.assert_statuses(&[("prepare", "cached"), ("side", "cached"), ("model", "ran"), ("report", "ran")]);
}

#[test]
fn missing_declared_output_fails_the_node() {
    let yaml = r#"
name: lazy
nodes:
  lazy:
    uses: shell
    with: { run: "echo forgot to write", outputs: { result: file } }
  wrong_shape:
    uses: shell
    with: { run: "mkdir {out.result}", outputs: { result: file } }
"#;
    let project = Project::with_workflow(yaml);
    let out = project.flow(&["run", "--json", "--keep-going", WORKFLOW]);
    out.assert_code(1).assert_stderr_contains("'result' was not written");
    out.json_run().assert_statuses(&[("lazy", "failed"), ("wrong_shape", "failed")]);
}

#[test]
fn retries_rerun_a_flaky_command() {
    let yaml = r#"
name: flaky
nodes:
  flaky:
    uses: shell
    retries: 1
    with:
      run: |
        n=$(cat attempts 2>/dev/null || echo 0)
        n=$((n + 1))
        echo $n > attempts
        if [ $n -lt 2 ]; then echo "transient failure $n" >&2; exit 1; fi
        echo "ok after $n" > {out.o}
      outputs: { o: file }
  hopeless:
    uses: shell
    retries: 2
    with:
      run: |
        echo x >> hopeless-attempts
        exit 1
      outputs: { o: file }
publish: { flaky.o: flaky.txt }
"#;
    let project = Project::with_workflow(yaml);
    let out = project.flow(&["run", "--json", "--keep-going", WORKFLOW]);
    out.assert_code(1).assert_stderr_contains("retry").assert_stderr_contains("flaky");
    let run = out.json_run();
    run.assert_statuses(&[("flaky", "ran"), ("hopeless", "failed")]);
    assert_eq!(run.node("flaky")["attempts"], 2, "{}", run.context());
    assert_eq!(project.read("attempts"), "2\n");
    assert_eq!(project.read("hopeless-attempts"), "x\nx\nx\n", "retries: 2 means three attempts");
    assert_eq!(project.read("flaky.txt"), "ok after 2\n");
}

/// `slow` runs until the test creates `release`.
const BRANCHES: &str = r#"
name: branches
nodes:
  bad:
    uses: shell
    with:
      # Fail only once slow is running, so slow is a node that had started before the failure.
      run: |
        for i in $(seq 1 600); do if [ -e slow-started ]; then break; fi; sleep 0.05; done
        echo broken >&2; exit 1
      outputs: { o: file }
  bad_child:
    uses: shell
    in: { x: bad.o }
    with: { run: "touch ran-bad_child; cat {in.x} > {out.o}", outputs: { o: file } }
  slow:
    uses: shell
    with:
      run: |
        touch slow-started
        for i in $(seq 1 600); do if [ -e release ]; then break; fi; sleep 0.05; done
        echo slow > {out.o}
      outputs: { o: file }
  after_slow:
    uses: shell
    in: { x: slow.o }
    with: { run: "touch ran-after_slow; cat {in.x} > {out.o}", outputs: { o: file } }
"#;

#[test]
fn without_keep_going_no_new_node_starts_after_a_failure() {
    let project = Project::with_workflow(BRANCHES);
    let mut running = project.start(&["run", "--json", "-j", "2", WORKFLOW]);
    // bad failed while slow runs: let slow finish only now.
    running.wait_for_stderr("waiting for 1 running");
    project.write("release", "");
    let out = running.finish();
    out.assert_code(1).assert_stderr_contains("node 'bad' failed");
    // slow was already running: it finishes (and is cached); nothing new is launched.
    out.json_run().assert_statuses(&[
        ("bad", "failed"),
        ("bad_child", "skipped"),
        ("slow", "ran"),
        ("after_slow", "skipped"),
    ]);
    assert!(!project.exists("ran-after_slow") && !project.exists("ran-bad_child"), "{}", out.context());

    let again = project.flow(&["run", "--json", "-j", "2", "--keep-going", WORKFLOW]);
    again.assert_code(1);
    again.json_run().assert_statuses(&[
        ("bad", "failed"),
        ("bad_child", "skipped"),
        ("slow", "cached"),
        ("after_slow", "ran"),
    ]);
}

#[test]
fn keep_going_runs_the_independent_branch() {
    let project = Project::with_workflow(BRANCHES);
    project.write("release", "");
    let out = project.flow(&["run", "--json", "-j", "2", "--keep-going", WORKFLOW]);
    out.assert_code(1).assert_stderr_contains("node 'bad' failed");
    out.json_run().assert_statuses(&[
        ("bad", "failed"),
        ("bad_child", "skipped"),
        ("slow", "ran"),
        ("after_slow", "ran"),
    ]);
    assert!(project.exists("ran-after_slow") && !project.exists("ran-bad_child"));
}

#[test]
fn killed_run_resumes_from_what_finished() {
    let yaml = r#"
name: resumable
nodes:
  a:
    uses: shell
    with: { run: "seq 1 5 > {out.o}", outputs: { o: file } }
  b:
    uses: shell
    in: { x: a.o }
    with:
      run: |
        echo $$ > b-started
        for i in $(seq 1 600); do if [ -e b-may-finish ]; then break; fi; sleep 0.05; done
        tac {in.x} > {out.o}
      outputs: { o: file }
publish: { b.o: results/b.txt }
"#;
    let project = Project::with_workflow(yaml);
    let mut running = project.start(&["run", WORKFLOW]);
    running.wait_for_file("b-started");
    running.kill();
    let killed = running.finish();
    assert_eq!(killed.code, None, "flow died of SIGKILL\n{}", killed.context());
    // A crash takes the node's processes too: end the orphaned command (its own process
    // group) so it cannot write into the next run's work directory.
    let pgid: i32 = project.read("b-started").trim().parse().expect("b's pid");
    // SAFETY: kill(2) on the process group the test's workflow started.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    assert_group_ends(pgid, "b's command");
    std::fs::remove_file(project.join("b-started")).unwrap();
    assert!(!project.exists("results/b.txt"), "b never finished");

    project.write("b-may-finish", "");
    let resumed = project.run_ok(&[]);
    resumed.assert_statuses(&[("a", "cached"), ("b", "ran")]);
    assert_eq!(resumed.value["status"], "ok");
    assert_eq!(project.read("results/b.txt"), "5\n4\n3\n2\n1\n");

    std::fs::remove_file(project.join("b-started")).unwrap();
    project.run_ok(&[]).assert_all("cached");
    assert!(!project.exists("b-started"), "nothing ran the third time");
    let leftovers = std::fs::read_dir(project.state().join("tmp")).map(|d| d.flatten().count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "tmp/ is cleaned after a crash");
}

#[test]
fn interrupt_cancels_running_nodes_and_exits_130() {
    let yaml = r#"
name: interruptible
nodes:
  quick:
    uses: shell
    with: { run: "echo quick > {out.o}", outputs: { o: file } }
  long:
    uses: shell
    in: { x: quick.o }
    with:
      run: |
        echo $$ > long-started
        for i in $(seq 1 600); do if [ -e long-may-finish ]; then break; fi; sleep 0.05; done
        cat {in.x} > {out.o}
      outputs: { o: file }
  after:
    uses: shell
    in: { x: long.o }
    with: { run: "cat {in.x} > {out.o}", outputs: { o: file } }
"#;
    let project = Project::with_workflow(yaml);
    let mut running = project.start(&["run", "--json", WORKFLOW]);
    running.wait_for_file("long-started");
    // SAFETY: kill(2) on the pid of a child we started and have not reaped.
    let sent = unsafe { libc::kill(running.pid() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0, "send SIGINT");
    let out = running.finish();
    out.assert_code(130).assert_stderr_contains("interrupted");
    let pgid: i32 = project.read("long-started").trim().parse().expect("long's pid");
    assert_group_ends(pgid, "the interrupted node's command");

    let run = out.json_run();
    assert_eq!(run.value["status"], "cancelled", "{}", run.context());
    run.assert_statuses(&[("quick", "ran"), ("long", "cancelled"), ("after", "skipped")]);

    project.write("long-may-finish", "");
    project.run_ok(&[]).assert_statuses(&[("quick", "cached"), ("long", "ran"), ("after", "ran")]);
}

#[test]
fn no_queued_node_starts_after_a_failure() {
    // With -j 1 every other node waits for bad's thread; once bad has failed (fail fast),
    // none of them may start. A node that does start notices bad-failed and says so.
    let mut yaml = String::from(
        "name: queued\nnodes:\n  bad:\n    uses: shell\n    with: { run: \"sleep 0.2; touch bad-failed; exit 1\", outputs: { o: file } }\n",
    );
    for i in 1..=4 {
        yaml.push_str(&format!(
            "  x{i}:\n    uses: shell\n    with: {{ run: \"if [ -e bad-failed ]; then touch late-x{i}; fi; echo {i} > {{out.o}}\", outputs: {{ o: file }} }}\n"
        ));
    }
    let project = Project::with_workflow(&yaml);
    // Which node gets the thread first is up to the scheduler; a few fresh stores make a
    // late start likely to show if it can happen at all.
    for round in 0..3 {
        let _ = std::fs::remove_file(project.join("bad-failed"));
        let state = format!(".flow-{round}");
        let out = project.flow(&["--state-dir", &state, "run", "--json", "-j", "1", WORKFLOW]);
        out.assert_code(1);
        let run = out.json_run();
        assert_eq!(run.node("bad")["status"], "failed", "{}", run.context());
        let late: Vec<String> = (1..=4).map(|i| format!("late-x{i}")).filter(|m| project.exists(m)).collect();
        assert!(late.is_empty(), "round {round}: nodes started after 'bad' failed: {late:?}\n{}", run.context());
        let ran = run.statuses().values().filter(|s| *s == "ran").count();
        let skipped = run.statuses().values().filter(|s| *s == "skipped").count();
        assert_eq!(
            ran + skipped,
            4,
            "every other node either ran before the failure or was skipped\n{}",
            run.context()
        );
    }
}

/// Commands run in bash's strict mode whether they reach bash as an argument or, past the
/// kernel's 128 KiB limit on one argument, through a file; the long one runs all the same.
#[test]
fn short_and_long_commands_run_in_strict_mode() {
    let padding = format!("# {}\n", "x".repeat(200 * 1024));
    let node = |name: &str, run: &str| {
        format!(
            "  {name}:\n    uses: shell\n    with:\n      outputs: {{ o: file }}\n      run: {}\n",
            serde_json::json!(run)
        )
    };
    let yaml = [
        "name: strict\nnodes:\n".to_string(),
        node("short_ok", "echo short > {out.o}"),
        node("long_ok", &format!("{padding}echo long > {{out.o}}")),
        node("short_unset", "echo \"$NOT_SET_ANYWHERE\" > {out.o}"),
        node("long_unset", &format!("{padding}echo \"$NOT_SET_ANYWHERE\" > {{out.o}}")),
        node("short_pipe", "false | true; echo no > {out.o}"),
        node("long_error", &format!("{padding}false; echo no > {{out.o}}")),
    ]
    .concat();
    let project = Project::with_workflow(&yaml);
    let out = project.flow(&["run", "--json", "--keep-going", WORKFLOW]);
    out.assert_code(1);
    out.json_run().assert_statuses(&[
        ("short_ok", "ran"),
        ("long_ok", "ran"),
        ("short_unset", "failed"),
        ("long_unset", "failed"),
        ("short_pipe", "failed"),
        ("long_error", "failed"),
    ]);
    let logs = project.state().join("logs");
    let log_of = |node: &str| {
        let run = std::fs::read_dir(&logs).unwrap().flatten().next().unwrap().path();
        std::fs::read_to_string(run.join(format!("{node}.log"))).unwrap()
    };
    for node in ["short_unset", "long_unset"] {
        assert!(log_of(node).contains("NOT_SET_ANYWHERE: unbound variable"), "{node}: {}", log_of(node));
    }
}
