//! Compile: typed definitions → ready-to-run definitions plus diagnostics.
//!
//! Every JSONPath, expression, template, glob, timestamp format and duration is compiled
//! here, once. Permissions are checked here for everything literal: URL hosts, files,
//! env vars named in `env:` sources and in `env.X` inside templates and expressions.
//! Compile is pure: it reads no file and no env var (the home directory is passed in).

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::diag::{Code, Diagnostic, quote};
use super::expr::{CompileError, Expr, Template};
use super::loc::{Loc, Pos};
use super::model::{
    AgentDef, AgentTest, Counters, Format, Keep, Kind, Meta, NotifierDef, Permissions, ProviderDef, Records, Request,
    UsageMap,
};
use super::path::CompiledPath;
use super::value::{CompiledValue, ValueErrorKind};
use super::value_spec::ValueSpec;

/// What compile needs from the outside world.
#[derive(Debug, Clone)]
pub struct CompileEnv {
    /// The home directory `~` stands for.
    pub home: PathBuf,
}

/// Diagnostics collected while compiling one file.
#[derive(Default)]
pub struct Diags(pub Vec<Diagnostic>);

impl Diags {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    fn compile_err(&mut self, code: Code, pos: Pos, what: &str, src: &str, e: &CompileError, hint: &str) {
        // Point at the offending character when the value is on one line in the file.
        let col = pos.col + e.offset.map_or(0, |o| u32::try_from(o).unwrap_or(0));
        let p = if pos.is_known() { Pos::new(pos.line, col) } else { pos };
        self.push(Diagnostic::error(code, p, format!("{what} {}: {}", quote(src), e.message)).hint(hint));
    }
}

const PATH_HINT: &str = "JSONPath (RFC 9535): '$.a.b', '$.list[0]', '$.list[*].x', '$.list[?@.type == \"x\"]'";
const EXPR_HINT: &str = "a minijinja expression such as 'usage.input - usage.cached' or 'type == \"assistant\"'";
const TEMPLATE_HINT: &str = "literal text with '{{ expression }}' holes, for example 'Bearer {{ cred.access_token }}'";

// ---------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------

/// A definition's permissions, normalised.
#[derive(Debug, Clone, Default)]
pub struct Perms {
    pub network: Vec<String>,
    pub env: Vec<String>,
    /// Absolute, lexically normalised.
    pub files: Vec<PathBuf>,
    /// Entries built from env vars (`{{ env.CODEX_HOME }}`), rendered at run time; an env
    /// value holding a comma-separated list permits each element.
    pub file_templates: Vec<Arc<Template>>,
}

impl Perms {
    /// Exact host or a subdomain of a permitted host.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.network
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    }

    pub fn env_allowed(&self, name: &str) -> bool {
        self.env.iter().any(|e| e == name)
    }

    /// A path (absolute, normalised) at or below a permitted file or directory.
    pub fn file_allowed(&self, p: &Path) -> bool {
        self.files.iter().any(|f| p.starts_with(f))
    }

    /// Every permitted file or directory: the literal ones and the templated ones
    /// rendered with `env` (only declared env vars reach a template). Templates whose
    /// variables are unset permit nothing.
    pub fn expanded_files(&self, env: &dyn Fn(&str) -> Option<String>, home: &Path) -> Vec<PathBuf> {
        let mut out = self.files.clone();
        for t in &self.file_templates {
            for rendered in render_with_env(t, self, env) {
                let n = normalize(&rendered, home);
                if n.is_absolute() {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// Renders a template that reads only `env.X` (and `~`), once per element of a
/// comma-separated env value; nothing when a variable is unset or empty.
pub fn render_with_env(t: &Template, perms: &Perms, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let names: Vec<&str> = t
        .holes()
        .flat_map(|h| h.reads().iter())
        .filter(|p| p.first().map(String::as_str) == Some("env"))
        .filter_map(|p| p.get(1).map(String::as_str))
        .collect();
    let mut values = serde_json::Map::new();
    let mut lists: Vec<(String, Vec<String>)> = Vec::new();
    for n in names {
        if !perms.env_allowed(n) {
            return Vec::new();
        }
        let Some(v) = env(n).filter(|v| !v.trim().is_empty()) else {
            return Vec::new();
        };
        let parts: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        lists.push((n.to_string(), parts));
    }
    // One rendering per element of the first list-valued variable; other variables use
    // their whole value.
    let (multi, rest): (Vec<_>, Vec<_>) = lists.into_iter().partition(|(_, p)| p.len() > 1);
    for (n, p) in rest {
        values.insert(n, serde_json::Value::String(p.join(",")));
    }
    let variants: Vec<Option<(String, String)>> = match multi.first() {
        Some((n, parts)) => parts.iter().map(|p| Some((n.clone(), p.clone()))).collect(),
        None => vec![None],
    };
    let mut out = Vec::new();
    for v in variants {
        let mut vals = values.clone();
        if let Some((n, p)) = v {
            vals.insert(n, serde_json::Value::String(p));
        }
        let envv = serde_json::Value::Object(vals);
        if let Ok(s) = t.render(&super::expr::Scope::new(None, &[("env", &envv)])) {
            out.push(s);
        }
    }
    out
}

/// `~` expanded and `.`/`..` resolved lexically. Relative paths stay relative.
pub fn normalize(p: &str, home: &Path) -> PathBuf {
    let expanded = if p == "~" {
        home.to_path_buf()
    } else if let Some(rest) = p.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(p)
    };
    let mut out = PathBuf::new();
    for c in expanded.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn compile_perms(p: &Permissions, env: &CompileEnv, d: &mut Diags) -> Perms {
    let mut out = Perms::default();
    for h in &p.network {
        let lower = h.value.to_ascii_lowercase();
        if valid_host(&lower) {
            out.network.push(lower);
        } else {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    h.pos,
                    format!("permissions.network: {} is not a host name", quote(h)),
                )
                .hint("list bare host names such as 'api.example.com' (no scheme, path or port)"),
            );
        }
    }
    for e in &p.env {
        if !e.value.is_empty() && e.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.env.push(e.value.clone());
        } else {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    e.pos,
                    format!("permissions.env: {} is not a variable name", quote(e)),
                )
                .hint("names are letters, digits and '_', such as 'ANTHROPIC_API_KEY'"),
            );
        }
    }
    for f in &p.files {
        if f.value.contains("{{") {
            if let Some(t) = template(f, &out, d) {
                if t.literal_prefix().contains("..") || f.value.contains("..") {
                    d.push(
                        Diagnostic::error(
                            Code::FileNotPermitted,
                            f.pos,
                            format!("permissions.files: {} climbs with '..'", quote(f)),
                        )
                        .hint("name the directory directly"),
                    );
                }
                out.file_templates.push(Arc::new(t));
            }
            continue;
        }
        let n = normalize(f, &env.home);
        if n.is_absolute() {
            out.files.push(n);
        } else {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    f.pos,
                    format!("permissions.files: {} is not an absolute path", quote(f)),
                )
                .hint("start with '/' or '~/'"),
            );
        }
    }
    out
}

