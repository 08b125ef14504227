//! Report queries: token usage grouped by local day, week, month, session, model,
//! project or agent.
//!
//! Aggregation happens in SQL. Time groups are exact across DST changes: SQL sums per
//! 15-minute UTC bucket (every real zone offset is a multiple of 15 minutes, so a bucket
//! never spans two local dates) and Rust maps each bucket to its local date. A bucket
//! that does span two dates anyway (historical local-mean-time offsets) is re-read per
//! timestamp, so the result stays exact.
//!
//! Each row also carries its usage split by provider, model, whether the agent
//! reported a cost, whether the requests were long-context and their speed tier
//! ([`UsagePart`]), which is what pricing needs to fill `cost_usd`.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use rusqlite::types::Value;

use super::{Store, StoreError, get_u64};
use crate::engine::record::Tokens;

/// The width of a time bucket in milliseconds (15 minutes).
const BUCKET_MS: i64 = 15 * 60 * 1000;

/// A request whose prompt (input + cache read + cache write) is larger than this many
/// tokens is a long-context request: catalogues price all of its tokens at their
/// `context_over_200k` rates.
pub const LONG_CONTEXT_THRESHOLD: u64 = 200_000;

/// What the rows of a report are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// One row per local date, keyed `YYYY-MM-DD`.
    Daily,
    /// One row per week, keyed by its Monday `YYYY-MM-DD`.
    Weekly,
    /// One row per month, keyed `YYYY-MM`.
    Monthly,
    /// One row per session id.
    Session,
    /// One row per model id (`unknown` when missing).
    Model,
    /// One row per project path (`unknown` when missing).
    Project,
    /// One row per agent id.
    Agent,
}

impl Group {
    /// Whether rows are time periods (sorted by key) rather than things (sorted by size).
    pub fn is_time(self) -> bool {
        matches!(self, Group::Daily | Group::Weekly | Group::Monthly)
    }

    /// The column heading for the row key.
    pub fn label(self) -> &'static str {
        match self {
            Group::Daily => "Date",
            Group::Weekly => "Week",
            Group::Monthly => "Month",
            Group::Session => "Session",
            Group::Model => "Model",
            Group::Project => "Project",
            Group::Agent => "Agent",
        }
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub group: Group,
    /// Agent ids to include; empty means all.
    pub agents: Vec<String>,
    /// First local date included (in `tz`).
    pub since: Option<Date>,
    /// Last local date included (in `tz`).
    pub until: Option<Date>,
    /// The zone that defines local dates.
    pub tz: TimeZone,
}

impl ReportQuery {
    /// All agents, all time.
    pub fn new(group: Group, tz: TimeZone) -> ReportQuery {
        ReportQuery {
            group,
            agents: Vec::new(),
            since: None,
            until: None,
            tz,
        }
    }
}

/// The usage of one row that shares a provider, a model, a speed and a context class,
/// and either all had a reported cost or all had none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsagePart {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tokens: Tokens,
    pub requests: u64,
    /// The sum of the costs the agent reported, when these records had one; `None` when
    /// none of these records had one (pricing must compute it from the tokens).
    pub cost_reported: Option<f64>,
    /// Every request here had more than [`LONG_CONTEXT_THRESHOLD`] prompt tokens.
    pub long_context: bool,
    /// The speed or service tier the agent recorded (`fast`, `priority`...).
    pub speed: Option<String>,
}

/// A row's cost split by what was paid for, in USD (filled by pricing).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostBreakdown {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    /// 5-minute cache writes.
    pub cache_write: f64,
    pub cache_write_1h: f64,
    /// Costs the agents reported themselves (not split by kind).
    pub reported: f64,
}

/// One line of a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRow {
    pub key: String,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// The part of `cache_write` written with a 1-hour lifetime.
    pub cache_write_1h: u64,
    pub reasoning: u64,
    /// `input + output + cache_read + cache_write`.
    pub total_tokens: u64,
    pub requests: u64,
    /// Filled by pricing; `None` until then, and when part of the row has no price.
    pub cost_usd: Option<f64>,
    /// Filled by pricing: what `cost_usd` is made of.
    pub cost_breakdown: Option<CostBreakdown>,
    /// Filled by pricing: tokens of this row no price covers.
    pub unpriced_tokens: u64,
    /// The row's usage split by provider, model and reported cost, sorted.
    pub parts: Vec<UsagePart>,
}

