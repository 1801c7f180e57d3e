//! Budgets that reset: a key's or tenant's `budget_usd` caps the spend of its `budget_period`
//! (UTC day, week, month or all time); spend booked before the period began does not count, a
//! used-up budget gets 402 `budget_exceeded` naming the period and the reset, and `GET` shows
//! the spend of the current period. Old spend is made by publishing charges dated in the past.

use std::str::FromStr;

use chrono::{DateTime, Days, NaiveTime, TimeDelta, Utc};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_testkit::{Stack, TenantKey, usage_event};

fn request(i: usize) -> Value {
    json!({"model": "demo-large", "max_tokens": 5, "messages": [{"role": "user", "content": format!("budget question {i}")}]})
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

/// Publishes a charge of `usd` for the key, dated `ago` before now, and waits until the ledger
/// has booked `entries` entries for the tenant.
async fn old_charge(stack: &Stack, tenant: &TenantKey, usd: &str, ago: TimeDelta, entries: usize) {
    let mut event = usage_event(
        tenant.tenant_id,
        tenant.key_id,
        Decimal::from_str(usd).unwrap(),
    );
    event.occurred_at = Utc::now() - ago;
    stack.publish_event(&event).await;
    stack.wait_for_entries(tenant.tenant_id, entries).await;
}

/// Sends requests with `key` until one is refused; the costs served and the refusal.
async fn spend_until_refused(stack: &Stack, key: &str, from: usize) -> (Decimal, Value) {
    let mut charged = Decimal::ZERO;
    for i in from..from + 60 {
        let response = stack.chat(key, &request(i)).await;
        match response.status().as_u16() {
            200 => {
                let cost = response.headers()["x-tollgate-cost"].to_str().unwrap();
                charged += Decimal::from_str(cost).unwrap();
            }
            402 => return (charged, response.json().await.unwrap()),
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }
    panic!("the budget never ran out");
}

fn next_midnight(now: DateTime<Utc>) -> String {
    let tomorrow = now.date_naive().checked_add_days(Days::new(1)).unwrap();
    tomorrow
        .and_time(NaiveTime::MIN)
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn key_listing(stack: &Stack, tenant: &TenantKey) -> Value {
    let keys = stack
        .admin_get(&format!("/api/v1/tenants/{}/keys", tenant.tenant_id))
        .await;
    keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == tenant.key_id.to_string())
        .unwrap()
        .clone()
}

async fn patch(stack: &Stack, path: &str, body: Value) -> Value {
    let response = stack
        .admin(Method::PATCH, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_key_budget_counts_only_todays_spend_and_says_when_it_resets() {
    let stack = Stack::start().await;
    let tenant = stack
        .funded_tenant(json!({"budget_usd": "0.0005", "budget_period": "day"}))
        .await;
    // Yesterday the key spent ten thousand times its daily budget.
    old_charge(&stack, &tenant, "5", TimeDelta::hours(25), 2).await;

    let (charged, refusal) = spend_until_refused(&stack, &tenant.key, 0).await;
    assert!(charged > Decimal::ZERO, "today's budget was open");
    let now = Utc::now();
    assert_eq!(refusal["error"]["code"], "budget_exceeded");
    assert_eq!(refusal["error"]["type"], "insufficient_quota");
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("This API key's daily budget of 0.0005 USD is used up")
            && message.contains(&format!("resets at {}", next_midnight(now))),
        "{message}"
    );

    // GET shows the spend of today only, exactly what was charged, within the budget.
    let mut listed = key_listing(&stack, &tenant).await;
    for _ in 0..100 {
        if dec(&listed["period_spent_usd"]) == charged {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        listed = key_listing(&stack, &tenant).await;
    }
    assert_eq!(dec(&listed["period_spent_usd"]), charged, "{listed}");
    assert!(charged <= Decimal::from_str("0.0005").unwrap());
    assert_eq!(listed["budget_period"], "day");
    assert_eq!(listed["period_resets_at"], next_midnight(now));

    // A total budget counts yesterday too: refused at once, and it never resets.
    let path = format!("/api/v1/keys/{}", tenant.key_id);
    patch(&stack, &path, json!({"budget_period": "total"})).await;
    let response = stack.chat(&tenant.key, &request(100)).await;
    assert_eq!(response.status(), 402);
    let refusal: Value = response.json().await.unwrap();
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("total budget of 0.0005 USD is used up (it does not reset)"),
        "{message}"
    );
    // Back to a daily budget with room, without a restart: served again.
    patch(
        &stack,
        &path,
        json!({"budget_period": "day", "budget_usd": "1"}),
    )
    .await;
    assert_eq!(stack.chat(&tenant.key, &request(101)).await.status(), 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_tenant_budget_caps_all_its_keys_together() {
    let stack = Stack::start().await;
    let tenant = stack.funded_tenant(json!({})).await;
    let second = stack
        .create_key(tenant.tenant_id, &json!({"name": "second"}))
        .await;
    let second = second["key"].as_str().unwrap().to_owned();
    // Eight days ago is always in an earlier ISO week.
    old_charge(&stack, &tenant, "5", TimeDelta::days(8), 2).await;
    let tenant_path = format!("/api/v1/tenants/{}", tenant.tenant_id);
    let updated = patch(
        &stack,
        &tenant_path,
        json!({"budget_usd": "0.0006", "budget_period": "week"}),
    )
    .await;
    assert_eq!(
        (&updated["budget_usd"], &updated["budget_period"]),
        (&json!("0.0006"), &json!("week"))
    );

    let (first_spent, _) = spend_until_refused(&stack, &tenant.key, 0).await;
    // The other key shares the tenant's budget: it is used up for it too.
    let response = stack.chat(&second, &request(500)).await;
    assert_eq!(response.status(), 402);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["error"]["code"], "budget_exceeded");
    let message = refusal["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("The tenant's weekly budget of 0.0006 USD is used up; it resets at "),
        "{message}"
    );

    // The tenant's GET shows this week's spend: what its keys were charged, not the old $5.
    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = stack.admin_get(&tenant_path).await;
        if dec(&shown["period_spent_usd"]) == first_spent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(dec(&shown["period_spent_usd"]), first_spent, "{shown}");
    assert!(first_spent <= Decimal::from_str("0.0006").unwrap());
    assert!(shown["period_resets_at"].as_str().is_some());

    // Removing the budget opens it again at once.
    patch(&stack, &tenant_path, json!({"budget_usd": null})).await;
    assert_eq!(stack.chat(&second, &request(501)).await.status(), 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_period_must_be_one_of_the_four_names() {
    let stack = Stack::start().await;
    let tenant = stack.tenant_with_key(json!({})).await;
    for period in ["daily", "Day", "", "day\u{0}", "year"] {
        let response = stack
            .admin(
                Method::POST,
                &format!("/api/v1/tenants/{}/keys", tenant.tenant_id),
            )
            .json(&json!({"name": "k", "budget_usd": "1", "budget_period": period}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{period:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], "budget_period");
        let response = stack
            .admin(
                Method::PATCH,
                &format!("/api/v1/tenants/{}", tenant.tenant_id),
            )
            .json(&json!({"budget_period": period}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{period:?}");
    }
    let response = stack
        .admin(
            Method::PATCH,
            &format!("/api/v1/tenants/{}", tenant.tenant_id),
        )
        .json(&json!({"budget_usd": "-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    stack.stop().await;
}
