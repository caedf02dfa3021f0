//! A table of samples for learning: ids, feature names, a dense matrix and labels.

use ndarray::{Array2, Axis};

/// Samples x features, with one id and one label per sample. Missing values are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// One id per row (patient), in row order.
    pub ids: Vec<String>,
    /// One name per column of `x`.
    pub feature_names: Vec<String>,
    /// The feature matrix, one row per sample.
    pub x: Array2<f64>,
    /// One label per row; 0 and 1 for binary classification.
    pub y: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatasetError {
    #[error("{what} has {got} entries where the matrix has {expected}")]
    Shape { what: &'static str, got: usize, expected: usize },
    #[error("the dataset has no rows")]
    Empty,
}

impl Dataset {
    pub fn new(
        ids: Vec<String>,
        feature_names: Vec<String>,
        x: Array2<f64>,
        y: Vec<f64>,
    ) -> Result<Dataset, DatasetError> {
        let (rows, cols) = x.dim();
        if ids.len() != rows {
            return Err(DatasetError::Shape { what: "ids", got: ids.len(), expected: rows });
        }
        if y.len() != rows {
            return Err(DatasetError::Shape { what: "labels", got: y.len(), expected: rows });
        }
        if feature_names.len() != cols {
            return Err(DatasetError::Shape { what: "feature names", got: feature_names.len(), expected: cols });
        }
        Ok(Dataset { ids, feature_names, x, y })
    }

    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }

    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    /// The rows at `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Dataset {
        Dataset {
            ids: indices.iter().map(|&i| self.ids[i].clone()).collect(),
            feature_names: self.feature_names.clone(),
            x: self.x.select(Axis(0), indices),
            y: indices.iter().map(|&i| self.y[i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn shapes_are_checked_and_rows_selected() {
        let x = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let ids = vec!["a".into(), "b".into(), "c".into()];
        let names = vec!["f1".into(), "f2".into()];
        assert!(Dataset::new(ids.clone(), names.clone(), x.clone(), vec![0.0, 1.0]).is_err());
        let data = Dataset::new(ids, names, x, vec![0.0, 1.0, 1.0]).unwrap();
        let picked = data.select_rows(&[2, 0]);
        assert_eq!(picked.ids, vec!["c", "a"]);
        assert_eq!(picked.x, array![[5.0, 6.0], [1.0, 2.0]]);
        assert_eq!(picked.y, vec![1.0, 0.0]);
    }
}
