//! Dispatch and the commands other than `run`: plan, why, graph, status, gc, nodes.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use flow_engine::diagnostic::suggestion;
use flow_engine::digest::Digest;
use flow_engine::graph;
use flow_engine::kind::{Inputs, KindInfo, NodeKind, Outputs, Registry};
use flow_engine::plan::{Plan, PlanStatus, plan};
use flow_engine::plugin;
use flow_engine::select::Selection;
use flow_engine::store::runs::{NodeStatus, RunRecord, last_run_of, last_run_of_node, list_runs};
use flow_engine::store::{StateDir, Store, StoreLock, Verdict};
use flow_engine::workflow::cluster::ProjectConfig;
use flow_engine::workflow::{NodeId, Workflow};
use serde_json::json;

use crate::args::{
    Cli, Command, GcArgs, GraphArgs, GraphFormat, NodesArgs, PlanArgs, StatusArgs, TargetArgs, VerifyArgs, WhyArgs,
    WorkflowArgs,
};
use crate::display::seconds_text;
use crate::project;
use crate::{CliError, logging, out};

pub struct Context {
    pub project_dir: PathBuf,
    pub state: StateDir,
    pub registry: Registry,
    pub verbose: u8,
    /// `--quiet`: no notes, progress or summaries on the console.
    pub quiet: bool,
    /// The project's `flow.config.yaml` (defaults when it has none).
    pub config: ProjectConfig,
}

impl Context {
    /// A note for the user on stderr ("flow: ..."), unless `--quiet`.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("flow: {text}");
        }
    }

    /// Loads and validates a workflow; its `file` becomes absolute so run records match it
    /// from any working directory.
    /// Reads the validated-workflow cache but never writes it (only `flow run` does).
    pub fn load(&self, args: &WorkflowArgs) -> Result<Workflow, CliError> {
        crate::run::load_workflow(self, args).map(|loaded| loaded.workflow)
    }

    pub(crate) fn last_run(&self, workflow: &Workflow) -> Option<RunRecord> {
        last_run_of(&self.state, &workflow.file.display().to_string())
    }
}

/// The built-in kinds plus the Rust plugins compiled in (docs/plugins.md).
fn registry() -> Registry {
    let mut registry = flow_nodes::builtin_registry();
    flow_plugin_winsorize::register(&mut registry);
    registry
}

