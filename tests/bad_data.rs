//! Malformed data through the binary (issue 11, section 6): every bad input of a built-in kind
//! makes `flow run` exit 2 with a message naming the file and what is wrong, and
//! `on_error: skip` leaves out exactly the bad patients.
//!
//! Each case prints a `CORPUS` line (name, exit status, the error) so that
//! `cargo test --test integration bad_data -- --nocapture | grep CORPUS` lists the corpus.

use std::path::PathBuf;

use crate::util::{Output, Project};

// --- Writers ------------------------------------------------------------------------------

const SIZE: [usize; 3] = [6, 6, 3];
const VOXELS: usize = SIZE[0] * SIZE[1] * SIZE[2];

/// A raw little-endian NRRD of `double` voxels, so that any value (NaN too) can be written.
fn nrrd(voxels: &[f64]) -> Vec<u8> {
    let mut bytes = format!(
        "NRRD0004\ntype: double\ndimension: 3\nspace: left-posterior-superior\nsizes: {} {} {}\n\
         space directions: (0.8,0,0) (0,0.8,0) (0,0,2.5)\nspace origin: (0,0,0)\nendian: little\nencoding: raw\n\n",
        SIZE[0], SIZE[1], SIZE[2]
    )
    .into_bytes();
    bytes.extend(voxels.iter().flat_map(|v| v.to_le_bytes()));
    bytes
}

/// The same voxels as a gzip-encoded NRRD.
fn nrrd_gz(voxels: &[f64]) -> Vec<u8> {
    let raw = nrrd(voxels);
    let split = raw.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let header = String::from_utf8(raw[..split].to_vec()).unwrap().replace("encoding: raw", "encoding: gzip");
    let mut bytes = header.into_bytes();
    bytes.extend(gzip(&raw[split..]));
    bytes
}

