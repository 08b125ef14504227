//! The aggregates the dashboard shows: sessions inside a time window, totals, burn rate,
//! recent activity, budgets, efficiency, top drivers, projects and daily trends.
//!
//! Loading ([`load`], [`load_trends`], [`load_session`]) reads the store through the
//! queries in `store::dashboard` and prices each part with a [`Prices`] source; the rest
//! are pure functions of the loaded data, so the UI can recompute views without I/O.
//! Nothing here knows ratatui or SQL.
//!
//! Costs are never invented: a part the agent did not price and no price source knows is
//! counted in [`Cost::unpriced`], and the UI shows such a cost as unknown, never `$0`.

pub mod agg;
pub mod providers;

pub use agg::*;
pub use providers::{Limit, ProviderStatus};

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::config::TimeWindow;
use crate::engine::record::Tokens;
use crate::pricing::resolve::Pricer;
use crate::pricing::{CostMode, PartPricer};
use crate::store::dashboard::{BUCKET_MS, PartSums, RequestRow};
use crate::store::{Store, StoreError, UsagePart};

/// A session counts as active when its last request is at most this old.
pub const ACTIVE_MS: i64 = 2 * 60 * 1000;
/// The activity sparkline: this many buckets …
pub const ACTIVITY_BUCKETS: usize = 60;
/// … of this many milliseconds each (the last ten minutes).
pub const ACTIVITY_BUCKET_MS: i64 = 10_000;
/// How many days of daily usage are loaded (two 90-day periods for comparisons).
pub const TREND_DAYS: usize = 180;

/// What a part of usage costs. [`PricerPrices`] prices with the price catalogue (the
/// agent's own cost where it recorded one); [`NoPrices`] knows only reported costs.
pub trait Prices: Send + Sync {
    /// The cost in USD of one part, split by what was paid for, if known.
    fn price(&self, part: &UsagePart) -> Option<CostSplit>;
}

/// A cost split by what was paid for, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostSplit {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    /// Cache writes, 5-minute and 1-hour.
    pub cache_write: f64,
    /// What agents reported themselves (not split by kind).
    pub reported: f64,
}

impl CostSplit {
    pub fn total(&self) -> f64 {
        self.input + self.output + self.cache_read + self.cache_write + self.reported
    }

    fn add(&mut self, o: &CostSplit) {
        self.input += o.input;
        self.output += o.output;
        self.cache_read += o.cache_read;
        self.cache_write += o.cache_write;
        self.reported += o.reported;
    }
}

/// Only the costs agents reported; everything else stays unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPrices;

impl Prices for NoPrices {
    fn price(&self, part: &UsagePart) -> Option<CostSplit> {
        part.cost_reported.map(|reported| CostSplit {
            reported,
            ..CostSplit::default()
        })
    }
}

/// Prices from the catalogue, like `ttop report` (cost mode `auto`: reported costs where
/// agents recorded them, computed ones elsewhere).
pub struct PricerPrices {
    pub pricer: Pricer,
}

impl Prices for PricerPrices {
    fn price(&self, part: &UsagePart) -> Option<CostSplit> {
        PartPricer::new(&self.pricer, CostMode::Auto)
            .price(part)
            .map(|c| CostSplit {
                input: c.components.input,
                output: c.components.output,
                cache_read: c.components.cache_read,
                cache_write: c.components.cache_write + c.components.cache_write_1h,
                reported: c.reported,
            })
    }
}

/// A sum of costs, and how many requests had no known cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// The sum of the known costs, in USD.
    pub usd: f64,
    /// Requests whose cost is unknown (no reported cost and no price).
    pub unpriced: u64,
    /// The known part, split by what was paid for.
    pub split: CostSplit,
}

impl Cost {
    /// Adds another sum.
    pub fn add(&mut self, other: Cost) {
        self.usd += other.usd;
        self.unpriced += other.unpriced;
        self.split.add(&other.split);
    }

    /// Whether some known cost exists (a partial sum still counts).
    pub fn is_known(&self) -> bool {
        self.unpriced == 0 || self.usd > 0.0
    }

    /// The known amount, or `None` when nothing is known.
    pub fn amount(&self) -> Option<f64> {
        self.is_known().then_some(self.usd)
    }
}

/// Usage of any group of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub tokens: Tokens,
    pub requests: u64,
    pub cost: Cost,
    /// The summed durations of the requests that recorded one.
    pub duration_ms: u64,
    /// The output tokens of the requests that recorded a duration.
    pub timed_output: u64,
}

impl Usage {
    /// Prices one stored part.
    pub fn from_sums(sums: &PartSums, provider: Option<&str>, model: Option<&str>, prices: &dyn Prices) -> Usage {
        let usd = prices.price(&UsagePart {
            provider: provider.map(str::to_owned),
            model: model.map(str::to_owned),
            tokens: sums.tokens,
            requests: sums.requests,
            cost_reported: sums.cost_reported,
            long_context: sums.long_context,
            speed: sums.speed.clone(),
        });
        Usage {
            tokens: sums.tokens,
            requests: sums.requests,
            cost: match usd {
                Some(split) => Cost {
                    usd: split.total(),
                    unpriced: 0,
                    split,
                },
                None => Cost {
                    usd: 0.0,
                    unpriced: sums.requests.max(1),
                    split: CostSplit::default(),
                },
            },
            duration_ms: sums.duration_ms,
            timed_output: sums.timed_output,
        }
    }

