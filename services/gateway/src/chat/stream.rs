//! Relaying a streamed completion: every upstream SSE event is forwarded as soon as it is
//! complete (never buffered whole) while the gateway watches for content and usage to bill.
//!
//! Billing happens when the stream ends, however it ends: normally (`[DONE]`), by an upstream
//! failure, or by the client going away (the relay is dropped; `Drop` publishes the event).

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Instant;

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use tollgate_billing::{Tokenizer, Usage};
use tollgate_events::{UsageOutcome, UsageSource};
use tollgate_providers::StreamTranslator;
use tollgate_routing::Attempt;
use tracing::Instrument;

use super::sse::{CompletionPeek, SseFramer, data_of};
use crate::admission::Reservation;
use crate::cache::CachePlan;
use crate::headers::DataPlaneMeta;
use crate::request::{ChatRequest, Ending, RequestRecord};
use crate::state::AppState;

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A committed upstream stream.
pub struct Upstream {
    /// The attempt, held until the stream ends (it counts as in flight).
    pub attempt: Attempt,
    /// Converts the provider's events to OpenAI chunks.
    pub translator: Box<dyn StreamTranslator>,
    /// Converts the OpenAI chunks sent to the client into its dialect (none for OpenAI).
    pub egress: Option<Box<dyn StreamTranslator>>,
    /// Bytes already read.
    pub first: Bytes,
    /// The rest of the response.
    pub rest: reqwest::Response,
    /// Where to store the answer once the stream completed (route name and plan).
    pub cache: Option<(String, CachePlan)>,
}

/// Starts relaying `upstream` to the client.
///
/// `x-tollgate-cost` on a streamed answer is the prompt's cost (all that is known when headers
/// go out); the full cost is in the final usage chunk (`usage.cost_usd`) and the event.
pub fn relay(
    reservation: Reservation,
    state: web::Data<AppState>,
    record: RequestRecord,
    mut meta: DataPlaneMeta,
    request: &ChatRequest,
    upstream: Upstream,
) -> HttpResponse {
    let tokenizer = record.tokenizer;
    let prompt_tokens = request.prompt_tokens(tokenizer);
    meta.cost = record.cost(Usage {
        prompt_tokens,
        completion_tokens: 0,
        cached_tokens: 0,
    });
    let sent = Instant::now();
    let relay = Relay {
        upstream: Box::pin(upstream.rest.bytes_stream()),
        framer: SseFramer::new(&upstream.first),
        translator: upstream.translator,
        egress: upstream.egress,
        attempt: Some(upstream.attempt),
        translated: Vec::new(),
        out: VecDeque::new(),
        ended: false,
        billing: StreamBilling {
            state,
            record: Some(record),
            reservation: Some(reservation),
            sent,
            tokenizer,
            prompt_tokens,
            completion_text: String::new(),
            completion_counted: std::cell::Cell::new(None),
            upstream_usage: None,
            include_usage: request.include_usage,
            usage_delivered: false,
            saw_done: false,
            failure: None,
            identity: None,
            cache: upstream.cache,
            finish_reason: None,
            uncacheable: false,
            tail: Vec::new(),
            span: tracing::Span::current(),
        },
    };
    let body = futures_util::stream::unfold(relay, |relay| {
        let span = relay.billing.span.clone();
        relay.next().instrument(span)
    });
    let mut response = HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(body);
    meta.apply(&mut response);
    response
}

/// Largest single upstream SSE event; a bigger one ends the stream as an upstream failure
/// (nothing an upstream sends may grow the gateway's memory without bound).
const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

struct Relay {
    upstream: ByteStream,
    framer: SseFramer,
    translator: Box<dyn StreamTranslator>,
    egress: Option<Box<dyn StreamTranslator>>,
    attempt: Option<Attempt>,
    translated: Vec<Bytes>,
    out: VecDeque<Bytes>,
    ended: bool,
    billing: StreamBilling,
}

