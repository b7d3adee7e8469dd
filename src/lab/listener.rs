//! The lab listener: the "other origin" the page sends requests to.
//!
//! It shares the session store with the main listener and never writes a
//! learner's session: it reads sessions, and the only session it creates
//! and the only `session_id` it sets are the attacker's planted one
//! (`plant.rs`). Its own cookies are `lab_lax` (SameSite=Lax) and
//! `lab_none` (SameSite=None; Secure), set by its page for its host.

use askama::Template;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, CONTENT_SECURITY_POLICY, HOST, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde::Serialize;
use tower::util::MapResponseLayer;
use tower::{Layer as _, ServiceExt as _};
use tower_sessions::SessionStore as _;

use super::cors::{credentials_headers, wildcard_layer, AllowList, CorsMode};
use super::ledger::{probe_of, query_value, valid_probe, Entry, Ledger};
use super::plant::{self, PlantedIds};
use crate::assets::file_response;
use crate::cookies::{session_cookie, ReceivedCookies};
use crate::error::{json_response, AppError};
use crate::html::render_html;
use crate::limits;
use crate::security::{content_security_policy_value, ResponseHeaders};
use crate::session::SessionRules;
use crate::store::AppStore;

/// The cookies the lab's page sets for its own host.
const LAB_COOKIES: [&str; 2] = [
    "lab_lax=1; SameSite=Lax; Path=/",
    "lab_none=1; SameSite=None; Secure; Path=/",
];

/// What the lab's handlers share.
#[derive(Clone)]
pub(super) struct Lab {
    pub(super) store: AppStore,
    pub(super) ledger: Ledger,
    /// The main listener's origins.
    pub(super) allow: AllowList,
    /// The lab's own origins: the only pages that may plant a session id.
    pub(super) own: AllowList,
    /// How the main listener's sessions live: a planted session lives the
    /// same way. Under `--unsafe-keep-id-on-login` the page shows a red
    /// banner.
    pub(super) rules: SessionRules,
    pub(super) planted: PlantedIds,
}

/// Where the lab listens and what it links to.
#[derive(Clone, Debug)]
pub struct LabOrigins {
    /// The main listener's origins: the CORS allow-list, and the only
    /// targets the lab's page will aim at.
    pub main: AllowList,
    /// The lab's own origins (`AllowList::for_main` of the lab's port).
    pub own: AllowList,
}

/// The lab's router, on the main listener's `store` and with its session
/// `rules` (a planted session lives by them; without the fixation defence
/// the lab's page says so).
pub fn app(
    store: AppStore,
    ledger: Ledger,
    origins: LabOrigins,
    instance: &str,
    rules: SessionRules,
) -> Router {
    let LabOrigins { main: allow, own } = origins;
    let headers = ResponseHeaders::new(instance, allow.origins());
    Router::new()
        .route("/", get(page))
        .route("/lab/echo", any(echo))
        .route(
            "/lab/plant",
            post(plant::plant).fallback(crate::error::method_not_allowed),
        )
        .route(
            "/lab/planted",
            get(plant::planted)
                .options(plant::planted)
                .fallback(crate::error::method_not_allowed),
        )
        .route(
            "/static/lab.js",
            get(|headers: HeaderMap| async move { file_response("lab.js", &headers) }),
        )
        .route(
            "/static/plant-explain.js",
            get(|headers: HeaderMap| async move { file_response("plant-explain.js", &headers) }),
        )
        .route(
            "/static/style.css",
            get(|headers: HeaderMap| async move { file_response("style.css", &headers) }),
        )
        .fallback(crate::error::not_found)
        .layer(MapResponseLayer::new(move |response| {
            headers.apply(response)
        }))
        .with_state(Lab {
            store,
            ledger,
            allow,
            own,
            rules,
            planted: PlantedIds::default(),
        })
}

/// What the lab page's URL held, which decides what the page offers
/// first and how it says why it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    /// A valid probe and a target this lab takes: the attacker's demo.
    Attack,
    /// A valid probe and no target: the fixation steps.
    Fixation,
    /// A valid probe and a target this lab does not take.
    TargetRefused,
    /// A `probe` that is not a valid probe.
    BadProbe,
    /// A target and no probe.
    TargetWithoutProbe,
    /// Neither: opened by hand or by a link without a query.
    Bare,
}

impl Opened {
    /// From the probe and the target the page took, and whether the URL
    /// named either at all.
    fn of(probe: bool, probe_named: bool, target: bool, target_named: bool) -> Self {
        match (probe, target) {
            (true, true) => Self::Attack,
            (true, false) if target_named => Self::TargetRefused,
            (true, false) => Self::Fixation,
            (false, _) if probe_named => Self::BadProbe,
            (false, _) if target_named => Self::TargetWithoutProbe,
            (false, _) => Self::Bare,
        }
    }
}

/// `templates/lab.html`.
#[derive(Template)]
#[template(path = "lab.html")]
struct LabPage<'a> {
    /// What the URL held.
    opened: Opened,
    /// This listener's origin, as the browser named it.
    origin: &'a str,
    /// The probe to send with, when the learner's page opened this one.
    probe: &'a str,
    /// The learner's page's origin, when it is one of the main listener's.
    target: &'a str,
    /// False under `--unsafe-keep-id-on-login`.
    fixation_defence: bool,
    /// The main listener's own origins, space-separated: the page says
    /// whether a planted cookie reaches them.
    main_origins: &'a str,
    /// `light` or `dark`, from the `theme` cookie.
    theme: &'a str,
}

