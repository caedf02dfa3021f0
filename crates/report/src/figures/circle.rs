//! The variable correlation circle (the seed's Figure 4) for a chosen pair of components.
//!
//! A feature sits at its correlations with the two components: `PcaSummary::correlations` when
//! given, else `r[j][f] = components[j][f] * sqrt(explained_variance_ratio[j] * n_features)`
//! (exact for standardised features, see [`crate::PcaSummary`]; clamped to [-1, 1] against
//! rounding). The `top_n` features farthest from the origin get an arrow and a label in their
//! modality's colour; the rest are dots. Labels go outside the tip, left or right by the tip's
//! side, and are spread vertically so none overlap (with a leader line when moved).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::figure::{DrawResult, Figure, line, swatch, text};
use crate::input::PcaSummary;
use crate::layout::separate;
use crate::style::{FAINT, MUTED, Palette, RULE, TEXT, bold, font, percent, text_width};

const PLOT: i32 = 700;
const HEAD: i32 = 96;
const Y_AXIS: i32 = 56;
const X_AXIS: i32 = 48;
const LABEL_SIZE: f64 = 12.0;
const LIMIT: f64 = 1.12;

struct Point {
    name: String,
    colour: RGBColor,
    x: f64,
    y: f64,
}

pub(crate) struct CircleFigure {
    set: String,
    pcs: [usize; 2],
    ratios: [f64; 2],
    top_n: usize,
    /// Points sorted by distance from the origin, farthest first (ties by feature order).
    points: Vec<Point>,
    /// Modalities in order of first appearance, with colours.
    modalities: Vec<(String, RGBColor)>,
    side: i32,
    /// Whether the correlations were derived from the loadings (not given).
    derived: bool,
}

/// The correlation of every feature with components `a` and `b` (numbered from 1): the given
/// ones, or derived from the loadings.
pub(crate) fn correlations(pca: &PcaSummary, a: usize, b: usize) -> Vec<(f64, f64)> {
    if let Some(given) = &pca.correlations {
        return given[a - 1].iter().zip(&given[b - 1]).map(|(x, y)| (x.clamp(-1.0, 1.0), y.clamp(-1.0, 1.0))).collect();
    }
    let n = pca.features.len() as f64;
    let scale = |j: usize| (pca.explained_variance_ratio[j] * n).sqrt();
    let (sa, sb) = (scale(a - 1), scale(b - 1));
    pca.components[a - 1]
        .iter()
        .zip(&pca.components[b - 1])
        .map(|(va, vb)| ((va * sa).clamp(-1.0, 1.0), (vb * sb).clamp(-1.0, 1.0)))
        .collect()
}

impl CircleFigure {
    pub(crate) fn new(set: &str, pca: &PcaSummary, pcs: [usize; 2], top_n: usize, palette: &Palette) -> CircleFigure {
        let mut points: Vec<Point> = correlations(pca, pcs[0], pcs[1])
            .into_iter()
            .zip(&pca.features)
            .map(|((x, y), feature)| Point {
                name: feature.name.clone(),
                colour: palette.colour(&feature.modality),
                x,
                y,
            })
            .collect();
        // A stable sort keeps feature order among equal distances.
        points.sort_by(|p, q| (q.x.hypot(q.y)).total_cmp(&p.x.hypot(p.y)));
        let top_n = top_n.min(points.len());
        let mut modalities: Vec<(String, RGBColor)> = Vec::new();
        for feature in &pca.features {
            if !modalities.iter().any(|(name, _)| *name == feature.modality) {
                modalities.push((feature.modality.clone(), palette.colour(&feature.modality)));
            }
        }
        let widest = points[..top_n].iter().map(|p| text_width(&p.name, LABEL_SIZE, FontStyle::Normal)).max();
        let side = (widest.unwrap_or(0) + 40).clamp(80, 360);
        CircleFigure {
            set: set.to_string(),
            pcs,
            ratios: [pca.explained_variance_ratio[pcs[0] - 1], pca.explained_variance_ratio[pcs[1] - 1]],
            top_n,
            points,
            modalities,
            side,
            derived: pca.correlations.is_none(),
        }
    }

    fn title(&self) -> String {
        format!("Correlation circle of the {} PCA: PC{} vs PC{}", self.set, self.pcs[0], self.pcs[1])
    }

    fn subtitle(&self) -> String {
        let r = if self.derived {
            "r = loading \u{00d7} \u{221a}(explained ratio \u{00d7} n features)"
        } else {
            "r = correlation of the feature with the component's scores"
        };
        format!("{r}; the {} features farthest from the origin are labelled", self.top_n)
    }
}

