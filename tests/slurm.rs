//! `--executor slurm` against a real slurmctld (`tests/slurm/cluster.sh start`, which `.ci/run`
//! does): results land in the same store and cache as local runs, status is one batched
//! `squeue` per interval, failures say why, and Ctrl-C leaves no job behind. Skipped, saying
//! so, where no cluster answers.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{PATIENCE, Project, WORKFLOW};

/// The cluster's configuration, if one answers; `None` (after saying why) skips the test.
fn cluster() -> Option<()> {
    let answers = Command::new("scontrol")
        .arg("ping")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).contains("UP"));
    if !answers {
        eprintln!(
            "SKIPPED: no Slurm controller answers `scontrol ping` (start one: tests/slurm/cluster.sh start, \
             then export the SLURM_CONF it prints)"
        );
        return None;
    }
    Some(())
}

/// A `PATH` that finds, first, `squeue` and `sbatch` wrappers that log their calls to
/// `calls.log` in `dir` and run the real commands: how often flow asks the controller.
fn counting_path(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls.log");
    for program in ["squeue", "sbatch"] {
        let real = String::from_utf8(
            Command::new("bash").args(["-c", &format!("command -v {program}")]).output().unwrap().stdout,
        )
        .unwrap();
        let script =
            format!("#!/bin/bash\necho {program} \"$*\" >> '{}'\nexec {} \"$@\"\n", log.display(), real.trim());
        write_executable(&bin.join(program), &script);
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

fn write_executable(path: &Path, script: &str) {
    std::fs::write(path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Waits until none of the project's jobs is in the queue, failing after `PATIENCE`.
fn until_no_jobs_are_left(project: &Project) {
    let deadline = Instant::now() + PATIENCE;
    while !jobs_named_after(project).is_empty() {
        assert!(Instant::now() < deadline, "jobs left in squeue: {:?}", jobs_named_after(project));
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn calls(dir: &Path, program: &str) -> usize {
    calls_of(dir, program).len()
}

/// The argument lines of every call of `program`.
fn calls_of(dir: &Path, program: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(program).map(str::to_string))
        // flow checks `sbatch --version` before a run: not a submission.
        .filter(|args| args.trim() != "--version")
        .collect()
}

fn jobs_named_after(project: &Project) -> Vec<String> {
    let out = Command::new("squeue").args(["--noheader", "--format=%i %j"]).output().unwrap();
    let runs = std::fs::read_dir(project.state().join("slurm")).map(|d| d.flatten().count()).unwrap_or(0);
    assert!(runs > 0, "no Slurm run folder in the state dir");
    let names: Vec<String> = std::fs::read_dir(project.state().join("slurm"))
        .unwrap()
        .flatten()
        .map(|e| format!("flow-{}", e.file_name().to_string_lossy()))
        .collect();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| names.iter().any(|name| line.ends_with(name.as_str())))
        .map(str::to_string)
        .collect()
}

const CHAIN: &str = r#"
name: on-slurm
nodes:
  upper:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "tr a-z A-Z < {in.data} > {out.o}", outputs: { o: file } }
  count:
    uses: shell
    in: { x: upper.o }
    with: { run: "wc -c < {in.x} > {out.o}", outputs: { o: file } }
  squares:
    uses: shell
    with: { run: "for i in 1 2 3; do echo $((i * i)); done > {out.o}", outputs: { o: file } }
"#;

#[test]
fn a_workflow_run_on_slurm_is_then_a_local_no_op_with_the_same_bytes() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(CHAIN);
    project.write("data.txt", "tumour volume\n");
    let path = counting_path(project.path());
    let started = Instant::now();
    let output = project
        .command(&["run", "--json", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2", "-j", "3"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let on_slurm: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // upper and squares start together and share an array; count follows.
    let sbatches = calls(project.path(), "sbatch");
    assert!((2..=3).contains(&sbatches), "{sbatches} sbatch calls");
    // One call per 2 s interval for the whole run, never one per job: three jobs, each
    // waiting for a poll, would make more if each asked about itself.
    let squeues = calls(project.path(), "squeue");
    assert!(squeues >= 1 && squeues as u64 <= seconds / 2 + 2, "{squeues} squeue calls in {seconds} s");

    for node in ["upper", "count", "squares"] {
        let record = on_slurm["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap();
        let jobs = record["jobs"].as_array().cloned().unwrap_or_default();
        let id = jobs.first().and_then(|j| j.as_str()).unwrap_or("");
        assert!(
            jobs.len() == 1
                && id.split_once('_').is_some_and(|(a, i)| a.parse::<u64>().is_ok() && i.parse::<u64>().is_ok()),
            "{record}"
        );
    }

    let local = project.run_ok(&[]);
    for node in ["upper", "count", "squares"] {
        assert_eq!(local.node(node)["status"], "cached", "{node} reran locally");
        assert!(local.node(node).get("jobs").is_none(), "a local run has no jobs");
        let digest =
            on_slurm["nodes"].as_array().unwrap().iter().find(|n| n["name"] == node).unwrap()["outputs"]["o"].clone();
        assert_eq!(serde_json::Value::String(local.output(node, "o")), digest);
    }
    assert_eq!(project.read_object(&local.output("count", "o")).trim(), "14");
    assert_eq!(project.read_object(&local.output("squares", "o")), "1\n4\n9\n");
}

/// 50 patients, one mapped item each, gathered into one table.
const COHORT: &str = r#"
name: cohort
nodes:
  cohort:
    uses: shell
    with:
      run: "mkdir -p {out.d}; for i in $(seq -w 1 50); do echo \"scan $i\" > {out.d}/P$i; done"
      outputs: { d: dir }
  feature:
    uses: shell
    map: scan
    in: { scan: cohort.d }
    with: { run: "printf '%s %s\\n' {item.id} \"$(wc -c < {in.scan})\" > {out.f}", outputs: { f: file } }
  table:
    uses: shell
    in: { f: feature.f }
    with: { run: "cat {in.f}/* > {out.t}", outputs: { t: file } }
"#;

#[test]
fn a_mapped_node_runs_as_a_job_array_and_is_then_a_no_op() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(COHORT);
    let path = counting_path(project.path());
    let output = project
        .command(&["run", "--json", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2", "-j", "50"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // cohort, the 50 items (one array, or two if the first items start apart), table.
    let sbatches = calls(project.path(), "sbatch");
    assert!((3..=5).contains(&sbatches), "{sbatches} sbatch calls for 52 attempts");
    let arrays: Vec<_> = std::fs::read_dir(project.state().join("slurm")).unwrap().flatten().collect();
    assert_eq!(arrays.len(), 1, "one run");
    let local = project.run_ok(&[]);
    assert_eq!(local.node("feature")["status"], "cached");
    let table = project.read_object(&local.output("table", "t"));
    assert_eq!(table.lines().count(), 50);
    assert_eq!(table.lines().next(), Some("P01 8"));

    // Nothing to do: no job at all.
    let before = calls(project.path(), "sbatch");
    let again = project
        .command(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(calls(project.path(), "sbatch"), before, "a no-op submits nothing");
}

#[test]
fn a_job_over_its_memory_is_reported_as_out_of_memory() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: hungry
nodes:
  hungry:
    uses: shell
    resources: { memory: 20M }
    with:
      run: "python3 -c 'import time; x = bytearray(400 * 1024 * 1024); time.sleep(4)'; echo > {out.o}"
      outputs: { o: file }
"#,
    );
    let out = project.flow(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"]);
    out.assert_code(1).assert_stderr_contains("ran out of memory (OUT_OF_MEMORY)");
}

#[test]
fn a_retry_after_out_of_memory_asks_for_twice_the_memory() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: hungry
nodes:
  hungry:
    uses: shell
    resources: { memory: 60M }
    retries: 1
    with:
      run: "python3 -c 'import time; x = bytearray(40 * 1024 * 1024); time.sleep(3)'; echo fed > {out.o}"
      outputs: { o: file }
"#,
    );
    let out = project.flow(&["run", "--json", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"]);
    out.assert_ok().assert_stderr_contains("ran out of memory (OUT_OF_MEMORY)");
    let run = out.json_run();
    assert_eq!(project.read_object(&run.output("hungry", "o")), "fed\n");
    // The job holds flow's worker, bash and python, about 100 MB: 60M is short, 120M is not.
    let batches = project.state().join("slurm");
    let run_dir = std::fs::read_dir(&batches).unwrap().flatten().next().unwrap().path();
    let attempts = std::fs::read_dir(run_dir.join("batches")).unwrap().count();
    assert_eq!(attempts, 2, "two attempts, each its own job");
}

#[test]
fn ctrl_c_cancels_the_run_s_jobs() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: long
nodes:
  long:
    uses: shell
    with: { run: "touch started; sleep 600; echo > {out.o}", outputs: { o: file } }
"#,
    );
    let mut running = project.start(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"]);
    running.wait_for_file("started");
    assert_eq!(jobs_named_after(&project).len(), 1, "the job runs");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(running.pid() as i32, libc::SIGINT) };
    let out = running.finish();
    out.assert_code(130);
    until_no_jobs_are_left(&project);
}

#[test]
fn the_next_run_cancels_the_jobs_of_a_killed_controller() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: killed
nodes:
  long:
    uses: shell
    with: { run: "touch started; if [ -e slow ]; then sleep 600; fi; echo > {out.o}", outputs: { o: file } }
"#,
    );
    project.write("slow", "");
    let mut running = project.start(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"]);
    running.wait_for_file("started");
    running.kill();
    running.finish();
    assert_eq!(jobs_named_after(&project).len(), 1, "the job outlives its controller");
    std::fs::remove_file(project.join("slow")).unwrap();
    project.flow(&["run", WORKFLOW]).assert_ok().assert_stderr_contains("cancelled 1 Slurm job(s)");
    until_no_jobs_are_left(&project);
}

/// Slurm enforces time limits in whole minutes and checks them about every 30 s: this test
/// takes one to two minutes.
#[test]
fn a_job_over_its_time_limit_is_reported_as_timeout() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: slow
nodes:
  slow:
    uses: shell
    with: { run: "sleep 600; echo > {out.o}", outputs: { o: file } }
"#,
    );
    let out = project.flow(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2", "--slurm-time", "1"]);
    out.assert_code(1).assert_stderr_contains("hit its time limit (TIMEOUT)");
}

#[test]
fn status_lists_the_queued_jobs_by_node_and_cancel_cancels_them() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: listed
nodes:
  waiting:
    uses: shell
    with: { run: "touch started; sleep 600; echo > {out.o}", outputs: { o: file } }
"#,
    );
    let mut running = project.start(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"]);
    running.wait_for_file("started");
    let status = project.flow(&["status"]);
    status.assert_ok().assert_stdout_contains("Slurm jobs in the queue (1;");
    let line = status.stdout.lines().find(|l| l.contains("RUNNING")).unwrap_or_default().to_string();
    assert!(line.contains("waiting") && line.contains("_0"), "{}", status.stdout);
    project.flow(&["cancel"]).assert_ok().assert_stdout_contains("cancelled 1 Slurm job(s)");
    // The controller sees its job cancelled by someone else and says so.
    let out = running.finish();
    out.assert_code(1).assert_stderr_contains("was cancelled outside flow (CANCELLED)");
    assert!(jobs_named_after(&project).is_empty());
}

#[test]
fn a_node_s_own_settings_reach_sbatch_and_a_local_node_stays_in_the_controller() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: placed
nodes:
  placed:
    uses: shell
    resources: { time: "0:05:00", cluster_options: [--comment=from-the-node] }
    with: { run: "echo placed > {out.o}", outputs: { o: file } }
  here:
    uses: shell
    resources: { local: true }
    in: { x: placed.o }
    with: { run: "cat {in.x} > {out.o}", outputs: { o: file } }
"#,
    );
    let path = counting_path(project.path());
    let output = project
        .command(&["run", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2", "--slurm-time", "30"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sbatches = calls_of(project.path(), "sbatch");
    assert_eq!(sbatches.len(), 1, "only 'placed' is a job: {sbatches:?}");
    assert!(sbatches[0].contains("--time=0:05:00") && !sbatches[0].contains("--time=30"), "{sbatches:?}");
    assert!(sbatches[0].contains("--comment=from-the-node"), "{sbatches:?}");
}

#[test]
fn a_time_limit_sbatch_cannot_read_is_a_load_error() {
    let project = Project::with_workflow(
        r#"
name: badtime
nodes:
  slow:
    uses: shell
    resources: { time: soon }
    with: { run: "echo > {out.o}", outputs: { o: file } }
"#,
    );
    project
        .flow(&["run", WORKFLOW])
        .assert_code(2)
        .assert_stderr_contains("flow.yaml:6:")
        .assert_stderr_contains("resources.time 'soon' is not a time limit");
    assert!(!project.state().exists(), "a load error leaves no store");
    let project = Project::with_workflow(
        "name: ok\nnodes:\n  a: { uses: shell, with: { run: \"echo > {out.o}\", outputs: { o: file } } }\n",
    );
    project
        .flow(&["run", WORKFLOW, "--executor", "slurm", "--slurm-time", "tomorrow"])
        .assert_code(2)
        .assert_stderr_contains("--slurm-time tomorrow: write minutes");
    assert!(!project.state().exists(), "a bad option leaves no store");
}

#[test]
fn after_a_killed_controller_the_next_slurm_run_adopts_its_running_job() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: adopted
nodes:
  slow:
    uses: shell
    in: { data: file:data.txt }
    with: { run: "touch started; sleep 6; tr a-z A-Z < {in.data} > {out.o}", outputs: { o: file } }
  after:
    uses: shell
    in: { x: slow.o }
    with: { run: "wc -c < {in.x} > {out.o}", outputs: { o: file } }
"#,
    );
    project.write("data.txt", "tumour volume\n");
    let path = counting_path(project.path());
    let args = ["run", "--json", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"];
    let mut first = project.command(&args).env("PATH", &path).spawn().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !project.join("started").exists() {
        assert!(Instant::now() < deadline, "the job did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(calls(project.path(), "sbatch"), 1);

    let output = project.command(&args).env("PATH", &path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // 'slow' was adopted, not run again; only 'after' is a new job.
    assert_eq!(calls(project.path(), "sbatch"), 2, "{:?}", calls_of(project.path(), "sbatch"));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let slow = run["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "slow").unwrap().clone();
    assert_eq!(slow["status"], "ran");
    let log = std::fs::read_to_string(slow["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("adopted Slurm job"), "{log}");

    // The same bytes as a local run from scratch.
    let local = Project::with_workflow(&std::fs::read_to_string(project.join(WORKFLOW)).unwrap());
    local.write("data.txt", "tumour volume\n");
    let fresh = local.run_ok(&[]);
    assert_eq!(slow["outputs"]["o"], fresh.output("slow", "o"));
    let after = run["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "after").unwrap().clone();
    assert_eq!(after["outputs"]["o"], fresh.output("after", "o"));
}

const CLUSTERED: &str = r#"
name: clustered
cluster: { executor: slurm, time: "0:07:00", cluster_options: [--comment=from-the-workflow] }
nodes:
  job:
    uses: shell
    with: { run: "echo job > {out.o}", outputs: { o: file } }
"#;

#[test]
fn the_workflow_s_cluster_section_picks_the_executor_and_its_settings() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(CLUSTERED);
    let path = counting_path(project.path());
    let output = project.command(&["run", WORKFLOW, "--slurm-poll", "2"]).env("PATH", &path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sbatches = calls_of(project.path(), "sbatch");
    assert_eq!(sbatches.len(), 1, "{sbatches:?}");
    assert!(
        sbatches[0].contains("--time=0:07:00") && sbatches[0].contains("--comment=from-the-workflow"),
        "{sbatches:?}"
    );

    // The command line wins: a local run of a changed node submits nothing.
    project.write(WORKFLOW, &CLUSTERED.replace("echo job", "echo local"));
    let output = project.command(&["run", WORKFLOW, "--executor", "local"]).env("PATH", &path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(calls_of(project.path(), "sbatch").len(), 1);
}

#[test]
fn a_misspelt_executor_is_a_load_error_with_a_suggestion() {
    let project = Project::with_workflow(&CLUSTERED.replace("executor: slurm", "executor: slrum"));
    project
        .flow(&["run", WORKFLOW])
        .assert_code(2)
        .assert_stderr_contains("flow.yaml:3:")
        .assert_stderr_contains("cluster.executor 'slrum' is not an executor")
        .assert_stderr_contains("slurm");
}

#[test]
fn the_project_s_config_file_wins_over_the_workflow_and_the_command_line_over_both() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(CLUSTERED.replace("executor: slurm, ", "").as_str());
    project.write(
        "flow.config.yaml",
        "cluster:\n  executor: slurm\n  time: '0:09:00'\n  poll: 2\n  cluster_options: [--comment=from-the-project]\n",
    );
    let path = counting_path(project.path());
    let output = project.command(&["run", WORKFLOW]).env("PATH", &path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sbatches = calls_of(project.path(), "sbatch");
    assert_eq!(sbatches.len(), 1, "the project's file chose Slurm: {sbatches:?}");
    // The project's time over the workflow's; both files' options, the project's last (it wins).
    let args = &sbatches[0];
    assert!(args.contains("--time=0:09:00") && !args.contains("--time=0:07:00"), "{args}");
    let (workflow, project_option) =
        (args.find("--comment=from-the-workflow").unwrap(), args.find("--comment=from-the-project").unwrap());
    assert!(workflow < project_option, "{args}");

    project.write(WORKFLOW, &CLUSTERED.replace("echo job", "echo on the command line"));
    let output = project.command(&["run", WORKFLOW, "--slurm-time", "0:11:00"]).env("PATH", &path).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let sbatches = calls_of(project.path(), "sbatch");
    assert_eq!(sbatches.len(), 2, "{sbatches:?}");
    assert!(sbatches[1].contains("--time=0:11:00"), "{sbatches:?}");
}

#[test]
fn a_mistake_in_the_project_s_config_file_is_a_load_error_naming_it() {
    let project = Project::with_workflow(CLUSTERED);
    project.write("flow.config.yaml", "cluster:\n  partiton: short\n");
    project
        .flow(&["run", WORKFLOW])
        .assert_code(2)
        .assert_stderr_contains("flow.config.yaml:2:")
        .assert_stderr_contains("partition");
    project.write("flow.config.yaml", "cluster:\n  poll: 1\n");
    project.flow(&["run", WORKFLOW]).assert_code(2).assert_stderr_contains("flow.config.yaml:2:9");
    assert!(!project.state().join("objects").exists(), "the store was touched");
}

/// A `PATH` on which `squeue` lists nothing, as if every job had ended longer than `MinJobAge`
/// ago, and `sacct` answers as slurmdbd would, from `scontrol`: the cluster of the tests keeps no
/// accounting. Both log their calls to `calls.log` in `dir`.
fn purged_queue_path(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls.log");
    let scripts = [
        ("squeue", format!("#!/bin/bash\necho squeue \"$*\" >> '{}'\n", log.display())),
        (
            "sacct",
            format!(
                r#"#!/bin/bash
echo sacct "$*" >> '{}'
for arg in "$@"; do
    case "$arg" in --jobs=*) ids=${{arg#--jobs=}} ;; esac
done
for id in ${{ids//,/ }}; do
    state=$(scontrol show job -o "$id" | grep -o 'JobState=[A-Z_]*' | head -1)
    [ -n "$state" ] && echo "$id|${{state#JobState=}}"
done
exit 0
"#,
                log.display()
            ),
        ),
    ];
    for (program, script) in scripts {
        write_executable(&bin.join(program), &script);
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn jobs_gone_from_squeue_get_their_final_state_from_sacct() {
    let Some(()) = cluster() else { return };
    let project = Project::with_workflow(
        r#"
name: accounted
nodes:
  fine:
    uses: shell
    with: { run: "echo fine > {out.o}", outputs: { o: file } }
  hungry:
    uses: shell
    resources: { memory: 20M }
    with:
      run: "python3 -c 'import time; x = bytearray(400 * 1024 * 1024); time.sleep(4)'; echo > {out.o}"
      outputs: { o: file }
"#,
    );
    let path = purged_queue_path(project.path());
    let out = project
        .command(&["run", "--json", "--keep-going", WORKFLOW, "--executor", "slurm", "--slurm-poll", "2"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Without sacct's word the memory kill would be "left the queue without an outcome".
    assert!(stderr.contains("ran out of memory (OUT_OF_MEMORY)"), "{stderr}");
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fine = run["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "fine").unwrap();
    assert_eq!(fine["status"], "ran", "{fine}");
    // One sacct per poll at most, all jobs of the poll at once.
    let polls = calls(project.path(), "squeue");
    let asked = calls_of(project.path(), "sacct");
    assert!(!asked.is_empty() && asked.len() <= polls, "{} sacct calls for {polls} polls", asked.len());
}
