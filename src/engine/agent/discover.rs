//! Discovery: a source's root templates → existing, permitted root directories → the
//! session files under them that match the include globs, in a deterministic order.
//!
//! A root is rendered with `env.X` (through [`Ctx::env_for`], so only permitted vars) and
//! `~` expanded. An env var holding a comma-separated list gives one root per element; a
//! root whose template has no value (its env var is unset) is skipped silently, and so is
//! a root that does not exist. Every existing root is resolved through its symlinks and
//! checked against `permissions.files` at run time. Inside a root, a symlink is followed
//! only when its target is permitted too; plain entries below a resolved root need no
//! further check.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Warnings;
use crate::def::compile::{CSource, Perms, normalize};
use crate::def::expr::{Scope, Template};
use crate::def::model::Format;
use crate::engine::ctx::{AllowedFiles, Ctx};

/// The most roots one template may expand to (comma lists multiply).
const MAX_EXPANSIONS: usize = 64;

/// What discovering one source found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Existing, permitted roots, resolved, without duplicates, in definition order.
    pub roots: Vec<PathBuf>,
    /// Matching files: per root, sorted by their path relative to the root.
    pub files: Vec<PathBuf>,
    /// Problems that did not stop the walk (unreadable directories, refused symlinks).
    pub warnings: Warnings,
    /// Problems that make the result incomplete (a root outside the permissions, a
    /// template that does not render).
    pub errors: Vec<String>,
}

