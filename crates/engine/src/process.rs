//! Processes a node starts do not outlive it.
//!
//! A node's command ([`NodeProcess`]) runs in a process group of its own. When the command's
//! first process (the group leader) exits, for whatever reason, the whole group is SIGKILLed and
//! every member reaped before [`NodeProcess::wait`] returns: a `cmd &` left running can never
//! write into an output after the engine has hashed it and moved it into the store. (A member
//! that leaves the group on purpose, `setsid daemon &`, is the command's business.)
//!
//! The leader is left a zombie until the group has been killed, so its pid, which is also the
//! group id, cannot be handed to an unrelated process that `kill(-pgid)` would then hit. flow
//! makes itself a child subreaper, so orphaned members of a group are re-parented to flow and
//! reaped here, by group only (`waitpid(-pgid)`): other nodes' children are never touched.
//!
//! Waits for killed processes are bounded ([`KILL_PATIENCE`]): a process in uninterruptible
//! sleep (a hung network file system) ignores SIGKILL until the kernel lets it go, and the run
//! must not hang with it. A leader that does not die is an error of the node; members that do
//! not die are a warning in the run log and the node's log.
//!
//! If the controller itself dies (SIGKILL, OOM killer), the leader gets SIGKILL from the kernel
//! (`PR_SET_PDEATHSIG`). That signal is not inherited by the leader's children, so each node
//! process also carries a mark in its environment, [`TOKEN_VAR`], whose value is derived from
//! the state directory and which every descendant inherits; and while commands run, their
//! controller (the flow process) keeps a record in `procs/` of the state directory naming
//! itself: pid and start time. The next run of the same store, holding the store lock, reads
//! the records ([`kill_orphans`]) before it clears `tmp/`. For records whose controller is dead
//! it kills the processes that carry the mark and started after that controller did; a daemon
//! that a node of an earlier, successful run left on purpose started before and is spared, and
//! so are the records and processes of a controller that is still alive. A process is killed
//! only after its environment has been read through a pidfd that pins it, so a pid reused by an
//! unrelated process is safe.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::cancel::{CancelToken, GRACE_PERIOD, ProcessGuard};
use crate::digest::Digest;
use crate::kind::{NodeContext, NodeError};
use crate::store::StateDir;

/// The environment variable that marks a process as started by a node of one store.
pub const TOKEN_VAR: &str = "FLOW_PROCESS_TOKEN";

/// How long to wait for killed processes that do not exit (a process stuck in an
/// uninterruptible disk wait, or members re-parented to another subreaper) before giving up on
/// them with a warning or an error. SIGKILL takes effect in microseconds otherwise.
pub const KILL_PATIENCE: Duration = Duration::from_secs(5);

/// How often a wait for a node's command looks whether the run was cancelled: from then on
/// the wait is bounded. Its exit wakes the wait at once.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Scans for marked processes per cleanup: a process may fork between one scan and its kill,
/// and its child is found by the next scan.
const ORPHAN_SCANS: usize = 8;

/// Single-quotes a word for bash unless it is made only of safe characters: data spliced into
/// a command (a path, an item id) is never code.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The folder of `state` where running node commands are recorded.
pub fn procs_dir(state_root: &Path) -> PathBuf {
    state_root.join("procs")
}

/// The value of [`TOKEN_VAR`] for processes of the store at `state_root`: the same for every run
/// of that store, different for any other store, so one project's cleanup never touches
/// another's commands.
pub fn store_token(state_root: &Path) -> String {
    let root = fs::canonicalize(state_root)
        .or_else(|_| std::path::absolute(state_root))
        .unwrap_or_else(|_| state_root.to_path_buf());
    let digest = Digest::of_bytes(format!("flow-process-token\0{}", root.display()).as_bytes());
    digest.to_hex()[..32].to_string()
}

/// Why a node's command did not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The record in `procs/` that lets a later run clean up after a crash could not be made;
    /// the command was not started.
    #[error("cannot record the node's process in {}: {source}", path.display())]
    Record { path: PathBuf, source: io::Error },
    /// The program itself could not be started (not found, not executable, ...).
    #[error(transparent)]
    Start(io::Error),
}

impl From<SpawnError> for NodeError {
    fn from(error: SpawnError) -> NodeError {
        match error {
            SpawnError::Record { path, source } => {
                NodeError::io(format!("record the node's process in {}", path.display()), source)
            }
            SpawnError::Start(source) => NodeError::io("start the node's command", source),
        }
    }
}

/// A node's running command and every process it starts.
pub struct NodeProcess {
    child: Child,
    pgid: i32,
    guard: Option<ProcessGuard>,
    cancel: CancelToken,
    /// Wakes a wait for the leader the moment it exits (kernels since 5.3).
    pidfd: Option<OwnedFd>,
    /// The `procs/` folder whose record covers this command.
    procs: PathBuf,
    log: PathBuf,
    /// When flow itself SIGKILLed the group (the caller dropped it without waiting).
    killed_at: Option<Instant>,
    finished: bool,
}

