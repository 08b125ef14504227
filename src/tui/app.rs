//! The dashboard's state and its one owner: [`App::update`] applies a [`Msg`] (a key, a
//! tick, data from the worker) and returns the [`Effect`]s the runtime carries out (ask
//! the worker for data, save the config, ring the bell, quit). No I/O happens here, so
//! tests drive it with plain messages and draw it with a fixed clock.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::tz::TimeZone;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

use super::palette::{self, Action, PaletteState};
use super::settings::SettingsState;
use super::style::Styles;
use crate::config::{ColorScheme, Config, TimeWindow};
use crate::model::{
    self, BudgetLock, Data, Dim, Level, Metric, Period, ProjectRow, ProviderStatus, SessionDetail, SortKey, TrendView,
    Trends,
};
use crate::theme::{ThemeSet, Variant};

/// The four views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Dashboard,
    Providers,
    Trends,
    Projects,
}

impl View {
    pub const ALL: [View; 4] = [View::Dashboard, View::Providers, View::Trends, View::Projects];

    pub fn title(self) -> &'static str {
        match self {
            View::Dashboard => "Dashboard",
            View::Providers => "Providers",
            View::Trends => "Trends",
            View::Projects => "Projects",
        }
    }
}

/// Which dashboard panel has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Sessions,
    Limits,
    Sidebar,
}

/// What is drawn over the view.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Overlay {
    #[default]
    None,
    Help,
    Settings(Box<SettingsState>),
    Palette(PaletteState),
    /// The session details drawer, for this session id.
    Session(String),
    /// The project drawer, for this project path.
    Project(String),
}

/// A short message in the corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    pub text: String,
    pub level: Level,
    pub until_ms: i64,
}

/// How long a toast stays.
pub const TOAST_MS: i64 = 4_000;

/// What the runtime must do for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Load this window's data.
    SetWindow(TimeWindow),
    /// Read new agent usage and poll providers now.
    Refresh,
    /// Load the latest requests of a session for the drawer.
    LoadSession(String),
    /// Save the config file.
    SaveConfig(Box<Config>),
    /// Ring the terminal bell this many times.
    Bell(u8),
    /// Show a desktop notification through the terminal (`alerts.desktop`).
    Desktop {
        title: String,
        body: String,
    },
    Quit,
}

/// Everything the app reacts to.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// The clock moved on (Unix ms).
    Tick(i64),
    Data(Arc<Data>),
    Trends(Arc<Trends>),
    Providers(Vec<ProviderStatus>),
    /// Background work in progress (`None` when done).
    Progress(Option<String>),
    Detail(Arc<SessionDetail>),
    /// The config was saved (the new config) or not (why).
    ConfigSaved(Result<Box<Config>, String>),
    /// Something to tell the user once.
    Notice(String, Level),
    /// Where the data comes from (and what was looked for).
    Source(SourceInfo),
}

/// Where the data comes from, for the header and the empty state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceInfo {
    pub demo: bool,
    /// What was looked for when nothing was found: `agent name: roots`.
    pub looked_in: Vec<String>,
    /// Errors of agent sources and definitions.
    pub errors: Vec<String>,
    /// The user's home, to shorten paths.
    pub home: Option<String>,
}

/// The dashboard state.
#[derive(Debug, Clone)]
pub struct App {
    pub now_ms: i64,
    pub tz: TimeZone,
    pub config: Config,
    pub config_path: Option<PathBuf>,
    /// The config file could not be used (defaults are in effect).
    pub config_error: Option<String>,
    pub themes: Arc<ThemeSet>,
    /// The terminal's background, when known (for `color_scheme = "auto"`).
    pub terminal_variant: Option<Variant>,
    pub no_color: bool,
    pub styles: Styles,
    pub theme_name: String,
    pub source: SourceInfo,

