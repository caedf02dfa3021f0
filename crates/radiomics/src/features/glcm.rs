//! Grey Level Co-occurrence Matrix features (pyradiomics `glcm`, 24 default features).
//!
//! One symmetric matrix per direction at distance 1 over the 13 directions of 3D; each feature
//! is computed per direction and the values averaged, as pyradiomics does by default.
//! Directions without any pair are left out. Grey levels absent from the ROI are dropped, and
//! `i`, `j` are the levels' values, not their ranks.
use nalgebra::{Complex, DMatrix, Schur};

use super::grid::Texture;
use super::{ClassFeatures, EPS, entropy};
use crate::discretise::Level;

const NAMES: [&str; 24] = [
    "Autocorrelation",
    "ClusterProminence",
    "ClusterShade",
    "ClusterTendency",
    "Contrast",
    "Correlation",
    "DifferenceAverage",
    "DifferenceEntropy",
    "DifferenceVariance",
    "Id",
    "Idm",
    "Idmn",
    "Idn",
    "Imc1",
    "Imc2",
    "InverseVariance",
    "JointAverage",
    "JointEnergy",
    "JointEntropy",
    "MCC",
    "MaximumProbability",
    "SumAverage",
    "SumEntropy",
    "SumSquares",
];

pub fn compute(texture: &Texture) -> ClassFeatures {
    let Texture { max_level, grey, padded, ranked, roi, .. } = texture;
    let n = grey.values.len();
    let mut sums = [0.0f64; 24];
    let mut directions = 0usize;
    let mut counts = vec![0.0f64; n * n];
    for offset in padded.directions() {
        counts.iter_mut().for_each(|c| *c = 0.0);
        // Pairs are counted by rank: rank + 1 in the grid, 0 outside the ROI.
        let total = co_occurrences(ranked, roi, offset, n, &mut counts);
        if total == 0.0 {
            continue;
        }
        let p: Vec<f64> = counts.iter().map(|c| c / total).collect();
        for (sum, value) in sums.iter_mut().zip(features(&p, &grey.values, *max_level as f64)) {
            *sum += value;
        }
        directions += 1;
    }
    // Without a single pair, pyradiomics has no matrix to average and reports NaN.
    let mean = |sum: f64| if directions == 0 { f64::NAN } else { sum / directions as f64 };
    NAMES.iter().zip(sums).map(|(name, sum)| (*name, mean(sum))).collect()
}

/// Adds both orders of every ROI voxel pair `offset` apart into `counts` (n x n, by rank), in
/// a padded grid of ranks + 1 whose ROI voxels are at `roi`; returns the total.
fn co_occurrences(ranks: &[Level], roi: &[usize], offset: isize, n: usize, counts: &mut [f64]) -> f64 {
    let mut total = 0.0;
    for &at in roi {
        let b = ranks[at.wrapping_add_signed(offset)];
        if b == 0 {
            continue;
        }
        let (ra, rb) = (ranks[at] as usize - 1, b as usize - 1);
        counts[ra * n + rb] += 1.0;
        counts[rb * n + ra] += 1.0;
        total += 2.0;
    }
    total
}

