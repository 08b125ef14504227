//! Colour themes: TOML files with named semantic colours.
//!
//! Built-in themes are the files in `themes/`, embedded in the binary. Users add their
//! own in `~/.config/tokentop/themes/<name>.toml`; a user theme with a built-in's name
//! replaces it, and may `inherits = "<its own name>"` to start from the built-in.
//!
//! A theme file ([`Theme`]) may leave colours out and take them from the theme it
//! `inherits`; the resolved theme ([`ResolvedTheme`]) has every colour. A bad user
//! theme is reported in the error list of [`ThemeSet::load`] and skipped (the built-in
//! of the same name, if any, stays), never fatal.
//!
//! Merge rule: each colour and `variant` come from the nearest theme in the `inherits`
//! chain that sets them; `title` and `counterpart` are never inherited.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::config::{DEFAULT_THEME, describe_toml_error, locate_key, suggest};

/// The built-in themes, in the order the theme picker lists them.
const BUILTIN: &[(&str, &str)] = &[
    ("tokyo-night", include_str!("../themes/tokyo-night.toml")),
    ("tokyo-night-day", include_str!("../themes/tokyo-night-day.toml")),
    ("dracula", include_str!("../themes/dracula.toml")),
    ("nord", include_str!("../themes/nord.toml")),
    ("catppuccin-mocha", include_str!("../themes/catppuccin-mocha.toml")),
    ("catppuccin-latte", include_str!("../themes/catppuccin-latte.toml")),
    ("gruvbox-dark", include_str!("../themes/gruvbox-dark.toml")),
    ("gruvbox-light", include_str!("../themes/gruvbox-light.toml")),
    ("one-dark", include_str!("../themes/one-dark.toml")),
    ("one-light", include_str!("../themes/one-light.toml")),
    ("rose-pine", include_str!("../themes/rose-pine.toml")),
    ("rose-pine-dawn", include_str!("../themes/rose-pine-dawn.toml")),
    ("kanagawa", include_str!("../themes/kanagawa.toml")),
    ("kanagawa-lotus", include_str!("../themes/kanagawa-lotus.toml")),
    ("solarized-dark", include_str!("../themes/solarized-dark.toml")),
    ("solarized-light", include_str!("../themes/solarized-light.toml")),
    ("github-dark", include_str!("../themes/github-dark.toml")),
    ("github-light", include_str!("../themes/github-light.toml")),
];

/// A theme file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ttop theme")]
pub struct Theme {
    /// The theme's name, as `display.theme` in the config refers to it: lowercase
    /// letters, digits, `-` and `_`. It must match the file name (`nord` in `nord.toml`).
    pub name: String,
    /// The name shown in the theme picker, such as `"Rosé Pine"`; the `name` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Another theme to take unset colours (and `variant`) from. A user theme may
    /// inherit the built-in theme of its own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherits: Option<String>,
    /// Whether the theme is for a dark or a light terminal background. Required unless
    /// the inherited theme sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// The theme's sibling for the other variant (for example `catppuccin-latte` for
    /// `catppuccin-mocha`), used when `display.color_scheme` is `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart: Option<String>,
    /// The colours, as `#rrggbb` strings.
    #[serde(default)]
    pub colors: ThemeColors,
}

/// Whether a theme is meant for a dark or a light background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Light text on a dark background.
    Dark,
    /// Dark text on a light background.
    Light,
}

impl Variant {
    /// The other variant.
    pub fn other(self) -> Variant {
        match self {
            Variant::Dark => Variant::Light,
            Variant::Light => Variant::Dark,
        }
    }

    /// `"dark"` or `"light"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Dark => "dark",
            Variant::Light => "light",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A colour as written in a theme file: `#rrggbb`. It is checked when the theme is
/// loaded, so the error can name the theme and the colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HexColor(pub String);

/// The JSON Schema pattern of a theme colour.
pub const HEX_COLOR_PATTERN: &str = "^#[0-9a-fA-F]{6}$";

impl JsonSchema for HexColor {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("HexColor")
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": HEX_COLOR_PATTERN,
            "description": "A colour as '#rrggbb'.",
            "examples": ["#7aa2f7"]
        })
    }
}

/// A 24-bit colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    /// A colour from its three channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Rgb {
        Rgb { r, g, b }
    }

    /// Parses `#rrggbb` (either case); `None` for anything else.
    pub fn from_hex(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb {
            r: channel(0)?,
            g: channel(2)?,
            b: channel(4)?,
        })
    }
}

