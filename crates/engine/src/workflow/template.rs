//! Templates: a group of nodes written once and instantiated for each value of a list, or for
//! each combination of several lists (a matrix), or for each row of a table of values.
//!
//! A template is a load-time expansion (DESIGN.md 3b): its nodes are copied once per instance
//! with the instance's variables in scope, so `${set}_pca` becomes `genomic_pca`, and after
//! loading the workflow holds plain nodes under those names. Nothing past the loader knows
//! templates exist, which keeps names stable everywhere a node is named (logs, `flow why`, the
//! graph, publish keys, the report). A reference inside an instance (`${set}_scaled.train`)
//! names a node of the same instance. A gather, `${each set}_metrics.metrics` under `in:`,
//! stands for one reference per instance, in the order the template lists its values.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::diagnostic::Pos;
use crate::workflow::vars;
use crate::yaml::{Spanned, pos};

/// What a template loops over, as written under `for_each:`.
#[derive(Clone, Debug)]
pub(crate) enum RawForEach {
    /// `{ set: [a, b], seed: [1, 2] }`: one instance per combination, the first variable
    /// outermost (a, 1; a, 2; b, 1; b, 2).
    Matrix(IndexMap<Spanned<String>, Spanned<Value>>),
    /// `[{ set: a, columns: x }, { set: b, columns: y }]`: one instance per row, for values
    /// that belong together.
    Rows(Vec<Spanned<RawRow>>),
}

/// One row of a `for_each:` list: variables and their values, in the order written.
#[derive(Clone, Debug)]
pub(crate) struct RawRow(pub IndexMap<Spanned<String>, Spanned<Value>>);

impl<'de> Deserialize<'de> for RawRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawRow, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = RawRow;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                // The likely slip is `for_each: [a, b]`, which names no variable.
                f.write_str(
                    "a row of variables and their values, such as { set: genomic }; to loop over a list of \
                     values, name the variable: for_each: { set: [a, b] }",
                )
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRow, A::Error> {
                let mut row = IndexMap::new();
                while let Some((key, value)) = map.next_entry::<Spanned<String>, Spanned<Value>>()? {
                    row.insert(key, value);
                }
                Ok(RawRow(row))
            }
        }
        deserializer.deserialize_any(RowVisitor)
    }
}

impl<'de> Deserialize<'de> for RawForEach {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawForEach, D::Error> {
        struct ForEachVisitor;
        impl<'de> Visitor<'de> for ForEachVisitor {
            type Value = RawForEach;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a mapping of variables to lists of values ({ set: [a, b] }) or a list of rows \
                     ([{ set: a, x: 1 }, { set: b, x: 2 }])",
                )
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawForEach, A::Error> {
                let mut variables = IndexMap::new();
                while let Some((key, value)) = map.next_entry::<Spanned<String>, Spanned<Value>>()? {
                    variables.insert(key, value);
                }
                Ok(RawForEach::Matrix(variables))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawForEach, A::Error> {
                let mut rows = Vec::new();
                while let Some(row) = seq.next_element::<Spanned<RawRow>>()? {
                    rows.push(row);
                }
                Ok(RawForEach::Rows(rows))
            }
        }
        deserializer.deserialize_any(ForEachVisitor)
    }
}

impl RawForEach {
    /// The variables as written (first row's keys for rows), without checking them.
    pub(crate) fn variable_names(&self) -> Vec<&Spanned<String>> {
        match self {
            RawForEach::Matrix(variables) => variables.keys().collect(),
            RawForEach::Rows(rows) => rows.first().map(|row| row.value.0.keys().collect()).unwrap_or_default(),
        }
    }

    /// Every value as written: the lists of a matrix, the values of every row.
    pub(crate) fn values(&self) -> Vec<&Spanned<Value>> {
        match self {
            RawForEach::Matrix(variables) => variables.values().collect(),
            RawForEach::Rows(rows) => rows.iter().flat_map(|row| row.value.0.values()).collect(),
        }
    }
}