/// A credential source's `file`: a literal path checked against `permissions.files`, or a
/// template of `env.X` holes (checked at run time, once rendered).
fn credential_file(f: &Loc<String>, perms: &Perms, env: &CompileEnv, d: &mut Diags) -> Option<CredPath> {
    if !f.value.contains("{{") {
        return Some(CredPath::Literal(check_file(f, perms, env, d)));
    }
    let t = template(f, perms, d)?;
    let mut ok = true;
    if t.holes().any(|h| {
        h.reads().is_empty()
            || h.reads()
                .iter()
                .any(|p| p.first().map(String::as_str) != Some("env") || p.len() != 2)
    }) {
        ok = false;
        d.push(
            Diagnostic::error(
                Code::BadTemplate,
                f.pos,
                format!("file {} may only read environment variables", quote(f)),
            )
            .hint("write each hole as '{{ env.NAME }}', with NAME listed in permissions.env"),
        );
    }
    if f.value.contains("..") {
        ok = false;
        d.push(
            Diagnostic::error(
                Code::FileNotPermitted,
                f.pos,
                format!("file {} climbs with '..'", quote(f)),
            )
            .hint("name the file directly"),
        );
    }
    ok.then(|| CredPath::Template(Arc::new(t)))
}

/// Checks the `env.X` reads of an expression against the permissions.
fn check_env_reads(e: &Expr, pos: Pos, perms: &Perms, d: &mut Diags) {
    for path in e.reads() {
        if path.first().map(String::as_str) != Some("env") {
            continue;
        }
        match path.get(1) {
            Some(name) if perms.env_allowed(name) => {}
            Some(name) => d.push(
                Diagnostic::error(
                    Code::EnvNotPermitted,
                    pos,
                    format!("environment variable {} is not permitted", quote(name)),
                )
                .hint(format!("add '{name}' to permissions.env")),
            ),
            None => d.push(
                Diagnostic::error(Code::EnvNotPermitted, pos, "'env' may only be read as 'env.NAME'")
                    .hint("name each variable and list it in permissions.env"),
            ),
        }
    }
}

fn check_file(path: &Loc<String>, perms: &Perms, env: &CompileEnv, d: &mut Diags) -> PathBuf {
    let n = normalize(path, &env.home);
    if !n.is_absolute() {
        d.push(
            Diagnostic::error(
                Code::Invalid,
                path.pos,
                format!("file {} is not an absolute path", quote(path)),
            )
            .hint("start with '/' or '~/'"),
        );
    } else if !perms.file_allowed(&n) {
        d.push(
            Diagnostic::error(
                Code::FileNotPermitted,
                path.pos,
                format!(
                    "file {} (resolved to '{}') is not under permissions.files",
                    quote(path),
                    n.display()
                ),
            )
            .hint("add the file or a directory above it to permissions.files"),
        );
    }
    n
}

// ---------------------------------------------------------------------------------------
// Pieces
// ---------------------------------------------------------------------------------------

fn expr(src: &Loc<String>, perms: &Perms, d: &mut Diags) -> Option<Expr> {
    match Expr::compile(src) {
        Ok(e) => {
            check_env_reads(&e, src.pos, perms, d);
            Some(e)
        }
        Err(e) => {
            d.compile_err(Code::BadExpression, src.pos, "expression", src, &e, EXPR_HINT);
            None
        }
    }
}

fn template(src: &Loc<String>, perms: &Perms, d: &mut Diags) -> Option<Template> {
    template_in(src, perms, d, false)
}

/// A template with lenient holes (see [`Template::compile_lenient`]): request headers,
/// query, form and JSON bodies, status messages and limit labels.
fn template_lenient(src: &Loc<String>, perms: &Perms, d: &mut Diags) -> Option<Template> {
    template_in(src, perms, d, true)
}

fn template_in(src: &Loc<String>, perms: &Perms, d: &mut Diags, lenient: bool) -> Option<Template> {
    let compiled = if lenient {
        Template::compile_lenient(src)
    } else {
        Template::compile(src)
    };
    match compiled {
        Ok(t) => {
            for h in t.holes() {
                check_env_reads(h, src.pos, perms, d);
            }
            Some(t)
        }
        Err(e) => {
            d.compile_err(Code::BadTemplate, src.pos, "template", src, &e, TEMPLATE_HINT);
            None
        }
    }
}