impl fmt::Display for Rgb {
    /// Writes `#rrggbb` in lowercase.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// Declares the colour slots once: the file type with optional colours, the resolved
/// palette with all of them, and the per-slot helpers, so the lists cannot drift apart.
macro_rules! colour_slots {
    ($( $(#[doc = $doc:literal])+ $name:ident, )+) => {
        /// The `[colors]` table of a theme file. Every colour is optional here, so a
        /// theme can take the rest from the theme it inherits.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct ThemeColors {
            $(
                $(#[doc = $doc])+
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<HexColor>,
            )+
        }

        /// Every colour of a resolved theme.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Palette {
            $( $(#[doc = $doc])+ pub $name: Rgb, )+
        }

        impl ThemeColors {
            /// The slot names, in file order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),+];

            /// Each slot's name and value, in file order.
            pub fn entries(&self) -> Vec<(&'static str, Option<&HexColor>)> {
                vec![$((stringify!($name), self.$name.as_ref())),+]
            }

            /// Every slot set from a resolved palette.
            fn from_palette(p: &Palette) -> ThemeColors {
                ThemeColors { $( $name: Some(HexColor(p.$name.to_string())), )+ }
            }

            /// Fills every unset slot from `parent`.
            fn inherit(&mut self, parent: &ThemeColors) {
                $( if self.$name.is_none() { self.$name = parent.$name.clone(); } )+
            }

            /// The palette, or the names of the slots that are unset or not colours.
            fn to_palette(&self) -> Result<Palette, Vec<&'static str>> {
                let mut bad = Vec::new();
                let mut get = |name: &'static str, value: &Option<HexColor>| {
                    let rgb = value.as_ref().and_then(|c| Rgb::from_hex(&c.0));
                    if rgb.is_none() {
                        bad.push(name);
                    }
                    rgb.unwrap_or(Rgb::new(0, 0, 0))
                };
                let palette = Palette { $( $name: get(stringify!($name), &self.$name), )+ };
                if bad.is_empty() { Ok(palette) } else { Err(bad) }
            }
        }

        impl Palette {
            /// A palette with every slot set to `colour`.
            pub const fn filled(colour: Rgb) -> Palette {
                Palette { $( $name: colour, )+ }
            }

            /// Each slot's name and colour, in file order.
            pub fn entries(&self) -> Vec<(&'static str, Rgb)> {
                vec![$((stringify!($name), self.$name)),+]
            }

            /// A colour by slot name, such as `"accent"`.
            pub fn get(&self, name: &str) -> Option<Rgb> {
                match name {
                    $( stringify!($name) => Some(self.$name), )+
                    _ => None,
                }
            }
        }
    };
}

colour_slots! {
    /// The background of every view.
    background,
    /// Body text.
    foreground,
    /// Secondary text: labels, hints, timestamps, empty states.
    muted,
    /// The background of raised panes: modals, drawers, the command palette, toasts.
    surface,
    /// Borders of panels without focus.
    border,
    /// The border of the panel with focus.
    border_focused,
    /// The main accent: titles, key hints, the active tab.
    accent,
    /// A second accent for highlights that must differ from `accent`.
    accent2,
    /// The background of the selected row or item.
    selection_bg,
    /// The text of the selected row or item.
    selection_fg,
    /// Good states: a healthy provider, spending under budget.
    success,
    /// Warnings: a budget or limit past its warning threshold, stale data.
    warning,
    /// Errors: failed fetches, broken definitions, a budget past its critical threshold.
    error,
    /// Neutral notices: informational toasts and badges.
    info,
    /// Gauge fill below the warning threshold.
    gauge_low,
    /// Gauge fill from the warning to the critical threshold.
    gauge_mid,
    /// Gauge fill at or above the critical threshold.
    gauge_high,
    /// The unfilled part of a gauge.
    gauge_track,
    /// The first chart series colour.
    chart_1,
    /// The second chart series colour.
    chart_2,
    /// The third chart series colour.
    chart_3,
    /// The fourth chart series colour.
    chart_4,
    /// The fifth chart series colour.
    chart_5,
    /// The sixth chart series colour.
    chart_6,
    /// The background of the header bar.
    header_bg,
    /// The text of the header bar.
    header_fg,
    /// The background of the status bar.
    status_bg,
    /// The text of the status bar.
    status_fg,
}

impl Palette {
    /// The chart series colours, in order.
    pub fn chart(&self) -> [Rgb; 6] {
        [
            self.chart_1,
            self.chart_2,
            self.chart_3,
            self.chart_4,
            self.chart_5,
            self.chart_6,
        ]
    }
}

/// Where a theme came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThemeSource {
    /// Embedded in the binary from `themes/`.
    Builtin,
    /// A file in the user's themes directory.
    User(PathBuf),
}

/// A theme with its inheritance applied and every colour set.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedTheme {
    /// The theme's name.
    pub name: String,
    /// The name to show; the `name` when the file sets no title.
    pub title: String,
    /// Dark or light.
    pub variant: Variant,
    /// The declared sibling for the other variant, if any.
    pub counterpart: Option<String>,
    /// Every colour.
    pub colors: Palette,
    /// Built in, or a user file.
    pub source: ThemeSource,
}

