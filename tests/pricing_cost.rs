//! Golden costs, component by component, computed by hand from the prices of
//! `tests/fixtures/pricing/catalogue.json` (USD per million tokens). Records go through
//! the real store (so the long-context and speed split of the report query is tested
//! too) and then through pricing.
//!
//! | model | input | output | cache read | cache write | over 200k |
//! | --- | --- | --- | --- | --- | --- |
//! | claude-sonnet-4-5 | 3 | 15 | 0.3 | 3.75 (1h: 2 x input = 6) | 6 / 22.5 / 0.6 / 7.5 (1h: 12) |
//! | claude-opus-4-6 | 5 | 25 | 0.5 | 6.25 | fast tier: x6 |
//! | gpt-5-codex | 1.25 | 10 | 0.125 | - | |
//! | gpt-5.1 | 1.25 | 10 | 0.125 | - | priority tier: 2.5 / 20 / 0.25 |
//! | gemini-2.5-pro | 1.25 | 10 | 0.125 | - | 2.5 / 15 / 0.25 |
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use ttop::config::PriceOverride;
use ttop::engine::record::{KeepRule, Tokens, UsageRecord};
use ttop::pricing::catalogue::Catalogue;
use ttop::pricing::resolve::{Layer, Pricer};
use ttop::pricing::rules::Rules;
use ttop::pricing::{CostMode, price_report};
use ttop::store::{CostBreakdown, FileCommit, Group, Report, ReportQuery, Store};

const CATALOGUE: &str = include_str!("fixtures/pricing/catalogue.json");

fn pricer_with(overrides: &[(&str, PriceOverride)]) -> Pricer {
    let rules = Rules::builtin().unwrap();
    let catalogue = Catalogue::parse(CATALOGUE, &rules).unwrap();
    let layer = Layer::new("fixture", catalogue, &rules);
    let o: BTreeMap<String, PriceOverride> = overrides.iter().map(|(k, v)| ((*k).into(), v.clone())).collect();
    Pricer::new(rules, vec![layer], &o)
}

fn pricer() -> Pricer {
    pricer_with(&[])
}

/// A record on its own day (`day` 1..28 of 2026-11), so each is its own report row.
fn rec(day: i64, provider: &str, model: &str, t: [u64; 5], speed: Option<&str>, cost: Option<f64>) -> UsageRecord {
    let [input, output, cache_read, cache_write, cache_write_1h] = t;
    UsageRecord {
        agent: "a".into(),
        dedup_key: format!("r{day}-{model}"),
        session_id: "s".into(),
        // 2026-11-01T12:00:00Z plus whole days.
        ts_ms: 1_793_534_400_000 + (day - 1) * 86_400_000,
        provider: Some(provider.into()),
        model: Some(model.into()),
        project: None,
        session_name: None,
        tokens: Tokens {
            input,
            output,
            cache_read,
            cache_write,
            cache_write_1h,
            reasoning: 0,
        },
        cost_reported: cost,
        duration_ms: None,
        speed: speed.map(str::to_owned),
        source_path: "/x".into(),
    }
}

