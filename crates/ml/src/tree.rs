//! A single decision tree classifier: the simple baseline beside the gradient-boosted trees.
//!
//! CART with Gini impurity, written here rather than taken from linfa-trees 0.8.1, whose fits
//! are not reproducible: it picks a node's majority class by iterating a `HashMap` (random order
//! per process), so a node with tied class counts predicts either class, and its pruning step
//! then merges sibling leaves or not depending on that draw. Fitting the same 60 rows 200 times
//! gave trees with 4 and with 5 leaves and different predictions. flow's outputs must be pure
//! functions of their inputs (docs/architecture.md), so that cannot be used.
//!
//! The algorithm is scikit-learn's `DecisionTreeClassifier` (1.9.1, `splitter="best"`, every
//! feature considered, no class weights), so its trees can be checked against scikit-learn's:
//!
//! - a node becomes a leaf at `max_depth`, below `min_samples_split` rows, below
//!   `2 * min_samples_leaf` rows, or when pure (Gini impurity <= f64::EPSILON);
//! - otherwise the split maximising scikit-learn's proxy `-(n_right * gini_right + n_left *
//!   gini_left)` is taken, among cuts that leave `min_samples_leaf` rows each side and fall between
//!   two values more than 1e-7 apart (scikit-learn's FEATURE_THRESHOLD); the threshold is
//!   `a / 2 + b / 2` for the values either side and rows with `value <= threshold` go left;
//! - a leaf's class probabilities are its training class fractions, and `predict` takes the
//!   most probable class, the smaller label on a tie (numpy's argmax).
//!
//! Differences: scikit-learn visits the features in a random order (its `random_state`), so
//! between equally good splits on different features it picks at random; we visit them in column
//! order and keep the first. scikit-learn converts features to float32 before fitting and
//! predicting; we keep f64. Missing values are refused (scikit-learn 1.3+ routes NaN to a side).
//! On float32-exact data without ties the trees are the same (tests/core.rs).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::dataset::Dataset;
use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// Values closer than this count as equal when looking for a cut (scikit-learn's value).
const FEATURE_THRESHOLD: f64 = 1e-7;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TreeError {
    #[error("cannot fit a tree on a dataset with no rows")]
    NoRows,
    #[error("{name} must be at least {min}, got {value}")]
    Param { name: &'static str, min: usize, value: usize },
    #[error(
        "feature '{feature}' is {value} in row {row} ('{id}'); the tree needs finite values (impute missing ones first)"
    )]
    NotFinite { feature: String, row: usize, id: String, value: f64 },
    #[error("row {row} ('{id}') has label {label}; labels must be finite numbers")]
    BadLabel { row: usize, id: String, label: f64 },
    #[error("the tree was fitted on {expected} features but the data has {got}")]
    FeatureCount { expected: usize, got: usize },
    #[error("feature {index} is '{got}' where the tree was fitted on '{expected}'")]
    FeatureName { index: usize, expected: String, got: String },
    #[error("the tree knows classes {known:?}, not {label}")]
    UnknownClass { label: f64, known: Vec<f64> },
    #[error("fitted tree is inconsistent: {0}")]
    Inconsistent(String),
    /// The cancellation flag given to [`DecisionTree::fit_cancellable`] was set.
    #[error("training was cancelled")]
    Cancelled,
}

impl TreeError {
    /// Whether the data is at fault (no rows, values or labels that are not finite, features
    /// that do not match the tree's), rather than the parameters, the tree file or a cancel.
    pub fn is_bad_data(&self) -> bool {
        matches!(
            self,
            TreeError::NoRows
                | TreeError::NotFinite { .. }
                | TreeError::BadLabel { .. }
                | TreeError::FeatureCount { .. }
                | TreeError::FeatureName { .. }
                | TreeError::UnknownClass { .. }
        )
    }
}

/// Growth limits, with scikit-learn's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeParams {
    /// Depth of the deepest leaf (the root is depth 0); `None` grows until the leaves are pure
    /// or too small to split.
    pub max_depth: Option<usize>,
    /// A node with fewer rows is not split (at least 2).
    pub min_samples_split: usize,
    /// A split must leave at least this many rows on each side (at least 1).
    pub min_samples_leaf: usize,
}