pub fn dispatch(mut cli: Cli) -> Result<(), CliError> {
    let cwd =
        std::env::current_dir().map_err(|e| CliError::Internal(format!("cannot read the current directory: {e}")))?;
    // A new project is made where the user stands, not in an enclosing one.
    if let Command::Init(args) = &cli.command {
        return crate::init::init_cmd(&cwd, args, cli.quiet);
    }
    let project_dir = match &cli.project_dir {
        Some(dir) => cwd.join(dir),
        None => project::find_root(&cwd),
    };
    if !project_dir.is_dir() {
        return Err(CliError::Usage(format!("project directory {} does not exist", project_dir.display())));
    }
    let state_root = match &cli.state_dir {
        Some(dir) => project_dir.join(dir),
        None => project_dir.join(".flow"),
    };
    let ctx = Context {
        project_dir,
        state: StateDir::new(state_root),
        registry: registry(),
        verbose: cli.verbose,
        quiet: cli.quiet,
        config: ProjectConfig::default(),
    };
    // Read once, before anything else: a mistake in it is reported whatever the command.
    let ctx = Context { config: ProjectConfig::load(&ctx.project_dir).map_err(CliError::Input)?, ..ctx };
    match &mut cli.command {
        Command::Run(args) => find_workflow(&ctx, &cwd, &mut args.workflow, Some(&mut args.select))?,
        Command::Plan(args) => find_workflow(&ctx, &cwd, &mut args.workflow, Some(&mut args.select))?,
        Command::Graph(args) => find_workflow(&ctx, &cwd, &mut args.workflow, None)?,
        Command::Why(args) => {
            // `flow why NODE`: the one word is the node, of the default workflow.
            if args.node.is_none() {
                args.node = args.workflow.file.take().map(|word| word.display().to_string());
            }
            find_workflow(&ctx, &cwd, &mut args.workflow, None)?;
        }
        _ => {}
    }
    if !matches!(cli.command, Command::Run(_)) {
        logging::init_console(cli.verbose);
    }
    match &cli.command {
        Command::Run(args) => crate::run::run(&ctx, args),
        Command::Plan(args) => plan_cmd(&ctx, args),
        Command::Why(args) => why_cmd(&ctx, args),
        Command::Graph(args) => graph_cmd(&ctx, args),
        Command::Status(args) => status_cmd(&ctx, args),
        Command::Gc(args) => gc_cmd(&ctx, args),
        Command::Verify(args) => verify_cmd(&ctx, args),
        Command::Nodes(args) => nodes_cmd(&ctx, args),
        Command::Fs(args) => crate::fs::fs_cmd(&ctx, args),
        Command::Serve(args) => crate::serve::serve_cmd(&ctx, args),
        Command::ExecJob(args) => crate::exec_job::exec_job(&ctx, args),
        Command::Log(args) => crate::artifacts::log_cmd(&ctx, args),
        Command::Cat(args) => crate::artifacts::cat_cmd(&ctx, args),
        Command::Path(args) => crate::artifacts::path_cmd(&ctx, args),
        Command::Cancel => cancel_cmd(&ctx),
        // Done above, before a project was looked for.
        Command::Init(_) => Ok(()),
        Command::Plugin(crate::args::PluginCommand::New(args)) => crate::plugin_new::plugin_new(&ctx, args),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "flow", &mut script);
            out(&String::from_utf8_lossy(&script));
            Ok(())
        }
    }
}

/// Turns the workflow the user named (or did not) into a path, saying so when it was not typed
/// out. In `flow run train`, `train` is a node of the default workflow if no file is called so.
fn find_workflow(
    ctx: &Context,
    cwd: &std::path::Path,
    workflow: &mut WorkflowArgs,
    select: Option<&mut TargetArgs>,
) -> Result<(), CliError> {
    let default = ctx.config.workflow.as_deref();
    let mut found = project::workflow_file(&ctx.project_dir, cwd, workflow.file.as_deref(), default);
    if let (Err(_), Some(select), Some(word)) = (&found, select, &workflow.file)
        && !project::looks_like_file(word)
    {
        select.targets.insert(0, word.display().to_string());
        workflow.file = None;
        found = project::workflow_file(&ctx.project_dir, cwd, None, default);
    }
    let found = found?;
    let shown = found.path().strip_prefix(&ctx.project_dir).unwrap_or(found.path()).display().to_string();
    match &found {
        project::Found::AsGiven(_) => {}
        project::Found::InProject(_) => ctx.note(&format!("workflow {shown} (in {})", ctx.project_dir.display())),
        project::Found::Default(_) => ctx.note(&format!("workflow {shown}, the project's default")),
    }
    workflow.file = Some(found.path().to_path_buf());
    Ok(())
}

/// Takes the store lock, telling the user when it has to wait.
pub fn lock_store(ctx: &Context, no_wait: bool) -> Result<StoreLock, CliError> {
    let on_wait = || eprintln!("waiting for another flow process to release {} …", ctx.state.root.display());
    match ctx.state.lock(!no_wait, &on_wait) {
        Ok(Some(lock)) => Ok(lock),
        Ok(None) => Err(CliError::Busy(format!(
            "another flow process is using {} (remove --no-wait to wait for it)",
            ctx.state.root.display()
        ))),
        Err(e) => Err(CliError::Internal(format!("cannot lock {}: {e}", ctx.state.root.display()))),
    }
}

/// `previous` is the run the reasons compare with (the workflow's last run, unless told).
fn compute_plan(
    ctx: &Context,
    workflow: &Workflow,
    selection: &Selection,
    previous: Option<RunRecord>,
) -> Result<Plan, CliError> {
    let mut store = Store::open(ctx.state.clone())?;
    let previous = previous.or_else(|| ctx.last_run(workflow));
    Ok(plan(workflow, &mut store, previous.as_ref(), selection)?)
}