    pub fn add(&mut self, other: &Usage) {
        let (a, b) = (&mut self.tokens, &other.tokens);
        a.input += b.input;
        a.output += b.output;
        a.cache_read += b.cache_read;
        a.cache_write += b.cache_write;
        a.cache_write_1h += b.cache_write_1h;
        a.reasoning += b.reasoning;
        self.requests += other.requests;
        self.cost.add(other.cost);
        self.duration_ms += other.duration_ms;
        self.timed_output += other.timed_output;
    }

    /// Input plus output (what the sessions table calls tokens; cache is shown apart).
    pub fn io_tokens(&self) -> u64 {
        self.tokens.input + self.tokens.output
    }

    /// Cache reads over all input read: `cache_read / (input + cache_read)`.
    pub fn cache_hit(&self) -> Option<f64> {
        let read = self.tokens.input + self.tokens.cache_read;
        (read > 0).then(|| self.tokens.cache_read as f64 / read as f64)
    }

    /// Output over input plus output.
    pub fn output_share(&self) -> Option<f64> {
        let io = self.io_tokens();
        (io > 0).then(|| self.tokens.output as f64 / io as f64)
    }

    /// Known cost per request.
    pub fn cost_per_request(&self) -> Option<f64> {
        let usd = self.cost.amount()?;
        (self.requests > 0).then(|| usd / self.requests as f64)
    }

    /// Output tokens per second over the requests that recorded a duration.
    pub fn output_per_second(&self) -> Option<f64> {
        (self.duration_ms > 0).then(|| self.timed_output as f64 * 1000.0 / self.duration_ms as f64)
    }
}

/// A session's usage with one provider and model.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
}

/// One session, with its usage inside the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub agent: String,
    pub project: Option<String>,
    pub name: Option<String>,
    /// The first and last request over all time.
    pub started_ms: i64,
    pub last_ms: i64,
    /// Usage per provider and model inside the window, largest first.
    pub streams: Vec<Stream>,
    /// The streams summed.
    pub usage: Usage,
}

impl Session {
    pub fn is_active(&self, now_ms: i64) -> bool {
        now_ms - self.last_ms <= ACTIVE_MS
    }

    /// The model of the largest stream.
    pub fn main_model(&self) -> Option<&str> {
        self.streams.iter().find_map(|s| s.model.as_deref())
    }

    /// Whether the filter text (lowercase) matches agent, model, project, name or id.
    pub fn matches(&self, needle: &str) -> bool {
        if needle.is_empty() {
            return true;
        }
        let hit = |s: &str| s.to_lowercase().contains(needle);
        hit(&self.agent)
            || hit(&self.id)
            || self.project.as_deref().is_some_and(hit)
            || self.name.as_deref().is_some_and(hit)
            || self
                .streams
                .iter()
                .any(|s| s.model.as_deref().is_some_and(hit) || s.provider.as_deref().is_some_and(hit))
    }
}

/// What the worker loads for one time window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Data {
    pub now_ms: i64,
    pub window: TimeWindow,
    /// The window's first instant; `None` for all time.
    pub since_ms: Option<i64>,
    pub sessions: Vec<Session>,
    /// All sessions summed.
    pub total: Usage,
    /// The earliest request inside the window.
    pub first_ms: Option<i64>,
    /// Input plus output tokens per [`ACTIVITY_BUCKET_MS`] over the last [`ACTIVITY_BUCKETS`] buckets,
    /// oldest first.
    pub activity: Vec<u64>,
}

/// What a time window is asked for.
#[derive(Debug, Clone)]
pub struct Query {
    pub window: TimeWindow,
    pub now_ms: i64,
    pub tz: TimeZone,
}

