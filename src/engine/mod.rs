//! The engine runs definitions: `ctx` is the only door to env, files and the clock;
//! `agent` turns session files into usage records; `provider` turns provider APIs into
//! plan, limits, tokens, cost and credits, polled on a schedule.

pub mod agent;
pub mod ctx;
pub mod http;
pub mod provider;
pub mod record;
