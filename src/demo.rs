//! Demo data: a deterministic generator of agent sessions, 90 days of history and provider
//! limits, for `ttop demo` and the dashboard's tests. It touches no user data: the records
//! go to an in-memory store.
//!
//! Everything is a pure function of the seed, the preset and the clock, so the same seed
//! at the same instant always gives the same screen. Demo data may name real agents,
//! providers and models (it is data, not engine logic).

use std::collections::BTreeMap;

use crate::engine::record::{KeepRule, Tokens, UsageRecord};
use crate::model::{Limit, ProviderStatus};
use crate::store::{FileCommit, FileState, Store, StoreError};

/// The default seed, so a plain `ttop demo` is the same every time.
pub const DEFAULT_SEED: u64 = 1337;

/// How busy the demo is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Preset {
    Light,
    #[default]
    Normal,
    Heavy,
}

impl Preset {
    /// Live sessions, activity multiplier, extra providers.
    fn shape(self) -> (usize, f64, usize) {
        match self {
            Preset::Light => (2, 0.5, 1),
            Preset::Normal => (4, 1.0, 3),
            Preset::Heavy => (6, 2.0, 6),
        }
    }
}

/// SplitMix64: small, fast and good enough for demo numbers.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a.wrapping_mul(31).wrapping_add(b)).next()
}

/// An agent, the provider and models it uses.
struct Profile {
    agent: &'static str,
    provider: &'static str,
    models: &'static [&'static str],
}

const PROFILES: &[Profile] = &[
    Profile {
        agent: "claude-code",
        provider: "anthropic",
        models: &["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"],
    },
    Profile {
        agent: "codex",
        provider: "openai",
        models: &["gpt-5-codex", "gpt-5.1-codex"],
    },
    Profile {
        agent: "opencode",
        provider: "anthropic",
        models: &["claude-sonnet-4-5"],
    },
    Profile {
        agent: "opencode",
        provider: "openai",
        models: &["gpt-5.1"],
    },
    Profile {
        agent: "gemini-cli",
        provider: "google",
        models: &["gemini-2.5-pro", "gemini-2.5-flash"],
    },
];

const PROJECTS: &[&str] = &[
    "/home/demo/src/webapp",
    "/home/demo/src/api-server",
    "/home/demo/src/infra",
    "/home/demo/src/docs-site",
    "/home/demo/src/ml-pipeline",
];

const NAMES: &[&str] = &[
    "Refactor auth middleware",
    "Fix flaky integration tests",
    "Add CSV export",
    "Migrate to Postgres 17",
    "Speed up cold start",
    "Write release notes",
    "Investigate memory leak",
    "Dark mode for settings",
];

/// Demo prices in USD per million tokens: input, output, cache read, cache write.
fn price(model: &str) -> [f64; 4] {
    match model {
        "claude-opus-4-1" => [15.0, 75.0, 1.5, 18.75],
        "claude-sonnet-4-5" => [3.0, 15.0, 0.3, 3.75],
        "claude-haiku-4-5" => [1.0, 5.0, 0.1, 1.25],
        "gemini-2.5-pro" => [1.25, 10.0, 0.31, 0.0],
        "gemini-2.5-flash" => [0.3, 2.5, 0.075, 0.0],
        _ => [1.25, 10.0, 0.125, 0.0],
    }
}

/// One generated session.
struct Plan {
    id: String,
    profile: usize,
    model: &'static str,
    project: &'static str,
    name: &'static str,
}

