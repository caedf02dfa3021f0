//! `imaging.radiomics` through the binary: a cohort manifest of small NRRD volumes written
//! here, with patients that cannot be measured, under `on_error: fail` and `skip`.

use std::path::Path;

use crate::util::Project;

/// Writes a little-endian raw NRRD of 16-bit voxels (x fastest) in LPS space.
fn write_nrrd(path: &Path, size: [usize; 3], spacing: [f64; 3], voxels: &[i16]) {
    assert_eq!(voxels.len(), size.iter().product::<usize>());
    let mut bytes = format!(
        "NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\nsizes: {} {} {}\n\
         space directions: ({},0,0) (0,{},0) (0,0,{})\nspace origin: (0,0,0)\nendian: little\nencoding: raw\n\n",
        size[0], size[1], size[2], spacing[0], spacing[1], spacing[2]
    )
    .into_bytes();
    bytes.extend(voxels.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

const SIZE: [usize; 3] = [6, 6, 3];
const SPACING: [f64; 3] = [0.8, 0.8, 2.5];

fn index(x: usize, y: usize, z: usize) -> usize {
    x + SIZE[0] * (y + SIZE[1] * z)
}

/// A CT-like ramp, so every patient's ROI has a known mean.
fn image() -> Vec<i16> {
    (0..SIZE.iter().product::<usize>()).map(|i| (i as i16) * 7 - 400).collect()
}

/// Label `label` on the block x, y in 1..4, z in 0..2 (18 voxels).
fn block_mask(label: i16) -> Vec<i16> {
    let mut mask = vec![0; SIZE.iter().product()];
    for z in 0..2 {
        for y in 1..4 {
            for x in 1..4 {
                mask[index(x, y, z)] = label;
            }
        }
    }
    mask
}

/// Four patients: P1 measurable, P2 with an empty mask, P3 whose mask has other spacing, P4
/// whose mask holds label 2 only.
fn write_cohort(project: &Project) {
    let dir = project.join("cohort");
    std::fs::create_dir_all(&dir).unwrap();
    for p in ["P1", "P2", "P3", "P4"] {
        write_nrrd(&dir.join(format!("{p}-ct.nrrd")), SIZE, SPACING, &image());
    }
    write_nrrd(&dir.join("P1-mask.nrrd"), SIZE, SPACING, &block_mask(1));
    write_nrrd(&dir.join("P2-mask.nrrd"), SIZE, SPACING, &block_mask(0));
    write_nrrd(&dir.join("P3-mask.nrrd"), SIZE, [0.8, 0.8, 3.0], &block_mask(1));
    write_nrrd(&dir.join("P4-mask.nrrd"), SIZE, SPACING, &block_mask(2));
    let mut manifest = String::from("subject,image,mask\n");
    for p in ["P1", "P2", "P3", "P4"] {
        manifest.push_str(&format!("{p},{p}-ct.nrrd,{p}-mask.nrrd\n"));
    }
    project.write("cohort/manifest.csv", &manifest);
}

fn workflow(with: &str) -> String {
    format!(
        "nodes:\n  imaging:\n    uses: imaging.radiomics\n    in: {{ images: file:cohort }}\n    with: {{ {with} }}\n\
         \x20 imaging_fg:\n    uses: featurestore.write\n    in: {{ table: imaging.table }}\n\
         \x20   with: {{ group: imaging, record_id: subject, event_time: t, event_time_value: \"2020-01-01T00:00:00Z\" }}\n\
         publish:\n  imaging.skipped: skipped.csv\n"
    )
}

#[test]
fn a_patient_that_cannot_be_measured_fails_the_node_with_its_files_named() {
    let project = Project::with_workflow(&workflow("on_error: fail"));
    write_cohort(&project);
    let out = project.run(&["-j", "1"]);
    // Bad patient data is the user's to fix: exit 2, not a failure of the run (1).
    out.assert_code(2)
        .assert_stderr_contains("patient P2")
        .assert_stderr_contains("P2-mask.nrrd")
        .assert_stderr_contains("no voxel labelled 1")
        .assert_stderr_contains("the mask is empty")
        .assert_stderr_contains("on_error: skip");
    assert!(!project.exists("skipped.csv"));
}

#[test]
fn on_error_skip_measures_the_rest_and_lists_who_was_skipped_and_why() {
    let project = Project::with_workflow(&workflow("on_error: skip"));
    write_cohort(&project);
    let run = project.run_ok(&[]);
    run.assert_statuses(&[("imaging", "ran"), ("imaging_fg", "ran")]);

    let skipped = project.read("skipped.csv");
    let lines: Vec<&str> = skipped.lines().collect();
    assert_eq!(lines.len(), 4, "{skipped}");
    assert_eq!(lines[0], "subject,image,mask,error");
    assert!(lines[1].starts_with("P2,") && lines[1].contains("the mask is empty"), "{skipped}");
    assert!(
        lines[2].starts_with("P3,")
            && lines[2].contains("geometry mismatch")
            && lines[2].contains("P3-ct.nrrd")
            && lines[2].contains("P3-mask.nrrd")
            && lines[2].contains("spacing"),
        "{skipped}"
    );
    assert!(lines[3].starts_with("P4,") && lines[3].contains("labels 2"), "{skipped}");

    // P1's row: the 107 default features, with values from its own voxels.
    let expected_mean = {
        let (image, mask) = (image(), block_mask(1));
        let roi: Vec<f64> = image.iter().zip(&mask).filter(|(_, m)| **m == 1).map(|(v, _)| f64::from(*v)).collect();
        roi.iter().sum::<f64>() / roi.len() as f64
    };
    let query = project.flow(&[
        "fs",
        "query",
        "SELECT subject, original_firstorder_Mean AS mean, original_shape_VoxelVolume AS volume FROM imaging",
    ]);
    query.assert_ok().assert_stdout_contains("P1").assert_stdout_contains(&format!("{expected_mean}"));
    // 18 voxels of 0.8 x 0.8 x 2.5 mm.
    query.assert_stdout_contains("28.8");
    let describe = project.flow(&["fs", "describe", "imaging"]);
    describe.assert_ok().assert_stdout_contains("schema (109 columns)");

    // Choosing label 2 measures P4 instead, reusing nothing of the first extraction.
    project.write(crate::util::WORKFLOW, &workflow("on_error: skip, label: 2"));
    let relabelled = project.run_ok(&[]);
    relabelled.assert_statuses(&[("imaging", "ran"), ("imaging_fg", "ran")]);
    assert!(project.read("skipped.csv").contains("\nP1,"));
}

#[test]
fn unknown_feature_class_is_a_load_error_with_a_suggestion() {
    let project = Project::with_workflow(&workflow("classes: [shape, glmc]"));
    write_cohort(&project);
    let out = project.run(&[]);
    out.assert_code(2)
        .assert_stderr_contains("flow.yaml:5:")
        .assert_stderr_contains("unknown feature class 'glmc'")
        .assert_stderr_contains("did you mean 'glcm'");
    assert!(!project.state().exists());
}

#[test]
fn an_id_column_named_like_the_features_is_a_load_error() {
    let project = Project::with_workflow(&workflow("id_column: original_shape_Elongation"));
    write_cohort(&project);
    let out = project.run(&[]);
    out.assert_code(2)
        .assert_stderr_contains("flow.yaml:5:")
        .assert_stderr_contains("id_column 'original_shape_Elongation' starts like the feature columns");
    assert!(!project.state().exists());
}
