//! The dashboard's behaviour through its state owner: keys, effects, alerts, settings,
//! the palette, `NO_COLOR` and unknown costs. No terminal, a fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ttop::config::{Config, TimeWindow};
use ttop::demo::{self, Preset};
use ttop::engine::record::{Tokens, UsageRecord};
use ttop::model::{self, NoPrices, Query};
use ttop::store::Store;
use ttop::theme::ThemeSet;
use ttop::tui::app::{App, Effect, Msg, Overlay, View};
use ttop::tui::draw::draw;
use ttop::tui::runtime::demo_config;

const NOW: i64 = 1_796_308_200_000;

fn load(app: &mut App, store: &Store) -> Vec<Effect> {
    let q = Query {
        window: app.window,
        now_ms: NOW,
        tz: TimeZone::UTC,
    };
    let mut fx = app.update(Msg::Data(Arc::new(model::load(store, &q, &NoPrices).unwrap())));
    fx.extend(app.update(Msg::Trends(Arc::new(
        model::load_trends(store, NOW, &TimeZone::UTC, &NoPrices).unwrap(),
    ))));
    fx
}

fn demo_app(config: Config) -> (App, Store) {
    let store = demo::store(demo::DEFAULT_SEED, Preset::Normal, NOW).unwrap();
    let mut app = App::new(
        config,
        None,
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    load(&mut app, &store);
    (app, store)
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn text(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| key(app, KeyCode::Char(c))).collect()
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_owned()).collect::<String>() + "\n")
        .collect()
}

#[test]
fn budget_alerts_fire_once_with_toast_and_bell_in_any_view() {
    let mut cfg = demo_config();
    cfg.budgets.daily = Some(1.0);
    cfg.budgets.weekly = None;
    cfg.budgets.monthly = None;
    cfg.alerts.bell = true;
    let store = demo::store(demo::DEFAULT_SEED, Preset::Normal, NOW).unwrap();
    let mut app = App::new(
        cfg,
        None,
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    app.update(Msg::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE)));
    assert_eq!(app.view, View::Trends);
    let fx = load(&mut app, &store);
    assert_eq!(fx, vec![Effect::Bell(3)]);
    assert!(
        app.toasts.iter().any(|t| t.text.starts_with("Daily budget critical")),
        "{:?}",
        app.toasts
    );
    let again = load(&mut app, &store);
    assert!(again.is_empty(), "alerts are deduplicated: {again:?}");
    // With desktop notifications on, the same alert also asks the terminal for one.
    let mut cfg = demo_config();
    cfg.budgets.daily = Some(1.0);
    cfg.budgets.weekly = None;
    cfg.budgets.monthly = None;
    cfg.alerts.desktop = true;
    let mut app2 = App::new(
        cfg,
        None,
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    let fx = load(&mut app2, &store);
    assert!(
        matches!(fx.as_slice(), [Effect::Desktop { title, body }] if title == "ttop: critical" && body.starts_with("Daily budget critical")),
        "{fx:?}"
    );
    // Toasts expire with the clock.
    app.update(Msg::Tick(NOW + 60_000));
    assert!(app.toasts.is_empty());
}

#[test]
fn provider_limits_alert_at_the_configured_thresholds() {
    let mut cfg = demo_config();
    cfg.budgets.warn_percent = 5;
    cfg.budgets.critical_percent = 99;
    let mut app = App::new(
        cfg,
        None,
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    app.update(Msg::Providers(demo::providers(1, Preset::Normal, NOW)));
    assert!(
        app.toasts.iter().any(|t| t.text.contains("of a limit used")),
        "{:?}",
        app.toasts
    );
    let n = app.toasts.len();
    app.update(Msg::Providers(demo::providers(1, Preset::Normal, NOW)));
    assert_eq!(app.toasts.len(), n);
}

#[test]
fn keys_switch_windows_views_sorting_and_filters() {
    let (mut app, store) = demo_app(demo_config());
    assert_eq!(app.window, TimeWindow::H24);
    assert_eq!(
        key(&mut app, KeyCode::Char('t')),
        vec![Effect::SetWindow(TimeWindow::D7)]
    );
    // Data of the old window arriving late is ignored.
    let before = app.data.clone();
    let q = Query {
        window: TimeWindow::H24,
        now_ms: NOW,
        tz: TimeZone::UTC,
    };
    app.update(Msg::Data(Arc::new(model::load(&store, &q, &NoPrices).unwrap())));
    assert!(Arc::ptr_eq(&before, &app.data));
    load(&mut app, &store);
    assert_eq!(app.data.window, TimeWindow::D7);
    let all = app.rows.len();
    text(&mut app, "/codex");
    key(&mut app, KeyCode::Enter);
    assert!(app.rows.len() < all && !app.rows.is_empty());
    assert!(app.rows.iter().all(|&i| app.data.sessions[i].matches("codex")));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.rows.len(), all);
    text(&mut app, "s");
    assert_eq!(app.sort.label(), "tokens");
    text(&mut app, "G");
    assert_eq!(app.sel, all - 1);
    text(&mut app, "gg");
    assert_eq!(app.sel, 0);
    for (k, v) in [
        ('2', View::Providers),
        ('3', View::Trends),
        ('4', View::Projects),
        ('1', View::Dashboard),
    ] {
        key(&mut app, KeyCode::Char(k));
        assert_eq!(app.view, v);
    }
    // Enter opens the drawer and asks for the session's requests.
    let fx = key(&mut app, KeyCode::Enter);
    assert!(matches!(&fx[..], [Effect::LoadSession(_)]));
    assert!(matches!(app.overlay, Overlay::Session(_)));
    // q closes an overlay without quitting; then it quits.
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    text(&mut app, "?");
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
}

