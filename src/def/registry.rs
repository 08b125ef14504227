//! The registry: built-in definitions embedded from `definitions/`, user definitions
//! from `~/.config/tokentop/definitions/` (any depth, `*.yaml`/`*.yml`), merged by kind
//! and id. A user file replaces a built-in of the same kind and id (with an `override`
//! warning); `disabled = [ids]` in config turns definitions off; a broken file disables
//! only itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Definition;
use super::compile::CompileEnv;
use super::diag::{Code, Diagnostic, quote};
use super::load::load_str;
use super::loc::Pos;
use super::model::Kind;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_defs.rs"));
}

/// The label built-in files carry in diagnostics.
pub const BUILTIN_PREFIX: &str = "<builtin>";

/// Where a definition file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Embedded; the path is relative to `definitions/`.
    Builtin(String),
    /// A file on disk.
    File(PathBuf),
}

impl Origin {
    /// The path used in diagnostics.
    pub fn label(&self) -> PathBuf {
        match self {
            Origin::Builtin(rel) => PathBuf::from(format!("{BUILTIN_PREFIX}/{rel}")),
            Origin::File(p) => p.clone(),
        }
    }

    pub fn kind_word(&self) -> &'static str {
        match self {
            Origin::Builtin(_) => "builtin",
            Origin::File(_) => "user",
        }
    }
}

/// The state of one definition file after loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Loaded, but a user file of the same kind and id replaces it.
    Overridden,
    /// Turned off in config.
    Disabled,
    /// Has errors: not used.
    Broken,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Overridden => "overridden",
            Status::Disabled => "disabled",
            Status::Broken => "error",
        }
    }
}

/// One definition file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub origin: Origin,
    pub kind: Option<Kind>,
    pub id: Option<String>,
    pub def: Option<Definition>,
    pub status: Status,
    pub source: String,
}

/// All definition files, their diagnostics, and the definitions in force.
#[derive(Debug, Default)]
pub struct Registry {
    pub entries: Vec<Entry>,
    pub diagnostics: Vec<Diagnostic>,
}

/// The embedded built-in definition files (not fixtures), as (relative path, text).
pub fn builtin_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    embedded::FILES.iter().filter_map(|(rel, bytes)| {
        let is_def = (rel.ends_with(".yaml") || rel.ends_with(".yml")) && !rel.contains("/fixtures/");
        if !is_def {
            return None;
        }
        std::str::from_utf8(bytes).ok().map(|t| (*rel, t))
    })
}

/// An embedded file under `definitions/` (a fixture, for the built-ins' tests).
pub fn builtin_file(rel: &str) -> Option<&'static [u8]> {
    embedded::FILES.iter().find(|(r, _)| *r == rel).map(|(_, b)| *b)
}

/// Every embedded file under `definitions/`.
pub fn builtin_all() -> &'static [(&'static str, &'static [u8])] {
    embedded::FILES
}

/// `*.yaml` and `*.yml` files below `dir`, at any depth, sorted; unreadable
/// directories are skipped.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() || (ft.is_symlink() && p.is_dir()) {
                // Fixture folders hold data files, not definitions.
                if p.file_name().is_none_or(|n| n != "fixtures") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

impl Registry {
    /// Adds one file's text.
    pub fn add(&mut self, origin: Origin, text: String, env: &CompileEnv) {
        let loaded = load_str(&text, &origin.label(), env);
        let status = if loaded.def.is_some() && !loaded.diags.iter().any(Diagnostic::is_error) {
            Status::Ok
        } else {
            Status::Broken
        };
        self.diagnostics.extend(loaded.diags);
        self.entries.push(Entry {
            origin,
            kind: loaded.kind,
            id: loaded.id.map(|l| l.value),
            def: if status == Status::Ok { loaded.def } else { None },
            status,
            source: text,
        });
    }

