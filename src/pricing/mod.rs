//! Pricing: what the tokens in a report cost.
//!
//! - [`rules`]: the data that drives everything (`definitions/pricing/pricing.toml`):
//!   catalogue URL, provider aliases, model-id normalisation, speed tiers.
//! - [`catalogue`]: the models.dev and LiteLLM catalogue shapes, read into one type.
//! - [`source`]: the live catalogue with its on-disk cache and TTL, the stale cache
//!   when offline, the embedded snapshot underneath.
//! - [`resolve`]: which entry prices a `(provider, model)`; config overrides first,
//!   exact ids before normalised ones, never a substring match.
//! - [`cost`]: the cost of tokens at a price (components, long context, tiers).
//! - [`cli`]: `ttop pricing ...`.
//!
//! Costs are computed at query time from stored tokens, so a price change re-prices
//! history. [`price_report`] fills a report's `cost_usd`, breakdown and unpriced tokens.

pub mod catalogue;
pub mod cli;
pub mod cost;
pub mod resolve;
pub mod rules;
pub mod source;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::{CostBreakdown, Report, ReportRow, UsagePart};
use cost::Components;
use resolve::{Pricer, Resolution};

/// Which cost a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CostMode {
    /// Computed from tokens and prices, ignoring what agents reported.
    Calculate,
    /// Only what agents reported; records without a reported cost are unpriced.
    Reported,
    /// The reported cost where there is one, the computed cost elsewhere.
    #[default]
    Auto,
}

/// What a report's pricing found worth telling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// `(provider, model)` pairs with no price, and their tokens.
    pub unpriced: BTreeMap<(Option<String>, Option<String>), u64>,
    /// Speed tiers a model had no price for: `(model, tier)`.
    pub missing_tiers: BTreeSet<(String, String)>,
    /// Speed values the rules do not know.
    pub unknown_speeds: BTreeSet<String>,
    /// `--cost-mode reported`: "unpriced" means "no cost was reported".
    pub reported_only: bool,
}

impl Summary {
    /// The lines for stderr.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.unpriced.is_empty() {
            let tokens: u64 = self.unpriced.values().sum();
            let names: Vec<String> = self
                .unpriced
                .keys()
                .map(|(provider, model)| {
                    let model = model.as_deref().unwrap_or("(no model)");
                    match provider {
                        Some(p) => format!("'{model}' (provider '{p}')"),
                        None => format!("'{model}'"),
                    }
                })
                .collect();
            let plural = if names.len() == 1 { "" } else { "s" };
            if self.reported_only {
                out.push(format!(
                    "no reported cost for {} model{plural} ({tokens} tokens, shown as cost '-' and left out of the totals): {}; \
                     '--cost-mode auto' prices them",
                    names.len(),
                    names.join(", ")
                ));
            } else {
                out.push(format!(
                    "no price for {} model{plural} ({tokens} tokens, shown as cost '-' and left out of the totals): {}; \
                     add them under [pricing.overrides] in config.toml, or see 'ttop pricing resolve MODEL'",
                    names.len(),
                    names.join(", ")
                ));
            }
        }
        for (model, tier) in &self.missing_tiers {
            out.push(format!(
                "model '{model}' has no '{tier}' tier price; its '{tier}' requests are priced at the standard rates"
            ));
        }
        for speed in &self.unknown_speeds {
            out.push(format!(
                "speed '{speed}' is not in the pricing rules; those requests are priced at the standard rates"
            ));
        }
        out
    }
}

/// Prices parts, remembering each `(provider, model)` resolution.
pub struct PartPricer<'a> {
    pricer: &'a Pricer,
    mode: CostMode,
    memo: HashMap<(Option<String>, Option<String>), Option<Resolution>>,
    pub summary: Summary,
}

/// The price of one part: `None` when it has none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartCost {
    pub components: Components,
    pub reported: f64,
}