/// The 24 features, in [`NAMES`] order, of one normalised symmetric matrix `p` (n x n) whose
/// rows and columns stand for grey levels `g`. `ng` is pyradiomics' `Ng`, the highest level.
fn features(p: &[f64], g: &[f64], ng: f64) -> [f64; 24] {
    let n = g.len();
    let at = |i: usize, j: usize| p[i * n + j];
    let px: Vec<f64> = (0..n).map(|i| (0..n).map(|j| at(i, j)).sum()).collect();
    // The matrix is symmetric, so py == px.
    let py = &px;
    let ux: f64 = (0..n).map(|i| g[i] * px[i]).sum();
    let uy = ux;
    let var_x: f64 = (0..n).map(|i| (g[i] - ux).powi(2) * px[i]).sum();
    let sigma = var_x.sqrt();

    let max_level = g[n - 1] as usize;
    let mut p_sum = vec![0.0; 2 * max_level + 1];
    let mut p_diff = vec![0.0; max_level + 1];
    let (mut autocorrelation, mut prominence, mut shade, mut tendency, mut contrast) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut id, mut idm, mut idmn, mut idn, mut energy, mut max_p, mut sum_squares) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0f64, 0.0);
    let (mut hxy, mut hxy1, mut hxy2) = (0.0, 0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            let pij = at(i, j);
            let (gi, gj) = (g[i], g[j]);
            let pxpy = px[i] * py[j];
            hxy2 -= pxpy * (pxpy + EPS).log2();
            if pij == 0.0 {
                continue;
            }
            let diff = (gi - gj).abs();
            let centred = gi + gj - ux - uy;
            p_sum[(gi + gj) as usize] += pij;
            p_diff[diff as usize] += pij;
            autocorrelation += pij * gi * gj;
            prominence += pij * centred.powi(4);
            shade += pij * centred.powi(3);
            tendency += pij * centred * centred;
            contrast += pij * diff * diff;
            id += pij / (1.0 + diff);
            idm += pij / (1.0 + diff * diff);
            idmn += pij / (1.0 + diff * diff / (ng * ng));
            idn += pij / (1.0 + diff / ng);
            energy += pij * pij;
            max_p = max_p.max(pij);
            sum_squares += pij * (gi - ux).powi(2);
            hxy -= pij * (pij + EPS).log2();
            hxy1 -= pij * (pxpy + EPS).log2();
        }
    }
    let correlation = if sigma * sigma == 0.0 { 1.0 } else { (autocorrelation - ux * uy) / (sigma * sigma) };
    let difference_average: f64 = p_diff.iter().enumerate().map(|(k, p)| k as f64 * p).sum();
    let difference_variance: f64 =
        p_diff.iter().enumerate().map(|(k, p)| (k as f64 - difference_average).powi(2) * p).sum();
    let inverse_variance: f64 = p_diff.iter().enumerate().skip(1).map(|(k, p)| p / (k * k) as f64).sum();
    let sum_average: f64 = p_sum.iter().enumerate().map(|(k, p)| k as f64 * p).sum();
    let hx = entropy(&px);
    // max(HX, HY) is HX: the matrix is symmetric.
    let imc1 = if hx == 0.0 { 0.0 } else { (hxy - hxy1) / hx };
    // Rounding can make HXY2 a hair below HXY; pyradiomics clips that to 0 before the root.
    let imc2 = (1.0 - (-2.0 * (hxy2 - hxy)).exp()).max(0.0).sqrt();
    [
        autocorrelation,
        prominence,
        shade,
        tendency,
        contrast,
        correlation,
        difference_average,
        entropy(&p_diff),
        difference_variance,
        id,
        idm,
        idmn,
        idn,
        imc1,
        imc2,
        inverse_variance,
        ux,
        energy,
        hxy,
        maximal_correlation_coefficient(p, &px),
        max_p,
        sum_average,
        entropy(&p_sum),
        sum_squares,
    ]
}

/// The square root of the second largest eigenvalue of Q, `Q(i, j) = sum_k p(i, k) p(j, k) /
/// (px(i) py(k) + eps)`, as pyradiomics computes it: with its epsilon in the denominator (which
/// moves the value by about 1e-6 where some probabilities are that small), over every grey
/// level of the ROI, and with the eigenvalues of the non-symmetric Q sorted as numpy sorts
/// complex numbers. One grey level in the whole ROI (a flat region) gives pyradiomics'
/// arbitrary 1.
///
/// nalgebra's shifted QR iteration does not converge on every Q (some scattered ROIs give
/// matrices it cycles on), so it runs with an iteration budget; past it the eigenvalues come
/// from the symmetric form of the epsilon-free Q (similar to `S²`, `S = D^-1/2 P D^-1/2`,
/// `D = diag(px)`), which differs by the epsilon only.
fn maximal_correlation_coefficient(p: &[f64], px: &[f64]) -> f64 {
    let n = px.len();
    if n < 2 {
        return 1.0;
    }
    // A level with no pair in this direction has a zero row and column in Q, hence an
    // eigenvalue 0: only the others need the decomposition. The GLCM is symmetric: py is px.
    let live: Vec<usize> = (0..n).filter(|&i| px[i] > 0.0).collect();
    // Where every px(i) px(k) dwarfs the epsilon, it moves no term of Q by 1e-10 (relative):
    // the symmetric form is then as exact, and several times cheaper than a Schur decomposition.
    let smallest = live.iter().map(|&i| px[i]).fold(f64::INFINITY, f64::min);
    let negligible = EPS / (smallest * smallest) < 1e-10;
    let exact = || {
        let q = DMatrix::from_fn(live.len(), live.len(), |a, b| {
            let (i, j) = (live[a], live[b]);
            live.iter().map(|&k| p[i * n + k] * p[j * n + k] / (px[i] * px[k] + EPS)).sum()
        });
        schur_eigenvalues(q)
    };
    let mut eigen: Vec<Complex<f64>> = match (!negligible).then(exact).flatten() {
        Some(values) => values,
        None => symmetric_eigenvalues(p, px, &live).into_iter().map(|l| Complex::new(l, 0.0)).collect(),
    };
    eigen.resize(n, Complex::new(0.0, 0.0));
    eigen.sort_unstable_by(|a, b| a.re.total_cmp(&b.re).then(a.im.total_cmp(&b.im)));
    eigen[n - 2].sqrt().re
}

