//! Where a node's attempt runs.
//!
//! The engine prepares each attempt (work dir, inputs, output paths, log), and afterwards
//! checks the inputs and moves the outputs into the store; an [`Executor`] only runs the kind's
//! code in between. [`Local`] runs it in this process. An executor that runs it elsewhere (a
//! batch job on a cluster) describes the attempt as a [`JobSpec`], a file on the shared
//! filesystem, and starts `flow exec-job SPEC` there, which calls [`run_job`] and leaves a
//! [`JobOutcome`] beside the spec; the store is only ever written by the controller.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cancel::CancelToken;
use crate::digest::Digest;
use crate::kind::{ItemContext, NodeContext, NodeError};
use crate::plan::workflow_view;
use crate::store::write_atomic;
use crate::workflow::{Node, Workflow};

/// Runs the kind of a node for one prepared attempt.
pub trait Executor: Send + Sync {
    /// A short name for messages and run records (`local`, `slurm`).
    fn name(&self) -> &str;

    /// Runs `node`'s kind with `ctx` and returns when the attempt is over, its outputs written
    /// to `ctx.outputs`. `action` is the attempt's action key: an executor may find a job of
    /// an earlier, killed run doing the very same action and wait for it instead.
    fn run(&self, node: &Node, ctx: &NodeContext<'_>, action: &Digest) -> Result<(), NodeError>;

    /// Ids of the jobs that ran `node`'s attempts (and items) in this run, for the run record;
    /// none for an executor without jobs.
    fn jobs(&self, node: &str) -> Vec<String> {
        let _ = node;
        Vec::new()
    }
}

/// In this process: the kind's code runs on the calling (blocking) thread.
pub struct Local;

impl Executor for Local {
    fn name(&self) -> &str {
        "local"
    }

    fn run(&self, node: &Node, ctx: &NodeContext<'_>, _action: &Digest) -> Result<(), NodeError> {
        node.kind.run(ctx)
    }
}

/// One attempt of a node, written down for a process on another machine: which workflow and
/// node, and every path of its [`NodeContext`]. Paths are absolute and must mean the same on
/// both sides (a shared filesystem).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The workflow file and the `-s` overrides it was loaded with: the worker loads the same
    /// workflow (from the controller's workflow cache when it can) to find the node.
    pub workflow: PathBuf,
    pub overrides: Vec<(String, String)>,
    pub project_dir: PathBuf,
    pub state_dir: PathBuf,
    pub node: String,
    pub item: Option<JobItem>,
    pub inputs: BTreeMap<String, Vec<PathBuf>>,
    pub outputs: BTreeMap<String, PathBuf>,
    /// The action key (hex) the attempt is for.
    #[serde(default)]
    pub action: Option<String>,
    pub threads: usize,
    pub scratch_dir: PathBuf,
    pub log_path: PathBuf,
}

/// [`ItemContext`] in a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

impl JobSpec {
    /// The spec of the attempt `ctx` describes, for a workflow loaded from `workflow` with
    /// `overrides`.
    pub fn of(workflow: &Path, overrides: &[(String, String)], ctx: &NodeContext<'_>) -> JobSpec {
        JobSpec {
            workflow: workflow.to_path_buf(),
            overrides: overrides.to_vec(),
            project_dir: ctx.project_dir.to_path_buf(),
            state_dir: ctx.state_dir.to_path_buf(),
            node: ctx.node.to_string(),
            item: ctx.item.map(|item| JobItem { id: item.id.clone(), fields: item.fields.clone() }),
            inputs: ctx.inputs.clone(),
            outputs: ctx.outputs.clone(),
            action: None,
            threads: ctx.threads,
            scratch_dir: ctx.scratch_dir.to_path_buf(),
            log_path: ctx.log_path.to_path_buf(),
        }
    }

    pub fn read(path: &Path) -> io::Result<JobSpec> {
        read_json(path)
    }

    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_json(path, self)
    }
}

