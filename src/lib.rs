//! ajax-sessions: a live demo of cookies and server-side sessions with AJAX.
//!
//! The module list, leaves last. `main` calls [`startup::Application`],
//! which binds the listeners and builds the main app with [`app::app`] and
//! the lab's with [`lab::app`]; the tests start the same `Application` on
//! ephemeral ports. `ARCHITECTURE.md` maps the modules, the way a request
//! takes through them, and the rules they keep.

pub mod startup;

pub mod app;
pub mod lab;
pub mod routes;
pub mod server;

pub mod security;
pub mod session;

pub mod patch;
pub mod store;

pub mod assets;
pub mod auth;
#[cfg(feature = "bench-ceiling")]
pub mod bench_ceiling;
pub mod config;
pub mod cookies;
pub mod error;
pub mod html;
pub mod instance;
pub mod json;
pub mod limits;
pub mod logging;
pub mod token;
pub mod unix_time;

pub use config::{Config, StoreChoice};
pub use startup::{open_store, Application};
pub use store::{AppStore, BoundedStore, StoreStats};
