//! A DICOM collection indexed into cases: every file's header read once (stopping before the
//! pixel data), files grouped into series by SeriesInstanceUID, each SEG or RTSTRUCT paired
//! with the image series it references, one ROI picked per segmentation, one case per patient.
//!
//! Layout and file names do not matter (patient/study/series folders, one flat folder, UIDs as
//! names): only headers are read. Headers are kept in a [`HeaderCache`] keyed by each file's
//! path and stat ([`Stamp`]), so re-indexing an unchanged collection stats its files and reads
//! none of them.
//!
//! Pairing: a segmentation belongs to the image series its ReferencedSeriesSequence (SEG) or
//! RT Referenced Series Sequence (RTSTRUCT) names; when it names none that the collection
//! holds, to the patient's one image series in its frame of reference. A segmentation whose
//! FrameOfReferenceUID is not its image series' is a problem, never a case.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use dicom_dictionary_std::{tags, uids};
use serde::{Deserialize, Serialize};

use super::{Attrs, has_dicm_prefix, open, trimmed};
use crate::error::ImageError;

/// What a file looks like on disk; any change means its header is read again. ctime is in it
/// because no tool can set it back: a rewrite that restores size and mtime still shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub inode: u64,
    pub device: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stamp {
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
}

/// What indexing needs from one DICOM file's header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub patient: String,
    pub study: String,
    pub series: String,
    pub modality: String,
    pub series_description: String,
    pub frame_of_reference: Option<String>,
    pub content: Content,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Content {
    /// One single-frame slice of an image series (CT, MR, PET...).
    Slice,
    /// A DICOM SEG: its segments (number, label) and the series it references.
    Seg { referenced_series: Vec<String>, segments: Vec<(u32, String)> },
    /// An RTSTRUCT: its ROIs (number, name) and the series its contours reference.
    RtStruct { referenced_series: Vec<String>, rois: Vec<(u32, String)> },
    /// Anything else (multi-frame images, RT plans and doses, reports, DICOMDIR): not used.
    Other { what: String },
}

/// Reads the header of `path` up to its pixel data; `None` when the file is not DICOM (no
/// `DICM` signature), which collections mix in (README, checksums, licences).
pub fn read_header(path: &Path) -> Result<Option<Header>, ImageError> {
    if !has_dicm_prefix(path)? {
        return Ok(None);
    }
    let obj = open(path, true)?;
    let a = Attrs::new(&obj, path);
    let sop_class = trimmed(obj.meta().media_storage_sop_class_uid()).to_string();
    let sop_class = a.opt_string(tags::SOP_CLASS_UID).unwrap_or(sop_class);
    let modality = a.opt_string(tags::MODALITY).unwrap_or_default();
    let required = |tag| a.opt_string(tag).filter(|s| !s.is_empty()).ok_or_else(|| a.err(tag, "missing"));
    if sop_class == uids::MEDIA_STORAGE_DIRECTORY_STORAGE {
        return Ok(Some(Header {
            patient: String::new(),
            study: String::new(),
            series: String::new(),
            modality,
            series_description: String::new(),
            frame_of_reference: None,
            content: Content::Other { what: "DICOMDIR".into() },
        }));
    }
    let content = if sop_class == uids::SEGMENTATION_STORAGE || modality == "SEG" {
        let mut segments = Vec::new();
        for (i, item) in a.items(tags::SEGMENT_SEQUENCE)?.iter().enumerate() {
            let s = a.within(item, format!(" in item {} of the Segment Sequence", i + 1));
            segments.push((s.uint(tags::SEGMENT_NUMBER)?, s.opt_string(tags::SEGMENT_LABEL).unwrap_or_default()));
        }
        let mut referenced_series = Vec::new();
        for item in a.items(tags::REFERENCED_SERIES_SEQUENCE)? {
            referenced_series.extend(a.within(item, String::new()).opt_string(tags::SERIES_INSTANCE_UID));
        }
        Content::Seg { referenced_series, segments }
    } else if sop_class == uids::RT_STRUCTURE_SET_STORAGE || modality == "RTSTRUCT" {
        let mut rois = Vec::new();
        for (i, item) in a.items(tags::STRUCTURE_SET_ROI_SEQUENCE)?.iter().enumerate() {
            let r = a.within(item, format!(" in item {} of the Structure Set ROI Sequence", i + 1));
            rois.push((r.uint(tags::ROI_NUMBER)?, r.opt_string(tags::ROI_NAME).unwrap_or_default()));
        }
        let mut referenced_series = Vec::new();
        for frame in a.items(tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)? {
            for study in a.within(frame, String::new()).items(tags::RT_REFERENCED_STUDY_SEQUENCE)? {
                for series in a.within(study, String::new()).items(tags::RT_REFERENCED_SERIES_SEQUENCE)? {
                    referenced_series.extend(a.within(series, String::new()).opt_string(tags::SERIES_INSTANCE_UID));
                }
            }
        }
        Content::RtStruct { referenced_series, rois }
    } else if a.has(tags::ROWS) && a.opt_uint(tags::NUMBER_OF_FRAMES)?.unwrap_or(1) <= 1 {
        Content::Slice
    } else if a.has(tags::ROWS) {
        Content::Other { what: format!("a multi-frame {modality} image (enhanced images are not read)") }
    } else {
        Content::Other {
            what: format!("a {} object without pixels", if modality.is_empty() { "DICOM" } else { &modality }),
        }
    };
    let frame_of_reference = match &content {
        // An RTSTRUCT names its frame in its Referenced Frame of Reference Sequence.
        Content::RtStruct { .. } => a
            .items(tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)?
            .first()
            .and_then(|item| a.within(item, String::new()).opt_string(tags::FRAME_OF_REFERENCE_UID)),
        _ => a.opt_string(tags::FRAME_OF_REFERENCE_UID),
    }
    .filter(|f| !f.is_empty());
    Ok(Some(Header {
        patient: required(tags::PATIENT_ID)?,
        study: required(tags::STUDY_INSTANCE_UID)?,
        series: required(tags::SERIES_INSTANCE_UID)?,
        modality,
        series_description: a.opt_string(tags::SERIES_DESCRIPTION).unwrap_or_default(),
        frame_of_reference,
        content,
    }))
}

