//! The real `ttop` binary in a real terminal (tmux): the demo's views and overlays, the
//! dashboard over a fixture home, and a record appended to a watched session file showing
//! up on screen within a second.
//!
//! Skips (with a message) only when tmux is not installed; CI installs it (`.ci/run`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
#![allow(clippy::disallowed_methods)] // Driving tmux, a real terminal, is the point of this test.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HOME_FIXTURE: &str = "tests/fixtures/homes/basic";
const OPENCODE_SQL: &str = "definitions/agents/fixtures/opencode/opencode.db.sql";
const CLAUDE_TAIL: &str = "tests/fixtures/homes/basic-claude-tail.jsonl";
const CLAUDE_PARTIAL: &str = ".claude/projects/-home-alice-webapp/7c3e9b21-0d4a-4f6b-8e2c-5a1f3d9b7e60.jsonl";

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: tmux is not installed; install it to run the terminal tests");
    }
    ok
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, script: &str) -> Tmux {
        let socket = format!("ttop-test-{}-{name}", std::process::id());
        let t = Tmux { socket };
        let status = t
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(script)
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", "t"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let status = self.cmd().args(["send-keys", "-t", "t", k]).status().unwrap();
            assert!(status.success());
            // Separate keys, so an Esc is not read as Alt+ the next key.
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Waits until the screen contains `text`; returns how long it took.
    fn wait_for(&self, text: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!("'{text}' did not appear within {limit:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn bin() -> String {
    env!("CARGO_BIN_EXE_ttop").to_owned()
}

/// Runs the command, then prints its exit status and keeps the pane open.
fn script(env: &str, args: &str) -> String {
    format!(
        "env -i PATH=/usr/bin:/bin TERM=xterm-256color {env} '{}' {args}; echo \"EXIT=$?\"; sleep 30",
        bin()
    )
}

#[test]
fn demo_visits_every_view_and_overlay_then_quits() {
    if !have_tmux() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().display().to_string();
    let t = Tmux::start(
        "demo",
        120,
        36,
        &script(
            &format!("HOME='{home}' XDG_CONFIG_HOME='{home}/c' XDG_DATA_HOME='{home}/d' TZ=UTC"),
            "demo --seed 7",
        ),
    );
    let long = Duration::from_secs(20);
    t.wait_for("SESSIONS", long);
    t.wait_for("DEMO", long);
    t.keys(&["2"]);
    t.wait_for("HEALTH", long);
    t.wait_for("Anthropic", long);
    t.keys(&["3"]);
    t.wait_for("last 30 days", long);
    t.keys(&["4"]);
    t.wait_for("PROJECTS [", long);
    t.keys(&["1"]);
    t.wait_for("INSIGHTS", long);
    t.keys(&["?"]);
    t.wait_for("Keys", long);
    t.keys(&["Escape", ","]);
    t.wait_for("Default time window", long);
    t.keys(&["Escape", ":"]);
    t.wait_for("Command", long);
    t.keys(&["t", "h", "e", "m", "e"]);
    t.wait_for("Theme: ", long);
    t.keys(&["Escape", "q"]);
    t.wait_for("EXIT=0", long);
    // The demo wrote nothing into the home directory.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// The fixture home of `tests/agents_e2e.rs`, with a config that opens on all time.
fn sandbox() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let home = root.join("home");
    common::copy_tree(Path::new(HOME_FIXTURE), &home);
    let sql = std::fs::read_to_string(OPENCODE_SQL).unwrap();
    let db = home.join(".local/share/opencode/opencode.db");
    rusqlite::Connection::open(&db).unwrap().execute_batch(&sql).unwrap();
    std::fs::create_dir_all(root.join("xdg/config/tokentop")).unwrap();
    std::fs::write(
        root.join("xdg/config/tokentop/config.toml"),
        "[display]\ndefault_window = \"all\"\n",
    )
    .unwrap();
    let env = format!(
        "HOME='{}' XDG_DATA_HOME='{r}/xdg/data' XDG_CONFIG_HOME='{r}/xdg/config' XDG_CACHE_HOME='{r}/xdg/cache' \
         TTOP_DB='{r}/ttop.db' TZ=UTC",
        home.display(),
        r = root.display()
    );
    (tmp, home, env)
}

#[test]
fn dashboard_over_a_fixture_home_shows_its_sessions_and_live_appends() {
    if !have_tmux() {
        return;
    }
    let (_tmp, home, env) = sandbox();
    let t = Tmux::start("home", 200, 40, &script(&env, ""));
    let long = Duration::from_secs(30);
    for agent in ["claude-code", "codex", "opencode", "gemini-cli"] {
        t.wait_for(agent, long);
    }
    t.wait_for("webapp", long);
    // Session 7c3e9b21 (ID column: its last 7 characters) has 6 + 576 = 582 tokens.
    t.wait_for("d9b7e60", long);
    let row = |screen: &str| screen.lines().find(|l| l.contains("d9b7e60")).unwrap_or("").to_owned();
    assert!(
        row(&t.screen()).contains("582"),
        "before the append: {}",
        row(&t.screen())
    );
    // Give the watcher time to settle, then complete the half-written line and append the
    // rest of the response: 9 + 809 = 818 tokens.
    std::thread::sleep(Duration::from_millis(500));
    let tail = std::fs::read(CLAUDE_TAIL).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(home.join(CLAUDE_PARTIAL))
        .unwrap();
    f.write_all(&tail).unwrap();
    drop(f);
    let start = Instant::now();
    loop {
        let screen = t.screen();
        if row(&screen).contains("818") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the appended record did not show within a second; the row: {}",
            row(&screen)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("append visible after {:?}", start.elapsed());
    t.keys(&["q"]);
    t.wait_for("EXIT=0", long);
}

#[test]
fn no_agent_data_says_where_it_looked_and_suggests_the_demo() {
    if !have_tmux() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let r = std::fs::canonicalize(tmp.path()).unwrap().display().to_string();
    std::fs::create_dir_all(format!("{r}/home")).unwrap();
    let env = format!(
        "HOME='{r}/home' XDG_DATA_HOME='{r}/d' XDG_CONFIG_HOME='{r}/c' XDG_CACHE_HOME='{r}/k' TTOP_DB='{r}/t.db' TZ=UTC"
    );
    let t = Tmux::start("empty", 160, 40, &script(&env, ""));
    let long = Duration::from_secs(30);
    t.wait_for("No agent usage found yet", long);
    t.wait_for("Looked for session files in", long);
    t.wait_for("ttop demo", long);
    t.keys(&["q"]);
    t.wait_for("EXIT=0", long);
}
