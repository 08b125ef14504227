//! `CompiledPath`: an RFC 9535 JSONPath compiled once at load.
//!
//! Plain paths (`$.a.b[0].c`, `$['a b']`) are walked directly without jsonpath-rust's
//! per-node bookkeeping; everything else (wildcards, filters, slices, `..`) goes through
//! jsonpath-rust with the query parsed once. A path starting with `@` reads the current
//! `item` instead of the record.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::{errors::JsonPathError, parse_json_path};
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use super::expr::CompileError;

/// One step of a plain path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone)]
enum Plan {
    Plain(Vec<Step>),
    Query(Box<JpQuery>),
}

/// The root a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$`: the current record (or the response document).
    Record,
    /// `@`: the current `item` of an `each`.
    Item,
}

#[derive(Debug, Clone)]
pub struct CompiledPath {
    src: String,
    root: Root,
    plan: Plan,
}

impl CompiledPath {
    pub fn compile(src: &str) -> Result<CompiledPath, CompileError> {
        let trimmed = src.trim();
        let (root, as_dollar) = if let Some(rest) = trimmed.strip_prefix('@') {
            (Root::Item, format!("${rest}"))
        } else if trimmed.starts_with('$') {
            (Root::Record, trimmed.to_string())
        } else {
            return Err(CompileError {
                message: "a JSONPath starts with '$' (the record) or '@' (the current item)".into(),
                offset: Some(0),
            });
        };
        let query = parse_json_path(&as_dollar).map_err(|e| path_error(&e))?;
        let plan = match plain_steps(&as_dollar) {
            Some(steps) => Plan::Plain(steps),
            None => Plan::Query(Box::new(query)),
        };
        Ok(CompiledPath {
            src: src.to_string(),
            root,
            plan,
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    pub fn root(&self) -> Root {
        self.root
    }

    /// The steps of a plain path, `None` for a query.
    pub fn plain(&self) -> Option<&[Step]> {
        match &self.plan {
            Plan::Plain(s) => Some(s),
            Plan::Query(_) => None,
        }
    }

    /// The first value the path selects.
    pub fn first<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        match &self.plan {
            Plan::Plain(steps) => walk(v, steps),
            Plan::Query(q) => js_path_process(q, v)
                .ok()
                .and_then(|r| r.into_iter().next().map(|r| r.val)),
        }
    }

    /// Every value the path selects, in document order.
    pub fn all<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        match &self.plan {
            Plan::Plain(steps) => walk(v, steps).into_iter().collect(),
            Plan::Query(q) => js_path_process(q, v)
                .map(|r| r.into_iter().map(|r| r.val).collect())
                .unwrap_or_default(),
        }
    }
}

fn walk<'a>(mut v: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for s in steps {
        v = match (s, v) {
            (Step::Key(k), Value::Object(m)) => m.get(k)?,
            (Step::Index(i), Value::Array(a)) => {
                let idx = if *i < 0 {
                    a.len().checked_sub(i.unsigned_abs() as usize)?
                } else {
                    *i as usize
                };
                a.get(idx)?
            }
            _ => return None,
        };
    }
    Some(v)
}

fn path_error(e: &JsonPathError) -> CompileError {
    match e {
        JsonPathError::PestError(p) => {
            let offset = match p.location {
                pest::error::InputLocation::Pos(o) | pest::error::InputLocation::Span((o, _)) => o,
            };
            CompileError {
                message: "not a valid JSONPath (RFC 9535)".into(),
                offset: Some(offset),
            }
        }
        other => CompileError {
            message: format!("not a valid JSONPath: {other}"),
            offset: None,
        },
    }
}

/// Parses `$.a.b[0]['c d']` into steps; `None` when the path uses anything else.
fn plain_steps(src: &str) -> Option<Vec<Step>> {
    let b = src.as_bytes();
    let mut i = 1; // after '$'
    let mut steps = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                i += 1;
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                    i += 1;
                }
                if start == i {
                    return None; // `..`, `.*`
                }
                steps.push(Step::Key(src[start..i].to_string()));
            }
            b'[' => {
                i += 1;
                if i < b.len() && (b[i] == b'\'' || b[i] == b'"') {
                    let quote = b[i];
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i] != quote {
                        if b[i] == b'\\' {
                            return None;
                        }
                        i += 1;
                    }
                    let key = src.get(start..i)?.to_string();
                    i += 1;
                    if b.get(i) != Some(&b']') {
                        return None;
                    }
                    i += 1;
                    steps.push(Step::Key(key));
                } else {
                    let start = i;
                    if i < b.len() && b[i] == b'-' {
                        i += 1;
                    }
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    let n: i64 = src.get(start..i)?.parse().ok()?;
                    if b.get(i) != Some(&b']') {
                        return None;
                    }
                    i += 1;
                    steps.push(Step::Index(n));
                }
            }
            _ => return None,
        }
    }
    Some(steps)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_and_query_agree() {
        let v = json!({"a": {"b": [{"c": 1}, {"c": 2}]}, "x y": 3});
        for (p, want) in [
            ("$.a.b[0].c", json!(1)),
            ("$.a.b[-1].c", json!(2)),
            ("$['x y']", json!(3)),
        ] {
            let cp = CompiledPath::compile(p).unwrap();
            assert!(cp.plain().is_some(), "{p}");
            assert_eq!(cp.first(&v), Some(&want), "{p}");
        }
        let q = CompiledPath::compile("$.a.b[*].c").unwrap();
        assert!(q.plain().is_none());
        assert_eq!(q.all(&v), vec![&json!(1), &json!(2)]);
        let f = CompiledPath::compile("$.a.b[?@.c > 1].c").unwrap();
        assert_eq!(f.all(&v), vec![&json!(2)]);
    }

    #[test]
    fn item_root_and_errors() {
        let cp = CompiledPath::compile("@.name").unwrap();
        assert_eq!(cp.root(), Root::Item);
        let e = CompiledPath::compile("$.a[?(@.b ==]").unwrap_err();
        assert!(e.offset.is_some());
        assert!(CompiledPath::compile("message.usage").is_err());
    }
}
