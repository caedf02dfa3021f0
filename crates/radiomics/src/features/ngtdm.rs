//! Neighbouring Gray Tone Difference Matrix features (pyradiomics `ngtdm`, 5 features).
//!
//! For each ROI voxel of grey level `i` (the level's value), `A` is the mean level of its ROI
//! neighbours among the 26 at distance 1. Per grey level: `n_i` voxels, `s_i = sum |i - A|`
//! over them, `p_i = n_i / Nvp`; `Ngp` is the number of levels with `p_i > 0`.
//!
//! A voxel without any ROI neighbour adds nothing to `s_i` but still counts in `n_i` and `Nvp`:
//! that is what pyradiomics 3.0.1 computes, although its documentation defines `Nvp` as the
//! voxels with at least one neighbour. Special cases as pyradiomics: Coarseness is 10^6 when
//! `sum p_i s_i` is 0, Contrast 0 when `Ngp` is 1, Busyness 0 when its denominator is 0 and
//! Strength 0 when `sum s_i` is 0.
use std::ops::AddAssign;

use super::ClassFeatures;
use super::grid::Texture;
use crate::discretise::Level;

const NAMES: [&str; 5] = ["Busyness", "Coarseness", "Complexity", "Contrast", "Strength"];

/// Voxels per block of the neighbour pass.
const BLOCK: usize = 2048;

pub fn compute(texture: &Texture) -> ClassFeatures {
    // The sum of 26 levels fits in 32 bits unless the levels are absurdly many.
    let (n, s) = if u64::from(texture.max_level) * 26 <= u64::from(u32::MAX) {
        tone_differences::<u32>(texture, |sum| sum as f64)
    } else {
        tone_differences::<u64>(texture, |sum| sum as f64)
    };
    NAMES.iter().copied().zip(features(&texture.grey.values, &n, &s)).collect()
}

/// Per grey level present (by rank): the number of ROI voxels and the sum of their absolute
/// differences from their neighbourhood mean (0 for a voxel with no ROI neighbour). `T` holds
/// the sum of a voxel's neighbour levels.
fn tone_differences<T>(texture: &Texture, to_f64: fn(T) -> f64) -> (Vec<f64>, Vec<f64>)
where
    T: Copy + Default + AddAssign + From<Level>,
{
    let (grid, grey) = (&texture.padded, &texture.grey);
    let (mut n, mut s) = (vec![0.0f64; grey.values.len()], vec![0.0f64; grey.values.len()]);
    // One ROI voxel of `level` whose ROI neighbours' levels add up to `sum`, `count` of them.
    let mut add = |level: Level, sum: T, count: u8| {
        let Some(&r) = grey.rank.get(level as usize) else { return };
        let (Some(n_i), Some(s_i)) = (n.get_mut(r), s.get_mut(r)) else { return };
        *n_i += 1.0;
        if count > 0 {
            *s_i += (level as f64 - to_f64(sum) / count as f64).abs();
        }
    };
    // In index order either way, so `s_i` adds the same terms in the same order.
    if let Some(roi) = texture.sparse_roi() {
        for &at in roi {
            let (mut sum, mut count) = (T::default(), 0u8);
            for &offset in &grid.offsets {
                let other = grid.levels[at.wrapping_add_signed(offset)];
                sum += T::from(other);
                count += u8::from(other != 0);
            }
            add(grid.levels[at], sum, count);
        }
        return (n, s);
    }
    let interior = grid.interior();
    let centre = &grid.levels[interior];
    let shifted: Vec<&[Level]> = grid.offsets.iter().map(|&o| grid.shifted(o)).collect();
    // Sum and number of the ROI neighbours of each interior voxel, one offset at a time over
    // blocks that stay in cache.
    let (mut sums, mut counts) = ([T::default(); BLOCK], [0u8; BLOCK]);
    for start in (0..centre.len()).step_by(BLOCK) {
        let block = &centre[start..(start + BLOCK).min(centre.len())];
        let (sums, counts) = (&mut sums[..block.len()], &mut counts[..block.len()]);
        sums.fill(T::default());
        counts.fill(0);
        for neighbours in &shifted {
            for ((sum, count), &other) in sums.iter_mut().zip(counts.iter_mut()).zip(&neighbours[start..]) {
                *sum += T::from(other);
                *count += u8::from(other != 0);
            }
        }
        for ((&level, &sum), &count) in block.iter().zip(sums.iter()).zip(counts.iter()) {
            if level != 0 {
                add(level, sum, count);
            }
        }
    }
    (n, s)
}

/// The 5 features, in [`NAMES`] order, from the per-level counts `n` and difference sums `s`
/// of grey levels `g`.
fn features(g: &[f64], n: &[f64], s: &[f64]) -> [f64; 5] {
    let nvp: f64 = n.iter().sum();
    // (i, p_i, s_i) for the levels present.
    let present: Vec<(f64, f64, f64)> =
        g.iter().zip(n).zip(s).filter(|((_, n), _)| **n > 0.0).map(|((&i, &n), &s)| (i, n / nvp, s)).collect();
    let ngp = present.len() as f64;
    let s_total: f64 = present.iter().map(|(_, _, s)| s).sum();
    let ps: f64 = present.iter().map(|(_, p, s)| p * s).sum();

    let coarseness = if ps == 0.0 { 1e6 } else { 1.0 / ps };
    let (mut contrast_sum, mut busy_denominator, mut complexity, mut strength_sum) = (0.0, 0.0, 0.0, 0.0);
    for &(i, pi, si) in &present {
        for &(j, pj, sj) in &present {
            let d = i - j;
            contrast_sum += pi * pj * d * d;
            busy_denominator += (i * pi - j * pj).abs();
            complexity += d.abs() * (pi * si + pj * sj) / (pi + pj);
            strength_sum += (pi + pj) * d * d;
        }
    }
    let contrast = if ngp > 1.0 { contrast_sum / (ngp * (ngp - 1.0)) * s_total / nvp } else { 0.0 };
    let busyness = if busy_denominator == 0.0 { 0.0 } else { ps / busy_denominator };
    let strength = if s_total == 0.0 { 0.0 } else { strength_sum / s_total };
    [busyness, coarseness, complexity / nvp, contrast, strength]
}
