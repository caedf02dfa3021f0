//! GEO-style expression tables (genes as rows, one column per case) to one row per case with
//! a gene panel as columns.
//!
//! GSE103584's table has 22,126 genes x 130 R01 cases: first column the gene symbol, then one
//! column per case id, `NaN` where a value is missing. Only panel rows are parsed, so a 22k-row
//! table costs one pass of splitting lines.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::{Column, DataFrame};

use crate::io::{csv_error, header_and_rows};
use crate::{PrepError, suggest};

/// The seed's panel: the 21 genes of Zhou et al. 2018's metagenes.
pub const SEED_PANEL: [&str; 21] = [
    "LRIG1", "HPGD", "GDF15", "CDH2", "POSTN", "VCAN", "PDGFRA", "VCAM1", "CD44", "CD48", "CD4", "LYL1", "SPI1",
    "CD37", "VIM", "LMO2", "EGR2", "BGN", "COL4A1", "COL5A1", "COL5A2",
];

/// Cell spellings that mean "no value" in GEO tables.
const MISSING: [&str; 7] = ["", "NaN", "nan", "NA", "N/A", "null", "NULL"];

/// What a missing expression value becomes.
#[derive(Clone, Debug, PartialEq)]
pub enum Missing {
    /// The seed's choice: not measured counts as not expressed.
    Zero,
    /// Kept as a null for a later imputation step.
    Null,
    Value(f64),
}

#[derive(Clone, Debug)]
pub struct GenomicOptions {
    pub panel: Vec<String>,
    pub missing: Missing,
    /// Apply log2(x + 1) (for raw counts or FPKM; GSE103584's table is not log-scaled).
    pub log2p1: bool,
    /// Name of the key column in the output.
    pub id_column: String,
}

impl Default for GenomicOptions {
    fn default() -> GenomicOptions {
        GenomicOptions {
            panel: SEED_PANEL.iter().map(|g| g.to_string()).collect(),
            missing: Missing::Zero,
            log2p1: false,
            id_column: "case_id".to_string(),
        }
    }
}

