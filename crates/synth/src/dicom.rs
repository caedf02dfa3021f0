//! The synthetic imaging as a DICOM collection, laid out as TCIA's NBIA Data Retriever
//! delivers one: `PATIENT/STUDY/SERIES/1-NNN.dcm`. Each patient has one CT series (one file per
//! slice) and one segmentation of its tumour that references it: a DICOM SEG for most patients,
//! an RTSTRUCT for every fourth (ROIs "Lung" and "GTV-1"), as collections mix both.
//!
//! The voxels are those of the NIfTI files ([`crate::imaging::synthesize`]), so features from
//! either format agree: CT values are stored as unsigned 12-bit numbers with a Rescale
//! Intercept of −1024, as scanners write them; SEG frames are 1 bit per pixel; RTSTRUCT
//! contours are the outlines of the tumour voxels' runs along each row, so a centre-in-polygon
//! rasterisation gives back exactly the voxel mask. UIDs are `2.25.` UUID-derived numbers,
//! deterministic in the seed and patient, so the same cohort gives the same bytes.

use std::fs;
use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use crate::cohort::Patient;
use crate::imaging::{ImagingRecord, SPACING_MM, Volume, synthesize};
use crate::{CohortSpec, SynthError};

/// HU = stored + this, the usual CT encoding (stored values are unsigned).
const RESCALE_INTERCEPT: i32 = -1024;
/// Study date of every synthetic scan (DICOM DA).
const STUDY_DATE: &str = "20180522";

/// Which segmentation object a patient gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segmentation {
    Seg,
    RtStruct,
}

impl Segmentation {
    /// Every fourth patient of a site (by its position) has an RTSTRUCT, the others a SEG.
    pub fn of(patient: &Patient) -> Segmentation {
        if patient.site_index % 4 == 3 { Segmentation::RtStruct } else { Segmentation::Seg }
    }
}

/// The UIDs of one patient's objects.
struct Uids {
    study: String,
    frame_of_reference: String,
    ct_series: String,
    seg_series: String,
    seg_instance: String,
}

impl Uids {
    fn of(spec: &CohortSpec, patient: &Patient) -> Uids {
        let uid = |role: &str| uid(spec.seed, &patient.id, role);
        Uids {
            study: uid("study"),
            frame_of_reference: uid("frame-of-reference"),
            ct_series: uid("ct-series"),
            seg_series: uid("segmentation-series"),
            seg_instance: uid("segmentation-instance"),
        }
    }

    fn ct_instance(&self, slice: usize) -> String {
        format!("{}.{}", self.ct_series, slice + 1)
    }
}

