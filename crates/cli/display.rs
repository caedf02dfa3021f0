//! What the user sees while a run goes and after it ends: indicatif bars on a terminal,
//! plain lines otherwise, then a summary table (or JSON).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flow_engine::exec::{Event, Observer};
use flow_engine::store::runs::{NodeStatus, RunRecord};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub enum Progress {
    Bars(Bars),
    Lines(Lines),
    /// `--quiet`: failures are reported after the run, nothing while it goes.
    Silent,
}

pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<HashMap<String, ProgressBar>>,
}

pub struct Lines {
    done: AtomicUsize,
    total: AtomicUsize,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise (CI logs, pipes).
    pub fn new(quiet: bool) -> Progress {
        if quiet {
            Progress::Silent
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(15));
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} nodes {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            Progress::Bars(Bars { multi, overall, running: Mutex::new(HashMap::new()) })
        } else {
            Progress::Lines(Lines { done: AtomicUsize::new(0), total: AtomicUsize::new(0) })
        }
    }

    /// Clears bars before the summary is printed.
    pub fn finish(&self) {
        if let Progress::Bars(bars) = self {
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        match self {
            Progress::Bars(bars) => bars.event(event),
            Progress::Lines(lines) => lines.event(event),
            Progress::Silent => {}
        }
    }
}

