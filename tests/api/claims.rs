//! The claims check: what the page said about a request, held against what
//! Chromium did and what the server recorded.
//!
//! Every explanation of a session exchange carries its claims
//! (`static/explain.js`, `Claims`; the page puts them on the explanation as
//! `data-claims`), and the sentences are rendered from them. The
//! real-browser tour checks the newest explanation's claims after each step
//! against the DevTools protocol's Network events from chromedriver's
//! performance log, the body Chromium received and its cookie jar, an
//! observation independent of the page's script. The claim kinds it covers:
//!
//! - `cookies_sent`: the names of the cookies the request carried, in order,
//!   against Chromium's `Cookie` request header
//!   (`Network.requestWillBeSentExtraInfo`);
//! - `token_sent`: whether the script set `X-CSRF-Token`, against the
//!   request's headers (`Network.requestWillBeSent`);
//! - `set_cookie`: whether the reply set `session_id`, expired it or left it
//!   alone, against Chromium's raw `Set-Cookie` response headers
//!   (`Network.responseReceivedExtraInfo`);
//! - `status`: the status the page explained, against the one Chromium
//!   received (`Network.responseReceived`);
//! - `code`, `active`, `page_views`, `keys`: the error code, whether the
//!   session is live, its page views and how many keys its data holds,
//!   against the body Chromium received (`Network.getResponseBody`);
//! - `cookie_lifetime`: whether the `session_id` the reply set is persistent
//!   (`Max-Age` or `Expires`) or a browser-session cookie (neither), or none
//!   was set, against the raw `Set-Cookie`;
//! - `id_changed`: whether the `Set-Cookie` that set `session_id` carried
//!   another id than the request's `Cookie`, both read off the wire
//!   (compared here, never printed);
//! - `expires_at`: the expiry a sentence names, against the `Max-Age` of
//!   that `Set-Cookie` counted from the reply's `Date`;
//! - `changes`: an update's keys, which were set to what and which were
//!   removed (`null`), against the body Chromium sent (`postData`), and
//!   whether each key is in the data afterwards, against the reply's body;
//! - `page_set_cookie`: on a page load, that the page's own response
//!   (`GET /`) set `session_id`;
//! - `expired_at`: after the countdown ran out, that the browser dropped the
//!   session cookie, against Chromium's cookie jar (`Network.getAllCookies`);
//! - `burst`: of the updates sent together, how many were answered 200 and
//!   how many refused, against the statuses Chromium received, and how many
//!   hold their value in the data read afterwards, against the bodies
//!   Chromium sent and the read's reply; and the Network tip's "at most six
//!   connections to one host, the rest queued", against the connection each
//!   reply came over (`Network.responseReceived`, `connectionId`);
//! - `cookie_write`: after a script writes or deletes a cookie, whether
//!   `document.cookie` shows it, and whether the browser holds an `HttpOnly`
//!   cookie of that name, against Chromium's cookie jar
//!   (`Network.getAllCookies`).
//!
//! The lab's rows carry claims too (`static/lab-row.js`, `LabClaims`), and
//! [`crate::claims_lab`] checks them against Chromium and the ledger:
//! `preflight` (an `OPTIONS` went out first), `sent` (the request itself
//! went out and reached the server), `cookies_sent` (the `Cookie` header on
//! the wire and the ledger's names), `sec_fetch_site`, `readable` (the
//! script got the reply, or Chromium's CORS error), `allow_origin` (the
//! CORS headers of the reply the browser judged), `hidden_because` (which
//! CORS error), `kept_back_another_host`, `kept_back_samesite` and
//! `kept_back_third_party` (each cookie the row says the browser kept back,
//! and why), and `lab_cookies_set` (the jar holds the lab's cookies for the
//! target's host).

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{Map, Value};

use crate::browser::{eval, BrowserLog};

