//! The claims check for the lab's table: every row carries the claims its
//! sentences are rendered from (`static/lab-row.js`, `LabClaims`, on the row
//! as `data-claims`), and each is held against what Chromium reported for
//! the requests under the row's probe (chromedriver's performance log and
//! cookie jar) and against what the lab's ledger recorded. The claim kinds
//! it covers:
//!
//! - `preflight`: an `OPTIONS` went out first, against the requests
//!   Chromium put on the wire and the ledger's entries;
//! - `sent`: the request itself went out (Chromium reported the headers it
//!   sent, `Network.requestWillBeSentExtraInfo`) and reached the server
//!   (the ledger has it), or neither;
//! - `cookies_sent`: the cookie names it carried, against the `Cookie`
//!   header on the wire and the ledger's `cookies_received`;
//! - `sec_fetch_site`: against the header on the wire and the ledger;
//! - `readable`: whether the script could read the reply, and the status it
//!   got, against Chromium's response or its CORS failure
//!   (`Network.loadingFailed`);
//! - `allow_origin`: the `Access-Control-Allow-Origin` and
//!   `-Allow-Credentials` the row says the lab answered, against the
//!   response headers of the reply the browser judged (the preflight's,
//!   when only it went);
//! - `hidden_because`: why the browser withheld the reply, against
//!   Chromium's CORS error (`MissingAllowOriginHeader`,
//!   `WildcardOriginNotAllowed`, or their preflight forms);
//! - `kept_back`: each cookie the row says the browser kept off the request
//!   and why: another host (no cookie of that name for the target's host in
//!   the jar, and none considered), `SameSite` or third-party rules (the
//!   reasons Chromium gives for blocking it, `associatedCookies`);
//! - `lab_cookies_set`: the lab's page set `lab_lax` and `lab_none` for the
//!   target's host, against the jar (`Network.getAllCookies`).

use std::error::Error;
use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::Value;

use crate::browser::eval;
use crate::claims::{
    all_cookies, cookie_names, count_checked, header, read_network_log, Seen, SEEN,
};
use crate::helpers::TestApp;

/// One row's requests as Chromium reported them: the preflight and the
/// request itself (either may be missing).
#[derive(Default)]
struct RowSeen {
    preflight: Option<RowRequest>,
    actual: Option<RowRequest>,
}

/// What the check needs of one of Chromium's requests.
#[derive(Clone)]
struct RowRequest {
    wire: Option<serde_json::Map<String, Value>>,
    associated: Vec<(String, Vec<String>)>,
    status: Option<u64>,
    response: Option<serde_json::Map<String, Value>>,
    failure: Option<String>,
}

impl RowRequest {
    fn of(seen: &Seen) -> Self {
        Self {
            wire: seen.wire_headers.clone(),
            associated: seen.associated_cookies.clone(),
            status: seen.status,
            response: seen.response_headers.clone(),
            failure: seen.failure.clone(),
        }
    }

    /// Chromium has said how it ended: a response, a failure, or (for a
    /// request that never went out) a failure without headers.
    fn done(&self) -> bool {
        self.failure.is_some() || (self.status.is_some() && self.response.is_some())
    }
}

/// Checks the claims of every lab row not checked yet, against Chromium and
/// the ledger (read through `app`): returns how many rows it checked, or an
/// error naming each false claim.
pub(crate) async fn check_lab_rows(
    client: &Client,
    app: &TestApp,
) -> Result<usize, Box<dyn Error>> {
    let rows = eval(
        client,
        "return Array.from(document.querySelectorAll('#lab-rows tr[data-claims]:not([data-checked])')).map(r => { \
         r.dataset.checked = '1'; return r.dataset.claims; });",
    )
    .await?;
    let rows: Vec<Value> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut wrong = Vec::new();
    for claims in &rows {
        let seen = row_seen(client, claims).await?;
        let jar = all_cookies(client).await?;
        let ledger = app
            .get(&format!(
                "/lab/ledger?probe={}",
                claims["probe"].as_str().unwrap_or_default()
            ))
            .await
            .json();
        let (kinds, false_claims) = compare_row(claims, &seen, &jar, &ledger["requests"]);
        count_checked(client, &kinds).await?;
        if !false_claims.is_empty() {
            wrong.push(format!("{claims}: {}", false_claims.join("; ")));
        }
    }
    if wrong.is_empty() {
        Ok(rows.len())
    } else {
        Err(format!("lab rows with false claims:\n{}", wrong.join("\n")).into())
    }
}

