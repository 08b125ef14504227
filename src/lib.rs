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
//! - [`report`]: report formatting (table, JSON, CSV).
//! - [`config`], [`theme`], [`paths`]: user files and XDG locations.
//! - [`cli`]: the clap commands; no business logic.

pub mod cli;
pub mod config;
pub mod def;
pub mod engine;
pub mod paths;
pub mod report;
pub mod store;
pub mod theme;
