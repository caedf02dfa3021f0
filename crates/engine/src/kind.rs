//! Node kinds: the one trait every built-in and every plugin implements, and the registry.
//!
//! A kind declares its ports and parameters, turns a node's `with:` mapping into canonical
//! parameters (`configure`, run at load time so bad params fail before anything runs), and
//! does the work (`run`, called on a blocking thread with inputs as read-only paths and an
//! empty place for each output).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cancel::CancelToken;
use crate::diagnostic::suggestion;
use crate::digest::{Digest, Shape};

/// What an artifact flowing through a port is: its shape, and optionally a format name
/// (`file:parquet`). `any` accepts both shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortType {
    pub shape: Option<Shape>,
    pub format: Option<String>,
}

impl PortType {
    pub const ANY: PortType = PortType { shape: None, format: None };
    pub const FILE: PortType = PortType { shape: Some(Shape::File), format: None };
    pub const DIR: PortType = PortType { shape: Some(Shape::Dir), format: None };

    pub fn file(format: &str) -> PortType {
        PortType { shape: Some(Shape::File), format: Some(format.to_string()) }
    }

    pub fn dir(format: &str) -> PortType {
        PortType { shape: Some(Shape::Dir), format: Some(format.to_string()) }
    }

    /// Parses `file`, `dir`, `any`, `file:FORMAT` or `dir:FORMAT`.
    pub fn parse(text: &str) -> Option<PortType> {
        let (shape, format) = match text.split_once(':') {
            Some((shape, format)) if !format.is_empty() => (shape, Some(format.to_string())),
            Some(_) => return None,
            None => (text, None),
        };
        let shape = match shape {
            "file" => Some(Shape::File),
            "dir" => Some(Shape::Dir),
            "any" if format.is_none() => None,
            _ => return None,
        };
        Some(PortType { shape, format })
    }

    /// Whether an artifact of type `self` may feed a port of type `wanted`.
    pub fn fits(&self, wanted: &PortType) -> bool {
        let shapes = match (self.shape, wanted.shape) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let formats = match (&self.format, &wanted.format) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        shapes && formats
    }
}

impl fmt::Display for PortType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = self.shape.map(Shape::name).unwrap_or("any");
        match &self.format {
            Some(format) => write!(f, "{shape}:{format}"),
            None => f.write_str(shape),
        }
    }
}

/// One input or output of a kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub name: String,
    pub ty: PortType,
    pub doc: String,
    /// Inputs only: a node must bind this port.
    pub required: bool,
    /// Inputs only: the port takes a list of artifacts (a fan-in).
    pub many: bool,
    /// Outputs only: a short text (a results table) that `flow run` prints after its summary,
    /// whether the node ran or was answered from the cache.
    pub shown: bool,
}

impl PortSpec {
    pub fn new(name: &str, ty: PortType, doc: &str) -> PortSpec {
        PortSpec { name: name.to_string(), ty, doc: doc.to_string(), required: true, many: false, shown: false }
    }

    pub fn shown(mut self) -> PortSpec {
        self.shown = true;
        self
    }

    pub fn optional(mut self) -> PortSpec {
        self.required = false;
        self
    }

    pub fn many(mut self) -> PortSpec {
        self.many = true;
        self
    }
}

/// The inputs a kind accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inputs {
    /// Exactly these ports.
    Fixed(Vec<PortSpec>),
    /// Any port names, each taking one or many artifacts of this type (the `shell` kind).
    Open(PortType),
}

/// The outputs a kind produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outputs {
    Fixed(Vec<PortSpec>),
    /// Declared by each node in its params; the text says how.
    FromParams(String),
}

/// One parameter, for `flow nodes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParamDoc {
    pub name: String,
    pub ty: String,
    /// `None` when the parameter is required.
    pub default: Option<String>,
    pub doc: String,
}

impl ParamDoc {
    pub fn required(name: &str, ty: &str, doc: &str) -> ParamDoc {
        ParamDoc { name: name.into(), ty: ty.into(), default: None, doc: doc.into() }
    }

    pub fn optional(name: &str, ty: &str, default: &str, doc: &str) -> ParamDoc {
        ParamDoc { name: name.into(), ty: ty.into(), default: Some(default.into()), doc: doc.into() }
    }
}