fn jsonpath(src: &Loc<String>, d: &mut Diags) -> Option<CompiledPath> {
    match CompiledPath::compile(src) {
        Ok(p) => Some(p),
        Err(e) => {
            d.compile_err(Code::BadJsonpath, src.pos, "JSONPath", src, &e, PATH_HINT);
            None
        }
    }
}

fn value(spec: &ValueSpec, perms: &Perms, d: &mut Diags) -> Option<CompiledValue> {
    match CompiledValue::compile(spec) {
        Ok(v) => {
            if let Some(e) = v.expr() {
                check_env_reads(e, spec.pos, perms, d);
            }
            Some(v)
        }
        Err(ve) => {
            let (code, what, hint) = match ve.what {
                ValueErrorKind::Path => (Code::BadJsonpath, "JSONPath", PATH_HINT),
                ValueErrorKind::Expr => (Code::BadExpression, "expression", EXPR_HINT),
                ValueErrorKind::Format => (
                    Code::BadFormat,
                    "format",
                    "strftime directives such as '%Y-%m-%d %H:%M:%S'",
                ),
                ValueErrorKind::Shape => (Code::Invalid, "value", "see 'Values' in definitions/README.md"),
            };
            if ve.what == ValueErrorKind::Shape && ve.src.is_empty() {
                d.push(Diagnostic::error(code, ve.pos, ve.err.message).hint(hint));
            } else {
                d.compile_err(code, ve.pos, what, &ve.src, &ve.err, hint);
            }
            None
        }
    }
}

fn opt_value(spec: &Option<ValueSpec>, perms: &Perms, d: &mut Diags) -> Option<CompiledValue> {
    spec.as_ref().and_then(|s| value(s, perms, d))
}

fn check_id(id: &Loc<String>, d: &mut Diags) {
    let ok = id.value.len() <= 64
        && id.value.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && id
            .value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        d.push(
            Diagnostic::error(Code::BadId, id.pos, format!("id {} is not valid", quote(id)))
                .hint("ids match ^[a-z][a-z0-9-]*$, for example 'my-agent'"),
        );
    }
}

fn check_meta(meta: &Meta, d: &mut Diags) {
    if let Some(c) = &meta.brand_color {
        let ok = c.value.len() == 7 && c.value.starts_with('#') && c.value[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    c.pos,
                    format!("brand_color {} is not a '#rrggbb' colour", quote(c)),
                )
                .hint("for example '#d4a27f'"),
            );
        }
    }
}

/// A compiled URL: its template and its literal host.
#[derive(Debug)]
pub struct Url {
    pub template: Template,
    pub host: String,
}

fn url(src: &Loc<String>, perms: &Perms, d: &mut Diags) -> Option<Url> {
    let t = template(src, perms, d)?;
    let prefix = t.literal_prefix();
    let Some(rest) = prefix.strip_prefix("https://") else {
        let hint = if prefix.starts_with("http://") {
            "only https is allowed; tests reach a local server through TTOP_HTTP_REDIRECT"
        } else {
            "write the scheme and host literally: 'https://api.example.com/...'"
        };
        d.push(
            Diagnostic::error(
                Code::BadUrl,
                src.pos,
                format!("URL {} does not start with a literal 'https://'", quote(src)),
            )
            .hint(hint),
        );
        return None;
    };
    let end = rest.find(['/', '?', '#']);
    let host_part = match end {
        Some(e) => &rest[..e],
        None if t.is_literal() => rest,
        None => {
            d.push(
                Diagnostic::error(
                    Code::BadUrl,
                    src.pos,
                    format!("URL {} builds its host from a template", quote(src)),
                )
                .hint("the scheme and host must be literal; templates may fill the path, query, headers and body"),
            );
            return None;
        }
    };
    let host = host_part.rsplit_once(':').map_or(host_part, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host_part
        }
    });
    let host = host.to_ascii_lowercase();
    if host.contains('@') || !valid_host(&host) {
        d.push(
            Diagnostic::error(Code::BadUrl, src.pos, format!("URL {} has no valid host", quote(src)))
                .hint("write 'https://host/path' with no user name"),
        );
        return None;
    }
    if !perms.host_allowed(&host) {
        d.push(
            Diagnostic::error(
                Code::HostNotPermitted,
                src.pos,
                format!("host {} is not in permissions.network", quote(&host)),
            )
            .hint(format!("add '{host}' to permissions.network")),
        );
    }
    Some(Url { template: t, host })
}

// ---------------------------------------------------------------------------------------
// Compiled definitions
// ---------------------------------------------------------------------------------------

/// A compiled HTTP request.
#[derive(Debug)]
pub struct CRequest {
    pub id: Option<String>,
    pub when: Option<Expr>,
    pub method: super::model::Method,
    pub urls: Vec<Url>,
    pub headers: Vec<(String, Template)>,
    pub query: Vec<(String, Template)>,
    pub form: Vec<(String, Template)>,
    pub json: Option<serde_json::Value>,
    pub json_templates: BTreeMap<String, Template>,
    pub timeout_ms: u64,
    pub success: Option<Expr>,
    /// What each HTTP status means, by code.
    pub on_status: BTreeMap<u16, COutcome>,
    /// What it means when `success` does not hold.
    pub on_unsuccessful: Option<COutcome>,
    /// A failure leaves the response undefined instead of failing the provider.
    pub optional: bool,
    pub paginate: Option<CPaginate>,
    pub raw: Request,
}

/// A compiled `on_status` entry.
#[derive(Debug, Default)]
pub struct COutcome {
    pub error: Option<Template>,
    pub rate_limited: bool,
    pub unconfigured: bool,
    pub skip: bool,
    pub keep: bool,
}

/// Compiled paging.
#[derive(Debug)]
pub struct CPaginate {
    pub next: Expr,
    pub param: String,
    /// The plain key path of the items array (`$.data` → `["data"]`).
    pub items: Vec<String>,
    pub max_pages: u32,
}

