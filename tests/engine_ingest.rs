//! Ingest end to end: neutral agent definitions written inline, real session files in a
//! temporary home, a real SQLite store. Each test checks the totals the store ends with.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ttop::def::{Agent, CompileEnv, Definition, load_str};
use ttop::engine::agent::{IngestReport, extract_files, ingest};
use ttop::engine::ctx::Ctx;
use ttop::store::Store;

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    db: PathBuf,
    store: Store,
    ctx: Ctx,
}

impl Env {
    fn new() -> Env {
        Env::with_env(HashMap::new())
    }

    fn with_env(vars: HashMap<String, String>) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        let db = home.join("state/ttop.db");
        let store = Store::open(&db).unwrap();
        let ctx = Ctx::fake(home.clone(), vars);
        Env {
            _tmp: tmp,
            home,
            db,
            store,
            ctx,
        }
    }

    fn agent(&self, yaml: &str) -> Arc<Agent> {
        let loaded = load_str(
            yaml,
            Path::new("t.yaml"),
            &CompileEnv {
                home: self.home.clone(),
            },
        );
        match loaded.def {
            Some(Definition::Agent(a)) => a,
            _ => panic!("definition did not compile: {:?}", loaded.diags),
        }
    }

    fn ingest(&mut self, agents: &[Arc<Agent>]) -> IngestReport {
        let mut calls = 0;
        let rep = ingest(&mut self.store, agents, &self.ctx, &mut |_| calls += 1);
        assert!(calls > 0);
        rep
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn append(&self, rel: &str, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.home.join(rel))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// (records, input, output) of one agent.
    fn totals(&self, agent: &str) -> (i64, i64, i64) {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        c.query_row(
            "SELECT count(*), coalesce(sum(input), 0), coalesce(sum(output), 0) FROM records WHERE agent = ?1",
            [agent],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    }

    /// (dedup_key, ts_ms, input, output, model) of every record, ordered by time.
    fn rows(&self, agent: &str) -> Vec<(String, i64, i64, i64, Option<String>)> {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let mut s = c
            .prepare(
                "SELECT dedup_key, ts_ms, input, output, model FROM records WHERE agent = ?1 ORDER BY ts_ms, dedup_key",
            )
            .unwrap();
        s.query_map([agent], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn files(&self, agent: &str) -> usize {
        self.store.file_states(agent).unwrap().len()
    }
}

/// A request-per-line agent: streamed replies repeat an id with growing output.
const LINES: &str = r#"
apiVersion: tokentop/v1
kind: Agent
id: agent-a
meta: { name: Agent A }
permissions: { files: ['~/data'] }
sources:
  - roots: ['~/data']
    include: ['*/*.jsonl']
    format: jsonl
records:
  prefilter: '"usage"'
  where: type == "reply"
  dedup: { key: [$.msg.id, $.req], keep: largest }
  fields:
    session_id: { from: file_stem }
    timestamp: { path: $.ts, type: rfc3339 }
    model: $.msg.model
    input: $.msg.usage.in
    output: $.msg.usage.out
    project: { from: parent_dir }
"#;

fn reply(id: &str, ts: &str, input: u64, output: u64) -> String {
    format!(
        r#"{{"type":"reply","ts":"{ts}","req":"r-{id}","msg":{{"id":"{id}","model":"m1","usage":{{"in":{input},"out":{output}}}}}}}"#
    ) + "\n"
}

#[test]
fn garbage_is_skipped_and_a_half_written_line_waits() {
    let mut env = Env::new();
    let a = env.agent(LINES);
    let full = reply("a", "2026-01-01T00:00:00Z", 10, 5);
    let second = reply("b", "2026-01-01T00:01:00Z", 20, 7);
    let (head, tail) = second.split_at(30);
    env.write(
        "data/p/s1.jsonl",
        &format!("{full}{{\"usage\" this is not json\n{{\"type\":\"note\"}}\n{head}"),
    );
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_seen, rep.files_read, rep.records), (1, 1, 1));
    assert_eq!(rep.warning_count, 1, "{:?}", rep.warnings);
    assert!(rep.warnings[0].contains("not JSON"), "{:?}", rep.warnings);
    assert_eq!(env.totals("agent-a"), (1, 10, 5));
    let state =
        &env.store.file_states("agent-a").unwrap()[&env.home.join("data/p/s1.jsonl").to_string_lossy().into_owned()];
    let before_half = (full.len() + "{\"usage\" this is not json\n{\"type\":\"note\"}\n".len()) as u64;
    assert_eq!(
        state.offset, before_half,
        "the offset stops before the half-written line"
    );
    // The writer finishes the line: it is read once, from where the last read stopped.
    env.append("data/p/s1.jsonl", tail);
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.records, rep.warning_count), (1, 1, 0));
    assert_eq!(rep.bytes_read, second.len() as u64);
    assert_eq!(env.totals("agent-a"), (2, 30, 12));
}

