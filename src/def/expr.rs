//! Expressions and templates: the two small string languages of a definition.
//!
//! Both run on one shared minijinja environment with no loader (so no file access),
//! bounded fuel and a fixed set of filters and functions. An expression is compiled once
//! at load; at run time it sees only the values it names: the dotted paths it reads are
//! found at compile time, and only those are converted from JSON, so a `where` over a
//! multi-kilobyte line costs what it reads, not what the line holds.
//!
//! A template is literal text with `{{ expression }}` holes and nothing else (no
//! `{% %}` blocks): this is what lets the compiler prove that a URL's scheme and host
//! are literal.

use std::sync::OnceLock;

use base64::Engine as _;
use minijinja::value::Value as MjValue;
use minijinja::{Environment, Error as MjError, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

/// Instructions an expression may run before it is stopped.
const FUEL: u64 = 50_000;

/// Expressions are lenient (`a.b.c` of a missing `a` is undefined, and a condition over
/// it is false); template holes are strict (a missing value is an error, never an empty
/// string in a URL or header).
fn env(strict: bool) -> &'static Environment<'static> {
    static LENIENT: OnceLock<Environment<'static>> = OnceLock::new();
    static STRICT: OnceLock<Environment<'static>> = OnceLock::new();
    let cell = if strict { &STRICT } else { &LENIENT };
    cell.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(if strict {
            UndefinedBehavior::Strict
        } else {
            UndefinedBehavior::Chainable
        });
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(64);
        env.add_filter("unix", filter_unix);
        env.add_filter("ms", filter_ms);
        env.add_filter("rfc3339", filter_rfc3339);
        env.add_filter("b64encode", filter_b64encode);
        env.add_filter("b64decode", filter_b64decode);
        env.add_filter("clamp", filter_clamp);
        env.add_function("parse_time", func_parse_time);
        env.add_function("next_utc_midnight", func_next_utc_midnight);
        env
    })
}

/// The names of the filters and functions an expression may use, besides minijinja's
/// built-ins (`default`, `upper`, `lower`, `urlencode`, `round`, `int`, `float`, `abs`,
/// `length`, `min`, `max`, `first`, `last`, `join`, `replace`, `trim`...).
pub const EXTRA_FILTERS: &[&str] = &["unix", "ms", "rfc3339", "b64encode", "b64decode", "clamp"];
pub const EXTRA_FUNCTIONS: &[&str] = &["parse_time", "next_utc_midnight"];

fn invalid(msg: impl Into<String>) -> MjError {
    MjError::new(ErrorKind::InvalidOperation, msg.into())
}

/// Unix milliseconds of a timestamp value: RFC 3339 text, or a number of seconds
/// (below 10^11) or milliseconds.
pub fn timestamp_ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_rfc3339_ms(s),
        Value::Number(n) => {
            let f = n.as_f64()?;
            if !f.is_finite() {
                return None;
            }
            // Seconds until the year 5138; milliseconds after.
            if f.abs() < 1e11 {
                Some((f * 1000.0).round() as i64)
            } else {
                Some(f.round() as i64)
            }
        }
        _ => None,
    }
}

