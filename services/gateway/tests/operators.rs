//! Scoped operator tokens and the audit log: a token does what its role allows and nothing
//! more, mints only lower roles, a revoked one (and what it minted) nothing at all; every
//! successful management action, and every call a token's role refused, is recorded with its
//! actor, target, request id and status; the operator pages and filters the log, a tenant's
//! key sees only its own tenant's entries; expired entries are not kept.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_events::{AuditRecorded, Event, EventBody};
use tollgate_testkit::Stack;
use uuid::Uuid;

use crate::support::call;

/// The status of a request with `token` as the bearer.
async fn status_of(
    stack: &Stack,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::StatusCode {
    call(stack, token, method, path, body).await.status()
}

/// Mints a token of `role` with the root token; its id and the token.
async fn mint(stack: &Stack, role: &str) -> (String, String) {
    let response = stack
        .admin(Method::POST, "/api/v1/operator-tokens")
        .json(&json!({"name": format!("{role} bot"), "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tgo_") && token.len() > 40, "{token}");
    assert_eq!(body["role"], role);
    (body["id"].as_str().unwrap().to_owned(), token)
}

/// The audit page for `query`, read with `token`, once it holds at least `count` entries.
async fn audit_page(stack: &Stack, token: &str, query: &str, count: usize) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = call(
            stack,
            token,
            Method::GET,
            &format!("/api/v1/audit?{query}"),
            None,
        )
        .await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        if page["data"].as_array().unwrap().len() >= count {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit ?{query} has fewer than {count} entries: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_tokens_do_what_their_role_allows_and_every_action_is_audited() {
    let stack = Stack::start().await;
    let (_alerting, alerting_stop, alerting_task) = stack.spawn_alerting().await;
    let root = stack.admin_token.clone();
    let tenant = stack.funded_tenant(json!({})).await;
    let (viewer_id, viewer) = mint(&stack, "viewer").await;
    let (billing_id, billing) = mint(&stack, "billing").await;
    let (admin_id, admin) = mint(&stack, "admin").await;

    // Listing never shows a token.
    let listed = call(&stack, &root, Method::GET, "/api/v1/operator-tokens", None).await;
    let listed = listed.text().await.unwrap();
    for token in [&viewer, &billing, &admin] {
        assert!(!listed.contains(token.as_str()), "a token is listed");
    }
    assert!(listed.contains(&viewer_id) && listed.contains(&billing_id));

    let tenant_path = format!("/api/v1/tenants/{}", tenant.tenant_id);
    let credits = format!("{tenant_path}/credits");
    let credit = |key: &str| Some(json!({"amount_usd": "2", "idempotency_key": key}));
    // viewer: reads only.
    assert_eq!(
        status_of(&stack, &viewer, Method::GET, &tenant_path, None).await,
        200
    );
    let refused = call(&stack, &viewer, Method::POST, &credits, credit("v")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "insufficient_role", "{refused}");
    let new_tenant = Some(json!({"name": "by a viewer"}));
    let status = status_of(&stack, &viewer, Method::POST, "/api/v1/tenants", new_tenant).await;
    assert_eq!(status, 403);
    // billing: money, and reads; not keys, tenants or tokens.
    let granted = stack
        .http
        .post(format!("{}{credits}", stack.url))
        .bearer_auth(&billing)
        .header("x-request-id", "audit-trail-1")
        .json(&credit("billing-grant"))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 201);
    let granted: Value = granted.json().await.unwrap();
    let topup = Some(json!({"threshold_usd": "1", "amount_usd": "5"}));
    let topup_path = format!("{tenant_path}/auto-topup");
    assert_eq!(
        status_of(&stack, &billing, Method::PUT, &topup_path, topup).await,
        200
    );
    let key_body = Some(json!({"name": "by billing"}));
    let keys = format!("{tenant_path}/keys");
    assert_eq!(
        status_of(&stack, &billing, Method::POST, &keys, key_body).await,
        403
    );
    let mint_body = Some(json!({"name": "escalation", "role": "admin"}));
    let status = status_of(
        &stack,
        &billing,
        Method::POST,
        "/api/v1/operator-tokens",
        mint_body,
    )
    .await;
    assert_eq!(status, 403);
    // admin: everything the root token can, except minting its own role or above.
    let tokens = "/api/v1/operator-tokens";
    let as_admin = Some(json!({"name": "copy", "role": "admin"}));
    assert_eq!(
        status_of(&stack, &admin, Method::POST, tokens, as_admin).await,
        403
    );
    let as_viewer = Some(json!({"name": "minted by admin", "role": "viewer"}));
    let minted = call(&stack, &admin, Method::POST, tokens, as_viewer).await;
    assert_eq!(minted.status(), 201);
    let minted: Value = minted.json().await.unwrap();
    let minted_token = minted["token"].as_str().unwrap().to_owned();
    assert_eq!(minted["created_by"], admin_id.as_str());
    let key_body = Some(json!({"name": "by admin"}));
    let key = call(&stack, &admin, Method::POST, &keys, key_body).await;
    assert_eq!(key.status(), 201);
    let key: Value = key.json().await.unwrap();
    let key_id = key["id"].as_str().unwrap().to_owned();
    let revoke_key = format!("/api/v1/keys/{key_id}");
    assert_eq!(
        status_of(&stack, &admin, Method::DELETE, &revoke_key, None).await,
        204
    );
    // Made-up and revoked tokens get nothing.
    let made_up = format!("tgo_{}", "x".repeat(43));
    assert_eq!(
        status_of(&stack, &made_up, Method::GET, &tenant_path, None).await,
        401
    );
    let revoke_billing = format!("/api/v1/operator-tokens/{billing_id}");
    assert_eq!(
        status_of(&stack, &viewer, Method::DELETE, &revoke_billing, None).await,
        403
    );
    let revoked = call(&stack, &root, Method::DELETE, &revoke_billing, None).await;
    assert_eq!(revoked.status(), 200);
    // A management answer names its request id, the one its audit entry carries.
    let revoke_request_id = revoked.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let revoked: Value = revoked.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let after = call(
        &stack,
        &billing,
        Method::POST,
        &credits,
        credit("after-revoke"),
    )
    .await;
    assert_eq!(after.status(), 401, "a revoked token still works");
    // A tenant's own key purges its cache: audited under the key.
    let purge = format!("{tenant_path}/cache");
    assert_eq!(
        status_of(&stack, &tenant.key, Method::DELETE, &purge, None).await,
        204
    );

    // Revoking a token revokes what it minted.
    let revoke_admin = format!("/api/v1/operator-tokens/{admin_id}");
    assert_eq!(
        status_of(&stack, &root, Method::DELETE, &revoke_admin, None).await,
        200
    );
    let status = status_of(&stack, &minted_token, Method::GET, &tenant_path, None).await;
    assert_eq!(status, 401, "a token minted by a revoked one still works");

    // The log: who did what to what, with the request's id and the answer.
    let by_billing = audit_page(&stack, &root, &format!("actor_id={billing_id}"), 4).await;
    let actions: Vec<(&str, i64)> = by_billing["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("operator_token.create", 403),
            ("key.create", 403),
            ("auto_topup.put", 200),
            ("credits.grant", 201)
        ],
        "{by_billing}"
    );
    let grant = &by_billing["data"][3];
    assert_eq!(grant["actor_kind"], "operator_token");
    assert_eq!(grant["tenant_id"], tenant.tenant_id.to_string());
    assert_eq!(grant["target_type"], "credits");
    assert_eq!(grant["target_id"], granted["event_id"]);
    assert_eq!(grant["request_id"], "audit-trail-1");
    assert_eq!(grant["status"], 201);
    let token_revocations = audit_page(
        &stack,
        &root,
        &format!("action=operator_token.revoke&target_id={billing_id}"),
        2,
    )
    .await;
    let by_root = token_revocations["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == 200)
        .unwrap();
    assert_eq!(by_root["request_id"], revoke_request_id.as_str());
    // The key revoked by path id is filed under its tenant.
    let revocation = audit_page(
        &stack,
        &root,
        &format!("action=key.revoke&target_id={key_id}"),
        1,
    )
    .await;
    assert_eq!(
        revocation["data"][0]["tenant_id"],
        tenant.tenant_id.to_string()
    );
    assert_eq!(revocation["data"][0]["actor_id"], admin_id);
    // Filtered by tenant: other tests' purges must not end the wait for this one's.
    let purged = audit_page(
        &stack,
        &root,
        &format!("action=cache.purge&tenant_id={}", tenant.tenant_id),
        1,
    )
    .await;
    let purged = &purged["data"][0];
    assert_eq!(purged["actor_kind"], "api_key");
    assert_eq!(purged["actor_id"], tenant.key_id.to_string());
    // Platform actions have no tenant; the token's mint is there under root.
    let query = format!("target_id={admin_id}&action=operator_token.create");
    let minted = audit_page(&stack, &root, &query, 1).await;
    assert_eq!(minted["data"][0]["action"], "operator_token.create");
    assert_eq!(minted["data"][0]["actor_kind"], "root");
    assert!(minted["data"][0]["tenant_id"].is_null());
    // The viewer changed nothing; what it tried is there, refused.
    let by_viewer = audit_page(&stack, &root, &format!("actor_id={viewer_id}"), 3).await;
    let tried: Vec<(&str, i64)> = by_viewer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        tried,
        [
            ("operator_token.revoke", 403),
            ("tenant.create", 403),
            ("credits.grant", 403)
        ]
    );

    // Families and paging: this tenant's key actions, one per page.
    let tenant_query = format!("tenant_id={}&action=key.", tenant.tenant_id);
    let all = audit_page(&stack, &root, &tenant_query, 4).await;
    let all: Vec<Value> = all["data"].as_array().unwrap().clone();
    assert_eq!(
        all.len(),
        4,
        "funding key, billing's refused key, admin's key, its revocation"
    );
    let mut paged = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let cursor = before
            .as_ref()
            .map(|b| format!("&before={b}"))
            .unwrap_or_default();
        let page = audit_page(&stack, &root, &format!("{tenant_query}&limit=1{cursor}"), 0).await;
        paged.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => break,
        }
        assert!(paged.len() <= 4, "paging does not end");
    }
    assert_eq!(paged, all);

    // A tenant's key reads its own tenant's log only.
    let own = audit_page(&stack, &tenant.key, "", 1).await;
    assert!(
        own["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant_id"] == tenant.tenant_id.to_string()),
        "{own}"
    );
    let other = format!("/api/v1/audit?tenant_id={}", Uuid::now_v7());
    assert_eq!(
        status_of(&stack, &tenant.key, Method::GET, &other, None).await,
        404
    );
    for bad in ["since=yesterday", "actor_id=x", "limit=0", "action=%00"] {
        let path = format!("/api/v1/audit?{bad}");
        assert_eq!(
            status_of(&stack, &root, Method::GET, &path, None).await,
            400,
            "{bad}"
        );
    }

    alerting_stop.cancel();
    alerting_task.await.unwrap();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_older_than_the_retention_are_not_kept() {
    let stack = Stack::start().await;
    let mut config = stack.alerting_config();
    config.audit_retention_days = 30;
    let (_alerting, stop, task) = stack.spawn_alerting_with(config).await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let entry = |days_ago: i64, target: &str| {
        let mut event = Event::new(
            tenant.tenant_id,
            EventBody::AuditRecorded(AuditRecorded {
                actor_kind: "root".into(),
                actor_id: None,
                action: "tenant.update".into(),
                target_type: "tenant".into(),
                target_id: Some(target.into()),
                request_id: None,
                status: 200,
            }),
        );
        event.occurred_at -= chrono::TimeDelta::days(days_ago);
        event
    };
    stack.publish_event(&entry(31, "expired")).await;
    stack.publish_event(&entry(29, "kept")).await;
    let query = format!("tenant_id={}&action=tenant.update", tenant.tenant_id);
    let page = audit_page(&stack, &stack.admin_token, &query, 1).await;
    let targets: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target_id"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["kept"]);

    // What expires while stored is deleted by the sweep.
    let cutoff = chrono::Utc::now() - chrono::TimeDelta::days(28);
    let pool = tollgate_store::connect(&stack.database_url, 1)
        .await
        .unwrap();
    let deleted = tollgate_store::audit::delete_before(&pool, cutoff, 100)
        .await
        .unwrap();
    assert!(deleted >= 1);
    let page = audit_page(&stack, &stack.admin_token, &query, 0).await;
    assert_eq!(page["data"], json!([]));

    stop.cancel();
    task.await.unwrap();
    stack.stop().await;
}
