//! Sending a request upstream along its route's plan: one attempt after another, retrying a
//! deployment with jittered backoff, falling over to the next, honouring `Retry-After`, within
//! the route's deadline. A stream is committed only once its first bytes arrived, so nothing
//! is retried after the client saw a byte.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde_json::{Map, Value};
use tollgate_billing::Usage;
use tollgate_events::UpstreamAttempt;
use tollgate_providers::{Adapter, Call, adapter};
use tollgate_routing::{Attempt, Deployment, Exhausted, Failure, NextStep, Plan, Route, now_ms};
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::ApiError;
use crate::request::RequestRecord;
use crate::spans::{failed_with, stage_span};
use crate::state::AppState;
use crate::upstream::{status_error, transport_error};

/// Longest wait for the body of an upstream error answer (only read for its message).
const ERROR_BODY_WAIT: Duration = Duration::from_secs(2);
/// Most bytes of an upstream error body read (for its message).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest `Retry-After` honoured, in seconds; a larger one is read as this.
const MAX_RETRY_AFTER_SECS: u64 = 86_400;
/// An answer over the body limit is read on (and dropped) for at most this many times the
/// limit, to reach the usage providers put at its end.
const MAX_DRAIN_FACTOR: usize = 4;
/// Bytes of an over-long answer's end kept to find its usage in.
const TAIL_BYTES: usize = 64 * 1024;

/// A successful upstream answer.
pub struct Answer {
    /// The attempt that answered (kept alive while a stream flows, so it counts as in flight).
    pub attempt: Attempt,
    /// Its wire format.
    pub adapter: &'static dyn Adapter,
    /// The body.
    pub body: AnswerBody,
}

/// The body of a successful answer.
pub enum AnswerBody {
    /// A whole, non-streamed body (provider format).
    Whole(Bytes),
    /// A stream: the bytes already read, and the rest.
    Stream {
        /// First bytes (at least one non-empty chunk).
        first: Bytes,
        /// The response, to read on from.
        rest: reqwest::Response,
    },
}

/// Work a provider did for a request that failed anyway: it answered, but with more than
/// `max_upstream_body_bytes`, so the client gets a 502 and the work is still billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produced {
    /// The usage the provider reported at the end of its answer.
    Reported(Usage),
    /// The provider's usage could not be read (the answer did not end in time or in bounds).
    Unreported,
}

/// Why a request got no answer: the error for the client, and the work a provider did anyway
/// (the deployment that did it is then `record.served`).
#[derive(Debug)]
pub struct Undelivered {
    /// What the client is told.
    pub error: ApiError,
    /// What is billed although the request failed.
    pub produced: Option<Produced>,
}

impl From<ApiError> for Undelivered {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            produced: None,
        }
    }
}

/// Why one attempt failed: the provider's status if it answered, the classification, the
/// error the client gets if this was the last attempt, and any work the provider did.
struct AttemptError {
    status: Option<u16>,
    failure: Failure,
    error: ApiError,
    produced: Option<Produced>,
}

/// Tries the plan's deployments in order until one answers; when to retry, fall over or give
/// up is the route's [`RetryPolicy`](tollgate_routing::RetryPolicy).
pub async fn dispatch(
    state: &AppState,
    route: &Route,
    plan: Plan,
    mut body: Map<String, Value>,
    stream: bool,
    record: &mut RequestRecord,
) -> Result<Answer, Undelivered> {
    let policy = &route.retry;
    let deadline = record.started + policy.deadline;
    let time_left = || deadline.saturating_duration_since(Instant::now());
    let mut last_error: Option<ApiError> = None;
    let plan_len = plan.len();
    'deployments: for (position, deployment) in plan.into_iter().enumerate() {
        let last = position + 1 == plan_len;
        let mut tries = 0u32;
        loop {
            let time_for_attempt = match policy.next_attempt(record.attempts, time_left()) {
                Ok(time) => time,
                Err(Exhausted::Attempts) => break 'deployments,
                Err(Exhausted::Deadline) => {
                    last_error = Some(ApiError::UpstreamTimeout(format!(
                        "no provider answered within the route's {} ms deadline",
                        policy.deadline.as_millis()
                    )));
                    break 'deployments;
                }
            };
            let Some(attempt) = deployment.begin() else {
                break;
            };
            tries += 1;
            let failed = match attempt_once(
                state,
                &deployment,
                attempt,
                &mut body,
                stream,
                time_for_attempt,
                record,
            )
            .await
            {
                Ok(answer) => return Ok(answer),
                Err(failed) => failed,
            };
            if let Some(cool_down) = failed.failure.cool_down() {
                deployment.health.cool_down(now_ms(), cool_down);
            }
            match policy.after_failure(&failed.failure, tries, last, time_left()) {
                NextStep::GiveUp => {
                    return Err(Undelivered {
                        error: failed.error,
                        produced: failed.produced,
                    });
                }
                NextStep::NextDeployment => {
                    last_error = Some(failed.error);
                    break;
                }
                NextStep::RetryAfter(wait) => {
                    last_error = Some(failed.error);
                    let slept = Instant::now();
                    tokio::time::sleep(wait).await;
                    record.upstream_time += slept.elapsed();
                }
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| {
            ApiError::Unavailable(format!(
                "no deployment of '{}' is available right now (circuit breakers open or rate caps reached); retry later",
                route.name
            ))
        })
        .into())
}

