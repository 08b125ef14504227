//! Ingest: every agent's sources → discovered files → the changed ones read in parallel →
//! records and read positions committed together, in discovery order.
//!
//! A file whose size, mtime and inode match its stored state costs one `stat`. Changed
//! files are parsed by one worker thread per core, each taking the next file as soon as it
//! is done with one, while the calling thread commits finished files in discovery order,
//! a batch per transaction, so parsing and SQLite overlap and one big file holds up no
//! other. Workers stay at most a few batches ahead of the commits, which bounds memory.
//! Each [`FileCommit`] carries a file's records and its new [`FileState`], so a crash at
//! any point loses nothing and counts nothing twice.
//!
//! One broken source or file never stops the others: problems land in the report.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};

use super::discover::discover;
use super::extract::dedup_in_memory;
use super::read::{FileRead, Fingerprint, read_file};
use super::{Warnings, keep_rule};
use crate::def::Agent;
use crate::def::model::Format;
use crate::engine::ctx::{AllowedFiles, Ctx};
use crate::store::{FileCommit, FileState, Store};

/// At most this many files are committed in one transaction.
const BATCH_FILES: usize = 64;
/// At most about this many bytes of files are committed in one transaction.
const BATCH_BYTES: u64 = 128 << 20;
/// A transaction is committed once it holds this many records.
const COMMIT_RECORDS: usize = 50_000;
/// How many warning messages a report keeps (all are counted).
const REPORT_WARNING_CAP: usize = 100;

/// Where an ingest run is, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub agent: String,
    /// Changed files of this agent read and committed so far.
    pub files_done: usize,
    /// Changed files of this agent to read in this run.
    pub files_total: usize,
    /// Records committed so far in this run (all agents).
    pub records: u64,
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}/{} files, {} records",
            self.agent, self.files_done, self.files_total, self.records
        )
    }
}

/// What discovery found for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    pub agent: String,
    pub source: String,
    /// The existing, permitted roots that were walked.
    pub roots: Vec<String>,
    /// Session files found under them.
    pub files: usize,
}

/// A problem that made one source's (or one agent's) result incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub agent: String,
    /// The source's name, or `store` for a failed commit.
    pub source: String,
    pub message: String,
}

/// What one ingest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Files found by discovery.
    pub files_seen: u64,
    /// Files read because they were new or changed.
    pub files_read: u64,
    /// Files read from the start again because they shrank or were rewritten.
    pub files_restarted: u64,
    /// Stored read positions dropped because their file vanished (the records stay).
    pub files_forgotten: u64,
    /// Bytes of JSONL and JSON read.
    pub bytes_read: u64,
    /// Records committed (after collapsing duplicates within each file).
    pub records: u64,
    /// Of those, records new to the store.
    pub inserted: u64,
    /// Of those, records that replaced (part of) a stored duplicate.
    pub updated: u64,
    /// The first warnings, then a line counting the rest.
    pub warnings: Vec<String>,
    /// Every warning, shown or not.
    pub warning_count: u64,
    pub errors: Vec<SourceError>,
    /// Per source: where it looked and how many files it found.
    pub sources: Vec<SourceSummary>,
}

/// One changed file to read.
struct Job {
    source: usize,
    path: PathBuf,
    key: String,
    fp: Fingerprint,
    prior: Option<FileState>,
    /// About how many bytes reading it costs.
    cost: u64,
}

/// Ingests every agent's sources into the store. `progress` is called after discovery and
/// after each commit.
pub fn ingest(store: &mut Store, agents: &[Arc<Agent>], ctx: &Ctx, progress: &mut dyn FnMut(Progress)) -> IngestReport {
    let mut report = IngestReport::default();
    let mut warnings = Warnings::with_cap(REPORT_WARNING_CAP);
    for agent in agents {
        ingest_agent(store, agent, ctx, progress, &mut report, &mut warnings);
    }
    report.warning_count = warnings.count;
    report.warnings = warnings.into_lines();
    report
}