fn report(records: Vec<UsageRecord>, pricer: &Pricer, mode: CostMode) -> (Report, Vec<String>) {
    let mut store = Store::open_in_memory().unwrap();
    store
        .commit(&[FileCommit {
            agent: "a".into(),
            keep: KeepRule::Last,
            file: Default::default(),
            records,
        }])
        .unwrap();
    let mut rep = store.report(&ReportQuery::new(Group::Daily, TimeZone::UTC)).unwrap();
    let summary = price_report(&mut rep, pricer, mode);
    (rep, summary.warnings())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// `[input, output, cache_read, cache_write, cache_write_1h, reported]` in USD.
fn assert_breakdown(got: &CostBreakdown, want: [f64; 6], total: f64, what: &str, cost: Option<f64>) {
    let have = [
        got.input,
        got.output,
        got.cache_read,
        got.cache_write,
        got.cache_write_1h,
        got.reported,
    ];
    assert!(
        have.iter().zip(want).all(|(a, b)| close(*a, b)),
        "{what}: components {have:?}, expected {want:?}"
    );
    let cost = cost.unwrap_or_else(|| panic!("{what}: no cost"));
    assert!(close(cost, total), "{what}: cost {cost}, expected {total}");
}

fn one(records: Vec<UsageRecord>, pricer: &Pricer, mode: CostMode) -> (CostBreakdown, Option<f64>) {
    let (rep, warnings) = report(records, pricer, mode);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(rep.rows.len(), 1);
    (rep.rows[0].cost_breakdown.unwrap(), rep.rows[0].cost_usd)
}

#[test]
fn claude_without_long_context_with_5m_and_1h_cache_writes() {
    // in 1,000 x 3 = 0.003; out 500 x 15 = 0.0075; cache read 3,000 x 0.3 = 0.0009;
    // 5m writes (2,000 - 400) x 3.75 = 0.006; 1h writes 400 x 6 = 0.0024; total 0.0198.
    let r = rec(
        1,
        "anthropic",
        "claude-sonnet-4-5-20250929",
        [1000, 500, 3000, 2000, 400],
        None,
        None,
    );
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(
        &b,
        [0.003, 0.0075, 0.0009, 0.006, 0.0024, 0.0],
        0.0198,
        "claude short",
        cost,
    );
}

#[test]
fn claude_long_context_charges_every_token_at_the_long_rates() {
    // Prompt 10,000 + 180,000 + 20,000 = 210,000 > 200,000: every token at the long rates.
    // in 10,000 x 6 = 0.06; out 2,000 x 22.5 = 0.045; cache read 180,000 x 0.6 = 0.108;
    // 5m writes 15,000 x 7.5 = 0.1125; 1h writes 5,000 x 12 = 0.06; total 0.3855.
    // (Splitting each count at 200k, as ccusage does, would charge all of this at the
    // base rates: 0.03 + 0.03 + 0.054 + 0.05625 + 0.03 = 0.20025.)
    let r = rec(
        1,
        "anthropic",
        "claude-sonnet-4-5",
        [10_000, 2_000, 180_000, 20_000, 5_000],
        None,
        None,
    );
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.06, 0.045, 0.108, 0.1125, 0.06, 0.0], 0.3855, "claude long", cost);
}

#[test]
fn claude_at_exactly_200k_is_not_long_context() {
    // 150,000 + 50,000 + 0 = 200,000 is not above 200,000: base rates.
    // in 150,000 x 3 = 0.45; out 1,000 x 15 = 0.015; cache read 50,000 x 0.3 = 0.015.
    let r = rec(
        1,
        "anthropic",
        "claude-sonnet-4-5",
        [150_000, 1_000, 50_000, 0, 0],
        None,
        None,
    );
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.45, 0.015, 0.015, 0.0, 0.0, 0.0], 0.48, "claude at 200k", cost);
}

#[test]
fn long_and_short_requests_of_one_day_are_priced_apart() {
    // The short one: 0.0198 (as above); the long one: 0.3855. One row: 0.4053.
    let short = rec(
        1,
        "anthropic",
        "claude-sonnet-4-5",
        [1000, 500, 3000, 2000, 400],
        None,
        None,
    );
    let mut long = rec(
        1,
        "anthropic",
        "claude-sonnet-4-5",
        [10_000, 2_000, 180_000, 20_000, 5_000],
        None,
        None,
    );
    long.dedup_key = "long".into();
    let (b, cost) = one(vec![short, long], &pricer(), CostMode::Auto);
    assert_breakdown(
        &b,
        [0.063, 0.0525, 0.1089, 0.1185, 0.0624, 0.0],
        0.4053,
        "mixed day",
        cost,
    );
}

#[test]
fn claude_fast_mode_uses_the_fast_tier() {
    // Fast tier = 6 x standard: in 100 x 30 = 0.003; out 1,000 x 150 = 0.15;
    // cache read 2,000 x 3 = 0.006; total 0.159.
    let r = rec(
        1,
        "anthropic",
        "claude-opus-4-6",
        [100, 1000, 2000, 0, 0],
        Some("fast"),
        None,
    );
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.003, 0.15, 0.006, 0.0, 0.0, 0.0], 0.159, "claude fast", cost);
}

