//! Mapped nodes: one action per item of one input.
//!
//! A node with `map: PORT` runs once per item of what is bound to PORT: each entry of a `dir`
//! artifact (one patient's CT and mask), each artifact when several are bound (a list or a
//! `file:` glob), or each row of a samplesheet (CSV/TSV with an id column, `map: { over: PORT,
//! id: COLUMN }`). A row's item is a one-row sheet stored in the CAS; its digest also covers the
//! content of every file a cell names, so editing a patient's image reruns that patient.
//! Each item is its own action, keyed like the node with PORT holding that item alone plus the
//! item's id, so adding one patient runs one item and changing one patient's scan reruns that
//! patient's items only. The node's outputs are the items' outputs gathered per port into one
//! `dir` with an entry per item id, in id order: the same items give the same bytes, so nodes
//! downstream keep their cache (early cutoff).
//!
//! The whole node also keeps a key of its own (the mapped input whole): an unchanged cohort is
//! one lookup, not one per item.
//!
//! The scheduler (`exec`) owns running; this module owns what an item is, its key and the
//! gather, and keeps the tally of a node's items while they run.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::digest::{Digest, Shape};
use crate::key::ActionManifest;
use crate::store::actions::OutputRecord;
use crate::store::cas::{Cas, copy_out, remove_any};
use crate::store::create_private_dir;
use crate::store::runs::RunRecord;
use crate::store::statcache::StatCache;
use crate::workflow::InputPaths;
use crate::workflow::model::{MapSpec, Node, OnItemError, Source, Workflow};

/// One item of a mapped input.
#[derive(Clone, Debug)]
pub struct Item {
    /// Stable and readable: the entry name in a dir, the producing node (or file name) in a
    /// list, the id column of a samplesheet row.
    pub id: String,
    pub path: PathBuf,
    pub digest: Digest,
    /// A samplesheet row's cells by column; empty otherwise.
    pub fields: BTreeMap<String, String>,
}

/// Why a mapped input has no items to offer.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error(
        "node '{node}' maps over input '{port}', which holds a single file: map needs a dir (one entry per item) or a list of artifacts"
    )]
    NotACollection { node: String, port: String },
    #[error("node '{node}' maps over input '{port}': two items are both called '{id}'; item ids must be unique")]
    DuplicateId { node: String, port: String, id: String },
    #[error("node '{node}' maps over input '{port}': entry {name:?} of the dir is not valid UTF-8; rename it")]
    BadName { node: String, port: String, name: PathBuf },
    #[error("node '{node}' maps over input '{port}': {}: {source}", path.display())]
    Io { node: String, port: String, path: PathBuf, source: io::Error },
    #[error("node '{node}' maps over the samplesheet {sheet}: {problem}")]
    Sheet { node: String, sheet: String, problem: String },
}

/// Lists the items of the mapped input, sorted by id. `paths` are the artifacts bound to the
/// port and `digests` their content digests, in binding order.
pub fn items(
    workflow: &Workflow,
    node: &Node,
    spec: &MapSpec,
    paths: &[PathBuf],
    digests: &[String],
    stat: &mut StatCache,
    sheet: &SheetContext<'_>,
) -> Result<Vec<Item>, MapError> {
    if let Some(column) = &spec.id_column {
        return sheet_items(node, spec, paths, column, stat, sheet, &workflow.sheet_formats);
    }
    let io_error = |path: &Path| {
        let (node, port, path) = (node.name.clone(), spec.port.clone(), path.to_path_buf());
        move |source| MapError::Io { node, port, path, source }
    };
    let mut items = Vec::new();
    if let [one] = paths {
        let meta = fs::metadata(one).map_err(io_error(one))?;
        if !meta.is_dir() {
            return Err(MapError::NotACollection { node: node.name.clone(), port: spec.port.clone() });
        }
        for entry in fs::read_dir(one).map_err(io_error(one))? {
            let entry = entry.map_err(io_error(one))?;
            let path = entry.path();
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                return Err(MapError::BadName {
                    node: node.name.clone(),
                    port: spec.port.clone(),
                    name: entry.file_name().into(),
                });
            };
            let (_, digest) = stat.digest(&path).map_err(io_error(&path))?;
            items.push(Item { id, path, digest, fields: BTreeMap::new() });
        }
    } else {
        let binding = node.inputs.iter().find(|b| b.port == spec.port);
        for (i, path) in paths.iter().enumerate() {
            let id = match binding.and_then(|b| b.sources.get(i)) {
                Some(Source::Node { node: up, .. }) => workflow.node(*up).name.clone(),
                Some(Source::File { path, .. }) => {
                    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| i.to_string())
                }
                None => i.to_string(),
            };
            let digest = match digests.get(i).and_then(|d| d.parse().ok()) {
                Some(digest) => digest,
                None => stat.digest(path).map_err(io_error(path))?.1,
            };
            items.push(Item { id, path: path.clone(), digest, fields: BTreeMap::new() });
        }
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(pair) = items.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(MapError::DuplicateId { node: node.name.clone(), port: spec.port.clone(), id: pair[0].id.clone() });
    }
    Ok(items)
}

