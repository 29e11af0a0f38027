//! History: where results, status changes and rollups are kept.
//!
//! [`Store`] has two implementations here: [`MemoryStore`] (the default with no
//! database: a bounded ring of recent results per check) and [`SqliteStore`] (one file,
//! durable history, rollups, retention). A PostgreSQL store will implement the same
//! trait. The monitor feeds a store through a single writer thread ([`writer`]), in
//! batches, off the check path.

mod memory;
mod sketch;
mod sqlite;
pub mod writer;

pub use memory::MemoryStore;
pub use sketch::LatencySketch;
pub use sqlite::SqliteStore;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use crate::host::HostSnapshot;
use crate::result::{CheckResult, ErrorKind, Status};

/// Why the store could not do what was asked.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file was written by a newer upwatch; it was not touched.
    #[error(
        "{path} has schema version {found}, newer than this upwatch knows ({supported}); the file was not changed"
    )]
    NewerSchema {
        /// The file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// SQLite reported an error (disk full, read-only file, corruption...).
    #[error("database error: {0}")]
    Database(String),
    /// A query argument is wrong (a malformed cursor, an inverted time range).
    #[error("{field}: {message}")]
    InvalidQuery {
        /// The argument.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Who a check is, as the store files it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckMeta {
    /// Name.
    pub check: String,
    /// Service.
    pub service: Option<String>,
    /// Kind.
    pub kind: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// A settled status change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The check.
    pub check: String,
    /// Its service (filled in on reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Before.
    pub previous: Option<Status>,
    /// After.
    pub status: Status,
    /// The error that settled a change to down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StoredError>,
}

/// A stored error: its kind and message (kept once, referenced by every row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredError {
    /// Kind.
    pub kind: ErrorKind,
    /// Message.
    pub message: String,
}

/// One result as history keeps it: compact, without phases or observed values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    /// The check.
    pub check: String,
    /// Its service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When the attempt started.
    pub at: DateTime<Utc>,
    /// Up, degraded or down.
    pub status: Status,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// HTTP status code, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StoredError>,
    /// Taken while alerts about the check were held back (a maintenance window or a mute).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maintenance: bool,
}

impl StoredResult {
    /// The compact form of a full result.
    pub fn from_result(r: &CheckResult) -> StoredResult {
        StoredResult {
            check: r.check.clone(),
            service: r.service.clone(),
            at: r.at,
            status: r.status,
            duration_ms: r.duration_ms,
            status_code: r.observed.status_code,
            error: r.error.as_ref().map(|e| StoredError {
                kind: e.kind,
                message: e.message.clone(),
            }),
            maintenance: r.maintenance,
        }
    }
}

/// A change of a service's derived status (from its checks' statuses and its critical list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceChange {
    /// The service.
    pub service: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Before (`None`: it had none yet).
    pub previous: Option<Status>,
    /// After (`None`: none of its checks has a status any more).
    pub status: Option<Status>,
    /// The check whose change moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What the writer hands a store in one transaction.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Checks registered or changed since the last batch.
    pub checks: Vec<CheckMeta>,
    /// Checks deleted (their history is kept).
    pub deleted: Vec<String>,
    /// Results, oldest first.
    pub results: Vec<Arc<CheckResult>>,
    /// Status changes, oldest first.
    pub changes: Vec<StatusChange>,
    /// Host samples, oldest first.
    pub hosts: Vec<Arc<HostSnapshot>>,
    /// Service status changes, oldest first.
    pub service_changes: Vec<ServiceChange>,
}

impl Batch {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
            && self.deleted.is_empty()
            && self.results.is_empty()
            && self.changes.is_empty()
            && self.hosts.is_empty()
            && self.service_changes.is_empty()
    }
}

