//! Fuzz entry points: one function per target, each feeding arbitrary bytes to a parser or
//! translator the gateway exposes to clients or upstreams, and asserting the properties the
//! rest of the system relies on (not just "does not crash").
//!
//! The cargo-fuzz targets in `testing/fuzzing/fuzz` call these functions, and `tests/corpus.rs`
//! replays the seed corpus and every input kept under `regressions/` through them, so a
//! crash found once stays fixed. `scripts/fuzz` runs the targets.

#![allow(clippy::panic)]

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tollgate_billing::{Decimal, MONEY_LIMIT, ModelPrice, PriceBook, Tokenizer, Usage, cost_of};
use tollgate_events::{Event, text};
use tollgate_gateway::api::params::parse_money;
use tollgate_gateway::chat::cached;
use tollgate_gateway::chat::sse::{CompletionPeek, SseFramer, data_of, take_event};
use tollgate_gateway::client_text;
use tollgate_gateway::request::{ChatRequest, json_object};
use tollgate_providers::{Call, ProviderKind, StreamTranslator, adapter, messages_api};

/// A fuzz target: its name (the directory of its corpus) and entry point.
pub struct Target {
    /// Name of the cargo-fuzz target and of its corpus directories.
    pub name: &'static str,
    /// Runs one input.
    pub run: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz` runs them.
pub const TARGETS: [Target; 7] = [
    Target {
        name: "chat_request",
        run: chat_request,
    },
    Target {
        name: "messages_request",
        run: messages_request,
    },
    Target {
        name: "sse_stream",
        run: sse_stream,
    },
    Target {
        name: "anthropic_upstream",
        run: anthropic_upstream,
    },
    Target {
        name: "gemini_upstream",
        run: gemini_upstream,
    },
    Target {
        name: "event_decode",
        run: event_decode,
    },
    Target {
        name: "money",
        run: money,
    },
];

fn fits_numeric(amount: Decimal) -> bool {
    amount.abs() < MONEY_LIMIT && amount.normalize().scale() <= 10
}

/// `POST /v1/chat/completions` bodies: a request that validates must be priceable (its exact
/// prompt count never exceeds the upper bound admission reserves for) and its upstream body
/// must validate again.
pub fn chat_request(data: &[u8]) {
    let Ok(request) = ChatRequest::parse(data) else {
        return;
    };
    assert_recordable(&request.model);
    let exact = request.prompt_tokens(Tokenizer::O200kBase);
    let bound = request.prompt_token_upper_bound();
    assert!(
        exact <= bound,
        "prompt counted {exact} tokens above its reserved bound {bound}"
    );
    let _ = request.max_output_tokens();
    let _ = request.provider_preference();
    let upstream =
        Value::Object(request.upstream_body("fuzz-upstream-model", ("max_tokens", 1024)))
            .to_string();
    let again = ChatRequest::parse(upstream.as_bytes());
    assert!(
        again.is_ok(),
        "upstream body of a valid request does not validate: {again:?}"
    );
}

/// What billing records of a request that validated (its model, in the usage event, the
/// ledger, the rollups and the logs) is printable and bounded as the client sent it.
fn assert_recordable(model: &str) {
    assert!(
        matches!(
            text::recorded(model, text::MAX_MODEL),
            std::borrow::Cow::Borrowed(_)
        ),
        "a validated model is not recordable as it is: {model:?}"
    );
}

/// `POST /v1/messages` bodies (Anthropic in): a request that translates is a valid chat
/// request; any completion translates back, and any chunk stream becomes well-formed
/// Anthropic events.
pub fn messages_request(data: &[u8]) {
    if let Ok(input) = json_object(data)
        && client_text::messages_request(&input).is_ok()
        && let Ok(openai) = messages_api::to_openai_request(&input)
    {
        let parsed = ChatRequest::from_body(openai);
        assert!(
            parsed.is_ok(),
            "translated Anthropic request is not a valid chat request: {parsed:?}"
        );
        if let Ok(request) = parsed {
            assert_recordable(&request.model);
        }
    }
    if let Ok(message) = messages_api::to_anthropic_message(data) {
        assert_json(&message, "Anthropic message");
    }
    let mut egress = messages_api::stream_egress("fuzz-model");
    translate_all(egress.as_mut(), data, "Anthropic egress");
}

/// Upstream SSE bytes, arriving in reads of any size: the gateway's incremental framer finds
/// exactly the events a one-shot split of the whole input finds, loses and invents no byte,
/// and every event the OpenAI pass-through and the cache replay produce is valid.
pub fn sse_stream(data: &[u8]) {
    let Some((&chunking, body)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(chunking % 64);
    let mut framer = SseFramer::default();
    let mut events = Vec::new();
    for piece in body.chunks(chunk) {
        framer.push(piece);
        while let Some(event) = framer.next_event() {
            events.push(event);
        }
    }
    let mut whole = BytesMut::from(body);
    let mut at_once = Vec::new();
    while let Some(event) = take_event(&mut whole) {
        at_once.push(event);
    }
    assert_eq!(
        events, at_once,
        "framing depends on how the bytes were read"
    );
    assert_eq!(
        framer.pending(),
        whole.len(),
        "the unframed rest depends on the reads"
    );
    let rest = framer.take_rest();
    assert_eq!(&rest[..], &whole[..], "the unframed rest differs");
    let rejoined: Vec<u8> = events
        .iter()
        .flatten()
        .chain(rest.iter())
        .copied()
        .collect();
    assert_eq!(rejoined, body, "framing lost or invented bytes");
    for event in &events {
        assert!(
            event.ends_with(b"\n\n") || event.ends_with(b"\r\n\r\n"),
            "an event without its blank-line terminator"
        );
        if let Some(data) = data_of(event)
            && let Ok(peek) = serde_json::from_str::<CompletionPeek<'_>>(&data)
            && let Some(usage) = peek.usage
        {
            let _ = Usage::from(usage);
        }
    }
    let mut passthrough = adapter(ProviderKind::OpenAi).chat_stream("fuzz-model");
    let mut out = Vec::new();
    for event in events {
        passthrough.event(event, &mut out);
    }
    if let Some(completion) = cached::completion(&String::from_utf8_lossy(body), Decimal::ONE)
        && completion.is_object()
    {
        for event in cached::replay(&completion) {
            assert_sse_json(&event, "cache replay");
        }
    }
}

/// Anthropic upstream: request translation from any valid chat request, response and stream
/// translation from any bytes.
pub fn anthropic_upstream(data: &[u8]) {
    provider_upstream(ProviderKind::Anthropic, data);
}

/// Gemini upstream: as [`anthropic_upstream`].
pub fn gemini_upstream(data: &[u8]) {
    provider_upstream(ProviderKind::Gemini, data);
}

fn provider_upstream(kind: ProviderKind, data: &[u8]) {
    let provider = adapter(kind);
    if let Ok(request) = ChatRequest::parse(data) {
        let body = request.upstream_body("fuzz-upstream-model", ("max_tokens", 1024));
        let call = Call {
            base_url: "http://127.0.0.1:9",
            upstream_model: "fuzz-upstream-model",
            api_key: Some("fuzz-key"),
            api_version: Some("2024-06-01"),
            request_id: "fuzz-request",
            stream: request.stream,
            default_max_tokens: 1024,
            body: &body,
        };
        if let Ok(builder) = provider.chat_request(http_client(), &call) {
            let built = builder.build();
            assert!(built.is_ok(), "{kind:?} request does not build: {built:?}");
            if let Ok(built) = built
                && let Some(bytes) = built.body().and_then(reqwest::Body::as_bytes)
            {
                assert_json(bytes, "upstream request body");
            }
        }
    }
    if let Ok(completion) = provider.chat_response(Bytes::copy_from_slice(data), "fuzz-model") {
        assert_json(&completion, "translated completion");
    }
    let mut translator = provider.chat_stream("fuzz-model");
    translate_all(translator.as_mut(), data, "translated stream");
}

/// JetStream payloads as the consumers decode them: whatever decodes re-encodes to an event
/// that decodes to itself, and money in it is representable in the ledger.
pub fn event_decode(data: &[u8]) {
    let Ok(Some(event)) = Event::decode(data) else {
        return;
    };
    let encoded = event.encode();
    assert!(
        encoded.is_ok(),
        "a decoded event does not encode: {encoded:?}"
    );
    if let Ok(encoded) = encoded {
        let again = Event::decode(&encoded);
        assert!(
            matches!(&again, Ok(Some(e)) if *e == event),
            "event does not survive encode/decode: {again:?}"
        );
    }
    let _ = event.body.kind();
    let _ = event.body.is_money();
}

/// Money as clients send it (line 1) and prices as operators configure them (lines 2-4) with
/// token counts (line 5): an accepted amount fits the ledger's `NUMERIC(20,10)` and
/// round-trips; a price the price book accepts gives a representable cost for any usage.
pub fn money(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    if let Some(amount) = lines.next()
        && let Ok(parsed) = parse_money(&Value::String(amount.to_owned()), "amount_usd")
    {
        assert!(
            fits_numeric(parsed),
            "accepted amount {parsed} does not fit the ledger"
        );
        let again = parse_money(&Value::String(parsed.to_string()), "amount_usd");
        assert!(
            matches!(again, Ok(a) if a == parsed),
            "amount {parsed} does not round-trip"
        );
    }
    let mut price = || lines.next().and_then(|p| p.trim().parse::<Decimal>().ok());
    let (Some(input), Some(output), Some(cached_input)) = (price(), price(), price()) else {
        return;
    };
    let model_price = ModelPrice {
        input_per_million: input,
        output_per_million: output,
        cached_input_per_million: cached_input,
        tokenizer: Tokenizer::O200kBase,
        version: "fuzz".into(),
    };
    if PriceBook::new([("fuzz-model".to_owned(), model_price.clone())]).is_err() {
        return;
    }
    let counts: Vec<u32> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let usage = Usage {
        prompt_tokens: counts.first().copied().unwrap_or(u32::MAX),
        completion_tokens: counts.get(1).copied().unwrap_or(u32::MAX),
        cached_tokens: counts.get(2).copied().unwrap_or(0),
    };
    let cost = cost_of(usage, &model_price);
    assert!(!cost.is_sign_negative(), "negative cost {cost}");
    assert!(fits_numeric(cost), "cost {cost} does not fit the ledger");
}

/// Frames `data` as SSE events, feeds them to `translator` and checks every output event.
fn translate_all(translator: &mut dyn StreamTranslator, data: &[u8], what: &str) {
    let mut buffer = BytesMut::from(data);
    let mut out = Vec::new();
    while let Some(event) = take_event(&mut buffer) {
        translator.event(event, &mut out);
    }
    for event in &out {
        assert_sse_json(event, what);
    }
}

/// `event` is one SSE event whose data is JSON (or OpenAI's `[DONE]`).
fn assert_sse_json(event: &[u8], what: &str) {
    assert!(event.ends_with(b"\n\n"), "{what}: event not terminated");
    let data = data_of(event);
    assert!(data.is_some(), "{what}: event without data");
    if let Some(data) = data
        && data != "[DONE]"
    {
        assert_json(data.as_bytes(), what);
    }
}

fn assert_json(bytes: &[u8], what: &str) {
    let parsed = serde_json::from_slice::<Value>(bytes);
    assert!(parsed.is_ok(), "{what} is not JSON: {parsed:?}");
}

fn http_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        tollgate_runtime::install_crypto_provider();
        reqwest::Client::new()
    })
}