/// Where a samplesheet's rows are written as one-row sheets, and what their cells may name.
pub struct SheetContext<'a> {
    pub cas: &'a Cas,
    /// Whether to store each row's sheet (a run) or only compute its digest (a plan, which
    /// writes nothing).
    pub store_rows: bool,
    pub tmp_dir: &'a Path,
    pub project_dir: &'a Path,
    pub state_dir: &'a Path,
}

/// One item per row of a CSV/TSV samplesheet, its id from `column`.
fn sheet_items(
    node: &Node,
    spec: &MapSpec,
    paths: &[PathBuf],
    column: &str,
    stat: &mut StatCache,
    ctx: &SheetContext<'_>,
    formats: &[Arc<dyn SheetFormat>],
) -> Result<Vec<Item>, MapError> {
    let [sheet] = paths else {
        return Err(MapError::Sheet {
            node: node.name.clone(),
            sheet: format!("input '{}'", spec.port),
            problem: format!("{} artifacts are bound; a samplesheet is one CSV, TSV or Parquet file", paths.len()),
        });
    };
    let name = sheet.display().to_string();
    let problem = |problem: String| MapError::Sheet { node: node.name.clone(), sheet: name.clone(), problem };
    let bytes = fs::read(sheet).map_err(|e| problem(format!("cannot read it: {e}")))?;
    let format = formats.iter().find(|f| f.recognises(&bytes));
    let mut other: Option<Box<dyn Sheet>> = match format {
        Some(format) => {
            Some(format.read(sheet).map_err(|e| problem(format!("cannot read it as {}: {e}", format.name())))?)
        }
        None => None,
    };
    let (header, rows) = match &mut other {
        Some(read) => (read.header(), read.take_rows()),
        None => read_delimited(&bytes).map_err(problem)?,
    };
    let delimiter = delimiter_of(&bytes);
    // Where a row is, as the user would look for it: a CSV line, or a Parquet row.
    let place =
        |index: usize| if other.is_some() { format!("row {}", index + 1) } else { format!("line {}", index + 2) };
    let Some(id_at) = header.iter().position(|h| h == column) else {
        return Err(problem(format!(
            "it has no column '{column}' (the `id:` of `map:`); its columns are: {}",
            header.join(", ")
        )));
    };
    let rows_dir = ctx.tmp_dir.join(format!("{}-rows", node.name));
    if ctx.store_rows {
        remove_any(&rows_dir).map_err(|e| problem(format!("prepare {}: {e}", rows_dir.display())))?;
        create_private_dir(&rows_dir).map_err(|e| problem(format!("prepare {}: {e}", rows_dir.display())))?;
    }
    let mut items = Vec::new();
    let mut paths = InputPaths::new(ctx.project_dir, ctx.state_dir);
    for (index, record) in rows.iter().enumerate() {
        let line = place(index);
        let id = record.get(id_at).map(|c| c.trim()).unwrap_or_default().to_string();
        if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
            return Err(problem(format!(
                "{line}: the id '{id}' in column '{column}' cannot name an item; ids are non-empty and hold no '/'"
            )));
        }
        let fields: BTreeMap<String, String> = header.iter().cloned().zip(record.iter().cloned()).collect();
        // The row as a sheet of its own, in the sheet's format: the item the node reads.
        let row_bytes = match &other {
            Some(sheet) => sheet.row_bytes(index).map_err(|e| problem(format!("{line}: {e}")))?,
            None => {
                let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
                let written = writer.write_record(&header).and_then(|()| writer.write_record(record));
                written
                    .map_err(io::Error::from)
                    .and_then(|()| writer.into_inner().map_err(|e| io::Error::other(e.to_string())))
                    .map_err(|e| problem(format!("{line}: {e}")))?
            }
        };
        // A file's digest is the blake3 of its bytes, so the row's object is known unwritten.
        let row_digest = Digest::of_bytes(&row_bytes);
        // An intact stored copy needs no new one: a no-op of a 100,000-row sheet wrote and
        // removed 100,000 files before this check.
        let stored = || ctx.cas.verify(&row_digest).is_ok_and(|v| v == crate::store::Verdict::Intact);
        if ctx.store_rows && !stored() {
            let row_path = rows_dir.join(format!("{index}"));
            fs::write(&row_path, &row_bytes).map_err(|e| problem(format!("write {}: {e}", row_path.display())))?;
            let (_, stored) = ctx.cas.ingest(&row_path).map_err(|e| problem(format!("store {line}: {e}")))?;
            debug_assert_eq!(stored, row_digest);
        }
        // Cells naming files or directories: their content is part of the item.
        let mut hasher = blake3::Hasher::new();
        hasher.update(&row_digest.0);
        for (col, cell) in header.iter().zip(record) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let referenced = ctx.project_dir.join(cell);
            // What a `file:` input could not be (the project itself, the store, a FIFO) is not
            // taken for a reference either.
            if fs::symlink_metadata(&referenced).is_ok() && paths.check(&referenced).is_ok() {
                let (_, digest) = stat
                    .digest(&referenced)
                    .map_err(|e| problem(format!("{line}, column '{col}': {}: {e}", referenced.display())))?;
                hasher.update(col.as_bytes());
                hasher.update(&[0]);
                hasher.update(&digest.0);
            }
        }
        items.push(Item {
            id,
            path: ctx.cas.object_path(&row_digest),
            digest: Digest(*hasher.finalize().as_bytes()),
            fields,
        });
    }
    if ctx.store_rows {
        let _ = remove_any(&rows_dir);
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(pair) = items.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(problem(format!("two rows have the id '{}' in column '{column}'; ids must be unique", pair[0].id)));
    }
    if items.is_empty() {
        return Err(problem("it has a header but no rows".to_string()));
    }
    Ok(items)
}

