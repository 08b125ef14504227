//! End to end: `ttop report` and `ttop pricing` as a user runs them, over the fixture
//! home `tests/fixtures/homes/basic` (its requests R1..R8, X1..X3, O1..O4, G1..G4 are
//! listed in `tests/agents_e2e.rs`), priced from the embedded snapshot with the config
//! `pricing.offline = true`, every dollar computed by hand.
//!
//! Snapshot prices used (USD per million tokens; input / output / cache read / cache
//! write / 1h cache write):
//!
//! | model | prices |
//! | --- | --- |
//! | claude-sonnet-4-5-20250929 | 3 / 15 / 0.3 / 3.75 / 6 |
//! | claude-haiku-4-5-20251001 | 1 / 5 / 0.1 / 1.25 |
//! | claude-opus-4-1-20250805 | 15 / 75 / 1.5 / 18.75 |
//! | claude-sonnet-4-20250514 | 3 / 15 / 0.3 / 3.75; over 200k 6 / 22.5 / 0.6 / 7.5 |
//! | gpt-5-codex, gpt-5.1-codex, gpt-5.1 | 1.25 / 10 / 0.125 |
//! | gemini-2.5-pro | 1.25 / 10 / 0.125 |
//! | gemini-2.5-flash | 0.3 / 2.5 / 0.03 |
//!
//! Costs below are in millionths of a dollar (tokens x price).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::Value;

const EXTRA_SESSION: &str = "tests/fixtures/pricing/extra-claude-session.jsonl";
const CATALOGUE: &str = "tests/fixtures/pricing/catalogue.json";

// 11-03: R1 sonnet 3x3 + 245x15 + 14000x0.3 + 1200x3.75 = 9 + 3675 + 4200 + 4500 = 12384
//        R2 sonnet 6x3 + 96x15 + 15200x0.3 + 310 (1h) x6 = 18 + 1440 + 4560 + 1860 = 7878
//        R3 sonnet 4x3 + 512x15 + 15506x0.3 + 2048x3.75 = 12 + 7680 + 4651.8 + 7680 = 20023.8
//        R5 haiku 12x1 + 150x5 + 4096x1.25 = 12 + 750 + 5120 = 5882
//        R6 haiku 8x1 + 88x5 + 4096x0.1 + 320x1.25 = 8 + 440 + 409.6 + 400 = 1257.6
//        sum 47425.4
// 11-04: R4 sonnet 2x3 + 64x15 + 17554x0.3 = 6 + 960 + 5266.2 = 6232.2
//        X1 gpt-5-codex 3936x1.25 + 600x10 + 8064x0.125 = 4920 + 6000 + 1008 = 11928
//        X2 gpt-5.1-codex 5584x1.25 + 900x10 + 12416x0.125 = 6980 + 9000 + 1552 = 17532
//        sum 35692.2
// 11-05: R7 opus 10x15 + 300x75 + 5000x18.75 = 150 + 22500 + 93750 = 116400
//        R8 opus 5x15 + 42x75 + 5000x1.5 + 700x18.75 = 75 + 3150 + 7500 + 13125 = 23850
//        X3 gpt-5.1-codex 4200x1.25 + 600x10 + 12800x0.125 = 5250 + 6000 + 1600 = 12850
//        O1 + O2 as OpenCode reported them: 21300 + 9300 = 30600
//        sum 183700
// 11-06: O3 + O4 reported: 7100 + 1600 = 8700
//        G1 pro 5200x1.25 + 850x10 + 9000x0.125 = 6500 + 8500 + 1125 = 16125
//        G2 pro 2750x1.25 + 246x10 + 14000x0.125 = 3437.5 + 2460 + 1750 = 7647.5
//        G3 pro 972x1.25 + 1332x10 + 16128x0.125 = 1215 + 13320 + 2016 = 16551
//        sum 49023.5
// 11-07: G4 flash 1596x0.3 + 294x2.5 + 17024x0.03 = 478.8 + 735 + 510.72 = 1724.52
// total 47425.4 + 35692.2 + 183700 + 49023.5 + 1724.52 = 317565.62
const DAILY_AUTO: &[(&str, f64)] = &[
    ("2026-11-03", 0.047_425_4),
    ("2026-11-04", 0.035_692_2),
    ("2026-11-05", 0.183_7),
    ("2026-11-06", 0.049_023_5),
    ("2026-11-07", 0.001_724_52),
];
const TOTAL_AUTO: f64 = 0.317_565_62;

