//! Finding the project and its workflow from wherever the user stands, as git and cargo do:
//! the project is the nearest folder, from the current one upwards, that holds flow's state
//! (`.flow/`), its settings (`flow.config.yaml`) or a default workflow (`flow.yaml`).

use std::path::{Path, PathBuf};

use flow_engine::diagnostic::did_you_mean;
use flow_engine::workflow::cluster::PROJECT_CONFIG;

use crate::CliError;

/// The workflow `flow run` uses when given none, unless `flow.config.yaml` names another.
pub const DEFAULT_WORKFLOW: &str = "flow.yaml";

/// Where workflows are looked for when a name is not a path from the current folder.
const WORKFLOW_FOLDERS: &[&str] = &[".", "workflows"];

/// The nearest folder from `start` upwards that is a flow project; `start` itself if none is.
pub fn find_root(start: &Path) -> PathBuf {
    let is_root = |dir: &Path| {
        dir.join(".flow").is_dir() || dir.join(PROJECT_CONFIG).is_file() || dir.join(DEFAULT_WORKFLOW).is_file()
    };
    start.ancestors().find(|dir| is_root(dir)).unwrap_or(start).to_path_buf()
}

/// How the workflow file was found, for the user to see when it was not typed out.
pub enum Found {
    /// The path given, from the current folder.
    AsGiven(PathBuf),
    /// A name found in the project (`multimodal.yaml` for `workflows/multimodal.yaml`).
    InProject(PathBuf),
    /// No file given: the project's default.
    Default(PathBuf),
}

impl Found {
    pub fn path(&self) -> &Path {
        match self {
            Found::AsGiven(path) | Found::InProject(path) | Found::Default(path) => path,
        }
    }
}

/// The workflow file meant by `given` (or the default), from `cwd` in the project at `root`.
/// `default` is what `flow.config.yaml` names, relative to the project.
pub fn workflow_file(root: &Path, cwd: &Path, given: Option<&Path>, default: Option<&Path>) -> Result<Found, CliError> {
    let Some(given) = given else {
        let path = root.join(default.unwrap_or(Path::new(DEFAULT_WORKFLOW)));
        if path.is_file() {
            return Ok(Found::Default(path));
        }
        return Err(CliError::Usage(format!(
            "no workflow given and the project ({}) has no {}: name one (`flow run workflows/x.yaml`){}",
            root.display(),
            path.strip_prefix(root).unwrap_or(&path).display(),
            listing(root)
        )));
    };
    // As typed: messages then name the file the way the user wrote it.
    if cwd.join(given).is_file() || given.is_absolute() {
        return Ok(Found::AsGiven(given.to_path_buf()));
    }
    let mut names = vec![given.to_path_buf()];
    if given.extension().is_none() {
        names.push(given.with_extension("yaml"));
        names.push(given.with_extension("yml"));
    }
    for folder in WORKFLOW_FOLDERS {
        for name in &names {
            let candidate = root.join(folder).join(name);
            if candidate.is_file() {
                return Ok(Found::InProject(candidate));
            }
        }
    }
    // Near misses by file name: the folder is what the lookup above supplies.
    let known = workflows(root);
    let names: Vec<String> =
        known.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    let typed_name = given.file_name().unwrap_or_default().to_string_lossy();
    let hint = match did_you_mean(&typed_name, names.iter().map(String::as_str)) {
        Some(near) => {
            let index = names.iter().position(|n| n == near).unwrap_or(0);
            format!(" (did you mean '{}'?)", display(root, &known[index]))
        }
        None => String::new(),
    };
    Err(CliError::Usage(format!(
        "cannot find workflow '{}' from {} nor in the project {}{hint}{}",
        given.display(),
        cwd.display(),
        root.display(),
        listing(root)
    )))
}

/// Does `word` look like a workflow file rather than a node name?
pub fn looks_like_file(word: &Path) -> bool {
    word.components().count() > 1 || matches!(word.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn workflows(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in WORKFLOW_FOLDERS {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
            if yaml && path.file_name().is_some_and(|n| n != PROJECT_CONFIG) && path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// "; the project has: a.yaml, workflows/b.yaml", or nothing.
fn listing(root: &Path) -> String {
    let found = workflows(root);
    if found.is_empty() {
        return String::new();
    }
    let names: Vec<String> = found.iter().map(|p| display(root, p)).collect();
    format!("; the project has: {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_nearest_folder_with_state_settings_or_a_default_workflow() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        let deep = root.join("workflows/sub");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_root(&deep), deep, "no project anywhere: where the user stands");
        std::fs::write(root.join(PROJECT_CONFIG), "cluster: {}\n").unwrap();
        assert_eq!(find_root(&deep), root);
        std::fs::create_dir(root.join("workflows/.flow")).unwrap();
        assert_eq!(find_root(&deep), root.join("workflows"), "the nearest wins");
    }

    #[test]
    fn a_workflow_name_is_found_in_the_project_as_typed_from_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("workflows")).unwrap();
        std::fs::write(root.join("workflows/multimodal.yaml"), "").unwrap();
        let inside = root.join("workflows");
        let found = |cwd: &Path, given: &str| workflow_file(root, cwd, Some(Path::new(given)), None);
        assert!(
            matches!(found(root, "multimodal.yaml").unwrap(), Found::InProject(p) if p == inside.join("multimodal.yaml"))
        );
        assert!(matches!(found(root, "multimodal").unwrap(), Found::InProject(_)));
        assert!(matches!(found(&inside, "multimodal.yaml").unwrap(), Found::AsGiven(_)));
        let Err(CliError::Usage(message)) = found(root, "multimodl.yaml") else { panic!("found a missing file") };
        assert!(message.contains("did you mean 'workflows/multimodal.yaml'"), "{message}");
        let Err(CliError::Usage(message)) = workflow_file(root, root, None, None) else { panic!() };
        assert!(message.contains("has no flow.yaml") && message.contains("workflows/multimodal.yaml"), "{message}");
        std::fs::write(root.join(DEFAULT_WORKFLOW), "").unwrap();
        assert!(matches!(workflow_file(root, &inside, None, None).unwrap(), Found::Default(_)));
    }
}
