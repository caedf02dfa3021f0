//! Feature extraction for a whole cohort: each patient's image and mask read, checked and
//! measured, patients in parallel on a fixed number of threads.
//!
//! One patient's trouble stays that patient's: an unreadable file, bad data, even a panic (a
//! bug) gives that patient a [`CaseError`] and leaves the others to the caller's policy
//! ([`OnError`]). A cancellation flag is checked before each patient starts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::dicom::{Label, Reference};
use crate::error::ImageError;
use crate::features::{Feature, Settings, extract_roi};
use crate::image::{BoxedVolume, Geometry, Image, SparseVolume, StoredVolume, Tolerance, Voxels};
use crate::manifest::Case;
use crate::roi::{Roi, RoiError, RoiMask};

/// Why one patient gave no features.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{0}")]
    Image(#[from] ImageError),
    /// The image and mask were read but give no usable ROI; the message names the file at
    /// fault (the image for its intensities, the mask otherwise).
    #[error("{}: {source}", if source.is_about_the_image() { image.display() } else { mask.display() })]
    Roi { image: PathBuf, mask: PathBuf, source: RoiError },
    /// Measuring this patient panicked: a bug in flow, caught so that the other patients are
    /// not lost with it.
    #[error("internal error while measuring {} and {}: {message} (this is a bug in flow; please report it)", image.display(), mask.display())]
    Panicked { image: PathBuf, mask: PathBuf, message: String },
}

impl CaseError {
    /// Whether the patient's files are at fault (see [`ImageError::is_bad_data`]), rather than
    /// the machine or flow itself.
    pub fn is_bad_data(&self) -> bool {
        match self {
            CaseError::Image(error) => error.is_bad_data(),
            CaseError::Roi { .. } => true,
            CaseError::Panicked { .. } => false,
        }
    }
}

/// What a failed patient does to the rest of the cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// No further patient starts; those not started are missing from the result.
    Stop,
    /// Every patient is measured.
    Continue,
}

/// The cancellation flag was set: some patients may not have been measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled before every patient was measured")]
pub struct Cancelled;

/// Reads an image and its mask and checks that they lie on the same grid. A DICOM mask (SEG or
/// RTSTRUCT) is mapped onto the image's grid, and must be in the image's frame of reference
/// when the image is a DICOM series; any other mask must already share the grid.
pub fn read_case(image_path: &Path, mask_path: &Path) -> Result<(Image<f64>, Image<f64>), ImageError> {
    read_case_threads(image_path, mask_path, 1)
}

/// [`read_case`], reading image and mask at the same time when `threads` > 1 and the mask
/// does not need the image's grid.
pub fn read_case_threads(
    image_path: &Path,
    mask_path: &Path,
    threads: usize,
) -> Result<(Image<f64>, Image<f64>), ImageError> {
    read_case_roi(image_path, mask_path, None, threads)
}

/// [`read_case_threads`] with one segment or ROI of a DICOM mask picked by `roi` as
/// `(which, value)`: its voxels get `value` (the label the ROI is then measured at), all others
/// 0. A `roi` with a mask that is not DICOM is an error: a label map's label is the node's.
pub fn read_case_roi(
    image_path: &Path,
    mask_path: &Path,
    roi: Option<(&Label, f64)>,
    threads: usize,
) -> Result<(Image<f64>, Image<f64>), ImageError> {
    if is_dicom_file(mask_path) {
        // A DICOM series knows its frame of reference, which the mask must share.
        let is_list =
            image_path.extension().is_some_and(|e| e.eq_ignore_ascii_case(crate::dicom::SERIES_LIST_EXTENSION));
        let (image, frame) = if image_path.is_dir() {
            crate::dicom::read_series_with_frame(image_path)?
        } else if is_list {
            crate::dicom::read_series_list(image_path)?
        } else {
            (crate::read_image(image_path)?, None)
        };
        let reference = Reference { geometry: &image.geometry, path: image_path, frame_of_reference: frame.as_deref() };
        let mask = read_dicom_mask(mask_path, &reference, roi)?;
        return Ok((image, mask));
    }
    if let Some((which, _)) = roi {
        return Err(ImageError::Format {
            path: mask_path.to_path_buf(),
            msg: format!(
                "the manifest picks ROI {which:?} of this mask, but only a DICOM SEG or RTSTRUCT has named ROIs; \
                 leave the roi column empty and set the node's label"
            ),
        });
    }
    let (image, mask) = if threads > 1 {
        std::thread::scope(|scope| {
            let mask = scope.spawn(|| crate::read_image(mask_path));
            let image = crate::read_image(image_path);
            let mask = mask.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (image, mask)
        })
    } else {
        (crate::read_image(image_path), crate::read_image(mask_path))
    };
    let (image, mask) = (image?, mask?);
    image.geometry.check_same(&mask.geometry, Tolerance::default(), image_path, mask_path)?;
    Ok((image, mask))
}

