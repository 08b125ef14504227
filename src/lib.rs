//! ttop: htop for your AI costs.
//!
//! A declarative engine: providers, agents and notifiers are YAML definitions
//! interpreted by generic code. Modules by layer, bottom up:
//!
//! - [`def`]: the definition language (types, strict loading, compile, diagnostics,
//!   registry, the definitions' own tests).
//! - [`engine`]: runs definitions: [`engine::ctx`] is the only door to env, files and
//!   clock; [`engine::agent`] turns session files into usage records.
//! - [`store`]: SQLite, migrations, exactly-once ingest transactions, report queries.
//! - [`pricing`]: model prices (live catalogue, cache, snapshot, overrides) and costs.
//! - [`report`]: report formatting (table, JSON, CSV).
//! - [`model`]: what the dashboard shows (windows, sessions, budgets, trends), no SQL.
//! - [`tui`]: the dashboard: a worker owns the store, the UI draws a snapshot.
//! - [`demo`]: deterministic demo data for `ttop demo` and the dashboard's tests.
//! - [`config`], [`theme`], [`paths`]: user files and XDG locations.
//! - [`cli`]: the clap commands; no business logic.

pub mod bench;
pub mod cli;
pub mod config;
pub mod def;
pub mod demo;
pub mod engine;
pub mod model;
pub mod paths;
pub mod pricing;
pub mod report;
pub mod store;
pub mod theme;
pub mod tui;
