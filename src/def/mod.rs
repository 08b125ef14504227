//! The definition language: types, strict loading with locations, compile, diagnostics,
//! the registry of built-in and user definitions, and the definitions' own tests.
//!
//! **Architecture invariant:** `load::load_str` is pure and never panics: text and a path
//! in, `(Option<Definition>, Vec<Diagnostic>)` out. Only `registry` reads files.

use std::sync::Arc;

pub mod compile;
pub mod diag;
pub mod expr;
pub mod load;
pub mod loc;
pub mod model;
pub mod path;
pub mod registry;
pub mod schema;
pub mod selftest;
pub mod value;
pub mod value_spec;

pub use compile::{Agent, CompileEnv, Notifier, Provider};
pub use diag::{Code, Diagnostic, Level};
pub use load::{Loaded, load_str};
pub use model::Kind;

/// A compiled definition of any kind.
#[derive(Debug, Clone)]
pub enum Definition {
    Provider(Arc<Provider>),
    Agent(Arc<Agent>),
    Notifier(Arc<Notifier>),
}

impl Definition {
    pub fn id(&self) -> &str {
        match self {
            Definition::Provider(p) => &p.id,
            Definition::Agent(a) => &a.id,
            Definition::Notifier(n) => &n.id,
        }
    }

    pub fn kind(&self) -> Kind {
        compile::kind_of(self)
    }

    pub fn name(&self) -> &str {
        match self {
            Definition::Provider(p) => &p.meta.name,
            Definition::Agent(a) => &a.meta.name,
            Definition::Notifier(n) => &n.meta.name,
        }
    }
}
