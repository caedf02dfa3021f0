//! DICOM SEG (Segmentation Storage) on the grid of a reference image.

use std::path::Path;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use super::pixels::Pixels;
use super::{
    Attrs, DIRECTION_TOLERANCE, GridMap, Label, POSITION_TOLERANCE, format_err, grid_map, orientation, select,
};
use crate::error::ImageError;
use crate::image::{Geometry, GeometryField, GeometryMismatch, Image};

/// How a frame's stored values mean membership.
enum Kind {
    /// 1 bit per pixel: set means in the frame's segment.
    Binary,
    /// A fraction scaled to Maximum Fractional Value: in the segment from half of it up.
    Fractional { threshold: f64 },
    /// The pixel value is the segment number (Segmentation Type LABELMAP, added in 2024).
    LabelMap,
}

/// Each frame's pixels go to the reference slice at the frame's Plane Position
/// (ImagePositionPatient), with the value of the frame's Referenced Segment Number. Rows,
/// columns, pixel spacing and orientation (from the Shared or Per-frame Functional Groups)
/// must be the reference's; frames may come in any order, and slices with no frame stay 0.
pub(super) fn read(
    obj: &DefaultDicomObject,
    path: &Path,
    reference: &Geometry,
    reference_path: &Path,
    label: &Label,
) -> Result<Image<f64>, ImageError> {
    let a = Attrs::new(obj, path);
    let kind = match a.opt_string(tags::SEGMENTATION_TYPE).as_deref() {
        Some("BINARY") => Kind::Binary,
        Some("FRACTIONAL") => {
            let max = a.opt_float(tags::MAXIMUM_FRACTIONAL_VALUE)?.filter(|m| *m > 0.0).ok_or_else(|| {
                a.err(tags::MAXIMUM_FRACTIONAL_VALUE, "missing or not positive in a FRACTIONAL segmentation")
            })?;
            Kind::Fractional { threshold: 0.5 * max }
        }
        Some("LABELMAP") => Kind::LabelMap,
        Some(other) => {
            return Err(
                a.err(tags::SEGMENTATION_TYPE, &format!("is {other:?}; expected BINARY, FRACTIONAL or LABELMAP"))
            );
        }
        None => return Err(a.err(tags::SEGMENTATION_TYPE, "missing")),
    };
    let mut segments = Vec::new();
    for (i, item) in a.items(tags::SEGMENT_SEQUENCE)?.iter().enumerate() {
        let s = a.within(item, format!(" in item {} of the Segment Sequence", i + 1));
        segments.push((s.uint(tags::SEGMENT_NUMBER)?, s.opt_string(tags::SEGMENT_LABEL).unwrap_or_default()));
    }
    if segments.is_empty() {
        return Err(a.err(tags::SEGMENT_SEQUENCE, "missing or empty: the file defines no segment"));
    }
    let selected = select(&segments, label, path, "segment")?;

    let pixels = Pixels::new(obj, path)?;
    let [nx, ny, nz] = reference.size;
    let mismatch = |field, first: String, second: String| {
        ImageError::Geometry(GeometryMismatch {
            first_path: reference_path.to_path_buf(),
            second_path: path.to_path_buf(),
            field,
            first,
            second,
        })
    };
    if (pixels.cols, pixels.rows) != (nx, ny) {
        return Err(mismatch(
            GeometryField::Size,
            format!("{nx} columns × {ny} rows"),
            format!("{} columns × {} rows", pixels.cols, pixels.rows),
        ));
    }
    let shared = a.items(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)?.first();
    let per_frame = a.items(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)?;
    if per_frame.len() != pixels.frames && !(per_frame.is_empty() && pixels.frames == 1) {
        return Err(a.err(
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
            &format!("has {} items for {} frames", per_frame.len(), pixels.frames),
        ));
    }
    let grid = grid_map(reference, reference_path)?;
    let ref_axes = [0, 1].map(|c| [0, 1, 2].map(|r| reference.direction[r][c]));

    let mut data = vec![0.0f64; reference.voxel_count()];
    for f in 0..pixels.frames {
        let place = format!(" for frame {} of {}", f + 1, pixels.frames);
        let groups = Groups { file: &a, frame: per_frame.get(f), shared, place: &place };

        let measures = groups.item(tags::PIXEL_MEASURES_SEQUENCE)?;
        let ps = measures.floats::<2>(tags::PIXEL_SPACING)?;
        let spacing = [ps[1], ps[0]];
        let tol = POSITION_TOLERANCE * reference.spacing[0].min(reference.spacing[1]);
        if (0..2).any(|i| (spacing[i] - reference.spacing[i]).abs() > tol) {
            return Err(mismatch(
                GeometryField::Spacing,
                format!("{:?} in-plane", [reference.spacing[0], reference.spacing[1]]),
                format!("{spacing:?} in-plane{place}"),
            ));
        }
        let axes = orientation(&groups.item(tags::PLANE_ORIENTATION_SEQUENCE)?, tags::IMAGE_ORIENTATION_PATIENT)?;
        let axes_differ =
            axes.iter().flatten().zip(ref_axes.iter().flatten()).any(|(x, y)| (x - y).abs() > DIRECTION_TOLERANCE);
        if axes_differ {
            return Err(mismatch(
                GeometryField::Direction,
                format!("row {:?}, column {:?}", ref_axes[0], ref_axes[1]),
                format!("row {:?}, column {:?} (ImageOrientationPatient{place})", axes[0], axes[1]),
            ));
        }
        let position = groups.item(tags::PLANE_POSITION_SEQUENCE)?.floats::<3>(tags::IMAGE_POSITION_PATIENT)?;
        let z = slice_of(&grid, position, nz).ok_or_else(|| {
            let idx = grid.index(position);
            format_err(
                path,
                format!(
                    "frame {} of {} (ImagePositionPatient {position:?} in its Plane Position Sequence) is off the grid \
                     of {}: it falls at voxel index ({:.3}, {:.3}, {:.3}), not on one of its {nz} slices; the SEG must \
                     be made on that image series",
                    f + 1,
                    pixels.frames,
                    reference_path.display(),
                    idx[0],
                    idx[1],
                    idx[2]
                ),
            )
        })?;

        let segment = match kind {
            Kind::LabelMap => None,
            Kind::Binary | Kind::Fractional { .. } => {
                let ident = groups.item(tags::SEGMENT_IDENTIFICATION_SEQUENCE)?;
                let number = ident.uint(tags::REFERENCED_SEGMENT_NUMBER)?;
                if !segments.iter().any(|(n, _)| *n == number) {
                    return Err(ident.err(
                        tags::REFERENCED_SEGMENT_NUMBER,
                        &format!("is {number}, which the Segment Sequence does not define"),
                    ));
                }
                if selected.is_some_and(|s| s != number) {
                    continue;
                }
                Some(f64::from(number))
            }
        };
        let slice = &mut data[z * nx * ny..(z + 1) * nx * ny];
        for (voxel, v) in slice.iter_mut().zip(pixels.frame(f)) {
            let value = match (&kind, segment) {
                (Kind::Binary, Some(s)) if v != 0 => s,
                (Kind::Fractional { threshold }, Some(s)) if v as f64 >= *threshold => s,
                (Kind::LabelMap, _) if v > 0 && selected.is_none_or(|s| i64::from(s) == v) => v as f64,
                _ => continue,
            };
            // The largest number wins where segments overlap, whatever the frame order.
            *voxel = (*voxel).max(value);
        }
    }
    Ok(Image { geometry: reference.clone(), data })
}

