//! The Redis lock handed from one request of an instance to the next
//! (`src/store/redis_turn.rs`, "Handover"): a burst on one session keeps
//! every change in fewer round trips, a lease that lapses is never passed
//! on, and a chain on one instance lets another in within its bound.
//! Changes of many sessions at once share their saves' script calls.
//!
//! Most of these drive the store the way the session layer does
//! (`AppStore::begin`, a `Session` over the turn, `AppStore::end`), with
//! one `LocalLocks` per simulated instance, so that they can count round
//! trips and shorten the lease; one goes over HTTP.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ajax_sessions::store::{LocalLocks, RedisStore, COURTESY, MAX_CHAIN};
use ajax_sessions::{AppStore, Config, StoreChoice};
use serde_json::json;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore as _;
use tower_sessions::Expiry;

use crate::helpers::spawn_app_with;
use crate::redis_server::RedisServer;
use crate::redis_store::calls;

/// A store on `redis` whose locks last `lease`.
async fn store_with_lease(redis: &RedisServer, lease: Duration) -> RedisStore {
    RedisStore::connect(&redis.url(), Duration::from_secs(5))
        .await
        .expect("redis answers")
        .with_lock_lease(lease)
}

/// One simulated instance: its store and its session queues.
type Instance = (Arc<AppStore>, Arc<LocalLocks>);

/// Two instances X and Y on `redis`, whose locks last `lease`; X's Redis
/// store too, to read what was written.
async fn two_instances(redis: &RedisServer, lease: Duration) -> (RedisStore, Instance, Instance) {
    let x_store = store_with_lease(redis, lease).await;
    let y_store = store_with_lease(redis, lease).await;
    let x = Arc::new(AppStore::Redis(x_store.clone()));
    let y = Arc::new(AppStore::Redis(y_store));
    let locks = || Arc::new(LocalLocks::default());
    (x_store, (x, locks()), (y, locks()))
}

