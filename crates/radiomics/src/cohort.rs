//! Feature extraction for a whole cohort: each patient's image and mask read, checked and
//! measured, patients in parallel on a fixed number of threads.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::ImageError;
use crate::features::{Feature, Settings, extract_threads};
use crate::image::{Image, Tolerance};
use crate::manifest::Case;
use crate::roi::RoiError;

/// Why one patient gave no features.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{0}")]
    Image(#[from] ImageError),
    #[error("{}: {source}", mask.display())]
    Roi { mask: std::path::PathBuf, source: RoiError },
}

/// Reads an image and its mask and checks that they lie on the same grid. A DICOM mask (SEG or
/// RTSTRUCT) is mapped onto the image's grid; any other mask must already share it.
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
    if is_dicom_file(mask_path) {
        let image = crate::read_image(image_path)?;
        let mask = crate::dicom::read_mask(mask_path, &image.geometry, image_path)?;
        return Ok((image, mask));
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

/// Reads and measures one patient on up to `threads` threads.
pub fn extract_case(case: &Case, settings: &Settings, threads: usize) -> CaseResult {
    let (image, mask) = read_case_threads(&case.image, &case.mask, threads)?;
    extract_threads(&image, &mask, settings, threads)
        .map_err(|source| CaseError::Roi { mask: case.mask.clone(), source })
}

/// Measures every case on up to `threads` threads; results come back in the order of `cases`.
/// `done` is called after each case (from the worker that finished it); once `cancelled`
/// returns true no further case starts, and the unstarted ones are missing from the result.
pub fn extract_cohort(
    cases: &[Case],
    settings: &Settings,
    threads: usize,
    cancelled: &(dyn Fn() -> bool + Sync),
    done: &(dyn Fn(&Case, &CaseResult) + Sync),
) -> Vec<Option<CaseResult>> {
    // Patients in parallel first; threads to spare (fewer patients than threads) go to each
    // patient's feature classes.
    let per_case = (threads / cases.len().max(1)).max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<CaseResult>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    let worker = || {
        loop {
            if cancelled() {
                return;
            }
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(case) = cases.get(index) else { return };
            let result = extract_case(case, settings, per_case);
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
    results.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
}
