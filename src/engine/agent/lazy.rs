//! A path trie that parses only what a definition reads.
//!
//! Most of a session line's bytes are message text no definition looks at, and building
//! a `serde_json::Value` for it costs allocations that are thrown away at once. The trie
//! holds every key path the records of a source can read (the plain JSONPaths of its
//! values, the dotted paths its expressions read, `doc.x` as `x`). A byte walker goes
//! through the line, materialises only those keys and skips the rest eight bytes at a
//! time, still checking that it is well-formed JSON, so a broken line is still an error.
//! Whenever the walker meets anything it is not sure of, a [`serde::de::DeserializeSeed`]
//! over `serde_json` parses the line instead (skipping with `IgnoredAny`), so results and
//! error messages are always `serde_json`'s; a test holds the two to the same answers.
//!
//! The result is indistinguishable to the definition: every path it reads finds the same
//! value it would find in the full parse. When that cannot be promised (a JSONPath with
//! wildcards or filters, `each`, an expression reading `doc` whole), no trie is built and
//! lines are parsed whole.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::def::compile::CRecords;
use crate::def::expr::Expr;
use crate::def::path::{Root, Step};
use crate::def::value::{CompiledValue, Source};

/// The keys to keep below one node; `all` keeps the whole value.
#[derive(Debug, Default, PartialEq)]
pub struct Trie {
    all: bool,
    kids: Vec<(String, Trie)>,
}

impl Trie {
    /// The trie of everything a source's records read from a line, or `None` when the
    /// whole line is needed.
    pub fn for_records(recs: &CRecords) -> Option<Trie> {
        if recs.each.is_some() {
            return None;
        }
        let mut t = Trie::default();
        let f = &recs.fields;
        let mut values: Vec<&CompiledValue> = vec![&f.session_id, &f.timestamp];
        for v in [
            &f.provider,
            &f.model,
            &f.project,
            &f.session_name,
            &f.input,
            &f.output,
            &f.cache_read,
            &f.cache_write,
            &f.cache_write_1h,
            &f.reasoning,
            &f.cost,
            &f.duration_ms,
            &f.speed,
        ]
        .into_iter()
        .flatten()
        {
            values.push(v);
        }
        if let Some(d) = &recs.dedup {
            values.extend(d.iter());
        }
        for s in &recs.state {
            t.add_expr(&s.when);
            values.extend(s.set.iter().map(|(_, v)| v));
        }
        if let Some(w) = &recs.filter {
            t.add_expr(w);
        }
        for v in values {
            match &v.source {
                Source::Path(p) if p.root() == Root::Item => {}
                Source::Path(p) => match p.plain() {
                    Some(steps) => {
                        let keys: Vec<&str> = steps
                            .iter()
                            .map_while(|s| match s {
                                Step::Key(k) => Some(k.as_str()),
                                Step::Index(_) => None,
                            })
                            .collect();
                        t.insert(&keys);
                    }
                    None => return None,
                },
                Source::Expr(e) => t.add_expr(e),
                Source::Const(_) | Source::From(_) => {}
            }
        }
        if t.all { None } else { Some(t) }
    }

    fn add_expr(&mut self, e: &Expr) {
        for read in e.reads() {
            let keys: Vec<&str> = read.iter().map(String::as_str).collect();
            match keys.first() {
                // Named roots that are not the line.
                Some(&"state") | Some(&"file") => {}
                Some(&"doc") => self.insert(&keys[1..]),
                Some(_) => self.insert(&keys),
                None => {}
            }
        }
    }

    fn insert(&mut self, path: &[&str]) {
        if self.all {
            return;
        }
        let Some((head, rest)) = path.split_first() else {
            self.all = true;
            self.kids.clear();
            return;
        };
        let i = match self.kids.iter().position(|(k, _)| k == head) {
            Some(i) => i,
            None => {
                self.kids.push(((*head).to_string(), Trie::default()));
                self.kids.len() - 1
            }
        };
        self.kids[i].1.insert(rest);
    }

