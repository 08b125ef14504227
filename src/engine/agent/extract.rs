//! Extraction: one JSON unit (a JSONL line, a JSON document, a SQLite row) → usage
//! records, driven only by a compiled [`CRecords`].
//!
//! For each unit: the `state` rules whose prefilter and `when` hold update the carried
//! values (readable as `state.<name>`); then each record of the unit (the unit itself, or
//! what `each` selects) is kept when `where` holds and turned into a [`UsageRecord`] by
//! the `fields`. Expressions see the record's keys as top-level names plus the named roots
//! `state`, `doc` (the whole unit) and `file` (`{path, name, stem, parent, dir}`).
//!
//! With `counters: cumulative` the token fields are running totals: each record counts the
//! increase since the previous record of the same file, a record with no increase counts
//! nothing, and totals that go down (a reset) count in full.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use memchr::memmem::Finder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::discover::fixture_files;
use super::lazy::Trie;
use super::read::{self, Fingerprint};
use super::{Warnings, keep_rule};
use crate::def::Agent;
use crate::def::compile::CRecords;
use crate::def::expr::{Scope, parse_rfc3339_ms, timestamp_ms};
use crate::def::model::Format;
use crate::def::value::{CompiledValue, EvalCtx};
use crate::def::value_spec::ValueType;
use crate::engine::record::{KeepRule, Tokens, UsageRecord};

/// The separator of the parts of a dedup key.
const KEY_SEP: char = '\u{1f}';

/// How many warnings one file keeps as text.
pub const FILE_WARNING_CAP: usize = 20;

/// Values carried from unit to unit within one file; serialised into `FileState.state`
/// so a resumed read continues where the last one stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Carried {
    /// `state.<name>` values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub vars: Map<String, Value>,
    /// The running totals of the previous record (cumulative counters only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Tokens>,
}

impl Carried {
    /// Parses stored state; anything unreadable starts afresh.
    pub fn from_stored(s: Option<&str>) -> Carried {
        s.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }

    /// The text stored in `FileState.state`, `None` when there is nothing to carry.
    pub fn to_stored(&self) -> Option<String> {
        if self.vars.is_empty() && self.prev.is_none() {
            return None;
        }
        serde_json::to_string(self).ok()
    }
}

/// Where a unit sits in its file: the base of the keys of records without a dedup key.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// The byte offset of a JSONL line.
    Offset(u64),
    /// The cursor value of a SQLite row.
    Cursor(&'a str),
    /// The whole file (a JSON document).
    Doc,
}

/// Extracts the records of one file, unit by unit.
pub struct Extractor<'a> {
    agent: &'a str,
    recs: &'a CRecords,
    path: &'a Path,
    path_str: &'a str,
    file_val: Value,
    state_val: Value,
    prev: Option<Tokens>,
    rec_finder: Option<Finder<'a>>,
    state_finders: Vec<Option<Finder<'a>>>,
    /// Scratch: which state rules a line passed the prefilter of.
    state_hits: Vec<bool>,
    /// The keys lines are parsed for; `None`: whole lines.
    trie: Option<Trie>,
    pub records: Vec<UsageRecord>,
    pub warnings: Warnings,
}

impl<'a> Extractor<'a> {
    /// `path_str` is the path as the store keeps it (it goes into `source_path` and into
    /// derived dedup keys).
    pub fn new(agent: &'a str, recs: &'a CRecords, path: &'a Path, path_str: &'a str, carried: Carried) -> Self {
        let name = |p: Option<&Path>| -> Value {
            p.and_then(Path::file_name)
                .map_or(Value::Null, |s| Value::String(s.to_string_lossy().into_owned()))
        };
        let mut file = Map::new();
        file.insert("path".into(), Value::String(path_str.to_string()));
        file.insert("name".into(), name(Some(path)));
        file.insert(
            "stem".into(),
            path.file_stem()
                .map_or(Value::Null, |s| Value::String(s.to_string_lossy().into_owned())),
        );
        file.insert("parent".into(), name(path.parent()));
        file.insert(
            "dir".into(),
            path.parent()
                .map_or(Value::Null, |p| Value::String(p.to_string_lossy().into_owned())),
        );
        Extractor {
            agent,
            recs,
            path,
            path_str,
            file_val: Value::Object(file),
            state_val: Value::Object(carried.vars),
            prev: carried.prev,
            rec_finder: recs.prefilter.as_deref().map(Finder::new),
            state_finders: recs
                .state
                .iter()
                .map(|s| s.prefilter.as_deref().map(Finder::new))
                .collect(),
            state_hits: vec![false; recs.state.len()],
            trie: Trie::for_records(recs),
            records: Vec::new(),
            warnings: Warnings::with_cap(FILE_WARNING_CAP),
        }
    }

