//! The `flow` command. `main` parses arguments, dispatches, prints an error once and exits with
//! a status scripts can rely on:
//! 0 success, 1 a node failed, 2 bad input (workflow, arguments, input data, a publish
//! destination flow did not write), 3 the store is busy (`--no-wait`), 4 an internal error
//! (store I/O, damaged state), 130 interrupted by SIGINT, 143 by SIGTERM.

mod args;
mod artifacts;
mod commands;
mod display;
mod exec_job;
mod fs;
mod init;
mod logging;
mod plugin_new;
mod project;
mod run;
mod serve;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use flow_engine::diagnostic::Diagnostics;

/// Everything that ends a command early, with its exit status.
#[derive(Debug)]
pub enum CliError {
    /// Workflow problems, each with file:line:column.
    Input(Diagnostics),
    /// Other bad input (arguments, unknown node names).
    Usage(String),
    /// A node failed; the details were already printed.
    NodesFailed,
    /// Every failed node rejected its input data; the details were already printed.
    BadData,
    Busy(String),
    /// Cancelled by this signal.
    Interrupted(i32),
    /// The store or the state directory failed us (I/O, damage): not the user's input.
    Internal(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) | CliError::Usage(_) | CliError::BadData => 2,
            CliError::NodesFailed => 1,
            CliError::Busy(_) => 3,
            CliError::Internal(_) => 4,
            CliError::Interrupted(signal) => 128u8.saturating_add(*signal as u8),
        }
    }
}

impl From<flow_engine::store::StoreError> for CliError {
    fn from(e: flow_engine::store::StoreError) -> CliError {
        if e.is_user_error() { CliError::Usage(e.to_string()) } else { CliError::Internal(e.to_string()) }
    }
}

fn main() -> ExitCode {
    keep_freed_memory_for_reuse();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            match &error {
                CliError::Input(diagnostics) => {
                    for d in &diagnostics.0 {
                        eprintln!("error: {d}");
                    }
                    if diagnostics.0.len() > 1 {
                        eprintln!("{} errors; nothing was run", diagnostics.0.len());
                    }
                }
                CliError::Usage(message) | CliError::Busy(message) | CliError::Internal(message) => {
                    eprintln!("error: {message}")
                }
                CliError::NodesFailed | CliError::BadData => {}
                CliError::Interrupted(_) => eprintln!("interrupted"),
            }
            ExitCode::from(error.exit_code())
        }
    }
}

/// Writes to stdout; a closed pipe (`flow nodes | head`) ends the program quietly.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing output: {e}");
        std::process::exit(1);
    }
}

/// glibc hands every freed block of more than 128 KiB (its adaptive threshold's start) back to
/// the kernel, so the next one is new memory whose pages fault in one by one, about 3 µs each
/// on this project's machines: in a one-patient radiomics node (a decompressed image, then the
/// texture grids) that was a tenth of the node. Blocks under 32 MiB now come from the heap and
/// up to 64 MiB of free heap is kept, so a node's later buffers reuse its earlier ones' pages:
/// breast1's node 1.65 -> 1.53 ms, the prostate phantom's 2.80 -> 2.50 ms, and the whole
/// multimodal pipeline 40% fewer page faults at the same wall time (docs/benchmarks.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory_for_reuse() {
    // SAFETY: mallopt only sets glibc's allocator parameters, here before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory_for_reuse() {}
