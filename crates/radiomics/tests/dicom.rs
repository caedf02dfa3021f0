//! DICOM readers: the IBSI PAT1 CT series and RTSTRUCT against their NIfTI twins, pydicom's
//! sample files, and SEG/series files built here with dicom-object (shuffled frames, 1-bit
//! frames that do not end on a byte boundary, and the error cases).

use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use flow_radiomics::cohort::read_case;
use flow_radiomics::dicom::{Label, read_mask, read_mask_label, read_series, read_series_with_frame};
use flow_radiomics::image::GeometryField;
use flow_radiomics::nifti::read_nifti;
use flow_radiomics::{Geometry, ImageError};

/// `rel` under the shared data directory, or `None` (with a SKIP line) when it is absent.
fn shared(rel: &str) -> Option<PathBuf> {
    let base = std::env::var_os("FLOW_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    let path = base.join(rel);
    if path.exists() {
        Some(path)
    } else {
        println!("SKIPPING: {} not found (set FLOW_SHARED_DATA)", path.display());
        None
    }
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol), "{what}: {a:?} vs {b:?}");
}

#[test]
fn pat1_series_equals_the_nifti() {
    let (Some(dir), Some(nii)) =
        (shared("ibsi1/ct_phantom_pat1_dicom/image"), shared("ibsi1/ct_phantom_pat1/phantom.nii.gz"))
    else {
        return;
    };
    let dicom = read_series(&dir).unwrap();
    let nifti = read_nifti(&nii).unwrap();
    let (g, h) = (&dicom.geometry, &nifti.geometry);
    println!("DICOM {g:?}\nNIfTI {h:?}");
    assert_eq!(g.size, [204, 201, 60]);
    assert_eq!(g.size, h.size);
    assert_close(&g.spacing, &h.spacing, 1e-4, "spacing");
    assert_close(&g.origin, &h.origin, 1e-4, "origin");
    for c in 0..3 {
        assert_close(&g.direction[c], &h.direction[c], 1e-4, "direction");
    }
    // What SimpleITK's ImageSeriesReader gives for this folder.
    assert_close(&g.spacing, &[0.97699999809265, 0.97699999809265, 2.9999999999998486], 1e-9, "spacing");
    assert_close(&g.origin, &[-174.39450073242, -79.625503540039, -100.40000152587], 1e-9, "origin");
    let differing = dicom.data.iter().zip(&nifti.data).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "voxels differ between the DICOM series and the NIfTI");
    let (min, max) = dicom.data.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    assert_eq!((min, max), (-1000.0, 3065.0));
}

#[test]
fn pat1_rtstruct_matches_the_nifti_mask() {
    let (Some(dir), Some(rs), Some(nii)) = (
        shared("ibsi1/ct_phantom_pat1_dicom/image"),
        shared("ibsi1/ct_phantom_pat1_dicom/mask/DCM_RS_00060.dcm"),
        shared("ibsi1/ct_phantom_pat1/mask.nii.gz"),
    ) else {
        return;
    };
    let image = read_series(&dir).unwrap();
    let mask = read_mask(&rs, &image.geometry, &dir).unwrap();
    let reference = read_nifti(&nii).unwrap();
    let ours = mask.data.iter().filter(|v| **v != 0.0).count();
    let theirs = reference.data.iter().filter(|v| **v != 0.0).count();
    let both = mask.data.iter().zip(&reference.data).filter(|(a, b)| **a != 0.0 && **b != 0.0).count();
    let dice = 2.0 * both as f64 / (ours + theirs) as f64;
    println!("RTSTRUCT GTV-1: {ours} voxels, NIfTI mask: {theirs}, both: {both}, Dice {dice}");
    assert!(mask.data.iter().all(|v| *v == 0.0 || *v == 1.0), "ROI Number 1 is the only value");
    // Centre-in-polygon with the even-odd rule reproduces the IBSI mask voxel for voxel.
    assert_eq!((ours, theirs, both), (125_256, 125_256, 125_256));

    let by_name = read_mask_label(&rs, &image.geometry, &dir, &Label::Name("GTV-1".into())).unwrap();
    assert_eq!(by_name.data, mask.data);
    let err = read_mask_label(&rs, &image.geometry, &dir, &Label::Name("GTV-2".into())).unwrap_err().to_string();
    assert!(err.contains("DCM_RS_00060.dcm") && err.contains("\"GTV-2\"") && err.contains("1 \"GTV-1\""), "{err}");
}

