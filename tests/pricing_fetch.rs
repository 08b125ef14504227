//! The live catalogue against a loopback server reached through `TTOP_HTTP_REDIRECT`:
//! fetch, cache, TTL expiry, fallback to the stale cache and then to the embedded
//! snapshot, back-off after a failure, and a corrupt catalogue (clear error, previous
//! prices kept). The clock is a fake one, so nothing here waits.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ttop::config::Config;
use ttop::engine::ctx::Ctx;
use ttop::pricing::source::{self, CACHE_FILE, LiveStatus, LoadOptions, Loaded};

const CATALOGUE: &str = include_str!("fixtures/pricing/catalogue.json");

/// 2026-12-01T00:00:00Z.
const T0: i64 = 1_796_083_200_000;
const MINUTE: i64 = 60_000;

/// A loopback HTTP server answering every request with the current reply.
struct Server {
    base: String,
    reply: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn start(status: u16, body: &str) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let reply = Arc::new(Mutex::new((status, body.to_owned())));
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (reply.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { break };
                let mut buf = [0u8; 8192];
                let _ = s.read(&mut buf);
                h.fetch_add(1, Ordering::SeqCst);
                let (status, body) = r.lock().unwrap().clone();
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(body.as_bytes());
            }
        });
        Server { base, reply, hits }
    }

    fn set(&self, status: u16, body: &str) {
        *self.reply.lock().unwrap() = (status, body.to_owned());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A base URL where nothing listens.
fn dead_base() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    base
}

fn ctx(home: &Path, base: &str, now: i64) -> Ctx {
    let env = HashMap::from([("TTOP_HTTP_REDIRECT".to_owned(), format!("models.dev={base}"))]);
    Ctx::fake(home.to_path_buf(), env).with_now_ms(now)
}

fn opts(offline: bool) -> LoadOptions {
    LoadOptions {
        offline,
        ttl: Duration::from_secs(3600),
        force: false,
        timeout: Some(Duration::from_secs(5)),
    }
}

fn load(c: &Ctx, cache: &Path, offline: bool) -> Loaded {
    source::load(c, cache, &Config::default(), &opts(offline)).unwrap()
}

/// `(input price, source)` of a model as resolved.
fn price(l: &Loaded, provider: &str, model: &str) -> (f64, String) {
    let r = l.pricer.resolve(Some(provider), model).unwrap();
    (r.cost.base.input, r.source)
}

#[test]
fn fetches_caches_and_refetches_after_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = Server::start(200, CATALOGUE);

    let l = load(&ctx(dir.path(), &server.base, T0), &cache, false);
    assert_eq!(l.status, LiveStatus::Fetched);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(server.hits(), 1);
    let (input, source) = price(&l, "anthropic", "claude-sonnet-4-5");
    assert_eq!(input, 3.0);
    assert_eq!(source, "https://models.dev/api.json (fetched 2026-12-01 00:00 UTC)");
    assert!(cache.join(CACHE_FILE).is_file());
    // A model only the embedded snapshot has is still priced from it.
    let (_, source) = price(&l, "anthropic", "claude-opus-4-1-20250805");
    assert!(source.starts_with("embedded snapshot of "), "{source}");

    // Within the TTL: no request, the cache answers.
    let l = load(&ctx(dir.path(), &server.base, T0 + 59 * MINUTE), &cache, false);
    assert_eq!(l.status, LiveStatus::Fresh);
    assert_eq!(server.hits(), 1);
    assert_eq!(
        price(&l, "anthropic", "claude-sonnet-4-5").1,
        "https://models.dev/api.json (cached 2026-12-01 00:00 UTC)"
    );

    // Past the TTL: fetched again, and a new price re-prices everything.
    server.set(200, &CATALOGUE.replace("\"input\": 3,", "\"input\": 4,"));
    let l = load(&ctx(dir.path(), &server.base, T0 + 61 * MINUTE), &cache, false);
    assert_eq!(l.status, LiveStatus::Fetched);
    assert_eq!(server.hits(), 2);
    assert_eq!(price(&l, "anthropic", "claude-sonnet-4-5").0, 4.0);
}

