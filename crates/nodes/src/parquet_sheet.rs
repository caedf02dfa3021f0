//! Parquet samplesheets for `map: { over: PORT, id: COLUMN }`. The engine reads CSV and TSV
//! itself and has no table library; this format is registered beside the built-in kinds.
//! Cells become text as polars writes them (`1.5`, `true`, `2018-05-22`); a null is empty. A
//! row's item is a one-row Parquet file with the sheet's schema, so a node reading its
//! `{in.sheet}` sees the column types of the sheet.

use std::path::Path;

use flow_engine::map::{Sheet, SheetFormat};
use flow_featurestore::offline::write_parquet;
use polars::prelude::{DataFrame, DataType};

pub struct ParquetSheets;

/// Every Parquet file starts (and ends) with these four bytes.
const MAGIC: &[u8] = b"PAR1";

impl SheetFormat for ParquetSheets {
    fn name(&self) -> &str {
        "Parquet"
    }

    fn recognises(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC)
    }

    fn read(&self, path: &Path) -> Result<Box<dyn Sheet>, String> {
        let table = flow_preprocess::io::read_parquet(path).map_err(|e| e.to_string())?;
        let mut rows = vec![Vec::with_capacity(table.width()); table.height()];
        for column in table.columns() {
            let text = column
                .cast(&DataType::String)
                .map_err(|e| format!("column '{}' cannot be read as text: {e}", column.name()))?;
            let text = text.str().map_err(|e| format!("column '{}': {e}", column.name()))?;
            for (row, cell) in rows.iter_mut().zip(text.iter()) {
                row.push(cell.unwrap_or_default().to_string());
            }
        }
        Ok(Box::new(ParquetSheet { table, rows }))
    }
}

struct ParquetSheet {
    table: DataFrame,
    rows: Vec<Vec<String>>,
}

impl Sheet for ParquetSheet {
    fn header(&self) -> Vec<String> {
        self.table.get_column_names().iter().map(|n| n.to_string()).collect()
    }

    fn take_rows(&mut self) -> Vec<Vec<String>> {
        std::mem::take(&mut self.rows)
    }

    fn row_bytes(&self, index: usize) -> Result<Vec<u8>, String> {
        let mut row = self.table.slice(index as i64, 1);
        let mut bytes = Vec::new();
        // The feature store's deterministic writer: the same row, the same bytes.
        write_parquet(&mut row, &mut bytes).map_err(|e| format!("write the row as Parquet: {e}"))?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::df;

    #[test]
    fn cells_read_as_text_and_a_row_is_a_one_row_table_of_the_same_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sheet.parquet");
        let mut table = df!("sample" => ["S1", "S2"], "dose" => [Some(1.5), None], "n" => [3i64, 4]).unwrap();
        flow_preprocess::io::write_parquet(&mut table, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(ParquetSheets.recognises(&bytes) && !ParquetSheets.recognises(b"sample,dose\n"));
        let mut sheet = ParquetSheets.read(&path).unwrap();
        assert_eq!(sheet.header(), ["sample", "dose", "n"]);
        assert_eq!(sheet.take_rows(), [vec!["S1", "1.5", "3"], vec!["S2", "", "4"]]);
        let row_path = dir.path().join("row.parquet");
        std::fs::write(&row_path, sheet.row_bytes(1).unwrap()).unwrap();
        let row = flow_preprocess::io::read_parquet(&row_path).unwrap();
        assert_eq!(row, table.slice(1, 1));
        assert_eq!(sheet.row_bytes(1).unwrap(), sheet.row_bytes(1).unwrap(), "deterministic");
    }

    #[test]
    fn a_file_that_is_not_parquet_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, b"PAR1 but nothing else").unwrap();
        assert!(ParquetSheets.read(&path).is_err());
    }
}
