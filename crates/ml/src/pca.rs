//! Principal component analysis by an exact SVD of the centred matrix.
//!
//! [`Pca`] reproduces scikit-learn's `PCA(svd_solver="full")` (1.9.1), which calls LAPACK's SVD
//! on the centred data:
//!
//! - `explained_variance[i] = s[i]² / (n_samples - 1)` for the singular values `s`, and
//!   `explained_variance_ratio[i]` is that over the sum of **all** of them, not only the kept
//!   ones (linfa-reduction's ratio is relative to the kept components, which is why we do not use
//!   it; DESIGN.md §8);
//! - a variance target `t` keeps `k = searchsorted(cumsum(ratio), t, side="right") + 1`
//!   components: the smallest `k` whose cumulative ratio is strictly greater than `t` (a
//!   cumulative ratio exactly equal to `t` is not enough). When rounding leaves every cumulative
//!   ratio at or below `t`, scikit-learn reports `k` one past the number of components; we keep
//!   all components instead;
//! - signs follow scikit-learn's `svd_flip(u_based_decision=False)` (used by `PCA` since 1.5;
//!   1.3–1.4 flipped on `u`): in each component the entry of largest absolute value is positive
//!   (the first such entry when several tie).
//!
//! The SVD is nalgebra's (Golub-Kahan bidiagonalisation and implicit-shift QR). Against
//! scikit-learn/LAPACK (gesdd) on the fixtures in `tests/data/core` (119 x 215 raw and
//! standardised, 400 x 12, 30 x 8 with zero singular values) the ratios agree within 4e-16, the
//! singular values within 8e-16 of the largest, and the components, signs included, within 3e-14
//! wherever the spectrum defines them (see tests/core.rs). Every decomposition is checked
//! (orthonormal vectors, |X v| = s) before it is used.
//! Components belonging to equal (or zero) singular values are not unique: any rotation of them
//! is an equally exact answer, so they can differ from scikit-learn's.

use crate::dataset::Dataset;
use nalgebra::DMatrix;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcaError {
    #[error("PCA needs at least 2 rows and 1 feature, got {rows} x {features}")]
    TooSmall { rows: usize, features: usize },
    #[error("the variance target must be strictly between 0 and 1, got {0}")]
    Target(f64),
    #[error("cannot keep {asked} components of a {rows} x {features} matrix (at most {max})")]
    Count { asked: usize, rows: usize, features: usize, max: usize },
    #[error("value at row {row}, column {column} is {value}; PCA needs finite values (impute missing ones first)")]
    NotFinite { row: usize, column: usize, value: f64 },
    #[error("the SVD did not converge within {0} iterations")]
    NoConvergence(usize),
    #[error(
        "the SVD is inaccurate (singular vectors off orthonormal by {orthonormal_error:e}, singular values off \
         by {norm_error:e} relative); please report this matrix"
    )]
    Inaccurate { orthonormal_error: f64, norm_error: f64 },
    #[error("the matrix has zero variance in every feature")]
    ZeroVariance,
    #[error("the PCA was fitted on {expected} features but the data has {got}")]
    FeatureCount { expected: usize, got: usize },
    #[error("feature {index} is '{got}' where the PCA was fitted on '{expected}'")]
    FeatureName { index: usize, expected: String, got: String },
    #[error("fitted PCA parameters are inconsistent: {0}")]
    Inconsistent(String),
}

/// How many components to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Components {
    /// The fewest components whose explained variance ratios add up to more than this
    /// fraction, e.g. 0.99 (scikit-learn's float `n_components`).
    VarianceTarget(f64),
    /// Exactly this many (scikit-learn's integer `n_components`).
    Count(usize),
}

/// A fitted PCA: `transform(x) = (x - mean) · componentsᵀ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PcaFile", into = "PcaFile")]
pub struct Pca {
    feature_names: Vec<String>,
    n_samples: usize,
    mean: Array1<f64>,
    /// k x features, one component a row.
    components: Array2<f64>,
    explained_variance: Array1<f64>,
    explained_variance_ratio: Array1<f64>,
    singular_values: Array1<f64>,
    /// Sum of the explained variance of all min(rows, features) components.
    total_variance: f64,
    /// Per-feature sample variance (ddof 1) of the fitted rows, for correlations.
    feature_variance: Array1<f64>,
}

