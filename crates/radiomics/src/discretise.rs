//! Grey-level discretisation with a fixed bin width, as pyradiomics (and IBSI's "fixed bin
//! size") define it.

use crate::roi::Roi;

/// The ROI's grey levels after binning: 0 outside the ROI, 1..=`max_level` inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Discretised {
    /// Same bounding box as the [`Roi`].
    pub size: [usize; 3],
    /// One level per voxel of the bounding box, x fastest; 0 marks voxels outside the ROI.
    pub levels: Vec<u32>,
    /// The highest level present.
    pub max_level: u32,
}

/// Fixed-width bins whose edges are multiples of the width, starting at the largest multiple
/// not above the ROI minimum.
///
/// pyradiomics makes every bin half-open, `[edge, edge + width)`, and lays the edges out with
/// `numpy.arange`, i.e. `low + k * width` in floating point. [`Binning::level`] settles values
/// against those same floating-point edges, so a value sitting exactly on an edge lands where
/// pyradiomics puts it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Binning {
    low: f64,
    width: f64,
}

impl Binning {
    pub fn new(min: f64, width: f64) -> Binning {
        // Python's `%` takes the sign of the divisor, so this rounds down for negative values too.
        Binning { low: min - min.rem_euclid(width), width }
    }

    /// The 1-based bin of `v` (which must not be below the minimum given to [`Binning::new`]).
    #[inline]
    pub fn level(&self, v: f64) -> u32 {
        let edge = |k: f64| self.low + k * self.width;
        let mut k = ((v - self.low) / self.width).floor().max(0.0);
        while edge(k + 1.0) <= v {
            k += 1.0;
        }
        while k > 0.0 && edge(k) > v {
            k -= 1.0;
        }
        k as u32 + 1
    }
}

/// Bins the ROI's values with [`Binning`] of `bin_width`.
pub fn fixed_bin_width(roi: &Roi, bin_width: f64) -> Discretised {
    let min = roi.values.iter().zip(&roi.mask).filter(|(_, m)| **m).fold(f64::INFINITY, |lo, (v, _)| lo.min(*v));
    let binning = Binning::new(min, bin_width);
    let mut max_level = 0;
    let levels = roi
        .values
        .iter()
        .zip(&roi.mask)
        .map(|(&v, &inside)| {
            if !inside {
                return 0;
            }
            let level = binning.level(v);
            max_level = max_level.max(level);
            level
        })
        .collect();
    Discretised { size: roi.size, levels, max_level }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roi(values: &[f64]) -> Roi {
        Roi {
            size: [values.len(), 1, 1],
            spacing: [1.0; 3],
            values: values.to_vec(),
            mask: vec![true; values.len()],
            voxel_count: values.len(),
        }
    }

    #[test]
    fn bins_start_at_a_multiple_of_the_width() {
        // min 3 -> first edge 0; 24.999 is in bin 1, 25 starts bin 2.
        let d = fixed_bin_width(&roi(&[3.0, 24.999, 25.0, 49.0, 50.0]), 25.0);
        assert_eq!(d.levels, vec![1, 1, 2, 2, 3]);
        assert_eq!(d.max_level, 3);
    }

    #[test]
    fn negative_values_round_down() {
        // min -1003 -> first edge -1025 (Python: -1003 % 25 == 22).
        let d = fixed_bin_width(&roi(&[-1003.0, -1000.0, -976.0, -975.0]), 25.0);
        assert_eq!(d.levels, vec![1, 2, 2, 3]);
    }

    #[test]
    fn outside_the_roi_is_zero() {
        let mut r = roi(&[1.0, 2.0, 3.0]);
        r.mask[1] = false;
        let d = fixed_bin_width(&r, 1.0);
        assert_eq!(d.levels, vec![1, 0, 3]);
    }
}
