//! A small NRRD reader (<https://teem.sourceforge.net/nrrd/format.html>), enough for the files
//! 3D Slicer and ITK write: 3D volumes and Slicer `.seg.nrrd` segmentations.
//!
//! Supported: magic `NRRD0001`..`NRRD0005`; fields `type` (int8, uint8, int16, uint16, int32,
//! uint32, float, double and their C-name aliases), `dimension` 3, or 4 with a leading `list`
//! (or `vector`) axis of which the first layer is read (Slicer's overlapping segments), `sizes`,
//! `kinds`, `space` (left-posterior-superior or right-anterior-superior, converted to LPS),
//! `space dimension` 3, `space directions`, `space origin`, `spacings` (without `space`),
//! `endian`, `encoding` raw or gzip. Detached data (`data file`, `.nhdr`), `byte skip`,
//! `line skip` and other encodings are rejected with an error naming the header line.
//! Comments (`#`) and key/value pairs (`key:=value`) are ignored.

use std::path::Path;

use crate::error::ImageError;
use crate::image::{
    BoxedVolume, Geometry, Image, Sample, SparseVolume, StoredVolume, decode, ras_to_lps_direction, ras_to_lps_point,
};

/// The sample type a NRRD `type` field names (every spelling the format allows).
fn parse_type(s: &str) -> Option<Sample> {
    Some(match s {
        "signed char" | "int8" | "int8_t" => Sample::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => Sample::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => Sample::I16,
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => Sample::U16,
        "int" | "signed int" | "int32" | "int32_t" => Sample::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => Sample::U32,
        "float" => Sample::F32,
        "double" => Sample::F64,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Space {
    Lps,
    Ras,
}

/// A header field with where it came from, for error messages.
struct Field<'a> {
    line: usize,
    text: &'a str,
    value: &'a str,
}

/// Reads a NRRD file (`.nrrd` or Slicer `.seg.nrrd`) into an image of `f64` voxels in LPS.
/// Every stored type converts to `f64` exactly.
pub fn read_nrrd(path: &Path) -> Result<Image<f64>, ImageError> {
    read_nrrd_stored(path).map(|volume| volume.to_image())
}

/// Reads a NRRD file keeping its voxels as stored (see [`StoredVolume`]).
pub fn read_nrrd_stored(path: &Path) -> Result<StoredVolume, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io { path: path.to_path_buf(), source })?;
    parse_nrrd_stored(bytes, path)
}

/// The grid of a NRRD file, from its header alone.
pub fn read_nrrd_geometry(path: &Path) -> Result<Geometry, ImageError> {
    let (head, _) = read_head(path)?;
    parse_layout(&head, path).map(|layout| layout.geometry)
}

/// Reads only the box `lo..=hi` (voxel indices, x, y, z) of a NRRD file's voxels: the data is
/// decompressed as a stream up to the box's last slice and only the box is kept, so memory
/// holds the box, not the volume, and the slices after the box are never inflated. The box
/// must lie inside the grid. Truncated data up to the box is an error naming the file; what
/// follows the box is not read, hence not checked.
pub fn read_nrrd_box(path: &Path, lo: [usize; 3], hi: [usize; 3]) -> Result<BoxedVolume, ImageError> {
    let mut rows = RowStream::open(path)?;
    let layout = &rows.layout;
    let [nx, ny, nz] = layout.geometry.size;
    if (0..3).any(|a| lo[a] > hi[a] || hi[a] >= [nx, ny, nz][a]) {
        return Err(ImageError::Format {
            path: path.to_path_buf(),
            msg: format!("box {lo:?}..={hi:?} is outside the grid {:?}", layout.geometry.size),
        });
    }
    let (sample, little, layers, geometry) = (layout.sample, layout.little, layout.layers, layout.geometry.clone());
    let size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let mut boxed = vec![0.0; size.iter().product()];
    let mut next = 0;
    let from = lo[0] * sample.bytes() * layers;
    for z in 0..=hi[2] {
        for y in 0..ny {
            let row = rows.next()?;
            if z >= lo[2] && (lo[1]..=hi[1]).contains(&y) {
                let out = &mut boxed[next..next + size[0]];
                decode(&row[from..], sample, little, layers, out);
                next += size[0];
            }
        }
    }
    Ok(BoxedVolume::new(geometry, lo, size, boxed))
}