    fn kid(&self, key: &str) -> Option<(&str, &Trie)> {
        self.kids.iter().find(|(k, _)| k == key).map(|(k, t)| (k.as_str(), t))
    }

    /// Parses one line, keeping only the trie's keys.
    ///
    /// A byte walker does the work: it finds the kept keys and skips everything else
    /// with `memchr` (still checking that the skipped JSON is well-formed), and leaves
    /// each kept value to `serde_json`. Whenever it finds a problem it steps aside and
    /// the line is parsed again by the `serde_json` seed below, so errors and edge cases
    /// are exactly `serde_json`'s.
    pub fn parse(&self, bytes: &[u8]) -> serde_json::Result<Value> {
        let mut w = Walker { b: bytes, i: 0 };
        if let Some(v) = w.node(self, 0)
            && w.ws_end()
        {
            return Ok(v);
        }
        self.parse_serde(bytes)
    }

    /// Parses one line with the `serde_json` seed.
    pub fn parse_serde(&self, bytes: &[u8]) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let v = Node(self).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

/// The position of the first quote, backslash or control character: eight bytes at a
/// time (the bytes between them are mostly short runs, where this beats `memchr`).
fn special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let ctrl = x.wrapping_sub(ONES * 0x20) & !x;
        let q = x ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let s = x ^ (ONES * u64::from(b'\\'));
        let slash = s.wrapping_sub(ONES) & !s;
        let hit = (ctrl | quote | slash) & HIGH;
        if hit != 0 {
            return Some(at + hit.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f))
        .map(|p| at + p)
}

/// Nesting deeper than this is left to `serde_json` (which limits recursion at 128).
const MAX_DEPTH: usize = 100;

/// Walks one JSON text; every method answers `None` when the text is not what it
/// expects (then `serde_json` has the last word).
struct Walker<'b> {
    b: &'b [u8],
    i: usize,
}