#[test]
fn ingesting_twice_changes_nothing() {
    let mut env = Env::new();
    let a = env.agent(LINES);
    env.write(
        "data/p/s1.jsonl",
        &(reply("a", "2026-01-01T00:00:00Z", 10, 5) + &reply("b", "2026-01-01T00:00:01Z", 1, 1)),
    );
    env.write("data/q/s2.jsonl", &reply("c", "2026-01-01T00:00:02Z", 3, 3));
    let first = env.ingest(std::slice::from_ref(&a));
    let totals = env.totals("agent-a");
    let rows = env.rows("agent-a");
    assert_eq!(totals, (3, 14, 9));
    assert_eq!((first.files_seen, first.files_read, first.inserted), (2, 2, 3));
    let again = env.ingest(std::slice::from_ref(&a));
    assert_eq!((again.files_seen, again.files_read, again.records), (2, 0, 0));
    assert_eq!(env.totals("agent-a"), totals);
    assert_eq!(env.rows("agent-a"), rows);
    // Even a forced re-read (the stored positions dropped) counts nothing twice.
    for f in ["data/p/s1.jsonl", "data/q/s2.jsonl"] {
        env.store
            .forget_file("agent-a", &env.home.join(f).to_string_lossy())
            .unwrap();
    }
    let forced = env.ingest(std::slice::from_ref(&a));
    assert_eq!((forced.files_read, forced.inserted), (2, 0));
    assert_eq!(env.rows("agent-a"), rows);
}

#[test]
fn a_file_rewritten_in_place_is_read_again() {
    let mut env = Env::new();
    let mut def = LINES.replace("keep: largest", "keep: last");
    def = def.replace("dedup: { key: [$.msg.id, $.req]", "dedup: { key: [$.msg.id]");
    let a = env.agent(&def);
    env.write(
        "data/p/s1.jsonl",
        &(reply("a", "2026-01-01T00:00:00Z", 10, 50) + &reply("b", "2026-01-01T00:00:01Z", 20, 60)),
    );
    env.ingest(std::slice::from_ref(&a));
    assert_eq!(env.totals("agent-a"), (2, 30, 110));
    // Same size, other content: 'b' now has 21 input and 59 output.
    env.write(
        "data/p/s1.jsonl",
        &(reply("a", "2026-01-01T00:00:00Z", 10, 50) + &reply("b", "2026-01-01T00:00:01Z", 21, 59)),
    );
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.files_restarted), (1, 1));
    assert_eq!(env.totals("agent-a"), (2, 31, 109));
    // Smaller: the history was compacted to 'b' alone, with a corrected count. The record
    // of 'a' already counted stays (data outlives its source).
    env.write("data/p/s1.jsonl", &reply("b", "2026-01-01T00:00:01Z", 2, 9));
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.files_restarted), (1, 1));
    assert_eq!(env.totals("agent-a"), (2, 12, 59));
    // Appending after the rewrite continues from the new end.
    env.append("data/p/s1.jsonl", &reply("c", "2026-01-01T00:00:02Z", 1, 1));
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.files_restarted, rep.records), (1, 0, 1));
    assert_eq!(env.totals("agent-a"), (3, 13, 60));
}

