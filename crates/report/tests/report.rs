//! The report end to end on a realistic synthetic input: the seed's 4 feature sets, 215
//! features (21 genomic, 87 clinical, 107 imaging), a multimodal PCA keeping 65 of 94
//! components for 99% of the variance, and a 28-node workflow.
//!
//! Set `FLOW_REPORT_OUT=dir` to keep the rendered report there and look at it.

use std::collections::BTreeMap;
use std::path::Path;

use flow_report::{
    Dag, DagEdge, DagNode, Error, Feature, FeatureSetReport, Intervals, Metrics, PcaSummary, ReportInput, RocPoint,
    format_metric, render,
};

/// SplitMix64: a fixed generator, so the input (and the golden bytes) never change.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

const GENES: [&str; 21] = [
    "LRIG1", "HPGD", "GDF15", "CDH2", "POSTN", "VCAN", "PDGFRA", "VCAM1", "CD44", "CD48", "CD4", "LYL1", "SPI1",
    "CD37", "VIM", "LMO2", "EGR2", "BGN", "COL4A1", "COL5A1", "COL5A2",
];

fn clinical_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "Age at Histological Diagnosis",
        "Weight (lbs)",
        "Pack Years",
        "Quit Smoking Year",
        "%GG",
        "Days between CT and surgery",
        "Gender_Male",
        "Smoking status_Current",
        "Smoking status_Former",
        "Smoking status_Nonsmoker",
        "Histology_Adenocarcinoma",
        "Histology_Squamous cell carcinoma",
        "Histology_NSCLC NOS (not otherwise specified)",
        "Pathological T stage_T1a",
        "Pathological T stage_T1b",
        "Pathological T stage_T2a",
        "Pathological T stage_T2b",
        "Pathological T stage_T3",
        "Pathological N stage_N0",
        "Pathological N stage_N1",
        "Pathological N stage_N2",
        "EGFR mutation status_Mutant",
        "KRAS mutation status_Mutant",
        "ALK translocation status_Wildtype",
        "Adjuvant Treatment_Yes",
        "Chemotherapy_Yes",
        "Radiation_Yes",
        "Recurrence_yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut i = 1;
    while names.len() < 87 {
        names.push(format!("Tumor Location (choice={i})"));
        i += 1;
    }
    names
}

fn imaging_names() -> Vec<String> {
    let classes: [(&str, &[&str]); 7] = [
        (
            "shape",
            &[
                "Elongation",
                "Flatness",
                "LeastAxisLength",
                "MajorAxisLength",
                "Maximum2DDiameterSlice",
                "MeshVolume",
                "Sphericity",
                "SurfaceArea",
                "SurfaceVolumeRatio",
                "VoxelVolume",
            ],
        ),
        (
            "firstorder",
            &[
                "10Percentile",
                "90Percentile",
                "Energy",
                "Entropy",
                "InterquartileRange",
                "Kurtosis",
                "Maximum",
                "Mean",
                "Median",
                "Minimum",
                "Skewness",
                "Uniformity",
                "Variance",
            ],
        ),
        (
            "glcm",
            &[
                "Autocorrelation",
                "ClusterProminence",
                "ClusterShade",
                "Contrast",
                "Correlation",
                "DifferenceEntropy",
                "Idm",
                "Imc1",
                "Imc2",
                "JointEnergy",
                "JointEntropy",
                "MaximumProbability",
                "SumEntropy",
            ],
        ),
        ("glrlm", &["GrayLevelNonUniformity", "LongRunEmphasis", "RunEntropy", "RunPercentage", "ShortRunEmphasis"]),
        (
            "glszm",
            &[
                "GrayLevelVariance",
                "LargeAreaHighGrayLevelEmphasis",
                "SmallAreaLowGrayLevelEmphasis",
                "ZoneEntropy",
                "ZonePercentage",
            ],
        ),
        (
            "gldm",
            &["DependenceEntropy", "DependenceNonUniformity", "LargeDependenceEmphasis", "SmallDependenceEmphasis"],
        ),
        ("ngtdm", &["Busyness", "Coarseness", "Complexity", "Contrast", "Strength"]),
    ];
    let mut names = Vec::new();
    'outer: for round in 0.. {
        for (class, features) in classes {
            for feature in features {
                if names.len() == 107 {
                    break 'outer;
                }
                let suffix = if round == 0 { String::new() } else { format!("_{round}") };
                names.push(format!("original_{class}_{feature}{suffix}"));
            }
        }
    }
    names
}