/// A gzip file of stored (uncompressed) deflate blocks: valid gzip that any decoder reads,
/// written here because the test crate has no compression library of its own.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(65_535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend(crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A single-file NIfTI-1 of int16 voxels (qform identity, 0.8 x 0.8 x 2.5 mm), data at 352.
fn nifti(voxels: &[f64]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    let dims = [3, SIZE[0] as i16, SIZE[1] as i16, SIZE[2] as i16, 1, 1, 1, 1];
    put(40, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>());
    put(70, &4i16.to_le_bytes());
    put(72, &16i16.to_le_bytes());
    put(76, &[1f32, 0.8, 0.8, 2.5, 1.0, 1.0, 1.0, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    put(108, &352f32.to_le_bytes());
    put(344, b"n+1\0");
    h.extend(voxels.iter().flat_map(|v| (*v as i16).to_le_bytes()));
    h
}

/// A CT-like ramp.
fn ramp() -> Vec<f64> {
    (0..VOXELS).map(|i| i as f64 * 7.0 - 400.0).collect()
}

/// Label 1 on x, y in 1..4, z in 0..2 (18 voxels).
fn mask() -> Vec<f64> {
    (0..VOXELS)
        .map(|i| {
            let (x, y, z) = (i % SIZE[0], (i / SIZE[0]) % SIZE[1], i / (SIZE[0] * SIZE[1]));
            if (1..4).contains(&x) && (1..4).contains(&y) && z < 2 { 1.0 } else { 0.0 }
        })
        .collect()
}

/// A voxel inside the ROI: (1, 1, 0).
const IN_ROI: usize = 1 + SIZE[0];

fn ramp_with(value: f64) -> Vec<f64> {
    let mut image = ramp();
    image[IN_ROI] = value;
    image
}

fn cut(mut bytes: Vec<u8>, by: usize) -> Vec<u8> {
    bytes.truncate(bytes.len() - by);
    bytes
}

// --- The imaging corpus -----------------------------------------------------------------------

/// One bad patient: its image and mask files (name, bytes) and what the error must say.
struct BadPatient {
    name: &'static str,
    image: (&'static str, Vec<u8>),
    mask: (&'static str, Vec<u8>),
    expected: &'static str,
    /// Which of the two files the message must name.
    names_mask: bool,
}

fn bad_patients() -> Vec<BadPatient> {
    let good_mask = || ("mask.nrrd", nrrd(&mask()));
    let image = |name: &'static str, bytes: Vec<u8>, expected: &'static str| BadPatient {
        name,
        image: (if name.starts_with("nifti") { "ct.nii" } else { "ct.nrrd" }, bytes),
        mask: good_mask(),
        expected,
        names_mask: false,
    };
    let mut zero_dim = nifti(&ramp());
    zero_dim[46..48].copy_from_slice(&0i16.to_le_bytes());
    let mut probabilities = mask();
    probabilities[IN_ROI] = 0.999;
    let mut gz_nifti = gzip(&nifti(&ramp()));
    gz_nifti.truncate(gz_nifti.len() / 2);
    vec![
        image("nrrd-truncated", cut(nrrd(&ramp()), 100), "truncated: the header says 108 voxels of double"),
        image("nrrd-gzip-truncated", cut(nrrd_gz(&ramp()), 30), "gzip data is truncated or corrupt"),
        image("nrrd-not-nrrd", b"P6\n6 6\n255\n".to_vec(), "not a NRRD file"),
        image("nifti-header-truncated", nifti(&ramp())[..200].to_vec(), "truncated: the file holds 200 bytes"),
        image("nifti-data-truncated", cut(nifti(&ramp()), 10), "truncated: the header says 108 voxels of int16"),
        image("nifti-zero-dimension", zero_dim, "dim[3] is 0: a zero-length"),
        BadPatient {
            image: ("ct.nii.gz", gz_nifti),
            ..image("nifti-gzip-truncated", Vec::new(), "gzip data is truncated")
        },
        image("nan-voxel", nrrd(&ramp_with(f64::NAN)), "non-finite intensity"),
        image("minus-inf-voxel", nrrd(&ramp_with(f64::NEG_INFINITY)), "non-finite intensity"),
        image("plus-inf-voxel", nrrd(&ramp_with(f64::INFINITY)), "non-finite intensity"),
        image("1e12-voxel", nrrd(&ramp_with(1e12)), "set bin_width to at least"),
        image("1e20-voxel", nrrd(&ramp_with(1e20)), "set bin_width to at least"),
        BadPatient {
            name: "mask-0.999",
            image: ("ct.nrrd", nrrd(&ramp())),
            mask: ("mask.nrrd", nrrd(&probabilities)),
            expected: "the mask is not a label map",
            names_mask: true,
        },
        BadPatient {
            name: "mask-empty-file",
            image: ("ct.nrrd", nrrd(&ramp())),
            mask: ("mask.nrrd", Vec::new()),
            expected: "empty file",
            names_mask: true,
        },
    ]
}

/// A cohort folder: patient `good` then the bad ones, each in its own folder.
fn write_cohort(project: &Project, bad: &[BadPatient]) -> Vec<(String, PathBuf)> {
    let dir = project.join("cohort");
    let mut manifest = String::from("subject,image,mask\n");
    let mut named = Vec::new();
    let good = BadPatient {
        name: "good",
        image: ("ct.nrrd", nrrd(&ramp())),
        mask: ("mask.nrrd", nrrd(&mask())),
        expected: "",
        names_mask: false,
    };
    for patient in std::iter::once(&good).chain(bad) {
        std::fs::create_dir_all(dir.join(patient.name)).unwrap();
        let image = format!("{}/{}", patient.name, patient.image.0);
        let mask = format!("{}/{}", patient.name, patient.mask.0);
        std::fs::write(dir.join(&image), &patient.image.1).unwrap();
        std::fs::write(dir.join(&mask), &patient.mask.1).unwrap();
        manifest.push_str(&format!("{},{image},{mask}\n", patient.name));
        named.push((patient.name.to_string(), dir.join(if patient.names_mask { &mask } else { &image })));
    }
    std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
    named
}

fn imaging_workflow(on_error: &str) -> String {
    format!(
        "nodes:\n  imaging:\n    uses: imaging.radiomics\n    in: {{ images: file:cohort }}\n    with: {{ on_error: {on_error} }}\n\
         publish:\n  imaging.skipped: skipped.csv\n"
    )
}

/// The first line of the error, for the corpus listing.
fn error_line(out: &Output) -> String {
    let line = out.stderr.lines().find(|l| l.contains("error") || l.contains("patient") || l.contains(':'));
    line.unwrap_or("").trim().chars().take(220).collect()
}

fn corpus(name: &str, out: &Output) {
    println!("CORPUS\t{name}\texit {:?}\t{}", out.code, error_line(out));
}

#[test]
fn each_bad_image_or_mask_fails_the_node_with_exit_2_naming_patient_and_file() {
    for patient in bad_patients() {
        let project = Project::with_workflow(&imaging_workflow("fail"));
        let named = write_cohort(&project, std::slice::from_ref(&patient));
        let out = project.run(&["-j", "1"]);
        corpus(&format!("imaging {}", patient.name), &out);
        out.assert_code(2)
            .assert_stderr_contains(&format!("patient {}", patient.name))
            .assert_stderr_contains(&named[1].1.display().to_string())
            .assert_stderr_contains(patient.expected)
            .assert_stderr_contains("on_error: skip")
            .assert_stderr_lacks("panicked");
    }
}

#[test]
fn on_error_skip_leaves_out_exactly_the_bad_patients() {
    let project = Project::with_workflow(&imaging_workflow("skip"));
    let bad = bad_patients();
    write_cohort(&project, &bad);
    let mut manifest = project.read("cohort/manifest.csv");
    // More: a file the manifest names that is not there, and two good patients last, one of
    // them gzip-encoded by this file's own writer (which the truncated-gzip cases rely on).
    manifest.push_str(
        "missing-file,nowhere/ct.nrrd,good/mask.nrrd\nalso-good,good/ct.nrrd,good/mask.nrrd\n\
         gzipped,good/ct-gz.nrrd,good/mask.nrrd\n",
    );
    project.write("cohort/manifest.csv", &manifest);
    std::fs::write(project.join("cohort/good/ct-gz.nrrd"), nrrd_gz(&ramp())).unwrap();
    let run = project.run_ok(&["-j", "2"]);
    run.assert_statuses(&[("imaging", "ran")]);
    let skipped = project.read("skipped.csv");
    let subjects: Vec<&str> = skipped.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    let mut expected: Vec<&str> = bad.iter().map(|p| p.name).collect();
    expected.push("missing-file");
    assert_eq!(subjects, expected, "{skipped}");
    for patient in &bad {
        let line = skipped.lines().find(|l| l.starts_with(&format!("{},", patient.name))).unwrap();
        assert!(line.contains(patient.expected), "{line}");
    }
    assert!(skipped.contains("nowhere/ct.nrrd"), "{skipped}");
    let log = std::fs::read_to_string(run.node("imaging")["log"].as_str().unwrap()).unwrap();
    assert!(log.contains(&format!("3 patients measured, {} skipped", expected.len())), "{log}");
}

#[test]
fn a_cohort_of_only_bad_patients_under_skip_is_bad_input() {
    let project = Project::with_workflow(&imaging_workflow("skip"));
    project.write("cohort/manifest.csv", "subject,image,mask\nP1,p1.nrrd,m1.nrrd\n");
    std::fs::write(project.join("cohort/p1.nrrd"), nrrd(&ramp_with(f64::NAN))).unwrap();
    std::fs::write(project.join("cohort/m1.nrrd"), nrrd(&mask())).unwrap();
    let out = project.run(&[]);
    corpus("imaging only-bad-patients-skip", &out);
    out.assert_code(2).assert_stderr_contains("no patient could be measured").assert_stderr_contains("p1.nrrd");
}

#[test]
fn malformed_manifests_exit_2_with_the_line() {
    let cases: [(&str, &str, &str); 5] = [
        ("manifest-no-mask-column", "subject,image\nP1,a.nrrd\n", "no `mask` column"),
        ("manifest-duplicate-subject", "subject,image,mask\nP1,a,b\nP1,c,d\n", "line 3: subject `P1` is listed twice"),
        ("manifest-empty", "subject,image,mask\n", "lists no patient"),
        ("manifest-ragged-row", "subject,image,mask\nP1,a\n", "line 2: 2 fields where the header has 3"),
        ("manifest-empty-field", "subject,image,mask\nP1,,b\n", "line 2: the `image` field is empty"),
    ];
    for (name, manifest, expected) in cases {
        let project = Project::with_workflow(&imaging_workflow("skip"));
        project.write("cohort/manifest.csv", manifest);
        let out = project.run(&[]);
        corpus(&format!("imaging {name}"), &out);
        out.assert_code(2).assert_stderr_contains("manifest.csv").assert_stderr_contains(expected);
    }
}

// --- DICOM in another frame of reference ----------------------------------------------------------

fn shared(rel: &str) -> Option<PathBuf> {
    let base = std::env::var_os("FLOW_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let path = base.join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPING: {} not found (set FLOW_SHARED_DATA)", path.display());
        None
    }
}

/// The FrameOfReferenceUID (0020,0052) of a DICOM file, found in its bytes (implicit or
/// explicit VR little endian), without its padding.
fn frame_of_reference(bytes: &[u8]) -> Vec<u8> {
    let at = bytes.windows(4).position(|w| w == [0x20, 0x00, 0x52, 0x00]).expect("a FrameOfReferenceUID");
    let (start, len) = if &bytes[at + 4..at + 6] == b"UI" {
        (at + 8, u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize)
    } else {
        (at + 8, u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize)
    };
    let uid = &bytes[start..start + len];
    uid.strip_suffix(b"\0").unwrap_or(uid).to_vec()
}

fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> (Vec<u8>, usize) {
    assert_eq!(from.len(), to.len(), "same length keeps every DICOM length field right");
    let mut out = bytes.to_vec();
    let mut count = 0;
    let mut at = 0;
    while let Some(found) = out[at..].windows(from.len()).position(|w| w == from) {
        out[at + found..at + found + from.len()].copy_from_slice(to);
        at += found + from.len();
        count += 1;
    }
    (out, count)
}

#[test]
fn an_rtstruct_in_another_frame_of_reference_is_bad_input() {
    let (Some(series), Some(rtstruct)) =
        (shared("ibsi1/ct_phantom_pat1_dicom/image"), shared("ibsi1/ct_phantom_pat1_dicom/mask/DCM_RS_00060.dcm"))
    else {
        return;
    };
    let first_slice = std::fs::read_dir(&series).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    let frame = frame_of_reference(&std::fs::read(first_slice).unwrap());
    let mut other = frame.clone();
    let last = other.len() - 1;
    other[last] = if other[last] == b'9' { b'8' } else { b'9' };
    let (edited, count) = replace_all(&std::fs::read(&rtstruct).unwrap(), &frame, &other);
    assert!(count > 0, "the RTSTRUCT names the series' frame of reference");

    let project = Project::with_workflow(&imaging_workflow("fail"));
    std::fs::create_dir_all(project.join("cohort")).unwrap();
    std::fs::write(project.join("cohort/rs-other-frame.dcm"), edited).unwrap();
    project
        .write("cohort/manifest.csv", &format!("subject,image,mask\nPAT1,{},rs-other-frame.dcm\n", series.display()));
    let out = project.run(&[]);
    corpus("imaging rtstruct-other-frame-of-reference", &out);
    out.assert_code(2)
        .assert_stderr_contains("patient PAT1")
        .assert_stderr_contains("rs-other-frame.dcm")
        .assert_stderr_contains(&String::from_utf8_lossy(&other))
        .assert_stderr_contains("frame of reference");
}

/// The PAT1 series copied into the project, `spoil` applied to its slices (sorted by name), with
/// a manifest pairing it with PAT1's RTSTRUCT. `None` when the shared data is absent.
fn pat1_with(project: &Project, spoil: impl Fn(&[PathBuf])) -> Option<()> {
    let series = shared("ibsi1/ct_phantom_pat1_dicom/image")?;
    let rtstruct = shared("ibsi1/ct_phantom_pat1_dicom/mask/DCM_RS_00060.dcm")?;
    let copy = project.join("cohort/pat1");
    std::fs::create_dir_all(&copy).unwrap();
    let mut slices = Vec::new();
    for entry in std::fs::read_dir(&series).unwrap() {
        let from = entry.unwrap().path();
        let to = copy.join(from.file_name().unwrap());
        std::fs::write(&to, std::fs::read(&from).unwrap()).unwrap();
        slices.push(to);
    }
    slices.sort();
    spoil(&slices);
    project.write("cohort/manifest.csv", &format!("subject,image,mask\nPAT1,pat1,{}\n", rtstruct.display()));
    Some(())
}

#[test]
fn a_damaged_dicom_series_is_bad_input() {
    type Spoil = fn(&[PathBuf]);
    let cases: [(&str, Spoil, &[usize], &str); 3] = [
        (
            "dicom-slice-truncated",
            |s| std::fs::write(&s[30], &std::fs::read(&s[30]).unwrap()[..40_000]).unwrap(),
            &[30],
            "truncated: the file ends in the middle of a data element",
        ),
        // The gap is named by the slices either side of it.
        ("dicom-slice-missing", |s| std::fs::remove_file(&s[30]).unwrap(), &[29, 31], "non-uniform slice spacing"),
        ("dicom-slice-not-dicom", |s| std::fs::write(&s[30], vec![0u8; 200]).unwrap(), &[29, 31], "a slice is missing"),
    ];
    for (name, spoil, named_slices, expected) in cases {
        let project = Project::with_workflow(&imaging_workflow("fail"));
        if pat1_with(&project, spoil).is_none() {
            return;
        }
        let out = project.run(&[]);
        corpus(&format!("imaging {name}"), &out);
        out.assert_code(2).assert_stderr_contains("patient PAT1").assert_stderr_contains(expected);
        for slice in named_slices.iter() {
            out.assert_stderr_contains(&format!("DCM_IMG_{slice:05}.dcm"));
        }
    }
}

// --- Tables ---------------------------------------------------------------------------------------

const CLINICAL_HEADER: &str = "Case ID,Age at Histological Diagnosis,Weight (lbs),Pack Years,Days between CT and surgery,\
Smoking status,Survival Status";

fn clinical_workflow() -> &'static str {
    "nodes:\n  clinical:\n    uses: clinical.preprocess\n    in: { table: file:clinical.csv }\n    with: { drop_columns: [] }\n"
}

#[test]
fn malformed_clinical_tables_exit_2_even_when_the_filters_would_hide_the_row() {
    let good = "R01-001,70,150,10,5,Former,Dead";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "clinical-duplicate-id-in-filtered-rows",
            format!("{CLINICAL_HEADER}\nAMC-001,70,150,10,5,Former,Dead\nAMC-001,70,150,10,5,Former,Dead\n{good}\n")
                .into_bytes(),
            "clinical.csv:3: case id AMC-001 also appears on line 2",
        ),
        (
            "clinical-non-numeric-age-in-filtered-row",
            format!("{CLINICAL_HEADER}\nAMC-001,seventy,150,10,5,Former,Dead\n{good}\n").into_bytes(),
            "'Age at Histological Diagnosis': 'seventy' is not a finite number",
        ),
        (
            "clinical-infinite-weight",
            format!("{CLINICAL_HEADER}\n{good}\nR01-002,70,inf,10,5,Former,Dead\n").into_bytes(),
            "'Weight (lbs)': 'inf' is not a finite number",
        ),
        (
            "clinical-bad-label",
            format!("{CLINICAL_HEADER}\nR01-002,70,150,10,5,Former,dead\n").into_bytes(),
            "label 'Survival Status' is 'dead'",
        ),
        ("clinical-no-rows", format!("{CLINICAL_HEADER}\n").into_bytes(), "header but no rows"),
        (
            "clinical-only-filtered-rows",
            format!("{CLINICAL_HEADER}\nAMC-001,70,150,10,5,Former,Dead\nAMC-002,71,150,10,5,Former,Alive\n")
                .into_bytes(),
            "drop_id_prefixes [AMC] removed 2",
        ),
        (
            "clinical-all-rows-missing-a-value",
            format!("{CLINICAL_HEADER}\nR01-001,70,Not Collected,10,5,Former,Dead\n").into_bytes(),
            "drop_row removed 1",
        ),
        (
            "clinical-ragged-row",
            format!("{CLINICAL_HEADER}\nR01-001,70,150\n").into_bytes(),
            "clinical.csv:2: row has 3 fields where the header has 7",
        ),
        (
            "clinical-no-id-column",
            b"Name,Survival Status\nx,Dead\n".to_vec(),
            "an id column (Case ID or Patient ID) not in the header",
        ),
        (
            "clinical-not-utf8",
            [format!("{CLINICAL_HEADER}\n").into_bytes(), b"R01-001,70,150,10,5,Ex-fumeur \xe9,Dead\n".to_vec()]
                .concat(),
            "clinical.csv:2: text is not valid UTF-8",
        ),
        ("clinical-empty-file", Vec::new(), "the file is empty"),
    ];
    for (name, bytes, expected) in cases {
        let project = Project::with_workflow(clinical_workflow());
        std::fs::write(project.join("clinical.csv"), bytes).unwrap();
        let out = project.run(&[]);
        corpus(name, &out);
        out.assert_code(2).assert_stderr_contains("clinical.csv").assert_stderr_contains(expected);
    }
}

