//! What a run would do, without running anything: which nodes the cache answers, which must
//! run and why, and which wait on an upstream node whose new output is not known yet.
//! `flow plan` prints this; `flow why` explains one node from it. The action manifests come
//! from the same function the scheduler uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use crate::digest::{Digest, Shape};
use crate::graph::Dag;
use crate::key::{ActionManifest, CACHE_FORMAT};
use crate::kind::WorkflowNode;
use crate::map::{self, Item, SheetContext};
use crate::select::Selection;
use crate::store::actions::{ManifestLog, OutputRecord};
use crate::store::cas::Cas;
use crate::store::runs::{NodeStatus, RunRecord};
use crate::store::{Store, StoreError, Verdict};
use crate::workflow::model::{MapSpec, Node, NodeId, Source, Workflow};

/// Digests of every `file:` input, each hashed once (through the stat cache).
pub type SourceDigests = HashMap<PathBuf, (Shape, Digest)>;

pub fn hash_sources(workflow: &Workflow, store: &mut Store) -> Result<SourceDigests, StoreError> {
    let mut digests = SourceDigests::new();
    for node in &workflow.nodes {
        for binding in &node.inputs {
            for source in &binding.sources {
                if let Source::File { path, .. } = source
                    && !digests.contains_key(path)
                {
                    let digest = store.stat.digest(path).map_err(|e| StoreError::Source {
                        path: path.clone(),
                        node: node.name.clone(),
                        source: e,
                    })?;
                    digests.insert(path.clone(), digest);
                }
            }
        }
    }
    Ok(digests)
}

