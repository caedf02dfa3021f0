//! `ml.scale`: standard scaling fitted on the training part only and applied to all three
//! parts. The seed fitted its scaler on train and test together, which leaks the test rows'
//! statistics into training; this kind never sees them when fitting. The work is in
//! `flow_ml::scale`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamError, PortSpec, PortType,
    typed_params,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_table::{read_dataset, transform_parts};
use flow_ml::scale::StandardScaler;

pub struct MlScale;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "super::ml_table::default_id")]
    id_column: String,
    #[serde(default = "super::ml_table::default_label")]
    label: String,
}

impl NodeKind for MlScale {
    fn name(&self) -> &str {
        "ml.scale"
    }

    fn version(&self) -> &str {
        "1"
    }

    /// Under a cluster executor: scaling takes less time than a job takes to start.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        let part = |name: &str, doc: &str| PortSpec::new(name, PortType::file("parquet"), doc);
        KindInfo {
            summary: "standard scaling (zero mean, unit variance) fitted on the training part only".into(),
            inputs: Inputs::Fixed(vec![
                part("train", "the rows the scaler is fitted on"),
                part("validation", "scaled with the training statistics"),
                part("test", "scaled with the training statistics"),
            ]),
            outputs: Outputs::Fixed(vec![
                part("train", "scaled training rows"),
                part("validation", "scaled validation rows"),
                part("test", "scaled test rows"),
                PortSpec::new("scaler", PortType::file("json"), "per-feature mean and scale"),
            ]),
            params: super::ml_table::id_label_docs(),
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (_, canonical) = typed_params::<Params>(params)?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let train = read_dataset(ctx.input("train")?, &p.id_column, &p.label)?;
        let scaler = StandardScaler::fit(&train).map_err(|e| NodeError::Failed(format!("fit on train: {e}")))?;
        transform_parts(ctx, &p.id_column, &p.label, &train, |data| scaler.transform(data).map_err(|e| e.to_string()))?;
        super::ml_table::write_json(&scaler, ctx.output("scaler")?)
    }
}
