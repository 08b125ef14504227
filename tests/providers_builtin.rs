//! The twelve built-in provider definitions, end to end: the real `ttop providers --json`
//! in a private home holding the credential files each definition reads, every provider
//! host sent to a local server (`TTOP_HTTP_REDIRECT`) that answers with the recorded
//! responses in `definitions/providers/fixtures/<id>/`.
//!
//! Per provider: the mapping (plan, limits with used percent and reset time, tokens,
//! cost, credits), what was sent (authentication, headers, query, body), and the answers
//! that go wrong: 401, 403, 404, 429, 5xx, a body that is not JSON and a server too slow
//! to answer, plus the OAuth refresh of the providers that have one. Every run also
//! checks that no secret of the home reaches the output.
//!
//! Times in the recorded responses are absolute (December 2026); credentials that expire
//! are written relative to the real clock, which the binary reads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const FIXTURES: &str = "definitions/providers/fixtures";

/// Every host a built-in provider talks to.
const HOSTS: &[&str] = &[
    "api.anthropic.com",
    "chatgpt.com",
    "api.github.com",
    "cloudcode-pa.googleapis.com",
    "daily-cloudcode-pa.sandbox.googleapis.com",
    "autopush-cloudcode-pa.sandbox.googleapis.com",
    "oauth2.googleapis.com",
    "api.openai.com",
    "openrouter.ai",
    "api.perplexity.ai",
    "platform.minimax.io",
    "api.z.ai",
    "api.chutes.ai",
    "opencode.ai",
];

/// The secrets the home holds; none may appear in any output.
const SECRETS: &[&str] = &[
    "sk-ant-oat01-claude-access",
    "sk-ant-ort01-claude-refresh",
    "sk-ant-oat01-opencode-access",
    "eyJhbGciOi.codex-access",
    "rt_codex-refresh",
    "ghu_copilot-apps-token",
    "gho_copilot-hosts-token",
    "ya29.gemini-access",
    "1//0g-gemini-refresh",
    "ya29.gemini-refreshed",
    "1//0e-antigravity-refresh",
    "ya29.antigravity-refreshed",
    "sk-admin-openai-key",
    "sk-or-v1-openrouter-key",
    "pplx-perplexity-key",
    "eyJ.minimax-key",
    "zai-coding-key",
    "cpk_chutes-key",
    "sk-zen-opencode-key",
];

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(rel)).unwrap_or_else(|e| panic!("fixture '{rel}': {e}"))
}

// ------------------------------------------------------------------------------------------
// The home: credential files and env vars
// ------------------------------------------------------------------------------------------

/// A private home and XDG directories; nothing from the outer environment reaches `ttop`.
struct Home {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    env: BTreeMap<String, String>,
}

impl Home {
    fn new() -> Home {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        for d in ["home", "xdg/data", "xdg/config/tokentop", "xdg/cache"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Home {
            _tmp: tmp,
            root,
            home,
            env: BTreeMap::new(),
        }
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.home.join(rel)).unwrap()
    }

    fn env(&mut self, k: &str, v: &str) {
        self.env.insert(k.to_string(), v.to_string());
    }

    /// Writes `~/.local/share/opencode/auth.json` with these entries.
    fn opencode_auth(&self, entries: Value) {
        self.write(
            ".local/share/opencode/auth.json",
            &serde_json::to_string_pretty(&entries).unwrap(),
        );
    }

    /// The credentials of one provider, as its usual client writes them.
    fn sign_in(&mut self, id: &str) {
        let in_an_hour = now_ms() + 3_600_000;
        match id {
            "anthropic" => self.write(
                ".claude/.credentials.json",
                &json!({"claudeAiOauth": {
                    "accessToken": "sk-ant-oat01-claude-access",
                    "refreshToken": "sk-ant-ort01-claude-refresh",
                    "expiresAt": in_an_hour,
                    "scopes": ["user:inference", "user:profile", "user:sessions:claude_code"],
                    "subscriptionType": "max",
                    "rateLimitTier": "default_claude_max_20x"
                }})
                .to_string(),
            ),
            "codex" => self.write(
                ".codex/auth.json",
                &json!({
                    "OPENAI_API_KEY": null,
                    "tokens": {
                        "id_token": "eyJhbGciOi.codex-id",
                        "access_token": "eyJhbGciOi.codex-access",
                        "refresh_token": "rt_codex-refresh",
                        "account_id": "acct-5f1e2d3c"
                    },
                    "last_refresh": "2026-12-01T08:00:00.000000Z"
                })
                .to_string(),
            ),
            "github-copilot" => self.write(
                ".config/github-copilot/apps.json",
                &json!({"github.com:Iv1.b507a08c87ecfe98": {
                    "user": "octocat", "oauth_token": "ghu_copilot-apps-token", "githubAppId": "Iv1.b507a08c87ecfe98"
                }})
                .to_string(),
            ),
            "gemini" => self.write(
                ".gemini/oauth_creds.json",
                &json!({
                    "access_token": "ya29.gemini-access",
                    "refresh_token": "1//0g-gemini-refresh",
                    "scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid",
                    "token_type": "Bearer",
                    "id_token": "eyJhbGciOi.gemini-id",
                    "expiry_date": in_an_hour
                })
                .to_string(),
            ),
            "antigravity" => self.write(
                ".config/opencode/antigravity-accounts.json",
                &json!({
                    "version": 3,
                    "accounts": [
                        {"email": "old@example.com", "refreshToken": "1//0e-stale-refresh", "addedAt": 1764000000000_i64},
                        {"email": "alice@example.com", "refreshToken": "1//0e-antigravity-refresh|charged-atlas-4k2m9|",
                         "addedAt": 1764500000000_i64, "lastUsed": 1796390000000_i64, "rateLimitResetTimes": {}}
                    ],
                    "activeIndex": 1,
                    "activeIndexByFamily": {"claude": 1, "gemini": 1}
                })
                .to_string(),
            ),
            "openai-api" => self.env("OPENAI_ADMIN_KEY", "sk-admin-openai-key"),
            "perplexity" => self.env("PERPLEXITY_API_KEY", "pplx-perplexity-key"),
            "zai-coding-plan" => self.env("ZAI_API_KEY", "zai-coding-key"),
            // These four read OpenCode's auth.json; `sign_in_all` writes it once for all.
            "openrouter" | "minimax" | "chutes" | "opencode-zen" => {
                self.opencode_auth(json!({
                    "openrouter": {"type": "api", "key": "sk-or-v1-openrouter-key"},
                    "minimax-coding-plan": {"type": "api", "key": "eyJ.minimax-key", "groupId": "1900000000000000001"},
                    "chutes": {"type": "api", "key": "cpk_chutes-key"},
                    "opencode": {"type": "api", "key": "sk-zen-opencode-key"}
                }));
            }
            other => panic!("unknown provider '{other}'"),
        }
    }

