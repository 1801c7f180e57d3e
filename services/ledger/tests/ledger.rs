//! The ledger against real NATS JetStream and Postgres: exact balances, exactly-once booking
//! under redelivery and republish, two instances, dead letters, rebuild, and scoped reads.

use std::str::FromStr;
use std::time::Duration;

use chrono::Datelike;

use futures_util::future::join_all;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_events::{CreditSource, CreditsGranted, Event, EventBody, subject_for};
use tollgate_ledger::entry::LedgerEntry;
use tollgate_testkit::{Stack, sse_data, usage_event};
use uuid::Uuid;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("not a decimal string: {v}")),
    )
    .unwrap()
}

fn usage(tenant: Uuid, key: Uuid, cost: &str) -> Event {
    usage_event(tenant, key, Decimal::from_str(cost).unwrap())
}

/// Publishes raw bytes to the stack's stream (optionally with a message id) and waits for the ack.
async fn publish_raw(stack: &Stack, subject: String, payload: Vec<u8>, msg_id: Option<String>) {
    let mut headers = async_nats::HeaderMap::new();
    if let Some(id) = msg_id {
        headers.insert("Nats-Msg-Id", id.as_str());
    }
    stack
        .js
        .publish_with_headers(subject, headers, payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// Waits (up to 5 s) until the dead-letter stream holds `count` parked events; returns the
/// first.
async fn first_parked(stack: &Stack, count: u64) -> async_nats::jetstream::message::StreamMessage {
    let dlq = stack
        .js
        .get_stream(format!("{}_DLQ", stack.stream))
        .await
        .unwrap();
    let mut info = dlq.get_info().await.unwrap();
    for _ in 0..100 {
        if info.state.messages >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        info = dlq.get_info().await.unwrap();
    }
    assert_eq!(info.state.messages, count);
    dlq.get_raw_message(info.state.first_sequence)
        .await
        .unwrap()
}

async fn publish_event(stack: &Stack, event: &Event, msg_id: Option<String>) {
    let subject = subject_for(&stack.subject_prefix, event.tenant_id, event.body.kind());
    publish_raw(stack, subject, event.encode().unwrap(), msg_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_equals_credited_minus_the_sum_of_what_clients_were_charged() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    stack.credit(tenant.tenant_id, "10.00", "initial").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;

    let mut charged = Decimal::ZERO;
    for i in 0..12 {
        let prompt = format!("Request number {i} asks something different");
        if i % 2 == 0 {
            let response = stack
                .chat(&tenant.key, &json!({"model": if i % 4 == 0 { "demo-small" } else { "demo-large" }, "messages": [{"role": "user", "content": prompt}]}))
                .await;
            assert_eq!(response.status(), 200);
            charged +=
                Decimal::from_str(response.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
        } else {
            let body = stack
                .chat(&tenant.key, &json!({"model": "demo-large", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": prompt}]}))
                .await
                .text()
                .await
                .unwrap();
            let data = sse_data(&body);
            let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
            charged += dec(&usage["usage"]["cost_usd"]);
        }
    }
    // A rejected request is recorded but costs nothing.
    let rejected = stack
        .chat(
            &tenant.key,
            &json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(rejected.status(), 404);

    let balance = stack.wait_for_entries(tenant.tenant_id, 14).await;
    assert!(charged > Decimal::ZERO);
    assert_eq!(dec(&balance["credited_usd"]), Decimal::from(10));
    assert_eq!(
        dec(&balance["spent_usd"]),
        charged,
        "spent equals the sum of costs told to the client"
    );
    assert_eq!(
        dec(&balance["balance_usd"]),
        Decimal::from(10) - charged,
        "to the last decimal"
    );
    assert_eq!(balance["tenant_id"], tenant.tenant_id.to_string());

    // Spend per key and per calendar month agree with the balance.
    let pool = tollgate_store::connect(&tollgate_testkit::database_url(), 2)
        .await
        .unwrap();
    let (key_spent, key_requests): (Decimal, i64) =
        sqlx::query_as("SELECT spent_usd, requests FROM key_spend WHERE api_key_id = $1")
            .bind(tenant.key_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((key_spent, key_requests), (charged, 13));
    let months: Vec<(chrono::NaiveDate, Decimal, i64)> =
        sqlx::query_as("SELECT month, spent_usd, requests FROM monthly_spend WHERE tenant_id = $1")
            .bind(tenant.tenant_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    let this_month = chrono::Utc::now().date_naive().with_day(1).unwrap();
    assert_eq!(months, vec![(this_month, charged, 13)]);
    assert!(balance["as_of"].as_str().unwrap().ends_with('Z'));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_published_twice_is_charged_once() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let event = usage(tenant.tenant_id, tenant.key_id, "0.25");
    // Different message ids defeat JetStream's duplicate window: the stream holds both copies.
    publish_event(&stack, &event, Some("copy-1".into())).await;
    publish_event(&stack, &event, Some("copy-2".into())).await;
    publish_event(&stack, &event, None).await;
    let other = usage(tenant.tenant_id, tenant.key_id, "0.5");
    publish_event(&stack, &other, None).await;

    let balance = stack.wait_for_entries(tenant.tenant_id, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let balance_later = stack.balance(tenant.tenant_id).await;
    assert_eq!(balance["spent_usd"], balance_later["spent_usd"]);
    assert_eq!(
        dec(&balance_later["spent_usd"]),
        Decimal::from_str("0.75").unwrap()
    );
    assert_eq!(
        dec(&balance_later["balance_usd"]),
        Decimal::from_str("-0.75").unwrap()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_committed_but_not_acknowledged_is_not_booked_again() {
    let mut stack = Stack::start_bare().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let events: Vec<Event> = (0..30)
        .map(|i| {
            usage(
                tenant.tenant_id,
                tenant.key_id,
                &format!("0.0{}", i % 9 + 1),
            )
        })
        .collect();
    for event in &events {
        publish_event(&stack, event, Some(event.event_id.to_string())).await;
    }
    // A ledger that committed the first 20 and died before acking: book them directly.
    let config = stack.ledger_config();
    let pool = tollgate_store::connect(&config.consumer.database_url, 2)
        .await
        .unwrap();
    tollgate_store::migrate(&pool).await.unwrap();
    let crashed: Vec<LedgerEntry> = events[..20]
        .iter()
        .enumerate()
        .map(|(i, e)| LedgerEntry::from_event(e.clone(), i as u64 + 1).unwrap())
        .collect();
    assert_eq!(
        tollgate_ledger::book(&pool, &crashed).await.unwrap().booked,
        20
    );

    // The restarted ledger gets all 30 delivered (none were acked) and books only the last 10.
    let metrics_url = stack.start_ledger().await;
    let balance = stack.wait_for_entries(tenant.tenant_id, 30).await;
    let expected: Decimal = events
        .iter()
        .map(|e| match &e.body {
            EventBody::UsageRecorded(u) => u.cost_usd,
            _ => Decimal::ZERO,
        })
        .sum();
    assert_eq!(dec(&balance["spent_usd"]), expected);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = stack
        .http
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tollgate_ledger_duplicates_total 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_ledger_booked_total 10"),
        "{metrics}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ledger_instances_on_one_durable_consumer_give_exact_totals_and_rebuild_matches() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    stack.start_ledger().await;
    let tenants: Vec<_> = join_all((0..4).map(|_| stack.tenant_with_key(json!({})))).await;
    let mut expected = vec![Decimal::ZERO; tenants.len()];
    let mut publishes = Vec::new();
    for i in 0..400 {
        let t = i % tenants.len();
        let cost = Decimal::new(i as i64 + 1, 7);
        expected[t] += cost;
        let event = usage(tenants[t].tenant_id, tenants[t].key_id, &cost.to_string());
        publishes.push(event);
    }
    join_all(
        publishes
            .iter()
            .map(|e| publish_event(&stack, e, Some(e.event_id.to_string()))),
    )
    .await;
    for (tenant, spent) in tenants.iter().zip(&expected) {
        let balance = stack.wait_for_entries(tenant.tenant_id, 100).await;
        assert_eq!(dec(&balance["spent_usd"]), *spent);
        assert_eq!(dec(&balance["balance_usd"]), -*spent);
    }
    let report = tollgate_ledger::rebuild(&stack.ledger_config(), false)
        .await
        .unwrap();
    // Read: the 400 charges and the audit events of the 4 tenants and their keys.
    assert_eq!(report.events, 408);
    assert_eq!(report.entries, 400);
    assert_eq!(report.tenants, 4);
    assert!(
        report.matches,
        "rebuild differs for {:?}",
        report.mismatched
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_per_day_follows_each_event_time_and_rebuild_compares_it() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let tenants: Vec<_> = join_all((0..2).map(|_| stack.tenant_with_key(json!({})))).await;
    let now = chrono::Utc::now();
    let mut expected: std::collections::BTreeMap<(Uuid, chrono::NaiveDate), (Decimal, i64)> =
        Default::default();
    for i in 0..40 {
        let tenant = &tenants[i % 2];
        let cost = Decimal::new(i as i64 + 1, 6);
        let mut event = usage(tenant.tenant_id, tenant.key_id, &cost.to_string());
        event.occurred_at = now - chrono::TimeDelta::days((i % 5) as i64);
        let day = expected
            .entry((tenant.key_id, event.occurred_at.date_naive()))
            .or_default();
        day.0 += cost;
        day.1 += 1;
        publish_event(&stack, &event, None).await;
    }
    for tenant in &tenants {
        stack.wait_for_entries(tenant.tenant_id, 20).await;
    }
    let pool = tollgate_store::connect(&tollgate_testkit::database_url(), 2)
        .await
        .unwrap();
    let mut booked = std::collections::BTreeMap::new();
    for tenant in &tenants {
        let rows: Vec<(Uuid, chrono::NaiveDate, Decimal, i64)> = sqlx::query_as(
            "SELECT api_key_id, day, spent_usd, requests FROM daily_spend WHERE tenant_id = $1",
        )
        .bind(tenant.tenant_id)
        .fetch_all(&pool)
        .await
        .unwrap();
        booked.extend(rows.into_iter().map(|(k, d, s, r)| ((k, d), (s, r))));
    }
    assert_eq!(booked, expected, "one row per key and UTC day of the event");

    let report = tollgate_ledger::rebuild(&stack.ledger_config(), false)
        .await
        .unwrap();
    assert!(
        report.matches,
        "rebuild differs for {:?}",
        report.mismatched
    );
    // A day's spend that differs from the stream is a mismatch, even with equal balances.
    sqlx::query(
        "UPDATE daily_spend SET spent_usd = spent_usd + 1 WHERE tenant_id = $1 \
         AND day = (SELECT min(day) FROM daily_spend WHERE tenant_id = $1)",
    )
    .bind(tenants[1].tenant_id)
    .execute(&pool)
    .await
    .unwrap();
    let report = tollgate_ledger::rebuild(&stack.ledger_config(), false)
        .await
        .unwrap();
    assert_eq!(report.mismatched, vec![tenants[1].tenant_id]);
    // So is a day the stream never had.
    sqlx::query(
        "UPDATE daily_spend SET spent_usd = spent_usd - 1 WHERE tenant_id = $1 \
         AND day = (SELECT min(day) FROM daily_spend WHERE tenant_id = $1)",
    )
    .bind(tenants[1].tenant_id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO daily_spend (tenant_id, api_key_id, day, spent_usd, requests) \
         VALUES ($1, $2, '2001-01-01', 1, 1)",
    )
    .bind(tenants[0].tenant_id)
    .bind(tenants[0].key_id)
    .execute(&pool)
    .await
    .unwrap();
    let report = tollgate_ledger::rebuild(&stack.ledger_config(), false)
        .await
        .unwrap();
    assert_eq!(report.mismatched, vec![tenants[0].tenant_id]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparsable_and_unknown_events_are_dead_lettered_and_do_not_block() {
    let mut stack = Stack::start_bare().await;
    let metrics_url = stack.start_ledger().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let subject = subject_for(&stack.subject_prefix, tenant.tenant_id, "usage.recorded");
    publish_raw(&stack, subject, b"{not json".to_vec(), None).await;
    let unknown = json!({"event_id": Uuid::now_v7(), "schema_version": 1, "occurred_at": "2026-11-22T00:00:00Z",
        "tenant_id": tenant.tenant_id, "kind": "quota.changed", "data": {}});
    publish_raw(
        &stack,
        subject_for(&stack.subject_prefix, tenant.tenant_id, "quota.changed"),
        unknown.to_string().into_bytes(),
        None,
    )
    .await;
    let negative_credit = Event::new(
        tenant.tenant_id,
        EventBody::CreditsGranted(CreditsGranted {
            amount_usd: Decimal::from(-5),
            idempotency_key: "x".into(),
            note: None,
            source: CreditSource::Api,
        }),
    );
    publish_event(&stack, &negative_credit, None).await;
    stack.credit(tenant.tenant_id, "3", "after-garbage").await;

    let balance = stack.wait_for_entries(tenant.tenant_id, 1).await;
    assert_eq!(dec(&balance["credited_usd"]), Decimal::from(3));
    let parked = first_parked(&stack, 3).await;
    assert!(
        parked
            .headers
            .get("Tollgate-Reason")
            .unwrap()
            .as_str()
            .starts_with("unparsable")
    );
    let metrics = stack
        .http
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tollgate_ledger_dead_letters_total 3"),
        "{metrics}"
    );
    let _ = stack
        .js
        .delete_stream(format!("{}_DLQ", stack.stream))
        .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_top_ups_with_one_idempotency_key_credit_once() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let path = format!("/api/v1/tenants/{}/credits", tenant.tenant_id);
    let responses = join_all((0..50).map(|_| {
        stack
            .admin(reqwest::Method::POST, &path)
            .json(&json!({"amount_usd": "7.5", "idempotency_key": "same"}))
            .send()
    }))
    .await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        ids.insert(
            response.json::<Value>().await.unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1, "one event id for one idempotency key");
    stack.wait_for_entries(tenant.tenant_id, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let balance = stack.balance(tenant.tenant_id).await;
    assert_eq!(
        dec(&balance["credited_usd"]),
        Decimal::from_str("7.5").unwrap()
    );

    // Reusing the key for another amount, once booked, is a conflict; the same amount is fine.
    let conflict = stack
        .admin(reqwest::Method::POST, &path)
        .json(&json!({"amount_usd": "8", "idempotency_key": "same"}))
        .send()
        .await
        .unwrap();
    assert_eq!(conflict.status(), 409);
    let same = stack
        .admin(reqwest::Method::POST, &path)
        .json(&json!({"amount_usd": "7.50", "idempotency_key": "same"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 201);

    // Adjustments: signed, idempotent, shown in the ledger with their reason.
    let adjust = format!("/api/v1/tenants/{}/adjustments", tenant.tenant_id);
    for _ in 0..2 {
        let response = stack
            .admin(reqwest::Method::POST, &adjust)
            .json(&json!({"amount_usd": "-2.25", "reason": "refund reversal", "idempotency_key": "adj-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let balance = stack.wait_for_entries(tenant.tenant_id, 2).await;
    assert_eq!(
        dec(&balance["adjusted_usd"]),
        Decimal::from_str("-2.25").unwrap()
    );
    assert_eq!(
        dec(&balance["balance_usd"]),
        Decimal::from_str("5.25").unwrap()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_scoped_to_the_tenant_and_paginate() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let a = stack.tenant_with_key(json!({})).await;
    let b = stack.tenant_with_key(json!({})).await;
    for i in 0..5 {
        stack.credit(a.tenant_id, "1", &format!("a-{i}")).await;
    }
    stack.credit(b.tenant_id, "2", "b-0").await;
    stack.wait_for_entries(a.tenant_id, 5).await;

    let read = |key: &str, tenant: Uuid, what: &str| {
        stack
            .http
            .get(format!("{}/api/v1/tenants/{tenant}/{what}", stack.url))
            .bearer_auth(key.to_owned())
            .send()
    };
    // Own tenant: allowed with a tenant key.
    let own = read(&a.key, a.tenant_id, "balance").await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(
        dec(&own.json::<Value>().await.unwrap()["balance_usd"]),
        Decimal::from(5)
    );
    // Another tenant (existing or not): 404, never 403.
    for what in ["balance", "ledger"] {
        assert_eq!(read(&a.key, b.tenant_id, what).await.unwrap().status(), 404);
        assert_eq!(
            read(&a.key, Uuid::now_v7(), what).await.unwrap().status(),
            404
        );
    }
    // The tenant's keys are its own to read, another tenant's are not found; operator-only
    // endpoints refuse a key.
    assert_eq!(
        read(&a.key, a.tenant_id, "keys").await.unwrap().status(),
        200
    );
    assert_eq!(
        read(&a.key, b.tenant_id, "keys").await.unwrap().status(),
        404
    );
    assert_eq!(
        read(&a.key, a.tenant_id, "auto-topup")
            .await
            .unwrap()
            .status(),
        401
    );

    // Pagination: newest first, `before` continues after the last event id seen.
    let first: Value = read(&a.key, a.tenant_id, "ledger?limit=2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_before"].as_str().unwrap();
    let rest: Value = read(
        &a.key,
        a.tenant_id,
        &format!("ledger?limit=10&before={cursor}"),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(rest["data"].as_array().unwrap().len(), 3);
    assert_eq!(rest["data"][0]["kind"], "credits.granted");
    assert_eq!(rest["data"][0]["amount_usd"], "1");
    assert!(rest["next_before"].is_null());
    for bad in ["ledger?limit=0", "ledger?limit=x", "ledger?before=nope"] {
        assert_eq!(
            read(&a.key, a.tenant_id, bad).await.unwrap().status(),
            400,
            "{bad}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_feed_publishes_booked_balances_and_key_spend_with_their_sequence() {
    use tollgate_events::balances::{
        KeySpendSnapshot, TenantBalanceSnapshot, balance_bucket, key_spend_key, tenant_balance_key,
    };
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    stack.credit(tenant.tenant_id, "2", "feed").await;
    let spent = usage(tenant.tenant_id, tenant.key_id, "0.125");
    publish_event(&stack, &spent, None).await;
    let balance = stack.wait_for_entries(tenant.tenant_id, 2).await;

    let store = stack
        .js
        .get_key_value(balance_bucket(&stack.stream))
        .await
        .expect("balance bucket (KV needs nats-server >= 2.10; scripts/test starts 2.15)");
    let mut snapshot: Option<TenantBalanceSnapshot> = None;
    for _ in 0..100 {
        if let Some(bytes) = store
            .get(tenant_balance_key(tenant.tenant_id))
            .await
            .unwrap()
        {
            let value: TenantBalanceSnapshot = serde_json::from_slice(&bytes).unwrap();
            if value.seq >= 2 {
                snapshot = Some(value);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snapshot = snapshot.expect("tenant balance in the feed");
    assert_eq!(snapshot.balance_usd, dec(&balance["balance_usd"]));
    assert_eq!(snapshot.balance_usd, Decimal::from_str("1.875").unwrap());
    assert_eq!(snapshot.seq, balance["last_seq"].as_u64().unwrap());

    let key: KeySpendSnapshot = serde_json::from_slice(
        &store
            .get(key_spend_key(tenant.key_id))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(key.spent_usd, Decimal::from_str("0.125").unwrap());
    assert_eq!(key.tenant_id, tenant.tenant_id);
    assert_eq!(key.seq, snapshot.seq);
    let _ = stack
        .js
        .delete_key_value(balance_bucket(&stack.stream))
        .await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_top_up_grants_once_when_the_balance_falls_below_the_threshold() {
    let mut stack = Stack::start_bare().await;
    stack.start_ledger().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let rule_path = format!("/api/v1/tenants/{}/auto-topup", tenant.tenant_id);
    let rule = stack
        .admin(reqwest::Method::PUT, &rule_path)
        .json(&json!({"threshold_usd": "0.80", "amount_usd": "5"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 200);
    let rule: Value = rule.json().await.unwrap();
    assert_eq!(
        (rule["threshold_usd"].as_str(), rule["amount_usd"].as_str()),
        (Some("0.8"), Some("5"))
    );
    for bad in [
        json!({"threshold_usd": "-1", "amount_usd": "5"}),
        json!({"threshold_usd": "1", "amount_usd": "0"}),
    ] {
        let response = stack
            .admin(reqwest::Method::PUT, &rule_path)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    stack.credit(tenant.tenant_id, "1", "start").await;
    stack.wait_for_entries(tenant.tenant_id, 1).await;

    // 1.00 -> 0.70 crosses 0.80: one auto top-up of 5.
    publish_event(&stack, &usage(tenant.tenant_id, tenant.key_id, "0.3"), None).await;
    let balance = stack.wait_for_entries(tenant.tenant_id, 3).await;
    assert_eq!(dec(&balance["credited_usd"]), Decimal::from(6));
    assert_eq!(
        dec(&balance["balance_usd"]),
        Decimal::from_str("5.7").unwrap()
    );
    let ledger: Value = stack
        .admin(
            reqwest::Method::GET,
            &format!("/api/v1/tenants/{}/ledger", tenant.tenant_id),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        ledger["data"][0]["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("auto:"),
        "{ledger}"
    );

    // Further spend that stays above the threshold, and a redelivered copy, grant nothing more.
    let more = usage(tenant.tenant_id, tenant.key_id, "0.2");
    publish_event(&stack, &more, Some("a".into())).await;
    publish_event(&stack, &more, Some("b".into())).await;
    stack.wait_for_entries(tenant.tenant_id, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let balance = stack.balance(tenant.tenant_id).await;
    assert_eq!(dec(&balance["credited_usd"]), Decimal::from(6));
    assert_eq!(
        dec(&balance["balance_usd"]),
        Decimal::from_str("5.5").unwrap()
    );

    let deleted = stack
        .admin(reqwest::Method::DELETE, &rule_path)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        stack
            .admin(reqwest::Method::GET, &rule_path)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_killed_mid_flight_loses_and_doubles_nothing_after_restart() {
    let stack = Stack::start_bare().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let mut config = stack.ledger_config();
    config.consumer.ack_wait = Duration::from_secs(2);
    config.consumer.batch_size = 50;
    let first = stack.spawn_killable_ledger(config.clone()).await;

    let events: Vec<Event> = (0..3000)
        .map(|i| {
            usage(
                tenant.tenant_id,
                tenant.key_id,
                &Decimal::new(i % 97 + 1, 8).to_string(),
            )
        })
        .collect();
    let expected: Decimal = events
        .iter()
        .map(|e| match &e.body {
            EventBody::UsageRecorded(u) => u.cost_usd,
            _ => Decimal::ZERO,
        })
        .sum();
    for chunk in events.chunks(250) {
        join_all(
            chunk
                .iter()
                .map(|e| publish_event(&stack, e, Some(e.event_id.to_string()))),
        )
        .await;
    }
    // Kill the ledger while it is booking.
    let pool = tollgate_store::connect(&config.consumer.database_url, 2)
        .await
        .unwrap();
    let booked = || async {
        let (n,): (Option<i64>,) =
            sqlx::query_as("SELECT entries FROM tenant_balances WHERE tenant_id = $1")
                .bind(tenant.tenant_id)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .unwrap_or((Some(0),));
        n.unwrap_or(0)
    };
    while booked().await == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    let _ = first.await;
    let at_kill = booked().await;
    println!("killed the ledger with {at_kill} of 3000 booked");
    assert!(
        at_kill < 3000,
        "killed too late to prove anything ({at_kill} booked)"
    );

    // A new ledger takes over; what the dead one had in flight is redelivered after ack_wait.
    let second = stack.spawn_killable_ledger(config).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while booked().await < 3000 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of 3000 booked",
            booked().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // any late redelivery must change nothing
    let balance = stack.balance(tenant.tenant_id).await;
    assert_eq!(booked().await, 3000, "nothing doubled");
    assert_eq!(
        dec(&balance["spent_usd"]),
        expected,
        "nothing lost, to the last decimal"
    );
    second.abort();
    stack.stop().await;
}

fn credit_event(tenant: Uuid, amount: &str, idempotency_key: &str) -> Event {
    Event::new(
        tenant,
        EventBody::CreditsGranted(CreditsGranted {
            amount_usd: Decimal::from_str(amount).unwrap(),
            idempotency_key: idempotency_key.into(),
            note: None,
            source: CreditSource::Api,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_database_refuses_is_dead_lettered_and_the_rest_of_its_batch_is_booked() {
    let mut stack = Stack::start_bare().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let other = stack.tenant_with_key(json!({})).await;
    // Published before the ledger starts, so it takes them as one batch: a poison event (a
    // cost NUMERIC(20,10) cannot hold) between good ones, and a model with a NUL (an older
    // producer's event) that must still be booked.
    let mut nul_model = usage(tenant.tenant_id, tenant.key_id, "0.25");
    if let EventBody::UsageRecorded(usage) = &mut nul_model.body {
        usage.model_requested = "a\u{0}b".into();
    }
    let poison = usage(other.tenant_id, other.key_id, "1000000000000000");
    for event in [
        credit_event(tenant.tenant_id, "1", "before"),
        poison.clone(),
        nul_model,
        credit_event(tenant.tenant_id, "2", "after"),
    ] {
        publish_event(&stack, &event, None).await;
    }
    let metrics_url = stack.start_ledger().await;

    let balance = stack.wait_for_entries(tenant.tenant_id, 3).await;
    assert_eq!(
        dec(&balance["balance_usd"]),
        Decimal::from_str("2.75").unwrap()
    );
    let page = stack.ledger_page(tenant.tenant_id).await;
    assert!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["model"] == "a\u{FFFD}b"),
        "{page}"
    );
    let parked = first_parked(&stack, 1).await;
    let header = |name: &str| parked.headers.get(name).unwrap().as_str().to_owned();
    assert_eq!(header("Tollgate-Consumer"), "ledger");
    assert!(
        header("Tollgate-Reason").starts_with("refused by the database"),
        "{}",
        header("Tollgate-Reason")
    );
    assert_eq!(
        Event::decode(&parked.payload).unwrap().unwrap().event_id,
        poison.event_id
    );
    assert!(
        stack.ledger_page(other.tenant_id).await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let metrics = stack
        .http
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tollgate_ledger_dead_letters_total 1"),
        "{metrics}"
    );

    // Later events flow, and the rebuild skips the same poison and comes out equal.
    publish_event(&stack, &credit_event(tenant.tenant_id, "3", "later"), None).await;
    let balance = stack.wait_for_entries(tenant.tenant_id, 4).await;
    assert_eq!(
        dec(&balance["balance_usd"]),
        Decimal::from_str("5.75").unwrap()
    );
    let report = tollgate_ledger::rebuild(&stack.ledger_config(), false)
        .await
        .unwrap();
    assert!(
        report.matches,
        "rebuild differs for {:?}",
        report.mismatched
    );
    assert_eq!(report.dead_letters, 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_reused_for_another_amount_is_a_conflict_before_it_is_booked() {
    // No ledger: nothing gets booked, so only the stream knows the first credit.
    let stack = Stack::start_bare().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let path = format!("/api/v1/tenants/{}/credits", tenant.tenant_id);
    let post = |amount: &'static str| {
        stack
            .admin(reqwest::Method::POST, &path)
            .json(&json!({"amount_usd": amount, "idempotency_key": "unbooked"}))
            .send()
    };
    let first = post("5").await.unwrap();
    assert_eq!(first.status(), 201);
    let conflict = post("6").await.unwrap();
    assert_eq!(conflict.status(), 409);
    let error: Value = conflict.json().await.unwrap();
    assert_eq!(error["error"]["code"], "idempotency_conflict", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 USD")
    );
    assert_eq!(
        post("5.00").await.unwrap().status(),
        201,
        "the same amount is a retry"
    );

    // Adjustments are signed: the same key with the opposite sign is another amount.
    let adjust = |amount: &'static str| {
        stack
            .admin(
                reqwest::Method::POST,
                &format!("/api/v1/tenants/{}/adjustments", tenant.tenant_id),
            )
            .json(&json!({"amount_usd": amount, "reason": "correction", "idempotency_key": "adj"}))
            .send()
    };
    assert_eq!(adjust("-100").await.unwrap().status(), 201);
    assert_eq!(adjust("100").await.unwrap().status(), 409);
    assert_eq!(adjust("-100.0").await.unwrap().status(), 201);
    stack.stop().await;
}