/// RFC 3339 / ISO 8601 text to Unix milliseconds; any number of fractional digits;
/// a missing offset is taken as UTC.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    // Fractions longer than nanoseconds: cut to nine digits and retry.
    if let Some(dot) = s.find('.') {
        let digits = s[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 9 {
            let cut = format!("{}{}", &s[..dot + 10], &s[dot + 1 + digits..]);
            return parse_rfc3339_ms(&cut);
        }
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

fn mj_to_json(v: &MjValue) -> Value {
    if v.is_undefined() || v.is_none() {
        return Value::Null;
    }
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn filter_unix(v: MjValue) -> Result<MjValue, MjError> {
    timestamp_ms(&mj_to_json(&v))
        .map(|ms| MjValue::from(ms.div_euclid(1000)))
        .ok_or_else(|| invalid(format!("unix: '{v}' is not a timestamp")))
}

fn filter_ms(v: MjValue) -> Result<MjValue, MjError> {
    timestamp_ms(&mj_to_json(&v))
        .map(MjValue::from)
        .ok_or_else(|| invalid(format!("ms: '{v}' is not a timestamp")))
}

fn filter_rfc3339(v: MjValue) -> Result<MjValue, MjError> {
    let ms = timestamp_ms(&mj_to_json(&v)).ok_or_else(|| invalid(format!("rfc3339: '{v}' is not a timestamp")))?;
    let ts = jiff::Timestamp::from_millisecond(ms).map_err(|e| invalid(e.to_string()))?;
    Ok(MjValue::from(ts.to_string()))
}

fn filter_b64encode(v: String) -> MjValue {
    MjValue::from(base64::engine::general_purpose::STANDARD.encode(v.as_bytes()))
}

fn filter_b64decode(v: String) -> Result<MjValue, MjError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine
        .decode(v.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v.trim().trim_end_matches('=')))
        .map_err(|_| invalid("b64decode: not base64"))?;
    String::from_utf8(bytes)
        .map(MjValue::from)
        .map_err(|_| invalid("b64decode: not UTF-8 text"))
}

fn filter_clamp(v: f64, lo: f64, hi: f64) -> MjValue {
    MjValue::from(v.clamp(lo.min(hi), hi.max(lo)))
}

fn func_parse_time(v: MjValue) -> MjValue {
    timestamp_ms(&mj_to_json(&v))
        .map(MjValue::from)
        .unwrap_or(MjValue::from(()))
}

fn func_next_utc_midnight(now_ms: i64) -> MjValue {
    const DAY: i64 = 86_400_000;
    MjValue::from((now_ms.div_euclid(DAY) + 1) * DAY)
}

/// Where an expression finds its variables: named roots (`state`, `cred`, `body`...)
/// first, then the keys of the current record as top-level names.
#[derive(Default, Clone, Copy)]
pub struct Scope<'a> {
    pub record: Option<&'a Value>,
    pub named: &'a [(&'a str, &'a Value)],
}

impl<'a> Scope<'a> {
    pub fn new(record: Option<&'a Value>, named: &'a [(&'a str, &'a Value)]) -> Self {
        Scope { record, named }
    }

    fn root(&self, name: &str) -> Option<&'a Value> {
        if let Some((_, v)) = self.named.iter().find(|(n, _)| *n == name) {
            return Some(v);
        }
        self.record.and_then(|r| r.get(name))
    }
}

/// A compiled expression.
pub struct Expr {
    src: String,
    compiled: minijinja::Expression<'static, 'static>,
    /// The dotted paths the expression reads, split into keys.
    reads: Vec<Vec<String>>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({:?})", self.src)
    }
}

/// Why an expression or template did not compile: a message and the character offset
/// in the source where minijinja pointed, when it did.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    pub message: String,
    pub offset: Option<usize>,
}

fn compile_error(e: &MjError, src: &str) -> CompileError {
    let offset = e.range().map(|r| src[..r.start.min(src.len())].chars().count());
    let mut message = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
    if message.is_empty() {
        message = e.to_string();
    }
    CompileError { message, offset }
}

impl Expr {
    pub fn compile(src: &str) -> Result<Expr, CompileError> {
        Expr::compile_in(src, false)
    }

