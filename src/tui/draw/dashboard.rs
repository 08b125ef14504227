//! The Dashboard view: KPI strip, provider limits, sessions table, smart sidebar, and the
//! session details drawer.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

use super::{centered, gauge, level_style, modal, panel, split_line};
use crate::model::{self, Level};
use crate::tui::app::{App, Focus};
use crate::tui::fmt;

pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let kpi_h = if area.height >= 16 { 4 } else { 1 };
    let term_h = area.height + 2;
    let limits_h = if app.providers.is_empty() || term_h < 24 {
        0
    } else if term_h < 30 {
        1
    } else {
        3
    };
    let [kpi, limits, main] = Layout::vertical([
        Constraint::Length(kpi_h),
        Constraint::Length(limits_h),
        Constraint::Min(1),
    ])
    .areas(area);
    if kpi_h == 1 {
        kpi_line(frame, app, kpi);
    } else {
        kpi_strip(frame, app, kpi);
    }
    if limits_h > 0 {
        limits_panel(frame, app, limits);
    }
    let side_w = if app.sidebar_collapsed {
        0
    } else {
        match area.width {
            160.. => 44,
            140..160 => 40,
            105..140 => 36,
            95..105 => 32,
            85..95 => 28,
            _ => 0,
        }
    };
    let [table, side] = Layout::horizontal([Constraint::Min(1), Constraint::Length(side_w)]).areas(main);
    sessions(frame, app, table);
    if side_w > 0 {
        sidebar(frame, app, side);
    }
}

fn kpi_line(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let d = &app.data;
    let line = Line::from(vec![
        Span::styled(format!(" {} ", app.window), app.styles.accent),
        Span::raw(format!(
            "cost {} · tok {} · req {}",
            fmt::cost(d.total.cost),
            fmt::tokens(d.total.io_tokens()),
            d.total.requests
        )),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn card<'a>(app: &App, label: &'a str, value: String, sub: String) -> Vec<Line<'a>> {
    vec![
        Line::styled(label, app.styles.muted),
        Line::styled(value, app.styles.accent),
        Line::styled(sub, app.styles.muted),
    ]
}

fn window_label(w: crate::config::TimeWindow) -> &'static str {
    use crate::config::TimeWindow::*;
    match w {
        M5 => "Last 5 minutes",
        M15 => "Last 15 minutes",
        H1 => "Last hour",
        H4 => "Last 4 hours",
        H24 => "Last 24 hours",
        D7 => "Last 7 days",
        D30 => "Last 30 days",
        All => "All time",
    }
}

