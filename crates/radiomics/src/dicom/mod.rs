//! DICOM through dicom-rs: CT (or any single-frame, single-sample) series as images, DICOM SEG
//! and RTSTRUCT as masks on the grid of a reference image.
//!
//! - [`read_series`]: a folder of slices of one series, sorted along the slice normal, rescale
//!   slope/intercept applied, with the geometry SimpleITK's `ImageSeriesReader` gives.
//! - [`read_mask`] / [`read_mask_label`]: a DICOM SEG (binary, fractional or label map,
//!   multi-frame, each frame placed on the reference slice at its Plane Position) or an RTSTRUCT
//!   (closed planar contours rasterised on the slice they lie on). A voxel holds the segment
//!   number or ROI Number; where several segments or ROIs overlap, the largest number wins, so
//!   pick one with [`Label`] when they nest (GTV inside PTV). An empty result is an error.
//!
//! Native (uncompressed), deflated, RLE, JPEG (baseline and lossless) and JPEG 2000 transfer
//! syntaxes are decoded, all by pure-Rust crates; JPEG-LS would need CharLS (C++), so such
//! files get an error saying to decompress them first (e.g. `gdcmconv --raw`).
//!
//! The reference is any [`Geometry`] (a DICOM series, a NIfTI or NRRD image). When the
//! reference is a DICOM series its FrameOfReferenceUID is known ([`read_series_with_frame`]),
//! and a SEG or RTSTRUCT in another frame of reference is refused ([`read_mask_on`]): its
//! coordinates belong to another scan or registration even if they happen to fall on the grid.
//! A NIfTI or NRRD reference has no frame of reference, so nothing is compared then.

pub mod index;
mod pixels;
mod rtstruct;
mod seg;
mod series;

use std::io::Read;
use std::path::Path;

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::{StandardDataDictionary, tags, uids};
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};

use crate::error::ImageError;
use crate::image::{Geometry, Image};

pub use series::{
    SERIES_LIST_EXTENSION, SERIES_LIST_HEADER, SeriesLayout, read_series, read_series_list, read_series_with_frame,
    series_layout, write_series_list,
};

/// How far (as a fraction of the voxel spacing) a SEG frame position, or a series slice, may
/// be from the grid and still count as on it. Positions in both are copies of the CT's
/// `ImagePositionPatient`, so only decimal-string rounding (about 1e-6 mm) is expected.
const POSITION_TOLERANCE: f64 = 0.01;

/// How far (as a fraction of the slice spacing) an RTSTRUCT contour may be from a slice.
/// Planning systems write contour coordinates with their own rounding, often to 0.1 mm or
/// coarser, so this is looser than [`POSITION_TOLERANCE`]; half a slice would be ambiguous.
const CONTOUR_TOLERANCE: f64 = 0.1;

/// How much direction cosines may differ, absolutely, between frames or from the reference.
/// NIfTI stores them as float32 and DICOM as decimal strings, both good to about 1e-7.
const DIRECTION_TOLERANCE: f64 = 1e-4;

/// Which segment (DICOM SEG) or ROI (RTSTRUCT) [`read_mask_label`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    /// Every segment or ROI; where they overlap the largest number wins.
    All,
    /// A Segment Number (SEG) or ROI Number (RTSTRUCT).
    Number(u32),
    /// A Segment Label (SEG) or ROI Name (RTSTRUCT), compared exactly after trimming spaces.
    Name(String),
}

/// The image a DICOM mask is mapped onto.
#[derive(Debug, Clone, Copy)]
pub struct Reference<'a> {
    pub geometry: &'a Geometry,
    /// Where the image was read from, named in errors.
    pub path: &'a Path,
    /// The image's FrameOfReferenceUID (0020,0052), when it is a DICOM series that has one.
    pub frame_of_reference: Option<&'a str>,
}

/// Reads a DICOM SEG or RTSTRUCT at `path` as a mask on the grid of `reference` (read from
/// `reference_path`, named in errors), with every segment or ROI: see [`read_mask_label`].
pub fn read_mask(path: &Path, reference: &Geometry, reference_path: &Path) -> Result<Image<f64>, ImageError> {
    read_mask_label(path, reference, reference_path, &Label::All)
}

/// Reads a DICOM SEG (SOP class 1.2.840.10008.5.1.4.1.1.66.4) or RTSTRUCT
/// (1.2.840.10008.5.1.4.1.1.481.3) at `path` as a mask with `reference`'s geometry. Voxels
/// hold the Segment Number or ROI Number of `label` (0 outside); with [`Label::All`] the
/// largest number wins where segments or ROIs overlap.
///
/// Errors name the file and what is wrong: another SOP class, a label that is not in the file
/// (the message lists those that are), a SEG whose rows, columns, pixel spacing or orientation
/// differ from the reference ([`ImageError::Geometry`], naming both files), a frame or contour
/// off the reference grid, and a mask with no voxel set.
pub fn read_mask_label(
    path: &Path,
    reference: &Geometry,
    reference_path: &Path,
    label: &Label,
) -> Result<Image<f64>, ImageError> {
    read_mask_on(path, &Reference { geometry: reference, path: reference_path, frame_of_reference: None }, label)
}

