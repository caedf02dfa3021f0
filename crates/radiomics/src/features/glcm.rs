//! Grey Level Co-occurrence Matrix features (pyradiomics `glcm`, 24 default features).
//!
//! One symmetric matrix per direction at distance 1 over the 13 directions of 3D; each feature
//! is computed per direction and the values averaged, as pyradiomics does by default.
//! Directions without any pair are left out. Grey levels absent from the ROI are dropped, and
//! `i`, `j` are the levels' values, not their ranks.
use nalgebra::DMatrix;

use super::{ClassFeatures, DIRECTIONS, EPS, entropy, neighbour};
use crate::discretise::Discretised;

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

pub fn compute(levels: &Discretised) -> ClassFeatures {
    let grey = GreyLevels::of(levels);
    let n = grey.values.len();
    let mut sums = [0.0f64; 24];
    let mut directions = 0usize;
    let mut counts = vec![0.0f64; n * n];
    for d in DIRECTIONS {
        counts.iter_mut().for_each(|c| *c = 0.0);
        let total = co_occurrences(levels, &grey.rank, d, n, &mut counts);
        if total == 0.0 {
            continue;
        }
        let p: Vec<f64> = counts.iter().map(|c| c / total).collect();
        for (sum, value) in sums.iter_mut().zip(features(&p, &grey.values, levels.max_level as f64)) {
            *sum += value;
        }
        directions += 1;
    }
    NAMES.iter().zip(sums).map(|(name, sum)| (*name, sum / directions.max(1) as f64)).collect()
}

/// The grey levels present in the ROI, and each level's rank among them.
pub(crate) struct GreyLevels {
    /// Present levels, ascending.
    pub values: Vec<f64>,
    /// `rank[level]` is the level's index in `values` (meaningless for absent levels).
    pub rank: Vec<usize>,
}

impl GreyLevels {
    pub fn of(levels: &Discretised) -> GreyLevels {
        let mut present = vec![false; levels.max_level as usize + 1];
        for &l in &levels.levels {
            present[l as usize] = true;
        }
        let mut rank = vec![0; present.len()];
        let mut values = Vec::new();
        for level in 1..present.len() {
            if present[level] {
                rank[level] = values.len();
                values.push(level as f64);
            }
        }
        GreyLevels { values, rank }
    }
}

/// Adds both orders of every ROI voxel pair one step apart along `d` into `counts` (n x n,
/// ranks); returns the total.
fn co_occurrences(levels: &Discretised, rank: &[usize], d: [isize; 3], n: usize, counts: &mut [f64]) -> f64 {
    let [nx, ny, nz] = levels.size;
    let mut total = 0.0;
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let a = levels.levels[x + nx * (y + ny * z)];
                if a == 0 {
                    continue;
                }
                let Some(other) = neighbour(levels.size, [x, y, z], d) else { continue };
                let b = levels.levels[other];
                if b == 0 {
                    continue;
                }
                let (ra, rb) = (rank[a as usize], rank[b as usize]);
                counts[ra * n + rb] += 1.0;
                counts[rb * n + ra] += 1.0;
                total += 2.0;
            }
        }
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
/// (px(i) py(k))`. For a symmetric matrix Q is similar to S², with S = D^-1/2 P D^-1/2 and
/// D = diag(px), so the symmetric eigenvalues of S, squared, are Q's.
fn maximal_correlation_coefficient(p: &[f64], px: &[f64]) -> f64 {
    let n = px.len();
    // Levels with no pair in this direction have an empty row: they add a zero eigenvalue.
    let live: Vec<usize> = (0..n).filter(|&i| px[i] > 0.0).collect();
    if live.len() < 2 {
        return 1.0;
    }
    let s = DMatrix::from_fn(live.len(), live.len(), |a, b| {
        let (i, j) = (live[a], live[b]);
        p[i * n + j] / (px[i] * px[j]).sqrt()
    });
    let mut eigen: Vec<f64> = s.symmetric_eigenvalues().iter().map(|l| l * l).collect();
    eigen.sort_unstable_by(f64::total_cmp);
    eigen[eigen.len() - 2].max(0.0).sqrt()
}