/// A `2.25.` UID (a UUID as a decimal number, PS3.5 B.2) from the seed, patient and role: two
/// different 64-bit hashes of the same bytes, so equal inputs give equal UIDs everywhere.
fn uid(seed: u64, patient: &str, role: &str) -> String {
    let bytes: Vec<u8> = [&seed.to_le_bytes()[..], patient.as_bytes(), &[0], role.as_bytes()].concat();
    let hash = |offset: u64| {
        let mut h = offset;
        for &b in &bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        // splitmix64's finaliser spreads FNV's weak low bits.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    };
    let value = (u128::from(hash(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(hash(0x6c62_272e_07bb_0142));
    // A version-4-shaped UUID, as a random one would be; never 0, so no leading zero.
    let value = (value & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    format!("2.25.{value}")
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) {
    obj.put(DataElement::new(tag, vr, value.into()));
}

fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

fn item(fill: impl FnOnce(&mut InMemDicomObject)) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    fill(&mut obj);
    obj
}

/// Decimal strings (DS), shortest round-trip form.
fn ds(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::from(values.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join("\\"))
}

fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    item(|c| {
        put(c, tags::CODE_VALUE, VR::SH, value);
        put(c, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
        put(c, tags::CODE_MEANING, VR::LO, meaning);
    })
}

fn save(obj: InMemDicomObject, path: &Path) -> Result<(), SynthError> {
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .map_err(|e| SynthError::Internal(format!("DICOM file meta for {}: {e}", path.display())))?;
    file.write_to_file(path).map_err(|e| SynthError::io(path, std::io::Error::other(e.to_string())))
}

/// Where voxel (0, 0, 0) is, in patient coordinates (LPS, mm): the volume centred on 0.
fn origin(size: [usize; 3]) -> [f64; 3] {
    [0, 1, 2].map(|axis| -((size[axis] as f64 - 1.0) / 2.0) * SPACING_MM[axis])
}

fn slice_position(size: [usize; 3], z: usize) -> [f64; 3] {
    let o = origin(size);
    [o[0], o[1], o[2] + z as f64 * SPACING_MM[2]]
}

/// Patient and study attributes every object of the patient carries.
fn patient_module(obj: &mut InMemDicomObject, patient: &Patient, ids: &Uids) {
    put(obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put(obj, tags::PATIENT_NAME, VR::PN, patient.id.as_str());
    put(obj, tags::PATIENT_ID, VR::LO, patient.id.as_str());
    put(obj, tags::STUDY_INSTANCE_UID, VR::UI, ids.study.as_str());
    put(obj, tags::STUDY_DATE, VR::DA, STUDY_DATE);
    put(obj, tags::STUDY_ID, VR::SH, "1");
    put(obj, tags::STUDY_DESCRIPTION, VR::LO, "CT CHEST (synthetic)");
    put(obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, ids.frame_of_reference.as_str());
}

/// Writes one patient's collection under `dir/ID/`; the record names the CT series folder
/// and the segmentation file, relative to `dir`.
pub(crate) fn write_subject(spec: &CohortSpec, patient: &Patient, dir: &Path) -> Result<ImagingRecord, SynthError> {
    let volume = synthesize(spec, patient);
    let ids = Uids::of(spec, patient);
    let study = PathBuf::from(&patient.id).join("05-22-2018-CT CHEST-1");
    let series = study.join("2.000000-CT-1");
    let series_dir = dir.join(&series);
    fs::create_dir_all(&series_dir).map_err(|e| SynthError::io(&series_dir, e))?;
    for z in 0..volume.size[2] {
        write_ct_slice(&series_dir.join(format!("1-{:03}.dcm", z + 1)), patient, &ids, &volume, z)?;
    }
    let kind = Segmentation::of(patient);
    let (folder, file) = match kind {
        Segmentation::Seg => ("300.000000-Segmentation-1", "1-1.dcm"),
        Segmentation::RtStruct => ("3000.000000-RTSTRUCT-1", "1-1.dcm"),
    };
    let seg_dir = dir.join(&study).join(folder);
    fs::create_dir_all(&seg_dir).map_err(|e| SynthError::io(&seg_dir, e))?;
    let mask_path = seg_dir.join(file);
    match kind {
        Segmentation::Seg => write_seg(&mask_path, patient, &ids, &volume)?,
        Segmentation::RtStruct => write_rtstruct(&mask_path, patient, &ids, &volume)?,
    }
    Ok(ImagingRecord {
        subject: patient.id.clone(),
        image: series.to_string_lossy().into_owned(),
        mask: study.join(folder).join(file).to_string_lossy().into_owned(),
        mask_voxels: volume.mask_voxels(),
    })
}

fn write_ct_slice(path: &Path, patient: &Patient, ids: &Uids, volume: &Volume, z: usize) -> Result<(), SynthError> {
    let [nx, ny, _] = volume.size;
    let mut obj = InMemDicomObject::new_empty();
    patient_module(&mut obj, patient, ids);
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, ids.ct_instance(z));
    put(&mut obj, tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL");
    put(&mut obj, tags::MODALITY, VR::CS, "CT");
    put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, ids.ct_series.as_str());
    put(&mut obj, tags::SERIES_NUMBER, VR::IS, "2");
    put(&mut obj, tags::SERIES_DESCRIPTION, VR::LO, "CT (synthetic)");
    put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, (z + 1).to_string());
    put(&mut obj, tags::SLICE_THICKNESS, VR::DS, ds(&[SPACING_MM[2]]));
    put(&mut obj, tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&slice_position(volume.size, z)));
    put(&mut obj, tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
    put(&mut obj, tags::PIXEL_SPACING, VR::DS, ds(&[SPACING_MM[1], SPACING_MM[0]]));
    put(&mut obj, tags::ROWS, VR::US, ny as u16);
    put(&mut obj, tags::COLUMNS, VR::US, nx as u16);
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, 1u16);
    put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, 16u16);
    put(&mut obj, tags::BITS_STORED, VR::US, 12u16);
    put(&mut obj, tags::HIGH_BIT, VR::US, 11u16);
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, 0u16);
    put(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, RESCALE_INTERCEPT.to_string());
    put(&mut obj, tags::RESCALE_SLOPE, VR::DS, "1");
    put(&mut obj, tags::RESCALE_TYPE, VR::LO, "HU");
    let plane = &volume.image[z * nx * ny..(z + 1) * nx * ny];
    // The synthesiser clamps HU to [-1024, 3071], which is 0..=4095 stored: 12 bits.
    let pixels: Vec<u16> = plane.iter().map(|&hu| (i32::from(hu) - RESCALE_INTERCEPT) as u16).collect();
    put(&mut obj, tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into()));
    save(obj, path)
}

