//! The user config file, `~/.config/tokentop/config.toml`.
//!
//! [`Config`] is the one Rust type for the file: its `///` docs and defaults become the
//! JSON Schema in `schemas/` and the commented sample in `tests/fixtures/config/full.toml`.
//! Parsing is strict (`deny_unknown_fields` everywhere) and [`Config::load`] never
//! fails hard: a missing file means defaults, and a bad file means defaults plus a
//! [`ConfigError`] that names `path:line:col`, the offending key and, for a misspelt
//! key, the key that was probably meant.
//!
//! The TOML error helpers here ([`describe_toml_error`], [`locate_key`]) are shared
//! with [`crate::theme`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The theme used when the config names none.
pub const DEFAULT_THEME: &str = "tokyo-night";

/// The user config file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[schemars(title = "ttop config")]
pub struct Config {
    /// Ids of definitions (providers, agents, notifiers) to turn off, for example
    /// `["my-agent", "some-provider"]`.
    pub disabled: Vec<String>,
    /// How often data is refreshed.
    pub refresh: Refresh,
    /// Look and feel.
    pub display: Display,
    /// Spending limits and the thresholds that colour them.
    pub budgets: Budgets,
    /// How alerts are delivered.
    pub alerts: Alerts,
    /// Model prices.
    pub pricing: Pricing,
    /// Per-definition settings, keyed by definition id: `[providers.<id>]` holds the
    /// values that definition's `config` section declares.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// The `[refresh]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Refresh {
    /// How often provider usage and limits are polled, for example `"30s"` or `"5m"`.
    /// At least one second.
    pub interval: HumanDuration,
    /// How long the downloaded model price catalogue stays fresh before it is fetched again.
    pub pricing_ttl: HumanDuration,
    /// Start with automatic polling paused (`r` still refreshes by hand).
    pub paused: bool,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            interval: HumanDuration::from_secs(60, "60s"),
            pricing_ttl: HumanDuration::from_secs(3600, "1h"),
            paused: false,
        }
    }
}

/// The `[display]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Display {
    /// The theme's name: a built-in theme or a file in `~/.config/tokentop/themes/`.
    pub theme: String,
    /// Which themes to use: `"auto"` follows the terminal's light or dark background
    /// and switches to the theme's light/dark counterpart; `"dark"` and `"light"` force one.
    pub color_scheme: ColorScheme,
    /// The time window the dashboard opens with.
    pub default_window: TimeWindow,
    /// An IANA time zone name such as `"Europe/Berlin"` for day and week boundaries;
    /// the system time zone when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Start with the dashboard sidebar collapsed.
    pub sidebar_collapsed: bool,
    /// How sparklines are drawn.
    pub sparkline: Sparkline,
}

impl Default for Display {
    fn default() -> Self {
        Display {
            theme: DEFAULT_THEME.to_owned(),
            color_scheme: ColorScheme::Auto,
            default_window: TimeWindow::H24,
            timezone: None,
            sidebar_collapsed: false,
            sparkline: Sparkline::default(),
        }
    }
}

/// The `[display.sparkline]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Sparkline {
    /// The glyphs sparklines are drawn with.
    pub style: SparklineStyle,
    /// Whether bars grow up from the bottom or down from the top.
    pub direction: SparklineDirection,
    /// Draw a baseline under the sparkline.
    pub baseline: bool,
}

impl Default for Sparkline {
    fn default() -> Self {
        Sparkline {
            style: SparklineStyle::Braille,
            direction: SparklineDirection::Up,
            baseline: true,
        }
    }
}

/// The glyphs sparklines are drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SparklineStyle {
    /// Braille dots: twice the resolution.
    #[default]
    Braille,
    /// Block characters: bolder, and readable in every font.
    Block,
}

/// Whether sparkline bars grow up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SparklineDirection {
    /// Bars grow up from the bottom.
    #[default]
    Up,
    /// Bars hang down from the top.
    Down,
}

/// Which light/dark variant of the theme to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColorScheme {
    /// Follow the terminal's background.
    #[default]
    Auto,
    /// Always use a dark theme.
    Dark,
    /// Always use a light theme.
    Light,
}

