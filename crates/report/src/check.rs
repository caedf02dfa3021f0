//! Input validation: every check runs before any file is written, and a passing input becomes
//! a [`Checked`] view that the figures draw from without checking again.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::input::{Dag, FeatureSetReport, Metrics, PcaSummary, ReportInput};
use crate::style::Palette;

/// A validated input with what the figures derive from it.
pub(crate) struct Checked<'a> {
    pub input: &'a ReportInput,
    /// The feature set the PCA figures show, with its PCA.
    pub pca: Option<(&'a FeatureSetReport, &'a PcaSummary)>,
    pub palette: Palette,
    /// The DAG's edges as node indices, duplicates removed, in input order.
    pub dag_edges: Vec<(usize, usize)>,
}

pub(crate) fn check(input: &ReportInput) -> Result<Checked<'_>> {
    if input.feature_sets.is_empty() {
        return Err(Error::NoFeatureSets);
    }
    let mut seen = BTreeSet::new();
    for set in &input.feature_sets {
        if set.name.trim().is_empty() {
            return Err(Error::Invalid("a feature set has an empty name".to_string()));
        }
        if !seen.insert(set.name.as_str()) {
            return Err(Error::DuplicateFeatureSet(set.name.clone()));
        }
        check_metrics(&set.name, &input.model_label, &set.model)?;
        if let Some(baseline) = &set.baseline {
            check_metrics(&set.name, &input.baseline_label, baseline)?;
        }
        if let Some(pca) = &set.pca {
            check_pca(&set.name, pca)?;
        }
    }
    if input.heatmap_pcs == 0 {
        return Err(Error::Invalid("heatmap_pcs is 0; the heat map needs at least one component".to_string()));
    }

    let pca = choose_pca(input)?;
    if let Some((set, summary)) = pca {
        let [a, b] = input.circle_pcs;
        if a == 0 || b == 0 {
            return Err(Error::BadPcPair(format!("components are numbered from 1, got PC{a} and PC{b}")));
        }
        if a == b {
            return Err(Error::BadPcPair(format!("the two components must differ, got PC{a} twice")));
        }
        for pc in [a, b] {
            if pc > summary.n_components {
                return Err(Error::PcOutOfRange { pc, k: summary.n_components, set: set.name.clone() });
            }
        }
    }

    let dag_edges = check_dag(&input.dag)?;

    let mut names: Vec<&str> = input.feature_sets.iter().map(|set| set.name.as_str()).collect();
    for set in &input.feature_sets {
        if let Some(pca) = &set.pca {
            names.extend(pca.features.iter().map(|feature| feature.modality.as_str()));
        }
    }
    // Last, so the DAG's kind families never shift a feature set's or modality's colour; a
    // family named after a modality (`imaging.radiomics`) shares its colour.
    names.extend(input.dag.nodes.iter().map(|node| crate::figures::dag::family(&node.kind)));
    let palette = Palette::new(names);
    Ok(Checked { input, pca, palette, dag_edges })
}

fn check_metrics(set: &str, model: &str, metrics: &Metrics) -> Result<()> {
    let fields = [
        ("accuracy", Some(metrics.accuracy)),
        ("precision", Some(metrics.precision)),
        ("recall", Some(metrics.recall)),
        ("f1", Some(metrics.f1)),
        ("roc_auc", metrics.roc_auc),
    ];
    for (field, value) in fields {
        if let Some(value) = value
            && !unit(value)
        {
            return Err(Error::MetricOutOfRange { set: set.to_string(), model: model.to_string(), field, value });
        }
    }
    for (i, point) in metrics.roc.iter().enumerate() {
        if !unit(point.fpr) || !unit(point.tpr) {
            return Err(Error::Invalid(format!(
                "{model} metrics of feature set '{set}': ROC point {i} is ({}, {}), expected rates in [0, 1]",
                point.fpr, point.tpr
            )));
        }
    }
    Ok(())
}

fn unit(value: f64) -> bool {
    (0.0..=1.0).contains(&value)
}

