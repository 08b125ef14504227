//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::path::Path;

/// Copies a directory tree (fixture homes into a test's private temp dir).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The shared fixture home of the end-to-end tests.
pub const HOME_FIXTURE: &str = "tests/fixtures/homes/basic";
/// OpenCode's database, as SQL text (a SQLite file cannot be committed as text).
pub const OPENCODE_SQL: &str = "definitions/agents/fixtures/opencode/opencode.db.sql";

/// A private copy of the fixture home, with ttop's own XDG dirs and database beside it.
pub struct FixtureHome {
    _tmp: tempfile::TempDir,
    pub root: std::path::PathBuf,
    pub home: std::path::PathBuf,
}

impl FixtureHome {
    /// The fixture home, OpenCode's database built from its SQL, and `config` as
    /// `config.toml`.
    pub fn new(config: &str) -> FixtureHome {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        copy_tree(Path::new(HOME_FIXTURE), &home);
        let sql = std::fs::read_to_string(OPENCODE_SQL).unwrap();
        let db = home.join(".local/share/opencode/opencode.db");
        rusqlite::Connection::open(&db).unwrap().execute_batch(&sql).unwrap();
        for d in ["xdg/data", "xdg/config/tokentop", "xdg/cache"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("xdg/config/tokentop/config.toml"), config).unwrap();
        FixtureHome { _tmp: tmp, root, home }
    }

    /// `ttop ARGS` with nothing from the outer environment: the agents' env overrides
    /// (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`...) and the real home are out of reach.
    pub fn ttop(&self, args: &[&str], env: &[(&str, String)]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("ttop").unwrap();
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.root.join("xdg/data"))
            .env("XDG_CONFIG_HOME", self.root.join("xdg/config"))
            .env("XDG_CACHE_HOME", self.root.join("xdg/cache"))
            .env("TTOP_DB", self.root.join("ttop.db"))
            .env("TZ", "UTC")
            .args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}
