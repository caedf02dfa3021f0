//! The model half of the seed pipeline as a library with no engine or table dependency:
//! seeded train/validation/test splits, a standard scaler fitted on the training rows only,
//! PCA by an exact SVD, gradient-boosted trees with XGBoost's semantics (and its JSON model
//! format), a single decision tree baseline, and classification metrics.
//!
//! Everything works on [`Dataset`]: a dense matrix of samples x features with ids and labels.

pub mod bootstrap;
pub mod bundle;
pub mod dataset;
pub mod gbdt;
pub mod metrics;
pub mod pca;
pub mod scale;
pub mod split;
pub mod tree;

pub use dataset::{Dataset, DatasetError};
pub use metrics::{ClassificationReport, MetricsError, RocCurve};
pub use pca::{Components, Pca, PcaError};
pub use scale::{ScaleError, StandardScaler};
pub use split::{Split, SplitError, TrainTest, train_test, train_validation_test};
pub use tree::{DecisionTree, TreeError, TreeParams};
