//! ajax-sessions: a live demo of cookies and server-side sessions with AJAX.
//!
//! [`app`] builds the whole application as an axum `Router`; `main` binds it
//! to an address, and the tests bind it to an ephemeral port.
//!
//! A request to a session route passes these layers, outermost first:
//!
//! 1. [`logging::log_request`]: one line per request;
//! 2. [`security::ResponseHeaders`] (CSP, nosniff, Referrer-Policy,
//!    `X-Served-By`) on every response;
//! 3. [`session_layer::SessionLayer`]: reads the `session_id` cookie, waits
//!    for the session's turn (one request at a time per session, across
//!    instances with Redis), hands the handler tower-sessions' `Session`
//!    (loaded lazily from the [`store::AppStore`]: memory or Redis), then
//!    saves what changed and sets the cookie, repeated with the id redacted
//!    in `X-Set-Cookie-Echo` for the page;
//! 4. the handler, with [`session::AppSession`] as its typed view.

#[cfg(feature = "bench-ceiling")]
pub mod bench_ceiling;
pub mod config;
pub mod cookies;
pub mod error;
pub mod lab;
pub mod logging;
pub mod patch;
pub mod routes;
pub mod security;
pub mod server;
pub mod session;
pub mod session_layer;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::handler::HandlerWithoutStateExt as _;
use axum::http::{header, HeaderValue, Method};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::util::MapResponseLayer;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

pub use config::{Config, StoreChoice};
pub use patch::limits;
pub use store::{AppStore, BoundedStore, StoreStats};

use crate::error::AppError;
use crate::lab::{LabLink, Ledger};
use crate::routes::{page, session_api};
use crate::security::ResponseHeaders;
use crate::session_layer::ServedBy;

/// The static assets, found from the crate root so that `cargo run` and
/// `cargo test` work from any directory.
const STATIC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/static");

/// How long the store may take to answer at start before the app gives up.
pub const STORE_CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// The whole application, with a fresh memory store sized by `config`.
pub fn app(config: &Config) -> Router {
    app_with_store(config, memory_store(config))
}

/// A fresh memory store sized by `--max-sessions`.
pub fn memory_store(config: &Config) -> AppStore {
    let capacity = usize::try_from(config.max_sessions).unwrap_or(usize::MAX);
    AppStore::Memory(BoundedStore::new(capacity))
}

/// The store `--store` names: a fresh memory store, or Redis, which must
/// answer within [`STORE_CONNECT_TIMEOUT`]. The error is one line that never
/// holds a password.
pub async fn open_store(config: &Config) -> Result<AppStore, String> {
    match &config.store {
        StoreChoice::Memory => Ok(memory_store(config)),
        StoreChoice::Redis(url) => store::RedisStore::connect(url, STORE_CONNECT_TIMEOUT)
            .await
            .map(AppStore::Redis)
            .map_err(|err| err.to_string()),
    }
}

/// The whole application around a given store, so tests can watch it.
/// Spawns the store's background work, so it must run inside a Tokio
/// runtime. Replies name `config.instance` (main sets it to the bound
/// address when no `--instance` was given).
pub fn app_with_store(config: &Config, store: AppStore) -> Router {
    app_with_lab(config, store, None)
}

