//! The online store: the latest record per id by event time, in one redb file per group, for
//! GetRecord lookups that do not touch Parquet.
//!
//! Keys are record ids as text; values are encoded by `record` (a header with the version, a
//! delete flag and the event key, then the cells). The event key is an order-preserving byte
//! encoding of the event time, so "is this newer?" is a byte comparison whatever the column's
//! type. Deletes are kept as tombstones: a put older than the delete must not bring the record
//! back, exactly as in the offline reads.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use redb::{Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::Value;

use crate::error::{FsError, Result};
use crate::record::{Cells, header, read_cells, read_header};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");

/// One stored record.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRecord {
    pub version: u64,
    pub deleted: bool,
    /// The row's values in schema order (none for a tombstone).
    pub values: Vec<Value>,
}

pub fn path(group_dir: &Path) -> PathBuf {
    group_dir.join("online.redb")
}

/// Record ids as text: the key under which GetRecord finds them.
pub fn id_keys(group: &str, column: &Column) -> Result<Vec<String>> {
    let bad = |message: String| FsError::BadColumn { group: group.to_string(), message };
    if column.null_count() > 0 {
        return Err(bad(format!("record id column '{}' has {} missing values", column.name(), column.null_count())));
    }
    let series = column.as_materialized_series();
    let keys: Vec<String> = match series.dtype() {
        DataType::String => series
            .str()
            .map_err(|e| FsError::polars("record ids", e))?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
        dtype if dtype.is_integer() => series.iter().map(|v| v.to_string()).collect(),
        other => {
            return Err(bad(format!("record id column '{}' has type {other}; use text or an integer", column.name())));
        }
    };
    Ok(keys)
}

/// Order-preserving byte keys of the event times (within one type, which a group's schema fixes).
pub fn event_keys(group: &str, column: &Column) -> Result<Vec<Vec<u8>>> {
    let bad = |message: String| FsError::BadColumn { group: group.to_string(), message };
    let name = column.name();
    if column.null_count() > 0 {
        return Err(bad(format!("event time column '{name}' has {} missing values", column.null_count())));
    }
    let cast = |to: &DataType| column.cast(to).map_err(|e| FsError::polars(format!("event time '{name}'"), e));
    let dtype = column.dtype();
    let keys = if dtype.is_signed_integer() || dtype.is_temporal() {
        let ints = cast(&DataType::Int64)?;
        let ints = ints.i64().map_err(|e| FsError::polars("event times", e))?;
        ints.into_no_null_iter().map(|v| ((v as u64) ^ (1 << 63)).to_be_bytes().to_vec()).collect()
    } else if dtype.is_unsigned_integer() {
        let ints = cast(&DataType::UInt64)?;
        let ints = ints.u64().map_err(|e| FsError::polars("event times", e))?;
        ints.into_no_null_iter().map(|v| v.to_be_bytes().to_vec()).collect()
    } else if dtype.is_float() {
        let floats = cast(&DataType::Float64)?;
        let floats = floats.f64().map_err(|e| FsError::polars("event times", e))?;
        floats.into_no_null_iter().map(|v| float_key(v).to_be_bytes().to_vec()).collect()
    } else if dtype == &DataType::String {
        let text = column.str().map_err(|e| FsError::polars("event times", e))?;
        text.iter().map(|v| v.unwrap_or_default().as_bytes().to_vec()).collect()
    } else {
        return Err(bad(format!(
            "event time column '{name}' has type {dtype}; use a datetime, date, number or ISO-8601 text"
        )));
    };
    Ok(keys)
}

/// IEEE-754 total order as an unsigned integer (negative numbers flipped, sign bit set on the rest).
fn float_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// A cell as JSON. Non-finite floats and temporal values become text (JSON has no NaN or dates).
pub fn json_value(value: AnyValue<'_>) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(v) => v.into(),
        AnyValue::Int16(v) => v.into(),
        AnyValue::Int32(v) => v.into(),
        AnyValue::Int64(v) => v.into(),
        AnyValue::UInt8(v) => v.into(),
        AnyValue::UInt16(v) => v.into(),
        AnyValue::UInt32(v) => v.into(),
        AnyValue::UInt64(v) => v.into(),
        AnyValue::Float32(v) => finite_or_text(f64::from(v)),
        AnyValue::Float64(v) => finite_or_text(v),
        other => Value::String(other.to_string()),
    }
}