impl NodeProcess {
    /// Starts `command` as a node process: in a new process group, registered with the run's
    /// cancel token, killed by the kernel if flow dies, marked with the store's token and
    /// recorded in the state directory. Everything else about the command (arguments,
    /// directory, environment, stdio) is the caller's.
    pub fn spawn(command: &mut Command, ctx: &NodeContext<'_>) -> Result<NodeProcess, SpawnError> {
        become_subreaper();
        let procs = procs_dir(ctx.state_dir);
        // The record exists, naming its controller, before the command does: a crash between
        // the two leaves a record with nothing to kill, never a process without a record.
        records::command_starts(&procs).map_err(|(path, source)| SpawnError::Record { path, source })?;
        let controller = std::process::id();
        let parent = controller as libc::pid_t;
        command.process_group(0).env(TOKEN_VAR, store_token(ctx.state_dir));
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
        // system calls (prctl, getppid); it allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // flow died before the prctl took effect: the signal will never come.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                records::command_ends(&procs);
                return Err(SpawnError::Start(e));
            }
        };
        let pgid = child.id() as i32;
        records::group_started(&procs, pgid);
        let guard = ctx.cancel.register_process_group(pgid);
        Ok(NodeProcess {
            child,
            pgid,
            guard: Some(guard),
            cancel: ctx.cancel.clone(),
            pidfd: pidfd_open(pgid).ok(),
            procs,
            log: ctx.log_path.to_path_buf(),
            killed_at: None,
            finished: false,
        })
    }

    /// The command's stdin, if the caller asked for a pipe.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Waits for the command to exit, then kills what is left of its process group and reaps
    /// it. Returns the command's exit status once no process of the group is left, or none
    /// that can still run user code (see below).
    ///
    /// Waits as long as the command runs; once it has been killed (the run was cancelled), it
    /// waits at most [`GRACE_PERIOD`] and [`KILL_PATIENCE`] more, then returns an error: a
    /// command stuck in the kernel does not hang the run. Members of the group that do not die
    /// within [`KILL_PATIENCE`] of the group's kill are left to die on their own, with a warning
    /// in the run log and the node's log.
    pub fn wait(mut self) -> io::Result<ExitStatus> {
        self.finish(KILL_PATIENCE)
    }

    /// Kills the group and waits for it as [`NodeProcess::wait`] does, at most `patience`.
    fn abandon(&mut self, patience: Duration) -> io::Result<ExitStatus> {
        // SAFETY: kill(2) on our own child's group, its leader not yet reaped.
        unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
        self.killed_at = Some(Instant::now());
        self.finish(patience)
    }

    fn finish(&mut self, patience: Duration) -> io::Result<ExitStatus> {
        self.finished = true;
        let result = match self.wait_leader(patience) {
            Ok(exited) => {
                // SAFETY: kill(2) on a group whose leader is our unreaped child: the id is
                // still ours.
                unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
                // Unregistered before the leader is reaped, so cancellation never signals a
                // group id that may have been reused.
                self.guard = None;
                if exited {
                    reap_group(self.pgid, patience).map(|reaped| {
                        if reaped.stuck {
                            self.note_stuck_members(patience);
                        }
                        reaped.status
                    })
                } else {
                    // Never reaped, so its pid and group id stay reserved for as long as flow
                    // runs; it dies once the kernel lets it go.
                    let message = format!(
                        "the command (pid {}) did not exit within {patience:?} of SIGKILL: it is stuck in the kernel \
                         (uninterruptible sleep, e.g. a hung network file system); flow stopped waiting for it",
                        self.pgid
                    );
                    tracing::warn!("{message}");
                    Err(io::Error::other(message))
                }
            }
            Err(error) => {
                // Our child was reaped behind our back (a waitpid(-1) elsewhere in the
                // process): its group id may be reused, so it is not signalled, and the record
                // stays for the next run, which kills what carries the mark.
                self.guard = None;
                tracing::warn!(pgid = self.pgid, "cannot wait for a node's command: {error}");
                return Err(error);
            }
        };
        // The group is gone or SIGKILLed: nothing of it can run user code any more.
        records::command_ends(&self.procs);
        result
    }

    /// Waits until the leader has exited, leaving it a zombie. Returns false if it was killed
    /// (by flow, or by the run's cancellation) and still has not exited `patience` later.
    fn wait_leader(&self, patience: Duration) -> io::Result<bool> {
        let mut deadline = self.killed_at.map(|at| at + patience);
        let mut nap = Duration::from_millis(1);
        loop {
            if deadline.is_none() && self.cancel.is_cancelled() {
                // The group gets SIGKILL at once (cancel) or after the grace period (SIGINT,
                // SIGTERM); which one is not known here, so the longer.
                deadline = Some(Instant::now() + GRACE_PERIOD + patience);
            }
            if leader_exited(self.pgid)? {
                return Ok(true);
            }
            let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            let pause = left.unwrap_or(CANCEL_CHECK).min(CANCEL_CHECK);
            match &self.pidfd {
                Some(fd) => {
                    let mut poll = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                    // SAFETY: poll on one valid descriptor we own. EINTR just loops.
                    unsafe { libc::poll(&mut poll, 1, pause.as_millis().max(1) as i32) };
                }
                None => {
                    std::thread::sleep(nap.min(pause));
                    nap = (nap * 2).min(Duration::from_millis(50));
                }
            }
        }
    }

    fn note_stuck_members(&self, patience: Duration) {
        let message = format!(
            "processes of this command (group {}) did not exit within {patience:?} of SIGKILL (uninterruptible \
             sleep, e.g. a hung network file system?); flow stopped waiting, they die once the kernel lets them go",
            self.pgid
        );
        tracing::warn!("{message}");
        let _ = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.log)
            .and_then(|mut log| writeln!(log, "flow: warning: {message}"));
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if !self.finished {
            // The caller never waited (it returned early or panicked): end the command anyway.
            let _ = self.abandon(KILL_PATIENCE);
        }
    }
}

