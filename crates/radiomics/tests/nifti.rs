//! NIfTI reader on the IBSI-1 digital phantom from the shared data directory.

use std::path::PathBuf;

use flow_radiomics::{Tolerance, read_image};

fn phantom_dir() -> Option<PathBuf> {
    let base = std::env::var_os("FLOW_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    let dir = base.join("ibsi1/digital_phantom");
    if dir.join("phantom.nii.gz").is_file() && dir.join("mask.nii.gz").is_file() {
        Some(dir)
    } else {
        println!("SKIPPING: IBSI-1 digital phantom not found in {}", dir.display());
        None
    }
}

#[test]
fn ibsi_digital_phantom() {
    let Some(dir) = phantom_dir() else { return };
    let image_path = dir.join("phantom.nii.gz");
    let mask_path = dir.join("mask.nii.gz");
    let image = read_image(&image_path).unwrap();
    let mask = read_image(&mask_path).unwrap();
    println!("{:?}", image.geometry);
    let g = &image.geometry;
    assert_eq!(g.size, [5, 4, 4]);
    assert_eq!(g.spacing, [2.0, 2.0, 2.0]);
    assert_eq!(image.data.len(), 80);
    for col in 0..3 {
        let norm: f64 = (0..3).map(|r| g.direction[r][col].powi(2)).sum();
        assert!((norm - 1.0).abs() < 1e-9);
    }
    g.check_same(&mask.geometry, Tolerance::default(), &image_path, &mask_path).unwrap();
    assert!(mask.data.iter().all(|&v| v == 0.0 || v == 1.0));
    assert_eq!(mask.data.iter().filter(|&&v| v == 1.0).count(), 74);
    // Grey levels in the ROI are 1, 3, 4 and 6; IBSI mean intensity (Q4LE) is 2.15.
    let roi: Vec<f64> = image.data.iter().zip(&mask.data).filter(|(_, m)| **m == 1.0).map(|(v, _)| *v).collect();
    assert!(roi.iter().all(|v| [1.0, 3.0, 4.0, 6.0].contains(v)));
    let mean = roi.iter().sum::<f64>() / roi.len() as f64;
    assert!((mean - 2.15).abs() < 0.005, "{mean}");
}