impl ResolvedTheme {
    /// A plain grey theme, used only if no theme at all could be loaded.
    pub fn fallback() -> ResolvedTheme {
        let mut colors = Palette::filled(Rgb::new(0xd0, 0xd0, 0xd0));
        colors.background = Rgb::new(0x12, 0x12, 0x12);
        colors.muted = Rgb::new(0x80, 0x80, 0x80);
        colors.surface = Rgb::new(0x1e, 0x1e, 0x1e);
        colors.border = Rgb::new(0x4e, 0x4e, 0x4e);
        colors.selection_bg = Rgb::new(0x3a, 0x3a, 0x3a);
        colors.gauge_track = Rgb::new(0x30, 0x30, 0x30);
        colors.header_bg = Rgb::new(0x1e, 0x1e, 0x1e);
        colors.status_bg = Rgb::new(0x1e, 0x1e, 0x1e);
        ResolvedTheme {
            name: "fallback".to_owned(),
            title: "Fallback".to_owned(),
            variant: Variant::Dark,
            counterpart: None,
            colors,
            source: ThemeSource::Builtin,
        }
    }
}

/// A problem with one theme file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    /// The file (for a built-in, `<built-in>/<name>.toml`).
    pub path: PathBuf,
    /// 1-based line; 0 when the problem has no one place.
    pub line: usize,
    /// 1-based column in characters; 0 when unknown.
    pub col: usize,
    /// The theme's name, once known.
    pub theme: Option<String>,
    /// What is wrong, with offending values in single quotes.
    pub message: String,
}

impl fmt::Display for ThemeError {
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

impl std::error::Error for ThemeError {}

/// Parses one theme file and checks what can be checked without other themes: the
/// keys, the name (which must match the file name) and the colours' syntax.
pub fn parse_theme(path: &Path, text: &str) -> Result<Theme, Vec<ThemeError>> {
    let err = |line: usize, col: usize, theme: Option<&str>, message: String| ThemeError {
        path: path.to_path_buf(),
        line,
        col,
        theme: theme.map(str::to_owned),
        message,
    };
    let theme: Theme = toml::from_str(text).map_err(|e| {
        let p = describe_toml_error(text, &e);
        vec![err(p.line, p.col, None, p.message)]
    })?;
    let at = |key: &str| locate_key(text, key).unwrap_or((0, 0));
    let name = theme.name.as_str();
    let mut errors = Vec::new();
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid_name {
        let (line, col) = at("name");
        errors.push(err(
            line,
            col,
            None,
            format!("theme '{name}': the name must be lowercase letters, digits, '-' and '_'"),
        ));
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy());
    if let Some(stem) = stem
        && stem != name
    {
        let (line, col) = at("name");
        errors.push(err(
            line,
            col,
            Some(name),
            format!("theme '{name}': the name must match the file name '{stem}'"),
        ));
    }
    for (slot, value) in theme.colors.entries() {
        if let Some(HexColor(hex)) = value
            && Rgb::from_hex(hex).is_none()
        {
            let (line, col) = at(&format!("colors.{slot}"));
            errors.push(err(
                line,
                col,
                Some(name),
                format!("theme '{name}': colors.{slot}: '{hex}' is not a #rrggbb colour"),
            ));
        }
    }
    if errors.is_empty() { Ok(theme) } else { Err(errors) }
}

/// A parsed theme file waiting to be resolved.
struct Candidate {
    theme: Theme,
    source: ThemeSource,
    path: PathBuf,
    text: String,
}

impl Candidate {
    /// An error about this theme, placed at `key` when the file has it.
    fn error(&self, key: Option<&str>, message: String) -> ThemeError {
        let (line, col) = key.and_then(|k| locate_key(&self.text, k)).unwrap_or((0, 0));
        ThemeError {
            path: self.path.clone(),
            line,
            col,
            theme: Some(self.theme.name.clone()),
            message,
        }
    }
}

/// A theme's colours and variant after inheritance, before the completeness check.
#[derive(Clone)]
struct Merged {
    colors: ThemeColors,
    variant: Option<Variant>,
}

/// Why a theme could not be merged.
enum Failure {
    /// The theme itself is wrong; it is reported and dropped.
    Own(String),
    /// A theme it inherits failed in this round; it is retried without that theme.
    Parent,
}

/// All themes that loaded, by name.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    themes: BTreeMap<String, ResolvedTheme>,
    order: Vec<String>,
    fallback: ResolvedTheme,
}

impl ThemeSet {
    /// The built-in themes only. A test guarantees they all load, so their errors
    /// (which cannot happen in a released binary) are dropped here.
    pub fn builtin() -> ThemeSet {
        ThemeSet::from_user_files(Vec::new()).0
    }

