//! The action cache: action key -> the digests of the outputs that action produced.
//!
//! It is one append-only log, read whole into a hash map at start (one read, not one file per
//! node, which is what keeps a no-op run of 10k nodes fast). Each record is a single line
//! written with one `write` call after its objects are in the CAS, so a kill leaves at worst a
//! torn last line, which loading ignores. A log with another version header is set aside and
//! the cache starts empty: a stale cache costs a rebuild, never an error.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Shape};
use crate::store::{repair_tail, write_atomic};

const HEADER: &str = "flow-actions 1\n";

/// One output of a cached action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRecord {
    pub port: String,
    pub shape: Shape,
    pub digest: Digest,
}

pub struct ActionLog {
    path: PathBuf,
    records: HashMap<Digest, Vec<OutputRecord>>,
    file: Option<File>,
}

impl ActionLog {
    /// Loads the log (missing is empty). Nothing is opened for writing until `append`.
    pub fn load(path: &Path) -> io::Result<ActionLog> {
        let mut records = HashMap::new();
        match fs::read_to_string(path) {
            Ok(text) if text.starts_with(HEADER) => {
                let mut valid_len = HEADER.len();
                for line in text[HEADER.len()..].split_inclusive('\n') {
                    // A line without its newline was torn by a kill; drop it.
                    let Some(record) = line.strip_suffix('\n') else { break };
                    valid_len += line.len();
                    if let Some((key, outputs)) = parse_line(record) {
                        records.insert(key, outputs);
                    }
                }
                if valid_len < text.len() {
                    // Cut the torn tail so the next append starts on a fresh line.
                    OpenOptions::new().write(true).open(path)?.set_len(valid_len as u64)?;
                }
            }
            Ok(_) => {
                let aside = path.with_extension("log.old");
                fs::rename(path, &aside)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(ActionLog { path: path.to_path_buf(), records, file: None })
    }

    pub fn get(&self, key: &Digest) -> Option<&[OutputRecord]> {
        self.records.get(key).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Digest, &Vec<OutputRecord>)> {
        self.records.iter()
    }

    /// Records an action; call only once its output objects are in the CAS.
    pub fn append(&mut self, key: Digest, outputs: Vec<OutputRecord>) -> io::Result<()> {
        let line = format_line(&key, &outputs);
        if self.file.is_none() {
            let fresh = !self.path.exists();
            let mut file = OpenOptions::new().append(true).create(true).mode(0o600).open(&self.path)?;
            if fresh {
                file.write_all(HEADER.as_bytes())?;
            }
            self.file = Some(file);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(line.as_bytes())?;
        }
        self.records.insert(key, outputs);
        Ok(())
    }

    /// Rewrites the log keeping only records `keep` accepts (used by gc).
    pub fn retain(&mut self, keep: impl Fn(&Digest, &[OutputRecord]) -> bool) -> io::Result<usize> {
        let before = self.records.len();
        self.records.retain(|k, v| keep(k, v));
        let mut text = String::from(HEADER);
        let mut keys: Vec<&Digest> = self.records.keys().collect();
        keys.sort();
        for key in keys {
            text.push_str(&format_line(key, &self.records[key]));
        }
        self.file = None;
        write_atomic(&self.path, text.as_bytes())?;
        Ok(before - self.records.len())
    }
}

fn format_line(key: &Digest, outputs: &[OutputRecord]) -> String {
    let mut line = key.to_hex();
    for output in outputs {
        line.push(' ');
        line.push_str(&output.port);
        line.push('=');
        line.push(output.shape.letter());
        line.push(':');
        line.push_str(&output.digest.to_hex());
    }
    line.push('\n');
    line
}

fn parse_line(line: &str) -> Option<(Digest, Vec<OutputRecord>)> {
    let mut fields = line.split(' ');
    let key: Digest = fields.next()?.parse().ok()?;
    let mut outputs = Vec::new();
    for field in fields {
        let (port, rest) = field.split_once('=')?;
        let (shape, digest) = rest.split_once(':')?;
        let shape = Shape::from_letter(shape.chars().next()?)?;
        outputs.push(OutputRecord { port: port.to_string(), shape, digest: digest.parse().ok()? });
    }
    Some((key, outputs))
}

/// What went into each action key, for explaining reruns. Read only by `why` and `plan`.
pub struct ManifestLog {
    path: PathBuf,
    file: Option<File>,
}

impl ManifestLog {
    /// Call with the store lock held: it repairs a torn tail left by a kill.
    pub fn open(path: &Path) -> io::Result<ManifestLog> {
        repair_tail(path)?;
        Ok(ManifestLog { path: path.to_path_buf(), file: None })
    }

    pub fn append(&mut self, key: &Digest, manifest_json: &str) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().append(true).create(true).mode(0o600).open(&self.path)?);
        }
        let line = format!("{} {}\n", key.to_hex(), manifest_json);
        match self.file.as_mut() {
            Some(file) => file.write_all(line.as_bytes()),
            None => Ok(()),
        }
    }

    /// The manifests of the given keys, as JSON text.
    pub fn find(path: &Path, keys: &[Digest]) -> HashMap<Digest, String> {
        let mut found = HashMap::new();
        let Ok(text) = fs::read_to_string(path) else { return found };
        for line in text.lines() {
            let Some((key, json)) = line.split_once(' ') else { continue };
            let Ok(key) = key.parse::<Digest>() else { continue };
            if keys.contains(&key) {
                found.insert(key, json.to_string());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(port: &str, byte: u8) -> OutputRecord {
        OutputRecord { port: port.into(), shape: Shape::File, digest: Digest([byte; 32]) }
    }

    #[test]
    fn records_survive_reload_and_torn_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        let mut log = ActionLog::load(&path).unwrap();
        log.append(Digest([1; 32]), vec![out("a", 2), out("b", 3)]).unwrap();
        log.append(Digest([4; 32]), vec![]).unwrap();
        drop(log);
        // Simulate a kill in the middle of writing a third record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&Digest([9; 32]).to_hex().as_bytes()[..20]).unwrap();
        let mut log = ActionLog::load(&path).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log.get(&Digest([1; 32])).unwrap(), &[out("a", 2), out("b", 3)]);
        assert!(log.get(&Digest([9; 32])).is_none());
        log.append(Digest([5; 32]), vec![out("c", 6)]).unwrap();
        drop(log);
        let log = ActionLog::load(&path).unwrap();
        assert_eq!(log.get(&Digest([5; 32])).unwrap(), &[out("c", 6)], "appends after a torn line survive");
    }

    #[test]
    fn other_versions_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        fs::write(&path, "flow-actions 0\nwhatever\n").unwrap();
        let log = ActionLog::load(&path).unwrap();
        assert!(log.is_empty());
        assert!(dir.path().join("actions.log.old").exists());
    }
}
