//! The region of interest: the image cropped to the bounding box of one mask label, as every
//! feature class sees it.

use crate::image::{Voxels, find_in, is_whole};

/// The image inside the bounding box of the voxels whose mask value is the label.
///
/// Cropping first is what pyradiomics does too; it keeps every later pass over the ROI
/// proportional to the tumour, not to the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    /// Voxels along x, y, z of the bounding box (x varies fastest).
    pub size: [usize; 3],
    /// Voxel spacing in mm, as in the source image.
    pub spacing: [f64; 3],
    /// Image values of the ROI voxels alone (the `true` entries of `mask`), in the box's
    /// x-fastest order: a scattered ROI fills a small part of its box, and a box of f64 was
    /// most of the memory a small case touched.
    pub values: Vec<f64>,
    /// Whether each voxel of the bounding box belongs to the ROI.
    pub mask: Vec<bool>,
    /// Number of ROI voxels (`true` entries of `mask`).
    pub voxel_count: usize,
}

/// Why a mask gives no usable ROI. The caller adds the patient and the file names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoiError {
    #[error("the mask has no voxel labelled {label} (it holds {})", describe_labels(present))]
    LabelMissing { label: i64, present: Vec<i64> },
    #[error(
        "the ROI of label {label} spans only {dimensions} dimension(s) ({voxels} voxels); texture and shape features need at least 2"
    )]
    TooSmall { label: i64, dimensions: usize, voxels: usize },
    #[error("image and mask hold different numbers of voxels ({image} vs {mask})")]
    SizeMismatch { image: usize, mask: usize },
    /// The mask holds a value that is not a whole number, so it is not a label map.
    #[error(
        "the mask is not a label map: voxel {voxel:?} (x, y, z) holds {value}, and {count} voxel(s) in all hold a \
         value that is not a whole number; a mask must hold whole-number labels (threshold a probability map first, \
         e.g. at 0.5, and save it as an integer type)"
    )]
    MaskNotIntegral { voxel: [usize; 3], value: f64, count: usize },
    /// An image voxel inside the ROI is NaN or infinite. `voxel` is in image coordinates when
    /// the ROI was cropped by [`Roi::new`], else in the ROI's bounding box.
    #[error(
        "the image holds {count} non-finite intensity value(s) inside the ROI, the first {value} at voxel {voxel:?} \
         (x, y, z); radiomics needs finite intensities: fix the image (NaN often marks voxels outside the scanner's \
         field of view, or a failed resampling)"
    )]
    NonFiniteIntensity { voxel: [usize; 3], value: f64, count: usize },
    /// The ROI's intensity range would need an absurd number of grey levels at this bin width.
    #[error(
        "the ROI's intensities run from {min} to {max}: at bin_width {bin_width} that is {levels:.0} grey levels, \
         more than the {limit} flow accepts (pyradiomics recommends 30 to 130); set bin_width to at least {suggested}, \
         or check the image's intensity units (a wrong rescale slope, or a float image in other units)"
    )]
    TooManyGreyLevels { min: f64, max: f64, bin_width: f64, levels: f64, limit: u32, suggested: f64 },
    #[error("bin_width is {0}: it must be a positive number")]
    BinWidth(f64),
}

impl RoiError {
    /// Whether the problem is in the image (its intensities) rather than in the mask.
    pub fn is_about_the_image(&self) -> bool {
        matches!(self, RoiError::NonFiniteIntensity { .. } | RoiError::TooManyGreyLevels { .. })
    }
}

fn describe_labels(present: &[i64]) -> String {
    match present {
        [] => "only background (0): the mask is empty".to_string(),
        labels => {
            let list: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
            format!("labels {}; choose one of them with `label`", list.join(", "))
        }
    }
}

impl Roi {
    /// Crops `image` to the voxels of `mask` equal to `label`. The caller has checked that both
    /// share one geometry. The mask must hold whole numbers only, and the image's voxels inside
    /// the ROI must be finite (outside it they are never looked at). The mask is read a row at a
    /// time and the image only inside the bounding box, so volumes kept as stored
    /// ([`crate::image::StoredVolume`]) are never converted whole.
    pub fn new(image: &impl Voxels, mask: &impl Voxels, label: i64) -> Result<Roi, RoiError> {
        let (image_voxels, mask_voxels) = (image.geometry().voxel_count(), mask.geometry().voxel_count());
        if image_voxels != mask_voxels {
            return Err(RoiError::SizeMismatch { image: image_voxels, mask: mask_voxels });
        }
        RoiMask::scan(mask, label)?.crop(image)
    }

