//! Content-addressed objects: a file or a directory tree stored once under its digest.
//!
//! Objects enter by rename from tmp/ (same file system), so an object path either does not
//! exist or holds complete content. Files inside are made read-only so a node that scribbles
//! on its inputs fails loudly instead of corrupting the store. Whatever changes an object
//! anyway (a user, a disk) is caught before the object is used: each object's look on disk is
//! recorded when it is stored ([`super::stamps`]) and compared before use; a changed look means
//! a rehash, and content that no longer matches its name is quarantined, never served.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::digest::{Digest, Shape, digest_path};
use crate::store::stamps::{Stamps, look_of};
use crate::store::{Verdict, create_private_dir};

#[derive(Clone)]
pub struct Cas {
    root: PathBuf,
    stamps: Arc<Mutex<Stamps>>,
    /// Where corrupt objects go; `None` for a store opened read-only, which records nothing.
    quarantine: Option<PathBuf>,
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cas").field("root", &self.root).finish()
    }
}

impl Cas {
    pub fn open(root: PathBuf, stamps: &Path, quarantine: Option<PathBuf>) -> Cas {
        Cas { root, stamps: Arc::new(Mutex::new(Stamps::load(stamps))), quarantine }
    }

    pub fn writable(&self) -> bool {
        self.quarantine.is_some()
    }

    fn stamps(&self) -> MutexGuard<'_, Stamps> {
        // A panic elsewhere while holding the table leaves it usable: every entry is whole.
        self.stamps.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn damaged_stamp_lines(&self) -> usize {
        self.stamps().damaged_lines
    }

    /// Checks an object before use: a look unchanged since it was recorded is trusted; any
    /// difference (or no record) means a rehash. A corrupt object is moved to quarantine when
    /// the store is writable.
    pub fn verify(&self, digest: &Digest) -> io::Result<Verdict> {
        let path = self.object_path(digest);
        let look = match look_of(&path) {
            Ok(look) => look,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Missing),
            Err(e) => return Err(e),
        };
        if self.stamps().get(digest) == Some(look) {
            return Ok(Verdict::Intact);
        }
        self.rehash(digest)
    }

    /// Rehashes an object whatever its look (`flow verify`).
    pub fn rehash(&self, digest: &Digest) -> io::Result<Verdict> {
        let path = self.object_path(digest);
        let before = match look_of(&path) {
            Ok(look) => look,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Missing),
            Err(e) => return Err(e),
        };
        let intact = match digest_path(&path) {
            Ok((_, found)) => found == *digest,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Missing),
            // Content that can never be read as it was stored (a file made a FIFO or a device,
            // its permissions taken away, bytes the disk cannot return) is as bad as wrong
            // content. Anything else (out of file descriptors, an interrupted read) says nothing
            // about the object and must not send a good one to quarantine.
            Err(e) if is_damage(&e) => false,
            Err(e) => return Err(e),
        };
        if intact {
            // Record the look only if nothing moved while hashing.
            if self.writable() && look_of(&path)? == before {
                self.stamps().record(*digest, before)?;
            }
            return Ok(Verdict::Intact);
        }
        let moved_to = match &self.quarantine {
            Some(dir) => Some(self.quarantine_object(digest, dir)?),
            None => None,
        };
        Ok(Verdict::Corrupt { moved_to })
    }

    fn quarantine_object(&self, digest: &Digest, dir: &Path) -> io::Result<PathBuf> {
        create_private_dir(dir)?;
        let hex = digest.to_hex();
        let mut dest = dir.join(&hex);
        let mut n = 1;
        while fs::symlink_metadata(&dest).is_ok() {
            n += 1;
            dest = dir.join(format!("{hex}.{n}"));
        }
        let object = self.object_path(digest);
        // Moving a directory to another parent rewrites its `..`, which needs write access.
        if fs::symlink_metadata(&object).is_ok_and(|m| m.is_dir()) {
            make_dirs_writable(&object)?;
        }
        fs::rename(&object, &dest)?;
        self.stamps().forget(digest);
        tracing::warn!(object = %digest.short(), to = %dest.display(), "corrupt object quarantined");
        Ok(dest)
    }

    pub fn object_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join(&hex[..2]).join(&hex[2..])
    }

    /// The digest of the object `path` is or lies in (an item of a mapped node is an entry of
    /// a stored tree), if it is in the store at all (not a user's file).
    pub fn object_containing(&self, path: &Path) -> Option<Digest> {
        let rest = path.strip_prefix(&self.root).ok()?;
        let mut parts = rest.components();
        let (shard, name) = (parts.next()?, parts.next()?);
        let digest: Digest = format!("{}{}", shard.as_os_str().to_str()?, name.as_os_str().to_str()?).parse().ok()?;
        path.starts_with(self.object_path(&digest)).then_some(digest)
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        fs::symlink_metadata(self.object_path(digest)).is_ok()
    }

    /// Hashes `path` (a finished output in tmp/) and moves it into the store. If the store
    /// already has that content, intact, the new copy is dropped; a corrupt copy in the store
    /// is quarantined and replaced by the new one.
    pub fn ingest(&self, path: &Path) -> io::Result<(Shape, Digest)> {
        let (shape, digest) = digest_path(path)?;
        let dest = self.object_path(&digest);
        if fs::symlink_metadata(&dest).is_ok() && self.verify(&digest)? == Verdict::Intact {
            remove_any(path)?;
            return Ok((shape, digest));
        }
        if let Some(parent) = dest.parent() {
            create_private_dir(parent)?;
        }
        make_read_only(path)?;
        match fs::rename(path, &dest) {
            Ok(()) => {
                // The look is taken after the rename and chmod, which both change ctime.
                self.stamps().record(digest, look_of(&dest)?)?;
                Ok((shape, digest))
            }
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
        remove_any(&self.object_path(digest))?;
        self.stamps().forget(digest);
        Ok(())
    }

    /// Rewrites the look table keeping only objects still in the store.
    pub fn compact_stamps(&self) -> io::Result<()> {
        let root = self.root.clone();
        self.stamps().compact(|digest| {
            let hex = digest.to_hex();
            fs::symlink_metadata(root.join(&hex[..2]).join(&hex[2..])).is_ok()
        })
    }
}

