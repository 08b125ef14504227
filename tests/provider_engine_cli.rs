//! `ttop providers --json`, `ttop doctor` and `ttop validate-def --sample` on provider
//! definitions, through the real binary, with user-directory definitions and a loopback
//! server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use serde_json::Value;

/// Answers `/ok` with usage, `/fail` with a 500, and records every request line.
fn server() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut stream in l.incoming().flatten() {
            let mut buf = vec![0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            let line = text.lines().next().unwrap_or("").to_string();
            s.lock().unwrap().push(text.clone());
            let (status, body) = if line.contains("/ok") {
                (
                    "200 OK",
                    r#"{"plan":"pro","windows":[{"name":"daily","used":12.5,"reset":"2026-12-05T00:00:00Z"},{"name":"weekly","used":55,"reset":"2026-12-07T00:00:00Z"}]}"#,
                )
            } else {
                ("500 Internal Server Error", r#"{"error":"down"}"#)
            };
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    (base, seen)
}

fn definition(id: &str, path: &str, env: &str) -> String {
    format!(
        r#"apiVersion: tokentop/v1
kind: Provider
id: {id}
meta: {{ name: "{id} name" }}
permissions:
  network: [api.example.com]
  env: [{env}]
credentials:
  - env: {env}
    as: api_key
requests:
  - id: usage
    url: https://api.example.com{path}
    headers: {{ Authorization: "Bearer {{{{ cred.api_key }}}}" }}
usage:
  plan: {{ path: $.usage.plan, map: {{ pro: Pro }} }}
  limits:
    - each: $.usage.windows
      label: "{{{{ item.name }}}} window"
      used_percent: "@.used"
      resets_at: {{ path: "@.reset", type: rfc3339 }}
"#
    )
}

fn ttop(home: &Path, redirect: &str) -> Command {
    let mut c = Command::cargo_bin("ttop").unwrap();
    c.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("TTOP_HTTP_REDIRECT", format!("api.example.com={redirect}"));
    c
}

#[test]
fn providers_json_reports_working_failing_and_unconfigured() {
    let (base, seen) = server();
    let home = tempfile::tempdir().unwrap();
    let defs = home.path().join("config/tokentop/definitions");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(
        defs.join("ok.yaml"),
        definition("test-working", "/ok", "TEST_WORKING_KEY"),
    )
    .unwrap();
    std::fs::write(
        defs.join("fail.yaml"),
        definition("test-failing", "/fail", "TEST_FAILING_KEY"),
    )
    .unwrap();
    std::fs::write(
        defs.join("none.yaml"),
        definition("test-unconfigured", "/ok", "TEST_MISSING_KEY"),
    )
    .unwrap();
    let out = ttop(home.path(), &base)
        .env("TEST_WORKING_KEY", "sk-working-secret-1")
        .env("TEST_FAILING_KEY", "sk-failing-secret-2")
        .args(["providers", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("sk-working-secret-1") && !text.contains("sk-failing-secret-2"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let list = v["providers"].as_array().unwrap();
    let get = |id: &str| list.iter().find(|p| p["id"] == id).unwrap().clone();
    let ok = get("test-working");
    assert_eq!(ok["configured"], true);
    assert_eq!(ok["plan"], "Pro");
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(
        ok["limits"],
        serde_json::json!([
            {"label": "weekly window", "used_percent": 55, "resets_at": "2026-12-07T00:00:00Z", "window_minutes": null},
            {"label": "daily window", "used_percent": 12.5, "resets_at": "2026-12-05T00:00:00Z", "window_minutes": null},
        ])
    );
    let keys: Vec<&str> = ok.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "id",
            "name",
            "configured",
            "plan",
            "limits",
            "limit_reached",
            "tokens",
            "cost",
            "credits",
            "error",
            "rate_limited",
            "fetched_at"
        ]
    );
    let failing = get("test-failing");
    assert_eq!(failing["configured"], true);
    assert!(failing["error"].as_str().unwrap().contains("HTTP 500 (server error)"));
    let none = get("test-unconfigured");
    assert_eq!(none["configured"], false);
    assert_eq!(none["error"], Value::Null);
    // The unconfigured provider sent nothing; the failing one was retried twice.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|r| r.starts_with("GET /ok")).count(), 1);
    assert_eq!(seen.iter().filter(|r| r.starts_with("GET /fail")).count(), 3);
    drop(seen);

    // doctor: credentials found or not (never printed), and the last poll from the store.
    let out = ttop(home.path(), &base)
        .env("TEST_WORKING_KEY", "sk-working-secret-1")
        .arg("doctor")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("✓ test-working (test-working name): credentials found (env 'TEST_WORKING_KEY')"),
        "{text}"
    );
    assert!(
        text.contains("✓ last poll") && text.contains("ok (Pro), 55% used"),
        "{text}"
    );
    assert!(
        text.contains("✗ test-unconfigured (test-unconfigured name): no credentials found"),
        "{text}"
    );
    assert!(text.contains("looked in: $TEST_MISSING_KEY"), "{text}");
    assert!(text.contains("✗ last poll") && text.contains("HTTP 500"), "{text}");
    assert!(!text.contains("sk-working-secret-1"));
}

#[test]
fn validate_def_runs_provider_tests_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = definition("test-provider", "/ok", "TEST_KEY");
    yaml.push_str(
        r#"tests:
  - name: two windows
    credentials: { api_key: k }
    responses: { usage: fixtures/usage.json }
    expect:
      plan: Pro
      limits: [{ label: weekly window, used_percent: 55 }, { label: daily window, used_percent: 12.5 }]
  - name: a wrong expectation
    credentials: { api_key: k }
    responses: { usage: fixtures/usage.json }
    expect: { plan: Max }
  - name: a 401
    credentials: { api_key: k }
    statuses: { usage: 401 }
    expect: { error: "request 'usage': HTTP 401 (credential rejected) from 'https://api.example.com/ok'" }
"#,
    );
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    std::fs::write(
        dir.path().join("fixtures/usage.json"),
        r#"{"plan":"pro","windows":[{"name":"daily","used":12.5},{"name":"weekly","used":55}]}"#,
    )
    .unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = ttop(dir.path(), "http://127.0.0.1:9")
        .args(["validate-def"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("error[test-failed]: test 'a wrong expectation': plan: expected \"Max\", got \"Pro\""),
        "{text}"
    );
    assert!(!text.contains("two windows"), "{text}");
    assert!(!text.contains("a 401"), "{text}");
    let out = ttop(dir.path(), "http://127.0.0.1:9")
        .args(["validate-def", "--no-tests", "--sample"])
        .arg(format!("usage={}", dir.path().join("fixtures/usage.json").display()))
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(v["plan"], "Pro");
    assert_eq!(v["limits"][0]["label"], "weekly window");
}
