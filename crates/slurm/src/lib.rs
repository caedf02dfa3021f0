//! The Slurm executor: each node attempt (or map item) is a batch job that runs
//! `flow exec-job` on whichever node Slurm picks, on a shared filesystem (docs/slurm.md).
//!
//! - **Arrays.** Attempts that arrive together with the same options are one job array
//!   (`submit.rs`), chunked to the cluster's `MaxArraySize`; submissions are rate-limited.
//! - **One status call per interval for the whole run.** Every job of a run carries the run's
//!   name (`--job-name`), and one `squeue --states=all --name=RUN` per poll interval answers for
//!   all of them (`poll_loop`); an attempt never asks about its own job. Finished jobs stay
//!   listed for Slurm's `MinJobAge` (300 s by default), far longer than a poll interval.
//! - **The store has one writer.** A job writes only into its own attempt folder and leaves a
//!   [`JobOutcome`] file; the controller moves the outputs to the attempt's work dir, where the
//!   engine checks them and stores them as for a local attempt.
//! - **A failure says why:** out of memory, time limit, lost node, preemption or a cancel from
//!   outside, from the job's final state and Slurm's output; otherwise the node's own error
//!   from the outcome file. Retries after OOM or TIMEOUT ask for twice the memory or time.
//! - **Cancelling the run cancels its jobs** (`scancel`), and so does dropping the executor. A
//!   killed controller's jobs are adopted by the next Slurm run of the store, by action key.

mod runs;
mod state;
mod submit;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use flow_engine::digest::Digest;
use flow_engine::executor::{Executor, JobOutcome, JobSpec};
use flow_engine::kind::{NodeContext, NodeError};
use flow_engine::workflow::{Node, time_minutes};

use runs::{Earlier, FINISHED, earlier_jobs};
pub use runs::{QueuedJob, cancel_unfinished, queued_jobs};
pub use state::{JobState, Reason, failure_reason};
use submit::{Queue, Submitted, Worker};

/// How jobs are submitted and watched.
#[derive(Clone, Debug)]
pub struct Settings {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// `--time`, in any form sbatch takes (`30`, `2:00:00`, `1-00:00:00`).
    pub time: Option<String>,
    /// More `sbatch` options, passed as they are.
    pub extra: Vec<String>,
    /// Between two `squeue` calls; never below [`MIN_POLL`].
    pub poll_interval: Duration,
    /// Between two `sbatch` calls.
    pub submit_interval: Duration,
}

/// A floor on the poll interval: one call per few seconds is what slurmctld's operators ask of
/// workflow tools.
pub const MIN_POLL: Duration = Duration::from_secs(2);

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            partition: None,
            account: None,
            qos: None,
            time: None,
            extra: Vec::new(),
            poll_interval: Duration::from_secs(5),
            submit_interval: Duration::from_millis(100),
        }
    }
}

/// What every attempt of a run shares with the poller.
struct Shared {
    /// Job id to what the last poll said.
    jobs: Mutex<HashMap<String, JobState>>,
    polled: Condvar,
    stop: AtomicBool,
    last_submit: Mutex<Option<Instant>>,
}