/// `GET /`: says what this is, and sets the lab's two cookies.
async fn page(State(lab): State<Lab>, request: Request) -> Result<Response, AppError> {
    let query = request.uri().query();
    let asked = request
        .headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok());
    let origin = format!("http://{}", asked.unwrap_or("this host"));
    let probe = query_value(query, "probe").filter(|probe| valid_probe(probe));
    let target = query_value(query, "target").filter(|target| lab.allow.allows(target, asked));
    // The learner's page watches the ledger: that this page was served,
    // and whether it took the target, ends its wait early when it did not.
    if let Some(probe) = probe {
        let mut entry = Entry::of(request.method(), request.headers());
        entry.path = Some("/".to_owned());
        entry.status = Some(StatusCode::OK.as_u16());
        entry.target_accepted = Some(target.is_some());
        lab.ledger.record(probe, entry);
    }
    let opened = Opened::of(
        probe.is_some(),
        query_value(query, "probe").is_some(),
        target.is_some(),
        query_value(query, "target").is_some(),
    );
    let mut response = render_html(&LabPage {
        opened,
        origin: &origin,
        probe: probe.unwrap_or_default(),
        target: target.unwrap_or_default(),
        fixation_defence: !lab.rules.keep_id_on_login,
        main_origins: &lab.allow.origins().collect::<Vec<_>>().join(" "),
        // The learner's theme cookie reaches this page when it is on the
        // same host (cookies ignore ports); on another host it is light.
        theme: ReceivedCookies::of(request.headers()).theme(),
    })?;
    // The page's script sends to its target: a target on the host this
    // page was asked under (`http://demo.test:MAIN`) is not among the
    // listener's own origins, so the page names it in its own policy.
    if let Some(target) = target.filter(|target| lab.allow.origins().all(|own| own != *target)) {
        response.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            content_security_policy_value(lab.allow.origins().chain([target])),
        );
    }
    for cookie in LAB_COOKIES {
        response
            .headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static(cookie));
    }
    Ok(response)
}

/// `GET`, `POST` and `OPTIONS /lab/echo?probe=P&cors=MODE`: writes the
/// request into the ledger, then answers under the mode's CORS policy.
async fn echo(State(lab): State<Lab>, request: Request) -> Response {
    let query = request.uri().query();
    let Some(probe) = probe_of(query).filter(|probe| valid_probe(probe)) else {
        return AppError::InvalidProbe.into_response();
    };
    let Some(mode) = CorsMode::of_query(query) else {
        return AppError::InvalidCorsMode.into_response();
    };
    let probe = probe.to_owned();
    // What arrived: written into the ledger, and echoed to the script.
    let seen = Entry::of(request.method(), request.headers());
    lab.ledger.record(&probe, seen.clone());
    match mode {
        CorsMode::Wildcard => {
            let answer = tower::service_fn(move |request: Request| {
                let lab = lab.clone();
                let probe = probe.clone();
                let seen = seen.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(answer(&lab, &probe, seen, request).await)
                }
            });
            match wildcard_layer().layer(answer).oneshot(request).await {
                Ok(response) => response.map(Body::new),
                Err(never) => match never {},
            }
        }
        CorsMode::Credentials => {
            let extra = credentials_headers(request.headers(), request.method(), &lab.allow);
            let mut response = if request.method() == Method::OPTIONS {
                StatusCode::NO_CONTENT.into_response()
            } else {
                answer(&lab, &probe, seen, request).await
            };
            response.headers_mut().extend(extra);
            response
        }
        CorsMode::None => {
            if request.method() == Method::OPTIONS {
                StatusCode::NO_CONTENT.into_response()
            } else {
                answer(&lab, &probe, seen, request).await
            }
        }
    }
}

/// What `/lab/echo` answers to a GET or POST.
#[derive(Serialize)]
struct Echo<'a> {
    probe: &'a str,
    method: &'a str,
    origin: Option<String>,
    sec_fetch_site: Option<String>,
    cookies_received: Vec<String>,
    session: EchoSession,
}

#[derive(Serialize)]
struct EchoSession {
    active: bool,
}

/// The echo of a GET or POST, from what the ledger wrote down (`seen`); a
/// POST body is read, at most 16 KiB, and not parsed. Other methods get
/// `405`.
async fn answer(lab: &Lab, probe: &str, seen: Entry, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::POST {
        let mut response = AppError::MethodNotAllowed.into_response();
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, POST, OPTIONS"));
        return response;
    }
    let (parts, body) = request.into_parts();
    if to_bytes(body, limits::MAX_BODY_BYTES).await.is_err() {
        return AppError::PayloadTooLarge.into_response();
    }
    let active = match session_cookie(&parts.headers).id() {
        Some(id) => match lab.store.load(&id).await {
            Ok(record) => record.is_some(),
            Err(err) => return AppError::from(err).into_response(),
        },
        None => false,
    };
    json_response(
        StatusCode::OK,
        &Echo {
            probe,
            method: method.as_str(),
            origin: seen.origin,
            sec_fetch_site: seen.sec_fetch_site,
            cookies_received: seen.cookies_received,
            session: EchoSession { active },
        },
    )
}
