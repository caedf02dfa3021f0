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

use ::nifti::{Endianness, NiftiHeader, NiftiType};

use crate::error::ImageError;
use crate::image::{Geometry, Image, ras_to_lps_direction, ras_to_lps_point};

/// Reads a 3D NIfTI-1 image into `f64` voxels (x fastest) with LPS geometry. Trailing
/// dimensions of size 1 are accepted; a real 4th dimension is an error.
pub fn read_nifti(path: &Path) -> Result<Image<f64>, ImageError> {
    let nifti_err = |source| ImageError::Nifti { path: path.to_path_buf(), source };
    let format = |msg: String| ImageError::Format { path: path.to_path_buf(), msg };
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io { path: path.to_path_buf(), source })?;
    let raw = if crate::gzip::is_gzip(&bytes) {
        crate::gzip::gunzip(&bytes).map_err(|e| format(format!("gzip data could not be decompressed: {e}")))?
    } else {
        bytes
    };
    // The crate parses the header (endianness, versions); the voxels are decoded straight from
    // the file's bytes, which spares a copy of the whole volume.
    let header = NiftiHeader::from_reader(raw.as_slice()).map_err(nifti_err)?;
    if &header.magic != b"n+1\0" {
        return Err(format(
            "a NIfTI header/image pair (.hdr/.img) is not supported: convert it to a single .nii or .nii.gz".into(),
        ));
    }
    let voxels = raw.get(header.vox_offset as usize..).unwrap_or_default();
    let dims = header.dim().map_err(nifti_err)?;
    if dims.len() < 3 {
        return Err(format(format!("NIfTI image has {} dimensions, expected 3", dims.len())));
    }
    if dims[3..].iter().any(|&d| d > 1) {
        return Err(format(format!("NIfTI image has shape {dims:?}, expected a 3D volume")));
    }
    let (nx, ny, nz) = (usize::from(dims[0]), usize::from(dims[1]), usize::from(dims[2]));
    let data_type = header.data_type().map_err(nifti_err)?;
    // NIfTI stores x fastest, as `Image` does: the voxels convert in order, with no reordering.
    let mut data = to_f64(voxels, data_type, header.endianness == Endianness::Big, nx * ny * nz).map_err(format)?;
    // As the standard says: a slope of 0 means no scaling.
    let (slope, intercept) = (f64::from(header.scl_slope), f64::from(header.scl_inter));
    if slope != 0.0 && slope.is_finite() && intercept.is_finite() && (slope, intercept) != (1.0, 0.0) {
        data.iter_mut().for_each(|v| *v = *v * slope + intercept);
    }
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

/// Decodes `count` voxels of `data_type` from `raw`.
fn to_f64(raw: &[u8], data_type: NiftiType, big_endian: bool, count: usize) -> Result<Vec<f64>, String> {
    macro_rules! decode {
        ($t:ty) => {{
            const WIDTH: usize = std::mem::size_of::<$t>();
            if raw.len() < count * WIDTH {
                return Err(format!("NIfTI data holds {} bytes, the header promises {}", raw.len(), count * WIDTH));
            }
            raw[..count * WIDTH]
                .chunks_exact(WIDTH)
                .map(|b| {
                    let bytes: [u8; WIDTH] = b.try_into().unwrap_or([0; WIDTH]);
                    (if big_endian { <$t>::from_be_bytes(bytes) } else { <$t>::from_le_bytes(bytes) }) as f64
                })
                .collect()
        }};
    }
    Ok(match data_type {
        NiftiType::Uint8 => decode!(u8),
        NiftiType::Int8 => decode!(i8),
        NiftiType::Int16 => decode!(i16),
        NiftiType::Uint16 => decode!(u16),
        NiftiType::Int32 => decode!(i32),
        NiftiType::Uint32 => decode!(u32),
        NiftiType::Int64 => decode!(i64),
        NiftiType::Uint64 => decode!(u64),
        NiftiType::Float32 => decode!(f32),
        NiftiType::Float64 => decode!(f64),
        other => return Err(format!("NIfTI data type {other:?} is not a scalar image type")),
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
