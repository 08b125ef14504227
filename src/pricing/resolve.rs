//! Model resolution: which catalogue entry prices a record's `(provider, model)`.
//!
//! The order, first hit wins:
//! 1. a config override keyed `provider/model` or `model`, for the exact id and then
//!    each normalised id;
//! 2. an exact (case-insensitive) id under the record's provider (through the aliases),
//!    then under providers a `vendor/` prefix named, then the fallback providers, for the
//!    exact id and then each normalised id; catalogue layers (live before snapshot) are
//!    searched for each id in turn;
//! 3. the fully normalised id equal to the fully normalised id of exactly one catalogue
//!    entry (or of several with the same price), so `model-x-1` finds
//!    `model-x-1-20250805`.
//!
//! Nothing is ever matched by substring: a miss is a miss, and shows as unpriced.

use std::collections::{BTreeMap, HashMap};

use super::catalogue::{Catalogue, ModelCost, Rates};
use super::rules::Rules;
use crate::config::PriceOverride;

/// One catalogue with its lookup indexes.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Where the prices come from, for `ttop pricing resolve` (`models.dev (fetched
    /// 2026-12-04 10:00 UTC)`, `snapshot of 2026-12-04`).
    pub source: String,
    pub catalogue: Catalogue,
    /// Provider to lower-case id to the id as written.
    exact: HashMap<String, HashMap<String, String>>,
    /// Provider to normalised id to the id as written, `None` when ambiguous.
    normalized: HashMap<String, HashMap<String, Option<String>>>,
}

impl Layer {
    pub fn new(source: impl Into<String>, catalogue: Catalogue, rules: &Rules) -> Layer {
        let mut exact: HashMap<String, HashMap<String, String>> = HashMap::new();
        let mut normalized: HashMap<String, HashMap<String, Option<String>>> = HashMap::new();
        for (provider, models) in &catalogue.providers {
            let e = exact.entry(provider.clone()).or_default();
            let n = normalized.entry(provider.clone()).or_default();
            for (id, cost) in models {
                e.entry(id.to_ascii_lowercase()).or_insert_with(|| id.clone());
                let key = rules.normalized(id);
                match n.get(&key) {
                    None => {
                        n.insert(key, Some(id.clone()));
                    }
                    Some(Some(other)) if models.get(other) != Some(cost) => {
                        n.insert(key, None);
                    }
                    Some(_) => {}
                }
            }
        }
        Layer {
            source: source.into(),
            catalogue,
            exact,
            normalized,
        }
    }

    fn get(&self, provider: &str, id: &str) -> Option<(&String, &ModelCost)> {
        let key = self.exact.get(provider)?.get(id)?;
        self.catalogue.providers.get(provider)?.get_key_value(key)
    }

    fn get_normalized(&self, provider: &str, id: &str) -> Option<(&String, &ModelCost)> {
        let key = self.normalized.get(provider)?.get(id)?.as_ref()?;
        self.catalogue.providers.get(provider)?.get_key_value(key)
    }
}

/// Where a model's price was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// The catalogue provider (or `override`).
    pub provider: String,
    /// The catalogue's model id (or the override's key).
    pub model: String,
    /// The layer, or `config override`.
    pub source: String,
    /// The normalisation rules that were needed, by name (empty for an exact match).
    pub via: Vec<String>,
    pub cost: ModelCost,
    /// The provider's 1-hour cache-write multiplier of the input price, from the rules.
    pub cache_write_1h_multiplier: Option<f64>,
}

/// Why nothing priced a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub tried_ids: Vec<String>,
    pub tried_providers: Vec<String>,
}

/// Resolves models against config overrides and catalogue layers.
#[derive(Debug, Clone)]
pub struct Pricer {
    pub rules: Rules,
    /// Searched in order: the live catalogue (fresh or cached) first, the snapshot last.
    pub layers: Vec<Layer>,
    /// Lower-case key to override.
    overrides: BTreeMap<String, (String, PriceOverride)>,
}

