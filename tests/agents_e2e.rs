//! End to end: the real `ttop` binary over a fixture home holding the four built-in agents'
//! session data as the agents lay it out, with every total computed by hand.
//!
//! The home (`tests/fixtures/homes/basic`) holds:
//!
//! | agent | files | requests |
//! | --- | --- | --- |
//! | claude-code | `.claude/projects/-home-alice-webapp/{1f0c2a9e,7c3e9b21}.jsonl`, the sub-agent `1f0c2a9e/subagents/agent-5e2b7c1d.jsonl`, `.config/claude/projects/-home-alice-infra/9a4d2f60.jsonl` | 8 |
//! | codex | `.codex/sessions/2026/11/04/rollout-…-0199f2a1.jsonl`, its fork `2026/11/05/rollout-…-0199f9c3.jsonl`, an archived copy of the first | 3 |
//! | opencode | `.local/share/opencode/storage/message/ses_5f1a…/*.json` and `opencode.db` (built here from the opencode definition's `opencode.db.sql` fixture), sharing two message ids | 4 |
//! | gemini-cli | `.gemini/tmp/<hash>/chats/session-…-3e9f1a2b.json` and its resumed `.jsonl` | 4 |
//!
//! Every request (UTC; in = non-cached input, out = output incl. reasoning, cr/cw = cache
//! read/write, r = reasoning):
//!
//! | id | agent | session | model | day | in | out | cr | cw | r |
//! | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
//! | R1 | claude | 1f0c2a9e | sonnet-4-5 | 11-03 | 3 | 245 | 14000 | 1200 | 0 |
//! | R2 | claude | 1f0c2a9e | sonnet-4-5 | 11-03 | 6 | 96 | 15200 | 310 | 0 |
//! | R3 | claude | 7c3e9b21 | sonnet-4-5 | 11-03 (first line 23:59:59.9, last 00:00:01.2) | 4 | 512 | 15506 | 2048 | 0 |
//! | R4 | claude | 7c3e9b21 | sonnet-4-5 | 11-04 | 2 | 64 | 17554 | 0 | 0 |
//! | R5 | claude | 1f0c2a9e (sub-agent) | haiku-4-5 | 11-03 | 12 | 150 | 0 | 4096 | 0 |
//! | R6 | claude | 1f0c2a9e (sub-agent) | haiku-4-5 | 11-03 | 8 | 88 | 4096 | 320 | 0 |
//! | R7 | claude | 9a4d2f60 | opus-4-1 | 11-05 | 10 | 300 | 0 | 5000 | 0 |
//! | R8 | claude | 9a4d2f60 | opus-4-1 | 11-05 | 5 | 42 | 5000 | 700 | 0 |
//! | X1 | codex | 0199f2a1 | gpt-5-codex | 11-04 | 3936 | 600 | 8064 | 0 | 256 |
//! | X2 | codex | 0199f2a1 | gpt-5.1-codex | 11-04 | 5584 | 900 | 12416 | 0 | 448 |
//! | X3 | codex | 0199f9c3 (fork) | gpt-5.1-codex | 11-05 | 4200 | 600 | 12800 | 0 | 296 |
//! | O1 | opencode | ses_5f1a | claude-sonnet-4-5 | 11-05 | 1850 | 420 | 12000 | 2200 | 0 |
//! | O2 | opencode | ses_5f1a | claude-sonnet-4-5 | 11-05 | 320 | 180 | 14200 | 640 | 0 |
//! | O3 | opencode | ses_5f0e | gpt-5.1 | 11-06 | 2400 | 310+192 = 502 | 1024 | 0 | 192 |
//! | O4 | opencode | ses_5f0e | gpt-5.1 | 11-06 | 600 | 95 | 3328 | 0 | 0 |
//! | G1 | gemini | 3e9f1a2b | gemini-2.5-pro | 11-06 | 14200-9000 = 5200 | 610+240 = 850 | 9000 | 0 | 240 |
//! | G2 | gemini | 3e9f1a2b | gemini-2.5-pro | 11-06 | 16400-14000+350 = 2750 | 150+96 = 246 | 14000 | 0 | 96 |
//! | G3 | gemini | 3e9f1a2b | gemini-2.5-pro | 11-06 | 17100-16128 = 972 | 820+512 = 1332 | 16128 | 0 | 512 |
//! | G4 | gemini | 3e9f1a2b | gemini-2.5-flash | 11-07 | 18500-17024+120 = 1596 | 230+64 = 294 | 17024 | 0 | 64 |
//!
//! The Claude file 7c3e9b21 ends with a half-written line; one test completes it and
//! appends the rest of that response (R9: 7c3e9b21, sonnet-4-5, 11-04, in 3, out 233,
//! cr 17618, cw 128).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;

