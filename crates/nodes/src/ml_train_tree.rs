//! `ml.train_tree`: one decision tree (CART, Gini), the interpretable baseline. The work is in
//! `flow_ml::tree`.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_ml::tree::{DecisionTree, TreeError, TreeParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_table::{read_dataset, training_error, write_json};

pub struct MlTrainTree;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "crate::ml_table::default_id")]
    id_column: String,
    #[serde(default = "crate::ml_table::default_label")]
    label: String,
    #[serde(default)]
    max_depth: Option<usize>,
    #[serde(default = "two")]
    min_samples_split: usize,
    #[serde(default = "one")]
    min_samples_leaf: usize,
}

fn two() -> usize {
    2
}
fn one() -> usize {
    1
}

impl Params {
    fn tree(&self) -> TreeParams {
        TreeParams {
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self.min_samples_leaf,
        }
    }
}

impl NodeKind for MlTrainTree {
    fn name(&self) -> &str {
        "ml.train_tree"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn info(&self) -> KindInfo {
        let mut params = crate::ml_table::id_label_docs();
        params.extend([
            ParamDoc::optional("max_depth", "integer", "unlimited", "depth of the deepest leaf"),
            ParamDoc::optional("min_samples_split", "integer", "2", "rows a node needs to be split"),
            ParamDoc::optional("min_samples_leaf", "integer", "1", "rows each side of a split keeps"),
        ]);
        KindInfo {
            summary: "a single decision tree (CART, Gini): the interpretable baseline".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "train",
                PortType::file("parquet"),
                "id, label, numeric features",
            )]),
            outputs: Outputs::Fixed(vec![PortSpec::new(
                "model",
                PortType::file("json"),
                "the tree: splits, class counts",
            )]),
            params,
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        for (field, value, min) in [
            ("max_depth", typed.max_depth.unwrap_or(1), 1),
            ("min_samples_split", typed.min_samples_split, 2),
            ("min_samples_leaf", typed.min_samples_leaf, 1),
        ] {
            if value < min {
                return Err(ParamError::new(Some(field), format!("{field} is {value}: it must be at least {min}")));
            }
        }
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let train_path = ctx.input("train")?;
        let train = read_dataset(train_path, &p.id_column, &p.label)?;
        // Checked before each node is split, so Ctrl-C does not wait for a deep tree.
        let tree = DecisionTree::fit_cancellable(&train, p.tree(), ctx.cancel.flag()).map_err(|e| {
            let (bad_data, cancelled) = (e.is_bad_data(), e == TreeError::Cancelled);
            training_error(e, bad_data, cancelled, train_path)
        })?;
        write_json(&tree, ctx.output("model")?)
    }
}
