//! `shell`: run a command with declared inputs and outputs, like a Snakemake rule.
//!
//! ```yaml
//! sort:
//!   uses: shell
//!   in: { data: file:raw.txt }
//!   with:
//!     run: sort {in.data} > {out.sorted}
//!     outputs: { sorted: file }
//! ```
//! `{in.NAME}` expands to the (shell-quoted) path of each artifact bound to input NAME,
//! `{out.NAME}` to where output NAME must be written (a dir output already exists),
//! `{threads}` to the node's thread count, `{scratch}` to a scratch directory and, in a node
//! that maps over an input (`map:`), `{item.id}` to the item's id, shell-quoted: an id is data,
//! never code. Other braces
//! are left alone, so `awk '{print $1}'` works as written. The command runs under
//! bash with `set -euo pipefail` (Snakemake's strict mode) in the project directory,
//! in its own process group: when the command exits, whatever it left running (`cmd &`) is
//! killed before its outputs are stored, and cancelling kills everything it started. Files the
//! command reads without declaring them under `in:` are not tracked by the cache.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    scalar_strings, typed_params,
};
use flow_engine::process::{NodeProcess, SpawnError, shell_quote as quote};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct Shell;

/// Longer commands go to bash through a file: the kernel refuses an argument of 128 KiB.
const MAX_INLINE_SCRIPT: usize = 64 * 1024;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ShellParams {
    run: String,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "scalar_strings")]
    env: BTreeMap<String, String>,
}

impl NodeKind for Shell {
    fn name(&self) -> &str {
        "shell"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn shell_params(&self) -> &[&str] {
        &["run"]
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "Run a bash command with declared input and output files".into(),
            inputs: Inputs::Open(PortType::ANY),
            outputs: Outputs::FromParams(
                "declared under `outputs:` as NAME: file | dir | file:FORMAT | dir:FORMAT".into(),
            ),
            params: vec![
                ParamDoc::required("run", "string", "the command; {in.X}, {out.X}, {threads}, {scratch} are expanded"),
                ParamDoc::optional("outputs", "map", "{}", "output name -> type (file, dir, file:FORMAT)"),
                ParamDoc::optional("env", "map", "{}", "extra environment variables for the command"),
            ],
        }
    }

    fn item_fields(&self, params: &Value) -> Vec<String> {
        let Some(command) = params.get("run").and_then(Value::as_str) else { return Vec::new() };
        let mut fields: Vec<String> = placeholders(command)
            .into_iter()
            .filter_map(|p| match p {
                Placeholder::Item(field) => Some(field.to_string()),
                _ => None,
            })
            .collect();
        fields.dedup();
        fields
    }

