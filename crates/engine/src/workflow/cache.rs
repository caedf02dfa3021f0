//! A cache of validated workflows, so an unchanged workflow file is not parsed and checked
//! again on every run.
//!
//! The key covers everything a load depends on: a format constant, the engine version, the
//! workflow file's path and bytes, the `-s` overrides in order, the project directory, every
//! kind's name, version and code digest, and the running executable's size and mtime.
//! `file:` inputs are the one thing outside the key: a hit re-checks that each still exists
//! with the shape it had, and falls back to a full load (which reports the problem) otherwise. An entry that cannot be read or parsed
//! is ignored. Entries are written only by the caller (`flow run`, under the store lock),
//! and only for workflows that loaded without errors.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnostic::{Diagnostics, Pos};
use crate::digest::{Digest, Shape};
use crate::kind::{NodeKind, PortSpec, PortType};
use crate::store::{create_private_dir, write_atomic};
use crate::workflow::load::{LoadOptions, load_str, read_workflow_text};
use crate::workflow::model::{
    ClusterDefaults, InputBinding, MapSpec, Node, NodeId, OnItemError, Placement, Publish, Source, Workflow,
};

/// The cache's directory inside the state directory.
pub const DIR_NAME: &str = "workflow-cache";
/// Bumped whenever the layout of a cache entry or the meaning of a load changes.
const FORMAT: &str = "flow-workflow-cache-4";
/// Entries kept in the cache directory; older ones are removed when a new one is written.
const KEEP: usize = 4;

/// A workflow and the cache key of the load that produced it.
pub struct Loaded {
    pub workflow: Workflow,
    pub key: Digest,
    /// Whether the workflow came from the cache.
    pub hit: bool,
}

/// The cache key of loading `text` as the file `file` with `options`.
pub fn cache_key(text: &[u8], file: &Path, options: &LoadOptions<'_>) -> Digest {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(FORMAT.as_bytes());
    field(env!("CARGO_PKG_VERSION").as_bytes());
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    field(absolute.as_os_str().as_encoded_bytes());
    field(options.project_dir.as_os_str().as_encoded_bytes());
    field(&(options.overrides.len() as u64).to_le_bytes());
    for (key, value) in options.overrides {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    for kind in options.registry.iter() {
        field(kind.name().as_bytes());
        field(kind.version().as_bytes());
        match kind.code_digest() {
            Some(digest) => field(&digest.0),
            None => field(b"-"),
        }
    }
    // A rebuilt flow may check params differently without any kind bumping its version
    // (a new default, say); the running executable's size and mtime tell builds apart.
    let build = std::env::current_exe()
        .and_then(fs::metadata)
        .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    field(build.as_bytes());
    field(text);
    Digest(*h.finalize().as_bytes())
}

/// Loads a workflow file, from the cache in `cache_dir` when an entry for it is there and
/// still valid. Never writes: call [`save`] after a successful load to fill the cache.
pub fn load_cached(file: &Path, options: &LoadOptions<'_>, cache_dir: &Path) -> Result<Loaded, Diagnostics> {
    let text = read_workflow_text(file)?;
    let key = cache_key(text.as_bytes(), file, options);
    if let Some(workflow) = read_entry(&entry_path(cache_dir, &key), &key, options) {
        return Ok(Loaded { workflow, key, hit: true });
    }
    let workflow = load_str(&text, file, options)?;
    Ok(Loaded { workflow, key, hit: false })
}

/// Writes the cache entry for a workflow loaded with `key`, and prunes old entries.
/// Skipped (not an error) when a `file:` input vanished since the load.
pub fn save(cache_dir: &Path, key: &Digest, workflow: &Workflow) -> io::Result<()> {
    let Some(mut entry) = Entry::from_workflow(workflow) else { return Ok(()) };
    entry.key = key.to_hex();
    let bytes = serde_json::to_vec(&entry).map_err(io::Error::other)?;
    create_private_dir(cache_dir)?;
    write_atomic(&entry_path(cache_dir, key), &bytes)?;
    prune(cache_dir);
    Ok(())
}

fn entry_path(cache_dir: &Path, key: &Digest) -> PathBuf {
    cache_dir.join(key.to_string())
}

/// An entry counts only if it says it was made from this very load key: a file copied or
/// renamed into another entry's place (or a damaged name) must not run another workflow.
fn read_entry(path: &Path, key: &Digest, options: &LoadOptions<'_>) -> Option<Workflow> {
    let bytes = fs::read(path).ok()?;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    if entry.key != key.to_hex() {
        return None;
    }
    entry.into_workflow(options)
}

/// Keeps the newest `KEEP` entries; failures are harmless (the cache only grows a little).
fn prune(cache_dir: &Path) {
    let Ok(dir) = fs::read_dir(cache_dir) else { return };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    if entries.len() <= KEEP {
        return;
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, path) in entries.into_iter().skip(KEEP) {
        let _ = fs::remove_file(path);
    }
}

/// A regular file or a directory (through symbolic links); `None` for anything else.
fn shape_of(path: &Path) -> Option<Shape> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_dir() {
        Some(Shape::Dir)
    } else if meta.is_file() {
        Some(Shape::File)
    } else {
        None
    }
}

