//! Readers for the three source formats, and file fingerprints.
//!
//! - `jsonl`: streamed through a 1 MiB buffer from the stored byte offset. Only complete
//!   lines are read: a last line without its `\n` is held back and the offset stops
//!   before it. When every rule of the source has a prefilter, the prefilters run over
//!   whole buffers and only the lines they find are cut out and parsed. Resuming is safe: the stored `head_hash` covers the first KiB of
//!   the file and the KiB before the offset; when the file shrank or either changed (it
//!   was rewritten or replaced), the file is read again from the start and dedup keeps the
//!   counts right.
//! - `json`: the whole document is read again whenever the file changed.
//! - `sqlite`: opened read-only; the query runs with `:cursor` bound to the stored cursor
//!   and the new cursor is the largest value of the cursor column seen. The database's
//!   fingerprint includes its `-wal` file, where a WAL-mode writer puts new rows.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use memchr::memmem::Finder;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

use super::Warnings;
use super::discover::companions;
use super::extract::{At, Carried, Extractor};
use crate::def::compile::CSource;
use crate::def::model::Format;
use crate::store::FileState;

/// The buffer of the JSONL reader.
const READ_BUFFER: usize = 1 << 20;
/// How many bytes of the start of a file, and before the offset, the head hash covers.
const HASH_SPAN: u64 = 1024;
/// A line buffer that grew past this is dropped after the line, so one huge line does
/// not keep its memory for the rest of the file.
const LINE_BUFFER_KEEP: usize = 8 << 20;
thread_local! {
    /// The JSONL read buffer of this thread, reused across files.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How long a SQLite read waits for a writer's lock.
const SQLITE_BUSY: Duration = Duration::from_secs(2);

/// What identifies one version of a file: when it is unchanged, it is not read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

fn meta_fingerprint(m: &std::fs::Metadata) -> Fingerprint {
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(m);
    #[cfg(not(unix))]
    let inode = 0;
    Fingerprint {
        size: m.len(),
        mtime_ns,
        inode,
    }
}

impl Fingerprint {
    /// One `stat` (two for SQLite: the database and its write-ahead log).
    pub fn of(path: &Path, format: Format) -> std::io::Result<Fingerprint> {
        let mut fp = meta_fingerprint(&std::fs::metadata(path)?);
        for extra in companions(path, format).iter().skip(1) {
            // An empty write-ahead log holds no rows; readers (ours included) may create
            // one on open, which must not make an unchanged database look changed.
            if let Ok(m) = std::fs::metadata(extra)
                && m.len() > 0
            {
                let e = meta_fingerprint(&m);
                fp.size = fp.size.wrapping_add(e.size);
                fp.mtime_ns = fp.mtime_ns.max(e.mtime_ns);
            }
        }
        Ok(fp)
    }

    /// Whether a stored state was taken from this very version of the file.
    pub fn matches(&self, s: &FileState) -> bool {
        s.size == self.size && s.mtime_ns == self.mtime_ns && s.inode == self.inode
    }
}

/// What reading one file gave: its records and the state to commit with them.
#[derive(Debug)]
pub struct FileRead {
    pub records: Vec<crate::engine::record::UsageRecord>,
    pub warnings: Warnings,
    pub state: FileState,
    pub bytes_read: u64,
    /// The file was read again from the start although a position was stored.
    pub restarted: bool,
}

/// 64-bit FNV-1a: small, stable across builds and platforms (the hash is stored).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The hash of the first KiB of a file and of the KiB before `offset`.
fn head_hash(f: &mut File, offset: u64) -> std::io::Result<u64> {
    let mut h = Fnv::new();
    let mut buf = vec![0u8; HASH_SPAN as usize];
    let first = offset.min(HASH_SPAN);
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut buf[..first as usize])?;
    h.write(&buf[..first as usize]);
    let before = offset.min(HASH_SPAN);
    f.seek(SeekFrom::Start(offset - before))?;
    f.read_exact(&mut buf[..before as usize])?;
    h.write(&buf[..before as usize]);
    h.write(&offset.to_le_bytes());
    Ok(h.0)
}

fn io_err(path: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("cannot read '{path}': {e}")
}

