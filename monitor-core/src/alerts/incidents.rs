//! Incidents: a check is in an incident from the settled change that takes it down until
//! the settled change that brings it back up (after its success threshold). A change to
//! degraded in between stays inside the incident. A service is in an incident from the
//! change of its derived status to down until the change back up (or to no status, when
//! its checks are gone).
//!
//! Incidents are read from the stored status changes rather than kept in a table of
//! their own: the changes are already written in order, survive restarts, and a check's
//! status is restored from them on start, so an incident open when the process died is
//! still open after it, and is resolved by the first change to up, with no second record
//! to keep consistent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::result::Status;
use crate::store::{HistoryQuery, Page, ServiceChange, StatusChange, Store, StoreError, StoredError, MAX_PAGE};

/// Whose incident it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentScope {
    /// A check's.
    #[default]
    Check,
    /// A service's (its derived status).
    Service,
}

/// One incident of one check or one service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id: `check@start-in-ms`, or `service:name@start-in-ms`.
    pub id: String,
    /// A check's or a service's.
    #[serde(default)]
    pub scope: IncidentScope,
    /// The check; for a service's incident, the check whose change took the service down.
    pub check: String,
    /// Its service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When the check went down (its settled status changed to down).
    pub started: DateTime<Utc>,
    /// When it came back up; `None` while open.
    pub ended: Option<DateTime<Utc>>,
    /// Length in milliseconds (up to now while open).
    pub duration_ms: f64,
    /// Whether it is still open.
    pub open: bool,
    /// The error of the attempt that took the check down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<StoredError>,
    /// The error of the latest failing result inside the incident (from raw history while it is
    /// kept; otherwise the first error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<StoredError>,
    /// Every settled change from the one that opened it to the one that resolved it (for a
    /// service, its own changes, each with the check that caused it as `check`).
    pub changes: Vec<StatusChange>,
}

impl Incident {
    /// The id of the incident of `check` that started at `started`.
    pub fn id_of(check: &str, started: DateTime<Utc>) -> String {
        format!("{check}@{}", started.timestamp_millis())
    }

    /// The id of the incident of `service` that started at `started`.
    pub fn service_id_of(service: &str, started: DateTime<Utc>) -> String {
        format!("service:{service}@{}", started.timestamp_millis())
    }
}

/// Reliability of one check over a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentStats {
    /// The check.
    pub check: String,
    /// Incidents that started in the window.
    pub incidents: u64,
    /// Time spent in incidents inside the window, in milliseconds.
    pub downtime_ms: f64,
    /// Mean time to recovery of the resolved ones, in milliseconds (`None` without any).
    pub mttr_ms: Option<f64>,
    /// Mean time between failures: time up in the window divided by incidents (`None` without any).
    pub mtbf_ms: Option<f64>,
}

/// Every change of the checks matching `query` from `since`, oldest first, by check.
fn changes_by_check(
    store: &dyn Store,
    query: &HistoryQuery,
    since: Option<DateTime<Utc>>,
) -> Result<BTreeMap<String, Vec<StatusChange>>, StoreError> {
    let mut q = query.clone();
    q.statuses.clear();
    q.since = since;
    q.cursor = None;
    q.limit = MAX_PAGE;
    let mut by_check: BTreeMap<String, Vec<StatusChange>> = BTreeMap::new();
    loop {
        let page = store.status_changes(&q)?;
        for c in page.items {
            by_check.entry(c.check.clone()).or_default().push(c);
        }
        match page.next_cursor {
            Some(cursor) => q.cursor = Some(cursor),
            None => break,
        }
    }
    for list in by_check.values_mut() {
        list.reverse();
    }
    Ok(by_check)
}

/// Folds one check's changes (oldest first) into incidents, oldest first.
fn fold(check: &str, changes: Vec<StatusChange>, now: DateTime<Utc>) -> Vec<Incident> {
    fold_as(IncidentScope::Check, check, changes, now)
}

/// Folds one service's changes (oldest first) into incidents, oldest first: each becomes a
/// change whose `check` is the check that moved the service. A change to no status (its
/// checks are gone) ends an open incident, as a change to up does.
fn fold_service(service: &str, changes: Vec<ServiceChange>, now: DateTime<Utc>) -> Vec<Incident> {
    let changes = changes
        .into_iter()
        .map(|c| StatusChange {
            check: c.cause.unwrap_or_default(),
            service: Some(service.to_string()),
            at: c.at,
            previous: c.previous,
            status: c.status.unwrap_or(Status::Up),
            error: None,
        })
        .collect();
    fold_as(IncidentScope::Service, service, changes, now)
}

/// An incident from each change to down until the next change to up; changes to degraded in
/// between stay inside it.
fn fold_as(scope: IncidentScope, name: &str, changes: Vec<StatusChange>, now: DateTime<Utc>) -> Vec<Incident> {
    let mut out = Vec::new();
    let mut open: Option<Incident> = None;
    for c in changes {
        match (&mut open, c.status) {
            (None, Status::Down) => {
                let (id, check) = match scope {
                    IncidentScope::Check => (Incident::id_of(name, c.at), name.to_string()),
                    IncidentScope::Service => (Incident::service_id_of(name, c.at), c.check.clone()),
                };
                open = Some(Incident {
                    id,
                    scope,
                    check,
                    service: c.service.clone(),
                    started: c.at,
                    ended: None,
                    duration_ms: 0.0,
                    open: true,
                    first_error: c.error.clone(),
                    last_error: c.error.clone(),
                    changes: vec![c],
                });
            }
            (None, _) => {}
            (Some(i), Status::Up) => {
                i.ended = Some(c.at);
                i.open = false;
                i.changes.push(c);
                out.extend(open.take());
            }
            (Some(i), _) => {
                if c.error.is_some() {
                    i.last_error = c.error.clone();
                }
                i.changes.push(c);
            }
        }
    }
    out.extend(open);
    for i in &mut out {
        let end = i.ended.unwrap_or(now);
        i.duration_ms = (end - i.started).num_milliseconds().max(0) as f64;
    }
    out
}

