//! Content-addressed objects: a file or a directory tree stored once under its digest.
//!
//! Objects enter by rename from tmp/ (same file system), so an object path either does not
//! exist or holds complete content. Files inside are made read-only so a node that scribbles
//! on its inputs fails loudly instead of corrupting the store.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Shape, digest_path};
use crate::store::create_private_dir;

#[derive(Clone, Debug)]
pub struct Cas {
    root: PathBuf,
}

impl Cas {
    pub fn new(root: PathBuf) -> Cas {
        Cas { root }
    }

    pub fn object_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join(&hex[..2]).join(&hex[2..])
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        fs::symlink_metadata(self.object_path(digest)).is_ok()
    }

    /// Hashes `path` (a finished output in tmp/) and moves it into the store. If the store
    /// already has that content, the new copy is dropped.
    pub fn ingest(&self, path: &Path) -> io::Result<(Shape, Digest)> {
        let (shape, digest) = digest_path(path)?;
        let dest = self.object_path(&digest);
        if fs::symlink_metadata(&dest).is_ok() {
            remove_any(path)?;
            return Ok((shape, digest));
        }
        if let Some(parent) = dest.parent() {
            create_private_dir(parent)?;
        }
        make_read_only(path)?;
        match fs::rename(path, &dest) {
            Ok(()) => Ok((shape, digest)),
            // Another writer got there first with the same content.
            Err(_) if fs::symlink_metadata(&dest).is_ok() => {
                remove_any(path)?;
                Ok((shape, digest))
            }
            Err(e) => Err(e),
        }
    }

    /// Every object digest in the store, with its size in bytes.
    pub fn list(&self) -> io::Result<Vec<(Digest, u64)>> {
        let mut out = Vec::new();
        let Ok(prefixes) = fs::read_dir(&self.root) else { return Ok(out) };
        for prefix in prefixes.flatten() {
            let prefix_name = prefix.file_name().to_string_lossy().into_owned();
            let Ok(objects) = fs::read_dir(prefix.path()) else { continue };
            for object in objects.flatten() {
                let name = format!("{prefix_name}{}", object.file_name().to_string_lossy());
                if let Ok(digest) = name.parse::<Digest>() {
                    out.push((digest, size_of(&object.path())));
                }
            }
        }
        Ok(out)
    }

    pub fn remove(&self, digest: &Digest) -> io::Result<()> {
        remove_any(&self.object_path(digest))
    }
}

/// Files become 0400 (0500 if executable); directories stay 0700 so gc can delete them.
fn make_read_only(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        for entry in fs::read_dir(path)? {
            make_read_only(&entry?.path())?;
        }
        Ok(())
    } else {
        let mode = if meta.permissions().mode() & 0o111 != 0 { 0o500 } else { 0o400 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
}

/// Removes a file, symlink or directory tree.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Total bytes of a file or tree.
pub fn size_of(path: &Path) -> u64 {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            fs::read_dir(path).map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum()).unwrap_or(0)
        }
        Ok(meta) => meta.len(),
        Err(_) => 0,
    }
}

/// Copies a file or tree to `dest`, replacing what is there, and makes the copy writable:
/// published files belong to the user, not the store.
pub fn copy_out(src: &Path, dest: &Path) -> io::Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    let staging = dest.with_file_name(format!(
        ".{}.flow-tmp",
        dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    remove_any(&staging)?;
    copy_tree(src, &staging)?;
    remove_any(dest)?;
    fs::rename(&staging, dest)
}

fn copy_tree(src: &Path, dest: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dest)
    } else if meta.is_dir() {
        fs::create_dir(dest)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dest.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(src, dest)?;
        let mode = if meta.permissions().mode() & 0o111 != 0 { 0o700 } else { 0o600 };
        fs::set_permissions(dest, fs::Permissions::from_mode(mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_deduplicates_and_protects() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas"));
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, b"same").unwrap();
        fs::write(&b, b"same").unwrap();
        let (shape, da) = cas.ingest(&a).unwrap();
        let (_, db) = cas.ingest(&b).unwrap();
        assert_eq!(shape, Shape::File);
        assert_eq!(da, db);
        assert!(!a.exists() && !b.exists());
        let mode = fs::metadata(cas.object_path(&da)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o400);
        assert_eq!(cas.list().unwrap(), vec![(da, 4)]);
    }

    #[test]
    fn trees_are_objects_too() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(dir.path().join("cas"));
        let t = dir.path().join("t");
        fs::create_dir_all(t.join("s")).unwrap();
        fs::write(t.join("s/x"), b"1").unwrap();
        let (shape, d) = cas.ingest(&t).unwrap();
        assert_eq!(shape, Shape::Dir);
        assert_eq!(fs::read(cas.object_path(&d).join("s/x")).unwrap(), b"1");
        let out = dir.path().join("published/t");
        copy_out(&cas.object_path(&d), &out).unwrap();
        fs::write(out.join("s/x"), b"edited").unwrap();
        assert_eq!(fs::read(cas.object_path(&d).join("s/x")).unwrap(), b"1", "the store copy is separate");
    }
}
