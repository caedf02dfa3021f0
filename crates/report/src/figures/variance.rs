//! Explained variance: each component's ratio as a bar, the cumulative ratio as a line, the
//! variance target as a horizontal line and the chosen k as a vertical one.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::figure::{DrawResult, Figure, text};
use crate::input::PcaSummary;
use crate::style::{FAINT, MUTED, RULE, TARGET, TEXT, WHITE, bold, font, percent};

pub(crate) struct VarianceFigure {
    set: String,
    ratios: Vec<f64>,
    cumulative: Vec<f64>,
    k: usize,
    target: f64,
    colour: RGBColor,
}

impl VarianceFigure {
    pub(crate) fn new(set: &str, pca: &PcaSummary, colour: RGBColor) -> VarianceFigure {
        let ratios = pca.explained_variance_ratio.clone();
        let cumulative = ratios
            .iter()
            .scan(0.0, |sum, r| {
                *sum += r;
                Some(*sum)
            })
            .collect();
        VarianceFigure {
            set: set.to_string(),
            ratios,
            cumulative,
            k: pca.n_components,
            target: pca.variance_target,
            colour,
        }
    }
}

impl Figure for VarianceFigure {
    fn name(&self) -> &'static str {
        "explained_variance"
    }

    fn size(&self) -> (u32, u32) {
        (960, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.ratios.len();
        let caption = format!("Explained variance of the {} PCA", self.set);
        let mut chart = ChartBuilder::on(root)
            .caption(caption, bold(17.0))
            .margin(16)
            .margin_right(28)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..n as f64 + 1.0, 0f64..1.05f64)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RULE.mix(0.35))
            .axis_style(TEXT)
            .disable_x_mesh()
            .x_labels(12)
            .y_labels(11)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .label_style(font(13.0))
            .axis_desc_style(font(14.0))
            .x_desc("Principal component")
            .y_desc("Explained variance")
            .draw()?;

        // The dropped components on a light background.
        let k = self.k as f64;
        if self.k < n {
            let dropped = FAINT.mix(0.5).filled();
            chart.draw_series(std::iter::once(Rectangle::new([(k + 0.5, 0.0), (n as f64 + 1.0, 1.05)], dropped)))?;
            let (x, y) = chart.backend_coord(&(n as f64 + 0.5, 0.2));
            text(root, "not kept", (x, y), &font(12.0).color(&MUTED), HPos::Right, VPos::Center)?;
        }

        let bar = self.colour.mix(0.45).filled();
        chart
            .draw_series(self.ratios.iter().enumerate().map(|(i, r)| {
                let x = i as f64 + 1.0;
                Rectangle::new([(x - 0.4, 0.0), (x + 0.4, *r)], bar)
            }))?
            .label("per component")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], bar));
        let colour = self.colour;
        let points: Vec<(f64, f64)> = self.cumulative.iter().enumerate().map(|(i, c)| (i as f64 + 1.0, *c)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label("cumulative")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        if n <= 120 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, colour.filled())))?;
        }

        let target_line =
            DashedLineSeries::new([(0.0, self.target), (n as f64 + 1.0, self.target)], 6, 4, TARGET.stroke_width(1));
        chart.draw_series(target_line)?;
        chart.draw_series(DashedLineSeries::new([(k, 0.0), (k, 1.05)], 6, 4, MUTED.stroke_width(1)))?;
        chart.draw_series(std::iter::once(Circle::new((k, self.cumulative[self.k - 1]), 5, TARGET.filled())))?;

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::MiddleRight)
            .margin(14)
            .legend_area_size(26)
            .background_style(WHITE.mix(0.92))
            .border_style(RULE)
            .label_font(font(13.0))
            .draw()?;

        // Annotations in pixels, placed beside the lines they name.
        let (tx, ty) = chart.backend_coord(&(1.0, self.target));
        let target_text = format!("target {}", percent(self.target));
        text(root, &target_text, (tx + 4, ty - 4), &font(13.0).color(&TARGET), HPos::Left, VPos::Bottom)?;
        let reached = self.cumulative[self.k - 1];
        let (kx, ky) = chart.backend_coord(&(k, 0.5));
        let k_text = format!("k = {} ({})", self.k, percent(reached));
        let left_of_line = self.k as f64 > 0.75 * n as f64;
        let (x, anchor) = if left_of_line { (kx - 6, HPos::Right) } else { (kx + 6, HPos::Left) };
        text(root, &k_text, (x, ky), &bold(13.0), anchor, VPos::Center)?;
        Ok(())
    }
}
