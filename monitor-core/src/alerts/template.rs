//! Message templates: a notifier's own wording of an alert, written in
//! [MiniJinja](https://docs.rs/minijinja) (Jinja2 syntax).
//!
//! The engine is set up so that a template can only read the alert: no loader (so no
//! `include`, `import` or `extends` of other files), no custom functions, a fuel budget that
//! bounds the work, memory and output a template may cause, and an output clipped to
//! [`MAX_OUTPUT`] bytes. Values are escaped for where the text goes ([`Format`]): JSON
//! values for JSON bodies, HTML for HTML mail, Slack/Discord/Teams markup for chat; the
//! template's own text is not escaped, so it may use that markup on purpose.
//!
//! A template sees the `alert_fired` event's fields (`id`, `rule`, `kind`, `severity`,
//! `check`, `service`, `tags`, `status`, `at`, `since`, `message`, `error`, `incident`,
//! `repeat`, `certificate`, `host`, `event`) and `title` (`[CRITICAL] api down`). Fields an
//! alert does not have are `none` (printed as nothing in text, `null` in JSON).
//!
//! ```
//! use monitor_core::alerts::template::{Format, Template};
//! use monitor_core::alerts::Alert;
//! let a: Alert = serde_json::from_value(serde_json::json!({
//!     "id": "1", "rule": "r", "kind": "down", "severity": "critical", "check": "api \"v2\"",
//!     "at": "2026-12-01T10:00:00Z", "since": "2026-12-01T09:58:00Z", "message": "api is down"
//! })).unwrap();
//! let t = Template::new(r#"{"text": {{ check }}, "sev": {{ severity|upper }}}"#, Format::Json).unwrap();
//! let body: serde_json::Value = serde_json::from_str(&t.render(&a).unwrap()).unwrap();
//! assert_eq!(body["text"], "api \"v2\"");
//! assert_eq!(body["sev"], "CRITICAL");
//!
//! let html = Template::new("<b>{{ check }}</b>{{ service }}", Format::Html).unwrap();
//! assert_eq!(html.render(&a).unwrap(), "<b>api &quot;v2&quot;</b>");
//!
//! let err = Template::new("{{ check ", Format::Text).unwrap_err();
//! assert!(err.to_string().contains("syntax error"), "{err}");
//! ```

use minijinja::value::Value as JValue;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Value};

use super::engine::Alert;
use crate::bus::Event;

/// Largest template source accepted, in bytes.
pub const MAX_SOURCE: usize = 16 * 1024;
/// Largest rendered output, in bytes: text is clipped there, JSON is refused beyond it.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Work budget of one rendering (MiniJinja fuel: instructions, plus data produced).
const FUEL: u64 = 50_000;

/// Where a rendered template goes, which decides how values are escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A JSON document (webhook and broker bodies): every value is written as JSON.
    Json,
    /// Plain text (mail body and subject): values as they are.
    Text,
    /// HTML (mail): values HTML-escaped.
    Html,
    /// Slack mrkdwn: `&`, `<`, `>` escaped in values.
    Slack,
    /// Discord markdown: markup characters and mentions escaped in values.
    Discord,
    /// Teams markdown: HTML characters, `*` and `_` escaped in values.
    Teams,
}

impl Format {
    fn escape(self) -> AutoEscape {
        match self {
            Format::Json => AutoEscape::Json,
            Format::Text => AutoEscape::None,
            Format::Html => AutoEscape::Html,
            Format::Slack => AutoEscape::Custom("slack".into()),
            Format::Discord => AutoEscape::Custom("discord".into()),
            Format::Teams => AutoEscape::Custom("teams".into()),
        }
    }
}

/// Why a template was refused or failed to render. Carries MiniJinja's description
/// (line and kind of problem), never the rendered values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

/// A compiled template for one [`Format`].
///
/// ```
/// use monitor_core::alerts::template::{Format, Template};
/// let t = Template::new("{{ title }} since {{ since }}", Format::Text).unwrap();
/// assert_eq!(t.format(), Format::Text);
/// // A name the alert does not have is refused when the template is made.
/// assert!(Template::new("{{ checkname }}", Format::Text).is_err());
/// ```
pub struct Template {
    env: Environment<'static>,
    format: Format,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template").field("format", &self.format).finish()
    }
}

const NAME: &str = "template";

fn engine(format: Format, undefined: UndefinedBehavior) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(undefined);
    let escape = format.escape();
    env.set_auto_escape_callback(move |_| escape.clone());
    env.set_formatter(move |out, state, value| {
        // Missing values print as nothing in text, and as null in JSON.
        let value = match (format, value.is_none() || value.is_undefined()) {
            (Format::Json, true) => &JValue::from(()),
            (_, true) => &JValue::UNDEFINED,
            _ => value,
        };
        match state.auto_escape() {
            AutoEscape::Custom(name) => {
                if value.is_undefined() {
                    return Ok(());
                }
                // `|safe` values are the author's own markup.
                let text = value.to_string();
                let escaped = if value.is_safe() {
                    text
                } else {
                    match name.as_ref() {
                        "slack" => super::deliver::slack_escape(&text),
                        "discord" => super::deliver::discord_escape(&text),
                        _ => super::deliver::teams_escape(&text),
                    }
                };
                out.write_str(&escaped).map_err(minijinja::Error::from)
            }
            _ => minijinja::escape_formatter(out, state, value),
        }
    });
    env
}

