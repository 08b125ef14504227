//! `ttop bench`: a deterministic corpus generator and the ingest benchmark run over it.
//!
//! **Demo data.** The generator writes session files in the on-disk shapes and layouts of
//! the coding agents ttop ships definitions for (Claude Code, Codex, OpenCode, Gemini
//! CLI), so agent names and their file formats appear here, and only here, as the data
//! shapes of a synthetic corpus, like the demo data. Nothing in this module reads agent
//! data: the benchmark ingests the corpus through the built-in definitions from the
//! registry, exactly as `ttop report` does, and checks the result against the totals the
//! generator computed while writing (which encode each agent's documented semantics:
//! streamed duplicates, running totals, cached input inside input, and so on).
//!
//! What it measures, against a private store in a temporary directory:
//!
//! - the read floor: reading every corpus byte in-process (the page cache is warm);
//! - cold ingest (MB/s) and cold ingest plus a daily report;
//! - a warm re-run with nothing changed (store open, registry load, ingest, report);
//! - `report daily` and `report session` latency (medians);
//! - peak RSS of the measured part (`VmHWM`, reset after generation where Linux allows).
//!
//! Totals must match the generator's exactly, per agent and per UTC day; any difference
//! fails the run.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

use crate::def::registry::Registry;
use crate::def::{Agent, CompileEnv};
use crate::engine::agent::ingest;
use crate::engine::ctx::Ctx;
use crate::store::{Group, Report, ReportQuery, Store};

/// The agent ids the generator can write data for, with their share of the corpus bytes.
pub const AGENTS: &[(&str, u64)] = &[("claude-code", 60), ("codex", 25), ("gemini-cli", 8), ("opencode", 7)];

/// The first day of the generated data (UTC); sessions spread over [`DAYS`] days.
const BASE_MS: i64 = 1_790_812_800_000; // 2026-10-01T00:00:00Z
const DAYS: i64 = 28;
const DAY_MS: i64 = 86_400_000;

/// `ttop bench` flags.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Corpus size in MB (10^6 bytes), split across the agents.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub size_mb: u64,
    /// Agents to generate data for (comma-separated built-in ids).
    #[arg(long, value_delimiter = ',', default_value = "claude-code,codex,opencode,gemini-cli")]
    pub agents: Vec<String>,
    /// Where to write the corpus and the store (default: a new temporary directory).
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Keep the corpus and the store afterwards (a generated temporary directory is
    /// removed otherwise).
    #[arg(long)]
    pub keep: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

// ------------------------------------------------------------------------------------------
// Expected totals
// ------------------------------------------------------------------------------------------

/// Token sums and a request count, as the reports give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

impl Totals {
    fn add(&mut self, t: &Totals) {
        self.requests += t.requests;
        self.input += t.input;
        self.output += t.output;
        self.cache_read += t.cache_read;
        self.cache_write += t.cache_write;
        self.cache_write_1h += t.cache_write_1h;
        self.reasoning += t.reasoning;
    }

    /// `input + output + cache_read + cache_write`, as `total_tokens` in reports.
    pub fn total_tokens(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }

    fn of_row(r: &crate::store::ReportRow) -> Totals {
        Totals {
            requests: r.requests,
            input: r.input,
            output: r.output,
            cache_read: r.cache_read,
            cache_write: r.cache_write,
            cache_write_1h: r.cache_write_1h,
            reasoning: r.reasoning,
        }
    }
}

/// What a correct ingest of the corpus must report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Per agent id.
    pub agents: BTreeMap<String, Totals>,
    /// Per UTC day (`YYYY-MM-DD`), all agents.
    pub days: BTreeMap<String, Totals>,
}

impl Expected {
    fn record(&mut self, agent: &str, ts_ms: i64, t: Totals) {
        self.agents.entry(agent.to_string()).or_default().add(&t);
        self.days.entry(day_of(ts_ms)).or_default().add(&t);
    }

    /// Everything together.
    pub fn total(&self) -> Totals {
        let mut all = Totals::default();
        for t in self.agents.values() {
            all.add(t);
        }
        all
    }

    /// Compares reports by agent and by UTC day with these totals; the differences, one
    /// line each.
    pub fn check(&self, by_agent: &Report, by_day: &Report) -> Vec<String> {
        let mut diffs = Vec::new();
        compare(
            "agent",
            &self.agents,
            by_agent
                .rows
                .iter()
                .map(|r| (r.key.clone(), Totals::of_row(r)))
                .collect(),
            &mut diffs,
        );
        compare(
            "day",
            &self.days,
            by_day.rows.iter().map(|r| (r.key.clone(), Totals::of_row(r))).collect(),
            &mut diffs,
        );
        diffs
    }
}

fn compare(what: &str, want: &BTreeMap<String, Totals>, got: BTreeMap<String, Totals>, diffs: &mut Vec<String>) {
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for k in keys {
        let w = want.get(k).copied().unwrap_or_default();
        let g = got.get(k).copied().unwrap_or_default();
        if w != g {
            diffs.push(format!("{what} '{k}': expected {w:?}, got {g:?}"));
        }
    }
}

/// `YYYY-MM-DD` of a UTC instant.
fn day_of(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms)
        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

/// RFC 3339 text with `digits` fractional digits (3 or 6), UTC.
fn rfc3339(ts_ms: i64, digits: u8) -> String {
    let t = jiff::Timestamp::from_millisecond(ts_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = t.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let ms = ts_ms.rem_euclid(1000);
    let frac = if digits == 6 {
        format!("{ms:03}417")
    } else {
        format!("{ms:03}")
    };
    format!(
        "{}T{:02}:{:02}:{:02}.{frac}Z",
        z.date(),
        z.hour(),
        z.minute(),
        z.second()
    )
}

// ------------------------------------------------------------------------------------------
// Randomness and text
// ------------------------------------------------------------------------------------------

/// SplitMix64: small, fast and the same everywhere, so a seed gives the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(n);
        s
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }

    /// Base-62 text, as in message and request ids.
    fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| A[(self.next() % 62) as usize] as char).collect()
    }
}

/// JSON string literals (quotes included) of prose and code, 0.3 to 6 KB each, with
/// escapes, non-ASCII text and the word "usage" as a decoy for prefilters.
struct Pool {
    texts: Vec<String>,
}

impl Pool {
    fn new(rng: &mut Rng) -> Pool {
        const WORDS: &[&str] = &[
            "the",
            "handler",
            "returns",
            "a",
            "stream",
            "of",
            "records",
            "and",
            "usage",
            "tokens",
            "cache",
            "function",
            "naïve",
            "Grüße",
            "日本語のテキスト",
            "café",
            "🚀",
            "résumé",
            "straße",
            "Ωmega",
            "path",
            "config",
            "error",
            "retry",
            "budget",
            "request",
            "response",
            "index",
            "query",
            "schema",
        ];
        const CODE: &[&str] = &[
            "\n```rust\nfn main() {\n\tprintln!(\"{}\", usage.total());\n}\n```\n",
            "\nconst body = {\"usage\": {\"input_tokens\": 12, \"output_tokens\": 3}};\n",
            "\n    C:\\Users\\dev\\project\\src\\main.rs:42:7\n",
            "\n\"usage\": see the \"usage\" field in the \\\"response\\\"\n",
            "\n$ cargo test -- --nocapture\n\trunning 12 tests\n",
            "\n<div class=\"usage\">Ünïcödé — “quoted” ‘text’ …</div>\n",
        ];
        let mut texts = Vec::with_capacity(64);
        for i in 0..64u64 {
            let target = 300 + (i * 97 % 23) as usize * 250 + rng.range(0, 200) as usize;
            let mut raw = String::with_capacity(target + 200);
            while raw.len() < target {
                if rng.chance(12) {
                    raw.push_str(CODE[(rng.next() % CODE.len() as u64) as usize]);
                } else {
                    raw.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
                    raw.push(if rng.chance(8) { '\n' } else { ' ' });
                }
            }
            texts.push(Value::String(raw).to_string());
        }
        Pool { texts }
    }

