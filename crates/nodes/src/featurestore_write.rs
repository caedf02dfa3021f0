//! `featurestore.write`: ingest a Parquet table into a feature group of the run's feature store
//! (`.flow/featurestore`), and output a receipt naming the version that holds it.
//!
//! ```yaml
//! clinical_fs:
//!   uses: featurestore.write
//!   in: { table: clinical.table }
//!   with: { group: clinical, record_id: case_id, event_time: event_time, event_time_value: 0 }
//! ```
//! Ingestion is incremental: records equal to what the group holds are not written again, so a
//! cohort that gained one patient adds a version with one row (see docs/featurestore.md).
//! The receipt is `{group, version, digest, rows}` and nothing else: the store is idempotent
//! (the same table returns the version that already holds it), so the same input gives the
//! same receipt bytes and dependents stay cached. The wall-clock write time lives only in the
//! store. The work is in `flow_featurestore`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_featurestore::manifest::check_group_name;
use flow_featurestore::offline::read_parquet;
use flow_featurestore::{FeatureStore, Receipt};
use polars::prelude::{AnyValue, Column, DataFrame, DataType, Scalar};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct FeaturestoreWrite;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    group: String,
    record_id: String,
    event_time: String,
    /// A constant event time for tables without an `event_time` column (integer or text).
    #[serde(default)]
    event_time_value: Option<Value>,
}

/// The store a run's nodes share, beside the CAS in the state directory.
pub fn store_of(ctx: &NodeContext<'_>) -> FeatureStore {
    FeatureStore::new(ctx.state_dir.join("featurestore"))
}

impl NodeKind for FeaturestoreWrite {
    fn name(&self) -> &str {
        "featurestore.write"
    }

    fn version(&self) -> &str {
        // 2: ingestion is incremental (unchanged records are not written again); a receipt
        // cached by version 1 may name a version of a store that was rebuilt since.
        "2"
    }

    /// Under a cluster executor: the feature store has one writer, the controller.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "Ingest a table into a feature group (offline versions + online latest record per id)".into(),
            inputs: Inputs::Fixed(inputs()),
            outputs: Outputs::Fixed(outputs()),
            params: vec![
                ParamDoc::required("group", "string", "feature group name (letters, digits, _); its SQL table name"),
                ParamDoc::required("record_id", "string", "column identifying a record (text or integer)"),
                ParamDoc::required("event_time", "string", "column with each record's event time"),
                ParamDoc::optional(
                    "event_time_value",
                    "integer|string",
                    "none",
                    "constant event time added when the table has no event_time column",
                ),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        check_group_name(&typed.group).map_err(|e| ParamError::new(Some("group"), e.to_string()))?;
        for (field, value) in [("record_id", &typed.record_id), ("event_time", &typed.event_time)] {
            if value.is_empty() {
                return Err(ParamError::new(Some(field), "name a column"));
            }
        }
        if typed.record_id == typed.event_time {
            return Err(ParamError::new(Some("event_time"), "the event time column must differ from the record id"));
        }
        if let Some(value) = &typed.event_time_value {
            constant_column(&typed.event_time, value, 0).map_err(|m| ParamError::new(Some("event_time_value"), m))?;
        }
        Ok(Configured { params: canonical, inputs: Inputs::Fixed(inputs()), outputs: outputs() })
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let failed = |e: flow_featurestore::FsError| NodeError::Failed(e.to_string());
        let mut table = read_parquet(ctx.input("table")?).map_err(failed)?;
        if let Some(value) = params.event_time_value.as_ref().filter(|_| table.column(&params.event_time).is_err()) {
            let column = constant_column(&params.event_time, value, table.height()).map_err(NodeError::Failed)?;
            add_column(&mut table, column)?;
            ctx.log(&format!("event time: the constant {value} for every row"))?;
        }
        let store = store_of(ctx);
        let receipt = store.ingest(&params.group, &params.record_id, &params.event_time, &table).map_err(failed)?;
        let written = match store
            .manifest(&receipt.group)
            .map_err(failed)?
            .ingestions
            .iter()
            .find(|i| i.version == receipt.version)
        {
            Some(ingestion) if receipt.new_version => {
                format!(
                    "new: {} records new or changed, {} unchanged and not rewritten",
                    ingestion.rows, ingestion.unchanged
                )
            }
            _ => "already stored".to_string(),
        };
        ctx.log(&format!(
            "group '{}': version {} ({written}); the table has {} rows x {} columns",
            receipt.group,
            receipt.version,
            receipt.rows,
            table.width()
        ))?;
        write_receipt(&receipt, ctx.output("receipt")?)
    }
}

fn inputs() -> Vec<PortSpec> {
    vec![PortSpec::new("table", PortType::file("parquet"), "the rows to ingest")]
}

fn outputs() -> Vec<PortSpec> {
    vec![PortSpec::new(
        "receipt",
        PortType::file("json"),
        "{group, version, digest, rows}: the version holding the table",
    )]
}

fn add_column(table: &mut DataFrame, column: Column) -> Result<(), NodeError> {
    table.with_column(column).map_err(|e| NodeError::Failed(format!("add the event time column: {e}")))?;
    Ok(())
}

/// The event-time column made of one constant: integers stay integers, text stays text
/// (ISO-8601 text orders correctly).
fn constant_column(name: &str, value: &Value, rows: usize) -> Result<Column, String> {
    let scalar = match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Scalar::new(DataType::Int64, AnyValue::Int64(i)),
            None => return Err(format!("event_time_value {n} is not an integer; use an integer or ISO-8601 text")),
        },
        Value::String(s) if !s.is_empty() => Scalar::new(DataType::String, AnyValue::StringOwned(s.as_str().into())),
        other => return Err(format!("event_time_value is {other}; use an integer or ISO-8601 text")),
    };
    Ok(Column::new_scalar(name.into(), scalar, rows))
}

/// The receipt as pretty JSON with a fixed key order; the bytes depend only on its fields.
pub fn write_receipt(receipt: &Receipt, path: &std::path::Path) -> Result<(), NodeError> {
    let mut bytes =
        serde_json::to_vec_pretty(receipt).map_err(|e| NodeError::Failed(format!("encode receipt: {e}")))?;
    bytes.push(b'\n');
    std::fs::write(path, bytes).map_err(|e| NodeError::io(format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configure_checks_names_and_the_constant() {
        let ok = json!({"group": "clinical", "record_id": "case_id", "event_time": "t", "event_time_value": 0});
        let configured = FeaturestoreWrite.configure(&ok, &["table"]).unwrap();
        assert_eq!(configured.outputs[0].ty, PortType::file("json"));
        let bad = json!({"group": "clin-ical", "record_id": "case_id", "event_time": "t"});
        assert_eq!(FeaturestoreWrite.configure(&bad, &[]).err().unwrap().field.as_deref(), Some("group"));
        let bad = json!({"group": "c", "record_id": "case_id", "event_time": "t", "event_time_value": 1.5});
        let err = FeaturestoreWrite.configure(&bad, &[]).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("event_time_value"));
        let bad = json!({"group": "c", "record_id": "id", "event_time": "id"});
        assert_eq!(FeaturestoreWrite.configure(&bad, &[]).err().unwrap().field.as_deref(), Some("event_time"));
    }

    #[test]
    fn receipts_hold_no_write_time() {
        let receipt = Receipt { group: "g".into(), version: 2, digest: "ab".into(), rows: 3, new_version: true };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        write_receipt(&receipt, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\n  \"group\": \"g\",\n  \"version\": 2,\n  \"digest\": \"ab\",\n  \"rows\": 3\n}\n");
    }
}
