//! Processes a node starts do not outlive it: background children are killed before outputs
//! are stored, retries and crashes of the controller leave nothing running, and SIGTERM reaches
//! node commands with time to clean up.
//!
//! A process belongs to a test if its working directory is inside the test's project (shell
//! commands run in the project, plugins in `.flow/tmp/`): read from `/proc/PID/cwd`, which
//! needs no cooperation from the process.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::{PATIENCE, Project, WORKFLOW};

/// Live processes (not zombies) whose working directory is inside `dir`.
fn processes_in(dir: &Path) -> Vec<i32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&pid| pid != std::process::id() as i32)
        .filter(|&pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&dir)))
        .filter(|&pid| is_alive(pid))
        .collect()
}

/// Whether `pid` exists and is not a zombie.
fn is_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rfind(')').and_then(|at| stat[at + 1..].split_whitespace().next()).unwrap_or("");
    !matches!(state, "Z" | "X" | "")
}

/// Command lines of `pids`, for assertion messages.
fn describe(pids: &[i32]) -> String {
    pids.iter()
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!("{pid}: {}", String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until no process is left in `dir`; returns what was still running at the deadline.
fn wait_until_none_in(dir: &Path) -> Vec<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = processes_in(dir);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Kills whatever a test left running in its project, even when an assertion failed.
struct Leftovers(PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for pid in processes_in(&self.0) {
            // SAFETY: kill(2) on a process working in this test's own temp project.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The stored object of a node's output port.
fn object(project: &Project, digest: &str) -> PathBuf {
    project.state().join("cas").join(&digest[..2]).join(&digest[2..])
}

#[test]
fn a_background_child_cannot_write_into_a_stored_output() {
    // The child inherits the output open (fd 3) and writes the moment the command's shell is
    // gone: if it outlived the command, its line would land in the output while or after it
    // is hashed, whichever comes first.
    let yaml = r#"
name: background
nodes:
  writer:
    uses: shell
    with:
      run: |
        exec 3>> {out.o}
        echo early >&3
        (while kill -0 $$ 2>/dev/null; do sleep 0.01; done; echo late >&3) &
      outputs: { o: file }
publish: { writer.o: results/o.txt }
"#;
    let project = Project::with_workflow(yaml);
    let _leftovers = Leftovers(project.path().to_path_buf());
    let run = project.run_ok(&[]);
    let alive_after_run = processes_in(project.path());
    let description = describe(&alive_after_run);
    let still_alive = wait_until_none_in(project.path());
    assert!(still_alive.is_empty(), "still running:\n{}", describe(&still_alive));

    let digest = run.output("writer", "o");
    let stored = std::fs::read_to_string(object(&project, &digest)).expect("read the stored object");
    assert_eq!(stored, "early\n", "the stored output is what the command wrote, nothing later");
    assert_eq!(project.read("results/o.txt"), "early\n");
    assert!(alive_after_run.is_empty(), "the node's processes outlived `flow run`:\n{description}");
}

#[test]
fn a_plugin_s_background_child_is_killed_with_it() {
    let project = Project::with_workflow("nodes:\n  step:\n    uses: test.lingering\n");
    project.write(
        "plugins/lingering/plugin.yaml",
        "kind: test.lingering\nversion: \"1\"\ncommand: [bash, run.sh]\noutputs:\n  out: { type: file }\n",
    );
    project.write(
        "plugins/lingering/run.sh",
        "out=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[\"outputs\"][\"out\"])')\n\
         exec 3>> \"$out\"\n\
         echo early >&3\n\
         (while kill -0 $$ 2>/dev/null; do sleep 0.01; done; echo late >&3) &\n",
    );
    let _leftovers = Leftovers(project.path().to_path_buf());
    let run = project.run_ok(&[]);
    let alive_after_run = processes_in(project.path());
    let description = describe(&alive_after_run);
    let still_alive = wait_until_none_in(project.path());
    assert!(still_alive.is_empty(), "still running:\n{}", describe(&still_alive));
    let stored = std::fs::read_to_string(object(&project, &run.output("step", "out"))).expect("read the object");
    assert_eq!(stored, "early\n");
    assert!(alive_after_run.is_empty(), "the plugin's processes outlived `flow run`:\n{description}");
}

#[test]
fn a_failed_attempt_s_processes_are_gone_before_the_retry() {
    let yaml = r#"
name: flaky
nodes:
  flaky:
    uses: shell
    retries: 1
    with:
      run: |
        if [ ! -e first.pid ]; then
          (while :; do sleep 0.02; done) &
          echo $! > first.pid
          exit 1
        fi
        if kill -0 "$(cat first.pid)" 2>/dev/null; then echo alive > survivor; fi
        echo second > {out.o}
      outputs: { o: file }
"#;
    let project = Project::with_workflow(yaml);
    let _leftovers = Leftovers(project.path().to_path_buf());
    let run = project.run_ok(&[]);
    assert_eq!(run.node("flaky")["attempts"], 2, "{}", run.context());
    assert!(!project.exists("survivor"), "the first attempt's background child was alive during the retry");
    let alive = processes_in(project.path());
    assert!(alive.is_empty(), "processes outlived `flow run`:\n{}", describe(&alive));
}

/// A node that leaves a background child writing into its scratch dir (in `.flow/tmp/`) and
/// waits in a long `sleep` until `may-finish` exists.
const LINGERING: &str = r#"
name: lingering
nodes:
  slow:
    uses: shell
    with:
      run: |
        (while :; do echo tick >> {scratch}/ticks; sleep 0.01; done) &
        if [ -e may-finish ]; then echo done > {out.o}; exit 0; fi
        echo $$ > slow-started
        sleep 600
      outputs: { o: file }
publish: { slow.o: results/o.txt }
"#;

#[test]
fn a_killed_controller_takes_its_commands_along_or_the_next_run_does() {
    let project = Project::with_workflow(LINGERING);
    let _leftovers = Leftovers(project.path().to_path_buf());
    let mut running = project.start(&["run", WORKFLOW]);
    running.wait_for_file("slow-started");
    running.kill();
    let killed = running.finish();
    assert_eq!(killed.code, None, "flow died of SIGKILL\n{}", killed.context());

    // The command's shell dies with flow (PR_SET_PDEATHSIG).
    let shell: i32 = project.read("slow-started").trim().parse().expect("the shell's pid");
    let deadline = Instant::now() + PATIENCE;
    while is_alive(shell) {
        assert!(Instant::now() < deadline, "the node's shell outlived the controller by {PATIENCE:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Its children do not get that signal: the background loop and `sleep 600` are still there,
    // the loop still writing into .flow/tmp/, for the next run to deal with.
    let orphans = processes_in(project.path());
    assert!(!orphans.is_empty(), "the test needs orphans for the next run to clean up");

    project.write("may-finish", "");
    let next = project.run(&[]);
    next.assert_ok().assert_stderr_lacks("Directory not empty");
    next.json_run().assert_statuses(&[("slow", "ran")]);
    assert_eq!(project.read("results/o.txt"), "done\n");
    let alive = processes_in(project.path());
    assert!(alive.is_empty(), "processes survived the next run:\n{}", describe(&alive));
    assert!(
        std::fs::read_dir(project.state().join("procs")).map(|d| d.count()).unwrap_or(0) == 0,
        "no process records are left once nothing runs"
    );
}

#[test]
fn sigterm_reaches_node_commands_which_get_time_to_clean_up() {
    let yaml = r#"
name: trapping
nodes:
  trapper:
    uses: shell
    with:
      run: |
        trap 'sleep 0.3; echo got TERM >> trapped; exit 1' TERM
        (while :; do sleep 0.01; done) &
        echo $$ > trapper-started
        sleep 600
        echo done > {out.o}
      outputs: { o: file }
"#;
    let project = Project::with_workflow(yaml);
    let _leftovers = Leftovers(project.path().to_path_buf());
    let mut running = project.start(&["run", "--json", WORKFLOW]);
    running.wait_for_file("trapper-started");
    // SAFETY: kill(2) on the pid of a child we started and have not reaped.
    let sent = unsafe { libc::kill(running.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "send SIGTERM");
    let out = running.finish();
    // The trap sleeps first: a SIGKILL without a grace period would not let it write.
    assert_eq!(
        std::fs::read_to_string(project.join("trapped")).ok().as_deref(),
        Some("got TERM\n"),
        "the node's trap ran once\n{}",
        out.context()
    );
    let alive = processes_in(project.path());
    assert!(alive.is_empty(), "processes outlived the interrupted run:\n{}", describe(&alive));
    let run = out.json_run();
    run.assert_statuses(&[("trapper", "cancelled")]);
    out.assert_code(143);
}

#[test]
fn an_env_name_no_environment_can_hold_is_a_load_error() {
    let project = Project::with_workflow(
        "nodes:\n  step:\n    uses: shell\n    with:\n      run: \"echo $A > {out.o}\"\n      outputs: { o: file }\n      env: { \"A=B\": \"1\" }\n",
    );
    let out = project.run(&[]);
    out.assert_code(2).assert_stderr_contains("flow.yaml:").assert_stderr_contains("contains '='");
    assert!(!project.state().join("runs").exists(), "nothing ran\n{}", out.context());
}
