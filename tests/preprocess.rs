//! The tabular preprocessing nodes through the binary: genomic.preprocess on a GEO-style table,
//! clinical.preprocess on the real TCIA table (when ../shared/data is present).

use std::path::PathBuf;

use crate::util::Project;

const PANEL: [&str; 21] = [
    "LRIG1", "HPGD", "GDF15", "CDH2", "POSTN", "VCAN", "PDGFRA", "VCAM1", "CD44", "CD48", "CD4", "LYL1", "SPI1",
    "CD37", "VIM", "LMO2", "EGR2", "BGN", "COL4A1", "COL5A1", "COL5A2",
];

/// A GEO-style table: the panel genes plus two others, three cases, one NaN.
fn geo_table(skip: Option<&str>) -> String {
    let mut text = String::from("gene\tR01-001\tR01-002\tR01-003\n");
    for (i, gene) in PANEL.iter().chain(["ACTB", "GAPDH"].iter()).enumerate() {
        if Some(*gene) == skip {
            continue;
        }
        let missing = if i == 3 { "NaN" } else { "4.5" };
        text.push_str(&format!("{gene}\t{}\t{missing}\t{}\n", i as f64, i * 2));
    }
    text
}

const GENOMIC: &str = "nodes:\n  genomic:\n    uses: genomic.preprocess\n    in: { table: file:expr.tsv }\n";

#[test]
fn genomic_panel_table_is_built_and_cached() {
    let project = Project::with_workflow(GENOMIC);
    project.write("expr.tsv", &geo_table(None));
    let run = project.run_ok(&[]);
    run.assert_statuses(&[("genomic", "ran")]);
    let log = std::fs::read_to_string(run.node("genomic")["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("3 cases x 21 panel genes"), "{log}");
    project.run_ok(&[]).assert_all("cached");
}

#[test]
fn genomic_missing_panel_gene_fails_with_its_name() {
    let project = Project::with_workflow(GENOMIC);
    project.write("expr.tsv", &geo_table(Some("POSTN")));
    let out = project.run(&[]);
    // The table does not hold what the params ask for: the user's to fix, exit 2.
    out.assert_code(2).assert_stderr_contains("panel genes not in the table: POSTN").assert_stderr_contains("expr.tsv");
}

#[test]
fn genomic_bad_param_is_a_load_error() {
    let project = Project::with_workflow(&format!("{GENOMIC}    with: {{ missing: sometimes }}\n"));
    project.write("expr.tsv", &geo_table(None));
    let out = project.run(&[]);
    out.assert_code(2).assert_stderr_contains("flow.yaml:5:").assert_stderr_contains("use zero, keep, or a number");
    assert!(!project.state().exists());
}

fn real_clinical() -> Option<PathBuf> {
    let shared = std::env::var_os("FLOW_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let path = shared.join("nsclc-radiogenomics/NSCLCR01Radiogenomic_DATA_LABELS_2018-05-22_1500-shifted.csv");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPING: real clinical table not found at {} (set FLOW_SHARED_DATA)", path.display());
        None
    }
}

#[test]
fn clinical_on_the_real_table_keeps_147_patients() {
    let Some(path) = real_clinical() else { return };
    let project = Project::with_workflow(&format!(
        "nodes:\n  clinical:\n    uses: clinical.preprocess\n    in: {{ table: file:{} }}\n    with: {{ label: survival_status }}\n",
        path.display()
    ));
    let run = project.run_ok(&[]);
    let log = std::fs::read_to_string(run.node("clinical")["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("211 rows read, 49 dropped by id prefix, 15 dropped for a missing numeric value"), "{log}");
    assert!(log.contains("147 patients x 87 features"), "{log}");
}