/// A descriptor that pins process `pid` and becomes readable when it exits. ENOSYS on kernels
/// before 5.3.
fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just returned to us and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether our child `pid` has exited, without reaping it.
fn leader_exited(pid: i32) -> io::Result<bool> {
    loop {
        // SAFETY: siginfo_t is plain data that waitid fills in; zeroed, si_pid reads 0 when no
        // child has exited.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child with a valid siginfo_t pointer.
        let waited = unsafe {
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT | libc::WNOHANG)
        };
        if waited == 0 {
            // SAFETY: waitid succeeded, so the pid field is initialised.
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

/// What reaping a killed group found.
struct Reaped {
    /// The leader's exit status.
    status: ExitStatus,
    /// Whether members were still left when flow gave up on them.
    stuck: bool,
}

/// Reaps every member of the killed group `pgid`, whose leader (pid `pgid`) has exited, and
/// returns the leader's exit status.
///
/// Never blocks for longer than `patience`: a process in uninterruptible sleep (a hung NFS
/// read) dies only when it leaves it, and the run must not hang with it. It runs no more user
/// code once it wakes (SIGKILL is pending); at most the system call it is stuck in completes.
fn reap_group(pgid: i32, patience: Duration) -> io::Result<Reaped> {
    let leader = pgid;
    let deadline = Instant::now() + patience;
    let mut leader_status = None;
    let mut stuck = false;
    loop {
        let mut raw = 0;
        // SAFETY: waitpid on our own children of one process group.
        let reaped = unsafe { libc::waitpid(-pgid, &mut raw, libc::WNOHANG) };
        if reaped > 0 {
            if reaped == leader {
                leader_status = Some(ExitStatus::from_raw(raw));
            }
            continue;
        }
        if reaped == 0 {
            // Members are left and none has exited yet.
            if Instant::now() > deadline {
                stuck = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => {
                // No child of ours is left in the group. A member whose parent is still dying
                // is re-parented to us in a moment; one re-parented elsewhere dies on its own.
                if !group_exists(pgid) {
                    break;
                }
                if Instant::now() > deadline {
                    stuck = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return Err(error),
        }
    }
    let status = match leader_status {
        Some(status) => status,
        // The leader left its own group (setpgid): reap it by pid. It has exited already (it
        // is a zombie), so this does not block.
        None => loop {
            let mut raw = 0;
            // SAFETY: waitpid on our own child.
            let reaped = unsafe { libc::waitpid(leader, &mut raw, 0) };
            if reaped == leader {
                break ExitStatus::from_raw(raw);
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINTR) {
                return Err(error);
            }
        },
    };
    Ok(Reaped { status, stuck })
}

fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
}

/// Makes flow the reaper of its orphaned descendants, so members of a node's group whose
/// parent died can be reaped (and waited for) by group. Once per process.
fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
            // Orphans then go to init, which reaps them; reap_group waits for that.
            tracing::warn!("cannot become a child subreaper: {}", io::Error::last_os_error());
        }
    });
}

/// Keeps the record that this controller has commands running, in `procs/` of the state
/// directory, for as long as one of them runs or a run holds it ([`hold_record`]).
///
/// One file per controller, not one per command: on ext4 each new file costs an inode
/// allocation, and a run of a thousand trivial nodes paid for a thousand of them
/// (docs/benchmarks.md). The cleanup needs no more: it goes by the controller (alive or not,
/// and since when), never by the groups listed.
mod records {
    use std::fs::File;
    use std::io::{self, Write};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, MutexGuard};

    use crate::store::{create_private_dir, create_private_file};

    struct Kept {
        procs: PathBuf,
        file: Option<(PathBuf, File)>,
        commands: usize,
        holds: usize,
    }

    static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

    fn kept() -> MutexGuard<'static, Vec<Kept>> {
        // What the lock guards stays consistent at every step: a panic elsewhere poisons nothing.
        KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn entry<'k>(kept: &'k mut Vec<Kept>, procs: &Path) -> &'k mut Kept {
        let at = match kept.iter().position(|k| k.procs == procs) {
            Some(at) => at,
            None => {
                kept.push(Kept { procs: procs.to_path_buf(), file: None, commands: 0, holds: 0 });
                kept.len() - 1
            }
        };
        &mut kept[at]
    }

    /// Removes the record once nothing needs it.
    fn settle(kept: &mut Vec<Kept>, procs: &Path) {
        let Some(at) = kept.iter().position(|k| k.procs == procs) else { return };
        if kept[at].commands > 0 || kept[at].holds > 0 {
            return;
        }
        if let Some((path, _)) = kept.swap_remove(at).file
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            // Harmless: the next run only reads it and finds this controller gone.
            tracing::warn!(record = %path.display(), "cannot remove process record: {e}");
        }
    }

    /// A command is about to start: the record exists when this returns.
    pub(super) fn command_starts(procs: &Path) -> Result<(), (PathBuf, io::Error)> {
        let mut kept = kept();
        let entry = entry(&mut kept, procs);
        if entry.file.is_none() {
            static SEQUENCE: AtomicU64 = AtomicU64::new(0);
            let controller = std::process::id();
            // The host too: workers of a cluster executor share the state dir from other
            // machines, where this pid means nothing.
            let host = super::this_host();
            let path = procs.join(format!("{controller}-{}-{host}", SEQUENCE.fetch_add(1, Ordering::Relaxed)));
            let started = match super::start_time(controller as i32) {
                Some(start) => format!("controller {controller} {start} {host}\n"),
                // No /proc: the cleanup cannot scan for orphans either, and says so.
                None => format!("controller {controller}\n"),
            };
            let made = create_private_dir(procs).map_err(|e| (procs.to_path_buf(), e)).and_then(|()| {
                create_private_file(&path)
                    .and_then(|mut file| file.write_all(started.as_bytes()).map(|()| file))
                    .map_err(|e| (path.clone(), e))
            });
            match made {
                Ok(file) => entry.file = Some((path, file)),
                Err(error) => {
                    let _ = std::fs::remove_file(&path);
                    settle(&mut kept, procs);
                    return Err(error);
                }
            }
        }
        entry.commands += 1;
        Ok(())
    }

    /// The group id makes the record readable by a person; the cleanup does not need it.
    pub(super) fn group_started(procs: &Path, pgid: i32) {
        let mut kept = kept();
        if let Some((_, file)) = &mut entry(&mut kept, procs).file {
            let _ = file.write_all(format!("group {pgid}\n").as_bytes());
        }
    }

    /// A command's group is gone (or SIGKILLed): nothing of it can run user code any more.
    pub(super) fn command_ends(procs: &Path) {
        let mut kept = kept();
        let entry = entry(&mut kept, procs);
        entry.commands = entry.commands.saturating_sub(1);
        settle(&mut kept, procs);
    }

    /// See [`super::hold_record`].
    pub struct RecordHold {
        procs: PathBuf,
    }

    pub(super) fn hold(procs: PathBuf) -> RecordHold {
        entry(&mut kept(), &procs).holds += 1;
        RecordHold { procs }
    }

    impl Drop for RecordHold {
        fn drop(&mut self) {
            let mut kept = kept();
            let entry = entry(&mut kept, &self.procs);
            entry.holds = entry.holds.saturating_sub(1);
            settle(&mut kept, &self.procs);
        }
    }
}

