//! The PC-loading heat map (the seed's Figure 3): rows are features grouped by modality,
//! columns the leading components, and a cell's value is
//!
//! ```text
//! v[f][j] = (|L[j][f]| - min_f' |L[j][f']|) / (max_f' |L[j][f']| - min_f' |L[j][f']|) * evr[j]
//! ```
//!
//! that is, the absolute loadings min-max scaled within each component (over all features,
//! so each column spans [0, 1] before weighting) and then multiplied by that component's
//! explained variance ratio. A column whose loadings are all equal is 0. Scaling per component
//! keeps the unit-norm eigenvectors comparable; the weighting makes a cell's darkness say how
//! much of the data's variance that feature carries through that component. Cells are shaded
//! from white to the feature's modality colour on one scale, 0 to the largest value shown.
//! Beyond 300 features (a genome-wide panel) only the 300 with the largest values are drawn,
//! and the title says so.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::figure::{DrawResult, Figure, fill_rect, text};
use crate::input::PcaSummary;
use crate::style::{MUTED, Palette, WHITE, bold, font, mix, percent, text_width};

const MARGIN: i32 = 18;
const COLUMN: i32 = 32;
const GROUP_GAP: i32 = 6;
const BAND: i32 = 22;
const STRIP: i32 = 8;
const RAMP: i32 = 110;
const LABEL_SIZE: f64 = 11.0;
const ROW: i32 = 12;
/// More rows than this (a genome-wide panel) would not be readable; see [`shown_rows`].
const MAX_ROWS: usize = 300;
pub(crate) const FORMULA: &str =
    "cell = min-max(|loading|) within the PC \u{00d7} the PC\u{2019}s explained variance ratio";

pub(crate) struct HeatmapFigure {
    set: String,
    k: usize,
    /// Groups in order of first appearance: modality, colour, and its rows (feature index).
    groups: Vec<(String, RGBColor, Vec<usize>)>,
    names: Vec<String>,
    /// values[f][j], see the module docs.
    values: Vec<Vec<f64>>,
    ratios: Vec<f64>,
    max: f64,
    n_features: usize,
    /// Rows drawn: all features, or the `MAX_ROWS` with the largest values.
    n_shown: usize,
    label_w: i32,
}

/// The features drawn, in input order: all of them up to `limit`, else the `limit` whose
/// largest value is largest (ties by feature order), so the picture stays readable.
pub(crate) fn shown_rows(values: &[Vec<f64>], limit: usize) -> Vec<usize> {
    if values.len() <= limit {
        return (0..values.len()).collect();
    }
    let peak = |f: usize| values[f].iter().copied().fold(0.0, f64::max);
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| peak(b).total_cmp(&peak(a)).then(a.cmp(&b)));
    order.truncate(limit);
    order.sort_unstable();
    order
}

/// The heat map's values for the first `n_pcs` components: `values[f][j]`.
pub(crate) fn heat_values(pca: &PcaSummary, n_pcs: usize) -> Vec<Vec<f64>> {
    let n_features = pca.features.len();
    let mut values = vec![vec![0.0; n_pcs]; n_features];
    for (j, row) in pca.components.iter().take(n_pcs).enumerate() {
        let (min, max) =
            row.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v.abs()), hi.max(v.abs())));
        let range = max - min;
        for (f, loading) in row.iter().enumerate() {
            let scaled = if range > 0.0 { (loading.abs() - min) / range } else { 0.0 };
            values[f][j] = scaled * pca.explained_variance_ratio[j];
        }
    }
    values
}

impl HeatmapFigure {
    pub(crate) fn new(set: &str, pca: &PcaSummary, n_pcs: usize, palette: &Palette) -> HeatmapFigure {
        let n_pcs = n_pcs.min(pca.n_components);
        let values = heat_values(pca, n_pcs);
        let shown = shown_rows(&values, MAX_ROWS);
        let mut groups: Vec<(String, RGBColor, Vec<usize>)> = Vec::new();
        for &f in &shown {
            let modality = &pca.features[f].modality;
            match groups.iter_mut().find(|(name, _, _)| name == modality) {
                Some((_, _, rows)) => rows.push(f),
                None => groups.push((modality.clone(), palette.colour(modality), vec![f])),
            }
        }
        let max = values.iter().flatten().copied().fold(0.0, f64::max);
        let names: Vec<String> = pca.features.iter().map(|f| f.name.clone()).collect();
        let label_w = shown.iter().map(|&f| text_width(&names[f], LABEL_SIZE, FontStyle::Normal)).max().unwrap_or(0);
        HeatmapFigure {
            set: set.to_string(),
            k: pca.n_components,
            n_features: names.len(),
            n_shown: shown.len(),
            groups,
            names,
            values,
            ratios: pca.explained_variance_ratio[..n_pcs].to_vec(),
            max: if max > 0.0 { max } else { 1.0 },
            label_w,
        }
    }

    fn n_pcs(&self) -> usize {
        self.ratios.len()
    }

    fn title(&self) -> String {
        let n = self.n_pcs();
        let of = if n < self.k { format!("first {n} of {} PCs", self.k) } else { format!("{n} PCs") };
        let features = if self.n_shown < self.n_features {
            format!("; the {} of {} features with the largest values", self.n_shown, self.n_features)
        } else {
            String::new()
        };
        format!("PC loadings of the {} PCA ({of}{features})", self.set)
    }

    fn cells_x(&self) -> i32 {
        MARGIN + BAND + self.label_w + 6 + STRIP + 4
    }