impl Shared {
    fn jobs(&self) -> MutexGuard<'_, HashMap<String, JobState>> {
        self.jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs attempts as Slurm batch jobs; see the module docs.
pub struct Slurm {
    settings: Settings,
    jobs_dir: PathBuf,
    workflow: PathBuf,
    overrides: Vec<(String, String)>,
    next: AtomicUsize,
    shared: Arc<Shared>,
    queue: Arc<Queue>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Per node (and item): attempts that ran out of memory, and of time.
    raised: Mutex<HashMap<String, (u32, u32)>>,
    /// Per node: its jobs, in submission order.
    submitted: Mutex<HashMap<String, Vec<String>>>,
    /// Jobs of earlier runs that were killed, by the action key they run.
    adoptable: Mutex<HashMap<String, Earlier>>,
    /// Those runs' folders, marked finished when this executor ends.
    earlier_runs: Vec<PathBuf>,
}

/// How long a cancelled run waits to see its jobs end before it stops waiting.
const CANCEL_PATIENCE: Duration = Duration::from_secs(30);

/// What a retry after OUT_OF_MEMORY or TIMEOUT multiplies `--mem` or `--time` by.
pub const ESCALATION: u64 = 2;

fn attempt_key(ctx: &NodeContext<'_>) -> String {
    match ctx.item {
        Some(item) => format!("{}[{}]", ctx.node, item.id),
        None => ctx.node.to_string(),
    }
}

impl Slurm {
    /// An executor for one run: its jobs are named `run_name`, their specs, scripts and
    /// outcomes live under `jobs_dir` (on the shared filesystem), and they run the flow binary
    /// `flow` for the project and state directories given, on the workflow file `workflow`
    /// loaded with `overrides`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        settings: Settings,
        run_name: String,
        jobs_dir: PathBuf,
        workflow: PathBuf,
        overrides: Vec<(String, String)>,
        flow: PathBuf,
        project_dir: PathBuf,
        state_dir: PathBuf,
    ) -> Slurm {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(HashMap::new()),
            polled: Condvar::new(),
            stop: AtomicBool::new(false),
            last_submit: Mutex::new(None),
        });
        let queue = Arc::new(Queue::new());
        let interval = settings.poll_interval.max(MIN_POLL);
        let (adoptable, earlier_runs) = earlier_jobs(&state_dir, &jobs_dir);
        let mut threads = Vec::new();
        {
            let shared = shared.clone();
            // The earlier runs' jobs are watched by their names, in the same one call.
            let earlier_names =
                earlier_runs.iter().filter_map(|d| d.file_name()).map(|n| format!(",flow-{}", n.to_string_lossy()));
            let name = format!("{run_name}{}", earlier_names.collect::<String>());
            if let Ok(poller) =
                std::thread::Builder::new().name("slurm-poll".into()).spawn(move || poll_loop(&shared, &name, interval))
            {
                threads.push(poller);
            }
        }
        {
            let shared = shared.clone();
            let queue = queue.clone();
            let spacing = settings.submit_interval;
            let worker = Worker { flow, project_dir, state_dir, run_name, batches_dir: jobs_dir.join("batches") };
            let submitter = std::thread::Builder::new().name("slurm-submit".into()).spawn(move || {
                let max_array = submit::max_array_size();
                let mut serial = 0;
                while let Some(batch) = queue.next_batch(&|| shared.stop.load(Ordering::SeqCst)) {
                    let space = || {
                        let mut last = shared.last_submit.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(at) = *last {
                            std::thread::sleep(spacing.saturating_sub(at.elapsed()));
                        }
                        *last = Some(Instant::now());
                    };
                    submit::submit_batch(&worker, batch, max_array, serial, &space);
                    serial += 1;
                }
            });
            if let Ok(submitter) = submitter {
                threads.push(submitter);
            }
        }
        Slurm {
            settings,
            jobs_dir,
            workflow,
            overrides,
            next: AtomicUsize::new(0),
            shared,
            queue,
            threads,
            raised: Mutex::new(HashMap::new()),
            submitted: Mutex::new(HashMap::new()),
            adoptable: Mutex::new(adoptable),
            earlier_runs,
        }
    }

    /// The `sbatch` options of one attempt: attempts with the same ones share an array.
    /// A node's (or item's) earlier attempts that ran out of memory or time raise this
    /// attempt's `--mem` or `--time` by [`ESCALATION`] each.
    fn options(&self, node: &Node, ctx: &NodeContext<'_>) -> Vec<String> {
        let (memory_raises, time_raises) = self.raises(ctx);
        let mut args = vec![format!("--cpus-per-task={}", ctx.threads.max(1))];
        if let Some(bytes) = node.memory {
            let mebibytes = bytes.div_ceil(1024 * 1024).max(1);
            args.push(format!("--mem={}M", mebibytes.saturating_mul(ESCALATION.saturating_pow(memory_raises))));
        }
        let placement = &node.placement;
        // The node's own settings first, then the run's.
        let time = placement.time.as_ref().or(self.settings.time.as_ref()).map(|time| match time_minutes(time) {
            Some(minutes) if time_raises > 0 => {
                minutes.saturating_mul(ESCALATION.saturating_pow(time_raises)).to_string()
            }
            _ => time.clone(),
        });
        for (option, value) in [
            ("--partition", placement.partition.as_ref().or(self.settings.partition.as_ref())),
            ("--account", placement.account.as_ref().or(self.settings.account.as_ref())),
            ("--qos", placement.qos.as_ref().or(self.settings.qos.as_ref())),
            ("--time", time.as_ref()),
        ] {
            if let Some(value) = value {
                args.push(format!("{option}={value}"));
            }
        }
        args.extend(self.settings.extra.iter().cloned());
        args.extend(placement.options.iter().cloned());
        args
    }

    /// The node's or item's attempts so far that ran out of memory, and of time.
    fn raises(&self, ctx: &NodeContext<'_>) -> (u32, u32) {
        let raised = self.raised.lock().unwrap_or_else(|p| p.into_inner());
        raised.get(&attempt_key(ctx)).copied().unwrap_or((0, 0))
    }

    fn note_reason(&self, ctx: &NodeContext<'_>, reason: Reason) {
        let mut raised = self.raised.lock().unwrap_or_else(|p| p.into_inner());
        let entry = raised.entry(attempt_key(ctx)).or_insert((0, 0));
        match reason {
            Reason::OutOfMemory => entry.0 += 1,
            Reason::Timeout => entry.1 += 1,
            _ => {}
        }
    }

    /// Writes the attempt down and submits it. The job writes its outputs and scratch files
    /// into its own folder, not the run's work dir: a later run clears those, and may adopt
    /// the job if this controller dies.
    fn submit(
        &self,
        node: &Node,
        ctx: &NodeContext<'_>,
        key: String,
    ) -> Result<(PathBuf, JobSpec, Submitted), NodeError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.jobs_dir.join(n.to_string());
        let io = |what: &Path, e| NodeError::io(format!("create {}", what.display()), e);
        let (out, scratch) = (dir.join("out"), dir.join("scratch"));
        for folder in [&out, &scratch] {
            std::fs::create_dir_all(folder).map_err(|e| io(folder, e))?;
        }
        let mut spec = JobSpec::of(&self.workflow, &self.overrides, ctx);
        spec.action = Some(key);
        spec.scratch_dir = scratch;
        for (port, path) in spec.outputs.iter_mut() {
            let private = out.join(port);
            if path.is_dir() {
                std::fs::create_dir_all(&private).map_err(|e| io(&private, e))?;
            }
            *path = private;
        }
        let spec_path = dir.join("spec.json");
        spec.write(&spec_path).map_err(|e| NodeError::io(format!("write {}", spec_path.display()), e))?;
        let submitted = self.queue.submit(self.options(node, ctx), dir.clone())?;
        let task_path = dir.join("task");
        std::fs::write(&task_path, format!("{}\n{}\n", submitted.task, submitted.output.display()))
            .map_err(|e| NodeError::io(format!("write {}", task_path.display()), e))?;
        tracing::info!(job = %submitted.task, node = %node.name, "submitted to Slurm");
        Ok((dir, spec, submitted))
    }

    /// Blocks until the poller sees the job over; cancels it if the run is cancelled meanwhile.
    fn wait(&self, id: &str, ctx: &NodeContext<'_>) -> JobState {
        let mut jobs = self.shared.jobs();
        let mut cancelled: Option<Instant> = None;
        loop {
            match jobs.get(id) {
                Some(state) if state.is_over() => return state.clone(),
                _ => {}
            }
            match cancelled {
                None if ctx.cancel.is_cancelled() => {
                    cancelled = Some(Instant::now());
                    drop(jobs);
                    scancel(&[id]);
                    jobs = self.shared.jobs();
                    continue;
                }
                // slurmctld does not answer: the run must still end.
                Some(at) if at.elapsed() > CANCEL_PATIENCE => return JobState::Gone,
                _ => {}
            }
            jobs = self
                .shared
                .polled
                .wait_timeout(jobs, Duration::from_millis(200))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

impl Executor for Slurm {
    fn name(&self) -> &str {
        "slurm"
    }

    fn jobs(&self, node: &str) -> Vec<String> {
        self.submitted.lock().unwrap_or_else(|p| p.into_inner()).get(node).cloned().unwrap_or_default()
    }

    fn run(&self, node: &Node, ctx: &NodeContext<'_>, action: &Digest) -> Result<(), NodeError> {
        let key = action.to_hex();
        // A job of an earlier, killed run doing this very action: wait for it, do not resubmit.
        let adopted = self.adoptable.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        let fresh = adopted.is_none();
        let (dir, spec, task) = match adopted {
            Some(old) => {
                tracing::info!(job = %old.task.task, node = %node.name, "adopted a job of an earlier, killed run");
                let _ = append(
                    ctx.log_path,
                    format!("flow: adopted Slurm job {} of an earlier, killed run\n", old.task.task).as_bytes(),
                );
                (old.dir, old.spec, old.task)
            }
            None => self.submit(node, ctx, key)?,
        };
        let id = task.task.clone();
        self.submitted.lock().unwrap_or_else(|p| p.into_inner()).entry(node.name.clone()).or_default().push(id.clone());
        // A new job is listed by the next poll; an adopted one may be long gone from the queue.
        let first = if fresh { "SUBMITTED" } else { "ADOPTED" };
        self.shared.jobs().insert(id.clone(), JobState::Active(first.into()));
        self.shared.polled.notify_all();
        let outcome = dir.join("outcome.json");
        let state = self.wait(&id, ctx);
        self.shared.jobs().remove(&id);
        // An adopted job wrote into the log of the run that submitted it.
        if spec.log_path != ctx.log_path {
            let _ = append(ctx.log_path, &std::fs::read(&spec.log_path).unwrap_or_default());
        }
        let slurm_said = std::fs::read_to_string(&task.output).unwrap_or_default();
        // Slurm's own words about the job (a memory kill, a cancel) belong in the node's log.
        let _ = append(ctx.log_path, slurm_said.as_bytes());
        if ctx.cancel.is_cancelled() {
            return Err(NodeError::Cancelled);
        }
        let said = JobOutcome::read(&outcome).ok();
        let log = ctx.log_path.display();
        let result = match (&state, said) {
            (JobState::Finished(word), Some(said)) if word == "COMPLETED" => said.into_result(),
            (JobState::Gone, Some(said)) => said.into_result(),
            (JobState::Finished(word), said) => {
                match failure_reason(word, tail(&slurm_said)) {
                    Some(reason) => {
                        self.note_reason(ctx, reason);
                        Err(NodeError::Failed(format!("Slurm job {id} {}; log: {log}", reason.words())))
                    }
                    // The command's own failure, as the worker wrote it down.
                    None => match said {
                        Some(said) => said.into_result(),
                        None => Err(NodeError::Failed(format!(
                            "Slurm job {id} ended {word} before flow ran in it; log: {log}"
                        ))),
                    },
                }
            }
            (JobState::Gone, None) => Err(NodeError::Failed(format!(
                "Slurm job {id} left the queue without an outcome (purged, or the cluster lost it); log: {log}"
            ))),
            (JobState::Active(_), _) => unreachable!("wait returns finished jobs only"),
        };
        if result.is_ok() {
            // From the job's private folder to where the engine collects outputs.
            for (port, path) in ctx.outputs {
                let Some(written) = spec.outputs.get(port) else { continue };
                if written.exists() {
                    if path.is_dir() {
                        let _ = std::fs::remove_dir(path);
                    }
                    std::fs::rename(written, path)
                        .map_err(|e| NodeError::io(format!("move {} to {}", written.display(), path.display()), e))?;
                }
            }
        }
        let _ = std::fs::remove_dir_all(dir.join("out"));
        let _ = std::fs::remove_dir_all(dir.join("scratch"));
        result
    }
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    std::io::Write::write_all(&mut std::fs::OpenOptions::new().append(true).open(path)?, bytes)
}

impl Drop for Slurm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.polled.notify_all();
        let mut left: Vec<String> = self.shared.jobs().keys().cloned().collect();
        // Earlier runs' jobs this run had no use for (the workflow changed since).
        let unused = std::mem::take(&mut *self.adoptable.lock().unwrap_or_else(|p| p.into_inner()));
        left.extend(unused.into_values().map(|earlier| earlier.task.task));
        if !left.is_empty() {
            let ids: Vec<&str> = left.iter().map(String::as_str).collect();
            scancel(&ids);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // No job of this run, or of the earlier ones it took over, is left: a later run need
        // not look for them.
        for dir in self.earlier_runs.iter().chain([&self.jobs_dir]) {
            let _ = std::fs::write(dir.join(FINISHED), "");
        }
    }
}

/// One `squeue` per interval while the run has jobs; updates every job's state at once.
/// A job that ended more than `MinJobAge` ago (an adopted one, or after a slow poll) is no
/// longer listed: where the cluster keeps accounting, one `sacct` for all such jobs of the poll
/// gives their final state; where it keeps none, sacct's first refusal turns it off for the run.
fn poll_loop(shared: &Shared, run_name: &str, interval: Duration) {
    let mut last_poll: Option<Instant> = None;
    let mut accounting = true;
    while !shared.stop.load(Ordering::SeqCst) {
        {
            let jobs = shared.jobs();
            if jobs.is_empty() {
                let _ = shared.polled.wait_timeout(jobs, Duration::from_millis(200));
                continue;
            }
        }
        if let Some(at) = last_poll
            && at.elapsed() < interval
        {
            std::thread::sleep((interval - at.elapsed()).min(Duration::from_millis(200)));
            continue;
        }
        last_poll = Some(Instant::now());
        let listed: HashMap<String, String> = match squeue(run_name, true) {
            Ok(listed) => listed.into_iter().collect(),
            Err(problem) => {
                // slurmctld may be restarting: keep the states, look again next interval.
                tracing::warn!("squeue failed: {problem}");
                continue;
            }
        };
        // Jobs submitted after squeue answered are among them; sacct may not know them either.
        let unlisted: Vec<String> = shared.jobs().keys().filter(|id| !listed.contains_key(*id)).cloned().collect();
        let mut accounted = HashMap::new();
        if accounting && !unlisted.is_empty() {
            match sacct(&unlisted) {
                Ok(states) => accounted = states,
                Err(SacctError::NoAccounting(problem)) => {
                    tracing::info!("no job accounting to ask about jobs gone from squeue ({problem})");
                    accounting = false;
                }
                // slurmdbd may be restarting: ask again at the next poll.
                Err(SacctError::Failed(problem)) => tracing::warn!("sacct failed: {problem}"),
            }
        }
        let mut jobs = shared.jobs();
        for (id, state) in jobs.iter_mut() {
            *state = match listed.get(id).or_else(|| accounted.get(id)) {
                Some(word) => JobState::parse(word),
                None if matches!(state, JobState::Active(word) if word == "SUBMITTED") => continue,
                None => JobState::Gone,
            };
        }
        drop(jobs);
        shared.polled.notify_all();
    }
}

/// Why `sacct` gave no states.
pub(crate) enum SacctError {
    /// The cluster keeps no accounting ("Slurm accounting storage is disabled"), or there is no
    /// `sacct`: asking again will not help.
    NoAccounting(String),
    /// Anything else (slurmdbd restarting): worth asking again.
    Failed(String),
}

/// The states slurmdbd keeps for `ids`, one call for all.
pub(crate) fn sacct(ids: &[String]) -> Result<HashMap<String, String>, SacctError> {
    let output = Command::new("sacct")
        .args(["--noheader", "--parsable2", "--allocations", "--format=JobID,State"])
        .arg(format!("--jobs={}", ids.join(",")))
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SacctError::NoAccounting(format!("sacct: {e}")),
            _ => SacctError::Failed(format!("sacct: {e}")),
        })?;
    if !output.status.success() {
        let said = format!("sacct: {}", String::from_utf8_lossy(&output.stderr).trim());
        return Err(if said.contains("accounting storage is disabled") {
            SacctError::NoAccounting(said)
        } else {
            SacctError::Failed(said)
        });
    }
    Ok(parse_sacct(&String::from_utf8_lossy(&output.stdout)))
}