impl Pca {
    /// Fits on the rows of `data` (already scaled: PCA is not scale-invariant).
    pub fn fit(data: &Dataset, components: Components) -> Result<Pca, PcaError> {
        let mut pca = Pca::fit_matrix(data.x.view(), components)?;
        pca.feature_names = data.feature_names.clone();
        Ok(pca)
    }

    /// Fits on a bare matrix; feature names are then `x0`, `x1`, ... as scikit-learn names them.
    pub fn fit_matrix(x: ArrayView2<f64>, components: Components) -> Result<Pca, PcaError> {
        let (n_rows, n_features) = x.dim();
        if n_rows < 2 || n_features == 0 {
            return Err(PcaError::TooSmall { rows: n_rows, features: n_features });
        }
        let max_components = n_rows.min(n_features);
        match components {
            Components::VarianceTarget(target) if !(target > 0.0 && target < 1.0) => {
                return Err(PcaError::Target(target));
            }
            Components::Count(asked) if asked == 0 || asked > max_components => {
                return Err(PcaError::Count { asked, rows: n_rows, features: n_features, max: max_components });
            }
            _ => {}
        }
        if let Some(((row, column), &value)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(PcaError::NotFinite { row, column, value });
        }
        let mean = x.mean_axis(Axis(0)).ok_or(PcaError::TooSmall { rows: n_rows, features: n_features })?;
        let centred = &x - &mean;
        let dof = (n_rows - 1) as f64;
        let feature_variance = centred.map_axis(Axis(0), |column| column.iter().map(|v| v * v).sum::<f64>() / dof);

        let (singular_values, mut v_t) = svd(&centred)?;
        flip_signs(&mut v_t);
        let explained_variance = singular_values.mapv(|s| s * s / dof);
        let total_variance = explained_variance.sum();
        if total_variance.is_nan() || total_variance <= 0.0 {
            return Err(PcaError::ZeroVariance);
        }
        let ratio = explained_variance.mapv(|v| v / total_variance);
        let k = match components {
            Components::Count(k) => k,
            Components::VarianceTarget(target) => n_for_target(&ratio.to_vec(), target),
        };
        Ok(Pca {
            feature_names: (0..n_features).map(|j| format!("x{j}")).collect(),
            n_samples: n_rows,
            mean,
            components: v_t.slice(ndarray::s![..k, ..]).to_owned(),
            explained_variance: explained_variance.slice(ndarray::s![..k]).to_owned(),
            explained_variance_ratio: ratio.slice(ndarray::s![..k]).to_owned(),
            singular_values: singular_values.slice(ndarray::s![..k]).to_owned(),
            total_variance,
            feature_variance,
        })
    }

    /// The scores of `data` on the kept components, as a dataset with features `PC1`..`PCk`
    /// (ids and labels unchanged). The features must be the fitted ones, in the fitted order.
    pub fn transform(&self, data: &Dataset) -> Result<Dataset, PcaError> {
        if data.feature_names.len() != self.feature_names.len() {
            return Err(PcaError::FeatureCount { expected: self.feature_names.len(), got: data.feature_names.len() });
        }
        if let Some(index) = self.feature_names.iter().zip(&data.feature_names).position(|(a, b)| a != b) {
            return Err(PcaError::FeatureName {
                index,
                expected: self.feature_names[index].clone(),
                got: data.feature_names[index].clone(),
            });
        }
        let x = self.transform_matrix(data.x.view())?;
        Ok(Dataset {
            ids: data.ids.clone(),
            feature_names: (1..=self.n_components()).map(|i| format!("PC{i}")).collect(),
            x,
            y: data.y.clone(),
        })
    }

