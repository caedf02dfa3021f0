//! `table.concat`: stacks Parquet tables into one. Made for the gathered output of a mapped
//! node: a `dir` with one table per item, named by item id, becomes one table with the rows
//! in item-id order (the engine's gather order), so nodes after a `map` read one table as
//! before.
//!
//! ```yaml
//! imaging_table:
//!   uses: table.concat
//!   in: { tables: imaging.table }     # a dir of per-patient tables
//!   with: { item_column: item }       # optional: add each row's item id as a column
//! ```
//! Every table must have the same columns with the same types (in any order; the first
//! table's order is kept). A mismatch is an error naming the item and the column, never a
//! silent cast or a column of nulls: a patient whose features were computed differently is a
//! bug to see, not to average over.

use std::path::{Path, PathBuf};

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_preprocess::io::{read_parquet, write_parquet};
use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct TableConcat;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The name of a first column holding each row's item id (the table's entry name).
    #[serde(default)]
    item_column: Option<String>,
}

/// One table to stack: where it came from, for messages and the item column.
struct Part {
    name: String,
    path: PathBuf,
}

impl NodeKind for TableConcat {
    fn name(&self) -> &str {
        "table.concat"
    }

    fn version(&self) -> &str {
        "1"
    }

    /// Under a cluster executor: a gather of tables takes less time than a job takes to start.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "Stack Parquet tables (a mapped node's gathered dir, or a list) into one table".into(),
            inputs: Inputs::Fixed(inputs()),
            outputs: Outputs::Fixed(outputs()),
            params: vec![ParamDoc::optional(
                "item_column",
                "string",
                "none",
                "add a first column with each row's item id (the dir entry name); dir input only",
            )],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        if typed.item_column.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(ParamError::new(Some("item_column"), "item_column must name a column"));
        }
        Ok(Configured { params: canonical, inputs: Inputs::Fixed(inputs()), outputs: outputs() })
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let bound = ctx.inputs.get("tables").map(Vec::as_slice).unwrap_or_default();
        let parts = parts(bound, params.item_column.is_some())?;
        let mut table = stack(&parts, params.item_column.as_deref())?;
        ctx.log(&format!("{} tables, {} rows x {} columns", parts.len(), table.height(), table.width()))?;
        write_parquet(&mut table, ctx.output("table")?).map_err(|e| NodeError::Failed(e.to_string()))
    }
}

fn inputs() -> Vec<PortSpec> {
    vec![
        PortSpec::new(
            "tables",
            PortType::ANY,
            "a dir of Parquet tables (one per item, e.g. a mapped node's output), or a list of Parquet files",
        )
        .many(),
    ]
}

fn outputs() -> Vec<PortSpec> {
    vec![PortSpec::new("table", PortType::file("parquet"), "the rows of every table, in entry-name (item-id) order")]
}