/// Which checks, statuses and times a query covers, and which page.
///
/// ```
/// use monitor_core::store::HistoryQuery;
/// let q = HistoryQuery::default().check("api").since_ago(std::time::Duration::from_secs(86_400)).limit(50);
/// assert_eq!(q.limit, 50);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Check names (empty: all).
    #[serde(default)]
    pub checks: Vec<String>,
    /// Services (empty: all).
    #[serde(default)]
    pub services: Vec<String>,
    /// Tags: checks with any of them (empty: all).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Statuses (empty: all).
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// From (inclusive).
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Until (exclusive).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Where the previous page ended (`next_cursor` of that page).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (1..=1000, default 100).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    100
}

/// The most rows one page returns.
pub const MAX_PAGE: usize = 1000;

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            checks: Vec::new(),
            services: Vec::new(),
            tags: Vec::new(),
            statuses: Vec::new(),
            since: None,
            until: None,
            cursor: None,
            limit: default_limit(),
        }
    }
}

impl HistoryQuery {
    /// Adds a check name.
    pub fn check(mut self, name: impl Into<String>) -> Self {
        self.checks.push(name.into());
        self
    }

    /// Adds a service.
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.services.push(name.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds a status.
    pub fn status(mut self, status: Status) -> Self {
        self.statuses.push(status);
        self
    }

    /// From `ago` before now.
    pub fn since_ago(mut self, ago: Duration) -> Self {
        self.since = Some(Utc::now() - chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::zero()));
        self
    }

    /// Page size.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// Continues after a page.
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    pub(crate) fn validated_limit(&self) -> Result<usize, StoreError> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(StoreError::InvalidQuery {
                field: "limit",
                message: format!("{} is not within 1..={MAX_PAGE}", self.limit),
            });
        }
        if let (Some(s), Some(u)) = (self.since, self.until) {
            if s > u {
                return Err(StoreError::InvalidQuery {
                    field: "since",
                    message: "is after until".into(),
                });
            }
        }
        Ok(self.limit)
    }
}

/// One page of rows, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A position in a newest-first listing: the last row's time and check.
pub(crate) fn encode_cursor(at_ms: i64, check: &str) -> String {
    format!("{at_ms}:{check}")
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let bad = || StoreError::InvalidQuery {
        field: "cursor",
        message: format!("{cursor:?} is not a cursor from a previous page"),
    };
    let (at, check) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, check.to_string()))
}

/// Uptime and latency of one check over a window, answered from rollups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Uptime {
    /// The check.
    pub check: String,
    /// Its service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Attempts in the window.
    pub count: u64,
    /// Of which failed.
    pub failures: u64,
    /// Share of attempts that did not fail, in percent (`None` without attempts).
    pub uptime_pct: Option<f64>,
    /// Latency percentiles and extremes, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Mean.
    pub avg_ms: Option<f64>,
    /// Smallest.
    pub min_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
}

/// A host metric kept in history.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostMetric {
    /// CPU use of all cores, percent.
    CpuPct,
    /// One-minute load average.
    Load1,
    /// Memory in use, percent.
    MemoryUsedPct,
    /// Swap in use, percent.
    SwapUsedPct,
    /// Root filesystem in use, percent.
    DiskUsedPct,
    /// Bytes received per second, all interfaces but loopback.
    RxBps,
    /// Bytes sent per second, all interfaces but loopback.
    TxBps,
    /// Processes.
    Processes,
}

impl HostMetric {
    /// Every metric.
    pub const ALL: [HostMetric; 8] = [
        HostMetric::CpuPct,
        HostMetric::Load1,
        HostMetric::MemoryUsedPct,
        HostMetric::SwapUsedPct,
        HostMetric::DiskUsedPct,
        HostMetric::RxBps,
        HostMetric::TxBps,
        HostMetric::Processes,
    ];