    /// Parses lines whole rather than only the keys the definition reads (to check that
    /// both give the same records).
    pub fn whole_lines(mut self) -> Self {
        self.trie = None;
        self
    }

    /// The values to carry to the next read of this file.
    pub fn carried(&self) -> Carried {
        let vars = match &self.state_val {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        Carried { vars, prev: self.prev }
    }

    /// The prefilters when every rule has one, record rule first: a line none of them
    /// finds is of no interest, so a reader may look only at lines they find (see
    /// [`Extractor::line_found`]). `None` when some rule wants every line.
    pub fn finders(&self) -> Option<Vec<Finder<'a>>> {
        let mut all = vec![self.rec_finder.clone()?];
        for f in &self.state_finders {
            all.push(f.clone()?);
        }
        // A needle with a line break could match across lines; such a source is read
        // line by line.
        if all.iter().any(|f| f.needle().contains(&b'\n')) {
            return None;
        }
        Some(all)
    }

    /// One JSONL line (without its newline) at byte `offset`. The prefilters are checked
    /// on the raw bytes first; a line no rule and no record wants is never parsed.
    pub fn line(&mut self, bytes: &[u8], offset: u64) {
        let want_record = self.rec_finder.as_ref().is_none_or(|f| f.find(bytes).is_some());
        for (hit, f) in self.state_hits.iter_mut().zip(&self.state_finders) {
            *hit = f.as_ref().is_none_or(|f| f.find(bytes).is_some());
        }
        self.parse_line(bytes, offset, want_record);
    }

    /// One JSONL line whose prefilter matches the reader already knows: `found[0]` for
    /// the records, then one per state rule, in the order of [`Extractor::finders`].
    pub fn line_found(&mut self, bytes: &[u8], offset: u64, found: &[bool]) {
        for (hit, f) in self.state_hits.iter_mut().zip(found.iter().skip(1)) {
            *hit = *f;
        }
        self.parse_line(bytes, offset, found.first().copied().unwrap_or(false));
    }

    fn parse_line(&mut self, bytes: &[u8], offset: u64, want_record: bool) {
        let want_state = self.state_hits.iter().any(|h| *h);
        if !want_record && !want_state {
            return;
        }
        let bytes = bytes.trim_ascii();
        if bytes.is_empty() {
            return;
        }
        let parsed = match &self.trie {
            Some(t) => t.parse(bytes),
            None => serde_json::from_slice(bytes),
        };
        let v: Value = match parsed {
            Ok(v) => v,
            Err(e) => {
                self.warnings
                    .push(format!("'{}' at byte {offset}: not JSON ({e})", self.path_str));
                return;
            }
        };
        if want_state {
            self.apply_state(&v);
        }
        if want_record {
            self.records_of(&v, At::Offset(offset));
        }
    }

    /// One parsed unit (a document or a row): every state rule applies (prefilters are for
    /// raw lines), then its records are extracted.
    pub fn unit(&mut self, v: &Value, at: At<'_>) {
        self.state_hits.iter_mut().for_each(|h| *h = true);
        self.apply_state(v);
        self.records_of(v, at);
    }

    fn apply_state(&mut self, unit: &Value) {
        for (i, rule) in self.recs.state.iter().enumerate() {
            if !self.state_hits[i] {
                continue;
            }
            let named = [("state", &self.state_val), ("doc", unit), ("file", &self.file_val)];
            if !rule.when.truthy(&Scope::new(Some(unit), &named)) {
                continue;
            }
            let cx = EvalCtx {
                record: Some(unit),
                item: None,
                named: &named,
                file: Some(self.path),
            };
            let mut updates = Vec::with_capacity(rule.set.len());
            for (name, value) in &rule.set {
                match value.eval(&cx) {
                    Ok(v) => updates.push((name, v)),
                    Err(e) => self.warnings.push(format!("'{}': state '{name}': {e}", self.path_str)),
                }
            }
            if let Value::Object(m) = &mut self.state_val {
                for (name, v) in updates {
                    match v {
                        Some(v) => {
                            m.insert(name.clone(), v);
                        }
                        None => {
                            m.shift_remove(name);
                        }
                    }
                }
            }
        }
    }

