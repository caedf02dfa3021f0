//! Grey-level discretisation with a fixed bin width, as pyradiomics (and IBSI's "fixed bin
//! size") define it.

use crate::roi::{Roi, RoiError};

/// The most grey levels a ROI may be binned into. pyradiomics recommends 30 to 130; CT in HU at
/// a bin width of 1 needs a few thousand. Far beyond that the intensities are in the wrong
/// units, and the texture matrices (levels x levels) would not fit in memory: an intensity of
/// 1e12 used to overflow the level counter and 1e20 to stall the binning loop.
pub const MAX_GREY_LEVELS: u32 = 10_000;

/// A grey level after binning. Sixteen bits hold [`MAX_GREY_LEVELS`], and halve the texture
/// classes' grids against `u32`: in a new process each of their pages is a fault to pay.
pub type Level = u16;
const _: () = assert!(MAX_GREY_LEVELS < Level::MAX as u32);

/// The ROI's grey levels after binning: 0 outside the ROI, 1..=`max_level` inside.
#[derive(Debug, Clone, PartialEq)]
pub struct Discretised {
    /// Same bounding box as the [`Roi`].
    pub size: [usize; 3],
    /// One level per voxel of the bounding box, x fastest; 0 marks voxels outside the ROI.
    pub levels: Vec<Level>,
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
    /// Values that [`check_range`] would reject saturate instead of looping: beyond 2^53 adding
    /// one to `k` changes nothing.
    #[inline]
    pub fn level(&self, v: f64) -> u32 {
        let edge = |k: f64| self.low + k * self.width;
        let mut k = ((v - self.low) / self.width).floor().max(0.0);
        while edge(k + 1.0) <= v && k + 1.0 > k {
            k += 1.0;
        }
        while k > 0.0 && edge(k) > v {
            k -= 1.0;
        }
        (k as u32).saturating_add(1)
    }
}

/// The smallest and largest intensity of the ROI, after checking that every one is finite and
/// that binning them at `bin_width` gives at most [`MAX_GREY_LEVELS`] levels.
pub fn check_range(roi: &Roi, bin_width: f64) -> Result<(f64, f64), RoiError> {
    if !(bin_width.is_finite() && bin_width > 0.0) {
        return Err(RoiError::BinWidth(bin_width));
    }
    let mut range: Option<(f64, f64)> = None;
    let mut non_finite: Option<(usize, f64)> = None;
    let mut non_finite_count = 0;
    for (index, &v) in roi.roi_indices().zip(&roi.values) {
        if !v.is_finite() {
            non_finite_count += 1;
            non_finite.get_or_insert((index, v));
            continue;
        }
        range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
    }
    if let Some((index, value)) = non_finite {
        let [nx, ny, _] = roi.size;
        let voxel = [index % nx, (index / nx) % ny, index / (nx * ny)];
        return Err(RoiError::NonFiniteIntensity { voxel, value, count: non_finite_count });
    }
    let Some((min, max)) = range else { return Ok((0.0, 0.0)) };
    let low = Binning::new(min, bin_width).low;
    let levels = ((max - low) / bin_width).floor() + 1.0;
    // Finite inputs give a finite or +infinite count (a range beyond f64), never NaN.
    if levels > f64::from(MAX_GREY_LEVELS) {
        // A width that keeps the range within the limit, rounded up to two significant digits
        // (dividing by a power of ten for small widths, so that 0.013 prints as 0.013).
        let needed = (max - min) / f64::from(MAX_GREY_LEVELS - 1);
        let exponent = needed.log10().floor() - 1.0;
        let suggested = if !exponent.is_finite() {
            needed
        } else if exponent >= 0.0 {
            (needed / 10f64.powf(exponent)).ceil() * 10f64.powf(exponent)
        } else {
            (needed * 10f64.powf(-exponent)).ceil() / 10f64.powf(-exponent)
        };
        return Err(RoiError::TooManyGreyLevels { min, max, bin_width, levels, limit: MAX_GREY_LEVELS, suggested });
    }
    Ok((min, max))
}

