//! A folder of single-frame slices of one series (CT, MR, PET…) as one volume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::{tags, uids};

use super::pixels::Pixels;
use super::{
    Attrs, DIRECTION_TOLERANCE, POSITION_TOLERANCE, cross, dot, format_err, has_dicm_prefix, normalise, open,
    orientation, trimmed,
};
use crate::error::ImageError;
use crate::image::{Geometry, Image};

/// Slice positions may deviate from uniform spacing by this fraction of the spacing. A missing
/// slice deviates by 100%; scanners' decimal rounding by about 1e-6.
const SLICE_SPACING_TOLERANCE: f64 = 0.01;

/// Slices may drift in-plane from the stack along the normal by this fraction of a pixel. More
/// than that (gantry tilt) would need a sheared grid; less is rounding.
const DRIFT_TOLERANCE: f64 = 0.1;

/// What the header of one slice says about where it lies.
struct Slice {
    path: PathBuf,
    series: String,
    rows: u32,
    cols: u32,
    /// PixelSpacing as stored: [between rows, between columns].
    pixel_spacing: [f64; 2],
    /// Row and column direction cosines (ImageOrientationPatient), normalised.
    axes: [[f64; 3]; 2],
    position: [f64; 3],
    spacing_between_slices: Option<f64>,
    frame_of_reference: Option<String>,
}

/// Reads every DICOM image file in `dir` (not its subfolders) as one volume.
///
/// Files without the DICOM signature, `DICOMDIR`, and objects without pixel rows (RTSTRUCT,
/// RT plans, SR…) are skipped; all others must belong to one Series Instance UID, be
/// single-frame and share rows, columns, pixel spacing and orientation. Slices are sorted by
/// the projection of `ImagePositionPatient` on the slice normal (row cosine × column cosine);
/// duplicate positions, uneven spacing (a missing slice) and positions that drift in-plane
/// (gantry tilt) are errors that name the files. Each slice's Rescale Slope and Intercept are
/// applied to its stored values (masked to Bits Stored and sign-extended).
///
/// The geometry is SimpleITK's `ImageSeriesReader`'s, in LPS like DICOM's patient
/// coordinates: spacing `[PixelSpacing[1], PixelSpacing[0], (last − first position along the
/// normal) / (slices − 1)]` (for a single slice, Spacing Between Slices, else 1), origin the
/// position of the first slice, direction columns row cosine, column cosine and normal. Voxel
/// `(x, y, z)` is column `x` of row `y` of the `z`-th slice.
pub fn read_series(dir: &Path) -> Result<Image<f64>, ImageError> {
    read_series_with_frame(dir).map(|(image, _)| image)
}

/// [`read_series`], with the series' FrameOfReferenceUID (0020,0052) when the slices have one.
/// Slices that name different frames of reference are an error that names two of them.
pub fn read_series_with_frame(dir: &Path) -> Result<(Image<f64>, Option<String>), ImageError> {
    read_files(dir, &files_in(dir)?, "in this folder")
}

/// First line of a series list ([`write_series_list`]).
pub const SERIES_LIST_HEADER: &str = "# flow DICOM series list 1";

/// The file name extension of a series list.
pub const SERIES_LIST_EXTENSION: &str = "dcmlist";

/// Writes a series list: the header line, then one line per file, `SIZE MTIME_NS CTIME_NS
/// INODE PATH` separated by tabs (the path last, so it may hold tabs). The numbers make the
/// list change whenever a file of the series changes, so whatever keys on the list's bytes
/// (a mapped node's item) sees the change. Paths with a line break cannot be listed.
pub fn write_series_list(path: &Path, files: &[(PathBuf, super::index::Stamp)]) -> Result<(), ImageError> {
    let mut text = format!("{SERIES_LIST_HEADER}\n");
    for (file, stamp) in files {
        let name = file.to_str().filter(|n| !n.contains(['\n', '\r'])).ok_or_else(|| {
            format_err(file, "cannot be listed: the path is not UTF-8 or holds a line break; rename it".into())
        })?;
        text.push_str(&format!("{}\t{}\t{}\t{}\t{name}\n", stamp.size, stamp.mtime_ns, stamp.ctime_ns, stamp.inode));
    }
    std::fs::write(path, text).map_err(|source| ImageError::Io { path: path.to_path_buf(), source })
}

/// Reads the series a list names ([`write_series_list`]) as [`read_series_with_frame`] reads
/// a folder: for collections whose series share folders, which a list can still name alone.
pub fn read_series_list(list: &Path) -> Result<(Image<f64>, Option<String>), ImageError> {
    read_files(list, &list_files(list)?, "in this list")
}

