//! XGBoost's histogram cuts (`hist`'s bin edges) for one feature.
//!
//! XGBoost summarises each feature's non-missing values in a weighted quantile summary
//! (value, rmin, rmax, wmin; ranks in `f32`), prunes it twice with `WQSummary::SetPrune` (to
//! `8 * max_bin`, then to `max_bin + 1` entries) and takes the pruned values after the first
//! as cut points, plus a last cut above the maximum. A value's bin is the number of cuts at or
//! below it; a split "value < cut" sends whole bins left.
//!
//! Here the summary starts exact (every distinct value with its count), which is what
//! XGBoost's streaming sketch holds too while a feature has no more values than its in-memory
//! queue (`2 * (8 * max_bin + 1)`, 4,098 with `max_bin` 256): up to there the cuts are
//! XGBoost's, bit for bit (tested against `DMatrix.get_quantile_cut()`); above, XGBoost's
//! sketch merges approximate summaries level by level and the cuts differ from ours by a
//! fraction of a bin.

/// One feature's cuts: bin `b` holds the values in `[lower(b), lower(b + 1))`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cuts {
    /// Below every value (XGBoost's `min_vals`): the threshold that sends no value left.
    pub min_value: f32,
    /// XGBoost's `cut_values` for the feature, increasing; the last is above the maximum.
    pub values: Vec<f32>,
}

impl Cuts {
    /// The bin of a non-missing value: the number of cuts at or below it, at most the last
    /// bin (as XGBoost's `SearchBin`; only a value at the f32 limit reaches the last cut).
    pub fn bin(&self, v: f32) -> usize {
        self.values.partition_point(|&c| c <= v).min(self.values.len().saturating_sub(1))
    }

