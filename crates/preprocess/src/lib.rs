//! Cohort preprocessing: GEO expression tables and TCIA clinical CSVs to feature tables.
//!
//! - [`genomic::preprocess_genomic`]: genes-as-rows expression tables (tsv/csv, optionally
//!   gzipped) to one row per case with a gene panel as columns.
//! - [`clinical::preprocess_clinical`]: the TCIA clinical CSV to numeric and one-hot features
//!   plus a 0/1 label, with the seed's filters as defaults.
//!
//! Both return polars DataFrames; [`io::write_parquet`] writes them byte-deterministically.
//! Errors name the file, the line and the column, and say what to change. This crate knows
//! nothing about the workflow engine.

pub mod clinical;
pub mod genomic;
pub mod io;
pub mod names;
mod small_parquet;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", file.display())]
    Parse { file: PathBuf, line: u64, message: String },
    #[error("{}:{line}: row {row}, column '{column}': '{value}' is not a finite number (leave the cell empty for a missing value)", file.display())]
    NonNumeric { file: PathBuf, line: u64, row: String, column: String, value: String },
    #[error("{}:1: duplicate case id '{id}' in columns {first} and {second}", file.display())]
    DuplicateId { file: PathBuf, id: String, first: usize, second: usize },
    #[error("{}: panel genes not in the table: {}{}; fix the symbols in `panel` or use another table", file.display(), genes.join(", "), hint_text(hints))]
    PanelGenesMissing { file: PathBuf, genes: Vec<String>, hints: Vec<String> },
    #[error("{}: {what} not in the header: {}; the columns are: {}", file.display(), if columns.is_empty() { "none found".to_string() } else { columns.join(", ") }, header.join(", "))]
    MissingColumns { file: PathBuf, what: String, columns: Vec<String>, header: Vec<String> },
    #[error("{}: {message}", file.display())]
    Value { file: PathBuf, message: String },
    /// A Parquet file that cannot be read as a table.
    #[error("{}: not a readable Parquet table: {message}", file.display())]
    Parquet { file: PathBuf, message: String },
    /// Building or writing a table failed: not the input's fault.
    #[error("{0}")]
    Table(String),
}

impl PrepError {
    pub fn io(path: &Path, source: std::io::Error) -> PrepError {
        PrepError::Io { path: path.to_path_buf(), source }
    }

    /// Whether the fix is in the input file (malformed, truncated, inconsistent with the
    /// params, or missing), as opposed to trouble reading or writing it (permissions, a full
    /// disk) or inside the table library.
    pub fn is_bad_data(&self) -> bool {
        match self {
            PrepError::Io { source, .. } => io_error_is_bad_data(source),
            PrepError::Table(_) => false,
            PrepError::Parse { .. }
            | PrepError::NonNumeric { .. }
            | PrepError::DuplicateId { .. }
            | PrepError::PanelGenesMissing { .. }
            | PrepError::MissingColumns { .. }
            | PrepError::Value { .. }
            | PrepError::Parquet { .. } => true,
        }
    }
}

/// An I/O error that says something about the file rather than the machine: it is missing, ends
/// early, or holds bytes that cannot be what it claims to be (a corrupt gzip stream).
pub fn io_error_is_bad_data(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(error.kind(), NotFound | UnexpectedEof | InvalidData | InvalidInput | IsADirectory | NotADirectory)
}

fn hint_text(hints: &[String]) -> String {
    if hints.is_empty() { String::new() } else { format!(" (near misses: {})", hints.join(", ")) }
}

/// A candidate equal to `word` ignoring case, or one edit (or swap) away: the typos and
/// capitalisation slips that column and gene names suffer.
pub fn suggest(word: &str, candidates: &[String]) -> Option<String> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c.clone());
    }
    candidates.iter().find(|c| word.len() > 3 && one_edit_apart(word, c)).cloned()
}

fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (rest_a, rest_b) = (a.len() - prefix - suffix, b.len() - prefix - suffix);
    match (rest_a, rest_b) {
        (1, 1) | (1, 0) | (0, 1) => true,
        // An adjacent swap: "ab" vs "ba".
        (2, 2) => a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix],
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use polars::prelude::DataFrame;

    pub fn names(df: &DataFrame) -> Vec<&str> {
        df.get_column_names().into_iter().map(|s| s.as_str()).collect()
    }

    pub fn f64s(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
        let ca = df.column(name).unwrap().f64().unwrap();
        (0..ca.len()).map(|i| ca.get(i)).collect()
    }

    pub fn i64s(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
        let ca = df.column(name).unwrap().i64().unwrap();
        (0..ca.len()).map(|i| ca.get(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_case_and_single_typos() {
        let names: Vec<String> = ["weight_lbs", "pack_years", "VIM"].iter().map(|s| s.to_string()).collect();
        assert_eq!(suggest("Vim", &names).as_deref(), Some("VIM"));
        assert_eq!(suggest("wieght_lbs", &names).as_deref(), Some("weight_lbs"));
        assert_eq!(suggest("pack_year", &names).as_deref(), Some("pack_years"));
        assert_eq!(suggest("age", &names), None);
    }

    #[test]
    fn trouble_reading_or_writing_is_not_bad_data() {
        let io = |kind| PrepError::io(Path::new("t.csv"), std::io::Error::from(kind));
        assert!(io(std::io::ErrorKind::UnexpectedEof).is_bad_data());
        assert!(!io(std::io::ErrorKind::PermissionDenied).is_bad_data());
        assert!(!PrepError::Table("write failed".into()).is_bad_data());
        assert!(PrepError::Value { file: "t.csv".into(), message: String::new() }.is_bad_data());
    }
}