fn check_pca(set: &str, pca: &PcaSummary) -> Result<()> {
    let bad = |message: String| Error::BadPca { set: set.to_string(), message };
    let ratios = &pca.explained_variance_ratio;
    if ratios.is_empty() {
        return Err(bad("explained_variance_ratio is empty".to_string()));
    }
    if let Some((i, value)) = ratios.iter().enumerate().find(|(_, value)| !unit(**value)) {
        return Err(bad(format!("explained_variance_ratio[{i}] is {value}, expected a number in [0, 1]")));
    }
    let total: f64 = ratios.iter().sum();
    if total > 1.0 + 1e-6 {
        return Err(bad(format!("explained_variance_ratio sums to {total}, more than 1")));
    }
    if pca.n_components == 0 || pca.n_components > ratios.len() {
        return Err(bad(format!(
            "n_components is {}, expected 1 to {} (the length of explained_variance_ratio)",
            pca.n_components,
            ratios.len()
        )));
    }
    if !(pca.variance_target > 0.0 && pca.variance_target <= 1.0) {
        return Err(bad(format!("variance_target is {}, expected a number in (0, 1]", pca.variance_target)));
    }
    if pca.features.is_empty() {
        return Err(bad("features is empty".to_string()));
    }
    if let Some(i) = pca.features.iter().position(|f| f.modality.trim().is_empty()) {
        return Err(bad(format!("feature '{}' has an empty modality", pca.features[i].name)));
    }
    if pca.components.len() != pca.n_components {
        return Err(bad(format!(
            "components has {} rows, expected n_components = {}",
            pca.components.len(),
            pca.n_components
        )));
    }
    for (j, row) in pca.components.iter().enumerate() {
        if row.len() != pca.features.len() {
            return Err(bad(format!(
                "components row {j} has {} loadings, expected one per feature ({})",
                row.len(),
                pca.features.len()
            )));
        }
        if let Some(f) = row.iter().position(|value| !value.is_finite()) {
            return Err(bad(format!("components[{j}][{f}] is {}", row[f])));
        }
    }
    if let Some(correlations) = &pca.correlations {
        if correlations.len() != pca.n_components {
            return Err(bad(format!(
                "correlations has {} rows, expected n_components = {}",
                correlations.len(),
                pca.n_components
            )));
        }
        for (j, row) in correlations.iter().enumerate() {
            if row.len() != pca.features.len() {
                return Err(bad(format!(
                    "correlations row {j} has {} values, expected one per feature ({})",
                    row.len(),
                    pca.features.len()
                )));
            }
            // A little slack for rounding in the caller's arithmetic.
            if let Some(f) = row.iter().position(|value| value.is_nan() || value.abs() > 1.0 + 1e-9) {
                return Err(bad(format!("correlations[{j}][{f}] is {}, expected a number in [-1, 1]", row[f])));
            }
        }
    }
    Ok(())
}

fn choose_pca(input: &ReportInput) -> Result<Option<(&FeatureSetReport, &PcaSummary)>> {
    match &input.pca_feature_set {
        Some(name) => {
            let Some(set) = input.feature_sets.iter().find(|set| &set.name == name) else {
                let available: Vec<&str> = input.feature_sets.iter().map(|set| set.name.as_str()).collect();
                return Err(Error::UnknownPcaFeatureSet { name: name.clone(), available: available.join(", ") });
            };
            match &set.pca {
                Some(pca) => Ok(Some((set, pca))),
                None => Err(Error::NoPcaSummary(name.clone())),
            }
        }
        None => {
            let with_pca = || input.feature_sets.iter().filter_map(|set| set.pca.as_ref().map(|pca| (set, pca)));
            Ok(with_pca()
                .find(|(set, _)| set.name.eq_ignore_ascii_case("multimodal"))
                .or_else(|| with_pca().next_back()))
        }
    }
}

fn check_dag(dag: &Dag) -> Result<Vec<(usize, usize)>> {
    let mut index = HashMap::new();
    for (i, node) in dag.nodes.iter().enumerate() {
        if node.name.is_empty() {
            return Err(Error::BadDag(format!("node {i} has an empty name")));
        }
        if index.insert(node.name.as_str(), i).is_some() {
            return Err(Error::BadDag(format!("node '{}' appears more than once", node.name)));
        }
        if node.kind.trim().is_empty() {
            return Err(Error::BadDag(format!("node '{}' has an empty kind", node.name)));
        }
    }
    let mut edges = Vec::new();
    let mut seen = BTreeSet::new();
    for edge in &dag.edges {
        let lookup = |name: &str| {
            index.get(name).copied().ok_or_else(|| {
                Error::BadDag(format!("edge {} -> {} names an unknown node '{name}'", edge.from, edge.to))
            })
        };
        let (from, to) = (lookup(&edge.from)?, lookup(&edge.to)?);
        if from == to {
            return Err(Error::BadDag(format!("edge {} -> {} is a self-loop", edge.from, edge.to)));
        }
        if seen.insert((from, to)) {
            edges.push((from, to));
        }
    }
    if let Some(node) = crate::figures::dag::find_cycle(dag.nodes.len(), &edges) {
        return Err(Error::BadDag(format!("the edges form a cycle through node '{}'", dag.nodes[node].name)));
    }
    if let Some(report) = &dag.report_node
        && !index.contains_key(report.as_str())
    {
        return Err(Error::BadDag(format!(
            "report_node '{report}' is not one of the {} nodes; name the node that makes the report, or leave it out",
            dag.nodes.len()
        )));
    }
    Ok(edges)
}
