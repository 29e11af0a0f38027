//! The memory store: the default when no database is configured. It keeps a bounded
//! ring of recent results per check and of status changes, and answers the same
//! queries as the SQLite store over what it holds.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use std::sync::Arc;

use super::{
    decode_cursor, encode_cursor, Batch, HistoryQuery, LatencySketch, Page, Retention, ServiceChange, StatusChange,
    Store, StoreError, StoredError, StoredResult, Uptime,
};
use crate::result::Status;

/// Recent history in memory.
///
/// ```
/// use monitor_core::store::{HistoryQuery, MemoryStore, Store};
/// let store = MemoryStore::new(100);
/// assert!(store.history(&HistoryQuery::default()).unwrap().items.is_empty());
/// ```
pub struct MemoryStore {
    per_check: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    checks: BTreeMap<String, CheckHistory>,
    changes: VecDeque<StatusChange>,
    service_changes: VecDeque<ServiceChange>,
    /// The latest host samples (the monitor keeps an hour; this ring keeps as many).
    hosts: VecDeque<Arc<crate::host::HostSnapshot>>,
}

/// Host samples the memory store keeps (an hour at the default 15 s interval).
const HOST_SAMPLES: usize = 240;

#[derive(Default)]
struct CheckHistory {
    service: Option<String>,
    tags: Vec<String>,
    results: VecDeque<Compact>,
    status: Option<(Status, DateTime<Utc>)>,
}

/// One result in the ring, 32 bytes: names live once per check, errors are shared.
#[derive(Clone)]
struct Compact {
    at: DateTime<Utc>,
    duration_us: u32,
    code: u16,
    status: Status,
    maintenance: bool,
    error: Option<Arc<StoredError>>,
}

impl Compact {
    fn of(r: &crate::result::CheckResult) -> Compact {
        Compact {
            at: r.at,
            duration_us: (r.duration_ms * 1000.0).clamp(0.0, u32::MAX as f64) as u32,
            code: r.observed.status_code.unwrap_or(0),
            status: r.status,
            maintenance: r.maintenance,
            error: r.error.as_ref().map(|e| {
                Arc::new(StoredError {
                    kind: e.kind,
                    message: e.message.clone(),
                })
            }),
        }
    }

    fn expand(&self, check: &str, service: &Option<String>) -> StoredResult {
        StoredResult {
            check: check.to_string(),
            service: service.clone(),
            at: self.at,
            status: self.status,
            duration_ms: f64::from(self.duration_us) / 1000.0,
            status_code: (self.code != 0).then_some(self.code),
            error: self.error.as_deref().cloned(),
            maintenance: self.maintenance,
        }
    }
}

impl MemoryStore {
    /// Keeps the latest `per_check` results of each check (and 10× that many status changes in all).
    pub fn new(per_check: usize) -> MemoryStore {
        MemoryStore {
            per_check: per_check.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn selected<'a>(state: &'a State, q: &HistoryQuery) -> impl Iterator<Item = (&'a String, &'a CheckHistory)> + 'a {
    let q = q.clone();
    state.checks.iter().filter(move |(name, h)| {
        (q.checks.is_empty() || q.checks.contains(name))
            && (q.services.is_empty() || h.service.as_ref().is_some_and(|s| q.services.contains(s)))
            && (q.tags.is_empty() || h.tags.iter().any(|t| q.tags.contains(t)))
    })
}

fn in_range(at: DateTime<Utc>, q: &HistoryQuery) -> bool {
    q.since.is_none_or(|s| at >= s) && q.until.is_none_or(|u| at < u)
}

impl Store for MemoryStore {
    fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        let cap = self.per_check;
        self.with(|s| {
            for c in &batch.checks {
                let h = s.checks.entry(c.check.clone()).or_default();
                h.service = c.service.clone();
                h.tags = c.tags.clone();
            }
            for name in &batch.deleted {
                s.checks.remove(name);
            }
            for r in &batch.results {
                let h = s.checks.entry(r.check.clone()).or_default();
                if h.results.len() == cap {
                    h.results.pop_front();
                }
                h.results.push_back(Compact::of(r));
            }
            for h in &batch.hosts {
                if s.hosts.len() == HOST_SAMPLES {
                    s.hosts.pop_front();
                }
                s.hosts.push_back(h.clone());
            }
            for c in &batch.changes {
                if let Some(h) = s.checks.get_mut(&c.check) {
                    h.status = Some((c.status, c.at));
                }
                if s.changes.len() == cap * 10 {
                    s.changes.pop_front();
                }
                s.changes.push_back(c.clone());
            }
            for c in &batch.service_changes {
                if s.service_changes.len() == cap * 10 {
                    s.service_changes.pop_front();
                }
                s.service_changes.push_back(c.clone());
            }
        });
        Ok(())
    }

