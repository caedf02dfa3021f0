//! The region of interest: the image cropped to the bounding box of one mask label, as every
//! feature class sees it.

use crate::image::Image;

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
    /// Image values inside the bounding box, x fastest.
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
    /// share one geometry.
    pub fn new(image: &Image<f64>, mask: &Image<f64>, label: i64) -> Result<Roi, RoiError> {
        if image.data.len() != mask.data.len() {
            return Err(RoiError::SizeMismatch { image: image.data.len(), mask: mask.data.len() });
        }
        let [nx, ny, nz] = image.geometry.size;
        let wanted = label as f64;
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut voxel_count = 0;
        for z in 0..nz {
            for y in 0..ny {
                let row = &mask.data[nx * (y + ny * z)..nx * (y + 1 + ny * z)];
                let (Some(first), Some(last)) =
                    (row.iter().position(|&m| m == wanted), row.iter().rposition(|&m| m == wanted))
                else {
                    continue;
                };
                voxel_count += row[first..=last].iter().filter(|&&m| m == wanted).count();
                for (axis, (from, to)) in [(first, last), (y, y), (z, z)].into_iter().enumerate() {
                    lo[axis] = lo[axis].min(from);
                    hi[axis] = hi[axis].max(to);
                }
            }
        }
        if voxel_count == 0 {
            let mut present: Vec<i64> =
                mask.data.iter().filter(|v| **v != 0.0 && v.is_finite()).map(|v| v.round() as i64).collect();
            present.sort_unstable();
            present.dedup();
            present.truncate(20);
            return Err(RoiError::LabelMissing { label, present });
        }
        let size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
        // pyradiomics' default `minimumROIDimensions: 2`.
        let dimensions = size.iter().filter(|&&n| n > 1).count();
        if dimensions < 2 {
            return Err(RoiError::TooSmall { label, dimensions, voxels: voxel_count });
        }
        let total = size[0] * size[1] * size[2];
        let mut values = Vec::with_capacity(total);
        let mut roi_mask = Vec::with_capacity(total);
        for z in lo[2]..=hi[2] {
            for y in lo[1]..=hi[1] {
                let row = nx * (y + ny * z);
                values.extend_from_slice(&image.data[row + lo[0]..=row + hi[0]]);
                roi_mask.extend(mask.data[row + lo[0]..=row + hi[0]].iter().map(|&m| m == wanted));
            }
        }
        Ok(Roi { size, spacing: image.geometry.spacing, values, mask: roi_mask, voxel_count })
    }

    /// The values of the ROI voxels, in x-fastest order.
    pub fn roi_values(&self) -> Vec<f64> {
        self.values.iter().zip(&self.mask).filter(|(_, m)| **m).map(|(v, _)| *v).collect()
    }
}