    /// The box index of each ROI voxel, in the order of [`Roi::values`].
    pub fn roi_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.mask.iter().enumerate().filter(|(_, inside)| **inside).map(|(index, _)| index)
    }
}

/// Which voxels of a bounding box are the ROI: the mask's half of [`Roi::new`], so that the
/// image can be read after the mask and only inside [`RoiMask::lo`]..=[`RoiMask::hi`].
#[derive(Debug, Clone, PartialEq)]
pub struct RoiMask {
    /// The bounding box's first and last voxel, (x, y, z) in the mask's grid.
    pub lo: [usize; 3],
    pub hi: [usize; 3],
    /// The grid the box lies in.
    grid: [usize; 3],
    mask: Vec<bool>,
    voxel_count: usize,
}

impl RoiMask {
    /// Finds the voxels of `mask` equal to `label`, reading it a row at a time. The mask must
    /// hold whole numbers only, and the ROI must span two dimensions at least.
    pub fn scan(mask: &impl Voxels, label: i64) -> Result<RoiMask, RoiError> {
        let [nx, ny, nz] = mask.geometry().size;
        let wanted = label as f64;
        let mut row = vec![0.0; nx];
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut voxel_count = 0;
        let mut fractional: Option<([usize; 3], f64)> = None;
        let mut fractional_count = 0;
        let stored_whole = mask.whole_numbers();
        for z in 0..nz {
            for y in 0..ny {
                let start = nx * (y + ny * z);
                let found = if stored_whole {
                    mask.find(start, &mut row, wanted)
                } else {
                    mask.values(start, &mut row);
                    for (x, v) in row.iter().enumerate() {
                        if !is_whole(*v) {
                            fractional_count += 1;
                            fractional.get_or_insert(([x, y, z], *v));
                        }
                    }
                    find_in(&row, wanted)
                };
                let Some((first, last, count)) = found else { continue };
                voxel_count += count;
                for (axis, (from, to)) in [(first, last), (y, y), (z, z)].into_iter().enumerate() {
                    lo[axis] = lo[axis].min(from);
                    hi[axis] = hi[axis].max(to);
                }
            }
        }
        if let Some((voxel, value)) = fractional {
            return Err(RoiError::MaskNotIntegral { voxel, value, count: fractional_count });
        }
        if voxel_count == 0 {
            // The 20 smallest labels present, for the message.
            let mut present = std::collections::BTreeSet::new();
            for start in (0..nx * ny * nz).step_by(nx.max(1)) {
                mask.values(start, &mut row);
                for v in row.iter().filter(|v| **v != 0.0 && v.is_finite()) {
                    present.insert(v.round() as i64);
                    if present.len() > 20 {
                        present.pop_last();
                    }
                }
            }
            return Err(RoiError::LabelMissing { label, present: present.into_iter().collect() });
        }
        let size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
        // pyradiomics' default `minimumROIDimensions: 2`.
        let dimensions = size.iter().filter(|&&n| n > 1).count();
        if dimensions < 2 {
            return Err(RoiError::TooSmall { label, dimensions, voxels: voxel_count });
        }
        let mut in_roi = Vec::with_capacity(size[0] * size[1] * size[2]);
        let part = &mut row[..size[0]];
        for z in lo[2]..=hi[2] {
            for y in lo[1]..=hi[1] {
                mask.values(nx * (y + ny * z) + lo[0], part);
                in_roi.extend(part.iter().map(|&m| m == wanted));
            }
        }
        Ok(RoiMask { lo, hi, grid: [nx, ny, nz], mask: in_roi, voxel_count })
    }

