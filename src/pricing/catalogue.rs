//! Price catalogues: the models.dev shape (`{provider: {models: {model: {cost: {...}}}}}`,
//! USD per million tokens) and LiteLLM's `model_prices_and_context_window.json` shape
//! (USD per token), both read into one [`Catalogue`].
//!
//! Beyond models.dev's `cost` fields (`input`, `output`, `cache_read`, `cache_write`,
//! `context_over_200k`), ttop reads two extensions its snapshot carries:
//! `cache_write_1h` (the 1-hour cache write price) and `tiers` (`{name: {multiplier}}` or
//! `{name: {input, output, ...}}` for speed or priority tiers).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::rules::Rules;

/// Prices of one kind of request, in USD per million tokens. Missing cache prices are
/// filled when costing (see [`super::cost`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub cache_write_1h: Option<f64>,
}

/// A speed or priority tier of a model.
#[derive(Debug, Clone, PartialEq)]
pub enum Tier {
    /// Every standard rate times this.
    Multiplier(f64),
    /// Its own rates, and optionally its own long-context rates.
    Rates { base: Rates, long_context: Option<Rates> },
}

/// Everything the catalogue says about one model's price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelCost {
    pub base: Rates,
    /// Rates for a request whose prompt exceeds 200k tokens (all of its tokens).
    pub long_context: Option<Rates>,
    pub tiers: BTreeMap<String, Tier>,
}

/// Provider id (lower case) to model id (as written) to price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    pub providers: BTreeMap<String, BTreeMap<String, ModelCost>>,
}

impl Catalogue {
    /// Parses a catalogue in either shape. An input with no priced model at all is an
    /// error: that is never a real catalogue.
    pub fn parse(text: &str, rules: &Rules) -> Result<Catalogue, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(top) = value else {
            return Err("not a JSON object of providers or models".into());
        };
        let models_dev = top.values().any(|v| v.get("models").is_some_and(Value::is_object));
        let catalogue = if models_dev {
            from_models_dev(&top)
        } else if top.values().any(|v| v.get("input_cost_per_token").is_some()) {
            from_litellm(&top, rules)
        } else {
            return Err("neither the models.dev shape ({provider: {models: ...}}) nor LiteLLM's ({model: {input_cost_per_token: ...}})".into());
        };
        if catalogue.is_empty() {
            return Err("no model in it has a valid price".into());
        }
        Ok(catalogue)
    }

    /// How many models have a price.
    pub fn len(&self) -> usize {
        self.providers.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The catalogue in the models.dev shape (with ttop's extensions), for the cache.
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        for (provider, models) in &self.providers {
            let mut out = Map::new();
            for (id, cost) in models {
                let mut c = rates_json(&cost.base);
                if let Some(long) = &cost.long_context {
                    c.insert("context_over_200k".into(), Value::Object(rates_json(long)));
                }
                if !cost.tiers.is_empty() {
                    let tiers: Map<String, Value> = cost
                        .tiers
                        .iter()
                        .map(|(name, tier)| {
                            let v = match tier {
                                Tier::Multiplier(m) => json!({ "multiplier": m }),
                                Tier::Rates { base, long_context } => {
                                    let mut t = rates_json(base);
                                    if let Some(long) = long_context {
                                        t.insert("context_over_200k".into(), Value::Object(rates_json(long)));
                                    }
                                    Value::Object(t)
                                }
                            };
                            (name.clone(), v)
                        })
                        .collect();
                    c.insert("tiers".into(), Value::Object(tiers));
                }
                out.insert(id.clone(), json!({ "id": id, "cost": c }));
            }
            top.insert(provider.clone(), json!({ "id": provider, "models": out }));
        }
        Value::Object(top)
    }
}

fn rates_json(r: &Rates) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("input".into(), json!(r.input));
    m.insert("output".into(), json!(r.output));
    for (k, v) in [
        ("cache_read", r.cache_read),
        ("cache_write", r.cache_write),
        ("cache_write_1h", r.cache_write_1h),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m
}

/// A price: a finite, non-negative number.
fn price(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|p| p.is_finite() && *p >= 0.0)
}

