//! The cross-origin lab: a second listener, the "other origin", that shows
//! when a browser sends cookies to another origin or site and when a script
//! may read the reply.
//!
//! - `listener.rs`: the lab's router (its page, `/lab/echo`);
//! - `cors.rs`: the three CORS policies of `/lab/echo`;
//! - `plant.rs`: the attacker who plants a session id (`/lab/plant`,
//!   `/lab/planted`; lesson 10);
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
pub mod plant;
pub mod record;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, HOST};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub use self::cors::AllowList;
pub use self::ledger::Ledger;
pub use self::listener::{app, LabOrigins};
pub use self::record::RecordProbes;
use crate::error::{json_response, AppError};
use crate::security::{content_security_policy_value, host_on_port};

/// What the main app knows of the lab.
#[derive(Clone, Debug)]
pub struct LabLink {
    /// The lab listener's port.
    pub port: u16,
    /// The address both listeners are bound to.
    pub host: IpAddr,
    /// The main listener's port.
    pub main_port: u16,
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

/// Middleware for the main listener's page (`GET /` only, so that no JSON
/// reply pays for it): its `Content-Security-Policy` lets it connect to the
/// lab on the host it was requested under (`http://demo.test:LAB` for a
/// page asked as `demo.test:MAIN`) besides the lab's own origins. The host
/// comes from `Host` only when it is a valid host name or IP literal with
/// the main listener's port ([`host_on_port`]); anything else gets the
/// lab's own origins alone, and nothing from `Host` can add a directive.
pub async fn page_policy(
    State(link): State<Arc<LabLink>>,
    request: Request,
    next: Next,
) -> Response {
    let asked = request
        .headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host_on_port(host, link.main_port))
        .map(|host| format!("http://{host}:{}", link.port));
    let mut response = next.run(request).await;
    let own = link.origins();
    let extra = asked.filter(|asked| !own.contains(asked));
    response.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        content_security_policy_value(own.iter().chain(extra.as_ref()).map(String::as_str)),
    );
    response
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
