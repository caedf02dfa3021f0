//! Classification metrics, computed as scikit-learn 1.9.1 computes them.
//!
//! - [`accuracy`], [`confusion_matrix`] (rows are true classes, columns predicted ones),
//!   [`class_scores`] (precision, recall, F1 and support per class) and [`weighted_average`]
//!   (`average="weighted"`: each class weighted by its support). A ratio with a zero denominator
//!   is 0 (`zero_division=0`). Labels are any numbers; the classes are the sorted union of the
//!   true and predicted labels, as scikit-learn's `unique_labels`.
//! - [`roc_curve`] is `roc_curve(drop_intermediate=False)`: one point per distinct score, from
//!   the highest down, after a first point (0, 0) at threshold +inf. Rows with equal scores enter
//!   the curve together, as one diagonal step, so ties are handled as scikit-learn does; [`roc_auc`]
//!   is the trapezoidal area under that curve (`roc_auc_score`). Dropping the collinear
//!   intermediate points (scikit-learn's default) would not change the area.
//! - With a single class in `y_true` the ROC curve is undefined. scikit-learn 1.9 warns and
//!   returns NaN (older versions raised); we return [`MetricsError::OneClass`], and
//!   [`ClassificationReport`] records `roc_auc: None`.
//! - [`ClassificationReport`] puts them together for a binary problem from true labels (0/1),
//!   predicted probabilities of class 1 and a threshold: a row is predicted 1 when its
//!   probability is **greater than** the threshold (XGBoost's and scikit-learn's `predict` at 0.5).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    #[error("y_true has {y_true} values but {what} has {got}")]
    Length { what: &'static str, y_true: usize, got: usize },
    #[error("no samples to score")]
    Empty,
    #[error("{what}[{index}] is {value}; labels must be numbers")]
    BadLabel { what: &'static str, index: usize, value: f64 },
    #[error("y_true[{index}] is {value}; ROC curves and the report need binary labels 0 and 1")]
    NotBinary { index: usize, value: f64 },
    #[error("{what}[{index}] is {value}; scores must be finite")]
    BadScore { what: &'static str, index: usize, value: f64 },
    #[error("y_true holds only class {label}; a ROC curve needs both classes")]
    OneClass { label: f64 },
    #[error("the threshold must be a finite number, got {0}")]
    Threshold(f64),
}

/// Counts of (true class, predicted class) pairs: `counts[i][j]` rows of class `labels[i]`
/// predicted as `labels[j]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfusionMatrix {
    pub labels: Vec<f64>,
    pub counts: Vec<Vec<usize>>,
}

/// Scores of one class against the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassScores {
    pub label: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows of this class in y_true.
    pub support: usize,
}

/// Support-weighted means of the per-class scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Averaged {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Points of a ROC curve, by decreasing threshold. `thresholds[0]` is +inf (no row predicted
/// positive); in JSON it is written as the string "inf", which JSON numbers cannot express.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    #[serde(with = "non_finite")]
    pub thresholds: Vec<f64>,
}

/// The fraction of rows whose predicted label equals the true one.
pub fn accuracy(y_true: &[f64], y_pred: &[f64]) -> Result<f64, MetricsError> {
    check_labels(y_true, y_pred)?;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(correct as f64 / y_true.len() as f64)
}

/// Classes are the sorted union of the labels in `y_true` and `y_pred`.
pub fn confusion_matrix(y_true: &[f64], y_pred: &[f64]) -> Result<ConfusionMatrix, MetricsError> {
    check_labels(y_true, y_pred)?;
    Ok(confusion_with_labels(y_true, y_pred, union_labels(y_true, y_pred)))
}

/// Per class of the sorted union of labels: precision, recall, F1 (0 where undefined) and support.
pub fn class_scores(y_true: &[f64], y_pred: &[f64]) -> Result<Vec<ClassScores>, MetricsError> {
    Ok(scores_from_confusion(&confusion_matrix(y_true, y_pred)?))
}

/// scikit-learn's `average="weighted"`: the mean of each score weighted by class support.
pub fn weighted_average(scores: &[ClassScores]) -> Averaged {
    let support: usize = scores.iter().map(|s| s.support).sum();
    let mean = |score: fn(&ClassScores) -> f64| {
        let weighted: f64 = scores.iter().map(|s| score(s) * s.support as f64).sum();
        divide(weighted, support as f64)
    };
    Averaged { precision: mean(|s| s.precision), recall: mean(|s| s.recall), f1: mean(|s| s.f1), support }
}

