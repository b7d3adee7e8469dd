//! Session fixation, live (lesson 10): the lab plants a session id
//! (`POST /lab/plant`), the learner logs in on the main listener with it,
//! and `GET /lab/planted` tells what the planted id finds then: nothing
//! with the fixation defence, the learner's account without it. Over
//! HTTP, in one process and across two instances on one Redis.

use ajax_sessions::{Config, StoreChoice};
use reqwest::Url;
use serde_json::{json, Value};

use crate::helpers::{bare_client, Reply, TestApp};
use crate::lab::{spawn_with_lab_from, Lab};
use crate::redis_server::RedisServer;

/// A lab on the memory store, with the fixation defence on or off.
async fn lab_with(keep_id_on_login: bool) -> Lab {
    spawn_with_lab_from(Config {
        max_sessions: 2000,
        unsafe_keep_id_on_login: keep_id_on_login,
        ..Config::default()
    })
    .await
}

/// `POST /lab/plant?probe=P` as the lab's own page sends it.
async fn plant(lab: &Lab, probe: &str) -> Reply {
    plant_from(lab, probe, Some(&lab.lab)).await
}

/// `POST /lab/plant?probe=P` with this `Origin` (none for `None`).
async fn plant_from(lab: &Lab, probe: &str, origin: Option<&str>) -> Reply {
    let mut request = bare_client().post(format!("{}/lab/plant?probe={probe}", lab.lab));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    Reply::read(request.send().await.expect("POST")).await
}

/// `GET /lab/planted?probe=P` as the learner's page sends it (from the
/// main origin, credentials included: the cookie is whatever `cookie` is).
async fn planted(lab: &str, probe: &str, origin: &str) -> Reply {
    let reply = bare_client()
        .get(format!("{lab}/lab/planted?probe={probe}"))
        .header("origin", origin)
        .send()
        .await
        .expect("GET");
    Reply::read(reply).await
}

/// The id a plant's `Set-Cookie` carries.
fn planted_id(reply: &Reply) -> String {
    let cookie = reply.session_set_cookie().expect("a planted cookie");
    cookie
        .strip_prefix("session_id=")
        .and_then(|rest| rest.split(';').next())
        .expect("an id")
        .to_owned()
}

/// The browser stores the lab's `Set-Cookie` for the lab's host; the
/// learner's client, on the same host, then sends it to the main listener
/// (cookies ignore ports).
fn browser_stores(learner: &TestApp, lab: &str, reply: &Reply) {
    let url: Url = lab.parse().expect("a URL");
    let cookie = reply.session_set_cookie().expect("a planted cookie");
    learner.jar.add_cookie_str(&cookie, &url);
}

/// The attacker's own request: `GET /me` with only the planted id.
async fn attackers_me(main: &str, id: &str) -> Reply {
    let reply = bare_client()
        .get(format!("{main}/me"))
        .header("cookie", format!("session_id={id}"))
        .send()
        .await
        .expect("GET");
    Reply::read(reply).await
}

#[tokio::test]
async fn a_plant_sets_a_host_only_session_cookie_and_shows_only_its_fingerprint() {
    let lab = lab_with(false).await;

    let reply = plant(&lab, "probe-plant-cookie").await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = planted_id(&reply);
    assert_eq!(
        reply.session_set_cookie().as_deref(),
        Some(format!("session_id={id}; HttpOnly; SameSite=Lax; Path=/").as_str())
    );
    assert_eq!(
        reply.header("x-set-cookie-echo"),
        Some("session_id=<redacted>; HttpOnly; SameSite=Lax; Path=/")
    );
    let body = reply.json();
    let fingerprint = body["planted_fingerprint"].as_str().expect("a fingerprint");
    assert_eq!(
        body,
        json!({"probe": "probe-plant-cookie", "planted_fingerprint": fingerprint})
    );
    assert!(!reply.text.contains(&id));
    // A real session, as a first visit would make it: the main listener
    // finds it, shows the same fingerprint, no one logged in.
    let found = lab
        .app
        .get_session_data_with_cookie(format!("session_id={id}"))
        .await
        .json();
    assert_eq!(found["session"]["active"], true);
    assert_eq!(found["session"]["id_fingerprint"], fingerprint);
    assert_eq!(found["session"]["user"], Value::Null);
    assert_eq!(found["data"], json!({}));
}

