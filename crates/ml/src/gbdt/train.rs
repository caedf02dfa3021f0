//! Training: XGBoost's `hist` tree method for a logistic objective, step for step.
//!
//! Each round computes `f32` gradients `p - y` and hessians `max(p(1 - p), 1e-16)` (times
//! `scale_pos_weight` for labels equal to 1) from the `f32` margins, samples rows and columns,
//! and grows one tree depth-wise on the binned data (`cuts.rs`): per node, a histogram of
//! gradient and hessian sums per bin in `f64` (the smaller child built, its sibling the parent
//! minus it), then per feature a scan of the bins ascending with missing values right and, if
//! the node has missing values, descending with them left. A split's gain and the node weights
//! are computed in XGBoost's mix of `f64` sums and `f32` results, and the best split is chosen
//! by XGBoost's rule (highest gain; on a tie, the lowest feature, and within a feature the
//! first met), so that ties and near-ties go XGBoost's way. Nodes are numbered breadth-first
//! as XGBoost numbers them. Leaves get `eta * -G/(H + lambda)`; the margins are updated in
//! `f32`.
//!
//! Every sum is taken in a fixed order by one thread, so the model does not depend on the
//! number of threads.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{ArrayView2, s};
use rayon::prelude::*;

use crate::Dataset;

use super::cuts::{Cuts, feature_cuts};
use super::tree::{NO_CHILD, ROOT_PARENT, Tree};
use super::{GbdtError, GbdtParams, sigmoid};

/// XGBoost's `kRtEps`: a split must gain more than this.
const RT_EPS: f32 = 1e-6;
/// XGBoost's floor of the logistic hessian.
const MIN_HESSIAN: f32 = 1e-16;
/// Histograms kept for the next level of a tree, at most (200 features of 256 bins take
/// 0.8 MB a node); beyond, children build theirs from their rows instead of by subtraction.
const HISTOGRAM_BUDGET_BYTES: usize = 512 << 20;

/// Gradient and hessian sums.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sum {
    g: f64,
    h: f64,
}

impl Sum {
    fn add(&mut self, other: Sum) {
        self.g += other.g;
        self.h += other.h;
    }

    fn minus(self, other: Sum) -> Sum {
        Sum { g: self.g - other.g, h: self.h - other.h }
    }
}

/// The tree parameters in the precision XGBoost holds them (`float`).
#[derive(Debug, Clone, Copy)]
struct Settings {
    eta: f32,
    lambda: f32,
    gamma: f32,
    min_child_weight: f32,
    /// `usize::MAX` for no limit.
    max_depth: usize,
}

impl Settings {
    /// XGBoost's `CalcWeight`: 0 below `min_child_weight`, else `-G / (H + lambda)`.
    fn weight(&self, s: Sum) -> f32 {
        if s.h < f64::from(self.min_child_weight) || s.h <= 0.0 {
            0.0
        } else {
            (-s.g / (s.h + f64::from(self.lambda))) as f32
        }
    }

    /// XGBoost's `CalcGainGivenWeight` without constraints: `G² / (H + lambda)`, the two
    /// operands rounded to `f32` before dividing.
    fn gain(&self, s: Sum) -> f32 {
        if s.h <= 0.0 { 0.0 } else { (s.g * s.g) as f32 / (s.h + f64::from(self.lambda)) as f32 }
    }
}

/// A candidate split: rows with `bin < bin` go left, missing values as `default_left`.
#[derive(Debug, Clone, Copy)]
struct Split {
    loss_change: f32,
    feature: usize,
    bin: usize,
    default_left: bool,
    left: Sum,
    right: Sum,
}

/// XGBoost's `SplitEntry::NeedReplace`: a higher gain wins; on a tie, the lower feature.
fn replaces(current: Option<&Split>, loss_change: f32, feature: usize) -> bool {
    if loss_change.is_infinite() {
        return false;
    }
    // XGBoost's empty entry has gain 0 and feature 0.
    let (current_loss, current_feature) = current.map_or((0.0, 0), |s| (s.loss_change, s.feature));
    if current_feature <= feature {
        loss_change > current_loss
    } else {
        // `!(current_loss > loss_change)`: NaN compares as not greater.
        current_loss.partial_cmp(&loss_change) != Some(std::cmp::Ordering::Greater)
    }
}

