//! Analytics end to end: requests through the gateway, the ledger and analytics on real NATS and
//! Postgres, read back through `/api/v1/analytics/*`: totals equal the ledger's to the last
//! decimal, grouping, CSV, tenant scoping, validation, and late or redelivered events counted
//! once in their own bucket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_events::Event;
use tollgate_mock_upstream::Fault;
use tollgate_testkit::{Stack, TenantKey, usage_event};
use uuid::Uuid;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

fn ask(model: &str, i: usize) -> Value {
    json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": format!("question {i}")}]})
}

/// A mock fault: every request fails with 500.
fn failing() -> Fault {
    Fault {
        status: Some(500),
        error_rate: Some(1.0),
        ..Fault::default()
    }
}

async fn get(stack: &Stack, token: &str, path_and_query: &str) -> reqwest::Response {
    stack
        .http
        .get(format!("{}{path_and_query}", stack.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn get_json(stack: &Stack, path_and_query: &str) -> Value {
    let response = get(stack, &stack.admin_token, path_and_query).await;
    assert_eq!(response.status(), 200, "{path_and_query}");
    response.json().await.unwrap()
}

/// Waits until analytics has counted `requests` requests of `tenant` (all time).
async fn wait_counted(stack: &Stack, tenant: Uuid, requests: i64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let totals = get_json(
            stack,
            &format!("/api/v1/analytics/costs?tenant_id={tenant}&period=90d"),
        )
        .await;
        let counted = totals["data"][0]["requests"].as_i64().unwrap_or(0);
        if counted >= requests {
            return totals["data"][0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "analytics counted {counted} of {requests}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn second_key(stack: &Stack, tenant: &TenantKey) -> (String, String) {
    let key: Value = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/keys", tenant.tenant_id),
        )
        .json(&json!({"name": "tagged", "tags": ["team-a", "batch"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_the_ledger_and_answer_by_group_in_json_and_csv() {
    let mut stack = Stack::start().await;
    stack.start_analytics().await;
    let a = stack.funded_tenant(json!({})).await;
    let b = stack.funded_tenant(json!({})).await;
    let (tagged_id, tagged) = second_key(&stack, &a).await;

    for i in 0..5 {
        assert_eq!(
            stack.chat(&a.key, &ask("demo-small", i)).await.status(),
            200
        );
    }
    for i in 0..3 {
        let mut body = ask("demo-large", i);
        body["stream"] = json!(i % 2 == 0);
        let response = stack.chat(&a.key, &body).await;
        assert_eq!(response.status(), 200);
        let _ = response.text().await.unwrap();
    }
    for i in 0..2 {
        assert_eq!(
            stack
                .chat(&tagged, &ask("demo-small", 10 + i))
                .await
                .status(),
            200
        );
    }
    stack.faults.set("mock-small", failing());
    let failed = stack.chat(&a.key, &ask("demo-small", 99)).await;
    assert!(failed.status().is_server_error());
    stack.faults.clear("mock-small");
    for i in 0..4 {
        assert_eq!(
            stack
                .chat(&b.key, &ask("demo-small", 20 + i))
                .await
                .status(),
            200
        );
    }

    // 11 requests of A (and its credit) in the ledger; the same 11 in analytics.
    let balance = stack.wait_for_entries(a.tenant_id, 12).await;
    let totals = wait_counted(&stack, a.tenant_id, 11).await;
    assert_eq!(totals["requests"], 11);
    assert_eq!(
        dec(&totals["cost_usd"]),
        dec(&balance["spent_usd"]),
        "analytics and the ledger agree to the last decimal"
    );
    wait_counted(&stack, b.tenant_id, 4).await;

    let by_model = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/costs?tenant_id={}&period=24h&group_by=model",
            a.tenant_id
        ),
    )
    .await;
    let rows = by_model["data"].as_array().unwrap();
    let requests = |model: &str| {
        rows.iter()
            .find(|r| r["model"] == model)
            .map(|r| r["requests"].as_i64().unwrap())
    };
    assert_eq!(
        (requests("demo-small"), requests("demo-large")),
        (Some(8), Some(3))
    );
    let sum: Decimal = rows.iter().map(|r| dec(&r["cost_usd"])).sum();
    assert_eq!(sum, dec(&totals["cost_usd"]));

    let by_key = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/costs?tenant_id={}&group_by=key",
            a.tenant_id
        ),
    )
    .await;
    let tagged_row = by_key["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key_id"] == tagged_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(tagged_row["requests"], 2);
    let by_tag = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/costs?tenant_id={}&group_by=tag",
            a.tenant_id
        ),
    )
    .await;
    let tag_rows = by_tag["data"].as_array().unwrap();
    for tag in ["team-a", "batch"] {
        let row = tag_rows.iter().find(|r| r["tag"] == tag).unwrap();
        assert_eq!(row["cost_usd"], tagged_row["cost_usd"], "{tag}");
    }
    let untagged = tag_rows.iter().find(|r| r["tag"].is_null()).unwrap();
    assert_eq!(untagged["requests"], 9);

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let by_day = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/costs?tenant_id={}&period=7d&group_by=day,provider",
            a.tenant_id
        ),
    )
    .await;
    assert!(
        by_day["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["day"] == today.as_str())
    );

    // CSV carries the same rows as JSON.
    let csv = get(
        &stack,
        &stack.admin_token,
        &format!(
            "/api/v1/analytics/costs?tenant_id={}&period=24h&group_by=model&format=csv",
            a.tenant_id
        ),
    )
    .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "model");
    let parsed: Vec<Value> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let mut row = serde_json::Map::new();
            for (name, cell) in header.iter().zip(cells) {
                let value = match (*name, cell.parse::<i64>()) {
                    ("model" | "cost_usd" | "saved_usd", _) | (_, Err(_)) => json!(cell),
                    (_, Ok(n)) => json!(n),
                };
                row.insert((*name).to_owned(), value);
            }
            Value::Object(row)
        })
        .collect();
    assert_eq!(parsed, *rows);

    // Operators see every tenant; the top list is dearest first.
    let by_tenant = get_json(&stack, "/api/v1/analytics/costs?group_by=tenant").await;
    let tenant_rows = by_tenant["data"].as_array().unwrap();
    for (tenant, count) in [(a.tenant_id, 11), (b.tenant_id, 4)] {
        let row = tenant_rows
            .iter()
            .find(|r| r["tenant_id"] == tenant.to_string().as_str())
            .unwrap();
        assert_eq!(row["requests"], count);
    }
    let top = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/top?tenant_id={}&by=model&limit=1",
            a.tenant_id
        ),
    )
    .await;
    let top = top["data"].as_array().unwrap();
    assert_eq!(top.len(), 1);
    let dearest = rows.iter().map(|r| dec(&r["cost_usd"])).max().unwrap();
    assert_eq!(dec(&top[0]["cost_usd"]), dearest);

    // Usage over time: requests, errors and latency percentiles.
    let usage = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/usage?tenant_id={}&period=1h",
            a.tenant_id
        ),
    )
    .await;
    assert_eq!(usage["interval"], "minute");
    let points = usage["data"].as_array().unwrap();
    let requests: i64 = points.iter().map(|p| p["requests"].as_i64().unwrap()).sum();
    let errors: i64 = points.iter().map(|p| p["errors"].as_i64().unwrap()).sum();
    assert_eq!((requests, errors), (11, 1));
    assert!(points.iter().all(|p| p["latency_p99_ms"].as_f64().unwrap() >= p["latency_p50_ms"].as_f64().unwrap()));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_keys_see_their_own_tenant_only_and_bad_queries_are_400() {
    let mut stack = Stack::start().await;
    stack.start_analytics().await;
    let a = stack.funded_tenant(json!({})).await;
    let b = stack.funded_tenant(json!({})).await;
    assert_eq!(
        stack.chat(&a.key, &ask("demo-small", 0)).await.status(),
        200
    );
    assert_eq!(
        stack.chat(&b.key, &ask("demo-small", 1)).await.status(),
        200
    );
    wait_counted(&stack, a.tenant_id, 1).await;
    wait_counted(&stack, b.tenant_id, 1).await;

    let own: Value = get(&stack, &a.key, "/api/v1/analytics/costs?period=24h")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["tenant_id"], a.tenant_id.to_string().as_str());
    assert_eq!(own["data"][0]["requests"], 1);
    for path in [
        format!("/api/v1/analytics/costs?tenant_id={}", b.tenant_id),
        format!("/api/v1/analytics/usage?tenant_id={}", b.tenant_id),
        format!("/api/v1/analytics/top?tenant_id={}", b.tenant_id),
    ] {
        let response = get(&stack, &a.key, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "not_found");
    }
    let top: Value = get(&stack, &a.key, "/api/v1/analytics/top?by=model")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        top["data"][0]["requests"], 1,
        "only its own requests: {top}"
    );
    assert_eq!(
        get(&stack, "tg_not-a-real-key", "/api/v1/analytics/costs")
            .await
            .status(),
        401
    );

    for (query, param) in [
        ("from=yesterday", "from"),
        ("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
        ("period=2w", "period"),
        ("period=7d&from=2026-11-01T00:00:00Z", "period"),
        ("group_by=colour", "group_by"),
        ("group_by=tenant", "group_by"),
        ("format=xml", "format"),
    ] {
        let response = get(&stack, &a.key, &format!("/api/v1/analytics/costs?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{query}");
        assert_eq!(error["error"]["param"], param, "{query}");
    }
    let bad_interval = get(&stack, &a.key, "/api/v1/analytics/usage?interval=week").await;
    assert_eq!(bad_interval.status(), 400);
    let bad_limit = get(&stack, &a.key, "/api/v1/analytics/top?limit=0").await;
    assert_eq!(bad_limit.status(), 400);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_redelivered_events_land_once_in_their_own_bucket() {
    let mut stack = Stack::start().await;
    let metrics = stack.start_analytics().await;
    let tenant = Uuid::now_v7();
    let key = Uuid::now_v7();
    let cost = Decimal::from_str("0.0012345678").unwrap();

    // An event from three days ago, 10:15 UTC, arriving now, and delivered twice (published
    // without a message id, so JetStream's duplicate window cannot drop the second copy).
    let mut late: Event = usage_event(tenant, key, cost);
    let day = (chrono::Utc::now() - chrono::Duration::days(3)).date_naive();
    late.occurred_at = day.and_hms_opt(10, 15, 30).unwrap().and_utc();
    let subject = tollgate_events::subject_for(&stack.subject_prefix, tenant, "usage.recorded");
    let payload = serde_json::to_vec(&late).unwrap();
    for _ in 0..2 {
        stack
            .js
            .publish(subject.clone(), payload.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let recent = usage_event(tenant, key, cost);
    tollgate_events::publish_confirmed(&stack.js, &stack.subject_prefix, &recent)
        .await
        .unwrap();

    let totals = wait_counted(&stack, tenant, 2).await;
    // Give a wrongly counted duplicate the time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let totals_again = wait_counted(&stack, tenant, 2).await;
    assert_eq!(totals, totals_again);
    assert_eq!(totals["requests"], 2);
    assert_eq!(dec(&totals["cost_usd"]), cost * Decimal::from(2));

    let hours = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/costs?tenant_id={tenant}&from={}T00:00:00Z&to={}T00:00:00Z&group_by=hour",
            day,
            day.succ_opt().unwrap()
        ),
    )
    .await;
    let rows = hours["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{hours}");
    assert_eq!(rows[0]["hour"], format!("{day}T10:00:00Z").as_str());
    assert_eq!(rows[0]["requests"], 1);
    assert_eq!(dec(&rows[0]["cost_usd"]), cost);
    // The same event through the day rollup (a whole-day range) and the minute rollup.
    let days = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/costs?tenant_id={tenant}&from={}T00:00:00Z&to={}T00:00:00Z&group_by=day",
            day.pred_opt().unwrap(),
            day.succ_opt().unwrap()
        ),
    )
    .await;
    assert_eq!(days["data"][0]["day"], day.to_string().as_str());
    assert_eq!(days["data"][0]["requests"], 1);
    let minutes = get_json(
        &stack,
        &format!(
            "/api/v1/analytics/usage?tenant_id={tenant}&from={day}T10:00:00Z&to={day}T10:30:00Z&interval=minute"
        ),
    )
    .await;
    assert_eq!(
        minutes["data"][0]["minute"],
        format!("{day}T10:15:00Z").as_str()
    );

    let text = stack
        .http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("tollgate_analytics_duplicates_total ") && !l.ends_with(" 0")),
        "the second copy was counted as a duplicate:\n{text}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_and_labels_are_recorded_printable_and_bounded() {
    let mut stack = Stack::start().await;
    let tenant = Uuid::now_v7();
    let key = Uuid::now_v7();
    let cost = Decimal::from_str("0.5").unwrap();
    // A model with a NUL and longer than any index row, from a producer that did not check it.
    let mut hostile = usage_event(tenant, key, cost);
    if let tollgate_events::EventBody::UsageRecorded(usage) = &mut hostile.body {
        usage.model_requested = format!("a\u{0}b{}", "x".repeat(5_000));
    }
    // A cost NUMERIC(20,10) cannot hold: Postgres refuses it, whatever the retries.
    let poison = usage_event(tenant, key, Decimal::from_str("1000000000000000").unwrap());
    let after = usage_event(tenant, key, cost);
    for event in [&hostile, &poison, &after] {
        tollgate_events::publish_confirmed(&stack.js, &stack.subject_prefix, event)
            .await
            .unwrap();
    }
    // Started after the events: they arrive as one batch.
    let metrics = stack.start_analytics().await;

    let totals = wait_counted(&stack, tenant, 2).await;
    assert_eq!(totals["requests"], 2);
    assert_eq!(dec(&totals["cost_usd"]), cost * Decimal::from(2));
    let by_model = get_json(
        &stack,
        &format!("/api/v1/analytics/costs?tenant_id={tenant}&period=1h&group_by=model"),
    )
    .await;
    let models: Vec<&str> = by_model["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["model"].as_str().unwrap())
        .collect();
    let recorded = format!("a\u{FFFD}b{}", "x".repeat(251));
    assert_eq!(recorded.len(), 256);
    assert!(models.contains(&recorded.as_str()), "{by_model}");

    let text = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let text = stack
                .http
                .get(&metrics)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if text.contains("tollgate_analytics_dead_letters_total 1") {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("analytics parks the poison event");
    assert!(
        text.contains("tollgate_analytics_counted_total 2"),
        "{text}"
    );
    let dlq = stack
        .js
        .get_stream(format!("{}_DLQ", stack.stream))
        .await
        .unwrap();
    let parked = dlq
        .get_last_raw_message_by_subject(&format!("{}.dlq.analytics", stack.subject_prefix))
        .await
        .unwrap();
    assert_eq!(
        Event::decode(&parked.payload).unwrap().unwrap().event_id,
        poison.event_id
    );
    stack.stop().await;
}
