//! flow's built-in node kinds, one file each. Each is a thin wrapper: parameters and ports
//! here, the real work in a library crate (or, for `shell`, in the command it runs).

use std::sync::Arc;

use flow_engine::kind::Registry;

pub mod clinical_preprocess;
pub mod featurestore_query;
pub mod featurestore_write;
pub mod genomic_preprocess;
pub mod imaging_radiomics;
pub mod shell;
pub mod synth_nsclc_cohort;

/// A registry holding every built-in kind.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(shell::Shell));
    registry.register(Arc::new(synth_nsclc_cohort::SynthNsclcCohort));
    registry.register(Arc::new(genomic_preprocess::GenomicPreprocess));
    registry.register(Arc::new(clinical_preprocess::ClinicalPreprocess));
    registry.register(Arc::new(imaging_radiomics::ImagingRadiomics));
    registry.register(Arc::new(featurestore_write::FeaturestoreWrite));
    registry.register(Arc::new(featurestore_query::FeaturestoreQuery));
    registry
}
