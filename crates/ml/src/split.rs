//! Seeded train / validation / test splits.
//!
//! The seed pipeline split 80/20 into (train + validation) / test, then 80/20 of the remainder
//! into train / validation; [`train_validation_test`] does the same in one call.
//!
//! Choices, so a split can be reproduced from its description alone:
//!
//! - **Sizes** follow scikit-learn's `train_test_split`: the held-out part of `n` rows gets
//!   `ceil(fraction * n)` rows (the same f64 product), the other part the rest. For 119 rows at
//!   0.2 / 0.2 that is 24 test, 19 validation and 76 train rows.
//! - **Randomness** comes from ChaCha8 seeded with `seed`, one stream per stage (test, then
//!   validation), through our own Fisher-Yates shuffle and an unbiased bounded draw (Lemire), so
//!   neither a `rand` release nor the platform can change a split.
//! - **Stratification** gives each class the per-class counts of scikit-learn's
//!   `StratifiedShuffleSplit`: the larger part (train + validation, then train) is allotted
//!   `floor(count_c / n * n_part)` rows of class c, and the rows still missing go one each to the
//!   classes with the largest fractional remainders. scikit-learn breaks equal remainders at
//!   random; we give them to the smaller label first. The held-out part gets the rest of each class.
//!   Every class must end up with at least one row in every part, otherwise the split is refused
//!   (scikit-learn only asks for two rows a class and may leave a part without a class, which then
//!   makes per-class metrics on it undefined).
//! - **Order**: each part lists its rows in dataset order (ascending original row index), not in
//!   shuffled order, so a part's content does not depend on how it was drawn, and the same
//!   input and seed give the same ids in the same order.

use crate::dataset::Dataset;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// ChaCha stream numbers, one per stage, so that the validation draw does not depend on how many
/// numbers the test draw consumed.
const STREAM_TEST: u64 = 1;
const STREAM_VALIDATION: u64 = 2;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    #[error("the {what} fraction must be strictly between 0 and 1, got {value}")]
    Fraction { what: &'static str, value: f64 },
    #[error("splitting {n_rows} row(s) at {what} fraction {fraction} leaves the {part} part empty")]
    EmptyPart { part: &'static str, what: &'static str, fraction: f64, n_rows: usize },
    #[error("row {row} ('{id}') has label {label}; stratifying needs finite labels")]
    BadLabel { row: usize, id: String, label: f64 },
    #[error(
        "class {label} has {count} of the {n_rows} rows, too few to stratify: the {kept_part} part would get \
         {kept} of them and the {held_part} part {held}"
    )]
    ClassTooSmall {
        label: f64,
        count: usize,
        n_rows: usize,
        kept_part: &'static str,
        kept: usize,
        held_part: &'static str,
        held: usize,
    },
}

/// A dataset cut into three parts. `*_rows` are indices into the original dataset, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Dataset,
    pub train_rows: Vec<usize>,
    pub validation_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
}

/// A dataset cut into two parts; see [`train_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest {
    pub train: Dataset,
    pub test: Dataset,
    pub train_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
}

/// Holds out `test_fraction` of the rows as the test part, then `validation_fraction` of the
/// remaining rows (not of all rows) as the validation part; the rest is the training part.
pub fn train_validation_test(
    data: &Dataset,
    test_fraction: f64,
    validation_fraction: f64,
    stratify: bool,
    seed: u64,
) -> Result<Split, SplitError> {
    check_fraction("test", test_fraction)?;
    check_fraction("validation", validation_fraction)?;
    let all_rows: Vec<usize> = (0..data.n_samples()).collect();
    let stage_one = Stage { what: "test", kept_part: "train+validation", held_part: "test" };
    let (rest_rows, test_rows) = stage_one.split(data, &all_rows, test_fraction, stratify, seed, STREAM_TEST)?;
    let stage_two = Stage { what: "validation", kept_part: "train", held_part: "validation" };
    let (train_rows, validation_rows) =
        stage_two.split(data, &rest_rows, validation_fraction, stratify, seed, STREAM_VALIDATION)?;
    Ok(Split {
        train: data.select_rows(&train_rows),
        validation: data.select_rows(&validation_rows),
        test: data.select_rows(&test_rows),
        train_rows,
        validation_rows,
        test_rows,
    })
}