fn request(r: &Request, perms: &Perms, d: &mut Diags) -> Option<CRequest> {
    let mut ok = true;
    let mut urls = Vec::new();
    for u in std::iter::once(&r.url).chain(&r.fallback_urls) {
        match url(u, perms, d) {
            Some(u) => urls.push(u),
            None => ok = false,
        }
    }
    let mut tmap = |m: &BTreeMap<String, Loc<String>>| -> Vec<(String, Template)> {
        m.iter()
            .filter_map(|(k, v)| match template_lenient(v, perms, d) {
                Some(t) => Some((k.clone(), t)),
                None => {
                    ok = false;
                    None
                }
            })
            .collect()
    };
    let headers = tmap(&r.headers);
    let query = tmap(&r.query);
    let form = tmap(&r.form);
    let mut json_templates = BTreeMap::new();
    if let Some(j) = &r.json {
        collect_json_templates(&j.value, j.pos, perms, d, &mut json_templates, &mut ok);
    }
    if r.json.is_some() && !r.form.is_empty() {
        d.push(Diagnostic::error(
            Code::Invalid,
            r.url.pos,
            "a request has either 'form' or 'json', not both",
        ));
        ok = false;
    }
    let mut outcome = |o: &super::model::StatusOutcome, ok: &mut bool| -> COutcome {
        let error = o.error.as_ref().and_then(|e| {
            let t = template_lenient(e, perms, d);
            if t.is_none() {
                *ok = false;
            }
            t
        });
        COutcome {
            error,
            rate_limited: o.rate_limited,
            unconfigured: o.unconfigured,
            skip: o.skip,
            keep: o.keep,
        }
    };
    let mut on_status = BTreeMap::new();
    for (code, o) in &r.on_status {
        on_status.insert(*code, outcome(o, &mut ok));
    }
    let on_unsuccessful = r.on_unsuccessful.as_ref().map(|o| outcome(o, &mut ok));
    for code in r.on_status.keys() {
        if !(100..=599).contains(code) {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    r.url.pos,
                    format!("on_status: '{code}' is not an HTTP status code"),
                )
                .hint("use codes from 100 to 599, such as 401 or 429"),
            );
            ok = false;
        }
    }
    if r.on_unsuccessful.is_some() && r.success.is_none() {
        d.push(
            Diagnostic::error(
                Code::Invalid,
                r.url.pos,
                "'on_unsuccessful' needs a 'success' expression",
            )
            .hint("add 'success:', the expression over 'body' a good response satisfies"),
        );
        ok = false;
    }
    let when = r.when.as_ref().map(|w| expr(w, perms, d));
    let success = r.success.as_ref().map(|w| expr(w, perms, d));
    let mut paginate = None;
    if let Some(p) = &r.paginate {
        let next = expr(&p.next, perms, d);
        let items = jsonpath(&p.items, d);
        let steps = items.as_ref().and_then(|i| {
            let keys: Option<Vec<String>> = i
                .plain()?
                .iter()
                .map(|s| match s {
                    super::path::Step::Key(k) => Some(k.clone()),
                    super::path::Step::Index(_) => None,
                })
                .collect();
            keys.filter(|k| !k.is_empty())
        });
        if items.is_some() && steps.is_none() {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    p.items.pos,
                    format!("paginate.items {} must be a plain path of keys", quote(&p.items)),
                )
                .hint("for example '$.data': the array whose pages are concatenated"),
            );
        }
        if p.param.is_empty() {
            d.push(Diagnostic::error(Code::Invalid, p.next.pos, "paginate.param is empty").hint("for example 'page'"));
            ok = false;
        }
        match (next, steps) {
            (Some(next), Some(items)) => {
                paginate = Some(CPaginate {
                    next,
                    param: p.param.clone(),
                    items,
                    max_pages: p.max_pages.unwrap_or(10).clamp(1, 100),
                });
            }
            _ => ok = false,
        }
    }
    if matches!(when, Some(None)) || matches!(success, Some(None)) || !ok {
        return None;
    }
    Some(CRequest {
        id: r.id.as_ref().map(|i| i.value.clone()),
        when: when.flatten(),
        method: r.method,
        urls,
        headers,
        query,
        form,
        json: r.json.as_ref().map(|j| j.value.clone()),
        json_templates,
        timeout_ms: r.timeout_ms.unwrap_or(10_000).clamp(100, 120_000),
        success: success.flatten(),
        on_status,
        on_unsuccessful,
        optional: r.optional,
        paginate,
        raw: r.clone(),
    })
}

