//! Where prices come from at run time: the live catalogue (fetched through
//! [`crate::engine::http`] at most once per TTL, cached under the cache directory), the
//! stale cache when the network fails, and always the embedded snapshot underneath.
//!
//! *Invariant:* a failed or corrupt fetch never replaces the cache: the previous prices
//! stay in use and the failure is reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::catalogue::Catalogue;
use super::resolve::{Layer, Pricer};
use super::rules::{Rules, SNAPSHOT_FILE};
use crate::config::Config;
use crate::def::compile::Perms;
use crate::def::registry::builtin_file;
use crate::engine::ctx::Ctx;
use crate::engine::http::{self, HttpRequest, Redirects};

/// The cached catalogue, in the models.dev shape, with when and where it came from.
pub const CACHE_FILE: &str = "pricing-catalogue.json";

/// The last failed fetch, so an offline machine does not retry on every run.
pub const STATE_FILE: &str = "pricing-state.json";

/// How prices are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Never fetch (config `pricing.offline` or `--offline`).
    pub offline: bool,
    /// How long a fetched catalogue stays fresh (config `refresh.pricing_ttl`).
    pub ttl: Duration,
    /// Fetch now, whatever the TTL and the last failure say.
    pub force: bool,
    /// How long to wait for the catalogue; `None` is the rules' timeout.
    pub timeout: Option<Duration>,
}

impl LoadOptions {
    pub fn from_config(cfg: &Config) -> LoadOptions {
        LoadOptions {
            offline: cfg.pricing.offline,
            ttl: cfg.refresh.pricing_ttl.get(),
            force: false,
            timeout: None,
        }
    }
}

/// What happened to the live catalogue on this load.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveStatus {
    /// Offline: only the cache (any age) and the snapshot.
    Offline,
    /// The cache is younger than the TTL.
    Fresh,
    /// Fetched and cached now.
    Fetched,
    /// Not fetched: a fetch failed recently.
    Backoff,
    /// The fetch failed; the message says why.
    Failed(String),
}

/// Loaded prices and what the user should hear about them.
#[derive(Debug)]
pub struct Loaded {
    pub pricer: Pricer,
    pub status: LiveStatus,
    /// Problems worth a line on stderr.
    pub warnings: Vec<String>,
}

#[derive(Debug)]
struct Cached {
    fetched_at_ms: i64,
    catalogue: Catalogue,
}

fn cache_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(CACHE_FILE)
}

fn state_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join(STATE_FILE)
}

/// Reads the cache; a missing cache is `Ok(None)`, a damaged one an error.
fn read_cache(cache_dir: &Path, rules: &Rules) -> Result<Option<Cached>, String> {
    let path = cache_path(cache_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read '{}': {e}", path.display())),
    };
    let damaged = |why: String| {
        format!(
            "the price cache '{}' is damaged ({why}); it will be fetched again",
            path.display()
        )
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
    let fetched_at_ms = value
        .get("fetched_at_ms")
        .and_then(Value::as_i64)
        .ok_or_else(|| damaged("no 'fetched_at_ms'".into()))?;
    let body = value.get("catalogue").ok_or_else(|| damaged("no 'catalogue'".into()))?;
    let catalogue = Catalogue::parse(&body.to_string(), rules).map_err(damaged)?;
    Ok(Some(Cached {
        fetched_at_ms,
        catalogue,
    }))
}

/// Writes `text` to `path` through a temporary file and a rename, so readers never see
/// half a file.
fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write '{}': {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write '{}': {e}", path.display())
    })
}

fn last_failure_ms(cache_dir: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(state_path(cache_dir)).ok()?;
    serde_json::from_str::<Value>(&text)
        .ok()?
        .get("last_failure_ms")?
        .as_i64()
}