/// The nodes named on the command line, as a selection of the workflow's.
pub fn selection(workflow: &Workflow, args: &TargetArgs) -> Result<Selection, CliError> {
    let find = |names: &[String]| names.iter().map(|name| find_node(workflow, name)).collect::<Result<Vec<_>, _>>();
    Ok(Selection::new(workflow, &find(&args.targets)?, &find(&args.force)?))
}

fn status_word(status: &PlanStatus) -> &'static str {
    match status {
        PlanStatus::Cached => "cached",
        PlanStatus::Run(_) => "run",
        PlanStatus::Pending(_) => "pending",
    }
}

fn names(workflow: &Workflow, ids: &[NodeId]) -> Vec<String> {
    ids.iter().map(|id| workflow.node(*id).name.clone()).collect()
}

pub fn plan_cmd(ctx: &Context, args: &PlanArgs) -> Result<(), CliError> {
    let workflow = ctx.load(&args.workflow)?;
    let selection = selection(&workflow, &args.select)?;
    let plan = compute_plan(ctx, &workflow, &selection, None)?;
    if args.json {
        let nodes: Vec<_> = plan
            .order
            .iter()
            .filter_map(|id| plan.get(*id))
            .map(|p| {
                let mut entry = json!({
                    "name": workflow.node(p.id).name,
                    "status": status_word(&p.status),
                    "key": p.key.map(|k| k.to_hex()),
                });
                match &p.status {
                    PlanStatus::Run(reasons) => entry["reasons"] = json!(reasons),
                    PlanStatus::Pending(waits) => entry["waits_for"] = json!(names(&workflow, waits)),
                    PlanStatus::Cached => {}
                }
                entry
            })
            .collect();
        let summary = json!({
            "workflow": workflow.file.display().to_string(),
            "run": plan.count_run(), "pending": plan.count_pending(), "cached": plan.count_cached(),
            "nodes": nodes,
        });
        out(&format!("{}\n", serde_json::to_string_pretty(&summary).unwrap_or_default()));
        return Ok(());
    }
    let mut text = String::new();
    let shown: Vec<&NodeId> = plan
        .order
        .iter()
        .filter(|id| plan.get(**id).is_some_and(|p| !matches!(p.status, PlanStatus::Cached)))
        .collect();
    let width = shown.iter().map(|id| workflow.node(**id).name.len()).max().unwrap_or(4).max(4);
    if !shown.is_empty() {
        text.push_str(&format!("{:<width$}  {:<8}  why\n", "node", "plan"));
    }
    for id in shown.iter().take(200) {
        let Some(p) = plan.get(**id) else { continue };
        let why = match &p.status {
            PlanStatus::Run(reasons) => reasons.join("; "),
            PlanStatus::Pending(waits) => {
                format!("reruns if new output of {} differs", names(&workflow, waits).join(", "))
            }
            PlanStatus::Cached => String::new(),
        };
        text.push_str(&format!("{:<width$}  {:<8}  {why}\n", workflow.node(**id).name, status_word(&p.status)));
    }
    if shown.len() > 200 {
        text.push_str(&format!("… {} more (--json lists all)\n", shown.len() - 200));
    }
    let covered = match plan.order.len() {
        all if all == workflow.nodes.len() => format!("{all} nodes"),
        some => format!("{some} of {} nodes (what the targets need)", workflow.nodes.len()),
    };
    text.push_str(&format!(
        "{covered}: {} to run, {} pending on upstream changes, {} cached\n",
        plan.count_run(),
        plan.count_pending(),
        plan.count_cached()
    ));
    out(&text);
    Ok(())
}

fn find_node(workflow: &Workflow, name: &str) -> Result<NodeId, CliError> {
    workflow.find(name).ok_or_else(|| {
        let hint = suggestion(name, workflow.nodes.iter().map(|n| n.name.as_str()));
        CliError::Usage(format!("no node '{name}' in {}{hint}", workflow.file.display()))
    })
}

