//! The styles the views draw with, built once from a resolved theme (or plain, for
//! `NO_COLOR`: no colours at all, only bold, dim and reverse).

use ratatui::style::{Color, Modifier, Style};

use crate::model::Level;
use crate::theme::{ResolvedTheme, Rgb};

fn c(rgb: Rgb) -> Color {
    Color::Rgb(rgb.r, rgb.g, rgb.b)
}

/// Every style the views use.
#[derive(Debug, Clone, PartialEq)]
pub struct Styles {
    pub no_color: bool,
    pub base: Style,
    pub muted: Style,
    pub surface: Style,
    pub border: Style,
    pub border_focused: Style,
    pub accent: Style,
    pub accent2: Style,
    pub selected: Style,
    pub success: Style,
    pub warning: Style,
    pub error: Style,
    pub info: Style,
    pub header: Style,
    pub status: Style,
    pub tab_active: Style,
    pub gauge: [Style; 3],
    pub track: Style,
    pub chart: [Style; 6],
}

impl Styles {
    /// Styles from a theme's palette.
    pub fn themed(theme: &ResolvedTheme) -> Styles {
        let p = &theme.colors;
        let bg = c(p.background);
        let fg = Style::default().fg(c(p.foreground)).bg(bg);
        let on = |rgb: Rgb| Style::default().fg(c(rgb));
        let chart = p.chart().map(|rgb| Style::default().fg(c(rgb)));
        Styles {
            no_color: false,
            base: fg,
            muted: on(p.muted),
            surface: Style::default().fg(c(p.foreground)).bg(c(p.surface)),
            border: on(p.border),
            border_focused: on(p.border_focused),
            accent: on(p.accent).add_modifier(Modifier::BOLD),
            accent2: on(p.accent2),
            selected: Style::default().fg(c(p.selection_fg)).bg(c(p.selection_bg)),
            success: on(p.success),
            warning: on(p.warning),
            error: on(p.error),
            info: on(p.info),
            header: Style::default().fg(c(p.header_fg)).bg(c(p.header_bg)),
            status: Style::default().fg(c(p.status_fg)).bg(c(p.status_bg)),
            tab_active: Style::default()
                .fg(c(p.header_bg))
                .bg(c(p.accent))
                .add_modifier(Modifier::BOLD),
            gauge: [on(p.gauge_low), on(p.gauge_mid), on(p.gauge_high)],
            track: on(p.gauge_track),
            chart,
        }
    }

    /// Styles without colour, for `NO_COLOR` and dumb terminals.
    pub fn plain() -> Styles {
        let d = Style::default();
        let bold = d.add_modifier(Modifier::BOLD);
        let dim = d.add_modifier(Modifier::DIM);
        Styles {
            no_color: true,
            base: d,
            muted: dim,
            surface: d,
            border: d,
            border_focused: bold,
            accent: bold,
            accent2: d,
            selected: d.add_modifier(Modifier::REVERSED),
            success: d,
            warning: bold,
            error: bold,
            info: d,
            header: d,
            status: d,
            tab_active: d.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            gauge: [d, bold, bold],
            track: dim,
            chart: [d; 6],
        }
    }

    /// The gauge style for a level.
    pub fn level(&self, level: Level) -> Style {
        match level {
            Level::Ok => self.gauge[0],
            Level::Warn => self.gauge[1],
            Level::Critical => self.gauge[2],
        }
    }

    /// A stable chart colour for a key.
    pub fn series(&self, key: &str) -> Style {
        let h = key
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        self.chart[(h % 6) as usize]
    }
}
