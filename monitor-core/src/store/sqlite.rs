//! The SQLite store: one file, WAL, `synchronous=NORMAL`, a busy timeout, foreign keys,
//! versioned migrations applied on open (a file from a newer upwatch is refused and
//! left untouched).
//!
//! Layout, chosen for bytes per result: `results` is a `WITHOUT ROWID` table keyed by
//! `(check_id, at)` holding small integers only (status, duration in µs, HTTP code,
//! an error id); names, kinds and error messages are stored once, in `checks` and
//! `errors`. `latest` holds each check's newest result, so "latest of every check" is
//! a lookup, not a scan. `rollups` holds per-minute, per-hour, per-day and per-week
//! aggregates with a mergeable latency sketch, so uptime and percentiles over any window
//! read a few dozen rows per check (about twenty for 30 days).

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::sketch::{bucket_of, merge_encoded, SketchSum};
use super::{
    decode_cursor, encode_cursor, status_code, status_from, Batch, HistoryQuery, Page, Retention, ServiceChange,
    StatusChange, Store, StoreError, StoredError, StoredResult, Uptime,
};
use crate::result::{ErrorKind, Status};

const SCHEMA_V1: &str = "
CREATE TABLE checks (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    service TEXT,
    kind    TEXT NOT NULL,
    tags    TEXT NOT NULL DEFAULT '[]',
    status  INTEGER,
    since   INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE errors (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    UNIQUE (kind, message)
);
CREATE TABLE results (
    check_id    INTEGER NOT NULL REFERENCES checks (id),
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    code        INTEGER,
    error_id    INTEGER REFERENCES errors (id),
    PRIMARY KEY (check_id, at)
) WITHOUT ROWID;
CREATE TABLE latest (
    check_id    INTEGER PRIMARY KEY REFERENCES checks (id),
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    code        INTEGER,
    error_id    INTEGER REFERENCES errors (id)
);
CREATE TABLE status_changes (
    id       INTEGER PRIMARY KEY,
    check_id INTEGER NOT NULL REFERENCES checks (id),
    at       INTEGER NOT NULL,
    previous INTEGER,
    status   INTEGER NOT NULL,
    error_id INTEGER REFERENCES errors (id)
);
CREATE INDEX status_changes_by_time ON status_changes (at);
CREATE INDEX status_changes_by_check ON status_changes (check_id, at);
CREATE TABLE rollups (
    check_id INTEGER NOT NULL REFERENCES checks (id),
    level    INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    sum_us   INTEGER NOT NULL,
    min_us   INTEGER NOT NULL,
    max_us   INTEGER NOT NULL,
    sketch   BLOB NOT NULL,
    PRIMARY KEY (check_id, level, bucket)
) WITHOUT ROWID;
";

/// Version 2: several processes on one file. One of them holds the scheduler lease;
/// the others queue commands for it.
const SCHEMA_V2: &str = "
CREATE TABLE lease (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires INTEGER NOT NULL,
    term    INTEGER NOT NULL
);
CREATE TABLE commands (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    body     TEXT NOT NULL,
    taken    INTEGER NOT NULL DEFAULT 0,
    reply    TEXT
);
";

/// Version 3: host samples, one compact row each.
const SCHEMA_V3: &str = "
CREATE TABLE host_samples (
    at              INTEGER PRIMARY KEY,
    cpu_pct         REAL NOT NULL,
    load1           REAL NOT NULL,
    memory_used_pct REAL NOT NULL,
    swap_used_pct   REAL NOT NULL,
    disk_used_pct   REAL NOT NULL,
    rx_bps          REAL NOT NULL,
    tx_bps          REAL NOT NULL,
    processes       INTEGER NOT NULL
);
";

/// Version 4: minute rollups only for checks that run more often than once a minute
/// (for the others a minute rollup is as big as the one raw row it sums up, and short
/// windows read raw rows instead), and how far back each level is complete:
/// - `minute_since`: minute rollups of the check are complete from this time on (NULL:
///   the check has none that count; its short windows are read from raw rows);
/// - `raw_since`: raw results of the check are complete from this time on (NULL: since
///   the check began); retention moves it forward as it deletes.
///
/// Sketches are written in a dense form from this version on; the sparse form of older
/// rows is still read (see `sketch.rs`), so nothing is rewritten here.
const SCHEMA_V4: &str = "
ALTER TABLE checks ADD COLUMN minute_since INTEGER;
ALTER TABLE checks ADD COLUMN raw_since INTEGER;
UPDATE checks SET raw_since = (SELECT min(at) FROM results WHERE check_id = checks.id);
";

/// Version 5: the alert outbox. One row per alert and notifier not yet delivered (or
/// given up), so alerts queued when the process stopped are sent after it starts again.
/// `key` is `notifier/alert-id`; `alert` the alert's JSON.
const SCHEMA_V5: &str = "
CREATE TABLE outbox (
    key      TEXT PRIMARY KEY,
    notifier TEXT NOT NULL,
    at       INTEGER NOT NULL,
    alert    TEXT NOT NULL
);
";

/// Version 6: week rollups (level 3, weeks from the epoch, so from Thursdays 00:00 UTC),
/// so a window of a month reads a few weeks per check rather than thirty days, and a
/// year some sixty rows rather than 365. Built here from the day rollups, which hold
/// every result of their day (`sum_sketches` is registered on the migrating connection).
const SCHEMA_V6: &str = "
INSERT OR REPLACE INTO rollups (check_id, level, bucket, count, failures, degraded, sum_us, min_us, max_us, sketch)
SELECT check_id, 3, bucket - ((bucket % 604800000) + 604800000) % 604800000 AS week, sum(count), sum(failures),
    sum(degraded), sum(sum_us), min(min_us), max(max_us), sum_sketches(sketch)
FROM rollups WHERE level = 2 GROUP BY check_id, week;
";

/// Version 7:
/// - `results.status` and `latest.status` carry [`MAINTENANCE_BIT`] for results taken while
///   alerts were held back (older rows have it clear, which is what they were: unflagged);
///   an older upwatch would misread it, hence the version;
/// - `service_changes`: each service's derived status over time, so services have incidents
///   like checks;
/// - `mutes`: mutes in force, shared by every process on the file and kept across restarts.
const SCHEMA_V7: &str = "
CREATE TABLE service_changes (
    id       INTEGER PRIMARY KEY,
    service  TEXT NOT NULL,
    at       INTEGER NOT NULL,
    previous INTEGER,
    status   INTEGER,
    cause    TEXT
);
CREATE INDEX service_changes_by_service ON service_changes (service, at);
CREATE TABLE mutes (
    target TEXT PRIMARY KEY,
    until  INTEGER NOT NULL
);
";

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(SCHEMA_V1),
        M::up(SCHEMA_V2),
        M::up(SCHEMA_V3),
        M::up(SCHEMA_V4),
        M::up(SCHEMA_V5),
        M::up(SCHEMA_V6),
        M::up(SCHEMA_V7),
    ])
}

