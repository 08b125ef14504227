//! One fetch: credentials → refresh → requests → mapping, and the transport requests go
//! through.
//!
//! Request semantics (documented for definition authors in `definitions/README.md`):
//! - A request runs when its `when` holds. Its URL, query, headers and body are rendered
//!   from templates that see `responses.<id>` (earlier responses), `status.<id>`, `body`
//!   (the last response), `cred`, `config`, `now_ms` and `env.NAME`. A rendered URL must
//!   keep its literal host; a hole without a value stops the fetch with an error.
//! - 5xx answers and network errors are retried (by default after 200 ms and 600 ms);
//!   timeouts are not. Then the next of `fallback_urls` is tried, also after a 3xx, a
//!   non-JSON body, another unexpected status or a `success` that does not hold.
//! - A status listed in `on_status` takes effect at once (`error`, `rate_limited`,
//!   `unconfigured`, `skip`, `keep`). Without an entry, 429 marks the provider rate
//!   limited until `Retry-After` (300 s when absent) and 401/403 stop with an error.
//! - Sandbox refusals (host not permitted, rendered host changed) stop at once and send
//!   nothing.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use super::credentials::{Resolved, expiry_ms, resolve};
use super::redact::Redactor;
use super::{ProviderUsage, RunEnv, mapping, rfc3339};
use crate::def::Provider;
use crate::def::compile::{COutcome, CRefresh, CRequest, Perms, Url};
use crate::def::expr::{Scope, Template};
use crate::def::model::ConfigType;
use crate::def::value::EvalCtx;
use crate::engine::ctx::Ctx;
use crate::engine::http::{self, HttpError, HttpRequest, HttpResponse, Redirects, https_host, url_for_errors};

/// One request handed to a transport.
pub struct Call<'a> {
    /// The request's id (`refresh` for the refresh request).
    pub request_id: &'a str,
    /// 1 for the first page, then 2, 3... when paging.
    pub page: u32,
    pub perms: &'a Perms,
    pub req: &'a HttpRequest,
}

/// What a transport returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'a>>;

/// Where requests go: the network, or recorded responses.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, call: Call<'a>) -> SendFuture<'a>;
}

/// The real network, through the sandboxed [`crate::engine::http`].
pub struct HttpTransport {
    pub redirects: Redirects,
}

impl Transport for HttpTransport {
    fn send<'a>(&'a self, call: Call<'a>) -> SendFuture<'a> {
        Box::pin(http::send(call.perms, &self.redirects, call.req))
    }
}

/// Recorded responses by request id (`<id>#<page>` for later pages), for the
/// definitions' own tests. The sandbox's host check still applies; a request without a
/// recorded response is refused.
#[derive(Default)]
pub struct FixtureTransport {
    pub responses: HashMap<String, (u16, Vec<u8>)>,
    /// The ids (and pages) asked for, in order.
    pub asked: Mutex<Vec<String>>,
}

impl Transport for FixtureTransport {
    fn send<'a>(&'a self, call: Call<'a>) -> SendFuture<'a> {
        let key = if call.page > 1 {
            format!("{}#{}", call.request_id, call.page)
        } else {
            call.request_id.to_string()
        };
        if let Ok(mut a) = self.asked.lock() {
            a.push(key.clone());
        }
        let result = match https_host(&call.req.url) {
            Some(h) if call.perms.host_allowed(&h) => match self.responses.get(&key) {
                Some((status, body)) => Ok(HttpResponse {
                    status: *status,
                    headers: Vec::new(),
                    body: body.clone(),
                }),
                None => Err(HttpError::Refused(format!("the test has no response for '{key}'"))),
            },
            Some(h) => Err(HttpError::Refused(format!("host '{h}' is not in permissions.network"))),
            None => Err(HttpError::Refused(format!(
                "'{}' is not an https URL with a host",
                url_for_errors(&call.req.url)
            ))),
        };
        Box::pin(async move { result })
    }
}

/// Why a request stopped the fetch.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub message: String,
    pub rate_limited: bool,
    pub retry_at: Option<i64>,
    pub unconfigured: bool,
    /// Refused by the sandbox: never skipped by `optional`.
    pub refused: bool,
}

impl Failure {
    fn error(message: String) -> Failure {
        Failure {
            message,
            ..Failure::default()
        }
    }

