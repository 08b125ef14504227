//! Pure aggregates over loaded data: filtering and sorting sessions, top drivers,
//! budgets, efficiency insights, burn rate, activity level, projects and trend series.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

use super::{ACTIVITY_BUCKET_MS, Cost, Data, Session, Trends, Usage};
use crate::config::{Budgets, TimeWindow};

/// How the sessions table is sorted (active sessions always come first, except by recency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Cost,
    Tokens,
    Requests,
    Recent,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [SortKey::Cost, SortKey::Tokens, SortKey::Requests, SortKey::Recent];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Cost => "cost",
            SortKey::Tokens => "tokens",
            SortKey::Requests => "requests",
            SortKey::Recent => "recent",
        }
    }

    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
}

/// A dimension usage is broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dim {
    #[default]
    Model,
    Project,
    Agent,
    Provider,
}

impl Dim {
    pub fn label(self) -> &'static str {
        match self {
            Dim::Model => "models",
            Dim::Project => "projects",
            Dim::Agent => "agents",
            Dim::Provider => "providers",
        }
    }
}

/// The last `/` segment of a model id.
pub fn short_model(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}

/// The last path segment of a project path.
pub fn project_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches(['/', '\\']);
    trimmed
        .rsplit(['/', '\\'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(path)
}

/// The key of a session's stream in a dimension.
fn keys_of(session: &Session, dim: Dim) -> Vec<(String, Usage)> {
    match dim {
        Dim::Agent => vec![(session.agent.clone(), session.usage)],
        Dim::Project => vec![(
            session.project.as_deref().map_or("unknown", project_name).to_owned(),
            session.usage,
        )],
        Dim::Model | Dim::Provider => session
            .streams
            .iter()
            .map(|s| {
                let key = if dim == Dim::Model {
                    s.model.as_deref().map_or("unknown", short_model)
                } else {
                    s.provider.as_deref().unwrap_or("unknown")
                };
                (key.to_owned(), s.usage)
            })
            .collect(),
    }
}

/// Whether a session has usage under `key` in `dim`.
pub fn session_has(session: &Session, dim: Dim, key: &str) -> bool {
    keys_of(session, dim).iter().any(|(k, _)| k == key)
}

/// The indices of the sessions that match the filter text and the driver filter, sorted.
pub fn session_view(data: &Data, filter: &str, driver: Option<&(Dim, String)>, sort: SortKey) -> Vec<usize> {
    let needle = filter.to_lowercase();
    let mut out: Vec<usize> = data
        .sessions
        .iter()
        .enumerate()
        .filter(|(_, s)| s.matches(&needle) && driver.is_none_or(|(dim, key)| session_has(s, *dim, key)))
        .map(|(i, _)| i)
        .collect();
    let now = data.now_ms;
    out.sort_by(|&a, &b| {
        let (x, y) = (&data.sessions[a], &data.sessions[b]);
        let active = y.is_active(now).cmp(&x.is_active(now));
        let by = match sort {
            SortKey::Cost => y
                .usage
                .cost
                .usd
                .total_cmp(&x.usage.cost.usd)
                .then(y.usage.io_tokens().cmp(&x.usage.io_tokens())),
            SortKey::Tokens => y.usage.io_tokens().cmp(&x.usage.io_tokens()),
            SortKey::Requests => y.usage.requests.cmp(&x.usage.requests),
            SortKey::Recent => return y.last_ms.cmp(&x.last_ms).then(x.id.cmp(&y.id)),
        };
        active.then(by).then(y.last_ms.cmp(&x.last_ms)).then(x.id.cmp(&y.id))
    });
    out
}

/// One row of a top-drivers list.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    pub key: String,
    pub usage: Usage,
    /// Share of the total cost (of tokens when costs are unknown), 0..1.
    pub share: f64,
    /// Some session behind it is active now.
    pub hot: bool,
}