/// The snapshot embedded in the binary, as a layer.
pub fn snapshot_layer(rules: &Rules) -> Result<Layer, String> {
    let bytes = builtin_file(SNAPSHOT_FILE).ok_or_else(|| format!("the built-in '{SNAPSHOT_FILE}' is missing"))?;
    let text = std::str::from_utf8(bytes).map_err(|e| format!("'{SNAPSHOT_FILE}' is not UTF-8: {e}"))?;
    let catalogue = Catalogue::parse(text, rules).map_err(|e| format!("'{SNAPSHOT_FILE}': {e}"))?;
    let generated = serde_json::from_str::<Value>(text).ok().and_then(|v| {
        v.pointer("/_snapshot/generated")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let source = match generated {
        Some(date) => format!("embedded snapshot of {date}"),
        None => "embedded snapshot".to_owned(),
    };
    Ok(Layer::new(source, catalogue, rules))
}

/// The time of `ms` as `2026-12-04 10:00 UTC`.
fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Fetches and validates the live catalogue.
pub fn fetch(ctx: &Ctx, rules: &Rules, timeout: Duration) -> Result<Catalogue, String> {
    let url = &rules.catalogue_url;
    let host = http::https_host(url).ok_or_else(|| format!("the catalogue URL '{url}' is not an https URL"))?;
    let perms = Perms {
        network: vec![host],
        ..Perms::default()
    };
    let mut req = HttpRequest::get(url.clone());
    req.timeout = timeout;
    req.headers.push(("accept".into(), "application/json".into()));
    let resp = http::send_blocking(&perms, &Redirects::from_ctx(ctx), &req)
        .map_err(|e| format!("cannot fetch the price catalogue '{url}': {e}"))?;
    if resp.status != 200 {
        return Err(format!(
            "cannot fetch the price catalogue '{url}': HTTP status {}",
            resp.status
        ));
    }
    let text = String::from_utf8(resp.body)
        .map_err(|_| format!("the price catalogue from '{url}' is not valid: not UTF-8 text"))?;
    Catalogue::parse(&text, rules).map_err(|e| format!("the price catalogue from '{url}' is not valid: {e}"))
}

/// Loads prices: overrides, then the live catalogue (fetched when the cache is older
/// than the TTL), then the embedded snapshot.
pub fn load(ctx: &Ctx, cache_dir: &Path, cfg: &Config, opts: &LoadOptions) -> Result<Loaded, String> {
    let rules = Rules::builtin()?;
    let mut warnings = Vec::new();
    let cached = match read_cache(cache_dir, &rules) {
        Ok(c) => c,
        Err(e) => {
            warnings.push(e);
            None
        }
    };
    let now = ctx.now_ms();
    let ttl_ms = i64::try_from(opts.ttl.as_millis()).unwrap_or(i64::MAX);
    let fresh = cached
        .as_ref()
        .is_some_and(|c| c.fetched_at_ms <= now && now - c.fetched_at_ms < ttl_ms);
    let retry_ms = i64::try_from(rules.retry_after.min(opts.ttl).as_millis()).unwrap_or(i64::MAX);
    let backing_off = last_failure_ms(cache_dir).is_some_and(|t| t <= now && now - t < retry_ms);

    let mut live: Option<(String, Catalogue)> = None;
    let status = if opts.offline && !opts.force {
        LiveStatus::Offline
    } else if fresh && !opts.force {
        LiveStatus::Fresh
    } else if backing_off && !opts.force {
        LiveStatus::Backoff
    } else {
        match fetch(ctx, &rules, opts.timeout.unwrap_or(rules.fetch_timeout)) {
            Ok(catalogue) => {
                let doc = json!({
                    "fetched_at_ms": now,
                    "url": rules.catalogue_url,
                    "catalogue": catalogue.to_json(),
                });
                if let Err(e) = write_atomic(&cache_path(cache_dir), &doc.to_string()) {
                    warnings.push(format!("cannot cache the price catalogue: {e}"));
                }
                let _ = std::fs::remove_file(state_path(cache_dir));
                live = Some((format!("{} (fetched {})", rules.catalogue_url, when(now)), catalogue));
                LiveStatus::Fetched
            }
            Err(e) => {
                let _ = write_atomic(
                    &state_path(cache_dir),
                    &json!({ "last_failure_ms": now, "error": e }).to_string(),
                );
                let kept = match &cached {
                    Some(c) => format!("using the prices cached {}", when(c.fetched_at_ms)),
                    None => "using the embedded snapshot".to_owned(),
                };
                warnings.push(format!("{e}; {kept}"));
                LiveStatus::Failed(e)
            }
        }
    };
    if live.is_none()
        && let Some(c) = cached
    {
        let age = if fresh { "cached" } else { "stale, cached" };
        live = Some((
            format!("{} ({age} {})", rules.catalogue_url, when(c.fetched_at_ms)),
            c.catalogue,
        ));
    }
    let mut layers = Vec::new();
    if let Some((source, catalogue)) = live {
        layers.push(Layer::new(source, catalogue, &rules));
    }
    layers.push(snapshot_layer(&rules)?);
    Ok(Loaded {
        pricer: Pricer::new(rules, layers, &cfg.pricing.overrides),
        status,
        warnings,
    })
}