/// The ROC curve of scores `y_score` for binary labels `y_true` (class 1 positive), every
/// distinct score a threshold.
pub fn roc_curve(y_true: &[f64], y_score: &[f64]) -> Result<RocCurve, MetricsError> {
    check_binary(y_true, y_score)?;
    let n_positive = y_true.iter().filter(|&&t| t == 1.0).count();
    if n_positive == 0 || n_positive == y_true.len() {
        return Err(MetricsError::OneClass { label: if n_positive == 0 { 0.0 } else { 1.0 } });
    }
    let mut order: Vec<usize> = (0..y_score.len()).collect();
    order.sort_by(|&a, &b| y_score[b].total_cmp(&y_score[a]));
    let (mut fps, mut tps) = (vec![0usize], vec![0usize]);
    let mut thresholds = vec![f64::INFINITY];
    let (mut true_positives, mut false_positives) = (0, 0);
    for (position, &row) in order.iter().enumerate() {
        if y_true[row] == 1.0 {
            true_positives += 1;
        } else {
            false_positives += 1;
        }
        // A point only after the last row of a run of equal scores: tied rows move the curve
        // together, in one diagonal step.
        let last_of_score = order.get(position + 1).is_none_or(|&next| y_score[next] != y_score[row]);
        if last_of_score {
            tps.push(true_positives);
            fps.push(false_positives);
            thresholds.push(y_score[row]);
        }
    }
    let n_negative = y_true.len() - n_positive;
    Ok(RocCurve {
        fpr: fps.iter().map(|&f| f as f64 / n_negative as f64).collect(),
        tpr: tps.iter().map(|&t| t as f64 / n_positive as f64).collect(),
        thresholds,
    })
}

/// The area under [`roc_curve`] by the trapezoidal rule (scikit-learn's `roc_auc_score`).
pub fn roc_auc(y_true: &[f64], y_score: &[f64]) -> Result<f64, MetricsError> {
    Ok(roc_curve(y_true, y_score)?.area())
}

impl RocCurve {
    /// Trapezoidal area; fpr never decreases along the curve.
    pub fn area(&self) -> f64 {
        let points = self.fpr.iter().zip(&self.tpr);
        points.clone().zip(points.skip(1)).map(|((x0, y0), (x1, y1))| (x1 - x0) * (y1 + y0) / 2.0).sum()
    }
}

/// Everything the report shows about a binary classifier on one part of the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationReport {
    /// Rows with probability above this are predicted 1.
    pub threshold: f64,
    pub n_samples: usize,
    pub accuracy: f64,
    /// Classes 0 and 1, always both, whether or not they occur.
    pub classes: Vec<ClassScores>,
    pub weighted: Averaged,
    /// Labels [0, 1].
    pub confusion: ConfusionMatrix,
    /// `None` when y_true holds a single class (the area is undefined).
    pub roc_auc: Option<f64>,
    pub roc: Option<RocCurve>,
    /// 95% bootstrap intervals, when asked for (`crate::bootstrap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<crate::bootstrap::Intervals>,
}

impl ClassificationReport {
    /// `y_true` in {0, 1}; `y_prob` the predicted probability of class 1.
    pub fn from_probabilities(
        y_true: &[f64],
        y_prob: &[f64],
        threshold: f64,
    ) -> Result<ClassificationReport, MetricsError> {
        if !threshold.is_finite() {
            return Err(MetricsError::Threshold(threshold));
        }
        check_binary(y_true, y_prob)?;
        let y_pred: Vec<f64> = y_prob.iter().map(|&p| if p > threshold { 1.0 } else { 0.0 }).collect();
        // Fixed labels, so the report has the same shape whatever the predictions. A class that
        // occurs nowhere has support 0 and does not change the weighted means.
        let confusion = confusion_with_labels(y_true, &y_pred, vec![0.0, 1.0]);
        let classes = scores_from_confusion(&confusion);
        let roc = match roc_curve(y_true, y_prob) {
            Ok(curve) => Some(curve),
            Err(MetricsError::OneClass { .. }) => None,
            Err(other) => return Err(other),
        };
        Ok(ClassificationReport {
            threshold,
            n_samples: y_true.len(),
            accuracy: accuracy(y_true, &y_pred)?,
            weighted: weighted_average(&classes),
            classes,
            confusion,
            roc_auc: roc.as_ref().map(RocCurve::area),
            roc,
            intervals: None,
        })
    }
}

fn check_labels(y_true: &[f64], y_pred: &[f64]) -> Result<(), MetricsError> {
    if y_true.len() != y_pred.len() {
        return Err(MetricsError::Length { what: "y_pred", y_true: y_true.len(), got: y_pred.len() });
    }
    if y_true.is_empty() {
        return Err(MetricsError::Empty);
    }
    for (what, labels) in [("y_true", y_true), ("y_pred", y_pred)] {
        if let Some(index) = labels.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::BadLabel { what, index, value: labels[index] });
        }
    }
    Ok(())
}

fn check_binary(y_true: &[f64], y_score: &[f64]) -> Result<(), MetricsError> {
    if y_true.len() != y_score.len() {
        return Err(MetricsError::Length { what: "y_score", y_true: y_true.len(), got: y_score.len() });
    }
    if y_true.is_empty() {
        return Err(MetricsError::Empty);
    }
    if let Some(index) = y_true.iter().position(|&t| t != 0.0 && t != 1.0) {
        return Err(MetricsError::NotBinary { index, value: y_true[index] });
    }
    if let Some(index) = y_score.iter().position(|s| !s.is_finite()) {
        return Err(MetricsError::BadScore { what: "y_score", index, value: y_score[index] });
    }
    Ok(())
}