fn request(plan: &Plan, n: u64, ts_ms: i64, rng: &mut Rng, scale: f64) -> UsageRecord {
    let profile = &PROFILES[plan.profile];
    let s = |lo: u64, hi: u64, rng: &mut Rng| (rng.range(lo, hi) as f64 * scale) as u64;
    let tokens = Tokens {
        input: s(200, 4_000, rng),
        output: s(150, 2_500, rng),
        cache_read: s(4_000, 60_000, rng),
        cache_write: if rng.unit() < 0.3 { s(200, 5_000, rng) } else { 0 },
        cache_write_1h: 0,
        reasoning: 0,
    };
    let p = price(plan.model);
    let cost = (tokens.input as f64 * p[0]
        + tokens.output as f64 * p[1]
        + tokens.cache_read as f64 * p[2]
        + tokens.cache_write as f64 * p[3])
        / 1e6;
    UsageRecord {
        agent: profile.agent.to_owned(),
        dedup_key: format!("{}-{n}", plan.id),
        session_id: plan.id.clone(),
        ts_ms,
        provider: Some(profile.provider.to_owned()),
        model: Some(plan.model.to_owned()),
        project: Some(plan.project.to_owned()),
        session_name: Some(plan.name.to_owned()),
        tokens,
        cost_reported: Some((cost * 1e6).round() / 1e6),
        duration_ms: Some(rng.range(2_000, 40_000)),
        speed: None,
        source_path: "demo".to_owned(),
    }
}

fn plan(rng: &mut Rng, id: String) -> Plan {
    let profile = (rng.next() % PROFILES.len() as u64) as usize;
    Plan {
        id,
        profile,
        model: rng.pick(PROFILES[profile].models),
        project: rng.pick(PROJECTS),
        name: rng.pick(NAMES),
    }
}

/// The live sessions: they keep producing requests while the demo runs.
fn live_plans(seed: u64, preset: Preset) -> Vec<Plan> {
    let (live, _, _) = preset.shape();
    let mut rng = Rng::new(seed ^ 0x11ce);
    (0..live)
        .map(|i| {
            let mut p = plan(&mut rng, format!("live-{seed:x}-{i}"));
            // Spread the live sessions over every agent profile.
            p.profile = i % PROFILES.len();
            p.model = PROFILES[p.profile].models[0];
            p.project = PROJECTS[i % PROJECTS.len()];
            p
        })
        .collect()
}

/// Seconds between requests of a live session.
fn live_period(preset: Preset, i: usize) -> i64 {
    let (_, mult, _) = preset.shape();
    ((20.0 + 7.0 * i as f64) / mult).round().max(4.0) as i64
}

/// The records of the live sessions in `(from_ms, to_ms]`, one per period per session,
/// at whole seconds. A pure function of the seed and the instants.
pub fn live_records(seed: u64, preset: Preset, from_ms: i64, to_ms: i64) -> Vec<UsageRecord> {
    let mut out = Vec::new();
    let (_, mult, _) = preset.shape();
    for (i, p) in live_plans(seed, preset).iter().enumerate() {
        let period = live_period(preset, i) * 1000;
        let offset = (mix(seed, i as u64) % 1000) as i64 * period / 1000;
        let mut k = (from_ms - offset).div_euclid(period) + 1;
        loop {
            let ts = k * period + offset;
            if ts > to_ms {
                break;
            }
            if ts > from_ms {
                let mut rng = Rng::new(mix(seed ^ i as u64, ts as u64));
                out.push(request(p, ts as u64, ts, &mut rng, mult.sqrt()));
            }
            k += 1;
        }
    }
    out.sort_by_key(|r| r.ts_ms);
    out
}