/// The whole application around a given store, linked to the cross-origin
/// lab when there is one: the page then knows the lab's port, may connect
/// to the lab's origins, and the main listener serves the lab's ledger.
pub fn app_with_lab(config: &Config, store: AppStore, lab: Option<LabLink>) -> Router {
    store.spawn_maintenance(config.idle_timeout());
    let instance = config.instance.clone().unwrap_or_else(|| "unnamed".into());
    let lab_origins = lab.as_ref().map(LabLink::origins).unwrap_or_default();
    let headers = ResponseHeaders::new(&instance, lab_origins.iter().map(String::as_str));
    // axum boxes each layer it is given around every route, and clones it per
    // request: so each group of routes gets its whole stack in one `layer`
    // call, the session routes the shared layers and the session layers.
    // Shared by every response: the request log and the security headers.
    let shared_layers = || {
        ServiceBuilder::new()
            .layer(middleware::from_fn(logging::log_request))
            .layer(MapResponseLayer::new({
                let headers = headers.clone();
                move |response| headers.apply(response)
            }))
    };
    let page_settings = page::PageSettings {
        lab_port: lab.as_ref().map(|lab| lab.port),
    };
    let ledger = lab.map(|lab| lab.ledger);
    let served_by = ServedBy {
        name: Arc::from(instance.as_str()),
        store: store.kind(),
    };
    let routes_state = SessionRoutes {
        served_by: served_by.clone(),
        page: page_settings,
    };
    let readiness_store = store.clone();
    let session_routes = Router::new()
        .route("/", get(page::index))
        .route("/get-session-data", get(session_api::get_session_data))
        .route(
            "/update-session-data",
            post(session_api::update_session_data),
        )
        .route("/regenerate-session", post(session_api::regenerate_session))
        .route("/clear-session", post(session_api::clear_session))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(
            shared_layers()
                .layer(session_layer::SessionLayer::new(
                    store,
                    config.idle_timeout(),
                    config.secure_cookies,
                    served_by.clone(),
                    ledger.clone(),
                ))
                .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES)),
        )
        .with_state(routes_state);

    // The page's scripts and style, gzipped for clients that ask (every
    // browser does): about a quarter of the bytes. Only static files: the
    // page and the JSON replies carry the CSRF token, and compressing a
    // secret beside other content invites BREACH-style guessing.
    let static_files = ServiceBuilder::new()
        .layer(CompressionLayer::new().gzip(true))
        .service(
            ServeDir::new(STATIC_DIR)
                .call_fallback_on_method_not_allowed(true)
                .fallback(static_fallback.into_service()),
        );
    let other_routes = Router::new();
    #[cfg(feature = "bench-ceiling")]
    let other_routes = other_routes.route("/bench/ceiling", get(bench_ceiling::ceiling));
    let other_routes = match ledger {
        Some(ledger) => other_routes.route(
            "/lab/ledger",
            get(move |uri: axum::http::Uri| lab_ledger(ledger.clone(), uri)),
        ),
        None => other_routes,
    };
    let other_routes = other_routes
        .route("/healthz", get(healthz))
        .route("/readyz", get(move || readyz(readiness_store.clone())))
        .nest_service("/static", static_files)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(shared_layers());

    session_routes.merge(other_routes)
}

/// The session routes' state: what their replies and the page say about
/// the process.
#[derive(Clone)]
struct SessionRoutes {
    served_by: ServedBy,
    page: page::PageSettings,
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

/// `GET /lab/ledger?probe=P`: what reached the servers under a probe, in
/// arrival order.
async fn lab_ledger(ledger: Ledger, uri: axum::http::Uri) -> Result<Response, AppError> {
    let probe = lab::ledger::probe_of(uri.query())
        .filter(|probe| lab::ledger::valid_probe(probe))
        .ok_or(AppError::InvalidProbe)?;
    let requests = ledger.requests(probe);
    Ok(error::json_response(
        axum::http::StatusCode::OK,
        &serde_json::json!({ "probe": probe, "requests": requests }),
    ))
}

/// `GET /healthz`: the process is up (liveness).
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the session store answers (readiness); otherwise `503`
/// `store_unavailable`.
async fn readyz(store: AppStore) -> Result<&'static str, AppError> {
    if store.is_ready().await {
        Ok("ok")
    } else {
        Err(AppError::StoreUnavailable(
            "readiness check: no answer".into(),
        ))
    }
}

/// Missing static files get the JSON 404; other methods than GET and HEAD
/// the JSON 405 with its `Allow` header.
async fn static_fallback(method: Method) -> Response {
    if method == Method::GET || method == Method::HEAD {
        return AppError::NotFound.into_response();
    }
    let mut response = AppError::MethodNotAllowed.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET,HEAD"));
    response
}
