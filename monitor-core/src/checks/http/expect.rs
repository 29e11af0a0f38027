//! Where an HTTP check decides pass or fail: the assertions of `[checks.expect]`,
//! compiled once when the spec is read and evaluated on every response.
//!
//! ```toml
//! [checks.expect]
//! status          = [200, "3xx"]
//! body_contains   = "ok"
//! body_not_contains = ["error", "exception"]
//! body_regex      = 'version":\s*"1\.'
//! json            = { "$.status" = "UP", "$.items" = { exists = true }, "$.uptime_s" = { ">" = 60 } }
//! headers         = { "content-type" = "application/json" }
//! headers_match   = { "server" = "^nginx" }
//! response_time   = { max = "2s", warn = "500ms" }
//! certificate_expires_in = "> 14d"
//! ```

use http::{HeaderMap, HeaderName};
use regex::bytes::{Regex, RegexBuilder};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::time::Duration;

use crate::result::AssertionFailure;
use crate::spec::reader::{join, type_name, Obj, Problems};
use crate::spec::{LowerBound, UpperBound, Verdict};

/// Regexes are linear-time (the `regex` crate); this caps their compiled size so a
/// spec cannot make the engine build a huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The assertions of an HTTP check.
#[derive(Clone, Debug, Default)]
pub struct HttpExpect {
    /// Accepted status codes and classes; empty means 200–399.
    pub status: Vec<StatusMatch>,
    /// Texts the body must contain.
    pub body_contains: Vec<String>,
    /// Texts the body must not contain.
    pub body_not_contains: Vec<String>,
    /// Patterns the body must match.
    pub body_regex: Vec<Pattern>,
    /// JSON path comparisons on the body.
    pub json: Vec<JsonAssertion>,
    /// Headers that must have exactly this value.
    pub headers: Vec<(HeaderName, String)>,
    /// Headers whose value must match a pattern.
    pub headers_match: Vec<(HeaderName, Pattern)>,
    /// Bound on the whole request's duration.
    pub response_time: UpperBound,
    /// Bound on the certificate's remaining lifetime (https only).
    pub certificate_expires_in: LowerBound,
}

/// One accepted status: an exact code or a class (`"2xx"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMatch {
    /// Exactly this code.
    Code(u16),
    /// Any code of this hundred (2 for `2xx`).
    Class(u16),
}

impl StatusMatch {
    fn matches(self, code: u16) -> bool {
        match self {
            StatusMatch::Code(c) => c == code,
            StatusMatch::Class(c) => code / 100 == c,
        }
    }
}

impl std::fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusMatch::Code(c) => write!(f, "{c}"),
            StatusMatch::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// A compiled regular expression that remembers how it was written.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// As written in the spec.
    pub source: String,
    regex: Regex,
}

impl Pattern {
    pub(crate) fn compile(source: &str) -> Result<Pattern, String> {
        RegexBuilder::new(source)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(|regex| Pattern {
                source: source.to_string(),
                regex,
            })
            .map_err(|e| {
                // The regex crate's message spans lines (pattern, caret, reason); keep the reason.
                let text = e.to_string();
                let reason = text
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string();
                format!("invalid regular expression ({reason})")
            })
    }

    /// Whether the pattern matches somewhere in `haystack`.
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        self.regex.is_match(haystack)
    }
}

/// A comparison of the values a JSON path selects.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonOp {
    /// Every selected value equals this (numbers compare by value: 1 == 1.0).
    Eq(Value),
    /// Every selected value differs from this.
    Ne(Value),
    /// Every selected value is a number below this.
    Lt(f64),
    /// ... at most this.
    Le(f64),
    /// ... above this.
    Gt(f64),
    /// ... at least this.
    Ge(f64),
    /// The path selects something (`true`) or nothing (`false`).
    Exists(bool),
    /// Some selected value contains this: a substring, an array element or an object key.
    Contains(Value),
}

/// `json = { "$.status" = "UP" }`: a JSONPath (RFC 9535) and what its values must satisfy.
#[derive(Clone, Debug)]
pub struct JsonAssertion {
    /// The path as written.
    pub path: String,
    compiled: JsonPath,
    /// Every operator must hold.
    pub ops: Vec<JsonOp>,
}

