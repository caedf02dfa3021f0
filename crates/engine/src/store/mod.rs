//! The state directory (`.flow/`): content-addressed objects, the action cache, the stat cache,
//! run records and node logs.
//!
//! ```text
//! .flow/
//!   lock             held (flock) by the run or gc that writes the store
//!   cas/ab/cdef…     objects, named by the blake3 digest of their content (file or tree)
//!   actions.log      action key -> output digests, one line per record, appended last
//!   manifests.log    action key -> what went into it, read by `flow why` / `flow plan`
//!   statcache        path -> (size, mtime, inode, digest) for source files
//!   runs/ID.json     one record per run: status, timings, keys and digests per node
//!   runs/ID.log      the run's tracing log
//!   logs/ID/NODE.log each node's stdout/stderr and messages
//!   tmp/             outputs being written; anything here after a crash is garbage
//! ```
//! The store holds patient data: directories are created 0700 and files 0600.

pub mod actions;
pub mod cas;
pub mod runs;
pub mod statcache;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use actions::ActionLog;
use cas::Cas;
use statcache::StatCache;

/// Problems with the state directory or the user's source files.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("input of node '{node}': cannot read {}: {source}", path.display())]
    Source { path: PathBuf, node: String, source: io::Error },
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
    /// Opens the store. Reading never creates anything; call `StateDir::create` (under the
    /// lock) before writing.
    pub fn open(state: StateDir) -> Result<Store, StoreError> {
        let actions_path = state.actions_path();
        let actions = ActionLog::load(&actions_path).map_err(|e| StoreError::io(&actions_path, e))?;
        let stat = StatCache::load(&state.statcache_path());
        let cas = Cas::new(state.cas_dir());
        Ok(Store { state, cas, actions, stat })
    }
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

    /// Takes the store's exclusive lock. Without `wait`, returns `Ok(None)` when another
    /// process holds it; with `wait`, calls `on_wait` once and blocks until it is free.
    pub fn lock(&self, wait: bool, on_wait: &dyn Fn()) -> io::Result<Option<StoreLock>> {
        let path = self.root.join("lock");
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path)?;
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

    /// Removes what a killed run left in tmp/. Call with the lock held.
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

/// Held while writing; the kernel drops the lock if the process dies, so a kill never wedges
/// the store.
pub struct StoreLock {
    _file: File,
}
