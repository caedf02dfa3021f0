//! An embedded feature store, after SageMaker Feature Store's model: feature groups with a
//! record id and an event time; an offline store of append-only, versioned Parquet files with
//! `write_time` and `is_deleted` columns; an online store of the latest record per id (redb);
//! SQL over groups (polars SQL) and point-in-time ("as of") reads. No server: a directory.
//!
//! ```text
//! ROOT/GROUP/manifest.json          keys, schema, ingestions (replaced atomically)
//! ROOT/GROUP/offline/v000001-….parquet   one file per ingestion, never rewritten
//! ROOT/GROUP/online.redb            latest record per id
//! ROOT/GROUP/lock                   flock: writers exclusive, online readers shared
//! ```
//! Ingesting the same table twice adds nothing: a table's identity is the blake3 digest of its
//! canonical Parquet encoding, and an ingestion whose digest a group already holds returns
//! that version. This is what makes the `featurestore.write` node's receipt deterministic.

pub mod error;
pub mod manifest;
pub mod offline;
pub mod online;
pub mod query;
pub mod record;
pub mod time;

use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::error::{FsError, Result};
pub use crate::manifest::{AsOf, ColumnSpec, IngestKind, Ingestion, Manifest};
pub use polars;

use crate::manifest::{GroupLock, MANIFEST_FORMAT, check_group_name, private_dir, schema_drift};

/// What an ingestion did: the version holding the table (new, or the one that already held it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub group: String,
    pub version: u64,
    pub digest: String,
    pub rows: u64,
    /// False when the group already held this exact table (nothing was written).
    #[serde(skip)]
    pub new_version: bool,
}

/// A record as GetRecord returns it: the values in schema order.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub group: String,
    pub id: String,
    /// The ingestion the record came from.
    pub version: u64,
    pub values: Vec<(String, Value)>,
}

/// A feature store rooted at a directory (flow uses `.flow/featurestore`).
#[derive(Clone, Debug)]
pub struct FeatureStore {
    root: PathBuf,
}

