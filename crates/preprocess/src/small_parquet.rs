//! Small tables (one patient's features, a metrics row) as Parquet, laid out here and described
//! with the format's own thrift types (polars-parquet-format, already in the build).
//!
//! Why not polars' writer: for one row of 108 columns it took 5.6 ms (a HyperLogLog per column
//! sizing a dictionary, a zstd context per column), and its lower-level writer in plain encoding
//! still 0.9 ms warm and 1.5-1.9 ms as a node's first call (arrow-to-page conversion, statistics,
//! an IPC copy of the schema, at `opt-level = "z"`): most of a one-patient radiomics node
//! (docs/benchmarks.md). On so few rows a dictionary, compression and statistics save nothing.
//!
//! The file: one row group (none for an empty table), one plain, uncompressed v1 data page per
//! column, every column optional with its definition levels. Read back, the types are the same:
//! Boolean, Int32, Int64, Float32, Float64 and String; a table with any other type is left to
//! polars' writer ([`supports`]).

use std::io::{self, Write};

use polars::prelude::{Column, DataFrame, DataType};
use polars_parquet_format::thrift::protocol::TCompactOutputProtocol;
use polars_parquet_format::{
    ColumnChunk, ColumnMetaData, ColumnOrder, CompressionCodec, ConvertedType, DataPageHeader, Encoding,
    FieldRepetitionType, FileMetaData, LogicalType, PageHeader, PageType, RowGroup, SchemaElement, StringType, Type,
    TypeDefinedOrder,
};

const MAGIC: &[u8; 4] = b"PAR1";

/// Whether every column has a type this writer lays out.
pub fn supports(df: &DataFrame) -> bool {
    df.columns().iter().all(|column| physical_type(column.dtype()).is_some())
}

fn physical_type(dtype: &DataType) -> Option<Type> {
    Some(match dtype {
        DataType::Boolean => Type::BOOLEAN,
        DataType::Int32 => Type::INT32,
        DataType::Int64 => Type::INT64,
        DataType::Float32 => Type::FLOAT,
        DataType::Float64 => Type::DOUBLE,
        DataType::String => Type::BYTE_ARRAY,
        _ => None?,
    })
}

/// Writes `df` as a Parquet file to `out`, in one `write_all`. Same table, same bytes.
pub fn write(df: &DataFrame, out: &mut impl Write) -> io::Result<()> {
    write_leaves(df.height(), df.columns(), out)
}

/// A column without nulls, as a node holds it before any table is built.
pub struct DenseColumn<'a> {
    pub name: &'a str,
    pub values: DenseValues<'a>,
}

pub enum DenseValues<'a> {
    Text(&'a [&'a str]),
    Float64(&'a [f64]),
}

