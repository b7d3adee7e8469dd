//! `--store redis://…`: instances that share sessions, sessions that
//! outlive the process, keys that always expire, and the faults.

use std::time::{Duration, Instant};

use ajax_sessions::store::COMMAND_TIMEOUT;
use ajax_sessions::{AppStore, Config, StoreChoice};
use redis::AsyncCommands as _;
use serde_json::{json, Value};

use crate::cli::{start_server_with, stop_with_sigterm, BINARY};
use crate::helpers::{bare_client, cookie_client, spawn_app_with, TestApp};
use crate::redis_server::RedisServer;

/// An app named `name` on the Redis at `redis`.
async fn instance(redis: &RedisServer, name: &str, idle_timeout: u64) -> TestApp {
    let config = Config {
        store: StoreChoice::Redis(redis.url()),
        instance: Some(name.into()),
        idle_timeout,
        ..Config::default()
    };
    spawn_app_with(config).await
}

/// A second instance whose client shares `first`'s cookie jar: a browser
/// sends the same cookies to both, since cookies ignore ports.
async fn second_instance(redis: &RedisServer, first: &TestApp, idle_timeout: u64) -> TestApp {
    let mut second = instance(redis, "B", idle_timeout).await;
    second.jar = first.jar.clone();
    second.client = cookie_client(first.jar.clone());
    second
}

/// Every key in Redis, with its TTL in milliseconds.
async fn keys_and_ttls(redis: &RedisServer) -> Vec<(String, i64)> {
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn.keys("*").await.expect("KEYS");
    let mut out = Vec::new();
    for key in keys {
        let ttl: i64 = conn.pttl(&key).await.expect("PTTL");
        out.push((key, ttl));
    }
    out.sort();
    out
}

