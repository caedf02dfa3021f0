//! XGBoost's JSON model format (`Booster.save_model("m.json")`), both ways.
//!
//! Reading is lenient about what XGBoost versions add or drop (`iteration_indptr`, `cats`,
//! `categories*`, string or number parameters, `default_left` as 0/1 or booleans, `base_score`
//! as `"5E-1"` (≤ 2.x) or `"[5E-1]"` (3.x)) and strict about what prediction needs (every tree
//! is checked by `Tree::check`). Writing produces the layout XGBoost 3.x writes, except for a
//! scalar `base_score`, which XGBoost 1.7 to 3.x all read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tree::{ROOT_PARENT, Tree};
use super::{Gbdt, GbdtError, Objective};

/// The XGBoost version written into exported models: the format is 3.x's.
const VERSION: [u32; 3] = [3, 0, 0];

// ---------------------------------------------------------------- writing

#[derive(Serialize)]
struct ModelOut<'a> {
    learner: LearnerOut<'a>,
    version: [u32; 3],
}

#[derive(Serialize)]
struct LearnerOut<'a> {
    attributes: BTreeMap<String, String>,
    feature_names: &'a [String],
    feature_types: Vec<String>,
    gradient_booster: GradientBoosterOut<'a>,
    learner_model_param: LearnerModelParamOut,
    objective: ObjectiveOut,
}

#[derive(Serialize)]
struct GradientBoosterOut<'a> {
    model: GbtreeModelOut<'a>,
    name: &'static str,
}

#[derive(Serialize)]
struct GbtreeModelOut<'a> {
    gbtree_model_param: GbtreeModelParamOut,
    iteration_indptr: Vec<usize>,
    tree_info: Vec<u32>,
    trees: Vec<TreeOut<'a>>,
}

#[derive(Serialize)]
struct GbtreeModelParamOut {
    num_parallel_tree: String,
    num_trees: String,
}

#[derive(Serialize)]
struct TreeOut<'a> {
    base_weights: &'a [f32],
    categories: [u32; 0],
    categories_nodes: [u32; 0],
    categories_segments: [u32; 0],
    categories_sizes: [u32; 0],
    default_left: Vec<u8>,
    id: usize,
    left_children: &'a [i32],
    loss_changes: &'a [f32],
    parents: &'a [i32],
    right_children: &'a [i32],
    split_conditions: &'a [f32],
    split_indices: &'a [u32],
    split_type: Vec<u8>,
    sum_hessian: &'a [f32],
    tree_param: TreeParamOut,
}

#[derive(Serialize)]
struct TreeParamOut {
    num_deleted: String,
    num_feature: String,
    num_nodes: String,
    size_leaf_vector: String,
}

#[derive(Serialize)]
struct LearnerModelParamOut {
    base_score: String,
    boost_from_average: String,
    num_class: String,
    num_feature: String,
    num_target: String,
}

#[derive(Serialize)]
struct ObjectiveOut {
    name: &'static str,
    reg_loss_param: RegLossParamOut,
}

#[derive(Serialize)]
struct RegLossParamOut {
    scale_pos_weight: String,
}

pub(super) fn write(model: &Gbdt) -> String {
    let n_trees = model.trees.len();
    let trees = model
        .trees
        .iter()
        .enumerate()
        .map(|(id, t)| TreeOut {
            base_weights: &t.base_weights,
            categories: [],
            categories_nodes: [],
            categories_segments: [],
            categories_sizes: [],
            default_left: t.default_left.iter().map(|&d| u8::from(d)).collect(),
            id,
            left_children: &t.left_children,
            loss_changes: &t.loss_changes,
            parents: &t.parents,
            right_children: &t.right_children,
            split_conditions: &t.split_conditions,
            split_indices: &t.split_indices,
            split_type: vec![0; t.n_nodes()],
            sum_hessian: &t.sum_hessian,
            tree_param: TreeParamOut {
                num_deleted: "0".into(),
                num_feature: model.n_features.to_string(),
                num_nodes: t.n_nodes().to_string(),
                size_leaf_vector: "1".into(),
            },
        })
        .collect();
    let out = ModelOut {
        learner: LearnerOut {
            attributes: BTreeMap::new(),
            feature_names: &model.feature_names,
            // What XGBoost writes for numerical data without declared types.
            feature_types: Vec::new(),
            gradient_booster: GradientBoosterOut {
                model: GbtreeModelOut {
                    gbtree_model_param: GbtreeModelParamOut {
                        num_parallel_tree: "1".into(),
                        num_trees: n_trees.to_string(),
                    },
                    iteration_indptr: (0..=n_trees).collect(),
                    tree_info: vec![0; n_trees],
                    trees,
                },
                name: "gbtree",
            },
            learner_model_param: LearnerModelParamOut {
                // XGBoost's own spelling of a float: shortest round trip, "5E-1".
                base_score: format!("{:E}", model.base_score),
                boost_from_average: if model.base_score_estimated { "1" } else { "0" }.into(),
                num_class: "0".into(),
                num_feature: model.n_features.to_string(),
                num_target: "1".into(),
            },
            objective: ObjectiveOut {
                name: model.objective.name(),
                reg_loss_param: RegLossParamOut { scale_pos_weight: model.scale_pos_weight.to_string() },
            },
        },
        version: VERSION,
    };
    // Only strings, integers and finite floats (checked by `Tree::check` and the fit): the
    // serialisation cannot fail, and an empty string would fail loudly on reading.
    serde_json::to_string(&out).unwrap_or_default()
}