/// [`read_mask_label`] on a [`Reference`]: when the reference's frame of reference is known,
/// the SEG's FrameOfReferenceUID, or the RTSTRUCT's ReferencedFrameOfReferenceUID of each
/// selected ROI (else of its Referenced Frame of Reference Sequence), must be the same.
pub fn read_mask_on(path: &Path, reference: &Reference<'_>, label: &Label) -> Result<Image<f64>, ImageError> {
    let (reference_path, frame) = (reference.path, reference.frame_of_reference);
    let reference = reference.geometry;
    let obj = open(path, false)?;
    let sop_class = trimmed(obj.meta().media_storage_sop_class_uid());
    let sop_class = match obj.get(tags::SOP_CLASS_UID).and_then(|e| e.to_str().ok()) {
        Some(uid) => trimmed(&uid).to_string(),
        None => sop_class.to_string(),
    };
    let modality = string(&obj, tags::MODALITY).unwrap_or_default();
    let (mask, what) = if sop_class == uids::SEGMENTATION_STORAGE || modality == "SEG" {
        if let Some(expected) = frame {
            let attrs = Attrs::new(&obj, path);
            if let Some(found) = attrs.opt_string(tags::FRAME_OF_REFERENCE_UID).filter(|f| !f.is_empty()) {
                check_frame(&attrs, tags::FRAME_OF_REFERENCE_UID, &found, expected, reference_path, "")?;
            }
        }
        (seg::read(&obj, path, reference, reference_path, label)?, "segment")
    } else if sop_class == uids::RT_STRUCTURE_SET_STORAGE || modality == "RTSTRUCT" {
        (rtstruct::read(&obj, path, reference, reference_path, frame, label)?, "ROI")
    } else {
        return Err(format_err(
            path,
            format!(
                "not a DICOM SEG or RTSTRUCT (SOP class {sop_class}, modality {modality:?}); a DICOM mask must \
                 be a Segmentation Storage ({}) or RT Structure Set Storage ({}) object",
                uids::SEGMENTATION_STORAGE,
                uids::RT_STRUCTURE_SET_STORAGE
            ),
        ));
    };
    if mask.data.iter().all(|v| *v == 0.0) {
        let which = match label {
            Label::All => format!("no {what} covers any voxel"),
            Label::Number(n) => format!("{what} number {n} covers no voxel"),
            Label::Name(name) => format!("{what} {name:?} covers no voxel"),
        };
        return Err(format_err(
            path,
            format!(
                "the mask is empty: {which} of the grid of {}; check that the mask was made on that image",
                reference_path.display()
            ),
        ));
    }
    Ok(mask)
}

/// A mask attribute `tag` holding frame of reference `found` where the image has `expected`.
fn check_frame(
    attrs: &Attrs<'_>,
    tag: Tag,
    found: &str,
    expected: &str,
    reference_path: &Path,
    whose: &str,
) -> Result<(), ImageError> {
    if found == expected {
        return Ok(());
    }
    Err(attrs.err(
        tag,
        &format!(
            "{whose}is {found}, but the image {} is in frame of reference {expected}: the mask was drawn on \
             another scan (or another registration of it); pair each mask with the series it was made on",
            reference_path.display()
        ),
    ))
}

fn format_err(path: &Path, msg: String) -> ImageError {
    ImageError::Format { path: path.to_path_buf(), msg }
}

/// True when the file has the DICOM Part 10 signature ("DICM" after the 128-byte preamble);
/// I/O errors other than a short file are returned.
fn has_dicm_prefix(path: &Path) -> Result<bool, ImageError> {
    let io = |source| ImageError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 132];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(&head[128..132] == b"DICM")
}

/// Opens a DICOM Part 10 file, without its pixel data when `header_only`.
fn open(path: &Path, header_only: bool) -> Result<DefaultDicomObject, ImageError> {
    if !has_dicm_prefix(path)? {
        return Err(format_err(
            path,
            "not a DICOM file: no \"DICM\" signature after the 128-byte preamble (a bare data set without \
             file meta information must be rewritten as a Part 10 file, e.g. with pydicom's save_as)"
                .into(),
        ));
    }
    let options = OpenFileOptions::new();
    let options = if header_only { options.read_until(tags::PIXEL_DATA) } else { options };
    options.open_file(path).map_err(|e| {
        let eof = causes(&e).any(|cause| {
            cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        });
        let chain: Vec<String> = causes(&e).map(|cause| cause.to_string()).collect();
        let hint = if eof {
            "truncated: the file ends in the middle of a data element; it was cut short, copy it again"
        } else {
            "the file is damaged or not DICOM"
        };
        format_err(path, format!("{hint} (cannot parse DICOM: {})", chain.join(": ")))
    })
}

