//! `imaging.dicom_index`: a DICOM collection (as TCIA or IDC deliver one, any layout) to one
//! folder per patient that `imaging.radiomics` measures, mapped over: the patient's image
//! series (listed, as series may share folders) and the SEG or RTSTRUCT that references it,
//! with the ROI picked by a pattern. The work is in `flow_radiomics::dicom::index`.

use std::path::Path;
use std::time::Instant;

use flow_engine::kind::{
    Configured, Inputs, KindInfo, NodeContext, NodeError, NodeKind, Outputs, ParamDoc, ParamError, PortSpec, PortType,
    typed_params,
};
use flow_radiomics::dicom::index::{HeaderCache, IndexedCase, Problem, RoiRule, SegmentationKind, cases, scan};
use flow_radiomics::dicom::write_series_list;
use serde::{Deserialize, Serialize};

use crate::imaging_radiomics::classify;
use serde_json::Value;

pub struct ImagingDicomIndex;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Regular expression, case-insensitive, searched in each Segment Label / ROI Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    roi: Option<String>,
    #[serde(default = "default_segmentation")]
    segmentation: String,
    /// Image series of this Modality only (e.g. CT); empty: any.
    #[serde(default)]
    modality: String,
    #[serde(default = "default_on_error")]
    on_error: String,
}

fn default_segmentation() -> String {
    "any".into()
}
fn default_on_error() -> String {
    "fail".into()
}

impl Params {
    fn rule(&self) -> Result<RoiRule, ParamError> {
        let pattern =
            match &self.roi {
                None => None,
                Some(text) => Some(regex::RegexBuilder::new(text).case_insensitive(true).build().map_err(|e| {
                    ParamError::new(Some("roi"), format!("roi is not a valid regular expression: {e}"))
                })?),
            };
        let kind = match self.segmentation.as_str() {
            "any" => SegmentationKind::Any,
            "seg" => SegmentationKind::Seg,
            "rtstruct" => SegmentationKind::RtStruct,
            other => {
                return Err(ParamError::new(
                    Some("segmentation"),
                    format!("segmentation is '{other}': use any, seg (DICOM SEG only) or rtstruct"),
                ));
            }
        };
        if !matches!(self.on_error.as_str(), "fail" | "skip") {
            return Err(ParamError::new(
                Some("on_error"),
                format!("on_error is '{}': use fail (stop at the first bad patient) or skip", self.on_error),
            ));
        }
        let modality = Some(self.modality.trim().to_ascii_uppercase()).filter(|m| !m.is_empty());
        Ok(RoiRule { pattern, kind, modality })
    }
}

impl NodeKind for ImagingDicomIndex {
    fn name(&self) -> &str {
        "imaging.dicom_index"
    }

    fn version(&self) -> &str {
        "1"
    }

    fn info(&self) -> KindInfo {
        KindInfo {
            summary: "index a DICOM collection: per patient, an image series and the SEG/RTSTRUCT ROI drawn on it"
                .into(),
            inputs: Inputs::Fixed(vec![PortSpec::new(
                "collection",
                PortType::dir("dicom"),
                "a folder of DICOM files in any layout (patient/study/series folders, flat, UIDs as names)",
            )]),
            outputs: Outputs::Fixed(vec![
                PortSpec::new(
                    "patients",
                    PortType::dir("dicom-cases"),
                    "a folder per patient: manifest.csv (subject,image,mask,roi) and image.dcmlist (the series' files), for imaging.radiomics with map",
                ),
                PortSpec::new(
                    "manifest",
                    PortType::file("csv"),
                    "one row per patient: study, image series, slices, segmentation file and kind, ROI number and name, frame of reference",
                ),
                PortSpec::new(
                    "skipped",
                    PortType::file("csv"),
                    "patients (or unreadable files) without a case, and why: no segmentation, or a problem left out under on_error: skip",
                ),
            ]),
            params: vec![
                ParamDoc::optional(
                    "roi",
                    "regex",
                    "none",
                    "picks the segment (Segment Label) or ROI (ROI Name) to measure, case-insensitive, e.g. 'gtv|tumou?r'; without it each segmentation must hold one",
                ),
                ParamDoc::optional("segmentation", "any|seg|rtstruct", "any", "which segmentation objects count"),
                ParamDoc::optional("modality", "string", "any", "image series of this Modality only, e.g. CT"),
                ParamDoc::optional(
                    "on_error",
                    "fail|skip",
                    "fail",
                    "a bad file or an ambiguous patient fails the node, or is left out and listed in `skipped`",
                ),
            ],
        }
    }