    fn sign_in_all(&mut self) {
        for id in IDS {
            self.sign_in(id);
        }
    }
}

const IDS: &[&str] = &[
    "anthropic",
    "codex",
    "github-copilot",
    "gemini",
    "antigravity",
    "openai-api",
    "openrouter",
    "perplexity",
    "minimax",
    "zai-coding-plan",
    "chutes",
    "opencode-zen",
];

// ------------------------------------------------------------------------------------------
// The network: one local server per host
// ------------------------------------------------------------------------------------------

struct Net {
    servers: BTreeMap<&'static str, MockServer>,
}

impl Net {
    async fn start() -> Net {
        let mut servers = BTreeMap::new();
        for h in HOSTS {
            servers.insert(*h, MockServer::start().await);
        }
        Net { servers }
    }

    fn server(&self, host: &str) -> &MockServer {
        &self.servers[host]
    }

    fn redirect_env(&self) -> String {
        self.servers
            .iter()
            .map(|(h, s)| format!("{h}={}", s.uri()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Answers `METHOD PATH` on `host` with a recorded response.
    async fn answer(&self, host: &str, verb: &str, p: &str, fixture_rel: &str) {
        self.reply(
            host,
            verb,
            p,
            ResponseTemplate::new(200).set_body_raw(fixture(fixture_rel), "application/json"),
        )
        .await;
    }

    async fn reply(&self, host: &str, verb: &str, p: &str, r: ResponseTemplate) {
        Mock::given(method(verb))
            .and(path(p))
            .respond_with(r)
            .mount(self.server(host))
            .await;
    }

    /// The requests one host received (`METHOD PATH` optionally filtered).
    async fn received(&self, host: &str, verb: &str, p: &str) -> Vec<Request> {
        self.server(host)
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == p)
            .collect()
    }

    async fn total_received(&self) -> usize {
        let mut n = 0;
        for s in self.servers.values() {
            n += s.received_requests().await.unwrap().len();
        }
        n
    }

    /// Successful answers for every request of one provider (the first fixture of each).
    async fn answer_ok(&self, id: &str) {
        match id {
            "anthropic" => {
                self.answer(
                    "api.anthropic.com",
                    "GET",
                    "/api/oauth/usage",
                    "anthropic/usage-max.json",
                )
                .await
            }
            "codex" => {
                self.answer("chatgpt.com", "GET", "/backend-api/wham/usage", "codex/usage-plus.json")
                    .await
            }
            "github-copilot" => {
                self.answer(
                    "api.github.com",
                    "GET",
                    "/copilot_internal/user",
                    "github-copilot/user-pro.json",
                )
                .await;
            }
            "gemini" => {
                let h = "cloudcode-pa.googleapis.com";
                self.answer(h, "POST", "/v1internal:loadCodeAssist", "gemini/load-free.json")
                    .await;
                self.answer(h, "POST", "/v1internal:retrieveUserQuota", "gemini/quota.json")
                    .await;
                self.token_endpoint("681255809395", "ya29.gemini-refreshed").await;
            }
            "antigravity" => {
                self.token_endpoint("1071006060591", "ya29.antigravity-refreshed").await;
                for h in ANTIGRAVITY_HOSTS {
                    self.answer(h, "POST", "/v1internal:fetchAvailableModels", "antigravity/models.json")
                        .await;
                }
            }
            "openai-api" => {
                let h = "api.openai.com";
                self.answer(
                    h,
                    "GET",
                    "/v1/organization/usage/completions",
                    "openai-api/completions.json",
                )
                .await;
                self.answer(h, "GET", "/v1/organization/costs", "openai-api/costs.json")
                    .await;
            }
            "openrouter" => {
                self.answer("openrouter.ai", "GET", "/api/v1/key", "openrouter/key-monthly.json")
                    .await;
                self.answer("openrouter.ai", "GET", "/api/v1/credits", "openrouter/credits.json")
                    .await;
            }
            "perplexity" => {
                self.answer(
                    "api.perplexity.ai",
                    "GET",
                    "/async/chat/completions",
                    "perplexity/jobs.json",
                )
                .await;
            }
            "minimax" => {
                let p = "/v1/api/openplatform/coding_plan/remains";
                self.answer("platform.minimax.io", "GET", p, "minimax/remains.json")
                    .await;
            }
            "zai-coding-plan" => {
                let p = "/api/monitor/usage/quota/limit";
                self.answer("api.z.ai", "GET", p, "zai-coding-plan/quota.json").await;
            }
            "chutes" => {
                self.answer(
                    "api.chutes.ai",
                    "GET",
                    "/users/me/quota_usage/me",
                    "chutes/quota-base.json",
                )
                .await
            }
            "opencode-zen" => {
                self.answer("opencode.ai", "GET", "/zen/v1/models", "opencode-zen/models.json")
                    .await
            }
            other => panic!("unknown provider '{other}'"),
        }
    }

    /// Google's token endpoint, answering refreshes made with the client whose id starts
    /// with `client`.
    async fn token_endpoint(&self, client: &str, access: &str) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(format!("client_id={client}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": access,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid",
                "token_type": "Bearer"
            })))
            .mount(self.server("oauth2.googleapis.com"))
            .await;
    }
}

const ANTIGRAVITY_HOSTS: &[&str] = &[
    "daily-cloudcode-pa.sandbox.googleapis.com",
    "autopush-cloudcode-pa.sandbox.googleapis.com",
    "cloudcode-pa.googleapis.com",
];

/// The main usage request of each provider: `(host, method, path)`. Gemini's first
/// request is `loadCodeAssist`; Antigravity's is its first URL.
fn main_requests(id: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    match id {
        "anthropic" => vec![("api.anthropic.com", "GET", "/api/oauth/usage")],
        "codex" => vec![("chatgpt.com", "GET", "/backend-api/wham/usage")],
        "github-copilot" => vec![("api.github.com", "GET", "/copilot_internal/user")],
        "gemini" => vec![
            ("cloudcode-pa.googleapis.com", "POST", "/v1internal:loadCodeAssist"),
            ("cloudcode-pa.googleapis.com", "POST", "/v1internal:retrieveUserQuota"),
        ],
        "antigravity" => ANTIGRAVITY_HOSTS
            .iter()
            .map(|h| (*h, "POST", "/v1internal:fetchAvailableModels"))
            .collect(),
        "openai-api" => vec![
            ("api.openai.com", "GET", "/v1/organization/usage/completions"),
            ("api.openai.com", "GET", "/v1/organization/costs"),
        ],
        "openrouter" => vec![
            ("openrouter.ai", "GET", "/api/v1/key"),
            ("openrouter.ai", "GET", "/api/v1/credits"),
        ],
        "perplexity" => vec![("api.perplexity.ai", "GET", "/async/chat/completions")],
        "minimax" => vec![("platform.minimax.io", "GET", "/v1/api/openplatform/coding_plan/remains")],
        "zai-coding-plan" => vec![("api.z.ai", "GET", "/api/monitor/usage/quota/limit")],
        "chutes" => vec![("api.chutes.ai", "GET", "/users/me/quota_usage/me")],
        "opencode-zen" => vec![("opencode.ai", "GET", "/zen/v1/models")],
        other => panic!("unknown provider '{other}'"),
    }
}

