//! Expressions and templates: the two small string languages of a definition.
//!
//! Both run on one shared minijinja environment with no loader (so no file access),
//! bounded fuel and a fixed set of filters and functions. An expression is compiled once
//! at load; at run time it sees only the values it names: the dotted paths it reads are
//! found at compile time, and only those are converted from JSON, so a `where` over a
//! multi-kilobyte line costs what it reads, not what the line holds. Expressions in a
//! small subset (paths, literals, comparisons, `and`/`or`/`not`, `+`/`-`, `is defined`)
//! skip that conversion too: a direct evaluator reads the JSON values and answers exactly
//! as minijinja would, or leaves the case to minijinja.
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

/// Whether an expression has a slice `[a:b]` (a ':' inside brackets, outside quotes).
fn has_slice(src: &str) -> bool {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in src.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, ':') if depth > 0 => return true,
            _ => {}
        }
    }
    false
}

/// A compiled expression.
pub struct Expr {
    src: String,
    compiled: minijinja::Expression<'static, 'static>,
    /// The dotted paths the expression reads, split into keys.
    reads: Vec<Vec<String>>,
    /// The expression slices a value (`x[1:3]`): minijinja's analysis does not see the
    /// variables inside a slice, so it is given every name in scope.
    reads_all: bool,
    /// The same expression for the direct evaluator, when it is in its subset.
    fast: Option<Box<Fast>>,
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
        // A name read in a way the nested analysis does not follow (a slice, a subscript of
        // a call's result) is read whole.
        let mut names = compiled.undeclared_variables(false).into_iter().collect::<Vec<_>>();
        names.sort();
        for n in names {
            if !reads.iter().any(|p| p.first() == Some(&n)) {
                reads.push(vec![n]);
            }
        }
        reads.sort();
        // A function call such as `parse_time(x)` is not a variable to read.
        reads.retain(|p| !p.first().is_some_and(|h| EXTRA_FUNCTIONS.contains(&h.as_str())));
        Ok(Expr {
            src: src.to_string(),
            compiled,
            reads_all: has_slice(src),
            reads,
            fast: if strict { None } else { Fast::parse(src).map(Box::new) },
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
        if self.reads_all {
            if let Some(Value::Object(r)) = scope.record {
                ctx.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            ctx.extend(scope.named.iter().map(|(k, v)| ((*k).to_string(), (*v).clone())));
            return MjValue::from(minijinja::value::Serde(&ctx));
        }
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

    /// Whether the direct evaluator handles this expression (for tests and benchmarks).
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    /// Evaluates with minijinja only, never the direct evaluator (to compare the two).
    pub fn eval_slow(&self, scope: &Scope<'_>) -> Result<Value, String> {
        self.compiled
            .eval(self.context(scope))
            .map(|v| mj_to_json(&v))
            .map_err(|e| {
                let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
                format!("expression '{}': {detail}", self.src)
            })
    }

    /// Evaluates to JSON; undefined and none become `Null`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, String> {
        if let Some(v) = self.fast.as_ref().and_then(|f| f.eval(scope)) {
            return Ok(v.into_json());
        }
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
        if let Some(v) = self.fast.as_ref().and_then(|f| f.eval(scope)) {
            return v.truthy();
        }
        self.compiled
            .eval(self.context(scope))
            .map(|v| v.is_true())
            .unwrap_or(false)
    }
}

// ------------------------------------------------------------------------------------------
// The direct evaluator
// ------------------------------------------------------------------------------------------
//
// Most expressions in definitions are conditions and small sums over a record's keys:
// `type == "assistant" and message.usage`, `sessionId or file.stem`,
// `(tokens.input or 0) - (tokens.cached or 0)`. Converting the values they read into
// minijinja values costs more than the whole rest of a line's extraction, so expressions
// in this subset (dotted paths, string/number/bool/none literals, `==` `!=` `<` `<=` `>`
// `>=`, `and` `or` `not`, `+` `-`, parentheses, `is [not] defined`) are also compiled for a
// direct evaluator over the JSON values. It gives minijinja's answer or no answer: any
// case whose semantics it does not reproduce exactly (a type mismatch, arithmetic on a
// missing value, an overflow, a path through `none` or a string) falls back to minijinja,
// so behaviour, warnings and errors are unchanged. A test compares the two on many
// expressions and records.

/// An expression of the direct evaluator's subset.
#[derive(Debug, Clone, PartialEq)]
enum Fast {
    /// A dotted path: the head is a named root or a key of the record.
    Path(Vec<String>),
    Lit(Value),
    Not(Box<Fast>),
    And(Box<Fast>, Box<Fast>),
    Or(Box<Fast>, Box<Fast>),
    Cmp(CmpOp, Box<Fast>, Box<Fast>),
    Add(Box<Fast>, Box<Fast>),
    Sub(Box<Fast>, Box<Fast>),
    /// `x is defined` (true) or `x is not defined` (false).
    Defined(Box<Fast>, bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A value during direct evaluation.
enum FVal<'a> {
    Undefined,
    Ref(&'a Value),
    Own(Value),
}

impl FVal<'_> {
    fn json(&self) -> Option<&Value> {
        match self {
            FVal::Undefined => None,
            FVal::Ref(v) => Some(v),
            FVal::Own(v) => Some(v),
        }
    }

    fn into_json(self) -> Value {
        match self {
            FVal::Undefined => Value::Null,
            FVal::Ref(v) => v.clone(),
            FVal::Own(v) => v,
        }
    }

    /// Jinja truthiness: undefined, none, false, zero and empty things are false.
    fn truthy(&self) -> bool {
        match self.json() {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(m)) => !m.is_empty(),
        }
    }
}

/// A number as minijinja sees it: an integer, or a float.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    let Value::Number(n) = v else { return None };
    if let Some(i) = n.as_i64() {
        Some(Num::Int(i))
    } else if n.is_f64() {
        n.as_f64().map(Num::Float)
    } else {
        // A u64 above i64::MAX: minijinja keeps it exact; leave it to minijinja.
        None
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

fn arith(a: Num, b: Num, add: bool) -> Option<Value> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => {
            let r = if add { x.checked_add(y) } else { x.checked_sub(y) }?;
            Some(Value::from(r))
        }
        _ => {
            let r = if add {
                as_f64(a) + as_f64(b)
            } else {
                as_f64(a) - as_f64(b)
            };
            serde_json::Number::from_f64(r).map(Value::Number)
        }
    }
}

/// `a == b` where minijinja's answer is certain; `None` otherwise.
fn equal(a: &FVal<'_>, b: &FVal<'_>) -> Option<bool> {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match (a.json(), b.json()) {
        (Some(Value::String(x)), Some(Value::String(y))) => Some(x == y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => Some(x == y),
        (Some(x @ Value::Number(_)), Some(y @ Value::Number(_))) => match (num(x)?, num(y)?) {
            (Num::Int(i), Num::Int(j)) => Some(i == j),
            (p, q) => Some(as_f64(p) == as_f64(q)),
        },
        // Missing or none against a plain value is never equal.
        (None | Some(Value::Null), Some(v)) | (Some(v), None | Some(Value::Null)) if scalar(v) => Some(false),
        _ => None,
    }
}

fn order(a: &FVal<'_>, b: &FVal<'_>) -> Option<std::cmp::Ordering> {
    match (a.json()?, b.json()?) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (x @ Value::Number(_), y @ Value::Number(_)) => match (num(x)?, num(y)?) {
            (Num::Int(i), Num::Int(j)) => Some(i.cmp(&j)),
            (p, q) => as_f64(p).partial_cmp(&as_f64(q)),
        },
        _ => None,
    }
}

impl Fast {
    /// Evaluates; `None` when minijinja must answer.
    fn eval<'a>(&'a self, scope: &Scope<'a>) -> Option<FVal<'a>> {
        Some(match self {
            Fast::Lit(v) => FVal::Ref(v),
            Fast::Path(keys) => {
                let (head, rest) = keys.split_first()?;
                let Some(mut cur) = scope.root(head) else {
                    return Some(FVal::Undefined);
                };
                for k in rest {
                    match cur {
                        Value::Object(m) => match m.get(k) {
                            Some(v) => cur = v,
                            None => return Some(FVal::Undefined),
                        },
                        // An attribute of none, a string, a number or a list: leave it to
                        // minijinja.
                        _ => return None,
                    }
                }
                FVal::Ref(cur)
            }
            Fast::Not(x) => FVal::Own(Value::Bool(!x.eval(scope)?.truthy())),
            Fast::And(a, b) => {
                let x = a.eval(scope)?;
                if x.truthy() { b.eval(scope)? } else { x }
            }
            Fast::Or(a, b) => {
                let x = a.eval(scope)?;
                if x.truthy() { x } else { b.eval(scope)? }
            }
            Fast::Defined(x, want) => {
                let defined = !matches!(x.eval(scope)?, FVal::Undefined);
                FVal::Own(Value::Bool(defined == *want))
            }
            Fast::Cmp(op, a, b) => {
                let (x, y) = (a.eval(scope)?, b.eval(scope)?);
                let r = match op {
                    CmpOp::Eq => equal(&x, &y)?,
                    CmpOp::Ne => !equal(&x, &y)?,
                    CmpOp::Lt => order(&x, &y)?.is_lt(),
                    CmpOp::Le => order(&x, &y)?.is_le(),
                    CmpOp::Gt => order(&x, &y)?.is_gt(),
                    CmpOp::Ge => order(&x, &y)?.is_ge(),
                };
                FVal::Own(Value::Bool(r))
            }
            Fast::Add(a, b) | Fast::Sub(a, b) => {
                let (x, y) = (a.eval(scope)?, b.eval(scope)?);
                let (p, q) = (num(x.json()?)?, num(y.json()?)?);
                FVal::Own(arith(p, q, matches!(self, Fast::Add(..)))?)
            }
        })
    }

