//! Current state, kept in memory with no database: each check's status machine
//! (retries before down, a success threshold before up again) and each service's
//! status derived from its checks. Decides when `CheckStatusChanged` and
//! `ServiceStatusChanged` fire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::result::{CheckResult, Status};

/// A check's status over time, as the scheduler feeds it results.
///
/// ```
/// use monitor_core::state::CheckState;
/// use monitor_core::Status;
/// let mut s = CheckState::default();
/// // retries = 1: the first failure is tolerated, the second makes it down.
/// assert_eq!(s.apply(Status::Down, 1, 1), None);
/// assert_eq!(s.apply(Status::Down, 1, 1), Some((None, Status::Down)));
/// // success_threshold = 2: two passes to be up again.
/// assert_eq!(s.apply(Status::Up, 1, 2), None);
/// assert_eq!(s.apply(Status::Up, 1, 2), Some((Some(Status::Down), Status::Up)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckState {
    /// The settled status; `None` until the first result settles one.
    pub status: Option<Status>,
    /// Failed attempts in a row.
    pub consecutive_failures: u32,
    /// Passing attempts in a row.
    pub consecutive_successes: u32,
}

impl CheckState {
    /// Takes one attempt's outcome; returns `(previous, new)` when the settled status changes.
    ///
    /// A failure settles `down` once more than `retries` attempts failed in a row; a pass
    /// settles `up`/`degraded` at once, except after `down`, which needs `success_threshold`
    /// passes in a row (no flapping).
    pub fn apply(&mut self, outcome: Status, retries: u32, success_threshold: u32) -> Option<(Option<Status>, Status)> {
        let previous = self.status;
        let next = if outcome == Status::Down {
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
            if self.consecutive_failures > retries {
                Status::Down
            } else {
                previous.unwrap_or(Status::Down)
            }
        } else {
            self.consecutive_successes += 1;
            self.consecutive_failures = 0;
            if previous == Some(Status::Down) && self.consecutive_successes < success_threshold {
                Status::Down
            } else {
                outcome
            }
        };
        // A first failure within the retries settles nothing yet.
        if previous.is_none() && outcome == Status::Down && next == Status::Down && self.consecutive_failures <= retries
        {
            return None;
        }
        self.status = Some(next);
        (previous != Some(next)).then_some((previous, next))
    }

    /// Whether another attempt should follow this failure before the run ends.
    pub fn wants_retry(&self, retries: u32) -> bool {
        self.status != Some(Status::Down) && self.consecutive_failures > 0 && self.consecutive_failures <= retries
    }
}

/// A service's status from its checks' settled statuses.
///
/// Up when every check is up; down when every critical check (all of them unless the
/// service names some) is down; degraded otherwise. Checks with no status yet are not
/// counted; with none counted the service has no status.
///
/// ```
/// use monitor_core::state::service_status;
/// use monitor_core::Status::*;
/// let checks = [("api", Some(Up)), ("db", Some(Down))];
/// assert_eq!(service_status(&checks, None), Some(Degraded));
/// assert_eq!(service_status(&checks, Some(&["db".to_string()])), Some(Down));
/// ```
pub fn service_status(checks: &[(&str, Option<Status>)], critical: Option<&[String]>) -> Option<Status> {
    let known: Vec<(&str, Status)> = checks.iter().filter_map(|(n, s)| s.map(|s| (*n, s))).collect();
    if known.is_empty() {
        return None;
    }
    if known.iter().all(|(_, s)| *s == Status::Up) {
        return Some(Status::Up);
    }
    let is_critical = |name: &str| critical.is_none_or(|c| c.iter().any(|x| x == name));
    let critical_known: Vec<Status> = known.iter().filter(|(n, _)| is_critical(n)).map(|(_, s)| *s).collect();
    if !critical_known.is_empty() && critical_known.iter().all(|s| *s == Status::Down) {
        return Some(Status::Down);
    }
    Some(Status::Degraded)
}