// ------------------------------------------------------------------------------------------
// Running ttop
// ------------------------------------------------------------------------------------------

/// What one `ttop providers --json` printed, by provider id, plus the raw text.
struct Run {
    by_id: BTreeMap<String, Value>,
    stdout: String,
}

impl Run {
    fn get(&self, id: &str) -> &Value {
        self.by_id
            .get(id)
            .unwrap_or_else(|| panic!("no provider '{id}' in:\n{}", self.stdout))
    }
}

async fn run_ttop(home: &Home, net: &Net) -> Run {
    let mut cmd = Command::cargo_bin("ttop").unwrap();
    cmd.env_clear()
        .env("HOME", &home.home)
        .env("XDG_DATA_HOME", home.root.join("xdg/data"))
        .env("XDG_CONFIG_HOME", home.root.join("xdg/config"))
        .env("XDG_CACHE_HOME", home.root.join("xdg/cache"))
        .env("TTOP_DB", home.root.join("ttop.db"))
        .env("TZ", "UTC")
        .env("TTOP_HTTP_REDIRECT", net.redirect_env())
        .args(["providers", "--json"]);
    for (k, v) in &home.env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "ttop providers failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for s in SECRETS {
        assert!(!stdout.contains(s), "secret '{s}' in the output:\n{stdout}");
        assert!(!stderr.contains(s), "secret '{s}' on stderr:\n{stderr}");
    }
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
    let by_id = v["providers"]
        .as_array()
        .unwrap_or_else(|| panic!("no providers array:\n{stdout}"))
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_string(), p.clone()))
        .collect();
    Run { by_id, stdout }
}

/// Asserts that `got` holds everything in `want`: objects key by key (other keys may be
/// there), arrays element by element with the same length, numbers within 1e-9.
fn assert_subset(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&Value::Null);
                assert_subset(gv, wv, &format!("{at}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: expected {w:?}, got {g:?}");
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                assert_subset(gv, wv, &format!("{at}[{i}]"));
            }
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!((g - w).abs() < 1e-9, "{at}: expected {w}, got {g}");
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no '{name}' header in {} {}", r.method, r.url))
}

fn form(r: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded_parse(&r.body)
}

/// A tiny `application/x-www-form-urlencoded` parser (keys and values percent-decoded).
mod url {
    use std::collections::BTreeMap;

