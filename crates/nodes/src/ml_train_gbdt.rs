//! `ml.train_gbdt`: gradient-boosted trees with XGBoost's parameters and semantics, saved in
//! XGBoost's JSON model format (so `xgboost.Booster(model_file=...)` loads it). The work is in
//! `flow_ml::gbdt`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_ml::gbdt::{Gbdt, GbdtError, GbdtParams};
use serde_json::Value;

use crate::ml_table::{read_dataset, training_error};

pub struct MlTrainGbdt;

/// The params other than XGBoost's own.
const OWN: [&str; 2] = ["id_column", "label"];

/// Splits `with:` into the table params and XGBoost's (checked by `GbdtParams`).
fn parts(params: &Value) -> Result<(String, String, GbdtParams, Value), ParamError> {
    let mut booster = params.clone();
    let mut own = Vec::new();
    for name in OWN {
        let value = booster.as_object_mut().and_then(|m| m.remove(name));
        own.push(match value {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                return Err(ParamError::new(Some(name), format!("{name} is {other}: expected a column name")));
            }
        });
    }
    let (typed, canonical) = typed_params::<GbdtParams>(&booster)?;
    typed.validate().map_err(|e| {
        let name = match &e {
            flow_ml::gbdt::GbdtError::Param { name, .. } => Some(*name),
            _ => None,
        };
        ParamError::new(name, e.to_string())
    })?;
    let id = own[0].clone().unwrap_or_else(crate::ml_table::default_id);
    let label = own[1].clone().unwrap_or_else(crate::ml_table::default_label);
    let mut all = canonical;
    if let Some(map) = all.as_object_mut() {
        map.insert("id_column".into(), Value::String(id.clone()));
        map.insert("label".into(), Value::String(label.clone()));
    }
    Ok((id, label, typed, all))
}

impl NodeKind for MlTrainGbdt {
    fn name(&self) -> &str {
        "ml.train_gbdt"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn info(&self) -> KindInfo {
        let mut params = crate::ml_table::id_label_docs();
        params.extend([
            ParamDoc::optional("objective", "string", "binary:logistic", "or reg:logistic"),
            ParamDoc::optional("num_boost_round", "integer", "100", "boosting rounds (n_estimators)"),
            ParamDoc::optional("eta", "number", "0.3", "learning rate"),
            ParamDoc::optional("max_depth", "integer", "6", "maximum tree depth"),
            ParamDoc::optional("min_child_weight", "number", "1", "minimum hessian sum in a child"),
            ParamDoc::optional("lambda", "number", "1", "L2 regularisation of leaf weights"),
            ParamDoc::optional("gamma", "number", "0", "minimum loss reduction to split"),
            ParamDoc::optional("subsample", "number", "1", "share of rows per tree"),
            ParamDoc::optional("colsample_bytree", "number", "1", "share of features per tree"),
            ParamDoc::optional("scale_pos_weight", "number", "1", "weight of positive rows"),
            ParamDoc::optional("base_score", "number", "from the labels", "initial probability"),
            ParamDoc::optional("max_bin", "integer", "256", "histogram bins per feature"),
            ParamDoc::optional("seed", "integer", "0", "seed of row and column sampling"),
        ]);
        KindInfo {
            summary: "gradient-boosted trees (XGBoost semantics, hist), saved as an XGBoost JSON model".into(),
            inputs: Inputs::Fixed(vec![
                PortSpec::new("train", PortType::file("parquet"), "id, label, numeric features"),
                PortSpec::new("validation", PortType::file("parquet"), "scored in the log after training").optional(),
            ]),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "model",
                PortType::file("json"),
                "XGBoost JSON model (loads in xgboost and in ml.predict)",
            )]),
            params,
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (_, _, _, canonical) = parts(params)?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let (id, label, params, _) = parts(ctx.params).map_err(|e| NodeError::Failed(e.message))?;
        let train_path = ctx.input("train")?;
        let train = read_dataset(train_path, &id, &label)?;
        // Checked between boosting rounds, so Ctrl-C does not wait for the whole ensemble.
        let model = Gbdt::fit_cancellable(&train, &params, ctx.threads, ctx.cancel.flag()).map_err(|e| {
            let (bad_data, cancelled) = (e.is_bad_data(), e == GbdtError::Cancelled);
            training_error(e, bad_data, cancelled, train_path)
        })?;
        ctx.log(&format!(
            "{} trees on {} rows x {} features ({} threads)",
            params.n_estimators,
            train.n_samples(),
            train.n_features(),
            ctx.threads
        ))?;
        if ctx.inputs.contains_key("validation") {
            let validation = read_dataset(ctx.input("validation")?, &id, &label)?;
            let p = model.predict_dataset(&validation).map_err(|e| NodeError::Failed(format!("validation: {e}")))?;
            if let Ok(auc) = flow_ml::metrics::roc_auc(&validation.y, &p) {
                ctx.log(&format!("validation AUC {auc:.4} on {} rows", validation.n_samples()))?;
            }
        }
        let path = ctx.output("model")?;
        std::fs::write(path, model.to_xgboost_json()).map_err(|e| NodeError::io(format!("write {}", path.display()), e))
    }
}
