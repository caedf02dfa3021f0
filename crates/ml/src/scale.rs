//! Standardisation: each feature minus its mean, divided by its standard deviation.
//!
//! [`StandardScaler`] follows scikit-learn's `StandardScaler` (1.9.1) with its defaults:
//!
//! - the mean and the **population** variance (ddof 0) of each feature, by the same corrected
//!   two-pass sums (Chan, Golub and LeVeque), so the numbers agree to rounding;
//! - missing values (NaN) are left out of a feature's mean and variance, and stay NaN when
//!   transformed; a feature with no value at all is an error (scikit-learn would carry NaN
//!   through every later step);
//! - a feature that is constant (variance within rounding of zero, scikit-learn's
//!   `_is_constant_feature` bound) gets scale 1, so it transforms to zeros instead of dividing by
//!   zero;
//! - infinite values are refused, as scikit-learn's input check does.
//!
//! Fit on the training rows only. The seed pipeline fitted its scaler on train and test together,
//! which lets the test rows' means and spreads leak into the model; flow fits on the training part
//! of the split and applies the fitted parameters, unchanged, to validation and test.
//!
//! The fitted parameters serialise with serde (JSON) so a node can store them and apply them to
//! new patients later; [`StandardScaler::transform`] checks that the feature names match.

use crate::dataset::Dataset;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaleError {
    #[error("cannot fit a scaler on a dataset with no rows")]
    NoRows,
    #[error("feature '{feature}' has no value in any of the {n_rows} rows (all missing)")]
    NoValues { feature: String, n_rows: usize },
    #[error("feature '{feature}' is {value} in row {row} ('{id}'); only finite values or NaN (missing) are allowed")]
    NotFinite { feature: String, row: usize, id: String, value: f64 },
    #[error("the scaler was fitted on {expected} features but the data has {got}")]
    FeatureCount { expected: usize, got: usize },
    #[error("feature {index} is '{got}' where the scaler was fitted on '{expected}'")]
    FeatureName { index: usize, expected: String, got: String },
    #[error("fitted scaler parameters are inconsistent: {0}")]
    Inconsistent(String),
}

/// Fitted per-feature means and scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScalerFile", into = "ScalerFile")]
pub struct StandardScaler {
    feature_names: Vec<String>,
    mean: Vec<f64>,
    var: Vec<f64>,
    scale: Vec<f64>,
    n_samples_seen: Vec<usize>,
}

impl StandardScaler {
    /// Fits on every row of `train`: pass the training part of a split, not the whole cohort.
    pub fn fit(train: &Dataset) -> Result<StandardScaler, ScaleError> {
        let (n_rows, n_features) = train.x.dim();
        if n_rows == 0 {
            return Err(ScaleError::NoRows);
        }
        check_finite(train, &train.x.view())?;
        let mut mean = Vec::with_capacity(n_features);
        let mut var = Vec::with_capacity(n_features);
        let mut scale = Vec::with_capacity(n_features);
        let mut n_samples_seen = Vec::with_capacity(n_features);
        for (column, feature) in train.x.columns().into_iter().zip(&train.feature_names) {
            let present = || column.iter().copied().filter(|v| !v.is_nan());
            let count = present().count();
            if count == 0 {
                return Err(ScaleError::NoValues { feature: feature.clone(), n_rows });
            }
            let n = count as f64;
            let column_mean = present().sum::<f64>() / n;
            // The corrected two-pass variance scikit-learn uses: the correction term removes most
            // of the rounding error left in the mean.
            let correction: f64 = present().map(|v| v - column_mean).sum();
            let squares: f64 = present().map(|v| (v - column_mean) * (v - column_mean)).sum();
            let column_var = (squares - correction * correction / n) / n;
            // scikit-learn's _is_constant_feature: a variance below the rounding error of the
            // two-pass algorithm is zero, whatever its computed value.
            let upper_bound = n * f64::EPSILON * column_var + (n * column_mean * f64::EPSILON).powi(2);
            let constant = column_var <= upper_bound;
            mean.push(column_mean);
            var.push(column_var);
            scale.push(if constant { 1.0 } else { column_var.sqrt() });
            n_samples_seen.push(count);
        }
        Ok(StandardScaler { feature_names: train.feature_names.clone(), mean, var, scale, n_samples_seen })
    }

    /// `data` with every feature standardised; ids, names and labels unchanged.
    pub fn transform(&self, data: &Dataset) -> Result<Dataset, ScaleError> {
        self.check_features(&data.feature_names)?;
        check_finite(data, &data.x.view())?;
        let x = self.transform_matrix(data.x.view())?;
        Ok(Dataset { ids: data.ids.clone(), feature_names: data.feature_names.clone(), x, y: data.y.clone() })
    }