const CLAUDE_TAIL: &str = "tests/fixtures/homes/basic-claude-tail.jsonl";
const CLAUDE_PARTIAL: &str = ".claude/projects/-home-alice-webapp/7c3e9b21-0d4a-4f6b-8e2c-5a1f3d9b7e60.jsonl";

/// `[input, output, cache_read, cache_write, reasoning, total_tokens, requests]`.
type Nums = [u64; 7];

// ------------------------------------------------------------------------------------------
// The expected reports, by hand. total_tokens = input + output + cache_read + cache_write.
// ------------------------------------------------------------------------------------------

const DAILY: &[(&str, Nums)] = &[
    // R1 R2 R3 R5 R6: in 3+6+4+12+8 = 33; out 245+96+512+150+88 = 1091;
    // cr 14000+15200+15506+0+4096 = 48802; cw 1200+310+2048+4096+320 = 7974;
    // total 33+1091+48802+7974 = 57900
    ("2026-11-03", [33, 1091, 48802, 7974, 0, 57900, 5]),
    // R4 X1 X2: in 2+3936+5584 = 9522; out 64+600+900 = 1564; cr 17554+8064+12416 = 38034;
    // r 256+448 = 704; total 9522+1564+38034 = 49120
    ("2026-11-04", [9522, 1564, 38034, 0, 704, 49120, 3]),
    // R7 R8 X3 O1 O2: in 10+5+4200+1850+320 = 6385; out 300+42+600+420+180 = 1542;
    // cr 0+5000+12800+12000+14200 = 44000; cw 5000+700+0+2200+640 = 8540; r 296;
    // total 6385+1542+44000+8540 = 60467
    ("2026-11-05", [6385, 1542, 44000, 8540, 296, 60467, 5]),
    // O3 O4 G1 G2 G3: in 2400+600+5200+2750+972 = 11922; out 502+95+850+246+1332 = 3025;
    // cr 1024+3328+9000+14000+16128 = 43480; r 192+240+96+512 = 1040;
    // total 11922+3025+43480 = 58427
    ("2026-11-06", [11922, 3025, 43480, 0, 1040, 58427, 5]),
    // G4: total 1596+294+17024 = 18914
    ("2026-11-07", [1596, 294, 17024, 0, 64, 18914, 1]),
];

// The sum of every day: in 33+9522+6385+11922+1596 = 29458; out 1091+1564+1542+3025+294 = 7516;
// cr 48802+38034+44000+43480+17024 = 191340; cw 7974+8540 = 16514; r 704+296+1040+64 = 2104;
// total 57900+49120+60467+58427+18914 = 244828; requests 5+3+5+5+1 = 19
const TOTALS: Nums = [29458, 7516, 191340, 16514, 2104, 244828, 19];

const AGENTS: &[(&str, Nums)] = &[
    // R1..R8: in 35+15 = 50; out 1155+342 = 1497; cr 66356+5000 = 71356; cw 7974+5700 = 13674
    ("claude-code", [50, 1497, 71356, 13674, 0, 86577, 8]),
    // X1..X3 = the fork's last running total: in 47000-33280 = 13720, cr 33280, out 2100, r 1000
    ("codex", [13720, 2100, 33280, 0, 1000, 49100, 3]),
    // O1..O4: in 1850+320+2400+600 = 5170; out 420+180+502+95 = 1197;
    // cr 12000+14200+1024+3328 = 30552; cw 2200+640 = 2840; r 192
    ("opencode", [5170, 1197, 30552, 2840, 192, 39759, 4]),
    // G1..G4: in 5200+2750+972+1596 = 10518; out 850+246+1332+294 = 2722;
    // cr 9000+14000+16128+17024 = 56152; r 240+96+512+64 = 912
    ("gemini-cli", [10518, 2722, 56152, 0, 912, 69392, 4]),
];

