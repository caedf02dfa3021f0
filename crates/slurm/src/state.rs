//! Slurm job states as `squeue -o %T` prints them, and what a finished one means for the node.

/// Where a job is, as far as the controller knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Pending, running, completing, suspended...: not over yet.
    Active(String),
    /// Over, with Slurm's word for how (`COMPLETED`, `FAILED`, `TIMEOUT`, `OUT_OF_MEMORY`...).
    Finished(String),
    /// No longer listed: purged after `MinJobAge`, or lost with the controller's state.
    Gone,
}

impl JobState {
    pub fn parse(word: &str) -> JobState {
        // squeue prints long names; sacct abbreviates some and appends " by UID" to CANCELLED.
        let word = word.split_whitespace().next().unwrap_or("").trim_end_matches('+');
        match word {
            "COMPLETED" | "CD" | "FAILED" | "F" | "TIMEOUT" | "TO" | "OUT_OF_MEMORY" | "OOM" | "CANCELLED" | "CA"
            | "NODE_FAIL" | "NF" | "PREEMPTED" | "PR" | "BOOT_FAIL" | "BF" | "DEADLINE" | "DL" | "REVOKED" => {
                JobState::Finished(long_name(word).to_string())
            }
            other => JobState::Active(other.to_string()),
        }
    }

    pub fn is_over(&self) -> bool {
        !matches!(self, JobState::Active(_))
    }
}

fn long_name(word: &str) -> &str {
    match word {
        "CD" => "COMPLETED",
        "F" => "FAILED",
        "TO" => "TIMEOUT",
        "OOM" => "OUT_OF_MEMORY",
        "CA" => "CANCELLED",
        "NF" => "NODE_FAIL",
        "PR" => "PREEMPTED",
        "BF" => "BOOT_FAIL",
        "DL" => "DEADLINE",
        long => long,
    }
}

/// Why a job that did not complete failed, in words, from its final state and the tail of its
/// log. Without cgroups Slurm kills a job over its `--mem` with SIGKILL and reports a plain
/// FAILED; only the step's message in the log says it was memory.
pub fn failure_reason(state: &str, log_tail: &str) -> Option<Reason> {
    let oom_in_log = log_tail.contains("Exceeded job memory limit") || log_tail.contains("oom-kill");
    match state {
        "OUT_OF_MEMORY" => Some(Reason::OutOfMemory),
        "FAILED" | "CANCELLED" if oom_in_log => Some(Reason::OutOfMemory),
        "TIMEOUT" | "DEADLINE" => Some(Reason::Timeout),
        "NODE_FAIL" | "BOOT_FAIL" => Some(Reason::NodeFail),
        "PREEMPTED" => Some(Reason::Preempted),
        "CANCELLED" => Some(Reason::Cancelled),
        _ => None,
    }
}

/// What ended a job, when it was not the command's own exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    OutOfMemory,
    Timeout,
    NodeFail,
    Preempted,
    Cancelled,
}

impl Reason {
    pub fn words(self) -> &'static str {
        match self {
            Reason::OutOfMemory => "ran out of memory (OUT_OF_MEMORY): raise `resources.memory`",
            Reason::Timeout => "hit its time limit (TIMEOUT): raise the time limit",
            Reason::NodeFail => "lost its compute node (NODE_FAIL)",
            Reason::Preempted => "was preempted (PREEMPTED)",
            Reason::Cancelled => "was cancelled outside flow (CANCELLED)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_read_in_both_spellings() {
        assert_eq!(JobState::parse("RUNNING"), JobState::Active("RUNNING".into()));
        assert_eq!(JobState::parse("COMPLETING"), JobState::Active("COMPLETING".into()));
        assert_eq!(JobState::parse("PENDING"), JobState::Active("PENDING".into()));
        assert_eq!(JobState::parse("CD"), JobState::Finished("COMPLETED".into()));
        assert_eq!(JobState::parse("CANCELLED by 0"), JobState::Finished("CANCELLED".into()));
        assert_eq!(JobState::parse("OUT_OF_MEMORY"), JobState::Finished("OUT_OF_MEMORY".into()));
        assert!(JobState::parse("TIMEOUT").is_over());
        assert!(!JobState::parse("SUSPENDED").is_over());
    }

    #[test]
    fn memory_kills_are_told_from_other_failures() {
        // What slurmstepd writes into the job's output when jobacct_gather kills it.
        let killed = "slurmstepd-vm: error: Exceeded job memory limit\n";
        assert_eq!(failure_reason("FAILED", killed), Some(Reason::OutOfMemory));
        assert_eq!(failure_reason("OUT_OF_MEMORY", ""), Some(Reason::OutOfMemory));
        assert_eq!(failure_reason("FAILED", "command exited with status 3"), None);
        assert_eq!(failure_reason("TIMEOUT", ""), Some(Reason::Timeout));
        assert_eq!(failure_reason("CANCELLED", ""), Some(Reason::Cancelled));
        assert_eq!(failure_reason("COMPLETED", ""), None);
    }
}