    /// The bare-matrix form of [`transform`](Self::transform): rows x k scores.
    pub fn transform_matrix(&self, x: ArrayView2<f64>) -> Result<Array2<f64>, PcaError> {
        if x.ncols() != self.mean.len() {
            return Err(PcaError::FeatureCount { expected: self.mean.len(), got: x.ncols() });
        }
        if let Some(((row, column), &value)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(PcaError::NotFinite { row, column, value });
        }
        Ok((&x - &self.mean).dot(&self.components.t()))
    }

    /// Features x k: component loadings, `components[i][j] * sqrt(explained_variance[i])`,
    /// transposed so that row j is feature j (the usual orientation for a correlation circle).
    ///
    /// Loading (j, i) is the covariance of feature j with the scores on component i divided by
    /// the scores' standard deviation. On standardised input it is close to, but not exactly, the
    /// correlation: StandardScaler divides by the population deviation (ddof 0), PCA's variances
    /// use ddof 1, so loading = correlation * sqrt(n / (n - 1)). Use
    /// [`correlations`](Self::correlations) for points guaranteed inside the unit circle.
    pub fn loadings(&self) -> Array2<f64> {
        let mut loadings = self.components.t().to_owned();
        for (mut column, variance) in loadings.columns_mut().into_iter().zip(&self.explained_variance) {
            column *= variance.sqrt();
        }
        loadings
    }

    /// Features x k: the correlation of each feature with the scores on each kept component,
    /// over the fitted rows (0 for a feature with no variance).
    pub fn correlations(&self) -> Array2<f64> {
        let mut correlations = self.loadings();
        for (mut row, variance) in correlations.rows_mut().into_iter().zip(&self.feature_variance) {
            if *variance > 0.0 {
                row /= variance.sqrt();
            } else {
                row.fill(0.0);
            }
        }
        correlations
    }

    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }

    /// k x features.
    pub fn components(&self) -> &Array2<f64> {
        &self.components
    }

    pub fn explained_variance(&self) -> &Array1<f64> {
        &self.explained_variance
    }

    pub fn explained_variance_ratio(&self) -> &Array1<f64> {
        &self.explained_variance_ratio
    }

    pub fn singular_values(&self) -> &Array1<f64> {
        &self.singular_values
    }

    /// The variance of all components, kept or not (the ratios' denominator).
    pub fn total_variance(&self) -> f64 {
        self.total_variance
    }
}

/// scikit-learn's `searchsorted(cumsum(ratio), target, side="right") + 1`: one past the last
/// cumulative ratio at or below the target, capped at the number of components. The running sum
/// is sequential, as numpy's cumsum.
fn n_for_target(ratio: &[f64], target: f64) -> usize {
    let mut cumulative = 0.0;
    let n_at_or_below = ratio
        .iter()
        .take_while(|&&r| {
            cumulative += r;
            cumulative <= target
        })
        .count();
    (n_at_or_below + 1).min(ratio.len())
}

/// Singular values (descending) and the right singular vectors as rows, min(rows, cols) of each.
fn svd(centred: &Array2<f64>) -> Result<(Array1<f64>, Array2<f64>), PcaError> {
    let (n_rows, n_cols) = centred.dim();
    let matrix = DMatrix::from_fn(n_rows, n_cols, |i, j| centred[[i, j]]);
    let dim = n_rows.min(n_cols);
    // LAPACK's dbdsqr allows 6 n² QR sweeps; a correct input needs far fewer, so hitting this
    // means something is wrong rather than slow.
    let max_iterations = 6 * dim * dim + 100;
    // nalgebra's own default tolerance, 5 ulp. With 1 ulp, nalgebra 0.34.2 returns wrong
    // singular values without any error (5 ± 2.26 on a rank-one 4 x 2 matrix), hence also the
    // check below.
    let tolerance = 5.0 * f64::EPSILON;
    let svd = nalgebra::SVD::try_new(matrix, false, true, tolerance, max_iterations)
        .ok_or(PcaError::NoConvergence(max_iterations))?;
    let v_t = svd.v_t.ok_or(PcaError::NoConvergence(max_iterations))?;
    let singular_values = Array1::from_iter(svd.singular_values.iter().copied());
    let v_t = Array2::from_shape_fn((v_t.nrows(), v_t.ncols()), |(i, j)| v_t[(i, j)]);
    check_svd(centred, &singular_values, &v_t)?;
    Ok((singular_values, v_t))
}