fn ingest_agent(
    store: &mut Store,
    agent: &Agent,
    ctx: &Ctx,
    progress: &mut dyn FnMut(Progress),
    report: &mut IngestReport,
    warnings: &mut Warnings,
) {
    let error = |source: &str, message: String| SourceError {
        agent: agent.id.clone(),
        source: source.to_string(),
        message,
    };
    let states = match store.file_states(&agent.id) {
        Ok(s) => s,
        Err(e) => {
            report.errors.push(error("store", e.to_string()));
            return;
        }
    };
    let allowed = AllowedFiles::for_ctx(&agent.perms, ctx);
    let mut seen: HashSet<String> = HashSet::new();
    // Vanished files are forgotten only when every source was discovered completely.
    let mut complete = true;
    let mut jobs = Vec::new();
    for (si, src) in agent.sources.iter().enumerate() {
        let d = discover(src, &agent.perms, ctx, &allowed);
        warnings.absorb(&d.warnings);
        report.sources.push(SourceSummary {
            agent: agent.id.clone(),
            source: src.name.clone(),
            roots: d.roots.iter().map(|r| r.to_string_lossy().into_owned()).collect(),
            files: d.files.len(),
        });
        if !d.errors.is_empty() {
            complete = false;
            report.errors.extend(d.errors.into_iter().map(|m| error(&src.name, m)));
        }
        for path in d.files {
            let key = path.to_string_lossy().into_owned();
            if seen.contains(&key) {
                continue; // Found by an earlier source or root.
            }
            let fp = match Fingerprint::of(&path, src.format) {
                Ok(fp) => fp,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    seen.insert(key.clone());
                    warnings.push(format!("cannot stat '{key}': {e}"));
                    continue;
                }
            };
            seen.insert(key.clone());
            report.files_seen += 1;
            let prior = states.get(&key);
            if prior.is_some_and(|p| fp.matches(p)) {
                continue;
            }
            let cost = match (src.format, prior) {
                (Format::Jsonl, Some(p)) if p.offset <= fp.size => fp.size - p.offset,
                _ => fp.size,
            };
            jobs.push(Job {
                source: si,
                path,
                key,
                fp,
                prior: prior.cloned(),
                cost,
            });
        }
    }
    if complete {
        forget_vanished(store, agent, &states, &seen, report);
    }
    progress(Progress {
        agent: agent.id.clone(),
        files_done: 0,
        files_total: jobs.len(),
        records: report.records,
    });
    if !jobs.is_empty() {
        run_jobs(store, agent, &jobs, progress, report, warnings);
    }
}

fn forget_vanished(
    store: &mut Store,
    agent: &Agent,
    states: &HashMap<String, FileState>,
    seen: &HashSet<String>,
    report: &mut IngestReport,
) {
    let mut gone: Vec<&String> = states.keys().filter(|k| !seen.contains(*k)).collect();
    gone.sort();
    for path in gone {
        match store.forget_file(&agent.id, path) {
            Ok(true) => report.files_forgotten += 1,
            Ok(false) => {}
            Err(e) => report.errors.push(SourceError {
                agent: agent.id.clone(),
                source: "store".into(),
                message: e.to_string(),
            }),
        }
    }
}

/// Splits the jobs into batches by count and bytes, keeping their order.
fn batches(jobs: &[Job]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, j) in jobs.iter().enumerate() {
        if i > start && (i - start >= BATCH_FILES || bytes + j.cost > BATCH_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += j.cost;
    }
    if start < jobs.len() {
        out.push(start..jobs.len());
    }
    out
}

fn read_job(agent: &Agent, job: &Job) -> Result<FileRead, String> {
    let src = &agent.sources[job.source];
    let mut read = read_file(&agent.id, src, &job.path, &job.key, &job.fp, job.prior.as_ref())?;
    // Streamed responses repeat a key within a file; collapsing them here spares the store.
    read.records = dedup_in_memory(std::mem::take(&mut read.records), keep_rule(src.records.keep));
    Ok(read)
}

/// How far parsing may run ahead of the next file to commit, in files: results wait in
/// order, and this bounds how many wait.
const WINDOW_FILES: usize = 4 * BATCH_FILES;

