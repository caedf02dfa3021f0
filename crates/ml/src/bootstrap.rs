//! Percentile-bootstrap confidence intervals of a classifier's metrics on a test set: how far
//! the numbers of 24 test patients can be trusted (Efron & Tibshirani 1993, ch. 13). The test
//! rows are drawn with replacement `resamples` times from a seeded ChaCha8 stream, the metrics
//! computed on each draw, and the 2.5th and 97.5th percentiles kept (numpy's default linear
//! interpolation). The same seed gives the same intervals.

use serde::{Deserialize, Serialize};

use crate::metrics::{ClassificationReport, MetricsError};
use crate::split::Shuffler;

/// 95% intervals, `[low, high]`, of the headline metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intervals {
    pub resamples: usize,
    pub seed: u64,
    pub accuracy: [f64; 2],
    /// Weighted over the classes, as the headline numbers are.
    pub precision: [f64; 2],
    pub recall: [f64; 2],
    pub f1: [f64; 2],
    /// Over the draws holding both classes; `None` if fewer than half of them did.
    pub roc_auc: Option<[f64; 2]>,
}

impl Intervals {
    /// Do the two accuracy intervals share any value?
    pub fn accuracy_overlaps(&self, other: &Intervals) -> bool {
        self.accuracy[0] <= other.accuracy[1] && other.accuracy[0] <= self.accuracy[1]
    }
}

/// The ChaCha stream of bootstrap draws, apart from the splits' streams.
const STREAM: u64 = 7;

/// Intervals of the metrics `ClassificationReport::from_probabilities` gives for these rows.
pub fn bootstrap(
    y_true: &[f64],
    y_prob: &[f64],
    threshold: f64,
    resamples: usize,
    seed: u64,
) -> Result<Intervals, MetricsError> {
    // Checks the rows once; every draw is then made of valid rows.
    ClassificationReport::from_probabilities(y_true, y_prob, threshold)?;
    let n = y_true.len();
    let mut draws = Shuffler::new(seed, STREAM);
    let (mut accuracy, mut precision, mut recall, mut f1, mut auc) =
        (Vec::with_capacity(resamples), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut truth, mut prob) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..resamples {
        for slot in 0..n {
            let row = draws.below(n as u64) as usize;
            truth[slot] = y_true[row];
            prob[slot] = y_prob[row];
        }
        let report = ClassificationReport::from_probabilities(&truth, &prob, threshold)?;
        accuracy.push(report.accuracy);
        precision.push(report.weighted.precision);
        recall.push(report.weighted.recall);
        f1.push(report.weighted.f1);
        auc.extend(report.roc_auc);
    }
    let roc_auc = (resamples > 0 && auc.len() * 2 >= resamples).then(|| interval(&mut auc));
    Ok(Intervals {
        resamples,
        seed,
        accuracy: interval(&mut accuracy),
        precision: interval(&mut precision),
        recall: interval(&mut recall),
        f1: interval(&mut f1),
        roc_auc,
    })
}

/// The 2.5th and 97.5th percentiles; NaN for no values.
fn interval(values: &mut [f64]) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    [percentile(values, 2.5), percentile(values, 97.5)]
}

/// numpy's `percentile(..., method="linear")` of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let position = q / 100.0 * (n - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let fraction = position - below as f64;
            sorted[below] + (sorted[above] - sorted[below]) * fraction
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_as_numpy_does() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 97.5]) == [1.075, 3.925]
        let mut values = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(interval(&mut values).map(|v| (v * 1e9).round() / 1e9), [1.075, 3.925]);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn intervals_are_seeded_contain_the_estimate_and_narrow_with_more_rows() {
        let rows = |n: usize| -> (Vec<f64>, Vec<f64>) {
            // Three in four predicted right, a fixed pattern.
            let truth: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
            let prob: Vec<f64> =
                (0..n).map(|i| if i % 4 == 3 { 1.0 - truth[i] } else { truth[i] * 0.8 + 0.1 }).collect();
            (truth, prob)
        };
        let (truth, prob) = rows(24);
        let first = bootstrap(&truth, &prob, 0.5, 1000, 42).unwrap();
        assert_eq!(first, bootstrap(&truth, &prob, 0.5, 1000, 42).unwrap(), "the same seed, the same intervals");
        assert_ne!(first, bootstrap(&truth, &prob, 0.5, 1000, 43).unwrap());
        let estimate = ClassificationReport::from_probabilities(&truth, &prob, 0.5).unwrap().accuracy;
        assert!(first.accuracy[0] < estimate && estimate < first.accuracy[1], "{first:?}");
        // 0.75 on 24 rows: the binomial standard error is 0.088, so the interval spans ~0.35.
        let width = first.accuracy[1] - first.accuracy[0];
        assert!((0.25..0.45).contains(&width), "{width}");
        let (truth, prob) = rows(2400);
        let wide = bootstrap(&truth, &prob, 0.5, 300, 42).unwrap();
        assert!(wide.accuracy[1] - wide.accuracy[0] < width / 5.0, "{wide:?}");
    }

    #[test]
    fn one_class_draws_leave_the_auc_without_an_interval() {
        let truth = [1.0, 1.0, 1.0, 0.0];
        let prob = [0.9, 0.8, 0.7, 0.2];
        let intervals = bootstrap(&truth, &prob, 0.5, 200, 1).unwrap();
        // A draw misses the one 0 with probability (3/4)^4 = 32%: most draws still have an AUC.
        assert!(intervals.roc_auc.is_some());
        let all_ones = bootstrap(&[1.0, 1.0], &[0.9, 0.8], 0.5, 50, 1).unwrap();
        assert_eq!(all_ones.roc_auc, None);
    }
}