#[test]
fn a_deleted_file_keeps_its_totals() {
    let mut env = Env::new();
    let a = env.agent(LINES);
    let p = env.write("data/p/s1.jsonl", &reply("a", "2026-01-01T00:00:00Z", 10, 5));
    env.write("data/p/s2.jsonl", &reply("b", "2026-01-01T00:00:00Z", 1, 1));
    env.ingest(std::slice::from_ref(&a));
    assert_eq!(env.files("agent-a"), 2);
    std::fs::remove_file(p).unwrap();
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_seen, rep.files_forgotten), (1, 1));
    assert_eq!(env.files("agent-a"), 1);
    assert_eq!(env.totals("agent-a"), (2, 11, 6));
}

#[test]
fn streamed_duplicates_across_files_keep_the_largest() {
    let mut env = Env::new();
    let a = env.agent(LINES);
    // The same request written three times with growing output, the last copy in a second
    // file (a resumed session), plus one unrelated request.
    env.write(
        "data/p/s1.jsonl",
        &(reply("x", "2026-01-01T00:00:00Z", 100, 1) + &reply("x", "2026-01-01T00:00:02Z", 100, 40)),
    );
    env.write(
        "data/p/s2.jsonl",
        &(reply("x", "2026-01-01T00:00:05Z", 100, 90) + &reply("y", "2026-01-01T00:01:00Z", 1, 1)),
    );
    env.ingest(std::slice::from_ref(&a));
    let rows = env.rows("agent-a");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        (
            "x\u{1f}r-x".to_string(),
            1_767_225_600_000,
            100,
            90,
            Some("m1".to_string())
        )
    );
    assert_eq!(env.totals("agent-a"), (2, 101, 91));
    // The in-memory extraction (definition tests, --sample) agrees with the store.
    let files = [env.home.join("data/p/s1.jsonl"), env.home.join("data/p/s2.jsonl")];
    let (recs, warnings) = extract_files(&a, 0, &files).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let got: Vec<_> = recs
        .iter()
        .map(|r| (r.dedup_key.clone(), r.ts_ms, r.tokens.input, r.tokens.output))
        .collect();
    assert_eq!(
        got,
        vec![
            ("x\u{1f}r-x".into(), 1_767_225_600_000, 100, 90),
            ("y\u{1f}r-y".into(), 1_767_225_660_000, 1, 1)
        ]
    );
    // A fixture directory is walked with the source's globs.
    let (recs, _) = extract_files(&a, 0, &[env.home.join("data")]).unwrap();
    assert_eq!(recs.len(), 2);
    assert!(extract_files(&a, 3, &files).is_err());
}

/// Running totals with the model carried from an earlier line.
const CUMULATIVE: &str = r#"
apiVersion: tokentop/v1
kind: Agent
id: agent-c
meta: { name: Agent C }
permissions: { files: ['~/runs'] }
sources:
  - roots: ['~/runs']
    include: ['**/*.jsonl']
    format: jsonl
records:
  state:
    - prefilter: '"context"'
      when: kind == "context"
      set: { model: $.model }
  prefilter: '"count"'
  where: kind == "count" and info is defined and info
  counters: cumulative
  fields:
    session_id: { from: file_stem }
    timestamp: { path: $.ts, type: rfc3339 }
    model: { expr: state.model }
    input: $.info.total.in
    output: $.info.total.out
"#;

