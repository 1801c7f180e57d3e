//! `POST /v1/chat/completions`: authenticate, validate, route, relay, bill.

pub mod cached;
pub mod sse;
mod stream;

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use tollgate_billing::Usage;
use tollgate_events::{UsageOutcome, UsageSource};
use tollgate_providers::messages_api;
use tollgate_routing::RequestShape;
use tracing::Instrument;
use tracing::field::Empty;

use crate::admission::Reservation;
use crate::cache::CachePlan;
use crate::dispatch::{Answer, AnswerBody, Produced, Undelivered, dispatch};
use crate::error::ApiError;
use crate::headers::{DataPlaneMeta, request_id};
use crate::request::{CacheServed, ChatRequest, Ending, Estimate, RequestRecord, counting};
use crate::spans::{failed, stage_span};
use crate::state::AppState;
use sse::CompletionPeek;

/// The wire format a client speaks to the gateway. Internally every request is an OpenAI chat
/// request; other dialects are translated on the way in and out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `POST /v1/chat/completions`.
    OpenAi,
    /// `POST /v1/messages` (Anthropic Messages).
    Anthropic,
}

impl Dialect {
    fn endpoint(self) -> &'static str {
        match self {
            Self::OpenAi => "/v1/chat/completions",
            Self::Anthropic => "/v1/messages",
        }
    }

    fn parse(self, body: &[u8]) -> Result<ChatRequest, ApiError> {
        match self {
            Self::OpenAi => ChatRequest::parse(body),
            Self::Anthropic => {
                let input = crate::request::json_object(body)?;
                crate::client_text::messages_request(&input)?;
                let openai = messages_api::to_openai_request(&input)
                    .map_err(|e| ApiError::invalid(e.to_string(), "invalid_request", None))?;
                ChatRequest::from_body(openai)
            }
        }
    }

    fn error(self, meta: &DataPlaneMeta, err: &ApiError) -> HttpResponse {
        match self {
            Self::OpenAi => meta.error(err),
            Self::Anthropic => {
                let mut response = err.anthropic_response();
                meta.apply(&mut response);
                response
            }
        }
    }
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    handle(state, req, payload, Dialect::OpenAi).await
}

/// Authenticates, serves and bills one chat request in `dialect`. Once authenticated, a client
/// that disconnects cannot cancel the work under way ([`DetachOnDrop`]): what the provider
/// was asked and produced is billed once, whenever the client leaves.
pub async fn handle(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    dialect: Dialect,
) -> HttpResponse {
    let started = Instant::now();
    let endpoint = dialect.endpoint();
    let meta = DataPlaneMeta::new(request_id(&req));
    let auth_span = stage_span!("auth", meta.request_id);
    let key = match state.authenticate(&req).instrument(auth_span.clone()).await {
        Ok(key) => {
            let request_span = tracing::Span::current();
            request_span.record("tenant_id", tracing::field::display(key.tenant_id));
            request_span.record("api_key_id", tracing::field::display(key.key_id));
            key
        }
        Err(err) => {
            failed(&auth_span, &err);
            state.metrics.request(endpoint, err_status(&err));
            return dialect.error(&meta, &err);
        }
    };
    let record = RequestRecord::new(meta.request_id.clone(), key, endpoint, started);
    let gone = record.client_gone.clone();
    DetachOnDrop {
        work: Some(Box::pin(
            serve_and_bill(state, req, payload, record, meta, dialect)
                .instrument(tracing::Span::current()),
        )),
        gone,
    }
    .await
}

/// A request's work, run inline by its handler. When the handler is dropped before the work
/// is done (actix drops it when the client resets its connection), the work goes on in a task
/// of its own, so what the provider was asked and produced is billed once, as
/// `client_closed`. Inline, the common case costs no extra scheduling.
struct DetachOnDrop {
    work: Option<std::pin::Pin<Box<dyn Future<Output = HttpResponse>>>>,
    gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Future for DetachOnDrop {
    type Output = HttpResponse;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<HttpResponse> {
        let Some(work) = self.work.as_mut() else {
            return std::task::Poll::Ready(HttpResponse::InternalServerError().finish());
        };
        let response = std::task::ready!(work.as_mut().poll(cx));
        self.work = None;
        std::task::Poll::Ready(response)
    }
}

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        self.gone.store(true, std::sync::atomic::Ordering::Release);
        // Dropped by actix's dispatcher task on this worker (its local task set); outside a
        // task (the worker itself shutting down) there is nothing to run it on.
        if tokio::task::try_id().is_some() {
            actix_web::rt::spawn(async move {
                work.await;
            });
        } else {
            tracing::warn!("request dropped outside a task; its work is abandoned");
        }
    }
}

