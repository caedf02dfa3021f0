//! Deterministic synthetic NSCLC radiogenomics cohorts in the real file formats.
//!
//! flow's default pipeline must run with no download, yet every node in it should be the node
//! a user runs on the real NSCLC Radiogenomics data. So this crate does not invent formats: it
//! writes the TCIA clinical CSV (same 40 headers, same value spellings, "Not Collected" where
//! the real file has it), a GEO GSE103584-style expression table, and per-patient CT volumes
//! with tumour masks as NIfTI, from a seed.
//!
//! The label (Survival Status) is drawn from a latent risk that sums a clinical, a genomic and an
//! imaging score plus noise, so a model that sees all three modalities beats any one of them.
//! Defaults mirror the real cohort: 162 R01 + 49 AMC patients, RNA-seq for 130 R01 patients,
//! imaging for 144 patients, and a three-way join of 119 patients. docs/synthetic-cohort.md
//! describes the model.
//!
//! ```no_run
//! use flow_synth::{Cohort, CohortSpec};
//! # fn main() -> Result<(), flow_synth::SynthError> {
//! let cohort = Cohort::generate(CohortSpec { seed: 7, ..CohortSpec::default() })?;
//! cohort.write_clinical("clinical.csv".as_ref())?;
//! cohort.write_genomic("genomic.tsv".as_ref())?;
//! std::fs::create_dir_all("imaging").ok();
//! cohort.write_imaging("imaging".as_ref(), 2, &|| false)?;
//! # Ok(()) }
//! ```
//!
//! The same spec always gives the same bytes (seeded ChaCha8 streams, gzip without timestamps).
//! This crate knows nothing about flow's engine; `crates/nodes` wraps it as the
//! `synth.nsclc_cohort` node kind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub mod clinical;
pub mod cohort;
pub mod date;
pub mod dicom;
pub mod genomic;
pub mod imaging;
mod rng;
pub mod vocab;

pub use cohort::Patient;
pub use genomic::PANEL_GENES;
pub use imaging::{ImagingRecord, SPACING_MM};

/// The two sources of the real cohort: the R01 patients (Stanford and the Palo Alto VA, with
/// RNA-seq for most) and the AMC patients (Stanford, no RNA-seq, pathology not recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Site {
    R01,
    Amc,
}

/// What to generate. `Default` mirrors the real cohort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CohortSpec {
    pub seed: u64,
    /// R01 patients (real: 162).
    pub r01: usize,
    /// AMC patients (real: 49).
    pub amc: usize,
    /// Rows of the expression table, the 21 panel genes included.
    pub genes: usize,
    /// CT volume size in voxels (x, y, z).
    pub image_size: [usize; 3],
    /// Whether to write volumes; when false the imaging directory holds only an empty manifest.
    pub imaging: bool,
}

impl Default for CohortSpec {
    fn default() -> CohortSpec {
        CohortSpec { seed: 42, r01: 162, amc: 49, genes: 1000, image_size: [64, 64, 40], imaging: true }
    }
}

/// Bounds that keep a typo from filling the disk or memory (each volume is held as f64 while it
/// is made, once per worker thread).
pub const MAX_PATIENTS: usize = 1_000_000;
pub const MAX_GENES: usize = 100_000;
pub const MIN_IMAGE_SIZE: [usize; 3] = [32, 32, 16];
pub const MAX_IMAGE_VOXELS: usize = 32 * 1024 * 1024;

