//! `workflows/multimodal.yaml` as a user runs it: no downloads, the synthetic cohort through
//! preprocessing into the feature store, the joins, four models and the report; then reruns
//! and `flow fs`.

use crate::util::{Project, WORKFLOW};

const MULTIMODAL: &str = include_str!("../workflows/multimodal.yaml");

/// Everything after the join: the four feature sets' chains, the tree baseline and the report.
const MODEL_NODES: [&str; 36] = [
    "genomic_set",
    "genomic_split",
    "genomic_scaled",
    "genomic_pca",
    "genomic_model",
    "genomic_predicted",
    "genomic_metrics",
    "genomic_bundle",
    "clinical_set",
    "clinical_split",
    "clinical_scaled",
    "clinical_pca",
    "clinical_model",
    "clinical_predicted",
    "clinical_metrics",
    "clinical_bundle",
    "imaging_set",
    "imaging_split",
    "imaging_scaled",
    "imaging_pca",
    "imaging_model",
    "imaging_predicted",
    "imaging_metrics",
    "imaging_bundle",
    "multimodal_set",
    "multimodal_split",
    "multimodal_scaled",
    "multimodal_pca",
    "multimodal_model",
    "multimodal_predicted",
    "multimodal_metrics",
    "multimodal_bundle",
    "tree_model",
    "tree_predicted",
    "tree_metrics",
    "report",
];