fn is_damage(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::PermissionDenied)
        || error.raw_os_error() == Some(libc::EIO)
}

/// Files become 0400 (0500 if executable), directories 0500: a node cannot add, remove or
/// rename entries of a tree it was given without first chmod-ing it (and if it does, the change
/// is noticed by its look). `remove_any` opens directories up again to delete them.
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
        fs::set_permissions(path, fs::Permissions::from_mode(0o500))
    } else {
        let mode = if meta.permissions().mode() & 0o111 != 0 { 0o500 } else { 0o400 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
}

/// Gives the owner write access to every directory of a tree (files need none to be removed).
fn make_dirs_writable(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(meta.permissions().mode() | 0o700))?;
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_dirs_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// Removes a file, symlink or directory tree.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => match fs::remove_dir_all(path) {
            // Store trees are read-only (and copies of them may be): open them up and retry.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                make_dirs_writable(path)?;
                fs::remove_dir_all(path)
            }
            result => result,
        },
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

    fn cas(dir: &Path) -> Cas {
        Cas::open(dir.join("cas"), &dir.join("stamps"), Some(dir.join("quarantine")))
    }

    #[test]
    fn ingest_deduplicates_and_protects() {
        let dir = tempfile::tempdir().unwrap();
        let cas = cas(dir.path());
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
        let cas = cas(dir.path());
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
        let mode = fs::metadata(cas.object_path(&d).join("s")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o500, "a node cannot add or remove entries of a stored tree");
        assert_eq!(cas.object_containing(&cas.object_path(&d)), Some(d));
        assert_eq!(cas.object_containing(&cas.object_path(&d).join("s")), Some(d), "an entry lies in its tree");
        assert_eq!(cas.object_containing(&dir.path().join("t")), None, "a user's file is no object");
        cas.remove(&d).unwrap();
        assert!(!cas.contains(&d), "gc can still delete a read-only tree");
    }

    /// Overwrites a stored (read-only) file the way a careless user or a bad disk would.
    fn scribble(path: &Path, bytes: &[u8], keep_mtime: bool) {
        let meta = fs::metadata(path).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(path, bytes).unwrap();
        if keep_mtime {
            fs::File::options().write(true).open(path).unwrap().set_modified(meta.modified().unwrap()).unwrap();
        }
        fs::set_permissions(path, meta.permissions()).unwrap();
    }

    #[test]
    fn a_changed_object_is_noticed_quarantined_and_replaced_on_ingest() {
        let dir = tempfile::tempdir().unwrap();
        let cas = cas(dir.path());
        let a = dir.path().join("a");
        fs::write(&a, b"good").unwrap();
        let (_, digest) = cas.ingest(&a).unwrap();
        assert_eq!(cas.verify(&digest).unwrap(), Verdict::Intact);

        // Same size, same mtime: only ctime tells, and that is enough for a rehash.
        scribble(&cas.object_path(&digest), b"evil", true);
        let Verdict::Corrupt { moved_to: Some(moved) } = cas.verify(&digest).unwrap() else {
            panic!("a same-size, same-mtime edit must be caught")
        };
        assert_eq!(fs::read(&moved).unwrap(), b"evil", "the bad copy is kept for inspection");
        assert_eq!(cas.verify(&digest).unwrap(), Verdict::Missing);

        // The good content comes back under the same name.
        fs::write(&a, b"good").unwrap();
        cas.ingest(&a).unwrap();
        assert_eq!(fs::read(cas.object_path(&digest)).unwrap(), b"good");
        assert_eq!(cas.verify(&digest).unwrap(), Verdict::Intact);

        // A corrupt copy in the store does not swallow a fresh good one.
        scribble(&cas.object_path(&digest), b"evil", false);
        fs::write(&a, b"good").unwrap();
        cas.ingest(&a).unwrap();
        assert_eq!(fs::read(cas.object_path(&digest)).unwrap(), b"good");
    }

    #[test]
    fn a_read_only_store_reports_corruption_without_moving_anything() {
        let dir = tempfile::tempdir().unwrap();
        let cas = cas(dir.path());
        let t = dir.path().join("t");
        fs::create_dir_all(t.join("s")).unwrap();
        fs::write(t.join("s/x"), b"1").unwrap();
        let (_, digest) = cas.ingest(&t).unwrap();
        scribble(&cas.object_path(&digest).join("s/x"), b"2", false);
        let reader = Cas::open(dir.path().join("cas"), &dir.path().join("stamps"), None);
        assert_eq!(reader.verify(&digest).unwrap(), Verdict::Corrupt { moved_to: None });
        assert!(cas.object_path(&digest).exists(), "a reader never moves objects");
        assert!(matches!(cas.verify(&digest).unwrap(), Verdict::Corrupt { moved_to: Some(_) }));
    }
}
