//! The command palette (`:`): every command by name, fuzzy-matched as you type.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::View;
use crate::config::TimeWindow;
use crate::model::{BudgetLock, Dim, Metric, Period, SortKey};
use crate::theme::ThemeSet;

/// What a command does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    View(View),
    Window(TimeWindow),
    Sort(SortKey),
    ToggleSidebar,
    Refresh,
    Settings,
    Help,
    Theme(String),
    BudgetLock(BudgetLock),
    Dim(Dim),
    Metric(Metric),
    ClearFilters,
    Quit,
}

/// A named command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub label: String,
    pub action: Action,
}

/// Every command, themes included.
pub fn commands(themes: &ThemeSet) -> Vec<Command> {
    let mut out = Vec::new();
    let mut add = |label: String, action: Action| out.push(Command { label, action });
    for v in View::ALL {
        add(format!("Go to {}", v.title()), Action::View(v));
    }
    for w in TimeWindow::ALL {
        add(format!("Time window: {w}"), Action::Window(w));
    }
    for s in SortKey::ALL {
        add(format!("Sort sessions by {}", s.label()), Action::Sort(s));
    }
    add("Toggle sidebar".into(), Action::ToggleSidebar);
    add("Refresh now".into(), Action::Refresh);
    add("Open settings".into(), Action::Settings);
    add("Show help".into(), Action::Help);
    add("Clear filters".into(), Action::ClearFilters);
    add(
        "Budget: follow the time window".into(),
        Action::BudgetLock(BudgetLock::Sync),
    );
    for p in Period::ALL {
        add(
            format!("Budget: lock to {}", p.label()),
            Action::BudgetLock(BudgetLock::Locked(p)),
        );
    }
    for d in [Dim::Model, Dim::Project, Dim::Agent, Dim::Provider] {
        add(format!("Break down by {}", d.label()), Action::Dim(d));
    }
    for m in [Metric::Cost, Metric::Tokens, Metric::Requests] {
        add(format!("Trends metric: {}", m.label()), Action::Metric(m));
    }
    for t in themes.themes() {
        add(
            format!("Theme: {} ({})", t.title, t.name),
            Action::Theme(t.name.clone()),
        );
    }
    add("Quit".into(), Action::Quit);
    out
}

/// A subsequence match score (higher is better), `None` when not all characters appear
/// in order. Consecutive and word-start matches score more.
pub fn fuzzy(query: &str, text: &str) -> Option<i64> {
    if query.is_empty() {
        return Some(0);
    }
    let lower = text.to_lowercase();
    let q = query.to_lowercase();
    // A contiguous match beats any scattered one; at a word start, more so.
    if let Some(pos) = lower.find(&q) {
        let word_start = pos == 0 || !lower[..pos].ends_with(char::is_alphanumeric);
        return Some(1_000_000 + if word_start { 500_000 } else { 0 } - lower.len() as i64);
    }
    let text: Vec<char> = lower.chars().collect();
    let mut score = 0i64;
    let mut at = 0usize;
    let mut last: Option<usize> = None;
    for q in query.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let pos = text[at..].iter().position(|&c| c == q)? + at;
        score += 1;
        if last.is_some_and(|l| l + 1 == pos) {
            score += 5;
        }
        if pos == 0 || !text[pos - 1].is_alphanumeric() {
            score += 3;
        }
        last = Some(pos);
        at = pos + 1;
    }
    Some(score * 100 - text.len() as i64)
}

/// The palette's input and cursor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PaletteState {
    pub input: String,
    pub sel: usize,
}

/// What a key did to the palette.
pub enum Outcome {
    Stay,
    Close,
    Run(Action),
}

impl PaletteState {
    /// The commands that match the input, best first.
    pub fn matches<'a>(&self, commands: &'a [Command]) -> Vec<&'a Command> {
        let mut scored: Vec<(i64, usize, &Command)> = commands
            .iter()
            .enumerate()
            .filter_map(|(i, c)| fuzzy(&self.input, &c.label).map(|s| (s, i, c)))
            .collect();
        if !self.input.is_empty() {
            scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        }
        scored.into_iter().map(|(_, _, c)| c).collect()
    }

    pub fn key(&mut self, key: KeyEvent, commands: &[Command]) -> Outcome {
        let n = self.matches(commands).len();
        match key.code {
            KeyCode::Esc => return Outcome::Close,
            KeyCode::Enter => {
                return match self.matches(commands).get(self.sel) {
                    Some(c) => Outcome::Run(c.action.clone()),
                    None => Outcome::Stay,
                };
            }
            KeyCode::Down | KeyCode::Tab => self.sel = (self.sel + 1).min(n.saturating_sub(1)),
            KeyCode::Char('n') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.sel = (self.sel + 1).min(n.saturating_sub(1))
            }
            KeyCode::Up | KeyCode::BackTab => self.sel = self.sel.saturating_sub(1),
            KeyCode::Char('p') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.sel = self.sel.saturating_sub(1)
            }
            KeyCode::Backspace => {
                self.input.pop();
                self.sel = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.input.push(c);
                self.sel = 0;
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

    #[test]
    fn fuzzy_prefers_word_starts_and_runs() {
        assert!(fuzzy("drc", "Theme: Dracula (dracula)").is_some());
        assert!(fuzzy("xyz", "Theme: Dracula").is_none());
        let cmds = commands(&ThemeSet::builtin());
        let state = PaletteState {
            input: "nord".into(),
            sel: 0,
        };
        let m = state.matches(&cmds);
        assert_eq!(m[0].action, Action::Theme("nord".into()));
        let state = PaletteState {
            input: "trends".into(),
            sel: 0,
        };
        assert_eq!(state.matches(&cmds)[0].action, Action::View(View::Trends));
    }
}
