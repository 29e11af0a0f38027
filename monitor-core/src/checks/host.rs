//! The `host` check: conditions on this host's statistics ([`crate::host`]), like
//! `cpu > 90% for 5m` or `disk("/").free < 10GiB`.
//!
//! A condition describes a bad state, so the check is **down when any condition holds**
//! (and up when none does). A condition on a disk, interface or CPU this host does not
//! have also makes it down, saying what exists instead.
//!
//! Inside a monitor the check reads the snapshots the monitor samples every
//! `host_interval`, so a `for 5m` condition is judged on the last five minutes of them.
//! A [`Prober`](crate::Prober) used alone, or a monitor with sampling disabled, takes a
//! fresh sample on each run instead (the very first waits 200 ms, for CPU usage) and keeps
//! those, so `for` conditions build up at the check's own interval.

use std::sync::Arc;
use std::time::Duration;

use super::Run;
use crate::host::condition::Condition;
use crate::host::HostBoard;
use crate::result::{AssertionFailure, CheckError, ErrorKind, ObservedCondition};
use crate::spec::reader::{index, Obj, Problems};
use crate::spec::Common;

/// A `host` check: one condition, or several (down when any holds).
///
/// ```toml
/// [[checks]]
/// name = "host-cpu"
/// kind = "host"
/// condition = "cpu > 90% for 5m"
///
/// [[checks]]
/// name = "host-space"
/// kind = "host"
/// conditions = ['disk("/").free < 10GiB', "memory_used > 85%", "load1 > cores * 2"]
/// ```
#[derive(Clone, Debug)]
pub struct HostCheck {
    /// The conditions, in spec order.
    pub conditions: Vec<Condition>,
    /// Whether they were given as a list (`conditions`), which names failures `conditions[i]`.
    listed: bool,
}

impl HostCheck {
    /// A check on these conditions (as if written as `conditions = [...]`).
    pub fn new(conditions: Vec<Condition>) -> HostCheck {
        HostCheck {
            conditions,
            listed: true,
        }
    }

    /// The spec path of condition `i`: `condition`, or `conditions[i]` for a list.
    pub fn which(&self, i: usize) -> String {
        if self.listed {
            index("conditions", i)
        } else {
            "condition".to_string()
        }
    }

    pub(crate) fn read(o: &mut Obj, _common: &Common, p: &mut Problems) -> Option<HostCheck> {
        let (single_path, list_path) = (o.at("condition"), o.at("conditions"));
        let given_single = o.has("condition");
        let single = o.string("condition", p);
        let list = if o.has("conditions") {
            match o.raw("conditions") {
                Some(serde_json::Value::Array(_)) => o.strings("conditions", p),
                Some(other) => {
                    p.push(
                        &list_path,
                        format!(
                            "expected a list of conditions, got {}",
                            crate::spec::reader::type_name(other)
                        ),
                    );
                    return None;
                }
                None => None,
            }
        } else {
            o.raw("conditions");
            None
        };
        let parse = |text: &str, path: String, p: &mut Problems| match Condition::parse(text) {
            Ok(c) => Some(c),
            Err(e) => {
                p.push(path, e.to_string());
                None
            }
        };
        match (single, list) {
            (Some(_), Some(_)) => {
                p.push(list_path, "give either condition or conditions, not both");
                None
            }
            (Some(text), None) => Some(HostCheck {
                conditions: vec![parse(&text, single_path, p)?],
                listed: false,
            }),
            (None, Some(texts)) if texts.is_empty() => {
                p.push(list_path, "must not be empty");
                None
            }
            (None, Some(texts)) => {
                let parsed: Vec<Option<Condition>> = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| parse(t, index(&list_path, i), p))
                    .collect();
                Some(HostCheck {
                    conditions: parsed.into_iter().collect::<Option<_>>()?,
                    listed: true,
                })
            }
            (None, None) => {
                if !given_single {
                    p.push(single_path, "is required (or conditions, a list)");
                }
                None
            }
        }
    }

    pub(crate) async fn probe(
        &self,
        board: &Arc<HostBoard>,
        interval: Duration,
        run: &mut Run,
    ) -> Result<(), CheckError> {
        // Fed by a monitor: its latest snapshot is at most an interval old. Otherwise sample
        // now (sharing a snapshot with host checks that run in the same second).
        let fed = board.interval();
        let max_age = fed.map_or(Duration::from_secs(1), |every| every * 2);
        run.within("a host sample", board.sample(Some(max_age)))
            .await?
            .map_err(|e| CheckError::new(ErrorKind::Internal, e.to_string()))?;
        let slack = fed.unwrap_or(interval) / 2;
        board.with_snapshots(|newest_first| {
            let snapshots: Vec<_> = newest_first.collect();
            let Some(latest) = snapshots.first() else { return };
            for (i, condition) in self.conditions.iter().enumerate() {
                let e = condition.evaluate(snapshots.iter().copied(), slack);
                run.observed.conditions.push(ObservedCondition {
                    condition: condition.text().to_string(),
                    value: e.value,
                    unit: condition.threshold.unit().into(),
                    holds: e.holds,
                });
                let got = match (&e.missing, e.value) {
                    (Some(missing), _) => missing.clone(),
                    _ if !e.holds => continue,
                    (None, Some(v)) => {
                        let window = condition
                            .window
                            .map(|w| format!(" for {}", humantime::format_duration(w)))
                            .unwrap_or_default();
                        format!(
                            "{} {}{window}",
                            condition.metric_name(),
                            condition.format_value(v, latest)
                        )
                    }
                    (None, None) => continue,
                };
                run.verdict.failures.push(AssertionFailure::new(
                    self.which(i),
                    format!("not {}", condition.text()),
                    got,
                ));
            }
        });
        Ok(())
    }
}
