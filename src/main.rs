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

fn main() -> ExitCode {
    match runtime() {
        Ok(runtime) => {
            let code = runtime.block_on(serve());
            drop(runtime);
            ajax_sessions::logging::flush();
            code
        }
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Tokio's scheduler for the CPUs this process may use. Several: the
/// multi-threaded one, a worker per CPU. One (`taskset`, a container's CPU
/// quota, one instance per core behind a proxy): the single-threaded one,
/// which does the same work without handing tasks between threads; with
/// Redis on the same CPU it answers about a sixth more requests a second
/// (BENCHMARKS.md, "One CPU, one thread"). Its threads gather their log
/// lines and write them when they have nothing left to do
/// ([`ajax_sessions::logging::on_park`]).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    // A runtime thread writes its log lines when it runs out of work.
    builder
        .on_thread_park(ajax_sessions::logging::on_park)
        .enable_all()
        .build()
}

async fn serve() -> ExitCode {
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
            // Lines logged on the way come before the error that ends it.
            ajax_sessions::logging::flush();
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