/// A time window the dashboard can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum TimeWindow {
    /// The last 5 minutes.
    #[serde(rename = "5m")]
    M5,
    /// The last 15 minutes.
    #[serde(rename = "15m")]
    M15,
    /// The last hour.
    #[serde(rename = "1h")]
    H1,
    /// The last 4 hours.
    #[serde(rename = "4h")]
    H4,
    /// The last 24 hours.
    #[default]
    #[serde(rename = "24h")]
    H24,
    /// The last 7 days.
    #[serde(rename = "7d")]
    D7,
    /// The last 30 days.
    #[serde(rename = "30d")]
    D30,
    /// Everything recorded.
    #[serde(rename = "all")]
    All,
}

impl TimeWindow {
    /// Every window, shortest first (the order the UI cycles through).
    pub const ALL: [TimeWindow; 8] = [
        TimeWindow::M5,
        TimeWindow::M15,
        TimeWindow::H1,
        TimeWindow::H4,
        TimeWindow::H24,
        TimeWindow::D7,
        TimeWindow::D30,
        TimeWindow::All,
    ];

    /// The name used in the config file and the UI: `"5m"` … `"all"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeWindow::M5 => "5m",
            TimeWindow::M15 => "15m",
            TimeWindow::H1 => "1h",
            TimeWindow::H4 => "4h",
            TimeWindow::H24 => "24h",
            TimeWindow::D7 => "7d",
            TimeWindow::D30 => "30d",
            TimeWindow::All => "all",
        }
    }

    /// The window's length; `None` for `all`.
    pub fn duration(self) -> Option<Duration> {
        let minutes: u64 = match self {
            TimeWindow::M5 => 5,
            TimeWindow::M15 => 15,
            TimeWindow::H1 => 60,
            TimeWindow::H4 => 4 * 60,
            TimeWindow::H24 => 24 * 60,
            TimeWindow::D7 => 7 * 24 * 60,
            TimeWindow::D30 => 30 * 24 * 60,
            TimeWindow::All => return None,
        };
        Some(Duration::from_secs(minutes * 60))
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TimeWindow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TimeWindow::ALL.into_iter().find(|w| w.as_str() == s).ok_or_else(|| {
            let names: Vec<String> = TimeWindow::ALL.iter().map(|w| format!("'{}'", w.as_str())).collect();
            format!("'{s}' is not a time window; use one of {}", names.join(", "))
        })
    }
}

/// The `[budgets]` section. Amounts are in US dollars; leave one out for no budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Budgets {
    /// The most to spend per calendar day, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily: Option<f64>,
    /// The most to spend per calendar week (from Monday), in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekly: Option<f64>,
    /// The most to spend per calendar month, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly: Option<f64>,
    /// The share of a budget or limit (in percent) at which it turns to a warning.
    #[schemars(range(min = 1, max = 100))]
    pub warn_percent: u8,
    /// The share of a budget or limit (in percent) at which it turns critical.
    /// At least `warn_percent`.
    #[schemars(range(min = 1, max = 100))]
    pub critical_percent: u8,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            daily: None,
            weekly: None,
            monthly: None,
            warn_percent: 80,
            critical_percent: 95,
        }
    }
}

/// The `[alerts]` section: where budget and limit alerts go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Alerts {
    /// Show alerts as toasts in the dashboard.
    pub toasts: bool,
    /// Ring the terminal bell (once for a warning, three times when critical).
    pub bell: bool,
    /// Show desktop notifications through the terminal (OSC 777, iTerm2's OSC 9, kitty's
    /// OSC 99), also over SSH.
    pub desktop: bool,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            toasts: true,
            bell: false,
            desktop: false,
        }
    }
}

/// The `[pricing]` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Pricing {
    /// Never download the price catalogue; use the bundled snapshot and `overrides` only.
    pub offline: bool,
    /// Prices that replace the catalogue's, keyed by model id (for example
    /// `[pricing.overrides."vendor-model-1"]`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, PriceOverride>,
}

