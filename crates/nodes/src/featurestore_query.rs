//! `featurestore.query`: SQL over feature groups (polars SQL), to a Parquet table.
//!
//! ```yaml
//! joined:
//!   uses: featurestore.query
//!   in: { groups: [genomic_fs.receipt, clinical_fs.receipt, imaging_fs.receipt] }
//!   with:
//!     sql: >
//!       SELECT * FROM genomic LEFT OUTER JOIN clinical ON genomic.case_id = clinical.case_id
//!       LEFT OUTER JOIN imaging ON clinical.case_id = imaging.subject ORDER BY genomic.case_id
//! ```
//! Each group is read at exactly the version its receipt names, and only the receipts' groups
//! are tables, so the result depends on nothing but the receipts and the query: a cached
//! result stays valid as long as the receipts are unchanged. Rows come in the query's
//! `ORDER BY`; a query without one has its rows sorted by every column, because a join's row
//! order is otherwise an implementation detail and the output bytes must be deterministic.

use std::collections::BTreeMap;

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_featurestore::offline::write_parquet_file;
use flow_featurestore::query::{has_order_by, sort_all};
use flow_featurestore::{AsOf, Receipt};
use polars::sql::extract_table_identifiers;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::featurestore_write::store_of;

pub struct FeaturestoreQuery;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    sql: String,
}

impl NodeKind for FeaturestoreQuery {
    fn name(&self) -> &str {
        "featurestore.query"
    }

    fn version(&self) -> &str {
        "1"
    }

    /// Under a cluster executor: a query of the local feature store takes milliseconds.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "Run SQL over feature groups, each at the version its receipt names".into(),
            inputs: Inputs::Fixed(inputs()),
            outputs: Outputs::Fixed(outputs()),
            params: vec![ParamDoc::required(
                "sql",
                "string",
                "a polars SQL query; each group is a table named after it (latest record per id)",
            )],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        // Parse now, so a syntax error stops the workflow before anything runs.
        if let Err(e) = extract_table_identifiers(&typed.sql, false, true) {
            return Err(ParamError::new(Some("sql"), format!("{e}\n  in query: {}", typed.sql.trim())));
        }
        Ok(Configured { params: canonical, inputs: Inputs::Fixed(inputs()), outputs: outputs() })
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let store = store_of(ctx);
        let receipts = ctx.inputs.get("groups").map(Vec::as_slice).unwrap_or_default();
        let mut pinned: BTreeMap<String, Receipt> = BTreeMap::new();
        for path in receipts {
            let text = std::fs::read(path).map_err(|e| NodeError::io(format!("read {}", path.display()), e))?;
            let receipt: Receipt = serde_json::from_slice(&text)
                .map_err(|e| NodeError::Failed(format!("{} is not a feature store receipt: {e}", path.display())))?;
            if let Some(other) = pinned.get(&receipt.group).filter(|r| r.version != receipt.version) {
                return Err(NodeError::Failed(format!(
                    "two receipts name group '{}' at different versions ({} and {}); bind one",
                    receipt.group, other.version, receipt.version
                )));
            }
            check_receipt(&store, &receipt)?;
            pinned.insert(receipt.group.clone(), receipt);
        }
        let tables: Vec<(String, AsOf)> =
            pinned.values().map(|r| (r.group.clone(), AsOf::Version(r.version))).collect();
        let described: Vec<String> = pinned.values().map(|r| format!("{} v{}", r.group, r.version)).collect();
        ctx.log(&format!("tables: {}", described.join(", ")))?;
        let failed = |e: flow_featurestore::FsError| NodeError::Failed(e.to_string());
        let mut result = store.query_at(&params.sql, &tables).map_err(failed)?;
        if !has_order_by(&params.sql) {
            result = sort_all(result).map_err(failed)?;
        }
        ctx.log(&format!("result: {} rows x {} columns", result.height(), result.width()))?;
        write_parquet_file(&mut result, ctx.output("table")?).map_err(failed)
    }
}

fn inputs() -> Vec<PortSpec> {
    vec![PortSpec::new("groups", PortType::file("json"), "receipts of featurestore.write nodes").many()]
}

fn outputs() -> Vec<PortSpec> {
    vec![PortSpec::new("table", PortType::file("parquet"), "the query's result")]
}

/// The store must still hold the receipt's version with the receipt's content; otherwise the
/// store was reset or changed behind the cache's back, and reading it would give a result the
/// cache would attribute to the old receipts.
fn check_receipt(store: &flow_featurestore::FeatureStore, receipt: &Receipt) -> Result<(), NodeError> {
    let stale = |what: String| {
        NodeError::Failed(format!(
            "a receipt names group '{}' version {}, but the feature store at {} {what}: it was changed or removed \
             outside flow. Remove the state directory (.flow) to rebuild the store from the workflow",
            receipt.group,
            receipt.version,
            store.root().display()
        ))
    };
    let manifest = store.manifest(&receipt.group).map_err(|e| match e {
        flow_featurestore::FsError::UnknownGroup { .. } => stale("has no such group".into()),
        other => NodeError::Failed(other.to_string()),
    })?;
    match manifest.ingestions.iter().find(|i| i.version == receipt.version) {
        Some(ingestion) if ingestion.digest == receipt.digest => Ok(()),
        Some(_) => Err(stale("holds other content under that version".into())),
        None => Err(stale(format!("has only versions up to {}", manifest.latest_version()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_sql_fails_at_load_time() {
        let err = FeaturestoreQuery.configure(&json!({"sql": "SELEC * FROM t"}), &["groups"]).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("sql"));
        assert!(err.message.contains("in query: SELEC * FROM t"), "{}", err.message);
        assert!(FeaturestoreQuery.configure(&json!({"sql": "SELECT * FROM t"}), &["groups"]).is_ok());
    }
}