/// The stored form. Kinds and output lists are interned: nodes of one kind usually share
/// their outputs, so each distinct list is stored once and nodes refer to it by index.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// The load key (workflow bytes, path, variables, kinds, build) this entry was made from.
    key: String,
    name: String,
    file: PathBuf,
    project_dir: PathBuf,
    kinds: Vec<String>,
    outputs: Vec<Vec<Port>>,
    nodes: Vec<EntryNode>,
    publish: Vec<EntryPublish>,
    #[serde(default)]
    cluster: ClusterDefaults,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Hash, Clone)]
struct Port {
    name: String,
    ty: String,
    doc: String,
    required: bool,
    many: bool,
    #[serde(default)]
    shown: bool,
}

#[derive(Serialize, Deserialize)]
struct EntryNode {
    name: String,
    kind: usize,
    params: Value,
    inputs: Vec<EntryInput>,
    outputs: usize,
    threads: u32,
    memory: Option<u64>,
    retries: u32,
    /// Mapped port, whether failed items are skipped, and a samplesheet's id column.
    #[serde(default)]
    map: Option<(String, bool, Option<String>)>,
    #[serde(default)]
    placement: Placement,
    pos: (u32, u32),
}

#[derive(Serialize, Deserialize)]
struct EntryInput {
    port: String,
    sources: Vec<EntrySource>,
}

#[derive(Serialize, Deserialize)]
enum EntrySource {
    /// Node id and output index.
    N(u32, usize),
    /// Resolved path, the text written in the workflow, and whether it was a directory.
    F(PathBuf, String, bool),
}

#[derive(Serialize, Deserialize)]
struct EntryPublish {
    node: u32,
    output: usize,
    dest: PathBuf,
    pos: (u32, u32),
}

