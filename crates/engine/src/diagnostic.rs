//! Errors in a user's workflow file, each pointing at the place to fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a source file; (0, 0) when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    pub fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }
}

/// One problem found while loading a workflow: `file:line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: &Path, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: file.to_path_buf(), pos, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.pos.line, self.pos.column, self.message)
        }
    }
}

/// Every problem found in one load, so a user fixes them in one pass instead of one per run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

/// The closest candidate, if it is close enough to be a plausible typo: about one wrong letter
/// per three, or a word that starts the same and ends differently ("retry" for "retries"),
/// which edit distance alone judges too far.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::osa_distance(word, candidate);
        let longer = word.chars().count().max(candidate.chars().count());
        let typo = distance <= longer / 3;
        let same_stem = distance <= longer / 2 && strsim::jaro_winkler(word, candidate) >= 0.85;
        if (typo || same_stem) && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A " (did you mean 'x'?)" suffix, or nothing.
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(word, candidates) {
        Some(c) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let kinds = ["ml.train_gbdt", "ml.train_tree", "shell"];
        assert_eq!(did_you_mean("ml.trian_gbdt", kinds), Some("ml.train_gbdt"));
        assert_eq!(did_you_mean("shel", kinds), Some("shell"));
        assert_eq!(did_you_mean("completely_else", kinds), None);
        assert_eq!(did_you_mean("b", ["a"]), None, "one-letter names get no guess");
        assert_eq!(did_you_mean("alpah", ["alpha", "beta"]), Some("alpha"));
        assert_eq!(did_you_mean("retry", ["uses", "retries", "resources"]), Some("retries"));
        assert_eq!(did_you_mean("partiton", ["part", "partition"]), Some("partition"));
        assert_eq!(did_you_mean("memory", ["threads", "time"]), None);
    }

    #[test]
    fn display_has_file_line_column() {
        let d = Diagnostic::new(Path::new("w.yaml"), Pos::new(3, 5), "unknown kind 'x'");
        assert_eq!(d.to_string(), "w.yaml:3:5: unknown kind 'x'");
    }
}
