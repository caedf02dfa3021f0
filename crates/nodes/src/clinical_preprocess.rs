//! `clinical.preprocess`: the TCIA clinical CSV (real or synthetic) to model features plus a
//! 0/1 label, as Parquet keyed by `case_id`. Defaults are the seed's choices; the work is in
//! `flow_preprocess::clinical`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_preprocess::PrepError;
use flow_preprocess::clinical::{ClinicalOptions, NumericMissing, preprocess_clinical};
use flow_preprocess::io::write_parquet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct ClinicalPreprocess;

/// Every field defaults to the seed's choice (`ClinicalOptions::default()`).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    label: Option<String>,
    positive: Option<String>,
    negative: Option<String>,
    drop_id_prefixes: Option<Vec<String>>,
    drop_columns: Option<Vec<String>>,
    numeric: Option<Vec<String>>,
    not_applicable_zero: Option<Vec<String>>,
    /// drop_row | median | mean
    missing: Option<String>,
}

impl Params {
    fn options(self) -> Result<ClinicalOptions, ParamError> {
        let d = ClinicalOptions::default();
        let missing = match self.missing.as_deref() {
            None | Some("drop_row") => NumericMissing::DropRow,
            Some("median") => NumericMissing::Median,
            Some("mean") => NumericMissing::Mean,
            Some(other) => {
                return Err(ParamError::new(
                    Some("missing"),
                    format!("missing is '{other}': use drop_row, median or mean"),
                ));
            }
        };
        Ok(ClinicalOptions {
            id_columns: d.id_columns,
            id_output: d.id_output,
            drop_id_prefixes: self.drop_id_prefixes.unwrap_or(d.drop_id_prefixes),
            label: self.label.unwrap_or(d.label),
            positive: self.positive.unwrap_or(d.positive),
            negative: self.negative.unwrap_or(d.negative),
            drop_columns: self.drop_columns.unwrap_or(d.drop_columns),
            numeric: self.numeric.unwrap_or(d.numeric),
            not_applicable_zero: self.not_applicable_zero.unwrap_or(d.not_applicable_zero),
            missing,
        })
    }

    /// The canonical form spells every default out, so leaving a param out and writing its
    /// default value give the same action key.
    fn canonical(options: &ClinicalOptions) -> Params {
        Params {
            label: Some(options.label.clone()),
            positive: Some(options.positive.clone()),
            negative: Some(options.negative.clone()),
            drop_id_prefixes: Some(options.drop_id_prefixes.clone()),
            drop_columns: Some(options.drop_columns.clone()),
            numeric: Some(options.numeric.clone()),
            not_applicable_zero: Some(options.not_applicable_zero.clone()),
            missing: Some(
                match options.missing {
                    NumericMissing::DropRow => "drop_row",
                    NumericMissing::Median => "median",
                    NumericMissing::Mean => "mean",
                }
                .into(),
            ),
        }
    }
}

impl NodeKind for ClinicalPreprocess {
    fn name(&self) -> &str {
        "clinical.preprocess"
    }

    fn version(&self) -> &str {
        // 2: "NaN" cells are missing values and infinite ones an error (once kept as numbers); rows
        // dropped by a filter are checked too, and an empty result is an error.
        "2"
    }

    fn info(&self) -> KindInfo {
        let d = ClinicalOptions::default();
        KindInfo {
            summary: "TCIA clinical CSV to one-hot/numeric features and a 0/1 label".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "table",
                PortType::FILE,
                "the clinical CSV ('Case ID' or 'Patient ID')",
            )]),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "table",
                PortType::file("parquet"),
                "case_id, features, label",
            )]),
            params: vec![
                ParamDoc::optional("label", "string", &d.label, "snake_case label column; positive -> 1"),
                ParamDoc::optional("positive", "string", &d.positive, "label value coded 1"),
                ParamDoc::optional("negative", "string", &d.negative, "label value coded 0"),
                ParamDoc::optional("drop_id_prefixes", "list", "[AMC]", "drop rows whose id starts with these"),
                ParamDoc::optional(
                    "drop_columns",
                    "list",
                    "dates, time to death, quit year",
                    "columns never used (label leaks)",
                ),
                ParamDoc::optional(
                    "numeric",
                    "list",
                    "age, weight, pack years, days CT-surgery",
                    "numeric columns; others are one-hot",
                ),
                ParamDoc::optional("not_applicable_zero", "list", "[pack_years]", "numeric columns where N/A means 0"),
                ParamDoc::optional("missing", "drop_row|median|mean", "drop_row", "rows with a missing numeric value"),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, _) = typed_params::<Params>(params)?;
        let options = typed.options()?;
        let canonical = serde_json::to_value(Params::canonical(&options))
            .map_err(|e| ParamError::new(None, format!("cannot encode parameters: {e}")))?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let options = params.options().map_err(|e| NodeError::Failed(e.message))?;
        let input = ctx.input("table")?;
        let (mut table, report) = preprocess_clinical(input, &options).map_err(input_error)?;
        ctx.log(&format!(
            "{} rows read, {} dropped by id prefix, {} dropped for a missing numeric value, {} cells imputed; \
             {} patients x {} features ({} numeric, {} one-hot)",
            report.rows_read,
            report.dropped_by_prefix,
            report.dropped_missing,
            report.imputed_cells,
            report.rows_out,
            report.numeric_features + report.one_hot_features,
            report.numeric_features,
            report.one_hot_features
        ))?;
        write_parquet(&mut table, ctx.output("table")?).map_err(|e| NodeError::Failed(e.to_string()))
    }
}

/// A malformed table is the user's to fix ([`NodeError::BadInput`], exit 2); trouble reading it
/// (permissions, the disk) fails the run.
fn input_error(error: PrepError) -> NodeError {
    if error.is_bad_data() { NodeError::BadInput(error.to_string()) } else { NodeError::Failed(error.to_string()) }
}
