//! Exactly-once across crashes: the real `ttop` binary is killed with SIGKILL at several
//! points of a long first ingest, then run to completion; its report must equal that of a
//! clean single run and the generator's own totals, to the token.
//!
//! The corpus comes from the benchmark's generator (`ttop::bench::generate`): all four
//! built-in agents' shapes, with streamed duplicate lines, copies across files, repeated
//! running totals and a migrated SQLite + JSON install, so a crash can fall between any
//! two commits of any source.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Big enough that a debug build spends a few hundred milliseconds ingesting.
const CORPUS_BYTES: u64 = 60_000_000;

/// The `ttop` binary with a clean environment: the corpus as home, its own database.
#[allow(clippy::disallowed_methods)] // Tests run the real binary; definitions never do.
fn ttop(home: &Path, dir: &Path, db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ttop"));
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("TTOP_DB", dir.join(db))
        .env("TZ", "UTC")
        .args(["report", "daily", "--json", "--tz", "UTC"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs to completion and returns the report.
fn report(home: &Path, dir: &Path, db: &str) -> (Value, Duration) {
    let t = Instant::now();
    let out = ttop(home, dir, db).output().unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "ttop failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), took)
}

#[test]
fn sigkill_during_ingest_loses_nothing_and_counts_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let home = dir.join("home");
    let agents: Vec<String> = ttop::bench::AGENTS.iter().map(|(id, _)| id.to_string()).collect();
    let corpus = ttop::bench::generate(&home, CORPUS_BYTES, &agents, 42).unwrap();

    let (clean, took) = report(&home, &dir, "clean.db");

    // The clean run equals what the generator wrote, day by day.
    let days = clean["rows"].as_array().unwrap();
    assert_eq!(days.len(), corpus.expected.days.len());
    for row in days {
        let key = row["key"].as_str().unwrap();
        let want = corpus.expected.days[key];
        let got = [
            row["input"].as_u64().unwrap(),
            row["output"].as_u64().unwrap(),
            row["cache_read"].as_u64().unwrap(),
            row["cache_write"].as_u64().unwrap(),
            row["reasoning"].as_u64().unwrap(),
            row["requests"].as_u64().unwrap(),
        ];
        assert_eq!(
            got,
            [
                want.input,
                want.output,
                want.cache_read,
                want.cache_write,
                want.reasoning,
                want.requests
            ],
            "day {key}"
        );
    }

    // Kill the same run at points spread over how long a clean run took; each restart
    // continues from whatever the killed run committed.
    let mut killed = 0;
    for pct in [10u32, 25, 40, 55, 70, 85] {
        let mut child = ttop(&home, &dir, "crash.db").spawn().unwrap();
        std::thread::sleep(took * pct / 100);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed += 1;
        }
    }
    eprintln!("clean run {took:?}; {killed} of 6 runs killed mid-way");
    assert!(killed >= 2, "only {killed} runs were killed before they finished");
    let (after, _) = report(&home, &dir, "crash.db");
    assert_eq!(after, clean, "a crashed and resumed ingest differs from a clean one");

    // Once complete, a further run changes nothing.
    let (again, _) = report(&home, &dir, "crash.db");
    assert_eq!(again, clean);
}