impl Default for TreeParams {
    fn default() -> TreeParams {
        TreeParams { max_depth: None, min_samples_split: 2, min_samples_leaf: 1 }
    }
}

impl TreeParams {
    fn check(&self) -> Result<(), TreeError> {
        let checks = [
            ("max_depth", 1, self.max_depth.unwrap_or(1)),
            ("min_samples_split", 2, self.min_samples_split),
            ("min_samples_leaf", 1, self.min_samples_leaf),
        ];
        match checks.into_iter().find(|&(_, min, value)| value < min) {
            Some((name, min, value)) => Err(TreeError::Param { name, min, value }),
            None => Ok(()),
        }
    }
}

/// One node; `counts[c]` is the number of training rows of class `classes[c]` that reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub counts: Vec<usize>,
    /// `None` for a leaf.
    pub split: Option<NodeSplit>,
}

/// Rows with `x[feature] <= threshold` go to node `left`, the others to node `right`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSplit {
    pub feature: usize,
    pub threshold: f64,
    pub left: usize,
    pub right: usize,
}

/// A fitted tree. Nodes are numbered depth-first, left before right, as scikit-learn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeFile", into = "TreeFile")]
pub struct DecisionTree {
    params: TreeParams,
    feature_names: Vec<String>,
    classes: Vec<f64>,
    nodes: Vec<Node>,
}

impl DecisionTree {
    pub fn fit(train: &Dataset, params: TreeParams) -> Result<DecisionTree, TreeError> {
        DecisionTree::fit_cancellable(train, params, &AtomicBool::new(false))
    }

    /// [`DecisionTree::fit`] that reads `cancel` before each node is split and returns
    /// [`TreeError::Cancelled`] once it is set. The tree does not depend on it otherwise.
    pub fn fit_cancellable(
        train: &Dataset,
        params: TreeParams,
        cancel: &AtomicBool,
    ) -> Result<DecisionTree, TreeError> {
        params.check()?;
        if train.n_samples() == 0 {
            return Err(TreeError::NoRows);
        }
        check_finite(train)?;
        let (classes, y) = encode_labels(train)?;
        let mut builder = Builder { x: train.x.view(), y: &y, n_classes: classes.len(), params, nodes: Vec::new() };
        builder.grow(cancel)?;
        Ok(DecisionTree { params, feature_names: train.feature_names.clone(), classes, nodes: builder.nodes })
    }

    /// Rows x classes: each row's leaf class fractions, columns in [`classes`](Self::classes) order.
    pub fn predict_proba(&self, data: &Dataset) -> Result<Array2<f64>, TreeError> {
        self.check_features(data)?;
        check_finite(data)?;
        let mut proba = Array2::zeros((data.n_samples(), self.classes.len()));
        for (row, mut out) in data.x.rows().into_iter().zip(proba.rows_mut()) {
            let leaf = &self.nodes[self.leaf_of(row)];
            let total: usize = leaf.counts.iter().sum();
            for (p, &count) in out.iter_mut().zip(&leaf.counts) {
                *p = count as f64 / total as f64;
            }
        }
        Ok(proba)
    }

    /// The probability of class `label` for each row (for a binary ROC curve, label 1).
    pub fn probability_of(&self, data: &Dataset, label: f64) -> Result<Vec<f64>, TreeError> {
        let column = self
            .classes
            .iter()
            .position(|&c| c == label)
            .ok_or_else(|| TreeError::UnknownClass { label, known: self.classes.clone() })?;
        Ok(self.predict_proba(data)?.column(column).to_vec())
    }

