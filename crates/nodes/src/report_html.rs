//! `report.html`: the seed's results as one self-contained HTML page plus SVG/PNG figures:
//! the metrics table per feature set, PCA variance, the PC-loading heat map and correlation
//! circle coloured by modality, ROC curves, confusion matrices and the DAG of the workflow that
//! feeds the report. Also a plain text metrics table that `flow run` prints at the end. The
//! drawing is in `flow_report`.
//!
//! The report is a pure function of its inputs and parameters, like every cached output: it
//! never shows how a run went (statuses, times), which would change its bytes from run to run
//! and, on a cache hit, show the run that first built it. Those belong in the run's log.

use std::collections::BTreeMap;

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    WorkflowNode, typed_params,
};
use flow_ml::metrics::ClassificationReport;
use flow_ml::pca::Pca;
use flow_report::{
    Dag, DagEdge, DagNode, Feature, FeatureSetReport, Intervals, Metrics, PcaSummary, ReportInput, RocPoint,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml_evaluate::Evaluation;
use crate::ml_pca::PcaOutput;
use crate::ml_table::read_json;

pub struct ReportHtml;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    title: String,
    /// Principal components of the correlation circle, from 1.
    #[serde(default = "first_two")]
    circle_pcs: [usize; 2],
    #[serde(default = "fifteen")]
    top_n: usize,
}

fn first_two() -> [usize; 2] {
    [1, 2]
}
fn fifteen() -> usize {
    15
}

impl NodeKind for ReportHtml {
    fn name(&self) -> &str {
        "report.html"
    }

    fn version(&self) -> &str {
        // 2: the DAG shows the workflow's structure, no run statuses or times.
        // 3: confidence intervals and the test-set size in Table 1; a signed heat map.
        "3"
    }

    /// Under a cluster executor: a report takes less time than a job takes to start.
    fn runs_in_controller(&self) -> bool {
        true
    }

    fn reads_workflow(&self) -> bool {
        true
    }

