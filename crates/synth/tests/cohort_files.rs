//! The files a synthetic cohort writes, checked as a reader would: against the real TCIA
//! clinical table (when shared/data is present), against the formats' own rules, and for
//! byte-for-byte determinism.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use flow_synth::date::Date;
use flow_synth::vocab::CLINICAL_HEADER;
use flow_synth::{Cohort, CohortSpec, PANEL_GENES, SPACING_MM};
use nifti::{IntoNdArray, NiftiObject, ReaderOptions};

const REAL_CLINICAL: &str = "nsclc-radiogenomics/NSCLCR01Radiogenomic_DATA_LABELS_2018-05-22_1500-shifted.csv";

/// `$FLOW_SHARED_DATA`, or `shared/data` beside the repository.
fn shared_data() -> PathBuf {
    match std::env::var_os("FLOW_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// The real clinical table (header + rows), or `None` with a visible note when it is absent.
fn real_clinical() -> Option<Vec<Vec<String>>> {
    let path = shared_data().join(REAL_CLINICAL);
    if !path.exists() {
        eprintln!("skipping: {} not found (set FLOW_SHARED_DATA to the shared data directory)", path.display());
        return None;
    }
    Some(read_csv(&path))
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(path).unwrap();
    reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect()
}

/// A cohort with the default patients but small volumes, so a debug test run stays quick;
/// image size changes no clinical or genomic value and not who has imaging.
fn small_images() -> CohortSpec {
    CohortSpec { image_size: [32, 32, 16], ..CohortSpec::default() }
}

struct Written {
    _dir: tempfile::TempDir,
    root: PathBuf,
    cohort: Cohort,
    records: Vec<flow_synth::ImagingRecord>,
}

fn write_all(spec: CohortSpec, threads: usize) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let cohort = Cohort::generate(spec).unwrap();
    cohort.write_clinical(&root.join("clinical.csv")).unwrap();
    cohort.write_genomic(&root.join("genomic.tsv")).unwrap();
    fs::create_dir(root.join("imaging")).unwrap();
    let records = cohort.write_imaging(&root.join("imaging"), threads, &|| false).unwrap();
    Written { _dir: dir, root, cohort, records }
}

fn clinical_only() -> (tempfile::TempDir, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    let cohort = Cohort::generate(CohortSpec::default()).unwrap();
    let path = dir.path().join("clinical.csv");
    cohort.write_clinical(&path).unwrap();
    let rows = read_csv(&path);
    (dir, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column '{name}'"))
}

#[test]
fn header_is_the_real_one_with_case_id() {
    let (_dir, rows) = clinical_only();
    assert_eq!(rows[0], CLINICAL_HEADER.map(str::to_string));
    assert_eq!(rows[0].len(), 40);
    assert_eq!(rows[0][0], "Case ID");
    assert!(rows[0].contains(&"Histology ".to_string()), "the trailing space is part of the real header");
    let Some(real) = real_clinical() else { return };
    let mut expected = real[0].clone();
    assert_eq!(expected[0], "Patient ID");
    expected[0] = "Case ID".into();
    assert_eq!(rows[0], expected);
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.parse::<f64>().is_ok_and(f64::is_finite)
}

#[test]
fn every_value_is_spelled_as_in_the_real_file() {
    let Some(real) = real_clinical() else { return };
    let (_dir, ours) = clinical_only();
    for (index, name) in real[0].iter().enumerate().skip(1) {
        let real_values: BTreeSet<&str> = real[1..].iter().map(|r| r[index].as_str()).collect();
        let our_values: BTreeSet<&str> = ours[1..].iter().map(|r| r[index].as_str()).collect();
        let dates = real_values.iter().any(|v| Date::parse_mdy(v).is_some());
        let numbers = !dates && real_values.iter().filter(|v| is_number(v)).count() > 12;
        for value in &our_values {
            let fits = if dates {
                Date::parse_mdy(value).is_some() || real_values.contains(value)
            } else if numbers {
                is_number(value) || real_values.contains(value)
            } else {
                real_values.contains(value)
            };
            assert!(fits, "column '{name}': '{value}' is not a value of the real file");
        }
        // The missing-value spellings the real column uses, we use too (where the real file
        // uses one in more than one row).
        for token in ["Not Collected", "Not collected", "N/A", "Unknown", "Not Assessed"] {
            let real_count = real[1..].iter().filter(|r| r[index] == token).count();
            if real_count > 1 {
                assert!(our_values.contains(token), "column '{name}': the real file has '{token}', we never write it");
            }
        }
    }
}

#[test]
fn missing_values_sit_where_the_real_file_puts_them() {
    let (_dir, rows) = clinical_only();
    let header = &rows[0];
    let smoking = column(header, "Smoking status");
    let pack = column(header, "Pack Years");
    let weight = column(header, "Weight (lbs)");
    let quit = column(header, "Quit Smoking Year");
    let t_stage = column(header, "Pathological T stage");
    for row in &rows[1..] {
        let nonsmoker = row[smoking] == "Nonsmoker";
        assert_eq!(row[pack] == "N/A", nonsmoker, "{}: pack years of a nonsmoker are N/A, only theirs", row[0]);
        if row[smoking] != "Former" {
            assert_eq!(row[quit], "N/A", "{}", row[0]);
        }
        if row[0].starts_with("AMC") {
            assert_eq!(row[weight], "Not Collected");
            assert_eq!(row[t_stage], "Not Collected");
        } else {
            assert_ne!(row[t_stage], "Not Collected");
        }
    }
    let r01_weight_missing =
        rows[1..].iter().filter(|r| r[0].starts_with("R01") && r[weight] == "Not Collected").count();
    let r01_pack_missing = rows[1..].iter().filter(|r| r[0].starts_with("R01") && r[pack] == "Not Collected").count();
    // Real: 11 and 5 (15 patients in all).
    assert!((5..=15).contains(&r01_weight_missing), "{r01_weight_missing}");
    assert!((1..=10).contains(&r01_pack_missing), "{r01_pack_missing}");
}

#[test]
fn default_cohort_mirrors_the_real_counts_and_join() {
    let written = write_all(small_images(), 2);
    let rows = read_csv(&written.root.join("clinical.csv"));
    let header = &rows[0];
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len(), 211);
    assert_eq!(ids.iter().filter(|id| id.starts_with("R01-")).count(), 162);
    assert_eq!(ids.iter().filter(|id| id.starts_with("AMC-")).count(), 49);
    assert_eq!(ids[0], "AMC-001");
    assert_eq!(ids[49], "R01-001");
    assert_eq!(ids[210], "R01-162");

    let status = column(header, "Survival Status");
    let dead = rows[1..].iter().filter(|r| r[status] == "Dead").count();
    let dead_fraction = dead as f64 / 211.0;
    // Real: 63 of 211 dead, 58 of the 162 R01 patients.
    assert!((0.28..=0.37).contains(&dead_fraction), "dead fraction {dead_fraction}");
    let r01_dead = rows[1..].iter().filter(|r| r[0].starts_with("R01") && r[status] == "Dead").count();
    let r01_fraction = r01_dead as f64 / 162.0;
    assert!((0.30..=0.40).contains(&r01_fraction), "R01 dead fraction {r01_fraction}");

    // The seed's join: genomic LEFT JOIN clinical LEFT JOIN imaging, incomplete rows dropped,
    // clinical = R01 with weight and pack years collected.
    let weight = column(header, "Weight (lbs)");
    let pack = column(header, "Pack Years");
    let clinical: BTreeSet<&str> = rows[1..]
        .iter()
        .filter(|r| r[0].starts_with("R01") && r[weight] != "Not Collected" && r[pack] != "Not Collected")
        .map(|r| r[0].as_str())
        .collect();
    assert_eq!(clinical.len(), 147);
    let genomic_text = fs::read_to_string(written.root.join("genomic.tsv")).unwrap();
    let genomic_ids: BTreeSet<&str> = genomic_text.lines().next().unwrap().split('\t').skip(1).collect();
    assert_eq!(genomic_ids.len(), 130);
    // One folder per patient with imaging, named by its id, holding a one-row manifest.
    let mut imaging_ids = Vec::new();
    for entry in fs::read_dir(written.root.join("imaging")).unwrap() {
        let folder = entry.unwrap().path();
        let manifest = read_csv(&folder.join("manifest.csv"));
        assert_eq!(manifest[0], ["subject", "image", "mask"]);
        assert_eq!(manifest.len(), 2, "{}: one row", folder.display());
        assert_eq!(folder.file_name().unwrap().to_str(), Some(manifest[1][0].as_str()));
        assert_eq!(manifest[1][1..], ["image.nii.gz", "mask.nii.gz"]);
        imaging_ids.push(manifest[1][0].clone());
    }
    let imaging: BTreeSet<&str> = imaging_ids.iter().map(String::as_str).collect();
    assert_eq!(imaging.len(), 144);
    let joined = genomic_ids.iter().filter(|id| clinical.contains(*id) && imaging.contains(*id)).count();
    assert!((116..=122).contains(&joined), "join keeps {joined} patients, the seed kept 119");
    assert_eq!(written.cohort.summary().joined, joined);
    let joined_dead = rows[1..].iter().filter(|r| {
        let id = r[0].as_str();
        genomic_ids.contains(id) && clinical.contains(id) && imaging.contains(id) && r[status] == "Dead"
    });
    let joined_fraction = joined_dead.count() as f64 / joined as f64;
    assert!((0.25..=0.45).contains(&joined_fraction), "dead in the join: {joined_fraction}");
}

#[test]
fn dates_agree_with_each_other() {
    let (_dir, rows) = clinical_only();
    let h = &rows[0];
    let [status, death, ttd, ct, days, alive, recurrence, recurrence_date, location] = [
        "Survival Status",
        "Date of Death",
        "Time to Death (days)",
        "CT Date",
        "Days between CT and surgery",
        "Date of Last Known Alive",
        "Recurrence",
        "Date of Recurrence",
        "Recurrence Location",
    ]
    .map(|name| column(h, name));
    for row in &rows[1..] {
        let ct_date = Date::parse_mdy(&row[ct]).unwrap();
        let surgery = ct_date.plus_days(row[days].parse().unwrap());
        let last_alive = Date::parse_mdy(&row[alive]).unwrap();
        assert!(last_alive >= surgery, "{}", row[0]);
        if row[status] == "Dead" {
            let death_date = Date::parse_mdy(&row[death]).unwrap();
            let days_to_death: i64 = row[ttd].parse().unwrap();
            assert_eq!(death_date.days_since(surgery), days_to_death, "{}: time to death counts from surgery", row[0]);
            assert!(days_to_death > 0 && last_alive <= death_date, "{}", row[0]);
        } else {
            assert_eq!((row[death].as_str(), row[ttd].as_str()), ("N/A", "N/A"), "{}", row[0]);
        }
        match row[recurrence].as_str() {
            "yes" => {
                assert!(Date::parse_mdy(&row[recurrence_date]).unwrap() > surgery, "{}", row[0]);
                assert_ne!(row[location], "N/A");
            }
            _ => assert_eq!((row[recurrence_date].as_str(), row[location].as_str()), ("N/A", "N/A")),
        }
    }
}

#[test]
fn genomic_table_is_geo_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = Cohort::generate(CohortSpec::default()).unwrap();
    let path = dir.path().join("genomic.tsv");
    cohort.write_genomic(&path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header[0], "gene");
    assert!(header[1..].iter().all(|id| id.starts_with("R01-")));
    assert!(header[1..].windows(2).all(|w| w[0] < w[1]), "case ids in order");
    let mut genes = BTreeMap::new();
    let mut nan = 0;
    let mut values = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        assert_eq!(cells.len(), header.len(), "row {}", cells[0]);
        for cell in &cells[1..] {
            if *cell == "NaN" {
                nan += 1;
            } else {
                let value: f64 = cell.parse().unwrap();
                assert!(value.is_finite() && value >= 0.0, "{}: {cell}", cells[0]);
                values.push(value);
            }
        }
        assert!(genes.insert(cells[0].to_string(), ()).is_none(), "duplicate gene {}", cells[0]);
    }
    assert!(genes.len() >= 1000);
    for gene in PANEL_GENES {
        assert!(genes.contains_key(gene), "panel gene {gene} missing");
    }
    assert!(nan > 0, "GEO tables have NaN cells");
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    // FPKM-like: a median of a few units, a long right tail.
    assert!((0.5..20.0).contains(&median), "median {median}");
    assert!(values[values.len() - 1] > 100.0);
}