/// Reads a JSONL file from its stored position (or from the start).
pub fn read_jsonl(
    agent: &str,
    src: &CSource,
    path: &Path,
    path_str: &str,
    fp: &Fingerprint,
    prior: Option<&FileState>,
) -> Result<FileRead, String> {
    let err = io_err(path_str);
    let mut f = File::open(path).map_err(&err)?;
    // Read no further than the size seen at stat time: bytes appended meanwhile change the
    // fingerprint and are read next time.
    let size = f.metadata().map_err(&err)?.len().min(fp.size);
    let mut restarted = false;
    let (start, carried) = match prior {
        Some(p) if p.offset > 0 && p.offset <= size && head_hash(&mut f, p.offset).map_err(&err)? == p.head_hash => {
            (p.offset, Carried::from_stored(p.state.as_deref()))
        }
        Some(p) if p.offset > 0 => {
            restarted = true;
            (0, Carried::default())
        }
        _ => (0, Carried::default()),
    };
    let recs = &src.records;
    let mut x = Extractor::new(agent, recs, path, path_str, carried);
    f.seek(SeekFrom::Start(start)).map_err(&err)?;
    let cap = usize::try_from(size - start)
        .unwrap_or(usize::MAX)
        .clamp(8 << 10, READ_BUFFER);
    let mut reader = f.take(size - start);
    let finders = x.finders();
    // Each thread keeps its buffer from file to file (zeroing a fresh one per file costs
    // as much as a tenth of the parsing).
    let mut buf = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    if buf.len() < cap {
        buf.resize(cap, 0);
    }
    // buf[..end] holds bytes read and not yet consumed; they start at file offset `pos`.
    let mut end = 0usize;
    let mut pos = start;
    loop {
        if end == buf.len() {
            // A line longer than the buffer: make room for the rest of it.
            buf.resize(buf.len() * 2, 0);
        }
        let n = reader.read(&mut buf[end..]).map_err(&err)?;
        if n == 0 {
            // Whatever is left has no newline: a line still being written, held back.
            break;
        }
        end += n;
        // Only complete lines are looked at; the rest waits for more bytes.
        let Some(last_nl) = memchr::memrchr(b'\n', &buf[..end]) else {
            continue;
        };
        let complete = last_nl + 1;
        match &finders {
            Some(f) => scan_found(&mut x, f, &buf[..complete], pos),
            None => {
                let mut at = 0;
                for nl in memchr::memchr_iter(b'\n', &buf[..complete]) {
                    x.line(&buf[at..nl], pos + at as u64);
                    at = nl + 1;
                }
            }
        }
        pos += complete as u64;
        buf.copy_within(complete..end, 0);
        end -= complete;
        if buf.len() > LINE_BUFFER_KEEP && end < READ_BUFFER {
            buf.truncate(READ_BUFFER.max(cap));
            buf.shrink_to_fit();
        }
    }
    if buf.len() <= LINE_BUFFER_KEEP {
        READ_BUF.with(|b| *b.borrow_mut() = buf);
    }
    let mut f = reader.into_inner();
    let hash = head_hash(&mut f, pos).map_err(&err)?;
    let carried = x.carried();
    Ok(FileRead {
        bytes_read: pos - start,
        state: FileState {
            path: path_str.to_string(),
            size: fp.size,
            mtime_ns: fp.mtime_ns,
            inode: fp.inode,
            offset: pos,
            head_hash: hash,
            state: carried.to_stored(),
            cursor: None,
        },
        records: x.records,
        warnings: x.warnings,
        restarted,
    })
}

/// Hands the extractor only the lines of `chunk` (complete lines starting at file offset
/// `base`) that one of the prefilters finds, each with which ones found it. The
/// prefilters run over the whole chunk, which is much faster than splitting it into lines
/// first when most lines are of no interest.
fn scan_found(x: &mut Extractor<'_>, finders: &[Finder<'_>], chunk: &[u8], base: u64) {
    // The next match of each prefilter at or after `at` (`usize::MAX`: none left).
    let find = |f: &Finder<'_>, from: usize| f.find(&chunk[from..]).map_or(usize::MAX, |i| from + i);
    let mut next: Vec<usize> = finders.iter().map(|f| find(f, 0)).collect();
    let mut found = vec![false; finders.len()];
    loop {
        let hit = next.iter().copied().min().unwrap_or(usize::MAX);
        if hit == usize::MAX {
            return;
        }
        let start = memchr::memrchr(b'\n', &chunk[..hit]).map_or(0, |i| i + 1);
        let stop = memchr::memchr(b'\n', &chunk[hit..]).map_or(chunk.len(), |i| hit + i);
        for (k, f) in finders.iter().enumerate() {
            found[k] = next[k] < stop;
            if next[k] <= stop {
                next[k] = if stop + 1 < chunk.len() {
                    find(f, stop + 1)
                } else {
                    usize::MAX
                };
            }
        }
        x.line_found(&chunk[start..stop], base + start as u64, &found);
    }
}

