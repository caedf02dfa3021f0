//! The cohort manifest: one CSV row per patient naming its image and mask.

use std::path::{Path, PathBuf};

use crate::dicom::Label;
use crate::error::ImageError;

/// One patient's image and mask, with paths resolved against the manifest's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub subject: String,
    pub image: PathBuf,
    pub mask: PathBuf,
    /// The segment or ROI of a DICOM SEG or RTSTRUCT mask to measure (the optional `roi`
    /// column: a number, else a label or name); `None` measures the node's label.
    pub roi: Option<Label>,
}

/// The name a cohort folder's manifest has.
pub const MANIFEST_NAME: &str = "manifest.csv";

/// Reads `subject,image,mask` rows from a manifest CSV, or from `manifest.csv` inside a folder.
/// Relative paths resolve against the manifest's folder; columns may come in any order, an
/// optional `roi` column picks the segment or ROI of DICOM masks, and other columns are
/// ignored. Whether the listed files exist is not checked here: that is each
/// patient's own problem (so `on_error: skip` can leave out just that patient).
///
/// A folder without `manifest.csv` may instead hold one folder per patient, each with its own
/// manifest (the layout a mapped node measures one patient at a time from): their rows are read
/// in folder-name order, each relative to its own folder.
pub fn read_manifest(path: &Path) -> Result<Vec<Case>, ImageError> {
    if path.is_dir()
        && !path.join(MANIFEST_NAME).exists()
        && let Some(cases) = read_patient_folders(path)?
    {
        return Ok(cases);
    }
    let file = if path.is_dir() { path.join(MANIFEST_NAME) } else { path.to_path_buf() };
    read_manifest_file(&file)
}

/// The cases of a folder of patient folders, or `None` when no entry is a folder holding a
/// manifest (the caller then reports the missing manifest).
fn read_patient_folders(dir: &Path) -> Result<Option<Vec<Case>>, ImageError> {
    let io = |source: std::io::Error| ImageError::Io { path: dir.to_path_buf(), source };
    let mut entries: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        entries.push(entry.map_err(io)?.path());
    }
    entries.sort();
    if !entries.iter().any(|entry| entry.join(MANIFEST_NAME).is_file()) {
        return Ok(None);
    }
    let mut cases: Vec<Case> = Vec::new();
    let mut listed_in: std::collections::HashMap<String, PathBuf> = std::collections::HashMap::new();
    for entry in entries {
        let manifest = entry.join(MANIFEST_NAME);
        if !manifest.is_file() {
            return Err(ImageError::Format {
                path: entry,
                msg: format!(
                    "not a patient folder holding {MANIFEST_NAME}: a folder of patients holds one folder per \
                     patient, each with its own {MANIFEST_NAME} (subject,image,mask), and nothing else"
                ),
            });
        }
        for case in read_manifest_file(&manifest)? {
            if let Some(first) = listed_in.insert(case.subject.clone(), manifest.clone()) {
                return Err(ImageError::Format {
                    path: manifest,
                    msg: format!("subject `{}` is also listed in {}", case.subject, first.display()),
                });
            }
            cases.push(case);
        }
    }
    Ok(Some(cases))
}

