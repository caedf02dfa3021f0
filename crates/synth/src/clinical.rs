//! Writes the clinical table: the TCIA CSV layout, one row per patient, values spelled as the
//! real file spells them.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::SynthError;
use crate::cohort::{Gender, PackYears, Patient, Recurrence, Smoking, Treatment, Weight};
use crate::vocab::{self, CHECKED, CLINICAL_HEADER, NOT_APPLICABLE, NOT_COLLECTED, UNCHECKED};

fn yes_no(value: bool) -> &'static str {
    if value { "Yes" } else { "No" }
}

/// "152.145": kilograms converted at 2.205 lb/kg, computed in thousandths of a pound so the
/// decimals are exact, printed without trailing zeros as the real file does.
fn format_weight(weight: Weight) -> String {
    match weight {
        Weight::Pounds(pounds) => pounds.to_string(),
        Weight::NotCollected => NOT_COLLECTED.to_string(),
        Weight::Kilograms(kilograms) => {
            let thousandths = u64::from(kilograms) * 2205;
            let text = format!("{}.{:03}", thousandths / 1000, thousandths % 1000);
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

/// The 40 fields of one patient's row, in `CLINICAL_HEADER` order.
pub fn clinical_row(patient: &Patient) -> Vec<String> {
    let r = &patient.record;
    let pathology = |value: &str| if r.pathology_collected { value.to_string() } else { NOT_COLLECTED.to_string() };
    let mut row: Vec<String> = Vec::with_capacity(CLINICAL_HEADER.len());
    row.push(patient.id.clone());
    row.push(r.affiliation.into());
    row.push(r.age.to_string());
    row.push(format_weight(r.weight));
    row.push(match r.gender {
        Gender::Male => "Male".into(),
        Gender::Female => "Female".into(),
    });
    row.push(r.ethnicity.into());
    row.push(
        match r.smoking {
            Smoking::Current => "Current",
            Smoking::Former => "Former",
            Smoking::Nonsmoker => "Nonsmoker",
        }
        .into(),
    );
    row.push(match r.pack_years {
        PackYears::Value(years) => years.to_string(),
        PackYears::NotApplicable => NOT_APPLICABLE.into(),
        PackYears::NotCollected => NOT_COLLECTED.into(),
    });
    row.push(r.quit_year.map_or_else(|| NOT_APPLICABLE.to_string(), |year| year.to_string()));
    row.push(r.ground_glass.into());
    for index in 0..vocab::LOCATIONS.len() {
        row.push(if index == r.location { CHECKED } else { UNCHECKED }.into());
    }
    row.push(UNCHECKED.into()); // Tumor Location (choice=Unknown)
    row.push(r.histology.into());
    row.push(pathology(vocab::T_STAGES[r.t_stage]));
    row.push(pathology(vocab::N_STAGES[r.n_stage]));
    row.push(pathology(vocab::M_STAGES[r.m_stage]));
    row.push(pathology(vocab::GRADES[r.grade]));
    row.push(r.lymphovascular.into());
    row.push(r.pleural.into());
    row.push(r.egfr.into());
    row.push(r.kras.into());
    row.push(r.alk.into());
    match r.treatment {
        Treatment::NotCollected => row.extend([NOT_COLLECTED.to_string(), NOT_COLLECTED.into(), NOT_COLLECTED.into()]),
        Treatment::Given { adjuvant, radiation } => {
            // Adjuvant treatment in this cohort is chemotherapy, so the two columns agree.
            row.extend([yes_no(adjuvant).to_string(), yes_no(adjuvant).into(), yes_no(radiation).into()]);
        }
    }
    match r.recurrence {
        Recurrence::NotCollected => {
            row.extend([vocab::NOT_COLLECTED_LOWER.to_string(), NOT_APPLICABLE.into(), NOT_APPLICABLE.into()])
        }
        Recurrence::No => row.extend(["no".to_string(), NOT_APPLICABLE.into(), NOT_APPLICABLE.into()]),
        Recurrence::Yes { location, date } => row.extend(["yes".to_string(), location.into(), date.to_string()]),
    }
    row.push(r.last_known_alive.to_string());
    row.push(if patient.dead { "Dead" } else { "Alive" }.into());
    match r.death {
        Some(death) => {
            row.push(death.to_string());
            row.push(death.days_since(r.surgery_date()).to_string());
        }
        None => row.extend([NOT_APPLICABLE.to_string(), NOT_APPLICABLE.into()]),
    }
    row.push(r.ct_date.to_string());
    row.push(r.days_ct_to_surgery.to_string());
    row.push(r.pet_date.map_or_else(|| NOT_COLLECTED.to_string(), |date| date.to_string()));
    debug_assert_eq!(row.len(), CLINICAL_HEADER.len());
    row
}

/// Writes the CSV: comma-separated, fields quoted only when they hold a comma, `\n` line ends,
/// like the real file.
pub fn write_clinical(patients: &[Patient], path: &Path) -> Result<(), SynthError> {
    let file = File::create(path).map_err(|e| SynthError::io(path, e))?;
    let mut writer =
        csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(BufWriter::new(file));
    let csv_error = |source: csv::Error| SynthError::Csv { path: path.to_path_buf(), source };
    writer.write_record(CLINICAL_HEADER).map_err(csv_error)?;
    for patient in patients {
        writer.write_record(clinical_row(patient)).map_err(csv_error)?;
    }
    let inner = writer.into_inner().map_err(|e| SynthError::io(path, e.into_error()))?;
    crate::finish(inner, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_print_like_the_real_file() {
        assert_eq!(format_weight(Weight::Kilograms(69)), "152.145");
        assert_eq!(format_weight(Weight::Kilograms(100)), "220.5");
        assert_eq!(format_weight(Weight::Kilograms(60)), "132.3");
        assert_eq!(format_weight(Weight::Kilograms(200)), "441");
        assert_eq!(format_weight(Weight::Pounds(176)), "176");
        assert_eq!(format_weight(Weight::NotCollected), "Not Collected");
    }
}