    fn records_of(&mut self, unit: &Value, at: At<'_>) {
        match &self.recs.each {
            None => self.record(unit, unit, at, None),
            Some(each) => {
                for (i, item) in each.all(unit).into_iter().enumerate() {
                    self.record(item, unit, at, Some(i));
                }
            }
        }
    }

    fn record(&mut self, rec: &Value, doc: &Value, at: At<'_>, index: Option<usize>) {
        let built = build(self, rec, doc, at, index);
        let mut r = match built {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                self.warnings
                    .push(format!("'{}' {}: {e}", self.path_str, describe(at, index)));
                return;
            }
        };
        if self.recs.cumulative {
            let totals = r.tokens;
            let delta = match self.prev {
                Some(p) if !went_down(&totals, &p) => minus(&totals, &p),
                _ => totals,
            };
            self.prev = Some(totals);
            if all_zero(&delta) {
                return;
            }
            r.tokens = delta;
        }
        self.records.push(r);
    }
}

/// Where a record sits, for warnings.
fn describe(at: At<'_>, index: Option<usize>) -> String {
    let base = match at {
        At::Offset(o) => format!("at byte {o}"),
        At::Cursor(c) => format!("at row '{c}'"),
        At::Doc => "document".to_string(),
    };
    match index {
        Some(i) => format!("{base}, record {i}"),
        None => base,
    }
}

fn went_down(cur: &Tokens, prev: &Tokens) -> bool {
    cur.input < prev.input
        || cur.output < prev.output
        || cur.cache_read < prev.cache_read
        || cur.cache_write < prev.cache_write
        || cur.cache_write_1h < prev.cache_write_1h
        || cur.reasoning < prev.reasoning
}

fn minus(cur: &Tokens, prev: &Tokens) -> Tokens {
    Tokens {
        input: cur.input - prev.input,
        output: cur.output - prev.output,
        cache_read: cur.cache_read - prev.cache_read,
        cache_write: cur.cache_write - prev.cache_write,
        cache_write_1h: cur.cache_write_1h - prev.cache_write_1h,
        reasoning: cur.reasoning - prev.reasoning,
    }
}

fn all_zero(t: &Tokens) -> bool {
    *t == Tokens::default()
}

/// Evaluates an optional value; an evaluation error is a warning and counts as absent.
fn opt(v: &Option<CompiledValue>, cx: &EvalCtx<'_>, what: &str, warn: &mut Vec<String>) -> Option<Value> {
    let v = v.as_ref()?;
    match v.eval(cx) {
        Ok(Some(Value::Null)) | Ok(None) => None,
        Ok(Some(x)) => Some(x),
        Err(e) => {
            warn.push(format!("{what}: {e}"));
            None
        }
    }
}

/// [`text`] of a value that is no longer needed: a string is moved, not copied.
fn text_owned(v: Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s),
        other => text(&other),
    }
}

