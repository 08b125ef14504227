//! Polling: every provider on its own schedule, concurrently, so one slow or failing
//! provider never delays another.
//!
//! - Each poll has its own deadline ([`PollOptions::timeout`]).
//! - The next poll of a provider comes `interval` after the last (config
//!   `refresh.interval`, 60 s by default), later when it is rate limited (until
//!   `Retry-After`), and later still when its circuit breaker is open: after
//!   [`PollOptions::failures_before_backoff`] failures in a row the pause doubles with
//!   each further failure, up to [`PollOptions::max_backoff`]. One success closes it.
//! - Each poll of a configured provider is stored as a snapshot (limit history).
//!
//! The TUI uses [`Poller`]: it sends every result over a `std::sync::mpsc` channel and
//! can be asked to poll at once ([`Poller::refresh_now`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::{ProviderUsage, RunEnv, fetch};
use crate::def::Provider;
use crate::store::{ProviderSnapshot, Store};

/// How polling behaves.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// The pause between two polls of a provider that works.
    pub interval: Duration,
    /// The deadline of one poll (credentials, refresh and every request).
    pub timeout: Duration,
    /// Failures in a row before the breaker opens.
    pub failures_before_backoff: u32,
    /// The longest pause the breaker imposes.
    pub max_backoff: Duration,
    /// Where snapshots are stored (none: not stored).
    pub db: Option<PathBuf>,
}

impl Default for PollOptions {
    fn default() -> Self {
        PollOptions {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            failures_before_backoff: 3,
            max_backoff: Duration::from_secs(15 * 60),
            db: None,
        }
    }
}

impl PollOptions {
    /// The options config.toml asks for (`refresh.interval`), storing into `db`.
    pub fn from_config(cfg: &crate::config::Config, db: Option<PathBuf>) -> PollOptions {
        PollOptions {
            interval: cfg.refresh.interval.get().max(Duration::from_secs(1)),
            db,
            ..PollOptions::default()
        }
    }
}

/// One provider's circuit breaker.
#[derive(Debug, Clone, Default)]
pub struct Breaker {
    /// Failed polls in a row.
    pub failures: u32,
}

impl Breaker {
    /// Records a poll and returns the pause before the next one.
    pub fn next_delay(&mut self, u: &ProviderUsage, opts: &PollOptions, now_ms: i64) -> Duration {
        let mut delay = opts.interval;
        if u.ok() || !u.configured {
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            if self.failures >= opts.failures_before_backoff {
                let exp = (self.failures - opts.failures_before_backoff + 1).min(20);
                delay = opts
                    .interval
                    .saturating_mul(1u32 << exp)
                    .min(opts.max_backoff)
                    .max(opts.interval);
            }
        }
        if let Some(at) = u.retry_at.filter(|_| u.rate_limited) {
            let wait = Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0));
            delay = delay.max(wait);
        }
        delay
    }
}

/// One poll with its deadline.
pub async fn poll_one(p: &Provider, env: &RunEnv, timeout: Duration) -> ProviderUsage {
    match tokio::time::timeout(timeout, fetch(p, env)).await {
        Ok(u) => u,
        Err(_) => {
            let mut u = ProviderUsage::new(p, env.ctx.now_ms());
            u.configured = true;
            u.error = Some(format!("no answer within {} s", timeout.as_secs_f64()));
            u
        }
    }
}

/// Polls every provider once, concurrently, each with its own deadline; results come
/// in the order of `providers`.
pub fn poll_all(providers: &[Arc<Provider>], env: &RunEnv, timeout: Duration) -> Vec<ProviderUsage> {
    let rt = match crate::engine::http::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return providers
                .iter()
                .map(|p| {
                    let mut u = ProviderUsage::new(p, env.ctx.now_ms());
                    u.error = Some(e.to_string());
                    u
                })
                .collect();
        }
    };
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, p) in providers.iter().enumerate() {
            let (p, env) = (Arc::clone(p), env.clone());
            set.spawn(async move { (i, poll_one(&p, &env, timeout).await) });
        }
        let mut out: Vec<Option<ProviderUsage>> = vec![None; providers.len()];
        while let Some(r) = set.join_next().await {
            if let Ok((i, u)) = r {
                out[i] = Some(u);
            }
        }
        out.into_iter()
            .zip(providers)
            .map(|(u, p)| {
                u.unwrap_or_else(|| {
                    let mut u = ProviderUsage::new(p, env.ctx.now_ms());
                    u.configured = true;
                    u.error = Some("the poll stopped unexpectedly".into());
                    u
                })
            })
            .collect()
    })
}