impl ReportRow {
    fn from_parts(key: String, parts: Vec<UsagePart>) -> ReportRow {
        let mut row = ReportRow {
            key,
            ..ReportRow::default()
        };
        for part in &parts {
            let t = &part.tokens;
            row.input += t.input;
            row.output += t.output;
            row.cache_read += t.cache_read;
            row.cache_write += t.cache_write;
            row.cache_write_1h += t.cache_write_1h;
            row.reasoning += t.reasoning;
            row.requests += part.requests;
        }
        row.total_tokens = row.input + row.output + row.cache_read + row.cache_write;
        row.parts = parts;
        row
    }

    /// The sum of the costs agents reported for this row's records, if any did.
    pub fn cost_reported_sum(&self) -> Option<f64> {
        self.parts
            .iter()
            .filter_map(|part| part.cost_reported)
            .reduce(|a, b| a + b)
    }
}

/// A grouped report and its totals (`totals.key` is `total`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub rows: Vec<ReportRow>,
    pub totals: ReportRow,
}

/// Identifies a part inside a row: provider, model, whether a cost was reported,
/// long context, speed.
type PartKey = (Option<String>, Option<String>, bool, bool, Option<String>);

fn part_key(part: &UsagePart) -> PartKey {
    (
        part.provider.clone(),
        part.model.clone(),
        part.cost_reported.is_some(),
        part.long_context,
        part.speed.clone(),
    )
}

/// Parts collected per row key.
#[derive(Default)]
struct Accumulator {
    rows: HashMap<String, BTreeMap<PartKey, UsagePart>>,
}

impl Accumulator {
    fn add(&mut self, key: String, part: UsagePart) {
        let slot = self.rows.entry(key).or_default().entry(part_key(&part)).or_default();
        merge_part(slot, part);
    }

    fn finish(self, group: Group) -> Report {
        let mut all: BTreeMap<PartKey, UsagePart> = BTreeMap::new();
        let mut rows = Vec::with_capacity(self.rows.len());
        for (key, parts) in self.rows {
            for (part_key, part) in &parts {
                merge_part(all.entry(part_key.clone()).or_default(), part.clone());
            }
            rows.push(ReportRow::from_parts(key, parts.into_values().collect()));
        }
        if group.is_time() {
            rows.sort_by(|a, b| a.key.cmp(&b.key));
        } else {
            rows.sort_by(|a, b| b.total_tokens.cmp(&a.total_tokens).then_with(|| a.key.cmp(&b.key)));
        }
        let totals = ReportRow::from_parts("total".to_owned(), all.into_values().collect());
        Report { rows, totals }
    }
}

fn merge_part(into: &mut UsagePart, part: UsagePart) {
    into.provider = part.provider;
    into.model = part.model;
    into.long_context = part.long_context;
    into.speed = part.speed;
    let (a, b) = (&mut into.tokens, part.tokens);
    a.input += b.input;
    a.output += b.output;
    a.cache_read += b.cache_read;
    a.cache_write += b.cache_write;
    a.cache_write_1h += b.cache_write_1h;
    a.reasoning += b.reasoning;
    into.requests += part.requests;
    into.cost_reported = match (into.cost_reported, part.cost_reported) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
}

/// A `WHERE` clause and its parameters.
struct Filter {
    sql: String,
    params: Vec<Value>,
}

impl Filter {
    fn new(q: &ReportQuery) -> Result<Filter, StoreError> {
        let mut filter = Filter {
            sql: String::new(),
            params: Vec::new(),
        };
        if !q.agents.is_empty() {
            let marks = vec!["?"; q.agents.len()].join(", ");
            filter.push(&format!("agent IN ({marks})"), Vec::new());
            filter.params.extend(q.agents.iter().map(|a| Value::Text(a.clone())));
        }
        if let Some(since) = q.since {
            let start = start_of_day_ms(since, &q.tz)?;
            filter.push("ts_ms >= ?", vec![Value::Integer(start)]);
        }
        if let Some(until) = q.until {
            // The day after `until` starts where the inclusive range ends; there is no day
            // after the last representable date, so that range is open.
            if let Ok(next) = until.tomorrow() {
                let end = start_of_day_ms(next, &q.tz)?;
                filter.push("ts_ms < ?", vec![Value::Integer(end)]);
            }
        }
        Ok(filter)
    }

