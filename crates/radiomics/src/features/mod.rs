//! The pyradiomics feature classes on the original image, one module per class.
//!
//! Names and definitions follow pyradiomics 3.0.1 (what the seed ran); docs/radiomics.md lists
//! where pyradiomics and IBSI differ.

pub mod firstorder;
pub mod glcm;
pub mod gldm;
pub mod glrlm;
pub mod glszm;
mod grid;
pub mod ngtdm;
pub mod shape;

use crate::discretise::{check_range, fixed_bin_width};
use crate::image::{Image, Voxels};
use crate::roi::{Roi, RoiError};
pub use grid::Texture;

/// A computed feature: pyradiomics' feature name within its class (`ClusterShade`) and value.
pub type ClassFeatures = Vec<(&'static str, f64)>;

/// The feature classes of pyradiomics' default extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureClass {
    Shape,
    FirstOrder,
    Glcm,
    Gldm,
    Glrlm,
    Glszm,
    Ngtdm,
}

impl FeatureClass {
    /// In pyradiomics' output order.
    pub const ALL: [FeatureClass; 7] = [
        FeatureClass::Shape,
        FeatureClass::FirstOrder,
        FeatureClass::Glcm,
        FeatureClass::Gldm,
        FeatureClass::Glrlm,
        FeatureClass::Glszm,
        FeatureClass::Ngtdm,
    ];

    /// pyradiomics' name of the class, as in `original_glcm_Contrast`.
    pub fn name(self) -> &'static str {
        match self {
            FeatureClass::Shape => "shape",
            FeatureClass::FirstOrder => "firstorder",
            FeatureClass::Glcm => "glcm",
            FeatureClass::Gldm => "gldm",
            FeatureClass::Glrlm => "glrlm",
            FeatureClass::Glszm => "glszm",
            FeatureClass::Ngtdm => "ngtdm",
        }
    }

    pub fn from_name(name: &str) -> Option<FeatureClass> {
        FeatureClass::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Extraction settings; the defaults are pyradiomics' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Width of a grey-level bin, in image units (HU for CT).
    pub bin_width: f64,
    /// The mask value that marks the ROI.
    pub label: i64,
    /// Added to intensities before Energy, TotalEnergy and RootMeanSquared.
    pub voxel_array_shift: f64,
    /// Classes to compute, in any order; output follows [`FeatureClass::ALL`].
    pub classes: Vec<FeatureClass>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { bin_width: 25.0, label: 1, voxel_array_shift: 0.0, classes: FeatureClass::ALL.to_vec() }
    }
}

/// One output feature, named as pyradiomics names it: `original_glcm_ClusterShade`.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub class: FeatureClass,
    pub name: &'static str,
    pub value: f64,
}

impl Feature {
    pub fn full_name(&self) -> String {
        format!("original_{}_{}", self.class.name(), self.name)
    }
}

/// Computes the selected feature classes for one image and mask on the same grid.
pub fn extract(image: &Image<f64>, mask: &Image<f64>, settings: &Settings) -> Result<Vec<Feature>, RoiError> {
    extract_threads(image, mask, settings, 1)
}

/// [`extract`] with the feature classes spread over up to `threads` threads.
pub fn extract_threads(
    image: &impl Voxels,
    mask: &impl Voxels,
    settings: &Settings,
    threads: usize,
) -> Result<Vec<Feature>, RoiError> {
    let roi = Roi::new(image, mask, settings.label)?;
    extract_roi(&roi, settings, threads)
}

