//! Run records: what each `flow run` did, node by node (provenance, `flow status`, `flow why`,
//! and the roots `flow gc` keeps).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::store::{StateDir, write_atomic};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Executed in this run.
    Ran,
    /// Answered from the action cache.
    Cached,
    Failed,
    /// Not started because an upstream node failed or the run stopped early.
    Skipped,
    Cancelled,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Ran => "ran",
            NodeStatus::Cached => "cached",
            NodeStatus::Failed => "failed",
            NodeStatus::Skipped => "skipped",
            NodeStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeRecord {
    pub name: String,
    pub kind: String,
    pub status: NodeStatus,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Output port -> digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Why a node that was cached reran anyway: its cached output was corrupt in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired: Option<String>,
    /// For a mapped node: how many items ran, came from the cache, failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<crate::map::ItemCounts>,
    /// Ids of the cluster jobs that ran its attempts (and items), in submission order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub name: String,
    pub started: String,
    pub seconds: f64,
    /// "ok", "failed" or "cancelled".
    pub status: String,
    /// What the user should know beyond the node statuses: repaired objects, reduced resource
    /// requests, damaged state lines skipped, a refused publish.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub nodes: Vec<NodeRecord>,
}

impl RunRecord {
    pub fn count(&self, status: NodeStatus) -> usize {
        self.nodes.iter().filter(|n| n.status == status).count()
    }

    pub fn save(&self, state: &StateDir) -> io::Result<()> {
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_atomic(&state.runs_dir().join(format!("{}.json", self.id)), &json)
    }
}

/// A new run id: UTC time to the millisecond plus the pid, so ids sort by start time.
pub fn new_run_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", format_utc_compact(now.as_secs(), now.subsec_millis()), std::process::id())
}

/// Run record files, newest first. Records of big workflows are megabytes, so callers parse
/// only as many as they need.
fn run_files(state: &StateDir) -> Vec<std::path::PathBuf> {
    let mut names: Vec<String> = fs::read_dir(state.runs_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort_unstable_by(|a, b| b.cmp(a));
    names.iter().map(|name| state.runs_dir().join(name)).collect()
}

/// Run records, newest first, each read when the iterator gets to it.
pub fn runs_newest_first(state: &StateDir) -> impl Iterator<Item = RunRecord> {
    run_files(state).into_iter().filter_map(|path| read_run(&path))
}

/// Run records, newest first (at most `limit`).
pub fn list_runs(state: &StateDir, limit: usize) -> Vec<RunRecord> {
    runs_newest_first(state).take(limit).collect()
}

/// The record of run `id`, if there is one.
pub fn run_by_id(state: &StateDir, id: &str) -> Option<RunRecord> {
    // An id is a file name; one with a path in it names no run.
    if id.contains(['/', '\\']) || id.starts_with('.') {
        return None;
    }
    read_run(&state.runs_dir().join(format!("{id}.json")))
}

/// The newest run of one workflow file.
pub fn last_run_of(state: &StateDir, workflow: &str) -> Option<RunRecord> {
    runs_newest_first(state).find(|r| r.workflow == workflow)
}

/// The newest run of one workflow file that built `node` or found it cached: one whose record
/// has the node's action key.
pub fn last_run_of_node(state: &StateDir, workflow: &str, node: &str) -> Option<RunRecord> {
    runs_newest_first(state).find(|r| {
        r.workflow == workflow
            && r.nodes
                .iter()
                .any(|n| n.name == node && n.key.is_some() && matches!(n.status, NodeStatus::Ran | NodeStatus::Cached))
    })
}

fn read_run(path: &Path) -> Option<RunRecord> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// `20261126T153317.123Z`
pub fn format_utc_compact(secs: u64, millis: u32) -> String {
    let at = utc(secs) + chrono::TimeDelta::milliseconds(i64::from(millis.min(999)));
    at.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// `2026-11-26 15:33:17 UTC`
pub fn format_utc(secs: u64) -> String {
    utc(secs).format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn now_utc() -> String {
    format_utc(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

/// Unix seconds as a UTC time; past chrono's range (year 262,143) the latest it has.
fn utc(secs: u64) -> chrono::DateTime<chrono::Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        // 2026-11-26 15:33:17 UTC, from `date -d @1795707197 -u`.
        assert_eq!(format_utc(1_795_707_197), "2026-11-26 15:33:17 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc_compact(1_795_707_197, 123), "20261126T153317.123Z");
    }
}
