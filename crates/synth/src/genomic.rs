//! Writes the expression table: GEO GSE103584's layout (tab-separated, one row per gene with the
//! symbol first, one column per R01 case id, "NaN" where a value is missing), with FPKM-like
//! log-normal values.
//!
//! The 21 panel genes carry the genomic part of the label through three metagenes; the other
//! genes are realistic filler: log-normal levels, some co-expressed in background modules (so
//! PCA on the full table finds structure), a few patchy with NaNs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::cohort::Patient;
use crate::rng::{Draws, stream};
use crate::{CohortSpec, Site, SynthError};

/// The seed's gene panel (metagenes of Zhou et al. 2018), in the design document's order.
pub const PANEL_GENES: [&str; 21] = [
    "LRIG1", "HPGD", "GDF15", "CDH2", "POSTN", "VCAN", "PDGFRA", "VCAM1", "CD44", "CD48", "CD4", "LYL1", "SPI1",
    "CD37", "VIM", "LMO2", "EGR2", "BGN", "COL4A1", "COL5A1", "COL5A2",
];

/// Metagene of each panel gene (0 mesenchymal/ECM, 1 immune, 2 stress), the sign of its loading
/// and its typical level as ln(FPKM): VIM is abundant, CDH2 barely expressed, as in lung tumours.
const PANEL_MODEL: [(&str, usize, f64, f64); 21] = [
    ("LRIG1", 2, -1.0, 3.0),
    ("HPGD", 2, -1.0, 3.0),
    ("GDF15", 2, 1.0, 3.0),
    ("CDH2", 0, 1.0, 0.4),
    ("POSTN", 0, 1.0, 3.4),
    ("VCAN", 0, 1.0, 2.3),
    ("PDGFRA", 0, 1.0, 2.1),
    ("VCAM1", 1, 1.0, 2.1),
    ("CD44", 1, 1.0, 4.1),
    ("CD48", 1, 1.0, 2.7),
    ("CD4", 1, 1.0, 2.7),
    ("LYL1", 1, 1.0, 2.3),
    ("SPI1", 1, 1.0, 3.0),
    ("CD37", 1, 1.0, 3.0),
    ("VIM", 0, 1.0, 5.3),
    ("LMO2", 1, 1.0, 2.3),
    ("EGR2", 1, 1.0, 1.1),
    ("BGN", 0, 1.0, 4.1),
    ("COL4A1", 0, 1.0, 3.7),
    ("COL5A1", 0, 1.0, 2.7),
    ("COL5A2", 0, 1.0, 2.7),
];

/// Real gene symbols used as filler after the panel (lung markers, oncogenes, immune and
/// housekeeping genes), so the table reads like an expression table. Beyond these, filler genes
/// are named SYNTH00001, ...: obviously not real genes.
const FILLER_GENES: [&str; 182] = [
    "ACTB", "GAPDH", "B2M", "TP53", "EGFR", "KRAS", "ALK", "BRAF", "MET", "ERBB2", "PIK3CA", "PTEN", "STK11", "KEAP1",
    "NFE2L2", "CDKN2A", "RB1", "MYC", "SOX2", "NKX2-1", "NAPSA", "SFTPC", "SFTPB", "SFTPA1", "KRT5", "KRT7", "KRT18",
    "KRT19", "TP63", "MUC1", "CEACAM5", "EPCAM", "CDH1", "TWIST1", "SNAI1", "SNAI2", "ZEB1", "FN1", "SPARC", "MMP2",
    "MMP9", "TIMP1", "COL1A1", "COL1A2", "COL3A1", "ACTA2", "PECAM1", "CDH5", "VWF", "KDR", "FLT1", "VEGFA", "HIF1A",
    "CA9", "SLC2A1", "LDHA", "PGK1", "ENO1", "MKI67", "TOP2A", "PCNA", "CCNB1", "CCND1", "CDK4", "CDK6", "E2F1",
    "AURKA", "BUB1", "PLK1", "BIRC5", "CD3E", "CD8A", "CD19", "MS4A1", "PTPRC", "CD68", "CD163", "ITGAM", "FOXP3",
    "CTLA4", "PDCD1", "CD274", "LAG3", "HAVCR2", "IFNG", "GZMB", "PRF1", "NKG7", "HLA-A", "HLA-B", "HLA-DRA", "STAT1",
    "STAT3", "JAK2", "IL6", "CXCL8", "TNF", "NFKB1", "RELA", "TGFB1", "SMAD4", "NOTCH1", "HES1", "WNT5A", "CTNNB1",
    "AXIN2", "SHH", "GLI1", "ALDH1A1", "PROM1", "CD34", "KIT", "FGFR1", "FGFR2", "IGF1R", "INSR", "AKT1", "MTOR",
    "MAPK1", "MAP2K1", "RAF1", "NRAS", "HRAS", "ROS1", "RET", "NTRK1", "ARID1A", "SMARCA4", "KMT2D", "SETD2", "ATM",
    "BRCA1", "BRCA2", "MLH1", "MSH2", "ERCC1", "RRM1", "TYMS", "ABCB1", "ABCG2", "NQO1", "GSTP1", "TXNRD1", "SOD2",
    "CAT", "HMOX1", "FOS", "JUN", "EGR1", "ATF3", "DUSP1", "KLF4", "KLF6", "CYR61", "CTGF", "SERPINE1", "THBS1", "LOX",
    "PLAU", "PLAUR", "ANGPT2", "ESM1", "SCGB1A1", "SCGB3A2", "AGER", "CLDN18", "LAMP3", "HOPX", "RPL13A", "RPS18",
    "HPRT1", "TBP", "UBC", "YWHAZ", "SDHA", "PPIA", "GUSB", "TFRC", "SFTPD", "SFTPA2", "CEACAM6", "AQP1",
];