fn kpi_strip(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let d = &app.data;
    let w = area.width;
    let show_window = w >= 120;
    let show_burn = w >= 100;
    let mut cons = Vec::new();
    if show_window {
        cons.push(Constraint::Length(18));
    }
    cons.extend([Constraint::Length(14), Constraint::Length(14), Constraint::Length(13)]);
    if show_burn {
        cons.push(Constraint::Length(15));
    }
    cons.push(Constraint::Min(10));
    let [cards_area, rule] = Layout::vertical([Constraint::Length(3), Constraint::Length(1)]).areas(area);
    let cells = Layout::horizontal(cons).spacing(1).split(cards_area);
    let mut i = 0;
    let mut put = |lines: Vec<Line<'_>>| {
        if let Some(r) = cells.get(i) {
            frame.render_widget(
                Paragraph::new(lines),
                Rect {
                    x: r.x + 1,
                    width: r.width.saturating_sub(1),
                    ..*r
                },
            );
        }
        i += 1;
    };
    if show_window {
        put(card(
            app,
            "WINDOW (t)",
            window_label(app.window).to_owned(),
            "t / T to change".into(),
        ));
    }
    let active = d.sessions.iter().filter(|s| s.is_active(d.now_ms)).count();
    put(card(
        app,
        "COST",
        fmt::cost(d.total.cost),
        format!("{} sessions", d.sessions.len()),
    ));
    put(card(
        app,
        "TOKENS",
        fmt::tokens(d.total.io_tokens()),
        format!("↯{} cached", fmt::tokens(d.total.tokens.cache_read)),
    ));
    put(card(
        app,
        "REQUESTS",
        d.total.requests.to_string(),
        format!("{active} active"),
    ));
    let (usd_h, tok_min) = model::burn_rate(d);
    if show_burn {
        put(card(
            app,
            "BURN RATE",
            usd_h.map_or_else(|| "—/h".to_owned(), |u| format!("{}/h", fmt::usd(u))),
            format!("{} tok/min", fmt::rate(tok_min)),
        ));
    }
    // Activity: the label, the rate and a sparkline of the last ten minutes.
    if let Some(r) = cells.get(i) {
        let act = model::activity(&d.activity);
        let style = match act.label {
            "SPIKE" => app.styles.error,
            "HOT" => app.styles.warning,
            "BUSY" => app.styles.success,
            _ => app.styles.muted,
        };
        let width = r.width.saturating_sub(1) as usize;
        let sp = &app.config.display.sparkline;
        let per_cell = if sp.style == crate::config::SparklineStyle::Braille {
            2
        } else {
            1
        };
        let values: Vec<f64> = d.activity.iter().map(|&t| t as f64).collect();
        let tail = &values[values.len().saturating_sub(width * per_cell)..];
        let lines = vec![
            Line::from(vec![
                Span::styled("ACTIVITY ", app.styles.muted),
                Span::styled(act.label, style.add_modifier(Modifier::BOLD)),
            ]),
            Line::styled(format!("{} tok/s", fmt::rate(act.instant)), app.styles.accent),
            Line::styled(fmt::spark(tail, width, None, sp), app.styles.accent2),
        ];
        frame.render_widget(
            Paragraph::new(lines),
            Rect {
                x: r.x + 1,
                width: r.width.saturating_sub(1),
                ..*r
            },
        );
    }
    frame.render_widget(
        Block::default().borders(Borders::TOP).border_style(app.styles.border),
        rule,
    );
}

fn limit_level(app: &App, p: &model::ProviderStatus) -> Level {
    if p.limit_reached() {
        return Level::Critical;
    }
    p.max_percent()
        .map_or(Level::Ok, |pct| model::level(pct, &app.config.budgets))
}

/// Providers ordered for the limits panel: critical, warning, then by percent.
fn ordered_providers(app: &App) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..app.providers.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&app.providers[a], &app.providers[b]);
        limit_level(app, y)
            .cmp(&limit_level(app, x))
            .then(
                y.max_percent()
                    .unwrap_or(-1.0)
                    .total_cmp(&x.max_percent().unwrap_or(-1.0)),
            )
            .then(x.name.cmp(&y.name))
    });
    idx
}