/// `{input, output, cache_read?, cache_write?, cache_write_1h?}` per million tokens.
fn rates_models_dev(v: &Value) -> Option<Rates> {
    Some(Rates {
        input: price(v.get("input"))?,
        output: price(v.get("output"))?,
        cache_read: price(v.get("cache_read")),
        cache_write: price(v.get("cache_write")),
        cache_write_1h: price(v.get("cache_write_1h")),
    })
}

fn from_models_dev(top: &Map<String, Value>) -> Catalogue {
    let mut catalogue = Catalogue::default();
    for (provider, body) in top {
        let Some(models) = body.get("models").and_then(Value::as_object) else {
            continue;
        };
        let mut out = BTreeMap::new();
        for (id, model) in models {
            let Some(cost) = model.get("cost") else { continue };
            let Some(base) = rates_models_dev(cost) else { continue };
            let long_context = cost.get("context_over_200k").and_then(rates_models_dev);
            let mut tiers = BTreeMap::new();
            if let Some(t) = cost.get("tiers").and_then(Value::as_object) {
                for (name, tier) in t {
                    if let Some(m) = price(tier.get("multiplier")) {
                        tiers.insert(name.to_ascii_lowercase(), Tier::Multiplier(m));
                    } else if let Some(base) = rates_models_dev(tier) {
                        let long_context = tier.get("context_over_200k").and_then(rates_models_dev);
                        tiers.insert(name.to_ascii_lowercase(), Tier::Rates { base, long_context });
                    }
                }
            }
            out.insert(
                id.clone(),
                ModelCost {
                    base,
                    long_context,
                    tiers,
                },
            );
        }
        if !out.is_empty() {
            catalogue.providers.insert(provider.to_ascii_lowercase(), out);
        }
    }
    catalogue
}

/// LiteLLM's per-token fields with a suffix (`""`, `_above_200k_tokens`, `_priority`).
fn rates_litellm(v: &Value, suffix: &str) -> Option<Rates> {
    let get = |name: &str| price(v.get(format!("{name}{suffix}"))).map(per_million);
    Some(Rates {
        input: get("input_cost_per_token")?,
        output: get("output_cost_per_token")?,
        cache_read: get("cache_read_input_token_cost"),
        cache_write: get("cache_creation_input_token_cost"),
        cache_write_1h: if suffix.is_empty() {
            get("cache_creation_input_token_cost_above_1hr")
        } else {
            None
        },
    })
}