    /// One text literal.
    fn pick(&self, rng: &mut Rng) -> &str {
        &self.texts[(rng.next() % self.texts.len() as u64) as usize]
    }

    /// A literal of about `min` bytes or more: several texts joined.
    fn long(&self, rng: &mut Rng, min: usize) -> String {
        let mut raw = String::new();
        while raw.len() < min {
            let lit = self.pick(rng);
            let s: String = serde_json::from_str(lit).unwrap_or_default();
            raw.push_str(&s);
        }
        Value::String(raw).to_string()
    }
}

// ------------------------------------------------------------------------------------------
// Writing files
// ------------------------------------------------------------------------------------------

/// Counts what the generator wrote, per agent.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Written {
    pub bytes: u64,
    pub files: u64,
}

/// A corpus on disk: its home directory, sizes and expected totals.
#[derive(Debug, Clone, Serialize)]
pub struct Corpus {
    pub home: PathBuf,
    pub agents: BTreeMap<String, Written>,
    pub expected: Expected,
}

impl Corpus {
    pub fn bytes(&self) -> u64 {
        self.agents.values().map(|w| w.bytes).sum()
    }
    pub fn files(&self) -> u64 {
        self.agents.values().map(|w| w.files).sum()
    }
}

fn err_at(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("cannot write '{}': {e}", path.display())
}

/// A JSONL file being written.
struct Out {
    path: PathBuf,
    w: BufWriter<std::fs::File>,
    bytes: u64,
}

impl Out {
    fn create(path: PathBuf) -> Result<Out, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err_at(dir))?;
        }
        let f = std::fs::File::create(&path).map_err(err_at(&path))?;
        Ok(Out {
            w: BufWriter::with_capacity(256 << 10, f),
            path,
            bytes: 0,
        })
    }

    fn line(&mut self, s: &str) -> Result<(), String> {
        self.w.write_all(s.as_bytes()).map_err(err_at(&self.path))?;
        self.w.write_all(b"\n").map_err(err_at(&self.path))?;
        self.bytes += s.len() as u64 + 1;
        Ok(())
    }

    fn finish(mut self, written: &mut Written) -> Result<(), String> {
        self.w.flush().map_err(err_at(&self.path))?;
        written.bytes += self.bytes;
        written.files += 1;
        Ok(())
    }
}

fn write_file(path: &Path, text: &str, written: &mut Written) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err_at(dir))?;
    }
    std::fs::write(path, text).map_err(err_at(path))?;
    written.bytes += text.len() as u64;
    written.files += 1;
    Ok(())
}

/// A session's start: a random day and an early hour, so that no session (and no
/// streamed response) crosses midnight UTC.
fn session_start(rng: &mut Rng) -> i64 {
    BASE_MS + rng.range(0, DAYS as u64 - 1) as i64 * DAY_MS + rng.range(3_600_000, 12 * 3_600_000) as i64
}

/// Generates a corpus of about `size` bytes for the given agents under `home`, laid out
/// as each agent lays out its files below a home directory.
pub fn generate(home: &Path, size: u64, agents: &[String], seed: u64) -> Result<Corpus, String> {
    for a in agents {
        if !AGENTS.iter().any(|(id, _)| id == a) {
            let known: Vec<&str> = AGENTS.iter().map(|(id, _)| *id).collect();
            return Err(format!(
                "the corpus generator has no data shape for agent '{a}' (known: {})",
                known.join(", ")
            ));
        }
    }
    let weight: u64 = AGENTS
        .iter()
        .filter(|(id, _)| agents.iter().any(|a| a == id))
        .map(|(_, w)| w)
        .sum();
    let mut rng = Rng(seed);
    let pool = Pool::new(&mut rng);
    let mut corpus = Corpus {
        home: home.to_path_buf(),
        agents: BTreeMap::new(),
        expected: Expected::default(),
    };
    for (id, w) in AGENTS {
        if !agents.iter().any(|a| a == id) {
            continue;
        }
        let budget = (size * w / weight.max(1)).max(1);
        let mut written = Written::default();
        let mut g = Gen {
            rng: Rng(seed ^ w.wrapping_mul(0x1234_5678_9abc)),
            pool: &pool,
            expected: &mut corpus.expected,
            written: &mut written,
        };
        match *id {
            "claude-code" => g.claude(home, budget)?,
            "codex" => g.codex(home, budget)?,
            "gemini-cli" => g.gemini(home, budget)?,
            _ => g.opencode(home, budget)?,
        }
        corpus.agents.insert((*id).to_string(), written);
    }
    Ok(corpus)
}

struct Gen<'a> {
    rng: Rng,
    pool: &'a Pool,
    expected: &'a mut Expected,
    written: &'a mut Written,
}

/// A file size shaped like a real profile (median about 60 KB, a tenth above 600 KB, a
/// few of several MB), never above `left`.
fn file_size(rng: &mut Rng, left: u64) -> u64 {
    let mut shift = 0;
    while shift < 8 && rng.chance(62) {
        shift += 1;
    }
    let size = (20_000u64 << shift) + rng.range(0, 20_000 << shift);
    size.min(left).max(1)
}

const CLAUDE_MODELS: &[&str] = &[
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-haiku-4-5-20251001",
];

/// One Claude Code line's shared head.
struct ClaudeCtx {
    cwd: String,
    session: String,
    sidechain: bool,
}

impl ClaudeCtx {
    fn head(&self, out: &mut String, parent: &str) {
        let _ = write!(
            out,
            "{{\"parentUuid\":\"{parent}\",\"isSidechain\":{},\"userType\":\"external\",\"cwd\":\"{}\",\"sessionId\":\"{}\",\"version\":\"2.0.42\",\"gitBranch\":\"main\"",
            self.sidechain, self.cwd, self.session
        );
    }
}

