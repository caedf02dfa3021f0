//! Work directories for node attempts: `SLOT-out/` for the outputs, `SLOT-scratch/` for the
//! node's own temporary files. They are reused within a run, emptied between attempts: on
//! ext4, creating and removing three directories per node cost about a third of a cold run's
//! controller time (new directory inodes scan the inode bitmaps; docs/benchmarks.md), and a
//! slot is now two. Slots are named after the run, so a process that escaped a node of an
//! earlier, killed run never writes into this run's directories; within a run, a node's
//! process group is gone before its slot is emptied.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::cas::remove_any;
use crate::store::create_private_dir;

/// The slots of one run under the state's `tmp/`.
pub struct WorkDirs {
    root: PathBuf,
    run_id: String,
    free: Mutex<Vec<PathBuf>>,
    created: AtomicUsize,
}

/// One attempt's directories, `SLOT-out` and `SLOT-scratch` side by side (two directories to
/// make, not three: on this project's ext4 a new directory costs 20-150 µs, a fifth of a small
/// node); give it back with [`WorkDirs::release`].
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub fn out(&self) -> PathBuf {
        self.beside("out")
    }

    pub fn scratch(&self) -> PathBuf {
        self.beside("scratch")
    }

    fn beside(&self, what: &str) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push("-");
        name.push(what);
        PathBuf::from(name)
    }

    /// Removes both directories, whatever they hold.
    fn remove(&self) {
        let _ = remove_any(&self.out());
        let _ = remove_any(&self.scratch());
    }
}

impl WorkDirs {
    pub fn new(root: PathBuf, run_id: &str) -> WorkDirs {
        WorkDirs { root, run_id: run_id.to_string(), free: Mutex::new(Vec::new()), created: AtomicUsize::new(0) }
    }

    /// An empty slot: a free one, or a new one.
    pub fn take(&self) -> io::Result<WorkDir> {
        if let Some(path) = self.free.lock().ok().and_then(|mut free| free.pop()) {
            return Ok(WorkDir { path });
        }
        let n = self.created.fetch_add(1, Ordering::Relaxed);
        let slot = WorkDir { path: self.root.join(format!("{}-w{n}", self.run_id)) };
        for dir in [slot.out(), slot.scratch()] {
            remove_any(&dir)?;
            create_private_dir(&dir)?;
        }
        Ok(slot)
    }

    /// Empties the slot for the next attempt; a slot that cannot be emptied (a file system
    /// error, a process still writing) is removed instead and never handed out again.
    pub fn release(&self, dir: WorkDir) {
        let emptied = [dir.out(), dir.scratch()].iter().all(|sub| empty(sub).is_ok());
        if emptied && let Ok(mut free) = self.free.lock() {
            free.push(dir.path);
        } else {
            dir.remove();
        }
    }
}

/// Removes everything inside `dir`, keeping `dir`, and checks it is left empty and private.
fn empty(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        remove_any(&entry?.path())?;
    }
    // A node may have chmodded its scratch dir; the next attempt needs it as it was made.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    if fs::read_dir(dir)?.next().is_some() {
        return Err(io::Error::other("a process is still writing into the work dir"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_slot_comes_back_empty_and_a_broken_one_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = WorkDirs::new(tmp.path().to_path_buf(), "run1");
        let first = dirs.take().unwrap();
        fs::write(first.out().join("o"), "x").unwrap();
        fs::create_dir(first.scratch().join("deep")).unwrap();
        fs::write(first.scratch().join("deep/f"), "y").unwrap();
        let path = first.path.clone();
        dirs.release(first);
        let again = dirs.take().unwrap();
        assert_eq!(again.path, path, "reused");
        assert_eq!(fs::read_dir(again.out()).unwrap().count() + fs::read_dir(again.scratch()).unwrap().count(), 0);
        // Two at once get two slots.
        let other = dirs.take().unwrap();
        assert_ne!(other.path, again.path);
        // A slot whose out/ is gone cannot be emptied: it is removed, not handed out.
        fs::remove_dir(again.out()).unwrap();
        let (broken, broken_scratch) = (again.path.clone(), again.scratch());
        dirs.release(again);
        assert!(broken_scratch.parent().is_some_and(Path::exists) && !broken_scratch.exists());
        assert_ne!(dirs.take().unwrap().path, broken);
        // Every slot's directories are the run's, side by side in the root.
        let names: Vec<String> =
            fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(
            names.iter().all(|n| n.starts_with("run1-w") && (n.ends_with("-out") || n.ends_with("-scratch"))),
            "{names:?}"
        );
    }
}
