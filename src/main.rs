//! Starts the server: options, logging, the application, its two address
//! lines, serving until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use ajax_sessions::server::raise_open_file_limit;
use ajax_sessions::startup::{shutdown_signal, Application};
use ajax_sessions::Config;

/// Each request allocates many small, short-lived objects (the session
/// record, the reply, the middleware's futures); mimalloc serves those
/// faster than the system allocator. See BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::from_args_or_exit();
    ajax_sessions::logging::init();
    // Installed before anything else, so that a signal right after the
    // `listening on` line is not missed.
    let shutdown = shutdown_signal();
    if let Err(err) = raise_open_file_limit() {
        tracing::warn!(%err, "could not raise the open-file limit");
    }
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{}", application.address());
    if let Some(lab) = application.lab_address() {
        println!("lab origin on http://{lab}");
    }
    application.run_until_stopped(shutdown).await;
    ExitCode::SUCCESS
}