    fn push(&mut self, condition: &str, params: Vec<Value>) {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        self.sql.push_str(condition);
        self.params.extend(params);
    }
}

/// The first instant of a local date, in Unix milliseconds.
fn start_of_day_ms(date: Date, tz: &TimeZone) -> Result<i64, StoreError> {
    Ok(date.to_zoned_datetime(tz.clone())?.timestamp().as_millisecond())
}

/// One aggregated SQL row: the group key, then a part.
struct Aggregate {
    key: Value,
    part: UsagePart,
}

impl Store {
    /// Runs a report. Costs are left `None`; pricing fills them from the parts.
    pub fn report(&self, q: &ReportQuery) -> Result<Report, StoreError> {
        let filter = Filter::new(q)?;
        let mut acc = Accumulator::default();
        match q.group {
            Group::Daily | Group::Weekly | Group::Monthly => {
                self.report_time(q, filter, &mut acc)?;
            }
            Group::Session | Group::Model | Group::Project | Group::Agent => {
                let key = match q.group {
                    Group::Session => "session_id",
                    Group::Model => "coalesce(model, 'unknown')",
                    Group::Project => "coalesce(project, 'unknown')",
                    _ => "agent",
                };
                for aggregate in self.aggregate(key, &filter)? {
                    let key = match aggregate.key {
                        Value::Text(text) => text,
                        other => format!("{other:?}"),
                    };
                    acc.add(key, aggregate.part);
                }
            }
        }
        Ok(acc.finish(q.group))
    }

    fn report_time(&self, q: &ReportQuery, filter: Filter, acc: &mut Accumulator) -> Result<(), StoreError> {
        // Floor division, so instants before 1970 land in the right bucket too.
        let bucket_expr = format!("ts_ms / {BUCKET_MS} - (ts_ms % {BUCKET_MS} < 0)");
        // Bucket number to row key, or `None` when the bucket spans two local dates.
        let mut keys: HashMap<i64, Option<String>> = HashMap::new();
        let mut split: Vec<i64> = Vec::new();
        for aggregate in self.aggregate(&bucket_expr, &filter)? {
            let Value::Integer(bucket) = aggregate.key else {
                continue;
            };
            let key = match keys.get(&bucket) {
                Some(key) => key.clone(),
                None => {
                    let start = local_date(bucket * BUCKET_MS, &q.tz)?;
                    let end = local_date(bucket * BUCKET_MS + BUCKET_MS - 1, &q.tz)?;
                    let key = if start == end {
                        Some(time_key(q.group, start)?)
                    } else {
                        split.push(bucket);
                        None
                    };
                    keys.insert(bucket, key.clone());
                    key
                }
            };
            if let Some(key) = key {
                acc.add(key, aggregate.part);
            }
        }
        // Buckets that straddle a local midnight are re-read per instant.
        for bucket in split {
            let mut exact = Filter {
                sql: filter.sql.clone(),
                params: filter.params.clone(),
            };
            exact.push(
                "ts_ms >= ? AND ts_ms < ?",
                vec![
                    Value::Integer(bucket * BUCKET_MS),
                    Value::Integer(bucket * BUCKET_MS + BUCKET_MS),
                ],
            );
            for aggregate in self.aggregate("ts_ms", &exact)? {
                let Value::Integer(ts_ms) = aggregate.key else {
                    continue;
                };
                acc.add(time_key(q.group, local_date(ts_ms, &q.tz)?)?, aggregate.part);
            }
        }
        Ok(())
    }

