//! Stored pixel values, frame by frame, from native or decoded pixel data.
//!
//! Native data is read here rather than through dicom-pixeldata's `to_vec`, for two reasons:
//! 1-bit data (DICOM SEG) is packed across frame boundaries (PS3.5 8.1.1), which
//! dicom-pixeldata 0.10's `decode_pixel_data` gets wrong when rows × columns is not a multiple
//! of 8 (it rounds each frame down to whole bytes and truncates the data); and stored values
//! must be masked to Bits Stored and sign-extended, as GDCM (hence SimpleITK) and pydicom do,
//! whatever the unused high bits hold. Encapsulated data goes through dicom-pixeldata's
//! decoders (RLE here) and is then read the same way.

use std::borrow::Cow;
use std::path::Path;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;

use super::{Attrs, format_err, trimmed};
use crate::error::ImageError;

/// The pixel data of one object with what is needed to read its stored values.
pub(super) struct Pixels<'a> {
    /// Little-endian samples, or for 1 bit allocated a bit stream, least significant bit first.
    bytes: Cow<'a, [u8]>,
    bits_allocated: u32,
    bits_stored: u32,
    /// Where the stored bits start: High Bit + 1 − Bits Stored.
    shift: u32,
    signed: bool,
    pub rows: usize,
    pub cols: usize,
    pub frames: usize,
}

impl<'a> Pixels<'a> {
    pub fn new(obj: &'a DefaultDicomObject, path: &Path) -> Result<Pixels<'a>, ImageError> {
        let a = Attrs::new(obj, path);
        let samples = a.opt_uint(tags::SAMPLES_PER_PIXEL)?.unwrap_or(1);
        if samples != 1 {
            return Err(a.err(
                tags::SAMPLES_PER_PIXEL,
                &format!("is {samples}; only single-sample (monochrome) images are supported"),
            ));
        }
        let rows = a.uint(tags::ROWS)? as usize;
        let cols = a.uint(tags::COLUMNS)? as usize;
        if rows == 0 || cols == 0 {
            return Err(format_err(path, format!("empty image: {rows} rows, {cols} columns")));
        }
        let frames = a.opt_uint(tags::NUMBER_OF_FRAMES)?.unwrap_or(1).max(1) as usize;
        let bits_allocated = a.uint(tags::BITS_ALLOCATED)?;
        if ![1, 8, 16, 32].contains(&bits_allocated) {
            return Err(a.err(tags::BITS_ALLOCATED, &format!("is {bits_allocated}; expected 1, 8, 16 or 32")));
        }
        let bits_stored = a.opt_uint(tags::BITS_STORED)?.unwrap_or(bits_allocated);
        let high_bit = a.opt_uint(tags::HIGH_BIT)?.unwrap_or(bits_stored.saturating_sub(1));
        if bits_stored == 0 || bits_stored > bits_allocated || high_bit >= bits_allocated || high_bit + 1 < bits_stored
        {
            return Err(format_err(
                path,
                format!(
                    "inconsistent pixel layout: Bits Allocated {bits_allocated}, Bits Stored {bits_stored}, High Bit \
                     {high_bit}"
                ),
            ));
        }
        let signed = a.opt_uint(tags::PIXEL_REPRESENTATION)?.unwrap_or(0) == 1;
        let Some(elem) = obj.get(tags::PIXEL_DATA) else {
            let what = if a.has(tags::FLOAT_PIXEL_DATA) || a.has(tags::DOUBLE_FLOAT_PIXEL_DATA) {
                "has float pixel data, which is not supported"
            } else {
                "missing"
            };
            return Err(a.err(tags::PIXEL_DATA, what));
        };
        let bytes = match elem.value() {
            Value::Primitive(p) => {
                native_bytes(p).ok_or_else(|| a.err(tags::PIXEL_DATA, "has an unexpected value type"))?
            }
            Value::PixelSequence(_) => {
                let ts = trimmed(obj.meta().transfer_syntax()).to_string();
                if bits_allocated == 1 {
                    return Err(a.err(
                        tags::PIXEL_DATA,
                        &format!(
                            "1-bit pixel data in the encapsulated transfer syntax {ts} is not supported; rewrite the \
                             file as Explicit VR Little Endian"
                        ),
                    ));
                }
                let decoded = obj.decode_pixel_data().map_err(|e| {
                    a.err(
                        tags::PIXEL_DATA,
                        &format!(
                            "cannot decode transfer syntax {ts} ({e}); uncompressed, deflated, RLE, JPEG and JPEG 2000 \
                             data are supported (not JPEG-LS): decompress the files first, e.g. with `gdcmconv --raw`"
                        ),
                    )
                })?;
                Cow::Owned(decoded.into_data())
            }
            Value::Sequence(_) => return Err(a.err(tags::PIXEL_DATA, "is a sequence, not pixel data")),
        };
        // In u128 so that absurd header values cannot overflow; once the data is known to be
        // this long, every index below fits in usize.
        let needed_bits = [rows, cols, frames, bits_allocated as usize].iter().map(|v| *v as u128).product::<u128>();
        if (bytes.len() as u128) * 8 < needed_bits {
            return Err(a.err(
                tags::PIXEL_DATA,
                &format!(
                    "holds {} bytes, but {frames} frame(s) of {rows} × {cols} at {bits_allocated} bits need {}",
                    bytes.len(),
                    needed_bits.div_ceil(8)
                ),
            ));
        }
        Ok(Pixels { bytes, bits_allocated, bits_stored, shift: high_bit + 1 - bits_stored, signed, rows, cols, frames })
    }

    /// The stored values of frame `frame` (0-based, `< self.frames`), row by row.
    pub fn frame(&self, frame: usize) -> Vec<i64> {
        let n = self.rows * self.cols;
        let first = frame * n;
        if self.bits_allocated == 1 {
            return (first..first + n).map(|bit| i64::from((self.bytes[bit / 8] >> (bit % 8)) & 1)).collect();
        }
        let width = (self.bits_allocated / 8) as usize;
        let mask = (1u64 << self.bits_stored) - 1;
        let sign = 1u64 << (self.bits_stored - 1);
        self.bytes[first * width..(first + n) * width]
            .chunks_exact(width)
            .map(|b| {
                let word = b.iter().rev().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte));
                let v = (word >> self.shift) & mask;
                if self.signed && v & sign != 0 { v as i64 - (1i64 << self.bits_stored) } else { v as i64 }
            })
            .collect()
    }
}

/// Native pixel data as little-endian bytes. dicom-rs keeps OW data as 16-bit values in the
/// host's order, so those are re-encoded; OB data is already a byte stream.
fn native_bytes(p: &PrimitiveValue) -> Option<Cow<'_, [u8]>> {
    Some(match p {
        PrimitiveValue::Empty => Cow::Borrowed(&[][..]),
        PrimitiveValue::U8(v) => Cow::Borrowed(&v[..]),
        PrimitiveValue::U16(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::I16(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::U32(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::I32(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        _ => return None,
    })
}
