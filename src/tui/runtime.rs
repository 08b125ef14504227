//! The terminal, the worker thread and the event loop.
//!
//! The worker owns the store and is the only place that reads it, reads session files or
//! writes the config; the UI thread applies messages and draws.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use ratatui::crossterm::execute;

use super::app::{App, Effect, Msg, SourceInfo};
use crate::config::{Config, TimeWindow};
use crate::def::CompileEnv;
use crate::def::registry::Registry;
use crate::demo::{self, Preset};
use crate::engine::agent::{self, WatchEvent};
use crate::engine::ctx::Ctx;
use crate::model::{self, Level, NoPrices, PricerPrices, Prices, ProviderStatus, Query};
use crate::paths::Paths;
use crate::pricing::source::{self as price_source, LiveStatus, LoadOptions};
use crate::store::Store;
use crate::theme::{ThemeSet, Variant};

/// Requests from the UI to the worker.
#[derive(Debug)]
pub enum Cmd {
    Window(TimeWindow),
    Refresh,
    Session(String),
    Save(Box<Config>),
    /// Session files changed (from the watcher).
    Changed,
    /// Newer prices were fetched.
    Prices(Box<crate::pricing::resolve::Pricer>),
}

/// Where the worker gets its data.
pub enum Source {
    /// The user's store and agents.
    Real {
        ctx: Ctx,
        paths: Paths,
        config: Box<Config>,
    },
    /// Generated data in memory.
    Demo { seed: u64, preset: Preset, ctx: Ctx },
}

/// The time zone for day boundaries: the config's, else the system's.
pub fn time_zone(config: &Config) -> TimeZone {
    config
        .display
        .timezone
        .as_deref()
        .and_then(|n| TimeZone::get(n).ok())
        .unwrap_or_else(TimeZone::system)
}

/// The terminal's background from `COLORFGBG` (`fg;bg`), when set.
fn terminal_variant(ctx: &Ctx) -> Option<Variant> {
    let v = ctx.env("COLORFGBG")?;
    let bg: u8 = v.rsplit(';').next()?.parse().ok()?;
    Some(if bg == 7 || bg >= 9 {
        Variant::Light
    } else {
        Variant::Dark
    })
}

/// Opens the dashboard over the user's data.
pub fn run_dashboard(ctx: &Ctx, db: Option<PathBuf>) -> Result<ExitCode, String> {
    let paths = Paths::resolve(&|k| ctx.env(k), db).map_err(|e| e.to_string())?;
    let (config, config_error) = Config::load(&paths.config_file());
    let (themes, theme_errors) = ThemeSet::load(&paths.themes_dir());
    let tz = time_zone(&config);
    let mut app = App::new(
        config.clone(),
        config_error.map(|e| e.to_string()),
        Arc::new(themes),
        no_color(ctx),
        terminal_variant(ctx),
        ctx.now_ms(),
        tz,
    );
    app.config_path = Some(paths.config_file());
    app.source.home = Some(ctx.home().display().to_string());
    for e in theme_errors.iter().take(2) {
        app.toast(format!("Theme skipped: {e}"), Level::Warn);
    }
    let source = Source::Real {
        ctx: ctx.clone(),
        paths,
        config: Box::new(config),
    };
    run(app, source, ctx)
}

/// Opens the dashboard over deterministic demo data; reads and writes no user data.
pub fn run_demo(ctx: &Ctx, seed: u64, preset: Preset) -> Result<ExitCode, String> {
    let config = demo_config();
    let tz = time_zone(&config);
    let mut app = App::new(
        config,
        None,
        Arc::new(ThemeSet::builtin()),
        no_color(ctx),
        terminal_variant(ctx),
        ctx.now_ms(),
        tz,
    );
    app.source.demo = true;
    let source = Source::Demo {
        seed,
        preset,
        ctx: ctx.clone(),
    };
    run(app, source, ctx)
}