/// The binned training data: column-major bins, missing values in each feature's last bin.
struct Binned {
    bins: Vec<u16>,
    rows: usize,
    cuts: Vec<Cuts>,
    /// Per feature: its number of bins (the missing bin is this index).
    n_bins: Vec<usize>,
    /// Per feature: where its bins start in a histogram; the last entry is the length.
    offsets: Vec<usize>,
}

/// A feature's cuts and its rows' bins.
type BinnedColumn = (Cuts, Vec<u16>);

/// Columns binned per task: read a block of columns row by row, so that row-major data is
/// read in order.
const BIN_BLOCK_COLUMNS: usize = 16;

impl Binned {
    /// Bins the features of `x` (rounded to `f32`, as XGBoost's `DMatrix` stores them; NaN is
    /// missing) under XGBoost's cuts. An infinite value is an error, at the first such
    /// (feature, row).
    fn new(x: ArrayView2<f64>, max_bin: usize) -> Result<Binned, (usize, usize)> {
        let (rows, cols) = x.dim();
        let starts: Vec<usize> = (0..cols).step_by(BIN_BLOCK_COLUMNS).collect();
        let blocks: Vec<Result<Vec<BinnedColumn>, (usize, usize)>> = starts
            .into_par_iter()
            .map(|start| {
                let end = (start + BIN_BLOCK_COLUMNS).min(cols);
                let mut values: Vec<Vec<f32>> = vec![Vec::with_capacity(rows); end - start];
                for row in x.slice(s![.., start..end]).rows() {
                    for (column, &v) in values.iter_mut().zip(row) {
                        column.push(v as f32);
                    }
                }
                let mut out = Vec::with_capacity(end - start);
                for (offset, column) in values.into_iter().enumerate() {
                    if let Some(row) = column.iter().position(|v| v.is_infinite()) {
                        return Err((start + offset, row));
                    }
                    let mut sorted: Vec<f32> = column.iter().copied().filter(|v| !v.is_nan()).collect();
                    sorted.sort_unstable_by(f32::total_cmp);
                    let cuts = feature_cuts(&sorted, max_bin);
                    let missing = cuts.values.len();
                    let bins =
                        column.iter().map(|&v| (if v.is_nan() { missing } else { cuts.bin(v) }) as u16).collect();
                    out.push((cuts, bins));
                }
                Ok(out)
            })
            .collect();
        let mut binned = Binned {
            bins: Vec::with_capacity(rows * cols),
            rows,
            cuts: Vec::new(),
            n_bins: Vec::new(),
            offsets: vec![0],
        };
        for block in blocks {
            for (cuts, bins) in block? {
                let n = cuts.values.len();
                binned.offsets.push(binned.offsets[binned.offsets.len() - 1] + n + 1);
                binned.n_bins.push(n);
                binned.cuts.push(cuts);
                binned.bins.extend(bins);
            }
        }
        Ok(binned)
    }

    fn column(&self, feature: usize) -> &[u16] {
        &self.bins[feature * self.rows..(feature + 1) * self.rows]
    }

    fn hist_len(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }

    /// Does `row` go left under `split`?
    fn goes_left(&self, row: usize, feature: usize, bin: usize, default_left: bool) -> bool {
        let b = usize::from(self.column(feature)[row]);
        if b == self.n_bins[feature] { default_left } else { b < bin }
    }
}

/// Gradient and hessian sums per bin, all features; feature `f` at `offsets[f]..offsets[f+1]`.
type Histogram = Vec<Sum>;

/// A node being grown: its rows are `rows[start..end]` of the tree's row order.
struct Open {
    id: usize,
    start: usize,
    end: usize,
    sum: Sum,
    gain: f32,
    depth: usize,
    histogram: Option<Histogram>,
}

/// SplitMix64: a fixed stream for row and column sampling (XGBoost's own stream cannot be
/// reproduced outside it; sampled models match XGBoost's in distribution).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }
}

/// Fits `params.n_estimators` trees on `data` (labels checked) from the `f32` margin
/// `base_margin`, on `threads` threads; stops with [`GbdtError::Cancelled`] before a round
/// once `cancel` is set.
pub(super) fn fit_trees(
    data: &Dataset,
    params: &GbdtParams,
    base_margin: f32,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Vec<Tree>, GbdtError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| GbdtError::Training(format!("cannot start {threads} threads: {e}")))?;
    pool.install(|| {
        let binned = Binned::new(data.x.view(), usize::from(params.max_bin))
            .map_err(|(feature, row)| GbdtError::Infinite { feature: data.feature_names[feature].clone(), row })?;
        fit_binned(&binned, &data.y, params, base_margin, cancel)
    })
}

