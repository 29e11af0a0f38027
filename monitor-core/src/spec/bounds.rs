//! Bounds with a hard and a soft level: `response_time = "< 500ms"` or
//! `{ max = "2s", warn = "500ms" }`; `certificate_expires_in = "> 14d"` or
//! `{ min = "7d", warn = "14d" }`. Crossing the hard level fails the check;
//! crossing only the soft one degrades it.

use serde_json::Value;
use std::time::Duration;

use super::reader::{parse_duration, type_name, Obj, Problems};
use crate::result::AssertionFailure;

/// Failures and warnings gathered while evaluating a check's assertions.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Verdict {
    /// Hard assertions that failed: the run is down.
    pub failures: Vec<AssertionFailure>,
    /// Soft bounds that were crossed: the run is degraded.
    pub warnings: Vec<AssertionFailure>,
}

impl Verdict {
    /// No failure and no warning.
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty() && self.warnings.is_empty()
    }
}

/// Formats a duration the way people read latencies and lifetimes.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{:.1}ms", secs * 1000.0)
    } else if secs < 120.0 {
        format!("{secs:.2}s")
    } else if secs < 2.0 * 86_400.0 {
        format!("{:.1}h", secs / 3600.0)
    } else {
        format!("{:.1}d", secs / 86_400.0)
    }
}

/// An upper bound: the measured value must stay below `max`, and should stay below `warn`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpperBound {
    /// Above this the check is down.
    pub max: Option<Duration>,
    /// Above this (and not above `max`) the check is degraded.
    pub warn: Option<Duration>,
}

/// A lower bound: the measured value must stay above `min`, and should stay above `warn`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LowerBound {
    /// Below this the check is down.
    pub min: Option<Duration>,
    /// Below this (and not below `min`) the check is degraded.
    pub warn: Option<Duration>,
}

impl UpperBound {
    /// Checks `got` against the bound, recording into `verdict` under the name `which`.
    pub fn evaluate(&self, which: &str, got: Duration, verdict: &mut Verdict) {
        if let Some(max) = self.max {
            if got > max {
                verdict
                    .failures
                    .push(AssertionFailure::new(which, format!("< {}", human(max)), human(got)));
                return;
            }
        }
        if let Some(warn) = self.warn {
            if got > warn {
                verdict
                    .warnings
                    .push(AssertionFailure::new(which, format!("< {}", human(warn)), human(got)));
            }
        }
    }

    pub(crate) fn parse(o: &mut Obj, key: &'static str, p: &mut Problems) -> Option<UpperBound> {
        parse_bound(o, key, p, Direction::Upper).map(|(hard, warn)| UpperBound { max: hard, warn })
    }
}

impl LowerBound {
    /// Checks `got` against the bound, recording into `verdict` under the name `which`.
    pub fn evaluate(&self, which: &str, got: Duration, verdict: &mut Verdict) {
        if let Some(min) = self.min {
            if got < min {
                verdict
                    .failures
                    .push(AssertionFailure::new(which, format!("> {}", human(min)), human(got)));
                return;
            }
        }
        if let Some(warn) = self.warn {
            if got < warn {
                verdict
                    .warnings
                    .push(AssertionFailure::new(which, format!("> {}", human(warn)), human(got)));
            }
        }
    }

    pub(crate) fn parse(o: &mut Obj, key: &'static str, p: &mut Problems) -> Option<LowerBound> {
        parse_bound(o, key, p, Direction::Lower).map(|(hard, warn)| LowerBound { min: hard, warn })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Upper,
    Lower,
}

/// Reads `"< 500ms"` / `"> 14d"` (or a bare duration) or a `{ max|min, warn }` table.
fn parse_bound(
    o: &mut Obj,
    key: &'static str,
    p: &mut Problems,
    dir: Direction,
) -> Option<(Option<Duration>, Option<Duration>)> {
    let path = o.at(key);
    let (hard_key, op) = match dir {
        Direction::Upper => ("max", '<'),
        Direction::Lower => ("min", '>'),
    };
    let (hard, warn) = match o.raw(key)? {
        Value::String(s) => (Some(parse_comparison(s, op).map_err(|e| p.push(&path, e)).ok()?), None),
        v @ Value::Object(_) => {
            let mut t = Obj::new(v, &path, p)?;
            let hard = match dir {
                Direction::Upper => bound_field(&mut t, "max", op, p),
                Direction::Lower => bound_field(&mut t, "min", op, p),
            };
            let warn = bound_field(&mut t, "warn", op, p);
            t.finish(p);
            if hard.is_none() && warn.is_none() {
                p.push(&path, format!("needs \"{hard_key}\" or \"warn\""));
                return None;
            }
            (hard, warn)
        }
        other => {
            p.push(
                &path,
                format!(
                    "expected a string like \"{op} 500ms\" or a table with {hard_key}/warn, got {}",
                    type_name(other)
                ),
            );
            return None;
        }
    };
    if let (Some(h), Some(w)) = (hard, warn) {
        let inverted = match dir {
            Direction::Upper => w > h,
            Direction::Lower => w < h,
        };
        if inverted {
            p.push(
                &path,
                format!("warn ({}) must be inside {hard_key} ({})", human(w), human(h)),
            );
        }
    }
    Some((hard, warn))
}

fn bound_field(t: &mut Obj, key: &'static str, op: char, p: &mut Problems) -> Option<Duration> {
    let path = t.at(key);
    match t.raw(key)? {
        Value::String(s) => parse_comparison(s, op).map_err(|e| p.push(path, e)).ok(),
        other => {
            p.push(path, format!("expected a duration string, got {}", type_name(other)));
            None
        }
    }
}

/// `"< 500ms"`, `"<=500ms"` or `"500ms"` (with `op` = `<`).
fn parse_comparison(s: &str, op: char) -> Result<Duration, String> {
    let t = s.trim();
    let wrong = if op == '<' { '>' } else { '<' };
    if t.starts_with(wrong) {
        return Err(format!("{s:?}: this bound is written with \"{op}\""));
    }
    let t = t.trim_start_matches(op).trim_start_matches('=').trim();
    parse_duration(t).map_err(|e| format!("{s:?}: {e}"))
}