impl Pricer {
    pub fn new(rules: Rules, layers: Vec<Layer>, overrides: &BTreeMap<String, PriceOverride>) -> Pricer {
        Pricer {
            rules,
            layers,
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), (k.clone(), v.clone())))
                .collect(),
        }
    }

    /// The providers searched for a record's provider, in order.
    fn providers(&self, provider: Option<&str>, hints: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |p: String| {
            if !out.contains(&p) {
                out.push(p);
            }
        };
        if let Some(p) = provider.map(str::trim).filter(|p| !p.is_empty()) {
            for id in self.rules.provider_ids(p) {
                push(id);
            }
        }
        for h in hints {
            push(h.clone());
        }
        for f in &self.rules.fallback {
            push(f.clone());
        }
        out
    }

    /// Finds the price of `model` as recorded under `provider`.
    pub fn resolve(&self, provider: Option<&str>, model: &str) -> Result<Resolution, Unresolved> {
        let (candidates, hints) = self.rules.candidates(model);
        let providers = self.providers(provider, &hints);
        let found = self.find_catalogue(&candidates, &providers);
        let record_provider = provider.map(|p| p.trim().to_ascii_lowercase());

        // Overrides come first; cache prices they leave out come from the catalogue.
        for c in &candidates {
            let mut keys = Vec::new();
            if let Some(p) = &record_provider {
                keys.push(format!("{p}/{}", c.id));
            }
            keys.push(c.id.clone());
            for key in keys {
                if let Some((written, o)) = self.overrides.get(&key) {
                    let from = found.as_ref().map(|r| r.cost.clone()).unwrap_or_default();
                    let provider_id = found.as_ref().map(|r| r.provider.clone());
                    let base = Rates {
                        input: o.input,
                        output: o.output,
                        cache_read: o.cache_read.or(from.base.cache_read),
                        cache_write: o.cache_write.or(from.base.cache_write),
                        cache_write_1h: o.cache_write_1h.or(from.base.cache_write_1h),
                    };
                    return Ok(Resolution {
                        provider: provider_id.clone().unwrap_or_else(|| "override".into()),
                        model: written.clone(),
                        source: "config override".into(),
                        via: c.via.clone(),
                        cost: ModelCost { base, ..from },
                        cache_write_1h_multiplier: provider_id.and_then(|p| self.multiplier(&p)),
                    });
                }
            }
        }
        found.ok_or_else(|| Unresolved {
            tried_ids: candidates.into_iter().map(|c| c.id).collect(),
            tried_providers: providers,
        })
    }

    fn multiplier(&self, provider: &str) -> Option<f64> {
        self.rules.cache_write_1h_multiplier.get(provider).copied()
    }

    fn find_catalogue(&self, candidates: &[super::rules::Candidate], providers: &[String]) -> Option<Resolution> {
        let make = |provider: &str, layer: &Layer, id: &String, cost: &ModelCost, via: Vec<String>| Resolution {
            provider: provider.to_owned(),
            model: id.clone(),
            source: layer.source.clone(),
            via,
            cost: cost.clone(),
            cache_write_1h_multiplier: self.multiplier(provider),
        };
        for provider in providers {
            for c in candidates {
                for layer in &self.layers {
                    if let Some((id, cost)) = layer.get(provider, &c.id) {
                        return Some(make(provider, layer, id, cost, c.via.clone()));
                    }
                }
            }
        }
        let last = candidates.last()?;
        for provider in providers {
            for layer in &self.layers {
                if let Some((id, cost)) = layer.get_normalized(provider, &last.id) {
                    let mut via = last.via.clone();
                    via.push("normalised catalogue id".into());
                    return Some(make(provider, layer, id, cost, via));
                }
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn pricer(overrides: &[(&str, PriceOverride)]) -> Pricer {
        let rules = Rules::builtin().unwrap();
        let text = r#"{
          "anthropic":{"models":{
            "claude-sonnet-4-5-20250929":{"cost":{"input":3,"output":15}},
            "claude-opus-4-1-20250805":{"cost":{"input":15,"output":75}},
            "claude-3-5-sonnet-20240620":{"cost":{"input":3,"output":15}},
            "claude-3-5-sonnet-20241022":{"cost":{"input":3,"output":15}},
            "claude-x-20250101":{"cost":{"input":1,"output":2}},
            "claude-x-20250601":{"cost":{"input":2,"output":4}}}},
          "openai":{"models":{"gpt-5":{"cost":{"input":1.25,"output":10}},
                              "gpt-5.1":{"cost":{"input":1.25,"output":10}}}},
          "openrouter":{"models":{"anthropic/claude-sonnet-4.5":{"cost":{"input":3.5,"output":16}}}}}"#;
        let c = Catalogue::parse(text, &rules).unwrap();
        let layer = Layer::new("test", c, &rules);
        let o: BTreeMap<String, PriceOverride> = overrides.iter().map(|(k, v)| ((*k).into(), v.clone())).collect();
        Pricer::new(rules, vec![layer], &o)
    }

    fn hit(p: &Pricer, provider: Option<&str>, model: &str) -> (String, String) {
        let r = p.resolve(provider, model).unwrap();
        (r.provider, r.model)
    }

    #[test]
    fn exact_match_first() {
        let p = pricer(&[]);
        assert_eq!(
            hit(&p, Some("anthropic"), "claude-sonnet-4-5-20250929"),
            ("anthropic".into(), "claude-sonnet-4-5-20250929".into())
        );
        assert_eq!(hit(&p, Some("openai"), "GPT-5.1"), ("openai".into(), "gpt-5.1".into()));
        // The reseller's own price wins over the first-party one when it has the model.
        assert_eq!(
            hit(&p, Some("openrouter"), "anthropic/claude-sonnet-4.5"),
            ("openrouter".into(), "anthropic/claude-sonnet-4.5".into())
        );
    }

    #[test]
    fn normalised_ids_find_dated_entries_both_ways() {
        let p = pricer(&[]);
        let r = p.resolve(Some("github-copilot"), "claude-sonnet-4.5-thinking").unwrap();
        assert_eq!(r.model, "claude-sonnet-4-5-20250929");
        assert_eq!(
            r.via,
            vec!["-thinking suffix", "dotted version", "normalised catalogue id"]
        );
        assert_eq!(hit(&p, None, "claude-opus-4-1").1, "claude-opus-4-1-20250805");
        assert_eq!(
            hit(&p, Some("anthropic"), "claude-3-5-sonnet").1,
            "claude-3-5-sonnet-20240620"
        );
    }

    #[test]
    fn never_a_loose_or_ambiguous_match() {
        let p = pricer(&[]);
        // Two dated entries with different prices: ambiguous, so no price.
        assert!(p.resolve(Some("anthropic"), "claude-x").is_err());
        // A prefix of a known id is not that id.
        assert!(p.resolve(Some("openai"), "gpt-5.1-codex").is_err());
        assert!(p.resolve(Some("openai"), "gpt").is_err());
        let e = p.resolve(Some("anthropic"), "claude-sonnet-9").unwrap_err();
        assert_eq!(e.tried_ids, vec!["claude-sonnet-9"]);
        assert_eq!(e.tried_providers[0], "anthropic");
    }

    #[test]
    fn overrides_win_and_keep_catalogue_cache_prices() {
        let o = PriceOverride {
            input: 1.0,
            output: 2.0,
            cache_read: None,
            cache_write: Some(9.0),
            cache_write_1h: None,
        };
        let p = pricer(&[("Claude-Opus-4-1", o.clone()), ("local/my-model", o)]);
        let r = p.resolve(Some("anthropic"), "claude-opus-4-1-20250805").unwrap();
        assert_eq!(
            (r.source.as_str(), r.model.as_str()),
            ("config override", "Claude-Opus-4-1")
        );
        assert_eq!(r.cost.base.input, 1.0);
        assert_eq!(r.cost.base.cache_write, Some(9.0));
        assert_eq!(r.cache_write_1h_multiplier, Some(2.0));
        let r = p.resolve(Some("local"), "my-model").unwrap();
        assert_eq!(r.provider, "override");
        assert!(p.resolve(Some("other"), "my-model").is_err());
    }
}
