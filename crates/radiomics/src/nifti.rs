//! NIfTI-1 (`.nii`, `.nii.gz`) through the `nifti` crate, with the voxel-to-world transform
//! converted from NIfTI's RAS to the LPS of ITK and pyradiomics.
//!
//! The transform is chosen as nibabel's `get_best_affine` does: the sform when `sform_code > 0`
//! (spacing = column lengths, direction = normalised columns), else the qform when
//! `qform_code > 0` (quaternion, `pixdim` spacing, `qfac` from `pixdim[0]`), else `pixdim`
//! scaling with identity direction. For the usual files, where both forms agree, this is what
//! ITK (and so pyradiomics) reads. Like ITK, x and y of origin and direction are negated.
//! `scl_slope`/`scl_inter` are applied.

use std::path::Path;

use ::nifti::{IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};
use ndarray::{Axis, Ix3};

use crate::error::ImageError;
use crate::image::{Geometry, Image, ras_to_lps_direction, ras_to_lps_point};

/// Reads a 3D NIfTI-1 image into `f64` voxels (x fastest) with LPS geometry. Trailing
/// dimensions of size 1 are accepted; a real 4th dimension is an error.
pub fn read_nifti(path: &Path) -> Result<Image<f64>, ImageError> {
    let nifti_err = |source| ImageError::Nifti { path: path.to_path_buf(), source };
    let format = |msg: String| ImageError::Format { path: path.to_path_buf(), msg };
    let object = ReaderOptions::new().read_file(path).map_err(nifti_err)?;
    let header = object.header().clone();
    let mut array = object.into_volume().into_ndarray::<f64>().map_err(nifti_err)?;
    if array.ndim() < 3 {
        return Err(format(format!("NIfTI image has {} dimensions, expected 3", array.ndim())));
    }
    while array.ndim() > 3 {
        let extra = array.len_of(Axis(3));
        if extra != 1 {
            return Err(format(format!("NIfTI image has shape {:?}, expected a 3D volume", array.shape())));
        }
        array = array.index_axis_move(Axis(3), 0);
    }
    let array = array.into_dimensionality::<Ix3>().map_err(|e| format(format!("NIfTI volume is not 3D: {e}")))?;
    let (nx, ny, nz) = array.dim();
    // NIfTI stores x fastest, so the array is column-major and its reversed view is row-major
    // over (z, y, x): the voxels can move out without a copy.
    let reversed = array.reversed_axes();
    let data = if reversed.is_standard_layout() {
        let (data, offset) = reversed.into_raw_vec_and_offset();
        match offset {
            Some(0) | None => data,
            Some(start) => data[start..].to_vec(),
        }
    } else {
        reversed.iter().copied().collect()
    };
    let (spacing, origin_ras, direction_ras) = ras_transform(&header)
        .ok_or_else(|| format("NIfTI header has a degenerate voxel-to-world transform".into()))?;
    Ok(Image {
        geometry: Geometry {
            size: [nx, ny, nz],
            spacing,
            origin: ras_to_lps_point(origin_ras),
            direction: ras_to_lps_direction(direction_ras),
        },
        data,
    })
}

type Transform = ([f64; 3], [f64; 3], [[f64; 3]; 3]);

/// Spacing, origin and direction (columns = index axes) in RAS, or `None` if degenerate.
fn ras_transform(h: &NiftiHeader) -> Option<Transform> {
    let pixdim = [1, 2, 3].map(|i| f64::from(h.pixdim[i]).abs());
    if h.sform_code > 0 {
        let rows = [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(f64::from));
        let mut spacing = [0.0; 3];
        let mut direction = [[0.0; 3]; 3];
        for c in 0..3 {
            let norm = (0..3).map(|r| rows[r][c] * rows[r][c]).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return None;
            }
            spacing[c] = norm;
            for r in 0..3 {
                direction[r][c] = rows[r][c] / norm;
            }
        }
        Some((spacing, [rows[0][3], rows[1][3], rows[2][3]], direction))
    } else if h.qform_code > 0 {
        let [b, c, d] = [h.quatern_b, h.quatern_c, h.quatern_d].map(f64::from);
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let direction = [
            [a * a + b * b - c * c - d * d, 2.0 * (b * c - a * d), qfac * 2.0 * (b * d + a * c)],
            [2.0 * (b * c + a * d), a * a + c * c - b * b - d * d, qfac * 2.0 * (c * d - a * b)],
            [2.0 * (b * d - a * c), 2.0 * (c * d + a * b), qfac * (a * a + d * d - b * b - c * c)],
        ];
        let origin = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
        positive(pixdim).then_some((pixdim, origin, direction))
    } else {
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        positive(pixdim).then_some((pixdim, [0.0; 3], identity))
    }
}

fn positive(v: [f64; 3]) -> bool {
    v.iter().all(|x| x.is_finite() && *x > 0.0)
}
