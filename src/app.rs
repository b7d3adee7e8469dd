//! The one app constructor: every route of the main listener, with its
//! layers, around a store, with or without the lab.
//!
//! A request to a session route passes these layers, outermost first:
//!
//! 1. [`logging::LogRequestsLayer`]: one line per request;
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

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, Request};
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter, Route};
use axum::{middleware, Router};
use tower::util::MapResponseLayer;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::error;
use crate::instance::ServedBy;
use crate::lab::{self, LabLink, RecordProbes};
use crate::limits;
use crate::logging;
use crate::routes::{health, login, page, session_api, static_files};
use crate::security::ResponseHeaders;
use crate::session::{SessionLayer, SessionRules};
use crate::store::AppStore;

/// What the session routes' handlers read: the instance and the page's
/// settings. Kept this small on purpose: axum clones a route's state for
/// every request.
#[derive(Clone)]
struct SessionRoutes {
    served_by: ServedBy,
    page: page::PageSettings,
    /// The password check and its throttle.
    auth: Arc<Authenticator>,
}

impl FromRef<SessionRoutes> for Arc<Authenticator> {
    fn from_ref(state: &SessionRoutes) -> Self {
        state.auth.clone()
    }
}

impl FromRef<SessionRoutes> for ServedBy {
    fn from_ref(state: &SessionRoutes) -> Self {
        state.served_by.clone()
    }
}

impl FromRef<SessionRoutes> for page::PageSettings {
    fn from_ref(state: &SessionRoutes) -> Self {
        state.page
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
            .layer(logging::LogRequestsLayer)
            .layer(MapResponseLayer::new(move |response| {
                headers.apply(response)
            }))
    };
    let rules = session_rules(config);
    let sessions = SessionLayer::new(
        store.clone(),
        rules,
        config.secure_cookies,
        served_by.clone(),
    );
    let state = SessionRoutes {
        served_by,
        page: page::PageSettings {
            lab_port: lab.map(|lab| lab.port),
            fixation_defence: !config.unsafe_keep_id_on_login,
        },
        auth: Arc::default(),
    };
    let limit = DefaultBodyLimit::max(limits::MAX_BODY_BYTES);
    // With the lab, its recorder sits between the shared layers and the
    // session layer; without it, nothing does (no layer that would only
    // pass requests on).
    let session_routes = match lab {
        Some(lab) => {
            let recorder = RecordProbes::new(lab.ledger.clone());
            // Only the page names the lab on the host it was asked under.
            let index = get(page::index).layer(middleware::from_fn_with_state(
                Arc::new(lab.clone()),
                lab::page_policy,
            ));
            session_routes(sessions, index, |sessions| {
                shared_layers()
                    .layer(recorder.clone())
                    .layer(sessions)
                    .layer(limit)
            })
        }
        None => session_routes(sessions, get(page::index), |sessions| {
            shared_layers().layer(sessions).layer(limit)
        }),
    };

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
            get(static_files::static_file).layer(CompressionLayer::new().gzip(true)),
        );
    #[cfg(feature = "bench-ceiling")]
    let other_routes = other_routes.route("/bench/ceiling", get(crate::bench_ceiling::ceiling));
    let mut other_routes = other_routes.with_state(store);
    if let Some(lab) = lab {
        other_routes = other_routes.merge(lab::ledger_routes(lab.ledger.clone()));
    }
    let other_routes = other_routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(shared_layers());

    session_routes.with_state(state).merge(other_routes)
}

/// How sessions live under `config`: both listeners go by these (the
/// lab's planted session too).
pub fn session_rules(config: &Config) -> SessionRules {
    SessionRules {
        idle_timeout: config.idle_timeout(),
        absolute_timeout: config.absolute_timeout(),
        keep_id_on_login: config.unsafe_keep_id_on_login,
    }
}

/// The session routes, each with its whole stack from `stack` in one
/// `layer` call; the stack is given the session layer that fits the route
/// (`read_only` where the route only reads). Wrong methods get the JSON
/// `405` through the same stack. `index` is `GET /`, with its own layer
/// when the lab is on.
fn session_routes<L>(
    sessions: SessionLayer,
    index: MethodRouter<SessionRoutes>,
    stack: impl Fn(SessionLayer) -> L,
) -> Router<SessionRoutes>
where
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    let route = |method_router: MethodRouter<SessionRoutes>, sessions: SessionLayer| {
        method_router
            .fallback(error::method_not_allowed)
            .layer(stack(sessions))
    };
    Router::new()
        .route("/", route(index, sessions.clone()))
        .route(
            "/get-session-data",
            route(get(session_api::get_session_data), sessions.read_only()),
        )
        .route(
            "/update-session-data",
            route(post(session_api::update_session_data), sessions.clone()),
        )
        .route(
            "/regenerate-session",
            route(post(session_api::regenerate_session), sessions.clone()),
        )
        .route(
            "/clear-session",
            route(post(session_api::clear_session), sessions.clone()),
        )
        .route("/login", route(post(login::login), sessions.clone()))
        // Logging out is clearing the session: one handler for both.
        .route(
            "/logout",
            route(post(session_api::clear_session), sessions.clone()),
        )
        .route("/me", route(get(login::me), sessions.read_only()))
}