/// The Set-Cookie of a reply with the id taken out.
fn attributes(cookie: &str) -> String {
    cookie
        .split_once(';')
        .map_or("", |(_, rest)| rest)
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_instance_is_read_updated_regenerated_and_cleared_on_another() {
    let Some(redis) = RedisServer::start_or_skip("two instances") else {
        return;
    };
    let a = instance(&redis, "A", 1800).await;
    let b = second_instance(&redis, &a, 1800).await;
    let memory = crate::helpers::spawn_app().await;

    let page = a.get_page().await;
    let created = page.session_set_cookie().expect("a cookie from A");
    assert_eq!(page.header("x-served-by"), Some("A"));
    let on_memory = memory
        .get_page()
        .await
        .session_set_cookie()
        .expect("a cookie");
    assert_eq!(attributes(&created), attributes(&on_memory));

    let read = b.get_session_data().await;
    assert_eq!(read.header("x-served-by"), Some("B"));
    let body = read.json();
    assert_eq!(body["session"]["active"], true);
    assert_eq!(body["session"]["page_views"], 1);
    assert_eq!(body["served_by"], "B");
    assert_eq!(body["store"], "redis");

    assert_eq!(b.update(&json!({"from": "B"})).await.status, 200);
    assert_eq!(a.data().await, json!({"from": "B"}));

    let old_id = a.session_id().expect("an id");
    let regenerated = b.regenerate().await;
    assert_eq!(regenerated.status, 200);
    assert_eq!(regenerated.json()["served_by"], "B");
    let old = a
        .get_session_data_with_cookie(format!("session_id={old_id}"))
        .await;
    assert_eq!(
        old.json()["session"],
        json!({"active": false, "reason": "unknown_or_expired"})
    );
    assert_eq!(a.data().await, json!({"from": "B"}));

    assert_eq!(b.clear().await.status, 200);
    assert_eq!(
        a.get_session_data().await.json()["session"]["active"],
        false
    );
    assert!(
        keys_and_ttls(&redis).await.is_empty(),
        "clear leaves no key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_updates_alternating_instances_keep_every_key_every_time() {
    let Some(redis) = RedisServer::start_or_skip("fifty updates") else {
        return;
    };
    let a = instance(&redis, "A", 1800).await;
    let b = second_instance(&redis, &a, 1800).await;

    for trial in 0..20 {
        a.clear().await;
        assert_eq!(a.update(&json!({})).await.status, 200);
        let token = a.csrf_token().await.expect("a token");
        let requests = (0..50).map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            let body = format!(r#"{{"key{i}": {i}}}"#).into_bytes();
            app.update_raw("application/json", body, Some(&token))
        });
        let replies = futures_util::future::join_all(requests).await;

        assert!(
            replies.iter().all(|reply| reply.status == 200),
            "trial {trial}"
        );
        let data = a.data().await;
        let kept = data.as_object().map_or(0, serde_json::Map::len);
        assert_eq!(kept, 50, "trial {trial}: {data}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_move_the_expiry_never_undo_an_update() {
    let Some(redis) = RedisServer::start_or_skip("lock-free reads") else {
        return;
    };
    // A 2 s timeout: a read after 200 ms moves the expiry, so nearly every
    // read below writes, racing the update sent with it.
    let a = instance(&redis, "A", 2).await;
    let b = second_instance(&redis, &a, 2).await;
    a.update(&json!({})).await;
    let token = a.csrf_token().await.expect("a token");

    for i in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let body = format!(r#"{{"key{i}": {i}}}"#).into_bytes();
        let (updated, _, _) = tokio::join!(
            b.update_raw("application/json", body, Some(&token)),
            a.get_session_data(),
            a.get_session_data(),
        );
        assert_eq!(updated.status, 200);
    }

    let data = a.data().await;
    assert_eq!(
        data.as_object().map_or(0, serde_json::Map::len),
        12,
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_expires_with_the_session_and_old_keys_are_deleted() {
    let Some(redis) = RedisServer::start_or_skip("key TTLs") else {
        return;
    };
    let a = instance(&redis, "A", 2).await;

    a.get_page().await;
    a.update(&json!({"x": 1})).await;
    let keys = keys_and_ttls(&redis).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let (key, ttl) = &keys[0];
    let id = a.session_id().expect("an id");
    assert_eq!(key, &format!("ajax-sessions:{{{id}}}"));
    assert!((1..=2000).contains(ttl), "ttl {ttl}");

    a.regenerate().await;
    let keys = keys_and_ttls(&redis).await;
    assert_eq!(keys.len(), 1, "the old key is gone: {keys:?}");
    assert!(!keys[0].0.contains(&id));
    assert!(keys.iter().all(|(_, ttl)| *ttl > 0), "{keys:?}");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let idle = a.get_session_data().await;
    assert_eq!(idle.json()["session"]["active"], false);
    assert!(keys_and_ttls(&redis).await.is_empty(), "expired by Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_gone_requests_fail_fast_and_recover_when_it_returns() {
    let Some(mut redis) = RedisServer::start_or_skip("redis faults") else {
        return;
    };
    let a = instance(&redis, "A", 1800).await;
    a.get_page().await;

    redis.stop();
    let started = Instant::now();
    let refused = a.get_session_data().await;
    let took = started.elapsed();
    assert_eq!(refused.status, 503);
    assert_eq!(refused.error_code(), "store_unavailable");
    assert_eq!(refused.json()["served_by"], "A");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let readyz = a.get("/readyz").await;
    assert_eq!(readyz.status, 503);
    assert_eq!(readyz.error_code(), "store_unavailable");
    assert_eq!(a.get("/healthz").await.status, 200);

    redis.restart();
    let back = Instant::now();
    loop {
        let reply = a.get("/readyz").await;
        if reply.status == 200 && a.update(&json!({"again": true})).await.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("served again {:?} after Redis restarted", back.elapsed());
    assert_eq!(a.data().await, json!({"again": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_gave_up_while_redis_stalled_leaves_the_session_unlocked() {
    let Some(redis) = RedisServer::start_or_skip("stalled redis") else {
        return;
    };
    let a = instance(&redis, "A", 1800).await;
    assert_eq!(a.update(&json!({"n": 1})).await.status, 200);

    // The change's lock and load go out, and no answer comes in time.
    redis.pause();
    let refused = a.update(&json!({"n": 2})).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.error_code(), "store_unavailable");
    // Redis then runs what it was sent, the lock included.
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.resume();

    // The next change finds the session free at once, not when the
    // abandoned lock's 5 s lease runs out.
    let started = Instant::now();
    let next = a.update(&json!({"n": 3})).await;
    let took = started.elapsed();
    assert_eq!(next.status, 200);
    assert!(
        took < Duration::from_secs(2),
        "waited {took:?} for the session"
    );
    assert_eq!(a.data().await, json!({"n": 3}));
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_an_error_that_hides_the_password() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a port")
        .port();
    let config = Config {
        store: StoreChoice::Redis(format!("redis://user:s3cret@127.0.0.1:{closed}")),
        ..Config::default()
    };

    let started = Instant::now();
    let err = ajax_sessions::open_store(&config)
        .await
        .expect_err("no Redis there");

    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.contains("cannot reach Redis"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    assert!(!format!("{config:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_outlive_a_restart_of_the_app() {
    let Some(redis) = RedisServer::start_or_skip("restart") else {
        return;
    };
    let url = redis.url();
    let store = ["--store", url.as_str()];
    let (mut first, base) = start_server_with(&store, "warn");
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = cookie_client(jar.clone());
    let created = client
        .post(format!("{base}/update-session-data"))
        .header("content-type", "application/json")
        .body(r#"{"survives": "restart"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), 200);

    assert!(stop_with_sigterm(&mut first).success());
    let (mut second, base) = start_server_with(&store, "warn");
    let read = client
        .get(format!("{base}/get-session-data"))
        .send()
        .await
        .expect("GET");
    let body: Value = read.json().await.expect("JSON");
    stop_with_sigterm(&mut second);

    assert_eq!(body["session"]["active"], true);
    assert_eq!(body["data"], json!({"survives": "restart"}));
}

/// Every key of database `index`.
async fn keys_in(redis: &RedisServer, index: u8) -> Vec<String> {
    let mut conn = redis.connection_to(index).await;
    let mut keys: Vec<String> = conn.keys("*").await.expect("KEYS");
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_with_a_password_keeps_the_sessions_in_the_database_the_url_names() {
    let Some(mut redis) =
        RedisServer::start_with_password_or_skip("password and database", "s3cret")
    else {
        return;
    };
    let config = Config {
        store: StoreChoice::Redis(format!("{}/3", redis.url())),
        instance: Some("A".into()),
        ..Config::default()
    };
    let a = spawn_app_with(config).await;

    // A change, then a burst on one session (handed over, saved together),
    // through the connection the store opens itself: AUTH and SELECT first.
    assert_eq!(a.update(&json!({})).await.status, 200);
    let token = a.csrf_token().await.expect("a token");
    let replies = a.updates_at_once(10, &token).await;
    assert!(replies.iter().all(|reply| reply.status == 200));
    assert_eq!(
        a.data().await.as_object().map_or(0, serde_json::Map::len),
        10
    );
    let keys = keys_in(&redis, 3).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("ajax-sessions:"), "{keys:?}");
    assert!(keys_in(&redis, 0).await.is_empty(), "nothing in database 0");

    // After Redis restarts, the store's new connections authenticate and
    // select database 3 again.
    redis.restart();
    let back = Instant::now();
    while a.update(&json!({"again": true})).await.status != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.data().await, json!({"again": true}));
    assert_eq!(keys_in(&redis, 3).await.len(), 1);
    assert!(keys_in(&redis, 0).await.is_empty(), "nothing in database 0");

    // A wrong password is refused at start, and the message hides it.
    let wrong = Config {
        store: StoreChoice::Redis(format!("redis://:wr0ng@127.0.0.1:{}/3", redis.port)),
        ..Config::default()
    };
    let err = ajax_sessions::open_store(&wrong)
        .await
        .expect_err("a wrong password");
    assert!(!err.contains("wr0ng"), "{err}");
}

#[test]
fn the_binary_exits_with_one_line_when_redis_is_unreachable_at_start() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a port")
        .port();
    let url = format!("redis://user:s3cret@127.0.0.1:{closed}/0");

    let started = Instant::now();
    let output = std::process::Command::new(BINARY)
        .args(["--port", "0", "--lab-port", "off", "--store", &url])
        .output()
        .expect("run");

    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach Redis"), "{stderr}");
    assert!(!stderr.contains("s3cret") && !stdout.contains("s3cret"));
}

#[tokio::test]
async fn the_memory_store_reports_itself() {
    let app = crate::helpers::spawn_app().await;
    let body = app.get_session_data().await.json();
    assert_eq!(body["store"], "memory");
    assert_eq!(
        body["served_by"],
        Value::from(app.address.trim_start_matches("http://"))
    );
    assert_eq!(app.get("/readyz").await.text, "ok");
    let refused = bare_client()
        .post(app.url("/clear-session"))
        .send()
        .await
        .expect("POST");
    let refused = crate::helpers::Reply::read(refused).await;
    assert_eq!(refused.json()["store"], "memory");
    assert_eq!(AppStore::Memory(app.store().clone()).kind(), "memory");
}

/// A record of one state string, live for five minutes.
fn record_with_state(state: &str) -> tower_sessions::session::Record {
    tower_sessions::session::Record {
        id: tower_sessions::session::Id::default(),
        data: std::collections::HashMap::from([("state".to_owned(), json!(state))]),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(5),
    }
}

#[tokio::test]
async fn a_change_saves_only_while_it_still_holds_the_sessions_lock() {
    use ajax_sessions::store::{RedisStore, RedisTurn};
    use tower_sessions::session_store::SessionStore as _;

    let Some(redis) = RedisServer::start_or_skip("lapsed lock") else {
        return;
    };
    let store = RedisStore::connect(&redis.url(), Duration::from_secs(5))
        .await
        .expect("redis answers");
    let mut conn = redis.connection().await;

    // A change that keeps its lock saves, and leaves no lock behind.
    let mut kept = record_with_state("before");
    store.create(&mut kept).await.expect("create");
    let turn = RedisTurn::write(store.clone(), kept.id)
        .await
        .expect("lock");
    kept.data.insert("state".into(), json!("after"));
    turn.save(&kept).await.expect("held back");
    turn.finish().await.expect("saved");
    let stored = store.load(&kept.id).await.expect("load").expect("live");
    assert_eq!(stored.data["state"], json!("after"));
    let kept_lock = format!("ajax-sessions:{{{}}}:lock", kept.id);
    assert!(!conn.exists::<_, bool>(&kept_lock).await.expect("EXISTS"));

    // A change whose lease ran out while another request took the session
    // must not overwrite that request's turn.
    let mut lapsed = record_with_state("before");
    store.create(&mut lapsed).await.expect("create");
    let turn = RedisTurn::write(store.clone(), lapsed.id)
        .await
        .expect("lock");
    let lock = format!("ajax-sessions:{{{}}}:lock", lapsed.id);
    let _: () = conn
        .set(&lock, "another request's token")
        .await
        .expect("SET");
    lapsed.data.insert("state".into(), json!("after"));
    turn.save(&lapsed).await.expect("held back");

    let refused = turn.finish().await;

    assert!(refused.is_err(), "a lapsed lock must refuse the save");
    let stored = store.load(&lapsed.id).await.expect("load").expect("live");
    assert_eq!(stored.data["state"], json!("before"));
    let holder: String = conn.get(&lock).await.expect("GET");
    assert_eq!(holder, "another request's token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_that_meets_a_stalled_redis_fails_at_once_and_the_next_keeps_every_change() {
    let Some(redis) = RedisServer::start_or_skip("stalled redis burst") else {
        return;
    };
    let a = instance(&redis, "A", 1800).await;
    assert_eq!(a.update(&json!({"n": 1})).await.status, 200);
    let token = a.csrf_token().await.expect("a token");
    let burst = |prefix: &'static str| {
        let (a, token) = (&a, &token);
        futures_util::future::join_all((0..20).map(move |i| async move {
            let body = format!(r#"{{"{prefix}{i}": {i}}}"#).into_bytes();
            a.update_raw("application/json", body, Some(token)).await
        }))
    };

    // Twenty updates of one session queue behind each other in this
    // instance. The first gets no answer from Redis in time; the rest must
    // not each wait as long again, one after another (30 s in all).
    redis.pause();
    let started = Instant::now();
    let refused = burst("stalled").await;
    let took = started.elapsed();
    redis.resume();
    for reply in &refused {
        assert_eq!(reply.status, 503);
        assert_eq!(reply.error_code(), "store_unavailable");
    }
    assert!(
        took < COMMAND_TIMEOUT * 3,
        "the burst's last answer came after {took:?}"
    );

    // Redis answers again: the next burst keeps all twenty, and nothing of
    // the refused one is there.
    tokio::time::sleep(COMMAND_TIMEOUT).await;
    let kept = burst("back").await;
    assert!(kept.iter().all(|reply| reply.status == 200));
    let data = a.data().await;
    let keys: Vec<&String> = data.as_object().expect("an object").keys().collect();
    assert_eq!(keys.len(), 21, "{data}");
    assert!(
        keys.iter()
            .all(|key| *key == "n" || key.starts_with("back")),
        "{data}"
    );
}

/// How many times Redis ran `command` (lower case), from its command stats.
pub(crate) async fn calls(conn: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("INFO");
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().expect("a count"))
}

#[tokio::test]
async fn a_change_sends_its_script_by_sha_and_saves_after_redis_forgot_its_scripts() {
    let Some(redis) = RedisServer::start_or_skip("scripts by sha") else {
        return;
    };
    let a = instance(&redis, "A", 1800).await;
    let mut conn = redis.connection().await;
    assert_eq!(a.update(&json!({"n": 1})).await.status, 200);
    let (evalsha, eval) = (
        calls(&mut conn, "evalsha").await,
        calls(&mut conn, "eval").await,
    );

    assert_eq!(a.update(&json!({"n": 2})).await.status, 200);
    assert_eq!(calls(&mut conn, "evalsha").await, evalsha + 1);
    assert_eq!(calls(&mut conn, "eval").await, eval, "no body sent");

    // As after a restart of Redis: the save finds its script unknown, is
    // sent again with the body, and nothing is lost.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .expect("SCRIPT FLUSH");
    assert_eq!(a.update(&json!({"n": 3})).await.status, 200);
    assert_eq!(a.data().await, json!({"n": 3}));
    assert_eq!(calls(&mut conn, "eval").await, eval + 1);
    assert_eq!(a.update(&json!({"n": 4})).await.status, 200);
    assert_eq!(calls(&mut conn, "eval").await, eval + 1, "known again");
    assert_eq!(a.data().await, json!({"n": 4}));
}

/// `command`'s reply as Redis sent it, errors inside an array kept where
/// they are (the client's own query turns any of them into an error).
async fn raw_reply(redis: &RedisServer, command: &redis::Cmd) -> redis::Value {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
        .await
        .expect("connect");
    stream
        .write_all(&command.get_packed_command())
        .await
        .expect("write");
    let mut reply = Vec::new();
    loop {
        let mut chunk = [0; 4096];
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(read > 0, "Redis closed the connection");
        reply.extend_from_slice(&chunk[..read]);
        if let Ok(value) = redis::parse_redis_value(&reply) {
            return value;
        }
    }
}

#[tokio::test]
async fn the_merged_save_script_writes_and_unlocks_only_the_saves_whose_lock_it_holds() {
    let Some(redis) = RedisServer::start_or_skip("merged save script") else {
        return;
    };
    let mut conn = redis.connection().await;
    // Four saves: its lock held; its lease lapsed and another request's
    // lock in its place; held while another instance waits (wait mark);
    // held, with a write that Redis refuses (a TTL of 0).
    let locks = [("1", "t1"), ("2", "other"), ("3", "t3"), ("4", "t4")];
    for (session, token) in locks {
        let _: () = conn
            .set_ex(format!("{{{session}}}:lock"), token, 60)
            .await
            .expect("SET");
    }
    let _: () = conn.set_ex("{3}:wait", "1", 60).await.expect("SET");
    let mut script = redis::cmd("EVAL");
    script
        .arg(ajax_sessions::store::redis::SAVE_AND_UNLOCK_SCRIPT)
        .arg(12);
    for session in ["1", "2", "3", "4"] {
        script.arg(format!("{{{session}}}"));
        script.arg(format!("{{{session}}}:lock"));
        script.arg(format!("{{{session}}}:wait"));
    }
    for (session, token, ttl) in [
        ("1", "t1", "60000"),
        ("2", "t2", "60000"),
        ("3", "t3", "60000"),
        ("4", "t4", "0"),
    ] {
        script.arg(token).arg(format!("v{session}")).arg(ttl);
    }

    let reply = raw_reply(&redis, &script).await;

    let redis::Value::Array(results) = reply else {
        panic!("one result a save: {reply:?}");
    };
    assert_eq!(results.len(), 4, "{results:?}");
    assert_eq!(results[0], redis::Value::Int(1), "written, nobody waits");
    assert_eq!(results[1], redis::Value::Int(0), "refused: not its lock");
    assert_eq!(results[2], redis::Value::Int(2), "written, another waits");
    assert!(
        matches!(results[3], redis::Value::ServerError(_)),
        "the refused write is that save's error: {:?}",
        results[3]
    );
    let get = |key: &'static str| {
        let mut conn = conn.clone();
        async move { conn.get::<_, Option<String>>(key).await.expect("GET") }
    };
    assert_eq!(get("{1}").await.as_deref(), Some("v1"));
    assert_eq!(get("{1}:lock").await, None);
    assert_eq!(get("{2}").await, None);
    assert_eq!(get("{2}:lock").await.as_deref(), Some("other"));
    assert_eq!(get("{3}").await.as_deref(), Some("v3"));
    assert_eq!(get("{3}:lock").await, None);
    assert_eq!(get("{3}:wait").await.as_deref(), Some("1"));
    assert_eq!(get("{4}").await, None);
    assert_eq!(
        get("{4}:lock").await.as_deref(),
        Some("t4"),
        "left to its lease"
    );
}