fn collect_json_templates(
    v: &serde_json::Value,
    pos: Pos,
    perms: &Perms,
    d: &mut Diags,
    out: &mut BTreeMap<String, Template>,
    ok: &mut bool,
) {
    match v {
        serde_json::Value::String(s) if s.contains("{{") || s.contains("{%") => {
            match template_lenient(&Loc::at(s.clone(), pos), perms, d) {
                Some(t) => {
                    out.insert(s.clone(), t);
                }
                None => *ok = false,
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_json_templates(x, pos, perms, d, out, ok)),
        serde_json::Value::Object(m) => m
            .values()
            .for_each(|x| collect_json_templates(x, pos, perms, d, out, ok)),
        _ => {}
    }
}

/// A compiled provider. The runtime lives in `engine::provider`.
#[derive(Debug)]
pub struct Provider {
    pub id: String,
    pub meta: Meta,
    pub perms: Perms,
    pub credentials: Vec<CCredential>,
    pub requests: Vec<CRequest>,
    pub refresh: Option<CRefresh>,
    pub usage: CUsage,
    pub def: ProviderDef,
}

/// Where a compiled credential source reads.
#[derive(Debug)]
pub enum CredFrom {
    /// An env var; its value becomes the field `field`.
    Env { name: String, field: String },
    /// A JSON file; `shown` is the path as written (holes as `$NAME`).
    File { path: CredPath, shown: String },
    /// A macOS Keychain generic password (JSON, or plain text into `field`).
    Keychain {
        service: String,
        account: Option<String>,
        field: String,
    },
}

/// The path of a `file` credential source.
#[derive(Debug)]
pub enum CredPath {
    /// A literal path, absolute and normalised, checked against `permissions.files` at load.
    Literal(PathBuf),
    /// A template reading only `env.X` (and `~`), rendered at run time once per element of
    /// a comma-separated value; skipped when a variable is unset.
    Template(Arc<Template>),
}

/// A compiled credential source.
#[derive(Debug)]
pub struct CCredential {
    pub from: CredFrom,
    pub when: Option<Expr>,
    pub map: Vec<(String, CompiledValue)>,
}

impl CCredential {
    /// Where it reads, for messages (never the value).
    pub fn describe(&self) -> String {
        match &self.from {
            CredFrom::Env { name, .. } => format!("env '{name}'"),
            CredFrom::File { shown, .. } => format!("file '{shown}'"),
            CredFrom::Keychain { service, .. } => format!("keychain '{service}'"),
        }
    }
}

/// Compiled OAuth refresh.
#[derive(Debug)]
pub struct CRefresh {
    /// Refresh when `expires_at` is closer than this (ms).
    pub before_ms: i64,
    pub request: CRequest,
    pub map: Vec<(String, CompiledValue)>,
}

/// The compiled usage mapping.
#[derive(Debug, Default)]
pub struct CUsage {
    pub plan: Option<CompiledValue>,
    pub limits: Vec<CLimit>,
    pub limit_reached: Option<CompiledValue>,
    pub tokens: Option<CTokens>,
    pub cost: Option<CCost>,
    pub credits: Option<CCredits>,
    pub error: Option<CompiledValue>,
}

#[derive(Debug)]
pub struct CLimit {
    pub each: Option<CompiledPath>,
    pub filter: Option<Expr>,
    pub sort: Option<CSort>,
    pub take: Option<usize>,
    pub label: Template,
    pub used_percent: CompiledValue,
    pub resets_at: Option<CompiledValue>,
    pub window_minutes: Option<CompiledValue>,
}

#[derive(Debug, Clone)]
pub struct CSort {
    pub by: super::model::SortKey,
    pub desc: bool,
    pub then: Option<Box<CSort>>,
}

#[derive(Debug, Default)]
pub struct CTokens {
    pub input: Option<CompiledValue>,
    pub output: Option<CompiledValue>,
    pub cache_read: Option<CompiledValue>,
    pub cache_write: Option<CompiledValue>,
}

#[derive(Debug)]
pub struct CCost {
    pub kind: super::model::CostKind,
    pub total: CompiledValue,
    pub currency: Option<CompiledValue>,
}

#[derive(Debug, Default)]
pub struct CCredits {
    pub has_credits: Option<CompiledValue>,
    pub balance: Option<CompiledValue>,
    pub limit: Option<CompiledValue>,
    pub unlimited: Option<CompiledValue>,
}

/// A compiled notifier.
#[derive(Debug)]
pub struct Notifier {
    pub id: String,
    pub meta: Meta,
    pub perms: Perms,
    pub request: CRequest,
    pub def: NotifierDef,
}

/// The compiled normalised fields of an agent record.
#[derive(Debug)]
pub struct CFields {
    pub session_id: CompiledValue,
    pub timestamp: CompiledValue,
    pub provider: Option<CompiledValue>,
    pub model: Option<CompiledValue>,
    pub project: Option<CompiledValue>,
    pub session_name: Option<CompiledValue>,
    pub input: Option<CompiledValue>,
    pub output: Option<CompiledValue>,
    pub cache_read: Option<CompiledValue>,
    pub cache_write: Option<CompiledValue>,
    pub cache_write_1h: Option<CompiledValue>,
    pub reasoning: Option<CompiledValue>,
    pub cost: Option<CompiledValue>,
    pub duration_ms: Option<CompiledValue>,
    pub speed: Option<CompiledValue>,
}

#[derive(Debug)]
pub struct CState {
    pub prefilter: Option<Vec<u8>>,
    pub when: Expr,
    pub set: Vec<(String, CompiledValue)>,
}

/// How one source turns its data into records.
#[derive(Debug)]
pub struct CRecords {
    pub each: Option<CompiledPath>,
    pub prefilter: Option<Vec<u8>>,
    pub filter: Option<Expr>,
    pub state: Vec<CState>,
    pub cumulative: bool,
    pub dedup: Option<Vec<CompiledValue>>,
    pub keep: Keep,
    pub fields: CFields,
}

/// A compiled agent source.
#[derive(Debug)]
pub struct CSource {
    pub name: String,
    pub roots: Vec<Template>,
    pub include: GlobSet,
    pub include_src: Vec<String>,
    pub exclude: GlobSet,
    /// How many directory levels below a root the include globs can reach
    /// (`None`: unbounded, a `**` is used).
    pub max_depth: Option<usize>,
    pub format: Format,
    pub query: Option<String>,
    pub cursor: Option<String>,
    pub json_columns: Vec<String>,
    pub records: Arc<CRecords>,
}

/// A compiled agent.
#[derive(Debug)]
pub struct Agent {
    pub id: String,
    pub meta: Meta,
    pub perms: Perms,
    pub sources: Vec<CSource>,
    pub tests: Vec<AgentTest>,
}

fn globs(list: &[Loc<String>], d: &mut Diags) -> Option<GlobSet> {
    let mut b = GlobSetBuilder::new();
    let mut ok = true;
    for g in list {
        match globset::GlobBuilder::new(g).literal_separator(true).build() {
            Ok(glob) => {
                b.add(glob);
            }
            Err(e) => {
                ok = false;
                let msg = e.kind().to_string();
                d.push(
                    Diagnostic::error(Code::BadGlob, g.pos, format!("glob {}: {msg}", quote(g))).hint(
                        "globs such as '*/*.jsonl' or '**/*.json'; '*' stays within a directory, '**' crosses them",
                    ),
                );
            }
        }
    }
    let _ = Glob::new; // The builder above is the one used; `Glob::new` would not set literal separators.
    if !ok {
        return None;
    }
    match b.build() {
        Ok(s) => Some(s),
        Err(e) => {
            d.push(Diagnostic::error(
                Code::BadGlob,
                list.first().map_or(Pos::UNKNOWN, |g| g.pos),
                e.to_string(),
            ));
            None
        }
    }
}

fn glob_depth(g: &str) -> Option<usize> {
    if g.contains("**") {
        None
    } else {
        Some(g.split('/').count())
    }
}

fn prefilter(p: &Option<Loc<String>>, d: &mut Diags) -> Option<Vec<u8>> {
    let p = p.as_ref()?;
    if p.value.is_empty() {
        d.push(
            Diagnostic::error(Code::Invalid, p.pos, "prefilter is empty")
                .hint("give literal text every wanted line contains"),
        );
        return None;
    }
    Some(p.value.as_bytes().to_vec())
}

fn records(r: &Records, perms: &Perms, d: &mut Diags) -> Option<CRecords> {
    let before = d.0.iter().filter(|x| x.is_error()).count();
    let each = r.each.as_ref().and_then(|e| jsonpath(e, d));
    let filter = r.filter.as_ref().and_then(|e| expr(e, perms, d));
    let mut state = Vec::new();
    for s in &r.state {
        let when = expr(&s.when, perms, d);
        let set: Vec<_> = s
            .set
            .iter()
            .filter_map(|(k, v)| value(v, perms, d).map(|c| (k.clone(), c)))
            .collect();
        if let Some(when) = when {
            state.push(CState {
                prefilter: prefilter(&s.prefilter, d),
                when,
                set,
            });
        }
    }
    let dedup = r
        .dedup
        .as_ref()
        .map(|dd| dd.key.iter().filter_map(|k| value(k, perms, d)).collect::<Vec<_>>());
    if let Some(dd) = &r.dedup
        && dd.key.is_empty()
    {
        d.push(
            Diagnostic::error(Code::Invalid, Pos::UNKNOWN, "dedup.key is empty")
                .hint("list the values that identify a request"),
        );
    }
    let f = &r.fields;
    let session_id = value(&f.session_id, perms, d);
    let timestamp = value(&f.timestamp, perms, d);
    let fields = CFields {
        session_id: session_id?,
        timestamp: timestamp?,
        provider: opt_value(&f.provider, perms, d),
        model: opt_value(&f.model, perms, d),
        project: opt_value(&f.project, perms, d),
        session_name: opt_value(&f.session_name, perms, d),
        input: opt_value(&f.input, perms, d),
        output: opt_value(&f.output, perms, d),
        cache_read: opt_value(&f.cache_read, perms, d),
        cache_write: opt_value(&f.cache_write, perms, d),
        cache_write_1h: opt_value(&f.cache_write_1h, perms, d),
        reasoning: opt_value(&f.reasoning, perms, d),
        cost: opt_value(&f.cost, perms, d),
        duration_ms: opt_value(&f.duration_ms, perms, d),
        speed: opt_value(&f.speed, perms, d),
    };
    let pf = prefilter(&r.prefilter, d);
    if d.0.iter().filter(|x| x.is_error()).count() > before {
        return None;
    }
    Some(CRecords {
        each,
        prefilter: pf,
        filter,
        state,
        cumulative: r.counters.as_ref().is_some_and(|c| c.value == Counters::Cumulative),
        dedup,
        keep: r.dedup.as_ref().map(|dd| dd.keep).unwrap_or_default(),
        fields,
    })
}

fn check_root(root: &Loc<String>, t: &Template, perms: &Perms, env: &CompileEnv, d: &mut Diags) {
    if t.is_literal() {
        check_file(root, perms, env, d);
    } else {
        // A templated root is checked against permissions.files at run time, once its
        // env vars are known; here only its literal tail can be checked for '..'.
        if root.value.contains("..") {
            d.push(
                Diagnostic::error(
                    Code::FileNotPermitted,
                    root.pos,
                    format!("root {} climbs with '..'", quote(root)),
                )
                .hint("name the directory directly"),
            );
        }
    }
}

pub fn compile_agent(def: AgentDef, env: &CompileEnv, d: &mut Diags) -> Option<Agent> {
    check_id(&def.id, d);
    check_meta(&def.meta, d);
    let perms = compile_perms(&def.permissions, env, d);
    let shared = def.records.as_ref().and_then(|r| records(r, &perms, d)).map(Arc::new);
    let mut sources = Vec::new();
    if def.sources.is_empty() {
        d.push(
            Diagnostic::error(Code::MissingKey, def.id.pos, "an agent needs at least one source")
                .hint("add 'sources:'"),
        );
    }
    for (i, s) in def.sources.iter().enumerate() {
        let roots: Vec<Template> = s
            .roots
            .iter()
            .filter_map(|r| {
                let t = template(r, &perms, d)?;
                check_root(r, &t, &perms, env, d);
                Some(t)
            })
            .collect();
        let include = globs(&s.include, d);
        let exclude = globs(&s.exclude, d);
        let recs = match (&s.records, &shared) {
            (Some(r), _) => records(r, &perms, d).map(Arc::new),
            (None, Some(sh)) => Some(Arc::clone(sh)),
            (None, None) => {
                if def.records.is_none() {
                    d.push(
                        Diagnostic::error(
                            Code::MissingKey,
                            s.format.pos,
                            format!("source {i} has no 'records' and the agent has none"),
                        )
                        .hint("add 'records:' to the agent or to this source"),
                    );
                }
                None
            }
        };
        if s.format.value == Format::Sqlite {
            match &s.query {
                None => d.push(
                    Diagnostic::error(Code::MissingKey, s.format.pos, "a sqlite source needs 'query'")
                        .hint("SELECT ... FROM ... WHERE rowid > :cursor ORDER BY rowid"),
                ),
                Some(q) if !q.value.contains(":cursor") => d.push(
                    Diagnostic::error(Code::Invalid, q.pos, "a sqlite query needs a ':cursor' parameter")
                        .hint("read only new rows: 'WHERE rowid > :cursor ORDER BY rowid'"),
                ),
                Some(_) => {}
            }
            if s.cursor.is_none() {
                d.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        s.format.pos,
                        "a sqlite source needs 'cursor' (the column of the next :cursor)",
                    )
                    .hint("for example 'cursor: rowid'"),
                );
            }
        } else if s.query.is_some() || s.cursor.is_some() || !s.json_columns.is_empty() {
            d.push(Diagnostic::error(
                Code::Invalid,
                s.format.pos,
                "'query', 'cursor' and 'json_columns' are for sqlite sources",
            ));
        }
        let max_depth = s
            .include
            .iter()
            .map(|g| glob_depth(g))
            .try_fold(0usize, |acc, x| x.map(|x| acc.max(x)));
        if let (Some(include), Some(exclude), Some(records)) = (include, exclude, recs) {
            sources.push(CSource {
                name: s.id.clone().unwrap_or_else(|| i.to_string()),
                roots,
                include,
                include_src: s.include.iter().map(|g| g.value.clone()).collect(),
                exclude,
                max_depth,
                format: s.format.value,
                query: s.query.as_ref().map(|q| q.value.clone()),
                cursor: s.cursor.clone(),
                json_columns: s.json_columns.clone(),
                records,
            });
        }
    }
    for t in &def.tests {
        if t.source >= def.sources.len() {
            d.push(Diagnostic::error(
                Code::Invalid,
                t.expect.pos,
                format!("test '{}' names source {}, which does not exist", t.name, t.source),
            ));
        }
    }
    if d.0.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Agent {
        id: def.id.value.clone(),
        meta: def.meta.clone(),
        perms,
        sources,
        tests: def.tests,
    })
}