/// Reads a NRRD file keeping only its rows that hold a nonzero byte ([`SparseVolume`]): what a
/// large mask is read as, since it is mostly background. The data is decompressed as a stream
/// and checked whole (truncated or overlong data is an error naming the file).
pub fn read_nrrd_sparse(path: &Path) -> Result<SparseVolume, ImageError> {
    let mut stream = RowStream::open(path)?;
    let [_, ny, nz] = stream.layout.geometry.size;
    let mut rows = Vec::with_capacity(ny * nz);
    let mut kept = Vec::new();
    let mut kept_rows = 0u32;
    for _ in 0..ny * nz {
        let row = stream.next()?;
        // No early exit: a whole-row OR is vectorised, and almost every row is all zeros.
        if row.iter().fold(0u8, |any, &b| any | b) == 0 {
            rows.push(SparseVolume::ZEROS);
        } else {
            kept.extend_from_slice(row);
            rows.push(kept_rows);
            kept_rows += 1;
        }
    }
    stream.check_end()?;
    let Layout { geometry, sample, little, layers, .. } = stream.layout;
    Ok(SparseVolume::new(geometry, sample, little, layers, rows, kept))
}

/// A NRRD file's data as a stream of rows (runs of x, every layer), in file order.
struct RowStream {
    layout: Layout,
    reader: Box<dyn std::io::Read>,
    /// Whole rows, decompressed straight into it a chunk at a time: asking the decoder for one
    /// row at a time made it several times slower, and a buffer in between cost a copy.
    chunk: Vec<u8>,
    /// The bytes of `chunk` read and not yet handed out.
    filled: std::ops::Range<usize>,
    row_bytes: usize,
    /// Rows left in the data.
    rows_left: usize,
    path: std::path::PathBuf,
}

impl RowStream {
    fn open(path: &Path) -> Result<RowStream, ImageError> {
        use std::io::Read;
        let (head, file) = read_head(path)?;
        let layout = parse_layout(&head, path)?;
        let data = head.get(layout.data_start..).unwrap_or_default().to_vec();
        let stream = std::io::Cursor::new(data).chain(std::io::BufReader::with_capacity(1 << 16, file));
        let reader: Box<dyn Read> =
            if layout.gzip { Box::new(flate2::read::MultiGzDecoder::new(stream)) } else { Box::new(stream) };
        let [nx, ny, nz] = layout.geometry.size;
        let row_bytes = nx * layout.sample.bytes() * layout.layers;
        let chunk = vec![0u8; row_bytes * (256 * 1024 / row_bytes.max(1)).clamp(1, (ny * nz).max(1))];
        Ok(RowStream { layout, reader, chunk, filled: 0..0, row_bytes, rows_left: ny * nz, path: path.to_path_buf() })
    }

    /// The next row; there are `ny * nz` of them.
    fn next(&mut self) -> Result<&[u8], ImageError> {
        if self.filled.is_empty() {
            let [_, ny, nz] = self.layout.geometry.size;
            let rows = (self.chunk.len() / self.row_bytes).min(self.rows_left);
            debug_assert!(rows > 0, "asked for a row after the last");
            let want = rows * self.row_bytes;
            let mut got = 0;
            while got < want {
                match self.reader.read(&mut self.chunk[got..want]) {
                    Ok(0) => {
                        let row = ny * nz - self.rows_left + got / self.row_bytes;
                        return Err(self.format(format!(
                            "truncated: the data ends before voxel row y = {} of slice z = {}, which the header's \
                             `sizes` {:?} promise",
                            row % ny.max(1),
                            row / ny.max(1),
                            self.layout.geometry.size
                        )));
                    }
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if self.layout.gzip => return Err(self.format(crate::gzip::describe_gunzip_error(&e))),
                    Err(e) => return Err(ImageError::Io { path: self.path.clone(), source: e }),
                }
            }
            self.filled = 0..want;
            self.rows_left -= rows;
        }
        let row = self.filled.start..self.filled.start + self.row_bytes;
        self.filled.start = row.end;
        Ok(&self.chunk[row])
    }

