//! The one place flow talks to its YAML parser.
//!
//! flow parses YAML with serde-saphyr (pure Rust, no unsafe, maintained, with limits against
//! hostile input); serde_yaml is archived and its libyaml port is flagged unmaintained
//! (RUSTSEC-2024-0449). Keeping the parser behind this module means swapping it touches one file.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Pos, suggestion};

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

/// The parser's limits scaled to the text: a generated workflow of 100,000 nodes is ~10 MB and
/// a few million values, far past the defaults (250,000 values, 1,000,000 events), yet without
/// aliases a text cannot hold more values than half its bytes. What stays fixed is what lets a
/// small file expand (aliases, anchors, nesting), so hostile YAML is refused as before.
fn options_for(text: &str) -> serde_saphyr::Options {
    let nodes = 250_000usize.max(text.len() / 2);
    let events = 1_000_000usize.max(text.len().saturating_mul(2));
    serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        budget: serde_saphyr::budget! { max_nodes: nodes, max_events: events },
    }
}

/// Parses a whole YAML document into `T`, rejecting duplicate keys.
pub fn parse<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, Diagnostic> {
    if text.lines().all(|line| matches!(line.trim_start().chars().next(), None | Some('#'))) {
        return Err(Diagnostic::new(
            file,
            Pos::UNKNOWN,
            "the file is empty: it holds nothing but blank lines and comments",
        ));
    }
    serde_saphyr::from_str_with_options::<T>(text, options_for(text)).map_err(|err| {
        let pos = err.location().map(|l| Pos::new(l.line() as u32, l.column() as u32)).unwrap_or(Pos::UNKNOWN);
        let message = in_words(&err).unwrap_or_else(|| clean_message(&err.to_string(), pos));
        Diagnostic::new(file, pos, with_suggestion(message))
    })
}

/// The parser's own words for its limits and stream errors name its API and internals
/// ("budget breached: Nodes { .. }", "use from_str_multiple"); these say what is wrong with
/// the file instead. `None` keeps the parser's message, which is fine for syntax errors.
fn in_words(err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    let too_big = "; a workflow is far smaller than that, so the file is damaged or was generated wrongly";
    let message = match err {
        Error::AliasError { error, .. } => return in_words(error),
        Error::MultipleDocuments { .. } => "the file holds more than one YAML document (a line `---` starts \
             another); a workflow is one document: remove the `---` line, or split the file"
            .to_string(),
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => {
                "the YAML is nested too deeply (more than 64 levels of lists and mappings)".to_string() + too_big
            }
            BudgetBreach::Nodes { nodes } => {
                format!("the YAML holds too many values (over {}, counting what aliases repeat)", nodes - 1) + too_big
            }
            BudgetBreach::Aliases { .. } => "the YAML uses too many aliases (`*name`)".to_string() + too_big,
            BudgetBreach::Anchors { .. } => "the YAML defines too many anchors (`&name`)".to_string() + too_big,
            BudgetBreach::Events { .. } => "the YAML is too large for flow to read".to_string() + too_big,
            BudgetBreach::ScalarBytes { .. } => {
                "the YAML's text values add up to more than 64 MiB".to_string() + too_big
            }
            BudgetBreach::Documents { .. } => "the file holds too many YAML documents (`---`)".to_string() + too_big,
            _ => "the YAML exceeds the limits flow reads workflows with".to_string() + too_big,
        },
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => {
            "aliases (`*name`) expand to too much text: each repeats its anchor's value, and nested \
             aliases multiply"
                .to_string()
                + too_big
        }
        Error::UnknownAnchor { .. } => {
            "an alias (`*name`) refers to an anchor that is not defined before it (define it with `&name`)".to_string()
        }
        Error::Eof { .. } => "the file ends where a value was expected".to_string(),
        Error::InvalidUtf8Input => "the file is not valid UTF-8; save it as UTF-8".to_string(),
        other if other.to_string().contains("recursion limit exceeded") => {
            "the YAML is nested too deeply (more than 255 levels of [ ] or { })".to_string() + too_big
        }
        _ => return None,
    };
    Some(message)
}

/// Parses one scalar the way YAML would read it in a document (`7` is a number, `x` a string).
pub fn parse_scalar(text: &str) -> serde_json::Value {
    serde_saphyr::from_str_with_options::<serde_json::Value>(text, options())
        .ok()
        .filter(|v| !v.is_object() && !v.is_array() && !v.is_null())
        .unwrap_or_else(|| serde_json::Value::String(text.to_string()))
}

/// serde names a misspelt field and lists the right ones ("unknown field `retry`, expected one
/// of uses, in, retries"); the closest one is what the user meant, most of the time.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else { return message };
    let Some((field, expected)) = rest.split_once('`') else { return message };
    let expected = expected.trim_start_matches(", ");
    let list = expected.strip_prefix("expected one of ").or_else(|| expected.strip_prefix("expected "));
    let Some(list) = list else { return message };
    let names: Vec<&str> = list.split(", ").map(|name| name.trim().trim_matches('`')).collect();
    let hint = suggestion(field, names.iter().copied());
    if hint.is_empty() { message } else { format!("{message}{hint}") }
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
    fn a_misspelt_field_gets_the_field_meant() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Node {
            uses: Option<String>,
            retries: Option<u32>,
        }
        let err = parse::<Node>("retry: 2\n", Path::new("w.yaml")).unwrap_err();
        assert!(
            err.message.contains("unknown field `retry`") && err.message.ends_with("(did you mean 'retries'?)"),
            "{err}"
        );
        let err = parse::<Node>("zzzzzz: 2\n", Path::new("w.yaml")).unwrap_err();
        assert!(!err.message.contains("did you mean"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse::<BTreeMap<String, String>>("a: b\na: c\n", Path::new("w.yaml")).unwrap_err();
        assert!(err.message.contains("duplicate"), "{err}");
        assert_eq!(err.pos, Pos::new(2, 1));
    }

    /// Nothing of the parser's API or internals reaches the user.
    #[track_caller]
    fn says(text: &str, needle: &str) {
        let err = parse::<BTreeMap<String, serde_json::Value>>(text, Path::new("w.yaml")).unwrap_err();
        for internal in ["budget", "breach", "from_str", "Nodes {", "recursion limit", "(defined at"] {
            assert!(!err.message.contains(internal), "{err}");
        }
        assert!(err.message.contains(needle), "expected {needle:?} in: {err}");
    }

    #[test]
    fn parser_limits_and_stream_errors_are_explained() {
        says("a: 1\n---\nb: 2\n", "more than one YAML document");
        says(&format!("a: {}{}\n", "[".repeat(5000), "]".repeat(5000)), "nested too deeply");
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            laughs.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
        }
        says(&laughs, "too many values");
        says("a: *nowhere\n", "not defined");
        says("", "the file is empty");
        says("# only a comment\n\n", "the file is empty");
    }

    #[test]
    fn a_large_generated_workflow_is_within_the_limits() {
        // 70,000 entries of four values each (key, mapping, key, value): over the default 250,000.
        let text: String = (0..70_000).map(|i| format!("n{i}: {{ uses: shell }}\n")).collect();
        let parsed = parse::<BTreeMap<String, serde_json::Value>>(&text, Path::new("w.yaml")).unwrap();
        assert_eq!(parsed.len(), 70_000);
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
