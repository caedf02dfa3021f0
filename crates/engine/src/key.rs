//! Action keys. One manifest type lists everything that decides a node's output; the key is
//! the blake3 of its canonical encoding, and `flow why` diffs two manifests, so an explanation
//! can never drift from what the cache actually compares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;

/// Bump when the key encoding or the store layout changes meaning.
pub const CACHE_FORMAT: u32 = 1;

/// Everything an action key covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionManifest {
    pub format: u32,
    pub kind: String,
    pub kind_version: String,
    /// Digest of a plugin's files, for kinds whose code lives outside the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub params: Value,
    /// Input port -> digests of the artifacts bound to it, in binding order.
    pub inputs: BTreeMap<String, Vec<String>>,
    /// Digest of the workflow structure upstream of the node, for kinds that read it
    /// ([`crate::kind::NodeKind::reads_workflow`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The input port a mapped node maps over ([`crate::map`]): its gathered output is not the
    /// output of the same node unmapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    /// The item of a mapped node this action is for; its input then holds that item alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

impl ActionManifest {
    pub fn key(&self) -> Digest {
        Digest::of_bytes(self.canonical().as_bytes())
    }

    /// JSON with object keys sorted at every level and no whitespace, independent of how
    /// serde_json is configured elsewhere in the build (its `preserve_order` feature would
    /// otherwise change the bytes).
    ///
    /// Written field by field, in the sorted order of the serialized field names, so the bytes
    /// equal those of canonicalizing `serde_json::to_value(self)` without building that copy.
    pub fn canonical(&self) -> String {
        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        if let Some(code) = &self.code {
            out.extend_from_slice(b"\"code\":");
            write_json(code, &mut out);
            out.push(b',');
        }
        out.extend_from_slice(b"\"format\":");
        write_json(&self.format, &mut out);
        out.extend_from_slice(b",\"inputs\":{");
        for (i, (port, digests)) in self.inputs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json(port, &mut out);
            out.extend_from_slice(b":[");
            for (j, digest) in digests.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                write_json(digest, &mut out);
            }
            out.push(b']');
        }
        out.push(b'}');
        if let Some(item) = &self.item {
            out.extend_from_slice(b",\"item\":");
            write_json(item, &mut out);
        }
        out.extend_from_slice(b",\"kind\":");
        write_json(&self.kind, &mut out);
        out.extend_from_slice(b",\"kind_version\":");
        write_json(&self.kind_version, &mut out);
        if let Some(map) = &self.map {
            out.extend_from_slice(b",\"map\":");
            write_json(map, &mut out);
        }
        out.extend_from_slice(b",\"params\":");
        write_canonical(&self.params, &mut out);
        if let Some(workflow) = &self.workflow {
            out.extend_from_slice(b",\"workflow\":");
            write_json(workflow, &mut out);
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }

    /// What changed from `old` to `self`, in words, most fundamental first.
    pub fn explain_change(&self, old: &ActionManifest, input_origin: &dyn Fn(&str) -> String) -> Vec<String> {
        let mut reasons = Vec::new();
        if old.format != self.format {
            reasons.push(format!("flow's cache format changed ({} -> {})", old.format, self.format));
        }
        if old.kind != self.kind {
            reasons.push(format!("kind changed: {} -> {}", old.kind, self.kind));
        } else if old.kind_version != self.kind_version {
            reasons.push(format!("kind {} version changed: {} -> {}", self.kind, old.kind_version, self.kind_version));
        }
        if old.code != self.code {
            reasons.push("the plugin's files changed".to_string());
        }
        diff_params("", &old.params, &self.params, &mut reasons);
        for (port, digests) in &self.inputs {
            match old.inputs.get(port) {
                None => reasons.push(format!("input '{port}' is new ({})", input_origin(port))),
                Some(before) if before != digests => {
                    reasons.push(format!("input '{port}' changed ({})", input_origin(port)))
                }
                Some(_) => {}
            }
        }
        for port in old.inputs.keys() {
            if !self.inputs.contains_key(port) {
                reasons.push(format!("input '{port}' was removed"));
            }
        }
        if old.map != self.map {
            reasons.push(match &self.map {
                Some(port) => format!("it now maps over input '{port}'"),
                None => "it no longer maps over an input".to_string(),
            });
        }
        if old.workflow != self.workflow {
            reasons.push("the workflow upstream of it changed (a node renamed, added or rewired)".to_string());
        }
        reasons
    }
}

