//! Publishing: copying final artifacts out of the store to the paths a workflow names, without
//! ever destroying what flow did not write.
//!
//! The state directory keeps a record of what flow last published where (path relative to the
//! project -> shape and digest). A destination that exists is replaced only if its content is
//! still exactly what the record says flow put there; anything else (a file the user made, an
//! edited report, an old result from a lost state directory) is refused with a message naming
//! it, unless the run was given `--overwrite`. Replacement is atomic: the new copy is written
//! beside the destination, then swapped in with one `renameat2(RENAME_EXCHANGE)`, so a kill at
//! any moment leaves the old content or the new, never a mix or nothing. Staging paths are
//! written to the record before they are created, so the next publish removes leftovers of a
//! killed one and nothing else.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, Shape};
use crate::store::cas::{Cas, remove_any};
use crate::store::statcache::StatCache;
use crate::store::{Verdict, write_atomic};

const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "publish: {} exists and is not what flow last published there ({why}); flow never replaces \
         files it did not write: move it away, or run again with --overwrite to replace it",
        dest.display()
    )]
    NotOurs { dest: PathBuf, why: String },
    #[error("publish: {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("publish interrupted; every destination holds its old or its new content")]
    Interrupted,
    /// The destination no longer resolves to a safe place (a symbolic link made since the load).
    #[error("{0}")]
    Refused(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PublishError + '_ {
    move |source| PublishError::Io { path: path.to_path_buf(), source }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    shape: char,
    digest: String,
}

/// What flow published where, kept in the state directory (`published`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PublishRecord {
    version: u32,
    /// Destination relative to the project directory -> what flow put there.
    entries: BTreeMap<String, Entry>,
    /// Staging paths being written (relative to the project); removed by the next publish.
    #[serde(default)]
    staging: Vec<String>,
    /// What a swap in progress is putting in place: after a kill between the swap and the
    /// record of it, the destination holds this and is still flow's.
    #[serde(default)]
    pending: BTreeMap<String, Entry>,
    #[serde(skip)]
    path: PathBuf,
    #[serde(skip)]
    project_dir: PathBuf,
}

/// One artifact to publish.
pub struct Target<'a> {
    pub object: PathBuf,
    pub shape: Shape,
    pub digest: Digest,
    pub dest: &'a Path,
}