/// The demo's config: defaults with budgets set, so every gauge has something to show.
pub fn demo_config() -> Config {
    let mut c = Config::default();
    c.budgets.daily = Some(40.0);
    c.budgets.weekly = Some(250.0);
    c.budgets.monthly = Some(900.0);
    c.display.default_window = TimeWindow::H24;
    c
}

fn no_color(ctx: &Ctx) -> bool {
    ctx.env("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn run(mut app: App, source: Source, ctx: &Ctx) -> Result<ExitCode, String> {
    if !std::io::stdout().is_terminal() {
        return Err("the dashboard needs a terminal; use 'ttop summary' or 'ttop report' for text output".into());
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    let (cmd_tx, cmd_rx) = mpsc::channel::<Cmd>();
    let window = app.window;
    let tz = app.tz.clone();
    {
        let tx = tx.clone();
        let cmd_tx = cmd_tx.clone();
        std::thread::Builder::new()
            .name("ttop-worker".into())
            .spawn(move || worker(source, window, tz, tx, cmd_rx, cmd_tx))
            .map_err(|e| format!("cannot start the worker thread: {e}"))?;
    }
    // Raw mode first, then the input thread: it never reads the terminal in cooked mode.
    // `ratatui::init` also installs a panic hook that restores the terminal.
    let mut terminal = ratatui::init();
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let restore_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        restore_hook(info);
    }));
    let input_tx = tx.clone();
    let result = std::thread::Builder::new()
        .name("ttop-input".into())
        .spawn(move || input(input_tx))
        .map_err(|e| format!("cannot start the input thread: {e}"))
        .and_then(|_| event_loop(&mut terminal, &mut app, &rx, &cmd_tx, ctx));
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result.map(|()| ExitCode::SUCCESS)
}

