//! Content digests: blake3 of a file's bytes, or of a canonical listing of a directory tree.
//!
//! A file's digest is the plain blake3 of its content, so `b3sum` agrees with flow. A directory's
//! digest hashes a sorted listing of (relative path, entry type, entry digest) under a versioned
//! header, so two trees digest equal exactly when they hold the same paths with the same bytes
//! and executable bits, whatever order the file system lists them in.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for byte in self.0 {
            s.push(char::from_digit((byte >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((byte & 15) as u32, 16).unwrap_or('0'));
        }
        s
    }

    /// The first 12 hex digits, enough to tell digests apart in human output.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a 64-digit hex digest: '{0}'")]
pub struct BadDigest(pub String);

impl FromStr for Digest {
    type Err = BadDigest;
    fn from_str(s: &str) -> Result<Digest, BadDigest> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(BadDigest(s.to_string()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out[i] = (hi * 16 + lo) as u8,
                _ => return Err(BadDigest(s.to_string())),
            }
        }
        Ok(Digest(out))
    }
}

/// Whether an artifact is a single file or a directory tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    File,
    Dir,
}

impl Shape {
    pub fn letter(self) -> char {
        match self {
            Shape::File => 'f',
            Shape::Dir => 'd',
        }
    }

    pub fn from_letter(c: char) -> Option<Shape> {
        match c {
            'f' => Some(Shape::File),
            'd' => Some(Shape::Dir),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Shape::File => "file",
            Shape::Dir => "dir",
        }
    }
}

/// Digest of one file's content, streamed so large inputs never sit in memory.
///
/// Only regular files are read: a FIFO would block the reader forever and a device such as
/// `/dev/zero` never ends, so both are refused with [`io::ErrorKind::InvalidInput`]. The type is
/// checked before opening (opening a device can have effects of its own) and again on the open
/// handle, which is opened non-blocking so a FIFO swapped in between cannot block the open.
pub fn digest_file(path: &Path) -> io::Result<Digest> {
    refuse_special(path, &fs::metadata(path)?)?;
    let mut file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    refuse_special(path, &file.metadata()?)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&mut file)?;
    Ok(Digest(*hasher.finalize().as_bytes()))
}

/// What a file that is neither a regular file, a directory nor a symbolic link is, in words;
/// `None` for the kinds flow hashes.
pub fn special_kind(file_type: fs::FileType) -> Option<&'static str> {
    if file_type.is_file() || file_type.is_dir() || file_type.is_symlink() {
        None
    } else if file_type.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else {
        Some("a special file")
    }
}

fn refuse_special(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let kind = if meta.is_file() { None } else { special_kind(meta.file_type()).or(Some("a directory")) };
    match kind {
        None => Ok(()),
        Some(kind) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is {kind}, not a regular file: flow hashes only regular files and directories", path.display()),
        )),
    }
}

/// One entry of a directory listing as it enters the tree digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path relative to the tree root, with `/` separators.
    pub path: String,
    /// 'f' plain file, 'x' executable file, 'l' symlink (digest of the link text), 'd' empty dir.
    pub kind: char,
    pub digest: Digest,
}

/// Digest of a listing; entries are sorted here so callers may collect them in any order.
pub fn digest_tree_entries(entries: &mut [TreeEntry]) -> Digest {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"flow-tree-v1\n");
    for entry in entries.iter() {
        hasher.update(entry.path.as_bytes());
        hasher.update(&[0, entry.kind as u8]);
        hasher.update(&entry.digest.0);
    }
    Digest(*hasher.finalize().as_bytes())
}

/// Walks a directory and returns every entry with the digest `file_digest` gives its files.
/// The callback lets the stat cache answer for unchanged files without reading them.
pub fn walk_tree(
    root: &Path,
    file_digest: &mut dyn FnMut(&Path, &fs::Metadata) -> io::Result<Digest>,
) -> io::Result<Vec<TreeEntry>> {
    let mut entries = Vec::new();
    walk_into(root, "", file_digest, &mut entries)?;
    Ok(entries)
}