fn why_cmd(ctx: &Context, args: &WhyArgs) -> Result<(), CliError> {
    let workflow = ctx.load(&args.workflow)?;
    let Some(node) = &args.node else {
        return Err(CliError::Usage("name the node to explain: `flow why [WORKFLOW] NODE`".into()));
    };
    let id = find_node(&workflow, node)?;
    // Compared with the run that last built the node: later runs may not have covered it
    // (targets), or may have failed before it.
    let built = last_run_of_node(&ctx.state, &workflow.file.display().to_string(), &workflow.node(id).name);
    let plan = compute_plan(ctx, &workflow, &Selection::new(&workflow, &[id], &[]), built)?;
    let Some(planned) = plan.get(id) else {
        return Err(CliError::Internal(format!("node '{node}' was left out of its own plan")));
    };
    let name = &workflow.node(id).name;
    if args.json {
        let upstream: Vec<_> = match &planned.status {
            PlanStatus::Pending(_) => root_causes(&workflow, &plan, id)
                .into_iter()
                .map(|(cause, reasons)| json!({ "node": workflow.node(cause).name, "reasons": reasons }))
                .collect(),
            _ => Vec::new(),
        };
        let reasons = match &planned.status {
            PlanStatus::Run(reasons) => reasons.clone(),
            _ => Vec::new(),
        };
        let explained = json!({
            "node": name,
            "status": status_word(&planned.status),
            "key": planned.key.map(|k| k.to_hex()),
            "reasons": reasons,
            "upstream": upstream,
        });
        out(&format!("{}\n", serde_json::to_string_pretty(&explained).unwrap_or_default()));
        return Ok(());
    }
    let mut text = String::new();
    match &planned.status {
        PlanStatus::Cached => {
            let key = planned.key.map(|k| k.short()).unwrap_or_default();
            text.push_str(&format!("'{name}' is up to date: action {key} is in the cache, so it will not run.\n"));
        }
        PlanStatus::Run(reasons) => {
            text.push_str(&format!("'{name}' will run:\n"));
            for reason in reasons {
                text.push_str(&format!("  - {reason}\n"));
            }
        }
        PlanStatus::Pending(_) => {
            text.push_str(&format!(
                "'{name}' depends on nodes that will run; it reruns only if their new outputs differ from the cached ones (early cutoff).\n"
            ));
            text.push_str("What will run upstream, and why:\n");
            for (cause, reasons) in root_causes(&workflow, &plan, id) {
                text.push_str(&format!("  {}: {}\n", workflow.node(cause).name, reasons.join("; ")));
            }
        }
    }
    out(&text);
    Ok(())
}

/// The ancestors of `id` that must run (not merely pending), in topological order, with why.
fn root_causes<'p>(workflow: &Workflow, plan: &'p Plan, id: NodeId) -> Vec<(NodeId, &'p [String])> {
    let mut seen = HashSet::new();
    let mut stack = vec![id];
    while let Some(current) = stack.pop() {
        for up in workflow.node(current).upstream() {
            if seen.insert(up) {
                stack.push(up);
            }
        }
    }
    plan.order
        .iter()
        .copied()
        .filter(|n| seen.contains(n))
        .filter_map(|n| match plan.get(n).map(|p| &p.status) {
            Some(PlanStatus::Run(reasons)) => Some((n, reasons.as_slice())),
            _ => None,
        })
        .collect()
}

fn graph_cmd(ctx: &Context, args: &GraphArgs) -> Result<(), CliError> {
    let workflow = ctx.load(&args.workflow)?;
    let last = ctx.last_run(&workflow);
    let records: std::collections::HashMap<&str, _> =
        last.iter().flat_map(|r| r.nodes.iter()).map(|n| (n.name.as_str(), n)).collect();
    let label = |id: NodeId| {
        let node = workflow.node(id);
        let mut text = format!("{}\n{}", node.name, node.kind.name());
        if let Some(record) = records.get(node.name.as_str()) {
            text.push_str(&format!("\n{}", record.status.as_str()));
            if record.status == NodeStatus::Ran {
                text.push_str(&format!(" {}", seconds_text(record.seconds)));
            }
        }
        text
    };
    let text = match args.format {
        GraphFormat::Dot => graph::to_dot(&workflow, &label),
        GraphFormat::Mermaid => graph::to_mermaid(&workflow, &label),
    };
    out(&text);
    Ok(())
}