/// USD per token to USD per million tokens, rounded to 10 significant digits so
/// `3e-6` becomes exactly `3.0`.
fn per_million(p: f64) -> f64 {
    let v = p * 1_000_000.0;
    if v == 0.0 {
        return 0.0;
    }
    let digits = 10 - (v.abs().log10().floor() as i32) - 1;
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

fn from_litellm(top: &Map<String, Value>, rules: &Rules) -> Catalogue {
    let mut catalogue = Catalogue::default();
    for (key, entry) in top {
        let Some(litellm_provider) = entry.get("litellm_provider").and_then(Value::as_str) else {
            continue;
        };
        let Some(provider) = rules.litellm_providers.get(&litellm_provider.to_ascii_lowercase()) else {
            continue;
        };
        let mode = entry.get("mode").and_then(Value::as_str).unwrap_or("chat");
        if !matches!(mode, "chat" | "responses" | "completion") {
            continue;
        }
        let Some(base) = rates_litellm(entry, "") else { continue };
        let long_context = rates_litellm(entry, "_above_200k_tokens");
        let mut tiers = BTreeMap::new();
        if let Some(priority) = rates_litellm(entry, "_priority") {
            tiers.insert(
                "priority".to_owned(),
                Tier::Rates {
                    base: priority,
                    long_context: rates_litellm(entry, "_above_200k_tokens_priority"),
                },
            );
        }
        if let Some(fast) = price(entry.get("provider_specific_entry").and_then(|p| p.get("fast"))) {
            tiers.insert("fast".to_owned(), Tier::Multiplier(fast));
        }
        let id = key
            .strip_prefix(&format!("{litellm_provider}/"))
            .unwrap_or(key)
            .to_owned();
        catalogue.providers.entry(provider.clone()).or_default().insert(
            id,
            ModelCost {
                base,
                long_context,
                tiers,
            },
        );
    }
    catalogue
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly on purpose.
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::builtin().unwrap()
    }

    #[test]
    fn reads_the_models_dev_shape() {
        let text = r#"{"anthropic":{"id":"anthropic","name":"Anthropic","models":{
            "claude-x":{"id":"claude-x","cost":{"input":3,"output":15,"cache_read":0.3,"cache_write":3.75,
              "context_over_200k":{"input":6,"output":22.5,"cache_read":0.6,"cache_write":7.5}}},
            "free-ish":{"id":"free-ish"},
            "bad":{"cost":{"input":-1,"output":2}}}}}"#;
        let c = Catalogue::parse(text, &rules()).unwrap();
        assert_eq!(c.len(), 1);
        let m = &c.providers["anthropic"]["claude-x"];
        assert_eq!(m.base.cache_write, Some(3.75));
        assert_eq!(m.long_context.unwrap().output, 22.5);
    }

    #[test]
    fn reads_the_litellm_shape() {
        let text = r#"{"sample_spec":{"input_cost_per_token":0},
            "claude-x":{"litellm_provider":"anthropic","mode":"chat","input_cost_per_token":3e-6,
              "output_cost_per_token":1.5e-5,"cache_read_input_token_cost":3e-7,
              "cache_creation_input_token_cost":3.75e-6,"cache_creation_input_token_cost_above_1hr":6e-6,
              "provider_specific_entry":{"fast":6}},
            "gemini/gem-y":{"litellm_provider":"gemini","mode":"chat","input_cost_per_token":1.25e-6,
              "output_cost_per_token":1e-5,"input_cost_per_token_above_200k_tokens":2.5e-6,
              "output_cost_per_token_above_200k_tokens":1.5e-5},
            "emb":{"litellm_provider":"openai","mode":"embedding","input_cost_per_token":1e-7,"output_cost_per_token":0}}"#;
        let c = Catalogue::parse(text, &rules()).unwrap();
        assert_eq!(c.len(), 2);
        let m = &c.providers["anthropic"]["claude-x"];
        assert_eq!(
            m.base,
            Rates {
                input: 3.0,
                output: 15.0,
                cache_read: Some(0.3),
                cache_write: Some(3.75),
                cache_write_1h: Some(6.0)
            }
        );
        assert_eq!(m.tiers["fast"], Tier::Multiplier(6.0));
        let g = &c.providers["google"]["gem-y"];
        assert_eq!(g.long_context.unwrap().input, 2.5);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let r = rules();
        assert!(Catalogue::parse("<html>", &r).unwrap_err().starts_with("not JSON"));
        assert_eq!(
            Catalogue::parse("[1,2]", &r).unwrap_err(),
            "not a JSON object of providers or models"
        );
        assert!(
            Catalogue::parse(r#"{"a":{"b":1}}"#, &r)
                .unwrap_err()
                .starts_with("neither")
        );
        assert_eq!(
            Catalogue::parse(r#"{"a":{"models":{"m":{"cost":{"input":"x"}}}}}"#, &r).unwrap_err(),
            "no model in it has a valid price"
        );
    }

    #[test]
    fn round_trips_through_the_cache_shape() {
        let snapshot =
            std::str::from_utf8(crate::def::registry::builtin_file(super::super::rules::SNAPSHOT_FILE).unwrap())
                .unwrap();
        let c = Catalogue::parse(snapshot, &rules()).unwrap();
        assert!(c.len() > 100);
        let again = Catalogue::parse(&c.to_json().to_string(), &rules()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn per_million_is_exact_for_usual_prices() {
        assert_eq!(per_million(3e-6), 3.0);
        assert_eq!(per_million(3.75e-6), 3.75);
        assert_eq!(per_million(1.25e-7), 0.125);
        assert_eq!(per_million(0.0), 0.0);
    }
}