/// An error and its sources, outermost first.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |e| e.source())
}

/// Trims the padding DICOM puts after UIDs and strings (NUL or space).
fn trimmed(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
}

/// `Name (gggg,eeee)` for messages, so users can find the attribute in any DICOM viewer.
fn describe(tag: Tag) -> String {
    match StandardDataDictionary.by_tag(tag) {
        Some(entry) => format!("{} {tag}", entry.alias()),
        None => tag.to_string(),
    }
}

/// A string attribute, trimmed, or `None` when absent or not text.
fn string(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag).and_then(|e| e.to_str().ok()).map(|s| trimmed(&s).to_string())
}

/// Reads attributes of one data set (the file, or a functional group item) with errors that
/// name the file, the attribute and `place` ("" for the top level, else e.g. " in frame 3").
struct Attrs<'a> {
    obj: &'a InMemDicomObject,
    path: &'a Path,
    place: String,
}

impl<'a> Attrs<'a> {
    fn new(obj: &'a InMemDicomObject, path: &'a Path) -> Self {
        Attrs { obj, path, place: String::new() }
    }

    fn within(&self, obj: &'a InMemDicomObject, place: String) -> Attrs<'a> {
        Attrs { obj, path: self.path, place }
    }

    fn err(&self, tag: Tag, problem: &str) -> ImageError {
        format_err(self.path, format!("{}{}: {problem}", describe(tag), self.place))
    }

    fn has(&self, tag: Tag) -> bool {
        self.obj.get(tag).is_some()
    }

    /// Decimal values, or `None` when the attribute is absent or empty.
    fn opt_floats(&self, tag: Tag) -> Result<Option<Vec<f64>>, ImageError> {
        let Some(elem) = self.obj.get(tag) else { return Ok(None) };
        let values = elem.to_multi_float64().map_err(|e| self.err(tag, &format!("not numeric: {e}")))?;
        if values.is_empty() {
            return Ok(None);
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(self.err(tag, &format!("value {bad} is not finite")));
        }
        Ok(Some(values))
    }

    /// Exactly `N` decimal values.
    fn floats<const N: usize>(&self, tag: Tag) -> Result<[f64; N], ImageError> {
        let values = self.opt_floats(tag)?.ok_or_else(|| self.err(tag, "missing"))?;
        <[f64; N]>::try_from(values.as_slice())
            .map_err(|_| self.err(tag, &format!("has {} values, expected {N}", values.len())))
    }

    fn opt_float(&self, tag: Tag) -> Result<Option<f64>, ImageError> {
        Ok(self.opt_floats(tag)?.and_then(|v| v.first().copied()))
    }

    fn opt_uint(&self, tag: Tag) -> Result<Option<u32>, ImageError> {
        let Some(elem) = self.obj.get(tag) else { return Ok(None) };
        if elem.to_str().map(|s| trimmed(&s).is_empty()).unwrap_or(false) {
            return Ok(None);
        }
        elem.to_int::<u32>().map(Some).map_err(|e| self.err(tag, &format!("not a non-negative integer: {e}")))
    }

    fn uint(&self, tag: Tag) -> Result<u32, ImageError> {
        self.opt_uint(tag)?.ok_or_else(|| self.err(tag, "missing"))
    }

    fn opt_string(&self, tag: Tag) -> Option<String> {
        string(self.obj, tag)
    }

    /// The items of a sequence; an absent sequence has none.
    fn items(&self, tag: Tag) -> Result<&'a [InMemDicomObject], ImageError> {
        match self.obj.get(tag) {
            None => Ok(&[]),
            Some(elem) => elem.items().ok_or_else(|| self.err(tag, "is not a sequence")),
        }
    }
}

/// Maps physical (LPS) points to continuous voxel indices of a grid: the inverse of
/// `origin + direction * diag(spacing) * index`.
struct GridMap {
    origin: [f64; 3],
    inverse: [[f64; 3]; 3],
}

impl GridMap {
    fn new(g: &Geometry) -> Option<GridMap> {
        let mut m = [[0.0; 3]; 3];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = g.direction[r][c] * g.spacing[c];
            }
        }
        Some(GridMap { origin: g.origin, inverse: invert(m)? })
    }

    fn index(&self, p: [f64; 3]) -> [f64; 3] {
        let d = [p[0] - self.origin[0], p[1] - self.origin[1], p[2] - self.origin[2]];
        self.inverse.map(|row| row[0] * d[0] + row[1] * d[1] + row[2] * d[2])
    }
}