/// Serves an authenticated request and bills it, whatever happens to its client.
async fn serve_and_bill(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    mut record: RequestRecord,
    mut meta: DataPlaneMeta,
    dialect: Dialect,
) -> HttpResponse {
    let endpoint = record.endpoint;
    match serve(&state, &req, payload, &mut record, &mut meta, dialect).await {
        Ok(response) => response,
        Err(Failed { error: err, owed }) => {
            meta.provider.clone_from(&record.provider);
            let status = err_status(&err);
            match &err {
                ApiError::InsufficientQuota { code, .. } => state.metrics.admission_rejected(code),
                ApiError::LimitReached(_) => state.metrics.admission_rejected(err.code()),
                _ => {}
            }
            let outcome = if record.attempts > 0 {
                UsageOutcome::UpstreamError
            } else {
                UsageOutcome::Rejected
            };
            if record.attempts > 0 {
                state.observe_upstream(&record);
            }
            state.metrics.request(endpoint, status);
            // Work a provider did anyway settles the request's reservation with its cost.
            let (owed, reservation) = match owed {
                Some(Owed {
                    usage,
                    source,
                    reservation,
                }) => (Some((usage, source)), Some(reservation)),
                None => (None, None),
            };
            state
                .bill(
                    record,
                    Ending::failed(outcome, status, err.code(), owed),
                    reservation,
                )
                .await;
            dialect.error(&meta, &err)
        }
    }
}

/// Why [`serve`] gave no answer: the client's error, and the work a provider did anyway.
struct Failed {
    error: ApiError,
    owed: Option<Owed>,
}

impl From<ApiError> for Failed {
    fn from(error: ApiError) -> Self {
        Self { error, owed: None }
    }
}

/// A provider's work a failed request is billed for (an answer too large to relay), with the
/// reservation it settles.
struct Owed {
    usage: Usage,
    source: UsageSource,
    reservation: Reservation,
}

fn err_status(err: &ApiError) -> u16 {
    actix_web::ResponseError::status_code(err).as_u16()
}