    fn compile_in(src: &str, strict: bool) -> Result<Expr, CompileError> {
        if src.trim().is_empty() {
            return Err(CompileError {
                message: "empty expression".into(),
                offset: Some(0),
            });
        }
        let compiled = env(strict)
            .compile_expression_owned(src.to_string())
            .map_err(|e| compile_error(&e, src))?;
        let mut reads: Vec<Vec<String>> = compiled
            .undeclared_variables(true)
            .into_iter()
            .map(|p| p.split('.').map(str::to_string).collect())
            .collect();
        reads.sort();
        let mut names = compiled.undeclared_variables(false).into_iter().collect::<Vec<_>>();
        names.sort();
        // A function call such as `parse_time(x)` is not a variable to read.
        reads.retain(|p| !p.first().is_some_and(|h| EXTRA_FUNCTIONS.contains(&h.as_str())));
        let _ = names;
        Ok(Expr {
            src: src.to_string(),
            compiled,
            reads,
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    /// The top-level names the expression reads (`cred`, `env`, `state`, record keys).
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.reads.iter().filter_map(|p| p.first().map(String::as_str))
    }

    /// The dotted paths the expression reads.
    pub fn reads(&self) -> &[Vec<String>] {
        &self.reads
    }

    fn context(&self, scope: &Scope<'_>) -> MjValue {
        let mut ctx = Map::new();
        for path in &self.reads {
            let Some(head) = path.first() else { continue };
            let Some(mut cur) = scope.root(head) else { continue };
            let mut slot = ctx.entry(head.clone()).or_insert(Value::Null);
            let mut whole = true;
            for key in &path[1..] {
                match cur.get(key) {
                    Some(next) if cur.is_object() => {
                        if !slot.is_object() {
                            *slot = Value::Object(Map::new());
                        }
                        let Value::Object(m) = slot else { break };
                        slot = m.entry(key.clone()).or_insert(Value::Null);
                        cur = next;
                    }
                    _ => {
                        // The path ends here in the data: an object whose key is missing
                        // stays an (empty, or partly filled) object; anything else is
                        // taken whole so methods on it still work.
                        if cur.is_object() {
                            if !slot.is_object() {
                                *slot = Value::Object(Map::new());
                            }
                            whole = false;
                        }
                        break;
                    }
                }
            }
            if whole {
                *slot = cur.clone();
            }
        }
        MjValue::from(minijinja::value::Serde(&ctx))
    }

    /// Evaluates to JSON; undefined and none become `Null`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, String> {
        self.compiled
            .eval(self.context(scope))
            .map(|v| mj_to_json(&v))
            .map_err(|e| {
                let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
                format!("expression '{}': {detail}", self.src)
            })
    }

    /// Evaluates as a condition; an error counts as false.
    pub fn truthy(&self, scope: &Scope<'_>) -> bool {
        self.compiled
            .eval(self.context(scope))
            .map(|v| v.is_true())
            .unwrap_or(false)
    }
}

/// One piece of a template.
#[derive(Debug)]
pub enum Piece {
    Lit(String),
    Hole(Expr),
}

/// A compiled template: literal text and expression holes.
#[derive(Debug)]
pub struct Template {
    src: String,
    pieces: Vec<Piece>,
}

impl Template {
    pub fn compile(src: &str) -> Result<Template, CompileError> {
        let mut pieces = Vec::new();
        let mut rest = src;
        let mut offset = 0usize;
        loop {
            let next_block = ["{%", "{#"].iter().filter_map(|m| rest.find(m)).min();
            let next_hole = rest.find("{{");
            if let Some(b) = next_block
                && next_hole.is_none_or(|h| b < h)
            {
                return Err(CompileError {
                    message: "templates hold only '{{ expression }}' holes, not '{% %}' blocks or '{# #}' comments"
                        .into(),
                    offset: Some(src[..offset + b].chars().count()),
                });
            }
            let Some(open) = next_hole else {
                if !rest.is_empty() {
                    pieces.push(Piece::Lit(rest.to_string()));
                }
                break;
            };
            if open > 0 {
                pieces.push(Piece::Lit(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(CompileError {
                    message: "unclosed '{{': expected '}}'".into(),
                    offset: Some(src[..offset + open].chars().count()),
                });
            };
            let inner = &after[..close];
            let inner_off = offset + open + 2;
            let expr = Expr::compile_in(inner.trim(), true).map_err(|e| CompileError {
                message: e.message,
                offset: Some(src[..inner_off].chars().count() + e.offset.unwrap_or(0)),
            })?;
            pieces.push(Piece::Hole(expr));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        Ok(Template {
            src: src.to_string(),
            pieces,
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The literal text before the first hole.
    pub fn literal_prefix(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Lit(s)) => s,
            _ => "",
        }
    }

    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }

    pub fn holes(&self) -> impl Iterator<Item = &Expr> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Hole(e) => Some(e),
            Piece::Lit(_) => None,
        })
    }