/// A DICOM SEG or RTSTRUCT on `reference`'s grid: every segment or ROI, or the one `roi` picks
/// with its voxels set to the given value.
fn read_dicom_mask(
    mask_path: &Path,
    reference: &Reference<'_>,
    roi: Option<(&Label, f64)>,
) -> Result<Image<f64>, ImageError> {
    let which = roi.map_or(&Label::All, |(which, _)| which);
    let mut mask = crate::dicom::read_mask_on(mask_path, reference, which)?;
    if let Some((_, value)) = roi {
        mask.data.iter_mut().filter(|v| **v != 0.0).for_each(|v| *v = value);
    }
    Ok(mask)
}

/// A volume read for measuring: NRRD and NIfTI stay as stored (converted voxel by voxel where
/// the ROI needs them), anything else is decoded whole.
pub enum Volume {
    Stored(StoredVolume),
    Decoded(Image<f64>),
    /// A large NRRD mask: only its rows that are not all background.
    Sparse(SparseVolume),
}

impl Voxels for Volume {
    fn geometry(&self) -> &Geometry {
        match self {
            Volume::Stored(v) => v.geometry(),
            Volume::Decoded(v) => v.geometry(),
            Volume::Sparse(v) => v.geometry(),
        }
    }

    fn values(&self, start: usize, out: &mut [f64]) {
        match self {
            Volume::Stored(v) => v.values(start, out),
            Volume::Decoded(v) => v.values(start, out),
            Volume::Sparse(v) => v.values(start, out),
        }
    }

    fn whole_numbers(&self) -> bool {
        match self {
            Volume::Stored(v) => v.whole_numbers(),
            Volume::Decoded(v) => v.whole_numbers(),
            Volume::Sparse(v) => v.whole_numbers(),
        }
    }

    fn find(&self, start: usize, row: &mut [f64], wanted: f64) -> Option<(usize, usize, usize)> {
        match self {
            Volume::Stored(v) => v.find(start, row, wanted),
            Volume::Decoded(v) => v.find(start, row, wanted),
            Volume::Sparse(v) => v.find(start, row, wanted),
        }
    }
}

/// Reads `path` as a [`Volume`].
pub fn read_volume(path: &Path) -> Result<Volume, ImageError> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if path.is_dir() {
        crate::read_image(path).map(Volume::Decoded)
    } else if name.ends_with(".nrrd") {
        crate::nrrd::read_nrrd_stored(path).map(Volume::Stored)
    } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        crate::nifti::read_nifti_stored(path).map(Volume::Stored)
    } else {
        crate::read_image(path).map(Volume::Decoded)
    }
}