#[test]
fn codex_cached_input_is_priced_at_the_cache_rate() {
    // Codex reports input 12,000 of which 8,064 cached; stored as input 3,936 and cache
    // read 8,064 (the agent definition subtracts). Output 600 includes 256 reasoning.
    // in 3,936 x 1.25 = 0.00492; cache read 8,064 x 0.125 = 0.001008; out 600 x 10 = 0.006.
    let mut r = rec(1, "openai", "gpt-5-codex", [3936, 600, 8064, 0, 0], None, None);
    r.tokens.reasoning = 256;
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.00492, 0.006, 0.001008, 0.0, 0.0, 0.0], 0.011928, "codex", cost);
}

#[test]
fn openai_priority_tier() {
    // Priority: in 1,000 x 2.5 = 0.0025; out 100 x 20 = 0.002; cache read 1,000 x 0.25 = 0.00025.
    let r = rec(1, "openai", "gpt-5.1", [1000, 100, 1000, 0, 0], Some("priority"), None);
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.0025, 0.002, 0.00025, 0.0, 0.0, 0.0], 0.00475, "priority", cost);
}

#[test]
fn gemini_thoughts_and_tool_tokens() {
    // A Gemini CLI message {input 16400, cached 14000, tool 350, output 150, thoughts 96}
    // is stored (definitions/agents/gemini-cli.yaml) as input 16400 - 14000 + 350 = 2750,
    // cache read 14000, output 150 + 96 = 246: tool-use prompt billed as input, thoughts
    // as output. in 2,750 x 1.25 = 0.0034375; out 246 x 10 = 0.00246;
    // cache read 14,000 x 0.125 = 0.00175; total 0.0076475.
    let mut r = rec(1, "google", "gemini-2.5-pro", [2750, 246, 14000, 0, 0], None, None);
    r.tokens.reasoning = 96;
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(
        &b,
        [0.0034375, 0.00246, 0.00175, 0.0, 0.0, 0.0],
        0.0076475,
        "gemini",
        cost,
    );
}

#[test]
fn gemini_long_prompt_uses_the_long_rates_and_fills_cache_write() {
    // 250,000 input > 200k: in 250,000 x 2.5 = 0.625; out 1,000 x 15 = 0.015.
    let r = rec(1, "google", "gemini-2.5-pro", [250_000, 1_000, 0, 0, 0], None, None);
    let (b, cost) = one(vec![r], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.625, 0.015, 0.0, 0.0, 0.0, 0.0], 0.64, "gemini long", cost);
}

#[test]
fn reported_costs_and_cost_modes() {
    // 1,000 input of haiku = 0.001 computed; the agent reported 0.5.
    let r = || rec(1, "anthropic", "claude-haiku-4-5", [1000, 0, 0, 0, 0], None, Some(0.5));
    let (b, cost) = one(vec![r()], &pricer(), CostMode::Auto);
    assert_breakdown(&b, [0.0, 0.0, 0.0, 0.0, 0.0, 0.5], 0.5, "auto", cost);
    let (b, cost) = one(vec![r()], &pricer(), CostMode::Calculate);
    assert_breakdown(&b, [0.001, 0.0, 0.0, 0.0, 0.0, 0.0], 0.001, "calculate", cost);
    // Reported mode: a record without a reported cost has no cost.
    let plain = rec(1, "anthropic", "claude-haiku-4-5", [1000, 0, 0, 0, 0], None, None);
    let (rep, warnings) = report(vec![plain], &pricer(), CostMode::Reported);
    assert_eq!(rep.rows[0].cost_usd, None);
    assert_eq!(rep.totals.unpriced_tokens, 1000);
    assert_eq!(
        warnings,
        vec![
            "no reported cost for 1 model (1000 tokens, shown as cost '-' and left out of the totals): \
             'claude-haiku-4-5' (provider 'anthropic'); '--cost-mode auto' prices them"
        ]
    );
}

#[test]
fn unpriced_models_are_null_never_zero() {
    let known = rec(1, "anthropic", "claude-haiku-4-5", [1000, 0, 0, 0, 0], None, None);
    let mut unknown = rec(1, "acme", "acme-brain-9", [700, 300, 0, 0, 0], None, None);
    unknown.dedup_key = "u".into();
    let alone = rec(2, "acme", "acme-brain-9", [10, 0, 0, 0, 0], None, None);
    let (rep, warnings) = report(vec![known, unknown, alone], &pricer(), CostMode::Auto);
    assert_eq!(rep.rows[0].cost_usd, None, "a row with an unpriced model has no cost");
    assert_eq!(rep.rows[0].unpriced_tokens, 1000);
    assert_eq!(rep.rows[1].cost_usd, None);
    // The totals add what is priced (0.001) and count what is not.
    assert!(close(rep.totals.cost_usd.unwrap(), 0.001));
    assert_eq!(rep.totals.unpriced_tokens, 1010);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("no price for 1 model (1010 tokens, shown as cost '-' and left out of the totals): 'acme-brain-9' (provider 'acme')"),
        "{}",
        warnings[0]
    );
}

