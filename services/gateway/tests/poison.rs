//! Hostile input from one tenant cannot stop, skew or skip billing: every client string that
//! can be recorded is refused at the edge unless it is bounded, printable text (400 naming the
//! parameter, in the client's dialect), and another tenant's requests are booked exactly
//! meanwhile, through the real gateway, NATS JetStream, ledger and Postgres.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tollgate_testkit::Stack;

async fn messages(stack: &Stack, key: &str, body: &Value) -> reqwest::Response {
    stack
        .http
        .post(format!("{}/v1/messages", stack.url))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_refused_by_name_and_every_tenant_keeps_being_billed() {
    let stack = Stack::start().await;
    // No credit at all: what it sends is refused before admission, and still recorded.
    let hostile = stack.tenant_with_key(json!({})).await;
    let victim = stack.funded_tenant(json!({})).await;
    let msg = json!([{"role": "user", "content": "hi"}]);
    let long = "m".repeat(5_000);
    let openai_cases = [
        (json!({"model": "a\u{0}b", "messages": msg}), "model"),
        (json!({"model": long, "messages": msg}), "model"),
        (
            json!({"model": "demo-small", "user": "u\u{1b}[2J", "messages": msg}),
            "user",
        ),
        (
            json!({"model": "demo-small", "metadata": {"k": "v\u{0}"}, "messages": msg}),
            "metadata",
        ),
        (
            json!({"model": "demo-small", "messages": [{"role": "user", "content": "x", "name": "n\u{0}"}]}),
            "messages",
        ),
        (
            json!({"model": "demo-small", "messages": msg,
                   "tools": [{"type": "function", "function": {"name": "t\u{0}", "parameters": {}}}]}),
            "tools",
        ),
        (
            json!({"model": "demo-small", "messages": msg, "provider_preference": ["\u{202e}mock"]}),
            "provider_preference",
        ),
    ];
    let mut refused = 0;
    for (body, param) in &openai_cases {
        let response = stack.chat(&hostile.key, body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], *param, "{error}");
        refused += 1;
    }

    // The Anthropic dialect names Anthropic's fields in Anthropic's error shape.
    for (body, field) in [
        (
            json!({"model": "a\u{0}b", "max_tokens": 5, "messages": msg}),
            "model:",
        ),
        (
            json!({"model": "demo-small", "max_tokens": 5, "messages": msg,
                   "metadata": {"user_id": "\u{7}"}}),
            "metadata.user_id:",
        ),
    ] {
        let response = messages(&stack, &hostile.key, &body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
        refused += 1;
    }

    // A route header with a bidirectional override (valid UTF-8, sent as obs-text).
    let response = stack
        .http
        .post(format!("{}/v1/chat/completions", stack.url))
        .bearer_auth(&hostile.key)
        .header(
            "x-tollgate-route",
            reqwest::header::HeaderValue::from_bytes("\u{202e}mock".as_bytes()).unwrap(),
        )
        .json(&json!({"model": "demo-small", "messages": msg}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    refused += 1;

    // An unknown but printable model stays a 404 and is recorded as asked.
    let unknown = "no-such-model-ünïcødé";
    let response = stack
        .chat(&hostile.key, &json!({"model": unknown, "messages": msg}))
        .await;
    assert_eq!(response.status(), 404);

    // Meanwhile the other tenant is served and billed exactly.
    let mut charged = Decimal::ZERO;
    for i in 0..5 {
        let response = stack
            .chat(
                &victim.key,
                &json!({"model": "demo-small", "messages": [{"role": "user", "content": format!("fine {i}")}]}),
            )
            .await;
        assert_eq!(response.status(), 200);
        charged +=
            Decimal::from_str(response.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
    }
    assert!(charged > Decimal::ZERO);
    let balance = stack.wait_for_entries(victim.tenant_id, 6).await;
    assert_eq!(
        Decimal::from_str(balance["balance_usd"].as_str().unwrap()).unwrap(),
        Decimal::from(100) - charged,
        "{balance}"
    );

    // Every refusal of the hostile tenant was booked (at no cost): nothing stalled on it.
    stack.wait_for_entries(hostile.tenant_id, refused + 1).await;
    let page = stack.ledger_page(hostile.tenant_id).await;
    let entries = page["data"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| Decimal::from_str(e["amount_usd"].as_str().unwrap())
                .unwrap()
                .is_zero()),
        "{page}"
    );
    assert!(
        entries.iter().any(|e| e["model"] == unknown),
        "the 404's model is recorded as asked: {page}"
    );
    stack.stop().await;
}

/// Generates hostile variations of chat requests from a seed (reproducible: the seed is in
/// the failure message).
struct Hostile {
    rng: fastrand::Rng,
}

impl Hostile {
    fn text(&mut self) -> Value {
        let pool = [
            "\u{0}".to_owned(),
            "a\u{0}b".to_owned(),
            "\u{1b}[31mred".to_owned(),
            "\u{202e}evil".to_owned(),
            "line\u{2028}break".to_owned(),
            "\u{fffe}".to_owned(),
            "x".repeat(10_000),
            String::new(),
            " ".to_owned(),
            "日本語".to_owned(),
            "demo-small".to_owned(),
            "a\"b\\c".to_owned(),
            "%00".to_owned(),
            "' OR 1=1 --".to_owned(),
            "=HYPERLINK(\"x\")".to_owned(),
        ];
        Value::String(pool[self.rng.usize(..pool.len())].clone())
    }

    fn number(&mut self) -> Value {
        let pool = [
            json!(-1),
            json!(0),
            json!(1),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(-1e308),
            json!(1e308),
            json!(0.5),
        ];
        pool[self.rng.usize(..pool.len())].clone()
    }

    fn any(&mut self, depth: usize) -> Value {
        match self.rng.usize(..if depth > 2 { 4 } else { 6 }) {
            0 => self.text(),
            1 => self.number(),
            2 => Value::Bool(self.rng.bool()),
            3 => Value::Null,
            4 => Value::Array(
                (0..self.rng.usize(..4))
                    .map(|_| self.any(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..self.rng.usize(..4) {
                    let key = self.text().as_str().unwrap_or_default().to_owned();
                    let value = self.any(depth + 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
        }
    }

    /// Nested arrays deeper than any parser's recursion limit.
    fn deep(&mut self) -> Value {
        let mut value = json!("bottom");
        for _ in 0..(200 + self.rng.usize(..800)) {
            value = json!([value]);
        }
        value
    }

    /// A valid request with one part made hostile.
    fn request(&mut self, anthropic: bool) -> Value {
        let mut body = json!({
            "model": "demo-small",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hostile"}],
        });
        let fields: &[&str] = if anthropic {
            &[
                "model",
                "max_tokens",
                "messages",
                "metadata",
                "tools",
                "tool_choice",
                "system",
                "stream",
                "content",
            ]
        } else {
            &[
                "model",
                "max_tokens",
                "messages",
                "user",
                "metadata",
                "tools",
                "tool_choice",
                "provider_preference",
                "stream",
                "n",
                "temperature",
                "content",
                "name",
            ]
        };
        let field = fields[self.rng.usize(..fields.len())];
        let value = match self.rng.usize(..4) {
            0 => self.text(),
            1 => self.number(),
            2 => self.deep(),
            _ => self.any(0),
        };
        match field {
            "content" => body["messages"][0]["content"] = value,
            "name" => body["messages"][0]["name"] = value,
            "metadata" if self.rng.bool() => {
                body["metadata"] = json!({"user_id": value.clone(), "k": value})
            }
            "tools" if self.rng.bool() => {
                body["tools"] = json!([{"type": "function", "name": value.clone(),
                    "function": {"name": value, "parameters": {}}, "input_schema": {}}])
            }
            other => body[other] = value,
        }
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_hostile_requests_never_stall_skew_or_skip_anyones_billing() {
    let seed = std::env::var("TOLLGATE_POISON_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut hostile = Hostile {
        rng: fastrand::Rng::with_seed(seed),
    };
    let stack = Stack::start().await;
    let attacker = stack.tenant_with_key(json!({})).await;
    stack.credit(attacker.tenant_id, "1", "attacker").await;
    let victim = stack.funded_tenant(json!({})).await;
    stack.wait_for_entries(attacker.tenant_id, 1).await;

    const ROUNDS: usize = 20;
    const HOSTILE_PER_ROUND: usize = 8;
    let mut victim_charged = Decimal::ZERO;
    let mut sent = 0;
    for round in 0..ROUNDS {
        let requests: Vec<(bool, Value, Option<Vec<u8>>)> = (0..HOSTILE_PER_ROUND)
            .map(|_| {
                let anthropic = hostile.rng.bool();
                let route = hostile.rng.bool().then(|| {
                    let pool: [&[u8]; 5] = [
                        b"mock",
                        "\u{202e}x".as_bytes(),
                        &[0xff, 0xfe],
                        b"a,b,,c",
                        &[b'z'; 300],
                    ];
                    pool[hostile.rng.usize(..pool.len())].to_vec()
                });
                (anthropic, hostile.request(anthropic), route)
            })
            .collect();
        let attacks = requests.iter().map(|(anthropic, body, route)| {
            let path = if *anthropic {
                "/v1/messages"
            } else {
                "/v1/chat/completions"
            };
            let mut request = stack
                .http
                .post(format!("{}{path}", stack.url))
                .bearer_auth(&attacker.key)
                .json(body);
            if let Some(route) = route {
                request = request.header(
                    "x-tollgate-route",
                    reqwest::header::HeaderValue::from_bytes(route).unwrap(),
                );
            }
            request.send()
        });
        let normal_body = json!({"model": "demo-small", "messages": [{"role": "user", "content": format!("round {round}")}]});
        let normal = stack.chat(&victim.key, &normal_body);
        let (answers, normal) =
            futures_util::future::join(futures_util::future::join_all(attacks), normal).await;
        for (answer, (_, body, _)) in answers.into_iter().zip(&requests) {
            let answer = answer.unwrap();
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            assert!(
                status < 500,
                "seed {seed}: {status} for {}: {text}",
                body.to_string().chars().take(300).collect::<String>()
            );
            serde_json::from_str::<Value>(&text)
                .or_else(|_| {
                    if text.contains("data:") {
                        Ok(Value::Null)
                    } else {
                        Err(())
                    }
                })
                .unwrap_or_else(|()| panic!("seed {seed}: not JSON nor SSE: {text}"));
            sent += 1;
        }
        assert_eq!(normal.status(), 200, "seed {seed}");
        victim_charged +=
            Decimal::from_str(normal.headers()["x-tollgate-cost"].to_str().unwrap()).unwrap();
    }

    // The victim's every request is booked, exactly; the attacker's every request produced
    // exactly one event, all booked: no consumer stalled, nothing lost or doubled.
    let balance = stack.wait_for_entries(victim.tenant_id, ROUNDS + 1).await;
    assert_eq!(
        Decimal::from_str(balance["balance_usd"].as_str().unwrap()).unwrap(),
        Decimal::from(100) - victim_charged,
        "seed {seed}: {balance}"
    );
    stack.wait_for_entries(attacker.tenant_id, sent + 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let page = stack.ledger_page(attacker.tenant_id).await;
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        sent + 1,
        "seed {seed}"
    );
    let metrics = stack.metrics().await;
    for line in [
        "tollgate_spool_depth 0",
        "tollgate_usage_events_unbilled_total 0",
    ] {
        assert!(
            metrics.contains(line),
            "seed {seed}: no '{line}' in\n{metrics}"
        );
    }
    stack.stop().await;
}
