//! The models the server scores with: the bundles (`ml.bundle` outputs) that runs recorded,
//! each served under its name from the newest run that made one of that name.
//!
//! A bundle is read from the content-addressed store and its bytes hashed before it is parsed:
//! one that does not hash to the digest its run recorded (edited, truncated, bit-rotted) is
//! never served. Bundles are kept by digest, so a refresh reads only new ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use flow_engine::store::StateDir;
use flow_engine::store::runs::runs_newest_first;
use flow_ml::bundle::ModelBundle;

/// The node kind whose `bundle` output is a model.
const BUNDLE_KIND: &str = "ml.bundle";

/// A served model and where it came from.
pub struct Served {
    pub bundle: ModelBundle,
    /// blake3 of the bundle file, as its run recorded it.
    pub digest: String,
    pub run: String,
    pub node: String,
    pub workflow: String,
}

pub struct Models {
    state: StateDir,
    /// The runs folder's modification time at the last refresh: a new run record changes it.
    seen: RwLock<Option<SystemTime>>,
    by_name: RwLock<BTreeMap<String, Arc<Served>>>,
    /// Every bundle read and verified so far, by digest.
    by_digest: RwLock<HashMap<String, ModelBundle>>,
}

/// What one refresh changed, for the log.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub served: Vec<(String, String, String)>,
    pub refused: Vec<(String, String)>,
}

impl Models {
    pub fn new(state: StateDir) -> Models {
        Models {
            state,
            seen: RwLock::new(None),
            by_name: RwLock::new(BTreeMap::new()),
            by_digest: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Served>> {
        self.by_name.read().ok()?.get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Served>> {
        self.by_name.read().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    pub fn names(&self) -> Vec<String> {
        self.by_name.read().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// Looks at the run records again if a run finished since the last look. Blocking.
    pub fn refresh(&self) -> Refreshed {
        let mut done = Refreshed::default();
        let modified = std::fs::metadata(self.state.runs_dir()).and_then(|m| m.modified()).ok();
        if modified.is_some() && self.seen.read().is_ok_and(|seen| *seen == modified) {
            return done;
        }
        let mut newest: BTreeMap<String, Arc<Served>> = BTreeMap::new();
        for run in runs_newest_first(&self.state) {
            for node in run.nodes.iter().filter(|n| n.kind == BUNDLE_KIND) {
                let Some(digest) = node.outputs.get("bundle") else { continue };
                let Some(bundle) = self.bundle(digest, &mut done) else { continue };
                if newest.contains_key(bundle.name()) {
                    continue;
                }
                let served = match self.get(bundle.name()).filter(|s| &s.digest == digest && s.run == run.id) {
                    Some(same) => same,
                    None => {
                        done.served.push((bundle.name().to_string(), run.id.clone(), digest.clone()));
                        Arc::new(Served {
                            bundle,
                            digest: digest.clone(),
                            run: run.id.clone(),
                            node: node.name.clone(),
                            workflow: run.workflow.clone(),
                        })
                    }
                };
                newest.insert(served.bundle.name().to_string(), served);
            }
        }
        if let Ok(mut by_name) = self.by_name.write() {
            *by_name = newest;
        }
        if let Ok(mut seen) = self.seen.write() {
            *seen = modified;
        }
        done
    }

    /// The bundle stored under `digest`, read and verified once.
    fn bundle(&self, digest: &str, done: &mut Refreshed) -> Option<ModelBundle> {
        if let Some(known) = self.by_digest.read().ok()?.get(digest) {
            return Some(known.clone());
        }
        match self.read_verified(digest) {
            Ok(bundle) => {
                if let Ok(mut by_digest) = self.by_digest.write() {
                    by_digest.insert(digest.to_string(), bundle.clone());
                }
                Some(bundle)
            }
            // Not remembered: a later run may store the object again, whole.
            Err(why) => {
                done.refused.push((digest.to_string(), why));
                None
            }
        }
    }

    fn read_verified(&self, digest: &str) -> Result<ModelBundle, String> {
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("'{digest}' is not a digest"));
        }
        let path = self.state.cas_dir().join(&digest[..2]).join(&digest[2..]);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if blake3::hash(&bytes).to_hex().as_str() != digest {
            return Err(format!(
                "{} does not hash to its digest: changed since its run stored it (`flow verify` quarantines it)",
                path.display()
            ));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        ModelBundle::from_json(text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