/// The files a series list names.
fn list_files(list: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let text = std::fs::read_to_string(list).map_err(|source| ImageError::Io { path: list.to_path_buf(), source })?;
    let mut lines = text.lines();
    if lines.next() != Some(SERIES_LIST_HEADER) {
        return Err(format_err(list, format!("line 1: not a series list (expected {SERIES_LIST_HEADER:?})")));
    }
    let mut files = Vec::new();
    for (index, line) in lines.enumerate() {
        let path = line.splitn(5, '\t').nth(4).filter(|p| !p.is_empty()).ok_or_else(|| {
            format_err(
                list,
                format!("line {}: expected SIZE, MTIME, CTIME, INODE and PATH separated by tabs", index + 2),
            )
        })?;
        files.push(PathBuf::from(path));
    }
    Ok(files)
}

/// The image files among `files` (others are skipped, as in a folder) as one series; `source`
/// (the folder or list) and `place` name where they came from in errors.
fn read_files(source: &Path, files: &[PathBuf], place: &str) -> Result<(Image<f64>, Option<String>), ImageError> {
    let layout = layout_files(source, files, place)?;
    let [nx, ny, nz] = layout.geometry.size;
    let data = layout.slices_in([0, 0, 0], [nx - 1, ny - 1, nz - 1])?;
    Ok((Image { geometry: layout.geometry, data }, layout.frame_of_reference))
}

/// A series from its slices' headers: its grid, frame of reference and slice files in order
/// along the normal, with no pixel data read yet.
pub struct SeriesLayout {
    pub geometry: Geometry,
    pub frame_of_reference: Option<String>,
    slices: Vec<PathBuf>,
}

impl SeriesLayout {
    /// The values of the box `lo..=hi` (x, y, z), x fastest: only the slices of the box are
    /// decoded, which is most of the cost of reading a series.
    pub fn slices_in(&self, lo: [usize; 3], hi: [usize; 3]) -> Result<Vec<f64>, ImageError> {
        let [nx, ny, _] = self.geometry.size;
        let mut data = Vec::with_capacity((hi[0] + 1 - lo[0]) * (hi[1] + 1 - lo[1]) * (hi[2] + 1 - lo[2]));
        for path in &self.slices[lo[2]..=hi[2]] {
            let obj = open(path, false)?;
            let pixels = Pixels::new(&obj, path)?;
            if (pixels.cols, pixels.rows) != (nx, ny) {
                return Err(format_err(path, "rows or columns changed while reading the series".into()));
            }
            let attrs = Attrs::new(&obj, path);
            let slope = attrs.opt_float(tags::RESCALE_SLOPE)?.unwrap_or(1.0);
            let intercept = attrs.opt_float(tags::RESCALE_INTERCEPT)?.unwrap_or(0.0);
            let frame = pixels.frame(0);
            for y in lo[1]..=hi[1] {
                data.extend(frame[nx * y + lo[0]..=nx * y + hi[0]].iter().map(|&v| v as f64 * slope + intercept));
            }
        }
        Ok(data)
    }
}

/// The [`SeriesLayout`] of a folder ([`read_series`]) or a series list ([`read_series_list`]).
pub fn series_layout(source: &Path) -> Result<SeriesLayout, ImageError> {
    if source.is_dir() {
        return layout_files(source, &files_in(source)?, "in this folder");
    }
    layout_files(source, &list_files(source)?, "in this list")
}

fn layout_files(source: &Path, files: &[PathBuf], place: &str) -> Result<SeriesLayout, ImageError> {
    let mut slices = Vec::new();
    for path in files {
        if let Some(slice) = read_header(path)? {
            slices.push(slice);
        }
    }
    if slices.is_empty() {
        return Err(format_err(source, format!("no DICOM image file {place}")));
    }
    check_one_series(source, &slices)?;
    let first = &slices[0];
    for s in &slices[1..] {
        check_same_frame(first, s)?;
    }
    let frame_of_reference = one_frame_of_reference(&slices)?;

    let [row_axis, col_axis] = first.axes;
    let normal = normalise(cross(row_axis, col_axis))
        .ok_or_else(|| format_err(&first.path, "row and column directions are parallel".into()))?;
    let mut order: Vec<(f64, &Slice)> = slices.iter().map(|s| (dot(s.position, normal), s)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.path.cmp(&b.1.path)));
    let slice_spacing = slice_spacing(&order, normal)?;

    let origin = order[0].1.position;
    let columns = [row_axis, col_axis, normal];
    let mut direction = [[0.0; 3]; 3];
    for (c, axis) in columns.iter().enumerate() {
        for (r, row) in direction.iter_mut().enumerate() {
            row[c] = axis[r];
        }
    }
    let geometry = Geometry {
        size: [first.cols as usize, first.rows as usize, order.len()],
        spacing: [first.pixel_spacing[1], first.pixel_spacing[0], slice_spacing],
        origin,
        direction,
    };
    let slices = order.iter().map(|(_, s)| s.path.clone()).collect();
    Ok(SeriesLayout { geometry, frame_of_reference, slices })
}