const SESSIONS: &[(&str, Nums)] = &[
    // R1 R2 R5 R6: in 3+6+12+8 = 29; out 245+96+150+88 = 579; cr 14000+15200+0+4096 = 33296;
    // cw 1200+310+4096+320 = 5926
    (
        "1f0c2a9e-5b7d-4c1e-9a3f-2d8e6b4c0a11",
        [29, 579, 33296, 5926, 0, 39830, 4],
    ),
    // R3 R4: in 4+2 = 6; out 512+64 = 576; cr 15506+17554 = 33060; cw 2048
    (
        "7c3e9b21-0d4a-4f6b-8e2c-5a1f3d9b7e60",
        [6, 576, 33060, 2048, 0, 35690, 2],
    ),
    // R7 R8: in 10+5 = 15; out 300+42 = 342; cr 5000; cw 5000+700 = 5700
    (
        "9a4d2f60-3c1b-4e8a-b7d5-6f0e1c2a3b94",
        [15, 342, 5000, 5700, 0, 11057, 2],
    ),
    // X1 X2 (the fork's replay of them counts for the parent): the parent's last running
    // total, in 30000-20480 = 9520, cr 20480, out 1500, r 704
    (
        "0199f2a1-7c3d-7b10-9e44-5a6b7c8d9e01",
        [9520, 1500, 20480, 0, 704, 31500, 2],
    ),
    // X3
    (
        "0199f9c3-1a2b-7d4e-8f60-123456789abc",
        [4200, 600, 12800, 0, 296, 17600, 1],
    ),
    // O1 O2: in 1850+320 = 2170; out 420+180 = 600; cr 12000+14200 = 26200; cw 2200+640 = 2840
    ("ses_5f1a2b3c4d5eFgH1iJ2kL3mN4o", [2170, 600, 26200, 2840, 0, 31810, 2]),
    // O3 O4: in 2400+600 = 3000; out 502+95 = 597; cr 1024+3328 = 4352; r 192
    ("ses_5f0e9d8c7b6aPqR5sT6uV7wX8y", [3000, 597, 4352, 0, 192, 7949, 2]),
    // G1..G4, as the gemini-cli agent
    (
        "3e9f1a2b-6c4d-4e8f-9a0b-1c2d3e4f5a6b",
        [10518, 2722, 56152, 0, 912, 69392, 4],
    ),
];

const MODELS: &[(&str, Nums)] = &[
    // R1..R4: in 3+6+4+2 = 15; out 245+96+512+64 = 917; cr 14000+15200+15506+17554 = 62260;
    // cw 1200+310+2048+0 = 3558
    ("claude-sonnet-4-5-20250929", [15, 917, 62260, 3558, 0, 66750, 4]),
    // R5 R6: in 12+8 = 20; out 150+88 = 238; cr 0+4096 = 4096; cw 4096+320 = 4416
    ("claude-haiku-4-5-20251001", [20, 238, 4096, 4416, 0, 8770, 2]),
    // R7 R8
    ("claude-opus-4-1-20250805", [15, 342, 5000, 5700, 0, 11057, 2]),
    // X1
    ("gpt-5-codex", [3936, 600, 8064, 0, 256, 12600, 1]),
    // X2 X3: in 5584+4200 = 9784; out 900+600 = 1500; cr 12416+12800 = 25216; r 448+296 = 744
    ("gpt-5.1-codex", [9784, 1500, 25216, 0, 744, 36500, 2]),
    // O1 O2 (OpenCode's own model id, without a date)
    ("claude-sonnet-4-5", [2170, 600, 26200, 2840, 0, 31810, 2]),
    // O3 O4
    ("gpt-5.1", [3000, 597, 4352, 0, 192, 7949, 2]),
    // G1 G2 G3: in 5200+2750+972 = 8922; out 850+246+1332 = 2428; cr 9000+14000+16128 = 39128;
    // r 240+96+512 = 848
    ("gemini-2.5-pro", [8922, 2428, 39128, 0, 848, 50478, 3]),
    // G4
    ("gemini-2.5-flash", [1596, 294, 17024, 0, 64, 18914, 1]),
];