fn features(modality: &str) -> Vec<Feature> {
    let names: Vec<String> = match modality {
        "genomic" => GENES.iter().map(|g| g.to_string()).collect(),
        "clinical" => clinical_names(),
        "imaging" => imaging_names(),
        _ => unreachable!(),
    };
    names.into_iter().map(|name| Feature { name, modality: modality.to_string() }).collect()
}

/// Ratios over `n` components, geometric with `decay`, the first `k` summing to just over 0.99.
fn ratios(n: usize, k: usize, decay: f64) -> Vec<f64> {
    let head: Vec<f64> = (0..k).map(|i| decay.powi(i as i32)).collect();
    let head_sum: f64 = head.iter().sum();
    let tail = n - k;
    let tail_sum: f64 = (0..tail).map(|i| 0.9f64.powi(i as i32)).sum();
    let mut out: Vec<f64> = head.iter().map(|r| r / head_sum * 0.9905).collect();
    out.extend((0..tail).map(|i| 0.9f64.powi(i as i32) / tail_sum * 0.0095));
    out
}

fn pca(rng: &mut Rng, features: Vec<Feature>, n: usize, k: usize, decay: f64) -> PcaSummary {
    let modalities = ["imaging", "clinical", "genomic"];
    let components = (0..k)
        .map(|j| {
            // Leading components load mostly on one modality each, as real PCs of mixed data do.
            let favoured = modalities[j % 3];
            let mut row: Vec<f64> = features
                .iter()
                .map(|f| rng.normal() * if j < 9 && f.modality == favoured { 3.0 } else { 1.0 })
                .collect();
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
            row
        })
        .collect();
    PcaSummary {
        explained_variance_ratio: ratios(n, k, decay),
        n_components: k,
        variance_target: 0.99,
        features,
        components,
        correlations: None,
    }
}

/// Metrics from synthetic scores of 24 test patients (9 dead) with separation `skill`.
fn metrics(rng: &mut Rng, skill: f64) -> Metrics {
    let mut scored: Vec<(f64, bool)> =
        (0..24).map(|i| i < 9).map(|dead| (rng.normal() + if dead { skill } else { 0.0 }, dead)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (positives, negatives) = (9.0, 15.0);
    let mut roc = vec![RocPoint { fpr: 0.0, tpr: 0.0 }];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (_, dead) in &scored {
        if *dead {
            tp += 1.0
        } else {
            fp += 1.0
        }
        roc.push(RocPoint { fpr: fp / negatives, tpr: tp / positives });
    }
    let auc: f64 = roc.windows(2).map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0).sum();
    let threshold = skill / 2.0;
    let mut confusion = [[0u64; 2]; 2];
    for (score, dead) in &scored {
        confusion[*dead as usize][(*score > threshold) as usize] += 1;
    }
    let [[tn, fp], [fneg, tp]] = confusion.map(|row| row.map(|c| c as f64));
    let accuracy = (tn + tp) / 24.0;
    let class = |tp: f64, fp: f64, fneg: f64| {
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let recall = tp / (tp + fneg);
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        (precision, recall, f1)
    };
    let (p1, r1, f1) = class(tp, fp, fneg);
    let (p0, r0, f0) = class(tn, fneg, fp);
    let w = |a: f64, b: f64| (a * negatives + b * positives) / 24.0;
    Metrics {
        accuracy,
        precision: w(p0, p1),
        recall: w(r0, r1),
        f1: w(f0, f1),
        roc_auc: Some(auc),
        confusion,
        roc,
        intervals: None,
    }
}