/// `JobID|State` lines; a pending array's line (`12_[3-9]`) names no single task and is left out.
fn parse_sacct(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('|'))
        .filter(|(id, _)| !id.contains('['))
        .map(|(id, state)| (id.trim().to_string(), state.trim().to_string()))
        .collect()
}

/// The jobs named in `names` (comma-separated) and their states: those pending or running, or
/// with `finished_too` also those that ended within the cluster's `MinJobAge`.
pub(crate) fn squeue(names: &str, finished_too: bool) -> Result<Vec<(String, String)>, String> {
    let mut command = Command::new("squeue");
    command.args(["--noheader", "--array", "--format=%i %T", &format!("--name={names}")]);
    if finished_too {
        command.arg("--states=all");
    }
    let output = command.output().map_err(|e| format!("squeue: {e}"))?;
    if !output.status.success() {
        return Err(format!("squeue: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().split_once(' ').map(|(id, state)| (id.to_string(), state.trim().to_string())))
        .collect())
}

pub(crate) fn scancel(ids: &[&str]) {
    match Command::new("scancel").args(ids).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => tracing::warn!("scancel {}: {}", ids.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => tracing::warn!("scancel {}: {e}", ids.join(" ")),
    }
}

/// The end of Slurm's output for a task, where its messages about a killed job are.
fn tail(text: &str) -> &str {
    let mut from = text.len().saturating_sub(8192);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sacct_lines_give_each_task_its_state() {
        let text = "41_0|COMPLETED\n41_1|CANCELLED by 0\n41_[2-9]|PENDING\n42|OUT_OF_MEMORY\n";
        let states = parse_sacct(text);
        assert_eq!(states.len(), 3);
        assert_eq!(JobState::parse(&states["41_1"]), JobState::Finished("CANCELLED".into()));
        assert_eq!(JobState::parse(&states["42"]), JobState::Finished("OUT_OF_MEMORY".into()));
        assert!(!states.keys().any(|id| id.contains('[')));
    }
}
