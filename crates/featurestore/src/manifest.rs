//! A feature group's manifest: its keys, its fixed schema and the list of its ingestions.
//!
//! The manifest is the commit point of an ingestion. The Parquet file is written first, then the
//! manifest is replaced atomically (temp file + rename), so a crash leaves either the old
//! manifest (and an orphan file nobody reads) or the new one, never a half-listed version.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{FsError, Result};

/// The manifest layout written by this code; a store written by a newer flow is refused rather
/// than misread, because it holds user data that cannot be rebuilt.
pub const MANIFEST_FORMAT: u32 = 1;

/// One column of a group's schema; `dtype` is polars' name for the type (`str`, `f64`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub dtype: String,
}

/// Whether an ingestion put records or deleted them (SageMaker's `is_deleted` rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestKind {
    Put,
    Delete,
}

/// One append to the offline store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingestion {
    pub version: u64,
    pub kind: IngestKind,
    /// blake3 of the ingested table's canonical Parquet encoding (without write_time/is_deleted).
    pub digest: String,
    /// Rows written to this version's file: the new and changed records of the table.
    pub rows: u64,
    /// Rows of the table that equalled their record already and were not written again.
    #[serde(default)]
    pub unchanged: u64,
    /// Wall-clock time of the ingestion, UTC, as text and as milliseconds since the epoch.
    pub write_time: String,
    pub write_time_ms: i64,
    /// The Parquet file, relative to the group's directory.
    pub file: String,
}

/// Everything known about a feature group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub record_id: String,
    pub event_time: String,
    pub schema: Vec<ColumnSpec>,
    pub ingestions: Vec<Ingestion>,
}

/// Which state of a group to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// Everything ingested so far.
    Latest,
    /// The ingestions up to and including this version.
    Version(u64),
    /// The ingestions written at or before this time (ms since the epoch, UTC).
    WriteTime(i64),
}

impl Manifest {
    pub fn latest_version(&self) -> u64 {
        self.ingestions.last().map_or(0, |i| i.version)
    }

    pub fn column_names(&self) -> Vec<String> {
        self.schema.iter().map(|c| c.name.clone()).collect()
    }

    /// The ingestions a read `as_of` sees, oldest first.
    pub fn ingestions_as_of(&self, as_of: AsOf) -> Result<&[Ingestion]> {
        let count = match as_of {
            AsOf::Latest => self.ingestions.len(),
            AsOf::Version(version) => {
                if version > self.latest_version() {
                    return Err(FsError::UnknownVersion {
                        group: self.name.clone(),
                        version,
                        latest: self.latest_version(),
                    });
                }
                self.ingestions.iter().take_while(|i| i.version <= version).count()
            }
            AsOf::WriteTime(ms) => self.ingestions.iter().take_while(|i| i.write_time_ms <= ms).count(),
        };
        Ok(&self.ingestions[..count])
    }
}

/// Group names become directory names and SQL table names, so they are plain identifiers.
pub fn check_group_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && name.len() <= 128 {
        Ok(())
    } else {
        Err(FsError::BadGroupName(name.to_string()))
    }
}

/// Which columns were added, removed or changed type between a group's schema and a new table.
pub fn schema_drift(group: &str, old: &[ColumnSpec], new: &[ColumnSpec]) -> Result<()> {
    let find = |list: &[ColumnSpec], name: &str| list.iter().find(|c| c.name == name).map(|c| c.dtype.clone());
    let added: Vec<String> = new.iter().filter(|c| find(old, &c.name).is_none()).map(|c| c.name.clone()).collect();
    let removed: Vec<String> = old.iter().filter(|c| find(new, &c.name).is_none()).map(|c| c.name.clone()).collect();
    let retyped: Vec<String> = new
        .iter()
        .filter_map(|c| match find(old, &c.name) {
            Some(before) if before != c.dtype => Some(format!("{} ({before} -> {})", c.name, c.dtype)),
            _ => None,
        })
        .collect();
    if added.is_empty() && removed.is_empty() && retyped.is_empty() {
        Ok(())
    } else {
        Err(FsError::SchemaDrift { group: group.to_string(), added, removed, retyped })
    }
}

/// Reads a manifest; `Ok(None)` when the group does not exist.
pub fn load(path: &Path) -> Result<Option<Manifest>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FsError::io(format!("read {}", path.display()), e)),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| FsError::Manifest { path: path.to_path_buf(), message: e.to_string() })?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(FsError::Manifest {
            path: path.to_path_buf(),
            message: format!(
                "format {} is not the one this flow understands ({MANIFEST_FORMAT}); use the flow that wrote it",
                manifest.format
            ),
        });
    }
    Ok(Some(manifest))
}

/// Replaces a manifest atomically: a reader sees the old one or the new one.
pub fn save(path: &Path, manifest: &Manifest) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|e| FsError::Manifest { path: path.to_path_buf(), message: e.to_string() })?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to a temp file beside `path`, syncs it and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(bytes).map_err(|e| FsError::io(format!("write {}", tmp.display()), e))?;
        file.sync_all().map_err(|e| FsError::io(format!("sync {}", tmp.display()), e))?;
        fs::rename(&tmp, path).map_err(|e| FsError::io(format!("rename to {}", path.display()), e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // The rename is durable only once the directory entry is.
    if let Some(Ok(dir)) = path.parent().map(fs::File::open) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A sibling temp name unique to this process and thread, so concurrent writers never share one.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    path.with_file_name(format!(".{name}.tmp-{}-{thread}", std::process::id()))
}

/// Creates a new private (0600) file, replacing a stale one.
pub fn private_file(path: &Path) -> Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FsError::io(format!("create {}", path.display()), e))
}

/// Creates a directory and its parents, private (0700): the store holds patient data.
pub fn private_dir(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| FsError::io(format!("create {}", path.display()), e))
}

/// An advisory lock on one group (`flock` on `<group>/lock`): writers hold it exclusively for a
/// whole ingestion; online readers share it, because redb refuses to open a file a writer holds.
/// The kernel frees it if the process dies.
pub struct GroupLock {
    _file: fs::File,
}

impl GroupLock {
    pub fn acquire(group_dir: &Path, exclusive: bool) -> Result<GroupLock> {
        private_dir(group_dir)?;
        let path = group_dir.join("lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| FsError::io(format!("open {}", path.display()), e))?;
        let locked = if exclusive { file.lock() } else { file.lock_shared() };
        locked.map_err(|e| FsError::io(format!("lock {}", path.display()), e))?;
        Ok(GroupLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, dtype: &str) -> ColumnSpec {
        ColumnSpec { name: name.into(), dtype: dtype.into() }
    }

    #[test]
    fn drift_names_every_changed_column() {
        let old = [col("id", "str"), col("age", "i64"), col("bmi", "f64")];
        let new = [col("id", "str"), col("age", "f64"), col("smoker", "bool")];
        let err = schema_drift("clinical", &old, &new).err().unwrap().to_string();
        assert!(err.contains("added smoker"), "{err}");
        assert!(err.contains("removed bmi"), "{err}");
        assert!(err.contains("retyped age (i64 -> f64)"), "{err}");
        assert!(schema_drift("clinical", &old, &old).is_ok());
    }

    #[test]
    fn group_names_are_identifiers() {
        assert!(check_group_name("clinical_v2").is_ok());
        assert!(check_group_name("_x").is_ok());
        for bad in ["", "2x", "a-b", "../etc", "a b"] {
            assert!(check_group_name(bad).is_err(), "{bad}");
        }
    }
}