/// Bins the ROI's values with [`Binning`] of `bin_width`, after [`check_range`].
pub fn fixed_bin_width(roi: &Roi, bin_width: f64) -> Result<Discretised, RoiError> {
    let (min, _) = check_range(roi, bin_width)?;
    let binning = Binning::new(min, bin_width);
    let mut max_level = 0;
    let mut values = roi.values.iter();
    let levels = roi
        .mask
        .iter()
        .map(|&inside| {
            if !inside {
                return 0;
            }
            // `values` holds one value per ROI voxel, in this order (`Roi::values`).
            let Some(&v) = values.next() else { return 0 };
            let level = binning.level(v);
            max_level = max_level.max(level);
            // `check_range` keeps every level within MAX_GREY_LEVELS, which a Level holds.
            Level::try_from(level).unwrap_or(Level::MAX)
        })
        .collect();
    Ok(Discretised { size: roi.size, levels, max_level })
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

    /// A ROI of the `true` voxels of a one-row box holding `box_values`.
    fn masked(box_values: &[f64], mask: &[bool]) -> Roi {
        let values: Vec<f64> = box_values.iter().zip(mask).filter(|(_, inside)| **inside).map(|(v, _)| *v).collect();
        Roi {
            size: [box_values.len(), 1, 1],
            spacing: [1.0; 3],
            voxel_count: values.len(),
            values,
            mask: mask.to_vec(),
        }
    }

    #[test]
    fn bins_start_at_a_multiple_of_the_width() {
        // min 3 -> first edge 0; 24.999 is in bin 1, 25 starts bin 2.
        let d = fixed_bin_width(&roi(&[3.0, 24.999, 25.0, 49.0, 50.0]), 25.0).unwrap();
        assert_eq!(d.levels, vec![1, 1, 2, 2, 3]);
        assert_eq!(d.max_level, 3);
    }

    #[test]
    fn negative_values_round_down() {
        // min -1003 -> first edge -1025 (Python: -1003 % 25 == 22).
        let d = fixed_bin_width(&roi(&[-1003.0, -1000.0, -976.0, -975.0]), 25.0).unwrap();
        assert_eq!(d.levels, vec![1, 2, 2, 3]);
    }

    #[test]
    fn outside_the_roi_is_zero() {
        let d = fixed_bin_width(&masked(&[1.0, 2.0, 3.0], &[true, false, true]), 1.0).unwrap();
        assert_eq!(d.levels, vec![1, 0, 3]);
    }

    #[test]
    fn absurd_ranges_are_refused_with_a_bin_width_that_works() {
        // 1e12 used to wrap the u32 level counter, 1e20 to loop forever in `level`.
        for max in [1e12, 1e20, 250_000.0, 123.0] {
            let width = if max == 123.0 { 0.001 } else { 25.0 };
            let err = fixed_bin_width(&roi(&[0.0, 10.0, max]), width).unwrap_err();
            let RoiError::TooManyGreyLevels { suggested, .. } = err else { panic!("{err:?}") };
            assert!(fixed_bin_width(&roi(&[0.0, 10.0, max]), suggested).is_ok(), "{max}: {suggested}");
            assert!(err.to_string().contains("set bin_width to at least"), "{err}");
            if max == 123.0 {
                assert!(err.to_string().contains("at least 0.013,"), "{err}");
            }
        }
        // The limit itself is accepted: 0..=249_975 at width 25 is exactly 10,000 levels.
        assert_eq!(fixed_bin_width(&roi(&[0.0, 249_975.0]), 25.0).unwrap().max_level, MAX_GREY_LEVELS);
    }

    #[test]
    fn non_finite_intensities_are_refused_with_their_place() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut r = roi(&[1.0, 2.0, bad, bad]);
            r.size = [2, 2, 1];
            let err = fixed_bin_width(&r, 25.0).unwrap_err();
            assert!(matches!(err, RoiError::NonFiniteIntensity { voxel: [0, 1, 0], count: 2, .. }), "{bad}: {err:?}");
        }
        // Outside the ROI they do not matter.
        assert!(fixed_bin_width(&masked(&[1.0, f64::NAN, 3.0], &[true, false, true]), 25.0).is_ok());
        // The place of a bad value counts the voxels outside the ROI before it.
        let err = fixed_bin_width(&masked(&[1.0, 7.0, f64::NAN], &[true, false, true]), 25.0).unwrap_err();
        assert!(matches!(err, RoiError::NonFiniteIntensity { voxel: [2, 0, 0], count: 1, .. }), "{err:?}");
    }

    #[test]
    fn level_saturates_instead_of_looping() {
        let binning = Binning::new(0.0, 25.0);
        assert_eq!(binning.level(f64::INFINITY), u32::MAX);
        assert_eq!(binning.level(1e20), u32::MAX);
    }
}