    /// The built-in themes plus every `*.toml` file in `user_dir` (a missing directory
    /// is not an error). Each bad file is reported and skipped.
    pub fn load(user_dir: &Path) -> (ThemeSet, Vec<ThemeError>) {
        let mut errors = Vec::new();
        let mut files = Vec::new();
        match std::fs::read_dir(user_dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                    .collect();
                paths.sort();
                for path in paths {
                    match std::fs::read_to_string(&path) {
                        Ok(text) => files.push((path, text)),
                        Err(e) => errors.push(ThemeError {
                            path,
                            line: 0,
                            col: 0,
                            theme: None,
                            message: format!("cannot read the theme file: {e}"),
                        }),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.push(ThemeError {
                path: user_dir.to_path_buf(),
                line: 0,
                col: 0,
                theme: None,
                message: format!("cannot read the themes directory: {e}"),
            }),
        }
        let (set, more) = ThemeSet::from_user_files(files);
        errors.extend(more);
        (set, errors)
    }

    /// The built-in themes plus user theme files given as `(path, text)`; the pure
    /// core of [`ThemeSet::load`].
    pub fn from_user_files(files: Vec<(PathBuf, String)>) -> (ThemeSet, Vec<ThemeError>) {
        let mut errors = Vec::new();
        let mut builtin = BTreeMap::new();
        for (name, text) in BUILTIN {
            let path = PathBuf::from(format!("<built-in>/{name}.toml"));
            match parse_theme(&path, text) {
                Ok(theme) => {
                    let source = ThemeSource::Builtin;
                    let text = (*text).to_owned();
                    builtin.insert(
                        theme.name.clone(),
                        Candidate {
                            theme,
                            source,
                            path,
                            text,
                        },
                    );
                }
                Err(e) => errors.extend(e),
            }
        }
        let mut user = BTreeMap::new();
        for (path, text) in files {
            match parse_theme(&path, &text) {
                Ok(theme) => {
                    let source = ThemeSource::User(path.clone());
                    user.insert(
                        theme.name.clone(),
                        Candidate {
                            theme,
                            source,
                            path,
                            text,
                        },
                    );
                }
                Err(e) => errors.extend(e),
            }
        }

        // Where each theme's counterpart is written, for errors found once all are resolved.
        let mut counterpart_errors: BTreeMap<(bool, String), ThemeError> = BTreeMap::new();
        for (is_user, layer) in [(false, &builtin), (true, &user)] {
            for (name, c) in layer {
                counterpart_errors.insert((is_user, name.clone()), c.error(Some("counterpart"), String::new()));
            }
        }

        let resolved_builtin = resolve_layer(builtin, &BTreeMap::new(), &mut errors);
        let resolved_user = resolve_layer(user, &resolved_builtin, &mut errors);

        let mut order: Vec<String> = BUILTIN
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .filter(|n| resolved_builtin.contains_key(n))
            .collect();
        order.extend(
            resolved_user
                .keys()
                .filter(|n| !resolved_builtin.contains_key(*n))
                .cloned(),
        );
        let mut themes = resolved_builtin;
        themes.extend(resolved_user);

        for theme in themes.values() {
            let Some(other) = &theme.counterpart else { continue };
            let problem = match themes.get(other) {
                None => Some(format!("theme '{}': counterpart '{other}' is not a theme", theme.name)),
                Some(o) if o.variant == theme.variant => Some(format!(
                    "theme '{}': counterpart '{other}' is also a {} theme",
                    theme.name, theme.variant
                )),
                Some(_) => None,
            };
            let is_user = matches!(theme.source, ThemeSource::User(_));
            if let Some(message) = problem
                && let Some(mut error) = counterpart_errors.remove(&(is_user, theme.name.clone()))
            {
                error.message = message;
                errors.push(error);
            }
        }
        (
            ThemeSet {
                themes,
                order,
                fallback: ResolvedTheme::fallback(),
            },
            errors,
        )
    }

    /// The theme called `name`.
    pub fn get(&self, name: &str) -> Option<&ResolvedTheme> {
        self.themes.get(name)
    }

    /// Every theme's name: the built-ins in picker order, then user-only themes by name.
    pub fn names(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }

    /// Every theme, in the order of [`ThemeSet::names`].
    pub fn themes(&self) -> impl Iterator<Item = &ResolvedTheme> {
        self.order.iter().filter_map(|n| self.themes.get(n))
    }

    /// The sibling of `name` for the other variant: the theme it names as its
    /// counterpart, else a theme that names it as theirs.
    pub fn counterpart(&self, name: &str) -> Option<&ResolvedTheme> {
        let theme = self.themes.get(name)?;
        let declared = theme
            .counterpart
            .as_deref()
            .and_then(|c| self.themes.get(c))
            .filter(|c| c.variant != theme.variant);
        declared.or_else(|| {
            self.themes()
                .find(|t| t.counterpart.as_deref() == Some(name) && t.variant != theme.variant)
        })
    }

    /// The theme to draw with: `name` (or the default theme when `name` is unknown),
    /// switched to its counterpart when `want` asks for the other variant; when there is
    /// no counterpart, the first theme of the wanted variant. Always returns a theme.
    pub fn pick(&self, name: &str, want: Option<Variant>) -> &ResolvedTheme {
        let Some(theme) = self
            .get(name)
            .or_else(|| self.get(DEFAULT_THEME))
            .or_else(|| self.themes().next())
        else {
            return &self.fallback;
        };
        match want {
            Some(v) if v != theme.variant => self
                .counterpart(&theme.name)
                .or_else(|| self.themes().find(|t| t.variant == v))
                .unwrap_or(theme),
            _ => theme,
        }
    }
}

/// Resolves one layer of themes (the built-ins, then the user's) against the layer
/// below. Bad themes are reported and dropped; a theme whose parent was dropped is
/// retried against what remains (so a broken user theme falls back to the built-in).
fn resolve_layer(
    mut layer: BTreeMap<String, Candidate>,
    below: &BTreeMap<String, ResolvedTheme>,
    errors: &mut Vec<ThemeError>,
) -> BTreeMap<String, ResolvedTheme> {
    let mut dropped: BTreeSet<String> = BTreeSet::new();

    // Inheritance cycles inside the layer are dropped first; each member's file gets
    // the cycle, told from that member.
    for cycle in find_cycles(&layer) {
        for (i, name) in cycle.iter().enumerate() {
            let mut from_here = cycle.clone();
            from_here.rotate_left(i);
            let names: Vec<String> = from_here
                .iter()
                .chain(from_here.first())
                .map(|n| format!("'{n}'"))
                .collect();
            if let Some(c) = layer.get(name) {
                errors.push(c.error(
                    Some("inherits"),
                    format!("theme '{name}': inheritance cycle {}", names.join(" -> ")),
                ));
            }
        }
        for name in cycle {
            layer.remove(&name);
            dropped.insert(name);
        }
    }

    let merged = loop {
        let mut memo: BTreeMap<String, Result<Merged, Failure>> = BTreeMap::new();
        for name in layer.keys() {
            merge(name, &layer, below, &dropped, &mut memo);
        }
        let own: Vec<(String, String)> = memo
            .iter()
            .filter_map(|(n, r)| {
                if let Err(Failure::Own(m)) = r {
                    Some((n.clone(), m.clone()))
                } else {
                    None
                }
            })
            .collect();
        if own.is_empty() {
            break memo;
        }
        for (name, message) in own {
            if let Some(c) = layer.remove(&name) {
                errors.push(c.error(Some("inherits"), message));
            }
            dropped.insert(name);
        }
    };

    let mut out = BTreeMap::new();
    for (name, candidate) in layer {
        let Some(Ok(m)) = merged.get(&name) else { continue };
        let Some(variant) = m.variant else {
            errors.push(candidate.error(
                None,
                format!("theme '{name}': variant is not set; use 'dark' or 'light'"),
            ));
            continue;
        };
        match m.colors.to_palette() {
            Ok(colors) => {
                let title = candidate.theme.title.clone().unwrap_or_else(|| name.clone());
                let counterpart = candidate.theme.counterpart.clone();
                out.insert(
                    name.clone(),
                    ResolvedTheme {
                        name,
                        title,
                        variant,
                        counterpart,
                        colors,
                        source: candidate.source,
                    },
                );
            }
            Err(missing) => {
                let slots: Vec<String> = missing.iter().map(|s| format!("colors.{s}")).collect();
                let verb = if slots.len() == 1 { "is" } else { "are" };
                errors.push(candidate.error(
                    None,
                    format!(
                        "theme '{name}': {} {verb} not set by the theme or any theme it inherits",
                        slots.join(", ")
                    ),
                ));
            }
        }
    }
    out
}

/// The parent of `c` inside its own layer, if it inherits a theme of that layer other
/// than itself (inheriting one's own name means the built-in below).
fn parent_in_layer<'a>(c: &'a Candidate, layer: &BTreeMap<String, Candidate>) -> Option<&'a str> {
    c.theme
        .inherits
        .as_deref()
        .filter(|p| *p != c.theme.name && layer.contains_key(*p))
}