/// Everything `flow nodes KIND` shows.
#[derive(Clone, Debug)]
pub struct KindInfo {
    pub summary: String,
    pub inputs: Inputs,
    pub outputs: Outputs,
    pub params: Vec<ParamDoc>,
}

impl KindInfo {
    /// The `Configured` of a kind whose ports do not depend on its params.
    /// The output ports of a kind whose outputs are fixed (none for dynamic outputs).
    pub fn outputs_fixed(&self) -> Vec<PortSpec> {
        match &self.outputs {
            Outputs::Fixed(ports) => ports.clone(),
            _ => Vec::new(),
        }
    }

    pub fn configured(self, params: Value) -> Configured {
        let outputs = match self.outputs {
            Outputs::Fixed(ports) => ports,
            Outputs::FromParams(_) => Vec::new(),
        };
        Configured { params, inputs: self.inputs, outputs }
    }
}

/// A node's parameters after its kind checked them.
#[derive(Clone, Debug)]
pub struct Configured {
    /// Canonical parameters: defaults filled in, so `eta: 0.1` written or defaulted keys the same.
    pub params: Value,
    pub inputs: Inputs,
    pub outputs: Vec<PortSpec>,
}

/// A bad `with:` mapping; `field` names the parameter so the loader can point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub field: Option<String>,
    pub message: String,
}

impl ParamError {
    pub fn new(field: Option<&str>, message: impl Into<String>) -> ParamError {
        ParamError { field: field.map(str::to_string), message: message.into() }
    }
}

/// Why a node's run failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0}")]
    Failed(String),
    /// An input file is malformed or unusable: the user must fix the data, not rerun. The
    /// message names the file, the field/row/header key and what is wrong. `flow run` exits 2
    /// when every failure of a run is of this kind.
    #[error("{0}")]
    BadInput(String),
    #[error("cancelled")]
    Cancelled,
    /// The node wrote into one of its input objects in the store. Never retried: the input
    /// itself is now wrong, and the next run rebuilds it.
    #[error("{0}")]
    ChangedInput(String),
    /// The store could not take the node's outputs (disk full, I/O error): not the node's
    /// fault, and `flow run` exits 4 as for any store failure.
    #[error("{0}")]
    Store(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl NodeError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> NodeError {
        NodeError::Io { context: context.into(), source }
    }

    /// Whether the fix is in the user's data rather than in the run (see [`NodeError::BadInput`]).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, NodeError::BadInput(_))
    }
}

/// What a running node sees.
pub struct NodeContext<'a> {
    pub node: &'a str,
    pub params: &'a Value,
    /// Each bound input port and the artifacts bound to it, in the order the workflow lists them.
    pub inputs: &'a BTreeMap<String, Vec<PathBuf>>,
    /// Where each output must be written: a path to create (files) or an existing empty dir.
    pub outputs: &'a BTreeMap<String, PathBuf>,
    /// Threads this node may use (its `resources.threads`, within the run's `-j`).
    pub threads: usize,
    /// The directory relative paths in the workflow resolve against.
    pub project_dir: &'a Path,
    /// Scratch space for this run of the node, removed afterwards.
    pub scratch_dir: &'a Path,
    /// The run's state directory (`.flow/`), for kinds that keep durable state beside the
    /// store, such as the feature store.
    pub state_dir: &'a Path,
    /// The node's log file (stdout/stderr of commands, messages); shown on failure.
    pub log_path: &'a Path,
    pub cancel: &'a CancelToken,
    /// The workflow's structure (every node's name, kind and upstream nodes), for kinds that
    /// describe the pipeline, such as the DAG in a report. Structure only, never how a run went
    /// (statuses, times): outputs must be pure functions of their inputs, or early cutoff and
    /// byte-identical reruns break. A kind that reads it says so ([`NodeKind::reads_workflow`]),
    /// and then the structure upstream of the node is part of its action key.
    pub workflow: &'a [WorkflowNode],
    /// The item this run is for, in a node that maps over an input ([`crate::map`]); the
    /// mapped input then holds that item alone.
    pub item: Option<&'a ItemContext>,
}