// --cost-mode calculate prices OpenCode's requests too:
// O1 sonnet-4-5 1850x3 + 420x15 + 12000x0.3 + 2200x3.75 = 5550 + 6300 + 3600 + 8250 = 23700
// O2 sonnet-4-5 320x3 + 180x15 + 14200x0.3 + 640x3.75 = 960 + 2700 + 4260 + 2400 = 10320
// 11-05: 183700 - 30600 + 34020 = 187120
// O3 gpt-5.1 2400x1.25 + 502x10 + 1024x0.125 = 3000 + 5020 + 128 = 8148
// O4 gpt-5.1 600x1.25 + 95x10 + 3328x0.125 = 750 + 950 + 416 = 2116
// 11-06: 49023.5 - 8700 + 10264 = 50587.5
const DAILY_CALCULATE: &[(&str, f64)] = &[
    ("2026-11-03", 0.047_425_4),
    ("2026-11-04", 0.035_692_2),
    ("2026-11-05", 0.187_12),
    ("2026-11-06", 0.050_587_5),
    ("2026-11-07", 0.001_724_52),
];

struct Sandbox(common::FixtureHome);

impl std::ops::Deref for Sandbox {
    type Target = common::FixtureHome;
    fn deref(&self) -> &common::FixtureHome {
        &self.0
    }
}

impl Sandbox {
    /// The fixture home, with `config` as `config.toml`.
    fn new(config: &str) -> Sandbox {
        Sandbox(common::FixtureHome::new(config))
    }

    fn offline() -> Sandbox {
        Sandbox::new("[pricing]\noffline = true\n")
    }

    /// Adds a Claude session on 11-08: an unknown model (in 100, out 50) and a
    /// long-context request of claude-sonnet-4-20250514.
    fn add_extra_session(&self) {
        let dir = self.home.join(".claude/projects/-home-alice-extra");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(EXTRA_SESSION, dir.join("5d1e7a90-2b4c-4f6e-8a1d-3c5b7e9f1a2b.jsonl")).unwrap();
    }

    /// `ttop report daily --json ARGS`: the JSON and stderr.
    fn daily(&self, args: &[&str], env: &[(&str, String)]) -> (Value, String) {
        let mut all = vec!["report", "daily", "--json", "--tz", "UTC"];
        all.extend_from_slice(args);
        let out = self.ttop(&all, env).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "failed: {stderr}");
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
        (json, stderr)
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn assert_costs(report: &Value, want: &[(&str, f64)], what: &str) {
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{what}: {report:#}");
    for (row, (key, cost)) in rows.iter().zip(want) {
        assert_eq!(row["key"], *key, "{what}");
        let got = row["cost_usd"]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: {key} has no cost: {row}"));
        assert!(close(got, *cost), "{what}: {key} costs {got}, expected {cost}");
    }
}

#[test]
fn daily_costs_are_the_hand_computed_ones() {
    let s = Sandbox::offline();
    let (auto, stderr) = s.daily(&[], &[]);
    assert!(!stderr.contains("price"), "no pricing warning expected: {stderr}");
    assert_costs(&auto, DAILY_AUTO, "auto");
    assert!(close(auto["totals"]["cost_usd"].as_f64().unwrap(), TOTAL_AUTO));
    assert_eq!(auto["totals"]["unpriced_tokens"], 0);
    // Offline: no catalogue was fetched or cached.
    assert!(!s.root.join("xdg/cache/tokentop/pricing-catalogue.json").exists());

    let (calc, _) = s.daily(&["--no-ingest", "--cost-mode", "calculate"], &[]);
    assert_costs(&calc, DAILY_CALCULATE, "calculate");

    // Reported only: only OpenCode recorded costs, and every day also has requests of
    // other agents, so every row is null; the totals add what was reported (0.0393).
    let (reported, _) = s.daily(&["--no-ingest", "--cost-mode", "reported"], &[]);
    assert!(
        reported["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["cost_usd"].is_null())
    );
    assert!(close(reported["totals"]["cost_usd"].as_f64().unwrap(), 0.0393));
}

#[test]
fn breakdown_shows_the_components() {
    let s = Sandbox::offline();
    let (r, _) = s.daily(&["--breakdown"], &[]);
    // 11-03: input 9 + 18 + 12 + 12 + 8 = 59; output 3675 + 1440 + 7680 + 750 + 440 = 13985;
    // cache read 4200 + 4560 + 4651.8 + 0 + 409.6 = 13821.4;
    // 5m writes 4500 + 7680 + 5120 + 400 = 17700; 1h writes 1860.
    let b = &r["rows"][0]["cost_breakdown"];
    let want = [
        ("input", 0.000_059),
        ("output", 0.013_985),
        ("cache_read", 0.013_821_4),
        ("cache_write", 0.017_7),
        ("cache_write_1h", 0.001_86),
        ("reported", 0.0),
    ];
    for (k, v) in want {
        assert!(close(b[k].as_f64().unwrap(), v), "{k}: {b}");
    }
    // 11-05 holds OpenCode's reported 0.0306.
    assert!(close(
        r["rows"][2]["cost_breakdown"]["reported"].as_f64().unwrap(),
        0.0306
    ));
    // The table shows a component line under each row.
    let out = s
        .ttop(&["report", "daily", "--tz", "UTC", "--no-ingest", "--breakdown"], &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "    input $0.0001  output $0.0140  cache read $0.0138  cache write $0.0177  1h cache write $0.0019\n"
        ),
        "{text}"
    );
}

#[test]
fn unpriced_models_are_null_and_listed_and_long_context_is_billed_whole() {
    let s = Sandbox::offline();
    s.add_extra_session();
    let (r, stderr) = s.daily(&[], &[]);
    let last = &r["rows"][5];
    assert_eq!(last["key"], "2026-11-08");
    assert!(last["cost_usd"].is_null(), "{last}");
    // The unknown model's 150 tokens are unpriced; the long-context request
    // (5000 + 190000 + 10000 = 205000 > 200000) costs 5000x6 + 1000x22.5 + 190000x0.6 +
    // 10000x7.5 = 30000 + 22500 + 114000 + 75000 = 241500, so the total is
    // 317565.62 + 241500 = 559065.62.
    assert_eq!(r["totals"]["unpriced_tokens"], 150);
    assert!(close(r["totals"]["cost_usd"].as_f64().unwrap(), 0.559_065_62));
    assert!(
        stderr.contains(
            "warning: no price for 1 model (150 tokens, shown as cost '-' and left out of the totals): \
             'claude-nonexistent-7' (provider 'anthropic')"
        ),
        "{stderr}"
    );
    let table = s
        .ttop(&["report", "daily", "--tz", "UTC", "--no-ingest"], &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("150 tokens have no price"), "{text}");

    // An override prices it: 100x1 + 50x2 = 200; 11-08 = 241500 + 200 = 241700.
    std::fs::write(
        s.root.join("xdg/config/tokentop/config.toml"),
        "[pricing]\noffline = true\n[pricing.overrides.\"claude-nonexistent-7\"]\ninput = 1\noutput = 2\n",
    )
    .unwrap();
    let (r, stderr) = s.daily(&["--no-ingest"], &[]);
    assert!(
        close(r["rows"][5]["cost_usd"].as_f64().unwrap(), 0.2417),
        "{}",
        r["rows"][5]
    );
    assert_eq!(r["totals"]["unpriced_tokens"], 0);
    assert!(!stderr.contains("no price"), "{stderr}");
}

/// Serves `body` to every request until the test ends.
fn serve(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body.as_bytes());
        }
    });
    base
}

