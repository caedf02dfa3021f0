//! RTSTRUCT (RT Structure Set Storage) contours rasterised on the grid of a reference image.
//!
//! A voxel is inside an ROI when its centre is inside the ROI's closed planar contours on its
//! slice by the even-odd rule, so a contour inside another (a hole, or an island in the hole)
//! toggles membership, as in plastimatch and most converters that pyradiomics users run
//! (dcmrtstruct2nii, Slicer's RT import). A contour is not dilated to the voxels it crosses:
//! on the IBSI PAT1 phantom this reproduces the reference mask exactly.

use std::collections::BTreeMap;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use super::{Attrs, CONTOUR_TOLERANCE, Label, check_frame, format_err, grid_map, select};
use crate::error::ImageError;
use crate::image::{Geometry, Image};

/// Rasterises every selected ROI's CLOSED_PLANAR (and CLOSED_PLANAR_XOR) contours; POINT and
/// open contours enclose nothing and are skipped. Each contour must lie on a slice of the
/// reference (within a tenth of the slice spacing), otherwise the error names the ROI, the
/// contour and where it falls. Voxels get the ROI Number, the largest where ROIs overlap.
/// With `frame` (the reference's FrameOfReferenceUID) known, each selected ROI's
/// ReferencedFrameOfReferenceUID must be it; a ROI without one is checked against the file's
/// Referenced Frame of Reference Sequence, which must then list it.
pub(super) fn read(
    obj: &DefaultDicomObject,
    path: &Path,
    reference: &Geometry,
    reference_path: &Path,
    frame: Option<&str>,
    label: &Label,
) -> Result<Image<f64>, ImageError> {
    let a = Attrs::new(obj, path);
    let mut rois = Vec::new();
    let mut roi_attrs = Vec::new();
    for (i, item) in a.items(tags::STRUCTURE_SET_ROI_SEQUENCE)?.iter().enumerate() {
        let r = a.within(item, format!(" in item {} of the Structure Set ROI Sequence", i + 1));
        rois.push((r.uint(tags::ROI_NUMBER)?, r.opt_string(tags::ROI_NAME).unwrap_or_default()));
        roi_attrs.push(r);
    }
    if rois.is_empty() {
        return Err(a.err(tags::STRUCTURE_SET_ROI_SEQUENCE, "missing or empty: the file defines no ROI"));
    }
    let selected = select(&rois, label, path, "ROI")?;
    if let Some(expected) = frame {
        let mut file_frames = Vec::new();
        for item in a.items(tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)? {
            if let Some(uid) = a.within(item, String::new()).opt_string(tags::FRAME_OF_REFERENCE_UID) {
                file_frames.push(uid);
            }
        }
        for ((number, name), r) in rois.iter().zip(&roi_attrs) {
            if selected.is_some_and(|s| s != *number) {
                continue;
            }
            let tag = tags::REFERENCED_FRAME_OF_REFERENCE_UID;
            match r.opt_string(tag).filter(|f| !f.is_empty()) {
                Some(found) => {
                    check_frame(r, tag, &found, expected, reference_path, &format!("of ROI {number} {name:?} "))?
                }
                None if !file_frames.is_empty() && !file_frames.iter().any(|f| f == expected) => {
                    let tag = tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE;
                    check_frame(&a, tag, &file_frames.join(", "), expected, reference_path, "")?;
                }
                None => {}
            }
        }
    }
    let grid = grid_map(reference, reference_path)?;
    let [nx, ny, nz] = reference.size;
    let mut data = vec![0.0f64; reference.voxel_count()];

    for (i, item) in a.items(tags::ROI_CONTOUR_SEQUENCE)?.iter().enumerate() {
        let r = a.within(item, format!(" in item {} of the ROI Contour Sequence", i + 1));
        let number = r.uint(tags::REFERENCED_ROI_NUMBER)?;
        if selected.is_some_and(|s| s != number) {
            continue;
        }
        let name = rois.iter().find(|(n, _)| *n == number).map(|(_, l)| l.as_str()).unwrap_or("");
        // Contours of one ROI on one slice are filled together, so the even-odd rule applies
        // across them (holes) and not only within each.
        let mut by_slice: BTreeMap<usize, Vec<Vec<[f64; 2]>>> = BTreeMap::new();
        for (j, contour) in r.items(tags::CONTOUR_SEQUENCE)?.iter().enumerate() {
            let c = a.within(contour, format!(" in contour {} of ROI {number} {name:?}", j + 1));
            let closed = matches!(
                c.opt_string(tags::CONTOUR_GEOMETRIC_TYPE).as_deref(),
                Some("CLOSED_PLANAR" | "CLOSED_PLANAR_XOR")
            );
            if !closed {
                continue;
            }
            let coords = c.opt_floats(tags::CONTOUR_DATA)?.unwrap_or_default();
            if coords.len() % 3 != 0 {
                return Err(c.err(tags::CONTOUR_DATA, &format!("has {} values, not x, y, z triples", coords.len())));
            }
            if coords.len() < 9 {
                continue;
            }
            let points: Vec<[f64; 3]> = coords.chunks_exact(3).map(|p| grid.index([p[0], p[1], p[2]])).collect();
            let k = points[0][2].round();
            let off = points.iter().map(|p| (p[2] - k).abs()).fold(0.0, f64::max);
            if off > CONTOUR_TOLERANCE || k < 0.0 || k >= nz as f64 {
                return Err(format_err(
                    path,
                    format!(
                        "contour {} of ROI {number} {name:?} (first point {:?}) is not on a slice of {}: it falls at \
                         slice index {:.3}{}; the structure set must be drawn on that image series",
                        j + 1,
                        &coords[..3],
                        reference_path.display(),
                        points[0][2],
                        if off > CONTOUR_TOLERANCE { " and is not planar along the slice normal" } else { "" },
                    ),
                ));
            }
            by_slice.entry(k as usize).or_default().push(points.iter().map(|p| [p[0], p[1]]).collect());
        }
        for (z, polygons) in by_slice {
            let slice = &mut data[z * nx * ny..(z + 1) * nx * ny];
            fill_even_odd(&polygons, nx, ny, |x, y| {
                let voxel = &mut slice[x + nx * y];
                *voxel = (*voxel).max(f64::from(number));
            });
        }
    }
    Ok(Image { geometry: reference.clone(), data })
}