impl Gen<'_> {
    /// Claude Code: `~/.claude/projects/<project>/<session>.jsonl`, sub-agents in
    /// `<session>/subagents/agent-<id>.jsonl`. A response is streamed as 1–4 lines with
    /// the same `message.id` and `requestId` and growing `output_tokens`; resumed sessions
    /// start with copies of the previous session's last lines.
    fn claude(&mut self, home: &Path, budget: u64) -> Result<(), String> {
        let root = home.join(".claude/projects");
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut last_lines: Vec<String> = Vec::new();
        let mut n = 0u64;
        while self.written.bytes < budget {
            let project = format!("-home-dev-project-{}", n % 17);
            let cwd = format!("/home/dev/project-{}", n % 17);
            let session = self.rng.uuid();
            let target = file_size(&mut self.rng, budget - self.written.bytes);
            let start = session_start(&mut self.rng);
            let mut out = Out::create(root.join(&project).join(format!("{session}.jsonl")))?;
            let cx = ClaudeCtx {
                cwd: cwd.clone(),
                session: session.clone(),
                sidechain: false,
            };
            // A resumed session begins with copies of where the last one ended.
            if n > 0 && self.rng.chance(10) {
                for l in &last_lines {
                    out.line(l)?;
                }
            }
            let mut tail = Vec::new();
            self.claude_session(&mut out, &cx, start, target, &mut seen, &mut tail)?;
            out.finish(self.written)?;
            last_lines = tail;
            // Sub-agents: the parent's session id, isSidechain, a folder per session.
            if self.rng.chance(20) && self.written.bytes < budget {
                for _ in 0..self.rng.range(1, 2) {
                    let path = root
                        .join(&project)
                        .join(&session)
                        .join("subagents")
                        .join(format!("agent-{}.jsonl", self.rng.hex(8)));
                    let mut sub = Out::create(path)?;
                    let cx = ClaudeCtx {
                        cwd: cwd.clone(),
                        session: session.clone(),
                        sidechain: true,
                    };
                    let size = self.rng.range(30_000, 300_000);
                    self.claude_session(&mut sub, &cx, start + 60_000, size, &mut seen, &mut Vec::new())?;
                    sub.finish(self.written)?;
                }
            }
            n += 1;
        }
        Ok(())
    }

    fn claude_session(
        &mut self,
        out: &mut Out,
        cx: &ClaudeCtx,
        start: i64,
        target: u64,
        seen: &mut HashSet<(String, String)>,
        tail: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut ts = start;
        let mut parent = self.rng.uuid();
        let mut context = self.rng.range(8_000, 20_000);
        let model = CLAUDE_MODELS[(self.rng.next() % 3) as usize];
        let mut lines: Vec<String> = Vec::new();
        let start_bytes = out.bytes;
        while out.bytes - start_bytes < target {
            // The user's prompt.
            let uuid = self.rng.uuid();
            let mut l = String::with_capacity(1024);
            cx.head(&mut l, &parent);
            let _ = write!(
                l,
                ",\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":{}}},\"uuid\":\"{uuid}\",\"timestamp\":\"{}\"}}",
                self.pool.pick(&mut self.rng),
                rfc3339(ts, 3)
            );
            emit(out, l, &mut lines)?;
            parent = uuid;
            ts += self.rng.range(500, 5_000) as i64;
            // A few responses, each followed by its tool result.
            for _ in 0..self.rng.range(1, 4) {
                if self.rng.chance(1) {
                    // An API error: the model "<synthetic>", zero usage, no requestId.
                    let uuid = self.rng.uuid();
                    let mut l = String::with_capacity(1024);
                    cx.head(&mut l, &parent);
                    let _ = write!(
                        l,
                        ",\"type\":\"assistant\",\"uuid\":\"{uuid}\",\"timestamp\":\"{}\",\"message\":{{\"id\":\"{}\",\"container\":null,\"model\":\"<synthetic>\",\"role\":\"assistant\",\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\",\"type\":\"message\",\"usage\":{{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"server_tool_use\":{{\"web_search_requests\":0}},\"service_tier\":null}},\"content\":[{{\"type\":\"text\",\"text\":\"API Error: 529 {{\\\"type\\\":\\\"error\\\",\\\"error\\\":{{\\\"type\\\":\\\"overloaded_error\\\",\\\"message\\\":\\\"Overloaded\\\"}}}}\"}}]}},\"isApiErrorMessage\":true}}",
                        rfc3339(ts, 3),
                        self.rng.uuid()
                    );
                    emit(out, l, &mut lines)?;
                    parent = uuid;
                    ts += 1_000;
                    continue;
                }
                let msg = format!("msg_01{}", self.rng.alnum(22));
                let req = format!("req_011C{}", self.rng.alnum(20));
                let input = self.rng.range(1, 40);
                let cache_read = context;
                let cache_write = self.rng.range(0, 6_000);
                let write_1h = if self.rng.chance(15) { cache_write } else { 0 };
                let output = self.rng.range(20, 2_500);
                context += cache_write + output / 2;
                if context > 180_000 {
                    context = self.rng.range(8_000, 20_000);
                }
                let first_ts = ts;
                let parts = self.rng.range(1, 4);
                let digits = if self.rng.chance(20) { 6 } else { 3 };
                for p in 0..parts {
                    let last = p + 1 == parts;
                    let out_tokens = if last { output } else { self.rng.range(1, 12) };
                    let block = match (last, p) {
                        (true, _) if self.rng.chance(60) => format!(
                            "{{\"type\":\"tool_use\",\"id\":\"toolu_01{}\",\"name\":\"Bash\",\"input\":{{\"command\":\"cargo test --workspace\",\"description\":\"Run the tests\"}}}}",
                            self.rng.alnum(22)
                        ),
                        (_, 0) if self.rng.chance(50) => format!(
                            "{{\"type\":\"thinking\",\"thinking\":{},\"signature\":\"Eq{}\"}}",
                            self.pool.pick(&mut self.rng),
                            self.rng.alnum(40)
                        ),
                        _ => format!("{{\"type\":\"text\",\"text\":{}}}", self.pool.pick(&mut self.rng)),
                    };
                    let stop = if last { "\"tool_use\"" } else { "null" };
                    let uuid = self.rng.uuid();
                    let mut l = String::with_capacity(4096);
                    cx.head(&mut l, &parent);
                    let _ = write!(
                        l,
                        ",\"message\":{{\"model\":\"{model}\",\"id\":\"{msg}\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{block}],\"stop_reason\":{stop},\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":{cache_write},\"cache_read_input_tokens\":{cache_read},\"cache_creation\":{{\"ephemeral_5m_input_tokens\":{},\"ephemeral_1h_input_tokens\":{write_1h}}},\"output_tokens\":{out_tokens},\"service_tier\":\"standard\"}}}},\"requestId\":\"{req}\",\"type\":\"assistant\",\"uuid\":\"{uuid}\",\"timestamp\":\"{}\"}}",
                        cache_write - write_1h,
                        rfc3339(ts, digits)
                    );
                    emit(out, l, &mut lines)?;
                    parent = uuid;
                    ts += self.rng.range(200, 3_000) as i64;
                }
                if seen.insert((msg, req)) {
                    self.expected.record(
                        "claude-code",
                        first_ts,
                        Totals {
                            requests: 1,
                            input,
                            output,
                            cache_read,
                            cache_write,
                            cache_write_1h: write_1h,
                            reasoning: 0,
                        },
                    );
                }
                // The tool result: a user line, sometimes a sub-agent's result whose
                // `toolUseResult` has a "usage" key of its own (not a request).
                let uuid = self.rng.uuid();
                let len = self.rng.range(300, 8_000) as usize;
                let text = self.pool.long(&mut self.rng, len);
                let extra = if self.rng.chance(5) {
                    format!(
                        "{{\"status\":\"completed\",\"prompt\":\"Explore the repository\",\"totalDurationMs\":{},\"totalTokens\":{},\"totalToolUseCount\":7,\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":{},\"output_tokens\":{},\"service_tier\":\"standard\"}}}}",
                        self.rng.range(1_000, 90_000),
                        self.rng.range(1_000, 90_000),
                        self.rng.range(1, 50),
                        self.rng.range(1_000, 50_000),
                        self.rng.range(10, 3_000)
                    )
                } else {
                    "{\"stdout\":\"ok\",\"stderr\":\"\",\"interrupted\":false,\"isImage\":false}".to_string()
                };
                let mut l = String::with_capacity(text.len() + 1024);
                cx.head(&mut l, &parent);
                let _ = write!(
                    l,
                    ",\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"tool_use_id\":\"toolu_01{}\",\"type\":\"tool_result\",\"content\":{text},\"is_error\":false}}]}},\"uuid\":\"{uuid}\",\"timestamp\":\"{}\",\"toolUseResult\":{extra}}}",
                    self.rng.alnum(22),
                    rfc3339(ts, 3)
                );
                emit(out, l, &mut lines)?;
                parent = uuid;
                ts += self.rng.range(500, 8_000) as i64;
            }
            if self.rng.chance(3) {
                let l = format!(
                    "{{\"type\":\"summary\",\"summary\":\"Fix the flaky retry test\",\"leafUuid\":\"{}\"}}",
                    self.rng.uuid()
                );
                emit(out, l, &mut lines)?;
            }
        }
        *tail = lines;
        Ok(())
    }

    /// Codex: `~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl` (some moved to
    /// `archived_sessions/`), with `session_meta`, `turn_context` (a model switch now and
    /// then) and `token_count` events carrying running totals, some re-emitted unchanged.
    fn codex(&mut self, home: &Path, budget: u64) -> Result<(), String> {
        let root = home.join(".codex");
        let mut keys: HashSet<[u64; 5]> = HashSet::new();
        while self.written.bytes < budget {
            let id = self.rng.uuid();
            let start = session_start(&mut self.rng);
            let t0 = jiff::Timestamp::from_millisecond(start)
                .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC))
                .map_err(|e| e.to_string())?;
            let name = format!(
                "rollout-{}T{:02}-{:02}-{:02}-{id}.jsonl",
                t0.date(),
                t0.hour(),
                t0.minute(),
                t0.second()
            );
            let path = if self.rng.chance(15) {
                root.join("archived_sessions").join(name)
            } else {
                root.join(format!("sessions/{:04}/{:02}/{:02}", t0.year(), t0.month(), t0.day()))
                    .join(name)
            };
            let target = file_size(&mut self.rng, budget - self.written.bytes);
            let mut out = Out::create(path)?;
            let cwd = format!("/home/dev/service-{}", self.rng.range(0, 9));
            let mut ts = start;
            out.line(&format!(
                "{{\"timestamp\":\"{}\",\"type\":\"session_meta\",\"payload\":{{\"id\":\"{id}\",\"timestamp\":\"{}\",\"cwd\":\"{cwd}\",\"originator\":\"codex_cli_rs\",\"cli_version\":\"0.58.0\",\"instructions\":{},\"source\":\"cli\",\"model_provider\":\"openai\",\"git\":{{\"commit_hash\":\"{}\",\"branch\":\"main\",\"repository_url\":\"git@github.com:dev/service.git\"}}}}}}",
                rfc3339(ts, 3),
                rfc3339(ts, 3),
                self.pool.pick(&mut self.rng),
                self.rng.hex(40)
            ))?;
            let rate = |rng: &mut Rng| {
                format!(
                    "{{\"primary\":{{\"used_percent\":{}.0,\"window_minutes\":300,\"resets_in_seconds\":{}}},\"secondary\":{{\"used_percent\":{}.0,\"window_minutes\":10080,\"resets_in_seconds\":{}}}}}",
                    rng.range(0, 99),
                    rng.range(100, 18_000),
                    rng.range(0, 99),
                    rng.range(1_000, 600_000)
                )
            };
            let mut model = if self.rng.chance(50) {
                "gpt-5-codex"
            } else {
                "gpt-5.1-codex"
            };
            let tc = |ts: i64, model: &str, cwd: &str| {
                format!(
                    "{{\"timestamp\":\"{}\",\"type\":\"turn_context\",\"payload\":{{\"cwd\":\"{cwd}\",\"approval_policy\":\"on-request\",\"sandbox_policy\":{{\"mode\":\"workspace-write\",\"network_access\":false,\"exclude_tmpdir_env_var\":false,\"exclude_slash_tmp\":false}},\"model\":\"{model}\",\"effort\":\"medium\",\"summary\":\"auto\"}}}}",
                    rfc3339(ts, 3)
                )
            };
            out.line(&tc(ts, model, &cwd))?;
            out.line(&format!(
                "{{\"timestamp\":\"{}\",\"type\":\"event_msg\",\"payload\":{{\"type\":\"token_count\",\"info\":null,\"rate_limits\":{}}}}}",
                rfc3339(ts + 400, 3),
                rate(&mut self.rng)
            ))?;
            // Running totals: input (cached included), cached, output (reasoning
            // included), reasoning, total.
            let mut tot = [0u64; 5];
            let mut context = self.rng.range(6_000, 15_000);
            let start_bytes = out.bytes;
            while out.bytes - start_bytes < target {
                ts += self.rng.range(2_000, 20_000) as i64;
                out.line(&format!(
                    "{{\"timestamp\":\"{}\",\"type\":\"response_item\",\"payload\":{{\"type\":\"message\",\"role\":\"user\",\"content\":[{{\"type\":\"input_text\",\"text\":{}}}]}}}}",
                    rfc3339(ts, 3),
                    self.pool.pick(&mut self.rng)
                ))?;
                if self.rng.chance(8) {
                    model = if model == "gpt-5-codex" {
                        "gpt-5.1-codex"
                    } else {
                        "gpt-5-codex"
                    };
                    out.line(&tc(ts + 5, model, &cwd))?;
                }
                for _ in 0..self.rng.range(1, 3) {
                    ts += self.rng.range(1_000, 9_000) as i64;
                    let secret = self.rng.range(400, 3_000) as usize;
                    out.line(&format!(
                        "{{\"timestamp\":\"{}\",\"type\":\"response_item\",\"payload\":{{\"type\":\"reasoning\",\"summary\":[{{\"type\":\"summary_text\",\"text\":\"**Planning the change**\"}}],\"content\":null,\"encrypted_content\":\"gAAAAAB{}\"}}}}",
                        rfc3339(ts, 3),
                        self.rng.alnum(secret)
                    ))?;
                    let call = self.rng.alnum(8);
                    out.line(&format!(
                        "{{\"timestamp\":\"{}\",\"type\":\"response_item\",\"payload\":{{\"type\":\"function_call\",\"name\":\"shell\",\"arguments\":\"{{\\\"command\\\":[\\\"rg\\\",\\\"usage\\\"]}}\",\"call_id\":\"call_{call}\"}}}}",
                        rfc3339(ts + 10, 3)
                    ))?;
                    let len = self.rng.range(300, 6_000) as usize;
                    let text = self.pool.long(&mut self.rng, len);
                    out.line(&format!(
                        "{{\"timestamp\":\"{}\",\"type\":\"response_item\",\"payload\":{{\"type\":\"function_call_output\",\"call_id\":\"call_{call}\",\"output\":{text}}}}}",
                        rfc3339(ts + 900, 3)
                    ))?;
                    // One request: its usage, then the running totals.
                    let input = context;
                    let cached = if tot[0] == 0 {
                        0
                    } else {
                        input * self.rng.range(60, 95) / 100
                    };
                    let output = self.rng.range(50, 3_000);
                    let reasoning = output * self.rng.range(0, 80) / 100;
                    context += output + self.rng.range(200, 4_000);
                    if context > 250_000 {
                        context = self.rng.range(6_000, 15_000);
                    }
                    let mut next = [
                        tot[0] + input,
                        tot[1] + cached,
                        tot[2] + output,
                        tot[3] + reasoning,
                        tot[4] + input + output,
                    ];
                    // Two sessions with the very same running totals would share a key;
                    // the generator keeps them apart (real totals practically never meet).
                    while !keys.insert(next) {
                        next[0] += 1;
                        next[4] += 1;
                    }
                    let last = [
                        next[0] - tot[0],
                        next[1] - tot[1],
                        next[2] - tot[2],
                        next[3] - tot[3],
                        next[4] - tot[4],
                    ];
                    tot = next;
                    ts += self.rng.range(1_000, 5_000) as i64;
                    let usage = |u: &[u64; 5]| {
                        format!(
                            "{{\"input_tokens\":{},\"cached_input_tokens\":{},\"output_tokens\":{},\"reasoning_output_tokens\":{},\"total_tokens\":{}}}",
                            u[0], u[1], u[2], u[3], u[4]
                        )
                    };
                    let event = |ts: i64, rate: String| {
                        format!(
                            "{{\"timestamp\":\"{}\",\"type\":\"event_msg\",\"payload\":{{\"type\":\"token_count\",\"info\":{{\"total_token_usage\":{},\"last_token_usage\":{},\"model_context_window\":272000}},\"rate_limits\":{rate}}}}}",
                            rfc3339(ts, 3),
                            usage(&tot),
                            usage(&last)
                        )
                    };
                    out.line(&event(ts, rate(&mut self.rng)))?;
                    self.expected.record(
                        "codex",
                        ts,
                        Totals {
                            requests: 1,
                            input: last[0] - last[1],
                            output: last[2],
                            cache_read: last[1],
                            cache_write: 0,
                            cache_write_1h: 0,
                            reasoning: last[3],
                        },
                    );
                    // Re-emitted with unchanged totals (a rate-limit refresh): no usage.
                    if self.rng.chance(30) {
                        out.line(&event(ts + 600, rate(&mut self.rng)))?;
                    }
                }
                out.line(&format!(
                    "{{\"timestamp\":\"{}\",\"type\":\"event_msg\",\"payload\":{{\"type\":\"agent_message\",\"message\":{}}}}}",
                    rfc3339(ts + 50, 3),
                    self.pool.pick(&mut self.rng)
                ))?;
            }
            out.finish(self.written)?;
        }
        Ok(())
    }

    /// Gemini CLI: `~/.gemini/tmp/<project hash>/chats/session-<time>-<id>.json` documents
    /// and, for newer sessions, `.jsonl` logs where a message is appended again when its
    /// tokens arrive. `tokens.input` includes `cached`; `tool` and `thoughts` come on top.
    fn gemini(&mut self, home: &Path, budget: u64) -> Result<(), String> {
        let root = home.join(".gemini/tmp");
        let mut n = 0u64;
        while self.written.bytes < budget {
            let project = self.rng.hex(64);
            let dir = root.join(&project);
            if n.is_multiple_of(3) {
                // The prompt log Gemini CLI keeps next to the chats (no tokens in it).
                let text = format!(
                    "[\n  {{\n    \"sessionId\": \"{}\",\n    \"messageId\": 0,\n    \"type\": \"user\",\n    \"message\": \"Why is the worker pool leaking?\",\n    \"timestamp\": \"{}\"\n  }}\n]",
                    self.rng.uuid(),
                    rfc3339(BASE_MS, 3)
                );
                write_file(&dir.join("logs.json"), &text, self.written)?;
            }
            let session = self.rng.uuid();
            let start = session_start(&mut self.rng);
            let t0 = jiff::Timestamp::from_millisecond(start)
                .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC))
                .map_err(|e| e.to_string())?;
            let stem = format!(
                "session-{}T{:02}-{:02}-{}",
                t0.date(),
                t0.hour(),
                t0.minute(),
                &session[..8]
            );
            let target = file_size(&mut self.rng, (budget - self.written.bytes).min(2_000_000));
            let jsonl = self.rng.chance(40);
            let model = if self.rng.chance(70) {
                "gemini-2.5-pro"
            } else {
                "gemini-2.5-flash"
            };
            let mut ts = start;
            let mut messages: Vec<Value> = Vec::new();
            let mut bytes = 0u64;
            let mut context = self.rng.range(5_000, 15_000);
            while bytes < target {
                let before = messages.len();
                let prompt: Value = serde_json::from_str(self.pool.pick(&mut self.rng)).unwrap_or_default();
                messages.push(
                    json!({"id": self.rng.uuid(), "timestamp": rfc3339(ts, 3), "type": "user", "content": prompt}),
                );
                ts += self.rng.range(3_000, 20_000) as i64;
                let input = context;
                let cached = input * self.rng.range(0, 90) / 100;
                let output = self.rng.range(20, 2_000);
                let thoughts = self.rng.range(0, 800);
                let tool = if self.rng.chance(40) {
                    self.rng.range(50, 900)
                } else {
                    0
                };
                context += output + self.rng.range(100, 3_000);
                if context > 500_000 {
                    context = self.rng.range(5_000, 15_000);
                }
                let len = self.rng.range(500, 6_000) as usize;
                let result: Value = serde_json::from_str(&self.pool.long(&mut self.rng, len)).unwrap_or_default();
                let content: Value = serde_json::from_str(self.pool.pick(&mut self.rng)).unwrap_or_default();
                let call = format!("read_file-{}-{}", ts, self.rng.hex(4));
                messages.push(json!({
                    "id": self.rng.uuid(),
                    "timestamp": rfc3339(ts, 3),
                    "type": "gemini",
                    "content": content,
                    "toolCalls": [{
                        "id": call, "name": "read_file", "args": {"absolute_path": "/home/dev/svc/pool.go"},
                        "result": [{"functionResponse": {"id": call, "name": "read_file", "response": {"output": result}}}],
                        "status": "success", "timestamp": rfc3339(ts - 500, 3), "displayName": "ReadFile",
                        "description": "Reads a file.", "renderOutputAsMarkdown": true
                    }],
                    "thoughts": [{"subject": "Reading the code", "description": "Reading the code.", "timestamp": rfc3339(ts - 900, 3)}],
                    "tokens": {"input": input, "output": output, "cached": cached, "thoughts": thoughts, "tool": tool,
                               "total": input + output + thoughts + tool},
                    "model": model
                }));
                self.expected.record(
                    "gemini-cli",
                    ts,
                    Totals {
                        requests: 1,
                        input: input - cached + tool,
                        output: output + thoughts,
                        cache_read: cached,
                        cache_write: 0,
                        cache_write_1h: 0,
                        reasoning: thoughts,
                    },
                );
                if self.rng.chance(5) {
                    messages.push(json!({"id": self.rng.uuid(), "timestamp": rfc3339(ts + 1_000, 3), "type": "info", "content": "Request cancelled."}));
                }
                ts += self.rng.range(2_000, 30_000) as i64;
                bytes += messages[before..]
                    .iter()
                    .map(|m| m.to_string().len() as u64)
                    .sum::<u64>();
            }
            let last_updated = rfc3339(ts, 3);
            if jsonl {
                let mut out = Out::create(dir.join("chats").join(format!("{stem}.jsonl")))?;
                out.line(
                    &json!({"sessionId": session, "projectHash": project, "startTime": rfc3339(start, 3),
                            "lastUpdated": rfc3339(start, 3), "kind": "main"})
                    .to_string(),
                )?;
                for m in &messages {
                    if m["type"] == "gemini" {
                        // Written first as the reply starts (no tokens yet), then again.
                        let mut early = m.clone();
                        if let Some(o) = early.as_object_mut() {
                            o.insert("tokens".into(), Value::Null);
                            o.insert("content".into(), Value::String(String::new()));
                            o.remove("toolCalls");
                        }
                        out.line(&early.to_string())?;
                    }
                    out.line(&m.to_string())?;
                    if m["type"] == "user" {
                        out.line(&json!({"$set": {"lastUpdated": m["timestamp"]}}).to_string())?;
                    }
                }
                out.finish(self.written)?;
            } else {
                let doc = json!({
                    "sessionId": session,
                    "projectHash": project,
                    "startTime": rfc3339(start, 3),
                    "lastUpdated": last_updated,
                    "messages": messages,
                });
                let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
                write_file(&dir.join("chats").join(format!("{stem}.json")), &text, self.written)?;
            }
            n += 1;
        }
        Ok(())
    }

    /// OpenCode: `~/.local/share/opencode/opencode.db` (tables `session`, `message`,
    /// `part` with JSON `data`) and, as after a migration, the older
    /// `storage/{session,message,part}` JSON tree for the first sessions, with the same ids.
    fn opencode(&mut self, home: &Path, budget: u64) -> Result<(), String> {
        let root = home.join(".local/share/opencode");
        std::fs::create_dir_all(&root).map_err(err_at(&root))?;
        let db_path = root.join("opencode.db");
        let _ = std::fs::remove_file(&db_path);
        let db_err = |e: rusqlite::Error| format!("cannot write '{}': {e}", db_path.display());
        let mut conn = rusqlite::Connection::open(&db_path).map_err(db_err)?;
        conn.execute_batch(OPENCODE_SCHEMA).map_err(db_err)?;
        let tx = conn.transaction().map_err(db_err)?;
        let mut json_bytes = 0u64;
        let mut db_estimate = 0u64;
        let mut n = 0u64;
        while json_bytes + db_estimate < budget {
            let ses = format!("ses_{}", self.rng.alnum(26));
            let project_id = self.rng.hex(40);
            let dir = format!("/home/dev/app-{}", n % 7);
            let start = session_start(&mut self.rng);
            let legacy = n.is_multiple_of(2);
            let title = format!("Fix the flaky test in module {n}");
            let mut ts = start;
            let mut msgs = Vec::new();
            let turns = self.rng.range(4, 40);
            for _ in 0..turns {
                let user_id = format!("msg_{}", self.rng.alnum(26));
                let provider_model = if self.rng.chance(60) {
                    ("anthropic", "claude-sonnet-4-5")
                } else {
                    ("openai", "gpt-5.1")
                };
                let user = json!({"role": "user", "time": {"created": ts}, "agent": "build",
                                  "model": {"providerID": provider_model.0, "modelID": provider_model.1}});
                msgs.push((user_id.clone(), ts, ts, user, String::new()));
                for _ in 0..self.rng.range(1, 3) {
                    let id = format!("msg_{}", self.rng.alnum(26));
                    let created = ts + self.rng.range(100, 900) as i64;
                    let completed = created + self.rng.range(1_000, 60_000) as i64;
                    let aborted = self.rng.chance(4);
                    let (input, output, reasoning, read, write) = if aborted {
                        (0, 0, 0, 0, 0)
                    } else {
                        (
                            self.rng.range(10, 4_000),
                            self.rng.range(20, 2_000),
                            if provider_model.0 == "openai" {
                                self.rng.range(0, 800)
                            } else {
                                0
                            },
                            self.rng.range(0, 60_000),
                            if provider_model.0 == "anthropic" {
                                self.rng.range(0, 5_000)
                            } else {
                                0
                            },
                        )
                    };
                    let cost = if self.rng.chance(50) {
                        Value::from(self.rng.range(1, 900) as f64 / 10_000.0)
                    } else {
                        Value::from(0)
                    };
                    let mut data = json!({
                        "role": "assistant", "time": {"created": created, "completed": completed},
                        "parentID": user_id, "modelID": provider_model.1, "providerID": provider_model.0,
                        "mode": "build", "agent": "build", "path": {"cwd": dir, "root": dir},
                        "cost": cost,
                        "tokens": {"input": input, "output": output, "reasoning": reasoning, "cache": {"read": read, "write": write}},
                        "finish": "tool-calls"
                    });
                    if aborted {
                        data["error"] = json!({"name": "MessageAbortedError", "data": {"message": "Aborted"}});
                    } else {
                        self.expected.record(
                            "opencode",
                            completed,
                            Totals {
                                requests: 1,
                                input,
                                output: output + reasoning,
                                cache_read: read,
                                cache_write: write,
                                cache_write_1h: 0,
                                reasoning,
                            },
                        );
                    }
                    let len = self.rng.range(300, 4_000) as usize;
                    let part = self.pool.long(&mut self.rng, len);
                    msgs.push((id, created, completed, data, part));
                    ts = completed + 200;
                }
                ts += self.rng.range(5_000, 60_000) as i64;
            }
            tx.execute(
                "INSERT INTO session (id, project_id, parent_id, slug, directory, title, version, time_created, time_updated) VALUES (?1, ?2, NULL, ?3, ?4, ?5, '1.2.4', ?6, ?7)",
                rusqlite::params![ses, project_id, format!("calm-heron-{n}"), dir, title, start, ts],
            )
            .map_err(db_err)?;
            if legacy {
                let s = json!({"id": ses, "version": "1.0.150", "projectID": project_id, "directory": dir,
                               "title": title, "time": {"created": start, "updated": ts}});
                let path = root.join(format!("storage/session/{project_id}/{ses}.json"));
                let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?;
                json_bytes += text.len() as u64;
                write_file(&path, &text, self.written)?;
            }
            for (id, created, updated, data, part) in msgs {
                let data_text = data.to_string();
                tx.execute(
                    "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![id, ses, created, updated, data_text],
                )
                .map_err(db_err)?;
                db_estimate += data_text.len() as u64 + 100;
                let part_id = format!("prt_{}", self.rng.alnum(26));
                let part_data = if part.is_empty() {
                    String::new()
                } else {
                    format!("{{\"type\":\"text\",\"text\":{part},\"time\":{{\"start\":{created},\"end\":{updated}}}}}")
                };
                if !part_data.is_empty() {
                    tx.execute(
                        "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        rusqlite::params![part_id, id, ses, created, updated, part_data],
                    )
                    .map_err(db_err)?;
                    db_estimate += part_data.len() as u64 + 100;
                }
                if legacy {
                    let mut m = data.clone();
                    if let Some(o) = m.as_object_mut() {
                        o.insert("id".into(), Value::String(id.clone()));
                        o.insert("sessionID".into(), Value::String(ses.clone()));
                    }
                    let text = serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?;
                    json_bytes += text.len() as u64;
                    write_file(
                        &root.join(format!("storage/message/{ses}/{id}.json")),
                        &text,
                        self.written,
                    )?;
                    if !part_data.is_empty() {
                        let text = format!(
                            "{{\"id\":\"{part_id}\",\"sessionID\":\"{ses}\",\"messageID\":\"{id}\",{}",
                            &part_data[1..]
                        );
                        json_bytes += text.len() as u64;
                        write_file(
                            &root.join(format!("storage/part/{id}/{part_id}.json")),
                            &text,
                            self.written,
                        )?;
                    }
                }
            }
            n += 1;
        }
        tx.commit().map_err(db_err)?;
        // One file, not in WAL mode, as the agent leaves it when it exits.
        drop(conn);
        let size = std::fs::metadata(&db_path).map_err(err_at(&db_path))?.len();
        self.written.bytes += size;
        self.written.files += 1;
        Ok(())
    }
}