/// A new, empty session; its id.
async fn new_session(store: &RedisStore) -> Id {
    let mut record = Record {
        id: Id::default(),
        data: std::collections::HashMap::new(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(5),
    };
    store.create(&mut record).await.expect("create");
    record.id
}

/// The keys the session holds now.
async fn keys_of(store: &RedisStore, id: Id) -> Vec<String> {
    let record = store.load(&id).await.expect("load").expect("live");
    let mut keys: Vec<String> = record.data.into_keys().collect();
    keys.sort();
    keys
}

/// One change as the session layer makes it: waits for the session's turn
/// in `locks` (one instance), sets `key`, stays `hold`, saves and ends the
/// turn. `inside` counts the changes between their turn's start and end:
/// it must never be above one.
async fn change(
    store: Arc<AppStore>,
    locks: Arc<LocalLocks>,
    id: Id,
    key: String,
    hold: Duration,
    inside: Arc<AtomicUsize>,
) -> Result<(), String> {
    let turn = store
        .begin(&locks, id, false)
        .await
        .map_err(|err| format!("begin: {err}"))?;
    let already = inside.fetch_add(1, Ordering::SeqCst);
    assert_eq!(already, 0, "two requests hold the session");
    let base = store.base();
    let expiry = Expiry::OnInactivity(time::Duration::minutes(5));
    let session = AppStore::session(&base, Some(id), Some(&turn), expiry);
    session
        .insert(&key, true)
        .await
        .map_err(|err| format!("insert: {err}"))?;
    tokio::time::sleep(hold).await;
    session.save().await.map_err(|err| format!("save: {err}"))?;
    inside.fetch_sub(1, Ordering::SeqCst);
    AppStore::end(turn)
        .await
        .map_err(|err| format!("end: {err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_twenty_changes_keeps_every_key_in_fewer_than_two_round_trips_each() {
    let Some(redis) = RedisServer::start_or_skip("handover burst") else {
        return;
    };
    let redis_store = store_with_lease(&redis, Duration::from_secs(5)).await;
    let store = Arc::new(AppStore::Redis(redis_store.clone()));
    let locks = Arc::new(LocalLocks::default());
    let inside = Arc::new(AtomicUsize::new(0));
    let id = new_session(&redis_store).await;

    // One at a time, no request ever waits: no handover, the path as it
    // was (lock and load, then save and unlock).
    let before = redis_store.round_trips();
    for i in 0..20 {
        let key = format!("one{i:02}");
        change(
            store.clone(),
            locks.clone(),
            id,
            key,
            Duration::ZERO,
            inside.clone(),
        )
        .await
        .expect("the change");
    }
    let one_at_a_time = redis_store.round_trips() - before;
    assert_eq!(
        one_at_a_time, 40,
        "two round trips per change without handover"
    );

    let before = redis_store.round_trips();
    let changes: Vec<_> = (0..20)
        .map(|i| {
            tokio::spawn(change(
                store.clone(),
                locks.clone(),
                id,
                format!("key{i:02}"),
                Duration::ZERO,
                inside.clone(),
            ))
        })
        .collect();
    for change in changes {
        change.await.expect("task").expect("the change");
    }
    let round_trips = redis_store.round_trips() - before;

    println!("20 changes on one session: {round_trips} round trips at once, {one_at_a_time} one at a time");
    let expected: Vec<String> = (0..20)
        .map(|i| format!("key{i:02}"))
        .chain((0..20).map(|i| format!("one{i:02}")))
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(keys_of(&redis_store, id).await, expected);
    assert!(round_trips < 40, "{round_trips} round trips for 20 changes");
    // Changes that queue behind one another ride on one write (group
    // commit): fewer round trips than changes.
    assert!(
        round_trips < 20,
        "{round_trips} round trips for 20 changes that queued"
    );
    let mut conn = redis.connection().await;
    let lock = format!("ajax-sessions:{{{id}}}:lock");
    let held: bool = redis::AsyncCommands::exists(&mut conn, &lock)
        .await
        .expect("EXISTS");
    assert!(!held, "the last change released the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_of_many_sessions_at_once_share_script_calls_and_each_keeps_its_key() {
    let Some(redis) = RedisServer::start_or_skip("merged saves") else {
        return;
    };
    let redis_store = store_with_lease(&redis, Duration::from_secs(5)).await;
    let store = Arc::new(AppStore::Redis(redis_store.clone()));
    let locks = Arc::new(LocalLocks::default());
    let mut sessions = Vec::new();
    for _ in 0..24 {
        sessions.push(new_session(&redis_store).await);
    }
    let mut conn = redis.connection().await;
    let before = calls(&mut conn, "evalsha").await;

    // Each holds its own session for a moment, so that the saves are
    // ready at about the same time.
    let changes: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, id)| {
            tokio::spawn(change(
                store.clone(),
                locks.clone(),
                *id,
                format!("key{i:02}"),
                Duration::from_millis(20),
                Arc::new(AtomicUsize::new(0)),
            ))
        })
        .collect();
    for change in changes {
        change.await.expect("task").expect("the change");
    }
    let script_calls = calls(&mut conn, "evalsha").await - before;

    println!("24 changes of 24 sessions: {script_calls} script calls");
    for (i, id) in sessions.iter().enumerate() {
        assert_eq!(keys_of(&redis_store, *id).await, [format!("key{i:02}")]);
        let lock = format!("ajax-sessions:{{{id}}}:lock");
        let held: bool = redis::AsyncCommands::exists(&mut conn, &lock)
            .await
            .expect("EXISTS");
        assert!(!held, "session {i}'s lock was released");
    }
    assert!(script_calls >= 1, "the saves went by script");
    assert!(
        script_calls < 24,
        "{script_calls} script calls for 24 saves ready together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_updates_through_one_instance_keep_every_key() {
    let Some(redis) = RedisServer::start_or_skip("handover over HTTP") else {
        return;
    };
    let config = Config {
        store: StoreChoice::Redis(redis.url()),
        instance: Some("A".into()),
        ..Config::default()
    };
    let a = spawn_app_with(config).await;

    for trial in 0..5 {
        a.clear().await;
        assert_eq!(a.update(&json!({})).await.status, 200);
        let token = a.csrf_token().await.expect("a token");
        let replies = a.updates_at_once(20, &token).await;

        assert!(
            replies.iter().all(|reply| reply.status == 200),
            "trial {trial}"
        );
        let data = a.data().await;
        let kept = data.as_object().map_or(0, serde_json::Map::len);
        assert_eq!(kept, 20, "trial {trial}: {data}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_whose_lease_lapsed_is_never_handed_on() {
    let Some(redis) = RedisServer::start_or_skip("handover and a lapsed lease") else {
        return;
    };
    let lease = Duration::from_millis(300);
    let (x_store, (x, x_locks), (y, y_locks)) = two_instances(&redis, lease).await;
    let id = new_session(&x_store).await;
    let expiry = Expiry::OnInactivity(time::Duration::minutes(5));

    // X1 holds the session on instance X and outlives its lease.
    let x1 = x.begin(&x_locks, id, false).await.expect("X1's turn");
    let x1_session = AppStore::session(&x.base(), Some(id), Some(&x1), expiry);
    x1_session.insert("x1", true).await.expect("insert");
    // X2 waits behind it in X's queue.
    let x2_started = Arc::new(AtomicBool::new(false));
    let x2 = tokio::spawn({
        let (x, x_locks, started) = (x.clone(), x_locks.clone(), x2_started.clone());
        async move {
            let turn = x.begin(&x_locks, id, false).await.expect("X2's turn");
            started.store(true, Ordering::SeqCst);
            let session = AppStore::session(&x.base(), Some(id), Some(&turn), expiry);
            session.insert("x2", true).await.expect("insert");
            session.save().await.expect("save");
            AppStore::end(turn).await
        }
    });
    tokio::time::sleep(lease + Duration::from_millis(100)).await;

    // The lease has lapsed: Y1, on another instance, takes the session.
    let y1 = y.begin(&y_locks, id, false).await.expect("Y1's turn");
    let y1_session = AppStore::session(&y.base(), Some(id), Some(&y1), expiry);
    y1_session.insert("y1", true).await.expect("insert");

    // X1 ends with X2 waiting: its save-and-keep must be refused, and X2
    // must not get the lock while Y1 holds it.
    x1_session.save().await.expect("held back");
    let refused = AppStore::end(x1).await;
    assert!(refused.is_err(), "a lapsed lock must refuse X1's save");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !x2_started.load(Ordering::SeqCst),
        "X2 started while Y1 held the session"
    );

    y1_session.save().await.expect("held back");
    AppStore::end(y1).await.expect("Y1 saves");
    x2.await.expect("task").expect("X2 saves");

    assert_eq!(keys_of(&x_store, id).await, ["x2", "y1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_on_one_instance_lets_another_in_within_its_bound() {
    let Some(redis) = RedisServer::start_or_skip("handover fairness") else {
        return;
    };
    let (x_store, (x, x_locks), (y, y_locks)) = two_instances(&redis, Duration::from_secs(5)).await;
    let inside = Arc::new(AtomicUsize::new(0));
    let id = new_session(&x_store).await;

    // Instance X: 8 clients changing the session without a pause, so that
    // X always has a request waiting and hands the lock on.
    let stop = Arc::new(AtomicBool::new(false));
    let x_clients: Vec<_> = (0..8)
        .map(|client| {
            let (x, x_locks, inside, stop) =
                (x.clone(), x_locks.clone(), inside.clone(), stop.clone());
            tokio::spawn(async move {
                let mut done = 0;
                while !stop.load(Ordering::SeqCst) {
                    let key = format!("x{client}");
                    let result = change(
                        x.clone(),
                        x_locks.clone(),
                        id,
                        key,
                        Duration::ZERO,
                        inside.clone(),
                    )
                    .await;
                    result.expect("X's change");
                    done += 1;
                }
                done
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Instance Y, meanwhile: five changes, one after another.
    let mut waits = Vec::new();
    for i in 0..5 {
        let started = Instant::now();
        let key = format!("y{i}");
        change(
            y.clone(),
            y_locks.clone(),
            id,
            key,
            Duration::ZERO,
            inside.clone(),
        )
        .await
        .expect("Y's change");
        waits.push(started.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    let mut x_changes = 0;
    for client in x_clients {
        x_changes += client.await.expect("task");
    }

    let longest = waits.iter().max().copied().unwrap_or_default();
    println!("X made {x_changes} changes; Y's five waited {waits:?}");
    // The bound: the chain's MAX_CHAIN, the courtesy, a try of Y's; with
    // ample room for a debug build on a busy machine, and far below the
    // 6 s a starved request would wait before it failed.
    let bound = MAX_CHAIN + COURTESY;
    assert!(
        longest < bound + Duration::from_millis(400),
        "Y waited {longest:?} (bound {bound:?})"
    );
    let keys = keys_of(&x_store, id).await;
    for i in 0..5 {
        assert!(keys.contains(&format!("y{i}")), "{keys:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_handed_on_unwritten_fail_together_when_their_write_is_refused() {
    let Some(redis) = RedisServer::start_or_skip("group commit and a lapsed lease") else {
        return;
    };
    let lease = Duration::from_millis(300);
    let (x_store, (x, x_locks), (y, y_locks)) = two_instances(&redis, lease).await;
    let id = new_session(&x_store).await;
    let expiry = Expiry::OnInactivity(time::Duration::minutes(5));

    // X1 takes the session with X2 already queued behind it on the same
    // instance: X1 ends at once, while its lock is fresh, so it hands its
    // change on unwritten and waits for X2's write.
    let x1 = x.begin(&x_locks, id, false).await.expect("X1's turn");
    let x2_holds = Arc::new(tokio::sync::Notify::new());
    let x2 = tokio::spawn({
        let (x, x_locks, holds) = (x.clone(), x_locks.clone(), x2_holds.clone());
        async move {
            let turn = x.begin(&x_locks, id, false).await.expect("X2's turn");
            let session = AppStore::session(&x.base(), Some(id), Some(&turn), expiry);
            let seen = session.get::<bool>("x1").await.expect("read");
            session.insert("x2", true).await.expect("insert");
            holds.notify_one();
            // X2 outlives the lease before it writes.
            tokio::time::sleep(lease + Duration::from_millis(200)).await;
            session.save().await.expect("held back");
            (seen, AppStore::end(turn).await)
        }
    });
    while x_locks.queues.in_line(id) < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let x1_session = AppStore::session(&x.base(), Some(id), Some(&x1), expiry);
    x1_session.insert("x1", true).await.expect("insert");
    x1_session.save().await.expect("held back");
    let mut x1_end = std::pin::pin!(AppStore::end(x1));
    tokio::select! {
        result = &mut x1_end => panic!("X1 answered before any write carried its change: {result:?}"),
        () = x2_holds.notified() => {}
    }

    // The lease lapses under X2: Y, another instance, takes the session
    // and writes. Neither X1's change nor X2's is in Redis.
    tokio::time::sleep(lease + Duration::from_millis(50)).await;
    let y1 = y.begin(&y_locks, id, false).await.expect("Y1's turn");
    let y1_session = AppStore::session(&y.base(), Some(id), Some(&y1), expiry);
    assert_eq!(y1_session.get::<bool>("x1").await.expect("read"), None);
    y1_session.insert("y1", true).await.expect("insert");
    y1_session.save().await.expect("held back");
    AppStore::end(y1).await.expect("Y1 saves");

    let (x2_saw_x1, x2_end) = x2.await.expect("task");
    assert_eq!(x2_saw_x1, Some(true), "X2 started from X1's change");
    assert!(x2_end.is_err(), "a lapsed lock must refuse X2's write");
    let x1_end = x1_end.await;
    assert!(
        x1_end.is_err(),
        "X1's change rode on X2's refused write: X1 must fail too"
    );
    assert_eq!(keys_of(&x_store, id).await, ["y1"]);
}