/// Reads the body, refusing more than `limit` bytes with 413.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = bytes::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::invalid(format!("could not read body: {e}"), "invalid_body", None)
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn serve(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
    record: &mut RequestRecord,
    meta: &mut DataPlaneMeta,
    dialect: Dialect,
) -> Result<HttpResponse, Failed> {
    let body = read_body(req, payload, state.config.max_body_bytes).await?;
    let request = dialect.parse(&body)?;
    record.model_requested.clone_from(&request.model);
    record.stream = request.stream;

    let route_span = stage_span!(
        "route",
        record.request_id,
        gen_ai.request.model = %request.model,
        route = Empty,
        deployments = Empty
    );
    let (route, plan, mut cache_plan) = route_span
        .in_scope(|| choose_route(state, req, record, &request, body.len()))
        .inspect_err(|err| failed(&route_span, err))?;
    route_span.record("route", route.name.as_str());
    route_span.record("deployments", plan.len());
    drop(route_span);

    let admission_span = stage_span!("admission", record.request_id);
    let estimate = Estimate::new(
        &request,
        route.admission_price.tokenizer,
        record.output_default,
    );
    let key = &record.key;
    let tokenizer = route.admission_price.tokenizer;
    let counted_off_worker = state.metrics.tokens_counted_off_worker();
    let tenant = key.tenant_id;
    let limit = || {
        admission_span.in_scope(|| {
            state.limiter.admit(
                (key.key_id, key.limits),
                (key.tenant_id, key.tenant_limits),
                // Near a token limit the prompt is counted; a long one is not counted here, on
                // the worker and under the meters' locks, but below.
                (estimate.upper_tokens(), || estimate.counted_tokens()),
            )
        })
    };
    let mut limited = limit();
    // A long prompt refused on its bound alone is counted off the worker and asked again
    // (requests and concurrency passed: a request they refuse is never tokenized).
    if let Err(refused) = &limited
        && refused.kind == crate::limits::Kind::Tokens
        && estimate.uncounted()
    {
        request
            .count_prompt(tokenizer, tenant, counted_off_worker)
            .instrument(admission_span.clone())
            .await
            .inspect_err(|err| failed(&admission_span, err))?;
        limited = limit();
    }
    let permit = limited
        .map_err(|limited| ApiError::LimitReached(Box::new(limited)))
        .inspect_err(|err| failed(&admission_span, err))?;
    meta.rate_limits = permit.headers;
    record.limit_permit = Some(std::sync::Arc::new(permit));
    let reserve = || async {
        state.ensure_billable()?;
        state
            .admission
            .admit(&record.key, &route.admission_price, &estimate)
            .await
    };
    let reservation = async {
        match reserve().await {
            // Refused on a long prompt's bound alone: counted off the worker, asked again.
            Err(ApiError::InsufficientQuota { .. }) if estimate.uncounted() => {
                request
                    .count_prompt(tokenizer, tenant, counted_off_worker)
                    .await?;
                reserve().await
            }
            reserved => reserved,
        }
    }
    .instrument(admission_span.clone())
    .await
    .inspect_err(|err| failed(&admission_span, err))?;
    drop(admission_span);
    if let Some(plan) = cache_plan.as_mut().filter(|plan| plan.lookup)
        && let Some((entry, served)) = cache_lookup(state, record, &route.name, plan).await
    {
        match cached::completion(&entry.response, served.price) {
            Some(completion) => {
                let usage = Usage {
                    prompt_tokens: entry.prompt_tokens,
                    completion_tokens: entry.completion_tokens,
                    cached_tokens: 0,
                };
                let hit = CachedAnswer {
                    completion,
                    usage,
                    served,
                };
                return Ok(
                    serve_hit(state, record, meta, (&request, dialect), hit, reservation).await?,
                );
            }
            None => tracing::warn!(entry = %entry.id, "unreadable cache entry; going upstream"),
        }
    }
    if request.stream && request.is_heavy_to_count(tokenizer) {
        // A stream's headers carry its prompt's cost (decision 001): a long prompt is counted
        // off the worker before the upstream is asked, so no answer waits on the count.
        request
            .count_prompt(tokenizer, tenant, counted_off_worker)
            .await?;
    }
    if record
        .client_gone
        .load(std::sync::atomic::Ordering::Acquire)
    {
        // Nobody waits for the answer any more (its client hung up while the request was
        // admitted or counted): the provider is not asked, and nothing is owed.
        return Err(ApiError::Unavailable("the client closed the connection".into()).into());
    }
    let upstream_body = request.upstream_body(
        &route.name,
        (route.output_limit_field, record.output_default),
    );
    let answer = match dispatch(state, &route, plan, upstream_body, request.stream, record).await {
        Ok(answer) => answer,
        Err(Undelivered { error, produced }) => {
            if matches!(produced, Some(Produced::Unreported)) {
                // Billed at the counted prompt: count it off the worker when long.
                request
                    .count_prompt_to_bill(tokenizer, tenant, counted_off_worker)
                    .await;
            }
            let owed = produced.map(|produced| {
                let (usage, source) = match produced {
                    Produced::Reported(usage) => (usage, UsageSource::Upstream),
                    // At most the request's output limit per choice (when the upstream was
                    // sent that limit: Anthropic always, others when the client set one).
                    Produced::Unreported => (estimate.counted_usage(), UsageSource::Tokenizer),
                };
                Owed {
                    usage,
                    source,
                    reservation,
                }
            });
            return Err(Failed { error, owed });
        }
    };
    meta.provider.clone_from(&record.provider);
    let Answer {
        attempt,
        adapter,
        body,
    } = answer;
    let bytes = match body {
        AnswerBody::Stream { first, rest } => {
            return Ok(stream::relay(
                reservation,
                state.clone(),
                record.clone(),
                meta.clone(),
                &request,
                stream::Upstream {
                    attempt,
                    translator: adapter.chat_stream(&request.model),
                    egress: match dialect {
                        Dialect::OpenAi => None,
                        Dialect::Anthropic => Some(messages_api::stream_egress(&request.model)),
                    },
                    first,
                    rest,
                    cache: cache_plan.map(|plan| (route.name.clone(), plan)),
                },
            ));
        }
        AnswerBody::Whole(bytes) => adapter
            .chat_response(bytes, &request.model)
            .map_err(|e| ApiError::UpstreamFailed(e.to_string()))?,
    };
    drop(attempt);
    let (usage, usage_source) =
        completion_usage(&bytes, &request, tokenizer, (tenant, counted_off_worker)).await?;
    meta.cost = record.cost(usage);
    state.observe_upstream(record);
    state.metrics.request(record.endpoint, 200);
    state
        .bill(
            record.clone(),
            Ending::success(usage, usage_source),
            Some(reservation),
        )
        .await;
    if let Some(plan) = cache_plan {
        store_completion(state, record, &route.name, plan, &bytes, usage, meta.cost);
    }
    let mut response = whole_answer(dialect, bytes)?;
    meta.apply(&mut response);
    Ok(response)
}