/// Writes a Claude Code line and keeps the last few for a resumed session to copy.
fn emit(out: &mut Out, line: String, lines: &mut Vec<String>) -> Result<(), String> {
    out.line(&line)?;
    lines.push(line);
    if lines.len() > 24 {
        lines.drain(..8);
    }
    Ok(())
}

/// The tables OpenCode (1.2 and later) keeps, as in its own migrations.
const OPENCODE_SCHEMA: &str = "
CREATE TABLE `session` (
  `id` text PRIMARY KEY NOT NULL, `project_id` text NOT NULL, `parent_id` text, `slug` text NOT NULL,
  `directory` text NOT NULL, `title` text NOT NULL, `version` text NOT NULL, `share_url` text,
  `summary_additions` integer, `summary_deletions` integer, `summary_files` integer, `summary_diffs` text,
  `revert` text, `permission` text, `time_created` integer NOT NULL, `time_updated` integer NOT NULL,
  `time_compacting` integer, `time_archived` integer
);
CREATE TABLE `message` (
  `id` text PRIMARY KEY NOT NULL, `session_id` text NOT NULL, `time_created` integer NOT NULL,
  `time_updated` integer NOT NULL, `data` text NOT NULL,
  FOREIGN KEY (`session_id`) REFERENCES `session`(`id`) ON UPDATE no action ON DELETE cascade
);
CREATE INDEX `message_session_idx` ON `message` (`session_id`);
CREATE TABLE `part` (
  `id` text PRIMARY KEY NOT NULL, `message_id` text NOT NULL, `session_id` text NOT NULL,
  `time_created` integer NOT NULL, `time_updated` integer NOT NULL, `data` text NOT NULL,
  FOREIGN KEY (`message_id`) REFERENCES `message`(`id`) ON UPDATE no action ON DELETE cascade
);
CREATE INDEX `part_message_idx` ON `part` (`message_id`);
";

