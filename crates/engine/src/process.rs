//! Processes a node starts do not outlive it.
//!
//! A node's command ([`NodeProcess`]) runs in a process group of its own. When the command's
//! first process (the group leader) exits, for whatever reason, the whole group is SIGKILLed and
//! every member reaped before [`NodeProcess::wait`] returns: a `cmd &` left running can never
//! write into an output after the engine has hashed it and moved it into the store.
//!
//! The leader is left a zombie until the group has been killed, so its pid, which is also the
//! group id, cannot be handed to an unrelated process that `kill(-pgid)` would then hit. flow
//! makes itself a child subreaper, so orphaned members of a group are re-parented to flow and
//! reaped here, by group only (`waitpid(-pgid)`): other nodes' children are never touched.
//!
//! If the controller itself dies (SIGKILL, OOM killer), the leader gets SIGKILL from the kernel
//! (`PR_SET_PDEATHSIG`). That signal is not inherited by the leader's children, so each node
//! process also carries a mark in its environment, [`TOKEN_VAR`], whose value is derived from
//! the state directory and which every descendant inherits; and each running command leaves a
//! record in `procs/` of the state directory while it runs. The next run of the same store,
//! holding the store lock, finds the records and kills whatever still carries the mark
//! ([`kill_orphans`]) before it clears `tmp/`. A process is killed only after its environment
//! has been read through a pidfd that pins it, so a pid reused by an unrelated process is safe.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cancel::ProcessGuard;
use crate::digest::Digest;
use crate::kind::{NodeContext, NodeError};
use crate::store::{StateDir, create_private_dir};

/// The environment variable that marks a process as started by a node of one store.
pub const TOKEN_VAR: &str = "FLOW_PROCESS_TOKEN";

/// How long to wait for killed processes that flow cannot reap itself (members re-parented to
/// another subreaper, or a process stuck in an uninterruptible disk wait) before giving up on
/// them with a warning. SIGKILL takes effect in microseconds otherwise.
pub const KILL_PATIENCE: Duration = Duration::from_secs(10);

/// Scans for marked processes per cleanup: a process may fork between one scan and its kill,
/// and its child is found by the next scan.
const ORPHAN_SCANS: usize = 8;

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
    record: PathBuf,
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
        create_private_dir(&procs).map_err(|source| SpawnError::Record { path: procs.clone(), source })?;
        // The record exists before the command does: a crash between the two leaves a record
        // with nothing to kill, never a process without a record.
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let record = procs.join(format!("{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed)));
        crate::store::create_private_file(&record)
            .map_err(|source| SpawnError::Record { path: record.clone(), source })?;

        let parent = std::process::id() as libc::pid_t;
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
                let _ = fs::remove_file(&record);
                return Err(SpawnError::Start(e));
            }
        };
        let pgid = child.id() as i32;
        // The group id makes the record readable by a person; the cleanup does not need it.
        let _ = fs::write(&record, format!("{pgid}\n"));
        let guard = ctx.cancel.register_process_group(pgid);
        Ok(NodeProcess { child, pgid, guard: Some(guard), record, finished: false })
    }

    /// The command's stdin, if the caller asked for a pipe.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Waits for the command to exit, then kills what is left of its process group and reaps
    /// it. Returns the command's exit status once no process of the group is left.
    pub fn wait(mut self) -> io::Result<ExitStatus> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<ExitStatus> {
        self.finished = true;
        let leader = self.pgid;
        // Wait for the leader without reaping it: as a zombie it keeps the group id reserved.
        loop {
            // SAFETY: siginfo_t is plain data that waitid fills in.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waitid on our own child with a valid siginfo_t pointer.
            let waited =
                unsafe { libc::waitid(libc::P_PID, leader as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if waited == 0 {
                break;
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINTR) {
                return Err(error);
            }
        }
        // SAFETY: kill(2) on a group whose leader is our unreaped child: the id is still ours.
        unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
        // Unregistered before the leader is reaped, so cancellation never signals a group id
        // that may have been reused.
        self.guard = None;
        let status = reap_group(self.pgid, leader);
        if let Err(e) = fs::remove_file(&self.record)
            && e.kind() != io::ErrorKind::NotFound
        {
            // Harmless: the next run only scans for marked processes once more.
            tracing::warn!(record = %self.record.display(), "cannot remove process record: {e}");
        }
        status
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if !self.finished {
            // The caller never waited (it returned early or panicked): end the command anyway.
            // SAFETY: kill(2) on our own child's group, not yet reaped.
            unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
            let _ = self.finish();
        }
    }
}

/// Reaps every member of the killed group `pgid` and returns the leader's exit status.
///
/// Never blocks for longer than `KILL_PATIENCE` after the kill: a process in uninterruptible
/// sleep (a hung NFS read) dies only when it leaves it, and the run must not hang with it. It
/// runs no more user code once it wakes (SIGKILL is pending), so its outputs are safe to store.
fn reap_group(pgid: i32, leader: i32) -> io::Result<ExitStatus> {
    let deadline = Instant::now() + KILL_PATIENCE;
    let mut leader_status = None;
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
                tracing::warn!(pgid, "processes of a killed node command do not exit (uninterruptible sleep?)");
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
                    tracing::warn!(pgid, "processes of a killed node command are still exiting");
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return Err(error),
        }
    }
    match leader_status {
        Some(status) => Ok(status),
        // The leader left its own group (setpgid): reap it by pid.
        None => loop {
            let mut raw = 0;
            // SAFETY: waitpid on our own child.
            let reaped = unsafe { libc::waitpid(leader, &mut raw, libc::WNOHANG) };
            if reaped == leader {
                return Ok(ExitStatus::from_raw(raw));
            }
            if reaped == 0 {
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "the command (pid {leader}) did not exit {} s after SIGKILL; it is probably stuck in the kernel \
                         (uninterruptible sleep, e.g. a hung network file system)",
                        KILL_PATIENCE.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINTR) {
                return Err(error);
            }
        },
    }
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

