//! `${var}` substitution.
//!
//! Variables are marked in the raw text before YAML parsing, because `${seed}` is not a valid
//! plain scalar inside a flow mapping (`{ seed: ${seed} }`), yet that is how people write it.
//! Each `${name}` becomes a marker of exactly the same number of characters built from Unicode
//! private-use characters, so every line:column the parser reports still matches the user's
//! file. After parsing, markers inside strings are replaced by the variable's value; a scalar that
//! is nothing but one variable takes the variable's type (`seed: ${seed}` stays a number).
//! `$${name}` is a literal `${name}`, for shell commands that use shell variables.
//! `${each name}` (a gather) stands for one reference per instance of the template that loops
//! over `name`; it gets a marker of its own, which only the loader's input binding expands.
//!
//! A variable's value may use other variables (`out: results/${cohort}`); [`resolve`] expands
//! them fully before anything else sees the values, and names a cycle instead of looping.
//!
//! In a shell command ([`substitute_shell`]) a value arrives as literal text, never as shell
//! syntax: `-s 'seed=$(id)'` must not run `id`. How a value is protected depends on where the
//! `${name}` stands in the command, so the command is scanned the way bash would read it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::diagnostic::Pos;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Second character of a marker written inside quotes: `"${n}"` is text, as YAML would have it.
const QUOTED: char = '\u{E002}';
/// Second to seventh character of the marker of a gather, `${each name}`.
const GATHER: char = '\u{E003}';
/// What a gather starts with inside its braces.
const EACH: &str = "each ";

/// One `${name}` (or `${each name}`, a gather) in the source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarUse {
    pub name: String,
    pub pos: Pos,
    /// Written `${each name}`.
    pub gather: bool,
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
        if [OPEN, CLOSE, QUOTED, GATHER].contains(&c) {
            return Err(VarSyntaxError {
                pos: Pos::new(line, column),
                message: "private-use characters U+E000..U+E003 are reserved by flow".into(),
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
            let width = name.chars().count() + 3;
            if let Some(looped) = name.strip_prefix(EACH) {
                if !is_var_name(looped) {
                    return Err(VarSyntaxError {
                        pos: start,
                        message: format!(
                            "bad gather '${{{name}}}': write ${{each NAME}}, NAME being a variable of a template's `for_each:`"
                        ),
                    });
                }
                // `${each name}` is name+8 characters: OPEN, six GATHERs, the name, CLOSE.
                out.push(OPEN);
                out.extend(std::iter::repeat_n(GATHER, 6));
                out.push_str(looped);
                out.push(CLOSE);
                uses.push(VarUse { name: looped.to_string(), pos: start, gather: true });
                i += width;
                column += width as u32;
                continue;
            }
            if !is_var_name(&name) {
                return Err(VarSyntaxError {
                    pos: start,
                    message: format!(
                        "bad variable reference '${{{name}}}': names are letters, digits and '_'; write $${{ for a literal '${{'"
                    ),
                });
            }
            // `${name}` is name+3 characters; the marker is OPEN, OPEN (or QUOTED), the name, CLOSE.
            let quoted = i > 0 && matches!(chars[i - 1], '"' | '\'') && chars.get(i + width) == Some(&chars[i - 1]);
            out.push(OPEN);
            out.push(if quoted { QUOTED } else { OPEN });
            out.push_str(&name);
            out.push(CLOSE);
            uses.push(VarUse { name, pos: start, gather: false });
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
    while let Some(marker) = next_marker(rest) {
        out.push_str(&unescape(marker.before));
        match vars.get(marker.name) {
            // The loader reports a gather outside `in:` before anything substitutes it.
            _ if marker.gather => out.push_str(&format!("${{{EACH}{}}}", marker.name)),
            Some(Value::String(text)) => out.push_str(text),
            Some(other) => out.push_str(&other.to_string()),
            None => out.push_str(marker.name),
        }
        rest = marker.after;
    }
    out.push_str(&unescape(rest));
    Value::String(out)
}

/// One variable marker in parsed text and the text around it.
struct Marker<'a> {
    before: &'a str,
    /// The marker itself, as it stands in the text.
    raw: &'a str,
    name: &'a str,
    gather: bool,
    after: &'a str,
}

/// The first marker in `s`, if any.
fn next_marker(s: &str) -> Option<Marker<'_>> {
    let start = s.find(OPEN)?;
    let body = &s[start + OPEN.len_utf8()..];
    let second = body.chars().next()?;
    let gather = second == GATHER;
    let body = &body[second.len_utf8()..];
    let body = if gather { body.trim_start_matches(GATHER) } else { body };
    let end = body.find(CLOSE).unwrap_or(body.len());
    let after = body.get(end + CLOSE.len_utf8()..).unwrap_or("");
    Some(Marker { before: &s[..start], raw: &s[start..s.len() - after.len()], name: &body[..end], gather, after })
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

/// A (marked) string as the user wrote it, with `${name}` and `${each name}` where the markers
/// stand, for messages about the text itself.
pub fn as_written(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(marker) = next_marker(rest) {
        out.push_str(marker.before);
        out.push_str(&format!("${{{}{}}}", if marker.gather { EACH } else { "" }, marker.name));
        rest = marker.after;
    }
    out.push_str(rest);
    out
}

/// The variable names a (marked) string refers to, in order, each time it appears; gathers
/// (`${each name}`) are not among them.
pub fn references(s: &str) -> Vec<&str> {
    markers(s).filter(|m| !m.gather).map(|m| m.name).collect()
}

/// The variables a (marked) string gathers over (`${each name}`), in order, each time.
pub fn gathers(s: &str) -> Vec<&str> {
    markers(s).filter(|m| m.gather).map(|m| m.name).collect()
}

fn markers(s: &str) -> impl Iterator<Item = Marker<'_>> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let marker = next_marker(rest?)?;
        rest = Some(marker.after);
        Some(marker)
    })
}

