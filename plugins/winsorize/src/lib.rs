//! An example Rust plugin for flow: `expression.winsorize`.
//!
//! Winsorising clips each numeric column of a table to its `[lower, upper]` quantiles, so a
//! few extreme expression values (a saturated probe, a sample-prep outlier) cannot dominate a
//! scaler, a PCA or a distance. Typical use, after `genomic.preprocess`:
//!
//! ```yaml
//! winsorized:
//!   uses: expression.winsorize
//!   in: { table: genomic.table }
//!   with: { lower: 0.05, upper: 0.95 }   # defaults 0.01 and 0.99
//! ```
//!
//! Quantiles are numpy's default (`method="linear"`): with the column's `n` non-missing values
//! sorted as `v[0] <= … <= v[n-1]`, the `q` quantile is `v[i] + f * (v[i+1] - v[i])` where
//! `i + f = q * (n - 1)`. Nulls and NaN are missing: they take no part in the quantiles and
//! are left as they are. Winsorised columns are written as `Float64`; the id column and any
//! column not winsorised keep their type, and row order is kept.
//!
//! The crate is the worked example of docs/plugins.md ("Rust plugins"): one [`NodeKind`]
//! implementation and a [`register`] function the `flow` binary calls.

use std::sync::Arc;

use flow_plugin::polars::prelude::{Column, DataFrame, DataType};
use flow_plugin::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    Registry, read_table, typed_params, write_table,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Adds this crate's kinds to `registry`; called by the `flow` binary.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(Winsorize));
}

/// The `expression.winsorize` kind.
pub struct Winsorize;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_lower")]
    lower: f64,
    #[serde(default = "default_upper")]
    upper: f64,
    /// `None`: every numeric column except the id column.
    #[serde(default)]
    columns: Option<Vec<String>>,
    #[serde(default = "default_id_column")]
    id_column: String,
}

fn default_lower() -> f64 {
    0.01
}
fn default_upper() -> f64 {
    0.99
}
fn default_id_column() -> String {
    "case_id".into()
}

