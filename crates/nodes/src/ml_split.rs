//! `ml.split`: a seeded, optionally stratified train / validation / test split of a table
//! (the seed's 80/20 then 80/20). The work is in `flow_ml::split`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_table::{read_dataset, write_dataset};
use flow_ml::split::train_validation_test;

pub struct MlSplit;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "super::ml_table::default_id")]
    id_column: String,
    #[serde(default = "super::ml_table::default_label")]
    label: String,
    #[serde(default = "fifth")]
    test_fraction: f64,
    #[serde(default = "fifth")]
    validation_fraction: f64,
    #[serde(default = "yes")]
    stratify: bool,
    #[serde(default = "seed")]
    seed: u64,
}

fn fifth() -> f64 {
    0.2
}
fn yes() -> bool {
    true
}
fn seed() -> u64 {
    42
}

impl NodeKind for MlSplit {
    fn name(&self) -> &str {
        "ml.split"
    }

    fn version(&self) -> &str {
        "1"
    }

    /// Under a cluster executor: a split takes less time than a job takes to start.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn info(&self) -> KindInfo {
        let part = |name: &str, doc: &str| PortSpec::new(name, PortType::file("parquet"), doc);
        KindInfo {
            summary: "seeded train / validation / test split, stratified by the label".into(),
            inputs: Inputs::Fixed(vec![part("table", "id column, label column, numeric features")]),
            outputs: Outputs::Fixed(vec![
                part("train", "the training rows, in table order"),
                part("validation", "validation_fraction of the rows left after the test part"),
                part("test", "test_fraction of all rows"),
            ]),
            params: vec![
                ParamDoc::optional("id_column", "string", "case_id", "the id column"),
                ParamDoc::optional("label", "string", "label", "the label column (0/1)"),
                ParamDoc::optional("test_fraction", "number", "0.2", "share of all rows held out for testing"),
                ParamDoc::optional(
                    "validation_fraction",
                    "number",
                    "0.2",
                    "share of the remaining rows for validation",
                ),
                ParamDoc::optional("stratify", "bool", "true", "keep the label's class proportions in every part"),
                ParamDoc::optional("seed", "integer", "42", "the same seed gives the same split"),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        for (field, value) in
            [("test_fraction", typed.test_fraction), ("validation_fraction", typed.validation_fraction)]
        {
            if !(value > 0.0 && value < 1.0) {
                return Err(ParamError::new(Some(field), format!("{field} is {value}: use a number between 0 and 1")));
            }
        }
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let input = ctx.input("table")?;
        let data = read_dataset(input, &p.id_column, &p.label)?;
        let split = train_validation_test(&data, p.test_fraction, p.validation_fraction, p.stratify, p.seed)
            .map_err(|e| NodeError::Failed(format!("{}: {e}", input.display())))?;
        let positives = |d: &flow_ml::Dataset| d.y.iter().filter(|&&y| y == 1.0).count();
        ctx.log(&format!(
            "{} rows -> train {} ({} positive), validation {} ({}), test {} ({})",
            data.n_samples(),
            split.train.n_samples(),
            positives(&split.train),
            split.validation.n_samples(),
            positives(&split.validation),
            split.test.n_samples(),
            positives(&split.test)
        ))?;
        write_dataset(&split.train, &p.id_column, &p.label, ctx.output("train")?)?;
        write_dataset(&split.validation, &p.id_column, &p.label, ctx.output("validation")?)?;
        write_dataset(&split.test, &p.id_column, &p.label, ctx.output("test")?)
    }
}