/// Refuses a decomposition that does not decompose: the rows of `v_t` must be orthonormal and
/// `|X v_i|` must equal `s_i`. Costs two small matrix products, next to nothing beside the SVD,
/// and turns a silent numerical failure of the solver into an error.
fn check_svd(centred: &Array2<f64>, singular_values: &Array1<f64>, v_t: &Array2<f64>) -> Result<(), PcaError> {
    let largest = singular_values.iter().fold(0.0f64, |a, &b| a.max(b));
    // Far above rounding (about 1e-13 here), far below any error that would matter.
    let limit = 1e-8;
    let gram = v_t.dot(&v_t.t());
    let orthonormal_error =
        gram.indexed_iter().map(|((i, j), &g)| (g - if i == j { 1.0 } else { 0.0 }).abs()).fold(0.0f64, f64::max);
    let projected = centred.dot(&v_t.t());
    let norm_error = projected
        .columns()
        .into_iter()
        .zip(singular_values)
        .map(|(column, s)| (column.dot(&column).sqrt() - s).abs())
        .fold(0.0f64, f64::max);
    if orthonormal_error > limit || norm_error > limit * largest.max(f64::MIN_POSITIVE) {
        return Err(PcaError::Inaccurate { orthonormal_error, norm_error: norm_error / largest });
    }
    Ok(())
}

/// scikit-learn's svd_flip with `u_based_decision=False`: the largest |entry| of each row is made
/// positive (numpy's argmax: the first of equal maxima).
fn flip_signs(v_t: &mut Array2<f64>) {
    for mut row in v_t.rows_mut() {
        let mut largest = 0.0f64;
        let mut sign = 1.0;
        for &value in row.iter() {
            if value.abs() > largest {
                largest = value.abs();
                sign = value.signum();
            }
        }
        if sign < 0.0 {
            row.mapv_inplace(|v| -v);
        }
    }
}

/// The JSON form: plain nested lists, checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PcaFile {
    feature_names: Vec<String>,
    n_samples: usize,
    mean: Vec<f64>,
    /// One component a row.
    components: Vec<Vec<f64>>,
    explained_variance: Vec<f64>,
    explained_variance_ratio: Vec<f64>,
    singular_values: Vec<f64>,
    total_variance: f64,
    feature_variance: Vec<f64>,
}

impl From<Pca> for PcaFile {
    fn from(pca: Pca) -> PcaFile {
        PcaFile {
            feature_names: pca.feature_names,
            n_samples: pca.n_samples,
            mean: pca.mean.to_vec(),
            components: pca.components.rows().into_iter().map(|row| row.to_vec()).collect(),
            explained_variance: pca.explained_variance.to_vec(),
            explained_variance_ratio: pca.explained_variance_ratio.to_vec(),
            singular_values: pca.singular_values.to_vec(),
            total_variance: pca.total_variance,
            feature_variance: pca.feature_variance.to_vec(),
        }
    }
}

impl TryFrom<PcaFile> for Pca {
    type Error = PcaError;

