//! Table 1 (metrics per feature set) as data, so the HTML table, the CSV and the SVG figure
//! show the same cells.

use crate::check::Checked;
use crate::input::{FeatureSetReport, Intervals, Metrics};
use crate::style::format_metric;

pub(crate) struct MetricsTable {
    pub header: Vec<&'static str>,
    pub rows: Vec<Row>,
}

pub(crate) struct Row {
    pub set: String,
    pub model: String,
    /// Whether this is the baseline model's row.
    pub baseline: bool,
    /// Formatted cells after the set and model columns, in header order.
    pub cells: Vec<String>,
    /// Per cell: the best value of its column (metric columns only).
    pub best: Vec<bool>,
    /// Per cell: its 95% interval, formatted, when the metrics have intervals.
    pub intervals: Vec<Option<String>>,
}

type Column = (&'static str, fn(&Metrics) -> Option<f64>, fn(&Intervals) -> Option<[f64; 2]>);

/// The metric columns in the seed's order, then AUC when any model has one.
const METRICS: [Column; 5] = [
    ("Accuracy", |m| Some(m.accuracy), |i| Some(i.accuracy)),
    ("F1", |m| Some(m.f1), |i| Some(i.f1)),
    ("Precision", |m| Some(m.precision), |i| Some(i.precision)),
    ("Recall", |m| Some(m.recall), |i| Some(i.recall)),
    ("AUC", |m| m.roc_auc, |i| i.roc_auc),
];

pub(crate) fn metrics_table(checked: &Checked) -> MetricsTable {
    let input = checked.input;
    let mut models: Vec<(&str, &str, bool, &Metrics)> = Vec::new();
    for set in &input.feature_sets {
        models.push((&set.name, &input.model_label, false, &set.model));
        if let Some(baseline) = &set.baseline {
            models.push((&set.name, &input.baseline_label, true, baseline));
        }
    }
    let any_auc = models.iter().any(|(_, _, _, m)| m.roc_auc.is_some());
    let any_pca = input.feature_sets.iter().any(|set| set.pca.is_some());
    let columns: Vec<_> = METRICS.iter().filter(|(name, _, _)| *name != "AUC" || any_auc).collect();

    let mut header = vec!["Feature set", "Model"];
    header.push("n");
    header.extend(columns.iter().map(|(name, _, _)| *name));
    if any_pca {
        header.push("PCs");
    }

    // The best formatted value per column: ties in the printed digits are all marked.
    let best: Vec<Option<String>> = columns
        .iter()
        .map(|(_, get, _)| models.iter().filter_map(|(_, _, _, m)| get(m)).reduce(f64::max).map(format_metric))
        .collect();

    let rows = models
        .iter()
        .map(|&(set, model, baseline, metrics)| {
            let mut cells = vec![metrics.n().to_string()];
            let mut marks = vec![false];
            let mut intervals = vec![None];
            for ((_, get, interval), best) in columns.iter().zip(&best) {
                match get(metrics) {
                    Some(value) => {
                        let cell = format_metric(value);
                        marks.push(best.as_deref() == Some(cell.as_str()));
                        cells.push(cell);
                    }
                    None => {
                        cells.push("\u{2013}".to_string());
                        marks.push(false);
                    }
                }
                let range = metrics.intervals.as_ref().and_then(interval);
                intervals
                    .push(range.map(|[low, high]| format!("{}\u{2013}{}", format_metric(low), format_metric(high))));
            }
            if any_pca {
                let pcs = input
                    .feature_sets
                    .iter()
                    .find(|s| s.name == set)
                    .and_then(|s| s.pca.as_ref())
                    .map(|pca| pca.n_components.to_string());
                cells.push(pcs.unwrap_or_else(|| "\u{2013}".to_string()));
                marks.push(false);
                intervals.push(None);
            }
            Row { set: set.to_string(), model: model.to_string(), baseline, cells, best: marks, intervals }
        })
        .collect();
    MetricsTable { header, rows }
}

/// The table as CSV with full-precision values (the table's cells are rounded).
pub(crate) fn metrics_csv(checked: &Checked) -> String {
    let input = checked.input;
    let mut out = String::from(
        "feature_set,model,n,accuracy,f1,precision,recall,roc_auc,n_components,\
         accuracy_low,accuracy_high,f1_low,f1_high,precision_low,precision_high,recall_low,recall_high,roc_auc_low,roc_auc_high\n",
    );
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    for set in &input.feature_sets {
        let pcs = set.pca.as_ref().map(|pca| pca.n_components.to_string()).unwrap_or_default();
        let mut rows = vec![(&input.model_label, &set.model)];
        if let Some(baseline) = &set.baseline {
            rows.push((&input.baseline_label, baseline));
        }
        for (model, m) in rows {
            let auc = m.roc_auc.map(|v| v.to_string()).unwrap_or_default();
            let bounds = |range: Option<[f64; 2]>| match range {
                Some([low, high]) => format!("{low},{high}"),
                None => ",".to_string(),
            };
            let intervals = match &m.intervals {
                Some(i) => {
                    [Some(i.accuracy), Some(i.f1), Some(i.precision), Some(i.recall), i.roc_auc].map(bounds).join(",")
                }
                None => [None; 5].map(bounds).join(","),
            };
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                field(&set.name),
                field(model),
                m.n(),
                m.accuracy,
                m.f1,
                m.precision,
                m.recall,
                auc,
                pcs,
                intervals
            ));
        }
    }
    out
}

/// What the intervals allow one to say about ranking the feature sets by accuracy (main model
/// only), or `None` without intervals.
pub fn ranking_note(sets: &[FeatureSetReport]) -> Option<String> {
    let with: Vec<(&str, &Metrics, &Intervals)> =
        sets.iter().filter_map(|set| Some((set.name.as_str(), &set.model, set.model.intervals.as_ref()?))).collect();
    if with.len() < 2 || with.len() < sets.len() {
        return None;
    }
    let (best_name, best, best_interval) = with.iter().copied().max_by(|a, b| a.1.accuracy.total_cmp(&b.1.accuracy))?;
    let overlapping: Vec<&str> = with
        .iter()
        .filter(|(name, _, interval)| *name != best_name && interval.accuracy_overlaps(best_interval))
        .map(|(name, _, _)| *name)
        .collect();
    let sizes: std::collections::BTreeSet<u64> = with.iter().map(|(_, m, _)| m.n()).collect();
    let n = sizes.iter().map(u64::to_string).collect::<Vec<_>>().join("/");
    let resamples = best_interval.resamples;
    Some(if overlapping.is_empty() {
        format!(
            "The 95% interval of {best_name}'s accuracy ({resamples} bootstrap resamples of the {n} test patients) \
             overlaps no other feature set's: on this test set it ranks first."
        )
    } else {
        format!(
            "With {n} test patients the 95% intervals of the accuracy ({resamples} bootstrap resamples) overlap: \
             {best_name} ({:.3}) cannot be ranked above {} on this test set; a larger cohort or cross-validation could.",
            best.accuracy,
            overlapping.join(", ")
        )
    })
}