    /// Its column and JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            HostMetric::CpuPct => "cpu_pct",
            HostMetric::Load1 => "load1",
            HostMetric::MemoryUsedPct => "memory_used_pct",
            HostMetric::SwapUsedPct => "swap_used_pct",
            HostMetric::DiskUsedPct => "disk_used_pct",
            HostMetric::RxBps => "rx_bps",
            HostMetric::TxBps => "tx_bps",
            HostMetric::Processes => "processes",
        }
    }

    /// The metric's value in a snapshot.
    pub fn of(self, s: &HostSnapshot) -> f64 {
        let nets = || s.networks.iter().filter(|n| n.name != "lo");
        match self {
            HostMetric::CpuPct => s.cpu_pct,
            HostMetric::Load1 => s.load1,
            HostMetric::MemoryUsedPct => s.memory.used_pct,
            HostMetric::SwapUsedPct => s.swap.used_pct,
            HostMetric::DiskUsedPct => s.disk("/").map_or(0.0, |d| d.used_pct),
            HostMetric::RxBps => nets().filter_map(|n| n.rx_bps).sum(),
            HostMetric::TxBps => nets().filter_map(|n| n.tx_bps).sum(),
            HostMetric::Processes => s.processes as f64,
        }
    }
}

/// One point of a host metric series: the mean and the peak within a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the step.
    pub at: DateTime<Utc>,
    /// Mean of the samples in the step.
    pub avg: f64,
    /// Largest sample in the step.
    pub max: f64,
    /// Samples in the step.
    pub samples: u64,
}

/// Groups `(at_ms, value)` samples into steps of `step` from `since`.
pub(crate) fn series(samples: impl Iterator<Item = (i64, f64)>, since: i64, step: Duration) -> Vec<SeriesPoint> {
    let step = (step.as_millis() as i64).max(1);
    let mut points: std::collections::BTreeMap<i64, (f64, f64, u64)> = std::collections::BTreeMap::new();
    for (at, v) in samples {
        let bucket = since + (at - since).div_euclid(step) * step;
        let e = points.entry(bucket).or_insert((0.0, f64::MIN, 0));
        e.0 += v;
        e.1 = e.1.max(v);
        e.2 += 1;
    }
    points
        .into_iter()
        .map(|(at, (sum, max, n))| SeriesPoint {
            at: chrono::TimeZone::timestamp_millis_opt(&Utc, at)
                .single()
                .unwrap_or_default(),
            avg: sum / n as f64,
            max,
            samples: n,
        })
        .collect()
}

impl Uptime {
    /// Builds the figures from totals in microseconds and a quantile function (µs).
    pub(crate) fn from_totals(
        check: String,
        service: Option<String>,
        (count, failures, sum_us, min_us, max_us): (u64, u64, u64, u64, u64),
        quantile: impl Fn(f64) -> Option<u64>,
    ) -> Uptime {
        let has = count > 0;
        let ms = |us: u64| us as f64 / 1000.0;
        Uptime {
            check,
            service,
            count,
            failures,
            uptime_pct: has.then(|| 100.0 * (count - failures) as f64 / count as f64),
            p50_ms: quantile(0.5).map(ms),
            p95_ms: quantile(0.95).map(ms),
            p99_ms: quantile(0.99).map(ms),
            avg_ms: has.then(|| sum_us as f64 / count as f64 / 1000.0),
            min_ms: has.then(|| ms(min_us)),
            max_ms: has.then(|| ms(max_us)),
        }
    }
}

/// How long each level of history is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Raw results.
    pub raw: Duration,
    /// Per-minute rollups.
    pub minute: Duration,
    /// Per-hour rollups.
    pub hour: Duration,
    /// Per-day rollups, and the per-week rollups made of them.
    pub day: Duration,
    /// Status changes.
    pub changes: Duration,
    /// When set, the oldest raw results go first once the file is larger than this.
    pub max_bytes: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: u64 = 86_400;
        Retention {
            raw: Duration::from_secs(7 * DAY),
            minute: Duration::from_secs(2 * DAY),
            hour: Duration::from_secs(90 * DAY),
            day: Duration::from_secs(730 * DAY),
            changes: Duration::from_secs(730 * DAY),
            max_bytes: None,
        }
    }
}