#[test]
fn label_depends_on_every_modality() {
    let cohort = Cohort::generate(CohortSpec { r01: 1500, amc: 300, ..CohortSpec::default() }).unwrap();
    let patients = cohort.patients();
    let gap = |score: &dyn Fn(&flow_synth::Patient) -> f64| {
        let mean = |dead: bool| {
            let values: Vec<f64> = patients.iter().filter(|p| p.dead == dead).map(score).collect();
            values.iter().sum::<f64>() / values.len() as f64
        };
        mean(true) - mean(false)
    };
    for (name, g) in [
        ("clinical", gap(&|p| p.latent.clinical_score)),
        ("genomic", gap(&|p| p.latent.genomic_score)),
        ("imaging", gap(&|p| p.latent.imaging_score)),
    ] {
        // Standardised scores: the dead sit well above the living on each one.
        assert!(g > 0.5, "{name}: dead minus alive = {g}");
    }
}

#[test]
fn same_spec_same_bytes_whatever_the_threads() {
    let spec = CohortSpec { r01: 24, amc: 6, genes: 60, image_size: [32, 32, 16], ..CohortSpec::default() };
    let one = write_all(spec.clone(), 1);
    let two = write_all(spec.clone(), 3);
    let files = |root: &Path| {
        let mut found = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    found.insert(path.strip_prefix(root).unwrap().to_path_buf(), fs::read(&path).unwrap());
                }
            }
        }
        found
    };
    let (a, b) = (files(&one.root), files(&two.root));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{} differs between runs", path.display());
    }
    assert!(a.len() > 3, "{:?}", a.keys());

    let other = Cohort::generate(CohortSpec { seed: 43, ..spec }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    other.write_clinical(&dir.path().join("c.csv")).unwrap();
    assert_ne!(fs::read(dir.path().join("c.csv")).unwrap(), a[Path::new("clinical.csv")]);
}

