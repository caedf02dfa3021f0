//! flow's built-in node kinds, one file each. Each is a thin wrapper: parameters and ports
//! here, the real work in a library crate (or, for `shell`, in the command it runs).

use std::sync::Arc;

use flow_engine::kind::Registry;

pub mod clinical_preprocess;
pub mod featurestore_query;
pub mod featurestore_write;
pub mod genomic_preprocess;
pub mod imaging_dicom_index;
pub mod imaging_radiomics;
pub mod ml_bundle;
pub mod ml_evaluate;
pub mod ml_pca;
pub mod ml_predict;
pub mod ml_scale;
pub mod ml_split;
mod ml_table;
pub mod ml_train_gbdt;
pub mod ml_train_tree;
pub mod parquet_sheet;
pub mod report_html;
pub mod shell;
pub mod synth_nsclc_cohort;
pub mod table_concat;

/// A registry holding every built-in kind.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(shell::Shell));
    registry.register(Arc::new(synth_nsclc_cohort::SynthNsclcCohort));
    registry.register(Arc::new(genomic_preprocess::GenomicPreprocess));
    registry.register(Arc::new(clinical_preprocess::ClinicalPreprocess));
    registry.register(Arc::new(imaging_dicom_index::ImagingDicomIndex));
    registry.register(Arc::new(imaging_radiomics::ImagingRadiomics));
    registry.register(Arc::new(ml_split::MlSplit));
    registry.register(Arc::new(ml_scale::MlScale));
    registry.register(Arc::new(ml_pca::MlPca));
    registry.register(Arc::new(ml_bundle::MlBundle));
    registry.register(Arc::new(ml_train_gbdt::MlTrainGbdt));
    registry.register(Arc::new(ml_train_tree::MlTrainTree));
    registry.register(Arc::new(ml_predict::MlPredict));
    registry.register(Arc::new(ml_evaluate::MlEvaluate));
    registry.register(Arc::new(report_html::ReportHtml));
    registry.register(Arc::new(featurestore_write::FeaturestoreWrite));
    registry.register(Arc::new(featurestore_query::FeaturestoreQuery));
    registry.register(Arc::new(table_concat::TableConcat));
    registry.register_sheet_format(Arc::new(parquet_sheet::ParquetSheets));
    registry
}
