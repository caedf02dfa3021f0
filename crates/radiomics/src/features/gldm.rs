//! Grey Level Dependence Matrix features (pyradiomics `gldm`, 14 default features).
//!
//! With pyradiomics' defaults (distance 1, alpha 0) a neighbour of a ROI voxel is dependent
//! when it is one of the 26 around it, inside the ROI, and of the same grey level. The matrix
//! counts voxels by grey level `i` (the level's value) and dependence size `j`, which counts
//! the voxel itself too: `j = 1 + dependent neighbours`, 1..=27 (IBSI's NGLDM convention, which
//! pyradiomics follows). `Nz`, the sum of the matrix, is the number of ROI voxels.
use super::grid::Texture;
use super::{ClassFeatures, EPS};
use crate::discretise::Level;

const NAMES: [&str; 14] = [
    "DependenceEntropy",
    "DependenceNonUniformity",
    "DependenceNonUniformityNormalized",
    "DependenceVariance",
    "GrayLevelNonUniformity",
    "GrayLevelVariance",
    "HighGrayLevelEmphasis",
    "LargeDependenceEmphasis",
    "LargeDependenceHighGrayLevelEmphasis",
    "LargeDependenceLowGrayLevelEmphasis",
    "LowGrayLevelEmphasis",
    "SmallDependenceEmphasis",
    "SmallDependenceHighGrayLevelEmphasis",
    "SmallDependenceLowGrayLevelEmphasis",
];

/// Dependence sizes 1..=27 of a 3D neighbourhood at distance 1.
const SIZES: usize = 27;

/// Voxels per block of the neighbour pass.
const BLOCK: usize = 2048;

pub fn compute(texture: &Texture) -> ClassFeatures {
    let counts = dependence_counts(texture);
    NAMES.iter().copied().zip(features(&counts, &texture.grey.values)).collect()
}

/// The dependence matrix: row `rank[level]` for the levels present, column `j - 1`.
fn dependence_counts(texture: &Texture) -> Vec<[u32; SIZES]> {
    let (grid, rank, n) = (&texture.padded, &texture.grey.rank, texture.grey.values.len());
    let mut counts = vec![[0u32; SIZES]; n];
    let mut count = |level: Level, dependent: u8| {
        let row = rank.get(level as usize).and_then(|&r| counts.get_mut(r));
        if let Some(cell) = row.and_then(|row| row.get_mut(dependent as usize)) {
            *cell += 1;
        }
    };
    if let Some(roi) = texture.sparse_roi() {
        for &at in roi {
            let level = grid.levels[at];
            let dependent = grid.offsets.iter().filter(|&&o| grid.levels[at.wrapping_add_signed(o)] == level).count();
            count(level, dependent as u8);
        }
        return counts;
    }
    let interior = grid.interior();
    let centre = &grid.levels[interior];
    let shifted: Vec<&[Level]> = grid.offsets.iter().map(|&o| grid.shifted(o)).collect();
    // Dependent neighbours of each interior voxel, one offset at a time over blocks that stay
    // in cache.
    let mut dependent = [0u8; BLOCK];
    for start in (0..centre.len()).step_by(BLOCK) {
        let block = &centre[start..(start + BLOCK).min(centre.len())];
        let dependent = &mut dependent[..block.len()];
        dependent.fill(0);
        for neighbours in &shifted {
            for ((d, &c), &other) in dependent.iter_mut().zip(block).zip(&neighbours[start..]) {
                *d += u8::from(c == other);
            }
        }
        for (&level, &d) in block.iter().zip(dependent.iter()) {
            if level != 0 {
                count(level, d);
            }
        }
    }
    counts
}

/// The 14 features, in [`NAMES`] order, of the dependence matrix whose rows stand for grey
/// levels `g`.
fn features(counts: &[[u32; SIZES]], g: &[f64]) -> [f64; 14] {
    let nz: f64 = counts.iter().flatten().map(|&c| c as f64).sum();
    let mut per_size = [0.0f64; SIZES];
    let (mut gln, mut level_sum, mut size_sum) = (0.0, 0.0, 0.0);
    let (mut sde, mut lde, mut lgle, mut hgle) = (0.0, 0.0, 0.0, 0.0);
    let (mut sdlgle, mut sdhgle, mut ldlgle, mut ldhgle) = (0.0, 0.0, 0.0, 0.0);
    let mut entropy = 0.0;
    for (row, &i) in counts.iter().zip(g) {
        let per_level: f64 = row.iter().map(|&c| c as f64).sum();
        gln += per_level * per_level;
        let i2 = i * i;
        for (column, &c) in row.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let count = c as f64;
            let j = (column + 1) as f64;
            let j2 = j * j;
            per_size[column] += count;
            let p = count / nz;
            level_sum += count * i;
            size_sum += count * j;
            entropy -= p * (p + EPS).log2();
            sde += count / j2;
            lde += count * j2;
            lgle += count / i2;
            hgle += count * i2;
            sdlgle += count / (i2 * j2);
            sdhgle += count * i2 / j2;
            ldlgle += count * j2 / i2;
            ldhgle += count * i2 * j2;
        }
    }
    // Means from the integer-valued sums: exact, so a matrix of one size has variance 0.
    let (mean_level, mean_size) = (level_sum / nz, size_sum / nz);
    let (mut glv, mut dv) = (0.0, 0.0);
    for (row, &i) in counts.iter().zip(g) {
        for (column, &c) in row.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let p = c as f64 / nz;
            glv += p * (i - mean_level).powi(2);
            dv += p * ((column + 1) as f64 - mean_size).powi(2);
        }
    }
    let dn: f64 = per_size.iter().map(|c| c * c).sum();
    [
        entropy,
        dn / nz,
        dn / (nz * nz),
        dv,
        gln / nz,
        glv,
        hgle / nz,
        lde / nz,
        ldhgle / nz,
        ldlgle / nz,
        lgle / nz,
        sde / nz,
        sdhgle / nz,
        sdlgle / nz,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::Discretised;

    #[test]
    fn dependence_counts_the_voxel_itself() {
        // A 3x3x3 cube of one level: the centre has 26 dependent neighbours, a corner 7.
        let d = Discretised { size: [3, 3, 3], levels: vec![2; 27], max_level: 2 };
        let counts = dependence_counts(&Texture::of(d));
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0][26], 1);
        assert_eq!(counts[0][7], 8);
        assert_eq!(counts[0].iter().sum::<u32>(), 27);
    }
}
