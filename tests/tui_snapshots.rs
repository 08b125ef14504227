//! Snapshots of every dashboard screen at 80×24 and 160×48: the four views, the session
//! drawer, the project drawer, help, settings and the palette, drawn from the demo data
//! (seed 1337, normal preset) at a fixed clock in UTC. `CI=true` makes a mismatch fail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ttop::demo::{self, Preset};
use ttop::model::{self, NoPrices, Query};
use ttop::store::Store;
use ttop::theme::ThemeSet;
use ttop::tui::app::{App, Msg};
use ttop::tui::draw::draw;
use ttop::tui::runtime::demo_config;

/// 2026-12-03 14:30:00 UTC, a Thursday.
const NOW: i64 = 1_796_308_200_000;

fn app() -> (App, Store) {
    let config = demo_config();
    let store = demo::store(demo::DEFAULT_SEED, Preset::Normal, NOW).unwrap();
    let mut app = App::new(
        config.clone(),
        None,
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    app.source.demo = true;
    let q = Query {
        window: app.window,
        now_ms: NOW,
        tz: TimeZone::UTC,
    };
    let data = model::load(&store, &q, &NoPrices).unwrap();
    let trends = model::load_trends(&store, NOW, &TimeZone::UTC, &NoPrices).unwrap();
    app.update(Msg::Data(Arc::new(data)));
    app.update(Msg::Trends(Arc::new(trends)));
    app.update(Msg::Providers(demo::providers(demo::DEFAULT_SEED, Preset::Normal, NOW)));
    // Alerts fired by the demo budgets are covered elsewhere; keep frames clean.
    app.toasts.clear();
    if let Some(id) = app.selected_session().map(|s| s.id.clone()) {
        app.update(Msg::Detail(Arc::new(model::load_session(&store, &id).unwrap())));
    }
    (app, store)
}

/// Answers the drawer's request for the selected session, as the worker would.
fn load_detail(app: &mut App, store: &Store) {
    let id = app.selected_session().unwrap().id.clone();
    app.update(Msg::Detail(Arc::new(model::load_session(store, &id).unwrap())));
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    let backend = t.backend();
    let buf = backend.buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    // The version in the header changes with releases, not with the screen.
    out.replace(concat!("v", env!("CARGO_PKG_VERSION")), "vX.Y.Z")
}

fn snap(name: &str, setup: impl Fn(&mut App, &Store)) {
    for (w, h) in [(80, 24), (160, 48)] {
        let (mut a, store) = app();
        setup(&mut a, &store);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(&a, w, h));
    }
}

#[test]
fn dashboard() {
    snap("dashboard", |_, _| {});
}

#[test]
fn dashboard_sidebar_focus_and_filter() {
    snap("dashboard_filtered", |a, _| {
        key(a, KeyCode::Tab);
        key(a, KeyCode::Tab);
        keys(a, "p");
        key(a, KeyCode::Enter);
    });
}

#[test]
fn session_drawer() {
    snap("session_drawer", |a, store| {
        key(a, KeyCode::Enter);
        load_detail(a, store);
    });
}

#[test]
fn providers() {
    snap("providers", |a, _| keys(a, "2"));
}

#[test]
fn trends() {
    snap("trends", |a, _| {
        keys(a, "3");
        key(a, KeyCode::Left);
        key(a, KeyCode::Left);
    });
}

#[test]
fn projects_and_drawer() {
    snap("projects", |a, _| keys(a, "4"));
    snap("project_drawer", |a, _| {
        keys(a, "4");
        key(a, KeyCode::Enter);
    });
}

#[test]
fn help_settings_palette() {
    snap("help", |a, _| keys(a, "?"));
    snap("settings", |a, _| keys(a, ","));
    snap("palette", |a, _| keys(a, ":them"));
}