    /// The most probable class of each row, the smaller label on a tie.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>, TreeError> {
        let proba = self.predict_proba(data)?;
        Ok(proba
            .rows()
            .into_iter()
            .map(|row| {
                let mut best = 0;
                for (c, &p) in row.iter().enumerate() {
                    if p > row[best] {
                        best = c;
                    }
                }
                self.classes[best]
            })
            .collect())
    }

    /// The class labels, ascending.
    pub fn classes(&self) -> &[f64] {
        &self.classes
    }

    pub fn params(&self) -> TreeParams {
        self.params
    }

    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Node 0 is the root.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|node| node.split.is_none()).count()
    }

    /// The depth of the deepest leaf (0 for a tree that is one leaf).
    pub fn depth(&self) -> usize {
        let mut depth = vec![0; self.nodes.len()];
        let mut deepest = 0;
        // Children always come after their parent (checked on load), so one pass suffices.
        for (index, node) in self.nodes.iter().enumerate() {
            deepest = deepest.max(depth[index]);
            if let Some(split) = node.split {
                depth[split.left] = depth[index] + 1;
                depth[split.right] = depth[index] + 1;
            }
        }
        deepest
    }

    fn leaf_of(&self, row: ArrayView1<f64>) -> usize {
        let mut index = 0;
        while let Some(split) = self.nodes[index].split {
            index = if row[split.feature] <= split.threshold { split.left } else { split.right };
        }
        index
    }

    fn check_features(&self, data: &Dataset) -> Result<(), TreeError> {
        if data.feature_names.len() != self.feature_names.len() {
            return Err(TreeError::FeatureCount { expected: self.feature_names.len(), got: data.feature_names.len() });
        }
        match self.feature_names.iter().zip(&data.feature_names).position(|(a, b)| a != b) {
            Some(index) => Err(TreeError::FeatureName {
                index,
                expected: self.feature_names[index].clone(),
                got: data.feature_names[index].clone(),
            }),
            None => Ok(()),
        }
    }
}

fn check_finite(data: &Dataset) -> Result<(), TreeError> {
    match data.x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, column), &value)) => Err(TreeError::NotFinite {
            feature: data.feature_names[column].clone(),
            row,
            id: data.ids[row].clone(),
            value,
        }),
        None => Ok(()),
    }
}

/// Sorted distinct labels, and each row's index into them.
fn encode_labels(data: &Dataset) -> Result<(Vec<f64>, Vec<usize>), TreeError> {
    if let Some(row) = data.y.iter().position(|label| !label.is_finite()) {
        return Err(TreeError::BadLabel { row, id: data.ids[row].clone(), label: data.y[row] });
    }
    // Adding 0.0 makes -0.0 and 0.0 one class.
    let mut classes: Vec<f64> = data.y.iter().map(|label| label + 0.0).collect();
    classes.sort_by(f64::total_cmp);
    classes.dedup();
    let y = data.y.iter().map(|label| classes.partition_point(|c| c.total_cmp(&(label + 0.0)).is_lt())).collect();
    Ok((classes, y))
}

/// Gini impurity as scikit-learn computes it (the same operations, so equal splits compare equal).
fn gini(counts: &[f64], n: f64) -> f64 {
    let squares: f64 = counts.iter().map(|c| c * c).sum();
    0.0 + (1.0 - squares / (n * n))
}

struct Builder<'a> {
    x: ArrayView2<'a, f64>,
    y: &'a [usize],
    n_classes: usize,
    params: TreeParams,
    nodes: Vec<Node>,
}

struct Candidate {
    proxy: f64,
    feature: usize,
    threshold: f64,
}