impl Params {
    fn check(&self) -> Result<(), ParamError> {
        for (field, q) in [("lower", self.lower), ("upper", self.upper)] {
            if !(0.0..=1.0).contains(&q) {
                return Err(ParamError::new(Some(field), format!("{field} is {q}: a quantile must be in [0, 1]")));
            }
        }
        if self.lower >= self.upper {
            return Err(ParamError::new(
                Some("upper"),
                format!("upper ({}) must be greater than lower ({})", self.upper, self.lower),
            ));
        }
        if self.id_column.is_empty() {
            return Err(ParamError::new(Some("id_column"), "id_column is empty"));
        }
        if let Some(columns) = &self.columns {
            if columns.is_empty() {
                return Err(ParamError::new(
                    Some("columns"),
                    "columns is empty: list the columns to winsorise, or leave it out for every numeric column",
                ));
            }
            for (i, name) in columns.iter().enumerate() {
                if columns[..i].contains(name) {
                    return Err(ParamError::new(Some("columns"), format!("column '{name}' is listed twice")));
                }
                if *name == self.id_column {
                    return Err(ParamError::new(
                        Some("columns"),
                        format!("column '{name}' is the id column: it cannot be winsorised"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl NodeKind for Winsorize {
    fn name(&self) -> &str {
        "expression.winsorize"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "clip numeric columns (e.g. gene expression) to their [lower, upper] quantiles".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "table",
                PortType::file("parquet"),
                "a table keyed by the id column, e.g. genomic.preprocess's panel table",
            )]),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "table",
                PortType::file("parquet"),
                "the same table, winsorised columns clipped (as Float64)",
            )]),
            params: vec![
                ParamDoc::optional("lower", "number", "0.01", "lower quantile, 0 <= lower < upper"),
                ParamDoc::optional("upper", "number", "0.99", "upper quantile, lower < upper <= 1"),
                ParamDoc::optional(
                    "columns",
                    "list",
                    "every numeric column but the id",
                    "columns to winsorise; each must exist and be numeric",
                ),
                ParamDoc::optional("id_column", "string", "case_id", "the key column, never winsorised"),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        typed.check()?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let input = ctx.input("table")?;
        let table = read_table(input)?;
        let (mut table, clipped) = winsorize(&table, &params)?;
        let total: usize = clipped.iter().map(|c| c.below + c.above).sum();
        ctx.log(&format!(
            "winsorised {} columns x {} rows at quantiles [{}, {}]: {total} cells clipped",
            clipped.len(),
            table.height(),
            params.lower,
            params.upper
        ))?;
        for c in &clipped {
            ctx.log(&format!("  {}: {} below, {} above", c.column, c.below, c.above))?;
        }
        write_table(&mut table, ctx.output("table")?)
    }
}

/// What clipping did to one column: counts only (logs never show cell values).
#[derive(Debug, PartialEq, Eq)]
struct Clipped {
    column: String,
    below: usize,
    above: usize,
}

/// The winsorised table and, per winsorised column, how many cells were clipped.
fn winsorize(table: &DataFrame, params: &Params) -> Result<(DataFrame, Vec<Clipped>), NodeError> {
    let names: Vec<String> = table.get_column_names().iter().map(|n| n.to_string()).collect();
    if !names.contains(&params.id_column) {
        return Err(NodeError::Failed(format!(
            "id column '{}' is not in the table (its columns: {}); set id_column",
            params.id_column,
            names.join(", ")
        )));
    }
    let selected: Vec<String> = match &params.columns {
        Some(columns) => {
            for name in columns {
                let Ok(column) = table.column(name) else {
                    return Err(NodeError::Failed(format!(
                        "column '{name}' from `columns` is not in the table (its columns: {})",
                        names.join(", ")
                    )));
                };
                if !column.dtype().is_primitive_numeric() {
                    return Err(NodeError::Failed(format!(
                        "column '{name}' from `columns` is {}, not numeric",
                        column.dtype()
                    )));
                }
            }
            columns.clone()
        }
        None => table
            .columns()
            .iter()
            .filter(|c| c.name().as_str() != params.id_column && c.dtype().is_primitive_numeric())
            .map(|c| c.name().to_string())
            .collect(),
    };
    let mut report = Vec::with_capacity(selected.len());
    let mut columns = Vec::with_capacity(table.width());
    for column in table.columns() {
        if !selected.iter().any(|s| s == column.name().as_str()) {
            columns.push(column.clone());
            continue;
        }
        let name = column.name().to_string();
        let failed = |e| NodeError::Failed(format!("column '{name}': {e}"));
        let cast = column.cast(&DataType::Float64).map_err(failed)?;
        let values: Vec<Option<f64>> = cast.f64().map_err(failed)?.iter().collect();
        let (values, below, above) = clip_column(&values, params.lower, params.upper);
        columns.push(Column::new(column.name().clone(), values));
        report.push(Clipped { column: name, below, above });
    }
    let table = DataFrame::new(table.height(), columns).map_err(|e| NodeError::Failed(format!("build table: {e}")))?;
    Ok((table, report))
}

/// Clips one column to its `[lower, upper]` quantiles; returns it with the counts of cells
/// raised and lowered. A column with no values is returned unchanged.
fn clip_column(values: &[Option<f64>], lower: f64, upper: f64) -> (Vec<Option<f64>>, usize, usize) {
    let mut sorted: Vec<f64> = values.iter().flatten().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let (Some(lo), Some(hi)) = (quantile(&sorted, lower), quantile(&sorted, upper)) else {
        return (values.to_vec(), 0, 0);
    };
    let (mut below, mut above) = (0, 0);
    let clipped = values
        .iter()
        .map(|v| {
            v.map(|x| {
                if x < lo {
                    below += 1;
                    lo
                } else if x > hi {
                    above += 1;
                    hi
                } else {
                    x
                }
            })
        })
        .collect();
    (clipped, below, above)
}

/// numpy's default (linear) quantile of sorted, NaN-free values; `None` when there are none.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = q * last as f64;
    let i = (h.floor() as usize).min(last);
    let f = h - i as f64;
    let lo = sorted[i];
    Some(match sorted.get(i + 1) {
        Some(&hi) if f > 0.0 => lo + f * (hi - lo),
        _ => lo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Params {
        let (typed, _) = typed_params::<Params>(&value).unwrap();
        typed.check().unwrap();
        typed
    }

    fn table() -> DataFrame {
        DataFrame::new(
            5,
            vec![
                Column::new("case_id".into(), &["R01-001", "R01-002", "R01-003", "R01-004", "R01-005"]),
                Column::new("VIM".into(), &[Some(1.0), Some(2.0), None, Some(4.0), Some(100.0)]),
                Column::new("CD44".into(), &[10i64, 20, 30, 40, 50]),
                Column::new("site".into(), &["a", "b", "a", "b", "a"]),
            ],
        )
        .unwrap()
    }

    fn f64s(table: &DataFrame, name: &str) -> Vec<Option<f64>> {
        table.column(name).unwrap().f64().unwrap().iter().collect()
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let v = [1.0, 2.0, 4.0, 100.0];
        // np.quantile([1, 2, 4, 100], [0, 0.1, 0.25, 0.5, 0.9, 1]) -> 1, 1.3, 1.75, 3, 71.2, 100
        let expected = [(0.0, 1.0), (0.1, 1.3), (0.25, 1.75), (0.5, 3.0), (0.9, 71.2), (1.0, 100.0)];
        for (q, want) in expected {
            let got = quantile(&v, q).unwrap();
            assert!((got - want).abs() < 1e-9, "q={q}: {got} != {want}");
        }
        assert_eq!(quantile(&[7.0], 0.3), Some(7.0));
        assert_eq!(quantile(&[], 0.3), None);
    }

    #[test]
    fn clips_numeric_columns_ignoring_nulls_and_keeps_the_rest() {
        let p = params(json!({"lower": 0.1, "upper": 0.9}));
        let (out, report) = winsorize(&table(), &p).unwrap();
        // VIM non-null values 1, 2, 4, 100: bounds 1.3 and 71.2.
        let vim = f64s(&out, "VIM");
        assert!((vim[0].unwrap() - 1.3).abs() < 1e-9 && vim[1] == Some(2.0) && vim[2].is_none());
        assert!((vim[4].unwrap() - 71.2).abs() < 1e-9 && vim[3] == Some(4.0));
        // CD44 (integers) 10..50: bounds 14 and 46, written as Float64.
        assert_eq!(f64s(&out, "CD44"), [Some(14.0), Some(20.0), Some(30.0), Some(40.0), Some(46.0)]);
        assert!(out.column("case_id").unwrap().equals(table().column("case_id").unwrap()));
        assert!(out.column("site").unwrap().equals(table().column("site").unwrap()));
        assert_eq!(out.get_column_names(), table().get_column_names());
        assert_eq!(
            report,
            [
                Clipped { column: "VIM".into(), below: 1, above: 1 },
                Clipped { column: "CD44".into(), below: 1, above: 1 },
            ]
        );
    }

    #[test]
    fn columns_param_selects_and_names_unknown_or_text_columns() {
        let p = params(json!({"columns": ["CD44"], "lower": 0.0, "upper": 1.0}));
        let (out, report) = winsorize(&table(), &p).unwrap();
        assert_eq!(report, [Clipped { column: "CD44".into(), below: 0, above: 0 }]);
        assert!(out.column("VIM").unwrap().equals_missing(table().column("VIM").unwrap()));

        let err = winsorize(&table(), &params(json!({"columns": ["VIN"]}))).err().unwrap().to_string();
        assert!(err.contains("column 'VIN'") && err.contains("case_id, VIM, CD44, site"), "{err}");
        let err = winsorize(&table(), &params(json!({"columns": ["site"]}))).err().unwrap().to_string();
        assert!(err.contains("'site'") && err.contains("not numeric"), "{err}");
        let err = winsorize(&table(), &params(json!({"id_column": "subject"}))).err().unwrap().to_string();
        assert!(err.contains("id column 'subject'"), "{err}");
    }

    #[test]
    fn bad_params_name_their_field() {
        let field = |value: Value| {
            let (typed, _) = typed_params::<Params>(&value).map_err(|e| e.field).unwrap();
            typed.check().err().map(|e| (e.field, e.message))
        };
        assert_eq!(field(json!({})), None);
        let (f, message) = field(json!({"upper": 1.5})).unwrap();
        assert_eq!(f.as_deref(), Some("upper"));
        assert!(message.contains("[0, 1]"), "{message}");
        assert_eq!(field(json!({"lower": -0.1})).unwrap().0.as_deref(), Some("lower"));
        assert_eq!(field(json!({"lower": 0.5, "upper": 0.5})).unwrap().0.as_deref(), Some("upper"));
        assert_eq!(field(json!({"columns": []})).unwrap().0.as_deref(), Some("columns"));
        assert_eq!(field(json!({"columns": ["a", "a"]})).unwrap().0.as_deref(), Some("columns"));
        assert_eq!(field(json!({"columns": ["case_id"]})).unwrap().0.as_deref(), Some("columns"));
        let err = typed_params::<Params>(&json!({"uper": 0.9})).err().unwrap();
        assert_eq!(err.field.as_deref(), Some("uper"));
    }

    #[test]
    fn register_adds_the_kind() {
        let mut registry = Registry::new();
        register(&mut registry);
        assert!(registry.get("expression.winsorize").is_some());
    }
}
