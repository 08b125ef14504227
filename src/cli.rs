//! The clap commands. No business logic lives here: each command parses its flags,
//! calls the library and prints.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::config::Config;
use crate::def::registry::{Registry, Status, yaml_files};
use crate::def::{CompileEnv, Definition, Diagnostic, schema, selftest};
use crate::engine::ctx::Ctx;
use crate::paths::Paths;
use crate::report;
use crate::store::{Group, ReportQuery, Store};

#[derive(Parser, Debug)]
#[command(
    name = "ttop",
    version,
    about = "htop for your AI costs: token usage, spending and limits of coding agents and model providers"
)]
pub struct Cli {
    /// The database file (default: $XDG_DATA_HOME/tokentop/ttop.db).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Print a text summary instead of opening the dashboard (also when stdout is not a terminal).
    #[arg(long)]
    pub once: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check definitions: YAML syntax, shape, compile, and their own tests.
    ValidateDef(ValidateArgs),
    /// Read new agent usage, then print a usage report.
    Report(ReportArgs),
    /// Generate a synthetic corpus of agent session files and benchmark ingest and reports on it.
    Bench(crate::bench::BenchArgs),
    /// Poll every provider once and print plan, limits, tokens, cost and credits.
    Providers {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every definition: credentials, session directories, last poll.
    Doctor,
    /// Model prices: which catalogue entry prices a model; fetch the catalogue now.
    Pricing(crate::pricing::cli::PricingArgs),
    /// Open the dashboard over deterministic demo data (reads and writes no user data).
    Demo(crate::tui::runtime::DemoArgs),
    /// Read new agent usage and print a text summary (what plain `ttop` prints off a terminal).
    Summary,
    /// Print the JSON Schema of a file format.
    Schema {
        /// provider, agent, notifier, config or theme.
        #[arg(value_parser = ["provider", "agent", "notifier", "config", "theme"])]
        kind: String,
    },
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Definition files or directories (default: built-ins plus the user directory).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Skip the definitions' own tests.
    #[arg(long)]
    pub no_tests: bool,
    /// Run the (single) agent definition over this session file and print what it extracts;
    /// for a provider definition, give `ID=RESPONSE_FILE` (repeatable) and see its usage.
    #[arg(long, value_name = "DATA")]
    pub sample: Vec<String>,
    /// With --sample: the index of the source the data belongs to.
    #[arg(long, default_value_t = 0)]
    pub source: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum GroupArg {
    Daily,
    Weekly,
    Monthly,
    Session,
    Model,
    Project,
    Agent,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[arg(value_enum, default_value_t = GroupArg::Daily)]
    pub group: GroupArg,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
    /// Only these agents (repeatable).
    #[arg(long = "agent", value_name = "ID")]
    pub agents: Vec<String>,
    /// First day (YYYY-MM-DD), inclusive, in the report's time zone.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Last day (YYYY-MM-DD), inclusive.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// IANA time zone for days, weeks and months (default: the system's).
    #[arg(long, value_name = "TZ")]
    pub tz: Option<String>,
    /// Answer from the store without reading new usage first.
    #[arg(long)]
    pub no_ingest: bool,
    /// Which cost to show: computed from prices, the agents' own, or the agents' own
    /// where recorded and computed elsewhere.
    #[arg(long, value_enum, default_value_t = crate::pricing::cli::CostModeArg::Auto)]
    pub cost_mode: crate::pricing::cli::CostModeArg,
    /// Show what each row's cost is made of (input, output, cache read/write, reported).
    #[arg(long)]
    pub breakdown: bool,
    /// Do not fetch the price catalogue; use the cached one and the embedded snapshot.
    #[arg(long)]
    pub offline: bool,
}

/// Runs the CLI; the exit code is 0 on success, 1 on a failed check, 2 on bad usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Ctx::real();
    let result = match cli.command {
        Some(Command::ValidateDef(a)) => validate(&ctx, &a),
        Some(Command::Report(a)) => run_report(&ctx, cli.db, &a),
        Some(Command::Pricing(a)) => crate::pricing::cli::run(&ctx, cli.db, &a),
        Some(Command::Bench(a)) => crate::bench::main(&ctx, &a),
        Some(Command::Providers { json }) => crate::engine::provider::commands::providers_command(&ctx, cli.db, json),
        Some(Command::Doctor) => crate::engine::provider::commands::doctor_command(&ctx, cli.db),
        Some(Command::Schema { kind }) => {
            let file = if matches!(kind.as_str(), "config" | "theme") {
                format!("{kind}.json")
            } else {
                format!("{kind}.v1.json")
            };
            match schema::generate(&file) {
                Some(s) => {
                    print!("{s}");
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(format!("no schema named '{kind}'")),
            }
        }
        Some(Command::Demo(a)) => crate::tui::run_demo(&ctx, a.seed, a.preset),
        Some(Command::Summary) => overview(&ctx, cli.db),
        None if cli.once || !std::io::stdout().is_terminal() => overview(&ctx, cli.db),
        None => crate::tui::run_dashboard(&ctx, cli.db),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ttop: {e}");
            ExitCode::from(2)
        }
    }
}

fn paths(ctx: &Ctx, db: Option<PathBuf>) -> Result<Paths, String> {
    Paths::resolve(&|k| ctx.env(k), db).map_err(|e| e.to_string())
}

fn compile_env(ctx: &Ctx) -> CompileEnv {
    CompileEnv {
        home: ctx.home().to_path_buf(),
    }
}

/// Loads the config, reporting a bad file on stderr (defaults are used).
fn config(p: &Paths) -> Config {
    let (cfg, err) = Config::load(&p.config_file());
    if let Some(e) = err {
        eprintln!("ttop: {e} (using defaults)");
    }
    cfg
}

fn registry(ctx: &Ctx, p: &Paths, cfg: &Config) -> Registry {
    Registry::load_all(Some(&p.definitions_dir()), &cfg.disabled, &compile_env(ctx))
}

/// The registry for commands that only read agents: built-in providers are not compiled.
fn agent_registry(ctx: &Ctx, p: &Paths, cfg: &Config) -> Registry {
    let kind = Some(crate::def::Kind::Agent);
    Registry::load(Some(&p.definitions_dir()), &cfg.disabled, &compile_env(ctx), kind)
}

fn print_diagnostics(reg: &Registry, out: &mut impl Write) {
    for d in &reg.diagnostics {
        let _ = write!(out, "{}", d.render(reg.source_of(&d.file)));
    }
}

fn validate(ctx: &Ctx, a: &ValidateArgs) -> Result<ExitCode, String> {
    let env = compile_env(ctx);
    let p = paths(ctx, None)?;
    let mut reg = if a.paths.is_empty() {
        let cfg = config(&p);
        registry(ctx, &p, &cfg)
    } else {
        let mut r = Registry::default();
        for path in &a.paths {
            if path.is_dir() {
                for f in yaml_files(path) {
                    r.add_file(&f, &env);
                }
            } else {
                r.add_file(path, &env);
            }
        }
        r.resolve(&[]);
        r
    };
    if reg
        .entries
        .iter()
        .any(|e| matches!(e.def, Some(Definition::Provider(_))))
        && !a.sample.is_empty()
    {
        return crate::engine::provider::commands::sample_command(&reg, &a.sample);
    }
    if let [data] = a.sample.as_slice() {
        return sample(&reg, a, Path::new(data));
    } else if a.sample.len() > 1 {
        return Err("--sample takes one session file for an agent".into());
    }
    if !a.no_tests {
        let mut extra: Vec<Diagnostic> = Vec::new();
        for e in &reg.entries {
            if let (Status::Ok, Some(Definition::Agent(agent))) = (e.status, &e.def) {
                extra.extend(selftest::run_agent_tests(agent, &e.origin));
            }
            if let (Status::Ok, Some(Definition::Provider(provider))) = (e.status, &e.def) {
                extra.extend(selftest::run_provider_tests(provider, &e.origin));
            }
        }
        let failed: Vec<PathBuf> = extra.iter().map(|d| d.file.clone()).collect();
        for e in &mut reg.entries {
            if failed.contains(&e.origin.label()) {
                e.status = Status::Broken;
            }
        }
        reg.diagnostics.extend(extra);
        reg.diagnostics
            .sort_by(|x, y| (&x.file, x.line, x.col).cmp(&(&y.file, y.line, y.col)));
    }
    let errors = reg.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = reg.diagnostics.len() - errors;
    let failed = errors > 0 || (a.deny_warnings && warnings > 0);
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let defs: Vec<_> = reg
                .entries
                .iter()
                .map(|e| {
                    json!({
                        "kind": e.kind.map(|k| k.as_str()),
                        "id": e.id,
                        "origin": e.origin.kind_word(),
                        "file": e.origin.label(),
                        "status": e.status.as_str(),
                    })
                })
                .collect();
            let v = json!({
                "definitions": defs,
                "diagnostics": reg.diagnostics,
                "summary": { "files": reg.entries.len(), "errors": errors, "warnings": warnings, "ok": !failed },
            });
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Text => {
            print_diagnostics(&reg, &mut out);
            if !reg.diagnostics.is_empty() {
                let _ = writeln!(out);
            }
            let mut rows: Vec<_> = reg.entries.iter().collect();
            rows.sort_by_key(|e| (e.kind, e.id.clone(), e.origin.label()));
            for e in rows {
                let mark = match e.status {
                    Status::Ok => "✓",
                    Status::Broken => "✗",
                    Status::Overridden | Status::Disabled => "-",
                };
                let _ = writeln!(
                    out,
                    "{mark} {:<9} {:<18} {:<8} {:<10} {}",
                    e.kind.map_or("?", |k| k.lower()),
                    e.id.as_deref().unwrap_or("?"),
                    e.origin.kind_word(),
                    e.status.as_str(),
                    e.origin.label().display()
                );
            }
            let ok = reg.entries.iter().filter(|e| e.status == Status::Ok).count();
            let _ = writeln!(
                out,
                "\n{} definition file{} checked: {ok} ok, {errors} error{}, {warnings} warning{}",
                reg.entries.len(),
                plural(reg.entries.len()),
                plural(errors),
                plural(warnings)
            );
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn sample(reg: &Registry, a: &ValidateArgs, data: &Path) -> Result<ExitCode, String> {
    if reg.has_errors() {
        let mut err = std::io::stderr().lock();
        print_diagnostics(reg, &mut err);
        return Ok(ExitCode::from(1));
    }
    let agents: Vec<_> = reg
        .entries
        .iter()
        .filter_map(|e| match &e.def {
            Some(Definition::Agent(ag)) => Some((ag, &e.origin)),
            _ => None,
        })
        .collect();
    let [(agent, _origin)] = agents.as_slice() else {
        return Err("--sample needs exactly one agent definition file".into());
    };
    if a.source >= agent.sources.len() {
        return Err(format!(
            "--source {}: the agent has {} source(s)",
            a.source,
            agent.sources.len()
        ));
    }
    let (records, warnings) = selftest::sample_agent(agent, a.source, data)?;
    let mut out = std::io::stdout().lock();
    for r in &records {
        let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
    }
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string(&json!({ "totals": selftest::totals(&records) })).unwrap_or_default()
    );
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_date(s: &Option<String>, flag: &str) -> Result<Option<jiff::civil::Date>, String> {
    s.as_deref()
        .map(|d| {
            d.parse::<jiff::civil::Date>()
                .map_err(|_| format!("{flag} '{d}' is not a date (YYYY-MM-DD)"))
        })
        .transpose()
}

fn time_zone(name: &Option<String>) -> Result<jiff::tz::TimeZone, String> {
    match name {
        Some(n) => jiff::tz::TimeZone::get(n).map_err(|_| format!("--tz '{n}' is not a known IANA time zone")),
        None => Ok(jiff::tz::TimeZone::system()),
    }
}

/// Reads new usage from every agent, with a progress line on a terminal.
fn ingest(ctx: &Ctx, store: &mut Store, reg: &Registry) -> crate::engine::agent::IngestReport {
    let agents = reg.agents();
    let tty = std::io::stderr().is_terminal();
    let mut last = std::time::Instant::now();
    let mut progress = |p: crate::engine::agent::Progress| {
        if tty && last.elapsed().as_millis() > 100 {
            last = std::time::Instant::now();
            eprint!("\r\x1b[2K{p}");
        }
    };
    let rep = crate::engine::agent::ingest(store, &agents, ctx, &mut progress);
    if tty {
        eprint!("\r\x1b[2K");
    }
    rep
}

fn run_report(ctx: &Ctx, db: Option<PathBuf>, a: &ReportArgs) -> Result<ExitCode, String> {
    let p = paths(ctx, db)?;
    let cfg = config(&p);
    let tz = time_zone(&a.tz)?;
    let since = parse_date(&a.since, "--since")?;
    let until = parse_date(&a.until, "--until")?;
    let mut store = Store::open(&p.db).map_err(|e| e.to_string())?;
    // Prices load (and, when the cache is stale, fetch) on their own thread while the
    // ingest runs; they do not depend on it.
    let prices = std::thread::scope(|s| {
        let prices = s.spawn(|| crate::pricing::cli::load_for_report(ctx, &p, &cfg, a.cost_mode, a.offline));
        if !a.no_ingest {
            let reg = agent_registry(ctx, &p, &cfg);
            if reg.has_errors() {
                eprintln!("ttop: some definitions have errors and are skipped; run 'ttop validate-def' for details");
            }
            let rep = ingest(ctx, &mut store, &reg);
            for w in rep.warnings.iter().take(5) {
                eprintln!("warning: {w}");
            }
        }
        prices
            .join()
            .unwrap_or_else(|_| Err("the price loader stopped unexpectedly".to_owned()))
    });
    let group = match a.group {
        GroupArg::Daily => Group::Daily,
        GroupArg::Weekly => Group::Weekly,
        GroupArg::Monthly => Group::Monthly,
        GroupArg::Session => Group::Session,
        GroupArg::Model => Group::Model,
        GroupArg::Project => Group::Project,
        GroupArg::Agent => Group::Agent,
    };
    let q = ReportQuery {
        group,
        agents: a.agents.clone(),
        since,
        until,
        tz,
    };
    let mut rep = store.report(&q).map_err(|e| e.to_string())?;
    for w in crate::pricing::cli::apply_prices(prices, &mut rep, a.cost_mode) {
        eprintln!("warning: {w}");
    }
    let opts = report::RenderOptions { breakdown: a.breakdown };
    let text = if a.json {
        report::render_json_with(&rep, &opts)
    } else if a.csv {
        report::render_csv_with(&rep, &opts)
    } else {
        report::render_table_with(&rep, group, &opts)
    };
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
    if !text.ends_with('\n') {
        let _ = writeln!(out);
    }
    Ok(ExitCode::SUCCESS)
}

/// The main job until the dashboard lands: read new usage, then show today, the last
/// seven days, each agent and where ttop looked.
fn overview(ctx: &Ctx, db: Option<PathBuf>) -> Result<ExitCode, String> {
    let p = paths(ctx, db)?;
    let cfg = config(&p);
    let reg = agent_registry(ctx, &p, &cfg);
    let mut store = Store::open(&p.db).map_err(|e| e.to_string())?;
    let rep = ingest(ctx, &mut store, &reg);
    let tz = jiff::tz::TimeZone::system();
    let today = jiff::Timestamp::now().to_zoned_datetime(tz.clone()).date();
    let week_start = today.checked_sub(jiff::Span::new().days(6)).unwrap_or(today);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "ttop {} — usage of your coding agents\n",
        env!("CARGO_PKG_VERSION")
    );
    let q = |group, since| ReportQuery {
        group,
        agents: vec![],
        since: Some(since),
        until: Some(today),
        tz: tz.clone(),
    };
    let mut week = store.report(&q(Group::Daily, week_start)).map_err(|e| e.to_string())?;
    let recent = !week.rows.is_empty();
    // Nothing this week: show everything recorded so far, by agent.
    let mut by_agent = if recent {
        store.report(&q(Group::Agent, week_start))
    } else {
        store.report(&ReportQuery {
            since: None,
            until: None,
            ..q(Group::Agent, week_start)
        })
    }
    .map_err(|e| e.to_string())?;
    if !by_agent.rows.is_empty() {
        let auto = crate::pricing::cli::CostModeArg::Auto;
        let mut warnings = crate::pricing::cli::price_for_report(ctx, &p, &cfg, &mut by_agent, auto, false);
        if recent {
            warnings.extend(crate::pricing::cli::price_for_report(
                ctx, &p, &cfg, &mut week, auto, true,
            ));
        }
        warnings.dedup();
        for w in warnings.iter().take(5) {
            eprintln!("warning: {w}");
        }
    }
    if recent {
        let _ = writeln!(
            out,
            "Last 7 days by day:\n{}",
            report::render_table(&week, Group::Daily)
        );
        let _ = writeln!(
            out,
            "Last 7 days by agent:\n{}",
            report::render_table(&by_agent, Group::Agent)
        );
    } else if !by_agent.rows.is_empty() {
        let _ = writeln!(
            out,
            "No usage in the last 7 days. Everything recorded, by agent:\n{}",
            report::render_table(&by_agent, Group::Agent)
        );
    } else {
        let _ = writeln!(
            out,
            "No usage recorded yet. 'ttop demo' shows the dashboard over sample data.\n"
        );
    }
    let _ = writeln!(out, "Agents:");
    for agent in reg.agents() {
        let found = rep
            .sources
            .iter()
            .filter(|s| s.agent == agent.id)
            .map(|s| s.files)
            .sum::<usize>();
        let roots: Vec<String> = rep
            .sources
            .iter()
            .filter(|s| s.agent == agent.id)
            .flat_map(|s| s.roots.clone())
            .collect();
        let mark = if found > 0 { "✓" } else { "·" };
        let _ = writeln!(
            out,
            "  {mark} {:<18} {:>6} session file{}  looked in: {}",
            agent.meta.name,
            found,
            plural(found),
            if roots.is_empty() {
                let mut wanted: Vec<String> = Vec::new();
                for r in agent
                    .sources
                    .iter()
                    .flat_map(|s| s.roots.iter().map(|t| t.shell_form()))
                {
                    if !wanted.contains(&r) {
                        wanted.push(r);
                    }
                }
                format!("{} (none exist yet)", wanted.join(", "))
            } else {
                let mut seen: Vec<&String> = Vec::new();
                for r in &roots {
                    if !seen.contains(&r) {
                        seen.push(r);
                    }
                }
                seen.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            }
        );
    }
    if reg.has_errors() {
        let _ = writeln!(out, "\nSome definitions have errors; run 'ttop validate-def'.");
    }
    let _ = writeln!(out, "\nDatabase: {}", p.db.display());
    let _ = writeln!(
        out,
        "More: 'ttop report daily|weekly|monthly|session|model|project|agent', 'ttop validate-def', 'ttop --help'."
    );
    Ok(ExitCode::SUCCESS)
}
