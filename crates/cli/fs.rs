//! `flow fs`: look into the feature store the run's nodes write (`STATE/featurestore`): list
//! groups, describe one, GetRecord, and SQL over groups, with tables printed as aligned text.

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use flow_engine::diagnostic::suggestion;
use flow_featurestore::polars::prelude::{AnyValue, DataFrame};
use flow_featurestore::{AsOf, FeatureStore, FsError, Manifest, time};
use serde_json::{Value, json};

use flow_engine::digest::Digest;
use flow_engine::store::Store;
use flow_engine::store::cas::Cas;
use flow_engine::store::runs::{RunRecord, list_runs};

use crate::commands::{Context, lock_store};
use crate::{CliError, out};

#[derive(Args, Debug)]
pub struct FsArgs {
    #[command(subcommand)]
    pub command: FsCommand,
}

#[derive(Subcommand, Debug)]
pub enum FsCommand {
    /// List the feature groups
    List {
        /// Print as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show a group's keys, schema and versions
    Describe {
        group: String,
        /// Print the group's manifest as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show the latest record of an id (GetRecord), or its state as of a version or time
    Get {
        group: String,
        id: String,
        /// Read the offline store as of version vN or a UTC time (2026-11-03T12:00)
        #[arg(long, value_name = "vN|TIME")]
        as_of: Option<String>,
        /// Print as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Run SQL over groups; each group is a table of its latest record per id
    Query {
        sql: String,
        /// Read every group as of version vN or a UTC time (2026-11-03T12:00)
        #[arg(long, value_name = "vN|TIME")]
        as_of: Option<String>,
        /// Rows to print (0: all)
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
        /// Print every row as CSV on stdout instead of a table
        #[arg(long)]
        csv: bool,
    },
    /// Delete a group, every version of it; the nodes that wrote it write it again next run
    Drop {
        group: String,
        /// Fail at once if another flow process holds the store, instead of waiting
        #[arg(long)]
        no_wait: bool,
    },
}

pub fn fs_cmd(ctx: &Context, args: &FsArgs) -> Result<(), CliError> {
    let store = FeatureStore::new(ctx.state.root.join("featurestore"));
    match &args.command {
        FsCommand::Drop { group, no_wait } => {
            store.manifest(group).map_err(cli_error)?;
            let lock = lock_store(ctx, *no_wait)?;
            let mut cas_store = Store::open_locked(ctx.state.clone(), &lock)?;
            let writers = drop_groups(ctx, &mut cas_store, &store, std::slice::from_ref(group))?;
            out(&format!(
                "dropped feature group {group}; {writers} cached write(s) of it forgotten, so the nodes that wrote it write it again on their next run\n"
            ));
            Ok(())
        }
        FsCommand::List { json } => list(&store, *json),
        FsCommand::Describe { group, json } => describe(&store, group, *json),
        FsCommand::Get { group, id, as_of, json } => get(&store, group, id, as_of.as_deref(), *json),
        FsCommand::Query { sql, as_of, limit, csv } => {
            let as_of = parse_as_of(as_of.as_deref())?;
            let table = store.query(sql, as_of).map_err(|e| cli_error(suggest_table(&store, e)))?;
            if *csv {
                out(&csv_text(&table));
            } else {
                out(&table_text(&table, *limit));
            }
            Ok(())
        }
    }
}

/// The groups that `featurestore.write` nodes of `runs` wrote, with their receipts' digests.
pub fn written_groups(cas: &Cas, runs: &[RunRecord]) -> Vec<(String, Digest)> {
    let mut found = Vec::new();
    for node in runs.iter().flat_map(|run| &run.nodes).filter(|node| node.kind == "featurestore.write") {
        let Some(digest) = node.outputs.get("receipt").and_then(|d| d.parse::<Digest>().ok()) else { continue };
        let receipt = std::fs::read(cas.object_path(&digest))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<flow_featurestore::Receipt>(&bytes).ok());
        if let Some(receipt) = receipt {
            found.push((receipt.group, digest));
        }
    }
    found
}

/// Drops `groups` after forgetting every cached write of them (a cached `featurestore.write`
/// would otherwise never write a dropped group again); the caller holds the store lock.
/// Returns how many cached writes were forgotten.
pub fn drop_groups(
    ctx: &Context,
    cas_store: &mut Store,
    store: &FeatureStore,
    groups: &[String],
) -> Result<usize, CliError> {
    let runs = list_runs(&ctx.state, usize::MAX);
    let receipts: std::collections::BTreeSet<Digest> = written_groups(&cas_store.cas, &runs)
        .into_iter()
        .filter(|(group, _)| groups.contains(group))
        .map(|(_, d)| d)
        .collect();
    let actions = ctx.state.actions_path();
    let mut forgotten = 0;
    for receipt in &receipts {
        forgotten += cas_store
            .actions
            .invalidate(receipt)
            .map_err(|e| CliError::Internal(format!("{}: {e}", actions.display())))?
            .len();
    }
    for group in groups {
        store.drop_group(group).map_err(cli_error)?;
    }
    Ok(forgotten)
}

/// Unknown groups and SQL errors are the user's input (exit 2), with a did-you-mean.
fn cli_error(error: FsError) -> CliError {
    match error {
        FsError::UnknownGroup { name, known } => {
            let hint = suggestion(&name, known.iter().map(String::as_str));
            let list = if known.is_empty() { "the store has no groups yet".into() } else { known.join(", ") };
            CliError::Usage(format!("no feature group '{name}'{hint}; groups: {list}"))
        }
        e @ (FsError::Sql { .. } | FsError::UnknownVersion { .. } | FsError::BadGroupName(_)) => {
            CliError::Usage(e.to_string())
        }
        e => CliError::Internal(e.to_string()),
    }
}

/// "relation 'genomix' was not found" gets a did-you-mean over the groups.
fn suggest_table(store: &FeatureStore, error: FsError) -> FsError {
    let FsError::Sql { query, message } = error else { return error };
    let missing = message.split("relation '").nth(1).and_then(|rest| rest.split('\'').next());
    let hint = match (missing, store.groups()) {
        (Some(name), Ok(groups)) => suggestion(name, groups.iter().map(String::as_str)),
        _ => String::new(),
    };
    FsError::Sql { query, message: format!("{message}{hint}") }
}

fn parse_as_of(text: Option<&str>) -> Result<AsOf, CliError> {
    let Some(text) = text else { return Ok(AsOf::Latest) };
    if let Some(version) = text.strip_prefix('v').and_then(|v| v.parse().ok()) {
        return Ok(AsOf::Version(version));
    }
    time::parse_utc(text).map(AsOf::WriteTime).ok_or_else(|| {
        CliError::Usage(format!("--as-of '{text}': use vN (a version) or a UTC time like 2026-11-03T12:00"))
    })
}

fn list(store: &FeatureStore, as_json: bool) -> Result<(), CliError> {
    let groups = store.groups().map_err(cli_error)?;
    let manifests: Vec<Manifest> =
        groups.iter().map(|g| store.manifest(g)).collect::<Result<_, _>>().map_err(cli_error)?;
    if as_json {
        let value: Vec<Value> = manifests
            .iter()
            .map(|m| {
                json!({
                    "group": m.name, "record_id": m.record_id, "event_time": m.event_time,
                    "columns": m.schema.len(), "versions": m.latest_version(),
                    "last_write": m.ingestions.last().map(|i| i.write_time.clone()),
                })
            })
            .collect();
        out(&format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default()));
        return Ok(());
    }
    if manifests.is_empty() {
        out(&format!("no feature groups in {} yet: a featurestore.write node creates them\n", store.root().display()));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = manifests
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.record_id.clone(),
                m.event_time.clone(),
                m.schema.len().to_string(),
                m.latest_version().to_string(),
                m.ingestions.iter().map(|i| i.rows).sum::<u64>().to_string(),
                m.ingestions.last().map(|i| i.write_time.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["group", "record id", "event time", "columns", "versions", "rows written", "last write (UTC)"];
    out(&aligned(&header, &rows, &[false, false, false, true, true, true, false]));
    Ok(())
}

fn describe(store: &FeatureStore, group: &str, as_json: bool) -> Result<(), CliError> {
    let m = store.manifest(group).map_err(cli_error)?;
    if as_json {
        out(&format!("{}\n", serde_json::to_string_pretty(&m).unwrap_or_default()));
        return Ok(());
    }
    let mut text = format!(
        "feature group {}\n  record id   {}\n  event time  {}\n  stored in   {}\n\nschema ({} columns):\n",
        m.name,
        m.record_id,
        m.event_time,
        store.root().join(&m.name).display(),
        m.schema.len()
    );
    let width = m.schema.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
    for c in &m.schema {
        text.push_str(&format!("  {:<width$}  {}\n", c.name, c.dtype));
    }
    text.push_str("\nversions:\n");
    let rows: Vec<Vec<String>> = m
        .ingestions
        .iter()
        .map(|i| {
            let kind = format!("{:?}", i.kind).to_lowercase();
            vec![
                i.version.to_string(),
                kind,
                i.rows.to_string(),
                i.write_time.clone(),
                i.digest.get(..16).unwrap_or(&i.digest).to_string(),
            ]
        })
        .collect();
    let table =
        aligned(&["version", "kind", "rows", "write time (UTC)", "digest"], &rows, &[true, false, true, false, false]);
    text.extend(table.lines().map(|line| format!("  {line}\n")));
    out(&text);
    Ok(())
}

fn get(store: &FeatureStore, group: &str, id: &str, as_of: Option<&str>, as_json: bool) -> Result<(), CliError> {
    let manifest = store.manifest(group).map_err(cli_error)?;
    let (values, source): (Vec<(String, Value)>, String) = match parse_as_of(as_of)? {
        AsOf::Latest => {
            let online = store.online(group).map_err(cli_error)?;
            match online.get(id).map_err(cli_error)? {
                Some(record) => (record.values, format!("version {}", record.version)),
                None => {
                    let why = match online.deleted_in(id).map_err(cli_error)? {
                        Some(version) => format!("it was deleted in version {version}"),
                        None => format!("ids are values of column '{}'", manifest.record_id),
                    };
                    return Err(CliError::Usage(format!("no record '{id}' in feature group '{group}' ({why})")));
                }
            }
        }
        past => {
            let table = store.read(group, past).map_err(cli_error)?;
            let row = find_row(&table, &manifest.record_id, id)?.ok_or_else(|| {
                CliError::Usage(format!("no record '{id}' in feature group '{group}' as of {}", as_of.unwrap_or("")))
            })?;
            let values = table.columns().iter().map(|c| (c.name().to_string(), cell_json(c.get(row)))).collect();
            (values, format!("as of {}", as_of.unwrap_or("")))
        }
    };
    if as_json {
        let object: serde_json::Map<String, Value> = values.into_iter().collect();
        out(&format!("{}\n", serde_json::to_string_pretty(&Value::Object(object)).unwrap_or_default()));
        return Ok(());
    }
    let mut text = format!("{group} record {id} ({source})\n");
    let width = values.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
    for (name, value) in &values {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!("  {name:<width$}  {shown}\n"));
    }
    out(&text);
    Ok(())
}

/// The row whose id column, as text, is `id`.
fn find_row(table: &DataFrame, id_column: &str, id: &str) -> Result<Option<usize>, CliError> {
    let column = table.column(id_column).map_err(|e| CliError::Internal(e.to_string()))?;
    Ok(column.as_materialized_series().iter().position(|v| cell_text(&v) == id))
}

fn cell_json(value: Result<AnyValue<'_>, impl std::fmt::Display>) -> Value {
    match value {
        Ok(v) => flow_featurestore::online::json_value(v),
        Err(e) => Value::String(format!("<{e}>")),
    }
}

/// A cell as text: strings bare, floats shortened for reading.
fn cell_text(value: &AnyValue<'_>) -> String {
    match value {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(v) => float_text(*v),
        AnyValue::Float32(v) => float_text(f64::from(*v)),
        other => other.to_string(),
    }
}

fn float_text(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return v.to_string();
    }
    if v.abs() >= 1e7 || v.abs() < 1e-4 {
        return format!("{v:.4e}");
    }
    let text = format!("{v:.6}");
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') { format!("{trimmed}0") } else { trimmed.to_string() }
}

/// The first `limit` rows as aligned text. On a terminal, columns that do not fit its width
/// are left out and named; pipes get every column.
fn table_text(table: &DataFrame, limit: usize) -> String {
    let shown_rows = if limit == 0 { table.height() } else { table.height().min(limit) };
    let columns = table.columns();
    let mut header: Vec<String> = Vec::new();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); shown_rows];
    let mut numeric = Vec::new();
    let max_width = terminal_width();
    let mut used = 0;
    let mut hidden = Vec::new();
    for column in columns {
        let mut texts: Vec<String> = Vec::with_capacity(shown_rows);
        let series = column.as_materialized_series();
        for value in series.iter().take(shown_rows) {
            let text = cell_text(&value);
            texts.push(if text.chars().count() > 40 {
                format!("{}…", text.chars().take(39).collect::<String>())
            } else {
                text
            });
        }
        let width = texts.iter().map(|t| t.chars().count()).chain([column.name().chars().count()]).max().unwrap_or(0);
        if max_width.is_some_and(|max| used + width + 2 > max && !header.is_empty()) {
            hidden.push(column.name().to_string());
            continue;
        }
        used += width + 2;
        header.push(column.name().to_string());
        numeric.push(column.dtype().is_primitive_numeric());
        for (row, text) in cells.iter_mut().zip(texts) {
            row.push(text);
        }
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut text = aligned(&header_refs, &cells, &numeric);
    if shown_rows < table.height() {
        text.push_str(&format!(
            "… {} more rows (--limit 0 shows all, --csv prints all)\n",
            table.height() - shown_rows
        ));
    }
    if !hidden.is_empty() {
        let names = if hidden.len() > 8 { format!("{}, …", hidden[..8].join(", ")) } else { hidden.join(", ") };
        text.push_str(&format!("… {} more columns not shown: {names}\n", hidden.len()));
    }
    text.push_str(&format!("{} rows x {} columns\n", table.height(), table.width()));
    text
}

fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    Some(std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(120))
}

/// Columns separated by two spaces, numbers right-aligned, a rule under the header.
fn aligned(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cells
            .zip(&widths)
            .zip(right.iter().chain(std::iter::repeat(&false)))
            .map(|((cell, &w), &r)| if r { format!("{cell:>w$}") } else { format!("{cell:<w$}") })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut text = line(&mut header.iter().copied());
    text.push_str(&line(&mut widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str)));
    for row in rows {
        text.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    text
}

/// Every row as RFC 4180 CSV; floats at full precision.
fn csv_text(table: &DataFrame) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
    };
    let columns = table.columns();
    let mut text = columns.iter().map(|c| quote(c.name())).collect::<Vec<_>>().join(",");
    text.push('\n');
    let series: Vec<_> = columns.iter().map(|c| c.as_materialized_series().rechunk()).collect();
    for row in 0..table.height() {
        let cells: Vec<String> = series
            .iter()
            .map(|s| match s.get(row) {
                Ok(AnyValue::Null) => String::new(),
                Ok(AnyValue::Float64(v)) => v.to_string(),
                Ok(AnyValue::Float32(v)) => v.to_string(),
                Ok(v) => quote(&cell_text(&v)),
                Err(_) => String::new(),
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_well() {
        assert_eq!(float_text(0.1 + 0.2), "0.3");
        assert_eq!(float_text(2.0), "2.0");
        assert_eq!(float_text(123456789.0), "1.2346e8");
        assert_eq!(float_text(f64::NAN), "NaN");
    }

    #[test]
    fn as_of_parses_versions_and_times() {
        assert_eq!(parse_as_of(Some("v3")).ok(), Some(AsOf::Version(3)));
        assert_eq!(parse_as_of(Some("1970-01-02")).ok(), Some(AsOf::WriteTime(86_400_000)));
        assert!(parse_as_of(Some("yesterday")).is_err());
    }
}