/// The row's requests, once Chromium has reported how each ended (or after
/// three seconds, as far as it has).
async fn row_seen(client: &Client, claims: &Value) -> Result<RowSeen, Box<dyn Error>> {
    let probe = format!("probe={}", claims["probe"].as_str().unwrap_or_default());
    let method = claims["method"].as_str().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        read_network_log(client).await?;
        let session = client.session_id().await?.unwrap_or_default();
        let row = {
            let all = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut row = RowSeen::default();
            for seen in all.get(&session).into_iter().flat_map(|r| r.values()) {
                if !seen.url.contains("/lab/echo?") || !seen.url.contains(&probe) {
                    continue;
                }
                if seen.method == "OPTIONS" {
                    row.preflight = Some(RowRequest::of(seen));
                } else if seen.method == method {
                    row.actual = Some(RowRequest::of(seen));
                }
            }
            row
        };
        let complete = row.actual.as_ref().is_some_and(RowRequest::done)
            && row.preflight.as_ref().is_none_or(RowRequest::done);
        if complete || Instant::now() > deadline {
            return Ok(row);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Holds one row's claims against what Chromium and the ledger recorded:
/// the kinds checked, and a sentence for each false claim.
fn compare_row(
    claims: &Value,
    seen: &RowSeen,
    jar: &[Value],
    ledger: &Value,
) -> (Vec<&'static str>, Vec<String>) {
    let mut kinds = Vec::new();
    let mut wrong = Vec::new();
    let mut check = |kind: &'static str, said: Value, saw: Value, by: &str| {
        if said != saw {
            wrong.push(format!("{kind}: the row says {said}, {by} {saw}"));
        }
        kinds.push(kind);
    };
    let method = claims["method"].as_str().unwrap_or_default();
    let entries: Vec<&Value> = ledger.as_array().into_iter().flatten().collect();
    let ledger_entry = |m: &str| entries.iter().copied().find(|e| e["method"] == m);
    let on_wire = |r: &Option<RowRequest>| r.as_ref().is_some_and(|r| r.wire.is_some());

    check(
        "preflight",
        claims["preflight"].clone(),
        on_wire(&seen.preflight).into(),
        "Chromium sent:",
    );
    check(
        "preflight",
        claims["preflight"].clone(),
        ledger_entry("OPTIONS").is_some().into(),
        "the ledger has it:",
    );
    check(
        "sent",
        claims["sent"].clone(),
        on_wire(&seen.actual).into(),
        "Chromium sent it:",
    );
    check(
        "sent",
        claims["sent"].clone(),
        ledger_entry(method).is_some().into(),
        "the ledger has it:",
    );

    let wire = seen.actual.as_ref().and_then(|r| r.wire.as_ref());
    let sent_names = cookie_names(wire.and_then(|w| header(w, "cookie")));
    check(
        "cookies_sent",
        claims["cookiesSent"].clone(),
        sent_names.clone().into(),
        "Chromium's Cookie header has",
    );
    let ledger_names =
        ledger_entry(method).map_or(Value::Array(Vec::new()), |e| e["cookies_received"].clone());
    check(
        "cookies_sent",
        claims["cookiesSent"].clone(),
        ledger_names,
        "the ledger has",
    );

    let judged_wire = wire.or_else(|| seen.preflight.as_ref().and_then(|r| r.wire.as_ref()));
    let fetch_site = judged_wire
        .and_then(|w| header(w, "sec-fetch-site"))
        .map(str::to_owned);
    check(
        "sec_fetch_site",
        claims["secFetchSite"].clone(),
        fetch_site.into(),
        "Chromium sent",
    );

    let actual = seen.actual.clone().unwrap_or(RowRequest {
        wire: None,
        associated: Vec::new(),
        status: None,
        response: None,
        failure: Some("not reported".to_owned()),
    });
    let readable = actual.failure.is_none() && actual.status.is_some();
    check(
        "readable",
        claims["readable"].clone(),
        readable.into(),
        "Chromium let the script read it:",
    );
    let status = if readable {
        actual.status.unwrap_or(0)
    } else {
        0
    };
    check(
        "readable",
        claims["status"].clone(),
        status.into(),
        "Chromium gave the script",
    );

    // The reply the browser judged: the request's, or the preflight's when
    // the request never went.
    let judged = if on_wire(&seen.actual) {
        seen.actual.as_ref()
    } else {
        seen.preflight.as_ref()
    };
    if let Some(response) = judged.and_then(|r| r.response.as_ref()) {
        let allow = header(response, "access-control-allow-origin").map(str::to_owned);
        check(
            "allow_origin",
            claims["allowOrigin"].clone(),
            allow.into(),
            "the lab answered",
        );
        let credentials = header(response, "access-control-allow-credentials") == Some("true");
        check(
            "allow_origin",
            claims["allowCredentials"].clone(),
            credentials.into(),
            "the lab allowed credentials:",
        );
    }
    if let Some(because) = claims["hiddenBecause"].as_str() {
        let failure = actual.failure.as_deref().unwrap_or_default();
        let saw = if failure.ends_with("MissingAllowOriginHeader") {
            "no-allow-origin"
        } else if failure.ends_with("WildcardOriginNotAllowed") {
            "wildcard-with-credentials"
        } else {
            failure
        };
        check(
            "hidden_because",
            because.into(),
            saw.into(),
            "Chromium's CORS error is",
        );
    }

    let target_host = claims["targetHost"].as_str().unwrap_or_default();
    for kept in claims["keptBack"].as_array().into_iter().flatten() {
        let name = kept["name"].as_str().unwrap_or_default();
        let why = kept["why"].as_str().unwrap_or_default();
        let considered = actual.associated.iter().find(|(n, _)| n == name);
        let reasons = considered
            .map(|(_, reasons)| reasons.join(","))
            .unwrap_or_default();
        let held = if sent_names.iter().any(|n| n == name) {
            "sent".to_owned()
        } else {
            match why {
                "another-host" => {
                    let for_target = jar
                        .iter()
                        .any(|c| c["name"] == name && c["domain"] == target_host);
                    if considered.is_none() && !for_target {
                        why.to_owned()
                    } else {
                        format!("a candidate ({reasons})")
                    }
                }
                "samesite" if reasons.contains("SameSite") => why.to_owned(),
                "third-party"
                    if reasons.contains("UserPreferences") || reasons.contains("ThirdParty") =>
                {
                    why.to_owned()
                }
                _ => format!("kept back for: {reasons}"),
            }
        };
        let kind = match why {
            "another-host" => "kept_back_another_host",
            "samesite" => "kept_back_samesite",
            _ => "kept_back_third_party",
        };
        check(
            kind,
            format!("{name}: {why}").into(),
            format!("{name}: {held}").into(),
            "Chromium:",
        );
    }
    if claims["labCookiesSet"] == true {
        let set = ["lab_lax", "lab_none"].iter().all(|name| {
            jar.iter()
                .any(|c| c["name"] == *name && c["domain"] == target_host)
        });
        check(
            "lab_cookies_set",
            true.into(),
            set.into(),
            "the jar holds both:",
        );
    }
    (kinds, wrong)
}
