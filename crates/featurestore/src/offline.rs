//! The offline store: one append-only Parquet file per ingestion, and the reads over them.
//!
//! Each file holds the ingested rows plus `write_time` (when the store took them) and
//! `is_deleted` (SageMaker's offline model), so the history of every record is kept and any
//! earlier state can be rebuilt: the state as of a version is the latest record per id, by
//! event time, over the ingestions up to that version.

use std::fs;
use std::io::Write;
use std::path::Path;

use polars::prelude::*;

use crate::error::{FsError, Result};
use crate::manifest::{Ingestion, private_file, temp_path};

/// Column holding the ingestion's wall-clock time (ms since the epoch, UTC).
pub const WRITE_TIME: &str = "write_time";
/// Column marking delete rows.
pub const IS_DELETED: &str = "is_deleted";
/// Names the store adds to the user's columns, so users may not use them.
pub const RESERVED: [&str; 2] = [WRITE_TIME, IS_DELETED];
/// Helper columns for ordering ties while reading (removed before anything is returned).
const VERSION_COL: &str = "__flow_version";
const ROW_COL: &str = "__flow_row";

/// Rows per Parquet row group. Fixed so the file layout depends only on the data.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Writes `df` as Parquet with settings that make the bytes a function of the data alone:
/// one chunk layout (polars cuts row groups along chunks), fixed row-group size, zstd at its
/// default level, and no timestamps (polars writes none; `created_by` is a constant).
pub fn write_parquet<W: Write>(df: &mut DataFrame, writer: W) -> PolarsResult<u64> {
    write_with(df, writer, ParquetCompression::Zstd(None))
}

fn write_with<W: Write>(df: &mut DataFrame, writer: W, compression: ParquetCompression) -> PolarsResult<u64> {
    df.rechunk_mut();
    ParquetWriter::new(writer)
        .with_compression(compression)
        .with_statistics(StatisticsOptions::default())
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .with_data_page_size(None)
        .finish(df)
}

/// Writes `df` deterministically to `path` via a temp file and a rename, so a reader never
/// sees half a file.
pub fn write_parquet_file(df: &mut DataFrame, path: &Path) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = std::io::BufWriter::new(private_file(&tmp)?);
        write_parquet(df, &mut file).map_err(|e| FsError::polars(format!("write {}", path.display()), e))?;
        let file = file.into_inner().map_err(|e| FsError::io(format!("write {}", path.display()), e.into_error()))?;
        file.sync_all().map_err(|e| FsError::io(format!("sync {}", tmp.display()), e))?;
        fs::rename(&tmp, path).map_err(|e| FsError::io(format!("rename to {}", path.display()), e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a Parquet file into memory.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = fs::File::open(path).map_err(|e| FsError::io(format!("open {}", path.display()), e))?;
    ParquetReader::new(file).finish().map_err(|e| FsError::polars(format!("read {}", path.display()), e))
}

/// Marks digests of [`digest`]'s scheme; digests without it are [`legacy_digest`]'s.
const DIGEST_SCHEME: &str = "v2:";

/// The content digest of a table: blake3 over its row count and, per column, name, type and
/// values (each value's little-endian bytes, a null as a flag; strings with their length).
/// Hashing the columns' memory directly is about 5x faster than encoding the table first, which
/// a no-op re-ingest of a 100,000 x 217 table spent most of its time on; types without a fixed
/// layout here (lists, structs, categoricals) are hashed through their Parquet encoding.
pub fn digest(df: &DataFrame) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(df.height() as u64).to_le_bytes());
    for column in df.columns() {
        let series = column.as_materialized_series();
        for text in [series.name().as_str(), &series.dtype().to_string()] {
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        hash_values(&mut hasher, series)?;
    }
    Ok(format!("{DIGEST_SCHEME}{}", hasher.finalize().to_hex()))
}

/// Whether `stored`, a digest from any scheme, is the digest of `df`, whose [`digest`] is
/// `current`. Groups written before the current scheme keep their old digests, which only
/// the old encoding can reproduce; it is computed once, into `legacy`, when first needed.
pub fn digest_matches(stored: &str, current: &str, legacy: &mut Option<String>, df: &DataFrame) -> Result<bool> {
    if stored.starts_with(DIGEST_SCHEME) {
        return Ok(stored == current);
    }
    if legacy.is_none() {
        *legacy = Some(legacy_digest(df)?);
    }
    Ok(legacy.as_deref() == Some(stored))
}

