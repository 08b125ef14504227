//! Provider poll snapshots: one row per poll, for limit history and `ttop doctor`.
//!
//! The store knows snapshots, not provider definitions: the engine hands it the
//! already-redacted JSON of a poll.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// One poll of one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSnapshot {
    pub provider: String,
    /// When the poll finished, Unix ms.
    pub ts_ms: i64,
    pub ok: bool,
    pub plan: Option<String>,
    pub max_used_percent: Option<f64>,
    pub limit_reached: bool,
    pub rate_limited: bool,
    /// Redacted.
    pub error: Option<String>,
    /// The poll as JSON (redacted).
    pub data: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProviderSnapshot> {
    Ok(ProviderSnapshot {
        provider: r.get(0)?,
        ts_ms: r.get(1)?,
        ok: r.get::<_, i64>(2)? != 0,
        plan: r.get(3)?,
        max_used_percent: r.get(4)?,
        limit_reached: r.get::<_, i64>(5)? != 0,
        rate_limited: r.get::<_, i64>(6)? != 0,
        error: r.get(7)?,
        data: r.get(8)?,
    })
}

const COLUMNS: &str = "provider, ts_ms, ok, plan, max_used_percent, limit_reached, rate_limited, error, data";

impl Store {
    /// Records one poll (a second poll in the same millisecond replaces the first).
    pub fn insert_provider_snapshot(&self, s: &ProviderSnapshot) -> Result<(), StoreError> {
        self.conn.execute(
            &format!(
                "INSERT OR REPLACE INTO provider_snapshots ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                s.provider,
                s.ts_ms,
                i64::from(s.ok),
                s.plan,
                s.max_used_percent,
                i64::from(s.limit_reached),
                i64::from(s.rate_limited),
                s.error,
                s.data
            ],
        )?;
        Ok(())
    }

    /// The successful polls of a provider since `since_ms`, oldest first (limit history).
    pub fn provider_history(&self, provider: &str, since_ms: i64) -> Result<Vec<ProviderSnapshot>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM provider_snapshots WHERE provider = ?1 AND ts_ms >= ?2 AND ok = 1 ORDER BY ts_ms"
        ))?;
        let rows = stmt.query_map(params![provider, since_ms], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The last poll of a provider, worked or not.
    pub fn last_provider_poll(&self, provider: &str) -> Result<Option<ProviderSnapshot>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM provider_snapshots WHERE provider = ?1 ORDER BY ts_ms DESC LIMIT 1"
        ))?;
        Ok(stmt.query_row([provider], row).optional()?)
    }

    /// Drops polls older than `before_ms`; returns how many.
    pub fn prune_provider_snapshots(&self, before_ms: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM provider_snapshots WHERE ts_ms < ?1", [before_ms])?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn snap(provider: &str, ts_ms: i64, ok: bool) -> ProviderSnapshot {
        ProviderSnapshot {
            provider: provider.into(),
            ts_ms,
            ok,
            plan: Some("Pro".into()),
            max_used_percent: ok.then_some(42.5),
            limit_reached: false,
            rate_limited: false,
            error: (!ok).then(|| "HTTP 500".into()),
            data: "{}".into(),
        }
    }

    #[test]
    fn history_and_last_poll() {
        let store = Store::open_in_memory().unwrap();
        store.insert_provider_snapshot(&snap("a", 1000, true)).unwrap();
        store.insert_provider_snapshot(&snap("a", 2000, false)).unwrap();
        store.insert_provider_snapshot(&snap("a", 3000, true)).unwrap();
        store.insert_provider_snapshot(&snap("b", 1500, true)).unwrap();
        let h = store.provider_history("a", 0).unwrap();
        assert_eq!(h.iter().map(|s| s.ts_ms).collect::<Vec<_>>(), vec![1000, 3000]);
        assert_eq!(store.last_provider_poll("a").unwrap().unwrap().ts_ms, 3000);
        assert_eq!(store.last_provider_poll("zzz").unwrap(), None);
        assert_eq!(store.prune_provider_snapshots(2500).unwrap(), 3);
        assert_eq!(store.provider_history("a", 0).unwrap().len(), 1);
    }
}