/// A template after reading its `for_each:`.
pub(crate) struct Template {
    pub name: String,
    /// Its variables, in the order `for_each:` declares them.
    pub variables: Vec<String>,
    pub instances: Vec<Arc<Instance>>,
}

/// One instance of a template: the values of its variables, and everything in scope there.
pub(crate) struct Instance {
    pub template: String,
    /// The template's variables and this instance's values, in declaration order.
    pub bindings: Vec<(String, Value)>,
    /// The workflow's `vars:` with the bindings added, for substituting into its nodes.
    pub scope: BTreeMap<String, Value>,
}

impl Instance {
    /// `set=genomic`, or `set=genomic seed=1` for several variables; long or unusual values
    /// are quoted and shortened, since the label goes into error messages.
    pub(crate) fn label(&self) -> String {
        row_label(&self.bindings)
    }
}

fn show(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:+@".contains(c));
    if plain && text.chars().count() <= 40 {
        return text;
    }
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        short.push('…');
    }
    format!("{short:?}")
}

/// Where a template's variables came from, for errors.
pub(crate) fn context(template: &str, labels: &[String]) -> String {
    match labels {
        [one] => format!("in template '{template}', instance {one}"),
        many => format!("in template '{template}', instances {}", many.join(", ")),
    }
}

/// Reads a template's `for_each:` into its instances. `vars` are the workflow's
/// variables, which values may use (`[${seed}, 7]`). Every problem is returned with its place.
pub(crate) fn instances(
    name: &str,
    for_each: &Spanned<RawForEach>,
    vars: &BTreeMap<String, Value>,
) -> Result<Vec<Arc<Instance>>, Vec<(Pos, String)>> {
    let mut problems = Vec::new();
    let value_of = |value: &Value, at: Pos, variable: &str, problems: &mut Vec<(Pos, String)>| -> Option<Value> {
        let substituted = vars::substitute(value, vars);
        if substituted.is_object() || substituted.is_array() || substituted.is_null() {
            problems.push((
                at,
                format!(
                    "template '{name}': a value of `{variable}` must be text, a number or a bool, not {}",
                    if substituted.is_null() { "empty".to_string() } else { substituted.to_string() }
                ),
            ));
            return None;
        }
        Some(substituted)
    };
    let check_name = |key: &Spanned<String>, problems: &mut Vec<(Pos, String)>| {
        if !vars::is_var_name(&key.value) {
            problems.push((
                pos(key),
                format!("template '{name}': bad variable name '{}': use letters, digits and '_'", key.value),
            ));
        }
    };
    let mut rows: Vec<Vec<(String, Value)>> = Vec::new();
    let variables: Vec<String>;
    match &for_each.value {
        RawForEach::Matrix(lists) => {
            variables = lists.keys().map(|k| k.value.clone()).collect();
            rows.push(Vec::new());
            for (key, list) in lists {
                check_name(key, &mut problems);
                let Value::Array(items) = &list.value else {
                    problems.push((
                        pos(list),
                        format!(
                            "template '{name}': `{}` needs a list of values, such as [a, b]; for one value write [{}]",
                            key.value,
                            show(&list.value)
                        ),
                    ));
                    continue;
                };
                if items.is_empty() {
                    problems.push((pos(list), format!("template '{name}': `{}` has no values", key.value)));
                    continue;
                }
                // The items of a list have no places of their own: the list's place stands for them.
                let values: Vec<Value> =
                    items.iter().filter_map(|item| value_of(item, pos(list), &key.value, &mut problems)).collect();
                rows = rows
                    .into_iter()
                    .flat_map(|row| {
                        values.iter().map(move |value| {
                            let mut row = row.clone();
                            row.push((key.value.clone(), value.clone()));
                            row
                        })
                    })
                    .collect();
            }
        }
        RawForEach::Rows(list) => {
            let first: Vec<&str> =
                list.first().map(|row| row.value.0.keys().map(|k| k.value.as_str()).collect()).unwrap_or_default();
            variables = first.iter().map(|k| k.to_string()).collect();
            for (index, row) in list.iter().enumerate() {
                let keys: Vec<&str> = row.value.0.keys().map(|k| k.value.as_str()).collect();
                if keys != first {
                    problems.push((
                        pos(row),
                        format!(
                            "template '{name}': row {} sets {}, but row 1 sets {}; every row sets the same \
                             variables, in the same order",
                            index + 1,
                            list_names(&keys),
                            list_names(&first)
                        ),
                    ));
                    continue;
                }
                let mut bindings = Vec::new();
                for (key, value) in &row.value.0 {
                    if index == 0 {
                        check_name(key, &mut problems);
                    }
                    if let Some(value) = value_of(&value.value, pos(value), &key.value, &mut problems) {
                        bindings.push((key.value.clone(), value));
                    }
                }
                rows.push(bindings);
            }
        }
    }
    if variables.is_empty() || rows.is_empty() {
        problems.push((
            pos(for_each),
            format!("template '{name}': `for_each:` gives no instances; list the values, e.g. {{ set: [a, b] }}"),
        ));
    }
    let mut first_with: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        if let Some(&earlier) = first_with.get(&row_key(row)) {
            problems.push((
                pos(for_each),
                format!(
                    "template '{name}': instance {} ({}) repeats instance {}; each instance needs its own values",
                    index + 1,
                    row_label(row),
                    earlier + 1
                ),
            ));
        } else {
            first_with.insert(row_key(row), index);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let instances = rows
        .into_iter()
        .map(|bindings| {
            let mut scope = vars.clone();
            scope.extend(bindings.iter().cloned());
            Arc::new(Instance { template: name.to_string(), bindings, scope })
        })
        .collect();
    Ok(instances)
}

/// An instance's values as JSON, so `1` and `"1"` stay apart.
fn row_key(row: &[(String, Value)]) -> String {
    row.iter().map(|(_, value)| value.to_string()).collect::<Vec<_>>().join("\u{0}")
}

fn row_label(row: &[(String, Value)]) -> String {
    row.iter().map(|(name, value)| format!("{name}={}", show(value))).collect::<Vec<_>>().join(" ")
}

fn list_names(names: &[&str]) -> String {
    if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
}

/// The references a written input reference stands for. Without a gather that is the text
/// itself; with one (`${each set}_pca.pca`), one reference per instance of the template that
/// loops over the gathered variables, in instance order, each combination of their values
/// once. Other variables are left for the caller to substitute.
pub(crate) fn gather(written: &str, templates: &[Template]) -> Result<Vec<String>, GatherError> {
    let names = vars::gathers(written);
    let Some(first) = names.first() else { return Ok(vec![written.to_string()]) };
    let owner = |name: &str| templates.iter().find(|t| t.variables.iter().any(|v| v == name));
    // A variable no template declares was reported when variables were checked, and a
    // template whose `for_each:` was wrong was reported where it stands.
    let Some(template) = owner(first) else { return Err(GatherError::Reported) };
    for name in &names {
        match owner(name) {
            Some(other) if other.name != template.name => {
                return Err(GatherError::Message(format!(
                    "${{each {first}}} and ${{each {name}}} loop in different templates ('{}' and '{}'); a \
                     reference gathers over one template's instances, so write one reference per template",
                    template.name, other.name
                )));
            }
            Some(_) => {}
            None => return Err(GatherError::Reported),
        }
    }
    let mut seen = HashSet::new();
    let mut references = Vec::new();
    for instance in &template.instances {
        let combination: Vec<String> =
            names.iter().filter_map(|name| instance.scope.get(*name)).map(Value::to_string).collect();
        if seen.insert(combination) {
            references.push(vars::substitute_gathers(written, &instance.scope));
        }
    }
    Ok(references)
}

/// Why a gather could not be expanded.
#[derive(Debug)]
pub(crate) enum GatherError {
    /// Already reported elsewhere; say nothing more.
    Reported,
    Message(String),
}