/// Resolves the request's route (with tenant overrides), checks the key may use it, and
/// plans its deployments and the cache's part.
fn choose_route(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    record: &mut RequestRecord,
    request: &ChatRequest,
    body_len: usize,
) -> Result<
    (
        std::sync::Arc<tollgate_routing::Route>,
        tollgate_routing::Plan,
        Option<CachePlan>,
    ),
    ApiError,
> {
    let table = state.router.table();
    let scope = table
        .has_overrides()
        .then(|| record.key.tenant_id.to_string());
    let route = table
        .resolve(scope.as_deref(), &request.model)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(
                format!(
                    "The model '{}' does not exist or you do not have access to it.",
                    request.model
                ),
                "model_not_found",
            )
        })?;
    drop(table);
    if !(record.key.may_use(&request.model) || record.key.may_use(&route.name)) {
        return Err(ApiError::Forbidden {
            message: format!("this API key may not use the model '{}'", request.model),
            code: "model_not_allowed",
        });
    }
    // A default above a ceiling would refuse every request that sets no limit: it is capped.
    record.output_default = record
        .key
        .default_max_tokens
        .or(route.default_max_tokens)
        .unwrap_or(state.config.default_max_tokens)
        .min(record.key.max_output_tokens.unwrap_or(u32::MAX))
        .min(route.max_output_tokens.unwrap_or(u32::MAX));
    let asked = request.output_reserve(record.output_default);
    let ceilings = [
        (
            route.max_output_tokens,
            format!("the model '{}'", request.model),
        ),
        (record.key.max_output_tokens, "this API key".to_owned()),
    ];
    for (ceiling, whose) in ceilings {
        if let Some(ceiling) = ceiling.filter(|ceiling| asked > *ceiling) {
            return Err(ApiError::invalid(
                format!(
                    "the request asks for up to {asked} output tokens (max_tokens x n), more than the {ceiling} {whose} allows in one request"
                ),
                "output_too_large",
                Some("max_tokens"),
            ));
        }
    }
    record.tokenizer = route.admission_price.tokenizer;
    let cache_plan = CachePlan::of(
        state.cache.as_ref(),
        req,
        &record.key,
        request,
        (&route.name, record.output_default),
    )?;
    let preference = RoutePreference::of(req, request)?;
    let shape = RequestShape {
        // A cheap estimate (about four bytes per token) is enough to rank deployments.
        prompt_tokens: u32::try_from(body_len / 4).unwrap_or(u32::MAX),
        max_output_tokens: request.max_output_tokens().unwrap_or(record.output_default),
    };
    let plan = route.plan(&shape, |d| preference.allows(d));
    if plan.is_empty() {
        return Err(ApiError::invalid(
            format!(
                "no deployment of '{}' matches the requested provider preference",
                route.name
            ),
            "no_matching_deployment",
            Some("provider_preference"),
        ));
    }

    Ok((route, plan, cache_plan))
}

/// Looks the request up in the cache, in the `cache` span.
async fn cache_lookup(
    state: &AppState,
    record: &RequestRecord,
    route: &str,
    plan: &mut CachePlan,
) -> Option<(tollgate_semcache::CacheEntry, CacheServed)> {
    let span = stage_span!(
        "cache",
        record.request_id,
        cache.result = Empty,
        cache.similarity = Empty,
        cache.entry_id = Empty
    );
    let found = state
        .cache
        .as_ref()?
        .lookup(record.key.tenant_id, route, plan)
        .instrument(span.clone())
        .await;
    match &found {
        Some((_, served)) => {
            span.record("cache.result", served.tier.as_str());
            span.record("cache.similarity", f64::from(served.similarity));
            span.record("cache.entry_id", tracing::field::display(served.entry_id));
        }
        None => {
            span.record("cache.result", "miss");
        }
    }
    found
}

/// A non-streamed OpenAI completion as the answer in the client's dialect.
fn whole_answer(dialect: Dialect, bytes: Bytes) -> Result<HttpResponse, ApiError> {
    let bytes = match dialect {
        Dialect::OpenAi => bytes,
        Dialect::Anthropic => messages_api::to_anthropic_message(&bytes)
            .map_err(|e| ApiError::UpstreamFailed(e.to_string()))?,
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes))
}

