//! The scheduler: runs a workflow's nodes in dependency order, in parallel, under a thread and
//! memory budget, answering from the action cache where it can.
//!
//! Node states (after n2's build states):
//!
//! ```text
//! Waiting --(all upstream done)--> Ready --(key in cache)--> Cached --+
//!                                    |                                +--> dependents may become Ready
//!                                    +--(miss)--> Queued --(permits)--> Running --> Ran
//!                                                                         |
//!                                                              Failed / Cancelled --> dependents Skipped
//! ```
//!
//! The key of a Ready node is computed from its inputs' *content* digests, so a node that reran
//! with byte-identical output leaves its dependents' keys unchanged: they are Cached (early
//! cutoff). Cache hits are resolved inline on the scheduler loop, without spawning a task, which
//! keeps a no-op run O(nodes). Misses run on tokio's blocking pool; the scheduler loop stays on
//! the async side and only does bookkeeping.
//!
//! A node's outputs enter the CAS before its action record is appended, so a kill at any point
//! leaves either no record (the node reruns) or a record whose objects exist.

use std::collections::BTreeMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cancel::CancelToken;
use crate::digest::{Digest, Shape};
use crate::executor::{Executor, Local};
use crate::graph::Dag;
use crate::key::ActionManifest;
use crate::kind::{ItemContext, NodeContext, NodeError, WorkflowNode};
use crate::map::{self, ItemCounts, ItemResult, Outcome as MapOutcome, SheetContext, Tally};
use crate::plan::{Lookup, cached_outputs, hash_sources, input_paths, manifest_for, structure_digests, workflow_view};
use crate::select::Selection;
use crate::store::actions::{ManifestLog, OutputRecord};
use crate::store::cas::Cas;
use crate::store::publish::{PublishError, PublishRecord, Target};
use crate::store::runs::{NodeRecord, NodeStatus, RunRecord, now_utc};
use crate::store::stamps::look_of;
use crate::store::{Store, StoreError, Verdict, create_private_dir, create_private_file};
use crate::workdir::{WorkDir, WorkDirs};
use crate::workflow::model::{Node, NodeId, Workflow};

/// What the scheduler tells the display.
#[derive(Clone, Debug)]
pub enum Event {
    /// Source files hashed; scheduling starts.
    Planned {
        total: usize,
    },
    Started {
        node: String,
    },
    Retrying {
        node: String,
        attempt: u32,
        error: String,
    },
    Finished {
        node: String,
        status: NodeStatus,
        seconds: f64,
    },
    /// A mapped node listed its items: `to_run` of `total` are not cached.
    Mapped {
        node: String,
        total: usize,
        to_run: usize,
        /// In words: "1 of 146 items to run: R01-164 is new".
        detail: String,
    },
    /// One item of a mapped node ran (or failed); `item` is its id.
    ItemFinished {
        node: String,
        item: String,
        status: NodeStatus,
        seconds: f64,
    },
    /// A node failed and the run is draining: these many are still running.
    Draining {
        running: usize,
    },
    Cancelling,
    /// Something the user should know that does not stop the run (a reduced resource request,
    /// a repaired store object, damaged state lines skipped).
    Warning {
        message: String,
    },
}

pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {
    fn event(&self, _: &Event) {}
}

pub struct RunOptions {
    pub run_id: String,
    /// Thread budget (`-j`).
    pub jobs: usize,
    /// Memory budget in bytes for nodes that declare `resources.memory`.
    pub memory_budget: u64,
    pub keep_going: bool,
    /// Replace publish destinations flow did not write (`--overwrite`).
    pub overwrite: bool,
    pub cancel: CancelToken,
    pub observer: Arc<dyn Observer>,
    /// The workflow's previous run, if any: mapped nodes say which items are new or changed.
    pub previous: Option<Arc<RunRecord>>,
    /// Where node attempts run ([`crate::executor::Local`] unless a cluster is asked for).
    pub executor: Arc<dyn Executor>,
    /// The nodes to build and those to rebuild although cached (default: all, none).
    pub selection: Selection,
}

/// A node that failed, with where to look.
#[derive(Clone, Debug)]
pub struct Failure {
    pub node: String,
    pub error: String,
    pub log: PathBuf,
    /// The node rejected its input data ([`NodeError::BadInput`]), as opposed to failing.
    pub bad_input: bool,
    /// The store failed to take the node's outputs ([`NodeError::Store`]).
    pub store: bool,
}

pub struct RunOutcome {
    pub record: RunRecord,
    pub failures: Vec<Failure>,
    pub cancelled: bool,
    /// The signal that cancelled the run (SIGINT or SIGTERM), if one did.
    pub signal: Option<i32>,
    /// Publishing refused a destination (it holds what flow did not write) or failed.
    pub publish_error: Option<StoreError>,
    /// Files hashed by reading (the rest came from the stat cache).
    pub files_read: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store was opened read-only; `flow run` must hold the store lock")]
    ReadOnly,
}

impl RunError {
    /// Whether the user's files or choices are at fault (exit 2), rather than the store.
    pub fn is_user_error(&self) -> bool {
        match self {
            RunError::Store(e) => e.is_user_error(),
            RunError::ReadOnly => false,
        }
    }
}