/// Storage for history. Calls block (they are made from the writer thread, or from
/// `spawn_blocking` by the monitor's async queries).
pub trait Store: Send + Sync + 'static {
    /// Writes one batch atomically.
    fn write(&self, batch: &Batch) -> Result<(), StoreError>;
    /// The latest stored result of each check matching the query's filters.
    fn latest(&self, query: &HistoryQuery) -> Result<Vec<StoredResult>, StoreError>;
    /// Raw results, newest first, one page.
    fn history(&self, query: &HistoryQuery) -> Result<Page<StoredResult>, StoreError>;
    /// Status changes, newest first, one page.
    fn status_changes(&self, query: &HistoryQuery) -> Result<Page<StatusChange>, StoreError>;
    /// Uptime and latency over `[now - window, now)` for the checks matching the query's filters.
    fn uptime(&self, query: &HistoryQuery, window: Duration, now: DateTime<Utc>) -> Result<Vec<Uptime>, StoreError>;
    /// A host metric between `since` and `until`, one point per `step` (mean and peak).
    fn host_series(
        &self,
        metric: HostMetric,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<SeriesPoint>, StoreError>;
    /// Each check's last settled status and since when, to restore after a restart.
    fn last_states(&self) -> Result<Vec<(String, Status, DateTime<Utc>)>, StoreError>;
    /// Deletes what retention says is too old, at most `budget` rows per call; returns
    /// how many rows went (call again while it returns `budget`).
    fn enforce_retention(&self, policy: &Retention, now: DateTime<Utc>, budget: usize) -> Result<usize, StoreError>;

    /// Whether several processes can share this store, so that only the holder of the
    /// scheduler lease may run checks. A memory store is never shared.
    fn shared(&self) -> bool {
        false
    }

    /// Takes or renews the scheduler lease for `holder` until `now + ttl`. Returns the
    /// expiry when `holder` holds it, `None` while another holder's lease is valid.
    fn acquire_lease(
        &self,
        _holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(Some(
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::zero()),
        ))
    }

    /// Gives the lease up (on a clean shutdown), so another process takes over at once.
    fn release_lease(&self, _holder: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Queues a command for the lease holder (from a process that does not hold it);
    /// returns its id.
    fn enqueue_command(&self, _command: &str) -> Result<i64, StoreError> {
        Err(StoreError::Database(
            "this store is not shared between processes".into(),
        ))
    }

    /// Keeps an alert not yet delivered to `notifier` (the alert outbox), under `key`.
    /// A memory store keeps nothing: its outbox lives in the monitor.
    fn outbox_put(&self, _key: &str, _notifier: &str, _alert: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Forgets an outbox entry (delivered, or given up).
    fn outbox_delete(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every outbox entry, oldest first: `(key, notifier, alert JSON)`.
    fn outbox_load(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(Vec::new())
    }

    /// Service status changes of `services` (empty: all) from `since`, oldest first.
    fn service_changes(
        &self,
        services: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ServiceChange>, StoreError>;
    /// Keeps a mute (alerts about `target` held back until `until`), or forgets it (`None`),
    /// so it holds in every process sharing the store and across restarts. A memory store
    /// keeps nothing: its mutes live in the monitor.
    fn set_mute(&self, _target: &str, _until: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        Ok(())
    }
    /// The mutes still in force at `now`.
    fn mutes(&self, _now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        Ok(Vec::new())
    }
    /// The lease holder takes up to `limit` queued commands, oldest first.
    fn take_commands(&self, _limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(Vec::new())
    }

    /// The lease holder answers a command.
    fn answer_command(&self, _id: i64, _reply: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// The answer to a queued command, once there is one.
    fn command_answer(&self, _id: i64) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

pub(crate) fn status_code(s: Status) -> i64 {
    match s {
        Status::Up => 0,
        Status::Degraded => 1,
        Status::Down => 2,
    }
}

pub(crate) fn status_from(code: i64) -> Status {
    match code {
        0 => Status::Up,
        1 => Status::Degraded,
        _ => Status::Down,
    }
}