/// One item of a mapped node, as the node sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemContext {
    pub id: String,
    /// A samplesheet row's cells by column name; empty for other items.
    pub fields: BTreeMap<String, String>,
}

/// One node of the workflow's structure: see [`NodeContext::workflow`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowNode {
    pub name: String,
    pub kind: String,
    /// Names of the nodes it takes input from, sorted.
    pub upstream: Vec<String>,
}

impl NodeContext<'_> {
    /// Typed parameters. They were validated at load time, so failure here is a kind's bug.
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, NodeError> {
        serde_json::from_value(self.params.clone())
            .map_err(|e| NodeError::Failed(format!("parameters of node '{}': {e}", self.node)))
    }

    /// The single artifact bound to an input port.
    pub fn input(&self, port: &str) -> Result<&Path, NodeError> {
        match self.inputs.get(port).map(Vec::as_slice) {
            Some([one]) => Ok(one),
            Some(many) => {
                Err(NodeError::Failed(format!("input '{port}' has {} artifacts where one was expected", many.len())))
            }
            None => Err(NodeError::Failed(format!("input '{port}' is not bound"))),
        }
    }

    pub fn output(&self, port: &str) -> Result<&Path, NodeError> {
        self.outputs
            .get(port)
            .map(PathBuf::as_path)
            .ok_or_else(|| NodeError::Failed(format!("no output port '{port}'")))
    }

    /// Appends a line to the node's log.
    pub fn log(&self, line: &str) -> Result<(), NodeError> {
        let mut file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(self.log_path)
            .map_err(|e| NodeError::io(format!("open log {}", self.log_path.display()), e))?;
        // One write per line: with O_APPEND it lands whole even beside another writer's, and it
        // is one system call, not two.
        file.write_all(format!("{line}\n").as_bytes()).map_err(|e| NodeError::io("write log", e))
    }
}

/// A node kind. Implementations must be deterministic: same params and input bytes give the
/// same output bytes, or early cutoff and caching lose their meaning.
pub trait NodeKind: Send + Sync {
    /// The name workflows use in `uses:`.
    fn name(&self) -> &str;
    /// Bumped whenever the kind's output for the same inputs may change; part of every action key.
    fn version(&self) -> &str;
    fn info(&self) -> KindInfo;
    /// Checks `with:` and returns canonical params and the node's concrete ports.
    /// `bound_inputs` names the input ports the node binds under `in:`.
    fn configure(&self, params: &Value, bound_inputs: &[&str]) -> Result<Configured, ParamError>;
    /// For kinds whose behaviour lives in files (plugins): a digest of those files, in the key.
    fn code_digest(&self) -> Option<Digest> {
        None
    }
    /// The top-level params that hold shell commands. The loader splices `${var}` values into
    /// these as literal shell text (quoted for where they stand), never as shell syntax.
    fn shell_params(&self) -> &[&str] {
        &[]
    }
    /// The item fields the configured `params` read: `id`, or a samplesheet column (a shell
    /// command's `{item.id}`). The loader refuses them in a node without `map:`, and fields
    /// other than `id` where the items are not samplesheet rows, so the mistake is found at
    /// load, not when the node runs.
    fn item_fields(&self, _params: &Value) -> Vec<String> {
        Vec::new()
    }
    /// Whether the kind reads [`NodeContext::workflow`]. If so, the names, kinds and edges of
    /// the nodes upstream of a node of this kind are part of its action key: renaming one
    /// reruns it.
    fn reads_workflow(&self) -> bool {
        false
    }