impl Relay {
    async fn next(mut self) -> Option<(Result<Bytes, std::convert::Infallible>, Self)> {
        loop {
            if let Some(bytes) = self.out.pop_front() {
                let Some(egress) = self.egress.as_mut() else {
                    return Some((Ok(bytes), self));
                };
                egress.event(bytes, &mut self.translated);
                if self.translated.is_empty() {
                    continue;
                }
                let joined: Vec<u8> = self.translated.drain(..).flat_map(|b| b.to_vec()).collect();
                return Some((Ok(Bytes::from(joined)), self));
            }
            if self.ended {
                self.attempt.take();
                self.billing.finish().await;
                if self.billing.tail.is_empty() {
                    return None;
                }
                // Billed (and, with `durability = ack`, safe): now the stream may complete.
                self.out.extend(self.billing.tail.drain(..));
                continue;
            }
            // Events already complete (the first bytes read before committing) go out first.
            if self.drain_events() {
                continue;
            }
            match self.upstream.next().await {
                Some(Ok(bytes)) => {
                    self.framer.push(&bytes);
                    self.drain_events();
                    if self.framer.pending() > MAX_EVENT_BYTES {
                        tracing::warn!(
                            pending = self.framer.pending(),
                            "upstream sent an event over the size limit"
                        );
                        self.billing.failure = Some("upstream_event_too_large");
                        self.out
                            .push_back(sse_error("the upstream sent an oversized event"));
                        self.ended = true;
                    }
                }
                Some(Err(err)) => {
                    tracing::warn!(error = %err, "upstream stream broke");
                    self.billing.failure = Some("upstream_stream_error");
                    self.out.push_back(sse_error("the upstream stream failed"));
                    self.ended = true;
                }
                None => {
                    if self.framer.pending() > 0 {
                        self.out.push_back(self.framer.take_rest());
                    }
                    if !self.billing.saw_done {
                        self.billing.failure = Some("upstream_stream_incomplete");
                    }
                    self.ended = true;
                }
            }
        }
    }
}

impl Relay {
    /// Translates and bills every complete event in the buffer; whether any went out.
    fn drain_events(&mut self) -> bool {
        while let Some(event) = self.framer.next_event() {
            self.translator.event(event, &mut self.translated);
            for event in self.translated.drain(..) {
                self.billing.on_event(event, &mut self.out);
            }
        }
        !self.out.is_empty()
    }
}

fn sse_error(message: &str) -> Bytes {
    let error =
        json!({"error": {"message": message, "type": "upstream_error", "code": "upstream_failed"}});
    Bytes::from(format!("data: {error}\n\n"))
}

/// Identity of the completion, copied into a synthesized usage chunk.
struct Identity {
    id: Value,
    created: Value,
    model: Value,
}

struct StreamBilling {
    state: web::Data<AppState>,
    record: Option<RequestRecord>,
    reservation: Option<Reservation>,
    sent: Instant,
    tokenizer: Tokenizer,
    prompt_tokens: u32,
    completion_text: String,
    /// The tokens of `completion_text` at the length they were counted (counted once, not for
    /// the usage chunk and again for the bill).
    completion_counted: std::cell::Cell<Option<(usize, u32)>>,
    upstream_usage: Option<Usage>,
    include_usage: bool,
    usage_delivered: bool,
    saw_done: bool,
    failure: Option<&'static str>,
    identity: Option<Identity>,
    cache: Option<(String, CachePlan)>,
    finish_reason: Option<String>,
    /// Tool calls seen in the stream.
    uncacheable: bool,
    /// The usage chunk, `[DONE]` and anything after them: held until the stream is billed.
    tail: Vec<Bytes>,
    /// The request's span: the relay runs after the handler returned, outside it.
    span: tracing::Span,
}