/// What OpenCode stored as the cost of O1..O4: 0.0213 + 0.0093 + 0.0071 + 0.0016.
const OPENCODE_REPORTED_COST: f64 = 0.0393;

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// A private copy of the fixture home, with ttop's own files beside it.
struct Sandbox(common::FixtureHome);

impl std::ops::Deref for Sandbox {
    type Target = common::FixtureHome;
    fn deref(&self) -> &common::FixtureHome {
        &self.0
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox(common::FixtureHome::new(""))
    }

    fn report_with(&self, group: &str, extra_env: &[(&str, String)]) -> Value {
        let out = self
            .ttop(&["report", group, "--json", "--tz", "UTC"], extra_env)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "ttop report {group} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("report {group} is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
    }

    fn report(&self, group: &str) -> Value {
        self.report_with(group, &[])
    }
}

const COLUMNS: [&str; 7] = [
    "input",
    "output",
    "cache_read",
    "cache_write",
    "reasoning",
    "total_tokens",
    "requests",
];

fn nums(row: &Value, what: &str) -> Nums {
    let mut n = [0; 7];
    for (i, c) in COLUMNS.iter().enumerate() {
        n[i] = row
            .get(c)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{what}: no number '{c}' in {row}"));
    }
    n
}

/// Every row of the report, by key, exactly as expected (no more, no fewer).
fn assert_rows(report: &Value, want: &[(&str, Nums)], what: &str) {
    let rows = report["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no rows in {report}"));
    let got: BTreeMap<String, Nums> = rows
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_string(), nums(r, what)))
        .collect();
    assert_eq!(got.len(), rows.len(), "{what}: a key appears twice: {report:#}");
    let want: BTreeMap<String, Nums> = want.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    let show = |m: &BTreeMap<String, Nums>| {
        m.iter()
            .map(|(k, n)| format!("  {k}: {n:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        got == want,
        "{what} (columns {COLUMNS:?}):\nexpected\n{}\ngot\n{}",
        show(&want),
        show(&got)
    );
}

fn assert_totals(report: &Value, want: Nums, what: &str) {
    assert_eq!(
        nums(&report["totals"], what),
        want,
        "{what}: totals (columns {COLUMNS:?})"
    );
}

fn assert_daily(report: &Value, want: &[(&str, Nums)], totals: Nums, what: &str) {
    assert_rows(report, want, what);
    let keys: Vec<&str> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "{what}: days are in order");
    assert_totals(report, totals, what);
}