/// What a finished node task reports back to the loop.
struct Done {
    id: NodeId,
    /// For one item of a mapped node: its index in the node's [`Tally`].
    item: Option<usize>,
    result: Result<Vec<OutputRecord>, NodeError>,
    seconds: f64,
    attempts: u32,
    manifest: ActionManifest,
    key: Digest,
    /// A mapped node's item counts, once gathered.
    items: Option<ItemCounts>,
    /// Whether the result may answer this key in later runs (not when items were skipped:
    /// they are tried again next time).
    cacheable: bool,
}

/// A mapped node whose items are running.
struct Mapping {
    tally: Tally,
    manifest: ActionManifest,
    key: Digest,
    started: Instant,
    /// Items still to start, with their keys. Jobs are made a few at a time: 100,000 queued
    /// jobs, each with its manifest and inputs, made the controller large, and every command's
    /// fork copies the controller's page tables.
    pending: std::collections::VecDeque<(usize, Digest)>,
    /// The node's inputs; each item's job replaces the mapped port with its item.
    inputs: BTreeMap<String, Vec<PathBuf>>,
    budget: Budget,
}

/// How many item jobs of one mapped node wait in the scheduler at most (beyond twice `-j`).
const ITEMS_QUEUED: usize = 16;

impl Mapping {
    /// Starts up to `count` more of the items still to run.
    fn launch(&mut self, count: usize, node: &Node, shared: &JobShared, logs_dir: &Path, tasks: &mut JoinSet<Done>) {
        let Some(spec) = &node.map else { return };
        for _ in 0..count {
            let Some((index, key)) = self.pending.pop_front() else { break };
            let item = &self.tally.items[index];
            let mut inputs = self.inputs.clone();
            inputs.insert(spec.port.clone(), vec![item.path.clone()]);
            let job = shared.job(
                node.id,
                Some((index, ItemContext { id: item.id.clone(), fields: item.fields.clone() })),
                inputs,
                key,
                map::item_manifest(&self.manifest, spec, item),
                logs_dir.join(format!("{}[{}].log", node.name, item.id)),
            );
            spawn_job(tasks, job, self.budget.clone());
        }
    }
}

