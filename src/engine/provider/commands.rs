//! `ttop providers [--json]` and `ttop doctor`.
//!
//! `providers` polls every provider once (concurrently), stores a snapshot of each poll
//! and prints them; it exits 0 whatever the providers answered. `doctor` checks every
//! definition without touching the network: credentials found (never printed), session
//! directories found, the last poll from the store, with ✓/✗ lines and hints.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::credentials::{Resolved, resolve};
use super::poll::{poll_all, snapshot_of};
use super::{ProviderUsage, RunEnv, rfc3339};
use crate::config::Config;
use crate::def::compile::CredFrom;
use crate::def::registry::{Registry, Status};
use crate::def::{CompileEnv, Definition, Provider};
use crate::engine::agent::discover::discover;
use crate::engine::ctx::{AllowedFiles, Ctx};
use crate::paths::Paths;
use crate::store::Store;

/// The deadline of one provider's poll in `ttop providers`.
const POLL_TIMEOUT: Duration = Duration::from_secs(30);

struct Loaded {
    paths: Paths,
    config: Config,
    registry: Registry,
}

fn load(ctx: &Ctx, db: Option<PathBuf>) -> Result<Loaded, String> {
    let paths = Paths::resolve(&|k| ctx.env(k), db).map_err(|e| e.to_string())?;
    let (config, err) = Config::load(&paths.config_file());
    if let Some(e) = err {
        eprintln!("ttop: {e} (using defaults)");
    }
    let env = CompileEnv {
        home: ctx.home().to_path_buf(),
    };
    let registry = Registry::load_all(Some(&paths.definitions_dir()), &config.disabled, &env);
    Ok(Loaded {
        paths,
        config,
        registry,
    })
}

fn providers_of(reg: &Registry) -> Vec<Arc<Provider>> {
    reg.active()
        .filter_map(|d| match d {
            Definition::Provider(p) => Some(Arc::clone(p)),
            _ => None,
        })
        .collect()
}

