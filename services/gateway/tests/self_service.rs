//! What the console needs from the public API: who a credential is (`/api/v1/me`), a tenant
//! key managing its own tenant's keys (and no other's), and the operator's list of tenants.

use reqwest::Method;
use serde_json::{Value, json};
use tollgate_testkit::{Stack, TenantKey};

use crate::support::call_json as call;

fn chat_body() -> Value {
    json!({"model": "demo-small", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_names_the_tenant_and_key_or_the_operator_role() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let (status, me) = call(&stack, &tenant.key, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "tenant");
    assert_eq!(me["tenant_id"], tenant.tenant_id.to_string());
    assert_eq!(me["tenant_name"], "test tenant");
    assert_eq!(me["key_id"], tenant.key_id.to_string());
    assert_eq!(me["key_name"], "test key");

    let (status, me) = call(&stack, &stack.admin_token, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        json!({"kind": "operator", "role": "admin", "token_id": null})
    );

    let (status, error) = call(&stack, "tg-not-a-key", Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 401, "{error}");
    let anonymous = stack
        .http
        .get(format!("{}/api/v1/me", stack.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managing_key_manages_its_own_tenants_keys_and_no_other_tenants() {
    let stack = Stack::start().await;
    // The alerting service keeps the audit log.
    let (_alerting, alerting_stop, alerting_task) = stack.spawn_alerting().await;
    let own = stack.funded_tenant(json!({})).await;
    let other = stack.funded_tenant(json!({})).await;
    let keys = format!("/api/v1/tenants/{}/keys", own.tenant_id);
    let own_path = format!("/api/v1/keys/{}", own.key_id);

    // A key reads its tenant's keys, but changes none until the operator lets it.
    let (status, listed) = call(&stack, &own.key, Method::GET, &keys, None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"][0]["manage_keys"], false, "{listed}");
    for (method, path, body) in [
        (
            Method::POST,
            keys.as_str(),
            Some(json!({"name": "not yet"})),
        ),
        (Method::PATCH, own_path.as_str(), Some(json!({"rpm": 5}))),
        (Method::DELETE, own_path.as_str(), None),
    ] {
        let (status, error) = call(&stack, &own.key, method.clone(), path, body).await;
        assert_eq!(status, 403, "{method} {path}: {error}");
        assert_eq!(
            error["error"]["code"], "key_management_not_allowed",
            "{error}"
        );
    }
    let (status, granted) = call(
        &stack,
        &stack.admin_token,
        Method::PATCH,
        &own_path,
        Some(json!({"manage_keys": true})),
    )
    .await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(granted["manage_keys"], true);
    let (_, me) = call(&stack, &own.key, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me["manage_keys"], true, "{me}");

    // Only the operator grants the right: not to a new key, not to an existing one.
    let (status, error) = call(
        &stack,
        &own.key,
        Method::POST,
        &keys,
        Some(json!({"name": "escalation", "manage_keys": true})),
    )
    .await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["code"], "operator_only");

    // Create a key with a limit of one request a minute: its secret is answered once, and it
    // records which key made it.
    let (status, created) = call(
        &stack,
        &own.key,
        Method::POST,
        &keys,
        Some(json!({"name": "made by a key", "rpm": 1, "budget_usd": "2.5"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["created_by_key_id"], own.key_id.to_string());
    assert_eq!(created["manage_keys"], false);
    let secret = created["key"].as_str().unwrap().to_owned();
    let made = TenantKey {
        tenant_id: own.tenant_id,
        key_id: created["id"].as_str().unwrap().parse().unwrap(),
        key: secret.clone(),
    };
    let (status, listed) = call(&stack, &own.key, Method::GET, &keys, None).await;
    assert_eq!(status, 200, "{listed}");
    let rows = listed["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(rows.iter().all(|row| row.get("key").is_none()), "{listed}");
    assert!(
        !listed.to_string().contains(&secret),
        "the listing shows a secret"
    );
    let key_path = format!("/api/v1/keys/{}", made.key_id);
    let (status, error) = call(
        &stack,
        &made.key,
        Method::POST,
        &keys,
        Some(json!({"name": "grandchild"})),
    )
    .await;
    assert_eq!(status, 403, "a key made by a key manages nothing: {error}");
    let (status, error) = call(
        &stack,
        &own.key,
        Method::PATCH,
        &key_path,
        Some(json!({"manage_keys": true})),
    )
    .await;
    assert_eq!(status, 403, "{error}");

    // The limit holds, and an edit of it takes effect.
    assert_eq!(stack.chat(&made.key, &chat_body()).await.status(), 200);
    assert_eq!(stack.chat(&made.key, &chat_body()).await.status(), 429);
    let (status, edited) = call(
        &stack,
        &own.key,
        Method::PATCH,
        &key_path,
        Some(json!({"rpm": 100})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["rpm"], 100);
    assert_eq!(stack.chat(&made.key, &chat_body()).await.status(), 200);

    // Another tenant's keys are not found, whatever the call; they keep working.
    let others = format!("/api/v1/tenants/{}/keys", other.tenant_id);
    let other_key = format!("/api/v1/keys/{}", other.key_id);
    for (method, path, body) in [
        (Method::GET, others.as_str(), None),
        (
            Method::POST,
            others.as_str(),
            Some(json!({"name": "intruder"})),
        ),
        (Method::PATCH, other_key.as_str(), Some(json!({"rpm": 1}))),
        (Method::DELETE, other_key.as_str(), None),
    ] {
        let (status, error) = call(&stack, &own.key, method.clone(), path, body).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
        assert_eq!(error["error"]["type"], "not_found", "{error}");
    }
    let (_, other_keys) = call(&stack, &stack.admin_token, Method::GET, &others, None).await;
    assert_eq!(
        other_keys["data"].as_array().unwrap().len(),
        1,
        "{other_keys}"
    );
    assert_eq!(other_keys["data"][0]["rpm"], Value::Null, "{other_keys}");
    assert_eq!(stack.chat(&other.key, &chat_body()).await.status(), 200);

    // A second key made by the managing key; revoking the managing key with revoke_created
    // (a leak) stops it and everything it made, and nothing of the other tenant.
    let (_, second) = call(
        &stack,
        &own.key,
        Method::POST,
        &keys,
        Some(json!({"name": "second"})),
    )
    .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let second = second["key"].as_str().unwrap().to_owned();
    assert_eq!(stack.chat(&second, &chat_body()).await.status(), 200);
    // The operator lets the second key manage keys too; what it makes goes with the leak.
    let (status, _) = call(
        &stack,
        &stack.admin_token,
        Method::PATCH,
        &format!("/api/v1/keys/{second_id}"),
        Some(json!({"manage_keys": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, third) = call(
        &stack,
        &second,
        Method::POST,
        &keys,
        Some(json!({"name": "third"})),
    )
    .await;
    assert_eq!(status, 201, "{third}");
    let third = third["key"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &stack,
        &stack.admin_token,
        Method::DELETE,
        &format!("{own_path}?revoke_created=true"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for key in [&own.key, &made.key, &second, &third] {
        assert_eq!(stack.chat(key, &chat_body()).await.status(), 401);
    }
    assert_eq!(stack.chat(&other.key, &chat_body()).await.status(), 200);
    let (status, error) = call(
        &stack,
        &stack.admin_token,
        Method::DELETE,
        &format!("{own_path}?revoke_created=yes"),
        None,
    )
    .await;
    assert_eq!(status, 400, "{error}");

    // The audit log names the key that created a key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let audit = loop {
        let (_, audit) = call(
            &stack,
            &stack.admin_token,
            Method::GET,
            &format!("/api/v1/audit?action=key.create&actor_id={}", own.key_id),
            None,
        )
        .await;
        if audit["data"].as_array().is_some_and(|rows| rows.len() >= 2) {
            break audit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no audit entries: {audit}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(audit["data"][0]["actor_kind"], "api_key", "{audit}");
    alerting_stop.cancel();
    alerting_task.await.unwrap();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_never_pass_the_tenants_key_cap() {
    let stack = Stack::start_with(tollgate_mock_upstream::MockConfig::default(), |config| {
        config.limits.max_keys_per_tenant = 4;
    })
    .await;
    let tenant = stack.tenant_with_key(json!({})).await;
    let path = format!("/api/v1/tenants/{}/keys", tenant.tenant_id);
    let creates = (0..12).map(|i| {
        call(
            &stack,
            &stack.admin_token,
            Method::POST,
            &path,
            Some(json!({"name": format!("racer {i}")})),
        )
    });
    let answers = futures_util::future::join_all(creates).await;
    let made = answers.iter().filter(|(status, _)| *status == 201).count();
    let refused = answers.iter().filter(|(status, _)| *status == 409).count();
    assert_eq!((made, refused), (3, 9), "{answers:?}");
    let (_, listed) = call(&stack, &stack.admin_token, Method::GET, &path, None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 4, "{listed}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_lists_every_tenant_with_its_balance_page_by_page() {
    let stack = Stack::start().await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(stack.funded_tenant(json!({})).await.tenant_id);
    }
    let (status, first) = call(
        &stack,
        &stack.admin_token,
        Method::GET,
        "/api/v1/tenants?limit=2",
        None,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let rows = first["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{first}");
    assert_eq!(rows[0]["id"], made[2].to_string(), "newest first: {first}");
    assert_eq!(rows[1]["id"], made[1].to_string(), "{first}");
    for row in rows {
        assert_eq!(row["balance_usd"], "100", "{row}");
        assert_eq!(row["spent_usd"], "0", "{row}");
        assert_eq!(row["period_spent_usd"], "0", "{row}");
    }
    // Page on to the end: every tenant once, newest first (the stack has its own, older ones).
    let mut seen: Vec<String> = Vec::new();
    let mut before = String::new();
    loop {
        let (status, page) = call(
            &stack,
            &stack.admin_token,
            Method::GET,
            &format!("/api/v1/tenants?limit=2{before}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let rows = page["data"].as_array().unwrap();
        assert!(rows.len() <= 2, "{page}");
        seen.extend(rows.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page["next_before"].as_str() {
            Some(next) => before = format!("&before={next}"),
            None => break,
        }
    }
    let newest: Vec<String> = made.iter().rev().map(ToString::to_string).collect();
    assert_eq!(seen[..3], newest[..], "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a tenant listed twice: {seen:?}");

    // Each tenant's period spend is its own budget period's: a monthly tenant with spend.
    let monthly = stack.funded_tenant(json!({})).await;
    let (status, _) = call(
        &stack,
        &stack.admin_token,
        Method::PATCH,
        &format!("/api/v1/tenants/{}", monthly.tenant_id),
        Some(json!({"budget_usd": "50", "budget_period": "month"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stack.chat(&monthly.key, &chat_body()).await.status(), 200);
    let booked = stack.wait_for_entries(monthly.tenant_id, 2).await;
    let (_, page) = call(
        &stack,
        &stack.admin_token,
        Method::GET,
        "/api/v1/tenants?limit=1",
        None,
    )
    .await;
    let row = &page["data"][0];
    assert_eq!(row["id"], monthly.tenant_id.to_string(), "{page}");
    assert_eq!(
        row["balance_usd"], booked["balance_usd"],
        "{row} vs {booked}"
    );
    assert_ne!(row["spent_usd"], "0", "{row}");
    assert_eq!(row["period_spent_usd"], row["spent_usd"], "{row}");
    assert!(row["period_resets_at"].is_string(), "{row}");

    for query in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "before=not-a-tenant",
        "before=%00",
    ] {
        let (status, error) = call(
            &stack,
            &stack.admin_token,
            Method::GET,
            &format!("/api/v1/tenants?{query}"),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_from_its_build_with_a_same_origin_policy() {
    let name = format!("console-{}", uuid::Uuid::now_v7());
    let dir = tollgate_testkit::temp_path(&name);
    std::fs::create_dir_all(format!("{dir}/docs")).unwrap();
    std::fs::create_dir_all(format!("{dir}/assets")).unwrap();
    std::fs::write(
        format!("{dir}/index.html"),
        "<!doctype html><title>console</title>",
    )
    .unwrap();
    std::fs::write(
        format!("{dir}/docs/index.html"),
        "<!doctype html><title>docs</title>",
    )
    .unwrap();
    std::fs::write(format!("{dir}/assets/app.js"), "console.log(1)").unwrap();
    let outside = tollgate_testkit::temp_path(&format!("{name}-secret.txt"));
    std::fs::write(&outside, "not to be served").unwrap();
    let served = dir.clone();
    let stack = Stack::start_with(
        tollgate_mock_upstream::MockConfig::default(),
        move |config| {
            config.console_dir = Some(served.into());
        },
    )
    .await;
    let get = |path: &str| stack.http.get(format!("{}{path}", stack.url)).send();

    let page = get("/console/").await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>console</title>")
    );
    let script = get("/console/assets/app.js").await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let docs = get("/docs/").await.unwrap();
    assert_eq!(docs.status(), 200);
    // The API reference is held to the same policy: no inline script or style.
    assert_eq!(docs.headers()["content-security-policy"], csp.as_str());
    assert!(docs.text().await.unwrap().contains("<title>docs</title>"));
    // `/console` redirects to the directory; nothing outside the build is reachable.
    let bare = stack
        .http
        .get(format!("{}/console", stack.url))
        .send()
        .await
        .unwrap();
    assert!(bare.url().path().ends_with("/console/"), "{}", bare.url());
    for escape in [
        format!("/console/../{name}-secret.txt"),
        format!("/console/%2e%2e/{name}-secret.txt"),
        format!("/console/..%2f{name}-secret.txt"),
        "/console/%00".to_owned(),
        "/console/missing.js".to_owned(),
    ] {
        let response = get(&escape).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(matches!(status, 400 | 404), "{escape}: {status}");
        assert!(
            !text.contains("not to be served"),
            "{escape} escaped the build"
        );
    }
    stack.stop().await;

    // Without a build, both paths say how to make one.
    let stack = Stack::start().await;
    for path in ["/console/", "/docs/"] {
        let response = stack
            .http
            .get(format!("{}{path}", stack.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("npm --prefix console")
        );
    }
    stack.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&outside);
}