/// Sums the sessions per key of `dim`, largest first.
pub fn drivers(data: &Data, indices: &[usize], dim: Dim) -> Vec<Driver> {
    let mut out: Vec<Driver> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for &i in indices {
        let s = &data.sessions[i];
        let hot = s.is_active(data.now_ms);
        for (key, usage) in keys_of(s, dim) {
            match index.get(&key) {
                Some(&at) => {
                    let d = &mut out[at];
                    d.usage.add(&usage);
                    d.hot |= hot;
                }
                None => {
                    index.insert(key.clone(), out.len());
                    out.push(Driver {
                        key,
                        usage,
                        share: 0.0,
                        hot,
                    });
                }
            }
        }
    }
    let by_cost = out.iter().any(|d| d.usage.cost.usd > 0.0);
    let weight = |u: &Usage| if by_cost { u.cost.usd } else { u.io_tokens() as f64 };
    let total: f64 = out.iter().map(|d| weight(&d.usage)).sum();
    for d in &mut out {
        d.share = if total > 0.0 { weight(&d.usage) / total } else { 0.0 };
    }
    out.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.key.cmp(&b.key)));
    out
}

/// A calendar budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub const ALL: [Period; 3] = [Period::Daily, Period::Weekly, Period::Monthly];

    pub fn label(self) -> &'static str {
        match self {
            Period::Daily => "Daily",
            Period::Weekly => "Weekly",
            Period::Monthly => "Monthly",
        }
    }

    pub fn limit(self, budgets: &Budgets) -> Option<f64> {
        match self {
            Period::Daily => budgets.daily,
            Period::Weekly => budgets.weekly,
            Period::Monthly => budgets.monthly,
        }
    }

    /// The first date of the period that holds `today` (weeks start on Monday).
    pub fn start(self, today: Date) -> Date {
        match self {
            Period::Daily => today,
            Period::Weekly => {
                let back = i64::from(today.weekday().since(Weekday::Monday));
                today.checked_sub(back.days()).unwrap_or(today)
            }
            Period::Monthly => today.first_of_month(),
        }
    }
}

/// Which budget the gauge follows: the window's (sync) or a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetLock {
    #[default]
    Sync,
    Locked(Period),
}

impl BudgetLock {
    pub fn next(self) -> BudgetLock {
        match self {
            BudgetLock::Sync => BudgetLock::Locked(Period::Daily),
            BudgetLock::Locked(Period::Daily) => BudgetLock::Locked(Period::Weekly),
            BudgetLock::Locked(Period::Weekly) => BudgetLock::Locked(Period::Monthly),
            BudgetLock::Locked(Period::Monthly) => BudgetLock::Sync,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BudgetLock::Sync => "Sync",
            BudgetLock::Locked(p) => p.label(),
        }
    }

    /// The period the gauge shows for a window; `None` for all time in sync mode.
    pub fn period(self, window: TimeWindow) -> Option<Period> {
        match self {
            BudgetLock::Locked(p) => Some(p),
            BudgetLock::Sync => match window {
                TimeWindow::D7 => Some(Period::Weekly),
                TimeWindow::D30 => Some(Period::Monthly),
                TimeWindow::All => None,
                _ => Some(Period::Daily),
            },
        }
    }
}

/// How close something is to its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Ok,
    Warn,
    Critical,
}

/// The level of a percentage against the configured thresholds.
pub fn level(percent: f64, budgets: &Budgets) -> Level {
    if percent >= f64::from(budgets.critical_percent) {
        Level::Critical
    } else if percent >= f64::from(budgets.warn_percent) {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// The spend of one budget period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetStatus {
    pub period: Period,
    /// The period's first day.
    pub start: Date,
    pub spent: Cost,
    pub limit: Option<f64>,
}

impl BudgetStatus {
    /// Percent of the limit spent, when both are known.
    pub fn percent(&self) -> Option<f64> {
        let limit = self.limit?;
        let spent = self.spent.amount()?;
        (limit > 0.0).then(|| spent * 100.0 / limit)
    }
}

/// The spend of a period so far, from the daily trends.
pub fn budget(trends: &Trends, today: Date, period: Period, budgets: &Budgets) -> BudgetStatus {
    let start = period.start(today);
    let mut spent = Cost::default();
    for day in trends.days.iter().filter(|d| d.date >= start && d.date <= today) {
        spent.add(day.total.cost);
    }
    BudgetStatus {
        period,
        start,
        spent,
        limit: period.limit(budgets),
    }
}

/// An efficiency insight for the sidebar.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    pub headline: String,
    pub hint: &'static str,
    pub warn: bool,
}