/// Text of a value: strings as they are, numbers and booleans written out, containers as
/// JSON; empty strings count as absent.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A count: negative or missing → 0, fractions rounded, numeric strings read.
fn count(v: &Value) -> Option<u64> {
    let f = match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return Some(u);
            }
            n.as_f64()?
        }
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => return None,
    };
    if !f.is_finite() || f <= 0.0 {
        return Some(0);
    }
    Some(if f >= u64::MAX as f64 {
        u64::MAX
    } else {
        f.round() as u64
    })
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// Builds one record; `Ok(None)` when `where` drops it, `Err` when a required field is
/// missing.
fn build(
    x: &mut Extractor<'_>,
    rec: &Value,
    doc: &Value,
    at: At<'_>,
    index: Option<usize>,
) -> Result<Option<UsageRecord>, String> {
    let recs = x.recs;
    let named = [("state", &x.state_val), ("doc", doc), ("file", &x.file_val)];
    if let Some(f) = &recs.filter
        && !f.truthy(&Scope::new(Some(rec), &named))
    {
        return Ok(None);
    }
    let cx = EvalCtx {
        record: Some(rec),
        item: None,
        named: &named,
        file: Some(x.path),
    };
    let f = &recs.fields;
    let mut warn = Vec::new();
    let session_id = match f.session_id.eval(&cx) {
        Ok(Some(v)) => text_owned(v),
        Ok(None) => None,
        Err(e) => return Err(format!("session_id: {e}")),
    }
    .ok_or_else(|| "no session_id; record skipped".to_string())?;
    let ts_ms = match f.timestamp.eval(&cx) {
        Ok(Some(v)) => timestamp_of(&v, f.timestamp.ty.is_some_and(is_time_type))
            .ok_or_else(|| format!("timestamp '{}' is not a time; record skipped", short(&v)))?,
        Ok(None) => return Err("no timestamp; record skipped".into()),
        Err(e) => return Err(format!("timestamp: {e}; record skipped")),
    };
    let mut tok = |v: &Option<CompiledValue>, what: &str| -> u64 {
        match opt(v, &cx, what, &mut warn) {
            None => 0,
            Some(val) => count(&val).unwrap_or_else(|| {
                warn.push(format!("{what}: '{}' is not a number", short(&val)));
                0
            }),
        }
    };
    let tokens = Tokens {
        input: tok(&f.input, "input"),
        output: tok(&f.output, "output"),
        cache_read: tok(&f.cache_read, "cache_read"),
        cache_write: tok(&f.cache_write, "cache_write"),
        cache_write_1h: tok(&f.cache_write_1h, "cache_write_1h"),
        reasoning: tok(&f.reasoning, "reasoning"),
    };
    let mut s = |v: &Option<CompiledValue>, what: &str| opt(v, &cx, what, &mut warn).and_then(text_owned);
    let provider = s(&f.provider, "provider");
    let model = s(&f.model, "model");
    let project = s(&f.project, "project");
    let session_name = s(&f.session_name, "session_name");
    let speed = s(&f.speed, "speed");
    let cost_reported = opt(&f.cost, &cx, "cost", &mut warn).and_then(|v| float(&v));
    let duration_ms = opt(&f.duration_ms, &cx, "duration_ms", &mut warn).and_then(|v| count(&v));
    let dedup_key = dedup_key(recs, &cx, x.path_str, at, index);
    for w in warn {
        x.warnings
            .push(format!("'{}' {}: {w}", x.path_str, describe(at, index)));
    }
    Ok(Some(UsageRecord {
        agent: x.agent.to_string(),
        dedup_key,
        session_id,
        ts_ms,
        provider,
        model,
        project,
        session_name,
        tokens,
        cost_reported,
        duration_ms,
        speed,
        source_path: x.path_str.to_string(),
    }))
}

/// A value cut short for a message.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Whether a `type:` conversion already gives Unix milliseconds.
fn is_time_type(t: ValueType) -> bool {
    matches!(
        t,
        ValueType::Rfc3339 | ValueType::EpochS | ValueType::EpochMs | ValueType::Timestamp | ValueType::Datetime
    )
}

/// Unix milliseconds of a timestamp value: a number converted by a time `type:` is taken
/// as it is; anything else is read as RFC 3339 text or epoch seconds or milliseconds.
fn timestamp_of(v: &Value, converted: bool) -> Option<i64> {
    if converted && let Some(ms) = v.as_i64() {
        return Some(ms);
    }
    match v {
        Value::String(s) => {
            parse_rfc3339_ms(s).or_else(|| s.trim().parse::<f64>().ok().and_then(|f| timestamp_ms(&Value::from(f))))
        }
        Value::Number(_) => timestamp_ms(v),
        _ => None,
    }
}