fn dag() -> Dag {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut node = |name: &str, kind: &str, inputs: &[&str]| {
        nodes.push(DagNode { name: name.to_string(), kind: kind.to_string() });
        edges.extend(inputs.iter().map(|from| DagEdge { from: from.to_string(), to: name.to_string() }));
    };
    node("cohort", "synth.nsclc_cohort", &[]);
    node("genomic_features", "genomic.preprocess", &["cohort"]);
    node("clinical_features", "clinical.preprocess", &["cohort"]);
    node("imaging_features", "imaging.radiomics", &["cohort"]);
    node("imaging_qc", "shell", &["imaging_features"]);
    node("qc_summary", "shell", &["imaging_qc"]);
    node("fs_genomic", "featurestore.write", &["genomic_features"]);
    node("fs_clinical", "featurestore.write", &["clinical_features"]);
    node("fs_imaging", "featurestore.write", &["imaging_features"]);
    node("joined", "featurestore.query", &["fs_genomic", "fs_clinical", "fs_imaging"]);
    node("split", "ml.split", &["joined"]);
    let mut evaluations = Vec::new();
    for set in ["genomic", "clinical", "imaging", "multimodal"] {
        let (pca, gbdt, tree, eval) =
            (format!("{set}_pca"), format!("{set}_gbdt"), format!("{set}_tree"), format!("{set}_eval"));
        node(&pca, "ml.pca", &["split"]);
        node(&gbdt, "ml.train_gbdt", &[&pca]);
        node(&tree, "ml.train_tree", &[&pca]);
        node(&eval, "ml.evaluate", &[&gbdt, &tree, "split"]);
        evaluations.push(eval);
    }
    let mut inputs: Vec<&str> = evaluations.iter().map(String::as_str).collect();
    inputs.push("multimodal_pca");
    node("report", "report.html", &inputs);
    Dag { nodes, edges, report_node: Some("report".to_string()) }
}

fn synthetic() -> ReportInput {
    let mut rng = Rng(20260401);
    let sets = [("genomic", 0.9, 21, 18, 0.88), ("clinical", 1.2, 87, 52, 0.93), ("imaging", 1.5, 107, 40, 0.9)];
    let mut feature_sets: Vec<FeatureSetReport> = sets
        .iter()
        .map(|&(name, skill, _, k, decay)| {
            let features = features(name);
            let n = features.len().min(94);
            FeatureSetReport {
                name: name.to_string(),
                model: metrics(&mut rng, skill),
                baseline: Some(metrics(&mut rng, skill * 0.6)),
                pca: Some(pca(&mut rng, features, n, k, decay)),
            }
        })
        .collect();
    let all: Vec<Feature> = ["genomic", "clinical", "imaging"].iter().flat_map(|m| features(m)).collect();
    assert_eq!(all.len(), 215);
    feature_sets.push(FeatureSetReport {
        name: "multimodal".to_string(),
        model: metrics(&mut rng, 1.8),
        baseline: Some(metrics(&mut rng, 1.3)),
        pca: Some(pca(&mut rng, all, 94, 65, 0.93)),
    });
    let mut input = ReportInput::new("NSCLC survival: genomic, clinical and imaging features", feature_sets);
    input.dag = dag();
    input
}

fn read_dir(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect()
}

/// Tags balance: every opened element is closed in order (comments, declarations and
/// self-closing tags aside). Text is escaped by the writers, so a bare '<' starts a tag.
fn assert_balanced(name: &str, xml: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let end = start + rest[start..].find('>').unwrap_or_else(|| panic!("{name}: unterminated tag"));
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let tag_name = |t: &str| t.split(|c: char| c.is_whitespace()).next().unwrap_or("").to_string();
        if let Some(closing) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("{name}: </{closing}> closes nothing"));
            assert_eq!(tag_name(open), tag_name(closing), "{name}: <{open}> closed by </{closing}>");
        } else {
            stack.push(tag);
        }
    }
    assert!(stack.is_empty(), "{name}: unclosed {stack:?}");
}

const FIGURES: [&str; 7] =
    ["metrics", "roc", "confusion", "explained_variance", "pca_heatmap", "correlation_circle", "dag"];