impl FeatureStore {
    /// A store at `root`; nothing is created until the first ingestion.
    pub fn new(root: impl Into<PathBuf>) -> FeatureStore {
        FeatureStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn group_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The names of all groups, sorted.
    pub fn groups(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(FsError::io(format!("list {}", self.root.display()), e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().join("manifest.json").is_file())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| check_group_name(name).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// A group's manifest, or `UnknownGroup` listing the groups there are.
    pub fn manifest(&self, name: &str) -> Result<Manifest> {
        let found = match check_group_name(name) {
            Ok(()) => manifest::load(&self.group_dir(name).join("manifest.json"))?,
            Err(_) => None,
        };
        match found {
            Some(manifest) => Ok(manifest),
            None => Err(FsError::UnknownGroup { name: name.to_string(), known: self.groups()? }),
        }
    }

    /// Removes group `name`, every version of it and its online store. The group vanishes at
    /// once (renamed aside under its exclusive lock, then deleted): a reader finds it whole or
    /// not at all.
    pub fn drop_group(&self, name: &str) -> Result<()> {
        self.manifest(name)?;
        let dir = self.group_dir(name);
        let aside = self.root.join(format!(".dropped-{name}-{}", std::process::id()));
        {
            let _lock = GroupLock::acquire(&dir, true)?;
            fs::rename(&dir, &aside).map_err(|e| FsError::io(format!("move {} aside", dir.display()), e))?;
        }
        fs::remove_dir_all(&aside).map_err(|e| FsError::io(format!("remove {}", aside.display()), e))
    }

    /// Appends `table` to group `name`, creating the group on first use with `record_id` and
    /// `event_time` as its keys and the table's columns as its schema.
    pub fn ingest(&self, name: &str, record_id: &str, event_time: &str, table: &DataFrame) -> Result<Receipt> {
        check_group_name(name)?;
        let dir = self.group_dir(name);
        let _lock = GroupLock::acquire(&dir, true)?;
        let existing = manifest::load(&dir.join("manifest.json"))?;
        let columns = columns_of(table);
        for reserved in offline::RESERVED {
            if columns.iter().any(|c| c.name == reserved) {
                return Err(FsError::BadColumn {
                    group: name.to_string(),
                    message: format!("column '{reserved}' is reserved for the store; rename it"),
                });
            }
        }
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        for (role, column) in [("record id", record_id), ("event time", event_time)] {
            if !names.iter().any(|n| n == column) {
                return Err(FsError::MissingColumn {
                    group: name.to_string(),
                    role,
                    column: column.to_string(),
                    columns: names.clone(),
                });
            }
        }
        let table = match &existing {
            Some(m) => {
                for (what, had, given) in
                    [("record id", &m.record_id, record_id), ("event time", &m.event_time, event_time)]
                {
                    if had != given {
                        return Err(FsError::KeyMismatch {
                            group: name.to_string(),
                            what: format!("{what} column '{had}'"),
                            given: format!("'{given}'"),
                        });
                    }
                }
                schema_drift(name, &m.schema, &columns)?;
                // Same columns in another order is the same table: store it in the group's order.
                table.select(m.column_names()).map_err(|e| FsError::polars("reorder columns", e))?
            }
            None => table.clone(),
        };
        let ids = online::id_keys(name, table.column(record_id).map_err(|e| FsError::polars("record id", e))?)?;
        let events = online::event_keys(name, table.column(event_time).map_err(|e| FsError::polars("event time", e))?)?;
        let digest = offline::digest(&table)?;
        let rows = table.height() as u64;
        let puts = existing.iter().flat_map(|m| &m.ingestions).filter(|i| i.kind == IngestKind::Put);
        let mut legacy = None;
        for done in puts {
            if offline::digest_matches(&done.digest, &digest, &mut legacy, &table)? {
                let version = done.version;
                return Ok(Receipt { group: name.to_string(), version, digest, rows, new_version: false });
            }
        }
        // Incremental: records that equal what the group holds already are not written again,
        // so a cohort that gained one patient adds one row, not the whole table once more.
        let listed = existing.as_ref().map_or(0, Manifest::latest_version);
        let unchanged = online::unchanged_rows(name, &dir, &table, &ids, &events, listed)?;
        let (table, ids, events, unchanged) = if unchanged.iter().any(|&same| same) {
            let keep: Vec<bool> = unchanged.iter().map(|&same| !same).collect();
            let mask = BooleanChunked::from_slice("keep".into(), &keep);
            let delta = table.filter(&mask).map_err(|e| FsError::polars("select the changed records", e))?;
            let skipped = unchanged.iter().filter(|&&same| same).count() as u64;
            (delta, keep_marked(ids, &keep), keep_marked(events, &keep), skipped)
        } else {
            (table, ids, events, 0)
        };
        let manifest = existing.unwrap_or_else(|| Manifest {
            format: MANIFEST_FORMAT,
            name: name.to_string(),
            record_id: record_id.to_string(),
            event_time: event_time.to_string(),
            schema: columns.clone(),
            ingestions: Vec::new(),
        });
        self.append(manifest, &dir, table, IngestKind::Put, digest, (ids, events), (rows, unchanged))
    }

    /// Deletes records: `keys` holds the group's record-id and event-time columns, one row per
    /// record to delete as of that event time. Like SageMaker's DeleteRecord, this appends rows
    /// with `is_deleted` set; the history keeps the old values.
    pub fn delete(&self, name: &str, keys: &DataFrame) -> Result<Receipt> {
        self.manifest(name)?;
        let dir = self.group_dir(name);
        let _lock = GroupLock::acquire(&dir, true)?;
        // Read again under the lock: another writer may have appended meanwhile.
        let manifest = self.manifest(name)?;
        let Some(first) = manifest.ingestions.first() else {
            return Err(FsError::BadColumn { group: name.to_string(), message: "the group holds no records".into() });
        };
        let empty = offline::empty_like(&dir.join(&first.file))?;
        let given: Vec<String> = keys.get_column_names().iter().map(|n| n.to_string()).collect();
        let mut columns = Vec::with_capacity(empty.width());
        for template in empty.columns() {
            let column_name = template.name().as_str();
            if column_name == manifest.record_id || column_name == manifest.event_time {
                let role = if column_name == manifest.record_id { "record id" } else { "event time" };
                let column = keys.column(column_name).map_err(|_| FsError::MissingColumn {
                    group: name.to_string(),
                    role,
                    column: column_name.to_string(),
                    columns: given.clone(),
                })?;
                columns.push(
                    column.cast(template.dtype()).map_err(|e| FsError::polars(format!("column '{column_name}'"), e))?,
                );
            } else {
                columns.push(Column::full_null(template.name().clone(), keys.height(), template.dtype()));
            }
        }
        let table = DataFrame::new(keys.height(), columns).map_err(|e| FsError::polars("build delete rows", e))?;
        let ids = online::id_keys(name, table.column(&manifest.record_id).map_err(|e| FsError::polars("ids", e))?)?;
        let events =
            online::event_keys(name, table.column(&manifest.event_time).map_err(|e| FsError::polars("times", e))?)?;
        // Domain-separated, so deleting keys never collides with putting the same all-null rows.
        let digest = blake3::hash(format!("delete:{}", offline::digest(&table)?).as_bytes()).to_hex().to_string();
        let rows = table.height() as u64;
        self.append(manifest, &dir, table, IngestKind::Delete, digest, (ids, events), (rows, 0))
    }

    /// Writes the offline file, updates the online store, then commits the manifest. The
    /// manifest goes last: a crash before it leaves the version unlisted, and the retry writes
    /// it again (the online update is idempotent for the same rows and version). `table_rows`
    /// is the row count the caller gave (the receipt's), `unchanged` how many of those rows
    /// `table` leaves out because the group holds them already.
    #[allow(clippy::too_many_arguments)]
    fn append(
        &self,
        mut manifest: Manifest,
        dir: &Path,
        table: DataFrame,
        kind: IngestKind,
        digest: String,
        (ids, events): (Vec<String>, Vec<Vec<u8>>),
        (table_rows, unchanged): (u64, u64),
    ) -> Result<Receipt> {
        let name = manifest.name.clone();
        if let Some(done) = manifest.ingestions.iter().find(|i| i.digest == digest && i.kind == kind) {
            return Ok(Receipt { group: name, version: done.version, digest, rows: table_rows, new_version: false });
        }
        let rows = table.height() as u64;
        let version = manifest.latest_version() + 1;
        let write_time_ms = time::now_ms();
        let file = format!("offline/v{version:06}-{}.parquet", digest.get(..12).unwrap_or(&digest));
        private_dir(&dir.join("offline"))?;
        let deleted = kind == IngestKind::Delete;
        offline::write_ingestion(&dir.join(&file), &table, write_time_ms, deleted)?;
        online::apply(&name, dir, &table, &ids, &events, version, deleted)?;
        manifest.ingestions.push(Ingestion {
            version,
            kind,
            digest: digest.clone(),
            rows,
            unchanged,
            write_time: time::utc_text(write_time_ms),
            write_time_ms,
            file,
        });
        manifest::save(&dir.join("manifest.json"), &manifest)?;
        Ok(Receipt { group: name, version, digest, rows: table_rows, new_version: true })
    }

    /// The group's state as of `as_of`: the latest non-deleted record per id, sorted by id,
    /// without the store's `write_time`/`is_deleted` columns.
    pub fn read(&self, name: &str, as_of: AsOf) -> Result<DataFrame> {
        let manifest = self.manifest(name)?;
        let dir = self.group_dir(name);
        let ingestions = manifest.ingestions_as_of(as_of)?;
        let empty = match manifest.ingestions.first() {
            Some(first) => offline::empty_like(&dir.join(&first.file))?,
            None => DataFrame::empty(),
        };
        offline::latest(&dir, ingestions, &manifest.record_id, &manifest.event_time, &empty)
    }

    /// Every offline row up to `as_of`, with `write_time` and `is_deleted`, in ingestion order.
    pub fn history(&self, name: &str, as_of: AsOf) -> Result<DataFrame> {
        let manifest = self.manifest(name)?;
        offline::history(&self.group_dir(name), manifest.ingestions_as_of(as_of)?)
    }

    /// A handle for repeated GetRecord lookups on one group.
    pub fn online(&self, name: &str) -> Result<OnlineHandle> {
        let manifest = self.manifest(name)?;
        let dir = self.group_dir(name);
        let lock = GroupLock::acquire(&dir, false)?;
        let (lock, reader) = match online::Reader::open(name, &dir, false) {
            Ok(reader) => (lock, reader),
            // A read-only open refuses a file that needs recovery (after a crash); an exclusive
            // writable open repairs it.
            Err(_) => {
                drop(lock);
                let lock = GroupLock::acquire(&dir, true)?;
                let reader = online::Reader::open(name, &dir, true)?;
                (lock, reader)
            }
        };
        Ok(OnlineHandle { _lock: lock, reader, group: name.to_string(), columns: manifest.column_names() })
    }

    /// The whole online store of group `name` at one moment, for a server that answers from
    /// memory: read under the group's shared lock (a writer in progress is waited for, and
    /// waits only while this reads), so the records and the schema belong together.
    pub fn online_snapshot(&self, name: &str) -> Result<OnlineSnapshot> {
        // Known before locking: taking the lock would create the folder of an unknown group.
        self.manifest(name)?;
        let dir = self.group_dir(name);
        let lock = GroupLock::acquire(&dir, false)?;
        let manifest = self.manifest(name)?;
        let records = match online::all_records(name, &dir) {
            Ok(records) => records,
            // A file left needing recovery by a crash: the exclusive open repairs it.
            Err(_) => {
                drop(lock);
                let _lock = GroupLock::acquire(&dir, true)?;
                drop(online::Reader::open(name, &dir, true)?);
                online::all_records(name, &dir)?
            }
        };
        let columns = manifest.schema.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        Ok(OnlineSnapshot { group: name.to_string(), manifest, columns, records })
    }

    /// GetRecord: the latest record of `id` in group `name`, `None` if there is none (or it
    /// was deleted).
    pub fn get_record(&self, name: &str, id: &str) -> Result<Option<Record>> {
        self.online(name)?.get(id)
    }
}

/// A group's online records held in memory (see [`FeatureStore::online_snapshot`]), encoded
/// as stored and decoded only when asked for.
pub struct OnlineSnapshot {
    pub group: String,
    pub manifest: Manifest,
    /// Column name -> its position in the schema (and in each record's values).
    columns: std::collections::HashMap<String, usize>,
    records: std::collections::HashMap<Box<str>, Box<[u8]>>,
}

impl OnlineSnapshot {
    /// The position of column `name` in the schema, for picking it out of records by index.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The latest record of `id`, `None` if there is none or it was deleted.
    pub fn get(&self, id: &str) -> Result<Option<Record>> {
        let Some(stored) = self.records.get(id) else { return Ok(None) };
        let stored = online::decode(&self.group, stored)?;
        let values = self.manifest.schema.iter().map(|c| c.name.clone()).zip(stored.values).collect();
        Ok(Some(Record { group: self.group.clone(), id: id.to_string(), version: stored.version, values }))
    }
}

/// An open online store of one group. Holds the group's shared lock, so writers wait for it.
pub struct OnlineHandle {
    _lock: GroupLock,
    reader: online::Reader,
    group: String,
    columns: Vec<String>,
}

impl OnlineHandle {
    pub fn get(&self, id: &str) -> Result<Option<Record>> {
        let Some(stored) = self.reader.get(&self.group, id)? else { return Ok(None) };
        if stored.deleted {
            return Ok(None);
        }
        let values = self.columns.iter().cloned().zip(stored.values).collect();
        Ok(Some(Record { group: self.group.clone(), id: id.to_string(), version: stored.version, values }))
    }

    /// The version that deleted `id`, if its latest state is a delete.
    pub fn deleted_in(&self, id: &str) -> Result<Option<u64>> {
        Ok(self.reader.get(&self.group, id)?.filter(|s| s.deleted).map(|s| s.version))
    }
}

/// The elements of `all` whose `keep` is true, in order.
fn keep_marked<T>(all: Vec<T>, keep: &[bool]) -> Vec<T> {
    all.into_iter().zip(keep).filter(|(_, keep)| **keep).map(|(value, _)| value).collect()
}

/// A table's columns with polars' type names.
pub fn columns_of(df: &DataFrame) -> Vec<ColumnSpec> {
    df.schema().iter().map(|(name, dtype)| ColumnSpec { name: name.to_string(), dtype: dtype.to_string() }).collect()
}

#[cfg(test)]
mod tests;
