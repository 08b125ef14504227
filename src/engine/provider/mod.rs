//! Providers: turn a compiled provider definition into live usage (plan, limit windows,
//! tokens, cost, credits), polled on a schedule.
//!
//! **Architecture invariant:** no provider is known by name here. Where a credential is,
//! which requests to send and how the answers map into [`ProviderUsage`] all come from
//! the definition ([`crate::def::Provider`]).
//!
//! One fetch ([`fetch`]) runs these steps, each in its own module:
//!
//! - [`credentials`]: try the definition's sources in order (env vars, JSON files, the
//!   macOS Keychain), checked against its permissions at run time, with expiry checks,
//!   then an OAuth refresh when the definition declares one ([`credentials::TokenCache`]
//!   keeps refreshed tokens in memory only).
//! - [`request`]: render and send each request through [`crate::engine::http`] (timeouts,
//!   bounded retries for 5xx and network errors, `Retry-After`, fallback URLs,
//!   `on_status`, `success`, paging), behind a [`request::Transport`] so tests and the
//!   definitions' own tests can answer from recorded files.
//! - [`mapping`]: map the responses into the closed usage shape.
//! - [`redact`]: every credential value and secret config value is replaced by
//!   `[redacted]` in errors and output.
//!
//! [`poll`] runs fetches concurrently on a schedule with a circuit breaker and stores a
//! snapshot of each poll; [`commands`] holds `ttop providers` and `ttop doctor`.

pub mod commands;
pub mod credentials;
pub mod mapping;
pub mod poll;
pub mod redact;
pub mod request;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::def::Provider;
use crate::engine::ctx::Ctx;
use crate::engine::http::Redirects;

pub use credentials::TokenCache;
pub use poll::{PollOptions, Poller, poll_all};
pub use request::{FixtureTransport, HttpTransport, Transport};

/// One limit window of a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub label: String,
    /// 0–100 (more when a provider reports overage).
    pub used_percent: f64,
    /// When the window resets, Unix ms.
    pub resets_at: Option<i64>,
    pub window_minutes: Option<i64>,
}

/// Token counts a provider reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tokens {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
}

/// A cost a provider reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// `actual` or `estimated`.
    pub kind: &'static str,
    pub total: f64,
    pub currency: String,
}

/// Prepaid credits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credits {
    pub has_credits: Option<bool>,
    /// A number, or text such as `$12.50`.
    pub balance: Option<Value>,
    pub limit: Option<f64>,
    pub unlimited: Option<bool>,
}

/// What one fetch of one provider gave: the closed usage shape every provider maps into.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderUsage {
    pub id: String,
    pub name: String,
    /// A credential was found (providers without one are listed but never polled).
    pub configured: bool,
    pub plan: Option<String>,
    /// Sorted by used percent, highest first.
    pub limits: Vec<Limit>,
    pub limit_reached: bool,
    pub tokens: Option<Tokens>,
    pub cost: Option<Cost>,
    pub credits: Option<Credits>,
    /// What went wrong, redacted; `None` when the fetch worked.
    pub error: Option<String>,
    pub rate_limited: bool,
    /// With `rate_limited`: no request before this time (Unix ms).
    pub retry_at: Option<i64>,
    /// When the fetch finished, Unix ms.
    pub fetched_at: i64,
    /// Where the credential came from (`env 'X'`, `file '~/.x/auth.json'`), never its value.
    pub credential_source: Option<String>,
}

impl ProviderUsage {
    /// An empty result for a provider.
    pub fn new(p: &Provider, now_ms: i64) -> ProviderUsage {
        ProviderUsage {
            id: p.id.clone(),
            name: p.meta.name.clone(),
            configured: false,
            plan: None,
            limits: Vec::new(),
            limit_reached: false,
            tokens: None,
            cost: None,
            credits: None,
            error: None,
            rate_limited: false,
            retry_at: None,
            fetched_at: now_ms,
            credential_source: None,
        }
    }

    /// Whether the fetch worked (a configured provider without an error).
    pub fn ok(&self) -> bool {
        self.configured && self.error.is_none()
    }

