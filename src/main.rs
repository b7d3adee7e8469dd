//! Starts the server: options, logging, store, bind, serve, graceful shutdown.

use std::process::ExitCode;

use std::net::SocketAddr;

use ajax_sessions::config::LabPort;
use ajax_sessions::lab::{self, AllowList, LabLink, Ledger};
use ajax_sessions::server::{raise_open_file_limit, serve, Timeouts};
use ajax_sessions::{app_with_lab, open_store, Config};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Each request allocates many small, short-lived objects (the session
/// record, the reply, the middleware's futures); mimalloc serves those
/// faster than the system allocator. See BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = Config::from_args_or_exit();
    ajax_sessions::logging::init();
    let shutdown = shutdown_signal();
    if let Err(err) = raise_open_file_limit() {
        tracing::warn!(%err, "could not raise the open-file limit");
    }

    let store = match open_store(&config).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (listener, address) = match bind(&config, config.port).await {
        Ok(bound) => bound,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let lab_listener = match config.lab_port {
        LabPort::Off => None,
        LabPort::Port(port) => match bind(&config, port).await {
            Ok(bound) => Some(bound),
            Err(err) => {
                eprintln!("error: {err} (the lab's second origin; --lab-port off runs without it)");
                return ExitCode::FAILURE;
            }
        },
    };
    config.instance = Some(config.instance_name(address));
    println!("listening on http://{address}");
    if let Some((_, lab_address)) = &lab_listener {
        println!("lab origin on http://{lab_address}");
    }

    // One signal stops both listeners; each lets its requests finish.
    let (stop, stopped) = watch::channel(false);
    let until_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let timeouts = Timeouts::new(config.keep_alive_timeout());
    let ledger = Ledger::default();
    let lab_link = lab_listener.as_ref().map(|(_, lab_address)| LabLink {
        port: lab_address.port(),
        host: config.host,
        ledger: ledger.clone(),
    });
    let main_app = app_with_lab(&config, store.clone(), lab_link);
    let lab_server = lab_listener.map(|(listener, _)| {
        let allow = AllowList::for_main(config.host, address.port());
        let instance = config.instance.clone().unwrap_or_default();
        let lab_app = lab::app(store, ledger, allow, &instance);
        tokio::spawn(serve(listener, lab_app, timeouts, until_stopped()))
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    serve(listener, main_app, timeouts, until_stopped()).await;
    if let Some(lab_server) = lab_server {
        let _ = lab_server.await;
    }
    ExitCode::SUCCESS
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
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
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