impl PartCost {
    pub fn total(&self) -> f64 {
        self.components.total() + self.reported
    }
}

impl<'a> PartPricer<'a> {
    pub fn new(pricer: &'a Pricer, mode: CostMode) -> PartPricer<'a> {
        PartPricer {
            pricer,
            mode,
            memo: HashMap::new(),
            summary: Summary::default(),
        }
    }

    fn resolution(&mut self, part: &UsagePart) -> Option<Resolution> {
        let key = (part.provider.clone(), part.model.clone());
        if let Some(r) = self.memo.get(&key) {
            return r.clone();
        }
        let r = part
            .model
            .as_deref()
            .and_then(|m| self.pricer.resolve(part.provider.as_deref(), m).ok());
        self.memo.insert(key, r.clone());
        r
    }

    /// The cost of a part, or `None` (and a note in the summary) when it has no price.
    pub fn price(&mut self, part: &UsagePart) -> Option<PartCost> {
        let use_reported = match self.mode {
            CostMode::Calculate => false,
            CostMode::Reported | CostMode::Auto => part.cost_reported.is_some(),
        };
        if use_reported {
            return part.cost_reported.map(|reported| PartCost {
                components: Components::default(),
                reported,
            });
        }
        let priced = if self.mode == CostMode::Reported {
            None
        } else {
            self.resolution(part)
        };
        let Some(res) = priced else {
            *self
                .summary
                .unpriced
                .entry((part.provider.clone(), part.model.clone()))
                .or_default() += part.tokens.total();
            return None;
        };
        let tier = match self.pricer.rules.tier_of(part.speed.as_deref()) {
            Ok(t) => t,
            Err(unknown) => {
                self.summary.unknown_speeds.insert(unknown);
                None
            }
        };
        let (rates, missing) = cost::effective(&res, part.long_context, tier.as_deref());
        if let Some(t) = missing {
            self.summary.missing_tiers.insert((res.model.clone(), t));
        }
        Some(PartCost {
            components: cost::components(&part.tokens, &rates),
            reported: 0.0,
        })
    }

    /// Fills a row's cost, breakdown and unpriced tokens from its parts.
    pub fn price_row(&mut self, row: &mut ReportRow, partial_total: bool) {
        let mut breakdown = CostBreakdown::default();
        let mut unpriced = 0;
        let mut priced_tokens = 0;
        for part in &row.parts {
            match self.price(part) {
                Some(c) => {
                    breakdown.input += c.components.input;
                    breakdown.output += c.components.output;
                    breakdown.cache_read += c.components.cache_read;
                    breakdown.cache_write += c.components.cache_write;
                    breakdown.cache_write_1h += c.components.cache_write_1h;
                    breakdown.reported += c.reported;
                    priced_tokens += part.tokens.total();
                }
                None => unpriced += part.tokens.total(),
            }
        }
        let total = breakdown.input
            + breakdown.output
            + breakdown.cache_read
            + breakdown.cache_write
            + breakdown.cache_write_1h
            + breakdown.reported;
        row.unpriced_tokens = unpriced;
        row.cost_breakdown = Some(breakdown);
        // A row with unpriced tokens has no honest total; the grand total is the sum of
        // what is priced, and says how much is not.
        row.cost_usd = if unpriced == 0 || (partial_total && priced_tokens > 0) {
            Some(total)
        } else {
            None
        };
    }
}

/// Fills `cost_usd`, the breakdown and the unpriced tokens of every row and the totals.
pub fn price_report(report: &mut Report, pricer: &Pricer, mode: CostMode) -> Summary {
    let mut p = PartPricer::new(pricer, mode);
    for row in &mut report.rows {
        p.price_row(row, false);
    }
    // The totals hold the same parts as the rows: the summary comes from them alone.
    p.summary = Summary {
        reported_only: mode == CostMode::Reported,
        ..Summary::default()
    };
    p.price_row(&mut report.totals, true);
    p.summary
}
