//! Compiled values: a [`ValueSpec`] after load, and its evaluation.
//!
//! Evaluation order: source (`path`, `expr`, `const`, `from`) → `reduce` → `default` when
//! the source gives nothing → `map` lookup → `type` conversion → `clamp`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::expr::{CompileError, Expr, Scope, parse_rfc3339_ms, timestamp_ms};
use super::loc::Pos;
use super::path::{CompiledPath, Root};
use super::value_spec::{FromKind, Reduce, ValueSpec, ValueType};

#[derive(Debug)]
pub enum Source {
    Path(CompiledPath),
    Expr(Expr),
    Const(Value),
    From(FromKind),
}

/// A value ready to evaluate.
#[derive(Debug)]
pub struct CompiledValue {
    pub pos: Pos,
    pub source: Source,
    pub reduce: Option<Reduce>,
    pub default: Option<Value>,
    pub map: Option<BTreeMap<String, Value>>,
    pub ty: Option<ValueType>,
    pub format: Option<String>,
    pub clamp: Option<[f64; 2]>,
}

/// Everything a value may read while it is evaluated.
#[derive(Clone, Copy)]
pub struct EvalCtx<'a> {
    /// `$` of paths and the top-level names of expressions.
    pub record: Option<&'a Value>,
    /// `@` of paths and `item` of expressions.
    pub item: Option<&'a Value>,
    /// Named roots for expressions (`state`, `doc`, `cred`, `body`...).
    pub named: &'a [(&'a str, &'a Value)],
    /// The file the record came from, for `from:`.
    pub file: Option<&'a Path>,
}