/// A model's prices, in US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    /// Price of a million input (prompt) tokens.
    #[schemars(range(min = 0))]
    pub input: f64,
    /// Price of a million output (completion) tokens, reasoning included.
    #[schemars(range(min = 0))]
    pub output: f64,
    /// Price of a million tokens read from the prompt cache; the catalogue's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cache_read: Option<f64>,
    /// Price of a million tokens written to the prompt cache (5-minute lifetime);
    /// the catalogue's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cache_write: Option<f64>,
    /// Price of a million tokens written to the prompt cache with a 1-hour lifetime;
    /// the catalogue's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cache_write_1h: Option<f64>,
}

/// A length of time written as a string: a number and a unit (`ms`, `s`, `m`, `h`,
/// `d`), or several of them (`"1h30m"`). The text is kept so saving writes it back
/// as the user wrote it.
#[derive(Debug, Clone)]
pub struct HumanDuration {
    value: Duration,
    text: String,
}

impl HumanDuration {
    /// Parses `text` with [`parse_duration`].
    pub fn parse(text: &str) -> Result<HumanDuration, String> {
        let value = parse_duration(text)?;
        Ok(HumanDuration {
            value,
            text: text.trim().to_owned(),
        })
    }

    /// A duration from code, written back in its shortest form.
    pub fn new(value: Duration) -> HumanDuration {
        HumanDuration {
            value,
            text: format_duration(value),
        }
    }

    fn from_secs(secs: u64, text: &str) -> HumanDuration {
        HumanDuration {
            value: Duration::from_secs(secs),
            text: text.to_owned(),
        }
    }

    /// The length of time.
    pub fn get(&self) -> Duration {
        self.value
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for HumanDuration {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<Duration> for HumanDuration {
    fn from(value: Duration) -> Self {
        HumanDuration::new(value)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HumanDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// The JSON Schema pattern of a duration string.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+(ms|s|m|h|d))+\s*$";

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Duration")
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A number and a unit (ms, s, m, h or d), or several of them: '1500ms', '30s', '5m', '1h30m', '1d'.",
            "examples": ["30s", "5m", "1h"]
        })
    }
}

/// Parses a duration such as `"1500ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"` or `"1h30m"`.
///
/// Units are `ms`, `s`, `m`, `h` and `d` (24 hours); surrounding whitespace is ignored.
/// The error says what was wrong and what valid looks like.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const HINT: &str = "use a number and a unit, like '1500ms', '30s', '5m', '1h' or '1d'";
    let text = s.trim();
    if text.is_empty() {
        return Err(format!("'{s}' is not a duration; {HINT}"));
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("'{s}' is not a duration; {HINT}"));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let millis_per_unit: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("'{s}' is not a duration: '{number}' has no unit; {HINT}")),
            other => return Err(format!("'{s}' is not a duration: unknown unit '{other}'; {HINT}")),
        };
        let n: u128 = number
            .parse()
            .map_err(|_| format!("'{s}' is not a duration: '{number}' is too large"))?;
        total = n
            .checked_mul(millis_per_unit)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("'{s}' is not a duration: it is too long"))?;
        rest = next;
    }
    let millis = u64::try_from(total).map_err(|_| format!("'{s}' is not a duration: it is too long"))?;
    Ok(Duration::from_millis(millis))
}