#[test]
fn single_ct_slice_applies_the_rescale() {
    let Some(file) = shared("dicom-samples/pydicom_CT_small.dcm") else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(&file, tmp.path().join("CT_small.dcm")).unwrap();
    let image = read_series(tmp.path()).unwrap();
    let g = &image.geometry;
    assert_eq!(g.size, [128, 128, 1]);
    // SimpleITK: Spacing Between Slices (5) is the z spacing of a single slice.
    assert_eq!(g.spacing, [0.661468, 0.661468, 5.0]);
    assert_eq!(g.origin, [-158.135803, -179.035797, -75.699997]);
    // pydicom: pixel_array * RescaleSlope (1) + RescaleIntercept (-1024) at (row, column).
    for ((row, col), value) in [
        ((0, 0), -849.0),
        ((0, 1), -844.0),
        ((10, 20), -839.0),
        ((64, 64), 904.0),
        ((127, 127), -115.0),
        ((50, 100), -690.0),
    ] {
        assert_eq!(image.get(col, row, 0), Some(value), "row {row}, column {col}");
    }
    assert_eq!(image.data.iter().sum::<f64>(), -1_950_906.0);
}

#[test]
fn real_seg_unpacks_bits_lsb_first() {
    // dcmqi's liver SEG from pydicom-data: 3 frames of 512 × 512 at 1 bit. The counts and the
    // sums of row-major pixel indices per frame are pydicom's; reversed bit order would keep
    // the counts but not the sums.
    let Some(path) = shared("dicom-samples/pydicom-data_liver.dcm") else { return };
    let reference = Geometry {
        size: [512, 512, 3],
        spacing: [0.810547, 0.810547, 1.0],
        origin: [-235.2, -226.8, -128.69],
        direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    };
    let mask = read_mask(&path, &reference, Path::new("liver-ct")).unwrap();
    let expected = [(36_233, 4_439_751_323u64), (35_645, 4_365_966_218), (35_220, 4_308_577_625)];
    for (z, (count, sum)) in expected.into_iter().enumerate() {
        let slice = &mask.data[z * 512 * 512..(z + 1) * 512 * 512];
        let set: Vec<u64> = (0..slice.len() as u64).filter(|i| slice[*i as usize] != 0.0).collect();
        assert_eq!((set.len(), set.iter().sum::<u64>()), (count, sum), "slice {z}");
    }
    assert!(mask.data.iter().all(|v| *v == 0.0 || *v == 1.0));
}

// --- Synthetic series and SEG -----------------------------------------------------------

const COLS: usize = 5;
const ROWS: usize = 3;
const SLICES: usize = 4;
const COL_SPACING: f64 = 0.5;
const ROW_SPACING: f64 = 0.7;
const SLICE_SPACING: f64 = 2.0;
const ORIGIN: [f64; 3] = [-10.0, 20.0, 30.0];
/// Coronal: rows run to patient left, columns to inferior, so the normal is posterior.
const ROW_DIR: [f64; 3] = [1.0, 0.0, 0.0];
const COL_DIR: [f64; 3] = [0.0, 0.0, -1.0];
const NORMAL: [f64; 3] = [0.0, 1.0, 0.0];
const SERIES_UID: &str = "1.2.826.0.1.3680043.8.498.1";
const FRAME_UID: &str = "1.2.826.0.1.3680043.8.498.7";
const OTHER_FRAME_UID: &str = "1.2.826.0.1.3680043.8.498.8";
const STUDY_UID: &str = "1.2.826.0.1.3680043.8.498.9";

/// A UID under `root` for one patient (UIDs hold digits and dots only).
fn numbered(root: &str, patient: &str) -> String {
    format!("{root}.{}", patient.bytes().map(u32::from).sum::<u32>())
}

fn ds(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::from(values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\\"))
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) {
    obj.put(DataElement::new(tag, vr, value.into()));
}

fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

fn item(f: impl FnOnce(&mut InMemDicomObject)) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    f(&mut obj);
    obj
}

fn save(obj: InMemDicomObject, path: &Path) {
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .unwrap()
        .write_to_file(path)
        .unwrap();
}

fn slice_position(z: usize) -> [f64; 3] {
    [0, 1, 2].map(|i| ORIGIN[i] + z as f64 * SLICE_SPACING * NORMAL[i])
}

fn stored(x: usize, y: usize, z: usize) -> i16 {
    (z * 100 + y * 10 + x) as i16 - 150
}

/// Writes slice `z` of the synthetic CT: stored values from [`stored`], slope 2, intercept −50.
fn write_ct_slice(path: &Path, series: &str, z: usize, position: [f64; 3]) {
    write_ct_slice_in(path, series, z, position, FRAME_UID);
}

fn write_ct_slice_in(path: &Path, series: &str, z: usize, position: [f64; 3], frame: &str) {
    write_ct_slice_of("P1", path, series, z, position, frame);
}