    /// The highest used percent of any limit: what gauges, sorting and history use.
    pub fn max_used_percent(&self) -> Option<f64> {
        self.limits.iter().map(|l| l.used_percent).reduce(f64::max)
    }

    /// The JSON object `ttop providers --json` prints for this provider.
    pub fn to_json(&self) -> Value {
        let limits: Vec<Value> = self
            .limits
            .iter()
            .map(|l| {
                json!({
                    "label": l.label,
                    "used_percent": num(Some(l.used_percent)),
                    "resets_at": l.resets_at.and_then(rfc3339),
                    "window_minutes": l.window_minutes,
                })
            })
            .collect();
        let tokens = self.tokens.as_ref().map(|t| {
            json!({ "input": num(t.input), "output": num(t.output), "cache_read": num(t.cache_read), "cache_write": num(t.cache_write) })
        });
        let cost = self
            .cost
            .as_ref()
            .map(|c| json!({ "kind": c.kind, "total": c.total, "currency": c.currency }));
        let credits = self.credits.as_ref().map(|c| {
            json!({ "has_credits": c.has_credits, "balance": c.balance, "limit": c.limit, "unlimited": c.unlimited })
        });
        json!({
            "id": self.id,
            "name": self.name,
            "configured": self.configured,
            "plan": self.plan,
            "limits": limits,
            "limit_reached": self.limit_reached,
            "tokens": tokens,
            "cost": cost,
            "credits": credits,
            "error": self.error,
            "rate_limited": self.rate_limited,
            "fetched_at": rfc3339(self.fetched_at),
        })
    }
}

/// Whole numbers print without a fraction.
fn num(v: Option<f64>) -> Value {
    match v {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
        Some(f) => json!(f),
        None => Value::Null,
    }
}

/// Unix ms as RFC 3339 text (UTC, no fraction when whole seconds).
pub fn rfc3339(ms: i64) -> Option<String> {
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    Some(if ms % 1000 == 0 {
        ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    })
}

/// Everything a fetch needs from outside: the context (env, home, clock), the user's
/// per-provider config, the token cache, the retry policy and the transport.
#[derive(Clone)]
pub struct RunEnv {
    pub ctx: Ctx,
    /// `[providers.<id>]` of config.toml, by provider id.
    pub config: BTreeMap<String, BTreeMap<String, Value>>,
    pub tokens: Arc<TokenCache>,
    /// Pauses before each retry of a 5xx or network error (default 200 ms, 600 ms).
    pub retry_delays: Vec<Duration>,
    pub transport: Arc<dyn Transport>,
    /// Credentials used instead of the definition's sources (the definitions' own tests).
    pub credentials_override: Option<Map<String, Value>>,
}

impl RunEnv {
    /// The real network (through `engine::http`, honouring `TTOP_HTTP_REDIRECT` from the
    /// context) and the default retry policy.
    pub fn new(ctx: Ctx, config: BTreeMap<String, BTreeMap<String, Value>>) -> RunEnv {
        let redirects = Redirects::from_ctx(&ctx);
        RunEnv {
            ctx,
            config,
            tokens: Arc::new(TokenCache::default()),
            retry_delays: vec![Duration::from_millis(200), Duration::from_millis(600)],
            transport: Arc::new(HttpTransport { redirects }),
            credentials_override: None,
        }
    }
}

/// Fetches one provider's usage. Never fails: problems land in `error` (redacted).
pub async fn fetch(p: &Provider, env: &RunEnv) -> ProviderUsage {
    request::run(p, env).await
}

/// [`fetch`] from synchronous code, on the shared runtime.
pub fn fetch_blocking(p: &Provider, env: &RunEnv) -> ProviderUsage {
    match crate::engine::http::runtime() {
        Ok(rt) => rt.block_on(fetch(p, env)),
        Err(e) => {
            let mut u = ProviderUsage::new(p, env.ctx.now_ms());
            u.error = Some(e.to_string());
            u
        }
    }
}