fn read_manifest_file(file: &Path) -> Result<Vec<Case>, ImageError> {
    let file = file.to_path_buf();
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let format = |msg: String| ImageError::Format { path: file.clone(), msg };
    // A read that fails for the machine's sake (permissions, the disk) stays an I/O error; a
    // missing manifest, a ragged row or bytes that are not UTF-8 are the file's fault.
    let failure = |line: usize, error: csv::Error| {
        let message = match error.kind() {
            csv::ErrorKind::Io(source) if source.kind() == std::io::ErrorKind::NotFound => format!(
                "no manifest here: the images input must be a manifest CSV (subject,image,mask), a folder \
                 holding {MANIFEST_NAME}, or a folder of patient folders each holding one"
            ),
            csv::ErrorKind::Io(source) if !crate::error::io_error_is_bad_data(source) => {
                let source = std::io::Error::new(source.kind(), source.to_string());
                return ImageError::Io { path: file.clone(), source };
            }
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("line {line}: {len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => format!("line {line}: not valid UTF-8 text"),
            _ => format!("line {line}: {error}"),
        };
        format(message)
    };
    let mut reader = csv::Reader::from_path(&file).map_err(|e| failure(1, e))?;
    let headers = reader.headers().map_err(|e| failure(1, e))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
            format(format!(
                "line 1: no `{name}` column (the header is `{}`; a manifest needs subject,image,mask)",
                headers.iter().collect::<Vec<_>>().join(",")
            ))
        })
    };
    let (subject_col, image_col, mask_col) = (column("subject")?, column("image")?, column("mask")?);
    let roi_col = headers.iter().position(|h| h.trim() == "roi");
    let mut cases: Vec<Case> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| failure(line, e))?;
        let field = |col: usize, name: &str| {
            let value = record.get(col).map(str::trim).unwrap_or("");
            if value.is_empty() { Err(format(format!("line {line}: the `{name}` field is empty"))) } else { Ok(value) }
        };
        let subject = field(subject_col, "subject")?.to_string();
        if let Some(first) = seen.insert(subject.clone(), line) {
            return Err(format(format!("line {line}: subject `{subject}` is listed twice (first on line {first})")));
        }
        let roi = roi_col.and_then(|col| record.get(col)).map(str::trim).filter(|r| !r.is_empty()).map(|r| {
            match r.parse::<u32>() {
                Ok(number) => Label::Number(number),
                Err(_) => Label::Name(r.to_string()),
            }
        });
        cases.push(Case {
            subject,
            image: base.join(field(image_col, "image")?),
            mask: base.join(field(mask_col, "mask")?),
            roi,
        });
    }
    if cases.is_empty() {
        return Err(format("the manifest lists no patient".to_string()));
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join(MANIFEST_NAME);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn resolves_paths_against_the_manifest_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "mask,subject,image,site\nm/a.nii.gz,A,i/a.nii.gz,x\n/abs/m.nrrd,B,/abs/i.nrrd,y\n");
        let cases = read_manifest(dir.path()).unwrap();
        assert_eq!(
            cases[0],
            Case {
                subject: "A".into(),
                image: dir.path().join("i/a.nii.gz"),
                mask: dir.path().join("m/a.nii.gz"),
                roi: None
            }
        );
        assert_eq!(cases[1].image, PathBuf::from("/abs/i.nrrd"));
    }

    #[test]
    fn errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "subject,image\nA,a.nii\n");
        let msg = read_manifest(&path).unwrap_err().to_string();
        assert!(msg.contains("line 1") && msg.contains("no `mask` column"), "{msg}");
        write(dir.path(), "subject,image,mask\nA,a,b\nB,,c\n");
        let msg = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("line 3") && msg.contains("`image` field is empty"), "{msg}");
        write(dir.path(), "subject,image,mask\nA,a,b\nA,c,d\n");
        let msg = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("line 3") && msg.contains("listed twice (first on line 2)"), "{msg}");
        write(dir.path(), "subject,image,mask\nA,a,b\nB,c\n");
        let msg = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("line 3: 2 fields where the header has 3"), "{msg}");
        std::fs::write(dir.path().join(MANIFEST_NAME), b"subject,image,mask\nA,\xff.nii,b\n").unwrap();
        let msg = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("line 2: not valid UTF-8"), "{msg}");
    }

    #[test]
    fn a_folder_of_patient_folders_reads_each_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["P2", "P1"] {
            std::fs::create_dir(dir.path().join(id)).unwrap();
            write(&dir.path().join(id), &format!("subject,image,mask\n{id},image.nii.gz,mask.nii.gz\n"));
        }
        let cases = read_manifest(dir.path()).unwrap();
        let subjects: Vec<&str> = cases.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(subjects, ["P1", "P2"]);
        assert_eq!(cases[1].image, dir.path().join("P2/image.nii.gz"));

        // The same subject in two folders names both manifests.
        write(&dir.path().join("P2"), "subject,image,mask\nP1,image.nii.gz,mask.nii.gz\n");
        let msg = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("P2/manifest.csv") && msg.contains("P1/manifest.csv"), "{msg}");

        // Anything else in the folder is named, with the layout expected.
        write(&dir.path().join("P2"), "subject,image,mask\nP2,image.nii.gz,mask.nii.gz\n");
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let err = read_manifest(dir.path()).unwrap_err();
        assert!(err.is_bad_data() && err.to_string().contains("notes.txt"), "{err}");
        assert!(err.to_string().contains("one folder per patient"), "{err}");

        // A manifest at the top wins: the folder is a cohort of its own.
        write(dir.path(), "subject,image,mask\nA,a,b\n");
        assert_eq!(read_manifest(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_missing_manifest_is_bad_data() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_manifest(dir.path()).unwrap_err();
        assert!(err.is_bad_data() && err.to_string().contains("no manifest here"), "{err}");
    }
}