fn union_labels(y_true: &[f64], y_pred: &[f64]) -> Vec<f64> {
    // Adding 0.0 makes -0.0 and 0.0 one label, as they compare equal.
    let mut labels: Vec<f64> = y_true.iter().chain(y_pred).map(|v| v + 0.0).collect();
    labels.sort_by(f64::total_cmp);
    labels.dedup();
    labels
}

/// Rows whose labels are not in `labels` are left out, as scikit-learn does with `labels=`.
fn confusion_with_labels(y_true: &[f64], y_pred: &[f64], labels: Vec<f64>) -> ConfusionMatrix {
    let mut counts = vec![vec![0; labels.len()]; labels.len()];
    let index = |value: f64| labels.iter().position(|&l| l == value);
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if let (Some(i), Some(j)) = (index(t), index(p)) {
            counts[i][j] += 1;
        }
    }
    ConfusionMatrix { labels, counts }
}

fn scores_from_confusion(confusion: &ConfusionMatrix) -> Vec<ClassScores> {
    let n = confusion.labels.len();
    (0..n)
        .map(|c| {
            let true_positives = confusion.counts[c][c] as f64;
            let support: usize = confusion.counts[c].iter().sum();
            let predicted: usize = confusion.counts.iter().map(|row| row[c]).sum();
            ClassScores {
                label: confusion.labels[c],
                precision: divide(true_positives, predicted as f64),
                recall: divide(true_positives, support as f64),
                // scikit-learn's form, 2tp / (true + predicted), defined (as 0) when precision
                // and recall are both 0.
                f1: divide(2.0 * true_positives, support as f64 + predicted as f64),
                support,
            }
        })
        .collect()
}

/// `zero_division=0`.
fn divide(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 { 0.0 } else { numerator / denominator }
}

/// f64 lists whose non-finite values are written as the strings "inf", "-inf" and "nan".
mod non_finite {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|&v| match v {
            v if v.is_finite() => Value::Number(v),
            v if v.is_nan() => Value::Text("nan".into()),
            v if v > 0.0 => Value::Text("inf".into()),
            _ => Value::Text("-inf".into()),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Value>::deserialize(deserializer)?
            .into_iter()
            .map(|value| match value {
                Value::Number(v) => Ok(v),
                Value::Text(text) => match text.as_str() {
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nan" => Ok(f64::NAN),
                    other => Err(serde::de::Error::custom(format!(
                        "expected a number, \"inf\", \"-inf\" or \"nan\", got \"{other}\""
                    ))),
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_make_one_diagonal_step() {
        // Two rows share score 0.5, one positive and one negative: one point, (0.5, 1.0) after
        // (0, 0.5), and the tie contributes half a cell.
        let curve = roc_curve(&[1.0, 1.0, 0.0, 0.0], &[0.9, 0.5, 0.5, 0.1]).unwrap();
        assert_eq!(curve.fpr, vec![0.0, 0.0, 0.5, 1.0]);
        assert_eq!(curve.tpr, vec![0.0, 0.5, 1.0, 1.0]);
        assert_eq!(curve.thresholds, vec![f64::INFINITY, 0.9, 0.5, 0.1]);
        assert_eq!(curve.area(), 0.875);
    }

    #[test]
    fn zero_division_is_zero() {
        // Nothing predicted positive: precision of class 1 is 0, not NaN.
        let scores = class_scores(&[0.0, 1.0, 1.0], &[0.0, 0.0, 0.0]).unwrap();
        assert_eq!(scores[1], ClassScores { label: 1.0, precision: 0.0, recall: 0.0, f1: 0.0, support: 2 });
        assert_eq!(scores[0].precision, 1.0 / 3.0);
    }

    #[test]
    fn one_class_and_bad_input() {
        assert_eq!(roc_auc(&[1.0, 1.0], &[0.2, 0.3]), Err(MetricsError::OneClass { label: 1.0 }));
        assert!(matches!(roc_auc(&[1.0, 2.0], &[0.2, 0.3]), Err(MetricsError::NotBinary { index: 1, .. })));
        assert!(matches!(roc_auc(&[1.0, 0.0], &[0.2, f64::NAN]), Err(MetricsError::BadScore { index: 1, .. })));
        assert!(matches!(accuracy(&[1.0], &[1.0, 0.0]), Err(MetricsError::Length { .. })));
        assert_eq!(accuracy(&[], &[]), Err(MetricsError::Empty));
        let report = ClassificationReport::from_probabilities(&[0.0, 0.0], &[0.2, 0.7], 0.5).unwrap();
        assert_eq!(report.roc_auc, None);
        assert_eq!(report.confusion.counts, vec![vec![1, 1], vec![0, 0]]);
        assert_eq!(report.weighted.precision, 1.0);
    }

    #[test]
    fn report_json_round_trip_keeps_infinity() {
        let report =
            ClassificationReport::from_probabilities(&[0.0, 1.0, 1.0, 0.0], &[0.1, 0.8, 0.5, 0.5], 0.5).unwrap();
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"thresholds\":[\"inf\","), "{json}");
        assert_eq!(serde_json::from_str::<ClassificationReport>(&json).unwrap(), report);
    }
}
