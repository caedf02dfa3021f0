//! The in-memory image: voxels plus the geometry that places them in patient space.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where the voxel grid lies in patient space, in the LPS convention of ITK and pyradiomics
/// (x grows to the patient's Left, y to Posterior, z to Superior).
///
/// The physical point of voxel index `(i, j, k)` is `origin + direction * diag(spacing) * (i, j, k)`:
/// `direction[r][c]` is component `r` (physical axis) of the unit vector of index axis `c`,
/// as in ITK's direction matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// Voxels along x, y, z (x varies fastest in [`Image::data`]).
    pub size: [usize; 3],
    /// Voxel spacing in mm along each index axis.
    pub spacing: [f64; 3],
    /// Physical position (mm, LPS) of the centre of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// Direction cosines, columns are the index axes (see the type's documentation).
    pub direction: [[f64; 3]; 3],
}

/// An image with voxels of type `T` in x-fastest order: voxel `(x, y, z)` is at
/// `x + size[0] * (y + size[1] * z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image<T> {
    pub geometry: Geometry,
    pub data: Vec<T>,
}

impl<T: Copy> Image<T> {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the image has no voxel.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The voxel at index `(x, y, z)`, or `None` outside the grid.
    pub fn get(&self, x: usize, y: usize, z: usize) -> Option<T> {
        let [nx, ny, nz] = self.geometry.size;
        if x >= nx || y >= ny || z >= nz {
            return None;
        }
        self.data.get(x + nx * (y + ny * z)).copied()
    }
}

/// How close two geometries must be to count as the same grid. The defaults are ITK's
/// (`coordinateTolerance` and `directionTolerance` of 1e-6), which pyradiomics relies on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Spacing and origin may differ by this fraction of the (first image's) smallest spacing.
    pub coordinate: f64,
    /// Direction cosines may differ by this much, absolutely.
    pub direction: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { coordinate: 1e-6, direction: 1e-6 }
    }
}

/// Which part of the geometry differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryField {
    Size,
    Spacing,
    Origin,
    Direction,
}

impl fmt::Display for GeometryField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GeometryField::Size => "size",
            GeometryField::Spacing => "spacing",
            GeometryField::Origin => "origin",
            GeometryField::Direction => "direction",
        })
    }
}

/// Two images (typically an image and its mask) are not on the same grid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "geometry mismatch between {} and {}: {field} differs ({first} vs {second})",
    first_path.display(),
    second_path.display()
)]
pub struct GeometryMismatch {
    pub first_path: PathBuf,
    pub second_path: PathBuf,
    pub field: GeometryField,
    /// The differing values, formatted, of the first and second image.
    pub first: String,
    pub second: String,
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

impl Geometry {
    /// Checks that `other` is the same grid as `self` within `tol`; the error names both files
    /// (`self_path` for `self`) and the first field that differs, in the order size, spacing,
    /// origin, direction.
    pub fn check_same(
        &self,
        other: &Geometry,
        tol: Tolerance,
        self_path: &Path,
        other_path: &Path,
    ) -> Result<(), GeometryMismatch> {
        let coord_tol = tol.coordinate * self.spacing.iter().fold(f64::INFINITY, |m, s| m.min(*s));
        let flat = |d: &[[f64; 3]; 3]| -> Vec<f64> { d.iter().flatten().copied().collect() };
        let (field, first, second) = if self.size != other.size {
            (GeometryField::Size, format!("{:?}", self.size), format!("{:?}", other.size))
        } else if !close(&self.spacing, &other.spacing, coord_tol) {
            (GeometryField::Spacing, format!("{:?}", self.spacing), format!("{:?}", other.spacing))
        } else if !close(&self.origin, &other.origin, coord_tol) {
            (GeometryField::Origin, format!("{:?}", self.origin), format!("{:?}", other.origin))
        } else if !close(&flat(&self.direction), &flat(&other.direction), tol.direction) {
            (GeometryField::Direction, format!("{:?}", self.direction), format!("{:?}", other.direction))
        } else {
            return Ok(());
        };
        Err(GeometryMismatch {
            first_path: self_path.to_path_buf(),
            second_path: other_path.to_path_buf(),
            field,
            first,
            second,
        })
    }

