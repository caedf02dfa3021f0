//! `workflows/multimodal.yaml` as a user runs it: no downloads, the synthetic cohort through
//! preprocessing into the feature store and the seed's join; then reruns and `flow fs`.

use crate::util::{Project, WORKFLOW};

const MULTIMODAL: &str = include_str!("../workflows/multimodal.yaml");

#[test]
fn multimodal_workflow_runs_caches_and_fills_the_feature_store() {
    let project = Project::with_workflow(MULTIMODAL);
    let first = project.run_ok(&[]);
    first.assert_all("ran");
    assert!(project.exists("results/multimodal-features.parquet"));

    // Nothing changed: nothing runs, and the published table is untouched.
    project.run_ok(&[]).assert_all("cached");

    let groups = project.flow(&["fs", "list"]);
    groups
        .assert_ok()
        .assert_stdout_contains("clinical_s42")
        .assert_stdout_contains("genomic_s42")
        .assert_stdout_contains("imaging_s42");
    // The seed's three-way join: genomic cases with clinical and imaging features. The synthetic
    // cohort, like the real one, has 119 patients in all three.
    let overlap = project.flow(&[
        "fs",
        "query",
        "SELECT COUNT(*) AS n FROM genomic_s42 AS g JOIN clinical_s42 AS c ON g.case_id = c.case_id \
         JOIN imaging_s42 AS i ON c.case_id = i.subject",
    ]);
    overlap.assert_ok().assert_stdout_contains("119");
    let count = project.flow(&["fs", "query", "SELECT COUNT(*) AS n FROM clinical_s42"]);
    count.assert_ok();
    // The synthetic cohort mirrors the real one: the seed's filter keeps about 147 R01 patients.
    let n: usize = count
        .stdout
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in:\n{}", count.context()));
    assert!((130..=160).contains(&n), "clinical rows: {n}");

    let record = project.flow(&["fs", "get", "genomic_s42", "no-such-patient"]);
    assert_ne!(record.code, Some(0), "{}", record.context());

    // Another cohort seed is another population, written to its own feature groups:
    // everything downstream of the cohort reruns.
    let reseeded = project.run_ok(&["-s", "seed=7"]);
    reseeded.assert_all("ran");
    assert_ne!(reseeded.output("joined", "table"), first.output("joined", "table"));
    project
        .flow(&["fs", "list"])
        .assert_ok()
        .assert_stdout_contains("clinical_s7")
        .assert_stdout_contains("clinical_s42");
}

#[test]
fn editing_the_sql_reruns_only_the_query() {
    let project = Project::with_workflow(MULTIMODAL);
    project.run_ok(&[]);
    let edited = MULTIMODAL.replace("ORDER BY genomic.case_id", "ORDER BY genomic.case_id DESC");
    assert_ne!(edited, MULTIMODAL, "the workflow's query changed shape; update this test");
    project.write(WORKFLOW, &edited);
    let run = project.run_ok(&[]);
    run.assert_statuses(&[
        ("cohort", "cached"),
        ("genomic", "cached"),
        ("clinical", "cached"),
        ("imaging", "cached"),
        ("genomic_fg", "cached"),
        ("clinical_fg", "cached"),
        ("imaging_fg", "cached"),
        ("joined", "ran"),
    ]);
}
