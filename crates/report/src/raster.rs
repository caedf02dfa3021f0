//! The PNG backend: plotters' bitmap backend with text drawn here.
//!
//! plotters 0.3.7 draws ab_glyph text without the glyphs' side bearings ("cl" runs together)
//! and at a size 1.24 times the SVG backend's `font-size`. This wrapper places each glyph at
//! its advance and bearing, at the SVG's size and with the SVG's anchoring (`dy` of 0.76em,
//! 0.5ex or -0.5ex, `text-anchor`, rotation about the anchor), so the PNG matches the SVG.
//! Everything else goes to the bitmap backend unchanged.

use ab_glyph::{Font, ScaleFont, point};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle, FontTransform,
};

use crate::style::{bundled_font, scale_for};

/// DejaVu Sans' x-height (1120 of 2048 units): what SVG's `ex` is for this font.
const EX: f32 = 0.547;

pub(crate) struct Raster<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> Raster<'a> {
    pub(crate) fn new(buffer: &'a mut [u8], size: (u32, u32)) -> Raster<'a> {
        Raster { inner: BitMapBackend::with_buffer(buffer, size) }
    }
}

type Failure<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for Raster<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), Failure<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Failure<'a>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Failure<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    /// Thick paths as one quad per segment with round joins: plotters' polygonised outline
    /// of a thick polyline wobbles along straight runs of a step curve (ROC curves).
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        let width = style.stroke_width();
        if width <= 1 {
            return self.inner.draw_path(path, style);
        }
        let colour = style.color();
        let half = width as f64 / 2.0;
        let points: Vec<BackendCoord> = path.into_iter().collect();
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = ((pair[0].0 as f64, pair[0].1 as f64), (pair[1].0 as f64, pair[1].1 as f64));
            let length = (x1 - x0).hypot(y1 - y0);
            if length == 0.0 {
                continue;
            }
            let (nx, ny) = (-(y1 - y0) / length * half, (x1 - x0) / length * half);
            let corner = |x: f64, y: f64| ((x).round() as i32, (y).round() as i32);
            let quad = [
                corner(x0 + nx, y0 + ny),
                corner(x1 + nx, y1 + ny),
                corner(x1 - nx, y1 - ny),
                corner(x0 - nx, y0 - ny),
            ];
            self.inner.fill_polygon(quad, &colour)?;
        }
        if width >= 3 && points.len() > 2 {
            for &point in &points[1..points.len() - 1] {
                self.inner.draw_circle(point, (half - 0.5).round() as u32, &colour, true)?;
            }
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<(), Failure<'a>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), Failure<'a>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        let font = bundled_font(matches!(style.style(), FontStyle::Bold));
        let em = (style.size() / 1.24) as f32;
        let scaled = font.as_scaled(scale_for(&font, em));
        let mut glyphs = Vec::new();
        let mut x = 0.0f32;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            glyphs.push(id.with_scale_and_position(scaled.scale(), point(x, 0.0)));
            x += scaled.h_advance(id);
        }
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -x / 2.0,
            HPos::Right => -x,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.76 * em,
            VPos::Center => 0.5 * EX * em,
            VPos::Bottom => -0.5 * EX * em,
        };
        let transform = style.transform();
        let (width, height) = self.get_size();
        let mut pixels = Vec::new();
        for glyph in glyphs {
            if let Some(outline) = scaled.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    let lx = (bounds.min.x + gx as f32 + dx).floor() as i32;
                    let ly = (bounds.min.y + gy as f32 + dy).floor() as i32;
                    // SVG's rotate(a, x0, y0): clockwise on screen about the anchor.
                    let (rx, ry) = match transform {
                        FontTransform::Rotate90 => (-ly, lx),
                        FontTransform::Rotate180 => (-lx, -ly),
                        FontTransform::Rotate270 => (ly, -lx),
                        _ => (lx, ly),
                    };
                    pixels.push(((pos.0 + rx, pos.1 + ry), coverage));
                });
            }
        }
        for ((px, py), coverage) in pixels {
            if coverage > 0.0 && px >= 0 && py >= 0 && (px as u32) < width && (py as u32) < height {
                let alpha = colour.alpha * coverage.min(1.0) as f64;
                self.inner.draw_pixel((px, py), BackendColor { alpha, rgb: colour.rgb })?;
            }
        }
        Ok(())
    }
}
