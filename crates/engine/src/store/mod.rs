//! The state directory (`.flow/`): content-addressed objects, the action cache, the stat cache,
//! run records and node logs.
//!
//! ```text
//! .flow/
//!   (the directory itself is flock-ed by the run or gc that writes the store)
//!   cas/ab/cdef…     objects, named by the blake3 digest of their content (file or tree)
//!   actions.log      action key -> output digests, one line per record, appended last
//!   manifests.log    action key -> what went into it, read by `flow why` / `flow plan`
//!   statcache        path -> (size, mtime, inode, digest) for source files
//!   runs/ID.json     one record per run: status, timings, keys and digests per node
//!   runs/ID.log      the run's tracing log
//!   logs/ID/NODE.log each node's stdout/stderr and messages
//!   tmp/             outputs being written; anything here after a crash is garbage
//!   stamps           object -> its look on disk (stat fields) when stored, to notice corruption
//!   quarantine/      objects whose content no longer matched their digest, kept for inspection
//!   published        what flow last published where (relative path -> digest), so it never
//!                    replaces a file it did not write
//!   procs/           one record per running node command, removed once its process group
//!                    is gone; a record left by a crash makes the next run kill the orphans
//! ```
//! The store holds patient data: directories are created 0700 and files 0600.

pub mod actions;
pub mod cas;
pub mod publish;
pub mod runs;
pub mod stamps;
pub mod statcache;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use actions::ActionLog;
use cas::Cas;
use statcache::StatCache;

use crate::digest::Digest;

/// Problems with the state directory or the user's source files.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("input of node '{node}': cannot read {}: {source}", path.display())]
    Source { path: PathBuf, node: String, source: io::Error },
    /// A publish destination holds something flow did not put there.
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
}

impl StoreError {
    /// Whether the user's files or choices are at fault (exit 2), rather than the store (exit 4).
    pub fn is_user_error(&self) -> bool {
        matches!(self, StoreError::Source { .. } | StoreError::Publish(_))
    }
}

impl StoreError {
    pub fn io(path: &Path, source: io::Error) -> StoreError {
        StoreError::Io { path: path.to_path_buf(), source }
    }
}

/// The open store: objects, action cache and stat cache of one state directory.
pub struct Store {
    pub state: StateDir,
    pub cas: Cas,
    pub actions: ActionLog,
    pub stat: StatCache,
}

impl Store {
    /// Opens the store for reading: nothing is created, repaired or recorded, so `flow plan`
    /// and `flow status` may run beside a `flow run`.
    pub fn open(state: StateDir) -> Result<Store, StoreError> {
        Store::open_with(state, None)
    }

    /// Opens the store for writing; the lock proves no other flow process writes it.
    pub fn open_locked(state: StateDir, _lock: &StoreLock) -> Result<Store, StoreError> {
        let quarantine = state.quarantine_dir();
        Store::open_with(state, Some(quarantine))
    }

    fn open_with(state: StateDir, quarantine: Option<PathBuf>) -> Result<Store, StoreError> {
        let actions_path = state.actions_path();
        let actions = ActionLog::load(&actions_path).map_err(|e| StoreError::io(&actions_path, e))?;
        let stat = StatCache::load(&state.statcache_path());
        let cas = Cas::open(state.cas_dir(), &state.stamps_path(), quarantine);
        Ok(Store { state, cas, actions, stat })
    }

    /// Whether this store was opened under the lock and may be written.
    pub fn writable(&self) -> bool {
        self.cas.writable()
    }

    /// Checks an object before it is used. A corrupt object is quarantined (when writable) and
    /// every action record that produced it is dropped, so its producer reruns.
    pub fn check(&mut self, digest: &Digest) -> Result<Verdict, StoreError> {
        let verdict = self.cas.verify(digest).map_err(|e| StoreError::io(&self.cas.object_path(digest), e))?;
        if let Verdict::Corrupt { .. } = verdict
            && self.writable()
        {
            let actions_path = self.state.actions_path();
            self.actions.invalidate(digest).map_err(|e| StoreError::io(&actions_path, e))?;
        }
        Ok(verdict)
    }

    /// Problems found while reading state files (damaged lines skipped), for the run's summary.
    pub fn damage_report(&self) -> Vec<String> {
        let mut found = Vec::new();
        if self.actions.damaged_lines > 0 {
            found.push(format!(
                "{}: skipped {} damaged line(s); the cached results they held will be recomputed",
                self.state.actions_path().display(),
                self.actions.damaged_lines
            ));
        }
        if self.cas.damaged_stamp_lines() > 0 {
            found.push(format!(
                "{}: skipped {} damaged line(s); those objects will be rehashed before use",
                self.state.stamps_path().display(),
                self.cas.damaged_stamp_lines()
            ));
        }
        found
    }
}

