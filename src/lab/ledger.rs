//! The ledger: what reached the servers, by probe.
//!
//! A browser may hide a reply from the script (CORS), but the request still
//! reached the server, cookies and all. So every lab request, preflights
//! included, and every request to the main listener's session endpoints
//! that carries a valid `probe` query parameter, is written down under its
//! probe: method, `Origin`, `Sec-Fetch-Site`, the *names* of the cookies
//! (never values) and the time; main-listener entries, and the lab's
//! `/lab/plant` and `/lab/planted`, also get the path, status and error
//! code, the latter two also the planted id's fingerprint and what it
//! found. The page reads it back with
//! `GET /lab/ledger?probe=P` on the main listener, which is same-origin for
//! it and so always readable. The probe and its query are parsed here once
//! for the whole lab.
//!
//! Bounded: at most [`MAX_PROBES`] probes (the oldest is dropped first),
//! [`MAX_REQUESTS`] requests each (later ones are not kept), and a probe is
//! forgotten [`PROBE_LIFETIME`] after its first request. [`ByProbe`] is
//! that bound, also kept by the lab's planted ids (`plant.rs`).

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
    /// `/lab/plant` and `/lab/planted`: the fingerprint of the id planted
    /// under this probe (never the id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planted_fingerprint: Option<String>,
    /// `/lab/planted`: what the planted id found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planted_session: Option<PlantedSession>,
}

/// What a planted id finds in the store: whether it names a live session,
/// and who logged in on it.
#[derive(Clone, Debug, Serialize)]
pub struct PlantedSession {
    pub active: bool,
    pub user: Option<String>,
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
            planted_fingerprint: None,
            planted_session: None,
        }
    }
}

/// The ledger; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    inner: Arc<Mutex<ByProbe<Vec<Entry>>>>,
}

impl Ledger {
    /// Writes down a request under `probe` (which must be valid).
    pub fn record(&self, probe: &str, entry: Entry) {
        let mut probes = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match probes.get_mut(probe, Instant::now()) {
            Some(entries) if entries.len() < MAX_REQUESTS => entries.push(entry),
            Some(_) => {}
            None => probes.insert(probe, vec![entry], Instant::now()),
        }
    }

    /// The requests kept under `probe`, in arrival order.
    pub fn requests(&self, probe: &str) -> Vec<Entry> {
        let mut probes = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        probes
            .get_mut(probe, Instant::now())
            .map(|entries| entries.clone())
            .unwrap_or_default()
    }

    /// How many probes are kept now.
    pub fn probe_count(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count()
    }
}

/// Something kept per probe, bounded like the ledger: at most
/// [`MAX_PROBES`] probes (the oldest dropped first), each forgotten
/// [`PROBE_LIFETIME`] after it was first kept.
#[derive(Debug)]
pub struct ByProbe<T> {
    by_probe: HashMap<String, (Instant, T)>,
    /// Probes in the order they were first kept, for dropping the oldest.
    order: VecDeque<String>,
}

impl<T> Default for ByProbe<T> {
    fn default() -> Self {
        Self {
            by_probe: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T> ByProbe<T> {
    /// What is kept under `probe` at `now`, if anything.
    pub fn get_mut(&mut self, probe: &str, now: Instant) -> Option<&mut T> {
        self.forget_old(now);
        self.by_probe.get_mut(probe).map(|(_, value)| value)
    }

    /// Keeps `value` under `probe`, first kept at `now`; the oldest probe
    /// goes when there are [`MAX_PROBES`]. A value already kept under
    /// `probe` is replaced, and the probe keeps its first time.
    pub fn insert(&mut self, probe: &str, value: T, now: Instant) {
        self.forget_old(now);
        if let Some((_, kept)) = self.by_probe.get_mut(probe) {
            *kept = value;
            return;
        }
        while self.order.len() >= MAX_PROBES {
            if let Some(oldest) = self.order.pop_front() {
                self.by_probe.remove(&oldest);
            }
        }
        self.order.push_back(probe.to_owned());
        self.by_probe.insert(probe.to_owned(), (now, value));
    }

    /// How many probes are kept.
    pub fn count(&self) -> usize {
        self.by_probe.len()
    }

    /// Drops the probes first kept over [`PROBE_LIFETIME`] ago; they are
    /// the oldest, so they sit at the front of `order`.
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
    fn a_probe_is_forgotten_after_its_lifetime_and_a_new_value_replaces_the_old() {
        let mut kept = ByProbe::default();
        let start = Instant::now();
        kept.insert("probe-one", 1, start);
        kept.insert("probe-one", 2, start + Duration::from_secs(60));

        assert_eq!(
            kept.get_mut("probe-one", start + Duration::from_secs(61)),
            Some(&mut 2)
        );
        // The lifetime counts from the first value, not the replacement.
        assert_eq!(kept.get_mut("probe-one", start + PROBE_LIFETIME), None);
        assert_eq!(kept.count(), 0);
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