fn fit_binned(
    data: &Binned,
    y: &[f64],
    params: &GbdtParams,
    base_margin: f32,
    cancel: &AtomicBool,
) -> Result<Vec<Tree>, GbdtError> {
    let rows = data.rows;
    let n_features = data.n_bins.len();
    let settings = Settings {
        eta: params.eta as f32,
        lambda: params.lambda as f32,
        gamma: params.gamma as f32,
        min_child_weight: params.min_child_weight as f32,
        max_depth: if params.max_depth == 0 { usize::MAX } else { params.max_depth },
    };
    let labels: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let spw = params.scale_pos_weight as f32;
    let mut margins = vec![base_margin; rows];
    let mut gpair = vec![(0f32, 0f32); rows];
    let mut rng = Rng(params.seed);
    let n_sampled_features = ((params.colsample_bytree * n_features as f64) as usize).clamp(1, n_features);
    // Capped: `num_boost_round` is the user's, and a huge one must fail by cancellation or
    // time, not by reserving memory for trees that will never be grown.
    let mut trees = Vec::with_capacity(params.n_estimators.min(4096));

    for _ in 0..params.n_estimators {
        if cancel.load(Ordering::SeqCst) {
            return Err(GbdtError::Cancelled);
        }
        // XGBoost's RegLossObj::GetGradient for LogisticRegression, in f32.
        gpair.par_iter_mut().zip(&margins).zip(&labels).for_each(|((gp, &m), &label)| {
            let p = sigmoid(m);
            let w = if label == 1.0 { spw } else { 1.0 };
            *gp = ((p - label) * w, (p * (1.0 - p)).max(MIN_HESSIAN) * w);
        });
        let features: Vec<usize> = if n_sampled_features == n_features {
            (0..n_features).collect()
        } else {
            let mut all: Vec<usize> = (0..n_features).collect();
            for i in 0..n_sampled_features {
                let j = i + rng.below(n_features - i);
                all.swap(i, j);
            }
            let mut chosen = all[..n_sampled_features].to_vec();
            chosen.sort_unstable();
            chosen
        };
        // Rows left out of this tree have no gradient: they are not in its nodes.
        let (sampled, left_out): (Vec<u32>, Vec<u32>) = if params.subsample < 1.0 {
            (0..rows as u32).partition(|_| rng.uniform() < params.subsample)
        } else {
            ((0..rows as u32).collect(), Vec::new())
        };
        let all_rows = left_out.is_empty();
        let (tree, split_bins, leaf_rows) = grow(data, &gpair, sampled, all_rows, &features, &settings);
        // XGBoost's prediction cache: each row gets its leaf's value, in f32.
        for (leaf, rows_in_leaf) in &leaf_rows {
            let value = tree.split_conditions[*leaf];
            for &r in rows_in_leaf {
                margins[r as usize] += value;
            }
        }
        for &r in &left_out {
            let r = r as usize;
            margins[r] += leaf_of(&tree, &split_bins, data, r);
        }
        trees.push(tree);
    }
    Ok(trees)
}

/// The leaf value a training row reaches, walking the tree on bins (`split_bins[node]` is the
/// bin a split's threshold starts: `value < threshold` is `bin < split_bins[node]`).
fn leaf_of(tree: &Tree, split_bins: &[usize], data: &Binned, row: usize) -> f32 {
    let mut node = 0;
    while tree.left_children[node] != NO_CHILD {
        let f = tree.split_indices[node] as usize;
        let left = data.goes_left(row, f, split_bins[node], tree.default_left[node]);
        node = if left { tree.left_children[node] } else { tree.right_children[node] } as usize;
    }
    tree.split_conditions[node]
}

/// A grown tree, the bin each node splits at, and the rows of each leaf.
type Grown = (Tree, Vec<usize>, Vec<(usize, Vec<u32>)>);