#[test]
fn the_live_catalogue_reprices_history_and_is_cached() {
    let s = Sandbox::new("");
    // The live catalogue says Gemini 2.5 Flash input costs 0.5 instead of 0.3:
    // 11-07 = 1596x0.5 + 294x2.5 + 17024x0.03 = 798 + 735 + 510.72 = 2043.72.
    let catalogue = std::fs::read_to_string(CATALOGUE)
        .unwrap()
        .replace("\"input\": 0.3,", "\"input\": 0.5,");
    let base = serve(catalogue);
    let env = [("TTOP_HTTP_REDIRECT", format!("models.dev={base}"))];
    let (r, stderr) = s.daily(&[], &env);
    assert!(!stderr.contains("catalogue"), "{stderr}");
    assert!(
        close(r["rows"][4]["cost_usd"].as_f64().unwrap(), 0.002_043_72),
        "{}",
        r["rows"][4]
    );
    // Models the live catalogue lacks (claude-opus-4-1) still come from the snapshot.
    assert!(close(r["rows"][2]["cost_usd"].as_f64().unwrap(), 0.1837));
    assert!(s.root.join("xdg/cache/tokentop/pricing-catalogue.json").is_file());

    // The cache is fresh: with the server gone the same prices apply, silently.
    let (again, stderr) = s.daily(&["--no-ingest"], &[]);
    assert_eq!(again, r);
    assert!(!stderr.contains("catalogue"), "{stderr}");

    let out = s
        .ttop(&["pricing", "resolve", "gemini-2.5-flash", "--provider", "google"], &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  entry:   google/gemini-2.5-flash\n"), "{text}");
    assert!(
        text.contains("  source:  https://models.dev/api.json (cached "),
        "{text}"
    );
    assert!(
        text.contains("    input $0.5  output $2.5  cache read $0.03\n"),
        "{text}"
    );
}

#[test]
fn pricing_resolve_explains_matches_and_misses() {
    let s = Sandbox::offline();
    let out = s
        .ttop(
            &[
                "pricing",
                "resolve",
                "Claude-Opus-4.1@20250805",
                "--provider",
                "github-copilot",
            ],
            &[],
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  entry:   anthropic/claude-opus-4-1\n"), "{text}");
    assert!(text.contains("  matched: after @ version, dotted version\n"), "{text}");
    assert!(
        text.contains("    input $15  output $75  cache read $1.5  cache write $18.75"),
        "{text}"
    );

    let out = s.ttop(&["pricing", "resolve", "gpt-4-mystery"], &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "no price for model 'gpt-4-mystery'; tried the ids 'gpt-4-mystery' in the providers 'anthropic', 'openai'"
        ),
        "{err}"
    );

    let out = s
        .ttop(&["pricing", "resolve", "gemini-2.5-pro", "--json"], &[])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resolved"]["provider"], "google");
    assert_eq!(v["resolved"]["context_over_200k"]["input"], 2.5);
}
