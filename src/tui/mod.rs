//! The `ttop` dashboard: a full-screen terminal UI over the store, live.
//!
//! Data flows one way. A worker thread owns the store: it shows what is stored at once,
//! then reads new agent usage (with progress), watches the session files and answers
//! requests (another time window, a session's requests, saving the config). It sends
//! [`app::Msg`]s over a channel; an input thread sends keys, mouse and resize events over
//! the same channel. The UI thread owns the one [`app::App`], applies each message with
//! [`app::App::update`] and draws with [`draw::draw`], which reads `&App` only.
//!
//! **Architecture invariant:** the UI thread never touches SQLite, session files or the
//! network while the dashboard runs; [`app::Effect`]s go to the worker.
//!
//! - [`app`]: state, keys, effects, alerts.
//! - [`draw`]: the views, drawers and overlays.
//! - [`palette`], [`settings`]: the command palette and the settings modal.
//! - [`style`], [`fmt`]: theme styles (and `NO_COLOR`), number and time formatting.
//! - [`runtime`]: the terminal, the worker and the event loop.

pub mod app;
pub mod draw;
pub mod fmt;
pub mod palette;
pub mod runtime;
pub mod settings;
pub mod style;

pub use runtime::{run_dashboard, run_demo};
