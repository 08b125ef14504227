//! Watch mode: file-system notifications on the agents' existing roots, debounced into
//! [`WatchEvent::Changed`], plus a periodic [`WatchEvent::Rescan`] as a safety net (events
//! can be dropped, roots can appear later, some file systems never notify).
//!
//! The receiver runs an incremental ingest on either event; the watcher never reads a
//! session file itself. Only changes to files a source reads count (its include globs,
//! and a SQLite database's `-wal`), so other files an agent writes, and the engine's own
//! reads, do not wake the ingest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use super::discover::{existing_roots, render_roots};
use crate::def::Agent;
use crate::def::model::Format;
use crate::engine::ctx::{AllowedFiles, Ctx};

/// What the watcher tells its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEvent {
    /// Session files changed (a debounced burst of notifications).
    Changed,
    /// The periodic full-rescan tick.
    Rescan,
}

enum Msg {
    Fs(notify::Result<Event>),
    Stop,
}

/// One watched root and the source it belongs to.
struct Target {
    /// The directory watched (for a root that is a file: its directory).
    dir: PathBuf,
    /// For a root that is a file: its name, the only entry that counts.
    only: Option<String>,
    agent: usize,
    source: usize,
}

/// A running watcher. Dropping it stops the thread and the notifications.
pub struct WatchHandle {
    stop: Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    roots: Vec<PathBuf>,
}