/// Every demo record up to `now_ms`: 90 days of history, five idle sessions today and the
/// last 45 minutes of the live sessions.
pub fn records(seed: u64, preset: Preset, now_ms: i64) -> Vec<UsageRecord> {
    let (_, mult, _) = preset.shape();
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    const DAY: i64 = 86_400_000;
    let today_start = now_ms - now_ms.rem_euclid(DAY);
    for back in (1..=90i64).rev() {
        let day_start = today_start - back * DAY;
        let weekday = (day_start / DAY + 4).rem_euclid(7); // 0 = Sunday.
        let weekend = weekday == 0 || weekday == 6;
        let mut sessions = ((3.0 + rng.unit() * 5.0) * mult).round() as u64;
        if weekend {
            sessions = sessions.div_ceil(3);
        }
        if rng.unit() < 0.1 {
            sessions *= 2;
        }
        for s in 0..sessions {
            let p = plan(&mut rng, format!("h{seed:x}-{back}-{s}"));
            let requests = rng.range(4, 30);
            let mut ts = day_start + rng.range(7 * 3_600, 20 * 3_600) as i64 * 1000;
            for n in 0..requests {
                out.push(request(&p, n, ts, &mut rng, 1.0));
                ts += rng.range(15, 240) as i64 * 1000;
            }
        }
    }
    // Sessions earlier today that have gone idle.
    for s in 0..5u64 {
        let p = plan(&mut rng, format!("idle-{seed:x}-{s}"));
        let mut ts = now_ms - (1 + 2 * s as i64) * 3_600_000 - rng.range(0, 3_600) as i64 * 1000;
        for n in 0..rng.range(6, 18) {
            out.push(request(&p, n, ts, &mut rng, 1.0));
            ts += rng.range(20, 180) as i64 * 1000;
        }
    }
    out.extend(live_records(seed, preset, now_ms - 45 * 60_000, now_ms));
    out
}

/// Writes records into a store, one commit per agent.
pub fn commit(store: &mut Store, records: Vec<UsageRecord>) -> Result<(), StoreError> {
    let mut by_agent: BTreeMap<String, Vec<UsageRecord>> = BTreeMap::new();
    for r in records {
        by_agent.entry(r.agent.clone()).or_default().push(r);
    }
    let batch: Vec<FileCommit> = by_agent
        .into_iter()
        .map(|(agent, records)| FileCommit {
            file: FileState {
                path: format!("demo://{agent}"),
                ..FileState::default()
            },
            agent,
            keep: KeepRule::Last,
            records,
        })
        .collect();
    store.commit(&batch)?;
    Ok(())
}

/// An in-memory store holding the demo records up to `now_ms`.
pub fn store(seed: u64, preset: Preset, now_ms: i64) -> Result<Store, StoreError> {
    let mut store = Store::open_in_memory()?;
    commit(&mut store, records(seed, preset, now_ms))?;
    Ok(store)
}

/// A demo provider: id, name, plan and its limits (label, reset, window length in ms).
type ProviderSpec = (&'static str, &'static str, &'static str, Vec<(&'static str, i64, i64)>);

/// The demo providers at `now_ms`: limits drift slowly with the clock.
pub fn providers(seed: u64, preset: Preset, now_ms: i64) -> Vec<ProviderStatus> {
    let (_, mult, extra) = preset.shape();
    let mut rng = Rng::new(seed ^ 0x9a0d);
    const HOUR: i64 = 3_600_000;
    let five_h_reset = now_ms - now_ms.rem_euclid(5 * HOUR) + 5 * HOUR;
    let week_reset = now_ms - now_ms.rem_euclid(7 * 24 * HOUR) + 7 * 24 * HOUR;
    let month_reset = now_ms - now_ms.rem_euclid(30 * 24 * HOUR) + 30 * 24 * HOUR;
    let progress = |reset: i64, len: i64| 1.0 - (reset - now_ms) as f64 / len as f64;
    let pct =
        |base: f64, frac: f64, rng: &mut Rng| ((base + frac * 60.0) * mult.sqrt() + rng.unit() * 8.0).clamp(1.0, 100.0);
    let mut out = Vec::new();
    let specs: [ProviderSpec; 3] = [
        (
            "anthropic",
            "Anthropic",
            "Max 5x",
            vec![
                ("5h window", five_h_reset, 5 * HOUR),
                ("Weekly", week_reset, 168 * HOUR),
            ],
        ),
        (
            "openai",
            "OpenAI",
            "Pro",
            vec![
                ("5h window", five_h_reset, 5 * HOUR),
                ("Weekly", week_reset, 168 * HOUR),
            ],
        ),
        (
            "google",
            "Gemini",
            "Code Assist",
            vec![(
                "Daily requests",
                now_ms - now_ms.rem_euclid(24 * HOUR) + 24 * HOUR,
                24 * HOUR,
            )],
        ),
    ];
    for (id, name, plan, limits) in specs {
        let limits: Vec<Limit> = limits
            .into_iter()
            .map(|(label, reset, len)| {
                let used = pct(10.0, progress(reset, len), &mut rng);
                Limit {
                    label: label.to_owned(),
                    used_percent: Some((used * 10.0).round() / 10.0),
                    resets_ms: Some(reset),
                    window_minutes: Some((len / 60_000) as u64),
                    reached: used >= 100.0,
                }
            })
            .collect();
        out.push(status(id, name, Some(plan), limits, now_ms, &mut rng));
    }
    let extras = [
        ("github-copilot", "GitHub Copilot", "Pro+", "Premium requests"),
        ("perplexity", "Perplexity", "API", "Monthly credits"),
        ("openrouter", "OpenRouter", "Credits", "Monthly spend"),
        ("mistral", "Mistral", "Scale", "Monthly tokens"),
        ("groq", "Groq", "Dev tier", "Daily tokens"),
        ("together", "Together", "Build", "Monthly tokens"),
    ];
    for (i, (id, name, plan, label)) in extras.iter().take(extra).enumerate() {
        let used = pct(5.0 + 12.0 * i as f64, progress(month_reset, 30 * 24 * HOUR), &mut rng);
        let mut p = status(
            id,
            name,
            Some(plan),
            vec![Limit {
                label: (*label).to_owned(),
                used_percent: Some((used * 10.0).round() / 10.0),
                resets_ms: Some(month_reset),
                window_minutes: None,
                reached: used >= 100.0,
            }],
            now_ms,
            &mut rng,
        );
        if *id == "perplexity" {
            p.error = Some("HTTP 401 from 'api.perplexity.ai': the API key was rejected".to_owned());
            p.limits.clear();
        }
        if *id == "openrouter" {
            p.credits = Some(42.5);
        }
        out.push(p);
    }
    out
}

