//! Redaction: secrets (credential values, `type: secret` config values) never reach an
//! error, a log line, `--json` output or the store.
//!
//! Every text a fetch produces passes through [`Redactor::apply`], which replaces each
//! known secret, and its URL-encoded and base64 forms, with `[redacted]`.

use base64::Engine as _;
use serde_json::Value;

/// The replacement text.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not redacted: they would blank out ordinary words.
const MIN_LEN: usize = 4;

/// Credential fields that are not secret.
pub const PUBLIC_FIELDS: &[&str] = &["expires_at", "plan"];

/// The secrets of one fetch.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Adds a secret (and the forms it is usually sent in).
    pub fn add(&mut self, secret: &str) {
        let s = secret.trim();
        if s.len() < MIN_LEN {
            return;
        }
        let forms = [
            s.to_string(),
            crate::engine::provider::request::urlencode(s),
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
        ];
        for f in forms {
            if !self.secrets.contains(&f) {
                self.secrets.push(f);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        self.secrets.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }

    /// Adds every secret field of a credential (all but [`PUBLIC_FIELDS`]).
    pub fn add_credential(&mut self, cred: &serde_json::Map<String, Value>) {
        for (k, v) in cred {
            if PUBLIC_FIELDS.contains(&k.as_str()) {
                continue;
            }
            match v {
                Value::String(s) => self.add(s),
                Value::Number(n) => self.add(&n.to_string()),
                _ => {}
            }
        }
    }

    /// The text with every secret replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts every string inside a JSON value.
    pub fn apply_json(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                let r = self.apply(s);
                if r != *s {
                    *s = r;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.apply_json(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.apply_json(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    #[test]
    fn replaces_secrets_and_their_encodings() {
        let mut r = Redactor::default();
        r.add("sk-test-abc/123");
        r.add("ab");
        let text = "token sk-test-abc/123 in query sk-test-abc%2F123, short ab stays";
        assert_eq!(r.apply(text), "token [redacted] in query [redacted], short ab stays");
    }
}