/// The workflow's structure as kinds see it ([`crate::kind::NodeContext::workflow`]).
pub fn workflow_view(workflow: &Workflow) -> Vec<WorkflowNode> {
    workflow
        .nodes
        .iter()
        .map(|node| WorkflowNode {
            name: node.name.clone(),
            kind: node.kind.name().to_string(),
            upstream: node
                .upstream()
                .into_iter()
                .map(|id| workflow.node(id).name.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        })
        .collect()
}

/// For each node whose kind reads the workflow, a digest of the structure upstream of it (the
/// nodes it depends on, with their kinds and edges): part of its action key.
pub fn structure_digests(workflow: &Workflow) -> Vec<Option<Digest>> {
    let mut digests = vec![None; workflow.nodes.len()];
    if !workflow.nodes.iter().any(|n| n.kind.reads_workflow()) {
        return digests;
    }
    let view = workflow_view(workflow);
    for node in workflow.nodes.iter().filter(|n| n.kind.reads_workflow()) {
        let mut seen: BTreeSet<NodeId> = BTreeSet::from([node.id]);
        let mut stack = vec![node.id];
        while let Some(id) = stack.pop() {
            for up in workflow.node(id).upstream() {
                if seen.insert(up) {
                    stack.push(up);
                }
            }
        }
        let mut closure: Vec<&WorkflowNode> = seen.iter().map(|id| &view[id.index()]).collect();
        closure.sort_by(|a, b| a.name.cmp(&b.name));
        let mut hasher = blake3::Hasher::new();
        hasher.update(node.name.as_bytes());
        for entry in closure {
            for text in [&entry.name, &entry.kind].into_iter().chain(&entry.upstream) {
                hasher.update(&(text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            hasher.update(b"\n");
        }
        digests[node.id.index()] = Some(Digest(*hasher.finalize().as_bytes()));
    }
    digests
}

/// The manifest of a node given its inputs' digests; `None` if an upstream output is unknown.
pub fn manifest_for(
    node: &Node,
    sources: &SourceDigests,
    outputs: &[Option<Vec<OutputRecord>>],
    structure: &[Option<Digest>],
) -> Option<ActionManifest> {
    let mut inputs = BTreeMap::new();
    for binding in &node.inputs {
        let mut digests = Vec::with_capacity(binding.sources.len());
        for source in &binding.sources {
            let digest = match source {
                Source::File { path, .. } => sources.get(path)?.1,
                Source::Node { node: up, output } => outputs[up.index()].as_ref()?.get(*output)?.digest,
            };
            digests.push(digest.to_hex());
        }
        inputs.insert(binding.port.clone(), digests);
    }
    Some(ActionManifest {
        format: CACHE_FORMAT,
        kind: node.kind.name().to_string(),
        kind_version: node.kind.version().to_string(),
        code: node.kind.code_digest().map(|d| d.to_hex()),
        params: node.params.clone(),
        inputs,
        workflow: structure[node.id.index()].map(|d| d.to_hex()),
        map: node.map.as_ref().map(|m| m.port.clone()),
        item: None,
    })
}

/// The paths of the artifacts bound to each input port, once the upstream outputs are known.
pub fn input_paths(node: &Node, cas: &Cas, outputs: &[Option<Vec<OutputRecord>>]) -> BTreeMap<String, Vec<PathBuf>> {
    node.inputs
        .iter()
        .map(|binding| {
            let paths = binding
                .sources
                .iter()
                .filter_map(|source| match source {
                    Source::File { path, .. } => Some(path.clone()),
                    Source::Node { node: up, output } => {
                        outputs[up.index()].as_ref().map(|o| cas.object_path(&o[*output].digest))
                    }
                })
                .collect();
            (binding.port.clone(), paths)
        })
        .collect()
}

/// What the action cache holds for a key, after checking the objects it points at.
#[derive(Clone, Debug)]
pub enum Lookup {
    Hit(Vec<OutputRecord>),
    /// No record, or an output object is gone (gc, deleted by hand).
    Miss,
    /// An output object's content no longer matches its digest. In a writable store it was
    /// quarantined and the record dropped; either way the node must run again.
    Corrupt {
        port: String,
        moved_to: Option<PathBuf>,
    },
}

/// A cache hit only counts if every output object is still in the store (gc may have run) and
/// still holds the content its digest names (nothing is served unverified).
pub fn cached_outputs(store: &mut Store, key: &Digest) -> Result<Lookup, StoreError> {
    let Some(outputs) = store.actions.get(key).map(<[OutputRecord]>::to_vec) else { return Ok(Lookup::Miss) };
    for output in &outputs {
        match store.check(&output.digest)? {
            Verdict::Intact => {}
            Verdict::Missing => return Ok(Lookup::Miss),
            Verdict::Corrupt { moved_to } => return Ok(Lookup::Corrupt { port: output.port.clone(), moved_to }),
        }
    }
    Ok(Lookup::Hit(outputs))
}

#[derive(Clone, Debug)]
pub enum PlanStatus {
    /// The action cache has this exact action.
    Cached,
    /// Must run; the reasons say what differs from the last run.
    Run(Vec<String>),
    /// Waits for these upstream nodes; runs only if their new outputs differ (early cutoff).
    Pending(Vec<NodeId>),
}

#[derive(Clone, Debug)]
pub struct PlannedNode {
    pub id: NodeId,
    pub status: PlanStatus,
    pub key: Option<Digest>,
}

pub struct Plan {
    /// By node id; `None` for a node outside the selection planned for.
    slots: Vec<Option<PlannedNode>>,
    /// Topological order of the nodes planned for.
    pub order: Vec<NodeId>,
}

impl Plan {
    /// The node's plan, if the selection covered it.
    pub fn get(&self, id: NodeId) -> Option<&PlannedNode> {
        self.slots.get(id.index()).and_then(Option::as_ref)
    }
    pub fn nodes(&self) -> impl Iterator<Item = &PlannedNode> {
        self.slots.iter().flatten()
    }
    pub fn count_cached(&self) -> usize {
        self.nodes().filter(|n| matches!(n.status, PlanStatus::Cached)).count()
    }
    pub fn count_run(&self) -> usize {
        self.nodes().filter(|n| matches!(n.status, PlanStatus::Run(_))).count()
    }
    pub fn count_pending(&self) -> usize {
        self.nodes().filter(|n| matches!(n.status, PlanStatus::Pending(_))).count()
    }
}

/// Computes the plan. `previous` (the workflow's last run) lets reasons say what changed.
pub fn plan(
    workflow: &Workflow,
    store: &mut Store,
    previous: Option<&RunRecord>,
    selection: &Selection,
) -> Result<Plan, StoreError> {
    let sources = hash_sources(workflow, store)?;
    let structure = structure_digests(workflow);
    let dag = Dag::new(workflow);
    let order = dag.topological_order();
    let mut outputs: Vec<Option<Vec<OutputRecord>>> = vec![None; workflow.nodes.len()];
    let mut planned: Vec<Option<PlannedNode>> = vec![None; workflow.nodes.len()];
    let mut manifests: Vec<Option<ActionManifest>> = vec![None; workflow.nodes.len()];
    let mut item_notes: HashMap<NodeId, String> = HashMap::new();

    let order: Vec<NodeId> = order.into_iter().filter(|&id| selection.wants(id)).collect();
    for &id in &order {
        let node = workflow.node(id);
        let Some(manifest) = manifest_for(node, &sources, &outputs, &structure) else {
            let waiting: Vec<NodeId> = node.upstream().into_iter().filter(|up| outputs[up.index()].is_none()).collect();
            planned[id.index()] = Some(PlannedNode { id, status: PlanStatus::Pending(waiting), key: None });
            continue;
        };
        let key = manifest.key();
        // As in a run: a samplesheet node is only ever judged item by item.
        let whole_key = node.map.as_ref().is_none_or(|m| m.id_column.is_none());
        let forced = selection.forces(id);
        let lookup = if whole_key && !forced { cached_outputs(store, &key)? } else { Lookup::Miss };
        let status = match lookup {
            Lookup::Hit(found) => {
                outputs[id.index()] = Some(found);
                PlanStatus::Cached
            }
            Lookup::Miss if forced => PlanStatus::Run(vec!["forced (--force)".to_string()]),
            Lookup::Miss => PlanStatus::Run(Vec::new()),
            Lookup::Corrupt { port, .. } => PlanStatus::Run(vec![format!(
                "its cached output '{port}' is corrupt (changed on disk since it was stored); it will be rebuilt"
            )]),
        };
        let mut status = status;
        let mut key = key;
        if let (PlanStatus::Run(_), Some(spec)) = (&status, &node.map) {
            match plan_items(workflow, store, previous, node, spec, &manifest, &outputs, forced)? {
                ItemsPlan::Run(note) => {
                    item_notes.insert(id, note);
                }
                ItemsPlan::SheetCached(sheet_key, found) => {
                    outputs[id.index()] = Some(found);
                    status = PlanStatus::Cached;
                    key = sheet_key;
                }
            }
        }
        manifests[id.index()] = Some(manifest);
        planned[id.index()] = Some(PlannedNode { id, status, key: Some(key) });
    }

    explain_runs(workflow, store, previous, &mut planned, &manifests);
    for slot in planned.iter_mut().flatten() {
        if let (PlanStatus::Run(reasons), Some(note)) = (&mut slot.status, item_notes.remove(&slot.id)) {
            reasons.insert(0, note);
        }
    }
    Ok(Plan { slots: planned, order })
}

/// What a mapped node would do: run items (said in words), or, for a samplesheet node whose
/// rows are all cached, nothing: its sheet key answers it.
enum ItemsPlan {
    Run(String),
    SheetCached(Digest, Vec<OutputRecord>),
}

/// What a mapped node would run, item by item (every item when `forced`).
#[allow(clippy::too_many_arguments)]
fn plan_items(
    workflow: &Workflow,
    store: &mut Store,
    previous: Option<&RunRecord>,
    node: &Node,
    spec: &MapSpec,
    manifest: &ActionManifest,
    outputs: &[Option<Vec<OutputRecord>>],
    forced: bool,
) -> Result<ItemsPlan, StoreError> {
    let inputs = input_paths(node, &store.cas, outputs);
    let paths = inputs.get(&spec.port).cloned().unwrap_or_default();
    let digests = manifest.inputs.get(&spec.port).cloned().unwrap_or_default();
    let tmp_dir = store.state.tmp_dir();
    let sheet = SheetContext {
        cas: &store.cas,
        store_rows: false,
        tmp_dir: &tmp_dir,
        project_dir: &workflow.project_dir,
        state_dir: &store.state.root,
    };
    let items = match map::items(workflow, node, spec, &paths, &digests, &mut store.stat, &sheet) {
        Ok(items) => items,
        Err(error) => return Ok(ItemsPlan::Run(format!("its items cannot be listed: {error}"))),
    };
    let item_keys: Vec<Digest> = items.iter().map(|item| map::item_manifest(manifest, spec, item).key()).collect();
    let to_run: Vec<&Item> = items
        .iter()
        .zip(&item_keys)
        .filter(|(_, key)| forced || store.actions.get(key).is_none())
        .map(|(item, _)| item)
        .collect();
    if to_run.is_empty() && spec.id_column.is_some() {
        let sheet_key = map::sheet_key(&manifest.key(), &items, &item_keys);
        if let Lookup::Hit(found) = cached_outputs(store, &sheet_key)? {
            return Ok(ItemsPlan::SheetCached(sheet_key, found));
        }
    }
    // The ids gathered by the node's last run, to tell new items from changed ones.
    let before = map::previous_item_ids(previous, node, &store.cas);
    Ok(ItemsPlan::Run(map::describe_items(&to_run, items.len(), before.as_deref())))
}

/// Fills in the reasons of nodes that must run, by comparing with the manifest of the key each
/// node had in the previous run.
fn explain_runs(
    workflow: &Workflow,
    store: &Store,
    previous: Option<&RunRecord>,
    planned: &mut [Option<PlannedNode>],
    manifests: &[Option<ActionManifest>],
) {
    let previous_keys: HashMap<&str, Digest> = previous
        .map(|run| {
            run.nodes
                .iter()
                .filter(|n| matches!(n.status, NodeStatus::Ran | NodeStatus::Cached))
                .filter_map(|n| Some((n.name.as_str(), n.key.as_ref()?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let wanted: Vec<Digest> = planned
        .iter()
        .flatten()
        .filter(|p| matches!(p.status, PlanStatus::Run(_)))
        .filter_map(|p| previous_keys.get(workflow.node(p.id).name.as_str()).copied())
        .collect();
    let old_manifests =
        if wanted.is_empty() { HashMap::new() } else { ManifestLog::find(&store.state.manifests_path(), &wanted) };

    for slot in planned.iter_mut().flatten() {
        let PlanStatus::Run(reasons) = &mut slot.status else { continue };
        if !reasons.is_empty() {
            continue; // already explained (a corrupt object)
        }
        let node = workflow.node(slot.id);
        let Some(manifest) = &manifests[slot.id.index()] else { continue };
        let origin = |port: &str| describe_origin(workflow, node, port);
        match previous_keys.get(node.name.as_str()) {
            None => reasons.push("no earlier run of this node".to_string()),
            Some(old_key) => {
                match old_manifests.get(old_key).and_then(|j| serde_json::from_str::<ActionManifest>(j).ok()) {
                    Some(old) => {
                        let found = manifest.explain_change(&old, &origin);
                        if found.is_empty() {
                            reasons.push("its cached outputs are gone from the store (gc or deleted)".to_string());
                        } else {
                            reasons.extend(found);
                        }
                    }
                    None if store.actions.get(old_key).is_some() || Some(*old_key) == slot.key => {
                        reasons.push("its cached outputs are gone from the store (gc or deleted)".to_string())
                    }
                    None => reasons.push("its action changed, and the earlier manifest is not kept".to_string()),
                }
            }
        }
    }
}

/// "from node `cohort`" or "file data/x.csv".
pub fn describe_origin(workflow: &Workflow, node: &Node, port: &str) -> String {
    let Some(binding) = node.inputs.iter().find(|b| b.port == port) else { return String::new() };
    let parts: Vec<String> = binding
        .sources
        .iter()
        .map(|s| match s {
            Source::Node { node: up, output } => workflow.output_name(*up, *output),
            Source::File { written, .. } => format!("file {written}"),
        })
        .collect();
    parts.join(", ")
}
