//! Mapping: the responses of a fetch → the closed usage shape.
//!
//! Paths start at `$`, the object of responses by request id (`$.usage.five_hour`), or at
//! `@`, the current `each` item. Expressions and templates see every response id as a
//! top-level name and the named roots `responses`, `status`, `body`, `cred`, `config`,
//! `now_ms`, `env`, plus `item` and `key` inside `each`.
//!
//! `each` over a plain path walks the array's elements (`key` is the index) or the map's
//! entries (`item` is the value, `key` the name); over a query (`[*]`, filters) the
//! matches are the items. A limit whose `used_percent` gives nothing is left out.
//! Limits are finally sorted by used percent, highest first.

use std::cmp::Ordering;

use serde_json::Value;

use super::request::Roots;
use super::{Cost, Credits, Limit, ProviderUsage, Tokens};
use crate::def::compile::{CLimit, CSort, CUsage};
use crate::def::expr::{Scope, timestamp_ms};
use crate::def::model::{CostKind, SortKey};
use crate::def::value::{CompiledValue, EvalCtx};

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn as_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
        _ => false,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

struct Eval<'a> {
    record: &'a Value,
    named: Vec<(&'a str, &'a Value)>,
}

impl<'a> Eval<'a> {
    fn value(&self, cv: &CompiledValue, item: Option<&'a Value>, what: &str) -> Result<Option<Value>, String> {
        let cx = EvalCtx {
            record: Some(self.record),
            item,
            named: &self.named,
            file: None,
        };
        cv.eval(&cx)
            .map(|v| v.filter(|x| !x.is_null()))
            .map_err(|e| format!("usage {what}: {e}"))
    }

    fn opt(&self, cv: &Option<CompiledValue>, item: Option<&'a Value>, what: &str) -> Result<Option<Value>, String> {
        match cv {
            Some(cv) => self.value(cv, item, what),
            None => Ok(None),
        }
    }

    fn number(&self, cv: &Option<CompiledValue>, item: Option<&'a Value>, what: &str) -> Result<Option<f64>, String> {
        match self.opt(cv, item, what)? {
            None => Ok(None),
            Some(v) => as_f64(&v)
                .map(Some)
                .ok_or_else(|| format!("usage {what}: '{v}' is not a number")),
        }
    }
}

/// Fills `out` from the responses in `roots`.
pub fn map_usage(u: &CUsage, roots: &Roots, out: &mut ProviderUsage) -> Result<(), String> {
    let ev = Eval {
        record: &roots.responses,
        named: roots.named(None),
    };
    if let Some(v) = ev.opt(&u.plan, None, "plan")? {
        out.plan = text(&v);
    }
    let mut limits = Vec::new();
    for (i, l) in u.limits.iter().enumerate() {
        limits.extend(limits_of(l, roots, &ev, i)?);
    }
    limits.sort_by(|a, b| b.used_percent.partial_cmp(&a.used_percent).unwrap_or(Ordering::Equal));
    out.limit_reached = match ev.opt(&u.limit_reached, None, "limit_reached")? {
        Some(v) => as_bool(&v),
        None => limits.iter().any(|l| l.used_percent >= 100.0),
    };
    out.limits = limits;
    if let Some(t) = &u.tokens {
        let tokens = Tokens {
            input: ev.number(&t.input, None, "tokens.input")?,
            output: ev.number(&t.output, None, "tokens.output")?,
            cache_read: ev.number(&t.cache_read, None, "tokens.cache_read")?,
            cache_write: ev.number(&t.cache_write, None, "tokens.cache_write")?,
        };
        if tokens != Tokens::default() {
            out.tokens = Some(tokens);
        }
    }
    if let Some(c) = &u.cost
        && let Some(total) = ev.number_ref(&c.total, None, "cost.total")?
    {
        let currency = ev
            .opt(&c.currency, None, "cost.currency")?
            .and_then(|v| text(&v))
            .unwrap_or_else(|| "USD".into());
        out.cost = Some(Cost {
            kind: match c.kind {
                CostKind::Actual => "actual",
                CostKind::Estimated => "estimated",
            },
            total,
            currency,
        });
    }
    if let Some(c) = &u.credits {
        let credits = Credits {
            has_credits: ev
                .opt(&c.has_credits, None, "credits.has_credits")?
                .map(|v| as_bool(&v)),
            balance: ev.opt(&c.balance, None, "credits.balance")?,
            limit: ev.number(&c.limit, None, "credits.limit")?,
            unlimited: ev.opt(&c.unlimited, None, "credits.unlimited")?.map(|v| as_bool(&v)),
        };
        if credits != Credits::default() {
            out.credits = Some(credits);
        }
    }
    if let Some(v) = ev.opt(&u.error, None, "error")? {
        out.error = text(&v);
    }
    Ok(())
}

