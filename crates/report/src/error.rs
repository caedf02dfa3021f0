//! The report's errors. Input errors name the feature set, field or node and the bad value.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("the report has no feature sets")]
    NoFeatureSets,
    #[error("feature set '{0}' appears more than once")]
    DuplicateFeatureSet(String),
    #[error("{model} metrics of feature set '{set}': {field} is {value}, expected a number in [0, 1]")]
    MetricOutOfRange { set: String, model: String, field: &'static str, value: f64 },
    #[error("pca_feature_set '{name}' is not one of the feature sets ({available})")]
    UnknownPcaFeatureSet { name: String, available: String },
    #[error("pca_feature_set '{0}' has no PCA summary")]
    NoPcaSummary(String),
    #[error("circle_pcs: PC{pc} is beyond the {k} components kept for feature set '{set}'")]
    PcOutOfRange { pc: usize, k: usize, set: String },
    #[error("circle_pcs: {0}")]
    BadPcPair(String),
    #[error("PCA of feature set '{set}': {message}")]
    BadPca { set: String, message: String },
    #[error("dag: {0}")]
    BadDag(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot draw figure {figure}: {message}")]
    Draw { figure: &'static str, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;
