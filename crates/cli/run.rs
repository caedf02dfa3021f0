//! `flow run`.

use std::sync::Arc;

use flow_engine::cancel::CancelToken;
use flow_engine::digest::Digest;
use flow_engine::exec::{self, RunOptions};
use flow_engine::executor::{Executor, Local};
use flow_engine::store::runs::{RunRecord, new_run_id};
use flow_engine::store::{Store, create_private_dir, create_private_file};
use flow_engine::workflow::cache::{self, Loaded};
use flow_engine::workflow::cluster::MIN_POLL_SECONDS;
use flow_engine::workflow::model::Workflow;
use flow_engine::workflow::{ClusterDefaults, LoadOptions, Placement, parse_memory};

use crate::args::{ExecutorName, PlanArgs, RunArgs, WorkflowArgs};
use crate::commands::{Context, lock_store};
use crate::display::{Paint, Progress, log_tail, summary_table};
use crate::{CliError, logging, out};

/// Lines of a failed node's log shown on the console.
const TAIL_LINES: usize = 20;

pub fn run(ctx: &Context, args: &RunArgs) -> Result<(), CliError> {
    if args.dry_run {
        let plan = PlanArgs { workflow: args.workflow.clone(), select: args.select.clone(), json: args.json };
        return crate::commands::plan_cmd(ctx, &plan);
    }
    // Everything about the workflow is checked before the store is touched.
    let loaded = load_workflow(ctx, &args.workflow)?;
    let selection = crate::commands::selection(&loaded.workflow, &args.select)?;
    // The command line over the project's flow.config.yaml over the workflow's `cluster:`.
    let cluster = command_line_cluster(args).over(&ctx.config.cluster.over(&loaded.workflow.cluster));
    let executor_name = match cluster.executor.as_deref() {
        Some("slurm") => ExecutorName::Slurm,
        _ => ExecutorName::Local,
    };
    check_executor_args(&cluster, executor_name)?;
    let workflow = loaded.workflow;
    let jobs = match args.jobs {
        Some(0) => return Err(CliError::Usage("-j must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let memory_budget = match &args.memory {
        Some(text) => parse_memory(&serde_json::Value::String(text.clone()))
            .ok_or_else(|| CliError::Usage(format!("--memory {text}: write a size like 16G or 512M")))?,
        None => physical_memory().unwrap_or(u64::MAX / 2),
    };

    create_private_dir(&ctx.state.root)
        .map_err(|e| CliError::Internal(format!("{}: {e}", ctx.state.root.display())))?;
    let lock = lock_store(ctx, args.no_wait)?;
    ctx.state.create().map_err(|e| CliError::Internal(format!("{}: {e}", ctx.state.root.display())))?;
    // A Slurm run adopts them (and cancels those it has no use for); a local one cancels them.
    let leftovers = match executor_name {
        ExecutorName::Slurm => Ok(0),
        ExecutorName::Local => flow_slurm::cancel_unfinished(&ctx.state.root),
    };
    match leftovers {
        Ok(0) => {}
        Ok(n) => {
            eprintln!("flow: cancelled {n} Slurm job(s) that an earlier, killed run of this store left in the queue")
        }
        Err(problem) => eprintln!("flow: warning: cannot look for Slurm jobs an earlier, killed run left: {problem}"),
    }
    if !loaded.hit {
        // Only a workflow that loaded cleanly gets here; a cache that cannot be written is no error.
        let _ = cache::save(&ctx.state.root.join(cache::DIR_NAME), &loaded.key, &workflow);
    }

    let run_id = new_run_id();
    let log_path = ctx.state.runs_dir().join(format!("{run_id}.log"));
    let log_file =
        create_private_file(&log_path).map_err(|e| CliError::Internal(format!("{}: {e}", log_path.display())))?;
    logging::init_run(ctx.verbose, log_file);
    tracing::info!(workflow = %workflow.file.display(), nodes = workflow.nodes.len(), jobs, "run {run_id}");

    let mut store = Store::open_locked(ctx.state.clone(), &lock)?;
    let progress = Arc::new(Progress::new(ctx.quiet));
    let executor = executor(ctx, args, executor_name, &cluster, &workflow, &run_id)?;
    let options = RunOptions {
        run_id,
        jobs,
        memory_budget,
        keep_going: args.keep_going,
        overwrite: args.overwrite,
        cancel: CancelToken::new(),
        observer: progress.clone(),
        // Read only where it is used: a 10k-node record costs a no-op run milliseconds.
        previous: workflow
            .nodes
            .iter()
            .any(|n| n.map.is_some())
            .then(|| ctx.last_run(&workflow))
            .flatten()
            .map(Arc::new),
        executor,
        selection,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))?;
    let workflow = Arc::new(workflow);
    let outcome = runtime.block_on(exec::run(workflow.clone(), &mut store, options)).map_err(|e| {
        if e.is_user_error() { CliError::Usage(e.to_string()) } else { CliError::Internal(e.to_string()) }
    })?;
    progress.finish();
    tracing::info!(files_read = outcome.files_read, status = %outcome.record.status, "run finished");

    for failure in &outcome.failures {
        eprintln!("error: node '{}' failed: {}", failure.node, failure.error);
        let tail = log_tail(&failure.log, TAIL_LINES);
        if !tail.is_empty() {
            eprintln!("  --- last {} lines of {} ---", tail.len(), failure.log.display());
            for line in tail {
                eprintln!("  | {line}");
            }
        } else {
            eprintln!("  log: {}", failure.log.display());
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&outcome.record).map_err(|e| CliError::Internal(e.to_string()))?;
        out(&format!("{json}\n"));
    } else if !ctx.quiet {
        out(&summary_table(&outcome.record, Paint::for_stdout()));
        out(&shown_outputs(&workflow, &outcome.record, &store));
        if outcome.publish_error.is_none() && !outcome.cancelled {
            out(&published_line(&workflow, &outcome.record));
        }
    }
    for warning in &outcome.record.warnings {
        eprintln!("warning: {warning}");
    }
    if outcome.cancelled {
        Err(CliError::Interrupted(outcome.signal.unwrap_or(libc::SIGINT)))
    } else if let Some(error) = outcome.publish_error {
        if error.is_user_error() {
            Err(CliError::Usage(error.to_string()))
        } else {
            Err(CliError::Internal(error.to_string()))
        }
    } else if let Some(failure) = outcome.failures.iter().find(|f| f.store) {
        Err(CliError::Internal(format!("node '{}': {}", failure.node, failure.error)))
    } else if !outcome.failures.is_empty() && outcome.failures.iter().all(|f| f.bad_input) {
        Err(CliError::BadData)
    } else if !outcome.failures.is_empty() {
        Err(CliError::NodesFailed)
    } else {
        Ok(())
    }
}

/// Where the run's results went: the publish destinations of nodes it built or found cached,
/// a folder's `report.html` or `index.html` named outright, since that is what one opens.
fn published_line(workflow: &Workflow, record: &RunRecord) -> String {
    let done: std::collections::HashSet<&str> =
        record.nodes.iter().filter(|n| !n.outputs.is_empty()).map(|n| n.name.as_str()).collect();
    let places: Vec<String> = workflow
        .publish
        .iter()
        .filter(|target| done.contains(workflow.node(target.node).name.as_str()))
        .map(|target| {
            let dest = workflow.project_dir.join(&target.dest);
            let page = ["report.html", "index.html"].iter().map(|page| dest.join(page)).find(|page| page.is_file());
            let shown = page.unwrap_or(dest);
            shown.strip_prefix(&workflow.project_dir).unwrap_or(&shown).display().to_string()
        })
        .collect();
    if places.is_empty() { String::new() } else { format!("results: {}\n", places.join(", ")) }
}

/// The outputs kinds mark as shown (results tables), in workflow order, for every node that has
/// them in this run, ran or cached.
fn shown_outputs(workflow: &Workflow, record: &RunRecord, store: &Store) -> String {
    const LIMIT: u64 = 64 * 1024;
    let mut text = String::new();
    // By name once: a search of the record per node was quadratic, a third of a 10k-node no-op.
    let by_name: std::collections::HashMap<&str, _> = record.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    for node in workflow.nodes.iter().filter(|n| n.outputs.iter().any(|p| p.shown)) {
        let Some(done) = by_name.get(node.name.as_str()) else { continue };
        for port in node.outputs.iter().filter(|p| p.shown) {
            let Some(digest) = done.outputs.get(&port.name).and_then(|d| d.parse::<Digest>().ok()) else { continue };
            let path = store.cas.object_path(&digest);
            // A shown output is a small text; anything else is left to the file itself.
            let readable = std::fs::metadata(&path).map(|m| m.is_file() && m.len() <= LIMIT).unwrap_or(false);
            let Some(body) = readable.then(|| std::fs::read_to_string(&path).ok()).flatten() else { continue };
            text.push_str(&format!("\n{}.{}\n{}", node.name, port.name, body));
            if !body.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    text
}

/// Loads and validates a workflow, through the validated-workflow cache when it has an entry;
/// the workflow's `file` becomes absolute so run records match it from any working directory.
pub fn load_workflow(ctx: &Context, args: &WorkflowArgs) -> Result<Loaded, CliError> {
    let options = LoadOptions {
        registry: &ctx.registry,
        overrides: &args.set,
        project_dir: &ctx.project_dir,
        state_dir: &ctx.state.root,
    };
    let cache_dir = ctx.state.root.join(cache::DIR_NAME);
    // `dispatch` has found the file by now.
    let file = args.file.as_deref().unwrap_or(std::path::Path::new(crate::project::DEFAULT_WORKFLOW));
    let mut loaded = cache::load_cached(file, &options, &cache_dir).map_err(CliError::Input)?;
    if let Ok(absolute) = std::fs::canonicalize(file) {
        loaded.workflow.file = absolute;
    }
    Ok(loaded)
}

/// What the command line says about where jobs go, as a `cluster:` section would.
fn command_line_cluster(args: &RunArgs) -> ClusterDefaults {
    let slurm = &args.slurm;
    ClusterDefaults {
        executor: args.executor.map(|name| match name {
            ExecutorName::Local => "local".to_string(),
            ExecutorName::Slurm => "slurm".to_string(),
        }),
        jobs: Placement {
            local: false,
            time: slurm.slurm_time.clone(),
            partition: slurm.slurm_partition.clone(),
            account: slurm.slurm_account.clone(),
            qos: slurm.slurm_qos.clone(),
            options: slurm.slurm_options.clone(),
        },
        poll_seconds: slurm.slurm_poll,
    }
}

/// Mistakes in the executor's options, found before the store is touched. The files' settings
/// were checked when they were read; what is left is the command line's.
fn check_executor_args(cluster: &ClusterDefaults, name: ExecutorName) -> Result<(), CliError> {
    if name != ExecutorName::Slurm {
        return Ok(());
    }
    if let Some(time) = &cluster.jobs.time
        && flow_engine::workflow::time_minutes(time).is_none()
    {
        return Err(CliError::Usage(format!(
            "--slurm-time {time}: write minutes (30), H:MM:SS (2:00:00) or D-HH:MM:SS (1-00:00:00)"
        )));
    }
    if let Some(poll) = cluster.poll_seconds
        && poll < MIN_POLL_SECONDS
    {
        return Err(CliError::Usage(format!(
            "--slurm-poll {poll}: flow asks Slurm for its jobs' states at most once every {MIN_POLL_SECONDS} s; \
             give {MIN_POLL_SECONDS} or more"
        )));
    }
    if std::process::Command::new("sbatch").arg("--version").output().is_err() {
        return Err(CliError::Usage(
            "--executor slurm: there is no `sbatch` on PATH; run flow where Slurm's commands are installed".into(),
        ));
    }
    Ok(())
}

/// Where this run's nodes run (`--executor`).
fn executor(
    ctx: &Context,
    args: &RunArgs,
    name: ExecutorName,
    cluster: &ClusterDefaults,
    workflow: &Workflow,
    run_id: &str,
) -> Result<Arc<dyn Executor>, CliError> {
    match name {
        ExecutorName::Local => Ok(Arc::new(Local)),
        ExecutorName::Slurm => {
            let flow = std::env::current_exe()
                .map_err(|e| CliError::Internal(format!("cannot find the flow binary for the jobs to run: {e}")))?;
            let jobs = &cluster.jobs;
            let defaults = flow_slurm::Settings::default();
            let settings = flow_slurm::Settings {
                partition: jobs.partition.clone(),
                account: jobs.account.clone(),
                qos: jobs.qos.clone(),
                time: jobs.time.clone(),
                extra: jobs.options.clone(),
                poll_interval: cluster
                    .poll_seconds
                    .map(std::time::Duration::from_secs)
                    .unwrap_or(defaults.poll_interval),
                ..defaults
            };
            // Absolute paths: the jobs start elsewhere.
            let jobs_dir = std::path::absolute(ctx.state.root.join("slurm").join(run_id))
                .map_err(|e| CliError::Internal(format!("{}: {e}", ctx.state.root.display())))?;
            Ok(Arc::new(flow_slurm::Slurm::start(
                settings,
                format!("flow-{run_id}"),
                jobs_dir,
                workflow.file.clone(),
                args.workflow.set.clone(),
                flow,
                ctx.project_dir.clone(),
                ctx.state.root.clone(),
            )))
        }
    }
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