fn limits_panel(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let focused = app.focus == Focus::Limits;
    let inner = if area.height >= 3 {
        let b = panel(app, " PROVIDER LIMITS ", focused);
        let inner = b.inner(area);
        frame.render_widget(b, area);
        inner
    } else {
        area
    };
    let mut spans: Vec<Span> = Vec::new();
    if area.height < 3 {
        spans.push(Span::styled("LIMITS ", app.styles.muted));
    }
    let gw = if area.width >= 140 { 10 } else { 6 };
    let mut used = spans.iter().map(|s| s.width()).sum::<usize>();
    let order = ordered_providers(app);
    // Scroll so the selected provider is visible.
    let start = if focused {
        order
            .iter()
            .position(|&i| i == app.provider_sel)
            .unwrap_or(0)
            .saturating_sub(2)
    } else {
        0
    };
    if start > 0 {
        spans.push(Span::styled("◀ ", app.styles.muted));
        used += 2;
    }
    for &i in order.iter().skip(start) {
        let p = &app.providers[i];
        let level = limit_level(app, p);
        let name = fmt::trunc(&p.name, 14);
        let value = match (&p.error, p.max_percent()) {
            (Some(_), _) => "ERR".to_owned(),
            (None, Some(pct)) => format!("{pct:.0}%"),
            (None, None) => "--".to_owned(),
        };
        let mark = match level {
            Level::Critical => "!!",
            Level::Warn => "!",
            Level::Ok => "",
        };
        let need = name.chars().count() + 1 + gw + 1 + value.len() + mark.len() + 3;
        if used + need > inner.width as usize {
            spans.push(Span::styled("▶", app.styles.muted));
            break;
        }
        let name_style = if focused && i == app.provider_sel {
            app.styles.selected
        } else {
            app.styles.base
        };
        spans.push(Span::styled(name, name_style));
        spans.push(Span::raw(" "));
        spans.extend(gauge(app, p.max_percent().map(|x| x / 100.0), gw, level));
        let vstyle = if p.error.is_some() {
            app.styles.error
        } else {
            level_style(app, level)
        };
        spans.push(Span::styled(format!(" {value}{mark}"), vstyle));
        spans.push(Span::raw("   "));
        used += need;
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), inner);
}

/// One sessions-table column.
struct Col {
    title: &'static str,
    width: u16,
    right: bool,
}