    fn aligned_inputs(&self) -> &[&[&str]] {
        // The n-th pca describes the feature set of the n-th metrics.
        &[&["metrics", "pca"]]
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "HTML report: metrics per feature set, PCA figures by modality, ROC, confusion, the workflow DAG"
                .into(),
            inputs: Inputs::Fixed(vec![
                PortSpec::new("metrics", PortType::file("json"), "ml.evaluate outputs, one per feature set, in table order")
                    .many(),
                PortSpec::new(
                    "pca",
                    PortType::file("json"),
                    "ml.pca outputs in the same order as metrics (feature sets named after a modality colour the others)",
                )
                .many()
                .optional(),
                PortSpec::new(
                    "baseline",
                    PortType::file("json"),
                    "ml.evaluate outputs of baseline models, each attached to the feature set of the same name",
                )
                .many()
                .optional(),
            ]),
            outputs: Outputs::Fixed(vec![
                PortSpec::new("report", PortType::DIR, "report.html, metrics.csv and one SVG and PNG per figure"),
                PortSpec::new("table", PortType::file("txt"), "the metrics table as text").shown(),
            ]),
            params: vec![
                ParamDoc::required("title", "string", "the page title"),
                ParamDoc::optional("circle_pcs", "[int, int]", "[1, 2]", "components of the correlation circle"),
                ParamDoc::optional("top_n", "integer", "15", "features labelled in the correlation circle"),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        if typed.circle_pcs.contains(&0) || typed.circle_pcs[0] == typed.circle_pcs[1] {
            return Err(ParamError::new(
                Some("circle_pcs"),
                "circle_pcs are two different components, numbered from 1",
            ));
        }
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let p: Params = ctx.params()?;
        let metrics = files(ctx, "metrics");
        let pcas = files(ctx, "pca");
        if !pcas.is_empty() && pcas.len() != metrics.len() {
            return Err(NodeError::Failed(format!(
                "{} pca inputs for {} metrics inputs: give one per feature set, in the same order, or none",
                pcas.len(),
                metrics.len()
            )));
        }
        let evaluations: Vec<Evaluation> = metrics.iter().map(|path| read_json(path)).collect::<Result<_, _>>()?;
        let fitted: Vec<PcaOutput> = pcas.iter().map(|path| read_json(path)).collect::<Result<_, _>>()?;
        let modality = modality_of_features(&evaluations, &fitted);
        let mut sets = Vec::new();
        for (index, evaluation) in evaluations.iter().enumerate() {
            let pca = fitted.get(index).map(|pca| summary(pca, &modality, &evaluation.name));
            sets.push(FeatureSetReport {
                name: evaluation.name.clone(),
                model: metrics_of(&evaluation.metrics),
                baseline: None,
                pca,
            });
        }
        for path in files(ctx, "baseline") {
            let baseline: Evaluation = read_json(&path)?;
            let set = sets.iter_mut().find(|s| s.name == baseline.name).ok_or_else(|| {
                NodeError::Failed(format!(
                    "{}: baseline `{}` names no feature set (they are {})",
                    path.display(),
                    baseline.name,
                    evaluations.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
            set.baseline = Some(metrics_of(&baseline.metrics));
        }
        let mut input = ReportInput::new(p.title, sets);
        input.circle_pcs = p.circle_pcs;
        input.top_n = p.top_n;
        input.dag = provenance(ctx.node, ctx.workflow);
        let text = metrics_text(&input);
        let out = ctx.output("report")?;
        flow_report::render(&input, out).map_err(|e| NodeError::Failed(format!("report: {e}")))?;
        ctx.log(&format!("report written: {} feature sets", input.feature_sets.len()))?;
        let table = ctx.output("table")?;
        std::fs::write(table, text).map_err(|e| NodeError::io(format!("write {}", table.display()), e))
    }
}

fn files(ctx: &NodeContext<'_>, port: &str) -> Vec<std::path::PathBuf> {
    ctx.inputs.get(port).cloned().unwrap_or_default()
}

/// Each feature's modality: the name of the single-modality feature set it belongs to. A
/// feature set is single-modality when its name is one of the modalities.
fn modality_of_features(evaluations: &[Evaluation], pcas: &[PcaOutput]) -> BTreeMap<String, String> {
    const MODALITIES: [&str; 3] = ["genomic", "clinical", "imaging"];
    let mut modality = BTreeMap::new();
    for (evaluation, pca) in evaluations.iter().zip(pcas) {
        if MODALITIES.contains(&evaluation.name.as_str()) {
            for feature in pca.pca.feature_names() {
                modality.insert(feature.clone(), evaluation.name.clone());
            }
        }
    }
    modality
}

fn summary(output: &PcaOutput, modality: &BTreeMap<String, String>, set: &str) -> PcaSummary {
    let pca: &Pca = &output.pca;
    let names = pca.feature_names();
    let features = names
        .iter()
        .map(|name| Feature {
            name: name.clone(),
            modality: modality.get(name).cloned().unwrap_or_else(|| set.to_string()),
        })
        .collect();
    let rows = |m: &ndarray::Array2<f64>| m.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>();
    PcaSummary {
        explained_variance_ratio: output.all_explained_variance_ratio.clone(),
        n_components: pca.n_components(),
        variance_target: output.variance_target.unwrap_or(f64::NAN),
        features,
        components: rows(pca.components()),
        correlations: Some(rows(&pca.correlations().t().to_owned())),
    }
}

fn metrics_of(report: &ClassificationReport) -> Metrics {
    let count =
        |i: usize, j: usize| report.confusion.counts.get(i).and_then(|row| row.get(j)).copied().unwrap_or(0) as u64;
    Metrics {
        accuracy: report.accuracy,
        precision: report.weighted.precision,
        recall: report.weighted.recall,
        f1: report.weighted.f1,
        roc_auc: report.roc_auc,
        confusion: [[count(0, 0), count(0, 1)], [count(1, 0), count(1, 1)]],
        roc: report
            .roc
            .as_ref()
            .map(|curve| curve.fpr.iter().zip(&curve.tpr).map(|(&fpr, &tpr)| RocPoint { fpr, tpr }).collect())
            .unwrap_or_default(),
        intervals: report.intervals.as_ref().map(|i| Intervals {
            resamples: i.resamples,
            accuracy: i.accuracy,
            precision: i.precision,
            recall: i.recall,
            f1: i.f1,
            roc_auc: i.roc_auc,
        }),
    }
}

/// The part of the workflow this report is built from: this node and every node upstream of
/// it, with their kinds and edges, in workflow order.
///
/// Only names, kinds and edges are read from the run view, never how the run is going: the
/// nodes of a run finish in an order that varies, and a cached report outlives the run that
/// made it. Nodes that do not feed the report are left out, so editing an unrelated branch of
/// the workflow does not change the report.
fn provenance(this: &str, run: &[WorkflowNode]) -> Dag {
    let by_name: BTreeMap<&str, &WorkflowNode> = run.iter().map(|node| (node.name.as_str(), node)).collect();
    if !by_name.contains_key(this) {
        // No run view (a node run outside a workflow): no DAG figure rather than a wrong one.
        return Dag::default();
    }
    let mut feeds = std::collections::BTreeSet::from([this]);
    let mut frontier = vec![this];
    while let Some(name) = frontier.pop() {
        for upstream in by_name.get(name).map(|node| node.upstream.as_slice()).unwrap_or_default() {
            if by_name.contains_key(upstream.as_str()) && feeds.insert(upstream.as_str()) {
                frontier.push(upstream.as_str());
            }
        }
    }
    let shown: Vec<&WorkflowNode> = run.iter().filter(|node| feeds.contains(node.name.as_str())).collect();
    let nodes = shown.iter().map(|node| DagNode { name: node.name.clone(), kind: node.kind.clone() }).collect();
    let edges = shown
        .iter()
        .flat_map(|node| {
            node.upstream
                .iter()
                .filter(|upstream| feeds.contains(upstream.as_str()))
                .map(|upstream| DagEdge { from: upstream.clone(), to: node.name.clone() })
        })
        .collect();
    Dag { nodes, edges, report_node: Some(this.to_string()) }
}

/// The table `flow run` prints: one row per feature set (and baseline), three decimals.
fn metrics_text(input: &ReportInput) -> String {
    let mut rows =
        vec![["feature set", "model", "n", "accuracy", "95% CI", "F1", "precision", "recall", "AUC"].map(String::from)];
    let fmt = flow_report::format_metric;
    let mut push = |set: &str, model: &str, m: &Metrics| {
        let interval = m.intervals.as_ref().map(|i| format!("{}-{}", fmt(i.accuracy[0]), fmt(i.accuracy[1])));
        rows.push([
            set.to_string(),
            model.to_string(),
            m.n().to_string(),
            fmt(m.accuracy),
            interval.unwrap_or_else(|| "-".into()),
            fmt(m.f1),
            fmt(m.precision),
            fmt(m.recall),
            m.roc_auc.map(fmt).unwrap_or_else(|| "-".into()),
        ]);
    };
    for set in &input.feature_sets {
        push(&set.name, &input.model_label, &set.model);
        if let Some(baseline) = &set.baseline {
            push(&set.name, &input.baseline_label, baseline);
        }
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c < 2 { format!("{cell:<w$}", w = widths[c]) } else { format!("{cell:>w$}", w = widths[c]) }
                },
            )
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    if let Some(note) = flow_report::ranking_note(&input.feature_sets) {
        text.push_str(&note);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use flow_engine::cancel::CancelToken;
    use flow_ml::metrics::ClassificationReport;
    use serde_json::json;

    use super::*;

    /// A `WorkflowNode` from JSON, so this test compiles whether or not the engine's run view still
    /// carries `status` and `seconds` (unknown fields are ignored when it does not).
    fn run_node(name: &str, kind: &str, upstream: &[&str], status: &str, seconds: f64) -> WorkflowNode {
        serde_json::from_value(json!({
            "name": name, "kind": kind, "upstream": upstream, "status": status, "seconds": seconds,
        }))
        .unwrap()
    }

    /// The same workflow as two runs see it: the one that builds the report from scratch
    /// (everything upstream ran, slowly; a side branch still pending) and a later one where
    /// the upstream came from the cache in no time and the side branch failed.
    fn run_views() -> [Vec<WorkflowNode>; 2] {
        let view = |upstream_status: &str, seconds: f64, side: &str| {
            vec![
                run_node("split", "ml.split", &[], upstream_status, seconds),
                run_node("clinical_metrics", "ml.evaluate", &["split"], upstream_status, 3.0 * seconds),
                run_node("multimodal_metrics", "ml.evaluate", &["split"], upstream_status, 7.5 * seconds),
                run_node("qc", "shell", &["split"], side, 0.25 * seconds),
                run_node("report", "report.html", &["clinical_metrics", "multimodal_metrics"], "pending", 0.0),
            ]
        };
        [view("ran", 1.7, "pending"), view("cached", 0.0004, "failed")]
    }

    fn evaluation(dir: &Path, name: &str, shift: f64) -> PathBuf {
        let y_true = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let y_prob: Vec<f64> = [0.2, 0.4, 0.7, 0.9, 0.6, 0.3, 0.8, 0.1].iter().map(|p| (p + shift) / 1.2).collect();
        let metrics = ClassificationReport::from_probabilities(&y_true, &y_prob, 0.5).unwrap();
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&Evaluation { name: name.to_string(), metrics }).unwrap()).unwrap();
        path
    }

    /// Runs the node on fixed inputs with `run` as the run view; every output file's bytes by name.
    fn render(inputs_dir: &Path, run: &[WorkflowNode]) -> BTreeMap<String, Vec<u8>> {
        let work = tempfile::tempdir().unwrap();
        let report_dir = work.path().join("report");
        std::fs::create_dir(&report_dir).unwrap();
        let outputs = BTreeMap::from([
            ("report".to_string(), report_dir.clone()),
            ("table".into(), work.path().join("table.txt")),
        ]);
        let inputs = BTreeMap::from([(
            "metrics".to_string(),
            vec![evaluation(inputs_dir, "clinical", 0.0), evaluation(inputs_dir, "multimodal", 0.1)],
        )]);
        let params = json!({"title": "Survival"});
        let cancel = CancelToken::new();
        let ctx = NodeContext {
            node: "report",
            params: &params,
            inputs: &inputs,
            outputs: &outputs,
            threads: 1,
            project_dir: work.path(),
            scratch_dir: work.path(),
            state_dir: work.path(),
            log_path: &work.path().join("log"),
            cancel: &cancel,
            workflow: run,
            item: None,
        };
        ReportHtml.run(&ctx).unwrap();
        let mut files: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&report_dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
            })
            .collect();
        files.insert("table.txt".to_string(), std::fs::read(work.path().join("table.txt")).unwrap());
        files
    }

    #[test]
    fn the_report_is_the_same_bytes_whatever_the_run_view_says() {
        let inputs = tempfile::tempdir().unwrap();
        let [first_run, later_run] = run_views();
        let first = render(inputs.path(), &first_run);
        let later = render(inputs.path(), &later_run);
        assert!(first.contains_key("dag.svg") && first.contains_key("dag.png"), "{:?}", first.keys());
        assert_eq!(first.keys().collect::<Vec<_>>(), later.keys().collect::<Vec<_>>());
        for (name, bytes) in &first {
            assert!(bytes == &later[name], "{name} differs between two runs with the same inputs");
        }

        // The DAG is what feeds the report, and only that: the side branch is left out. The
        // SVG writes each text on a line of its own.
        let svg = String::from_utf8(first["dag.svg"].clone()).unwrap();
        for node in ["split", "clinical_metrics", "multimodal_metrics", "report"] {
            assert!(svg.contains(&format!("\n{node}\n")), "{node} not drawn");
        }
        assert!(!svg.contains("\nqc\n"), "a node that does not feed the report is drawn");
    }

    #[test]
    fn without_a_run_view_the_report_has_no_dag() {
        assert_eq!(provenance("report", &[]), Dag::default());
        let [run, _] = run_views();
        let dag = provenance("report", &run);
        assert_eq!(dag.report_node.as_deref(), Some("report"));
        let names: Vec<&str> = dag.nodes.iter().map(|node| node.name.as_str()).collect();
        assert_eq!(names, ["split", "clinical_metrics", "multimodal_metrics", "report"]);
        assert_eq!(dag.edges.len(), 4);
    }
}