/// The dedup values joined, or a key from where the record sits when the definition has
/// no dedup or one of its values is missing.
fn dedup_key(recs: &CRecords, cx: &EvalCtx<'_>, path: &str, at: At<'_>, index: Option<usize>) -> String {
    if let Some(parts) = &recs.dedup {
        let mut key = String::new();
        let mut complete = !parts.is_empty();
        for (i, p) in parts.iter().enumerate() {
            match p.eval(cx).ok().flatten().and_then(text_owned) {
                Some(t) => {
                    if i > 0 {
                        key.push(KEY_SEP);
                    }
                    key.push_str(&t);
                }
                None => {
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            return key;
        }
    }
    let mut key = String::with_capacity(path.len() + 24);
    key.push_str(path);
    key.push(KEY_SEP);
    match at {
        At::Offset(o) => key.push_str(&format!("@{o}")),
        At::Cursor(c) => {
            key.push('#');
            key.push_str(c);
        }
        At::Doc => key.push_str("doc"),
    }
    if let Some(i) = index {
        key.push(KEY_SEP);
        key.push_str(&i.to_string());
    }
    key
}

/// Merges a duplicate into the kept record exactly as the store does.
pub fn merge(kept: &mut UsageRecord, new: UsageRecord, keep: KeepRule) {
    match keep {
        KeepRule::First => {}
        KeepRule::Last => *kept = new,
        KeepRule::Largest => {
            let ts = kept.ts_ms.min(new.ts_ms);
            if new.tokens.total() > kept.tokens.total() {
                let old = std::mem::replace(kept, new);
                fill(kept, old);
            } else {
                fill(kept, new);
            }
            kept.ts_ms = ts;
        }
    }
}

/// Fills the winner's missing descriptive fields from the other record.
fn fill(winner: &mut UsageRecord, other: UsageRecord) {
    winner.provider = winner.provider.take().or(other.provider);
    winner.model = winner.model.take().or(other.model);
    winner.project = winner.project.take().or(other.project);
    winner.session_name = winner.session_name.take().or(other.session_name);
    winner.speed = winner.speed.take().or(other.speed);
}

/// Collapses records with the same dedup key with the keep rule, keeping the order in
/// which keys were first seen.
pub fn dedup_in_memory(records: Vec<UsageRecord>, keep: KeepRule) -> Vec<UsageRecord> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(records.len());
    let mut out: Vec<UsageRecord> = Vec::with_capacity(records.len());
    for r in records {
        match index.entry(r.dedup_key.clone()) {
            Entry::Occupied(e) => merge(&mut out[*e.get()], r, keep),
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(r);
            }
        }
    }
    out
}

