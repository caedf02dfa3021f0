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
use crate::image::{Geometry, Image, Sample, StoredVolume, ras_to_lps_direction, ras_to_lps_point};

/// Size of a NIfTI-1 header; the data of a single-file `.nii` cannot start before it.
const HEADER_BYTES: usize = 348;

/// Reads a 3D NIfTI-1 image into `f64` voxels (x fastest) with LPS geometry. Trailing
/// dimensions of size 1 are accepted; a real 4th dimension is an error.
///
/// Every malformed file is an [`ImageError::Format`] that says which header field or which
/// part of the file is wrong: a file shorter than a header, another format (NIfTI-2, a
/// `.hdr`/`.img` pair), a zero or negative dimension, a data offset inside the header,
/// truncated or corrupt gzip data, fewer voxel bytes than the header promises, and a
/// non-finite voxel-to-world transform.
pub fn read_nifti(path: &Path) -> Result<Image<f64>, ImageError> {
    read_nifti_stored(path).map(|volume| volume.to_image())
}

/// Reads a NIfTI-1 file keeping its voxels as stored (see [`StoredVolume`]); `scl_slope` and
/// `scl_inter` are applied as each voxel is read.
pub fn read_nifti_stored(path: &Path) -> Result<StoredVolume, ImageError> {
    let format = |msg: String| ImageError::Format { path: path.to_path_buf(), msg };
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io { path: path.to_path_buf(), source })?;
    let raw = if crate::gzip::is_gzip(&bytes) {
        crate::gzip::gunzip(&bytes).map_err(|e| format(crate::gzip::describe_gunzip_error(&e)))?
    } else {
        bytes
    };
    let header = read_header(&raw).map_err(format)?;
    let (nx, ny, nz) = dimensions(&header).map_err(format)?;
    let data_type = header
        .data_type()
        .map_err(|_| format(format!("header field datatype is {}, which is not a NIfTI data type", header.datatype)))?;
    let offset = data_offset(&header).map_err(format)?;
    // NIfTI stores x fastest, as `Image` does: the voxels convert in order, with no reordering.
    let sample = sample_of(data_type, raw.len().saturating_sub(offset), nx * ny * nz)
        .map_err(|msg| format(format!("{msg} (data from byte {offset} on)")))?;
    // As the standard says: a slope of 0 means no scaling.
    let (slope, intercept) = (f64::from(header.scl_slope), f64::from(header.scl_inter));
    let scaling =
        if slope != 0.0 && slope.is_finite() && intercept.is_finite() { (slope, intercept) } else { (1.0, 0.0) };
    let (spacing, origin_ras, direction_ras) = ras_transform(&header).ok_or_else(|| {
        format(
            "the header's voxel-to-world transform (sform, qform or pixdim, whichever is in use) is degenerate or \
             not finite: a spacing is 0, or a value is NaN or infinite"
                .into(),
        )
    })?;
    let geometry = Geometry {
        size: [nx, ny, nz],
        spacing,
        origin: ras_to_lps_point(origin_ras),
        direction: ras_to_lps_direction(direction_ras),
    };
    let little = header.endianness != Endianness::Big;
    Ok(StoredVolume::new(geometry, raw, offset, sample, little, 1, scaling))
}

/// The header of a single-file NIfTI-1 image, with a message for anything else.
fn read_header(raw: &[u8]) -> Result<NiftiHeader, String> {
    if raw.len() < HEADER_BYTES {
        return Err(format!(
            "truncated: the file holds {} bytes, but a NIfTI-1 header alone takes {HEADER_BYTES}; the file was cut \
             short or is not a NIfTI image",
            raw.len()
        ));
    }
    let sizeof_hdr = [i32::from_le_bytes, i32::from_be_bytes].map(|read| read([raw[0], raw[1], raw[2], raw[3]]));
    if sizeof_hdr.contains(&540) {
        return Err("this is a NIfTI-2 file, which is not supported: save it as NIfTI-1 (e.g. nibabel's \
                    Nifti1Image, or ITK/SimpleITK, which write NIfTI-1 by default)"
            .into());
    }
    let header = NiftiHeader::from_reader(raw).map_err(|_| {
        format!(
            "not a NIfTI-1 image: header field sizeof_hdr is {} and magic (bytes 344-347) is {:?}, expected 348 and \
             \"n+1\"",
            sizeof_hdr[0],
            String::from_utf8_lossy(&raw[344..348]).trim_end_matches('\0'),
        )
    })?;
    if &header.magic != b"n+1\0" {
        return Err(
            "a NIfTI header/image pair (.hdr/.img) is not supported: convert it to a single .nii or .nii.gz".into()
        );
    }
    Ok(header)
}