/// Grows one tree on the `rows` with gradients (`all_rows`: every row, in order), splitting on
/// `features` only.
fn grow(
    data: &Binned,
    gpair: &[(f32, f32)],
    mut rows: Vec<u32>,
    all_rows: bool,
    features: &[usize],
    settings: &Settings,
) -> Grown {
    let mut tree = Tree {
        left_children: vec![NO_CHILD],
        right_children: vec![NO_CHILD],
        parents: vec![ROOT_PARENT],
        split_indices: vec![0],
        split_conditions: vec![0.0],
        default_left: vec![false],
        base_weights: vec![0.0],
        loss_changes: vec![0.0],
        sum_hessian: vec![0.0],
    };
    let mut split_bins = vec![0usize];
    let mut root_sum = Sum::default();
    for &r in &rows {
        let (g, h) = gpair[r as usize];
        root_sum.add(Sum { g: f64::from(g), h: f64::from(h) });
    }
    let mut leaves: Vec<(usize, usize, usize, Sum)> = Vec::new();
    let root = Open {
        id: 0,
        start: 0,
        end: rows.len(),
        sum: root_sum,
        gain: settings.gain(root_sum),
        depth: 0,
        histogram: (settings.max_depth > 0).then(|| build_histogram(data, gpair, &rows, all_rows, features)),
    };
    let mut level = vec![root];
    let mut scratch: Vec<u32> = Vec::new();
    let histogram_bytes = data.hist_len() * std::mem::size_of::<Sum>();
    while !level.is_empty() {
        // The nodes of a level in order: evaluate, split, pass histograms on to the children.
        let mut next = Vec::new();
        let mut kept_bytes = 0;
        for mut node in level {
            if node.depth >= settings.max_depth {
                leaves.push((node.id, node.start, node.end, node.sum));
                continue;
            }
            let histogram = match node.histogram.take() {
                Some(h) => h,
                None => build_histogram(data, gpair, &rows[node.start..node.end], false, features),
            };
            let split = best_split(data, &histogram, &node, features, settings);
            node.histogram = Some(histogram);
            let valid = split.filter(|s| {
                s.loss_change > RT_EPS
                    && s.left.h != 0.0
                    && s.right.h != 0.0
                    && s.loss_change >= settings.gamma
                    && node.depth < settings.max_depth
            });
            let Some(split) = valid else {
                leaves.push((node.id, node.start, node.end, node.sum));
                continue;
            };
            // Stable partition of the node's rows.
            let (left_id, right_id) = (tree.left_children.len(), tree.left_children.len() + 1);
            let slice = &mut rows[node.start..node.end];
            scratch.clear();
            let mut n_left = 0;
            for i in 0..slice.len() {
                let r = slice[i];
                if data.goes_left(r as usize, split.feature, split.bin, split.default_left) {
                    slice[n_left] = r;
                    n_left += 1;
                } else {
                    scratch.push(r);
                }
            }
            slice[n_left..].copy_from_slice(&scratch);
            let mid = node.start + n_left;

            let id = node.id;
            tree.left_children[id] = left_id as i32;
            tree.right_children[id] = right_id as i32;
            tree.split_indices[id] = split.feature as u32;
            tree.split_conditions[id] = data.cuts[split.feature].threshold(split.bin).unwrap_or(f32::MAX);
            tree.default_left[id] = split.default_left;
            split_bins[id] = split.bin;
            tree.loss_changes[id] = split.loss_change;
            tree.sum_hessian[id] = node.sum.h as f32;
            tree.base_weights[id] = settings.weight(node.sum);
            for (child_sum, _) in [(split.left, left_id), (split.right, right_id)] {
                tree.left_children.push(NO_CHILD);
                tree.right_children.push(NO_CHILD);
                tree.parents.push(id as i32);
                tree.split_indices.push(0);
                tree.split_conditions.push(0.0);
                tree.default_left.push(false);
                tree.base_weights.push(0.0);
                tree.loss_changes.push(0.0);
                tree.sum_hessian.push(child_sum.h as f32);
                split_bins.push(0);
            }

            let depth = node.depth + 1;
            let mut left = Open {
                id: left_id,
                start: node.start,
                end: mid,
                sum: split.left,
                gain: settings.gain(split.left),
                depth,
                histogram: None,
            };
            let mut right = Open {
                id: right_id,
                start: mid,
                end: node.end,
                sum: split.right,
                gain: settings.gain(split.right),
                depth,
                histogram: None,
            };
            // Children at the depth limit are leaves: no histograms. Past the memory budget
            // (very deep trees), children build their own when evaluated.
            kept_bytes += 2 * histogram_bytes;
            if depth < settings.max_depth
                && kept_bytes <= HISTOGRAM_BUDGET_BYTES
                && let Some(parent) = node.histogram.take()
            {
                let (small, large) = if left.end - left.start <= right.end - right.start {
                    (&mut left, &mut right)
                } else {
                    (&mut right, &mut left)
                };
                let built = build_histogram(data, gpair, &rows[small.start..small.end], false, features);
                large.histogram = Some(subtract(parent, &built));
                small.histogram = Some(built);
            }
            next.push(left);
            next.push(right);
        }
        level = next;
    }
    let mut leaf_rows = Vec::with_capacity(leaves.len());
    for (id, start, end, sum) in leaves {
        let value = settings.weight(sum) * settings.eta;
        tree.split_conditions[id] = value;
        tree.base_weights[id] = value;
        tree.sum_hessian[id] = sum.h as f32;
        leaf_rows.push((id, rows[start..end].to_vec()));
    }
    (tree, split_bins, leaf_rows)
}

