//! `ml.predict`: the probability of label 1 for every row of a table, from a model of
//! `ml.train_gbdt` (or any XGBoost JSON model, e.g. trained in SageMaker) or `ml.train_tree`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_ml::Dataset;
use flow_ml::gbdt::Gbdt;
use flow_ml::tree::DecisionTree;
use polars::prelude::{Column, DataFrame};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_table::read_dataset;

pub struct MlPredict;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "crate::ml_table::default_id")]
    id_column: String,
    #[serde(default = "crate::ml_table::default_label")]
    label: String,
}

/// A model file of either kind, told apart by XGBoost's top-level `learner`.
enum Model {
    Gbdt(Gbdt),
    Tree(DecisionTree),
}

fn read_model(path: &std::path::Path) -> Result<Model, NodeError> {
    let failed = |msg: String| NodeError::Failed(format!("{}: {msg}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| NodeError::io(format!("read {}", path.display()), e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| failed(format!("not JSON: {e}")))?;
    if value.get("learner").is_some() {
        Gbdt::from_xgboost_json(&text).map(Model::Gbdt).map_err(|e| failed(e.to_string()))
    } else {
        serde_json::from_value(value).map(Model::Tree).map_err(|e| {
            failed(format!("neither an XGBoost JSON model (no `learner`) nor an ml.train_tree model: {e}"))
        })
    }
}

impl Model {
    fn probabilities(&self, data: &Dataset) -> Result<Vec<f64>, String> {
        match self {
            Model::Gbdt(model) => model.predict_dataset(data).map_err(|e| e.to_string()),
            Model::Tree(tree) => tree.probability_of(data, 1.0).map_err(|e| e.to_string()),
        }
    }
}

impl NodeKind for MlPredict {
    fn name(&self) -> &str {
        "ml.predict"
    }

    fn version(&self) -> &str {
        "1"
    }

    /// Under a cluster executor: predicting takes less time than a job takes to start.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "probability of label 1 per row, from a GBDT (XGBoost JSON) or decision-tree model".into(),
            inputs: Inputs::Fixed(vec![
                PortSpec::new("model", PortType::file("json"), "ml.train_gbdt, XGBoost JSON, or ml.train_tree"),
                PortSpec::new("table", PortType::file("parquet"), "id, label, the model's features in its order"),
            ]),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "predictions",
                PortType::file("parquet"),
                "id, label, probability",
            )]),
            params: crate::ml_table::id_label_docs(),
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (_, canonical) = typed_params::<Params>(params)?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let model = read_model(ctx.input("model")?)?;
        let table = ctx.input("table")?;
        let data = read_dataset(table, &p.id_column, &p.label)?;
        let probability =
            model.probabilities(&data).map_err(|e| NodeError::Failed(format!("{}: {e}", table.display())))?;
        let path = ctx.output("predictions")?;
        let mut df = DataFrame::new(
            data.n_samples(),
            vec![
                Column::new(p.id_column.as_str().into(), data.ids),
                Column::new(p.label.as_str().into(), data.y),
                Column::new("probability".into(), probability),
            ],
        )
        .map_err(|e| NodeError::Failed(format!("build {}: {e}", path.display())))?;
        flow_preprocess::io::write_parquet(&mut df, path).map_err(|e| NodeError::Failed(e.to_string()))
    }
}
