//! Agents: discover session files, read them incrementally, extract usage records and
//! commit them exactly once. Driven by compiled agent definitions only.
//!
//! **Architecture invariant:** no agent is known by name here. Everything specific to an
//! agent (where its files are, how they are stored, which keys hold the tokens) comes
//! from its definition ([`crate::def::Agent`]).
//!
//! - [`discover`]: render a source's roots (`~`, `{{ env.X }}`, comma lists), check them
//!   against the definition's permissions and walk them for the include globs.
//! - [`extract`]: one JSON unit (a line, a document, a row) → usage records, with the
//!   carried `state`, cumulative counters, `where`, fields and dedup keys.
//! - [`lazy`]: a path trie that parses only the keys a definition reads from a line.
//! - [`read`]: the three formats (`jsonl` from a byte offset, `json` documents, `sqlite`
//!   with a cursor) and how a file's fingerprint is taken.
//! - [`ingest`]: discovery → changed files → parallel parse → batched store commits.
//! - [`watch`]: file-system notifications, debounced, plus a periodic rescan tick.

pub mod discover;
pub mod extract;
pub mod ingest;
pub mod lazy;
pub mod read;
pub mod watch;

pub use extract::{dedup_in_memory, extract_files};
pub use ingest::{IngestReport, Progress, SourceError, SourceSummary, ingest};
pub use watch::{WatchEvent, WatchHandle, watch};

use crate::def::model::Keep;
use crate::engine::record::KeepRule;

/// The store's keep rule for a definition's `dedup.keep`.
pub fn keep_rule(k: Keep) -> KeepRule {
    match k {
        Keep::Largest => KeepRule::Largest,
        Keep::Last => KeepRule::Last,
        Keep::First => KeepRule::First,
    }
}

/// Warnings of one file or run: the first few messages and how many there were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    pub messages: Vec<String>,
    pub count: u64,
    cap: usize,
}

impl Warnings {
    /// At most `cap` messages are kept; all are counted.
    pub fn with_cap(cap: usize) -> Warnings {
        Warnings {
            messages: Vec::new(),
            count: 0,
            cap,
        }
    }

    pub fn push(&mut self, msg: impl Into<String>) {
        self.count += 1;
        if self.messages.len() < self.cap {
            self.messages.push(msg.into());
        }
    }

    /// Adds another set: its messages (up to the cap) and its whole count.
    pub fn absorb(&mut self, other: &Warnings) {
        self.count += other.count;
        let room = self.cap.saturating_sub(self.messages.len());
        self.messages.extend(other.messages.iter().take(room).cloned());
    }

    /// The messages, followed by a line saying how many were left out.
    pub fn into_lines(self) -> Vec<String> {
        let mut out = self.messages;
        let shown = out.len() as u64;
        if self.count > shown {
            out.push(format!("{} more warnings not shown", self.count - shown));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    #[test]
    fn warnings_are_capped_and_counted() {
        let mut w = Warnings::with_cap(2);
        for i in 0..5 {
            w.push(format!("w{i}"));
        }
        let mut all = Warnings::with_cap(3);
        all.push("first");
        all.absorb(&w);
        assert_eq!(all.count, 6);
        assert_eq!(
            all.clone().into_lines(),
            vec!["first", "w0", "w1", "3 more warnings not shown"]
        );
    }
}
