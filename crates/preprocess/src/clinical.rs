//! The TCIA clinical table to model features: row filter, leak columns dropped, numerics
//! parsed with explicit missing-value handling, categoricals one-hot encoded, identifiers in
//! snake_case, and a 0/1 label.
//!
//! With the defaults (the seed's choices) the real NSCLC Radiogenomics table gives 147 R01
//! patients with 4 numeric and 83 one-hot columns: 87 features, as in the seed.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use polars::prelude::{Column, DataFrame};

use crate::io::{csv_error, header_and_rows};
use crate::names::snake_case;
use crate::{PrepError, suggest};

/// Spellings of "no value" in the TCIA table, for numeric columns ("NaN" is how pandas and R
/// write one).
const MISSING: [&str; 8] = ["", "Not Collected", "Not collected", "NA", "N/A", "Unknown", "NaN", "nan"];

/// What to do with a row whose numeric value is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumericMissing {
    /// The seed's choice: keep only patients with every numeric measured.
    DropRow,
    Median,
    Mean,
}

#[derive(Clone, Debug)]
pub struct ClinicalOptions {
    /// Accepted spellings of the id column, first match wins ("Case ID" in TCIA's original,
    /// "Patient ID" in some copies).
    pub id_columns: Vec<String>,
    /// Name of the id column in the output.
    pub id_output: String,
    /// Rows whose id starts with one of these are dropped (the seed kept R01 only).
    pub drop_id_prefixes: Vec<String>,
    /// snake_case name of the label column; its positive value becomes 1, the negative 0.
    pub label: String,
    pub positive: String,
    pub negative: String,
    /// snake_case names of columns not to use: by default the ones that leak the label
    /// (dates, time to death) and the quit year (a date in disguise).
    pub drop_columns: Vec<String>,
    /// snake_case names of numeric columns; every other column is one-hot encoded.
    pub numeric: Vec<String>,
    /// Numeric columns where "N/A" means zero (pack years of a nonsmoker).
    pub not_applicable_zero: Vec<String>,
    pub missing: NumericMissing,
}

impl Default for ClinicalOptions {
    fn default() -> ClinicalOptions {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ClinicalOptions {
            id_columns: strings(&["Case ID", "Patient ID"]),
            id_output: "case_id".into(),
            drop_id_prefixes: strings(&["AMC"]),
            label: "survival_status".into(),
            positive: "Dead".into(),
            negative: "Alive".into(),
            drop_columns: strings(&[
                "quit_smoking_year",
                "date_of_recurrence",
                "date_of_last_known_alive",
                "date_of_death",
                "time_to_death_days",
                "ct_date",
                "pet_date",
            ]),
            numeric: strings(&[
                "age_at_histological_diagnosis",
                "weight_lbs",
                "pack_years",
                "days_between_ct_and_surgery",
            ]),
            not_applicable_zero: strings(&["pack_years"]),
            missing: NumericMissing::DropRow,
        }
    }
}

/// Counts for the node log and the verification table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClinicalReport {
    pub rows_read: usize,
    pub dropped_by_prefix: usize,
    pub dropped_missing: usize,
    pub imputed_cells: usize,
    pub rows_out: usize,
    pub numeric_features: usize,
    pub one_hot_features: usize,
}

enum Role {
    Id,
    Label,
    Dropped,
    Numeric { na_zero: bool },
    Categorical,
}

