//! The engine runs definitions: `ctx` is the only door to env, files and the clock;
//! `agent` turns session files into usage records.

pub mod agent;
pub mod ctx;
pub mod http;
pub mod record;
