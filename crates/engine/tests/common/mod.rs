//! Node kinds for engine tests: small, deterministic, and countable.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flow_engine::digest::Digest;
use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    Registry, typed_params,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `test.write`: writes `text` (plus, if bound, the bytes of input `src`) to output `out`.
/// Counts its runs, and its version and code digest can be set to simulate upgrades.
pub struct Write {
    pub version: String,
    pub code: Option<Digest>,
    pub runs: AtomicUsize,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WriteParams {
    text: String,
    #[serde(default)]
    fail: bool,
}

impl Write {
    pub fn new(version: &str) -> Arc<Write> {
        Arc::new(Write { version: version.into(), code: None, runs: AtomicUsize::new(0) })
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

impl NodeKind for Write {
    fn name(&self) -> &str {
        "test.write"
    }
    fn version(&self) -> &str {
        &self.version
    }
    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "write text".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new("src", PortType::FILE, "").optional()]),
            outputs: Outputs::Fixed(vec![PortSpec::new("out", PortType::file("txt"), "")]),
            params: vec![ParamDoc::required("text", "string", ""), ParamDoc::optional("fail", "bool", "false", "")],
        }
    }
    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (_, canonical) = typed_params::<WriteParams>(params)?;
        let KindInfo { inputs, outputs: Outputs::Fixed(outputs), .. } = self.info() else { unreachable!() };
        Ok(Configured { params: canonical, inputs, outputs })
    }
    fn code_digest(&self) -> Option<Digest> {
        self.code
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let params: WriteParams = ctx.params()?;
        if params.fail {
            return Err(NodeError::Failed("asked to fail".into()));
        }
        let mut bytes = params.text.into_bytes();
        if ctx.inputs.contains_key("src") {
            bytes.extend(std::fs::read(ctx.input("src")?).map_err(|e| NodeError::io("read src", e))?);
        }
        std::fs::write(ctx.output("out")?, bytes).map_err(|e| NodeError::io("write out", e))
    }
}

/// `test.dir`: takes a directory input and outputs a directory (for type checks).
pub struct DirKind;

impl NodeKind for DirKind {
    fn name(&self) -> &str {
        "test.dir"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "dir in, dir out".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new("images", PortType::DIR, "")]),
            outputs: Outputs::Fixed(vec![PortSpec::new("features", PortType::dir("table"), "")]),
            params: vec![],
        }
    }
    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let KindInfo { inputs, outputs: Outputs::Fixed(outputs), .. } = self.info() else { unreachable!() };
        Ok(Configured { params: params.clone(), inputs, outputs })
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        std::fs::write(ctx.output("features")?.join("f.txt"), b"x").map_err(|e| NodeError::io("write", e))
    }
}

/// `test.run_view`: writes the workflow's structure (`NodeContext::workflow`) as JSON to output
/// `out`, after the input `src` it waits for.
pub struct RunView;

impl NodeKind for RunView {
    fn name(&self) -> &str {
        "test.run_view"
    }
    fn reads_workflow(&self) -> bool {
        true
    }
    fn version(&self) -> &str {
        "1"
    }
    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "record the run".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new("src", PortType::FILE, "")]),
            outputs: Outputs::Fixed(vec![PortSpec::new("out", PortType::file("json"), "").shown()]),
            params: vec![],
        }
    }
    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        Ok(self.info().configured(params.clone()))
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let json = serde_json::to_vec(ctx.workflow).map_err(|e| NodeError::Failed(e.to_string()))?;
        std::fs::write(ctx.output("out")?, json).map_err(|e| NodeError::io("write out", e))
    }
}

/// `test.command`: a kind whose `cmd` param is a shell command (it is never run: the output is
/// the command's text), to see what the loader splices into commands.
pub struct CommandKind;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CommandParams {
    cmd: String,
    #[serde(default)]
    label: String,
}

impl NodeKind for CommandKind {
    fn name(&self) -> &str {
        "test.command"
    }
    fn version(&self) -> &str {
        "1"
    }
    fn shell_params(&self) -> &[&str] {
        &["cmd"]
    }
    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "a command".into(),
            inputs: Inputs::Fixed(vec![]),
            outputs: Outputs::Fixed(vec![PortSpec::new("out", PortType::FILE, "")]),
            params: vec![ParamDoc::required("cmd", "string", ""), ParamDoc::optional("label", "string", "", "")],
        }
    }
    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (_, canonical) = typed_params::<CommandParams>(params)?;
        Ok(self.info().configured(canonical))
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: CommandParams = ctx.params()?;
        std::fs::write(ctx.output("out")?, params.cmd).map_err(|e| NodeError::io("write out", e))
    }
}

pub fn registry(write: &Arc<Write>) -> Registry {
    let mut registry = Registry::new();
    registry.register(write.clone());
    registry.register(Arc::new(DirKind));
    registry.register(Arc::new(RunView));
    registry.register(Arc::new(CommandKind));
    registry
}
