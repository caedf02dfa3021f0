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
use crate::digest::Shape;
use crate::graph::find_cycles;
use crate::kind::{Configured, Inputs, NodeKind, PortSpec, PortType, Registry};
use crate::plugin;
use crate::workflow::cluster::{self, RawCluster};
use crate::workflow::model::{
    ClusterDefaults, InputBinding, MapSpec, Node, NodeId, OnItemError, Placement, Publish, Source, Workflow,
};
use crate::workflow::template::{self, GatherError, Instance, RawForEach, Template};
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
    /// The default executor and job settings (`ClusterDefaults`).
    #[serde(default)]
    cluster: Option<Spanned<RawCluster>>,
}

/// A node, or a template (`for_each:` and `nodes:`, see `template.rs`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(default)]
    uses: Option<Spanned<String>>,
    #[serde(default, rename = "in")]
    inputs: IndexMap<Spanned<String>, Spanned<Value>>,
    #[serde(default, rename = "with")]
    params: IndexMap<Spanned<String>, Spanned<Value>>,
    #[serde(default)]
    resources: Option<Spanned<RawResources>>,
    #[serde(default)]
    retries: Option<Spanned<Value>>,
    /// `map: PORT` or `map: { over: PORT, on_error: fail | skip }`: one action per item.
    #[serde(default)]
    map: Option<Spanned<Value>>,
    /// Free text for humans; not part of the action key.
    #[serde(default)]
    #[allow(dead_code)]
    doc: Option<String>,
    /// A template's values: one instance of `nodes` per value (or combination, or row).
    #[serde(default)]
    for_each: Option<Spanned<RawForEach>>,
    /// A template's nodes.
    #[serde(default)]
    nodes: Option<IndexMap<Spanned<String>, Spanned<RawNode>>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    threads: Option<Spanned<u32>>,
    memory: Option<Spanned<Value>>,
    /// For cluster executors (see `Placement`).
    local: Option<Spanned<bool>>,
    time: Option<Spanned<String>>,
    partition: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    qos: Option<Spanned<String>>,
    cluster_options: Option<Spanned<Vec<String>>>,
}

/// How to load: which kinds exist, `-s key=value` overrides, the project directory and the
/// state directory (`.flow/` or wherever `--state-dir` puts it), which publish must never touch.
pub struct LoadOptions<'a> {
    pub registry: &'a Registry,
    pub overrides: &'a [(String, String)],
    pub project_dir: &'a Path,
    /// A relative path is read from the project directory.
    pub state_dir: &'a Path,
}

/// Node names become file names (`NAME.log`, a work directory named after the run, the node
/// and its key), so they stay well under the 255-byte limit of a file name.
pub const MAX_NODE_NAME: usize = 128;

/// Reads, parses and validates a workflow file.
pub fn load(file: &Path, options: &LoadOptions<'_>) -> Result<Workflow, Diagnostics> {
    let text = read_workflow_text(file)?;
    load_str(&text, file, options)
}

/// Reads a workflow file as UTF-8 text. A byte that is not UTF-8 is reported at its line and
/// column with its byte offset, so the user can find it; a directory or unreadable file is
/// named as such.
pub fn read_workflow_text(file: &Path) -> Result<String, Diagnostic> {
    let cannot = |what: String| Diagnostic::new(file, Pos::UNKNOWN, format!("cannot read the workflow file: {what}"));
    if file.is_dir() {
        return Err(cannot("it is a directory; name a YAML file".into()));
    }
    let bytes = std::fs::read(file).map_err(|e| cannot(e.to_string()))?;
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Diagnostic::new(
            file,
            Pos::new(1, 1),
            "the workflow file is UTF-16 text; save it as UTF-8 (flow reads workflows as UTF-8 only)",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = &bytes[..offset];
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        // Everything before `offset` is valid UTF-8, so the column counts characters.
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        Diagnostic::new(
            file,
            Pos::new(line as u32, column as u32),
            format!(
                "the workflow file is not valid UTF-8: byte 0x{:02X} at byte offset {offset} (line {line}, column {column}); \
                 save the file as UTF-8",
                bytes[offset]
            ),
        )
    })
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
        return Loader::new(file, options, &uses).build(raw);
    }
    let registry = plugin::extend(options.registry, plugins)?;
    let options = LoadOptions { registry: &registry, ..*options };
    Loader::new(file, &options, &uses).build(raw)
}

struct Loader<'a> {
    file: &'a Path,
    options: &'a LoadOptions<'a>,
    /// Every `${name}` in the file, in order, to locate problems with a value where it is used.
    uses: &'a [vars::VarUse],
    diags: Vec<Diagnostic>,
    /// Each template variable and the template declaring it.
    loop_vars: HashMap<String, String>,
    templates: Vec<Template>,
    /// The template instance whose node is being loaded: its errors say which instance.
    instance: Option<Arc<Instance>>,
    /// Errors met in instances, by place and message, with the labels of the instances that
    /// met them: the same mistake in every instance is one error that names them all.
    instance_errors: HashMap<(u32, u32, String), (usize, Vec<String>)>,
    /// Mapped nodes by name, with the port each maps over: their outputs are gathered dirs.
    mapped: HashMap<String, String>,
    /// `file:` inputs are checked against the project and state directories.
    paths: InputPaths,
}

/// A node to load: written in `nodes:`, or a template's node for one instance.
struct Entry {
    key: Spanned<String>,
    name: String,
    node: RawNode,
    instance: Option<Arc<Instance>>,
}

/// A node after its kind configured it, before references are resolved.
struct Pending {
    name: String,
    kind: Arc<dyn NodeKind>,
    pos: Pos,
    configured: Configured,
    raw_inputs: Vec<(Spanned<String>, Spanned<Value>)>,
    instance: Option<Arc<Instance>>,
}