    /// Number of voxels of the grid.
    pub fn voxel_count(&self) -> usize {
        self.size.iter().product()
    }
}

/// Converts a point or a direction column given in RAS to LPS (negate x and y), as ITK does.
pub(crate) fn ras_to_lps_point(p: [f64; 3]) -> [f64; 3] {
    // `+ 0.0` turns -0.0 into 0.0, so identity axes print and compare cleanly.
    [-p[0] + 0.0, -p[1] + 0.0, p[2]]
}

/// Converts a direction matrix (columns = index axes) from RAS to LPS: negates rows x and y.
pub(crate) fn ras_to_lps_direction(d: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    [d[0].map(|v| -v + 0.0), d[1].map(|v| -v + 0.0), d[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom() -> Geometry {
        Geometry {
            size: [5, 4, 4],
            spacing: [2.0, 2.0, 2.0],
            origin: [0.0, 0.0, 0.0],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    #[test]
    fn same_geometry_within_tolerance() {
        let a = geom();
        let mut b = geom();
        b.origin[0] += 1e-7;
        assert!(a.check_same(&b, Tolerance::default(), Path::new("img.nrrd"), Path::new("m.nrrd")).is_ok());
    }

    #[test]
    fn mismatch_names_files_and_field() {
        let a = geom();
        for (field, change) in [
            (GeometryField::Size, Box::new(|g: &mut Geometry| g.size[2] = 5) as Box<dyn Fn(&mut Geometry)>),
            (GeometryField::Spacing, Box::new(|g: &mut Geometry| g.spacing[1] = 2.5)),
            (GeometryField::Origin, Box::new(|g: &mut Geometry| g.origin[2] = 0.01)),
            (GeometryField::Direction, Box::new(|g: &mut Geometry| g.direction[0][0] = -1.0)),
        ] {
            let mut b = geom();
            change(&mut b);
            let err =
                a.check_same(&b, Tolerance::default(), Path::new("ct.nii.gz"), Path::new("seg.nrrd")).unwrap_err();
            assert_eq!(err.field, field);
            let msg = err.to_string();
            assert!(msg.contains("ct.nii.gz") && msg.contains("seg.nrrd"), "{msg}");
            assert!(msg.contains(&field.to_string()), "{msg}");
        }
    }

    #[test]
    fn get_is_x_fastest() {
        let img = Image { geometry: geom(), data: (0..80).collect::<Vec<i32>>() };
        assert_eq!(img.get(1, 0, 0), Some(1));
        assert_eq!(img.get(0, 1, 0), Some(5));
        assert_eq!(img.get(0, 0, 1), Some(20));
        assert_eq!(img.get(5, 0, 0), None);
    }

    #[test]
    fn whole_numbers_are_told_from_fractions_and_non_finite_values() {
        let big = 4_503_599_627_370_496.0; // 2^52
        for whole in [0.0, -0.0, 1.0, -3.0, 255.0, big, big + 1.0, -big - 1.0, 9.3e18, -9.3e18, 1e300, f64::MAX] {
            assert!(is_whole(whole), "{whole}");
        }
        for not_whole in [0.5, -0.5, 0.999, 1e-300, big - 0.5, -big + 0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!is_whole(not_whole), "{not_whole}");
        }
    }

    #[test]
    fn a_sparse_volume_reads_as_the_dense_one() {
        // 5 x 4 x 4 big-endian i16 labels: rows 3, 6 and 13 hold labels, the others are zeros.
        let dense: Vec<i16> = (0..80)
            .map(|i| match i / 5 {
                3 => [0, 2, 2, 0, 7][i % 5],
                6 => [1, 0, 0, 0, 1][i % 5],
                13 => [0, 0, 300, 0, 0][i % 5],
                _ => 0,
            })
            .collect();
        let bytes: Vec<u8> = dense.iter().flat_map(|v| v.to_be_bytes()).collect();
        let (mut rows, mut kept) = (Vec::new(), Vec::new());
        for row in bytes.chunks(10) {
            if row.iter().all(|&b| b == 0) {
                rows.push(SparseVolume::ZEROS);
            } else {
                rows.push((kept.len() / 10) as u32);
                kept.extend_from_slice(row);
            }
        }
        let sparse = SparseVolume::new(geom(), Sample::I16, false, 1, rows, kept);
        let expected: Vec<f64> = dense.iter().map(|&v| f64::from(v)).collect();
        // Any run of voxels, within a row or across rows.
        for (start, len) in [(0, 80), (13, 9), (15, 5), (31, 2), (64, 16)] {
            let mut out = vec![f64::NAN; len];
            sparse.values(start, &mut out);
            assert_eq!(out, expected[start..start + len], "{start} {len}");
        }
        let mut row = vec![0.0; 5];
        for start in (0..80).step_by(5) {
            for wanted in [0.0, 1.0, 2.0, 7.0, 300.0, 44.0] {
                assert_eq!(
                    sparse.find(start, &mut row, wanted),
                    find_in(&expected[start..start + 5], wanted),
                    "row {} label {wanted}",
                    start / 5
                );
            }
        }
        assert!(sparse.whole_numbers());
    }

    #[test]
    fn stored_integers_scaled_by_whole_numbers_need_no_check() {
        let volume = |sample, scaling| StoredVolume::new(geom(), vec![0; 80 * 8], 0, sample, true, 1, scaling);
        assert!(volume(Sample::U8, (1.0, 0.0)).whole_numbers());
        assert!(volume(Sample::I16, (2.0, -1024.0)).whole_numbers());
        assert!(!volume(Sample::U8, (0.5, 0.0)).whole_numbers());
        assert!(!volume(Sample::I16, (1.0, 0.25)).whole_numbers());
        assert!(!volume(Sample::F32, (1.0, 0.0)).whole_numbers());
        assert!(!Image { geometry: geom(), data: vec![0.0; 80] }.whole_numbers());
    }
}

/// Voxel values by index range, whatever holds them: an [`Image<f64>`], or a [`StoredVolume`]
/// that converts only what is asked for.
pub trait Voxels {
    fn geometry(&self) -> &Geometry;
    /// Writes the values of voxels `start .. start + out.len()` (x-fastest indices) to `out`.
    fn values(&self, start: usize, out: &mut [f64]);

    /// Whether every value is a whole number by the way it is stored (integer samples scaled
    /// by whole numbers), so a mask need not be checked voxel by voxel.
    fn whole_numbers(&self) -> bool {
        false
    }

    /// Where `wanted` occurs among voxels `start .. start + row.len()`: the first and last
    /// offset from `start` and how many times, or `None`. `row` is scratch space.
    fn find(&self, start: usize, row: &mut [f64], wanted: f64) -> Option<(usize, usize, usize)> {
        self.values(start, row);
        find_in(row, wanted)
    }
}

pub(crate) fn find_in(row: &[f64], wanted: f64) -> Option<(usize, usize, usize)> {
    let first = row.iter().position(|&m| m == wanted)?;
    let last = row.iter().rposition(|&m| m == wanted)?;
    Some((first, last, row[first..=last].iter().filter(|&&m| m == wanted).count()))
}

/// Whether `value` is a whole number (not NaN or infinite). `f64::fract` is a call into a
/// software `trunc` on the baseline x86-64 target, a third of scanning a mask row by row.
pub(crate) fn is_whole(value: f64) -> bool {
    // Every finite f64 from 2^52 up is whole; below, the cast to i64 is exact for whole values.
    const ALL_WHOLE: f64 = 4_503_599_627_370_496.0;
    if value.abs() >= ALL_WHOLE { value.is_finite() } else { value as i64 as f64 == value }
}

impl Voxels for Image<f64> {
    fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    fn values(&self, start: usize, out: &mut [f64]) {
        out.copy_from_slice(&self.data[start..start + out.len()]);
    }
}

/// The type of a stored sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl Sample {
    pub fn is_integer(self) -> bool {
        !matches!(self, Sample::F32 | Sample::F64)
    }

    pub fn bytes(self) -> usize {
        match self {
            Sample::I8 | Sample::U8 => 1,
            Sample::I16 | Sample::U16 => 2,
            Sample::I32 | Sample::U32 | Sample::F32 => 4,
            Sample::I64 | Sample::U64 | Sample::F64 => 8,
        }
    }
}

/// A volume as its file stores it: samples of one type in x-fastest order, every `stride`-th
/// sample being a voxel (Slicer's layered segmentations interleave their layers), with the
/// value of a voxel `sample * slope + intercept`. Reading a case keeps volumes this way and
/// converts only the voxels it looks at: a 512 x 512 x 300 CT is 157 MB as int16 and 629 MB
/// as f64.
#[derive(Debug, Clone)]
pub struct StoredVolume {
    pub geometry: Geometry,
    bytes: Vec<u8>,
    /// Where the first sample starts in `bytes`.
    offset: usize,
    sample: Sample,
    little_endian: bool,
    stride: usize,
    slope: f64,
    intercept: f64,
}

impl StoredVolume {
    /// `bytes[offset..]` must hold `geometry.voxel_count() * stride` samples (the readers check).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        geometry: Geometry,
        bytes: Vec<u8>,
        offset: usize,
        sample: Sample,
        little_endian: bool,
        stride: usize,
        (slope, intercept): (f64, f64),
    ) -> StoredVolume {
        debug_assert!(bytes.len() >= offset + geometry.voxel_count() * stride * sample.bytes());
        StoredVolume { geometry, bytes, offset, sample, little_endian, stride, slope, intercept }
    }

    /// Every voxel as `f64`.
    pub fn to_image(&self) -> Image<f64> {
        let mut data = vec![0.0; self.geometry.voxel_count()];
        self.values(0, &mut data);
        Image { geometry: self.geometry.clone(), data }
    }
}

impl Voxels for StoredVolume {
    fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    fn values(&self, start: usize, out: &mut [f64]) {
        let step = self.sample.bytes() * self.stride;
        let from = self.offset + start * step;
        decode(&self.bytes[from..from + out.len() * step], self.sample, self.little_endian, self.stride, out);
        if (self.slope, self.intercept) != (1.0, 0.0) {
            out.iter_mut().for_each(|v| *v = *v * self.slope + self.intercept);
        }
    }

    fn whole_numbers(&self) -> bool {
        self.sample.is_integer() && is_whole(self.slope) && is_whole(self.intercept)
    }

    /// Integer samples as stored, one per voxel, are compared with `wanted`'s bytes instead of
    /// being converted to `f64` first: a mask is mostly scanned for a label it mostly lacks.
    fn find(&self, start: usize, row: &mut [f64], wanted: f64) -> Option<(usize, usize, usize)> {
        if self.stride == 1 && (self.slope, self.intercept) == (1.0, 0.0) {
            let from = self.offset + start * self.sample.bytes();
            let samples = &self.bytes[from..from + row.len() * self.sample.bytes()];
            if let Some(found) = find_sample(samples, self.sample, self.little_endian, wanted) {
                return found;
            }
        }
        self.values(start, row);
        find_in(row, wanted)
    }
}

/// Where `wanted` occurs among integer `samples` as stored (the first and last index and how
/// many times, or `None`), or `None` for floating-point samples, which the caller converts.
fn find_sample(
    samples: &[u8],
    sample: Sample,
    little_endian: bool,
    wanted: f64,
) -> Option<Option<(usize, usize, usize)>> {
    macro_rules! find_native {
        ($t:ty) => {{
            const WIDTH: usize = std::mem::size_of::<$t>();
            // A value the type cannot hold is in no voxel.
            let native = wanted as $t;
            if native as f64 != wanted {
                return Some(None);
            }
            let is_wanted = |sample: &[u8]| {
                let mut b = [0u8; WIDTH];
                b.copy_from_slice(sample);
                (if little_endian { <$t>::from_le_bytes(b) } else { <$t>::from_be_bytes(b) }) == native
            };
            // Most rows lack the label: one branch-free pass over them says so.
            let count = samples.chunks_exact(WIDTH).map(|v| usize::from(is_wanted(v))).sum::<usize>();
            if count == 0 {
                return Some(None);
            }
            let first = samples.chunks_exact(WIDTH).position(is_wanted);
            let last = samples.chunks_exact(WIDTH).rposition(is_wanted);
            Some(first.zip(last).map(|(first, last)| (first, last, count)))
        }};
    }
    match sample {
        Sample::I8 => find_native!(i8),
        Sample::U8 => find_native!(u8),
        Sample::I16 => find_native!(i16),
        Sample::U16 => find_native!(u16),
        Sample::I32 => find_native!(i32),
        Sample::U32 => find_native!(u32),
        Sample::I64 => find_native!(i64),
        Sample::U64 => find_native!(u64),
        Sample::F32 | Sample::F64 => None,
    }
}

/// A volume of which only some rows (runs of x) are kept, every other row being all zeros:
/// what a large mask is read as ([`crate::nrrd::read_nrrd_sparse`]). A mask is mostly
/// background, and a 512 x 512 x 300 one takes 78 MB as bytes, more than the tumour's box of
/// the image it is read for.
#[derive(Debug, Clone)]
pub struct SparseVolume {
    pub geometry: Geometry,
    sample: Sample,
    little_endian: bool,
    /// Samples per voxel, as in [`StoredVolume`].
    stride: usize,
    /// Per row (`y + ny * z`), the index of its samples among the kept rows, or `u32::MAX`
    /// when the row is all zeros.
    rows: Vec<u32>,
    kept: Vec<u8>,
}

impl SparseVolume {
    pub(crate) const ZEROS: u32 = u32::MAX;

    /// `rows` and `kept` as described on the fields; each kept row holds `nx * stride` samples.
    pub(crate) fn new(
        geometry: Geometry,
        sample: Sample,
        little_endian: bool,
        stride: usize,
        rows: Vec<u32>,
        kept: Vec<u8>,
    ) -> SparseVolume {
        SparseVolume { geometry, sample, little_endian, stride, rows, kept }
    }

    /// Bytes of one row.
    fn row_bytes(&self) -> usize {
        self.geometry.size[0] * self.stride * self.sample.bytes()
    }

    /// The samples of voxels `x .. x + len` of row `row`, or `None` for a row of zeros.
    /// Voxels outside the grid are a caller's bug, as for the other volumes: indexing panics
    /// rather than reading them as background.
    fn samples(&self, row: usize, x: usize, len: usize) -> Option<&[u8]> {
        let kept = self.rows[row];
        if kept == Self::ZEROS {
            return None;
        }
        let step = self.stride * self.sample.bytes();
        let from = kept as usize * self.row_bytes() + x * step;
        Some(&self.kept[from..from + len * step])
    }
}

impl Voxels for SparseVolume {
    fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    fn values(&self, start: usize, out: &mut [f64]) {
        let nx = self.geometry.size[0].max(1);
        let mut done = 0;
        while done < out.len() {
            let at = start + done;
            let (row, x) = (at / nx, at % nx);
            let len = (nx - x).min(out.len() - done);
            let part = &mut out[done..done + len];
            match self.samples(row, x, len) {
                Some(samples) => decode(samples, self.sample, self.little_endian, self.stride, part),
                None => part.fill(0.0),
            }
            done += len;
        }
    }

    fn whole_numbers(&self) -> bool {
        self.sample.is_integer()
    }

    fn find(&self, start: usize, row: &mut [f64], wanted: f64) -> Option<(usize, usize, usize)> {
        let nx = self.geometry.size[0].max(1);
        let (r, x) = (start / nx, start % nx);
        if x + row.len() <= nx && self.stride == 1 {
            match self.samples(r, x, row.len()) {
                None if wanted != 0.0 => return None,
                Some(samples) => {
                    if let Some(found) = find_sample(samples, self.sample, self.little_endian, wanted) {
                        return found;
                    }
                }
                None => {}
            }
        }
        self.values(start, row);
        find_in(row, wanted)
    }
}

/// Converts stored samples to `f64`: `out[i]` from the sample at `bytes[i * stride * width..]`.
pub(crate) fn decode(bytes: &[u8], sample: Sample, little_endian: bool, stride: usize, out: &mut [f64]) {
    macro_rules! convert {
        ($t:ty) => {{
            const WIDTH: usize = std::mem::size_of::<$t>();
            for (value, sample) in out.iter_mut().zip(bytes.chunks_exact(WIDTH * stride)) {
                let mut b = [0u8; WIDTH];
                b.copy_from_slice(&sample[..WIDTH]);
                *value = (if little_endian { <$t>::from_le_bytes(b) } else { <$t>::from_be_bytes(b) }) as f64;
            }
        }};
    }
    match sample {
        Sample::I8 => convert!(i8),
        Sample::U8 => convert!(u8),
        Sample::I16 => convert!(i16),
        Sample::U16 => convert!(u16),
        Sample::I32 => convert!(i32),
        Sample::U32 => convert!(u32),
        Sample::I64 => convert!(i64),
        Sample::U64 => convert!(u64),
        Sample::F32 => convert!(f32),
        Sample::F64 => convert!(f64),
    }
}

/// The voxels of one box of a grid, as `f64`: what reading an image around a ROI keeps
/// ([`crate::nrrd::read_nrrd_box`]). Voxels outside the box read as NaN.
#[derive(Debug, Clone)]
pub struct BoxedVolume {
    pub geometry: Geometry,
    /// The box's first voxel and its size, (x, y, z).
    lo: [usize; 3],
    size: [usize; 3],
    data: Vec<f64>,
}

impl BoxedVolume {
    pub(crate) fn new(geometry: Geometry, lo: [usize; 3], size: [usize; 3], data: Vec<f64>) -> BoxedVolume {
        debug_assert_eq!(data.len(), size.iter().product::<usize>());
        BoxedVolume { geometry, lo, size, data }
    }
}

impl Voxels for BoxedVolume {
    fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    fn values(&self, start: usize, out: &mut [f64]) {
        let [nx, ny, _] = self.geometry.size;
        let local = |at: usize| {
            let (x, y, z) = (at % nx, (at / nx) % ny, at / (nx * ny));
            let inside = (0..3).all(|a| [x, y, z][a] >= self.lo[a] && [x, y, z][a] < self.lo[a] + self.size[a]);
            inside.then(|| (x - self.lo[0]) + self.size[0] * ((y - self.lo[1]) + self.size[1] * (z - self.lo[2])))
        };
        // The usual call: a run of one row inside the box.
        if let (Some(first), Some(last)) = (local(start), local(start + out.len().max(1) - 1))
            && last + 1 - first == out.len()
        {
            out.copy_from_slice(&self.data[first..=last]);
            return;
        }
        for (i, value) in out.iter_mut().enumerate() {
            *value = local(start + i).map_or(f64::NAN, |at| self.data[at]);
        }
    }
}