/// Brings the schema up to date. Several processes may open a new file at once: the
/// loser of that race sees its migration fail, then finds the schema already current.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let mut last_error = None;
    for _ in 0..20 {
        match migrations().to_latest(conn) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap_or(0);
                if version == SCHEMA_VERSION {
                    return Ok(());
                }
                last_error = Some(e);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Err(StoreError::Database(format!(
        "migrating {}: {}",
        path.display(),
        last_error.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 7;

/// In `results.status` and `latest.status`: the status itself (0 up, 1 degraded, 2 down)...
const STATUS_BITS: i64 = 3;
/// ...plus this bit when the result was taken during maintenance or a mute (no column of its
/// own: a flag costs no byte per row this way).
const MAINTENANCE_BIT: i64 = 4;

/// Rollup levels: (level id, bucket width in milliseconds), each width a multiple of
/// the one before. Minute rollups serve recent, fine-grained dashboards and are kept
/// briefly (two days by default); they are written only for checks that run more often
/// than once a minute (see [`Density`]). Weeks are kept as long as days.
const LEVELS: [(i64, i64); 4] = [(0, 60_000), (1, 3_600_000), (2, 86_400_000), (3, 604_800_000)];
const MINUTE: i64 = 0;
const HOUR: i64 = 1;
const DAY: i64 = 2;
const WEEK: i64 = 3;

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn kind_name(kind: ErrorKind) -> &'static str {
    kind.as_str()
}

fn kind_from(name: &str) -> ErrorKind {
    serde_json::from_value(serde_json::Value::String(name.to_string())).unwrap_or(ErrorKind::Internal)
}

/// A SQLite history file.
///
/// ```no_run
/// use monitor_core::store::{HistoryQuery, SqliteStore, Store};
/// let store = SqliteStore::open("upwatch.db").unwrap();
/// let page = store.history(&HistoryQuery::default().check("api").limit(100)).unwrap();
/// println!("{} results", page.items.len());
/// ```
pub struct SqliteStore {
    path: PathBuf,
    /// The one writing connection (the writer thread's).
    writer: Mutex<Writer>,
    /// Reading connections, reused; WAL lets them read while the writer writes.
    readers: Mutex<Vec<Connection>>,
    /// Lease and command traffic, apart from the writer so a long batch never delays a renewal.
    control: Mutex<Connection>,
}

/// The writing connection and its caches of ids.
struct Writer {
    conn: Connection,
    ids: Ids,
}

/// Ids of checks and errors already in the file, so rows carry small integers, and
/// what the writer knows of each check's pace.
#[derive(Default)]
struct Ids {
    /// Check name -> index in `checks`. (FxHash: one lookup per result written, and
    /// the names are the application's own, not an attacker's.)
    slots: FxHashMap<String, usize>,
    checks: Vec<Known>,
    error_ids: HashMap<ErrorKind, HashMap<String, i64>>,
    /// `PRAGMA data_version` when the cached `minute_since` values were read: another
    /// connection's commit (another process's writer, retention) may have changed them.
    data_version: i64,
}

/// A check the writer has met: its id in the file and its pace.
struct Known {
    id: i64,
    density: Density,
}

/// A check's pace, estimated from the gaps between its results, decides whether it
/// gets minute rollups: they pay for a check that runs more often than once a minute
/// (a minute rollup then sums several results); for a check every minute or slower one
/// would be as big as the raw row, and cost as much to write. The decision is kept in
/// `checks.minute_since`, so reads know from when a check's minute rollups are complete.
/// (Estimated rather than taken from the spec so that every writer, the monitor or any
/// other, gets it right; a wrong guess costs space or speed, never a wrong answer.)
#[derive(Default)]
struct Density {
    /// Newest result seen.
    last_at: Option<i64>,
    /// Moving average of the gap between results, ms (0 until two results are seen).
    gap: i64,
    /// `checks.minute_since` as the file has it, once read (`None`: not read yet).
    minute_since: Option<Option<i64>>,
}

/// Below this average gap a check gets minute rollups ...
const DENSE_BELOW_MS: i64 = 45_000;
/// ... and above this one it no longer does (apart, so a check near the line does not flip).
const SPARSE_ABOVE_MS: i64 = 55_000;

fn configure(conn: &Connection, cache_kib: i64) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Results of many checks interleave in time, so each batch touches one leaf page per
    // check: the cache must hold them all or every insert reads a page back.
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    Ok(())
}

/// `merge_sketch(a, b)`: adds two encoded latency sketches, so rollups are updated by
/// one upsert (no read first), correctly whichever process wrote the row before; and
/// the aggregate `sum_sketches(sketch)`, for migrations.
fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "merge_sketch",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let a = ctx.get_raw(0).as_blob().unwrap_or_default();
            let b = ctx.get_raw(1).as_blob().unwrap_or_default();
            Ok(merge_encoded(a, b))
        },
    )?;
    conn.create_aggregate_function(
        "sum_sketches",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        SumSketches,
    )?;
    Ok(())
}

/// `sum_sketches(sketch)`: the sum of a column of encoded sketches, encoded (malformed
/// ones count as empty).
struct SumSketches;

impl rusqlite::functions::Aggregate<SketchSum, Vec<u8>> for SumSketches {
    fn init(&self, _: &mut rusqlite::functions::Context<'_>) -> rusqlite::Result<SketchSum> {
        Ok(SketchSum::default())
    }

    fn step(&self, ctx: &mut rusqlite::functions::Context<'_>, sum: &mut SketchSum) -> rusqlite::Result<()> {
        sum.add_encoded(ctx.get_raw(0).as_blob().unwrap_or_default());
        Ok(())
    }

    fn finalize(&self, _: &mut rusqlite::functions::Context<'_>, sum: Option<SketchSum>) -> rusqlite::Result<Vec<u8>> {
        Ok(sum.map(|s| s.encode()).unwrap_or_default())
    }
}

/// Page cache of the writing connection, in KiB.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages after which a commit of the writer checkpoints.
const WRITER_CHECKPOINT_PAGES: i64 = 16_384;
/// Page cache of each reading connection, in KiB.
const READER_CACHE_KIB: i64 = 16 * 1024;
/// Bytes of the file each reading connection maps (address space, not memory).
const READER_MMAP_BYTES: i64 = 1 << 30;

impl SqliteStore {
    /// Opens (creating if needed) a history file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        // Look at the version before anything writes to the file (even the WAL switch does).
        if path.exists() {
            let probe = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            let found: i64 = probe.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: path.display().to_string(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        let mut conn = Connection::open(&path)?;
        // The busy timeout first: switching to WAL takes a lock too, and several processes
        // opening a new file at once must wait for each other, not fail "database is locked".
        configure(&conn, WRITER_CACHE_KIB)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Each batch rewrites the newest leaf page of every check; checkpointing after
        // every batch (SQLite's default: once the WAL passes 1,000 pages) copies and syncs
        // those pages again and again. The writer checkpoints about every 64 MiB of WAL.
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        register_functions(&conn)?;
        migrate(&mut conn, &path)?;
        let control = Connection::open(&path)?;
        configure(&control, READER_CACHE_KIB)?;
        // Lease renewals must stay quick: the writer checkpoints, not this connection.
        control.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(Writer {
                conn,
                ids: Ids::default(),
            }),
            readers: Mutex::new(Vec::new()),
            control: Mutex::new(control),
        })
    }

    /// Caps the file at about `bytes` (SQLite's `max_page_count`): past it, writes fail
    /// with "database or disk is full", which the monitor reports while checks go on.
    /// Retention's `max_bytes` is the soft limit that deletes old rows first.
    pub fn limit_size(&self, bytes: u64) -> Result<(), StoreError> {
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let page: i64 = w.conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = (bytes as i64 / page).max(1);
        w.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = match self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c, READER_CACHE_KIB)?;
                // Queries over all checks touch more pages than the cache holds: read them
                // from the OS page cache in place rather than copying each into ours.
                c.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
                c
            }
        };
        let out = f(&conn);
        self.readers.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        out
    }

    /// Bytes used by the file's live pages.
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        self.reader(|c| {
            let pages: i64 = c.pragma_query_value(None, "page_count", |r| r.get(0))?;
            let free: i64 = c.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            let size: i64 = c.pragma_query_value(None, "page_size", |r| r.get(0))?;
            Ok(((pages - free) * size) as u64)
        })
    }

    /// Copies the WAL into the database file and truncates the WAL (SQLite checkpoints
    /// on its own, but leaves the WAL file at its largest size).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// `PRAGMA integrity_check`: `"ok"` when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.reader(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?))
    }
}

impl Ids {
    /// The writer's slot of a check, filed in `checks` on first sight.
    fn check_slot(&mut self, tx: &rusqlite::Transaction, name: &str, kind: &str) -> Result<usize, StoreError> {
        if let Some(slot) = self.slots.get(name) {
            return Ok(*slot);
        }
        tx.execute(
            "INSERT INTO checks (name, kind) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![name, kind],
        )?;
        let id: i64 = tx.query_row("SELECT id FROM checks WHERE name = ?1", [name], |r| r.get(0))?;
        self.checks.push(Known {
            id,
            density: Density::default(),
        });
        self.slots.insert(name.to_string(), self.checks.len() - 1);
        Ok(self.checks.len() - 1)
    }

    fn check_id(&mut self, tx: &rusqlite::Transaction, name: &str, kind: &str) -> Result<i64, StoreError> {
        let slot = self.check_slot(tx, name, kind)?;
        Ok(self.checks[slot].id)
    }

    /// Forgets every cached `minute_since` (another connection may have moved them).
    fn forget_minute_since(&mut self) {
        for k in &mut self.checks {
            k.density.minute_since = None;
        }
    }

    fn error_id(
        &mut self,
        tx: &rusqlite::Transaction,
        e: Option<(ErrorKind, &str)>,
    ) -> Result<Option<i64>, StoreError> {
        let Some((kind, message)) = e else { return Ok(None) };
        if let Some(id) = self.error_ids.get(&kind).and_then(|m| m.get(message)) {
            return Ok(Some(*id));
        }
        tx.execute(
            "INSERT INTO errors (kind, message) VALUES (?1, ?2) ON CONFLICT (kind, message) DO NOTHING",
            params![kind_name(kind), message],
        )?;
        let id: i64 = tx.query_row(
            "SELECT id FROM errors WHERE kind = ?1 AND message = ?2",
            params![kind_name(kind), message],
            |r| r.get(0),
        )?;
        self.error_ids.entry(kind).or_default().insert(message.to_string(), id);
        Ok(Some(id))
    }

    /// `checks.minute_since` of the check in `slot`, read from the file once.
    fn minute_since(&mut self, tx: &rusqlite::Transaction, slot: usize) -> Result<Option<i64>, StoreError> {
        let Known { id, density: d } = &mut self.checks[slot];
        if let Some(since) = d.minute_since {
            return Ok(since);
        }
        let since: Option<i64> = tx
            .prepare_cached("SELECT minute_since FROM checks WHERE id = ?1")?
            .query_row([*id], |r| r.get(0))?;
        d.minute_since = Some(since);
        Ok(since)
    }
}

