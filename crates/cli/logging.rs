//! tracing setup: every run logs to its own file in the store; `-v` copies logs to the console.

use std::fs::File;
use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

fn console_level(verbose: u8) -> LevelFilter {
    match verbose {
        0 => LevelFilter::OFF,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    }
}

/// Console logging only (commands that write no run log).
pub fn init_console(verbose: u8) {
    let console = fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(console_level(verbose));
    let _ = tracing_subscriber::registry().with(console).try_init();
}

/// Run logging: the run's log file gets INFO and up; the console gets what `-v` asks for.
pub fn init_run(verbose: u8, log_file: File) {
    let file_layer = fmt::layer()
        .with_writer(Mutex::new(log_file))
        .with_ansi(false)
        .with_target(false)
        .with_filter(LevelFilter::INFO.max(console_level(verbose)));
    let console = fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(console_level(verbose));
    let _ = tracing_subscriber::registry().with(file_layer).with(console).try_init();
}