/// Runs the workflow. The caller holds the store lock and opened `store` with it.
pub async fn run(workflow: Arc<Workflow>, store: &mut Store, options: RunOptions) -> Result<RunOutcome, RunError> {
    if !store.writable() {
        return Err(RunError::ReadOnly);
    }
    let started_at = now_utc();
    let clock = Instant::now();
    let state = store.state.clone();
    // Refused before anything runs: a destination in the way would waste the whole run.
    let mut published = PublishRecord::load(&state.published_path(), &workflow.project_dir);
    if !options.overwrite {
        for target in &workflow.publish {
            published.check_ours(&target.dest, &mut store.stat, &store.cas).map_err(StoreError::from)?;
        }
    }
    let mut warnings: Vec<String> = store.damage_report();
    for warning in &warnings {
        tracing::warn!("{warning}");
        options.observer.event(&Event::Warning { message: warning.clone() });
    }
    state.create().map_err(|e| StoreError::io(&state.root, e))?;
    // Commands a crashed earlier run left running would write into tmp/ as it is cleared.
    let orphans =
        crate::process::kill_orphans(&state).map_err(|e| StoreError::io(&crate::process::procs_dir(&state.root), e))?;
    if orphans > 0 {
        warnings.push(format!("stopped {orphans} process(es) an earlier, killed run of this store left running"));
    }
    // The run's commands share one record of their controller in procs/, not one file each.
    let _procs_record = crate::process::hold_record(&state.root);
    state.clear_tmp().map_err(|e| StoreError::io(&state.tmp_dir(), e))?;
    let logs_dir = state.logs_dir().join(&options.run_id);
    create_private_dir(&logs_dir).map_err(|e| StoreError::io(&logs_dir, e))?;
    let manifests_path = state.manifests_path();
    let mut manifest_log = ManifestLog::open(&manifests_path).map_err(|e| StoreError::io(&manifests_path, e))?;

    let reads_before = store.stat.files_read;
    let sources = hash_sources(&workflow, store)?;
    let structure = structure_digests(&workflow);
    // Only nodes that read the workflow's shape (the report) need it; a no-op run of a large
    // workflow should not pay for building it.
    let view = Arc::new(if workflow.nodes.iter().any(|n| n.kind.reads_workflow()) {
        workflow_view(&workflow)
    } else {
        Vec::new()
    });
    let n = workflow.nodes.len();
    let selection = &options.selection;
    options.observer.event(&Event::Planned { total: selection.count(n) });

    let dag = Dag::new(&workflow);
    let mut remaining = dag.upstream_count.clone();
    let mut outputs: Vec<Option<Vec<OutputRecord>>> = vec![None; n];
    let mut records: Vec<Option<NodeRecord>> = vec![None; n];
    let mut ready: Vec<NodeId> = (0..n).filter(|&i| remaining[i] == 0).map(|i| NodeId(i as u32)).collect();
    ready.reverse(); // popped from the back: declaration order first

    let jobs = options.jobs.max(1);
    let mut repairs: BTreeMap<usize, String> = BTreeMap::new();
    let threads = Arc::new(Semaphore::new(jobs));
    let memory_mb = (options.memory_budget / (1024 * 1024)).clamp(1, u32::MAX as u64) as u32;
    let memory = Arc::new(Semaphore::new(memory_mb as usize));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut failures = Vec::new();
    let mut cancelled = false;
    let mut signal: Option<i32> = None;
    let mut failed = false;
    // `kill PID` cancels like Ctrl-C: children run in their own process groups and would
    // otherwise outlive flow.
    let mut signals = Signals::new();
    let shared = JobShared {
        workflow: workflow.clone(),
        cas: store.cas.clone(),
        work_dirs: Arc::new(WorkDirs::new(state.tmp_dir(), &options.run_id)),
        cancel: options.cancel.clone(),
        observer: options.observer.clone(),
        stop: stop.clone(),
        keep_going: options.keep_going,
        state_dir: state.root.clone(),
        view: view.clone(),
        executor: options.executor.clone(),
    };
    let mut mappings: BTreeMap<usize, Mapping> = BTreeMap::new();
    // Results known without waiting on a task (a mapped node whose items were all cached).
    let mut settled: Vec<Done> = Vec::new();

    loop {
        while let Some(id) = ready.pop() {
            // Outside the selection: it does not run, nor then do the nodes after it, none of
            // which is selected (a selected node's upstream nodes all are).
            if !selection.wants(id) {
                continue;
            }
            let node = workflow.node(id);
            if failed && !options.keep_going || cancelled {
                records[id.index()] = Some(skipped(node));
                continue;
            }
            let Some(manifest) = manifest_for(node, &sources, &outputs, &structure) else {
                // An upstream output is missing: that node failed or was skipped.
                records[id.index()] = Some(skipped(node));
                continue;
            };
            let key = manifest.key();
            let mut repaired = None;
            // A samplesheet's rows name files the node's key does not cover: only the items'
            // keys can say what is cached.
            let whole_key = node.map.as_ref().is_none_or(|m| m.id_column.is_none());
            let forced = selection.forces(id);
            let lookup = if whole_key && !forced { cached_outputs(store, &key)? } else { Lookup::Miss };
            match lookup {
                Lookup::Hit(found) => {
                    let record = node_record(node, NodeStatus::Cached, 0.0, Some(&key), &found);
                    settle_cached(node, record, found, &mut records, &mut outputs, options.observer.as_ref());
                    release(&dag, id, &mut remaining, &mut ready);
                    continue;
                }
                Lookup::Miss => {}
                Lookup::Corrupt { port, moved_to } => {
                    let place = moved_to.map(|p| format!("; the bad copy is in {}", p.display())).unwrap_or_default();
                    let message = format!(
                        "node '{}': its cached output '{port}' was corrupt in the store (changed on disk){place}; recomputing it",
                        node.name
                    );
                    tracing::warn!("{message}");
                    options.observer.event(&Event::Warning { message: message.clone() });
                    warnings.push(message.clone());
                    repaired = Some(message);
                }
            }
            if node.threads as usize > jobs {
                let message = format!(
                    "node '{}' asks for {} threads; the run's budget is {jobs} (-j), so it runs with {jobs}",
                    node.name, node.threads
                );
                options.observer.event(&Event::Warning { message: message.clone() });
                warnings.push(message);
            }
            if let Some(bytes) = node.memory
                && bytes / (1024 * 1024) > memory_mb as u64
            {
                let message = format!(
                    "node '{}' asks for {} MiB of memory; the run's budget is {memory_mb} MiB (--memory), so it runs within that",
                    node.name,
                    bytes / (1024 * 1024)
                );
                options.observer.event(&Event::Warning { message: message.clone() });
                warnings.push(message);
            }
            if let Some(message) = repaired {
                repairs.insert(id.index(), message);
            }
            let inputs = input_paths(node, &store.cas, &outputs);
            let node_threads = (node.threads as usize).clamp(1, jobs) as u32;
            let node_memory = node.memory.map(|b| ((b / (1024 * 1024)) as u32).clamp(1, memory_mb)).unwrap_or(0);
            let budget = Budget { threads: threads.clone(), memory: memory.clone(), node_threads, node_memory };
            if let Some(spec) = &node.map {
                let paths = inputs.get(&spec.port).cloned().unwrap_or_default();
                let digests = manifest.inputs.get(&spec.port).cloned().unwrap_or_default();
                let sheet = SheetContext {
                    cas: &store.cas,
                    store_rows: true,
                    tmp_dir: &state.tmp_dir(),
                    project_dir: &workflow.project_dir,
                    state_dir: &state.root,
                };
                let items = match map::items(&workflow, node, spec, &paths, &digests, &mut store.stat, &sheet) {
                    Ok(items) => items,
                    Err(error) => {
                        settled.push(Done {
                            id,
                            item: None,
                            result: Err(NodeError::BadInput(error.to_string())),
                            seconds: 0.0,
                            attempts: 1,
                            manifest,
                            key,
                            items: None,
                            cacheable: false,
                        });
                        continue;
                    }
                };
                let mut tally = Tally::new(items);
                let mut to_run = Vec::new();
                for (index, item) in tally.items.iter().enumerate() {
                    let item_key = map::item_manifest(&manifest, spec, item).key();
                    match if forced { Lookup::Miss } else { cached_outputs(store, &item_key)? } {
                        Lookup::Hit(found) => to_run.push((index, item_key, Some(found))),
                        Lookup::Miss | Lookup::Corrupt { .. } => to_run.push((index, item_key, None)),
                    }
                }
                let running = to_run.iter().filter(|t| t.2.is_none()).count();
                // A samplesheet node with every row cached: its gathered outputs may be too.
                let key = if spec.id_column.is_some() {
                    let item_keys: Vec<Digest> = to_run.iter().map(|t| t.1).collect();
                    map::sheet_key(&key, &tally.items, &item_keys)
                } else {
                    key
                };
                if running == 0
                    && spec.id_column.is_some()
                    && let Lookup::Hit(found) = cached_outputs(store, &key)?
                {
                    let mut record = node_record(node, NodeStatus::Cached, 0.0, Some(&key), &found);
                    let total = tally.items.len();
                    record.items = Some(ItemCounts { total, cached: total, ..ItemCounts::default() });
                    settle_cached(node, record, found, &mut records, &mut outputs, options.observer.as_ref());
                    release(&dag, id, &mut remaining, &mut ready);
                    continue;
                }
                let to_start: Vec<&map::Item> =
                    to_run.iter().filter(|t| t.2.is_none()).map(|t| &tally.items[t.0]).collect();
                // Only needed to name the items that run.
                let before = (running > 0)
                    .then(|| map::previous_item_ids(options.previous.as_deref(), node, &store.cas))
                    .flatten();
                options.observer.event(&Event::Mapped {
                    node: node.name.clone(),
                    total: tally.items.len(),
                    to_run: running,
                    detail: map::describe_items(&to_start, tally.items.len(), before.as_deref()),
                });
                let mut pending = std::collections::VecDeque::new();
                for (index, item_key, cached) in to_run {
                    match cached {
                        Some(found) => tally.record(index, ItemResult::Cached(found)),
                        None => pending.push_back((index, item_key)),
                    }
                }
                let mut mapping = Mapping { tally, manifest, key, started: Instant::now(), pending, inputs, budget };
                mapping.launch(ITEMS_QUEUED.max(2 * jobs), node, &shared, &logs_dir, &mut tasks);
                if mapping.tally.is_done() {
                    settled.push(finish_mapping(
                        node,
                        mapping,
                        &store.cas,
                        &state.tmp_dir(),
                        &options.run_id,
                        &logs_dir.join(format!("{}.log", node.name)),
                    ));
                } else {
                    mappings.insert(id.index(), mapping);
                }
                continue;
            }
            let job = shared.job(id, None, inputs, key, manifest, logs_dir.join(format!("{}.log", node.name)));
            spawn_job(&mut tasks, job, budget);
        }

        if tasks.is_empty() && settled.is_empty() {
            break;
        }
        let done = if let Some(done) = settled.pop() {
            done
        } else {
            tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(done)) => done,
                Some(Err(e)) => {
                    // The async wrapper itself cannot fail short of a panic in tokio.
                    tracing::error!("scheduler task failed: {e}");
                    continue;
                }
                None => break,
            },
            received = signals.next(), if !cancelled => {
                cancelled = true;
                signal = Some(received);
                stop.store(true, Ordering::SeqCst);
                options.observer.event(&Event::Cancelling);
                options.cancel.interrupt(received);
                continue;
            }
            }
        };

        let node = workflow.node(done.id);
        let done = match done.item {
            None => done,
            Some(index) => {
                let item_id =
                    mappings.get(&done.id.index()).map(|m| m.tally.items[index].id.clone()).unwrap_or_default();
                let item_log = logs_dir.join(format!("{}[{item_id}].log", node.name));
                let (result, status) = match done.result {
                    Ok(found) => {
                        let json = done.manifest.canonical();
                        store
                            .actions
                            .append(done.key, found.clone())
                            .map_err(|e| StoreError::io(&state.actions_path(), e))?;
                        manifest_log.append(&done.key, &json).map_err(|e| StoreError::io(&manifests_path, e))?;
                        (ItemResult::Ran(found), NodeStatus::Ran)
                    }
                    Err(NodeError::Cancelled) => (ItemResult::Cancelled, NodeStatus::Cancelled),
                    Err(error) => (
                        ItemResult::Failed { error: error.to_string(), log: item_log, bad_input: error.is_bad_input() },
                        NodeStatus::Failed,
                    ),
                };
                options.observer.event(&Event::ItemFinished {
                    node: node.name.clone(),
                    item: item_id,
                    status,
                    seconds: done.seconds,
                });
                let Some(mapping) = mappings.get_mut(&done.id.index()) else { continue };
                mapping.tally.record(index, result);
                mapping.launch(1, node, &shared, &logs_dir, &mut tasks);
                if !mapping.tally.is_done() {
                    continue;
                }
                let Some(mapping) = mappings.remove(&done.id.index()) else { continue };
                finish_mapping(
                    node,
                    mapping,
                    &store.cas,
                    &state.tmp_dir(),
                    &options.run_id,
                    &logs_dir.join(format!("{}.log", node.name)),
                )
            }
        };
        let log_path = logs_dir.join(format!("{}.log", node.name));
        match done.result {
            Ok(found) => {
                // Objects are in the CAS; the record goes last.
                if done.cacheable {
                    let json = done.manifest.canonical();
                    store
                        .actions
                        .append(done.key, found.clone())
                        .map_err(|e| StoreError::io(&state.actions_path(), e))?;
                    manifest_log.append(&done.key, &json).map_err(|e| StoreError::io(&manifests_path, e))?;
                }
                let mut record = node_record(node, NodeStatus::Ran, done.seconds, Some(&done.key), &found);
                if let Some(items) = &done.items
                    && !items.failed_items.is_empty()
                {
                    let message = format!(
                        "node '{}': {} of {} items failed and were left out (on_error: skip): {}",
                        node.name,
                        items.failed,
                        items.total,
                        items.failed_items.join(", ")
                    );
                    options.observer.event(&Event::Warning { message: message.clone() });
                    warnings.push(message);
                }
                record.items = done.items;
                record.attempts = done.attempts;
                record.repaired = repairs.remove(&done.id.index());
                record.log = Some(log_path.display().to_string());
                records[done.id.index()] = Some(record);
                outputs[done.id.index()] = Some(found);
                options.observer.event(&Event::Finished {
                    node: node.name.clone(),
                    status: NodeStatus::Ran,
                    seconds: done.seconds,
                });
                release(&dag, done.id, &mut remaining, &mut ready);
            }
            Err(error) => {
                let status = match error {
                    NodeError::Cancelled if cancelled => NodeStatus::Cancelled,
                    NodeError::Cancelled => NodeStatus::Skipped,
                    _ => NodeStatus::Failed,
                };
                let mut record = node_record(node, status, done.seconds, Some(&done.key), &[]);
                record.attempts = done.attempts;
                record.items = done.items;
                if status == NodeStatus::Failed {
                    record.error = Some(error.to_string());
                    record.log = Some(log_path.display().to_string());
                    failures.push(Failure {
                        node: node.name.clone(),
                        error: error.to_string(),
                        log: log_path,
                        bad_input: error.is_bad_input(),
                        store: matches!(error, NodeError::Store(_)),
                    });
                    if !options.keep_going {
                        failed = true;
                        stop.store(true, Ordering::SeqCst);
                        if !tasks.is_empty() {
                            options.observer.event(&Event::Draining { running: tasks.len() });
                        }
                    }
                }
                records[done.id.index()] = Some(record);
                options.observer.event(&Event::Finished { node: node.name.clone(), status, seconds: done.seconds });
                // Dependents stay Waiting; they are marked Skipped below.
            }
        }
    }

    let mut nodes = Vec::with_capacity(n);
    for node in workflow.nodes.iter().filter(|node| selection.wants(node.id)) {
        let record = records[node.id.index()].take().unwrap_or_else(|| skipped(node));
        if record.status == NodeStatus::Skipped {
            options.observer.event(&Event::Finished {
                node: node.name.clone(),
                status: NodeStatus::Skipped,
                seconds: 0.0,
            });
        }
        nodes.push(record);
    }
    let mut publish_error = None;
    if !cancelled {
        let stop = Arc::new(AtomicBool::new(false));
        let signalled = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let watcher = {
            let (stop, signalled) = (stop.clone(), signalled.clone());
            tokio::spawn(async move {
                let received = signals.next().await;
                signalled.store(received, Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
            })
        };
        let mut publish_all = || publish(&workflow, store, &outputs, &mut published, options.overwrite, &stop);
        // On a multi-threaded runtime the signal watcher runs beside the copy and can stop it;
        // a current-thread runtime (an embedder's choice) cannot run it meanwhile, and
        // `block_in_place` would panic there, so the copy runs to its end.
        let result = if tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(publish_all)
        } else {
            publish_all()
        };
        watcher.abort();
        match result {
            Ok(()) => {}
            Err(StoreError::Publish(PublishError::Interrupted)) => {
                cancelled = true;
                signal = Some(signalled.load(Ordering::SeqCst)).filter(|&s| s != 0);
            }
            Err(e) => publish_error = Some(e),
        }
    }
    let status = if cancelled {
        "cancelled"
    } else if failures.is_empty() && publish_error.is_none() {
        "ok"
    } else {
        "failed"
    };
    if let Some(error) = &publish_error {
        warnings.push(error.to_string());
    }
    store.stat.save().map_err(|e| StoreError::io(&state.statcache_path(), e))?;
    if is_empty_dir(&logs_dir) {
        // A run that executed nothing leaves no empty log folder behind.
        let _ = std::fs::remove_dir(&logs_dir);
    }
    for node in &mut nodes {
        node.jobs = options.executor.jobs(&node.name);
    }
    let record = RunRecord {
        id: options.run_id.clone(),
        workflow: workflow.file.display().to_string(),
        name: workflow.name.clone(),
        started: started_at,
        seconds: clock.elapsed().as_secs_f64(),
        status: status.to_string(),
        warnings,
        nodes,
    };
    record.save(&state).map_err(|e| StoreError::io(&state.runs_dir(), e))?;
    Ok(RunOutcome {
        record,
        failures,
        cancelled,
        signal,
        publish_error,
        files_read: store.stat.files_read - reads_before,
    })
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the start of a run to the end of publishing.
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals { interrupt: signal(SignalKind::interrupt()).ok(), terminate: signal(SignalKind::terminate()).ok() }
    }

    /// The next signal received: `libc::SIGINT` or `libc::SIGTERM`.
    async fn next(&mut self) -> i32 {
        async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = recv(&mut self.interrupt) => libc::SIGINT,
            _ = recv(&mut self.terminate) => libc::SIGTERM,
        }
    }
}