    fn configure(&self, params: &Value, bound_inputs: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<ShellParams>(params)?;
        for (key, value) in &typed.env {
            if let Some(problem) = env_key_problem(key) {
                return Err(ParamError::new(
                    Some("env"),
                    format!("environment variable name {key:?} {problem}: use letters, digits and '_'"),
                ));
            }
            if value.contains('\0') {
                return Err(ParamError::new(
                    Some("env"),
                    format!(
                        "the value of environment variable {key} contains a NUL byte, which no environment can hold"
                    ),
                ));
            }
        }
        let mut outputs = Vec::new();
        for (name, ty) in &typed.outputs {
            if !is_port_name(name) {
                return Err(ParamError::new(
                    Some("outputs"),
                    format!("bad output name '{name}': use letters, digits and '_'"),
                ));
            }
            let Some(port_type) = PortType::parse(ty).filter(|t| t.shape.is_some()) else {
                return Err(ParamError::new(
                    Some("outputs"),
                    format!("output '{name}' has type '{ty}': use file, dir, file:FORMAT or dir:FORMAT"),
                ));
            };
            outputs.push(PortSpec::new(name, port_type, ""));
        }
        for reference in placeholders(&typed.run) {
            let known = match reference {
                Placeholder::In(port) => bound_inputs.contains(&port),
                Placeholder::Out(port) => typed.outputs.contains_key(port),
                Placeholder::Threads | Placeholder::Scratch | Placeholder::Item(_) => true,
            };
            if !known {
                let (what, list) = match reference {
                    Placeholder::In(port) => (format!("{{in.{port}}}"), bound_inputs.join(", ")),
                    Placeholder::Out(port) => {
                        (format!("{{out.{port}}}"), typed.outputs.keys().cloned().collect::<Vec<_>>().join(", "))
                    }
                    _ => unreachable!("threads and scratch are always known"),
                };
                let list = if list.is_empty() { "none".to_string() } else { list };
                return Err(ParamError::new(
                    Some("run"),
                    format!("the command uses {what}, which is not declared (declared: {list})"),
                ));
            }
        }
        Ok(Configured { params: canonical, inputs: Inputs::Open(PortType::ANY), outputs })
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: ShellParams = ctx.params()?;
        let script = expand(&params.run, ctx)?;
        let log = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(ctx.log_path)
            .map_err(|e| NodeError::io(format!("open log {}", ctx.log_path.display()), e))?;
        let mut header = log.try_clone().map_err(|e| NodeError::io("log", e))?;
        header
            .write_all(format!("$ {}\n", abbreviate(&script, 2000)).as_bytes())
            .map_err(|e| NodeError::io("write log", e))?;
        let mut command = Command::new("bash");
        command.args(["-euo", "pipefail"]);
        // Linux caps one argument at 128 KiB: a fan-in of thousands of store paths goes
        // through a file. Shorter scripts do not, which spares a file per node.
        if script.len() < MAX_INLINE_SCRIPT {
            command.arg("-c").arg(&script).arg(ctx.node);
        } else {
            let script_path = ctx.scratch_dir.join(".flow-command.sh");
            std::fs::write(&script_path, format!("{script}\n"))
                .map_err(|e| NodeError::io(format!("write {}", script_path.display()), e))?;
            command.arg(&script_path);
        }
        let stderr = log.try_clone().map_err(|e| NodeError::io("log", e))?;
        command
            .current_dir(ctx.project_dir)
            .envs(&params.env)
            .env("FLOW_NODE", ctx.node)
            .env("FLOW_THREADS", ctx.threads.to_string())
            .env("FLOW_SCRATCH", ctx.scratch_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        let child = NodeProcess::spawn(&mut command, ctx).map_err(|e| match e {
            SpawnError::Start(e) => NodeError::io("start bash", e),
            record => NodeError::from(record),
        })?;
        // Returns once nothing the command started is left running.
        let status = child.wait().map_err(|e| NodeError::io("wait for command", e))?;
        if ctx.cancel.is_cancelled() {
            return Err(NodeError::Cancelled);
        }
        if status.success() {
            Ok(())
        } else if let Some(code) = status.code() {
            Err(NodeError::Failed(format!("command exited with status {code}")))
        } else {
            Err(NodeError::Failed(format!("command killed by signal {}", status.signal().unwrap_or(0))))
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Placeholder<'a> {
    In(&'a str),
    Out(&'a str),
    Threads,
    Scratch,
    /// `{item.id}`, or `{item.COLUMN}` of a samplesheet row.
    Item(&'a str),
}

/// Each recognised `{...}` in a command with its byte range; other braces are not ours.
fn placeholders_with_spans(command: &str) -> Vec<(usize, usize, Placeholder<'_>)> {
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(open) = command[start..].find('{').map(|i| i + start) {
        let Some(close) = command[open..].find('}').map(|i| i + open) else { break };
        let inner = &command[open + 1..close];
        let placeholder = if let Some(port) = inner.strip_prefix("in.") {
            is_port_name(port).then_some(Placeholder::In(port))
        } else if let Some(port) = inner.strip_prefix("out.") {
            is_port_name(port).then_some(Placeholder::Out(port))
        } else if inner == "threads" {
            Some(Placeholder::Threads)
        } else if inner == "scratch" {
            Some(Placeholder::Scratch)
        } else if let Some(field) = inner.strip_prefix("item.") {
            is_port_name(field).then_some(Placeholder::Item(field))
        } else {
            None
        };
        match placeholder {
            Some(p) => {
                found.push((open, close + 1, p));
                start = close + 1;
            }
            None => start = open + 1,
        }
    }
    found
}

fn placeholders(command: &str) -> Vec<Placeholder<'_>> {
    placeholders_with_spans(command).into_iter().map(|(_, _, p)| p).collect()
}

fn expand(command: &str, ctx: &NodeContext<'_>) -> Result<String, NodeError> {
    let mut out = String::with_capacity(command.len() + 64);
    let mut last = 0;
    for (start, end, placeholder) in placeholders_with_spans(command) {
        out.push_str(&command[last..start]);
        match placeholder {
            Placeholder::In(port) => {
                let paths =
                    ctx.inputs.get(port).ok_or_else(|| NodeError::Failed(format!("input '{port}' is not bound")))?;
                let quoted: Vec<String> = paths.iter().map(|p| quote(&p.to_string_lossy())).collect();
                out.push_str(&quoted.join(" "));
            }
            Placeholder::Out(port) => out.push_str(&quote(&ctx.output(port)?.to_string_lossy())),
            Placeholder::Threads => out.push_str(&ctx.threads.to_string()),
            Placeholder::Scratch => out.push_str(&quote(&ctx.scratch_dir.to_string_lossy())),
            Placeholder::Item(field) => {
                let Some(item) = ctx.item else {
                    return Err(NodeError::BadInput(format!(
                        "node '{}': the command uses {{item.{field}}}, which exists only in a node that maps over \
                         an input; add `map: PORT` to the node",
                        ctx.node
                    )));
                };
                let value = match (field, item.fields.get(field)) {
                    ("id", _) => &item.id,
                    (_, Some(value)) => value,
                    (_, None) => {
                        let columns: Vec<&str> = item.fields.keys().map(String::as_str).collect();
                        return Err(NodeError::BadInput(format!(
                            "node '{}': the command uses {{item.{field}}}, but {}",
                            ctx.node,
                            if columns.is_empty() {
                                "only a samplesheet row has fields besides {item.id}".to_string()
                            } else {
                                format!(
                                    "the samplesheet has no column '{field}'; its columns are: {}",
                                    columns.join(", ")
                                )
                            }
                        )));
                    }
                };
                out.push_str(&quote(value));
            }
        }
        last = end;
    }
    out.push_str(&command[last..]);
    Ok(out)
}

/// The first `max` characters of a long text, saying how much was left out.
fn abbreviate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… ({} more characters)", &text[..cut], text[cut..].chars().count()),
        None => text.to_string(),
    }
}

/// What makes `key` unusable as an environment variable name, if anything: the environment is
/// a list of `NAME=value` C strings, so a name cannot be empty or hold '=' or NUL.
fn env_key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("is empty")
    } else if key.contains('=') {
        Some("contains '='")
    } else if key.contains('\0') {
        Some("contains a NUL byte")
    } else {
        None
    }
}

fn is_port_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_only_our_placeholders() {
        let found = placeholders("awk '{print $1}' {in.data} > {out.table} -t {threads} {in.bad name}");
        assert_eq!(found, vec![Placeholder::In("data"), Placeholder::Out("table"), Placeholder::Threads]);
    }

