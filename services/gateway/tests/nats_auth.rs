//! NATS trust boundaries, on a real nats-server with the deployment's users and permissions
//! (`deploy/nats/permissions.conf`): every service works as its own user with nothing denied,
//! nobody connects without valid credentials, and a service that publishes what is not its own
//! (credits from analytics, usage from alerting, balances from anyone but the ledger, a purge
//! of the stream) is refused, and none of it is booked.

use std::str::FromStr;
use std::time::Duration;

use async_nats::jetstream;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_events::balances::{balance_bucket, tenant_balance_key};
use tollgate_events::{CreditSource, CreditsGranted, Event, EventBody, subject_for};
use tollgate_testkit::{NatsServer, Stack, usage_event};
use uuid::Uuid;

fn dec(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap()).unwrap()
}

/// A JetStream context of `user` on `server`, giving up on an unanswered request after 1 s.
async fn jetstream_as(server: &NatsServer, user: &str) -> jetstream::Context {
    let client = server
        .users()
        .unwrap()
        .access(user)
        .apply(async_nats::ConnectOptions::new())
        .connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"));
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(1));
    js
}

/// What a forged `credits.granted` of `amount` for `tenant` looks like on the wire.
fn forged_credit(tenant: Uuid, amount: &str) -> (String, bytes::Bytes) {
    let event = Event::new(
        tenant,
        EventBody::CreditsGranted(CreditsGranted {
            amount_usd: Decimal::from_str(amount).unwrap(),
            idempotency_key: format!("forged-{}", Uuid::now_v7()),
            note: Some("forged".into()),
            source: CreditSource::Api,
        }),
    );
    let subject = subject_for("tollgate", tenant, event.body.kind());
    (subject, event.encode().unwrap().into())
}