/// The frame of reference the slices share, if they name one.
fn one_frame_of_reference(slices: &[Slice]) -> Result<Option<String>, ImageError> {
    let mut named = slices.iter().filter_map(|s| s.frame_of_reference.as_deref().map(|f| (f, s)));
    let Some((frame, first)) = named.next() else { return Ok(None) };
    if let Some((other, slice)) = named.find(|(f, _)| *f != frame) {
        return Err(format_err(
            &slice.path,
            format!(
                "FrameOfReferenceUID (0020,0052) is {other} but {frame} in {}; all slices of a series must share one \
                 frame of reference",
                first.path.display()
            ),
        ));
    }
    Ok(Some(frame.to_string()))
}

/// The regular files directly in `dir`, sorted so errors and ties are reproducible.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let io = |source| ImageError::Io { path: dir.to_path_buf(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The slice header of an image file, or `None` for a file that is not a DICOM image.
fn read_header(path: &Path) -> Result<Option<Slice>, ImageError> {
    let is_dicomdir = path.file_name().is_some_and(|n| n.eq_ignore_ascii_case("DICOMDIR"));
    if is_dicomdir || !has_dicm_prefix(path)? {
        return Ok(None);
    }
    let obj = open(path, true)?;
    if trimmed(obj.meta().media_storage_sop_class_uid()) == uids::MEDIA_STORAGE_DIRECTORY_STORAGE {
        return Ok(None);
    }
    let a = Attrs::new(&obj, path);
    if !a.has(tags::ROWS) {
        return Ok(None);
    }
    let frames = a.opt_uint(tags::NUMBER_OF_FRAMES)?.unwrap_or(1);
    if frames > 1 {
        return Err(a.err(
            tags::NUMBER_OF_FRAMES,
            &format!(
                "is {frames}; multi-frame (enhanced) images are not supported, only a folder of single-frame slices"
            ),
        ));
    }
    let series = a.opt_string(tags::SERIES_INSTANCE_UID).ok_or_else(|| a.err(tags::SERIES_INSTANCE_UID, "missing"))?;
    let pixel_spacing = a.floats::<2>(tags::PIXEL_SPACING)?;
    if pixel_spacing.iter().any(|s| *s <= 0.0) {
        return Err(a.err(tags::PIXEL_SPACING, &format!("{pixel_spacing:?} is not positive")));
    }
    Ok(Some(Slice {
        path: path.to_path_buf(),
        series,
        rows: a.uint(tags::ROWS)?,
        cols: a.uint(tags::COLUMNS)?,
        pixel_spacing,
        axes: orientation(&a, tags::IMAGE_ORIENTATION_PATIENT)?,
        position: a.floats::<3>(tags::IMAGE_POSITION_PATIENT)?,
        spacing_between_slices: a.opt_float(tags::SPACING_BETWEEN_SLICES)?.filter(|s| *s > 0.0),
        frame_of_reference: a.opt_string(tags::FRAME_OF_REFERENCE_UID).filter(|f| !f.is_empty()),
    }))
}

fn check_one_series(dir: &Path, slices: &[Slice]) -> Result<(), ImageError> {
    let mut series: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for s in slices {
        series.entry(&s.series).or_default().push(&s.path);
    }
    if series.len() == 1 {
        return Ok(());
    }
    let list: Vec<String> = series
        .iter()
        .map(|(uid, files)| {
            let name = files[0].file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            format!("{uid} ({} file(s), e.g. {name})", files.len())
        })
        .collect();
    Err(format_err(
        dir,
        format!(
            "{} series (Series Instance UID) are mixed here: {}; put each series in its own folder, or index the \
         collection with imaging.dicom_index",
            series.len(),
            list.join(", ")
        ),
    ))
}

