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
use crate::store::{repair_tail, split_complete_lines, write_atomic};

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
    /// The file has another format's header; it is set aside at the first append.
    foreign: bool,
    /// Lines that could not be read (a bad byte, a garbled record); skipped, never fatal.
    pub damaged_lines: usize,
}

impl ActionLog {
    /// Loads the log (missing is empty). Loading only reads: repairs (cutting a torn tail,
    /// setting aside a log of another version) wait for the first `append`, which the caller
    /// makes under the store lock.
    pub fn load(path: &Path) -> io::Result<ActionLog> {
        let mut records = HashMap::new();
        let mut foreign = false;
        let mut damaged_lines = 0;
        match fs::read(path) {
            Ok(bytes) if bytes.starts_with(HEADER.as_bytes()) => {
                // A torn last line (no newline: a kill mid-write) is normal and ignored.
                let (lines, _torn) = split_complete_lines(&bytes[HEADER.len()..]);
                for line in lines {
                    match std::str::from_utf8(line).ok().and_then(parse_line) {
                        Some(Line::Record(key, outputs)) => {
                            records.insert(key, outputs);
                        }
                        Some(Line::Forget(key)) => {
                            records.remove(&key);
                        }
                        None => damaged_lines += 1,
                    }
                }
            }
            Ok(bytes) if bytes.is_empty() => {}
            Ok(_) => foreign = true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(ActionLog { path: path.to_path_buf(), records, file: None, foreign, damaged_lines })
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

    /// Records an action; call only once its output objects are in the CAS, with the lock held.
    pub fn append(&mut self, key: Digest, outputs: Vec<OutputRecord>) -> io::Result<()> {
        self.write_line(&format_line(&key, &outputs))?;
        self.records.insert(key, outputs);
        Ok(())
    }

    /// Drops every record with `digest` among its outputs (a corrupt object): their actions
    /// rerun. Returns the keys dropped.
    pub fn invalidate(&mut self, digest: &Digest) -> io::Result<Vec<Digest>> {
        let keys: Vec<Digest> =
            self.records.iter().filter(|(_, outs)| outs.iter().any(|o| o.digest == *digest)).map(|(k, _)| *k).collect();
        for key in &keys {
            self.write_line(&format!("-{}\n", key.to_hex()))?;
            self.records.remove(key);
        }
        Ok(keys)
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        if self.file.is_none() {
            if self.foreign {
                let aside = self.path.with_extension("log.old");
                fs::rename(&self.path, &aside)?;
                self.foreign = false;
            }
            repair_tail(&self.path)?;
            let fresh = fs::metadata(&self.path).map(|m| m.len() == 0).unwrap_or(true);
            let mut file = OpenOptions::new().append(true).create(true).mode(0o600).open(&self.path)?;
            if fresh {
                file.write_all(HEADER.as_bytes())?;
            }
            self.file = Some(file);
        }
        match self.file.as_mut() {
            Some(file) => file.write_all(line.as_bytes()),
            None => Ok(()),
        }
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

enum Line {
    Record(Digest, Vec<OutputRecord>),
    /// `-KEY`: the record was invalidated.
    Forget(Digest),
}

fn parse_line(line: &str) -> Option<Line> {
    if let Some(key) = line.strip_prefix('-') {
        return key.parse().ok().map(Line::Forget);
    }
    let (key, outputs) = parse_record(line)?;
    Some(Line::Record(key, outputs))
}

fn parse_record(line: &str) -> Option<(Digest, Vec<OutputRecord>)> {
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
        let Ok(bytes) = fs::read(path) else { return found };
        for line in bytes.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else { continue };
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
    fn other_versions_are_set_aside_at_the_first_write_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        fs::write(&path, "flow-actions 0\nwhatever\n").unwrap();
        let mut log = ActionLog::load(&path).unwrap();
        assert!(log.is_empty());
        assert!(!dir.path().join("actions.log.old").exists(), "loading only reads");
        log.append(Digest([1; 32]), vec![]).unwrap();
        assert!(dir.path().join("actions.log.old").exists());
        assert_eq!(ActionLog::load(&path).unwrap().len(), 1);
    }

    #[test]
    fn damaged_lines_are_skipped_and_counted_and_invalidation_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        let mut log = ActionLog::load(&path).unwrap();
        log.append(Digest([1; 32]), vec![out("a", 2)]).unwrap();
        log.append(Digest([3; 32]), vec![out("b", 2), out("c", 4)]).unwrap();
        log.append(Digest([5; 32]), vec![out("d", 6)]).unwrap();
        drop(log);
        let mut bytes = fs::read(&path).unwrap();
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1 + 3;
        bytes[second] = 0xff; // one bad byte inside the first record
        fs::write(&path, &bytes).unwrap();
        let mut log = ActionLog::load(&path).unwrap();
        assert_eq!(log.damaged_lines, 1);
        assert_eq!(log.len(), 2, "the other records survive a bad byte");
        assert_eq!(log.invalidate(&Digest([2; 32])).unwrap(), vec![Digest([3; 32])]);
        drop(log);
        let log = ActionLog::load(&path).unwrap();
        assert!(log.get(&Digest([3; 32])).is_none(), "an invalidated record stays gone");
        assert_eq!(log.get(&Digest([5; 32])).unwrap(), &[out("d", 6)]);
    }
}