impl Template {
    /// Compiles `source` for `format`, and renders it for two sample alerts (a failure with
    /// every field, a recovery with none of the optional ones) so that a typo in a field
    /// name, an unknown filter or (for JSON) output that is not JSON is reported now, not
    /// when an alert is due.
    pub fn new(source: &str, format: Format) -> Result<Template, TemplateError> {
        if source.len() > MAX_SOURCE {
            return Err(TemplateError(format!("longer than {} KiB", MAX_SOURCE / 1024)));
        }
        // Names are checked strictly on the sample with every field (printing an unknown
        // one fails); sending is lenient, so `{{ error.message }}` renders empty on a
        // recovery, and both samples are rendered that way too.
        let compile = |undefined| -> Result<Template, TemplateError> {
            let mut env = engine(format, undefined);
            env.add_template_owned(NAME, source.to_string()).map_err(describe)?;
            Ok(Template { env, format })
        };
        let [full, bare] = samples();
        let strict = compile(UndefinedBehavior::SemiStrict)?;
        strict.render(&full)?;
        let lenient = compile(UndefinedBehavior::Chainable)?;
        for sample in [full, bare] {
            let out = lenient.render(&sample)?;
            if format == Format::Json {
                if let Err(e) = serde_json::from_str::<Value>(&out) {
                    return Err(TemplateError(format!("does not render JSON ({e})")));
                }
            }
        }
        Ok(lenient)
    }

