//! The feature groups the server answers from: one in-memory snapshot per group, replaced whole
//! when a run ingests a new version.
//!
//! Why snapshots rather than the online store's file: the store's writers take the group's
//! exclusive lock, and a reader holding the file open would stop `flow run` from ingesting. A
//! snapshot is read under the shared lock in one transaction (a writer waits only while it is
//! read) and then served lock-free; a request holds an `Arc` of one snapshot, so it sees each
//! record whole, from the old version or the new, never a mix.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, RwLock};

use flow_featurestore::{FeatureStore, FsError, OnlineSnapshot};

/// What identifies one state of a group's manifest (replaced by rename on every ingestion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    size: u64,
    mtime_ns: i128,
}

struct Loaded {
    stamp: Stamp,
    snapshot: Arc<OnlineSnapshot>,
}

pub struct Groups {
    store: FeatureStore,
    loaded: RwLock<BTreeMap<String, Loaded>>,
}

/// What one refresh changed, for the log.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub loaded: Vec<(String, u64, usize)>,
    pub dropped: Vec<String>,
    pub failed: Vec<(String, FsError)>,
}

impl Groups {
    pub fn new(store: FeatureStore) -> Groups {
        Groups { store, loaded: RwLock::new(BTreeMap::new()) }
    }

    pub fn get(&self, name: &str) -> Option<Arc<OnlineSnapshot>> {
        self.loaded.read().ok()?.get(name).map(|l| Arc::clone(&l.snapshot))
    }

    pub fn all(&self) -> Vec<Arc<OnlineSnapshot>> {
        self.loaded.read().map(|l| l.values().map(|l| Arc::clone(&l.snapshot)).collect()).unwrap_or_default()
    }

    pub fn names(&self) -> Vec<String> {
        self.loaded.read().map(|l| l.keys().cloned().collect()).unwrap_or_default()
    }

    /// Loads the groups that are new or whose manifest changed since the last refresh, and
    /// forgets dropped ones. A group that fails to load keeps its previous snapshot. Blocking:
    /// call it off the async workers.
    pub fn refresh(&self) -> Refreshed {
        let mut done = Refreshed::default();
        let names = match self.store.groups() {
            Ok(names) => names,
            Err(e) => {
                done.failed.push((String::new(), e));
                return done;
            }
        };
        for name in &names {
            let Some(stamp) = stamp(&self.store, name) else { continue };
            let current = self.loaded.read().ok().and_then(|l| l.get(name).map(|l| l.stamp));
            if current == Some(stamp) {
                continue;
            }
            // The stamp is taken before reading: a version landing meanwhile changes the
            // manifest again, and the next refresh loads it.
            match self.store.online_snapshot(name) {
                Ok(snapshot) => {
                    done.loaded.push((name.clone(), snapshot.manifest.latest_version(), snapshot.len()));
                    let replaced = self
                        .loaded
                        .write()
                        .map(|mut loaded| loaded.insert(name.clone(), Loaded { stamp, snapshot: Arc::new(snapshot) }));
                    if let Ok(Some(old)) = replaced {
                        free_here(old.snapshot);
                    }
                }
                Err(e) => done.failed.push((name.clone(), e)),
            }
        }
        let mut gone = Vec::new();
        if let Ok(mut loaded) = self.loaded.write() {
            let names: Vec<String> = loaded.keys().filter(|k| !names.contains(k)).cloned().collect();
            for name in names {
                gone.extend(loaded.remove(&name));
                done.dropped.push(name);
            }
        }
        for old in gone {
            free_here(old.snapshot);
        }
        done
    }
}

/// Frees a replaced snapshot on this (refresh) thread, after the requests still reading it are
/// done: freeing 100,000 records takes milliseconds that no request should wait through, as
/// it would if the last request holding the snapshot freed it on an async worker.
fn free_here(mut snapshot: Arc<OnlineSnapshot>) {
    for _ in 0..200 {
        match Arc::try_unwrap(snapshot) {
            Ok(alone) => return drop(alone),
            Err(shared) => snapshot = shared,
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn stamp(store: &FeatureStore, group: &str) -> Option<Stamp> {
    let meta = std::fs::metadata(store.root().join(group).join("manifest.json")).ok()?;
    Some(Stamp {
        inode: meta.ino(),
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}
