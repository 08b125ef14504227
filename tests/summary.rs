//! `ttop summary`: the text overview, on an empty home and over the fixture home.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

mod common;

use std::path::Path;

use assert_cmd::Command;

fn summary(home: &Path) -> String {
    let out = Command::cargo_bin("ttop")
        .unwrap()
        .arg("summary")
        .env_clear()
        .env("HOME", home)
        .env("TTOP_DB", home.join("ttop.db"))
        .env("TZ", "UTC")
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("TTOP_HTTP_REDIRECT", "models.dev=http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn empty_home_says_where_it_looked_and_suggests_the_demo() {
    let home = tempfile::tempdir().unwrap();
    let text = summary(home.path());
    assert!(text.contains("No usage recorded yet. 'ttop demo'"), "{text}");
    assert!(text.contains("~/.claude/projects"), "{text}");
    assert!(text.contains("(none exist yet)"), "{text}");
}

#[test]
fn fixture_home_shows_everything_recorded_by_agent() {
    let home = tempfile::tempdir().unwrap();
    common::copy_tree(Path::new("tests/fixtures/homes/basic"), home.path());
    let text = summary(home.path());
    // The fixture's sessions are in November 2026: older than the last 7 days.
    assert!(text.contains("Everything recorded, by agent"), "{text}");
    let claude = text
        .lines()
        .find(|l| l.starts_with("claude-code"))
        .expect("a claude-code row");
    assert!(claude.contains("86,577"), "{claude}");
    assert!(text.contains("✓ Claude Code"), "{text}");
}
