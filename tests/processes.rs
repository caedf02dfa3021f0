//! Processes a node starts do not outlive it: background children are killed before outputs
//! are stored, retries and crashes of the controller leave nothing running (the next run or
//! `flow gc` stops what a killed run left, but not a daemon a successful run started on purpose),
//! SIGTERM reaches node commands with time to clean up, and a command stuck in the kernel does
//! not hang a run.
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
    // The command's shell dies with flow (PR_SET_PDEATHSIG); its children do not get that
    // signal: the background loop and `sleep 600` are still there, the loop still writing into
    // .flow/tmp/, for the next run to deal with.
    orphans_of_a_killed_run(&project);

    project.write("may-finish", "");
    let next = project.run(&[]);
    next.assert_ok().assert_stderr_lacks("Directory not empty");
    next.json_run().assert_statuses(&[("slow", "ran")]);
    assert_eq!(project.read("results/o.txt"), "done\n");
    let alive = processes_in(project.path());
    assert!(alive.is_empty(), "processes survived the next run:\n{}", describe(&alive));
    assert_eq!(records_left(&project), 0, "no process records are left once nothing runs");
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

/// Starts a run of [`LINGERING`], waits until its node runs, SIGKILLs flow and waits until the
/// node's shell is gone: what is left are the shell's children, orphans still writing into
/// `.flow/tmp/`.
fn orphans_of_a_killed_run(project: &Project) -> Vec<i32> {
    let mut running = project.start(&["run", WORKFLOW]);
    running.wait_for_file("slow-started");
    running.kill();
    let killed = running.finish();
    assert_eq!(killed.code, None, "flow died of SIGKILL\n{}", killed.context());
    let shell: i32 = project.read("slow-started").trim().parse().expect("the shell's pid");
    let deadline = Instant::now() + PATIENCE;
    while is_alive(shell) {
        assert!(Instant::now() < deadline, "the node's shell outlived the controller by {PATIENCE:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let orphans = processes_in(project.path());
    assert!(!orphans.is_empty(), "the test needs orphans to clean up");
    orphans
}

fn records_left(project: &Project) -> usize {
    std::fs::read_dir(project.state().join("procs")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn gc_stops_a_killed_run_s_orphans_before_it_clears_tmp() {
    let project = Project::with_workflow(LINGERING);
    let _leftovers = Leftovers(project.path().to_path_buf());
    orphans_of_a_killed_run(&project);

    let gc = project.flow(&["gc"]);
    gc.assert_ok().assert_stdout_contains("stopped").assert_stdout_contains("earlier, killed run");
    let alive = processes_in(project.path());
    assert!(alive.is_empty(), "processes survived `flow gc`:\n{}", describe(&alive));
    let tmp = project.state().join("tmp");
    let in_tmp = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(in_tmp, 0, "tmp/ is cleared and nothing writes into it again\n{}", gc.context());
    assert_eq!(records_left(&project), 0, "the killed run's records are removed");
}

/// A node that starts a daemon on purpose (`setsid`) and ends normally once the daemon has
/// left the node's process group.
const DAEMON: &str = r#"
name: daemon
nodes:
  starter:
    uses: shell
    with:
      run: |
        setsid sh -c 'echo $$ > daemon.tmp; mv daemon.tmp daemon.pid; exec sleep 600' </dev/null >/dev/null 2>&1 &
        while [ ! -e daemon.pid ]; do sleep 0.01; done
        echo started > {out.o}
      outputs: { o: file }
"#;

#[test]
fn a_daemon_a_successful_run_left_on_purpose_survives_the_cleanup_after_a_killed_run() {
    let project = Project::with_workflow(LINGERING);
    project.write("daemon.yaml", DAEMON);
    let _leftovers = Leftovers(project.path().to_path_buf());
    project.flow(&["run", "daemon.yaml"]).assert_ok();
    let daemon: i32 = project.read("daemon.pid").trim().parse().expect("the daemon's pid");
    assert!(is_alive(daemon), "the daemon outlives the run that started it");
    // Start times count clock ticks (1/100 s): the killed run's controller starts later.
    std::thread::sleep(std::time::Duration::from_millis(50));
    orphans_of_a_killed_run(&project);

    project.write("may-finish", "");
    let next = project.run(&[]);
    next.assert_ok();
    next.json_run().assert_statuses(&[("slow", "ran")]);
    let alive: Vec<i32> = processes_in(project.path()).into_iter().filter(|&pid| pid != daemon).collect();
    assert!(alive.is_empty(), "the killed run's orphans survived the next run:\n{}", describe(&alive));
    assert!(is_alive(daemon), "the cleanup after the killed run killed a daemon of an earlier, successful run");
    assert_eq!(records_left(&project), 0, "no process records are left once nothing runs");
}

/// A cgroup-v1 freezer: its processes sit in uninterruptible sleep (state D), SIGKILL or not,
/// until thawed, like a process stuck on a hung network file system. `None` (the test is
/// skipped) where there is none or it cannot be made (not root).
struct Freezer(PathBuf);

impl Freezer {
    fn new(name: &str) -> Option<Freezer> {
        let path = Path::new("/sys/fs/cgroup/freezer").join(format!("flow-it-{}-{name}", std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => Some(Freezer(path)),
            Err(e) => {
                eprintln!("skipped: no cgroup-v1 freezer to hold a process in the kernel ({e})");
                None
            }
        }
    }

    fn freeze(&self, pid: i32) {
        std::fs::write(self.0.join("cgroup.procs"), pid.to_string()).expect("move the process into the freezer");
        std::fs::write(self.0.join("freezer.state"), "FROZEN").expect("freeze");
        let deadline = Instant::now() + PATIENCE;
        while std::fs::read_to_string(self.0.join("freezer.state")).unwrap_or_default().trim() != "FROZEN" {
            assert!(Instant::now() < deadline, "the freezer does not freeze");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Thaws the freezer `after` from now unless the returned sender is used (or dropped)
    /// first: a test of a hang fails rather than hangs.
    fn thaw_after(&self, after: std::time::Duration) -> std::sync::mpsc::Sender<()> {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let path = self.0.clone();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(after) {
                let _ = std::fs::write(path.join("freezer.state"), "THAWED");
            }
        });
        done
    }
}

impl Drop for Freezer {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::remove_dir(&self.0).is_err() && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn a_command_stuck_in_the_kernel_does_not_hang_a_cancelled_run() {
    let yaml = r#"
name: stuck
nodes:
  stuck:
    uses: shell
    with:
      run: |
        echo $$ > stuck.tmp; mv stuck.tmp stuck.pid
        sleep 600
        echo done > {out.o}
      outputs: { o: file }
"#;
    let Some(freezer) = Freezer::new("cancelled") else { return };
    let project = Project::with_workflow(yaml);
    let _leftovers = Leftovers(project.path().to_path_buf());
    let mut running = project.start(&["run", "--json", WORKFLOW]);
    running.wait_for_file("stuck.pid");
    let shell: i32 = project.read("stuck.pid").trim().parse().expect("the shell's pid");
    freezer.freeze(shell);
    let _thaw = freezer.thaw_after(std::time::Duration::from_secs(60));
    let started = Instant::now();
    // SAFETY: kill(2) on the pid of a child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(running.pid() as libc::pid_t, libc::SIGTERM) }, 0, "send SIGTERM");
    let out = running.finish();
    let took = started.elapsed();
    // Grace period (5 s), then SIGKILL and 5 s of patience: flow gives up on the shell.
    assert!(
        took < std::time::Duration::from_secs(30),
        "flow waited {took:?} for a command it cannot kill\n{}",
        out.context()
    );
    out.assert_code(143).assert_stderr_contains("stuck in the kernel");
}
