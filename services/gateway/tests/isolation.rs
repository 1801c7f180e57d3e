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