/// `flow cancel`: the queued Slurm jobs of every run of this store that has not ended.
fn cancel_cmd(ctx: &Context) -> Result<(), CliError> {
    let cancelled = flow_slurm::cancel_unfinished(&ctx.state.root).map_err(CliError::Internal)?;
    out(&format!("cancelled {cancelled} Slurm job(s)\n"));
    Ok(())
}

/// The store's queued Slurm jobs, or why they cannot be listed; nothing when it never used Slurm.
fn slurm_jobs(ctx: &Context) -> Result<Vec<flow_slurm::QueuedJob>, String> {
    flow_slurm::queued_jobs(&ctx.state.root)
}

fn status_cmd(ctx: &Context, args: &StatusArgs) -> Result<(), CliError> {
    if !ctx.state.exists() {
        out(&format!("no store at {} yet: `flow run FILE` creates it\n", ctx.state.root.display()));
        return Ok(());
    }
    let store = Store::open(ctx.state.clone())?;
    let objects = store.cas.list().map_err(|e| CliError::Internal(e.to_string()))?;
    let bytes: u64 = objects.iter().map(|(_, size)| size).sum();
    let runs = list_runs(&ctx.state, args.runs);
    if args.json {
        let value = json!({
            "state_dir": ctx.state.root.display().to_string(),
            "objects": objects.len(),
            "bytes": bytes,
            "action_records": store.actions.len(),
            "runs": runs.iter().map(|r| json!({
                "id": r.id, "workflow": r.workflow, "started": r.started, "status": r.status,
                "seconds": r.seconds, "ran": r.count(NodeStatus::Ran), "cached": r.count(NodeStatus::Cached),
                "failed": r.count(NodeStatus::Failed),
            })).collect::<Vec<_>>(),
            "slurm_jobs": slurm_jobs(ctx).unwrap_or_default().iter().map(|j| json!({
                "id": j.id, "state": j.state, "run": j.run, "attempt": j.attempt,
            })).collect::<Vec<_>>(),
        });
        out(&format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()));
        return Ok(());
    }
    let mut text = format!(
        "store {}: {} objects, {}, {} cached actions\n",
        ctx.state.root.display(),
        objects.len(),
        human_bytes(bytes),
        store.actions.len()
    );
    if runs.is_empty() {
        text.push_str("no runs yet\n");
    } else {
        text.push_str(&format!(
            "\n{:<23}  {:<9}  {:>5}  {:>6}  {:>6}  {:>8}  workflow\n",
            "started", "status", "ran", "cached", "failed", "time"
        ));
        for r in &runs {
            text.push_str(&format!(
                "{:<23}  {:<9}  {:>5}  {:>6}  {:>6}  {:>8}  {}\n",
                r.started,
                r.status,
                r.count(NodeStatus::Ran),
                r.count(NodeStatus::Cached),
                r.count(NodeStatus::Failed),
                seconds_text(r.seconds),
                r.workflow
            ));
        }
        // The latest run's timings live here and in its log, not in cached artifacts (a
        // report that embedded them would change bytes from run to run).
        let latest = &runs[0];
        let mut ran: Vec<_> = latest.nodes.iter().filter(|n| n.status != NodeStatus::Cached).collect();
        if !ran.is_empty() {
            ran.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
            text.push_str(&format!("\nlatest run {} ({}), slowest nodes:\n", latest.id, latest.status));
            for node in ran.iter().take(10) {
                text.push_str(&format!(
                    "  {:<9}  {:>8}  {}\n",
                    node.status.as_str(),
                    seconds_text(node.seconds),
                    node.name
                ));
            }
        }
        for warning in &latest.warnings {
            text.push_str(&format!("  warning: {warning}\n"));
        }
    }
    match slurm_jobs(ctx) {
        Ok(jobs) if jobs.is_empty() => {}
        Ok(jobs) => {
            text.push_str(&format!("\nSlurm jobs in the queue ({}; `flow cancel` cancels them):\n", jobs.len()));
            for job in &jobs {
                let attempt = job.attempt.as_deref().unwrap_or("?");
                text.push_str(&format!("  {:<12}  {:<10}  {attempt}  (run {})\n", job.id, job.state, job.run));
            }
        }
        Err(problem) => text.push_str(&format!("\ncannot list Slurm jobs: {problem}\n")),
    }
    for line in store.damage_report() {
        text.push_str(&format!("\ndamaged state: {line}\n"));
    }
    out(&text);
    Ok(())
}