/// Writes a duration in its shortest single-unit form (`"90m"`, `"1h"`, `"1500ms"`),
/// the inverse of [`parse_duration`] for whole milliseconds.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms > 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Why the config file could not be used (it was replaced by defaults) or saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub path: PathBuf,
    /// 1-based line of the problem; 0 when it has no place in the file.
    pub line: usize,
    /// 1-based column (in characters) of the problem; 0 when unknown.
    pub col: usize,
    /// The dotted key the problem is at, such as `display.theme`, when known.
    pub key: Option<String>,
    /// What is wrong, with offending values in single quotes.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.col,
                self.message
            )
        } else {
            write!(f, "{}: {}", self.path.display(), self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the config file at `path`.
    ///
    /// A missing file gives the defaults and no error. A file that cannot be read or
    /// parsed, or that holds invalid values, gives the defaults and the error; the
    /// caller shows it and carries on. Never panics.
    pub fn load(path: &Path) -> (Config, Option<ConfigError>) {
        match std::fs::read_to_string(path) {
            Ok(text) => match Config::parse(&text) {
                Ok(config) => (config, None),
                Err(problem) => (Config::default(), Some(problem.at(path))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), None),
            Err(e) => (
                Config::default(),
                Some(ConfigError::whole_file(
                    path,
                    format!("cannot read the config file: {e}"),
                )),
            ),
        }
    }

    /// Parses config text and checks its values; the error has no path yet.
    pub fn parse(text: &str) -> Result<Config, TomlProblem> {
        let config: Config = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        if let Some((key, message)) = config.validate().into_iter().next() {
            let (line, col) = locate_key(text, &key).unwrap_or((0, 0));
            return Err(TomlProblem {
                line,
                col,
                message: format!("{key}: {message}"),
                key: Some(key),
            });
        }
        Ok(config)
    }

    /// Checks what the types alone cannot: ranges and relations between values.
    /// Returns `(dotted key, message)` pairs, in file order of the sections.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.refresh.interval.get() < Duration::from_secs(1) {
            problems.push((
                "refresh.interval".to_owned(),
                format!("'{}' is too short; use at least '1s'", self.refresh.interval),
            ));
        }
        for (name, amount) in [
            ("daily", self.budgets.daily),
            ("weekly", self.budgets.weekly),
            ("monthly", self.budgets.monthly),
        ] {
            if let Some(amount) = amount
                && !(amount.is_finite() && amount > 0.0)
            {
                problems.push((
                    format!("budgets.{name}"),
                    format!("'{amount}' is not a budget; use an amount in USD greater than 0, or leave it out"),
                ));
            }
        }
        for (name, percent) in [
            ("warn_percent", self.budgets.warn_percent),
            ("critical_percent", self.budgets.critical_percent),
        ] {
            if !(1..=100).contains(&percent) {
                problems.push((
                    format!("budgets.{name}"),
                    format!("'{percent}' is not a percentage from 1 to 100"),
                ));
            }
        }
        if self.budgets.warn_percent > self.budgets.critical_percent {
            problems.push((
                "budgets.critical_percent".to_owned(),
                format!(
                    "'{}' is below warn_percent '{}'; the critical threshold must be at least the warning one",
                    self.budgets.critical_percent, self.budgets.warn_percent
                ),
            ));
        }
        for (model, price) in &self.pricing.overrides {
            let fields = [
                ("input", Some(price.input)),
                ("output", Some(price.output)),
                ("cache_read", price.cache_read),
                ("cache_write", price.cache_write),
                ("cache_write_1h", price.cache_write_1h),
            ];
            for (field, value) in fields {
                if let Some(v) = value
                    && !(v.is_finite() && v >= 0.0)
                {
                    problems.push((
                        format!("pricing.overrides.{}.{field}", key_segment(model)),
                        format!("'{v}' is not a price; use USD per million tokens, 0 or more"),
                    ));
                }
            }
        }
        problems
    }

    /// Writes the config as TOML to `path` atomically: to a temporary file in the same
    /// directory (created if needed), flushed to disk, then renamed over `path`.
    ///
    /// Comments in an existing file are not kept.
    pub fn save_atomic(&self, path: &Path) -> Result<(), ConfigError> {
        let fail = |what: &str, e: &dyn fmt::Display| {
            ConfigError::whole_file(path, format!("cannot save the config file: {what}: {e}"))
        };
        let text = toml::to_string_pretty(self).map_err(|e| fail("cannot write TOML", &e))?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| fail(&format!("cannot create '{}'", dir.display()), &e))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config.toml".to_owned());
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = written {
            // The temporary file is useless now; failing to remove it changes nothing.
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(&format!("cannot write '{}'", path.display()), &e));
        }
        Ok(())
    }
}

impl ConfigError {
    fn whole_file(path: &Path, message: String) -> ConfigError {
        ConfigError {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            key: None,
            message,
        }
    }
}

/// A problem in a TOML text, before it is tied to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlProblem {
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column in characters; 0 when unknown.
    pub col: usize,
    /// The dotted key the problem is at, when known.
    pub key: Option<String>,
    /// The message, starting with the key when there is one.
    pub message: String,
}

