//! Grey Level Run Length Matrix features (pyradiomics `glrlm`, 16 default features).
//!
//! A run is a maximal line of ROI voxels with one grey level along a direction; one matrix
//! (grey level x run length) per direction of the 13 in 3D, features computed per direction
//! and averaged. `i` is the grey level's value, `j` the run length in voxels.
use super::{ClassFeatures, DIRECTIONS, EPS, glcm::GreyLevels, neighbour};
use crate::discretise::Discretised;

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
pub fn compute(levels: &Discretised, voxel_count: usize) -> ClassFeatures {
    let grey = GreyLevels::of(levels);
    let longest = levels.size.iter().copied().max().unwrap_or(1);
    let mut sums = [0.0f64; 16];
    let mut directions = 0usize;
    for d in DIRECTIONS {
        let runs = run_lengths(levels, &grey.rank, grey.values.len(), longest, d);
        let Some(values) = features(&runs, &grey.values, longest, voxel_count as f64) else { continue };
        for (sum, value) in sums.iter_mut().zip(values) {
            *sum += value;
        }
        directions += 1;
    }
    NAMES.iter().zip(sums).map(|(name, sum)| (*name, sum / directions.max(1) as f64)).collect()
}

/// Counts runs along `d`: entry `rank * longest + (length - 1)`.
fn run_lengths(levels: &Discretised, rank: &[usize], n: usize, longest: usize, d: [isize; 3]) -> Vec<f64> {
    let [nx, ny, nz] = levels.size;
    let back = [-d[0], -d[1], -d[2]];
    let mut runs = vec![0.0; n * longest];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let level = levels.levels[x + nx * (y + ny * z)];
                if level == 0 {
                    continue;
                }
                // Only the first voxel of a run counts it.
                if neighbour(levels.size, [x, y, z], back).is_some_and(|prev| levels.levels[prev] == level) {
                    continue;
                }
                let mut length = 1;
                let mut at = [x, y, z];
                while let Some(next) = neighbour(levels.size, at, d) {
                    if levels.levels[next] != level {
                        break;
                    }
                    length += 1;
                    at = [
                        (at[0] as isize + d[0]) as usize,
                        (at[1] as isize + d[1]) as usize,
                        (at[2] as isize + d[2]) as usize,
                    ];
                }
                runs[rank[level as usize] * longest + length - 1] += 1.0;
            }
        }
    }
    runs
}

/// The 16 features of one direction's run-length matrix, or `None` when it holds no run.
fn features(runs: &[f64], g: &[f64], longest: usize, np: f64) -> Option<[f64; 16]> {
    let nr: f64 = runs.iter().sum();
    if nr == 0.0 {
        return None;
    }
    let n = g.len();
    let at = |i: usize, j: usize| runs[i * longest + j];
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