/// A problem found while compiling one value: where, what, and the compile error.
#[derive(Debug)]
pub struct ValueError {
    pub pos: Pos,
    pub what: ValueErrorKind,
    pub src: String,
    pub err: CompileError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueErrorKind {
    Path,
    Expr,
    Format,
    Shape,
}

impl CompiledValue {
    pub fn compile(spec: &ValueSpec) -> Result<CompiledValue, ValueError> {
        let o = &spec.obj;
        let shape = |msg: &str| ValueError {
            pos: spec.pos,
            what: ValueErrorKind::Shape,
            src: String::new(),
            err: CompileError {
                message: msg.to_string(),
                offset: None,
            },
        };
        let count = [
            o.path.is_some(),
            o.expr.is_some(),
            o.constant.is_some(),
            o.from.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count != 1 {
            return Err(shape(if count == 0 {
                "a value needs one of 'path', 'expr', 'const' or 'from'"
            } else {
                "a value takes only one of 'path', 'expr', 'const' or 'from'"
            }));
        }
        let source = if let Some(p) = &o.path {
            Source::Path(CompiledPath::compile(p).map_err(|err| ValueError {
                pos: p.pos,
                what: ValueErrorKind::Path,
                src: p.value.clone(),
                err,
            })?)
        } else if let Some(e) = &o.expr {
            Source::Expr(Expr::compile(e).map_err(|err| ValueError {
                pos: e.pos,
                what: ValueErrorKind::Expr,
                src: e.value.clone(),
                err,
            })?)
        } else if let Some(c) = &o.constant {
            Source::Const(c.value.clone())
        } else if let Some(f) = &o.from {
            Source::From(f.value)
        } else {
            return Err(shape("a value needs one of 'path', 'expr', 'const' or 'from'"));
        };
        let ty = o.ty.as_ref().map(|t| t.value);
        if ty == Some(ValueType::Datetime) {
            let Some(fmt) = &o.format else {
                return Err(shape("'type: datetime' needs a strftime 'format'"));
            };
            check_strftime(&fmt.value).map_err(|m| ValueError {
                pos: fmt.pos,
                what: ValueErrorKind::Format,
                src: fmt.value.clone(),
                err: CompileError {
                    message: m,
                    offset: None,
                },
            })?;
        } else if let Some(fmt) = &o.format {
            return Err(ValueError {
                pos: fmt.pos,
                what: ValueErrorKind::Shape,
                src: fmt.value.clone(),
                err: CompileError {
                    message: "'format' is only used with 'type: datetime'".into(),
                    offset: None,
                },
            });
        }
        if let Some(c) = &o.clamp
            && c.value[0] > c.value[1]
        {
            return Err(ValueError {
                pos: c.pos,
                what: ValueErrorKind::Shape,
                src: format!("[{}, {}]", c.value[0], c.value[1]),
                err: CompileError {
                    message: "'clamp' is [min, max] with min <= max".into(),
                    offset: None,
                },
            });
        }
        Ok(CompiledValue {
            pos: spec.pos,
            source,
            reduce: o.reduce.as_ref().map(|r| r.value),
            default: o.default.as_ref().map(|d| d.value.clone()),
            map: o.map.clone(),
            ty,
            format: o.format.as_ref().map(|f| f.value.clone()),
            clamp: o.clamp.as_ref().map(|c| c.value),
        })
    }

    /// The expression, when the source is one (for permission checks).
    pub fn expr(&self) -> Option<&Expr> {
        match &self.source {
            Source::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// The path, when the source is one.
    pub fn path(&self) -> Option<&CompiledPath> {
        match &self.source {
            Source::Path(p) => Some(p),
            _ => None,
        }
    }

    /// Evaluates; `Ok(None)` when the value is absent and has no default.
    pub fn eval(&self, cx: &EvalCtx<'_>) -> Result<Option<Value>, String> {
        let raw: Option<Value> = match &self.source {
            Source::Path(p) => {
                let base = match p.root() {
                    Root::Record => cx.record,
                    Root::Item => cx.item,
                };
                match self.reduce {
                    Some(r) => reduce(r, base.map(|b| p.all(b)).unwrap_or_default())?,
                    None => base.and_then(|b| p.first(b)).cloned(),
                }
            }
            Source::Expr(e) => {
                let mut named: Vec<(&str, &Value)> = cx.named.to_vec();
                if let Some(item) = cx.item {
                    named.push(("item", item));
                }
                let v = e.eval(&Scope::new(cx.record, &named))?;
                match (self.reduce, &v) {
                    (Some(r), Value::Array(a)) => reduce(r, a.iter().collect())?,
                    (Some(r), Value::Null) => reduce(r, Vec::new())?,
                    (Some(r), other) => reduce(r, vec![other])?,
                    (None, _) => Some(v),
                }
            }
            Source::Const(c) => Some(c.clone()),
            Source::From(f) => cx.file.and_then(|p| from_file(*f, p)).map(Value::String),
        };
        let mut v = match raw {
            Some(Value::Null) | None => match &self.default {
                Some(d) => d.clone(),
                None => return Ok(None),
            },
            Some(v) => v,
        };
        if let Some(map) = &self.map {
            let key = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(m) = map.get(&key) {
                v = m.clone();
            }
        }
        if let Some(ty) = self.ty {
            v = convert(v, ty, self.format.as_deref())?;
        }
        if let Some([lo, hi]) = self.clamp {
            let n = v.as_f64().ok_or_else(|| format!("clamp: '{v}' is not a number"))?;
            v = serde_json::Number::from_f64(n.clamp(lo, hi))
                .map(Value::Number)
                .unwrap_or(Value::Null);
        }
        Ok(Some(v))
    }
}

/// Combines matches into one value; nulls are skipped.
fn reduce(r: Reduce, items: Vec<&Value>) -> Result<Option<Value>, String> {
    let items: Vec<&Value> = items.into_iter().filter(|v| !v.is_null()).collect();
    let nums = || -> Result<Vec<f64>, String> {
        items
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_f64().ok_or_else(|| format!("'{v}' is not a number")),
                Value::String(s) => s.trim().parse::<f64>().map_err(|_| format!("'{s}' is not a number")),
                other => Err(format!("'{other}' is not a number")),
            })
            .collect()
    };
    // Integers stay integers when every input is one, so token sums print without '.0'.
    let all_int = items.iter().all(|v| v.is_i64() || v.is_u64());
    let num = |f: f64| {
        if all_int && f.fract() == 0.0 && f.abs() < 9.0e15 {
            Value::from(f as i64)
        } else {
            number(f)
        }
    };
    Ok(match r {
        Reduce::Count => Some(Value::from(items.len())),
        Reduce::First => items.first().map(|v| (*v).clone()),
        Reduce::Last => items.last().map(|v| (*v).clone()),
        _ if items.is_empty() => None,
        Reduce::Sum => Some(num(nums()?.iter().sum())),
        Reduce::Min => Some(num(nums()?.into_iter().fold(f64::INFINITY, f64::min))),
        Reduce::Max => Some(num(nums()?.into_iter().fold(f64::NEG_INFINITY, f64::max))),
    })
}

fn from_file(kind: FromKind, p: &Path) -> Option<String> {
    let name = |p: Option<&Path>| p.and_then(|x| x.file_name()).map(|s| s.to_string_lossy().into_owned());
    match kind {
        FromKind::FilePath => Some(p.to_string_lossy().into_owned()),
        FromKind::FileName => name(Some(p)),
        FromKind::FileStem => p.file_stem().map(|s| s.to_string_lossy().into_owned()),
        FromKind::ParentDir => name(p.parent()),
        FromKind::GrandparentDir => name(p.parent().and_then(Path::parent)),
    }
}

fn check_strftime(fmt: &str) -> Result<(), String> {
    // Formatting a known time proves every directive is one jiff knows.
    let probe = jiff::civil::date(2024, 2, 29).at(13, 14, 15, 0);
    jiff::fmt::strtime::format(fmt, probe)
        .map(|_| ())
        .map_err(|e| format!("not a valid strftime format: {e}"))
}

fn number(f: f64) -> Value {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Converts a value to a type; timestamps become Unix milliseconds.
pub fn convert(v: Value, ty: ValueType, format: Option<&str>) -> Result<Value, String> {
    let as_f64 = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    };
    Ok(match ty {
        ValueType::String => match v {
            Value::String(_) => v,
            other => Value::String(other.to_string()),
        },
        ValueType::Number => number(as_f64(&v).ok_or_else(|| format!("'{v}' is not a number"))?),
        ValueType::Integer => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => v,
            _ => {
                let f = as_f64(&v).ok_or_else(|| format!("'{v}' is not an integer"))?;
                Value::from(f.round() as i64)
            }
        },
        ValueType::Bool => Value::Bool(match &v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
            _ => false,
        }),
        ValueType::Rfc3339 => match &v {
            Value::String(s) => {
                Value::from(parse_rfc3339_ms(s).ok_or_else(|| format!("'{s}' is not an RFC 3339 timestamp"))?)
            }
            _ => return Err(format!("'{v}' is not an RFC 3339 timestamp")),
        },
        ValueType::EpochS => {
            Value::from((as_f64(&v).ok_or_else(|| format!("'{v}' is not epoch seconds"))? * 1000.0).round() as i64)
        }
        ValueType::EpochMs => Value::from(
            as_f64(&v)
                .ok_or_else(|| format!("'{v}' is not epoch milliseconds"))?
                .round() as i64,
        ),
        ValueType::Timestamp => Value::from(timestamp_ms(&v).ok_or_else(|| format!("'{v}' is not a timestamp"))?),
        ValueType::Datetime => {
            let s = v.as_str().ok_or_else(|| format!("'{v}' is not a date-time string"))?;
            let fmt = format.unwrap_or("%Y-%m-%d %H:%M:%S");
            let parsed = jiff::fmt::strtime::parse(fmt, s).map_err(|e| format!("'{s}' does not match '{fmt}': {e}"))?;
            let ms = match parsed.to_timestamp() {
                Ok(ts) => ts.as_millisecond(),
                Err(_) => parsed
                    .to_datetime()
                    .and_then(|dt| dt.to_zoned_datetime(jiff::tz::TimeZone::UTC))
                    .map_err(|e| format!("'{s}' is not a complete date-time: {e}"))?
                    .timestamp()
                    .as_millisecond(),
            };
            Value::from(ms)
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(yaml: &str) -> ValueSpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn eval(yaml: &str, rec: &Value) -> Option<Value> {
        let cv = CompiledValue::compile(&spec(yaml)).unwrap();
        cv.eval(&EvalCtx {
            record: Some(rec),
            item: None,
            named: &[],
            file: Some(Path::new("/a/b/c.jsonl")),
        })
        .unwrap()
    }

    #[test]
    fn order_of_steps() {
        let rec = json!({"a": {"b": 5}, "t": "2026-01-01T00:00:00Z", "tier": "priority"});
        assert_eq!(eval("$.a.b", &rec), Some(json!(5)));
        assert_eq!(eval("{ path: $.nope, default: 0 }", &rec), Some(json!(0)));
        assert_eq!(eval("$.nope", &rec), None);
        assert_eq!(
            eval("{ path: $.t, type: rfc3339 }", &rec),
            Some(json!(1_767_225_600_000i64))
        );
        assert_eq!(
            eval("{ path: $.tier, map: { priority: fast } }", &rec),
            Some(json!("fast"))
        );
        assert_eq!(eval("{ expr: 'a.b * 30', clamp: [0, 100] }", &rec), Some(json!(100.0)));
        assert_eq!(eval("{ from: file_stem }", &rec), Some(json!("c")));
        assert_eq!(eval("{ from: parent_dir }", &rec), Some(json!("b")));
        assert_eq!(eval("{ const: 7 }", &rec), Some(json!(7)));
    }

    #[test]
    fn reduce_folds_every_match() {
        let rec = json!({"d": [{"r": [{"n": 2}, {"n": 3.5}]}, {"r": [{"n": 4}]}], "e": []});
        assert_eq!(eval("{ path: '$.d[*].r[*].n', reduce: sum }", &rec), Some(json!(9.5)));
        assert_eq!(eval("{ path: '$.d[*].r[*].n', reduce: max }", &rec), Some(json!(4.0)));
        assert_eq!(eval("{ path: '$.d[*].r[*].n', reduce: count }", &rec), Some(json!(3)));
        assert_eq!(
            eval("{ path: '$.e[*]', reduce: sum, default: 0 }", &rec),
            Some(json!(0))
        );
        assert_eq!(eval("{ path: '$.e[*]', reduce: count }", &rec), Some(json!(0)));
        assert_eq!(
            eval(
                "{ expr: 'd | map(attribute=\"r\") | list | length', reduce: min }",
                &rec
            ),
            Some(json!(2))
        );
    }

    #[test]
    fn datetime_and_errors() {
        let rec = json!({"d": "2026-01-01 10:00:00"});
        assert_eq!(
            eval("{ path: $.d, type: datetime, format: '%Y-%m-%d %H:%M:%S' }", &rec),
            Some(json!(1_767_261_600_000i64))
        );
        assert!(CompiledValue::compile(&spec("{ path: $.d, type: datetime, format: '%Q' }")).is_err());
        assert!(CompiledValue::compile(&spec("{ path: $.d, expr: 'x' }")).is_err());
        assert!(CompiledValue::compile(&spec("{ type: number }")).is_err());
    }
}
