//! `imaging.radiomics`: pyradiomics-compatible radiomics features for every patient of a
//! cohort manifest, as Parquet with one row per patient. The work is in `flow_radiomics`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use flow_engine::diagnostic::suggestion;
use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_preprocess::io::{DenseColumn, DenseValues, write_dense_parquet};
use flow_radiomics::cohort::{Cancelled, CaseError, OnError, extract_cohort};
use flow_radiomics::{Case, Feature, FeatureClass, Settings, read_manifest};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct ImagingRadiomics;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "all_classes")]
    classes: Vec<String>,
    #[serde(default = "default_bin_width")]
    bin_width: f64,
    #[serde(default = "default_label")]
    label: i64,
    #[serde(default)]
    voxel_array_shift: f64,
    #[serde(default = "default_on_error")]
    on_error: String,
    #[serde(default = "default_id_column")]
    id_column: String,
}

fn all_classes() -> Vec<String> {
    FeatureClass::ALL.iter().map(|c| c.name().to_string()).collect()
}
fn default_bin_width() -> f64 {
    25.0
}
fn default_label() -> i64 {
    1
}
fn default_on_error() -> String {
    "fail".into()
}
fn default_id_column() -> String {
    "subject".into()
}

impl Params {
    fn settings(&self) -> Result<Settings, ParamError> {
        let mut classes = Vec::new();
        for (index, name) in self.classes.iter().enumerate() {
            let class = FeatureClass::from_name(name).ok_or_else(|| {
                let names = FeatureClass::ALL.map(FeatureClass::name);
                ParamError::new(
                    Some("classes"),
                    format!(
                        "classes[{index}]: unknown feature class '{name}'{}; the classes are {}",
                        suggestion(name, names),
                        names.join(", ")
                    ),
                )
            })?;
            if classes.contains(&class) {
                return Err(ParamError::new(Some("classes"), format!("classes[{index}]: '{name}' is listed twice")));
            }
            classes.push(class);
        }
        if classes.is_empty() {
            return Err(ParamError::new(Some("classes"), "no feature class selected: list at least one"));
        }
        if !(self.bin_width.is_finite() && self.bin_width > 0.0) {
            return Err(ParamError::new(Some("bin_width"), "bin_width must be a positive number (pyradiomics: 25)"));
        }
        if !self.voxel_array_shift.is_finite() {
            return Err(ParamError::new(Some("voxel_array_shift"), "voxel_array_shift must be a finite number"));
        }
        if !matches!(self.on_error.as_str(), "fail" | "skip") {
            return Err(ParamError::new(
                Some("on_error"),
                format!("on_error is '{}': use fail (stop at the first bad patient) or skip", self.on_error),
            ));
        }
        if self.id_column.trim().is_empty() {
            return Err(ParamError::new(Some("id_column"), "id_column must not be empty"));
        }
        if self.id_column.starts_with("original_") {
            return Err(ParamError::new(
                Some("id_column"),
                format!(
                    "id_column '{}' starts like the feature columns (original_...): pick another name",
                    self.id_column
                ),
            ));
        }
        Ok(Settings {
            bin_width: self.bin_width,
            label: self.label,
            voxel_array_shift: self.voxel_array_shift,
            classes,
        })
    }
}

impl NodeKind for ImagingRadiomics {
    fn name(&self) -> &str {
        "imaging.radiomics"
    }