    fn configure(&self, params: &Value, _bound: &[&str]) -> Result<Configured, ParamError> {
        let (typed, canonical) = typed_params::<Params>(params)?;
        typed.rule()?;
        Ok(self.info().configured(canonical))
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<(), NodeError> {
        let params: Params = ctx.params()?;
        let rule = params.rule().map_err(|e| NodeError::Failed(e.message))?;
        let collection = ctx.input("collection")?;
        let started = Instant::now();
        // One cache per index node: a collection that moves (a new synthetic cohort is a new
        // store object) is re-read once, and no cache outlives its node's name.
        let cache_path = ctx.state_dir.join("cache/dicom-index").join(format!("{}.jsonl", ctx.node));
        let cache = HeaderCache::load(&cache_path);
        let scanned = scan(collection, &cache, ctx.threads, ctx.cancel.flag())
            .map_err(|e| classify(e.is_bad_data(), e.to_string()))?;
        if ctx.cancel.is_cancelled() {
            return Err(NodeError::Cancelled);
        }
        if scanned.headers_read > 0 || cache.len() != scanned.files.len() {
            // A cache that cannot be written costs the next run its time, not this run.
            if let Err(e) = cache.save(&scanned.files) {
                ctx.log(&format!("could not save the header cache {}: {e}", cache_path.display()))?;
            }
        }
        let (found, problems) = cases(&scanned, &rule);
        ctx.log(&format!(
            "{} files ({} headers read, the rest unchanged), {} patients with a case, {} without, in {:.2}s",
            scanned.files.len() + scanned.unreadable.len(),
            scanned.headers_read,
            found.len(),
            problems.len(),
            started.elapsed().as_secs_f64()
        ))?;
        for problem in &problems {
            ctx.log(&describe(problem))?;
        }
        let errors: Vec<&Problem> = problems.iter().filter(|p| p.is_error).collect();
        if params.on_error == "fail"
            && let Some(first) = errors.first()
        {
            return Err(NodeError::BadInput(format!(
                "{}{}\n(set `on_error: skip` to leave such patients out)",
                describe(first),
                if errors.len() > 1 {
                    format!(" (and {} more problems, in the log)", errors.len() - 1)
                } else {
                    String::new()
                }
            )));
        }
        if found.is_empty() {
            return Err(NodeError::BadInput(format!(
                "{}: no patient has an image series with a usable segmentation ({} files, {} patients without a case{})",
                collection.display(),
                scanned.files.len(),
                problems.len(),
                problems.first().map(|p| format!("; the first: {}", describe(p))).unwrap_or_default()
            )));
        }
        write_patients(ctx.output("patients")?, &found)?;
        write_manifest(ctx.output("manifest")?, &found)?;
        write_skipped(ctx.output("skipped")?, &problems)
    }
}

fn describe(problem: &Problem) -> String {
    match &problem.subject {
        Some(subject) => format!("patient {subject}: {}", problem.message),
        None => problem.message.clone(),
    }
}

fn failed(path: &Path) -> impl Fn(csv::Error) -> NodeError + '_ {
    move |e| NodeError::Failed(format!("{}: {e}", path.display()))
}

/// A folder per patient, named by the patient id: what a mapped `imaging.radiomics` measures.
fn write_patients(dir: &Path, found: &[IndexedCase]) -> Result<(), NodeError> {
    for case in found {
        if case.subject.is_empty() || case.subject.contains(['/', '\0']) || case.subject == "." || case.subject == ".."
        {
            return Err(NodeError::BadInput(format!(
                "{}: PatientID {:?} cannot name a folder; fix the PatientID (0010,0020)",
                case.segmentation.display(),
                case.subject
            )));
        }
        let folder = dir.join(&case.subject);
        std::fs::create_dir(&folder).map_err(|e| NodeError::io(format!("create {}", folder.display()), e))?;
        write_series_list(&folder.join("image.dcmlist"), &case.image_files)
            .map_err(|e| classify(e.is_bad_data(), e.to_string()))?;
        let manifest = folder.join("manifest.csv");
        let mut writer = csv::Writer::from_path(&manifest).map_err(failed(&manifest))?;
        let stamp = case.segmentation_stamp;
        let mask = path_text(&case.segmentation)?;
        writer
            .write_record(["subject", "image", "mask", "roi", "roi_name", "mask_stamp"])
            .and_then(|()| {
                writer.write_record([
                    case.subject.as_str(),
                    "image.dcmlist",
                    mask,
                    &case.roi_number.to_string(),
                    &case.roi_name,
                    &format!("{} {} {} {}", stamp.size, stamp.mtime_ns, stamp.ctime_ns, stamp.inode),
                ])
            })
            .map_err(failed(&manifest))?;
        writer.flush().map_err(|e| NodeError::io(format!("write {}", manifest.display()), e))?;
    }
    Ok(())
}

fn path_text(path: &Path) -> Result<&str, NodeError> {
    path.to_str()
        .ok_or_else(|| NodeError::BadInput(format!("{}: the path is not UTF-8; rename the file", path.display())))
}

fn write_manifest(path: &Path, found: &[IndexedCase]) -> Result<(), NodeError> {
    let mut writer = csv::Writer::from_path(path).map_err(failed(path))?;
    writer
        .write_record([
            "subject",
            "study",
            "image_series",
            "modality",
            "series_description",
            "slices",
            "segmentation",
            "segmentation_kind",
            "roi",
            "roi_name",
            "frame_of_reference",
        ])
        .map_err(failed(path))?;
    for case in found {
        writer
            .write_record([
                case.subject.as_str(),
                &case.study,
                &case.image_series,
                &case.modality,
                &case.image_description,
                &case.image_files.len().to_string(),
                path_text(&case.segmentation)?,
                case.segmentation_kind,
                &case.roi_number.to_string(),
                &case.roi_name,
                case.frame_of_reference.as_deref().unwrap_or(""),
            ])
            .map_err(failed(path))?;
    }
    writer.flush().map_err(|e| NodeError::io(format!("write {}", path.display()), e))
}

fn write_skipped(path: &Path, problems: &[Problem]) -> Result<(), NodeError> {
    let mut writer = csv::Writer::from_path(path).map_err(failed(path))?;
    writer.write_record(["subject", "error", "problem"]).map_err(failed(path))?;
    for problem in problems {
        let error = if problem.is_error { "true" } else { "false" };
        writer
            .write_record([problem.subject.as_deref().unwrap_or(""), error, &problem.message])
            .map_err(failed(path))?;
    }
    writer.flush().map_err(|e| NodeError::io(format!("write {}", path.display()), e))
}