fn diff_params(prefix: &str, old: &Value, new: &Value, reasons: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_params(&path, x, y, reasons),
                    (None, Some(y)) => reasons.push(format!("param '{path}' added: {}", short(y))),
                    (Some(x), None) => reasons.push(format!("param '{path}' removed (was {})", short(x))),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => reasons.push(format!("param '{prefix}' changed: {} -> {}", short(a), short(b))),
        _ => {}
    }
}

/// A value for a one-line message; long values are cut.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(57).collect::<String>()) } else { text }
}

/// serde_json's compact encoding of one value (strings escaped as everywhere else).
fn write_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and these types always serialize.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(key.as_str(), out);
                out.push(b':');
                write_canonical(&map[*key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => write_json(other, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(params: Value, input: &str) -> ActionManifest {
        ActionManifest {
            format: CACHE_FORMAT,
            kind: "ml.train_gbdt".into(),
            kind_version: "1".into(),
            code: None,
            params,
            inputs: BTreeMap::from([("features".to_string(), vec![input.to_string()])]),
            workflow: None,
            map: None,
            item: None,
        }
    }

    #[test]
    fn key_ignores_param_order_but_not_values() {
        let a = manifest(json!({"eta": 0.1, "rounds": 10}), "d1");
        let b = manifest(serde_json::from_str(r#"{"rounds": 10, "eta": 0.1}"#).unwrap(), "d1");
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), manifest(json!({"eta": 0.2, "rounds": 10}), "d1").key());
        assert_ne!(a.key(), manifest(json!({"eta": 0.1, "rounds": 10}), "d2").key());
        let mut bumped = a.clone();
        bumped.kind_version = "2".into();
        assert_ne!(a.key(), bumped.key());
    }

    /// The encoding before `canonical` wrote fields directly: keys must not change.
    fn canonical_via_value(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*key).clone()).to_string());
                    out.push(':');
                    canonical_via_value(&map[*key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical_via_value(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }

    #[test]
    fn canonical_bytes_match_the_value_encoding() {
        let mut cases = vec![
            manifest(
                json!({"eta": 0.1, "rounds": 10, "z": [1, "a\"b\n", null, true], "é\u{1}": {"b": 1.5e300, "a": -3}}),
                "d1",
            ),
            manifest(json!(null), "d2"),
            manifest(json!({}), ""),
        ];
        let mut with_code = manifest(json!({"cmd": "echo ${x} > $out"}), "d3");
        with_code.code = Some("abc".into());
        with_code.inputs.insert("a\"port".into(), vec![]);
        with_code.inputs.insert("b".into(), vec!["x".into(), "y".into()]);
        cases.push(with_code);
        let mut no_inputs = manifest(json!({"k": "v"}), "d4");
        no_inputs.inputs.clear();
        cases.push(no_inputs);
        let mut reads_workflow = manifest(json!({"title": "t"}), "d5");
        reads_workflow.workflow = Some("w1".into());
        let mut item = manifest(json!({"run": "x"}), "d6");
        item.map = Some("features".into());
        item.item = Some("R01-001".into());
        cases.push(item);
        cases.push(reads_workflow);
        for m in cases {
            let mut old = String::new();
            canonical_via_value(&serde_json::to_value(&m).unwrap(), &mut old);
            assert_eq!(m.canonical(), old);
        }
    }

    #[test]
    fn explanations_name_what_changed() {
        let old = manifest(json!({"eta": 0.1, "rounds": 10}), "d1");
        let new = manifest(json!({"eta": 0.2, "rounds": 10}), "d2");
        let reasons = new.explain_change(&old, &|port| format!("from {port} upstream"));
        assert_eq!(
            reasons,
            vec![
                "param 'eta' changed: 0.1 -> 0.2".to_string(),
                "input 'features' changed (from features upstream)".to_string()
            ]
        );
    }
}
