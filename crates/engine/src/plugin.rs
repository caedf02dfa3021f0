//! Process plugins: node kinds in any language, each a folder with a `plugin.yaml` manifest and
//! a command that flow runs with a JSON request (docs/plugins.md).
//!
//! A plugin kind is cached and scheduled like a built-in one: its params are checked against
//! the manifest's schema at load time, and the digest of its whole folder is its code digest,
//! part of every action key, so editing the script reruns exactly the nodes that use it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, Diagnostics, Pos, suggestion};
use crate::digest::{Digest, digest_path};
use crate::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    Registry,
};
use crate::process::{NodeProcess, SpawnError};
use crate::yaml::{self, Spanned, pos};

/// The manifest's file name inside a plugin folder.
pub const MANIFEST: &str = "plugin.yaml";

/// The environment variable listing more plugin folders, `:`-separated.
pub const PATH_VAR: &str = "FLOW_PLUGIN_PATH";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    kind: Spanned<String>,
    version: Spanned<Value>,
    #[serde(default)]
    summary: String,
    command: Spanned<Vec<String>>,
    #[serde(default)]
    inputs: IndexMap<Spanned<String>, Spanned<RawPort>>,
    #[serde(default)]
    outputs: IndexMap<Spanned<String>, Spanned<RawPort>>,
    #[serde(default)]
    params: IndexMap<Spanned<String>, Spanned<RawParam>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    many: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    doc: String,
}

/// A param's type in the manifest's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParamType {
    String,
    Integer,
    Number,
    Bool,
    List,
}

