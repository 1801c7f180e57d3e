//! Keys: 401s, revocation across gateway instances, and the operator-only management API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_testkit::Stack;

fn chat_body() -> Value {
    json!({"model": "demo-small", "messages": [{"role": "user", "content": "hi"}]})
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_and_malformed_keys_get_401() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let url = format!("{}/v1/chat/completions", stack.url);

    let none = stack
        .http
        .post(&url)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(none.headers().get("x-tollgate-cost").unwrap(), "0");
    let (status, error) = error_of(none).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"]["type"], "authentication_error");

    // Same shape as a real key, one character changed.
    let mut wrong = tenant.key.clone().into_bytes();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == b'a' { b'b' } else { b'a' };
    let wrong = String::from_utf8(wrong).unwrap();
    for key in [wrong.as_str(), "sk-not-a-tollgate-key", "tg_short"] {
        let response = stack.chat(key, &chat_body()).await;
        let (status, error) = error_of(response).await;
        assert_eq!(status, 401, "{key}");
        assert_eq!(error["error"]["code"], "invalid_api_key");
    }
    // x-api-key (Anthropic SDK style) is accepted too.
    let via_header = stack
        .http
        .post(&url)
        .header("x-api-key", &tenant.key)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status(), 200);
    assert_eq!(
        stack.mock.chat_requests(),
        1,
        "only the authenticated request went upstream"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_stops_working_on_every_gateway_within_two_seconds() {
    let mut stack = Stack::start().await;
    let second = stack.start_gateway(stack.config.clone()).await;
    let tenant = stack.funded_tenant(json!({})).await;
    let on_second = |key: String| {
        let http = stack.http.clone();
        let url = format!("{second}/v1/chat/completions");
        async move {
            http.post(url)
                .bearer_auth(key)
                .json(&chat_body())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Both instances have the key cached as valid.
    assert_eq!(stack.chat(&tenant.key, &chat_body()).await.status(), 200);
    assert_eq!(on_second(tenant.key.clone()).await, 200);

    let revoked = stack
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", tenant.key_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let revoked_at = Instant::now();
    // The instance that revoked refuses at once.
    assert_eq!(stack.chat(&tenant.key, &chat_body()).await.status(), 401);
    // The other instance refuses within 2 s.
    loop {
        let status = on_second(tenant.key.clone()).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(2),
            "still accepted after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Revoking again is harmless; an unknown key id is 404.
    let again = stack
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", tenant.key_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 204);
    let unknown = stack
        .admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/keys/{}", uuid::Uuid::now_v7()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_api_requires_the_admin_token() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let paths = [
        (
            reqwest::Method::POST,
            "/api/v1/tenants".to_owned(),
            Some(json!({"name": "x"})),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/tenants/{}/credits", tenant.tenant_id),
            Some(json!({"amount_usd": "1", "idempotency_key": "k"})),
        ),
        (reqwest::Method::GET, "/api/v1/tenants".to_owned(), None),
    ];
    for (method, path, body) in paths {
        for credential in [
            None,
            Some("wrong-admin-token-123"),
            Some(tenant.key.as_str()),
        ] {
            let mut request = stack
                .http
                .request(method.clone(), format!("{}{path}", stack.url));
            if let Some(token) = credential {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let (status, error) = error_of(request.send().await.unwrap()).await;
            assert_eq!(status, 401, "{method} {path} with {credential:?}");
            assert_eq!(error["error"]["type"], "authentication_error");
        }
    }
    // The key was not revoked by any of the refused calls.
    assert_eq!(stack.chat(&tenant.key, &chat_body()).await.status(), 200);
    stack.stop().await;
}
