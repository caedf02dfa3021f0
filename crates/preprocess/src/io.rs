//! Reading delimited text (plain or gzip) and writing deterministic Parquet.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use polars::prelude::{Column, DataFrame, ParquetCompression, ParquetReader, ParquetWriter, SerReader};

pub use crate::small_parquet::{DenseColumn, DenseValues};
use crate::{PrepError, small_parquet};

/// The field separator of a table file, from its first line: tab when the header has more
/// tabs than commas (GEO tables), comma otherwise. File names are no guide inside the store,
/// where artifacts are named by port, not by format.
pub fn sniff_delimiter(path: &Path) -> Result<u8, PrepError> {
    use std::io::BufRead;
    // Bytes, not a String: text that is not UTF-8 is the csv reader's to report, with its line.
    let mut first = Vec::new();
    BufReader::new(open_text(path)?).read_until(b'\n', &mut first).map_err(|e| read_error(path, Some(1), e))?;
    let tabs = first.iter().filter(|b| **b == b'\t').count();
    let commas = first.iter().filter(|b| **b == b',').count();
    Ok(if tabs > commas { b'\t' } else { b',' })
}

/// Opens a file, transparently decompressing gzip (detected by its magic bytes, not the name).
pub fn open_text(path: &Path) -> Result<Box<dyn Read>, PrepError> {
    let io = |e| PrepError::io(path, e);
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let mut magic = [0u8; 2];
    let n = file.get_mut().read(&mut magic).map_err(io)?;
    let file = BufReader::new(File::open(path).map_err(io)?);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

/// A CSV/TSV reader with the header row kept as data, so errors can name file lines exactly.
pub fn csv_reader(path: &Path) -> Result<csv::Reader<Box<dyn Read>>, PrepError> {
    Ok(csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(path)?)
        .has_headers(false)
        .flexible(false)
        .from_reader(open_text(path)?))
}

/// The header row of a table file and an iterator over the rows after it.
pub fn header_and_rows(
    path: &Path,
) -> Result<(csv::StringRecord, csv::StringRecordsIntoIter<Box<dyn Read>>), PrepError> {
    let mut records = csv_reader(path)?.into_records();
    match records.next() {
        Some(row) => Ok((row.map_err(|e| csv_error(path, e))?, records)),
        None => Err(PrepError::Parse { file: path.to_path_buf(), line: 1, message: "the file is empty".into() }),
    }
}

/// A failed read: the file's fault (cut short, corrupt gzip) as bad data, at `line` when it is
/// known; the machine's as [`PrepError::Io`].
fn read_error(path: &Path, line: Option<u64>, error: std::io::Error) -> PrepError {
    use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
    if !matches!(error.kind(), UnexpectedEof | InvalidData | InvalidInput) {
        return PrepError::io(path, error);
    }
    let message = format!(
        "the file ends early or its gzip data is corrupt ({error}): it was cut short or damaged, copy it again"
    );
    match line {
        Some(line) => PrepError::Parse { file: path.to_path_buf(), line, message },
        None => PrepError::Value { file: path.to_path_buf(), message },
    }
}

/// Maps a csv error (ragged row, bad UTF-8, a gzip stream cut short) to a message with the
/// file's line number; a read that failed for the machine's sake stays an I/O error.
pub fn csv_error(path: &Path, err: csv::Error) -> PrepError {
    let line = err.position().map(|p| p.line()).unwrap_or(0);
    let message = match err.kind() {
        csv::ErrorKind::Io(e) => {
            let line = err.position().map(|p| p.line());
            return read_error(path, line, std::io::Error::new(e.kind(), e.to_string()));
        }
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "text is not valid UTF-8".to_string(),
        _ => err.to_string(),
    };
    PrepError::Parse { file: path.to_path_buf(), line, message }
}

/// Tables up to this many rows (of the types it knows) go to [`small_parquet`].
const SMALL_TABLE_ROWS: usize = 128;

