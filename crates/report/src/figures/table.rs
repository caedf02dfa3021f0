//! Table 1 as a figure: one row per feature set and model, the best value of each column bold.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::check::Checked;
use crate::figure::{DrawResult, Figure, fill_rect, line, text};
use crate::style::{MUTED, RULE, TEXT, bold, font, text_width};
use crate::table::{MetricsTable, metrics_table};

const SIZE: f64 = 14.0;
const MARGIN: i32 = 18;
const ROW: i32 = 28;
const PAD: i32 = 26;
const SWATCH: i32 = 12;
pub(crate) const TITLE: &str = "Table 1. Test-set metrics per feature set";
pub(crate) const NOTE: &str = "Precision, recall and F1 are weighted by class support; bold: best in its column.";

pub(crate) struct TableFigure {
    table: MetricsTable,
    colours: Vec<RGBColor>,
    widths: Vec<i32>,
}

impl TableFigure {
    pub(crate) fn new(checked: &Checked) -> TableFigure {
        let table = metrics_table(checked);
        let colours = table.rows.iter().map(|row| checked.palette.colour(&row.set)).collect();
        let mut widths: Vec<i32> = table.header.iter().map(|h| text_width(h, SIZE, FontStyle::Bold)).collect();
        for row in &table.rows {
            let cells = [row.set.as_str(), row.model.as_str()].into_iter().chain(row.cells.iter().map(String::as_str));
            for (i, cell) in cells.enumerate() {
                widths[i] = widths[i].max(text_width(cell, SIZE, FontStyle::Bold));
            }
        }
        widths[0] += SWATCH + 8;
        for width in &mut widths {
            *width += PAD;
        }
        TableFigure { table, colours, widths }
    }

    fn table_width(&self) -> i32 {
        self.widths.iter().sum()
    }
}

impl Figure for TableFigure {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn size(&self) -> (u32, u32) {
        let width = self.table_width().max(text_width(TITLE, 17.0, FontStyle::Bold)).max(text_width(
            NOTE,
            12.0,
            FontStyle::Normal,
        ));
        let height = 50 + ROW + 6 + ROW * self.table.rows.len() as i32 + 40;
        ((width + 2 * MARGIN) as u32, (height + MARGIN) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let x0 = MARGIN;
        let x1 = MARGIN + self.table_width();
        text(root, TITLE, (x0, MARGIN), &bold(17.0), HPos::Left, VPos::Top)?;
        let mut y = 58;
        line(root, vec![(x0, y), (x1, y)], TEXT, 2)?;

        // Text columns left-aligned, number columns right-aligned.
        let column_x = |i: usize| -> (i32, HPos) {
            let left: i32 = MARGIN + self.widths[..i].iter().sum::<i32>();
            if i < 2 { (left + PAD / 2, HPos::Left) } else { (left + self.widths[i] - PAD / 2, HPos::Right) }
        };
        for (i, header) in self.table.header.iter().enumerate() {
            let (x, h) = column_x(i);
            text(root, header, (x, y + ROW / 2 + 2), &bold(SIZE), h, VPos::Center)?;
        }
        y += ROW + 4;
        line(root, vec![(x0, y), (x1, y)], TEXT, 1)?;

        let mut previous: Option<&str> = None;
        for (row, colour) in self.table.rows.iter().zip(&self.colours) {
            let new_set = previous != Some(row.set.as_str());
            if new_set && previous.is_some() {
                line(root, vec![(x0, y), (x1, y)], RULE, 1)?;
            }
            let mid = y + ROW / 2;
            if new_set {
                let (x, _) = column_x(0);
                fill_rect(root, (x, mid - SWATCH / 2), (x + SWATCH, mid + SWATCH / 2), *colour)?;
                text(root, &row.set, (x + SWATCH + 8, mid), &font(SIZE), HPos::Left, VPos::Center)?;
            }
            let model_style = if row.baseline { font(SIZE).color(&MUTED) } else { font(SIZE) };
            let (x, _) = column_x(1);
            text(root, &row.model, (x, mid), &model_style, HPos::Left, VPos::Center)?;
            for (i, (cell, best)) in row.cells.iter().zip(&row.best).enumerate() {
                let (x, h) = column_x(i + 2);
                let style = if *best { bold(SIZE) } else { model_style.clone() };
                text(root, cell, (x, mid), &style, h, VPos::Center)?;
            }
            previous = Some(row.set.as_str());
            y += ROW;
        }
        line(root, vec![(x0, y), (x1, y)], TEXT, 2)?;
        text(root, NOTE, (x0, y + 12), &font(12.0).color(&MUTED), HPos::Left, VPos::Top)?;
        Ok(())
    }
}
