//! Colours, fonts and number formats shared by every figure and the HTML page.
//!
//! Colours come from the Okabe–Ito palette (distinguishable with the common colour-vision
//! deficiencies). A modality and a feature set of the same name share a colour, so "imaging" is
//! the same vermillion in the heat map, the correlation circle, the ROC curves and the table.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::style::{FontStyle, IntoFont, RGBColor, TextStyle};

use crate::error::{Error, Result};

/// The font family every text uses; the bundled DejaVu Sans is registered under it.
pub(crate) const FAMILY: &str = "sans-serif";

pub(crate) const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(crate) const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
pub(crate) const RULE: RGBColor = RGBColor(0xBB, 0xBB, 0xBB);
pub(crate) const FAINT: RGBColor = RGBColor(0xE6, 0xE6, 0xE6);
pub(crate) const WHITE: RGBColor = RGBColor(0xFF, 0xFF, 0xFF);
pub(crate) const TARGET: RGBColor = RGBColor(0xB0, 0x00, 0x20);

/// Fixed colours of the names the pipeline uses.
const KNOWN: [(&str, RGBColor); 4] = [
    ("genomic", RGBColor(0x00, 0x9E, 0x73)),
    ("clinical", RGBColor(0x00, 0x72, 0xB2)),
    ("imaging", RGBColor(0xD5, 0x5E, 0x00)),
    ("multimodal", RGBColor(0x33, 0x33, 0x33)),
];

/// Colours for other names, in order of first appearance.
const SPARE: [RGBColor; 5] = [
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0x7F, 0x7F, 0x7F),
];

/// Name → colour, the same for every figure of one report.
pub(crate) struct Palette {
    spare: Vec<(String, RGBColor)>,
}

impl Palette {
    /// `names` in order of appearance: feature sets first, then modalities.
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Palette {
        let mut spare: Vec<(String, RGBColor)> = Vec::new();
        for name in names {
            let key = name.to_ascii_lowercase();
            if known(&key).is_none() && !spare.iter().any(|(other, _)| *other == key) {
                let colour = SPARE[spare.len() % SPARE.len()];
                spare.push((key, colour));
            }
        }
        Palette { spare }
    }

    pub(crate) fn colour(&self, name: &str) -> RGBColor {
        let key = name.to_ascii_lowercase();
        known(&key)
            .or_else(|| self.spare.iter().find(|(other, _)| *other == key).map(|(_, colour)| *colour))
            .unwrap_or(SPARE[SPARE.len() - 1])
    }
}

fn known(key: &str) -> Option<RGBColor> {
    KNOWN.iter().find(|(name, _)| *name == key).map(|(_, colour)| *colour)
}

/// `#rrggbb`, for the HTML page.
pub(crate) fn hex(colour: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", colour.0, colour.1, colour.2)
}

/// The colour `t` of the way from `from` to `to` (t clamped to [0, 1]).
pub(crate) fn mix(from: RGBColor, to: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let channel = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
    RGBColor(channel(from.0, to.0), channel(from.1, to.1), channel(from.2, to.2))
}

/// Black or white, whichever reads better on `background`.
pub(crate) fn ink_on(background: RGBColor) -> RGBColor {
    let luma = 0.299 * background.0 as f64 + 0.587 * background.1 as f64 + 0.114 * background.2 as f64;
    if luma < 140.0 { WHITE } else { TEXT }
}

const REGULAR: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const BOLD: &[u8] = include_bytes!("../assets/DejaVuSans-Bold-subset.ttf");

static FONTS: OnceLock<Option<(FontRef<'static>, FontRef<'static>)>> = OnceLock::new();

fn fonts() -> Option<&'static (FontRef<'static>, FontRef<'static>)> {
    FONTS
        .get_or_init(|| {
            let regular = FontRef::try_from_slice(REGULAR).ok()?;
            let bold = FontRef::try_from_slice(BOLD).ok()?;
            let registered = plotters::style::register_font(FAMILY, FontStyle::Normal, REGULAR).is_ok()
                && plotters::style::register_font(FAMILY, FontStyle::Bold, BOLD).is_ok();
            registered.then_some((regular, bold))
        })
        .as_ref()
}

/// Parses the bundled fonts and registers them with plotters (once per process). Every figure
/// calls it first: plotters' ab_glyph text can neither draw nor measure an unregistered family.
pub(crate) fn ensure_fonts() -> Result<()> {
    match fonts() {
        Some(_) => Ok(()),
        None => Err(Error::Draw { figure: "fonts", message: "the bundled font does not parse".to_string() }),
    }
}

/// The bundled regular or bold font. Call [`ensure_fonts`] first.
pub(crate) fn bundled_font(bold: bool) -> FontRef<'static> {
    let (regular, heavy) = fonts().expect("ensure_fonts succeeded before drawing");
    if bold { heavy.clone() } else { regular.clone() }
}

/// ab_glyph's scale (relative to ascent - descent) for `em` pixels per em.
pub(crate) fn scale_for(font: &FontRef, em: f32) -> PxScale {
    let units_per_em = font.units_per_em().unwrap_or(2048.0);
    PxScale::from(em * font.height_unscaled() / units_per_em)
}

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&TEXT)
}

pub(crate) fn bold(size: f64) -> TextStyle<'static> {
    (FAMILY, size, FontStyle::Bold).into_font().color(&TEXT)
}

/// The width in pixels of `text` at plotters size `size`, as the SVG (`font-size` = size / 1.24)
/// and the PNG draw it with the bundled font.
pub(crate) fn text_width(text: &str, size: f64, style: FontStyle) -> i32 {
    let Some(_) = fonts() else {
        return (size * 0.65 * text.chars().count() as f64).ceil() as i32;
    };
    let font = bundled_font(matches!(style, FontStyle::Bold));
    let scaled = font.as_scaled(scale_for(&font, (size / 1.24) as f32));
    text.chars().map(|c| scaled.h_advance(scaled.glyph_id(c))).sum::<f32>().ceil() as i32
}

/// A metric as the table prints it: three decimals.
pub fn format_metric(value: f64) -> String {
    format!("{value:.3}")
}

/// A fraction as a percentage with one decimal ("99.1%").
pub(crate) fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// Text escaped for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_keep_their_colour_and_others_get_spares_in_order() {
        let palette = Palette::new(["multimodal", "Proteomic", "genomic", "radiology"]);
        assert_eq!(palette.colour("Genomic"), KNOWN[0].1);
        assert_eq!(palette.colour("proteomic"), SPARE[0]);
        assert_eq!(palette.colour("radiology"), SPARE[1]);
    }

    #[test]
    fn fonts_register_and_measure() {
        ensure_fonts().unwrap();
        let narrow = text_width("iii", 12.0, FontStyle::Normal);
        let wide = text_width("WWW", 12.0, FontStyle::Normal);
        assert!(0 < narrow && narrow < wide, "{narrow} {wide}");
    }

    #[test]
    fn formats_are_fixed() {
        assert_eq!(format_metric(0.81264), "0.813");
        assert_eq!(format_metric(1.0), "1.000");
        assert_eq!(percent(0.99123), "99.1%");
        assert_eq!(escape("a<b & 'c'"), "a&lt;b &amp; &#39;c&#39;");
    }
}