/// Writes a table as Parquet with fixed settings: same table, same bytes (single-threaded
/// encoding, no timestamps), so unchanged outputs stop reruns downstream.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), PrepError> {
    write_file(path, |file| {
        if df.height() <= SMALL_TABLE_ROWS && small_parquet::supports(df) {
            small_parquet::write(df, file).map_err(|e| e.to_string())
        } else {
            ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(None))
                .set_parallel(false)
                .finish(df)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
}

/// Creates `path` and writes it through a buffer. Buffered: polars' Parquet writer issues one
/// small write per thrift field, thousands for a wide table, and unbuffered those syscalls were
/// most of a small node's run time.
fn write_file(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<(), String>) -> Result<(), PrepError> {
    let mut file = BufWriter::new(File::create(path).map_err(|e| PrepError::io(path, e))?);
    write(&mut file).map_err(|e| PrepError::Table(format!("write {}: {e}", path.display())))?;
    file.flush().map_err(|e| PrepError::io(path, e))
}

/// Writes columns of equal length and no nulls (an id column, then features) as Parquet: the
/// same file [`write_parquet`] makes of the same table, without building a polars table when
/// it is small (one patient's features: building it cost as much as writing it).
pub fn write_dense_parquet(columns: &[DenseColumn<'_>], path: &Path) -> Result<(), PrepError> {
    let rows = columns.first().map_or(0, |c| c.values.len());
    if rows > SMALL_TABLE_ROWS {
        let columns = columns
            .iter()
            .map(|column| match column.values {
                DenseValues::Text(values) => Column::new(column.name.into(), values),
                DenseValues::Float64(values) => Column::new(column.name.into(), values),
            })
            .collect();
        let mut df = DataFrame::new(rows, columns).map_err(|e| PrepError::Table(format!("{}: {e}", path.display())))?;
        return write_parquet(&mut df, path);
    }
    write_file(path, |file| small_parquet::write_dense(columns, file).map_err(|e| e.to_string()))
}

pub fn read_parquet(path: &Path) -> Result<DataFrame, PrepError> {
    let file = File::open(path).map_err(|e| PrepError::io(path, e))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| PrepError::Parquet { file: path.to_path_buf(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    #[test]
    fn parquet_bytes_are_deterministic_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let make = || {
            DataFrame::new(
                3,
                vec![
                    Column::new("case_id".into(), &["R01-001", "R01-002", "R01-003"]),
                    Column::new("x".into(), &[Some(1.5), None, Some(-2.0)]),
                ],
            )
            .unwrap()
        };
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        write_parquet(&mut make(), &a).unwrap();
        write_parquet(&mut make(), &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(read_parquet(&a).unwrap().equals_missing(&make()));
    }

    #[test]
    fn small_and_large_tables_of_every_column_type_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for rows in [0, 1, SMALL_TABLE_ROWS, SMALL_TABLE_ROWS + 1] {
            let table = DataFrame::new(
                rows,
                vec![
                    Column::new("id".into(), (0..rows).map(|r| format!("R{r:03}")).collect::<Vec<_>>()),
                    Column::new(
                        "f".into(),
                        (0..rows).map(|r| (r % 3 != 1).then_some(r as f64 / 7.0)).collect::<Vec<_>>(),
                    ),
                    Column::new("i".into(), (0..rows).map(|r| r as i64 - 5).collect::<Vec<_>>()),
                    Column::new("u".into(), (0..rows).map(|r| r as u32).collect::<Vec<_>>()),
                    Column::new("b".into(), (0..rows).map(|r| (r % 4 != 2).then_some(r % 2 == 0)).collect::<Vec<_>>()),
                    Column::new(
                        "s".into(),
                        (0..rows).map(|r| (r % 5 != 3).then(|| "é".repeat(r % 4))).collect::<Vec<_>>(),
                    ),
                ],
            )
            .unwrap();
            let path = dir.path().join(format!("{rows}.parquet"));
            write_parquet(&mut table.clone(), &path).unwrap();
            let back = read_parquet(&path).unwrap();
            assert!(back.equals_missing(&table), "{rows} rows:\n{back}\n{table}");
            assert_eq!(back.schema(), table.schema(), "{rows} rows");
        }
    }

    #[test]
    fn dense_columns_make_the_same_file_as_the_same_table() {
        let dir = tempfile::tempdir().unwrap();
        for rows in [0, 1, SMALL_TABLE_ROWS, SMALL_TABLE_ROWS + 1] {
            let ids: Vec<String> = (0..rows).map(|r| format!("R01-{r:03}")).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let a: Vec<f64> = (0..rows).map(|r| r as f64 * 0.3 - 1.0).collect();
            let b: Vec<f64> = (0..rows).map(|r| [f64::NAN, 2.5, f64::NEG_INFINITY][r % 3]).collect();
            let dense = [
                DenseColumn { name: "subject", values: DenseValues::Text(&ids) },
                DenseColumn { name: "original_shape_Elongation", values: DenseValues::Float64(&a) },
                DenseColumn { name: "b", values: DenseValues::Float64(&b) },
            ];
            let mut table = DataFrame::new(
                rows,
                vec![
                    Column::new("subject".into(), &ids),
                    Column::new("original_shape_Elongation".into(), &a),
                    Column::new("b".into(), &b),
                ],
            )
            .unwrap();
            let (from_dense, from_table) = (dir.path().join("dense"), dir.path().join("table"));
            write_dense_parquet(&dense, &from_dense).unwrap();
            write_parquet(&mut table, &from_table).unwrap();
            assert_eq!(std::fs::read(&from_dense).unwrap(), std::fs::read(&from_table).unwrap(), "{rows} rows");
            assert!(read_parquet(&from_dense).unwrap().equals_missing(&table), "{rows} rows");
        }
    }

    #[test]
    fn delimiter_comes_from_the_header_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("genomic");
        std::fs::write(&tsv, "gene\tR01-001\tR01-002\nVIM\t1,5\t2\n").unwrap();
        assert_eq!(sniff_delimiter(&tsv).unwrap(), b'\t');
        let csv = dir.path().join("clinical.tsv");
        std::fs::write(&csv, "Case ID,Weight (lbs),Histology \nR01-001,150,Adenocarcinoma\n").unwrap();
        assert_eq!(sniff_delimiter(&csv).unwrap(), b',');
    }
}
