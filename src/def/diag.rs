//! Diagnostics: every problem found in a definition, with file, line, column, a stable
//! code, the offending value in quotes and a hint.
//!
//! Rendered as `path:LINE:COL: error[code]: message`, then a source snippet with a caret
//! and a `= hint:` line, or as JSON for editors and CI.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::loc::Pos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// Stable diagnostic codes. Tests and editors match on these; never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// The file is not valid YAML.
    YamlSyntax,
    /// The file could not be read.
    Io,
    /// `apiVersion` missing or not supported.
    ApiVersion,
    /// `kind` missing or unknown.
    UnknownKind,
    /// A key that the kind does not have.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong type.
    WrongType,
    /// A value outside an enumeration.
    UnknownValue,
    /// A bad id.
    BadId,
    /// Two definitions (or two requests) with the same id.
    DuplicateId,
    /// A JSONPath that does not compile.
    BadJsonpath,
    /// A template that does not compile.
    BadTemplate,
    /// An expression that does not compile.
    BadExpression,
    /// A glob that does not compile.
    BadGlob,
    /// A timestamp format or duration that does not parse.
    BadFormat,
    /// A URL that is not `https://literal-host/...`.
    BadUrl,
    /// A host not listed in `permissions.network`.
    HostNotPermitted,
    /// A file not under `permissions.files`.
    FileNotPermitted,
    /// An environment variable not listed in `permissions.env`.
    EnvNotPermitted,
    /// A value that is valid alone but not with the others.
    Invalid,
    /// A definition's own `tests:` failed.
    TestFailed,
    /// A user file replaces a built-in.
    Override,
    /// A definition turned off in config.
    Disabled,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "yaml-syntax",
            Code::Io => "io",
            Code::ApiVersion => "api-version",
            Code::UnknownKind => "unknown-kind",
            Code::UnknownKey => "unknown-key",
            Code::MissingKey => "missing-key",
            Code::WrongType => "wrong-type",
            Code::UnknownValue => "unknown-value",
            Code::BadId => "bad-id",
            Code::DuplicateId => "duplicate-id",
            Code::BadJsonpath => "bad-jsonpath",
            Code::BadTemplate => "bad-template",
            Code::BadExpression => "bad-expression",
            Code::BadGlob => "bad-glob",
            Code::BadFormat => "bad-format",
            Code::BadUrl => "bad-url",
            Code::HostNotPermitted => "host-not-permitted",
            Code::FileNotPermitted => "file-not-permitted",
            Code::EnvNotPermitted => "env-not-permitted",
            Code::Invalid => "invalid",
            Code::TestFailed => "test-failed",
            Code::Override => "override",
            Code::Disabled => "disabled",
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub code: Code,
    /// The file as the user named it (or `<builtin>/…` for embedded definitions).
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Error,
            code,
            file: PathBuf::new(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(code: Code, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(code, pos, message)
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = file.into();
        self
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }

    /// The one-line header: `file:LINE:COL: error[code]: message`.
    pub fn header(&self) -> String {
        format!(
            "{}:{}:{}: {}[{}]: {}",
            self.file.display(),
            self.line,
            self.col,
            self.level.as_str(),
            self.code.as_str(),
            self.message
        )
    }

    /// The header, the source line with a caret under the column, and the hint.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = self.header();
        out.push('\n');
        if let Some(src) = source
            && self.line > 0
            && let Some(text) = src.lines().nth(self.line as usize - 1)
        {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{num} | {}", text.trim_end());
            let caret_at: String = text
                .chars()
                .take(self.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} | {caret_at}^");
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "  = hint: {h}");
        }
        out
    }
}

/// Quote a value for a message: single quotes, cut to a readable length.
pub fn quote(s: &str) -> String {
    const MAX: usize = 80;
    let one_line: String = s.chars().map(|c| if c == '\n' { '⏎' } else { c }).collect();
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("'{cut}…'")
    } else {
        format!("'{one_line}'")
    }
}

/// "did you mean" for a misspelt key or value, by Jaro-Winkler similarity.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
