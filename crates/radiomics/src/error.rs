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
    #[error("{}: NIfTI: {source}", path.display())]
    Nifti { path: PathBuf, source: ::nifti::NiftiError },
    #[error(transparent)]
    Geometry(#[from] GeometryMismatch),
}