impl<'a> Loader<'a> {
    fn new(file: &'a Path, options: &'a LoadOptions<'a>, uses: &'a [vars::VarUse]) -> Loader<'a> {
        Loader {
            file,
            options,
            uses,
            diags: Vec::new(),
            loop_vars: HashMap::new(),
            templates: Vec::new(),
            instance: None,
            instance_errors: HashMap::new(),
            mapped: HashMap::new(),
            paths: InputPaths::new(options.project_dir, options.state_dir),
        }
    }
}

impl Loader<'_> {
    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let message = message.into();
        let Some(instance) = self.instance.clone() else {
            self.diags.push(Diagnostic::new(self.file, pos, message));
            return;
        };
        let label = instance.label();
        let key = (pos.line, pos.column, message.clone());
        let (index, labels) = match self.instance_errors.get_mut(&key) {
            Some((index, labels)) => {
                labels.push(label);
                (*index, labels.clone())
            }
            None => {
                self.diags.push(Diagnostic::new(self.file, pos, String::new()));
                let index = self.diags.len() - 1;
                self.instance_errors.insert(key, (index, vec![label.clone()]));
                (index, vec![label])
            }
        };
        self.diags[index].message = format!("{message} ({})", template::context(&instance.template, &labels));
    }

    fn build(mut self, raw: RawWorkflow) -> Result<Workflow, Diagnostics> {
        self.loop_vars = loop_variables(&raw.nodes);
        let vars = self.variables(&raw);
        let name = match &raw.name {
            Some(name) => {
                self.check_scope(&Value::String(name.value.clone()), pos(name), &vars, false);
                vars::substitute_text(&name.value, &vars)
            }
            None => self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        if raw.nodes.is_empty() {
            self.error(Pos::UNKNOWN, "the workflow has no nodes: add some under `nodes:`");
        }

        let entries = self.expand(raw.nodes, &vars);
        let mut index: HashMap<String, NodeId> = HashMap::with_capacity(entries.len());
        let mut defined_at: Vec<Pos> = Vec::with_capacity(entries.len());
        let mut pending: Vec<Option<Pending>> = Vec::with_capacity(entries.len());
        let mut extras = Vec::with_capacity(entries.len());
        for Entry { key, name, node, instance } in entries {
            self.instance = instance;
            let node_pos = pos(&key);
            if !is_node_name(&name) {
                self.error(
                    node_pos,
                    format!("bad node name '{name}': use letters, digits, '_' and '-' (a '.' separates node and port)"),
                );
            } else if name.len() > MAX_NODE_NAME {
                self.error(
                    node_pos,
                    format!(
                        "node name '{}…' is {} characters long; the limit is {MAX_NODE_NAME}, because the name \
                         becomes the name of the node's log file and work directory",
                        &name[..24],
                        name.len()
                    ),
                );
            }
            let id = NodeId(pending.len() as u32);
            if let Some(&first) = index.get(&name) {
                // Only templates can do this: YAML refuses a key written twice.
                let at = defined_at[first.index()];
                self.error(
                    node_pos,
                    format!(
                        "two nodes are named '{name}' (the other at {}:{}); in a template, put the template's \
                         variables in node names (`${{set}}_pca`) so that every instance names its own",
                        at.line, at.column
                    ),
                );
            } else {
                index.insert(name.clone(), id);
            }
            defined_at.push(node_pos);
            let map = node.map.as_ref().and_then(|m| self.map_spec(m));
            if let Some(spec) = &map {
                self.mapped.insert(name.clone(), spec.port.clone());
            }
            extras.push((node.resources, node.retries, map, node.map.as_ref().map(pos)));
            let Some(uses) = node.uses else {
                self.error(
                    node_pos,
                    format!(
                        "node '{name}' needs `uses:` (a node kind; `flow nodes` lists them), or `for_each:` and \
                         `nodes:` to be a template"
                    ),
                );
                pending.push(None);
                continue;
            };
            let instance = self.instance.clone();
            let scope = instance.as_ref().map_or(&vars, |i| &i.scope);
            pending.push(self.configure(&name, node_pos, uses, node.params, node.inputs, scope));
        }
        self.instance = None;

        let mut nodes = Vec::with_capacity(pending.len());
        for (i, item) in pending.iter().enumerate() {
            let Some(p) = item else { continue };
            self.instance = p.instance.clone();
            let scope = p.instance.as_ref().map_or(&vars, |i| &i.scope);
            let inputs = self.bind_inputs(p, &pending, &index, scope);
            let (resources, retries, map, map_at) = &extras[i];
            if let (Some(spec), Some(at)) = (map, map_at)
                && !inputs.iter().any(|b| b.port == spec.port)
            {
                let bound: Vec<&str> = inputs.iter().map(|b| b.port.as_str()).collect();
                self.error(
                    *at,
                    format!(
                        "node '{}' maps over input '{}', which is not bound under `in:`; its inputs are: {}",
                        p.name,
                        spec.port,
                        if bound.is_empty() { "none".to_string() } else { bound.join(", ") }
                    ),
                );
            }
            self.check_item_fields(p, map.as_ref());
            let (threads, memory) = self.resources(resources.as_ref());
            let placement = self.placement(resources.as_ref());
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
            nodes.push((p, inputs, threads, memory, retries, map.clone(), placement));
        }
        self.instance = None;
        // What publish may never replace, even with --overwrite: the workflow's own inputs and
        // the workflow file. (A later run would read the published bytes as its input.)
        let mut protected: Vec<(PathBuf, String)> = Vec::new();
        if let Ok(file) = self.paths.resolve(&self.options.project_dir.join(self.file)) {
            protected.push((file, format!("the workflow file {}", self.file.display())));
        }
        for (p, inputs, ..) in &nodes {
            for binding in inputs {
                for source in &binding.sources {
                    if let Source::File { path, written, .. } = source
                        && let Ok(resolved) = self.paths.resolve(path)
                    {
                        protected.push((resolved, format!("the input file:{written} of node '{}'", p.name)));
                    }
                }
            }
        }
        let publish = self.publish(&raw.publish, &pending, &index, &vars, &protected);
        let cluster = self.cluster(raw.cluster.as_ref());

        if !self.diags.is_empty() {
            return Err(Diagnostics(self.diags));
        }
        let nodes: Vec<Node> = nodes
            .into_iter()
            .enumerate()
            .map(|(i, (p, inputs, threads, memory, retries, map, placement))| Node {
                id: NodeId(i as u32),
                name: p.name.clone(),
                kind: p.kind.clone(),
                params: p.configured.params.clone(),
                inputs,
                outputs: p.configured.outputs.clone(),
                threads,
                memory,
                retries,
                map,
                placement,
                pos: p.pos,
            })
            .collect();
        let workflow = Workflow {
            cluster,
            file: self.file.to_path_buf(),
            name,
            project_dir: self.options.project_dir.to_path_buf(),
            nodes,
            publish,
            sheet_formats: self.options.registry.sheet_formats().to_vec(),
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

    /// Declared vars with `-s` overrides applied and references between them resolved;
    /// checks every `${name}` use.
    fn variables(&mut self, raw: &RawWorkflow) -> BTreeMap<String, Value> {
        let mut values = BTreeMap::new();
        let mut declared_at: HashMap<String, Pos> = HashMap::new();
        for (key, value) in &raw.vars {
            if !vars::is_var_name(&key.value) {
                self.error(pos(key), format!("bad variable name '{}': use letters, digits and '_'", key.value));
            }
            if value.value.is_object() || value.value.is_array() {
                self.error(pos(value), format!("variable '{}' must be a scalar (text, number or bool)", key.value));
            }
            self.check_scope(&value.value, pos(value), &BTreeMap::new(), false);
            values.insert(key.value.clone(), value.value.clone());
            declared_at.insert(key.value.clone(), pos(key));
        }
        for (key, text) in self.options.overrides {
            if !values.contains_key(key) {
                let hint = suggestion(key, values.keys().map(String::as_str));
                self.error(
                    Pos::UNKNOWN,
                    format!("-s {key}={text}: the workflow declares no variable '{key}' under `vars:`{hint}"),
                );
                continue;
            }
            // An override reads as if it were written under `vars:`: `${name}` uses another
            // variable and `$${` is a literal `${`. Taking `${` literally instead would make
            // `-s out=${dir}/x` and `out: ${dir}/x` mean different things.
            let marked = match vars::mark(text) {
                Ok((marked, _)) => marked,
                Err(e) => {
                    self.error(Pos::UNKNOWN, format!("-s {key}={text}: {}", e.message));
                    continue;
                }
            };
            if let Some(name) = vars::gathers(&marked).first() {
                self.error(
                    Pos::UNKNOWN,
                    format!("-s {key}={text}: ${{each {name}}} gathers references, which only inputs (`in:`) take"),
                );
            }
            for name in vars::references(&marked) {
                if !values.contains_key(name) {
                    let hint = suggestion(name, values.keys().map(String::as_str));
                    self.error(
                        Pos::UNKNOWN,
                        format!(
                            "-s {key}={text}: undefined variable '${{{name}}}'{hint}; write $${{{name}}} for a literal '${{{name}}}'"
                        ),
                    );
                }
            }
            values.insert(key.clone(), yaml::parse_scalar(&marked));
        }
        for var_use in self.uses {
            if var_use.gather {
                if !self.loop_vars.contains_key(&var_use.name) {
                    let hint = suggestion(&var_use.name, self.loop_vars.keys().map(String::as_str));
                    self.error(
                        var_use.pos,
                        format!(
                            "${{each {}}}: no template has a variable '{}'{hint}; a template declares its variables \
                             under `for_each:`",
                            var_use.name, var_use.name
                        ),
                    );
                }
            } else if !values.contains_key(&var_use.name) && !self.loop_vars.contains_key(&var_use.name) {
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
        let (resolved, cycles) = vars::resolve(&values);
        for cycle in cycles {
            let at = declared_at.get(&cycle.0[0]).copied().unwrap_or(Pos::UNKNOWN);
            self.error(
                at,
                format!(
                    "variables refer to each other in a cycle: {}; a value may use other variables, but never itself",
                    cycle.describe()
                ),
            );
        }
        resolved
    }

    /// Where the `occurrence`-th use of `${name}` at or after `from` sits in the file.
    fn use_position(&self, name: &str, occurrence: usize, from: Pos) -> Pos {
        self.use_at(name, false, occurrence, from)
    }

    /// Where the `occurrence`-th `${name}` (or, with `gather`, `${each name}`) at or after
    /// `from` sits in the file.
    fn use_at(&self, name: &str, gather: bool, occurrence: usize, from: Pos) -> Pos {
        self.uses
            .iter()
            .filter(|u| u.name == name && u.gather == gather && (u.pos.line, u.pos.column) >= (from.line, from.column))
            .nth(occurrence)
            .map_or(from, |u| u.pos)
    }

    /// Reports each `${...}` in `value` that has no meaning where it stands: a template's
    /// variable outside its template, or a gather (`${each name}`) anywhere but in an input
    /// (`gathers` says whether `value` is one). Names that are no variable at all were
    /// reported with the variables. Returns whether there was nothing to report.
    fn check_scope(&mut self, value: &Value, from: Pos, scope: &BTreeMap<String, Value>, gathers: bool) -> bool {
        if self.loop_vars.is_empty() {
            // Without templates every name was checked with the variables.
            return true;
        }
        let mut fine = true;
        let mut seen: HashMap<(String, bool), usize> = HashMap::new();
        for text in strings_in(value) {
            let found = vars::references(text).into_iter().map(|n| (n, false));
            for (name, gather) in found.chain(vars::gathers(text).into_iter().map(|n| (n, true))) {
                let occurrence = seen.entry((name.to_string(), gather)).or_insert(0);
                let nth = *occurrence;
                *occurrence += 1;
                let Some(template) = self.loop_vars.get(name).cloned() else { continue };
                // Finding the place scans the file's uses: only for an error.
                let at = || self.use_at(name, gather, nth, from);
                if gather && !gathers {
                    self.error(
                        at(),
                        format!(
                            "${{each {name}}} gathers one reference per instance of template '{template}', so it \
                             belongs in an input (`in:`)"
                        ),
                    );
                    fine = false;
                } else if !gather && !scope.contains_key(name) {
                    self.error(
                        at(),
                        format!(
                            "${{{name}}} is a variable of template '{template}' and has a value only in that \
                             template's nodes; to list one reference per value, gather with ${{each {name}}} in an input"
                        ),
                    );
                    fine = false;
                }
            }
        }
        fine
    }

    /// The nodes to load, in order: each node as written, and in place of a template its
    /// nodes once per instance (every node of the first instance, then of the second, ...).
    fn expand(
        &mut self,
        raw: IndexMap<Spanned<String>, Spanned<RawNode>>,
        vars: &BTreeMap<String, Value>,
    ) -> Vec<Entry> {
        let mut entries = Vec::with_capacity(raw.len());
        for (key, node) in raw {
            let node = node.value;
            if node.for_each.is_none() && node.nodes.is_none() {
                entries.push(Entry { name: key.value.clone(), key, node, instance: None });
            } else {
                self.expand_template(key, node, vars, &mut entries);
            }
        }
        entries
    }

    fn expand_template(
        &mut self,
        key: Spanned<String>,
        node: RawNode,
        vars: &BTreeMap<String, Value>,
        entries: &mut Vec<Entry>,
    ) {
        let name = key.value.clone();
        let at = pos(&key);
        if !is_node_name(&name) {
            self.error(at, format!("bad template name '{name}': use letters, digits, '_' and '-'"));
            return;
        }
        let stray: Vec<&str> = [
            ("uses", node.uses.is_some()),
            ("in", !node.inputs.is_empty()),
            ("with", !node.params.is_empty()),
            ("resources", node.resources.is_some()),
            ("retries", node.retries.is_some()),
            ("map", node.map.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, set)| set.then_some(field))
        .collect();
        if !stray.is_empty() {
            self.error(
                at,
                format!(
                    "template '{name}' has `{}:`; a template holds only `for_each:`, `nodes:` and `doc:`, so move \
                     that into its nodes",
                    stray.join(":`, `")
                ),
            );
            return;
        }
        let (Some(for_each), Some(nodes)) = (node.for_each, node.nodes) else {
            self.error(
                at,
                format!(
                    "template '{name}' needs both `for_each:` (the values) and `nodes:` (the nodes to make for each)"
                ),
            );
            return;
        };
        if nodes.is_empty() {
            self.error(at, format!("template '{name}' has no nodes: list them under its `nodes:`"));
            return;
        }
        let variables = for_each.value.variable_names();
        if variables.is_empty() {
            self.error(
                pos(&for_each),
                format!("template '{name}': `for_each:` gives no instances; list the values, e.g. {{ set: [a, b] }}"),
            );
            return;
        }
        let mut fine = true;
        for variable in &variables {
            let clash = if vars.contains_key(&variable.value) {
                Some("a variable under `vars:`".to_string())
            } else {
                match self.loop_vars.get(&variable.value) {
                    Some(other) if other != &name => Some(format!("a variable of template '{other}'")),
                    _ => None,
                }
            };
            if let Some(clash) = clash {
                self.error(
                    pos(variable),
                    format!(
                        "template '{name}': `{}` is also {clash}; give one of them another name, so that \
                         ${{{}}} means one thing",
                        variable.value, variable.value
                    ),
                );
                fine = false;
            }
        }
        for value in for_each.value.values() {
            fine &= self.check_scope(&value.value, pos(value), vars, false);
        }
        let first = variables.first().map_or("set", |v| v.value.as_str()).to_string();
        for (node_key, inner) in &nodes {
            if inner.value.for_each.is_some() || inner.value.nodes.is_some() {
                self.error(
                    pos(node_key),
                    format!(
                        "template '{name}': '{}' is a template inside a template, and templates do not nest; \
                         loop over several variables in one `for_each:` ({{ a: [..], b: [..] }}) instead",
                        vars::as_written(&node_key.value)
                    ),
                );
                fine = false;
            } else if !vars::references(&node_key.value).iter().any(|n| variables.iter().any(|v| v.value == *n)) {
                let written = vars::as_written(&node_key.value);
                self.error(
                    pos(node_key),
                    format!(
                        "template '{name}': node '{written}' has no variable of the template in its name, so every \
                         instance would make a node of that same name; write it like '${{{first}}}_{written}'"
                    ),
                );
                fine = false;
            }
        }
        if !fine {
            return;
        }
        let variables: Vec<String> = variables.iter().map(|v| v.value.clone()).collect();
        let instances = match template::instances(&name, &for_each, vars) {
            Ok(read) => read,
            Err(problems) => {
                for (at, message) in problems {
                    self.error(at, message);
                }
                return;
            }
        };
        for instance in &instances {
            self.instance = Some(instance.clone());
            for (node_key, inner) in &nodes {
                let written = Value::String(node_key.value.clone());
                if !self.check_scope(&written, pos(node_key), &instance.scope, false) {
                    continue;
                }
                entries.push(Entry {
                    key: node_key.clone(),
                    name: vars::substitute_text(&node_key.value, &instance.scope),
                    node: inner.value.clone(),
                    instance: Some(instance.clone()),
                });
            }
        }
        self.instance = None;
        self.templates.push(Template { name, variables, instances });
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
        let mut in_scope = true;
        for value in params.values() {
            in_scope &= self.check_scope(&value.value, pos(value), vars, false);
        }
        for value in inputs.values() {
            in_scope &= self.check_scope(&value.value, pos(value), vars, true);
        }
        if !in_scope {
            return None;
        }
        let mut map = serde_json::Map::new();
        let mut places: HashMap<String, Pos> = HashMap::new();
        let mut unquotable = false;
        for (key, value) in &params {
            let substituted = match &value.value {
                Value::String(command) if kind.shell_params().contains(&key.value.as_str()) => {
                    match vars::substitute_shell(command, vars) {
                        Ok(command) => Value::String(command),
                        Err(e) => {
                            let at = self.use_position(&e.name, e.occurrence, pos(value));
                            self.error(at, format!("node '{name}': {}", e.message));
                            unquotable = true;
                            continue;
                        }
                    }
                }
                other => vars::substitute(other, vars),
            };
            map.insert(key.value.clone(), substituted);
            places.insert(key.value.clone(), pos(key));
        }
        if unquotable {
            return None;
        }
        let bound: Vec<&str> = inputs.keys().map(|k| k.value.as_str()).collect();
        match kind.configure(&Value::Object(map), &bound) {
            Ok(configured) => Some(Pending {
                name: name.to_string(),
                kind: kind.clone(),
                pos: node_pos,
                configured,
                raw_inputs: inputs.into_iter().collect(),
                instance: self.instance.clone(),
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
        // How many artifacts each port was given, and where, for lists that must line up.
        let mut counts: Vec<(&str, usize, Pos)> = Vec::new();
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
            let written: Vec<&str> = match &value.value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    items.iter().filter_map(Value::as_str).collect()
                }
                _ => {
                    self.error(
                        pos(value),
                        format!("input '{}' must be 'node.port', 'file:PATH' or a list of them", port.value),
                    );
                    continue;
                }
            };
            let mut refs = Vec::with_capacity(written.len());
            let mut gathered_all = true;
            for text in written {
                match template::gather(text, &self.templates) {
                    Ok(gathered) => refs.extend(gathered.iter().map(|r| vars::substitute_text(r, vars))),
                    Err(GatherError::Reported) => gathered_all = false,
                    Err(GatherError::Message(message)) => {
                        self.error(pos(value), format!("input '{}' of node '{}': {message}", port.value, node.name));
                        gathered_all = false;
                    }
                }
            }
            if !gathered_all {
                // A count without the failed gather would only add a confusing second error.
                continue;
            }
            let Some(refs) = self.expand_globs(refs, &node.name, &port.value, pos(value)) else { continue };
            counts.push((port.value.as_str(), refs.len(), port_pos));
            if refs.len() != 1 && !spec.many {
                self.error(pos(value), format!("input '{}' takes one artifact, got {}", port.value, refs.len()));
                continue;
            }
            let mut sources = Vec::new();
            for (reference, pattern) in refs {
                if let Some(mut source) =
                    self.resolve(&node.name, &port.value, &spec, &reference, pos(value), pending, index)
                {
                    if let Source::File { pattern: slot, .. } = &mut source {
                        *slot = pattern;
                    }
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
        self.check_aligned(node, &counts);
        bindings.sort_by(|a, b| a.port.cmp(&b.port));
        bindings
    }

    /// Lists the kind pairs item by item (`NodeKind::aligned_inputs`) must be as long as each
    /// other, or the node would fail at run time, after everything upstream ran.
    fn check_aligned(&mut self, node: &Pending, counts: &[(&str, usize, Pos)]) {
        for group in node.kind.aligned_inputs() {
            let bound: Vec<&(&str, usize, Pos)> = counts.iter().filter(|(port, _, _)| group.contains(port)).collect();
            let Some(&&(first, expected, _)) = bound.first() else { continue };
            for &&(port, count, at) in &bound[1..] {
                if count != expected {
                    self.error(
                        at,
                        format!(
                            "node '{}' ({}): input '{port}' has {count} artifact{} but '{first}' has {expected}; \
                             the kind pairs them one to one, in order, so give both the same number",
                            node.name,
                            node.kind.name(),
                            if count == 1 { "" } else { "s" }
                        ),
                    );
                }
            }
        }
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
            if path.trim().is_empty() {
                self.error(at, format!("input '{port}' of node '{node}': 'file:' needs a path after it"));
                return None;
            }
            let full = self.options.project_dir.join(path);
            match self.paths.check(&full) {
                Ok(shape) => {
                    if spec.ty.shape.is_some_and(|s| s != shape) {
                        self.error(at, format!("input '{port}' wants a {}, but {path} is a {}", spec.ty, shape.name()));
                    }
                }
                Err(problem) => {
                    self.error(at, format!("input '{port}' of node '{node}': {problem}"));
                    return None;
                }
            }
            return Some(Source::File { path: full, written: path.to_string(), pattern: None });
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
        // A mapped node's outputs are its items' outputs gathered into one dir per port; the
        // port a node maps over takes a collection whatever one item's type is.
        let produced = if self.mapped.contains_key(up_name) { &PortType::DIR } else { &outputs[output].ty };
        let maps_this_port = self.mapped.get(node).is_some_and(|p| p == port);
        if !maps_this_port && !produced.fits(&spec.ty) {
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

    /// Replaces each `file:` reference holding a glob (`*`, `?`, `[`) by the paths it matches,
    /// sorted, each with the pattern it came from. A pattern that matches nothing is an error:
    /// a typo would otherwise silently bind no data.
    fn expand_globs(
        &mut self,
        refs: Vec<String>,
        node: &str,
        port: &str,
        at: Pos,
    ) -> Option<Vec<(String, Option<String>)>> {
        let mut out = Vec::with_capacity(refs.len());
        let mut ok = true;
        for reference in refs {
            let Some(pattern) = reference.strip_prefix("file:").filter(|p| p.contains(['*', '?', '['])) else {
                out.push((reference, None));
                continue;
            };
            let project = self.options.project_dir;
            let full = project.join(pattern);
            let options = glob::MatchOptions { require_literal_leading_dot: true, ..glob::MatchOptions::new() };
            let matches = match glob::glob_with(&full.to_string_lossy(), options) {
                Ok(paths) => paths,
                Err(e) => {
                    self.error(at, format!("input '{port}' of node '{node}': bad pattern file:{pattern}: {}", e.msg));
                    ok = false;
                    continue;
                }
            };
            let mut found: Vec<String> = Vec::new();
            for path in matches {
                match path {
                    Ok(path) => match path.strip_prefix(project).unwrap_or(&path).to_str() {
                        Some(rel) => found.push(format!("file:{rel}")),
                        None => {
                            self.error(
                                at,
                                format!(
                                    "input '{port}' of node '{node}': {} is not valid UTF-8; rename it",
                                    path.display()
                                ),
                            );
                            ok = false;
                        }
                    },
                    Err(e) => {
                        self.error(at, format!("input '{port}' of node '{node}': file:{pattern}: {e}"));
                        ok = false;
                    }
                }
            }
            if found.is_empty() && ok {
                self.error(
                    at,
                    format!(
                        "input '{port}' of node '{node}': file:{pattern} matches no file (relative to {})",
                        project.display()
                    ),
                );
                ok = false;
            }
            found.sort();
            out.extend(found.into_iter().map(|r| (r, Some(pattern.to_string()))));
        }
        ok.then_some(out)
    }

    /// `{item.X}` needs items: a node without `map:` has none, and only a samplesheet row has
    /// fields besides its id.
    fn check_item_fields(&mut self, node: &Pending, map: Option<&MapSpec>) {
        let fields = node.kind.item_fields(&node.configured.params);
        let problem = match (map, fields.first()) {
            (_, None) => return,
            (None, Some(field)) => format!(
                "node '{}' uses {{item.{field}}}, which exists only in a node that maps over an input: add                  `map: PORT`, or use {{in.PORT}}",
                node.name
            ),
            (Some(spec), _) if spec.id_column.is_some() => return,
            (Some(_), _) => match fields.iter().find(|f| *f != "id") {
                Some(field) => format!(
                    "node '{}' uses {{item.{field}}}, but only a samplesheet row (`map: {{ over: PORT, id: COLUMN }}`)                      has fields besides {{item.id}}",
                    node.name
                ),
                None => return,
            },
        };
        self.error(node.pos, problem);
    }

    /// Reads `map: PORT` or `map: { over: PORT, on_error: fail | skip }`.
    fn map_spec(&mut self, raw: &Spanned<Value>) -> Option<MapSpec> {
        let at = pos(raw);
        let usage = "write `map: PORT` or `map: { over: PORT, on_error: fail | skip, id: COLUMN }`";
        let (port, on_error, id_column) = match &raw.value {
            Value::String(port) => (port.clone(), OnItemError::Fail, None),
            Value::Object(fields) => {
                if let Some(unknown) = fields.keys().find(|k| !matches!(k.as_str(), "over" | "on_error" | "id")) {
                    self.error(at, format!("unknown field '{unknown}' in `map:`; {usage}"));
                    return None;
                }
                let Some(Value::String(port)) = fields.get("over") else {
                    self.error(at, format!("`map:` needs `over:`, the input port to map over; {usage}"));
                    return None;
                };
                let on_error = match fields.get("on_error").map(|v| v.as_str()) {
                    None | Some(Some("fail")) => OnItemError::Fail,
                    Some(Some("skip")) => OnItemError::Skip,
                    Some(_) => {
                        self.error(
                            at,
                            "`on_error:` of `map:` is `fail` (the node fails after every item was tried) or `skip` \
                             (failed items are left out and listed)",
                        );
                        return None;
                    }
                };
                let id_column = match fields.get("id") {
                    None => None,
                    Some(Value::String(column)) if !column.is_empty() => Some(column.clone()),
                    Some(_) => {
                        self.error(at, "`id:` of `map:` names the samplesheet column that holds each row's id");
                        return None;
                    }
                };
                (port.clone(), on_error, id_column)
            }
            other => {
                self.error(at, format!("`map:` is {other}; {usage}"));
                return None;
            }
        };
        Some(MapSpec { port, on_error, id_column })
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

    fn cluster(&mut self, raw: Option<&Spanned<RawCluster>>) -> ClusterDefaults {
        let Some(raw) = raw else { return ClusterDefaults::default() };
        cluster::defaults(&raw.value, "cluster", &mut |at, message| self.error(at, message))
    }

    fn placement(&mut self, raw: Option<&Spanned<RawResources>>) -> Placement {
        let Some(raw) = raw else { return Placement::default() };
        let raw = &raw.value;
        cluster::check_time(raw.time.as_ref(), "resources.time", &mut |at, message| self.error(at, message));
        let text = |field: &Option<Spanned<String>>| field.as_ref().map(|f| f.value.clone());
        Placement {
            local: raw.local.as_ref().is_some_and(|l| l.value),
            time: text(&raw.time),
            partition: text(&raw.partition),
            account: text(&raw.account),
            qos: text(&raw.qos),
            options: raw.cluster_options.as_ref().map(|o| o.value.clone()).unwrap_or_default(),
        }
    }

    fn publish(
        &mut self,
        raw: &IndexMap<Spanned<String>, Spanned<String>>,
        pending: &[Option<Pending>],
        index: &HashMap<String, NodeId>,
        vars: &BTreeMap<String, Value>,
        protected: &[(PathBuf, String)],
    ) -> Vec<Publish> {
        let mut out: Vec<Publish> = Vec::new();
        let places = Places::of(self.options.project_dir, self.options.state_dir);
        // Resolved destination, as written, and where, for every accepted entry.
        let mut taken: Vec<(PathBuf, String, Pos)> = Vec::new();
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
            if !self.check_scope(&Value::String(dest.value.clone()), pos(dest), vars, false) {
                continue;
            }
            let dest_text = vars::substitute_text(&dest.value, vars);
            if dest_text.is_empty() {
                self.error(pos(dest), "publish: empty destination path");
                continue;
            }
            let resolved = match check_publish_dest(&dest_text, &places) {
                Ok(resolved) => resolved,
                Err(problem) => {
                    self.error(pos(dest), format!("publish: the destination '{dest_text}' {problem}"));
                    continue;
                }
            };
            if let Some((_, what)) = protected.iter().find(|(p, _)| p.starts_with(&resolved) || resolved.starts_with(p))
            {
                self.error(
                    pos(dest),
                    format!(
                        "publish: the destination '{dest_text}' would replace {what} (or be written inside it); \
                         flow never publishes over what a workflow reads, even with --overwrite: publish to a path \
                         of its own, such as results/NAME"
                    ),
                );
                continue;
            }
            if let Some((other, other_text, other_pos)) =
                taken.iter().find(|(p, _, _)| p.starts_with(&resolved) || resolved.starts_with(p))
            {
                let message = if other == &resolved {
                    format!("publish: two artifacts go to {dest_text}")
                } else {
                    format!(
                        "publish: the destinations '{dest_text}' and '{other_text}' (at {}:{}) overlap, one \
                         inside the other; publishing one would replace the other, so give each its own path",
                        other_pos.line, other_pos.column
                    )
                };
                self.error(pos(dest), message);
                continue;
            }
            // The path as the user's project directory spells it, with every `..` and symbolic
            // link already followed: publish writes exactly where this check looked.
            let dest_path = match resolved.strip_prefix(&places.project) {
                Ok(inside) => self.options.project_dir.join(inside),
                Err(_) => resolved.clone(),
            };
            taken.push((resolved, dest_text, pos(dest)));
            out.push(Publish { node: id, output, dest: dest_path, pos: at });
        }
        out
    }
}

/// The project and state directories with symbolic links resolved, for containment checks.
struct Places {
    project: PathBuf,
    state: PathBuf,
}

impl Places {
    fn of(project_dir: &Path, state_dir: &Path) -> Places {
        Places::resolved_by(&mut PathResolver::default(), project_dir, state_dir)
    }

    fn resolved_by(resolver: &mut PathResolver, project_dir: &Path, state_dir: &Path) -> Places {
        let mut resolve = |p: &Path| resolver.resolve(p).unwrap_or_else(|_| normalise(p));
        Places { project: resolve(project_dir), state: resolve(&project_dir.join(state_dir)) }
    }
}

/// Checks a publish destination again where it is used (the run may come from the workflow
/// cache, and a symbolic link made since the load could redirect it): `Err` is a sentence
/// about `dest`.
pub fn check_publish_path(dest: &Path, project_dir: &Path, state_dir: &Path) -> Result<PathBuf, String> {
    let places = Places::of(project_dir, state_dir);
    check_publish_dest(&dest.to_string_lossy(), &places).map_err(|why| format!("publish: {} {why}", dest.display()))
}

/// Checks a publish destination as written (`results/a.csv`, or an absolute path) and returns
/// it resolved. Publishing replaces the destination, so it must lie strictly inside the
/// project, neither inside the state directory nor around it; `Err` says which rule it breaks,
/// as the end of a sentence that starts with the destination.
fn check_publish_dest(written: &str, places: &Places) -> Result<PathBuf, String> {
    let joined = places.project.join(written);
    let resolved = resolve_path(&joined).map_err(|e| format!("cannot be resolved: {e}"))?;
    let project = &places.project;
    let state = &places.state;
    if &resolved == project {
        return Err(format!(
            "is the project directory itself ({}); publishing replaces its destination, so name a file or \
             folder inside the project, such as results/NAME",
            project.display()
        ));
    }
    if resolved.starts_with(state) {
        return Err(format!(
            "may not be inside flow's state directory ({}), which only flow writes; publish to a path such \
             as results/NAME",
            state.display()
        ));
    }
    if state.starts_with(&resolved) {
        return Err(format!(
            "holds flow's state directory ({}); publishing there would replace the store, so name a path \
             beside it, such as results/NAME",
            state.display()
        ));
    }
    if !resolved.starts_with(project) {
        let through_link = normalise(&joined).starts_with(project);
        return Err(format!(
            "resolves to {}, outside the project directory {}{}; flow publishes only inside the project",
            resolved.display(),
            project.display(),
            if through_link { " (through a symbolic link)" } else { "" }
        ));
    }
    Ok(resolved)
}

/// Checks a `file:` input before anything runs and returns its shape. Only regular files,
/// directories and symbolic links to them are inputs: reading a FIFO blocks and a device such
/// as `/dev/zero` never ends, and flow would hash them forever while holding the store lock.
/// Inside a directory every file must be readable and none special (a symbolic link inside a
/// directory is hashed by its text, so it may point anywhere). The project directory itself
/// and any directory holding the state directory are refused: hashing them would read the
/// store while the run writes it.
///
/// One checker serves the many paths of one load or one samplesheet: their folders are
/// resolved once.
pub struct InputPaths {
    places: Places,
    resolver: PathResolver,
}

impl InputPaths {
    pub fn new(project_dir: &Path, state_dir: &Path) -> InputPaths {
        let mut resolver = PathResolver::default();
        let places = Places::resolved_by(&mut resolver, project_dir, state_dir);
        InputPaths { places, resolver }
    }

    /// `path` as [`resolve_path`] resolves it.
    pub fn resolve(&mut self, path: &Path) -> std::io::Result<PathBuf> {
        self.resolver.resolve(path)
    }

    /// The shape of the input at `full`; `Err` is a sentence naming the path and the fix.
    pub fn check(&mut self, full: &Path) -> Result<Shape, String> {
        let places = &self.places;
        let resolved = self.resolver.resolve(full).unwrap_or_else(|_| normalise(full));
        if resolved == places.project {
            return Err(format!(
                "{} is the project directory itself; name the files or a folder inside it that the node reads",
                resolved.display()
            ));
        }
        if places.state.starts_with(&resolved) {
            return Err(format!(
                "{} holds flow's state directory ({}); name a folder that does not contain it",
                resolved.display(),
                places.state.display()
            ));
        }
        let meta = match std::fs::metadata(full) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("file not found: {}", full.display()));
            }
            Err(e) => return Err(format!("cannot read {}: {}", full.display(), io_reason(&e))),
        };
        if meta.is_dir() {
            check_tree(full, full)?;
            Ok(Shape::Dir)
        } else if meta.is_file() {
            check_readable(full)?;
            Ok(Shape::File)
        } else {
            let kind = crate::digest::special_kind(meta.file_type()).unwrap_or("a special file");
            Err(format!(
                "{} is {kind}; a `file:` input must be a regular file or a directory (or a symbolic link to one)",
                full.display()
            ))
        }
    }
}

fn check_readable(file: &Path) -> Result<(), String> {
    // Only ever called on a regular file, whose open does not block.
    std::fs::File::open(file).map(drop).map_err(|e| format!("cannot read {}: {}", file.display(), io_reason(&e)))
}

fn check_tree(root: &Path, dir: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {}", dir.display(), io_reason(&e)))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read the folder {}: {}", dir.display(), io_reason(&e)))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            continue;
        } else if file_type.is_dir() {
            check_tree(root, &path)?;
        } else if file_type.is_file() {
            check_readable(&path)?;
        } else {
            let kind = crate::digest::special_kind(file_type).unwrap_or("a special file");
            return Err(format!(
                "the folder {} holds {}, which is {kind}; flow hashes only regular files, folders and symbolic \
                 links, so move it out of the folder",
                root.display(),
                path.display()
            ));
        }
    }
    Ok(())
}

/// An I/O error in words, with the fix for the common one.
fn io_reason(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        "permission denied (make it readable for the user running flow)".to_string()
    } else {
        e.to_string()
    }
}

/// `path` made absolute with `.` and `..` folded and every symbolic link along it followed,
/// as far as it exists; the part that does not exist yet is folded as written, the way
/// creating it would go (`new/../x` is `x`). Fails only on a loop of symbolic links.
pub fn resolve_path(path: &Path) -> std::io::Result<PathBuf> {
    PathResolver::default().resolve(path)
}

/// Resolves paths as [`resolve_path`] does, remembering what it found at each path on the way:
/// the inputs of a workflow or the rows of a samplesheet share their folders, so each path
/// costs one `lstat` instead of one per component (a fresh plan of 3,335 `file:` inputs spent a
/// sixth of its time in `statx`). Meant for one load or one sheet: a link changed meanwhile is
/// not seen.
#[derive(Default)]
pub struct PathResolver {
    /// A path whose parent is resolved: the target if it is a symbolic link, else `None`.
    seen: HashMap<PathBuf, Option<PathBuf>>,
}

impl PathResolver {
    pub fn resolve(&mut self, path: &Path) -> std::io::Result<PathBuf> {
        use std::ffi::OsString;
        use std::path::Component;
        const MAX_LINKS: usize = 40;
        enum Part {
            Root,
            Up,
            Name(OsString),
        }
        fn parts(path: &Path) -> Vec<Part> {
            // Reversed, so the next part is popped from the end.
            path.components()
                .filter_map(|c| match c {
                    Component::RootDir | Component::Prefix(_) => Some(Part::Root),
                    Component::ParentDir => Some(Part::Up),
                    Component::Normal(name) => Some(Part::Name(name.to_os_string())),
                    Component::CurDir => None,
                })
                .rev()
                .collect()
        }
        let absolute = std::path::absolute(path)?;
        let mut todo = parts(&absolute);
        let mut out = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = todo.pop() {
            match part {
                Part::Root => out = PathBuf::from("/"),
                Part::Up => {
                    out.pop();
                }
                Part::Name(name) => {
                    let next = out.join(&name);
                    let link = match self.seen.get(&next) {
                        Some(link) => link.clone(),
                        None => {
                            let link = match std::fs::symlink_metadata(&next) {
                                Ok(meta) if meta.file_type().is_symlink() => Some(std::fs::read_link(&next)?),
                                _ => None,
                            };
                            self.seen.insert(next.clone(), link.clone());
                            link
                        }
                    };
                    match link {
                        Some(target) => {
                            links += 1;
                            if links > MAX_LINKS {
                                return Err(std::io::Error::other(format!(
                                    "too many levels of symbolic links at {}",
                                    next.display()
                                )));
                            }
                            // A relative target is read from the link's folder, which `out` still is.
                            todo.extend(parts(&target));
                        }
                        None => out = next,
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `path` made absolute with `.` and `..` folded as text, following no link.
fn normalise(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::from("/");
    for component in absolute.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(name) => out.push(name),
            _ => {}
        }
    }
    out
}

/// Each template's variables and the template's name; the first template wins a name two
/// declare (the second is an error where it stands).
fn loop_variables(nodes: &IndexMap<Spanned<String>, Spanned<RawNode>>) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for (key, node) in nodes {
        if let Some(for_each) = &node.value.for_each {
            for variable in for_each.value.variable_names() {
                names.entry(variable.value.clone()).or_insert_with(|| key.value.clone());
            }
        }
    }
    names
}

/// Every string inside a parsed value.
fn strings_in(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(strings_in).collect(),
        Value::Object(map) => map.values().flat_map(strings_in).collect(),
        _ => Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// One resolver for many paths answers as a fresh resolution of each: links to folders,
    /// relative links, `..` after a link, paths that do not exist yet, and link loops.
    #[test]
    fn a_shared_resolver_resolves_every_path_as_a_fresh_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("real/data")).unwrap();
        std::fs::write(root.join("real/data/a.txt"), "a").unwrap();
        symlink(root.join("real"), root.join("abs")).unwrap();
        symlink("real/data", root.join("rel")).unwrap();
        symlink("a.txt", root.join("real/data/b.txt")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let paths = [
            "abs/data/a.txt",
            "rel/a.txt",
            "rel/b.txt",
            "abs/data/../data/b.txt",
            "rel/../x",
            "new/../abs/data",
            "abs/missing/file",
            "rel/a.txt",
        ];
        let mut shared = PathResolver::default();
        for written in paths {
            let path = root.join(written);
            assert_eq!(shared.resolve(&path).unwrap(), resolve_path(&path).unwrap(), "{written}");
        }
        assert_eq!(shared.resolve(&root.join("rel/b.txt")).unwrap(), root.join("real/data/a.txt"));
        assert_eq!(shared.resolve(&root.join("rel/../x")).unwrap(), root.join("real/x"));
        assert!(shared.resolve(&root.join("loop1/x")).is_err());
        assert!(shared.resolve(&root.join("loop1/x")).is_err(), "a loop stays a loop when remembered");
    }
}
