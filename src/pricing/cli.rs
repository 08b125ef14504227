//! `ttop pricing resolve|refresh`, and the pricing step of `ttop report`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::catalogue::{Rates, Tier};
use super::cost;
use super::resolve::Resolution;
use super::source::{self, LiveStatus, LoadOptions};
use super::{CostMode, price_report};
use crate::config::Config;
use crate::engine::ctx::Ctx;
use crate::paths::Paths;
use crate::store::Report;

/// `--cost-mode` of `ttop report`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum CostModeArg {
    /// Compute every cost from tokens and prices.
    Calculate,
    /// Only costs the agents recorded; the rest is unpriced.
    Reported,
    /// The agent's recorded cost where there is one, else computed.
    #[default]
    Auto,
}

impl From<CostModeArg> for CostMode {
    fn from(a: CostModeArg) -> CostMode {
        match a {
            CostModeArg::Calculate => CostMode::Calculate,
            CostModeArg::Reported => CostMode::Reported,
            CostModeArg::Auto => CostMode::Auto,
        }
    }
}

#[derive(Args, Debug)]
pub struct PricingArgs {
    #[command(subcommand)]
    pub command: PricingCommand,
}

#[derive(Subcommand, Debug)]
pub enum PricingCommand {
    /// Show which catalogue entry (or override) prices a model, and its prices.
    Resolve {
        /// The model id as an agent records it.
        model: String,
        /// The provider id the agent records with it.
        #[arg(long, value_name = "PROVIDER")]
        provider: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Do not fetch the catalogue; use the cache and the embedded snapshot.
        #[arg(long)]
        offline: bool,
    },
    /// Fetch the price catalogue now, whatever its age.
    Refresh,
}

fn paths(ctx: &Ctx, db: Option<PathBuf>) -> Result<Paths, String> {
    Paths::resolve(&|k| ctx.env(k), db).map_err(|e| e.to_string())
}

fn config(p: &Paths) -> Config {
    let (cfg, err) = Config::load(&p.config_file());
    if let Some(e) = err {
        eprintln!("ttop: {e} (using defaults)");
    }
    cfg
}

/// Prices a report for `ttop report`; returns the warnings for stderr.
pub fn price_for_report(
    ctx: &Ctx,
    p: &Paths,
    cfg: &Config,
    report: &mut Report,
    mode: CostModeArg,
    offline: bool,
) -> Vec<String> {
    let prices = load_for_report(ctx, p, cfg, mode, offline);
    apply_prices(prices, report, mode)
}

/// Loads the prices a report in `mode` needs (no catalogue and no network for reported
/// costs). It touches neither the store nor the report, so it can run while the ingest
/// does.
pub fn load_for_report(
    ctx: &Ctx,
    p: &Paths,
    cfg: &Config,
    mode: CostModeArg,
    offline: bool,
) -> Result<source::Loaded, String> {
    let mut opts = LoadOptions::from_config(cfg);
    opts.offline |= offline;
    // Only what agents reported is needed: no catalogue, no network.
    if mode == CostModeArg::Reported {
        opts.offline = true;
    }
    source::load(ctx, &p.cache_dir, cfg, &opts)
}

/// Prices `report` with what [`load_for_report`] returned; returns the warnings.
pub fn apply_prices(prices: Result<source::Loaded, String>, report: &mut Report, mode: CostModeArg) -> Vec<String> {
    match prices {
        Ok(loaded) => {
            let summary = price_report(report, &loaded.pricer, mode.into());
            let mut warnings = loaded.warnings;
            warnings.extend(summary.warnings());
            warnings
        }
        Err(e) => vec![format!("cannot load prices: {e}; costs are not shown")],
    }
}