/// The headers of a collection's files by path and [`Stamp`], kept between runs in one JSON
/// Lines file. A missing, damaged or older-version file is an empty cache: it only costs a
/// re-read.
pub struct HeaderCache {
    path: PathBuf,
    entries: HashMap<PathBuf, (Stamp, Option<Header>)>,
}

#[derive(Deserialize)]
struct CacheLine {
    path: PathBuf,
    stamp: Stamp,
    header: Option<Header>,
}

/// A [`CacheLine`] as written, borrowing from the scan.
#[derive(Serialize)]
struct CacheLineRef<'a> {
    path: &'a Path,
    stamp: Stamp,
    header: &'a Option<Header>,
}

const CACHE_VERSION: &str = "flow dicom header cache 1";

impl HeaderCache {
    pub fn load(path: &Path) -> HeaderCache {
        let mut entries = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(path) {
            let mut lines = text.lines();
            if lines.next() == Some(CACHE_VERSION) {
                for line in lines {
                    if let Ok(entry) = serde_json::from_str::<CacheLine>(line) {
                        entries.insert(entry.path, (entry.stamp, entry.header));
                    }
                }
            }
        }
        HeaderCache { path: path.to_path_buf(), entries }
    }

    /// How many files the cache knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The header of `path` if the cache holds it for this exact stamp.
    fn get(&self, path: &Path, stamp: &Stamp) -> Option<Option<Header>> {
        self.entries.get(path).filter(|(s, _)| s == stamp).map(|(_, h)| h.clone())
    }