#[tokio::test]
async fn with_the_defence_the_planted_id_finds_nothing_after_the_learners_login() {
    let lab = lab_with(false).await;
    let probe = "probe-fixation-defended";
    lab.app.get_page().await;
    let own_id = lab.app.session_id().expect("the learner's own session");

    let planted_reply = plant(&lab, probe).await;
    let id = planted_id(&planted_reply);
    browser_stores(&lab.app, &lab.lab, &planted_reply);
    assert_eq!(lab.app.session_id(), Some(id.clone()), "replaced {own_id}");
    let before = planted(&lab.lab, probe, &lab.main_origin).await.json();
    let login = lab.app.login("alice", "wonderland", false).await;
    let after = planted(&lab.lab, probe, &lab.main_origin).await;

    assert_eq!(
        before["session"],
        json!({"active": true, "user": null}),
        "{before}"
    );
    assert_eq!(login.status, 200, "{}", login.text);
    let fingerprint = planted_reply.json()["planted_fingerprint"].clone();
    assert_ne!(login.json()["session"]["id_fingerprint"], fingerprint);
    assert_eq!(after.status, 200);
    assert_eq!(
        after.json(),
        json!({"probe": probe, "planted_fingerprint": fingerprint,
               "session": {"active": false, "user": null}})
    );
    assert_eq!(
        after.header("access-control-allow-origin"),
        Some(lab.main_origin.as_str())
    );
    assert_eq!(
        after.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(attackers_me(&lab.main_origin, &id).await.status, 401);
    assert_eq!(lab.app.me().await.json()["user"], "alice");
}

#[tokio::test]
async fn without_the_defence_the_planted_id_finds_the_learner_logged_in() {
    let lab = lab_with(true).await;
    let probe = "probe-fixation-unsafe";

    let planted_reply = plant(&lab, probe).await;
    let id = planted_id(&planted_reply);
    browser_stores(&lab.app, &lab.lab, &planted_reply);
    let login = lab.app.login("alice", "wonderland", false).await;
    let after = planted(&lab.lab, probe, &lab.main_origin).await.json();
    let me = attackers_me(&lab.main_origin, &id).await;

    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.json()["fixation_defence"], false);
    assert_eq!(lab.app.session_id(), Some(id));
    assert_eq!(after["session"], json!({"active": true, "user": "alice"}));
    assert_eq!(
        after["planted_fingerprint"],
        login.json()["session"]["id_fingerprint"]
    );
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["user"], "alice");
}

#[tokio::test]
async fn only_the_labs_own_pages_may_plant() {
    let lab = lab_with(false).await;
    let probe = "probe-plant-refused";
    let before = lab.app.store().stats().live;
    let localhost_lab = lab.lab.replace("127.0.0.1", "localhost");

    let mut refused = Vec::new();
    for origin in [lab.main_origin.as_str(), "http://evil.example", "null"] {
        refused.push(plant_from(&lab, probe, Some(origin)).await);
    }
    let cross_site = Reply::read(
        bare_client()
            .post(format!("{}/lab/plant?probe={probe}", lab.lab))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .expect("POST"),
    )
    .await;
    refused.push(cross_site);

    for reply in &refused {
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert_eq!(reply.error_code(), "cross_origin_rejected");
        assert!(reply.session_set_cookie().is_none());
    }
    assert_eq!(lab.app.store().stats().live, before, "no session created");
    let nothing = planted(&lab.lab, probe, &lab.main_origin).await.json();
    assert_eq!(nothing["planted_fingerprint"], Value::Null);
    // The lab's own origins, under either name, and curl (no Origin) may.
    for origin in [Some(lab.lab.as_str()), Some(localhost_lab.as_str()), None] {
        let reply = Reply::read({
            let mut request = bare_client().post(format!("{}/lab/plant?probe={probe}", lab.lab));
            if let Some(origin) = origin {
                request = request
                    .header("origin", origin)
                    .header("host", origin.trim_start_matches("http://"));
            }
            request.send().await.expect("POST")
        })
        .await;
        assert_eq!(reply.status, 200, "{origin:?}: {}", reply.text);
    }
}

