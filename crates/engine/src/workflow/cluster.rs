//! The project's `flow.config.yaml` (its default workflow, where its jobs go) and a workflow's
//! `cluster:` section.
//!
//! A workflow travels between sites; the partition, account and qos of one institution do not.
//! So the same section can also sit in a file of the project, apart from any workflow, and wins
//! over the workflow's (as Nextflow's project `nextflow.config` wins over the pipeline's). The
//! command line wins over both, a node's own `resources` over everything. None of it is part of
//! an action key: where a job ran never changes what it computed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Diagnostics, Pos, suggestion};
use crate::workflow::model::{ClusterDefaults, EXECUTORS, Placement, time_minutes};
use crate::yaml::{self, Spanned, pos};

/// The project's settings file, in the project directory.
pub const PROJECT_CONFIG: &str = "flow.config.yaml";

/// The shortest poll interval flow accepts: slurmctld's operators ask for no more than one
/// status call every few seconds.
pub const MIN_POLL_SECONDS: u64 = 2;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    executor: Option<Spanned<String>>,
    time: Option<Spanned<String>>,
    partition: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    qos: Option<Spanned<String>>,
    cluster_options: Option<Spanned<Vec<String>>>,
    /// Seconds between two status calls.
    poll: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProjectConfig {
    /// The workflow `flow run` runs when given none, relative to the project.
    workflow: Option<Spanned<String>>,
    cluster: Option<Spanned<RawCluster>>,
}

/// Checks a `cluster:` section; `section` names it in messages.
pub(crate) fn defaults(raw: &RawCluster, section: &str, report: &mut dyn FnMut(Pos, String)) -> ClusterDefaults {
    if let Some(executor) = &raw.executor
        && !EXECUTORS.contains(&executor.value.as_str())
    {
        let hint = suggestion(&executor.value, EXECUTORS.iter().copied());
        report(
            pos(executor),
            format!(
                "{section}.executor '{}' is not an executor{hint}; flow has: {}",
                executor.value,
                EXECUTORS.join(", ")
            ),
        );
    }
    check_time(raw.time.as_ref(), &format!("{section}.time"), report);
    if let Some(poll) = &raw.poll
        && poll.value < MIN_POLL_SECONDS
    {
        report(
            pos(poll),
            format!(
                "{section}.poll is {} s: flow asks Slurm for its jobs' states at most once every \
                 {MIN_POLL_SECONDS} s, so that a large run does not load the controller; write {MIN_POLL_SECONDS} or more",
                poll.value
            ),
        );
    }
    let text = |field: &Option<Spanned<String>>| field.as_ref().map(|f| f.value.clone());
    ClusterDefaults {
        executor: text(&raw.executor),
        jobs: Placement {
            local: false,
            time: text(&raw.time),
            partition: text(&raw.partition),
            account: text(&raw.account),
            qos: text(&raw.qos),
            options: raw.cluster_options.as_ref().map(|o| o.value.clone()).unwrap_or_default(),
        },
        poll_seconds: raw.poll.as_ref().map(|p| p.value),
    }
}

/// A time limit must be one sbatch reads.
pub(crate) fn check_time(time: Option<&Spanned<String>>, field: &str, report: &mut dyn FnMut(Pos, String)) {
    if let Some(time) = time
        && time_minutes(&time.value).is_none()
    {
        report(
            pos(time),
            format!(
                "{field} '{}' is not a time limit: write minutes (30), H:MM:SS (2:00:00) or D-HH:MM:SS (1-00:00:00)",
                time.value
            ),
        );
    }
}

/// The project's `flow.config.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectConfig {
    /// The file it came from; `None` when the project has none.
    pub file: Option<PathBuf>,
    /// The project's default workflow, relative to the project directory.
    pub workflow: Option<PathBuf>,
    pub cluster: ClusterDefaults,
}