/// Replaces each gather `${each name}` in a (marked) string by the text of `values[name]`,
/// leaving every other marker for [`substitute_text`]. A gather whose name has no value is
/// left as it is (the loader reports it).
pub fn substitute_gathers(s: &str, values: &BTreeMap<String, Value>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(marker) = next_marker(rest) {
        out.push_str(marker.before);
        match values.get(marker.name) {
            Some(Value::String(text)) if marker.gather => out.push_str(text),
            Some(other) if marker.gather => out.push_str(&other.to_string()),
            _ => out.push_str(marker.raw),
        }
        rest = marker.after;
    }
    out.push_str(rest);
    out
}

/// Variables that refer to each other in a loop, in the order they refer: `a -> b -> a` is
/// `["a", "b"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl Cycle {
    /// `a -> b -> a`
    pub fn describe(&self) -> String {
        let mut names: Vec<&str> = self.0.iter().map(String::as_str).collect();
        names.push(&self.0[0]);
        names.join(" -> ")
    }
}

/// Expands variables inside variables' values, so that a value is final text or a typed
/// scalar with no marker left in it. A value that is exactly one variable takes that
/// variable's resolved value and type. References to undeclared names are left as their name
/// (the loader reports those); each cycle is returned once and its members stay unexpanded.
pub fn resolve(raw: &BTreeMap<String, Value>) -> (BTreeMap<String, Value>, Vec<Cycle>) {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        raw: &BTreeMap<String, Value>,
        states: &mut BTreeMap<String, State>,
        path: &mut Vec<String>,
        resolved: &mut BTreeMap<String, Value>,
        cycles: &mut Vec<Cycle>,
    ) {
        match states.get(name) {
            Some(State::Done) => return,
            Some(State::Visiting) => {
                let from = path.iter().position(|n| n == name).unwrap_or(0);
                cycles.push(Cycle(path[from..].to_vec()));
                return;
            }
            None => {}
        }
        let Some(value) = raw.get(name) else { return };
        states.insert(name.to_string(), State::Visiting);
        path.push(name.to_string());
        let final_value = match value {
            Value::String(text) => {
                for reference in references(text) {
                    visit(reference, raw, states, path, resolved, cycles);
                }
                substitute_str(text, resolved)
            }
            other => other.clone(),
        };
        path.pop();
        states.insert(name.to_string(), State::Done);
        resolved.insert(name.to_string(), final_value);
    }

    let mut resolved = BTreeMap::new();
    let mut states = BTreeMap::new();
    let mut cycles = Vec::new();
    for name in raw.keys() {
        visit(name, raw, &mut states, &mut Vec::new(), &mut resolved, &mut cycles);
    }
    // A value left holding a marker (a member of a cycle) must not leak into a command.
    for cycle in &cycles {
        for name in &cycle.0 {
            resolved.insert(name.clone(), Value::String(String::new()));
        }
    }
    (resolved, cycles)
}

