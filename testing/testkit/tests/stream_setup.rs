//! Stream set-up (`tollgate_events::ensure_stream`) on a real nats-server: it waits out a
//! broker that is not answering yet (here: down, then back on the same port, as a restarting
//! cluster is) instead of failing the service's start, and gives up at once on an error that
//! waiting cannot fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use tollgate_events::{StreamSettings, ensure_stream};
use tollgate_testkit::{LogCapture, NatsServer};
use uuid::Uuid;

fn settings(replicas: usize) -> StreamSettings {
    let id = Uuid::now_v7().simple().to_string();
    StreamSettings {
        name: format!("SETUP_{id}"),
        subject_prefix: format!("setup{id}"),
        replicas,
        ..StreamSettings::default()
    }
}

// One thread, so the log capture (a thread's default subscriber) sees the set-up's warnings.
#[tokio::test(flavor = "current_thread")]
async fn set_up_waits_for_a_broker_that_comes_back() {
    let logs = LogCapture::default();
    let writer = logs.clone();
    let _capture = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .finish(),
    );
    let mut server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.unwrap();
    // Requests time out well within the outage, so set-up meets real timeouts and retries.
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(500))
        .build(client);
    server.stop();
    let settings = settings(1);
    let back = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_secs(2));
        server.resume();
        server
    });
    let info = ensure_stream(&js, &settings)
        .await
        .expect("the stream is set up once the broker answers");
    assert_eq!(info.config.name, settings.name);
    let _server = back.await.unwrap();
    assert!(
        logs.text().contains("retrying stream set-up"),
        "set-up met the outage and retried: {}",
        logs.text()
    );
    let stream = js.get_stream(&settings.name).await.unwrap();
    assert_eq!(
        stream.cached_info().config.subjects,
        vec![format!("{}.v1.>", settings.subject_prefix)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_fails_at_once_when_waiting_cannot_help() {
    let server = NatsServer::start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let started = Instant::now();
    // Three replicas on a single, unclustered server: JetStream refuses the configuration.
    let err = ensure_stream(&js, &settings(3)).await.unwrap_err();
    assert!(err.to_string().contains("replicas"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused without waiting out the 30 s patience"
    );
}
