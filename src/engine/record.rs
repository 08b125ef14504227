//! The normalised usage record every agent definition produces, and the per-file read
//! position the store keeps next to it.

use serde::{Deserialize, Serialize};

/// Token counts of one request. `input` is non-cached input; `output` is billed output
/// with reasoning included; `reasoning` is the reasoning part of `output`;
/// `cache_write_1h` is the part of `cache_write` written with a 1-hour lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
}

impl Tokens {
    /// Every billed token: input + output + cache read + cache write.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }

    pub fn is_zero(&self) -> bool {
        self.total() == 0 && self.reasoning == 0
    }
}

/// Which record of a duplicate set the store keeps (mirrors `def::model::Keep`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepRule {
    /// Most total tokens wins; the timestamp is the earliest of the set.
    Largest,
    /// The record written last wins.
    #[default]
    Last,
    /// The record written first wins.
    First,
}

/// One request's usage, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Agent definition id.
    pub agent: String,
    /// Unique per agent: two records with the same key are the same request.
    pub dedup_key: String,
    pub session_id: String,
    /// Unix milliseconds, UTC.
    pub ts_ms: i64,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub project: Option<String>,
    pub session_name: Option<String>,
    pub tokens: Tokens,
    /// Cost in USD as the agent recorded it.
    pub cost_reported: Option<f64>,
    pub duration_ms: Option<u64>,
    /// Service tier or speed as the agent recorded it.
    pub speed: Option<String>,
    /// The file the record was read from (for `doctor` and debugging; not part of identity).
    pub source_path: String,
}