    /// Reads and adds one file from disk.
    pub fn add_file(&mut self, path: &Path, env: &CompileEnv) {
        match std::fs::read_to_string(path) {
            Ok(text) => self.add(Origin::File(path.to_path_buf()), text, env),
            Err(e) => {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::Io,
                        Pos::UNKNOWN,
                        format!("cannot read {}: {e}", quote(&path.display().to_string())),
                    )
                    .in_file(path),
                );
                self.entries.push(Entry {
                    origin: Origin::File(path.to_path_buf()),
                    kind: None,
                    id: None,
                    def: None,
                    status: Status::Broken,
                    source: String::new(),
                });
            }
        }
    }

    /// Built-ins plus every file of the user directory, merged, with `disabled` applied.
    pub fn load_all(user_dir: Option<&Path>, disabled: &[String], env: &CompileEnv) -> Registry {
        Registry::load(user_dir, disabled, env, None)
    }

    /// Like [`Registry::load_all`], but of the built-ins only those of one kind are
    /// compiled (built-ins live in `definitions/<kind>s/`); user files are all loaded, so
    /// a user file's problems are still reported. Commands that only read agents use it
    /// to skip compiling every provider at start-up.
    pub fn load(user_dir: Option<&Path>, disabled: &[String], env: &CompileEnv, only: Option<Kind>) -> Registry {
        let mut r = Registry::default();
        let folder = only.map(|k| format!("{}s/", k.lower()));
        for (rel, text) in builtin_files() {
            if folder.as_deref().is_some_and(|f| !rel.starts_with(f)) {
                continue;
            }
            r.add(Origin::Builtin(rel.to_string()), text.to_string(), env);
        }
        if let Some(dir) = user_dir {
            for f in yaml_files(dir) {
                r.add_file(&f, env);
            }
        }
        r.resolve(disabled);
        r
    }

    /// Applies overrides, duplicate-id checks and `disabled`.
    pub fn resolve(&mut self, disabled: &[String]) {
        // Duplicates within the same origin class are errors; a user file over a
        // built-in is an override.
        let mut seen: BTreeMap<(Kind, String), usize> = BTreeMap::new();
        for i in 0..self.entries.len() {
            let (Some(kind), Some(id), Status::Ok) =
                (self.entries[i].kind, self.entries[i].id.clone(), self.entries[i].status)
            else {
                continue;
            };
            let key = (kind, id.clone());
            let Some(&prev) = seen.get(&key) else {
                seen.insert(key, i);
                continue;
            };
            let prev_builtin = matches!(self.entries[prev].origin, Origin::Builtin(_));
            let this_builtin = matches!(self.entries[i].origin, Origin::Builtin(_));
            let pos = id_pos(&self.entries[i].source);
            if prev_builtin && !this_builtin {
                self.entries[prev].status = Status::Overridden;
                self.entries[prev].def = None;
                self.diagnostics.push(
                    Diagnostic::warning(
                        Code::Override,
                        pos,
                        format!("{} {} replaces the built-in of the same id", kind.lower(), quote(&id)),
                    )
                    .hint("remove this file to go back to the built-in")
                    .in_file(self.entries[i].origin.label()),
                );
                seen.insert(key, i);
            } else {
                self.entries[i].status = Status::Broken;
                self.entries[i].def = None;
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::DuplicateId,
                        pos,
                        format!(
                            "{} id {} is already defined in '{}'",
                            kind.lower(),
                            quote(&id),
                            self.entries[prev].origin.label().display()
                        ),
                    )
                    .hint("ids are unique per kind: rename one of them")
                    .in_file(self.entries[i].origin.label()),
                );
            }
        }
        for e in &mut self.entries {
            if e.status == Status::Ok && e.id.as_ref().is_some_and(|id| disabled.contains(id)) {
                e.status = Status::Disabled;
                e.def = None;
            }
        }
        self.diagnostics
            .sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    }

    /// The definitions in force.
    pub fn active(&self) -> impl Iterator<Item = &Definition> {
        self.entries
            .iter()
            .filter(|e| e.status == Status::Ok)
            .filter_map(|e| e.def.as_ref())
    }

    pub fn agents(&self) -> Vec<std::sync::Arc<super::Agent>> {
        self.active()
            .filter_map(|d| match d {
                Definition::Agent(a) => Some(std::sync::Arc::clone(a)),
                _ => None,
            })
            .collect()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The text of the file a diagnostic names, for its snippet.
    pub fn source_of(&self, file: &Path) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.origin.label() == file)
            .map(|e| e.source.as_str())
    }
}

/// Where `id:` is written at the top level, for diagnostics about the whole file.
fn id_pos(text: &str) -> Pos {
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("id:") {
            let col = 4 + rest.len() - rest.trim_start().len();
            return Pos::new(u32::try_from(i + 1).unwrap_or(0), u32::try_from(col).unwrap_or(0));
        }
    }
    Pos::new(1, 1)
}
