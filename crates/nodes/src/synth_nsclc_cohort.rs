//! `synth.nsclc_cohort`: a deterministic synthetic NSCLC radiogenomics cohort in the real file
//! formats, so the default workflow runs with no download. The work is in `flow_synth`.
//!
//! ```yaml
//! cohort:
//!   uses: synth.nsclc_cohort
//!   with: { seed: 42 }          # defaults: 162 R01 + 49 AMC patients, 1000 genes, 64x64x40 CT
//! ```
//! Outputs: `clinical` (the TCIA clinical CSV), `genomic` (a GEO-style expression TSV, genes as
//! rows) and `imaging` (a folder per patient with imaging: `image.nii.gz`, `mask.nii.gz` and a
//! one-row `manifest.csv`, so that a mapped node measures one patient per item). `patients: N`
//! scales both sites in the real 162:49 ratio; raising it enrols new patients and leaves the
//! others' data as it was.

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_synth::{Cohort, CohortSpec, SynthError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct SynthNsclcCohort;

const REAL_R01: usize = 162;
const REAL_PATIENTS: usize = 211;

/// As written under `with:`. `patients`, `r01` and `amc` are optional so that `patients` alone
/// can scale the cohort; the canonical form always has all three, consistent.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    patients: Option<usize>,
    #[serde(default)]
    r01: Option<usize>,
    #[serde(default)]
    amc: Option<usize>,
    #[serde(default = "default_genes")]
    genes: usize,
    #[serde(default = "default_image_size")]
    image_size: [usize; 3],
    #[serde(default = "default_imaging")]
    imaging: bool,
    /// Left out of the canonical parameters when NIfTI, so cohorts cached before the DICOM
    /// format existed keep their keys.
    #[serde(default, skip_serializing_if = "ImagingFormat::is_nifti")]
    imaging_format: ImagingFormat,
}

/// How the `imaging` output holds the volumes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum ImagingFormat {
    /// A folder per patient: image.nii.gz, mask.nii.gz, manifest.csv.
    #[default]
    Nifti,
    /// A DICOM collection as TCIA delivers it (`flow_synth::dicom`).
    Dicom,
}

impl ImagingFormat {
    fn is_nifti(&self) -> bool {
        *self == ImagingFormat::Nifti
    }
}

fn default_seed() -> u64 {
    CohortSpec::default().seed
}
fn default_genes() -> usize {
    CohortSpec::default().genes
}
fn default_image_size() -> [usize; 3] {
    CohortSpec::default().image_size
}
fn default_imaging() -> bool {
    CohortSpec::default().imaging
}

impl Params {
    /// Resolves the patient counts and checks everything `flow_synth` checks, naming the param.
    fn spec(&self) -> Result<CohortSpec, ParamError> {
        let defaults = CohortSpec::default();
        let (r01, amc) = match (self.patients, self.r01, self.amc) {
            (Some(0), None, None) => return Err(ParamError::new(Some("patients"), "patients must be at least 1")),
            (Some(total), None, None) => {
                // Scale both sites in the real cohort's ratio, keeping at least one R01 patient.
                let r01 = ((total * REAL_R01) as f64 / REAL_PATIENTS as f64).round().max(1.0) as usize;
                (r01, total.saturating_sub(r01))
            }
            (total, r01, amc) => {
                let r01 = r01.unwrap_or(defaults.r01);
                let amc = amc.unwrap_or(defaults.amc);
                if let Some(total) = total.filter(|&t| t != r01 + amc) {
                    return Err(ParamError::new(
                        Some("patients"),
                        format!("patients = {total} but r01 + amc = {}: give patients alone, or r01/amc", r01 + amc),
                    ));
                }
                (r01, amc)
            }
        };
        let spec = CohortSpec {
            seed: self.seed,
            r01,
            amc,
            genes: self.genes,
            image_size: self.image_size,
            imaging: self.imaging,
        };
        spec.validate().map_err(|error| {
            let message = error.to_string();
            let field = ["r01", "genes", "image_size"].into_iter().find(|f| message.contains(f)).unwrap_or("patients");
            ParamError::new(Some(field), message)
        })?;
        Ok(spec)
    }

    fn canonical(spec: &CohortSpec, imaging_format: ImagingFormat) -> Params {
        Params {
            seed: spec.seed,
            patients: Some(spec.r01 + spec.amc),
            r01: Some(spec.r01),
            amc: Some(spec.amc),
            genes: spec.genes,
            image_size: spec.image_size,
            imaging: spec.imaging,
            imaging_format,
        }
    }
}

fn output_ports(format: ImagingFormat) -> Vec<PortSpec> {
    let imaging = match format {
        ImagingFormat::Nifti => PortSpec::new(
            "imaging",
            PortType::dir("nifti-cohort"),
            "a folder ID/ per patient with imaging: image.nii.gz (CT, HU), mask.nii.gz, manifest.csv (subject,image,mask; one row)",
        ),
        ImagingFormat::Dicom => PortSpec::new(
            "imaging",
            PortType::dir("dicom"),
            "a DICOM collection, ID/STUDY/SERIES/1-NNN.dcm: per patient a CT series and a SEG or RTSTRUCT of the tumour",
        ),
    };
    vec![
        PortSpec::new("clinical", PortType::file("csv"), "TCIA clinical table: 40 columns, one row per patient"),
        PortSpec::new("genomic", PortType::file("tsv"), "GEO-style expression: genes as rows, R01 case ids as columns"),
        imaging,
    ]
}