    /// Whether a cluster executor runs this kind in the controller instead of as a job: work
    /// that takes less time than a job takes to start (a split, a gather, a report), or work
    /// on flow's own state that must have a single writer (the feature store).
    fn runs_in_controller(&self) -> bool {
        false
    }
    /// Groups of list inputs that the kind pairs item by item (the report takes the n-th
    /// `pca` with the n-th `metrics`). The loader checks that the ports of a group a node binds
    /// get the same number of artifacts, so a mismatch fails at load, not after a long run.
    /// A port the node leaves unbound is not counted.
    fn aligned_inputs(&self) -> &[&[&str]] {
        &[]
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError>;
}

/// Deserializes a `with:` mapping into a kind's params struct (use `deny_unknown_fields`) and
/// serializes it back, so defaults become explicit in the canonical params.
pub fn typed_params<P: DeserializeOwned + Serialize>(params: &Value) -> Result<(P, Value), ParamError> {
    let typed: P = serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // Unknown and missing fields are named by serde itself, in backticks; every other
        // error (a wrong type, a bad value) is located by the path to it.
        let named = message
            .split('`')
            .nth(1)
            .filter(|_| message.starts_with("unknown field") || message.starts_with("missing field"));
        if let Some(field) = named {
            return ParamError { field: Some(field.to_string()), message };
        }
        if path == "." {
            return ParamError { field: None, message };
        }
        let top = path.split(['.', '[']).next().unwrap_or(&path).to_string();
        ParamError { field: Some(top), message: format!("param '{path}': {message}") }
    })?;
    let canonical =
        serde_json::to_value(&typed).map_err(|e| ParamError::new(None, format!("cannot encode parameters: {e}")))?;
    Ok((typed, canonical))
}

/// Deserializes a map whose values may be written as any YAML scalar (`SEED: 42`), keeping
/// them as text; for parameters such as environment variables.
pub fn scalar_strings<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: BTreeMap<String, Value> = serde::Deserialize::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(key, value)| match value {
            Value::String(s) => Ok((key, s)),
            Value::Number(n) => Ok((key, n.to_string())),
            Value::Bool(b) => Ok((key, b.to_string())),
            other => Err(serde::de::Error::custom(format!("'{key}' must be text, a number or a bool, not {other}"))),
        })
        .collect()
}

/// All kinds a workflow may use.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<String, Arc<dyn NodeKind>>,
    sheet_formats: Vec<Arc<dyn crate::map::SheetFormat>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a kind; a later registration of the same name replaces the earlier one.
    pub fn register(&mut self, kind: Arc<dyn NodeKind>) {
        self.kinds.insert(kind.name().to_string(), kind);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn NodeKind>> {
        self.kinds.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn NodeKind>> {
        self.kinds.values()
    }

    /// Adds a samplesheet format for `map: { over, id }` beyond the built-in CSV and TSV.
    pub fn register_sheet_format(&mut self, format: Arc<dyn crate::map::SheetFormat>) {
        self.sheet_formats.push(format);
    }

    pub fn sheet_formats(&self) -> &[Arc<dyn crate::map::SheetFormat>] {
        &self.sheet_formats
    }

    /// "unknown kind 'x' (did you mean 'y'?)"
    pub fn unknown_kind_message(&self, name: &str) -> String {
        let hint = suggestion(name, self.kinds.keys().map(String::as_str));
        let hint = if hint.is_empty() { "; `flow nodes` lists the kinds".to_string() } else { hint };
        format!("unknown node kind '{name}'{hint}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_types_parse_and_fit() {
        let table = PortType::parse("file:parquet").unwrap();
        assert_eq!(table.to_string(), "file:parquet");
        assert!(table.fits(&PortType::FILE));
        assert!(PortType::FILE.fits(&table));
        assert!(!table.fits(&PortType::file("csv")));
        assert!(!table.fits(&PortType::DIR));
        assert!(PortType::DIR.fits(&PortType::ANY));
        assert_eq!(PortType::parse("blob"), None);
        assert_eq!(PortType::parse("any:x"), None);
    }

    #[derive(serde::Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct P {
        eta: f64,
        #[serde(default = "ten")]
        rounds: u32,
    }
    fn ten() -> u32 {
        10
    }

    #[test]
    fn typed_params_fill_defaults_and_name_bad_fields() {
        let (_, canonical) = typed_params::<P>(&serde_json::json!({"eta": 0.1})).unwrap();
        assert_eq!(canonical, serde_json::json!({"eta": 0.1, "rounds": 10}));
        let err = typed_params::<P>(&serde_json::json!({"eta": 0.1, "round": 3})).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("round"));
        let err = typed_params::<P>(&serde_json::json!({})).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("eta"));
        let err = typed_params::<P>(&serde_json::json!({"eta": [1]})).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("eta"));
        assert!(err.message.starts_with("param 'eta': invalid type"), "{}", err.message);
    }
}
