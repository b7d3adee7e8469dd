//! Which instance answered, and on which store: every reply of a session
//! endpoint says so (`served_by`, `store`), and every response carries
//! `X-Served-By`. A leaf, so that errors, routes and the session layer can
//! all name it without importing each other.

use std::sync::Arc;

/// The instance's name and its store's kind, fixed at start-up. Cloning
/// shares the name.
#[derive(Clone, Debug)]
pub struct ServedBy {
    /// The instance's name (`--instance`, or the bound address).
    pub name: Arc<str>,
    /// `memory` or `redis`.
    pub store: &'static str,
}
