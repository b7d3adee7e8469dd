//! The cross-origin lab: a second listener, the "other origin", that shows
//! when a browser sends cookies to another origin or site and when a script
//! may read the reply.
//!
//! - `listener.rs`: the lab's router (its page, `/lab/echo`);
//! - `cors.rs`: the three CORS policies of `/lab/echo`;
//! - `ledger.rs`: what reached the servers, by probe, which the main
//!   listener serves at `GET /lab/ledger`.
//!
//! The main app learns of the lab only through [`LabLink`]: where it
//! listens (for the page and its Content-Security-Policy) and the ledger.

pub mod cors;
pub mod ledger;
pub mod listener;

use std::net::IpAddr;

pub use self::cors::AllowList;
pub use self::ledger::Ledger;
pub use self::listener::app;

/// What the main app knows of the lab.
#[derive(Clone, Debug)]
pub struct LabLink {
    /// The lab listener's port.
    pub port: u16,
    /// The address both listeners are bound to.
    pub host: IpAddr,
    /// Shared by both listeners.
    pub ledger: Ledger,
}

impl LabLink {
    /// The lab's origins a page of the main listener may connect to:
    /// `http://127.0.0.1:LAB` and `http://localhost:LAB` on loopback,
    /// `http://HOST:LAB` otherwise.
    pub fn origins(&self) -> Vec<String> {
        AllowList::for_main(self.host, self.port)
            .origins()
            .map(str::to_owned)
            .collect()
    }
}