/// Runs `ttop pricing ...`.
pub fn run(ctx: &Ctx, db: Option<PathBuf>, args: &PricingArgs) -> Result<ExitCode, String> {
    let p = paths(ctx, db)?;
    let cfg = config(&p);
    match &args.command {
        PricingCommand::Refresh => {
            let mut opts = LoadOptions::from_config(&cfg);
            opts.force = true;
            opts.timeout = Some(std::time::Duration::from_secs(30));
            let loaded = source::load(ctx, &p.cache_dir, &cfg, &opts)?;
            match loaded.status {
                LiveStatus::Fetched => {
                    let live = &loaded.pricer.layers[0];
                    println!(
                        "fetched {} models into '{}'",
                        live.catalogue.len(),
                        p.cache_dir.join(source::CACHE_FILE).display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                LiveStatus::Failed(e) => {
                    eprintln!("ttop: {e}");
                    Ok(ExitCode::from(1))
                }
                other => Err(format!("unexpected catalogue state {other:?}")),
            }
        }
        PricingCommand::Resolve {
            model,
            provider,
            json,
            offline,
        } => {
            let mut opts = LoadOptions::from_config(&cfg);
            opts.offline |= *offline;
            let loaded = source::load(ctx, &p.cache_dir, &cfg, &opts)?;
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            let found = loaded.pricer.resolve(provider.as_deref(), model);
            if *json {
                let value = match &found {
                    Ok(r) => json!({ "model": model, "provider": provider, "resolved": resolution_json(r) }),
                    Err(u) => json!({
                        "model": model,
                        "provider": provider,
                        "resolved": Value::Null,
                        "tried_ids": u.tried_ids,
                        "tried_providers": u.tried_providers,
                    }),
                };
                println!("{value:#}");
            } else {
                match &found {
                    Ok(r) => print!("{}", resolution_text(model, provider.as_deref(), r)),
                    Err(u) => eprintln!(
                        "ttop: no price for model '{model}'{}; tried the ids {} in the providers {}; \
                         add it under [pricing.overrides] in config.toml",
                        provider
                            .as_deref()
                            .map(|p| format!(" (provider '{p}')"))
                            .unwrap_or_default(),
                        quoted(&u.tried_ids),
                        quoted(&u.tried_providers)
                    ),
                }
            }
            Ok(if found.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", ")
}

fn rates_json(r: &Rates) -> Value {
    json!({
        "input": r.input,
        "output": r.output,
        "cache_read": r.cache_read,
        "cache_write": r.cache_write,
        "cache_write_1h": r.cache_write_1h,
    })
}

fn resolution_json(r: &Resolution) -> Value {
    let (eff, _) = cost::effective(r, false, None);
    let tiers: serde_json::Map<String, Value> = r
        .cost
        .tiers
        .iter()
        .map(|(name, t)| {
            let v = match t {
                Tier::Multiplier(m) => json!({ "multiplier": m }),
                Tier::Rates { base, long_context } => json!({
                    "rates": rates_json(base),
                    "context_over_200k": long_context.as_ref().map(rates_json),
                }),
            };
            (name.clone(), v)
        })
        .collect();
    json!({
        "provider": r.provider,
        "model": r.model,
        "source": r.source,
        "via": r.via,
        "cost": rates_json(&r.cost.base),
        "context_over_200k": r.cost.long_context.as_ref().map(rates_json),
        "tiers": tiers,
        "effective": {
            "input": eff.input,
            "output": eff.output,
            "cache_read": eff.cache_read,
            "cache_write": eff.cache_write,
            "cache_write_1h": eff.cache_write_1h,
        },
    })
}

/// A price per million tokens, as short as it is exact (`3`, `0.3`, `3.75`).
fn money(p: f64) -> String {
    format!("${p}")
}

fn rates_line(r: &Rates) -> String {
    let mut s = format!("input {}  output {}", money(r.input), money(r.output));
    for (name, v) in [
        ("cache read", r.cache_read),
        ("cache write", r.cache_write),
        ("1h cache write", r.cache_write_1h),
    ] {
        if let Some(v) = v {
            let _ = write!(s, "  {name} {}", money(v));
        }
    }
    s
}

fn resolution_text(model: &str, provider: Option<&str>, r: &Resolution) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{model}{}",
        provider.map(|p| format!(" (provider '{p}')")).unwrap_or_default()
    );
    let _ = writeln!(s, "  entry:   {}/{}", r.provider, r.model);
    let _ = writeln!(s, "  source:  {}", r.source);
    let matched = if r.via.is_empty() {
        "exact id".to_owned()
    } else {
        format!("after {}", r.via.join(", "))
    };
    let _ = writeln!(s, "  matched: {matched}");
    let _ = writeln!(s, "  prices per million tokens:");
    let _ = writeln!(s, "    {}", rates_line(&r.cost.base));
    let (eff, _) = cost::effective(r, false, None);
    let _ = writeln!(
        s,
        "    as charged: cache read {}  cache write {}  1h cache write {}",
        money(eff.cache_read),
        money(eff.cache_write),
        money(eff.cache_write_1h)
    );
    if let Some(long) = &r.cost.long_context {
        let _ = writeln!(s, "    prompt over 200k (all tokens): {}", rates_line(long));
    }
    for (name, t) in &r.cost.tiers {
        match t {
            Tier::Multiplier(m) => {
                let _ = writeln!(s, "    tier '{name}': standard rates x{m}");
            }
            Tier::Rates { base, .. } => {
                let _ = writeln!(s, "    tier '{name}': {}", rates_line(base));
            }
        }
    }
    s
}