    /// After the last row: the data must end there.
    fn check_end(&mut self) -> Result<(), ImageError> {
        let mut extra = [0u8; 1];
        match self.reader.read(&mut extra) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.format(format!(
                "the data holds more than the {} bytes of {} voxels of {} that the header's `sizes` and `type` \
                 describe: the header does not match the data",
                self.layout.needed, self.layout.count, self.layout.type_name
            ))),
            Err(e) if self.layout.gzip => Err(self.format(crate::gzip::describe_gunzip_error(&e))),
            Err(e) => Err(ImageError::Io { path: self.path.clone(), source: e }),
        }
    }

    fn format(&self, msg: String) -> ImageError {
        ImageError::Format { path: self.path.clone(), msg }
    }
}

/// The first bytes of a file, through the blank line that ends a NRRD header (at most 1 MiB;
/// the parser names a header without its end), and the file positioned after them.
fn read_head(path: &Path) -> Result<(Vec<u8>, std::fs::File), ImageError> {
    use std::io::Read;
    let io = |source| ImageError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 8 * 1024];
    while head.len() < 1 << 20 {
        let n = file.read(&mut chunk).map_err(io)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(2).any(|w| w == b"\n\n") || head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Ok((head, file))
}

/// Parses NRRD bytes; `path` only names the file in errors.
pub fn parse_nrrd(bytes: &[u8], path: &Path) -> Result<Image<f64>, ImageError> {
    parse_nrrd_stored(bytes.to_vec(), path).map(|volume| volume.to_image())
}

/// Where and how a NRRD file holds its voxels, from its header.
struct Layout {
    geometry: Geometry,
    sample: Sample,
    little: bool,
    /// Samples per voxel (Slicer's layers; voxel v of layer 0 is sample v * layers).
    layers: usize,
    gzip: bool,
    /// Where the data starts in the file.
    data_start: usize,
    count: usize,
    /// Bytes of (decompressed) data the header describes.
    needed: usize,
    type_name: String,
}

fn parse_nrrd_stored(bytes: Vec<u8>, path: &Path) -> Result<StoredVolume, ImageError> {
    let format = |msg: String| ImageError::Format { path: path.to_path_buf(), msg };
    let Layout { geometry, sample, little, layers, gzip, data_start, count, needed, type_name } =
        parse_layout(&bytes, path)?;
    let (payload, offset) = if gzip {
        let decoded =
            crate::gzip::gunzip(&bytes[data_start..]).map_err(|e| format(crate::gzip::describe_gunzip_error(&e)))?;
        (decoded, 0)
    } else {
        (bytes, data_start)
    };
    let held = payload.len() - offset;
    if held < needed {
        return Err(format(format!(
            "truncated: the header says {count} voxels of {type_name}, which take {needed} bytes, but the {} data \
             holds {held} bytes",
            if gzip { "decompressed" } else { "file's" },
        )));
    }
    if held > needed {
        return Err(format(format!(
            "the data holds {held} bytes, more than the {needed} bytes of {count} voxels of {type_name} that the \
             header's `sizes` and `type` describe: the header does not match the data",
        )));
    }
    Ok(StoredVolume::new(geometry, payload, offset, sample, little, layers, (1.0, 0.0)))
}