/// [`read_case_roi`] keeping NRRD and NIfTI volumes as stored: what measuring a patient reads.
/// A 512 x 512 x 300 int16 CT then takes its 157 MB, not 629 MB per volume as `f64`.
pub fn read_case_volumes(
    image_path: &Path,
    mask_path: &Path,
    roi: Option<(&Label, f64)>,
    threads: usize,
) -> Result<(Volume, Volume), ImageError> {
    if roi.is_some() || is_dicom_file(mask_path) {
        let (image, mask) = read_case_roi(image_path, mask_path, roi, threads)?;
        return Ok((Volume::Decoded(image), Volume::Decoded(mask)));
    }
    let (image, mask) = if threads > 1 {
        std::thread::scope(|scope| {
            let mask = scope.spawn(|| read_volume(mask_path));
            let image = read_volume(image_path);
            let mask = mask.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (image, mask)
        })
    } else {
        (read_volume(image_path), read_volume(mask_path))
    };
    let (image, mask) = (image?, mask?);
    image.geometry().check_same(mask.geometry(), Tolerance::default(), image_path, mask_path)?;
    Ok((image, mask))
}

/// NRRD images larger than this (on disk) are read only around the ROI; see [`read_roi`].
/// Measured on pyradiomics' test cases (docs/benchmarks.md): from brain2's 1.7 MB up, a stream
/// inflated only to the ROI's last slice beats inflating the whole file with libdeflate (lung1,
/// 12.5 MB: 86 -> 61 ms, and image and mask were both in memory); under 100 kB (breast1) the
/// whole file is 0.1 ms faster.
pub const BOX_READ_ABOVE: u64 = 1 << 20;

/// Reads one patient's image and mask and crops the image to the ROI of `label` (or of the
/// DICOM segment or ROI `roi` picks, see [`read_case_roi`]). The mask is read and scanned
/// first, and dropped before the image is read (on one thread; on more, a small image and its
/// mask are read side by side). With a NRRD image of more than [`BOX_READ_ABOVE`] bytes, a NRRD
/// mask is streamed keeping only its rows that are not background, and the image is read only
/// inside the ROI's bounding box ([`crate::nrrd::read_nrrd_box`]): its data is inflated as a
/// stream up to the box's last slice and only the box is kept, so a 512 x 512 x 300 CT costs
/// its tumour, not its volume, in memory (peak 5-36 MB for a 157 MB image) and partly in time.
/// Likewise a DICOM series with a SEG or RTSTRUCT: the slices' headers give the grid
/// the mask is drawn on, and only the slices of the ROI's bounding box are decoded. In both,
/// damage after the box goes unnoticed, and does not change a feature.
pub fn read_roi(
    image_path: &Path,
    mask_path: &Path,
    roi: Option<(&Label, f64)>,
    label: i64,
    threads: usize,
) -> Result<Roi, CaseError> {
    read_roi_boxed_above(image_path, mask_path, roi, label, threads, BOX_READ_ABOVE)
}