fn write_ct_slice_of(patient: &str, path: &Path, series: &str, z: usize, position: [f64; 3], frame: &str) {
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::PATIENT_ID, VR::LO, patient);
    put(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, numbered(STUDY_UID, patient));
    put(&mut obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, frame);
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, format!("{series}.{}", z + 1));
    put(&mut obj, tags::MODALITY, VR::CS, "CT");
    put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, series);
    put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, (SLICES - z).to_string());
    put(&mut obj, tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&position));
    put(&mut obj, tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&[ROW_DIR, COL_DIR].concat()));
    put(&mut obj, tags::PIXEL_SPACING, VR::DS, ds(&[ROW_SPACING, COL_SPACING]));
    put(&mut obj, tags::ROWS, VR::US, ROWS as u16);
    put(&mut obj, tags::COLUMNS, VR::US, COLS as u16);
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, 1u16);
    put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, 16u16);
    put(&mut obj, tags::BITS_STORED, VR::US, 16u16);
    put(&mut obj, tags::HIGH_BIT, VR::US, 15u16);
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, 1u16);
    put(&mut obj, tags::RESCALE_SLOPE, VR::DS, "2");
    put(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, "-50");
    let pixels: Vec<u8> =
        (0..ROWS).flat_map(|y| (0..COLS).map(move |x| stored(x, y, z))).flat_map(i16::to_le_bytes).collect();
    put(&mut obj, tags::PIXEL_DATA, VR::OW, PrimitiveValue::U8(pixels.into()));
    save(obj, path);
}

/// A folder with the synthetic CT, slices written under shuffled names, plus a text file and
/// a DICOMDIR-named file that the reader must skip.
fn write_series(dir: &Path) {
    for (z, name) in [(0, "c.dcm"), (1, "a.dcm"), (2, "d"), (3, "b.dcm")] {
        write_ct_slice(&dir.join(name), SERIES_UID, z, slice_position(z));
    }
    std::fs::write(dir.join("notes.txt"), "not DICOM").unwrap();
    std::fs::write(dir.join("DICOMDIR"), vec![0u8; 256]).unwrap();
}

/// Whether pixel (x, y) is set in the frame of segment `s` on slice `z`: a pattern that differs
/// between frames and is not symmetric, so a wrong slice, segment or bit order shows.
fn pattern(s: u16, z: usize, x: usize, y: usize) -> bool {
    (y * 7 + x * 3 + s as usize * 5 + z * 11) % 4 < 2
}

/// (segment, slice) of each frame, in file order: shuffled on purpose.
const FRAMES: [(u16, usize); 5] = [(2, 1), (1, 0), (2, 3), (1, 2), (1, 1)];

struct SegSpec {
    patient: &'static str,
    /// The series its Referenced Series Sequence names, if any.
    references: Option<&'static str>,
    frame: &'static str,
    orientation: [f64; 6],
    /// Added to the position of frame 3 (0-based 2).
    shift: [f64; 3],
    empty: bool,
}

impl Default for SegSpec {
    fn default() -> Self {
        SegSpec {
            patient: "P1",
            references: Some(SERIES_UID),
            frame: FRAME_UID,
            orientation: [ROW_DIR, COL_DIR].concat().try_into().unwrap(),
            shift: [0.0; 3],
            empty: false,
        }
    }
}

/// A BINARY SEG on the synthetic CT grid: segments 1 and 2 have frames, 3 is defined but has
/// none. 1 bit per pixel, frames packed back to back (15 pixels each, so frames share bytes),
/// least significant bit first.
fn write_seg(path: &Path, spec: &SegSpec) {
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::SEGMENTATION_STORAGE);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.8.498.2.1");
    put(&mut obj, tags::MODALITY, VR::CS, "SEG");
    put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, numbered("1.2.826.0.1.3680043.8.498.2", spec.patient));
    put(&mut obj, tags::PATIENT_ID, VR::LO, spec.patient);
    put(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, numbered(STUDY_UID, spec.patient));
    put(&mut obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, spec.frame);
    if let Some(series) = spec.references {
        put_seq(
            &mut obj,
            tags::REFERENCED_SERIES_SEQUENCE,
            vec![item(|r| put(r, tags::SERIES_INSTANCE_UID, VR::UI, series))],
        );
    }
    put(&mut obj, tags::ROWS, VR::US, ROWS as u16);
    put(&mut obj, tags::COLUMNS, VR::US, COLS as u16);
    put(&mut obj, tags::NUMBER_OF_FRAMES, VR::IS, FRAMES.len().to_string());
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, 1u16);
    put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, 1u16);
    put(&mut obj, tags::BITS_STORED, VR::US, 1u16);
    put(&mut obj, tags::HIGH_BIT, VR::US, 0u16);
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, 0u16);
    put(&mut obj, tags::SEGMENTATION_TYPE, VR::CS, "BINARY");
    let segment = |number: u16, name: &str| {
        item(|s| {
            put(s, tags::SEGMENT_NUMBER, VR::US, number);
            put(s, tags::SEGMENT_LABEL, VR::LO, name);
        })
    };
    put_seq(&mut obj, tags::SEGMENT_SEQUENCE, vec![segment(1, "tumour"), segment(2, "node"), segment(3, "vessel")]);
    let shared = item(|g| {
        put_seq(
            g,
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![item(|m| put(m, tags::PIXEL_SPACING, VR::DS, ds(&[ROW_SPACING, COL_SPACING])))],
        );
        put_seq(
            g,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![item(|o| put(o, tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&spec.orientation)))],
        );
    });
    put_seq(&mut obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]);
    let per_frame = FRAMES
        .iter()
        .enumerate()
        .map(|(f, &(s, z))| {
            let mut p = slice_position(z);
            if f == 2 {
                p = [0, 1, 2].map(|i| p[i] + spec.shift[i]);
            }
            item(|g| {
                put_seq(
                    g,
                    tags::PLANE_POSITION_SEQUENCE,
                    vec![item(|i| put(i, tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&p)))],
                );
                put_seq(
                    g,
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    vec![item(|i| put(i, tags::REFERENCED_SEGMENT_NUMBER, VR::US, s))],
                );
            })
        })
        .collect();
    put_seq(&mut obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame);
    let bits: Vec<bool> = FRAMES
        .iter()
        .flat_map(|&(s, z)| (0..ROWS).flat_map(move |y| (0..COLS).map(move |x| !spec.empty && pattern(s, z, x, y))))
        .collect();
    let mut bytes = vec![0u8; bits.len().div_ceil(8).next_multiple_of(2)];
    for (i, set) in bits.iter().enumerate() {
        if *set {
            bytes[i / 8] |= 1 << (i % 8);
        }
    }
    put(&mut obj, tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(bytes.into()));
    save(obj, path);
}

