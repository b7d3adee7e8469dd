//! The ledger: what reached the servers, by probe.
//!
//! A browser may hide a reply from the script (CORS), but the request still
//! reached the server, cookies and all. So every lab request, preflights
//! included, and every request to the main listener's session endpoints
//! that carries a valid `probe` query parameter, is written down under its
//! probe: method, `Origin`, `Sec-Fetch-Site`, the *names* of the cookies
//! (never values) and the time; main-listener entries also get the path,
//! status and error code. The page reads it back with
//! `GET /lab/ledger?probe=P` on the main listener, which is same-origin for
//! it and so always readable. The probe and its query are parsed here once
//! for the whole lab.
//!
//! Bounded: at most [`MAX_PROBES`] probes (the oldest is dropped first),
//! [`MAX_REQUESTS`] requests each (later ones are not kept), and a probe is
//! forgotten [`PROBE_LIFETIME`] after its first request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, Method};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cookies::cookie_pairs;
use crate::security::SEC_FETCH_SITE;

/// Most probes kept.
pub const MAX_PROBES: usize = 1000;
/// Most requests kept per probe.
pub const MAX_REQUESTS: usize = 16;
/// How long a probe is kept after its first request.
pub const PROBE_LIFETIME: Duration = Duration::from_secs(600);

/// A probe: 8 to 64 characters of `A–Z a–z 0–9 _ -`, so it is safe in a
/// URL, a log line and JSON, and long enough to be unguessable.
pub fn valid_probe(probe: &str) -> bool {
    (8..=64).contains(&probe.len())
        && probe
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The value of the `probe` query parameter, if the query has one.
pub fn probe_of(query: Option<&str>) -> Option<&str> {
    query_value(query, "probe")
}

/// The raw value of the query parameter `name` (the lab's parameters are
/// probes, modes and origins, none of which needs percent-decoding).
pub fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// One request as the ledger keeps it.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub method: String,
    pub origin: Option<String>,
    pub sec_fetch_site: Option<String>,
    pub cookies_received: Vec<String>,
    pub at: String,
    /// Main-listener entries: the path asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Main-listener entries: the status answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Main-listener entries: the error code, when the answer was an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// The lab's page (`GET /?probe=P&target=T`): whether it took `T` as
    /// its target (and so shows its button).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_accepted: Option<bool>,
}

impl Entry {
    /// What a request's method and headers say; the rest is filled in by
    /// the main listener.
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        let text = |name: &HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            method: method.as_str().to_owned(),
            origin: text(&axum::http::header::ORIGIN),
            sec_fetch_site: text(&SEC_FETCH_SITE),
            cookies_received: cookie_pairs(headers)
                .map(|(name, _)| name.to_owned())
                .collect(),
            at: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            path: None,
            status: None,
            code: None,
            target_accepted: None,
        }
    }
}

/// The ledger; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    inner: Arc<Mutex<Probes>>,
}

#[derive(Debug, Default)]
struct Probes {
    by_probe: HashMap<String, (Instant, Vec<Entry>)>,
    /// Probes in the order they were first seen, for dropping the oldest.
    order: VecDeque<String>,
}

impl Ledger {
    /// Writes down a request under `probe` (which must be valid).
    pub fn record(&self, probe: &str, entry: Entry) {
        let now = Instant::now();
        let mut probes = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        probes.forget_old(now);
        if let Some((_, entries)) = probes.by_probe.get_mut(probe) {
            if entries.len() < MAX_REQUESTS {
                entries.push(entry);
            }
            return;
        }
        while probes.order.len() >= MAX_PROBES {
            if let Some(oldest) = probes.order.pop_front() {
                probes.by_probe.remove(&oldest);
            }
        }
        probes.order.push_back(probe.to_owned());
        probes.by_probe.insert(probe.to_owned(), (now, vec![entry]));
    }

    /// The requests kept under `probe`, in arrival order.
    pub fn requests(&self, probe: &str) -> Vec<Entry> {
        let mut probes = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        probes.forget_old(Instant::now());
        probes
            .by_probe
            .get(probe)
            .map(|(_, entries)| entries.clone())
            .unwrap_or_default()
    }

    /// How many probes are kept now.
    pub fn probe_count(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_probe
            .len()
    }
}

impl Probes {
    /// Drops the probes first seen over [`PROBE_LIFETIME`] ago; they are the
    /// oldest, so they sit at the front of `order`.
    fn forget_old(&mut self, now: Instant) {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .by_probe
                .get(oldest)
                .is_none_or(|(first, _)| now.duration_since(*first) >= PROBE_LIFETIME);
            if !expired {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.by_probe.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str) -> Entry {
        Entry::of(&method.parse().unwrap(), &HeaderMap::new())
    }

    #[test]
    fn probes_are_8_to_64_safe_characters() {
        assert!(valid_probe("abcDEF12"));
        assert!(valid_probe(&"a_-9".repeat(16)));
        for bad in [
            "short",
            "has space!",
            "ümlauts1",
            &"a".repeat(65),
            "semi;colon",
        ] {
            assert!(!valid_probe(bad), "{bad}");
        }
        assert_eq!(probe_of(Some("cors=none&probe=abc")), Some("abc"));
        assert_eq!(probe_of(Some("cors=none")), None);
        assert_eq!(probe_of(None), None);
    }

    #[test]
    fn requests_come_back_in_order_and_are_capped() {
        let ledger = Ledger::default();
        ledger.record("probe-one", entry("OPTIONS"));
        for _ in 0..20 {
            ledger.record("probe-one", entry("POST"));
        }

        let kept = ledger.requests("probe-one");

        assert_eq!(kept.len(), MAX_REQUESTS);
        assert_eq!(kept[0].method, "OPTIONS");
        assert_eq!(kept[1].method, "POST");
        assert!(ledger.requests("probe-two").is_empty());
    }

    #[test]
    fn the_oldest_probe_goes_first() {
        let ledger = Ledger::default();
        for i in 0..=MAX_PROBES {
            ledger.record(&format!("probe-{i:05}"), entry("GET"));
        }

        assert_eq!(ledger.probe_count(), MAX_PROBES);
        assert!(ledger.requests("probe-00000").is_empty());
        assert_eq!(ledger.requests(&format!("probe-{MAX_PROBES:05}")).len(), 1);
    }

    #[test]
    fn only_cookie_names_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", "session_id=secret; lab_lax=1".parse().unwrap());
        headers.insert("origin", "http://127.0.0.1:3000".parse().unwrap());

        let kept = Entry::of(&Method::GET, &headers);

        assert_eq!(kept.cookies_received, ["session_id", "lab_lax"]);
        assert_eq!(kept.origin.as_deref(), Some("http://127.0.0.1:3000"));
        assert!(!serde_json::to_string(&kept).unwrap().contains("secret"));
    }
}
