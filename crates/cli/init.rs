//! `flow init`: a small project that runs as it is (a workflow with shell nodes, a CSV, a
//! process plugin in Python), to start from. It writes only files that do not exist yet.

use std::path::{Path, PathBuf};

use crate::args::InitArgs;
use crate::{CliError, out};

/// What a new project holds: path in the project, contents.
const FILES: &[(&str, &str)] = &[
    ("flow.yaml", include_str!("init/flow.yaml")),
    ("patients.csv", include_str!("init/patients.csv")),
    ("plugins/head/plugin.yaml", include_str!("init/plugins/head/plugin.yaml")),
    ("plugins/head/head.py", include_str!("init/plugins/head/head.py")),
    (".gitignore", include_str!("init/gitignore")),
];

/// Writes every file, creating folders, or none: if any exists (a half-written project would
/// be worse than an error). A file that appears meanwhile is not overwritten either.
pub(crate) fn write_new_files(files: &[(PathBuf, String)], command: &str, advice: &str) -> Result<(), CliError> {
    let taken: Vec<String> =
        files.iter().filter(|(path, _)| path.exists()).map(|(path, _)| path.display().to_string()).collect();
    if !taken.is_empty() {
        return Err(CliError::Usage(format!(
            "{command} writes only new files, and these exist: {}; {advice}",
            taken.join(", ")
        )));
    }
    for (path, text) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
            .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

pub fn init_cmd(cwd: &Path, args: &InitArgs, quiet: bool) -> Result<(), CliError> {
    let dir = if args.dir == Path::new(".") { cwd.to_path_buf() } else { cwd.join(&args.dir) };
    let files: Vec<(PathBuf, String)> = FILES.iter().map(|(rel, text)| (dir.join(rel), text.to_string())).collect();
    write_new_files(&files, "flow init", "choose an empty folder (`flow init DIR`)")?;
    if quiet {
        return Ok(());
    }
    let go = if args.dir == Path::new(".") { String::new() } else { format!("cd {} && ", args.dir.display()) };
    out(&format!(
        "created a flow project in {}: flow.yaml (a workflow), patients.csv, plugins/head (a node kind in Python)\n\
         next: {go}flow run      then: flow plan, flow log first, flow cat summary.md\n",
        dir.display()
    ));
    Ok(())
}
