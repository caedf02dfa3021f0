//! A minimal PNG encoder for 8-bit RGB images: one IDAT chunk, deflate from miniz_oxide.
//!
//! Written here rather than taken from the `image`/`png` crates: those pull in a decoder stack
//! the report does not need, and their deflate goes through flate2, whose backend (and so the
//! compressed bytes) depends on what else is in the build. The report's bytes must not.

/// Encodes `rgb` (row-major, 3 bytes per pixel, `width * height * 3` bytes) as a PNG file.
pub(crate) fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let stride = width as usize * 3;
    assert_eq!(rgb.len(), stride * height as usize, "the buffer does not match the image size");

    // Each row gets the filter (none, sub or up) with the smallest sum of absolute values,
    // the usual heuristic; figures are mostly flat colour, where sub and up give long zero runs.
    let mut filtered = Vec::with_capacity((stride + 1) * height as usize);
    let zeros = vec![0u8; stride];
    let mut candidate = vec![0u8; stride];
    for y in 0..height as usize {
        let row = &rgb[y * stride..(y + 1) * stride];
        let above = if y == 0 { &zeros[..] } else { &rgb[(y - 1) * stride..y * stride] };
        let mut best_filter = 0u8;
        let mut best_cost = cost(row);
        let mut best_row = row.to_vec();
        for filter in [1u8, 2] {
            for x in 0..stride {
                let predictor = if filter == 1 { if x >= 3 { row[x - 3] } else { 0 } } else { above[x] };
                candidate[x] = row[x].wrapping_sub(predictor);
            }
            let candidate_cost = cost(&candidate);
            if candidate_cost < best_cost {
                best_cost = candidate_cost;
                best_filter = filter;
                best_row.copy_from_slice(&candidate);
            }
        }
        filtered.push(best_filter);
        filtered.extend_from_slice(&best_row);
    }

    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &miniz_oxide::deflate::compress_to_vec_zlib(&filtered, 6));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn cost(row: &[u8]) -> u64 {
    row.iter().map(|&b| (b as i8).unsigned_abs() as u64).sum()
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes what `encode_rgb` writes (its own subset of PNG) back to pixels.
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut at = 8;
        let (mut width, mut height, mut idat) = (0, 0, Vec::new());
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = &png[at + 4..at + 8];
            let data = &png[at + 8..at + 8 + len];
            let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32fast::hash(&png[at + 4..at + 8 + len]), "chunk CRC");
            match kind {
                b"IHDR" => {
                    width = u32::from_be_bytes(data[0..4].try_into().unwrap());
                    height = u32::from_be_bytes(data[4..8].try_into().unwrap());
                    assert_eq!(&data[8..], &[8, 2, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            at += 12 + len;
        }
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).unwrap();
        let stride = width as usize * 3;
        let mut pixels = vec![0u8; stride * height as usize];
        for y in 0..height as usize {
            let filter = raw[y * (stride + 1)];
            for x in 0..stride {
                let value = raw[y * (stride + 1) + 1 + x];
                let predictor = match filter {
                    0 => 0,
                    1 if x >= 3 => pixels[y * stride + x - 3],
                    1 => 0,
                    2 if y > 0 => pixels[(y - 1) * stride + x],
                    2 => 0,
                    other => panic!("unexpected filter {other}"),
                };
                pixels[y * stride + x] = value.wrapping_add(predictor);
            }
        }
        (width, height, pixels)
    }

    #[test]
    fn round_trips_pixels() {
        let (width, height) = (7u32, 5u32);
        let mut rgb = Vec::new();
        for y in 0..height {
            for x in 0..width {
                rgb.extend_from_slice(&[(x * 30) as u8, (y * 50) as u8, if (x + y) % 2 == 0 { 255 } else { 0 }]);
            }
        }
        let png = encode_rgb(width, height, &rgb);
        assert_eq!(decode(&png), (width, height, rgb));
    }
}