/// A samplesheet format the engine does not read itself. The engine reads CSV and TSV; a
/// format such as Parquet comes from whoever builds the [`crate::kind::Registry`] (the CLI
/// registers one from the node kinds' crate), so the engine needs no table library.
pub trait SheetFormat: Send + Sync {
    /// For messages: "Parquet".
    fn name(&self) -> &str;
    /// Whether a file of these bytes is in this format (its magic number).
    fn recognises(&self, bytes: &[u8]) -> bool;
    /// Opens a sheet; errors say what is wrong with the file.
    fn read(&self, path: &Path) -> Result<Box<dyn Sheet>, String>;
}

/// An open samplesheet of a [`SheetFormat`].
pub trait Sheet {
    /// The column names.
    fn header(&self) -> Vec<String>;
    /// Every row's cells as text, in column order (a missing value is empty); called once,
    /// it hands the rows over.
    fn take_rows(&mut self) -> Vec<Vec<String>>;
    /// Row `index` as a sheet of its own in this format: the same row gives the same bytes.
    fn row_bytes(&self, index: usize) -> Result<Vec<u8>, String>;
}

/// A CSV or TSV sheet's delimiter: tab if its header line holds one.
fn delimiter_of(bytes: &[u8]) -> u8 {
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    if first_line.contains(&b'\t') { b'\t' } else { b',' }
}