/// The snapshot stored for a poll.
pub fn snapshot_of(u: &ProviderUsage) -> ProviderSnapshot {
    ProviderSnapshot {
        provider: u.id.clone(),
        ts_ms: u.fetched_at,
        ok: u.ok(),
        plan: u.plan.clone(),
        max_used_percent: u.max_used_percent(),
        limit_reached: u.limit_reached,
        rate_limited: u.rate_limited,
        error: u.error.clone(),
        data: u.to_json().to_string(),
    }
}

/// Background polling; stops when dropped.
pub struct Poller {
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
    writer: Option<JoinHandle<()>>,
}

impl Poller {
    /// Starts one polling task per provider on the shared runtime; every result is
    /// stored (when `opts.db` is set) and sent over `tx`. Polling ends when `tx`'s
    /// receiver is dropped or the poller is stopped.
    pub fn start(
        providers: Vec<Arc<Provider>>,
        env: RunEnv,
        opts: PollOptions,
        tx: Sender<ProviderUsage>,
    ) -> Result<Poller, String> {
        let rt = crate::engine::http::runtime().map_err(|e| e.to_string())?;
        let (stop, stop_rx) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let (itx, irx) = std::sync::mpsc::channel::<ProviderUsage>();
        for p in providers {
            let (env, opts, itx, wake) = (env.clone(), opts.clone(), itx.clone(), Arc::clone(&wake));
            let mut stop_rx = stop_rx.clone();
            rt.spawn(async move {
                let mut breaker = Breaker::default();
                loop {
                    // Stopping does not wait for a poll in flight.
                    let u = tokio::select! {
                        u = poll_one(&p, &env, opts.timeout) => u,
                        _ = stop_rx.changed() => break,
                    };
                    let delay = breaker.next_delay(&u, &opts, env.ctx.now_ms());
                    if itx.send(u).is_err() {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = wake.notified() => {}
                        _ = stop_rx.changed() => break,
                    }
                    if *stop_rx.borrow() {
                        break;
                    }
                }
            });
        }
        drop(itx);
        let db = opts.db.clone();
        let stopped = stop.subscribe();
        let writer = std::thread::Builder::new()
            .name("ttop-provider-poll".into())
            .spawn(move || {
                let store = db.and_then(|path| Store::open(&path).ok());
                loop {
                    let u = match irx.recv_timeout(Duration::from_millis(100)) {
                        Ok(u) => u,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) if *stopped.borrow() => break,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    };
                    if let Some(s) = &store
                        && u.configured
                    {
                        // A failed write loses one history point; the poll result is
                        // still delivered.
                        let _ = s.insert_provider_snapshot(&snapshot_of(&u));
                    }
                    if tx.send(u).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| format!("cannot start the polling thread: {e}"))?;
        Ok(Poller {
            stop,
            wake,
            writer: Some(writer),
        })
    }

    /// Polls every provider now (those waiting between polls).
    pub fn refresh_now(&self) {
        self.wake.notify_waiters();
    }

    /// Stops polling and waits for the last results to be stored.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        self.wake.notify_waiters();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn usage(ok: bool, rate_limited_until: Option<i64>) -> ProviderUsage {
        ProviderUsage {
            id: "p".into(),
            name: "P".into(),
            configured: true,
            plan: None,
            limits: vec![],
            limit_reached: false,
            tokens: None,
            cost: None,
            credits: None,
            error: (!ok).then(|| "boom".into()),
            rate_limited: rate_limited_until.is_some(),
            retry_at: rate_limited_until,
            fetched_at: 0,
            credential_source: None,
        }
    }

    #[test]
    fn breaker_backs_off_exponentially_and_closes_on_success() {
        let opts = PollOptions {
            interval: Duration::from_secs(60),
            ..PollOptions::default()
        };
        let mut b = Breaker::default();
        let d: Vec<u64> = (0..8)
            .map(|_| b.next_delay(&usage(false, None), &opts, 0).as_secs())
            .collect();
        assert_eq!(d, vec![60, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(b.next_delay(&usage(true, None), &opts, 0).as_secs(), 60);
        assert_eq!(b.failures, 0);
        // Rate limited until 10 minutes from now: no poll before then.
        assert_eq!(b.next_delay(&usage(false, Some(600_000)), &opts, 0).as_secs(), 600);
    }
}