#[test]
fn overrides_price_unknown_models_and_replace_catalogue_prices() {
    let o = |input: f64| PriceOverride {
        input,
        output: 0.0,
        cache_read: None,
        cache_write: None,
        cache_write_1h: None,
    };
    let p = pricer_with(&[("acme/acme-brain-9", o(2.0)), ("claude-haiku-4-5", o(10.0))]);
    let unknown = rec(1, "acme", "acme-brain-9", [1000, 0, 0, 0, 0], None, None);
    let haiku = rec(
        2,
        "anthropic",
        "claude-haiku-4-5-20251001",
        [1000, 0, 1000, 0, 0],
        None,
        None,
    );
    let (rep, warnings) = report(vec![unknown, haiku], &p, CostMode::Auto);
    assert!(warnings.is_empty());
    assert!(close(rep.rows[0].cost_usd.unwrap(), 0.002));
    // Input at the override's 10; cache read keeps the catalogue's 0.1: 0.01 + 0.0001.
    assert!(close(rep.rows[1].cost_usd.unwrap(), 0.0101));
}

#[test]
fn an_unknown_speed_is_priced_at_standard_rates_with_a_warning() {
    let r = rec(
        1,
        "anthropic",
        "claude-haiku-4-5",
        [1000, 0, 0, 0, 0],
        Some("warp"),
        None,
    );
    let (rep, warnings) = report(vec![r], &pricer(), CostMode::Auto);
    assert!(close(rep.rows[0].cost_usd.unwrap(), 0.001));
    assert_eq!(
        warnings,
        vec!["speed 'warp' is not in the pricing rules; those requests are priced at the standard rates"]
    );
    let r = rec(
        1,
        "anthropic",
        "claude-haiku-4-5",
        [1000, 0, 0, 0, 0],
        Some("fast"),
        None,
    );
    let (_, warnings) = report(vec![r], &pricer(), CostMode::Auto);
    assert_eq!(
        warnings,
        vec!["model 'claude-haiku-4-5' has no 'fast' tier price; its 'fast' requests are priced at the standard rates"]
    );
}

/// Run by hand: `cargo test --release --test pricing_cost -- --ignored --nocapture`.
/// Loads the rules and the embedded snapshot, then prices a year of daily rows.
#[test]
#[ignore]
fn bench_load_and_price() {
    let start = std::time::Instant::now();
    let rules = Rules::builtin().unwrap();
    let layer = ttop::pricing::source::snapshot_layer(&rules).unwrap();
    let loaded = start.elapsed();
    let pricer = Pricer::new(rules, vec![layer], &BTreeMap::new());
    let models = [
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
        "gpt-5-codex",
        "gemini-2.5-pro",
    ];
    let mut records = Vec::new();
    for day in 0..365 {
        for (i, m) in models.iter().enumerate() {
            let mut r = rec(1, "anthropic", m, [1000, 500, 30_000, 2000, 100], None, None);
            r.ts_ms += day * 86_400_000;
            r.dedup_key = format!("{day}-{i}");
            records.push(r);
        }
    }
    let mut store = Store::open_in_memory().unwrap();
    store
        .commit(&[FileCommit {
            agent: "a".into(),
            keep: KeepRule::Last,
            file: Default::default(),
            records,
        }])
        .unwrap();
    let rep = store.report(&ReportQuery::new(Group::Daily, TimeZone::UTC)).unwrap();
    let start = std::time::Instant::now();
    let rounds = 100;
    for _ in 0..rounds {
        let mut r = rep.clone();
        price_report(&mut r, &pricer, CostMode::Auto);
    }
    println!(
        "rules + snapshot: {loaded:?}; pricing {} rows x {} parts: {:?} per report",
        rep.rows.len(),
        models.len(),
        start.elapsed() / rounds
    );
}
