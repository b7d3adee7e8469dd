//! The cross-origin lab: a second listener, the "other origin", that shows
//! when a browser sends cookies to another origin or site and when a script
//! may read the reply.
//!
//! - `listener.rs`: the lab's router (its page, `/lab/echo`);
//! - `cors.rs`: the three CORS policies of `/lab/echo`;
//! - `ledger.rs`: what reached the servers, by probe;
//! - `record.rs`: the layer that writes the main listener's probed session
//!   requests into the ledger.
//!
//! The lab is added to the main app from outside (`app.rs`), through a
//! [`LabLink`]: where the lab listens (for the page and its
//! Content-Security-Policy), the [`RecordProbes`] layer around the session
//! routes, and [`ledger_routes`] (`GET /lab/ledger`). Nothing below `app.rs`
//! imports this module.

pub mod cors;
pub mod ledger;
pub mod listener;
pub mod record;

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub use self::cors::AllowList;
pub use self::ledger::Ledger;
pub use self::listener::app;
pub use self::record::RecordProbes;
use crate::error::{json_response, AppError};

/// What the main app knows of the lab.
#[derive(Clone, Debug)]
pub struct LabLink {
    /// The lab listener's port.
    pub port: u16,
    /// The address both listeners are bound to.
    pub host: IpAddr,
    /// Shared by both listeners.
    pub ledger: Ledger,
}

impl LabLink {
    /// The lab's origins a page of the main listener may connect to:
    /// `http://127.0.0.1:LAB` and `http://localhost:LAB` on loopback,
    /// `http://HOST:LAB` otherwise.
    pub fn origins(&self) -> Vec<String> {
        AllowList::for_main(self.host, self.port)
            .origins()
            .map(str::to_owned)
            .collect()
    }
}

/// The main listener's `GET /lab/ledger?probe=P`: what reached the servers
/// under a probe, in arrival order. Same-origin for the page, so always
/// readable, whatever the lab's CORS policy hid.
pub fn ledger_routes(ledger: Ledger) -> Router {
    Router::new()
        .route("/lab/ledger", get(ledger_requests))
        .with_state(ledger)
}

async fn ledger_requests(State(ledger): State<Ledger>, uri: Uri) -> Result<Response, AppError> {
    let probe = ledger::probe_of(uri.query())
        .filter(|probe| ledger::valid_probe(probe))
        .ok_or(AppError::InvalidProbe)?;
    let requests = ledger.requests(probe);
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "probe": probe, "requests": requests }),
    ))
}