impl PublishRecord {
    /// Reads the record; a missing or unreadable one is empty (then every existing destination
    /// counts as the user's).
    pub fn load(path: &Path, project_dir: &Path) -> PublishRecord {
        let mut record = fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<PublishRecord>(&bytes).ok())
            .filter(|r| r.version == VERSION)
            .unwrap_or_default();
        record.version = VERSION;
        record.path = path.to_path_buf();
        record.project_dir = project_dir.to_path_buf();
        record
    }

    fn save(&self) -> Result<(), PublishError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| PublishError::Io { path: self.path.clone(), source: io::Error::other(e) })?;
        write_atomic(&self.path, &bytes).map_err(io_error(&self.path))
    }

    fn key(&self, dest: &Path) -> String {
        dest.strip_prefix(&self.project_dir).unwrap_or(dest).to_string_lossy().into_owned()
    }

    /// Whether `dest` may be replaced: it does not exist, holds exactly what flow last published
    /// there (or was putting there when a kill cut the record short), or holds content the
    /// store has intact (a result published before this record existed: replacing it loses
    /// nothing). `Err` names why not.
    pub fn check_ours(&self, dest: &Path, stat: &mut StatCache, cas: &Cas) -> Result<(), PublishError> {
        let meta = match fs::symlink_metadata(dest) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(PublishError::Io { path: dest.to_path_buf(), source: e }),
        };
        let not_ours = |why: &str| PublishError::NotOurs { dest: dest.to_path_buf(), why: why.to_string() };
        if meta.file_type().is_symlink() || !(meta.is_file() || meta.is_dir()) {
            return Err(not_ours("it is not a plain file or directory"));
        }
        let key = self.key(dest);
        let (shape, digest) = stat.digest(dest).map_err(io_error(dest))?;
        let holds = |entry: &Entry| shape.letter() == entry.shape && digest.to_hex() == entry.digest;
        if self.entries.get(&key).is_some_and(holds) || self.pending.get(&key).is_some_and(holds) {
            return Ok(());
        }
        if matches!(cas.verify(&digest), Ok(Verdict::Intact)) {
            return Ok(());
        }
        Err(not_ours(if self.entries.contains_key(&key) {
            "it was changed since flow published it"
        } else {
            "flow has no record of publishing it"
        }))
    }

    /// Publishes every target: skips destinations that already hold the artifact, refuses ones
    /// that are not flow's (unless `overwrite`), replaces the rest atomically. `stop` is checked
    /// between files; once set, the copy in progress is abandoned and the destination kept.
    pub fn publish(
        &mut self,
        targets: &[Target<'_>],
        overwrite: bool,
        stat: &mut StatCache,
        cas: &Cas,
        stop: &AtomicBool,
    ) -> Result<usize, PublishError> {
        self.remove_leftover_staging();
        let mut copied = 0;
        for target in targets {
            if stop.load(Ordering::SeqCst) {
                return Err(PublishError::Interrupted);
            }
            let key = self.key(target.dest);
            let entry = Entry { shape: target.shape.letter(), digest: target.digest.to_hex() };
            if fs::symlink_metadata(target.dest).is_ok() {
                let same = stat.digest(target.dest).map(|(s, d)| s == target.shape && d == target.digest);
                if matches!(same, Ok(true)) {
                    if self.entries.get(&key) != Some(&entry) {
                        self.entries.insert(key, entry);
                        self.save()?;
                    }
                    continue;
                }
                if !overwrite {
                    self.check_ours(target.dest, stat, cas)?;
                }
            }
            self.replace(target, &key, &entry, stop)?;
            self.pending.remove(&key);
            self.entries.insert(key, entry);
            self.save()?;
            copied += 1;
        }
        Ok(copied)
    }

    fn replace(
        &mut self,
        target: &Target<'_>,
        key: &str,
        entry: &Entry,
        stop: &AtomicBool,
    ) -> Result<(), PublishError> {
        let dest = target.dest;
        let parent = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_error(parent))?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let staging = parent.join(format!(".{name}.flow-publish"));
        let staging_key = self.key(&staging);
        // Recorded before it exists: a kill from here on leaves a path the next run may remove.
        if !self.staging.contains(&staging_key) {
            self.staging.push(staging_key.clone());
            self.save()?;
        }
        remove_any(&staging).map_err(io_error(&staging))?;
        let copied = copy_tree(&target.object, &staging, stop);
        if let Err(e) = copied {
            let _ = remove_any(&staging);
            return Err(e);
        }
        self.pending.insert(key.to_string(), entry.clone());
        self.save()?;
        if fs::symlink_metadata(dest).is_ok() {
            // Where the swap needs two renames, the old content waits beside for a moment.
            let aside_key = self.key(&aside_of(&staging));
            if !self.staging.contains(&aside_key) {
                self.staging.push(aside_key);
                self.save()?;
            }
            exchange(&staging, dest).map_err(io_error(dest))?;
            // The staging path now holds the old content, which was flow's (or --overwrite).
            remove_any(&staging).map_err(io_error(&staging))?;
        } else {
            fs::rename(&staging, dest).map_err(io_error(dest))?;
        }
        let aside_key = self.key(&aside_of(&staging));
        self.staging.retain(|s| s != &staging_key && s != &aside_key);
        tracing::info!(dest = %key, "published");
        Ok(())
    }

    fn remove_leftover_staging(&mut self) {
        if self.staging.is_empty() {
            return;
        }
        for rel in std::mem::take(&mut self.staging) {
            let _ = remove_any(&self.project_dir.join(rel));
        }
        let _ = self.save();
    }
}