/// Why a variable's value cannot go into a shell command where it is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellSpliceError {
    /// The variable.
    pub name: String,
    /// Which use of that variable in the command (0 for the first), to locate it in the file.
    pub occurrence: usize,
    pub message: String,
}

/// Substitutes markers in a shell command so that every value reaches bash as literal text.
///
/// Where the `${name}` stands decides how: as a word of its own or part of one (unquoted), the
/// value becomes a single-quoted word; inside '...' or "..." it is escaped for those quotes;
/// in a comment it is left as it is. A value made only of letters, digits and `/._-+:,@%` is
/// literal everywhere and goes in unchanged, wherever it stands. Anywhere else (inside `$(...)`,
/// `${...}`, `$((...))`, `$'...'`, backquotes, after a here-document, right after a backslash)
/// no quoting is both safe and faithful, so a value with other characters is an error that
/// tells the user to pass it through the environment instead. `{` in a value is split from
/// what follows so the shell kind never mistakes it for a `{in.X}` placeholder.
pub fn substitute_shell(s: &str, vars: &BTreeMap<String, Value>) -> Result<String, ShellSpliceError> {
    let mut out = String::with_capacity(s.len());
    let mut lexer = ShellLexer::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rest = s;
    loop {
        let marker = next_marker(rest);
        let literal = unescape(marker.as_ref().map_or(rest, |m| m.before));
        lexer.feed(&literal);
        out.push_str(&literal);
        let Some(marker) = marker else { break };
        let name = marker.name;
        if marker.gather {
            return Err(ShellSpliceError {
                name: name.to_string(),
                occurrence: 0,
                message: format!("${{{EACH}{name}}} gathers references, which only inputs (`in:`) take"),
            });
        }
        let occurrence = seen.entry(name).or_insert(0);
        let text = match vars.get(name) {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => name.to_string(),
        };
        let spliced = splice(&text, lexer.context()).map_err(|reason| ShellSpliceError {
            name: name.to_string(),
            occurrence: *occurrence,
            message: format!("${{{name}}} {reason}"),
        })?;
        *occurrence += 1;
        out.push_str(&spliced);
        lexer.after_splice();
        rest = marker.after;
    }
    Ok(out)
}

/// Characters that mean nothing to bash in any context, so a value made of them is literal
/// wherever it stands.
fn is_plain(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c))
}

/// A short, safe rendering of a value for an error message.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        shown.push('…');
    }
    format!("{shown:?}")
}