    fn refused(message: String) -> Failure {
        Failure {
            message,
            refused: true,
            ..Failure::default()
        }
    }
}

enum Stop {
    /// `on_status: skip`: go on without this response.
    Skip,
    Fail(Failure),
}

struct Got {
    body: Value,
    status: u16,
    /// An `error` from a `keep` outcome, shown beside the usage.
    note: Option<String>,
}

/// The values expressions and templates of a provider see.
#[derive(Debug, Clone)]
pub struct Roots {
    /// Response bodies by request id: `$` of usage paths and `responses` of expressions.
    pub responses: Value,
    /// HTTP status by request id.
    pub status: Value,
    /// The last response.
    pub body: Value,
    pub cred: Value,
    pub config: Value,
    pub now_ms: Value,
    /// Declared env vars that are set.
    pub env: Value,
}

impl Roots {
    pub fn new(cred: Map<String, Value>, config: Value, now_ms: i64, env: Value) -> Roots {
        Roots {
            responses: Value::Object(Map::new()),
            status: Value::Object(Map::new()),
            body: Value::Null,
            cred: Value::Object(cred),
            config,
            now_ms: Value::from(now_ms),
            env,
        }
    }

    /// The named roots, with `body` replaced when given.
    pub fn named<'a>(&'a self, body: Option<&'a Value>) -> Vec<(&'a str, &'a Value)> {
        vec![
            ("responses", &self.responses),
            ("status", &self.status),
            ("body", body.unwrap_or(&self.body)),
            ("cred", &self.cred),
            ("config", &self.config),
            ("now_ms", &self.now_ms),
            ("env", &self.env),
        ]
    }

    fn set_response(&mut self, id: &str, body: Value, status: u16) {
        if let Value::Object(m) = &mut self.responses {
            m.insert(id.to_string(), body.clone());
        }
        if let Value::Object(m) = &mut self.status {
            m.insert(id.to_string(), Value::from(status));
        }
        self.body = body;
    }
}

/// The provider's config values: declared defaults, then `[providers.<id>]` of
/// config.toml. Secret values go to the redactor.
pub fn effective_config(p: &Provider, env: &RunEnv, red: &mut Redactor) -> Value {
    let mut out = Map::new();
    let user = env.config.get(&p.id);
    for (name, field) in &p.def.config {
        let v = user
            .and_then(|u| u.get(name).cloned())
            .or_else(|| field.default.as_ref().map(|d| d.value.clone()));
        if let Some(v) = v {
            if field.ty.value == ConfigType::Secret
                && let Value::String(s) = &v
            {
                red.add(s);
            }
            out.insert(name.clone(), v);
        }
    }
    Value::Object(out)
}

/// The declared env vars that are set, as an object for `env.NAME`.
pub fn declared_env(p: &Provider, ctx: &Ctx) -> Value {
    let mut m = Map::new();
    for name in &p.perms.env {
        if let Ok(Some(v)) = ctx.env_for(&p.perms, name) {
            m.insert(name.clone(), Value::String(v));
        }
    }
    Value::Object(m)
}

