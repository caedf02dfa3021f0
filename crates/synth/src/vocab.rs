//! Column names and value spellings of the TCIA NSCLC Radiogenomics clinical table
//! (`NSCLCR01Radiogenomic_DATA_LABELS_2018-05-22_1500-shifted.csv`, 211 rows, 40 columns).
//!
//! They are copied exactly, oddities included: `Histology ` ends with a space, and missing values
//! are spelled "Not Collected" in some columns and "Not collected" in others. Downstream nodes
//! that work on the real file must work on ours unchanged, so a "fix" here would be a bug.

/// The 40 headers in file order. The first is `Case ID` as in TCIA's original file (the copy in
/// shared/data says `Patient ID`; readers accept both).
pub const CLINICAL_HEADER: [&str; 40] = [
    "Case ID",
    "Patient affiliation",
    "Age at Histological Diagnosis",
    "Weight (lbs)",
    "Gender",
    "Ethnicity",
    "Smoking status",
    "Pack Years",
    "Quit Smoking Year",
    "%GG",
    "Tumor Location (choice=RUL)",
    "Tumor Location (choice=RML)",
    "Tumor Location (choice=RLL)",
    "Tumor Location (choice=LUL)",
    "Tumor Location (choice=LLL)",
    "Tumor Location (choice=L Lingula)",
    "Tumor Location (choice=Unknown)",
    "Histology ",
    "Pathological T stage",
    "Pathological N stage",
    "Pathological M stage",
    "Histopathological Grade",
    "Lymphovascular invasion",
    "Pleural invasion (elastic, visceral, or parietal)",
    "EGFR mutation status",
    "KRAS mutation status",
    "ALK translocation status",
    "Adjuvant Treatment",
    "Chemotherapy",
    "Radiation",
    "Recurrence",
    "Recurrence Location",
    "Date of Recurrence",
    "Date of Last Known Alive",
    "Survival Status",
    "Date of Death",
    "Time to Death (days)",
    "CT Date",
    "Days between CT and surgery",
    "PET Date",
];

/// Missing, capital C: Weight, Pack Years, stages, grade, lymphovascular invasion, treatments,
/// PET Date.
pub const NOT_COLLECTED: &str = "Not Collected";
/// Missing, small c: pleural invasion, the mutation statuses, Recurrence.
pub const NOT_COLLECTED_LOWER: &str = "Not collected";
/// Not applicable: Pack Years of nonsmokers, Quit Smoking Year of non-quitters, recurrence and
/// death fields of patients without that event.
pub const NOT_APPLICABLE: &str = "N/A";
pub const UNKNOWN: &str = "Unknown";
pub const CHECKED: &str = "Checked";
pub const UNCHECKED: &str = "Unchecked";

/// The tumour-location checkboxes, in header order (the `Unknown` box is never checked in the
/// real file and so never here).
pub const LOCATIONS: [&str; 6] = ["RUL", "RML", "RLL", "LUL", "LLL", "L Lingula"];

/// Pathological stages, least to most advanced.
pub const T_STAGES: [&str; 7] = ["Tis", "T1a", "T1b", "T2a", "T2b", "T3", "T4"];
pub const N_STAGES: [&str; 3] = ["N0", "N1", "N2"];
pub const M_STAGES: [&str; 3] = ["M0", "M1a", "M1b"];

/// Histopathological grades, best to worst differentiated.
pub const GRADES: [&str; 5] = [
    "G1 Well differentiated",
    "Other, Type I: Well to moderately differentiated",
    "G2 Moderately differentiated",
    "Other, Type II: Moderately to poorly differentiated",
    "G3 Poorly differentiated",
];

pub const ADENOCARCINOMA: &str = "Adenocarcinoma";
pub const SQUAMOUS: &str = "Squamous cell carcinoma";
pub const NSCLC_NOS: &str = "NSCLC NOS (not otherwise specified)";

pub const WILDTYPE: &str = "Wildtype";
pub const MUTANT: &str = "Mutant";
pub const TRANSLOCATED: &str = "Translocated";