#[test]
fn offline_uses_the_stale_cache_then_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = Server::start(200, &CATALOGUE.replace("\"input\": 3,", "\"input\": 3.5,"));
    load(&ctx(dir.path(), &server.base, T0), &cache, false);

    // Hours later with no server: the fetch fails, the stale cache answers.
    let dead = dead_base();
    let l = load(&ctx(dir.path(), &dead, T0 + 300 * MINUTE), &cache, false);
    let LiveStatus::Failed(e) = &l.status else {
        panic!("{:?}", l.status)
    };
    assert!(
        e.starts_with("cannot fetch the price catalogue 'https://models.dev/api.json': network error"),
        "{e}"
    );
    assert_eq!(
        l.warnings,
        vec![format!("{e}; using the prices cached 2026-12-01 00:00 UTC")]
    );
    let (input, source) = price(&l, "anthropic", "claude-sonnet-4-5");
    assert_eq!(input, 3.5);
    assert_eq!(
        source,
        "https://models.dev/api.json (stale, cached 2026-12-01 00:00 UTC)"
    );

    // Soon after a failure there is no new attempt.
    let before = server.hits();
    let l = load(&ctx(dir.path(), &server.base, T0 + 305 * MINUTE), &cache, false);
    assert_eq!(l.status, LiveStatus::Backoff);
    assert_eq!(server.hits(), before);

    // `pricing.offline` never fetches, and still uses the cache.
    let l = load(&ctx(dir.path(), &server.base, T0 + 900 * MINUTE), &cache, true);
    assert_eq!(l.status, LiveStatus::Offline);
    assert_eq!(server.hits(), before);
    assert_eq!(price(&l, "anthropic", "claude-sonnet-4-5").0, 3.5);

    // Without a cache: the embedded snapshot.
    std::fs::remove_file(cache.join(CACHE_FILE)).unwrap();
    let l = load(&ctx(dir.path(), &dead, T0 + 900 * MINUTE), &cache, true);
    let (input, source) = price(&l, "anthropic", "claude-sonnet-4-5-20250929");
    assert_eq!(input, 3.0);
    assert!(source.starts_with("embedded snapshot of "), "{source}");
    assert_eq!(l.pricer.layers.len(), 1);
}

#[test]
fn a_corrupt_catalogue_is_a_clear_error_and_keeps_the_previous_prices() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let server = Server::start(200, &CATALOGUE.replace("\"input\": 3,", "\"input\": 3.5,"));
    load(&ctx(dir.path(), &server.base, T0), &cache, false);
    let cached = std::fs::read(cache.join(CACHE_FILE)).unwrap();

    for (status, body, why) in [
        (
            200,
            "<html>maintenance</html>",
            "is not valid: not JSON: expected value at line 1 column 1",
        ),
        (
            200,
            "{\"anthropic\":{\"models\":{}}}",
            "is not valid: no model in it has a valid price",
        ),
        (200, "[]", "is not valid: not a JSON object of providers or models"),
        (503, "busy", "HTTP status 503"),
    ] {
        server.set(status, body);
        let c = ctx(dir.path(), &server.base, T0 + 120 * MINUTE);
        let mut o = opts(false);
        o.force = true;
        let l = source::load(&c, &cache, &Config::default(), &o).unwrap();
        let LiveStatus::Failed(e) = &l.status else {
            panic!("{body}: {:?}", l.status)
        };
        assert!(e.contains(why), "{body}: {e}");
        assert!(e.contains("'https://models.dev/api.json'"), "{e}");
        assert_eq!(
            std::fs::read(cache.join(CACHE_FILE)).unwrap(),
            cached,
            "{body}: cache untouched"
        );
        assert_eq!(
            price(&l, "anthropic", "claude-sonnet-4-5").0,
            3.5,
            "{body}: previous price kept"
        );
    }
}

#[test]
fn a_damaged_cache_file_is_reported_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join(CACHE_FILE), "{\"fetched_at_ms\": 1, \"catal").unwrap();
    let server = Server::start(200, CATALOGUE);
    let l = load(&ctx(dir.path(), &server.base, T0), &cache, false);
    assert_eq!(l.status, LiveStatus::Fetched);
    assert_eq!(l.warnings.len(), 1);
    assert!(l.warnings[0].contains("is damaged"), "{}", l.warnings[0]);
    let l = load(&ctx(dir.path(), &server.base, T0 + MINUTE), &cache, false);
    assert_eq!(l.status, LiveStatus::Fresh);
    assert!(l.warnings.is_empty());
}