/// Reads the clinical table, checks every row, then filters, encodes and labels.
///
/// Every row is checked before any filter applies, so a file is accepted or refused whatever
/// the filters keep: ids must be present and unique, labels must be `positive` or `negative`,
/// numeric cells must be finite numbers or a missing-value spelling. A table whose filters
/// leave no patient is an error that says how many rows each filter removed.
pub fn preprocess_clinical(path: &Path, options: &ClinicalOptions) -> Result<(DataFrame, ClinicalReport), PrepError> {
    let (header, records) = header_and_rows(path)?;
    let raw_names: Vec<String> = header.iter().map(str::to_string).collect();
    let names: Vec<String> = raw_names.iter().map(|n| snake_case(n)).collect();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = by_name.insert(name, i) {
            return Err(PrepError::Parse {
                file: path.to_path_buf(),
                line: 1,
                message: format!("columns '{}' and '{}' both become '{name}'", raw_names[first], raw_names[i]),
            });
        }
    }

    let id_index =
        options.id_columns.iter().find_map(|c| raw_names.iter().position(|n| n.trim() == c.trim())).ok_or_else(
            || PrepError::MissingColumns {
                file: path.to_path_buf(),
                what: format!("an id column ({})", options.id_columns.join(" or ")),
                columns: vec![],
                header: raw_names.clone(),
            },
        )?;
    let check = |what: &str, wanted: &[String]| -> Result<(), PrepError> {
        let unknown: Vec<String> = wanted
            .iter()
            .filter(|w| !by_name.contains_key(w.as_str()))
            .map(|w| match suggest(w, &names) {
                Some(s) => format!("{w} (did you mean {s}?)"),
                None => w.clone(),
            })
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(PrepError::MissingColumns {
                file: path.to_path_buf(),
                what: what.into(),
                columns: unknown,
                header: names.clone(),
            })
        }
    };
    check("label column", std::slice::from_ref(&options.label))?;
    check("columns to drop", &options.drop_columns)?;
    check("numeric columns", &options.numeric)?;
    check("not_applicable_zero columns", &options.not_applicable_zero)?;

    let roles: Vec<Role> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if i == id_index {
                Role::Id
            } else if *name == options.label {
                Role::Label
            } else if options.drop_columns.contains(name) {
                Role::Dropped
            } else if options.numeric.contains(name) {
                Role::Numeric { na_zero: options.not_applicable_zero.contains(name) }
            } else {
                Role::Categorical
            }
        })
        .collect();

    let mut report = ClinicalReport::default();
    let mut ids: Vec<String> = Vec::new();
    let mut labels: Vec<i64> = Vec::new();
    let mut numerics: Vec<Vec<Option<f64>>> = Vec::new();
    let mut categories: Vec<Vec<String>> = Vec::new();
    let mut seen_ids: HashMap<String, u64> = HashMap::new();
    // Numeric columns' missing cells among the rows the id filter kept, for the message when
    // dropping rows with a missing value leaves nobody.
    let mut missing_per_column: Vec<usize> = Vec::new();
    for row in records {
        let row = row.map_err(|e| csv_error(path, e))?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        report.rows_read += 1;
        let id = row.get(id_index).unwrap_or("").trim().to_string();
        if id.is_empty() {
            return Err(PrepError::Parse {
                file: path.to_path_buf(),
                line,
                message: format!("empty {}", raw_names[id_index]),
            });
        }
        if let Some(first) = seen_ids.insert(id.clone(), line) {
            return Err(PrepError::Parse {
                file: path.to_path_buf(),
                line,
                message: format!("case id {id} also appears on line {first}"),
            });
        }
        let mut row_numeric = Vec::new();
        let mut row_categories = Vec::new();
        let mut label = None;
        for (i, role) in roles.iter().enumerate() {
            let cell = row.get(i).unwrap_or("").trim();
            match role {
                Role::Id | Role::Dropped => {}
                Role::Label => {
                    label = Some(if cell == options.positive {
                        1
                    } else if cell == options.negative {
                        0
                    } else {
                        return Err(PrepError::Parse {
                            file: path.to_path_buf(),
                            line,
                            message: format!(
                                "label '{}' is '{cell}', expected '{}' or '{}'",
                                raw_names[i].trim(),
                                options.positive,
                                options.negative
                            ),
                        });
                    });
                }
                Role::Numeric { na_zero } => {
                    let value = if *na_zero && cell == "N/A" {
                        Some(0.0)
                    } else if MISSING.contains(&cell) {
                        None
                    } else {
                        let number = cell.parse::<f64>().ok().filter(|v| v.is_finite());
                        Some(number.ok_or_else(|| PrepError::NonNumeric {
                            file: path.to_path_buf(),
                            line,
                            row: id.clone(),
                            column: raw_names[i].trim().to_string(),
                            value: cell.to_string(),
                        })?)
                    };
                    row_numeric.push(value);
                }
                Role::Categorical => row_categories.push(cell.to_string()),
            }
        }
        if options.drop_id_prefixes.iter().any(|p| id.starts_with(p.as_str())) {
            report.dropped_by_prefix += 1;
            continue;
        }
        missing_per_column.resize(row_numeric.len(), 0);
        for (count, value) in missing_per_column.iter_mut().zip(&row_numeric) {
            *count += usize::from(value.is_none());
        }
        if options.missing == NumericMissing::DropRow && row_numeric.iter().any(Option::is_none) {
            report.dropped_missing += 1;
            continue;
        }
        ids.push(id);
        labels.push(label.unwrap_or(0));
        numerics.push(row_numeric);
        categories.push(row_categories);
    }
    if report.rows_read == 0 {
        return Err(PrepError::Parse {
            file: path.to_path_buf(),
            line: 2,
            message: "the table has a header but no rows: there is no patient to preprocess".into(),
        });
    }
    if ids.is_empty() {
        let numeric_columns: Vec<&String> =
            names.iter().zip(&roles).filter(|(_, r)| matches!(r, Role::Numeric { .. })).map(|(n, _)| n).collect();
        let missing: Vec<String> = numeric_columns
            .iter()
            .zip(&missing_per_column)
            .filter(|(_, count)| **count > 0)
            .map(|(name, count)| format!("{name} in {count}"))
            .collect();
        let mut removed = vec![format!(
            "drop_id_prefixes [{}] removed {}",
            options.drop_id_prefixes.join(", "),
            report.dropped_by_prefix
        )];
        if options.missing == NumericMissing::DropRow {
            let missing = if missing.is_empty() { "none".to_string() } else { missing.join(", ") };
            removed.push(format!(
                "missing: drop_row removed {} (rows with a missing value per column: {missing})",
                report.dropped_missing
            ));
        }
        return Err(PrepError::Value {
            file: path.to_path_buf(),
            message: format!(
                "no patient is left: of {} rows, {}; keep more rows with other drop_id_prefixes{}",
                report.rows_read,
                removed.join(", and "),
                if options.missing == NumericMissing::DropRow { ", or set missing to median or mean" } else { "" },
            ),
        });
    }

    report.rows_out = ids.len();

    let numeric_names: Vec<&String> =
        names.iter().zip(&roles).filter(|(_, r)| matches!(r, Role::Numeric { .. })).map(|(n, _)| n).collect();
    let categorical_names: Vec<&String> =
        names.iter().zip(&roles).filter(|(_, r)| matches!(r, Role::Categorical)).map(|(n, _)| n).collect();

    let height = ids.len();
    let mut columns = vec![Column::new(options.id_output.as_str().into(), &ids)];
    let mut taken: BTreeSet<String> = BTreeSet::from([options.id_output.clone(), options.label.clone()]);
    for (j, name) in numeric_names.iter().enumerate() {
        let mut values: Vec<Option<f64>> = numerics.iter().map(|r| r[j]).collect();
        let known: Vec<f64> = values.iter().flatten().copied().collect();
        let fill = match options.missing {
            NumericMissing::DropRow => None,
            NumericMissing::Mean => (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64),
            NumericMissing::Median => median(known),
        };
        if let Some(fill) = fill {
            for v in values.iter_mut().filter(|v| v.is_none()) {
                *v = Some(fill);
                report.imputed_cells += 1;
            }
        }
        taken.insert((*name).clone());
        columns.push(Column::new(name.as_str().into(), values));
    }
    report.numeric_features = numeric_names.len();
    for (j, name) in categorical_names.iter().enumerate() {
        let values: BTreeSet<&str> = categories.iter().map(|r| r[j].as_str()).collect();
        for value in values {
            let suffix = match snake_case(value) {
                s if s.is_empty() => "blank".to_string(),
                s => s,
            };
            let mut column_name = format!("{name}_{suffix}");
            let mut n = 2;
            while taken.contains(&column_name) {
                column_name = format!("{name}_{suffix}_{n}");
                n += 1;
            }
            taken.insert(column_name.clone());
            let indicator: Vec<f64> = categories.iter().map(|r| f64::from(u8::from(r[j] == value))).collect();
            columns.push(Column::new(column_name.as_str().into(), indicator));
            report.one_hot_features += 1;
        }
    }
    columns.push(Column::new(options.label.as_str().into(), &labels));
    let df = DataFrame::new(height, columns).map_err(|e| PrepError::Table(e.to_string()))?;
    Ok((df, report))
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Case ID,Weight (lbs),Pack Years,Smoking status,Histology ,Survival Status,Time to Death (days)";

    fn options() -> ClinicalOptions {
        ClinicalOptions {
            drop_columns: vec!["time_to_death_days".into()],
            numeric: vec!["weight_lbs".into(), "pack_years".into()],
            ..ClinicalOptions::default()
        }
    }

    fn run(rows: &[&str], options: &ClinicalOptions) -> Result<(DataFrame, ClinicalReport), PrepError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clinical.csv");
        std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
        preprocess_clinical(&path, options)
    }

    #[test]
    fn seed_choices_filter_encode_and_label() {
        let (df, report) = run(
            &[
                "R01-001,150,N/A,Nonsmoker,Adenocarcinoma,Alive,N/A",
                "R01-002,Not Collected,20,Current,Adenocarcinoma,Dead,300",
                "AMC-001,140,10,Former,Squamous cell carcinoma,Dead,100",
                "R01-003,180.5,40,Former,Squamous cell carcinoma,Dead,500",
            ],
            &options(),
        )
        .unwrap();
        assert_eq!(
            crate::test_util::names(&df),
            vec![
                "case_id",
                "weight_lbs",
                "pack_years",
                "smoking_status_former",
                "smoking_status_nonsmoker",
                "histology_adenocarcinoma",
                "histology_squamous_cell_carcinoma",
                "survival_status"
            ]
        );
        assert_eq!(
            report,
            ClinicalReport {
                rows_read: 4,
                dropped_by_prefix: 1,
                dropped_missing: 1,
                imputed_cells: 0,
                rows_out: 2,
                numeric_features: 2,
                one_hot_features: 4
            }
        );
        let packs: Vec<Option<f64>> = crate::test_util::f64s(&df, "pack_years");
        assert_eq!(packs, vec![Some(0.0), Some(40.0)], "N/A pack years of a nonsmoker are zero");
        let label: Vec<Option<i64>> = crate::test_util::i64s(&df, "survival_status");
        assert_eq!(label, vec![Some(0), Some(1)]);
    }

    #[test]
    fn median_imputation_keeps_rows() {
        let mut o = options();
        o.missing = NumericMissing::Median;
        let (df, report) = run(
            &[
                "R01-001,100,1,Current,Adenocarcinoma,Alive,N/A",
                "R01-002,Not Collected,2,Current,Adenocarcinoma,Alive,N/A",
                "R01-003,200,3,Current,Adenocarcinoma,Dead,5",
            ],
            &o,
        )
        .unwrap();
        assert_eq!((report.rows_out, report.imputed_cells), (3, 1));
        let w: Vec<Option<f64>> = crate::test_util::f64s(&df, "weight_lbs");
        assert_eq!(w, vec![Some(100.0), Some(150.0), Some(200.0)]);
    }

    #[test]
    fn patient_id_header_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(
            &path,
            format!("{}\nR01-9,1,2,Current,Adenocarcinoma,Alive,N/A\n", HEADER.replace("Case ID", "Patient ID")),
        )
        .unwrap();
        let (df, _) = preprocess_clinical(&path, &options()).unwrap();
        assert_eq!(df.height(), 1);
    }

    #[test]
    fn errors_name_line_column_and_fix() {
        let err = run(&["R01-001,heavy,1,Current,Adenocarcinoma,Alive,N/A"], &options()).unwrap_err().to_string();
        assert!(err.contains(":2:") && err.contains("'Weight (lbs)'") && err.contains("heavy"), "{err}");
        let err = run(&["R01-001,1,1,Current,Adenocarcinoma,Unknown,N/A"], &options()).unwrap_err().to_string();
        assert!(err.contains("label 'Survival Status' is 'Unknown'"), "{err}");
        let mut o = options();
        o.numeric.push("wieght_lbs".into());
        let err = run(&["R01-001,1,1,Current,Adenocarcinoma,Alive,N/A"], &o).unwrap_err().to_string();
        assert!(err.contains("wieght_lbs (did you mean weight_lbs?)"), "{err}");
    }

    #[test]
    fn rows_that_a_filter_drops_are_still_checked() {
        let amc = |rest: &str| format!("AMC-001,{rest}");
        // Duplicate ids, a non-numeric weight, an unknown label, an infinite pack-years value:
        // each only in rows the AMC filter drops, each an error naming its line.
        let cases = [
            (
                vec![amc("150,1,Current,Adenocarcinoma,Alive,N/A"), amc("150,1,Current,Adenocarcinoma,Alive,N/A")],
                ":3:",
                "case id AMC-001 also appears on line 2",
            ),
            (vec![amc("heavy,1,Current,Adenocarcinoma,Alive,N/A")], ":2:", "'heavy' is not a finite number"),
            (vec![amc("150,1,Current,Adenocarcinoma,Maybe,N/A")], ":2:", "label 'Survival Status' is 'Maybe'"),
            (vec![amc("150,inf,Current,Adenocarcinoma,Alive,N/A")], ":2:", "'inf' is not a finite number"),
        ];
        for (rows, line, message) in cases {
            let mut rows: Vec<String> = rows;
            rows.push("R01-001,150,1,Current,Adenocarcinoma,Alive,N/A".into());
            let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
            let err = run(&rows, &options()).unwrap_err();
            assert!(err.is_bad_data(), "{err:?}");
            let err = err.to_string();
            assert!(err.contains(line) && err.contains(message), "{err}");
        }
    }

    #[test]
    fn a_table_with_no_patient_left_says_which_filter_took_them() {
        let err = run(
            &["AMC-001,150,1,Current,Adenocarcinoma,Alive,N/A", "R01-001,,1,Current,Adenocarcinoma,Dead,N/A"],
            &options(),
        )
        .unwrap_err();
        assert!(err.is_bad_data(), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("no patient is left: of 2 rows"), "{err}");
        assert!(err.contains("drop_id_prefixes [AMC] removed 1") && err.contains("drop_row removed 1"), "{err}");
        assert!(err.contains("weight_lbs in 1") && err.contains("set missing to median"), "{err}");

        let mut median = options();
        median.missing = NumericMissing::Median;
        let err = run(&["AMC-001,150,1,Current,Adenocarcinoma,Alive,N/A"], &median).unwrap_err().to_string();
        assert!(err.contains("drop_id_prefixes [AMC] removed 1") && !err.contains("drop_row"), "{err}");

        let err = run(&[], &options()).unwrap_err().to_string();
        assert!(err.contains(":2:") && err.contains("header but no rows"), "{err}");
    }

    #[test]
    fn nan_is_a_missing_value() {
        let (_, report) = run(
            &["R01-001,NaN,1,Current,Adenocarcinoma,Alive,N/A", "R01-002,2,1,Current,Adenocarcinoma,Alive,N/A"],
            &options(),
        )
        .unwrap();
        assert_eq!((report.dropped_missing, report.rows_out), (1, 1));
    }
}