/// Holds out `test_fraction` of the rows as the test part. The test part is the same rows as the
/// test part of [`train_validation_test`] with the same fraction, stratification and seed.
pub fn train_test(data: &Dataset, test_fraction: f64, stratify: bool, seed: u64) -> Result<TrainTest, SplitError> {
    check_fraction("test", test_fraction)?;
    let all_rows: Vec<usize> = (0..data.n_samples()).collect();
    let stage = Stage { what: "test", kept_part: "train", held_part: "test" };
    let (train_rows, test_rows) = stage.split(data, &all_rows, test_fraction, stratify, seed, STREAM_TEST)?;
    Ok(TrainTest { train: data.select_rows(&train_rows), test: data.select_rows(&test_rows), train_rows, test_rows })
}

fn check_fraction(what: &'static str, value: f64) -> Result<(), SplitError> {
    // Written so that NaN fails too.
    if value > 0.0 && value < 1.0 { Ok(()) } else { Err(SplitError::Fraction { what, value }) }
}

/// One two-way cut, named for its error messages.
struct Stage {
    what: &'static str,
    kept_part: &'static str,
    held_part: &'static str,
}

impl Stage {
    /// Splits `rows` into (kept, held), each ascending.
    fn split(
        &self,
        data: &Dataset,
        rows: &[usize],
        fraction: f64,
        stratify: bool,
        seed: u64,
        stream: u64,
    ) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
        let n_rows = rows.len();
        // scikit-learn's _validate_shuffle_split: the held-out size is rounded up.
        let n_held = ((fraction * n_rows as f64).ceil() as usize).min(n_rows);
        let n_kept = n_rows - n_held;
        for (part, size) in [(self.kept_part, n_kept), (self.held_part, n_held)] {
            if size == 0 {
                return Err(SplitError::EmptyPart { part, what: self.what, fraction, n_rows });
            }
        }
        let mut shuffler = Shuffler::new(seed, stream);
        let (mut kept, mut held) = if stratify {
            self.stratified(data, rows, n_kept, &mut shuffler)?
        } else {
            let mut order = rows.to_vec();
            shuffler.shuffle(&mut order);
            let held = order.split_off(n_kept);
            (order, held)
        };
        kept.sort_unstable();
        held.sort_unstable();
        Ok((kept, held))
    }

    fn stratified(
        &self,
        data: &Dataset,
        rows: &[usize],
        n_kept: usize,
        shuffler: &mut Shuffler,
    ) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
        let classes = group_by_label(data, rows)?;
        let counts: Vec<usize> = classes.iter().map(|(_, members)| members.len()).collect();
        let kept_counts = approximate_mode(&counts, n_kept);
        let mut kept = Vec::with_capacity(n_kept);
        let mut held = Vec::with_capacity(rows.len() - n_kept);
        for ((label, members), &n_class_kept) in classes.into_iter().zip(&kept_counts) {
            let count = members.len();
            let n_class_held = count - n_class_kept;
            if n_class_kept == 0 || n_class_held == 0 {
                return Err(SplitError::ClassTooSmall {
                    label,
                    count,
                    n_rows: rows.len(),
                    kept_part: self.kept_part,
                    kept: n_class_kept,
                    held_part: self.held_part,
                    held: n_class_held,
                });
            }
            let mut members = members;
            shuffler.shuffle(&mut members);
            held.extend_from_slice(&members[n_class_kept..]);
            kept.extend_from_slice(&members[..n_class_kept]);
        }
        Ok((kept, held))
    }
}

/// The rows of each class, classes by ascending label, rows in the given order.
fn group_by_label(data: &Dataset, rows: &[usize]) -> Result<Vec<(f64, Vec<usize>)>, SplitError> {
    let mut labelled = Vec::with_capacity(rows.len());
    for &row in rows {
        // Adding 0.0 turns -0.0 into 0.0, so the two zeros are one class, as they compare equal.
        let label = data.y[row] + 0.0;
        if !label.is_finite() {
            return Err(SplitError::BadLabel { row, id: data.ids[row].clone(), label: data.y[row] });
        }
        labelled.push((label, row));
    }
    // Stable, so rows stay in the given order within a class.
    labelled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut classes: Vec<(f64, Vec<usize>)> = Vec::new();
    for (label, row) in labelled {
        match classes.last_mut() {
            Some((last, members)) if *last == label => members.push(row),
            _ => classes.push((label, vec![row])),
        }
    }
    Ok(classes)
}