/// One attempt on `deployment` within `time`: sent, traced, timed, counted against the
/// deployment's health and logged on the request's record.
async fn attempt_once(
    state: &AppState,
    deployment: &Arc<Deployment>,
    mut attempt: Attempt,
    body: &mut Map<String, Value>,
    stream: bool,
    time: Duration,
    record: &mut RequestRecord,
) -> Result<Answer, AttemptError> {
    record.attempts += 1;
    record.provider.clone_from(&deployment.provider);
    let provider = state.upstream.provider(deployment);
    let adapter = adapter(provider.kind);
    body.insert(
        "model".into(),
        Value::String(deployment.upstream_model.clone()),
    );
    let call = state.upstream.call(
        deployment,
        attempt.key_index,
        &record.request_id,
        stream,
        record.output_default,
        body,
    );
    let span = stage_span!(
        "upstream",
        record.request_id,
        otel.kind = "client",
        attempt = record.attempts,
        deployment = %deployment.name,
        provider = %deployment.provider,
        gen_ai.request.model = %deployment.upstream_model,
        http.response.status_code = Empty
    );
    let started = Instant::now();
    let tried = try_once(
        state,
        adapter,
        &call,
        stream,
        time.min(provider.timeout),
        &provider.name,
    )
    .instrument(span.clone())
    .await;
    let latency = started.elapsed();
    record.upstream_time += latency;
    let (status, failure) = match &tried {
        Ok((status, _)) => (Some(*status), None),
        Err(err) => (err.status, Some(&err.failure)),
    };
    if let Some(status) = status {
        span.record("http.response.status_code", status);
    }
    state.metrics.deployment_attempt(
        &deployment.name,
        !failure.is_some_and(Failure::is_deployment_fault),
        latency,
    );
    record.attempt_log.push(log_entry(
        &deployment.name,
        &deployment.provider,
        status,
        failure.map(Failure::label),
        latency,
    ));
    match tried {
        Ok((_, answer_body)) => {
            attempt.succeeded(latency);
            record.served = Some(deployment.clone());
            Ok(Answer {
                attempt,
                adapter,
                body: answer_body,
            })
        }
        Err(err) => {
            failed_with(&span, &err.failure.label());
            if err.failure.is_deployment_fault() {
                attempt.failed(latency);
            } else {
                attempt.succeeded(latency);
            }
            span.in_scope(|| {
                tracing::warn!(
                    deployment = %deployment.name,
                    failure = %err.failure.label(),
                    "upstream attempt failed"
                );
            });
            if err.produced.is_some() {
                record.served = Some(deployment.clone());
            }
            Err(err)
        }
    }
}

