//! Command-line arguments, as the user typed them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::fs::FsArgs;

#[derive(Parser, Debug)]
#[command(name = "flow", version, about = "Run YAML workflows of cached, parallel nodes", propagate_version = true)]
pub struct Cli {
    /// Project directory: relative `file:` inputs and publish paths resolve here [default: .]
    #[arg(short = 'C', long = "project-dir", global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,

    /// State directory holding the store and run records [default: PROJECT/.flow]
    #[arg(long, global = true, value_name = "DIR", env = "FLOW_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// More log output on the console (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors and warnings on the console: no progress, notes or run summary (data that a
    /// command prints, and --json, still go to stdout)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a workflow, reusing cached results of unchanged nodes
    #[command(after_help = "Examples:
  flow run                                 the project's default workflow (flow.config.yaml, else flow.yaml)
  flow run multimodal.yaml                 found in the project or its workflows/ folder
  flow run multimodal.yaml imaging_metrics only that node and what it needs
  flow run multimodal.yaml -R imaging_pca  rerun a node and what follows, although cached
  flow run demo.yaml -j 4 -s patients=500  thread budget 4, a variable set
  flow run multimodal.yaml -n              what would run (as flow plan)
  flow run multimodal.yaml --executor slurm -j 64 --slurm-partition short")]
    Run(RunArgs),
    /// Show what a run would do and why, without running anything
    #[command(after_help = "Examples:
  flow plan multimodal.yaml
  flow plan multimodal.yaml report --json")]
    Plan(PlanArgs),
    /// Explain why a node would rerun (or why it is cached)
    #[command(after_help = "Examples:
  flow why multimodal.yaml report
  flow why report                 (the project's default workflow)")]
    Why(WhyArgs),
    /// Print the workflow's DAG as Graphviz dot or Mermaid
    #[command(after_help = "Examples:
  flow graph demo.yaml | dot -Tsvg > dag.svg
  flow graph demo.yaml --format mermaid")]
    Graph(GraphArgs),
    /// Summarise the store and recent runs
    #[command(after_help = "Examples:
  flow status
  flow status --runs 3 --json")]
    Status(StatusArgs),
    /// Delete stored objects that no recent run references
    #[command(after_help = "Examples:
  flow gc --dry-run
  flow gc --keep-runs 2")]
    Gc(GcArgs),
    /// Rehash every stored object; quarantine corrupt ones so the next run rebuilds them
    #[command(after_help = "Examples:
  flow verify          quarantines what changed on disk; the next flow run rebuilds it")]
    Verify(VerifyArgs),
    /// List node kinds, or show one in detail
    #[command(after_help = "Examples:
  flow nodes
  flow nodes imaging.radiomics")]
    Nodes(NodesArgs),
    /// Inspect the feature store: list, describe GROUP, get GROUP ID, query "SQL"
    #[command(after_help = "Examples:
  flow fs list
  flow fs describe clinical_s42
  flow fs get clinical_s42 R01-001 --as-of v1
  flow fs query \"SELECT COUNT(*) AS n FROM genomic_s42\" --csv
  flow fs drop clinical_s7")]
    Fs(FsArgs),
    /// Serve the online feature store and the models runs bundled over HTTP/JSON, behind a bearer token
    #[command(after_help = "Examples:
  flow serve                               127.0.0.1:8377, token in .flow/serve/token
  flow serve --port 9000
  curl -H \"Authorization: Bearer $(cat .flow/serve/token)\" localhost:8377/v1/groups/clinical_s42/records/R01-001")]
    Serve(crate::serve::ServeArgs),
    /// Print a node's log from the newest run in which it ran (NODE, or NODE[ITEM] for a map item)
    #[command(after_help = "Examples:
  flow log multimodal_model
  flow log 'radiomics[R01-001]'        one item of a mapped node
  flow log report --run 20261204T101500.123Z-4242")]
    Log(LogArgs),
    /// Print an output's bytes (NODE.PORT), or the files of a folder output
    #[command(after_help = "Examples:
  flow cat multimodal_metrics.metrics
  flow cat report.report             a folder: its files")]
    Cat(ArtifactArgs),
    /// Print where an output sits in the store (read-only; never edit it)
    #[command(after_help = "Examples:
  flow path multimodal_model.model
  python -c \"import json; print(json.load(open('$(flow path multimodal_metrics.metrics)')))\"")]
    Path(ArtifactArgs),
    /// Cancel the Slurm jobs of this store's runs (running, or killed without ending)
    #[command(after_help = "Examples:
  flow status          the queued Slurm jobs, by node
  flow cancel")]
    Cancel,
    /// Make a small project that runs: a workflow, a CSV and a node kind of your own
    #[command(after_help = "Examples:
  flow init my-study && cd my-study && flow run")]
    Init(InitArgs),
    /// Make a node kind of your own (a process plugin in the project's plugins/ folder)
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print a shell completion script: flow completions bash > ~/.local/share/bash-completion/completions/flow
    #[command(after_help = "Examples:
  flow completions bash > ~/.local/share/bash-completion/completions/flow
  flow completions zsh > ~/.zfunc/_flow        (with fpath+=~/.zfunc in ~/.zshrc)
  flow completions fish > ~/.config/fish/completions/flow.fish")]
    Completions(CompletionsArgs),
    /// Run one node attempt that a cluster executor wrote down (what a batch job runs)
    #[command(hide = true)]
    ExecJob(ExecJobArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project folder, created if missing
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Scaffold a kind that runs as it is: plugin.yaml and a program (Rust, built by cargo on
    /// its own, or Python)
    #[command(after_help = "Examples:
  flow plugin new text.grep --lang rust && cargo build --release --manifest-path plugins/text_grep/Cargo.toml
  flow plugin new text.grep --lang python")]
    New(PluginNewArgs),
}

#[derive(Args, Debug)]
pub struct PluginNewArgs {
    /// The kind's name, as `uses:` names it (e.g. text.grep)
    pub kind: String,

    /// The language of the program
    #[arg(long, value_enum, default_value = "python")]
    pub lang: PluginLang,

    /// For Rust: the folder of the flow-plugin-sdk crate [default: crates/plugin-sdk of the source flow was built from]
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginLang {
    Rust,
    Python,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct LogArgs {
    /// NODE, or NODE[ITEM] for one item of a mapped node
    pub node: String,

    /// This run instead of the newest in which the node ran (`flow status` lists runs)
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
}

#[derive(Args, Debug)]
pub struct ArtifactArgs {
    /// NODE.PORT, e.g. train.model
    pub output: String,

    /// This run instead of the newest that recorded the output
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExecJobArgs {
    /// The job's spec (JSON), written by the controller
    pub spec: PathBuf,

    /// Where to leave how the attempt ended (JSON) for the controller
    #[arg(long, value_name = "FILE")]
    pub outcome: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct WorkflowArgs {
    /// The workflow file (YAML): a path, or a name found in the project or its workflows/
    /// folder [default: the project's flow.yaml, or the workflow its flow.config.yaml names]
    pub file: Option<PathBuf>,

    /// Override a workflow variable: -s seed=7 (repeatable)
    #[arg(short = 's', long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
}

/// What part of the workflow a run or plan covers.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// Build only these nodes and what they need [default: every node]
    #[arg(value_name = "NODE")]
    pub targets: Vec<String>,

    /// Rerun this node and everything downstream of it although cached (repeatable)
    #[arg(short = 'R', long = "force", value_name = "NODE")]
    pub force: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,

    #[command(flatten)]
    pub select: TargetArgs,

    /// Show what the run would do, without running anything (as `flow plan`)
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Thread budget shared by running nodes [default: number of cores]
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Memory budget for nodes that declare resources.memory, e.g. 16G [default: physical memory]
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// Keep running independent nodes after a failure
    #[arg(short = 'k', long)]
    pub keep_going: bool,

    /// Fail at once if another flow process holds the store, instead of waiting
    #[arg(long)]
    pub no_wait: bool,

    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Let publish replace destinations flow did not write (or that were edited since)
    #[arg(long)]
    pub overwrite: bool,

    /// Where nodes run: here, or as Slurm batch jobs (then -j is how many jobs at once)
    /// [default: the workflow's cluster.executor, else local]
    #[arg(long, value_enum)]
    pub executor: Option<ExecutorName>,

    #[command(flatten)]
    pub slurm: SlurmArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorName {
    Local,
    Slurm,
}

/// Settings of `--executor slurm`.
#[derive(Args, Debug, Clone)]
pub struct SlurmArgs {
    /// Slurm partition for every job
    #[arg(long, value_name = "NAME")]
    pub slurm_partition: Option<String>,

    /// Slurm account
    #[arg(long, value_name = "NAME")]
    pub slurm_account: Option<String>,

    /// Slurm quality of service
    #[arg(long, value_name = "NAME")]
    pub slurm_qos: Option<String>,

    /// Time limit of each job, as sbatch takes it (30, 2:00:00, 1-00:00:00)
    #[arg(long, value_name = "TIME")]
    pub slurm_time: Option<String>,

    /// Another sbatch option, passed as it is (repeatable)
    #[arg(long = "slurm-option", value_name = "OPTION", allow_hyphen_values = true)]
    pub slurm_options: Vec<String>,

    /// Seconds between two status calls (one squeue for the whole run); at least 2 [default: 5]
    #[arg(long, value_name = "SECONDS")]
    pub slurm_poll: Option<u64>,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,

    #[command(flatten)]
    pub select: TargetArgs,

    /// Print the plan as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct WhyArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,

    /// The node to explain (`flow why NODE` uses the project's default workflow)
    pub node: Option<String>,

    /// Print the explanation as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    pub workflow: WorkflowArgs,

    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// How many recent runs to list
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub runs: usize,

    /// Print as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Keep objects referenced by this many most recent runs
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub keep_runs: usize,

    /// Only report what would be deleted
    #[arg(long)]
    pub dry_run: bool,

    /// Fail at once if another flow process holds the store, instead of waiting
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Fail at once if another flow process holds the store, instead of waiting
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args, Debug)]
pub struct NodesArgs {
    /// Show this kind in detail
    pub kind: Option<String>,

    /// Print as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got '{text}'")),
    }
}