/// The share of the run's budget one task takes.
#[derive(Clone)]
struct Budget {
    threads: Arc<Semaphore>,
    memory: Arc<Semaphore>,
    node_threads: u32,
    node_memory: u32,
}

/// Runs a node (or one item of it) once its share of the budget is free.
fn spawn_job(tasks: &mut JoinSet<Done>, job: Job, budget: Budget) {
    let manifest_if_panic = job.manifest.clone();
    tasks.spawn(async move {
        let Budget { threads, memory, node_threads, node_memory } = budget;
        let _threads = threads.acquire_many_owned(node_threads).await;
        let _memory = if node_memory > 0 { Some(memory.acquire_many_owned(node_memory).await) } else { None };
        let (id, key, item) = (job.id, job.key, job.item.as_ref().map(|i| i.0));
        match tokio::task::spawn_blocking(move || job.execute(node_threads as usize)).await {
            Ok(done) => done,
            Err(join_error) => Done {
                id,
                item,
                result: Err(NodeError::Failed(format!("node task panicked: {join_error}"))),
                seconds: 0.0,
                attempts: 1,
                manifest: manifest_if_panic,
                key,
                items: None,
                cacheable: false,
            },
        }
    });
}

/// What a mapped node comes to once its last item ended: its gathered outputs, or why not.
fn finish_mapping(node: &Node, mapping: Mapping, cas: &Cas, tmp_root: &Path, run_id: &str, log_path: &Path) -> Done {
    let on_error = node.map.as_ref().map(|m| m.on_error).unwrap_or_default();
    let counts = mapping.tally.counts();
    let (result, cacheable) = match mapping.tally.outcome(node, on_error) {
        MapOutcome::Cancelled => (Err(NodeError::Cancelled), false),
        MapOutcome::Failed { message, bad_input } => {
            // The node's log gathers the end of each failed item's log, so the tail the CLI
            // shows of it is the items' own words.
            if let Ok(mut log) = create_private_file(log_path) {
                let _ = std::io::Write::write_all(&mut log, mapping.tally.failure_log(20).as_bytes());
            }
            if bad_input {
                (Err(NodeError::BadInput(message)), false)
            } else {
                (Err(NodeError::Failed(message)), false)
            }
        }
        MapOutcome::Gather { complete, .. } => {
            let work = tmp_root.join(format!("{run_id}-{}-gather", node.name));
            match mapping.tally.gather(node, cas, &work) {
                // A sheet node's key is its sheet key (over every row's key), so it may be
                // recorded too.
                Ok(found) => (Ok(found), complete),
                Err(e) => (Err(NodeError::io("gather the items' outputs", e)), false),
            }
        }
    };
    Done {
        id: node.id,
        item: None,
        result,
        seconds: mapping.started.elapsed().as_secs_f64(),
        attempts: 1,
        manifest: mapping.manifest,
        key: mapping.key,
        items: Some(counts),
        cacheable,
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(false)
}

/// Records a node answered from the cache and tells the display.
fn settle_cached(
    node: &Node,
    record: NodeRecord,
    found: Vec<OutputRecord>,
    records: &mut [Option<NodeRecord>],
    outputs: &mut [Option<Vec<OutputRecord>>],
    observer: &dyn Observer,
) {
    records[node.id.index()] = Some(record);
    outputs[node.id.index()] = Some(found);
    observer.event(&Event::Finished { node: node.name.clone(), status: NodeStatus::Cached, seconds: 0.0 });
}

fn release(dag: &Dag, id: NodeId, remaining: &mut [u32], ready: &mut Vec<NodeId>) {
    for &dependent in dag.dependents[id.index()].iter().rev() {
        remaining[dependent.index()] -= 1;
        if remaining[dependent.index()] == 0 {
            ready.push(dependent);
        }
    }
}

fn skipped(node: &Node) -> NodeRecord {
    node_record(node, NodeStatus::Skipped, 0.0, None, &[])
}

fn node_record(
    node: &Node,
    status: NodeStatus,
    seconds: f64,
    key: Option<&Digest>,
    outputs: &[OutputRecord],
) -> NodeRecord {
    NodeRecord {
        name: node.name.clone(),
        kind: node.kind.name().to_string(),
        status,
        seconds,
        key: key.map(Digest::to_hex),
        outputs: outputs.iter().map(|o| (o.port.clone(), o.digest.to_hex())).collect(),
        error: None,
        log: None,
        attempts: 0,
        repaired: None,
        items: None,
        jobs: Vec::new(),
    }
}

/// Copies published outputs to their human paths (see [`crate::store::publish`]), each object
/// checked first: a corrupt object is never copied out.
fn publish(
    workflow: &Workflow,
    store: &mut Store,
    outputs: &[Option<Vec<OutputRecord>>],
    record: &mut PublishRecord,
    overwrite: bool,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let mut targets = Vec::new();
    for target in &workflow.publish {
        let Some(found) = &outputs[target.node.index()] else { continue };
        crate::workflow::check_publish_path(&target.dest, &workflow.project_dir, &store.state.root)
            .map_err(|why| StoreError::Publish(PublishError::Refused(why)))?;
        let output = &found[target.output];
        match store.check(&output.digest)? {
            Verdict::Intact => {}
            Verdict::Missing | Verdict::Corrupt { .. } => {
                return Err(StoreError::io(
                    &store.cas.object_path(&output.digest),
                    std::io::Error::other(format!(
                        "the object for {} changed or vanished during the run; nothing was published from it. Run again to rebuild it",
                        workflow.output_name(target.node, target.output)
                    )),
                ));
            }
        }
        targets.push(Target {
            object: store.cas.object_path(&output.digest),
            shape: output.shape,
            digest: output.digest,
            dest: &target.dest,
        });
    }
    record.publish(&targets, overwrite, &mut store.stat, &store.cas, stop)?;
    Ok(())
}

/// What every job of a run shares.
struct JobShared {
    workflow: Arc<Workflow>,
    cas: Cas,
    work_dirs: Arc<WorkDirs>,
    cancel: CancelToken,
    observer: Arc<dyn Observer>,
    stop: Arc<AtomicBool>,
    keep_going: bool,
    state_dir: PathBuf,
    view: Arc<Vec<WorkflowNode>>,
    executor: Arc<dyn Executor>,
}

impl JobShared {
    fn job(
        &self,
        id: NodeId,
        item: Option<(usize, ItemContext)>,
        inputs: BTreeMap<String, Vec<PathBuf>>,
        key: Digest,
        manifest: ActionManifest,
        log_path: PathBuf,
    ) -> Job {
        Job {
            workflow: self.workflow.clone(),
            id,
            item,
            inputs,
            key,
            manifest,
            cas: self.cas.clone(),
            work_dirs: self.work_dirs.clone(),
            log_path,
            cancel: self.cancel.clone(),
            observer: self.observer.clone(),
            stop: self.stop.clone(),
            keep_going: self.keep_going,
            state_dir: self.state_dir.clone(),
            view: self.view.clone(),
            executor: self.executor.clone(),
        }
    }
}

/// An input object and its look before the node ran.
struct Watched<'a> {
    port: &'a str,
    path: &'a Path,
    digest: Digest,
    look: Option<Digest>,
}