/// What a response looked like, for [`HttpExpect::evaluate`].
pub struct ResponseFacts<'a> {
    /// Final status code.
    pub status: u16,
    /// Final response headers.
    pub headers: &'a HeaderMap,
    /// Body after decompression.
    pub body: &'a [u8],
    /// Time from the start of the run to the end of the body.
    pub elapsed: Duration,
}

impl HttpExpect {
    /// Evaluates every assertion against a response; certificate expiry is judged separately.
    ///
    /// ```
    /// use monitor_core::checks::http::{HttpExpect, ResponseFacts};
    /// use monitor_core::spec::{CheckKind, CheckSpec};
    /// let check = CheckSpec::from_value(serde_json::json!({
    ///     "name": "api", "kind": "http", "url": "http://127.0.0.1/health",
    ///     "expect": { "status": "2xx", "json": { "$.status": "UP", "$.count": { ">": 2 } } }
    /// })).unwrap();
    /// let CheckKind::Http(http) = &check.kind else { unreachable!() };
    /// let headers = http::HeaderMap::new();
    /// let facts = ResponseFacts { status: 200, headers: &headers,
    ///     body: br#"{"status":"UP","count":1}"#, elapsed: std::time::Duration::from_millis(3) };
    /// let verdict = http.expect.evaluate(&facts);
    /// assert_eq!(verdict.failures[0].to_string(), "json[\"$.count\"]: expected > 2, got 1");
    /// ```
    pub fn evaluate(&self, r: &ResponseFacts<'_>) -> Verdict {
        let mut v = Verdict::default();
        let status_ok = if self.status.is_empty() {
            (200..400).contains(&r.status)
        } else {
            self.status.iter().any(|m| m.matches(r.status))
        };
        if !status_ok {
            let expected = if self.status.is_empty() {
                "200-399".to_string()
            } else {
                self.status
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            v.failures
                .push(AssertionFailure::new("status", expected, r.status.to_string()));
        }
        for needle in &self.body_contains {
            if memchr::memmem::find(r.body, needle.as_bytes()).is_none() {
                v.failures.push(AssertionFailure::new(
                    "body_contains",
                    format!("body containing {needle:?}"),
                    snippet(r.body),
                ));
            }
        }
        for needle in &self.body_not_contains {
            if let Some(at) = memchr::memmem::find(r.body, needle.as_bytes()) {
                v.failures.push(AssertionFailure::new(
                    "body_not_contains",
                    format!("body without {needle:?}"),
                    format!("{needle:?} at byte {at}"),
                ));
            }
        }
        for pattern in &self.body_regex {
            if !pattern.is_match(r.body) {
                v.failures.push(AssertionFailure::new(
                    "body_regex",
                    format!("body matching /{}/", pattern.source),
                    snippet(r.body),
                ));
            }
        }
        if !self.json.is_empty() {
            match serde_json::from_slice::<Value>(r.body) {
                Ok(doc) => {
                    for a in &self.json {
                        a.evaluate(&doc, &mut v);
                    }
                }
                Err(e) => v.failures.push(AssertionFailure::new(
                    "json",
                    "a JSON body",
                    format!("invalid JSON ({e})"),
                )),
            }
        }
        for (name, want) in &self.headers {
            let values: Vec<&str> = r.headers.get_all(name).iter().filter_map(|h| h.to_str().ok()).collect();
            if !values.iter().any(|got| got.trim() == want) {
                v.failures.push(AssertionFailure::new(
                    format!("headers.{name}"),
                    want.clone(),
                    shown_header(&values),
                ));
            }
        }
        for (name, pattern) in &self.headers_match {
            let values: Vec<&str> = r.headers.get_all(name).iter().filter_map(|h| h.to_str().ok()).collect();
            if !values.iter().any(|got| pattern.is_match(got.as_bytes())) {
                v.failures.push(AssertionFailure::new(
                    format!("headers_match.{name}"),
                    format!("/{}/", pattern.source),
                    shown_header(&values),
                ));
            }
        }
        self.response_time.evaluate("response_time", r.elapsed, &mut v);
        v
    }

    pub(crate) fn read(o: &mut Obj, p: &mut Problems) -> HttpExpect {
        let mut x = HttpExpect {
            status: read_status(o, p),
            ..Default::default()
        };
        x.body_contains = o.strings("body_contains", p).unwrap_or_default();
        x.body_not_contains = o.strings("body_not_contains", p).unwrap_or_default();
        let regex_path = o.at("body_regex");
        for (i, src) in o.strings("body_regex", p).unwrap_or_default().iter().enumerate() {
            match Pattern::compile(src) {
                Ok(pat) => x.body_regex.push(pat),
                Err(e) => p.push(format!("{regex_path}[{i}]"), e),
            }
        }
        let json_path = o.at("json");
        if let Some(j) = o.object("json", p) {
            // The keys are JSON paths (data), so the table has no unknown fields to report.
            for (path, want) in j.entries() {
                let at = join(&json_path, path);
                if let Some(a) = JsonAssertion::read(path, want, &at, p) {
                    x.json.push(a);
                }
            }
        }
        let headers_path = o.at("headers");
        for (name, want) in o.string_map("headers", p).unwrap_or_default() {
            match HeaderName::try_from(name.as_str()) {
                Ok(h) => x.headers.push((h, want)),
                Err(_) => p.push(join(&headers_path, &name), "is not a valid header name"),
            }
        }
        let hm_path = o.at("headers_match");
        for (name, src) in o.string_map("headers_match", p).unwrap_or_default() {
            let at = join(&hm_path, &name);
            match (HeaderName::try_from(name.as_str()), Pattern::compile(&src)) {
                (Ok(h), Ok(pat)) => x.headers_match.push((h, pat)),
                (Err(_), _) => p.push(at, "is not a valid header name"),
                (_, Err(e)) => p.push(at, e),
            }
        }
        x.response_time = UpperBound::parse(o, "response_time", p).unwrap_or_default();
        x.certificate_expires_in = LowerBound::parse(o, "certificate_expires_in", p).unwrap_or_default();
        x
    }
}

fn read_status(o: &mut Obj, p: &mut Problems) -> Vec<StatusMatch> {
    let path = o.at("status");
    let Some(v) = o.raw("status") else { return Vec::new() };
    let items: Vec<(String, &Value)> = match v {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}[{i}]"), v))
            .collect(),
        single => vec![(path.clone(), single)],
    };
    let mut out = Vec::new();
    for (at, item) in items {
        match item {
            Value::Number(n) => match n.as_u64() {
                Some(c @ 100..=599) => out.push(StatusMatch::Code(c as u16)),
                _ => p.push(at, format!("{n} is not an HTTP status")),
            },
            Value::String(s) => {
                let t = s.trim().to_ascii_lowercase();
                if let Ok(c @ 100..=599) = t.parse::<u16>() {
                    out.push(StatusMatch::Code(c));
                } else if t.len() == 3 && t.ends_with("xx") && matches!(t.as_bytes()[0], b'1'..=b'5') {
                    out.push(StatusMatch::Class(u16::from(t.as_bytes()[0] - b'0')));
                } else {
                    p.push(
                        at,
                        format!("{s:?} is not an HTTP status or class (like 200 or \"2xx\")"),
                    );
                }
            }
            other => p.push(at, format!("expected a status code or class, got {}", type_name(other))),
        }
    }
    out
}

