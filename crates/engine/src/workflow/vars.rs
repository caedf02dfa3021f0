//! `${var}` substitution.
//!
//! Variables are marked in the raw text before YAML parsing, because `${seed}` is not a valid
//! plain scalar inside a flow mapping (`{ seed: ${seed} }`), yet that is how people write it.
//! Each `${name}` becomes a marker of exactly the same number of characters built from Unicode
//! private-use characters, so every line:column the parser reports still matches the user's
//! file. After parsing, markers inside strings are replaced by the variable's value; a scalar that
//! is nothing but one variable takes the variable's type (`seed: ${seed}` stays a number).
//! `$${name}` is a literal `${name}`, for shell commands that use shell variables.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::diagnostic::Pos;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Second character of a marker written inside quotes: `"${n}"` is text, as YAML would have it.
const QUOTED: char = '\u{E002}';

/// One `${name}` in the source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarUse {
    pub name: String,
    pub pos: Pos,
}

/// A malformed `${...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarSyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Replaces every `${name}` by a same-width marker and lists the uses.
pub fn mark(text: &str) -> Result<(String, Vec<VarUse>), VarSyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut uses = Vec::new();
    let (mut line, mut column) = (1u32, 1u32);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == OPEN || c == CLOSE || c == QUOTED {
            return Err(VarSyntaxError {
                pos: Pos::new(line, column),
                message: "private-use characters U+E000..U+E002 are reserved by flow".into(),
            });
        }
        if c == '$' && chars.get(i + 1) == Some(&'$') && chars.get(i + 2) == Some(&'{') {
            // An escaped `$${`: keep it whole; `unescape` turns it into `${` after parsing.
            out.push_str("$${");
            i += 3;
            column += 3;
            continue;
        }
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            let start = Pos::new(line, column);
            let close = chars[i + 2..].iter().position(|&c| c == '}' || c == '\n');
            let name: String = match close {
                Some(n) if chars[i + 2 + n] == '}' => chars[i + 2..i + 2 + n].iter().collect(),
                _ => {
                    return Err(VarSyntaxError {
                        pos: start,
                        message: "unclosed '${': write ${name}, or $${ for a literal '${'".into(),
                    });
                }
            };
            if !is_var_name(&name) {
                return Err(VarSyntaxError {
                    pos: start,
                    message: format!(
                        "bad variable reference '${{{name}}}': names are letters, digits and '_'; write $${{ for a literal '${{'"
                    ),
                });
            }
            // `${name}` is name+3 characters; the marker is OPEN, OPEN (or QUOTED), the name, CLOSE.
            let width = name.chars().count() + 3;
            let quoted = i > 0 && matches!(chars[i - 1], '"' | '\'') && chars.get(i + width) == Some(&chars[i - 1]);
            out.push(OPEN);
            out.push(if quoted { QUOTED } else { OPEN });
            out.push_str(&name);
            out.push(CLOSE);
            uses.push(VarUse { name, pos: start });
            i += width;
            column += width as u32;
            continue;
        }
        out.push(c);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        i += 1;
    }
    Ok((out, uses))
}

pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a parsed string still holds a variable marker.
pub fn has_marker(s: &str) -> bool {
    s.contains(OPEN)
}

/// Substitutes markers in one string. A string that is exactly one marker takes the value's
/// own type; otherwise values are spliced in as text. Names were checked against `vars` before.
pub fn substitute_str(s: &str, vars: &BTreeMap<String, Value>) -> Value {
    if !has_marker(s) {
        return Value::String(unescape(s));
    }
    if let Some(name) = whole_marker(s)
        && let Some(value) = vars.get(name)
    {
        return value.clone();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&unescape(&rest[..start]));
        // OPEN and QUOTED have the same UTF-8 length.
        let after = &rest[start + 2 * OPEN.len_utf8()..];
        let end = after.find(CLOSE).unwrap_or(after.len());
        let name = &after[..end];
        match vars.get(name) {
            Some(Value::String(text)) => out.push_str(text),
            Some(other) => out.push_str(&other.to_string()),
            None => out.push_str(name),
        }
        rest = after.get(end + CLOSE.len_utf8()..).unwrap_or("");
    }
    out.push_str(&unescape(rest));
    Value::String(out)
}

/// Substitutes markers everywhere inside a parsed value.
pub fn substitute(value: &Value, vars: &BTreeMap<String, Value>) -> Value {
    match value {
        Value::String(s) => substitute_str(s, vars),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, vars)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, vars))).collect()),
        other => other.clone(),
    }
}

/// Substitutes into a string field (a path, a reference): values are always text there.
pub fn substitute_text(s: &str, vars: &BTreeMap<String, Value>) -> String {
    match substitute_str(s, vars) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn whole_marker(s: &str) -> Option<&str> {
    let inner = s.strip_prefix(OPEN)?.strip_prefix(OPEN)?.strip_suffix(CLOSE)?;
    (!inner.contains(OPEN) && !inner.contains(CLOSE)).then_some(inner)
}

fn unescape(s: &str) -> String {
    s.replace("$${", "${")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> BTreeMap<String, Value> {
        BTreeMap::from([("seed".to_string(), json!(42)), ("who".to_string(), json!("R01"))])
    }

    #[test]
    fn markers_keep_columns() {
        let text = "a: { seed: ${seed}, x: 1 }\nb: ${who}\n";
        let (marked, uses) = mark(text).unwrap();
        assert_eq!(marked.chars().count(), text.chars().count());
        assert_eq!(uses[0], VarUse { name: "seed".into(), pos: Pos::new(1, 12) });
        assert_eq!(uses[1], VarUse { name: "who".into(), pos: Pos::new(2, 4) });
    }

    #[test]
    fn whole_scalar_keeps_type_and_text_splices() {
        let (marked, _) = mark("${seed}").unwrap();
        assert_eq!(substitute_str(&marked, &vars()), json!(42));
        let (marked, _) = mark("case-${who}-${seed}.csv").unwrap();
        assert_eq!(substitute_str(&marked, &vars()), json!("case-R01-42.csv"));
    }

    #[test]
    fn quoted_variables_stay_text() {
        let (marked, _) = mark("a: \"${seed}\"").unwrap();
        let inner = marked.trim_start_matches("a: \"").trim_end_matches('"');
        assert_eq!(substitute_str(inner, &vars()), json!("42"));
        let (marked, _) = mark("a: ${seed}").unwrap();
        assert_eq!(substitute_str(marked.trim_start_matches("a: "), &vars()), json!(42));
    }

    #[test]
    fn dollar_dollar_is_a_literal() {
        let (marked, uses) = mark("echo $${HOME} ${who}").unwrap();
        assert_eq!(uses.len(), 1);
        assert_eq!(substitute_str(&marked, &vars()), json!("echo ${HOME} R01"));
    }

    #[test]
    fn malformed_references_are_located() {
        let err = mark("x: 1\ny: ${bad name}\n").unwrap_err();
        assert_eq!(err.pos, Pos::new(2, 4));
        let err = mark("y: ${open\n").unwrap_err();
        assert!(err.message.contains("unclosed"), "{}", err.message);
    }
}