/// The mask `read_mask_label` must give for the synthetic SEG with `only` = one segment or all.
fn expected_mask(only: Option<u16>) -> Vec<f64> {
    let mut out = vec![0.0; COLS * ROWS * SLICES];
    for &(s, z) in &FRAMES {
        if only.is_some_and(|o| o != s) {
            continue;
        }
        for y in 0..ROWS {
            for x in 0..COLS {
                let v = &mut out[x + COLS * (y + ROWS * z)];
                if pattern(s, z, x, y) {
                    *v = f64::max(*v, f64::from(s));
                }
            }
        }
    }
    out
}

#[test]
fn synthetic_series_is_sorted_along_the_normal() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(tmp.path());
    let image = read_series(tmp.path()).unwrap();
    let g = &image.geometry;
    assert_eq!(g.size, [COLS, ROWS, SLICES]);
    assert_eq!(g.spacing, [COL_SPACING, ROW_SPACING, SLICE_SPACING]);
    assert_eq!(g.origin, ORIGIN);
    // Columns of the direction matrix: row cosine, column cosine, normal.
    assert_eq!(g.direction, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]);
    for z in 0..SLICES {
        for y in 0..ROWS {
            for x in 0..COLS {
                assert_eq!(image.get(x, y, z), Some(2.0 * f64::from(stored(x, y, z)) - 50.0), "({x}, {y}, {z})");
            }
        }
    }
}

#[test]
fn seg_frames_land_on_their_slices_and_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = tmp.path().join("ct");
    std::fs::create_dir(&ct).unwrap();
    write_series(&ct);
    let image = read_series(&ct).unwrap();
    let seg = tmp.path().join("seg.dcm");
    write_seg(&seg, &SegSpec::default());

    let all = read_mask(&seg, &image.geometry, &ct).unwrap();
    assert_eq!(all.geometry, image.geometry);
    assert_eq!(all.data, expected_mask(None));
    // Both segments overlap on slice 1: the larger number wins there.
    assert!((0..COLS * ROWS).any(|i| pattern(1, 1, i % COLS, i / COLS) && pattern(2, 1, i % COLS, i / COLS)));

    let tumour = read_mask_label(&seg, &image.geometry, &ct, &Label::Name("tumour".into())).unwrap();
    assert_eq!(tumour.data, expected_mask(Some(1)));
    let node = read_mask_label(&seg, &image.geometry, &ct, &Label::Number(2)).unwrap();
    assert_eq!(node.data, expected_mask(Some(2)));

    let err = read_mask_label(&seg, &image.geometry, &ct, &Label::Name("liver".into())).unwrap_err().to_string();
    assert!(err.contains("seg.dcm") && err.contains("1 \"tumour\", 2 \"node\", 3 \"vessel\""), "{err}");
    let err = read_mask_label(&seg, &image.geometry, &ct, &Label::Name("vessel".into())).unwrap_err().to_string();
    assert!(err.contains("seg.dcm") && err.contains("empty") && err.contains("\"vessel\" covers no voxel"), "{err}");
}

