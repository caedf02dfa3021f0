//! The report of the seed pipeline: metrics per feature set, PCA figures, ROC curves,
//! confusion matrices and the workflow's DAG, as SVG (and PNG) files and one self-contained HTML page.
//!
//! The input is a plain serde struct, [`ReportInput`], so the workflow node can hand it over as
//! JSON; this crate knows neither the engine nor the model crate. [`render`] checks the whole
//! input first (a bad input writes nothing), then writes into the output directory:
//!
//! | file | what |
//! |---|---|
//! | `report.html` | the page: Table 1 as an HTML table, every other figure as inline SVG, captions, the workflow's nodes; inline CSS, no script, no URL |
//! | `metrics.csv` | Table 1 with full-precision values |
//! | `metrics.svg` | Table 1: accuracy, F1, precision, recall (AUC when given) per feature set, baseline rows when given |
//! | `roc.svg` | ROC curves of every feature set (baseline dashed), AUC in the legend |
//! | `confusion.svg` | one 2x2 confusion matrix per feature set (a second row for the baseline) |
//! | `explained_variance.svg` | per-component and cumulative explained variance, the target and the chosen k |
//! | `pca_heatmap.svg` | min-max scaled abs(loading) (per PC) x explained variance ratio, first 20 PCs, features grouped by modality |
//! | `correlation_circle.svg` | feature–component correlations for two PCs, the top N labelled |
//! | `dag.svg` | the workflow's DAG in layers: each node's name and kind, boxes coloured by kind family, the report's own node emphasised |
//!
//! Each SVG has a PNG twin (`ReportInput::png`, on by default), drawn by the same code on
//! plotters' bitmap backend. The PCA figures need a PCA summary and the DAG figure a non-empty
//! DAG; without them those files are not written (and files already in `out_dir` are left as
//! they are: give each render a fresh directory, as the workflow engine does). A modality and
//! the feature set of the same name share one colour in every figure.
//!
//! **Determinism.** The same input gives the same bytes: no timestamps, fixed float formats,
//! layouts that break ties by input order, and text measured with a bundled font (DejaVu Sans,
//! `assets/`), never a system one. The workflow engine caches by content, so this matters. For
//! the same reason the input holds nothing about a run: the DAG is the workflow's structure,
//! with no statuses, durations, run ids, hosts or paths, so a cached report is still true on
//! every later run.
//!
//! ```no_run
//! # fn main() -> Result<(), flow_report::Error> {
//! let input: flow_report::ReportInput = serde_json::from_str(&std::fs::read_to_string("report.json").unwrap()).unwrap();
//! let files = flow_report::render(&input, std::path::Path::new("results/report"))?;
//! # Ok(()) }
//! ```

mod check;
mod error;
mod figure;
mod figures;
mod html;
mod input;
mod layout;
mod png;
mod raster;
mod style;
mod table;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};
pub use input::{
    Dag, DagEdge, DagNode, Feature, FeatureSetReport, Intervals, Metrics, PcaSummary, ReportInput, RocPoint,
};
pub use style::format_metric;
pub use table::ranking_note;

use figure::{Drawn, draw};
use figures::{circle, confusion, dag, heatmap, roc, table as table_figure, variance};

/// Checks `input`, then writes the report into `out_dir` (created if missing). Returns the
/// files written: `report.html`, `metrics.csv`, then each figure's SVG (and PNG) in page order.
pub fn render(input: &ReportInput, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let checked = check::check(input)?;
    let figures = draw_figures(&checked)?;
    let page = html::page(&checked, &figures);

    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io { path: out_dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    let mut write = |name: String, bytes: &[u8]| -> Result<()> {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| Error::Io { path: path.clone(), source })?;
        written.push(path);
        Ok(())
    };
    write("report.html".to_string(), page.as_bytes())?;
    write("metrics.csv".to_string(), table::metrics_csv(&checked).as_bytes())?;
    for figure in &figures {
        write(format!("{}.svg", figure.name), figure.svg.as_bytes())?;
        if let Some(png) = &figure.png {
            write(format!("{}.png", figure.name), png)?;
        }
    }
    Ok(written)
}

fn draw_figures(checked: &check::Checked) -> Result<Vec<Drawn>> {
    let input = checked.input;
    let png = input.png;
    let mut figures = vec![draw(&table_figure::TableFigure::new(checked), png)?];
    if let Some(figure) = roc::RocFigure::new(checked) {
        figures.push(draw(&figure, png)?);
    }
    figures.push(draw(&confusion::ConfusionFigure::new(checked), png)?);
    if let Some((set, pca)) = checked.pca {
        let colour = checked.palette.colour(&set.name);
        figures.push(draw(&variance::VarianceFigure::new(&set.name, pca, colour), png)?);
        figures.push(draw(&heatmap::HeatmapFigure::new(&set.name, pca, input.heatmap_pcs, &checked.palette), png)?);
        let circle = circle::CircleFigure::new(&set.name, pca, input.circle_pcs, input.top_n, &checked.palette);
        figures.push(draw(&circle, png)?);
    }
    if let Some(figure) = dag::DagFigure::new(&input.dag, &checked.dag_edges, &checked.palette) {
        figures.push(draw(&figure, png)?);
    }
    Ok(figures)
}
