//! How each CAS object looked on disk when it was stored or last verified, so corruption is
//! noticed before an object is used, without rereading it every time.
//!
//! A look is a digest of what `stat` says: size, mtime, ctime, inode and type of a file, or of
//! every entry in a tree (with relative paths). It costs a `stat` per file to compute, against
//! reading every byte to rehash. An object whose look differs from the recorded one is rehashed
//! (Bazel's and git's trick); one whose content no longer matches its name is corrupt. ctime
//! is in the look because nobody can set it back: a change that restored size and mtime
//! (`touch -d`) still shows. Only `flow verify` rehashes everything regardless.
//!
//! The table is an append-only log (`stamps`): `OBJECT LOOK` per line, later lines win, torn or
//! damaged lines are skipped. Missing entries (a store from an older flow) just mean one rehash.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::store::write_atomic;

const HEADER: &str = "flow-stamps 1\n";

/// The recorded looks of CAS objects.
pub struct Stamps {
    path: PathBuf,
    looks: HashMap<Digest, Digest>,
    file: Option<File>,
    /// Lines that could not be read when loading (damage, not a torn tail).
    pub damaged_lines: usize,
}

impl Stamps {
    /// Reads the table; a missing, foreign or unreadable file is an empty table.
    pub fn load(path: &Path) -> Stamps {
        let mut looks = HashMap::new();
        let mut damaged_lines = 0;
        if let Ok(bytes) = fs::read(path)
            && let Some(body) = bytes.strip_prefix(HEADER.as_bytes())
        {
            let (complete, _torn) = super::split_complete_lines(body);
            for line in complete {
                match parse_line(line) {
                    Some((object, look)) => {
                        looks.insert(object, look);
                    }
                    None => damaged_lines += 1,
                }
            }
        }
        Stamps { path: path.to_path_buf(), looks, file: None, damaged_lines }
    }

    pub fn get(&self, object: &Digest) -> Option<Digest> {
        self.looks.get(object).copied()
    }

    /// Records a look; call with the store lock held.
    pub fn record(&mut self, object: Digest, look: Digest) -> io::Result<()> {
        if self.looks.get(&object) == Some(&look) {
            return Ok(());
        }
        if self.file.is_none() {
            super::repair_tail(&self.path)?;
            let fresh = fs::metadata(&self.path).map(|m| m.len() == 0).unwrap_or(true);
            let mut file = OpenOptions::new().append(true).create(true).mode(0o600).open(&self.path)?;
            if fresh {
                file.write_all(HEADER.as_bytes())?;
            }
            self.file = Some(file);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(format!("{} {}\n", object.to_hex(), look.to_hex()).as_bytes())?;
        }
        self.looks.insert(object, look);
        Ok(())
    }

    pub fn forget(&mut self, object: &Digest) {
        self.looks.remove(object);
    }

    /// Rewrites the table with only the objects `keep` accepts (gc, verify).
    pub fn compact(&mut self, keep: impl Fn(&Digest) -> bool) -> io::Result<()> {
        self.looks.retain(|object, _| keep(object));
        let mut entries: Vec<(&Digest, &Digest)> = self.looks.iter().collect();
        entries.sort();
        let mut text = String::with_capacity(HEADER.len() + entries.len() * 130);
        text.push_str(HEADER);
        for (object, look) in entries {
            text.push_str(&format!("{} {}\n", object.to_hex(), look.to_hex()));
        }
        self.file = None;
        write_atomic(&self.path, text.as_bytes())
    }
}

fn parse_line(line: &[u8]) -> Option<(Digest, Digest)> {
    let text = std::str::from_utf8(line).ok()?;
    let (object, look) = text.split_once(' ')?;
    Some((object.parse().ok()?, look.parse().ok()?))
}

/// The look of a file or tree: what `stat` says of it and of everything in it.
pub fn look_of(path: &Path) -> io::Result<Digest> {
    let mut hasher = blake3::Hasher::new();
    let meta = fs::symlink_metadata(path)?;
    add_entry(&mut hasher, "", &meta);
    if meta.is_dir() {
        add_tree(&mut hasher, path, "")?;
    }
    Ok(Digest(*hasher.finalize().as_bytes()))
}

fn add_entry(hasher: &mut blake3::Hasher, rel: &str, meta: &fs::Metadata) {
    hasher.update(rel.as_bytes());
    hasher.update(&[0]);
    for field in [
        meta.mode() as i64,
        meta.len() as i64,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino() as i64,
        meta.dev() as i64,
    ] {
        hasher.update(&field.to_le_bytes());
    }
}

fn add_tree(hasher: &mut blake3::Hasher, dir: &Path, prefix: &str) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let rel = format!("{prefix}/{}", name.to_string_lossy());
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path)?;
        add_entry(hasher, &rel, &meta);
        if meta.is_dir() {
            add_tree(hasher, &path, &rel)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_change_with_content_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("o");
        fs::create_dir_all(object.join("sub")).unwrap();
        fs::write(object.join("sub/x"), b"1").unwrap();
        let first = look_of(&object).unwrap();
        assert_eq!(look_of(&object).unwrap(), first, "a look is stable while nothing changes");
        fs::write(object.join("sub/x"), b"2").unwrap();
        assert_ne!(look_of(&object).unwrap(), first, "an edit deep in a tree changes its look");

        let path = dir.path().join("stamps");
        let mut stamps = Stamps::load(&path);
        stamps.record(Digest([1; 32]), first).unwrap();
        stamps.record(Digest([2; 32]), Digest([3; 32])).unwrap();
        stamps.record(Digest([1; 32]), Digest([4; 32])).unwrap();
        drop(stamps);
        // Damage: a non-UTF-8 line and a torn tail.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"\xff\xfe garbage\n").unwrap();
        file.write_all(Digest([9; 32]).to_hex().as_bytes()).unwrap();
        drop(file);
        let mut stamps = Stamps::load(&path);
        assert_eq!(stamps.get(&Digest([1; 32])), Some(Digest([4; 32])), "the later line wins");
        assert_eq!(stamps.get(&Digest([2; 32])), Some(Digest([3; 32])));
        assert_eq!(stamps.damaged_lines, 1);
        stamps.record(Digest([5; 32]), Digest([6; 32])).unwrap();
        let stamps = Stamps::load(&path);
        assert_eq!(stamps.get(&Digest([5; 32])), Some(Digest([6; 32])), "appends after damage are read");
    }
}