    /// The image inside the box; its voxels inside the ROI must be finite.
    /// `image` is only asked for voxels of the box.
    pub fn crop(self, image: &impl Voxels) -> Result<Roi, RoiError> {
        let RoiMask { lo, hi, grid: [nx, ny, _], mask, voxel_count } = self;
        let size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
        let mut values = Vec::with_capacity(voxel_count);
        let mut row_values = vec![0.0; size[0]];
        let mut non_finite: Option<([usize; 3], f64)> = None;
        let mut non_finite_count = 0;
        for (r, (z, y)) in (lo[2]..=hi[2]).flat_map(|z| (lo[1]..=hi[1]).map(move |y| (z, y))).enumerate() {
            let row_mask = &mask[r * size[0]..(r + 1) * size[0]];
            if !row_mask.contains(&true) {
                continue;
            }
            image.values(nx * (y + ny * z) + lo[0], &mut row_values);
            for (x, (&v, _)) in row_values.iter().zip(row_mask).enumerate().filter(|(_, (_, inside))| **inside) {
                if !v.is_finite() {
                    non_finite_count += 1;
                    non_finite.get_or_insert(([lo[0] + x, y, z], v));
                }
                values.push(v);
            }
        }
        if let Some((voxel, value)) = non_finite {
            return Err(RoiError::NonFiniteIntensity { voxel, value, count: non_finite_count });
        }
        Ok(Roi { size, spacing: image.geometry().spacing, values, mask, voxel_count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Geometry, Image};

    fn image(data: Vec<f64>) -> Image<f64> {
        let geometry = Geometry {
            size: [3, 2, 2],
            spacing: [1.0; 3],
            origin: [0.0; 3],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        Image { geometry, data }
    }

    /// Label 1 on voxels (0, 0, 0), (1, 0, 0) and (0, 1, 0): an L whose bounding box also
    /// holds (1, 1, 0).
    fn mask() -> Vec<f64> {
        (0..12).map(|i| if [0, 1, 3].contains(&i) { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn a_mask_stored_as_integers_is_scanned_as_its_values_are() {
        use crate::image::{Sample, StoredVolume};
        // Labels 0-3 and 300 (beyond a byte) on a 3 x 2 x 2 grid: each label's box and count.
        let labels: Vec<i64> = vec![0, 2, 3, 2, 0, 300, 1, 0, 2, 0, 3, 2];
        let geometry = image(vec![]).geometry;
        for (sample, width) in [(Sample::U8, 1), (Sample::I16, 2), (Sample::U32, 4), (Sample::I64, 8)] {
            for little_endian in [true, false] {
                let mut bytes = vec![0u8; 5]; // samples start after 5 bytes of something else
                for &label in &labels {
                    let le = label.to_le_bytes();
                    let mut sample_bytes = le[..width].to_vec();
                    if !little_endian {
                        sample_bytes.reverse();
                    }
                    bytes.extend(sample_bytes);
                }
                let stored = StoredVolume::new(geometry.clone(), bytes, 5, sample, little_endian, 1, (1.0, 0.0));
                // The same values as f64 (300 is 44 as a byte), scanned the general way.
                let decoded = stored.to_image();
                let volume = crate::cohort::Volume::Stored(stored);
                for label in [1, 2, 3, 44, 300, 7, -1] {
                    let expected = RoiMask::scan(&decoded, label);
                    assert_eq!(RoiMask::scan(&volume, label), expected, "{sample:?} {little_endian} label {label}");
                }
            }
        }
    }

    #[test]
    fn a_mask_that_is_not_whole_numbers_is_refused_with_its_first_voxel() {
        let ct = image((0..12).map(f64::from).collect());
        let mut probabilities = mask();
        probabilities[4] = 0.999;
        probabilities[10] = f64::NAN;
        let err = Roi::new(&ct, &image(probabilities), 1).unwrap_err();
        assert_eq!(err, RoiError::MaskNotIntegral { voxel: [1, 1, 0], value: 0.999, count: 2 });
        assert!(!err.is_about_the_image() && err.to_string().contains("threshold a probability map"), "{err}");
    }

    #[test]
    fn non_finite_intensities_count_only_inside_the_roi() {
        let mut values: Vec<f64> = (0..12).map(f64::from).collect();
        values[4] = f64::NAN; // in the bounding box, not in the ROI: ignored
        values[11] = f64::NEG_INFINITY; // outside the bounding box: ignored
        assert!(Roi::new(&image(values.clone()), &image(mask()), 1).is_ok());
        values[1] = f64::INFINITY;
        values[3] = f64::NAN;
        let err = Roi::new(&image(values), &image(mask()), 1).unwrap_err();
        let RoiError::NonFiniteIntensity { voxel, value, count } = err.clone() else { panic!("{err:?}") };
        assert_eq!((voxel, value, count), ([1, 0, 0], f64::INFINITY, 2));
        assert!(err.is_about_the_image(), "{err}");
    }
}