impl DenseValues<'_> {
    pub fn len(&self) -> usize {
        match self {
            DenseValues::Text(values) => values.len(),
            DenseValues::Float64(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes columns of equal length as a Parquet file to `out`, the same bytes as [`write`]
/// gives for the same table, without building one: for one patient's features, polars'
/// `DataFrame` of 108 columns cost as much as laying out the file.
pub fn write_dense(columns: &[DenseColumn<'_>], out: &mut impl Write) -> io::Result<()> {
    let rows = columns.first().map_or(0, |c| c.values.len());
    if let Some(column) = columns.iter().find(|c| c.values.len() != rows) {
        return Err(io::Error::other(format!(
            "column '{}' has {} values where the first has {rows}",
            column.name,
            column.values.len()
        )));
    }
    for (at, column) in columns.iter().enumerate() {
        if columns[..at].iter().any(|earlier| earlier.name == column.name) {
            return Err(io::Error::other(format!("two columns are named '{}'", column.name)));
        }
    }
    write_leaves(rows, columns, out)
}

/// A column as the writer needs it: a name, a physical type, and its page's bytes.
trait Leaf {
    fn name(&self) -> &str;
    fn physical_type(&self) -> io::Result<Type>;
    /// Appends the data page body: the definition levels, then the non-null values.
    fn encode(&self, page: &mut Vec<u8>) -> io::Result<()>;
}

impl Leaf for Column {
    fn name(&self) -> &str {
        Column::name(self)
    }

    fn physical_type(&self) -> io::Result<Type> {
        physical_type(self.dtype())
            .ok_or_else(|| io::Error::other(format!("column '{}': {} is not written here", self.name(), self.dtype())))
    }

    fn encode(&self, page: &mut Vec<u8>) -> io::Result<()> {
        encode_page(self, page).map_err(io::Error::other)
    }
}

impl Leaf for DenseColumn<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn physical_type(&self) -> io::Result<Type> {
        Ok(match self.values {
            DenseValues::Text(_) => Type::BYTE_ARRAY,
            DenseValues::Float64(_) => Type::DOUBLE,
        })
    }

    fn encode(&self, page: &mut Vec<u8>) -> io::Result<()> {
        put_levels_all_present(page, self.values.len());
        match self.values {
            DenseValues::Text(values) => values.iter().for_each(|value| put_byte_array(page, value)),
            DenseValues::Float64(values) => values.iter().for_each(|v| page.extend_from_slice(&v.to_le_bytes())),
        }
        Ok(())
    }
}

fn write_leaves<L: Leaf>(rows: usize, leaves: &[L], out: &mut impl Write) -> io::Result<()> {
    let mut file = Vec::with_capacity(256 + leaves.len() * (64 + rows * 9));
    file.extend_from_slice(MAGIC);
    let mut schema = Vec::with_capacity(leaves.len() + 1);
    schema.push(SchemaElement {
        type_: None,
        type_length: None,
        repetition_type: None,
        name: "root".into(),
        num_children: Some(to_i32(leaves.len(), "columns")?),
        converted_type: None,
        scale: None,
        precision: None,
        field_id: None,
        logical_type: None,
    });
    let mut chunks = Vec::with_capacity(leaves.len());
    let mut page = Vec::new();
    for column in leaves {
        let type_ = column.physical_type()?;
        let is_string = type_ == Type::BYTE_ARRAY;
        schema.push(SchemaElement {
            type_: Some(type_),
            type_length: None,
            repetition_type: Some(FieldRepetitionType::OPTIONAL),
            name: column.name().to_string(),
            num_children: None,
            converted_type: is_string.then_some(ConvertedType::UTF8),
            scale: None,
            precision: None,
            field_id: None,
            logical_type: is_string.then_some(LogicalType::STRING(StringType {})),
        });
        if rows == 0 {
            continue;
        }
        page.clear();
        column.encode(&mut page)?;
        let page_size = to_i32(page.len(), "page bytes")?;
        let header = PageHeader {
            type_: PageType::DATA_PAGE,
            uncompressed_page_size: page_size,
            compressed_page_size: page_size,
            crc: None,
            data_page_header: Some(DataPageHeader {
                num_values: to_i32(rows, "rows")?,
                encoding: Encoding::PLAIN,
                definition_level_encoding: Encoding::RLE,
                repetition_level_encoding: Encoding::RLE,
                statistics: None,
            }),
            index_page_header: None,
            dictionary_page_header: None,
            data_page_header_v2: None,
        };
        let offset = file.len() as i64;
        header.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut file)).map_err(io::Error::other)?;
        file.extend_from_slice(&page);
        let size = file.len() as i64 - offset;
        chunks.push(ColumnChunk {
            file_path: None,
            file_offset: offset + size,
            meta_data: Some(ColumnMetaData {
                type_,
                encodings: vec![Encoding::PLAIN, Encoding::RLE],
                path_in_schema: vec![column.name().to_string()],
                codec: CompressionCodec::UNCOMPRESSED,
                num_values: rows as i64,
                total_uncompressed_size: size,
                total_compressed_size: size,
                key_value_metadata: None,
                data_page_offset: offset,
                index_page_offset: None,
                dictionary_page_offset: None,
                statistics: None,
                encoding_stats: None,
                bloom_filter_offset: None,
                bloom_filter_length: None,
                size_statistics: None,
            }),
            offset_index_offset: None,
            offset_index_length: None,
            column_index_offset: None,
            column_index_length: None,
            crypto_metadata: None,
            encrypted_column_metadata: None,
        });
    }
    let row_groups = if rows == 0 {
        Vec::new()
    } else {
        let bytes: i64 = chunks.iter().filter_map(|c| c.meta_data.as_ref()).map(|m| m.total_compressed_size).sum();
        vec![RowGroup {
            total_byte_size: bytes,
            num_rows: rows as i64,
            sorting_columns: None,
            file_offset: Some(MAGIC.len() as i64),
            total_compressed_size: Some(bytes),
            ordinal: Some(0),
            columns: chunks,
        }]
    };
    let metadata = FileMetaData {
        version: 1,
        schema,
        num_rows: rows as i64,
        row_groups,
        key_value_metadata: None,
        created_by: Some(concat!("flow ", env!("CARGO_PKG_VERSION")).into()),
        column_orders: Some(vec![ColumnOrder::TYPEORDER(TypeDefinedOrder {}); leaves.len()]),
        encryption_algorithm: None,
        footer_signing_key_metadata: None,
    };
    let metadata_start = file.len();
    metadata.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut file)).map_err(io::Error::other)?;
    let metadata_len = to_i32(file.len() - metadata_start, "metadata bytes")?;
    file.extend_from_slice(&metadata_len.to_le_bytes());
    file.extend_from_slice(MAGIC);
    out.write_all(&file)
}