impl<'a> Eval<'a> {
    fn number_ref(&self, cv: &CompiledValue, item: Option<&'a Value>, what: &str) -> Result<Option<f64>, String> {
        match self.value(cv, item, what)? {
            None => Ok(None),
            Some(v) => as_f64(&v)
                .map(Some)
                .ok_or_else(|| format!("usage {what}: '{v}' is not a number")),
        }
    }
}

/// The items an `each` walks, with their keys.
fn items_of(each: &crate::def::path::CompiledPath, root: &Value) -> Vec<(Value, Value)> {
    if each.plain().is_some() {
        match each.first(root) {
            Some(Value::Array(a)) => a.iter().enumerate().map(|(i, v)| (v.clone(), Value::from(i))).collect(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (v.clone(), Value::String(k.clone()))).collect(),
            _ => Vec::new(),
        }
    } else {
        each.all(root)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), Value::from(i)))
            .collect()
    }
}

fn limits_of(l: &CLimit, roots: &Roots, ev: &Eval<'_>, index: usize) -> Result<Vec<Limit>, String> {
    let what = |field: &str| format!("limits[{index}].{field}");
    let Some(each) = &l.each else {
        return Ok(one_limit(l, roots, ev, None, None, &what)?.into_iter().collect());
    };
    let mut out = Vec::new();
    for (item, key) in items_of(each, &roots.responses) {
        if let Some(f) = &l.filter {
            let mut named = roots.named(None);
            named.push(("item", &item));
            named.push(("key", &key));
            if !f.truthy(&Scope::new(Some(&roots.responses), &named)) {
                continue;
            }
        }
        if let Some(limit) = one_limit(l, roots, ev, Some(&item), Some(&key), &what)? {
            out.push(limit);
        }
    }
    if let Some(s) = &l.sort {
        out.sort_by(|a, b| compare(s, a, b));
    }
    if let Some(n) = l.take {
        out.truncate(n);
    }
    Ok(out)
}

fn one_limit(
    l: &CLimit,
    roots: &Roots,
    ev: &Eval<'_>,
    item: Option<&Value>,
    key: Option<&Value>,
    what: &dyn Fn(&str) -> String,
) -> Result<Option<Limit>, String> {
    let mut named = roots.named(None);
    if let Some(i) = item {
        named.push(("item", i));
    }
    if let Some(k) = key {
        named.push(("key", k));
    }
    let ev = Eval {
        record: ev.record,
        named,
    };
    let Some(used) = ev.number_ref(&l.used_percent, item, &what("used_percent"))? else {
        return Ok(None);
    };
    let label = l
        .label
        .render(&Scope::new(Some(&roots.responses), &ev.named))
        .map_err(|e| format!("usage {}: {e}", what("label")))?;
    let resets_at = match ev.opt(&l.resets_at, item, &what("resets_at"))? {
        None => None,
        Some(v) => {
            Some(timestamp_ms(&v).ok_or_else(|| format!("usage {}: '{v}' is not a timestamp", what("resets_at")))?)
        }
    };
    let window_minutes = ev
        .number(&l.window_minutes, item, &what("window_minutes"))?
        .map(|m| m.round() as i64);
    Ok(Some(Limit {
        label,
        used_percent: used,
        resets_at,
        window_minutes,
    }))
}

fn compare(s: &CSort, a: &Limit, b: &Limit) -> Ordering {
    let ord = match s.by {
        SortKey::UsedPercent => a.used_percent.partial_cmp(&b.used_percent).unwrap_or(Ordering::Equal),
        SortKey::Label => natural(&a.label, &b.label),
        SortKey::ResetsAt => match (a.resets_at, b.resets_at) {
            (Some(x), Some(y)) => x.cmp(&y),
            // Missing values sort last whatever the direction.
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    let ord = if s.desc { ord.reverse() } else { ord };
    match (ord, &s.then) {
        (Ordering::Equal, Some(t)) => compare(t, a, b),
        _ => ord,
    }
}

/// Compares text with runs of digits by value ("model 9" before "model 10").
fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let mut n1 = String::new();
                while let Some(c) = x.peek().copied().filter(char::is_ascii_digit) {
                    n1.push(c);
                    x.next();
                }
                let mut n2 = String::new();
                while let Some(d) = y.peek().copied().filter(char::is_ascii_digit) {
                    n2.push(d);
                    y.next();
                }
                let (t1, t2) = (n1.trim_start_matches('0'), n2.trim_start_matches('0'));
                let ord = t1.len().cmp(&t2.len()).then_with(|| t1.cmp(t2));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            (Some(c), Some(d)) => {
                let ord = c.to_lowercase().cmp(d.to_lowercase());
                if ord != Ordering::Equal {
                    return ord;
                }
                x.next();
                y.next();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural("model 9", "model 10"), Ordering::Less);
        assert_eq!(natural("B", "a"), Ordering::Greater);
        assert_eq!(natural("x2", "x2"), Ordering::Equal);
    }
}