impl Density {
    /// Takes a result at `at` into the pace (`minute_since` read already); returns from
    /// when the check's minute rollups are kept (`None`: it has none).
    fn pace(&mut self, at: i64) -> Option<i64> {
        let since = self.minute_since.flatten();
        match self.last_at {
            Some(last) if at > last => {
                let gap = at - last;
                self.gap = if self.gap == 0 { gap } else { (3 * self.gap + gap) / 4 };
                self.last_at = Some(at);
            }
            Some(_) => {}
            None => self.last_at = Some(at),
        }
        let now = match since {
            None if self.gap > 0 && self.gap < DENSE_BELOW_MS => {
                // From the next whole minute: this one has results without a rollup.
                Some(at - at.rem_euclid(LEVELS[0].1) + LEVELS[0].1)
            }
            Some(_) if self.gap > SPARSE_ABOVE_MS => None,
            keep => keep,
        };
        self.minute_since = Some(now);
        now
    }
}

/// The newest result of a check in a batch: at, status, duration, code, error id.
type LatestRow = (i64, i64, i64, Option<u16>, Option<i64>);

/// A row of `results`: check id, at, status, duration, code, error id.
type ResultRow = (i64, i64, i64, i64, Option<u16>, Option<i64>);

/// Rows per `INSERT` statement of [`insert_results`].
const ROWS_PER_INSERT: usize = 64;

/// Inserts rows into `results` (a row already there is kept), `ROWS_PER_INSERT` to a
/// statement: one step and one b-tree cursor for all of them instead of one each.
fn insert_results(tx: &rusqlite::Transaction, rows: &[ResultRow]) -> Result<(), StoreError> {
    const INSERT: &str =
        "INSERT OR IGNORE INTO results (check_id, at, status, duration_us, code, error_id) VALUES (?, ?, ?, ?, ?, ?)";
    let many = format!("{INSERT}{}", ", (?, ?, ?, ?, ?, ?)".repeat(ROWS_PER_INSERT - 1));
    let chunks = rows.chunks_exact(ROWS_PER_INSERT);
    let rest = chunks.remainder();
    if chunks.len() > 0 {
        let mut stmt = tx.prepare_cached(&many)?;
        for chunk in chunks {
            for (k, row) in chunk.iter().enumerate() {
                bind_row(&mut stmt, 6 * k, row)?;
            }
            stmt.raw_execute()?;
        }
    }
    let mut stmt = tx.prepare_cached(INSERT)?;
    for row in rest {
        bind_row(&mut stmt, 0, row)?;
        stmt.raw_execute()?;
    }
    Ok(())
}

fn bind_row(stmt: &mut rusqlite::Statement, offset: usize, row: &ResultRow) -> rusqlite::Result<()> {
    let (id, at, st, us, code, err) = *row;
    stmt.raw_bind_parameter(offset + 1, id)?;
    stmt.raw_bind_parameter(offset + 2, at)?;
    stmt.raw_bind_parameter(offset + 3, st)?;
    stmt.raw_bind_parameter(offset + 4, us)?;
    stmt.raw_bind_parameter(offset + 5, code)?;
    stmt.raw_bind_parameter(offset + 6, err)
}

/// An aggregate being built for one rollup row.
#[derive(Default)]
struct Agg {
    count: i64,
    failures: i64,
    degraded: i64,
    sum_us: i64,
    min_us: i64,
    max_us: i64,
    sketch: SketchSum,
}

impl Agg {
    fn add(&mut self, status: Status, us: i64, bucket: usize) {
        if self.count == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.count += 1;
        self.sum_us += us;
        match status {
            Status::Down => self.failures += 1,
            Status::Degraded => self.degraded += 1,
            Status::Up => {}
        }
        self.sketch.add_bucket(bucket, 1);
    }
}