    /// Writes the cache with the entries of `files` only (files gone from the collection drop
    /// out), atomically: a temporary file renamed over the old one, private to the user.
    pub fn save(&self, files: &[IndexedFile]) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            let mut out = std::io::BufWriter::new(file);
            writeln!(out, "{CACHE_VERSION}")?;
            for file in files {
                let line = CacheLineRef { path: &file.path, stamp: file.stamp, header: &file.header };
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        let result = write();
        if result.is_err() {
            // Only the temporary file this call created; the cache it was to replace stays.
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// One file of the collection: `header` is `None` for a file that is not DICOM.
#[derive(Clone, Debug)]
pub struct IndexedFile {
    pub path: PathBuf,
    pub stamp: Stamp,
    pub header: Option<Header>,
}

/// Every file under a folder with its header, and the files whose header could not be read.
pub struct Scan {
    pub files: Vec<IndexedFile>,
    pub unreadable: Vec<ImageError>,
    /// How many headers were read (not answered by the cache).
    pub headers_read: usize,
}

/// The regular files under `root` (symbolic links to files followed, to folders not, so a
/// link cannot loop), sorted by path.
fn walk(root: &Path) -> Result<Vec<(PathBuf, Stamp)>, ImageError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::Io { path, source }
    };
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() || kind.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => files.push((path, Stamp::of(&meta))),
                    Ok(_) => {}
                    // A dangling link names nothing to index.
                    Err(e) if kind.is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path)(e)),
                }
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// A file's header, `None` when it is not DICOM.
type HeaderResult = Result<Option<Header>, ImageError>;

/// Reads the headers of every file under `root`, `threads` at a time, answering unchanged
/// files from `cache`. Stops early (returning what it has) once `cancel` is set.
pub fn scan(root: &Path, cache: &HeaderCache, threads: usize, cancel: &AtomicBool) -> Result<Scan, ImageError> {
    let listed = walk(root)?;
    let mut files: Vec<Option<IndexedFile>> = vec![None; listed.len()];
    let mut todo = Vec::new();
    for (i, (path, stamp)) in listed.iter().enumerate() {
        match cache.get(path, stamp) {
            Some(header) => files[i] = Some(IndexedFile { path: path.clone(), stamp: *stamp, header }),
            None => todo.push(i),
        }
    }
    let next = AtomicUsize::new(0);
    let read: Mutex<Vec<(usize, HeaderResult)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let work = || {
            let mut mine = Vec::new();
            loop {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                mine.push((i, read_header(&listed[i].0)));
            }
            if let Ok(mut all) = read.lock() {
                all.extend(mine);
            }
        };
        for _ in 1..threads.clamp(1, todo.len().max(1)) {
            scope.spawn(work);
        }
        work();
    });
    let read = read.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    let headers_read = read.len();
    let mut unreadable = Vec::new();
    for (i, result) in read {
        match result {
            Ok(header) => files[i] = Some(IndexedFile { path: listed[i].0.clone(), stamp: listed[i].1, header }),
            Err(error) => unreadable.push(error),
        }
    }
    unreadable.sort_by_key(|e| e.to_string());
    Ok(Scan { files: files.into_iter().flatten().collect(), unreadable, headers_read })
}

/// Which segmentation objects may give a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentationKind {
    Any,
    Seg,
    RtStruct,
}

/// How a case's ROI is chosen among a segmentation's segments or ROIs.
pub struct RoiRule {
    /// Matched against each Segment Label or ROI Name; `None`: the segmentation must have one.
    pub pattern: Option<regex::Regex>,
    pub kind: SegmentationKind,
    /// Image series of this Modality only (upper case, e.g. "CT"); `None`: any.
    pub modality: Option<String>,
}

/// One patient's image series, segmentation and ROI: what radiomics measures.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedCase {
    pub subject: String,
    pub study: String,
    pub image_series: String,
    pub image_description: String,
    pub modality: String,
    /// The series' slice files, sorted by path (the reader orders them along the normal).
    pub image_files: Vec<(PathBuf, Stamp)>,
    pub segmentation: PathBuf,
    pub segmentation_stamp: Stamp,
    /// "SEG" or "RTSTRUCT".
    pub segmentation_kind: &'static str,
    pub roi_number: u32,
    pub roi_name: String,
    pub frame_of_reference: Option<String>,
}

/// A patient (or, for a file whose header cannot be read, a file) left without a case.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The patient, when known.
    pub subject: Option<String>,
    pub message: String,
    /// Whether the data is wrong (a bad file, mismatched references, an ambiguous ROI), as
    /// opposed to a patient who simply has no segmentation.
    pub is_error: bool,
}

struct Series<'a> {
    header: &'a Header,
    files: Vec<&'a IndexedFile>,
}