/// The expected rows with one row replaced.
fn with(rows: &[(&'static str, Nums)], key: &str, n: Nums) -> Vec<(&'static str, Nums)> {
    rows.iter().map(|(k, v)| (*k, if *k == key { n } else { *v })).collect()
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[test]
fn reports_give_the_hand_computed_totals() {
    let s = Sandbox::new();
    assert_daily(&s.report("daily"), DAILY, TOTALS, "daily");
    let agents = s.report("agent");
    assert_rows(&agents, AGENTS, "agent");
    assert_totals(&agents, TOTALS, "agent");
    let sessions = s.report("session");
    assert_rows(&sessions, SESSIONS, "session");
    assert_totals(&sessions, TOTALS, "session");
    let models = s.report("model");
    assert_rows(&models, MODELS, "model");
    assert_totals(&models, TOTALS, "model");
    // OpenCode recorded a cost for every request: once costs are filled in, that is the
    // one reported.
    let opencode = agents["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "opencode")
        .unwrap();
    if let Some(cost) = opencode["cost_usd"].as_f64() {
        assert!(
            (cost - OPENCODE_REPORTED_COST).abs() < 1e-9,
            "opencode cost_usd {cost}, expected the reported 0.0393"
        );
    }
}

#[test]
fn reading_again_changes_nothing() {
    let s = Sandbox::new();
    let first = s.report("daily");
    assert_daily(&first, DAILY, TOTALS, "first run");
    for run in ["second run", "third run"] {
        let again = s.report("daily");
        assert_daily(&again, DAILY, TOTALS, run);
        assert_eq!(again, first, "{run}: the whole report is unchanged");
    }
}

#[test]
fn a_completed_line_and_an_appended_line_count_once() {
    let s = Sandbox::new();
    // The half-written last line of 7c3e9b21 is held back.
    assert_daily(&s.report("daily"), DAILY, TOTALS, "before the append");

    // Complete it (output_tokens 40) and append the response's final line (output 233).
    let tail = std::fs::read(CLAUDE_TAIL).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(s.home.join(CLAUDE_PARTIAL))
        .unwrap();
    f.write_all(&tail).unwrap();
    drop(f);

    // R9 (largest line: in 3, out 233, cr 17618, cw 128; first line's time 11-04 00:01:10)
    // 11-04: in 9522+3 = 9525; out 1564+233 = 1797; cr 38034+17618 = 55652; cw 0+128 = 128;
    //        total 49120+3+233+17618+128 = 67102; requests 3+1 = 4
    let daily = with(DAILY, "2026-11-04", [9525, 1797, 55652, 128, 704, 67102, 4]);
    // totals: in 29461, out 7749, cr 208958, cw 16642, total 244828+17982 = 262810, requests 20
    let totals = [29461, 7749, 208958, 16642, 2104, 262810, 20];
    for run in ["after the append", "after the append, again"] {
        assert_daily(&s.report("daily"), &daily, totals, run);
    }
    // 7c3e9b21: in 6+3 = 9; out 576+233 = 809; cr 33060+17618 = 50678; cw 2048+128 = 2176;
    // total 35690+17982 = 53672
    let sessions = with(
        SESSIONS,
        "7c3e9b21-0d4a-4f6b-8e2c-5a1f3d9b7e60",
        [9, 809, 50678, 2176, 0, 53672, 3],
    );
    assert_rows(&s.report("session"), &sessions, "session after the append");
    // claude-code: in 53, out 1730, cr 88974, cw 13802, total 86577+17982 = 104559
    let agents = with(AGENTS, "claude-code", [53, 1730, 88974, 13802, 0, 104559, 9]);
    assert_rows(&s.report("agent"), &agents, "agent after the append");
    // sonnet-4-5-20250929: in 18, out 1150, cr 79878, cw 3686, total 66750+17982 = 84732
    let models = with(
        MODELS,
        "claude-sonnet-4-5-20250929",
        [18, 1150, 79878, 3686, 0, 84732, 5],
    );
    assert_rows(&s.report("model"), &models, "model after the append");
}

#[test]
fn deleted_source_files_keep_their_usage() {
    let s = Sandbox::new();
    assert_daily(&s.report("daily"), DAILY, TOTALS, "before deleting");
    // Each of these holds requests no other file has: R7 R8, O3 O4 (the database), G4.
    for gone in [
        ".config/claude/projects/-home-alice-infra/9a4d2f60-3c1b-4e8a-b7d5-6f0e1c2a3b94.jsonl",
        ".local/share/opencode/opencode.db",
        ".gemini/tmp/b5f3c8d2e1a4f6071829304a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8/chats/session-2026-11-06T08-30-3e9f1a2b.jsonl",
        ".codex/sessions/2026/11/05/rollout-2026-11-05T14-20-07-0199f9c3-1a2b-7d4e-8f60-123456789abc.jsonl",
    ] {
        std::fs::remove_file(s.home.join(gone)).unwrap();
    }
    for run in ["after deleting", "after deleting, again"] {
        assert_daily(&s.report("daily"), DAILY, TOTALS, run);
    }
    assert_rows(&s.report("session"), SESSIONS, "session after deleting");
}

#[test]
fn opencode_database_changes_are_read_while_opencode_writes() {
    let s = Sandbox::new();
    // OpenCode keeps its database open in WAL mode; changes sit in opencode.db-wal.
    let db = rusqlite::Connection::open(s.home.join(".local/share/opencode/opencode.db")).unwrap();
    let mode: String = db.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    db.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
    assert_rows(&s.report("agent"), AGENTS, "agent before the update");

    // O4's message gets another step (output 95 -> 180, updated a minute later) and a new
    // reply O5 arrives: in 100, out 50 + reasoning 10, cache read 4096, 11-06 15:08.
    db.execute_batch(
        r#"UPDATE message SET time_updated = 1793977619010,
                  data = json_set(data, '$.tokens.output', 180, '$.time.completed', 1793977619010)
            WHERE id = 'msg_a4b20d0f7007Wx7Yz8Ab9Cd0';
           INSERT INTO message VALUES ('msg_a4b21a3c8011Ef1Gh2Ij3Kl4', 'ses_5f0e9d8c7b6aPqR5sT6uV7wX8y',
             1793977670000, 1793977680000,
             '{"role":"assistant","time":{"created":1793977670000,"completed":1793977680000},"parentID":"msg_a4b20c1d5005Gh9Ij0Kl1Mn2","modelID":"gpt-5.1","providerID":"openai","mode":"build","agent":"build","path":{"cwd":"/home/alice/shop","root":"/home/alice/shop"},"cost":0.0012,"tokens":{"input":100,"output":50,"reasoning":10,"cache":{"read":4096,"write":0}},"finish":"stop"}');"#,
    )
    .unwrap();

    // opencode: in 5170+100 = 5270; out 1197+(180-95)+(50+10) = 1342; cr 30552+4096 = 34648;
    // cw 2840; r 192+10 = 202; total 5270+1342+34648+2840 = 44100; requests 5
    let agents = with(AGENTS, "opencode", [5270, 1342, 34648, 2840, 202, 44100, 5]);
    // 11-06: in 11922+100 = 12022; out 3025+85+60 = 3170; cr 43480+4096 = 47576; r 1050;
    // total 12022+3170+47576 = 62768; requests 6
    let daily = with(DAILY, "2026-11-06", [12022, 3170, 47576, 0, 1050, 62768, 6]);
    // in 29458+100 = 29558; out 7516+145 = 7661; cr 191340+4096 = 195436; cw 16514; r 2114;
    // total 244828+4341 = 249169; requests 20
    let totals = [29558, 7661, 195436, 16514, 2114, 249169, 20];
    for run in ["after the update", "after the update, again"] {
        assert_rows(&s.report("agent"), &agents, run);
        assert_daily(&s.report("daily"), &daily, totals, run);
    }
    // ses_5f0e: in 3000+100 = 3100; out 597+145 = 742; cr 4352+4096 = 8448; r 202;
    // total 3100+742+8448 = 12290; requests 3
    let sessions = with(
        SESSIONS,
        "ses_5f0e9d8c7b6aPqR5sT6uV7wX8y",
        [3100, 742, 8448, 0, 202, 12290, 3],
    );
    assert_rows(&s.report("session"), &sessions, "session after the update");
    drop(db);
}

#[test]
fn claude_config_dir_lists_several_config_dirs() {
    let s = Sandbox::new();
    // Both config dirs through the env var (comma-separated, with a space and a missing
    // entry): the same files as the default roots, so the same totals.
    let dirs = format!("{h}/.claude, {h}/.config/claude,{h}/.nowhere", h = s.home.display());
    let env = [("CLAUDE_CONFIG_DIR", dirs)];
    let agents = s.report_with("agent", &env);
    assert_rows(&agents, AGENTS, "agent with CLAUDE_CONFIG_DIR");
    assert_daily(
        &s.report_with("daily", &env),
        DAILY,
        TOTALS,
        "daily with CLAUDE_CONFIG_DIR",
    );
}
