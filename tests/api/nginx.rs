//! Two instances on one private Redis behind nginx, configured with the
//! README's own block (ports replaced): a mixed load gets no 5xx and loses
//! no acknowledged update, and neither does a rolling restart under load.
//!
//! nginx runs in the foreground from a temporary folder (its pid, logs and
//! temp paths all inside it) and is stopped by PID. Without nginx a test
//! prints `SKIPPED` and passes, except under `CI=true`, where it fails:
//! `.ci/run` installs Debian's `nginx-light`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::Server;
use crate::redis_server::RedisServer;

/// The clients of the load.
const CLIENTS: usize = 8;
/// Each client's pause between two requests: the load stays well inside
/// what two cores can serve beside the rest of the test suite.
const PAUSE: Duration = Duration::from_millis(10);
/// Most requests one client sends, whatever the timing.
const MOST_REQUESTS: u64 = 5_000;
/// nginx's `fail_timeout` (its default): how long it keeps an instance it
/// could not reach out of rotation.
const FAIL_TIMEOUT: Duration = Duration::from_secs(10);

/// nginx's binary: on the PATH, or where Debian puts it.
fn find_nginx() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|path| path.is_file()))
}

/// A free port on 127.0.0.1 (free when asked).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// The README's nginx block, `http { … }` content.
fn readme_nginx_block() -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split_once("## Behind a reverse proxy")
        .expect("the README's section Behind a reverse proxy")
        .1;
    let block = section
        .split_once("```nginx\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("an nginx block in that section")
        .0;
    block.to_owned()
}