fn splice(text: &str, context: Context) -> Result<String, String> {
    if text.contains('\0') {
        return Err(format!("has a NUL character in its value {}, which a shell command cannot hold", shown(text)));
    }
    if is_plain(text) {
        return Ok(text.to_string());
    }
    // `{''in.x}` is `{in.x}` to bash but no placeholder to the shell kind.
    let split_braces = |text: &str, empty: &str| text.replace('{', &format!("{{{empty}"));
    match context {
        Context::Word => Ok(format!("'{}'", split_braces(&text.replace('\'', "'\\''"), "''"))),
        Context::SingleQuoted => Ok(split_braces(&text.replace('\'', "'\\''"), "''")),
        Context::DoubleQuoted => {
            let mut escaped = String::with_capacity(text.len() + 8);
            for c in text.chars() {
                if matches!(c, '\\' | '$' | '`' | '"') {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            Ok(split_braces(&escaped, "\"\""))
        }
        Context::Comment if text.contains('\n') => Err(format!(
            "is used in a shell comment and its value {} has a line break, which would end the comment \
             and run the rest as commands; take it out of the comment",
            shown(text)
        )),
        Context::Comment => Ok(split_braces(text, "''")),
        Context::Opaque(place) => Err(format!(
            "is used {place} in the command, where flow cannot quote it, and its value {} has characters \
             special to the shell; pass it through the environment instead: `env: {{ NAME: \"${{…}}\" }}` \
             and \"$NAME\" in the command",
            shown(text)
        )),
    }
}

/// Where in a bash command the next character stands, as far as quoting a value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    /// Unquoted, at the top level of the script.
    Word,
    SingleQuoted,
    DoubleQuoted,
    Comment,
    /// Somewhere flow does not quote into; the text says where, for the error.
    Opaque(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
    Comment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    Top,
    /// `$(...)`, `$((...))` or `((...))`: open parentheses still to close.
    Parens(u32),
    /// `${...}`: open braces still to close.
    Braces(u32),
    /// `$'...'`, where backslash escapes apply.
    AnsiC,
}

/// Follows bash's quoting through a command well enough to know, at each `${name}`, whether
/// it stands unquoted at the top level, inside simple quotes, in a comment, or somewhere
/// nested. Whatever it cannot follow with certainty (here-documents, backquotes, `case` inside
/// `$(...)`, whose `)` breaks the parenthesis count) makes the rest of the command opaque,
/// which is always safe: an opaque place only takes values with no special characters.
struct ShellLexer {
    frames: Vec<(Frame, Quote)>,
    escaped: bool,
    word_start: bool,
    /// Set once the lexer loses certainty; says why.
    lost: Option<&'static str>,
    /// The last characters seen, for two-character tokens split across pieces.
    prev: Option<char>,
    word: String,
}

impl ShellLexer {
    fn new() -> ShellLexer {
        ShellLexer {
            frames: vec![(Frame::Top, Quote::None)],
            escaped: false,
            word_start: true,
            lost: None,
            prev: None,
            word: String::new(),
        }
    }

    fn context(&self) -> Context {
        if let Some(why) = self.lost {
            return Context::Opaque(why);
        }
        if self.escaped {
            return Context::Opaque("right after a backslash");
        }
        if self.prev == Some('$') && matches!(self.quote(), Quote::None | Quote::Double) {
            return Context::Opaque("right after a '$'");
        }
        match self.frames.last() {
            Some((Frame::Top, Quote::None)) | None => Context::Word,
            Some((Frame::Top, Quote::Single)) => Context::SingleQuoted,
            Some((Frame::Top, Quote::Double)) => Context::DoubleQuoted,
            Some((Frame::Top, Quote::Comment)) => Context::Comment,
            Some((Frame::Parens(_), _)) => Context::Opaque("inside $(...), $((...)) or ((...))"),
            Some((Frame::Braces(_), _)) => Context::Opaque("inside a shell ${...} expansion"),
            Some((Frame::AnsiC, _)) => Context::Opaque("inside $'...'"),
        }
    }

    fn after_splice(&mut self) {
        self.word_start = false;
        self.prev = Some('x');
        self.word.push('x');
    }

    fn lose(&mut self, why: &'static str) {
        self.lost.get_or_insert(why);
    }

    fn feed(&mut self, text: &str) {
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() && self.lost.is_none() {
            let taken = 1 + self.step(&chars[i..]);
            i += taken;
            self.prev = Some(chars[i - 1]);
        }
    }

    fn quote(&self) -> Quote {
        self.frames.last().map_or(Quote::None, |f| f.1)
    }

    fn set_quote(&mut self, quote: Quote) {
        if let Some(top) = self.frames.last_mut() {
            top.1 = quote;
        }
    }

    fn set_frame(&mut self, frame: Frame) {
        if let Some(top) = self.frames.last_mut() {
            top.0 = frame;
        }
    }

    fn push(&mut self, frame: Frame) {
        self.frames.push((frame, Quote::None));
        self.word_start = true;
        self.word.clear();
    }

    /// Takes the first character of `ahead` (looking further when a token needs it); returns
    /// how many characters after it were consumed as well.
    fn step(&mut self, ahead: &[char]) -> usize {
        let c = ahead[0];
        let next = ahead.get(1).copied();
        let frame = self.frames.last().map_or(Frame::Top, |f| f.0);
        if self.escaped {
            self.escaped = false;
            self.word_start = false;
            return 0;
        }
        match self.quote() {
            Quote::Single => {
                if c == '\'' {
                    self.set_quote(Quote::None);
                }
                return 0;
            }
            Quote::Comment => {
                if c == '\n' {
                    self.set_quote(Quote::None);
                    self.word_start = true;
                }
                return 0;
            }
            Quote::Double => {
                match (c, next) {
                    ('\\', _) => self.escaped = true,
                    ('"', _) => self.set_quote(Quote::None),
                    ('$', Some('(')) => {
                        self.push(Frame::Parens(1));
                        return 1;
                    }
                    ('$', Some('{')) => {
                        self.push(Frame::Braces(1));
                        return 1;
                    }
                    ('`', _) => self.lose("after a backquote"),
                    _ => {}
                }
                return 0;
            }
            Quote::None => {}
        }
        if frame == Frame::AnsiC {
            match c {
                '\\' => self.escaped = true,
                '\'' => {
                    self.frames.pop();
                }
                _ => {}
            }
            return 0;
        }
        let was_word_start = self.word_start;
        let ends_word = c.is_whitespace() || ";&|()<>".contains(c);
        if ends_word {
            if self.word == "case" && matches!(frame, Frame::Parens(_)) {
                // `case x in a)` closes no parenthesis: the count would go wrong from here.
                self.lose("after a `case` inside $(...)");
            }
            self.word.clear();
        } else {
            self.word.push(c);
        }
        self.word_start = ends_word;
        match (c, next) {
            ('\\', _) => self.escaped = true,
            ('\'', _) => self.set_quote(Quote::Single),
            ('"', _) => self.set_quote(Quote::Double),
            ('#', _) if was_word_start => self.set_quote(Quote::Comment),
            ('`', _) => self.lose("after a backquote"),
            ('<', Some('<')) if ahead.get(2) == Some(&'<') => return 2,
            ('<', Some('<')) => self.lose("in or after a here-document (<<)"),
            ('$', Some('\'')) => {
                self.push(Frame::AnsiC);
                return 1;
            }
            ('$', Some('"')) => {
                self.set_quote(Quote::Double);
                return 1;
            }
            ('$', Some('(')) => {
                self.push(Frame::Parens(1));
                return 1;
            }
            ('$', Some('{')) => {
                self.push(Frame::Braces(1));
                return 1;
            }
            ('(', Some('(')) if was_word_start => {
                self.push(Frame::Parens(2));
                return 1;
            }
            (open @ ('(' | '{'), _) => match frame {
                Frame::Parens(n) if open == '(' => self.set_frame(Frame::Parens(n + 1)),
                Frame::Braces(n) if open == '{' => self.set_frame(Frame::Braces(n + 1)),
                _ => {}
            },
            (close @ (')' | '}'), _) => match frame {
                Frame::Parens(1) if close == ')' => self.pop(),
                Frame::Braces(1) if close == '}' => self.pop(),
                Frame::Parens(n) if close == ')' => self.set_frame(Frame::Parens(n - 1)),
                Frame::Braces(n) if close == '}' => self.set_frame(Frame::Braces(n - 1)),
                _ => {}
            },
            _ => {}
        }
        0
    }

    fn pop(&mut self) {
        self.frames.pop();
        // What follows `$(...)` continues the word it stood in.
        self.word_start = false;
    }
}

fn whole_marker(s: &str) -> Option<&str> {
    let marker = next_marker(s)?;
    // A quoted marker (second character QUOTED) stays text, and a gather is no value.
    let plain = marker.raw.chars().nth(1) == Some(OPEN);
    (plain && marker.before.is_empty() && marker.after.is_empty()).then_some(marker.name)
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
        assert_eq!(uses[0], VarUse { name: "seed".into(), pos: Pos::new(1, 12), gather: false });
        assert_eq!(uses[1], VarUse { name: "who".into(), pos: Pos::new(2, 4), gather: false });
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

    #[test]
    fn gathers_are_marked_apart_and_keep_columns() {
        let text = "in: { m: ${each set}_m.o, x: ${set}.o, lit: $${each set} }\n";
        let (marked, uses) = mark(text).unwrap();
        assert_eq!(marked.chars().count(), text.chars().count());
        assert_eq!(
            uses,
            [
                VarUse { name: "set".into(), pos: Pos::new(1, 10), gather: true },
                VarUse { name: "set".into(), pos: Pos::new(1, 30), gather: false },
            ]
        );
        assert_eq!(references(&marked), ["set"]);
        assert_eq!(gathers(&marked), ["set"]);
        let bindings = BTreeMap::from([("set".to_string(), json!("genomic"))]);
        let gathered = substitute_gathers(&marked, &bindings);
        assert!(gathered.contains("m: genomic_m.o"), "{gathered}");
        assert_eq!(references(&gathered), ["set"], "plain variables are left for substitute_text");
        assert_eq!(
            substitute_text(&gathered, &BTreeMap::from([("set".to_string(), json!("other"))])),
            "in: { m: genomic_m.o, x: other.o, lit: ${each set} }\n"
        );
        assert_eq!(as_written(&marked), text, "as written, escapes and all");
        // Substituting a gather as a plain value would silently drop the other instances.
        let (marked, _) = mark("${each set}").unwrap();
        assert_eq!(substitute_str(&marked, &bindings), json!("${each set}"));
        let err = mark("x: ${each bad-name}").unwrap_err();
        assert_eq!(err.pos, Pos::new(1, 4));
        assert!(err.message.contains("bad gather"), "{}", err.message);
    }

    fn shell(command: &str, value: &str) -> Result<String, ShellSpliceError> {
        let (marked, _) = mark(command).unwrap();
        substitute_shell(&marked, &BTreeMap::from([("v".to_string(), json!(value))]))
    }

    /// What bash prints for a script, run in an empty directory so a value that escaped its
    /// quoting would leave a file behind.
    fn bash(script: &str) -> (String, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("bash").arg("-c").arg(script).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "bash failed on {script:?}: {}", String::from_utf8_lossy(&out.stderr));
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        (String::from_utf8(out.stdout).unwrap(), left)
    }

    const NASTY: &[&str] = &[
        "a b",
        "$(touch pwned)",
        "`touch pwned`",
        "it's",
        "say \"hi\"",
        "back\\slash",
        "x; touch pwned",
        "*",
        "~",
        "$HOME",
        "{in.x} {out.o} {scratch}",
        "'; touch pwned; '",
        "\"; touch pwned; \"",
        "two\nlines",
        "",
        "-n",
    ];

    #[test]
    fn shell_values_arrive_as_literal_text_in_every_quoting() {
        for value in NASTY {
            for (command, before, after) in [
                ("printf '%s|' ${v}", "", ""),
                ("printf '%s|' pre${v}post", "pre", "post"),
                ("printf '%s|' 'pre${v}post'", "pre", "post"),
                ("printf '%s|' \"pre${v}post\"", "pre", "post"),
                ("printf '%s|' \"$(printf x)${v}\"", "x", ""),
            ] {
                let script = shell(command, value).unwrap();
                let (printed, left) = bash(&script);
                assert_eq!(printed, format!("{before}{value}{after}|"), "{command} with {value:?} became {script:?}");
                assert!(left.is_empty(), "{script:?} created {left:?}");
                assert!(!script.contains("{in.x}") && !script.contains("{out.o}"), "{script:?}");
            }
        }
    }

    #[test]
    fn comments_take_values_but_not_line_breaks() {
        let script = shell("printf ok # ${v}", "x; touch pwned").unwrap();
        assert_eq!(bash(&script), ("ok".to_string(), vec![]));
        let err = shell("printf ok # ${v}", "x\ntouch pwned").unwrap_err();
        assert!(err.message.contains("comment") && err.message.contains("line break"), "{}", err.message);
    }

    #[test]
    fn plain_values_go_in_unchanged_anywhere() {
        assert_eq!(shell("awk -v n=${v} 'BEGIN { print n }'", "200").unwrap(), "awk -v n=200 'BEGIN { print n }'");
        assert_eq!(shell("echo $(cat x_${v}.csv)", "R01-7").unwrap(), "echo $(cat x_R01-7.csv)");
        assert_eq!(shell("cat <<EOF\n${v}\nEOF", "results/a.csv").unwrap(), "cat <<EOF\nresults/a.csv\nEOF");
    }

    #[test]
    fn places_flow_cannot_quote_into_are_refused_for_special_values() {
        for (command, place) in [
            ("echo $(echo ${v})", "$(...)"),
            ("echo \"$(echo ${v})\"", "$(...)"),
            ("echo $((1 + ${v}))", "$((...))"),
            ("(( ${v} > 1 ))", "((...))"),
            ("echo $${HOME:-${v}}", "${...}"),
            ("echo $'${v}'", "$'...'"),
            ("echo `echo ${v}`", "backquote"),
            ("cat <<EOF\n${v}\nEOF", "here-document"),
            ("cat <<EOF\nx\nEOF\necho ${v}", "here-document"),
            ("echo \\${v}", "backslash"),
            ("x=$(case a in a) echo;; esac) ${v}", "case"),
        ] {
            let err = shell(command, "a b; touch pwned").unwrap_err();
            assert_eq!((err.name.as_str(), err.occurrence), ("v", 0));
            assert!(err.message.contains(place), "{command}: {}", err.message);
            assert!(err.message.contains("env:"), "{command}: {}", err.message);
        }
        // After a `$(...)` closes, quoting is known again.
        assert_eq!(shell("echo $(date) ${v}", "a b").unwrap(), "echo $(date) 'a b'");
        assert_eq!(shell("echo $${HOME} ${v}", "a b").unwrap(), "echo ${HOME} 'a b'");
    }

    #[test]
    fn the_failing_use_is_counted() {
        let err = shell("echo ${v} $(echo ${v})", "a b").unwrap_err();
        assert_eq!(err.occurrence, 1);
        let err = shell("echo ${v}", "nul\0byte").unwrap_err();
        assert!(err.message.contains("NUL"), "{}", err.message);
    }

    #[test]
    fn nested_variables_resolve_with_types_and_cycles_are_named() {
        let raw = |pairs: &[(&str, &str)]| -> BTreeMap<String, Value> {
            pairs
                .iter()
                .map(|(k, v)| {
                    let (marked, _) = mark(v).unwrap();
                    (k.to_string(), crate::yaml::parse_scalar(&marked))
                })
                .collect()
        };
        let (values, cycles) = resolve(&raw(&[("a", "x${b}"), ("b", "${c}"), ("c", "7"), ("d", "$${a}")]));
        assert!(cycles.is_empty());
        assert_eq!(values["a"], json!("x7"));
        assert_eq!(values["b"], json!(7), "a value that is one variable keeps its type");
        assert_eq!(values["d"], json!("${a}"), "$${{ stays a literal");
        for value in values.values() {
            assert!(!value.to_string().contains(OPEN), "no marker may survive: {values:?}");
        }
        let (values, cycles) = resolve(&raw(&[("a", "x${b}"), ("b", "${a}"), ("s", "${s}"), ("ok", "1")]));
        let described: Vec<String> = cycles.iter().map(Cycle::describe).collect();
        assert_eq!(described, vec!["a -> b -> a", "s -> s"]);
        assert_eq!(values["ok"], json!(1));
        assert!(!values["a"].to_string().contains(OPEN));
    }
}