fn sort_spec(s: &super::model::SortSpec) -> CSort {
    CSort {
        by: s.by.value,
        desc: s.desc,
        then: s.then.as_ref().map(|t| Box::new(sort_spec(t))),
    }
}

fn compile_usage(u: &UsageMap, perms: &Perms, d: &mut Diags) -> CUsage {
    let tokens = u.tokens.as_ref().map(|t| CTokens {
        input: opt_value(&t.input, perms, d),
        output: opt_value(&t.output, perms, d),
        cache_read: opt_value(&t.cache_read, perms, d),
        cache_write: opt_value(&t.cache_write, perms, d),
    });
    let cost = u.cost.as_ref().and_then(|c| {
        let total = value(&c.total, perms, d);
        let currency = opt_value(&c.currency, perms, d);
        Some(CCost {
            kind: c.kind,
            total: total?,
            currency,
        })
    });
    let credits = u.credits.as_ref().map(|c| CCredits {
        has_credits: opt_value(&c.has_credits, perms, d),
        balance: opt_value(&c.balance, perms, d),
        limit: opt_value(&c.limit, perms, d),
        unlimited: opt_value(&c.unlimited, perms, d),
    });
    let mut limits = Vec::new();
    for l in &u.limits {
        let each = l.each.as_ref().and_then(|e| jsonpath(e, d));
        let filter = l.filter.as_ref().and_then(|f| expr(f, perms, d));
        let label = template_lenient(&l.label, perms, d);
        let used = value(&l.used_percent, perms, d);
        let resets_at = opt_value(&l.resets_at, perms, d);
        let window_minutes = opt_value(&l.window_minutes, perms, d);
        if l.each.is_none() && (l.filter.is_some() || l.sort.is_some() || l.take.is_some()) {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    l.label.pos,
                    "'where', 'sort' and 'take' work on the limits an 'each' makes",
                )
                .hint("add 'each:' with the JSONPath of an array or map, or remove them"),
            );
        }
        if let (Some(label), Some(used_percent)) = (label, used) {
            limits.push(CLimit {
                each,
                filter,
                sort: l.sort.as_ref().map(sort_spec),
                take: l.take,
                label,
                used_percent,
                resets_at,
                window_minutes,
            });
        }
    }
    CUsage {
        plan: opt_value(&u.plan, perms, d),
        limits,
        limit_reached: opt_value(&u.limit_reached, perms, d),
        tokens,
        cost,
        credits,
        error: opt_value(&u.error, perms, d),
    }
}