fn read_roi_boxed_above(
    image_path: &Path,
    mask_path: &Path,
    roi: Option<(&Label, f64)>,
    label: i64,
    threads: usize,
    box_read_above: u64,
) -> Result<Roi, CaseError> {
    let roi_error = |source| CaseError::Roi { image: image_path.to_path_buf(), mask: mask_path.to_path_buf(), source };
    let is_series = image_path.is_dir()
        || image_path.extension().is_some_and(|e| e.eq_ignore_ascii_case(crate::dicom::SERIES_LIST_EXTENSION));
    if is_series && is_dicom_file(mask_path) {
        // The mask is drawn on the series' grid, known from the slices' headers; then only the
        // slices of the ROI's bounding box are decoded.
        let layout = crate::dicom::series_layout(image_path)?;
        let reference = Reference {
            geometry: &layout.geometry,
            path: image_path,
            frame_of_reference: layout.frame_of_reference.as_deref(),
        };
        let mask = read_dicom_mask(mask_path, &reference, roi)?;
        let roi_mask = RoiMask::scan(&mask, label).map_err(roi_error)?;
        drop(mask);
        let (lo, hi) = (roi_mask.lo, roi_mask.hi);
        let data = layout.slices_in(lo, hi)?;
        let size = [hi[0] + 1 - lo[0], hi[1] + 1 - lo[1], hi[2] + 1 - lo[2]];
        let image = BoxedVolume::new(layout.geometry, lo, size, data);
        return roi_mask.crop(&image).map_err(roi_error);
    }
    // Small files inflate faster whole (libdeflate) than as a stream, and fit in memory anyway.
    let large_nrrd = image_path.extension().is_some_and(|e| e.eq_ignore_ascii_case("nrrd"))
        && std::fs::metadata(image_path).is_ok_and(|m| m.is_file() && m.len() > box_read_above);
    if roi.is_some() || is_dicom_file(mask_path) || (threads > 1 && !large_nrrd) {
        let (image, mask) = read_case_volumes(image_path, mask_path, roi, threads)?;
        return Roi::new(&image, &mask, label).map_err(roi_error);
    }
    // One volume in memory at a time, the mask first: its box says how much of a large image to
    // read, and a small image's buffers reuse the mask's pages instead of faulting in new ones.
    // A large image's mask is as large, and mostly background: only its rows that are not are kept.
    let mask = if large_nrrd && mask_path.extension().is_some_and(|e| e.eq_ignore_ascii_case("nrrd")) {
        Volume::Sparse(crate::nrrd::read_nrrd_sparse(mask_path)?)
    } else {
        read_volume(mask_path)?
    };
    let mask_geometry = mask.geometry().clone();
    let scanned = RoiMask::scan(&mask, label);
    drop(mask);
    let same_grid = |image: &Geometry| {
        image.check_same(&mask_geometry, Tolerance::default(), image_path, mask_path).map_err(ImageError::from)
    };
    if large_nrrd {
        same_grid(&crate::nrrd::read_nrrd_geometry(image_path)?)?;
        let roi_mask = scanned.map_err(roi_error)?;
        let image = crate::nrrd::read_nrrd_box(image_path, roi_mask.lo, roi_mask.hi)?;
        return roi_mask.crop(&image).map_err(roi_error);
    }
    let image = read_volume(image_path)?;
    same_grid(image.geometry())?;
    scanned.and_then(|roi_mask| roi_mask.crop(&image)).map_err(roi_error)
}

/// A `.dcm` file, or any file with the DICOM signature `DICM` after its 128-byte preamble.
fn is_dicom_file(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("dcm")) {
        return true;
    }
    let mut head = [0u8; 132];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && &head[128..] == b"DICM"
}

/// One patient's features, or why there are none.
pub type CaseResult = Result<Vec<Feature>, CaseError>;

/// Reads and measures one patient on up to `threads` threads. A panic while doing so is
/// caught and returned as [`CaseError::Panicked`].
pub fn extract_case(case: &Case, settings: &Settings, threads: usize) -> CaseResult {
    let measure = || {
        let roi = case.roi.as_ref().map(|which| (which, settings.label as f64));
        let roi = read_roi(&case.image, &case.mask, roi, settings.label, threads)?;
        extract_roi(&roi, settings, threads).map_err(|source| CaseError::Roi {
            image: case.image.clone(),
            mask: case.mask.clone(),
            source,
        })
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(measure)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        Err(CaseError::Panicked { image: case.image.clone(), mask: case.mask.clone(), message })
    })
}

