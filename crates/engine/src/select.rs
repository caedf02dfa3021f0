//! Which nodes a run builds, and which it rebuilds although cached: `flow run W NODE...` builds
//! the named nodes and what they need; `--force NODE` reruns the node and everything downstream
//! of it (as `snakemake -R` does), whatever the cache says.

use crate::graph::Dag;
use crate::workflow::{NodeId, Workflow};

/// The nodes a run or plan covers. The default covers every node and forces none.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `None`: every node.
    wanted: Option<Vec<bool>>,
    /// Empty: no node.
    forced: Vec<bool>,
}

impl Selection {
    /// `targets` and what they read from, directly or not (all nodes when `targets` is empty);
    /// `force` and what reads from them, directly or not.
    pub fn new(workflow: &Workflow, targets: &[NodeId], force: &[NodeId]) -> Selection {
        let wanted = (!targets.is_empty()).then(|| upstream_of(workflow, targets));
        let forced = if force.is_empty() { Vec::new() } else { downstream_of(workflow, force) };
        Selection { wanted, forced }
    }

    pub fn wants(&self, id: NodeId) -> bool {
        self.wanted.as_ref().is_none_or(|wanted| wanted[id.index()])
    }

    pub fn forces(&self, id: NodeId) -> bool {
        self.forced.get(id.index()).copied().unwrap_or(false)
    }

    /// How many of the workflow's `total` nodes are covered.
    pub fn count(&self, total: usize) -> usize {
        self.wanted.as_ref().map_or(total, |wanted| wanted.iter().filter(|&&w| w).count())
    }
}

fn upstream_of(workflow: &Workflow, roots: &[NodeId]) -> Vec<bool> {
    let mut seen = vec![false; workflow.nodes.len()];
    let mut stack: Vec<NodeId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.index()], true) {
            continue;
        }
        stack.extend(workflow.node(id).upstream());
    }
    seen
}

fn downstream_of(workflow: &Workflow, roots: &[NodeId]) -> Vec<bool> {
    let dag = Dag::new(workflow);
    let mut seen = vec![false; workflow.nodes.len()];
    let mut stack: Vec<NodeId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.index()], true) {
            continue;
        }
        stack.extend(&dag.dependents[id.index()]);
    }
    seen
}
