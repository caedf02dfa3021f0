//! One regression tree in XGBoost's own layout (the arrays of its JSON model), and the walk
//! XGBoost's CPU predictor does: features and thresholds are `f32`, a missing (NaN) value takes
//! the node's default direction, any other value goes left when `value < split_condition`.

use super::GbdtError;

/// XGBoost's "no node" (a leaf's children) in `left_children` / `right_children`.
pub(crate) const NO_CHILD: i32 = -1;
/// XGBoost's parent of the root in `parents`.
pub(crate) const ROOT_PARENT: i32 = i32::MAX;

/// A tree as parallel arrays indexed by node id; node 0 is the root. For a leaf,
/// `split_conditions` holds the leaf value (already multiplied by eta), as in XGBoost.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tree {
    pub left_children: Vec<i32>,
    pub right_children: Vec<i32>,
    pub parents: Vec<i32>,
    pub split_indices: Vec<u32>,
    pub split_conditions: Vec<f32>,
    pub default_left: Vec<bool>,
    /// Node weights (eta applied); for a leaf the same as its value. Not used to predict.
    pub base_weights: Vec<f32>,
    /// Gain of each split (0 for leaves). Not used to predict.
    pub loss_changes: Vec<f32>,
    /// Sum of hessians (cover) of each node. Not used to predict.
    pub sum_hessian: Vec<f32>,
}

impl Tree {
    pub fn n_nodes(&self) -> usize {
        self.left_children.len()
    }

    /// The value of the leaf that `row` reaches. `value(f)` is feature `f` of the row as
    /// `f32`, NaN when missing. `check` must have passed.
    #[inline]
    pub fn leaf_value(&self, value: impl Fn(usize) -> f32) -> f32 {
        let mut node = 0usize;
        while self.left_children[node] != NO_CHILD {
            let v = value(self.split_indices[node] as usize);
            let go_left = if v.is_nan() { self.default_left[node] } else { v < self.split_conditions[node] };
            node = if go_left { self.left_children[node] } else { self.right_children[node] } as usize;
        }
        self.split_conditions[node]
    }

    /// Checks what `leaf_value` relies on, so that a hostile or corrupt model cannot make it
    /// index out of bounds or loop: equal array lengths, at least one node, children either
    /// both absent or both in range, every node reached from the root exactly once, split
    /// features below `n_features`, finite leaf values.
    pub fn check(&self, tree: usize, n_features: usize) -> Result<(), GbdtError> {
        let bad = |why: String| GbdtError::Model(format!("tree {tree}: {why}"));
        let n = self.n_nodes();
        if n == 0 {
            return Err(bad("it has no nodes".into()));
        }
        let lengths = [
            ("right_children", self.right_children.len()),
            ("parents", self.parents.len()),
            ("split_indices", self.split_indices.len()),
            ("split_conditions", self.split_conditions.len()),
            ("default_left", self.default_left.len()),
            ("base_weights", self.base_weights.len()),
            ("loss_changes", self.loss_changes.len()),
            ("sum_hessian", self.sum_hessian.len()),
        ];
        for (name, len) in lengths {
            if len != n {
                return Err(bad(format!("{name} has {len} entries where left_children has {n}")));
            }
        }
        let mut seen = vec![false; n];
        let mut stack = vec![0usize];
        while let Some(node) = stack.pop() {
            if std::mem::replace(&mut seen[node], true) {
                return Err(bad(format!("node {node} is reached twice")));
            }
            let (left, right) = (self.left_children[node], self.right_children[node]);
            if left == NO_CHILD && right == NO_CHILD {
                if !self.split_conditions[node].is_finite() {
                    return Err(bad(format!("leaf {node} has a value that is not finite")));
                }
                continue;
            }
            let child = |c: i32| usize::try_from(c).ok().filter(|&c| c < n);
            let (Some(left), Some(right)) = (child(left), child(right)) else {
                return Err(bad(format!("node {node} has children {left} and {right}, with {n} nodes")));
            };
            if self.split_indices[node] as usize >= n_features {
                return Err(bad(format!(
                    "node {node} splits on feature {} of a model with {n_features} features",
                    self.split_indices[node]
                )));
            }
            if self.split_conditions[node].is_nan() {
                return Err(bad(format!("node {node} has a NaN threshold")));
            }
            stack.push(right);
            stack.push(left);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f0 < 0.5 ? (missing left) leaf 1.0 : (f1 < 2.0 ? 2.0 : 3.0), missing right
    fn small() -> Tree {
        Tree {
            left_children: vec![1, -1, 3, -1, -1],
            right_children: vec![2, -1, 4, -1, -1],
            parents: vec![ROOT_PARENT, 0, 0, 2, 2],
            split_indices: vec![0, 0, 1, 0, 0],
            split_conditions: vec![0.5, 1.0, 2.0, 2.0, 3.0],
            default_left: vec![true, false, false, false, false],
            base_weights: vec![0.0; 5],
            loss_changes: vec![0.0; 5],
            sum_hessian: vec![0.0; 5],
        }
    }

    #[test]
    fn walks_with_xgboost_rules() {
        let t = small();
        t.check(0, 2).unwrap();
        let at = |row: [f32; 2]| t.leaf_value(|f| row[f]);
        assert_eq!(at([0.4, 0.0]), 1.0);
        // `<`: a value equal to the threshold goes right.
        assert_eq!(at([0.5, 0.0]), 2.0);
        assert_eq!(at([f32::NAN, 9.0]), 1.0);
        assert_eq!(at([1.0, 2.0]), 3.0);
        assert_eq!(at([1.0, f32::NAN]), 3.0);
        assert_eq!(at([f32::NEG_INFINITY, 0.0]), 1.0);
    }

    #[test]
    fn rejects_broken_trees() {
        assert!(small().check(0, 1).is_err(), "feature 1 out of range");
        let mut t = small();
        t.left_children[2] = 0;
        assert!(t.check(0, 2).is_err(), "cycle");
        let mut t = small();
        t.right_children[0] = 7;
        assert!(t.check(0, 2).is_err(), "child out of range");
        let mut t = small();
        t.right_children[0] = -1;
        assert!(t.check(0, 2).is_err(), "one child");
        let mut t = small();
        t.sum_hessian.pop();
        assert!(t.check(0, 2).is_err(), "lengths");
        let mut t = small();
        t.split_conditions[3] = f32::INFINITY;
        assert!(t.check(0, 2).is_err(), "infinite leaf");
    }
}
