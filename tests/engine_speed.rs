//! Ingest throughput on a generated corpus. Ignored by default; run it in release:
//! `cargo test --release --test engine_speed -- --ignored --nocapture`
//! (`TTOP_SPEED_MB` sets the corpus size, default 200).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ttop::def::{CompileEnv, Definition, load_str};
use ttop::engine::agent::{extract_files, ingest};
use ttop::engine::ctx::Ctx;
use ttop::store::Store;

const DEF: &str = r#"
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
  where: type == "assistant" and message.usage is defined
  dedup: { key: [$.message.id, $.requestId], keep: largest }
  fields:
    session_id: { from: file_stem }
    timestamp: { path: $.timestamp, type: rfc3339 }
    model: $.message.model
    input: $.message.usage.input_tokens
    output: $.message.usage.output_tokens
    cache_read: { path: $.message.usage.cache_read_input_tokens, default: 0 }
    cache_write: { path: $.message.usage.cache_creation_input_tokens, default: 0 }
    project: $.cwd
"#;

fn generate(root: &Path, mb: usize) -> (u64, usize) {
    let text: String = "lorem \\\"usage\\\" ipsum dolor sit amet, \\n consectetur ünïcode ".repeat(16);
    let mut bytes = 0u64;
    let mut lines = 0usize;
    let mut file = 0;
    while bytes < (mb as u64) << 20 {
        let dir = root.join(format!("proj-{}", file % 20));
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("s{file}.jsonl"))).unwrap());
        for i in 0..1000 {
            let line = if i % 20 < 11 {
                let id = i / 2;
                format!(
                    r#"{{"parentUuid":"x","cwd":"/work/p{file}","sessionId":"s{file}","version":"1.0.0","type":"assistant","timestamp":"2026-01-01T00:{:02}:{:02}.000Z","requestId":"req_{file}_{id}","message":{{"id":"msg_{file}_{id}","type":"message","role":"assistant","model":"model-{}","content":[{{"type":"text","text":"{text}"}}],"usage":{{"input_tokens":{},"cache_creation_input_tokens":10,"cache_read_input_tokens":1000,"output_tokens":{},"service_tier":"standard"}}}}}}"#,
                    (i / 60) % 60,
                    i % 60,
                    file % 3,
                    i % 7 + 1,
                    (i % 2 + 1) * 50
                )
            } else {
                format!(
                    r#"{{"parentUuid":"x","cwd":"/work/p{file}","sessionId":"s{file}","type":"user","timestamp":"2026-01-01T00:00:00.000Z","message":{{"role":"user","content":[{{"type":"tool_result","content":"{text}{text}"}}]}}}}"#
                )
            };
            f.write_all(line.as_bytes()).unwrap();
            f.write_all(b"\n").unwrap();
            bytes += line.len() as u64 + 1;
            lines += 1;
        }
        file += 1;
    }
    (bytes, lines)
}

fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
fn ingest_throughput() {
    let tmp = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(tmp.path()).unwrap();
    let mb = Ctx::real()
        .env("TTOP_SPEED_MB")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let (bytes, lines) = generate(&home.join("data"), mb);
    let agent = match load_str(DEF, Path::new("t.yaml"), &CompileEnv { home: home.clone() }).def {
        Some(Definition::Agent(a)) => a,
        _ => panic!("definition did not compile"),
    };
    let mut store = Store::open(&home.join("ttop.db")).unwrap();
    let ctx = Ctx::fake(home.clone(), HashMap::new());
    let t = Instant::now();
    let rep = ingest(&mut store, std::slice::from_ref(&agent), &ctx, &mut |_| {});
    let cold = t.elapsed();
    let t = Instant::now();
    let again = ingest(&mut store, std::slice::from_ref(&agent), &ctx, &mut |_| {});
    let warm = t.elapsed();
    let mbs = bytes as f64 / (1 << 20) as f64;
    println!(
        "corpus {mbs:.0} MiB, {lines} lines, {} files: cold {:.2} s ({:.0} MiB/s), {} records, {} inserted; warm {:.3} s ({} read); peak RSS {:?} KiB",
        rep.files_seen,
        cold.as_secs_f64(),
        mbs / cold.as_secs_f64(),
        rep.records,
        rep.inserted,
        warm.as_secs_f64(),
        again.files_read,
        peak_rss_kb()
    );
    // Extraction alone, one thread, no store.
    let t = Instant::now();
    let (recs, _) = extract_files(&agent, 0, &[home.join("data")]).unwrap();
    let alone = t.elapsed();
    println!(
        "extraction alone (one thread, no store): {:.2} s ({:.0} MiB/s), {} records",
        alone.as_secs_f64(),
        mbs / alone.as_secs_f64(),
        recs.len()
    );
    assert!(rep.errors.is_empty() && rep.warning_count == 0, "{rep:?}");
    assert_eq!(again.files_read, 0);
}