impl Bars {
    fn event(&self, event: &Event) {
        match event {
            Event::Planned { total } => self.overall.set_length(*total as u64),
            Event::Started { node } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(node.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut running) = self.running.lock() {
                    running.insert(node.clone(), bar);
                }
            }
            Event::Retrying { node, attempt, error } => {
                let _ = self.multi.println(format!("retry   {node} (attempt {attempt} failed: {error})"));
            }
            Event::Mapped { node, total, to_run, .. } => {
                let bar = self.multi.add(ProgressBar::new(*to_run as u64));
                bar.set_style(
                    ProgressStyle::with_template("  {msg} [{bar:20.green/blue}] {pos}/{len} items, eta {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message(format!("{node} ({} cached)", total - to_run));
                if let Ok(mut running) = self.running.lock() {
                    running.insert(map_bar(node), bar);
                }
            }
            Event::ItemFinished { node, item, status, seconds } => {
                if let Ok(running) = self.running.lock()
                    && let Some(bar) = running.get(&map_bar(node))
                {
                    bar.inc(1);
                }
                self.remove_bar(&format!("{node}[{item}]"));
                if *status == NodeStatus::Failed {
                    let _ = self.multi.println(format!("failed  {node}[{item}] ({})", seconds_text(*seconds)));
                }
            }
            Event::Finished { node, status, seconds } => {
                self.remove_bar(node);
                self.remove_bar(&map_bar(node));
                if matches!(status, NodeStatus::Ran | NodeStatus::Failed) {
                    let _ = self.multi.println(format!("{:<7} {node} ({})", status.as_str(), seconds_text(*seconds)));
                }
                self.overall.inc(1);
            }
            Event::Draining { running } => {
                self.overall.set_message(format!("— a node failed; waiting for {running} running node(s)"));
            }
            Event::Cancelling => self.overall.set_message("— cancelling"),
            // Printed once, after the summary.
            Event::Warning { .. } => {}
        }
    }
}

fn map_bar(node: &str) -> String {
    format!("map {node}")
}

impl Bars {
    fn remove_bar(&self, key: &str) {
        if let Ok(mut running) = self.running.lock()
            && let Some(bar) = running.remove(key)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

/// One line to stderr in one write: stderr is unbuffered, and `eprintln!` writes each piece of
/// its format on its own (13 writes for a progress line, per node).
macro_rules! line {
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }};
}

impl Lines {
    fn event(&self, event: &Event) {
        match event {
            Event::Planned { total } => self.total.store(*total, Ordering::Relaxed),
            Event::Started { .. } => {}
            Event::Mapped { node, detail, .. } => line!("map     {node}: {detail}"),
            Event::ItemFinished { node, item, status, seconds } => {
                if matches!(status, NodeStatus::Ran | NodeStatus::Failed) {
                    line!("        {:<7} {node}[{item}] ({})", status.as_str(), seconds_text(*seconds));
                }
            }
            Event::Retrying { node, attempt, error } => line!("retry   {node} (attempt {attempt} failed: {error})"),
            Event::Finished { node, status, seconds } => {
                let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
                // Cached and skipped nodes are summed up at the end; a no-op of 10k nodes
                // should not print 10k lines.
                if matches!(status, NodeStatus::Ran | NodeStatus::Failed | NodeStatus::Cancelled) {
                    let total = self.total.load(Ordering::Relaxed);
                    line!("[{done}/{total}] {:<7} {node} ({})", status.as_str(), seconds_text(*seconds));
                }
            }
            Event::Draining { running } => line!("a node failed; waiting for {running} running node(s) to finish"),
            Event::Cancelling => line!("cancelling: stopping running nodes"),
            Event::Warning { .. } => {}
        }
    }
}

pub fn seconds_text(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else if seconds < 120.0 {
        format!("{seconds:.1}s")
    } else {
        format!("{}m{:02}s", (seconds / 60.0) as u64, (seconds % 60.0) as u64)
    }
}

/// At most this many rows; beyond it cached rows are folded into one line.
const MAX_ROWS: usize = 40;

/// The end-of-run table: node, status, time.
pub fn summary_table(record: &RunRecord, paint: Paint) -> String {
    // What ran or went wrong gets a row; cached nodes are one line, as cargo says "Fresh".
    let mut rows: Vec<&flow_engine::store::runs::NodeRecord> =
        record.nodes.iter().filter(|n| n.status != NodeStatus::Cached).collect();
    let folded = rows.len().saturating_sub(MAX_ROWS);
    rows.truncate(MAX_ROWS);
    let mut out = String::new();
    let width = rows.iter().map(|n| n.name.chars().count()).max().unwrap_or(4).max(4);
    if !rows.is_empty() {
        out.push_str(&format!("{:<width$}  {:<9}  {:>8}\n", "node", "status", "time"));
    }
    for node in &rows {
        let time = if node.status == NodeStatus::Ran || node.status == NodeStatus::Failed {
            seconds_text(node.seconds)
        } else {
            "-".to_string()
        };
        let status = paint.status(node.status, &format!("{:<9}", node.status.as_str()));
        out.push_str(&format!("{:<width$}  {status}  {:>8}", node.name, time));
        if let Some(items) = &node.items {
            out.push_str(&format!("  items: {} ran, {} cached, {} failed", items.ran, items.cached, items.failed));
        }
        if !node.jobs.is_empty() {
            let more = node.jobs.len().saturating_sub(3);
            let shown = node.jobs[..node.jobs.len().min(3)].join(", ");
            out.push_str(&format!("  jobs: {shown}{}", if more > 0 { format!(" (+{more})") } else { String::new() }));
        }
        out.push('\n');
    }
    if folded > 0 {
        out.push_str(&format!("… {folded} more (beyond {MAX_ROWS} rows; --json lists all)\n"));
    }
    let cached = record.count(NodeStatus::Cached);
    if cached > 0 {
        let all = if cached == record.nodes.len() { "all " } else { "" };
        // A few are named; many would bury what ran.
        let names: Vec<&str> =
            record.nodes.iter().filter(|n| n.status == NodeStatus::Cached).map(|n| n.name.as_str()).collect();
        let listed = if names.len() <= 5 { format!(": {}", names.join(", ")) } else { String::new() };
        out.push_str(&paint.status(NodeStatus::Cached, &format!("{all}{cached} cached{listed}\n")));
    }
    let items = record.nodes.iter().filter_map(|n| n.items.as_ref());
    let (ran, cached, failed) = items.fold((0, 0, 0), |(r, c, f), i| (r + i.ran, c + i.cached, f + i.failed));
    if ran + cached + failed > 0 {
        out.push_str(&format!("items of mapped nodes: {ran} ran, {cached} cached, {failed} failed\n"));
    }
    out.push_str(&format!(
        "{} nodes: {} ran, {} cached, {} failed, {} skipped in {}\n",
        record.nodes.len(),
        record.count(NodeStatus::Ran),
        record.count(NodeStatus::Cached),
        record.count(NodeStatus::Failed),
        record.count(NodeStatus::Skipped) + record.count(NodeStatus::Cancelled),
        seconds_text(record.seconds)
    ));
    out
}

/// Colour for a terminal: none when the output is piped or `NO_COLOR` is set (no-color.org).
#[derive(Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub fn for_stdout() -> Paint {
        let wanted = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Paint { on: wanted && std::io::stdout().is_terminal() }
    }

    /// `text` in the colour of `status`.
    pub fn status(self, status: NodeStatus, text: &str) -> String {
        use anstyle::{AnsiColor, Style};
        if !self.on {
            return text.to_string();
        }
        let style = match status {
            NodeStatus::Ran => Style::new().fg_color(Some(AnsiColor::Green.into())),
            NodeStatus::Failed => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            NodeStatus::Cached => Style::new().dimmed(),
            NodeStatus::Skipped | NodeStatus::Cancelled => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        };
        // The newline stays outside the colour, or the next line starts coloured in some terminals.
        let (body, end) = text.strip_suffix('\n').map_or((text, ""), |body| (body, "\n"));
        format!("{style}{body}{style:#}{end}")
    }
}

/// The last `n` lines of a log file, each cut to a screen-friendly length.
pub fn log_tail(path: &std::path::Path, n: usize) -> Vec<String> {
    const MAX_CHARS: usize = 400;
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|line| match line.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        })
        .collect()
}