    #[test]
    fn long_commands_are_abbreviated_in_logs() {
        assert_eq!(abbreviate("short", 10), "short");
        assert_eq!(abbreviate("abcdef", 3), "abc… (3 more characters)");
    }

    #[test]
    fn quoting_is_safe_for_bash() {
        assert_eq!(quote("/a/b.txt"), "/a/b.txt");
        assert_eq!(quote("/a b/it's"), "'/a b/it'\\''s'");
    }

    #[test]
    fn configure_checks_declared_ports() {
        let ok =
            Shell.configure(&json!({"run": "cat {in.x} > {out.y}", "outputs": {"y": "file:csv"}}), &["x"]).unwrap();
        assert_eq!(ok.outputs[0].ty, PortType::file("csv"));
        let err =
            Shell.configure(&json!({"run": "cat {in.z} > {out.y}", "outputs": {"y": "file"}}), &["x"]).err().unwrap();
        assert!(err.message.contains("{in.z}"), "{}", err.message);
        let err = Shell.configure(&json!({"run": "true", "outputs": {"y": "blob"}}), &[]).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("outputs"));
        let err = Shell.configure(&json!({"run": "true", "output": {}}), &[]).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("output"));
    }

    #[test]
    fn configure_rejects_env_names_no_environment_can_hold() {
        for (key, problem) in [("A=B", "contains '='"), ("A\0B", "NUL"), ("", "is empty")] {
            let err = Shell.configure(&json!({"run": "true", "env": {key: "1"}}), &[]).err().unwrap();
            assert_eq!(err.field.as_deref(), Some("env"), "{key:?}");
            assert!(err.message.contains(problem), "{key:?}: {}", err.message);
        }
        let err = Shell.configure(&json!({"run": "true", "env": {"A": "x\0y"}}), &[]).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("env"));
        assert!(err.message.contains("NUL"), "{}", err.message);
        assert!(Shell.configure(&json!({"run": "true", "env": {"LC_ALL": "C", "x1": "a=b"}}), &[]).is_ok());
    }
}