// ---------------------------------------------------------------- reading

#[derive(Deserialize)]
struct ModelIn {
    learner: LearnerIn,
}

#[derive(Deserialize)]
struct LearnerIn {
    #[serde(default)]
    feature_names: Vec<String>,
    gradient_booster: serde_json::Value,
    learner_model_param: LearnerModelParamIn,
    objective: ObjectiveIn,
}

#[derive(Deserialize)]
struct LearnerModelParamIn {
    base_score: Scalar,
    #[serde(default)]
    num_class: Option<Scalar>,
    num_feature: Scalar,
    #[serde(default)]
    num_target: Option<Scalar>,
    #[serde(default)]
    boost_from_average: Option<Scalar>,
}

#[derive(Deserialize)]
struct ObjectiveIn {
    name: String,
    #[serde(default)]
    reg_loss_param: Option<RegLossParamIn>,
}

#[derive(Deserialize)]
struct RegLossParamIn {
    #[serde(default)]
    scale_pos_weight: Option<Scalar>,
}

#[derive(Deserialize)]
struct GbtreeIn {
    model: GbtreeModelIn,
}

#[derive(Deserialize)]
struct GbtreeModelIn {
    #[serde(default)]
    tree_info: Vec<i64>,
    trees: Vec<TreeIn>,
}

#[derive(Deserialize)]
struct TreeIn {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<i64>,
    split_conditions: Vec<f32>,
    default_left: Vec<Flag>,
    #[serde(default)]
    split_type: Vec<i64>,
    #[serde(default)]
    parents: Option<Vec<i64>>,
    #[serde(default)]
    base_weights: Option<Vec<f32>>,
    #[serde(default)]
    loss_changes: Option<Vec<f32>>,
    #[serde(default)]
    sum_hessian: Option<Vec<f32>>,
}

/// A parameter: XGBoost writes strings ("5E-1", "[5E-1]", "0"); accept numbers too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(f64),
}

impl Scalar {
    fn number(&self, what: &str) -> Result<f64, GbdtError> {
        let bad = || GbdtError::Model(format!("{what} is not a number"));
        match self {
            Scalar::Number(v) => Ok(*v),
            Scalar::Text(s) => {
                let s = s.trim();
                // XGBoost 3.x writes a vector, one value per target: "[5E-1]".
                let s = match s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    Some(inner) if inner.contains(',') => {
                        return Err(GbdtError::Unsupported(format!(
                            "{what} has several values (a multi-output model)"
                        )));
                    }
                    Some(inner) => inner.trim(),
                    None => s,
                };
                s.parse().map_err(|_| bad())
            }
        }
    }

    fn count(&self, what: &str) -> Result<usize, GbdtError> {
        let v = self.number(what)?;
        if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
            Ok(v as usize)
        } else {
            Err(GbdtError::Model(format!("{what} is not a count")))
        }
    }
}

/// `default_left`: 0/1 in XGBoost's JSON, booleans in some writers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Int(i64),
}