/// Reads an expression table and returns `id_column` + one Float64 column per panel gene, one
/// row per case, in the table's column order.
///
/// What is checked, and why no more: case columns must have distinct, non-empty ids; every
/// row must have as many fields as the header; panel genes must each appear on exactly one row,
/// whose cells are finite numbers or a missing-value spelling (`NaN`, empty, `NA`...: missing
/// by design, filled as `options.missing` says). Rows of other genes are not parsed: GEO tables
/// repeat symbols for several probes and carry annotation rows, none of which the panel reads.
pub fn preprocess_genomic(path: &Path, options: &GenomicOptions) -> Result<DataFrame, PrepError> {
    let (header, records) = header_and_rows(path)?;
    let cases: Vec<String> = header.iter().skip(1).map(|c| c.trim().to_string()).collect();
    if cases.is_empty() {
        return Err(PrepError::Parse {
            file: path.to_path_buf(),
            line: 1,
            message: "no case columns: expected a gene column followed by one column per case".into(),
        });
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, case) in cases.iter().enumerate() {
        if case.is_empty() {
            return Err(PrepError::Parse {
                file: path.to_path_buf(),
                line: 1,
                message: format!("column {} has an empty case id", i + 2),
            });
        }
        if let Some(first) = seen.insert(case, i) {
            return Err(PrepError::DuplicateId {
                file: path.to_path_buf(),
                id: case.clone(),
                first: first + 2,
                second: i + 2,
            });
        }
    }

    let wanted: HashMap<&str, usize> = options.panel.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
    let mut values: Vec<Option<Vec<Option<f64>>>> = vec![None; options.panel.len()];
    let mut found_at: Vec<u64> = vec![0; options.panel.len()];
    let mut all_genes: Vec<String> = Vec::new();
    let mut gene_rows = 0usize;
    for row in records {
        let row = row.map_err(|e| csv_error(path, e))?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        gene_rows += 1;
        let gene = row.get(0).unwrap_or("").trim();
        let Some(&slot) = wanted.get(gene) else {
            if all_genes.len() < 100_000 {
                all_genes.push(gene.to_string());
            }
            continue;
        };
        if values[slot].is_some() {
            return Err(PrepError::Parse {
                file: path.to_path_buf(),
                line,
                message: format!(
                    "gene {gene} appears twice (also on line {}); the panel needs one row per gene",
                    found_at[slot]
                ),
            });
        }
        let mut parsed = Vec::with_capacity(cases.len());
        for (i, cell) in row.iter().skip(1).enumerate() {
            let cell = cell.trim();
            let value = if MISSING.contains(&cell) {
                None
            } else {
                // An infinite value is no measurement (often the log of 0): refused, not
                // silently made missing.
                let number = cell.parse::<f64>().ok().filter(|v| v.is_finite());
                Some(number.ok_or_else(|| PrepError::NonNumeric {
                    file: path.to_path_buf(),
                    line,
                    row: gene.to_string(),
                    column: cases[i].clone(),
                    value: cell.to_string(),
                })?)
            };
            parsed.push(value);
        }
        values[slot] = Some(parsed);
        found_at[slot] = line;
    }

    if gene_rows == 0 {
        return Err(PrepError::Parse {
            file: path.to_path_buf(),
            line: 2,
            message: "the table has a header but no gene rows: expected one row per gene".into(),
        });
    }
    let missing: Vec<String> =
        options.panel.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(g, _)| g.clone()).collect();
    if !missing.is_empty() {
        let hints: Vec<String> =
            missing.iter().filter_map(|g| suggest(g, &all_genes).map(|s| format!("{g} -> {s}?"))).collect();
        return Err(PrepError::PanelGenesMissing { file: path.to_path_buf(), genes: missing, hints });
    }

    let mut columns = Vec::with_capacity(options.panel.len() + 1);
    columns.push(Column::new(options.id_column.as_str().into(), &cases));
    for (gene, gene_values) in options.panel.iter().zip(values) {
        let gene_values = gene_values.unwrap_or_default();
        let mut out: Vec<Option<f64>> = Vec::with_capacity(gene_values.len());
        for (i, value) in gene_values.into_iter().enumerate() {
            let value = match (value, &options.missing) {
                (Some(v), _) => Some(v),
                (None, Missing::Zero) => Some(0.0),
                (None, Missing::Value(v)) => Some(*v),
                (None, Missing::Null) => None,
            };
            let value = match value {
                Some(v) if options.log2p1 => {
                    if v <= -1.0 {
                        return Err(PrepError::Value {
                            file: path.to_path_buf(),
                            message: format!(
                                "log2(x+1) of {v} (gene {gene}, case {}) is undefined; turn off log2p1 or fix the value",
                                cases[i]
                            ),
                        });
                    }
                    Some((v + 1.0).log2())
                }
                other => other,
            };
            out.push(value);
        }
        columns.push(Column::new(gene.as_str().into(), out));
    }
    DataFrame::new(cases.len(), columns).map_err(|e| PrepError::Table(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::DataType;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn options(panel: &[&str]) -> GenomicOptions {
        GenomicOptions { panel: panel.iter().map(|g| g.to_string()).collect(), ..GenomicOptions::default() }
    }

    #[test]
    fn transposes_selects_panel_and_fills_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "expr.tsv", "gene\tR01-001\tR01-002\nVIM\t1.5\tNaN\nXYZ\tbad\t1\nCD44\t3\t7\n");
        let df = preprocess_genomic(&path, &options(&["CD44", "VIM"])).unwrap();
        assert_eq!(crate::test_util::names(&df), vec!["case_id", "CD44", "VIM"]);
        assert_eq!(df.height(), 2);
        let vim: Vec<Option<f64>> = crate::test_util::f64s(&df, "VIM");
        assert_eq!(vim, vec![Some(1.5), Some(0.0)], "NaN becomes 0 as in the seed; non-panel junk is not read");
        let cd44 = df.column("CD44").unwrap();
        assert_eq!(cd44.dtype(), &DataType::Float64);
    }

    #[test]
    fn log2p1_and_null_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "expr.csv", "gene,A,B\nVIM,3,\n");
        let mut o = options(&["VIM"]);
        o.log2p1 = true;
        o.missing = Missing::Null;
        let df = preprocess_genomic(&path, &o).unwrap();
        let vim: Vec<Option<f64>> = crate::test_util::f64s(&df, "VIM");
        assert_eq!(vim, vec![Some(2.0), None]);
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("expr.tsv.gz");
        let mut gz =
            flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default());
        gz.write_all(b"gene\tA\nVIM\t2\n").unwrap();
        gz.finish().unwrap();
        let df = preprocess_genomic(&path, &options(&["VIM"])).unwrap();
        assert_eq!(df.height(), 1);
    }

    #[test]
    fn errors_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "e.tsv", "gene\tA\tB\nVIM\t1\tx2\n");
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err().to_string();
        assert!(err.contains("e.tsv:2") && err.contains("VIM") && err.contains("'B'") && err.contains("x2"), "{err}");

        let path = write(dir.path(), "d.tsv", "gene\tA\tA\nVIM\t1\t2\n");
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err().to_string();
        assert!(err.contains("duplicate case id 'A'") && err.contains("columns 2 and 3"), "{err}");

        let path = write(dir.path(), "m.tsv", "gene\tA\nVim\t1\n");
        let err = preprocess_genomic(&path, &options(&["VIM", "CD44"])).unwrap_err().to_string();
        assert!(err.contains("VIM, CD44") && err.contains("VIM -> Vim?"), "{err}");

        let path = write(dir.path(), "r.tsv", "gene\tA\tB\nVIM\t1\n");
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err().to_string();
        assert!(err.contains("r.tsv:2") && err.contains("2 fields where the header has 3"), "{err}");
    }

    #[test]
    fn empty_tables_infinite_values_and_damaged_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "h.tsv", "gene\tA\tB\n");
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err();
        assert!(
            err.is_bad_data() && err.to_string().contains("h.tsv:2") && err.to_string().contains("no gene rows"),
            "{err}"
        );

        let path = write(dir.path(), "i.tsv", "gene\tA\tB\nVIM\t1\t-inf\nOTHER\tinf\t1\n");
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err().to_string();
        assert!(err.contains("i.tsv:2") && err.contains("'-inf' is not a finite number"), "{err}");
        // Rows outside the panel are not read, so their infinities do not matter.
        let path = write(dir.path(), "o.tsv", "gene\tA\tB\nVIM\t1\t2\nOTHER\tinf\tx\nOTHER\t1\t1\n");
        assert!(preprocess_genomic(&path, &options(&["VIM"])).is_ok());

        let path = write(dir.path(), "dup.tsv", "gene\tA\tB\nVIM\t1\t2\nVIM\t3\t4\n");
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err().to_string();
        assert!(err.contains("dup.tsv:3") && err.contains("gene VIM appears twice (also on line 2)"), "{err}");

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"gene\tA\n").unwrap();
        for i in 0..2000 {
            std::io::Write::write_all(&mut gz, format!("G{i}\t{i}\n").as_bytes()).unwrap();
        }
        let bytes = gz.finish().unwrap();
        let path = dir.path().join("cut.tsv.gz");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = preprocess_genomic(&path, &options(&["VIM"])).unwrap_err();
        assert!(err.is_bad_data(), "{err:?}");
        assert!(
            err.to_string().contains("cut.tsv.gz")
                && err.to_string().contains("ends early or its gzip data is corrupt"),
            "{err}"
        );

        std::fs::write(dir.path().join("latin1.tsv"), b"gene\tA\nVIM\t1\n\xe9t\xe9\t2\n").unwrap();
        let err = preprocess_genomic(&dir.path().join("latin1.tsv"), &options(&["VIM"])).unwrap_err().to_string();
        assert!(err.contains("latin1.tsv:3") && err.contains("not valid UTF-8"), "{err}");
    }
}
