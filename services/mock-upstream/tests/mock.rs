//! The mock provider's contract: deterministic answers, tiktoken usage, and its controls.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tollgate_billing::{ChatMessageText, Tokenizer};
use tollgate_mock_upstream::{MockConfig, MockUpstream};

struct Mock {
    url: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Mock {
    async fn start(config: MockConfig) -> Self {
        tollgate_runtime::install_crypto_provider();
        let mock = MockUpstream::bind(config).unwrap();
        let url = format!("http://{}", mock.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mock.run(async {
            let _ = stopped.await;
        }));
        Self {
            url,
            http: reqwest::Client::new(),
            stop: Some(stop),
        }
    }

    fn chat(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.url))
            .json(body)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn hello() -> Value {
    json!({"model": "mock-small", "messages": [{"role": "user", "content": "hello there"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_deterministic_and_usage_is_counted_with_tiktoken() {
    let mock = Mock::start(MockConfig::default()).await;
    let a: Value = mock
        .chat(&hello())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = mock
        .chat(&hello())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = a["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(
        content,
        b["choices"][0]["message"]["content"].as_str().unwrap()
    );
    let other: Value = mock
        .chat(&json!({"model": "m", "messages": [{"role": "user", "content": "something else"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(
        content,
        other["choices"][0]["message"]["content"].as_str().unwrap()
    );

    let t = Tokenizer::O200kBase;
    let prompt = t.count_chat_prompt([ChatMessageText {
        role: "user",
        content: "hello there",
        name: None,
    }]);
    assert_eq!(a["usage"]["prompt_tokens"], prompt);
    assert_eq!(a["usage"]["completion_tokens"], t.count_text(content));
    assert_eq!(a["model"], "mock-small");
    assert_eq!(content.split(' ').count(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_truncates_with_finish_reason_length() {
    let mock = Mock::start(MockConfig::default()).await;
    let mut body = hello();
    body["max_tokens"] = json!(3);
    let answer: Value = mock.chat(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert!(answer["usage"]["completion_tokens"].as_u64().unwrap() <= 3);
    assert_eq!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_match_the_plain_answer_and_usage_can_be_omitted() {
    let mock = Mock::start(MockConfig::default()).await;
    let plain: Value = mock
        .chat(&hello())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut body = hello();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let streamed = mock.chat(&body).send().await.unwrap().text().await.unwrap();
    let data: Vec<&str> = streamed
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        plain["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(chunks.last().unwrap()["usage"], plain["usage"]);

    let omitted = mock
        .chat(&body)
        .header("x-mock-omit-usage", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!omitted.contains("\"prompt_tokens\""), "{omitted}");
    assert!(omitted.ends_with("data: [DONE]\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_controls_per_header_and_config() {
    let mock = Mock::start(MockConfig::default()).await;
    let limited = mock
        .chat(&hello())
        .header("x-mock-status", "429")
        .header("x-mock-retry-after", "7")
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    let error: Value = limited.json().await.unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_exceeded");
    let failed = mock
        .chat(&hello())
        .header("x-mock-status", "503")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    let never = mock
        .chat(&hello())
        .header("x-mock-error-rate", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(never.status(), 200);

    let always_failing = Mock::start(MockConfig {
        error_rate: 1.0,
        ..MockConfig::default()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(
            always_failing.chat(&hello()).send().await.unwrap().status(),
            500
        );
    }
    let half = Mock::start(MockConfig {
        error_rate: 0.5,
        ..MockConfig::default()
    })
    .await;
    let mut failures = 0;
    for _ in 0..200 {
        if half.chat(&hello()).send().await.unwrap().status() == 500 {
            failures += 1;
        }
    }
    assert!(
        (50..150).contains(&failures),
        "{failures} of 200 failed at rate 0.5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_time_to_first_token_are_applied() {
    let mock = Mock::start(MockConfig::default()).await;
    let started = Instant::now();
    mock.chat(&hello())
        .header("x-mock-latency-ms", "200")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));

    let mut body = hello();
    body["stream"] = json!(true);
    let started = Instant::now();
    let mut response = mock
        .chat(&body)
        .header("x-mock-ttft-ms", "250")
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
        if seen.matches("\"content\":\"").count() >= 2 {
            break;
        }
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_and_models() {
    let mock = Mock::start(MockConfig::default()).await;
    let embedded: Value = mock
        .http
        .post(format!("{}/v1/embeddings", mock.url))
        .json(&json!({"model": "e", "input": ["a b", "c"], "dimensions": 4}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(embedded["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        embedded["data"][0]["embedding"].as_array().unwrap().len(),
        4
    );
    assert_eq!(embedded["usage"]["prompt_tokens"], 3);
    let models: Value = mock
        .http
        .get(format!("{}/v1/models", mock.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "mock-small");
}