    /// Parses an expression of the subset; `None` for anything else.
    fn parse(src: &str) -> Option<Fast> {
        let toks = lex(src)?;
        let mut p = Parser { toks, pos: 0 };
        let e = p.or()?;
        (p.pos == p.toks.len()).then_some(e)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Value),
    Op(&'static str),
}

fn lex(src: &str) -> Option<Vec<Tok>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(src[start..i].to_string()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                return None;
            }
            let text = &src[start..i];
            let v = if text.contains('.') {
                Value::Number(serde_json::Number::from_f64(text.parse::<f64>().ok()?)?)
            } else {
                Value::from(text.parse::<i64>().ok()?)
            };
            out.push(Tok::Num(v));
        } else if c == b'\'' || c == b'"' {
            // Only plain literals; escapes are left to minijinja.
            let end = src[i + 1..].find(c as char)? + i + 1;
            let text = &src[i + 1..end];
            if text.contains('\\') {
                return None;
            }
            out.push(Tok::Str(text.to_string()));
            i = end + 1;
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let op: &'static str = match two {
                "==" => "==",
                "!=" => "!=",
                "<=" => "<=",
                ">=" => ">=",
                _ => match c {
                    b'<' => "<",
                    b'>' => ">",
                    b'(' => "(",
                    b')' => ")",
                    b'+' => "+",
                    b'-' => "-",
                    b'.' => ".",
                    _ => return None,
                },
            };
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "is", "in", "if", "else", "true", "false", "none", "True", "False", "None", "defined",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn op(&mut self, o: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(s)) if *s == o) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Option<Fast> {
        let mut e = self.and()?;
        while self.word("or") {
            e = Fast::Or(Box::new(e), Box::new(self.and()?));
        }
        Some(e)
    }

    fn and(&mut self) -> Option<Fast> {
        let mut e = self.not()?;
        while self.word("and") {
            e = Fast::And(Box::new(e), Box::new(self.not()?));
        }
        Some(e)
    }

    fn not(&mut self) -> Option<Fast> {
        if self.word("not") {
            return Some(Fast::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Option<Fast> {
        let a = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => CmpOp::Eq,
            Some(Tok::Op("!=")) => CmpOp::Ne,
            Some(Tok::Op("<")) => CmpOp::Lt,
            Some(Tok::Op("<=")) => CmpOp::Le,
            Some(Tok::Op(">")) => CmpOp::Gt,
            Some(Tok::Op(">=")) => CmpOp::Ge,
            _ => return Some(a),
        };
        self.pos += 1;
        let b = self.sum()?;
        // Chained comparisons are left to minijinja.
        if matches!(self.peek(), Some(Tok::Op("==" | "!=" | "<" | "<=" | ">" | ">="))) {
            return None;
        }
        Some(Fast::Cmp(op, Box::new(a), Box::new(b)))
    }

    fn sum(&mut self) -> Option<Fast> {
        let mut e = self.test()?;
        loop {
            if self.op("+") {
                e = Fast::Add(Box::new(e), Box::new(self.test()?));
            } else if self.op("-") {
                e = Fast::Sub(Box::new(e), Box::new(self.test()?));
            } else {
                return Some(e);
            }
        }
    }

    /// A primary with an optional `is [not] defined`.
    fn test(&mut self) -> Option<Fast> {
        let e = self.primary()?;
        if self.word("is") {
            let want = !self.word("not");
            if !self.word("defined") {
                return None;
            }
            return Some(Fast::Defined(Box::new(e), want));
        }
        Some(e)
    }

    fn primary(&mut self) -> Option<Fast> {
        let t = self.toks.get(self.pos)?.clone();
        self.pos += 1;
        match t {
            Tok::Str(s) => Some(Fast::Lit(Value::String(s))),
            Tok::Num(n) => Some(Fast::Lit(n)),
            Tok::Op("(") => {
                let e = self.or()?;
                self.op(")").then_some(e)
            }
            Tok::Ident(w) => match w.as_str() {
                "true" | "True" => Some(Fast::Lit(Value::Bool(true))),
                "false" | "False" => Some(Fast::Lit(Value::Bool(false))),
                "none" | "None" => Some(Fast::Lit(Value::Null)),
                _ if KEYWORDS.contains(&w.as_str()) => None,
                _ => {
                    let mut keys = vec![w];
                    while self.op(".") {
                        match self.toks.get(self.pos) {
                            Some(Tok::Ident(k)) if !KEYWORDS.contains(&k.as_str()) => {
                                keys.push(k.clone());
                                self.pos += 1;
                            }
                            _ => return None,
                        }
                    }
                    // A call, a subscript or a filter: not in the subset.
                    if matches!(self.peek(), Some(Tok::Op("("))) {
                        return None;
                    }
                    Some(Fast::Path(keys))
                }
            },
            Tok::Op(_) => None,
        }
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
    /// A template whose holes are strict: any use of a missing value is an error.
    pub fn compile(src: &str) -> Result<Template, CompileError> {
        Template::compile_in(src, true)
    }

    /// A template whose holes are lenient inside (`a.b or 'x'`, `x | default('y')`, `'s'
    /// if c else ''` work over missing values) while a hole whose final value is missing
    /// is still an error. Provider and notifier templates other than URLs use this.
    pub fn compile_lenient(src: &str) -> Result<Template, CompileError> {
        Template::compile_in(src, false)
    }

    fn compile_in(src: &str, strict: bool) -> Result<Template, CompileError> {
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
            let expr = Expr::compile_in(inner.trim(), strict).map_err(|e| CompileError {
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

    /// The template as users write a path in a shell: `{{ env.CODEX_HOME }}/auth.json`
    /// reads `$CODEX_HOME/auth.json`; other holes stay as written.
    pub fn shell_form(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => s.clone(),
                Piece::Hole(e) => match e.source().trim().strip_prefix("env.") {
                    Some(name) if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => format!("${name}"),
                    _ => format!("{{{{ {} }}}}", e.source().trim()),
                },
            })
            .collect()
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
    fn slices_read_their_variables() {
        let e = Expr::compile("(now_ms | rfc3339)[:4]").unwrap();
        let now = json!(1_767_323_045_000i64);
        assert_eq!(e.eval(&Scope::new(None, &[("now_ms", &now)])).unwrap(), json!("2026"));
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
    fn the_direct_evaluator_agrees_with_minijinja() {
        let records = [
            json!({"type": "assistant", "sessionId": "s", "message": {"model": "m", "usage": {"input_tokens": 3}}}),
            json!({"type": "user", "message": {}}),
            json!({"type": "assistant", "message": {"model": "<synthetic>", "usage": {}}}),
            json!({"type": "event_msg", "payload": {"type": "token_count", "info": null}}),
            json!({"type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": {"input_tokens": 10, "cached_input_tokens": 4}}}}),
            json!({"tokens": {"input": 5, "cached": 2.5, "tool": 0}, "n": 0, "f": 1.5, "s": "", "t": "x", "b": true,
                   "a": [], "a2": [1], "o": {}, "big": u64::MAX, "neg": -3, "x": null, "max": i64::MAX}),
            json!({"message": "str", "tokens": {"input": "7"}, "t": 5, "n": 0.0, "b": false}),
            json!({"message": [1, 2], "data": {"tokens": {"input": 0, "output": 2}}}),
            json!({"data": {"tokens": {"input": 0, "output": 0, "cache": {"read": 0}}}}),
            json!({}),
        ];
        let exprs = [
            "type == 'assistant' and message.usage and message.model != '<synthetic>'",
            "type == \"assistant\" and message.usage is defined",
            "sessionId or file.stem",
            "state.session_id or file.stem",
            "state.provider or 'openai'",
            "state.model",
            "payload.info.total_token_usage.input_tokens - (payload.info.total_token_usage.cached_input_tokens or 0)",
            "type == \"event_msg\" and payload.type == \"token_count\" and payload.info and payload.info.total_token_usage",
            "(tokens.input or 0) - (tokens.cached or 0) + (tokens.tool or 0)",
            "(tokens.output or 0) + (tokens.thoughts or 0)",
            "data.tokens and (data.tokens.input or data.tokens.output or data.tokens.cache.read)",
            "n == 0",
            "n == 0.0",
            "n == false",
            "f > 1",
            "f >= 1.5",
            "f < 2",
            "f <= 1",
            "s",
            "not s",
            "t == 'x'",
            "t != 'x'",
            "b == true",
            "b == 1",
            "b",
            "not b",
            "a",
            "a2",
            "o",
            "x",
            "x is defined",
            "y is defined",
            "x is not defined",
            "missing == 'a'",
            "missing != 'a'",
            "x == 'a'",
            "x == none",
            "missing == none",
            "big - 1",
            "big == 1",
            "neg - 1",
            "n + f",
            "t + 'y'",
            "t - 1",
            "missing - 1",
            "message.usage",
            "message.model == 'm'",
            "n < t",
            "1 == 1.0",
            "neg < 0",
            "not missing",
            "missing or 5",
            "t and 3",
            "s and 3",
            "f - 0.5",
            "max + 1",
            "max - neg",
            "x.y",
            "message.usage.input_tokens > 2 and not (message.model == 'x')",
            "tokens.input + 1",
            "tokens",
            "state",
            "file.stem == 's1'",
            "True and None",
            "none or false",
            "a2 == a2",
            "o == o",
            "t < 'y'",
            "message.usage.input_tokens",
            "missing.deeper.still",
            "s or s",
        ];
        let state = json!({"session_id": "sid", "model": null});
        let file = json!({"stem": "s1", "name": "s1.jsonl"});
        let named = [("state", &state), ("file", &file)];
        let (mut fast_answers, mut fast_exprs) = (0, 0);
        for src in exprs {
            let e = Expr::compile(src).unwrap();
            let Some(fast) = &e.fast else { continue };
            fast_exprs += 1;
            for rec in &records {
                let scope = Scope::new(Some(rec), &named);
                let slow = e.eval_slow(&scope);
                let slow_truthy = e.compiled.eval(e.context(&scope)).map(|v| v.is_true()).unwrap_or(false);
                if let Some(v) = fast.eval(&scope) {
                    fast_answers += 1;
                    assert_eq!(v.truthy(), slow_truthy, "truthiness of '{src}' on {rec}");
                    assert_eq!(Ok(v.into_json()), slow, "'{src}' on {rec}");
                }
                assert_eq!(e.eval(&scope), slow, "'{src}' on {rec}");
                assert_eq!(e.truthy(&scope), slow_truthy, "'{src}' on {rec}");
            }
        }
        assert!(fast_exprs > 60, "{fast_exprs}");
        assert!(fast_answers > 400, "{fast_answers}");
        for slow_only in [
            "a | length",
            "x[0]",
            "cost if cost else none",
            "a.0",
            "-n",
            "f(x)",
            "'a\\'b'",
            "n * 2",
            "n in a",
        ] {
            assert!(!Expr::compile(slow_only).unwrap().is_fast(), "{slow_only}");
        }
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