/// Renders every root template of a source into absolute paths (not checked for
/// existence or permissions yet). Skipped roots (unset env vars) give nothing; a root
/// that fails for another reason gives an error.
pub fn render_roots(src: &CSource, perms: &Perms, ctx: &Ctx) -> (Vec<PathBuf>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for t in &src.roots {
        match render_root(t, perms, ctx) {
            Ok(paths) => out.extend(paths),
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

fn render_root(t: &Template, perms: &Perms, ctx: &Ctx) -> Result<Vec<PathBuf>, String> {
    // The env vars the template reads, each with its list of values.
    let mut names: Vec<&str> = Vec::new();
    for hole in t.holes() {
        for read in hole.reads() {
            if read.first().map(String::as_str) == Some("env")
                && let Some(name) = read.get(1)
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
    }
    let mut any_unset = false;
    let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
    for name in names {
        let values: Vec<String> = match ctx.env_for(perms, name)? {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => Vec::new(),
        };
        if values.is_empty() {
            any_unset = true;
            continue;
        }
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for c in &combos {
            for v in &values {
                let mut c = c.clone();
                c.insert(name.to_string(), Value::String(v.clone()));
                next.push(c);
            }
        }
        if next.len() > MAX_EXPANSIONS {
            return Err(format!(
                "root '{}' expands to more than {MAX_EXPANSIONS} directories",
                t.source()
            ));
        }
        combos = next;
    }
    let home = Value::String(ctx.home().to_string_lossy().into_owned());
    let mut out = Vec::with_capacity(combos.len());
    for c in combos {
        let env = Value::Object(c);
        let named = [("env", &env), ("home", &home)];
        let rendered = match t.render(&Scope::new(None, &named)) {
            Ok(s) => s,
            // An unset variable leaves the root without a value: it is simply not there.
            Err(_) if any_unset => continue,
            Err(e) => return Err(format!("root '{}': {e}", t.source())),
        };
        let p = normalize(rendered.trim(), ctx.home());
        if !p.is_absolute() {
            return Err(format!(
                "root '{}' gives '{}', which is not an absolute path",
                t.source(),
                p.display()
            ));
        }
        out.push(p);
    }
    Ok(out)
}

/// Discovers the files of one source: roots rendered and checked, then walked.
pub fn discover(src: &CSource, perms: &Perms, ctx: &Ctx, allowed: &AllowedFiles) -> Discovery {
    let mut d = Discovery {
        warnings: Warnings::with_cap(20),
        ..Discovery::default()
    };
    let (candidates, errors) = render_roots(src, perms, ctx);
    d.errors = errors;
    d.roots = existing_roots(&candidates, allowed, &mut d.errors);
    let mut seen = HashSet::new();
    for root in &d.roots {
        for f in walk(root, src, Some(allowed), &mut d.warnings) {
            if seen.insert(f.clone()) {
                d.files.push(f);
            }
        }
    }
    d
}

/// Keeps the candidates that exist and are permitted, resolved through their symlinks and
/// without duplicates.
pub fn existing_roots(candidates: &[PathBuf], allowed: &AllowedFiles, errors: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for c in candidates {
        // A missing root is normal (the agent is not installed, or not used yet).
        if std::fs::symlink_metadata(c).is_err() {
            continue;
        }
        match allowed.check(c) {
            Ok(real) => {
                if !out.contains(&real) {
                    out.push(real);
                }
            }
            Err(e) if std::fs::metadata(c).is_err() => {
                // A dangling symlink: nothing to read there.
                let _ = e;
            }
            Err(e) => errors.push(format!("root refused: {e}")),
        }
    }
    out
}

/// The relative path of a file as the globs see it: `/`-separated.
fn rel_string(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Whether a file at `rel` is one the source reads.
fn wanted(src: &CSource, rel: &str) -> bool {
    src.include.is_match(rel) && !src.exclude.is_match(rel)
}

/// Walks one resolved root (a directory, or a single file matched by its name) and returns
/// the matching files sorted by relative path. `allowed: None` trusts every symlink
/// (fixtures).
pub fn walk(root: &Path, src: &CSource, allowed: Option<&AllowedFiles>, warnings: &mut Warnings) -> Vec<PathBuf> {
    let Ok(meta) = std::fs::metadata(root) else {
        return Vec::new();
    };
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return if wanted(src, &name) {
            vec![root.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut visited: HashSet<PathBuf> = HashSet::new();
    visited.insert(root.to_path_buf());
    // (directory, its path relative to the root, how many components that is)
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("cannot list '{}': {e}", dir.display()));
                continue;
            }
        };
        // Files inside a directory at `depth` components sit at `depth + 1`.
        let may_descend = src.max_depth.is_none_or(|m| depth + 1 < m);
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let Ok(ft) = entry.file_type() else { continue };
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let rel = rel_string(&prefix, &name);
            let (is_dir, is_file) = if ft.is_symlink() {
                let real = match allowed {
                    Some(a) => match a.check(&path) {
                        Ok(r) => r,
                        Err(e) => {
                            if std::fs::metadata(&path).is_ok() {
                                warnings.push(format!("symlink skipped: {e}"));
                            }
                            continue;
                        }
                    },
                    None => match std::fs::canonicalize(&path) {
                        Ok(r) => r,
                        Err(_) => continue,
                    },
                };
                let Ok(m) = std::fs::metadata(&real) else { continue };
                if m.is_dir() && !visited.insert(real) {
                    continue; // A loop, or a directory already walked.
                }
                (m.is_dir(), m.is_file())
            } else {
                (ft.is_dir(), ft.is_file())
            };
            if is_dir {
                if may_descend {
                    stack.push((path, rel, depth + 1));
                }
            } else if is_file && wanted(src, &rel) {
                found.push((rel, path));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The files a fixture path stands for: a file is itself; a directory is walked as a root
/// with the source's globs.
pub fn fixture_files(path: &Path, src: &CSource, warnings: &mut Warnings) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read fixture '{}': {e}", path.display()))?;
    if meta.is_dir() {
        Ok(walk(path, src, None, warnings))
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// The files whose change means a source file changed: the file itself, and for SQLite its
/// write-ahead log.
pub fn companions(path: &Path, format: Format) -> Vec<PathBuf> {
    let mut v = vec![path.to_path_buf()];
    if format == Format::Sqlite {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        v.push(PathBuf::from(wal));
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::def::{CompileEnv, Definition, load_str};

    fn agent(yaml: &str, home: &Path) -> Arc<crate::def::Agent> {
        let loaded = load_str(
            yaml,
            Path::new("t.yaml"),
            &CompileEnv {
                home: home.to_path_buf(),
            },
        );
        match loaded.def {
            Some(Definition::Agent(a)) => a,
            _ => panic!("definition did not compile: {:?}", loaded.diags),
        }
    }

    fn def(roots: &str, include: &str, perms: &str) -> String {
        format!(
            "apiVersion: tokentop/v1\nkind: Agent\nid: agent-a\nmeta: {{ name: A }}\n\
             permissions: {perms}\n\
             sources:\n  - roots: {roots}\n    include: {include}\n    format: jsonl\n\
             records:\n  fields:\n    session_id: {{ from: file_stem }}\n    timestamp: $.ts\n"
        )
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}\n").unwrap();
    }

    #[test]
    fn roots_from_env_lists_home_and_depth() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        touch(&home.join("a/p1/s1.jsonl"));
        touch(&home.join("a/p1/deep/s2.jsonl"));
        touch(&home.join("a/p0/s0.jsonl"));
        touch(&home.join("a/p0/skip.txt"));
        touch(&home.join("a/top.jsonl"));
        touch(&home.join("b/p9/s9.jsonl"));
        touch(&home.join("b/p9/ex.jsonl"));
        let yaml = def(
            "['{{ env.DIRS }}', '~/a', '~/missing', '{{ env.UNSET }}/x']",
            "['*/*.jsonl']\n    exclude: ['*/ex.jsonl']",
            "{ env: [DIRS, UNSET], files: ['~'] }",
        );
        let a = agent(&yaml, &home);
        let env = HashMap::from([("DIRS".to_string(), format!("{h}/b, {h}/a", h = home.display()))]);
        let ctx = Ctx::fake(home.clone(), env);
        let d = discover(&a.sources[0], &a.perms, &ctx, &AllowedFiles::new(&a.perms));
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.roots, vec![home.join("b"), home.join("a")]);
        assert_eq!(
            d.files,
            vec![
                home.join("b/p9/s9.jsonl"),
                home.join("a/p0/s0.jsonl"),
                home.join("a/p1/s1.jsonl")
            ]
        );
    }

    #[test]
    fn roots_outside_permissions_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        touch(&home.join("ok/s.jsonl"));
        touch(&home.join("secret/s.jsonl"));
        let yaml = def("['{{ env.D }}']", "['*.jsonl']", "{ env: [D], files: ['~/ok'] }");
        let a = agent(&yaml, &home);
        let env = HashMap::from([("D".to_string(), format!("{h}/ok/../secret", h = home.display()))]);
        let ctx = Ctx::fake(home.clone(), env);
        let d = discover(&a.sources[0], &a.perms, &ctx, &AllowedFiles::new(&a.perms));
        assert!(d.files.is_empty());
        assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
        assert!(d.errors[0].contains("is not under permissions.files"), "{:?}", d.errors);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_a_root_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        touch(&home.join("ok/real/s.jsonl"));
        touch(&home.join("secret/leak.jsonl"));
        std::os::unix::fs::symlink(home.join("secret"), home.join("ok/link")).unwrap();
        std::os::unix::fs::symlink(home.join("ok"), home.join("ok/real/loop")).unwrap();
        let yaml = def("['~/ok']", "['**/*.jsonl']", "{ files: ['~/ok'] }");
        let a = agent(&yaml, &home);
        let ctx = Ctx::fake(home.clone(), HashMap::new());
        let d = discover(&a.sources[0], &a.perms, &ctx, &AllowedFiles::new(&a.perms));
        assert_eq!(d.files, vec![home.join("ok/real/s.jsonl")]);
        assert_eq!(d.warnings.count, 1, "{:?}", d.warnings);
    }
}
