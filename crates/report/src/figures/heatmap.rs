//! The PC-loading heat map (the seed's Figure 3): rows are features grouped by modality,
//! columns the leading components, and a cell's value is
//!
//! ```text
//! v[f][j] = sign(L[j][f]) * (|L[j][f]| - min_f' |L[j][f']|) / (max_f' |L[j][f']| - min_f' |L[j][f']|) * evr[j]
//! ```
//!
//! that is, the seed's magnitude (the absolute loadings min-max scaled within each component,
//! then multiplied by that component's explained variance ratio, so a cell's strength says how
//! much of the data's variance that feature carries through that component) with the loading's
//! sign kept: features pulling a component in opposite directions are told apart. Cells use a
//! diverging scale (blue negative, white 0, red positive; ColorBrewer RdBu, safe for the
//! common colour-vision deficiencies), one scale for all cells; modality is the strip and band
//! beside the labels. Beyond `ALL_ROWS` features only the `PER_MODALITY` strongest of each
//! modality are drawn, and the title says how many are hidden.

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
/// Up to this many features every one is drawn; beyond, [`PER_MODALITY`] per modality.
const ALL_ROWS: usize = 60;
/// The strongest features of each modality drawn when there are too many to read.
const PER_MODALITY: usize = 15;
/// Negative and positive ends of the diverging scale (ColorBrewer RdBu).
const NEGATIVE: RGBColor = RGBColor(0x21, 0x66, 0xac);
const POSITIVE: RGBColor = RGBColor(0xb2, 0x18, 0x2b);
pub(crate) const FORMULA: &str = "cell = sign(loading) \u{00d7} min-max(|loading|) within the PC \u{00d7} the PC\u{2019}s \
     explained variance ratio";

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
    /// Rows drawn: all features, or the strongest of each modality.
    n_shown: usize,
    /// How many strongest features per modality are drawn, when not all are.
    per_modality: Option<usize>,
    label_w: i32,
}

/// The features drawn, in input order: all of them up to `all`, else the `per_modality` of each
/// modality whose largest |value| is largest (ties by feature order).
pub(crate) fn shown_rows(values: &[Vec<f64>], modalities: &[&str], all: usize, per_modality: usize) -> Vec<usize> {
    if values.len() <= all {
        return (0..values.len()).collect();
    }
    let peak = |f: usize| values[f].iter().map(|v| v.abs()).fold(0.0, f64::max);
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| peak(b).total_cmp(&peak(a)).then(a.cmp(&b)));
    let mut taken: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut shown = Vec::new();
    for f in order {
        let count = taken.entry(modalities[f]).or_insert(0);
        if *count < per_modality {
            *count += 1;
            shown.push(f);
        }
    }
    shown.sort_unstable();
    shown
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
            // `signum` of +0.0 is 1: a zero stays zero whatever its sign.
            values[f][j] = loading.signum() * scaled * pca.explained_variance_ratio[j];
        }
    }
    values
}

impl HeatmapFigure {
    pub(crate) fn new(set: &str, pca: &PcaSummary, n_pcs: usize, palette: &Palette) -> HeatmapFigure {
        let n_pcs = n_pcs.min(pca.n_components);
        let values = heat_values(pca, n_pcs);
        let modalities: Vec<&str> = pca.features.iter().map(|f| f.modality.as_str()).collect();
        let shown = shown_rows(&values, &modalities, ALL_ROWS, PER_MODALITY);
        let mut groups: Vec<(String, RGBColor, Vec<usize>)> = Vec::new();
        for &f in &shown {
            let modality = &pca.features[f].modality;
            match groups.iter_mut().find(|(name, _, _)| name == modality) {
                Some((_, _, rows)) => rows.push(f),
                None => groups.push((modality.clone(), palette.colour(modality), vec![f])),
            }
        }
        let max = values.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max);
        let names: Vec<String> = pca.features.iter().map(|f| f.name.clone()).collect();
        let label_w = shown.iter().map(|&f| text_width(&names[f], LABEL_SIZE, FontStyle::Normal)).max().unwrap_or(0);
        HeatmapFigure {
            set: set.to_string(),
            k: pca.n_components,
            n_features: names.len(),
            n_shown: shown.len(),
            per_modality: (shown.len() < pca.features.len()).then_some(PER_MODALITY),
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

    /// A value's colour on the diverging scale.
    fn shade(&self, value: f64) -> RGBColor {
        let end = if value < 0.0 { NEGATIVE } else { POSITIVE };
        mix(WHITE, end, (value.abs() / self.max).min(1.0))
    }

    fn title(&self) -> String {
        let n = self.n_pcs();
        let of = if n < self.k { format!("first {n} of {} PCs", self.k) } else { format!("{n} PCs") };
        let features = match self.per_modality {
            Some(per) => format!(
                "; the {per} strongest features of each modality, {} of {} hidden",
                self.n_features - self.n_shown,
                self.n_features
            ),
            None => String::new(),
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
        2 * RAMP + 120
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

        // Legend: one diverging ramp, -max (blue) to +max (red) through white at 0.
        let legend_y = MARGIN + 56;
        let x = MARGIN + 34;
        let steps = 44;
        let width = 2 * RAMP;
        for s in 0..steps {
            let x0 = x + s * width / steps;
            let x1 = x + (s + 1) * width / steps;
            let value = ((s as f64 + 0.5) / steps as f64 * 2.0 - 1.0) * self.max;
            fill_rect(root, (x0, legend_y - 7), (x1, legend_y + 7), self.shade(value))?;
        }
        let tick = font(10.0).color(&MUTED);
        text(root, &format!("{:.3}", -self.max), (x, legend_y + 10), &tick, HPos::Left, VPos::Top)?;
        text(root, "0", (x + RAMP, legend_y + 10), &tick, HPos::Center, VPos::Top)?;
        text(root, &format!("{:.3}", self.max), (x + width, legend_y + 10), &tick, HPos::Right, VPos::Top)?;
        text(
            root,
            "sign \u{00d7} weight of the feature in the PC",
            (x + width + 12, legend_y),
            &tick,
            HPos::Left,
            VPos::Center,
        )?;

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
                    fill_rect(root, (x0, y), (x0 + COLUMN, y + ROW), self.shade(*value))?;
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
        // PC1: |.| = 0.6, 0.8, 0 -> min-max 0.75, 1, 0 -> x 0.5, with the loadings' signs.
        for (got, want) in [(values[0][0], 0.375), (values[1][0], -0.5), (values[2][0], 0.0)] {
            assert!((got - want).abs() < 1e-12, "{got} != {want}");
        }
        // PC2: all |.| equal -> 0.
        assert!(values.iter().all(|row| row[1] == 0.0));
    }

    #[test]
    fn beyond_the_limit_the_strongest_rows_of_each_modality_are_shown_in_input_order() {
        let values = vec![vec![0.1, 0.0], vec![0.0, -0.5], vec![0.3, 0.2], vec![0.5, 0.0], vec![0.05, 0.0]];
        let modalities = ["a", "a", "a", "b", "b"];
        assert_eq!(shown_rows(&values, &modalities, 5, 1), vec![0, 1, 2, 3, 4]);
        // The strongest of each modality, by |value|: a negative loading counts.
        assert_eq!(shown_rows(&values, &modalities, 4, 1), vec![1, 3]);
        assert_eq!(shown_rows(&values, &modalities, 4, 2), vec![1, 2, 3, 4]);
    }
}
