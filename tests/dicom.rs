//! Imaging from a DICOM collection as TCIA delivers it: `workflows/multimodal-dicom.yaml`
//! gives the NIfTI workflow's features, and a collection given as a `file:` folder is indexed
//! once, re-indexed from its header cache, and reruns only the patient whose file changed.

use std::fs;
use std::path::{Path, PathBuf};

use flow_featurestore::offline::read_parquet;

use crate::util::{Project, RunJson};

const MULTIMODAL: &str = include_str!("../workflows/multimodal.yaml");
const MULTIMODAL_DICOM: &str = include_str!("../workflows/multimodal-dicom.yaml");

/// Small enough for a debug build, large enough that every site and both segmentation kinds
/// (an RTSTRUCT for every fourth patient of a site) occur.
const PATIENTS: &str = "patients=24";

fn object(project: &Project, digest: &str) -> PathBuf {
    project.state().join("cas").join(&digest[..2]).join(&digest[2..])
}

fn items(run: &RunJson, node: &str) -> (u64, u64, u64) {
    let items = &run.node(node)["items"];
    (items["ran"].as_u64().unwrap_or(0), items["cached"].as_u64().unwrap_or(0), items["failed"].as_u64().unwrap_or(0))
}

/// subject -> feature values, in column order, with the column names.
fn features(path: &Path) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let table = read_parquet(path).unwrap();
    let names: Vec<String> = table.get_column_names().iter().map(|n| n.to_string()).collect();
    let subjects = table.column("subject").unwrap().str().unwrap().clone();
    let mut rows = Vec::new();
    for (row, subject) in subjects.iter().enumerate() {
        let values = names[1..]
            .iter()
            .map(|name| table.column(name).unwrap().f64().unwrap().get(row).unwrap_or(f64::NAN))
            .collect();
        rows.push((subject.unwrap().to_string(), values));
    }
    (names, rows)
}

#[test]
fn the_dicom_collection_gives_the_nifti_features() {
    let project = Project::new();
    project.write("nifti.yaml", MULTIMODAL);
    project.write("dicom.yaml", MULTIMODAL_DICOM);
    let run = |workflow: &str| {
        let out = project.flow(&["run", "--json", workflow, "imaging", "-s", PATIENTS]);
        out.assert_code(0);
        out.json_run()
    };
    let dicom = run("dicom.yaml");
    let nifti = run("nifti.yaml");

    let index = fs::read_to_string(object(&project, &dicom.output("dicom_index", "manifest"))).unwrap();
    let kinds: Vec<&str> = index.lines().skip(1).map(|line| line.split(',').nth(7).unwrap_or("")).collect();
    assert!(kinds.contains(&"SEG") && kinds.contains(&"RTSTRUCT"), "both kinds indexed:\n{index}");
    let skipped = fs::read_to_string(object(&project, &dicom.output("dicom_index", "skipped"))).unwrap();
    assert_eq!(skipped.lines().count(), 1, "no patient left out:\n{skipped}");

    let (names, from_dicom) = features(&object(&project, &dicom.output("imaging", "table")));
    let (nifti_names, from_nifti) = features(&object(&project, &nifti.output("imaging", "table")));
    assert_eq!(names, nifti_names);
    assert_eq!(names.len(), 108, "subject and 107 features");
    let subjects = |rows: &[(String, Vec<f64>)]| rows.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    assert_eq!(subjects(&from_dicom), subjects(&from_nifti));
    assert_eq!(from_dicom.len(), kinds.len());
    // NIfTI stores the spacing as float32 (0.7 is 0.69999999), DICOM as the decimal "0.7": the
    // shape features differ by that rounding, nothing else does.
    let mut worst = (0.0f64, String::new());
    for ((subject, a), (_, b)) in from_dicom.iter().zip(&from_nifti) {
        for ((x, y), name) in a.iter().zip(b).zip(&names[1..]) {
            let d = if x == y || (x.is_nan() && y.is_nan()) { 0.0 } else { (x - y).abs() / x.abs().max(y.abs()) };
            if d > worst.0 {
                worst = (d, format!("{subject} {name}: {x} vs {y}"));
            }
        }
    }
    assert!(worst.0 <= 1e-6, "largest relative difference {:e} at {}", worst.0, worst.1);
}