/// One check in a [`StatusSnapshot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// Name.
    pub check: String,
    /// Service, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Kind.
    pub kind: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Settled status; `None` (JSON `null`) while pending.
    pub status: Option<Status>,
    /// Not scheduled while paused (or disabled in its spec).
    pub paused: bool,
    /// Failed attempts in a row.
    pub consecutive_failures: u32,
    /// When the settled status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Attempts run.
    pub runs: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Scheduled runs skipped because the previous run had not finished.
    pub skipped: u64,
    /// The latest attempt's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<CheckResult>,
}

/// One service in a [`StatusSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Name.
    pub service: String,
    /// Derived status; `None` while none of its checks has one.
    pub status: Option<Status>,
    /// Its checks.
    pub checks: Vec<String>,
    /// Checks whose failure makes it down (`None`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<Vec<String>>,
    /// Free text from the service's declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Everything `status()` returns: every check's latest result and every service's status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// When the snapshot was taken.
    pub at: DateTime<Utc>,
    /// Checks, by name.
    pub checks: Vec<CheckStatus>,
    /// Services, by name.
    pub services: Vec<ServiceStatus>,
    /// The history writer's counters and last failure (a full or read-only disk shows here).
    #[serde(default)]
    pub history: crate::store::writer::WriterStats,
    /// Alerts fired, held back, queued, delivered and failed, and the last delivery failure.
    #[serde(default)]
    pub alerts: crate::alerts::AlertsStatus,
}

impl StatusSnapshot {
    /// One check by name.
    pub fn check(&self, name: &str) -> Option<&CheckStatus> {
        self.checks.iter().find(|c| c.check == name)
    }

    /// One service by name.
    pub fn service(&self, name: &str) -> Option<&ServiceStatus> {
        self.services.iter().find(|s| s.service == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn first_result_settles_at_once_without_retries() {
        let mut s = CheckState::default();
        assert_eq!(s.apply(Up, 0, 3), Some((None, Up)));
        let mut s = CheckState::default();
        assert_eq!(s.apply(Down, 0, 3), Some((None, Down)));
    }

    #[test]
    fn retries_hold_off_down_and_thresholds_hold_off_up() {
        let mut s = CheckState::default();
        s.apply(Up, 2, 2);
        assert_eq!(s.apply(Down, 2, 2), None);
        assert!(s.wants_retry(2));
        assert_eq!(s.apply(Down, 2, 2), None);
        assert!(s.wants_retry(2));
        assert_eq!(s.apply(Down, 2, 2), Some((Some(Up), Down)));
        assert!(!s.wants_retry(2));
        assert_eq!(s.apply(Up, 2, 2), None);
        assert_eq!(s.apply(Down, 2, 2), None, "a failure resets the passes");
        assert_eq!(s.apply(Up, 2, 2), None);
        assert_eq!(s.apply(Up, 2, 2), Some((Some(Down), Up)));
        assert_eq!(s.apply(Degraded, 2, 2), Some((Some(Up), Degraded)));
        assert_eq!(s.apply(Up, 2, 2), Some((Some(Degraded), Up)));
    }

    #[test]
    fn service_transitions() {
        let crit = ["db".to_string()];
        assert_eq!(service_status(&[("a", None)], None), None);
        assert_eq!(service_status(&[("a", Some(Up)), ("b", None)], None), Some(Up));
        assert_eq!(
            service_status(&[("a", Some(Up)), ("b", Some(Degraded))], None),
            Some(Degraded)
        );
        assert_eq!(
            service_status(&[("a", Some(Down)), ("b", Some(Down))], None),
            Some(Down)
        );
        assert_eq!(
            service_status(&[("a", Some(Down)), ("db", Some(Up))], Some(&crit)),
            Some(Degraded)
        );
        assert_eq!(
            service_status(&[("a", Some(Up)), ("db", Some(Down))], Some(&crit)),
            Some(Down)
        );
    }
}