impl TomlProblem {
    /// Ties the problem to the file it came from.
    pub fn at(self, path: &Path) -> ConfigError {
        ConfigError {
            path: path.to_path_buf(),
            line: self.line,
            col: self.col,
            key: self.key,
            message: self.message,
        }
    }
}

/// Turns a TOML or serde error into a message with a line, a column, the dotted key it
/// is at and, for an unknown key, the closest known key of that table.
pub fn describe_toml_error(text: &str, err: &toml::de::Error) -> TomlProblem {
    let span = err.span();
    let (line, col) = span.as_ref().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
    let raw = err.message().trim().trim_end_matches('.');
    let key = span.as_ref().and_then(|s| key_at(text, s.start));
    if let Some(unknown) = raw.strip_prefix("unknown field `").and_then(|r| r.split('`').next()) {
        let expected = expected_names(raw);
        let full = key.clone().unwrap_or_else(|| unknown.to_owned());
        let message = match suggest(unknown, &expected) {
            Some(best) => format!("unknown key '{full}', did you mean '{best}'?"),
            None if expected.is_empty() => format!("unknown key '{full}'; this table takes no keys"),
            None => {
                let names: Vec<String> = expected.iter().map(|n| format!("'{n}'")).collect();
                format!("unknown key '{full}'; expected one of {}", names.join(", "))
            }
        };
        return TomlProblem {
            line,
            col,
            key: Some(full),
            message,
        };
    }
    let plain = raw.replace('`', "'");
    let message = match &key {
        Some(k) => format!("{k}: {plain}"),
        None => plain,
    };
    TomlProblem {
        line,
        col,
        key,
        message,
    }
}

/// The names serde lists after "expected" in an unknown-field message.
fn expected_names(message: &str) -> Vec<&str> {
    let Some((_, tail)) = message.split_once(", expected ") else {
        return Vec::new();
    };
    tail.split('`').skip(1).step_by(2).collect()
}

/// The known key closest to `unknown`, if it is close enough to be a typo.
pub fn suggest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The 1-based line and character column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// One key of a parsed document: its dotted path and where its key and value are.
struct KeySpan {
    path: String,
    key: Range<usize>,
    value: Range<usize>,
}

fn collect_keys(table: &toml::de::DeTable<'_>, prefix: &str, out: &mut Vec<KeySpan>) {
    for (k, v) in table.iter() {
        let path = if prefix.is_empty() {
            key_segment(k.get_ref())
        } else {
            format!("{prefix}.{}", key_segment(k.get_ref()))
        };
        out.push(KeySpan {
            path: path.clone(),
            key: k.span(),
            value: v.span(),
        });
        collect_value(v.get_ref(), &path, out);
    }
}

fn collect_value(value: &toml::de::DeValue<'_>, path: &str, out: &mut Vec<KeySpan>) {
    match value {
        toml::de::DeValue::Table(t) => collect_keys(t, path, out),
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                out.push(KeySpan {
                    path: item_path.clone(),
                    key: item.span(),
                    value: item.span(),
                });
                collect_value(item.get_ref(), &item_path, out);
            }
        }
        _ => {}
    }
}

fn all_keys(text: &str) -> Vec<KeySpan> {
    let mut out = Vec::new();
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        collect_keys(doc.get_ref(), "", &mut out);
    }
    out
}

/// The dotted key whose key or value covers byte `offset`, innermost first.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let covers = |r: &Range<usize>| r.start <= offset && (offset < r.end || (r.is_empty() && offset == r.start));
    all_keys(text)
        .into_iter()
        .filter(|k| covers(&k.key) || covers(&k.value))
        .min_by_key(|k| {
            let hit = if covers(&k.key) { &k.key } else { &k.value };
            hit.end - hit.start
        })
        .map(|k| k.path)
}

/// Where the value of dotted `key` is written in `text`, as a 1-based line and column.
pub fn locate_key(text: &str, key: &str) -> Option<(usize, usize)> {
    all_keys(text)
        .into_iter()
        .find(|k| k.path == key)
        .map(|k| line_col(text, k.value.start))
}

