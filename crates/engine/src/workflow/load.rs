//! Reading and validating a workflow file. Everything is checked here, before anything runs:
//! syntax, variables, kinds, params, ports and their types, references, files, publish targets
//! and cycles. Problems are collected so one pass shows them all.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics, Pos, suggestion};
use crate::graph::find_cycles;
use crate::kind::{Configured, Inputs, NodeKind, PortSpec, Registry};
use crate::plugin;
use crate::workflow::model::{InputBinding, Node, NodeId, Publish, Source, Workflow};
use crate::workflow::vars;
use crate::yaml::{self, Spanned, pos};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Option<Spanned<String>>,
    #[serde(default)]
    vars: IndexMap<Spanned<String>, Spanned<Value>>,
    nodes: IndexMap<Spanned<String>, Spanned<RawNode>>,
    #[serde(default)]
    publish: IndexMap<Spanned<String>, Spanned<String>>,
    /// More folders to find process plugins in, relative to the workflow.
    #[serde(default)]
    plugins: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    uses: Spanned<String>,
    #[serde(default, rename = "in")]
    inputs: IndexMap<Spanned<String>, Spanned<Value>>,
    #[serde(default, rename = "with")]
    params: IndexMap<Spanned<String>, Spanned<Value>>,
    #[serde(default)]
    resources: Option<Spanned<RawResources>>,
    #[serde(default)]
    retries: Option<Spanned<Value>>,
    /// Free text for humans; not part of the action key.
    #[serde(default)]
    #[allow(dead_code)]
    doc: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    threads: Option<Spanned<u32>>,
    memory: Option<Spanned<Value>>,
}

/// How to load: which kinds exist, `-s key=value` overrides, and the project directory.
pub struct LoadOptions<'a> {
    pub registry: &'a Registry,
    pub overrides: &'a [(String, String)],
    pub project_dir: &'a Path,
}

/// Reads, parses and validates a workflow file.
pub fn load(file: &Path, options: &LoadOptions<'_>) -> Result<Workflow, Diagnostics> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Diagnostic::new(file, Pos::UNKNOWN, format!("cannot read workflow file: {e}")))?;
    load_str(&text, file, options)
}

/// Validates workflow text as if it were the file `file`.
pub fn load_str(text: &str, file: &Path, options: &LoadOptions<'_>) -> Result<Workflow, Diagnostics> {
    let (marked, uses) = vars::mark(text).map_err(|e| Diagnostic::new(file, e.pos, e.message))?;
    let raw: RawWorkflow = yaml::parse(&marked, file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut missing = Vec::new();
    for listed in &raw.plugins {
        if !base.join(&listed.value).is_dir() {
            missing.push(Diagnostic::new(
                file,
                pos(listed),
                format!("plugin folder '{}' does not exist (relative to the workflow)", listed.value),
            ));
        }
    }
    if !missing.is_empty() {
        return Err(Diagnostics(missing));
    }
    let listed: Vec<PathBuf> = raw.plugins.iter().map(|p| PathBuf::from(&p.value)).collect();
    let plugins = plugin::discover(&plugin::search_path(file, options.project_dir, &listed))?;
    if plugins.is_empty() {
        return Loader { file, options, diags: Vec::new() }.build(raw, &uses);
    }
    let registry = plugin::extend(options.registry, plugins)?;
    let options = LoadOptions { registry: &registry, overrides: options.overrides, project_dir: options.project_dir };
    Loader { file, options: &options, diags: Vec::new() }.build(raw, &uses)
}

struct Loader<'a> {
    file: &'a Path,
    options: &'a LoadOptions<'a>,
    diags: Vec<Diagnostic>,
}

/// A node after its kind configured it, before references are resolved.
struct Pending {
    name: String,
    kind: Arc<dyn NodeKind>,
    pos: Pos,
    configured: Configured,
    raw_inputs: Vec<(Spanned<String>, Spanned<Value>)>,
}

