//! Connecting to a list of NATS servers: a dead server ahead of a live one in the list does not
//! stop a service from starting, and a list with no live server fails naming what it tried.

use std::time::Duration;

use tollgate_events::connect_any;

fn live_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A loopback port nothing listens on.
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    format!("nats://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_dead_server_first_in_the_list_is_skipped() {
    let urls = format!("{},{}", dead_url(), live_url());
    // Keep the list's order so the dead server is really tried first.
    let access = tollgate_events::NatsAccess::from_env(&std::env::vars().collect()).unwrap();
    let options = access
        .apply(async_nats::ConnectOptions::new())
        .retain_servers_order()
        .connection_timeout(Duration::from_secs(2));
    let client = connect_any(options, &urls).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.query_account()
        .await
        .expect("JetStream answers through the live server");
}

#[tokio::test]
async fn a_list_without_a_live_server_fails_naming_it() {
    let urls = format!("{},{}", dead_url(), dead_url());
    let options = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(1));
    let err = connect_any(options, &urls)
        .await
        .expect_err("no server to reach");
    assert!(err.to_string().contains(&urls), "{err}");
}
