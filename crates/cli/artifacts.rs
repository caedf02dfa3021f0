//! `flow log`, `flow cat` and `flow path`: what runs left behind, found by node name, without
//! knowing where the state directory keeps it.

use std::io::Write;
use std::path::{Path, PathBuf};

use flow_engine::diagnostic::suggestion;
use flow_engine::digest::Digest;
use flow_engine::store::runs::{NodeRecord, NodeStatus, RunRecord, list_runs, run_by_id, runs_newest_first};
use flow_engine::store::{Store, Verdict};

use crate::args::{ArtifactArgs, LogArgs};
use crate::commands::Context;
use crate::{CliError, out};

/// How many recent runs are searched for a node.
const RUNS_SEARCHED: usize = 1000;

/// `flow log NODE` or `NODE[ITEM]`: the log of the newest run in which it ran (or `--run`).
pub fn log_cmd(ctx: &Context, args: &LogArgs) -> Result<(), CliError> {
    let (node, item) = match args.node.split_once('[') {
        Some((node, rest)) => (node, Some(rest.strip_suffix(']').unwrap_or(rest))),
        None => (args.node.as_str(), None),
    };
    // Cached nodes write no log: the newest run in which this one ran or failed.
    let found = newest(ctx, args.run.as_deref(), |run| {
        let record = run.nodes.iter().find(|n| n.name == node)?;
        matches!(record.status, NodeStatus::Ran | NodeStatus::Failed).then(|| record.log.clone())
    });
    let Some((run, log)) = found else {
        return Err(not_found(&runs(ctx, args.run.as_deref())?, node, "ran", args.run.as_deref()));
    };
    let logs = ctx.state.logs_dir().join(&run.id);
    let path = match item {
        Some(item) => logs.join(format!("{node}[{item}].log")),
        None => log.map(PathBuf::from).unwrap_or_else(|| logs.join(format!("{node}.log"))),
    };
    let bytes = std::fs::read(&path).map_err(|e| match (e.kind(), item) {
        (std::io::ErrorKind::NotFound, Some(item)) => {
            let items = item_logs(&logs, node);
            let hint = suggestion(item, items.iter().map(String::as_str));
            CliError::Usage(format!(
                "run {} has no log of item '{item}' of node '{node}'{hint} ({} item logs; `ls {}`)",
                run.id,
                items.len(),
                logs.display()
            ))
        }
        _ => CliError::Usage(format!("cannot read {}: {e}", path.display())),
    })?;
    ctx.note(&format!("log of '{}' in run {} ({})", args.node, run.id, run.status));
    write_bytes(&bytes)
}

/// `flow cat NODE.PORT`: an output's bytes, or for a folder the files in it.
pub fn cat_cmd(ctx: &Context, args: &ArtifactArgs) -> Result<(), CliError> {
    let path = verified_output(ctx, args)?;
    if path.is_dir() {
        let mut files = Vec::new();
        list_files(&path, &path, &mut files).map_err(|e| CliError::Internal(format!("{}: {e}", path.display())))?;
        files.sort();
        out(&files.iter().map(|f| format!("{f}\n")).collect::<String>());
        return Ok(());
    }
    let bytes = std::fs::read(&path).map_err(|e| CliError::Internal(format!("{}: {e}", path.display())))?;
    write_bytes(&bytes)
}

/// `flow path NODE.PORT`: where the output sits in the store (read-only: never edit it).
pub fn path_cmd(ctx: &Context, args: &ArtifactArgs) -> Result<(), CliError> {
    let path = verified_output(ctx, args)?;
    out(&format!("{}\n", path.display()));
    Ok(())
}