fn walk_into(
    dir: &Path,
    prefix: &str,
    file_digest: &mut dyn FnMut(&Path, &fs::Metadata) -> io::Result<Digest>,
    entries: &mut Vec<TreeEntry>,
) -> io::Result<()> {
    let mut any = false;
    for item in fs::read_dir(dir)? {
        let item = item?;
        any = true;
        let name = item.file_name();
        let name = name.to_string_lossy();
        let rel = if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") };
        let path = item.path();
        let meta = fs::symlink_metadata(&path)?;
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            let target = fs::read_link(&path)?;
            let digest = Digest::of_bytes(target.to_string_lossy().as_bytes());
            entries.push(TreeEntry { path: rel, kind: 'l', digest });
        } else if file_type.is_dir() {
            walk_into(&path, &rel, file_digest, entries)?;
        } else if let Some(kind) = special_kind(file_type) {
            // Reading a FIFO or a device inside a tree would hang or never end; refuse it by name.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is {kind}: flow hashes only regular files, directories and symbolic links", path.display()),
            ));
        } else {
            let digest = file_digest(&path, &meta)?;
            let kind = if meta.permissions().mode() & 0o111 != 0 { 'x' } else { 'f' };
            entries.push(TreeEntry { path: rel, kind, digest });
        }
    }
    if !any && !prefix.is_empty() {
        // Empty subdirectories are part of a tree's shape, so they take part in its digest.
        entries.push(TreeEntry { path: prefix.to_string(), kind: 'd', digest: Digest([0; 32]) });
    }
    Ok(())
}

/// Digest of a file or directory, reading everything (no stat cache).
pub fn digest_path(path: &Path) -> io::Result<(Shape, Digest)> {
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        let mut entries = walk_tree(path, &mut |p, _| digest_file(p))?;
        Ok((Shape::Dir, digest_tree_entries(&mut entries)))
    } else {
        Ok((Shape::File, digest_file(path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let d = Digest::of_bytes(b"flow");
        let parsed: Digest = d.to_hex().parse().unwrap();
        assert_eq!(parsed, d);
        assert!("xyz".parse::<Digest>().is_err());
        assert!("g".repeat(64).parse::<Digest>().is_err());
    }

    #[test]
    fn file_digest_is_plain_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        fs::write(&p, b"hello").unwrap();
        // b3sum of "hello", as printed by the reference implementation.
        assert_eq!(
            digest_file(&p).unwrap().to_hex(),
            "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"
        );
    }

    #[test]
    fn tree_digest_depends_on_content_and_names_not_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        fs::create_dir(a.path().join("sub")).unwrap();
        fs::write(a.path().join("sub/x"), b"1").unwrap();
        fs::write(a.path().join("y"), b"2").unwrap();
        fs::write(b.path().join("y"), b"2").unwrap();
        fs::create_dir(b.path().join("sub")).unwrap();
        fs::write(b.path().join("sub/x"), b"1").unwrap();
        let (shape, da) = digest_path(a.path()).unwrap();
        assert_eq!(shape, Shape::Dir);
        assert_eq!(da, digest_path(b.path()).unwrap().1);
        fs::write(b.path().join("sub/x"), b"3").unwrap();
        assert_ne!(da, digest_path(b.path()).unwrap().1);
        fs::write(b.path().join("sub/x"), b"1").unwrap();
        fs::create_dir(b.path().join("empty")).unwrap();
        assert_ne!(da, digest_path(b.path()).unwrap().1, "an empty dir changes the tree");
    }

    fn mkfifo(path: &Path) {
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system entry.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
    }

    /// Runs `digest_path` on another thread: before the fix these reads blocked forever, and a
    /// test that hangs tells nobody anything.
    fn digest_or_hang(path: &Path) -> io::Result<(Shape, Digest)> {
        let (send, receive) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || send.send(digest_path(&path)));
        receive.recv_timeout(std::time::Duration::from_secs(20)).expect("digest_path hung on a special file")
    }

    #[test]
    fn special_files_are_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let err = digest_or_hang(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("named pipe") && err.to_string().contains("pipe"), "{err}");

        let err = digest_or_hang(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("/dev/zero is a character device"), "{err}");

        let tree = dir.path().join("tree");
        fs::create_dir(&tree).unwrap();
        fs::write(tree.join("ok.txt"), b"fine").unwrap();
        fs::create_dir(tree.join("sub")).unwrap();
        mkfifo(&tree.join("sub/pipe"));
        let err = digest_or_hang(&tree).unwrap_err();
        assert!(err.to_string().contains("sub/pipe is a named pipe"), "{err}");

        // A symbolic link to a device is hashed by its text, as every link in a tree is.
        fs::remove_file(tree.join("sub/pipe")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", tree.join("sub/zero")).unwrap();
        assert_eq!(digest_or_hang(&tree).unwrap().0, Shape::Dir);
    }
}
