//! Cancellation that reaches child processes.
//!
//! Nodes that start processes register their process group here; cancelling kills those groups,
//! so a blocked `wait()` returns at once instead of the node polling a flag in a loop (polling
//! would add latency to every trivial node).
//!
//! Groups are signalled with the registry locked, and a node unregisters its group before it
//! reaps the group's leader (see [`crate::process`]): a signal can never reach a group id that
//! has been freed and handed to an unrelated process.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long node commands get to act on a forwarded SIGINT/SIGTERM (remove partial files, write
/// a checkpoint) before their process groups are SIGKILLed.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    process_groups: Mutex<HashSet<i32>>,
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// The flag itself, for library crates that know nothing of the engine: long loops (a
    /// cohort's patients, boosting rounds) check it between items and stop early.
    pub fn flag(&self) -> &AtomicBool {
        &self.inner.cancelled
    }

    /// Marks the run cancelled and kills every registered process group.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.signal_all(libc::SIGKILL);
    }

    /// Marks the run cancelled and forwards `signal` (SIGINT, SIGTERM) to every registered
    /// process group, so commands can clean up; groups still registered after
    /// [`GRACE_PERIOD`] are SIGKILLed. Returns at once: the grace period runs on a thread of
    /// its own.
    pub fn interrupt(&self, signal: i32) {
        self.interrupt_with_grace(signal, GRACE_PERIOD);
    }

    fn interrupt_with_grace(&self, signal: i32, grace: Duration) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.signal_all(signal);
        let token = self.clone();
        let spawned = std::thread::Builder::new().name("flow-grace".into()).spawn(move || {
            std::thread::sleep(grace);
            token.signal_all(libc::SIGKILL);
        });
        if spawned.is_err() {
            // No thread for the grace period: no grace.
            self.signal_all(libc::SIGKILL);
        }
    }

    /// Registers a child that leads its own process group; it is killed on cancel until the
    /// returned guard drops. A child registered after cancellation is killed at once.
    pub fn register_process_group(&self, pgid: i32) -> ProcessGuard {
        if let Ok(mut groups) = self.inner.process_groups.lock() {
            groups.insert(pgid);
        }
        if self.is_cancelled() {
            signal_group(pgid, libc::SIGKILL);
        }
        ProcessGuard { token: self.clone(), pgid }
    }

    fn signal_all(&self, signal: i32) {
        // Held while signalling: a group is unregistered (under this lock) before its id can
        // be freed, so every id in the set is still the node's.
        let groups = self.inner.process_groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for &pgid in groups.iter() {
            signal_group(pgid, signal);
        }
    }
}

pub struct ProcessGuard {
    token: CancelToken,
    pgid: i32,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let mut groups = self.token.inner.process_groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        groups.remove(&self.pgid);
    }
}

fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    fn group_leader(script: &str) -> std::process::Child {
        Command::new("bash").arg("-c").arg(script).process_group(0).stdout(Stdio::piped()).spawn().unwrap()
    }

    /// Waits until the script has printed its first line (its traps are set by then).
    fn wait_ready(child: &mut std::process::Child) {
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
    }

    #[test]
    fn interrupt_forwards_the_signal_then_kills_after_the_grace_period() {
        let token = CancelToken::new();
        let mut polite = group_leader("echo ready; exec sleep 600");
        // An ignored signal stays ignored across exec: sleep ignores TERM too.
        let mut stubborn = group_leader("trap '' TERM; echo ready; exec sleep 600");
        wait_ready(&mut polite);
        wait_ready(&mut stubborn);
        let _polite_guard = token.register_process_group(polite.id() as i32);
        let _stubborn_guard = token.register_process_group(stubborn.id() as i32);
        token.interrupt_with_grace(libc::SIGTERM, Duration::from_millis(200));
        assert!(token.is_cancelled());
        assert_eq!(polite.wait().unwrap().signal(), Some(libc::SIGTERM));
        assert_eq!(stubborn.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn a_group_registered_after_cancellation_is_killed_at_once() {
        let token = CancelToken::new();
        token.cancel();
        let mut late = group_leader("exec sleep 600");
        let _guard = token.register_process_group(late.id() as i32);
        assert_eq!(late.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