const OPS: &[&str] = &[
    "==", "eq", "!=", "ne", "<", "lt", "<=", "le", ">", "gt", ">=", "ge", "exists", "contains",
];

impl JsonAssertion {
    fn read(path: &str, want: &Value, at: &str, p: &mut Problems) -> Option<JsonAssertion> {
        let compiled = match JsonPath::parse(path) {
            Ok(c) => Some(c),
            Err(e) => {
                p.push(at, format!("{path:?} is not a JSONPath: {e}"));
                None
            }
        };
        let is_op_table =
            matches!(want, Value::Object(m) if !m.is_empty() && m.keys().all(|k| OPS.contains(&k.as_str())));
        let mut ops = Vec::new();
        if is_op_table {
            for (op, arg) in want.as_object().into_iter().flatten() {
                let op_at = join(at, op);
                let number = || {
                    arg.as_f64()
                        .ok_or_else(|| format!("{op} needs a number, got {}", type_name(arg)))
                };
                let parsed = match op.as_str() {
                    "==" | "eq" => Ok(JsonOp::Eq(arg.clone())),
                    "!=" | "ne" => Ok(JsonOp::Ne(arg.clone())),
                    "<" | "lt" => number().map(JsonOp::Lt),
                    "<=" | "le" => number().map(JsonOp::Le),
                    ">" | "gt" => number().map(JsonOp::Gt),
                    ">=" | "ge" => number().map(JsonOp::Ge),
                    "exists" => arg
                        .as_bool()
                        .map(JsonOp::Exists)
                        .ok_or_else(|| "exists needs true or false".to_string()),
                    _ => Ok(JsonOp::Contains(arg.clone())),
                };
                match parsed {
                    Ok(o) => ops.push(o),
                    Err(e) => p.push(op_at, e),
                }
            }
        } else {
            ops.push(JsonOp::Eq(want.clone()));
        }
        Some(JsonAssertion {
            path: path.to_string(),
            compiled: compiled?,
            ops,
        })
    }