fn ctx_line(model: &str) -> String {
    format!(r#"{{"kind":"context","model":"{model}"}}"#) + "\n"
}

fn count_line(ts: u32, input: u64, output: u64) -> String {
    format!(r#"{{"kind":"count","ts":"2026-01-01T00:00:{ts:02}Z","info":{{"total":{{"in":{input},"out":{output}}}}}}}"#)
        + "\n"
}

#[test]
fn cumulative_counters_with_carried_state() {
    let mut env = Env::new();
    let a = env.agent(CUMULATIVE);
    let text = ctx_line("m1")
        + &count_line(1, 100, 10)
        // Re-emitted with unchanged totals (a UI refresh): counts nothing.
        + &count_line(2, 100, 10)
        + "{\"kind\":\"count\",\"info\":null}\n"
        + &ctx_line("m2")
        + &count_line(3, 250, 30);
    env.write("runs/2026/01/r1.jsonl", &text);
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!(rep.records, 2);
    let rows = env.rows("agent-c");
    let got: Vec<_> = rows.iter().map(|r| (r.2, r.3, r.4.clone().unwrap())).collect();
    assert_eq!(got, vec![(100, 10, "m1".to_string()), (150, 20, "m2".to_string())]);
    // The next read resumes with the carried model and the previous totals.
    env.append(
        "runs/2026/01/r1.jsonl",
        &(count_line(4, 300, 31) + &count_line(5, 300, 31)),
    );
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!(rep.records, 1);
    let rows = env.rows("agent-c");
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[2].2, rows[2].3, rows[2].4.as_deref()), (50, 1, Some("m2")));
    assert_eq!(env.totals("agent-c"), (3, 300, 31));
    // A reset (totals going down) counts the new totals in full.
    env.append("runs/2026/01/r1.jsonl", &(ctx_line("m3") + &count_line(6, 7, 2)));
    env.ingest(std::slice::from_ref(&a));
    assert_eq!(env.totals("agent-c"), (4, 307, 33));
    // Idempotent across a full re-read.
    env.store
        .forget_file("agent-c", &env.home.join("runs/2026/01/r1.jsonl").to_string_lossy())
        .unwrap();
    env.ingest(std::slice::from_ref(&a));
    assert_eq!(env.totals("agent-c"), (4, 307, 33));
}

/// One JSON document per session, rewritten whole; messages inside.
const DOCS: &str = r#"
apiVersion: tokentop/v1
kind: Agent
id: agent-d
meta: { name: Agent D }
permissions: { files: ['~/docs'] }
sources:
  - roots: ['~/docs']
    include: ['*/chats/*.json']
    format: json
records:
  each: $.messages[*]
  where: type == "model"
  dedup: { key: [$.id], keep: last }
  fields:
    session_id: { expr: doc.sessionId }
    timestamp: { path: $.ts, type: rfc3339 }
    model: $.model
    input: { expr: tokens.input - (tokens.cached or 0) }
    output: $.tokens.output
"#;

#[test]
fn json_documents_with_each_keep_the_last() {
    let mut env = Env::new();
    let a = env.agent(DOCS);
    let doc = |out2: u64, extra: &str| {
        format!(
            r#"{{"sessionId":"s-1","messages":[
              {{"id":"u1","type":"user","ts":"2026-01-01T00:00:00Z"}},
              {{"id":"g1","type":"model","ts":"2026-01-01T00:00:01Z","model":"m","tokens":{{"input":10,"cached":4,"output":3}}}},
              {{"id":"g2","type":"model","ts":"2026-01-01T00:00:02Z","model":"m","tokens":{{"input":20,"output":{out2}}}}}{extra}]}}"#
        )
    };
    env.write("docs/h1/chats/session-1.json", &doc(5, ""));
    env.write("docs/h1/chats/broken.json", "{\"sessionId\": ");
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_seen, rep.files_read, rep.records), (2, 1, 2));
    assert_eq!(rep.warning_count, 1, "{:?}", rep.warnings);
    assert_eq!(env.totals("agent-d"), (2, 26, 8));
    // Rewritten whole: g2's count changed and g3 arrived.
    env.write(
        "docs/h1/chats/session-1.json",
        &doc(
            9,
            r#",{"id":"g3","type":"model","ts":"2026-01-01T00:00:03Z","tokens":{"input":1,"output":1}}"#,
        ),
    );
    env.ingest(std::slice::from_ref(&a));
    assert_eq!(env.totals("agent-d"), (3, 27, 13));
    let rows = env.rows("agent-d");
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        vec!["g1", "g2", "g3"]
    );
    // The broken document is retried on every run until it parses.
    env.write("docs/h1/chats/broken.json", r#"{"sessionId":"s-2","messages":[]}"#);
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.warning_count), (1, 0));
    assert_eq!(env.files("agent-d"), 2);
}

/// A SQLite database read with a cursor.
const SQLITE: &str = r#"
apiVersion: tokentop/v1
kind: Agent
id: agent-s
meta: { name: Agent S }
permissions: { files: ['~/share/app'] }
sources:
  - roots: ['~/share/app']
    include: ['app.db']
    format: sqlite
    query: SELECT id, session_id, time_updated, data FROM message WHERE time_updated > :cursor ORDER BY time_updated
    cursor: time_updated
    json_columns: [data]
