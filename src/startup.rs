//! Start-up: the store, both listeners, both apps, served until a signal.
//!
//! [`Application::build`] does everything that can fail at start (open the
//! store, bind the main listener and the lab's) and prints nothing; `main`
//! and the tests both call it, so the server a test talks to is the real
//! one, its timeouts included. [`Application::run_until_stopped`] serves
//! both listeners until the shutdown future resolves, then lets the
//! requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{app, session_rules};
use crate::config::{Config, LabPort, StoreChoice};
use crate::lab::{self, AllowList, LabLink, LabOrigins, Ledger};
use crate::server::{serve, Routes, Timeouts};
use crate::store::{AppStore, BoundedStore, RedisStore};

/// How long the store may take to answer at start before the app gives up.
pub const STORE_CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// A built application: store open, listeners bound, not yet serving.
pub struct Application {
    main: Bound,
    lab: Option<Bound>,
    store: AppStore,
    timeouts: Timeouts,
}

/// A bound listener and the app it will serve.
struct Bound {
    listener: TcpListener,
    address: SocketAddr,
    app: Routes,
}

impl Application {
    /// Opens the store `--store` names, binds `--host`/`--port` and, unless
    /// `--lab-port off`, the lab's port, and builds both apps. Every error
    /// is one line that never holds a password. With no `--instance`, the
    /// instance is named after the bound address.
    pub async fn build(mut config: Config) -> Result<Self, String> {
        config.check()?;
        let store = open_store(&config).await?;
        let (listener, address) = bind(&config, config.port).await?;
        let lab_listener = match config.lab_port {
            LabPort::Off => None,
            LabPort::Port(port) => Some(bind(&config, port).await.map_err(|err| {
                format!("{err} (the lab's second origin; --lab-port off runs without it)")
            })?),
        };
        config.instance = Some(config.instance_name(address));
        let ledger = Ledger::default();
        let link = lab_listener.as_ref().map(|(_, lab_address)| LabLink {
            port: lab_address.port(),
            host: config.host,
            main_port: address.port(),
            ledger: ledger.clone(),
        });
        let main = Bound {
            app: app(&config, store.clone(), link.as_ref()),
            listener,
            address,
        };
        let lab = lab_listener.map(|(listener, lab_address)| {
            let origins = LabOrigins {
                main: AllowList::for_main(config.host, address.port()),
                // The same rule, on the lab's port: the lab's own origins.
                own: AllowList::for_main(config.host, lab_address.port()),
            };
            let instance = config.instance.as_deref().unwrap_or_default();
            Bound {
                app: lab::app(
                    store.clone(),
                    ledger,
                    origins,
                    instance,
                    session_rules(&config),
                )
                .into(),
                listener,
                address: lab_address,
            }
        });
        Ok(Self {
            main,
            lab,
            store,
            timeouts: Timeouts::new(config.keep_alive_timeout()),
        })
    }

    /// The main listener's address (the port the OS picked for `--port 0`).
    pub fn address(&self) -> SocketAddr {
        self.main.address
    }

    /// The lab listener's address, when the lab is on.
    pub fn lab_address(&self) -> Option<SocketAddr> {
        self.lab.as_ref().map(|lab| lab.address)
    }

    /// The session store both listeners share.
    pub fn store(&self) -> &AppStore {
        &self.store
    }

    /// Shortens the request-head deadline ([`crate::server::HEAD_TIMEOUT`]),
    /// so a test of slow clients need not wait ten seconds.
    pub fn with_head_timeout(mut self, head_timeout: Duration) -> Self {
        self.timeouts.head = head_timeout;
        self
    }

    /// Serves both listeners until `shutdown` resolves; each then stops
    /// accepting, lets its requests in flight finish and answers what still
    /// arrives with `Connection: close` (`server/mod.rs` says how long it waits).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let lab_server = self
            .lab
            .map(|lab| tokio::spawn(serve(lab.listener, lab.app, self.timeouts, until_stopped())));
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let main = self.main;
        serve(main.listener, main.app, self.timeouts, until_stopped()).await;
        if let Some(lab_server) = lab_server {
            let _ = lab_server.await;
        }
    }
}

/// The store `--store` names: a fresh memory store sized by
/// `--max-sessions`, or Redis, which must answer within
/// [`STORE_CONNECT_TIMEOUT`]. The error is one line that never holds a
/// password.
pub async fn open_store(config: &Config) -> Result<AppStore, String> {
    match &config.store {
        StoreChoice::Memory => {
            let capacity = usize::try_from(config.max_sessions).unwrap_or(usize::MAX);
            Ok(AppStore::Memory(BoundedStore::new(capacity)))
        }
        StoreChoice::Redis(url) => RedisStore::connect(url, STORE_CONNECT_TIMEOUT)
            .await
            .map(AppStore::Redis)
            .map_err(|err| err.to_string()),
    }
}

/// Binds `--host` and `port`; returns the listener and the address it got.
async fn bind(config: &Config, port: u16) -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind((config.host, port))
        .await
        .map_err(|err| format!("cannot listen on {}:{port}: {err}", config.host))?;
    let address = listener
        .local_addr()
        .map_err(|err| format!("cannot read the bound address: {err}"))?;
    Ok((listener, address))
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM; the servers then stop accepting
/// and let in-flight requests finish. On Unix both handlers are installed
/// when this is called, not when it is first awaited, so a signal that
/// comes right after the `listening on` line is not missed.
/// (`tokio::signal::ctrl_c` installs its handler only when first polled.)
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let [interrupt, terminate] = {
        use tokio::signal::unix::{signal, SignalKind};
        [SignalKind::interrupt(), SignalKind::terminate()].map(|kind| signal(kind).ok())
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            () = received(interrupt) => {},
            () = received(terminate) => {},
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}

/// Resolves when the signal arrives; never, if its handler could not be
/// installed.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
