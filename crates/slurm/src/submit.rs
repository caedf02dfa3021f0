//! Submission: attempts that arrive together with the same `sbatch` options become one job
//! array (chunked to the cluster's `MaxArraySize`), so a mapped node of a thousand items is a
//! few `sbatch` calls, not a thousand. Calls are spaced by the settings' submit interval.

use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use flow_engine::kind::NodeError;

use flow_engine::process::shell_quote as quote;

/// One attempt waiting to be submitted: its folder (spec, outcome, Slurm's output) and the
/// options that decide which array it can join.
pub struct Request {
    pub options: Vec<String>,
    pub dir: PathBuf,
    pub reply: Sender<Result<Submitted, NodeError>>,
}

/// An attempt's task: `ARRAY_INDEX` as squeue lists it, and the file of Slurm's output for it.
pub struct Submitted {
    pub task: String,
    pub output: PathBuf,
}

/// What the job script of an array runs for each task.
pub struct Worker {
    pub flow: PathBuf,
    pub project_dir: PathBuf,
    pub state_dir: PathBuf,
    pub run_name: String,
    pub batches_dir: PathBuf,
}

pub struct Queue {
    waiting: Mutex<Vec<Request>>,
    arrived: Condvar,
}

/// How long a batch stays open after its latest request, and at most.
const GATHER_QUIET: Duration = Duration::from_millis(100);
const GATHER_MAX: Duration = Duration::from_secs(1);

impl Queue {
    pub fn new() -> Queue {
        Queue { waiting: Mutex::new(Vec::new()), arrived: Condvar::new() }
    }

    /// Queues an attempt and waits until it is submitted.
    pub fn submit(&self, options: Vec<String>, dir: PathBuf) -> Result<Submitted, NodeError> {
        let (reply, answer) = channel();
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).push(Request { options, dir, reply });
        self.arrived.notify_all();
        answer.recv().unwrap_or_else(|_| Err(NodeError::Failed("the Slurm submitter stopped".into())))
    }

    /// The next batch: every request that arrived until none came for a moment.
    pub fn next_batch(&self, stop: &dyn Fn() -> bool) -> Option<Vec<Request>> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        while waiting.is_empty() {
            if stop() {
                return None;
            }
            waiting = self
                .arrived
                .wait_timeout(waiting, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let opened = Instant::now();
        let mut seen = waiting.len();
        loop {
            drop(waiting);
            std::thread::sleep(GATHER_QUIET);
            waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            if waiting.len() == seen || opened.elapsed() >= GATHER_MAX {
                return Some(std::mem::take(&mut *waiting));
            }
            seen = waiting.len();
        }
    }
}

/// Submits `batch` as arrays, one per distinct option set and at most `max_array` tasks each,
/// and answers every request with its task id. `space` is called before each `sbatch`.
pub fn submit_batch(worker: &Worker, batch: Vec<Request>, max_array: usize, serial: usize, space: &dyn Fn()) {
    let mut groups: Vec<(Vec<String>, Vec<Request>)> = Vec::new();
    for request in batch {
        match groups.iter_mut().find(|(options, _)| *options == request.options) {
            Some((_, members)) => members.push(request),
            None => groups.push((request.options.clone(), vec![request])),
        }
    }
    for (n, (options, members)) in groups.into_iter().enumerate() {
        let mut members = members;
        let mut chunk = 0;
        while !members.is_empty() {
            let rest = members.split_off(members.len().min(max_array.max(1)));
            let name = format!("{serial}-{n}-{chunk}");
            space();
            let answer = submit_array(worker, &name, &options, &members);
            for (index, request) in members.iter().enumerate() {
                let submitted = answer.as_ref().map_err(clone_error).map(|id| Submitted {
                    task: format!("{id}_{index}"),
                    output: worker.batches_dir.join(&name).join(format!("{index}.out")),
                });
                let _ = request.reply.send(submitted);
            }
            members = rest;
            chunk += 1;
        }
    }
}

fn clone_error(error: &NodeError) -> NodeError {
    NodeError::Failed(error.to_string())
}

/// Writes the array's task list and script and submits it; the array's job id.
fn submit_array(worker: &Worker, name: &str, options: &[String], members: &[Request]) -> Result<String, NodeError> {
    let dir = worker.batches_dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| NodeError::io(format!("create {}", dir.display()), e))?;
    let tasks = dir.join("tasks");
    let list: String = members.iter().map(|r| format!("{}\n", r.dir.display())).collect();
    std::fs::write(&tasks, list).map_err(|e| NodeError::io(format!("write {}", tasks.display()), e))?;
    let script = dir.join("job.sh");
    let text = format!(
        "#!/bin/bash\n\
         # flow: the attempts listed in {tasks}, one per array task\n\
         task=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {tasks})\n\
         exec {flow} --project-dir {project} --state-dir {state} exec-job \"$task/spec.json\" --outcome \"$task/outcome.json\"\n",
        tasks = quote(&tasks.to_string_lossy()),
        flow = quote(&worker.flow.to_string_lossy()),
        project = quote(&worker.project_dir.to_string_lossy()),
        state = quote(&worker.state_dir.to_string_lossy()),
    );
    std::fs::write(&script, text).map_err(|e| NodeError::io(format!("write {}", script.display()), e))?;
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={}", worker.run_name),
        format!("--array=0-{}", members.len() - 1),
        // Slurm's own words about a task (a memory kill) land here; the controller adds them
        // to the node's log.
        format!("--output={}/%a.out", dir.display()),
        format!("--chdir={}", worker.project_dir.display()),
    ];
    args.extend(options.iter().cloned());
    args.push(script.display().to_string());
    let output = Command::new("sbatch")
        .args(&args)
        .output()
        .map_err(|e| NodeError::io("run sbatch (is Slurm installed and on PATH?)", e))?;
    if !output.status.success() {
        return Err(NodeError::Failed(format!(
            "sbatch refused the job: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let text = String::from_utf8_lossy(&output.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NodeError::Failed(format!("sbatch answered '{}' instead of a job id", text.trim())));
    }
    // Lets `flow status` name the node of each task it finds in the queue.
    let _ = std::fs::write(dir.join("job"), &id);
    tracing::info!(job = %id, tasks = members.len(), "submitted a Slurm array");
    Ok(id)
}

/// The cluster's `MaxArraySize` (task indices must stay below it); Slurm's default if
/// `scontrol` does not say.
pub fn max_array_size() -> usize {
    let Ok(output) = Command::new("scontrol").args(["show", "config"]).output() else { return 1001 };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "MaxArraySize").then(|| value.trim().parse().ok()).flatten()
        })
        .unwrap_or(1001)
}