/// Feeds one column's values to `hasher`, in row order.
fn hash_values(hasher: &mut blake3::Hasher, series: &Series) -> Result<()> {
    let physical = series.to_physical_repr();
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    macro_rules! numeric {
        ($ca:expr) => {{
            let ca = $ca.map_err(|e| FsError::polars("read a column for its digest", e))?;
            for value in ca.iter() {
                match value {
                    Some(v) => {
                        buffer.push(1);
                        buffer.extend_from_slice(&v.to_le_bytes());
                    }
                    None => buffer.push(0),
                }
                if buffer.len() >= 60 * 1024 {
                    hasher.update(&buffer);
                    buffer.clear();
                }
            }
        }};
    }
    match physical.dtype() {
        DataType::Int8 => numeric!(physical.i8()),
        DataType::Int16 => numeric!(physical.i16()),
        DataType::Int32 => numeric!(physical.i32()),
        DataType::Int64 => numeric!(physical.i64()),
        DataType::UInt8 => numeric!(physical.u8()),
        DataType::UInt16 => numeric!(physical.u16()),
        DataType::UInt32 => numeric!(physical.u32()),
        DataType::UInt64 => numeric!(physical.u64()),
        DataType::Float32 => numeric!(physical.f32()),
        DataType::Float64 => numeric!(physical.f64()),
        DataType::Boolean => {
            let ca = physical.bool().map_err(|e| FsError::polars("read a column for its digest", e))?;
            buffer.extend(ca.iter().map(|v| match v {
                None => 0u8,
                Some(false) => 1,
                Some(true) => 2,
            }));
        }
        DataType::String => {
            let ca = physical.str().map_err(|e| FsError::polars("read a column for its digest", e))?;
            for value in ca.iter() {
                match value {
                    Some(text) => {
                        buffer.push(1);
                        buffer.extend_from_slice(&(text.len() as u64).to_le_bytes());
                        buffer.extend_from_slice(text.as_bytes());
                    }
                    None => buffer.push(0),
                }
                if buffer.len() >= 60 * 1024 {
                    hasher.update(&buffer);
                    buffer.clear();
                }
            }
        }
        _ => {
            let mut one = DataFrame::new(series.len(), vec![series.clone().into()])
                .map_err(|e| FsError::polars("read a column for its digest", e))?;
            write_with(&mut one, &mut buffer, ParquetCompression::Uncompressed)
                .map_err(|e| FsError::polars("encode a column for its digest", e))?;
        }
    }
    hasher.update(&buffer);
    Ok(())
}

/// The digest flow used before [`digest`]: blake3 of the table's uncompressed Parquet encoding.
pub fn legacy_digest(df: &DataFrame) -> Result<String> {
    let mut df = df.clone();
    let mut bytes = Vec::new();
    write_with(&mut df, &mut bytes, ParquetCompression::Uncompressed)
        .map_err(|e| FsError::polars("encode table for its digest", e))?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// Writes one ingestion's file: the rows, then `write_time` and `is_deleted`.
pub fn write_ingestion(path: &Path, df: &DataFrame, write_time_ms: i64, deleted: bool) -> Result<()> {
    let rows = df.height();
    let mut full = df.clone();
    let write_time = Column::new_scalar(
        WRITE_TIME.into(),
        Scalar::new(
            DataType::Datetime(TimeUnit::Milliseconds, None),
            AnyValue::Datetime(write_time_ms, TimeUnit::Milliseconds, None),
        ),
        rows,
    );
    let is_deleted =
        Column::new_scalar(IS_DELETED.into(), Scalar::new(DataType::Boolean, AnyValue::Boolean(deleted)), rows);
    full.with_column(write_time).map_err(|e| FsError::polars("add write_time", e))?;
    full.with_column(is_deleted).map_err(|e| FsError::polars("add is_deleted", e))?;
    write_parquet_file(&mut full, path)
}

/// Every offline row of the given ingestions, oldest ingestion first, with the store's
/// `write_time` and `is_deleted` columns.
pub fn history(group_dir: &Path, ingestions: &[Ingestion]) -> Result<DataFrame> {
    let mut frames = Vec::with_capacity(ingestions.len());
    for ingestion in ingestions {
        frames.push(read_parquet(&group_dir.join(&ingestion.file))?);
    }
    concat_frames(frames, "read the offline store")
}

/// The latest non-deleted record per id over the given ingestions, sorted by id, without the
/// store's columns. Ties in event time go to the later ingestion, then to the later row, the
/// same rule the online store applies.
pub fn latest(
    group_dir: &Path,
    ingestions: &[Ingestion],
    record_id: &str,
    event_time: &str,
    empty: &DataFrame,
) -> Result<DataFrame> {
    if ingestions.is_empty() {
        return Ok(empty.clone());
    }
    let mut frames = Vec::with_capacity(ingestions.len());
    for ingestion in ingestions {
        let df = read_parquet(&group_dir.join(&ingestion.file))?;
        let tagged = df
            .lazy()
            .with_row_index(ROW_COL, None)
            .with_column(lit(ingestion.version).alias(VERSION_COL))
            .collect()
            .map_err(|e| FsError::polars("read the offline store", e))?;
        frames.push(tagged);
    }
    let all = concat_frames(frames, "read the offline store")?;
    all.lazy()
        .sort([event_time, VERSION_COL, ROW_COL], SortMultipleOptions::default().with_maintain_order(true))
        .unique_stable_generic(Some(vec![col(record_id)]), UniqueKeepStrategy::Last)
        .filter(col(IS_DELETED).not())
        .sort([record_id], SortMultipleOptions::default().with_maintain_order(true))
        .drop(by_name([VERSION_COL, ROW_COL, WRITE_TIME, IS_DELETED], true, false))
        .collect()
        .map_err(|e| FsError::polars(format!("latest records by '{record_id}'"), e))
}

fn concat_frames(frames: Vec<DataFrame>, context: &str) -> Result<DataFrame> {
    let mut iter = frames.into_iter();
    let Some(mut all) = iter.next() else { return Ok(DataFrame::empty()) };
    for frame in iter {
        all.vstack_mut_owned(frame).map_err(|e| FsError::polars(context, e))?;
    }
    all.rechunk_mut();
    Ok(all)
}

/// An empty frame with the columns (and types) of a group's first ingestion file.
pub fn empty_like(path: &Path) -> Result<DataFrame> {
    let file = fs::File::open(path).map_err(|e| FsError::io(format!("open {}", path.display()), e))?;
    let df = ParquetReader::new(file)
        .with_slice(Some((0, 0)))
        .finish()
        .map_err(|e| FsError::polars(format!("read {}", path.display()), e))?;
    Ok(df.drop_many(RESERVED))
}
