//! The claims check: what the page said about a request, held against what
//! Chromium did.
//!
//! Every explanation of a session exchange carries its claims
//! (`static/explain.js`, `Claims`; the page puts them on the explanation as
//! `data-claims`). The real-browser tour checks the newest explanation's
//! claims after each step against the DevTools protocol's Network events
//! from chromedriver's performance log, an observation independent of the
//! page and of the server's own report. The claim kinds it covers:
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
//! - `cookie_lifetime`: whether the `session_id` the reply set is persistent
//!   (`Max-Age` or `Expires`) or a browser-session cookie (neither), or none
//!   was set, against the raw `Set-Cookie`;
//! - `id_changed` (a login's claims, when the page can tell): whether the
//!   reply's `Set-Cookie` named another id than the `Cookie` the request
//!   carried, against the two values Chromium reported (compared here,
//!   never printed).

use std::collections::HashMap;
use std::error::Error;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::{Map, Value};

use crate::browser::{eval, BrowserLog};

/// One request as Chromium reported it.
#[derive(Debug, Default)]
struct Seen {
    /// When it was first reported, for "the latest request to a path".
    order: usize,
    method: String,
    url: String,
    /// The headers the page set (no `Cookie`).
    page_headers: Map<String, Value>,
    /// The headers that went on the wire, `Cookie` included.
    wire_headers: Option<Map<String, Value>>,
    status: Option<u64>,
    /// The raw response headers, `Set-Cookie` included.
    response_headers: Option<Map<String, Value>>,
}

/// The requests each browser session has reported so far (the log endpoint
/// hands each event out once).
static SEEN: LazyLock<Mutex<HashMap<String, HashMap<String, Seen>>>> =
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

/// Reads the performance log into the session's requests.
async fn read_network_log(client: &Client) -> Result<(), Box<dyn Error>> {
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
            }
            "Network.requestWillBeSentExtraInfo" => {
                seen.wire_headers = Some(headers(&params["headers"]));
            }
            "Network.responseReceived" => seen.status = params["response"]["status"].as_u64(),
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
fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

/// The names in a `Cookie` header, in order.
fn cookie_names(cookie: Option<&str>) -> Vec<String> {
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
    let Some(line) = set_cookie.unwrap_or_default().lines().find(|line| {
        line.trim()
            .strip_prefix("session_id=")
            .is_some_and(|rest| !rest.starts_with(';') && !rest.is_empty())
    }) else {
        return "none";
    };
    let attributes: Vec<String> = line
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_ascii_lowercase())
        .collect();
    let max_age = attributes
        .iter()
        .find_map(|attribute| attribute.strip_prefix("max-age="))
        .map(|seconds| seconds.parse::<i64>().unwrap_or(0));
    match max_age {
        Some(seconds) if seconds <= 0 => "none",
        Some(_) => "persistent",
        None if attributes.iter().any(|a| a.starts_with("expires=")) => "persistent",
        None => "browser-session",
    }
}

/// The value of the cookie `name` in a `Cookie` header.
fn cookie_value<'a>(cookie: Option<&'a str>, name: &str) -> Option<&'a str> {
    cookie
        .unwrap_or_default()
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

/// The id a `Set-Cookie` gives `session_id`, if it gives one.
fn set_cookie_id(set_cookie: Option<&str>) -> Option<&str> {
    set_cookie.unwrap_or_default().lines().find_map(|line| {
        let rest = line.trim().strip_prefix("session_id=")?;
        let value = rest.split(';').next().unwrap_or_default().trim();
        (!value.is_empty()).then_some(value)
    })
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
        if let Some(checked) = compare(client, &claims, method, path).await? {
            let session = client.session_id().await?.unwrap_or_default();
            let mut all = CHECKED
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let counts = all.entry(session).or_default();
            for kind in &checked {
                *counts.entry(kind).or_default() += 1;
            }
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

/// Holds the claims against the latest complete request to `path`; `None`
/// while Chromium has not reported it whole yet.
async fn compare(
    client: &Client,
    claims: &Value,
    method: &str,
    path: &str,
) -> Result<Option<Vec<&'static str>>, Box<dyn Error>> {
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
    let mut wrong = Vec::new();
    let mut checked = Vec::new();
    if let Some(claimed) = claims["cookiesSent"].as_array() {
        let claimed: Vec<&str> = claimed.iter().filter_map(Value::as_str).collect();
        let sent = cookie_names(header(wire, "cookie"));
        if claimed != sent {
            wrong.push(format!(
                "cookies sent: the page says {claimed:?}, Chromium sent {sent:?}"
            ));
        }
        checked.push("cookies_sent");
    }
    let token = header(&seen.page_headers, "x-csrf-token").is_some();
    if claims["tokenSent"].as_bool() != Some(token) {
        wrong.push(format!(
            "X-CSRF-Token: the page says {}, Chromium sent it: {token}",
            claims["tokenSent"]
        ));
    }
    checked.push("token_sent");
    let set = session_set_cookie(header(response, "set-cookie"));
    if claims["setCookie"].as_str() != Some(set) {
        wrong.push(format!(
            "Set-Cookie: the page says {}, Chromium received {set}",
            claims["setCookie"]
        ));
    }
    checked.push("set_cookie");
    if claims["status"].as_u64() != Some(status) {
        wrong.push(format!(
            "status: the page says {}, Chromium received {status}",
            claims["status"]
        ));
    }
    checked.push("status");
    if let Some(claimed) = claims.get("cookieLifetime") {
        let lifetime = session_cookie_lifetime(header(response, "set-cookie"));
        if claimed.as_str() != Some(lifetime) {
            wrong.push(format!(
                "cookie lifetime: the page says {claimed}, Chromium received {lifetime}"
            ));
        }
        checked.push("cookie_lifetime");
    }
    if let Some(claimed) = claims["idChanged"].as_bool() {
        let sent = cookie_value(header(wire, "cookie"), "session_id");
        let set = set_cookie_id(header(response, "set-cookie"));
        match (sent, set) {
            (Some(sent), Some(set)) if (sent != set) == claimed => {}
            (Some(sent), Some(set)) => wrong.push(format!(
                "id changed: the page says {claimed}, Chromium's Cookie and Set-Cookie ids differ: {}",
                sent != set
            )),
            _ => wrong.push(format!(
                "id changed: the page says {claimed}, but Chromium did not both send and receive a session_id"
            )),
        }
        checked.push("id_changed");
    }
    if wrong.is_empty() {
        Ok(Some(checked))
    } else {
        Err(format!(
            "the page's claims about {method} {path} are false: {}",
            wrong.join("; ")
        )
        .into())
    }
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
        set_cookie_id(Some("lab_lax=1\nsession_id=xyz; HttpOnly")),
        Some("xyz")
    );
    assert_eq!(set_cookie_id(Some("session_id=; Max-Age=0")), None);
}