/// nginx in front of `upstreams`, in the foreground; stopped (SIGKILL, by
/// PID) and its folder removed when dropped.
struct Nginx {
    child: Child,
    folder: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(binary: &Path, upstreams: [&str; 2]) -> Self {
        let folder = std::env::temp_dir().join(format!(
            "ajax-sessions-nginx-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&folder).expect("a temporary folder");
        let port = free_port();
        let mut block = readme_nginx_block();
        for (from, to) in [
            ("127.0.0.1:3000", upstreams[0].to_owned()),
            ("127.0.0.1:3002", upstreams[1].to_owned()),
            ("127.0.0.1:8080", format!("127.0.0.1:{port}")),
        ] {
            assert!(block.contains(from), "the README's block names {from}");
            block = block.replace(from, &to);
        }
        let dir = folder.display();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             access_log {dir}/access.log;\n\
             client_body_temp_path {dir}/client_body;\n\
             proxy_temp_path {dir}/proxy;\n\
             fastcgi_temp_path {dir}/fastcgi;\n\
             uwsgi_temp_path {dir}/uwsgi;\n\
             scgi_temp_path {dir}/scgi;\n\
             {block}\n}}\n"
        );
        let config_path = folder.join("nginx.conf");
        std::fs::write(&config_path, config).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&folder)
            .arg("-e")
            .arg(folder.join("error.log"))
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Self {
            child,
            folder,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.folder.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Redis, two instances on it, nginx in front: or `None` (SKIPPED) when
/// nginx or redis-server is missing, a failure under `CI=true`.
struct Stack {
    nginx: Nginx,
    instances: [Server; 2],
    ports: [u16; 2],
    redis: RedisServer,
}

impl Stack {
    fn start_or_skip(test: &str) -> Option<Self> {
        let Some(binary) = find_nginx() else {
            assert!(
                std::env::var("CI").map_or(true, |value| value != "true"),
                "nginx is required in CI (apt-get install nginx-light)"
            );
            println!("SKIPPED {test}: nginx not found: install nginx-light to run it");
            eprintln!("SKIPPED {test}: nginx not found: install nginx-light to run it");
            return None;
        };
        let redis = RedisServer::start_or_skip(test)?;
        // Each instance binds a port of the system's choosing (`--port 0`):
        // a free port picked first could be taken by a test running beside
        // this one before the instance binds it. A restart reuses it.
        let instances = [0, 1].map(|index| start_instance(&redis, 0, index));
        let ports = instances.each_ref().map(|instance| {
            instance
                .address
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok())
                .expect("a port in the listening line")
        });
        let upstreams = ports.map(|port| format!("127.0.0.1:{port}"));
        let nginx = Nginx::start(&binary, [&upstreams[0], &upstreams[1]]);
        Some(Self {
            nginx,
            instances,
            ports,
            redis,
        })
    }

    /// SIGTERM to instance `index`, then the same instance again on its
    /// port, ready. Returns how long the old one took to exit.
    async fn restart(&mut self, index: usize) -> Duration {
        let stopping = Instant::now();
        let killed = Command::new("kill")
            .args(["-TERM", &self.instances[index].pid().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        loop {
            if let Some(status) = self.instances[index].wait_for_exit(Duration::ZERO) {
                assert!(status.success(), "{status:?}");
                break;
            }
            assert!(
                stopping.elapsed() < Duration::from_secs(10),
                "exit within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let exited_after = stopping.elapsed();
        let (redis, port) = (&self.redis, self.ports[index]);
        self.instances[index] = tokio::task::block_in_place(|| start_instance(redis, port, index));
        let ready = format!("{}/readyz", self.instances[index].base());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !reqwest::get(&ready)
            .await
            .is_ok_and(|reply| reply.status() == 200)
        {
            assert!(Instant::now() < deadline, "instance {index} not ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        exited_after
    }
}

fn start_instance(redis: &RedisServer, port: u16, index: usize) -> Server {
    let name = ["A", "B"][index];
    Server::start(&[
        "--port",
        &port.to_string(),
        "--store",
        &redis.url(),
        "--instance",
        name,
    ])
}

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    /// 5xx answers.
    server_errors: u64,
    /// No answer at all (refused, reset, timed out).
    failures: u64,
    /// Other answers than the one expected.
    unexpected: u64,
    /// Acknowledged updates that a later reply no longer showed.
    lost: u64,
    /// Answers by instance (`X-Served-By`).
    served_by: BTreeMap<String, u64>,
    /// The first few problems, for the report.
    notes: Vec<String>,
}

impl Tally {
    fn note(&mut self, note: String) {
        if self.notes.len() < 5 {
            self.notes.push(note);
        }
    }

    fn add(&mut self, other: Tally) {
        self.requests += other.requests;
        self.server_errors += other.server_errors;
        self.failures += other.failures;
        self.unexpected += other.unexpected;
        self.lost += other.lost;
        for (name, count) in other.served_by {
            *self.served_by.entry(name).or_default() += count;
        }
        for note in other.notes {
            self.note(note);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Read,
    Update,
    Regenerate,
}

/// One learner with one session: reads, updates and regenerates in turn,
/// and checks every reply against the updates acknowledged so far.
struct Learner {
    client: reqwest::Client,
    base: String,
    number: usize,
    token: Option<String>,
    /// Each key's last acknowledged value; values only grow, so an
    /// update that got no answer but was applied cannot look like a loss.
    acknowledged: BTreeMap<String, u64>,
    /// A request went unanswered since the last good reply: a regenerate
    /// may have happened that the cookie jar never heard of.
    uncertain: bool,
    tally: Tally,
}

impl Learner {
    fn new(base: &str, number: usize) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client");
        Self {
            client,
            base: base.to_owned(),
            number,
            token: None,
            acknowledged: BTreeMap::new(),
            uncertain: false,
            tally: Tally::default(),
        }
    }

    /// What the `step`th request does: in ten, 1 regenerate, 3 updates and
    /// 6 reads; an update first, while there is no session.
    fn action(&self, step: u64) -> Action {
        match step % 10 {
            _ if self.token.is_none() => Action::Update,
            0 => Action::Regenerate,
            1..=3 => Action::Update,
            _ => Action::Read,
        }
    }

    async fn step(&mut self, step: u64) {
        let action = self.action(step);
        let request = match action {
            Action::Update => self.update_request(step),
            Action::Regenerate => self
                .client
                .post(format!("{}/regenerate-session", self.base)),
            Action::Read => self.client.get(format!("{}/get-session-data", self.base)),
        };
        let request = match &self.token {
            Some(token) => request.header("x-csrf-token", token),
            None => request,
        };
        self.tally.requests += 1;
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return self.failed(format!("step {step}: {err}")),
        };
        let status = response.status();
        let served_by = response
            .headers()
            .get("x-served-by")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("?")
            .to_owned();
        *self.tally.served_by.entry(served_by).or_default() += 1;
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(err) => return self.failed(format!("step {step}: body: {err}")),
        };
        if status.is_server_error() {
            self.tally.server_errors += 1;
            self.tally.note(format!("step {step}: {status} {body}"));
            return;
        }
        if status != 200 {
            self.tally.unexpected += 1;
            self.tally.note(format!("step {step}: {status} {body}"));
            return;
        }
        if action == Action::Update {
            for (key, value) in self.update_keys(step) {
                self.acknowledged.insert(key, value);
            }
        }
        self.check(&body, step);
    }

    fn failed(&mut self, note: String) {
        self.tally.failures += 1;
        self.uncertain = true;
        self.tally.note(note);
    }

    /// The keys an update at `step` sets: one counter of its own, and
    /// one of ten rotating keys.
    fn update_keys(&self, step: u64) -> [(String, u64); 2] {
        [
            (format!("count{}", self.number), step),
            (format!("k{}", step % 10), step),
        ]
    }

    fn update_request(&self, step: u64) -> reqwest::RequestBuilder {
        let patch: serde_json::Map<String, Value> = self
            .update_keys(step)
            .into_iter()
            .map(|(key, value)| (key, json!(value)))
            .collect();
        self.client
            .post(format!("{}/update-session-data", self.base))
            .json(&patch)
    }

    /// Every acknowledged update is still there (or a later value).
    fn check(&mut self, body: &Value, step: u64) {
        let active = body["session"]["active"].as_bool() == Some(true);
        if !active && self.uncertain {
            // The cookie jar may have missed a regenerate: start again.
            self.acknowledged.clear();
            self.token = None;
            self.uncertain = false;
            return;
        }
        self.uncertain = false;
        self.token = body["csrf_token"].as_str().map(str::to_owned);
        for (key, value) in &self.acknowledged {
            let seen = body["data"][key].as_u64();
            if seen.is_none_or(|seen| seen < *value) {
                self.tally.lost += 1;
                let note = format!("step {step}: {key} acknowledged {value}, now {seen:?}");
                self.tally.note(note);
            }
        }
    }
}

/// Runs the learners until `stop` (or their request cap); returns their
/// tallies added up, with a last read of each session checked.
async fn load(base: &str, stop: Arc<AtomicBool>) -> Tally {
    let learners = (0..CLIENTS).map(|number| {
        let mut learner = Learner::new(base, number);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut step = 0;
            while !stop.load(Ordering::Relaxed) && step < MOST_REQUESTS {
                learner.step(step).await;
                step += 1;
                tokio::time::sleep(PAUSE).await;
            }
            // A last read: every acknowledged update is there.
            let request = learner
                .client
                .get(format!("{}/get-session-data", learner.base));
            if let Ok(reply) = request.send().await {
                if let Ok(body) = reply.json::<Value>().await {
                    learner.check(&body, step);
                }
            }
            learner.tally
        })
    });
    let mut total = Tally::default();
    for learner in learners.collect::<Vec<_>>() {
        total.add(learner.await.expect("a learner"));
    }
    total
}

fn report(what: &str, tally: &Tally) {
    println!(
        "{what}: {} requests, {} 5xx, {} without an answer, {} unexpected, {} acknowledged updates lost; served by {:?}",
        tally.requests,
        tally.server_errors,
        tally.failures,
        tally.unexpected,
        tally.lost,
        tally.served_by
    );
    for note in &tally.notes {
        println!("  {note}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_load_through_nginx_gets_no_5xx_and_loses_no_update() {
    let test = "a_mixed_load_through_nginx_gets_no_5xx_and_loses_no_update";
    let Some(stack) = Stack::start_or_skip(test) else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));

    let running = tokio::spawn({
        let (base, stop) = (stack.nginx.base(), stop.clone());
        async move { load(&base, stop).await }
    });
    tokio::time::sleep(Duration::from_secs(15)).await;
    stop.store(true, Ordering::Relaxed);
    let tally = running.await.expect("the load");

    report("mixed load through nginx, 15 s", &tally);
    assert!(tally.requests > 1000, "{tally:?}");
    assert_eq!(tally.served_by.len(), 2, "both instances served");
    assert_eq!(tally.server_errors, 0, "{tally:?}");
    assert_eq!(tally.failures, 0, "{tally:?}");
    assert_eq!(tally.unexpected, 0, "{tally:?}");
    assert_eq!(tally.lost, 0, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_both_instances_one_after_the_other_under_load_loses_no_update() {
    let test = "restarting_both_instances_one_after_the_other_under_load_loses_no_update";
    let Some(mut stack) = Stack::start_or_skip(test) else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));

    let running = tokio::spawn({
        let (base, stop) = (stack.nginx.base(), stop.clone());
        async move { load(&base, stop).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let a_exited = stack.restart(0).await;
    // nginx keeps A out of rotation for fail_timeout after it was refused.
    tokio::time::sleep(FAIL_TIMEOUT + Duration::from_secs(1)).await;
    let b_exited = stack.restart(1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let tally = running.await.expect("the load");

    println!("A exited {a_exited:?} after SIGTERM, B {b_exited:?}");
    report("rolling restart through nginx", &tally);
    let errors = stack.nginx.error_log();
    let upstream_errors = errors
        .lines()
        .filter(|line| line.contains("upstream"))
        .count();
    println!("nginx error.log: {upstream_errors} lines about upstreams");
    for line in errors
        .lines()
        .filter(|line| line.contains("upstream"))
        .take(5)
    {
        println!("  {line}");
    }
    assert_eq!(tally.lost, 0, "{tally:?}");
    assert_eq!(tally.server_errors + tally.failures, 0, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_for_the_app_gets_its_413_through_nginx_never_a_502() {
    let test = "a_body_too_large_for_the_app_gets_its_413_through_nginx_never_a_502";
    let Some(stack) = Stack::start_or_skip(test) else {
        return;
    };
    // Well over the app's 16 KiB, well under nginx's own 1 MiB limit: nginx
    // passes it on, and the app answers before it has all arrived.
    let body = vec![b' '; 300 * 1024];
    let client = reqwest::Client::new();

    let mut statuses = BTreeMap::<u16, u32>::new();
    for _ in 0..30 {
        let reply = client
            .post(format!("{}/update-session-data", stack.nginx.base()))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("an answer");
        *statuses.entry(reply.status().as_u16()).or_default() += 1;
    }

    println!("30 bodies of 300 KiB through nginx: {statuses:?}");
    assert_eq!(
        statuses,
        BTreeMap::from([(413, 30)]),
        "{}",
        stack.nginx.error_log()
    );
}
