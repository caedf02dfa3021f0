//! `genomic.preprocess`: a GEO-style expression table (genes as rows) to one row per case with
//! a gene panel as columns, as Parquet keyed by `case_id`. The work is in
//! `flow_preprocess::genomic`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_preprocess::PrepError;
use flow_preprocess::genomic::{GenomicOptions, Missing, SEED_PANEL, preprocess_genomic};
use flow_preprocess::io::write_parquet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct GenomicPreprocess;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "seed_panel")]
    panel: Vec<String>,
    /// "zero", "keep", or a number.
    #[serde(default = "zero")]
    missing: Value,
    #[serde(default)]
    log2p1: bool,
    #[serde(default = "case_id")]
    id_column: String,
}

fn seed_panel() -> Vec<String> {
    SEED_PANEL.iter().map(|g| g.to_string()).collect()
}
fn zero() -> Value {
    Value::String("zero".into())
}
fn case_id() -> String {
    "case_id".into()
}

fn missing_policy(value: &Value) -> Result<Missing, ParamError> {
    match value {
        Value::String(s) if s == "zero" => Ok(Missing::Zero),
        Value::String(s) if s == "keep" => Ok(Missing::Null),
        Value::Number(n) => {
            n.as_f64().map(Missing::Value).ok_or_else(|| ParamError::new(Some("missing"), "not a finite number"))
        }
        other => Err(ParamError::new(Some("missing"), format!("missing is {other}: use zero, keep, or a number"))),
    }
}

impl NodeKind for GenomicPreprocess {
    fn name(&self) -> &str {
        "genomic.preprocess"
    }

    fn version(&self) -> &str {
        // 2: infinite panel cells are an error (once made missing), a table without gene rows too.
        "2"
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "GEO expression table (genes x cases) to a per-case gene-panel table".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "table",
                PortType::FILE,
                "tab- or comma-separated, optionally gzipped; first column the gene symbol",
            )]),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "table",
                PortType::file("parquet"),
                "case_id + one column per panel gene",
            )]),
            params: vec![
                ParamDoc::optional("panel", "list", "the seed's 21 genes", "gene symbols to keep, in output order"),
                ParamDoc::optional("missing", "zero|keep|number", "zero", "what a NaN/empty cell becomes"),
                ParamDoc::optional("log2p1", "bool", "false", "apply log2(x+1)"),
                ParamDoc::optional("id_column", "string", "case_id", "name of the key column"),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        missing_policy(&typed.missing)?;
        if typed.panel.is_empty() {
            return Err(ParamError::new(Some("panel"), "the panel is empty: list at least one gene"));
        }
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let options = GenomicOptions {
            missing: missing_policy(&params.missing).map_err(|e| NodeError::Failed(e.message))?,
            panel: params.panel,
            log2p1: params.log2p1,
            id_column: params.id_column,
        };
        let input = ctx.input("table")?;
        let mut table = preprocess_genomic(input, &options).map_err(input_error)?;
        ctx.log(&format!("{} cases x {} panel genes", table.height(), table.width() - 1))?;
        write_parquet(&mut table, ctx.output("table")?).map_err(|e| NodeError::Failed(e.to_string()))
    }
}

/// A malformed table is the user's to fix ([`NodeError::BadInput`], exit 2); trouble reading it
/// (permissions, the disk) fails the run.
fn input_error(error: PrepError) -> NodeError {
    if error.is_bad_data() { NodeError::BadInput(error.to_string()) } else { NodeError::Failed(error.to_string()) }
}
