//! The Providers, Trends and Projects views, and the project drawer.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{centered, gauge, level_style, modal, panel, split_line};
use crate::model::{self, Level, Metric};
use crate::tui::app::App;
use crate::tui::fmt;

fn status_of(app: &App, p: &model::ProviderStatus) -> (&'static str, Level) {
    if p.error.is_some() {
        ("✗", Level::Critical)
    } else if p.limit_reached() {
        ("⚠", Level::Critical)
    } else {
        match p.max_percent().map(|x| model::level(x, &app.config.budgets)) {
            Some(Level::Critical) => ("!!", Level::Critical),
            Some(Level::Warn) => ("!", Level::Warn),
            _ => ("●", Level::Ok),
        }
    }
}

fn today_usage(app: &App) -> (model::Usage, model::Usage) {
    let mut today = model::Usage::default();
    let mut month = model::Usage::default();
    if let Some(t) = &app.trends {
        let d = app.today();
        let start = model::Period::Monthly.start(d);
        for day in t.days.iter().filter(|x| x.date >= start && x.date <= d) {
            month.add(&day.total);
            if day.date == d {
                today.add(&day.total);
            }
        }
    }
    (today, month)
}

pub fn providers(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let [strip, rest] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    let (ok, warn, err) = app
        .providers
        .iter()
        .fold((0, 0, 0), |(o, w, e), p| match status_of(app, p) {
            (_, Level::Ok) => (o + 1, w, e),
            ("✗", _) => (o, w, e + 1),
            _ => (o, w + 1, e),
        });
    let (today, month) = today_usage(app);
    let mut spans = vec![
        Span::styled(" HEALTH ", app.styles.muted),
        Span::styled(format!("{ok} ok"), app.styles.success),
        Span::raw(" / "),
        Span::styled(format!("{warn} warn"), app.styles.warning),
        Span::raw(" / "),
        Span::styled(format!("{err} err"), app.styles.error),
        Span::styled("   TODAY ", app.styles.muted),
        Span::raw(fmt::cost(today.cost)),
    ];
    if area.width >= 100 {
        spans.push(Span::styled("   MTD ", app.styles.muted));
        spans.push(Span::raw(fmt::cost(month.cost)));
    }
    spans.push(Span::styled("   TOKENS TODAY ", app.styles.muted));
    spans.push(Span::raw(fmt::tokens(today.tokens.total())));
    frame.render_widget(Paragraph::new(Line::from(spans)), strip);

    if app.providers.is_empty() {
        let block = panel(app, " PROVIDERS ", true);
        let inner = block.inner(rest);
        frame.render_widget(block, rest);
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("No provider usage yet.", app.styles.accent),
                Line::styled(
                    "Plan limits, reset times and balances appear here for every provider whose credentials \
                     ttop finds; the first poll runs at start and r polls again.",
                    app.styles.muted,
                ),
                Line::styled(
                    "'ttop doctor' shows what each provider looks for; 'ttop demo' shows this view populated.",
                    app.styles.info,
                ),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let detail_w = if app.provider_detail && rest.width >= 110 {
        46
    } else {
        0
    };
    let detail_h = if app.provider_detail && detail_w == 0 && rest.height >= 22 {
        10
    } else {
        0
    };
    let [top, bottom] = Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(rest);
    let [list, side] = Layout::horizontal([Constraint::Min(1), Constraint::Length(detail_w)]).areas(top);
    provider_list(frame, app, list);
    if detail_w > 0 {
        provider_detail(frame, app, side);
    } else if detail_h > 0 {
        provider_detail(frame, app, bottom);
    }
}

fn provider_list(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let block = panel(app, " PROVIDERS ", true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width;
    let gw: u16 = if w >= 100 { 12 } else { 8 };
    let mut widths = vec![Constraint::Length(2), Constraint::Length(16)];
    let mut head = vec!["", "PROVIDER"];
    if w >= 60 {
        widths.push(Constraint::Length(12));
        head.push("PLAN");
    }
    widths.push(Constraint::Length(gw + 5));
    head.push("HEADROOM");
    if w >= 70 {
        widths.push(Constraint::Length(9));
        head.push("RESET");
    }
    if w >= 90 {
        widths.push(Constraint::Length(16));
        head.push("TREND");
    }
    if w >= 80 {
        widths.push(Constraint::Fill(1));
        head.push("LAST POLL");
    }
    let now = app.now_ms;
    let rows: Vec<Row> = app
        .providers
        .iter()
        .map(|p| {
            let (icon, level) = status_of(app, p);
            let mut cells = vec![
                Cell::from(icon).style(level_style(app, level)),
                Cell::from(fmt::trunc(&p.name, 16)).style(app.styles.series(&p.id)),
            ];
            if w >= 60 {
                cells.push(Cell::from(fmt::trunc(p.plan.as_deref().unwrap_or("—"), 12)));
            }
            let used = p.max_percent();
            let mut g = gauge(app, used.map(|x| 1.0 - x / 100.0), gw as usize, level);
            let head_txt = if p.error.is_some() {
                " ERR".to_owned()
            } else {
                used.map_or_else(|| "  --".to_owned(), |x| format!(" {:>3.0}%", 100.0 - x))
            };
            g.push(Span::styled(head_txt, level_style(app, level)));
            cells.push(Cell::from(Line::from(g)));
            if w >= 70 {
                cells.push(Cell::from(
                    p.next_reset_ms().map_or_else(|| "—".into(), |r| fmt::countdown(now, r)),
                ));
            }
            if w >= 90 {
                cells.push(
                    Cell::from(fmt::spark(&p.history, 16, Some(100.0), &app.config.display.sparkline))
                        .style(app.styles.accent2),
                );
            }
            if w >= 80 {
                cells.push(
                    Cell::from(
                        p.polled_ms
                            .map_or_else(|| "never".into(), |t| format!("{} ago", fmt::ago(now, t))),
                    )
                    .style(app.styles.muted),
                );
            }
            Row::new(cells)
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(app.styles.muted))
        .row_highlight_style(app.styles.selected);
    let mut state = TableState::default().with_selected(Some(app.provider_sel));
    frame.render_stateful_widget(table, inner, &mut state);
}

fn provider_detail(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(p) = app.providers.get(app.provider_sel) else {
        return;
    };
    let block = panel(app, format!(" {} ", p.name), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let now = app.now_ms;
    let iw = inner.width as usize;
    let mut lines = vec![Line::from(vec![
        Span::styled(p.plan.clone().unwrap_or_else(|| "no plan".into()), app.styles.accent),
        Span::styled(
            p.polled_ms.map_or_else(String::new, |t| {
                format!("  last poll {}", fmt::clock(t, &app.tz, false))
            }),
            app.styles.muted,
        ),
    ])];
    if let Some(e) = &p.error {
        lines.push(Line::styled(format!("✗ {e}"), app.styles.error));
    }
    let mut limits: Vec<&model::Limit> = p.limits.iter().collect();
    limits.sort_by(|a, b| b.used_percent.unwrap_or(0.0).total_cmp(&a.used_percent.unwrap_or(0.0)));
    for l in limits.iter().take(5) {
        let level = if l.reached {
            Level::Critical
        } else {
            l.used_percent
                .map_or(Level::Ok, |x| model::level(x, &app.config.budgets))
        };
        lines.push(Line::raw(""));
        let reset = l
            .resets_ms
            .map_or_else(String::new, |r| format!("resets in {}", fmt::countdown(now, r)));
        lines.push(split_line(
            vec![Span::raw(l.label.clone())],
            vec![Span::styled(reset, app.styles.muted)],
            inner.width,
        ));
        let pct = l.used_percent.map_or_else(|| "--".into(), |x| format!("{x:.0}%"));
        let mut g = gauge(app, l.used_percent.map(|x| x / 100.0), iw.saturating_sub(6), level);
        g.push(Span::styled(format!(" {pct:>4}"), level_style(app, level)));
        lines.push(Line::from(g));
    }
    if p.limits.len() > 5 {
        lines.push(Line::styled(
            format!("+{} more limits", p.limits.len() - 5),
            app.styles.muted,
        ));
    }
    if let Some(c) = p.credits {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("Credits ", app.styles.muted),
            Span::raw(fmt::usd(c)),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

fn metric_text(metric: Metric, v: f64) -> String {
    match metric {
        Metric::Cost => fmt::usd(v),
        Metric::Tokens => fmt::tokens(v.max(0.0) as u64),
        Metric::Requests => format!("{v:.0}"),
    }
}

pub fn trends(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(view) = &app.trend_view else {
        let block = panel(app, " TRENDS ", true);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new("Loading daily usage…").style(app.styles.muted), inner);
        return;
    };
    let side_w = if area.width >= 100 { 38 } else { 0 };
    let [chart_area, side] = Layout::horizontal([Constraint::Min(1), Constraint::Length(side_w)]).areas(area);
    let title = format!(
        " {} · last {} days · by {} ",
        app.trend_metric.label().to_uppercase(),
        app.trend_range,
        &app.trend_dim.label()[..app.trend_dim.label().len() - 1]
    );
    let block = panel(app, title, true);
    let inner = block.inner(chart_area);
    frame.render_widget(block, chart_area);
    if inner.height < 3 || inner.width < 12 {
        return;
    }
    let n = view.values.len();
    let cursor = app.trend_cursor.unwrap_or(n.saturating_sub(1));
    // Info line, chart, date axis.
    let [info, chart, axis] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    if let (Some(date), Some(v)) = (view.dates.get(cursor), view.values.get(cursor)) {
        let mut spans = vec![
            Span::styled(format!("{} {date}", weekday(date.weekday())), app.styles.accent),
            Span::raw(format!("  {}", metric_text(app.trend_metric, *v))),
        ];
        if let Some(day) = app
            .trends
            .as_ref()
            .and_then(|t| t.days.iter().find(|d| d.date == *date))
        {
            spans.push(Span::styled(
                format!(
                    "  {} req · {} tok · {}",
                    day.total.requests,
                    fmt::tokens(day.total.tokens.total()),
                    fmt::cost(day.total.cost)
                ),
                app.styles.muted,
            ));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), info);
    }
    let label_w = 8u16;
    let plot_w = chart.width.saturating_sub(label_w) as usize;
    let max = view.values.iter().cloned().fold(0.0, f64::max);
    let h = chart.height as usize;
    // Each day gets `per` columns; with less room, the latest days are shown.
    let per = (plot_w / n.max(1)).clamp(1, 4);
    let shown = (plot_w / per).min(n);
    let first = n - shown;
    let mut lines: Vec<Line> = Vec::with_capacity(h);
    for row in 0..h {
        let level_top = (h - row) as f64;
        let mut spans = vec![Span::styled(
            match row {
                0 => format!("{:>7} ", metric_text(app.trend_metric, max)),
                r if r == h - 1 => format!("{:>7} ", metric_text(app.trend_metric, 0.0)),
                _ => " ".repeat(label_w as usize),
            },
            app.styles.muted,
        )];
        for (i, v) in view.values.iter().enumerate().skip(first) {
            let height = if max > 0.0 { v / max * h as f64 } else { 0.0 };
            let fill = (height - (level_top - 1.0)).clamp(0.0, 1.0);
            let glyph = if fill <= 0.0 {
                if row == h - 1 { '▁' } else { ' ' }
            } else {
                [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'][((fill * 8.0).ceil() as usize).clamp(1, 8)]
            };
            let style = if i == cursor {
                app.styles.warning.add_modifier(Modifier::BOLD)
            } else if fill <= 0.0 {
                app.styles.track
            } else {
                app.styles.accent2
            };
            let cell: String = std::iter::repeat_n(glyph, per.saturating_sub(usize::from(per > 1))).collect();
            spans.push(Span::styled(cell, style));
            if per > 1 {
                spans.push(Span::raw(" "));
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), chart);
    let first_date = view
        .dates
        .get(first)
        .map_or(String::new(), |d| format!("{:02}-{:02}", d.month(), d.day()));
    let last_date = view
        .dates
        .last()
        .map_or(String::new(), |d| format!("{:02}-{:02}", d.month(), d.day()));
    let drawn = (label_w as usize + shown * per).min(axis.width as usize) as u16;
    frame.render_widget(
        Paragraph::new(split_line(
            vec![Span::styled(format!("{:>8}{first_date}", ""), app.styles.muted)],
            vec![Span::styled(last_date, app.styles.muted)],
            drawn,
        )),
        axis,
    );
    if side_w > 0 {
        trend_side(frame, app, view, side);
    }
}

fn trend_side(frame: &mut Frame<'_>, app: &App, view: &model::TrendView, area: Rect) {
    let block = panel(app, " SUMMARY ", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let m = app.trend_metric;
    let change = if view.previous > 0.0 {
        let c = (view.total - view.previous) / view.previous * 100.0;
        Span::styled(
            format!("{}{c:.0}%", if c >= 0.0 { "+" } else { "" }),
            if c > 0.0 {
                app.styles.warning
            } else {
                app.styles.success
            },
        )
    } else {
        Span::styled("n/a", app.styles.muted)
    };
    let n = view.values.len().max(1);
    let (peak_i, peak) = view
        .values
        .iter()
        .enumerate()
        .fold((0, 0.0), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc });
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Total      ", app.styles.muted),
            Span::styled(metric_text(m, view.total), app.styles.accent),
        ]),
        Line::from(vec![
            Span::styled("Previous   ", app.styles.muted),
            Span::raw(metric_text(m, view.previous)),
            Span::raw("  "),
            change,
        ]),
        Line::from(vec![
            Span::styled("Daily avg  ", app.styles.muted),
            Span::raw(metric_text(m, view.total / n as f64)),
        ]),
        Line::from(vec![
            Span::styled("Peak       ", app.styles.muted),
            Span::raw(metric_text(m, peak)),
            Span::styled(
                view.dates.get(peak_i).map_or(String::new(), |d| format!("  {d}")),
                app.styles.muted,
            ),
        ]),
    ];
    if view.unpriced {
        lines.push(Line::styled("Some usage has no known price.", app.styles.warning));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("BY {}", app.trend_dim.label().to_uppercase()),
        app.styles.muted,
    ));
    let w = inner.width as usize;
    for (key, v) in view
        .breakdown
        .iter()
        .take((inner.height as usize).saturating_sub(lines.len()))
    {
        let share = if view.total > 0.0 { v / view.total } else { 0.0 };
        let value = metric_text(m, *v);
        let bar_w = 6;
        let key_w = w.saturating_sub(bar_w + value.len() + 6);
        let (f, e) = fmt::bar(share, bar_w);
        lines.push(Line::from(vec![
            Span::styled(format!("{:<key_w$} ", fmt::trunc(key, key_w)), app.styles.series(key)),
            Span::styled(f, app.styles.series(key)),
            Span::styled(e, app.styles.track),
            Span::styled(format!("{:>4.0}%", share * 100.0), app.styles.muted),
            Span::raw(format!(" {value}")),
        ]));
    }
    if view.breakdown.is_empty() {
        lines.push(Line::styled("no usage in this range", app.styles.muted));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn projects(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let title = format!(" PROJECTS [{}] {} ", app.window, app.projects.len());
    let block = panel(app, title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.projects.is_empty() {
        frame.render_widget(
            Paragraph::new(if app.loaded {
                "No project has usage in this window."
            } else {
                "Loading…"
            })
            .style(app.styles.muted),
            inner,
        );
        return;
    }
    let w = inner.width;
    let mut head = vec!["PROJECT", "COST", "SHARE"];
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(9),
        Constraint::Length(if w >= 100 { 13 } else { 5 }),
    ];
    for (t, cw, min) in [
        ("SESS", 5, 60),
        ("REQ", 6, 70),
        ("TOKENS", 8, 50),
        ("HIT", 5, 80),
        ("$/REQ", 7, 90),
        ("TOP MODEL", 18, 110),
        ("LAST", 5, 75),
    ] {
        if w >= min {
            head.push(t);
            widths.push(Constraint::Length(cw));
        }
    }
    let now = app.data.now_ms;
    let rows: Vec<Row> = app
        .projects
        .iter()
        .map(|p| {
            let mut cells: Vec<Cell> = Vec::new();
            for h in &head {
                cells.push(match *h {
                    "PROJECT" => Cell::from(p.name().to_owned()).style(app.styles.series(p.name())),
                    "COST" => Cell::from(Line::from(fmt::cost(p.usage.cost)).right_aligned()),
                    "SHARE" => {
                        let pct = format!("{:>4.0}%", p.share * 100.0);
                        if w >= 100 {
                            let (f, e) = fmt::bar(p.share, 7);
                            Cell::from(Line::from(vec![
                                Span::styled(f, app.styles.accent2),
                                Span::styled(e, app.styles.track),
                                Span::raw(pct),
                            ]))
                        } else {
                            Cell::from(pct)
                        }
                    }
                    "SESS" => Cell::from(Line::from(p.sessions.to_string()).right_aligned()),
                    "REQ" => Cell::from(Line::from(p.usage.requests.to_string()).right_aligned()),
                    "TOKENS" => Cell::from(Line::from(fmt::tokens(p.usage.io_tokens())).right_aligned()),
                    "HIT" => Cell::from(Line::from(fmt::pct(p.usage.cache_hit())).right_aligned()),
                    "$/REQ" => Cell::from(Line::from(fmt::opt_usd(p.usage.cost_per_request())).right_aligned()),
                    "TOP MODEL" => Cell::from(fmt::trunc(p.models.first().map_or("—", |m| m.0.as_str()), 18)),
                    _ => Cell::from(Line::from(fmt::ago(now, p.last_ms)).right_aligned()).style(app.styles.muted),
                });
            }
            Row::new(cells)
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(app.styles.muted))
        .column_spacing(1)
        .row_highlight_style(app.styles.selected);
    let visible = inner.height.saturating_sub(1) as usize;
    let offset = app.project_sel.saturating_sub(visible.saturating_sub(1));
    let mut state = TableState::default()
        .with_offset(offset)
        .with_selected(Some(app.project_sel));
    frame.render_stateful_widget(table, inner, &mut state);
}

pub fn project_drawer(frame: &mut Frame<'_>, app: &App, area: Rect, path: &str) {
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(96),
        area.height.saturating_sub(2).min(36),
    );
    let inner = modal(frame, app, rect, "Project", "Esc close · j/k next");
    let Some(p) = app.projects.iter().find(|p| p.path == path) else {
        frame.render_widget(Paragraph::new("This project has no usage in the window now."), inner);
        return;
    };
    let iw = inner.width as usize;
    let u = &p.usage;
    let mut lines = vec![
        Line::from(vec![Span::styled(p.name().to_owned(), app.styles.accent)]),
        Line::styled(
            fmt::short_path(&p.path, app.source.home.as_deref(), iw),
            app.styles.muted,
        ),
        Line::raw(format!(
            "Cost {}  ·  share {:.0}%  ·  {} sessions  ·  {} requests  ·  {} tokens",
            fmt::cost(u.cost),
            p.share * 100.0,
            p.sessions,
            u.requests,
            fmt::tokens(u.io_tokens())
        )),
        Line::raw(format!(
            "Cache hit {}  ·  output {}  ·  $/req {}",
            fmt::pct(u.cache_hit()),
            fmt::pct(u.output_share()),
            fmt::opt_usd(u.cost_per_request())
        )),
        Line::raw(""),
        Line::styled("MODELS", app.styles.muted),
    ];
    for (m, mu) in p.models.iter().take(5) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<28}", fmt::trunc(m, 28)), app.styles.series(m)),
            Span::raw(format!(
                "{:>9} {:>9} {:>6} req",
                fmt::cost(mu.cost),
                fmt::tokens(mu.io_tokens()),
                mu.requests
            )),
        ]));
    }
    lines.push(Line::styled("AGENTS", app.styles.muted));
    for (a, au) in p.agents.iter().take(4) {
        lines.push(Line::raw(format!(
            "  {:<28}{:>9} {:>9} {:>6} req",
            fmt::trunc(a, 28),
            fmt::cost(au.cost),
            fmt::tokens(au.io_tokens()),
            au.requests
        )));
    }
    lines.push(Line::styled("RECENT SESSIONS", app.styles.muted));
    let room = (inner.height as usize).saturating_sub(lines.len());
    for &i in p.session_ids.iter().take(room) {
        let s = &app.data.sessions[i];
        lines.push(Line::raw(format!(
            "  {:<5} {:<12} {:<30} {:>9}",
            fmt::ago(app.data.now_ms, s.last_ms),
            fmt::trunc(&s.agent, 12),
            fmt::trunc(s.name.as_deref().unwrap_or(&s.id), 30),
            fmt::cost(s.usage.cost)
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn weekday(w: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday::*;
    match w {
        Monday => "Mon",
        Tuesday => "Tue",
        Wednesday => "Wed",
        Thursday => "Thu",
        Friday => "Fri",
        Saturday => "Sat",
        Sunday => "Sun",
    }
}
