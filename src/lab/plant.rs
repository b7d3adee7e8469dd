//! Lesson 10 from the attacker's side: session fixation through another
//! port of the same host.
//!
//! `POST /lab/plant?probe=P` creates a new anonymous session in the shared
//! store, as an attacker who visited the site would hold, remembers its id
//! under `P` (here, server-side, never in a reply) and sends it to the
//! browser: `Set-Cookie: session_id=<id>; HttpOnly; SameSite=Lax; Path=/`,
//! no `Domain`. Cookies ignore ports, so a browser that got it from
//! `127.0.0.1:LAB` sends it to `127.0.0.1:MAIN` too, in place of the
//! learner's own cookie; from `localhost:LAB` it lands on another host.
//! Only the lab's own pages may plant (the Origin check below): the
//! learner's page opens the lab's page for it.
//!
//! `GET /lab/planted?probe=P` is the attacker's second step, after the
//! learner logged in: it looks the planted id up, read only (no activity,
//! no write). With the fixation defence, the login gave the session a new
//! id and deleted the old one, so the planted id finds nothing; under
//! `--unsafe-keep-id-on-login` it finds the learner, logged in. CORS: the
//! `credentials` policy, so the learner's page may read it.
//!
//! The planted ids are bounded like the ledger's probes ([`ByProbe`]).
//! Both steps are written into the ledger, with the planted id's
//! fingerprint and what it found.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse as _, Response};
use serde::Serialize;
use tower_sessions::session::Id;

use super::cors::{credentials_headers, AllowList};
use super::ledger::{probe_of, valid_probe, ByProbe, Entry, PlantedSession};
use super::listener::Lab;
use crate::cookies::{SESSION_COOKIE, SET_COOKIE_ECHO};
use crate::error::{json_response, AppError};
use crate::security::SEC_FETCH_SITE;
use crate::session::{create_anonymous, peek};

/// The attributes of the planted cookie: the session cookie's own, without
/// a lifetime (a browser-session cookie) and without `Domain`, so it
/// belongs to the host the lab was asked under, whatever its port.
const PLANTED_ATTRIBUTES: &str = "; HttpOnly; SameSite=Lax; Path=/";

/// The ids the lab planted, by probe; clones share them.
#[derive(Clone, Debug, Default)]
pub struct PlantedIds {
    inner: Arc<Mutex<ByProbe<Planted>>>,
}

/// One planted id, and its fingerprint as the session's replies show it.
#[derive(Clone, Debug)]
struct Planted {
    id: Id,
    fingerprint: String,
}

impl PlantedIds {
    fn remember(&self, probe: &str, planted: Planted) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(probe, planted, Instant::now());
    }

    fn find(&self, probe: &str) -> Option<Planted> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(probe, Instant::now())
            .cloned()
    }
}

/// What `/lab/plant` answers.
#[derive(Serialize)]
struct PlantReply<'a> {
    probe: &'a str,
    planted_fingerprint: &'a str,
}

/// What `/lab/planted` answers.
#[derive(Serialize)]
struct PlantedReply<'a> {
    probe: &'a str,
    planted_fingerprint: Option<&'a str>,
    session: &'a PlantedSession,
}

/// `POST /lab/plant?probe=P` (see the module doc).
pub(super) async fn plant(State(lab): State<Lab>, request: Request) -> Response {
    let Some(probe) = probe_of(request.uri().query()).filter(|probe| valid_probe(probe)) else {
        return AppError::InvalidProbe.into_response();
    };
    let mut entry = Entry::of(request.method(), request.headers());
    entry.path = Some("/lab/plant".to_owned());
    let outcome = match from_this_lab(request.headers(), &lab.own) {
        Ok(()) => create_anonymous(&lab.store, lab.rules).await,
        Err(err) => Err(err),
    };
    let response = match outcome {
        Ok(created) => {
            let planted = Planted {
                id: created.id,
                fingerprint: created.fingerprint,
            };
            entry.planted_fingerprint = Some(planted.fingerprint.clone());
            let response = planted_cookie(probe, &planted);
            lab.planted.remember(probe, planted);
            response
        }
        Err(err) => {
            entry.code = Some(err.status_and_code().1);
            err.into_response()
        }
    };
    entry.status = Some(response.status().as_u16());
    lab.ledger.record(probe, entry);
    response
}