/// Loads the sessions, totals and recent activity of a window.
pub fn load(store: &Store, q: &Query, prices: &dyn Prices) -> Result<Data, StoreError> {
    let since_ms = q
        .window
        .duration()
        .map(|d| q.now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
    let parts = store.session_parts(since_ms)?;
    let mut by_id: HashMap<(String, String), Session> = HashMap::new();
    for part in parts {
        let usage = Usage::from_sums(&part.sums, part.provider.as_deref(), part.model.as_deref(), prices);
        let session = by_id
            .entry((part.agent.clone(), part.session_id.clone()))
            .or_insert_with(|| Session {
                id: part.session_id.clone(),
                agent: part.agent.clone(),
                project: None,
                name: None,
                started_ms: part.first_ms,
                last_ms: part.last_ms,
                streams: Vec::new(),
                usage: Usage::default(),
            });
        session.started_ms = session.started_ms.min(part.first_ms);
        session.last_ms = session.last_ms.max(part.last_ms);
        if session.project.is_none() {
            session.project = part.project;
        }
        if session.name.is_none() {
            session.name = part.session_name;
        }
        session.usage.add(&usage);
        match session
            .streams
            .iter_mut()
            .find(|s| s.provider == part.provider && s.model == part.model)
        {
            Some(stream) => stream.usage.add(&usage),
            None => session.streams.push(Stream {
                provider: part.provider,
                model: part.model,
                usage,
            }),
        }
    }
    let mut sessions: Vec<Session> = by_id.into_values().collect();
    let first_ms = sessions.iter().map(|s| s.started_ms).min();
    if since_ms.is_some() && !sessions.is_empty() {
        let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
        let spans = store.session_spans(&ids)?;
        for s in &mut sessions {
            if let Some((first, last)) = spans.get(&s.id) {
                s.started_ms = s.started_ms.min(*first);
                s.last_ms = s.last_ms.max(*last);
            }
        }
    }
    let mut total = Usage::default();
    for s in &mut sessions {
        s.streams.sort_by(|a, b| {
            b.usage
                .tokens
                .total()
                .cmp(&a.usage.tokens.total())
                .then_with(|| a.model.cmp(&b.model))
        });
        total.add(&s.usage);
    }
    sessions.sort_by(|a, b| b.last_ms.cmp(&a.last_ms).then_with(|| a.id.cmp(&b.id)));
    let act_start = q.now_ms - ACTIVITY_BUCKET_MS * ACTIVITY_BUCKETS as i64;
    let act_start = act_start - act_start.rem_euclid(ACTIVITY_BUCKET_MS) + ACTIVITY_BUCKET_MS;
    let mut activity = vec![0u64; ACTIVITY_BUCKETS];
    for (start, tokens, _) in store.activity(act_start, ACTIVITY_BUCKET_MS)? {
        let index = (start - act_start) / ACTIVITY_BUCKET_MS;
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| activity.get_mut(i)) {
            *slot += tokens;
        }
    }
    Ok(Data {
        now_ms: q.now_ms,
        window: q.window,
        since_ms,
        sessions,
        total,
        first_ms,
        activity,
    })
}

/// One part of a day's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPart {
    pub agent: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub project: Option<String>,
    pub usage: Usage,
}

/// One local day.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: Date,
    pub total: Usage,
    pub parts: Vec<DayPart>,
}

/// Daily usage of the last [`TREND_DAYS`] local days, oldest first, ending today.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trends {
    pub days: Vec<Day>,
}

/// The start of a local date in Unix ms.
fn day_start_ms(date: Date, tz: &TimeZone) -> Result<i64, StoreError> {
    Ok(date.to_zoned_datetime(tz.clone())?.timestamp().as_millisecond())
}

/// The local date of an instant.
pub fn local_date(ms: i64, tz: &TimeZone) -> Date {
    Timestamp::from_millisecond(ms)
        .map(|t| tz.to_datetime(t).date())
        .unwrap_or_default()
}

/// Loads daily usage of the last [`TREND_DAYS`] days in `tz`.
pub fn load_trends(store: &Store, now_ms: i64, tz: &TimeZone, prices: &dyn Prices) -> Result<Trends, StoreError> {
    let today = local_date(now_ms, tz);
    let mut days = Vec::with_capacity(TREND_DAYS);
    let mut date = today;
    for _ in 0..TREND_DAYS {
        days.push(Day {
            date,
            total: Usage::default(),
            parts: Vec::new(),
        });
        date = date.yesterday().unwrap_or(date);
    }
    days.reverse();
    let first = days.first().map_or(today, |d| d.date);
    let since = day_start_ms(first, tz)?;
    let index: HashMap<Date, usize> = days.iter().enumerate().map(|(i, d)| (d.date, i)).collect();
    let mut date_of: HashMap<i64, Date> = HashMap::new();
    for part in store.bucket_parts(since)? {
        let date = *date_of
            .entry(part.start_ms)
            .or_insert_with(|| local_date(part.start_ms + BUCKET_MS / 2, tz));
        let Some(&i) = index.get(&date) else { continue };
        let usage = Usage::from_sums(&part.sums, part.provider.as_deref(), part.model.as_deref(), prices);
        let day = &mut days[i];
        day.total.add(&usage);
        match day.parts.iter_mut().find(|p| {
            p.agent == part.agent && p.provider == part.provider && p.model == part.model && p.project == part.project
        }) {
            Some(p) => p.usage.add(&usage),
            None => day.parts.push(DayPart {
                agent: part.agent,
                provider: part.provider,
                model: part.model,
                project: part.project,
                usage,
            }),
        }
    }
    Ok(Trends { days })
}

/// What the session drawer shows beyond the session row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionDetail {
    pub id: String,
    /// The latest requests, oldest first.
    pub requests: Vec<RequestRow>,
}

/// Loads the latest requests of one session.
pub fn load_session(store: &Store, id: &str) -> Result<SessionDetail, StoreError> {
    Ok(SessionDetail {
        id: id.to_owned(),
        requests: store.session_requests(id, 2000)?,
    })
}