impl Entry {
    fn from_workflow(workflow: &Workflow) -> Option<Entry> {
        let mut kinds: Vec<String> = Vec::new();
        let mut kind_index: HashMap<String, usize> = HashMap::new();
        let mut outputs: Vec<Vec<Port>> = Vec::new();
        let mut output_index: HashMap<Vec<Port>, usize> = HashMap::new();
        let mut nodes = Vec::with_capacity(workflow.nodes.len());
        for node in &workflow.nodes {
            let kind = *kind_index.entry(node.kind.name().to_string()).or_insert_with(|| {
                kinds.push(node.kind.name().to_string());
                kinds.len() - 1
            });
            let ports: Vec<Port> = node
                .outputs
                .iter()
                .map(|p| Port {
                    name: p.name.clone(),
                    ty: p.ty.to_string(),
                    doc: p.doc.clone(),
                    required: p.required,
                    many: p.many,
                    shown: p.shown,
                })
                .collect();
            let out = match output_index.get(&ports) {
                Some(&i) => i,
                None => {
                    outputs.push(ports.clone());
                    output_index.insert(ports, outputs.len() - 1);
                    outputs.len() - 1
                }
            };
            let mut inputs = Vec::with_capacity(node.inputs.len());
            for binding in &node.inputs {
                let mut sources = Vec::with_capacity(binding.sources.len());
                for source in &binding.sources {
                    sources.push(match source {
                        Source::Node { node, output } => EntrySource::N(node.0, *output),
                        // What a glob matches changes without the workflow changing: load it anew.
                        Source::File { pattern: Some(_), .. } => return None,
                        Source::File { path, written, pattern: None } => {
                            let shape = shape_of(path)?;
                            EntrySource::F(path.clone(), written.clone(), shape == Shape::Dir)
                        }
                    });
                }
                inputs.push(EntryInput { port: binding.port.clone(), sources });
            }
            nodes.push(EntryNode {
                name: node.name.clone(),
                kind,
                params: node.params.clone(),
                inputs,
                outputs: out,
                threads: node.threads,
                memory: node.memory,
                retries: node.retries,
                map: node.map.as_ref().map(|m| (m.port.clone(), m.on_error == OnItemError::Skip, m.id_column.clone())),
                placement: node.placement.clone(),
                pos: (node.pos.line, node.pos.column),
            });
        }
        let publish = workflow
            .publish
            .iter()
            .map(|p| EntryPublish {
                node: p.node.0,
                output: p.output,
                dest: p.dest.clone(),
                pos: (p.pos.line, p.pos.column),
            })
            .collect();
        Some(Entry {
            key: String::new(),
            name: workflow.name.clone(),
            file: workflow.file.clone(),
            project_dir: workflow.project_dir.clone(),
            kinds,
            outputs,
            nodes,
            publish,
            cluster: workflow.cluster.clone(),
        })
    }

