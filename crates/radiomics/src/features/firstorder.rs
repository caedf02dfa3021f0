//! First-order statistics of the ROI intensities (pyradiomics `firstorder`, 18 default features).
//!
//! All use the raw intensities except Entropy and Uniformity, which use the histogram of the
//! discretised grey levels (same bin width as the texture classes).

use super::{ClassFeatures, entropy};
use crate::discretise::Binning;
use crate::roi::Roi;

pub fn compute(roi: &Roi, bin_width: f64, voxel_array_shift: f64) -> ClassFeatures {
    let mut x = roi.values.clone();
    let n = x.len() as f64;
    let voxel_volume: f64 = roi.spacing.iter().product();

    let energy: f64 = x.iter().map(|v| (v + voxel_array_shift).powi(2)).sum();
    let mean = x.iter().sum::<f64>() / n;
    let central = |k: i32| x.iter().map(|v| (v - mean).powi(k)).sum::<f64>() / n;
    let (m2, m3, m4) = (central(2), central(3), central(4));
    // pyradiomics returns 0 for a flat ROI rather than 0/0.
    let skewness = if m2 == 0.0 { 0.0 } else { m3 / m2.powf(1.5) };
    let kurtosis = if m2 == 0.0 { 0.0 } else { m4 / (m2 * m2) };
    let mean_absolute_deviation = x.iter().map(|v| (v - mean).abs()).sum::<f64>() / n;

    x.sort_unstable_by(f64::total_cmp);
    let p10 = percentile(&x, 10.0);
    let p90 = percentile(&x, 90.0);
    let between: Vec<f64> = x.iter().copied().filter(|v| *v >= p10 && *v <= p90).collect();
    let between_mean = between.iter().sum::<f64>() / between.len() as f64;
    let robust_mad = between.iter().map(|v| (v - between_mean).abs()).sum::<f64>() / between.len() as f64;

    let histogram = histogram(&x, bin_width);
    let probabilities: Vec<f64> = histogram.iter().map(|c| *c as f64 / n).collect();

    let (min, max) = (x[0], x[x.len() - 1]);
    vec![
        ("10Percentile", p10),
        ("90Percentile", p90),
        ("Energy", energy),
        ("Entropy", entropy(&probabilities)),
        ("InterquartileRange", percentile(&x, 75.0) - percentile(&x, 25.0)),
        ("Kurtosis", kurtosis),
        ("Maximum", max),
        ("MeanAbsoluteDeviation", mean_absolute_deviation),
        ("Mean", mean),
        ("Median", percentile(&x, 50.0)),
        ("Minimum", min),
        ("Range", max - min),
        ("RobustMeanAbsoluteDeviation", robust_mad),
        ("RootMeanSquared", (energy / n).sqrt()),
        ("Skewness", skewness),
        ("TotalEnergy", voxel_volume * energy),
        ("Uniformity", probabilities.iter().map(|p| p * p).sum()),
        ("Variance", m2),
    ]
}

/// numpy's default (linear) percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q / 100.0 * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let t = position - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    // numpy's lerp: from the nearer end, so that t = 1 gives exactly b.
    if t >= 0.5 { b - (b - a) * (1.0 - t) } else { a + (b - a) * t }
}

/// Counts per fixed-width bin (see [`Binning`]) of sorted values.
fn histogram(sorted: &[f64], bin_width: f64) -> Vec<usize> {
    let binning = Binning::new(sorted[0], bin_width);
    let mut counts = Vec::new();
    for &v in sorted {
        let bin = binning.level(v) as usize - 1;
        if bin >= counts.len() {
            counts.resize(bin + 1, 0);
        }
        counts[bin] += 1;
    }
    counts
}