/// Runs the extraction of one source over fixture files in memory (no store, no
/// permission checks) and applies dedup as the store would. A directory is walked with the
/// source's globs. Used by the definitions' offline `tests:` and `validate-def --sample`.
pub fn extract_files(
    agent: &Agent,
    source: usize,
    files: &[PathBuf],
) -> Result<(Vec<UsageRecord>, Vec<String>), String> {
    let src = agent
        .sources
        .get(source)
        .ok_or_else(|| format!("agent '{}' has no source {source}", agent.id))?;
    let mut warnings = Warnings::with_cap(100);
    let mut all = Vec::new();
    for f in files {
        for path in fixture_files(f, src, &mut warnings)? {
            let path_str = path.to_string_lossy().into_owned();
            let fp = Fingerprint::of(&path, src.format).map_err(|e| format!("cannot read '{path_str}': {e}"))?;
            let got = match src.format {
                Format::Jsonl => read::read_jsonl(&agent.id, src, &path, &path_str, &fp, None),
                Format::Json => read::read_json(&agent.id, src, &path, &path_str, &fp),
                Format::Sqlite => read::read_sqlite(&agent.id, src, &path, &path_str, &fp, None),
            }?;
            warnings.absorb(&got.warnings);
            all.extend(got.records);
        }
    }
    Ok((dedup_in_memory(all, keep_rule(src.records.keep)), warnings.into_lines()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::def::{CompileEnv, Definition, load_str};

    fn agent(records: &str) -> Arc<Agent> {
        let yaml = format!(
            "apiVersion: tokentop/v1\nkind: Agent\nid: agent-a\nmeta: {{ name: A }}\npermissions: {{ files: ['/tmp'] }}\n\
             sources:\n  - roots: ['/tmp']\n    include: ['*.jsonl']\n    format: jsonl\n\
             records:\n{records}"
        );
        let loaded = load_str(
            &yaml,
            Path::new("t.yaml"),
            &CompileEnv {
                home: PathBuf::from("/home/u"),
            },
        );
        match loaded.def {
            Some(Definition::Agent(a)) => a,
            _ => panic!("definition did not compile: {:?}", loaded.diags),
        }
    }

    fn run(a: &Agent, lines: &[&str]) -> (Vec<UsageRecord>, Warnings) {
        let recs = &a.sources[0].records;
        let mut x = Extractor::new(
            "agent-a",
            recs,
            Path::new("/d/p/s1.jsonl"),
            "/d/p/s1.jsonl",
            Carried::default(),
        );
        let mut off = 0u64;
        for l in lines {
            x.line(l.as_bytes(), off);
            off += l.len() as u64 + 1;
        }
        (x.records, x.warnings)
    }

    #[test]
    fn fields_types_and_file_root() {
        let a = agent(
            "  prefilter: '\"usage\"'\n  where: type == 'a' and file.parent == 'p'\n  fields:\n    session_id: { from: file_stem }\n    timestamp: $.ts\n\
             \x20   model: $.m\n    input: $.usage.in\n    output: $.usage.out\n    cost: $.cost\n    duration_ms: $.d\n    project: { expr: 'file.dir' }\n",
        );
        let (recs, w) = run(
            &a,
            &[
                r#"{"type":"a","ts":"2026-01-01T00:00:00Z","m":"m1","usage":{"in":10.6,"out":-3},"cost":"0.5","d":12}"#,
                r#"{"type":"b","ts":"2026-01-01T00:00:00Z","usage":{"in":1}}"#,
                r#"{"type":"a","ts":1767225600,"usage":{"in":"7"}}"#,
                r#"{"type":"a","usage":{"in":1}}"#,
                r#"{"type":"a","ts":"x","usage":{"in":1}}"#,
                r#"{"type":"a","no":"prefilter"}"#,
                r#"{"usage" garbage"#,
            ],
        );
        assert_eq!(recs.len(), 2, "{recs:?}");
        let r = &recs[0];
        assert_eq!(
            (r.session_id.as_str(), r.ts_ms, r.model.as_deref()),
            ("s1", 1_767_225_600_000, Some("m1"))
        );
        assert_eq!(
            (r.tokens.input, r.tokens.output, r.cost_reported, r.duration_ms),
            (11, 0, Some(0.5), Some(12))
        );
        assert_eq!(r.project.as_deref(), Some("/d/p"));
        assert_eq!(r.dedup_key, "/d/p/s1.jsonl\u{1f}@0");
        assert_eq!((recs[1].tokens.input, recs[1].ts_ms), (7, 1_767_225_600_000));
        assert_eq!(w.count, 3, "{w:?}");
        assert!(w.messages[0].contains("no timestamp"), "{w:?}");
        assert!(w.messages[2].contains("not JSON"), "{w:?}");
    }

    #[test]
    fn state_and_cumulative_counters() {
        let a = agent(
            "  state:\n    - prefilter: turn\n      when: kind == 'turn'\n      set: { model: $.model }\n\
             \x20 where: kind == 'count'\n  counters: cumulative\n  fields:\n    session_id: { const: s }\n    timestamp: $.ts\n\
             \x20   model: { expr: state.model }\n    input: $.total.in\n    output: $.total.out\n",
        );
        let (recs, _) = run(
            &a,
            &[
                r#"{"kind":"turn","model":"m1"}"#,
                r#"{"kind":"count","ts":1,"total":{"in":10,"out":1}}"#,
                r#"{"kind":"count","ts":2,"total":{"in":10,"out":1}}"#,
                r#"{"kind":"turn","model":"m2"}"#,
                r#"{"kind":"count","ts":3,"total":{"in":25,"out":4}}"#,
                r#"{"kind":"count","ts":4,"total":{"in":5,"out":0}}"#,
            ],
        );
        let got: Vec<_> = recs
            .iter()
            .map(|r| (r.model.clone().unwrap(), r.tokens.input, r.tokens.output))
            .collect();
        assert_eq!(
            got,
            vec![("m1".into(), 10, 1), ("m2".into(), 15, 3), ("m2".into(), 5, 0)]
        );
    }

    #[test]
    fn each_dedup_and_merge() {
        let a = agent(
            "  each: $.msgs[*]\n  dedup: { key: [$.id], keep: largest }\n  fields:\n    session_id: { expr: doc.sid }\n    timestamp: $.ts\n    output: $.out\n    model: $.m\n",
        );
        let (recs, _) = run(
            &a,
            &[
                r#"{"sid":"s","msgs":[{"id":"a","ts":5,"out":1},{"ts":6,"out":2}]}"#,
                r#"{"sid":"s","msgs":[{"id":"a","ts":9,"out":7,"m":"m1"}]}"#,
            ],
        );
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].dedup_key, "/d/p/s1.jsonl\u{1f}@0\u{1f}1");
        let merged = dedup_in_memory(recs, KeepRule::Largest);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].ts_ms, merged[0].tokens.output, merged[0].model.as_deref()),
            (5000, 7, Some("m1"))
        );
    }

    #[test]
    fn the_path_trie_gives_the_same_records_as_whole_lines() {
        let a = agent(
            "  state:\n    - when: kind == 'ctx'\n      set: { m: $.payload.model, n: { expr: 'payload.n + 1' } }\n\
             \x20 prefilter: '\"usage\"'\n  where: type == 'r' and msg.usage is defined and (doc.flag or msg.usage.in > 1)\n\
             \x20 dedup: { key: [$.msg.id, { expr: 'req or none' }], keep: largest }\n\
             \x20 fields:\n    session_id: { expr: 'sid or state.m' }\n    timestamp: { path: $.ts, type: timestamp }\n\
             \x20   model: { expr: 'msg.model or state.m' }\n    input: $.msg.usage.in\n    output: { expr: 'msg.usage.out + (msg.usage.extra or 0)' }\n\
             \x20   cache_read: $.msg.usage.c[0]\n    project: { expr: 'cwd.0' }\n    speed: $['odd key'].x\n",
        );
        assert!(Trie::for_records(&a.sources[0].records).is_some());
        let lines = [
            r#"{"kind":"ctx","payload":{"model":"pm","n":4,"text":"\"usage\""}}"#,
            r#"{"type":"r","ts":1767225600,"sid":"s","req":"q","flag":true,"cwd":["/a","/b"],"odd key":{"x":"fast"},"msg":{"id":"1","model":"m","content":[{"t":"usage \u00e9 \"usage\""}],"usage":{"in":1,"out":2,"c":[7,8]}}}"#,
            r#"{"type":"r","ts":"2026-01-01T00:00:00Z","msg":{"id":"1","usage":{"in":5,"out":9,"extra":1}}}"#,
            r#"{"type":"r","ts":5,"msg":{"usage":{"in":0}},"flag":false}"#,
            r#"{"type":"r","ts":5,"msg":[1,2],"usage":1}"#,
            r#"{"type":"r","ts":5,"msg":{"usage":"x","id":2},"flag":1}"#,
            r#"{"usage": [1, 2}"#,
        ];
        let recs = &a.sources[0].records;
        let mut lazy = Extractor::new(
            "agent-a",
            recs,
            Path::new("/d/s.jsonl"),
            "/d/s.jsonl",
            Carried::default(),
        );
        let mut whole = Extractor::new(
            "agent-a",
            recs,
            Path::new("/d/s.jsonl"),
            "/d/s.jsonl",
            Carried::default(),
        )
        .whole_lines();
        let mut off = 0;
        for l in lines {
            lazy.line(l.as_bytes(), off);
            whole.line(l.as_bytes(), off);
            off += l.len() as u64 + 1;
        }
        assert_eq!(lazy.records.len(), 3, "{:?}", lazy.records);
        assert_eq!(lazy.records, whole.records);
        assert_eq!(lazy.warnings.count, whole.warnings.count);
        assert_eq!(lazy.carried(), whole.carried());
        let r = &lazy.records[0];
        assert_eq!(
            (r.project.as_deref(), r.speed.as_deref(), r.tokens.cache_read),
            (Some("/a"), Some("fast"), 7)
        );
    }

    #[test]
    fn carried_state_round_trips() {
        let mut c = Carried::default();
        assert_eq!(c.to_stored(), None);
        c.vars.insert("model".into(), json!("m"));
        c.prev = Some(Tokens {
            input: 3,
            ..Tokens::default()
        });
        let s = c.to_stored().unwrap();
        assert_eq!(Carried::from_stored(Some(&s)), c);
        assert_eq!(Carried::from_stored(Some("nonsense")), Carried::default());
    }

    #[test]
    fn counts_and_text() {
        assert_eq!(count(&json!(-4)), Some(0));
        assert_eq!(count(&json!(2.5)), Some(3));
        assert_eq!(count(&json!("12")), Some(12));
        assert_eq!(count(&json!({})), None);
        assert_eq!(text(&json!("")), None);
        assert_eq!(text(&json!(5)), Some("5".into()));
    }
}