/// Every inheritance cycle in the layer, each listed from its smallest name.
fn find_cycles(layer: &BTreeMap<String, Candidate>) -> Vec<Vec<String>> {
    let mut cycles: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in layer.keys() {
        let mut path: Vec<&str> = vec![start.as_str()];
        let mut current = start.as_str();
        while let Some(parent) = layer.get(current).and_then(|c| parent_in_layer(c, layer)) {
            if let Some(pos) = path.iter().position(|n| *n == parent) {
                let mut cycle: Vec<String> = path[pos..].iter().map(|n| (*n).to_owned()).collect();
                if let Some(min) = cycle.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)).map(|(i, _)| i) {
                    cycle.rotate_left(min);
                }
                cycles.insert(cycle);
                break;
            }
            path.push(parent);
            current = parent;
        }
    }
    cycles.into_iter().collect()
}

/// Merges `name` with everything it inherits, memoised in `memo` (which also keeps
/// why it failed). The layer has no cycles.
fn merge(
    name: &str,
    layer: &BTreeMap<String, Candidate>,
    below: &BTreeMap<String, ResolvedTheme>,
    dropped: &BTreeSet<String>,
    memo: &mut BTreeMap<String, Result<Merged, Failure>>,
) -> Option<Merged> {
    if let Some(done) = memo.get(name) {
        return done.as_ref().ok().cloned();
    }
    let c = layer.get(name)?;
    let own = Merged {
        colors: c.theme.colors.clone(),
        variant: c.theme.variant,
    };
    let result = match c.theme.inherits.as_deref() {
        None => Ok(own),
        Some(parent) => {
            let inherited: Result<Merged, Failure> = if let Some(p) = parent_in_layer(c, layer) {
                merge(p, layer, below, dropped, memo).ok_or(Failure::Parent)
            } else if let Some(p) = below.get(parent) {
                Ok(Merged {
                    colors: ThemeColors::from_palette(&p.colors),
                    variant: Some(p.variant),
                })
            } else if parent == name {
                Err(Failure::Own(format!(
                    "theme '{name}': inherits itself, and there is no built-in theme '{name}'"
                )))
            } else if dropped.contains(parent) {
                Err(Failure::Own(format!(
                    "theme '{name}': inherits '{parent}', which could not be loaded"
                )))
            } else {
                let known: Vec<&str> = layer.keys().chain(below.keys()).map(String::as_str).collect();
                let hint = suggest(parent, &known)
                    .map(|s| format!(", did you mean '{s}'?"))
                    .unwrap_or_default();
                Err(Failure::Own(format!(
                    "theme '{name}': inherits '{parent}', which is not a theme{hint}"
                )))
            };
            inherited.map(|parent| {
                let mut merged = own;
                merged.colors.inherit(&parent.colors);
                merged.variant = merged.variant.or(parent.variant);
                merged
            })
        }
    };
    let out = result.as_ref().ok().cloned();
    memo.insert(name.to_owned(), result);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn user(name: &str, text: &str) -> (PathBuf, String) {
        (PathBuf::from(format!("/u/themes/{name}.toml")), text.to_owned())
    }

    fn messages(errors: &[ThemeError]) -> Vec<String> {
        errors.iter().map(|e| e.message.clone()).collect()
    }

    #[test]
    fn every_builtin_parses_and_resolves_completely() {
        let (set, errors) = ThemeSet::from_user_files(Vec::new());
        assert_eq!(messages(&errors), Vec::<String>::new());
        assert_eq!(set.names().len(), BUILTIN.len());
        for (name, text) in BUILTIN {
            assert!(
                text.starts_with("#:schema ../schemas/theme.json\n"),
                "{name} lacks the schema line"
            );
            let theme = set.get(name).unwrap();
            assert_eq!(theme.source, ThemeSource::Builtin);
            assert_eq!(theme.colors.entries().len(), ThemeColors::NAMES.len());
            // Every built-in sets every colour itself rather than relying on defaults.
            let file = parse_theme(Path::new(&format!("{name}.toml")), text).unwrap();
            assert!(
                file.colors.entries().iter().all(|(_, c)| c.is_some()),
                "{name} leaves a colour unset"
            );
            assert!(file.title.is_some(), "{name} has no title");
            assert_ne!(theme.colors.background, theme.colors.foreground, "{name}");
        }
        for required in [
            "tokyo-night",
            "dracula",
            "nord",
            "catppuccin-mocha",
            "catppuccin-latte",
            "gruvbox-dark",
            "gruvbox-light",
            "one-dark",
            "rose-pine",
            "kanagawa",
            "solarized-light",
            "github-light",
        ] {
            assert!(set.get(required).is_some(), "{required} missing");
        }
    }

    #[test]
    fn every_file_in_themes_dir_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn counterparts_pair_dark_and_light() {
        let set = ThemeSet::builtin();
        for theme in set.themes() {
            if let Some(c) = &theme.counterpart {
                let other = set.get(c).unwrap();
                assert_ne!(other.variant, theme.variant, "{}", theme.name);
                assert_eq!(
                    other.counterpart.as_deref(),
                    Some(theme.name.as_str()),
                    "{} is not mutual",
                    theme.name
                );
            }
        }
        assert_eq!(set.counterpart("catppuccin-mocha").unwrap().name, "catppuccin-latte");
        assert_eq!(set.counterpart("catppuccin-latte").unwrap().name, "catppuccin-mocha");
        assert!(set.counterpart("dracula").is_none());
    }

    #[test]
    fn pick_follows_the_wanted_variant() {
        let set = ThemeSet::builtin();
        assert_eq!(set.pick("gruvbox-dark", Some(Variant::Light)).name, "gruvbox-light");
        assert_eq!(set.pick("gruvbox-dark", Some(Variant::Dark)).name, "gruvbox-dark");
        assert_eq!(set.pick("gruvbox-dark", None).name, "gruvbox-dark");
        assert_eq!(set.pick("no-such-theme", None).name, "tokyo-night");
        // Dracula has no light sibling: the first light theme stands in.
        assert_eq!(set.pick("dracula", Some(Variant::Light)).variant, Variant::Light);
    }

    #[test]
    fn user_theme_inherits_and_overrides_one_colour() {
        let (set, errors) = ThemeSet::from_user_files(vec![user(
            "my-night",
            "name = 'my-night'\ninherits = 'tokyo-night'\n[colors]\naccent = '#FF0000'\n",
        )]);
        assert_eq!(messages(&errors), Vec::<String>::new());
        let mine = set.get("my-night").unwrap();
        let base = set.get("tokyo-night").unwrap();
        assert_eq!(mine.colors.accent, Rgb::new(255, 0, 0));
        assert_eq!(mine.variant, Variant::Dark);
        assert_eq!(mine.title, "my-night");
        assert_eq!(mine.counterpart, None);
        assert_eq!(mine.source, ThemeSource::User(PathBuf::from("/u/themes/my-night.toml")));
        let mut expected = base.colors;
        expected.accent = Rgb::new(255, 0, 0);
        assert_eq!(mine.colors, expected);
        assert_eq!(set.names().last(), Some(&"my-night"));
    }

    #[test]
    fn user_theme_replaces_a_builtin_and_may_inherit_it() {
        let (set, errors) = ThemeSet::from_user_files(vec![user(
            "nord",
            "name = 'nord'\ninherits = 'nord'\ncounterpart = 'solarized-light'\n[colors]\nbackground = '#000000'\n",
        )]);
        assert_eq!(messages(&errors), Vec::<String>::new());
        let nord = set.get("nord").unwrap();
        assert_eq!(nord.colors.background, Rgb::new(0, 0, 0));
        assert_eq!(nord.colors.accent, Rgb::from_hex("#88c0d0").unwrap());
        assert!(matches!(nord.source, ThemeSource::User(_)));
        assert_eq!(set.counterpart("nord").unwrap().name, "solarized-light");
        assert_eq!(set.names().iter().filter(|n| **n == "nord").count(), 1);
    }

    #[test]
    fn chains_inside_the_user_layer_resolve() {
        let (set, errors) = ThemeSet::from_user_files(vec![
            user(
                "base",
                "name = 'base'\ninherits = 'dracula'\n[colors]\nmuted = '#010101'\n",
            ),
            user(
                "child",
                "name = 'child'\ninherits = 'base'\nvariant = 'light'\n[colors]\naccent = '#020202'\n",
            ),
        ]);
        assert_eq!(messages(&errors), Vec::<String>::new());
        let child = set.get("child").unwrap();
        assert_eq!(child.colors.muted, Rgb::new(1, 1, 1));
        assert_eq!(child.colors.accent, Rgb::new(2, 2, 2));
        assert_eq!(child.colors.background, Rgb::from_hex("#282a36").unwrap());
        assert_eq!(child.variant, Variant::Light);
    }

    #[test]
    fn cycle_is_reported_and_skipped() {
        let (set, errors) = ThemeSet::from_user_files(vec![
            user("a", "name = 'a'\ninherits = 'b'\n"),
            user("b", "name = 'b'\ninherits = 'c'\n"),
            user("c", "name = 'c'\ninherits = 'a'\n"),
            user("d", "name = 'd'\ninherits = 'a'\n"),
        ]);
        assert_eq!(
            messages(&errors),
            vec![
                "theme 'a': inheritance cycle 'a' -> 'b' -> 'c' -> 'a'",
                "theme 'b': inheritance cycle 'b' -> 'c' -> 'a' -> 'b'",
                "theme 'c': inheritance cycle 'c' -> 'a' -> 'b' -> 'c'",
                "theme 'd': inherits 'a', which could not be loaded",
            ]
        );
        assert_eq!(errors[0].path, PathBuf::from("/u/themes/a.toml"));
        assert_eq!(
            errors[0].to_string(),
            "/u/themes/a.toml:2:12: theme 'a': inheritance cycle 'a' -> 'b' -> 'c' -> 'a'"
        );
        for name in ["a", "b", "c", "d"] {
            assert!(set.get(name).is_none());
        }
        assert!(set.get("tokyo-night").is_some());
    }

    #[test]
    fn missing_parent_is_reported_with_a_suggestion() {
        let (set, errors) = ThemeSet::from_user_files(vec![user("x", "name = 'x'\ninherits = 'dracla'\n")]);
        assert_eq!(
            messages(&errors),
            vec!["theme 'x': inherits 'dracla', which is not a theme, did you mean 'dracula'?"]
        );
        assert_eq!((errors[0].line, errors[0].col), (2, 12));
        assert!(set.get("x").is_none());
        let (_, errors) = ThemeSet::from_user_files(vec![user("solo", "name = 'solo'\ninherits = 'solo'\n")]);
        assert_eq!(
            messages(&errors),
            vec!["theme 'solo': inherits itself, and there is no built-in theme 'solo'"]
        );
    }

    #[test]
    fn bad_hex_is_rejected_with_the_exact_message() {
        let text = "name = 'x'\nvariant = 'dark'\n[colors]\naccent = '#12345'\n";
        let errors = parse_theme(Path::new("/u/themes/x.toml"), text).unwrap_err();
        assert_eq!(
            messages(&errors),
            vec!["theme 'x': colors.accent: '#12345' is not a #rrggbb colour"]
        );
        assert_eq!((errors[0].line, errors[0].col), (4, 10));
        assert_eq!(
            errors[0].to_string(),
            "/u/themes/x.toml:4:10: theme 'x': colors.accent: '#12345' is not a #rrggbb colour"
        );
        for bad in ["12345f", "#1234567", "#gggggg", "red", "#fff"] {
            assert_eq!(Rgb::from_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_user_theme_is_skipped_and_the_builtin_stays() {
        let (set, errors) =
            ThemeSet::from_user_files(vec![user("dracula", "name = 'dracula'\n[colors]\naccent = 'purple'\n")]);
        assert_eq!(
            messages(&errors),
            vec!["theme 'dracula': colors.accent: 'purple' is not a #rrggbb colour"]
        );
        assert_eq!(set.get("dracula").unwrap().source, ThemeSource::Builtin);
    }

    #[test]
    fn a_child_of_a_broken_override_falls_back_to_the_builtin() {
        let (set, errors) = ThemeSet::from_user_files(vec![
            user("nord", "name = 'nord'\ninherits = 'nope'\n"),
            user("mine", "name = 'mine'\ninherits = 'nord'\n"),
        ]);
        assert_eq!(
            messages(&errors),
            vec!["theme 'nord': inherits 'nope', which is not a theme"]
        );
        assert_eq!(set.get("mine").unwrap().colors, set.get("nord").unwrap().colors);
        assert_eq!(set.get("nord").unwrap().source, ThemeSource::Builtin);
    }

    #[test]
    fn incomplete_theme_lists_the_missing_colours() {
        let (set, errors) = ThemeSet::from_user_files(vec![user(
            "half",
            "name = 'half'\nvariant = 'dark'\n[colors]\nbackground = '#000000'\n",
        )]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .message
                .starts_with("theme 'half': colors.foreground, colors.muted, "),
            "{}",
            errors[0].message
        );
        assert!(
            errors[0]
                .message
                .ends_with(" are not set by the theme or any theme it inherits")
        );
        assert!(set.get("half").is_none());
        let (_, errors) = ThemeSet::from_user_files(vec![user("nv", "name = 'nv'\n")]);
        assert_eq!(
            messages(&errors),
            vec!["theme 'nv': variant is not set; use 'dark' or 'light'"]
        );
    }

    #[test]
    fn unknown_keys_and_wrong_names_are_reported() {
        let errors = parse_theme(Path::new("/u/x.toml"), "name = 'x'\n[colors]\naccnt = '#000000'\n").unwrap_err();
        assert_eq!(
            messages(&errors),
            vec!["unknown key 'colors.accnt', did you mean 'accent'?"]
        );
        assert_eq!((errors[0].line, errors[0].col), (3, 1));
        let errors = parse_theme(Path::new("/u/y.toml"), "name = 'x'\n").unwrap_err();
        assert_eq!(
            messages(&errors),
            vec!["theme 'x': the name must match the file name 'y'"]
        );
        let errors = parse_theme(Path::new("/u/My Theme.toml"), "name = 'My Theme'\n").unwrap_err();
        assert_eq!(
            messages(&errors),
            vec!["theme 'My Theme': the name must be lowercase letters, digits, '-' and '_'"]
        );
    }

    #[test]
    fn counterpart_problems_are_reported_but_the_theme_stays() {
        let (set, errors) = ThemeSet::from_user_files(vec![
            user("p", "name = 'p'\ninherits = 'nord'\ncounterpart = 'ghost'\n"),
            user("q", "name = 'q'\ninherits = 'nord'\ncounterpart = 'dracula'\n"),
        ]);
        assert_eq!(
            messages(&errors),
            vec![
                "theme 'p': counterpart 'ghost' is not a theme",
                "theme 'q': counterpart 'dracula' is also a dark theme"
            ]
        );
        assert_eq!((errors[0].line, errors[0].col), (3, 15));
        assert!(set.get("p").is_some() && set.counterpart("p").is_none());
        assert!(set.counterpart("q").is_none());
    }

    #[test]
    fn load_reads_a_directory_and_tolerates_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        let (set, errors) = ThemeSet::load(&dir.path().join("missing"));
        assert!(errors.is_empty());
        assert_eq!(set.names().len(), BUILTIN.len());
        std::fs::write(dir.path().join("mine.toml"), "name = 'mine'\ninherits = 'nord'\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a theme").unwrap();
        std::fs::write(dir.path().join("bad.toml"), "name = 'bad'\n[colors\n").unwrap();
        let (set, errors) = ThemeSet::load(dir.path());
        assert!(set.get("mine").is_some());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, dir.path().join("bad.toml"));
        assert_eq!(errors[0].line, 2);
    }

    #[test]
    fn every_builtin_matches_the_json_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(Theme)).unwrap();
        for (name, text) in BUILTIN {
            let instance: serde_json::Value = toml::from_str(text).unwrap();
            if let Err(e) = jsonschema::validate(&schema, &instance) {
                panic!("{name} does not match the schema: {e}");
            }
        }
        let bad: serde_json::Value = toml::from_str("name = 'x'\n[colors]\naccent = '#12345'\n").unwrap();
        assert!(!jsonschema::is_valid(&schema, &bad));
    }

    #[test]
    fn schema_lists_every_colour_with_the_hex_pattern() {
        let schema = serde_json::to_value(schemars::schema_for!(Theme)).unwrap();
        let text = schema.to_string();
        assert!(text.contains("^#[0-9a-fA-F]{6}$"));
        for name in ThemeColors::NAMES {
            assert!(text.contains(&format!("\"{name}\"")), "{name}");
        }
    }
}