/// What checking a CAS object found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Intact,
    Missing,
    /// Its content no longer matches its digest; `moved_to` is where it was quarantined
    /// (`None` in a read-only store, which leaves it in place).
    Corrupt {
        moved_to: Option<PathBuf>,
    },
}

/// Splits an append-only log's bytes into complete lines and a torn tail (the bytes after the
/// last newline, left by a kill mid-write). Lines are bytes: one bad byte damages one line,
/// not the whole log.
pub fn split_complete_lines(bytes: &[u8]) -> (Vec<&[u8]>, Option<&[u8]>) {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let last = lines.pop().filter(|tail| !tail.is_empty());
    (lines, last)
}

/// Paths inside one state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    pub root: PathBuf,
}

/// Creates a directory (and parents) with mode 0700.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Opens a file for writing with mode 0600, truncating it.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// Writes a whole file atomically: a temp file beside it, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    {
        use std::io::Write;
        let mut file = create_private_file(&tmp)?;
        file.write_all(bytes)?;
    }
    fs::rename(&tmp, path)
}

/// Cuts a torn last line (no trailing newline, left by a kill mid-write) off an append-only
/// log, so the next append starts on a fresh line. Cheap when the log is intact.
pub fn repair_tail(path: &Path) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let keep = bytes.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
    file.set_len(keep as u64)
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    pub fn exists(&self) -> bool {
        self.root.join("cas").is_dir()
    }

    /// Creates the layout if missing and tightens the root's permissions.
    pub fn create(&self) -> io::Result<()> {
        for sub in ["cas", "runs", "logs", "tmp"] {
            create_private_dir(&self.root.join(sub))?;
        }
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
    }

    pub fn cas_dir(&self) -> PathBuf {
        self.root.join("cas")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn actions_path(&self) -> PathBuf {
        self.root.join("actions.log")
    }
    pub fn manifests_path(&self) -> PathBuf {
        self.root.join("manifests.log")
    }
    pub fn statcache_path(&self) -> PathBuf {
        self.root.join("statcache")
    }
    pub fn stamps_path(&self) -> PathBuf {
        self.root.join("stamps")
    }
    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }
    pub fn published_path(&self) -> PathBuf {
        self.root.join("published")
    }

    /// Takes the store's exclusive lock. Without `wait`, returns `Ok(None)` when another
    /// process holds it; with `wait`, calls `on_wait` once and blocks until it is free.
    ///
    /// The lock is an `flock` on the state directory itself, not on a file in it: a file can be
    /// deleted while held (and a second run would then lock a new one beside the first), the
    /// directory cannot be replaced without losing the whole store. Where the file system
    /// cannot lock a directory (NFS emulates `flock` with byte-range locks, which need a file
    /// open for writing), every flow process falls back to the file `lock` in it, never
    /// deleted, and checks after locking that the name still leads to the file it locked.
    pub fn lock(&self, wait: bool, on_wait: &dyn Fn()) -> io::Result<Option<StoreLock>> {
        let dir = File::open(&self.root)?;
        match take_lock(dir, wait, on_wait) {
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EBADF | libc::ENOLCK | libc::EINVAL | libc::EOPNOTSUPP)) =>
            {
                tracing::debug!("the state directory cannot be locked ({e}); locking its lock file");
            }
            result => return result,
        }
        let path = self.root.join("lock");
        loop {
            let file =
                OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path)?;
            let inode = file.metadata()?.ino();
            let Some(lock) = take_lock(file, wait, on_wait)? else { return Ok(None) };
            // Deleted or replaced while this process waited: the next holder locks the new one.
            if fs::metadata(&path).is_ok_and(|m| m.ino() == inode) {
                return Ok(Some(lock));
            }
        }
    }

    /// Removes what a killed run left in tmp/. Call with the lock held (and after the orphaned
    /// processes of killed runs are gone, or they may write while this deletes).
    pub fn clear_tmp(&self) -> io::Result<()> {
        let tmp = self.tmp_dir();
        if let Ok(entries) = fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                cas::remove_any(&entry.path())?;
            }
        }
        Ok(())
    }
}

fn take_lock(file: File, wait: bool, on_wait: &dyn Fn()) -> io::Result<Option<StoreLock>> {
    match file.try_lock() {
        Ok(()) => Ok(Some(StoreLock { _file: file })),
        Err(fs::TryLockError::WouldBlock) if !wait => Ok(None),
        Err(fs::TryLockError::WouldBlock) => {
            on_wait();
            file.lock()?;
            Ok(Some(StoreLock { _file: file }))
        }
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Held while writing; the kernel drops the lock if the process dies, so a kill never wedges
/// the store.
pub struct StoreLock {
    _file: File,
}