impl ProjectConfig {
    /// Reads `flow.config.yaml` in `project_dir`; a project without one has the defaults.
    pub fn load(project_dir: &Path) -> Result<ProjectConfig, Diagnostics> {
        let file = project_dir.join(PROJECT_CONFIG);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProjectConfig::default()),
            Err(e) => return Err(Diagnostic::new(&file, Pos::UNKNOWN, format!("cannot read the file: {e}")).into()),
        };
        let raw: RawProjectConfig = yaml::parse(&text, &file)?;
        let mut problems = Vec::new();
        let cluster = match &raw.cluster {
            Some(section) => defaults(&section.value, "cluster", &mut |at, message| {
                problems.push(Diagnostic::new(&file, at, message))
            }),
            None => ClusterDefaults::default(),
        };
        let workflow = raw.workflow.as_ref().map(|w| PathBuf::from(&w.value));
        if let (Some(path), Some(spanned)) = (&workflow, &raw.workflow)
            && !project_dir.join(path).is_file()
        {
            problems.push(Diagnostic::new(
                &file,
                pos(spanned),
                format!(
                    "workflow '{}' does not exist (relative to the project, {})",
                    spanned.value,
                    project_dir.display()
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(Diagnostics(problems));
        }
        Ok(ProjectConfig { file: Some(file), workflow, cluster })
    }
}

impl ClusterDefaults {
    /// These settings where they say something, `under`'s elsewhere; extra options of both,
    /// `under`'s first so that these come later on sbatch's command line and win.
    pub fn over(&self, under: &ClusterDefaults) -> ClusterDefaults {
        let pick = |mine: &Option<String>, theirs: &Option<String>| mine.clone().or_else(|| theirs.clone());
        ClusterDefaults {
            executor: pick(&self.executor, &under.executor),
            jobs: Placement {
                local: false,
                time: pick(&self.jobs.time, &under.jobs.time),
                partition: pick(&self.jobs.partition, &under.jobs.partition),
                account: pick(&self.jobs.account, &under.jobs.account),
                qos: pick(&self.jobs.qos, &under.jobs.qos),
                options: under.jobs.options.iter().chain(&self.jobs.options).cloned().collect(),
            },
            poll_seconds: self.poll_seconds.or(under.poll_seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(text: &str) -> (tempfile::TempDir, Result<ProjectConfig, Diagnostics>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_CONFIG), text).unwrap();
        let loaded = ProjectConfig::load(dir.path());
        (dir, loaded)
    }

    #[test]
    fn a_project_without_the_file_has_no_settings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ProjectConfig::load(dir.path()).unwrap(), ProjectConfig::default());
    }

    #[test]
    fn the_project_file_is_read_and_checked() {
        let (dir, loaded) = project(
            "cluster:\n  executor: slurm\n  partition: short\n  account: lab\n  time: '1:00:00'\n  poll: 10\n  cluster_options: [--exclusive]\n",
        );
        let config = loaded.unwrap();
        assert_eq!(config.file.as_deref(), Some(dir.path().join(PROJECT_CONFIG).as_path()));
        assert_eq!(config.cluster.executor.as_deref(), Some("slurm"));
        assert_eq!(config.cluster.jobs.partition.as_deref(), Some("short"));
        assert_eq!(config.cluster.jobs.account.as_deref(), Some("lab"));
        assert_eq!(config.cluster.poll_seconds, Some(10));
        assert_eq!(config.cluster.jobs.options, vec!["--exclusive".to_string()]);

        let (_dir, loaded) = project("cluster:\n  executor: slurn\n  time: soon\n  poll: 1\n");
        let problems = loaded.unwrap_err().0;
        let text: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        assert_eq!(problems.len(), 3, "{text:?}");
        assert!(text[0].contains("flow.config.yaml:2:13") && text[0].contains("did you mean 'slurm'"), "{text:?}");
        assert!(text[1].contains(":3:") && text[1].contains("not a time limit"), "{text:?}");
        assert!(text[2].contains(":4:") && text[2].contains("at most once every 2 s"), "{text:?}");

        let (_dir, loaded) = project("cluster:\n  partiton: short\n");
        let problem = loaded.unwrap_err().0.remove(0).to_string();
        assert!(problem.contains("partiton") && problem.contains("partition"), "{problem}");
        let (_dir, loaded) = project("slurm:\n  partition: short\n");
        let problem = loaded.unwrap_err().0.remove(0).to_string();
        assert!(problem.contains("slurm") && problem.contains("cluster"), "{problem}");
    }

    #[test]
    fn the_upper_settings_win_field_by_field_and_options_add_up() {
        let workflow = ClusterDefaults {
            executor: Some("local".into()),
            jobs: Placement {
                partition: Some("big".into()),
                time: Some("60".into()),
                options: vec!["--a".into()],
                ..Placement::default()
            },
            poll_seconds: Some(30),
        };
        let project = ClusterDefaults {
            executor: Some("slurm".into()),
            jobs: Placement { account: Some("lab".into()), options: vec!["--b".into()], ..Placement::default() },
            poll_seconds: None,
        };
        let merged = project.over(&workflow);
        assert_eq!(merged.executor.as_deref(), Some("slurm"));
        assert_eq!(merged.jobs.partition.as_deref(), Some("big"));
        assert_eq!(merged.jobs.account.as_deref(), Some("lab"));
        assert_eq!(merged.jobs.time.as_deref(), Some("60"));
        assert_eq!(merged.jobs.options, vec!["--a".to_string(), "--b".to_string()]);
        assert_eq!(merged.poll_seconds, Some(30));
    }
}