fn sessions(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let d = &app.data;
    let focused = app.focus == Focus::Sessions;
    let mut title = vec![Span::styled(" SESSIONS ", app.styles.accent)];
    if !app.filter.is_empty() {
        title.push(Span::styled(format!("[/{}] ", app.filter), app.styles.info));
    }
    if let Some((dim, key)) = &app.driver_filter {
        title.push(Span::styled(
            format!("[{}: {key}] ", &dim.label()[..dim.label().len() - 1]),
            app.styles.info,
        ));
    }
    if app.progress.is_some() {
        title.push(Span::styled("⟳ ", app.styles.info));
    }
    let count = format!(
        " [{}] {} sessions · by {} ",
        app.window,
        app.rows.len(),
        app.sort.label()
    );
    let block = panel(app, Line::from(title), focused).title(Line::styled(count, app.styles.muted).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let inspector = area.height >= 20 && !app.rows.is_empty();
    let [table_area, insp] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(u16::from(inspector))]).areas(inner);
    if app.rows.is_empty() {
        empty_state(frame, app, table_area);
        return;
    }
    let w = table_area.width;
    let wide = w >= 120;
    let mut cols: Vec<Col> = vec![Col {
        title: "",
        width: 1,
        right: false,
    }];
    if wide {
        cols.push(Col {
            title: "ID",
            width: 7,
            right: false,
        });
    }
    if w >= 46 {
        cols.push(Col {
            title: "AGENT",
            width: if w >= 90 { 11 } else { 8 },
            right: false,
        });
    }
    cols.push(Col {
        title: "MODEL",
        width: if w >= 100 {
            17
        } else if w >= 50 {
            12
        } else {
            11
        },
        right: false,
    });
    if w >= 70 {
        cols.push(Col {
            title: "REQ",
            width: 5,
            right: true,
        });
    }
    cols.push(Col {
        title: "TOKENS",
        width: 8,
        right: true,
    });
    if w >= 105 {
        cols.push(Col {
            title: "↯CACHE",
            width: 8,
            right: true,
        });
    }
    cols.push(Col {
        title: "COST",
        width: 9,
        right: true,
    });
    if w >= 60 {
        cols.push(Col {
            title: "PROJECT",
            width: if w >= 100 { 13 } else { 10 },
            right: false,
        });
    }
    if w >= 84 {
        cols.push(Col {
            title: "DUR",
            width: 6,
            right: true,
        });
    }
    cols.push(Col {
        title: "LAST",
        width: 4,
        right: true,
    });
    let fixed: u16 = cols.iter().map(|c| c.width + 1).sum();
    let name_w = w.saturating_sub(fixed);
    let show_name = name_w >= 10;
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| Constraint::Length(c.width))
        .chain(show_name.then_some(Constraint::Fill(1)))
        .collect();
    let header = Row::new(
        cols.iter()
            .map(|c| {
                let text = if c.right {
                    Line::from(c.title).right_aligned()
                } else {
                    Line::from(c.title)
                };
                Cell::from(text)
            })
            .chain(show_name.then(|| Cell::from("NAME"))),
    )
    .style(app.styles.muted);
    let now = d.now_ms;
    // Only the visible rows are built: a window of 10k sessions draws as fast as 20.
    let visible = table_area.height.saturating_sub(1) as usize;
    let offset = app.sel.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = app
        .rows
        .iter()
        .skip(offset)
        .take(visible)
        .map(|&i| {
            let s = &d.sessions[i];
            let mut cells: Vec<Cell> = Vec::with_capacity(cols.len() + 1);
            for c in &cols {
                let (text, style) = match c.title {
                    "" => {
                        if s.is_active(now) {
                            ("●".to_owned(), app.styles.success)
                        } else {
                            ("○".to_owned(), app.styles.muted)
                        }
                    }
                    "ID" => (last_chars(&s.id, 7), app.styles.muted),
                    "AGENT" => (fmt::trunc(&s.agent, c.width as usize), app.styles.base),
                    "MODEL" => {
                        let m = s.main_model().map_or("unknown", model::short_model);
                        let extra = s.streams.len().saturating_sub(1);
                        let text = if extra > 0 {
                            format!("{}+{extra}", fmt::trunc(m, c.width as usize - 2))
                        } else {
                            fmt::trunc(m, c.width as usize)
                        };
                        (text, app.styles.series(m))
                    }
                    "REQ" => (s.usage.requests.to_string(), app.styles.base),
                    "TOKENS" => (fmt::tokens(s.usage.io_tokens()), app.styles.base),
                    "↯CACHE" => (fmt::tokens(s.usage.tokens.cache_read), app.styles.muted),
                    "COST" => (fmt::cost(s.usage.cost), app.styles.base),
                    "PROJECT" => (
                        fmt::trunc(s.project.as_deref().map_or("—", model::project_name), c.width as usize),
                        app.styles.base,
                    ),
                    "DUR" => (fmt::duration(s.last_ms - s.started_ms), app.styles.muted),
                    _ => (fmt::ago(now, s.last_ms), app.styles.muted),
                };
                let line = if c.right {
                    Line::from(text).right_aligned()
                } else {
                    Line::from(text)
                };
                cells.push(Cell::from(line).style(style));
            }
            if show_name {
                let name = s.name.as_deref().unwrap_or("");
                cells.push(Cell::from(fmt::trunc_middle(name, name_w as usize)).style(app.styles.muted));
            }
            Row::new(cells)
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(if focused {
            app.styles.selected
        } else {
            app.styles.selected.remove_modifier(Modifier::BOLD)
        });
    let mut state = TableState::default().with_selected(Some(app.sel - offset));
    frame.render_stateful_widget(table, table_area, &mut state);
    if inspector && let Some(s) = app.selected_session() {
        let u = &s.usage;
        let mut text = format!(
            "↯ cache read {} · write {} · hit {} · $/req {}",
            fmt::tokens(u.tokens.cache_read),
            fmt::tokens(u.tokens.cache_write),
            fmt::pct(u.cache_hit()),
            fmt::opt_usd(u.cost_per_request())
        );
        if let Some(tps) = u.output_per_second() {
            text.push_str(&format!(" · {} out tok/s", fmt::rate(tps)));
        }
        frame.render_widget(Paragraph::new(text).style(app.styles.muted), insp);
    }
}

fn last_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

fn empty_state(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    if !app.loaded && !app.source.errors.is_empty() {
        lines.push(Line::styled("No data to show.", app.styles.accent));
    } else if !app.loaded {
        lines.push(Line::styled("Loading stored usage…", app.styles.muted));
    } else if !app.filter.is_empty() || app.driver_filter.is_some() {
        lines.push(Line::styled(
            "No session matches the filter (Esc clears it).",
            app.styles.muted,
        ));
    } else if app.data.sessions.is_empty() && app.source.looked_in.is_empty() {
        lines.push(Line::styled(
            format!("No sessions in the {} window. Press t for a longer window.", app.window),
            app.styles.muted,
        ));
    } else {
        lines.push(Line::styled("No agent usage found yet.", app.styles.accent));
        lines.push(Line::styled("Looked for session files in:", app.styles.muted));
        for l in &app.source.looked_in {
            lines.push(Line::raw(format!("  {l}")));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "Use a coding agent, or try 'ttop demo' to see the dashboard with sample data.",
            app.styles.info,
        ));
    }
    for e in app.source.errors.iter().take(3) {
        lines.push(Line::styled(format!("⚠ {e}"), app.styles.warning));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        Rect {
            x: area.x + 1,
            width: area.width.saturating_sub(1),
            ..area
        },
    );
}