/// One upstream attempt: the answer, or why it failed (with the status if there was one).
async fn try_once(
    state: &AppState,
    adapter: &'static dyn Adapter,
    call: &Call<'_>,
    stream: bool,
    timeout: Duration,
    provider: &str,
) -> Result<(u16, AnswerBody), AttemptError> {
    let fail = |status: Option<u16>, failure: Failure, error: ApiError| AttemptError {
        status,
        failure,
        error,
        produced: None,
    };
    let request = adapter
        .chat_request(&state.upstream.client, call)
        .map_err(|e| {
            fail(
                None,
                Failure::Client(400),
                ApiError::invalid(e.to_string(), "unsupported_by_provider", None),
            )
        })?;
    // Continue the caller's trace at the provider (nothing is added when tracing is off).
    let request = tollgate_runtime::telemetry::trace_headers(&tracing::Span::current())
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        });
    let deadline = Instant::now() + timeout;
    let timed_out = || {
        fail(
            None,
            Failure::Timeout,
            ApiError::UpstreamTimeout(format!("provider '{provider}' did not answer in time")),
        )
    };
    let response = match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(e)) => {
            let failure = if e.is_timeout() {
                Failure::Timeout
            } else if e.is_connect() {
                Failure::Connect
            } else {
                Failure::Broken
            };
            return Err(fail(None, failure, transport_error(provider, &e)));
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        // A day at most: any larger figure means the same (skip this deployment for now).
        .map(|secs| Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS)));
    if let Some(failure) = Failure::from_status(status, retry_after) {
        // Only for the error message: read a bounded prefix, never the whole body.
        let body = tokio::time::timeout(
            ERROR_BODY_WAIT,
            read_bounded(response, MAX_ERROR_BODY_BYTES),
        )
        .await
        .ok()
        .map(|read| match read {
            Ok(bytes) | Err(BodyError::TooLarge(bytes, _)) => bytes,
            Err(BodyError::Transport(_)) => Bytes::new(),
        })
        .unwrap_or_default();
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        return Err(fail(
            Some(status),
            failure,
            status_error(provider, code, &body),
        ));
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    if stream {
        let mut response = response;
        // Commit only once bytes arrived: until then a failure can still be retried.
        let first = loop {
            match tokio::time::timeout(remaining, response.chunk()).await {
                Err(_) => return Err(timed_out()),
                Ok(Ok(Some(chunk))) if !chunk.is_empty() => break chunk,
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) | Ok(Err(_)) => {
                    return Err(fail(
                        Some(status),
                        Failure::Broken,
                        ApiError::UpstreamFailed(format!(
                            "provider '{provider}' ended the stream before sending anything"
                        )),
                    ));
                }
            }
        };
        return Ok((
            status,
            AnswerBody::Stream {
                first,
                rest: response,
            },
        ));
    }
    let limit = state.config.max_upstream_body_bytes;
    match tokio::time::timeout(remaining, read_bounded(response, limit)).await {
        Err(_) => Err(timed_out()),
        Ok(Err(BodyError::Transport(e))) => Err(fail(
            Some(status),
            Failure::Broken,
            transport_error(provider, &e),
        )),
        // Not retried: the same request would produce the same answer. The provider did the
        // work, so it is billed: its usage from the answer's end when that can be read.
        Ok(Err(BodyError::TooLarge(prefix, rest))) => {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let budget = limit.saturating_mul(MAX_DRAIN_FACTOR);
            // Only the end is kept: the prefix is let go before reading on.
            let tail = prefix[prefix.len().saturating_sub(TAIL_BYTES)..].to_vec();
            drop(prefix);
            let usage = tokio::time::timeout(remaining, read_tail(rest, tail, budget))
                .await
                .ok()
                .flatten()
                .and_then(|tail| adapter.trailing_usage(&tail))
                .and_then(|usage| tollgate_providers::usage_of(&usage));
            Err(AttemptError {
                produced: Some(usage.map_or(Produced::Unreported, Produced::Reported)),
                ..fail(
                    Some(status),
                    Failure::Client(502),
                    ApiError::UpstreamOversized(format!(
                        "provider '{provider}' answered with more than {limit} bytes \
                         (upstream_body_too_large)"
                    )),
                )
            })
        }
        Ok(Ok(bytes)) => Ok((status, AnswerBody::Whole(bytes))),
    }
}

fn log_entry(
    deployment: &str,
    provider: &str,
    status: Option<u16>,
    error: Option<String>,
    latency: Duration,
) -> UpstreamAttempt {
    UpstreamAttempt {
        deployment: deployment.to_owned(),
        provider: provider.to_owned(),
        status,
        error,
        latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
    }
}

/// Why a body could not be read whole.
enum BodyError {
    /// The connection failed.
    Transport(reqwest::Error),
    /// More than the limit: the first bytes (at most `limit`), and the response to read on.
    TooLarge(Bytes, reqwest::Response),
}

/// Reads `response`'s body up to `limit` bytes, refusing at once a larger declared length.
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge(Bytes::new(), response));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Err(BodyError::TooLarge(body.freeze(), response));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads an over-long answer on to its end, at most `budget` more bytes, after `tail` (the end
/// of what was read so far), keeping only its last [`TAIL_BYTES`]: `None` when it does not end
/// within the budget or the connection fails.
async fn read_tail(
    mut response: reqwest::Response,
    mut tail: Vec<u8>,
    budget: usize,
) -> Option<Vec<u8>> {
    // A declared length past the budget cannot end within it: nothing to read for.
    if response
        .content_length()
        .is_some_and(|len| len > budget as u64)
    {
        return None;
    }
    let mut read = 0usize;
    while let Some(chunk) = response.chunk().await.ok()? {
        read += chunk.len();
        if read > budget {
            return None;
        }
        tail.extend_from_slice(&chunk);
        if tail.len() > 2 * TAIL_BYTES {
            tail.drain(..tail.len() - TAIL_BYTES);
        }
    }
    Some(tail)
}
