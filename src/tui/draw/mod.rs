//! Drawing: a pure function of `&App` into a frame. No I/O, no SQL, no state changes.
//!
//! Layout: a one-line header (tabs, progress, badges), the view, an optional config
//! warning line and a one-line status bar; overlays (drawers, help, settings, palette)
//! and toasts go on top. Every rectangle is clipped to the frame, so any size draws.

mod dashboard;
mod views;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Overlay, View};
use super::fmt;
use super::palette;
use super::settings::Field;
use crate::model::Level;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    frame.render_widget(Block::default().style(app.styles.base), area);
    if area.width < 20 || area.height < 4 {
        frame.render_widget(Paragraph::new("ttop: window too small").style(app.styles.warning), area);
        return;
    }
    let warn_line = app.config_error.is_some() && area.height >= 14;
    let [header, body, warn, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(u16::from(warn_line)),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, app, header);
    match app.view {
        View::Dashboard => dashboard::draw(frame, app, body),
        View::Providers => views::providers(frame, app, body),
        View::Trends => views::trends(frame, app, body),
        View::Projects => views::projects(frame, app, body),
    }
    if warn_line && let Some(e) = &app.config_error {
        frame.render_widget(
            Paragraph::new(format!(" ⚠ config not used, defaults in effect: {e}")).style(app.styles.warning),
            warn,
        );
    }
    draw_status(frame, app, status);
    // Overlays cover the view, never the header or the status bar.
    let over = Rect {
        y: area.y + 1,
        height: area.height - 2,
        ..area
    };
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => draw_help(frame, app, over),
        Overlay::Settings(_) => draw_settings(frame, app, over),
        Overlay::Palette(_) => draw_palette(frame, app, over),
        Overlay::Session(id) => dashboard::drawer(frame, app, over, id),
        Overlay::Project(path) => views::project_drawer(frame, app, over, path),
    }
    draw_toasts(frame, app, area);
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// A bordered block with a title, focused or not.
pub fn panel<'a>(app: &App, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focused {
            app.styles.border_focused
        } else {
            app.styles.border
        })
        .title(title)
        .title_style(app.styles.accent)
}