impl ParamType {
    const NAMES: [&'static str; 5] = ["string", "integer", "number", "bool", "list"];

    fn parse(name: &str) -> Option<ParamType> {
        Some(match name {
            "string" => ParamType::String,
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "bool" => ParamType::Bool,
            "list" => ParamType::List,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            ParamType::String => value.is_string(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::Number => value.is_number(),
            ParamType::Bool => value.is_boolean(),
            ParamType::List => value.is_array(),
        }
    }
}

#[derive(Debug, Clone)]
struct ParamSpec {
    ty: ParamType,
    default: Option<Value>,
    doc: String,
}

/// A node kind backed by a plugin folder.
pub struct ProcessKind {
    name: String,
    version: String,
    dir: PathBuf,
    command: Vec<String>,
    info: KindInfo,
    params: BTreeMap<String, ParamSpec>,
    code: Digest,
}

/// The folders searched for plugins, in order: `plugins/` beside the workflow, `plugins/` in
/// the project directory, the workflow's own `plugins:` list (relative to the workflow), and
/// `FLOW_PLUGIN_PATH`.
pub fn search_path(workflow: &Path, project_dir: &Path, listed: &[PathBuf]) -> Vec<PathBuf> {
    let base = workflow.parent().unwrap_or(Path::new("."));
    let mut dirs = vec![base.join("plugins"), project_dir.join("plugins")];
    dirs.extend(listed.iter().map(|p| base.join(p)));
    if let Some(var) = std::env::var_os(PATH_VAR) {
        dirs.extend(std::env::split_paths(&var).filter(|p| !p.as_os_str().is_empty()));
    }
    let mut seen = Vec::new();
    for dir in dirs {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if !seen.iter().any(|(k, _): &(PathBuf, PathBuf)| *k == key) {
            seen.push((key, dir));
        }
    }
    seen.into_iter().map(|(_, dir)| dir).collect()
}

/// Every plugin in `dirs`: a folder holding `plugin.yaml` is a plugin; any other folder is
/// searched one level down. Folders that do not exist are skipped. All manifest errors are
/// collected, with the manifest's file, line and column.
pub fn discover(dirs: &[PathBuf]) -> Result<Vec<Arc<ProcessKind>>, Diagnostics> {
    let mut found: Vec<Arc<ProcessKind>> = Vec::new();
    let mut diags = Vec::new();
    for dir in dirs {
        let mut candidates = Vec::new();
        if dir.join(MANIFEST).is_file() {
            candidates.push(dir.clone());
        } else if let Ok(entries) = std::fs::read_dir(dir) {
            let mut subdirs: Vec<PathBuf> =
                entries.flatten().map(|e| e.path()).filter(|p| p.join(MANIFEST).is_file()).collect();
            subdirs.sort();
            candidates.extend(subdirs);
        }
        for plugin_dir in candidates {
            match ProcessKind::load(&plugin_dir) {
                Ok(kind) => match found.iter().find(|k| k.name == kind.name) {
                    Some(first) => diags.push(Diagnostic::new(
                        &plugin_dir.join(MANIFEST),
                        Pos::new(1, 1),
                        format!(
                            "plugin kind '{}' is also defined by {}: rename one of them",
                            kind.name,
                            first.dir.join(MANIFEST).display()
                        ),
                    )),
                    None => found.push(Arc::new(kind)),
                },
                Err(mut errors) => diags.append(&mut errors.0),
            }
        }
    }
    if diags.is_empty() { Ok(found) } else { Err(Diagnostics(diags)) }
}

/// `registry` plus the plugins; a plugin may not take a built-in kind's name.
pub fn extend(registry: &Registry, plugins: Vec<Arc<ProcessKind>>) -> Result<Registry, Diagnostics> {
    let mut extended = registry.clone();
    let mut diags = Vec::new();
    for plugin in plugins {
        if registry.get(&plugin.name).is_some() {
            diags.push(Diagnostic::new(
                &plugin.dir.join(MANIFEST),
                Pos::new(1, 1),
                format!("plugin kind '{}' has the name of a built-in kind: choose another name", plugin.name),
            ));
        } else {
            extended.register(plugin);
        }
    }
    if diags.is_empty() { Ok(extended) } else { Err(Diagnostics(diags)) }
}

fn is_kind_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

impl ProcessKind {
    /// Reads and checks one plugin folder's manifest.
    pub fn load(dir: &Path) -> Result<ProcessKind, Diagnostics> {
        // The command runs in a scratch folder: every path to the plugin must be absolute.
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let dir = absolute.as_path();
        let file = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Diagnostic::new(&file, Pos::UNKNOWN, format!("cannot read the plugin manifest: {e}")))?;
        let raw: RawManifest = yaml::parse(&text, &file)?;
        let mut diags = Vec::new();
        let mut error = |at: Pos, message: String| diags.push(Diagnostic::new(&file, at, message));

        let name = raw.kind.value.clone();
        if !is_kind_name(&name) {
            error(
                pos(&raw.kind),
                format!("bad kind name '{name}': use letters, digits, '_' and '-', parts joined by '.'"),
            );
        }
        let version = match &raw.version.value {
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                error(pos(&raw.version), "version must be a non-empty string or number, e.g. \"1\"".into());
                String::new()
            }
        };
        if raw.command.value.is_empty() {
            error(
                pos(&raw.command),
                "command is empty: give the program and its arguments, e.g. [python3, run.py]".into(),
            );
        }

        let mut ports = |raw_ports: &IndexMap<Spanned<String>, Spanned<RawPort>>, inputs: bool| -> Vec<PortSpec> {
            let mut specs = Vec::new();
            for (port_name, port) in raw_ports {
                let Some(ty) = PortType::parse(&port.value.ty.value) else {
                    error(
                        pos(&port.value.ty),
                        format!(
                            "port '{}': unknown type '{}' (write file, dir, file:FORMAT or dir:FORMAT)",
                            port_name.value, port.value.ty.value
                        ),
                    );
                    continue;
                };
                let mut spec = PortSpec::new(&port_name.value, ty, &port.value.doc);
                if inputs && port.value.optional {
                    spec = spec.optional();
                }
                if inputs && port.value.many {
                    spec = spec.many();
                }
                if !inputs && (port.value.optional || port.value.many) {
                    error(
                        pos(port_name),
                        format!("output '{}': `optional` and `many` are for inputs", port_name.value),
                    );
                }
                specs.push(spec);
            }
            specs
        };
        let inputs = ports(&raw.inputs, true);
        let outputs = ports(&raw.outputs, false);
        if outputs.is_empty() {
            error(pos(&raw.kind), "the plugin declares no outputs: add at least one under `outputs:`".into());
        }

        let mut params = BTreeMap::new();
        for (param_name, param) in &raw.params {
            let Some(ty) = ParamType::parse(&param.value.ty.value) else {
                error(
                    pos(&param.value.ty),
                    format!(
                        "param '{}': unknown type '{}'{}; the types are {}",
                        param_name.value,
                        param.value.ty.value,
                        suggestion(&param.value.ty.value, ParamType::NAMES),
                        ParamType::NAMES.join(", ")
                    ),
                );
                continue;
            };
            if let Some(default) = &param.value.default
                && !ty.accepts(default)
            {
                error(
                    pos(param_name),
                    format!("param '{}': the default {default} is not a {}", param_name.value, ty.name()),
                );
            }
            params.insert(
                param_name.value.clone(),
                ParamSpec { ty, default: param.value.default.clone(), doc: param.value.doc.clone() },
            );
        }
        if !diags.is_empty() {
            return Err(Diagnostics(diags));
        }
        let code = code_digest(dir)
            .map_err(|e| Diagnostic::new(&file, Pos::UNKNOWN, format!("cannot read the plugin folder: {e}")))?;
        let docs = params
            .iter()
            .map(|(n, p)| match &p.default {
                Some(default) => ParamDoc::optional(n, p.ty.name(), &default.to_string(), &p.doc),
                None => ParamDoc::required(n, p.ty.name(), &p.doc),
            })
            .collect();
        let summary = if raw.summary.is_empty() { format!("plugin in {}", dir.display()) } else { raw.summary };
        Ok(ProcessKind {
            name,
            version,
            dir: dir.to_path_buf(),
            command: raw.command.value,
            info: KindInfo { summary, inputs: Inputs::Fixed(inputs), outputs: Outputs::Fixed(outputs), params: docs },
            params,
            code,
        })
    }

    /// The plugin's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The program and arguments; an argument naming a file in the plugin folder becomes that
    /// file's absolute path, so the command works from any directory.
    fn argv(&self) -> Vec<String> {
        self.command
            .iter()
            .map(|arg| {
                let local = self.dir.join(arg);
                if !arg.starts_with('-') && local.is_file() {
                    local.to_string_lossy().into_owned()
                } else {
                    arg.clone()
                }
            })
            .collect()
    }
}

impl NodeKind for ProcessKind {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn info(&self) -> KindInfo {
        self.info.clone()
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let given = params.as_object().cloned().unwrap_or_default();
        let mut canonical = serde_json::Map::new();
        for (name, value) in &given {
            let Some(spec) = self.params.get(name) else {
                let hint = suggestion(name, self.params.keys().map(String::as_str));
                let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
                return Err(ParamError::new(
                    Some(name),
                    format!("unknown param '{name}'{hint}; {} takes: {}", self.name, known.join(", ")),
                ));
            };
            if !spec.ty.accepts(value) {
                return Err(ParamError::new(
                    Some(name),
                    format!("param '{name}' is {value}, expected a {} (plugin.yaml)", spec.ty.name()),
                ));
            }
            canonical.insert(name.clone(), value.clone());
        }
        for (name, spec) in &self.params {
            if canonical.contains_key(name) {
                continue;
            }
            match &spec.default {
                Some(default) => {
                    canonical.insert(name.clone(), default.clone());
                }
                None => {
                    return Err(ParamError::new(
                        None,
                        format!("missing param '{name}' ({}): {} requires it", spec.ty.name(), self.name),
                    ));
                }
            }
        }
        Ok(self.info().configured(Value::Object(canonical)))
    }

