//! The publisher against a real JetStream: acks, dedup by event id, drain on shutdown, and
//! retries with the same `Nats-Msg-Id` while the stream is missing, and the spool: events
//! spooled while JetStream fails, replayed in order once it answers, also by a new publisher.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream;
use rust_decimal::Decimal;
use tollgate_events::{
    CreditSource, CreditsGranted, Event, EventBody, Publisher, PublisherConfig, PublisherMetrics,
    Spool, SpoolConfig, SpoolMetrics, Stored, StreamSettings, ensure_stream,
};
use uuid::Uuid;

async fn jetstream() -> jetstream::Context {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    // scripts/test's shared server takes the operator's NATS_USER / NATS_PASSWORD.
    let access = tollgate_events::NatsAccess::from_env(&std::env::vars().collect()).unwrap();
    let client = access
        .apply(async_nats::ConnectOptions::new())
        .connect(url)
        .await;
    jetstream::new(client.unwrap())
}

fn settings() -> StreamSettings {
    let id = Uuid::now_v7().simple().to_string();
    StreamSettings {
        name: format!("TGTEST_EV_{id}"),
        subject_prefix: format!("tgtest_ev_{id}"),
        duplicate_window: Duration::from_secs(600),
        max_age: Duration::from_secs(3600),
        replicas: 1,
    }
}

fn credit(tenant: Uuid, n: u32) -> Event {
    Event::new(
        tenant,
        EventBody::CreditsGranted(CreditsGranted {
            amount_usd: Decimal::from(n),
            idempotency_key: format!("k{n}"),
            note: None,
            source: CreditSource::Api,
        }),
    )
}

async fn stored_ids(js: &jetstream::Context, stream: &str) -> Vec<String> {
    let stream = js.get_stream(stream).await.unwrap();
    let info = stream.get_info().await.unwrap();
    let mut ids = Vec::new();
    if info.state.messages == 0 {
        return ids;
    }
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let message = stream.get_raw_message(seq).await.unwrap();
        let event = Event::decode(&message.payload).unwrap().unwrap();
        assert_eq!(
            message.headers.get("Nats-Msg-Id").unwrap().as_str(),
            event.event_id.to_string()
        );
        ids.push(event.event_id.to_string());
    }
    ids
}