/// A modal frame: cleared, on the surface colour.
pub fn modal<'a>(frame: &mut Frame<'_>, app: &App, area: Rect, title: &'a str, hint: &'a str) -> Rect {
    frame.render_widget(Clear, area);
    let block = panel(app, format!(" {title} "), true)
        .title_bottom(Line::from(format!(" {hint} ")).right_aligned())
        .style(app.styles.surface);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A gauge as spans: filled bar, track and optional percentage.
pub fn gauge<'a>(app: &App, fraction: Option<f64>, width: usize, level: Level) -> Vec<Span<'a>> {
    match fraction {
        Some(f) => {
            let (filled, empty) = fmt::bar(f, width);
            vec![
                Span::styled(filled, app.styles.level(level)),
                Span::styled(empty, app.styles.track),
            ]
        }
        None => vec![Span::styled("·".repeat(width), app.styles.track)],
    }
}

fn draw_header(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let s = &app.styles;
    frame.render_widget(Block::default().style(s.header), area);
    let wide = area.width >= 70;
    let mut spans = vec![Span::styled(
        " ttop ",
        s.accent.patch(s.header).add_modifier(Modifier::BOLD),
    )];
    for (i, v) in View::ALL.iter().enumerate() {
        let label = if wide {
            format!(" {} {} ", i + 1, v.title())
        } else {
            format!(" {}{} ", i + 1, &v.title()[..1])
        };
        spans.push(if *v == app.view {
            Span::styled(label, s.tab_active)
        } else {
            Span::styled(label, s.header)
        });
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let mut right: Vec<Span> = Vec::new();
    if let Some(p) = &app.progress {
        let spin = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'][((app.now_ms / 100) % 10) as usize];
        let max = (area.width as usize).saturating_sub(60).max(10);
        right.push(Span::styled(format!("{spin} {} ", fmt::trunc(p, max)), s.info));
    }
    if app.source.demo {
        right.push(Span::styled(" DEMO ", s.tab_active));
        right.push(Span::raw(" "));
    }
    if area.width >= 90 {
        right.push(Span::styled(format!("v{} ", env!("CARGO_PKG_VERSION")), s.muted));
    }
    let width: usize = right.iter().map(|s| s.width()).sum();
    let w = (width as u16).min(area.width);
    let r = Rect {
        x: area.x + area.width - w,
        width: w,
        ..area
    };
    frame.render_widget(Paragraph::new(Line::from(right)).style(s.header), r);
}

fn draw_status(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let s = &app.styles;
    frame.render_widget(Block::default().style(s.status), area);
    let short = area.width < 100;
    let mut right = format!(" t {} ", app.window);
    if !app.filter.is_empty() && app.filter_input.is_none() {
        right = format!("filter '{}'  {right}", fmt::trunc(&app.filter, 16));
    }
    if let Some(t) = app.last_refresh_ms {
        right.push_str(&format!("· {} ", fmt::clock(t, &app.tz, short)));
    }
    let left = match &app.filter_input {
        Some(input) => format!(" /{input}▏  {}", app.hints()),
        None if area.width >= 130 => format!(" {}  ? help  : cmd  , settings  q quit", app.hints()),
        None if area.width >= 80 => format!(" {}  ? help", app.hints()),
        None => " ? help  q quit".to_owned(),
    };
    let rw = (right.chars().count() as u16).min(area.width / 2);
    let [l, r] = Layout::horizontal([Constraint::Min(1), Constraint::Length(rw)]).areas(area);
    frame.render_widget(Paragraph::new(left).style(s.status), l);
    frame.render_widget(Paragraph::new(right).style(s.status).right_aligned(), r);
}

fn draw_toasts(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let mut y = area.y + 1;
    for t in app.toasts.iter().rev() {
        let width = (t.text.chars().count() as u16 + 4)
            .min(area.width.saturating_sub(2))
            .min(60);
        let lines = if width >= 60 { 2 } else { 1 };
        if y + lines + 2 > area.y + area.height || width < 8 {
            break;
        }
        let rect = Rect {
            x: area.x + area.width - width - 1,
            y,
            width,
            height: lines + 2,
        };
        let style = match t.level {
            Level::Ok => app.styles.success,
            Level::Warn => app.styles.warning,
            Level::Critical => app.styles.error,
        };
        frame.render_widget(Clear, rect);
        frame.render_widget(
            Paragraph::new(t.text.as_str()).wrap(Wrap { trim: true }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_type(BorderType::Rounded)
                    .border_style(style)
                    .style(app.styles.surface),
            ),
            rect,
        );
        y += lines + 2;
    }
}

/// A titled group of `(keys, what they do)` pairs.
type KeyGroup = (&'static str, &'static [(&'static str, &'static str)]);

/// Every key, grouped, for the help overlay: two columns.
const HELP: [&[KeyGroup]; 2] = [
    &[
        (
            "Global",
            &[
                ("1-4", "switch view"),
                ("t / T", "next / previous time window"),
                ("/", "filter (Esc clears)"),
                ("r", "refresh now"),
                (",", "settings"),
                (":", "command palette, themes"),
                ("?", "this help"),
                ("q Ctrl+C", "quit"),
            ],
        ),
        (
            "Trends",
            &[
                ("t", "range 7 / 30 / 90 days"),
                ("c", "cost, tokens or requests"),
                ("m p a o", "by model/project/agent/"),
                ("", "provider"),
                ("← → h l", "move the day cursor"),
            ],
        ),
    ],
    &[
        (
            "Dashboard",
            &[
                ("j k ↑ ↓", "move; gg / G top / bottom"),
                ("Enter", "session details"),
                ("Tab", "next panel (⇧Tab back)"),
                ("s", "sort: cost/tok/req/recent"),
                ("i", "show or hide the sidebar"),
                ("m p a", "top models/projects/agents"),
                ("b", "budget: sync/day/week/month"),
                ("Esc", "clear filters"),
            ],
        ),
        ("Providers, Projects", &[("j k", "select"), ("Enter", "details")]),
    ],
];

fn help_lines(app: &App, groups: &[KeyGroup]) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    for (group, keys) in groups {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*group, app.styles.accent));
        for (k, what) in *keys {
            lines.push(Line::from(vec![
                Span::styled(format!(" {k:<9}"), app.styles.accent2),
                Span::raw(*what),
            ]));
        }
    }
    lines
}