/// The index of the next job to commit, which workers wait on when they are too far ahead.
struct Gate {
    next: Mutex<usize>,
    moved: Condvar,
}

impl Gate {
    fn wait_until_near(&self, i: usize) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        while i >= *next + WINDOW_FILES {
            next = self.moved.wait(next).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn advance(&self, to: usize) {
        *self.next.lock().unwrap_or_else(|e| e.into_inner()) = to;
        self.moved.notify_all();
    }
}

/// Parses the jobs on a worker per core, each taking the next job as it finishes one (no
/// barrier between batches, so a big file holds up nobody), and commits the results on
/// this thread in job order, a batch per transaction.
fn run_jobs(
    store: &mut Store,
    agent: &Agent,
    jobs: &[Job],
    progress: &mut dyn FnMut(Progress),
    report: &mut IngestReport,
    warnings: &mut Warnings,
) {
    let plan = batches(jobs);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len())
        .max(1);
    let next_job = AtomicUsize::new(0);
    let gate = Gate {
        next: Mutex::new(0),
        moved: Condvar::new(),
    };
    let (tx, rx) = channel::<(usize, Result<FileRead, String>)>();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next_job, gate) = (&next_job, &gate);
            s.spawn(move || {
                loop {
                    let i = next_job.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs.len() {
                        break;
                    }
                    gate.wait_until_near(i);
                    if tx.send((i, read_job(agent, &jobs[i]))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Result<FileRead, String>> = BTreeMap::new();
        let mut next = 0usize;
        let mut batch_end = plan.iter().map(|r| r.end);
        let mut end = batch_end.next().unwrap_or(jobs.len());
        let mut pending: Vec<FileCommit> = Vec::new();
        let mut pending_records = 0usize;
        for (i, res) in rx {
            waiting.insert(i, res);
            while let Some(res) = waiting.remove(&next) {
                let job = &jobs[next];
                match res {
                    Ok(read) => {
                        warnings.absorb(&read.warnings);
                        report.files_read += 1;
                        report.files_restarted += u64::from(read.restarted);
                        report.bytes_read += read.bytes_read;
                        pending_records += read.records.len();
                        pending.push(FileCommit {
                            agent: agent.id.clone(),
                            keep: keep_rule(agent.sources[job.source].records.keep),
                            file: read.state,
                            records: read.records,
                        });
                    }
                    Err(e) => warnings.push(e),
                }
                next += 1;
                if next == end || pending_records >= COMMIT_RECORDS {
                    if next == end {
                        end = batch_end.next().unwrap_or(jobs.len());
                    }
                    flush(store, agent, &mut pending, &mut pending_records, report);
                    progress(Progress {
                        agent: agent.id.clone(),
                        files_done: next,
                        files_total: jobs.len(),
                        records: report.records,
                    });
                }
            }
            gate.advance(next);
        }
        flush(store, agent, &mut pending, &mut pending_records, report);
    });
}

fn flush(
    store: &mut Store,
    agent: &Agent,
    pending: &mut Vec<FileCommit>,
    pending_records: &mut usize,
    report: &mut IngestReport,
) {
    if pending.is_empty() {
        return;
    }
    match store.commit(pending) {
        Ok(stats) => {
            report.records += *pending_records as u64;
            report.inserted += stats.inserted;
            report.updated += stats.updated;
        }
        Err(e) => report.errors.push(SourceError {
            agent: agent.id.clone(),
            source: "store".into(),
            message: e.to_string(),
        }),
    }
    pending.clear();
    *pending_records = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(cost: u64) -> Job {
        Job {
            source: 0,
            path: PathBuf::new(),
            key: String::new(),
            fp: Fingerprint::default(),
            prior: None,
            cost,
        }
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let jobs: Vec<Job> = (0..130).map(|_| job(1)).collect();
        assert_eq!(batches(&jobs), vec![0..64, 64..128, 128..130]);
        let jobs = vec![job(BATCH_BYTES), job(1), job(BATCH_BYTES - 1), job(5)];
        assert_eq!(batches(&jobs), vec![0..1, 1..3, 3..4]);
        assert!(batches(&[]).is_empty());
    }
}
