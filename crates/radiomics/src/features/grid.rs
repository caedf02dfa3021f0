//! The ROI's grey levels inside a one-voxel border, shared by the texture classes.

use std::ops::Range;

use super::DIRECTIONS;
use crate::discretise::{Discretised, Level};

/// The grey levels inside a one-voxel border of zeros (outside the ROI), so that each of the
/// 26 neighbours of a ROI voxel lies a fixed index offset away, with no bounds to check.
pub(crate) struct Padded {
    /// Levels of the padded box, x fastest; 0 outside the ROI and on the border.
    pub levels: Vec<Level>,
    /// Index offsets of the 26 neighbours at distance 1.
    pub offsets: [isize; 26],
}

impl Padded {
    pub fn of(levels: &Discretised) -> Padded {
        let [nx, ny, nz] = levels.size;
        let (px, py) = (nx + 2, ny + 2);
        let mut padded: Vec<Level> = vec![0; px * py * (nz + 2)];
        for z in 0..nz {
            for y in 0..ny {
                let from = nx * (y + ny * z);
                let to = 1 + px * (y + 1 + py * (z + 1));
                padded[to..to + nx].copy_from_slice(&levels.levels[from..from + nx]);
            }
        }
        let mut offsets = [0isize; 26];
        for (k, d) in DIRECTIONS.iter().enumerate() {
            let offset = d[0] + px as isize * (d[1] + py as isize * d[2]);
            offsets[2 * k] = offset;
            offsets[2 * k + 1] = -offset;
        }
        Padded { levels: padded, offsets }
    }

    /// The index offsets of the 13 [`DIRECTIONS`], one per opposite pair.
    pub fn directions(&self) -> impl Iterator<Item = isize> + '_ {
        self.offsets.iter().step_by(2).copied()
    }

    /// The index range that holds every ROI voxel and whose neighbours are all in the grid:
    /// from voxel (1, 1, 1) to (nx, ny, nz) of the padded box.
    pub fn interior(&self) -> Range<usize> {
        let reach = self.offsets.iter().map(|o| o.unsigned_abs()).max().unwrap_or(0);
        reach..self.levels.len().saturating_sub(reach).max(reach)
    }

    /// The levels of the [`Padded::interior`] voxels' neighbours at `offset`, one per interior
    /// voxel: a whole-grid shift that the compiler can vectorise.
    pub fn shifted(&self, offset: isize) -> &[Level] {
        let range = self.interior();
        &self.levels[range.start.wrapping_add_signed(offset)..range.end.wrapping_add_signed(offset)]
    }
}

/// What the texture classes share, made once per ROI: each class used to make its own padded
/// copy of the levels (ranked for GLCM and GLRLM) and its own table of the levels present; one
/// grid of levels and one of ranks serve all five.
pub struct Texture {
    /// The ROI's bounding box, as in [`Discretised`].
    pub(crate) size: [usize; 3],
    /// The highest level present.
    pub(crate) max_level: u32,
    pub(crate) grey: GreyLevels,
    /// The levels inside a one-voxel border.
    pub(crate) padded: Padded,
    /// `padded` with each level replaced by its rank + 1 (0 outside the ROI): GLCM counts pairs
    /// and GLRLM runs by rank.
    pub(crate) ranked: Vec<Level>,
    /// The indices of the ROI voxels in `padded` (and `ranked`), ascending.
    pub(crate) roi: Vec<usize>,
}

impl Texture {
    /// The shared grids of the levels of one ROI ([`crate::discretise::fixed_bin_width`]).
    pub fn of(levels: Discretised) -> Texture {
        let grey = GreyLevels::of(&levels);
        let padded = Padded::of(&levels);
        // The unpadded levels go before `ranked` is made, whose pages then need not be new ones.
        // (Destructuring with `..` would only copy the two fields and keep the grid alive.)
        let (size, max_level) = (levels.size, levels.max_level);
        drop(levels);
        let mut roi = Vec::new();
        let ranked = padded
            .levels
            .iter()
            .enumerate()
            .map(|(index, &level)| {
                if level == 0 {
                    return 0;
                }
                roi.push(index);
                grey.rank[level as usize] as Level + 1
            })
            .collect();
        Texture { size, max_level, grey, padded, ranked, roi }
    }

    /// The ROI's indices when it fills under a quarter of the box, else `None`. A neighbour
    /// pass then visits these voxels alone: 26 scattered reads per ROI voxel beat 26 vectorised
    /// sweeps of a box the ROI hardly fills (pyradiomics' prostate phantom: 168 voxels in
    /// 51,000), and give the same counts in the same order.
    pub(crate) fn sparse_roi(&self) -> Option<&[usize]> {
        (self.roi.len() * 4 < self.padded.levels.len()).then_some(&self.roi)
    }
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