/// Kills every process that node commands of earlier runs of this store left running (after a
/// crash or SIGKILL of `flow run`) and waits until they are gone, so `tmp/` can be cleared.
/// Call with the store lock held: no other run of this store can have live commands then.
/// Returns how many processes were killed. Cheap when the last run ended normally: it then
/// left no record in `procs/`, and nothing is scanned.
pub fn kill_orphans(state: &StateDir) -> io::Result<usize> {
    let procs = procs_dir(&state.root);
    let records: Vec<PathBuf> = match fs::read_dir(&procs) {
        Ok(entries) => entries.map(|entry| entry.map(|e| e.path())).collect::<io::Result<_>>()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if records.is_empty() {
        return Ok(0);
    }
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
            if spared.contains(&pid) || !carries(pid, &mark) {
                continue;
            }
            let Some(start) = start_time(pid) else { continue };
            if seen.insert((pid, start))
                && let Some(done) = kill_marked(pid, &mark)
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
    if survivors > 0 {
        // Kept, so the next run looks again.
        return Ok(killed.len());
    }
    for record in records {
        match fs::remove_file(&record) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(killed.len())
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

/// Sends SIGKILL to `pid` if it still carries `mark` once pinned.
fn kill_marked(pid: i32, mark: &[u8]) -> Option<Killed> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd >= 0 {
        // SAFETY: the descriptor was just returned to us and is owned by nobody else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
        // The pidfd refers to the process that had `pid` when it was opened. Checked again
        // now: if that process died and the pid went to another, the mark is read from the
        // other one, and the signal below still goes to the dead one (ESRCH), never to it.
        if !carries(pid, mark) {
            return None;
        }
        let start = start_time(pid)?;
        // SAFETY: pidfd_send_signal on a descriptor we own, with no siginfo.
        let sent = unsafe {
            libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0)
        };
        return (sent == 0).then_some(Killed { pid, start, pidfd: Some(pidfd) });
    }
    if io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
        return None; // gone already
    }
    // Kernels before 5.3: the mark was read an instant ago; a pid reused in between would have
    // to wrap the whole pid space.
    let start = start_time(pid)?;
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
    fn orphans_carrying_the_mark_are_killed_and_others_spared() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        create_private_dir(&procs_dir(dir.path())).unwrap();
        fs::write(procs_dir(dir.path()).join("1-0"), "1\n").unwrap();
        let mut marked = Command::new("sleep").arg("600").env(TOKEN_VAR, store_token(dir.path())).spawn().unwrap();
        let mut other = Command::new("sleep").arg("600").env(TOKEN_VAR, "another-store").spawn().unwrap();
        // The child must have exec'd (its environment is then the one given) before the scan.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fs::read_to_string(format!("/proc/{}/cmdline", marked.id())).is_ok_and(|c| c.starts_with("sleep")) {
            assert!(Instant::now() < deadline, "sleep did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let killed = kill_orphans(&state).unwrap();
        let marked_status = marked.wait().unwrap();
        let other_alive = other.try_wait().unwrap().is_none();
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(killed, 1);
        assert_eq!(marked_status.signal(), Some(libc::SIGKILL));
        assert!(other_alive, "a process of another store was killed");
        assert_eq!(fs::read_dir(procs_dir(dir.path())).unwrap().count(), 0, "records are removed");
    }
}
