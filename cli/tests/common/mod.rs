//! What the process tests share: starting a real agent.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `upwatch run <spec> --json --db <db> --lease 2s`, its events to `out` and its stderr
/// beside it (`out` with the extension `err`).
pub fn agent(spec: &Path, db: &Path, out: &Path) -> Child {
    agent_with(spec, db, out, "2s", &[])
}

/// The same with another lease period and more arguments.
#[allow(dead_code)] // each test binary compiles this module; not all of them call it
pub fn agent_with(spec: &Path, db: &Path, out: &Path, lease: &str, more: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .args([
            "run",
            spec.to_str().unwrap(),
            "--json",
            "--db",
            db.to_str().unwrap(),
            "--lease",
            lease,
        ])
        .args(more)
        .stdout(std::fs::File::create(out).map(Stdio::from).unwrap())
        .stderr(
            std::fs::File::create(out.with_extension("err"))
                .map(Stdio::from)
                .unwrap(),
        )
        .spawn()
        .expect("the agent starts")
}