    pub view: View,
    pub focus: Focus,
    pub overlay: Overlay,
    pub window: TimeWindow,
    pub data: Arc<Data>,
    /// Whether the first data arrived.
    pub loaded: bool,
    pub trends: Option<Arc<Trends>>,
    pub providers: Vec<ProviderStatus>,
    pub progress: Option<String>,
    pub last_refresh_ms: Option<i64>,
    pub detail: Option<Arc<SessionDetail>>,

    pub filter: String,
    /// The filter being typed, when in filter mode.
    pub filter_input: Option<String>,
    pub sort: SortKey,
    pub sidebar_collapsed: bool,
    pub dim: Dim,
    pub driver_filter: Option<(Dim, String)>,
    pub driver_sel: usize,
    pub budget_lock: BudgetLock,
    /// Session indices shown, in order.
    pub rows: Vec<usize>,
    /// The sidebar's top drivers of the shown sessions.
    pub drivers: Vec<model::Driver>,
    pub sel: usize,
    sel_id: Option<String>,

    pub provider_sel: usize,
    pub provider_detail: bool,
    pub trend_range: usize,
    pub trend_metric: Metric,
    pub trend_dim: Dim,
    pub trend_cursor: Option<usize>,
    pub trend_view: Option<TrendView>,
    pub projects: Vec<ProjectRow>,
    pub project_sel: usize,

    pub toasts: Vec<Toast>,
    fired: HashSet<String>,
    pending_g: Option<i64>,
    pub quit: bool,
}

impl App {
    pub fn new(
        config: Config,
        config_error: Option<String>,
        themes: Arc<ThemeSet>,
        no_color: bool,
        terminal_variant: Option<Variant>,
        now_ms: i64,
        tz: TimeZone,
    ) -> App {
        let window = config.display.default_window;
        let mut app = App {
            now_ms,
            tz,
            window,
            sidebar_collapsed: config.display.sidebar_collapsed,
            theme_name: config.display.theme.clone(),
            styles: Styles::plain(),
            config,
            config_path: None,
            config_error,
            themes,
            terminal_variant,
            no_color,
            source: SourceInfo::default(),
            view: View::Dashboard,
            focus: Focus::Sessions,
            overlay: Overlay::None,
            data: Arc::new(Data {
                now_ms,
                window,
                ..Data::default()
            }),
            loaded: false,
            trends: None,
            providers: Vec::new(),
            progress: None,
            last_refresh_ms: None,
            detail: None,
            filter: String::new(),
            filter_input: None,
            sort: SortKey::Cost,
            dim: Dim::Model,
            driver_filter: None,
            driver_sel: 0,
            budget_lock: BudgetLock::Sync,
            rows: Vec::new(),
            drivers: Vec::new(),
            sel: 0,
            sel_id: None,
            provider_sel: 0,
            provider_detail: true,
            trend_range: 30,
            trend_metric: Metric::Cost,
            trend_dim: Dim::Model,
            trend_cursor: None,
            trend_view: None,
            projects: Vec::new(),
            project_sel: 0,
            toasts: Vec::new(),
            fired: HashSet::new(),
            pending_g: None,
            quit: false,
        };
        if let Some(e) = &app.config_error {
            app.toast(format!("Config not used: {e}"), Level::Warn);
        }
        let theme = app.theme_name.clone();
        app.apply_theme(&theme);
        app
    }

    /// Draws with this theme from now on (its light/dark counterpart per the scheme).
    pub fn apply_theme(&mut self, name: &str) {
        self.theme_name = name.to_owned();
        self.styles = if self.no_color {
            Styles::plain()
        } else {
            let want = match self.config.display.color_scheme {
                ColorScheme::Dark => Some(Variant::Dark),
                ColorScheme::Light => Some(Variant::Light),
                ColorScheme::Auto => self.terminal_variant,
            };
            Styles::themed(self.themes.pick(name, want))
        };
    }

    pub fn toast(&mut self, text: impl Into<String>, level: Level) {
        self.toasts.push(Toast {
            text: text.into(),
            level,
            until_ms: self.now_ms + TOAST_MS,
        });
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
    }