    /// The workflow, or `None` when anything does not check out (a missing kind or file, a
    /// changed file shape, an index out of range).
    fn into_workflow(self, options: &LoadOptions<'_>) -> Option<Workflow> {
        let kinds: Vec<Arc<dyn NodeKind>> =
            self.kinds.iter().map(|name| options.registry.get(name).cloned()).collect::<Option<_>>()?;
        let mut outputs: Vec<Vec<PortSpec>> = Vec::with_capacity(self.outputs.len());
        for ports in self.outputs {
            let mut specs = Vec::with_capacity(ports.len());
            for p in ports {
                specs.push(PortSpec {
                    name: p.name,
                    ty: PortType::parse(&p.ty)?,
                    doc: p.doc,
                    required: p.required,
                    many: p.many,
                    shown: p.shown,
                });
            }
            outputs.push(specs);
        }
        let count = self.nodes.len();
        let mut output_counts = Vec::with_capacity(count);
        for node in &self.nodes {
            output_counts.push(outputs.get(node.outputs)?.len());
        }
        let source_ok = |node: u32, output: usize| (node as usize) < count && output < output_counts[node as usize];
        let mut nodes = Vec::with_capacity(count);
        for (i, node) in self.nodes.into_iter().enumerate() {
            let mut inputs = Vec::with_capacity(node.inputs.len());
            for binding in node.inputs {
                let mut sources = Vec::with_capacity(binding.sources.len());
                for source in binding.sources {
                    sources.push(match source {
                        EntrySource::N(node, output) => {
                            if !source_ok(node, output) {
                                return None;
                            }
                            Source::Node { node: NodeId(node), output }
                        }
                        EntrySource::F(path, written, dir) => {
                            // Still the shape the load accepted: a FIFO or a device in a file's
                            // place must not hang the hashing (a tree's entries are checked by the
                            // hashing walk itself, which refuses special files). One stat per
                            // input: this runs on every no-op run. Where the load's containment
                            // checks passed, they still pass: the key covers both directories.
                            let fits = shape_of(&path) == Some(if dir { Shape::Dir } else { Shape::File });
                            if !fits {
                                return None;
                            }
                            Source::File { path, written, pattern: None }
                        }
                    });
                }
                inputs.push(InputBinding { port: binding.port, sources });
            }
            nodes.push(Node {
                id: NodeId(i as u32),
                name: node.name,
                kind: kinds.get(node.kind)?.clone(),
                params: node.params,
                inputs,
                outputs: outputs[node.outputs].clone(),
                threads: node.threads,
                memory: node.memory,
                retries: node.retries,
                map: node.map.map(|(port, skip, id_column)| MapSpec {
                    port,
                    on_error: if skip { OnItemError::Skip } else { OnItemError::Fail },
                    id_column,
                }),
                placement: node.placement,
                pos: Pos { line: node.pos.0, column: node.pos.1 },
            });
        }
        let mut publish = Vec::with_capacity(self.publish.len());
        for p in self.publish {
            if !source_ok(p.node, p.output) {
                return None;
            }
            publish.push(Publish {
                node: NodeId(p.node),
                output: p.output,
                dest: p.dest,
                pos: Pos { line: p.pos.0, column: p.pos.1 },
            });
        }
        Some(Workflow {
            file: self.file,
            name: self.name,
            project_dir: self.project_dir,
            nodes,
            publish,
            sheet_formats: options.registry.sheet_formats().to_vec(),
            cluster: self.cluster,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{Configured, Inputs, KindInfo, NodeContext, NodeError, Outputs, ParamError, Registry};

    /// `t.copy`: an optional input `src` (file) and one output `out`.
    struct Copy(&'static str);

    impl NodeKind for Copy {
        fn name(&self) -> &str {
            "t.copy"
        }
        fn version(&self) -> &str {
            self.0
        }
        fn info(&self) -> KindInfo {
            KindInfo {
                summary: String::new(),
                inputs: Inputs::Fixed(vec![PortSpec::new("src", PortType::FILE, "").optional().many()]),
                outputs: Outputs::Fixed(vec![PortSpec::new("out", PortType::file("txt"), "the copy")]),
                params: vec![],
            }
        }
        fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
            Ok(self.info().configured(params.clone()))
        }
        fn run(&self, _ctx: &NodeContext<'_>) -> Result<(), NodeError> {
            Ok(())
        }
    }

    fn registry(version: &'static str) -> Registry {
        let mut registry = Registry::new();
        registry.register(Arc::new(Copy(version)));
        registry
    }

    const WORKFLOW: &str = "\
name: demo
vars:
  n: 3
cluster:
  executor: slurm
  partition: short
  time: 30
nodes:
  a:
    uses: t.copy
    in:
      src: file:data.txt
    with:
      n: ${n}
  b:
    uses: t.copy
    in:
      src: [a.out, file:data.txt]
    resources:
      threads: 2
      memory: 1G
      time: 1-02:00:00
      partition: long
      cluster_options: [--exclusive]
    retries: 1
publish:
  b: out/b.txt
";

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wf.yaml");
        fs::write(&file, WORKFLOW).unwrap();
        fs::write(dir.path().join("data.txt"), "x").unwrap();
        let cache = dir.path().join(".flow").join("workflow-cache");
        (dir, file, cache)
    }

    fn assert_same(a: &Workflow, b: &Workflow) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.file, b.file);
        assert_eq!(a.project_dir, b.project_dir);
        assert_eq!(a.cluster, b.cluster);
        assert_eq!(a.cluster.executor.as_deref(), Some("slurm"));
        assert_eq!(a.nodes.len(), b.nodes.len());
        for (x, y) in a.nodes.iter().zip(&b.nodes) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.name, y.name);
            assert_eq!(x.kind.name(), y.kind.name());
            assert_eq!(x.params, y.params);
            assert_eq!(x.inputs.len(), y.inputs.len());
            for (i, j) in x.inputs.iter().zip(&y.inputs) {
                assert_eq!(i.port, j.port);
                assert_eq!(i.sources, j.sources);
            }
            assert_eq!(x.outputs, y.outputs);
            assert_eq!((x.threads, x.memory, x.retries, x.pos), (y.threads, y.memory, y.retries, y.pos));
            assert_eq!(x.placement, y.placement);
        }
        assert_eq!(a.publish.len(), b.publish.len());
        for (x, y) in a.publish.iter().zip(&b.publish) {
            assert_eq!((x.node, x.output, &x.dest, x.pos), (y.node, y.output, &y.dest, y.pos));
        }
    }

    #[test]
    fn cached_workflow_equals_loaded_one_and_keys_change() {
        let (dir, file, cache) = setup();
        let registry = registry("1");
        let overrides = vec![("n".to_string(), "4".to_string())];
        let options = LoadOptions {
            registry: &registry,
            overrides: &overrides,
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };

        let first = load_cached(&file, &options, &cache).unwrap();
        assert!(!first.hit);
        assert!(!cache.exists(), "loading never writes the cache");
        save(&cache, &first.key, &first.workflow).unwrap();
        let second = load_cached(&file, &options, &cache).unwrap();
        assert!(second.hit);
        assert_eq!(second.key, first.key);
        assert_same(&first.workflow, &second.workflow);
        assert_same(&crate::workflow::load(&file, &options).unwrap(), &second.workflow);
        assert_eq!(second.workflow.nodes[0].params, serde_json::json!({"n": 4}));

        // Another override, another kind version, or other file bytes: a miss.
        let other = vec![("n".to_string(), "5".to_string())];
        let changed = LoadOptions {
            registry: &registry,
            overrides: &other,
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };
        assert!(!load_cached(&file, &changed, &cache).unwrap().hit);
        let registry2 = registry_v2();
        let changed = LoadOptions {
            registry: &registry2,
            overrides: &overrides,
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };
        assert!(!load_cached(&file, &changed, &cache).unwrap().hit);
        fs::write(&file, WORKFLOW.replace("1G", "2G")).unwrap();
        let third = load_cached(&file, &options, &cache).unwrap();
        assert!(!third.hit);
        assert_eq!(third.workflow.nodes[1].memory, Some(2 << 30));
    }

    fn registry_v2() -> Registry {
        registry("2")
    }

    #[test]
    fn missing_file_input_falls_back_to_a_load_error() {
        let (dir, file, cache) = setup();
        let registry = registry("1");
        let options = LoadOptions {
            registry: &registry,
            overrides: &[],
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };
        let first = load_cached(&file, &options, &cache).unwrap();
        save(&cache, &first.key, &first.workflow).unwrap();
        assert!(load_cached(&file, &options, &cache).unwrap().hit);

        fs::remove_file(dir.path().join("data.txt")).unwrap();
        let err = load_cached(&file, &options, &cache).err().expect("a load error");
        let text = err.to_string();
        assert!(text.contains("file not found"), "{text}");
        assert!(text.contains(":12:"), "points at the line: {text}");

        // A directory in its place has another shape: also a full load.
        fs::create_dir(dir.path().join("data.txt")).unwrap();
        let err = load_cached(&file, &options, &cache).err().expect("a load error");
        assert!(err.to_string().contains("is a dir"), "{err}");
    }

    #[test]
    fn an_entry_swapped_in_from_another_load_is_ignored() {
        let (dir, file, cache) = setup();
        let registry = registry("1");
        let four = vec![("n".to_string(), "4".to_string())];
        let five = vec![("n".to_string(), "5".to_string())];
        let with_four = LoadOptions {
            registry: &registry,
            overrides: &four,
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };
        let with_five = LoadOptions {
            registry: &registry,
            overrides: &five,
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };
        let a = load_cached(&file, &with_four, &cache).unwrap();
        save(&cache, &a.key, &a.workflow).unwrap();
        let b = load_cached(&file, &with_five, &cache).unwrap();
        // Put the n=4 entry where the n=5 load looks.
        fs::copy(entry_path(&cache, &a.key), entry_path(&cache, &b.key)).unwrap();
        let again = load_cached(&file, &with_five, &cache).unwrap();
        assert!(!again.hit, "a swapped entry is not a hit");
        assert_eq!(again.workflow.nodes[0].params, serde_json::json!({"n": 5}));
    }

    #[test]
    fn a_corrupt_entry_is_ignored() {
        let (dir, file, cache) = setup();
        let registry = registry("1");
        let options = LoadOptions {
            registry: &registry,
            overrides: &[],
            project_dir: dir.path(),
            state_dir: &dir.path().join(".flow"),
        };
        let first = load_cached(&file, &options, &cache).unwrap();
        save(&cache, &first.key, &first.workflow).unwrap();
        fs::write(entry_path(&cache, &first.key), b"{not json").unwrap();
        let again = load_cached(&file, &options, &cache).unwrap();
        assert!(!again.hit);
        assert_same(&first.workflow, &again.workflow);
    }
}
