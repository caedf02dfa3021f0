//! The generative model: latent factors, clinical records, which modalities each patient has,
//! and the label.
//!
//! Order of work, each step from its own seeded stream (see `rng`):
//! 1. per patient: latent genomic and imaging factors, then the clinical record, some of it
//!    (T and N stage, heterogeneity) correlated with those factors;
//! 2. cohort-wide: who has RNA-seq, collected weight and pack years, and imaging, with counts
//!    fixed so the seed's three-way join keeps 119 of 211 patients as in the real data;
//! 3. one score per modality, standardised over the cohort, and a latent risk = their sum plus
//!    noise (lower for AMC patients, as in the real file); the 30% of the cohort with the
//!    highest risk is Dead (a third of the R01 patients);
//! 4. per patient again: what depends on the outcome (recurrence, follow-up and death dates).
//!
//! docs/synthetic-cohort.md describes the model and the numbers it was fitted to.

use crate::date::Date;
use crate::rng::{Draws, stream};
use crate::vocab::{self, ADENOCARCINOMA, MUTANT, NSCLC_NOS, SQUAMOUS, TRANSLOCATED, UNKNOWN, WILDTYPE};
use crate::{CohortSpec, Site};

/// Weights of the three modality scores in the latent risk, and the noise beside them. Equal
/// weights give each modality the same share, so no single one can match all three together.
pub const RISK_WEIGHTS: [f64; 3] = [1.0, 1.0, 1.0];
pub const RISK_NOISE_SD: f64 = 0.8;
/// Share of the cohort that is Dead: 63 of 211 in the real file (58 of its 162 R01 patients,
/// 5 of its 49 AMC patients).
pub const DEAD_FRACTION: f64 = 63.0 / 211.0;
/// AMC patients died far less often (10% against 36%); this shift of their latent risk gives
/// those rates, so the R01 patients the seed's model sees are a third dead.
pub const AMC_RISK_OFFSET: f64 = -1.8;

/// Who has which modality among 162 R01 patients, as in the real cohort: 130 with RNA-seq, 147
/// with weight and pack years collected, 126 with both, and the seed's join of the three
/// modalities kept 119 (any value from 119 to 130 for "both" gives that join; 126 leaves a few
/// of them without imaging). Groups: joined, both without imaging, RNA-seq only, collected
/// only, neither.
const R01_GROUPS: [u64; 5] = [119, 126 - 119, 130 - 126, 147 - 126, 162 - 130 - (147 - 126)];
const JOINED: usize = 0;
const BOTH_WITHOUT_IMAGING: usize = 1;
const RNA_ONLY: usize = 2;
const COLLECTED_ONLY: usize = 3;
/// The real cohort's other 144 - 119 = 25 CT scans, over the 36 R01 patients outside the
/// "both" groups and the 49 AMC patients: imaging, none.
const OTHER_IMAGING: [u64; 2] = [25, 36 + 49 - 25];

