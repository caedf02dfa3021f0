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

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(word, candidate);
        // About one typo per three characters; names too short for that get no guess.
        let limit = word.chars().count().max(candidate.chars().count()) / 3;
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
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

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, the most
/// common typo ("trian" for "train").
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
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
        assert_eq!(edit_distance("alpah", "alpha"), 1);
    }

    #[test]
    fn display_has_file_line_column() {
        let d = Diagnostic::new(Path::new("w.yaml"), Pos::new(3, 5), "unknown kind 'x'");
        assert_eq!(d.to_string(), "w.yaml:3:5: unknown kind 'x'");
    }
}