impl StreamBilling {
    fn on_event(&mut self, event: Bytes, out: &mut VecDeque<Bytes>) {
        if !self.tail.is_empty() {
            if data_of(&event).is_some_and(|data| data.trim() == "[DONE]") {
                self.saw_done = true;
            }
            self.tail.push(event);
            return;
        }
        let Some(data) = data_of(&event) else {
            out.push_back(event);
            return;
        };
        if data.trim() == "[DONE]" {
            self.saw_done = true;
            if self.include_usage && !self.usage_delivered {
                self.tail.push(self.synthesized_usage_chunk());
                self.usage_delivered = true;
            }
            self.tail.push(event);
            return;
        }
        let Ok(peek) = serde_json::from_str::<CompletionPeek<'_>>(&data) else {
            out.push_back(event);
            return;
        };
        if peek.error.is_some() {
            self.failure = Some("upstream_stream_error");
        }
        let choices = peek.choices.unwrap_or_default();
        for choice in &choices {
            if let Some(reason) = &choice.finish_reason {
                self.finish_reason = Some(reason.to_string());
            }
            if choice
                .delta
                .as_ref()
                .is_some_and(|d| d.tool_calls.is_some() || d.function_call.is_some())
            {
                self.uncacheable = true;
            }
            if let Some(content) = choice.delta.as_ref().and_then(|d| d.content.as_deref())
                && !content.is_empty()
            {
                if self.completion_text.is_empty()
                    && let Some(record) = self.record.as_mut()
                {
                    record.ttft = Some(record.started.elapsed());
                }
                self.completion_text.push_str(content);
            }
        }
        if self.identity.is_none()
            && let Ok(value) = serde_json::from_str::<Value>(&data)
        {
            self.identity = Some(Identity {
                id: value.get("id").cloned().unwrap_or(Value::Null),
                created: value.get("created").cloned().unwrap_or(Value::Null),
                model: value.get("model").cloned().unwrap_or(Value::Null),
            });
        }
        let Some(usage) = peek.usage else {
            out.push_back(event);
            return;
        };
        let usage: Usage = usage.into();
        self.upstream_usage = Some(usage);
        if !choices.is_empty() {
            // Usage on a chunk that carries the answer (some servers report it on every
            // chunk, Anthropic's prompt count comes first): relayed at once without it, as
            // OpenAI sends such chunks. Only the usage-only chunk waits for the bill, so the
            // rest of the stream is never held back.
            out.push_back(self.without_usage(&data).unwrap_or(event));
            return;
        }
        if !self.include_usage {
            // The gateway asked for usage, the client did not: drop the usage-only chunk.
            return;
        }
        let cost = self.cost(usage);
        let priced = rewritten(&data, |fields| {
            if let Some(Value::Object(usage)) = fields.get_mut("usage") {
                usage.insert("cost_usd".into(), Value::String(cost));
            }
        });
        self.tail.push(priced.unwrap_or(event));
        self.usage_delivered = true;
    }

    /// A chunk as the client gets it when it is not the usage chunk: `usage` null if the
    /// client asked for usage (it comes in the last chunk), absent if it did not.
    fn without_usage(&self, data: &str) -> Option<Bytes> {
        rewritten(data, |fields| {
            if self.include_usage {
                fields.insert("usage".into(), Value::Null);
            } else {
                fields.remove("usage");
            }
        })
    }

    fn cost(&self, usage: Usage) -> String {
        self.record
            .as_ref()
            .map(|r| r.cost(usage).normalize().to_string())
            .unwrap_or_default()
    }

    /// The tokens of what was relayed, counted once for its length.
    fn completion_tokens(&self) -> u32 {
        let length = self.completion_text.len();
        if let Some((at, tokens)) = self.completion_counted.get()
            && at == length
        {
            return tokens;
        }
        let tokens = self.tokenizer.count_text(&self.completion_text);
        self.completion_counted.set(Some((length, tokens)));
        tokens
    }

    /// Usage to bill: the provider's, or counted with the tokenizer.
    fn usage(&self) -> (Usage, UsageSource) {
        match self.upstream_usage {
            Some(usage) if self.saw_done => (usage, UsageSource::Upstream),
            // Cut short: the provider's own prompt count (some report it before any output,
            // e.g. Anthropic's `message_start`) and at least what was relayed.
            Some(usage) => (
                Usage {
                    completion_tokens: usage.completion_tokens.max(self.completion_tokens()),
                    ..usage
                },
                UsageSource::Upstream,
            ),
            None => (
                Usage {
                    prompt_tokens: self.prompt_tokens,
                    completion_tokens: self.completion_tokens(),
                    cached_tokens: 0,
                },
                UsageSource::Tokenizer,
            ),
        }
    }

    fn synthesized_usage_chunk(&self) -> Bytes {
        let (usage, _) = self.usage();
        let identity = self.identity.as_ref();
        let chunk = json!({
            "id": identity.map_or(Value::Null, |i| i.id.clone()),
            "object": "chat.completion.chunk",
            "created": identity.map_or(Value::Null, |i| i.created.clone()),
            "model": identity.map_or(Value::Null, |i| i.model.clone()),
            "choices": [],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                "cost_usd": self.cost(usage),
            },
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    /// Takes the record and builds its ending; `None` once billed.
    fn take(&mut self, outcome_if_unfinished: UsageOutcome) -> Option<(RequestRecord, Ending)> {
        let mut record = self.record.take()?;
        record.upstream_time += self.sent.elapsed();
        let (usage, usage_source) = self.usage();
        let outcome = match (self.failure, self.saw_done) {
            (Some(_), _) => UsageOutcome::UpstreamError,
            (None, true) => UsageOutcome::Success,
            (None, false) => outcome_if_unfinished,
        };
        let ending = Ending {
            outcome,
            http_status: 200,
            error_code: self.failure.map(str::to_owned),
            usage,
            usage_source,
        };
        self.state.observe_upstream(&record);
        self.state.metrics.request(record.endpoint, 200);
        Some((record, ending))
    }

    /// The streamed answer as a whole completion, for the cache.
    fn completion(&self, usage: Usage) -> Value {
        let identity = self.identity.as_ref();
        json!({
            "id": identity.map_or(Value::Null, |i| i.id.clone()),
            "object": "chat.completion",
            "created": identity.map_or(Value::Null, |i| i.created.clone()),
            "model": identity.map_or(Value::Null, |i| i.model.clone()),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.completion_text},
                "finish_reason": self.finish_reason,
            }],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
        })
    }

    /// Stores a stream that completed successfully; partial or failed streams never are.
    fn store_if_complete(&mut self, record: &RequestRecord, ending: &Ending) {
        let Some((model, plan)) = self.cache.take() else {
            return;
        };
        let complete = self.failure.is_none()
            && self.saw_done
            && ending.outcome == UsageOutcome::Success
            && !self.uncacheable
            && plan.key.choices <= 1;
        let completion = self.completion(ending.usage);
        if !(complete && crate::cache::is_storable(&completion)) {
            return;
        }
        let Some(cache) = self.state.cache.as_ref() else {
            return;
        };
        cache.store(
            (&record.request_id, record.key.tenant_id),
            model,
            plan,
            tollgate_semcache::Answer {
                response: completion.to_string(),
                prompt_tokens: ending.usage.prompt_tokens,
                completion_tokens: ending.usage.completion_tokens,
                cost_usd: record.cost(ending.usage).normalize().to_string(),
            },
        );
    }

    async fn finish(&mut self) {
        if let Some((record, ending)) = self.take(UsageOutcome::UpstreamError) {
            self.store_if_complete(&record, &ending);
            let reservation = self.reservation.take();
            self.state.bill(record, ending, reservation).await;
        }
    }
}

impl Drop for StreamBilling {
    fn drop(&mut self) {
        // The client went away mid-stream: bill what was produced so far.
        if let Some((record, ending)) = self.take(UsageOutcome::ClientClosed) {
            let reservation = self.reservation.take();
            let _in_request = self.span.enter();
            self.state.bill_detached(record, ending, reservation);
        }
    }
}

/// The JSON chunk `data` with `edit` applied to its fields, as an SSE event (`None` when it is
/// not a JSON object).
fn rewritten(data: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Option<Bytes> {
    let mut chunk: Value = serde_json::from_str(data).ok()?;
    edit(chunk.as_object_mut()?);
    Some(Bytes::from(format!("data: {chunk}\n\n")))
}
