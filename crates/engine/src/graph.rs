//! The workflow as a DAG (petgraph): cycle detection with every node of a cycle named,
//! dependency counts and dependents for the scheduler, and dot/mermaid renderings.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::workflow::model::{NodeId, Source, Workflow};

/// Node ids index petgraph nodes one to one, so no lookup table is needed either way.
pub fn to_petgraph(workflow: &Workflow) -> DiGraph<NodeId, ()> {
    let mut graph = DiGraph::with_capacity(workflow.nodes.len(), workflow.nodes.len());
    for node in &workflow.nodes {
        graph.add_node(node.id);
    }
    for node in &workflow.nodes {
        for up in node.upstream() {
            graph.add_edge(NodeIndex::new(up.index()), NodeIndex::new(node.id.index()), ());
        }
    }
    graph
}

/// Every cycle, each as the nodes along it in dependency order, starting at its
/// first-declared node.
pub fn find_cycles(workflow: &Workflow) -> Vec<Vec<NodeId>> {
    let graph = to_petgraph(workflow);
    let mut cycles = Vec::new();
    for component in tarjan_scc(&graph) {
        let self_loop = component.len() == 1 && graph.contains_edge(component[0], component[0]);
        if component.len() < 2 && !self_loop {
            continue;
        }
        let mut members: Vec<NodeId> = component.iter().map(|ix| graph[*ix]).collect();
        members.sort_unstable();
        cycles.push(order_cycle(workflow, &members));
    }
    cycles.sort();
    cycles
}

/// Walks a strongly connected component along edges from its smallest id, so the message
/// reads as a path: a -> b -> c -> a.
fn order_cycle(workflow: &Workflow, members: &[NodeId]) -> Vec<NodeId> {
    let mut path = vec![members[0]];
    let mut current = members[0];
    while path.len() < members.len() {
        let next = members
            .iter()
            .copied()
            .find(|candidate| !path.contains(candidate) && workflow.node(*candidate).upstream().contains(&current));
        match next {
            Some(n) => {
                path.push(n);
                current = n;
            }
            // A component that is not a single loop: list the rest in id order.
            None => {
                let rest: Vec<NodeId> = members.iter().copied().filter(|m| !path.contains(m)).collect();
                path.extend(rest);
                break;
            }
        }
    }
    path
}

/// Dependency structure for scheduling, O(V+E) to build.
pub struct Dag {
    /// For each node, the nodes reading its outputs (each once).
    pub dependents: Vec<Vec<NodeId>>,
    /// For each node, how many distinct upstream nodes it waits for.
    pub upstream_count: Vec<u32>,
}

impl Dag {
    pub fn new(workflow: &Workflow) -> Dag {
        let n = workflow.nodes.len();
        let mut dependents = vec![Vec::new(); n];
        let mut upstream_count = vec![0u32; n];
        for node in &workflow.nodes {
            let upstream = node.upstream();
            upstream_count[node.id.index()] = upstream.len() as u32;
            for up in upstream {
                dependents[up.index()].push(node.id);
            }
        }
        Dag { dependents, upstream_count }
    }

    /// Kahn's algorithm: a topological order (the workflow is acyclic after loading).
    pub fn topological_order(&self) -> Vec<NodeId> {
        let mut remaining = self.upstream_count.clone();
        let mut order: Vec<NodeId> =
            (0..remaining.len()).filter(|&i| remaining[i] == 0).map(|i| NodeId(i as u32)).collect();
        let mut next = 0;
        while next < order.len() {
            let id = order[next];
            next += 1;
            for &dep in &self.dependents[id.index()] {
                remaining[dep.index()] -= 1;
                if remaining[dep.index()] == 0 {
                    order.push(dep);
                }
            }
        }
        order
    }
}

/// Graphviz dot, with file inputs as boxes.
pub fn to_dot(workflow: &Workflow, label: &dyn Fn(NodeId) -> String) -> String {
    let mut out =
        format!("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", escape(&workflow.name));
    for node in &workflow.nodes {
        out.push_str(&format!("  \"{}\" [label=\"{}\"];\n", escape(&node.name), escape(&label(node.id))));
    }
    for node in &workflow.nodes {
        for binding in &node.inputs {
            for source in &binding.sources {
                match source {
                    Source::Node { node: up, output } => out.push_str(&format!(
                        "  \"{}\" -> \"{}\" [label=\"{} → {}\"];\n",
                        escape(&workflow.node(*up).name),
                        escape(&node.name),
                        escape(&workflow.node(*up).outputs[*output].name),
                        escape(&binding.port)
                    )),
                    Source::File { written, .. } => out.push_str(&format!(
                        "  \"file:{w}\" [shape=note, label=\"{w}\"];\n  \"file:{w}\" -> \"{}\" [label=\"{}\"];\n",
                        escape(&node.name),
                        escape(&binding.port),
                        w = escape(written)
                    )),
                }
            }
        }
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart text (renders on GitHub and in many docs tools).
pub fn to_mermaid(workflow: &Workflow, label: &dyn Fn(NodeId) -> String) -> String {
    let mut out = String::from("flowchart LR\n");
    for node in &workflow.nodes {
        out.push_str(&format!("  n{}[\"{}\"]\n", node.id.0, mermaid_text(&label(node.id))));
    }
    let mut file_ids: Vec<&str> = Vec::new();
    for node in &workflow.nodes {
        for binding in &node.inputs {
            for source in &binding.sources {
                match source {
                    Source::Node { node: up, output } => out.push_str(&format!(
                        "  n{} -->|\"{}\"| n{}\n",
                        up.0,
                        mermaid_text(&format!("{} → {}", workflow.node(*up).outputs[*output].name, binding.port)),
                        node.id.0
                    )),
                    Source::File { written, .. } => {
                        let index = match file_ids.iter().position(|w| w == written) {
                            Some(i) => i,
                            None => {
                                file_ids.push(written);
                                out.push_str(&format!("  f{}[/\"{}\"/]\n", file_ids.len() - 1, mermaid_text(written)));
                                file_ids.len() - 1
                            }
                        };
                        out.push_str(&format!("  f{index} -->|\"{}\"| n{}\n", mermaid_text(&binding.port), node.id.0));
                    }
                }
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', "<br/>")
}