#[tokio::test]
async fn planted_answers_an_unknown_probe_and_refuses_a_bad_one_and_a_wrong_method() {
    let lab = lab_with(false).await;

    let unknown = planted(&lab.lab, "probe-never-planted", &lab.main_origin).await;
    let bad = planted(&lab.lab, "short", &lab.main_origin).await;
    let bad_plant = plant(&lab, "has space!").await;
    let wrong_method = Reply::read(
        bare_client()
            .get(format!("{}/lab/plant?probe=probe-wrong-method", lab.lab))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    let foreign = planted(&lab.lab, "probe-never-planted", "http://evil.example").await;

    assert_eq!(unknown.status, 200);
    assert_eq!(
        unknown.json(),
        json!({"probe": "probe-never-planted", "planted_fingerprint": null,
               "session": {"active": false, "user": null}})
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.error_code(), "invalid_probe");
    assert_eq!(bad_plant.status, 400);
    assert_eq!(bad_plant.error_code(), "invalid_probe");
    assert!(bad_plant.session_set_cookie().is_none());
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    assert!(wrong_method
        .header("allow")
        .is_some_and(|allow| allow.contains("POST")));
    assert!(foreign.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn at_most_a_thousand_planted_ids_are_remembered_the_oldest_forgotten_first() {
    let lab = lab_with(false).await;
    let client = bare_client();

    for i in 0..=1000 {
        let reply = client
            .post(format!("{}/lab/plant?probe=probe-bound-{i:04}", lab.lab))
            .send()
            .await
            .expect("POST");
        assert_eq!(reply.status(), 200);
    }
    let oldest = planted(&lab.lab, "probe-bound-0000", &lab.main_origin)
        .await
        .json();
    let second = planted(&lab.lab, "probe-bound-0001", &lab.main_origin)
        .await
        .json();
    let newest = planted(&lab.lab, "probe-bound-1000", &lab.main_origin)
        .await
        .json();

    assert_eq!(oldest["planted_fingerprint"], Value::Null, "{oldest}");
    assert_eq!(oldest["session"]["active"], false);
    assert!(second["planted_fingerprint"].is_string(), "{second}");
    assert_eq!(newest["session"], json!({"active": true, "user": null}));
}

#[tokio::test]
async fn the_ledger_writes_down_the_plant_and_the_look_up() {
    let lab = lab_with(false).await;
    let probe = "probe-plant-ledger";

    let planted_reply = plant(&lab, probe).await;
    let id = planted_id(&planted_reply);
    let refused = plant_from(&lab, probe, Some(&lab.main_origin)).await;
    let looked = bare_client()
        .get(format!("{}/lab/planted?probe={probe}", lab.lab))
        .header("origin", &lab.main_origin)
        .header("cookie", format!("session_id={id}; lab_lax=1"))
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .expect("GET");
    assert_eq!(looked.status(), 200);
    let ledger = lab.app.get(&format!("/lab/ledger?probe={probe}")).await;

    assert_eq!(refused.status, 403);
    let fingerprint = planted_reply.json()["planted_fingerprint"].clone();
    let requests = ledger.json()["requests"].clone();
    assert_eq!(requests.as_array().map(Vec::len), Some(3), "{requests}");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["path"], "/lab/plant");
    assert_eq!(requests[0]["status"], 200);
    assert_eq!(requests[0]["origin"], lab.lab);
    assert_eq!(requests[0]["planted_fingerprint"], fingerprint);
    assert_eq!(requests[1]["status"], 403);
    assert_eq!(requests[1]["code"], "cross_origin_rejected");
    assert_eq!(requests[2]["method"], "GET");
    assert_eq!(requests[2]["path"], "/lab/planted");
    assert_eq!(requests[2]["status"], 200);
    assert_eq!(requests[2]["origin"], lab.main_origin);
    assert_eq!(requests[2]["sec_fetch_site"], "same-site");
    assert_eq!(
        requests[2]["cookies_received"],
        json!(["session_id", "lab_lax"])
    );
    assert_eq!(requests[2]["planted_fingerprint"], fingerprint);
    assert_eq!(
        requests[2]["planted_session"],
        json!({"active": true, "user": null})
    );
    assert!(!ledger.text.contains(&id), "never the id");
}

/// Two instances on one Redis, each with its lab; the learner's client
/// talks to B.
async fn on_redis(redis: &RedisServer, keep_id_on_login: bool) -> (Lab, Lab) {
    let config = |name: &str| Config {
        store: StoreChoice::Redis(redis.url()),
        instance: Some(name.into()),
        unsafe_keep_id_on_login: keep_id_on_login,
        ..Config::default()
    };
    let a = spawn_with_lab_from(config("A")).await;
    let b = spawn_with_lab_from(config("B")).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_two_instances_on_redis_the_plant_and_the_login_meet_in_the_store() {
    let Some(redis) = RedisServer::start_or_skip("planting across instances") else {
        return;
    };
    for keep_id_on_login in [false, true] {
        let (a, b) = on_redis(&redis, keep_id_on_login).await;
        let probe = format!("probe-redis-{keep_id_on_login}");

        // Planted through A's lab; the learner's browser sends it to B.
        let planted_reply = plant(&a, &probe).await;
        assert_eq!(planted_reply.status, 200, "{}", planted_reply.text);
        let id = planted_id(&planted_reply);
        browser_stores(&b.app, &a.lab, &planted_reply);
        let login = b.app.login("alice", "wonderland", false).await;
        let after = planted(&a.lab, &probe, &a.main_origin).await.json();
        let me = attackers_me(&a.main_origin, &id).await;

        assert_eq!(login.status, 200, "{}", login.text);
        assert_eq!(login.header("x-served-by"), Some("B"));
        if keep_id_on_login {
            assert_eq!(after["session"], json!({"active": true, "user": "alice"}));
            assert_eq!(me.status, 200);
            assert_eq!(me.json()["served_by"], "A");
        } else {
            assert_eq!(after["session"], json!({"active": false, "user": null}));
            assert_eq!(me.status, 401);
        }
    }
}
