//! The pricing rules: where the live catalogue is, provider aliases, model-id
//! normalisation and speed tiers. They are data (`definitions/pricing/pricing.toml`,
//! embedded), so no provider or model name lives in code.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use crate::config::HumanDuration;
use crate::def::registry::builtin_file;

/// The embedded rules file, relative to `definitions/`.
pub const RULES_FILE: &str = "pricing/pricing.toml";

/// The embedded offline catalogue, relative to `definitions/`.
pub const SNAPSHOT_FILE: &str = "pricing/snapshot.json";

/// The rules file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    catalogue: CatalogueFile,
    #[serde(default)]
    providers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    search: SearchFile,
    #[serde(default)]
    normalize: Vec<NormalizeFile>,
    #[serde(default)]
    speed: BTreeMap<String, String>,
    #[serde(default)]
    cache_write_1h_multiplier: BTreeMap<String, f64>,
    #[serde(default)]
    litellm_providers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    url: String,
    timeout: HumanDuration,
    retry_after: HumanDuration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchFile {
    #[serde(default)]
    fallback: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeFile {
    name: String,
    pattern: String,
    #[serde(default)]
    replace: String,
    #[serde(default)]
    vendor_hint: bool,
}

/// One model-id rewrite.
#[derive(Debug, Clone)]
pub struct NormalizeRule {
    /// Shown by `ttop pricing resolve` when the rule was needed.
    pub name: String,
    pub pattern: Regex,
    pub replace: String,
    /// The text the rule removes names a vendor, which becomes a provider hint.
    pub vendor_hint: bool,
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct Rules {
    pub catalogue_url: String,
    pub fetch_timeout: Duration,
    pub retry_after: Duration,
    /// Lower-case agent provider id to catalogue provider ids.
    pub providers: BTreeMap<String, Vec<String>>,
    /// Catalogue providers searched after the record's own.
    pub fallback: Vec<String>,
    pub normalize: Vec<NormalizeRule>,
    /// Lower-case speed value to tier name (`""` is the standard rates).
    pub speed: BTreeMap<String, String>,
    pub cache_write_1h_multiplier: BTreeMap<String, f64>,
    pub litellm_providers: BTreeMap<String, String>,
}

/// One rewrite step of a model id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The lower-case id after this step.
    pub id: String,
    /// The rules applied so far, by name.
    pub via: Vec<String>,
}

impl Rules {
    /// The rules shipped in the binary.
    pub fn builtin() -> Result<Rules, String> {
        let bytes = builtin_file(RULES_FILE).ok_or_else(|| format!("the built-in '{RULES_FILE}' is missing"))?;
        let text = std::str::from_utf8(bytes).map_err(|e| format!("'{RULES_FILE}' is not UTF-8: {e}"))?;
        Rules::parse(text).map_err(|e| format!("'{RULES_FILE}': {e}"))
    }

    /// Parses and compiles a rules file.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let file: RulesFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut normalize = Vec::with_capacity(file.normalize.len());
        for rule in file.normalize {
            let pattern = Regex::new(&rule.pattern)
                .map_err(|e| format!("normalize rule '{}': bad pattern '{}': {e}", rule.name, rule.pattern))?;
            normalize.push(NormalizeRule {
                name: rule.name,
                pattern,
                replace: rule.replace,
                vendor_hint: rule.vendor_hint,
            });
        }
        let lower = |m: BTreeMap<String, Vec<String>>| {
            m.into_iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.into_iter().map(|p| p.to_ascii_lowercase()).collect(),
                    )
                })
                .collect()
        };
        for (provider, multiplier) in &file.cache_write_1h_multiplier {
            if !(multiplier.is_finite() && *multiplier >= 0.0) {
                return Err(format!(
                    "cache_write_1h_multiplier.{provider}: '{multiplier}' is not a price multiplier"
                ));
            }
        }
        Ok(Rules {
            catalogue_url: file.catalogue.url,
            fetch_timeout: file.catalogue.timeout.get(),
            retry_after: file.catalogue.retry_after.get(),
            providers: lower(file.providers),
            fallback: file
                .search
                .fallback
                .into_iter()
                .map(|p| p.to_ascii_lowercase())
                .collect(),
            normalize,
            speed: file
                .speed
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            cache_write_1h_multiplier: file
                .cache_write_1h_multiplier
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            litellm_providers: file
                .litellm_providers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_ascii_lowercase()))
                .collect(),
        })
    }

    /// The catalogue providers an agent's provider id stands for (itself when no alias
    /// names it).
    pub fn provider_ids(&self, provider: &str) -> Vec<String> {
        let provider = provider.to_ascii_lowercase();
        match self.providers.get(&provider) {
            Some(ids) => ids.clone(),
            None => vec![provider],
        }
    }

    /// The exact id (lower-cased) and then every id the normalisation rules make of it,
    /// in order, without repeats; plus the provider hints vendor prefixes gave.
    pub fn candidates(&self, model: &str) -> (Vec<Candidate>, Vec<String>) {
        let mut id = model.trim().to_ascii_lowercase();
        let mut out = vec![Candidate {
            id: id.clone(),
            via: Vec::new(),
        }];
        let mut via: Vec<String> = Vec::new();
        let mut hints: Vec<String> = Vec::new();
        for rule in &self.normalize {
            if rule.vendor_hint
                && let Some(found) = rule.pattern.find(&id)
            {
                for vendor in found.as_str().split('/').filter(|s| !s.is_empty()) {
                    for p in self.provider_ids(vendor) {
                        if !hints.contains(&p) {
                            hints.push(p);
                        }
                    }
                }
            }
            let next = rule.pattern.replace_all(&id, rule.replace.as_str()).into_owned();
            if next != id && !next.is_empty() {
                id = next;
                via.push(rule.name.clone());
                if !out.iter().any(|c| c.id == id) {
                    out.push(Candidate {
                        id: id.clone(),
                        via: via.clone(),
                    });
                }
            }
        }
        (out, hints)
    }

    /// The id every rule makes of `model` (used to index catalogue ids).
    pub fn normalized(&self, model: &str) -> String {
        let (candidates, _) = self.candidates(model);
        candidates.last().map(|c| c.id.clone()).unwrap_or_default()
    }

    /// The tier a record's speed asks for: `Ok(None)` for the standard rates, `Err` for
    /// a value the rules do not know.
    pub fn tier_of(&self, speed: Option<&str>) -> Result<Option<String>, String> {
        let Some(speed) = speed.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        match self.speed.get(&speed.to_ascii_lowercase()) {
            Some(tier) if tier.is_empty() => Ok(None),
            Some(tier) => Ok(Some(tier.clone())),
            None => Err(speed.to_owned()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn ids(rules: &Rules, model: &str) -> Vec<String> {
        rules.candidates(model).0.into_iter().map(|c| c.id).collect()
    }

    #[test]
    fn builtin_rules_compile() {
        let rules = Rules::builtin().unwrap();
        assert!(rules.catalogue_url.starts_with("https://"));
        assert!(!rules.normalize.is_empty());
    }

    #[test]
    fn candidates_strip_in_order_and_never_shorten_to_a_prefix() {
        let rules = Rules::builtin().unwrap();
        assert_eq!(
            ids(&rules, "Claude-Sonnet-4.5-20250929"),
            vec!["claude-sonnet-4.5-20250929", "claude-sonnet-4.5", "claude-sonnet-4-5"]
        );
        assert_eq!(
            ids(&rules, "anthropic/claude-opus-4-1@20250805"),
            vec![
                "anthropic/claude-opus-4-1@20250805",
                "claude-opus-4-1@20250805",
                "claude-opus-4-1"
            ]
        );
        assert_eq!(
            ids(&rules, "claude-sonnet-4-5-thinking"),
            vec!["claude-sonnet-4-5-thinking", "claude-sonnet-4-5"]
        );
        assert_eq!(ids(&rules, "gpt-5.1-codex"), vec!["gpt-5.1-codex", "gpt-5-1-codex"]);
        assert_eq!(
            ids(&rules, "us.anthropic.claude-sonnet-4-20250514-v1:0"),
            vec![
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                "claude-sonnet-4-20250514-v1:0",
                "claude-sonnet-4-20250514",
                "claude-sonnet-4"
            ]
        );
        let (_, hints) = rules.candidates("google/gemini-2.5-pro");
        assert_eq!(hints, vec!["google"]);
    }

    #[test]
    fn speeds_map_to_tiers() {
        let rules = Rules::builtin().unwrap();
        assert_eq!(rules.tier_of(None), Ok(None));
        assert_eq!(rules.tier_of(Some("standard")), Ok(None));
        assert_eq!(rules.tier_of(Some("Fast")), Ok(Some("fast".into())));
        assert_eq!(rules.tier_of(Some("warp")), Err("warp".into()));
    }

    #[test]
    fn bad_rules_are_clear_errors() {
        let base = "[catalogue]\nurl = 'https://x.test/a.json'\ntimeout = '3s'\nretry_after = '1m'\n";
        let e = Rules::parse(&format!("{base}[[normalize]]\nname = 'n'\npattern = '('\n")).unwrap_err();
        assert!(e.starts_with("normalize rule 'n': bad pattern '('"), "{e}");
        let e = Rules::parse(&format!("{base}[cache_write_1h_multiplier]\nx = -1.0\n")).unwrap_err();
        assert_eq!(e, "cache_write_1h_multiplier.x: '-1' is not a price multiplier");
    }
}