/// One request as Chromium reported it.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The protocol's request id.
    pub id: String,
    /// When it was first reported, for "the latest request to a path".
    pub order: usize,
    pub method: String,
    pub url: String,
    /// The body the page sent.
    pub post_data: Option<String>,
    /// The headers the page set (no `Cookie`).
    pub page_headers: Map<String, Value>,
    /// The headers that went on the wire, `Cookie` included: `None` while
    /// (or when) the request did not go out.
    pub wire_headers: Option<Map<String, Value>>,
    /// The cookies Chromium considered for it, each with the reasons it
    /// kept it back (none when it was sent).
    pub associated_cookies: Vec<(String, Vec<String>)>,
    pub status: Option<u64>,
    /// The connection the reply came over (`connectionId`).
    pub connection: Option<u64>,
    /// The raw response headers, `Set-Cookie` included.
    pub response_headers: Option<Map<String, Value>>,
    /// `Network.loadingFailed`: the CORS error, or the error text.
    pub failure: Option<String>,
}

/// The requests each browser session has reported so far (the log endpoint
/// hands each event out once).
pub(crate) static SEEN: LazyLock<Mutex<HashMap<String, HashMap<String, Seen>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How many times each claim kind was checked, by browser session.
static CHECKED: LazyLock<Mutex<HashMap<String, HashMap<&'static str, usize>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// How many times each claim kind was checked in this browser session.
pub(crate) async fn checked_counts(
    client: &Client,
) -> Result<HashMap<&'static str, usize>, Box<dyn Error>> {
    let session = client.session_id().await?.unwrap_or_default();
    let all = CHECKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(all.get(&session).cloned().unwrap_or_default())
}

/// Adds `counts` to the claim kinds checked in this browser session.
pub(crate) async fn count_checked(
    client: &Client,
    kinds: &[&'static str],
) -> Result<(), Box<dyn Error>> {
    let session = client.session_id().await?.unwrap_or_default();
    let mut all = CHECKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let counts = all.entry(session).or_default();
    for kind in kinds {
        *counts.entry(kind).or_default() += 1;
    }
    Ok(())
}

/// A DevTools protocol command, sent through chromedriver.
#[derive(Debug)]
pub(crate) struct Cdp(pub &'static str, pub Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &reqwest::Url,
        session: Option<&str>,
    ) -> Result<reqwest::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &reqwest::Url) -> (Method, Option<String>) {
        (
            Method::POST,
            Some(serde_json::json!({"cmd": self.0, "params": self.1}).to_string()),
        )
    }
}

mod url {
    pub type ParseError = <reqwest::Url as std::str::FromStr>::Err;
}

/// Every cookie in Chromium's jar, HttpOnly ones and other hosts' included.
pub(crate) async fn all_cookies(client: &Client) -> Result<Vec<Value>, Box<dyn Error>> {
    let reply = client
        .issue_cmd(Cdp("Network.getAllCookies", serde_json::json!({})))
        .await?;
    Ok(reply["cookies"].as_array().cloned().unwrap_or_default())
}

