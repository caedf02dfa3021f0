//! `ml.evaluate`: accuracy, precision, recall and F1 (weighted and per class), ROC AUC and
//! curve, and the confusion matrix of predicted probabilities against the labels.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_ml::metrics::ClassificationReport;
use polars::prelude::DataType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_table::write_json;

pub struct MlEvaluate;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// The feature set (or model) these metrics describe, as the report names it.
    name: String,
    #[serde(default = "crate::ml_table::default_label")]
    label: String,
    #[serde(default = "half")]
    threshold: f64,
    /// Bootstrap resamples for the 95% intervals (0: none).
    #[serde(default = "resamples")]
    bootstrap: usize,
    #[serde(default)]
    seed: u64,
}

fn half() -> f64 {
    0.5
}

fn resamples() -> usize {
    1000
}

/// The metrics file: the name and the report.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub name: String,
    pub metrics: ClassificationReport,
}

impl NodeKind for MlEvaluate {
    fn name(&self) -> &str {
        "ml.evaluate"
    }

    fn version(&self) -> &str {
        // 2: 95% bootstrap intervals in the metrics file.
        "2"
    }

    /// Under a cluster executor: metrics take less time than a job takes to start.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "classification metrics of predicted probabilities: accuracy, P/R/F1, ROC AUC, confusion".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "predictions",
                PortType::file("parquet"),
                "label and probability columns (ml.predict)",
            )]),
            outputs: Outputs::Fixed(vec![PortSpec::new("metrics", PortType::file("json"), "name and metrics")]),
            params: vec![
                ParamDoc::required("name", "string", "what was evaluated, e.g. the feature set"),
                ParamDoc::optional("label", "string", "label", "the label column (0/1)"),
                ParamDoc::optional("threshold", "number", "0.5", "probability above which a row is predicted 1"),
                ParamDoc::optional("bootstrap", "integer", "1000", "resamples for 95% confidence intervals (0: none)"),
                ParamDoc::optional(
                    "seed",
                    "integer",
                    "0",
                    "seed of the bootstrap draws: the same seed, the same intervals",
                ),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        if !(typed.threshold > 0.0 && typed.threshold < 1.0) {
            return Err(ParamError::new(Some("threshold"), "threshold must be between 0 and 1"));
        }
        if typed.bootstrap > 100_000 {
            return Err(ParamError::new(Some("bootstrap"), "at most 100000 resamples (1000 is the usual number)"));
        }
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let path = ctx.input("predictions")?;
        let failed = |msg: String| NodeError::Failed(format!("{}: {msg}", path.display()));
        let df = flow_preprocess::io::read_parquet(path).map_err(|e| {
            if e.is_bad_data() { NodeError::BadInput(e.to_string()) } else { NodeError::Failed(e.to_string()) }
        })?;
        let numbers = |name: &str| -> Result<Vec<f64>, NodeError> {
            let column = df.column(name).map_err(|_| failed(format!("no column `{name}`")))?;
            let cast = column.cast(&DataType::Float64).map_err(|e| failed(format!("column `{name}`: {e}")))?;
            let values = cast.f64().map_err(|e| failed(format!("column `{name}`: {e}")))?;
            Ok(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        };
        let (y, probability) = (numbers(&p.label)?, numbers("probability")?);
        let mut metrics = ClassificationReport::from_probabilities(&y, &probability, p.threshold)
            .map_err(|e| failed(e.to_string()))?;
        if p.bootstrap > 0 {
            let intervals = flow_ml::bootstrap::bootstrap(&y, &probability, p.threshold, p.bootstrap, p.seed)
                .map_err(|e| failed(e.to_string()))?;
            ctx.log(&format!(
                "95% interval of the accuracy ({} resamples, seed {}): {:.3} to {:.3}",
                intervals.resamples, intervals.seed, intervals.accuracy[0], intervals.accuracy[1]
            ))?;
            metrics.intervals = Some(intervals);
        }
        ctx.log(&format!(
            "{}: accuracy {:.3}, F1 {:.3}, AUC {} on {} rows",
            p.name,
            metrics.accuracy,
            metrics.weighted.f1,
            metrics.roc_auc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "-".into()),
            metrics.n_samples
        ))?;
        write_json(&Evaluation { name: p.name, metrics }, ctx.output("metrics")?)
    }
}
