//! The report of the seed pipeline: metrics per feature set, PCA figures, ROC curves,
//! confusion matrices and the run's DAG, as SVG files and one self-contained HTML page.
