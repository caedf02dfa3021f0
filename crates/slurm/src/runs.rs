//! The Slurm runs of a store, as their folders under `.flow/slurm/RUNID/` show them: which
//! ended normally (a `finished` mark), which left jobs behind, and what those jobs run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flow_engine::executor::JobSpec;

use crate::submit::Submitted;
use crate::{scancel, squeue};

/// A job an earlier, killed run submitted.
pub(crate) struct Earlier {
    pub(crate) dir: PathBuf,
    pub(crate) spec: JobSpec,
    pub(crate) task: Submitted,
}

/// The submitted jobs of the store's runs that did not end normally, by the action key they
/// run, and those runs' folders.
pub(crate) fn earlier_jobs(state_dir: &Path, own: &Path) -> (HashMap<String, Earlier>, Vec<PathBuf>) {
    let mut adoptable = HashMap::new();
    let mut runs = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir.join("slurm")) else { return (adoptable, runs) };
    for run in entries.flatten() {
        let dir = run.path();
        if !dir.is_dir() || dir.join(FINISHED).exists() || dir == own {
            continue;
        }
        for attempt in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let attempt = attempt.path();
            let Ok(spec) = JobSpec::read(&attempt.join("spec.json")) else { continue };
            let Ok(task) = std::fs::read_to_string(attempt.join("task")) else { continue };
            let mut lines = task.lines();
            let (Some(action), Some(id), Some(output)) = (spec.action.clone(), lines.next(), lines.next()) else {
                continue;
            };
            let task = Submitted { task: id.to_string(), output: PathBuf::from(output) };
            adoptable.insert(action, Earlier { dir: attempt, spec, task });
        }
        runs.push(dir);
    }
    (adoptable, runs)
}

/// Written into a run's jobs folder when its executor ends normally.
pub(crate) const FINISHED: &str = "finished";

/// Cancels the queued jobs of every run of the store at `state_dir` that has not ended
/// normally: at the start of a run (which holds the store lock, so these are what a killed
/// controller left, and would write into work dirs the run clears), and for `flow cancel`.
/// Returns how many were cancelled. Asks Slurm only when such a run exists, so a store that
/// never used Slurm costs one `read_dir`.
pub fn cancel_unfinished(state_dir: &Path) -> Result<usize, String> {
    let mut cancelled = 0;
    for (dir, jobs) in unfinished_runs(state_dir)? {
        if !jobs.is_empty() {
            let ids: Vec<&str> = jobs.iter().map(|job| job.id.as_str()).collect();
            scancel(&ids);
            cancelled += jobs.len();
        }
        let _ = std::fs::write(dir.join(FINISHED), "");
    }
    Ok(cancelled)
}

/// A job of this store that Slurm still has pending or running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedJob {
    /// `ARRAYID_INDEX`.
    pub id: String,
    pub state: String,
    /// The flow run that submitted it.
    pub run: String,
    /// `node` or `node[item]`, when its spec can be read.
    pub attempt: Option<String>,
}

/// The queued jobs of the store's runs that have not ended normally (running, or killed).
pub fn queued_jobs(state_dir: &Path) -> Result<Vec<QueuedJob>, String> {
    Ok(unfinished_runs(state_dir)?.into_iter().flat_map(|(_, jobs)| jobs).collect())
}

fn unfinished_runs(state_dir: &Path) -> Result<Vec<(PathBuf, Vec<QueuedJob>)>, String> {
    let runs = match std::fs::read_dir(state_dir.join("slurm")) {
        Ok(runs) => runs,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", state_dir.join("slurm").display())),
    };
    let mut found = Vec::new();
    for run in runs.flatten() {
        let dir = run.path();
        if !dir.is_dir() || dir.join(FINISHED).exists() {
            continue;
        }
        let run = run.file_name().to_string_lossy().into_owned();
        let listed = squeue(&format!("flow-{run}"), false)?;
        let jobs = listed
            .into_iter()
            .map(|(id, state)| QueuedJob { attempt: attempt_of(&dir, &id), id, state, run: run.clone() })
            .collect();
        found.push((dir, jobs));
    }
    Ok(found)
}

/// The node (and item) that task `id` of a run's jobs folder `dir` runs: its array's batch,
/// the line of its task list, and the spec there.
fn attempt_of(dir: &Path, id: &str) -> Option<String> {
    let (array, index) = id.split_once('_')?;
    let index: usize = index.parse().ok()?;
    let batches = std::fs::read_dir(dir.join("batches")).ok()?;
    let batch =
        batches.flatten().find(|b| std::fs::read_to_string(b.path().join("job")).is_ok_and(|j| j.trim() == array))?;
    let tasks = std::fs::read_to_string(batch.path().join("tasks")).ok()?;
    let attempt = PathBuf::from(tasks.lines().nth(index)?);
    let spec = JobSpec::read(&attempt.join("spec.json")).ok()?;
    Some(match spec.item {
        Some(item) => format!("{}[{}]", spec.node, item.id),
        None => spec.node,
    })
}
