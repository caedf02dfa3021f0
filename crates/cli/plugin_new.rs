//! `flow plugin new KIND --lang rust|python`: a node kind of your own, as a process plugin in
//! the project's `plugins/` folder, that runs as it is and is built (for Rust, by cargo) on its
//! own: flow is not rebuilt. It writes only files that do not exist yet.

use std::path::{Path, PathBuf};

use crate::args::{PluginLang, PluginNewArgs};
use crate::commands::Context;
use crate::init::write_new_files;
use crate::{CliError, out};

/// Where flow's source was built, for the Rust plugin's path dependency on the SDK crate.
const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/plugin-sdk");

pub fn plugin_new(ctx: &Context, args: &PluginNewArgs) -> Result<(), CliError> {
    let kind = &args.kind;
    let valid = !kind.is_empty()
        && kind
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if !valid {
        return Err(CliError::Usage(format!(
            "'{kind}' is not a kind name: use letters, digits, '_' and '-', parts joined by '.' (e.g. text.grep)"
        )));
    }
    let folder = kind.replace('.', "_");
    let dir = ctx.project_dir.join("plugins").join(&folder);
    let files: Vec<(PathBuf, String)> = match args.lang {
        PluginLang::Python => {
            let script = format!("{folder}.py");
            vec![
                (
                    dir.join("plugin.yaml"),
                    fill(include_str!("scaffold/python/plugin.yaml"), kind).replace("SCRIPT_NAME", &script),
                ),
                (dir.join(&script), fill(include_str!("scaffold/python/plugin.py"), kind)),
            ]
        }
        PluginLang::Rust => {
            let sdk = args.sdk.clone().unwrap_or_else(|| PathBuf::from(SDK_DIR));
            if !sdk.join("Cargo.toml").is_file() {
                return Err(CliError::Usage(format!(
                    "the plugin SDK crate is not at {} (this flow was built from a source folder that moved): \
                     give its folder with --sdk PATH (crates/plugin-sdk of flow's source)",
                    sdk.display()
                )));
            }
            let sdk = std::path::absolute(&sdk).unwrap_or(sdk);
            let crate_name = format!("flow-kind-{}", folder.replace('_', "-").to_lowercase());
            vec![
                (dir.join("plugin.yaml"), fill(include_str!("scaffold/rust/plugin.yaml"), kind)),
                (
                    dir.join("Cargo.toml"),
                    include_str!("scaffold/rust/Cargo.toml")
                        .replace("CRATE_NAME", &crate_name)
                        .replace("SDK_PATH", &toml_string(&sdk)),
                ),
                (dir.join("src/main.rs"), fill(include_str!("scaffold/rust/src/main.rs"), kind)),
                (dir.join(".gitignore"), include_str!("scaffold/rust/gitignore").to_string()),
            ]
        }
    };
    write_new_files(&files, "flow plugin new", "pick another kind name")?;
    if ctx.quiet {
        return Ok(());
    }
    let shown = dir.strip_prefix(&ctx.project_dir).unwrap_or(&dir).display().to_string();
    let build = match args.lang {
        PluginLang::Rust => format!("  cargo build --release --manifest-path {shown}/Cargo.toml   # its first build\n"),
        PluginLang::Python => String::new(),
    };
    out(&format!(
        "created kind '{kind}' in {shown}/ (see `flow nodes {kind}`)\nnext:\n{build}  use it in a workflow:\n    \
         count:\n      uses: {kind}\n      in: {{ text: file:notes.txt }}\n      with: {{ word: TODO }}\n"
    ));
    Ok(())
}

fn fill(template: &str, kind: &str) -> String {
    template.replace("KIND_NAME", kind)
}

/// A path as a TOML basic string's contents.
fn toml_string(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}