    fn cells_y(&self) -> i32 {
        MARGIN + 48 + 40 + 36
    }

    fn legend_width(&self) -> i32 {
        self.groups.iter().map(|(name, _, _)| text_width(name, 13.0, FontStyle::Normal) + 8 + RAMP + 28).sum()
    }
}

impl Figure for HeatmapFigure {
    fn name(&self) -> &'static str {
        "pca_heatmap"
    }

    fn size(&self) -> (u32, u32) {
        let cells_w = self.cells_x() + self.n_pcs() as i32 * COLUMN + MARGIN;
        let width = cells_w
            .max(MARGIN * 2 + text_width(&self.title(), 17.0, FontStyle::Bold))
            .max(MARGIN * 2 + text_width(FORMULA, 12.0, FontStyle::Normal))
            .max(MARGIN * 2 + self.legend_width());
        let rows = self.n_shown as i32 * ROW + (self.groups.len() as i32 - 1) * GROUP_GAP;
        (width as u32, (self.cells_y() + rows + MARGIN) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        text(root, &self.title(), (MARGIN, MARGIN), &bold(17.0), HPos::Left, VPos::Top)?;
        text(root, FORMULA, (MARGIN, MARGIN + 24), &font(12.0).color(&MUTED), HPos::Left, VPos::Top)?;

        // Legend: one white-to-colour ramp per modality, all on the same scale.
        let mut x = MARGIN;
        let legend_y = MARGIN + 56;
        for (name, colour, _) in &self.groups {
            text(root, name, (x, legend_y), &font(13.0), HPos::Left, VPos::Center)?;
            x += text_width(name, 13.0, FontStyle::Normal) + 8;
            let steps = 22;
            for s in 0..steps {
                let x0 = x + s * RAMP / steps;
                let x1 = x + (s + 1) * RAMP / steps;
                let shade = mix(WHITE, *colour, (s as f64 + 0.5) / steps as f64);
                fill_rect(root, (x0, legend_y - 7), (x1, legend_y + 7), shade)?;
            }
            let tick = font(10.0).color(&MUTED);
            text(root, "0", (x, legend_y + 10), &tick, HPos::Left, VPos::Top)?;
            text(root, &format!("{:.3}", self.max), (x + RAMP, legend_y + 10), &tick, HPos::Right, VPos::Top)?;
            x += RAMP + 28;
        }

        let cells_x = self.cells_x();
        let cells_y = self.cells_y();
        for (j, ratio) in self.ratios.iter().enumerate() {
            let cx = cells_x + j as i32 * COLUMN + COLUMN / 2;
            text(root, &format!("PC{}", j + 1), (cx, cells_y - 22), &font(11.0), HPos::Center, VPos::Bottom)?;
            text(root, &percent(*ratio), (cx, cells_y - 6), &font(9.0).color(&MUTED), HPos::Center, VPos::Bottom)?;
        }

        let mut y = cells_y;
        let label_style = font(LABEL_SIZE);
        for (name, colour, rows) in &self.groups {
            let group_h = rows.len() as i32 * ROW;
            let strip_x = cells_x - 4 - STRIP;
            fill_rect(root, (strip_x, y), (strip_x + STRIP, y + group_h), *colour)?;
            if text_width(name, 12.0, FontStyle::Bold) + 8 <= group_h {
                let style = bold(12.0).color(colour).transform(FontTransform::Rotate270);
                text(root, name, (MARGIN + BAND / 2 - 6, y + group_h / 2), &style, HPos::Center, VPos::Center)?;
            }
            for &f in rows {
                text(root, &self.names[f], (strip_x - 6, y + ROW / 2), &label_style, HPos::Right, VPos::Center)?;
                for (j, value) in self.values[f].iter().enumerate() {
                    let x0 = cells_x + j as i32 * COLUMN;
                    let shade = mix(WHITE, *colour, value / self.max);
                    fill_rect(root, (x0, y), (x0 + COLUMN, y + ROW), shade)?;
                }
                y += ROW;
            }
            y += GROUP_GAP;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Feature;

    #[test]
    fn values_are_min_max_per_component_times_its_ratio() {
        let feature = |name: &str| Feature { name: name.to_string(), modality: "genomic".to_string() };
        let pca = PcaSummary {
            explained_variance_ratio: vec![0.5, 0.2, 0.1],
            n_components: 2,
            variance_target: 0.7,
            features: vec![feature("a"), feature("b"), feature("c")],
            components: vec![vec![0.6, -0.8, 0.0], vec![0.5, 0.5, -0.5]],
            correlations: None,
        };
        let values = heat_values(&pca, 2);
        // PC1: |.| = 0.6, 0.8, 0 -> min-max 0.75, 1, 0 -> x 0.5.
        for (got, want) in [(values[0][0], 0.375), (values[1][0], 0.5), (values[2][0], 0.0)] {
            assert!((got - want).abs() < 1e-12, "{got} != {want}");
        }
        // PC2: all |.| equal -> 0.
        assert!(values.iter().all(|row| row[1] == 0.0));
    }

    #[test]
    fn beyond_the_limit_the_rows_with_the_largest_values_are_shown_in_input_order() {
        let values = vec![vec![0.1, 0.0], vec![0.0, 0.5], vec![0.3, 0.2], vec![0.5, 0.0]];
        assert_eq!(shown_rows(&values, 4), vec![0, 1, 2, 3]);
        assert_eq!(shown_rows(&values, 2), vec![1, 3]);
    }
}