/// A collection as a `file:` folder, indexed and measured per patient.
const COLLECTION_WORKFLOW: &str = "
nodes:
  index:
    uses: imaging.dicom_index
    in: { collection: file:collection }
    with: { roi: gtv|tumou?r }
  radiomics:
    uses: imaging.radiomics
    map: images
    in: { images: index.patients }
    with: { classes: [firstorder] }
";

/// Copies the synthetic DICOM collection of a small cohort into `collection/` of `project`.
fn synthetic_collection(project: &Project) {
    let maker = Project::with_workflow(
        "nodes:\n  cohort:\n    uses: synth.nsclc_cohort\n    with: { patients: 8, image_size: [32, 32, 16], imaging_format: dicom }\n",
    );
    let run = maker.run_ok(&[]);
    let tree = object(&maker, &run.output("cohort", "imaging"));
    copy_tree(&tree, &project.join("collection"));
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
            let mut permissions = fs::metadata(&target).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o644);
            fs::set_permissions(&target, permissions).unwrap();
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out.sort();
    out
}

#[test]
fn a_changed_slice_reruns_its_patient_only() {
    let project = Project::with_workflow(COLLECTION_WORKFLOW);
    synthetic_collection(&project);
    let first = project.run_ok(&[]);
    let patients = items(&first, "radiomics").0;
    assert!(patients >= 6, "{patients} patients measured");
    let log = project.flow(&["log", "index"]);
    assert!(log.stdout.contains("headers read"), "{}", log.stdout);

    // Touched, not changed: the collection's content is the same, nothing runs.
    let slice = files_under(&project.join("collection")).into_iter().find(|p| p.ends_with("1-005.dcm")).unwrap();
    let bytes = fs::read(&slice).unwrap();
    fs::write(&slice, &bytes).unwrap();
    project.run_ok(&[]).assert_all("cached");

    // One voxel of one slice changed: the index reads that header again, and only that
    // patient is measured again.
    let mut changed = bytes.clone();
    let last = changed.len() - 2;
    changed[last] ^= 0x01;
    fs::write(&slice, &changed).unwrap();
    let again = project.run_ok(&[]);
    assert_eq!(again.node("index")["status"], "ran");
    assert_eq!(items(&again, "radiomics"), (1, patients - 1, 0));
    let log = project.flow(&["log", "index"]);
    assert!(log.stdout.contains("(1 headers read"), "{}", log.stdout);
}

#[test]
fn a_flat_collection_with_uid_names_indexes_the_same() {
    let project = Project::with_workflow(COLLECTION_WORKFLOW);
    synthetic_collection(&project);
    let nested = project.run_ok(&[]);
    let manifest = |run: &RunJson| {
        let text = fs::read_to_string(object(&project, &run.output("index", "manifest"))).unwrap();
        // subject, series, segmentation kind, ROI: what the layout must not change.
        text.lines()
            .map(|l| {
                l.split(',')
                    .enumerate()
                    .filter(|(i, _)| [0, 2, 7, 9].contains(i))
                    .map(|(_, f)| f.to_string())
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let before = manifest(&nested);
    // Every file in one folder, named by a counter: no patient, study or series folders.
    let flat = project.join("flat");
    fs::create_dir(&flat).unwrap();
    for (i, file) in files_under(&project.join("collection")).iter().enumerate() {
        fs::rename(file, flat.join(format!("{i:05}"))).unwrap();
    }
    fs::write(flat.join("README.txt"), "not DICOM").unwrap();
    fs::remove_dir_all(project.join("collection")).unwrap();
    fs::rename(&flat, project.join("collection")).unwrap();
    let run = project.run_ok(&[]);
    assert_eq!(manifest(&run), before);
    // Same slices and masks, other paths: the features are the same, so the gathered table is.
    assert_eq!(run.output("radiomics", "table"), nested.output("radiomics", "table"));
}