/// A stored answer the cache found for a request.
struct CachedAnswer {
    /// The stored OpenAI completion.
    completion: serde_json::Value,
    /// Its usage, billed at the cache price.
    usage: Usage,
    /// What the hit contributes to the bill and the event.
    served: CacheServed,
}

/// Answers from the cache: bills the cache price, then sends the stored completion (or its
/// replay as a stream) in the client's dialect.
async fn serve_hit(
    state: &web::Data<AppState>,
    record: &mut RequestRecord,
    meta: &mut DataPlaneMeta,
    (request, dialect): (&ChatRequest, Dialect),
    hit: CachedAnswer,
    reservation: Reservation,
) -> Result<HttpResponse, ApiError> {
    let CachedAnswer {
        completion,
        usage,
        served,
    } = hit;
    record.provider = "cache".into();
    meta.provider = "cache".into();
    meta.cache = served.tier.as_str();
    meta.cost = served.price;
    record.cache = Some(served);
    state.metrics.request(record.endpoint, 200);
    state
        .bill(
            record.clone(),
            Ending::success(usage, UsageSource::Upstream),
            Some(reservation),
        )
        .await;
    let mut response = if request.stream {
        let mut events = cached::replay(&completion);
        if dialect == Dialect::Anthropic {
            let mut egress = messages_api::stream_egress(&request.model);
            let mut translated = Vec::new();
            for event in events {
                egress.event(event, &mut translated);
            }
            events = translated;
        }
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .streaming(futures_util::stream::iter(
                events.into_iter().map(Ok::<_, std::convert::Infallible>),
            ))
    } else {
        whole_answer(dialect, Bytes::from(completion.to_string()))?
    };
    meta.apply(&mut response);
    Ok(response)
}

/// Stores a non-streamed upstream answer in the cache when it is storable.
fn store_completion(
    state: &AppState,
    record: &RequestRecord,
    route: &str,
    plan: CachePlan,
    bytes: &[u8],
    usage: Usage,
    cost: rust_decimal::Decimal,
) {
    let Ok(completion) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let Some(cache) = state.cache.as_ref() else {
        return;
    };
    if !crate::cache::is_storable(&completion) {
        return;
    }
    cache.store(
        (&record.request_id, record.key.tenant_id),
        route.to_owned(),
        plan,
        tollgate_semcache::Answer {
            response: completion.to_string(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd: cost.normalize().to_string(),
        },
    );
}

/// Deployment or provider names a request narrowed its route to (`x-tollgate-route` header,
/// comma-separated, and the body's `provider_preference`); both must match when both are set.
struct RoutePreference {
    header: Vec<String>,
    body: Vec<String>,
}

impl RoutePreference {
    fn of(req: &HttpRequest, request: &ChatRequest) -> Result<Self, ApiError> {
        let header = crate::client_text::route_header(
            req.headers()
                .get("x-tollgate-route")
                .map(actix_web::http::header::HeaderValue::as_bytes),
        )?;
        Ok(Self {
            header,
            body: request.provider_preference()?,
        })
    }

    fn allows(&self, d: &tollgate_routing::Deployment) -> bool {
        let matches = |names: &[String]| {
            names.is_empty() || names.iter().any(|n| *n == d.name || *n == d.provider)
        };
        matches(&self.header) && matches(&self.body)
    }
}

/// The usage of a non-streamed completion: the provider's, or counted with the tokenizer (off
/// the worker when long).
async fn completion_usage(
    bytes: &[u8],
    request: &ChatRequest,
    tokenizer: tollgate_billing::Tokenizer,
    (tenant, counted): (uuid::Uuid, &prometheus_client::metrics::counter::Counter),
) -> Result<(Usage, UsageSource), ApiError> {
    let peek: CompletionPeek<'_> = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::UpstreamFailed(format!("provider answered with invalid JSON: {e}"))
    })?;
    if let Some(usage) = peek.usage {
        return Ok((usage.into(), UsageSource::Upstream));
    }
    let completion: String = peek
        .choices
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.message.as_ref().and_then(|m| m.content.as_deref()))
        .collect();
    Ok((
        Usage {
            prompt_tokens: request
                .count_prompt_to_bill(tokenizer, tenant, counted)
                .await,
            completion_tokens: counting::text_tokens(counted, tenant, tokenizer, completion).await,
            cached_tokens: 0,
        },
        UsageSource::Tokenizer,
    ))
}
