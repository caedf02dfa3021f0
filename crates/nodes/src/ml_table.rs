//! Tables of the ml nodes: Parquet with an id column, a label column and numeric features,
//! converted to and from `flow_ml::Dataset`. Shared by the `ml.*` kinds; not a kind itself.

use std::path::Path;

use flow_engine::kind::NodeError;
use flow_ml::Dataset;
use flow_preprocess::io::{read_parquet, write_parquet};
use ndarray::Array2;
use polars::prelude::{Column, DataFrame, DataType};

pub fn default_id() -> String {
    "case_id".into()
}

pub fn default_label() -> String {
    "label".into()
}

/// The two params every `ml.*` kind that reads tables takes.
pub fn id_label_docs() -> Vec<flow_engine::kind::ParamDoc> {
    vec![
        flow_engine::kind::ParamDoc::optional("id_column", "string", "case_id", "the id column"),
        flow_engine::kind::ParamDoc::optional("label", "string", "label", "the label column (0/1)"),
    ]
}

/// The error of a training library: bad data is the user's to fix ([`NodeError::BadInput`]),
/// a set cancellation flag is [`NodeError::Cancelled`], anything else a failure.
pub fn training_error(error: impl std::fmt::Display, bad_data: bool, cancelled: bool, train: &Path) -> NodeError {
    if cancelled {
        NodeError::Cancelled
    } else if bad_data {
        NodeError::BadInput(format!("training on {}: {error}", train.display()))
    } else {
        NodeError::Failed(format!("training: {error}"))
    }
}

/// Writes a value as pretty JSON (deterministic: serde_json keeps field order).
pub fn write_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<(), NodeError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| NodeError::Failed(format!("encode {}: {e}", path.display())))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| NodeError::io(format!("write {}", path.display()), e))
}

