//! `report.html`: the seed's results as one self-contained HTML page plus SVG/PNG figures:
//! the metrics table per feature set, PCA variance, the PC-loading heat map and correlation
//! circle coloured by modality, ROC curves, confusion matrices and the run's DAG. Also a plain
//! text metrics table that `flow run` prints at the end. The drawing is in `flow_report`.

use std::collections::BTreeMap;

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    RunNode, typed_params,
};
use flow_ml::metrics::ClassificationReport;
use flow_ml::pca::Pca;
use flow_report::{
    Dag, DagEdge, DagNode, Feature, FeatureSetReport, Metrics, NodeStatus, PcaSummary, ReportInput, RocPoint,
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
        "1"
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "HTML report: metrics per feature set, PCA figures by modality, ROC, confusion, the DAG".into(),
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
        input.dag = dag(ctx.node, ctx.run);
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
    }
}

/// The run's DAG as this node saw it: finished nodes with their status, this node as running.
fn dag(this: &str, run: &[RunNode]) -> Dag {
    let status = |node: &RunNode| match node.status.as_str() {
        "ran" => Some(NodeStatus::Ran),
        "cached" => Some(NodeStatus::Cached),
        "failed" => Some(NodeStatus::Failed),
        "skipped" | "cancelled" => Some(NodeStatus::Skipped),
        _ if node.name == this => Some(NodeStatus::Ran),
        _ => None,
    };
    let nodes: Vec<DagNode> = run
        .iter()
        .filter_map(|node| {
            status(node).map(|status| DagNode {
                name: node.name.clone(),
                kind: node.kind.clone(),
                status,
                seconds: node.seconds,
            })
        })
        .collect();
    let shown = |name: &str| nodes.iter().any(|n| n.name == name);
    let edges = run
        .iter()
        .filter(|node| shown(&node.name))
        .flat_map(|node| {
            node.upstream.iter().filter(|u| shown(u)).map(|u| DagEdge { from: u.clone(), to: node.name.clone() })
        })
        .collect();
    Dag { nodes, edges }
}

/// The table `flow run` prints: one row per feature set (and baseline), three decimals.
fn metrics_text(input: &ReportInput) -> String {
    let mut rows = vec![[
        "feature set".to_string(),
        "model".into(),
        "accuracy".into(),
        "F1".into(),
        "precision".into(),
        "recall".into(),
        "AUC".into(),
    ]];
    let fmt = flow_report::format_metric;
    let mut push = |set: &str, model: &str, m: &Metrics| {
        rows.push([
            set.to_string(),
            model.to_string(),
            fmt(m.accuracy),
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
    let widths: Vec<usize> = (0..7).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
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
    text
}