/// Runs one fetch; see the module documentation.
pub async fn run(p: &Provider, env: &RunEnv) -> ProviderUsage {
    let now = env.ctx.now_ms();
    let mut out = ProviderUsage::new(p, now);
    let mut red = Redactor::default();
    let config = effective_config(p, env, &mut red);
    let envv = declared_env(p, &env.ctx);
    let (cred, source) = if let Some(c) = &env.credentials_override {
        (c.clone(), "the test's credentials".to_string())
    } else if p.credentials.is_empty() {
        (Map::new(), "no credential needed".to_string())
    } else {
        match resolve(p, &env.ctx, now) {
            Resolved::Found { cred, source } => (cred, source),
            Resolved::Missing {
                expired: Some((src, at)),
                ..
            } => {
                out.configured = true;
                out.error = Some(format!(
                    "the credential from {src} expired at {}; sign in again",
                    rfc3339(at).unwrap_or_default()
                ));
                out.credential_source = Some(src);
                return out;
            }
            Resolved::Missing {
                expired: None,
                problems,
            } => {
                if !problems.is_empty() {
                    out.error = Some(problems.join("; "));
                }
                return finish(out, &red);
            }
        }
    };
    out.configured = true;
    out.credential_source = Some(source);
    red.add_credential(&cred);
    let mut roots = Roots::new(cred, config, now, envv);
    if let Some(rf) = &p.refresh
        && let Err(f) = refresh(p, rf, env, &mut roots, &mut red).await
    {
        apply_failure(&mut out, f);
        return finish(out, &red);
    }
    let mut notes = Vec::new();
    for r in &p.requests {
        let id = r.id.clone().unwrap_or_default();
        if let Some(w) = &r.when
            && !w.truthy(&Scope::new(Some(&roots.responses), &roots.named(None)))
        {
            continue;
        }
        match exchange(p, r, &id, env, &roots, true).await {
            Ok(got) => {
                if let Some(n) = got.note {
                    notes.push(n);
                }
                roots.set_response(&id, got.body, got.status);
            }
            Err(Stop::Skip) => {}
            Err(Stop::Fail(f)) if r.optional && !f.rate_limited && !f.refused => {}
            Err(Stop::Fail(f)) => {
                if f.unconfigured || f.message.contains("HTTP 401") {
                    env.tokens.forget(&p.id);
                }
                apply_failure(&mut out, f);
                return finish(out, &red);
            }
        }
    }
    if let Err(e) = mapping::map_usage(&p.usage, &roots, &mut out) {
        out.error = Some(e);
    }
    if out.error.is_none() && !notes.is_empty() {
        out.error = Some(notes.join("; "));
    }
    out.fetched_at = env.ctx.now_ms();
    finish(out, &red)
}

fn apply_failure(out: &mut ProviderUsage, f: Failure) {
    out.error = Some(f.message);
    out.rate_limited = f.rate_limited;
    out.retry_at = f.retry_at;
    if f.unconfigured {
        out.configured = false;
    }
}

/// Redacts every text of the result.
fn finish(mut out: ProviderUsage, red: &Redactor) -> ProviderUsage {
    out.error = out.error.map(|e| red.apply(&e));
    out.plan = out.plan.map(|e| red.apply(&e));
    for l in &mut out.limits {
        l.label = red.apply(&l.label);
    }
    if let Some(c) = &mut out.credits
        && let Some(b) = &mut c.balance
    {
        red.apply_json(b);
    }
    if let Some(c) = &mut out.cost {
        c.currency = red.apply(&c.currency);
    }
    out
}

/// OAuth refresh, when the definition has one and the credential needs it: it carries a
/// `refresh_token` and its access token is missing or expires within `before`.
async fn refresh(
    p: &Provider,
    rf: &CRefresh,
    env: &RunEnv,
    roots: &mut Roots,
    red: &mut Redactor,
) -> Result<(), Failure> {
    let now = env.ctx.now_ms();
    let Value::Object(cred) = &roots.cred else {
        return Ok(());
    };
    let Some(Value::String(rt)) = cred
        .get("refresh_token")
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    else {
        return Ok(());
    };
    let rt = rt.clone();
    let has_access = matches!(cred.get("access_token"), Some(Value::String(s)) if !s.is_empty());
    let needed = !has_access || expiry_ms(cred).is_some_and(|e| e - rf.before_ms <= now);
    if !needed {
        return Ok(());
    }
    if let Some(w) = &rf.request.when
        && !w.truthy(&Scope::new(Some(&roots.responses), &roots.named(None)))
    {
        return Ok(());
    }
    if let Some(cached) = env.tokens.get(&p.id, &rt, now, rf.before_ms) {
        red.add_credential(&cached);
        merge_cred(roots, cached);
        return Ok(());
    }
    let got = match exchange(p, &rf.request, "refresh", env, roots, false).await {
        Ok(g) => g,
        Err(Stop::Skip) => return Ok(()),
        Err(Stop::Fail(mut f)) => {
            f.message = format!("token refresh failed: {}", f.message);
            return Err(f);
        }
    };
    let named = roots.named(Some(&got.body));
    let cx = EvalCtx {
        record: Some(&got.body),
        item: None,
        named: &named,
        file: None,
    };
    let mut fields = Map::new();
    let mut first_error = None;
    for (k, cv) in &rf.map {
        match cv.eval(&cx) {
            Ok(Some(Value::Null) | None) => {}
            Ok(Some(v)) => {
                fields.insert(k.clone(), v);
            }
            Err(e) => {
                first_error.get_or_insert_with(|| format!("token refresh: field '{k}': {e}"));
            }
        }
    }
    red.add_credential(&fields);
    if !matches!(fields.get("access_token"), Some(Value::String(s)) if !s.is_empty()) {
        return Err(Failure::error(
            "token refresh: the response holds no access_token".into(),
        ));
    }
    if let Some(e) = first_error {
        return Err(Failure::error(e));
    }
    env.tokens.put(&p.id, &rt, fields.clone(), now);
    merge_cred(roots, fields);
    Ok(())
}