/// The header and rows of a CSV or TSV sheet.
fn read_delimited(bytes: &[u8]) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter_of(bytes)).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            format!("its header cannot be read ({e}); a samplesheet is CSV, TSV or Parquet with a header row")
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("line {}: {e}", index + 2))?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok((header, rows))
}

/// The key of a samplesheet node's gathered outputs: its own key with every row's id and item
/// key, in id order. A sheet's rows name files its own key does not cover, but each item key
/// covers them, so when every item is cached this key answers the node in one lookup instead
/// of gathering every row again.
pub fn sheet_key(node_key: &Digest, items: &[Item], item_keys: &[Digest]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"flow sheet node\0");
    hasher.update(&node_key.0);
    for (item, key) in items.iter().zip(item_keys) {
        hasher.update(item.id.as_bytes());
        hasher.update(&[0]);
        hasher.update(&key.0);
    }
    Digest(*hasher.finalize().as_bytes())
}

/// The item ids the node's outputs held in `previous` (a run record), sorted: what tells a new
/// item from a changed one.
pub fn previous_item_ids(previous: Option<&RunRecord>, node: &Node, cas: &Cas) -> Option<Vec<String>> {
    let record = previous?.nodes.iter().find(|n| n.name == node.name)?;
    let digest: Digest = record.outputs.values().next()?.parse().ok()?;
    let entries = fs::read_dir(cas.object_path(&digest)).ok()?;
    let mut ids: Vec<String> = entries.flatten().filter_map(|e| e.file_name().to_str().map(str::to_string)).collect();
    ids.sort();
    Some(ids)
}

/// In words, what a plan of a mapped node would run: "2 of 1001 items to run: R01-1001 is
/// new, R01-0007 changed". `before` is the sorted item ids of the node's last gathered output.
pub fn describe_items(to_run: &[&Item], total: usize, before: Option<&[String]>) -> String {
    const SHOWN: usize = 5;
    let mut text = format!("{} of {total} items to run", to_run.len());
    if to_run.is_empty() {
        text.push_str("; their cached outputs are gathered again");
        return text;
    }
    let named: Vec<String> = to_run
        .iter()
        .take(SHOWN)
        .map(|item| match before {
            Some(ids) if ids.binary_search(&item.id).is_err() => format!("{} is new", item.id),
            Some(_) => format!("{} changed", item.id),
            None => item.id.clone(),
        })
        .collect();
    text.push_str(": ");
    text.push_str(&named.join(", "));
    if to_run.len() > SHOWN {
        text.push_str(&format!(" and {} more", to_run.len() - SHOWN));
    }
    text
}

/// The manifest of one item's action: the node's, with the mapped port holding that item alone.
pub fn item_manifest(node_manifest: &ActionManifest, spec: &MapSpec, item: &Item) -> ActionManifest {
    let mut manifest = node_manifest.clone();
    manifest.inputs.insert(spec.port.clone(), vec![item.digest.to_hex()]);
    manifest.item = Some(item.id.clone());
    manifest
}

/// How one item ended.
#[derive(Clone, Debug)]
pub enum ItemResult {
    Ran(Vec<OutputRecord>),
    Cached(Vec<OutputRecord>),
    Failed { error: String, log: PathBuf, bad_input: bool },
    Cancelled,
}

/// The items of one mapped node while they run.
pub struct Tally {
    pub items: Vec<Item>,
    results: Vec<Option<ItemResult>>,
    pending: usize,
}

/// Counts for the run record and the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemCounts {
    pub total: usize,
    pub ran: usize,
    pub cached: usize,
    pub failed: usize,
    /// Ids of the items that failed, in id order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_items: Vec<String>,
}

/// What a mapped node comes to once every item ended.
pub enum Outcome {
    /// Every item (or every item not skipped) is in; gather them.
    Gather {
        skipped: Vec<String>,
        complete: bool,
    },
    Failed {
        message: String,
        bad_input: bool,
    },
    Cancelled,
}

impl Tally {
    pub fn new(items: Vec<Item>) -> Tally {
        let pending = items.len();
        Tally { results: vec![None; items.len()], items, pending }
    }