    /// The threshold whose left side is bins `0..bin`; `bin == n_bins()` sends every value
    /// left. `None` beyond that.
    pub fn threshold(&self, bin: usize) -> Option<f32> {
        match bin {
            0 => Some(self.min_value),
            b => self.values.get(b - 1).copied(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    rmin: f32,
    rmax: f32,
    wmin: f32,
    value: f32,
}

/// The cuts of a feature from its non-missing values, sorted ascending.
pub(crate) fn feature_cuts(sorted: &[f32], max_bin: usize) -> Cuts {
    // The exact summary: distinct values with their counts as weights.
    let mut summary: Vec<Entry> = Vec::new();
    let mut wsum = 0f32;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let w = (j - i) as f32;
        summary.push(Entry { rmin: wsum, rmax: wsum + w, wmin: w, value: sorted[i] });
        wsum += w;
        i = j;
    }
    if summary.is_empty() {
        // XGBoost's empty column: min 1e-5 and one cut above it.
        let min_value = 1e-5f32;
        let top = f64::from(min_value);
        return Cuts { min_value, values: vec![(top + (top.abs() + 1e-5)) as f32] };
    }
    // The sketch's own bound (`WQuantileSketch::LimitSizeLevel`, eps = 1 / (8 * bins)), to
    // which `GetSummary` prunes a summary that outgrew it.
    let n = sorted.len();
    let eps = 1.0 / (max_bin.min(n).max(1) as f32 * 8.0) as f64;
    let mut level = 1u32;
    let limit_size = loop {
        let limit = n.min((f64::from(level) / eps).ceil() as usize + 1);
        if (1usize << level).saturating_mul(limit) >= n || level >= 63 {
            break limit;
        }
        level += 1;
    };
    let summary = set_prune(&summary, limit_size);
    let intermediate = n.min(max_bin * 8);
    let reduced = set_prune(&summary, intermediate);
    let max_num_bins = intermediate.min(max_bin);
    let pruned = set_prune(&reduced, max_num_bins + 1);

    let first = pruned[0].value;
    // Clamped so that values near the f32 limits still give finite thresholds (JSON has no
    // infinity).
    let min_value = (first - first.abs() - 1e-5).max(f32::MIN);
    let mut values: Vec<f32> = Vec::with_capacity(max_num_bins + 1);
    for (i, entry) in pruned.iter().enumerate().take(pruned.len().min(max_num_bins)).skip(1) {
        if i == 1 || values.last().is_none_or(|&last| entry.value > last) {
            values.push(entry.value);
        }
    }
    // In f64 then rounded, as XGBoost's `cpt + (fabs(cpt) + 1e-5)` with a double literal.
    let top = f64::from(pruned[pruned.len() - 1].value);
    values.push((top + (top.abs() + 1e-5)).min(f64::from(f32::MAX)) as f32);
    Cuts { min_value, values }
}

/// XGBoost's `WQSummary::SetPrune`: at most `maxsize` entries at evenly spaced ranks, in `f32`.
fn set_prune(src: &[Entry], maxsize: usize) -> Vec<Entry> {
    if src.len() <= maxsize {
        return src.to_vec();
    }
    let last = src.len() - 1;
    let begin = src[0].rmax;
    let range = src[last].rmin - src[0].rmax;
    let n = maxsize - 1;
    let mut out = Vec::with_capacity(maxsize);
    out.push(src[0]);
    let (mut i, mut lastidx) = (1usize, 0usize);
    for k in 1..n {
        let dx2 = 2.0 * ((k as f32 * range) / n as f32 + begin);
        while i < last && dx2 >= src[i + 1].rmax + src[i + 1].rmin {
            i += 1;
        }
        if i == last {
            break;
        }
        let rmin_next = src[i].rmin + src[i].wmin;
        let rmax_prev = src[i + 1].rmax - src[i + 1].wmin;
        if dx2 < rmin_next + rmax_prev {
            if i != lastidx {
                out.push(src[i]);
                lastidx = i;
            }
        } else if i + 1 != lastidx {
            out.push(src[i + 1]);
            lastidx = i + 1;
        }
    }
    if lastidx != last {
        out.push(src[last]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_each_get_a_bin() {
        let cuts = feature_cuts(&[1.0, 1.0, 2.0, 3.0, 3.0, 3.0], 256);
        assert_eq!(cuts.values, vec![2.0, 3.0, 3.0 + 3.00001]);
        assert_eq!(cuts.min_value, 1.0 - 1.0 - 1e-5);
        assert_eq!([1.0, 2.0, 2.5, 3.0].map(|v| cuts.bin(v)), [0, 1, 1, 2]);
        assert_eq!(cuts.threshold(0), Some(cuts.min_value));
        assert_eq!(cuts.threshold(2), Some(3.0));
        assert_eq!(cuts.threshold(3), Some(6.00001));
        assert_eq!(cuts.threshold(4), None);
    }

    #[test]
    fn thresholds_stay_finite() {
        let cuts = feature_cuts(&[-3e38, 0.0, 3e38, f32::MAX], 256);
        assert!(cuts.min_value.is_finite() && cuts.values.iter().all(|v| v.is_finite()));
        assert_eq!(cuts.bin(3e38), 2);
        assert_eq!(cuts.bin(f32::MAX), 3, "the last bin, not past it");
    }

    #[test]
    fn constant_and_empty_features_have_one_bin() {
        let cuts = feature_cuts(&[5.0; 4], 256);
        assert_eq!(cuts.values, vec![5.0 + 5.00001]);
        assert_eq!(cuts.bin(5.0), 0);
        let cuts = feature_cuts(&[], 256);
        assert_eq!(cuts.values.len(), 1);
    }

    /// `<data>.max_bin<n>.xgb_cuts.txt` holds XGBoost 3.2's `get_quantile_cut()` for the
    /// training rows of `<data>.csv`: per feature, `min_vals` then `cut_values`.
    #[test]
    fn cuts_are_xgboosts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gbdt");
        for (data, max_bin) in [("missing", 256), ("imbalanced", 64), ("sampling", 256)] {
            let csv = std::fs::read_to_string(dir.join(format!("{data}.csv"))).unwrap();
            let rows: Vec<Vec<f32>> = csv
                .lines()
                .skip(1)
                .filter(|l| l.starts_with("train,"))
                .map(|l| l.split(',').skip(2).map(|v| v.parse::<f64>().unwrap() as f32).collect())
                .collect();
            let expected = std::fs::read_to_string(dir.join(format!("{data}.max_bin{max_bin}.xgb_cuts.txt"))).unwrap();
            for (j, line) in expected.lines().enumerate() {
                let want: Vec<f32> = line.split(' ').map(|v| v.parse().unwrap()).collect();
                let mut column: Vec<f32> = rows.iter().map(|r| r[j]).filter(|v| !v.is_nan()).collect();
                column.sort_unstable_by(f32::total_cmp);
                let cuts = feature_cuts(&column, max_bin);
                assert_eq!(cuts.min_value, want[0], "{data} feature {j}");
                assert_eq!(cuts.values, want[1..], "{data} feature {j}");
            }
        }
    }

    #[test]
    fn many_values_are_pruned_to_max_bin() {
        let values: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let cuts = feature_cuts(&values, 16);
        // 15 inner cuts plus the last one: 16 bins of about 62 values.
        assert_eq!(cuts.values.len(), 16);
        let sizes: Vec<usize> = (0..16).map(|b| values.iter().filter(|&&v| cuts.bin(v) == b).count()).collect();
        assert!(sizes.iter().all(|&s| (55..=70).contains(&s)), "{sizes:?}");
    }
}