/// The tables to stack: a single dir's entries in name order, or the bound files in order.
fn parts(bound: &[PathBuf], named: bool) -> Result<Vec<Part>, NodeError> {
    let read_error = |path: &Path, e: std::io::Error| NodeError::io(format!("read {}", path.display()), e);
    let parts = match bound {
        [dir] if dir.is_dir() => {
            let mut parts = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
                let entry = entry.map_err(|e| read_error(dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() {
                    return Err(NodeError::BadInput(format!(
                        "entry '{name}' of the tables dir is a folder; table.concat stacks Parquet files (one per item)"
                    )));
                }
                parts.push(Part { name, path: entry.path() });
            }
            parts.sort_by(|a, b| a.name.cmp(&b.name));
            parts
        }
        files => {
            if named {
                return Err(NodeError::BadInput(
                    "item_column needs a dir of tables (entry names are the item ids); a list of files has no names"
                        .into(),
                ));
            }
            files.iter().enumerate().map(|(i, path)| Part { name: format!("#{}", i + 1), path: path.clone() }).collect()
        }
    };
    if parts.is_empty() {
        return Err(NodeError::BadInput(
            "no table to stack: the dir is empty (did every item of the mapped node fail or get skipped?)".into(),
        ));
    }
    Ok(parts)
}

/// Stacks the parts in order, the first part's column order kept.
fn stack(parts: &[Part], item_column: Option<&str>) -> Result<DataFrame, NodeError> {
    let mut all: Option<DataFrame> = None;
    for part in parts {
        let mut table = read_parquet(&part.path)
            .map_err(|e| NodeError::BadInput(format!("item '{}': not a Parquet table ({e})", part.name)))?;
        if let Some(column) = item_column {
            if table.column(column).is_ok() {
                return Err(NodeError::BadInput(format!(
                    "item '{}' already has a column '{column}': choose another item_column",
                    part.name
                )));
            }
            let ids = Column::new(column.into(), vec![part.name.as_str(); table.height()]);
            table.insert_column(0, ids).map_err(|e| NodeError::Failed(format!("add the item column: {e}")))?;
        }
        match &mut all {
            None => all = Some(table),
            Some(first) => {
                let table = align(first, table, &part.name, &parts[0].name)?;
                first
                    .vstack_mut_owned(table)
                    .map_err(|e| NodeError::Failed(format!("stack item '{}': {e}", part.name)))?;
            }
        }
    }
    let mut all = all.ok_or_else(|| NodeError::Failed("no table to stack".into()))?;
    all.rechunk_mut();
    Ok(all)
}

/// `table` with `first`'s columns in `first`'s order, or an error naming the first difference.
fn align(first: &DataFrame, table: DataFrame, name: &str, first_name: &str) -> Result<DataFrame, NodeError> {
    let mismatch = |what: String| {
        NodeError::BadInput(format!(
            "item '{name}' {what} (compared with item '{first_name}'); every table must have the same columns and types"
        ))
    };
    for expected in first.columns() {
        match table.column(expected.name()) {
            Err(_) => return Err(mismatch(format!("has no column '{}'", expected.name()))),
            Ok(found) if found.dtype() != expected.dtype() => {
                return Err(mismatch(format!(
                    "has column '{}' as {}, not {}",
                    expected.name(),
                    found.dtype(),
                    expected.dtype()
                )));
            }
            Ok(_) => {}
        }
    }
    if let Some(extra) = table.columns().iter().find(|c| first.column(c.name()).is_err()) {
        return Err(mismatch(format!("has an extra column '{}'", extra.name())));
    }
    table.select(first.get_column_names_owned()).map_err(|e| NodeError::Failed(format!("item '{name}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::df;

    fn write(dir: &Path, name: &str, mut table: DataFrame) {
        write_parquet(&mut table, &dir.join(name)).unwrap();
    }

    fn part(dir: &Path, name: &str) -> Part {
        Part { name: name.into(), path: dir.join(name) }
    }

    #[test]
    fn tables_stack_in_the_given_order_with_columns_aligned_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "P1", df!("subject" => ["P1"], "x" => [1.5]).unwrap());
        write(dir.path(), "P2", df!("x" => [2.5], "subject" => ["P2"]).unwrap());
        let parts = parts(&[dir.path().to_path_buf()], true).unwrap();
        let table = stack(&parts, Some("item")).unwrap();
        assert_eq!(table, df!("item" => ["P1", "P2"], "subject" => ["P1", "P2"], "x" => [1.5, 2.5]).unwrap());
    }

    #[test]
    fn a_table_with_other_columns_names_the_item_and_the_column() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "P1", df!("subject" => ["P1"], "x" => [1.5]).unwrap());
        write(dir.path(), "P2", df!("subject" => ["P2"], "x" => [2i64]).unwrap());
        write(dir.path(), "P3", df!("subject" => ["P3"]).unwrap());
        write(dir.path(), "P4", df!("subject" => ["P4"], "x" => [1.0], "y" => [1.0]).unwrap());
        let first = part(dir.path(), "P1");
        for (name, expected) in
            [("P2", "column 'x' as i64, not f64"), ("P3", "no column 'x'"), ("P4", "extra column 'y'")]
        {
            let error = stack(&[part(dir.path(), "P1"), part(dir.path(), name)], None).unwrap_err().to_string();
            assert!(error.contains(&format!("item '{name}'")) && error.contains(expected), "{error}");
            assert!(error.contains(&format!("item '{}'", first.name)), "{error}");
        }
    }

    #[test]
    fn an_empty_dir_or_a_folder_entry_is_an_error_that_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let error = parts(&[dir.path().to_path_buf()], false).err().unwrap().to_string();
        assert!(error.contains("empty"), "{error}");
        std::fs::create_dir(dir.path().join("P1")).unwrap();
        let error = parts(&[dir.path().to_path_buf()], false).err().unwrap().to_string();
        assert!(error.contains("'P1'") && error.contains("folder"), "{error}");
    }
}