/// Reads a whole JSON document.
pub fn read_json(
    agent: &str,
    src: &CSource,
    path: &Path,
    path_str: &str,
    fp: &Fingerprint,
) -> Result<FileRead, String> {
    let bytes = std::fs::read(path).map_err(io_err(path_str))?;
    // A document that does not parse may be half-written: nothing is committed, so it is
    // read again next time.
    let doc: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("'{path_str}' is not a JSON document ({e})"))?;
    let mut x = Extractor::new(agent, &src.records, path, path_str, Carried::default());
    x.unit(&doc, At::Doc);
    Ok(FileRead {
        bytes_read: bytes.len() as u64,
        state: FileState {
            path: path_str.to_string(),
            size: fp.size,
            mtime_ns: fp.mtime_ns,
            inode: fp.inode,
            offset: bytes.len() as u64,
            head_hash: 0,
            state: None,
            cursor: None,
        },
        records: x.records,
        warnings: x.warnings,
        restarted: false,
    })
}

/// A SQLite value as JSON (blobs become null).
fn sql_json(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null | ValueRef::Blob(_) => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
    }
}

/// SQLite's order between cursor values: numbers before text.
fn cursor_after(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap_or(0.0) > y.as_f64().unwrap_or(0.0),
        (Value::String(x), Value::String(y)) => x > y,
        (Value::String(_), Value::Number(_)) => true,
        (_, Value::Null) => !a.is_null(),
        _ => false,
    }
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => S::Integer(i),
            None => S::Real(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => S::Text(s.clone()),
        _ => S::Integer(0),
    }
}

/// Reads the new rows of a SQLite database (read-only) from the stored cursor.
pub fn read_sqlite(
    agent: &str,
    src: &CSource,
    path: &Path,
    path_str: &str,
    fp: &Fingerprint,
    prior: Option<&FileState>,
) -> Result<FileRead, String> {
    let db_err = |e: rusqlite::Error| format!("'{path_str}': {e}");
    let query = src
        .query
        .as_deref()
        .ok_or_else(|| format!("source '{}' has no query", src.name))?;
    let cursor_col = src
        .cursor
        .as_deref()
        .ok_or_else(|| format!("source '{}' has no cursor", src.name))?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(db_err)?;
    conn.busy_timeout(SQLITE_BUSY).map_err(db_err)?;
    let mut stmt = conn.prepare(query).map_err(db_err)?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let cursor_idx = names
        .iter()
        .position(|n| n == cursor_col)
        .ok_or_else(|| format!("'{path_str}': the query has no column '{cursor_col}' (the cursor)"))?;
    let json_cols: Vec<bool> = names.iter().map(|n| src.json_columns.iter().any(|j| j == n)).collect();
    // The stored cursor; 0 at first, which SQLite orders before every text and positive number.
    let start: Value = prior
        .and_then(|p| p.cursor.as_deref())
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::from(0));
    if let Some(i) = stmt.parameter_index(":cursor").map_err(db_err)? {
        stmt.raw_bind_parameter(i, to_sql(&start)).map_err(db_err)?;
    }
    let carried = Carried::from_stored(prior.and_then(|p| p.state.as_deref()));
    let mut x = Extractor::new(agent, &src.records, path, path_str, carried);
    let mut max_cursor = start;
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(db_err)? {
        let mut obj = Map::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let raw = row.get_ref(i).map_err(db_err)?;
            let v = match (json_cols[i], raw) {
                (true, ValueRef::Text(t)) => match serde_json::from_slice::<Value>(t) {
                    Ok(v) => v,
                    Err(e) => {
                        x.warnings
                            .push(format!("'{path_str}': column '{name}' is not JSON ({e})"));
                        sql_json(raw)
                    }
                },
                _ => sql_json(raw),
            };
            obj.insert(name.clone(), v);
        }
        let row_val = Value::Object(obj);
        let cur = row_val.get(&names[cursor_idx]).cloned().unwrap_or(Value::Null);
        let cur_text = match &cur {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        x.unit(&row_val, At::Cursor(&cur_text));
        if cursor_after(&cur, &max_cursor) {
            max_cursor = cur;
        }
    }
    drop(rows);
    let carried = x.carried();
    Ok(FileRead {
        bytes_read: 0,
        state: FileState {
            path: path_str.to_string(),
            size: fp.size,
            mtime_ns: fp.mtime_ns,
            inode: fp.inode,
            offset: 0,
            head_hash: 0,
            state: carried.to_stored(),
            cursor: Some(max_cursor.to_string()),
        },
        records: x.records,
        warnings: x.warnings,
        restarted: false,
    })
}