    pub fn record(&mut self, index: usize, result: ItemResult) {
        if self.results[index].replace(result).is_none() {
            self.pending -= 1;
        }
    }

    pub fn is_done(&self) -> bool {
        self.pending == 0
    }

    pub fn counts(&self) -> ItemCounts {
        let mut counts = ItemCounts { total: self.items.len(), ..ItemCounts::default() };
        for (item, result) in self.items.iter().zip(&self.results) {
            match result {
                Some(ItemResult::Ran(_)) => counts.ran += 1,
                Some(ItemResult::Cached(_)) => counts.cached += 1,
                Some(ItemResult::Failed { .. }) => {
                    counts.failed += 1;
                    counts.failed_items.push(item.id.clone());
                }
                Some(ItemResult::Cancelled) | None => {}
            }
        }
        counts
    }

    pub fn outcome(&self, node: &Node, on_error: OnItemError) -> Outcome {
        if self.results.iter().any(|r| matches!(r, Some(ItemResult::Cancelled) | None)) {
            return Outcome::Cancelled;
        }
        let failed: Vec<(&Item, &str, &Path, bool)> = self
            .items
            .iter()
            .zip(&self.results)
            .filter_map(|(item, result)| match result {
                Some(ItemResult::Failed { error, log, bad_input }) => {
                    Some((item, error.as_str(), log.as_path(), *bad_input))
                }
                _ => None,
            })
            .collect();
        let all_failed = failed.len() == self.items.len() && !self.items.is_empty();
        if failed.is_empty() || (on_error == OnItemError::Skip && !all_failed) {
            let skipped = failed.iter().map(|(item, ..)| item.id.clone()).collect::<Vec<_>>();
            return Outcome::Gather { complete: skipped.is_empty(), skipped };
        }
        let mut message = format!("{} of {} items failed:", failed.len(), self.items.len());
        for (item, error, log, _) in &failed {
            message.push_str(&format!("\n  {}: {error} (log: {})", item.id, log.display()));
        }
        if on_error == OnItemError::Fail {
            message.push_str(&format!(
                "\n  to leave failed items out and go on, write `map: {{ over: {}, on_error: skip }}` on node '{}'",
                node.map.as_ref().map(|m| m.port.as_str()).unwrap_or("PORT"),
                node.name
            ));
        }
        Outcome::Failed { message, bad_input: failed.iter().all(|f| f.3) }
    }

    /// For each failed item, its id and error, then the last `lines` lines of its log.
    pub fn failure_log(&self, lines: usize) -> String {
        let mut out = String::new();
        for (item, result) in self.items.iter().zip(&self.results) {
            let Some(ItemResult::Failed { error, log, .. }) = result else { continue };
            out.push_str(&format!("--- item {}: {error} ---\n", item.id));
            let text = fs::read(log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Gathers the items' outputs per port into one `dir` each (entry = item id), stored in
    /// the CAS. Items that failed are left out.
    pub fn gather(&self, node: &Node, cas: &Cas, work: &Path) -> io::Result<Vec<OutputRecord>> {
        remove_any(work)?;
        create_private_dir(work)?;
        let mut records = Vec::with_capacity(node.outputs.len());
        for port in &node.outputs {
            let dir = work.join(&port.name);
            create_private_dir(&dir)?;
            for (item, result) in self.items.iter().zip(&self.results) {
                let outputs = match result {
                    Some(ItemResult::Ran(outputs) | ItemResult::Cached(outputs)) => outputs,
                    _ => continue,
                };
                let Some(output) = outputs.iter().find(|o| o.port == port.name) else {
                    return Err(io::Error::other(format!("item '{}' has no output '{}'", item.id, port.name)));
                };
                copy_out(&cas.object_path(&output.digest), &dir.join(&item.id))?;
            }
            let (shape, digest) = cas.ingest(&dir)?;
            debug_assert_eq!(shape, Shape::Dir);
            records.push(OutputRecord { port: port.name.clone(), shape, digest });
        }
        remove_any(work)?;
        Ok(records)
    }
}