/// The reply to a plant: the fingerprint, and the cookie that carries the
/// id, repeated with the id redacted in `X-Set-Cookie-Echo` for the lab's
/// page (a script may not read `Set-Cookie`).
fn planted_cookie(probe: &str, planted: &Planted) -> Response {
    let mut response = json_response(
        StatusCode::OK,
        &PlantReply {
            probe,
            planted_fingerprint: &planted.fingerprint,
        },
    );
    let cookie = format!("{SESSION_COOKIE}={}{PLANTED_ATTRIBUTES}", planted.id);
    let echo = format!("{SESSION_COOKIE}=<redacted>{PLANTED_ATTRIBUTES}");
    match (HeaderValue::try_from(cookie), HeaderValue::try_from(echo)) {
        (Ok(cookie), Ok(echo)) => {
            response.headers_mut().append(SET_COOKIE, cookie);
            response.headers_mut().append(SET_COOKIE_ECHO.clone(), echo);
            response
        }
        _ => AppError::Internal("the planted cookie is not a header value".into()).into_response(),
    }
}

/// Refuses a plant that does not come from one of the lab's own pages:
/// an `Origin` that is not one of the lab's origins (as `own` allows them,
/// the host asked included), or a browser that says the request comes
/// from another origin. curl sends neither header and may plant.
fn from_this_lab(headers: &HeaderMap, own: &AllowList) -> Result<(), AppError> {
    let fetch_site = headers.get(&SEC_FETCH_SITE).map(HeaderValue::as_bytes);
    if fetch_site.is_some_and(|site| site != b"same-origin" && site != b"none") {
        return Err(AppError::CrossOriginRejected);
    }
    let host = headers.get(HOST).and_then(|host| host.to_str().ok());
    match headers.get(ORIGIN).map(HeaderValue::to_str) {
        None => Ok(()),
        Some(Ok(origin)) if own.allows(origin, host) => Ok(()),
        Some(_) => Err(AppError::CrossOriginRejected),
    }
}

/// `GET` (and a preflight `OPTIONS`) `/lab/planted?probe=P` (see the
/// module doc).
pub(super) async fn planted(State(lab): State<Lab>, request: Request) -> Response {
    let Some(probe) = probe_of(request.uri().query()).filter(|probe| valid_probe(probe)) else {
        return AppError::InvalidProbe.into_response();
    };
    let mut entry = Entry::of(request.method(), request.headers());
    entry.path = Some("/lab/planted".to_owned());
    let cors = credentials_headers(request.headers(), request.method(), &lab.allow);
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        look_up(&lab, probe, &mut entry).await
    };
    response.headers_mut().extend(cors);
    entry.status = Some(response.status().as_u16());
    lab.ledger.record(probe, entry);
    response
}

/// What the id planted under `probe` finds now, as the reply and in the
/// ledger's `entry`.
async fn look_up(lab: &Lab, probe: &str, entry: &mut Entry) -> Response {
    let planted = lab.planted.find(probe);
    let state = match &planted {
        Some(planted) => peek(&lab.store, &planted.id, lab.rules).await,
        None => Ok(None),
    };
    let state = match state {
        Ok(state) => state,
        Err(err) => {
            entry.code = Some(err.status_and_code().1);
            return err.into_response();
        }
    };
    let session = PlantedSession {
        active: state.is_some(),
        user: state
            .as_ref()
            .and_then(|state| state.user().map(str::to_owned)),
    };
    let fingerprint = planted.map(|planted| planted.fingerprint);
    let response = json_response(
        StatusCode::OK,
        &PlantedReply {
            probe,
            planted_fingerprint: fingerprint.as_deref(),
            session: &session,
        },
    );
    entry.planted_fingerprint = fingerprint;
    entry.planted_session = Some(session);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::tests::headers;

    #[test]
    fn only_the_labs_own_pages_and_curl_may_plant() {
        let own = AllowList::for_main([127, 0, 0, 1].into(), 3001);

        for allowed in [
            headers(&[("host", "127.0.0.1:3001")]),
            headers(&[
                ("host", "127.0.0.1:3001"),
                ("origin", "http://127.0.0.1:3001"),
            ]),
            headers(&[
                ("host", "localhost:3001"),
                ("origin", "http://localhost:3001"),
            ]),
            headers(&[
                ("host", "demo.test:3001"),
                ("origin", "http://demo.test:3001"),
                ("sec-fetch-site", "same-origin"),
            ]),
        ] {
            assert!(from_this_lab(&allowed, &own).is_ok(), "{allowed:?}");
        }
        for refused in [
            headers(&[
                ("host", "127.0.0.1:3001"),
                ("origin", "http://127.0.0.1:3000"),
            ]),
            headers(&[
                ("host", "127.0.0.1:3001"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:3001"), ("origin", "null")]),
            headers(&[
                ("host", "other.test:3001"),
                ("origin", "http://demo.test:3001"),
            ]),
            headers(&[("host", "127.0.0.1:3001"), ("sec-fetch-site", "same-site")]),
            headers(&[("host", "127.0.0.1:3001"), ("sec-fetch-site", "cross-site")]),
        ] {
            assert!(
                matches!(
                    from_this_lab(&refused, &own),
                    Err(AppError::CrossOriginRejected)
                ),
                "{refused:?}"
            );
        }
    }
}
