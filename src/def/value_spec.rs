//! `ValueSpec`: how a definition says where a value comes from.
//!
//! A bare string is a JSONPath. An object takes exactly one source (`path`, `expr`,
//! `const` or `from`) and optional steps applied in this order: `reduce` (many matches to
//! one), `default` (when the source gives nothing), `map` (a lookup table), `type`
//! (conversion), `clamp`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::loc::{Loc, Pos};

/// Conversions a value can go through. Timestamps become Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    String,
    Number,
    Integer,
    Bool,
    /// An RFC 3339 / ISO 8601 timestamp, any number of fractional digits.
    Rfc3339,
    /// Seconds since the Unix epoch.
    EpochS,
    /// Milliseconds since the Unix epoch.
    EpochMs,
    /// Any of the above timestamp forms: a string is parsed as RFC 3339, a number
    /// below 10^11 is seconds, above is milliseconds.
    Timestamp,
    /// A timestamp in the strftime `format` given beside it (UTC unless it has an offset).
    Datetime,
}

/// How every match of a `path` (or every element of a list an `expr` gives) becomes one
/// value. Numbers only for `sum`, `min` and `max`; nothing matched gives no value (so
/// `default` applies), except `count`, which gives 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reduce {
    Sum,
    Min,
    Max,
    Count,
    First,
    Last,
}

/// Values that come from where a record was found rather than from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FromKind {
    /// The file's full path.
    FilePath,
    /// The file name with its extension.
    FileName,
    /// The file name without its extension.
    FileStem,
    /// The name of the directory holding the file.
    ParentDir,
    /// The name of the directory above that.
    GrandparentDir,
}

/// The object form of a value.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueObj {
    /// JSONPath (RFC 9535) into the current record; `@` starts at the current `item`.
    #[serde(default)]
    pub path: Option<Loc<String>>,
    /// A minijinja expression.
    #[serde(default)]
    pub expr: Option<Loc<String>>,
    /// A constant.
    #[serde(default, rename = "const")]
    pub constant: Option<Loc<serde_json::Value>>,
    /// A value from the file's location.
    #[serde(default)]
    pub from: Option<Loc<FromKind>>,
    /// Combine every match of `path` (or every element of an `expr` list) into one value:
    /// `sum`, `min`, `max`, `count`, `first`, `last`.
    #[serde(default)]
    pub reduce: Option<Loc<Reduce>>,
    /// Used when the source gives nothing (missing or null).
    #[serde(default)]
    pub default: Option<Loc<serde_json::Value>>,
    /// Lookup table applied to the value (as a string); values not in it pass unchanged.
    #[serde(default)]
    pub map: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, rename = "type")]
    pub ty: Option<Loc<ValueType>>,
    /// strftime format for `type: datetime`.
    #[serde(default)]
    pub format: Option<Loc<String>>,
    /// `[min, max]` applied to a number.
    #[serde(default)]
    pub clamp: Option<Loc<[f64; 2]>>,
}

/// A value as written: a JSONPath string, or an object.
#[derive(Debug, Clone)]
pub struct ValueSpec {
    pub pos: Pos,
    pub obj: ValueObj,
}

impl ValueSpec {
    /// A plain JSONPath, as made in code.
    pub fn path(p: &str) -> Self {
        ValueSpec {
            pos: Pos::UNKNOWN,
            obj: ValueObj {
                path: Some(Loc::new(p.to_string())),
                ..ValueObj::default()
            },
        }
    }
}

enum Raw {
    Path(String),
    Obj(Box<ValueObj>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSONPath string or an object with one of path, expr, const, from")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Path(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Raw, A::Error> {
                ValueObj::deserialize(de::value::MapAccessDeserializer::new(map)).map(|o| Raw::Obj(Box::new(o)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ValueSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Loc::<Raw>::deserialize(d)?;
        let obj = match raw.value {
            Raw::Path(p) => ValueObj {
                path: Some(Loc::at(p, raw.pos)),
                ..ValueObj::default()
            },
            Raw::Obj(o) => *o,
        };
        Ok(ValueSpec { pos: raw.pos, obj })
    }
}

impl JsonSchema for ValueSpec {
    fn schema_name() -> Cow<'static, str> {
        "ValueSpec".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let obj = generator.subschema_for::<ValueObj>();
        json_schema!({
            "description": "A JSONPath string, or an object with one source (path, expr, const, from) and optional default, map, type, format, clamp.",
            "oneOf": [
                { "type": "string", "description": "A JSONPath (RFC 9535) into the current record." },
                obj
            ]
        })
    }
}
