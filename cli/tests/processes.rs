//! Many processes, one scheduler: four agents on one SQLite file. Only the lease holder
//! runs checks; when it is killed with SIGKILL another takes over within the lease, and
//! every check keeps running once per interval, with no double runs.

mod common;
use common::{agent, agent_with};
use monitor_core::store::{HistoryQuery, SqliteStore, Store};
use std::process::{Child, Command};
use std::time::Duration;
use tempfile::TempDir;
use upwatch_testbed::Testbed;

fn ran_checks(out: &std::path::Path) -> bool {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .contains("\"check_succeeded\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_agents_one_scheduler_and_a_takeover_after_sigkill() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = dir.path().join("upwatch.toml");
    std::fs::write(
        &spec,
        format!(
            "[[checks]]\nname = \"api\"\nkind = \"http\"\nurl = \"{}\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\n\
             [[checks]]\nname = \"home\"\nkind = \"http\"\nurl = \"{}\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
            tb.http.url("/health"),
            tb.http.url("/text")
        ),
    )
    .unwrap();
    let db = dir.path().join("shared.db");
    let outs: Vec<_> = (0..4).map(|i| dir.path().join(format!("agent{i}.jsonl"))).collect();
    let mut agents: Vec<Child> = outs.iter().map(|o| agent(&spec, &db, o)).collect();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let holders: Vec<usize> = (0..4).filter(|i| ran_checks(&outs[*i])).collect();
    assert_eq!(holders.len(), 1, "exactly one agent runs checks: {holders:?}");
    let first = holders[0];
    let kill_at = chrono::Utc::now();
    agents[first].kill().unwrap(); // SIGKILL
    agents[first].wait().unwrap();

    // Long enough after the takeover (up to the lease plus a renewal) for several intervals
    // even on a loaded machine: the checks below want 9 runs in all.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after: Vec<usize> = (0..4).filter(|i| *i != first && ran_checks(&outs[*i])).collect();
    let tails: Vec<String> = outs
        .iter()
        .map(|o| {
            let t = std::fs::read_to_string(o).unwrap_or_default();
            t.lines().rev().take(3).collect::<Vec<_>>().join("\n")
        })
        .collect();
    assert_eq!(after.len(), 1, "exactly one agent took over: {after:?}\n{tails:#?}");
    for (i, a) in agents.iter_mut().enumerate() {
        if i != first {
            Command::new("kill")
                .args(["-TERM", &a.id().to_string()])
                .status()
                .unwrap();
        }
    }
    for (i, a) in agents.iter_mut().enumerate() {
        if i != first {
            let status = a.wait().unwrap();
            let err = std::fs::read_to_string(outs[i].with_extension("err")).unwrap_or_default();
            assert!(status.success(), "agent {i} stops cleanly: {status:?}\n{err}");
        }
    }

    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    for check in ["api", "home"] {
        let mut runs: Vec<_> = store
            .history(&HistoryQuery::default().check(check).limit(1000))
            .unwrap()
            .items
            .iter()
            .map(|r| r.at)
            .collect();
        runs.sort();
        assert!(runs.len() >= 9, "{check}: {} runs", runs.len());
        let gaps: Vec<i64> = runs.windows(2).map(|w| (w[1] - w[0]).num_milliseconds()).collect();
        // Once per interval: never two runs in one interval...
        assert!(gaps.iter().all(|g| *g >= 700), "{check}: double run, gaps {gaps:?}");
        // ...and the takeover costs at most the lease (2 s) plus a renewal and an interval.
        let worst = *gaps.iter().max().unwrap();
        assert!(
            worst <= 1_000 + 2_000 + 1_500,
            "{check}: a gap of {worst} ms, gaps {gaps:?}"
        );
        assert!(
            runs.iter().any(|at| *at > kill_at + chrono::Duration::seconds(3)),
            "{check}: runs continue after the kill"
        );
    }
}

fn results_in(db: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT count(*) FROM results", [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_again_and_again_never_loses_committed_results() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = dir.path().join("upwatch.toml");
    let checks: String = (0..5)
        .map(|i| {
            format!(
                "[[checks]]\nname = \"c{i}\"\nkind = \"http\"\nurl = \"{}\"\ninterval = \"1s\"\n\n",
                tb.http.url("/health")
            )
        })
        .collect();
    std::fs::write(&spec, checks).unwrap();
    let db = dir.path().join("crash.db");
    let mut committed = 0;
    for round in 0..10u64 {
        let out = dir.path().join(format!("round{round}.jsonl"));
        let mut child = agent_with(&spec, &db, &out, "500ms", &[]);
        // The first kill lands while the file is created and migrated; later ones while batches are written.
        let ms = if round == 0 { 40 } else { 900 + (round * 337) % 1200 };
        tokio::time::sleep(Duration::from_millis(ms)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = SqliteStore::open(&db).expect("the file always reopens");
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        drop(store);
        let now = results_in(&db);
        assert!(
            now >= committed,
            "round {round}: {now} results after {committed}: committed rows were lost"
        );
        committed = now;
    }
    assert!(committed >= 10, "the agents wrote between kills: {committed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_during_retention_leaves_a_sound_file() {
    let tb = Testbed::start().await.unwrap();
    let dir = TempDir::new().unwrap();
    let spec = dir.path().join("upwatch.toml");
    let checks: String = (0..20)
        .map(|i| {
            format!(
                "[[checks]]\nname = \"c{i}\"\nkind = \"http\"\nurl = \"{}\"\ninterval = \"1s\"\n\n",
                tb.http.url("/text")
            )
        })
        .collect();
    std::fs::write(&spec, checks).unwrap();
    let db = dir.path().join("retention.db");
    for round in 0..8u64 {
        // Raw results older than 1s are deleted every 100 ms: retention runs all the time.
        let out = dir.path().join(format!("round{round}.jsonl"));
        let mut child = agent_with(
            &spec,
            &db,
            &out,
            "500ms",
            &["--keep-raw", "1s", "--retention-every", "100ms"],
        );
        tokio::time::sleep(Duration::from_millis(1_500 + (round * 211) % 700)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = SqliteStore::open(&db).expect("the file always reopens");
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        // Retention ran: nothing older than the 1s window plus a retention pass and a batch.
        let oldest = store
            .history(&HistoryQuery::default().limit(1000))
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.at)
            .min();
        if let Some(oldest) = oldest {
            assert!(
                chrono::Utc::now() - oldest < chrono::Duration::seconds(8),
                "round {round}: {oldest}"
            );
        }
    }
}
