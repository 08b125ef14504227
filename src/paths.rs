//! Where ttop keeps its files, following the XDG Base Directory specification.
//!
//! [`Paths::resolve`] is pure: the environment comes in as a function, so the caller
//! (the context module, the only code allowed to read env vars) decides where values
//! come from and tests pass a map. Nothing here touches the filesystem.
//!
//! | directory | from | fallback |
//! | --- | --- | --- |
//! | config | `$XDG_CONFIG_HOME/tokentop` | `$HOME/.config/tokentop` |
//! | data | `$XDG_DATA_HOME/tokentop` | `$HOME/.local/share/tokentop` |
//! | cache | `$XDG_CACHE_HOME/tokentop` | `$HOME/.cache/tokentop` |
//! | database | `--db`, then `$TTOP_DB` | `<data>/ttop.db` |
//!
//! Empty values count as unset, and relative `XDG_*` values are ignored, as the
//! specification requires.

use std::fmt;
use std::path::{Path, PathBuf};

/// The name of ttop's directory under each XDG base directory.
pub const APP_DIR: &str = "tokentop";

/// The database file name inside the data directory.
pub const DB_FILE: &str = "ttop.db";

/// The environment variable that moves the database.
pub const DB_ENV: &str = "TTOP_DB";

/// The resolved locations of ttop's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The user's configuration: `config.toml`, `definitions/`, `themes/`.
    pub config_dir: PathBuf,
    /// Data that must survive: the usage database and logs.
    pub data_dir: PathBuf,
    /// Data that can be rebuilt: the pricing catalogue cache.
    pub cache_dir: PathBuf,
    /// The SQLite database file.
    pub db: PathBuf,
}

/// Why the locations could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathsError {
    /// `$HOME` was needed (an `XDG_*` variable was unset) but is unset or not absolute.
    NoHome {
        /// The XDG variable that would have avoided the need for `$HOME`.
        needed_for: &'static str,
        /// The unusable value of `$HOME`, if it was set at all.
        home: Option<String>,
    },
}

impl fmt::Display for PathsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathsError::NoHome { needed_for, home: None } => {
                write!(
                    f,
                    "cannot find the home directory: $HOME is not set; set $HOME or ${needed_for}"
                )
            }
            PathsError::NoHome {
                needed_for,
                home: Some(home),
            } => write!(
                f,
                "cannot find the home directory: $HOME is '{home}', which is not an absolute path; set $HOME or ${needed_for}"
            ),
        }
    }
}

impl std::error::Error for PathsError {}

impl Paths {
    /// Works out every location from the environment `env` (a lookup such as
    /// `|name| std::env::var(name).ok()`) and an optional `--db` override.
    ///
    /// `$HOME` is only consulted for the directories whose `XDG_*` variable is unset,
    /// so a fully specified XDG environment works without it.
    pub fn resolve(env: &dyn Fn(&str) -> Option<String>, db_override: Option<PathBuf>) -> Result<Paths, PathsError> {
        let config_dir = base_dir(env, "XDG_CONFIG_HOME", &[".config"])?.join(APP_DIR);
        let data_dir = base_dir(env, "XDG_DATA_HOME", &[".local", "share"])?.join(APP_DIR);
        let cache_dir = base_dir(env, "XDG_CACHE_HOME", &[".cache"])?.join(APP_DIR);
        let db = db_override
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| non_empty(env, DB_ENV).map(PathBuf::from))
            .unwrap_or_else(|| data_dir.join(DB_FILE));
        Ok(Paths {
            config_dir,
            data_dir,
            cache_dir,
            db,
        })
    }

    /// The user config file: `<config>/config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// The user's own definitions, which add to or replace the built-in ones.
    pub fn definitions_dir(&self) -> PathBuf {
        self.config_dir.join("definitions")
    }

    /// The user's own themes, which add to or replace the built-in ones.
    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }

    /// Log files (kept with the data, as they are not rebuildable).
    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