/// A key as it appears in a dotted path: bare when TOML allows, else double-quoted.
fn key_segment(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    const FULL: &str = include_str!("../tests/fixtures/config/full.toml");

    fn problem(text: &str) -> TomlProblem {
        Config::parse(text).unwrap_err()
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(
            parse_duration("").unwrap_err(),
            "'' is not a duration; use a number and a unit, like '1500ms', '30s', '5m', '1h' or '1d'"
        );
        assert_eq!(
            parse_duration("60").unwrap_err(),
            "'60' is not a duration: '60' has no unit; use a number and a unit, like '1500ms', '30s', '5m', '1h' or '1d'"
        );
        assert_eq!(
            parse_duration("5x").unwrap_err(),
            "'5x' is not a duration: unknown unit 'x'; use a number and a unit, like '1500ms', '30s', '5m', '1h' or '1d'"
        );
        assert!(parse_duration("m5").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("-5s").is_err());
        assert_eq!(
            parse_duration("99999999999999999999999d").unwrap_err(),
            "'99999999999999999999999d' is not a duration: it is too long"
        );
    }

    #[test]
    fn durations_format_in_shortest_form() {
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::ZERO), "0ms");
    }

    #[test]
    fn time_windows_round_trip() {
        for w in TimeWindow::ALL {
            assert_eq!(w.as_str().parse::<TimeWindow>(), Ok(w));
        }
        assert_eq!(TimeWindow::D7.duration(), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(TimeWindow::All.duration(), None);
        assert!(
            "2h".parse::<TimeWindow>()
                .unwrap_err()
                .starts_with("'2h' is not a time window; use one of '5m', '15m'")
        );
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.refresh.interval.get(), Duration::from_secs(60));
        assert_eq!(c.refresh.interval.as_str(), "60s");
        assert_eq!(c.refresh.pricing_ttl.get(), Duration::from_secs(3600));
        assert_eq!(c.display.theme, "tokyo-night");
        assert_eq!(c.display.default_window, TimeWindow::H24);
        assert_eq!((c.budgets.warn_percent, c.budgets.critical_percent), (80, 95));
        assert!(c.alerts.toasts && !c.alerts.bell && !c.alerts.desktop);
        assert!(c.validate().is_empty());
    }

    #[test]
    fn empty_and_missing_files_give_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        assert_eq!(Config::parse("# nothing but a comment\n").unwrap(), Config::default());
        let dir = tempfile::tempdir().unwrap();
        let (config, err) = Config::load(&dir.path().join("config.toml"));
        assert_eq!(config, Config::default());
        assert_eq!(err, None);
    }

    #[test]
    fn full_example_parses() {
        let c = Config::parse(FULL).unwrap();
        assert_eq!(c.disabled, vec!["perplexity".to_owned()]);
        assert_eq!(c.refresh.interval.get(), Duration::from_secs(30));
        assert_eq!(c.display.theme, "catppuccin-mocha");
        assert_eq!(c.display.default_window, TimeWindow::H1);
        assert_eq!(c.display.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(c.budgets.daily, Some(20.0));
        assert_eq!(c.budgets.monthly, Some(300.0));
        let sonnet = &c.pricing.overrides["claude-sonnet-4-5"];
        assert_eq!((sonnet.input, sonnet.output, sonnet.cache_read), (3.0, 15.0, Some(0.3)));
        assert_eq!(
            c.providers["openai-api"]["organization"],
            serde_json::json!("org-example")
        );
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let p = problem("[display]\ntheme = 'nord'\nthme = 'x'\n");
        assert_eq!((p.line, p.col), (3, 1));
        assert_eq!(p.key.as_deref(), Some("display.thme"));
        assert_eq!(p.message, "unknown key 'display.thme', did you mean 'theme'?");
        let p = problem("refesh = {}\n");
        assert_eq!(p.message, "unknown key 'refesh', did you mean 'refresh'?");
    }

    #[test]
    fn unknown_key_without_a_close_match_lists_the_keys() {
        let p = problem("[alerts]\nslack = true\n");
        assert_eq!(
            p.message,
            "unknown key 'alerts.slack'; expected one of 'toasts', 'bell', 'desktop'"
        );
    }

    #[test]
    fn bad_value_names_key_and_position() {
        let p = problem("[display]\ndefault_window = '2h'\n");
        assert_eq!((p.line, p.col), (2, 18));
        assert_eq!(p.key.as_deref(), Some("display.default_window"));
        assert!(
            p.message
                .starts_with("display.default_window: unknown variant '2h', expected one of '5m'"),
            "{}",
            p.message
        );

        let p = problem("[refresh]\ninterval = '5x'\n");
        assert_eq!(
            p.message,
            "refresh.interval: '5x' is not a duration: unknown unit 'x'; use a number and a unit, like '1500ms', '30s', '5m', '1h' or '1d'"
        );
        let p = problem("[pricing.overrides.gpt-5]\ninput = 1.25\n");
        assert_eq!(p.message, "pricing.overrides.gpt-5: missing field 'output'");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let p = problem("[display\ntheme = 'x'\n");
        assert_eq!(p.line, 1);
        assert!(p.col > 0);
        assert_eq!(p.key, None);
    }

    #[test]
    fn invalid_values_are_rejected_with_their_key() {
        let p = problem("[budgets]\nwarn_percent = 90\ncritical_percent = 85\n");
        assert_eq!(p.key.as_deref(), Some("budgets.critical_percent"));
        assert_eq!((p.line, p.col), (3, 20));
        assert_eq!(
            p.message,
            "budgets.critical_percent: '85' is below warn_percent '90'; the critical threshold must be at least the warning one"
        );
        let p = problem("[budgets]\ndaily = -5\n");
        assert_eq!(
            p.message,
            "budgets.daily: '-5' is not a budget; use an amount in USD greater than 0, or leave it out"
        );
        let p = problem("[refresh]\ninterval = '10ms'\n");
        assert_eq!(p.message, "refresh.interval: '10ms' is too short; use at least '1s'");
        let p = problem("[pricing.overrides.\"a/b\"]\ninput = 1\noutput = -2\n");
        assert_eq!(p.key.as_deref(), Some("pricing.overrides.\"a/b\".output"));
        assert_eq!((p.line, p.col), (3, 10));
    }

    #[test]
    fn load_reports_path_and_falls_back_to_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[display]\nthme = 'nord'\n").unwrap();
        let (config, err) = Config::load(&path);
        assert_eq!(config, Config::default());
        let err = err.unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2:1: unknown key 'display.thme', did you mean 'theme'?",
                path.display()
            )
        );
    }

    #[test]
    fn unreadable_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (config, err) = Config::load(dir.path());
        assert_eq!(config, Config::default());
        let err = err.unwrap();
        assert_eq!(err.line, 0);
        assert!(
            err.message.starts_with("cannot read the config file: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("config.toml");
        let mut config = Config::parse(FULL).unwrap();
        config.budgets.weekly = Some(99.5);
        config.save_atomic(&path).unwrap();
        let (back, err) = Config::load(&path);
        assert_eq!(err, None);
        assert_eq!(back, config);
        assert_eq!(back.refresh.interval.as_str(), "30s");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("config.toml")]);

        Config::default().save_atomic(&path).unwrap();
        assert_eq!(Config::load(&path), (Config::default(), None));
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(
            suggest("colour_scheme", &["theme", "color_scheme"]),
            Some("color_scheme")
        );
        assert_eq!(suggest("xyz", &["theme", "color_scheme"]), None);
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("a = 'é'\nbc", 9), (2, 1));
        assert_eq!(line_col("é = 1", 2), (1, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn full_example_matches_the_json_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        let instance: serde_json::Value = toml::from_str(FULL).unwrap();
        if let Err(e) = jsonschema::validate(&schema, &instance) {
            panic!("full.toml does not match the schema: {e}");
        }
        let typo: serde_json::Value = toml::from_str("[display]\nthme = 'x'\n").unwrap();
        assert!(!jsonschema::is_valid(&schema, &typo));
    }

    #[test]
    fn schema_has_descriptions_and_patterns() {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        let text = schema.to_string();
        assert!(text.contains(DURATION_PATTERN.replace('\\', "\\\\").as_str()));
        assert!(text.contains("How often provider usage and limits are polled"));
    }
}
