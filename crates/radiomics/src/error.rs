//! Errors of the image readers: every variant names the file it is about.

use std::path::PathBuf;

use crate::image::GeometryMismatch;

/// An image could not be read, or an image and its mask do not fit together.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A NRRD header line that is malformed or unsupported; `line` is 1-based.
    #[error("{}: NRRD header line {line} `{text}`: {msg}", path.display())]
    NrrdHeader { path: PathBuf, line: usize, text: String, msg: String },
    /// Anything else wrong with the file's contents.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    #[error(transparent)]
    Geometry(#[from] GeometryMismatch),
}

impl ImageError {
    /// Whether the fix is in the user's files (malformed, truncated, inconsistent, or not
    /// where the manifest says), as opposed to trouble reading them (permissions, a failing
    /// disk), which a rerun or an administrator may fix.
    pub fn is_bad_data(&self) -> bool {
        match self {
            ImageError::Io { source, .. } => io_error_is_bad_data(source),
            ImageError::NrrdHeader { .. } | ImageError::Format { .. } | ImageError::Geometry(_) => true,
        }
    }
}

/// An I/O error that says something about the file rather than the machine: it is missing,
/// ends early, or holds bytes that cannot be what it claims to be.
pub fn io_error_is_bad_data(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(error.kind(), NotFound | UnexpectedEof | InvalidData | InvalidInput | IsADirectory | NotADirectory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn trouble_reading_is_not_bad_data() {
        let io = |kind| ImageError::Io { path: "ct.nii".into(), source: Error::from(kind) };
        assert!(io(ErrorKind::NotFound).is_bad_data(), "the manifest names a file that is not there");
        assert!(io(ErrorKind::UnexpectedEof).is_bad_data());
        assert!(!io(ErrorKind::PermissionDenied).is_bad_data());
        assert!(!io(ErrorKind::Interrupted).is_bad_data());
        assert!(ImageError::Format { path: "ct.nii".into(), msg: String::new() }.is_bad_data());
    }
}