#[test]
fn renders_every_file_self_contained_and_byte_identical_twice() {
    let input = synthetic();
    let multimodal = input.feature_sets[3].pca.as_ref().unwrap();
    let cumulative: f64 = multimodal.explained_variance_ratio[..65].iter().sum();
    let before: f64 = multimodal.explained_variance_ratio[..64].iter().sum();
    assert!(before < 0.99 && cumulative >= 0.99, "the synthetic PCA keeps 65 components for 99%");

    let first = tempfile::tempdir().unwrap();
    let written = render(&input, first.path()).unwrap();
    let mut expected = vec!["report.html".to_string(), "metrics.csv".to_string()];
    for figure in FIGURES {
        expected.push(format!("{figure}.svg"));
        expected.push(format!("{figure}.png"));
    }
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, expected);
    for path in &written {
        assert!(path.starts_with(first.path()) && std::fs::metadata(path).unwrap().len() > 0, "{}", path.display());
    }
    if let Ok(keep) = std::env::var("FLOW_REPORT_OUT") {
        render(&input, Path::new(&keep)).unwrap();
    }

    let files = read_dir(first.path());
    let html = String::from_utf8(files["report.html"].clone()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let body = &html[html.find("<body>").unwrap()..html.find("</body>").unwrap() + "</body>".len()];
    assert_balanced("report.html", body);
    for set in &input.feature_sets {
        for metrics in [Some(&set.model), set.baseline.as_ref()].into_iter().flatten() {
            for value in [metrics.accuracy, metrics.f1, metrics.precision, metrics.recall, metrics.roc_auc.unwrap()] {
                let cell = format_metric(value);
                assert!(html.contains(&format!(">{cell}<")), "{}: {cell} is not in the HTML table", set.name);
            }
        }
    }
    for forbidden in ["http://", "https://", "<script", "src=", "url(", "@import", "<link"] {
        assert!(!html.contains(forbidden), "the HTML contains {forbidden:?}");
    }
    // Table 1 is an HTML table in the page; every other figure is inline SVG.
    assert!(html.contains("<table>") && html.contains("Table 1. Test-set metrics per feature set"));
    assert_eq!(html.matches("<svg").count(), FIGURES.len() - 1, "every figure but the table is inline");
    for figure in FIGURES {
        let svg = String::from_utf8(files[&format!("{figure}.svg")].clone()).unwrap();
        assert!(svg.starts_with("<svg"), "{figure}.svg starts with {:?}", &svg[..20]);
        assert_balanced(figure, &svg);
        // The page has the SVG as drawn, less the namespace URL.
        let inline = svg.trim().replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
        assert!(figure == "metrics" || html.contains(&inline), "{figure} is not inline as drawn");
        let png = &files[&format!("{figure}.png")];
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{figure}.png");
        // The PNG has the SVG's size.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert!(svg.contains(&format!("width=\"{width}\"")), "{figure}: PNG width {width}");
    }
    let csv = String::from_utf8(files["metrics.csv"].clone()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8);
    assert!(csv.starts_with("feature_set,model,n,accuracy,f1,precision,recall,roc_auc,n_components,accuracy_low,"));

    let second = tempfile::tempdir().unwrap();
    render(&input, second.path()).unwrap();
    let again = read_dir(second.path());
    assert_eq!(files.keys().collect::<Vec<_>>(), again.keys().collect::<Vec<_>>());
    for (name, bytes) in &files {
        assert!(bytes == &again[name], "{name} differs between two renders of the same input");
    }
}