#[test]
fn seg_frame_off_the_grid_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = tmp.path().join("ct");
    std::fs::create_dir(&ct).unwrap();
    write_series(&ct);
    let image = read_series(&ct).unwrap();
    let seg = tmp.path().join("shifted-seg.dcm");
    // Half a slice along the normal.
    write_seg(&seg, &SegSpec { shift: NORMAL.map(|v| v * SLICE_SPACING / 2.0), ..SegSpec::default() });
    let err = read_mask(&seg, &image.geometry, &ct).unwrap_err();
    assert!(matches!(err, ImageError::Format { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("shifted-seg.dcm") && msg.contains("frame 3 of 5") && msg.contains("off the grid"), "{msg}");
    assert!(msg.contains(&ct.display().to_string()), "{msg}");

    // A third of a column in-plane is off the grid too.
    write_seg(&seg, &SegSpec { shift: ROW_DIR.map(|v| v * COL_SPACING / 3.0), ..SegSpec::default() });
    let msg = read_mask(&seg, &image.geometry, &ct).unwrap_err().to_string();
    assert!(msg.contains("frame 3 of 5"), "{msg}");
}

#[test]
fn seg_with_another_orientation_is_a_geometry_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = tmp.path().join("ct");
    std::fs::create_dir(&ct).unwrap();
    write_series(&ct);
    let image = read_series(&ct).unwrap();
    let seg = tmp.path().join("axial-seg.dcm");
    write_seg(&seg, &SegSpec { orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], ..SegSpec::default() });
    let err = read_mask(&seg, &image.geometry, &ct).unwrap_err();
    let ImageError::Geometry(mismatch) = &err else { panic!("expected a geometry mismatch, got {err:?}") };
    assert_eq!(mismatch.field, GeometryField::Direction);
    let msg = err.to_string();
    assert!(msg.contains("axial-seg.dcm") && msg.contains(&ct.display().to_string()), "{msg}");
}

#[test]
fn empty_seg_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = tmp.path().join("ct");
    std::fs::create_dir(&ct).unwrap();
    write_series(&ct);
    let image = read_series(&ct).unwrap();
    let seg = tmp.path().join("empty-seg.dcm");
    write_seg(&seg, &SegSpec { empty: true, ..SegSpec::default() });
    let msg = read_mask(&seg, &image.geometry, &ct).unwrap_err().to_string();
    assert!(msg.contains("empty-seg.dcm") && msg.contains("empty"), "{msg}");
}

#[test]
fn missing_folder_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no-such-series");
    let err = read_series(&dir).unwrap_err();
    assert!(matches!(err, ImageError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-series"), "{err}");
}

#[test]
fn folder_without_dicom_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("readme.txt"), "nothing here").unwrap();
    let msg = read_series(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("no DICOM image"), "{msg}");
}

#[test]
fn two_series_in_one_folder_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(tmp.path());
    write_ct_slice(&tmp.path().join("other.dcm"), "1.2.826.0.1.3680043.8.498.9", 0, slice_position(7));
    let msg = read_series(tmp.path()).unwrap_err().to_string();
    assert!(
        msg.contains(SERIES_UID) && msg.contains("1.2.826.0.1.3680043.8.498.9") && msg.contains("2 series"),
        "{msg}"
    );
    assert!(msg.contains("other.dcm"), "{msg}");
}

#[test]
fn missing_and_duplicate_slices_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(tmp.path());
    // Slice 1 (a.dcm) gone: a gap of two spacings between c.dcm and d.
    std::fs::remove_file(tmp.path().join("a.dcm")).unwrap();
    let msg = read_series(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("non-uniform slice spacing") && msg.contains("c.dcm"), "{msg}");
    // The series and both positions around the gap, as a user would look them up.
    let gap = [slice_position(0), slice_position(2)].map(|p| format!("{p:?}"));
    assert!(msg.contains(SERIES_UID) && msg.contains(&gap[0]) && msg.contains(&gap[1]), "{msg}");

    write_ct_slice(&tmp.path().join("a.dcm"), SERIES_UID, 1, slice_position(1));
    write_ct_slice(&tmp.path().join("e.dcm"), SERIES_UID, 3, slice_position(3));
    let msg = read_series(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("duplicate") && msg.contains("b.dcm") && msg.contains("e.dcm"), "{msg}");
}

#[test]
fn a_ct_is_not_a_mask() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(tmp.path());
    let image = read_series(tmp.path()).unwrap();
    let msg = read_mask(&tmp.path().join("a.dcm"), &image.geometry, tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("a.dcm") && msg.contains("not a DICOM SEG or RTSTRUCT"), "{msg}");
    let msg = read_mask(&tmp.path().join("notes.txt"), &image.geometry, tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("notes.txt") && msg.contains("not a DICOM file"), "{msg}");
}

#[test]
fn tilted_series_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    // Each slice 0.3 mm further along the rows than the last: a gantry tilt.
    for z in 0..SLICES {
        let p = slice_position(z);
        write_ct_slice(&tmp.path().join(format!("s{z}.dcm")), SERIES_UID, z, [p[0] + 0.3 * z as f64, p[1], p[2]]);
    }
    let msg = read_series(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("s1.dcm") && msg.contains("gantry tilt"), "{msg}");
}

// --- Frames of reference ------------------------------------------------------------------