#[test]
fn multimodal_workflow_runs_caches_and_fills_the_feature_store() {
    let project = Project::with_workflow(MULTIMODAL);
    let first = project.run_ok(&[]);
    first.assert_all("ran");
    assert!(project.exists("results/multimodal-features.parquet"));
    let html = project.read("results/report/report.html");
    for figure in ["roc", "confusion", "explained_variance", "pca_heatmap", "correlation_circle", "dag"] {
        assert!(project.exists(&format!("results/report/{figure}.svg")), "no {figure}.svg");
    }
    assert!(html.contains("multimodal") && html.contains("imaging") && !html.contains("http://"), "report.html");

    // Nothing changed: nothing runs, and the published table is untouched.
    project.run_ok(&[]).assert_all("cached");

    // The report is a pure function of its inputs: rebuilt in a run where everything upstream
    // came from the cache (here because its stored copy was damaged), it has the same bytes
    // as when the whole pipeline ran.
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = crate::util::walk(&project.join("results/report"))
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let report = project
        .state()
        .join("cas")
        .join(&first.output("report", "report")[..2])
        .join(&first.output("report", "report")[2..]);
    let page = report.join("report.html");
    std::fs::set_permissions(&page, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(&page, "damaged").unwrap();
    let rebuilt = project.run_ok(&[]);
    assert_eq!(rebuilt.statuses().values().filter(|s| *s == "ran").count(), 1, "{}", rebuilt.context());
    assert_eq!(rebuilt.output("report", "report"), first.output("report", "report"));
    for (path, bytes) in before {
        assert!(std::fs::read(&path).unwrap() == bytes, "{} changed", path.display());
    }

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
    // The first ORDER BY is the join's; the feature sets' queries come after it.
    let edited = MULTIMODAL.replacen("ORDER BY genomic.case_id", "ORDER BY genomic.case_id DESC", 1);
    assert_ne!(edited, MULTIMODAL, "the workflow's query changed shape; update this test");
    project.write(WORKFLOW, &edited);
    let run = project.run_ok(&[]);
    run.assert_statuses(
        &[
            ("cohort", "cached"),
            ("genomic", "cached"),
            ("clinical", "cached"),
            ("radiomics", "cached"),
            ("imaging", "cached"),
            ("genomic_fg", "cached"),
            ("clinical_fg", "cached"),
            ("imaging_fg", "cached"),
            ("joined", "ran"),
        ]
        .into_iter()
        .chain(MODEL_NODES.iter().map(|n| (*n, "cached")))
        .collect::<Vec<_>>(),
    );
}

/// The metrics table `flow run` prints: a header, one row per feature set and model, then a
/// sentence on what the intervals allow.
fn metrics_rows(stdout: &str) -> Vec<Vec<String>> {
    let table = stdout.split("report.table\n").nth(1).unwrap_or_else(|| panic!("no metrics table in:\n{stdout}"));
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("With ") && !l.starts_with("The "))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn the_run_ends_with_the_metrics_table_and_a_training_edit_reruns_only_the_models() {
    let project = Project::with_workflow(MULTIMODAL);
    let first = project.flow(&["run", WORKFLOW]);
    first.assert_ok();
    let rows = metrics_rows(&first.stdout);
    let sets: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(sets, ["genomic", "clinical", "imaging", "multimodal", "multimodal"], "{}", first.stdout);
    for row in &rows {
        // n, accuracy, its interval, F1, precision, recall, AUC.
        let n = &row[row.len() - 7];
        assert_eq!(n, "24", "the test set's size: {row:?}");
        let (low, high) = row[row.len() - 5].split_once('-').unwrap_or_else(|| panic!("an interval: {row:?}"));
        let accuracy: f64 = row[row.len() - 6].parse().unwrap();
        let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
        assert!(low <= accuracy && accuracy <= high, "{row:?}");
        let values: Vec<f64> = row[row.len() - 4..].iter().map(|v| v.parse().unwrap()).collect();
        assert!(values.iter().chain([&accuracy]).all(|v| (0.0..=1.0).contains(v)), "{row:?}");
    }
    assert!(first.stdout.contains("With 24 test patients the 95% intervals"), "{}", first.stdout);
    // Cached runs print the same table.
    let cached = project.flow(&["run", WORKFLOW]);
    assert_eq!(metrics_rows(&cached.stdout), rows);

    let edited = MULTIMODAL.replace("  eta: 0.1\n", "  eta: 0.2\n");
    assert_ne!(edited, MULTIMODAL, "the workflow's eta changed shape; update this test");
    project.write(WORKFLOW, &edited);
    let run = project.run_ok(&[]);
    let statuses = run.statuses();
    for (node, status) in &statuses {
        let retrained = ["_model", "_predicted", "_metrics", "_bundle"].iter().any(|s| node.ends_with(s))
            && !node.starts_with("tree_");
        let expected = if retrained || node == "report" { "ran" } else { "cached" };
        assert_eq!(status, expected, "{node}\n{}", run.context());
    }
    assert_eq!(statuses.values().filter(|s| *s == "ran").count(), 17);
}

/// (ran, cached, failed) items of a mapped node.
fn items(run: &crate::util::RunJson, node: &str) -> (u64, u64, u64) {
    let items = &run.node(node)["items"];
    (items["ran"].as_u64().unwrap_or(0), items["cached"].as_u64().unwrap_or(0), items["failed"].as_u64().unwrap_or(0))
}

/// Rows each ingestion of a feature group wrote, oldest first, from the group's manifest.
fn rows_written(project: &Project, group: &str) -> Vec<u64> {
    let path = project.state().join("featurestore").join(group).join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    manifest["ingestions"].as_array().map(|a| a.iter().filter_map(|i| i["rows"].as_u64()).collect()).unwrap_or_default()
}

#[test]
fn enrolling_one_patient_measures_only_that_patient_and_matches_a_cold_run() {
    let project = Project::with_workflow(MULTIMODAL);
    let first = project.run_ok(&[]);
    let (measured, _, _) = items(&first, "radiomics");
    assert!(measured > 100, "the cohort's imaging is one item per patient: {measured}\n{}", first.context());
    assert_eq!(items(&first, "radiomics"), (measured, 0, 0));

    let added = project.run_ok(&["-s", "patients=212"]);
    assert_eq!(items(&added, "radiomics"), (1, measured, 0), "exactly the new patient is measured");
    let statuses = added.statuses();
    for node in ["cohort", "radiomics", "imaging", "imaging_fg", "joined", "imaging_metrics", "multimodal_metrics"] {
        assert_eq!(statuses[node], "ran", "{node}\n{}", added.context());
    }
    // The imaging group gets a version holding the new record only; the rest is not rewritten.
    assert_eq!(rows_written(&project, "imaging_s42"), [measured, 1]);

    // Incremental is not approximate: a cold run of the larger cohort gives the same tables.
    let cold = Project::with_workflow(MULTIMODAL).run_ok(&["-s", "patients=212"]);
    for (node, port) in [("imaging", "table"), ("joined", "table"), ("multimodal_set", "table")] {
        assert_eq!(added.output(node, port), cold.output(node, port), "{node}.{port} differs from a cold run");
    }
}