/// Runs the attempt `spec` describes with the node of `workflow` it names: what `flow exec-job`
/// does on the machine the job landed on.
pub fn run_job(spec: &JobSpec, workflow: &Workflow, cancel: &CancelToken) -> Result<(), NodeError> {
    let id = workflow.find(&spec.node).ok_or_else(|| {
        NodeError::Failed(format!("the workflow {} has no node '{}'", spec.workflow.display(), spec.node))
    })?;
    let node = workflow.node(id);
    let view = if node.kind.reads_workflow() { workflow_view(workflow) } else { Vec::new() };
    let item = spec.item.as_ref().map(|item| ItemContext { id: item.id.clone(), fields: item.fields.clone() });
    let ctx = NodeContext {
        node: &node.name,
        params: &node.params,
        inputs: &spec.inputs,
        outputs: &spec.outputs,
        threads: spec.threads,
        project_dir: &spec.project_dir,
        scratch_dir: &spec.scratch_dir,
        state_dir: &spec.state_dir,
        log_path: &spec.log_path,
        cancel,
        workflow: &view,
        item: item.as_ref(),
    };
    node.kind.run(&ctx)
}

/// How a job's attempt ended, as the worker leaves it beside the spec for the controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "message", rename_all = "snake_case")]
pub enum JobOutcome {
    Done,
    Failed(String),
    BadInput(String),
    Cancelled,
    ChangedInput(String),
    Store(String),
}

impl JobOutcome {
    pub fn of(result: &Result<(), NodeError>) -> JobOutcome {
        match result {
            Ok(()) => JobOutcome::Done,
            Err(NodeError::Failed(m)) => JobOutcome::Failed(m.clone()),
            Err(NodeError::BadInput(m)) => JobOutcome::BadInput(m.clone()),
            Err(NodeError::Cancelled) => JobOutcome::Cancelled,
            Err(NodeError::ChangedInput(m)) => JobOutcome::ChangedInput(m.clone()),
            Err(NodeError::Store(m)) => JobOutcome::Store(m.clone()),
            Err(error @ NodeError::Io { .. }) => JobOutcome::Failed(error.to_string()),
        }
    }

    /// The attempt's result as the controller reports it.
    pub fn into_result(self) -> Result<(), NodeError> {
        match self {
            JobOutcome::Done => Ok(()),
            JobOutcome::Failed(m) => Err(NodeError::Failed(m)),
            JobOutcome::BadInput(m) => Err(NodeError::BadInput(m)),
            JobOutcome::Cancelled => Err(NodeError::Cancelled),
            JobOutcome::ChangedInput(m) => Err(NodeError::ChangedInput(m)),
            JobOutcome::Store(m) => Err(NodeError::Store(m)),
        }
    }

    pub fn read(path: &Path) -> io::Result<JobOutcome> {
        read_json(path)
    }

    pub fn write(&self, path: &Path) -> io::Result<()> {
        write_json(path, self)
    }
}

/// Specs and outcomes cross machines as files: written whole (another host's reader never
/// sees half of one), read as JSON.
fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &bytes)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<T> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_their_kind_and_message_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outcome.json");
        let results = [
            Ok(()),
            Err(NodeError::Failed("command exited with status 3".into())),
            Err(NodeError::BadInput("clinical.csv:3: case id twice".into())),
            Err(NodeError::Cancelled),
            Err(NodeError::ChangedInput("input 'x' was changed".into())),
            Err(NodeError::Store("disk full".into())),
        ];
        for result in results {
            let outcome = JobOutcome::of(&result);
            outcome.write(&path).unwrap();
            let back = JobOutcome::read(&path).unwrap().into_result();
            match (&result, &back) {
                (Ok(()), Ok(())) | (Err(NodeError::Cancelled), Err(NodeError::Cancelled)) => {}
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string());
                    assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b));
                }
                _ => panic!("{result:?} came back as {back:?}"),
            }
        }
        let io = Err(NodeError::io("write out", io::Error::other("no space")));
        assert_eq!(JobOutcome::of(&io), JobOutcome::Failed("write out: no space".into()));
    }
}