/// Parses the header at the start of `bytes` (which may end anywhere after it).
fn parse_layout(bytes: &[u8], path: &Path) -> Result<Layout, ImageError> {
    let format = |msg: String| ImageError::Format { path: path.to_path_buf(), msg };
    let bad = |f: &Field, msg: String| ImageError::NrrdHeader {
        path: path.to_path_buf(),
        line: f.line,
        text: f.text.to_string(),
        msg,
    };

    // Header: lines up to the first empty line; the data follows it.
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut pos = 0;
    let mut data_start = None;
    while pos < bytes.len() {
        let end = bytes[pos..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| pos + i);
        let raw = &bytes[pos..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line_no = lines.len() + 1;
        pos = end + 1;
        if raw.is_empty() {
            data_start = Some(pos.min(bytes.len()));
            break;
        }
        let text = std::str::from_utf8(raw).map_err(|_| format(format!("NRRD header line {line_no} is not text")))?;
        lines.push((line_no, text));
    }
    let Some(&(_, magic)) = lines.first() else {
        return Err(format("empty file, expected a NRRD header".into()));
    };
    let version_ok = magic.strip_prefix("NRRD000").is_some_and(|v| matches!(v, "1" | "2" | "3" | "4" | "5"));
    if !version_ok {
        return Err(ImageError::NrrdHeader {
            path: path.to_path_buf(),
            line: 1,
            text: magic.chars().take(40).collect(),
            msg: "not a NRRD file (expected magic NRRD0001..NRRD0005)".into(),
        });
    }

    let mut fields: Vec<(String, Field)> = Vec::new();
    for &(line, text) in &lines[1..] {
        if text.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = text.split_once(": ") {
            if key.contains(":=") {
                continue;
            }
            let field = Field { line, text, value: value.trim() };
            let key = key.trim().to_ascii_lowercase();
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(bad(&field, format!("field `{key}` given twice")));
            }
            fields.push((key, field));
        } else if text.contains(":=") {
            continue;
        } else {
            return Err(ImageError::NrrdHeader {
                path: path.to_path_buf(),
                line,
                text: text.to_string(),
                msg: "expected `field: value`, `key:=value` or a `#` comment".into(),
            });
        }
    }
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, f)| f);
    let required = |key: &str| get(key).ok_or_else(|| format(format!("NRRD header has no `{key}` field")));

    for key in ["data file", "datafile"] {
        if let Some(f) = get(key) {
            return Err(bad(f, "detached data files (.nhdr) are not supported".into()));
        }
    }
    for key in ["byte skip", "byteskip", "line skip", "lineskip"] {
        if let Some(f) = get(key)
            && f.value != "0"
        {
            return Err(bad(f, format!("`{key}` other than 0 is not supported")));
        }
    }

    let f = required("type")?;
    let type_name = f.value;
    let scalar = parse_type(f.value).ok_or_else(|| bad(f, format!("unsupported type `{}`", f.value)))?;

    let f = required("dimension")?;
    let dim: usize = match f.value {
        "3" => 3,
        "4" => 4,
        v => return Err(bad(f, format!("dimension {v} is not supported (only 3, or 4 with a leading list axis)"))),
    };

    let f = required("sizes")?;
    let sizes = f
        .value
        .split_whitespace()
        .map(|s| s.parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<Vec<usize>>>()
        .filter(|s| s.len() == dim)
        .ok_or_else(|| bad(f, format!("expected {dim} positive integer sizes")))?;

    // With 4 axes the first one must be a list of layers (Slicer segmentations).
    let layers = if dim == 4 {
        let Some(f) = get("kinds") else {
            return Err(format("4-dimensional NRRD without `kinds`: cannot tell which axis holds the layers".into()));
        };
        let kinds: Vec<&str> = f.value.split_whitespace().collect();
        let first_is_list = kinds.first().is_some_and(|k| matches!(k.to_ascii_lowercase().as_str(), "list" | "vector"));
        let rest_are_space = kinds.len() == 4
            && kinds[1..].iter().all(|k| matches!(k.to_ascii_lowercase().as_str(), "domain" | "space"));
        if !first_is_list || !rest_are_space {
            return Err(bad(f, "4-dimensional NRRD must have kinds `list domain domain domain`".into()));
        }
        sizes[0]
    } else {
        1
    };
    let size = [sizes[dim - 3], sizes[dim - 2], sizes[dim - 1]];

    let little = match get("endian") {
        None => {
            if scalar.bytes() > 1 {
                return Err(format(format!("NRRD header has no `endian` field, required for {scalar:?} data")));
            }
            true
        }
        Some(f) => match f.value {
            "little" => true,
            "big" => false,
            v => return Err(bad(f, format!("endian must be little or big, not `{v}`"))),
        },
    };

    let space = match get("space") {
        None => None,
        Some(f) => match f.value.to_ascii_lowercase().as_str() {
            "left-posterior-superior" | "lps" => Some(Space::Lps),
            "right-anterior-superior" | "ras" => Some(Space::Ras),
            v => {
                return Err(bad(
                    f,
                    format!("space `{v}` is not supported (left-posterior-superior or right-anterior-superior)"),
                ));
            }
        },
    };
    if let Some(f) = get("space dimension") {
        if space.is_some() {
            return Err(bad(f, "`space` and `space dimension` are exclusive".into()));
        }
        return Err(bad(
            f,
            "`space dimension` without a named space is not supported (need left-posterior-superior or right-anterior-superior)".into(),
        ));
    }

    let (spacing, origin, direction) = if let Some(space) = space {
        let f = required("space directions")?;
        let vectors = parse_directions(f.value)
            .ok_or_else(|| bad(f, "expected vectors like `(1,0,0) (0,1,0) (0,0,1)`".into()))?;
        let spatial: &[Option<[f64; 3]>] = match (dim, vectors.as_slice()) {
            (3, v) => v,
            (4, [None, v @ ..]) => v,
            _ => &[],
        };
        let vectors = spatial
            .iter()
            .copied()
            .collect::<Option<Vec<[f64; 3]>>>()
            .filter(|v| v.len() == 3)
            .ok_or_else(|| bad(f, format!("expected {dim} entries, `none` exactly for the list axis")))?;
        let mut spacing = [0.0; 3];
        let mut direction = [[0.0; 3]; 3];
        for (c, v) in vectors.iter().enumerate() {
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(bad(f, format!("direction vector {} has zero length", c + 1)));
            }
            spacing[c] = norm;
            for r in 0..3 {
                direction[r][c] = v[r] / norm;
            }
        }
        let origin = match get("space origin") {
            None => [0.0; 3],
            Some(f) => parse_vector(f.value).ok_or_else(|| bad(f, "expected a vector like `(0,0,0)`".into()))?,
        };
        match space {
            Space::Lps => (spacing, origin, direction),
            Space::Ras => (spacing, ras_to_lps_point(origin), ras_to_lps_direction(direction)),
        }
    } else {
        if let Some(f) = get("space directions").or(get("space origin")) {
            return Err(bad(f, "needs a `space` field".into()));
        }
        let spacing = match get("spacings") {
            None => [1.0; 3],
            Some(f) => {
                let v: Vec<&str> = f.value.split_whitespace().collect();
                let v = if dim == 4 { v.get(1..).unwrap_or(&[]) } else { &v[..] };
                let parsed = v
                    .iter()
                    .map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0))
                    .collect::<Option<Vec<f64>>>()
                    .filter(|v| v.len() == 3)
                    .ok_or_else(|| bad(f, "expected positive spacings".into()))?;
                [parsed[0], parsed[1], parsed[2]]
            }
        };
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        (spacing, [0.0; 3], identity)
    };

    let f = required("encoding")?;
    let gzip = match f.value {
        "raw" => false,
        "gzip" | "gz" => true,
        v => return Err(bad(f, format!("encoding `{v}` is not supported (raw or gzip)"))),
    };
    let data_start =
        data_start.ok_or_else(|| format("NRRD header is not followed by an empty line and data".into()))?;
    let type_name = type_name.to_string();
    let width = scalar.bytes();
    let too_large = || format(format!("header field `sizes` {sizes:?} describes more voxels than memory can hold"));
    let count = size.iter().try_fold(layers, |acc, &n| acc.checked_mul(n)).ok_or_else(too_large)?;
    let needed = count.checked_mul(width).ok_or_else(too_large)?;
    let geometry = Geometry { size, spacing, origin, direction };
    Ok(Layout { geometry, sample: scalar, little, layers, gzip, data_start, count, needed, type_name })
}

fn parse_vector(s: &str) -> Option<[f64; 3]> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    let v = inner
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f64>>>()?;
    match v.as_slice() {
        [a, b, c] => Some([*a, *b, *c]),
        _ => None,
    }
}

/// `(a,b,c) none (d,e,f)` → one entry per axis, `None` for `none`.
fn parse_directions(s: &str) -> Option<Vec<Option<[f64; 3]>>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("none") {
            out.push(None);
            rest = r.trim_start();
        } else if rest.starts_with('(') {
            let end = rest.find(')')?;
            out.push(Some(parse_vector(&rest[..=end])?));
            rest = rest[end + 1..].trim_start();
        } else {
            return None;
        }
    }
    Some(out)
}