/// A variable's value, with an empty value counted as unset.
fn non_empty(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// `$<var>` if it is set to an absolute path, else `$HOME` joined with `fallback`.
fn base_dir(env: &dyn Fn(&str) -> Option<String>, var: &'static str, fallback: &[&str]) -> Result<PathBuf, PathsError> {
    if let Some(value) = non_empty(env, var) {
        let path = PathBuf::from(value);
        if path.is_absolute() {
            return Ok(path);
        }
    }
    let home = non_empty(env, "HOME").ok_or(PathsError::NoHome {
        needed_for: var,
        home: None,
    })?;
    if !Path::new(&home).is_absolute() {
        return Err(PathsError::NoHome {
            needed_for: var,
            home: Some(home),
        });
    }
    Ok(fallback.iter().fold(PathBuf::from(home), |dir, part| dir.join(part)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn home_fallbacks() {
        let p = Paths::resolve(&env_of(&[("HOME", "/home/u")]), None).unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/home/u/.config/tokentop"));
        assert_eq!(p.data_dir, PathBuf::from("/home/u/.local/share/tokentop"));
        assert_eq!(p.cache_dir, PathBuf::from("/home/u/.cache/tokentop"));
        assert_eq!(p.db, PathBuf::from("/home/u/.local/share/tokentop/ttop.db"));
        assert_eq!(p.config_file(), PathBuf::from("/home/u/.config/tokentop/config.toml"));
        assert_eq!(
            p.definitions_dir(),
            PathBuf::from("/home/u/.config/tokentop/definitions")
        );
        assert_eq!(p.themes_dir(), PathBuf::from("/home/u/.config/tokentop/themes"));
        assert_eq!(p.logs_dir(), PathBuf::from("/home/u/.local/share/tokentop/logs"));
    }

    #[test]
    fn xdg_values_win() {
        let env = env_of(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", "/x/config"),
            ("XDG_DATA_HOME", "/x/data"),
            ("XDG_CACHE_HOME", "/x/cache"),
        ]);
        let p = Paths::resolve(&env, None).unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/x/config/tokentop"));
        assert_eq!(p.data_dir, PathBuf::from("/x/data/tokentop"));
        assert_eq!(p.cache_dir, PathBuf::from("/x/cache/tokentop"));
        assert_eq!(p.db, PathBuf::from("/x/data/tokentop/ttop.db"));
    }

    #[test]
    fn empty_and_relative_xdg_values_are_ignored() {
        let env = env_of(&[
            ("HOME", "/home/u"),
            ("XDG_CONFIG_HOME", ""),
            ("XDG_DATA_HOME", "rel/data"),
            ("TTOP_DB", ""),
        ]);
        let p = Paths::resolve(&env, None).unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/home/u/.config/tokentop"));
        assert_eq!(p.data_dir, PathBuf::from("/home/u/.local/share/tokentop"));
        assert_eq!(p.db, PathBuf::from("/home/u/.local/share/tokentop/ttop.db"));
    }

    #[test]
    fn db_override_beats_env_beats_default() {
        let env = env_of(&[("HOME", "/home/u"), ("TTOP_DB", "/tmp/env.db")]);
        assert_eq!(Paths::resolve(&env, None).unwrap().db, PathBuf::from("/tmp/env.db"));
        let p = Paths::resolve(&env, Some(PathBuf::from("/tmp/flag.db"))).unwrap();
        assert_eq!(p.db, PathBuf::from("/tmp/flag.db"));
    }

    #[test]
    fn home_is_not_needed_when_xdg_is_complete() {
        let env = env_of(&[
            ("XDG_CONFIG_HOME", "/c"),
            ("XDG_DATA_HOME", "/d"),
            ("XDG_CACHE_HOME", "/k"),
        ]);
        let p = Paths::resolve(&env, None).unwrap();
        assert_eq!(p.db, PathBuf::from("/d/tokentop/ttop.db"));
    }

    #[test]
    fn missing_or_relative_home_is_a_clear_error() {
        let err = Paths::resolve(&env_of(&[]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot find the home directory: $HOME is not set; set $HOME or $XDG_CONFIG_HOME"
        );
        let err = Paths::resolve(&env_of(&[("HOME", "home"), ("XDG_CONFIG_HOME", "/c")]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot find the home directory: $HOME is 'home', which is not an absolute path; set $HOME or $XDG_DATA_HOME"
        );
    }
}