    fn service_changes(
        &self,
        services: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ServiceChange>, StoreError> {
        Ok(self.with(|s| {
            s.service_changes
                .iter()
                .filter(|c| services.is_empty() || services.contains(&c.service))
                .filter(|c| since.is_none_or(|t| c.at >= t))
                .cloned()
                .collect()
        }))
    }

    fn latest(&self, q: &HistoryQuery) -> Result<Vec<StoredResult>, StoreError> {
        Ok(self.with(|s| {
            selected(s, q)
                .filter_map(|(name, h)| h.results.back().map(|c| c.expand(name, &h.service)))
                .filter(|r| q.statuses.is_empty() || q.statuses.contains(&r.status))
                .collect()
        }))
    }

    fn history(&self, q: &HistoryQuery) -> Result<Page<StoredResult>, StoreError> {
        let limit = q.validated_limit()?;
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(self.with(|s| {
            let mut rows: Vec<StoredResult> = selected(s, q)
                .flat_map(|(check, h)| h.results.iter().map(move |c| (check, h, c)))
                .filter(|(_, _, r)| in_range(r.at, q) && (q.statuses.is_empty() || q.statuses.contains(&r.status)))
                .filter(|(check, _, r)| match &cursor {
                    Some((at, name)) => {
                        let t = r.at.timestamp_millis();
                        t < *at || (t == *at && check.as_str() < name.as_str())
                    }
                    None => true,
                })
                .map(|(check, h, r)| r.expand(check, &h.service))
                .collect();
            rows.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.check.cmp(&a.check)));
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next_cursor = if more {
                rows.last().map(|r| encode_cursor(r.at.timestamp_millis(), &r.check))
            } else {
                None
            };
            Page {
                items: rows,
                next_cursor,
            }
        }))
    }

    fn status_changes(&self, q: &HistoryQuery) -> Result<Page<StatusChange>, StoreError> {
        let limit = q.validated_limit()?;
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(self.with(|s| {
            let names: std::collections::HashSet<&String> = selected(s, q).map(|(n, _)| n).collect();
            // Newest first; a cursor names the last (time, check) of the previous page.
            let mut rows = s
                .changes
                .iter()
                .rev()
                .filter(|c| names.contains(&c.check) && in_range(c.at, q))
                .filter(|c| q.statuses.is_empty() || q.statuses.contains(&c.status))
                .filter(|c| match &cursor {
                    Some((at, name)) => {
                        let t = c.at.timestamp_millis();
                        t < *at || (t == *at && c.check.as_str() < name.as_str())
                    }
                    None => true,
                });
            let items: Vec<StatusChange> = rows.by_ref().take(limit).cloned().collect();
            let more = rows.next().is_some();
            let next_cursor = if more {
                items.last().map(|c| encode_cursor(c.at.timestamp_millis(), &c.check))
            } else {
                None
            };
            Page { items, next_cursor }
        }))
    }

    fn uptime(&self, q: &HistoryQuery, window: Duration, now: DateTime<Utc>) -> Result<Vec<Uptime>, StoreError> {
        let from = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
        Ok(self.with(|s| {
            selected(s, q)
                .map(|(name, h)| {
                    let rows: Vec<&Compact> = h.results.iter().filter(|r| r.at >= from && r.at < now).collect();
                    let mut sketch = LatencySketch::default();
                    for r in &rows {
                        sketch.add(u64::from(r.duration_us));
                    }
                    let us = || rows.iter().map(|r| u64::from(r.duration_us));
                    let totals = (
                        rows.len() as u64,
                        rows.iter().filter(|r| r.status == Status::Down).count() as u64,
                        us().sum(),
                        us().min().unwrap_or(0),
                        us().max().unwrap_or(0),
                    );
                    Uptime::from_totals(name.clone(), h.service.clone(), totals, |p| sketch.quantile(p))
                })
                .collect()
        }))
    }

    fn host_series(
        &self,
        metric: super::HostMetric,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<super::SeriesPoint>, StoreError> {
        Ok(self.with(|s| {
            let samples = s
                .hosts
                .iter()
                .filter(|h| h.at >= since && h.at < until)
                .map(|h| (h.at.timestamp_millis(), metric.of(h)))
                .collect::<Vec<_>>();
            super::series(samples.into_iter(), since.timestamp_millis(), step)
        }))
    }

    fn last_states(&self) -> Result<Vec<(String, Status, DateTime<Utc>)>, StoreError> {
        Ok(self.with(|s| {
            s.checks
                .iter()
                .filter_map(|(n, h)| h.status.map(|(st, at)| (n.clone(), st, at)))
                .collect()
        }))
    }

    fn enforce_retention(&self, policy: &Retention, now: DateTime<Utc>, _budget: usize) -> Result<usize, StoreError> {
        let cutoff = now - chrono::Duration::from_std(policy.raw).unwrap_or(chrono::Duration::zero());
        Ok(self.with(|s| {
            let mut gone = 0;
            for h in s.checks.values_mut() {
                while h.results.front().is_some_and(|r| r.at < cutoff) {
                    h.results.pop_front();
                    gone += 1;
                }
            }
            gone
        }))
    }
}