fn to_i32(n: usize, what: &str) -> io::Result<i32> {
    i32::try_from(n).map_err(|_| io::Error::other(format!("too many {what} for one Parquet page: {n}")))
}

/// A data page v1 body: the definition levels (length-prefixed RLE/bit-packed hybrid, bit width
/// 1), then the non-null values in plain encoding.
fn encode_page(column: &Column, page: &mut Vec<u8>) -> polars::prelude::PolarsResult<()> {
    let series = column.as_materialized_series();
    let rows = series.len();
    if series.null_count() == 0 {
        put_levels_all_present(page, rows);
    } else {
        let mut levels = Vec::with_capacity(rows / 8 + 8);
        // Bit-packed groups of eight values; bits past the last row are ignored by readers.
        let groups = rows.div_ceil(8);
        put_uleb128(&mut levels, ((groups as u64) << 1) | 1);
        let mut bits = vec![0u8; groups];
        let validity = series.is_not_null();
        for (row, valid) in validity.iter().enumerate() {
            if valid == Some(true) {
                bits[row / 8] |= 1 << (row % 8);
            }
        }
        levels.extend_from_slice(&bits);
        page.extend_from_slice(&(levels.len() as u32).to_le_bytes());
        page.extend_from_slice(&levels);
    }
    match series.dtype() {
        DataType::Boolean => {
            let mut byte = 0u8;
            let mut count = 0usize;
            for value in series.bool()?.iter().flatten() {
                byte |= u8::from(value) << (count % 8);
                count += 1;
                if count.is_multiple_of(8) {
                    page.push(byte);
                    byte = 0;
                }
            }
            if !count.is_multiple_of(8) {
                page.push(byte);
            }
        }
        DataType::Int32 => series.i32()?.iter().flatten().for_each(|v| page.extend_from_slice(&v.to_le_bytes())),
        DataType::Int64 => series.i64()?.iter().flatten().for_each(|v| page.extend_from_slice(&v.to_le_bytes())),
        DataType::Float32 => series.f32()?.iter().flatten().for_each(|v| page.extend_from_slice(&v.to_le_bytes())),
        DataType::Float64 => series.f64()?.iter().flatten().for_each(|v| page.extend_from_slice(&v.to_le_bytes())),
        DataType::String => {
            series.str()?.iter().flatten().for_each(|value| put_byte_array(page, value));
        }
        other => polars::prelude::polars_bail!(ComputeError: "{other} is not written by the small-table writer"),
    }
    Ok(())
}

/// Definition levels of a column without nulls: one RLE run of `rows` ones, length-prefixed.
fn put_levels_all_present(page: &mut Vec<u8>, rows: usize) {
    let mut levels = Vec::with_capacity(11);
    put_uleb128(&mut levels, (rows as u64) << 1);
    levels.push(1);
    page.extend_from_slice(&(levels.len() as u32).to_le_bytes());
    page.extend_from_slice(&levels);
}