fn status(id: &str, name: &str, plan: Option<&str>, limits: Vec<Limit>, now_ms: i64, rng: &mut Rng) -> ProviderStatus {
    let top = limits.iter().filter_map(|l| l.used_percent).fold(0.0, f64::max);
    let mut history = Vec::with_capacity(30);
    let mut v = (top - 10.0).max(0.0);
    for _ in 0..30 {
        v = (v + rng.unit() * 0.8).min(top);
        history.push(v);
    }
    if let Some(last) = history.last_mut() {
        *last = top;
    }
    ProviderStatus {
        id: id.to_owned(),
        name: name.to_owned(),
        plan: plan.map(str::to_owned),
        limits,
        error: None,
        polled_ms: Some(now_ms - now_ms.rem_euclid(5_000)),
        history,
        credits: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000_000;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        assert_eq!(records(7, Preset::Normal, NOW), records(7, Preset::Normal, NOW));
        assert_ne!(records(7, Preset::Normal, NOW), records(8, Preset::Normal, NOW));
        assert_eq!(providers(7, Preset::Heavy, NOW), providers(7, Preset::Heavy, NOW));
    }

    #[test]
    fn presets_scale_and_nothing_is_in_the_future() {
        let light = records(1, Preset::Light, NOW);
        let heavy = records(1, Preset::Heavy, NOW);
        assert!(heavy.len() > light.len());
        assert!(heavy.iter().all(|r| r.ts_ms <= NOW));
        assert_eq!(providers(1, Preset::Light, NOW).len(), 4);
        assert_eq!(providers(1, Preset::Heavy, NOW).len(), 9);
    }

    #[test]
    fn live_records_tile_time_without_gaps_or_overlaps() {
        let whole = live_records(3, Preset::Normal, NOW - 600_000, NOW);
        let mut parts = live_records(3, Preset::Normal, NOW - 600_000, NOW - 250_000);
        parts.extend(live_records(3, Preset::Normal, NOW - 250_000, NOW));
        parts.sort_by_key(|r| r.ts_ms);
        assert_eq!(whole.len(), parts.len());
        assert!(!whole.is_empty());
        let store = store(3, Preset::Normal, NOW).unwrap();
        assert!(store.record_count().unwrap() > 1000);
    }
}