    fn version(&self) -> &str {
        // 2: images and masks with non-finite intensities in the ROI, absurd grey-level ranges or
        // fractional labels, once measured (NaN or garbage features), are refused; cached results
        // of those must not be served.
        // 3: GLRLM drops directions in which no line meets two ROI voxels, and GLCM's MCC keeps
        // pyradiomics' epsilon, as pyradiomics does: both change features of some ROIs.
        "3"
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "pyradiomics-compatible radiomics features (107 by default) per patient of a cohort".into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "images",
                PortType::ANY,
                "a folder holding manifest.csv, a folder of patient folders each holding one, or a manifest CSV: subject,image,mask per row (NIfTI, NRRD, or a DICOM series folder with a SEG or RTSTRUCT mask; paths relative to the manifest)",
            )]),
            outputs: Outputs::Fixed(vec![
                PortSpec::new(
                    "table",
                    PortType::file("parquet"),
                    "one row per patient: the id column, then original_<class>_<Feature> columns in pyradiomics order",
                ),
                PortSpec::new(
                    "skipped",
                    PortType::file("csv"),
                    "patients left out under on_error: skip, with the reason (header only when none)",
                ),
            ]),
            params: vec![
                ParamDoc::optional(
                    "classes",
                    "list",
                    "all seven",
                    "feature classes: shape, firstorder, glcm, gldm, glrlm, glszm, ngtdm",
                ),
                ParamDoc::optional(
                    "bin_width",
                    "number",
                    "25",
                    "grey-level bin width for texture, Entropy, Uniformity",
                ),
                ParamDoc::optional("label", "integer", "1", "mask value of the ROI"),
                ParamDoc::optional(
                    "voxel_array_shift",
                    "number",
                    "0",
                    "added to intensities for Energy, TotalEnergy, RootMeanSquared",
                ),
                ParamDoc::optional(
                    "on_error",
                    "fail|skip",
                    "fail",
                    "a patient that cannot be measured fails the node, or is skipped and listed in `skipped`",
                ),
                ParamDoc::optional("id_column", "string", "subject", "name of the patient id column"),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        typed.settings()?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let settings = params.settings().map_err(|e| NodeError::Failed(e.message))?;
        let cases = read_manifest(ctx.input("images")?).map_err(|e| classify(e.is_bad_data(), e.to_string()))?;
        let skip = params.on_error == "skip";
        let started = Instant::now();
        // Under `fail`, the first failure (its message, and whether the data is to blame) is the
        // node's error; the cohort starts no patient after it.
        let first_failure: Mutex<Option<(String, bool)>> = Mutex::new(None);
        let log = Mutex::new(());
        let on_error = if skip { OnError::Continue } else { OnError::Stop };
        let results = extract_cohort(&cases, &settings, ctx.threads, on_error, ctx.cancel.flag(), &|case, result| {
            let _serial = log.lock();
            if let Err(error) = result {
                let line = format!("patient {}: {error}", case.subject);
                let _ = ctx.log(&line);
                if !skip && let Ok(mut first) = first_failure.lock() {
                    first.get_or_insert((line, error.is_bad_data()));
                }
            }
        })
        .map_err(|Cancelled| NodeError::Cancelled)?;
        if let Some((line, bad_data)) = first_failure.into_inner().ok().flatten() {
            return Err(classify(bad_data, format!("{line}\n(set `on_error: skip` to leave such patients out)")));
        }
        let mut rows: Vec<(&Case, Vec<Feature>)> = Vec::new();
        let mut skipped: Vec<(&Case, CaseError)> = Vec::new();
        for (case, result) in cases.iter().zip(results) {
            match result {
                Some(Ok(features)) => rows.push((case, features)),
                Some(Err(error)) => skipped.push((case, error)),
                None => return Err(NodeError::Failed(format!("patient {} was not measured", case.subject))),
            }
        }
        ctx.log(&format!(
            "{} patients measured, {} skipped, in {:.2} ms on {} threads",
            rows.len(),
            skipped.len(),
            started.elapsed().as_secs_f64() * 1e3,
            ctx.threads
        ))?;
        if rows.is_empty() {
            let all_bad_data = skipped.iter().all(|(_, e)| e.is_bad_data());
            return Err(classify(
                all_bad_data,
                format!(
                    "no patient could be measured ({} skipped; the first: {})",
                    skipped.len(),
                    skipped.first().map(|(c, e)| format!("{}: {e}", c.subject)).unwrap_or_default()
                ),
            ));
        }
        let written = Instant::now();
        write_feature_table(&params.id_column, &rows, ctx.output("table")?)?;
        write_skipped(ctx.output("skipped")?, &skipped)?;
        ctx.log(&format!("feature table written in {:.2} ms", written.elapsed().as_secs_f64() * 1e3))
    }
}

/// Bad data is the user's to fix ([`NodeError::BadInput`], exit 2); anything else (a file
/// that cannot be read for permissions, a bug) is a failure of the run.
pub(crate) fn classify(bad_data: bool, message: String) -> NodeError {
    if bad_data { NodeError::BadInput(message) } else { NodeError::Failed(message) }
}

/// One row per patient: the id column, then each feature's column, written without building
/// a polars table (for one patient that was as costly as writing the file).
fn write_feature_table(id_column: &str, rows: &[(&Case, Vec<Feature>)], path: &Path) -> Result<(), NodeError> {
    let ids: Vec<&str> = rows.iter().map(|(case, _)| case.subject.as_str()).collect();
    let first = &rows[0].1;
    let names: Vec<String> = first.iter().map(Feature::full_name).collect();
    let values: Vec<Vec<f64>> =
        (0..first.len()).map(|index| rows.iter().map(|(_, features)| features[index].value).collect()).collect();
    let mut columns = vec![DenseColumn { name: id_column, values: DenseValues::Text(&ids) }];
    columns.extend(
        names.iter().zip(&values).map(|(name, values)| DenseColumn { name, values: DenseValues::Float64(values) }),
    );
    write_dense_parquet(&columns, path).map_err(|e| NodeError::Failed(e.to_string()))
}

fn write_skipped(path: &std::path::Path, skipped: &[(&Case, CaseError)]) -> Result<(), NodeError> {
    let mut writer = csv::Writer::from_path(path).map_err(|e| NodeError::Failed(format!("{}: {e}", path.display())))?;
    let mut write = |fields: [&str; 4]| {
        writer.write_record(fields).map_err(|e| NodeError::Failed(format!("{}: {e}", path.display())))
    };
    write(["subject", "image", "mask", "error"])?;
    for (case, error) in skipped {
        write([&case.subject, &case.image.to_string_lossy(), &case.mask.to_string_lossy(), &error.to_string()])?;
    }
    writer.flush().map_err(|e| NodeError::io(format!("write {}", path.display()), e))
}
