//! Grey Level Run Length Matrix features (pyradiomics `glrlm`, 16 default features).
//!
//! A run is a maximal line of ROI voxels with one grey level along a direction; one matrix
//! (grey level x run length) per direction of the 13 in 3D, features computed per direction
//! and averaged. `i` is the grey level's value, `j` the run length in voxels.
use super::grid::Texture;
use super::{ClassFeatures, DIRECTIONS, EPS};
use crate::discretise::Level;

const NAMES: [&str; 16] = [
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelRunEmphasis",
    "LongRunEmphasis",
    "LongRunHighGrayLevelEmphasis",
    "LongRunLowGrayLevelEmphasis",
    "LowGrayLevelRunEmphasis",
    "RunEntropy",
    "RunLengthNonUniformity",
    "RunLengthNonUniformityNormalized",
    "RunPercentage",
    "RunVariance",
    "ShortRunEmphasis",
    "ShortRunHighGrayLevelEmphasis",
    "ShortRunLowGrayLevelEmphasis",
];

/// `voxel_count` is the number of ROI voxels (pyradiomics' `Np`).
pub fn compute(texture: &Texture, voxel_count: usize) -> ClassFeatures {
    // Runs compare levels only for equality, so ranks + 1 serve as well and index the matrix.
    let Texture { size, grey, padded, ranked, roi, .. } = texture;
    let longest = size.iter().copied().max().unwrap_or(1);
    let coordinates = roi_coordinates(*size, roi);
    let mut sums = [0.0f64; 16];
    let mut directions = 0usize;
    for (d, offset) in DIRECTIONS.iter().zip(padded.directions()) {
        // pyradiomics (its C extension) zeroes, then drops, a direction in which no line meets
        // more than one ROI voxel, contiguous or not: a flat ROI seen edge-on, or a scatter of
        // voxels no two of which line up along it.
        if !some_line_meets_two(*size, &coordinates, *d) {
            continue;
        }
        let runs = run_lengths(ranked, roi, grey.values.len(), longest, offset);
        let Some(values) = features(&runs, &grey.values, longest, voxel_count as f64) else { continue };
        for (sum, value) in sums.iter_mut().zip(values) {
            *sum += value;
        }
        directions += 1;
    }
    let mean = |sum: f64| if directions == 0 { f64::NAN } else { sum / directions as f64 };
    NAMES.iter().zip(sums).map(|(name, sum)| (*name, mean(sum))).collect()
}

/// The (x, y, z) in the box of every ROI voxel, from its index in the padded grid (one voxel of
/// border on each side), so that the 13 directions' line checks visit the ROI only.
fn roi_coordinates(size: [usize; 3], roi: &[usize]) -> Vec<[usize; 3]> {
    let [nx, ny, _] = size;
    let (px, py) = (nx + 2, ny + 2);
    roi.iter().map(|&at| [at % px - 1, at / px % py - 1, at / (px * py) - 1]).collect()
}

/// Whether some line of the bounding box (`size`) along direction `d` meets two or more of the
/// ROI voxels at `coordinates`. Each voxel is traced back along `-d` to where its line enters
/// the box, and that entry voxel names the line; a ROI that lines up at all usually answers
/// within a few voxels.
fn some_line_meets_two(size: [usize; 3], coordinates: &[[usize; 3]], d: [isize; 3]) -> bool {
    let mut lines = std::collections::HashSet::with_capacity(coordinates.len());
    for &at in coordinates {
        // Steps back to the box's edge: the fewest any moving axis allows.
        let back = (0..3)
            .filter(|&axis| d[axis] != 0)
            .map(|axis| if d[axis] > 0 { at[axis] } else { size[axis] - 1 - at[axis] })
            .min()
            .unwrap_or(0);
        let entry: [usize; 3] = std::array::from_fn(|axis| at[axis].wrapping_add_signed(-d[axis] * back as isize));
        if !lines.insert(entry) {
            return true;
        }
    }
    false
}

/// Counts runs along `offset` in a padded grid of ranks + 1 whose ROI voxels are at `roi`:
/// entry `rank * longest + (length - 1)`.
fn run_lengths(ranks: &[Level], roi: &[usize], n: usize, longest: usize, offset: isize) -> Vec<u32> {
    let mut runs = vec![0u32; n * longest];
    for &start in roi {
        let rank = ranks[start];
        // Only the first voxel of a run counts it. The zero border ends every run inside the
        // grid, so no step below leaves it.
        if ranks[start.wrapping_add_signed(-offset)] == rank {
            continue;
        }
        let mut length = 1;
        let mut at = start.wrapping_add_signed(offset);
        while ranks[at] == rank {
            length += 1;
            at = at.wrapping_add_signed(offset);
        }
        runs[(rank as usize - 1) * longest + length - 1] += 1;
    }
    runs
}

/// The 16 features of one direction's run-length matrix, or `None` when it holds no run.
fn features(runs: &[u32], g: &[f64], longest: usize, np: f64) -> Option<[f64; 16]> {
    let nr = runs.iter().map(|&c| f64::from(c)).sum::<f64>();
    if nr == 0.0 {
        return None;
    }
    let n = g.len();
    let at = |i: usize, j: usize| f64::from(runs[i * longest + j]);
    let pg: Vec<f64> = (0..n).map(|i| (0..longest).map(|j| at(i, j)).sum()).collect();
    let pr: Vec<f64> = (0..longest).map(|j| (0..n).map(|i| at(i, j)).sum()).collect();
    let mean_level: f64 = (0..n).map(|i| g[i] * pg[i]).sum::<f64>() / nr;
    let mean_length: f64 = (0..longest).map(|j| (j + 1) as f64 * pr[j]).sum::<f64>() / nr;
    let (mut glv, mut rv, mut entropy) = (0.0, 0.0, 0.0);
    let (mut lrhgle, mut lrlgle, mut srhgle, mut srlgle) = (0.0, 0.0, 0.0, 0.0);
    for (i, &level) in g.iter().enumerate() {
        let i2 = level * level;
        for j in 0..longest {
            let count = at(i, j);
            if count == 0.0 {
                continue;
            }
            let p = count / nr;
            let j2 = ((j + 1) * (j + 1)) as f64;
            glv += p * (level - mean_level).powi(2);
            rv += p * ((j + 1) as f64 - mean_length).powi(2);
            entropy -= p * (p + EPS).log2();
            lrhgle += count * i2 * j2;
            lrlgle += count * j2 / i2;
            srhgle += count * i2 / j2;
            srlgle += count / (i2 * j2);
        }
    }
    let sum_pg = |f: &dyn Fn(f64, f64) -> f64| (0..n).map(|i| f(g[i], pg[i])).sum::<f64>();
    let sum_pr = |f: &dyn Fn(f64, f64) -> f64| (0..longest).map(|j| f((j + 1) as f64, pr[j])).sum::<f64>();
    let gln = sum_pg(&|_, c| c * c);
    let rln = sum_pr(&|_, c| c * c);
    Some([
        gln / nr,
        gln / (nr * nr),
        glv,
        sum_pg(&|i, c| c * i * i) / nr,
        sum_pr(&|j, c| c * j * j) / nr,
        lrhgle / nr,
        lrlgle / nr,
        sum_pg(&|i, c| c / (i * i)) / nr,
        entropy,
        rln / nr,
        rln / (nr * nr),
        nr / np,
        rv,
        sum_pr(&|j, c| c / (j * j)) / nr,
        srhgle / nr,
        srlgle / nr,
    ])
}