/// Incidents of the services a query covers: none when it names checks or tags (those
/// select checks), else those of its services (all when it names none).
fn service_incidents(store: &dyn Store, query: &HistoryQuery, now: DateTime<Utc>) -> Result<Vec<Incident>, StoreError> {
    if !query.checks.is_empty() || !query.tags.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_service: BTreeMap<String, Vec<ServiceChange>> = BTreeMap::new();
    for c in store.service_changes(&query.services, None)? {
        by_service.entry(c.service.clone()).or_default().push(c);
    }
    Ok(by_service
        .into_iter()
        .flat_map(|(service, changes)| fold_service(&service, changes, now))
        .collect())
}

/// Incidents of the checks matching `query`, and of the services it covers, that started in
/// its time range, plus those still open, newest first, one page (the cursor is the index of
/// the next one, as text). A status filter does not apply to incidents.
pub fn incidents(store: &dyn Store, query: &HistoryQuery, now: DateTime<Utc>) -> Result<Page<Incident>, StoreError> {
    let limit = query.validated_limit()?;
    let mut all = Vec::new();
    let wanted = |i: &Incident| {
        let in_range = query.since.is_none_or(|s| i.started >= s) && query.until.is_none_or(|u| i.started < u);
        in_range || i.open
    };
    for (check, changes) in changes_by_check(store, query, None)? {
        all.extend(fold(&check, changes, now).into_iter().filter(wanted));
    }
    all.extend(service_incidents(store, query, now)?.into_iter().filter(wanted));
    all.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.check.cmp(&b.check)));
    let skip = match &query.cursor {
        Some(c) => c.parse::<usize>().map_err(|_| StoreError::InvalidQuery {
            field: "cursor",
            message: format!("{c:?} is not a cursor this query returned"),
        })?,
        None => 0,
    };
    let mut items: Vec<Incident> = all.into_iter().skip(skip).take(limit + 1).collect();
    let next_cursor = (items.len() > limit).then(|| (skip + limit).to_string());
    items.truncate(limit);
    for i in items.iter_mut().filter(|i| i.scope == IncidentScope::Check) {
        if let Some(last) = last_error(store, i)? {
            i.last_error = Some(last);
        }
    }
    Ok(Page { items, next_cursor })
}

/// The newest failing raw result inside the incident, while raw history still holds it.
fn last_error(store: &dyn Store, i: &Incident) -> Result<Option<StoredError>, StoreError> {
    let q = HistoryQuery {
        checks: vec![i.check.clone()],
        statuses: vec![Status::Down],
        since: Some(i.started),
        until: i.ended,
        limit: 1,
        ..HistoryQuery::default()
    };
    Ok(store.history(&q)?.items.into_iter().next().and_then(|r| r.error))
}

/// MTTR and MTBF per check over the last `window`.
pub fn stats(
    store: &dyn Store,
    query: &HistoryQuery,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<IncidentStats>, StoreError> {
    let from = now - chrono::Duration::from_std(window).unwrap_or(chrono::TimeDelta::MAX);
    let span_ms = (now - from).num_milliseconds().max(1) as f64;
    let mut out = Vec::new();
    for (check, changes) in changes_by_check(store, query, None)? {
        let list = fold(&check, changes, now);
        let overlapping = list.iter().filter(|i| i.ended.is_none_or(|e| e > from));
        let downtime_ms: f64 = overlapping
            .map(|i| (i.ended.unwrap_or(now) - i.started.max(from)).num_milliseconds().max(0) as f64)
            .sum();
        let started: Vec<&Incident> = list.iter().filter(|i| i.started >= from).collect();
        let resolved: Vec<f64> = started.iter().filter(|i| !i.open).map(|i| i.duration_ms).collect();
        let n = started.len() as u64;
        out.push(IncidentStats {
            check,
            incidents: n,
            downtime_ms,
            mttr_ms: (!resolved.is_empty()).then(|| resolved.iter().sum::<f64>() / resolved.len() as f64),
            mtbf_ms: (n > 0).then(|| (span_ms - downtime_ms).max(0.0) / n as f64),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at_s: i64, previous: Option<Status>, status: Status) -> StatusChange {
        StatusChange {
            check: "api".into(),
            service: None,
            at: DateTime::from_timestamp(at_s, 0).unwrap(),
            previous,
            status,
            error: None,
        }
    }

    #[test]
    fn degraded_inside_an_incident_does_not_end_it_and_up_does() {
        use Status::*;
        let changes = vec![
            change(0, None, Up),
            change(10, Some(Up), Down),
            change(20, Some(Down), Degraded),
            change(30, Some(Degraded), Down),
            change(40, Some(Down), Up),
            change(50, Some(Up), Down),
        ];
        let now = DateTime::from_timestamp(65, 0).unwrap();
        let list = fold("api", changes, now);
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].changes.len(), list[0].duration_ms, list[0].open),
            (4, 30_000.0, false)
        );
        assert_eq!(list[0].id, "api@10000");
        assert_eq!((list[1].open, list[1].duration_ms), (true, 15_000.0));
    }
}
