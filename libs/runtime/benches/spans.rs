//! What one gateway request's spans cost on the request path: the `request` span with its
//! fields and the seven stage spans, entered and closed, under the log layer alone (tracing
//! off, the default) and with the OpenTelemetry layer too (sampled; the export itself runs
//! on the SDK's thread and is not on this path). Log lines are written to a sink.
//!   cargo bench -p tollgate-runtime --bench spans

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

fn one_request() {
    let request = tracing::info_span!(
        "request",
        otel.name = "POST /v1/chat/completions",
        otel.kind = "server",
        otel.status_code = Empty,
        request_id = "01a2345a-424e-737b-affc-2e1e0b2c1a84",
        http.request.method = "POST",
        url.path = "/v1/chat/completions",
        http.route = "/v1/chat/completions",
        http.response.status_code = Empty,
        tenant_id = Empty,
        api_key_id = Empty,
    );
    tollgate_runtime::telemetry::continue_trace(
        &request,
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        None,
    );
    request.in_scope(|| {
        for stage in [
            "auth",
            "route",
            "admission",
            "cache",
            "publish",
            "cache.store",
        ] {
            let span = tracing::info_span!(
                target: "tollgate_stages",
                "stage",
                otel.name = stage,
                request_id = "01a2345a-424e-737b-affc-2e1e0b2c1a84",
                otel.status_code = Empty,
                error.type = Empty
            );
            span.in_scope(|| {});
        }
        let upstream = tracing::info_span!(
            target: "tollgate_stages",
            "upstream",
            request_id = "01a2345a-424e-737b-affc-2e1e0b2c1a84",
            otel.kind = "client",
            attempt = 1,
            deployment = "a",
            http.response.status_code = Empty
        );
        let headers = upstream
            .in_scope(|| tollgate_runtime::telemetry::trace_headers(&tracing::Span::current()));
        upstream.record("http.response.status_code", 200);
        std::hint::black_box(headers);
    });
    request.record("http.response.status_code", 200);
    request.record("tenant_id", "5b0e2f0c-6c38-4a7e-9a64-1f8f3f3a9e11");
}

/// The log layer as `telemetry::init` builds it: `info`, stage spans left out.
fn log_layer() -> impl Layer<tracing_subscriber::Registry> + Send + Sync {
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_ansi(false)
        .with_filter(EnvFilter::new(format!(
            "info,{}=off",
            tollgate_runtime::telemetry::STAGE_TARGET
        )))
}

fn spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_spans");
    let logs_only = tracing_subscriber::registry().with(log_layer());
    tracing::subscriber::with_default(logs_only, || {
        group.bench_function("tracing_off", |b| b.iter(one_request));
    });
    let provider = SdkTracerProvider::builder().build();
    let traced = tracing_subscriber::registry().with(log_layer()).with(
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("bench"))
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false),
    );
    tracing::subscriber::with_default(traced, || {
        group.bench_function("tracing_on", |b| b.iter(one_request));
    });
    group.finish();
}

criterion_group!(benches, spans);
criterion_main!(benches);