pub use records::RecordHold;

/// Keeps this controller's record in `procs/` of the store at `state_root` from its first
/// command until the hold is dropped, rather than from each command to its end: a run holds
/// it, so that its nodes, one after another, share one record file.
pub fn hold_record(state_root: &Path) -> RecordHold {
    records::hold(procs_dir(state_root))
}

/// This machine's name, as records in `procs/` carry it.
fn this_host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let mut buffer = [0u8; 256];
        // SAFETY: gethostname writes at most `len` bytes into the buffer we own.
        let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
        let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
        let name = if ok { String::from_utf8_lossy(&buffer[..end]).into_owned() } else { String::new() };
        // A record's name and first line are split on '-' and whitespace.
        let name: String = name.chars().map(|c| if c.is_alphanumeric() || c == '.' { c } else { '_' }).collect();
        if name.is_empty() { "localhost".to_string() } else { name }
    })
}

/// Kills every process that node commands of earlier, killed runs of this store left running
/// (after a crash or SIGKILL of `flow run`) and waits until they are gone, so `tmp/` can be
/// cleared. Call with the store lock held. Returns how many processes were killed.
///
/// Only records whose controller is dead count, and of the processes carrying the store's mark
/// only those that started no earlier than such a controller and do not descend from a live
/// one: a daemon that a node of a run that ended normally started on purpose (`setsid`) is
/// older than any dead controller's record, and a live flow's commands are its own business.
/// Records of a live controller are left; the others are removed once their processes are
/// gone. Cheap when the last run ended normally: it then left no record in `procs/`, and
/// nothing is scanned.
pub fn kill_orphans(state: &StateDir) -> io::Result<usize> {
    let procs = procs_dir(&state.root);
    let paths: Vec<PathBuf> = match fs::read_dir(&procs) {
        Ok(entries) => entries.map(|entry| entry.map(|e| e.path())).collect::<io::Result<_>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut live: HashSet<i32> = HashSet::new();
    let mut dead: Vec<PathBuf> = Vec::new();
    // The earliest start of a dead controller whose record may have a process behind it.
    let mut since: Option<u64> = None;
    for path in paths {
        let text = match fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // Removed by its (live) controller since the listing.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("read {}: {e}", path.display()))),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let record = Record::parse(&name, &text);
        if record.host.as_deref().is_some_and(|host| host != this_host()) {
            // Another machine's processes (a cluster job's worker): neither ours to judge nor
            // to kill.
            continue;
        }
        match record.controller {
            Some(controller) if controller.alive() => {
                live.insert(controller.pid);
            }
            controller => {
                if record.spawned {
                    let start = controller.and_then(|c| c.start).unwrap_or(0);
                    since = Some(since.map_or(start, |s| s.min(start)));
                }
                dead.push(path);
            }
        }
    }
    let Some(since) = since else {
        // Dead controllers that never started anything, or none at all.
        remove_records(&dead)?;
        return Ok(0);
    };
    let mark = format!("{TOKEN_VAR}={}", store_token(&state.root)).into_bytes();
    let spared = self_and_ancestors();
    let mut killed: Vec<Killed> = Vec::new();
    let mut seen: HashSet<(i32, u64)> = HashSet::new();
    for _ in 0..ORPHAN_SCANS {
        let before = killed.len();
        let pids = all_pids().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "an earlier run may have left node commands running, but /proc cannot be read to find them \
                     ({e}); mount /proc, or make sure no such command runs and remove {}",
                    procs.display()
                ),
            )
        })?;
        for pid in pids {
            if spared.contains(&pid) || !carries(pid, &mark) || descends_from(pid, &live) {
                continue;
            }
            let Some(start) = start_time(pid) else { continue };
            if start >= since
                && seen.insert((pid, start))
                && let Some(done) = kill_marked(pid, &mark, since)
            {
                killed.push(done);
            }
        }
        if killed.len() == before {
            break;
        }
    }
    let deadline = Instant::now() + KILL_PATIENCE;
    let mut survivors = 0;
    for process in &killed {
        if !process.wait_gone(deadline) {
            survivors += 1;
            tracing::warn!(pid = process.pid, "a process left by an earlier run does not die");
        }
    }
    if !killed.is_empty() {
        tracing::warn!(count = killed.len(), "killed processes that node commands of an earlier run left running");
    }
    if survivors == 0 {
        // Kept otherwise, so the next run looks again.
        remove_records(&dead)?;
    }
    Ok(killed.len())
}