/// The output's object in the store, checked against its digest first: flow never hands out
/// an object it has not verified.
fn verified_output(ctx: &Context, args: &ArtifactArgs) -> Result<PathBuf, CliError> {
    let Some((node, port)) = args.output.rsplit_once('.') else {
        return Err(CliError::Usage(format!("'{}' is not NODE.PORT (e.g. train.model)", args.output)));
    };
    let found =
        newest(ctx, args.run.as_deref(), |run| run.nodes.iter().find(|n| n.name == node)?.outputs.get(port).cloned());
    let Some((run, digest)) = found else {
        let runs = runs(ctx, args.run.as_deref())?;
        // The node is known but has no such port: say which ports it has.
        if let Some(record) = runs.iter().flat_map(|r| r.nodes.iter()).find(|n| n.name == node && !n.outputs.is_empty())
        {
            let hint = suggestion(port, record.outputs.keys().map(String::as_str));
            let ports: Vec<&str> = record.outputs.keys().map(String::as_str).collect();
            return Err(CliError::Usage(format!(
                "node '{node}' has no output '{port}'{hint}; its outputs: {}",
                ports.join(", ")
            )));
        }
        return Err(not_found(&runs, node, "produced outputs", args.run.as_deref()));
    };
    let digest: Digest = digest
        .parse()
        .map_err(|_| CliError::Internal(format!("run {} records a damaged digest for {}", run.id, args.output)))?;
    let mut store = Store::open(ctx.state.clone())?;
    let path = store.cas.object_path(&digest);
    match store.check(&digest)? {
        Verdict::Intact => Ok(path),
        Verdict::Missing => Err(CliError::Usage(format!(
            "{} of run {} is no longer in the store (collected by `flow gc`?); `flow run` rebuilds it",
            args.output, run.id
        ))),
        Verdict::Corrupt { .. } => Err(CliError::Internal(format!(
            "{} of run {} changed on disk since it was stored ({}); `flow verify` quarantines it and the next run rebuilds it",
            args.output,
            run.id,
            path.display()
        ))),
    }
}

/// The newest run (of the last `RUNS_SEARCHED`, or the one `--run` names) in which `pick` finds
/// what is asked, with what it found. Records are read one at a time: a large workflow's are
/// megabytes each, and the newest usually answers.
fn newest<T>(
    ctx: &Context,
    run: Option<&str>,
    mut pick: impl FnMut(&RunRecord) -> Option<T>,
) -> Option<(RunRecord, T)> {
    match run {
        Some(id) => run_by_id(&ctx.state, id).and_then(|record| pick(&record).map(|found| (record, found))),
        None => runs_newest_first(&ctx.state)
            .take(RUNS_SEARCHED)
            .find_map(|record| pick(&record).map(|found| (record, found))),
    }
}

/// The run records searched, newest first (one run if `--run` names it), all at once: for the
/// messages when nothing was found.
fn runs(ctx: &Context, run: Option<&str>) -> Result<Vec<RunRecord>, CliError> {
    let runs = list_runs(&ctx.state, RUNS_SEARCHED);
    if runs.is_empty() {
        return Err(CliError::Usage(format!(
            "no runs recorded in {}: `flow run WORKFLOW` first (or give the project with -C)",
            ctx.state.root.display()
        )));
    }
    match run {
        None => Ok(runs),
        Some(id) => match runs.iter().find(|r| r.id == id) {
            Some(found) => Ok(vec![found.clone()]),
            None => {
                let hint = suggestion(id, runs.iter().map(|r| r.id.as_str()));
                Err(CliError::Usage(format!("no run '{id}'{hint}; `flow status` lists the recent ones")))
            }
        },
    }
}

fn not_found(runs: &[RunRecord], node: &str, what: &str, run: Option<&str>) -> CliError {
    let mut names: Vec<&str> = runs.iter().flat_map(|r| r.nodes.iter().map(|n: &NodeRecord| n.name.as_str())).collect();
    names.sort_unstable();
    names.dedup();
    let known = names.binary_search(&node).is_ok();
    let place = match run {
        Some(id) => format!("run {id}"),
        None => "the recorded runs".to_string(),
    };
    if known {
        CliError::Usage(format!("node '{node}' never {what} in {place} (it was cached or skipped)"))
    } else {
        let hint = suggestion(node, names.iter().copied());
        CliError::Usage(format!("no node '{node}' in {place}{hint}"))
    }
}

fn item_logs(logs: &Path, node: &str) -> Vec<String> {
    let prefix = format!("{node}[");
    std::fs::read_dir(logs)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix(&prefix)?.strip_suffix("].log").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn list_files(root: &Path, dir: &Path, files: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_files(root, &path, files)?;
        } else {
            files.push(path.strip_prefix(root).unwrap_or(&path).display().to_string());
        }
    }
    Ok(())
}

/// Raw bytes to stdout; a closed pipe (`flow cat x | head`) ends quietly.
fn write_bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Internal(format!("writing output: {e}"))),
    }
}