records:
  where: data.role == "assistant"
  dedup: { key: [$.id], keep: last }
  fields:
    session_id: $.session_id
    timestamp: { path: $.data.time.created, type: epoch_ms }
    model: $.data.modelID
    provider: $.data.providerID
    input: $.data.tokens.input
    output: $.data.tokens.output
    cost: $.data.cost
"#;

fn add_message(db: &Path, id: &str, t: i64, role: &str, input: u64, output: u64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let data = format!(
        r#"{{"role":"{role}","modelID":"m","providerID":"p","cost":0.25,"time":{{"created":{t}}},"tokens":{{"input":{input},"output":{output}}}}}"#
    );
    c.execute(
        "INSERT INTO message (id, session_id, time_updated, data) VALUES (?1, 's', ?2, ?3)",
        rusqlite::params![id, t, data],
    )
    .unwrap();
}

#[test]
fn sqlite_reads_only_rows_after_the_cursor() {
    let mut env = Env::new();
    let a = env.agent(SQLITE);
    let dir = env.home.join("share/app");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("app.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_updated INTEGER, data TEXT)")
            .unwrap();
    }
    add_message(&db, "m1", 1_767_225_600_000, "assistant", 10, 1);
    add_message(&db, "m2", 1_767_225_601_000, "user", 99, 99);
    add_message(&db, "m3", 1_767_225_602_000, "assistant", 20, 2);
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.records), (1, 2), "{:?}", rep);
    assert_eq!(env.totals("agent-s"), (2, 30, 3));
    let state = env.store.file_states("agent-s").unwrap();
    assert_eq!(state.values().next().unwrap().cursor.as_deref(), Some("1767225602000"));
    // Nothing changed: the database is not even opened.
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!(rep.files_read, 0);
    // A new row (written to the WAL): only it is read.
    add_message(&db, "m4", 1_767_225_603_000, "assistant", 5, 5);
    let rep = env.ingest(std::slice::from_ref(&a));
    assert_eq!((rep.files_read, rep.records), (1, 1));
    assert_eq!(env.totals("agent-s"), (3, 35, 8));
    let c = rusqlite::Connection::open(&env.db).unwrap();
    let cost: f64 = c
        .query_row(
            "SELECT sum(cost_reported) FROM records WHERE agent = 'agent-s'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cost, 0.75);
}

#[test]
fn one_broken_source_does_not_stop_the_others() {
    let outside = tempfile::tempdir().unwrap();
    let outside_dir = std::fs::canonicalize(outside.path()).unwrap();
    std::fs::create_dir_all(outside_dir.join("p")).unwrap();
    std::fs::write(outside_dir.join("p/s.jsonl"), reply("z", "2026-01-01T00:00:00Z", 1, 1)).unwrap();
    let vars = HashMap::from([("A_DIR".to_string(), outside_dir.to_string_lossy().into_owned())]);
    let mut env = Env::with_env(vars);
    // The env var points outside the permitted files: refused at run time.
    let bad = env.agent(
        &LINES
            .replace("id: agent-a", "id: agent-b")
            .replace(
                "permissions: { files: ['~/data'] }",
                "permissions: { files: ['~/data'], env: [A_DIR] }",
            )
            .replace("roots: ['~/data']", "roots: ['{{ env.A_DIR }}', '~/data']"),
    );
    let good = env.agent(LINES);
    env.write("data/p/s1.jsonl", &reply("a", "2026-01-01T00:00:00Z", 10, 5));
    let rep = env.ingest(&[bad, good]);
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert_eq!(
        (rep.errors[0].agent.as_str(), rep.errors[0].source.as_str()),
        ("agent-b", "0")
    );
    assert!(
        rep.errors[0].message.contains("is not under permissions.files"),
        "{}",
        rep.errors[0].message
    );
    // The permitted root of the same source is still read, and the other agent too.
    assert_eq!(env.totals("agent-b"), (1, 10, 5));
    assert_eq!(env.totals("agent-a"), (1, 10, 5));
    assert_eq!(rep.sources.len(), 2);
    assert_eq!(rep.sources[1].files, 1);
}