impl WatchHandle {
    /// The directories watched when the watcher started.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every existing, permitted root of every source.
fn targets(agents: &[Arc<Agent>], ctx: &Ctx) -> Vec<Target> {
    let mut out = Vec::new();
    for (ai, a) in agents.iter().enumerate() {
        let allowed = AllowedFiles::for_ctx(&a.perms, ctx);
        for (si, src) in a.sources.iter().enumerate() {
            let (cands, _) = render_roots(src, &a.perms, ctx);
            let mut errors = Vec::new();
            for root in existing_roots(&cands, &allowed, &mut errors) {
                let (dir, only) = if root.is_file() {
                    let name = root.file_name().map(|n| n.to_string_lossy().into_owned());
                    (
                        root.parent().map(Path::to_path_buf).unwrap_or_else(|| root.clone()),
                        name,
                    )
                } else {
                    (root, None)
                };
                out.push(Target {
                    dir,
                    only,
                    agent: ai,
                    source: si,
                });
            }
        }
    }
    out
}

/// Whether a notification is about content (our own opens and reads are not).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// Whether a changed path is a file some source reads.
fn relevant(path: &Path, targets: &[Target], agents: &[Arc<Agent>]) -> bool {
    targets.iter().any(|t| {
        let Ok(rel) = path.strip_prefix(&t.dir) else {
            return false;
        };
        let Some(rel) = rel.to_str() else { return false };
        let src = &agents[t.agent].sources[t.source];
        let rel = if src.format == Format::Sqlite {
            rel.strip_suffix("-wal")
                .or_else(|| rel.strip_suffix("-journal"))
                .unwrap_or(rel)
        } else {
            rel
        };
        match &t.only {
            Some(name) => rel == name,
            None => src.include.is_match(rel) && !src.exclude.is_match(rel),
        }
    })
}

/// Watches the targets' directories not watched yet.
fn add_watches(watcher: &mut notify::RecommendedWatcher, watched: &mut Vec<PathBuf>, targets: &[Target]) {
    for t in targets {
        if watched.contains(&t.dir) {
            continue;
        }
        let mode = if t.only.is_some() {
            RecursiveMode::NonRecursive
        } else {
            RecursiveMode::Recursive
        };
        // A root that cannot be watched is still covered by the rescan tick.
        if watcher.watch(&t.dir, mode).is_ok() {
            watched.push(t.dir.clone());
        }
    }
}

/// Starts watching. Events arrive on `tx`: [`WatchEvent::Changed`] at most once per
/// `debounce` while files change, and [`WatchEvent::Rescan`] every `rescan` (when roots
/// that did not exist yet are also picked up). Stops when the handle is dropped or `tx`'s
/// receiver is gone.
pub fn watch(
    agents: &[Arc<Agent>],
    ctx: &Ctx,
    debounce: Duration,
    rescan: Duration,
    tx: Sender<WatchEvent>,
) -> anyhow::Result<WatchHandle> {
    let (itx, irx) = channel::<Msg>();
    let fs_tx = itx.clone();
    let mut watcher = notify::recommended_watcher(move |res| {
        let _ = fs_tx.send(Msg::Fs(res));
    })
    .context("cannot start the file watcher")?;
    let agents: Vec<Arc<Agent>> = agents.to_vec();
    let ctx = ctx.clone();
    let mut watched: Vec<PathBuf> = Vec::new();
    let mut tgts = targets(&agents, &ctx);
    add_watches(&mut watcher, &mut watched, &tgts);
    let roots = watched.clone();
    let thread = std::thread::Builder::new()
        .name("ttop-watch".into())
        .spawn(move || {
            let mut next_rescan = Instant::now() + rescan;
            let mut due: Option<Instant> = None;
            loop {
                let now = Instant::now();
                let wake = due.map_or(next_rescan, |d| d.min(next_rescan));
                match irx.recv_timeout(wake.saturating_duration_since(now)) {
                    Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    Ok(Msg::Fs(Ok(ev))) => {
                        if due.is_none() && is_change(&ev.kind) && ev.paths.iter().any(|p| relevant(p, &tgts, &agents))
                        {
                            due = Some(Instant::now() + debounce);
                        }
                    }
                    // The watcher lost track (for example its queue overflowed): look again.
                    Ok(Msg::Fs(Err(_))) => {
                        if due.is_none() {
                            due = Some(Instant::now() + debounce);
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
                let now = Instant::now();
                if now >= next_rescan {
                    due = None;
                    next_rescan = now + rescan;
                    tgts = targets(&agents, &ctx);
                    add_watches(&mut watcher, &mut watched, &tgts);
                    if tx.send(WatchEvent::Rescan).is_err() {
                        return;
                    }
                } else if due.is_some_and(|d| now >= d) {
                    due = None;
                    if tx.send(WatchEvent::Changed).is_err() {
                        return;
                    }
                }
            }
        })
        .context("cannot start the watch thread")?;
    Ok(WatchHandle {
        stop: itx,
        thread: Some(thread),
        roots,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;
    use crate::def::{CompileEnv, Definition, load_str};

    fn agent(home: &Path) -> Arc<Agent> {
        let yaml = "apiVersion: tokentop/v1\nkind: Agent\nid: agent-a\nmeta: { name: A }\n\
             permissions: { files: ['~/data'] }\n\
             sources:\n  - roots: ['~/data']\n    include: ['*/*.jsonl']\n    format: jsonl\n\
             records:\n  fields:\n    session_id: { from: file_stem }\n    timestamp: $.ts\n";
        match load_str(
            yaml,
            Path::new("t.yaml"),
            &CompileEnv {
                home: home.to_path_buf(),
            },
        )
        .def
        {
            Some(Definition::Agent(a)) => a,
            _ => panic!("definition did not compile"),
        }
    }

    #[test]
    fn an_append_is_reported_once_debounced() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(home.join("data/p")).unwrap();
        let file = home.join("data/p/s.jsonl");
        std::fs::write(&file, "{}\n").unwrap();
        let a = agent(&home);
        let ctx = Ctx::fake(home.clone(), HashMap::new());
        let (tx, rx) = channel();
        let h = watch(&[a], &ctx, Duration::from_millis(100), Duration::from_secs(60), tx).unwrap();
        assert_eq!(h.roots(), &[home.join("data")]);
        // Reading a file and writing an unrelated one wake nothing.
        let _ = std::fs::read(&file).unwrap();
        std::fs::write(home.join("data/p/notes.txt"), "x").unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(400)),
            Err(RecvTimeoutError::Timeout)
        );
        for _ in 0..5 {
            let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
            f.write_all(b"{\"ts\":1}\n").unwrap();
        }
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap(), WatchEvent::Changed);
        // The burst was coalesced into that one event.
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(400)),
            Err(RecvTimeoutError::Timeout)
        );
        drop(h);
    }

    #[test]
    fn rescan_ticks_arrive_and_drop_stops() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        let a = agent(&home);
        let ctx = Ctx::fake(home.clone(), HashMap::new());
        let (tx, rx) = channel();
        let h = watch(&[a], &ctx, Duration::from_millis(50), Duration::from_millis(100), tx).unwrap();
        // The root does not exist yet: nothing is watched, but the tick still comes.
        assert!(h.roots().is_empty());
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)).unwrap(), WatchEvent::Rescan);
        drop(h);
        // After the drop the thread is gone and the sender with it.
        while rx.recv_timeout(Duration::from_secs(2)).is_ok() {}
    }
}