/// The body of a reply as Chromium received it, parsed as JSON (`Null`
/// when it is gone from Chromium's buffer or not JSON).
async fn response_body(client: &Client, id: &str) -> Result<Value, Box<dyn Error>> {
    let reply = client
        .issue_cmd(Cdp(
            "Network.getResponseBody",
            serde_json::json!({"requestId": id}),
        ))
        .await;
    let Ok(reply) = reply else {
        return Ok(Value::Null);
    };
    Ok(serde_json::from_str(reply["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null))
}

/// Reads the performance log into the session's requests.
pub(crate) async fn read_network_log(client: &Client) -> Result<(), Box<dyn Error>> {
    let session = client.session_id().await?.unwrap_or_default();
    let entries = client.issue_cmd(BrowserLog("performance")).await?;
    let mut all = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let requests = all.entry(session).or_default();
    for entry in entries.as_array().into_iter().flatten() {
        let Ok(message) = serde_json::from_str::<Value>(entry["message"].as_str().unwrap_or("{}"))
        else {
            continue;
        };
        let event = &message["message"];
        let params = &event["params"];
        let Some(id) = params["requestId"].as_str() else {
            continue;
        };
        let next = requests.len();
        let seen = requests.entry(id.to_owned()).or_insert_with(|| Seen {
            id: id.to_owned(),
            order: next,
            ..Seen::default()
        });
        let headers = |value: &Value| value.as_object().cloned().unwrap_or_default();
        match event["method"].as_str().unwrap_or_default() {
            "Network.requestWillBeSent" => {
                seen.method = params["request"]["method"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                seen.url = params["request"]["url"].as_str().unwrap_or("").to_owned();
                seen.page_headers = headers(&params["request"]["headers"]);
                seen.post_data = params["request"]["postData"].as_str().map(str::to_owned);
            }
            "Network.requestWillBeSentExtraInfo" => {
                seen.wire_headers = Some(headers(&params["headers"]));
                seen.associated_cookies = params["associatedCookies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let name = c["cookie"]["name"].as_str().unwrap_or_default().to_owned();
                        let reasons = c["blockedReasons"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect();
                        (name, reasons)
                    })
                    .collect();
            }
            "Network.loadingFailed" => {
                let cors = params["corsErrorStatus"]["corsError"].as_str();
                let text = params["errorText"].as_str().unwrap_or("failed");
                seen.failure = Some(cors.unwrap_or(text).to_owned());
            }
            "Network.responseReceived" => {
                let response = &params["response"];
                seen.status = response["status"].as_u64();
                // A number in the protocol, sent as a JSON float.
                seen.connection = response["connectionId"].as_f64().map(|id| id as u64);
            }
            "Network.responseReceivedExtraInfo" => {
                seen.response_headers = Some(headers(&params["headers"]));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A header's value, by name in any case; several values joined by `\n`
/// (as the protocol reports `Set-Cookie`).
pub(crate) fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

/// The names in a `Cookie` header, in order.
pub(crate) fn cookie_names(cookie: Option<&str>) -> Vec<String> {
    cookie
        .unwrap_or_default()
        .split(';')
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .filter(|name| !name.is_empty())
        .collect()
}

/// What `Set-Cookie` did to `session_id`: `set`, `removed` or `none`.
fn session_set_cookie(set_cookie: Option<&str>) -> &'static str {
    for line in set_cookie.unwrap_or_default().lines() {
        let Some(rest) = line.trim().strip_prefix("session_id=") else {
            continue;
        };
        let expired = rest.starts_with(';') && line.to_ascii_lowercase().contains("max-age=0");
        return if expired { "removed" } else { "set" };
    }
    "none"
}

/// What `Set-Cookie` made of `session_id`'s lifetime: `persistent`
/// (`Max-Age` above 0, or `Expires`), `browser-session` (neither), or
/// `none` (no `session_id` with a value).
fn session_cookie_lifetime(set_cookie: Option<&str>) -> &'static str {
    if set_cookie_value(set_cookie, "session_id").is_none() {
        return "none";
    }
    let has_expires = set_cookie.unwrap_or_default().lines().any(|line| {
        line.trim().starts_with("session_id=")
            && line.split(';').any(|attribute| {
                attribute
                    .trim()
                    .to_ascii_lowercase()
                    .starts_with("expires=")
            })
    });
    match set_cookie_max_age(set_cookie) {
        Some(seconds) if seconds <= 0 => "none",
        Some(_) => "persistent",
        None if has_expires => "persistent",
        None => "browser-session",
    }
}

/// Checks the newest explanation's claims, once: returns the claim kinds it
/// checked (none when the newest explanation makes no claims about a
/// request, or was checked before), or an error naming each contradiction.
pub(crate) async fn check_newest_claims(
    client: &Client,
) -> Result<Vec<&'static str>, Box<dyn Error>> {
    check_claims(
        client,
        "const li = document.querySelector('#explain li'); \
         if (!li || !li.dataset.claims || li.dataset.checked) return null; \
         li.dataset.checked = '1'; return li.dataset.claims;",
    )
    .await
}

/// [`check_newest_claims`] for the newest explanation whose claims are about
/// `path`, when others (that claim nothing) may have come after it.
pub(crate) async fn check_newest_claims_about(
    client: &Client,
    path: &str,
) -> Result<Vec<&'static str>, Box<dyn Error>> {
    check_claims(
        client,
        &format!(
            "const li = Array.from(document.querySelectorAll('#explain li')) \
               .find(li => li.dataset.claims && JSON.parse(li.dataset.claims).path === {}); \
             if (!li || li.dataset.checked) return null; \
             li.dataset.checked = '1'; return li.dataset.claims;",
            Value::String(path.to_owned())
        ),
    )
    .await
}

/// Checks the claims the script `pick` returns (null: none to check).
async fn check_claims(client: &Client, pick: &str) -> Result<Vec<&'static str>, Box<dyn Error>> {
    let claims = eval(client, pick).await?;
    let Some(claims) = claims.as_str() else {
        return Ok(Vec::new());
    };
    let claims: Value = serde_json::from_str(claims)?;
    let method = claims["method"].as_str().unwrap_or_default();
    let path = claims["path"].as_str().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        read_network_log(client).await?;
        if let Some(exchange) = latest_complete(client, method, path).await? {
            let checked = compare(client, &claims, &exchange).await?;
            count_checked(client, &checked).await?;
            return Ok(checked);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Chromium reported no complete {method} {path} for the claims {claims}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One complete request and its reply, as Chromium reported them.
struct Exchange {
    id: String,
    order: usize,
    url: String,
    post_data: Option<String>,
    page_headers: Map<String, Value>,
    wire: Map<String, Value>,
    response: Map<String, Value>,
    status: u64,
}

/// The latest request of `method` to `path` that Chromium has reported
/// whole; `None` while it has not.
async fn latest_complete(
    client: &Client,
    method: &str,
    path: &str,
) -> Result<Option<Exchange>, Box<dyn Error>> {
    let session = client.session_id().await?.unwrap_or_default();
    let all = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(seen) = all.get(&session).and_then(|requests| {
        requests
            .values()
            .filter(|seen| {
                seen.method == method
                    && reqwest::Url::parse(&seen.url).is_ok_and(|url| url.path() == path)
            })
            .max_by_key(|seen| seen.order)
    }) else {
        return Ok(None);
    };
    let (Some(wire), Some(response), Some(status)) =
        (&seen.wire_headers, &seen.response_headers, seen.status)
    else {
        return Ok(None);
    };
    Ok(Some(Exchange {
        id: seen.id.clone(),
        order: seen.order,
        url: seen.url.clone(),
        post_data: seen.post_data.clone(),
        page_headers: seen.page_headers.clone(),
        wire: wire.clone(),
        response: response.clone(),
        status,
    }))
}

/// What the claims check found: the kinds it checked and what was false.
#[derive(Default)]
struct Verdict {
    checked: Vec<&'static str>,
    wrong: Vec<String>,
}

impl Verdict {
    /// Records one check of `kind`; `said` and `saw` must be equal.
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, kind: &'static str, said: T, saw: T) {
        if said != saw {
            self.wrong.push(format!(
                "{kind}: the page says {said:?}, Chromium saw {saw:?}"
            ));
        }
        self.checked.push(kind);
    }
}

/// Holds the claims against a request and its reply as Chromium saw them.
async fn compare(
    client: &Client,
    claims: &Value,
    seen: &Exchange,
) -> Result<Vec<&'static str>, Box<dyn Error>> {
    let mut verdict = Verdict::default();
    let sent_cookie = header(&seen.wire, "cookie");
    if let Some(claimed) = claims["cookiesSent"].as_array() {
        let claimed: Vec<&str> = claimed.iter().filter_map(Value::as_str).collect();
        verdict.check(
            "cookies_sent",
            claimed,
            cookie_names(sent_cookie)
                .iter()
                .map(String::as_str)
                .collect(),
        );
    }
    let token = header(&seen.page_headers, "x-csrf-token").is_some();
    verdict.check("token_sent", claims["tokenSent"].as_bool(), Some(token));
    let set_cookie = header(&seen.response, "set-cookie");
    verdict.check(
        "set_cookie",
        claims["setCookie"].as_str(),
        Some(session_set_cookie(set_cookie)),
    );
    verdict.check("status", claims["status"].as_u64(), Some(seen.status));
    compare_body(client, claims, seen, &mut verdict).await?;
    if let Some(changed) = claims["idChanged"].as_bool() {
        let sent_id = cookie_value(sent_cookie, "session_id");
        let set_id = set_cookie_value(set_cookie, "session_id");
        verdict.check(
            "id_changed",
            Some(changed),
            set_id.map(|id| Some(id) != sent_id),
        );
    }
    // A browser-session cookie (no Max-Age: a login without "remember me")
    // carries no expiry to hold the claim against.
    if let (Some(expires), "set", Some(_)) = (
        claims["expiresAt"].as_str(),
        session_set_cookie(set_cookie),
        set_cookie_max_age(set_cookie),
    ) {
        let cookie_ends = header(&seen.response, "date")
            .and_then(unix_time)
            .zip(set_cookie_max_age(set_cookie))
            .map(|(date, max_age)| date + max_age);
        let said = unix_time(expires);
        let close = matches!((said, cookie_ends), (Some(a), Some(b)) if (a - b).abs() <= 2);
        verdict.check("expires_at", said, if close { said } else { cookie_ends });
    }
    if claims["changes"].is_array() {
        let sent: Value = serde_json::from_str(seen.post_data.as_deref().unwrap_or("null"))?;
        verdict.check("changes", patch_of(&claims["changes"]), patch_sent(&sent));
    }
    if let Some(claimed) = claims.get("cookieLifetime") {
        verdict.check(
            "cookie_lifetime",
            claimed.as_str(),
            Some(session_cookie_lifetime(set_cookie)),
        );
    }
    if claims["pageSetCookie"].is_string() {
        let page = page_set_cookie(client, &seen.url).await?;
        verdict.check("page_set_cookie", claims["pageSetCookie"].as_str(), page);
    }
    if claims["expiredAt"].is_string() && claims["reason"].is_null() {
        // "The browser dropped it": the jar holds no session_id for this host.
        let host = reqwest::Url::parse(&seen.url)?
            .host_str()
            .unwrap_or_default()
            .to_owned();
        let held = all_cookies(client)
            .await?
            .iter()
            .any(|c| c["name"] == "session_id" && c["domain"] == host.as_str());
        verdict.check(
            "expired_at",
            "dropped",
            if held { "still held" } else { "dropped" },
        );
    }
    if claims["burst"].is_object() {
        compare_burst(client, &claims["burst"], seen, &mut verdict).await?;
    }
    if claims["cookieWrite"].is_object() {
        compare_cookie_write(client, &claims["cookieWrite"], &seen.url, &mut verdict).await?;
    }
    if verdict.wrong.is_empty() {
        Ok(verdict.checked)
    } else {
        Err(format!(
            "the page's claims about {} {} are false: {}",
            claims["method"],
            claims["path"],
            verdict.wrong.join("; ")
        )
        .into())
    }
}

/// The claims the server's reply confirms: the error code, whether the
/// session is live, its page views, its keys, and which keys an update
/// left in the data.
async fn compare_body(
    client: &Client,
    claims: &Value,
    seen: &Exchange,
    verdict: &mut Verdict,
) -> Result<(), Box<dyn Error>> {
    let body = response_body(client, &seen.id).await?;
    if body.is_null() {
        return Ok(());
    }
    verdict.check(
        "code",
        claims["code"].as_str(),
        body["error"]["code"].as_str(),
    );
    let session = &body["session"];
    let error = body["error"].is_object();
    verdict.check(
        "active",
        claims["active"].as_bool(),
        if error {
            None
        } else {
            session["active"].as_bool()
        },
    );
    if claims["pageViews"].is_u64() {
        verdict.check(
            "page_views",
            claims["pageViews"].as_u64(),
            session["page_views"].as_u64(),
        );
    }
    if claims["keys"].is_u64() {
        let keys = body["data"].as_object().map(|data| data.len() as u64);
        verdict.check("keys", claims["keys"].as_u64(), keys);
    }
    if let Some(changes) = claims["changes"].as_array() {
        let claimed: Vec<(String, bool)> = changes
            .iter()
            .map(|c| {
                (
                    c["key"].as_str().unwrap_or_default().to_owned(),
                    c["present"] == true,
                )
            })
            .collect();
        let data = &body["data"];
        let held: Vec<(String, bool)> = claimed
            .iter()
            .map(|(key, _)| (key.clone(), data.get(key).is_some()))
            .collect();
        verdict.check("changes", claimed, held);
    }
    Ok(())
}

/// A burst's claims against the updates Chromium sent before the read
/// `seen` (the burst's own, the latest `sent` of them): whether an empty
/// update went just before them when the page says it opened a session,
/// how many were answered 200, how many refused, and how many of the
/// accepted ones hold their value in the data the read's reply carries.
async fn compare_burst(
    client: &Client,
    burst: &Value,
    seen: &Exchange,
    verdict: &mut Verdict,
) -> Result<(), Box<dyn Error>> {
    let count = burst["sent"].as_u64().unwrap_or(0) as usize;
    let updates: Vec<(Option<u64>, Option<String>)> = {
        let session = client.session_id().await?.unwrap_or_default();
        let all = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut updates: Vec<&Seen> = all
            .get(&session)
            .into_iter()
            .flat_map(|requests| requests.values())
            .filter(|s| {
                s.method == "POST"
                    && s.order < seen.order
                    && reqwest::Url::parse(&s.url).is_ok_and(|u| u.path() == "/update-session-data")
            })
            .collect();
        updates.sort_by_key(|s| s.order);
        let first = updates.len().saturating_sub(count);
        // "The page first sent one update with an empty patch": the update
        // just before the burst's own carried `{}`.
        let opener = first
            .checked_sub(1)
            .and_then(|i| updates[i].post_data.as_deref())
            .is_some_and(|body| body.trim() == "{}");
        if burst["opened"] == true {
            verdict.check("burst", burst["opened"].as_bool(), Some(opener));
        }
        if let Some(limit) = burst["connectionLimit"].as_u64() {
            // "The browser opens at most six connections to one host and
            // queues the rest": the burst's replies came over at most that
            // many connections, and, when more were sent, some connection
            // carried more than one of them.
            let connections: Vec<Option<u64>> =
                updates[first..].iter().map(|s| s.connection).collect();
            let distinct: HashSet<u64> = connections.iter().flatten().copied().collect();
            let all_known = connections.iter().all(Option::is_some);
            verdict.check(
                "burst",
                Some(limit),
                all_known.then(|| limit.max(distinct.len() as u64)),
            );
            if connections.len() as u64 > limit {
                verdict.check(
                    "burst",
                    "some waited for a connection",
                    if distinct.len() < connections.len() {
                        "some waited for a connection"
                    } else {
                        "each had a connection of its own"
                    },
                );
            }
        }
        updates[first..]
            .iter()
            .map(|s| (s.status, s.post_data.clone()))
            .collect()
    };
    let ok = updates
        .iter()
        .filter(|(status, _)| *status == Some(200))
        .count() as u64;
    let said_ok =
        burst["accepted"].as_u64().unwrap_or(0) + burst["newSessions"].as_u64().unwrap_or(0);
    verdict.check("burst", (count, said_ok), (updates.len(), ok));
    let said_refused: u64 = burst["refused"]
        .as_object()
        .map_or(0, |tally| tally.values().filter_map(Value::as_u64).sum());
    verdict.check("burst", said_refused, updates.len() as u64 - ok);
    if burst["newSessions"] == 0 && burst["arrived"].is_u64() {
        let data = response_body(client, &seen.id).await?["data"].clone();
        let held = updates
            .iter()
            .filter(|(status, _)| *status == Some(200))
            .filter_map(|(_, body)| serde_json::from_str::<Value>(body.as_deref()?).ok())
            .filter(|patch| {
                patch
                    .as_object()
                    .is_some_and(|p| p.iter().all(|(key, value)| data.get(key) == Some(value)))
            })
            .count() as u64;
        verdict.check("burst", burst["arrived"].as_u64(), Some(held));
    }
    Ok(())
}

/// A patch as the claims give it: each key with its JSON value, `None` for a
/// removal, and values shortened by the page (cut with "…") left out.
fn patch_of(changes: &Value) -> Vec<(String, Option<Value>)> {
    changes
        .as_array()
        .into_iter()
        .flatten()
        .map(|change| {
            let key = change["key"].as_str().unwrap_or_default().to_owned();
            let value = change["value"].as_str().map(|text| {
                if text.contains('…') {
                    Value::String("(shortened)".to_owned())
                } else {
                    serde_json::from_str(text).unwrap_or(Value::Null)
                }
            });
            (key, value)
        })
        .collect()
}

/// The patch Chromium sent, in the shape of [`patch_of`].
fn patch_sent(sent: &Value) -> Vec<(String, Option<Value>)> {
    sent.as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let value = match value {
                Value::Null => None,
                other
                    if serde_json::to_string(other).is_ok_and(|text| text.chars().count() > 80) =>
                {
                    Some(Value::String("(shortened)".to_owned()))
                }
                other => Some(other.clone()),
            };
            (key.clone(), value)
        })
        .collect()
}

/// What the latest page load's own response (`GET /` on the origin of
/// `url`) did to `session_id`.
async fn page_set_cookie(
    client: &Client,
    url: &str,
) -> Result<Option<&'static str>, Box<dyn Error>> {
    let session = client.session_id().await?.unwrap_or_default();
    let origin = reqwest::Url::parse(url)?.origin();
    let all = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(all.get(&session).and_then(|requests| {
        requests
            .values()
            .filter(|seen| {
                seen.method == "GET"
                    && reqwest::Url::parse(&seen.url)
                        .is_ok_and(|page| page.path() == "/" && page.origin() == origin)
            })
            .max_by_key(|seen| seen.order)
            .and_then(|seen| seen.response_headers.as_ref())
            .map(|headers| session_set_cookie(header(headers, "set-cookie")))
    }))
}

