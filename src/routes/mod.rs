//! The handlers, one module per audience: the HTML page and its static
//! files, the JSON API and the reply it answers with, logging in and out,
//! and the probes for whoever runs the app.
//! `app.rs` puts them on their paths.

pub mod health;
pub mod login;
pub mod page;
pub mod reply;
pub mod session_api;
pub mod static_files;
