//! ROC curves of every feature set on one chart: the model solid, the baseline dashed, the
//! chance diagonal dotted grey, AUCs in the legend.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::check::Checked;
use crate::figure::{DrawResult, Figure};
use crate::input::RocPoint;
use crate::style::{MUTED, RULE, TEXT, WHITE, bold, font, format_metric};

pub(crate) struct RocFigure {
    curves: Vec<Curve>,
}

struct Curve {
    label: String,
    colour: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

impl RocFigure {
    /// `None` when no model has a ROC curve.
    pub(crate) fn new(checked: &Checked) -> Option<RocFigure> {
        let input = checked.input;
        let mut curves = Vec::new();
        for set in &input.feature_sets {
            let colour = checked.palette.colour(&set.name);
            let mut models = vec![(&input.model_label, &set.model, false)];
            if let Some(baseline) = &set.baseline {
                models.push((&input.baseline_label, baseline, true));
            }
            for (model, metrics, dashed) in models {
                if metrics.roc.is_empty() {
                    continue;
                }
                let auc = metrics.roc_auc.map(|auc| format!(" (AUC {})", format_metric(auc))).unwrap_or_default();
                curves.push(Curve {
                    label: format!("{} {model}{auc}", set.name),
                    colour,
                    dashed,
                    points: metrics.roc.iter().map(|&RocPoint { fpr, tpr }| (fpr, tpr)).collect(),
                });
            }
        }
        if curves.is_empty() { None } else { Some(RocFigure { curves }) }
    }
}

impl Figure for RocFigure {
    fn name(&self) -> &'static str {
        "roc"
    }

    fn size(&self) -> (u32, u32) {
        (640, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(root)
            .caption("ROC curves on the test set", bold(17.0))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.01f64..1.01f64, -0.01f64..1.01f64)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RULE.mix(0.35))
            .axis_style(TEXT)
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style(font(13.0))
            .axis_desc_style(font(14.0))
            .x_desc("False positive rate")
            .y_desc("True positive rate")
            .draw()?;
        chart.draw_series(DashedLineSeries::new([(0.0, 0.0), (1.0, 1.0)], 4, 4, MUTED.stroke_width(1)))?;
        for curve in &self.curves {
            let colour = curve.colour;
            if curve.dashed {
                chart
                    .draw_series(DashedLineSeries::new(curve.points.clone(), 7, 4, colour.stroke_width(2)))?
                    .label(&curve.label)
                    .legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + 24, y)], 7, 4, colour.stroke_width(2))
                    });
            } else {
                chart
                    .draw_series(LineSeries::new(curve.points.clone(), colour.stroke_width(3)))?
                    .label(&curve.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3)));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .margin(12)
            .legend_area_size(30)
            .background_style(WHITE.mix(0.92))
            .border_style(RULE)
            .label_font(font(13.0))
            .draw()?;
        Ok(())
    }
}