#[test]
fn nifti_volumes_round_trip() {
    let spec = CohortSpec { r01: 10, amc: 2, genes: 21, image_size: [48, 40, 20], ..CohortSpec::default() };
    let written = write_all(spec, 2);
    assert!(!written.records.is_empty());
    for record in &written.records {
        let image_path = written.root.join("imaging").join(&record.image);
        let mask_path = written.root.join("imaging").join(&record.mask);
        // gzip header: no file name (FLG = 0) and mtime 0, so bytes do not depend on the clock.
        let raw = fs::read(&image_path).unwrap();
        assert_eq!(&raw[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&raw[4..8], &[0, 0, 0, 0]);

        let image = ReaderOptions::new().read_file(&image_path).unwrap();
        let header = image.header();
        assert_eq!(&header.dim[..4], &[3, 48, 40, 20]);
        assert_eq!(header.data_type().unwrap(), nifti::NiftiType::Int16);
        assert_eq!(&header.pixdim[1..4], &SPACING_MM.map(|s| s as f32));
        assert_eq!(header.xyzt_units & 7, 2, "spatial unit mm");
        assert_eq!((header.sform_code, header.qform_code), (1, 1));
        assert_eq!(header.srow_x[0], 0.7f32);
        assert_eq!(header.srow_z[2], 2.5f32);
        let hu = image.into_volume().into_ndarray::<i16>().unwrap();

        let mask = ReaderOptions::new().read_file(&mask_path).unwrap();
        assert_eq!(mask.header().data_type().unwrap(), nifti::NiftiType::Uint8);
        assert_eq!(&mask.header().pixdim[1..4], &SPACING_MM.map(|s| s as f32));
        let mask = mask.into_volume().into_ndarray::<u8>().unwrap();
        assert_eq!(hu.shape(), &[48, 40, 20]);
        assert_eq!(mask.shape(), hu.shape());
        assert!(mask.iter().all(|&m| m <= 1));
        let inside = mask.iter().filter(|&&m| m == 1).count();
        assert_eq!(inside, record.mask_voxels, "{}", record.subject);
        assert!(inside > 50, "{}: tumour of {inside} voxels", record.subject);

        let mut outside: Vec<i16> = hu.iter().zip(mask.iter()).filter(|(_, m)| **m == 0).map(|(v, _)| *v).collect();
        outside.sort_unstable();
        let background = outside[outside.len() / 2];
        assert!((-900..=-780).contains(&background), "{}: lung at {background} HU", record.subject);
        let tumour: f64 = hu.iter().zip(mask.iter()).filter(|(_, m)| **m == 1).map(|(v, _)| f64::from(*v)).sum::<f64>()
            / inside as f64;
        assert!((-200.0..=120.0).contains(&tumour), "{}: tumour mean {tumour} HU", record.subject);
    }
}

#[test]
fn imaging_can_be_skipped() {
    let spec = CohortSpec { r01: 5, amc: 1, genes: 21, imaging: false, ..CohortSpec::default() };
    let written = write_all(spec, 1);
    assert!(written.records.is_empty());
    assert_eq!(fs::read_dir(written.root.join("imaging")).unwrap().count(), 0, "no patient folder");
}

#[test]
fn bad_specs_are_refused_with_the_parameter_named() {
    let cases = [
        (CohortSpec { r01: 0, ..CohortSpec::default() }, "r01"),
        (CohortSpec { genes: 20, ..CohortSpec::default() }, "genes"),
        (CohortSpec { image_size: [64, 8, 40], ..CohortSpec::default() }, "image_size[1]"),
        (CohortSpec { image_size: [4096, 4096, 4096], ..CohortSpec::default() }, "image_size"),
    ];
    for (spec, name) in cases {
        let message = Cohort::generate(spec).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(name), "{message}");
    }
}

