//! A path trie that parses only what a definition reads.
//!
//! Most of a session line's bytes are message text no definition looks at, and building
//! a `serde_json::Value` for it costs allocations that are thrown away at once. The trie
//! holds every key path the records of a source can read (the plain JSONPaths of its
//! values, the dotted paths its expressions read, `doc.x` as `x`); a
//! [`serde::de::DeserializeSeed`] walks the line and materialises only those keys, skipping
//! the rest with `IgnoredAny` (still validated, so a broken line is still an error).
//!
//! The result is indistinguishable to the definition: every path it reads finds the same
//! value it would find in the full parse. When that cannot be promised (a JSONPath with
//! wildcards or filters, `each`, an expression reading `doc` whole), no trie is built and
//! lines are parsed whole.

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
    pub fn parse(&self, bytes: &[u8]) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let v = Node(self).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
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