// ------------------------------------------------------------------------------------------
// Measuring
// ------------------------------------------------------------------------------------------

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub dir: PathBuf,
    pub corpus_bytes: u64,
    pub corpus_files: u64,
    pub agents: BTreeMap<String, Written>,
    pub generate_ms: f64,
    /// Reading every corpus file in-process, page cache warm.
    pub read_floor_ms: f64,
    pub cold_ingest_ms: f64,
    pub cold_ingest_mb_s: f64,
    /// Cold ingest followed by a daily report.
    pub cold_ingest_report_ms: f64,
    /// Store open, registry load, ingest (nothing changed) and a daily report.
    pub warm_rerun_ms: f64,
    pub report_daily_ms: f64,
    pub report_session_ms: f64,
    /// `VmHWM` in KiB; `None` where `/proc` has none.
    pub peak_rss_kb: Option<u64>,
    /// Whether the peak was reset after generation (else it includes generation).
    pub peak_rss_reset: bool,
    pub records: u64,
    pub expected: Totals,
    pub exact: bool,
    pub differences: Vec<String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `VmHWM` of this process in KiB.
pub fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` value 5).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Reads every regular file below `dir` once; the bytes read.
fn read_all(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file()
                && let Ok(mut f) = std::fs::File::open(e.path())
            {
                while let Ok(n) = f.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
            }
        }
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The built-in agent definitions with these ids, compiled for `home`.
pub fn builtin_agents(home: &Path, ids: &[String]) -> Result<Vec<Arc<Agent>>, String> {
    let reg = Registry::load_all(
        None,
        &[],
        &CompileEnv {
            home: home.to_path_buf(),
        },
    );
    let all = reg.agents();
    ids.iter()
        .map(|id| {
            all.iter()
                .find(|a| a.id == *id)
                .cloned()
                .ok_or_else(|| format!("no built-in agent definition '{id}'"))
        })
        .collect()
}

/// Generates the corpus in `dir` and measures ingest and reports over it.
pub fn run(dir: &Path, size: u64, agents: &[String]) -> Result<BenchResult, String> {
    let home = dir.join("home");
    if home.exists() {
        return Err(format!(
            "'{}' already exists; give an empty --dir or remove it",
            home.display()
        ));
    }
    let t = Instant::now();
    let corpus = generate(&home, size, agents, 0x7474_6f70)?;
    let generate_ms = ms(t.elapsed());
    let peak_rss_reset = reset_peak_rss();
    let t = Instant::now();
    let floor_bytes = read_all(&home);
    let read_floor_ms = ms(t.elapsed());
    if floor_bytes == 0 {
        return Err(format!("nothing was generated under '{}'", home.display()));
    }

    // The agents see only the corpus: its home, and no agent env vars.
    let agent_ctx = Ctx::fake(home.clone(), Default::default());
    let db = dir.join("ttop.db");
    let utc = jiff::tz::TimeZone::UTC;
    let daily = ReportQuery::new(Group::Daily, utc.clone());
    let session = ReportQuery::new(Group::Session, utc.clone());
    let by_agent = ReportQuery::new(Group::Agent, utc.clone());
    let defs = builtin_agents(&home, agents)?;

    let t = Instant::now();
    let mut store = Store::open(&db).map_err(|e| e.to_string())?;
    let rep = ingest(&mut store, &defs, &agent_ctx, &mut |_| {});
    let cold = t.elapsed();
    let day_report = store.report(&daily).map_err(|e| e.to_string())?;
    let cold_report = t.elapsed();
    if !rep.errors.is_empty() {
        return Err(format!("ingest failed: {:?}", rep.errors));
    }
    drop(store);

    let t = Instant::now();
    let mut store = Store::open(&db).map_err(|e| e.to_string())?;
    let defs_again = builtin_agents(&home, agents)?;
    let again = ingest(&mut store, &defs_again, &agent_ctx, &mut |_| {});
    store.report(&daily).map_err(|e| e.to_string())?;
    let warm = t.elapsed();
    if again.files_read != 0 {
        return Err(format!(
            "the warm re-run read {} files although nothing changed",
            again.files_read
        ));
    }

    let time = |q: &ReportQuery| -> Result<f64, String> {
        let mut runs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            store.report(q).map_err(|e| e.to_string())?;
            runs.push(ms(t.elapsed()));
        }
        Ok(median(runs))
    };
    let report_daily_ms = time(&daily)?;
    let report_session_ms = time(&session)?;
    let peak = peak_rss_kb();

    let agent_report = store.report(&by_agent).map_err(|e| e.to_string())?;
    let differences = corpus.expected.check(&agent_report, &day_report);
    let bytes = corpus.bytes();
    Ok(BenchResult {
        dir: dir.to_path_buf(),
        corpus_bytes: bytes,
        corpus_files: corpus.files(),
        agents: corpus.agents.clone(),
        generate_ms,
        read_floor_ms,
        cold_ingest_ms: ms(cold),
        cold_ingest_mb_s: bytes as f64 / 1e6 / cold.as_secs_f64().max(1e-9),
        cold_ingest_report_ms: ms(cold_report),
        warm_rerun_ms: ms(warm),
        report_daily_ms,
        report_session_ms,
        peak_rss_kb: peak,
        peak_rss_reset,
        records: rep.records,
        expected: corpus.expected.total(),
        exact: differences.is_empty(),
        differences,
    })
}

/// A new directory under the system's temporary directory.
fn temp_dir(ctx: &Ctx) -> Result<PathBuf, String> {
    let base = ctx
        .env("TMPDIR")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let dir = base.join(format!("ttop-bench-{}-{}", std::process::id(), ctx.now_ms()));
    std::fs::create_dir_all(&dir).map_err(err_at(&dir))?;
    Ok(dir)
}

/// `ttop bench`.
pub fn main(ctx: &Ctx, a: &BenchArgs) -> Result<ExitCode, String> {
    if a.size_mb == 0 {
        return Err("--size-mb must be at least 1".into());
    }
    let (dir, generated) = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(err_at(d))?;
            (d.clone(), false)
        }
        None => (temp_dir(ctx)?, true),
    };
    let result = run(&dir, a.size_mb * 1_000_000, &a.agents);
    if generated && !a.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let r = result?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    } else {
        let _ = write!(out, "{}", render(&r, generated && !a.keep));
    }
    if r.exact {
        Ok(ExitCode::SUCCESS)
    } else {
        for d in &r.differences {
            eprintln!("ttop bench: totals differ: {d}");
        }
        Ok(ExitCode::from(1))
    }
}

fn render(r: &BenchResult, removed: bool) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    let mut s = String::new();
    let parts: Vec<String> = r
        .agents
        .iter()
        .map(|(id, w)| format!("{id} {:.1} MB/{} files", mb(w.bytes), w.files))
        .collect();
    let _ = writeln!(
        s,
        "corpus  {:.1} MB in {} files ({}), generated in {:.1} s{}",
        mb(r.corpus_bytes),
        r.corpus_files,
        parts.join(", "),
        r.generate_ms / 1000.0,
        if removed {
            String::new()
        } else {
            format!("\n        kept in {}", r.dir.display())
        }
    );
    let rate = |t: f64| mb(r.corpus_bytes) / (t / 1000.0).max(1e-9);
    let rows: [(&str, f64, bool); 7] = [
        ("read every byte (floor)", r.read_floor_ms, true),
        ("cold ingest", r.cold_ingest_ms, true),
        ("cold ingest + daily report", r.cold_ingest_report_ms, true),
        ("warm re-run (nothing changed)", r.warm_rerun_ms, false),
        ("report daily", r.report_daily_ms, false),
        ("report session", r.report_session_ms, false),
        ("", 0.0, false),
    ];
    let _ = writeln!(s, "\n{:<32} {:>12} {:>10}", "measure", "time", "MB/s");
    for (name, t, with_rate) in rows.iter().filter(|r| !r.0.is_empty()) {
        let time = if *t >= 1000.0 {
            format!("{:.2} s", t / 1000.0)
        } else {
            format!("{t:.1} ms")
        };
        let rate = if *with_rate {
            format!("{:.0}", rate(*t))
        } else {
            String::new()
        };
        let _ = writeln!(s, "{name:<32} {time:>12} {rate:>10}");
    }
    let rss = r
        .peak_rss_kb
        .map_or("unknown".to_string(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    let _ = writeln!(
        s,
        "{:<32} {:>12}{}",
        "peak RSS",
        rss,
        if r.peak_rss_reset {
            ""
        } else {
            "  (includes generation)"
        }
    );
    let e = &r.expected;
    let _ = writeln!(
        s,
        "\nrecords {} committed; expected {} requests, {} tokens (in {}, out {}, cache read {}, cache write {}, reasoning {})",
        r.records,
        e.requests,
        e.total_tokens(),
        e.input,
        e.output,
        e.cache_read,
        e.cache_write,
        e.reasoning
    );
    if r.exact {
        let _ = writeln!(s, "totals: exact per agent and per UTC day");
    } else {
        let _ = writeln!(s, "totals: WRONG ({} differences)", r.differences.len());
        for d in r.differences.iter().take(20) {
            let _ = writeln!(s, "  {d}");
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn all_agents() -> Vec<String> {
        AGENTS.iter().map(|(id, _)| (*id).to_string()).collect()
    }

    #[test]
    fn every_generated_line_and_document_is_json() {
        let dir = tempfile::tempdir().unwrap();
        let c = generate(dir.path(), 1_500_000, &all_agents(), 7).unwrap();
        assert_eq!(c.agents.len(), 4);
        let mut stack = vec![dir.path().to_path_buf()];
        let mut checked = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    for l in std::fs::read_to_string(&p).unwrap().lines() {
                        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", p.display()));
                        checked += 1;
                    }
                } else if p.extension().is_some_and(|x| x == "json") {
                    serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap()).unwrap();
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn the_same_seed_gives_the_same_corpus() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ids = vec!["claude-code".to_string(), "codex".to_string()];
        let x = generate(a.path(), 400_000, &ids, 3).unwrap();
        let y = generate(b.path(), 400_000, &ids, 3).unwrap();
        assert_eq!(x.expected, y.expected);
        assert_eq!(x.bytes(), y.bytes());
        assert!(generate(a.path(), 1000, &["nobody".to_string()], 3).is_err());
    }

    #[test]
    fn a_small_benchmark_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(dir.path(), 2_000_000, &all_agents()).unwrap();
        assert!(r.exact, "{:#?}", r.differences);
        assert!(r.records > 0 && r.expected.requests > 0);
        assert!(render(&r, false).contains("totals: exact"));
    }
}