/// CRC-32 and length of every file of a tiny cohort. The same params must give these bytes in
/// every build (debug or release, alone or inside the `flow` binary). If a change to the model
/// or a dependency update (miniz_oxide, the CSV writer) changes them on purpose, update the table
/// and bump the `synth.nsclc_cohort` kind version, so caches know the outputs changed.
#[test]
fn golden_bytes() {
    let spec = CohortSpec { r01: 4, amc: 1, genes: 30, image_size: [32, 32, 16], ..CohortSpec::default() };
    let written = write_all(spec, 2);
    let mut got = Vec::new();
    let manifests = written.records.iter().map(|r| format!("imaging/{}/manifest.csv", r.subject));
    for name in ["clinical.csv".to_string(), "genomic.tsv".to_string()].into_iter().chain(manifests) {
        let bytes = fs::read(written.root.join(&name)).unwrap();
        got.push((name, bytes.len(), crc32fast::hash(&bytes)));
    }
    for record in &written.records {
        for path in [&record.image, &record.mask] {
            let bytes = fs::read(written.root.join("imaging").join(path)).unwrap();
            got.push((path.clone(), bytes.len(), crc32fast::hash(&bytes)));
        }
    }
    let expected: Vec<(String, usize, u32)> = GOLDEN.iter().map(|(n, l, c)| (n.to_string(), *l, *c)).collect();
    assert_eq!(got, expected);
}

const GOLDEN: [(&str, usize, u32); 11] = [
    ("clinical.csv", 2287, 1539311068),
    ("genomic.tsv", 781, 3979477838),
    ("imaging/R01-001/manifest.csv", 52, 979328617),
    ("imaging/R01-002/manifest.csv", 52, 2311812010),
    ("imaging/R01-004/manifest.csv", 52, 898772589),
    ("R01-001/image.nii.gz", 22641, 3138248904),
    ("R01-001/mask.nii.gz", 661, 1656601587),
    ("R01-002/image.nii.gz", 23501, 1843909089),
    ("R01-002/mask.nii.gz", 723, 2574074281),
    ("R01-004/image.nii.gz", 23426, 2267581129),
    ("R01-004/mask.nii.gz", 637, 4169376547),
];