fn failed(error: SynthError) -> NodeError {
    match error {
        SynthError::Cancelled => NodeError::Cancelled,
        SynthError::Io { path, source } => NodeError::io(path.display().to_string(), source),
        other => NodeError::Failed(other.to_string()),
    }
}

impl NodeKind for SynthNsclcCohort {
    fn name(&self) -> &str {
        "synth.nsclc_cohort"
    }

    fn version(&self) -> &str {
        // 2: one folder per patient (was images/, masks/ and one manifest), and availability
        // in enrolment order; cached cohorts of version 1 have the old layout.
        "2"
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "Deterministic synthetic NSCLC radiogenomics cohort (clinical CSV, expression TSV, CT NIfTI)"
                .into(),
            inputs: Inputs::Fixed(Vec::new()),
            outputs: Outputs::Fixed(output_ports(ImagingFormat::Nifti)),
            params: vec![
                ParamDoc::optional("seed", "integer", "42", "the same seed and params give the same bytes"),
                ParamDoc::optional("patients", "integer", "211", "total patients, split 162:49 between R01 and AMC"),
                ParamDoc::optional("r01", "integer", "162", "R01 patients (RNA-seq for 80% of them)"),
                ParamDoc::optional("amc", "integer", "49", "AMC patients (no RNA-seq, pathology not collected)"),
                ParamDoc::optional("genes", "integer", "1000", "expression rows, the 21 panel genes included"),
                ParamDoc::optional("image_size", "[x, y, z]", "[64, 64, 40]", "CT voxels at 0.7 x 0.7 x 2.5 mm"),
                ParamDoc::optional("imaging", "bool", "true", "write CT volumes (false: an empty manifest only)"),
                ParamDoc::optional(
                    "imaging_format",
                    "nifti | dicom",
                    "nifti",
                    "NIfTI folders with manifests, or a DICOM collection (CT series + SEG/RTSTRUCT) to index",
                ),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound_inputs: &[&str]) -> Result<Configured, ParamError> {
        let (typed, _) = typed_params::<Params>(params)?;
        let spec = typed.spec()?;
        let canonical = serde_json::to_value(Params::canonical(&spec, typed.imaging_format))
            .map_err(|e| ParamError::new(None, format!("cannot encode parameters: {e}")))?;
        Ok(Configured {
            params: canonical,
            inputs: Inputs::Fixed(Vec::new()),
            outputs: output_ports(typed.imaging_format),
        })
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let spec = params.spec().map_err(|e| NodeError::Failed(e.message))?;
        let cohort = Cohort::generate(spec).map_err(failed)?;
        cohort.write_clinical(ctx.output("clinical")?).map_err(failed)?;
        cohort.write_genomic(ctx.output("genomic")?).map_err(failed)?;
        let (dir, cancelled) = (ctx.output("imaging")?, || ctx.cancel.is_cancelled());
        let records = match params.imaging_format {
            ImagingFormat::Nifti => cohort.write_imaging(dir, ctx.threads, &cancelled),
            ImagingFormat::Dicom => cohort.write_imaging_dicom(dir, ctx.threads, &cancelled),
        }
        .map_err(failed)?;
        let s = cohort.summary();
        ctx.log(&format!(
            "{} patients ({} R01, {} AMC), {} dead; RNA-seq {}, weight and pack years collected {}, imaging {} \
             ({} volumes written); the seed's join keeps {}",
            s.patients,
            s.r01,
            s.amc,
            s.dead,
            s.rna_seq,
            s.weight_and_pack_years_collected,
            s.imaging,
            records.len(),
            s.joined
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_become_explicit_and_patients_scales_both_sites() {
        let configured = SynthNsclcCohort.configure(&json!({}), &[]).unwrap();
        assert_eq!(
            configured.params,
            json!({"seed": 42, "patients": 211, "r01": 162, "amc": 49, "genes": 1000,
                   "image_size": [64, 64, 40], "imaging": true})
        );
        // Written or defaulted, the same cohort has the same canonical params (and key).
        let explicit = SynthNsclcCohort.configure(&configured.params, &[]).unwrap();
        assert_eq!(explicit.params, configured.params);
        let scaled = SynthNsclcCohort.configure(&json!({"patients": 500}), &[]).unwrap();
        assert_eq!((scaled.params["r01"].clone(), scaled.params["amc"].clone()), (json!(384), json!(116)));
        assert_eq!(
            configured.outputs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["clinical", "genomic", "imaging"]
        );
    }

    #[test]
    fn bad_params_name_the_field() {
        let cases = [
            (json!({"genes": 5}), "genes"),
            (json!({"r01": 0}), "r01"),
            (json!({"image_size": [64, 64, 4]}), "image_size"),
            (json!({"patients": 10, "r01": 3, "amc": 3}), "patients"),
            (json!({"seeds": 1}), "seeds"),
            (json!({"image_size": [64, 64]}), "image_size"),
        ];
        for (params, field) in cases {
            let error = SynthNsclcCohort.configure(&params, &[]).err().unwrap();
            assert_eq!(error.field.as_deref(), Some(field), "{params}: {}", error.message);
        }
    }
}