/// The histogram of `rows` on `features` (other features' bins stay zero), a feature per task.
/// `all_rows`: `rows` is every row, in order, so columns are read straight through.
fn build_histogram(data: &Binned, gpair: &[(f32, f32)], rows: &[u32], all_rows: bool, features: &[usize]) -> Histogram {
    let mut histogram = vec![Sum::default(); data.hist_len()];
    let mut slices: Vec<&mut [Sum]> = Vec::with_capacity(data.n_bins.len());
    let mut rest = histogram.as_mut_slice();
    for f in 0..data.n_bins.len() {
        let (this, tail) = rest.split_at_mut(data.offsets[f + 1] - data.offsets[f]);
        slices.push(this);
        rest = tail;
    }
    let mut wanted: Vec<(usize, &mut [Sum])> = slices.into_iter().enumerate().collect();
    if features.len() < data.n_bins.len() {
        wanted.retain(|(f, _)| features.binary_search(f).is_ok());
    }
    wanted.into_par_iter().for_each(|(f, bins)| {
        let column = data.column(f);
        let mut add = |b: u16, (g, h): (f32, f32)| {
            let bin = &mut bins[usize::from(b)];
            bin.g += f64::from(g);
            bin.h += f64::from(h);
        };
        if all_rows {
            column.iter().zip(gpair).for_each(|(&b, &gp)| add(b, gp));
        } else {
            rows.iter().for_each(|&r| add(column[r as usize], gpair[r as usize]));
        }
    });
    histogram
}

/// The sibling's histogram: parent minus child, in place of the parent's.
fn subtract(mut parent: Histogram, child: &Histogram) -> Histogram {
    parent.par_iter_mut().zip(child.par_iter()).with_min_len(4096).for_each(|(p, c)| *p = p.minus(*c));
    parent
}

/// The best split of a node over `features`, by XGBoost's rule.
fn best_split(
    data: &Binned,
    histogram: &Histogram,
    node: &Open,
    features: &[usize],
    settings: &Settings,
) -> Option<Split> {
    let per_feature: Vec<Option<Split>> = features
        .par_iter()
        .map(|&f| {
            let bins = &histogram[data.offsets[f]..data.offsets[f + 1]];
            best_split_of_feature(f, bins, node.sum, node.gain, settings)
        })
        .collect();
    let mut best: Option<Split> = None;
    for split in per_feature.into_iter().flatten() {
        if replaces(best.as_ref(), split.loss_change, split.feature) {
            best = Some(split);
        }
    }
    best
}

/// XGBoost's `EnumerateSplit` over one feature's bins (the last is the missing bin): forward
/// with missing values right, then, if there are any, backward with them left.
fn best_split_of_feature(feature: usize, bins: &[Sum], parent: Sum, parent_gain: f32, s: &Settings) -> Option<Split> {
    let n = bins.len() - 1;
    let missing = bins[n];
    let mcw = f64::from(s.min_child_weight);
    let mut best: Option<Split> = None;
    let mut consider = |left: Sum, right: Sum, bin: usize, default_left: bool| {
        if left.h >= mcw && right.h >= mcw {
            let loss_change = (s.gain(left) + s.gain(right)) - parent_gain;
            if replaces(best.as_ref(), loss_change, feature) {
                best = Some(Split { loss_change, feature, bin, default_left, left, right });
            }
        }
    };
    let mut left = Sum::default();
    for (i, b) in bins[..n].iter().enumerate() {
        left.add(*b);
        consider(left, parent.minus(left), i + 1, false);
    }
    if missing.g != 0.0 || missing.h != 0.0 {
        let mut right = Sum::default();
        for (i, b) in bins[..n].iter().enumerate().rev() {
            right.add(*b);
            consider(parent.minus(right), right, i, true);
        }
    }
    best
}
