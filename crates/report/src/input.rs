//! What the report is drawn from: plain serde structs, so the workflow node can pass them as
//! JSON and the crate needs neither the engine nor the model crate.

use serde::{Deserialize, Serialize};

/// Everything one report shows. Only `title` and `feature_sets` are required in JSON; the
/// other fields have the defaults documented on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// The page's heading and `<title>`.
    pub title: String,
    /// One entry per feature set (genomic, clinical, imaging, multimodal), in display order.
    pub feature_sets: Vec<FeatureSetReport>,
    /// The feature set whose PCA the PCA figures show. `None`: the one named "multimodal" if it
    /// has a PCA summary, else the last one that has one; with no PCA summary at all the PCA
    /// figures are left out.
    #[serde(default)]
    pub pca_feature_set: Option<String>,
    /// The two principal components of the correlation circle, numbered from 1 (default PC1, PC2).
    #[serde(default = "default_circle_pcs")]
    pub circle_pcs: [usize; 2],
    /// How many features the correlation circle labels: those farthest from the origin (default 15).
    #[serde(default = "default_top_n")]
    pub top_n: usize,
    /// How many leading components the loading heat map shows (default 20, fewer if fewer were kept).
    #[serde(default = "default_heatmap_pcs")]
    pub heatmap_pcs: usize,
    /// Names of label 0 and label 1 in the confusion matrices (default "Alive", "Dead").
    #[serde(default = "default_class_names")]
    pub class_names: [String; 2],
    /// The name of the main model in the table and legends (default "GBDT").
    #[serde(default = "default_model_label")]
    pub model_label: String,
    /// The name of the baseline model (default "decision tree").
    #[serde(default = "default_baseline_label")]
    pub baseline_label: String,
    /// The workflow's structure; with no nodes the DAG figure is left out.
    #[serde(default)]
    pub dag: Dag,
    /// Also write a PNG beside each SVG (default true).
    #[serde(default = "default_png")]
    pub png: bool,
}

impl ReportInput {
    /// A report with the given title and feature sets and every other field at its default.
    pub fn new(title: impl Into<String>, feature_sets: Vec<FeatureSetReport>) -> ReportInput {
        ReportInput {
            title: title.into(),
            feature_sets,
            pca_feature_set: None,
            circle_pcs: default_circle_pcs(),
            top_n: default_top_n(),
            heatmap_pcs: default_heatmap_pcs(),
            class_names: default_class_names(),
            model_label: default_model_label(),
            baseline_label: default_baseline_label(),
            dag: Dag::default(),
            png: default_png(),
        }
    }
}

fn default_circle_pcs() -> [usize; 2] {
    [1, 2]
}

fn default_top_n() -> usize {
    15
}

fn default_heatmap_pcs() -> usize {
    20
}

fn default_class_names() -> [String; 2] {
    ["Alive".to_string(), "Dead".to_string()]
}

fn default_model_label() -> String {
    "GBDT".to_string()
}

fn default_baseline_label() -> String {
    "decision tree".to_string()
}

fn default_png() -> bool {
    true
}

/// The results of one feature set: the model's test metrics, optionally the baseline's and the
/// PCA that fed the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSetReport {
    /// "genomic", "clinical", "imaging", "multimodal", ...; unique within a report. A name equal
    /// to a modality name (case-insensitive) gets that modality's colour.
    pub name: String,
    /// The main model (gradient-boosted trees) on the test set.
    pub model: Metrics,
    /// The decision-tree baseline on the same test set, when it was trained.
    #[serde(default)]
    pub baseline: Option<Metrics>,
    /// The PCA fitted on this feature set's training rows.
    #[serde(default)]
    pub pca: Option<PcaSummary>,
}