fn remove_records(records: &[PathBuf]) -> io::Result<()> {
    for record in records {
        match fs::remove_file(record) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("remove {}: {e}", record.display()))),
        }
    }
    Ok(())
}

/// A record in `procs/`: `controller PID START HOST` then `group PGID` lines.
#[derive(Debug, PartialEq)]
struct Record {
    /// The machine the controller runs on; `None` in records of flows that did not say.
    host: Option<String>,
    /// `None` for a record of a flow that did not name the controller (a bare group id) or one
    /// that cannot be read: every marked process is then fair game, as it was for them.
    controller: Option<Controller>,
    /// False when the controller died (or is about to write it) between creating the record and
    /// writing into it, before it started any command.
    spawned: bool,
}

/// The flow process that started a node command: its pid and, to tell a reused pid, its start
/// time (`None` where `/proc` could not be read).
#[derive(Debug, PartialEq, Clone, Copy)]
struct Controller {
    pid: i32,
    start: Option<u64>,
}

impl Record {
    fn parse(file_name: &str, text: &str) -> Record {
        // `PID-SEQ-HOST`, or `PID-SEQ` from flows that did not name the host.
        let mut name = file_name.splitn(3, '-');
        let (pid, host) = (name.next().and_then(|pid| pid.parse().ok()), name.nth(1).map(str::to_string));
        let first = text.lines().next().unwrap_or("").trim();
        if first.is_empty() {
            return match pid {
                Some(pid) => Record { host, controller: Some(Controller { pid, start: None }), spawned: false },
                None => Record { host, controller: None, spawned: true },
            };
        }
        let mut words = first.split_whitespace();
        if words.next() == Some("controller")
            && let Some(pid) = words.next().and_then(|w| w.parse().ok())
        {
            let start = words.next().and_then(|w| w.parse().ok());
            let host = words.next().map(str::to_string).or(host);
            return Record { host, controller: Some(Controller { pid, start }), spawned: true };
        }
        Record { host, controller: None, spawned: true }
    }
}

impl Controller {
    /// Whether the process still runs: a zombie is dead, a pid with another start time reused.
    fn alive(&self) -> bool {
        matches!(
            state_and_start(self.pid),
            Some((state, start)) if state != 'Z' && state != 'X' && self.start.is_none_or(|s| s == start)
        )
    }
}

