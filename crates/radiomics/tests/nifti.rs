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

// --- Malformed files --------------------------------------------------------------------

/// A little-endian single-file NIfTI-1 image (`.nii`): dims [3, nx, ny, nz], qform identity
/// with 1 mm voxels, data from byte 352. Tests edit the bytes afterwards.
fn nifti_bytes(size: [i16; 3], datatype: i16, bitpix: i16, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    let dims = [3, size[0], size[1], size[2], 1, 1, 1, 1];
    put(40, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>());
    put(70, &datatype.to_le_bytes());
    put(72, &bitpix.to_le_bytes());
    put(76, &[1f32, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    put(108, &352f32.to_le_bytes());
    put(252, &1i16.to_le_bytes());
    put(344, b"n+1\0");
    h.extend_from_slice(data);
    h
}

const INT16: (i16, i16) = (4, 16);
const FLOAT32: (i16, i16) = (16, 32);

fn int16_volume() -> Vec<u8> {
    (0..24i16).flat_map(|v| v.to_le_bytes()).collect()
}

fn read_bytes(name: &str, bytes: &[u8]) -> Result<flow_radiomics::Image<f64>, flow_radiomics::ImageError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    read_image(&path)
}

fn error_of(name: &str, bytes: &[u8]) -> String {
    let err = read_bytes(name, bytes).unwrap_err();
    assert!(err.is_bad_data(), "{name}: not classified as bad data: {err:?}");
    let msg = err.to_string();
    assert!(msg.contains(name), "{name}: the message does not name the file: {msg}");
    msg
}

fn set(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

#[test]
fn malformed_nifti_files_are_named_and_explained() {
    let good = nifti_bytes([2, 3, 4], INT16.0, INT16.1, &int16_volume());
    let image = read_bytes("good.nii", &good).unwrap();
    assert_eq!((image.geometry.size, image.data[23]), ([2, 3, 4], 23.0));

    let msg = error_of("header.nii", &good[..100]);
    assert!(msg.contains("truncated: the file holds 100 bytes") && msg.contains("348"), "{msg}");

    let msg = error_of("data.nii", &good[..good.len() - 10]);
    assert!(msg.contains("truncated: the header says 24 voxels of int16, which take 48 bytes"), "{msg}");
    assert!(msg.contains("holds 38 bytes"), "{msg}");

    let mut zero = good.clone();
    set(&mut zero, 44, &0i16.to_le_bytes());
    let msg = error_of("zero.nii", &zero);
    assert!(msg.contains("dim[2] is 0") && msg.contains("zero-length"), "{msg}");

    let mut negative = good.clone();
    set(&mut negative, 46, &(-4i16).to_le_bytes());
    assert!(error_of("negative.nii", &negative).contains("dim[3] is -4"));

    let mut nifti2 = good.clone();
    set(&mut nifti2, 0, &540i32.to_le_bytes());
    assert!(error_of("two.nii", &nifti2).contains("NIfTI-2"));

    let mut garbage = good.clone();
    set(&mut garbage, 344, b"PNG\0");
    let msg = error_of("garbage.nii", &garbage);
    assert!(msg.contains("not a NIfTI-1 image") && msg.contains("magic"), "{msg}");

    let mut pair = good.clone();
    set(&mut pair, 344, b"ni1\0");
    assert!(error_of("pair.nii", &pair).contains(".hdr/.img"));

    let mut offset = good.clone();
    set(&mut offset, 108, &0f32.to_le_bytes());
    assert!(error_of("offset.nii", &offset).contains("vox_offset is 0"));

    let mut datatype = good.clone();
    set(&mut datatype, 70, &999i16.to_le_bytes());
    assert!(error_of("type.nii", &datatype).contains("datatype is 999"));

    let mut origin = good.clone();
    set(&mut origin, 268, &f32::NAN.to_le_bytes());
    assert!(error_of("origin.nii", &origin).contains("not finite"));

    let gz = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&good).unwrap();
        encoder.finish().unwrap()
    };
    assert!(read_bytes("good.nii.gz", &gz).is_ok());
    let msg = error_of("cut.nii.gz", &gz[..gz.len() / 2]);
    assert!(msg.contains("gzip data is truncated or corrupt"), "{msg}");
}

#[test]
fn float_voxels_keep_nan_for_the_roi_check() {
    // The reader keeps what the file holds; whether a NaN matters depends on the ROI (roi.rs).
    let data: Vec<u8> = [0.0f32, f32::NAN, f32::INFINITY, 3.5].iter().flat_map(|v| v.to_le_bytes()).collect();
    let image = read_bytes("float.nii", &nifti_bytes([2, 2, 1], FLOAT32.0, FLOAT32.1, &data)).unwrap();
    assert!(image.data[1].is_nan() && image.data[2] == f64::INFINITY && image.data[3] == 3.5);
}