/// Everything a blocking task needs to run one node.
struct Job {
    workflow: Arc<Workflow>,
    id: NodeId,
    /// For one item of a mapped node: its index, id and fields.
    item: Option<(usize, ItemContext)>,
    inputs: BTreeMap<String, Vec<PathBuf>>,
    key: Digest,
    manifest: ActionManifest,
    cas: Cas,
    work_dirs: Arc<WorkDirs>,
    log_path: PathBuf,
    cancel: CancelToken,
    observer: Arc<dyn Observer>,
    stop: Arc<AtomicBool>,
    keep_going: bool,
    state_dir: PathBuf,
    view: Arc<Vec<WorkflowNode>>,
    executor: Arc<dyn Executor>,
}

impl Job {
    fn execute(self, threads: usize) -> Done {
        let node = self.workflow.node(self.id);
        let clock = Instant::now();
        let finish = |result, attempts| Done {
            id: self.id,
            item: self.item.as_ref().map(|i| i.0),
            items: None,
            cacheable: true,
            result,
            seconds: clock.elapsed().as_secs_f64(),
            attempts,
            manifest: self.manifest.clone(),
            key: self.key,
        };
        // Permits may have been granted after a failure or Ctrl-C: do not start then.
        if self.stop.load(Ordering::SeqCst) || self.cancel.is_cancelled() {
            return finish(Err(NodeError::Cancelled), 0);
        }
        let item = self.item.as_ref().map(|i| i.1.id.as_str());
        let span = tracing::info_span!("node", name = %node.name, kind = %node.kind.name(), item);
        let _entered = span.enter();
        let display_name = match item {
            Some(id) => format!("{}[{id}]", node.name),
            None => node.name.clone(),
        };
        self.observer.event(&Event::Started { node: display_name.clone() });
        let mut attempt = 0;
        loop {
            attempt += 1;
            tracing::info!(attempt, "start");
            let result = self.attempt(node, threads);
            match result {
                Ok(outputs) => {
                    tracing::info!(seconds = clock.elapsed().as_secs_f64(), "done");
                    return finish(Ok(outputs), attempt);
                }
                Err(NodeError::Cancelled) => return finish(Err(NodeError::Cancelled), attempt),
                Err(error)
                    if attempt <= node.retries
                        && !self.cancel.is_cancelled()
                        && !matches!(error, NodeError::ChangedInput(_)) =>
                {
                    tracing::warn!(%error, "failed, retrying");
                    self.observer.event(&Event::Retrying {
                        node: display_name.clone(),
                        attempt,
                        error: error.to_string(),
                    });
                }
                Err(error) => {
                    tracing::error!(%error, "failed");
                    // An item's failure is its node's to judge, once every item was tried.
                    if !self.keep_going && self.item.is_none() {
                        // Set before this task's permits are released, so no queued node can
                        // take them and start after the failure.
                        self.stop.store(true, Ordering::SeqCst);
                    }
                    return finish(Err(error), attempt);
                }
            }
        }
    }