fn finite_or_text(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
}

/// Opens (creating it private, 0600) the group's database for writing. The caller holds the
/// group's exclusive lock.
fn open_writable(group: &str, group_dir: &Path) -> Result<Database> {
    let file = path(group_dir);
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&file)
        .map_err(|e| FsError::io(format!("create {}", file.display()), e))?;
    Database::create(&file).map_err(|e| FsError::online(group, e))
}

/// Applies one ingestion: for each id, its latest row in the batch replaces the stored record
/// unless the stored one has a later event time (equal times: the later ingestion wins).
/// `ids` and `events` are the rows' keys from [`id_keys`] and [`event_keys`].
pub fn apply(
    group: &str,
    group_dir: &Path,
    df: &DataFrame,
    ids: &[String],
    events: &[Vec<u8>],
    version: u64,
    deleted: bool,
) -> Result<()> {
    // The winning row of each id within the batch: latest event time, then the later row.
    let mut winners: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        winners
            .entry(id.as_str())
            .and_modify(|best| {
                if events[row] >= events[*best] {
                    *best = row;
                }
            })
            .or_insert(row);
    }
    // Inserting in key order keeps the B-tree's writes sequential.
    let mut rows: Vec<usize> = winners.into_values().collect();
    rows.sort_unstable_by(|a, b| ids[*a].cmp(&ids[*b]));

    // Cast each column once; cells are then read by row without per-cell type dispatch.
    let cells: Vec<Cells> =
        if deleted { Vec::new() } else { df.columns().iter().map(Cells::of).collect::<Result<_>>()? };
    let db = open_writable(group, group_dir)?;
    let txn = db.begin_write().map_err(|e| FsError::online(group, e))?;
    {
        let mut table = txn.open_table(RECORDS).map_err(|e| FsError::online(group, e))?;
        let mut value = Vec::new();
        for row in rows {
            let id = ids[row].as_str();
            let newer = match table.get(id).map_err(|e| FsError::online(group, e))? {
                Some(stored) => read_header(group, stored.value())?.event_key <= events[row].as_slice(),
                None => true,
            };
            if newer {
                value.clear();
                value.extend_from_slice(&header(version, deleted, &events[row], 0));
                for column in &cells {
                    column.push(row, &mut value);
                }
                table.insert(id, value.as_slice()).map_err(|e| FsError::online(group, e))?;
            }
        }
    }
    txn.commit().map_err(|e| FsError::online(group, e))
}

/// Which rows of `df` equal their id's current record exactly: the same event key and the same
/// cells (compared as encoded, so floats by their bits), stored by a version no later than
/// `listed`, the manifest's latest. Those are the rows an incremental ingestion need not write
/// again. A record stored by an unlisted version (a crash between the online update and the
/// manifest) does not count: its offline file is not listed, so its rows must be written anew.
/// An id that occurs twice in `df` is never unchanged (the batch carries its own history).
pub fn unchanged_rows(
    group: &str,
    group_dir: &Path,
    df: &DataFrame,
    ids: &[String],
    events: &[Vec<u8>],
    listed: u64,
) -> Result<Vec<bool>> {
    let mut unchanged = vec![false; ids.len()];
    let file = path(group_dir);
    if !file.exists() {
        return Ok(unchanged);
    }
    let mut occurrences: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for id in ids {
        *occurrences.entry(id.as_str()).or_default() += 1;
    }
    let cells: Vec<Cells> = df.columns().iter().map(Cells::of).collect::<Result<_>>()?;
    // Opened for the comparison only and closed before `apply` opens it again; the caller
    // holds the group's exclusive lock throughout.
    let db = Database::open(&file).map_err(|e| FsError::online(group, e))?;
    let txn = db.begin_read().map_err(|e| FsError::online(group, e))?;
    let table = match txn.open_table(RECORDS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(unchanged),
        Err(e) => return Err(FsError::online(group, e)),
    };
    let mut encoded = Vec::new();
    for (row, id) in ids.iter().enumerate() {
        if occurrences.get(id.as_str()) != Some(&1) {
            continue;
        }
        let Some(stored) = table.get(id.as_str()).map_err(|e| FsError::online(group, e))? else { continue };
        let header = read_header(group, stored.value())?;
        if header.deleted || header.version > listed || header.event_key != events[row].as_slice() {
            continue;
        }
        encoded.clear();
        for column in &cells {
            column.push(row, &mut encoded);
        }
        unchanged[row] = header.cells() == encoded.as_slice();
    }
    Ok(unchanged)
}