    /// The text for `alert`, clipped to [`MAX_OUTPUT`] bytes (JSON beyond that is an error,
    /// since a clipped document would not parse).
    pub fn render(&self, alert: &Alert) -> Result<String, TemplateError> {
        let template = self.env.get_template(NAME).map_err(describe)?;
        let mut out = Bounded {
            buf: Vec::new(),
            full: false,
        };
        let result = template.render_captured_to(JValue::from(minijinja::value::Serde(context(alert))), &mut out);
        match result {
            Ok(_) => {}
            // The writer refused more: keep what fits.
            Err(_) if out.full && self.format != Format::Json => {}
            Err(_) if out.full => return Err(TemplateError(format!("renders more than {} KiB", MAX_OUTPUT / 1024))),
            Err(e) => return Err(describe(e)),
        }
        let mut text = String::from_utf8_lossy(&out.buf).into_owned();
        if out.full {
            // Cut on a character boundary, below the limit, and say so.
            let mut end = MAX_OUTPUT.saturating_sub(3).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        Ok(text)
    }

    /// The format it escapes values for.
    pub fn format(&self) -> Format {
        self.format
    }
}

/// An output that takes up to [`MAX_OUTPUT`] bytes and then refuses, which stops rendering.
struct Bounded {
    buf: Vec<u8>,
    full: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = MAX_OUTPUT - self.buf.len();
        if data.len() > room {
            self.buf.extend_from_slice(&data[..room]);
            self.full = true;
            return Err(std::io::Error::other("template output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// MiniJinja's description of an error, with its line, without the debug dump (which could
/// show values).
fn describe(e: minijinja::Error) -> TemplateError {
    let mut text = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    TemplateError(text)
}

/// `[CRITICAL] api down`: the one-line summary chat messages and mail subjects start with.
pub(crate) fn title(alert: &Alert) -> String {
    format!(
        "[{}] {} {}",
        alert.severity.as_str().to_uppercase(),
        alert.check,
        alert.kind.as_str()
    )
}

/// What a template sees: the event's fields, every optional one present (`none` when the
/// alert has none), and `title`.
fn context(alert: &Alert) -> Value {
    let mut v = Event::AlertFired(Box::new(alert.clone())).to_json();
    if let Value::Object(map) = &mut v {
        for key in ["service", "status", "error", "incident", "certificate", "host"] {
            map.entry(key).or_insert(Value::Null);
        }
        map.entry("tags").or_insert_with(|| json!([]));
        map.insert("title".into(), Value::String(title(alert)));
    }
    v
}

/// A failure alert with every field, and a recovery with none of the optional ones.
fn samples() -> [Alert; 2] {
    let full = json!({
        "id": "sample-1", "rule": "rule", "kind": "down", "severity": "critical",
        "check": "check", "service": "service", "tags": ["tag"], "status": "down",
        "at": "2026-01-01T00:00:00Z", "since": "2026-01-01T00:00:00Z", "message": "check is down",
        "error": {"kind": "assertion", "message": "status: expected 200, got 500",
                  "which": "expect.status", "expected": "200", "got": "500"},
        "incident": "incident-1", "repeat": 0,
        "certificate": {"not_after": "2026-01-02T00:00:00Z", "days_left": 1.0, "threshold_days": 7.0},
        "host": {"hostname": "host", "cpu_pct": 1.0, "memory_used_pct": 1.0, "load": [0.0, 0.0, 0.0],
                 "cores": 1, "sampled_at": "2026-01-01T00:00:00Z"}
    });
    let bare = json!({
        "id": "sample-2", "rule": "rule", "kind": "resolved", "severity": "info", "check": "check",
        "at": "2026-01-01T00:00:00Z", "since": "2026-01-01T00:00:00Z", "message": "check is up"
    });
    [full, bare].map(|v| serde_json::from_value(v).expect("sample alerts are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(check: &str) -> Alert {
        let mut a = samples()[0].clone();
        a.check = check.into();
        a
    }

    #[test]
    fn values_are_escaped_for_the_format_and_the_template_text_is_not() {
        let a = alert("a <b> & *c*_d @everyone");
        let slack = Template::new("*{{ check }}* <https://x|link>", Format::Slack).unwrap();
        assert_eq!(
            slack.render(&a).unwrap(),
            "*a &lt;b&gt; &amp; *c*_d @everyone* <https://x|link>"
        );
        let discord = Template::new("**{{ check }}**", Format::Discord).unwrap();
        assert_eq!(discord.render(&a).unwrap(), "**a <b\\> & \\*c\\*\\_d \\@everyone**");
        let teams = Template::new("{{ check }}", Format::Teams).unwrap();
        assert_eq!(teams.render(&a).unwrap(), "a &lt;b&gt; &amp; \\*c\\*\\_d @everyone");
        let text = Template::new("{{ check }}|{{ error.message }}", Format::Text).unwrap();
        assert_eq!(
            text.render(&a).unwrap(),
            "a <b> & *c*_d @everyone|status: expected 200, got 500"
        );
        let json = Template::new(
            r#"{"c": {{ check }}, "t": {{ tags }}, "h": {{ host.cores }}}"#,
            Format::Json,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&json.render(&a).unwrap()).unwrap();
        assert_eq!(v, json!({"c": "a <b> & *c*_d @everyone", "t": ["tag"], "h": 1}));
    }

    #[test]
    fn missing_fields_render_empty_or_null_and_typos_are_refused() {
        let bare = samples()[1].clone();
        let text = Template::new("[{{ service }}][{{ error.message }}]", Format::Text).unwrap();
        assert_eq!(text.render(&bare).unwrap(), "[][]");
        let json = Template::new(r#"{"s": {{ service }}, "e": {{ error.message }}}"#, Format::Json).unwrap();
        assert_eq!(json.render(&bare).unwrap(), r#"{"s": null, "e": null}"#);
        let e = Template::new("{{ chekc }}", Format::Text).unwrap_err();
        assert!(e.to_string().contains("undefined"), "{e}");
        let e = Template::new("{{ check|nosuchfilter }}", Format::Text).unwrap_err();
        assert!(
            e.to_string().contains("nosuchfilter") || e.to_string().contains("unknown filter"),
            "{e}"
        );
        let e = Template::new("{{ check }}", Format::Json).unwrap();
        assert_eq!(e.render(&bare).unwrap(), "\"check\"");
        let e = Template::new("text: {{ check }}", Format::Json).unwrap_err();
        assert!(e.to_string().contains("does not render JSON"), "{e}");
    }

    #[test]
    fn no_file_access_and_bounded_work_and_output() {
        for source in [
            "{% include 'other' %}",
            "{% import 'x.html' as x %}",
            "{% extends '/etc/passwd' %}",
        ] {
            assert!(Template::new(source, Format::Text).is_err(), "{source}");
        }
        // Endless work runs out of fuel.
        let e = Template::new(
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            Format::Text,
        )
        .unwrap_err();
        assert!(e.to_string().contains("fuel"), "{e}");
        // One huge allocation is refused before it happens.
        let e = Template::new("{{ 'x' * 100000000 }}", Format::Text).unwrap_err();
        assert!(e.to_string().contains("fuel"), "{e}");
        // Long text output is clipped.
        let t = Template::new(
            "{% for i in range(4000) %}{{ check }}-{{ i }} {% endfor %}",
            Format::Text,
        )
        .unwrap();
        let out = t.render(&alert("a-long-check-name")).unwrap();
        assert!(out.len() <= MAX_OUTPUT && out.ends_with('…'), "{}", out.len());
        // ...and JSON that would be clipped is refused.
        let t = Template::new("[{% for i in range(5000) %}{{ check }}, {% endfor %}0]", Format::Json).unwrap();
        assert!(t.render(&alert("a-long-check-name")).is_err());
        assert!(Template::new(&"x".repeat(MAX_SOURCE + 1), Format::Text).is_err());
    }
}