/// Groups `scan` into series and pairs them: one case per patient with exactly one usable
/// (image series, segmentation, ROI), a [`Problem`] for every other patient with images, and
/// one for every unreadable file. Cases come sorted by subject.
pub fn cases(scan: &Scan, rule: &RoiRule) -> (Vec<IndexedCase>, Vec<Problem>) {
    let mut problems: Vec<Problem> =
        scan.unreadable.iter().map(|e| Problem { subject: None, message: e.to_string(), is_error: true }).collect();
    let mut series: BTreeMap<&str, Series<'_>> = BTreeMap::new();
    let mut segmentations: Vec<&IndexedFile> = Vec::new();
    for file in &scan.files {
        let Some(header) = &file.header else { continue };
        match header.content {
            Content::Slice if rule.modality.as_ref().is_some_and(|m| !header.modality.eq_ignore_ascii_case(m)) => {}
            Content::Slice => {
                let entry = series.entry(header.series.as_str()).or_insert(Series { header, files: Vec::new() });
                if entry.header.patient != header.patient {
                    problems.push(Problem {
                        subject: Some(header.patient.clone()),
                        message: format!(
                            "{}: series {} is also patient {}'s ({}); a series belongs to one patient",
                            file.path.display(),
                            header.series,
                            entry.header.patient,
                            entry.files.first().map(|f| f.path.display().to_string()).unwrap_or_default()
                        ),
                        is_error: true,
                    });
                    continue;
                }
                entry.files.push(file);
            }
            Content::Seg { .. } | Content::RtStruct { .. } => segmentations.push(file),
            Content::Other { .. } => {}
        }
    }

    // Each patient's candidate (series, segmentation, roi) triples, and why others failed.
    let mut candidates: BTreeMap<&str, Vec<IndexedCase>> = BTreeMap::new();
    let mut patient_problems: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for file in segmentations {
        let Some(header) = &file.header else { continue };
        let (kind, referenced, labels, what) = match &header.content {
            Content::Seg { referenced_series, segments } => ("SEG", referenced_series, segments, "segment"),
            Content::RtStruct { referenced_series, rois } => ("RTSTRUCT", referenced_series, rois, "ROI"),
            _ => continue,
        };
        let wanted = match rule.kind {
            SegmentationKind::Any => true,
            SegmentationKind::Seg => kind == "SEG",
            SegmentationKind::RtStruct => kind == "RTSTRUCT",
        };
        if !wanted {
            continue;
        }
        let patient = header.patient.as_str();
        let mut fail = |message: String| {
            patient_problems.entry(patient).or_default().push(format!("{}: {message}", file.path.display()));
        };
        // The image series it references, else the patient's one series in its frame.
        let named: Vec<&Series<'_>> = referenced.iter().filter_map(|uid| series.get(uid.as_str())).collect();
        let image = match named.as_slice() {
            [one] => *one,
            [] => {
                let same_frame: Vec<&Series<'_>> = series
                    .values()
                    .filter(|s| s.header.patient == header.patient)
                    .filter(|s| {
                        header.frame_of_reference.is_some() && s.header.frame_of_reference == header.frame_of_reference
                    })
                    .collect();
                match same_frame.as_slice() {
                    [one] => *one,
                    [] => {
                        let refs = if referenced.is_empty() { "none".to_string() } else { referenced.join(", ") };
                        fail(format!(
                            "this {kind} references series {refs}, none of which is in the collection, and no image \
                             series of patient {patient} is in its frame of reference ({}); download the images it was \
                             drawn on",
                            header.frame_of_reference.as_deref().unwrap_or("none given")
                        ));
                        continue;
                    }
                    many => {
                        let uids: Vec<&str> = many.iter().map(|s| s.header.series.as_str()).collect();
                        fail(format!(
                            "this {kind} references no series of the collection, and {} image series share its frame \
                             of reference ({}); cannot tell which it was drawn on",
                            many.len(),
                            uids.join(", ")
                        ));
                        continue;
                    }
                }
            }
            many => {
                let uids: Vec<&str> = many.iter().map(|s| s.header.series.as_str()).collect();
                fail(format!(
                    "this {kind} references {} image series ({}); only one is supported",
                    many.len(),
                    uids.join(", ")
                ));
                continue;
            }
        };
        if image.header.patient != header.patient {
            fail(format!(
                "this {kind} of patient {patient} references series {} of patient {}",
                image.header.series, image.header.patient
            ));
            continue;
        }
        if let (Some(mine), Some(theirs)) = (&header.frame_of_reference, &image.header.frame_of_reference)
            && mine != theirs
        {
            fail(format!(
                "its FrameOfReferenceUID is {mine} but its image series {} ({}) is in {theirs}: the {kind} was drawn on \
                 another scan or registration, and its coordinates do not belong to these images",
                image.header.series,
                image.files.first().map(|f| f.path.display().to_string()).unwrap_or_default()
            ));
            continue;
        }
        let listed = || {
            if labels.is_empty() {
                "none".to_string()
            } else {
                labels.iter().map(|(n, l)| format!("{n} {l:?}")).collect::<Vec<_>>().join(", ")
            }
        };
        let chosen: Vec<&(u32, String)> = match &rule.pattern {
            Some(pattern) => labels.iter().filter(|(_, label)| pattern.is_match(label)).collect(),
            None => labels.iter().collect(),
        };
        let (roi_number, roi_name) = match (chosen.as_slice(), &rule.pattern) {
            ([one], _) => (*one).clone(),
            ([], Some(pattern)) => {
                fail(format!("no {what} matches the roi pattern {:?}; the file has: {}", pattern.as_str(), listed()));
                continue;
            }
            ([], None) => {
                fail(format!("the file defines no {what}"));
                continue;
            }
            (_, Some(pattern)) => {
                fail(format!(
                    "{} {what}s match the roi pattern {:?}: {}; make the pattern match one",
                    chosen.len(),
                    pattern.as_str(),
                    chosen.iter().map(|(n, l)| format!("{n} {l:?}")).collect::<Vec<_>>().join(", ")
                ));
                continue;
            }
            (_, None) => {
                fail(format!(
                    "the file has {} {what}s ({}); set `roi` to a pattern that picks one",
                    chosen.len(),
                    listed()
                ));
                continue;
            }
        };
        candidates.entry(patient).or_default().push(IndexedCase {
            subject: patient.to_string(),
            study: image.header.study.clone(),
            image_series: image.header.series.clone(),
            image_description: image.header.series_description.clone(),
            modality: image.header.modality.clone(),
            image_files: image.files.iter().map(|f| (f.path.clone(), f.stamp)).collect(),
            segmentation: file.path.clone(),
            segmentation_stamp: file.stamp,
            segmentation_kind: kind,
            roi_number,
            roi_name,
            frame_of_reference: image.header.frame_of_reference.clone(),
        });
    }

    let mut cases = Vec::new();
    let mut patients: Vec<&str> = series.values().map(|s| s.header.patient.as_str()).collect();
    patients.extend(candidates.keys().copied());
    patients.extend(patient_problems.keys().copied());
    patients.sort_unstable();
    patients.dedup();
    for patient in patients {
        let found = candidates.remove(patient).unwrap_or_default();
        let failed = patient_problems.remove(patient).unwrap_or_default();
        let problem = |message: String, is_error| Problem { subject: Some(patient.to_string()), message, is_error };
        match (found.len(), failed.is_empty()) {
            (1, true) => cases.extend(found),
            (0, true) => problems.push(problem(
                format!("patient {patient} has no segmentation (SEG or RTSTRUCT) of any of its image series"),
                false,
            )),
            (0, false) => problems.push(problem(failed.join("; "), true)),
            (usable, _) => {
                let mut what: Vec<String> = found
                    .iter()
                    .map(|c| {
                        let file = c.segmentation.display();
                        format!("{file} ({} {:?} on series {})", c.segmentation_kind, c.roi_name, c.image_series)
                    })
                    .collect();
                what.extend(failed.iter().map(|f| format!("{f} (unusable)")));
                problems.push(problem(
                    format!(
                        "patient {patient} has {} segmentations, {usable} of them usable: {}; narrow `roi` or \
                         `segmentation` so that exactly one remains",
                        what.len(),
                        what.join("; ")
                    ),
                    true,
                ));
            }
        }
    }
    (cases, problems)
}
