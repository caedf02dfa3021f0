//! Radiomics for flow: medical images and segmentation masks in, the pyradiomics 3.0.1 default
//! features out. A library with no engine or table dependency; the `imaging.radiomics` node
//! in crates/nodes wraps it.
//!
//! Layers, bottom up:
//! - [`image`]: [`Image`] (voxels in x-fastest order plus [`Geometry`]: size, spacing, origin,
//!   direction in LPS, the convention of ITK and pyradiomics) and the image/mask geometry
//!   check with tolerance;
//! - readers: [`nrrd`] (raw and gzip, 3D Slicer `.seg.nrrd` first layer), [`nifti`] (through
//!   the `nifti` crate, RAS converted to LPS) and [`dicom`] (CT series, SEG and RTSTRUCT
//!   masks mapped onto the CT grid);
//! - [`roi`]: the image cropped to one mask label; [`discretise`]: fixed-bin-width grey levels;
//! - [`features`]: the seven feature classes, one module each;
//! - [`manifest`] and [`cohort`]: a cohort's `subject,image,mask` list, measured in parallel.

pub mod cohort;
pub mod dicom;
pub mod discretise;
pub mod error;
pub mod features;
mod gzip;
pub mod image;
pub mod manifest;
pub mod nifti;
pub mod nrrd;
pub mod roi;

pub use error::ImageError;
pub use features::{Feature, FeatureClass, Settings, extract};
pub use image::{Geometry, GeometryMismatch, Image, Tolerance};
pub use manifest::{Case, read_manifest};
pub use roi::{Roi, RoiError};

/// Reads an image: a folder as a DICOM series ([`dicom::read_series`]), otherwise by extension,
/// `.dcmlist` as the DICOM series it lists ([`dicom::read_series_list`]), `.nrrd`/`.nhdr` with
/// [`nrrd::read_nrrd`], `.nii`/`.nii.gz` with [`nifti::read_nifti`].
pub fn read_image(path: &std::path::Path) -> Result<Image<f64>, ImageError> {
    if path.is_dir() {
        return dicom::read_series(path);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.ends_with(&format!(".{}", dicom::SERIES_LIST_EXTENSION)) {
        dicom::read_series_list(path).map(|(image, _)| image)
    } else if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        nrrd::read_nrrd(path)
    } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        nifti::read_nifti(path)
    } else {
        Err(ImageError::Format {
            path: path.to_path_buf(),
            msg: "unknown image format (expected .nrrd, .nhdr, .nii, .nii.gz, a folder of DICOM slices or a .dcmlist)"
                .into(),
        })
    }
}