#[test]
fn seg_in_another_frame_of_reference_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ct = tmp.path().join("ct");
    std::fs::create_dir(&ct).unwrap();
    write_series(&ct);
    let (image, frame) = read_series_with_frame(&ct).unwrap();
    assert_eq!(frame.as_deref(), Some(FRAME_UID));
    let seg = tmp.path().join("seg.dcm");
    write_seg(&seg, &SegSpec::default());
    let (_, mask) = read_case(&ct, &seg).unwrap();
    assert_eq!(mask.data, expected_mask(None));

    // The same frames on the same grid, but drawn in another frame of reference.
    let other = tmp.path().join("other-frame-seg.dcm");
    write_seg(&other, &SegSpec { frame: OTHER_FRAME_UID, ..SegSpec::default() });
    let err = read_case(&ct, &other).unwrap_err();
    assert!(err.is_bad_data(), "{err:?}");
    let msg = err.to_string();
    for part in ["other-frame-seg.dcm", "FrameOfReferenceUID (0020,0052)", OTHER_FRAME_UID, FRAME_UID] {
        assert!(msg.contains(part), "{part} missing: {msg}");
    }
    assert!(msg.contains(&ct.display().to_string()), "{msg}");
    // A NIfTI/NRRD-like reference has no frame: nothing to compare, the grid decides.
    assert!(read_mask(&other, &image.geometry, &ct).is_ok());
}

#[test]
fn series_with_two_frames_of_reference_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write_series(tmp.path());
    write_ct_slice_in(&tmp.path().join("b.dcm"), SERIES_UID, 3, slice_position(3), OTHER_FRAME_UID);
    let msg = read_series(tmp.path()).unwrap_err().to_string();
    assert!(msg.contains("b.dcm") && msg.contains(OTHER_FRAME_UID) && msg.contains(FRAME_UID), "{msg}");
    assert!(msg.contains("one frame of reference"), "{msg}");
}

/// Rewrites every FrameOfReferenceUID and ReferencedFrameOfReferenceUID of a DICOM file, at any
/// depth, to `uid`.
fn set_frames(obj: &mut InMemDicomObject, uid: &str) {
    for tag in [tags::FRAME_OF_REFERENCE_UID, tags::REFERENCED_FRAME_OF_REFERENCE_UID] {
        if obj.get(tag).is_some() {
            put(obj, tag, VR::UI, uid);
        }
    }
    let sequences: Vec<Tag> = obj.iter().filter(|e| e.vr() == VR::SQ).map(|e| e.header().tag).collect();
    for tag in sequences {
        let Some(mut items) = obj.get(tag).and_then(|e| e.items()).map(<[InMemDicomObject]>::to_vec) else { continue };
        for item in &mut items {
            set_frames(item, uid);
        }
        put_seq(obj, tag, items);
    }
}