fn genomic_workflow(file: &str) -> String {
    format!(
        "nodes:\n  genomic:\n    uses: genomic.preprocess\n    in: {{ table: file:{file} }}\n    with: {{ panel: [VIM, CD44] }}\n"
    )
}

#[test]
fn malformed_expression_tables_exit_2() {
    let mut big = String::from("gene\tR01-001\tR01-002\n");
    for i in 0..3000 {
        big.push_str(&format!("G{i}\t{i}.5\t{i}\n"));
    }
    big.push_str("VIM\t1\t2\nCD44\t3\t4\n");
    let mut cut_gz = gzip(big.as_bytes());
    cut_gz.truncate(cut_gz.len() / 2);
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "genomic-no-gene-rows",
            "expr.tsv",
            b"gene\tR01-001\tR01-002\n".to_vec(),
            "expr.tsv:2: the table has a header but no gene rows",
        ),
        (
            "genomic-duplicate-case-column",
            "expr.tsv",
            b"gene\tA\tA\nVIM\t1\t2\nCD44\t1\t2\n".to_vec(),
            "duplicate case id 'A' in columns 2 and 3",
        ),
        (
            "genomic-duplicate-panel-gene",
            "expr.tsv",
            b"gene\tA\tB\nVIM\t1\t2\nCD44\t1\t2\nVIM\t3\t4\n".to_vec(),
            "expr.tsv:4: gene VIM appears twice (also on line 2)",
        ),
        (
            "genomic-non-numeric-cell",
            "expr.tsv",
            b"gene\tA\tB\nVIM\t1\thigh\nCD44\t1\t2\n".to_vec(),
            "row VIM, column 'B': 'high' is not a finite number",
        ),
        (
            "genomic-infinite-cell",
            "expr.tsv",
            b"gene\tA\tB\nVIM\t1\t-inf\nCD44\t1\t2\n".to_vec(),
            "'-inf' is not a finite number",
        ),
        (
            "genomic-panel-gene-missing",
            "expr.tsv",
            b"gene\tA\tB\nVIM\t1\t2\n".to_vec(),
            "panel genes not in the table: CD44",
        ),
        (
            "genomic-ragged-row",
            "expr.tsv",
            b"gene\tA\tB\nVIM\t1\nCD44\t1\t2\n".to_vec(),
            "expr.tsv:2: row has 2 fields where the header has 3",
        ),
        ("genomic-gzip-truncated", "expr.tsv.gz", cut_gz, "ends early or its gzip data is corrupt"),
        ("genomic-empty-file", "expr.tsv", Vec::new(), "the file is empty"),
    ];
    for (name, file, bytes, expected) in cases {
        let project = Project::with_workflow(&genomic_workflow(file));
        std::fs::write(project.join(file), bytes).unwrap();
        let out = project.run(&[]);
        corpus(name, &out);
        out.assert_code(2).assert_stderr_contains(file).assert_stderr_contains(expected).assert_stderr_lacks(":0:");
    }
    // NaN is missing by design: the same table with NaN cells runs.
    let project = Project::with_workflow(&genomic_workflow("expr.tsv"));
    project.write("expr.tsv", "gene\tA\tB\nVIM\tNaN\t2\nCD44\t1\t\n");
    project.run_ok(&[]);
}

#[test]
fn a_training_table_that_is_not_parquet_is_bad_input() {
    let project = Project::with_workflow(
        "nodes:\n  model:\n    uses: ml.train_gbdt\n    in: { train: file:train.parquet }\n    with: { num_boost_round: 2 }\n",
    );
    std::fs::write(project.join("train.parquet"), b"case_id,label\nP1,1\n").unwrap();
    let out = project.run(&[]);
    corpus("ml.train_gbdt not-parquet", &out);
    out.assert_code(2).assert_stderr_contains("train.parquet").assert_stderr_contains("not a readable Parquet table");
}
