//! The README's examples, run as written (`flow` on PATH, from a copy of this repository's
//! workflows), one after the other as a reader would type them.

use std::path::Path;
use std::process::Command;

use crate::util::Project;

const README: &str = include_str!("../README.md");

/// The command lines of the README's "Using flow" block, without their comments.
fn examples() -> Vec<String> {
    let section = README.split("## Using flow").nth(1).expect("the README has a 'Using flow' section");
    let block = section.split("```sh").nth(1).and_then(|rest| rest.split("```").next()).expect("a sh block");
    block
        .lines()
        .map(|line| line.split("  #").next().unwrap_or("").trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn slurm_answers() -> bool {
    Command::new("scontrol")
        .arg("ping")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).contains("UP"))
}

#[test]
fn every_example_of_the_readme_runs_as_written() {
    let lines = examples();
    assert!(lines.len() >= 10 && lines.iter().all(|line| line.starts_with("flow ")), "{lines:?}");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::new();
    copy_dir(&repo.join("workflows"), &project.join("workflows"));
    std::fs::copy(repo.join("flow.config.yaml"), project.join("flow.config.yaml")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_flow")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let slurm = slurm_answers();
    for line in &lines {
        if line.contains("--executor slurm") && !slurm {
            eprintln!("SKIPPED `{line}`: no Slurm controller answers (tests/slurm/cluster.sh start)");
            continue;
        }
        let out = Command::new("bash")
            .args(["-c", line])
            .current_dir(project.path())
            .env("PATH", &path)
            .env_remove("FLOW_STATE_DIR")
            .env_remove("FLOW_PLUGIN_PATH")
            .output()
            .expect("start bash");
        assert!(
            out.status.success(),
            "`{line}` failed ({:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