fn check_duration(s: &Option<Loc<String>>, d: &mut Diags) {
    if let Some(b) = s
        && let Err(e) = crate::config::parse_duration(b)
    {
        d.push(
            Diagnostic::error(Code::BadFormat, b.pos, format!("duration {}: {e}", quote(b)))
                .hint("for example '30s', '5m' or '1h'"),
        );
    }
}

pub fn compile_provider(def: ProviderDef, env: &CompileEnv, d: &mut Diags) -> Option<Provider> {
    check_id(&def.id, d);
    check_meta(&def.meta, d);
    let perms = compile_perms(&def.permissions, env, d);
    let mut credentials = Vec::new();
    for c in &def.credentials {
        let n = [c.env.is_some(), c.file.is_some(), c.keychain.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if n != 1 {
            d.push(
                Diagnostic::error(
                    Code::Invalid,
                    c.when
                        .as_ref()
                        .or(c.env.as_ref())
                        .or(c.file.as_ref())
                        .map_or(Pos::UNKNOWN, |l| l.pos),
                    "a credential source takes exactly one of 'env', 'file' or 'keychain'",
                )
                .hint("split it into several sources, tried in order"),
            );
        }
        if let Some(e) = &c.env
            && !perms.env_allowed(e)
        {
            d.push(
                Diagnostic::error(
                    Code::EnvNotPermitted,
                    e.pos,
                    format!("environment variable {} is not permitted", quote(e)),
                )
                .hint(format!("add '{}' to permissions.env", e.value)),
            );
        }
        let file = c.file.as_ref().and_then(|f| credential_file(f, &perms, env, d));
        let when = c.when.as_ref().and_then(|w| expr(w, &perms, d));
        let map: Vec<(String, CompiledValue)> = c
            .map
            .iter()
            .filter_map(|(k, v)| value(v, &perms, d).map(|cv| (k.clone(), cv)))
            .collect();
        let field = c.as_field.as_ref().map(|a| a.value.clone());
        if c.env.is_some() && field.is_none() {
            d.push(
                Diagnostic::error(
                    Code::MissingKey,
                    c.env.as_ref().map_or(Pos::UNKNOWN, |e| e.pos),
                    "an 'env' credential source needs 'as': the field its value fills",
                )
                .hint("for example 'as: api_key'"),
            );
        }
        if c.file.is_some() && c.map.is_empty() {
            d.push(
                Diagnostic::error(
                    Code::MissingKey,
                    c.file.as_ref().map_or(Pos::UNKNOWN, |e| e.pos),
                    "a 'file' credential source needs 'map': the fields it takes from the file",
                )
                .hint("for example 'map: { access_token: $.access }'"),
            );
        }
        let from = if let Some(e) = &c.env {
            Some(CredFrom::Env {
                name: e.value.clone(),
                field: field.unwrap_or_default(),
            })
        } else if let (Some(f), Some(path)) = (&c.file, file) {
            let shown = match &path {
                CredPath::Literal(_) => f.value.clone(),
                CredPath::Template(t) => t.shell_form(),
            };
            Some(CredFrom::File { path, shown })
        } else {
            c.keychain.as_ref().map(|k| CredFrom::Keychain {
                service: k.service.clone(),
                account: k.account.clone(),
                field: field.unwrap_or_else(|| "api_key".into()),
            })
        };
        if let Some(from) = from {
            credentials.push(CCredential { from, when, map });
        }
    }
    let mut seen = HashSet::new();
    let mut requests = Vec::new();
    for r in &def.requests {
        match &r.id {
            Some(id) => {
                if !seen.insert(id.value.clone()) {
                    d.push(
                        Diagnostic::error(
                            Code::DuplicateId,
                            id.pos,
                            format!("request id {} is used twice", quote(id)),
                        )
                        .hint("give each request its own id"),
                    );
                }
            }
            None => d.push(
                Diagnostic::error(Code::MissingKey, r.url.pos, "a provider request needs an 'id'")
                    .hint("add 'id: usage'"),
            ),
        }
        if let Some(c) = request(r, &perms, d) {
            requests.push(c);
        }
    }
    let refresh = def.refresh.as_ref().and_then(|rf| {
        check_duration(&rf.before, d);
        let before_ms = rf
            .before
            .as_ref()
            .and_then(|b| crate::config::parse_duration(b).ok())
            .map_or(300_000, |dur| i64::try_from(dur.as_millis()).unwrap_or(i64::MAX));
        let map: Vec<(String, CompiledValue)> = rf
            .map
            .iter()
            .filter_map(|(k, v)| value(v, &perms, d).map(|cv| (k.clone(), cv)))
            .collect();
        if !rf.map.contains_key("access_token") {
            d.push(
                Diagnostic::error(
                    Code::MissingKey,
                    rf.request.url.pos,
                    "refresh.map needs 'access_token': the new token",
                )
                .hint("for example 'access_token: $.access_token'"),
            );
        }
        let request = request(&rf.request, &perms, d)?;
        Some(CRefresh {
            before_ms,
            request,
            map,
        })
    });
    let usage = compile_usage(&def.usage, &perms, d);
    for t in &def.tests {
        if let Some(now) = &t.now
            && super::expr::parse_rfc3339_ms(now).is_none()
        {
            d.push(Diagnostic::error(
                Code::BadFormat,
                now.pos,
                format!("test clock {} is not RFC 3339", quote(now)),
            ));
        }
    }
    if d.0.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Provider {
        id: def.id.value.clone(),
        meta: def.meta.clone(),
        perms,
        credentials,
        requests,
        refresh,
        usage,
        def,
    })
}

pub fn compile_notifier(def: NotifierDef, env: &CompileEnv, d: &mut Diags) -> Option<Notifier> {
    check_id(&def.id, d);
    check_meta(&def.meta, d);
    let perms = compile_perms(&def.permissions, env, d);
    let request = request(&def.request, &perms, d);
    if def.events.is_empty() {
        d.push(
            Diagnostic::error(Code::MissingKey, def.id.pos, "a notifier needs at least one event")
                .hint("for example 'events: [budget.limit_reached]'"),
        );
    }
    if d.0.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Notifier {
        id: def.id.value.clone(),
        meta: def.meta.clone(),
        perms,
        request: request?,
        def,
    })
}

/// The kind a compiled definition is.
pub fn kind_of(def: &super::Definition) -> Kind {
    match def {
        super::Definition::Provider(_) => Kind::Provider,
        super::Definition::Agent(_) => Kind::Agent,
        super::Definition::Notifier(_) => Kind::Notifier,
    }
}