    fn code_digest(&self) -> Option<Digest> {
        Some(self.code)
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let request = json!({
            "protocol": 1,
            "kind": self.name,
            "node": ctx.node,
            "params": ctx.params,
            "inputs": ctx.inputs,
            "outputs": ctx.outputs,
            "threads": ctx.threads,
            "scratch": ctx.scratch_dir,
            "plugin_dir": self.dir,
        });
        let request_path = ctx.scratch_dir.join("request.json");
        let text = serde_json::to_string_pretty(&request).map_err(|e| NodeError::Failed(format!("request: {e}")))?;
        std::fs::write(&request_path, &text)
            .map_err(|e| NodeError::io(format!("write {}", request_path.display()), e))?;

        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(ctx.log_path)
            .map_err(|e| NodeError::io(format!("open log {}", ctx.log_path.display()), e))?;
        let argv = self.argv();
        writeln!(&log, "$ {}", argv.join(" ")).map_err(|e| NodeError::io("write log", e))?;
        let stdout = log.try_clone().map_err(|e| NodeError::io("log", e))?;
        let stderr_path = ctx.scratch_dir.join("stderr.txt");
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| NodeError::io("stderr file", e))?;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(ctx.scratch_dir)
            .env("FLOW_REQUEST", &request_path)
            .env("FLOW_PLUGIN_DIR", &self.dir)
            .env("FLOW_THREADS", ctx.threads.to_string())
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr);
        let mut child = NodeProcess::spawn(&mut command, ctx).map_err(|e| match e {
            SpawnError::Start(e) => NodeError::Failed(if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "plugin {}: command `{}` not found; install it or fix `command:` in {}",
                    self.name,
                    argv[0],
                    self.dir.join(MANIFEST).display()
                )
            } else {
                format!("plugin {}: cannot start `{}`: {e}", self.name, argv[0])
            }),
            record => NodeError::from(record),
        })?;
        if let Some(mut stdin) = child.take_stdin() {
            // A plugin that reads the request from FLOW_REQUEST may close stdin early.
            let _ = stdin.write_all(text.as_bytes());
        }
        let status = child.wait().map_err(|e| NodeError::io("wait for the plugin", e))?;
        let mut captured = String::new();
        let _ = std::fs::File::open(&stderr_path).and_then(|mut f| f.read_to_string(&mut captured));
        let _ = (&log).write_all(captured.as_bytes());
        if ctx.cancel.is_cancelled() {
            return Err(NodeError::Cancelled);
        }
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => format!("was killed by signal {}", status.signal().unwrap_or(0)),
            };
            let tail: Vec<&str> = captured.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
            let tail = if tail.is_empty() { "(no stderr)".to_string() } else { tail.join("\n  | ") };
            return Err(NodeError::Failed(format!("plugin {} {how}; stderr:\n  | {tail}", self.name)));
        }
        for port in &self.info.outputs_fixed() {
            check_output(&self.name, port, ctx.output(&port.name)?)?;
        }
        Ok(())
    }
}