    fn try_from(file: PcaFile) -> Result<Pca, PcaError> {
        let n_features = file.feature_names.len();
        let k = file.components.len();
        let inconsistent = |message: String| Err(PcaError::Inconsistent(message));
        if k == 0 {
            return inconsistent("no components".into());
        }
        for (what, len, expected) in [
            ("mean", file.mean.len(), n_features),
            ("feature_variance", file.feature_variance.len(), n_features),
            ("explained_variance", file.explained_variance.len(), k),
            ("explained_variance_ratio", file.explained_variance_ratio.len(), k),
            ("singular_values", file.singular_values.len(), k),
        ] {
            if len != expected {
                return inconsistent(format!("{what} has {len} values where {expected} are expected"));
            }
        }
        if let Some(index) = file.components.iter().position(|row| row.len() != n_features) {
            return inconsistent(format!(
                "component {index} has {} values for {n_features} features",
                file.components[index].len()
            ));
        }
        let components = Array2::from_shape_vec((k, n_features), file.components.into_iter().flatten().collect())
            .map_err(|e| PcaError::Inconsistent(e.to_string()))?;
        Ok(Pca {
            feature_names: file.feature_names,
            n_samples: file.n_samples,
            mean: Array1::from(file.mean),
            components,
            explained_variance: Array1::from(file.explained_variance),
            explained_variance_ratio: Array1::from(file.explained_variance_ratio),
            singular_values: Array1::from(file.singular_values),
            total_variance: file.total_variance,
            feature_variance: Array1::from(file.feature_variance),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn rank_one_data_has_one_component() {
        // Points on the line y = 2x: all variance on (1, 2)/sqrt(5).
        let x = array![[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let pca = Pca::fit_matrix(x.view(), Components::VarianceTarget(0.5)).unwrap();
        assert_eq!(pca.n_components(), 1);
        let expected = [1.0 / 5f64.sqrt(), 2.0 / 5f64.sqrt()];
        for (got, want) in pca.components().row(0).iter().zip(expected) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
        assert!((pca.explained_variance_ratio()[0] - 1.0).abs() < 1e-14);
        // Variance of the scores = explained variance (ddof 1).
        let scores = pca.transform_matrix(x.view()).unwrap();
        let var = scores.column(0).iter().map(|v| v * v).sum::<f64>() / 3.0;
        assert!((var - pca.explained_variance()[0]).abs() < 1e-12, "{var} vs {}", pca.explained_variance());
    }

    #[test]
    fn target_equal_to_a_cumulative_ratio_takes_one_more() {
        // Cumulative ratios 0.5, 0.75, 1.0 (exact in binary).
        let ratio = [0.5, 0.25, 0.25];
        assert_eq!(n_for_target(&ratio, 0.75), 3);
        assert_eq!(n_for_target(&ratio, 0.7), 2);
        assert_eq!(n_for_target(&ratio, 0.25), 1);
        // Rounding can leave the total just below a target close to 1: keep everything.
        assert_eq!(n_for_target(&[0.5, 0.4999999999], 0.99999999999), 2);
    }

    #[test]
    fn flip_makes_largest_entry_positive() {
        let mut v = array![[0.6, -0.8], [-0.8, -0.6], [0.5, -0.5]];
        flip_signs(&mut v);
        assert_eq!(v, array![[-0.6, 0.8], [0.8, 0.6], [0.5, -0.5]]);
    }

    #[test]
    fn bad_input_is_refused() {
        let x = array![[1.0, 2.0], [3.0, f64::NAN], [0.0, 1.0]];
        assert!(matches!(
            Pca::fit_matrix(x.view(), Components::Count(1)),
            Err(PcaError::NotFinite { row: 1, column: 1, .. })
        ));
        let x = array![[1.0, 2.0], [3.0, 4.0], [0.0, 1.0]];
        assert!(matches!(Pca::fit_matrix(x.view(), Components::Count(3)), Err(PcaError::Count { max: 2, .. })));
        assert!(matches!(Pca::fit_matrix(x.view(), Components::VarianceTarget(1.0)), Err(PcaError::Target(_))));
        assert!(matches!(
            Pca::fit_matrix(x.slice(ndarray::s![..1, ..]), Components::Count(1)),
            Err(PcaError::TooSmall { .. })
        ));
        let constant = array![[1.0, 2.0], [1.0, 2.0]];
        assert_eq!(Pca::fit_matrix(constant.view(), Components::Count(1)), Err(PcaError::ZeroVariance));
    }

    #[test]
    fn json_round_trip() {
        let x = array![[1.0, 2.0, 0.5], [3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [2.0, 2.5, 1.0]];
        let pca = Pca::fit_matrix(x.view(), Components::Count(2)).unwrap();
        let json = serde_json::to_string(&pca).unwrap();
        let back: Pca = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pca);
        let broken = json.replace("\"n_samples\":4", "\"n_samples\":4,\"extra\":1");
        assert!(serde_json::from_str::<Pca>(&broken).is_err());
    }
}