/// The slice index of a frame whose first pixel is at `position`, if that is a voxel centre of
/// the first row and column of a slice of the grid.
fn slice_of(grid: &GridMap, position: [f64; 3], nz: usize) -> Option<usize> {
    let [x, y, z] = grid.index(position);
    let k = z.round();
    let on_grid = x.abs() <= POSITION_TOLERANCE
        && y.abs() <= POSITION_TOLERANCE
        && (z - k).abs() <= POSITION_TOLERANCE
        && k >= 0.0
        && k < nz as f64;
    on_grid.then_some(k as usize)
}

/// A functional group macro of one frame: per-frame first, then shared, as PS3.3 C.7.6.16
/// allows either.
struct Groups<'a, 'b> {
    file: &'b Attrs<'a>,
    frame: Option<&'a InMemDicomObject>,
    shared: Option<&'a InMemDicomObject>,
    place: &'b str,
}

impl<'a> Groups<'a, '_> {
    /// The first item of the macro's sequence `tag`, as attributes.
    fn item(&self, tag: Tag) -> Result<Attrs<'a>, ImageError> {
        for group in [self.frame, self.shared].into_iter().flatten() {
            let items = self.file.within(group, self.place.to_string()).items(tag)?;
            if let Some(item) = items.first() {
                return Ok(self.file.within(item, self.place.to_string()));
            }
        }
        Err(self
            .file
            .err(tag, &format!("missing from both the Shared and the Per-frame Functional Groups{}", self.place)))
    }
}