#[test]
fn the_input_round_trips_through_json_and_defaults_fill_in() {
    let input = synthetic();
    // Through a JSON value: serde_json's text parser may round the last bit of a float.
    let back: ReportInput = serde_json::from_value(serde_json::to_value(&input).unwrap()).unwrap();
    assert!(back == input, "the input changed on its way through JSON");
    let json = serde_json::to_string(&input).unwrap();
    assert!(json.contains("\"report_node\":\"report\"") && json.contains("\"circle_pcs\":[1,2]"));

    let minimal = r#"{"title": "t", "feature_sets": [{"name": "clinical", "model":
        {"accuracy": 0.7, "precision": 0.69, "recall": 0.7, "f1": 0.68, "confusion": [[10, 3], [4, 7]]}}]}"#;
    let input: ReportInput = serde_json::from_str(minimal).unwrap();
    assert_eq!(input.circle_pcs, [1, 2]);
    assert_eq!(input.top_n, 15);
    assert_eq!(input.heatmap_pcs, 20);
    assert!(input.png && input.dag.nodes.is_empty() && input.pca_feature_set.is_none());

    // The least a report can have: one feature set, no ROC, no PCA, no DAG.
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = render(&input, dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.html", "metrics.csv", "metrics.svg", "metrics.png", "confusion.svg", "confusion.png"]);

    // Names are text, never markup: escaped in the page and in the SVGs.
    let mut input = input;
    input.title = "Survival <v2> & \"more\"".to_string();
    input.feature_sets[0].name = "clinical <only> & co".to_string();
    let dir = tempfile::tempdir().unwrap();
    render(&input, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<title>Survival &lt;v2&gt; &amp; &quot;more&quot;</title>"));
    assert!(html.contains("clinical &lt;only&gt; &amp; co") && !html.contains("<only>"));
    let body = &html[html.find("<body>").unwrap()..html.find("</body>").unwrap() + "</body>".len()];
    assert_balanced("report.html", body);
    for figure in ["metrics", "confusion"] {
        let svg = std::fs::read_to_string(dir.path().join(format!("{figure}.svg"))).unwrap();
        assert_balanced(figure, &svg);
        assert!(svg.contains("clinical &lt;only&gt; &amp; co"), "{figure}");
    }

    let typo = minimal.replace("\"title\"", "\"titel\"");
    let error = serde_json::from_str::<ReportInput>(&typo).unwrap_err().to_string();
    assert!(error.contains("unknown field `titel`"), "{error}");
}

fn render_error(input: &ReportInput) -> (Error, bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let error = render(input, &out).unwrap_err();
    (error, out.exists())
}

#[test]
fn bad_inputs_fail_with_clear_errors_and_write_nothing() {
    let (error, wrote) = render_error(&ReportInput::new("empty", Vec::new()));
    assert!(matches!(error, Error::NoFeatureSets));
    assert_eq!(error.to_string(), "the report has no feature sets");
    assert!(!wrote);

    let mut input = synthetic();
    input.circle_pcs = [1, 70];
    let (error, wrote) = render_error(&input);
    assert_eq!(error.to_string(), "circle_pcs: PC70 is beyond the 65 components kept for feature set 'multimodal'");
    assert!(!wrote);

    let mut input = synthetic();
    input.circle_pcs = [0, 2];
    assert_eq!(render_error(&input).0.to_string(), "circle_pcs: components are numbered from 1, got PC0 and PC2");

    let mut input = synthetic();
    input.pca_feature_set = Some("radiomics".to_string());
    assert_eq!(
        render_error(&input).0.to_string(),
        "pca_feature_set 'radiomics' is not one of the feature sets (genomic, clinical, imaging, multimodal)"
    );

    let mut input = synthetic();
    input.feature_sets[1].model.recall = 1.2;
    assert_eq!(
        render_error(&input).0.to_string(),
        "GBDT metrics of feature set 'clinical': recall is 1.2, expected a number in [0, 1]"
    );

    let mut input = synthetic();
    input.feature_sets[0].pca.as_mut().unwrap().components[3].pop();
    assert_eq!(
        render_error(&input).0.to_string(),
        "PCA of feature set 'genomic': components row 3 has 20 loadings, expected one per feature (21)"
    );

    let mut input = synthetic();
    input.dag.edges.push(DagEdge { from: "report".to_string(), to: "split".to_string() });
    let message = render_error(&input).0.to_string();
    assert!(message.starts_with("dag: the edges form a cycle through node '"), "{message}");

    let mut input = synthetic();
    input.dag.edges.push(DagEdge { from: "split".to_string(), to: "reprot".to_string() });
    assert_eq!(render_error(&input).0.to_string(), "dag: edge split -> reprot names an unknown node 'reprot'");
}

#[test]
fn the_pca_figures_follow_the_chosen_feature_set() {
    let mut input = synthetic();
    input.pca_feature_set = Some("genomic".to_string());
    input.circle_pcs = [2, 3];
    input.top_n = 5;
    input.png = false;
    let dir = tempfile::tempdir().unwrap();
    let written = render(&input, dir.path()).unwrap();
    assert!(written.iter().all(|p| p.extension().unwrap() != "png"));
    let circle = std::fs::read_to_string(dir.path().join("correlation_circle.svg")).unwrap();
    assert!(circle.contains("Correlation circle of the genomic PCA: PC2 vs PC3"));
    let heatmap = std::fs::read_to_string(dir.path().join("pca_heatmap.svg")).unwrap();
    assert!(heatmap.contains("PC loadings of the genomic PCA (18 PCs)"));
    assert!(heatmap.contains("PC18\n") && !heatmap.contains("PC19\n"));
}

#[test]
fn a_genome_wide_pca_keeps_the_heat_map_readable() {
    let mut rng = Rng(7);
    let features: Vec<Feature> =
        (0..2000).map(|i| Feature { name: format!("GENE{i:05}"), modality: "genomic".to_string() }).collect();
    let mut input = ReportInput::new("wide", vec![synthetic().feature_sets.swap_remove(0)]);
    input.feature_sets[0].pca = Some(pca(&mut rng, features, 90, 60, 0.93));
    input.png = false;
    let dir = tempfile::tempdir().unwrap();
    render(&input, dir.path()).unwrap();
    let heatmap = std::fs::read_to_string(dir.path().join("pca_heatmap.svg")).unwrap();
    assert!(heatmap.contains("the 15 strongest features of each modality, 1985 of 2000 hidden"), "says what is hidden");
    let height: u32 = heatmap.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!(height < 600, "{height}");
    // Signed: cells of both hues (bluish negative, reddish positive); the legend's ramp alone
    // has 22 of each.
    let fills: Vec<(i32, i32)> = heatmap
        .split("fill=\"#")
        .skip(1)
        .filter_map(|rest| {
            let hex = rest.get(..6)?;
            let channel = |i: usize| i32::from_str_radix(&hex[i..i + 2], 16).ok();
            Some((channel(0)?, channel(4)?))
        })
        .collect();
    let blue = fills.iter().filter(|(r, b)| b - r > 40).count();
    let red = fills.iter().filter(|(r, b)| r - b > 40).count();
    assert!(blue > 22 && red > 22, "{blue} bluish and {red} reddish fills");

    // The seed's 215 multimodal features: 15 of each of the three modalities.
    let mut input = synthetic();
    input.png = false;
    let dir = tempfile::tempdir().unwrap();
    render(&input, dir.path()).unwrap();
    let heatmap = std::fs::read_to_string(dir.path().join("pca_heatmap.svg")).unwrap();
    assert!(heatmap.contains("the 15 strongest features of each modality, 170 of 215 hidden"));
}

#[test]
fn the_dag_is_structure_only_and_marks_the_report_node() {
    // A report is cached with its inputs, so the input cannot carry how a run went: a DAG
    // node with a status or a time is refused, naming the field.
    for field in [r#""status": "ran""#, r#""seconds": 1.5"#] {
        let json = format!(r#"{{"nodes": [{{"name": "split", "kind": "ml.split", {field}}}]}}"#);
        let error = serde_json::from_str::<Dag>(&json).unwrap_err().to_string();
        let name = field.split('"').nth(1).unwrap();
        assert!(error.contains(&format!("unknown field `{name}`")), "{error}");
    }

    let mut input = synthetic();
    input.png = false;
    input.dag.report_node = Some("reprot".to_string());
    assert_eq!(
        render_error(&input).0.to_string(),
        "dag: report_node 'reprot' is not one of the 28 nodes; name the node that makes the report, or leave it out"
    );

    let mut render_dag = |report_node: Option<&str>| {
        input.dag.report_node = report_node.map(str::to_string);
        let dir = tempfile::tempdir().unwrap();
        render(&input, dir.path()).unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        (read("dag.svg"), read("report.html"))
    };
    let (marked_svg, marked_html) = render_dag(Some("report"));
    let (plain_svg, plain_html) = render_dag(None);
    assert_ne!(marked_svg, plain_svg, "the report's own node looks like any other");
    assert!(marked_svg.contains("this report") && !plain_svg.contains("this report"));
    assert!(marked_html.contains("<tr class=\"this\"><td class=\"l\">report</td>"));
    assert!(!plain_html.contains("<tr class=\"this\">"));
    // Every node is drawn with its kind.
    for node in &input.dag.nodes {
        assert!(marked_svg.contains(&format!("\n{}\n", node.name)), "{} is not drawn", node.name);
        assert!(marked_svg.contains(&format!("\n{}\n", node.kind)), "{} is not drawn", node.kind);
    }
}

#[test]
fn intervals_show_under_each_value_and_say_whether_the_sets_can_be_ranked() {
    let interval = |low: f64, high: f64| Intervals {
        resamples: 1000,
        accuracy: [low, high],
        precision: [low, high],
        recall: [low, high],
        f1: [low, high],
        roc_auc: None,
    };
    let mut input = synthetic();
    input.png = false;
    let bounds = [(0.40, 0.75), (0.45, 0.80), (0.50, 0.85), (0.55, 0.90)];
    for (set, (low, high)) in input.feature_sets.iter_mut().zip(bounds) {
        set.model.intervals = Some(interval(low, high));
    }
    let dir = tempfile::tempdir().unwrap();
    render(&input, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<span class=\"ci\">0.550\u{2013}0.900</span>"), "the interval under the value");
    assert!(html.contains("With 24 test patients the 95% intervals of the accuracy"), "the table says n");
    assert!(html.contains("cannot be ranked above"));
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",n,accuracy,") && csv.contains(",0.55,0.9,"), "{csv}");

    // Far apart: the best set ranks first.
    for set in input.feature_sets.iter_mut() {
        let accuracy = set.model.accuracy;
        if set.name == "multimodal" {
            set.model.intervals = Some(interval(accuracy - 0.01, accuracy + 0.01));
        } else {
            set.model.accuracy = 0.05;
            set.model.intervals = Some(interval(0.0, 0.1));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    render(&input, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("on this test set it ranks first"), "{}", html.split("metrics").nth(1).unwrap_or(""));
}