/// Calls `set(x, y)` for every voxel centre `(x, y)` (integer index coordinates) inside
/// `polygons` by the even-odd rule: a point is inside when a ray towards +x crosses an odd
/// number of edges, an edge counting when it spans the ray's y half-open, `[min, max)`, which
/// is the classic crossing test and decides centres that lie exactly on an edge or vertex.
fn fill_even_odd(polygons: &[Vec<[f64; 2]>], nx: usize, ny: usize, mut set: impl FnMut(usize, usize)) {
    let mut crossings: Vec<Vec<f64>> = vec![Vec::new(); ny];
    for polygon in polygons {
        for (i, &[x1, y1]) in polygon.iter().enumerate() {
            let [x2, y2] = polygon[(i + 1) % polygon.len()];
            if y1 == y2 {
                continue;
            }
            // Rows y with min <= y < max, as the test `(y1 > y) != (y2 > y)` counts them.
            let lo = y1.min(y2).ceil().max(0.0);
            let hi = y1.max(y2).ceil().min(ny as f64);
            let mut y = lo;
            while y < hi {
                crossings[y as usize].push(x1 + (y - y1) * (x2 - x1) / (y2 - y1));
                y += 1.0;
            }
        }
    }
    for (y, row) in crossings.iter_mut().enumerate() {
        row.sort_by(f64::total_cmp);
        // x is inside when the number of crossings right of it (> x) is odd, i.e. when it lies
        // in [c(2t), c(2t+1)) of the sorted crossings.
        for pair in row.chunks_exact(2) {
            let start = pair[0].ceil().max(0.0);
            let end = pair[1].ceil().min(nx as f64);
            let mut x = start;
            while x < end {
                set(x as usize, y);
                x += 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raster(polygons: &[Vec<[f64; 2]>], nx: usize, ny: usize) -> Vec<u8> {
        let mut out = vec![0u8; nx * ny];
        fill_even_odd(polygons, nx, ny, |x, y| out[x + nx * y] ^= 1);
        out
    }

    #[test]
    fn square_with_a_hole() {
        let outer = vec![[0.5, 0.5], [5.5, 0.5], [5.5, 5.5], [0.5, 5.5]];
        let hole = vec![[2.5, 2.5], [3.5, 2.5], [3.5, 3.5], [2.5, 3.5]];
        let out = raster(&[outer, hole], 7, 7);
        let inside = |x: usize, y: usize| (1..=5).contains(&x) && (1..=5).contains(&y) && !(x == 3 && y == 3);
        for y in 0..7 {
            for x in 0..7 {
                assert_eq!(out[x + 7 * y] == 1, inside(x, y), "({x}, {y})");
            }
        }
    }

    #[test]
    fn centres_on_edges_follow_the_half_open_rule() {
        // The square [1, 3] x [1, 3] through voxel centres: left and bottom edges are in, right
        // and top edges out, as a point-in-polygon test with `>` gives.
        let out = raster(&[vec![[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]]], 5, 5);
        let set: Vec<(usize, usize)> = (0..25).filter(|i| out[*i] == 1).map(|i| (i % 5, i / 5)).collect();
        assert_eq!(set, vec![(1, 1), (2, 1), (1, 2), (2, 2)]);
    }

    #[test]
    fn clipped_to_the_grid() {
        let out = raster(&[vec![[-10.0, -10.0], [10.0, -10.0], [10.0, 10.0], [-10.0, 10.0]]], 3, 2);
        assert!(out.iter().all(|v| *v == 1));
    }
}