impl<'b> Walker<'b> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn ws_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// The value at this node of the trie: an object's kept keys, anything else whole.
    fn node(&mut self, t: &Trie, depth: usize) -> Option<Value> {
        self.ws();
        if t.all || self.b.get(self.i) != Some(&b'{') {
            return self.whole(depth);
        }
        if depth >= MAX_DEPTH {
            return None;
        }
        self.i += 1;
        let mut out = Map::with_capacity(t.kids.len());
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Some(Value::Object(out));
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.eat(b':')?;
            match t.kid(&key) {
                Some((name, kid)) => {
                    let v = self.node(kid, depth + 1)?;
                    out.insert(name.to_string(), v);
                }
                None => self.skip(depth + 1)?,
            }
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Some(Value::Object(out));
                }
                _ => return None,
            }
        }
    }

    /// A kept value, built whole: strings, small non-negative integers and containers
    /// here, other numbers through `serde_json` (so they come out exactly as it reads
    /// them).
    fn whole(&mut self, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.b.get(self.i)? {
            b'"' => self.string().map(Value::String),
            b'{' => {
                self.i += 1;
                // Room for a usage object's counters without growing.
                let mut out = Map::with_capacity(8);
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(Value::Object(out));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.eat(b':')?;
                    let v = self.whole(depth + 1)?;
                    out.insert(key, v);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Some(Value::Object(out));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut out = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(Value::Array(out));
                }
                loop {
                    out.push(self.whole(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Some(Value::Array(out));
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            _ => {
                let start = self.i;
                self.skip_number()?;
                let text = &self.b[start..self.i];
                // Up to 19 digits always fit in a u64; everything else (signs, fractions,
                // exponents, longer numbers) is serde_json's.
                if text.len() <= 19 && text.iter().all(u8::is_ascii_digit) {
                    let n = text.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                    Some(Value::from(n))
                } else {
                    serde_json::from_slice(text).ok()
                }
            }
        }
    }

    /// An object key (the walker is at its opening quote), borrowed from the line unless
    /// it has escapes: most keys are only compared with the trie's, never kept.
    fn key(&mut self) -> Option<Cow<'b, str>> {
        let b = self.b;
        let start = self.i;
        self.skip_string()?;
        let inner = &b[start + 1..self.i - 1];
        if inner.contains(&b'\\') {
            serde_json::from_slice::<String>(&b[start..self.i]).ok().map(Cow::Owned)
        } else {
            std::str::from_utf8(inner).ok().map(Cow::Borrowed)
        }
    }

    /// A string (the walker is at its opening quote), unescaped.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.skip_string()?;
        let inner = &self.b[start + 1..self.i - 1];
        if inner.contains(&b'\\') {
            serde_json::from_slice(&self.b[start..self.i]).ok()
        } else {
            std::str::from_utf8(inner).ok().map(str::to_string)
        }
    }

    /// Skips a string (at its opening quote): escapes checked, no raw control characters.
    fn skip_string(&mut self) -> Option<()> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        loop {
            let k = special(&self.b[self.i..])?;
            let c = self.b[self.i + k];
            self.i += k + 1;
            match c {
                b'"' => return Some(()),
                b'\\' => {}
                _ => return None,
            }
            match self.b.get(self.i)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                b'u' => {
                    let hex = self.b.get(self.i + 1..self.i + 5)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.i += 5;
                }
                _ => return None,
            }
        }
    }

    fn skip_number(&mut self) -> Option<()> {
        let digits = |w: &mut Self| {
            let start = w.i;
            while w.b.get(w.i).is_some_and(u8::is_ascii_digit) {
                w.i += 1;
            }
            (w.i > start).then_some(())
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => digits(self)?,
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            digits(self)?;
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            digits(self)?;
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Skips one value of any kind, checking that it is well-formed.
    fn skip(&mut self, depth: usize) -> Option<()> {
        self.ws();
        match *self.b.get(self.i)? {
            b'"' => self.skip_string(),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'{' | b'[' => self.skip_container(depth),
            _ => None,
        }
    }

    /// Skips an object or array, nested ones included, without recursion.
    fn skip_container(&mut self, depth: usize) -> Option<()> {
        // The open containers, innermost last: true for an object.
        let mut open: Vec<bool> = Vec::new();
        loop {
            // At the start of a value inside the innermost container (or the first one).
            self.ws();
            match *self.b.get(self.i)? {
                c @ (b'{' | b'[') => {
                    if depth + open.len() >= MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    let object = c == b'{';
                    open.push(object);
                    self.ws();
                    let close = if object { b'}' } else { b']' };
                    if self.b.get(self.i) == Some(&close) {
                        self.i += 1;
                        open.pop();
                    } else {
                        if object {
                            self.skip_string()?;
                            self.eat(b':')?;
                        }
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b'-' | b'0'..=b'9' => self.skip_number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return None,
            }
            // After a value: a comma and the next one, or closing brackets.
            loop {
                let Some(&object) = open.last() else {
                    return Some(());
                };
                self.ws();
                match *self.b.get(self.i)? {
                    b',' => {
                        self.i += 1;
                        if object {
                            self.ws();
                            self.skip_string()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    b'}' if object => {
                        self.i += 1;
                        open.pop();
                    }
                    b']' if !object => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }
}

struct Node<'t>(&'t Trie);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.all {
            Value::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

/// Finds a key among a node's children without allocating.
struct Key<'t>(&'t Trie);

impl<'de, 't> DeserializeSeed<'de> for Key<'t> {
    type Value = Option<(&'t str, &'t Trie)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 't> Visitor<'de> for Key<'t> {
    type Value = Option<(&'t str, &'t Trie)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.kid(v))
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(found) = map.next_key_seed(Key(self.0))? {
            match found {
                Some((name, t)) => {
                    let v = map.next_value_seed(Node(t))?;
                    out.insert(name.to_string(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    // An array where the trie expected an object is kept whole: a read such as `a.0`
    // finds its elements the same way it would in a full parse.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::def::{Agent, CompileEnv, Definition, load_str};

    fn agent(records: &str) -> Arc<Agent> {
        let yaml = format!(
            "apiVersion: tokentop/v1\nkind: Agent\nid: agent-a\nmeta: {{ name: A }}\npermissions: {{ files: ['/tmp'] }}\n\
             sources:\n  - roots: ['/tmp']\n    include: ['*.jsonl']\n    format: jsonl\n\
             records:\n{records}"
        );
        let loaded = load_str(
            &yaml,
            Path::new("t.yaml"),
            &CompileEnv {
                home: PathBuf::from("/home/u"),
            },
        );
        match loaded.def {
            Some(Definition::Agent(a)) => a,
            _ => panic!("definition did not compile: {:?}", loaded.diags),
        }
    }

    const RECORDS: &str = "  state:\n    - when: kind == 'ctx'\n      set: { m: $.payload.model }\n\
        \x20 where: type == 'reply' and msg.usage is defined and doc.flag\n  dedup: { key: [$.msg.id, '$.list[1]'] }\n\
        \x20 fields:\n    session_id: { expr: 'sid or state.m' }\n    timestamp: $.ts\n    input: $.msg.usage.in\n    model: $.msg.model\n";

    #[test]
    fn keeps_only_what_is_read() {
        let a = agent(RECORDS);
        let t = Trie::for_records(&a.sources[0].records).unwrap();
        let line = br#"{"type":"reply","ts":"t","flag":true,"list":[1,{"x":2}],"msg":{"id":"i","content":[{"text":"big \"usage\" \u00e9"}],"usage":{"in":3,"deep":{"a":1}},"model":"m"},"junk":{"a":[1,2,3]},"kind":"x","payload":{"model":"p","other":1}}"#;
        let got = t.parse(line).unwrap();
        let want = json!({
            "type": "reply", "ts": "t", "flag": true, "list": [1, {"x": 2}],
            "msg": {"id": "i", "usage": {"in": 3, "deep": {"a": 1}}, "model": "m"},
            "kind": "x", "payload": {"model": "p"}
        });
        assert_eq!(got, want);
        // An array where an object was expected is kept whole; scalars stay as they are.
        assert_eq!(
            t.parse(br#"{"msg":[1,2],"payload":"s"}"#).unwrap(),
            json!({"msg": [1, 2], "payload": "s"})
        );
        // Broken JSON is still an error, in skipped parts too.
        assert!(t.parse(br#"{"junk":{"a":[1,}, "ts":"t"}"#).is_err());
        assert!(t.parse(br#"{"ts":"t"} trailing"#).is_err());
    }

    #[test]
    fn the_walker_agrees_with_serde_json() {
        let a = agent(RECORDS);
        let t = Trie::for_records(&a.sources[0].records).unwrap();
        let deep = format!("{{\"junk\":{}1{},\"ts\":\"t\"}}", "[".repeat(150), "]".repeat(150));
        let lines: Vec<String> = [
            r#"{"type":"reply","ts":"t","msg":{"id":"i","usage":{"in":3}}}"#,
            r#"  { "type" : "reply" , "ts":"t\n\u00e9\"x" ,"msg": {"id":1.5e3,"model":null,"usage":{"in":-0.0,"d":[]}} } "#,
            r#"{"t\u0079pe":"reply","msg\"":1,"ms\\g":{},"ts":"a\/b"}"#,
            r#"{"junk":[1,{"a":[true,false,null,{}]},[],[[]],"x\\\"",-12.5E-3,0,{"k":{"k":{}}}],"ts":"t"}"#,
            r#"{"msg":[1,2],"payload":"s","kind":{"a":1}}"#,
            r#"{"ts":"dup","ts":"second","msg":{"id":"a"},"msg":{"model":"b"}}"#,
            r#"[1,{"ts":2}]"#,
            r#""just a string""#,
            "42",
            "{}",
            r#"{"payload":{"model":"m","other":[{"x":"y"}]}}"#,
            r#"{"payload":{"model":["a\n\u00e9",{"k":[1,2.5,-3,1e2,true,null,{},[]],"k":"dup"}],"x":0}}"#,
            r#"{"payload":{"model":{"a":01}}}"#,
            r#"{"payload":{"model":[1 2]}}"#,
            r#"{"msg":{"usage":{"in":12345678901234567890123,"out":0.1e-2,"n":-0}}}"#,
            "{\"ts\":\"raw\ttab\"}",
            "{\"junk\":\"raw\u{1}ctl\",\"ts\":\"t\"}",
            r#"{"junk":01,"ts":"t"}"#,
            r#"{"junk":1.,"ts":"t"}"#,
            r#"{"junk":-,"ts":"t"}"#,
            r#"{"junk":1e,"ts":"t"}"#,
            r#"{"junk":"\x","ts":"t"}"#,
            r#"{"junk":"\u12G4","ts":"t"}"#,
            r#"{"junk":tru,"ts":"t"}"#,
            r#"{"junk":[1,],"ts":"t"}"#,
            r#"{"junk":{"a":1,},"ts":"t"}"#,
            r#"{"junk":{"a" 1},"ts":"t"}"#,
            r#"{"ts":"t",}"#,
            r#"{"ts":"t"} x"#,
            r#"{"ts":"t""#,
            r#"{"ts":"#,
            r#"{"junk":"\ud800","ts":"\ud83d\ude00"}"#,
            r#"{"ts":"\ud800"}"#,
            r#"{"msg":{"usage":{"in":1e400}}}"#,
            r#"{"junk":1e400,"ts":"t"}"#,
            r#"{"type":18446744073709551615,"list":[1,{"x":-9223372036854775808}]}"#,
            "",
            "   ",
            &deep,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut walked = 0;
        for l in &lines {
            let fast = t.parse(l.as_bytes());
            let slow = t.parse_serde(l.as_bytes());
            match (&fast, &slow) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{l}"),
                (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string(), "{l}"),
                _ => panic!("{l}: walker {fast:?}, serde_json {slow:?}"),
            }
            let mut w = Walker { b: l.as_bytes(), i: 0 };
            if w.node(&t, 0).is_some() && w.ws_end() {
                walked += 1;
                assert!(slow.is_ok(), "the walker accepted what serde_json refuses: {l}");
            }
        }
        assert!(walked >= 10, "{walked}");
    }

    #[test]
    fn special_finds_the_first_quote_backslash_or_control_character() {
        let naive = |b: &[u8]| b.iter().position(|c| matches!(c, b'"' | b'\\' | 0..=0x1f));
        let mut seed = 1u64;
        for len in 0..80usize {
            for _ in 0..40 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        // Mostly ordinary text, sometimes a special byte or a high one.
                        match (seed >> 33) % 40 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (seed >> 40) as u8 % 0x20,
                            3 => 0x80 | (seed >> 40) as u8,
                            _ => b'a' + (seed >> 45) as u8 % 26,
                        }
                    })
                    .collect();
                assert_eq!(special(&bytes), naive(&bytes), "{bytes:?}");
            }
        }
    }

    #[test]
    fn no_trie_when_the_whole_line_is_needed() {
        assert!(
            Trie::for_records(
                &agent("  where: doc is defined\n  fields:\n    session_id: $.s\n    timestamp: $.t\n").sources[0]
                    .records
            )
            .is_none()
        );
        assert!(
            Trie::for_records(&agent("  fields:\n    session_id: $.s\n    timestamp: $.a[*].t\n").sources[0].records)
                .is_none()
        );
        assert!(
            Trie::for_records(
                &agent("  each: $.a\n  fields:\n    session_id: $.s\n    timestamp: $.t\n").sources[0].records
            )
            .is_none()
        );
        assert!(
            Trie::for_records(&agent("  fields:\n    session_id: $.s\n    timestamp: $\n").sources[0].records)
                .is_none()
        );
    }
}
