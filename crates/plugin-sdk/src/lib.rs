//! Write a flow node kind as a small Rust program of its own: a process plugin.
//!
//! flow runs a process plugin's command with a JSON request on stdin (also in the file named by
//! `FLOW_REQUEST`): the node's params, its input paths per port, the path to write for each
//! output port, its thread budget and a scratch folder (docs/plugins.md). This crate reads that
//! request and reports failure the way flow expects (a message on stderr, a non-zero exit), so
//! that a plugin is the function that does the work:
//!
//! ```no_run
//! use flow_plugin_sdk::Request;
//!
//! #[derive(serde::Deserialize)]
//! struct Params { rows: usize }
//!
//! fn main() -> std::process::ExitCode {
//!     flow_plugin_sdk::run(|request: &Request| {
//!         let params: Params = request.params()?;
//!         let text = std::fs::read_to_string(request.input("table")?)?;
//!         let head: Vec<&str> = text.lines().take(params.rows + 1).collect();
//!         std::fs::write(request.output("head")?, head.join("\n") + "\n")?;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! The manifest (`plugin.yaml`) declares the kind's ports and params; flow checks a workflow's
//! params against it before anything runs, so `params()` meets only values of the declared
//! types, defaults filled in. The plugin is built by cargo, on its own: flow is not rebuilt.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The protocol version this crate speaks.
pub const PROTOCOL: u32 = 1;

/// What flow asks of one node attempt.
#[derive(Debug, Clone, Deserialize)]
pub struct Request {
    pub protocol: u32,
    /// The kind, as the manifest names it.
    pub kind: String,
    /// The node's name in the workflow (for messages).
    pub node: String,
    /// The node's `with:` values, defaults filled in.
    pub params: serde_json::Value,
    /// Input port to its paths (one, or several for a list-valued port).
    pub inputs: BTreeMap<String, Vec<PathBuf>>,
    /// Output port to the path to write (a file, or a folder for a `dir` port).
    pub outputs: BTreeMap<String, PathBuf>,
    /// How many threads the node may use.
    pub threads: usize,
    /// A private folder for temporary files; the working directory.
    pub scratch: PathBuf,
    /// The plugin's folder (where `plugin.yaml` is).
    pub plugin_dir: PathBuf,
}

/// A plugin's failure, as the node's error.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl Request {
    /// The request flow wrote: the file `FLOW_REQUEST` names, else stdin.
    pub fn read() -> Result<Request, Error> {
        let text = match std::env::var_os("FLOW_REQUEST") {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|e| Error(format!("cannot read the request {}: {e}", Path::new(&path).display())))?,
            None => {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).map_err(|e| Error(format!("cannot read stdin: {e}")))?;
                text
            }
        };
        Request::parse(&text)
    }

    /// A request from its JSON text.
    pub fn parse(text: &str) -> Result<Request, Error> {
        let request: Request = serde_json::from_str(text)
            .map_err(|e| Error(format!("not a flow request ({e}); run this program as a flow plugin")))?;
        if request.protocol != PROTOCOL {
            return Err(Error(format!(
                "flow speaks plugin protocol {}, this plugin {PROTOCOL}: rebuild it with a matching flow-plugin-sdk",
                request.protocol
            )));
        }
        Ok(request)
    }

    /// The params as your own type (derive `serde::Deserialize`).
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.params.clone()).map_err(|e| Error(format!("params of node '{}': {e}", self.node)))
    }

    /// The one path of an input port.
    pub fn input(&self, port: &str) -> Result<&Path, Error> {
        match self.inputs(port) {
            [one] => Ok(one),
            [] => Err(Error(format!("node '{}' has no input '{port}' (ports: {})", self.node, names(&self.inputs)))),
            many => Err(Error(format!("input '{port}' has {} paths; read them with inputs(\"{port}\")", many.len()))),
        }
    }

    /// Every path of an input port (none if the port is not bound).
    pub fn inputs(&self, port: &str) -> &[PathBuf] {
        self.inputs.get(port).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Where to write an output port.
    pub fn output(&self, port: &str) -> Result<&Path, Error> {
        self.outputs.get(port).map(PathBuf::as_path).ok_or_else(|| {
            Error(format!("node '{}' has no output '{port}' (ports: {})", self.node, names(&self.outputs)))
        })
    }
}

fn names<V>(map: &BTreeMap<String, V>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// Reads the request, runs `work` on it and turns its result into the exit status flow reads:
/// 0, or 1 with the error on stderr (flow shows it with the node's log).
pub fn run(work: impl FnOnce(&Request) -> Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    let request = match Request::read() {
        Ok(request) => request,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match work(&request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request::parse(
            r#"{"protocol": 1, "kind": "table.head", "node": "first", "params": {"rows": 2},
                "inputs": {"table": ["/in/a.csv"], "parts": ["/in/1", "/in/2"]},
                "outputs": {"head": "/out/head.csv"}, "threads": 2, "scratch": "/tmp/s",
                "plugin_dir": "/plugins/head"}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_request_gives_params_inputs_and_outputs_by_port() {
        #[derive(Deserialize)]
        struct Params {
            rows: usize,
        }
        let request = request();
        assert_eq!(request.params::<Params>().unwrap().rows, 2);
        assert_eq!(request.input("table").unwrap(), Path::new("/in/a.csv"));
        assert_eq!(request.inputs("parts").len(), 2);
        assert_eq!(request.output("head").unwrap(), Path::new("/out/head.csv"));
        assert!(request.input("parts").unwrap_err().to_string().contains("inputs(\"parts\")"));
        assert!(request.input("nope").unwrap_err().to_string().contains("ports: parts, table"));
        assert!(request.output("nope").unwrap_err().to_string().contains("ports: head"));
    }

    #[test]
    fn a_request_of_another_protocol_or_no_request_is_refused_in_words() {
        assert!(Request::parse("{}").unwrap_err().to_string().contains("run this program as a flow plugin"));
        let newer = r#"{"protocol": 2, "kind": "k", "node": "n", "params": {}, "inputs": {}, "outputs": {},
                        "threads": 1, "scratch": "/s", "plugin_dir": "/p"}"#;
        assert!(Request::parse(newer).unwrap_err().to_string().contains("protocol 2"));
    }
}