/// Background co-expression modules (proliferation, hypoxia, ...) shared by filler genes.
const BACKGROUND_FACTORS: usize = 6;

/// How one gene's ln(FPKM) is made: `level + spread * (loading * factor + sqrt(1 - loading²) * noise)`.
struct GeneModel {
    symbol: String,
    level: f64,
    spread: f64,
    /// Index into [metagenes..., background factors...] and the loading on it; 0 for none.
    factor: usize,
    loading: f64,
    /// Chance that a cell of this gene is NaN.
    missing: f64,
}

fn gene_models(spec: &CohortSpec) -> Vec<GeneModel> {
    let mut draws = Draws::new(spec.seed, stream::GENE_MODELS);
    let mut models = Vec::with_capacity(spec.genes);
    for (symbol, metagene, sign, level) in PANEL_MODEL {
        let loading = sign * draws.range(0.7, 0.85);
        // The panel's own NaNs exercise the seed's "missing -> 0" step.
        models.push(GeneModel { symbol: symbol.into(), level, spread: 0.7, factor: metagene, loading, missing: 0.01 });
    }
    let mut filler = 0;
    while models.len() < spec.genes {
        let symbol = match FILLER_GENES.get(filler) {
            Some(name) => name.to_string(),
            None => format!("SYNTH{:05}", filler - FILLER_GENES.len() + 1),
        };
        filler += 1;
        let level = 0.8 + 1.6 * draws.normal();
        let spread = draws.range(0.35, 0.9);
        let (factor, loading) = match draws.weighted(&[0.48, 0.02, 0.5]) {
            // A few genes beyond the panel follow the metagenes too, as real pathways do.
            1 => (draws.below(2), draws.range(0.3, 0.6)),
            0 => (3 + draws.below(BACKGROUND_FACTORS), draws.range(0.2, 0.7)),
            _ => (0, 0.0),
        };
        let missing = if draws.chance(0.03) { draws.range(0.05, 0.4) } else { 0.002 };
        models.push(GeneModel { symbol, level, spread, factor, loading, missing });
    }
    models
}

/// One patient's expression column, genes in model order. Every gene consumes the same number
/// of draws, so adding genes leaves the values of the first ones unchanged.
fn expression_column(spec: &CohortSpec, patient: &Patient, models: &[GeneModel]) -> Vec<f64> {
    let mut draws = Draws::new(spec.seed, stream::EXPRESSION + patient.site_index as u64);
    let mut factors = [0.0; 3 + BACKGROUND_FACTORS];
    factors[..3].copy_from_slice(&patient.latent.metagenes);
    for factor in &mut factors[3..] {
        *factor = draws.normal();
    }
    models
        .iter()
        .map(|model| {
            let noise = draws.normal();
            let missing = draws.chance(model.missing);
            let z = model.loading * factors[model.factor] + (1.0 - model.loading * model.loading).sqrt() * noise;
            // FPKM: log-normal around the gene's level; weakly expressed genes hit zero.
            let value = ((model.level + model.spread * z).exp() - 0.1).max(0.0);
            if missing { f64::NAN } else { value }
        })
        .collect()
}

/// "12.345", "0.5", "0", "NaN".
fn format_expression(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The symbols of the table in row order (alphabetical, as GEO tables usually are).
pub fn gene_symbols(spec: &CohortSpec) -> Vec<String> {
    let mut symbols: Vec<String> = gene_models(spec).into_iter().map(|m| m.symbol).collect();
    symbols.sort();
    symbols
}

/// Writes the table for the R01 patients with RNA-seq, columns in case-id order.
pub fn write_genomic(spec: &CohortSpec, patients: &[Patient], path: &Path) -> Result<(), SynthError> {
    let models = gene_models(spec);
    let samples: Vec<&Patient> = patients.iter().filter(|p| p.site == Site::R01 && p.has_rna_seq).collect();
    let columns: Vec<Vec<f64>> = samples.iter().map(|p| expression_column(spec, p, &models)).collect();
    let mut order: Vec<usize> = (0..models.len()).collect();
    order.sort_by(|&a, &b| models[a].symbol.cmp(&models[b].symbol));

    let file = File::create(path).map_err(|e| SynthError::io(path, e))?;
    let mut out = BufWriter::new(file);
    let io = |e| SynthError::io(path, e);
    out.write_all(b"gene").map_err(io)?;
    for sample in &samples {
        write!(out, "\t{}", sample.id).map_err(io)?;
    }
    out.write_all(b"\n").map_err(io)?;
    let mut line = String::new();
    for gene in order {
        line.clear();
        line.push_str(&models[gene].symbol);
        for column in &columns {
            line.push('\t');
            line.push_str(&format_expression(column[gene]));
        }
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(io)?;
    }
    crate::finish(out, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn symbols_are_unique_and_include_the_panel() {
        let spec = CohortSpec { genes: 1000, ..CohortSpec::default() };
        let symbols = gene_symbols(&spec);
        assert_eq!(symbols.len(), 1000);
        let unique: BTreeSet<&String> = symbols.iter().collect();
        assert_eq!(unique.len(), 1000);
        for gene in PANEL_GENES {
            assert!(unique.contains(&gene.to_string()), "{gene}");
        }
        assert!(PANEL_MODEL.iter().zip(PANEL_GENES).all(|(model, gene)| model.0 == gene));
    }

    #[test]
    fn expression_prints_compactly() {
        assert_eq!(format_expression(12.3456), "12.346");
        assert_eq!(format_expression(0.5), "0.5");
        assert_eq!(format_expression(0.0), "0");
        assert_eq!(format_expression(10.0), "10");
        assert_eq!(format_expression(f64::NAN), "NaN");
    }
}