    fn attempt(&self, node: &Node, threads: usize) -> Result<Vec<OutputRecord>, NodeError> {
        let work = self.work_dirs.take().map_err(|e| NodeError::io("prepare a work dir", e))?;
        // Given back however the attempt ends, early errors included.
        let result = self.attempt_in(node, threads, &work);
        self.work_dirs.release(work);
        result
    }

    fn attempt_in(&self, node: &Node, threads: usize, work: &WorkDir) -> Result<Vec<OutputRecord>, NodeError> {
        let (out_dir, scratch) = (work.out(), work.scratch());
        // Created here with 0600 so whatever the kind writes to its log stays private.
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.log_path)
            .map_err(|e| NodeError::io(format!("create log {}", self.log_path.display()), e))?;
        let mut outputs = BTreeMap::new();
        for port in &node.outputs {
            let path = out_dir.join(&port.name);
            if port.ty.shape == Some(Shape::Dir) {
                create_private_dir(&path).map_err(|e| NodeError::io(format!("create {}", path.display()), e))?;
            }
            outputs.insert(port.name.clone(), path);
        }
        let ctx = NodeContext {
            node: &node.name,
            params: &node.params,
            inputs: &self.inputs,
            outputs: &outputs,
            threads,
            project_dir: &self.workflow.project_dir,
            scratch_dir: &scratch,
            state_dir: &self.state_dir,
            log_path: &self.log_path,
            cancel: &self.cancel,
            workflow: &self.view,
            item: self.item.as_ref().map(|i| &i.1),
        };
        let watched = self.watch_inputs();
        let in_controller = node.placement.local || node.kind.runs_in_controller();
        let executor: &dyn Executor = if in_controller { &Local } else { self.executor.as_ref() };
        let result = executor.run(node, &ctx, &self.key).and_then(|()| {
            if self.cancel.is_cancelled() {
                return Err(NodeError::Cancelled);
            }
            Ok(())
        });
        // Checked whatever the node's result: a failed attempt that scribbled on an input must
        // not be retried on the damaged input either.
        match self.changed_input(node, &watched) {
            Some(error) => Err(error),
            None => result.and_then(|()| self.collect(node, &outputs)),
        }
    }

    /// The look (stat of every entry) of each input that is a store object, taken before the
    /// node runs. File modes keep honest tools from writing into the store, but not a node
    /// running as root or one that chmods first.
    fn watch_inputs(&self) -> Vec<Watched<'_>> {
        self.inputs
            .iter()
            .flat_map(|(port, paths)| paths.iter().map(move |path| (port.as_str(), path.as_path())))
            .filter_map(|(port, path)| {
                let digest = self.cas.object_containing(path)?;
                Some(Watched { port, path, digest, look: look_of(path).ok() })
            })
            .collect()
    }

    /// An error if the node changed the content of an input object. A changed look alone (a
    /// chmod) is rehashed and forgiven; changed content is quarantined at once, so no later
    /// node of this run reads it, and the next run rebuilds it.
    fn changed_input(&self, node: &Node, watched: &[Watched<'_>]) -> Option<NodeError> {
        for input in watched {
            if look_of(input.path).ok() == input.look {
                continue;
            }
            let what = match self.cas.rehash(&input.digest) {
                Ok(Verdict::Intact) => continue,
                Ok(Verdict::Corrupt { moved_to: Some(to) }) => {
                    format!("changed; the damaged copy is in {}", to.display())
                }
                Ok(Verdict::Corrupt { moved_to: None }) => "changed".to_string(),
                Ok(Verdict::Missing) => "removed (by this node or another one running beside it)".to_string(),
                Err(e) => format!("made unreadable ({e})"),
            };
            tracing::error!(input = %input.port, path = %input.path.display(), "input object {what}");
            return Some(NodeError::ChangedInput(format!(
                "node '{}': its input '{}' ({}) was {what}. Inputs belong to the store and must stay as they are: \
                 write to the node's output or scratch directory instead (copy an input first if a tool edits in place). \
                 The next run rebuilds the object",
                node.name,
                input.port,
                input.path.display()
            )));
        }
        None
    }

    /// Checks each declared output exists with its declared shape, then moves it into the CAS.
    fn collect(&self, node: &Node, outputs: &BTreeMap<String, PathBuf>) -> Result<Vec<OutputRecord>, NodeError> {
        let mut records = Vec::with_capacity(node.outputs.len());
        for port in &node.outputs {
            let path = &outputs[&port.name];
            let meta = std::fs::symlink_metadata(path).map_err(|_| {
                NodeError::Failed(format!(
                    "declared output '{}' was not written (expected a {} at {})",
                    port.name,
                    port.ty,
                    path.display()
                ))
            })?;
            let shape = if meta.is_dir() { Shape::Dir } else { Shape::File };
            if port.ty.shape.is_some_and(|wanted| wanted != shape) {
                return Err(NodeError::Failed(format!(
                    "output '{}' should be a {} but is a {}",
                    port.name,
                    port.ty,
                    shape.name()
                )));
            }
            let (shape, digest) = self.cas.ingest(path).map_err(|e| {
                // An output flow cannot hash (a FIFO, an unreadable file) is the node's doing;
                // anything else is the store's.
                if matches!(e.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::PermissionDenied) {
                    NodeError::io(format!("store output '{}'", port.name), e)
                } else {
                    NodeError::Store(format!("the store could not take output '{}': {e}", port.name))
                }
            })?;
            records.push(OutputRecord { port: port.name.clone(), shape, digest });
        }
        Ok(records)
    }
}