    /// Sums usage per `key_expr`, provider, model, reported-cost flag, context class
    /// and speed.
    fn aggregate(&self, key_expr: &str, filter: &Filter) -> Result<Vec<Aggregate>, StoreError> {
        let sql = format!(
            "SELECT {key_expr} AS k, provider, model, cost_reported IS NOT NULL AS reported,
                    sum(input), sum(output), sum(cache_read), sum(cache_write),
                    sum(cache_write_1h), sum(reasoning), count(*), total(cost_reported),
                    input + cache_read + cache_write > {LONG_CONTEXT_THRESHOLD} AS long_ctx,
                    speed
             FROM records{}
             GROUP BY k, provider, model, reported, long_ctx, speed",
            filter.sql
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(filter.params.iter()), |row| {
            let reported: bool = row.get(3)?;
            Ok(Aggregate {
                key: row.get(0)?,
                part: UsagePart {
                    provider: row.get(1)?,
                    model: row.get(2)?,
                    tokens: Tokens {
                        input: get_u64(row, 4)?,
                        output: get_u64(row, 5)?,
                        cache_read: get_u64(row, 6)?,
                        cache_write: get_u64(row, 7)?,
                        cache_write_1h: get_u64(row, 8)?,
                        reasoning: get_u64(row, 9)?,
                    },
                    requests: get_u64(row, 10)?,
                    cost_reported: if reported { Some(row.get(11)?) } else { None },
                    long_context: row.get(12)?,
                    speed: row.get(13)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// The local date of an instant.
fn local_date(ts_ms: i64, tz: &TimeZone) -> Result<Date, StoreError> {
    Ok(tz.to_datetime(Timestamp::from_millisecond(ts_ms)?).date())
}

/// The row key of a local date in a time group.
fn time_key(group: Group, date: Date) -> Result<String, StoreError> {
    Ok(match group {
        Group::Weekly => {
            let back = date.weekday().to_monday_zero_offset();
            date.checked_sub(Span::new().days(back))?.to_string()
        }
        Group::Monthly => format!("{:04}-{:02}", date.year(), date.month()),
        _ => date.to_string(),
    })
}

#[cfg(test)]
// Tests fail loudly on unexpected errors; unwrap and expect are the clearest way to do so.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::engine::record::{KeepRule, UsageRecord};
    use crate::store::FileCommit;
    use crate::store::tests::record;
    use jiff::civil::date;

    /// Unix milliseconds of a civil time in a zone.
    fn at(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        date(y, mo, d)
            .at(h, mi, 0, 0)
            .to_zoned_datetime(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn store_with(records: Vec<UsageRecord>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("ttop.db")).unwrap();
        let mut by_agent: BTreeMap<String, Vec<UsageRecord>> = BTreeMap::new();
        for r in records {
            by_agent.entry(r.agent.clone()).or_default().push(r);
        }
        let batch: Vec<FileCommit> = by_agent
            .into_iter()
            .map(|(agent, records)| FileCommit {
                agent,
                keep: KeepRule::Last,
                file: Default::default(),
                records,
            })
            .collect();
        store.commit(&batch).unwrap();
        (dir, store)
    }

    fn keyed(key: &str, ts_ms: i64, input: u64) -> UsageRecord {
        record(key, ts_ms, input, 0)
    }

    fn summary(report: &Report) -> Vec<(String, u64)> {
        report.rows.iter().map(|r| (r.key.clone(), r.input)).collect()
    }

    #[test]
    fn daily_follows_local_dates_across_dst_in_new_york() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // DST starts 2024-03-10 at 02:00 local (EST -> EDT) and ends 2024-11-03 at 02:00.
        let (_dir, store) = store_with(vec![
            keyed("a", at(&ny, 2024, 3, 9, 23, 59), 1),
            keyed("b", at(&ny, 2024, 3, 10, 0, 0), 10),
            keyed("c", at(&ny, 2024, 3, 10, 23, 59), 100),
            keyed("d", at(&ny, 2024, 3, 11, 0, 0), 1000),
            keyed("e", at(&ny, 2024, 11, 3, 0, 10), 10_000),
            keyed("f", at(&ny, 2024, 11, 3, 23, 50), 100_000),
            keyed("g", at(&ny, 2024, 11, 4, 0, 5), 1_000_000),
        ]);
        let report = store.report(&ReportQuery::new(Group::Daily, ny.clone())).unwrap();
        assert_eq!(
            summary(&report),
            vec![
                ("2024-03-09".into(), 1),
                ("2024-03-10".into(), 110),
                ("2024-03-11".into(), 1000),
                ("2024-11-03".into(), 110_000),
                ("2024-11-04".into(), 1_000_000),
            ]
        );
        assert_eq!(report.totals.input, 1_111_111);
        assert_eq!(report.totals.requests, 7);
        assert_eq!(report.totals.key, "total");
    }

    #[test]
    fn daily_follows_local_dates_at_plus_five_forty_five() {
        let ktm = TimeZone::get("Asia/Kathmandu").unwrap();
        let utc = TimeZone::UTC;
        let (_dir, store) = store_with(vec![
            // 18:14 UTC is 23:59 in Kathmandu; 18:15 UTC is the next local midnight.
            keyed("a", at(&utc, 2024, 5, 1, 18, 14), 1),
            keyed("b", at(&utc, 2024, 5, 1, 18, 15), 10),
            keyed("c", at(&ktm, 2024, 5, 2, 23, 59), 100),
        ]);
        let report = store.report(&ReportQuery::new(Group::Daily, ktm)).unwrap();
        assert_eq!(
            summary(&report),
            vec![("2024-05-01".into(), 1), ("2024-05-02".into(), 110)]
        );
        // The same instants in UTC fall on one day.
        let report = store.report(&ReportQuery::new(Group::Daily, utc)).unwrap();
        assert_eq!(
            summary(&report),
            vec![("2024-05-01".into(), 11), ("2024-05-02".into(), 100)]
        );
    }

    #[test]
    fn buckets_spanning_midnight_are_split_exactly() {
        // Local mean time in 1900 was +00:19:32 in Amsterdam: midnight falls mid-bucket.
        let ams = TimeZone::get("Europe/Amsterdam").unwrap();
        let (_dir, store) = store_with(vec![
            keyed("a", at(&ams, 1900, 6, 1, 23, 59), 1),
            keyed("b", at(&ams, 1900, 6, 2, 0, 1), 10),
        ]);
        let report = store.report(&ReportQuery::new(Group::Daily, ams)).unwrap();
        assert_eq!(
            summary(&report),
            vec![("1900-06-01".into(), 1), ("1900-06-02".into(), 10)]
        );
    }

    #[test]
    fn weekly_keys_are_mondays_and_monthly_keys_are_months() {
        let utc = TimeZone::UTC;
        let (_dir, store) = store_with(vec![
            // Sunday 2024-03-03 belongs to the week of Monday 2024-02-26.
            keyed("a", at(&utc, 2024, 3, 3, 12, 0), 1),
            keyed("b", at(&utc, 2024, 3, 4, 0, 0), 10),
            keyed("c", at(&utc, 2024, 3, 10, 23, 59), 100),
            keyed("d", at(&utc, 2024, 12, 31, 12, 0), 1000),
            keyed("e", at(&utc, 2025, 1, 1, 12, 0), 10_000),
        ]);
        let weekly = store.report(&ReportQuery::new(Group::Weekly, utc.clone())).unwrap();
        assert_eq!(
            summary(&weekly),
            vec![
                ("2024-02-26".into(), 1),
                ("2024-03-04".into(), 110),
                ("2024-12-30".into(), 11_000),
            ]
        );
        let monthly = store.report(&ReportQuery::new(Group::Monthly, utc)).unwrap();
        assert_eq!(
            summary(&monthly),
            vec![
                ("2024-03".into(), 111),
                ("2024-12".into(), 1000),
                ("2025-01".into(), 10_000),
            ]
        );
    }

    #[test]
    fn since_and_until_are_inclusive_local_dates() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let (_dir, store) = store_with(vec![
            keyed("a", at(&ny, 2024, 3, 9, 23, 59), 1),
            keyed("b", at(&ny, 2024, 3, 10, 0, 0), 10),
            keyed("c", at(&ny, 2024, 3, 11, 23, 59), 100),
            keyed("d", at(&ny, 2024, 3, 12, 0, 0), 1000),
        ]);
        let mut q = ReportQuery::new(Group::Daily, ny);
        q.since = Some(date(2024, 3, 10));
        q.until = Some(date(2024, 3, 11));
        let report = store.report(&q).unwrap();
        assert_eq!(
            summary(&report),
            vec![("2024-03-10".into(), 10), ("2024-03-11".into(), 100)]
        );
        assert_eq!(report.totals.input, 110);
        q.group = Group::Agent;
        assert_eq!(summary(&store.report(&q).unwrap()), vec![("agent-a".into(), 110)]);
    }

    #[test]
    fn thing_groups_sort_by_total_and_name_missing_values_unknown() {
        let mut a = keyed("a", 1, 5);
        a.model = None;
        a.project = None;
        let mut b = keyed("b", 2, 50);
        b.agent = "agent-b".into();
        b.session_id = "s2".into();
        b.model = Some("model-2".into());
        let mut c = keyed("c", 3, 7);
        c.session_id = "s3".into();
        let (_dir, store) = store_with(vec![a, b, c]);
        let run = |group| summary(&store.report(&ReportQuery::new(group, TimeZone::UTC)).unwrap());
        assert_eq!(
            run(Group::Model),
            vec![("model-2".into(), 50), ("model-1".into(), 7), ("unknown".into(), 5)]
        );
        assert_eq!(run(Group::Project), vec![("/p".into(), 57), ("unknown".into(), 5)]);
        assert_eq!(run(Group::Agent), vec![("agent-b".into(), 50), ("agent-a".into(), 12)]);
        assert_eq!(
            run(Group::Session),
            vec![("s2".into(), 50), ("s3".into(), 7), ("s1".into(), 5)]
        );
        let mut q = ReportQuery::new(Group::Agent, TimeZone::UTC);
        q.agents = vec!["agent-a".into()];
        assert_eq!(summary(&store.report(&q).unwrap()), vec![("agent-a".into(), 12)]);
    }

    #[test]
    fn rows_carry_parts_for_pricing() {
        let mut a = record("a", 1, 10, 20);
        a.cost_reported = Some(0.25);
        a.tokens.cache_read = 3;
        a.tokens.cache_write = 4;
        a.tokens.cache_write_1h = 2;
        a.tokens.reasoning = 5;
        let mut b = record("b", 2, 1, 1);
        b.cost_reported = Some(0.5);
        let c = record("c", 3, 100, 0);
        let (_dir, store) = store_with(vec![a, b, c]);
        let report = store.report(&ReportQuery::new(Group::Daily, TimeZone::UTC)).unwrap();
        assert_eq!(report.rows.len(), 1);
        let row = &report.rows[0];
        assert_eq!(
            (row.input, row.output, row.cache_read, row.cache_write),
            (111, 21, 3, 4)
        );
        assert_eq!((row.cache_write_1h, row.reasoning), (2, 5));
        assert_eq!(row.total_tokens, 139);
        assert_eq!(row.requests, 3);
        assert_eq!(row.cost_usd, None);
        assert_eq!(row.cost_reported_sum(), Some(0.75));
        assert_eq!(row.parts.len(), 2);
        let unpriced = &row.parts[0];
        assert_eq!(unpriced.cost_reported, None);
        assert_eq!((unpriced.tokens.input, unpriced.requests), (100, 1));
        assert_eq!(unpriced.model.as_deref(), Some("model-1"));
        assert_eq!(row.parts[1].cost_reported, Some(0.75));
        assert_eq!(report.totals.parts, row.parts);
    }

    #[test]
    fn long_context_requests_and_speeds_are_separate_parts() {
        // 150,000 + 50,000 + 0 = 200,000 is not above the threshold; 200,001 is.
        let mut at_limit = record("a", 1, 150_000, 10);
        at_limit.tokens.cache_read = 50_000;
        let mut over = record("b", 2, 150_000, 20);
        over.tokens.cache_read = 49_000;
        over.tokens.cache_write = 1_001;
        let mut fast = record("c", 3, 10, 30);
        fast.speed = Some("fast".into());
        let small = record("d", 4, 5, 40);
        let (_dir, store) = store_with(vec![at_limit, over, fast, small]);
        let report = store.report(&ReportQuery::new(Group::Daily, TimeZone::UTC)).unwrap();
        let parts: Vec<(bool, Option<&str>, u64, u64)> = report.rows[0]
            .parts
            .iter()
            .map(|p| (p.long_context, p.speed.as_deref(), p.requests, p.tokens.output))
            .collect();
        assert_eq!(
            parts,
            vec![(false, None, 2, 50), (false, Some("fast"), 1, 30), (true, None, 1, 20)]
        );
        assert_eq!(report.totals.parts.len(), 3);
        assert_eq!(report.rows[0].unpriced_tokens, 0);
    }

    #[test]
    fn empty_store_gives_empty_report() {
        let store = Store::open_in_memory().unwrap();
        let report = store.report(&ReportQuery::new(Group::Daily, TimeZone::UTC)).unwrap();
        assert!(report.rows.is_empty());
        assert_eq!(report.totals.total_tokens, 0);
    }
}
