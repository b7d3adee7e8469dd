//! The one app constructor: every route of the main listener, with its
//! layers, around a store, with or without the lab.
//!
//! A request to a session route passes these layers, outermost first:
//!
//! 1. [`logging::log_request`]: one line per request;
//! 2. [`ResponseHeaders`] (CSP, nosniff, Referrer-Policy, `X-Served-By`) on
//!    every response;
//! 3. with the lab on, [`RecordProbes`]: a request that carries a `probe`
//!    is written into the lab's ledger with its status and error code;
//! 4. [`SessionLayer`]: reads the `session_id` cookie, waits for the
//!    session's turn (one request at a time per session, across instances
//!    with Redis; a route declared with `reads` takes none across
//!    instances), hands the handler tower-sessions' `Session`, then saves
//!    what changed and sets the cookie, repeated with the id redacted in
//!    `X-Set-Cookie-Echo` for the page;
//! 5. the body limit, then the handler, with [`crate::session::AppSession`]
//!    as its typed view and the reply built in `routes/reply.rs`.
//!
//! axum boxes each layer it is given around every route, and clones it per
//! request: so each route gets its whole stack in one `layer` call.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post, MethodRouter};
use axum::{middleware, Router};
use tower::util::{option_layer, MapResponseLayer};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;

use crate::config::Config;
use crate::error;
use crate::instance::ServedBy;
use crate::lab::{self, LabLink, RecordProbes};
use crate::limits;
use crate::logging;
use crate::routes::{health, page, session_api};
use crate::security::ResponseHeaders;
use crate::session::SessionLayer;
use crate::store::AppStore;

/// What the handlers read from the app: the instance, the page's settings
/// and the store (for readiness).
#[derive(Clone)]
struct AppState {
    served_by: ServedBy,
    page: page::PageSettings,
    store: AppStore,
}

impl FromRef<AppState> for ServedBy {
    fn from_ref(state: &AppState) -> Self {
        state.served_by.clone()
    }
}

impl FromRef<AppState> for page::PageSettings {
    fn from_ref(state: &AppState) -> Self {
        state.page
    }
}

impl FromRef<AppState> for AppStore {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

/// The main listener's whole application around `store`, linked to the
/// lab when there is one: the page then knows the lab's port and may
/// connect to the lab's origins, probed session requests are written into
/// the ledger, and `GET /lab/ledger` reads it. Replies name
/// `config.instance` ("unnamed" when unset; start-up sets it to the bound
/// address). Spawns the store's background work, so it must run inside a
/// Tokio runtime.
pub fn app(config: &Config, store: AppStore, lab: Option<&LabLink>) -> Router {
    store.spawn_maintenance(config.idle_timeout());
    let instance = config.instance.as_deref().unwrap_or("unnamed");
    let served_by = ServedBy {
        name: Arc::from(instance),
        store: store.kind(),
    };
    let lab_origins = lab.map(LabLink::origins).unwrap_or_default();
    let headers = ResponseHeaders::new(instance, lab_origins.iter().map(String::as_str));
    // Shared by every response: the request log and the security headers.
    let shared_layers = || {
        let headers = headers.clone();
        ServiceBuilder::new()
            .layer(middleware::from_fn(logging::log_request))
            .layer(MapResponseLayer::new(move |response| {
                headers.apply(response)
            }))
    };
    let sessions = SessionLayer::new(
        store.clone(),
        config.idle_timeout(),
        config.secure_cookies,
        served_by.clone(),
    );
    let recorder = lab.map(|lab| RecordProbes::new(lab.ledger.clone()));
    // A session route's whole stack; `sessions` says whether it only reads.
    let session_route = |route: MethodRouter<AppState>, sessions: SessionLayer| {
        route.fallback(error::method_not_allowed).layer(
            shared_layers()
                .layer(option_layer(recorder.clone()))
                .layer(sessions)
                .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES)),
        )
    };
    let reads = sessions.read_only();
    let state = AppState {
        served_by,
        page: page::PageSettings {
            lab_port: lab.map(|lab| lab.port),
        },
        store,
    };
    let session_routes = Router::new()
        .route("/", session_route(get(page::index), sessions.clone()))
        .route(
            "/get-session-data",
            session_route(get(session_api::get_session_data), reads),
        )
        .route(
            "/update-session-data",
            session_route(post(session_api::update_session_data), sessions.clone()),
        )
        .route(
            "/regenerate-session",
            session_route(post(session_api::regenerate_session), sessions.clone()),
        )
        .route(
            "/clear-session",
            session_route(post(session_api::clear_session), sessions),
        );

    let other_routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // The page's scripts and style, gzipped for clients that ask (every
        // browser does): about a quarter of the bytes. Only static files:
        // the page and the JSON replies carry the CSRF token, and
        // compressing a secret beside other content invites BREACH-style
        // guessing.
        .route(
            "/static/{*file}",
            get(crate::assets::static_file).layer(CompressionLayer::new().gzip(true)),
        );
    #[cfg(feature = "bench-ceiling")]
    let other_routes = other_routes.route("/bench/ceiling", get(crate::bench_ceiling::ceiling));
    let mut other_routes = other_routes.with_state(state.clone());
    if let Some(lab) = lab {
        other_routes = other_routes.merge(lab::ledger_routes(lab.ledger.clone()));
    }
    let other_routes = other_routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(shared_layers());

    session_routes.with_state(state).merge(other_routes)
}