fn merge_cred(roots: &mut Roots, fields: Map<String, Value>) {
    if let Value::Object(c) = &mut roots.cred {
        for (k, v) in fields {
            c.insert(k, v);
        }
    }
}

/// Sends with bounded retries: 5xx answers and network errors (not timeouts).
async fn send_retrying(
    p: &Provider,
    env: &RunEnv,
    id: &str,
    page: u32,
    req: &HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let mut attempt = 0;
    loop {
        let r = env
            .transport
            .send(Call {
                request_id: id,
                page,
                perms: &p.perms,
                req,
            })
            .await;
        let retriable = match &r {
            Err(HttpError::Network(_)) => true,
            Ok(resp) => resp.status >= 500,
            Err(_) => false,
        };
        match env.retry_delays.get(attempt) {
            Some(d) if retriable => {
                tokio::time::sleep(*d).await;
                attempt += 1;
            }
            _ => return r,
        }
    }
}

fn parse_body(bytes: &[u8]) -> Result<Value, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|_| format!("is not JSON: '{}'", excerpt(bytes)))
}

/// The start of a body, on one line, for messages (redacted later with the rest).
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(120).collect();
    if one_line.chars().count() > 120 {
        cut.push('…');
    }
    cut
}

/// `Retry-After` (seconds or an HTTP date) as Unix ms; 300 s when absent or zero.
fn retry_at(resp: &HttpResponse, now: i64) -> i64 {
    let parsed = resp.header("retry-after").and_then(|v| {
        let v = v.trim();
        if let Ok(s) = v.parse::<f64>() {
            return (s > 0.0).then(|| now + (s * 1000.0) as i64);
        }
        jiff::fmt::rfc2822::parse(v)
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    });
    parsed.unwrap_or(now + 300_000)
}

fn status_word(status: u16) -> &'static str {
    match status {
        401 => "credential rejected",
        403 => "access denied",
        404 => "not found",
        429 => "rate limited",
        500..=599 => "server error",
        _ => "unexpected status",
    }
}

