//! Running a definition's own `tests:` offline, and `--sample` runs.
//!
//! Agent tests read fixture files through the same extraction as ingest, dedup them
//! in memory with the definition's keep rule, and compare the totals the test expects.
//! Fixtures of built-ins are embedded; they are written to a private temporary folder
//! for the run. A `.sql` fixture is SQL text that builds a SQLite database.
//!
//! Provider tests run the whole engine (credentials given by the test, refresh, request
//! chain, `on_status`, `success`, paging, mapping) with recorded responses in place of
//! the network, then compare the keys the test expects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::compile::{Agent, Provider};
use super::diag::{Code, Diagnostic, quote};
use super::registry::{Origin, builtin_all};
use crate::engine::agent::extract_files;
use crate::engine::ctx::Ctx;
use crate::engine::provider::{FixtureTransport, ProviderUsage, RunEnv, fetch_blocking};
use crate::engine::record::UsageRecord;

/// A temporary folder removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "ttop-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds a SQLite database from SQL text.
pub fn sqlite_from_sql(sql: &str, db: &Path) -> Result<(), String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    conn.execute_batch(sql).map_err(|e| format!("fixture SQL: {e}"))
}

/// Makes a fixture usable as a file: built-in fixtures are copied out of the binary,
/// `.sql` fixtures become a database. Returns the files to read.
fn materialise(origin: &Origin, rel: &str, tmp: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    match origin {
        Origin::Builtin(def_rel) => {
            let base = Path::new(def_rel).parent().unwrap_or(Path::new(""));
            let want = normalise_rel(&base.join(rel));
            for (p, bytes) in builtin_all() {
                if *p == want || p.starts_with(&format!("{want}/")) {
                    files.push((p.to_string(), bytes.to_vec()));
                }
            }
            if files.is_empty() {
                return Err(format!("fixture {} is not among the built-in files", quote(rel)));
            }
        }
        Origin::File(def_path) => {
            let p = def_path.parent().unwrap_or(Path::new(".")).join(rel);
            let mut stack = vec![p.clone()];
            while let Some(q) = stack.pop() {
                if q.is_dir() {
                    let rd = std::fs::read_dir(&q).map_err(|e| format!("fixture '{}': {e}", q.display()))?;
                    stack.extend(rd.flatten().map(|e| e.path()));
                } else {
                    let bytes = std::fs::read(&q).map_err(|e| format!("fixture '{}': {e}", q.display()))?;
                    files.push((q.to_string_lossy().into_owned(), bytes));
                }
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for (i, (name, bytes)) in files.into_iter().enumerate() {
        let file_name = Path::new(&name)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Keep the parent folder name: definitions may read it (`from: parent_dir`).
        let parent = Path::new(&name)
            .parent()
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().into_owned());
        let dir = tmp.join(i.to_string()).join(parent.unwrap_or_default());
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if let Some(stem) = file_name.strip_suffix(".sql") {
            let db = dir.join(stem);
            let sql = String::from_utf8(bytes).map_err(|_| format!("fixture {} is not UTF-8", quote(&name)))?;
            sqlite_from_sql(&sql, &db)?;
            out.push(db);
        } else {
            let f = dir.join(&file_name);
            std::fs::write(&f, bytes).map_err(|e| e.to_string())?;
            out.push(f);
        }
    }
    Ok(out)
}

fn normalise_rel(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// Totals of a set of records, in the shape tests expect.
pub fn totals(records: &[UsageRecord]) -> Value {
    let sum = |f: fn(&UsageRecord) -> u64| records.iter().map(f).sum::<u64>();
    let sessions: BTreeSet<&str> = records.iter().map(|r| r.session_id.as_str()).collect();
    let models: BTreeSet<&str> = records.iter().filter_map(|r| r.model.as_deref()).collect();
    json!({
        "records": records.len(),
        "input": sum(|r| r.tokens.input),
        "output": sum(|r| r.tokens.output),
        "cache_read": sum(|r| r.tokens.cache_read),
        "cache_write": sum(|r| r.tokens.cache_write),
        "reasoning": sum(|r| r.tokens.reasoning),
        "sessions": sessions.len(),
        "models": models.into_iter().collect::<Vec<_>>(),
    })
}

/// Runs one agent's tests; failures become diagnostics at the test's `expect`.
pub fn run_agent_tests(agent: &Agent, origin: &Origin) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in &agent.tests {
        let fail = |msg: String| {
            Diagnostic::error(Code::TestFailed, t.expect.pos, format!("test '{}': {msg}", t.name))
                .in_file(origin.label())
        };
        let tmp = match TempDir::new("selftest") {
            Ok(t) => t,
            Err(e) => {
                out.push(fail(format!("cannot make a temporary folder: {e}")));
                continue;
            }
        };
        let mut files = Vec::new();
        let mut err = None;
        for (i, f) in t.fixtures.iter().enumerate() {
            match materialise(origin, f, &tmp.path().join(format!("f{i}"))) {
                Ok(mut v) => files.append(&mut v),
                Err(e) => err = Some(e),
            }
        }
        if let Some(e) = err {
            out.push(fail(e));
            continue;
        }
        let records = match extract_files(agent, t.source, &files) {
            Ok((r, _warnings)) => r,
            Err(e) => {
                out.push(fail(e));
                continue;
            }
        };
        let got = totals(&records);
        let Value::Object(want) = &t.expect.value else {
            out.push(fail("'expect' must be a mapping of totals".into()));
            continue;
        };
        let mut diffs = Vec::new();
        for (k, v) in want {
            match got.get(k) {
                None => diffs.push(format!("unknown total {}", quote(k))),
                Some(g) if !same(g, v) => diffs.push(format!("{k}: expected {v}, got {g}")),
                Some(_) => {}
            }
        }
        if !diffs.is_empty() {
            out.push(fail(diffs.join("; ")).hint("run 'ttop validate-def FILE --sample FIXTURE' to see every record"));
        }
    }
    out
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

/// `--sample`: extract the records of one data file with an agent definition.
pub fn sample_agent(agent: &Agent, source: usize, data: &Path) -> Result<(Vec<UsageRecord>, Vec<String>), String> {
    let tmp = TempDir::new("sample").map_err(|e| e.to_string())?;
    let files = if data.extension().is_some_and(|x| x == "sql") {
        let sql = std::fs::read_to_string(data).map_err(|e| format!("cannot read '{}': {e}", data.display()))?;
        let db = tmp.path().join(data.file_stem().unwrap_or_default());
        sqlite_from_sql(&sql, &db)?;
        vec![db]
    } else {
        vec![data.to_path_buf()]
    };
    extract_files(agent, source, &files)
}

// ---------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------

/// The bytes of a fixture named relative to a definition.
fn fixture_bytes(origin: &Origin, rel: &str) -> Result<Vec<u8>, String> {
    match origin {
        Origin::Builtin(def_rel) => {
            let base = Path::new(def_rel).parent().unwrap_or(Path::new(""));
            let want = normalise_rel(&base.join(rel));
            crate::def::registry::builtin_file(&want)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("fixture {} is not among the built-in files", quote(rel)))
        }
        Origin::File(def_path) => {
            let p = def_path.parent().unwrap_or(Path::new(".")).join(rel);
            std::fs::read(&p).map_err(|e| format!("fixture '{}': {e}", p.display()))
        }
    }
}

/// Compares expected JSON with what a provider gave: objects by the expected keys only,
/// arrays element by element with the same length, numbers to the precision they are
/// written with, timestamps by instant.
fn diff_json(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    let name = if path.is_empty() { "usage" } else { path };
    match want {
        Value::Object(w) => {
            let empty = serde_json::Map::new();
            let g = got.as_object().unwrap_or(&empty);
            for (k, wv) in w {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_json(&sub, wv, g.get(k).unwrap_or(&Value::Null), out);
            }
        }
        Value::Array(w) => match got.as_array() {
            Some(g) if g.len() == w.len() => {
                for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                    diff_json(&format!("{name}[{i}]"), wv, gv, out);
                }
            }
            Some(g) => out.push(format!("{name}: expected {} items, got {}: {got}", w.len(), g.len())),
            None => out.push(format!("{name}: expected {want}, got {got}")),
        },
        Value::Number(n) => {
            // A number is compared to the precision it is written with: 41.67 matches
            // 41.666…, 42 matches 42.0000001 but not 42.4.
            let text = n.to_string();
            let decimals = text.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
            let tolerance = if decimals > 0 {
                0.5 * 10f64.powi(-decimals)
            } else {
                1e-6
            };
            let ok = match (want.as_f64(), got.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= tolerance * if decimals > 0 { 1.0 } else { x.abs().max(1.0) },
                _ => false,
            };
            if !ok {
                out.push(format!("{name}: expected {want}, got {got}"));
            }
        }
        Value::String(w) => {
            let same_instant = || {
                let a = crate::def::expr::parse_rfc3339_ms(w)?;
                let b = crate::def::expr::parse_rfc3339_ms(got.as_str()?)?;
                Some(a == b)
            };
            if got.as_str() != Some(w.as_str()) && same_instant() != Some(true) {
                out.push(format!("{name}: expected {want}, got {got}"));
            }
        }
        other => {
            if other != got {
                out.push(format!("{name}: expected {want}, got {got}"));
            }
        }
    }
}

/// Keys a provider test may expect.
const PROVIDER_KEYS: &[&str] = &[
    "configured",
    "plan",
    "limits",
    "limit_reached",
    "tokens",
    "cost",
    "credits",
    "error",
    "rate_limited",
];

/// Runs one fetch of a provider offline: recorded responses instead of the network.
fn fetch_offline(
    p: &Provider,
    responses: std::collections::HashMap<String, (u16, Vec<u8>)>,
    credentials: Option<serde_json::Map<String, Value>>,
    config: std::collections::BTreeMap<String, Value>,
    env_vars: std::collections::HashMap<String, String>,
    now_ms: Option<i64>,
) -> Result<ProviderUsage, String> {
    let tmp = TempDir::new("provider-test").map_err(|e| e.to_string())?;
    let mut ctx = Ctx::fake(tmp.path().to_path_buf(), env_vars);
    if let Some(now) = now_ms {
        ctx = ctx.with_now_ms(now);
    }
    let mut env = RunEnv::new(ctx, std::collections::BTreeMap::from([(p.id.clone(), config)]));
    env.retry_delays = Vec::new();
    env.transport = std::sync::Arc::new(FixtureTransport {
        responses,
        ..FixtureTransport::default()
    });
    env.credentials_override = credentials;
    Ok(fetch_blocking(p, &env))
}

/// Runs one provider's tests; failures become diagnostics at the test's `expect`.
pub fn run_provider_tests(p: &Provider, origin: &Origin) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in &p.def.tests {
        let fail = |msg: String| {
            Diagnostic::error(Code::TestFailed, t.expect.pos, format!("test '{}': {msg}", t.name))
                .in_file(origin.label())
        };
        let mut responses = std::collections::HashMap::new();
        let mut err = None;
        for (id, file) in &t.responses {
            match fixture_bytes(origin, file) {
                Ok(b) => {
                    let status = t
                        .statuses
                        .get(id.split('#').next().unwrap_or(id))
                        .copied()
                        .unwrap_or(200);
                    responses.insert(id.clone(), (status, b));
                }
                Err(e) => err = Some(e),
            }
        }
        if let Some(e) = err {
            out.push(fail(e));
            continue;
        }
        for (id, status) in &t.statuses {
            responses.entry(id.clone()).or_insert((*status, Vec::new()));
        }
        // Without credentials in the test, the definition's own sources run against the
        // test's env vars and an empty home.
        let cred = (!t.credentials.is_empty() || p.credentials.is_empty()).then(|| {
            t.credentials
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        });
        let now = t.now.as_ref().and_then(|n| crate::def::expr::parse_rfc3339_ms(n));
        let env_vars = t.env.clone().into_iter().collect();
        let config = t.config.clone().into_iter().collect();
        let usage = match fetch_offline(p, responses, cred, config, env_vars, now) {
            Ok(u) => u,
            Err(e) => {
                out.push(fail(e));
                continue;
            }
        };
        let Value::Object(want) = &t.expect.value else {
            out.push(fail("'expect' must be a mapping of usage keys".into()));
            continue;
        };
        let got = usage.to_json();
        let mut diffs = Vec::new();
        for k in want.keys() {
            if !PROVIDER_KEYS.contains(&k.as_str()) {
                diffs.push(format!(
                    "unknown key {} (expected one of {})",
                    quote(k),
                    PROVIDER_KEYS.join(", ")
                ));
            }
        }
        if diffs.is_empty() {
            diff_json("", &t.expect.value, &got, &mut diffs);
        }
        if !diffs.is_empty() {
            out.push(
                fail(diffs.join("; "))
                    .hint("run 'ttop validate-def FILE --sample ID=RESPONSE' to see the whole mapping"),
            );
        }
    }
    out
}

/// `--sample ID=FILE...`: maps recorded responses with a provider definition. The
/// credential fields the definition names are filled with placeholders.
pub fn sample_provider(
    p: &Provider,
    samples: &[(String, PathBuf)],
    now_ms: Option<i64>,
) -> Result<ProviderUsage, String> {
    let mut responses = std::collections::HashMap::new();
    for (id, file) in samples {
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read '{}': {e}", file.display()))?;
        responses.insert(id.clone(), (200, bytes));
    }
    let mut cred = serde_json::Map::new();
    for c in &p.credentials {
        let fields: Vec<String> = match &c.from {
            crate::def::compile::CredFrom::Env { field, .. }
            | crate::def::compile::CredFrom::Keychain { field, .. }
                if c.map.is_empty() =>
            {
                vec![field.clone()]
            }
            _ => c.map.iter().map(|(k, _)| k.clone()).collect(),
        };
        for f in fields {
            if f != "expires_at" {
                cred.entry(f.clone())
                    .or_insert_with(|| Value::String(format!("sample-{f}")));
            }
        }
    }
    fetch_offline(
        p,
        responses,
        Some(cred),
        std::collections::BTreeMap::new(),
        std::collections::HashMap::new(),
        now_ms,
    )
}