impl Builder<'_> {
    /// Depth-first with an explicit stack (a deep tree must not overflow the thread's stack),
    /// left child before right, as scikit-learn's DepthFirstTreeBuilder numbers nodes.
    fn grow(&mut self, cancel: &AtomicBool) -> Result<(), TreeError> {
        let all_rows: Vec<usize> = (0..self.x.nrows()).collect();
        // (rows, depth, parent node and whether this is its left child)
        let mut stack = vec![(all_rows, 0usize, None::<(usize, bool)>)];
        while let Some((rows, depth, parent)) = stack.pop() {
            if cancel.load(Ordering::SeqCst) {
                return Err(TreeError::Cancelled);
            }
            let index = self.nodes.len();
            let mut counts = vec![0usize; self.n_classes];
            for &row in &rows {
                counts[self.y[row]] += 1;
            }
            self.nodes.push(Node { counts: counts.clone(), split: None });
            if let Some((parent, is_left)) = parent
                && let Some(split) = self.nodes[parent].split.as_mut()
            {
                if is_left {
                    split.left = index;
                } else {
                    split.right = index;
                }
            }
            let n = rows.len();
            let counts: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
            let is_leaf = self.params.max_depth.is_some_and(|max| depth >= max)
                || n < self.params.min_samples_split
                || n < 2 * self.params.min_samples_leaf
                || gini(&counts, n as f64) <= f64::EPSILON;
            if is_leaf {
                continue;
            }
            let Some(best) = self.best_split(&rows, &counts) else { continue };
            let (left, right): (Vec<usize>, Vec<usize>) =
                rows.iter().partition(|&&row| self.x[[row, best.feature]] <= best.threshold);
            self.nodes[index].split =
                Some(NodeSplit { feature: best.feature, threshold: best.threshold, left: 0, right: 0 });
            // Pushed right first so the left subtree is built (and numbered) first.
            stack.push((right, depth + 1, Some((index, false))));
            stack.push((left, depth + 1, Some((index, true))));
        }
        Ok(())
    }

    fn best_split(&self, rows: &[usize], counts: &[f64]) -> Option<Candidate> {
        let n = rows.len();
        let min_leaf = self.params.min_samples_leaf;
        let mut best: Option<Candidate> = None;
        let mut sorted: Vec<(f64, usize)> = Vec::with_capacity(n);
        let mut left = vec![0.0; self.n_classes];
        let mut right = vec![0.0; self.n_classes];
        for feature in 0..self.x.ncols() {
            sorted.clear();
            sorted.extend(rows.iter().map(|&row| (self.x[[row, feature]], self.y[row])));
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else { continue };
            if last.0 <= first.0 + FEATURE_THRESHOLD {
                continue;
            }
            left.fill(0.0);
            right.copy_from_slice(counts);
            for position in 1..n {
                let (previous_value, previous_class) = sorted[position - 1];
                left[previous_class] += 1.0;
                right[previous_class] -= 1.0;
                let value = sorted[position].0;
                if value <= previous_value + FEATURE_THRESHOLD {
                    continue;
                }
                let (n_left, n_right) = (position, n - position);
                if n_left < min_leaf || n_right < min_leaf {
                    continue;
                }
                let (n_left, n_right) = (n_left as f64, n_right as f64);
                let proxy = -n_right * gini(&right, n_right) - n_left * gini(&left, n_left);
                if best.as_ref().is_none_or(|b| proxy > b.proxy) {
                    best = Some(Candidate { proxy, feature, threshold: previous_value / 2.0 + value / 2.0 });
                }
            }
        }
        best
    }
}

/// The JSON form, checked on the way in so a damaged file cannot make `predict` loop or panic.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeFile {
    params: TreeParams,
    feature_names: Vec<String>,
    classes: Vec<f64>,
    nodes: Vec<Node>,
}

impl From<DecisionTree> for TreeFile {
    fn from(tree: DecisionTree) -> TreeFile {
        TreeFile { params: tree.params, feature_names: tree.feature_names, classes: tree.classes, nodes: tree.nodes }
    }
}

impl TryFrom<TreeFile> for DecisionTree {
    type Error = TreeError;

