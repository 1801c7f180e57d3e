//! The isolation matrix, generated from the gateway's route table (`api::ROUTES`): every route
//! that names a tenant or reads tenant data answers another tenant's key with 404 and no data;
//! every operator route refuses a tenant key; and no key or admin token ever reaches the logs.

use serde_json::{Value, json};
use tollgate_gateway::api::{Access, ROUTES};
use tollgate_testkit::Stack;
use uuid::Uuid;

fn body_for(method: &str, path: &str) -> Option<Value> {
    let body = match (method, path.rsplit('/').next().unwrap_or_default()) {
        ("POST", "tenants") => json!({"name": "isolation"}),
        ("PATCH", "{tenant_id}") => json!({"cache": "off"}),
        ("POST", "keys") => json!({"name": "isolation"}),
        ("PATCH", "{key_id}") => json!({"budget_usd": "1"}),
        ("POST", "credits") => json!({"amount_usd": "1", "idempotency_key": "isolation"}),
        ("POST", "adjustments") => {
            json!({"amount_usd": "1", "reason": "isolation", "idempotency_key": "isolation"})
        }
        ("PUT", "auto-topup") => json!({"threshold_usd": "1", "amount_usd": "5"}),
        ("POST", "alert-rules") => json!({"kind": "balance_below", "threshold_usd": "5"}),
        ("POST", "completions") | ("POST", "messages") => json!({
            "model": "demo-small",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "isolation"}],
        }),
        _ => return None,
    };
    Some(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_reaches_another_tenants_data_and_no_secret_is_logged() {
    // Everything the process logs, at debug level.
    let logs = crate::support::traced().logs.clone();

    let stack = Stack::start().await;
    let intruder = stack.funded_tenant(json!({})).await;
    let victim = stack.funded_tenant(json!({})).await;
    let answered = stack
        .chat(
            &victim.key,
            &body_for("POST", "/v1/chat/completions").unwrap(),
        )
        .await;
    assert_eq!(answered.status(), 200);
    let rule: Value = stack
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{}/alert-rules", victim.tenant_id),
        )
        .json(&json!({"kind": "balance_below", "threshold_usd": "5"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rule_id = rule["id"]
        .as_str()
        .expect("the victim has a rule")
        .to_owned();

    let mut checked = 0;
    for route in ROUTES {
        let method = route.method.as_str();
        let mut path = route
            .path
            .replace("{tenant_id}", &victim.tenant_id.to_string())
            .replace("{key_id}", &victim.key_id.to_string())
            .replace("{rule_id}", &rule_id)
            .replace("{alert_id}", &Uuid::now_v7().to_string());
        if route.path == "/api/v1/me" {
            // Names no tenant: it answers who the caller is, the intruder's own tenant.
            let asked = format!("{path}?tenant_id={}", victim.tenant_id);
            let (_, me) = crate::support::call_json(
                &stack,
                &intruder.key,
                reqwest::Method::GET,
                &asked,
                None,
            )
            .await;
            assert_eq!(me["tenant_id"], intruder.tenant_id.to_string(), "{me}");
            continue;
        }
        let expected = match route.access {
            Access::Public | Access::TenantKey => continue,
            Access::TenantInPath => 404,
            Access::OwnTenant => {
                if !route.path.contains('{') {
                    path.push_str(&format!("?tenant_id={}", victim.tenant_id));
                }
                404
            }
            Access::Operator => 401,
        };
        let mut request = stack
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", stack.url),
            )
            .bearer_auth(&intruder.key);
        if let Some(body) = body_for(method, route.path) {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(
            status, expected,
            "{method} {path} with another tenant's key: {text}"
        );
        let error: Value = serde_json::from_str(&text).unwrap();
        assert!(
            error["error"]["message"].is_string(),
            "{method} {path}: {text}"
        );
        assert!(
            error.get("data").is_none() && !text.contains(&rule_id),
            "{method} {path} leaked data: {text}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} routes checked");

    // What the victim had is untouched.
    let balance = stack.balance(victim.tenant_id).await;
    let credited: rust_decimal::Decimal =
        balance["credited_usd"].as_str().unwrap().parse().unwrap();
    assert_eq!(credited, rust_decimal::Decimal::from(100), "{balance}");

    let logged = logs.text();
    assert!(logged.contains("tollgate"), "the logs were captured");
    for secret in [&intruder.key, &victim.key, &stack.admin_token] {
        assert!(
            !logged.contains(secret.as_str()),
            "a secret reached the logs"
        );
    }
    stack.stop().await;
}

/// A route that names a tenant in its path is that tenant's or the operator's: the guard
/// checks the path's tenant for exactly these two access levels.
#[test]
fn every_route_naming_a_tenant_is_guarded_for_that_tenant() {
    for route in ROUTES {
        if route.path.contains("{tenant_id}") {
            assert!(
                matches!(route.access, Access::TenantInPath | Access::Operator),
                "{} {} names a tenant but is {:?}",
                route.method,
                route.path,
                route.access
            );
        }
    }
}

/// The route table's guard runs before anything else of a management route: without
/// credentials every one is a 401 (whatever its path ids or body), and a refusal tells the
/// client's SDK not to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_management_route_refuses_a_caller_without_credentials_before_reading_anything() {
    let stack = Stack::start().await;
    let mut checked = 0;
    for route in ROUTES {
        if matches!(route.access, Access::Public | Access::TenantKey) {
            continue;
        }
        // Ids that are not UUIDs and a body that is not JSON: the guard answers first.
        let path = route
            .path
            .replace("{tenant_id}", "not-a-uuid")
            .replace("{key_id}", "not-a-uuid")
            .replace("{rule_id}", "not-a-uuid")
            .replace("{alert_id}", "not-a-uuid");
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        for credential in [None, Some("tg-live-not-a-key")] {
            let mut request = stack
                .http
                .request(method.clone(), format!("{}{path}", stack.url))
                .header("content-type", "application/json")
                .body("{not json");
            if let Some(credential) = credential {
                request = request.bearer_auth(credential);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let retry = response
                .headers()
                .get("x-should-retry")
                .map(|v| v.to_str().unwrap().to_owned());
            let text = response.text().await.unwrap();
            assert_eq!(
                status, 401,
                "{method} {path} with credential {credential:?}: {text}"
            );
            assert_eq!(retry.as_deref(), Some("false"), "{method} {path}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                error["error"]["type"], "authentication_error",
                "{method} {path}: {text}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} refusals checked");

    // The operator's token passes the guard; the id is then read (404, not retryable).
    let response = stack
        .admin(reqwest::Method::GET, "/api/v1/tenants/not-a-uuid/balance")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-should-retry"], "false");
    stack.stop().await;
}