#[test]
fn pat1_rtstruct_in_another_frame_of_reference_is_refused() {
    let (Some(dir), Some(rs)) =
        (shared("ibsi1/ct_phantom_pat1_dicom/image"), shared("ibsi1/ct_phantom_pat1_dicom/mask/DCM_RS_00060.dcm"))
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("rs-copy.dcm");
    std::fs::copy(&rs, &copy).unwrap();
    assert!(read_case(&dir, &copy).is_ok(), "the unedited copy is in the series' frame");

    let edited = tmp.path().join("rs-other-frame.dcm");
    let mut obj = dicom_object::open_file(&rs).unwrap();
    set_frames(&mut obj, OTHER_FRAME_UID);
    obj.write_to_file(&edited).unwrap();
    let err = read_case(&dir, &edited).unwrap_err();
    assert!(err.is_bad_data(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("rs-other-frame.dcm") && msg.contains(OTHER_FRAME_UID), "{msg}");
    assert!(msg.contains("ReferencedFrameOfReferenceUID") && msg.contains("GTV-1"), "{msg}");
}

// --- Indexing a collection -----------------------------------------------------------------

use flow_radiomics::dicom::index::{HeaderCache, IndexedCase, Problem, RoiRule, SegmentationKind, cases, scan};

const SERIES_P2: &str = "1.2.826.0.1.3680043.8.498.21";
const SERIES_P3: &str = "1.2.826.0.1.3680043.8.498.31";
const FRAME_P2: &str = "1.2.826.0.1.3680043.8.498.27";

/// A flat folder, files named by a counter as some downloads do: P1 (the synthetic CT and its
/// SEG), P2 (the same with its own UIDs), P3 (a CT series, no segmentation), a README.
fn write_collection(dir: &Path) {
    let mut n = 0;
    let mut next = || {
        n += 1;
        dir.join(format!("{n:04}"))
    };
    for (patient, series, frame) in
        [("P1", SERIES_UID, FRAME_UID), ("P2", SERIES_P2, FRAME_P2), ("P3", SERIES_P3, FRAME_UID)]
    {
        for z in 0..SLICES {
            write_ct_slice_of(patient, &next(), series, z, slice_position(z), frame);
        }
    }
    write_seg(&next(), &SegSpec::default());
    write_seg(&next(), &SegSpec { patient: "P2", references: Some(SERIES_P2), frame: FRAME_P2, ..SegSpec::default() });
    std::fs::write(dir.join("README.txt"), "a collection").unwrap();
}

fn index(dir: &Path, pattern: Option<&str>) -> (Vec<IndexedCase>, Vec<Problem>) {
    let cache = HeaderCache::load(&dir.join("no-cache.jsonl"));
    let scanned = scan(dir, &cache, 2, &Default::default()).unwrap();
    let rule = RoiRule {
        pattern: pattern.map(|p| regex::RegexBuilder::new(p).case_insensitive(true).build().unwrap()),
        kind: SegmentationKind::Any,
        modality: Some("CT".into()),
    };
    cases(&scanned, &rule)
}

#[test]
fn index_pairs_each_series_with_its_seg_and_picks_the_roi() {
    let tmp = tempfile::tempdir().unwrap();
    write_collection(tmp.path());
    let (found, problems) = index(tmp.path(), Some("TUMOUR"));
    let summary: Vec<(&str, &str, usize, u32, &str)> = found
        .iter()
        .map(|c| (c.subject.as_str(), c.image_series.as_str(), c.image_files.len(), c.roi_number, c.roi_name.as_str()))
        .collect();
    assert_eq!(summary, [("P1", SERIES_UID, SLICES, 1, "tumour"), ("P2", SERIES_P2, SLICES, 1, "tumour")]);
    assert_eq!(found[0].segmentation_kind, "SEG");
    // P3 simply has no segmentation: listed, not an error.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(!problems[0].is_error && problems[0].subject.as_deref() == Some("P3"), "{problems:?}");

    // What the index found reads as the case: the series list, then the chosen segment.
    let list = tmp.path().join("p1.dcmlist");
    flow_radiomics::dicom::write_series_list(&list, &found[0].image_files).unwrap();
    let roi = Label::Number(found[0].roi_number);
    let (image, mask) =
        flow_radiomics::cohort::read_case_roi(&list, &found[0].segmentation, Some((&roi, 1.0)), 1).unwrap();
    assert_eq!(image.geometry.size, [COLS, ROWS, SLICES]);
    let expected: Vec<f64> = expected_mask(Some(1)).iter().map(|v| if *v != 0.0 { 1.0 } else { 0.0 }).collect();
    assert_eq!(mask.data, expected);
}

#[test]
fn index_names_what_makes_a_roi_ambiguous() {
    let tmp = tempfile::tempdir().unwrap();
    write_collection(tmp.path());
    // No pattern, three segments: each SEG patient is a problem that lists them.
    let (found, problems) = index(tmp.path(), None);
    assert!(found.is_empty());
    let p1 = problems.iter().find(|p| p.subject.as_deref() == Some("P1")).unwrap();
    assert!(p1.is_error && p1.message.contains("3 segments") && p1.message.contains("\"vessel\""), "{p1:?}");
    assert!(p1.message.contains("set `roi`"), "{p1:?}");
    // A pattern that two segments match ("tumour", "node"), and one that none does.
    let (_, problems) = index(tmp.path(), Some("o"));
    let p1 = problems.iter().find(|p| p.subject.as_deref() == Some("P1")).unwrap();
    assert!(p1.message.contains("2 segments match") && p1.message.contains("\"node\""), "{p1:?}");
    let (_, problems) = index(tmp.path(), Some("^gtv"));
    let p1 = problems.iter().find(|p| p.subject.as_deref() == Some("P1")).unwrap();
    assert!(p1.message.contains("no segment matches") && p1.message.contains("1 \"tumour\""), "{p1:?}");
}

#[test]
fn index_refuses_a_seg_in_another_frame_of_reference() {
    let tmp = tempfile::tempdir().unwrap();
    write_collection(tmp.path());
    // P2's SEG still references P2's series, but was drawn in P1's frame of reference.
    write_seg(
        &tmp.path().join("0014"),
        &SegSpec { patient: "P2", references: Some(SERIES_P2), frame: FRAME_UID, ..SegSpec::default() },
    );
    let (found, problems) = index(tmp.path(), Some("tumour"));
    assert_eq!(found.iter().map(|c| c.subject.as_str()).collect::<Vec<_>>(), ["P1"]);
    let p2 = problems.iter().find(|p| p.subject.as_deref() == Some("P2")).unwrap();
    assert!(p2.is_error, "{p2:?}");
    for part in ["0014", "FrameOfReferenceUID", FRAME_UID, FRAME_P2, SERIES_P2] {
        assert!(p2.message.contains(part), "{part} missing: {}", p2.message);
    }
}

#[test]
fn index_pairs_by_frame_of_reference_when_the_seg_names_no_series() {
    let tmp = tempfile::tempdir().unwrap();
    write_collection(tmp.path());
    write_seg(
        &tmp.path().join("0014"),
        &SegSpec { patient: "P2", references: None, frame: FRAME_P2, ..SegSpec::default() },
    );
    let (found, _) = index(tmp.path(), Some("tumour"));
    let p2 = found.iter().find(|c| c.subject == "P2").unwrap();
    assert_eq!(p2.image_series, SERIES_P2);
}

#[test]
fn index_names_an_unreadable_file_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    write_collection(tmp.path());
    let victim = tmp.path().join("0001");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..200]).unwrap();
    let (found, problems) = index(tmp.path(), Some("tumour"));
    let unreadable = problems.iter().find(|p| p.subject.is_none()).unwrap();
    assert!(unreadable.is_error && unreadable.message.contains("0001"), "{unreadable:?}");
    assert!(unreadable.message.contains("truncated"), "{unreadable:?}");
    // P1 lost a slice (the reader will say so when it reads the series); P2 is whole.
    assert_eq!(found.iter().find(|c| c.subject == "P2").unwrap().image_files.len(), SLICES);
}

