//! Grey Level Size Zone Matrix features (pyradiomics `glszm`, 16 default features).
//!
//! A zone is a 26-connected component of ROI voxels sharing one grey level; the matrix counts
//! zones by grey level `i` (the level's value) and size `j` (voxels). `Nz` is the number of
//! zones, `Np` the number of ROI voxels. Zones are found with a flood fill on an explicit stack,
//! so the pass is linear in the bounding box and never recurses.
use super::grid::Texture;
use super::{ClassFeatures, EPS};

const NAMES: [&str; 16] = [
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelZoneEmphasis",
    "LargeAreaEmphasis",
    "LargeAreaHighGrayLevelEmphasis",
    "LargeAreaLowGrayLevelEmphasis",
    "LowGrayLevelZoneEmphasis",
    "SizeZoneNonUniformity",
    "SizeZoneNonUniformityNormalized",
    "SmallAreaEmphasis",
    "SmallAreaHighGrayLevelEmphasis",
    "SmallAreaLowGrayLevelEmphasis",
    "ZoneEntropy",
    "ZonePercentage",
    "ZoneVariance",
];

/// `voxel_count` is the number of ROI voxels (pyradiomics' `Np`).
pub fn compute(texture: &Texture, voxel_count: usize) -> ClassFeatures {
    let zones = zone_counts(texture);
    NAMES.iter().copied().zip(features(&zones, voxel_count as f64)).collect()
}

/// One cell of the size zone matrix: `count` zones of grey level `level` and `size` voxels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    level: u32,
    size: u32,
    count: u32,
}

/// The non-zero cells of the size zone matrix, by level then size.
fn zone_counts(texture: &Texture) -> Vec<Cell> {
    let (levels, offsets) = (&texture.padded.levels, texture.padded.offsets);
    // Voxels are marked as zones take them. A byte per voxel, not a copy of the levels to clear:
    // in a new process every page of a fresh grid is a page fault, and this one is a quarter the size.
    let mut taken = vec![false; levels.len()];
    let mut zones: Vec<(u32, u32)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    for &start in &texture.roi {
        if taken[start] {
            continue;
        }
        let level = levels[start];
        taken[start] = true;
        stack.push(start);
        let mut size = 0u32;
        while let Some(at) = stack.pop() {
            size += 1;
            for offset in offsets {
                // ROI voxels are never on the border, so every neighbour is inside the grid.
                let next = at.wrapping_add_signed(offset);
                if levels[next] == level && !taken[next] {
                    taken[next] = true;
                    stack.push(next);
                }
            }
        }
        zones.push((u32::from(level), size));
    }
    zones.sort_unstable();
    let mut cells: Vec<Cell> = Vec::new();
    for (level, size) in zones {
        match cells.last_mut() {
            Some(cell) if cell.level == level && cell.size == size => cell.count += 1,
            _ => cells.push(Cell { level, size, count: 1 }),
        }
    }
    cells
}

/// The 16 features, in [`NAMES`] order, of the size zone matrix given by its non-zero `cells`
/// (sorted by level); `np` is the number of ROI voxels.
fn features(cells: &[Cell], np: f64) -> [f64; 16] {
    let nz: f64 = cells.iter().map(|c| c.count as f64).sum();
    let largest = cells.iter().map(|c| c.size as usize).max().unwrap_or(0);
    // Zones per size (sum over levels) and per level (cells are grouped by level).
    let mut per_size = vec![0.0f64; largest + 1];
    let mut per_level: Vec<f64> = Vec::new();
    let mut last_level = None;
    let (mut level_sum, mut size_sum) = (0.0, 0.0);
    let (mut sae, mut lae, mut lgze, mut hgze) = (0.0, 0.0, 0.0, 0.0);
    let (mut salgle, mut sahgle, mut lalgle, mut lahgle) = (0.0, 0.0, 0.0, 0.0);
    let mut entropy = 0.0;
    for cell in cells {
        let count = cell.count as f64;
        let (i, j) = (cell.level as f64, cell.size as f64);
        let (i2, j2) = (i * i, j * j);
        per_size[cell.size as usize] += count;
        if last_level == Some(cell.level) {
            if let Some(total) = per_level.last_mut() {
                *total += count;
            }
        } else {
            per_level.push(count);
            last_level = Some(cell.level);
        }
        let p = count / nz;
        level_sum += count * i;
        size_sum += count * j;
        entropy -= p * (p + EPS).log2();
        sae += count / j2;
        lae += count * j2;
        lgze += count / i2;
        hgze += count * i2;
        salgle += count / (i2 * j2);
        sahgle += count * i2 / j2;
        lalgle += count * j2 / i2;
        lahgle += count * i2 * j2;
    }
    // Means from the integer-valued sums: exact, so a matrix of one size has variance 0.
    let (mean_level, mean_size) = (level_sum / nz, size_sum / nz);
    let (mut glv, mut zv) = (0.0, 0.0);
    for cell in cells {
        let p = cell.count as f64 / nz;
        glv += p * (cell.level as f64 - mean_level).powi(2);
        zv += p * (cell.size as f64 - mean_size).powi(2);
    }
    let gln: f64 = per_level.iter().map(|c| c * c).sum();
    let szn: f64 = per_size.iter().map(|c| c * c).sum();
    [
        gln / nz,
        gln / (nz * nz),
        glv,
        hgze / nz,
        lae / nz,
        lahgle / nz,
        lalgle / nz,
        lgze / nz,
        szn / nz,
        szn / (nz * nz),
        sae / nz,
        sahgle / nz,
        salgle / nz,
        entropy,
        nz / np,
        zv,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretise::{Discretised, Level};

    fn discretised(size: [usize; 3], levels: Vec<Level>) -> Discretised {
        let max_level = levels.iter().copied().max().map_or(0, u32::from);
        Discretised { size, levels, max_level }
    }

    #[test]
    fn diagonal_neighbours_join_one_zone() {
        // 2x2x2: level 1 on one space diagonal pair and level 2 elsewhere; all 26-connected.
        let d = discretised([2, 2, 2], vec![1, 2, 2, 2, 2, 2, 2, 1]);
        let cells = zone_counts(&Texture::of(d));
        assert_eq!(cells, vec![Cell { level: 1, size: 2, count: 1 }, Cell { level: 2, size: 6, count: 1 }]);
    }

    #[test]
    fn voxels_outside_the_roi_split_zones() {
        let d = discretised([5, 1, 1], vec![3, 3, 0, 3, 1]);
        let cells = zone_counts(&Texture::of(d));
        assert_eq!(
            cells,
            vec![
                Cell { level: 1, size: 1, count: 1 },
                Cell { level: 3, size: 1, count: 1 },
                Cell { level: 3, size: 2, count: 1 }
            ]
        );
    }
}
