//! A loaded, validated workflow: nodes indexed by dense ids, every reference resolved.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::Pos;
use crate::kind::{NodeKind, PortSpec};

/// Index of a node in `Workflow::nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where one artifact bound to an input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An output port of another node; `output` indexes that node's `outputs`.
    Node { node: NodeId, output: usize },
    /// A file or directory of the user's, hashed by content (`file:` in the workflow).
    /// `pattern` is the glob it matched, if it came from one (`file:scans/*.nii.gz`).
    File { path: PathBuf, written: String, pattern: Option<String> },
}

/// One input port of a node and what is bound to it.
#[derive(Clone, Debug)]
pub struct InputBinding {
    pub port: String,
    pub sources: Vec<Source>,
}

#[derive(Clone)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
    pub kind: Arc<dyn NodeKind>,
    /// Canonical params after the kind's `configure`.
    pub params: Value,
    /// Sorted by port name, so the action key does not depend on the order in the YAML.
    pub inputs: Vec<InputBinding>,
    pub outputs: Vec<PortSpec>,
    pub threads: u32,
    /// Bytes of memory the node says it needs, if it said.
    pub memory: Option<u64>,
    pub retries: u32,
    /// Set when the node runs once per item of one of its inputs ([`crate::map`]).
    pub map: Option<MapSpec>,
    /// Where a cluster executor runs it, and with what; never part of the action key.
    pub placement: Placement,
    pub pos: Pos,
}

/// A node's `resources` for cluster executors (docs/slurm.md): run it in the controller, or as
/// a job with these settings, which override the run's.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Placement {
    /// `resources.local: true`: in the controller, whatever the executor.
    pub local: bool,
    /// `resources.time`, as sbatch takes it (`30`, `2:00:00`, `1-00:00:00`).
    pub time: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// More scheduler options, passed as they are.
    pub options: Vec<String>,
}

/// A time limit as sbatch takes it (`M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`), in whole
/// minutes, rounded up; `None` if it is not one.
pub fn time_minutes(time: &str) -> Option<u64> {
    let (days, rest) = match time.split_once('-') {
        Some((days, rest)) => (days.parse::<u64>().ok()?, rest),
        None => (0, time),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let seconds = match (time.contains('-'), parts.as_slice()) {
        (false, [m]) => m * 60,
        (false, [m, s]) => m * 60 + s,
        (_, [h, m, s]) => h * 3600 + m * 60 + s,
        (true, [h]) => h * 3600,
        (true, [h, m]) => h * 3600 + m * 60,
        _ => return None,
    };
    Some((days * 86_400 + seconds).div_ceil(60))
}

/// How a node maps over one of its inputs: `map: PORT` or
/// `map: { over: PORT, on_error: skip, id: COLUMN }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    pub port: String,
    pub on_error: OnItemError,
    /// For a samplesheet (CSV/TSV, one item per row): the column holding each row's id.
    pub id_column: Option<String>,
}

/// What a failed item does to its mapped node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnItemError {
    /// Every item is tried, then the node fails naming each failed item.
    #[default]
    Fail,
    /// Failed items are left out of the gathered outputs and listed; the run goes on.
    Skip,
}

impl Node {
    /// Nodes this node reads from, each once.
    pub fn upstream(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self
            .inputs
            .iter()
            .flat_map(|b| b.sources.iter())
            .filter_map(|s| match s {
                Source::Node { node, .. } => Some(*node),
                Source::File { .. } => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Copy a node output to a human path after a successful run.
#[derive(Clone, Debug)]
pub struct Publish {
    pub node: NodeId,
    pub output: usize,
    pub dest: PathBuf,
    pub pos: Pos,
}

#[derive(Clone)]
pub struct Workflow {
    pub file: PathBuf,
    pub name: String,
    /// Relative `file:` inputs and publish paths resolve against this directory.
    pub project_dir: PathBuf,
    pub nodes: Vec<Node>,
    pub publish: Vec<Publish>,
    /// Samplesheet formats beyond CSV/TSV, from the registry the workflow was loaded with.
    pub sheet_formats: Vec<std::sync::Arc<dyn crate::map::SheetFormat>>,
    /// The workflow's `cluster:` section: the default executor and job settings of its runs.
    pub cluster: ClusterDefaults,
}

/// A workflow's `cluster:` section (docs/slurm.md): what `flow run` uses when the command line
/// does not say; a node's own `resources` override the job settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClusterDefaults {
    /// `local` or `slurm`.
    pub executor: Option<String>,
    /// Job settings for every node (`local` is unused here).
    pub jobs: Placement,
    /// Seconds between two status calls for the whole run.
    pub poll_seconds: Option<u64>,
}

/// The executors `cluster.executor` may name.
pub const EXECUTORS: &[&str] = &["local", "slurm"];

impl Workflow {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().find(|n| n.name == name).map(|n| n.id)
    }

    /// "node.port" for an output, as users write it.
    pub fn output_name(&self, node: NodeId, output: usize) -> String {
        let node = self.node(node);
        format!("{}.{}", node.name, node.outputs[output].name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_read_as_sbatch_reads_them() {
        assert_eq!(time_minutes("30"), Some(30));
        assert_eq!(time_minutes("1:30"), Some(2));
        assert_eq!(time_minutes("2:00:00"), Some(120));
        assert_eq!(time_minutes("1-00"), Some(1440));
        assert_eq!(time_minutes("1-2:30"), Some(1590));
        assert_eq!(time_minutes("1-00:00:01"), Some(1441));
        assert_eq!(time_minutes("soon"), None);
        assert_eq!(time_minutes("1:2:3:4"), None);
    }
}