#[test]
fn the_header_cache_reads_only_changed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let collection = tmp.path().join("collection");
    std::fs::create_dir(&collection).unwrap();
    write_collection(&collection);
    let cache_path = tmp.path().join("cache.jsonl");
    let cancel = Default::default();
    let cache = HeaderCache::load(&cache_path);
    let first = scan(&collection, &cache, 2, &cancel).unwrap();
    assert_eq!(first.headers_read, first.files.len());
    cache.save(&first.files).unwrap();

    let cache = HeaderCache::load(&cache_path);
    let again = scan(&collection, &cache, 2, &cancel).unwrap();
    assert_eq!(again.headers_read, 0);
    assert_eq!(
        again.files.iter().map(|f| &f.header).collect::<Vec<_>>(),
        first.files.iter().map(|f| &f.header).collect::<Vec<_>>()
    );

    // Rewritten (new stamp): read again. A damaged cache is an empty one.
    write_ct_slice_of("P3", &collection.join("0009"), SERIES_P3, 0, slice_position(0), FRAME_UID);
    assert_eq!(scan(&collection, &cache, 2, &cancel).unwrap().headers_read, 1);
    std::fs::write(&cache_path, "garbage").unwrap();
    let cache = HeaderCache::load(&cache_path);
    assert_eq!(scan(&collection, &cache, 2, &cancel).unwrap().headers_read, first.files.len());
}

// --- Compressed transfer syntaxes -------------------------------------------------------------

#[test]
fn jpeg_lossless_and_jpeg_2000_decode_to_the_native_voxels() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let read = |name: &str| {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(data.join(name), tmp.path().join(name)).unwrap();
        read_series(tmp.path()).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let native = read("ct-native.dcm");
    assert_eq!(native.geometry.size, [40, 36, 1]);
    assert!(native.data.iter().any(|v| *v > 0.0) && native.data.iter().any(|v| *v < -500.0), "a CT slice");
    for name in ["ct-jpeg-lossless.dcm", "ct-jpeg2000-lossless.dcm"] {
        let decoded = read(name);
        // GDCM rewrites decimal strings (-13.65 as -13.649999999999999): the grid is the same.
        assert_eq!(decoded.geometry.size, native.geometry.size, "{name}");
        assert_close(&decoded.geometry.origin, &native.geometry.origin, 1e-9, name);
        assert_eq!(decoded.data, native.data, "{name}: voxels differ");
    }
}

// --- Reading only the ROI's slices ------------------------------------------------------------

#[test]
fn a_series_read_around_its_roi_gives_the_roi_of_the_whole_series() {
    use flow_radiomics::cohort::read_roi;
    use flow_radiomics::roi::Roi;
    let tmp = tempfile::tempdir().unwrap();
    let ct = tmp.path().join("ct");
    std::fs::create_dir(&ct).unwrap();
    write_series(&ct);
    let seg = tmp.path().join("seg.dcm");
    write_seg(&seg, &SegSpec::default());
    for label in [1, 2] {
        let (image, mask) = read_case(&ct, &seg).unwrap();
        let whole = Roi::new(&image, &mask, label).unwrap();
        let boxed = read_roi(&ct, &seg, None, label, 1).unwrap();
        assert_eq!(boxed, whole, "segment {label}");
    }
    // Segment 2 has frames on slices 1 and 3 only: the pixels of slice 0 (c.dcm) are never
    // decoded, so cutting them short only fails a whole read.
    let bytes = std::fs::read(ct.join("c.dcm")).unwrap();
    std::fs::write(ct.join("c.dcm"), &bytes[..bytes.len() - 10]).unwrap();
    assert!(read_case(&ct, &seg).unwrap_err().to_string().contains("c.dcm"));
    assert_eq!(
        read_roi(&ct, &seg, None, 2, 1).unwrap().voxel_count,
        expected_mask(Some(2)).iter().filter(|v| **v != 0.0).count()
    );

    let Some(dir) = shared("ibsi1/ct_phantom_pat1_dicom/image") else { return };
    let Some(rs) = shared("ibsi1/ct_phantom_pat1_dicom/mask/DCM_RS_00060.dcm") else { return };
    let (image, mask) = read_case(&dir, &rs).unwrap();
    assert_eq!(read_roi(&dir, &rs, None, 1, 1).unwrap(), Roi::new(&image, &mask, 1).unwrap());
}