impl Loader<'_> {
    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(self.file, pos, message));
    }

    fn build(mut self, raw: RawWorkflow, uses: &[vars::VarUse]) -> Result<Workflow, Diagnostics> {
        let vars = self.variables(&raw, uses);
        let name = match &raw.name {
            Some(name) => vars::substitute_text(&name.value, &vars),
            None => self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        if raw.nodes.is_empty() {
            self.error(Pos::UNKNOWN, "the workflow has no nodes: add some under `nodes:`");
        }

        let mut index: HashMap<String, NodeId> = HashMap::with_capacity(raw.nodes.len());
        let mut pending: Vec<Option<Pending>> = Vec::with_capacity(raw.nodes.len());
        let mut extras = Vec::with_capacity(raw.nodes.len());
        for (key, node) in raw.nodes {
            let node_pos = pos(&key);
            if !is_node_name(&key.value) {
                self.error(
                    node_pos,
                    format!(
                        "bad node name '{}': use letters, digits, '_' and '-' (a '.' separates node and port)",
                        key.value
                    ),
                );
            }
            let id = NodeId(pending.len() as u32);
            index.insert(key.value.clone(), id);
            let node = node.value;
            extras.push((node.resources, node.retries));
            pending.push(self.configure(&key.value, node_pos, node.uses, node.params, node.inputs, &vars));
        }

        let mut nodes = Vec::with_capacity(pending.len());
        for (i, item) in pending.iter().enumerate() {
            let Some(p) = item else { continue };
            let inputs = self.bind_inputs(p, &pending, &index, &vars);
            let (resources, retries) = &extras[i];
            let (threads, memory) = self.resources(resources.as_ref());
            let retries = match retries {
                None => 0,
                Some(r) => match r.value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => n,
                    None => {
                        self.error(
                            pos(r),
                            format!("retries must be a whole number of extra attempts, not {}", r.value),
                        );
                        0
                    }
                },
            };
            nodes.push((p, inputs, threads, memory, retries));
        }
        let publish = self.publish(&raw.publish, &pending, &index, &vars);

        if !self.diags.is_empty() {
            return Err(Diagnostics(self.diags));
        }
        let nodes: Vec<Node> = nodes
            .into_iter()
            .enumerate()
            .map(|(i, (p, inputs, threads, memory, retries))| Node {
                id: NodeId(i as u32),
                name: p.name.clone(),
                kind: p.kind.clone(),
                params: p.configured.params.clone(),
                inputs,
                outputs: p.configured.outputs.clone(),
                threads,
                memory,
                retries,
                pos: p.pos,
            })
            .collect();
        let workflow = Workflow {
            file: self.file.to_path_buf(),
            name,
            project_dir: self.options.project_dir.to_path_buf(),
            nodes,
            publish,
        };
        let cycles = find_cycles(&workflow);
        if !cycles.is_empty() {
            for cycle in cycles {
                let names: Vec<&str> = cycle.iter().map(|&id| workflow.node(id).name.as_str()).collect();
                let first = workflow.node(cycle[0]);
                self.error(first.pos, format!("cycle: {} -> {}", names.join(" -> "), names[0]));
            }
            return Err(Diagnostics(self.diags));
        }
        Ok(workflow)
    }

    /// Declared vars with `-s` overrides applied; checks every `${name}` use.
    fn variables(&mut self, raw: &RawWorkflow, uses: &[vars::VarUse]) -> BTreeMap<String, Value> {
        let mut values = BTreeMap::new();
        for (key, value) in &raw.vars {
            if !vars::is_var_name(&key.value) {
                self.error(pos(key), format!("bad variable name '{}': use letters, digits and '_'", key.value));
            }
            if value.value.is_object() || value.value.is_array() {
                self.error(pos(value), format!("variable '{}' must be a scalar (text, number or bool)", key.value));
            }
            values.insert(key.value.clone(), value.value.clone());
        }
        for (key, text) in self.options.overrides {
            if values.contains_key(key) {
                values.insert(key.clone(), yaml::parse_scalar(text));
            } else {
                let hint = suggestion(key, values.keys().map(String::as_str));
                self.error(
                    Pos::UNKNOWN,
                    format!("-s {key}={text}: the workflow declares no variable '{key}' under `vars:`{hint}"),
                );
            }
        }
        for var_use in uses {
            if !values.contains_key(&var_use.name) {
                let hint = suggestion(&var_use.name, values.keys().map(String::as_str));
                self.error(
                    var_use.pos,
                    format!(
                        "undefined variable '${{{}}}'{hint}: declare it under `vars:`, or write $${{{}}} for a literal",
                        var_use.name, var_use.name
                    ),
                );
            }
        }
        values
    }

    fn configure(
        &mut self,
        name: &str,
        node_pos: Pos,
        uses: Spanned<String>,
        params: IndexMap<Spanned<String>, Spanned<Value>>,
        inputs: IndexMap<Spanned<String>, Spanned<Value>>,
        vars: &BTreeMap<String, Value>,
    ) -> Option<Pending> {
        let registry = self.options.registry;
        let Some(kind) = registry.get(&uses.value) else {
            self.error(pos(&uses), registry.unknown_kind_message(&uses.value));
            return None;
        };
        let mut map = serde_json::Map::new();
        let mut places: HashMap<String, Pos> = HashMap::new();
        for (key, value) in &params {
            map.insert(key.value.clone(), vars::substitute(&value.value, vars));
            places.insert(key.value.clone(), pos(key));
        }
        let bound: Vec<&str> = inputs.keys().map(|k| k.value.as_str()).collect();
        match kind.configure(&Value::Object(map), &bound) {
            Ok(configured) => Some(Pending {
                name: name.to_string(),
                kind: kind.clone(),
                pos: node_pos,
                configured,
                raw_inputs: inputs.into_iter().collect(),
            }),
            Err(err) => {
                let at = err.field.as_ref().and_then(|f| places.get(f).copied()).unwrap_or(pos(&uses));
                let known: Vec<String> = kind.info().params.iter().map(|p| p.name.clone()).collect();
                let hint = match &err.field {
                    Some(field) if !places.contains_key(field) || known.contains(field) => String::new(),
                    Some(field) => suggestion(field, known.iter().map(String::as_str)),
                    None => String::new(),
                };
                self.error(at, format!("node '{name}' ({}): {}{hint}", uses.value, err.message));
                None
            }
        }
    }

    fn bind_inputs(
        &mut self,
        node: &Pending,
        pending: &[Option<Pending>],
        index: &HashMap<String, NodeId>,
        vars: &BTreeMap<String, Value>,
    ) -> Vec<InputBinding> {
        let mut bindings = Vec::new();
        for (port, value) in &node.raw_inputs {
            let port_pos = pos(port);
            let spec = match &node.configured.inputs {
                Inputs::Fixed(specs) => match specs.iter().find(|s| s.name == port.value) {
                    Some(spec) => spec.clone(),
                    None => {
                        let hint = suggestion(&port.value, specs.iter().map(|s| s.name.as_str()));
                        let list: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
                        self.error(
                            port_pos,
                            format!(
                                "node '{}' has no input port '{}'{hint}; its inputs are: {}",
                                node.name,
                                port.value,
                                if list.is_empty() { "none".to_string() } else { list.join(", ") }
                            ),
                        );
                        continue;
                    }
                },
                Inputs::Open(ty) => PortSpec::new(&port.value, ty.clone(), "").many(),
            };
            let refs: Vec<String> = match &value.value {
                Value::String(s) => vec![vars::substitute_text(s, vars)],
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    items.iter().filter_map(Value::as_str).map(|s| vars::substitute_text(s, vars)).collect()
                }
                _ => {
                    self.error(
                        pos(value),
                        format!("input '{}' must be 'node.port', 'file:PATH' or a list of them", port.value),
                    );
                    continue;
                }
            };
            if refs.len() != 1 && !spec.many {
                self.error(pos(value), format!("input '{}' takes one artifact, got {}", port.value, refs.len()));
                continue;
            }
            let mut sources = Vec::new();
            for reference in refs {
                if let Some(source) =
                    self.resolve(&node.name, &port.value, &spec, &reference, pos(value), pending, index)
                {
                    sources.push(source);
                }
            }
            bindings.push(InputBinding { port: port.value.clone(), sources });
        }
        if let Inputs::Fixed(specs) = &node.configured.inputs {
            for spec in specs.iter().filter(|s| s.required) {
                if !node.raw_inputs.iter().any(|(p, _)| p.value == spec.name) {
                    self.error(
                        node.pos,
                        format!("node '{}' needs input '{}' ({}) under `in:`", node.name, spec.name, spec.ty),
                    );
                }
            }
        }
        bindings.sort_by(|a, b| a.port.cmp(&b.port));
        bindings
    }

    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &mut self,
        node: &str,
        port: &str,
        spec: &PortSpec,
        reference: &str,
        at: Pos,
        pending: &[Option<Pending>],
        index: &HashMap<String, NodeId>,
    ) -> Option<Source> {
        if let Some(path) = reference.strip_prefix("file:") {
            let full = self.options.project_dir.join(path);
            match std::fs::metadata(&full) {
                Ok(meta) => {
                    let shape = if meta.is_dir() { crate::digest::Shape::Dir } else { crate::digest::Shape::File };
                    if spec.ty.shape.is_some_and(|s| s != shape) {
                        self.error(at, format!("input '{port}' wants a {}, but {path} is a {}", spec.ty, shape.name()));
                    }
                }
                Err(_) => {
                    self.error(at, format!("input '{port}' of node '{node}': file not found: {}", full.display()));
                    return None;
                }
            }
            return Some(Source::File { path: full, written: path.to_string() });
        }
        let (up_name, up_port) = self.split_ref(reference, at)?;
        let Some(&up_id) = index.get(up_name) else {
            let hint = suggestion(up_name, index.keys().map(String::as_str));
            self.error(at, format!("input '{port}' of node '{node}' refers to unknown node '{up_name}'{hint}"));
            return None;
        };
        if up_name == node {
            self.error(at, format!("cycle: node '{node}' reads its own output"));
            return None;
        }
        // An upstream that failed to configure was reported already; stay quiet about it.
        let up = pending[up_id.index()].as_ref()?;
        let outputs = &up.configured.outputs;
        let Some(output) = outputs.iter().position(|o| o.name == up_port) else {
            let hint = suggestion(up_port, outputs.iter().map(|o| o.name.as_str()));
            let list: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
            self.error(
                at,
                format!("node '{up_name}' has no output '{up_port}'{hint}; its outputs are: {}", list.join(", ")),
            );
            return None;
        };
        let produced = &outputs[output].ty;
        if !produced.fits(&spec.ty) {
            self.error(
                at,
                format!(
                    "type mismatch: {reference} is {produced}, but input '{port}' of node '{node}' takes {}",
                    spec.ty
                ),
            );
        }
        Some(Source::Node { node: up_id, output })
    }

    fn split_ref<'r>(&mut self, reference: &'r str, at: Pos) -> Option<(&'r str, &'r str)> {
        match reference.split_once('.') {
            Some((node, port)) if !node.is_empty() && !port.is_empty() => Some((node, port)),
            _ => {
                self.error(at, format!("bad reference '{reference}': write 'node.port' or 'file:PATH'"));
                None
            }
        }
    }

    fn resources(&mut self, raw: Option<&Spanned<RawResources>>) -> (u32, Option<u64>) {
        let Some(raw) = raw else { return (1, None) };
        let threads = match &raw.value.threads {
            Some(t) if t.value == 0 => {
                self.error(pos(t), "resources.threads must be at least 1");
                1
            }
            Some(t) => t.value,
            None => 1,
        };
        let memory = raw.value.memory.as_ref().and_then(|m| match parse_memory(&m.value) {
            Some(bytes) => Some(bytes),
            None => {
                self.error(pos(m), "resources.memory must be bytes or a size like 512M, 4G, 1.5GiB");
                None
            }
        });
        (threads, memory)
    }

    fn publish(
        &mut self,
        raw: &IndexMap<Spanned<String>, Spanned<String>>,
        pending: &[Option<Pending>],
        index: &HashMap<String, NodeId>,
        vars: &BTreeMap<String, Value>,
    ) -> Vec<Publish> {
        let mut out: Vec<Publish> = Vec::new();
        for (key, dest) in raw {
            let at = pos(key);
            let (node_name, port) = match key.value.split_once('.') {
                Some((n, p)) => (n, Some(p)),
                None => (key.value.as_str(), None),
            };
            let Some(&id) = index.get(node_name) else {
                let hint = suggestion(node_name, index.keys().map(String::as_str));
                self.error(at, format!("publish: unknown node '{node_name}'{hint}"));
                continue;
            };
            let Some(node) = pending[id.index()].as_ref() else { continue };
            let outputs = &node.configured.outputs;
            let output = match port {
                Some(port) => outputs.iter().position(|o| o.name == port),
                None if outputs.len() == 1 => Some(0),
                None => {
                    let list: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                    self.error(
                        at,
                        format!(
                            "publish: node '{node_name}' has several outputs ({}); write '{node_name}.PORT'",
                            list.join(", ")
                        ),
                    );
                    continue;
                }
            };
            let Some(output) = output else {
                let hint = suggestion(port.unwrap_or(""), outputs.iter().map(|o| o.name.as_str()));
                self.error(at, format!("publish: node '{node_name}' has no output '{}'{hint}", port.unwrap_or("")));
                continue;
            };
            let dest_text = vars::substitute_text(&dest.value, vars);
            if dest_text.is_empty() {
                self.error(pos(dest), "publish: empty destination path");
                continue;
            }
            let dest_path = self.options.project_dir.join(&dest_text);
            if dest_path.starts_with(self.options.project_dir.join(".flow")) {
                self.error(pos(dest), "publish: the destination may not be inside .flow/");
                continue;
            }
            if out.iter().any(|p| p.dest == dest_path) {
                self.error(pos(dest), format!("publish: two artifacts go to {dest_text}"));
                continue;
            }
            out.push(Publish { node: id, output, dest: dest_path, pos: at });
        }
        out
    }
}

pub fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.starts_with('-')
}

/// `4G`, `512M`, `1.5GiB`, `1000` (bytes).
pub fn parse_memory(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let text = value.as_str()?.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (number >= 0.0).then_some((number * scale) as u64)
}

/// Project directory default: where flow was started.
#[allow(dead_code)]
pub fn default_project_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}