/// The grid size from `dim`, each axis checked: NIfTI writes `dim` as signed 16-bit numbers.
fn dimensions(header: &NiftiHeader) -> Result<(usize, usize, usize), String> {
    let dim = header.dim.map(|d| d as i16);
    let rank = dim[0];
    if !(1..=7).contains(&rank) {
        return Err(format!("header field dim[0] (the number of dimensions) is {rank}, expected 1 to 7"));
    }
    for (axis, &n) in dim.iter().enumerate().take(rank as usize + 1).skip(1) {
        if n < 1 {
            return Err(format!(
                "header field dim[{axis}] is {n}: a zero-length or negative dimension, so the image holds no voxel"
            ));
        }
    }
    if rank < 3 {
        return Err(format!("NIfTI image has {rank} dimensions, expected 3"));
    }
    let used = &dim[1..=rank as usize];
    if used[3..].iter().any(|&d| d > 1) {
        return Err(format!("NIfTI image has shape {used:?}, expected a 3D volume"));
    }
    Ok((used[0] as usize, used[1] as usize, used[2] as usize))
}

/// Where the voxels start: `vox_offset`, which must be a whole number of bytes past the header.
fn data_offset(header: &NiftiHeader) -> Result<usize, String> {
    let offset = header.vox_offset;
    if !(offset.is_finite() && offset.fract() == 0.0 && offset >= HEADER_BYTES as f32) {
        return Err(format!(
            "header field vox_offset is {offset}: the voxel data of a .nii file must start at a whole byte at or \
             after {HEADER_BYTES} (usually 352)"
        ));
    }
    Ok(offset as usize)
}

/// Decodes `count` voxels of `data_type` from `raw`.
/// The sample type of `data_type`, once `held` bytes of voxel data are known to hold `count`
/// voxels of it.
fn sample_of(data_type: NiftiType, held: usize, count: usize) -> Result<Sample, String> {
    let sample = match data_type {
        NiftiType::Uint8 => Sample::U8,
        NiftiType::Int8 => Sample::I8,
        NiftiType::Int16 => Sample::I16,
        NiftiType::Uint16 => Sample::U16,
        NiftiType::Int32 => Sample::I32,
        NiftiType::Uint32 => Sample::U32,
        NiftiType::Int64 => Sample::I64,
        NiftiType::Uint64 => Sample::U64,
        NiftiType::Float32 => Sample::F32,
        NiftiType::Float64 => Sample::F64,
        other => return Err(format!("NIfTI data type {other:?} is not a scalar image type")),
    };
    let type_name = format!("{data_type:?}").to_ascii_lowercase();
    if count.checked_mul(sample.bytes()).is_none_or(|needed| needed > held) {
        return Err(format!(
            "truncated: the header says {count} voxels of {type_name}, which take {} bytes, but the file holds {held} \
             bytes of voxel data",
            count as u128 * sample.bytes() as u128,
        ));
    }
    Ok(sample)
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
        let origin = [rows[0][3], rows[1][3], rows[2][3]];
        finite(origin).then_some((spacing, origin, direction))
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
        let finite_rotation = direction.iter().all(|row| finite(*row));
        (positive(pixdim) && finite(origin) && finite_rotation).then_some((pixdim, origin, direction))
    } else {
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        positive(pixdim).then_some((pixdim, [0.0; 3], identity))
    }
}

fn positive(v: [f64; 3]) -> bool {
    v.iter().all(|x| x.is_finite() && *x > 0.0)
}

fn finite(v: [f64; 3]) -> bool {
    v.iter().all(|x| x.is_finite())
}