/// Whether `pid` descends from a process in `ancestors`. A live controller is a subreaper, so
/// whatever its commands start stays below it for as long as it lives.
fn descends_from(pid: i32, ancestors: &HashSet<i32>) -> bool {
    if ancestors.is_empty() {
        return false;
    }
    let mut pid = pid;
    // Bounded: a parent that died between two reads may hand its pid to a process whose
    // ancestry then loops back.
    for _ in 0..1024 {
        match parent_of(pid) {
            Some(parent) if ancestors.contains(&parent) => return true,
            Some(parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// A process sent SIGKILL: through a pidfd when the kernel has them (it pins the process), by
/// pid otherwise.
struct Killed {
    pid: i32,
    start: u64,
    pidfd: Option<OwnedFd>,
}

impl Killed {
    /// Waits until the process has exited (it may stay a zombie of its new parent).
    fn wait_gone(&self, deadline: Instant) -> bool {
        loop {
            let gone = match &self.pidfd {
                Some(fd) => {
                    let mut poll = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                    let left = deadline.saturating_duration_since(Instant::now()).as_millis().min(1000) as i32;
                    // SAFETY: poll on one valid descriptor we own.
                    let ready = unsafe { libc::poll(&mut poll, 1, left) };
                    ready > 0
                }
                None => {
                    !matches!(state_and_start(self.pid), Some((state, start)) if start == self.start && state != 'Z' && state != 'X')
                }
            };
            if gone {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if self.pidfd.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Sends SIGKILL to `pid` if, once pinned, it still carries `mark` and started at `since` or
/// later.
fn kill_marked(pid: i32, mark: &[u8], since: u64) -> Option<Killed> {
    match pidfd_open(pid) {
        Ok(pidfd) => {
            // The pidfd refers to the process that had `pid` when it was opened. Checked again
            // now: if that process died and the pid went to another, the mark is read from the
            // other one, and the signal below still goes to the dead one (ESRCH), never to it.
            if !carries(pid, mark) {
                return None;
            }
            let start = start_time(pid).filter(|&start| start >= since)?;
            // SAFETY: pidfd_send_signal on a descriptor we own, with no siginfo.
            let sent = unsafe {
                libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0)
            };
            return (sent == 0).then_some(Killed { pid, start, pidfd: Some(pidfd) });
        }
        Err(e) if e.raw_os_error() != Some(libc::ENOSYS) => return None, // gone already
        Err(_) => {}
    }
    // Kernels before 5.3: the mark was read an instant ago; a pid reused in between would have
    // to wrap the whole pid space.
    let start = start_time(pid).filter(|&start| start >= since)?;
    // SAFETY: kill(2) on a process that carries this store's mark.
    let sent = unsafe { libc::kill(pid, libc::SIGKILL) };
    (sent == 0).then_some(Killed { pid, start, pidfd: None })
}

fn all_pids() -> io::Result<Vec<i32>> {
    Ok(fs::read_dir("/proc")?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()))
        .collect())
}

/// Whether `pid`'s environment holds the entry `mark` (`NAME=value`). Processes of other users
/// and zombies have no readable environment and never match.
fn carries(pid: i32, mark: &[u8]) -> bool {
    fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| environ.split(|&b| b == 0).any(|entry| entry == mark))
}

fn start_time(pid: i32) -> Option<u64> {
    state_and_start(pid).map(|(_, start)| start)
}

/// The state letter and start time (clock ticks after boot) from `/proc/PID/stat`. Together
/// with the pid, the start time names one process for as long as the machine is up.
fn state_and_start(pid: i32) -> Option<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces and ')': the fields follow the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), starttime field 22.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(22 - 3)?.parse().ok()?;
    Some((state, start))
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// flow and the processes it runs under: never killed, even if one of them carries the mark
/// (`flow run` started from inside a node of the same store).
fn self_and_ancestors() -> HashSet<i32> {
    let mut spared = HashSet::new();
    let mut pid = std::process::id() as i32;
    while pid > 1 && spared.insert(pid) {
        match parent_of(pid) {
            Some(parent) => pid = parent,
            None => break,
        }
    }
    spared
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::create_private_dir;
    use std::collections::BTreeMap;

    #[test]
    fn token_is_per_store_and_stable() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_eq!(store_token(a.path()), store_token(a.path()));
        fs::create_dir(a.path().join("x")).unwrap();
        assert_eq!(store_token(a.path()), store_token(&a.path().join("x/..")), "one store, two spellings");
        assert_ne!(store_token(a.path()), store_token(b.path()));
    }

    #[test]
    fn stat_fields_survive_odd_command_names() {
        let (state, start) = state_and_start(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(start > 0);
        assert!(self_and_ancestors().contains(&(std::process::id() as i32)));
    }

    #[test]
    fn no_records_means_nothing_is_scanned_or_killed() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        assert_eq!(kill_orphans(&state).unwrap(), 0);
        create_private_dir(&procs_dir(dir.path())).unwrap();
        assert_eq!(kill_orphans(&state).unwrap(), 0);
    }

    #[test]
    fn records_name_their_controller_and_old_ones_still_parse() {
        let hosted = Record::parse("12-0-node7", "controller 12 3456 node7\ngroup 78\n");
        let controller = Some(Controller { pid: 12, start: Some(3456) });
        assert_eq!(hosted, Record { host: Some("node7".into()), controller, spawned: true });
        let named = Record::parse("12-0", "controller 12 3456\ngroup 78\n");
        assert_eq!(named, Record { host: None, controller, spawned: true });
        let no_proc = Record::parse("12-0", "controller 12\n");
        let controller = Some(Controller { pid: 12, start: None });
        assert_eq!(no_proc, Record { host: None, controller, spawned: true });
        // What flow wrote before records named their controller: a group id alone.
        assert_eq!(Record::parse("12-0", "78\n"), Record { host: None, controller: None, spawned: true });
        assert_eq!(Record::parse("junk", "\u{fffd}?"), Record { host: None, controller: None, spawned: true });
        // Created, then the controller died before writing it: nothing was started under it.
        let empty = Record::parse("12-3-node7", "");
        assert_eq!(empty, Record { host: Some("node7".into()), controller, spawned: false });
        assert_eq!(Record::parse("x-3", ""), Record { host: None, controller: None, spawned: true });
    }

    /// `sleep 600` marked with the token of the store at `root`, once it has exec'd (its
    /// environment is then the one given).
    fn marked_sleep(root: &Path) -> std::process::Child {
        let child = Command::new("sleep").arg("600").env(TOKEN_VAR, store_token(root)).spawn().unwrap();
        wait_exec(child.id() as i32, "sleep");
        child
    }

    fn wait_exec(pid: i32, program: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(program)) {
            assert!(Instant::now() < deadline, "{program} did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn end(mut child: std::process::Child) -> ExitStatus {
        let _ = child.kill();
        child.wait().unwrap()
    }

    fn records(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(procs_dir(root))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn a_record_without_a_controller_has_every_marked_orphan_killed_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        create_private_dir(&procs_dir(dir.path())).unwrap();
        fs::write(procs_dir(dir.path()).join("1-0"), "1\n").unwrap();
        let mut marked = marked_sleep(dir.path());
        let mut other = Command::new("sleep").arg("600").env(TOKEN_VAR, "another-store").spawn().unwrap();
        let killed = kill_orphans(&state).unwrap();
        let marked_status = marked.wait().unwrap();
        let other_alive = other.try_wait().unwrap().is_none();
        end(other);
        assert_eq!(killed, 1);
        assert_eq!(marked_status.signal(), Some(libc::SIGKILL));
        assert!(other_alive, "a process of another store was killed");
        assert!(records(dir.path()).is_empty(), "records are removed");
    }

    #[test]
    fn only_marked_processes_started_since_a_dead_controller_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        // A daemon a node of an earlier run that ended normally left on purpose.
        let daemon = marked_sleep(dir.path());
        // Start times count clock ticks (1/100 s): the controller starts a few ticks later.
        std::thread::sleep(Duration::from_millis(60));
        let mut controller = Command::new("sleep").arg("600").spawn().unwrap();
        let controller_pid = controller.id() as i32;
        let controller_start = start_time(controller_pid).unwrap();
        let orphan = marked_sleep(dir.path());
        let _ = controller.kill();
        controller.wait().unwrap();
        let daemon_start = start_time(daemon.id() as i32).unwrap();
        assert!(daemon_start < controller_start, "the test needs a daemon older than the controller");
        create_private_dir(&procs_dir(dir.path())).unwrap();
        fs::write(
            procs_dir(dir.path()).join(format!("{controller_pid}-0")),
            format!("controller {controller_pid} {controller_start}\ngroup 1\n"),
        )
        .unwrap();

        let killed = kill_orphans(&state);
        let mut daemon = daemon;
        let daemon_alive = daemon.try_wait().unwrap().is_none();
        let orphan_status = end(orphan);
        end(daemon);
        assert_eq!(killed.unwrap(), 1);
        assert!(daemon_alive, "a daemon older than the dead controller was killed");
        assert_eq!(orphan_status.signal(), Some(libc::SIGKILL));
        assert!(records(dir.path()).is_empty(), "the dead controller's record is removed");
    }

    /// A cluster job's worker on another machine records its processes in the shared state
    /// dir: its pid means nothing here, so its record makes nothing here be killed.
    #[test]
    fn another_machine_s_record_kills_nothing_here() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        create_private_dir(&procs_dir(dir.path())).unwrap();
        fs::write(procs_dir(dir.path()).join("999999999-0-elsewhere"), "controller 999999999 1 elsewhere\n").unwrap();
        let mut marked = marked_sleep(dir.path());
        let killed = kill_orphans(&state);
        let alive = marked.try_wait().unwrap().is_none();
        end(marked);
        assert_eq!(killed.unwrap(), 0);
        assert!(alive, "a process here was killed for another machine's record");
        assert_eq!(records(dir.path()), vec!["999999999-0-elsewhere".to_string()], "not ours to remove");
    }

    #[test]
    fn a_live_controller_s_record_and_commands_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        create_private_dir(&procs_dir(dir.path())).unwrap();
        let me = std::process::id();
        let my_start = start_time(me as i32).unwrap();
        // This test process is the live controller; its command is a marked child of it.
        let mut command = marked_sleep(dir.path());
        fs::write(procs_dir(dir.path()).join(format!("{me}-0")), format!("controller {me} {my_start}\n")).unwrap();
        // A dead controller (no such pid) older than everything, so the store is scanned.
        fs::write(procs_dir(dir.path()).join("999999999-0"), "controller 999999999 1\n").unwrap();
        // The same pid with another start time: a controller that died and whose pid was reused.
        fs::write(procs_dir(dir.path()).join(format!("{me}-1")), format!("controller {me} {}\n", my_start + 1))
            .unwrap();

        let killed = kill_orphans(&state);
        let alive = command.try_wait().unwrap().is_none();
        end(command);
        assert_eq!(killed.unwrap(), 0);
        assert!(alive, "a live controller's command was killed");
        assert_eq!(records(dir.path()), vec![format!("{me}-0")], "only the live controller's record is left");
    }

    /// Runs `f` with a node context on the store at `root`.
    fn with_context<R>(root: &Path, cancel: &CancelToken, f: impl FnOnce(&NodeContext<'_>) -> R) -> R {
        let params = serde_json::Value::Null;
        let inputs = BTreeMap::new();
        let outputs = BTreeMap::new();
        let log = root.join("node.log");
        let ctx = NodeContext {
            node: "step",
            params: &params,
            inputs: &inputs,
            outputs: &outputs,
            threads: 1,
            project_dir: root,
            scratch_dir: root,
            state_dir: root,
            log_path: &log,
            cancel,
            workflow: &[],
            item: None,
        };
        f(&ctx)
    }

    fn spawn(root: &Path, cancel: &CancelToken, script: &str) -> NodeProcess {
        with_context(root, cancel, |ctx| NodeProcess::spawn(Command::new("bash").arg("-c").arg(script), ctx).unwrap())
    }

    #[test]
    fn the_record_names_the_controller_and_goes_on_every_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cancel = CancelToken::new();

        let running = spawn(root, &cancel, "sleep 600");
        let names = records(root);
        assert_eq!(names.len(), 1, "{names:?}");
        let text = fs::read_to_string(procs_dir(root).join(&names[0])).unwrap();
        let me = std::process::id();
        let expected =
            format!("controller {me} {} {}\ngroup {}\n", start_time(me as i32).unwrap(), this_host(), running.pgid);
        assert_eq!(text, expected);
        drop(running);
        assert!(records(root).is_empty(), "dropped without a wait: {:?}", records(root));

        let status = spawn(root, &cancel, "true").wait().unwrap();
        assert!(status.success());
        assert!(records(root).is_empty(), "success: {:?}", records(root));

        let status = spawn(root, &cancel, "exit 3").wait().unwrap();
        assert_eq!(status.code(), Some(3));
        assert!(records(root).is_empty(), "failure: {:?}", records(root));

        let running = spawn(root, &cancel, "sleep 600");
        cancel.cancel();
        let status = running.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(records(root).is_empty(), "cancelled: {:?}", records(root));
    }

    /// A run's commands, one after another or side by side, share one record of their
    /// controller, kept while the run holds it and removed when the hold goes.
    #[test]
    fn commands_share_one_record_that_a_run_keeps_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cancel = CancelToken::new();
        let hold = hold_record(root);
        assert!(records(root).is_empty(), "a hold alone writes nothing");

        let first = spawn(root, &cancel, "sleep 600");
        let second = spawn(root, &cancel, "sleep 600");
        let names = records(root);
        assert_eq!(names.len(), 1, "{names:?}");
        let text = fs::read_to_string(procs_dir(root).join(&names[0])).unwrap();
        let me = std::process::id();
        let expected = format!(
            "controller {me} {} {}\ngroup {}\ngroup {}\n",
            start_time(me as i32).unwrap(),
            this_host(),
            first.pgid,
            second.pgid
        );
        assert_eq!(text, expected);
        drop(first);
        drop(second);
        assert!(spawn(root, &cancel, "true").wait().unwrap().success());
        assert_eq!(records(root), names, "the same record while the run holds it");
        drop(hold);
        assert!(records(root).is_empty(), "the run ended: {:?}", records(root));
    }

    /// A cgroup-v1 freezer: its processes sit in uninterruptible sleep (state D), SIGKILL or
    /// not, until thawed, like a process stuck on a hung network file system. `None` where
    /// there is none or it cannot be made (not root).
    struct Freezer(PathBuf);

    impl Freezer {
        fn new(name: &str) -> Option<Freezer> {
            let path = Path::new("/sys/fs/cgroup/freezer").join(format!("flow-test-{}-{name}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => Some(Freezer(path)),
                Err(e) => {
                    eprintln!("skipped: no cgroup-v1 freezer to hold a process in the kernel ({e})");
                    None
                }
            }
        }

        fn freeze(&self, pid: i32) {
            fs::write(self.0.join("cgroup.procs"), pid.to_string()).unwrap();
            fs::write(self.0.join("freezer.state"), "FROZEN").unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while fs::read_to_string(self.0.join("freezer.state")).unwrap().trim() != "FROZEN" {
                assert!(Instant::now() < deadline, "the freezer does not freeze");
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        fn thaw(&self) {
            let _ = fs::write(self.0.join("freezer.state"), "THAWED");
        }
    }

    impl Drop for Freezer {
        fn drop(&mut self) {
            self.thaw();
            let deadline = Instant::now() + Duration::from_secs(5);
            while fs::remove_dir(&self.0).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Thaws `freezer` after a while should the code under test hang, so the test fails
    /// rather than hangs.
    fn watchdog(freezer: &Freezer) -> std::sync::mpsc::Sender<()> {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let path = freezer.0.clone();
        std::thread::spawn(move || {
            if wait.recv_timeout(Duration::from_secs(30)).is_err() {
                let _ = fs::write(path.join("freezer.state"), "THAWED");
            }
        });
        done
    }

    fn reap(pid: i32) {
        // SAFETY: waitpid on a child of this test process.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }

    #[test]
    fn a_command_stuck_in_the_kernel_does_not_hang_its_end() {
        let Some(freezer) = Freezer::new("leader") else { return };
        let dir = tempfile::tempdir().unwrap();
        let cancel = CancelToken::new();
        let mut running = spawn(dir.path(), &cancel, "exec sleep 600");
        wait_exec(running.pgid, "sleep");
        freezer.freeze(running.pgid);
        let done = watchdog(&freezer);
        let started = Instant::now();
        // What dropping it without a wait does, with less patience.
        let result = running.abandon(Duration::from_millis(300));
        let took = started.elapsed();
        let _ = done.send(());
        let left = records(dir.path());
        freezer.thaw();
        reap(running.pgid);
        let error = result.expect_err("a leader that cannot die is an error, not a status");
        assert!(took < Duration::from_secs(5), "gave up after {took:?}");
        assert!(error.to_string().contains("stuck in the kernel"), "{error}");
        assert!(left.is_empty(), "the record of a SIGKILLed command is removed: {left:?}");
    }

    #[test]
    fn members_stuck_in_the_kernel_are_left_with_a_warning() {
        let Some(freezer) = Freezer::new("member") else { return };
        let dir = tempfile::tempdir().unwrap();
        let cancel = CancelToken::new();
        let member_file = dir.path().join("member");
        let go = dir.path().join("go");
        let script = format!(
            "sleep 600 & echo $! > {member}.tmp; mv {member}.tmp {member}; while [ ! -e {go} ]; do sleep 0.01; done",
            member = member_file.display(),
            go = go.display()
        );
        let mut running = spawn(dir.path(), &cancel, &script);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !member_file.exists() {
            assert!(Instant::now() < deadline, "the command did not start its member");
            std::thread::sleep(Duration::from_millis(5));
        }
        let member: i32 = fs::read_to_string(&member_file).unwrap().trim().parse().unwrap();
        wait_exec(member, "sleep");
        freezer.freeze(member);
        fs::write(&go, "").unwrap();
        let done = watchdog(&freezer);
        let started = Instant::now();
        let result = running.finish(Duration::from_millis(300));
        let took = started.elapsed();
        let _ = done.send(());
        let left = records(dir.path());
        freezer.thaw();
        reap(member);
        assert!(result.unwrap().success(), "the command's own status");
        assert!(took < Duration::from_secs(5), "gave up after {took:?}");
        let log = fs::read_to_string(dir.path().join("node.log")).unwrap_or_default();
        assert!(log.contains("did not exit within 300ms of SIGKILL"), "{log}");
        assert!(left.is_empty(), "{left:?}");
    }
}
