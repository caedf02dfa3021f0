//! The online store's value encoding: a small header, then the row's cells in schema order as
//! tagged binary values.
//!
//! ```text
//! [format u8 = 1][flags u8][version u64 BE][event-key length u32 BE][event key][cells…]
//! cell: 0 null | 1 false | 2 true | 3 i64 LE | 4 u64 LE | 5 f64 LE | 6 text (u32 LE length + UTF-8)
//! ```
//! Binary rather than JSON because ingestion writes one value per record: for a 200-column
//! row of floats JSON is twice the bytes and most of the ingest time. The header comes first
//! so deciding "is the stored record newer?" reads no cells.

use polars::prelude::*;
use serde_json::Value;

use crate::error::{FsError, Result};

const FORMAT: u8 = 1;
const DELETED: u8 = 1;

/// A column cast once to the few physical types the encoding knows.
pub enum Cells {
    Int(Int64Chunked),
    UInt(UInt64Chunked),
    Float(Float64Chunked),
    Bool(BooleanChunked),
    /// Text, and every other type rendered as text by polars (dates, datetimes, …).
    Text(StringChunked),
}

impl Cells {
    pub fn of(column: &Column) -> Result<Cells> {
        let series = column.as_materialized_series().rechunk();
        let dtype = series.dtype().clone();
        let cast = |to: &DataType| {
            series.cast(to).map_err(|e| FsError::polars(format!("column '{}' as {to}", column.name()), e))
        };
        let wrong = |e: PolarsError| FsError::polars(format!("column '{}'", column.name()), e);
        Ok(if dtype.is_signed_integer() {
            Cells::Int(cast(&DataType::Int64)?.i64().map_err(wrong)?.clone())
        } else if dtype.is_unsigned_integer() {
            Cells::UInt(cast(&DataType::UInt64)?.u64().map_err(wrong)?.clone())
        } else if dtype.is_float() {
            Cells::Float(cast(&DataType::Float64)?.f64().map_err(wrong)?.clone())
        } else if dtype == DataType::Boolean {
            Cells::Bool(series.bool().map_err(wrong)?.clone())
        } else {
            Cells::Text(cast(&DataType::String)?.str().map_err(wrong)?.clone())
        })
    }

    /// Appends the cell of `row` to `out`.
    pub fn push(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            Cells::Int(ca) => tagged(out, ca.get(row).map(|v| (3, v.to_le_bytes()))),
            Cells::UInt(ca) => tagged(out, ca.get(row).map(|v| (4, v.to_le_bytes()))),
            Cells::Float(ca) => tagged(out, ca.get(row).map(|v| (5, v.to_le_bytes()))),
            Cells::Bool(ca) => out.push(match ca.get(row) {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            }),
            Cells::Text(ca) => match ca.get(row) {
                None => out.push(0),
                Some(text) => {
                    out.push(6);
                    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            },
        }
    }
}

fn tagged(out: &mut Vec<u8>, cell: Option<(u8, [u8; 8])>) {
    match cell {
        None => out.push(0),
        Some((tag, bytes)) => {
            out.push(tag);
            out.extend_from_slice(&bytes);
        }
    }
}

/// The header of a value; the cells follow it in the same buffer.
pub fn header(version: u64, deleted: bool, event_key: &[u8], capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + event_key.len() + capacity);
    out.push(FORMAT);
    out.push(if deleted { DELETED } else { 0 });
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(event_key.len() as u32).to_be_bytes());
    out.extend_from_slice(event_key);
    out
}

/// A stored value's header fields and where its cells start.
pub struct Header<'a> {
    pub deleted: bool,
    pub version: u64,
    pub event_key: &'a [u8],
    cells: &'a [u8],
}

fn corrupt(group: &str) -> FsError {
    FsError::online(group, "a stored record is corrupt or from a newer flow")
}

impl Header<'_> {
    /// The encoded cells, byte-comparable with [`Cells::push`] output for the same schema.
    pub fn cells(&self) -> &[u8] {
        self.cells
    }
}

pub fn read_header<'a>(group: &str, bytes: &'a [u8]) -> Result<Header<'a>> {
    let fixed = bytes.get(..14).ok_or_else(|| corrupt(group))?;
    if fixed[0] != FORMAT {
        return Err(corrupt(group));
    }
    let mut version = [0u8; 8];
    version.copy_from_slice(&fixed[2..10]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&fixed[10..14]);
    let len = u32::from_be_bytes(len) as usize;
    let event_key = bytes.get(14..14 + len).ok_or_else(|| corrupt(group))?;
    Ok(Header {
        deleted: fixed[1] & DELETED != 0,
        version: u64::from_be_bytes(version),
        event_key,
        cells: &bytes[14 + len..],
    })
}

/// The cells as JSON values. Non-finite floats become text, as JSON has no NaN.
pub fn read_cells(group: &str, header: &Header<'_>) -> Result<Vec<Value>> {
    let mut rest = header.cells;
    let mut values = Vec::new();
    let take = |rest: &mut &[u8], n: usize| -> Result<Vec<u8>> {
        let bytes = rest.get(..n).ok_or_else(|| corrupt(group))?.to_vec();
        *rest = &rest[n..];
        Ok(bytes)
    };
    let eight = |bytes: Vec<u8>| -> Result<[u8; 8]> { bytes.try_into().map_err(|_| corrupt(group)) };
    while let Some((&tag, tail)) = rest.split_first() {
        rest = tail;
        let value = match tag {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => i64::from_le_bytes(eight(take(&mut rest, 8)?)?).into(),
            4 => u64::from_le_bytes(eight(take(&mut rest, 8)?)?).into(),
            5 => {
                let v = f64::from_le_bytes(eight(take(&mut rest, 8)?)?);
                serde_json::Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number)
            }
            6 => {
                let mut len = [0u8; 4];
                len.copy_from_slice(&take(&mut rest, 4)?);
                let text = take(&mut rest, u32::from_le_bytes(len) as usize)?;
                Value::String(String::from_utf8(text).map_err(|_| corrupt(group))?)
            }
            _ => return Err(corrupt(group)),
        };
        values.push(value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip() {
        let df = df!(
            "i" => [Some(-3i64), None],
            "u" => [7u32, 8],
            "f" => [f64::NAN, 2.5],
            "b" => [Some(true), None],
            "s" => ["ä", ""],
        )
        .unwrap();
        let cells: Vec<Cells> = df.columns().iter().map(|c| Cells::of(c).unwrap()).collect();
        let mut bytes = header(9, false, b"key", 0);
        for c in &cells {
            c.push(0, &mut bytes);
        }
        let head = read_header("g", &bytes).unwrap();
        assert_eq!((head.version, head.deleted, head.event_key), (9, false, &b"key"[..]));
        let values = read_cells("g", &head).unwrap();
        assert_eq!(values, [Value::from(-3), Value::from(7), Value::from("NaN"), Value::Bool(true), Value::from("ä")]);
        assert!(read_header("g", &bytes[..10]).is_err());
    }
}