fn gc_cmd(ctx: &Context, args: &GcArgs) -> Result<(), CliError> {
    if !ctx.state.exists() {
        out("nothing to collect: no store yet\n");
        return Ok(());
    }
    let lock = lock_store(ctx, args.no_wait)?;
    let mut store = Store::open_locked(ctx.state.clone(), &lock)?;
    let all_runs = list_runs(&ctx.state, usize::MAX);
    let kept = &all_runs[..all_runs.len().min(args.keep_runs)];
    let mut live: HashSet<Digest> = HashSet::new();
    for run in kept {
        for node in &run.nodes {
            live.extend(node.outputs.values().filter_map(|d| d.parse::<Digest>().ok()));
        }
    }
    let objects = store.cas.list().map_err(|e| CliError::Internal(e.to_string()))?;
    let dead: Vec<&(Digest, u64)> = objects.iter().filter(|(d, _)| !live.contains(d)).collect();
    let freed: u64 = dead.iter().map(|(_, size)| size).sum();
    let dead_records = store.actions.iter().filter(|(_, outs)| outs.iter().any(|o| !live.contains(&o.digest))).count();
    let kept_ids: BTreeSet<&str> = kept.iter().map(|r| r.id.as_str()).collect();
    // Feature groups go the way of the objects: kept if one of the kept runs wrote them. (Each
    // seed writes its own groups, so they piled up.)
    let features = flow_featurestore::FeatureStore::new(ctx.state.root.join("featurestore"));
    let written: BTreeSet<String> =
        crate::fs::written_groups(&store.cas, kept).into_iter().map(|(group, _)| group).collect();
    let stale_groups: Vec<String> = features
        .groups()
        .map_err(|e| CliError::Internal(e.to_string()))?
        .into_iter()
        .filter(|group| !written.contains(group))
        .collect();
    if args.dry_run {
        out(&format!(
            "would delete {} of {} objects ({}) and {} of {} action records, keeping what the last {} run(s) used\n",
            dead.len(),
            objects.len(),
            human_bytes(freed),
            dead_records,
            store.actions.len(),
            kept.len()
        ));
        if !stale_groups.is_empty() {
            out(&format!("would drop feature group(s) none of them wrote: {}\n", stale_groups.join(", ")));
        }
        return Ok(());
    }
    if !stale_groups.is_empty() {
        crate::fs::drop_groups(ctx, &mut store, &features, &stale_groups)?;
        out(&format!(
            "dropped feature group(s) none of the last {} run(s) wrote: {}\n",
            kept.len(),
            stale_groups.join(", ")
        ));
    }
    // Records go first: an object is never reachable from a record once it is being deleted.
    store
        .actions
        .retain(|_, outs| outs.iter().all(|o| live.contains(&o.digest)))
        .map_err(|e| CliError::Internal(e.to_string()))?;
    for (digest, _) in &dead {
        store.cas.remove(digest).map_err(|e| CliError::Internal(format!("remove object {}: {e}", digest.short())))?;
    }
    if let Ok(entries) = std::fs::read_dir(ctx.state.logs_dir()) {
        for entry in entries.flatten() {
            if !kept_ids.contains(entry.file_name().to_string_lossy().as_ref()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    // Commands a killed run left running would write into tmp/ while it is cleared.
    let orphans = flow_engine::process::kill_orphans(&ctx.state).map_err(|e| {
        CliError::Internal(format!("{}: {e}", flow_engine::process::procs_dir(&ctx.state.root).display()))
    })?;
    if orphans > 0 {
        out(&format!("stopped {orphans} process(es) an earlier, killed run of this store left running\n"));
    }
    ctx.state.clear_tmp().map_err(|e| CliError::Internal(e.to_string()))?;
    store.cas.compact_stamps().map_err(|e| CliError::Internal(e.to_string()))?;
    // Corrupt copies were kept for inspection; gc is the user asking for the space back.
    let quarantine = ctx.state.quarantine_dir();
    let quarantined = std::fs::read_dir(&quarantine).map(|entries| entries.flatten().count()).unwrap_or(0);
    if quarantined > 0 {
        let bytes = flow_engine::store::cas::size_of(&quarantine);
        flow_engine::store::cas::remove_any(&quarantine).map_err(|e| CliError::Internal(e.to_string()))?;
        out(&format!("deleted {quarantined} quarantined corrupt copies ({})\n", human_bytes(bytes)));
    }
    out(&format!(
        "deleted {} objects ({}) and {} action records; kept {} objects used by the last {} run(s)\n",
        dead.len(),
        human_bytes(freed),
        dead_records,
        objects.len() - dead.len(),
        kept.len()
    ));
    Ok(())
}

/// `flow verify`: rehashes every object, whatever its look on disk (`nix store verify`).
/// Corrupt objects are quarantined and the action records that produced them dropped, so the
/// next run recomputes them. Exit 0 when everything was intact, 1 when something was not.
fn verify_cmd(ctx: &Context, args: &VerifyArgs) -> Result<(), CliError> {
    if !ctx.state.exists() {
        out(&format!("no store at {} yet: nothing to verify\n", ctx.state.root.display()));
        return Ok(());
    }
    let lock = lock_store(ctx, args.no_wait)?;
    let mut store = Store::open_locked(ctx.state.clone(), &lock)?;
    let objects = store.cas.list().map_err(|e| CliError::Internal(e.to_string()))?;
    let mut corrupt = Vec::new();
    let mut invalidated = 0;
    for (digest, _) in &objects {
        let verdict = store.cas.rehash(digest).map_err(|e| CliError::Internal(format!("{}: {e}", digest)))?;
        if let Verdict::Corrupt { moved_to } = verdict {
            let keys = store.actions.invalidate(digest).map_err(|e| CliError::Internal(e.to_string()))?;
            invalidated += keys.len();
            corrupt.push((*digest, moved_to));
        }
    }
    store.cas.compact_stamps().map_err(|e| CliError::Internal(e.to_string()))?;
    let mut text = String::new();
    for (digest, moved_to) in &corrupt {
        let place = moved_to.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        text.push_str(&format!("corrupt: {digest} (content no longer matches its digest) -> {place}\n"));
    }
    for line in store.damage_report() {
        text.push_str(&format!("damaged: {line}\n"));
    }
    text.push_str(&format!(
        "verified {} objects: {} intact, {} corrupt (quarantined); {} action records dropped{}\n",
        objects.len(),
        objects.len() - corrupt.len(),
        corrupt.len(),
        invalidated,
        if corrupt.is_empty() { String::new() } else { ": the next `flow run` recomputes them".to_string() }
    ));
    out(&text);
    if corrupt.is_empty() { Ok(()) } else { Err(CliError::NodesFailed) }
}

fn nodes_cmd(ctx: &Context, args: &NodesArgs) -> Result<(), CliError> {
    // Process plugins of the project (`plugins/`) and of FLOW_PLUGIN_PATH are kinds too.
    let plugins = plugin::discover(&plugin::search_path(&ctx.project_dir.join("flow.yaml"), &ctx.project_dir, &[]))
        .map_err(CliError::Input)?;
    let registry = plugin::extend(&ctx.registry, plugins).map_err(CliError::Input)?;
    let ctx = &Context {
        registry,
        project_dir: ctx.project_dir.clone(),
        state: ctx.state.clone(),
        verbose: ctx.verbose,
        quiet: ctx.quiet,
        config: ctx.config.clone(),
    };
    match &args.kind {
        None => {
            if args.json {
                let kinds: Vec<_> = ctx.registry.iter().map(|k| kind_json(k.as_ref())).collect();
                out(&format!("{}\n", serde_json::to_string_pretty(&kinds).unwrap_or_default()));
                return Ok(());
            }
            let width = ctx.registry.iter().map(|k| k.name().len()).max().unwrap_or(4).max(4);
            let mut text = format!("{:<width$}  {:<7}  summary\n", "kind", "version");
            for kind in ctx.registry.iter() {
                text.push_str(&format!("{:<width$}  {:<7}  {}\n", kind.name(), kind.version(), kind.info().summary));
            }
            text.push_str("\n`flow nodes KIND` shows a kind's ports and parameters\n");
            out(&text);
            Ok(())
        }
        Some(name) => {
            let Some(kind) = ctx.registry.get(name) else {
                return Err(CliError::Usage(ctx.registry.unknown_kind_message(name)));
            };
            if args.json {
                out(&format!("{}\n", serde_json::to_string_pretty(&kind_json(kind.as_ref())).unwrap_or_default()));
            } else {
                out(&kind_text(kind.as_ref()));
            }
            Ok(())
        }
    }
}

fn kind_text(kind: &dyn NodeKind) -> String {
    let info: KindInfo = kind.info();
    let mut text = format!("{} (version {})\n  {}\n\ninputs:\n", kind.name(), kind.version(), info.summary);
    match &info.inputs {
        Inputs::Fixed(ports) if ports.is_empty() => text.push_str("  none\n"),
        Inputs::Fixed(ports) => {
            for p in ports {
                let req = if p.required { "" } else { " (optional)" };
                let many = if p.many { " (list)" } else { "" };
                text.push_str(&format!("  {:<16} {:<16} {}{req}{many}\n", p.name, p.ty.to_string(), p.doc));
            }
        }
        Inputs::Open(ty) => text.push_str(&format!("  any names, each one or a list of {ty}\n")),
    }
    text.push_str("outputs:\n");
    match &info.outputs {
        Outputs::Fixed(ports) => {
            for p in ports {
                text.push_str(&format!("  {:<16} {:<16} {}\n", p.name, p.ty.to_string(), p.doc));
            }
        }
        Outputs::FromParams(doc) => text.push_str(&format!("  {doc}\n")),
    }
    text.push_str("params:\n");
    if info.params.is_empty() {
        text.push_str("  none\n");
    }
    for p in &info.params {
        let default = match &p.default {
            Some(d) => format!("default {d}"),
            None => "required".to_string(),
        };
        text.push_str(&format!("  {} ({}, {default})\n      {}\n", p.name, p.ty, p.doc));
    }
    text
}

fn kind_json(kind: &dyn NodeKind) -> serde_json::Value {
    let info = kind.info();
    let port = |p: &flow_engine::kind::PortSpec| json!({"name": p.name, "type": p.ty.to_string(), "doc": p.doc, "required": p.required, "many": p.many});
    json!({
        "kind": kind.name(),
        "version": kind.version(),
        "summary": info.summary,
        "inputs": match &info.inputs {
            Inputs::Fixed(ports) => json!(ports.iter().map(port).collect::<Vec<_>>()),
            Inputs::Open(ty) => json!({"any": ty.to_string()}),
        },
        "outputs": match &info.outputs {
            Outputs::Fixed(ports) => json!(ports.iter().map(port).collect::<Vec<_>>()),
            Outputs::FromParams(doc) => json!({"from_params": doc}),
        },
        "params": info.params,
    })
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
