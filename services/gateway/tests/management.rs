//! Tenants, keys and credits through the management API.

use serde_json::{Value, json};
use tollgate_events::EventBody;
use tollgate_testkit::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_keys_round_trip_and_secrets_are_shown_once() {
    let stack = Stack::start().await;
    let created = stack
        .admin(reqwest::Method::POST, "/api/v1/tenants")
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let tenant: Value = created.json().await.unwrap();
    let id = tenant["id"].as_str().unwrap().to_owned();
    assert_eq!(tenant["name"], "Acme");
    assert!(tenant["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched: Value = stack
        .admin(reqwest::Method::GET, &format!("/api/v1/tenants/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, tenant);

    let key: Value = stack
        .admin(reqwest::Method::POST, &format!("/api/v1/tenants/{id}/keys"))
        .json(&json!({"name": "prod", "tags": ["team-a"], "budget_usd": "25.50", "rpm": 60, "cache": "exact"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("tg_") && secret.len() >= 46);
    assert_eq!(key["budget_usd"], "25.5");
    assert_eq!(key["cache"], "exact");

    let listed = stack
        .admin(reqwest::Method::GET, &format!("/api/v1/tenants/{id}/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(secret), "the secret is never listed");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["data"][0]["id"], key["id"]);
    assert_eq!(listed["data"][0]["tags"], json!(["team-a"]));
    assert!(listed["data"][0].get("key").is_none());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_404_and_bad_bodies_400() {
    let stack = Stack::start().await;
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/tenants/{unknown}"),
        "/api/v1/tenants/not-a-uuid".into(),
        format!("/api/v1/tenants/{unknown}/keys"),
    ] {
        let response = stack
            .admin(reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "not_found");
    }
    let tenant = stack.tenant_with_key(json!({})).await;
    let keys = format!("/api/v1/tenants/{}/keys", tenant.tenant_id);
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "k", "cache": "always"}),
        json!({"name": "k", "budget_usd": 5.5}),
        json!({"name": "k", "allowed_models": ["gpt-nonexistent"]}),
        json!({"name": "k", "rpm": 0}),
        json!({"name": "k", "surprise": true}),
    ] {
        let response = stack
            .admin(reqwest::Method::POST, &keys)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
    }
    let bad_json = stack
        .admin(reqwest::Method::POST, "/api/v1/tenants")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    stack.stop().await;
}

/// Values Postgres cannot store (found by schemathesis and the money fuzz target) are the
/// client's error, 400, never a 503 "database unavailable".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_the_database_cannot_store_are_400() {
    let stack = Stack::start().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let id = tenant.tenant_id;
    let cases = [
        (
            reqwest::Method::POST,
            "/api/v1/tenants".to_owned(),
            Some(json!({"name": "a\u{0}b"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/tenants/{id}/keys"),
            Some(json!({"name": "k", "tags": ["x\u{1}"]})),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/v1/tenants/{id}/auto-topup"),
            Some(json!({"threshold_usd": "99999999999", "amount_usd": "10"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/tenants/{id}/keys"),
            Some(json!({"name": "k", "budget_usd": "10000000000"})),
        ),
        // Passed to SQL as a bind parameter: Postgres itself refuses the NUL.
        (
            reqwest::Method::GET,
            format!("/api/v1/analytics/costs?tenant_id={id}&model=a%00b"),
            None,
        ),
    ];
    for (method, path, body) in cases {
        let mut request = stack.admin(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{method} {path} {body:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{path}");
    }
    let ready = stack
        .http
        .get(format!("{}/readyz", stack.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_with_the_same_idempotency_key_publish_one_event() {
    let stack = Stack::start().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let path = format!("/api/v1/tenants/{}/credits", tenant.tenant_id);
    let grant = |key: &'static str| {
        stack
            .admin(reqwest::Method::POST, &path)
            .json(&json!({"amount_usd": "10.00", "idempotency_key": key, "note": "welcome"}))
            .send()
    };
    let first = grant("topup-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again: Value = grant("topup-1").await.unwrap().json().await.unwrap();
    assert_eq!(first["event_id"], again["event_id"]);
    let other: Value = grant("topup-2").await.unwrap().json().await.unwrap();
    assert_ne!(first["event_id"], other["event_id"]);

    let credits: Vec<_> = stack
        .events(tenant.tenant_id)
        .await
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::CreditsGranted(c) => Some((e.event_id.to_string(), c)),
            _ => None,
        })
        .collect();
    assert_eq!(credits.len(), 2, "the retry was stored once");
    assert_eq!(credits[0].0, first["event_id"].as_str().unwrap());
    assert_eq!(credits[0].1.amount_usd.to_string(), "10");

    for body in [
        json!({"amount_usd": "-1", "idempotency_key": "a"}),
        json!({"amount_usd": "0", "idempotency_key": "a"}),
        json!({"amount_usd": 10, "idempotency_key": "a"}),
        json!({"amount_usd": "0.00000000001", "idempotency_key": "a"}),
        json!({"amount_usd": "99999999", "idempotency_key": "a"}),
        json!({"amount_usd": "1"}),
    ] {
        let response = stack
            .admin(reqwest::Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
    }
    let unknown = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/credits", uuid::Uuid::now_v7()),
        )
        .json(&json!({"amount_usd": "1", "idempotency_key": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    assert_eq!(
        stack
            .http
            .get(format!("{}/healthz", stack.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: Value = stack
        .http
        .get(format!("{}/readyz", stack.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        ready["checks"],
        json!({"database": true, "nats": true, "spool": true})
    );
    // Events are shipped from the gateway's log as they are written: it empties at once.
    let mut feed = Value::Null;
    let mut shipped = false;
    for _ in 0..30 {
        let ready: Value = stack
            .http
            .get(format!("{}/readyz", stack.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        feed = ready["balance_feed"].clone();
        shipped |= ready["events_spooled"] == 0;
        // With a ledger running, the balance feed is live (checked once a second).
        if feed == "live" && shipped {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(feed, "live");
    assert!(shipped, "the log was not shipped to JetStream");

    let ok = stack
        .chat(
            &tenant.key,
            &json!({"model": "demo-small", "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    stack.usage_events(tenant.tenant_id, 1).await;
    let metrics = stack.metrics().await;
    for needle in [
        "tollgate_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 1",
        "tollgate_gateway_overhead_seconds_count 1",
        "tollgate_upstream_latency_seconds_count{provider=\"mock\"} 1",
        // The usage event and the audit events of the tenant, its key and its credit.
        "tollgate_events_acked_total 4",
        "tollgate_events_queue_depth 0",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_a_key_changes_its_budget_and_models_at_once() {
    let stack = Stack::start().await;
    let t = stack.funded_tenant(json!({})).await;
    let path = format!("/api/v1/keys/{}", t.key_id);
    let patch = |body: Value| {
        stack
            .admin(reqwest::Method::PATCH, &path)
            .json(&body)
            .send()
    };
    let ask = |model: &str| json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    // The key is cached by this gateway before each change.
    assert_eq!(stack.chat(&t.key, &ask("demo-small")).await.status(), 200);

    let zero = patch(json!({"budget_usd": "0"})).await.unwrap();
    assert_eq!(zero.status(), 200);
    let key: Value = zero.json().await.unwrap();
    assert_eq!(key["budget_usd"], "0");
    assert!(key.get("key").is_none(), "the secret is never shown again");
    let refused = stack.chat(&t.key, &ask("demo-small")).await;
    assert_eq!(refused.status(), 402);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "budget_exceeded");

    let cleared: Value = patch(json!({"budget_usd": null, "allowed_models": ["demo-large"]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["budget_usd"], Value::Null);
    assert_eq!(cleared["allowed_models"], json!(["demo-large"]));
    assert_eq!(stack.chat(&t.key, &ask("demo-large")).await.status(), 200);
    let forbidden = stack.chat(&t.key, &ask("demo-small")).await;
    assert_eq!(forbidden.status(), 403);

    let every_model: Value =
        patch(json!({"allowed_models": null, "cache": "exact", "cache_threshold": 0.9}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(every_model["allowed_models"], Value::Null);
    assert_eq!(every_model["cache"], "exact");
    assert_eq!(
        every_model["budget_usd"],
        Value::Null,
        "absent fields are kept"
    );
    assert_eq!(stack.chat(&t.key, &ask("demo-small")).await.status(), 200);

    for body in [
        json!({}),
        json!({"cache_threshold": 1.5}),
        json!({"cache": "always"}),
        json!({"cache_ttl_seconds": 0}),
        json!({"budget_usd": 3}),
        json!({"budget_usd": "-1"}),
        json!({"allowed_models": ["gpt-nonexistent"]}),
        json!({"rpm": 0}),
    ] {
        let response = patch(body.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
    }
    let unknown = stack
        .admin(
            reqwest::Method::PATCH,
            &format!("/api/v1/keys/{}", uuid::Uuid::now_v7()),
        )
        .json(&json!({"cache": "off"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // Another tenant's key finds nothing; the tenant's own key may not change it unless the
    // operator let that key manage keys.
    let stranger = stack.funded_tenant(json!({})).await;
    let by_stranger = stack
        .http
        .patch(format!("{}{path}", stack.url))
        .bearer_auth(&stranger.key)
        .json(&json!({"budget_usd": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_stranger.status(), 404);
    let by_own_key = stack
        .http
        .patch(format!("{}{path}", stack.url))
        .bearer_auth(&t.key)
        .json(&json!({"budget_usd": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_own_key.status(), 403);
    let refused: Value = by_own_key.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "key_management_not_allowed");

    let revoked = stack
        .admin(reqwest::Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let conflict = patch(json!({"cache": "off"})).await.unwrap();
    assert_eq!(conflict.status(), 409);
    let error: Value = conflict.json().await.unwrap();
    assert_eq!(error["error"]["code"], "key_revoked");
    stack.stop().await;
}
