//! Radiomics for flow (issue 4): reading medical images and segmentation masks into one
//! in-memory representation, as a library with no engine or table dependency.
//!
//! For now this crate holds only the image I/O layer:
//! - [`image`]: [`Image`] (voxels in x-fastest order plus [`Geometry`]: size, spacing, origin,
//!   direction in LPS, the convention of ITK and pyradiomics) and the image/mask geometry
//!   check with tolerance;
//! - [`nrrd`]: a small NRRD reader (raw and gzip, 3D Slicer `.seg.nrrd` first layer);
//! - [`nifti`]: NIfTI-1 (`.nii`, `.nii.gz`) through the `nifti` crate, RAS converted to LPS.
//!
//! Feature extraction (pyradiomics-compatible shape, first order and texture classes) and the
//! `imaging.radiomics` node come later.

pub mod error;
pub mod image;
pub mod nifti;
pub mod nrrd;

pub use error::ImageError;
pub use image::{Geometry, GeometryMismatch, Image, Tolerance};

/// Reads an image by its extension: `.nrrd`/`.nhdr` with [`nrrd::read_nrrd`], `.nii`/`.nii.gz`
/// with [`nifti::read_nifti`].
pub fn read_image(path: &std::path::Path) -> Result<Image<f64>, ImageError> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        nrrd::read_nrrd(path)
    } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        nifti::read_nifti(path)
    } else {
        Err(ImageError::Format {
            path: path.to_path_buf(),
            msg: "unknown image format (expected .nrrd, .nhdr, .nii or .nii.gz)".into(),
        })
    }
}
