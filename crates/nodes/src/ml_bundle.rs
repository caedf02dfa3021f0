//! `ml.bundle`: one feature set's scaler, PCA and trees in one file under a name, with the
//! feature group each input feature is read from: the model `flow serve` scores with. The
//! server finds bundles in the run records, so publishing a model is running this node.

use std::collections::BTreeMap;

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_featurestore::Receipt;
use flow_ml::bundle::{FeatureSource, ModelBundle};
use flow_ml::gbdt::Gbdt;
use flow_ml::scale::StandardScaler;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::featurestore_write::store_of;
use crate::ml_pca::PcaOutput;
use crate::ml_table::read_json;

pub struct MlBundle;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    name: String,
    /// Feature -> group, for a feature that more than one group has.
    #[serde(default)]
    sources: BTreeMap<String, String>,
}

fn check_name(name: &str) -> Result<(), ParamError> {
    let fine = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.');
    if fine {
        Ok(())
    } else {
        Err(ParamError::new(
            Some("name"),
            format!("model name '{name}': use 1-128 letters, digits, '_', '-' or '.' (it becomes a URL path segment)"),
        ))
    }
}

impl NodeKind for MlBundle {
    fn name(&self) -> &str {
        "ml.bundle"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "scaler + PCA + GBDT in one named model file that `flow serve` scores with".into(),
            inputs: Inputs::Fixed(inputs()),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "bundle",
                PortType::file("json"),
                "the model bundle (flow-model-bundle/1)",
            )]),
            params: vec![
                ParamDoc::required(
                    "name",
                    "string",
                    "the name the model is served under (POST /v1/models/NAME/predict)",
                ),
                ParamDoc::optional(
                    "sources",
                    "map",
                    "{}",
                    "feature -> group, for features more than one of the `groups` has",
                ),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        check_name(&typed.name)?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let scaler: StandardScaler = read_json(ctx.input("scaler")?)?;
        let pca: PcaOutput = read_json(ctx.input("pca")?)?;
        let model_path = ctx.input("model")?;
        let text = std::fs::read_to_string(model_path)
            .map_err(|e| NodeError::io(format!("read {}", model_path.display()), e))?;
        let gbdt =
            Gbdt::from_xgboost_json(&text).map_err(|e| NodeError::Failed(format!("{}: {e}", model_path.display())))?;
        let sources = sources(ctx, scaler.feature_names(), &params.sources)?;
        let bundle = ModelBundle::new(&params.name, sources, scaler, pca.pca, gbdt)
            .map_err(|e| NodeError::Failed(format!("model '{}': {e}", params.name)))?;
        ctx.log(&format!(
            "model '{}': {} features -> {} components -> {} trees",
            bundle.name(),
            bundle.feature_names().len(),
            bundle.n_components(),
            bundle.n_trees()
        ))?;
        let json = bundle.to_json().map_err(|e| NodeError::Failed(e.to_string()))?;
        let path = ctx.output("bundle")?;
        std::fs::write(path, json).map_err(|e| NodeError::io(format!("write {}", path.display()), e))
    }
}

fn inputs() -> Vec<PortSpec> {
    vec![
        PortSpec::new("scaler", PortType::file("json"), "the `scaler` output of ml.scale"),
        PortSpec::new("pca", PortType::file("json"), "the `pca` output of ml.pca"),
        PortSpec::new("model", PortType::file("json"), "the `model` output of ml.train_gbdt (XGBoost JSON)"),
        PortSpec::new(
            "groups",
            PortType::file("json"),
            "receipts of the featurestore.write nodes the features came from",
        )
        .many()
        .optional(),
    ]
}

/// The group of each feature: the one group among the receipts' whose schema has a column of
/// that name (not counting its record id and event time), or the one `overrides` names.
fn sources(
    ctx: &NodeContext<'_>,
    features: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<FeatureSource>, NodeError> {
    let receipts = ctx.inputs.get("groups").map(Vec::as_slice).unwrap_or_default();
    if receipts.is_empty() {
        return Ok(Vec::new());
    }
    let store = store_of(ctx);
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in receipts {
        let receipt: Receipt = read_json(path)?;
        let manifest = store.manifest(&receipt.group).map_err(|e| NodeError::Failed(e.to_string()))?;
        for column in &manifest.schema {
            if column.name == manifest.record_id || column.name == manifest.event_time {
                continue;
            }
            let groups = columns.entry(column.name.clone()).or_default();
            // Two receipts of one group (two writers of it) name it once.
            if !groups.contains(&receipt.group) {
                groups.push(receipt.group.clone());
            }
        }
    }
    for (feature, group) in overrides {
        if !features.contains(feature) {
            return Err(NodeError::BadInput(format!("sources: '{feature}' is not one of the model's features")));
        }
        if !columns.get(feature).is_some_and(|groups| groups.contains(group)) {
            return Err(NodeError::BadInput(format!("sources: group '{group}' has no feature '{feature}'")));
        }
    }
    features
        .iter()
        .map(|feature| {
            if let Some(group) = overrides.get(feature) {
                return Ok(FeatureSource { feature: feature.clone(), group: group.clone() });
            }
            match columns.get(feature).map(Vec::as_slice) {
                Some([group]) => Ok(FeatureSource { feature: feature.clone(), group: group.clone() }),
                Some(groups) => Err(NodeError::BadInput(format!(
                    "feature '{feature}' is in groups {}; say which with `sources: {{ {feature}: GROUP }}`",
                    groups.join(" and ")
                ))),
                None => Err(NodeError::BadInput(format!(
                    "feature '{feature}' is in none of the groups given ({}); a served model reads every feature from \
                     the online store, so bind the receipts of every group the training query read",
                    receipts.len()
                ))),
            }
        })
        .collect()
}
