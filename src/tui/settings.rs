//! The settings modal (`,`): edits a copy of the config; saving checks it with
//! `Config::validate` and hands it to the runtime, which writes it atomically.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::{ColorScheme, Config, HumanDuration, TimeWindow};
use crate::theme::ThemeSet;

/// The editable fields, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Refresh,
    Window,
    Daily,
    Weekly,
    Monthly,
    Warn,
    Critical,
    Theme,
    Scheme,
    Toasts,
    Bell,
    Desktop,
    Save,
}

impl Field {
    pub const ALL: [Field; 13] = [
        Field::Refresh,
        Field::Window,
        Field::Daily,
        Field::Weekly,
        Field::Monthly,
        Field::Warn,
        Field::Critical,
        Field::Theme,
        Field::Scheme,
        Field::Toasts,
        Field::Bell,
        Field::Desktop,
        Field::Save,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Refresh => "Provider refresh interval",
            Field::Window => "Default time window",
            Field::Daily => "Daily budget (USD)",
            Field::Weekly => "Weekly budget (USD)",
            Field::Monthly => "Monthly budget (USD)",
            Field::Warn => "Warning threshold (%)",
            Field::Critical => "Critical threshold (%)",
            Field::Theme => "Theme",
            Field::Scheme => "Color scheme",
            Field::Toasts => "Alert toasts",
            Field::Bell => "Alert bell",
            Field::Desktop => "Desktop notifications",
            Field::Save => "[ Save ]",
        }
    }

    /// Whether the field is typed in (rather than cycled or toggled).
    fn is_text(self) -> bool {
        matches!(
            self,
            Field::Refresh | Field::Daily | Field::Weekly | Field::Monthly | Field::Warn | Field::Critical
        )
    }
}

/// The modal's state.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsState {
    pub config: Config,
    pub sel: usize,
    /// The text being typed into the selected field.
    pub editing: Option<String>,
    /// Why the last edit or save was refused.
    pub error: Option<String>,
}

/// What a key did.
pub enum Outcome {
    Stay,
    Cancel,
    Save(Box<Config>),
}

fn money(x: Option<f64>) -> String {
    x.map_or_else(|| "not set".to_owned(), |v| format!("{v:.2}"))
}

fn on_off(b: bool) -> String {
    if b { "on".into() } else { "off".into() }
}

impl SettingsState {
    pub fn new(config: &Config, _themes: &ThemeSet) -> SettingsState {
        SettingsState {
            config: config.clone(),
            sel: 0,
            editing: None,
            error: None,
        }
    }

    pub fn field(&self) -> Field {
        Field::ALL[self.sel.min(Field::ALL.len() - 1)]
    }

    pub fn theme(&self) -> &str {
        &self.config.display.theme
    }

    /// A field's current value as text.
    pub fn value(&self, f: Field) -> String {
        let c = &self.config;
        match f {
            Field::Refresh => c.refresh.interval.to_string(),
            Field::Window => c.display.default_window.to_string(),
            Field::Daily => money(c.budgets.daily),
            Field::Weekly => money(c.budgets.weekly),
            Field::Monthly => money(c.budgets.monthly),
            Field::Warn => c.budgets.warn_percent.to_string(),
            Field::Critical => c.budgets.critical_percent.to_string(),
            Field::Theme => c.display.theme.clone(),
            Field::Scheme => match c.display.color_scheme {
                ColorScheme::Auto => "auto".into(),
                ColorScheme::Dark => "dark".into(),
                ColorScheme::Light => "light".into(),
            },
            Field::Toasts => on_off(c.alerts.toasts),
            Field::Bell => on_off(c.alerts.bell),
            Field::Desktop => on_off(c.alerts.desktop),
            Field::Save => String::new(),
        }
    }

    /// Cycles a choice field one step.
    fn cycle(&mut self, forward: bool, themes: &ThemeSet) {
        let step = |i: usize, n: usize| if forward { (i + 1) % n } else { (i + n - 1) % n };
        let field = self.field();
        let c = &mut self.config;
        match field {
            Field::Window => {
                let all = TimeWindow::ALL;
                let i = all.iter().position(|w| *w == c.display.default_window).unwrap_or(0);
                c.display.default_window = all[step(i, all.len())];
            }
            Field::Theme => {
                let names = themes.names();
                if !names.is_empty() {
                    let i = names.iter().position(|n| *n == c.display.theme).unwrap_or(0);
                    c.display.theme = names[step(i, names.len())].to_owned();
                }
            }
            Field::Scheme => {
                let all = [ColorScheme::Auto, ColorScheme::Dark, ColorScheme::Light];
                let i = all.iter().position(|s| *s == c.display.color_scheme).unwrap_or(0);
                c.display.color_scheme = all[step(i, all.len())];
            }
            Field::Toasts => c.alerts.toasts = !c.alerts.toasts,
            Field::Bell => c.alerts.bell = !c.alerts.bell,
            Field::Desktop => c.alerts.desktop = !c.alerts.desktop,
            _ => {}
        }
    }

