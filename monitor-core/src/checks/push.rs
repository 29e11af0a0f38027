//! The `push` check (a heartbeat, as healthchecks.io does it): the application calls
//! `push("nightly-backup")` when its job runs, optionally saying it failed; the check
//! is down when no push arrived within `interval + grace`, or when the last push
//! reported a failure.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::Run;
use crate::result::{CheckError, ErrorKind};
use crate::spec::reader::{Obj, Problems};
use crate::spec::{human, Common};

/// A `push` check.
///
/// ```toml
/// [[checks]]
/// name = "nightly-backup"
/// kind = "push"
/// interval = "24h"
/// grace = "1h"      # default: a tenth of the interval, at least 1s
/// ```
#[derive(Clone, Debug)]
pub struct PushCheck {
    /// Extra time after `interval` before a missing push counts.
    pub grace: Duration,
}

impl PushCheck {
    pub(crate) fn read(o: &mut Obj, common: &Common, p: &mut Problems) -> Option<PushCheck> {
        let default = (common.interval / 10).max(Duration::from_secs(1));
        Some(PushCheck {
            grace: o.duration("grace", p).unwrap_or(default),
        })
    }

    pub(crate) fn probe(
        &self,
        name: &str,
        interval: Duration,
        board: &PushBoard,
        run: &mut Run,
    ) -> Result<(), CheckError> {
        let now = Utc::now();
        let (since, last) = board.view(name, now);
        let window = interval + self.grace;
        if let Some(last) = &last {
            run.observed.last_push = Some(last.at);
            run.observed.message = last.message.clone();
            run.reported_duration = last.duration;
        }
        let quiet = (now - since).to_std().unwrap_or_default();
        if quiet > window {
            let what = match &last {
                Some(l) => format!("last push {} ago", human((now - l.at).to_std().unwrap_or_default())),
                None => format!("no push since the check started {} ago", human(quiet)),
            };
            return Err(CheckError::new(
                ErrorKind::PushMissed,
                format!(
                    "{what}; expected one every {} (+{} grace)",
                    human(interval),
                    human(self.grace)
                ),
            ));
        }
        match last {
            Some(l) if !l.ok => Err(CheckError::new(
                ErrorKind::PushFailed,
                format!(
                    "the last push reported a failure{}",
                    l.message.map(|m| format!(": {m}")).unwrap_or_default()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// One heartbeat.
#[derive(Clone, Debug)]
pub(crate) struct Push {
    at: DateTime<Utc>,
    ok: bool,
    message: Option<String>,
    /// How long the work took, when the application measured it (`record`).
    duration: Option<Duration>,
}

/// The current window of one push check.
#[derive(Clone, Debug)]
struct Window {
    /// When the window opened: the last push, or when the check was first looked at.
    opened: DateTime<Utc>,
    /// The last heartbeat, if any arrived.
    last: Option<Push>,
}

/// Heartbeats by check name.
#[derive(Default)]
pub(crate) struct PushBoard {
    state: Mutex<HashMap<String, Window>>,
}

/// Push messages are kept, bounded: they are shown, not stored as blobs.
const MAX_MESSAGE: usize = 1024;

impl PushBoard {
    pub(crate) fn record(&self, name: &str, ok: bool, message: Option<String>, duration: Option<Duration>) {
        let now = Utc::now();
        let message = message.map(|mut m| {
            if m.len() > MAX_MESSAGE {
                let mut cut = MAX_MESSAGE;
                while !m.is_char_boundary(cut) {
                    cut -= 1;
                }
                m.truncate(cut);
            }
            m
        });
        let mut state = self.state.lock().expect("push board poisoned");
        state.insert(
            name.to_string(),
            Window {
                opened: now,
                last: Some(Push {
                    at: now,
                    ok,
                    message,
                    duration,
                }),
            },
        );
    }

    /// The start of the current window and the last push.
    fn view(&self, name: &str, now: DateTime<Utc>) -> (DateTime<Utc>, Option<Push>) {
        let mut state = self.state.lock().expect("push board poisoned");
        let w = state.entry(name.to_string()).or_insert(Window {
            opened: now,
            last: None,
        });
        (w.opened, w.last.clone())
    }
}