async fn wait_acked(metrics: &PublisherMetrics, count: u64) {
    for _ in 0..200 {
        if metrics.acked() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("only {} of {count} events acknowledged", metrics.acked());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_acknowledged_and_stored_once() {
    let js = jetstream().await;
    let settings = settings();
    ensure_stream(&js, &settings).await.unwrap();
    let metrics = PublisherMetrics::default();
    let (publisher, handle) = Publisher::start(
        js.clone(),
        settings.subject_prefix.clone(),
        PublisherConfig::default(),
        metrics.clone(),
    );
    let tenant = Uuid::now_v7();
    let events: Vec<Event> = (0..500).map(|n| credit(tenant, n)).collect();
    let mut tasks = Vec::new();
    for chunk in events.chunks(50) {
        let publisher = publisher.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for event in chunk {
                publisher.publish(event).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // A republish of an already stored event is dropped by JetStream's duplicate window.
    publisher.publish(events[7].clone()).await.unwrap();
    wait_acked(&metrics, 501).await;
    assert_eq!(handle.shutdown().await, 0);

    let stored = stored_ids(&js, &settings.name).await;
    assert_eq!(stored.len(), 500);
    let unique: HashSet<_> = stored.iter().collect();
    assert_eq!(unique.len(), 500);
    assert_eq!(metrics.unacknowledged(), 0);
    js.delete_stream(&settings.name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_queued_events() {
    let js = jetstream().await;
    let settings = settings();
    ensure_stream(&js, &settings).await.unwrap();
    let (publisher, handle) = Publisher::start(
        js.clone(),
        settings.subject_prefix.clone(),
        PublisherConfig::default(),
        PublisherMetrics::default(),
    );
    let tenant = Uuid::now_v7();
    for n in 0..300 {
        publisher.publish(credit(tenant, n)).await.unwrap();
    }
    // Shut down at once: everything queued is still published and acknowledged.
    assert_eq!(handle.shutdown().await, 0);
    assert_eq!(stored_ids(&js, &settings.name).await.len(), 300);
    assert!(
        publisher.publish(credit(tenant, 999)).await.is_err(),
        "closed publisher refuses"
    );
    js.delete_stream(&settings.name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_publishes_are_retried_with_the_same_id_until_stored() {
    let js = jetstream().await;
    let settings = settings();
    let metrics = PublisherMetrics::default();
    let config = PublisherConfig {
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        ..PublisherConfig::default()
    };
    let (publisher, handle) = Publisher::start(
        js.clone(),
        settings.subject_prefix.clone(),
        config,
        metrics.clone(),
    );
    let tenant = Uuid::now_v7();
    let events: Vec<Event> = (0..5).map(|n| credit(tenant, n)).collect();
    for event in &events {
        publisher.publish(event.clone()).await.unwrap();
    }
    // No stream yet: JetStream answers "no responders" and the publisher keeps retrying.
    for _ in 0..100 {
        if metrics.failed_attempts() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        metrics.failed_attempts() >= 5,
        "publishes failed while the stream was missing"
    );
    assert_eq!(metrics.acked(), 0);

    ensure_stream(&js, &settings).await.unwrap();
    wait_acked(&metrics, 5).await;
    assert_eq!(handle.shutdown().await, 0);
    let stored: HashSet<String> = stored_ids(&js, &settings.name).await.into_iter().collect();
    let sent: HashSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(stored, sent, "exactly the original ids, each once");
    js.delete_stream(&settings.name).await.unwrap();
}

fn spool_at(dir: &std::path::Path) -> (Spool, SpoolMetrics) {
    let metrics = SpoolMetrics::default();
    let spool = Spool::open(SpoolConfig::new(dir, 64 << 20), metrics.clone()).unwrap();
    (spool, metrics)
}

fn spooling_config() -> PublisherConfig {
    PublisherConfig {
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        spool_after: Duration::from_millis(300),
        ..PublisherConfig::default()
    }
}

fn spooling_publisher(
    js: &jetstream::Context,
    settings: &StreamSettings,
    spool: Spool,
) -> (Publisher, tollgate_events::PublisherHandle) {
    Publisher::start_observed(
        js.clone(),
        settings.subject_prefix.clone(),
        spooling_config(),
        PublisherMetrics::default(),
        None,
        Some(spool),
    )
}

async fn wait_replayed(metrics: &SpoolMetrics, count: u64) {
    for _ in 0..300 {
        if metrics.replayed() >= count && metrics.depth() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "spool replayed {} of {count}, {} still spooled",
        metrics.replayed(),
        metrics.depth()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_jetstream_fails_events_are_spooled_then_replayed_once() {
    let js = jetstream().await;
    let settings = settings();
    let dir = std::env::temp_dir().join(format!("tollgate-pubspool-{}", Uuid::now_v7()));
    let (spool, spool_metrics) = spool_at(&dir);
    let (publisher, handle) = spooling_publisher(&js, &settings, spool);
    let tenant = Uuid::now_v7();
    let events: Vec<Event> = (0..40).map(|n| credit(tenant, n)).collect();
    // No stream: every receipt still resolves, because the spool took the event.
    let mut receipts = Vec::new();
    for event in &events {
        receipts.push(publisher.publish(event.clone()).await.unwrap());
    }
    for receipt in receipts {
        let stored = tokio::time::timeout(Duration::from_secs(10), receipt)
            .await
            .expect("receipt resolves while JetStream is failing")
            .unwrap();
        assert_eq!(stored, Stored::Spooled);
    }
    assert_eq!(spool_metrics.depth(), 40);

    ensure_stream(&js, &settings).await.unwrap();
    wait_replayed(&spool_metrics, 40).await;
    // Healthy again: a new event goes straight to JetStream.
    let direct_event = credit(tenant, 1000);
    let direct_id = direct_event.event_id;
    let direct = publisher.publish(direct_event).await.unwrap();
    assert_eq!(direct.await.unwrap(), Stored::Acked);
    assert_eq!(handle.shutdown().await, 0);

    let stored = stored_ids(&js, &settings.name).await;
    assert_eq!(stored.len(), 41, "each event stored once");
    let stored: HashSet<String> = stored.into_iter().collect();
    let mut sent: HashSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    sent.insert(format!("{}", direct_id));
    assert_eq!(stored, sent);
    js.delete_stream(&settings.name).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_publisher_replays_what_an_earlier_one_spooled() {
    let js = jetstream().await;
    let settings = settings();
    let dir = std::env::temp_dir().join(format!("tollgate-pubspool-{}", Uuid::now_v7()));
    let tenant = Uuid::now_v7();
    let events: Vec<Event> = (0..25).map(|n| credit(tenant, n)).collect();
    {
        let (spool, metrics) = spool_at(&dir);
        let (publisher, handle) = spooling_publisher(&js, &settings, spool);
        for event in &events {
            publisher.publish(event.clone()).await.unwrap();
        }
        // Shut down while the stream is still missing: nothing is left only in memory.
        assert_eq!(handle.shutdown().await, 0);
        assert_eq!(metrics.depth(), 25);
    }
    ensure_stream(&js, &settings).await.unwrap();
    let (spool, metrics) = spool_at(&dir);
    assert_eq!(metrics.depth(), 25, "the spool survives the restart");
    let (_publisher, handle) = spooling_publisher(&js, &settings, spool);
    wait_replayed(&metrics, 25).await;
    assert_eq!(handle.shutdown().await, 0);
    let stored = stored_ids(&js, &settings.name).await;
    assert_eq!(stored.len(), 25, "each event stored once");
    let stored: HashSet<String> = stored.into_iter().collect();
    let sent: HashSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(stored, sent);
    js.delete_stream(&settings.name).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A usage event far over the server's `max_payload` (1 MiB by default).
fn oversized(tenant: Uuid) -> Event {
    let mut event = credit(tenant, 999);
    if let EventBody::CreditsGranted(grant) = &mut event.body {
        grant.note = Some("x".repeat(2 << 20));
    }
    event
}

fn set_aside_ids(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(tollgate_events::spool::SET_ASIDE_FILE))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let kept: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                kept["reason"].as_str().unwrap().contains("max payload"),
                "{}",
                kept["reason"]
            );
            kept["event_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_jetstream_refuses_for_good_is_set_aside_and_blocks_nothing() {
    let js = jetstream().await;
    let settings = settings();
    ensure_stream(&js, &settings).await.unwrap();
    let dir = std::env::temp_dir().join(format!("tollgate-pubspool-{}", Uuid::now_v7()));
    let (spool, spool_metrics) = spool_at(&dir);
    let metrics = PublisherMetrics::default();
    let (publisher, handle) = Publisher::start_observed(
        js.clone(),
        settings.subject_prefix.clone(),
        spooling_config(),
        metrics.clone(),
        None,
        Some(spool),
    );
    let tenant = Uuid::now_v7();
    let (before, huge, after) = (credit(tenant, 1), oversized(tenant), credit(tenant, 2));
    let huge_id = huge.event_id.to_string();
    let mut receipts = Vec::new();
    for event in [before.clone(), huge, after.clone()] {
        receipts.push(publisher.publish(event).await.unwrap());
    }
    let mut stored = Vec::new();
    for receipt in receipts {
        stored.push(
            tokio::time::timeout(Duration::from_secs(10), receipt)
                .await
                .expect("every receipt resolves")
                .unwrap(),
        );
    }
    assert_eq!(stored, [Stored::Acked, Stored::SetAside, Stored::Acked]);
    assert_eq!(metrics.set_aside(), 1);
    assert_eq!(spool_metrics.depth(), 0, "nothing waits in the spool");
    assert_eq!(set_aside_ids(&dir), [huge_id]);
    assert_eq!(
        stored_ids(&js, &settings.name).await,
        [before.event_id.to_string(), after.event_id.to_string()]
    );
    assert_eq!(handle.shutdown().await, 0);
    js.delete_stream(&settings.name).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spooled_event_jetstream_refuses_at_replay_is_set_aside_and_the_spool_drains() {
    let js = jetstream().await;
    let settings = settings();
    let dir = std::env::temp_dir().join(format!("tollgate-pubspool-{}", Uuid::now_v7()));
    let (spool, spool_metrics) = spool_at(&dir);
    let (publisher, handle) = spooling_publisher(&js, &settings, spool);
    let tenant = Uuid::now_v7();
    // No stream yet: the first event fails and turns the publisher to the spool, so the
    // oversized one is spooled too, between two good ones.
    let first = credit(tenant, 1);
    let receipt = publisher.publish(first.clone()).await.unwrap();
    assert_eq!(receipt.await.unwrap(), Stored::Spooled);
    let huge = oversized(tenant);
    let huge_id = huge.event_id.to_string();
    let last = credit(tenant, 2);
    for event in [huge, last.clone()] {
        let receipt = publisher.publish(event).await.unwrap();
        assert_eq!(receipt.await.unwrap(), Stored::Spooled);
    }
    assert_eq!(spool_metrics.depth(), 3);

    ensure_stream(&js, &settings).await.unwrap();
    wait_replayed(&spool_metrics, 3).await;
    assert_eq!(set_aside_ids(&dir), [huge_id]);
    assert_eq!(
        stored_ids(&js, &settings.name).await,
        [first.event_id.to_string(), last.event_id.to_string()]
    );
    // Healthy again afterwards.
    let direct = publisher.publish(credit(tenant, 3)).await.unwrap();
    assert_eq!(direct.await.unwrap(), Stored::Acked);
    assert_eq!(handle.shutdown().await, 0);
    js.delete_stream(&settings.name).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