    /// Applies typed text to the selected field.
    fn commit_text(&mut self, text: &str) -> Result<(), String> {
        let t = text.trim();
        let field = self.field();
        let c = &mut self.config;
        let amount = |t: &str| -> Result<Option<f64>, String> {
            if t.is_empty() || t == "not set" || t == "-" {
                return Ok(None);
            }
            match t.trim_start_matches('$').parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Some(v)),
                _ => Err(format!(
                    "'{t}' is not an amount; use a number greater than 0, or leave it empty"
                )),
            }
        };
        let percent = |t: &str| -> Result<u8, String> {
            match t.trim_end_matches('%').parse::<u8>() {
                Ok(v) if (1..=100).contains(&v) => Ok(v),
                _ => Err(format!("'{t}' is not a percentage from 1 to 100")),
            }
        };
        match field {
            Field::Refresh => {
                let d = HumanDuration::parse(t)?;
                if d.get() < std::time::Duration::from_secs(1) {
                    return Err(format!("'{t}' is too short; use at least '1s'"));
                }
                c.refresh.interval = d;
            }
            Field::Daily => c.budgets.daily = amount(t)?,
            Field::Weekly => c.budgets.weekly = amount(t)?,
            Field::Monthly => c.budgets.monthly = amount(t)?,
            Field::Warn => c.budgets.warn_percent = percent(t)?,
            Field::Critical => c.budgets.critical_percent = percent(t)?,
            _ => {}
        }
        Ok(())
    }

    fn save(&mut self) -> Outcome {
        match self.config.validate().into_iter().next() {
            Some((key, message)) => {
                self.error = Some(format!("{key}: {message}"));
                Outcome::Stay
            }
            None => Outcome::Save(Box::new(self.config.clone())),
        }
    }

    pub fn key(&mut self, key: KeyEvent, themes: &ThemeSet) -> Outcome {
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Esc => self.editing = None,
                KeyCode::Enter | KeyCode::Tab => {
                    let text = text.clone();
                    match self.commit_text(&text) {
                        Ok(()) => {
                            self.editing = None;
                            self.error = None;
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
                _ => {}
            }
            return Outcome::Stay;
        }
        let n = Field::ALL.len();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => return Outcome::Cancel,
            KeyCode::Char('s') if key.modifiers.contains(KeyModifiers::CONTROL) => return self.save(),
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => self.sel = (self.sel + 1) % n,
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => self.sel = (self.sel + n - 1) % n,
            KeyCode::Left | KeyCode::Char('h') => self.cycle(false, themes),
            KeyCode::Right | KeyCode::Char('l') => self.cycle(true, themes),
            KeyCode::Enter | KeyCode::Char(' ') => {
                let f = self.field();
                if f == Field::Save {
                    return self.save();
                }
                if f.is_text() {
                    let v = self.value(f);
                    self.editing = Some(if v == "not set" { String::new() } else { v });
                } else {
                    self.cycle(true, themes);
                }
            }
            _ => {}
        }
        Outcome::Stay
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEvent;

    fn press(s: &mut SettingsState, code: KeyCode) -> Outcome {
        s.key(KeyEvent::new(code, KeyModifiers::NONE), &ThemeSet::builtin())
    }

    #[test]
    fn edits_validate_and_save() {
        let mut s = SettingsState::new(&Config::default(), &ThemeSet::builtin());
        s.sel = 2; // Daily budget.
        press(&mut s, KeyCode::Enter);
        for c in "abc".chars() {
            press(&mut s, KeyCode::Char(c));
        }
        press(&mut s, KeyCode::Enter);
        assert!(s.error.as_deref().unwrap().contains("'abc' is not an amount"));
        press(&mut s, KeyCode::Esc);
        press(&mut s, KeyCode::Enter);
        for c in "25".chars() {
            press(&mut s, KeyCode::Char(c));
        }
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.config.budgets.daily, Some(25.0));
        // Warn above critical is refused at save time.
        s.config.budgets.warn_percent = 99;
        s.config.budgets.critical_percent = 90;
        s.sel = Field::ALL.len() - 1;
        assert!(matches!(press(&mut s, KeyCode::Enter), Outcome::Stay));
        assert!(s.error.as_deref().unwrap().starts_with("budgets.critical_percent"));
        s.config.budgets.warn_percent = 80;
        assert!(matches!(press(&mut s, KeyCode::Enter), Outcome::Save(_)));
    }
}