/// The reference grid as a [`GridMap`], or an error naming the reference when it is singular.
fn grid_map(reference: &Geometry, reference_path: &Path) -> Result<GridMap, ImageError> {
    GridMap::new(reference).ok_or_else(|| {
        format_err(
            reference_path,
            format!("degenerate geometry (spacing {:?}, direction {:?})", reference.spacing, reference.direction),
        )
    })
}

fn invert(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let cof = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let det = m[0][0] * cof(1, 2, 1, 2) - m[0][1] * cof(1, 2, 0, 2) + m[0][2] * cof(1, 2, 0, 1);
    if !det.is_finite() || det.abs() < 1e-12 {
        return None;
    }
    let adj = [
        [cof(1, 2, 1, 2), -cof(0, 2, 1, 2), cof(0, 1, 1, 2)],
        [-cof(1, 2, 0, 2), cof(0, 2, 0, 2), -cof(0, 1, 0, 2)],
        [cof(1, 2, 0, 1), -cof(0, 2, 0, 1), cof(0, 1, 0, 1)],
    ];
    Some(adj.map(|row| row.map(|v| v / det)))
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalise(a: [f64; 3]) -> Option<[f64; 3]> {
    let n = dot(a, a).sqrt();
    (n.is_finite() && n > 1e-6).then(|| a.map(|v| v / n))
}

/// Row and column direction cosines from an `ImageOrientationPatient`, normalised, with an
/// error when they are degenerate or not perpendicular.
fn orientation(attrs: &Attrs<'_>, tag: Tag) -> Result<[[f64; 3]; 2], ImageError> {
    let iop: [f64; 6] = attrs.floats(tag)?;
    let row = normalise([iop[0], iop[1], iop[2]]);
    let col = normalise([iop[3], iop[4], iop[5]]);
    match (row, col) {
        (Some(row), Some(col)) if dot(row, col).abs() <= DIRECTION_TOLERANCE => Ok([row, col]),
        _ => Err(attrs.err(tag, &format!("{iop:?} are not two perpendicular unit vectors"))),
    }
}

/// Picks the number to keep among `labels` (number, name) of the file: `None` keeps all.
fn select(labels: &[(u32, String)], label: &Label, path: &Path, what: &str) -> Result<Option<u32>, ImageError> {
    let found = match label {
        Label::All => return Ok(None),
        Label::Number(n) => labels.iter().find(|(number, _)| number == n),
        Label::Name(name) => labels.iter().find(|(_, l)| l.as_str() == name.trim()),
    };
    match found {
        Some((number, _)) => Ok(Some(*number)),
        None => {
            let wanted = match label {
                Label::Number(n) => format!("number {n}"),
                Label::Name(name) => format!("named {name:?}"),
                Label::All => String::new(),
            };
            let available = if labels.is_empty() {
                "none".to_string()
            } else {
                labels.iter().map(|(n, l)| format!("{n} {l:?}")).collect::<Vec<_>>().join(", ")
            };
            Err(format_err(path, format!("no {what} {wanted}; the file has: {available}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_map_inverts_an_oblique_grid() {
        let s = 0.5f64.sqrt();
        let g = Geometry {
            size: [4, 4, 4],
            spacing: [0.5, 2.0, 3.0],
            origin: [10.0, -5.0, 2.0],
            direction: [[s, -s, 0.0], [s, s, 0.0], [0.0, 0.0, 1.0]],
        };
        let map = GridMap::new(&g).unwrap();
        let idx = [1.0, 2.0, 3.0];
        let mut p = g.origin;
        for (r, v) in p.iter_mut().enumerate() {
            *v += (0..3).map(|c| g.direction[r][c] * g.spacing[c] * idx[c]).sum::<f64>();
        }
        let back = map.index(p);
        assert!(back.iter().zip(idx).all(|(a, b)| (a - b).abs() < 1e-12), "{back:?}");
    }

    #[test]
    fn select_lists_what_is_there() {
        let labels = vec![(1, "GTV".to_string()), (3, "PTV".to_string())];
        let p = Path::new("rs.dcm");
        assert_eq!(select(&labels, &Label::All, p, "ROI").unwrap(), None);
        assert_eq!(select(&labels, &Label::Name(" PTV ".into()), p, "ROI").unwrap(), Some(3));
        assert_eq!(select(&labels, &Label::Number(1), p, "ROI").unwrap(), Some(1));
        let msg = select(&labels, &Label::Name("CTV".into()), p, "ROI").unwrap_err().to_string();
        assert!(msg.contains("rs.dcm") && msg.contains("\"CTV\"") && msg.contains("3 \"PTV\""), "{msg}");
    }
}