/// One request through its URLs; see the module documentation.
async fn exchange(
    p: &Provider,
    r: &CRequest,
    id: &str,
    env: &RunEnv,
    roots: &Roots,
    show_bodies: bool,
) -> Result<Got, Stop> {
    let now = env.ctx.now_ms();
    let mut last: Option<Failure> = None;
    let body_note = |b: &[u8]| {
        if show_bodies && !b.is_empty() {
            format!(": '{}'", excerpt(b))
        } else {
            String::new()
        }
    };
    for (i, u) in r.urls.iter().enumerate() {
        let has_next = i + 1 < r.urls.len();
        let req = build(r, u, id, roots, None).map_err(Stop::Fail)?;
        let shown = url_for_errors(&req.url);
        let resp = match send_retrying(p, env, id, 1, &req).await {
            Err(HttpError::Refused(m)) => {
                return Err(Stop::Fail(Failure::refused(format!("request '{id}' refused: {m}"))));
            }
            Err(e) => {
                last = Some(Failure::error(format!("request '{id}' to '{shown}': {e}")));
                continue;
            }
            Ok(resp) => resp,
        };
        let status = resp.status;
        let parsed = parse_body(&resp.body);
        if let Some(o) = r.on_status.get(&status) {
            let fallback = format!("request '{id}': HTTP {status} ({})", status_word(status));
            return outcome(o, roots, parsed.as_ref().ok(), status, &resp, now, fallback);
        }
        if status == 429 {
            let at = retry_at(&resp, now);
            return Err(Stop::Fail(Failure {
                message: format!("rate limited by '{shown}' until {}", rfc3339(at).unwrap_or_default()),
                rate_limited: true,
                retry_at: Some(at),
                ..Failure::default()
            }));
        }
        if (300..400).contains(&status) {
            let to = resp
                .header("location")
                .map(url_for_errors)
                .unwrap_or_else(|| "?".into());
            last = Some(Failure::error(format!(
                "request '{id}': '{shown}' redirects to '{to}', which is not followed"
            )));
            continue;
        }
        if !(200..300).contains(&status) {
            let f = Failure::error(format!(
                "request '{id}': HTTP {status} ({}) from '{shown}'{}",
                status_word(status),
                body_note(&resp.body)
            ));
            if status == 401 || status == 403 {
                return Err(Stop::Fail(f));
            }
            last = Some(f);
            continue;
        }
        let body = match parsed {
            Ok(b) => b,
            Err(e) => {
                let what = if show_bodies { e } else { "is not JSON".into() };
                last = Some(Failure::error(format!(
                    "request '{id}': the response from '{shown}' {what}"
                )));
                continue;
            }
        };
        let body = match &r.paginate {
            Some(_) => paginate(p, r, u, id, env, roots, body).await.map_err(Stop::Fail)?,
            None => body,
        };
        if let Some(s) = &r.success {
            let named = roots.named(Some(&body));
            if !s.truthy(&Scope::new(Some(&roots.responses), &named)) {
                if has_next {
                    last = Some(Failure::error(format!(
                        "request '{id}': the response from '{shown}' does not satisfy 'success: {}'",
                        s.source()
                    )));
                    continue;
                }
                let fallback = format!(
                    "request '{id}': the response does not satisfy 'success: {}'",
                    s.source()
                );
                return match &r.on_unsuccessful {
                    Some(o) => outcome(o, roots, Some(&body), status, &resp, now, fallback),
                    None => Err(Stop::Fail(Failure::error(fallback))),
                };
            }
        }
        return Ok(Got {
            body,
            status,
            note: None,
        });
    }
    Err(Stop::Fail(last.unwrap_or_else(|| {
        Failure::error(format!("request '{id}' has no URL"))
    })))
}

/// Applies an `on_status` or `on_unsuccessful` entry.
fn outcome(
    o: &COutcome,
    roots: &Roots,
    body: Option<&Value>,
    status: u16,
    resp: &HttpResponse,
    now: i64,
    fallback: String,
) -> Result<Got, Stop> {
    if o.skip {
        return Err(Stop::Skip);
    }
    let null = Value::Null;
    let named = roots.named(Some(body.unwrap_or(&null)));
    let message = o.error.as_ref().map(|t| {
        t.render(&Scope::new(Some(&roots.responses), &named))
            .unwrap_or_else(|_| t.source().to_string())
    });
    if o.keep {
        return Ok(Got {
            body: body.cloned().unwrap_or(Value::Null),
            status,
            note: message,
        });
    }
    let retry = o.rate_limited.then(|| retry_at(resp, now));
    Err(Stop::Fail(Failure {
        message: message.unwrap_or(fallback),
        rate_limited: o.rate_limited,
        retry_at: retry,
        unconfigured: o.unconfigured,
        refused: false,
    }))
}

/// Percent-encodes a query or form component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn render(t: &Template, roots: &Roots, what: &str, id: &str) -> Result<String, Failure> {
    t.render(&Scope::new(Some(&roots.responses), &roots.named(None)))
        .map_err(|e| Failure::error(format!("request '{id}': {what}: {e}")))
}

