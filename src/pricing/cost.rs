//! The cost of a bundle of tokens at a resolved price.
//!
//! The rules, per request (a [`crate::store::UsagePart`] holds requests that agree on
//! all of them):
//! - input, output (reasoning included), cache read and cache write are priced
//!   separately; the 1-hour part of the cache writes at the 1-hour price;
//! - a long-context request (input + cache read + cache write above
//!   [`crate::store::LONG_CONTEXT_THRESHOLD`]) pays the long-context rates on **every**
//!   token when the model has them, as providers with long-context prices bill it;
//! - a speed tier (`fast`, `priority`) replaces or multiplies the rates.
//!
//! Missing prices are filled so no token is ever free by accident: a long-context or
//! tier rate the catalogue leaves out is the standard one scaled like the input price;
//! a missing cache-read or cache-write price is the input price; a missing 1-hour price
//! is the provider's multiple of the input price (the rules) or else the 5-minute one.

use super::catalogue::{Rates, Tier};
use super::resolve::Resolution;
use crate::engine::record::Tokens;

/// Dollars per token kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Components {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    /// 5-minute cache writes.
    pub cache_write: f64,
    pub cache_write_1h: f64,
}

impl Components {
    pub fn total(&self) -> f64 {
        self.input + self.output + self.cache_read + self.cache_write + self.cache_write_1h
    }

    pub fn add(&mut self, other: &Components) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.cache_write_1h += other.cache_write_1h;
    }
}

/// The rates that apply, every one filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effective {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
    pub cache_write_1h: f64,
}

/// `rates` with its gaps filled from `reference` scaled by the input ratio.
fn fill(rates: Rates, reference: &Rates) -> Rates {
    let ratio = if reference.input > 0.0 {
        rates.input / reference.input
    } else {
        1.0
    };
    Rates {
        cache_read: rates.cache_read.or(reference.cache_read.map(|p| p * ratio)),
        cache_write: rates.cache_write.or(reference.cache_write.map(|p| p * ratio)),
        cache_write_1h: rates.cache_write_1h.or(reference.cache_write_1h.map(|p| p * ratio)),
        ..rates
    }
}

fn scale(rates: Rates, m: f64) -> Rates {
    Rates {
        input: rates.input * m,
        output: rates.output * m,
        cache_read: rates.cache_read.map(|p| p * m),
        cache_write: rates.cache_write.map(|p| p * m),
        cache_write_1h: rates.cache_write_1h.map(|p| p * m),
    }
}

/// The rates for a request: long context or not, in a tier or not. `Err` names a tier
/// the model has no price for (the standard rates are returned with it).
pub fn effective(res: &Resolution, long_context: bool, tier: Option<&str>) -> (Effective, Option<String>) {
    let cost = &res.cost;
    let base = cost.base;
    let long = cost.long_context.map(|l| fill(l, &base));
    let standard = match long {
        Some(l) if long_context => l,
        _ => base,
    };
    let mut missing = None;
    let rates = match tier {
        None => standard,
        Some(name) => match cost.tiers.get(name) {
            Some(Tier::Multiplier(m)) => scale(standard, *m),
            Some(Tier::Rates {
                base: tier_base,
                long_context: tier_long,
            }) => {
                let tier_base = fill(*tier_base, &base);
                match (long_context, tier_long, long) {
                    (true, Some(tl), _) => fill(*tl, &tier_base),
                    // No long-context price for the tier: scale the tier like the
                    // standard rates scale for long context.
                    (true, None, Some(l)) if base.input > 0.0 => fill(scale(tier_base, l.input / base.input), &l),
                    _ => tier_base,
                }
            }
            None => {
                missing = Some(name.to_owned());
                standard
            }
        },
    };
    let cache_write = rates.cache_write.unwrap_or(rates.input);
    let cache_write_1h = rates
        .cache_write_1h
        .or(res.cache_write_1h_multiplier.map(|m| m * rates.input))
        .unwrap_or(cache_write);
    (
        Effective {
            input: rates.input,
            output: rates.output,
            cache_read: rates.cache_read.unwrap_or(rates.input),
            cache_write,
            cache_write_1h,
        },
        missing,
    )
}

/// The cost of `tokens` at `rates`.
pub fn components(tokens: &Tokens, rates: &Effective) -> Components {
    let per = |count: u64, price: f64| count as f64 * price / 1_000_000.0;
    let one_hour = tokens.cache_write_1h.min(tokens.cache_write);
    Components {
        input: per(tokens.input, rates.input),
        output: per(tokens.output, rates.output),
        cache_read: per(tokens.cache_read, rates.cache_read),
        cache_write: per(tokens.cache_write - one_hour, rates.cache_write),
        cache_write_1h: per(one_hour, rates.cache_write_1h),
    }
}
