//! The handlers, one module per audience: the HTML page and the JSON API.

pub mod page;
pub mod session_api;
