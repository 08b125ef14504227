//! The dashboard's queries: per-session usage inside a time window, session lifespans,
//! recent activity buckets, 15-minute usage buckets for trends and budgets, and one
//! session's timeline. `crate::model` turns these rows into what the views show; no SQL
//! lives there.
//!
//! Every query returns usage split by provider, model and whether the agent reported a
//! cost, so pricing can price each part.

use std::collections::HashMap;

use rusqlite::types::Value;

use super::{LONG_CONTEXT_THRESHOLD, Store, StoreError, get_u64};
use crate::engine::record::Tokens;

/// The usage of one group of records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartSums {
    pub tokens: Tokens,
    pub requests: u64,
    /// The sum of the reported costs, when these records all had one.
    pub cost_reported: Option<f64>,
    /// The sum of `duration_ms` over the records that recorded one.
    pub duration_ms: u64,
    /// The output tokens of the records that recorded a duration.
    pub timed_output: u64,
    /// Every request here had more than [`LONG_CONTEXT_THRESHOLD`] prompt tokens.
    pub long_context: bool,
    /// The speed or service tier the agent recorded.
    pub speed: Option<String>,
}

/// The usage of one session with one provider and model inside a window.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPart {
    pub session_id: String,
    pub agent: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub project: Option<String>,
    pub session_name: Option<String>,
    /// The first and last request of this part inside the window (Unix ms).
    pub first_ms: i64,
    pub last_ms: i64,
    pub sums: PartSums,
}

/// Usage in one 15-minute UTC bucket, split by agent, provider, model and project.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketPart {
    /// The bucket's first instant (Unix ms).
    pub start_ms: i64,
    pub agent: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub project: Option<String>,
    pub sums: PartSums,
}

/// One request of a session, for its timeline and speed.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub ts_ms: i64,
    pub model: Option<String>,
    pub tokens: Tokens,
    pub duration_ms: Option<u64>,
}

/// The width of a trend bucket in milliseconds (15 minutes: every real zone offset is a
/// multiple of it, so a bucket never spans two local dates).
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// The sums every query reads, then the grouping flags (reported cost, long context,
/// speed), in [`sums`] order.
fn sums_sql() -> String {
    format!(
        "sum(input), sum(output), sum(cache_read), sum(cache_write), sum(cache_write_1h), \
         sum(reasoning), count(*), total(cost_reported), cost_reported IS NOT NULL AS reported, \
         total(duration_ms), total(CASE WHEN duration_ms IS NOT NULL THEN output ELSE 0 END), \
         input + cache_read + cache_write > {LONG_CONTEXT_THRESHOLD} AS long_ctx, speed"
    )
}

/// The grouping columns that keep parts priceable.
const PART_GROUP: &str = "reported, long_ctx, speed";