    pub fn form_urlencoded_parse(body: &[u8]) -> BTreeMap<String, String> {
        let text = String::from_utf8_lossy(body);
        text.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 3 <= b.len() && s.is_char_boundary(i + 3) {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}

/// One provider signed in and answered with its first recorded responses.
async fn single(id: &str) -> (Home, Net, Run) {
    let mut home = Home::new();
    home.sign_in(id);
    let net = Net::start().await;
    net.answer_ok(id).await;
    let run = run_ttop(&home, &net).await;
    (home, net, run)
}

// ------------------------------------------------------------------------------------------
// Mapping, one provider at a time
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_max_plan_from_claude_code_credentials() {
    let (_home, net, run) = single("anthropic").await;
    assert_subset(
        run.get("anthropic"),
        &json!({
            "configured": true, "error": null, "plan": "Max 20x", "limit_reached": false, "rate_limited": false,
            "limits": [
                {"label": "7-day Opus", "used_percent": 71, "window_minutes": 10080, "resets_at": "2026-12-08T00:00:00.412Z"},
                {"label": "5-hour window", "used_percent": 37.4, "window_minutes": 300, "resets_at": "2026-12-04T18:00:00.412Z"},
                {"label": "Extra usage (monthly)", "used_percent": 24.68, "window_minutes": null, "resets_at": null},
                {"label": "7-day window", "used_percent": 22, "window_minutes": 10080},
                {"label": "7-day Sonnet", "used_percent": 9, "window_minutes": 10080}
            ],
            "credits": {"balance": 37.66, "limit": 50}
        }),
        "anthropic",
    );
    let reqs = net.received("api.anthropic.com", "GET", "/api/oauth/usage").await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(header(&reqs[0], "authorization"), "Bearer sk-ant-oat01-claude-access");
    assert_eq!(header(&reqs[0], "anthropic-beta"), "oauth-2025-04-20");
    // Every other provider is listed, not configured, and sent nothing.
    for id in IDS.iter().filter(|i| **i != "anthropic") {
        assert_eq!(run.get(id)["configured"], json!(false), "{id}");
    }
    assert_eq!(net.total_received().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_from_opencode_and_expired_tokens() {
    // OpenCode's login wins over Claude Code's file; it carries no plan.
    let mut home = Home::new();
    home.sign_in("anthropic");
    home.opencode_auth(json!({"anthropic": {
        "type": "oauth", "access": "sk-ant-oat01-opencode-access", "refresh": "sk-ant-ort01-claude-refresh",
        "expires": now_ms() + 3_600_000
    }}));
    let net = Net::start().await;
    net.answer(
        "api.anthropic.com",
        "GET",
        "/api/oauth/usage",
        "anthropic/usage-pro-nulls.json",
    )
    .await;
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("anthropic"),
        &json!({"plan": "Pro/Max", "error": null, "limits": [
            {"label": "5-hour window", "used_percent": 12},
            {"label": "7-day window", "used_percent": 3, "resets_at": null}
        ], "credits": null}),
        "anthropic",
    );
    let reqs = net.received("api.anthropic.com", "GET", "/api/oauth/usage").await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer sk-ant-oat01-opencode-access");

    // Both tokens expired: there is no refresh (it would sign the agent out), so nothing
    // is sent and the user is asked to sign in again.
    let expired = now_ms() - 60_000;
    home.opencode_auth(
        json!({"anthropic": {"type": "oauth", "access": "sk-ant-oat01-opencode-access", "expires": expired}}),
    );
    home.write(
        ".claude/.credentials.json",
        &json!({"claudeAiOauth": {"accessToken": "sk-ant-oat01-claude-access", "expiresAt": expired, "subscriptionType": "pro"}})
            .to_string(),
    );
    let net = Net::start().await;
    let run = run_ttop(&home, &net).await;
    let a = run.get("anthropic");
    assert_eq!(a["configured"], json!(true));
    let err = a["error"].as_str().unwrap();
    assert!(err.contains("expired") && err.contains("sign in again"), "{err}");
    assert_eq!(net.total_received().await, 0);

    // An API key alone: the API plan, and nothing sent.
    let mut home = Home::new();
    home.env("ANTHROPIC_API_KEY", "sk-ant-api03-key");
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("anthropic"),
        &json!({"configured": true, "plan": "API", "limits": [], "error": null}),
        "anthropic",
    );
    assert!(!run.stdout.contains("sk-ant-api03-key"));
    assert_eq!(net.total_received().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_tries_each_claude_config_dir() {
    // CLAUDE_CONFIG_DIR lists two directories: the first has no credentials, the second
    // does, and wins over ~/.claude/.credentials.json.
    let mut home = Home::new();
    home.sign_in("anthropic");
    let (empty, work) = (home.root.join("claude-empty"), home.root.join("claude-work"));
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join(".credentials.json"),
        json!({"claudeAiOauth": {
            "accessToken": "sk-ant-oat01-claude-work-access", "expiresAt": now_ms() + 3_600_000,
            "subscriptionType": "pro"
        }})
        .to_string(),
    )
    .unwrap();
    home.env("CLAUDE_CONFIG_DIR", &format!("{},{}", empty.display(), work.display()));
    let net = Net::start().await;
    net.answer_ok("anthropic").await;
    let run = run_ttop(&home, &net).await;
    assert_eq!(run.get("anthropic")["error"], json!(null));
    assert!(!run.stdout.contains("sk-ant-oat01-claude-work-access"));
    let reqs = net.received("api.anthropic.com", "GET", "/api/oauth/usage").await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        header(&reqs[0], "authorization"),
        "Bearer sk-ant-oat01-claude-work-access"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_plus_plan_from_the_nested_codex_auth_file() {
    let (_home, net, run) = single("codex").await;
    assert_subset(
        run.get("codex"),
        &json!({
            "configured": true, "error": null, "plan": "ChatGPT Plus", "limit_reached": false,
            "limits": [
                {"label": "5-hour window", "used_percent": 22, "window_minutes": 300, "resets_at": "2026-12-04T18:00:00Z"},
                {"label": "7-day window", "used_percent": 5, "window_minutes": 10080, "resets_at": "2026-12-08T00:00:00Z"}
            ],
            "credits": {"unlimited": false, "balance": null}
        }),
        "codex",
    );
    let reqs = net.received("chatgpt.com", "GET", "/backend-api/wham/usage").await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer eyJhbGciOi.codex-access");
    assert_eq!(header(&reqs[0], "chatgpt-account-id"), "acct-5f1e2d3c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_reads_auth_json_from_codex_home_and_opencode_from_xdg_data_home() {
    // CODEX_HOME outside the home directory wins over ~/.codex/auth.json.
    let mut home = Home::new();
    home.sign_in("codex");
    let codex_home = home.root.join("elsewhere/codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("auth.json"),
        json!({"OPENAI_API_KEY": null, "tokens": {
            "access_token": "eyJhbGciOi.codex-home-access", "refresh_token": "rt_codex-refresh",
            "account_id": "acct-codex-home"
        }})
        .to_string(),
    )
    .unwrap();
    home.env("CODEX_HOME", codex_home.to_str().unwrap());
    let net = Net::start().await;
    net.answer_ok("codex").await;
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("codex"),
        &json!({"configured": true, "error": null, "plan": "ChatGPT Plus"}),
        "codex",
    );
    assert!(!run.stdout.contains("eyJhbGciOi.codex-home-access"));
    let reqs = net.received("chatgpt.com", "GET", "/backend-api/wham/usage").await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(header(&reqs[0], "authorization"), "Bearer eyJhbGciOi.codex-home-access");
    assert_eq!(header(&reqs[0], "chatgpt-account-id"), "acct-codex-home");

    // A CODEX_HOME without auth.json falls back to the default file.
    std::fs::remove_file(codex_home.join("auth.json")).unwrap();
    let net = Net::start().await;
    net.answer_ok("codex").await;
    run_ttop(&home, &net).await;
    let reqs = net.received("chatgpt.com", "GET", "/backend-api/wham/usage").await;
    assert_eq!(header(&reqs[0], "chatgpt-account-id"), "acct-5f1e2d3c");

    // OpenCode's login under $XDG_DATA_HOME/opencode is found with no Codex login at all.
    let home = Home::new();
    let xdg_auth = home.root.join("xdg/data/opencode/auth.json");
    std::fs::create_dir_all(xdg_auth.parent().unwrap()).unwrap();
    std::fs::write(
        &xdg_auth,
        json!({"openai": {
            "type": "oauth", "access": "eyJhbGciOi.codex-access", "refresh": "rt_codex-refresh",
            "expires": now_ms() + 3_600_000, "accountId": "acct-xdg-opencode"
        }})
        .to_string(),
    )
    .unwrap();
    let net = Net::start().await;
    net.answer_ok("codex").await;
    let run = run_ttop(&home, &net).await;
    assert_eq!(run.get("codex")["error"], json!(null));
    let reqs = net.received("chatgpt.com", "GET", "/backend-api/wham/usage").await;
    assert_eq!(header(&reqs[0], "chatgpt-account-id"), "acct-xdg-opencode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_limit_reached_from_opencode() {
    let home = Home::new();
    home.opencode_auth(json!({"openai": {
        "type": "oauth", "access": "eyJhbGciOi.codex-access", "refresh": "rt_codex-refresh",
        "expires": now_ms() + 3_600_000, "accountId": "acct-opencode-1"
    }}));
    let net = Net::start().await;
    net.answer(
        "chatgpt.com",
        "GET",
        "/backend-api/wham/usage",
        "codex/usage-pro-limit.json",
    )
    .await;
    let before = now_ms();
    let run = run_ttop(&home, &net).await;
    let c = run.get("codex");
    assert_subset(
        c,
        &json!({"plan": "ChatGPT Pro", "limit_reached": true, "credits": {"balance": 12.5, "unlimited": false},
                "limits": [{"label": "5-hour window", "used_percent": 100}, {"label": "7-day window", "used_percent": 41}]}),
        "codex",
    );
    // Only reset_after_seconds (5400 s) is given: the reset is that far from now.
    let reset = c["limits"][0]["resets_at"]
        .as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    assert!(
        (reset - before - 5_400_000).abs() < 60_000,
        "reset {reset}, now {before}"
    );
    let reqs = net.received("chatgpt.com", "GET", "/backend-api/wham/usage").await;
    assert_eq!(header(&reqs[0], "chatgpt-account-id"), "acct-opencode-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_copilot_premium_requests() {
    let (_home, net, run) = single("github-copilot").await;
    assert_subset(
        run.get("github-copilot"),
        &json!({
            "configured": true, "error": null, "plan": "Copilot Pro", "limit_reached": false,
            "limits": [{"label": "Premium requests (125/300)", "used_percent": 41.666666666666664,
                        "resets_at": "2027-01-01T00:00:00Z", "window_minutes": 43200}]
        }),
        "github-copilot",
    );
    let reqs = net.received("api.github.com", "GET", "/copilot_internal/user").await;
    // GitHub's own scheme: the word `token`, not Bearer.
    assert_eq!(header(&reqs[0], "authorization"), "token ghu_copilot-apps-token");
    assert_eq!(header(&reqs[0], "x-github-api-version"), "2022-11-28");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_copilot_free_plan_from_hosts_json() {
    let home = Home::new();
    home.write(
        ".config/github-copilot/hosts.json",
        &json!({"github.com": {"user": "octocat", "oauth_token": "gho_copilot-hosts-token"}}).to_string(),
    );
    let net = Net::start().await;
    net.answer(
        "api.github.com",
        "GET",
        "/copilot_internal/user",
        "github-copilot/user-free.json",
    )
    .await;
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("github-copilot"),
        &json!({"plan": "Copilot Free", "error": null, "limits": [
            {"label": "Chat messages (380/500)", "used_percent": 76, "resets_at": "2027-01-01T00:00:00Z"},
            {"label": "Code completions (1000/4000)", "used_percent": 25}
        ]}),
        "github-copilot",
    );
    let reqs = net.received("api.github.com", "GET", "/copilot_internal/user").await;
    assert_eq!(header(&reqs[0], "authorization"), "token gho_copilot-hosts-token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_project_discovery_chain() {
    let (home, net, run) = single("gemini").await;
    assert_subset(
        run.get("gemini"),
        &json!({
            "configured": true, "error": null, "plan": "Gemini Code Assist for individuals", "limit_reached": false,
            "limits": [
                {"label": "gemini-2.5-pro", "used_percent": 62, "resets_at": "2026-12-05T00:00:00Z", "window_minutes": 1440},
                {"label": "gemini-2.5-flash", "used_percent": 9},
                {"label": "gemini-2.5-flash-lite", "used_percent": 0}
            ]
        }),
        "gemini",
    );
    let h = "cloudcode-pa.googleapis.com";
    let load = net.received(h, "POST", "/v1internal:loadCodeAssist").await;
    assert_eq!(header(&load[0], "authorization"), "Bearer ya29.gemini-access");
    assert_eq!(
        load[0].body_json::<Value>().unwrap(),
        json!({"metadata": {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}})
    );
    // The project found by loadCodeAssist is the one asked about.
    let quota = net.received(h, "POST", "/v1internal:retrieveUserQuota").await;
    assert_eq!(
        quota[0].body_json::<Value>().unwrap(),
        json!({"project": "charged-atlas-4k2m9"})
    );
    // A valid token is not refreshed, and onboarding is never attempted.
    assert!(net.received("oauth2.googleapis.com", "POST", "/token").await.is_empty());
    assert!(net.received(h, "POST", "/v1internal:onboardUser").await.is_empty());
    assert!(home.read(".gemini/oauth_creds.json").contains("ya29.gemini-access"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_refreshes_an_expired_token_in_memory_and_honours_the_project_env() {
    let mut home = Home::new();
    home.sign_in("gemini");
    let creds_path = ".gemini/oauth_creds.json";
    let mut creds: Value = serde_json::from_str(&home.read(creds_path)).unwrap();
    creds["expiry_date"] = json!(now_ms() - 1000);
    home.write(creds_path, &creds.to_string());
    let written = home.read(creds_path);
    home.env("GOOGLE_CLOUD_PROJECT", "acme-dev-391201");
    let net = Net::start().await;
    net.answer_ok("gemini").await;
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("gemini"),
        &json!({"error": null, "limits": [{"used_percent": 62}, {}, {}]}),
        "gemini",
    );

    let token = net.received("oauth2.googleapis.com", "POST", "/token").await;
    assert_eq!(token.len(), 1);
    let f = form(&token[0]);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "1//0g-gemini-refresh");
    assert_eq!(
        f["client_id"],
        "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
    );
    assert!(f["client_secret"].starts_with("GOCSPX-"));
    let h = "cloudcode-pa.googleapis.com";
    let quota = net.received(h, "POST", "/v1internal:retrieveUserQuota").await;
    assert_eq!(header(&quota[0], "authorization"), "Bearer ya29.gemini-refreshed");
    assert_eq!(
        quota[0].body_json::<Value>().unwrap(),
        json!({"project": "acme-dev-391201"})
    );
    // The refreshed token is never written back.
    assert_eq!(home.read(creds_path), written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_refresh_refused() {
    let mut home = Home::new();
    home.sign_in("gemini");
    let mut creds: Value = serde_json::from_str(&home.read(".gemini/oauth_creds.json")).unwrap();
    creds["expiry_date"] = json!(now_ms() - 1000);
    home.write(".gemini/oauth_creds.json", &creds.to_string());
    let net = Net::start().await;
    net.reply(
        "oauth2.googleapis.com",
        "POST",
        "/token",
        ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        ),
    )
    .await;
    let run = run_ttop(&home, &net).await;
    let g = run.get("gemini");
    let err = g["error"].as_str().unwrap();
    assert!(err.contains("Google refused to refresh the Gemini token"), "{err}");
    assert!(
        net.received("cloudcode-pa.googleapis.com", "POST", "/v1internal:loadCodeAssist")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn antigravity_refreshes_the_active_account_and_maps_model_quotas() {
    let (home, net, run) = single("antigravity").await;
    assert_subset(
        run.get("antigravity"),
        &json!({
            "configured": true, "error": null, "plan": "Antigravity", "limit_reached": false,
            "limits": [
                {"label": "Gemini 3 Pro (High)", "used_percent": 38, "resets_at": "2026-12-04T18:00:00Z", "window_minutes": 300},
                {"label": "Claude Sonnet 4.5", "used_percent": 20, "resets_at": "2026-12-04T19:00:00Z"},
                {"label": "Gemini 3 Flash", "used_percent": 0},
                {"label": "GPT-OSS 120B (Medium)", "used_percent": 0}
            ]
        }),
        "antigravity",
    );
    // The active account (index 1), its token without the "|project|" suffix, and the
    // Antigravity client.
    let token = net.received("oauth2.googleapis.com", "POST", "/token").await;
    assert_eq!(token.len(), 1);
    let f = form(&token[0]);
    assert_eq!(f["refresh_token"], "1//0e-antigravity-refresh");
    assert_eq!(
        f["client_id"],
        "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
    );
    // The first URL answered: the others were not asked.
    let first = net
        .received(
            "daily-cloudcode-pa.sandbox.googleapis.com",
            "POST",
            "/v1internal:fetchAvailableModels",
        )
        .await;
    assert_eq!(first.len(), 1);
    assert_eq!(header(&first[0], "authorization"), "Bearer ya29.antigravity-refreshed");
    assert_eq!(header(&first[0], "user-agent"), "antigravity/1.11.5 windows/amd64");
    assert!(
        net.received(
            "cloudcode-pa.googleapis.com",
            "POST",
            "/v1internal:fetchAvailableModels"
        )
        .await
        .is_empty()
    );
    assert!(
        home.read(".config/opencode/antigravity-accounts.json")
            .contains("1//0e-antigravity-refresh|")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn antigravity_falls_back_to_the_next_endpoint() {
    let mut home = Home::new();
    home.sign_in("antigravity");
    let net = Net::start().await;
    net.token_endpoint("1071006060591", "ya29.antigravity-refreshed").await;
    let p = "/v1internal:fetchAvailableModels";
    net.reply(
        "daily-cloudcode-pa.sandbox.googleapis.com",
        "POST",
        p,
        ResponseTemplate::new(503),
    )
    .await;
    net.reply(
        "autopush-cloudcode-pa.sandbox.googleapis.com",
        "POST",
        p,
        ResponseTemplate::new(200).set_body_json(json!({"error": "no models here"})),
    )
    .await;
    net.answer(
        "cloudcode-pa.googleapis.com",
        "POST",
        p,
        "antigravity/models-exhausted.json",
    )
    .await;
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("antigravity"),
        &json!({"error": null, "limit_reached": true, "limits": [
            {"label": "Claude Opus 4.5 (Thinking)", "used_percent": 100},
            {"label": "Claude Sonnet 4.5", "used_percent": 100},
            {"label": "Gemini 3 Pro (High)", "used_percent": 10}
        ]}),
        "antigravity",
    );
    // 503 is retried (three tries) before moving on; a body without models is not.
    assert_eq!(
        net.received("daily-cloudcode-pa.sandbox.googleapis.com", "POST", p)
            .await
            .len(),
        3
    );
    assert_eq!(
        net.received("autopush-cloudcode-pa.sandbox.googleapis.com", "POST", p)
            .await
            .len(),
        1
    );
    assert_eq!(net.received("cloudcode-pa.googleapis.com", "POST", p).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_api_month_to_date_usage_and_cost_with_paging() {
    let mut home = Home::new();
    home.sign_in("openai-api");
    let net = Net::start().await;
    let h = "api.openai.com";
    let usage = "/v1/organization/usage/completions";
    // The second page is asked for with the cursor of the first.
    Mock::given(method("GET"))
        .and(path(usage))
        .and(query_param("page", "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("openai-api/completions-page2.json"), "application/json"),
        )
        .with_priority(1)
        .mount(net.server(h))
        .await;
    net.answer(h, "GET", usage, "openai-api/completions-page1.json").await;
    net.answer(h, "GET", "/v1/organization/costs", "openai-api/costs.json")
        .await;
    let run = run_ttop(&home, &net).await;
    assert_subset(
        run.get("openai-api"),
        &json!({"configured": true, "error": null, "plan": "API", "limits": [],
                "tokens": {"input": 90000, "output": 41000, "cache_read": 110000},
                "cost": {"kind": "actual", "total": 12.4375, "currency": "USD"}}),
        "openai-api",
    );
    let reqs = net.received(h, "GET", usage).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(header(&reqs[0], "authorization"), "Bearer sk-admin-openai-key");
    let q: BTreeMap<String, String> = reqs[0].url.query_pairs().into_owned().collect();
    assert_eq!(q["bucket_width"], "1d");
    // From the first day of the current UTC month.
    let start: i64 = q["start_time"].parse().unwrap();
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let first = today
        .first_of_month()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_second();
    assert_eq!(start, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_api_project_key_is_told_to_use_an_admin_key() {
    let mut home = Home::new();
    home.env("OPENAI_API_KEY", "sk-admin-openai-key");
    let net = Net::start().await;
    net.reply(
        "api.openai.com",
        "GET",
        "/v1/organization/usage/completions",
        ResponseTemplate::new(403).set_body_raw(fixture("openai-api/error-403.json"), "application/json"),
    )
    .await;
    let run = run_ttop(&home, &net).await;
    // Shown as not configured (a project key is not ttop's problem), with the hint.
    let p = run.get("openai-api");
    assert_eq!(p["configured"], json!(false), "{p:#}");
    let err = p["error"].as_str().unwrap().to_string();
    assert!(err.contains("create an admin key and set OPENAI_ADMIN_KEY"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openrouter_key_limit_and_credits() {
    let (_home, net, run) = single("openrouter").await;
    assert_subset(
        run.get("openrouter"),
        &json!({
            "configured": true, "error": null, "plan": "Pay as you go",
            "limits": [{"label": "Key limit (monthly)", "used_percent": 25.5}],
            "cost": {"kind": "actual", "total": 25.5, "currency": "USD"},
            "credits": {"balance": 74.5, "limit": 100, "has_credits": true}
        }),
        "openrouter",
    );
    // A monthly limit resets on the first of next month, 00:00 UTC.
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let next = today.first_of_month().checked_add(jiff::Span::new().months(1)).unwrap();
    assert_eq!(
        run.get("openrouter")["limits"][0]["resets_at"],
        json!(format!("{}T00:00:00Z", next))
    );
    let reqs = net.received("openrouter.ai", "GET", "/api/v1/key").await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer sk-or-v1-openrouter-key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perplexity_checks_the_key_without_a_billable_request() {
    let (_home, net, run) = single("perplexity").await;
    assert_subset(
        run.get("perplexity"),
        &json!({"configured": true, "error": null, "plan": "API", "limits": [], "credits": {"has_credits": true}}),
        "perplexity",
    );
    let reqs = net
        .received("api.perplexity.ai", "GET", "/async/chat/completions")
        .await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(header(&reqs[0], "authorization"), "Bearer pplx-perplexity-key");
    // Nothing is posted: a chat completion would cost money on every poll.
    let all = net.server("api.perplexity.ai").received_requests().await.unwrap();
    assert!(all.iter().all(|r| r.method.as_str() == "GET"), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_coding_plan_prompts() {
    let (_home, net, run) = single("minimax").await;
    assert_subset(
        run.get("minimax"),
        &json!({"configured": true, "error": null, "plan": "MiniMax Coding Plan", "limit_reached": false,
                "limits": [{"label": "MiniMax-M2 (27/100)", "used_percent": 27, "resets_at": "2026-12-04T18:00:00Z", "window_minutes": 300}]}),
        "minimax",
    );
    let reqs = net
        .received("platform.minimax.io", "GET", "/v1/api/openplatform/coding_plan/remains")
        .await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer eyJ.minimax-key");
    let q: BTreeMap<String, String> = reqs[0].url.query_pairs().into_owned().collect();
    assert_eq!(q["GroupId"], "1900000000000000001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_error_inside_a_200_answer() {
    let mut home = Home::new();
    home.env("MINIMAX_API_KEY", "eyJ.minimax-key");
    home.env("MINIMAX_GROUP_ID", "1900000000000000002");
    let net = Net::start().await;
    let p = "/v1/api/openplatform/coding_plan/remains";
    net.answer("platform.minimax.io", "GET", p, "minimax/remains-error.json")
        .await;
    let run = run_ttop(&home, &net).await;
    assert_eq!(run.get("minimax")["error"], json!("MiniMax: invalid api key"));
    let reqs = net.received("platform.minimax.io", "GET", p).await;
    let q: BTreeMap<String, String> = reqs[0].url.query_pairs().into_owned().collect();
    assert_eq!(q["GroupId"], "1900000000000000002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zai_coding_plan_limits() {
    let (_home, net, run) = single("zai-coding-plan").await;
    assert_subset(
        run.get("zai-coding-plan"),
        &json!({"configured": true, "error": null, "plan": "Z.ai Coding Plan", "limit_reached": false, "limits": [
            {"label": "Tokens", "used_percent": 25, "resets_at": "2026-12-04T18:00:00Z"},
            {"label": "Time", "used_percent": 8.3, "resets_at": null}
        ]}),
        "zai-coding-plan",
    );
    let reqs = net.received("api.z.ai", "GET", "/api/monitor/usage/quota/limit").await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer zai-coding-key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chutes_daily_quota() {
    let (_home, net, run) = single("chutes").await;
    let tomorrow = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .unwrap();
    assert_subset(
        run.get("chutes"),
        &json!({"configured": true, "error": null, "plan": "Base", "limit_reached": false, "limits": [
            {"label": "Daily quota (75/300)", "used_percent": 25, "window_minutes": 1440, "resets_at": format!("{tomorrow}T00:00:00Z")}
        ]}),
        "chutes",
    );
    let reqs = net.received("api.chutes.ai", "GET", "/users/me/quota_usage/me").await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer cpk_chutes-key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_zen_key_check() {
    let (_home, net, run) = single("opencode-zen").await;
    assert_subset(
        run.get("opencode-zen"),
        &json!({"configured": true, "error": null, "plan": "Pay as you go", "limits": []}),
        "opencode-zen",
    );
    let reqs = net.received("opencode.ai", "GET", "/zen/v1/models").await;
    assert_eq!(header(&reqs[0], "authorization"), "Bearer sk-zen-opencode-key");
}

// ------------------------------------------------------------------------------------------
// Everything at once, and every way an answer goes wrong
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_twelve_at_once() {
    let mut home = Home::new();
    home.sign_in_all();
    let net = Net::start().await;
    for id in IDS {
        net.answer_ok(id).await;
    }
    let run = run_ttop(&home, &net).await;
    for id in IDS {
        let p = run.get(id);
        assert_eq!(p["configured"], json!(true), "{id}: {p:#}");
        assert_eq!(p["error"], json!(null), "{id}: {p:#}");
        assert!(
            p["fetched_at"].as_str().is_some_and(|s| s.ends_with('Z')),
            "{id}: {p:#}"
        );
        let limits = p["limits"].as_array().unwrap();
        let used: Vec<f64> = limits.iter().map(|l| l["used_percent"].as_f64().unwrap()).collect();
        assert!(
            used.windows(2).all(|w| w[0] >= w[1]),
            "{id}: limits not sorted: {used:?}"
        );
    }
}

/// Every request of every provider answered with `r`; returns the run.
async fn all_answer(r: &ResponseTemplate) -> Run {
    let mut home = Home::new();
    home.sign_in_all();
    let net = Net::start().await;
    // Refreshes work, so the usage requests are what fails.
    net.token_endpoint("681255809395", "ya29.gemini-refreshed").await;
    net.token_endpoint("1071006060591", "ya29.antigravity-refreshed").await;
    for id in IDS {
        for (host, verb, p) in main_requests(id) {
            net.reply(host, verb, p, r.clone()).await;
        }
    }
    run_ttop(&home, &net).await
}

/// Asserts each provider's error holds the text expected for it; the providers in
/// `unconfigured` are shown as not configured, the others as configured.
fn assert_errors(run: &Run, want: &[(&str, &str)], rate_limited: bool, unconfigured: &[&str]) {
    for (id, text) in want {
        let p = run.get(id);
        assert_eq!(p["configured"], json!(!unconfigured.contains(id)), "{id}: {p:#}");
        let err = p["error"].as_str().unwrap_or_else(|| panic!("{id}: no error: {p:#}"));
        assert!(err.contains(text), "{id}: expected '{text}' in '{err}'");
        assert_eq!(p["rate_limited"], json!(rate_limited), "{id}: {p:#}");
        assert_eq!(p["limits"], json!([]), "{id}: {p:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_401_asks_to_sign_in_again() {
    let r = ResponseTemplate::new(401)
        .set_body_json(json!({"error": {"type": "authentication_error", "message": "invalid token"}}));
    let run = all_answer(&r).await;
    assert_errors(
        &run,
        &[
            (
                "anthropic",
                "Claude token expired or revoked: run Claude Code (or OpenCode) to sign in again",
            ),
            (
                "codex",
                "ChatGPT token expired: run Codex (or OpenCode) to sign in again",
            ),
            ("github-copilot", "GitHub token rejected"),
            ("gemini", "Gemini token rejected: run 'gemini' to sign in again"),
            ("antigravity", "Antigravity token rejected"),
            ("openai-api", "OpenAI key rejected"),
            ("openrouter", "OpenRouter key rejected"),
            ("perplexity", "Perplexity API key rejected"),
            ("minimax", "MiniMax key rejected"),
            ("zai-coding-plan", "Z.ai key rejected"),
            ("chutes", "Chutes key rejected"),
            ("opencode-zen", "OpenCode Zen key rejected"),
        ],
        false,
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_403_explains_what_is_missing() {
    let r = ResponseTemplate::new(403).set_body_json(json!({"error": "forbidden"}));
    let run = all_answer(&r).await;
    assert_errors(
        &run,
        &[
            ("anthropic", "lacks the 'user:profile' scope"),
            ("codex", "ChatGPT refused the usage request"),
            ("github-copilot", "may not read Copilot usage"),
            // loadCodeAssist is skipped on 403, and no project is left to ask about.
            ("gemini", "no Gemini Code Assist project"),
            ("antigravity", "may not use Antigravity"),
            ("openai-api", "set OPENAI_ADMIN_KEY"),
            ("openrouter", "HTTP 403"),
            ("perplexity", "may not use the API"),
            ("minimax", "has no Coding Plan access"),
            ("zai-coding-plan", "has no Coding Plan"),
            ("chutes", "may not read the quota"),
            ("opencode-zen", "is disabled"),
        ],
        false,
        // A key that may not read organization usage is not a configured provider.
        &["openai-api"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_404() {
    let r = ResponseTemplate::new(404).set_body_string("Not Found");
    let run = all_answer(&r).await;
    let mut want: Vec<(&str, &str)> = IDS
        .iter()
        .filter(|i| !matches!(**i, "github-copilot" | "gemini"))
        .map(|i| (*i, "HTTP 404"))
        .collect();
    want.push(("github-copilot", "Copilot is not enabled for this GitHub account"));
    want.push(("gemini", "no Gemini Code Assist project"));
    assert_errors(&run, &want, false, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_429_marks_rate_limited() {
    let r = ResponseTemplate::new(429)
        .insert_header("retry-after", "120")
        .set_body_json(json!({"error": "slow down"}));
    let run = all_answer(&r).await;
    let want: Vec<(&str, &str)> = IDS.iter().map(|i| (*i, "rate limited")).collect();
    assert_errors(&run, &want, true, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_5xx_is_retried_then_reported() {
    let r = ResponseTemplate::new(502).set_body_string("<html><body>Bad Gateway</body></html>");
    let run = all_answer(&r).await;
    let want: Vec<(&str, &str)> = IDS.iter().map(|i| (*i, "HTTP 502")).collect();
    assert_errors(&run, &want, false, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_body_is_an_error_not_a_crash() {
    let r = ResponseTemplate::new(200).set_body_raw(b"<html>\x00\xff garbage {{{".to_vec(), "text/html");
    let run = all_answer(&r).await;
    let want: Vec<(&str, &str)> = IDS.iter().map(|i| (*i, "is not JSON")).collect();
    assert_errors(&run, &want, false, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_servers_time_out_without_delaying_the_others() {
    // Every provider's first request hangs past its timeout, except that Antigravity's
    // fallback hosts answer; all twelve are polled at once, so the whole run takes about
    // one timeout, not twelve.
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({}))
        .set_delay(Duration::from_secs(12));
    let mut home = Home::new();
    home.sign_in_all();
    let net = Net::start().await;
    net.token_endpoint("681255809395", "ya29.gemini-refreshed").await;
    net.token_endpoint("1071006060591", "ya29.antigravity-refreshed").await;
    for id in IDS {
        let (host, verb, p) = main_requests(id)[0];
        net.reply(host, verb, p, slow.clone()).await;
    }
    let p = "/v1internal:fetchAvailableModels";
    net.answer(
        "autopush-cloudcode-pa.sandbox.googleapis.com",
        "POST",
        p,
        "antigravity/models.json",
    )
    .await;
    let started = std::time::Instant::now();
    let run = run_ttop(&home, &net).await;
    let took = started.elapsed();
    let want: Vec<(&str, &str)> = IDS
        .iter()
        .filter(|i| **i != "antigravity")
        .map(|i| (*i, "timed out"))
        .collect();
    assert_errors(&run, &want, false, &[]);
    assert_subset(
        run.get("antigravity"),
        &json!({"error": null, "limits": [{}, {}, {}, {}]}),
        "antigravity",
    );
    // Not a timing assertion on speed: twelve timeouts in a row would take minutes.
    assert!(took < Duration::from_secs(25), "took {took:?}");
}

// ------------------------------------------------------------------------------------------
// The definitions' own tests
// ------------------------------------------------------------------------------------------

#[test]
fn definitions_load_clean_and_pass_their_own_tests() {
    let files: Vec<PathBuf> = IDS
        .iter()
        .map(|id| Path::new("definitions/providers").join(format!("{id}.yaml")))
        .collect();
    let out = Command::cargo_bin("ttop")
        .unwrap()
        .env_clear()
        .env("HOME", "/nonexistent")
        .arg("validate-def")
        .arg("--deny-warnings")
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("12 definition files checked: 12 ok, 0 errors, 0 warnings"),
        "{stdout}"
    );
    // Every definition starts with the schema line and carries several tests.
    for (id, f) in IDS.iter().zip(&files) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../../schemas/provider.v1.json\n"),
            "{id}"
        );
        let tests = text.lines().filter(|l| l.starts_with("  - name: ")).count();
        assert!(tests >= 2, "{id} has {tests} tests");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_missing_every_field() {
    // `{}` everywhere: nothing crashes, no provider invents usage (no zero tokens, no
    // 0% limits), and those whose answer must hold something say it does not.
    let r = ResponseTemplate::new(200).set_body_json(json!({}));
    let run = all_answer(&r).await;
    for id in IDS {
        let p = run.get(id);
        assert_eq!(p["configured"], json!(true), "{id}: {p:#}");
        assert_eq!(p["limits"], json!([]), "{id}: {p:#}");
        assert_eq!(p["limit_reached"], json!(false), "{id}: {p:#}");
        assert_eq!(p["tokens"], json!(null), "{id}: {p:#}");
        assert_eq!(p["cost"], json!(null), "{id}: {p:#}");
    }
    let plans = [
        ("anthropic", "Max 20x"),
        ("codex", "ChatGPT"),
        ("github-copilot", "Copilot"),
        ("openrouter", "Pay as you go"),
        ("chutes", "Chutes"),
    ];
    for (id, plan) in plans {
        assert_subset(run.get(id), &json!({"plan": plan, "error": null}), id);
    }
    assert_errors(
        &run,
        &[
            ("gemini", "no Gemini Code Assist project found"),
            ("antigravity", "Antigravity answered without a model list"),
            ("openai-api", "OpenAI answered without usage buckets"),
            ("perplexity", "Perplexity answered something that is not a job list"),
            ("minimax", "MiniMax: unknown error"),
            ("zai-coding-plan", "Z.ai: the quota request failed"),
            ("opencode-zen", "OpenCode Zen answered without a model list"),
        ],
        false,
        &[],
    );
}