/// The digest of the plugin's files: relative paths and contents, sorted. Hidden files,
/// Python's byte-code caches and a Rust plugin's `target/` are left out: a build or an
/// interpreter writing them must not make every run look like a code change.
fn code_digest(dir: &Path) -> std::io::Result<Digest> {
    fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, Digest)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc") {
                continue;
            }
            // A Rust plugin's build output: its sources are what the digest must follow.
            if name == "target" && dir.join("Cargo.toml").is_file() {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                collect(&path, root, out)?;
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                out.push((relative, digest_path(&path)?.1));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut listing = String::new();
    for (path, digest) in &files {
        listing.push_str(&format!("{}\t{path}\n", digest.to_hex()));
    }
    Ok(Digest::of_bytes(listing.as_bytes()))
}

/// A declared output must exist with the declared shape, and a known format must look like it.
fn check_output(kind: &str, port: &PortSpec, path: &Path) -> Result<(), NodeError> {
    use crate::digest::Shape;
    let failed = |msg: String| NodeError::Failed(format!("plugin {kind}: output '{}' {msg}", port.name));
    let meta =
        std::fs::metadata(path).map_err(|_| failed(format!("was not written (expected at {})", path.display())))?;
    match port.ty.shape {
        Some(Shape::File) if !meta.is_file() => {
            return Err(failed("is a directory, but the manifest says file".into()));
        }
        Some(Shape::Dir) if !meta.is_dir() => return Err(failed("is a file, but the manifest says dir".into())),
        _ => {}
    }
    if !meta.is_file() {
        return Ok(());
    }
    let head = |n: usize| -> Vec<u8> {
        let mut buf = vec![0u8; n];
        let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)).unwrap_or(0);
        buf.truncate(read);
        buf
    };
    match port.ty.format.as_deref() {
        Some("parquet") if head(4) != b"PAR1" => Err(failed("is not a Parquet file (no PAR1 magic)".into())),
        Some("json") => {
            let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
            serde_json::from_str::<Value>(&text).map(|_| ()).map_err(|e| failed(format!("is not JSON: {e}")))
        }
        Some("csv" | "tsv" | "txt") => {
            let bytes = std::fs::read(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
            std::str::from_utf8(&bytes).map(|_| ()).map_err(|_| failed("is not UTF-8 text".into()))
        }
        _ => Ok(()),
    }
}
