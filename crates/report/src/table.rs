//! Table 1 (metrics per feature set) as data, so the HTML table, the CSV and the SVG figure
//! show the same cells.

use crate::check::Checked;
use crate::input::Metrics;
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
}

type Column = (&'static str, fn(&Metrics) -> Option<f64>);

/// The metric columns in the seed's order, then AUC when any model has one.
const METRICS: [Column; 5] = [
    ("Accuracy", |m| Some(m.accuracy)),
    ("F1", |m| Some(m.f1)),
    ("Precision", |m| Some(m.precision)),
    ("Recall", |m| Some(m.recall)),
    ("AUC", |m| m.roc_auc),
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
    let columns: Vec<_> = METRICS.iter().filter(|(name, _)| *name != "AUC" || any_auc).collect();

    let mut header = vec!["Feature set", "Model"];
    header.extend(columns.iter().map(|(name, _)| *name));
    if any_pca {
        header.push("PCs");
    }

    // The best formatted value per column: ties in the printed digits are all marked.
    let best: Vec<Option<String>> = columns
        .iter()
        .map(|(_, get)| models.iter().filter_map(|(_, _, _, m)| get(m)).reduce(f64::max).map(format_metric))
        .collect();

    let rows = models
        .iter()
        .map(|&(set, model, baseline, metrics)| {
            let mut cells = Vec::new();
            let mut marks = Vec::new();
            for ((_, get), best) in columns.iter().zip(&best) {
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
            }
            Row { set: set.to_string(), model: model.to_string(), baseline, cells, best: marks }
        })
        .collect();
    MetricsTable { header, rows }
}

/// The table as CSV with full-precision values (the table's cells are rounded).
pub(crate) fn metrics_csv(checked: &Checked) -> String {
    let input = checked.input;
    let mut out = String::from("feature_set,model,accuracy,f1,precision,recall,roc_auc,n_components\n");
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
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                field(&set.name),
                field(model),
                m.accuracy,
                m.f1,
                m.precision,
                m.recall,
                auc,
                pcs
            ));
        }
    }
    out
}