#[test]
fn sidebar_driver_filter_and_budget_lock() {
    let (mut app, _store) = demo_app(demo_config());
    // Without providers, Tab goes straight from the sessions to the sidebar.
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, ttop::tui::app::Focus::Sidebar);
    text(&mut app, "a");
    key(&mut app, KeyCode::Enter);
    let (_, agent) = app.driver_filter.clone().unwrap();
    assert!(app.rows.iter().all(|&i| app.data.sessions[i].agent == agent));
    assert_eq!(app.budget().unwrap().period, model::Period::Daily);
    text(&mut app, "bb");
    assert_eq!(app.budget().unwrap().period, model::Period::Weekly);
    assert!(screen(&app, 160, 48).contains("WEEKLY BUDGET [locked]"));
}

#[test]
fn settings_edit_and_save_through_the_runtime() {
    let (mut app, _store) = demo_app(demo_config());
    text(&mut app, ",");
    assert!(matches!(app.overlay, Overlay::Settings(_)));
    // Move to the daily budget, type 12.5, apply.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    for _ in 0..10 {
        key(&mut app, KeyCode::Backspace);
    }
    text(&mut app, "12.5");
    key(&mut app, KeyCode::Enter);
    let fx = app.update(Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)));
    let [Effect::SaveConfig(cfg)] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(cfg.budgets.daily, Some(12.5));
    app.update(Msg::ConfigSaved(Ok(cfg.clone())));
    assert_eq!(app.config.budgets.daily, Some(12.5));
    assert!(app.toasts.iter().any(|t| t.text == "Settings saved"));
    app.update(Msg::ConfigSaved(Err("cannot write 'x': denied".into())));
    assert!(
        app.toasts
            .iter()
            .any(|t| t.text.contains("Settings not saved: cannot write 'x'"))
    );
}

#[test]
fn palette_switches_theme_and_saves_it() {
    let (mut app, _store) = demo_app(demo_config());
    let before = app.styles.clone();
    text(&mut app, ":dracula");
    let fx = key(&mut app, KeyCode::Enter);
    let [Effect::SaveConfig(cfg)] = &fx[..] else {
        panic!("{fx:?}")
    };
    assert_eq!(cfg.display.theme, "dracula");
    assert_ne!(before, app.styles);
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn a_bad_config_is_reported_on_screen() {
    let app = App::new(
        Config::default(),
        Some("/x/config.toml:2:1: display.theme: 'nope' is unknown".into()),
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    let s = screen(&app, 120, 30);
    assert!(s.contains("config not used, defaults in effect"), "{s}");
    assert!(app.toasts.iter().any(|t| t.text.contains("display.theme")));
}

#[test]
fn no_color_draws_without_colours() {
    let store = demo::store(1, Preset::Light, NOW).unwrap();
    let mut app = App::new(
        demo_config(),
        None,
        Arc::new(ThemeSet::builtin()),
        true,
        None,
        NOW,
        TimeZone::UTC,
    );
    load(&mut app, &store);
    let mut t = Terminal::new(TestBackend::new(120, 36)).unwrap();
    t.draw(|f| draw(f, &app)).unwrap();
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
}

#[test]
fn unknown_costs_show_a_dash_never_zero() {
    let mut store = Store::open_in_memory().unwrap();
    let rec = |k: &str, ts: i64| UsageRecord {
        agent: "some-agent".into(),
        dedup_key: k.into(),
        session_id: "sess-unpriced".into(),
        ts_ms: ts,
        provider: Some("p".into()),
        model: Some("mystery-model".into()),
        project: Some("/w/proj".into()),
        tokens: Tokens {
            input: 1000,
            output: 500,
            ..Tokens::default()
        },
        source_path: "/f".into(),
        ..UsageRecord::default()
    };
    demo::commit(&mut store, vec![rec("a", NOW - 10_000), rec("b", NOW - 5_000)]).unwrap();
    let mut app = App::new(
        Config::default(),
        None,
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    load(&mut app, &store);
    let s = screen(&app, 160, 40);
    let row = s.lines().find(|l| l.contains("mystery-model")).unwrap();
    assert!(row.contains('—') && !row.contains("$0.00"), "{row}");
    assert!(!s.contains("$0.00"), "{s}");
}

#[test]
fn catalogue_prices_fill_costs_the_agents_did_not_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in_memory().unwrap();
    demo::commit(
        &mut store,
        vec![UsageRecord {
            agent: "some-agent".into(),
            dedup_key: "k".into(),
            session_id: "s".into(),
            ts_ms: NOW - 1_000,
            provider: Some("anthropic".into()),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                input: 1_000_000,
                ..Tokens::default()
            },
            source_path: "/f".into(),
            ..UsageRecord::default()
        }],
    )
    .unwrap();
    let cfg = Config::default();
    let opts = ttop::pricing::source::LoadOptions {
        offline: true,
        ..ttop::pricing::source::LoadOptions::from_config(&cfg)
    };
    let ctx = ttop::engine::ctx::Ctx::fake(dir.path().to_path_buf(), Default::default());
    let loaded = ttop::pricing::source::load(&ctx, dir.path(), &cfg, &opts).unwrap();
    let prices = model::PricerPrices { pricer: loaded.pricer };
    let q = Query {
        window: TimeWindow::H24,
        now_ms: NOW,
        tz: TimeZone::UTC,
    };
    let unpriced = model::load(&store, &q, &NoPrices).unwrap();
    assert_eq!(unpriced.total.cost.amount(), None);
    let priced = model::load(&store, &q, &prices).unwrap();
    // A million input tokens of Claude Sonnet 4.5 cost $3.
    assert!(
        (priced.total.cost.amount().unwrap() - 3.0).abs() < 1e-9,
        "{:?}",
        priced.total.cost
    );
}