/// Reads terminal events and forwards them; ends when the UI is gone.
fn input(tx: Sender<Msg>) {
    loop {
        let msg = match event::read() {
            Ok(Event::Key(k)) => Msg::Key(k),
            Ok(Event::Mouse(m)) => Msg::Mouse(m),
            Ok(Event::Resize(..)) => Msg::Tick(0),
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Msg>,
    cmd_tx: &Sender<Cmd>,
    ctx: &Ctx,
) -> Result<(), String> {
    let mut next_tick = Instant::now();
    loop {
        terminal
            .draw(|f| super::draw::draw(f, app))
            .map_err(|e| format!("cannot draw: {e}"))?;
        let tick = if app.progress.is_some() {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        let wait = next_tick.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(wait) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        // Input first: drain everything queued, then draw once.
        let mut msgs: Vec<Msg> = first.into_iter().collect();
        msgs.extend(rx.try_iter());
        if Instant::now() >= next_tick || msgs.iter().any(|m| matches!(m, Msg::Tick(0))) {
            next_tick = Instant::now() + tick;
            msgs.push(Msg::Tick(ctx.now_ms()));
        }
        for msg in msgs {
            let msg = match msg {
                Msg::Tick(0) => Msg::Tick(ctx.now_ms()),
                m => m,
            };
            for fx in app.update(msg) {
                match fx {
                    Effect::Quit => return Ok(()),
                    Effect::Bell(n) => {
                        let mut out = std::io::stdout();
                        let _ = out.write_all(&vec![0x07; usize::from(n)]);
                        let _ = out.flush();
                    }
                    Effect::Desktop { title, body } => {
                        let seq = desktop_notification(&terminal_kind(ctx), &title, &body);
                        let mut out = std::io::stdout();
                        let _ = out.write_all(seq.as_bytes());
                        let _ = out.flush();
                    }
                    Effect::SetWindow(w) => {
                        let _ = cmd_tx.send(Cmd::Window(w));
                    }
                    Effect::Refresh => {
                        let _ = cmd_tx.send(Cmd::Refresh);
                    }
                    Effect::LoadSession(id) => {
                        let _ = cmd_tx.send(Cmd::Session(id));
                    }
                    Effect::SaveConfig(c) => {
                        let _ = cmd_tx.send(Cmd::Save(c));
                    }
                }
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

/// What the worker keeps between requests.
struct Worker {
    /// The writing connection (ingest).
    store: Store,
    /// A second, reading connection: WAL lets it answer the UI while an ingest writes.
    /// `None` for the in-memory demo store, which answers from `store`.
    reader: Option<Store>,
    window: TimeWindow,
    tz: TimeZone,
    tx: Sender<Msg>,
    prices: Box<dyn Prices>,
}

/// Sends a window's data (and trends when asked) read from `db`.
fn publish_with(
    db: &Store,
    window: TimeWindow,
    tz: &TimeZone,
    prices: &dyn Prices,
    tx: &Sender<Msg>,
    now_ms: i64,
    trends: bool,
) -> bool {
    let q = Query {
        window,
        now_ms,
        tz: tz.clone(),
    };
    let sent = match model::load(db, &q, prices) {
        Ok(d) => tx.send(Msg::Data(Arc::new(d))),
        Err(e) => tx.send(Msg::Notice(format!("Cannot read the store: {e}"), Level::Critical)),
    };
    if sent.is_err() {
        return false;
    }
    if trends {
        let sent = match model::load_trends(db, now_ms, tz, prices) {
            Ok(t) => tx.send(Msg::Trends(Arc::new(t))),
            Err(e) => tx.send(Msg::Notice(format!("Cannot read daily usage: {e}"), Level::Critical)),
        };
        return sent.is_ok();
    }
    true
}

/// Sends a session's latest requests read from `db`.
fn session_with(db: &Store, tx: &Sender<Msg>, id: &str) -> bool {
    let sent = match model::load_session(db, id) {
        Ok(d) => tx.send(Msg::Detail(Arc::new(d))),
        Err(e) => tx.send(Msg::Notice(format!("Cannot read session '{id}': {e}"), Level::Warn)),
    };
    sent.is_ok()
}

impl Worker {
    fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }

    /// The connection queries use.
    fn db(&self) -> &Store {
        self.reader.as_ref().unwrap_or(&self.store)
    }

    /// Sends the window's data; trends too when asked.
    fn publish(&self, now_ms: i64, trends: bool) -> bool {
        publish_with(
            self.db(),
            self.window,
            &self.tz,
            self.prices.as_ref(),
            &self.tx,
            now_ms,
            trends,
        )
    }

    fn session(&self, id: &str) -> bool {
        session_with(self.db(), &self.tx, id)
    }

    /// Reads new agent usage. Meanwhile, between files, it answers the requests that only
    /// read (another window, a session's details) from the reading connection, so a long
    /// first ingest never holds up the UI; other requests wait in `deferred`.
    fn ingest(
        &mut self,
        agents: &[Arc<crate::def::Agent>],
        ctx: &Ctx,
        show: bool,
        rx: &Receiver<Cmd>,
        deferred: &mut std::collections::VecDeque<Cmd>,
    ) -> agent::IngestReport {
        let Worker {
            store,
            reader,
            window,
            tz,
            tx,
            prices,
        } = self;
        let mut last = Instant::now();
        let mut last_publish = Instant::now();
        let mut publish_cost = Duration::ZERO;
        let mut progress = |p: agent::Progress| {
            if show && last.elapsed() >= Duration::from_millis(100) {
                last = Instant::now();
                let _ = tx.send(Msg::Progress(Some(format!("reading {p}"))));
            }
            let Some(db) = reader.as_ref() else { return };
            // Show what has been read so far, as often as the query cost allows.
            if show && last_publish.elapsed() >= (publish_cost * 5).max(Duration::from_secs(1)) {
                let started = Instant::now();
                publish_with(db, *window, tz, prices.as_ref(), tx, ctx.now_ms(), false);
                publish_cost = started.elapsed();
                last_publish = Instant::now();
            }
            while let Ok(cmd) = rx.try_recv() {
                match cmd {
                    Cmd::Window(w) => {
                        *window = w;
                        publish_with(db, w, tz, prices.as_ref(), tx, ctx.now_ms(), false);
                    }
                    Cmd::Session(id) => {
                        session_with(db, tx, &id);
                    }
                    other => deferred.push_back(other),
                }
            }
        };
        agent::ingest(store, agents, ctx, &mut progress)
    }
}

fn worker(source: Source, window: TimeWindow, tz: TimeZone, tx: Sender<Msg>, rx: Receiver<Cmd>, cmd_tx: Sender<Cmd>) {
    match source {
        Source::Demo { seed, preset, ctx } => demo_worker(seed, preset, &ctx, window, tz, tx, rx),
        Source::Real { ctx, paths, config } => real_worker(&ctx, &paths, &config, window, tz, tx, rx, cmd_tx),
    }
}

fn demo_worker(
    seed: u64,
    preset: Preset,
    ctx: &Ctx,
    window: TimeWindow,
    tz: TimeZone,
    tx: Sender<Msg>,
    rx: Receiver<Cmd>,
) {
    let mut now = ctx.now_ms();
    let store = match demo::store(seed, preset, now) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Msg::Notice(format!("Cannot build the demo data: {e}"), Level::Critical));
            return;
        }
    };
    let mut w = Worker {
        store,
        reader: None,
        window,
        tz,
        tx,
        prices: Box::new(NoPrices),
    };
    if !w.send(Msg::Providers(demo::providers(seed, preset, now))) || !w.publish(now, true) {
        return;
    }
    let mut ticks: u64 = 0;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(Cmd::Window(win)) => {
                w.window = win;
                if !w.publish(now, false) || !w.send(Msg::Progress(None)) {
                    return;
                }
                continue;
            }
            Ok(Cmd::Session(id)) => {
                if !w.session(&id) {
                    return;
                }
                continue;
            }
            Ok(Cmd::Save(cfg)) => {
                // The demo never writes the user's files: the settings apply to this run only.
                if !w.send(Msg::ConfigSaved(Ok(cfg))) {
                    return;
                }
                continue;
            }
            Ok(Cmd::Refresh) => {
                let _ = w.send(Msg::Providers(demo::providers(seed, preset, ctx.now_ms())));
            }
            Ok(Cmd::Changed | Cmd::Prices(_)) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let later = ctx.now_ms();
        let fresh = demo::live_records(seed, preset, now, later);
        now = later;
        if !fresh.is_empty()
            && let Err(e) = demo::commit(&mut w.store, fresh)
        {
            let _ = w.send(Msg::Notice(format!("Demo data: {e}"), Level::Warn));
        }
        ticks += 1;
        if ticks.is_multiple_of(5) && !w.send(Msg::Providers(demo::providers(seed, preset, now))) {
            return;
        }
        if !w.publish(now, ticks.is_multiple_of(10)) || !w.send(Msg::Progress(None)) {
            return;
        }
    }
}

/// What the user's agents would have been found under, for the empty state.
fn looked_in(reg: &Registry, rep: &agent::IngestReport) -> Vec<String> {
    let mut out = Vec::new();
    for a in reg.agents() {
        let mut roots: Vec<String> = rep
            .sources
            .iter()
            .filter(|s| s.agent == a.id)
            .flat_map(|s| s.roots.clone())
            .collect();
        if roots.is_empty() {
            for r in a
                .sources
                .iter()
                .flat_map(|s| s.roots.iter().map(|t| t.source().to_owned()))
            {
                if !roots.contains(&r) {
                    roots.push(r);
                }
            }
        }
        out.push(format!("{}: {}", a.meta.name, roots.join(", ")));
    }
    out
}

#[allow(clippy::too_many_arguments)] // One call site; a struct would only rename these.
fn real_worker(
    ctx: &Ctx,
    paths: &Paths,
    config: &Config,
    window: TimeWindow,
    tz: TimeZone,
    tx: Sender<Msg>,
    rx: Receiver<Cmd>,
    cmd_tx: Sender<Cmd>,
) {
    let _ = tx.send(Msg::Progress(Some("opening the store".into())));
    let store = match Store::open(&paths.db) {
        Ok(s) => s,
        Err(e) => {
            // Said where the data would be, and kept on screen (a toast would fade).
            let _ = tx.send(Msg::Progress(None));
            let _ = tx.send(Msg::Source(SourceInfo {
                errors: vec![format!("cannot open the store: {e}")],
                home: Some(ctx.home().display().to_string()),
                ..SourceInfo::default()
            }));
            return;
        }
    };
    let mut w = Worker {
        store,
        reader: Store::open(&paths.db).ok(),
        window,
        tz,
        tx,
        prices: Box::new(NoPrices),
    };
    // Stored data first, so the first frame has something to show; then prices from
    // the cache or the embedded snapshot (no network), and the same data priced.
    if !w.publish(ctx.now_ms(), false) {
        return;
    }
    let offline = LoadOptions {
        offline: true,
        ..LoadOptions::from_config(config)
    };
    match price_source::load(ctx, &paths.cache_dir, config, &offline) {
        Ok(loaded) => w.prices = Box::new(PricerPrices { pricer: loaded.pricer }),
        Err(e) => {
            let _ = w.send(Msg::Notice(format!("No prices: {e}"), Level::Warn));
        }
    }
    if !w.publish(ctx.now_ms(), true) {
        return;
    }
    let env = CompileEnv {
        home: ctx.home().to_path_buf(),
    };
    let reg = Registry::load_all(Some(&paths.definitions_dir()), &config.disabled, &env);
    let agents = reg.agents();
    let mut info = SourceInfo {
        home: Some(ctx.home().display().to_string()),
        ..SourceInfo::default()
    };
    if reg.has_errors() {
        info.errors
            .push("some definitions have errors and are skipped; run 'ttop validate-def'".into());
    }
    let mut deferred: std::collections::VecDeque<Cmd> = std::collections::VecDeque::new();
    let _ = w.send(Msg::Progress(Some("looking for agent sessions".into())));
    let rep = w.ingest(&agents, ctx, true, &rx, &mut deferred);
    for e in rep.errors.iter().take(3) {
        info.errors.push(format!("{}: {}", e.agent, e.message));
    }
    if w.store.record_count().unwrap_or(0) == 0 {
        info.looked_in = looked_in(&reg, &rep);
    }
    if !w.send(Msg::Source(info.clone())) || !w.publish(ctx.now_ms(), true) || !w.send(Msg::Progress(None)) {
        return;
    }
    // Fresh prices from the catalogue (when the cache is stale) and provider polls run on
    // threads of their own, so a slow network never holds up the session updates.
    if !config.pricing.offline {
        spawn_price_refresh(ctx.clone(), paths.cache_dir.clone(), config.clone(), cmd_tx.clone());
    }
    let poller = start_providers(ctx, paths, config, &reg, w.tx.clone());
    // Watch the session files; a change wakes an incremental ingest.
    let (wtx, wrx) = mpsc::channel::<WatchEvent>();
    let _watch = agent::watch(&agents, ctx, Duration::from_millis(150), Duration::from_secs(60), wtx);
    std::thread::Builder::new()
        .name("ttop-watch-fwd".into())
        .spawn(move || {
            while wrx.recv().is_ok() {
                if cmd_tx.send(Cmd::Changed).is_err() {
                    return;
                }
            }
        })
        .ok();
    let mut last_publish = Instant::now();
    let mut last_trends = Instant::now();
    let mut publish_cost = Duration::ZERO;
    let mut trends_dirty = false;
    loop {
        let cmd = match deferred.pop_front() {
            Some(c) => Some(c),
            None => match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        let mut changed = false;
        let mut refresh = false;
        let mut repriced = false;
        match cmd {
            Some(Cmd::Window(win)) => {
                w.window = win;
                if !w.publish(ctx.now_ms(), false) || !w.send(Msg::Progress(None)) {
                    return;
                }
                last_publish = Instant::now();
                continue;
            }
            Some(Cmd::Session(id)) => {
                if !w.session(&id) {
                    return;
                }
                continue;
            }
            Some(Cmd::Save(cfg)) => {
                let reply = cfg
                    .save_atomic(&paths.config_file())
                    .map(|()| cfg)
                    .map_err(|e| e.to_string());
                if !w.send(Msg::ConfigSaved(reply)) {
                    return;
                }
                continue;
            }
            Some(Cmd::Changed) => changed = true,
            Some(Cmd::Refresh) => {
                refresh = true;
                if let Some(p) = &poller {
                    p.refresh_now();
                }
            }
            Some(Cmd::Prices(pricer)) => {
                w.prices = Box::new(PricerPrices { pricer: *pricer });
                repriced = true;
            }
            None => {}
        }
        // Coalesce a burst of change notifications into one ingest.
        while let Ok(more) = rx.try_recv() {
            match more {
                Cmd::Changed => changed = true,
                Cmd::Refresh => refresh = true,
                Cmd::Prices(pricer) => {
                    w.prices = Box::new(PricerPrices { pricer: *pricer });
                    repriced = true;
                }
                Cmd::Window(win) => w.window = win,
                Cmd::Session(id) => {
                    if !w.session(&id) {
                        return;
                    }
                }
                Cmd::Save(cfg) => {
                    let reply = cfg
                        .save_atomic(&paths.config_file())
                        .map(|()| cfg)
                        .map_err(|e| e.to_string());
                    if !w.send(Msg::ConfigSaved(reply)) {
                        return;
                    }
                }
            }
        }
        if changed || refresh {
            let rep = w.ingest(&agents, ctx, refresh, &rx, &mut deferred);
            // Data arrived where there was none: the "looked in" hint goes away.
            if refresh || (!info.looked_in.is_empty() && w.store.record_count().unwrap_or(0) > 0) {
                info.errors = rep
                    .errors
                    .iter()
                    .take(3)
                    .map(|e| format!("{}: {}", e.agent, e.message))
                    .collect();
                if w.store.record_count().unwrap_or(0) > 0 {
                    info.looked_in.clear();
                }
                let _ = w.send(Msg::Source(info.clone()));
            }
        }
        // The windows slide with the clock even without new data. Reloads are spaced by
        // how long they take, so a huge store never keeps the worker busy; the daily
        // trends (the heavy query) follow changes at most every ten seconds.
        let every = (publish_cost * 10).max(Duration::from_secs(5));
        trends_dirty |= changed;
        let trends = refresh
            || repriced
            || (trends_dirty && last_trends.elapsed() >= Duration::from_secs(10))
            || last_trends.elapsed() >= Duration::from_secs(60);
        if changed || trends || last_publish.elapsed() >= every {
            let started = Instant::now();
            if !w.publish(ctx.now_ms(), trends) || !w.send(Msg::Progress(None)) {
                return;
            }
            publish_cost = started.elapsed();
            last_publish = Instant::now();
            if trends {
                last_trends = Instant::now();
                trends_dirty = false;
            }
        }
    }
}

/// Loads prices with the network allowed (respecting the cache's TTL and the back-off
/// after a failure), then again every TTL; newer prices go to the worker.
fn spawn_price_refresh(ctx: Ctx, cache_dir: PathBuf, config: Config, cmd_tx: Sender<Cmd>) {
    let _ = std::thread::Builder::new().name("ttop-prices".into()).spawn(move || {
        let opts = LoadOptions::from_config(&config);
        loop {
            if let Ok(loaded) = price_source::load(&ctx, &cache_dir, &config, &opts)
                && loaded.status == LiveStatus::Fetched
                && cmd_tx.send(Cmd::Prices(Box::new(loaded.pricer))).is_err()
            {
                return;
            }
            std::thread::sleep(opts.ttl.max(Duration::from_secs(3600)));
        }
    });
}

/// Polls the configured providers in the background; each result updates that
/// provider's status (with its trend) on the dashboard.
fn start_providers(
    ctx: &Ctx,
    paths: &Paths,
    config: &Config,
    reg: &Registry,
    tx: Sender<Msg>,
) -> Option<crate::engine::provider::Poller> {
    use crate::def::Definition;
    use crate::engine::provider::{PollOptions, Poller, ProviderUsage, RunEnv};
    let providers: Vec<_> = reg
        .active()
        .filter_map(|d| match d {
            Definition::Provider(p) => Some(Arc::clone(p)),
            _ => None,
        })
        .collect();
    if providers.is_empty() {
        return None;
    }
    let interval = if config.refresh.paused {
        // Paused: one poll at start, then only when asked (r).
        Duration::from_secs(365 * 24 * 3600)
    } else {
        config.refresh.interval.get()
    };
    let opts = PollOptions {
        interval,
        db: Some(paths.db.clone()),
        ..PollOptions::default()
    };
    let (ptx, prx) = mpsc::channel::<ProviderUsage>();
    let poller = match Poller::start(providers, RunEnv::new(ctx.clone(), config.providers.clone()), opts, ptx) {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(Msg::Notice(format!("Cannot poll providers: {e}"), Level::Warn));
            return None;
        }
    };
    let _ = std::thread::Builder::new()
        .name("ttop-providers".into())
        .spawn(move || {
            let mut all: Vec<ProviderStatus> = Vec::new();
            for u in prx {
                if !u.configured {
                    continue;
                }
                let at = all.iter().position(|p| p.id == u.id);
                let history = at.map(|i| all[i].history.clone()).unwrap_or_default();
                let status = ProviderStatus::from_usage(&u, history);
                match at {
                    Some(i) => all[i] = status,
                    None => {
                        all.push(status);
                        all.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                }
                if tx.send(Msg::Providers(all.clone())).is_err() {
                    return;
                }
            }
        });
    Some(poller)
}

/// The flags of `ttop demo`.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// The seed: the same seed shows the same data.
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    pub seed: u64,
    /// How busy the demo is.
    #[arg(long, value_enum, default_value_t = Preset::Normal)]
    pub preset: Preset,
}

/// Which notification escape a terminal understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalKind {
    /// iTerm2 and others that show OSC 9 as a notification.
    Osc9,
    /// kitty's OSC 99.
    Kitty,
    /// OSC 777 `notify` (foot, WezTerm, Ghostty, rxvt, Konsole and most others).
    Osc777,
}

fn terminal_kind(ctx: &Ctx) -> TerminalKind {
    let program = ctx.env("TERM_PROGRAM").unwrap_or_default();
    let term = ctx.env("TERM").unwrap_or_default();
    if program == "iTerm.app" {
        TerminalKind::Osc9
    } else if term == "xterm-kitty" || ctx.env("KITTY_WINDOW_ID").is_some() {
        TerminalKind::Kitty
    } else {
        TerminalKind::Osc777
    }
}

/// The escape sequence that asks the terminal for a desktop notification. Control
/// characters and the separators of the sequence are removed from the text.
pub fn desktop_notification(kind: &TerminalKind, title: &str, body: &str) -> String {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control() && *c != ';').collect() };
    let (title, body) = (clean(title), clean(body));
    match kind {
        TerminalKind::Osc9 => format!("\x1b]9;{title}: {body}\x1b\\"),
        TerminalKind::Kitty => format!("\x1b]99;;{title}: {body}\x1b\\"),
        TerminalKind::Osc777 => format!("\x1b]777;notify;{title};{body}\x1b\\"),
    }
}

#[cfg(test)]
mod desktop_tests {
    use super::*;

    #[test]
    fn notification_sequences_are_clean() {
        let s = desktop_notification(&TerminalKind::Osc777, "ttop", "Daily budget; 95%\x07\n");
        assert_eq!(s, "\x1b]777;notify;ttop;Daily budget 95%\x1b\\");
        assert!(desktop_notification(&TerminalKind::Osc9, "t", "b").starts_with("\x1b]9;t: b"));
        assert!(desktop_notification(&TerminalKind::Kitty, "t", "b").starts_with("\x1b]99;;t: b"));
    }
}