/// Publishes and waits for JetStream's ack: `Ok` only if the stream stored it.
async fn stored(js: &jetstream::Context, subject: String, payload: bytes::Bytes) -> bool {
    match js.publish(subject, payload).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_works_as_its_own_nats_user_and_forgeries_are_refused() {
    let server = NatsServer::start_secured();
    let mut stack = Stack::start_secured(&server).await;
    stack.start_ledger().await;
    stack.start_analytics().await;
    let (_alerting, alerting_stop, alerting_task) = stack.spawn_alerting().await;

    // The whole money path as the services' own users: the gateway publishes the credit and
    // the usage, the ledger books both and publishes an auto top-up, which it books too.
    let tenant = stack.funded_tenant(json!({})).await;
    let rule = stack
        .admin(
            reqwest::Method::PUT,
            &format!("/api/v1/tenants/{}/auto-topup", tenant.tenant_id),
        )
        .json(&json!({"threshold_usd": "99.9999999", "amount_usd": "5"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 200);
    let response = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let balance = stack.wait_for_entries(tenant.tenant_id, 3).await;
    assert_eq!(dec(&balance["credited_usd"]), Decimal::from(105));
    // Analytics and alerting consumed as well (their consumers exist and are caught up).
    let operator = jetstream_as(&server, "operator").await;
    let events = operator.get_stream("TOLLGATE").await.unwrap();
    for durable in ["ledger", "analytics", "alerting"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let info = events
                .consumer_info(durable)
                .await
                .unwrap_or_else(|e| panic!("consumer {durable}: {e}"));
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{durable} did not catch up: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let log = server.log();
    assert!(
        !log.contains("Violation") && !log.contains("authentication error"),
        "a service was refused something it needs:\n{log}"
    );

    // No credentials, or a wrong password: no connection.
    let options = || async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(2));
    assert!(options().connect(server.url()).await.is_err(), "anonymous");
    let wrong = options()
        .user_and_password("ledger".into(), "not-the-password".into())
        .connect(server.url())
        .await;
    assert!(wrong.is_err(), "wrong password");

    // Services publishing what is not theirs.
    let analytics = jetstream_as(&server, "analytics").await;
    let (subject, payload) = forged_credit(tenant.tenant_id, "1000");
    assert!(
        !stored(&analytics, subject, payload).await,
        "analytics credits"
    );
    let alerting = jetstream_as(&server, "alerting").await;
    let (subject, payload) = forged_credit(tenant.tenant_id, "1000");
    assert!(
        !stored(&alerting, subject, payload).await,
        "alerting credits"
    );
    let refund = usage_event(
        tenant.tenant_id,
        tenant.key_id,
        Decimal::from_str("-1000").unwrap(),
    );
    let subject = subject_for("tollgate", tenant.tenant_id, refund.body.kind());
    let payload = refund.encode().unwrap().into();
    assert!(!stored(&alerting, subject, payload).await, "alerting usage");
    // The balance feed gateways admit by: only the ledger writes it.
    let key = tenant_balance_key(tenant.tenant_id);
    let bucket = format!("$KV.{}.{key}", balance_bucket("TOLLGATE"));
    let fake = json!({"tenant_id": tenant.tenant_id, "balance_usd": "1000000", "seq": u64::MAX});
    for user in ["gateway", "analytics", "alerting"] {
        let js = jetstream_as(&server, user).await;
        let payload = fake.to_string().into();
        assert!(
            !stored(&js, bucket.clone(), payload).await,
            "{user} wrote a balance"
        );
    }
    // Nobody but the operator purges the stream or deletes a consumer.
    for user in ["gateway", "ledger", "analytics", "alerting"] {
        let js = jetstream_as(&server, user).await;
        // Every service may read the stream's info, so this is the purge being refused.
        if let Ok(stream) = js.get_stream("TOLLGATE").await {
            assert!(stream.purge().await.is_err(), "{user} purged the stream");
            assert!(
                stream.delete_consumer("ledger").await.is_err(),
                "{user} deleted the ledger's consumer"
            );
        }
        assert!(
            js.delete_stream("TOLLGATE").await.is_err(),
            "{user} deleted the stream"
        );
    }
    let log = server.log();
    assert!(log.contains("Publish Violation"), "{log}");

    // One more real credit, booked after every forgery was tried: the balance holds exactly
    // what the gateway and the ledger published.
    stack.credit(tenant.tenant_id, "1", "after-forgeries").await;
    let balance = stack.wait_for_entries(tenant.tenant_id, 4).await;
    assert_eq!(dec(&balance["credited_usd"]), Decimal::from(106));
    let granted = stack
        .events(tenant.tenant_id)
        .await
        .into_iter()
        .filter(|event| matches!(event.body, EventBody::CreditsGranted(_)))
        .count();
    assert_eq!(granted, 3, "funding, auto top-up, the last credit");
    let stored_balance = operator
        .get_key_value(balance_bucket("TOLLGATE"))
        .await
        .unwrap()
        .get(&key)
        .await
        .unwrap()
        .expect("the ledger's balance");
    let snapshot: Value = serde_json::from_slice(&stored_balance).unwrap();
    assert_ne!(snapshot["balance_usd"], "1000000");

    alerting_stop.cancel();
    alerting_task.await.unwrap();
    stack.stop().await;
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA (`<name>-ca.crt`) and a server certificate for 127.0.0.1 it signed (`<name>.crt`,
/// `<name>.key`) in `dir`.
fn certificates(dir: &std::path::Path, name: &str) {
    let ca = format!("{name}-ca");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN={ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

#[tokio::test]
async fn services_reach_nats_over_tls_verified_by_the_configured_ca() {
    let dir = std::env::temp_dir().join(format!("tollgate-tls-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir, "server");
    certificates(&dir, "stranger");
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let server = NatsServer::start_with_conf(&format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
        file("server.crt"),
        file("server.key")
    ));
    let connect = |ca: Option<String>| {
        let env = ca
            .map(|ca| ("NATS_TLS_CA".to_owned(), ca))
            .into_iter()
            .collect();
        let access = tollgate_events::NatsAccess::from_env(&env).unwrap();
        let url = server.url();
        async move {
            let options = access
                .apply(async_nats::ConnectOptions::new())
                .connection_timeout(Duration::from_secs(2));
            options.connect(url).await
        }
    };
    // With the server's CA (what every service gets from NATS_TLS_CA), JetStream answers.
    let client = connect(Some(file("server-ca.crt")))
        .await
        .expect("TLS with the CA");
    let js = jetstream::new(client);
    js.query_account().await.expect("JetStream over TLS");
    // Another CA, or none (the system's roots), cannot verify it: no connection.
    assert!(
        connect(Some(file("stranger-ca.crt"))).await.is_err(),
        "a foreign CA"
    );
    assert!(connect(None).await.is_err(), "no CA");
    std::fs::remove_dir_all(&dir).unwrap();
}