/// The first rule that applies: cache hit, verbosity, chattiness, or the plain figures.
pub fn insight(total: &Usage) -> Insight {
    if let Some(hit) = total.cache_hit()
        && total.tokens.cache_read > 0
        && total.tokens.input > 1000
        && hit < 0.8
    {
        return Insight {
            headline: format!("Cache hit {:.0}%", hit * 100.0),
            hint: "Keep sessions open; avoid resets",
            warn: hit < 0.2,
        };
    }
    if let Some(share) = total.output_share()
        && share > 0.65
    {
        return Insight {
            headline: format!("Output {:.0}% of tokens", share * 100.0),
            hint: "Ask for diffs; less commentary",
            warn: share > 0.75,
        };
    }
    if let Some(per) = total.cost_per_request()
        && total.requests > 10
        && per > 0.15
    {
        return Insight {
            headline: format!("${per:.2} per request"),
            hint: "Batch asks; fewer back-and-forth",
            warn: per > 0.25,
        };
    }
    let per = total
        .cost_per_request()
        .map_or_else(|| "—".to_owned(), |p| format!("${p:.3}"));
    let out = total
        .output_share()
        .map_or_else(|| "—".to_owned(), |s| format!("{:.0}%", s * 100.0));
    Insight {
        headline: format!("$/req {per} · out {out}"),
        hint: "Prefer patches; reduce re-asking",
        warn: false,
    }
}

/// The window's length in seconds for rates: its duration, or since the first request.
fn window_secs(data: &Data) -> f64 {
    let ms = match data.window.duration() {
        Some(d) => d.as_millis() as f64,
        None => data.first_ms.map_or(0.0, |f| (data.now_ms - f).max(0) as f64),
    };
    (ms / 1000.0).max(1.0)
}

/// Burn rate: known USD per hour (when costs are known) and tokens per minute.
pub fn burn_rate(data: &Data) -> (Option<f64>, f64) {
    let secs = window_secs(data);
    let usd = data.total.cost.amount().map(|c| c * 3600.0 / secs);
    (usd, data.total.io_tokens() as f64 * 60.0 / secs)
}

/// The activity label and rates (tokens per second) of the sparkline buckets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    pub label: &'static str,
    /// The busiest of the last three buckets.
    pub instant: f64,
    /// The mean of the last six buckets.
    pub average: f64,
}

pub fn activity(buckets: &[u64]) -> Activity {
    let per_s = |t: u64| t as f64 * 1000.0 / ACTIVITY_BUCKET_MS as f64;
    let n = buckets.len();
    let instant = buckets[n.saturating_sub(3)..]
        .iter()
        .map(|&t| per_s(t))
        .fold(0.0, f64::max);
    let last6 = &buckets[n.saturating_sub(6)..];
    let average = if last6.is_empty() {
        0.0
    } else {
        last6.iter().map(|&t| per_s(t)).sum::<f64>() / last6.len() as f64
    };
    let label = if instant >= 500.0 && instant >= 3.0 * average.max(1.0) || instant >= 2000.0 {
        "SPIKE"
    } else if average >= 150.0 {
        "HOT"
    } else if average >= 50.0 {
        "BUSY"
    } else if average >= 10.0 || instant >= 10.0 {
        "LOW"
    } else {
        "IDLE"
    };
    Activity {
        label,
        instant,
        average,
    }
}

