//! Every screen draws at every size from 1×1 to ultrawide without panicking, and from
//! 40×12 up the header and the status bar stay in place with the view between them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.

use std::sync::Arc;

use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ttop::demo::{self, Preset};
use ttop::model::{self, NoPrices, Query};
use ttop::theme::ThemeSet;
use ttop::tui::app::{App, Msg};
use ttop::tui::draw::draw;
use ttop::tui::runtime::demo_config;

const NOW: i64 = 1_796_308_200_000;

fn app(preset: Preset) -> App {
    let store = demo::store(9, preset, NOW).unwrap();
    let mut app = App::new(
        demo_config(),
        Some("config.toml:3:1: bad".into()),
        Arc::new(ThemeSet::builtin()),
        false,
        None,
        NOW,
        TimeZone::UTC,
    );
    let q = Query {
        window: app.window,
        now_ms: NOW,
        tz: TimeZone::UTC,
    };
    app.update(Msg::Data(Arc::new(model::load(&store, &q, &NoPrices).unwrap())));
    app.update(Msg::Trends(Arc::new(
        model::load_trends(&store, NOW, &TimeZone::UTC, &NoPrices).unwrap(),
    )));
    app.update(Msg::Providers(demo::providers(9, preset, NOW)));
    app
}

fn press(app: &mut App, keys: &[KeyCode]) {
    for k in keys {
        app.update(Msg::Key(KeyEvent::new(*k, KeyModifiers::NONE)));
    }
}

fn lines(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_owned()).collect::<String>())
        .collect()
}

#[test]
fn every_screen_draws_at_every_size() {
    use KeyCode::Char as C;
    let screens: Vec<(&str, Vec<KeyCode>)> = vec![
        ("dashboard", vec![]),
        ("drawer", vec![KeyCode::Enter]),
        ("sidebar", vec![KeyCode::Tab, KeyCode::Tab]),
        ("collapsed", vec![C('i')]),
        ("providers", vec![C('2')]),
        ("trends", vec![C('3'), KeyCode::Left]),
        ("trends 90", vec![C('3'), C('t'), C('t')]),
        ("projects", vec![C('4')]),
        ("project drawer", vec![C('4'), KeyCode::Enter]),
        ("help", vec![C('?')]),
        ("settings", vec![C(',')]),
        ("palette", vec![C(':')]),
        ("filter", vec![C('/'), C('x')]),
    ];
    let sizes: Vec<(u16, u16)> = vec![
        (1, 1),
        (10, 3),
        (19, 4),
        (20, 5),
        (30, 8),
        (40, 12),
        (50, 14),
        (60, 20),
        (79, 23),
        (80, 24),
        (84, 25),
        (85, 29),
        (94, 30),
        (95, 31),
        (99, 34),
        (100, 35),
        (104, 40),
        (105, 24),
        (119, 30),
        (120, 36),
        (139, 40),
        (140, 42),
        (159, 45),
        (160, 48),
        (200, 60),
        (300, 80),
        (400, 20),
    ];
    for preset in [Preset::Light, Preset::Heavy] {
        for (name, keys) in &screens {
            let mut a = app(preset);
            press(&mut a, keys);
            for &(w, h) in &sizes {
                let out = lines(&a, w, h);
                if w >= 40 && h >= 12 {
                    assert!(
                        out[0].contains("ttop"),
                        "{name} at {w}x{h}: no header:\n{}",
                        out.join("\n")
                    );
                    let last = &out[h as usize - 1];
                    assert!(
                        last.contains("t 24h") || last.contains("help") || last.contains("Esc"),
                        "{name} at {w}x{h}: no status bar:\n{}",
                        out.join("\n")
                    );
                }
            }
        }
    }
}

#[test]
fn an_empty_store_draws_everywhere_too() {
    let mut a = App::new(
        demo_config(),
        None,
        Arc::new(ThemeSet::builtin()),
        true,
        None,
        NOW,
        TimeZone::UTC,
    );
    for keys in [
        vec![],
        vec![KeyCode::Char('2')],
        vec![KeyCode::Char('3')],
        vec![KeyCode::Char('4')],
    ] {
        press(&mut a, &keys);
        for (w, h) in [(40, 12), (80, 24), (160, 48)] {
            let out = lines(&a, w, h).join("\n");
            assert!(out.contains("ttop"), "{out}");
        }
    }
}