    /// Renders; a hole that is undefined or null is an error naming the expression.
    pub fn render(&self, scope: &Scope<'_>) -> Result<String, String> {
        let mut out = String::with_capacity(self.src.len());
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Hole(e) => match e.eval(scope).map_err(|_| format!("'{}' has no value", e.source()))? {
                    Value::Null => return Err(format!("'{}' has no value", e.source())),
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expression_reads_only_named_paths() {
        let e = Expr::compile("type == 'assistant' and message.usage is defined").unwrap();
        let line = json!({"type": "assistant", "message": {"usage": {"input_tokens": 3}, "content": "big"}});
        assert!(e.truthy(&Scope::new(Some(&line), &[])));
        let user = json!({"type": "user", "message": {"content": "x"}});
        assert!(!e.truthy(&Scope::new(Some(&user), &[])));
        let no_usage = json!({"type": "assistant", "message": {"content": "x"}});
        assert!(!e.truthy(&Scope::new(Some(&no_usage), &[])));
    }

    #[test]
    fn arithmetic_and_named_roots() {
        let e = Expr::compile("(1 - item.f) * 100").unwrap();
        let item = json!({"f": 0.25});
        assert_eq!(e.eval(&Scope::new(None, &[("item", &item)])).unwrap(), json!(75.0));
        let e = Expr::compile("input - cached + (tool or 0)").unwrap();
        let rec = json!({"input": 10, "cached": 4});
        assert_eq!(e.eval(&Scope::new(Some(&rec), &[])).unwrap(), json!(6));
    }

    #[test]
    fn filters_and_functions() {
        let e = Expr::compile("ts | unix").unwrap();
        let rec = json!({"ts": "2026-01-02T03:04:05.123456789Z"});
        assert_eq!(e.eval(&Scope::new(Some(&rec), &[])).unwrap(), json!(1_767_323_045));
        let e = Expr::compile("next_utc_midnight(now_ms)").unwrap();
        let now = json!(1_767_323_045_000i64);
        assert_eq!(
            e.eval(&Scope::new(None, &[("now_ms", &now)])).unwrap(),
            json!(1_767_398_400_000i64)
        );
        assert!(Expr::compile("x | b64encode").is_ok());
    }

    #[test]
    fn long_fractions_parse() {
        assert_eq!(
            parse_rfc3339_ms("2026-01-02T03:04:05.1234567891234Z"),
            Some(1_767_323_045_123)
        );
        assert_eq!(parse_rfc3339_ms("2026-01-02T03:04:05Z"), Some(1_767_323_045_000));
        assert_eq!(parse_rfc3339_ms("2026-01-02T03:04:05+01:00"), Some(1_767_319_445_000));
    }

    #[test]
    fn templates() {
        let t = Template::compile("https://api.example.com/v1/{{ cred.org | urlencode }}/usage").unwrap();
        assert_eq!(t.literal_prefix(), "https://api.example.com/v1/");
        let cred = json!({"org": "a b"});
        assert_eq!(
            t.render(&Scope::new(None, &[("cred", &cred)])).unwrap(),
            "https://api.example.com/v1/a%20b/usage"
        );
        let err = t.render(&Scope::new(None, &[])).unwrap_err();
        assert!(err.contains("'cred.org | urlencode' has no value"), "{err}");
        assert_eq!(Template::compile("x {{ y").unwrap_err().offset, Some(2));
        assert!(Template::compile("{% if x %}y{% endif %}").is_err());
        assert!(Template::compile("{{ 1 + }}").is_err());
    }
}