/// One row of the Projects view.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRow {
    /// The full path (`unknown` when the agent recorded none).
    pub path: String,
    pub usage: Usage,
    /// Share of the total cost (of tokens when costs are unknown), 0..1.
    pub share: f64,
    pub sessions: usize,
    pub last_ms: i64,
    /// Models by usage, largest first.
    pub models: Vec<(String, Usage)>,
    /// Agents by usage, largest first.
    pub agents: Vec<(String, Usage)>,
    /// Session indices (into `Data::sessions`), latest first.
    pub session_ids: Vec<usize>,
}

impl ProjectRow {
    pub fn name(&self) -> &str {
        project_name(&self.path)
    }
}

fn add_keyed(list: &mut Vec<(String, Usage)>, key: &str, usage: &Usage) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some((_, u)) => u.add(usage),
        None => list.push((key.to_owned(), *usage)),
    }
}

fn sort_keyed(list: &mut [(String, Usage)]) {
    list.sort_by(|a, b| {
        b.1.cost
            .usd
            .total_cmp(&a.1.cost.usd)
            .then(b.1.io_tokens().cmp(&a.1.io_tokens()))
            .then_with(|| a.0.cmp(&b.0))
    });
}

/// Per-project totals of the sessions, largest first.
pub fn projects(data: &Data, filter: &str) -> Vec<ProjectRow> {
    let needle = filter.to_lowercase();
    let mut out: Vec<ProjectRow> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, s) in data.sessions.iter().enumerate() {
        let path = s.project.clone().unwrap_or_else(|| "unknown".to_owned());
        if !needle.is_empty() && !path.to_lowercase().contains(&needle) {
            continue;
        }
        let row = match index.get(&path) {
            Some(&at) => &mut out[at],
            None => {
                index.insert(path.clone(), out.len());
                out.push(ProjectRow {
                    path,
                    usage: Usage::default(),
                    share: 0.0,
                    sessions: 0,
                    last_ms: i64::MIN,
                    models: Vec::new(),
                    agents: Vec::new(),
                    session_ids: Vec::new(),
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        row.usage.add(&s.usage);
        row.sessions += 1;
        row.last_ms = row.last_ms.max(s.last_ms);
        row.session_ids.push(i);
        add_keyed(&mut row.agents, &s.agent, &s.usage);
        for st in &s.streams {
            add_keyed(
                &mut row.models,
                st.model.as_deref().map_or("unknown", short_model),
                &st.usage,
            );
        }
    }
    let by_cost = out.iter().any(|p| p.usage.cost.usd > 0.0);
    let weight = |u: &Usage| if by_cost { u.cost.usd } else { u.io_tokens() as f64 };
    let total: f64 = out.iter().map(|p| weight(&p.usage)).sum();
    for p in &mut out {
        p.share = if total > 0.0 { weight(&p.usage) / total } else { 0.0 };
        sort_keyed(&mut p.models);
        sort_keyed(&mut p.agents);
        p.session_ids
            .sort_by(|&a, &b| data.sessions[b].last_ms.cmp(&data.sessions[a].last_ms));
    }
    out.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(b.usage.io_tokens().cmp(&a.usage.io_tokens()))
            .then_with(|| a.path.cmp(&b.path))
    });
    out
}

/// What a trend chart plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    #[default]
    Cost,
    Tokens,
    Requests,
}

impl Metric {
    pub fn next(self) -> Metric {
        match self {
            Metric::Cost => Metric::Tokens,
            Metric::Tokens => Metric::Requests,
            Metric::Requests => Metric::Cost,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::Cost => "cost",
            Metric::Tokens => "tokens",
            Metric::Requests => "requests",
        }
    }

    /// The value of a usage (tokens are billed tokens, cache included).
    pub fn of(self, usage: &Usage) -> f64 {
        match self {
            Metric::Cost => usage.cost.usd,
            Metric::Tokens => usage.tokens.total() as f64,
            Metric::Requests => usage.requests as f64,
        }
    }
}

