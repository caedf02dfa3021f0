//! The pyradiomics feature classes on the original image, one module per class.
//!
//! Names and definitions follow pyradiomics 3.0.1 (what the seed ran); docs/radiomics.md lists
//! where pyradiomics and IBSI differ.

pub mod firstorder;
pub mod glcm;
pub mod gldm;
pub mod glrlm;
pub mod glszm;
pub mod ngtdm;
pub mod shape;

use crate::discretise::{Discretised, fixed_bin_width};
use crate::image::Image;
use crate::roi::{Roi, RoiError};

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
    let roi = Roi::new(image, mask, settings.label)?;
    Ok(extract_roi(&roi, settings))
}

/// Computes the selected feature classes for an already cropped ROI.
pub fn extract_roi(roi: &Roi, settings: &Settings) -> Vec<Feature> {
    let wants = |class| settings.classes.contains(&class);
    let texture = FeatureClass::ALL[2..].iter().any(|c| wants(*c));
    let levels: Option<Discretised> = texture.then(|| fixed_bin_width(roi, settings.bin_width));
    let mut out = Vec::new();
    for class in FeatureClass::ALL {
        if !wants(class) {
            continue;
        }
        let features = match (class, &levels) {
            (FeatureClass::Shape, _) => shape::compute(roi),
            (FeatureClass::FirstOrder, _) => firstorder::compute(roi, settings.bin_width, settings.voxel_array_shift),
            (FeatureClass::Glcm, Some(levels)) => glcm::compute(levels),
            (FeatureClass::Glrlm, Some(levels)) => glrlm::compute(levels, roi.voxel_count),
            (FeatureClass::Gldm, Some(levels)) => gldm::compute(levels),
            (FeatureClass::Glszm, Some(levels)) => glszm::compute(levels, roi.voxel_count),
            (FeatureClass::Ngtdm, Some(levels)) => ngtdm::compute(levels),
            _ => continue,
        };
        out.extend(features.into_iter().map(|(name, value)| Feature { class, name, value }));
    }
    out
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

/// The index of voxel `(x, y, z)` moved by `d`, or `None` when it leaves the box.
#[inline]
pub(crate) fn neighbour(size: [usize; 3], at: [usize; 3], d: [isize; 3]) -> Option<usize> {
    let mut moved = [0usize; 3];
    for axis in 0..3 {
        let c = at[axis] as isize + d[axis];
        if c < 0 || c >= size[axis] as isize {
            return None;
        }
        moved[axis] = c as usize;
    }
    Some(moved[0] + size[0] * (moved[1] + size[1] * moved[2]))
}
