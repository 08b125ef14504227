//! Credential resolution: a definition's sources tried in order, under its permissions.
//!
//! - `env`: read through [`Ctx::env_for`], so only declared variables are readable.
//! - `file`: a literal path (already normalised and checked at load), or a template of
//!   `env.X` holes rendered here (once per element of a comma-separated value; skipped
//!   when a variable is unset). Either is resolved through its symlinks and refused
//!   unless the real path lies under `permissions.files` (templated entries included);
//!   the JSON document is `$` of the `map` paths and `doc` of the `when` and `map`
//!   expressions.
//! - `keychain`: a macOS Keychain generic password, JSON or plain text; skipped on other
//!   systems.
//!
//! A source whose `expires_at` has passed is skipped, unless it carries a
//! `refresh_token` and the definition declares a `refresh`. Refreshed tokens live in
//! [`TokenCache`], in memory only: nothing is ever written back to a credential file.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::def::Provider;
use crate::def::compile::{CCredential, CredFrom, CredPath, normalize, render_with_env};
use crate::def::expr::{Scope, timestamp_ms};
use crate::def::value::CompiledValue;
use crate::def::value::EvalCtx;
use crate::engine::ctx::{AllowedFiles, Ctx};

/// The largest credential file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// What resolution found.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A credential, and where it came from (never its value).
    Found { cred: Map<String, Value>, source: String },
    /// Nothing usable: the best explanation (an expired credential, a refused or broken
    /// file), or `None` when simply nothing was there.
    Missing {
        expired: Option<(String, i64)>,
        problems: Vec<String>,
    },
}

/// Unix ms of a credential's `expires_at` (a number, a numeric string or RFC 3339).
pub fn expiry_ms(cred: &Map<String, Value>) -> Option<i64> {
    match cred.get("expires_at")? {
        Value::String(s) => s.trim().parse::<f64>().ok().map_or_else(
            || timestamp_ms(&Value::String(s.clone())),
            |f| timestamp_ms(&serde_json::json!(f)),
        ),
        v => timestamp_ms(v),
    }
    .filter(|ms| *ms > 0)
}

fn non_empty_str(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if !s.trim().is_empty())
}

/// Evaluates a source's `map` over a document; nulls are left out.
fn map_fields(map: &[(String, CompiledValue)], doc: &Value, now: &Value) -> Result<Map<String, Value>, String> {
    let named: [(&str, &Value); 2] = [("doc", doc), ("now_ms", now)];
    let cx = EvalCtx {
        record: Some(doc),
        item: None,
        named: &named,
        file: None,
    };
    let mut out = Map::new();
    for (k, cv) in map {
        match cv.eval(&cx) {
            Ok(Some(Value::Null)) | Ok(None) => {}
            Ok(Some(v)) => {
                out.insert(k.clone(), v);
            }
            Err(e) => return Err(format!("field '{k}': {e}")),
        }
    }
    Ok(out)
}

fn read_json_file(path: &std::path::Path) -> Result<Value, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    f.take(MAX_FILE).read_to_string(&mut text).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("is not JSON ({e})"))
}

/// Reads a credential file after the permission check; `None` when it does not exist.
fn read_file_source(path: &Path, shown: &str, allowed: &AllowedFiles, problems: &mut Vec<String>) -> Option<Value> {
    // A missing file is the ordinary "not signed in" case; a path that exists (even as a
    // dangling or escaping symlink) is checked.
    std::fs::symlink_metadata(path).ok()?;
    match allowed.check(path) {
        Err(e) => {
            problems.push(format!("file '{shown}' refused: {e}"));
            None
        }
        Ok(real) => match read_json_file(&real) {
            Ok(doc) => Some(doc),
            Err(e) => {
                problems.push(format!("file '{shown}' {e}"));
                None
            }
        },
    }
}

