//! Starts the server: options, logging, store, bind, serve, graceful shutdown.

use std::process::ExitCode;

use ajax_sessions::server::{raise_open_file_limit, serve, HEAD_TIMEOUT};
use ajax_sessions::{app_with_store, open_store, Config};
use tokio::net::TcpListener;

/// Each request allocates many small, short-lived objects (the session
/// record, the reply, the middleware's futures); mimalloc serves those
/// faster than the system allocator. See BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = Config::from_args_or_exit();
    ajax_sessions::logging::init();
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
    let listener = match TcpListener::bind((config.host, config.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "error: cannot listen on {}:{}: {err}",
                config.host, config.port
            );
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(err) => {
            eprintln!("error: cannot read the bound address: {err}");
            return ExitCode::FAILURE;
        }
    };
    config.instance = Some(config.instance_name(address));
    println!("listening on http://{address}");

    serve(
        listener,
        app_with_store(&config, store),
        HEAD_TIMEOUT,
        shutdown_signal(),
    )
    .await;
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C or SIGTERM; the server then stops accepting and lets
/// in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