/// Renders a request for one of its URLs, with an extra query parameter when paging.
fn build(r: &CRequest, u: &Url, id: &str, roots: &Roots, page: Option<(&str, &str)>) -> Result<HttpRequest, Failure> {
    let rendered = render(&u.template, roots, "URL", id)?;
    let mut url = reqwest::Url::parse(&rendered).map_err(|_| {
        Failure::refused(format!(
            "request '{id}': the URL renders to something that is not a URL"
        ))
    })?;
    let host = url.host_str().map(str::to_ascii_lowercase);
    if url.scheme() != "https" || host.as_deref() != Some(u.host.as_str()) || !url.username().is_empty() {
        return Err(Failure::refused(format!(
            "request '{id}': the URL renders to host '{}', not its literal host '{}'",
            host.unwrap_or_default(),
            u.host
        )));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, t) in &r.query {
        pairs.push((k.clone(), render(t, roots, &format!("query '{k}'"), id)?));
    }
    if let Some((param, value)) = page {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != param)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        pairs.retain(|(k, _)| k != param);
        pairs.splice(0..0, kept);
        pairs.push((param.to_string(), value.to_string()));
    }
    if !pairs.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
    }
    let mut headers = Vec::new();
    for (k, t) in &r.headers {
        headers.push((k.clone(), render(t, roots, &format!("header '{k}'"), id)?));
    }
    let has = |headers: &[(String, String)], name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut body = None;
    if !r.form.is_empty() {
        let mut parts = Vec::new();
        for (k, t) in &r.form {
            let v = render(t, roots, &format!("form '{k}'"), id)?;
            parts.push(format!("{}={}", urlencode(k), urlencode(&v)));
        }
        body = Some(parts.join("&").into_bytes());
        if !has(&headers, "content-type") {
            headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
        }
    } else if let Some(j) = &r.json {
        let mut v = j.clone();
        render_json(&mut v, r, roots, id)?;
        body = Some(serde_json::to_vec(&v).unwrap_or_default());
        if !has(&headers, "content-type") {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
    }
    if !has(&headers, "accept") {
        headers.push(("Accept".into(), "application/json".into()));
    }
    let method = match r.method {
        crate::def::model::Method::Get => reqwest::Method::GET,
        crate::def::model::Method::Post => reqwest::Method::POST,
        crate::def::model::Method::Put => reqwest::Method::PUT,
        crate::def::model::Method::Patch => reqwest::Method::PATCH,
        crate::def::model::Method::Delete => reqwest::Method::DELETE,
    };
    Ok(HttpRequest {
        method,
        url: url.to_string(),
        headers,
        body,
        timeout: Duration::from_millis(r.timeout_ms),
    })
}

fn render_json(v: &mut Value, r: &CRequest, roots: &Roots, id: &str) -> Result<(), Failure> {
    match v {
        Value::String(s) => {
            if let Some(t) = r.json_templates.get(s.as_str()) {
                *s = render(t, roots, "json body", id)?;
            }
        }
        Value::Array(a) => {
            for x in a {
                render_json(x, r, roots, id)?;
            }
        }
        Value::Object(m) => {
            for x in m.values_mut() {
                render_json(x, r, roots, id)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn get_at<'a>(v: &'a Value, keys: &[String]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| cur.get(k))
}

fn set_at(v: &mut Value, keys: &[String], new: Value) {
    let Some((last, head)) = keys.split_last() else { return };
    let mut cur = v;
    for k in head {
        match cur.get_mut(k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.insert(last.clone(), new);
    }
}

/// Follows pages; the first page's body with the items of every page.
async fn paginate(
    p: &Provider,
    r: &CRequest,
    u: &Url,
    id: &str,
    env: &RunEnv,
    roots: &Roots,
    first: Value,
) -> Result<Value, Failure> {
    let Some(pg) = &r.paginate else { return Ok(first) };
    let mut items: Vec<Value> = get_at(&first, &pg.items)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut cur = first.clone();
    for page in 2..=pg.max_pages {
        let named = roots.named(Some(&cur));
        let next = pg
            .next
            .eval(&Scope::new(Some(&roots.responses), &named))
            .unwrap_or(Value::Null);
        let cursor = match next {
            Value::String(s) if !s.is_empty() => s,
            Value::Number(n) => n.to_string(),
            _ => break,
        };
        let req = build(r, u, id, roots, Some((&pg.param, &cursor)))?;
        let resp = send_retrying(p, env, id, page, &req).await.map_err(|e| match e {
            HttpError::Refused(m) => Failure::refused(format!("request '{id}' page {page} refused: {m}")),
            other => Failure::error(format!("request '{id}' page {page}: {other}")),
        })?;
        if !(200..300).contains(&resp.status) {
            return Err(Failure::error(format!(
                "request '{id}' page {page}: HTTP {} ({})",
                resp.status,
                status_word(resp.status)
            )));
        }
        let b = parse_body(&resp.body)
            .map_err(|e| Failure::error(format!("request '{id}' page {page}: the response {e}")))?;
        if let Some(more) = get_at(&b, &pg.items).and_then(Value::as_array) {
            items.extend(more.iter().cloned());
        }
        cur = b;
    }
    let mut out = first;
    set_at(&mut out, &pg.items, Value::Array(items));
    Ok(out)
}
