//! Digests of the user's source files, remembered with (size, mtime, inode) so a no-op run
//! stats files instead of reading them. A touched but unchanged file is re-read once, digests
//! the same, and so reruns nothing.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Shape, digest_file, digest_tree_entries, walk_tree};
use crate::store::write_atomic;

const HEADER: &str = "flow-statcache 1\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            inode: meta.ino(),
        }
    }
}

pub struct StatCache {
    path: PathBuf,
    entries: HashMap<PathBuf, (Stamp, Digest)>,
    dirty: bool,
    /// Files actually read this run (for tests and `-v`).
    pub files_read: usize,
}

impl StatCache {
    pub fn load(path: &Path) -> StatCache {
        let mut entries = HashMap::new();
        if let Ok(text) = fs::read_to_string(path)
            && let Some(body) = text.strip_prefix(HEADER)
        {
            for line in body.lines() {
                if let Some((file, entry)) = parse_line(line) {
                    entries.insert(file, entry);
                }
            }
        }
        StatCache { path: path.to_path_buf(), entries, dirty: false, files_read: 0 }
    }

    /// Digest of a user file or directory, reading only files whose stamp changed.
    pub fn digest(&mut self, path: &Path) -> io::Result<(Shape, Digest)> {
        let meta = fs::metadata(path)?;
        if meta.is_dir() {
            let mut entries = walk_tree(path, &mut |file, meta| self.digest_one(file, meta))?;
            Ok((Shape::Dir, digest_tree_entries(&mut entries)))
        } else {
            Ok((Shape::File, self.digest_one(path, &meta)?))
        }
    }

    fn digest_one(&mut self, path: &Path, meta: &fs::Metadata) -> io::Result<Digest> {
        let stamp = Stamp::of(meta);
        if let Some((known, digest)) = self.entries.get(path)
            && *known == stamp
        {
            return Ok(*digest);
        }
        let digest = digest_file(path)?;
        self.files_read += 1;
        // File times are coarse (a few ms), so a file rewritten within the same tick keeps its
        // stamp. Like git's "racy" check, only trust stamps older than that window, and only
        // if nothing moved while we read.
        if Stamp::of(&fs::metadata(path)?) == stamp && is_settled(meta) {
            self.entries.insert(path.to_path_buf(), (stamp, digest));
            self.dirty = true;
        }
        Ok(digest)
    }

    /// Writes the cache if anything changed.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut text = String::from(HEADER);
        for (file, (stamp, digest)) in &self.entries {
            let Some(name) = file.to_str() else { continue };
            if name.contains('\n') {
                continue;
            }
            text.push_str(&format!("{} {} {} {} {}\n", digest.to_hex(), stamp.size, stamp.mtime_ns, stamp.inode, name));
        }
        write_atomic(&self.path, text.as_bytes())?;
        self.dirty = false;
        Ok(())
    }
}

fn is_settled(meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age > std::time::Duration::from_secs(1))
}

fn parse_line(line: &str) -> Option<(PathBuf, (Stamp, Digest))> {
    let mut parts = line.splitn(5, ' ');
    let digest = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse().ok()?;
    let mtime_ns = parts.next()?.parse().ok()?;
    let inode = parts.next()?.parse().ok()?;
    let path = PathBuf::from(parts.next()?);
    Some((path, (Stamp { size, mtime_ns, inode }, digest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_files_are_not_reread() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.txt");
        fs::write(&data, b"abc").unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options().write(true).open(&data).unwrap().set_modified(past).unwrap();
        let cache_path = dir.path().join("statcache");
        let mut cache = StatCache::load(&cache_path);
        let first = cache.digest(&data).unwrap();
        assert_eq!(cache.files_read, 1);
        cache.save().unwrap();

        let mut cache = StatCache::load(&cache_path);
        assert_eq!(cache.digest(&data).unwrap(), first);
        assert_eq!(cache.files_read, 0, "an unchanged stamp answers from the cache");

        fs::write(&data, b"abe").unwrap();
        let changed = cache.digest(&data).unwrap();
        assert_ne!(changed, first);
        assert_eq!(cache.files_read, 1);
        assert_eq!(cache.digest(&data).unwrap(), changed);
        assert_eq!(cache.files_read, 2, "a fresh stamp is not trusted yet");
    }
}