    /// The bare-matrix form of [`transform`](Self::transform): columns must be the fitted
    /// features in the fitted order (only their number can be checked).
    pub fn transform_matrix(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, ScaleError> {
        if x.ncols() != self.mean.len() {
            return Err(ScaleError::FeatureCount { expected: self.mean.len(), got: x.ncols() });
        }
        let mut out = x.to_owned();
        for (mut column, (mean, scale)) in out.columns_mut().into_iter().zip(self.mean.iter().zip(&self.scale)) {
            // Subtract, then divide, as scikit-learn does (not multiply by 1/scale), so values
            // agree to the last bit more often.
            column.mapv_inplace(|v| (v - mean) / scale);
        }
        Ok(out)
    }

    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Per-feature means of the training rows.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature population variances (ddof 0) of the training rows.
    pub fn var(&self) -> &[f64] {
        &self.var
    }

    /// Per-feature divisors: the standard deviation, or 1 for a constant feature.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Per-feature numbers of non-missing training values.
    pub fn n_samples_seen(&self) -> &[usize] {
        &self.n_samples_seen
    }

    fn check_features(&self, names: &[String]) -> Result<(), ScaleError> {
        if names.len() != self.feature_names.len() {
            return Err(ScaleError::FeatureCount { expected: self.feature_names.len(), got: names.len() });
        }
        match self.feature_names.iter().zip(names).position(|(expected, got)| expected != got) {
            Some(index) => Err(ScaleError::FeatureName {
                index,
                expected: self.feature_names[index].clone(),
                got: names[index].clone(),
            }),
            None => Ok(()),
        }
    }
}

fn check_finite(data: &Dataset, x: &ArrayView2<f64>) -> Result<(), ScaleError> {
    for ((row, column), &value) in x.indexed_iter() {
        if value.is_infinite() {
            return Err(ScaleError::NotFinite {
                feature: data.feature_names[column].clone(),
                row,
                id: data.ids[row].clone(),
                value,
            });
        }
    }
    Ok(())
}

/// The JSON form, checked on the way in so a hand-edited or truncated file fails when loaded,
/// not with a panic or silent NaN when applied.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScalerFile {
    feature_names: Vec<String>,
    mean: Vec<f64>,
    var: Vec<f64>,
    scale: Vec<f64>,
    n_samples_seen: Vec<usize>,
}

impl From<StandardScaler> for ScalerFile {
    fn from(s: StandardScaler) -> ScalerFile {
        ScalerFile {
            feature_names: s.feature_names,
            mean: s.mean,
            var: s.var,
            scale: s.scale,
            n_samples_seen: s.n_samples_seen,
        }
    }
}

impl TryFrom<ScalerFile> for StandardScaler {
    type Error = ScaleError;

    fn try_from(f: ScalerFile) -> Result<StandardScaler, ScaleError> {
        let n = f.feature_names.len();
        for (what, len) in [("mean", f.mean.len()), ("var", f.var.len()), ("scale", f.scale.len())] {
            if len != n {
                return Err(ScaleError::Inconsistent(format!("{n} feature names but {len} {what} values")));
            }
        }
        if f.n_samples_seen.len() != n {
            return Err(ScaleError::Inconsistent(format!(
                "{n} feature names but {} n_samples_seen values",
                f.n_samples_seen.len()
            )));
        }
        if let Some(index) = f.scale.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(ScaleError::Inconsistent(format!(
                "scale of '{}' is {}, not a positive number",
                f.feature_names[index], f.scale[index]
            )));
        }
        Ok(StandardScaler {
            feature_names: f.feature_names,
            mean: f.mean,
            var: f.var,
            scale: f.scale,
            n_samples_seen: f.n_samples_seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn dataset(x: Array2<f64>) -> Dataset {
        let (rows, cols) = x.dim();
        Dataset::new(
            (0..rows).map(|i| format!("p{i}")).collect(),
            (0..cols).map(|j| format!("f{j}")).collect(),
            x,
            vec![0.0; rows],
        )
        .unwrap()
    }

    #[test]
    fn known_answers() {
        // Column 0: mean 2, population variance 2/3. Column 1: constant. Column 2: one missing.
        let train = dataset(array![[1.0, 5.0, 1.0], [2.0, 5.0, f64::NAN], [3.0, 5.0, 3.0]]);
        let scaler = StandardScaler::fit(&train).unwrap();
        assert_eq!(scaler.mean(), &[2.0, 5.0, 2.0]);
        assert!((scaler.var()[0] - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(scaler.scale()[1], 1.0);
        assert_eq!(scaler.n_samples_seen(), &[3, 3, 2]);
        let out = scaler.transform(&train).unwrap();
        assert_eq!(out.x[[0, 1]], 0.0);
        assert!(out.x[[1, 2]].is_nan());
        assert!((out.x[[2, 2]] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn refuses_what_it_cannot_scale() {
        let all_missing = dataset(array![[1.0, f64::NAN], [2.0, f64::NAN]]);
        assert!(
            matches!(StandardScaler::fit(&all_missing), Err(ScaleError::NoValues { feature, .. }) if feature == "f1")
        );
        let infinite = dataset(array![[1.0, f64::INFINITY], [2.0, 0.0]]);
        assert!(matches!(StandardScaler::fit(&infinite), Err(ScaleError::NotFinite { row: 0, .. })));
        let scaler = StandardScaler::fit(&dataset(array![[1.0, 2.0], [2.0, 3.0]])).unwrap();
        let mut renamed = dataset(array![[1.0, 2.0]]);
        renamed.feature_names[1] = "other".into();
        assert!(matches!(scaler.transform(&renamed), Err(ScaleError::FeatureName { index: 1, .. })));
        assert!(matches!(scaler.transform_matrix(array![[1.0]].view()), Err(ScaleError::FeatureCount { .. })));
    }

    #[test]
    fn json_round_trip_and_checks() {
        let scaler = StandardScaler::fit(&dataset(array![[1.0, 2.0], [2.0, 7.0], [4.0, 1.0]])).unwrap();
        let json = serde_json::to_string(&scaler).unwrap();
        assert_eq!(serde_json::from_str::<StandardScaler>(&json).unwrap(), scaler);
        let broken = json.replace("\"feature_names\":[\"f0\",\"f1\"]", "\"feature_names\":[\"f0\"]");
        assert!(serde_json::from_str::<StandardScaler>(&broken).is_err());
    }
}