/// Reads one file of a source in its format.
pub fn read_file(
    agent: &str,
    src: &CSource,
    path: &Path,
    path_str: &str,
    fp: &Fingerprint,
    prior: Option<&FileState>,
) -> Result<FileRead, String> {
    match src.format {
        Format::Jsonl => read_jsonl(agent, src, path, path_str, fp, prior),
        Format::Json => read_json(agent, src, path, path_str, fp),
        Format::Sqlite => read_sqlite(agent, src, path, path_str, fp, prior),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn head_hash_sees_rewrites_before_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(&p, "x".repeat(3000)).unwrap();
        let mut f = File::open(&p).unwrap();
        let h = head_hash(&mut f, 2500).unwrap();
        assert_eq!(h, head_hash(&mut f, 2500).unwrap());
        assert_ne!(h, head_hash(&mut f, 2400).unwrap());
        let mut w = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        w.seek(SeekFrom::Start(2000)).unwrap();
        w.write_all(b"y").unwrap();
        drop(w);
        let mut f = File::open(&p).unwrap();
        assert_ne!(h, head_hash(&mut f, 2500).unwrap());
        assert_eq!(head_hash(&mut f, 0).unwrap(), head_hash(&mut f, 0).unwrap());
    }

    #[test]
    fn scanning_with_prefilters_finds_what_reading_every_line_finds() {
        use crate::def::{CompileEnv, Definition, load_str};
        let yaml = "apiVersion: tokentop/v1\nkind: Agent\nid: agent-a\nmeta: { name: A }\npermissions: { files: ['/tmp'] }\n\
             sources:\n  - roots: ['/tmp']\n    include: ['*.jsonl']\n    format: jsonl\nrecords:\n\
             \x20 prefilter: '\"count\"'\n  state:\n    - prefilter: '\"turn\"'\n      when: kind == 'turn'\n      set: { model: $.model }\n\
             \x20 where: kind == 'count'\n  fields:\n    session_id: { const: s }\n    timestamp: $.ts\n\
             \x20   model: { expr: state.model }\n    input: $.n\n";
        let loaded = load_str(yaml, Path::new("t.yaml"), &CompileEnv { home: "/h".into() });
        let Some(Definition::Agent(agent)) = loaded.def else {
            panic!("{:?}", loaded.diags)
        };
        let src = &agent.sources[0];
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        let mut text = String::new();
        let filler = "x".repeat(700);
        for i in 0..3000u64 {
            match i % 7 {
                0 => text.push_str(&format!(
                    "{{\"kind\":\"turn\",\"model\":\"m{i}\",\"pad\":\"{filler}\"}}\n"
                )),
                // A line with both needles, and one whose needle sits in a long value.
                1 => text.push_str(&format!(
                    "{{\"kind\":\"count\",\"ts\":{i},\"n\":{i},\"note\":\"turn\"}}\n"
                )),
                2 => text.push_str(&format!(
                    "{{\"kind\":\"count\",\"ts\":{i},\"n\":1,\"pad\":\"{}\"}}\n",
                    "y".repeat(9000)
                )),
                3 => text.push_str("\n  \r\n{\"count\" broken\n"),
                4 => text.push_str(&format!("{{\"kind\":\"other\",\"pad\":\"{filler}\"}}\n")),
                _ => text.push_str(&format!("  {{\"kind\":\"count\",\"ts\":{i},\"n\":2}}\r\n")),
            }
        }
        // One line longer than any buffer, and a last line still being written.
        text.push_str(&format!(
            "{{\"kind\":\"count\",\"ts\":1,\"n\":5,\"pad\":\"{}\"}}\n",
            "z".repeat(3 << 20)
        ));
        text.push_str("{\"kind\":\"count\",\"ts\":9,\"n\":9");
        std::fs::write(&p, &text).unwrap();
        let fp = Fingerprint::of(&p, Format::Jsonl).unwrap();
        let got = read_jsonl("agent-a", src, &p, "a.jsonl", &fp, None).unwrap();
        let mut x = Extractor::new("agent-a", &src.records, &p, "a.jsonl", Carried::default());
        let complete = text.rfind('\n').unwrap() + 1;
        let mut off = 0u64;
        for l in text[..complete].split_inclusive('\n') {
            x.line(&l.as_bytes()[..l.len() - 1], off);
            off += l.len() as u64;
        }
        assert!(got.records.len() > 1500, "{}", got.records.len());
        assert_eq!(got.records, x.records);
        assert_eq!(got.warnings, x.warnings);
        assert_eq!(got.state.offset, complete as u64);
        assert_eq!(got.state.state, x.carried().to_stored());
    }

    #[test]
    fn cursor_order_follows_sqlite() {
        assert!(cursor_after(&Value::from(5), &Value::from(3)));
        assert!(cursor_after(&Value::from("a"), &Value::from(99)));
        assert!(!cursor_after(&Value::from(1), &Value::from("a")));
        assert!(cursor_after(&Value::from("b"), &Value::from("a")));
    }
}
