//! A cohort with bad patients: each bad patient fails alone, with an error that names its file
//! and says it is bad data; the good ones are measured; cancellation stops between patients.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use flow_radiomics::cohort::{Cancelled, CaseError, OnError, extract_cohort};
use flow_radiomics::{Case, Settings};

const SIZE: [usize; 3] = [6, 6, 3];

/// A raw little-endian NRRD of `double` voxels (so any value, NaN included, can be written).
fn write_nrrd(path: &Path, voxels: &[f64]) {
    let mut bytes = format!(
        "NRRD0004\ntype: double\ndimension: 3\nspace: left-posterior-superior\nsizes: {} {} {}\n\
         space directions: (0.8,0,0) (0,0.8,0) (0,0,2.5)\nspace origin: (0,0,0)\nendian: little\nencoding: raw\n\n",
        SIZE[0], SIZE[1], SIZE[2]
    )
    .into_bytes();
    bytes.extend(voxels.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

fn voxel_count() -> usize {
    SIZE.iter().product()
}

/// Index of the ROI voxel whose value the bad patients spoil.
const SPOILED: usize = 1 + 6 * (1 + 6);

/// Label 1 on x, y in 1..4, z in 0..2.
fn mask() -> Vec<f64> {
    (0..voxel_count())
        .map(|i| {
            let (x, y, z) = (i % 6, (i / 6) % 6, i / 36);
            if (1..4).contains(&x) && (1..4).contains(&y) && z < 2 { 1.0 } else { 0.0 }
        })
        .collect()
}

fn ramp() -> Vec<f64> {
    (0..voxel_count()).map(|i| i as f64 * 7.0 - 400.0).collect()
}

/// Writes patient `name` with its image and mask; returns its case.
fn patient(dir: &Path, name: &str, image: &[f64], mask: &[f64]) -> Case {
    let (image_path, mask_path) = (dir.join(format!("{name}-ct.nrrd")), dir.join(format!("{name}-mask.nrrd")));
    write_nrrd(&image_path, image);
    write_nrrd(&mask_path, mask);
    Case { subject: name.into(), image: image_path, mask: mask_path, roi: None }
}

fn with_value(at: usize, value: f64) -> Vec<f64> {
    let mut image = ramp();
    image[at] = value;
    image
}

/// The good patient first, then one per kind of bad data, with a part of the error expected.
fn cohort(dir: &Path) -> (Vec<Case>, Vec<&'static str>) {
    let mut probabilities = mask();
    probabilities[SPOILED] = 0.999;
    let cases = vec![
        patient(dir, "good", &ramp(), &mask()),
        patient(dir, "nan", &with_value(SPOILED, f64::NAN), &mask()),
        patient(dir, "minus-inf", &with_value(SPOILED, f64::NEG_INFINITY), &mask()),
        patient(dir, "plus-inf", &with_value(SPOILED, f64::INFINITY), &mask()),
        // 1e12 wrapped a u32 in first-order statistics (a panic); 1e20 stalled the binning.
        patient(dir, "e12", &with_value(SPOILED, 1e12), &mask()),
        patient(dir, "e20", &with_value(SPOILED, 1e20), &mask()),
        patient(dir, "fraction", &ramp(), &probabilities),
    ];
    let expected = vec![
        "",
        "non-finite intensity",
        "non-finite intensity",
        "non-finite intensity",
        "set bin_width to at least",
        "set bin_width to at least",
        "not a label map",
    ];
    (cases, expected)
}

#[test]
fn each_bad_patient_fails_alone_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (mut cases, expected) = cohort(dir.path());
    let truncated = patient(dir.path(), "truncated", &ramp(), &mask());
    let bytes = std::fs::read(&truncated.image).unwrap();
    std::fs::write(&truncated.image, &bytes[..bytes.len() - 100]).unwrap();
    cases.push(truncated);
    let mut missing = patient(dir.path(), "missing", &ramp(), &mask());
    missing.mask = dir.path().join("no-such-mask.nrrd");
    cases.push(missing);
    let mut expected = expected;
    expected.extend(["truncated: the header says 108 voxels of double", "no-such-mask.nrrd"]);

    let never = AtomicBool::new(false);
    let results =
        extract_cohort(&cases, &Settings::default(), 2, OnError::Continue, &never, &|_, _| {}).expect("not cancelled");
    assert_eq!(results.len(), cases.len());
    let good = results[0].as_ref().expect("measured").as_ref().expect("the good patient has features");
    assert_eq!(good.len(), 107);
    for ((case, result), part) in cases.iter().zip(&results).zip(&expected).skip(1) {
        let error = result.as_ref().expect("measured").as_ref().expect_err(&case.subject);
        assert!(error.is_bad_data(), "{}: {error:?}", case.subject);
        let message = error.to_string();
        assert!(message.contains(part), "{}: {message}", case.subject);
        // The intensity errors name the image, the mask errors the mask.
        let mask_error = matches!(error, CaseError::Roi { source, .. } if !source.is_about_the_image());
        let named = if mask_error || case.subject == "missing" { &case.mask } else { &case.image };
        assert!(message.contains(&named.display().to_string()), "{}: {message}", case.subject);
    }
}

#[test]
fn on_error_stop_starts_no_patient_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (cases, _) = cohort(dir.path());
    let never = AtomicBool::new(false);
    let results = extract_cohort(&cases, &Settings::default(), 1, OnError::Stop, &never, &|_, _| {}).unwrap();
    assert!(results[0].as_ref().is_some_and(Result::is_ok));
    assert!(results[1].as_ref().is_some_and(Result::is_err));
    assert!(results[2..].iter().all(Option::is_none), "patients after the first failure were started");
}

#[test]
fn a_cancelled_flag_stops_before_the_next_patient() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Case> = (0..4).map(|i| patient(dir.path(), &format!("p{i}"), &ramp(), &mask())).collect();

    let already = AtomicBool::new(true);
    let measured = Mutex::new(0);
    let count = |_: &Case, _: &_| *measured.lock().unwrap() += 1;
    let result = extract_cohort(&cases, &Settings::default(), 2, OnError::Continue, &already, &count);
    assert_eq!(result.unwrap_err(), Cancelled);
    assert_eq!(*measured.lock().unwrap(), 0, "no patient starts once the run is cancelled");

    // Set by someone else while the first patient is measured (here: when it is done).
    let flag = AtomicBool::new(false);
    let finished = Mutex::new(Vec::new());
    let cancel_after_first = |case: &Case, _: &_| {
        finished.lock().unwrap().push(case.subject.clone());
        flag.store(true, Ordering::SeqCst);
    };
    let result = extract_cohort(&cases, &Settings::default(), 1, OnError::Continue, &flag, &cancel_after_first);
    assert_eq!(result.unwrap_err(), Cancelled);
    assert_eq!(*finished.lock().unwrap(), vec!["p0".to_string()]);
}
