//! Cancellation that reaches child processes.
//!
//! Nodes that start processes register their process group here; cancelling kills those groups,
//! so a blocked `wait()` returns at once instead of the node polling a flag in a loop (polling
//! would add latency to every trivial node).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

    /// Marks the run cancelled and kills every registered process group.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let groups = self.inner.process_groups.lock().map(|g| g.clone()).unwrap_or_default();
        for pgid in groups {
            kill_group(pgid);
        }
    }

    /// Registers a child that leads its own process group; it is killed on cancel until the
    /// returned guard drops. A child registered after cancellation is killed at once.
    pub fn register_process_group(&self, pgid: i32) -> ProcessGuard {
        if let Ok(mut groups) = self.inner.process_groups.lock() {
            groups.insert(pgid);
        }
        if self.is_cancelled() {
            kill_group(pgid);
        }
        ProcessGuard { token: self.clone(), pgid }
    }
}

pub struct ProcessGuard {
    token: CancelToken,
    pgid: i32,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if let Ok(mut groups) = self.token.inner.process_groups.lock() {
            groups.remove(&self.pgid);
        }
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}