    fn try_from(file: TreeFile) -> Result<DecisionTree, TreeError> {
        let bad = |message: String| Err(TreeError::Inconsistent(message));
        if file.nodes.is_empty() || file.classes.is_empty() {
            return bad("no nodes or no classes".into());
        }
        for (index, node) in file.nodes.iter().enumerate() {
            if node.counts.len() != file.classes.len() || node.counts.iter().sum::<usize>() == 0 {
                return bad(format!("node {index} has counts {:?} for {} classes", node.counts, file.classes.len()));
            }
            if let Some(split) = node.split {
                // Children after their parent: no cycles, and every walk ends at a leaf.
                let child_ok = |child: usize| child > index && child < file.nodes.len();
                if split.feature >= file.feature_names.len() || !child_ok(split.left) || !child_ok(split.right) {
                    return bad(format!("node {index} has an invalid split {split:?}"));
                }
            }
        }
        Ok(DecisionTree {
            params: file.params,
            feature_names: file.feature_names,
            classes: file.classes,
            nodes: file.nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn dataset(x: Array2<f64>, y: Vec<f64>) -> Dataset {
        let (rows, cols) = x.dim();
        Dataset::new((0..rows).map(|i| format!("p{i}")).collect(), (0..cols).map(|j| format!("f{j}")).collect(), x, y)
            .unwrap()
    }

    #[test]
    fn separable_data_is_split_at_the_midpoint() {
        let data = dataset(array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0]], vec![0.0, 0.0, 1.0, 1.0]);
        let tree = DecisionTree::fit(&data, TreeParams::default()).unwrap();
        assert_eq!(tree.nodes().len(), 3);
        assert_eq!(tree.nodes()[0].split, Some(NodeSplit { feature: 0, threshold: 2.5, left: 1, right: 2 }));
        assert_eq!(tree.predict(&data).unwrap(), data.y);
        assert_eq!(tree.depth(), 1);
        assert_eq!(tree.n_leaves(), 2);
    }

    #[test]
    fn limits_and_ties() {
        // Identical rows with different labels: no split possible, probabilities 2/3 and 1/3.
        let data = dataset(array![[1.0], [1.0], [1.0], [2.0]], vec![1.0, 1.0, 0.0, 1.0]);
        let stump = DecisionTree::fit(&data, TreeParams { max_depth: Some(1), ..TreeParams::default() }).unwrap();
        assert_eq!(stump.probability_of(&data, 1.0).unwrap(), vec![2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0]);
        // min_samples_leaf 2 forbids the only useful cut (3 | 1).
        let leafy = DecisionTree::fit(&data, TreeParams { min_samples_leaf: 2, ..TreeParams::default() }).unwrap();
        assert_eq!(leafy.n_leaves(), 1);
        // A tie in a leaf predicts the smaller label.
        let tied = dataset(array![[1.0], [1.0]], vec![1.0, 0.0]);
        assert_eq!(DecisionTree::fit(&tied, TreeParams::default()).unwrap().predict(&tied).unwrap(), vec![0.0, 0.0]);
    }

    #[test]
    fn bad_input_is_refused() {
        let data = dataset(array![[1.0], [f64::NAN]], vec![0.0, 1.0]);
        assert!(matches!(DecisionTree::fit(&data, TreeParams::default()), Err(TreeError::NotFinite { row: 1, .. })));
        let data = dataset(array![[1.0], [2.0]], vec![0.0, f64::INFINITY]);
        assert!(matches!(DecisionTree::fit(&data, TreeParams::default()), Err(TreeError::BadLabel { row: 1, .. })));
        let params = TreeParams { min_samples_split: 1, ..TreeParams::default() };
        let data = dataset(array![[1.0], [2.0]], vec![0.0, 1.0]);
        assert!(matches!(DecisionTree::fit(&data, params), Err(TreeError::Param { name: "min_samples_split", .. })));
        let tree = DecisionTree::fit(&data, TreeParams::default()).unwrap();
        assert!(matches!(tree.probability_of(&data, 2.0), Err(TreeError::UnknownClass { .. })));
    }

    #[test]
    fn json_round_trip_and_checks() {
        let data = dataset(array![[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]], vec![0.0, 1.0, 1.0, 0.0]);
        let tree = DecisionTree::fit(&data, TreeParams::default()).unwrap();
        let json = serde_json::to_string(&tree).unwrap();
        assert_eq!(serde_json::from_str::<DecisionTree>(&json).unwrap(), tree);
        let cyclic = json.replacen("\"left\":1", "\"left\":0", 1);
        assert_ne!(cyclic, json);
        assert!(serde_json::from_str::<DecisionTree>(&cyclic).is_err());
    }
}
