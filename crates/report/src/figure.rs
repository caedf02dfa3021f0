//! One figure, two outputs: every figure draws on a plotters `DrawingArea` of any backend, so
//! the SVG and the PNG come from the same code and the same layout.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::style::{WHITE, ensure_fonts};

pub(crate) type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

pub(crate) trait Figure {
    /// The file stem: `NAME.svg`, `NAME.png`.
    fn name(&self) -> &'static str;
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// A figure drawn to SVG text, and to PNG bytes when asked.
pub(crate) struct Drawn {
    pub name: &'static str,
    pub svg: String,
    pub png: Option<Vec<u8>>,
}

pub(crate) fn draw<F: Figure>(figure: &F, png: bool) -> Result<Drawn> {
    ensure_fonts()?;
    let name = figure.name();
    let size = figure.size();
    let failed = |message: String| Error::Draw { figure: name, message };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
        figure.draw(&root).map_err(|e| failed(e.to_string()))?;
        root.present().map_err(|e| failed(e.to_string()))?;
    }

    let png = if png {
        let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
        {
            let root = crate::raster::Raster::new(&mut rgb, size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
            figure.draw(&root).map_err(|e| failed(e.to_string()))?;
            root.present().map_err(|e| failed(e.to_string()))?;
        }
        Some(crate::png::encode_rgb(size.0, size.1, &rgb))
    } else {
        None
    };
    Ok(Drawn { name, svg, png })
}

// Small drawing helpers in pixel coordinates of the root area.

pub(crate) fn text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    content: &str,
    (x, y): (i32, i32),
    style: &TextStyle,
    h: HPos,
    v: VPos,
) -> DrawResult<DB> {
    area.draw(&Text::new(content.to_string(), (x, y), style.pos(Pos::new(h, v))))
}

pub(crate) fn fill_rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    colour: RGBColor,
) -> DrawResult<DB> {
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], colour.filled()))
}

pub(crate) fn outline_rect<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
    colour: RGBColor,
    width: u32,
) -> DrawResult<DB> {
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], colour.stroke_width(width)))
}

pub(crate) fn line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: Vec<(i32, i32)>,
    colour: RGBColor,
    width: u32,
) -> DrawResult<DB> {
    area.draw(&PathElement::new(points, colour.stroke_width(width)))
}

/// A legend row: a swatch (filled square) and a label; returns the x after the label.
pub(crate) fn swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    colour: RGBColor,
    label: &str,
    size: f64,
) -> std::result::Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
    let side = (size * 0.9).round() as i32;
    fill_rect(area, (x, y - side / 2), (x + side, y + side / 2), colour)?;
    let style = crate::style::font(size);
    text(area, label, (x + side + 6, y), &style, HPos::Left, VPos::Center)?;
    Ok(x + side + 6 + crate::style::text_width(label, size, FontStyle::Normal))
}
