//! Whole-file gzip decompression for image files.
//!
//! libdeflate inflates a CT volume in memory about 1.7 times as fast as a streaming decoder
//! (PAT1: 21 ms against 35 ms), and reading is most of the time of a small case. It handles a
//! single gzip member whose size the trailer gives; anything else (multi-member files, sizes
//! of 4 GiB and more) falls back to flate2's streaming decoder.
//!
//! The trailer's size is only trusted up to deflate's maximum ratio (1032:1): the last four
//! bytes of a truncated or damaged file are arbitrary, and believing them would allocate up to
//! 4 GiB before the decoder notices.

use std::io::Read;

/// True when `bytes` start with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Deflate cannot expand data more than this (RFC 1951: 258 bytes per 2-bit code, plus slack).
const MAX_DEFLATE_RATIO: usize = 1032;

/// Decompresses a whole gzip file.
pub(crate) fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    if let Some(trailer) = bytes.len().checked_sub(4).and_then(|at| bytes.get(at..)) {
        let size = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
        if size > bytes.len().saturating_mul(MAX_DEFLATE_RATIO) {
            return streaming(bytes);
        }
        let mut out = vec![0u8; size];
        if let Ok(n) = libdeflater::Decompressor::new().gzip_decompress(bytes, &mut out)
            && n == size
        {
            return Ok(out);
        }
    }
    streaming(bytes)
}

fn streaming(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// What to tell a user whose gzip data did not decompress.
pub(crate) fn describe_gunzip_error(error: &std::io::Error) -> String {
    format!("the gzip data is truncated or corrupt ({error}); the file was cut short or damaged: copy it again")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn single_and_multi_member() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let one = gz(&data);
        assert!(is_gzip(&one));
        assert_eq!(gunzip(&one).unwrap(), data);
        let mut two = one.clone();
        two.extend(gz(b"tail"));
        let mut expected = data.clone();
        expected.extend(b"tail");
        assert_eq!(gunzip(&two).unwrap(), expected);
        assert!(gunzip(&one[..one.len() / 2]).is_err());
    }

    #[test]
    fn truncated_data_is_described() {
        let data = vec![7u8; 1000];
        let truncated = &gz(&data)[..20];
        let err = gunzip(truncated).unwrap_err();
        assert!(describe_gunzip_error(&err).contains("truncated or corrupt"), "{err}");
    }
}
