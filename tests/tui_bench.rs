//! Dashboard benchmarks, run by hand in release:
//!
//! ```text
//! cargo test --release --test tui_bench -- --ignored --nocapture
//! ```
//!
//! - `frame_time_with_a_million_records`: draw time of the dashboard (every view) at
//!   160×48 over a store of 1M records (target: under 5 ms a frame), plus the worker's
//!   load times for context.
//! - `first_frame_with_ten_thousand_session_files`: 10k session files already ingested;
//!   the time from opening the store to the first frame with the data drawn (target:
//!   under 150 ms).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ttop::config::{Config, TimeWindow};
use ttop::engine::ctx::Ctx;
use ttop::engine::record::{KeepRule, Tokens, UsageRecord};
use ttop::model::{self, PricerPrices, Prices, Query};
use ttop::store::{FileCommit, FileState, Store};
use ttop::theme::ThemeSet;
use ttop::tui::app::{App, Msg};
use ttop::tui::draw::draw;

const NOW: i64 = 1_796_308_200_000;

fn prices(ctx: &Ctx, cache: &std::path::Path) -> PricerPrices {
    let cfg = Config::default();
    let opts = ttop::pricing::source::LoadOptions {
        offline: true,
        ..ttop::pricing::source::LoadOptions::from_config(&cfg)
    };
    let loaded = ttop::pricing::source::load(ctx, cache, &cfg, &opts).unwrap();
    PricerPrices { pricer: loaded.pricer }
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    format!(
        "mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        mean,
        v[v.len() / 2],
        v[v.len() * 99 / 100],
        v[v.len() - 1]
    )
}

#[test]
#[ignore = "benchmark: run by hand in release"]
fn frame_time_with_a_million_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    let models = ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5-codex", "gemini-2.5-pro"];
    let agents = ["claude-code", "codex", "opencode", "gemini-cli"];
    let t = Instant::now();
    // 10k sessions of 100 requests over 90 days.
    for chunk in 0..100 {
        let mut batch: Vec<FileCommit> = Vec::new();
        for s in chunk * 100..(chunk + 1) * 100 {
            let agent = agents[s % 4];
            let start = NOW - (s as i64 * 7_777_777) % (90 * 86_400_000);
            let records = (0..100)
                .map(|r| UsageRecord {
                    agent: agent.into(),
                    dedup_key: format!("{s}-{r}"),
                    session_id: format!("session-{s:05}"),
                    ts_ms: start + r * 30_000,
                    provider: Some(if s % 4 == 1 { "openai" } else { "anthropic" }.into()),
                    model: Some(models[(s + r as usize / 50) % 4].into()),
                    project: Some(format!("/home/u/src/project-{}", s % 40)),
                    session_name: Some(format!("Session number {s}")),
                    tokens: Tokens {
                        input: 1000 + (r as u64 * 37) % 3000,
                        output: 300 + (r as u64 * 91) % 2000,
                        cache_read: 20_000,
                        cache_write: 500,
                        ..Tokens::default()
                    },
                    duration_ms: Some(5_000),
                    source_path: format!("/f/{s}"),
                    ..UsageRecord::default()
                })
                .collect();
            batch.push(FileCommit {
                agent: agent.into(),
                keep: KeepRule::Last,
                file: FileState {
                    path: format!("/f/{s}"),
                    ..FileState::default()
                },
                records,
            });
        }
        store.commit(&batch).unwrap();
    }
    assert_eq!(store.record_count().unwrap(), 1_000_000);
    eprintln!("built 1M records in {:?}", t.elapsed());
    let ctx = Ctx::fake(dir.path().to_path_buf(), Default::default());
    let prices = prices(&ctx, &dir.path().join("cache"));
    for window in [TimeWindow::H24, TimeWindow::D7, TimeWindow::All] {
        let q = Query {
            window,
            now_ms: NOW,
            tz: TimeZone::UTC,
        };
        let t = Instant::now();
        let data = model::load(&store, &q, &prices as &dyn Prices).unwrap();
        let load = t.elapsed();
        let t = Instant::now();
        let trends = model::load_trends(&store, NOW, &TimeZone::UTC, &prices).unwrap();
        let trends_load = t.elapsed();
        let mut cfg = Config::default();
        cfg.display.default_window = window;
        cfg.budgets.daily = Some(100.0);
        let mut app = App::new(
            cfg,
            None,
            Arc::new(ThemeSet::builtin()),
            false,
            None,
            NOW,
            TimeZone::UTC,
        );
        let t = Instant::now();
        app.update(Msg::Data(Arc::new(data)));
        app.update(Msg::Trends(Arc::new(trends)));
        let apply = t.elapsed();
        let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
        for (view, key) in [
            ("dashboard", '1'),
            ("providers", '2'),
            ("trends", '3'),
            ("projects", '4'),
        ] {
            app.update(Msg::Key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE)));
            let mut times = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                term.draw(|f| draw(f, &app)).unwrap();
                times.push(t.elapsed());
            }
            eprintln!(
                "window {window} ({} sessions): load {load:?}, trends load {trends_load:?}, apply {apply:?}; \
                 {view} frame at 160x48: {}",
                app.data.sessions.len(),
                stats(times)
            );
        }
    }
}

