//! Embeds every file under `definitions/` (definitions and their fixtures) into the
//! binary, so built-ins and their offline tests work wherever `ttop` is installed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

#[allow(clippy::disallowed_methods)] // Build scripts learn their paths from cargo's env vars.
fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let defs = root.join("definitions");
    println!("cargo:rerun-if-changed=definitions");
    let mut files = Vec::new();
    walk(&defs, &mut files);
    let mut src = String::from(
        "/// Every file under `definitions/`, as (path relative to it, bytes).\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&defs).unwrap_or(f).to_string_lossy().replace('\\', "/");
        let _ = writeln!(src, "    ({rel:?}, include_bytes!({:?})),", f.display().to_string());
    }
    src.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("builtin_defs.rs");
    if let Err(e) = fs::write(&out, src) {
        panic!("cannot write {}: {e}", out.display());
    }
}