/// Hidden per-patient quantities. They exist for every patient, observed modality or not.
#[derive(Clone, Debug, Default)]
pub struct Latent {
    /// Metagene activities: mesenchymal/extracellular matrix, immune, stress (GDF15 up,
    /// LRIG1/HPGD down). Standard normal.
    pub metagenes: [f64; 3],
    /// Tumour size, shape irregularity and texture heterogeneity, standard normal scale.
    pub tumour_size: f64,
    pub irregularity: f64,
    pub heterogeneity: f64,
    /// The three modality scores, each standardised over the cohort (mean 0, sd 1).
    pub clinical_score: f64,
    pub genomic_score: f64,
    pub imaging_score: f64,
    /// Weighted sum of the scores plus noise (shifted down for AMC); the highest 30% are Dead.
    pub risk: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gender {
    Male,
    Female,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Smoking {
    Current,
    Former,
    Nonsmoker,
}

/// Weight as the source recorded it: whole pounds, or whole kilograms converted at 2.205 lb/kg
/// (which is why the real file has values such as 152.145).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    Pounds(u32),
    Kilograms(u32),
    NotCollected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackYears {
    Value(u32),
    NotApplicable,
    NotCollected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Treatment {
    NotCollected,
    Given { adjuvant: bool, radiation: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    NotCollected,
    No,
    Yes { location: &'static str, date: Date },
}

/// One row of the clinical table, typed; `clinical.rs` spells it.
#[derive(Clone, Debug)]
pub struct ClinicalRecord {
    pub affiliation: &'static str,
    pub age: u32,
    pub weight: Weight,
    pub gender: Gender,
    pub ethnicity: &'static str,
    pub smoking: Smoking,
    pub pack_years: PackYears,
    /// Kept when Pack Years is written "Not Collected": the latent value behind the clinical score.
    pub true_pack_years: u32,
    pub quit_year: Option<i64>,
    pub ground_glass: &'static str,
    /// Index into `vocab::LOCATIONS`; exactly one box is checked, as in every real row.
    pub location: usize,
    pub histology: &'static str,
    /// Indexes into `vocab::T_STAGES`, `N_STAGES`, `M_STAGES`, `GRADES`. Always drawn; written
    /// "Not Collected" when `pathology_collected` is false (every AMC patient).
    pub t_stage: usize,
    pub n_stage: usize,
    pub m_stage: usize,
    pub grade: usize,
    pub pathology_collected: bool,
    pub lymphovascular: &'static str,
    pub pleural: &'static str,
    pub egfr: &'static str,
    pub kras: &'static str,
    pub alk: &'static str,
    pub treatment: Treatment,
    pub recurrence: Recurrence,
    pub ct_date: Date,
    pub pet_date: Option<Date>,
    pub days_ct_to_surgery: i64,
    pub last_known_alive: Date,
    pub death: Option<Date>,
}

impl ClinicalRecord {
    pub fn surgery_date(&self) -> Date {
        self.ct_date.plus_days(self.days_ct_to_surgery)
    }
}

#[derive(Clone, Debug)]
pub struct Patient {
    /// `R01-001`, `AMC-001`, ...
    pub id: String,
    pub site: Site,
    /// Position within its site (0-based); names the patient's random streams.
    pub site_index: usize,
    pub latent: Latent,
    pub record: ClinicalRecord,
    pub has_rna_seq: bool,
    pub has_imaging: bool,
    pub dead: bool,
}

impl Patient {
    /// Weight and pack years both recorded (pack years of a nonsmoker are "N/A", which counts
    /// as recorded: the seed kept those rows).
    pub fn weight_and_pack_years_collected(&self) -> bool {
        self.record.weight != Weight::NotCollected && self.record.pack_years != PackYears::NotCollected
    }

    /// Whether the seed's join (genomic LEFT JOIN clinical LEFT JOIN imaging, incomplete rows
    /// dropped, clinical restricted to R01 with weight and pack years) keeps this patient.
    pub fn in_seed_join(&self) -> bool {
        self.site == Site::R01 && self.has_rna_seq && self.weight_and_pack_years_collected() && self.has_imaging
    }
}

/// Draws the whole cohort, sorted by id (AMC before R01, as in the real file).
pub fn generate_patients(spec: &CohortSpec) -> Vec<Patient> {
    let mut patients = Vec::with_capacity(spec.r01 + spec.amc);
    let mut streams = Vec::with_capacity(spec.r01 + spec.amc);
    for (site, count, base) in [(Site::R01, spec.r01, stream::R01_PATIENT), (Site::Amc, spec.amc, stream::AMC_PATIENT)]
    {
        for site_index in 0..count {
            let mut draws = Draws::new(spec.seed, base + site_index as u64);
            patients.push(draw_patient(site, site_index, &mut draws));
            streams.push(draws);
        }
    }
    assign_availability(&mut patients, &mut streams);
    score_and_label(&mut patients, &mut streams);
    for (patient, draws) in patients.iter_mut().zip(&mut streams) {
        draw_outcome_details(patient, draws);
    }
    patients.sort_by(|a, b| a.id.cmp(&b.id));
    patients
}

fn draw_patient(site: Site, site_index: usize, draws: &mut Draws) -> Patient {
    // Latent biology first, so the clinical record can lean on it.
    let metagenes = [draws.normal(), draws.normal(), draws.normal()];
    let tumour_size = draws.normal();
    // Bigger tumours are more often lobulated, and mesenchymal tumours look more heterogeneous
    // on CT (the radiogenomic link Zhou et al. 2018 mapped); both links are mild, so each
    // modality keeps information of its own.
    let irregularity = 0.3 * tumour_size + (1.0f64 - 0.09).sqrt() * draws.normal();
    let heterogeneity = 0.35 * metagenes[0] + 0.2 * tumour_size + (1.0f64 - 0.1625).sqrt() * draws.normal();
    let latent = Latent { metagenes, tumour_size, irregularity, heterogeneity, ..Latent::default() };

    let record = match site {
        Site::R01 => draw_r01_record(draws, &latent),
        Site::Amc => draw_amc_record(draws, &latent),
    };
    let prefix = match site {
        Site::R01 => "R01",
        Site::Amc => "AMC",
    };
    Patient {
        id: format!("{prefix}-{:03}", site_index + 1),
        site,
        site_index,
        latent,
        record,
        has_rna_seq: false,
        has_imaging: false,
        dead: false,
    }
}

/// Standard normal CDF (Abramowitz and Stegun 26.2.17, absolute error below 7.5e-8): turns a
/// latent z into a category with the real file's frequencies.
fn normal_cdf(z: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.231_641_9 * z.abs());
    let poly =
        t * (0.319_381_530 + t * (-0.356_563_782 + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    let tail = (-0.5 * z * z).exp() / (std::f64::consts::TAU).sqrt() * poly;
    if z >= 0.0 { 1.0 - tail } else { tail }
}

/// The category whose cumulative-frequency interval holds Φ(z).
fn ordinal(z: f64, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = normal_cdf(z) * total;
    for (index, weight) in weights.iter().enumerate() {
        if target < *weight {
            return index;
        }
        target -= weight;
    }
    weights.len() - 1
}

fn clamp_round(value: f64, low: f64, high: f64) -> u32 {
    value.clamp(low, high).round() as u32
}

fn draw_date(draws: &mut Draws, first: Date, last: Date) -> Date {
    first.plus_days(draws.below(last.days_since(first) as usize + 1) as i64)
}

/// Pack years of a smoker: log-normal (real R01: mean 41, sd 27, 1 to 120), and half of them
/// rounded to a multiple of 5 as people report them (30, 40 and 20 are the commonest values).
fn draw_pack_years(draws: &mut Draws, median: f64) -> u32 {
    let value = median * (0.6 * draws.normal()).exp();
    let value = if draws.chance(0.5) { (value / 5.0).round() * 5.0 } else { value };
    clamp_round(value, 1.0, 120.0)
}

/// Body weight by sex (real R01: mean 170 lb, sd 41, 80 to 318); VA records more often in kg.
fn draw_weight(draws: &mut Draws, gender: Gender, kilogram_share: f64) -> Weight {
    let (mean, sd) = match gender {
        Gender::Male => (182.0, 34.0),
        Gender::Female => (145.0, 30.0),
    };
    let pounds = (mean + sd * draws.normal()).clamp(85.0, 320.0);
    if draws.chance(kilogram_share) {
        Weight::Kilograms((pounds / 2.205).round() as u32)
    } else {
        Weight::Pounds(pounds.round() as u32)
    }
}

fn draw_quit_year(draws: &mut Draws, smoking: Smoking, ct_date: Date, age: u32, share_recorded: f64) -> Option<i64> {
    if smoking != Smoking::Former || !draws.chance(share_recorded) {
        return None;
    }
    let ct_year = ct_date.year();
    let earliest = ct_year - i64::from(age) + 18;
    let years_before = (1.0 + 13.0 * (0.8 * draws.normal()).exp()).round() as i64;
    Some((ct_year - years_before).clamp(earliest.min(ct_year - 1), ct_year - 1))
}

/// T and N stage lean on tumour size (T is defined by it) and N on the mesenchymal metagene.
fn draw_stages(draws: &mut Draws, latent: &Latent) -> (usize, usize, usize) {
    let t_latent = 0.65 * latent.tumour_size + (1.0f64 - 0.4225).sqrt() * draws.normal();
    // Real R01 counts in vocab::T_STAGES order: Tis 6, T1a 40, T1b 31, T2a 47, T2b 10, T3 21, T4 7.
    let t_stage = ordinal(t_latent, &[6.0, 40.0, 31.0, 47.0, 10.0, 21.0, 7.0]);
    let n_latent = 0.3 * latent.tumour_size + 0.3 * latent.metagenes[0] + (1.0f64 - 0.18).sqrt() * draws.normal();
    let n_stage = ordinal(n_latent, &[129.0, 15.0, 18.0]);
    let m_stage = draws.weighted(&[157.0, 1.0, 4.0]);
    (t_stage, n_stage, m_stage)
}

/// EGFR, KRAS and ALK: untested panels are "Unknown" (or "Not collected") in all three, and
/// EGFR and KRAS mutations exclude each other, as in the real file.
fn draw_mutations(draws: &mut Draws, smoking: Smoking, tested_share: [f64; 3]) -> [&'static str; 3] {
    match draws.weighted(&tested_share) {
        0 => [vocab::NOT_COLLECTED_LOWER; 3],
        1 => [UNKNOWN; 3],
        _ => {
            let smoker = smoking != Smoking::Nonsmoker;
            let egfr = if draws.chance(if smoker { 0.13 } else { 0.45 }) { MUTANT } else { WILDTYPE };
            let kras =
                if egfr == WILDTYPE && draws.chance(if smoker { 0.33 } else { 0.08 }) { MUTANT } else { WILDTYPE };
            let alk = if draws.chance(0.05) {
                UNKNOWN
            } else if egfr == WILDTYPE && kras == WILDTYPE && draws.chance(0.03) {
                TRANSLOCATED
            } else {
                WILDTYPE
            };
            [egfr, kras, alk]
        }
    }
}

/// Adjuvant chemotherapy follows stage; a third of it comes with radiation (real R01: 44 of 162
/// adjuvant, 15 of them with radiation).
fn draw_treatment(draws: &mut Draws, t_stage: usize, n_stage: usize) -> Treatment {
    let probability = if n_stage > 0 {
        0.65
    } else if t_stage >= 4 {
        0.5
    } else {
        0.15
    };
    let adjuvant = draws.chance(probability);
    Treatment::Given { adjuvant, radiation: adjuvant && draws.chance(0.36) }
}

fn draw_r01_record(draws: &mut Draws, latent: &Latent) -> ClinicalRecord {
    // Real R01: 93 VA, 69 Stanford; VA is 97% male, Stanford's R01 patients 42%.
    let va = draws.chance(93.0 / 162.0);
    let affiliation = if va { "VA" } else { "Stanford" };
    let gender = if draws.chance(if va { 0.97 } else { 0.42 }) { Gender::Male } else { Gender::Female };
    let age = clamp_round(68.6 + 9.0 * draws.normal(), 43.0, 87.0);
    let ethnicity = {
        let names = ["Caucasian", "Asian", "African-American", "Hispanic/Latino", "Native Hawaiian/Pacific Islander"];
        let weights: [f64; 5] = if va { [76.0, 5.0, 6.0, 4.0, 2.0] } else { [47.0, 19.0, 0.0, 2.0, 1.0] };
        names[draws.weighted(&weights)]
    };
    let smoking_weights: [f64; 3] = if va { [23.0, 64.0, 6.0] } else { [10.0, 40.0, 19.0] };
    let smoking = [Smoking::Current, Smoking::Former, Smoking::Nonsmoker][draws.weighted(&smoking_weights)];
    let true_pack_years = if smoking == Smoking::Nonsmoker { 0 } else { draw_pack_years(draws, 35.0) };
    let pack_years =
        if smoking == Smoking::Nonsmoker { PackYears::NotApplicable } else { PackYears::Value(true_pack_years) };
    let weight = draw_weight(draws, gender, if va { 0.58 } else { 0.32 });
    let ct_date = draw_date(draws, Date::from_ymd(1989, 11, 7), Date::from_ymd(1996, 9, 11));
    // Real: 21 of 101 R01 former smokers have no quit year.
    let quit_year = draw_quit_year(draws, smoking, ct_date, age, 0.8);
    let ground_glass = {
        let names = ["0%", ">0 - 25%", "25 - 50%", "50 - 75%", "75 - < 100%", "100%", "Not Assessed"];
        names[draws.weighted(&[92.0, 36.0, 5.0, 7.0, 5.0, 1.0, 16.0])]
    };
    let location = draws.weighted(&[58.0, 16.0, 21.0, 41.0, 24.0, 2.0]);
    let histology = if smoking == Smoking::Nonsmoker {
        [ADENOCARCINOMA, SQUAMOUS][draws.weighted(&[24.0, 1.0])]
    } else {
        [ADENOCARCINOMA, SQUAMOUS, NSCLC_NOS][draws.weighted(&[99.0, 34.0, 4.0])]
    };
    let (t_stage, n_stage, m_stage) = draw_stages(draws, latent);
    let grade = draws.weighted(&[32.0, 9.0, 76.0, 12.0, 33.0]);
    // Lymphovascular invasion is commoner with nodal spread.
    let lymphovascular = match draws.weighted(&[8.0, 154.0]) {
        0 => vocab::NOT_COLLECTED,
        _ if draws.chance(if n_stage > 0 { 0.35 } else { 0.10 }) => "Present",
        _ => "Absent",
    };
    let pleural = ["No", "Yes", vocab::NOT_COLLECTED_LOWER][draws.weighted(&[117.0, 42.0, 3.0])];
    let [egfr, kras, alk] = draw_mutations(draws, smoking, [3.0, 30.0, 129.0]);
    let treatment = draw_treatment(draws, t_stage, n_stage);
    let days_ct_to_surgery = clamp_round(35.0 * (0.85 * draws.normal()).exp(), 1.0, 735.0) as i64;
    // PET is often on the CT day, otherwise within a few weeks either side.
    let pet_date =
        if draws.chance(0.3) { ct_date } else { ct_date.plus_days((5.0 + 30.0 * draws.normal()).round() as i64) };
    ClinicalRecord {
        affiliation,
        age,
        weight,
        gender,
        ethnicity,
        smoking,
        pack_years,
        true_pack_years,
        quit_year,
        ground_glass,
        location,
        histology,
        t_stage,
        n_stage,
        m_stage,
        grade,
        pathology_collected: true,
        lymphovascular,
        pleural,
        egfr,
        kras,
        alk,
        treatment,
        recurrence: Recurrence::No,
        ct_date,
        pet_date: Some(pet_date),
        days_ct_to_surgery,
        last_known_alive: ct_date,
        death: None,
    }
}

/// The 49 AMC patients of the real file: all Stanford, mostly female, no current smokers, only
/// adenocarcinoma, and pathology, %GG, ethnicity, weight and PET not recorded.
fn draw_amc_record(draws: &mut Draws, latent: &Latent) -> ClinicalRecord {
    let gender = if draws.chance(16.0 / 49.0) { Gender::Male } else { Gender::Female };
    let age = clamp_round(65.8 + 12.4 * draws.normal(), 24.0, 88.0);
    let smoking = if draws.chance(26.0 / 49.0) { Smoking::Former } else { Smoking::Nonsmoker };
    let true_pack_years = if smoking == Smoking::Nonsmoker { 0 } else { draw_pack_years(draws, 27.0) };
    let pack_years = match smoking {
        Smoking::Nonsmoker => PackYears::NotApplicable,
        // Real: 3 of 26 AMC former smokers have pack years "Not Collected".
        _ if draws.chance(3.0 / 26.0) => PackYears::NotCollected,
        _ => PackYears::Value(true_pack_years),
    };
    let ct_date = draw_date(draws, Date::from_ymd(1991, 8, 9), Date::from_ymd(1995, 3, 9));
    // Every real AMC former smoker has a quit year.
    let quit_year = draw_quit_year(draws, smoking, ct_date, age, 1.0);
    let location = draws.weighted(&[20.0, 2.0, 9.0, 6.0, 9.0, 3.0]);
    let (t_stage, n_stage, m_stage) = draw_stages(draws, latent);
    let grade = draws.weighted(&[32.0, 9.0, 76.0, 12.0, 33.0]);
    let [egfr, kras, mut alk] = draw_mutations(draws, smoking, [2.0, 2.0, 45.0]);
    if alk == WILDTYPE && draws.chance(9.0 / 45.0) {
        alk = vocab::NOT_COLLECTED_LOWER;
    }
    // Real: one AMC patient has treatments and recurrence not collected.
    let treatment = if draws.chance(1.0 / 49.0) {
        Treatment::NotCollected
    } else {
        let adjuvant = draws.chance(5.0 / 48.0);
        Treatment::Given { adjuvant, radiation: adjuvant && draws.chance(0.2) }
    };
    let days_ct_to_surgery = clamp_round(27.0 * (0.7 * draws.normal()).exp(), 2.0, 112.0) as i64;
    ClinicalRecord {
        affiliation: "Stanford",
        age,
        weight: Weight::NotCollected,
        gender,
        ethnicity: "Not Recorded In Database",
        smoking,
        pack_years,
        true_pack_years,
        quit_year,
        ground_glass: "Not Assessed",
        location,
        histology: ADENOCARCINOMA,
        t_stage,
        n_stage,
        m_stage,
        grade,
        pathology_collected: false,
        lymphovascular: vocab::NOT_COLLECTED,
        pleural: vocab::NOT_COLLECTED_LOWER,
        egfr,
        kras,
        alk,
        treatment,
        recurrence: if treatment == Treatment::NotCollected { Recurrence::NotCollected } else { Recurrence::No },
        ct_date,
        pet_date: None,
        days_ct_to_surgery,
        last_known_alive: ct_date,
        death: None,
    }
}

/// Hands out groups one member at a time, in enrolment order, each to the group furthest below
/// its quota (its share of the members so far): every prefix of the order holds each group
/// within one of its quota, and exactly its quota when that is whole (162 R01 patients give the
/// real counts). Enrolling one more patient never changes the group of those before.
struct Apportionment {
    weights: &'static [u64],
    counts: Vec<u64>,
    members: u64,
}

impl Apportionment {
    fn new(weights: &'static [u64]) -> Apportionment {
        Apportionment { weights, counts: vec![0; weights.len()], members: 0 }
    }

    fn next(&mut self) -> usize {
        self.members += 1;
        let total: u64 = self.weights.iter().sum();
        let deficit =
            |group: usize| i128::from(self.weights[group] * self.members) - i128::from(self.counts[group] * total);
        // The first of the largest deficits: ties go to the earlier group.
        let group = (1..self.weights.len()).fold(0, |best, g| if deficit(g) > deficit(best) { g } else { best });
        self.counts[group] += 1;
        group
    }
}

/// Decides who has RNA-seq, collected weight and pack years, and imaging, in the real cohort's
/// proportions (see [`R01_GROUPS`]) and in enrolment order (site, then site index), so that
/// adding a patient to a cohort changes nothing about the others. Which patients get which
/// group is a fixed pattern of the index; their biology is random, so nothing links the two.
/// `streams` are the patients' own draws (the values left out as "Not Collected").
fn assign_availability(patients: &mut [Patient], streams: &mut [Draws]) {
    let mut r01 = Apportionment::new(&R01_GROUPS);
    let mut r01_other_imaging = Apportionment::new(&OTHER_IMAGING);
    let mut amc_imaging = Apportionment::new(&OTHER_IMAGING);
    for (patient, draws) in patients.iter_mut().zip(streams.iter_mut()) {
        if patient.site == Site::Amc {
            patient.has_imaging = amc_imaging.next() == 0;
            continue;
        }
        let group = r01.next();
        patient.has_rna_seq = matches!(group, JOINED | BOTH_WITHOUT_IMAGING | RNA_ONLY);
        let collected = matches!(group, JOINED | BOTH_WITHOUT_IMAGING | COLLECTED_ONLY);
        patient.has_imaging = match group {
            JOINED => true,
            BOTH_WITHOUT_IMAGING => false,
            _ => r01_other_imaging.next() == 0,
        };
        if !collected {
            mark_not_collected(patient, draws);
        }
    }
}

/// Real R01: 11 weights and 5 pack years "Not Collected", one patient missing both.
fn mark_not_collected(patient: &mut Patient, draws: &mut Draws) {
    let record = &mut patient.record;
    let smoker = record.smoking != Smoking::Nonsmoker;
    let pack_missing = smoker && draws.chance(0.35);
    let weight_missing = !pack_missing || draws.chance(0.15);
    if pack_missing {
        record.pack_years = PackYears::NotCollected;
    }
    if weight_missing {
        record.weight = Weight::NotCollected;
    }
}

/// The clinical part of the risk, from values the clinical table shows (or would show, had they
/// been collected): older, heavier-smoking, male, non-adenocarcinoma, higher stage and grade
/// mean higher risk.
fn clinical_raw_score(record: &ClinicalRecord) -> f64 {
    const T_WEIGHT: [f64; 7] = [0.0, 0.5, 0.8, 1.2, 1.6, 2.0, 2.4];
    const GRADE_WEIGHT: [f64; 5] = [0.0, 0.2, 0.4, 0.7, 1.0];
    let age = (f64::from(record.age) - 67.0) / 9.0;
    let smoking = f64::from(record.true_pack_years) / 40.0;
    let male = f64::from(u8::from(record.gender == Gender::Male));
    let non_adeno = f64::from(u8::from(record.histology != ADENOCARCINOMA));
    let metastatic = f64::from(u8::from(record.m_stage > 0));
    0.5 * age
        + 0.4 * smoking
        + 0.3 * male
        + 0.3 * non_adeno
        + 0.5 * T_WEIGHT[record.t_stage]
        + 0.6 * record.n_stage as f64
        + 1.0 * metastatic
        + 0.4 * GRADE_WEIGHT[record.grade]
}

/// Mesenchymal/ECM activity raises risk, immune infiltration lowers it, stress raises it.
fn genomic_raw_score(latent: &Latent) -> f64 {
    0.6 * latent.metagenes[0] - 0.5 * latent.metagenes[1] + 0.5 * latent.metagenes[2]
}

/// Larger, more irregular and more heterogeneous tumours carry more risk: the quantities
/// radiomics shape, first-order and texture features measure.
fn imaging_raw_score(latent: &Latent) -> f64 {
    0.6 * latent.tumour_size + 0.5 * latent.irregularity + 0.5 * latent.heterogeneity
}

fn standardise(values: &mut [f64]) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sd = if sd > 0.0 { sd } else { 1.0 };
    for value in values {
        *value = (*value - mean) / sd;
    }
}

fn score_and_label(patients: &mut [Patient], streams: &mut [Draws]) {
    let mut clinical: Vec<f64> = patients.iter().map(|p| clinical_raw_score(&p.record)).collect();
    let mut genomic: Vec<f64> = patients.iter().map(|p| genomic_raw_score(&p.latent)).collect();
    let mut imaging: Vec<f64> = patients.iter().map(|p| imaging_raw_score(&p.latent)).collect();
    standardise(&mut clinical);
    standardise(&mut genomic);
    standardise(&mut imaging);
    for (i, (patient, draws)) in patients.iter_mut().zip(streams.iter_mut()).enumerate() {
        let latent = &mut patient.latent;
        latent.clinical_score = clinical[i];
        latent.genomic_score = genomic[i];
        latent.imaging_score = imaging[i];
        latent.risk = RISK_WEIGHTS[0] * clinical[i]
            + RISK_WEIGHTS[1] * genomic[i]
            + RISK_WEIGHTS[2] * imaging[i]
            + RISK_NOISE_SD * draws.normal()
            + if patient.site == Site::Amc { AMC_RISK_OFFSET } else { 0.0 };
    }
    let mut order: Vec<usize> = (0..patients.len()).collect();
    order.sort_by(|&a, &b| patients[b].latent.risk.total_cmp(&patients[a].latent.risk));
    let n_dead = (patients.len() as f64 * DEAD_FRACTION).round() as usize;
    for &index in order.iter().take(n_dead) {
        patients[index].dead = true;
    }
}

/// The end of follow-up: the last dates of the real file.
fn study_end(site: Site) -> Date {
    match site {
        Site::R01 => Date::from_ymd(1999, 9, 23),
        Site::Amc => Date::from_ymd(1997, 1, 18),
    }
}

/// Recurrence, last contact and death. Time to Death counts from surgery (CT date + days to
/// surgery), as it does in the real file.
fn draw_outcome_details(patient: &mut Patient, draws: &mut Draws) {
    let risk = patient.latent.risk;
    let record = &mut patient.record;
    let surgery = record.surgery_date();
    let end = study_end(patient.site);
    let available = end.days_since(surgery).max(30);
    let recurs = draws.chance(1.0 / (1.0 + (-(0.55 * risk - 1.1)).exp()));
    if patient.dead {
        // Higher risk dies sooner (real: 6 to 2356 days, mean 728).
        let days = (1000.0 * (0.75 * draws.normal() - 0.25 * risk).exp()).clamp(6.0, (available - 1) as f64);
        let death = surgery.plus_days(days.round() as i64);
        record.death = Some(death);
        // A fifth of the real deaths were recorded after the last contact.
        record.last_known_alive = if draws.chance(0.2) {
            let gap = draws.below(((days as usize) / 2).clamp(1, 500)) as i64;
            death.plus_days(-gap)
        } else {
            death
        };
    } else {
        // Most survivors are followed to the end of the study; some are lost early.
        let share = if draws.chance(0.12) { draws.range(0.01, 0.4) } else { draws.range(0.55, 1.0) };
        record.last_known_alive = surgery.plus_days(((available as f64) * share).round().max(1.0) as i64);
    }
    if record.recurrence == Recurrence::No && recurs {
        let last = record.death.unwrap_or(record.last_known_alive);
        let span = last.days_since(surgery).max(2) as f64;
        let date = surgery.plus_days((span * draws.range(0.15, 0.9)).round() as i64);
        let location = ["distant", "regional", "local"][draws.weighted(&[37.0, 10.0, 7.0])];
        record.recurrence = Recurrence::Yes { location, date };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_reference_values() {
        // Reference: Φ(0) = 0.5, Φ(1) = 0.841344746, Φ(-1.96) = 0.024997895 (scipy 1.11).
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_746).abs() < 1e-7);
        assert!((normal_cdf(-1.96) - 0.024_997_895).abs() < 1e-7);
    }

    fn counts(r01: usize, amc: usize) -> [usize; 4] {
        let patients = generate_patients(&CohortSpec { r01, amc, ..CohortSpec::default() });
        let count = |f: &dyn Fn(&Patient) -> bool| patients.iter().filter(|p| f(p)).count();
        [
            count(&|p| p.in_seed_join()),
            count(&|p| p.has_rna_seq),
            count(&|p| p.site == Site::R01 && p.weight_and_pack_years_collected()),
            count(&|p| p.has_imaging),
        ]
    }

    #[test]
    fn availability_has_the_real_counts_and_scales_within_one() {
        // Real: join 119, RNA-seq 130, weight and pack years 147 of 162 R01; imaging 144 of 211.
        assert_eq!(counts(162, 49), [119, 130, 147, 144]);
        assert_eq!(counts(1620, 490), [1190, 1300, 1470, 1440]);
        for (r01, amc) in [(80, 20), (1000, 300), (5, 0), (1, 1), (163, 49)] {
            let got = counts(r01, amc);
            let quota = |count: f64| count / 162.0 * r01 as f64;
            for (index, expected) in [quota(119.0), quota(130.0), quota(147.0)].into_iter().enumerate() {
                assert!((got[index] as f64 - expected).abs() < 1.0, "r01={r01} amc={amc}: {got:?}");
            }
        }
    }

    #[test]
    fn enrolling_a_patient_changes_nothing_about_the_others() {
        let spec = CohortSpec { r01: 30, amc: 8, image_size: [24, 24, 12], ..CohortSpec::default() };
        let before = generate_patients(&spec);
        let after = generate_patients(&CohortSpec { r01: 31, ..spec.clone() });
        assert_eq!(after.len(), before.len() + 1);
        for old in &before {
            let new = after.iter().find(|p| p.id == old.id).expect("every patient is still there");
            let modalities = |p: &Patient| (p.has_rna_seq, p.has_imaging, p.weight_and_pack_years_collected());
            assert_eq!(modalities(new), modalities(old), "{}", old.id);
            assert_eq!(format!("{:?}", new.record.weight), format!("{:?}", old.record.weight), "{}", old.id);
            if old.has_imaging {
                let (a, b) = (crate::imaging::synthesize(&spec, old), crate::imaging::synthesize(&spec, new));
                assert!(a.image == b.image && a.mask == b.mask, "{}: the CT changed", old.id);
            }
        }
    }
}