/// `ttop providers [--json]`.
pub fn providers_command(ctx: &Ctx, db: Option<PathBuf>, as_json: bool) -> Result<ExitCode, String> {
    let l = load(ctx, db)?;
    let providers = providers_of(&l.registry);
    let env = RunEnv::new(ctx.clone(), l.config.providers.clone());
    let results = poll_all(&providers, &env, POLL_TIMEOUT);
    match Store::open(&l.paths.db) {
        Ok(store) => {
            for u in results.iter().filter(|u| u.configured) {
                if let Err(e) = store.insert_provider_snapshot(&snapshot_of(u)) {
                    eprintln!("ttop: cannot store the poll of '{}': {e}", u.id);
                }
            }
        }
        Err(e) => eprintln!("ttop: polls not stored: {e}"),
    }
    let mut out = std::io::stdout().lock();
    if as_json {
        let list: Vec<_> = results.iter().map(ProviderUsage::to_json).collect();
        let v = json!({ "providers": list });
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let _ = write!(out, "{}", render_text(&results, ctx.now_ms()));
        if l.registry.has_errors() {
            let _ = writeln!(out, "\nSome definitions have errors; run 'ttop validate-def'.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "in 2h 5m" for a time ahead of `now`.
fn until(ms: i64, now: i64) -> String {
    let mins = (ms - now).max(0) / 60_000;
    let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if d > 0 {
        format!("in {d}d {h}h")
    } else if h > 0 {
        format!("in {h}h {m}m")
    } else {
        format!("in {m}m")
    }
}

/// The plain-text listing of `ttop providers`.
pub fn render_text(results: &[ProviderUsage], now: i64) -> String {
    let mut s = String::new();
    for u in results {
        let mark = if !u.configured {
            "·"
        } else if u.error.is_some() {
            "✗"
        } else {
            "✓"
        };
        if !u.configured {
            let why = u.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
            let _ = writeln!(s, "{mark} {:<22} not configured{why}", u.name);
            continue;
        }
        let plan = u.plan.as_deref().unwrap_or("");
        let _ = writeln!(s, "{mark} {:<22} {plan}", u.name);
        for l in &u.limits {
            let reset = l
                .resets_at
                .map(|r| format!("  resets {}", until(r, now)))
                .unwrap_or_default();
            let _ = writeln!(s, "    {:<32} {:>5.1}%{reset}", l.label, l.used_percent);
        }
        if let Some(t) = &u.tokens {
            let n = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.0}"));
            let _ = writeln!(
                s,
                "    tokens: input {}, output {}, cache read {}, cache write {}",
                n(t.input),
                n(t.output),
                n(t.cache_read),
                n(t.cache_write)
            );
        }
        if let Some(c) = &u.cost {
            let _ = writeln!(s, "    cost ({}): {:.2} {}", c.kind, c.total, c.currency);
        }
        if let Some(c) = &u.credits {
            let mut parts = Vec::new();
            if let Some(b) = &c.balance {
                parts.push(format!(
                    "balance {}",
                    b.as_str().map_or_else(|| b.to_string(), str::to_string)
                ));
            }
            if let Some(l) = c.limit {
                parts.push(format!("limit {l}"));
            }
            if c.unlimited == Some(true) {
                parts.push("unlimited".into());
            }
            if let Some(h) = c.has_credits {
                parts.push(if h {
                    "credits left".into()
                } else {
                    "no credits left".into()
                });
            }
            let _ = writeln!(s, "    credits: {}", parts.join(", "));
        }
        if u.limit_reached {
            let _ = writeln!(s, "    limit reached");
        }
        if let Some(e) = &u.error {
            let rl = if u.rate_limited { " (rate limited)" } else { "" };
            let _ = writeln!(s, "    error{rl}: {e}");
        }
    }
    if results.is_empty() {
        s.push_str("No providers are defined.\n");
    }
    s
}

/// Where a provider looks for credentials, for hints (never values).
fn looked_in(p: &Provider) -> String {
    let mut places: Vec<String> = Vec::new();
    for c in &p.credentials {
        let place = match &c.from {
            CredFrom::Env { name, .. } => format!("${name}"),
            CredFrom::File { shown, .. } => shown.clone(),
            CredFrom::Keychain { service, .. } => format!("the keychain item '{service}'"),
        };
        if !places.contains(&place) {
            places.push(place);
        }
    }
    places.join(", ")
}

/// `ttop doctor`.
pub fn doctor_command(ctx: &Ctx, db: Option<PathBuf>) -> Result<ExitCode, String> {
    let l = load(ctx, db)?;
    let store = Store::open(&l.paths.db).ok();
    let now = ctx.now_ms();
    let mut s = String::new();
    let _ = writeln!(s, "Providers:");
    let providers = providers_of(&l.registry);
    for p in &providers {
        let _ = writeln!(s, "{}", doctor_provider(p, ctx, now, store.as_ref()));
    }
    if providers.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    let _ = writeln!(s, "\nAgents:");
    let agents = l.registry.agents();
    for a in &agents {
        let allowed = AllowedFiles::for_ctx(&a.perms, ctx);
        let mut roots = Vec::new();
        let mut files = 0usize;
        let mut errors = Vec::new();
        for src in &a.sources {
            let d = discover(src, &a.perms, ctx, &allowed);
            files += d.files.len();
            for r in d.roots {
                if !roots.contains(&r) {
                    roots.push(r);
                }
            }
            errors.extend(d.errors);
        }
        if roots.is_empty() {
            let mut wanted: Vec<String> = Vec::new();
            for r in a
                .sources
                .iter()
                .flat_map(|src| src.roots.iter().map(|t| t.shell_form()))
            {
                if !wanted.contains(&r) {
                    wanted.push(r);
                }
            }
            let _ = writeln!(s, "  ✗ {} ({}): no session directory found", a.id, a.meta.name);
            let _ = writeln!(s, "      looked in: {}", wanted.join(", "));
            let _ = writeln!(
                s,
                "      hint: use the agent once, or set the env var its definition reads"
            );
        } else {
            let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            let _ = writeln!(
                s,
                "  ✓ {} ({}): {files} session file{} in {}",
                a.id,
                a.meta.name,
                if files == 1 { "" } else { "s" },
                shown.join(", ")
            );
        }
        for e in errors.iter().take(3) {
            let _ = writeln!(s, "      ✗ {e}");
        }
    }
    if agents.is_empty() {
        let _ = writeln!(s, "  (none)");
    }
    let _ = writeln!(s, "\nDefinitions:");
    let broken: Vec<_> = l
        .registry
        .entries
        .iter()
        .filter(|e| e.status == Status::Broken)
        .collect();
    if broken.is_empty() {
        let _ = writeln!(
            s,
            "  ✓ {} definition files load without errors",
            l.registry.entries.len()
        );
    } else {
        for e in broken {
            let _ = writeln!(s, "  ✗ {} has errors", e.origin.label().display());
        }
        let _ = writeln!(s, "      hint: run 'ttop validate-def' for details");
    }
    let _ = writeln!(s, "\nDatabase: {}", l.paths.db.display());
    let _ = write!(std::io::stdout().lock(), "{s}");
    Ok(ExitCode::SUCCESS)
}

fn doctor_provider(p: &Provider, ctx: &Ctx, now: i64, store: Option<&Store>) -> String {
    let mut s = String::new();
    let head = format!("{} ({})", p.id, p.meta.name);
    let mut found = true;
    if p.credentials.is_empty() {
        let _ = writeln!(s, "  ✓ {head}: needs no credential");
    } else {
        match resolve(p, ctx, now) {
            Resolved::Found { source, .. } => {
                let _ = writeln!(s, "  ✓ {head}: credentials found ({source})");
            }
            Resolved::Missing {
                expired: Some((src, at)),
                ..
            } => {
                let _ = writeln!(
                    s,
                    "  ✗ {head}: the credential from {src} expired at {}",
                    rfc3339(at).unwrap_or_default()
                );
                let _ = writeln!(s, "      hint: sign in again with the provider's own tool");
            }
            Resolved::Missing { problems, .. } => {
                found = false;
                let _ = writeln!(s, "  ✗ {head}: no credentials found");
                for pr in problems.iter().take(3) {
                    let _ = writeln!(s, "      ✗ {pr}");
                }
                let _ = writeln!(s, "      looked in: {}", looked_in(p));
                let _ = writeln!(
                    s,
                    "      hint: sign in with the provider's tool or set one of the env vars"
                );
            }
        }
    }
    match store.map(|st| st.last_provider_poll(&p.id)) {
        Some(Ok(Some(snap))) => {
            let when = rfc3339(snap.ts_ms).unwrap_or_default();
            if snap.ok {
                let used = snap
                    .max_used_percent
                    .map(|u| format!(", {u:.0}% used"))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "      ✓ last poll {when}: ok{}{used}",
                    snap.plan.map(|p| format!(" ({p})")).unwrap_or_default()
                );
            } else {
                let _ = writeln!(
                    s,
                    "      ✗ last poll {when}: {}",
                    snap.error.unwrap_or_else(|| "failed".into())
                );
            }
        }
        Some(Ok(None)) | None if found => {
            let _ = writeln!(s, "      · never polled (run 'ttop providers')");
        }
        Some(Ok(None)) | None => {}
        Some(Err(e)) => {
            let _ = writeln!(s, "      ✗ cannot read the last poll: {e}");
        }
    }
    s.trim_end().to_string()
}

/// `ttop validate-def PROVIDER.yaml --sample ID=FILE...`: the usage the definition maps
/// from recorded responses, as `ttop providers --json` would print it.
pub fn sample_command(reg: &Registry, samples: &[String]) -> Result<ExitCode, String> {
    if reg.has_errors() {
        let mut err = std::io::stderr().lock();
        for d in &reg.diagnostics {
            let _ = write!(err, "{}", d.render(reg.source_of(&d.file)));
        }
        return Ok(ExitCode::from(1));
    }
    let providers = providers_of(reg);
    let [p] = providers.as_slice() else {
        return Err("--sample needs exactly one provider definition file".into());
    };
    let mut pairs = Vec::new();
    for s in samples {
        let Some((id, file)) = s.split_once('=') else {
            return Err(format!(
                "--sample '{s}' is not ID=FILE (a request id and its recorded response)"
            ));
        };
        if !p.requests.iter().any(|r| r.id.as_deref() == Some(id)) && id != "refresh" {
            let ids: Vec<&str> = p.requests.iter().filter_map(|r| r.id.as_deref()).collect();
            return Err(format!(
                "--sample: '{id}' is not a request of '{}' (its requests: {})",
                p.id,
                ids.join(", ")
            ));
        }
        pairs.push((id.to_string(), PathBuf::from(file)));
    }
    let usage = crate::def::selftest::sample_provider(p, &pairs, None)?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&usage.to_json()).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