/// `other` must have the same in-plane grid as `first`.
fn check_same_frame(first: &Slice, other: &Slice) -> Result<(), ImageError> {
    let mismatch = |what: &str, a: String, b: String| {
        format_err(
            &other.path,
            format!("{what} is {b} but {a} in {}; all slices of a series must share it", first.path.display()),
        )
    };
    if (first.rows, first.cols) != (other.rows, other.cols) {
        return Err(mismatch(
            "rows × columns",
            format!("{} × {}", first.rows, first.cols),
            format!("{} × {}", other.rows, other.cols),
        ));
    }
    let tol = POSITION_TOLERANCE * first.pixel_spacing[0].min(first.pixel_spacing[1]);
    if (0..2).any(|i| (first.pixel_spacing[i] - other.pixel_spacing[i]).abs() > tol) {
        return Err(mismatch(
            "PixelSpacing (0028,0030)",
            format!("{:?}", first.pixel_spacing),
            format!("{:?}", other.pixel_spacing),
        ));
    }
    let axes_differ =
        first.axes.iter().flatten().zip(other.axes.iter().flatten()).any(|(a, b)| (a - b).abs() > DIRECTION_TOLERANCE);
    if axes_differ {
        return Err(mismatch(
            "ImageOrientationPatient (0020,0037)",
            format!("{:?}", first.axes),
            format!("{:?}", other.axes),
        ));
    }
    Ok(())
}

/// The spacing along the normal of slices sorted by their projection `d` on it, as ITK
/// computes it (first to last over the gaps), after checking that the slices are distinct,
/// evenly spaced and stacked straight along the normal.
fn slice_spacing(order: &[(f64, &Slice)], normal: [f64; 3]) -> Result<f64, ImageError> {
    let (d0, first) = order[0];
    if order.len() == 1 {
        return Ok(first.spacing_between_slices.unwrap_or(1.0));
    }
    let pixel = first.pixel_spacing[0].min(first.pixel_spacing[1]);
    for pair in order.windows(2) {
        let ((da, a), (db, b)) = (pair[0], pair[1]);
        if db - da <= POSITION_TOLERANCE * pixel {
            return Err(format_err(
                &b.path,
                format!(
                    "same slice position as {}: ImagePositionPatient {:?} and {:?} are both {db:.3} mm along \
                     the slice normal; the folder holds duplicate slices",
                    a.path.display(),
                    b.position,
                    a.position,
                ),
            ));
        }
    }
    let (d_last, _) = order[order.len() - 1];
    let spacing = (d_last - d0) / (order.len() - 1) as f64;
    let uneven = |(da, db): (f64, f64)| ((db - da) - spacing).abs() > SLICE_SPACING_TOLERANCE * spacing;
    if order.windows(2).any(|pair| uneven((pair[0].0, pair[1].0))) {
        // One missing slice moves the average off every other gap too: name the gap that
        // differs most from the typical (median) one, which is where the slice is missing.
        let mut gaps: Vec<f64> = order.windows(2).map(|pair| pair[1].0 - pair[0].0).collect();
        gaps.sort_by(f64::total_cmp);
        let typical = gaps[(gaps.len() - 1) / 2];
        let worst = order
            .windows(2)
            .max_by(|p, q| ((p[1].0 - p[0].0) - typical).abs().total_cmp(&((q[1].0 - q[0].0) - typical).abs()));
        if let Some([(da, a), (db, b)]) = worst.map(|pair| [pair[0], pair[1]]) {
            return Err(format_err(
                &b.path,
                format!(
                    "non-uniform slice spacing in series {}: {:.4} mm from {} (ImagePositionPatient {:?}) to this \
                     slice ({:?}), where the other slices are {typical:.4} mm apart ({:.4} mm on average over {} \
                     slices); a slice is missing or the series mixes acquisitions",
                    b.series,
                    db - da,
                    a.path.display(),
                    a.position,
                    b.position,
                    spacing,
                    order.len()
                ),
            ));
        }
    }
    for (d, s) in &order[1..] {
        let offset: Vec<f64> = (0..3).map(|i| s.position[i] - first.position[i] - (d - d0) * normal[i]).collect();
        let drift = offset.iter().map(|v| v * v).sum::<f64>().sqrt();
        if drift > DRIFT_TOLERANCE * pixel {
            return Err(format_err(
                &s.path,
                format!(
                    "slice position {:?} is shifted {drift:.3} mm in-plane from the stack starting at {} (gantry tilt \
                     or a sheared series), which a regular grid cannot hold; resample the series first",
                    s.position,
                    first.path.display()
                ),
            ));
        }
    }
    Ok(spacing)
}
