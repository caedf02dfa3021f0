//! The feature store's errors. Messages name the group, column or query at fault, because the
//! CLI and the node kinds print them as they are.

use std::path::PathBuf;

/// Everything that can go wrong in the feature store.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("no feature group '{name}' ({})", known_list(.known))]
    UnknownGroup { name: String, known: Vec<String> },

    #[error(
        "bad feature group name '{0}': use letters, digits and '_', starting with a letter or '_' (it becomes an SQL table name)"
    )]
    BadGroupName(String),

    #[error("the table for feature group '{group}' has no {role} column '{column}'; its columns are: {}", .columns.join(", "))]
    MissingColumn { group: String, role: &'static str, column: String, columns: Vec<String> },

    #[error("feature group '{group}': {message}")]
    BadColumn { group: String, message: String },

    #[error("feature group '{group}' was created with {what}; this ingestion uses {given}")]
    KeyMismatch { group: String, what: String, given: String },

    #[error("schema drift in feature group '{group}': {}", drift_text(.added, .removed, .retyped))]
    SchemaDrift { group: String, added: Vec<String>, removed: Vec<String>, retyped: Vec<String> },

    #[error("feature group '{group}' has no version {version} (it has {latest})")]
    UnknownVersion { group: String, version: u64, latest: u64 },

    #[error("SQL error: {message}\n  in query: {query}")]
    Sql { query: String, message: String },

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },

    #[error("{context}: {source}")]
    Polars { context: String, source: polars::error::PolarsError },

    #[error("online store of '{group}': {message}")]
    Online { group: String, message: String },

    #[error("manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
}

impl FsError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> FsError {
        FsError::Io { context: context.into(), source }
    }

    pub(crate) fn polars(context: impl Into<String>, source: polars::error::PolarsError) -> FsError {
        FsError::Polars { context: context.into(), source }
    }

    pub(crate) fn online(group: &str, error: impl std::fmt::Display) -> FsError {
        FsError::Online { group: group.to_string(), message: error.to_string() }
    }
}

pub type Result<T, E = FsError> = std::result::Result<T, E>;

fn known_list(known: &[String]) -> String {
    if known.is_empty() { "the store has no groups yet".to_string() } else { format!("groups: {}", known.join(", ")) }
}

fn drift_text(added: &[String], removed: &[String], retyped: &[String]) -> String {
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    if !retyped.is_empty() {
        parts.push(format!("retyped {}", retyped.join(", ")));
    }
    format!("{} (a group's schema is fixed when it is created; write to a new group to change it)", parts.join("; "))
}
