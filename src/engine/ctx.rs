//! The engine's only door to the outside world: environment variables, the home
//! directory and the clock, plus the run-time permission checks of a definition.
//!
//! **Architecture invariant:** nothing else in `src/` reads `std::env`; code that needs an
//! env var, the home directory or the time takes a [`Ctx`]. Tests build one with
//! [`Ctx::fake`], so they never depend on the machine they run on.
//!
//! A definition reads env vars only through [`Ctx::env_for`], which refuses names that are
//! not in its `permissions.env`, and files only after [`check_file`] (or an
//! [`AllowedFiles`] built once per run) has resolved symlinks and found the real path
//! under its `permissions.files`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::def::compile::Perms;

/// Where env vars come from.
#[derive(Debug, Clone)]
enum EnvSource {
    /// The process environment, read when asked.
    Process,
    /// A fixed map (tests).
    Fixed(Arc<HashMap<String, String>>),
}

/// Where the time comes from.
#[derive(Debug, Clone, Copy)]
enum Clock {
    System,
    Fixed(i64),
}

/// The context the engine runs in. Cheap to clone and safe to share between threads.
#[derive(Debug, Clone)]
pub struct Ctx {
    home: PathBuf,
    env: EnvSource,
    clock: Clock,
}

/// Reads one variable of the process environment.
#[allow(clippy::disallowed_methods)] // The single door to the environment.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The user's home directory as the OS reports it.
#[allow(clippy::disallowed_methods)] // The single door to the environment.
fn process_home() -> PathBuf {
    std::env::home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

impl Ctx {
    /// The real environment, home directory and system clock.
    pub fn real() -> Ctx {
        Ctx {
            home: process_home(),
            env: EnvSource::Process,
            clock: Clock::System,
        }
    }

    /// A context for tests: the given home directory and env vars, and the system clock
    /// (fix it with [`Ctx::with_now_ms`]).
    pub fn fake(home: PathBuf, env: HashMap<String, String>) -> Ctx {
        Ctx {
            home,
            env: EnvSource::Fixed(Arc::new(env)),
            clock: Clock::System,
        }
    }

    /// The same context with the clock stopped at `ms` (Unix milliseconds).
    pub fn with_now_ms(mut self, ms: i64) -> Ctx {
        self.clock = Clock::Fixed(ms);
        self
    }

    /// An env var of the process (or of the fake), whoever asks. Engine code that runs on
    /// behalf of a definition uses [`Ctx::env_for`] instead.
    pub fn env(&self, name: &str) -> Option<String> {
        match &self.env {
            EnvSource::Process => process_env(name),
            EnvSource::Fixed(m) => m.get(name).cloned(),
        }
    }

    /// An env var read on behalf of a definition: refused unless `perms.env` lists it.
    /// `Ok(None)` when it is permitted but unset.
    pub fn env_for(&self, perms: &Perms, name: &str) -> Result<Option<String>, String> {
        if !perms.env_allowed(name) {
            return Err(format!("environment variable '{name}' is not in permissions.env"));
        }
        Ok(self.env(name))
    }

    /// A macOS Keychain generic password (`security find-generic-password -w`), read on
    /// behalf of a definition that names its service. `None` elsewhere, in fakes, and when
    /// the item is missing or the command fails or takes longer than 5 s.
    pub fn keychain_password(&self, service: &str, account: Option<&str>) -> Option<String> {
        if matches!(self.env, EnvSource::Fixed(_)) {
            return None;
        }
        keychain_password(service, account)
    }

    /// The home directory `~` stands for.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self.clock {
            Clock::Fixed(ms) => ms,
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

#[cfg(target_os = "macos")]
#[allow(clippy::disallowed_methods)] // The single door to commands: only the Keychain reader, with fixed arguments.
fn keychain_password(service: &str, account: Option<&str>) -> Option<String> {
    use std::process::{Command, Stdio};
    let mut cmd = Command::new("/usr/bin/security");
    cmd.args(["find-generic-password", "-s", service]);
    if let Some(a) = account {
        cmd.args(["-a", a]);
    }
    cmd.arg("-w")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let out = out.trim_end_matches(['\r', '\n']).to_string();
    (!out.is_empty()).then_some(out)
}

#[cfg(not(target_os = "macos"))]
fn keychain_password(_service: &str, _account: Option<&str>) -> Option<String> {
    None
}

/// A definition's `permissions.files`, with every root that exists resolved through its
/// symlinks once, so checking many files costs one `canonicalize` each.
#[derive(Debug, Clone, Default)]
pub struct AllowedFiles {
    roots: Vec<PathBuf>,
}

impl AllowedFiles {
    /// The literal `permissions.files` only.
    pub fn new(perms: &Perms) -> AllowedFiles {
        AllowedFiles::from_paths(&perms.files)
    }

    /// Literal entries plus those built from env vars (`{{ env.CODEX_HOME }}`), rendered
    /// with this context's environment.
    pub fn for_ctx(perms: &Perms, ctx: &Ctx) -> AllowedFiles {
        let env = |name: &str| ctx.env_for(perms, name).ok().flatten();
        AllowedFiles::from_paths(&perms.expanded_files(&env, ctx.home()))
    }

    fn from_paths(files: &[PathBuf]) -> AllowedFiles {
        let mut roots = Vec::with_capacity(files.len() * 2);
        for f in files {
            // Keep the lexical form too: a root that does not exist yet cannot be resolved,
            // and a resolved root may differ from the form paths are written in.
            roots.push(f.clone());
            if let Ok(c) = std::fs::canonicalize(f)
                && c != *f
            {
                roots.push(c);
            }
        }
        AllowedFiles { roots }
    }

    /// Whether an already resolved (canonical) path is at or below a permitted root.
    pub fn allows_resolved(&self, real: &Path) -> bool {
        self.roots.iter().any(|r| real.starts_with(r))
    }

    /// Resolves `path` (symlinks included) and returns the real path when it is under a
    /// permitted root.
    pub fn check(&self, path: &Path) -> Result<PathBuf, String> {
        let real = std::fs::canonicalize(path).map_err(|e| format!("cannot resolve '{}': {e}", path.display()))?;
        if self.allows_resolved(&real) {
            Ok(real)
        } else if real == path {
            Err(format!("'{}' is not under permissions.files", path.display()))
        } else {
            Err(format!(
                "'{}' (resolved to '{}') is not under permissions.files",
                path.display(),
                real.display()
            ))
        }
    }
}

/// Resolves `path` through its symlinks and refuses it unless the real path lies under
/// one of `perms.files` (themselves resolved when they exist).
pub fn check_file(perms: &Perms, path: &Path) -> Result<PathBuf, String> {
    AllowedFiles::new(perms).check(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn perms(files: &[&Path], env: &[&str]) -> Perms {
        Perms {
            network: vec![],
            env: env.iter().map(|s| (*s).to_string()).collect(),
            files: files.iter().map(|p| p.to_path_buf()).collect(),
            file_templates: vec![],
        }
    }

    #[test]
    fn fake_env_and_permissions() {
        let env = HashMap::from([
            ("A_DIR".to_string(), "/x".to_string()),
            ("SECRET".to_string(), "s".to_string()),
        ]);
        let ctx = Ctx::fake(PathBuf::from("/home/u"), env).with_now_ms(42);
        assert_eq!(ctx.home(), Path::new("/home/u"));
        assert_eq!(ctx.now_ms(), 42);
        assert_eq!(ctx.env("SECRET").as_deref(), Some("s"));
        let p = perms(&[], &["A_DIR", "UNSET"]);
        assert_eq!(ctx.env_for(&p, "A_DIR").unwrap().as_deref(), Some("/x"));
        assert_eq!(ctx.env_for(&p, "UNSET").unwrap(), None);
        assert_eq!(
            ctx.env_for(&p, "SECRET").unwrap_err(),
            "environment variable 'SECRET' is not in permissions.env"
        );
    }

    #[test]
    fn real_clock_moves() {
        let ctx = Ctx::real();
        assert!(ctx.now_ms() > 1_700_000_000_000);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_resolved_before_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let allowed = base.join("allowed");
        let outside = base.join("outside");
        std::fs::create_dir_all(&allowed).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(allowed.join("ok.jsonl"), "{}\n").unwrap();
        std::fs::write(outside.join("secret.json"), "{}").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.json"), allowed.join("link.json")).unwrap();
        let p = perms(&[&allowed], &[]);
        assert_eq!(
            check_file(&p, &allowed.join("ok.jsonl")).unwrap(),
            allowed.join("ok.jsonl")
        );
        let err = check_file(&p, &allowed.join("link.json")).unwrap_err();
        assert!(
            err.contains("resolved to") && err.contains("is not under permissions.files"),
            "{err}"
        );
        assert!(check_file(&p, &outside.join("secret.json")).is_err());
        // A permitted root that is itself a symlink is resolved too.
        std::os::unix::fs::symlink(&allowed, base.join("alias")).unwrap();
        let p = perms(&[&base.join("alias")], &[]);
        assert!(check_file(&p, &base.join("alias/ok.jsonl")).is_ok());
        assert!(check_file(&p, &allowed.join("missing")).is_err());
    }
}