fn draw_help(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let rect = centered(area, 92, 24);
    let inner = modal(frame, app, rect, "Keys", "Esc close");
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    if body.width >= 76 {
        let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)])
            .spacing(2)
            .areas(body);
        frame.render_widget(Paragraph::new(help_lines(app, HELP[0])), left);
        frame.render_widget(Paragraph::new(help_lines(app, HELP[1])), right);
    } else {
        let mut lines = help_lines(app, HELP[0]);
        lines.push(Line::raw(""));
        lines.extend(help_lines(app, HELP[1]));
        frame.render_widget(Paragraph::new(lines), body);
    }
    frame.render_widget(
        Paragraph::new("A cost shows — when no price is known, never a made-up $0.").style(app.styles.muted),
        foot,
    );
}

fn draw_settings(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Overlay::Settings(st) = &app.overlay else { return };
    let rect = centered(area, 64, Field::ALL.len() as u16 + 7);
    let inner = modal(frame, app, rect, "Settings", "Ctrl+S save · Esc cancel");
    let mut lines: Vec<Line> = Vec::new();
    let path = app
        .config_path
        .as_ref()
        .map_or_else(|| "(demo: not saved to disk)".to_owned(), |p| p.display().to_string());
    lines.push(Line::styled(
        fmt::short_path(&path, app.source.home.as_deref(), inner.width as usize),
        app.styles.muted,
    ));
    for (i, f) in Field::ALL.iter().enumerate() {
        let selected = i == st.sel;
        let value = match (&st.editing, selected) {
            (Some(text), true) => format!("{text}▏"),
            _ => st.value(*f),
        };
        let style = if selected {
            app.styles.selected
        } else {
            app.styles.surface
        };
        if *f == Field::Save {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!("  {}", f.label()),
                style.add_modifier(Modifier::BOLD),
            ));
        } else {
            lines.push(Line::styled(format!("  {:<26} {:<20}", f.label(), value), style));
        }
    }
    if let Some(e) = &st.error {
        lines.push(Line::styled(e.clone(), app.styles.error));
    } else if app.config_error.is_some() {
        lines.push(Line::styled(
            "Saving replaces the config file that failed to load.",
            app.styles.warning,
        ));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_palette(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Overlay::Palette(st) = &app.overlay else { return };
    let rect = Rect {
        y: area.y + area.height / 6,
        ..centered(area, 60, 16)
    };
    let rect = rect.intersection(area);
    let inner = modal(frame, app, rect, "Command", "Enter run · Esc close");
    if inner.height == 0 {
        return;
    }
    let commands = palette::commands(&app.themes);
    let matches = st.matches(&commands);
    let mut lines = vec![Line::from(vec![
        Span::styled("> ", app.styles.accent),
        Span::raw(format!("{}▏", st.input)),
    ])];
    let room = inner.height.saturating_sub(1) as usize;
    let start = st.sel.saturating_sub(room.saturating_sub(1));
    for (i, c) in matches.iter().enumerate().skip(start).take(room) {
        let style = if i == st.sel {
            app.styles.selected
        } else {
            app.styles.surface
        };
        lines.push(Line::styled(
            format!(" {:<width$}", c.label, width = inner.width as usize - 1),
            style,
        ));
    }
    if matches.is_empty() {
        lines.push(Line::styled(" no matching command", app.styles.muted));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A text line split into a left part and a right-aligned part.
pub fn split_line<'a>(left: Vec<Span<'a>>, right: Vec<Span<'a>>, width: u16) -> Line<'a> {
    let lw: usize = left.iter().map(|s| s.width()).sum();
    let rw: usize = right.iter().map(|s| s.width()).sum();
    let gap = (width as usize).saturating_sub(lw + rw).max(1);
    let mut spans = left;
    spans.push(Span::raw(" ".repeat(gap)));
    spans.extend(right);
    Line::from(spans)
}

/// The style of a level as text.
pub fn level_style(app: &App, level: Level) -> Style {
    match level {
        Level::Ok => app.styles.success,
        Level::Warn => app.styles.warning,
        Level::Critical => app.styles.error,
    }
}
