//! JSON Schemas of every file format, generated from the Rust types.
//!
//! `schemas/` holds their output; a test fails when it is stale and `UPDATE_SCHEMAS=1`
//! rewrites it.

use schemars::{JsonSchema, generate::SchemaSettings};

use super::model::{AgentDef, NotifierDef, ProviderDef};
use crate::config::Config;
use crate::theme::Theme;

/// The schema files, as (file name under `schemas/`, title).
pub const FILES: &[(&str, &str)] = &[
    ("provider.v1.json", "ttop Provider definition (tokentop/v1)"),
    ("agent.v1.json", "ttop Agent definition (tokentop/v1)"),
    ("notifier.v1.json", "ttop Notifier definition (tokentop/v1)"),
    ("config.json", "ttop config.toml"),
    ("theme.json", "ttop theme"),
];

fn gen_one<T: JsonSchema>(title: &str) -> String {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The text of one schema file, by its file name.
pub fn generate(file: &str) -> Option<String> {
    let title = FILES.iter().find(|(f, _)| *f == file)?.1;
    Some(match file {
        "provider.v1.json" => gen_one::<ProviderDef>(title),
        "agent.v1.json" => gen_one::<AgentDef>(title),
        "notifier.v1.json" => gen_one::<NotifierDef>(title),
        "config.json" => gen_one::<Config>(title),
        "theme.json" => gen_one::<Theme>(title),
        _ => return None,
    })
}
