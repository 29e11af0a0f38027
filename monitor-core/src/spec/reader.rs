//! A reader over a JSON object that remembers where it is (`checks[2].expect`) and
//! collects every problem instead of stopping at the first, so one validation pass
//! reports everything wrong with a spec.

use serde_json::{Map, Value};
use std::time::Duration;

use super::Problem;

/// Every problem found so far, each with its path.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) list: Vec<Problem>,
}

impl Problems {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// `base.key`, or `base["key"]` when the key is not a plain word.
pub(crate) fn join(base: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", serde_json::to_string(key).unwrap_or_default()),
    }
}

/// `base[i]`.
pub(crate) fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// How a JSON value's type reads in an error message.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table/object",
    }
}

/// Parses `"30s"`, `"5m"`, `"14d"`, `"1h 30m"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("{text:?} is not a duration (write it like \"30s\", \"5m\", \"14d\")"))
}

/// One JSON object being read field by field.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    /// Keys the reader asked for, present or not: the known fields, for unknown-field errors.
    asked: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    /// Reads `value` as an object at `path`; records a problem when it is not one.
    pub(crate) fn new(value: &'a Value, path: &str, p: &mut Problems) -> Option<Obj<'a>> {
        match value {
            Value::Object(map) => Some(Obj {
                map,
                path: path.to_string(),
                asked: Vec::new(),
            }),
            other => {
                p.push(path, format!("expected a table/object, got {}", type_name(other)));
                None
            }
        }
    }

    /// The path of a field of this object.
    pub(crate) fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of `key` (null counts as absent).
    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.asked.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether `key` is present (and not null), without reading it.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub(crate) fn string(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        match self.raw(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                p.push(self.at(key), format!("expected a string, got {}", type_name(other)));
                None
            }
        }
    }

    pub(crate) fn required_string(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        if !self.has(key) {
            self.asked.push(key);
            p.push(self.at(key), "is required");
            return None;
        }
        self.string(key, p)
    }

    pub(crate) fn bool(&mut self, key: &'static str, p: &mut Problems) -> Option<bool> {
        match self.raw(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                p.push(
                    self.at(key),
                    format!("expected true or false, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A whole number within `min..=max`.
    pub(crate) fn int(&mut self, key: &'static str, min: u64, max: u64, p: &mut Problems) -> Option<u64> {
        let v = self.raw(key)?;
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                p.push(
                    self.at(key),
                    format!("expected a whole number from {min} to {max}, got {v}"),
                );
                None
            }
        }
    }

    /// A number (whole or not).
    pub(crate) fn number(&mut self, key: &'static str, p: &mut Problems) -> Option<f64> {
        match self.raw(key)? {
            Value::Number(n) => n.as_f64(),
            other => {
                p.push(self.at(key), format!("expected a number, got {}", type_name(other)));
                None
            }
        }
    }

    /// A duration written as a string (`"30s"`).
    pub(crate) fn duration(&mut self, key: &'static str, p: &mut Problems) -> Option<Duration> {
        match self.raw(key)? {
            Value::String(s) => match parse_duration(s) {
                Ok(d) => Some(d),
                Err(e) => {
                    p.push(self.at(key), e);
                    None
                }
            },
            other => {
                p.push(
                    self.at(key),
                    format!("expected a duration string like \"30s\", got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A byte size: a whole number of bytes or a string like `"1MiB"`.
    pub(crate) fn size(&mut self, key: &'static str, p: &mut Problems) -> Option<u64> {
        match self.raw(key)? {
            Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
            Value::String(s) => match s.trim().parse::<bytesize::ByteSize>() {
                Ok(b) => Some(b.as_u64()),
                Err(_) => {
                    p.push(
                        self.at(key),
                        format!("{s:?} is not a size (write it like \"512KiB\", \"1MiB\")"),
                    );
                    None
                }
            },
            other => {
                p.push(
                    self.at(key),
                    format!("expected a size like \"1MiB\", got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A string or a list of strings.
    pub(crate) fn strings(&mut self, key: &'static str, p: &mut Problems) -> Option<Vec<String>> {
        let path = self.at(key);
        match self.raw(key)? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => p.push(index(&path, i), format!("expected a string, got {}", type_name(other))),
                    }
                }
                Some(out)
            }
            other => {
                p.push(
                    path,
                    format!("expected a string or a list of strings, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// A nested object.
    pub(crate) fn object(&mut self, key: &'static str, p: &mut Problems) -> Option<Obj<'a>> {
        let path = self.at(key);
        let v = self.raw(key)?;
        Obj::new(v, &path, p)
    }

    /// A table of string values (headers): keys in order, values as strings.
    pub(crate) fn string_map(&mut self, key: &'static str, p: &mut Problems) -> Option<Vec<(String, String)>> {
        let path = self.at(key);
        match self.raw(key)? {
            Value::Object(map) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in map {
                    match v {
                        Value::String(s) => out.push((k.clone(), s.clone())),
                        other => p.push(join(&path, k), format!("expected a string, got {}", type_name(other))),
                    }
                }
                Some(out)
            }
            other => {
                p.push(path, format!("expected a table of strings, got {}", type_name(other)));
                None
            }
        }
    }

    /// Every entry of the object, for tables whose keys are data (JSON paths, header names).
    pub(crate) fn entries(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// Reports every key that no getter asked for.
    pub(crate) fn finish(self, p: &mut Problems) {
        for key in self.map.keys() {
            if self.asked.iter().any(|a| a == key) {
                continue;
            }
            let hint = self
                .asked
                .iter()
                .filter(|a| edit_distance(a, key) <= 2)
                .min_by_key(|a| edit_distance(a, key))
                .map(|a| format!(" (did you mean \"{a}\"?)"))
                .unwrap_or_default();
            p.push(join(&self.path, key), format!("unknown field{hint}"));
        }
    }
}

/// Levenshtein distance, for "did you mean" hints on short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_quote_keys_that_are_not_words() {
        assert_eq!(
            join("checks[0].expect.json", "$.status"),
            "checks[0].expect.json[\"$.status\"]"
        );
        assert_eq!(join("", "url"), "url");
    }

    #[test]
    fn unknown_fields_get_a_hint() {
        let v = json!({"urll": "x", "name": "a"});
        let mut p = Problems::default();
        let mut o = Obj::new(&v, "checks[1]", &mut p).unwrap();
        o.string("name", &mut p);
        o.string("url", &mut p);
        o.finish(&mut p);
        assert_eq!(p.list.len(), 1);
        assert_eq!(
            p.list[0].to_string(),
            "checks[1].urll: unknown field (did you mean \"url\"?)"
        );
    }
}