    fn evaluate(&self, doc: &Value, v: &mut Verdict) {
        let nodes = self.compiled.query(doc).all();
        let which = || join("json", &self.path);
        for op in &self.ops {
            let (ok, expected) = match op {
                JsonOp::Exists(want) => (
                    nodes.is_empty() != *want,
                    if *want {
                        "a value".to_string()
                    } else {
                        "nothing".to_string()
                    },
                ),
                JsonOp::Eq(want) => (
                    !nodes.is_empty() && nodes.iter().all(|n| json_eq(n, want)),
                    want.to_string(),
                ),
                JsonOp::Ne(want) => (
                    !nodes.is_empty() && nodes.iter().all(|n| !json_eq(n, want)),
                    format!("!= {want}"),
                ),
                JsonOp::Lt(x) => (all_numbers(&nodes, |n| n < *x), format!("< {x}")),
                JsonOp::Le(x) => (all_numbers(&nodes, |n| n <= *x), format!("<= {x}")),
                JsonOp::Gt(x) => (all_numbers(&nodes, |n| n > *x), format!("> {x}")),
                JsonOp::Ge(x) => (all_numbers(&nodes, |n| n >= *x), format!(">= {x}")),
                JsonOp::Contains(want) => (
                    nodes.iter().any(|n| json_contains(n, want)),
                    format!("containing {want}"),
                ),
            };
            if !ok {
                v.failures
                    .push(AssertionFailure::new(which(), expected, shown_nodes(&nodes)));
            }
        }
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn all_numbers(nodes: &[&Value], pred: impl Fn(f64) -> bool) -> bool {
    !nodes.is_empty() && nodes.iter().all(|n| n.as_f64().is_some_and(&pred))
}

fn json_contains(node: &Value, want: &Value) -> bool {
    match (node, want) {
        (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
        (Value::Array(items), w) => items.iter().any(|i| json_eq(i, w)),
        (Value::Object(map), Value::String(k)) => map.contains_key(k),
        _ => false,
    }
}

/// At most this many characters of a body or value go into a failure message.
const SHOWN: usize = 120;

fn clip(s: &str) -> String {
    if s.chars().count() <= SHOWN {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(SHOWN).collect::<String>())
    }
}

fn snippet(body: &[u8]) -> String {
    if body.is_empty() {
        return "an empty body".to_string();
    }
    format!(
        "{:?}",
        clip(&String::from_utf8_lossy(&body[..body.len().min(SHOWN * 4)]))
    )
}

fn shown_nodes(nodes: &[&Value]) -> String {
    match nodes {
        [] => "nothing".to_string(),
        [one] => clip(&one.to_string()),
        many => clip(&Value::Array(many.iter().map(|n| (*n).clone()).collect()).to_string()),
    }
}

fn shown_header(values: &[&str]) -> String {
    match values {
        [] => "no such header".to_string(),
        _ => clip(&values.join(", ")),
    }
}
