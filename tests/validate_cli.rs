//! `ttop validate-def` through the real binary: the built-in set, a user directory with
//! an override, a broken file and a new definition, `disabled`, JSON output and
//! `--deny-warnings`, and `--sample` on an agent.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn ttop(home: &Path) -> Command {
    let mut c = Command::cargo_bin("ttop").unwrap();
    c.env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    c
}

const MY_AGENT: &str = r#"apiVersion: tokentop/v1
kind: Agent
id: my-agent
meta: { name: My Agent }
permissions: { files: ["~/.my-agent"] }
sources:
  - roots: ["~/.my-agent"]
    include: ["*.jsonl"]
    format: jsonl
records:
  prefilter: '"usage"'
  fields:
    session_id: { from: file_stem }
    timestamp: { path: $.ts, type: rfc3339 }
    model: $.model
    input: $.usage.in
    output: $.usage.out
"#;

#[test]
fn builtins_validate_clean() {
    let home = tempfile::tempdir().unwrap();
    let out = ttop(home.path()).arg("validate-def").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    for id in [
        "claude-code",
        "codex",
        "opencode",
        "gemini-cli",
        "anthropic",
        "openrouter",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with('✓') && l.contains(id)),
            "{id} missing:\n{text}"
        );
    }
    assert!(text.contains("0 errors, 0 warnings"), "{text}");
}

#[test]
fn user_directory_files_are_picked_up_overridden_disabled_and_isolated() {
    let home = tempfile::tempdir().unwrap();
    let defs = home.path().join("config/tokentop/definitions/nested");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(defs.join("my-agent.yaml"), MY_AGENT).unwrap();
    // A user file replacing the built-in codex agent.
    let codex = MY_AGENT.replace("id: my-agent", "id: codex");
    std::fs::write(defs.join("codex.yml"), codex).unwrap();
    // A broken file: only it is disabled.
    std::fs::write(
        defs.join("broken.yaml"),
        "apiVersion: tokentop/v1\nkind: Agent\nid: broken\nmeta: { nme: x }\n",
    )
    .unwrap();
    let out = ttop(home.path())
        .args(["validate-def", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |id: &str, origin: &str| {
        v["definitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id && d["origin"] == origin)
            .map(|d| d["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("my-agent", "user").as_deref(), Some("ok"));
    assert_eq!(status("codex", "user").as_deref(), Some("ok"));
    assert_eq!(status("codex", "builtin").as_deref(), Some("overridden"));
    assert_eq!(status("broken", "user").as_deref(), Some("error"));
    assert_eq!(status("claude-code", "builtin").as_deref(), Some("ok"));
    let diags = v["diagnostics"].as_array().unwrap();
    assert!(
        diags.iter().any(|d| d["code"] == "override" && d["level"] == "warning"),
        "{diags:?}"
    );
    assert!(
        diags.iter().any(|d| d["code"] == "unknown-key" && d["line"] == 4),
        "{diags:?}"
    );
    // Without the broken file: warnings alone pass, unless they are denied.
    std::fs::remove_file(defs.join("broken.yaml")).unwrap();
    assert!(ttop(home.path()).arg("validate-def").output().unwrap().status.success());
    let denied = ttop(home.path())
        .args(["validate-def", "--deny-warnings"])
        .output()
        .unwrap();
    assert_eq!(denied.status.code(), Some(1));
    // `disabled` in config turns a definition off.
    std::fs::write(
        home.path().join("config/tokentop/config.toml"),
        "disabled = [\"my-agent\"]\n",
    )
    .unwrap();
    let out = ttop(home.path())
        .args(["validate-def", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = v["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "my-agent")
        .unwrap()
        .clone();
    assert_eq!(mine["status"], "disabled");
}

#[test]
fn sample_prints_what_an_agent_definition_extracts() {
    let home = tempfile::tempdir().unwrap();
    let def = home.path().join("my-agent.yaml");
    std::fs::write(&def, MY_AGENT).unwrap();
    let data = home.path().join("s1.jsonl");
    std::fs::write(
        &data,
        "{\"ts\":\"2026-11-03T10:00:00.123456Z\",\"model\":\"m\",\"usage\":{\"in\":5,\"out\":2}}\nnot json\n{\"ts\":\"2026-11-03T10:01:00Z\",\"model\":\"m\",\"usage\":{\"in\":7,\"out\":1}}\n",
    )
    .unwrap();
    let out = ttop(home.path())
        .args(["validate-def"])
        .arg(&def)
        .arg("--sample")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["totals"]["records"], 2);
    assert_eq!(last["totals"]["input"], 12);
    assert_eq!(last["totals"]["output"], 3);
    assert_eq!(text.lines().count(), 3, "{text}");
}