    /// The session under the cursor.
    pub fn selected_session(&self) -> Option<&model::Session> {
        self.rows.get(self.sel).map(|&i| &self.data.sessions[i])
    }

    /// Recomputes everything derived from data and view settings.
    pub fn recompute(&mut self) {
        self.rows = model::session_view(&self.data, &self.filter, self.driver_filter.as_ref(), self.sort);
        // Keep the cursor on the same session across re-sorts.
        if let Some(id) = &self.sel_id
            && let Some(pos) = self.rows.iter().position(|&i| &self.data.sessions[i].id == id)
        {
            self.sel = pos;
        }
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
        self.sel_id = self.selected_session().map(|s| s.id.clone());
        self.drivers = model::drivers(&self.data, &self.rows, self.dim);
        self.driver_sel = self.driver_sel.min(self.drivers.len().saturating_sub(1));
        self.projects = model::projects(&self.data, &self.filter);
        self.project_sel = self.project_sel.min(self.projects.len().saturating_sub(1));
        self.provider_sel = self.provider_sel.min(self.providers.len().saturating_sub(1));
        self.trend_view = self
            .trends
            .as_ref()
            .map(|t| model::trend_view(t, self.trend_range, self.trend_metric, self.trend_dim));
        if let (Some(c), Some(v)) = (self.trend_cursor, &self.trend_view) {
            self.trend_cursor = Some(c.min(v.values.len().saturating_sub(1)));
        }
    }

    /// Today in the display time zone.
    pub fn today(&self) -> jiff::civil::Date {
        model::local_date(self.now_ms, &self.tz)
    }

    /// The budget the gauge shows.
    pub fn budget(&self) -> Option<model::BudgetStatus> {
        let period = self.budget_lock.period(self.window)?;
        let trends = self.trends.as_ref()?;
        Some(model::budget(trends, self.today(), period, &self.config.budgets))
    }