/// Computes the selected feature classes of an already cropped ROI, on up to `threads` threads.
/// The output does not depend on `threads`. The intensities are checked first (finite, and
/// at most [`crate::discretise::MAX_GREY_LEVELS`] grey levels at the bin width), since first
/// order statistics bin them too.
pub fn extract_roi(roi: &Roi, settings: &Settings, threads: usize) -> Result<Vec<Feature>, RoiError> {
    check_range(roi, settings.bin_width)?;
    let wants = |class| settings.classes.contains(&class);
    let texture = FeatureClass::ALL[2..].iter().any(|c| wants(*c));
    let texture: Option<Texture> =
        if texture { Some(Texture::of(fixed_bin_width(roi, settings.bin_width)?)) } else { None };
    let compute = |class| match (class, &texture) {
        (FeatureClass::Shape, _) => shape::compute(roi),
        (FeatureClass::FirstOrder, _) => firstorder::compute(roi, settings.bin_width, settings.voxel_array_shift),
        (FeatureClass::Glcm, Some(texture)) => glcm::compute(texture),
        (FeatureClass::Glrlm, Some(texture)) => glrlm::compute(texture, roi.voxel_count),
        (FeatureClass::Gldm, Some(texture)) => gldm::compute(texture),
        (FeatureClass::Glszm, Some(texture)) => glszm::compute(texture, roi.voxel_count),
        (FeatureClass::Ngtdm, Some(texture)) => ngtdm::compute(texture),
        _ => Vec::new(),
    };
    // Costliest first, so that the threads finish together (measured on PAT1).
    const BY_COST: [FeatureClass; 7] = [
        FeatureClass::Glrlm,
        FeatureClass::Glcm,
        FeatureClass::Glszm,
        FeatureClass::Shape,
        FeatureClass::Ngtdm,
        FeatureClass::Gldm,
        FeatureClass::FirstOrder,
    ];
    let jobs: Vec<FeatureClass> = BY_COST.into_iter().filter(|c| wants(*c)).collect();
    let results: Vec<(FeatureClass, ClassFeatures)> = if threads <= 1 || jobs.len() <= 1 {
        jobs.iter().map(|&class| (class, compute(class))).collect()
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::Mutex::new(Vec::new());
        let work = || {
            while let Some(&class) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                let features = compute(class);
                if let Ok(mut done) = done.lock() {
                    done.push((class, features));
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads.min(jobs.len()) {
                scope.spawn(work);
            }
            work();
        });
        done.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    let mut out = Vec::new();
    for class in FeatureClass::ALL {
        if let Some((_, features)) = results.iter().find(|(c, _)| *c == class) {
            out.extend(features.iter().map(|&(name, value)| Feature { class, name, value }));
        }
    }
    Ok(out)
}

/// The 13 directions of a 3D neighbourhood at distance 1, one of each opposite pair, as
/// (dx, dy, dz). Texture matrices of pyradiomics are computed per direction and averaged.
pub const DIRECTIONS: [[isize; 3]; 13] = [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 0],
    [1, -1, 0],
    [0, 0, 1],
    [1, 0, 1],
    [1, 0, -1],
    [0, 1, 1],
    [0, 1, -1],
    [1, 1, 1],
    [1, 1, -1],
    [1, -1, 1],
    [1, -1, -1],
];

/// Machine epsilon, which pyradiomics adds inside every logarithm so that `0 * log(0)` is 0.
pub(crate) const EPS: f64 = f64::EPSILON;

/// `-sum(p * log2(p + eps))` over probabilities.
pub(crate) fn entropy<'a>(probabilities: impl IntoIterator<Item = &'a f64>) -> f64 {
    -probabilities.into_iter().map(|&p| p * (p + EPS).log2()).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 7 x 6 x 5 ROI with a few grey levels and a ragged outline.
    fn roi() -> Roi {
        let size = [7, 6, 5];
        let total = size.iter().product();
        let mask: Vec<bool> = (0..total).map(|i| (i * 13) % 7 != 0).collect();
        let values: Vec<f64> = (0..total).filter(|&i| mask[i]).map(|i| ((i * 37) % 11) as f64 * 20.0 - 60.0).collect();
        let voxel_count = values.len();
        Roi { size, spacing: [0.7, 0.7, 2.5], values, mask, voxel_count }
    }

    #[test]
    fn threads_do_not_change_the_output() {
        let settings = Settings::default();
        let one = extract_roi(&roi(), &settings, 1).unwrap();
        assert_eq!(one.len(), 107);
        for threads in [2, 3, 8] {
            let many = extract_roi(&roi(), &settings, threads).unwrap();
            let same = one
                .iter()
                .zip(&many)
                .all(|(a, b)| a.class == b.class && a.name == b.name && a.value.to_bits() == b.value.to_bits());
            assert!(same && one.len() == many.len(), "{threads} threads changed the features");
        }
    }

    #[test]
    fn selected_classes_come_out_in_pyradiomics_order() {
        let settings = Settings { classes: vec![FeatureClass::Ngtdm, FeatureClass::Shape], ..Settings::default() };
        let features = extract_roi(&roi(), &settings, 2).unwrap();
        assert_eq!(features.len(), 14 + 5);
        assert_eq!(features[0].full_name(), "original_shape_Elongation");
        assert_eq!(features[14].full_name(), "original_ngtdm_Busyness");
    }
}