impl Figure for CircleFigure {
    fn name(&self) -> &'static str {
        "correlation_circle"
    }

    fn size(&self) -> (u32, u32) {
        let width = (2 * self.side + PLOT + Y_AXIS + 24)
            .max(36 + text_width(&self.title(), 17.0, FontStyle::Bold))
            .max(36 + text_width(&self.subtitle(), 12.0, FontStyle::Normal));
        (width as u32, (HEAD + PLOT + X_AXIS + 12) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (width, _) = self.size();
        text(root, &self.title(), (18, 16), &bold(17.0), HPos::Left, VPos::Top)?;
        text(root, &self.subtitle(), (18, 40), &font(12.0).color(&MUTED), HPos::Left, VPos::Top)?;
        let mut x = 18;
        for (name, colour) in &self.modalities {
            x = swatch(root, (x, 74), *colour, name, 13.0)? + 22;
        }
        text(
            root,
            "arrows: labelled features; dots: the others",
            (x, 74),
            &font(12.0).color(&MUTED),
            HPos::Left,
            VPos::Center,
        )?;

        // One frame around the circle and the label margins beside it; the x range grows with
        // the width so the circle stays round, and ticks are labelled within [-1, 1] only.
        let area = root.margin(HEAD, 12, 0, 24);
        let plot_w = width as i32 - Y_AXIS - 24;
        let x_limit = LIMIT * plot_w as f64 / PLOT as f64;
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size(X_AXIS)
            .y_label_area_size(Y_AXIS)
            .build_cartesian_2d(-x_limit..x_limit, -LIMIT..LIMIT)?;
        let within = |v: &f64| if v.abs() <= 1.0 + 1e-9 { format!("{v:.1}") } else { String::new() };
        chart
            .configure_mesh()
            .disable_mesh()
            .axis_style(TEXT)
            .x_labels(2 * (x_limit / 0.5) as usize + 1)
            .y_labels(5)
            .x_label_formatter(&within)
            .y_label_formatter(&within)
            .label_style(font(13.0))
            .axis_desc_style(font(14.0))
            .x_desc(format!("PC{} ({})", self.pcs[0], percent(self.ratios[0])))
            .y_desc(format!("PC{} ({})", self.pcs[1], percent(self.ratios[1])))
            .draw()?;

        let circle = |r: f64| {
            (0..=180).map(move |i| {
                let t = i as f64 / 180.0 * std::f64::consts::TAU;
                (r * t.cos(), r * t.sin())
            })
        };
        chart.draw_series(LineSeries::new(circle(1.0), RULE.stroke_width(2)))?;
        chart.draw_series(DashedLineSeries::new(circle(0.5), 5, 5, RULE.stroke_width(1)))?;
        chart.draw_series(LineSeries::new([(-1.0, 0.0), (1.0, 0.0)], FAINT.stroke_width(1)))?;
        chart.draw_series(LineSeries::new([(0.0, -1.0), (0.0, 1.0)], FAINT.stroke_width(1)))?;

        // The unlabelled features first, so arrows draw over them.
        for point in self.points[self.top_n..].iter().rev() {
            chart.draw_series(std::iter::once(Circle::new((point.x, point.y), 3, point.colour.mix(0.55).filled())))?;
        }
        let origin = chart.backend_coord(&(0.0, 0.0));
        let mut tips = Vec::new();
        for point in self.points[..self.top_n].iter().rev() {
            let tip = chart.backend_coord(&(point.x, point.y));
            line(root, vec![origin, tip], point.colour, 2)?;
            arrow_head(root, origin, tip, point.colour)?;
            tips.push((point, tip));
        }
        tips.reverse();

        // Labels: right of the tip on the right half, left of it on the left half; each side
        // spread vertically in order of the tips' heights.
        let height = 16.0;
        for right in [true, false] {
            let mut side: Vec<_> = tips.iter().filter(|(p, _)| (p.x >= 0.0) == right).collect();
            side.sort_by_key(|(_, tip)| tip.1);
            let desired: Vec<f64> = side.iter().map(|(_, tip)| tip.1 as f64).collect();
            let placed = separate(&desired, &vec![height; side.len()], 1.0);
            for ((point, tip), y) in side.iter().zip(placed) {
                let y = y.round() as i32;
                let dx = if right { 8 } else { -8 };
                let anchor = (tip.0 + dx, y);
                if (y - tip.1).abs() > 3 {
                    line(root, vec![*tip, (tip.0 + dx / 2, y)], MUTED, 1)?;
                }
                let h = if right { HPos::Left } else { HPos::Right };
                text(root, &point.name, anchor, &font(LABEL_SIZE).color(&point.colour), h, VPos::Center)?;
            }
        }
        Ok(())
    }
}

fn arrow_head<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    from: (i32, i32),
    to: (i32, i32),
    colour: RGBColor,
) -> DrawResult<DB> {
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let length = dx.hypot(dy);
    if length < 12.0 {
        return Ok(());
    }
    let (ux, uy) = (dx / length, dy / length);
    let back = (to.0 as f64 - 9.0 * ux, to.1 as f64 - 9.0 * uy);
    let corner = |sign: f64| ((back.0 - sign * 4.0 * uy).round() as i32, (back.1 + sign * 4.0 * ux).round() as i32);
    root.draw(&Polygon::new(vec![to, corner(1.0), corner(-1.0)], colour.filled()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Feature;

    fn summary(correlations: Option<Vec<Vec<f64>>>) -> PcaSummary {
        let feature = |name: &str| Feature { name: name.to_string(), modality: "imaging".to_string() };
        PcaSummary {
            explained_variance_ratio: vec![0.5, 0.25, 0.25],
            n_components: 2,
            variance_target: 0.7,
            features: vec![feature("a"), feature("b")],
            components: vec![vec![0.6, 0.8], vec![0.8, -0.6]],
            correlations,
        }
    }

    #[test]
    fn correlations_come_from_the_input_or_from_the_loadings() {
        // sqrt(0.5 * 2) = 1 and sqrt(0.25 * 2) = 0.7071...
        let derived = correlations(&summary(None), 1, 2);
        assert!((derived[0].0 - 0.6).abs() < 1e-12 && (derived[0].1 - 0.8 * 0.5f64.sqrt()).abs() < 1e-12);
        let given = correlations(&summary(Some(vec![vec![0.1, 1.0 + 1e-12], vec![-0.3, 0.4]])), 2, 1);
        assert_eq!(given, vec![(-0.3, 0.1), (0.4, 1.0)]);
    }
}