/// A cookie write's claims against Chromium's jar: whether
/// `document.cookie` shows the cookie (a cookie of that name for the page's
/// host that is not HttpOnly, with the written value unless deleting),
/// whether an HttpOnly cookie of that name is held, and, for a refused write
/// said to have kept the old value, that the jar still holds one the script
/// sees.
async fn compare_cookie_write(
    client: &Client,
    write: &Value,
    url: &str,
    verdict: &mut Verdict,
) -> Result<(), Box<dyn Error>> {
    let host = reqwest::Url::parse(url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    let name = write["name"].as_str().unwrap_or_default();
    let written = write["written"].as_str().unwrap_or_default();
    let jar: Vec<Value> = all_cookies(client)
        .await?
        .into_iter()
        .filter(|c| c["domain"] == host.as_str() && c["name"] == name)
        .collect();
    let deleting = write["deleting"] == true;
    let visible = jar.iter().any(|c| {
        c["httpOnly"] != true
            && (deleting || written.contains('…') || c["value"].as_str() == Some(written))
    });
    verdict.check(
        "cookie_write",
        write["visibleAfter"].as_bool(),
        Some(visible),
    );
    if write["httpOnlyHeld"] == true {
        let held = jar.iter().any(|c| c["httpOnly"] == true);
        verdict.check("cookie_write", Some(true), Some(held));
    }
    if write["keptOld"] == true {
        // The write was refused and the earlier cookie, visible to the
        // script, is still there.
        let kept = jar.iter().any(|c| c["httpOnly"] != true);
        verdict.check("cookie_write", Some(true), Some(kept));
    }
    Ok(())
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie_value<'a>(cookie: Option<&'a str>, name: &str) -> Option<&'a str> {
    cookie?.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// The value `Set-Cookie` lines give cookie `name`, when they set it.
fn set_cookie_value<'a>(set_cookie: Option<&'a str>, name: &str) -> Option<&'a str> {
    set_cookie?.lines().find_map(|line| {
        let (pair, _) = line.trim().split_once(';').unwrap_or((line.trim(), ""));
        let (key, value) = pair.split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

/// The `Max-Age` of the `Set-Cookie` line that sets `session_id`.
fn set_cookie_max_age(set_cookie: Option<&str>) -> Option<i64> {
    let line = set_cookie?
        .lines()
        .find(|line| line.trim().starts_with("session_id="))?;
    line.split(';').find_map(|attribute| {
        let (key, value) = attribute.trim().split_once('=')?;
        key.eq_ignore_ascii_case("max-age")
            .then(|| value.parse().ok())?
    })
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time
/// (`2026-12-02T01:50:23Z`) or an HTTP date (`Wed, 02 Dec 2026 01:20:23 GMT`).
fn unix_time(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let rfc3339 = text.starts_with(|c: char| c.is_ascii_digit());
    let (year, month, day, clock) =
        if let Some((date, clock)) = text.split_once('T').filter(|_| rfc3339) {
            let mut parts = date.split('-').map(str::parse::<i32>);
            let (year, month, day) = (
                parts.next()?.ok()?,
                parts.next()?.ok()?,
                parts.next()?.ok()?,
            );
            (
                year,
                u8::try_from(month).ok()?,
                u8::try_from(day).ok()?,
                clock.trim_end_matches('Z'),
            )
        } else {
            let words: Vec<&str> = text.split_whitespace().collect();
            let month = MONTHS.iter().position(|m| Some(m) == words.get(2))? + 1;
            (
                words.get(3)?.parse().ok()?,
                u8::try_from(month).ok()?,
                words.get(1)?.parse().ok()?,
                *words.get(4)?,
            )
        };
    let mut hms = clock.split(':').map(str::parse::<u8>);
    let (hour, minute, second) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(
        date.with_hms(hour, minute, second)
            .ok()?
            .assume_utc()
            .unix_timestamp(),
    )
}

#[test]
fn the_checker_reads_cookie_and_set_cookie_headers() {
    assert_eq!(
        cookie_names(Some("theme=dark; session_id=abc")),
        ["theme", "session_id"]
    );
    assert!(cookie_names(None).is_empty());
    assert_eq!(
        session_set_cookie(Some("session_id=abc; HttpOnly; Max-Age=1800")),
        "set"
    );
    assert_eq!(
        session_set_cookie(Some(
            "x=1\nsession_id=; HttpOnly; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        )),
        "removed"
    );
    assert_eq!(session_set_cookie(Some("lab_lax=1")), "none");
    assert_eq!(session_set_cookie(None), "none");
    assert_eq!(
        cookie_value(Some("theme=dark; session_id=abc"), "session_id"),
        Some("abc")
    );
    assert_eq!(
        set_cookie_value(Some("x=1\nsession_id=new; Max-Age=1800"), "session_id"),
        Some("new")
    );
    assert_eq!(
        set_cookie_value(Some("session_id=; Max-Age=0"), "session_id"),
        None
    );
    assert_eq!(
        set_cookie_max_age(Some("session_id=new; HttpOnly; Max-Age=1800")),
        Some(1800)
    );
    assert_eq!(
        unix_time("2026-12-02T01:50:23Z"),
        unix_time("Wed, 02 Dec 2026 01:50:23 GMT")
    );
    assert_eq!(unix_time("1970-01-01T00:01:00Z"), Some(60));
    assert_eq!(
        patch_of(
            &serde_json::json!([{"key": "a", "value": "42", "present": true}, {"key": "b", "value": null}])
        ),
        patch_sent(&serde_json::json!({"a": 42, "b": null}))
    );
}

#[test]
fn the_checker_tells_persistent_cookies_from_browser_session_ones_and_reads_ids() {
    assert_eq!(
        session_cookie_lifetime(Some("session_id=abc; HttpOnly; SameSite=Lax; Path=/")),
        "browser-session"
    );
    assert_eq!(
        session_cookie_lifetime(Some("x=1\nsession_id=abc; HttpOnly; Path=/; Max-Age=1800")),
        "persistent"
    );
    assert_eq!(
        session_cookie_lifetime(Some(
            "session_id=abc; Path=/; Expires=Thu, 01 Jan 2037 00:00:00 GMT"
        )),
        "persistent"
    );
    assert_eq!(
        session_cookie_lifetime(Some("session_id=; Path=/; Max-Age=0")),
        "none"
    );
    assert_eq!(session_cookie_lifetime(None), "none");
    assert_eq!(
        cookie_value(Some("theme=dark; session_id=abc"), "session_id"),
        Some("abc")
    );
    assert_eq!(cookie_value(Some("theme=dark"), "session_id"), None);
    assert_eq!(
        set_cookie_value(Some("lab_lax=1\nsession_id=xyz; HttpOnly"), "session_id"),
        Some("xyz")
    );
    assert_eq!(
        set_cookie_value(Some("session_id=; Max-Age=0"), "session_id"),
        None
    );
}
