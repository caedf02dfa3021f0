//! One-dimensional placement shared by the DAG (boxes in a layer) and the correlation circle
//! (labels on one side).

/// Centres as close as possible (least squares) to `desired`, keeping the items in the given
/// order with at least `(size[i] + size[i + 1]) / 2 + gap` between neighbouring centres.
///
/// This is the pool-adjacent-violators idea: items are merged into tight blocks while a block
/// would overlap its left neighbour, and each block sits at the mean of its members' wishes.
/// The result is exact and deterministic.
pub(crate) fn separate(desired: &[f64], sizes: &[f64], gap: f64) -> Vec<f64> {
    assert_eq!(desired.len(), sizes.len());
    struct Block {
        start: usize,
        end: usize,
        sum: f64,
        count: f64,
    }
    impl Block {
        fn position(&self) -> f64 {
            self.sum / self.count
        }
    }
    let separation = |i: usize| (sizes[i] + sizes[i + 1]) / 2.0 + gap;
    let mut offset = vec![0.0; desired.len()];
    let mut blocks: Vec<Block> = Vec::new();
    for (i, &wish) in desired.iter().enumerate() {
        let mut current = Block { start: i, end: i + 1, sum: wish, count: 1.0 };
        while let Some(previous) = blocks.last() {
            let last = previous.end - 1;
            let needed = offset[last] + separation(last);
            if previous.position() + needed <= current.position() {
                break;
            }
            let mut previous = blocks.pop().expect("checked above");
            for o in &mut offset[current.start..current.end] {
                *o += needed;
            }
            previous.sum += current.sum - needed * current.count;
            previous.count += current.count;
            previous.end = current.end;
            current = previous;
        }
        blocks.push(current);
    }
    let mut out = vec![0.0; desired.len()];
    for block in &blocks {
        for i in block.start..block.end {
            out[i] = block.position() + offset[i];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_items_stay_and_overlapping_ones_spread_around_their_mean() {
        assert_eq!(separate(&[0.0, 100.0], &[10.0, 10.0], 2.0), vec![0.0, 100.0]);
        // Both want 50; they need 12 between centres and split the difference.
        assert_eq!(separate(&[50.0, 50.0], &[10.0, 10.0], 2.0), vec![44.0, 56.0]);
        // A chain reaction: the third pushes the merged pair.
        let got = separate(&[0.0, 5.0, 6.0], &[10.0, 10.0, 10.0], 0.0);
        assert_eq!(got, vec![-6.333333333333333, 3.666666666666667, 13.666666666666668]);
        for pair in got.windows(2) {
            assert!(pair[1] - pair[0] >= 10.0 - 1e-9);
        }
    }
}
