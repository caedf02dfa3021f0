//! The seed's numbers on the real TCIA clinical table (NSCLC Radiogenomics, 211 rows). The file
//! is not in the repository: it is read from $FLOW_SHARED_DATA (default ../shared/data beside
//! the repository), and the test says loudly when it skips.

use std::path::PathBuf;

use flow_preprocess::clinical::{ClinicalOptions, ClinicalReport, NumericMissing, preprocess_clinical};

fn shared_data() -> PathBuf {
    match std::env::var_os("FLOW_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

fn real_clinical() -> Option<PathBuf> {
    let path = shared_data().join("nsclc-radiogenomics/NSCLCR01Radiogenomic_DATA_LABELS_2018-05-22_1500-shifted.csv");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPING: real clinical table not found at {} (set FLOW_SHARED_DATA)", path.display());
        None
    }
}

#[test]
fn seed_choices_give_147_patients_and_87_features() {
    let Some(path) = real_clinical() else { return };
    let (df, report) = preprocess_clinical(&path, &ClinicalOptions::default()).unwrap();
    assert_eq!(
        report,
        ClinicalReport {
            rows_read: 211,
            dropped_by_prefix: 49,
            dropped_missing: 15,
            imputed_cells: 0,
            rows_out: 147,
            numeric_features: 4,
            one_hot_features: 83,
        }
    );
    // case_id + 87 features + label.
    assert_eq!(df.shape(), (147, 89));
    let label = df.column("survival_status").unwrap().i64().unwrap();
    let dead: i64 = (0..label.len()).filter_map(|i| label.get(i)).sum();
    assert_eq!(dead, 53, "53 of the 147 died");
    for leak in ["time_to_death_days", "date_of_death", "ct_date", "pet_date", "date_of_last_known_alive"] {
        assert!(df.column(leak).is_err(), "{leak} leaks the label and must be dropped");
    }
    assert!(df.column("histology_adenocarcinoma").is_ok());
    assert!(df.column("pct_gg_75_lt_100pct").is_ok());
}

#[test]
fn imputation_keeps_every_r01_patient() {
    let Some(path) = real_clinical() else { return };
    let options = ClinicalOptions { missing: NumericMissing::Median, ..ClinicalOptions::default() };
    let (df, report) = preprocess_clinical(&path, &options).unwrap();
    assert_eq!(df.height(), 162);
    assert_eq!(report.imputed_cells, 16, "11 weights and 5 pack years were not collected");
}
