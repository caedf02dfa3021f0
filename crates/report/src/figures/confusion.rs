//! Confusion matrices: one 2x2 panel per feature set (a second row for the baseline), cells
//! shaded by the share of their true class in the feature set's colour.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::check::Checked;
use crate::figure::{DrawResult, Figure, fill_rect, outline_rect, text};
use crate::input::Metrics;
use crate::style::{MUTED, RULE, WHITE, bold, font, ink_on, mix, percent, text_width};

const CELL: i32 = 78;
const MARGIN: i32 = 18;
const TITLE_H: i32 = 44;
const GAP: i32 = 26;

/// One matrix: its title, colour and counts.
type Panel = (String, RGBColor, [[u64; 2]; 2]);

pub(crate) struct ConfusionFigure {
    class_names: [String; 2],
    /// Rows of panels (model, then baseline); `None` where a feature set has no baseline.
    rows: Vec<Vec<Option<Panel>>>,
    label_w: i32,
}

impl ConfusionFigure {
    pub(crate) fn new(checked: &Checked) -> ConfusionFigure {
        let input = checked.input;
        let any_baseline = input.feature_sets.iter().any(|set| set.baseline.is_some());
        let panel = |name: &str, model: &str, metrics: Option<&Metrics>| {
            metrics.map(|m| {
                let title = if any_baseline { format!("{name} \u{2013} {model}") } else { name.to_string() };
                (title, checked.palette.colour(name), m.confusion)
            })
        };
        let mut rows =
            vec![input.feature_sets.iter().map(|set| panel(&set.name, &input.model_label, Some(&set.model))).collect()];
        if any_baseline {
            rows.push(
                input
                    .feature_sets
                    .iter()
                    .map(|set| panel(&set.name, &input.baseline_label, set.baseline.as_ref()))
                    .collect(),
            );
        }
        let names = &input.class_names;
        let label_w = 34 + names.iter().map(|n| text_width(n, 13.0, FontStyle::Normal)).max().unwrap_or(0) + 8;
        ConfusionFigure { class_names: input.class_names.clone(), rows, label_w }
    }

    fn panel_size(&self) -> (i32, i32) {
        let titles = self.rows.iter().flatten().flatten().map(|(t, _, _)| text_width(t, 14.0, FontStyle::Bold));
        let width = (self.label_w + 2 * CELL).max(titles.max().unwrap_or(0) + 8);
        (width, 64 + 2 * CELL)
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x0, y0): (i32, i32),
        (title, colour, matrix): &Panel,
    ) -> DrawResult<DB> {
        let (panel_w, _) = self.panel_size();
        let cells_x = x0 + panel_w - 2 * CELL;
        let cells_y = y0 + 64;
        text(root, title, (x0 + panel_w / 2, y0), &bold(14.0), HPos::Center, VPos::Top)?;
        text(root, "predicted", (cells_x + CELL, y0 + 24), &font(12.0).color(&MUTED), HPos::Center, VPos::Top)?;
        for (j, name) in self.class_names.iter().enumerate() {
            let x = cells_x + j as i32 * CELL + CELL / 2;
            text(root, name, (x, y0 + 42), &font(13.0), HPos::Center, VPos::Top)?;
        }
        let true_style = font(12.0).color(&MUTED).transform(FontTransform::Rotate270);
        text(root, "true", (cells_x - self.label_w + 8, cells_y + CELL), &true_style, HPos::Center, VPos::Top)?;
        for (i, name) in self.class_names.iter().enumerate() {
            let y = cells_y + i as i32 * CELL + CELL / 2;
            text(root, name, (cells_x - 8, y), &font(13.0), HPos::Right, VPos::Center)?;
        }
        for (i, row) in matrix.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (j, &count) in row.iter().enumerate() {
                let share = if total == 0 { 0.0 } else { count as f64 / total as f64 };
                let fill = mix(WHITE, *colour, 0.08 + 0.8 * share);
                let (cx, cy) = (cells_x + j as i32 * CELL, cells_y + i as i32 * CELL);
                fill_rect(root, (cx, cy), (cx + CELL, cy + CELL), fill)?;
                let ink = ink_on(fill);
                text(
                    root,
                    &count.to_string(),
                    (cx + CELL / 2, cy + CELL / 2 - 8),
                    &bold(20.0).color(&ink),
                    HPos::Center,
                    VPos::Center,
                )?;
                let share_text = if total == 0 { "\u{2013}".to_string() } else { percent(share) };
                text(
                    root,
                    &share_text,
                    (cx + CELL / 2, cy + CELL / 2 + 16),
                    &font(12.0).color(&ink),
                    HPos::Center,
                    VPos::Center,
                )?;
            }
        }
        outline_rect(root, (cells_x, cells_y), (cells_x + 2 * CELL, cells_y + 2 * CELL), RULE, 1)
    }
}

impl Figure for ConfusionFigure {
    fn name(&self) -> &'static str {
        "confusion"
    }

    fn size(&self) -> (u32, u32) {
        let (panel_w, panel_h) = self.panel_size();
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(1) as i32;
        let width = 2 * MARGIN + columns * panel_w + (columns - 1) * GAP;
        let height = 2 * MARGIN + TITLE_H + self.rows.len() as i32 * (panel_h + GAP) - GAP;
        (width.max(560) as u32, height as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        text(root, "Confusion matrices on the test set", (MARGIN, MARGIN), &bold(17.0), HPos::Left, VPos::Top)?;
        let note = "counts; % of the true class";
        text(root, note, (MARGIN, MARGIN + 24), &font(12.0).color(&MUTED), HPos::Left, VPos::Top)?;
        let (panel_w, panel_h) = self.panel_size();
        for (r, row) in self.rows.iter().enumerate() {
            for (c, panel) in row.iter().enumerate() {
                if let Some(panel) = panel {
                    let x = MARGIN + c as i32 * (panel_w + GAP);
                    let y = MARGIN + TITLE_H + r as i32 * (panel_h + GAP);
                    self.draw_panel(root, (x, y), panel)?;
                }
            }
        }
        Ok(())
    }
}