/// Measures every case on up to `threads` threads; results come back in the order of `cases`,
/// `None` for a case that was not started. `done` is called after each case (from the worker
/// that finished it). Under [`OnError::Stop`] the first failure stops new cases from starting.
/// `cancel` is read before each case starts; once it is set no further case starts and the
/// call returns [`Cancelled`] when the running ones are done.
pub fn extract_cohort(
    cases: &[Case],
    settings: &Settings,
    threads: usize,
    on_error: OnError,
    cancel: &AtomicBool,
    done: &(dyn Fn(&Case, &CaseResult) + Sync),
) -> Result<Vec<Option<CaseResult>>, Cancelled> {
    // Patients in parallel first; threads to spare (fewer patients than threads) go to each
    // patient's feature classes.
    let per_case = (threads / cases.len().max(1)).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<CaseResult>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    let worker = || {
        loop {
            if cancel.load(Ordering::SeqCst) || failed.load(Ordering::SeqCst) {
                return;
            }
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(case) = cases.get(index) else { return };
            let result = extract_case(case, settings, per_case);
            if result.is_err() && on_error == OnError::Stop {
                failed.store(true, Ordering::SeqCst);
            }
            done(case, &result);
            if let Ok(mut slots) = results.lock() {
                slots[index] = Some(result);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.clamp(1, cases.len().max(1)) {
            scope.spawn(worker);
        }
        worker();
    });
    if cancel.load(Ordering::SeqCst) {
        return Err(Cancelled);
    }
    Ok(results.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A NRRD of shorts on a 5 x 4 x 3 grid, gzip or raw.
    fn nrrd(path: &Path, values: &[i16], gzip: bool) {
        let mut bytes = format!(
            "NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 5 4 3\n\
             space directions: (0.8,0,0) (0,0.8,0) (0,0,2.5)\nspace origin: (0,0,0)\nendian: little\nencoding: {}\n\n",
            if gzip { "gzip" } else { "raw" }
        )
        .into_bytes();
        let voxels: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        if gzip {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&voxels).unwrap();
            bytes.extend(encoder.finish().unwrap());
        } else {
            bytes.extend(voxels);
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn reading_around_the_roi_gives_the_roi_of_the_whole_volume() {
        let dir = tempfile::tempdir().unwrap();
        let image: Vec<i16> = (0..60).map(|i| i * 7 - 100).collect();
        // Label 1 on a 2 x 2 x 2 block in the middle of the grid, label 2 elsewhere.
        let mask: Vec<i16> = (0..60)
            .map(|i| {
                let (x, y, z) = (i % 5, (i / 5) % 4, i / 20);
                if (1..=2).contains(&x) && (1..=2).contains(&y) && z >= 1 {
                    1
                } else if i == 0 {
                    2
                } else {
                    0
                }
            })
            .collect();
        for gzip in [true, false] {
            let (image_path, mask_path) = (dir.path().join("ct.nrrd"), dir.path().join("mask.nrrd"));
            nrrd(&image_path, &image, gzip);
            nrrd(&mask_path, &mask, gzip);
            let whole = read_roi_boxed_above(&image_path, &mask_path, None, 1, 1, u64::MAX).unwrap();
            let boxed = read_roi_boxed_above(&image_path, &mask_path, None, 1, 1, 0).unwrap();
            assert_eq!(boxed, whole, "gzip {gzip}");
            assert_eq!((boxed.size, boxed.voxel_count), ([2, 2, 2], 8));
            assert_eq!(boxed.values[0], f64::from(image[1 + 5 + 20]));

            // A missing label is named the same way by both paths.
            for above in [0, u64::MAX] {
                let err = read_roi_boxed_above(&image_path, &mask_path, None, 3, 1, above).unwrap_err();
                assert!(err.to_string().contains("labels 1, 2"), "{err}");
            }
            // A mask cut short, or longer than its header says, is named by both paths.
            let good_mask = std::fs::read(&mask_path).unwrap();
            let mut cut = good_mask.clone();
            cut.truncate(cut.len() - if gzip { 30 } else { 50 });
            let mut long = good_mask.clone();
            long.extend(if gzip { b"\x1f\x8b\x08".to_vec() } else { vec![0, 0] });
            for bad in [cut, long] {
                std::fs::write(&mask_path, &bad).unwrap();
                for above in [0, u64::MAX] {
                    let err = read_roi_boxed_above(&image_path, &mask_path, None, 1, 1, above).unwrap_err();
                    assert!(err.is_bad_data() && err.to_string().contains("mask.nrrd"), "{above} {err}");
                }
            }
            std::fs::write(&mask_path, &good_mask).unwrap();
            // Data cut before the box ends is named; the whole path names it too.
            let mut cut = std::fs::read(&image_path).unwrap();
            cut.truncate(cut.len() - if gzip { 30 } else { 50 });
            std::fs::write(&image_path, cut).unwrap();
            for above in [0, u64::MAX] {
                let err = read_roi_boxed_above(&image_path, &mask_path, None, 1, 1, above).unwrap_err();
                assert!(err.is_bad_data() && err.to_string().contains("ct.nrrd"), "{err}");
            }
        }
    }
}