/// Binary classification metrics on a test set. Precision, recall and F1 are weighted by class
/// support (scikit-learn's `average="weighted"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Area under the ROC curve; `None` when it is undefined (one class in the test set) or
    /// was not computed. The table then shows a dash.
    #[serde(default)]
    pub roc_auc: Option<f64>,
    /// Counts, `confusion[true label][predicted label]`, labels 0 and 1.
    pub confusion: [[u64; 2]; 2],
    /// The ROC curve in drawing order (usually by decreasing threshold); may be empty.
    #[serde(default)]
    pub roc: Vec<RocPoint>,
    /// 95% confidence intervals of the metrics (bootstrap), when they were computed.
    #[serde(default)]
    pub intervals: Option<Intervals>,
}

impl Metrics {
    /// The size of the test set, from the confusion counts.
    pub fn n(&self) -> u64 {
        self.confusion.iter().flatten().sum()
    }
}

/// 95% intervals `[low, high]` of the metrics, e.g. by a percentile bootstrap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intervals {
    /// How many resamples the intervals come from.
    pub resamples: usize,
    pub accuracy: [f64; 2],
    pub precision: [f64; 2],
    pub recall: [f64; 2],
    pub f1: [f64; 2],
    #[serde(default)]
    pub roc_auc: Option<[f64; 2]>,
}

impl Intervals {
    /// Do the two accuracy intervals share a value?
    pub fn accuracy_overlaps(&self, other: &Intervals) -> bool {
        self.accuracy[0] <= other.accuracy[1] && other.accuracy[0] <= self.accuracy[1]
    }
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RocPoint {
    /// False positive rate, in [0, 1].
    pub fpr: f64,
    /// True positive rate, in [0, 1].
    pub tpr: f64,
}

/// A PCA as the figures need it.
///
/// `components` are scikit-learn's `components_`: unit-norm eigenvectors of the covariance of
/// the *standardised* training features, one row per kept component. The correlation circle
/// draws `correlations` when given (flow-ml's `Pca::correlations()`, transposed), and otherwise
/// derives them as `r[j][f] = components[j][f] * sqrt(explained_variance_ratio[j] * n_features)`,
/// which is exact when every feature had unit variance before the PCA (the pipeline scales
/// first) and the ratios are relative to the total variance of all features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaSummary {
    /// Variance ratio of every computed component (not only the kept ones), in decreasing order,
    /// relative to the total variance; the explained-variance figure draws all of them.
    pub explained_variance_ratio: Vec<f64>,
    /// How many components were kept (k).
    pub n_components: usize,
    /// The cumulative variance target that chose k (0.99 in the seed).
    pub variance_target: f64,
    /// The input features in column order, each with its modality.
    pub features: Vec<Feature>,
    /// k rows (one per kept component) of `features.len()` loadings.
    pub components: Vec<Vec<f64>>,
    /// Optional: k rows of `features.len()` correlations between each feature and the scores
    /// on each component, in [-1, 1], for the correlation circle.
    #[serde(default)]
    pub correlations: Option<Vec<Vec<f64>>>,
}

/// A feature column and the modality it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub name: String,
    /// "genomic", "clinical", "imaging", or any other name (it then gets a colour of its own).
    pub modality: String,
}

/// The workflow that made the report, as a DAG: nodes with their kinds, and dependency edges.
///
/// Structure only, on purpose: a report is cached by its inputs like any output, so anything
/// that differs from run to run (statuses, times, run ids) would change its bytes every run and,
/// on a cache hit, show a run that is long over. A run's timings belong in the run's own log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dag {
    #[serde(default)]
    pub nodes: Vec<DagNode>,
    #[serde(default)]
    pub edges: Vec<DagEdge>,
    /// The node that made this report, drawn emphasised; one of `nodes`, or `None`.
    #[serde(default)]
    pub report_node: Option<String>,
}

/// One node of the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagNode {
    /// The node's name in the workflow; unique.
    pub name: String,
    /// Its kind, e.g. "ml.train_gbdt". The part before the first dot (its family) picks the
    /// box's colour.
    pub kind: String,
}

/// An edge `from` → `to`: `to` consumes an output of `from`. Both are node names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagEdge {
    pub from: String,
    pub to: String,
}