fn aside_of(staging: &Path) -> PathBuf {
    staging.with_extension("flow-old")
}

/// Swaps two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`). Where the file system
/// cannot, falls back to two renames, with a moment in which `b` is missing.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    let rc =
        unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if !matches!(error.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)) {
        return Err(error);
    }
    let aside = aside_of(a);
    fs::rename(b, &aside)?;
    fs::rename(a, b)?;
    fs::rename(&aside, a)
}

/// Copies a store object out, writable by its owner: published files belong to the user.
fn copy_tree(src: &Path, dest: &Path, stop: &AtomicBool) -> Result<(), PublishError> {
    if stop.load(Ordering::SeqCst) {
        return Err(PublishError::Interrupted);
    }
    let meta = fs::symlink_metadata(src).map_err(io_error(src))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(src).map_err(io_error(src))?;
        std::os::unix::fs::symlink(target, dest).map_err(io_error(dest))
    } else if meta.is_dir() {
        fs::create_dir(dest).map_err(io_error(dest))?;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(io_error(src))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(io_error(src))?;
        entries.sort();
        for name in entries {
            copy_tree(&src.join(&name), &dest.join(&name), stop)?;
        }
        Ok(())
    } else {
        fs::copy(src, dest).map_err(io_error(dest))?;
        let mode = if meta.permissions().mode() & 0o111 != 0 { 0o700 } else { 0o600 };
        fs::set_permissions(dest, fs::Permissions::from_mode(mode)).map_err(io_error(dest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::digest_path;

    fn target<'a>(object: &Path, dest: &'a Path) -> Target<'a> {
        let (shape, digest) = digest_path(object).unwrap();
        Target { object: object.to_path_buf(), shape, digest, dest }
    }

    fn empty_cas(dir: &Path) -> Cas {
        Cas::open(dir.join("cas"), &dir.join("stamps"), Some(dir.join("quarantine")))
    }

    #[test]
    fn replaces_only_what_it_published_and_records_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        fs::create_dir_all(project.join("results")).unwrap();
        let objects = dir.path().join("objects");
        fs::create_dir_all(objects.join("tree/sub")).unwrap();
        fs::write(objects.join("tree/sub/a"), b"one").unwrap();
        fs::write(objects.join("v2"), b"two").unwrap();
        let record_path = dir.path().join("published");
        let mut stat = StatCache::load(&dir.path().join("statcache"));
        let cas = empty_cas(dir.path());
        let stop = AtomicBool::new(false);
        let dest = project.join("results/out");

        // A user's file in the way is refused and left alone.
        fs::write(&dest, b"mine").unwrap();
        let mut record = PublishRecord::load(&record_path, &project);
        let err = record.publish(&[target(&objects.join("tree"), &dest)], false, &mut stat, &cas, &stop).unwrap_err();
        assert!(matches!(err, PublishError::NotOurs { .. }), "{err}");
        assert!(err.to_string().contains("--overwrite"), "{err}");
        assert_eq!(fs::read(&dest).unwrap(), b"mine");

        // With --overwrite it goes; from then on flow owns the path, across reloads.
        record.publish(&[target(&objects.join("tree"), &dest)], true, &mut stat, &cas, &stop).unwrap();
        assert_eq!(fs::read(dest.join("sub/a")).unwrap(), b"one");
        let mut record = PublishRecord::load(&record_path, &project);
        record.publish(&[target(&objects.join("v2"), &dest)], false, &mut stat, &cas, &stop).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two", "a dir flow published may become a file");

        // An edit makes it the user's again.
        fs::write(&dest, b"edited").unwrap();
        let err = record.publish(&[target(&objects.join("tree"), &dest)], false, &mut stat, &cas, &stop).unwrap_err();
        assert!(err.to_string().contains("changed since flow published it"), "{err}");
        assert_eq!(fs::read(&dest).unwrap(), b"edited");
        let leftovers: Vec<_> =
            fs::read_dir(project.join("results")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no staging left behind: {leftovers:?}");
    }

    #[test]
    fn an_interrupted_publish_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        fs::create_dir_all(&project).unwrap();
        fs::create_dir_all(dir.path().join("new")).unwrap();
        fs::write(dir.path().join("new/a"), b"new").unwrap();
        fs::write(dir.path().join("old"), b"old").unwrap();
        let mut stat = StatCache::load(&dir.path().join("statcache"));
        let cas = empty_cas(dir.path());
        let mut record = PublishRecord::load(&dir.path().join("published"), &project);
        let dest = project.join("out");
        let go = AtomicBool::new(false);
        record.publish(&[target(&dir.path().join("old"), &dest)], false, &mut stat, &cas, &go).unwrap();
        let stop = AtomicBool::new(true);
        let err = record.publish(&[target(&dir.path().join("new"), &dest)], false, &mut stat, &cas, &stop).unwrap_err();
        assert!(matches!(err, PublishError::Interrupted));
        assert_eq!(fs::read(&dest).unwrap(), b"old");
    }

    #[test]
    fn a_destination_a_kill_left_mid_swap_is_still_flows() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        fs::create_dir_all(&project).unwrap();
        for (name, text) in [("v1", "one"), ("v2", "two"), ("v3", "three")] {
            fs::write(dir.path().join(name), text).unwrap();
        }
        let mut stat = StatCache::load(&dir.path().join("statcache"));
        let cas = empty_cas(dir.path());
        let go = AtomicBool::new(false);
        let record_path = dir.path().join("published");
        let dest = project.join("out");
        let mut record = PublishRecord::load(&record_path, &project);
        record.publish(&[target(&dir.path().join("v1"), &dest)], false, &mut stat, &cas, &go).unwrap();

        // What disk holds after a kill between the swap and the record of it: v2 in place, the
        // record still naming v1, with v2 pending.
        let v2 = target(&dir.path().join("v2"), &dest);
        record.pending.insert("out".into(), Entry { shape: v2.shape.letter(), digest: v2.digest.to_hex() });
        record.save().unwrap();
        fs::write(&dest, "two").unwrap();

        let mut record = PublishRecord::load(&record_path, &project);
        record.publish(&[target(&dir.path().join("v3"), &dest)], false, &mut stat, &cas, &go).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"three");
        assert!(PublishRecord::load(&record_path, &project).pending.is_empty(), "the swap is recorded as done");

        // Without that pending entry, the same bytes would be a stranger's.
        fs::write(&dest, "two").unwrap();
        let err = record.publish(&[target(&dir.path().join("v1"), &dest)], false, &mut stat, &cas, &go).unwrap_err();
        assert!(matches!(err, PublishError::NotOurs { .. }), "{err}");
    }

    #[test]
    fn content_the_store_holds_may_be_replaced_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        fs::create_dir_all(&project).unwrap();
        fs::write(dir.path().join("new"), "new").unwrap();
        let mut stat = StatCache::load(&dir.path().join("statcache"));
        let cas = empty_cas(dir.path());
        let go = AtomicBool::new(false);
        let dest = project.join("out");
        // A result published by a flow that kept no record: its bytes are an object in the store.
        fs::write(dir.path().join("old"), "old result").unwrap();
        cas.ingest(&dir.path().join("old")).unwrap();
        fs::write(&dest, "old result").unwrap();
        let mut record = PublishRecord::load(&dir.path().join("published"), &project);
        record.publish(&[target(&dir.path().join("new"), &dest)], false, &mut stat, &cas, &go).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");

        // The same path holding bytes the store never had is the user's.
        let other = project.join("other");
        fs::write(&other, "the user's own").unwrap();
        let err = record.publish(&[target(&dir.path().join("new"), &other)], false, &mut stat, &cas, &go).unwrap_err();
        assert!(err.to_string().contains("no record"), "{err}");
        assert_eq!(fs::read(&other).unwrap(), b"the user's own");
    }
}