pub(super) fn read(json: &str) -> Result<Gbdt, GbdtError> {
    let model: ModelIn = serde_json::from_str(json).map_err(|e| GbdtError::Json(e.to_string()))?;
    let learner = model.learner;
    let objective = Objective::from_name(&learner.objective.name).ok_or_else(|| {
        GbdtError::Unsupported(format!(
            "objective `{}` (flow predicts binary:logistic and reg:logistic)",
            learner.objective.name
        ))
    })?;
    let params = &learner.learner_model_param;
    for (what, value) in [("num_class", &params.num_class), ("num_target", &params.num_target)] {
        if let Some(v) = value
            && v.count(what)? > 1
        {
            return Err(GbdtError::Unsupported(format!("{what} {} (a multi-output model)", v.count(what)?)));
        }
    }
    let n_features = params.num_feature.count("num_feature")?;
    let base_score = params.base_score.number("base_score")? as f32;
    if !base_score.is_finite() {
        return Err(GbdtError::Model("base_score is not finite".into()));
    }
    let base_score_estimated = match &params.boost_from_average {
        Some(v) => v.number("boost_from_average")? != 0.0,
        None => false,
    };
    let scale_pos_weight = match learner.objective.reg_loss_param.as_ref().and_then(|p| p.scale_pos_weight.as_ref()) {
        Some(v) => v.number("scale_pos_weight")? as f32,
        None => 1.0,
    };
    if !learner.feature_names.is_empty() && learner.feature_names.len() != n_features {
        return Err(GbdtError::Model(format!(
            "{} feature names for {n_features} features",
            learner.feature_names.len()
        )));
    }

    let booster = learner.gradient_booster;
    match booster.get("name").and_then(|n| n.as_str()) {
        Some("gbtree") => {}
        Some("dart") => {
            return Err(GbdtError::Unsupported(
                "the dart booster (its trees are weighted by weight_drop); use booster gbtree".into(),
            ));
        }
        Some(other) => return Err(GbdtError::Unsupported(format!("the {other} booster (flow reads gbtree)"))),
        None => return Err(GbdtError::Model("gradient_booster has no name".into())),
    }
    let gbtree: GbtreeIn = serde_json::from_value(booster).map_err(|e| GbdtError::Json(format!("gbtree: {e}")))?;
    let model_in = gbtree.model;
    if let Some(group) = model_in.tree_info.iter().find(|&&g| g != 0) {
        return Err(GbdtError::Unsupported(format!("a tree for output group {group} (a multi-output model)")));
    }
    let trees = model_in
        .trees
        .into_iter()
        .enumerate()
        .map(|(i, t)| tree_from_json(i, t, n_features))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Gbdt {
        objective,
        base_score,
        base_score_estimated,
        scale_pos_weight,
        n_features,
        feature_names: learner.feature_names,
        trees,
    })
}

fn tree_from_json(i: usize, t: TreeIn, n_features: usize) -> Result<Tree, GbdtError> {
    let bad = |what: &str| GbdtError::Model(format!("tree {i}: {what} out of range"));
    if t.split_type.iter().any(|&s| s != 0) {
        return Err(GbdtError::Unsupported(format!("tree {i} has categorical splits")));
    }
    let n = t.left_children.len();
    let ids = |v: Vec<i64>, what: &str| -> Result<Vec<i32>, GbdtError> {
        v.into_iter().map(|c| i32::try_from(c).map_err(|_| bad(what))).collect()
    };
    let left_children = ids(t.left_children, "left_children")?;
    let right_children = ids(t.right_children, "right_children")?;
    let parents = match t.parents {
        Some(p) => ids(p, "parents")?,
        None => {
            let mut p = vec![ROOT_PARENT; n];
            for (node, (&l, &r)) in left_children.iter().zip(&right_children).enumerate() {
                for c in [l, r] {
                    if let Some(slot) = usize::try_from(c).ok().and_then(|c| p.get_mut(c)) {
                        *slot = node as i32;
                    }
                }
            }
            p
        }
    };
    let split_indices = t
        .split_indices
        .into_iter()
        .map(|f| u32::try_from(f).map_err(|_| bad("split_indices")))
        .collect::<Result<Vec<_>, _>>()?;
    let default_left = t
        .default_left
        .into_iter()
        .map(|d| match d {
            Flag::Bool(b) => b,
            Flag::Int(v) => v != 0,
        })
        .collect();
    let tree = Tree {
        left_children,
        right_children,
        parents,
        split_indices,
        default_left,
        base_weights: t.base_weights.unwrap_or_else(|| vec![0.0; n]),
        loss_changes: t.loss_changes.unwrap_or_else(|| vec![0.0; n]),
        sum_hessian: t.sum_hessian.unwrap_or_else(|| vec![0.0; n]),
        split_conditions: t.split_conditions,
    };
    tree.check(i, n_features)?;
    Ok(tree)
}