/// The CT slices a segmentation covers, for its references.
fn referenced_instances(ids: &Uids, slices: impl Iterator<Item = usize>) -> Vec<InMemDicomObject> {
    slices
        .map(|z| {
            item(|r| {
                put(r, tags::REFERENCED_SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE);
                put(r, tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, ids.ct_instance(z));
            })
        })
        .collect()
}

/// Slices holding at least one tumour voxel.
fn tumour_slices(volume: &Volume) -> Vec<usize> {
    let [nx, ny, nz] = volume.size;
    (0..nz).filter(|z| volume.mask[z * nx * ny..(z + 1) * nx * ny].contains(&1)).collect()
}

fn series_module(obj: &mut InMemDicomObject, ids: &Uids, modality: &str, description: &str) {
    put(obj, tags::MODALITY, VR::CS, modality);
    put(obj, tags::SERIES_INSTANCE_UID, VR::UI, ids.seg_series.as_str());
    put(obj, tags::SERIES_NUMBER, VR::IS, "300");
    put(obj, tags::SERIES_DESCRIPTION, VR::LO, description);
    put(obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    put(obj, tags::SOP_INSTANCE_UID, VR::UI, ids.seg_instance.as_str());
}

/// A BINARY SEG with one segment, "Tumour", and one frame per slice the tumour is on.
fn write_seg(path: &Path, patient: &Patient, ids: &Uids, volume: &Volume) -> Result<(), SynthError> {
    let [nx, ny, _] = volume.size;
    let slices = tumour_slices(volume);
    let mut obj = InMemDicomObject::new_empty();
    patient_module(&mut obj, patient, ids);
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::SEGMENTATION_STORAGE);
    series_module(&mut obj, ids, "SEG", "Tumour segmentation (synthetic)");
    put(&mut obj, tags::IMAGE_TYPE, VR::CS, "DERIVED\\PRIMARY");
    put(&mut obj, tags::CONTENT_LABEL, VR::CS, "TUMOUR");
    put(&mut obj, tags::SEGMENTATION_TYPE, VR::CS, "BINARY");
    put(&mut obj, tags::ROWS, VR::US, ny as u16);
    put(&mut obj, tags::COLUMNS, VR::US, nx as u16);
    put(&mut obj, tags::NUMBER_OF_FRAMES, VR::IS, slices.len().to_string());
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, 1u16);
    put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, 1u16);
    put(&mut obj, tags::BITS_STORED, VR::US, 1u16);
    put(&mut obj, tags::HIGH_BIT, VR::US, 0u16);
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, 0u16);
    put(&mut obj, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");
    let segment = item(|s| {
        put(s, tags::SEGMENT_NUMBER, VR::US, 1u16);
        put(s, tags::SEGMENT_LABEL, VR::LO, "Tumour");
        put(s, tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "MANUAL");
        put_seq(
            s,
            tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
            vec![code("49755003", "SCT", "Morphologically Abnormal Structure")],
        );
        put_seq(s, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE, vec![code("108369006", "SCT", "Neoplasm")]);
    });
    put_seq(&mut obj, tags::SEGMENT_SEQUENCE, vec![segment]);
    let referenced_series = item(|r| {
        put(r, tags::SERIES_INSTANCE_UID, VR::UI, ids.ct_series.as_str());
        put_seq(r, tags::REFERENCED_INSTANCE_SEQUENCE, referenced_instances(ids, slices.iter().copied()));
    });
    put_seq(&mut obj, tags::REFERENCED_SERIES_SEQUENCE, vec![referenced_series]);
    let shared = item(|g| {
        put_seq(
            g,
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![item(|m| {
                put(m, tags::PIXEL_SPACING, VR::DS, ds(&[SPACING_MM[1], SPACING_MM[0]]));
                put(m, tags::SLICE_THICKNESS, VR::DS, ds(&[SPACING_MM[2]]));
            })],
        );
        put_seq(
            g,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![item(|o| put(o, tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])))],
        );
    });
    put_seq(&mut obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]);
    let per_frame = slices
        .iter()
        .map(|&z| {
            item(|f| {
                put_seq(
                    f,
                    tags::DERIVATION_IMAGE_SEQUENCE,
                    vec![item(|d| put_seq(d, tags::SOURCE_IMAGE_SEQUENCE, referenced_instances(ids, [z].into_iter())))],
                );
                put_seq(
                    f,
                    tags::PLANE_POSITION_SEQUENCE,
                    vec![item(|p| put(p, tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&slice_position(volume.size, z))))],
                );
                put_seq(
                    f,
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    vec![item(|s| put(s, tags::REFERENCED_SEGMENT_NUMBER, VR::US, 1u16))],
                );
            })
        })
        .collect();
    put_seq(&mut obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame);
    // Frames back to back, one bit per pixel, least significant bit first (PS3.5 8.1.1).
    let plane = nx * ny;
    let mut bits = vec![0u8; (slices.len() * plane).div_ceil(8)];
    for (f, &z) in slices.iter().enumerate() {
        for (i, &m) in volume.mask[z * plane..(z + 1) * plane].iter().enumerate() {
            if m == 1 {
                let bit = f * plane + i;
                bits[bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    if bits.len() % 2 == 1 {
        bits.push(0);
    }
    put(&mut obj, tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(bits.into()));
    save(obj, path)
}

/// An RTSTRUCT with ROI 1 "Lung" (the whole field of view on every slice) and ROI 2 "GTV-1"
/// (the tumour): each run of tumour voxels along a row is one CLOSED_PLANAR rectangle through
/// the voxels' outer edges, so every voxel centre inside it is a tumour voxel and no other.
fn write_rtstruct(path: &Path, patient: &Patient, ids: &Uids, volume: &Volume) -> Result<(), SynthError> {
    let [nx, ny, nz] = volume.size;
    let o = origin(volume.size);
    // Index space (half-voxel corners allowed) to patient space.
    let point = |x: f64, y: f64, z: usize| {
        [o[0] + x * SPACING_MM[0], o[1] + y * SPACING_MM[1], slice_position(volume.size, z)[2]]
    };
    let rectangle = |x0: f64, x1: f64, y0: f64, y1: f64, z: usize| -> Vec<f64> {
        [point(x0, y0, z), point(x1, y0, z), point(x1, y1, z), point(x0, y1, z)].concat()
    };
    let contour = |points: Vec<f64>, z: usize| {
        item(|c| {
            put_seq(c, tags::CONTOUR_IMAGE_SEQUENCE, referenced_instances(ids, [z].into_iter()));
            put(c, tags::CONTOUR_GEOMETRIC_TYPE, VR::CS, "CLOSED_PLANAR");
            put(c, tags::NUMBER_OF_CONTOUR_POINTS, VR::IS, (points.len() / 3).to_string());
            put(c, tags::CONTOUR_DATA, VR::DS, ds(&points));
        })
    };
    let lung: Vec<InMemDicomObject> =
        (0..nz).map(|z| contour(rectangle(-0.5, nx as f64 - 0.5, -0.5, ny as f64 - 0.5, z), z)).collect();
    let mut tumour = Vec::new();
    for z in 0..nz {
        for y in 0..ny {
            let row = &volume.mask[nx * (y + ny * z)..nx * (y + 1 + ny * z)];
            let mut x = 0;
            while x < nx {
                if row[x] != 1 {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < nx && row[x] == 1 {
                    x += 1;
                }
                let (x0, x1, y) = (start as f64 - 0.5, x as f64 - 0.5, y as f64);
                tumour.push(contour(rectangle(x0, x1, y - 0.5, y + 0.5, z), z));
            }
        }
    }

    let mut obj = InMemDicomObject::new_empty();
    patient_module(&mut obj, patient, ids);
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, uids::RT_STRUCTURE_SET_STORAGE);
    series_module(&mut obj, ids, "RTSTRUCT", "RTSTRUCT (synthetic)");
    put(&mut obj, tags::STRUCTURE_SET_LABEL, VR::SH, "TUMOUR");
    put(&mut obj, tags::STRUCTURE_SET_DATE, VR::DA, STUDY_DATE);
    let referenced_frame = item(|f| {
        put(f, tags::FRAME_OF_REFERENCE_UID, VR::UI, ids.frame_of_reference.as_str());
        let study = item(|s| {
            put(s, tags::REFERENCED_SOP_CLASS_UID, VR::UI, "1.2.840.10008.3.1.2.3.1");
            put(s, tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, ids.study.as_str());
            let series = item(|r| {
                put(r, tags::SERIES_INSTANCE_UID, VR::UI, ids.ct_series.as_str());
                put_seq(r, tags::CONTOUR_IMAGE_SEQUENCE, referenced_instances(ids, 0..nz));
            });
            put_seq(s, tags::RT_REFERENCED_SERIES_SEQUENCE, vec![series]);
        });
        put_seq(f, tags::RT_REFERENCED_STUDY_SEQUENCE, vec![study]);
    });
    put_seq(&mut obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE, vec![referenced_frame]);
    let rois = [(1u16, "Lung", "ORGAN"), (2, "GTV-1", "GTV")];
    let structure_set_rois = rois
        .iter()
        .map(|&(number, name, _)| {
            item(|r| {
                put(r, tags::ROI_NUMBER, VR::IS, number.to_string());
                put(r, tags::REFERENCED_FRAME_OF_REFERENCE_UID, VR::UI, ids.frame_of_reference.as_str());
                put(r, tags::ROI_NAME, VR::LO, name);
                put(r, tags::ROI_GENERATION_ALGORITHM, VR::CS, "MANUAL");
            })
        })
        .collect();
    put_seq(&mut obj, tags::STRUCTURE_SET_ROI_SEQUENCE, structure_set_rois);
    let contours = vec![
        item(|r| {
            put(r, tags::REFERENCED_ROI_NUMBER, VR::IS, "1");
            put_seq(r, tags::CONTOUR_SEQUENCE, lung);
        }),
        item(|r| {
            put(r, tags::REFERENCED_ROI_NUMBER, VR::IS, "2");
            put_seq(r, tags::CONTOUR_SEQUENCE, tumour);
        }),
    ];
    put_seq(&mut obj, tags::ROI_CONTOUR_SEQUENCE, contours);
    let observations = rois
        .iter()
        .map(|&(number, _, kind)| {
            item(|o| {
                put(o, tags::OBSERVATION_NUMBER, VR::IS, number.to_string());
                put(o, tags::REFERENCED_ROI_NUMBER, VR::IS, number.to_string());
                put(o, tags::RTROI_INTERPRETED_TYPE, VR::CS, kind);
            })
        })
        .collect();
    put_seq(&mut obj, tags::RTROI_OBSERVATIONS_SEQUENCE, observations);
    save(obj, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_valid_distinct_and_deterministic() {
        let a = uid(42, "R01-001", "study");
        assert_eq!(a, uid(42, "R01-001", "study"));
        assert_ne!(a, uid(42, "R01-002", "study"));
        assert_ne!(a, uid(43, "R01-001", "study"));
        assert_ne!(a, uid(42, "R01-001", "ct-series"));
        assert!(a.len() <= 64 && a.starts_with("2.25.") && !a[5..].starts_with('0'), "{a}");
        assert!(a[5..].bytes().all(|b| b.is_ascii_digit()), "{a}");
    }
}