/// One Claude Code assistant line.
fn claude_line(session: &str, n: usize, ts: &str) -> String {
    format!(
        r#"{{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/home/u/p{p}","sessionId":"{session}","version":"2.0.42","gitBranch":"main","message":{{"model":"claude-sonnet-4-5-20250929","id":"msg_{session}_{n}","type":"message","role":"assistant","content":[],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":9000,"output_tokens":250,"service_tier":"standard"}}}},"requestId":"req_{session}_{n}","type":"assistant","uuid":"u-{session}-{n}","timestamp":"{ts}"}}"#,
        p = n % 7
    )
}

#[test]
#[ignore = "benchmark: run by hand in release"]
fn first_frame_with_ten_thousand_session_files() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let projects = home.join(".claude/projects");
    let t = Instant::now();
    for s in 0..10_000 {
        let d = projects.join(format!("-home-u-p{}", s % 50));
        std::fs::create_dir_all(&d).unwrap();
        let id = format!("{s:08x}-0000-4000-8000-000000000000");
        let mut f = std::fs::File::create(d.join(format!("{id}.jsonl"))).unwrap();
        for n in 0..5 {
            let ts = format!("2026-12-0{}T1{}:0{}:00.000Z", 1 + s % 3, n, s % 10);
            writeln!(f, "{}", claude_line(&id, n, &ts)).unwrap();
        }
    }
    eprintln!("wrote 10k session files in {:?}", t.elapsed());
    let ctx = Ctx::fake(home.clone(), Default::default()).with_now_ms(NOW);
    let db = dir.path().join("ttop.db");
    {
        let mut store = Store::open(&db).unwrap();
        let agents = ttop::bench::builtin_agents(&home, &["claude-code".to_owned()]).unwrap();
        let t = Instant::now();
        let rep = ttop::engine::agent::ingest(&mut store, &agents, &ctx, &mut |_| {});
        eprintln!(
            "ingested {} files, {} records in {:?}",
            rep.files_read,
            rep.records,
            t.elapsed()
        );
        assert_eq!(rep.records, 50_000);
    }
    let cache = dir.path().join("cache");
    for window in [TimeWindow::H24, TimeWindow::All] {
        let mut times = Vec::new();
        for _ in 0..10 {
            // What `ttop` does before its first frame with data: open the store, load the
            // window (priced), apply it, draw.
            let t = Instant::now();
            let store = Store::open(&db).unwrap();
            let q = Query {
                window,
                now_ms: NOW,
                tz: TimeZone::UTC,
            };
            let data = model::load(&store, &q, &model::NoPrices).unwrap();
            let mut cfg = Config::default();
            cfg.display.default_window = window;
            let mut app = App::new(
                cfg,
                None,
                Arc::new(ThemeSet::builtin()),
                false,
                None,
                NOW,
                TimeZone::UTC,
            );
            app.update(Msg::Data(Arc::new(data)));
            let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
            term.draw(|f| draw(f, &app)).unwrap();
            times.push(t.elapsed());
        }
        eprintln!("window {window}: first frame with data (unpriced): {}", stats(times));
        let t = Instant::now();
        let p = prices(&ctx, &cache);
        let store = Store::open(&db).unwrap();
        let q = Query {
            window,
            now_ms: NOW,
            tz: TimeZone::UTC,
        };
        let data = model::load(&store, &q, &p).unwrap();
        eprintln!(
            "window {window}: prices loaded and {} sessions priced in {:?}",
            data.sessions.len(),
            t.elapsed()
        );
    }
}