/// A trend chart's data.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendView {
    pub dates: Vec<Date>,
    pub values: Vec<f64>,
    /// Whether some day in the range has usage without a known cost.
    pub unpriced: bool,
    pub total: f64,
    /// The same metric over the equally long period before.
    pub previous: f64,
    /// The range's usage by the breakdown dimension, largest first.
    pub breakdown: Vec<(String, f64)>,
}

/// The last `range` days of the trends in a metric, with its comparison and breakdown.
pub fn trend_view(trends: &Trends, range: usize, metric: Metric, dim: Dim) -> TrendView {
    let n = trends.days.len();
    let range = range.min(n);
    let current = &trends.days[n - range..];
    let previous = &trends.days[n.saturating_sub(2 * range)..n - range];
    let mut breakdown: Vec<(String, f64)> = Vec::new();
    for day in current {
        for part in &day.parts {
            let key = match dim {
                Dim::Model => part.model.as_deref().map_or("unknown", short_model),
                Dim::Project => part.project.as_deref().map_or("unknown", project_name),
                Dim::Agent => part.agent.as_str(),
                Dim::Provider => part.provider.as_deref().unwrap_or("unknown"),
            };
            let v = metric.of(&part.usage);
            match breakdown.iter_mut().find(|(k, _)| k == key) {
                Some((_, x)) => *x += v,
                None => breakdown.push((key.to_owned(), v)),
            }
        }
    }
    breakdown.retain(|(_, v)| *v > 0.0);
    breakdown.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let values: Vec<f64> = current.iter().map(|d| metric.of(&d.total)).collect();
    TrendView {
        dates: current.iter().map(|d| d.date).collect(),
        total: values.iter().sum(),
        values,
        unpriced: metric == Metric::Cost && current.iter().any(|d| d.total.cost.unpriced > 0),
        previous: previous.iter().map(|d| metric.of(&d.total)).sum(),
        breakdown,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn periods_start_on_monday_and_the_first() {
        let d = date(2026, 12, 3); // A Thursday.
        assert_eq!(Period::Weekly.start(d), date(2026, 11, 30));
        assert_eq!(Period::Monthly.start(d), date(2026, 12, 1));
        assert_eq!(Period::Daily.start(d), d);
        assert_eq!(Period::Weekly.start(date(2026, 11, 30)), date(2026, 11, 30));
    }

    #[test]
    fn budget_lock_cycles_and_follows_the_window() {
        let mut lock = BudgetLock::Sync;
        assert_eq!(lock.period(TimeWindow::D7), Some(Period::Weekly));
        assert_eq!(lock.period(TimeWindow::All), None);
        lock = lock.next();
        assert_eq!(lock.period(TimeWindow::All), Some(Period::Daily));
        assert_eq!(lock.next().next().next(), BudgetLock::Sync);
    }

    #[test]
    fn names_and_levels() {
        assert_eq!(short_model("openai/gpt-5"), "gpt-5");
        assert_eq!(project_name("/home/a/webapp/"), "webapp");
        assert_eq!(project_name("C:\\src\\api"), "api");
        let b = Budgets::default();
        assert_eq!(level(79.0, &b), Level::Ok);
        assert_eq!(level(80.0, &b), Level::Warn);
        assert_eq!(level(99.0, &b), Level::Critical);
    }

    #[test]
    fn unknown_costs_stay_unknown() {
        let c = Cost {
            usd: 0.0,
            unpriced: 3,
            ..Cost::default()
        };
        assert_eq!(c.amount(), None);
        let s = BudgetStatus {
            period: Period::Daily,
            start: date(2026, 1, 1),
            spent: c,
            limit: Some(10.0),
        };
        assert_eq!(s.percent(), None);
    }

    #[test]
    fn activity_labels() {
        assert_eq!(activity(&[0; 60]).label, "IDLE");
        let mut b = vec![0; 60];
        b[59] = 10_000;
        assert_eq!(activity(&b).label, "SPIKE");
        assert_eq!(activity(&[2000; 60]).label, "HOT");
    }
}