/// scikit-learn's `_approximate_mode`: `n_draws` shared out in proportion to `counts`, floored,
/// the remainder going to the largest fractional parts (equal parts: the earlier class first,
/// where scikit-learn draws at random).
fn approximate_mode(counts: &[usize], n_draws: usize) -> Vec<usize> {
    let total: usize = counts.iter().sum();
    // The same operations in the same order as numpy's `class_counts / class_counts.sum() * n_draws`.
    let continuous: Vec<f64> = counts.iter().map(|&c| c as f64 / total as f64 * n_draws as f64).collect();
    let mut floored: Vec<usize> = continuous.iter().map(|v| v.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let remainder = |i: usize| continuous[i] - continuous[i].floor();
        remainder(b).total_cmp(&remainder(a)).then(a.cmp(&b))
    });
    for class in by_remainder {
        if need == 0 {
            break;
        }
        floored[class] += 1;
        need -= 1;
    }
    floored
}

/// A seeded ChaCha8 stream with the two operations a split needs, written here so that their
/// algorithms are fixed.
pub(crate) struct Shuffler {
    rng: ChaCha8Rng,
}

impl Shuffler {
    pub(crate) fn new(seed: u64, stream: u64) -> Shuffler {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Shuffler { rng }
    }

    /// Uniform in [0, n) without bias (Lemire 2019: multiply, and redraw the few values that
    /// would over-represent some results). `n` must be positive.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let mut product = u128::from(self.rng.next_u64()) * u128::from(n);
        if (product as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (product as u64) < threshold {
                product = u128::from(self.rng.next_u64()) * u128::from(n);
            }
        }
        (product >> 64) as u64
    }

    /// Fisher-Yates (Durstenfeld): every permutation equally likely.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn dataset(labels: &[f64]) -> Dataset {
        let n = labels.len();
        Dataset::new(
            (0..n).map(|i| format!("p{i:03}")).collect(),
            vec!["f".into()],
            Array2::from_shape_fn((n, 1), |(i, _)| i as f64),
            labels.to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn approximate_mode_matches_scikit_learn_examples() {
        // The doctest examples of sklearn.utils.extmath._approximate_mode (1.9.1) whose
        // remainders do not tie.
        assert_eq!(approximate_mode(&[2, 2, 2, 1], 4), vec![1, 1, 1, 1]);
        assert_eq!(approximate_mode(&[5, 2], 5), vec![4, 1]);
        // Tied remainders: the earlier classes get the extra rows.
        assert_eq!(approximate_mode(&[2, 2, 2, 1], 2), vec![1, 1, 0, 0]);
    }

    #[test]
    fn shuffle_is_a_permutation_and_depends_on_seed_and_stream() {
        let draw = |seed, stream| {
            let mut items: Vec<usize> = (0..50).collect();
            Shuffler::new(seed, stream).shuffle(&mut items);
            items
        };
        let mut sorted = draw(1, 1);
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(draw(1, 1), draw(1, 1));
        assert_ne!(draw(1, 1), draw(2, 1));
        assert_ne!(draw(1, 1), draw(1, 2));
    }

    #[test]
    fn below_stays_in_range() {
        let mut shuffler = Shuffler::new(7, 0);
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(shuffler.below(n) < n);
            }
        }
    }

    #[test]
    fn bad_fractions_and_labels_are_refused() {
        let data = dataset(&[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(matches!(train_validation_test(&data, bad, 0.2, false, 1), Err(SplitError::Fraction { .. })));
            assert!(matches!(train_validation_test(&data, 0.2, bad, false, 1), Err(SplitError::Fraction { .. })));
        }
        let unlabelled = dataset(&[0.0, 1.0, f64::NAN, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
        let error = train_validation_test(&unlabelled, 0.2, 0.2, true, 1).unwrap_err();
        assert!(
            matches!(&error, SplitError::BadLabel { row: 2, id, label } if id == "p002" && label.is_nan()),
            "{error}"
        );
        // Without stratification the labels are not looked at.
        assert!(train_validation_test(&unlabelled, 0.2, 0.2, false, 1).is_ok());
    }

    #[test]
    fn negative_zero_is_the_same_class() {
        let labels: Vec<f64> = (0..20).map(|i| if i % 2 == 0 { 0.0 } else { -0.0 }).collect();
        let classes = group_by_label(&dataset(&labels), &(0..20).collect::<Vec<_>>()).unwrap();
        assert_eq!(classes.len(), 1);
    }
}