/// Every live record of a group as stored (header and cells, undecoded), read in one
/// transaction: a consistent picture of the group at one moment. Tombstones are left out.
pub fn all_records(group: &str, group_dir: &Path) -> Result<HashMap<Box<str>, Box<[u8]>>> {
    let reader = Reader::open(group, group_dir, false)?;
    let txn = match &reader {
        Reader::ReadOnly(db) => db.begin_read(),
        Reader::Writable(db) => db.begin_read(),
        Reader::Empty => return Ok(HashMap::new()),
    }
    .map_err(|e| FsError::online(group, e))?;
    let table = match txn.open_table(RECORDS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(HashMap::new()),
        Err(e) => return Err(FsError::online(group, e)),
    };
    let mut records = HashMap::with_capacity(table.len().map_err(|e| FsError::online(group, e))? as usize);
    for entry in table.iter().map_err(|e| FsError::online(group, e))? {
        let (id, value) = entry.map_err(|e| FsError::online(group, e))?;
        if !read_header(group, value.value())?.deleted {
            records.insert(Box::from(id.value()), Box::from(value.value()));
        }
    }
    Ok(records)
}

/// Decodes a value of [`all_records`]: its version and cells as JSON.
pub fn decode(group: &str, stored: &[u8]) -> Result<StoredRecord> {
    let header = read_header(group, stored)?;
    let values = if header.deleted { Vec::new() } else { read_cells(group, &header)? };
    Ok(StoredRecord { version: header.version, deleted: header.deleted, values })
}

/// A read handle on a group's online store, for repeated lookups.
pub enum Reader {
    ReadOnly(ReadOnlyDatabase),
    Writable(Database),
    /// The group has no online file yet (nothing ingested).
    Empty,
}

impl Reader {
    /// Opens for reading. The caller holds the group's lock (shared, or exclusive when the file
    /// may need the repair a read-only open cannot do).
    pub fn open(group: &str, group_dir: &Path, repair: bool) -> Result<Reader> {
        let file = path(group_dir);
        if !file.exists() {
            return Ok(Reader::Empty);
        }
        if repair {
            return Database::open(&file).map(Reader::Writable).map_err(|e| FsError::online(group, e));
        }
        ReadOnlyDatabase::open(&file).map(Reader::ReadOnly).map_err(|e| FsError::online(group, e))
    }

    /// The stored record of `id`, tombstones included.
    pub fn get(&self, group: &str, id: &str) -> Result<Option<StoredRecord>> {
        let txn = match self {
            Reader::ReadOnly(db) => db.begin_read(),
            Reader::Writable(db) => db.begin_read(),
            Reader::Empty => return Ok(None),
        }
        .map_err(|e| FsError::online(group, e))?;
        let table = match txn.open_table(RECORDS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(FsError::online(group, e)),
        };
        let Some(value) = table.get(id).map_err(|e| FsError::online(group, e))? else { return Ok(None) };
        let header = read_header(group, value.value())?;
        let values = if header.deleted { Vec::new() } else { read_cells(group, &header)? };
        Ok(Some(StoredRecord { version: header.version, deleted: header.deleted, values }))
    }
}