fn sidebar(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let focused = app.focus == Focus::Sidebar;
    let block = panel(app, " INSIGHTS ", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    // Budget.
    let lock = if app.budget_lock == model::BudgetLock::Sync {
        ""
    } else {
        " [locked]"
    };
    match app.budget() {
        Some(b) => {
            lines.push(Line::styled(
                format!("{} BUDGET{lock}", b.period.label().to_uppercase()),
                app.styles.muted,
            ));
            match (b.limit, b.percent()) {
                (Some(limit), Some(pct)) => {
                    let level = model::level(pct, &app.config.budgets);
                    let label = format!(" {pct:.0}%");
                    let mut spans = gauge(app, Some(pct / 100.0), w.saturating_sub(label.len()), level);
                    spans.push(Span::styled(label, level_style(app, level)));
                    lines.push(Line::from(spans));
                    lines.push(Line::raw(format!("{} of {}", fmt::cost(b.spent), fmt::usd(limit))));
                }
                (Some(limit), None) => {
                    lines.push(Line::styled(
                        format!("cost unknown of {}", fmt::usd(limit)),
                        app.styles.muted,
                    ));
                }
                (None, _) => {
                    lines.push(Line::raw(format!("{} spent", fmt::cost(b.spent))));
                    lines.push(Line::styled("Not set (, to configure)", app.styles.muted));
                }
            }
        }
        None => {
            lines.push(Line::styled(format!("TOTAL COST{lock}"), app.styles.muted));
            lines.push(Line::raw(if app.loaded {
                fmt::cost(app.data.total.cost)
            } else {
                "—".to_owned()
            }));
        }
    }
    lines.push(Line::raw(""));
    // Top drivers.
    let drivers = &app.drivers;
    lines.push(split_line(
        vec![Span::styled(
            format!("TOP {}", app.dim.label().to_uppercase()),
            app.styles.muted,
        )],
        vec![Span::styled("m/p/a", app.styles.muted)],
        inner.width,
    ));
    let eff_h = if inner.height >= 16 { 4 } else { 0 };
    let room = (inner.height as usize).saturating_sub(lines.len() + eff_h).min(10);
    let bar_w = if w >= 36 {
        8
    } else if w >= 32 {
        5
    } else {
        0
    };
    for (i, d) in drivers.iter().enumerate().take(room) {
        let sel = focused && i == app.driver_sel;
        let active = app.driver_filter.as_ref().is_some_and(|(_, k)| k == &d.key);
        let pct = format!("{:>3.0}%", d.share * 100.0);
        let value = if d.usage.cost.usd > 0.0 {
            fmt::cost(d.usage.cost)
        } else {
            fmt::tokens(d.usage.io_tokens())
        };
        let key_w = w.saturating_sub(bar_w + pct.len() + value.len() + 4);
        let mut spans = vec![
            Span::styled(if d.hot { "▲" } else { " " }, app.styles.warning),
            Span::styled(
                format!("{:<key_w$} ", fmt::trunc(&d.key, key_w)),
                if sel {
                    app.styles.selected
                } else if active {
                    app.styles.info
                } else {
                    app.styles.series(&d.key)
                },
            ),
        ];
        if bar_w > 0 {
            let (f, e) = fmt::bar(d.share, bar_w);
            spans.push(Span::styled(f, app.styles.series(&d.key)));
            spans.push(Span::styled(e, app.styles.track));
        }
        spans.push(Span::styled(pct, app.styles.muted));
        spans.push(Span::raw(format!(" {value}")));
        lines.push(Line::from(spans));
    }
    if drivers.is_empty() {
        lines.push(Line::styled("nothing yet", app.styles.muted));
    }
    // Efficiency.
    if eff_h > 0 {
        let used = lines.len();
        for _ in used..(inner.height as usize).saturating_sub(eff_h) {
            lines.push(Line::raw(""));
        }
        let ins = model::insight(&app.data.total);
        lines.push(Line::styled("EFFICIENCY", app.styles.muted));
        lines.push(Line::styled(
            ins.headline,
            if ins.warn { app.styles.warning } else { app.styles.base },
        ));
        lines.push(Line::styled(
            format!(
                "cache hit {} · {} requests",
                fmt::pct(app.data.total.cache_hit()),
                app.data.total.requests
            ),
            app.styles.muted,
        ));
        lines.push(Line::styled(ins.hint, app.styles.muted));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The session details drawer.
pub fn drawer(frame: &mut Frame<'_>, app: &App, area: Rect, id: &str) {
    let w = area.width.saturating_sub(4).clamp(area.width.min(40), 100);
    let h = area.height.saturating_sub(2).clamp(area.height.min(10), 40);
    let rect = centered(area, w, h);
    let inner = modal(frame, app, rect, "Session details", "Esc close · j/k next");
    let Some(s) = app.data.sessions.iter().find(|s| s.id == id) else {
        frame.render_widget(Paragraph::new("This session is outside the window now."), inner);
        return;
    };
    let now = app.data.now_ms;
    let iw = inner.width as usize;
    let label = |t: &str| Span::styled(format!("{t:<10}"), app.styles.muted);
    let u = &s.usage;
    let mut lines: Vec<Line> = vec![
        Line::from(vec![
            label("Session"),
            Span::raw(fmt::trunc(&s.id, iw.saturating_sub(20))),
            Span::raw("  "),
            if s.is_active(now) {
                Span::styled("● ACTIVE", app.styles.success)
            } else {
                Span::styled("○ IDLE", app.styles.muted)
            },
        ]),
        Line::from(vec![
            label("Name"),
            Span::raw(s.name.clone().unwrap_or_else(|| "—".into())),
        ]),
        Line::from(vec![
            label("Agent"),
            Span::raw(s.agent.clone()),
            Span::styled("   Project ", app.styles.muted),
            Span::raw(fmt::short_path(
                s.project.as_deref().unwrap_or("—"),
                app.source.home.as_deref(),
                iw.saturating_sub(30),
            )),
        ]),
        Line::from(vec![
            label("Cost"),
            Span::styled(fmt::cost(u.cost), app.styles.accent),
            Span::styled("   Duration ", app.styles.muted),
            Span::raw(fmt::duration(s.last_ms - s.started_ms)),
            Span::styled("   Started ", app.styles.muted),
            Span::raw(fmt::date_time(s.started_ms, &app.tz)),
        ]),
        Line::from(vec![
            label("Tokens"),
            Span::raw(format!(
                "in {} │ out {} │ cache read {} │ cache write {}",
                fmt::tokens(u.tokens.input),
                fmt::tokens(u.tokens.output),
                fmt::tokens(u.tokens.cache_read),
                fmt::tokens(u.tokens.cache_write)
            )),
        ]),
        Line::from(vec![
            label("Cache"),
            Span::styled(
                format!("{} hit", fmt::pct(u.cache_hit())),
                if u.cache_hit().unwrap_or(0.0) >= 0.5 {
                    app.styles.success
                } else {
                    app.styles.warning
                },
            ),
            Span::styled("   Requests ", app.styles.muted),
            Span::raw(u.requests.to_string()),
            Span::styled("   $/req ", app.styles.muted),
            Span::raw(fmt::opt_usd(u.cost_per_request())),
            Span::styled("   out tok/s ", app.styles.muted),
            Span::raw(u.output_per_second().map_or_else(|| "—".to_owned(), fmt::rate)),
        ]),
    ];
    let sp = &u.cost.split;
    if u.cost.is_known() {
        let mut parts = vec![label("Paid for")];
        let mut push = |name: &str, v: f64| {
            if v > 0.0 {
                if parts.len() > 1 {
                    parts.push(Span::styled(" │ ", app.styles.muted));
                }
                parts.push(Span::raw(format!("{name} {}", fmt::usd(v))));
            }
        };
        push("in", sp.input);
        push("out", sp.output);
        push("cache read", sp.cache_read);
        push("cache write", sp.cache_write);
        push("reported by the agent", sp.reported);
        if parts.len() > 1 {
            lines.push(Line::from(parts));
        }
    }
    if u.cost.unpriced > 0 {
        lines.push(Line::styled(
            format!(
                "{} requests have no known price; their cost is not included.",
                u.cost.unpriced
            ),
            app.styles.warning,
        ));
    }
    lines.push(Line::raw(""));
    // Activity timeline.
    lines.push(Line::styled(
        "ACTIVITY (tokens per request over time)",
        app.styles.muted,
    ));
    match app.detail.as_deref().filter(|d| d.id == s.id) {
        Some(detail) if !detail.requests.is_empty() => {
            let first = detail.requests[0].ts_ms;
            let last = detail.requests.last().map_or(first, |r| r.ts_ms);
            let span = (last - first).max(1);
            let per_cell = if app.config.display.sparkline.style == crate::config::SparklineStyle::Braille {
                2
            } else {
                1
            };
            let n = iw.max(1) * per_cell;
            let mut buckets = vec![0.0; n];
            for r in &detail.requests {
                let i = ((r.ts_ms - first) as f64 / span as f64 * (n - 1) as f64) as usize;
                buckets[i.min(n - 1)] += r.tokens.total() as f64;
            }
            lines.push(Line::styled(
                fmt::spark(&buckets, iw, None, &app.config.display.sparkline),
                app.styles.accent2,
            ));
            lines.push(split_line(
                vec![Span::styled(fmt::date_time(first, &app.tz), app.styles.muted)],
                vec![Span::styled(fmt::date_time(last, &app.tz), app.styles.muted)],
                inner.width,
            ));
        }
        Some(_) => lines.push(Line::styled("no requests", app.styles.muted)),
        None => lines.push(Line::styled("loading…", app.styles.muted)),
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "{:<14} {:<24} {:>9} {:>5} {:>9} {:>8}",
            "PROVIDER", "MODEL", "TOKENS", "REQ", "COST", "OUT/S"
        ),
        app.styles.muted,
    ));
    for st in &s.streams {
        let m = st.model.as_deref().unwrap_or("unknown");
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{:<14} ",
                fmt::trunc(st.provider.as_deref().unwrap_or("—"), 14)
            )),
            Span::styled(
                format!("{:<24} ", fmt::trunc(m, 24)),
                app.styles.series(model::short_model(m)),
            ),
            Span::raw(format!(
                "{:>9} {:>5} {:>9} {:>8}",
                fmt::tokens(st.usage.io_tokens()),
                st.usage.requests,
                fmt::cost(st.usage.cost),
                st.usage.output_per_second().map_or_else(|| "—".to_owned(), fmt::rate)
            )),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