/// Reads a JSON file written by [`write_json`] (or by hand), naming the file on error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, NodeError> {
    let text = std::fs::read_to_string(path).map_err(|e| NodeError::io(format!("read {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| NodeError::Failed(format!("{}: {e}", path.display())))
}

/// Reads a table into a dataset: `id_column` (text) gives the ids, `label` the labels, every
/// other column is a feature. Nulls become NaN (missing); a text column other than the id is an
/// error naming it, since a feature must be a number. A table that is not what the params say
/// (missing columns, text features, missing labels, not Parquet) is [`NodeError::BadInput`].
pub fn read_dataset(path: &Path, id_column: &str, label: &str) -> Result<Dataset, NodeError> {
    let failed = |msg: String| NodeError::BadInput(format!("{}: {msg}", path.display()));
    let df = read_parquet(path).map_err(|e| {
        if e.is_bad_data() { NodeError::BadInput(e.to_string()) } else { NodeError::Failed(e.to_string()) }
    })?;
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    let column = |name: &str, what: &str| {
        df.column(name).map_err(|_| failed(format!("no {what} column `{name}` (the columns are {})", preview(&names))))
    };
    let ids = column(id_column, "id")?
        .cast(&DataType::String)
        .map_err(|e| failed(format!("id column `{id_column}`: {e}")))?;
    let ids: Vec<String> = ids
        .str()
        .map_err(|e| failed(format!("id column `{id_column}`: {e}")))?
        .iter()
        .enumerate()
        .map(|(row, id)| id.map(str::to_string).ok_or_else(|| failed(format!("row {}: the id is empty", row + 1))))
        .collect::<Result<_, _>>()?;
    let y = numbers(column(label, "label")?, label).map_err(failed)?;
    if let Some(row) = y.iter().position(|v| v.is_nan()) {
        return Err(failed(format!("row {} ({}): the label `{label}` is missing", row + 1, ids[row])));
    }
    let feature_names: Vec<String> = names.iter().filter(|n| *n != id_column && *n != label).cloned().collect();
    if feature_names.is_empty() {
        return Err(failed(format!("no feature columns besides `{id_column}` and `{label}`")));
    }
    let rows = df.height();
    let mut x = Array2::<f64>::zeros((rows, feature_names.len()));
    for (j, name) in feature_names.iter().enumerate() {
        let values = numbers(column(name, "feature")?, name).map_err(failed)?;
        x.column_mut(j).iter_mut().zip(values).for_each(|(cell, v)| *cell = v);
    }
    Dataset::new(ids, feature_names, x, y).map_err(|e| failed(e.to_string()))
}

/// A column as f64, nulls as NaN; text is refused.
fn numbers(column: &Column, name: &str) -> Result<Vec<f64>, String> {
    let dtype = column.dtype();
    if !(dtype.is_primitive_numeric() || dtype.is_bool()) {
        return Err(format!(
            "column `{name}` is {dtype}, not a number: leave it out of the query, or make it the id or the label"
        ));
    }
    let cast = column.cast(&DataType::Float64).map_err(|e| format!("column `{name}`: {e}"))?;
    let values = cast.f64().map_err(|e| format!("column `{name}`: {e}"))?;
    Ok(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

fn preview(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    if names.len() > shown.len() {
        format!("{}, ... ({} in all)", shown.join(", "), names.len())
    } else {
        shown.join(", ")
    }
}

/// The three parts of a split, as the ml kinds name their ports.
pub const PARTS: [&str; 3] = ["train", "validation", "test"];

/// Applies a transformation fitted on `train` to every part (`train` itself, then the other
/// input ports of [`PARTS`]) and writes each to the output port of the same name.
pub fn transform_parts(
    ctx: &flow_engine::kind::NodeContext<'_>,
    id_column: &str,
    label: &str,
    train: &Dataset,
    transform: impl Fn(&Dataset) -> Result<Dataset, String>,
) -> Result<(), NodeError> {
    for part in PARTS {
        let data = if part == "train" { train.clone() } else { read_dataset(ctx.input(part)?, id_column, label)? };
        let done = transform(&data).map_err(|e| NodeError::Failed(format!("{part}: {e}")))?;
        write_dataset(&done, id_column, label, ctx.output(part)?)?;
    }
    Ok(())
}

/// Writes a dataset as Parquet: id, label, then the features, with deterministic bytes.
pub fn write_dataset(data: &Dataset, id_column: &str, label: &str, path: &Path) -> Result<(), NodeError> {
    let mut columns = Vec::with_capacity(data.n_features() + 2);
    columns.push(Column::new(id_column.into(), data.ids.clone()));
    columns.push(Column::new(label.into(), data.y.clone()));
    for (j, name) in data.feature_names.iter().enumerate() {
        columns.push(Column::new(name.as_str().into(), data.x.column(j).to_vec()));
    }
    let mut df = DataFrame::new(data.n_samples(), columns)
        .map_err(|e| NodeError::Failed(format!("build {}: {e}", path.display())))?;
    write_parquet(&mut df, path).map_err(|e| NodeError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_ids_labels_and_features() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let x = ndarray::array![[1.0, f64::NAN], [3.0, 4.0]];
        let data = Dataset::new(vec!["a".into(), "b".into()], vec!["f".into(), "g".into()], x, vec![0.0, 1.0]).unwrap();
        write_dataset(&data, "case_id", "label", &path).unwrap();
        let back = read_dataset(&path, "case_id", "label").unwrap();
        assert_eq!(back.ids, data.ids);
        assert_eq!(back.feature_names, data.feature_names);
        assert_eq!(back.y, data.y);
        assert!(back.x[[0, 1]].is_nan() && back.x[[1, 1]] == 4.0);
        let err = read_dataset(&path, "subject", "label").unwrap_err();
        assert!(err.is_bad_input(), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("no id column `subject`") && err.contains("case_id"), "{err}");
        std::fs::write(&path, b"case_id,label\na,1\n").unwrap();
        let err = read_dataset(&path, "case_id", "label").unwrap_err();
        assert!(err.is_bad_input() && err.to_string().contains("not a readable Parquet table"), "{err:?}");
    }
}