/// The eigenvalues of `q` by a real Schur decomposition, or `None` when the QR iteration has
/// not converged within a budget of 30 steps per eigenvalue (it takes two to four when it
/// converges; balancing the matrix first did not help on the cycling cases seen).
fn schur_eigenvalues(q: DMatrix<f64>) -> Option<Vec<Complex<f64>>> {
    let budget = 30 * q.nrows().max(4);
    Schur::try_new(q, f64::EPSILON, budget).map(|schur| schur.complex_eigenvalues().iter().copied().collect())
}

/// The eigenvalues of the epsilon-free Q over the `live` levels: the squares of those of the
/// symmetric `S = D^-1/2 P D^-1/2`.
fn symmetric_eigenvalues(p: &[f64], px: &[f64], live: &[usize]) -> Vec<f64> {
    let n = px.len();
    let s = DMatrix::from_fn(live.len(), live.len(), |a, b| {
        let (i, j) = (live[a], live[b]);
        p[i * n + j] / (px[i] * px[j]).sqrt()
    });
    s.symmetric_eigenvalues().iter().map(|l| l * l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One direction's GLCM of label 1 of pyradiomics' prostate phantom (scattered voxels, 24
    /// pairs over 27 grey levels), as (i, j, pairs of 48): nalgebra's QR iteration cycles on
    /// its Q without an iteration budget, which hung the whole extraction.
    const SCATTERED_PAIRS: [(usize, usize, f64); 42] = [
        (2, 19, 1.0),
        (3, 13, 1.0),
        (6, 7, 1.0),
        (7, 6, 1.0),
        (7, 8, 1.0),
        (7, 24, 1.0),
        (8, 7, 1.0),
        (9, 10, 1.0),
        (10, 9, 1.0),
        (10, 11, 1.0),
        (11, 10, 1.0),
        (12, 13, 1.0),
        (12, 20, 1.0),
        (12, 24, 1.0),
        (13, 3, 1.0),
        (13, 12, 1.0),
        (13, 13, 2.0),
        (14, 14, 2.0),
        (16, 17, 1.0),
        (17, 16, 1.0),
        (17, 20, 2.0),
        (17, 23, 2.0),
        (18, 20, 1.0),
        (18, 23, 1.0),
        (19, 2, 1.0),
        (19, 22, 1.0),
        (19, 24, 1.0),
        (20, 12, 1.0),
        (20, 17, 2.0),
        (20, 18, 1.0),
        (20, 21, 1.0),
        (20, 24, 1.0),
        (21, 20, 1.0),
        (21, 26, 1.0),
        (22, 19, 1.0),
        (23, 17, 2.0),
        (23, 18, 1.0),
        (24, 7, 1.0),
        (24, 12, 1.0),
        (24, 19, 1.0),
        (24, 20, 1.0),
        (26, 21, 1.0),
    ];

    #[test]
    fn mcc_of_a_matrix_the_qr_iteration_cycles_on_still_ends() {
        let n = 27;
        let mut p = vec![0.0; n * n];
        for (i, j, count) in SCATTERED_PAIRS {
            p[i * n + j] = count / 48.0;
        }
        let px: Vec<f64> = (0..n).map(|i| (0..n).map(|j| p[i * n + j]).sum()).collect();
        let live: Vec<usize> = (0..n).filter(|&i| px[i] > 0.0).collect();
        let q = DMatrix::from_fn(live.len(), live.len(), |a, b| {
            let (i, j) = (live[a], live[b]);
            live.iter().map(|&k| p[i * n + k] * p[j * n + k] / (px[i] * px[k] + EPS)).sum()
        });
        assert!(schur_eigenvalues(q).is_none(), "nalgebra converges now: the fallback may be unneeded");
        let mcc = maximal_correlation_coefficient(&p, &px);
        let mut symmetric = symmetric_eigenvalues(&p, &px, &live);
        symmetric.resize(n, 0.0);
        symmetric.sort_unstable_by(f64::total_cmp);
        assert!((mcc - symmetric[n - 2].sqrt()).abs() < 1e-9, "{mcc}");
        assert!((0.0..=1.0 + 1e-12).contains(&mcc), "{mcc}");
    }
}
