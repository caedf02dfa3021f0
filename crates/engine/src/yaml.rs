//! The one place flow talks to its YAML parser.
//!
//! flow parses YAML with serde-saphyr (pure Rust, no unsafe, maintained, with limits against
//! hostile input); serde_yaml is archived and its libyaml port is flagged unmaintained
//! (RUSTSEC-2024-0449). Keeping the parser behind this module means swapping it touches one file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Pos};

/// A value with the place in the YAML text it came from.
pub use serde_saphyr::Spanned;

/// Where a spanned value sits in its file.
pub fn pos<T>(spanned: &Spanned<T>) -> Pos {
    Pos::new(spanned.referenced.line() as u32, spanned.referenced.column() as u32)
}

/// YAML 1.2 booleans only: `y`, `no` or `off` stay text (a sample called `NO` is not false).
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! { with_snippet: false, strict_booleans: true }
}

/// Parses a whole YAML document into `T`, rejecting duplicate keys.
pub fn parse<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, Diagnostic> {
    let options = options();
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|err| {
        let pos = err.location().map(|l| Pos::new(l.line() as u32, l.column() as u32)).unwrap_or(Pos::UNKNOWN);
        Diagnostic::new(file, pos, clean_message(&err.to_string(), pos))
    })
}

/// Parses one scalar the way YAML would read it in a document (`7` is a number, `x` a string).
pub fn parse_scalar(text: &str) -> serde_json::Value {
    serde_saphyr::from_str_with_options::<serde_json::Value>(text, options())
        .ok()
        .filter(|v| !v.is_object() && !v.is_array() && !v.is_null())
        .unwrap_or_else(|| serde_json::Value::String(text.to_string()))
}

/// The parser appends the location in words; flow prints it as `file:line:column:` instead.
fn clean_message(message: &str, pos: Pos) -> String {
    let suffix = format!(" at line {}, column {}", pos.line, pos.column);
    let message = message.strip_suffix(&suffix).unwrap_or(message);
    let message = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    message.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn syntax_errors_carry_position() {
        let err =
            parse::<BTreeMap<String, serde_json::Value>>("a: b\nc: [1, 2\nd: 3\n", Path::new("w.yaml")).unwrap_err();
        assert!(err.pos.line >= 2, "{err}");
        assert!(!err.message.contains("at line"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse::<BTreeMap<String, String>>("a: b\na: c\n", Path::new("w.yaml")).unwrap_err();
        assert!(err.message.contains("duplicate"), "{err}");
        assert_eq!(err.pos, Pos::new(2, 1));
    }

    #[test]
    fn scalars_keep_yaml_types() {
        assert_eq!(parse_scalar("7"), serde_json::json!(7));
        assert_eq!(parse_scalar("0.5"), serde_json::json!(0.5));
        assert_eq!(parse_scalar("true"), serde_json::json!(true));
        assert_eq!(parse_scalar("abc"), serde_json::json!("abc"));
        assert_eq!(parse_scalar("no"), serde_json::json!("no"), "YAML 1.1 booleans stay text");
        assert_eq!(parse_scalar("[1"), serde_json::json!("[1"));
    }
}