/// A string in plain encoding: its length in bytes, then its bytes (polars' strings are
/// shorter than 4 GiB).
fn put_byte_array(page: &mut Vec<u8>, value: &str) {
    page.extend_from_slice(&(value.len() as u32).to_le_bytes());
    page.extend_from_slice(value.as_bytes());
}

fn put_uleb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use polars::prelude::{ParquetReader, SerReader};

    use super::*;

    fn table(rows: usize, offset: usize) -> DataFrame {
        let r = move || offset..offset + rows;
        DataFrame::new(
            rows,
            vec![
                Column::new("subject id".into(), r().map(|r| format!("R01-{r:03}")).collect::<Vec<_>>()),
                Column::new(
                    "f64".into(),
                    r().map(|r| (r % 3 != 1).then_some(r as f64 / 7.0 - 3.0)).collect::<Vec<_>>(),
                ),
                Column::new("f32".into(), r().map(|r| r as f32 * 0.25).collect::<Vec<_>>()),
                Column::new(
                    "i64".into(),
                    r().map(|r| (r % 9 != 4).then_some(r as i64 * -1_000_000_007)).collect::<Vec<_>>(),
                ),
                Column::new("i32".into(), r().map(|r| r as i32 - 60).collect::<Vec<_>>()),
                Column::new("bool".into(), r().map(|r| (r % 4 != 2).then_some(r % 3 == 0)).collect::<Vec<_>>()),
                Column::new("text".into(), r().map(|r| (r % 5 != 3).then(|| "é,\"".repeat(r % 4))).collect::<Vec<_>>()),
                Column::new("all null".into(), r().map(|_| None::<f64>).collect::<Vec<_>>()),
                Column::new(
                    "nan and inf".into(),
                    r().map(|r| [f64::NAN, f64::INFINITY, -0.0][r % 3]).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap()
    }

    fn round_trip(df: &DataFrame) -> DataFrame {
        assert!(supports(df));
        let mut bytes = Vec::new();
        write(df, &mut bytes).unwrap();
        ParquetReader::new(Cursor::new(bytes)).finish().unwrap()
    }

    #[test]
    fn tables_of_every_supported_type_read_back_equal_with_their_types() {
        // 8 and 9 rows: the definition levels' bit-packed groups end exactly or one row in.
        for rows in [0, 1, 7, 8, 9, 64, 128] {
            let df = table(rows, 0);
            let back = round_trip(&df);
            assert_eq!(back.schema(), df.schema(), "{rows} rows");
            assert!(back.equals_missing(&df), "{rows} rows:\n{back}\n{df}");
        }
    }

    #[test]
    fn a_table_of_several_chunks_is_written_whole() {
        let mut df = table(5, 0);
        df.vstack_mut(&table(6, 5)).unwrap();
        assert!(df.first_col_n_chunks() > 1);
        let back = round_trip(&df);
        assert!(back.equals_missing(&table(11, 0)));
    }

    #[test]
    fn the_same_table_gives_the_same_bytes() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write(&table(13, 0), &mut a).unwrap();
        write(&table(13, 0), &mut b).unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with(MAGIC) && a.ends_with(MAGIC));
    }

    #[test]
    fn dense_columns_of_unequal_length_or_one_name_are_refused() {
        let columns = [
            DenseColumn { name: "id", values: DenseValues::Text(&["a", "b"]) },
            DenseColumn { name: "x", values: DenseValues::Float64(&[1.0]) },
        ];
        let error = write_dense(&columns, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("column 'x' has 1 values where the first has 2"), "{error}");
        let columns = [
            DenseColumn { name: "x", values: DenseValues::Text(&["a"]) },
            DenseColumn { name: "x", values: DenseValues::Float64(&[1.0]) },
        ];
        let error = write_dense(&columns, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("two columns are named 'x'"), "{error}");
    }

    #[test]
    fn other_types_are_left_to_polars() {
        let df = DataFrame::new(1, vec![Column::new("u".into(), [1u32])]).unwrap();
        assert!(!supports(&df));
        let error = write(&df, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("column 'u'"), "{error}");
    }
}