/// The documents a source offers, each with where it came from: one at most for `env`,
/// `keychain` and a literal file; one per rendering of a templated file (a comma-separated
/// env value gives several, in order; an unset variable none).
fn source_docs(
    p: &Provider,
    c: &CCredential,
    ctx: &Ctx,
    allowed: &AllowedFiles,
    problems: &mut Vec<String>,
) -> Vec<(Value, String)> {
    match &c.from {
        CredFrom::Env { name, .. } => match ctx.env_for(&p.perms, name) {
            Err(e) => {
                problems.push(e);
                Vec::new()
            }
            Ok(v) => v
                .filter(|v| !v.trim().is_empty())
                .map(|v| (Value::String(v), c.describe()))
                .into_iter()
                .collect(),
        },
        CredFrom::File {
            path: CredPath::Literal(path),
            shown,
        } => read_file_source(path, shown, allowed, problems)
            .map(|doc| (doc, c.describe()))
            .into_iter()
            .collect(),
        CredFrom::File {
            path: CredPath::Template(t),
            shown,
        } => {
            let env = |name: &str| ctx.env_for(&p.perms, name).ok().flatten();
            let mut out = Vec::new();
            for rendered in render_with_env(t, &p.perms, &env) {
                let path = normalize(&rendered, ctx.home());
                if !path.is_absolute() {
                    problems.push(format!(
                        "file '{shown}' gave '{rendered}', which is not an absolute path"
                    ));
                    continue;
                }
                let at = path.display().to_string();
                if let Some(doc) = read_file_source(&path, &at, allowed, problems) {
                    out.push((doc, format!("file '{at}'")));
                }
            }
            out
        }
        CredFrom::Keychain { service, account, .. } => ctx
            .keychain_password(service, account.as_deref())
            .map(|text| {
                let doc = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
                (doc, c.describe())
            })
            .into_iter()
            .collect(),
    }
}

/// Tries the sources in order; the first that yields a usable credential wins.
pub fn resolve(p: &Provider, ctx: &Ctx, now_ms: i64) -> Resolved {
    let allowed = AllowedFiles::for_ctx(&p.perms, ctx);
    let now = Value::from(now_ms);
    let mut expired: Option<(String, i64)> = None;
    let mut problems = Vec::new();
    for c in &p.credentials {
        for (doc, source) in source_docs(p, c, ctx, &allowed, &mut problems) {
            if let Some(w) = &c.when {
                let named: [(&str, &Value); 2] = [("doc", &doc), ("now_ms", &now)];
                if !w.truthy(&Scope::new(Some(&doc), &named)) {
                    continue;
                }
            }
            let cred = match (&c.from, &doc) {
                (CredFrom::Env { field, .. }, Value::String(s)) => {
                    let mut m = Map::new();
                    m.insert(field.clone(), Value::String(s.trim().to_string()));
                    m
                }
                (CredFrom::Keychain { field, .. }, Value::String(s)) if c.map.is_empty() => {
                    let mut m = Map::new();
                    m.insert(field.clone(), Value::String(s.trim().to_string()));
                    m
                }
                _ => match map_fields(&c.map, &doc, &now) {
                    Ok(m) => m,
                    Err(e) => {
                        problems.push(format!("{source}: {e}"));
                        continue;
                    }
                },
            };
            // A source that yields only non-secret fields (or nothing) has no credential.
            if !cred
                .iter()
                .any(|(k, v)| !crate::engine::provider::redact::PUBLIC_FIELDS.contains(&k.as_str()) && !v.is_null())
            {
                continue;
            }
            if let Some(exp) = expiry_ms(&cred)
                && exp <= now_ms
            {
                let refreshable = p.refresh.is_some() && non_empty_str(cred.get("refresh_token"));
                if !refreshable {
                    if expired.is_none() {
                        expired = Some((source, exp));
                    }
                    continue;
                }
            }
            return Resolved::Found { cred, source };
        }
    }
    Resolved::Missing { expired, problems }
}

/// Refreshed credential fields, in memory only, keyed by provider and refresh token.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<(String, u64), Map<String, Value>>>,
}

fn key(provider: &str, refresh_token: &str) -> (String, u64) {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    refresh_token.hash(&mut h);
    (provider.to_string(), h.finish())
}

impl TokenCache {
    /// The refreshed fields for this refresh token, while they are fresh: more than
    /// `before_ms` from expiry (entries without an expiry are kept for an hour).
    pub fn get(&self, provider: &str, refresh_token: &str, now_ms: i64, before_ms: i64) -> Option<Map<String, Value>> {
        let entries = self.entries.lock().ok()?;
        let m = entries.get(&key(provider, refresh_token))?;
        let exp = expiry_ms(m)?;
        (exp - before_ms > now_ms).then(|| m.clone())
    }

    /// Keeps refreshed fields (with an `expires_at`; one hour from now when the response
    /// gave none).
    pub fn put(&self, provider: &str, refresh_token: &str, mut fields: Map<String, Value>, now_ms: i64) {
        if expiry_ms(&fields).is_none() {
            fields.insert("expires_at".into(), Value::from(now_ms + 3_600_000));
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key(provider, refresh_token), fields);
        }
    }

    /// Forgets every refreshed token of a provider (after the server rejected one).
    pub fn forget(&self, provider: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(p, _), _| p != provider);
        }
    }
}