impl CohortSpec {
    /// Checks the bounds; every message names the parameter.
    pub fn validate(&self) -> Result<(), SynthError> {
        let invalid = |message: String| Err(SynthError::InvalidSpec(message));
        if self.r01 == 0 {
            return invalid("r01 must be at least 1: the genomic table has one column per R01 patient".into());
        }
        if self.r01.saturating_add(self.amc) > MAX_PATIENTS {
            return invalid(format!("r01 + amc = {} exceeds {MAX_PATIENTS}", self.r01.saturating_add(self.amc)));
        }
        if self.genes < PANEL_GENES.len() || self.genes > MAX_GENES {
            return invalid(format!(
                "genes = {} must be between {} (the panel) and {MAX_GENES}",
                self.genes,
                PANEL_GENES.len()
            ));
        }
        for (axis, (&size, &min)) in self.image_size.iter().zip(&MIN_IMAGE_SIZE).enumerate() {
            if size < min {
                return invalid(format!(
                    "image_size[{axis}] = {size} is below {min}: the tumour needs room ({MIN_IMAGE_SIZE:?} at least)"
                ));
            }
        }
        let voxels = self.image_size.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
        if voxels.is_none_or(|v| v > MAX_IMAGE_VOXELS) {
            return invalid(format!("image_size {:?} exceeds {MAX_IMAGE_VOXELS} voxels", self.image_size));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid cohort parameters: {0}")]
    InvalidSpec(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot write CSV: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path}: cannot write NIfTI: {source}")]
    Nifti { path: PathBuf, source: nifti::NiftiError },
    #[error("cancelled")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

impl SynthError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> SynthError {
        SynthError::Io { path: path.to_path_buf(), source }
    }
}

/// Flushes a buffered writer and reports the path on failure.
pub(crate) fn finish(mut writer: BufWriter<File>, path: &Path) -> Result<(), SynthError> {
    writer.flush().map_err(|e| SynthError::io(path, e))
}

/// Counts that say what a cohort holds (no cell values: flow's logs never print data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub patients: usize,
    pub r01: usize,
    pub amc: usize,
    pub dead: usize,
    pub rna_seq: usize,
    pub weight_and_pack_years_collected: usize,
    pub imaging: usize,
    /// Patients the seed's three-way join keeps.
    pub joined: usize,
}

/// A generated cohort: every patient's latent factors and clinical record, and which
/// modalities each has. Files are written from it on demand.
pub struct Cohort {
    spec: CohortSpec,
    patients: Vec<Patient>,
}

impl Cohort {
    pub fn generate(spec: CohortSpec) -> Result<Cohort, SynthError> {
        spec.validate()?;
        let patients = cohort::generate_patients(&spec);
        Ok(Cohort { spec, patients })
    }

    pub fn spec(&self) -> &CohortSpec {
        &self.spec
    }

    /// Sorted by id: AMC-001 ... then R01-001 ..., as in the real file.
    pub fn patients(&self) -> &[Patient] {
        &self.patients
    }

    pub fn summary(&self) -> Summary {
        let count = |keep: &dyn Fn(&Patient) -> bool| self.patients.iter().filter(|p| keep(p)).count();
        Summary {
            patients: self.patients.len(),
            r01: count(&|p| p.site == Site::R01),
            amc: count(&|p| p.site == Site::Amc),
            dead: count(&|p| p.dead),
            rna_seq: count(&|p| p.site == Site::R01 && p.has_rna_seq),
            weight_and_pack_years_collected: count(&|p| p.site == Site::R01 && p.weight_and_pack_years_collected()),
            imaging: count(&|p| p.has_imaging),
            joined: count(&|p| p.in_seed_join()),
        }
    }

    /// The TCIA-style clinical CSV.
    pub fn write_clinical(&self, path: &Path) -> Result<(), SynthError> {
        clinical::write_clinical(&self.patients, path)
    }

    /// The GEO-style expression TSV (genes as rows, R01 patients with RNA-seq as columns).
    pub fn write_genomic(&self, path: &Path) -> Result<(), SynthError> {
        genomic::write_genomic(&self.spec, &self.patients, path)
    }

    /// A folder per patient with imaging (CT, mask, one-row `manifest.csv`) in the existing
    /// directory `dir`.
    pub fn write_imaging(
        &self,
        dir: &Path,
        threads: usize,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<ImagingRecord>, SynthError> {
        imaging::write_imaging(&self.spec, &self.patients, dir, threads, cancelled)
    }

    /// The same imaging as a DICOM collection in the existing directory `dir`:
    /// `ID/STUDY/SERIES/1-NNN.dcm`, a CT series and a SEG or RTSTRUCT per patient.
    pub fn write_imaging_dicom(
        &self,
        dir: &Path,
        threads: usize,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<ImagingRecord>, SynthError> {
        imaging::write_imaging_dicom(&self.spec, &self.patients, dir, threads, cancelled)
    }
}
