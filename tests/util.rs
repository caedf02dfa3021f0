//! The test harness: a fresh project directory per test, helpers to write workflows and data,
//! run `flow` in it and look at what it did.
//!
//! Every assertion about a command prints the command line, its exit status, stdout and stderr,
//! so a failure can be read without rerunning anything.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workflow file name most tests use.
pub const WORKFLOW: &str = "flow.yaml";

/// A throwaway project directory: workflow files, data files and (after a run) `.flow/`.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::Builder::new().prefix("flow-it-").tempdir().expect("create a temp dir");
        Project { dir }
    }

    /// A project whose `flow.yaml` holds `yaml`.
    pub fn with_workflow(yaml: &str) -> Project {
        let project = Project::new();
        project.write(WORKFLOW, yaml);
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// The state directory flow uses by default.
    pub fn state(&self) -> PathBuf {
        self.join(".flow")
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, rel: &str, contents: &str) {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    pub fn read(&self, rel: &str) -> String {
        let path = self.join(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The text of a stored file object, from its digest as a run record shows it.
    #[track_caller]
    pub fn read_object(&self, digest: &str) -> String {
        let path = self.state().join("cas").join(&digest[..2]).join(&digest[2..]);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.join(rel).exists()
    }

    /// `flow ARGS` with the project as working directory, ready to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flow"));
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("FLOW_STATE_DIR")
            .env_remove("FLOW_PLUGIN_PATH")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `flow ARGS` to completion.
    pub fn flow(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let output = self.command(args).output().expect("start the flow binary");
        Output {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// Starts `flow ARGS` in the background.
    pub fn start(&self, args: &[&str]) -> Running {
        let mut child = self.command(args).spawn().expect("start the flow binary");
        let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        Running {
            args: args.iter().map(|a| a.to_string()).collect(),
            dir: self.path().to_path_buf(),
            child,
            stderr,
            seen: String::new(),
            started: Instant::now(),
        }
    }

    /// `flow run --json flow.yaml EXTRA...`, asserting it succeeds.
    pub fn run_ok(&self, extra: &[&str]) -> RunJson {
        let out = self.run(extra);
        out.assert_code(0);
        out.json_run()
    }

    /// `flow run --json flow.yaml EXTRA...`, whatever its outcome.
    pub fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec!["run", "--json", WORKFLOW];
        args.extend_from_slice(extra);
        self.flow(&args)
    }

    /// Run records in `.flow/runs`.
    pub fn run_records(&self) -> Vec<PathBuf> {
        let mut records: Vec<PathBuf> = fs::read_dir(self.state().join("runs"))
            .map(|entries| {
                entries.flatten().map(|e| e.path()).filter(|p| p.extension() == Some("json".as_ref())).collect()
            })
            .unwrap_or_default();
        records.sort();
        records
    }
}

/// How long a background flow may take to reach a point a test waits for. Generous: only a
/// hang or a bug gets near it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A `flow` process running in the background. Its stderr is read as the test waits on it,
/// so tests can synchronise on what flow says rather than on sleeps.
pub struct Running {
    args: Vec<String>,
    dir: PathBuf,
    child: Child,
    stderr: BufReader<ChildStderr>,
    seen: String,
    started: Instant,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the file `rel` (in the project) exists.
    #[track_caller]
    pub fn wait_for_file(&mut self, rel: &str) {
        let path = self.dir.join(rel);
        let deadline = Instant::now() + PATIENCE;
        while !path.exists() {
            if let Ok(Some(_)) = self.child.try_wait() {
                let output = self.finish();
                panic!(
                    "flow exited before {rel} appeared
{}",
                    output.context()
                );
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let output = self.finish();
                panic!(
                    "{rel} did not appear within {PATIENCE:?}
{}",
                    output.context()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads stderr until a line containing `needle`, and returns that line; panics if flow
    /// exits first.
    #[track_caller]
    pub fn wait_for_stderr(&mut self, needle: &str) -> String {
        loop {
            let mut line = String::new();
            let read = self.stderr.read_line(&mut line).unwrap_or(0);
            self.seen.push_str(&line);
            if line.contains(needle) {
                return line;
            }
            if read == 0 {
                let output = self.finish();
                panic!(
                    "flow ended without printing {needle:?}
{}",
                    output.context()
                );
            }
        }
    }

    /// SIGKILL, like a crash or the OOM killer.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL flow");
    }

    /// Waits for the process and collects everything it printed.
    pub fn finish(&mut self) -> Output {
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        let _ = self.stderr.read_to_string(&mut self.seen);
        let status = self.child.wait().expect("wait for flow");
        Output {
            args: self.args.clone(),
            code: status.code(),
            stdout,
            stderr: std::mem::take(&mut self.seen),
            elapsed: self.started.elapsed(),
        }
    }
}

/// Waits until no process is left in process group `pgid`; kills the group and panics if one
/// outlives `PATIENCE`.
#[track_caller]
pub fn assert_group_ends(pgid: i32, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    // SAFETY: kill(2) with signal 0 only checks for existence.
    while unsafe { libc::kill(-pgid, 0) } == 0 {
        if Instant::now() > deadline {
            // SAFETY: kills the test's own leftover processes.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            panic!("{what} (process group {pgid}) is still running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one `flow` invocation did.
pub struct Output {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// Command line, status and both streams, for assertion messages.
    pub fn context(&self) -> String {
        format!(
            "$ flow {}\nexit status: {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "expected exit status {code}\n{}", self.context());
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Output {
        self.assert_code(0)
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Output {
        assert!(self.stdout.contains(needle), "stdout should contain {needle:?}\n{}", self.context());
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        assert!(self.stderr.contains(needle), "stderr should contain {needle:?}\n{}", self.context());
        self
    }

    #[track_caller]
    pub fn assert_stderr_lacks(&self, needle: &str) -> &Output {
        assert!(!self.stderr.contains(needle), "stderr should not contain {needle:?}\n{}", self.context());
        self
    }

    /// stdout parsed as the RunRecord `flow run --json` prints.
    #[track_caller]
    pub fn json_run(&self) -> RunJson {
        RunJson { value: self.json(), context: self.context() }
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.context()))
    }
}

/// A parsed run record.
pub struct RunJson {
    pub value: Value,
    context: String,
}

impl RunJson {
    /// The record of one node.
    #[track_caller]
    pub fn node(&self, name: &str) -> &Value {
        self.value["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["name"] == name))
            .unwrap_or_else(|| panic!("no node '{name}' in the run record\n{}", self.context))
    }

    /// node name -> status.
    pub fn statuses(&self) -> BTreeMap<String, String> {
        self.value["nodes"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .map(|n| {
                        (n["name"].as_str().unwrap_or("?").to_string(), n["status"].as_str().unwrap_or("?").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the status of every node, all at once so a failure shows the whole picture.
    #[track_caller]
    pub fn assert_statuses(&self, expected: &[(&str, &str)]) {
        let expected: BTreeMap<String, String> = expected.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
        assert_eq!(self.statuses(), expected, "node statuses differ\n{}", self.context);
    }

    /// Asserts every node has status `status`.
    #[track_caller]
    pub fn assert_all(&self, status: &str) {
        let statuses = self.statuses();
        assert!(!statuses.is_empty(), "no nodes in the run record\n{}", self.context);
        assert!(
            statuses.values().all(|s| s == status),
            "every node should be {status}: {statuses:?}\n{}",
            self.context
        );
    }

    /// The digest of a node's output port.
    #[track_caller]
    pub fn output(&self, node: &str, port: &str) -> String {
        self.node(node)["outputs"][port]
            .as_str()
            .unwrap_or_else(|| panic!("node '{node}' has no output '{port}' in the record\n{}", self.context))
            .to_string()
    }

    pub fn context(&self) -> &str {
        &self.context
    }
}

/// 1-based (line, column) of the only occurrence of `needle` in `text`: expected error
/// positions are computed from the workflow text itself, so they cannot drift from it.
#[track_caller]
pub fn locate(text: &str, needle: &str) -> (usize, usize) {
    let mut found = text.match_indices(needle);
    let (at, _) = found.next().unwrap_or_else(|| panic!("{needle:?} is not in the workflow"));
    assert!(found.next().is_none(), "{needle:?} occurs more than once in the workflow");
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).permissions().mode() & 0o777
}

/// Every path under `root` (not `root` itself), depth first.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Sets a file's modification time, keeping its content.
pub fn set_mtime(path: &Path, time: std::time::SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

pub fn mtime(path: &Path) -> std::time::SystemTime {
    fs::metadata(path).and_then(|m| m.modified()).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
}