    /// Applies one message.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Key(key) => {
                if key.kind != KeyEventKind::Release {
                    self.key(key, &mut fx);
                }
            }
            Msg::Mouse(m) => self.mouse(m),
            Msg::Tick(now) => {
                self.now_ms = now;
                self.toasts.retain(|t| t.until_ms > now);
            }
            Msg::Data(data) => {
                if data.window == self.window {
                    self.data = data;
                    self.loaded = true;
                    self.last_refresh_ms = Some(self.data.now_ms);
                    self.recompute();
                }
            }
            Msg::Trends(t) => {
                self.trends = Some(t);
                self.recompute();
                self.check_budgets(&mut fx);
            }
            Msg::Providers(p) => {
                self.providers = p;
                self.recompute();
                self.check_limits(&mut fx);
            }
            Msg::Progress(p) => self.progress = p,
            Msg::Detail(d) => self.detail = Some(d),
            Msg::ConfigSaved(Ok(cfg)) => {
                self.config = *cfg;
                self.config_error = None;
                let theme = self.config.display.theme.clone();
                self.apply_theme(&theme);
                self.toast("Settings saved", Level::Ok);
                self.check_budgets(&mut fx);
                self.check_limits(&mut fx);
            }
            Msg::ConfigSaved(Err(e)) => {
                self.toast(format!("Settings not saved: {e}"), Level::Critical);
                let theme = self.config.display.theme.clone();
                self.apply_theme(&theme);
            }
            Msg::Notice(text, level) => self.toast(text, level),
            Msg::Source(info) => self.source = info,
        }
        fx
    }

    /// Fires one alert once per key: a toast and the bell, as configured.
    fn alert(&mut self, key: String, text: String, level: Level, fx: &mut Vec<Effect>) {
        if !self.fired.insert(key) {
            return;
        }
        if self.config.alerts.toasts {
            self.toasts.push(Toast {
                text: text.clone(),
                level,
                until_ms: self.now_ms + 2 * TOAST_MS,
            });
        }
        if self.config.alerts.desktop {
            let title = if level == Level::Critical {
                "ttop: critical"
            } else {
                "ttop"
            };
            fx.push(Effect::Desktop {
                title: title.to_string(),
                body: text.clone(),
            });
        }
        if self.config.alerts.bell {
            fx.push(Effect::Bell(if level == Level::Critical { 3 } else { 1 }));
        }
    }

    /// Budget alerts, whichever view is open.
    fn check_budgets(&mut self, fx: &mut Vec<Effect>) {
        let Some(trends) = self.trends.clone() else { return };
        let today = self.today();
        for period in Period::ALL {
            let status = model::budget(&trends, today, period, &self.config.budgets);
            let (Some(pct), Some(limit)) = (status.percent(), status.limit) else {
                continue;
            };
            let level = model::level(pct, &self.config.budgets);
            if level == Level::Ok {
                continue;
            }
            let what = if level == Level::Critical {
                "critical"
            } else {
                "warning"
            };
            let text = format!(
                "{} budget {what}: {:.0}% spent ({} of {})",
                period.label(),
                pct,
                super::fmt::usd(status.spent.usd),
                super::fmt::usd(limit)
            );
            self.alert(format!("budget:{period:?}:{}:{level:?}", status.start), text, level, fx);
        }
    }

    /// Provider limit alerts.
    fn check_limits(&mut self, fx: &mut Vec<Effect>) {
        for p in self.providers.clone() {
            let Some(pct) = p.max_percent() else { continue };
            let level = if p.limit_reached() {
                Level::Critical
            } else {
                model::level(pct, &self.config.budgets)
            };
            if level == Level::Ok {
                continue;
            }
            let text = if p.limit_reached() {
                format!("{}: limit reached", p.name)
            } else {
                format!("{}: {:.0}% of a limit used", p.name, pct)
            };
            let reset = p.next_reset_ms().unwrap_or(0);
            self.alert(format!("limit:{}:{reset}:{level:?}", p.id), text, level, fx);
        }
    }

    fn set_window(&mut self, w: TimeWindow, fx: &mut Vec<Effect>) {
        if w != self.window {
            self.window = w;
            self.progress = Some(format!("loading {w}"));
            fx.push(Effect::SetWindow(w));
        }
    }

    /// Runs a palette or key action.
    pub fn run(&mut self, action: Action, fx: &mut Vec<Effect>) {
        match action {
            Action::View(v) => {
                self.view = v;
                self.overlay = Overlay::None;
            }
            Action::Window(w) => self.set_window(w, fx),
            Action::Sort(s) => {
                self.sort = s;
                self.recompute();
            }
            Action::ToggleSidebar => self.sidebar_collapsed = !self.sidebar_collapsed,
            Action::Refresh => {
                self.progress = Some("refreshing".into());
                fx.push(Effect::Refresh);
            }
            Action::Settings => {
                self.overlay = Overlay::Settings(Box::new(SettingsState::new(&self.config, &self.themes)));
            }
            Action::Help => self.overlay = Overlay::Help,
            Action::Theme(name) => {
                self.apply_theme(&name);
                let mut cfg = self.config.clone();
                cfg.display.theme = name;
                fx.push(Effect::SaveConfig(Box::new(cfg)));
            }
            Action::BudgetLock(l) => self.budget_lock = l,
            Action::Dim(d) => {
                self.dim = d;
                self.driver_sel = 0;
                self.trend_dim = d;
                self.recompute();
            }
            Action::Metric(m) => {
                self.trend_metric = m;
                self.recompute();
            }
            Action::ClearFilters => {
                self.filter.clear();
                self.driver_filter = None;
                self.recompute();
            }
            Action::Quit => {
                self.quit = true;
                fx.push(Effect::Quit);
            }
        }
    }

    fn mouse(&mut self, m: MouseEvent) {
        let delta = match m.kind {
            MouseEventKind::ScrollDown => 1,
            MouseEventKind::ScrollUp => -1,
            _ => return,
        };
        if self.overlay == Overlay::None {
            self.move_sel(delta);
        }
    }

    fn move_sel(&mut self, delta: isize) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                0
            } else {
                cur.saturating_add_signed(delta).min(len - 1)
            }
        };
        match self.view {
            View::Dashboard => match self.focus {
                Focus::Sidebar => {
                    let n = self.driver_count();
                    self.driver_sel = step(self.driver_sel, n);
                }
                Focus::Limits => {
                    self.provider_sel = step(self.provider_sel, self.providers.len());
                }
                Focus::Sessions => {
                    self.sel = step(self.sel, self.rows.len());
                    self.sel_id = self.selected_session().map(|s| s.id.clone());
                }
            },
            View::Providers => self.provider_sel = step(self.provider_sel, self.providers.len()),
            View::Projects => self.project_sel = step(self.project_sel, self.projects.len()),
            View::Trends => {
                let n = self.trend_view.as_ref().map_or(0, |v| v.values.len());
                let cur = self.trend_cursor.unwrap_or(n.saturating_sub(1));
                self.trend_cursor = Some(step(cur, n));
            }
        }
    }

    fn jump(&mut self, end: bool) {
        let big = if end { isize::MAX / 2 } else { -(isize::MAX / 2) };
        self.move_sel(big);
    }

    /// How many top drivers the sidebar lists.
    pub fn driver_count(&self) -> usize {
        self.drivers.len()
    }

    fn key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c')) {
            self.run(Action::Quit, fx);
            return;
        }
        // Filter typing takes every key.
        if let Some(input) = &mut self.filter_input {
            match key.code {
                KeyCode::Esc => {
                    self.filter_input = None;
                    self.filter.clear();
                }
                KeyCode::Enter => {
                    self.filter_input = None;
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.filter = input.clone();
                }
                KeyCode::Char(c) if !ctrl && !c.is_control() => {
                    input.push(c);
                    self.filter = input.clone();
                }
                _ => {}
            }
            self.sel = 0;
            self.recompute();
            return;
        }
        match &mut self.overlay {
            Overlay::None => {}
            Overlay::Help => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter) {
                    self.overlay = Overlay::None;
                }
                return;
            }
            Overlay::Session(_) | Overlay::Project(_) => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter => self.overlay = Overlay::None,
                    KeyCode::Char('j') | KeyCode::Down => self.drawer_step(1, fx),
                    KeyCode::Char('k') | KeyCode::Up => self.drawer_step(-1, fx),
                    _ => {}
                }
                return;
            }
            Overlay::Palette(state) => {
                let commands = palette::commands(&self.themes);
                match state.key(key, &commands) {
                    palette::Outcome::Stay => {}
                    palette::Outcome::Close => self.overlay = Overlay::None,
                    palette::Outcome::Run(action) => {
                        self.overlay = Overlay::None;
                        self.run(action, fx);
                    }
                }
                return;
            }
            Overlay::Settings(state) => {
                let outcome = state.key(key, &self.themes);
                match outcome {
                    super::settings::Outcome::Stay => {
                        if let Overlay::Settings(s) = &self.overlay {
                            let theme = s.theme().to_owned();
                            if theme != self.theme_name {
                                self.apply_theme(&theme);
                            }
                        }
                    }
                    super::settings::Outcome::Cancel => {
                        self.overlay = Overlay::None;
                        let theme = self.config.display.theme.clone();
                        self.apply_theme(&theme);
                    }
                    super::settings::Outcome::Save(cfg) => {
                        self.overlay = Overlay::None;
                        fx.push(Effect::SaveConfig(cfg));
                    }
                }
                return;
            }
        }
        // Global keys.
        let now = self.now_ms;
        match key.code {
            KeyCode::Char('q') => return self.run(Action::Quit, fx),
            KeyCode::Char(c @ '1'..='4') => {
                let v = View::ALL[(c as u8 - b'1') as usize];
                return self.run(Action::View(v), fx);
            }
            KeyCode::Char('?') => return self.run(Action::Help, fx),
            KeyCode::Char(',') => return self.run(Action::Settings, fx),
            KeyCode::Char(':') => {
                self.overlay = Overlay::Palette(PaletteState::default());
                return;
            }
            KeyCode::Char('r') => return self.run(Action::Refresh, fx),
            KeyCode::Char('/') => {
                self.filter_input = Some(self.filter.clone());
                return;
            }
            KeyCode::Char('t') | KeyCode::Char('T') if self.view != View::Trends => {
                let all = TimeWindow::ALL;
                let i = all.iter().position(|w| *w == self.window).unwrap_or(0);
                let next = if key.code == KeyCode::Char('T') || key.modifiers.contains(KeyModifiers::SHIFT) {
                    all[(i + all.len() - 1) % all.len()]
                } else {
                    all[(i + 1) % all.len()]
                };
                return self.set_window(next, fx);
            }
            KeyCode::Char('j') | KeyCode::Down => return self.move_sel(1),
            KeyCode::Char('k') | KeyCode::Up => return self.move_sel(-1),
            KeyCode::PageDown => return self.move_sel(10),
            KeyCode::PageUp => return self.move_sel(-10),
            KeyCode::Char('G') | KeyCode::End => return self.jump(true),
            KeyCode::Home => return self.jump(false),
            KeyCode::Char('g') => {
                if self.pending_g.is_some_and(|t| now - t <= 1_000) {
                    self.pending_g = None;
                    self.jump(false);
                } else {
                    self.pending_g = Some(now);
                }
                return;
            }
            KeyCode::Esc => {
                if self.driver_filter.is_some() || !self.filter.is_empty() {
                    self.run(Action::ClearFilters, fx);
                } else {
                    self.focus = Focus::Sessions;
                }
                return;
            }
            _ => {}
        }
        match self.view {
            View::Dashboard => self.dashboard_key(key, fx),
            View::Providers => match key.code {
                KeyCode::Enter => self.provider_detail = !self.provider_detail,
                KeyCode::Char('h') | KeyCode::Left => self.move_sel(-1),
                KeyCode::Char('l') | KeyCode::Right => self.move_sel(1),
                _ => {}
            },
            View::Trends => match key.code {
                KeyCode::Char('t') | KeyCode::Char('d') => {
                    self.trend_range = match self.trend_range {
                        7 => 30,
                        30 => 90,
                        _ => 7,
                    };
                    self.trend_cursor = None;
                    self.recompute();
                }
                KeyCode::Char('c') => self.run(Action::Metric(self.trend_metric.next()), fx),
                KeyCode::Char('m') => self.run(Action::Dim(Dim::Model), fx),
                KeyCode::Char('p') => self.run(Action::Dim(Dim::Project), fx),
                KeyCode::Char('a') => self.run(Action::Dim(Dim::Agent), fx),
                KeyCode::Char('o') => self.run(Action::Dim(Dim::Provider), fx),
                KeyCode::Char('h') | KeyCode::Left => self.move_sel(-1),
                KeyCode::Char('l') | KeyCode::Right => self.move_sel(1),
                _ => {}
            },
            View::Projects => {
                if key.code == KeyCode::Enter
                    && let Some(p) = self.projects.get(self.project_sel)
                {
                    self.overlay = Overlay::Project(p.path.clone());
                }
                if key.code == KeyCode::Char('s') {
                    self.run(Action::Sort(self.sort.next()), fx);
                }
            }
        }
    }

    fn dashboard_key(&mut self, key: KeyEvent, fx: &mut Vec<Effect>) {
        match key.code {
            KeyCode::Tab => {
                self.focus = match self.focus {
                    Focus::Sessions if !self.providers.is_empty() => Focus::Limits,
                    Focus::Sessions | Focus::Limits => Focus::Sidebar,
                    Focus::Sidebar => Focus::Sessions,
                }
            }
            KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Sessions => Focus::Sidebar,
                    Focus::Sidebar if !self.providers.is_empty() => Focus::Limits,
                    Focus::Sidebar | Focus::Limits => Focus::Sessions,
                }
            }
            KeyCode::Char('s') => self.run(Action::Sort(self.sort.next()), fx),
            KeyCode::Char('i') => self.run(Action::ToggleSidebar, fx),
            KeyCode::Char('m') => self.run(Action::Dim(Dim::Model), fx),
            KeyCode::Char('p') => self.run(Action::Dim(Dim::Project), fx),
            KeyCode::Char('a') => self.run(Action::Dim(Dim::Agent), fx),
            KeyCode::Char('b') => self.run(Action::BudgetLock(self.budget_lock.next()), fx),
            KeyCode::Char('l') if self.focus != Focus::Limits && !self.providers.is_empty() => {
                self.focus = Focus::Limits
            }
            KeyCode::Char('h') | KeyCode::Left if self.focus == Focus::Limits => self.move_sel(-1),
            KeyCode::Char('l') | KeyCode::Right if self.focus == Focus::Limits => self.move_sel(1),
            KeyCode::Enter => match self.focus {
                Focus::Sessions => {
                    if let Some(s) = self.selected_session() {
                        let id = s.id.clone();
                        self.detail = None;
                        self.overlay = Overlay::Session(id.clone());
                        fx.push(Effect::LoadSession(id));
                    }
                }
                Focus::Sidebar => {
                    if let Some(d) = self.drivers.get(self.driver_sel) {
                        let pick = (self.dim, d.key.clone());
                        self.driver_filter = if self.driver_filter.as_ref() == Some(&pick) {
                            None
                        } else {
                            Some(pick)
                        };
                        self.sel = 0;
                        self.recompute();
                    }
                }
                Focus::Limits => {
                    self.view = View::Providers;
                }
            },
            _ => {}
        }
    }

    /// Moves the drawer to the next or previous session or project.
    fn drawer_step(&mut self, delta: isize, fx: &mut Vec<Effect>) {
        match self.overlay {
            Overlay::Session(_) => {
                self.move_sel(delta);
                if let Some(s) = self.selected_session() {
                    let id = s.id.clone();
                    self.overlay = Overlay::Session(id.clone());
                    fx.push(Effect::LoadSession(id));
                }
            }
            Overlay::Project(_) => {
                self.move_sel(delta);
                if let Some(p) = self.projects.get(self.project_sel) {
                    self.overlay = Overlay::Project(p.path.clone());
                }
            }
            _ => {}
        }
    }

    /// The footer's key hints for what has focus.
    pub fn hints(&self) -> &'static str {
        if self.filter_input.is_some() {
            return "type to filter  Enter apply  Esc clear";
        }
        match &self.overlay {
            Overlay::Help => return "Esc/? close",
            Overlay::Settings(_) => return "↑↓ field  ←→/Enter change  Ctrl+S save  Esc cancel",
            Overlay::Palette(_) => return "type to search  ↑↓ select  Enter run  Esc close",
            Overlay::Session(_) | Overlay::Project(_) => return "j/k next/prev  Esc close",
            Overlay::None => {}
        }
        match self.view {
            View::Dashboard => match self.focus {
                Focus::Sessions => {
                    "/ filter  j/k move  Enter details  s sort  Tab focus  i sidebar  m/p/a top  b budget"
                }
                Focus::Limits => "←→ provider  Enter providers view  Tab focus  Esc back",
                Focus::Sidebar => "j/k select  Enter filter by it  m/p/a dimension  b budget lock  Esc back",
            },
            View::Providers => "j/k select  Enter details  r refresh",
            View::Trends => "t range  c metric  m/p/a/o breakdown  ←→ day",
            View::Projects => "j/k move  Enter details  / filter",
        }
    }
}
