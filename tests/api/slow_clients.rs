//! Slow or idle clients cannot hold the server's connections: a request
//! head must be complete within the head timeout (10 s in the binary; a
//! shorter one here, through the same `server::serve`).

use std::time::{Duration, Instant};

use ajax_sessions::server::{raise_open_file_limit, serve, Timeouts};
use ajax_sessions::{app, Config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The app served with `head_timeout`, on an ephemeral port.
async fn serve_with_head_timeout(head_timeout: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let router = app(&Config::default());
    let timeouts = Timeouts {
        head: head_timeout,
        keep_alive: Duration::from_secs(75),
    };
    tokio::spawn(serve(
        listener,
        router,
        timeouts,
        std::future::pending::<()>(),
    ));
    address
}

/// Opens a connection and sends a request head without its final blank line.
async fn half_sent(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    stream
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_head_timeout() {
    let address = serve_with_head_timeout(Duration::from_millis(500)).await;
    let mut stream = half_sent(&address).await;
    let started = Instant::now();

    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("closed within 5 s");

    let closed_after = started.elapsed();
    // Closed: end of stream, or a reset, or a 408 answer and then the end.
    if let Ok(n) = read {
        let text = String::from_utf8_lossy(&buffer[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    assert!(
        closed_after >= Duration::from_millis(400),
        "{closed_after:?}"
    );
    println!("a half-sent head was closed after {closed_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_request_is_answered_while_a_thousand_heads_hang() {
    raise_open_file_limit().expect("the open-file limit");
    let address = serve_with_head_timeout(Duration::from_secs(30)).await;
    let mut held = Vec::with_capacity(1000);
    for _ in 0..1000 {
        held.push(half_sent(&address).await);
    }

    let started = Instant::now();
    let reply = reqwest::get(format!("http://{address}/healthz"))
        .await
        .expect("an answer");
    let took = started.elapsed();

    assert_eq!(reply.status(), 200);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    println!("answered in {took:?} beside 1,000 hanging heads");
    drop(held);
}

#[test]
fn the_binary_raises_its_open_file_limit_to_the_hard_limit() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};

    if !std::path::Path::new("/proc/self/limits").exists() {
        println!("SKIPPED: no /proc/self/limits on this system");
        return;
    }
    // Started with a soft limit well below the hard one.
    let mut server = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -S -n 256 && exec {} --port 0 --lab-port off",
            crate::cli::BINARY
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the listening line");

    let text = std::fs::read_to_string(format!("/proc/{}/limits", server.id())).expect("limits");
    crate::cli::stop_with_sigterm(&mut server);

    let limit = text
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("an open-files line");
    let numbers: Vec<&str> = limit["Max open files".len()..].split_whitespace().collect();
    assert_ne!(numbers[0], "256", "{limit}");
    assert_eq!(numbers[0], numbers[1], "soft = hard: {limit}");
}