/// Reads the columns of [`sums_sql`] starting at `at`.
fn sums(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<PartSums> {
    let reported: bool = row.get(at + 8)?;
    let duration: f64 = row.get(at + 9)?;
    let timed: f64 = row.get(at + 10)?;
    Ok(PartSums {
        tokens: Tokens {
            input: get_u64(row, at)?,
            output: get_u64(row, at + 1)?,
            cache_read: get_u64(row, at + 2)?,
            cache_write: get_u64(row, at + 3)?,
            cache_write_1h: get_u64(row, at + 4)?,
            reasoning: get_u64(row, at + 5)?,
        },
        requests: get_u64(row, at + 6)?,
        cost_reported: if reported { Some(row.get(at + 7)?) } else { None },
        duration_ms: duration.max(0.0) as u64,
        timed_output: timed.max(0.0) as u64,
        long_context: row.get(at + 11)?,
        speed: row.get(at + 12)?,
    })
}

impl Store {
    /// Usage per session, provider and model of the records at or after `since_ms`
    /// (everything when `None`).
    pub fn session_parts(&self, since_ms: Option<i64>) -> Result<Vec<SessionPart>, StoreError> {
        let sql = format!(
            "SELECT session_id, agent, provider, model, max(project), max(session_name), \
             min(ts_ms), max(ts_ms), {} FROM records WHERE ts_ms >= ?1 \
             GROUP BY session_id, agent, provider, model, {PART_GROUP}",
            sums_sql()
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([since_ms.unwrap_or(i64::MIN)], |row| {
            Ok(SessionPart {
                session_id: row.get(0)?,
                agent: row.get(1)?,
                provider: row.get(2)?,
                model: row.get(3)?,
                project: row.get(4)?,
                session_name: row.get(5)?,
                first_ms: row.get(6)?,
                last_ms: row.get(7)?,
                sums: sums(row, 8)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The first and last request of each of these sessions, over all time.
    pub fn session_spans(&self, ids: &[&str]) -> Result<HashMap<String, (i64, i64)>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT min(ts_ms), max(ts_ms) FROM records WHERE session_id = ?1")?;
        for id in ids {
            let span: (Option<i64>, Option<i64>) = stmt.query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))?;
            if let (Some(first), Some(last)) = span {
                out.insert((*id).to_owned(), (first, last));
            }
        }
        Ok(out)
    }

    /// Input plus output tokens and requests per `bucket_ms` bucket from
    /// `since_ms` on, keyed by the bucket's first instant.
    pub fn activity(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let bucket_ms = bucket_ms.max(1);
        let sql = format!(
            "SELECT ts_ms / {bucket_ms} - (ts_ms % {bucket_ms} < 0) AS b, \
             sum(input + output), count(*) \
             FROM records WHERE ts_ms >= ?1 GROUP BY b ORDER BY b"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([since_ms], |row| {
            let b: i64 = row.get(0)?;
            Ok((b * bucket_ms, get_u64(row, 1)?, get_u64(row, 2)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Usage per 15-minute bucket, agent, provider, model and project from `since_ms` on.
    pub fn bucket_parts(&self, since_ms: i64) -> Result<Vec<BucketPart>, StoreError> {
        let sql = format!(
            "SELECT ts_ms / {BUCKET_MS} - (ts_ms % {BUCKET_MS} < 0) AS b, agent, provider, model, project, \
             {} FROM records WHERE ts_ms >= ?1 GROUP BY b, agent, provider, model, project, {PART_GROUP}",
            sums_sql()
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([Value::Integer(since_ms)], |row| {
            let b: i64 = row.get(0)?;
            Ok(BucketPart {
                start_ms: b * BUCKET_MS,
                agent: row.get(1)?,
                provider: row.get(2)?,
                model: row.get(3)?,
                project: row.get(4)?,
                sums: sums(row, 5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Every request of one session in time order (at most `limit`, the latest kept).
    pub fn session_requests(&self, session_id: &str, limit: usize) -> Result<Vec<RequestRow>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT ts_ms, model, input, output, cache_read, cache_write, cache_write_1h, reasoning, duration_ms \
             FROM records WHERE session_id = ?1 ORDER BY ts_ms DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![session_id, limit as i64], |row| {
            let duration: Option<i64> = row.get(8)?;
            Ok(RequestRow {
                ts_ms: row.get(0)?,
                model: row.get(1)?,
                tokens: Tokens {
                    input: get_u64(row, 2)?,
                    output: get_u64(row, 3)?,
                    cache_read: get_u64(row, 4)?,
                    cache_write: get_u64(row, 5)?,
                    cache_write_1h: get_u64(row, 6)?,
                    reasoning: get_u64(row, 7)?,
                },
                duration_ms: duration.and_then(|d| u64::try_from(d).ok()),
            })
        })?;
        let mut out = rows.collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// How many records the store holds.
    pub fn record_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT count(*) FROM records", [], |row| get_u64(row, 0))?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;
    use crate::engine::record::KeepRule;
    use crate::store::FileCommit;
    use crate::store::tests::record;

    fn store() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let mut a = record("a1", 1_000, 10, 5);
        a.session_id = "s1".into();
        a.model = Some("m1".into());
        a.duration_ms = Some(500);
        let mut b = record("a2", 2_000, 20, 7);
        b.session_id = "s1".into();
        b.model = Some("m2".into());
        b.cost_reported = Some(0.5);
        let mut c = record("a3", 3_000_000, 1, 1);
        c.session_id = "s2".into();
        let agent = a.agent.clone();
        store
            .commit(&[FileCommit {
                agent,
                keep: KeepRule::Last,
                file: crate::store::FileState {
                    path: "/x".into(),
                    ..Default::default()
                },
                records: vec![a, b, c],
            }])
            .unwrap();
        store
    }

    #[test]
    fn session_parts_split_by_model_and_window() {
        let s = store();
        let all = s.session_parts(None).unwrap();
        assert_eq!(all.len(), 3);
        let m1 = all.iter().find(|p| p.model.as_deref() == Some("m1")).unwrap();
        assert_eq!(m1.sums.tokens.input, 10);
        assert_eq!(m1.sums.duration_ms, 500);
        assert_eq!(m1.sums.timed_output, 5);
        assert_eq!(m1.sums.cost_reported, None);
        let m2 = all.iter().find(|p| p.model.as_deref() == Some("m2")).unwrap();
        assert_eq!(m2.sums.cost_reported, Some(0.5));
        let recent = s.session_parts(Some(1_000_000)).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].session_id, "s2");
        let spans = s.session_spans(&["s1", "nope"]).unwrap();
        assert_eq!(spans.get("s1"), Some(&(1_000, 2_000)));
        assert!(!spans.contains_key("nope"));
    }

    #[test]
    fn activity_and_buckets_and_requests() {
        let s = store();
        let act = s.activity(0, 1_000_000).unwrap();
        assert_eq!(act, vec![(0, 15 + 27, 2), (3_000_000, 2, 1)]); // Input + output.
        let buckets = s.bucket_parts(0).unwrap();
        assert_eq!(buckets.iter().map(|b| b.sums.requests).sum::<u64>(), 3);
        let reqs = s.session_requests("s1", 10).unwrap();
        assert_eq!(reqs.iter().map(|r| r.ts_ms).collect::<Vec<_>>(), vec![1_000, 2_000]);
        assert_eq!(reqs[0].duration_ms, Some(500));
        assert_eq!(s.record_count().unwrap(), 3);
    }
}
