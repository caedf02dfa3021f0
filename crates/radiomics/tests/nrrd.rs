//! NRRD reader: small files written here, read back.

use std::io::Write;
use std::path::{Path, PathBuf};

use flow_radiomics::nrrd::read_nrrd;
use flow_radiomics::{ImageError, Tolerance};

fn write(dir: &Path, name: &str, header: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(data);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// 3 x 2 x 2 int16 values 0..12 (x fastest), little endian.
fn int16_data() -> Vec<u8> {
    (0i16..12).flat_map(|v| (v * 10 - 50).to_le_bytes()).collect()
}

const LPS_HEADER: &str = "NRRD0004\n# Complete NRRD file format specification at:\n\
type: short\ndimension: 3\nspace: left-posterior-superior\nsizes: 3 2 2\n\
space directions: (0.5,0,0) (0,0.75,0) (0,0,2.5)\nkinds: domain domain domain\n\
endian: little\nencoding: raw\nspace origin: (-10.5,20,30.25)\nmeasurement frame:=ignored\n\n";

#[test]
fn raw_int16_lps() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ct.nrrd", LPS_HEADER, &int16_data());
    let img = read_nrrd(&path).unwrap();
    let g = &img.geometry;
    assert_eq!(g.size, [3, 2, 2]);
    assert_eq!(g.spacing, [0.5, 0.75, 2.5]);
    assert_eq!(g.origin, [-10.5, 20.0, 30.25]);
    assert_eq!(g.direction, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let expected: Vec<f64> = (0..12).map(|v| f64::from(v * 10 - 50)).collect();
    assert_eq!(img.data, expected);
    assert_eq!(img.get(1, 1, 1), Some(f64::from(10 * 10 - 50)));
}

#[test]
fn gzip_float_ras_is_converted_to_lps() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = (0..12).map(|v| v as f32 * 0.25 - 1.0).collect();
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let header = "NRRD0005\ntype: float\ndimension: 3\nspace: right-anterior-superior\n\
sizes: 3 2 2\nspace directions: (0,-0.8,0) (1.5,0,0) (0,0,3)\nendian: little\n\
encoding: gzip\nspace origin: (1,2,3)\n\n";
    let path = write(dir.path(), "img.nrrd", header, &gzip(&raw));
    let img = read_nrrd(&path).unwrap();
    let g = &img.geometry;
    assert_eq!(g.size, [3, 2, 2]);
    assert!((g.spacing[0] - 0.8).abs() < 1e-12 && g.spacing[1] == 1.5 && g.spacing[2] == 3.0);
    assert_eq!(g.origin, [-1.0, -2.0, 3.0]);
    // RAS axis 0 points to -A (posterior) = +P in LPS; axis 1 points to +R = -L.
    assert_eq!(g.direction, [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    assert_eq!(img.data, values.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
}

#[test]
fn big_endian_uint16_without_space() {
    let dir = tempfile::tempdir().unwrap();
    let raw: Vec<u8> = (0u16..8).flat_map(|v| (v * 1000).to_be_bytes()).collect();
    let header = "NRRD0004\ntype: uint16\ndimension: 3\nsizes: 2 2 2\nspacings: 1 2 3\n\
endian: big\nencoding: raw\n\n";
    let img = read_nrrd(&write(dir.path(), "be.nrrd", header, &raw)).unwrap();
    assert_eq!(img.geometry.spacing, [1.0, 2.0, 3.0]);
    assert_eq!(img.data, (0..8).map(|v| f64::from(v * 1000)).collect::<Vec<_>>());
}

#[test]
fn slicer_segmentation_first_layer() {
    let dir = tempfile::tempdir().unwrap();
    // 2 layers x (2 x 1 x 2) voxels, layers fastest: layer 0 = 1,0,2,0; layer 1 = 7,8,9,5.
    let raw = [1u8, 7, 0, 8, 2, 9, 0, 5];
    let header = "NRRD0004\ntype: unsigned char\ndimension: 4\nspace: left-posterior-superior\n\
sizes: 2 2 1 2\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\n\
kinds: list domain domain domain\nencoding: gzip\nspace origin: (0,0,0)\n\
Segment0_ID:=Segment_1\n\n";
    let img = read_nrrd(&write(dir.path(), "m.seg.nrrd", header, &gzip(&raw))).unwrap();
    assert_eq!(img.geometry.size, [2, 1, 2]);
    assert_eq!(img.data, vec![1.0, 0.0, 2.0, 0.0]);

    let no_kinds = header.replace("kinds: list domain domain domain\n", "");
    let err = read_nrrd(&write(dir.path(), "k.seg.nrrd", &no_kinds, &gzip(&raw))).unwrap_err();
    assert!(err.to_string().contains("kinds"), "{err}");
    let bad_kinds = header.replace("kinds: list", "kinds: domain");
    let err = read_nrrd(&write(dir.path(), "d.seg.nrrd", &bad_kinds, &gzip(&raw))).unwrap_err();
    assert!(matches!(err, ImageError::NrrdHeader { line: 7, .. }), "{err}");
}

/// Replaces `from` in the LPS header and returns the error message.
fn error_for(name: &str, from: &str, to: &str, data: &[u8]) -> (ImageError, String) {
    let dir = tempfile::tempdir().unwrap();
    assert!(LPS_HEADER.contains(from), "{from}");
    let path = write(dir.path(), name, &LPS_HEADER.replace(from, to), data);
    let err = read_nrrd(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(name), "error does not name the file: {msg}");
    (err, msg)
}

#[test]
fn malformed_headers_give_clear_errors() {
    let data = int16_data();
    let (err, msg) = error_for("magic.nrrd", "NRRD0004", "NRRD0009", &data);
    assert!(matches!(err, ImageError::NrrdHeader { line: 1, .. }) && msg.contains("magic"), "{msg}");
    let (err, msg) = error_for("sizes.nrrd", "sizes: 3 2 2", "sizes: 3 x 2", &data);
    assert!(matches!(err, ImageError::NrrdHeader { line: 6, .. }), "{msg}");
    assert!(msg.contains("`sizes: 3 x 2`"), "{msg}");
    let (_, msg) = error_for("type.nrrd", "type: short", "type: block", &data);
    assert!(msg.contains("unsupported type `block`") && msg.contains("line 3"), "{msg}");
    let (_, msg) = error_for("dim.nrrd", "dimension: 3", "dimension: 2", &data);
    assert!(msg.contains("dimension 2 is not supported"), "{msg}");
    let (_, msg) = error_for("enc.nrrd", "encoding: raw", "encoding: bzip2", &data);
    assert!(msg.contains("encoding `bzip2`"), "{msg}");
    let (_, msg) = error_for("space.nrrd", "left-posterior-superior", "scanner-xyz", &data);
    assert!(msg.contains("space `scanner-xyz`"), "{msg}");
    let (_, msg) = error_for("dirs.nrrd", "(0,0,2.5)", "(0,0)", &data);
    assert!(msg.contains("space directions"), "{msg}");
    let (_, msg) = error_for("zero.nrrd", "(0,0,2.5)", "(0,0,0)", &data);
    assert!(msg.contains("zero length"), "{msg}");
    let (_, msg) = error_for("origin.nrrd", "(-10.5,20,30.25)", "-10.5 20 30.25", &data);
    assert!(msg.contains("space origin"), "{msg}");
    let (_, msg) = error_for("missing.nrrd", "sizes: 3 2 2\n", "", &data);
    assert!(msg.contains("no `sizes` field"), "{msg}");
    let (_, msg) = error_for("line.nrrd", "kinds: domain domain domain", "kinds domain", &data);
    assert!(msg.contains("line 8") && msg.contains("field: value"), "{msg}");
    let (_, msg) = error_for("detached.nhdr", "encoding: raw\n", "encoding: raw\ndata file: x.raw\n", &[]);
    assert!(msg.contains("detached data files"), "{msg}");
    let (_, msg) = error_for("short.nrrd", "encoding: raw", "encoding: raw", &data[..20]);
    assert!(
        msg.contains("truncated: the header says 12 voxels of short, which take 24 bytes")
            && msg.contains("holds 20 bytes"),
        "{msg}"
    );
    let (_, msg) = error_for("long.nrrd", "encoding: raw", "encoding: raw", &[&data[..], &[0, 0]].concat());
    assert!(msg.contains("holds 26 bytes, more than the 24 bytes"), "{msg}");
    let (_, msg) = error_for("gz.nrrd", "encoding: raw", "encoding: gzip", &data);
    assert!(msg.contains("gzip data is truncated or corrupt"), "{msg}");
    let cut = gzip(&data);
    let (_, msg) = error_for("cut.nrrd", "encoding: raw", "encoding: gzip", &cut[..cut.len() - 6]);
    assert!(msg.contains("gzip data is truncated or corrupt"), "{msg}");
    let (_, msg) = error_for("huge.nrrd", "sizes: 3 2 2", "sizes: 4294967296 4294967296 2", &data);
    assert!(msg.contains("more voxels than memory can hold"), "{msg}");
    let (_, msg) = error_for("empty.nrrd", "sizes: 3 2 2", "sizes: 3 0 2", &data);
    assert!(msg.contains("positive integer sizes"), "{msg}");
    let (_, msg) = error_for("endian.nrrd", "endian: little\n", "", &data);
    assert!(msg.contains("no `endian` field"), "{msg}");
}

#[test]
fn geometry_mismatch_between_files() {
    let dir = tempfile::tempdir().unwrap();
    let img_path = write(dir.path(), "image.nrrd", LPS_HEADER, &int16_data());
    let shifted = LPS_HEADER.replace("(-10.5,20,30.25)", "(-10.5,20,31.25)");
    let mask_path = write(dir.path(), "mask.nrrd", &shifted, &int16_data());
    let img = read_nrrd(&img_path).unwrap();
    let mask = read_nrrd(&mask_path).unwrap();
    let err = img.geometry.check_same(&mask.geometry, Tolerance::default(), &img_path, &mask_path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("image.nrrd") && msg.contains("mask.nrrd") && msg.contains("origin"), "{msg}");
}