impl Store for SqliteStore {
    fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let Writer { conn, ids: w } = &mut *guard;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let result = (|| -> Result<(), StoreError> {
            let version: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
            if version != w.data_version {
                w.forget_minute_since();
                w.data_version = version;
            }
            for c in &batch.checks {
                let tags = serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into());
                tx.execute(
                    "INSERT INTO checks (name, service, kind, tags) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET service = excluded.service, kind = excluded.kind,
                         tags = excluded.tags, deleted = 0",
                    params![c.check, c.service, c.kind, tags],
                )?;
            }
            for name in &batch.deleted {
                tx.execute("UPDATE checks SET deleted = 1 WHERE name = ?1", [name])?;
            }
            // Results grouped by check (a counting sort on the writer's slots, batch order
            // kept within a check), each check's in time order: the inserts walk each check's
            // part of the `results` b-tree in key order, so its pages stay hot, and rollups
            // are summed per check as buckets end, without a map.
            let results = &batch.results;
            let mut slot_of: Vec<u32> = Vec::with_capacity(results.len());
            for r in results {
                slot_of.push(w.check_slot(&tx, &r.check, &r.kind)? as u32);
            }
            let mut start = vec![0u32; w.checks.len() + 1];
            for slot in &slot_of {
                start[*slot as usize + 1] += 1;
            }
            for i in 1..start.len() {
                start[i] += start[i - 1];
            }
            let mut order = vec![0u32; results.len()];
            let mut next = start.clone();
            for (i, slot) in slot_of.iter().enumerate() {
                let k = &mut next[*slot as usize];
                order[*k as usize] = i as u32;
                *k += 1;
            }
            let mut touched: Vec<usize> = (0..w.checks.len()).filter(|s| start[s + 1] > start[*s]).collect();
            touched.sort_unstable_by_key(|s| w.checks[*s].id);
            let mut rows: Vec<ResultRow> = Vec::with_capacity(results.len());
            let mut newest: Vec<(i64, LatestRow)> = Vec::with_capacity(touched.len());
            let mut aggs: Vec<(i64, i64, i64, Agg)> = Vec::new();
            for slot in touched {
                let group = &mut order[start[slot] as usize..start[slot + 1] as usize];
                let at_of = |i: &u32| ms(results[*i as usize].at);
                if !group.is_sorted_by_key(at_of) {
                    group.sort_by_key(at_of);
                }
                let id = w.checks[slot].id;
                let before = w.minute_since(&tx, slot)?;
                // One rollup being summed per level; rows come in time order.
                let mut open: [Option<(i64, Agg)>; LEVELS.len()] = Default::default();
                let mut last = None;
                for i in group.iter() {
                    let r = &results[*i as usize];
                    let err = w.error_id(&tx, r.error.as_ref().map(|e| (e.kind, e.message.as_str())))?;
                    let at = ms(r.at);
                    let us = (r.duration_ms * 1000.0).round() as i64;
                    let st = status_code(r.status) | if r.maintenance { MAINTENANCE_BIT } else { 0 };
                    let code = r.observed.status_code;
                    rows.push((id, at, st, us, code, err));
                    last = Some((at, st, us, code, err));
                    let bucket = bucket_of(us.max(0) as u64) as usize;
                    let minutes = w.checks[slot].density.pace(at).is_some_and(|since| at >= since);
                    for (k, (level, width)) in LEVELS.into_iter().enumerate() {
                        if level == MINUTE && !minutes {
                            continue;
                        }
                        let b = at - at.rem_euclid(width);
                        match &mut open[k] {
                            Some((current, agg)) if *current == b => agg.add(r.status, us, bucket),
                            place => {
                                // (Were a bucket summed twice, the upsert below adds both.)
                                if let Some((done, agg)) = place.take() {
                                    aggs.push((id, level, done, agg));
                                }
                                let mut agg = Agg::default();
                                agg.add(r.status, us, bucket);
                                *place = Some((b, agg));
                            }
                        }
                    }
                }
                for (k, place) in open.into_iter().enumerate() {
                    if let Some((b, agg)) = place {
                        aggs.push((id, LEVELS[k].0, b, agg));
                    }
                }
                if let Some(row) = last {
                    newest.push((id, row));
                }
                let after = w.checks[slot].density.minute_since.flatten();
                if after != before {
                    tx.execute("UPDATE checks SET minute_since = ?2 WHERE id = ?1", params![id, after])?;
                }
            }
            insert_results(&tx, &rows)?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO latest (check_id, at, status, duration_us, code, error_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (check_id) DO UPDATE SET at = excluded.at, status = excluded.status,
                         duration_us = excluded.duration_us, code = excluded.code, error_id = excluded.error_id
                     WHERE excluded.at >= latest.at",
                )?;
                for (id, (at, st, us, code, err)) in &newest {
                    upsert.execute(params![id, at, st, us, code, err])?;
                }
            }
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO rollups (check_id, level, bucket, count, failures, degraded, sum_us, min_us, max_us, sketch)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (check_id, level, bucket) DO UPDATE SET
                         count = count + excluded.count, failures = failures + excluded.failures,
                         degraded = degraded + excluded.degraded, sum_us = sum_us + excluded.sum_us,
                         min_us = min(min_us, excluded.min_us), max_us = max(max_us, excluded.max_us),
                         sketch = merge_sketch(sketch, excluded.sketch)",
                )?;
                for (id, level, bucket, agg) in aggs {
                    upsert.execute(params![
                        id,
                        level,
                        bucket,
                        agg.count,
                        agg.failures,
                        agg.degraded,
                        agg.sum_us,
                        agg.min_us,
                        agg.max_us,
                        agg.sketch.encode()
                    ])?;
                }
            }
            for h in &batch.hosts {
                use super::HostMetric as H;
                tx.execute(
                    "INSERT OR REPLACE INTO host_samples (at, cpu_pct, load1, memory_used_pct, swap_used_pct,
                         disk_used_pct, rx_bps, tx_bps, processes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        ms(h.at),
                        H::CpuPct.of(h),
                        H::Load1.of(h),
                        H::MemoryUsedPct.of(h),
                        H::SwapUsedPct.of(h),
                        H::DiskUsedPct.of(h),
                        H::RxBps.of(h),
                        H::TxBps.of(h),
                        h.processes as i64
                    ],
                )?;
            }
            for c in &batch.changes {
                let id = w.check_id(&tx, &c.check, "unknown")?;
                let err = w.error_id(&tx, c.error.as_ref().map(|e| (e.kind, e.message.as_str())))?;
                tx.execute(
                    "INSERT INTO status_changes (check_id, at, previous, status, error_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, ms(c.at), c.previous.map(status_code), status_code(c.status), err],
                )?;
                tx.execute(
                    "UPDATE checks SET status = ?2, since = ?3 WHERE id = ?1",
                    params![id, status_code(c.status), ms(c.at)],
                )?;
            }
            for c in &batch.service_changes {
                tx.execute(
                    "INSERT INTO service_changes (service, at, previous, status, cause) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        c.service,
                        ms(c.at),
                        c.previous.map(status_code),
                        c.status.map(status_code),
                        c.cause
                    ],
                )?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => tx.commit().map_err(StoreError::from),
            Err(e) => {
                // Ids cached during a rolled-back transaction may not exist.
                drop(tx);
                w.slots.clear();
                w.checks.clear();
                w.error_ids.clear();
                Err(e)
            }
        }
    }

    fn latest(&self, query: &HistoryQuery) -> Result<Vec<StoredResult>, StoreError> {
        self.reader(|c| {
            let checks = resolve(c, query)?;
            let mut stmt = c.prepare_cached(
                "SELECT l.at, l.status, l.duration_us, l.code, e.kind, e.message FROM latest l
                 LEFT JOIN errors e ON e.id = l.error_id WHERE l.check_id = ?1",
            )?;
            let mut out = Vec::with_capacity(checks.len());
            for ch in &checks {
                let row = stmt.query_row([ch.id], |r| row_to_result(r, ch)).optional()?;
                if let Some(r) = row {
                    if query.statuses.is_empty() || query.statuses.contains(&r.status) {
                        out.push(r);
                    }
                }
            }
            Ok(out)
        })
    }

    fn history(&self, query: &HistoryQuery) -> Result<Page<StoredResult>, StoreError> {
        let limit = query.validated_limit()?;
        let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
        self.reader(|c| {
            let checks = resolve(c, query)?;
            let since = query.since.map(ms).unwrap_or(i64::MIN);
            let until = query.until.map(ms).unwrap_or(i64::MAX);
            let statuses = status_filter(&query.statuses);
            let sql = format!(
                "SELECT r.at, r.status, r.duration_us, r.code, e.kind, e.message FROM results r
                 LEFT JOIN errors e ON e.id = r.error_id
                 WHERE r.check_id = ?1 AND r.at >= ?2 AND r.at < ?3 {statuses}
                 ORDER BY r.at DESC LIMIT ?4"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows: Vec<StoredResult> = Vec::new();
            for ch in &checks {
                // Newest first by (at, check name); resume strictly after the cursor.
                let upper = match &cursor {
                    Some((at, name)) if ch.name.as_str() < name.as_str() => until.min(at + 1),
                    Some((at, _)) => until.min(*at),
                    None => until,
                };
                let found = stmt.query_map(params![ch.id, since, upper, (limit + 1) as i64], |r| {
                    row_to_result(r, ch)
                })?;
                for r in found {
                    rows.push(r?);
                }
            }
            rows.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.check.cmp(&a.check)));
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next_cursor = if more {
                rows.last().map(|r| encode_cursor(ms(r.at), &r.check))
            } else {
                None
            };
            Ok(Page {
                items: rows,
                next_cursor,
            })
        })
    }

    fn status_changes(&self, query: &HistoryQuery) -> Result<Page<StatusChange>, StoreError> {
        let limit = query.validated_limit()?;
        let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
        self.reader(|c| {
            let checks = resolve(c, query)?;
            let ids: Vec<i64> = checks.iter().map(|c| c.id).collect();
            let by_id: HashMap<i64, &CheckRow> = checks.iter().map(|c| (c.id, c)).collect();
            let (cur_at, cur_id) = match &cursor {
                Some((at, id)) => (*at, id.parse::<i64>().map_err(|_| StoreError::InvalidQuery { field: "cursor", message: "not a cursor from a status-change page".into() })?),
                None => (i64::MAX, i64::MAX),
            };
            let placeholders = vec!["?"; ids.len().max(1)].join(",");
            let statuses = status_filter(&query.statuses).replace("r.status", "s.status");
            let sql = format!(
                "SELECT s.id, s.check_id, s.at, s.previous, s.status, e.kind, e.message FROM status_changes s
                 LEFT JOIN errors e ON e.id = s.error_id
                 WHERE s.check_id IN ({placeholders}) AND s.at >= ? AND s.at < ? AND (s.at < ? OR (s.at = ? AND s.id < ?)) {statuses}
                 ORDER BY s.at DESC, s.id DESC LIMIT ?"
            );
            let mut args: Vec<i64> = if ids.is_empty() { vec![-1] } else { ids.clone() };
            args.extend([
                query.since.map(ms).unwrap_or(i64::MIN),
                query.until.map(ms).unwrap_or(i64::MAX),
                cur_at,
                cur_at,
                cur_id,
                (limit + 1) as i64,
            ]);
            let mut stmt = c.prepare(&sql)?;
            let mut rows = stmt
                .query_map(params_from_iter(args), |r| {
                    let check_id: i64 = r.get(1)?;
                    let ch = by_id.get(&check_id);
                    let kind: Option<String> = r.get(5)?;
                    let message: Option<String> = r.get(6)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        StatusChange {
                            check: ch.map(|c| c.name.clone()).unwrap_or_default(),
                            service: ch.and_then(|c| c.service.clone()),
                            at: from_ms(r.get(2)?),
                            previous: r.get::<_, Option<i64>>(3)?.map(status_from),
                            status: status_from(r.get(4)?),
                            error: kind.zip(message).map(|(k, m)| StoredError { kind: kind_from(&k), message: m }),
                        },
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next_cursor = if more { rows.last().map(|(id, c)| encode_cursor(ms(c.at), &id.to_string())) } else { None };
            Ok(Page { items: rows.into_iter().map(|(_, c)| c).collect(), next_cursor })
        })
    }

    fn uptime(&self, query: &HistoryQuery, window: Duration, now: DateTime<Utc>) -> Result<Vec<Uptime>, StoreError> {
        let end = ms(now);
        let start = end - window.as_millis() as i64;
        self.reader(|c| {
            // One snapshot for every read below, so `latest` and the rollups agree.
            let snapshot = c.unchecked_transaction()?;
            let checks = resolve(c, query)?;
            // Where each part of the window is read from, and for which checks.
            let mut reads: HashMap<Source, Vec<usize>> = HashMap::new();
            // Windows of a day or more start on the hour; shorter ones read their edges
            // from minute rollups where a check has them (it runs more often than once a
            // minute) and they reach back far enough, else from raw results, else by the hour.
            let long = window >= Duration::from_secs(86_400);
            let hour = LEVELS[1].1;
            let mut common = Vec::new();
            let mut minutes = Vec::new();
            for (level, from, to) in plan(start, end) {
                if level != MINUTE {
                    common.push((level, from, to));
                } else if long {
                    common.push((HOUR, from - from.rem_euclid(hour), to));
                } else {
                    minutes.push((from, to));
                }
            }
            let common = coalesce(common);
            // The window's last part, from the start of the coarsest bucket that begins in
            // the window, is that bucket's rollup (this week, or today, so far): one row
            // instead of a day per day and an hour per hour, for a check with nothing newer
            // than the window's end (its `latest`).
            let last = LEVELS[1..]
                .iter()
                .rev()
                .map(|(level, width)| (*level, end - end.rem_euclid(*width), *width))
                .find(|(_, cut, _)| *cut >= start)
                .filter(|(_, cut, _)| long && *cut < end);
            let to_last = last.map(|(level, cut, width)| {
                // Finer parts end on `cut` or begin after it (widths divide each other).
                let mut parts: Vec<(i64, i64, i64)> = common
                    .iter()
                    .filter(|(_, from, _)| *from < cut)
                    .map(|(level, from, to)| (*level, *from, (*to).min(cut)))
                    .collect();
                parts.push((level, cut, cut + width));
                coalesce(parts)
            });
            // Per check: the parts its window is read in.
            let parts: Vec<&Vec<(i64, i64, i64)>> = match &to_last {
                Some(to_last) => {
                    let mut stmt = c.prepare_cached(
                        "SELECT check_id, at FROM latest WHERE check_id IN (SELECT value FROM json_each(?1))",
                    )?;
                    let newest: HashMap<i64, i64> = stmt
                        .query_map([id_list(checks.iter().map(|ch| ch.id))], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()?;
                    checks
                        .iter()
                        .map(|ch| match newest.get(&ch.id) {
                            Some(at) if *at >= end => &common,
                            _ => to_last,
                        })
                        .collect()
                }
                None => vec![&common; checks.len()],
            };
            for (i, parts) in parts.into_iter().enumerate() {
                for &(level, from, to) in parts {
                    reads.entry(Source::Rollups(level, from, to)).or_default().push(i);
                }
            }
            for (from, to) in minutes {
                let raw_from = from.max(start);
                for (i, ch) in checks.iter().enumerate() {
                    let source = if ch.minute_since.is_some_and(|s| s <= from) {
                        Source::Rollups(MINUTE, from, to)
                    } else if ch.raw_since.is_none_or(|s| s <= raw_from) {
                        Source::Raw(raw_from, to)
                    } else {
                        Source::Rollups(HOUR, from - from.rem_euclid(hour), to)
                    };
                    reads.entry(source).or_default().push(i);
                }
            }
            // Check id -> position in `checks` (ids are small integers).
            let mut index = vec![u32::MAX; checks.iter().map(|ch| ch.id.max(0) as usize + 1).max().unwrap_or(0)];
            for (i, ch) in checks.iter().enumerate() {
                index[ch.id.max(0) as usize] = i as u32;
            }
            let find = |id: i64| {
                usize::try_from(id)
                    .ok()
                    .and_then(|id| index.get(id))
                    .filter(|i| **i != u32::MAX)
                    .map(|i| *i as usize)
            };
            let mut totals: Vec<Totals> = checks.iter().map(|_| Totals::default()).collect();
            for (source, who) in reads {
                // One statement per part for all the checks it reads (ids as a JSON array).
                let ids = id_list(who.iter().map(|i| checks[*i].id));
                match source {
                    Source::Rollups(level, from, to) => {
                        let mut stmt = c.prepare_cached(
                            "SELECT check_id, count, failures, sum_us, min_us, max_us, sketch FROM rollups
                             WHERE check_id IN (SELECT value FROM json_each(?1)) AND level = ?2
                                 AND bucket >= ?3 AND bucket < ?4",
                        )?;
                        let mut rows = stmt.query(params![ids, level, from, to])?;
                        while let Some(r) = rows.next()? {
                            let Some(i) = find(r.get(0)?) else { continue };
                            let t = &mut totals[i];
                            t.count += r.get::<_, i64>(1)?;
                            t.failures += r.get::<_, i64>(2)?;
                            t.sum_us += r.get::<_, i64>(3)?;
                            t.min_us = t.min_us.min(r.get(4)?);
                            t.max_us = t.max_us.max(r.get(5)?);
                            t.sketch.add_encoded(r.get_ref(6)?.as_blob().unwrap_or_default());
                        }
                    }
                    Source::Raw(from, to) => {
                        let mut stmt = c.prepare_cached(
                            "SELECT check_id, status, duration_us FROM results
                             WHERE check_id IN (SELECT value FROM json_each(?1)) AND at >= ?2 AND at < ?3",
                        )?;
                        let down = status_code(Status::Down);
                        let mut rows = stmt.query(params![ids, from, to])?;
                        while let Some(r) = rows.next()? {
                            let Some(i) = find(r.get(0)?) else { continue };
                            let t = &mut totals[i];
                            let us: i64 = r.get(2)?;
                            t.count += 1;
                            t.failures += i64::from(r.get::<_, i64>(1)? & STATUS_BITS == down);
                            t.sum_us += us;
                            t.min_us = t.min_us.min(us);
                            t.max_us = t.max_us.max(us);
                            t.sketch.add_bucket(bucket_of(us.max(0) as u64) as usize, 1);
                        }
                    }
                }
            }
            snapshot.commit()?;
            Ok(checks
                .into_iter()
                .zip(totals)
                .map(|(ch, t)| {
                    let sums = (
                        t.count as u64,
                        t.failures as u64,
                        t.sum_us as u64,
                        t.min_us.max(0) as u64,
                        t.max_us as u64,
                    );
                    Uptime::from_totals(ch.name, ch.service, sums, |p| t.sketch.quantile(p))
                })
                .collect())
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn acquire_lease(
        &self,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT holder, expires, term FROM lease WHERE name = 'scheduler'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let now_ms = ms(now);
        let expires = now_ms + ttl.as_millis() as i64;
        let granted = match &current {
            None => Some(1),
            Some((h, _, term)) if h == holder => Some(*term),
            Some((_, until, term)) if *until <= now_ms => Some(term + 1),
            Some(_) => None,
        };
        if let Some(term) = granted {
            tx.execute(
                "INSERT OR REPLACE INTO lease (name, holder, expires, term) VALUES ('scheduler', ?1, ?2, ?3)",
                params![holder, expires, term],
            )?;
        }
        tx.commit()?;
        Ok(granted.map(|_| from_ms(expires)))
    }

    fn release_lease(&self, holder: &str) -> Result<(), StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        c.execute("DELETE FROM lease WHERE name = 'scheduler' AND holder = ?1", [holder])?;
        Ok(())
    }

    fn enqueue_command(&self, command: &str) -> Result<i64, StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        c.execute(
            "INSERT INTO commands (at, body) VALUES (?1, ?2)",
            params![ms(Utc::now()), command],
        )?;
        Ok(c.last_insert_rowid())
    }

    fn service_changes(
        &self,
        services: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ServiceChange>, StoreError> {
        self.reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT service, at, previous, status, cause FROM service_changes
                 WHERE (?1 IS NULL OR service IN (SELECT value FROM json_each(?1))) AND at >= ?2
                 ORDER BY at, id",
            )?;
            let names = (!services.is_empty()).then(|| serde_json::to_string(services).unwrap_or_default());
            let rows = stmt.query_map(params![names, since.map_or(i64::MIN, ms)], |r| {
                Ok(ServiceChange {
                    service: r.get(0)?,
                    at: from_ms(r.get(1)?),
                    previous: r.get::<_, Option<i64>>(2)?.map(status_from),
                    status: r.get::<_, Option<i64>>(3)?.map(status_from),
                    cause: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn set_mute(&self, target: &str, until: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        // Mutes that ran out go here, so reading them stays a read.
        c.prepare_cached("DELETE FROM mutes WHERE until <= ?1")?
            .execute([ms(Utc::now())])?;
        match until {
            Some(t) => c
                .prepare_cached("INSERT OR REPLACE INTO mutes (target, until) VALUES (?1, ?2)")?
                .execute(params![target, ms(t)])?,
            None => c
                .prepare_cached("DELETE FROM mutes WHERE target = ?1")?
                .execute([target])?,
        };
        Ok(())
    }

    fn mutes(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        self.reader(|c| {
            let mut stmt = c.prepare_cached("SELECT target, until FROM mutes WHERE until > ?1 ORDER BY target")?;
            let rows = stmt.query_map([ms(now)], |r| Ok((r.get(0)?, from_ms(r.get(1)?))))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn outbox_put(&self, key: &str, notifier: &str, alert: &str) -> Result<(), StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        c.prepare_cached("INSERT OR REPLACE INTO outbox (key, notifier, at, alert) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![key, notifier, ms(Utc::now()), alert])?;
        Ok(())
    }

    fn outbox_delete(&self, key: &str) -> Result<(), StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        c.prepare_cached("DELETE FROM outbox WHERE key = ?1")?.execute([key])?;
        Ok(())
    }

    fn outbox_load(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = c.prepare_cached("SELECT key, notifier, alert FROM outbox ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn take_commands(&self, limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        let mut c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let taken: Vec<(i64, String)> = {
            let mut stmt = tx.prepare_cached("SELECT id, body FROM commands WHERE taken = 0 ORDER BY id LIMIT ?1")?;
            let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        for (id, _) in &taken {
            tx.execute("UPDATE commands SET taken = 1 WHERE id = ?1", [id])?;
        }
        // Answered commands older than an hour are of no use to anyone.
        tx.execute(
            "DELETE FROM commands WHERE reply IS NOT NULL AND at < ?1",
            [ms(Utc::now()) - 3_600_000],
        )?;
        tx.commit()?;
        Ok(taken)
    }

    fn answer_command(&self, id: i64, reply: &str) -> Result<(), StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        c.execute("UPDATE commands SET reply = ?2 WHERE id = ?1", params![id, reply])?;
        Ok(())
    }

    fn command_answer(&self, id: i64) -> Result<Option<String>, StoreError> {
        let c = self.control.lock().unwrap_or_else(|p| p.into_inner());
        Ok(c.query_row("SELECT reply FROM commands WHERE id = ?1", [id], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
    }

    fn host_series(
        &self,
        metric: super::HostMetric,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        step: Duration,
    ) -> Result<Vec<super::SeriesPoint>, StoreError> {
        self.reader(|c| {
            let step_ms = (step.as_millis() as i64).max(1);
            let (from, to) = (ms(since), ms(until));
            // The column name comes from a closed enum, never from input.
            let sql = format!(
                "SELECT ?1 + ((at - ?1) / ?3) * ?3 AS bucket, avg({m}), max({m}), count(*) FROM host_samples
                 WHERE at >= ?1 AND at < ?2 GROUP BY bucket ORDER BY bucket",
                m = metric.as_str()
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![from, to, step_ms], |r| {
                Ok(super::SeriesPoint {
                    at: from_ms(r.get(0)?),
                    avg: r.get(1)?,
                    max: r.get(2)?,
                    samples: r.get::<_, i64>(3)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn last_states(&self) -> Result<Vec<(String, Status, DateTime<Utc>)>, StoreError> {
        self.reader(|c| {
            let mut stmt =
                c.prepare("SELECT name, status, since FROM checks WHERE status IS NOT NULL AND deleted = 0")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, status_from(r.get(1)?), from_ms(r.get(2)?))))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn enforce_retention(&self, policy: &Retention, now: DateTime<Utc>, budget: usize) -> Result<usize, StoreError> {
        let now = ms(now);
        let cutoff = |d: Duration| now - d.as_millis() as i64;
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let Writer { conn, ids: w } = &mut *guard;
        // `minute_since` may move below; the writer reads it again.
        w.forget_minute_since();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut left = budget as i64;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare_cached("SELECT id FROM checks")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        for id in &ids {
            if left <= 0 {
                break;
            }
            let gone = tx.execute(
                "DELETE FROM results WHERE check_id = ?1 AND at IN (
                     SELECT at FROM results WHERE check_id = ?1 AND at < ?2 ORDER BY at LIMIT ?3)",
                params![id, cutoff(policy.raw), left],
            )? as i64;
            if gone > 0 {
                // What is left from the cutoff on is whole.
                tx.execute(RAW_SINCE, params![id, cutoff(policy.raw)])?;
            }
            left -= gone;
            for (level, keep) in [
                (MINUTE, policy.minute),
                (HOUR, policy.hour),
                (DAY, policy.day),
                (WEEK, policy.day),
            ] {
                if left <= 0 {
                    break;
                }
                let gone = tx.execute(
                    "DELETE FROM rollups WHERE check_id = ?1 AND level = ?2 AND bucket < ?3 AND bucket IN (
                         SELECT bucket FROM rollups WHERE check_id = ?1 AND level = ?2 AND bucket < ?3 ORDER BY bucket LIMIT ?4)",
                    params![id, level, cutoff(keep), left],
                )? as i64;
                if gone > 0 && level == MINUTE {
                    // Minute rollups are whole from the first minute that starts at the cutoff or later.
                    let from = cutoff(keep) + (-cutoff(keep)).rem_euclid(LEVELS[0].1);
                    tx.execute(
                        "UPDATE checks SET minute_since = max(minute_since, ?2) WHERE id = ?1 AND minute_since IS NOT NULL",
                        params![id, from],
                    )?;
                }
                left -= gone;
            }
        }
        if left > 0 {
            left -= tx.execute(
                "DELETE FROM host_samples WHERE at IN (SELECT at FROM host_samples WHERE at < ?1 ORDER BY at LIMIT ?2)",
                params![cutoff(policy.raw), left],
            )? as i64;
        }
        if left > 0 {
            left -= tx.execute(
                "DELETE FROM status_changes WHERE id IN (SELECT id FROM status_changes WHERE at < ?1 ORDER BY at LIMIT ?2)",
                params![cutoff(policy.changes), left],
            )? as i64;
        }
        if left > 0 {
            left -= tx.execute(
                "DELETE FROM service_changes WHERE id IN (SELECT id FROM service_changes WHERE at < ?1 ORDER BY at LIMIT ?2)",
                params![cutoff(policy.changes), left],
            )? as i64;
        }
        if let Some(max) = policy.max_bytes {
            let pages: i64 = tx.pragma_query_value(None, "page_count", |r| r.get(0))?;
            let free: i64 = tx.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
            let size: i64 = tx.pragma_query_value(None, "page_size", |r| r.get(0))?;
            if ((pages - free) * size) as u64 > max && !ids.is_empty() && left > 0 {
                // Over the size cap: every check gives up its oldest raw results.
                let each = (left / ids.len() as i64).max(1);
                for id in &ids {
                    let newest_gone: Option<i64> = tx.query_row(
                        "SELECT max(at) FROM (SELECT at FROM results WHERE check_id = ?1 ORDER BY at LIMIT ?2)",
                        params![id, each],
                        |r| r.get(0),
                    )?;
                    let gone = tx.execute(
                        "DELETE FROM results WHERE check_id = ?1 AND at IN (
                             SELECT at FROM results WHERE check_id = ?1 ORDER BY at LIMIT ?2)",
                        params![id, each],
                    )? as i64;
                    if let (true, Some(at)) = (gone > 0, newest_gone) {
                        tx.execute(RAW_SINCE, params![id, at + 1])?;
                    }
                    left -= gone;
                }
            }
        }
        tx.commit()?;
        Ok((budget as i64 - left).max(0) as usize)
    }
}

/// Moves a check's `raw_since` forward to `?2` (raw results older than it were deleted).
const RAW_SINCE: &str = "UPDATE checks SET raw_since = max(coalesce(raw_since, ?2), ?2) WHERE id = ?1";

/// Where `uptime` reads one part of its window from.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    /// Rollups of a level, buckets in `[from, to)`.
    Rollups(i64, i64, i64),
    /// Raw results in `[from, to)`.
    Raw(i64, i64),
}

/// What `uptime` adds up for one check.
struct Totals {
    count: i64,
    failures: i64,
    sum_us: i64,
    min_us: i64,
    max_us: i64,
    sketch: SketchSum,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            count: 0,
            failures: 0,
            sum_us: 0,
            min_us: i64::MAX,
            max_us: 0,
            sketch: SketchSum::default(),
        }
    }
}

/// A check row resolved from a query's filters.
struct CheckRow {
    id: i64,
    name: String,
    service: Option<String>,
    /// Minute rollups are whole from here on (`None`: the check has none that count).
    minute_since: Option<i64>,
    /// Raw results are whole from here on (`None`: since the check began).
    raw_since: Option<i64>,
}

fn status_filter(statuses: &[Status]) -> String {
    if statuses.is_empty() {
        String::new()
    } else {
        let codes: Vec<String> = statuses.iter().map(|s| status_code(*s).to_string()).collect();
        format!("AND (r.status & {STATUS_BITS}) IN ({})", codes.join(","))
    }
}

/// The checks a query's name, service and tag filters select.
fn resolve(c: &Connection, q: &HistoryQuery) -> Result<Vec<CheckRow>, StoreError> {
    let mut sql = String::from("SELECT id, name, service, minute_since, raw_since FROM checks WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    let mut list = |sql: &mut String, column: &str, values: &[String]| {
        if !values.is_empty() {
            sql.push_str(&format!(" AND {column} IN ({})", vec!["?"; values.len()].join(",")));
            args.extend(values.iter().cloned());
        }
    };
    list(&mut sql, "name", &q.checks);
    list(&mut sql, "service", &q.services);
    if !q.tags.is_empty() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM json_each(checks.tags) WHERE value IN ({}))",
            vec!["?"; q.tags.len()].join(",")
        ));
        args.extend(q.tags.iter().cloned());
    }
    sql.push_str(" ORDER BY name");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok(CheckRow {
            id: r.get(0)?,
            name: r.get(1)?,
            service: r.get(2)?,
            minute_since: r.get(3)?,
            raw_since: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn row_to_result(r: &rusqlite::Row, ch: &CheckRow) -> rusqlite::Result<StoredResult> {
    let kind: Option<String> = r.get(4)?;
    let message: Option<String> = r.get(5)?;
    let status: i64 = r.get(1)?;
    Ok(StoredResult {
        check: ch.name.clone(),
        service: ch.service.clone(),
        at: from_ms(r.get(0)?),
        status: status_from(status & STATUS_BITS),
        maintenance: status & MAINTENANCE_BIT != 0,
        duration_ms: r.get::<_, i64>(2)? as f64 / 1000.0,
        status_code: r.get::<_, Option<i64>>(3)?.and_then(|c| u16::try_from(c).ok()),
        error: kind.zip(message).map(|(k, m)| StoredError {
            kind: kind_from(&k),
            message: m,
        }),
    })
}

/// Ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
fn id_list(ids: impl Iterator<Item = i64>) -> String {
    let mut out = String::from("[");
    for (k, id) in ids.enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// Parts `(level, from, to)` of a window with those of a level that meet made one, so
/// each is read with one range (one seek per check) rather than two.
fn coalesce(mut parts: Vec<(i64, i64, i64)>) -> Vec<(i64, i64, i64)> {
    parts.sort_unstable();
    let mut out: Vec<(i64, i64, i64)> = Vec::with_capacity(parts.len());
    for (level, from, to) in parts {
        match out.last_mut() {
            Some(last) if last.0 == level && last.2 == from => last.2 = to,
            _ => out.push((level, from, to)),
        }
    }
    out
}

/// Splits `[start, end)` into whole weeks, whole days at the edges, then whole hours and
/// minutes at the outer edges, so a window reads as few rollup rows as it can. Minute rollups are kept
/// briefly: where they are gone (an edge older than their retention), the edge is read
/// at hour resolution instead, by `uptime`.
fn plan(start: i64, end: i64) -> Vec<(i64, i64, i64)> {
    fn floor(v: i64, w: i64) -> i64 {
        v - v.rem_euclid(w)
    }
    fn split(level_idx: usize, start: i64, end: i64, out: &mut Vec<(i64, i64, i64)>) {
        if start >= end {
            return;
        }
        let (level, width) = LEVELS[level_idx];
        if level_idx == 0 {
            out.push((level, floor(start, width), end));
            return;
        }
        let (a, b) = (floor(start + width - 1, width), floor(end, width));
        if a < b {
            out.push((level, a, b));
            split(level_idx - 1, start, a, out);
            split(level_idx - 1, b, end, out);
        } else {
            split(level_idx - 1, start, end, out);
        }
    }
    let mut out = Vec::new();
    split(LEVELS.len() - 1, start, end, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::CheckResult;
    use std::sync::Arc;

    fn result(check: &str, at: i64, down: bool, duration_ms: f64) -> Arc<CheckResult> {
        let mut r: CheckResult = serde_json::from_value(serde_json::json!({
            "check": check, "kind": "http", "status": if down { "down" } else { "up" },
            "at": "2026-01-01T00:00:00Z", "duration_ms": duration_ms
        }))
        .unwrap();
        r.at = from_ms(at);
        Arc::new(r)
    }

    fn minute_rows(store: &SqliteStore, check: &str) -> i64 {
        store
            .reader(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM rollups r JOIN checks c ON c.id = r.check_id WHERE c.name = ?1 AND r.level = 0",
                    [check],
                    |r| r.get(0),
                )?)
            })
            .unwrap()
    }

    /// A check every 10 s gets minute rollups, one every 60 s does not; uptime over a
    /// short window counts exactly the results in it either way, and a long one all of them.
    #[test]
    fn minute_rollups_only_for_checks_faster_than_a_minute_and_short_windows_stay_exact() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
        let now = ms(Utc::now());
        let begin = now - 3 * 3_600_000;
        // (check, interval): results from `begin` to `now`, in batches of ten minutes.
        let mut expected: HashMap<(&str, bool), (u64, u64)> = HashMap::new();
        let mut t = begin;
        while t < now {
            let mut batch = Batch::default();
            for (check, every) in [("fast", 10_000), ("slow", 60_000)] {
                let mut at = t + (t - begin) % every;
                while at < (t + 600_000).min(now) {
                    let down = (at / every) % 7 == 0;
                    batch
                        .results
                        .push(result(check, at, down, 5.0 + ((at / every) % 50) as f64));
                    for short in [false, true] {
                        if !short || at >= now - 3_600_000 {
                            let e = expected.entry((check, short)).or_default();
                            e.0 += 1;
                            e.1 += u64::from(down);
                        }
                    }
                    at += every;
                }
            }
            store.write(&batch).unwrap();
            t += 600_000;
        }
        assert!(minute_rows(&store, "fast") > 100, "{}", minute_rows(&store, "fast"));
        assert_eq!(minute_rows(&store, "slow"), 0);
        for (short, window) in [(true, 3_600), (false, 86_400)] {
            let up = store
                .uptime(&HistoryQuery::default(), Duration::from_secs(window), from_ms(now))
                .unwrap();
            for u in &up {
                let (count, failures) = expected[&(u.check.as_str(), short)];
                if short && u.check == "fast" {
                    // Read from minute rollups: the first minute of the window is whole.
                    assert!((count..=count + 6).contains(&u.count), "{u:?} vs {count}");
                } else {
                    assert_eq!((u.count, u.failures), (count, failures), "{u:?} short: {short}");
                }
                assert!(
                    u.p50_ms.unwrap() >= 5.0 * 0.97 && u.p99_ms.unwrap() <= 55.0 * 1.03,
                    "{u:?}"
                );
            }
        }
        // A check that slows down loses its minute rollups from then on.
        let mut batch = Batch::default();
        for k in 1..=10 {
            batch.results.push(result("fast", now + k * 120_000, false, 5.0));
        }
        let before = minute_rows(&store, "fast");
        store.write(&batch).unwrap();
        assert!(minute_rows(&store, "fast") <= before + 2);
        let since: Option<i64> = store
            .reader(|c| Ok(c.query_row("SELECT minute_since FROM checks WHERE name = 'fast'", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(since, None);
    }

    /// Rows of `results`, hour and day rollups, and `latest`, as text, in key order.
    fn dump(store: &SqliteStore) -> [Vec<String>; 3] {
        store
            .reader(|c| {
                let mut out: [Vec<String>; 3] = Default::default();
                for (k, sql) in [
                    "SELECT c.name, r.at, r.status, r.duration_us, r.code, r.error_id FROM results r
                     JOIN checks c ON c.id = r.check_id ORDER BY c.name, r.at",
                    // Minute rollups start where the writer judged a check's pace, which
                    // depends on what it saw first; hours and days do not.
                    "SELECT c.name, r.level, r.bucket, r.count, r.failures, r.degraded, r.sum_us, r.min_us, r.max_us,
                         hex(r.sketch) FROM rollups r JOIN checks c ON c.id = r.check_id WHERE r.level > 0
                     ORDER BY c.name, r.level, r.bucket",
                    "SELECT c.name, l.at, l.status, l.duration_us FROM latest l JOIN checks c ON c.id = l.check_id
                     ORDER BY c.name",
                ]
                .into_iter()
                .enumerate()
                {
                    let mut stmt = c.prepare(sql)?;
                    let n = stmt.column_count();
                    let mut rows = stmt.query([])?;
                    while let Some(r) = rows.next()? {
                        let cols: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
                        out[k].push(cols.join("|"));
                    }
                }
                Ok(out)
            })
            .unwrap()
    }

    /// The writer sorts a batch by check and time before writing it: a batch in any order,
    /// with checks interleaved, late results and repeats (the first of a repeat is kept, as
    /// `INSERT OR IGNORE` did row by row), gives the same rows, rollups and latest results.
    #[test]
    fn any_order_of_a_batch_writes_the_same_rows_rollups_and_latest() {
        let dir = tempfile::tempdir().unwrap();
        let hour = 3_600_000;
        let t0 = ms(Utc::now()) - 5 * hour;
        let mut results = Vec::new();
        for k in 0..700i64 {
            for (check, every) in [("a", 20_000), ("b", 60_000), ("c", 7_000)] {
                results.push(result(
                    check,
                    t0 + k * every,
                    (k * 7 + every / 1000) % 13 == 0,
                    (k % 97) as f64,
                ));
            }
        }
        // Repeats of the same (check, at) with another status: the first one written stays.
        results.push(result("a", t0 + 20_000, true, 999.0));
        let mut shuffled = results.clone();
        let mut seed = 7u64;
        for i in (1..shuffled.len()).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        // Put the original of the repeat first, so both batches keep the same row.
        let first = shuffled
            .iter()
            .position(|r| r.check == "a" && ms(r.at) == t0 + 20_000 && r.duration_ms != 999.0);
        let repeat = shuffled.iter().position(|r| r.duration_ms == 999.0);
        if let (Some(f), Some(r)) = (first, repeat) {
            if f > r {
                shuffled.swap(f, r);
            }
        }
        let write = |name: &str, results: &[Arc<CheckResult>]| {
            let store = SqliteStore::open(dir.path().join(name)).unwrap();
            // Two batches, so rollups of the first are merged with the second's.
            let (one, two) = results.split_at(results.len() / 2);
            for part in [one, two] {
                store
                    .write(&Batch {
                        results: part.to_vec(),
                        ..Default::default()
                    })
                    .unwrap();
            }
            dump(&store)
        };
        let ordered = write("ordered.db", &results);
        let any = write("shuffled.db", &shuffled);
        assert_eq!(ordered[0].len(), 2100);
        assert_eq!(ordered[2].len(), 3);
        assert!(ordered[1].len() > 20, "{}", ordered[1].len());
        assert_eq!(ordered, any);
        let up = |name: &str| {
            let store = SqliteStore::open(dir.path().join(name)).unwrap();
            let mut u = store
                .uptime(
                    &HistoryQuery::default(),
                    Duration::from_secs(86_400),
                    from_ms(t0 + 13 * hour),
                )
                .unwrap();
            u.sort_by(|a, b| a.check.cmp(&b.check));
            u
        };
        assert_eq!(up("ordered.db"), up("shuffled.db"));
        let total: u64 = up("shuffled.db").iter().map(|u| u.count).sum();
        assert_eq!(total, 2101, "every result once in the rollups, the repeat too");
    }

    /// A long window's last day is read as that day's rollup when the check has nothing
    /// newer than the window's end; otherwise by the hour, as before (whole hours at the end).
    #[test]
    fn a_long_window_ends_with_the_days_rollup_only_when_nothing_is_newer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let (hour, day) = (3_600_000, 86_400_000);
        let now = ms(Utc::now());
        let end = now - now.rem_euclid(day) - day + 12 * hour + 30 * 60_000;
        let start = end - 2 * day;
        let mut batch = Batch::default();
        let mut expected = HashMap::new();
        for (check, until) in [("done", end), ("ahead", end + 3 * hour)] {
            let mut at = start - 5 * hour;
            while at < until {
                batch.results.push(result(check, at, at % 7 == 0, 10.0));
                // Whole hours at both edges.
                let counted = at >= start - start.rem_euclid(hour) && at < end - end.rem_euclid(hour) + hour;
                *expected.entry(check).or_insert(0u64) += u64::from(counted);
                at += 5 * 60_000 + 7;
            }
        }
        store.write(&batch).unwrap();
        let up = store
            .uptime(&HistoryQuery::default(), Duration::from_secs(2 * 86_400), from_ms(end))
            .unwrap();
        for u in &up {
            assert_eq!(u.count, expected[u.check.as_str()], "{u:?}");
        }
    }

    /// A file of schema version 5 (no week rollups) opens, keeps its data, gets week
    /// rollups made of its day rollups (the same rows the writer makes), answers as before,
    /// and takes new results into them.
    #[test]
    fn a_version_5_file_migrates_and_gets_week_rollups_from_its_days() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v5.db");
        let day = 86_400_000;
        let now = ms(Utc::now());
        let weeks = |store: &SqliteStore| -> Vec<String> {
            store
                .reader(|c| {
                    let mut stmt = c.prepare(
                        "SELECT check_id, bucket, count, failures, degraded, sum_us, min_us, max_us, hex(sketch)
                         FROM rollups WHERE level = 3 ORDER BY check_id, bucket",
                    )?;
                    let rows = stmt.query_map([], |r| {
                        Ok((0..9)
                            .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                            .collect::<Vec<_>>()
                            .join("|"))
                    })?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .unwrap()
        };
        let answers = |store: &SqliteStore| -> Vec<Vec<Uptime>> {
            [3_600, 86_400, 7 * 86_400, 30 * 86_400, 365 * 86_400]
                .into_iter()
                .map(|w| {
                    store
                        .uptime(&HistoryQuery::default(), Duration::from_secs(w), from_ms(now))
                        .unwrap()
                })
                .collect()
        };
        let (written_weeks, before) = {
            let store = SqliteStore::open(&path).unwrap();
            // 45 days of three checks every 10 minutes, in batches of a day.
            for d in (0..45).rev() {
                let mut batch = Batch::default();
                for k in 0..144 {
                    for (i, check) in ["a", "b", "c"].into_iter().enumerate() {
                        let at = now - d * day - k * 600_000 - i as i64 * 1_000;
                        let down = (at / 600_000 + i as i64) % 11 == 0;
                        batch
                            .results
                            .push(result(check, at, down, 3.0 + ((at / 600_000) % 300) as f64));
                    }
                }
                store.write(&batch).unwrap();
            }
            let w = weeks(&store);
            assert!(w.len() >= 3 * 7, "{}", w.len());
            (w, answers(&store))
        };
        // What version 5 left: the same tables and rows, without weeks (nor version 7's tables).
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("DROP TABLE service_changes; DROP TABLE mutes;")
                .unwrap();
            c.execute("DELETE FROM rollups WHERE level = 3", []).unwrap();
            c.pragma_update(None, "user_version", 5).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .reader(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(weeks(&store), written_weeks);
        assert_eq!(answers(&store), before);
        let raw: i64 = store
            .reader(|c| Ok(c.query_row("SELECT count(*) FROM results", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(raw, 45 * 144 * 3);
        assert_eq!(before[4].iter().map(|u| u.count).sum::<u64>(), 45 * 144 * 3);
        // New results go into this week's rollup.
        let mut batch = Batch::default();
        batch.results.push(result("a", now + 1, true, 50.0));
        store.write(&batch).unwrap();
        let up = store
            .uptime(
                &HistoryQuery::default().check("a"),
                Duration::from_secs(30 * 86_400),
                from_ms(now + 2),
            )
            .unwrap();
        let was = before[3].iter().find(|u| u.check == "a").unwrap();
        assert_eq!(
            (up[0].count, up[0].failures),
            (was.count + 1, was.failures + 1),
            "{up:?}"
        );
    }

    /// A file of schema version 3 (sparse sketches, minute rollups for every check) opens,
    /// migrates, answers from its old rows, and merges new rows into them.
    #[test]
    fn a_version_3_file_migrates_and_its_old_sketches_still_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        let hour = 3_600_000;
        let now = ms(Utc::now());
        let now = now - now.rem_euclid(hour) + 30 * 60_000;
        {
            let mut c = Connection::open(&path).unwrap();
            Migrations::new(vec![M::up(SCHEMA_V1), M::up(SCHEMA_V2), M::up(SCHEMA_V3)])
                .to_latest(&mut c)
                .unwrap();
            c.execute("INSERT INTO checks (id, name, kind) VALUES (1, 'old', 'http')", [])
                .unwrap();
            // Ten results an hour ago, 10 ms each: raw rows and rollups at every level.
            let mut sketch = crate::store::LatencySketch::default();
            for k in 0..10 {
                let at = now - hour + k * 60_000;
                c.execute("INSERT INTO results VALUES (1, ?1, 0, 10000, 200, NULL)", [at])
                    .unwrap();
                sketch.add(10_000);
            }
            // The sparse form, as version 3 wrote it.
            let old = vec![
                bucket_of(10_000) as u8 & 0x7f | 0x80,
                (bucket_of(10_000) >> 7) as u8,
                10,
            ];
            assert_eq!(crate::store::LatencySketch::decode(&old), Some(sketch));
            for (level, width) in &LEVELS[..3] {
                let bucket = (now - hour) - (now - hour).rem_euclid(*width);
                c.execute(
                    "INSERT INTO rollups VALUES (1, ?1, ?2, 10, 0, 0, 100000, 10000, 10000, ?3)",
                    params![level, bucket, old],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let mut batch = Batch::default();
        batch.results.push(result("old", now - 60_000, true, 30.0));
        store.write(&batch).unwrap();
        for window in [7_200, 86_400 * 7] {
            let up = store
                .uptime(&HistoryQuery::default(), Duration::from_secs(window), from_ms(now))
                .unwrap();
            assert_eq!((up[0].count, up[0].failures), (11, 1), "{window}: {:?}", up[0]);
            assert!((up[0].p50_ms.unwrap() - 10.0).abs() < 0.3, "{:?}", up[0]);
            assert!((up[0].max_ms.unwrap() - 30.0).abs() < 1e-9, "{:?}", up[0]);
        }
    }

    /// Once retention deleted raw results, a short window older than what is left is read
    /// by the hour rather than counted short.
    #[test]
    fn short_windows_past_the_raw_results_left_are_read_by_the_hour() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("r.db")).unwrap();
        let hour = 3_600_000;
        let now = ms(Utc::now());
        let now = now - now.rem_euclid(hour) + 30 * 60_000;
        let mut batch = Batch::default();
        for k in 0..180 {
            batch
                .results
                .push(result("slow", now - 3 * hour + k * 60_000, false, 10.0));
        }
        store.write(&batch).unwrap();
        let policy = Retention {
            raw: Duration::from_secs(20 * 60),
            ..Default::default()
        };
        store.enforce_retention(&policy, from_ms(now), 1_000_000).unwrap();
        // The last 15 minutes are all in the raw results left: exact.
        let up = store
            .uptime(&HistoryQuery::default(), Duration::from_secs(15 * 60), from_ms(now))
            .unwrap();
        assert_eq!(up[0].count, 15, "{:?}", up[0]);
        // The last 100 minutes reach past them: edges by the hour, the hour that holds
        // the window's start counted whole (60 + 60 + 30), as for a file without minutes.
        let up = store
            .uptime(&HistoryQuery::default(), Duration::from_secs(100 * 60), from_ms(now))
            .unwrap();
        assert_eq!(up[0].count, 150, "{:?}", up[0]);
    }

    #[test]
    fn a_window_is_read_in_weeks_then_days_then_hours_then_minutes() {
        let day = 86_400_000;
        let hour = 3_600_000;
        let start = 10 * day + 5 * hour + 30 * 60_000;
        let end = 40 * day + 2 * hour + 15 * 60_000;
        let p = plan(start, end);
        // Weeks from the epoch: days 14 to 35.
        assert!(p.contains(&(3, 14 * day, 35 * day)));
        assert!(p.contains(&(2, 11 * day, 14 * day)));
        assert!(p.contains(&(2, 35 * day, 40 * day)));
        assert!(p.contains(&(1, 10 * day + 6 * hour, 11 * day)));
        assert!(p.contains(&(1, 40 * day, 40 * day + 2 * hour)));
        assert!(p.contains(&(0, start, 10 * day + 6 * hour)));
        assert!(p.contains(&(0, 40 * day + 2 * hour, end)));
        assert_eq!(p.len(), 7, "{p:?}");
        assert_eq!(plan(start, start + 10 * 60_000), vec![(0, start, start + 10 * 60_000)]);
    }
}
