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
//! request: so each route gets its whole stack in one `layer` call. The
//! session routes but `GET /` are also direct routes
//! ([`crate::server::Routes`]): the same stack around the same handler,
//! built as one type, which a request reaches without the router. That
//! saves about 2,600 instructions of a read's 36,700 (BENCHMARKS.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{DefaultBodyLimit, FromRef, Request};
use axum::handler::Handler;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on_service, MethodFilter, MethodRouter, Route};
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
use crate::server::{DirectRoute, Routes};
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
pub fn app(config: &Config, store: AppStore, lab: Option<&LabLink>) -> Routes {
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

    // With the lab, its recorder sits between the shared layers and the
    // session layer; without it, nothing does (no layer that would only
    // pass requests on).
    match lab {
        Some(lab) => {
            let recorder = RecordProbes::new(lab.ledger.clone());
            // Only the page names the lab on the host it was asked under.
            let index = get(page::index).layer(middleware::from_fn_with_state(
                Arc::new(lab.clone()),
                lab::page_policy,
            ));
            session_app(sessions, index, state, other_routes, |sessions| {
                shared_layers()
                    .layer(recorder.clone())
                    .layer(sessions)
                    .layer(limit)
            })
        }
        None => session_app(
            sessions,
            get(page::index),
            state,
            other_routes,
            |sessions| shared_layers().layer(sessions).layer(limit),
        ),
    }
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

/// A session route's handler, called with the request and the routes'
/// state. Every handler here is an `async fn`, whose future axum boxes.
type HandlerFn = fn(Request, SessionRoutes) -> BoxedResponse;

type BoxedResponse = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The two methods of the session routes.
#[derive(Clone, Copy)]
enum Verb {
    Get,
    Post,
}

impl Verb {
    fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
        }
    }

    /// For the router: `GET` also answers `HEAD`, as axum's `get` does.
    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
        }
    }
}

/// What a route does with the session.
#[derive(Clone, Copy)]
enum Use {
    /// Only reads it: no turn across instances (`SessionLayer::read_only`).
    Reads,
    /// May change it.
    Changes,
}

/// The session routes but `GET /`: method, path, what the route does with
/// the session, handler.
fn session_endpoints() -> [(Verb, &'static str, Use, HandlerFn); 7] {
    [
        (
            Verb::Get,
            "/get-session-data",
            Use::Reads,
            |request, state| session_api::get_session_data.call(request, state),
        ),
        (
            Verb::Post,
            "/update-session-data",
            Use::Changes,
            |request, state| session_api::update_session_data.call(request, state),
        ),
        (
            Verb::Post,
            "/regenerate-session",
            Use::Changes,
            |request, state| session_api::regenerate_session.call(request, state),
        ),
        (
            Verb::Post,
            "/clear-session",
            Use::Changes,
            |request, state| session_api::clear_session.call(request, state),
        ),
        (Verb::Post, "/login", Use::Changes, |request, state| {
            login::login.call(request, state)
        }),
        // Logging out is clearing the session: one handler for both.
        (Verb::Post, "/logout", Use::Changes, |request, state| {
            session_api::clear_session.call(request, state)
        }),
        (Verb::Get, "/me", Use::Reads, |request, state| {
            login::me.call(request, state)
        }),
    ]
}

/// The session routes merged with `other_routes`. Each session route gets
/// its whole stack from `stack` in one `layer` call, given the session
/// layer that fits it (`read_only` where the route only reads). In the
/// router, a wrong method gets the JSON `405` through the same stack;
/// `index` is `GET /`, with its own layer when the lab is on. The routes
/// of [`session_endpoints`] are also direct routes: the same stack around
/// the same handler, without the router's work per request.
fn session_app<L>(
    sessions: SessionLayer,
    index: MethodRouter<SessionRoutes>,
    state: SessionRoutes,
    other_routes: Router,
    stack: impl Fn(SessionLayer) -> L,
) -> Routes
where
    L: Layer<Route> + Layer<Endpoint> + Clone + Send + Sync + 'static,
    <L as Layer<Route>>::Service:
        Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <<L as Layer<Route>>::Service as Service<Request>>::Response: IntoResponse + 'static,
    <<L as Layer<Route>>::Service as Service<Request>>::Future: Send + 'static,
    <L as Layer<Endpoint>>::Service:
        Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <<L as Layer<Endpoint>>::Service as Service<Request>>::Response: IntoResponse,
    <<L as Layer<Endpoint>>::Service as Service<Request>>::Future: Send + 'static,
{
    let layer_for = |session_use| match session_use {
        Use::Reads => stack(sessions.read_only()),
        Use::Changes => stack(sessions.clone()),
    };
    let mut router = Router::new().route(
        "/",
        index
            .fallback(error::method_not_allowed)
            .layer(layer_for(Use::Changes)),
    );
    let mut direct = Vec::new();
    for (verb, path, session_use, handler) in session_endpoints() {
        let endpoint = Endpoint {
            state: state.clone(),
            handler,
        };
        router = router.route(
            path,
            on_service(verb.filter(), endpoint.clone())
                .fallback(error::method_not_allowed)
                .layer(layer_for(session_use)),
        );
        direct.push(DirectRoute::new(
            verb.method(),
            path,
            layer_for(session_use).layer(endpoint),
        ));
    }
    Routes::new(router.with_state(state).merge(other_routes), direct)
}

/// A handler as a service of its own, with the state it reads: the end of
/// a session route's stack.
#[derive(Clone)]
struct Endpoint {
    state: SessionRoutes,
    handler: HandlerFn,
}

impl Service<Request> for Endpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = EndpointFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> EndpointFuture {
        EndpointFuture((self.handler)(request, self.state.clone()))
    }
}

/// The handler's future, as a service's.
struct EndpointFuture(BoxedResponse);

impl Future for EndpointFuture {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
    use tower::ServiceExt as _;

    use crate::store::BoundedStore;

    /// Status, headers but `Content-Length` (hyper writes it for a direct
    /// route), and body. A reply that creates a session (it sets a cookie)
    /// holds a new id and token: its cookie is left out and only the names
    /// of its body's members are kept.
    async fn seen(response: Response) -> (u16, Vec<(String, String)>, String) {
        let status = response.status().as_u16();
        let created = response.headers().contains_key(SET_COOKIE);
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| *name != CONTENT_LENGTH && *name != SET_COOKIE)
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        if !created {
            return (status, headers, body);
        }
        let members: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&body).unwrap();
        let names: Vec<&String> = members.keys().collect();
        (status, headers, format!("{names:?}"))
    }

    fn request(verb: Verb, path: &str) -> Request {
        Request::builder()
            .method(verb.method())
            .uri(path)
            .header("host", "127.0.0.1:3000")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap()
    }

    /// Each route once through its direct route and once through the
    /// router, without a session: the same status, headers and body.
    #[tokio::test]
    async fn each_direct_route_answers_what_the_router_answers() {
        let store = AppStore::Memory(BoundedStore::new(16));
        let routes = app(&Config::default(), store, None);
        for (verb, path, _, _) in session_endpoints() {
            let direct = seen(routes.answer(request(verb, path)).await).await;
            let routed = seen(
                routes
                    .router()
                    .clone()
                    .oneshot(request(verb, path))
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(direct, routed, "{path}");
            assert!(direct.0 != 404 && direct.0 != 405, "{path}: {}", direct.0);
        }
    }
}
